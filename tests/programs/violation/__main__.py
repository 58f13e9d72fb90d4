"""A security group admitting SSH from anywhere (NET-3), in a VPC of its own."""

import pulumi_aws as aws

vpc = aws.ec2.Vpc("vpc", cidr_block="10.9.0.0/24")
aws.vpc.SecurityGroupIngressRule(
    "ssh-from-anywhere",
    security_group_id=aws.ec2.SecurityGroup("bastion", vpc_id=vpc.id, description="bastion").id,
    cidr_ipv4="0.0.0.0/0",
    ip_protocol="tcp",
    from_port=22,
    to_port=22,
)
