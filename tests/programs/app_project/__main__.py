"""A security group in the network project's VPC; the peering token passed on as a parameter."""

import pulumi
import pulumi_aws as aws

network = pulumi.StackReference(f"{pulumi.get_organization()}/network-demo/prod")
aws.ec2.SecurityGroup("app", vpc_id=network.require_output("vpcId"), description="app")
token = network.require_output("peeringToken")
aws.ssm.Parameter("peering-token", type="SecureString", value=token)
pulumi.export("vpcId", network.require_output("vpcId"))
pulumi.export("token", token)
