"""The detective guardrails (the guardrail catalog's `config` layer) as AWS Config organization rules,
and the organization-wide Config aggregator, both in the Config delegated administrator.

`DETECTIVE_RULES` is the catalog: one entry per managed rule the catalog names, each carrying
its guardrail id, which also names the rule (`<prefix>-<guardrail>-<slug>`), so a finding in
the Config console traces back to the requirement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.naming import regional_suffix
from guardrail_catalog import guardrail_ids
from policy_documents.serialize import document, policy_json, to_json


@dataclass(frozen=True)
class DetectiveRule:
    """One AWS Config managed rule enforcing a guardrail.

    `scope` "global" rules evaluate account-wide or global (IAM) resources, which Config
    records in the home region only; "regional" rules run in every allowed region.
    """

    guardrail: str
    identifier: str
    slug: str
    scope: Literal["global", "regional"] = "regional"
    periodic: bool = False


# Every managed rule in the catalog's `config` layer (S3-5 has a Control Tower control
# instead, and the bucket-policy-change alert of the security alerts).
DETECTIVE_RULES: tuple[DetectiveRule, ...] = (
    DetectiveRule("LOG-1", "CLOUD_TRAIL_ENABLED", "cloudtrail-enabled", "global", periodic=True),
    DetectiveRule("LOG-1", "MULTI_REGION_CLOUD_TRAIL_ENABLED", "multi-region-trail", "global", periodic=True),
    DetectiveRule("LOG-4", "ROOT_ACCOUNT_MFA_ENABLED", "root-mfa", "global", periodic=True),
    DetectiveRule("IAM-1", "IAM_USER_NO_POLICIES_CHECK", "iam-user-no-policies", "global"),
    DetectiveRule("IAM-2", "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS", "iam-no-admin-policy", "global"),
    DetectiveRule("TAG-1", "REQUIRED_TAGS", "required-tags"),
    DetectiveRule("S3-1", "S3_BUCKET_PUBLIC_READ_PROHIBITED", "s3-public-read"),
    DetectiveRule("S3-1", "S3_BUCKET_PUBLIC_WRITE_PROHIBITED", "s3-public-write"),
    DetectiveRule("S3-2", "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED", "s3-encryption"),
    DetectiveRule("S3-3", "S3_BUCKET_VERSIONING_ENABLED", "s3-versioning"),
    DetectiveRule("S3-4", "S3_BUCKET_SSL_REQUESTS_ONLY", "s3-tls-only"),
    DetectiveRule("KMS-1", "CMK_BACKING_KEY_ROTATION_ENABLED", "kms-rotation", periodic=True),
    DetectiveRule("SM-1", "SAGEMAKER_NOTEBOOK_INSTANCE_KMS_KEY_CONFIGURED", "sm-notebook-kms"),
    DetectiveRule("SM-2", "SAGEMAKER_ENDPOINT_CONFIGURATION_KMS_KEY_CONFIGURED", "sm-endpoint-kms"),
    DetectiveRule("SM-4", "SAGEMAKER_NOTEBOOK_NO_DIRECT_INTERNET_ACCESS", "sm-no-internet"),
    DetectiveRule("NET-3", "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS", "sg-open-ports"),
    DetectiveRule("NET-4", "VPC_FLOW_LOGS_ENABLED", "vpc-flow-logs", periodic=True),
    DetectiveRule("ECR-1", "ECR_PRIVATE_IMAGE_SCANNING_ENABLED", "ecr-scan-on-push"),
)

# Every guardrail id of the catalog, for validating references to it.
GUARDRAIL_IDS: tuple[str, ...] = guardrail_ids()

# REQUIRED_TAGS checks at most six tag keys per rule.
REQUIRED_TAGS_PER_RULE = 6


def rule_name(prefix: str, rule: DetectiveRule, part: int = 0) -> str:
    """`<prefix>-<guardrail id>-<slug>`, lower case (e.g. `mrd-s3-3-s3-versioning`)."""
    suffix = f"-{part + 1}" if part else ""
    return f"{prefix}-{rule.guardrail.lower()}-{rule.slug}{suffix}"


def required_tags_parameters(tags: Sequence[str]) -> list[str]:
    """REQUIRED_TAGS input parameters, one JSON document per rule of at most six keys."""
    chunks = [list(tags[i:i + REQUIRED_TAGS_PER_RULE]) for i in range(0, len(tags), REQUIRED_TAGS_PER_RULE)]
    return [to_json({f"tag{n + 1}Key": key for n, key in enumerate(chunk)}) for chunk in chunks]


@dataclass(frozen=True)
class ConfigRuleSpec:
    """One organization rule to create: name, managed rule, optional parameters, region."""

    name: str
    guardrail: str
    identifier: str
    region: str
    input_parameters: str | None = None
    periodic: bool = False


def rule_specs(prefix: str, home_region: str, regions: Sequence[str], mandatory_tags: Sequence[str],
               skip_identifiers: frozenset[str] = frozenset()) -> list[ConfigRuleSpec]:
    """The organization rules for the catalog: global rules in the home region, regional ones
    in every allowed region; rules in `skip_identifiers` (owned by Control Tower) left out."""
    specs = []
    for rule in DETECTIVE_RULES:
        if rule.identifier in skip_identifiers:
            continue
        params: list[str | None] = [None]
        if rule.identifier == "REQUIRED_TAGS":
            params = list(required_tags_parameters(mandatory_tags)) or [None]
        for region in ([home_region] if rule.scope == "global" else list(regions)):
            for part, parameters in enumerate(params):
                specs.append(ConfigRuleSpec(rule_name(prefix, rule, part), rule.guardrail, rule.identifier,
                                            region, parameters, rule.periodic))
    return specs


class OrganizationConfigRules(pulumi.ComponentResource):
    """AWS Config organization managed rules, one per spec, each in its region's provider.

    `providers` maps a region to a provider acting in the Config delegated administrator
    account. Rules reach every account of the organization, including accounts created
    later, wherever a configuration recorder runs.
    """

    names: list[str]

    def __init__(self, name: str, specs: Sequence[ConfigRuleSpec], providers: Mapping[str, pulumi.ProviderResource],
                 home_region: str, depends_on: Sequence[pulumi.Resource] = (),
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:OrganizationConfigRules", name, None, opts)
        self.names = []
        for spec in specs:
            suffix = regional_suffix(spec.region, home_region)
            aws.cfg.OrganizationManagedRule(
                f"{spec.name}{suffix}",
                name=spec.name,
                rule_identifier=spec.identifier,
                description=f"ml-platform guardrail {spec.guardrail}: {spec.identifier}",
                input_parameters=spec.input_parameters,
                maximum_execution_frequency="TwentyFour_Hours" if spec.periodic else None,
                opts=pulumi.ResourceOptions(parent=self, provider=providers[spec.region], depends_on=list(depends_on)),
            )
            self.names.append(spec.name)
        self.register_outputs({"names": self.names})


class OrganizationAggregator(pulumi.ComponentResource):
    """An organization-wide AWS Config aggregator over the allowed regions, with the role
    AWS Config assumes (for `account_id`, the aggregator's account) to list the organization's
    accounts."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, aggregator_name: str, account_id: pulumi.Input[str], regions: Sequence[str],
                 tags: Mapping[str, str], partition: str = "aws", opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:security:OrganizationAggregator", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            name=f"{aggregator_name}-role",
            assume_role_policy=policy_json(document({
                "Sid": "ConfigAssumeForAggregation",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "sts:AssumeRole",
                # AWS Config acting for this account only (confused deputy).
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            })),
            tags=dict(tags),
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-role-policy", role=role.name,
            policy_arn=f"arn:{partition}:iam::aws:policy/service-role/AWSConfigRoleForOrganizations", opts=child)
        aggregator = aws.cfg.ConfigurationAggregator(
            name,
            name=aggregator_name,
            organization_aggregation_source=aws.cfg.ConfigurationAggregatorOrganizationAggregationSourceArgs(
                role_arn=role.arn, regions=list(regions)),
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )
        self.name = aggregator.name
        self.arn = aggregator.arn
        self.register_outputs({"name": self.name, "arn": self.arn})


__all__ = [
    "DETECTIVE_RULES", "GUARDRAIL_IDS", "DetectiveRule", "ConfigRuleSpec", "OrganizationConfigRules",
    "OrganizationAggregator", "rule_name", "rule_specs", "required_tags_parameters",
]
