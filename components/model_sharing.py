"""Cross-account sharing of a Rekognition Custom Labels model (model-sharing blog, seeds/001).

- :class:`ModelProducer`, in the account that holds the model: the Custom Labels project (when
  the program owns it) and one IAM role per consumer account, allowed to call
  `rekognition:DetectCustomLabels` on exactly the versions that consumer is configured to use,
  only through the consumer VPC's Rekognition endpoint, and trusted by that consumer's
  application role alone (in the organization, through the consumer's STS endpoint).
  Promotion rewrites one consumer's inline policy (blog, "Promoting the model version").
- :class:`ModelConsumer`, in each consumer account: the application role, allowed to assume
  only its producer role (or, in the producer's own account, to call the versions directly),
  and the SSM parameter holding the version ARN the application reads at run time.

Role policies are data (serialized once by `policy_documents.serialize`); the pure functions
below build them, so tests read exactly what the program registers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.service_roles import service_trust
from policy_documents.serialize import concat, document, policy_json

PARTITION = "aws"
DETECT = "rekognition:DetectCustomLabels"
PARAMETER_READ = ("ssm:GetParameter", "ssm:GetParameters")
MAX_SESSION_SECONDS = 3600


@dataclass(frozen=True)
class ConsumerAccess:
    """One consumer account of the shared model, as the producer account sees it."""

    environment: str
    # The producer-account role the consumer's application assumes (a MOD-1 name).
    role_name: str
    # The only principal the role trusts.
    application_role_arn: pulumi.Input[str]
    # Exactly the version ARNs (or one configured prefix wildcard) the consumer may call.
    versions: Sequence[pulumi.Input[str]]
    # The consumer VPC's Rekognition endpoint: calls must come through it (aws:SourceVpce).
    rekognition_endpoint_id: pulumi.Input[str]
    # The consumer VPC's STS endpoint: the role is assumed through it (aws:SourceVpce).
    sts_endpoint_id: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class ModelProducerArgs:
    """The producer side: the consumers, the organization they must belong to, and the
    Rekognition project to create (None: made outside the program)."""

    organization_id: pulumi.Input[str]
    consumers: Sequence[ConsumerAccess]
    tags: Mapping[str, str]
    rekognition_project: str | None = None
    region: str | None = None


def producer_trust(access: ConsumerAccess, organization_id: pulumi.Input[str]) -> dict:
    """Trust of a producer role: exactly the consumer's application role, in the organization,
    through the consumer's STS endpoint when it has one."""
    equals: dict[str, pulumi.Input[str]] = {"aws:PrincipalOrgID": organization_id}
    if access.sts_endpoint_id is not None:
        equals["aws:SourceVpce"] = access.sts_endpoint_id
    return document({
        "Sid": "ConsumerApplicationOnly",
        "Effect": "Allow",
        "Principal": {"AWS": access.application_role_arn},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": equals},
    })


def detect_statement(sid: str, versions: Sequence[pulumi.Input[str]], endpoint_id: pulumi.Input[str]) -> dict:
    """DetectCustomLabels on `versions` only, only through the endpoint `endpoint_id`."""
    if not versions:
        raise ValueError(f"{sid}: name at least one model version")
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": [DETECT],
        "Resource": list(versions),
        "Condition": {"StringEquals": {"aws:SourceVpce": endpoint_id}},
    }


def producer_policy(access: ConsumerAccess) -> dict:
    """The inline policy of a producer role: the consumer's versions, over its endpoint."""
    return document(detect_statement("UseConfiguredModelVersions", access.versions, access.rekognition_endpoint_id))


class ModelProducer(pulumi.ComponentResource):
    """The producer account's side. Outputs `role_arns` (consumer environment -> role ARN) and
    `project_arn` (None when the project is not created here)."""

    role_arns: dict[str, pulumi.Output[str]]
    project_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: ModelProducerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:models:ModelProducer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.project_arn = None
        if args.rekognition_project:
            self.project_arn = _custom_labels_project(f"{name}-project", args.rekognition_project, args.region, args.tags, self)
        self.role_arns = {}
        for access in args.consumers:
            role = aws.iam.Role(
                f"{name}-{access.environment}",
                name=access.role_name,
                description=f"Shared model: the {access.environment} consumer's application calls its configured versions",
                assume_role_policy=policy_json(producer_trust(access, args.organization_id)),
                max_session_duration=MAX_SESSION_SECONDS,
                tags={**args.tags, "model-consumer": access.environment},
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-{access.environment}-versions",
                name="model-versions",
                role=role.name,
                policy=policy_json(producer_policy(access)),
                opts=pulumi.ResourceOptions(parent=role),
            )
            self.role_arns[access.environment] = role.arn
        self.register_outputs({"role_arns": self.role_arns, "project_arn": self.project_arn})


