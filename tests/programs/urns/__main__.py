"""Each way a program or the SDK asks for a URN, computed by the runtime's `create_urn` (the
offline preview's during a run) and by the SDK's own: one pair of exports per case, and each
pair as an input of a topic, for its dependencies.

The repository root must be importable (the tests' conftest puts it on sys.path)."""

import pulumi
import pulumi_aws as aws
from pulumi.runtime import resource as sdk_resource

from offline_preview.engine import _SDK_CREATE_URN


class Group(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("demo:index:Group", name, None, opts)


group = Group("group")
inner = Group("inner", pulumi.ResourceOptions(parent=group))
role = aws.iam.Role("role", assume_role_policy="{}", opts=pulumi.ResourceOptions(parent=inner))
unknown = pulumi.Output.from_input(pulumi.UNKNOWN)

CASES = {
    "root": lambda create: create("x", "aws:s3/bucket:Bucket"),
    "project-stack": lambda create: create("x", "aws:s3/bucket:Bucket", None, "other", "prod"),
    "parent": lambda create: create("x", "aws:s3/bucket:Bucket", inner),
    "parent-custom": lambda create: create("x", "aws:s3/bucket:Bucket", role),
    "parent-urn-text": lambda create: create("x", "aws:s3/bucket:Bucket", "urn:pulumi:dev::urns-demo::demo:index:Group::g"),
    "parent-urn-output": lambda create: create("x", "t:m:T", role.urn),
    "parent-unknown": lambda create: create("x", "t:m:T", unknown),
    "name-output": lambda create: create(role.name, "t:m:T", inner),
    "secret-parent": lambda create: create("x", "t:m:T", pulumi.Output.secret("urn:pulumi:dev::p::a:b:C::y")),
}

for case, make in CASES.items():
    for label, create in (("new", sdk_resource.create_urn), ("ref", _SDK_CREATE_URN)):
        urn = make(create)
        pulumi.export(f"{case}:{label}", urn)
        aws.sns.Topic(f"{case}-{label}", display_name=urn)
