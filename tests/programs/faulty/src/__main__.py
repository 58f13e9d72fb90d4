"""Each stack fails differently, chosen by `faulty-demo:mode`."""

import pulumi
import pulumi_aws as aws

mode = pulumi.Config().require("mode")
bucket = aws.s3.Bucket("data", bucket=f"faulty-{pulumi.get_stack()}")
if mode == "ok":
    pulumi.export("bucketName", bucket.bucket)
elif mode == "missing-output":
    ref = pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/upstream")
    pulumi.export("value", ref.require_output("notExported"))
elif mode == "raises":
    raise ValueError("the program found something it cannot build")
elif mode == "logs-error":
    pulumi.log.error("a configuration value is wrong", resource=bucket)
elif mode == "outside-run":
    pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/elsewhere")
elif mode == "refers":  # reads the stack named by faulty-demo:refers (two such stacks make a cycle)
    other = pulumi.StackReference(pulumi.Config().require("refers"))
    pulumi.export("bucketName", other.require_output("bucketName"))
