"""The model-sharing part of a `<project>-<env>` stack (model-sharing blog, seeds/001).

When `model_sharing.projects.<project>` is configured (stacks/model_sharing_settings.py):

- in the **producer** environment's account: the Rekognition Custom Labels project (when
  configured) and one role per cross-account consumer environment, allowed to call exactly the
  versions that consumer is configured to use, through the consumer VPC's Rekognition
  endpoint, trusted by that consumer's application role alone (organization and STS endpoint
  conditions);
- in each **consumer** environment's account: the application role (assume only its producer
  role; in the producer's own account, or as a `copy` consumer, call its versions directly
  through this VPC's endpoint) and the SSM parameter with the version ARN the application
  reads. A `copy` consumer's versions are its own copies (`promote-model` makes them), so the
  producer has no role for it; with `rekognition_project` its account gets a project of that
  name (protected) to receive them.

Role ARNs are computed from names and account ids, so a consumer stack never reads the
producer stack. The producer reads each `delegate` consumer stack's `interfaceEndpointIds`
(per-VPC endpoints; in central mode the network stack's), so consumers are deployed first; the
trust policies name their application roles, which must exist anyway.

Version ARNs of another account than the one holding them (the producer's; a copy consumer's
own) are refused, naming the key, as soon as the organization's account ids are known (they
are not known when the configuration loads).

With `producer: model` the producer is the project's dedicated model account and its
`<project>-model` stack runs `model_account_stack` instead of the network, data and workspace
parts: no VPC (consumers call it through their own endpoints), no Studio, no people's roles;
the training-data and work buckets Rekognition reads and writes (the blog's bucket policy,
conditioned on the source account), the Rekognition project and the producer roles. Per-account
baselines reach it like every account of its OU (service-managed StackSets, organization-wide
services), and its key policies name the same administrators as the other project accounts'.

Outputs: `modelSharing` (README "Stack outputs (contract)"); the model stack also `accountId`
and `data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.data_access import ObjectGrant, ServiceGrant
from components.kms_keys import RolePrincipals, role_arn
from components.model_sharing import (
    ConsumerAccess,
    ModelConsumer,
    ModelConsumerArgs,
    ModelProducer,
    ModelProducerArgs,
)
from components.project_buckets import BucketKind, ProjectBucketSet, ProjectBucketSetArgs
from stacks import data_settings as ds
from stacks import model_sharing_settings as ms
from stacks.common import account_ids, account_provider, project_tags, stack_reference
from stacks.config import ConfigError
from stacks.context import StackContext
from stacks.project_network import ProjectNetwork


def _checked(platform: Any, project: str, producer_account: pulumi.Output[str], env: str,
             own_account: pulumi.Input[str]) -> pulumi.Output[bool]:
    """True once the configured versions are known to be in the account that holds them (the
    producer's; this environment's own when it is a copy consumer); raises ConfigError naming
    every offending key otherwise."""
    def check(accounts: list[str]) -> bool:
        problems = ms.account_problems(platform, project, accounts[0], {env: accounts[1]})
        if problems:
            raise ConfigError(problems)
        return True
    return pulumi.Output.all(producer_account, own_account).apply(check)


def _after(gate: pulumi.Output[bool], value: Any) -> pulumi.Output[Any]:
    """`value`, available only after the account check passed."""
    return pulumi.Output.all(gate, value).apply(lambda both: both[1])


@dataclass(frozen=True)
class ModelAccount:
    """The dedicated model account, as the sharing part needs it (the handles a project
    network part otherwise provides; no VPC, so no endpoints of its own)."""

    label: str
    tags: dict[str, str]
    provider: aws.Provider
    account_id: pulumi.Output[str]
    organization_id: pulumi.Output[str]
    organization: pulumi.StackReference
    network: pulumi.StackReference | None  # the hub's endpoints, central mode only
    interface_endpoint_ids: dict[str, pulumi.Output[str]] = field(default_factory=dict)


def model_account_stack(ctx: StackContext) -> None:
    """The `<project>-model` stack: the dedicated model account's buckets, Rekognition project
    and producer roles (see the module docstring)."""
    platform, project = ctx.platform, ctx.project
    key = f"{project}-{ms.MODEL_ENVIRONMENT}"
    tags = project_tags(platform, project, ms.MODEL_ENVIRONMENT)
    organization = stack_reference("organization")
    account_id = organization.require_output("accountIds").apply(lambda found: found[key])
    account = ModelAccount(
        label=platform.project_account_name(project, ms.MODEL_ENVIRONMENT), tags=tags,
        provider=account_provider(key, platform, account_id, tags), account_id=account_id,
        organization_id=organization.require_output("organizationId"), organization=organization,
        network=stack_reference("network") if platform.network.endpoints.mode == "central" else None)
    pulumi.export("accountId", account_id)
    _training_buckets(ctx, account)
    project_model_sharing(ctx, account)


def _training_buckets(ctx: StackContext, account: ModelAccount) -> None:
    """The training data Rekognition reads and the work bucket it writes training output into,
    for this account only (`aws:SourceAccount`); the project's pre-production automation
    (the pipeline that prepares the data sets) writes the training data, nobody else."""
    platform, project = ctx.platform, ctx.project
    pb, org = platform.data_lake.project_buckets, platform.organization
    env = ms.MODEL_ENVIRONMENT
    writers = []
    if "preprod" in platform.project(project).environments:
        preprod = account_ids(account.organization)(f"{project}-preprod")
        writers = [ObjectGrant("PreprodAutomation", [RolePrincipals(preprod, tuple(
            ds.project_role_name(platform, project, "preprod", r)
            for r in ds.roles_in_environment("preprod", pb.automation_roles)))], write=True)]
    label = f"{project}-{env}"
    buckets = [BucketKind(
        kind=kind, bucket_name=ds.project_bucket_name(platform, project, env, kind),
        grants=writers if kind == "datasets" else [],
        services=[ServiceGrant(f"Rekognition{kind.capitalize()}", ds.REKOGNITION, account.account_id,
                               write=kind == ms.MODEL_WORK_BUCKET_KIND)],
        lifecycle=ds.lifecycle_rules(kind, pb.lifecycle.get(kind)),
        tags={"lineage": "required"} if kind == "datasets" else {},
    ) for kind in ms.MODEL_BUCKET_KINDS if kind != "access-logs"]
    bucket_set = ProjectBucketSet(f"{label}-data", ProjectBucketSetArgs(
        account_id=account.account_id,
        region=platform.home_region,
        key_alias=f"{platform.name_prefix}-{label}-data",
        key_administrators=RolePrincipals(account.account_id,
                                          tuple(dict.fromkeys([org.member_role_name, org.break_glass_role_name]))),
        access_log_bucket_name=ds.project_bucket_name(platform, project, env, "access-logs"),
        log_source_prefix=ds.project_bucket_prefix(platform, project, env),
        buckets=buckets,
        access_log_lifecycle=ds.lifecycle_rules("access-logs", pb.lifecycle.get("access-logs")),
        tags=account.tags,
        organization_id=account.organization_id,
        bucket_managers=RolePrincipals(account.account_id, (org.member_role_name,)),
    ), opts=pulumi.ResourceOptions(provider=account.provider))
    pulumi.export("data", {"keyArn": bucket_set.key_arn,
                           "buckets": {k: {"name": b.bucket, "arn": b.arn} for k, b in bucket_set.buckets.items()}})


def project_model_sharing(ctx: StackContext, network: ProjectNetwork | ModelAccount) -> None:
    """Register this environment's share of the project's model (nothing when it has none)."""
    platform, project, env = ctx.platform, ctx.project, ctx.environment
    settings = ms.sharing(platform, project)
    if settings is None or (env != settings.producer and env not in settings.consumers):
        return
    accounts = account_ids(network.organization)
    producer_account = network.account_id if env == settings.producer else accounts(f"{project}-{settings.producer}")
    gate = _checked(platform, project, producer_account, env, network.account_id)
    central = platform.network.endpoints.mode == "central"

    def endpoint(consumer_env: str, service: str) -> pulumi.Output[str]:
        if central:
            ids = network.network.require_output("centralEndpointIds")
        elif consumer_env == env:
            return network.interface_endpoint_ids[service]
        else:
            ids = stack_reference(f"{project}-{consumer_env}").require_output("interfaceEndpointIds")
        return ids.apply(lambda found: found[service])

    exports: dict[str, Any] = {"producerEnvironment": settings.producer}
    opts = pulumi.ResourceOptions(provider=network.provider)
    if env == settings.producer:
        consumers = [
            ConsumerAccess(
                environment=c,
                role_name=ms.producer_role_name(platform, project, c),
                application_role_arn=role_arn(accounts(f"{project}-{c}"), ms.application_role_name(platform, project, c)),
                versions=[_after(gate, v) for v in ms.allowed_versions(settings.consumers[c])],
                rekognition_endpoint_id=endpoint(c, "rekognition"),
                sts_endpoint_id=endpoint(c, "sts"),
            )
            for c in ms.delegated_consumers(platform, project)
        ]
        producer = ModelProducer(f"{network.label}-model-producer", ModelProducerArgs(
            organization_id=network.organization_id, consumers=consumers, tags=network.tags,
            rekognition_project=settings.rekognition_project, region=platform.home_region), opts)
        exports["producerRoleArns"] = producer.role_arns
        if producer.project_arn is not None:
            exports["rekognitionProjectArn"] = producer.project_arn
    used = settings.consumers.get(env)
    if used is not None:
        if used.version_prefix:
            pulumi.log.warn(f"model_sharing.projects.{project}.consumers.{env}.version_prefix: every version "
                            f"named '{used.version_prefix}*' is callable (a wildcard; MOD-2 reports it)")
        # The producer's own environment and a copy consumer call versions of their own account.
        in_account = ms.calls_directly(platform, project, env)
        consumer = ModelConsumer(f"{network.label}-model-consumer", ModelConsumerArgs(
            account_id=network.account_id,
            region=platform.home_region,
            role_name=ms.application_role_name(platform, project, env),
            application_service=settings.application_service,
            parameter_name=ms.parameter_name(platform, project, env),
            version_arn=_after(gate, used.version),
            tags=network.tags,
            # Gated like the versions: a version of the wrong account grants no role either.
            producer_role_arn=None if in_account else _after(
                gate, role_arn(producer_account, ms.producer_role_name(platform, project, env))),
            versions=[_after(gate, v) for v in ms.allowed_versions(used)] if in_account else (),
            rekognition_endpoint_id=endpoint(env, "rekognition") if in_account else None,
            # A copy consumer's own project of the shared project's name receives its copies.
            rekognition_project=settings.rekognition_project if env in ms.copy_consumers(platform, project) else None,
        ), opts)
        exports.update({
            "applicationRoleArn": consumer.role_arn,
            "parameterName": consumer.parameter_name,
            "versionArn": used.version,
            "allowedVersions": ms.allowed_versions(used),
            "crossAccount": not in_account,
            "pattern": "in-account" if env == settings.producer else used.pattern,
        })
        if not in_account:
            exports["producerRoleArn"] = role_arn(producer_account, ms.producer_role_name(platform, project, env))
        if consumer.project_arn is not None:
            exports["rekognitionProjectArn"] = consumer.project_arn
    pulumi.export("modelSharing", exports)
