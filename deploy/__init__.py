"""The real-AWS path: the state backend's bootstrap and the ordered deployment of the stacks.

`python -m deploy.bootstrap` creates the Pulumi state backend (S3 bucket, KMS keys) with boto3,
before any stack can exist; `python -m deploy` previews or deploys the stacks in the order their
StackReferences require, through the Pulumi Automation API. See the README, "Real AWS".
"""
