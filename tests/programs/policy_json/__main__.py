"""Documents with outputs in every place `Output.from_input` unwraps them, each serialized by
`policy_json` and by `Output.from_input(document).apply(to_json)` (the reference), and parts of
text joined by `concat` and by `Output.concat`: one pair of exports per case, and each pair as
the policy of an IAM policy, for its dependencies.

The repository root must be importable (the tests' conftest puts it on sys.path)."""

import asyncio

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import concat, policy_json, to_json

role = aws.iam.Role("role", assume_role_policy="{}")
other = aws.iam.Role("other", assume_role_policy="{}")
# A property no mock knows: unknown in a preview, as the real engine leaves it.
unknown = pulumi.Output.from_input(pulumi.UNKNOWN)


def later(value):
    future = asyncio.get_event_loop().create_future()
    future.set_result(value)
    return future


def statement(**fields):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", **fields}]}


CASES = {
    "plain": lambda: statement(Resource="*"),
    "empty": lambda: {},
    "outputs": lambda: statement(Principal={"AWS": [role.arn, other.arn]}, Resource=["*", role.arn]),
    "secret": lambda: statement(Principal={"AWS": pulumi.Output.secret(role.arn)}, Resource="*"),
    "unknown": lambda: statement(Principal={"AWS": unknown}, Resource=role.arn),
    "bare-unknown": lambda: statement(Resource=pulumi.UNKNOWN),
    "output-of-outputs": lambda: statement(Principal=role.arn.apply(lambda a: {"AWS": [a, other.arn]}),
                                           Resource="*"),
    "output-key": lambda: statement(Resource="*", Condition={"StringEquals": {role.name: "x", "k": other.name}}),
    "tuple": lambda: statement(Resource=("a", role.arn)),
    "awaitable": lambda: statement(Resource=later("arn:aws:s3:::b/*")),
}

#: Parts of text joined by `concat` and by the SDK's `Output.concat` (the reference).
TEXTS = {
    "text-plain": lambda: ("arn:aws:iam::", "111122223333", ":root"),
    "text-one": lambda: ("arn:aws:iam::", role.arn, ":x"),
    "text-two": lambda: (role.name, "/", other.name),
    "text-secret": lambda: ("a", pulumi.Output.secret(role.name)),
    "text-unknown": lambda: ("a", unknown, role.name),
    "text-bare-unknown": lambda: ("a", pulumi.UNKNOWN),
    "text-awaitable": lambda: ("a", later("b")),
}

for case, build in TEXTS.items():
    for label, join in (("new", concat), ("ref", pulumi.Output.concat)):
        text = join(*build())
        pulumi.export(f"{case}:{label}", text)
        aws.iam.Policy(f"{case}-{label}", policy=text)

for case, build in CASES.items():
    for label, serialize in (("new", policy_json), ("ref", lambda d: pulumi.Output.from_input(d).apply(to_json))):
        text = serialize(build())
        pulumi.export(f"{case}:{label}", text)
        aws.iam.Policy(f"{case}-{label}", policy=text)