@dataclass(frozen=True)
class ModelConsumerArgs:
    """The consumer side in one account.

    Cross-account (`producer_role_arn` set): the application assumes only that role.
    In the producer's own account, or holding its own copies (`producer_role_arn` None): it
    calls `versions` directly, through `rekognition_endpoint_id`. `rekognition_project`: the
    Custom Labels project that receives this account's copies, created here (protected).
    """

    account_id: pulumi.Input[str]
    region: str
    role_name: str
    application_service: str
    parameter_name: str
    # The version the application uses (the parameter's value).
    version_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    producer_role_arn: pulumi.Input[str] | None = None
    versions: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    rekognition_endpoint_id: pulumi.Input[str] | None = None
    rekognition_project: str | None = None


def _custom_labels_project(name: str, project: str, region: str, tags: Mapping[str, str],
                           parent: pulumi.Resource) -> pulumi.Output[str]:
    """The Custom Labels project `project`, protected: its versions live in it, and deleting it
    deletes them."""
    return aws.rekognition.Project(
        name, name=project, feature="CUSTOM_LABELS", region=region, tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=True)).arn


def application_trust(account_id: pulumi.Input[str], service: str) -> dict:
    """The application role: assumed by the service that runs the application, for this account."""
    return service_trust(account_id, service, sid="ApplicationServiceOfThisAccount")


def parameter_arn(region: str, account_id: pulumi.Input[str], name: str) -> pulumi.Output[str]:
    return concat(f"arn:{PARTITION}:ssm:{region}:", account_id, ":parameter/", name.lstrip("/"))


def application_statements(args: ModelConsumerArgs) -> list[dict]:
    """Read the version parameter; assume only the producer role, or (in-account) call the
    configured versions through this VPC's endpoint."""
    found: list[dict] = [{"Sid": "ReadModelVersionParameter", "Effect": "Allow", "Action": list(PARAMETER_READ),
                          "Resource": [parameter_arn(args.region, args.account_id, args.parameter_name)]}]
    if args.producer_role_arn is not None:
        found.append({"Sid": "AssumeOnlyTheProducerRole", "Effect": "Allow", "Action": ["sts:AssumeRole"],
                      "Resource": [args.producer_role_arn]})
    else:
        if args.rekognition_endpoint_id is None:
            raise ValueError(f"{args.role_name}: in-account model use needs the Rekognition endpoint")
        found.append(detect_statement("UseConfiguredModelVersions", args.versions, args.rekognition_endpoint_id))
    return found


class ModelConsumer(pulumi.ComponentResource):
    """The consumer account's side. Outputs `role_arn`, `parameter_name`, `parameter_arn` and
    `project_arn` (the project of its own copies; None when not created here)."""

    role_arn: pulumi.Output[str]
    parameter_name: str
    parameter_arn: pulumi.Output[str]
    project_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: ModelConsumerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:models:ModelConsumer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.project_arn = None
        if args.rekognition_project:
            self.project_arn = _custom_labels_project(f"{name}-project", args.rekognition_project, args.region, args.tags, self)
        role = aws.iam.Role(
            f"{name}-application",
            name=args.role_name,
            description="Shared model: the application that calls the configured model version",
            assume_role_policy=policy_json(application_trust(args.account_id, args.application_service)),
            max_session_duration=MAX_SESSION_SECONDS,
            tags=dict(args.tags),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-application-model",
            name="shared-model",
            role=role.name,
            policy=policy_json(document(*application_statements(args))),
            opts=pulumi.ResourceOptions(parent=role),
        )
        # Not secret (an ARN), so a plain String: readers need no key.
        parameter = aws.ssm.Parameter(
            f"{name}-version-arn",
            name=args.parameter_name,
            type="String",
            value=args.version_arn,
            description="ml-platform model sharing: the Rekognition model version ARN this environment uses",
            tags=dict(args.tags),
            opts=child,
        )
        self.role_arn = role.arn
        self.parameter_name = args.parameter_name
        self.parameter_arn = parameter.arn
        self.register_outputs({"role_arn": self.role_arn, "parameter_name": self.parameter_name,
                               "parameter_arn": self.parameter_arn, "project_arn": self.project_arn})
