"""SageMaker: encryption, VPC-only networking, no root, network isolation, no endpoints in dev and
sandbox, instance-type allow-list (SM-1 .. SM-8)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from .common import (
    UNKNOWN,
    ResourceContext,
    Stack,
    resource_policy,
    stack_policy,
    truthy,
)

DOMAIN = "sagemaker"

NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
DOMAIN_TYPE = "aws:sagemaker/domain:Domain"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
MODEL = "aws:sagemaker/model:Model"
TRAINING_JOB = "aws:sagemaker/trainingJob:TrainingJob"
# Instance types with local NVMe storage take no volume key (the API rejects one; the storage
# is hardware-encrypted), as the SM-1 SCP allows; the same patterns as the SCP library's.
LOCAL_STORAGE_INSTANCE_TYPES = ["ml.*d.*", "ml.*dn.*", "ml.*de.*", "ml.g5.*", "ml.g6.*", "ml.g6e.*", "ml.gr6.*",
                                "ml.p5*", "ml.trn*"]


def _unset(value: object) -> bool:
    return value is not UNKNOWN and not value


def _validate_volume_key(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    if ctx.type == TRAINING_JOB:
        _validate_job_keys(ctx, report)
        return
    if _unset(ctx.props.get("kmsKeyId")):
        kind = "notebook instance" if ctx.type == NOTEBOOK else "Studio domain"
        report(f"{kind} {ctx.name} has no KMS key for its storage volume (kmsKeyId)")


def _validate_job_keys(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    resources, output = ctx.props.get("resourceConfig"), ctx.props.get("outputDataConfig")
    if isinstance(output, dict) and _unset(output.get("kmsKeyId")):
        report(f"training job {ctx.name} writes its model artifacts without a KMS key (outputDataConfig.kmsKeyId)")
    if isinstance(resources, dict) and _unset(resources.get("volumeKmsKeyId")):
        instance_type = resources.get("instanceType")
        local = [str(p) for p in ctx.config.get("localStorageInstanceTypes") or []]
        if not (isinstance(instance_type, str) and any(fnmatch.fnmatchcase(instance_type, p) for p in local)):
            report(f"training job {ctx.name} has no KMS key for its storage volume (resourceConfig.volumeKmsKeyId)")


def _validate_endpoint_key(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    if _unset(ctx.props.get("kmsKeyArn")):
        report(f"endpoint configuration {ctx.name} has no KMS key for its ML storage volumes (kmsKeyArn)")


def _validate_vpc(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    props = ctx.props
    if ctx.type == NOTEBOOK:
        missing = [k for k in ("subnetId", "securityGroups") if _unset(props.get(k))]
        if missing:
            report(f"notebook instance {ctx.name} is not in a VPC (no {' and no '.join(missing)})")
    elif ctx.type in (MODEL, TRAINING_JOB):
        kind = "model" if ctx.type == MODEL else "training job"
        vpc = props.get("vpcConfig")
        if vpc is UNKNOWN:
            return
        if not isinstance(vpc, dict):
            report(f"{kind} {ctx.name} has no vpcConfig (subnets and security groups)")
            return
        missing = [k for k in ("subnets", "securityGroupIds") if _unset(vpc.get(k))]
        if missing:
            report(f"{kind} {ctx.name} vpcConfig has no {' and no '.join(missing)}")
    elif ctx.type == DOMAIN_TYPE:
        missing = [k for k in ("vpcId", "subnetIds") if _unset(props.get(k))]
        if missing:
            report(f"Studio domain {ctx.name} has no {' and no '.join(missing)}")


def _validate_internet(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    if ctx.type == NOTEBOOK:
        value = ctx.props.get("directInternetAccess")
        if value is not UNKNOWN and value != "Disabled":
            report(f"notebook instance {ctx.name} has direct internet access ({value or 'Enabled, the default'})")
    elif ctx.type == DOMAIN_TYPE:
        value = ctx.props.get("appNetworkAccessType")
        if value is not UNKNOWN and value != "VpcOnly":
            report(f"Studio domain {ctx.name} app network access type is {value or 'PublicInternetOnly, the default'}")


def _validate_root(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    value = ctx.props.get("rootAccess")
    if value is not UNKNOWN and value != "Disabled":
        report(f"notebook instance {ctx.name} gives users root access ({value or 'Enabled, the default'})")


def _validate_isolation(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    environments = [e.lower() for e in ctx.config.get("environments") or []]
    env, source = ctx.environment()
    if env not in environments:
        return
    kind = "model" if ctx.type == MODEL else "training job"
    value = ctx.props.get("enableNetworkIsolation")
    if value is not UNKNOWN and truthy(value) is not True:
        report(f"{kind} {ctx.name} in {env} (from {source}) does not enable network isolation")
    if ctx.type == TRAINING_JOB:
        encryption = ctx.props.get("enableInterContainerTrafficEncryption")
        if encryption is not UNKNOWN and truthy(encryption) is not True:
            report(f"training job {ctx.name} in {env} (from {source}) does not encrypt inter-container traffic")


def _validate_instance_types(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    allowed = [str(t) for t in ctx.config.get("allowedInstanceTypes") or []]
    value = ctx.props.get("instanceType")
    if isinstance(value, str) and value not in allowed:
        report(f"notebook instance {ctx.name} uses {value}; allowed: {', '.join(allowed) or 'none configured'}")


def _validate_no_endpoints(stack: Stack, report: Callable[[str, str | None], None]) -> None:
    forbidden = [e.lower() for e in stack.config.get("forbiddenEnvironments") or []]
    for resource in stack.of_type(ENDPOINT, ENDPOINT_CONFIG):
        env, source = stack.environment_of(resource)
        if env in forbidden:
            report(f"{resource.display} in environment {env} (from {source}): no SageMaker endpoints in "
                   f"{', '.join(forbidden)}", resource.urn)


POLICIES = [
    resource_policy(
        name="sm-1-notebook-domain-kms", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="SM-1: SageMaker notebook instances, Studio domains and training jobs encrypt their "
                    "storage volumes with a KMS key (kmsKeyId; a job's resourceConfig.volumeKmsKeyId, except "
                    "on instance types with local storage, and outputDataConfig.kmsKeyId), as SM-1's SCP "
                    "requires (sagemaker:VolumeKmsKeyArn).",
        remediation="Set kms_key_id to the project's KMS key ARN on the notebook instance or domain; on "
                    "training jobs set resource_config.volume_kms_key_id and output_data_config.kms_key_id.",
        types=(NOTEBOOK, DOMAIN_TYPE, TRAINING_JOB), validate=_validate_volume_key,
        config={
            "localStorageInstanceTypes": {"type": "array", "items": {"type": "string"},
                                          "default": LOCAL_STORAGE_INSTANCE_TYPES,
                                          "description": "Instance types (globs) whose jobs take no volume key."},
        },
    ),
    resource_policy(
        name="sm-2-endpoint-config-kms", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="SM-2: SageMaker endpoint configurations encrypt the endpoint's storage with a KMS key "
                    "(kmsKeyArn).",
        remediation="Set kms_key_arn on aws.sagemaker.EndpointConfiguration to the project's KMS key ARN.",
        types=(ENDPOINT_CONFIG,), validate=_validate_endpoint_key,
    ),
    resource_policy(
        name="sm-3-run-in-vpc", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="SM-3: notebook instances have a subnet and security groups, models and training jobs a "
                    "vpcConfig (subnets, security groups) and Studio domains a VPC and subnets.",
        remediation="Set subnet_id and security_groups on notebooks, vpc_config={subnets, security_group_ids} "
                    "on models and training jobs and vpc_id/subnet_ids on domains, using the project VPC's "
                    "private subnets.",
        types=(NOTEBOOK, MODEL, DOMAIN_TYPE, TRAINING_JOB), validate=_validate_vpc,
    ),
    resource_policy(
        name="sm-4-no-direct-internet", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="SM-4: notebook instances have directInternetAccess Disabled and Studio domains "
                    "appNetworkAccessType VpcOnly (the defaults are Enabled and PublicInternetOnly).",
        remediation="Set direct_internet_access='Disabled' on notebooks and app_network_access_type='VpcOnly' "
                    "on domains; reach AWS services through the VPC's interface endpoints.",
        types=(NOTEBOOK, DOMAIN_TYPE), validate=_validate_internet,
    ),
    resource_policy(
        name="sm-5-no-root-access", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="SM-5: notebook instances have rootAccess Disabled (the default is Enabled).",
        remediation="Set root_access='Disabled'; install packages through lifecycle configurations or "
                    "CodeArtifact instead.",
        types=(NOTEBOOK,), validate=_validate_root,
    ),
    resource_policy(
        name="sm-6-model-network-isolation", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="SM-6: models and training jobs in production-grade environments (preprod, prod by "
                    "default) enable network isolation, and training jobs encrypt inter-container traffic. "
                    "The environment comes from the `environment` tag, the provider's default tags or the "
                    "stack's tags.",
        remediation="Set enable_network_isolation=True on aws.sagemaker.Model and TrainingJob, and "
                    "enable_inter_container_traffic_encryption=True on training jobs; serve model artifacts "
                    "from S3 through the execution role.",
        types=(MODEL, TRAINING_JOB), validate=_validate_isolation,
        config={
            "environments": {"type": "array", "items": {"type": "string"}, "default": ["preprod", "prod"],
                             "description": "Environments where models must be network-isolated."},
        },
    ),
    stack_policy(
        name="sm-7-no-endpoints-in-dev-sandbox", domain=DOMAIN, severity="medium", enforcement="mandatory",
        description="SM-7: no SageMaker endpoints or endpoint configurations in dev and sandbox. The "
                    "environment comes from the resource's `environment` tag, its provider's default tags, "
                    "the stack's `environment` tag, or the one environment all the stack's providers agree on.",
        remediation="Deploy endpoints through the delivery pipeline into preprod and prod; test models in dev "
                    "with batch transform or local mode.",
        validate=_validate_no_endpoints,
        config={
            "forbiddenEnvironments": {"type": "array", "items": {"type": "string"}, "default": ["dev", "sandbox"],
                                      "description": "Environments without SageMaker endpoints."},
        },
    ),
    resource_policy(
        name="sm-8-notebook-instance-types", domain=DOMAIN, severity="low", enforcement="mandatory",
        description="SM-8: notebook instances use an allowed instance type (cost control; mandatory because "
                    "the sagemaker:InstanceTypes SCP denies any other type at deployment).",
        remediation="Pick an instance type from allowedInstanceTypes, or add the type to the platform's "
                    "guardrails.notebook_instance_types (SCP) and to this policy's configuration together.",
        types=(NOTEBOOK,), validate=_validate_instance_types,
        config={
            "allowedInstanceTypes": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                     "description": "Allowed notebook instance types."},
        },
        required=["allowedInstanceTypes"],
    ),
]
