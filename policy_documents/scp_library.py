"""The preventive guardrails: the `scp` layer of the guardrail catalog as deny statements.

:func:`guardrail_statements` returns one :class:`GuardrailStatement` per deny statement, each
naming the OU paths it is attached to. Packing them into documents within the AWS limits is
:mod:`policy_documents.scp_packing`'s job; this module only decides *what* is denied.

Conventions every statement follows:

* it is a Deny, and its `Sid` starts with the guardrail id without the dash (`SM4...` for
  SM-4), so :func:`guardrail_id_for_sid` traces any statement back to the catalog;
* it carries the exemption: an `ArnNotLike` on `aws:PrincipalARN` naming the configured
  break-glass and deployment roles, and nothing else (IAM-3);
* action lists that depend on a SageMaker condition key are derived from the AWS service
  authorization data (:mod:`policy_documents.service_authorization`), so they contain exactly
  the actions that support the key: a `Null` test on a key an action does not support is
  always true and would deny that action to everyone;
* a required key (`Null` test) is tested under its current name and, for the actions the data
  still lists them on, under the deprecated names it replaces, in one `Null` block: denied only
  when the request carries none of them (a renamed key, like `sagemaker:VolumeKmsKey` ->
  `sagemaker:VolumeKmsKeyArn`, must neither deny everyone nor be dodged by the old name).

SageMaker API defaults matter for the value tests: `DirectInternetAccess`, `RootAccess` and
`AppNetworkAccessType` default to the unsafe value when a create request omits them, so create
calls are denied unless the safe value is *explicitly* requested (`StringNotEquals`), while
update calls, which only carry what changes, are denied when they ask for the unsafe value
(`StringEquals`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from guardrail_catalog import scp_guardrail_ids
from policy_documents.api_models import operations_always_accepting_tags
from policy_documents.service_authorization import (
    action_supports_key,
    actions_supporting,
    compact_actions,
    condition_key_predecessors,
    expand_actions,
    split_statement_by_condition_support,
)

# The guardrails with an `scp` layer in the catalog, in catalog order.
SCP_GUARDRAIL_IDS: tuple[str, ...] = scp_guardrail_ids()

ROOT = "Root"
# Attachment points: the organization root (SCPs never apply to the management account, so
# "all accounts but management" is the root) and the OU paths of the account model.
TARGETS: tuple[str, ...] = (
    ROOT, "Security", "Infrastructure", "Sandbox", "Workloads", "Workloads/Dev",
    "Workloads/PreProd", "Workloads/Prod", "Deployments", "Deployments/PreProd",
    "Deployments/Prod", "Suspended",
)

DEFAULT_MANDATORY_TAGS = ("owner", "project", "environment", "cost-center", "data-classification")

# Services whose API calls are global (served from us-east-1 or region-less) and so must stay
# reachable whatever the region allow-list says (REG-1). Each entry is checked against the
# service authorization data by the tests.
GLOBAL_SERVICE_ACTIONS: tuple[str, ...] = (
    "account:*", "acm:*", "aws-marketplace:*", "aws-portal:*", "billing:*", "budgets:*",
    "ce:*", "cloudfront:*", "cur:*", "directconnect:*", "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways", "ec2:DescribeVpnGateways", "fms:*", "globalaccelerator:*",
    "health:*", "iam:*", "networkmanager:*", "organizations:*", "pricing:*", "route53:*",
    "route53domains:*", "route53-recovery-cluster:*", "route53-recovery-control-config:*",
    "route53-recovery-readiness:*", "s3:GetAccountPublicAccessBlock", "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints", "s3:PutAccountPublicAccessBlock", "shield:*", "sts:*",
    "support:*", "supportplans:*", "trustedadvisor:*", "waf:*", "wafv2:*",
)

# SageMaker create calls that support `aws:RequestTag` but that Studio and the SageMaker SDK
# issue on the user's behalf without the user's tags (Studio apps and spaces opened from the
# UI, experiment and lineage entities recorded by the SDK). Requiring tags on them would
# break Studio without tagging anything that costs money on its own (TAG-1).
TAG_EXEMPT_SAGEMAKER_CREATES: tuple[str, ...] = (
    "sagemaker:CreateAction", "sagemaker:CreateApp", "sagemaker:CreateArtifact",
    "sagemaker:CreateContext", "sagemaker:CreateExperiment", "sagemaker:CreateSpace",
    "sagemaker:CreateTrial", "sagemaker:CreateTrialComponent",
)

# Create calls that support a key but must not be required to carry it (`Null` tests in
# SM-1 and SM-3), with the reason. Everything else comes from the service data.
NOT_REQUIRED_TO_CARRY: Mapping[str, str] = {
    # VPC settings live on the model (CreateModel is checked); storage encryption is SM-2,
    # detective and proactive only, because instance-storage and serverless variants cannot
    # take a volume key.
    "sagemaker:CreateEndpointConfig": "settings belong to the model / SM-2",
    # A schedule may reference a job definition by name; Create*JobDefinition is checked.
    "sagemaker:CreateMonitoringSchedule": "may reference a checked job definition",
    # User profiles inherit the domain's network settings; CreateDomain is checked.
    "sagemaker:CreateUserProfile": "inherits the domain's settings",
}

# IAM-3: every call that creates, changes, passes or deletes a role.
ROLE_CHANGES: tuple[str, ...] = (
    "iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PassRole", "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)
# What CloudFormation calls to create, update and delete an AWS::IAM::Role with its trust,
# managed and inline policies, tags and session duration: all the baseline StackSet needs.
ROLE_LIFECYCLE: tuple[str, ...] = tuple(a for a in ROLE_CHANGES if a not in (
    "iam:PassRole", "iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary"))
ROLE_BOUNDARY_CHANGES: tuple[str, ...] = ("iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary")
# LOG-3: every call that stops, deletes or reconfigures recording or delivery; and of those,
# the calls CloudFormation makes for the baseline's AWS::Config::ConfigurationRecorder and
# AWS::Config::DeliveryChannel (it has no retention configuration).
CONFIG_CHANGES: tuple[str, ...] = (
    "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel", "config:DeleteRetentionConfiguration",
    "config:PutConfigurationRecorder", "config:PutDeliveryChannel", "config:StopConfigurationRecorder",
)
BASELINE_CONFIG_CALLS: tuple[str, ...] = (
    "config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel", "config:PutConfigurationRecorder",
    "config:PutDeliveryChannel", "config:StopConfigurationRecorder",
)
# NET-1: ways out of a project account that bypass the hub: VPN, customer gateways, Client
# VPN, Direct Connect virtual interfaces and gateway associations.
PRIVATE_CONNECTIVITY_ACTIONS: tuple[str, ...] = (
    "directconnect:AcceptDirectConnectGatewayAssociationProposal", "directconnect:AllocatePrivateVirtualInterface",
    "directconnect:AllocateTransitVirtualInterface", "directconnect:CreateDirectConnectGatewayAssociation",
    "directconnect:CreateDirectConnectGatewayAssociationProposal", "directconnect:CreatePrivateVirtualInterface",
    "directconnect:CreateTransitVirtualInterface", "directconnect:UpdateDirectConnectGatewayAssociation",
    "ec2:AssociateClientVpnTargetNetwork", "ec2:AttachVpnGateway", "ec2:CreateClientVpnEndpoint",
    "ec2:CreateCustomerGateway", "ec2:CreateVpnConnection", "ec2:CreateVpnGateway",
)
# CI-2: what configures a pipeline, its build projects, roles, keys and buckets.
CI2_ACTIONS: tuple[str, ...] = (
    "codebuild:CreateProject", "codebuild:CreateWebhook", "codebuild:DeleteProject",
    "codebuild:DeleteResourcePolicy", "codebuild:DeleteSourceCredentials", "codebuild:DeleteWebhook",
    "codebuild:ImportSourceCredentials", "codebuild:PutResourcePolicy", "codebuild:UpdateProject",
    "codebuild:UpdateProjectVisibility", "codebuild:UpdateWebhook",
    "codepipeline:CreateCustomActionType", "codepipeline:CreatePipeline", "codepipeline:DeleteCustomActionType",
    "codepipeline:DeletePipeline", "codepipeline:DeleteWebhook", "codepipeline:DeregisterWebhookWithThirdParty",
    "codepipeline:PutWebhook", "codepipeline:RegisterWebhookWithThirdParty", "codepipeline:UpdatePipeline",
    "iam:AttachRolePolicy", "iam:CreatePolicyVersion", "iam:CreateRole", "iam:DeleteRole",
    "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePolicy", "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy", "kms:DisableKey", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion",
    "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:PutBucketPolicy",
)
# CI-2: the StartBuild overrides that replace what a build project defines (the key is present
# exactly when the request overrides it).
CI2_BUILD_STARTS = ("codebuild:StartBuild", "codebuild:StartBuildBatch")
CI2_BUILD_OVERRIDE_KEYS = (("Buildspec", "codebuild:source.buildspec"), ("Image", "codebuild:environment.image"),
                           ("Role", "codebuild:serviceRole"))

# SM-1: the key a request carries its storage volume's KMS key in (it replaces the deprecated
# sagemaker:VolumeKmsKey; see _require_key).
VOLUME_KMS_KEY = "sagemaker:VolumeKmsKeyArn"

# SM-6 applies where production data and models live.
PRODUCTION_GRADE_OUS = ("Workloads/PreProd", "Workloads/Prod")
# Training-type jobs, where SM-6 requires network isolation and inter-container encryption.
SM6_TRAINING_ACTIONS = ("sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob",
                        "sagemaker:CreateAutoMLJob*")

# SageMaker instance families with local NVMe instance storage (`d`/`dn`/`de` variants, G5/G6,
# P5, Trainium). Jobs on them cannot take a volume KMS key (SM-1). Patterns use StringLike.
DEFAULT_LOCAL_STORAGE_INSTANCE_TYPES: tuple[str, ...] = (
    "ml.*d.*", "ml.*dn.*", "ml.*de.*", "ml.g5.*", "ml.g6.*", "ml.g6e.*", "ml.gr6.*", "ml.p5*", "ml.trn*",
)

# Studio's own (JupyterServer, default) apps run on the `system` instance type; denying it
# would stop Studio from starting whatever the allow-list says (SM-8).
STUDIO_SYSTEM_INSTANCE_TYPE = "system"

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ROLE_NAME = re.compile(r"^[\w+=,.@*/-]{1,64}$")
_VPCE = re.compile(r"^vpce-[0-9a-f]{8,17}$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9*?-]+(\.[a-z0-9*?-]+)?$")
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_OU_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_SID_ID = re.compile(r"^(S3|[A-Z]+?)(\d+)(?=[A-Z])")


@dataclass(frozen=True)
class ScpSettings:
    """What the SCP library needs to know about the platform. Sequences may be given as
    lists; they are stored as tuples. Invalid settings raise ValueError listing every
    problem."""

    name_prefix: str
    allowed_regions: tuple[str, ...]
    # Break-glass and deployment role names: the only principals the SCPs exempt (IAM-3).
    exempt_role_names: tuple[str, ...]
    mandatory_tags: tuple[str, ...] = DEFAULT_MANDATORY_TAGS
    # SM-8 allow-list for notebooks and Studio apps.
    notebook_instance_types: tuple[str, ...] = ("ml.t3.medium", "ml.m5.xlarge")
    # SM-9 (optional): SageMaker API calls only through these VPC endpoints / from these CIDRs.
    sagemaker_source_vpce_ids: tuple[str, ...] = ()
    sagemaker_source_cidrs: tuple[str, ...] = ()
    # MOD-1: OUs holding the accounts that produce shared Rekognition models, where consumers'
    # delegated roles act, and the name patterns of those roles (`*` allowed).
    model_producer_ous: tuple[str, ...] = ("Workloads",)
    model_consumer_role_patterns: tuple[str, ...] = ()
    # CI-2: the roles of the release approver groups (names, * allowed), the only principals
    # besides the exempt roles that may answer a pipeline's manual approval.
    pipeline_approver_role_patterns: tuple[str, ...] = ()
    # Roles the account-baseline StackSet creates in every member account besides the
    # break-glass role (name patterns: its automation and Config recorder roles). IAM-3 lets only
    # the exempt roles and the StackSet execution roles create or change them; empty means the
    # program deploys no baseline, and then nothing exempts the StackSet execution roles.
    baseline_role_patterns: tuple[str, ...] = ()
    # S3-1: of those, the automation role, the one principal besides the exempt roles that may
    # set the account-level public access block.
    baseline_automation_role_patterns: tuple[str, ...] = ()
    # LOG-2: names (or patterns) of the log archive buckets; empty means the security stack's
    # default names, `<name_prefix>-{log-archive,config-history,log-access}-*`.
    log_archive_bucket_patterns: tuple[str, ...] = ()
    # SM-1: instance types whose jobs are not required to carry a volume key (see above).
    local_storage_instance_types: tuple[str, ...] = DEFAULT_LOCAL_STORAGE_INSTANCE_TYPES
    # Write action lists with exact word-boundary wildcards (`sagemaker:CreateEdge*`) to fit
    # more guardrails into the SCP size limit; off by default because explicit names are
    # easier to audit.
    compact_action_lists: bool = False
    partition: str = "aws"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, f.name, tuple(value))
        problems = _settings_problems(self)
        if problems:
            raise ValueError("invalid SCP settings:\n  - " + "\n  - ".join(problems))

    @property
    def log_archive_buckets(self) -> tuple[str, ...]:
        """The LOG-2 bucket name patterns in effect."""
        return self.log_archive_bucket_patterns or tuple(
            f"{self.name_prefix}-{kind}-*" for kind in ("log-archive", "config-history", "log-access"))

    @property
    def exempt_role_arns(self) -> list[str]:
        """`arn:<partition>:iam::*:role/<name>` for every exempt role, in configured order."""
        return [f"arn:{self.partition}:iam::*:role/{name}" for name in self.exempt_role_names]

    @property
    def baseline_role_arns(self) -> list[str]:
        return [f"arn:{self.partition}:iam::*:role/{name}" for name in self.baseline_role_patterns]

    @property
    def baseline_automation_role_arns(self) -> list[str]:
        return [f"arn:{self.partition}:iam::*:role/{name}" for name in self.baseline_automation_role_patterns]

    @property
    def break_glass_role_arn(self) -> str:
        """The break-glass role: the first exempt role (the deployment role is the second)."""
        return self.exempt_role_arns[0]

    @property
    def model_consumer_role_arns(self) -> list[str]:
        return [f"arn:{self.partition}:iam::*:role/{name}" for name in self.model_consumer_role_patterns]

    @property
    def pipeline_approver_role_arns(self) -> list[str]:
        return [f"arn:{self.partition}:iam::*:role/{name}" for name in self.pipeline_approver_role_patterns]

    @property
    def stackset_execution_role_arns(self) -> list[str]:
        # Service-managed StackSets deploy through these roles in every member account. They
        # are ordinary roles (SCPs apply to them), created by AWS through a service-linked role
        # (which SCPs do not restrict); IAM-3 stops anyone else creating one.
        return [f"arn:{self.partition}:iam::*:role/stacksets-exec-*"]


def _settings_problems(s: ScpSettings) -> list[str]:
    problems: list[str] = []

    def check(name: str, values: tuple[str, ...], ok: Any, allowed: str, required: bool = True) -> None:
        if required and not values:
            problems.append(f"{name}: must not be empty")
        for i, value in enumerate(values):
            if not isinstance(value, str) or not ok(value):
                problems.append(f"{name}[{i}]: {value!r} is invalid (allowed: {allowed})")
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            problems.append(f"{name}: duplicates {', '.join(map(str, duplicates))}")

    if not isinstance(s.name_prefix, str) or not _PREFIX.match(s.name_prefix):
        problems.append(f"name_prefix: {s.name_prefix!r} is invalid (allowed: lower-case letters, digits, '-', '.')")
    check("allowed_regions", s.allowed_regions, _REGION.match, "a region name such as eu-west-1")
    check("exempt_role_names", s.exempt_role_names, _ROLE_NAME.match, "IAM role names")
    check("mandatory_tags", s.mandatory_tags, lambda t: 0 < len(t) <= 128 and _camel(t), "tag keys with a letter or digit",
          required=False)
    check("notebook_instance_types", s.notebook_instance_types, _INSTANCE_TYPE.match, "e.g. ml.t3.medium, ml.t3.*")
    check("local_storage_instance_types", s.local_storage_instance_types, _INSTANCE_TYPE.match,
          "e.g. ml.g5.*", required=False)
    check("sagemaker_source_vpce_ids", s.sagemaker_source_vpce_ids, _VPCE.match, "e.g. vpce-0123456789abcdef0",
          required=False)
    check("sagemaker_source_cidrs", s.sagemaker_source_cidrs, _is_cidr, "IPv4 or IPv6 CIDR blocks", required=False)
    # Any OU path: the OU tree is configurable, and GuardrailPolicies rejects unknown targets.
    check("model_producer_ous", s.model_producer_ous, lambda t: t != ROOT and _OU_PATH.match(t) is not None,
          "an OU path such as Workloads", required=False)
    check("model_consumer_role_patterns", s.model_consumer_role_patterns, _ROLE_NAME.match,
          "IAM role names, * allowed", required=False)
    check("pipeline_approver_role_patterns", s.pipeline_approver_role_patterns, _ROLE_NAME.match,
          "IAM role names, * allowed", required=False)
    check("baseline_role_patterns", s.baseline_role_patterns, _ROLE_NAME.match, "IAM role names, * allowed",
          required=False)
    check("baseline_automation_role_patterns", s.baseline_automation_role_patterns, _ROLE_NAME.match,
          "IAM role names, * allowed", required=False)
    outside = [p for p in s.baseline_automation_role_patterns if p not in s.baseline_role_patterns]
    if outside:
        problems.append(f"baseline_automation_role_patterns: {', '.join(outside)} not among baseline_role_patterns "
                        "(the automation role is a baseline role, protected like the others)")
    check("log_archive_bucket_patterns", s.log_archive_bucket_patterns,
          lambda b: re.match(r"^[a-z0-9*?][a-z0-9.*?-]*$", b) is not None, "bucket names, * and ? allowed",
          required=False)
    # Two tags that differ only in punctuation would produce the same TAG-1 Sid.
    camel = [_camel(t) for t in s.mandatory_tags if isinstance(t, str)]
    clashes = sorted({c for c in camel if camel.count(c) > 1})
    if clashes:
        problems.append(f"mandatory_tags: {', '.join(clashes)} would be the Sid of more than one tag")
    if s.partition not in ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"):
        problems.append(f"partition: {s.partition!r} is not an AWS partition")
    return problems


def _is_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return "/" in value


def _camel(text: str) -> str:
    """`cost-center` -> `CostCenter` (Sids must be alphanumeric)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


