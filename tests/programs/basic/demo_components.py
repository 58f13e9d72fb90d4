"""A small component for the offline preview's tests."""

import pulumi
import pulumi_aws as aws


class DataStore(pulumi.ComponentResource):
    """A KMS key and a bucket encrypted with it, parented to the component."""

    def __init__(self, name: str, owner: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("demo:index:DataStore", name, None, opts)
        self.key = aws.kms.Key(f"{name}-key", description=f"{name} data key", enable_key_rotation=True,
                               deletion_window_in_days=30,
                               opts=pulumi.ResourceOptions(parent=self, protect=True))
        self.bucket = aws.s3.Bucket(f"{name}-bucket", bucket=f"demo-{name}", tags={"owner": owner},
                                    opts=pulumi.ResourceOptions(parent=self, protect=True))
        self.register_outputs({"bucket": self.bucket.bucket})


class Reader(pulumi.ComponentResource):
    """A component given a resource as an input (the engine sees a resource reference)."""

    def __init__(self, name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions | None = None):
        super().__init__("demo:index:Reader", name, {"bucket": bucket}, opts)
        self.register_outputs({})
