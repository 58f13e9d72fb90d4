"""A loop that forgets to make its names unique (`dev`), and a program that declares the same
provider and reads the same bucket twice, identically (`identical`)."""

import pulumi
import pulumi_aws as aws

if pulumi.Config().get("mode") == "identical":
    for _ in range(2):
        aws.Provider("eu", region="eu-west-1")
        aws.s3.Bucket.get("existing", "duplicate-demo-existing")
else:
    for team in ["a", "b"]:
        aws.s3.Bucket("team-bucket", bucket=f"duplicate-demo-{team}")
