"""A tiny two-stack program: `base` exports a role ARN and account id, `app` reads them."""

import json

import pulumi
import pulumi_aws as aws
from demo_components import DataStore, Reader

config = pulumi.Config()
if config.require("role") == "base":
    shared = aws.Provider("shared", region="eu-central-1", allowed_account_ids=["222233334444"])
    role = aws.iam.Role(
        "deployer",
        name="deployer",
        assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::555566667777:root"},
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}}]}),
        opts=pulumi.ResourceOptions(provider=shared),
    )
    vpc = aws.ec2.Vpc("core", cidr_block="10.20.0.0/16", opts=pulumi.ResourceOptions(provider=shared))
    aws.ec2.VpcEndpoint("s3", vpc_id=vpc.id, service_name="com.amazonaws.eu-central-1.s3",
                        vpc_endpoint_type="Gateway", opts=pulumi.ResourceOptions(provider=shared))
    pulumi.export("deployerRoleArn", role.arn)
    pulumi.export("sharedAccountId", "222233334444")
    pulumi.export("vpcId", vpc.id)
else:
    base = pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/base")
    settings = config.require_object("settings")
    password = config.require_secret("dbPassword")
    account = base.require_output("sharedAccountId")
    provider = aws.Provider(
        "app",
        region="eu-central-1",
        assume_roles=[aws.ProviderAssumeRoleArgs(role_arn=base.require_output("deployerRoleArn"))],
    )
    stores = [DataStore(name, settings["owner"], pulumi.ResourceOptions(provider=provider))
              for name in settings["buckets"]]
    aws.ssm.Parameter("db-password", type="SecureString", value=password,
                      opts=pulumi.ResourceOptions(provider=provider))
    Reader("reader", stores[0].bucket)
    pulumi.export("buckets", [s.bucket.bucket for s in stores])
    pulumi.export("firstBucket", stores[0].bucket)  # a resource: exported as its state
    pulumi.export("account", account)
    pulumi.export("password", password)
