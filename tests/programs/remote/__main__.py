"""A remote component the way a generated multi-language SDK (awsx, eks) declares one, and a
bucket next to it. The component's children would come from its plugin."""

import pulumi
import pulumi_aws as aws


class Vpc(pulumi.ComponentResource):
    """Shaped like `pulumi_awsx.ec2.Vpc`: outputs declared, values computed by the plugin."""

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list]

    def __init__(self, name: str, cidr_block: str, opts: pulumi.ResourceOptions | None = None):
        props = {"cidr_block": cidr_block, "vpc_id": None, "private_subnet_ids": None}
        super().__init__("awsx:ec2:Vpc", name, props, opts, remote=True)


vpc = Vpc("main", cidr_block="10.0.0.0/16")
aws.s3.Bucket("logs", bucket="remote-demo-logs")
pulumi.export("vpcId", vpc.vpc_id)
# Run only if the VPC's id were known: a program must never see a made-up value.
pulumi.export("firstSubnet", vpc.private_subnet_ids.apply(lambda ids: ids[0]))
