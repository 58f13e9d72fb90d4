"""A database password from the stack's secret configuration, passed to a parameter."""

import pulumi
import pulumi_aws as aws

password = pulumi.Config().require_secret("dbPassword")
aws.ssm.Parameter("db-password", type="SecureString", value=password)
pulumi.export("password", password)
pulumi.export("passwordLength", password.apply(len))
