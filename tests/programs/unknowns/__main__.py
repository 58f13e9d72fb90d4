"""A random password and a TLS key (declared as their generated SDKs declare them, without the
packages), a bucket, and what a program does with their outputs."""

import pulumi
import pulumi_aws as aws


class RandomPassword(pulumi.CustomResource):
    """Shaped like `pulumi_random.RandomPassword`."""

    result: pulumi.Output[str]

    def __init__(self, name: str, length: int):
        super().__init__("random:index/randomPassword:RandomPassword", name, {"length": length, "result": None})


class PrivateKey(pulumi.CustomResource):
    """Shaped like `pulumi_tls.PrivateKey`."""

    public_key_openssh: pulumi.Output[str]

    def __init__(self, name: str, algorithm: str):
        super().__init__("tls:index/privateKey:PrivateKey", name, {"algorithm": algorithm, "public_key_openssh": None})


password = RandomPassword("db", length=24)
key = PrivateKey("deploy", algorithm="ED25519")
bucket = aws.s3.Bucket("data", bucket="unknowns-demo-data")
vpc = aws.ec2.Vpc("core", cidr_block="10.1.0.0/16")

aws.ssm.Parameter("db-password", type="SecureString", value=password.result)
pulumi.export("dryRun", pulumi.runtime.is_dry_run())
pulumi.export("password", password.result)
pulumi.export("publicKey", key.public_key_openssh)
# Would fail on None if it ran: during a preview it must not run on an unknown value.
pulumi.export("passwordLength", password.result.apply(lambda p: len(p)))
pulumi.export("bucketArn", bucket.arn)  # the AWS mocks know this one
pulumi.export("vpcIpv6", vpc.ipv6_cidr_block)  # an AWS property no mock computes