@dataclass(frozen=True)
class GuardrailStatement:
    """One deny statement of one guardrail and the targets (OU paths or `Root`) it goes to."""

    guardrail_id: str
    targets: tuple[str, ...]
    statement: dict[str, Any] = field(hash=False, compare=True)

    @property
    def sid(self) -> str:
        return self.statement["Sid"]


def sid_prefix(guardrail_id: str) -> str:
    """The Sid prefix of a guardrail: its id without the dash (`SM-4` -> `SM4`)."""
    return guardrail_id.replace("-", "")


def guardrail_id_for_sid(sid: str) -> str:
    """The catalog id a Sid belongs to (`SM4DenyNotebookDirectInternet` -> `SM-4`).

    Raises ValueError for a Sid that does not start with a catalog id followed by a word.
    """
    match = _SID_ID.match(sid)
    guardrail_id = f"{match.group(1)}-{match.group(2)}" if match else None
    if guardrail_id not in SCP_GUARDRAIL_IDS:
        raise ValueError(f"Sid {sid!r} does not start with a guardrail id of the SCP catalog "
                         f"({', '.join(sid_prefix(g) for g in SCP_GUARDRAIL_IDS)})")
    return guardrail_id


# --- statement builders -----------------------------------------------------------------------

def _deny(settings: ScpSettings, guardrail_id: str, name: str, actions: Iterable[str], *,
          resources: str | list[str] = "*", condition: Mapping[str, Mapping[str, Any]] | None = None,
          not_action: bool = False, also_exempt: Sequence[str] = (),
          not_resources: list[str] | None = None) -> dict[str, Any]:
    """A Deny statement with the exemption for the break-glass and deployment roles (and,
    for the few statements that need it, `also_exempt` principal ARN patterns). With
    `not_resources`, it applies to every resource but those."""
    actions = list(actions)
    if settings.compact_action_lists and not not_action and not any(c in a for a in actions for c in "*?"):
        actions = compact_actions(actions)
    if not actions:
        # An empty derived list means the service data changed under us; fail loudly.
        raise ValueError(f"{guardrail_id} {name}: no actions (did the service authorization data change?)")
    merged: dict[str, dict[str, Any]] = {op: dict(entries) for op, entries in (condition or {}).items()}
    merged.setdefault("ArnNotLike", {})["aws:PrincipalARN"] = [*settings.exempt_role_arns, *also_exempt]
    return {
        "Sid": sid_prefix(guardrail_id) + name,
        "Effect": "Deny",
        ("NotAction" if not_action else "Action"): actions if len(actions) > 1 else actions[0],
        **({"NotResource": not_resources} if not_resources else {"Resource": resources}),
        "Condition": merged,
    }


