"""Names a bucket with a helper that is installed only in the program's own virtualenv."""

import pulumi
import pulumi_aws as aws
from naming_helpers import bucket_name

bucket = aws.s3.Bucket("data", bucket=bucket_name("own-venv", "data"))
pulumi.export("bucket", bucket.bucket)
