"""One advisory resource policy, as a team outside the platform might write it."""

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def _owner_tag(args, report_violation):
    if args.resource_type == "aws:s3/bucket:Bucket" and "owner" not in (args.props.get("tags") or {}):
        report_violation("the bucket has no owner tag")


PolicyPack(
    name="advisory-demo",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[ResourceValidationPolicy(name="bucket-owner-tag", description="Buckets carry an owner tag.",
                                       validate=_owner_tag)],
)