def tag_required_creates() -> list[str]:
    """The SageMaker create calls TAG-1 requires tags on: those whose IAM action supports
    `aws:RequestTag` (service authorization data) and whose request always accepts `Tags`
    (the API model), less the calls Studio and the SDK make without the user's tags."""
    accepting = set(operations_always_accepting_tags("sagemaker", "Create"))
    return [a for a in actions_supporting(["aws:RequestTag/${TagKey}"], ["sagemaker:Create*"])
            if a in accepting and a not in TAG_EXEMPT_SAGEMAKER_CREATES]


def _key_names(key: str) -> tuple[str, ...]:
    """`key` and the deprecated keys it replaces (service data)."""
    return (key, *condition_key_predecessors(key))


def _creates_carrying(key: str) -> list[str]:
    """SageMaker create calls that support `key` (or a deprecated name of it) and are required
    to carry it."""
    found = {a for name in _key_names(key) for a in actions_supporting([name], ["sagemaker:Create*"])}
    return sorted(a for a in found if a not in NOT_REQUIRED_TO_CARRY)


def _require_key(settings: ScpSettings, guardrail_id: str, name: str, key: str, actions: Sequence[str],
                 condition: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Deny `actions` when the request carries neither `key` nor a deprecated name of it:
    one `Null` block on every name, split so that each statement only tests the names all of
    its actions support (usually one statement). `condition` adds further entries."""
    merged: dict[str, dict[str, Any]] = {"Null": {k: "true" for k in _key_names(key)}}
    for op, entries in (condition or {}).items():
        merged.setdefault(op, {}).update(entries)
    parts = split_statement_by_condition_support(
        {"Sid": name, "Effect": "Deny", "Action": list(actions), "Resource": "*", "Condition": merged})
    if not parts:
        # No action supports any name of the key: _deny fails loudly on the empty list.
        return [_deny(settings, guardrail_id, name, [], condition=merged)]
    return [_deny(settings, guardrail_id, part["Sid"], part["Action"], condition=part["Condition"]) for part in parts]


def _value_guard(settings: ScpSettings, guardrail_id: str, name: str, key: str, safe: str,
                 unsafe: str) -> list[dict[str, Any]]:
    """Creates must ask for `safe` explicitly (the API default is unsafe); updates must not
    ask for `unsafe`. Both action lists come from the service data."""
    statements = []
    creates = actions_supporting([key], ["sagemaker:Create*"])
    if creates:
        statements.append(_deny(settings, guardrail_id, name, creates,
                                condition={"StringNotEquals": {key: safe}}))
    updates = actions_supporting([key], ["sagemaker:Update*"])
    if updates:
        statements.append(_deny(settings, guardrail_id, name + "Update", updates,
                                condition={"StringEquals": {key: unsafe}}))
    return statements


def guardrail_statements(settings: ScpSettings) -> list[GuardrailStatement]:
    """The SCP column of the guardrail catalog for these settings, in catalog order.

    Every statement is a Deny with the IAM-3 exemption; targets are `Root` or OU paths.
    SM-9 is only present when SageMaker source VPC endpoints or CIDRs are configured, TAG-1
    only with mandatory tags and MOD-1 only with model-consumer role patterns and producer OUs. Raises ValueError if a
    list derived from the service data comes out empty.
    """
    s = settings
    out: list[GuardrailStatement] = []

    def add(guardrail_id: str, targets: Iterable[str], *statements: dict[str, Any]) -> None:
        for statement in statements:
            out.append(GuardrailStatement(guardrail_id, tuple(targets), statement))

    everywhere = (ROOT,)
    workloads = ("Workloads",)

    add("ORG-1", everywhere, _deny(s, "ORG-1", "DenyLeaveOrganization", ["organizations:LeaveOrganization"]))
    # Any trail: the organization trail cannot be touched from member accounts anyway, and
    # project teams have no reason to reconfigure trails of their own.
    add("LOG-1", everywhere, _deny(s, "LOG-1", "DenyCloudTrailChanges", [
        "cloudtrail:DeleteTrail", "cloudtrail:PutEventSelectors", "cloudtrail:PutInsightSelectors",
        "cloudtrail:StopLogging", "cloudtrail:UpdateTrail",
    ]))
    # The bucket and its objects: object actions (DeleteObject, PutObjectRetention, ...) match
    # only object ARNs, so each bucket is listed twice.
    add("LOG-2", everywhere, _deny(s, "LOG-2", "ProtectLogArchive", [
        "s3:BypassGovernanceRetention", "s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:DeleteObject",
        "s3:DeleteObjectVersion", "s3:PutBucketAcl", "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketOwnershipControls", "s3:PutBucketPolicy", "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration",
        "s3:PutObjectLegalHold", "s3:PutObjectRetention", "s3:PutReplicationConfiguration",
    ], resources=[arn for b in s.log_archive_buckets
                  for arn in (f"arn:{s.partition}:s3:::{b}", f"arn:{s.partition}:s3:::{b}/*")]))
    # Nobody but the exempt roles may stop, delete or reconfigure the recorder: a recording
    # group shrunk to nothing or a delivery channel pointed elsewhere silences Config as surely
    # as stopping it. The baseline StackSet (its execution roles, driven only from the
    # management account) keeps exactly the calls its recorder and delivery channel need.
    if s.baseline_role_patterns:
        add("LOG-3", everywhere,
            _deny(s, "LOG-3", "DenyConfigChanges", sorted(set(CONFIG_CHANGES) - set(BASELINE_CONFIG_CALLS))),
            _deny(s, "LOG-3", "ConfigOnlyFromBaseline", BASELINE_CONFIG_CALLS,
                  also_exempt=s.stackset_execution_role_arns))
    else:
        add("LOG-3", everywhere, _deny(s, "LOG-3", "DenyConfigChanges", CONFIG_CHANGES))
    add("REG-1", everywhere, _deny(s, "REG-1", "DenyOutsideAllowedRegions", GLOBAL_SERVICE_ACTIONS,
                                   not_action=True,
                                   condition={"StringNotEquals": {"aws:RequestedRegion": list(s.allowed_regions)}}))
    add("IAM-1", ("Workloads", "Sandbox"), _deny(s, "IAM-1", "DenyIamUsers", [
        "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreateUser",
    ]))
    # The exemption is only as strong as the exempt roles: nobody else may create one of them
    # (a role of that name would be exempt), change it, or pass it to a service. The baseline
    # StackSet creates the break-glass role and its own roles in every account, so its
    # execution roles keep the lifecycle calls CloudFormation makes on exactly those roles
    # (and may pass the baseline's own roles to Config and Systems Manager), nothing more:
    # never the deployment role, never permissions boundaries, never PassRole of break-glass.
    # Only the management account administers service-managed StackSets (no delegated
    # administrator), so only it can drive those execution roles.
    if s.baseline_role_patterns:
        add("IAM-3", everywhere,
            _deny(s, "IAM-3", "ProtectDeploymentRole", ROLE_CHANGES,
                  resources=[s.exempt_role_arns[1], *s.stackset_execution_role_arns]),
            _deny(s, "IAM-3", "ProtectBreakGlassRole", ["iam:PassRole", *ROLE_BOUNDARY_CHANGES],
                  resources=[s.break_glass_role_arn]),
            _deny(s, "IAM-3", "BreakGlassRoleOnlyFromBaseline", ROLE_LIFECYCLE,
                  resources=[s.break_glass_role_arn], also_exempt=s.stackset_execution_role_arns),
            _deny(s, "IAM-3", "ProtectBaselineRoles", ROLE_BOUNDARY_CHANGES, resources=s.baseline_role_arns),
            _deny(s, "IAM-3", "BaselineRolesOnlyFromBaseline", [*ROLE_LIFECYCLE, "iam:PassRole"],
                  resources=s.baseline_role_arns, also_exempt=s.stackset_execution_role_arns))
    else:
        add("IAM-3", everywhere, _deny(s, "IAM-3", "ProtectExemptRoles", ROLE_CHANGES, resources=s.exempt_role_arns))

    # TAG-1: keys in one Null block are ANDed, so "any tag missing" needs one statement per tag.
    tagged_creates = tag_required_creates()
    add("TAG-1", workloads, *(
        _deny(s, "TAG-1", f"Require{_camel(tag)}Tag", tagged_creates,
              condition={"Null": {f"aws:RequestTag/{tag}": "true"}})
        for tag in s.mandatory_tags
    ))
    add("S3-1", everywhere, _deny(s, "S3-1", "DenyAccountPublicAccessChanges", ["s3:PutAccountPublicAccessBlock"],
                                  also_exempt=s.baseline_automation_role_arns))

    # Jobs on instance types with local (NVMe) storage cannot take a volume key (the API
    # rejects it; that storage is hardware-encrypted), so jobs are only denied when none of
    # their instance types is such a type.
    kms_creates = _creates_carrying(VOLUME_KMS_KEY)
    kms_jobs = [a for a in kms_creates if "Job" in a and action_supports_key(a, "sagemaker:InstanceTypes")]
    add("SM-1", workloads,
        *_require_key(s, "SM-1", "RequireVolumeKmsKey", VOLUME_KMS_KEY, [a for a in kms_creates if a not in kms_jobs]),
        *_require_key(s, "SM-1", "RequireJobVolumeKmsKey", VOLUME_KMS_KEY, kms_jobs, condition={
            "ForAllValues:StringNotLike": {"sagemaker:InstanceTypes": list(s.local_storage_instance_types)}}))
    # Two statements: subnets and security groups are each required (one Null block would AND them).
    add("SM-3", workloads,
        *_require_key(s, "SM-3", "RequireVpcSubnets", "sagemaker:VpcSubnets",
                      _creates_carrying("sagemaker:VpcSubnets")),
        *_require_key(s, "SM-3", "RequireVpcSecurityGroups", "sagemaker:VpcSecurityGroupIds",
                      _creates_carrying("sagemaker:VpcSecurityGroupIds")))
    add("SM-4", workloads,
        *_value_guard(s, "SM-4", "DenyNotebookDirectInternet", "sagemaker:DirectInternetAccess", "Disabled", "Enabled"),
        *_value_guard(s, "SM-4", "DenyDomainPublicInternet", "sagemaker:AppNetworkAccessType", "VpcOnly",
                      "PublicInternetOnly"))
    add("SM-5", workloads, *_value_guard(s, "SM-5", "DenyNotebookRootAccess", "sagemaker:RootAccess", "Disabled", "Enabled"))
    # BoolIfExists: an absent flag means the API default, false, and is denied too.
    add("SM-6", PRODUCTION_GRADE_OUS,
        _deny(s, "SM-6", "RequireNetworkIsolation",
              actions_supporting(["sagemaker:NetworkIsolation"], SM6_TRAINING_ACTIONS),
              condition={"BoolIfExists": {"sagemaker:NetworkIsolation": "false"}}),
        _deny(s, "SM-6", "RequireTrafficEncryption",
              actions_supporting(["sagemaker:InterContainerTrafficEncryption"], SM6_TRAINING_ACTIONS),
              condition={"BoolIfExists": {"sagemaker:InterContainerTrafficEncryption": "false"}}))
    add("SM-7", ("Sandbox", "Workloads/Dev"), _deny(s, "SM-7", "DenyEndpoints", [
        "sagemaker:CreateEndpoint", "sagemaker:CreateEndpointConfig", "sagemaker:InvokeEndpoint",
        "sagemaker:InvokeEndpointAsync", "sagemaker:InvokeEndpointWithResponseStream", "sagemaker:UpdateEndpoint",
    ]))
    # ForAnyValue: a request without an instance type (most updates) is not denied.
    add("SM-8", ("Workloads", "Sandbox"), _deny(
        s, "SM-8", "LimitInstanceTypes",
        actions_supporting(["sagemaker:InstanceTypes"],
                           ["sagemaker:CreateNotebookInstance", "sagemaker:UpdateNotebookInstance", "sagemaker:CreateApp"]),
        condition={"ForAnyValue:StringNotLike": {
            "sagemaker:InstanceTypes": [*s.notebook_instance_types, STUDIO_SYSTEM_INSTANCE_TYPE]}}))
    if s.sagemaker_source_vpce_ids or s.sagemaker_source_cidrs:
        # Conditions are ANDed: denied only when the call matches neither an allowed endpoint
        # nor an allowed network. Calls AWS services make on a user's behalf are left alone.
        network: dict[str, dict[str, Any]] = {}
        if s.sagemaker_source_vpce_ids:
            network["StringNotEquals"] = {"aws:SourceVpce": list(s.sagemaker_source_vpce_ids)}
        if s.sagemaker_source_cidrs:
            network["NotIpAddress"] = {"aws:SourceIp": list(s.sagemaker_source_cidrs)}
        network["Bool"] = {"aws:ViaAWSService": "false"}
        add("SM-9", workloads, _deny(s, "SM-9", "RequireTrustedNetwork", ["sagemaker:*"], condition=network))
    # Project accounts reach other networks only through the hub: no internet gateway, no VPN,
    # customer gateway, Client VPN or Direct Connect of their own (the network account, which
    # owns the on-premises attachment, is not under Workloads), and no peering with a VPC of
    # another organization (the accepter's or requester's VPC must belong to this one).
    add("NET-1", workloads,
        _deny(s, "NET-1", "DenyInternetGateways", [
            "ec2:AttachInternetGateway", "ec2:CreateEgressOnlyInternetGateway", "ec2:CreateInternetGateway",
        ]),
        _deny(s, "NET-1", "DenyPrivateConnectivity", PRIVATE_CONNECTIVITY_ACTIONS),
        _deny(s, "NET-1", "DenyPeeringOutsideOrganization",
              ["ec2:AcceptVpcPeeringConnection", "ec2:CreateVpcPeeringConnection"],
              condition={"StringNotEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}}))
    # Configuration only: the pipelines' own service roles keep their runtime actions
    # (PutJobSuccessResult, StartBuild, ...) and approvers keep PutApprovalResult. The baseline
    # StackSet creates its roles in the automation account too: role changes are denied on
    # every role but those, which IAM-3 guards (NotResource), so its execution roles need no
    # exemption here.
    # Starting a build may not swap what the pipeline defined: a buildspec, image or service
    # role given at StartBuild would run other code, in another image, as another role. And only
    # the approver groups' roles answer a manual approval.
    runtime = [
        *(_deny(s, "CI-2", f"DenyBuild{what}Override", list(CI2_BUILD_STARTS), condition={"Null": {key: "false"}})
          for what, key in CI2_BUILD_OVERRIDE_KEYS),
        _deny(s, "CI-2", "ApprovalsOnlyByApprovers", ["codepipeline:PutApprovalResult"],
              also_exempt=s.pipeline_approver_role_arns),
    ]
    if s.baseline_role_patterns:
        add("CI-2", ("Deployments",),
            _deny(s, "CI-2", "DenyPipelineChanges", [a for a in CI2_ACTIONS if not a.startswith("iam:")]),
            _deny(s, "CI-2", "DenyPipelineRoleChanges", [a for a in CI2_ACTIONS if a.startswith("iam:")],
                  not_resources=[s.break_glass_role_arn, *s.baseline_role_arns]), *runtime)
    else:
        add("CI-2", ("Deployments",), _deny(s, "CI-2", "DenyPipelineChanges", CI2_ACTIONS), *runtime)
    # MOD-1 binds where a consumer's delegated role acts: the producer accounts. Whatever that
    # role's own policy says, it cannot create, delete, start or stop Rekognition projects or
    # versions (the seed's wildcards, expanded against the data into explicit names).
    if s.model_consumer_role_patterns and s.model_producer_ous:
        add("MOD-1", s.model_producer_ous, _deny(s, "MOD-1", "DenyRekognitionProjectChanges", [
            a for pattern in ("rekognition:CreateProject*", "rekognition:DeleteProject*",
                              "rekognition:StartProject*", "rekognition:StopProject*")
            for a in expand_actions(pattern)
        ], resources=f"arn:{s.partition}:rekognition:*:*:project/*",
            condition={"ArnLike": {"aws:PrincipalARN": s.model_consumer_role_arns}}))
    return out
