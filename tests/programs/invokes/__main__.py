"""An instance from the latest Amazon Linux AMI, found with a data source."""

import pulumi
import pulumi_aws as aws

ami = aws.ec2.get_ami(most_recent=True, owners=["amazon"],
                      filters=[aws.ec2.GetAmiFilterArgs(name="name", values=["al2023-ami-*-x86_64"])])
aws.ec2.Instance("web", ami=ami.id, instance_type="t3.micro")
pulumi.export("ami", ami.id)
