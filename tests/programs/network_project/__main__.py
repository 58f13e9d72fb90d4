"""A VPC, and a secret the downstream project reads."""

import pulumi
import pulumi_aws as aws

vpc = aws.ec2.Vpc("shared", cidr_block="10.20.0.0/16")
pulumi.export("vpcId", vpc.id)
pulumi.export("peeringToken", pulumi.Output.secret("peer-0123456789"))
