"""The model-sharing part of a `<project>-<env>` stack (model-sharing blog, seeds/001).

When `model_sharing.projects.<project>` is configured (stacks/model_sharing_settings.py):

- in the **producer** environment's account: the Rekognition Custom Labels project (when
  configured) and one role per cross-account consumer environment, allowed to call exactly the
  versions that consumer is configured to use, through the consumer VPC's Rekognition
  endpoint, trusted by that consumer's application role alone (organization and STS endpoint
  conditions);
- in each **consumer** environment's account: the application role (assume only its producer
  role; in the producer's own account, call the versions directly through this VPC's
  endpoint) and the SSM parameter with the version ARN the application reads.

Role ARNs are computed from names and account ids, so a consumer stack never reads the
producer stack. The producer reads each cross-account consumer stack's `interfaceEndpointIds`
(per-VPC endpoints; in central mode the network stack's), so consumers are deployed first; the
trust policies name their application roles, which must exist anyway.

Version ARNs of another account than the producer's are refused, naming the key, as soon as
the organization's account ids are known (they are not known when the configuration loads).

Outputs: `modelSharing` (README "Stack outputs (contract)").
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.kms_keys import role_arn
from components.model_sharing import (
    ConsumerAccess,
    ModelConsumer,
    ModelConsumerArgs,
    ModelProducer,
    ModelProducerArgs,
)
from stacks import model_sharing_settings as ms
from stacks.common import account_ids, stack_reference
from stacks.config import ConfigError
from stacks.context import StackContext
from stacks.project_network import ProjectNetwork


def _checked(platform: Any, project: str, producer_account: pulumi.Output[str]) -> pulumi.Output[bool]:
    """True once the configured versions are known to be the producer account's; raises
    ConfigError naming every offending key otherwise."""
    def check(account: str) -> bool:
        problems = ms.account_problems(platform, project, account)
        if problems:
            raise ConfigError(problems)
        return True
    return producer_account.apply(check)


def _after(gate: pulumi.Output[bool], value: Any) -> pulumi.Output[Any]:
    """`value`, available only after the account check passed."""
    return pulumi.Output.all(gate, value).apply(lambda both: both[1])


def project_model_sharing(ctx: StackContext, network: ProjectNetwork) -> None:
    """Register this environment's share of the project's model (nothing when it has none)."""
    platform, project, env = ctx.platform, ctx.project, ctx.environment
    settings = ms.sharing(platform, project)
    if settings is None or (env != settings.producer and env not in settings.consumers):
        return
    accounts = account_ids(network.organization)
    producer_account = network.account_id if env == settings.producer else accounts(f"{project}-{settings.producer}")
    gate = _checked(platform, project, producer_account)
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
            for c in ms.cross_account_consumers(platform, project)
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
        in_account = env == settings.producer
        consumer = ModelConsumer(f"{network.label}-model-consumer", ModelConsumerArgs(
            account_id=network.account_id,
            region=platform.home_region,
            role_name=ms.application_role_name(platform, project, env),
            application_service=settings.application_service,
            parameter_name=ms.parameter_name(platform, project, env),
            version_arn=_after(gate, used.version),
            tags=network.tags,
            producer_role_arn=None if in_account else role_arn(producer_account, ms.producer_role_name(platform, project, env)),
            versions=[_after(gate, v) for v in ms.allowed_versions(used)] if in_account else (),
            rekognition_endpoint_id=endpoint(env, "rekognition") if in_account else None,
        ), opts)
        exports.update({
            "applicationRoleArn": consumer.role_arn,
            "parameterName": consumer.parameter_name,
            "versionArn": used.version,
            "allowedVersions": ms.allowed_versions(used),
            "crossAccount": not in_account,
        })
        if not in_account:
            exports["producerRoleArn"] = role_arn(producer_account, ms.producer_role_name(platform, project, env))
    pulumi.export("modelSharing", exports)
