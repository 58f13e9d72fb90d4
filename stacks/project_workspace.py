"""The ML workspace part of a `<project>-<env>` stack: the job roles and their least-privilege
permissions, and the SSM parameters notebooks and pipelines read.

Job roles (whitepaper "Service roles", one per job kind): notebook execution (the data part's
`sm-execution` persona), processing, training / tuning, model hosting, Step Functions,
SageMaker Pipelines (the role a pipeline runs its steps as), Glue.
Their policies, tightened from the whitepaper's samples:

- `iam:PassRole` only to the named job roles, only to the service that runs them;
- ECR pull from the shared-services base/framework repositories and the project's namespace;
  in dev, the notebook role also creates and pushes to, and the processing and training roles
  pull from, this account's repositories tagged `CreatedBy=SageMaker` (whitepaper);
- KMS: the named actions on the project key, decrypt on the granted lake domains' keys;
- S3: the project buckets exactly as their bucket policies grant the role, read on the lake
  zones the data layer's consumers entry grants;
- CloudWatch Logs on SageMaker's (Glue's) log groups only; metrics in SageMaker namespaces;
- ENI actions on the project's VPC only (`ec2:Vpc`).

SSM parameters (SecureString, project key) under `workspace_settings.parameter_path`.

Studio (environments in `workspace.studio.environments`, dev by default): the domain, its
lifecycle configurations and the user profiles; with the shared-services self-service portfolio
(`shared_services.service_catalog`), the launch role its Studio user-profile product's launch
constraint names (`<prefix>-studio-launch`): Service Catalog of this account only, CloudFormation
on `SC-*` stacks, the user profiles of this domain, PassRole of the notebook role to SageMaker,
in SSO domains the Identity Center user lookups. In dev (`shared_services_settings.
self_service_accounts`) the data scientists' sessions are associated with the shared portfolio
and their policy launches the product and manages only their own provisioned products.

People (`identity:`): the persona policies of this account, `<prefix>-persona-<persona>` (the
same name in every account, so one permission set references it), and the assignments of the
configured groups to the permission sets for this account (or the SAML persona roles):

- data scientists: in dev, open only the user profile and spaces tagged with their own user
  name (ABAC on `studio-owner`), launch the Studio user-profile product for themselves, run
  jobs in the project VPC with the job roles, their own notebook instances (when enabled); in preprod,
  read-only views of jobs, their logs and metrics; nothing in prod;
- MLOps engineers (preprod, prod): read jobs, endpoints, pipelines and the registry, stop or
  retry pipeline executions and scale endpoints, never change a pipeline;
- model risk managers (preprod, prod): the registry, model cards and lineage, read-only.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components import persona_policies as pp
from components.permission_sets import PersonaAccess
from components.service_roles import JobPermissions, LaunchRole, ServiceRole, ServiceRoles
from components.studio_domain import StudioDomain, StudioDomainArgs, StudioProfile
from policy_documents.serialize import concat, document, policy_json
from stacks import data_settings as ds
from stacks import delivery_settings as dv
from stacks import identity_settings as ids
from stacks import shared_services_settings as ss
from stacks import workspace_settings as ws
from stacks.common import stack_reference
from stacks.context import StackContext
from stacks.project_data import ProjectData
from stacks.project_network import ProjectNetwork

Statement = dict[str, Any]


def job_roles(ctx: StackContext, network: ProjectNetwork) -> ServiceRoles:
    """The job roles the data part does not create, without permissions (created first: the
    bucket policies name them)."""
    platform = ctx.platform
    roles = [ServiceRole(kind, name, ws.JOB_SERVICES[kind])
             for kind, name in ws.created_job_roles(platform, ctx.project, ctx.environment).items()]
    return ServiceRoles(f"{network.label}-job-roles", network.account_id, roles, network.tags,
                        pulumi.ResourceOptions(provider=network.provider))


class _Context:
    """The ARNs the policies of one environment name."""

    def __init__(self, ctx: StackContext, network: ProjectNetwork, data: ProjectData, roles: ServiceRoles):
        p = ctx.platform
        self.platform, self.project, self.env = p, ctx.project, ctx.environment
        self.region = p.home_region
        self.account = network.account_id
        self.network = network
        self.data = data
        self.shared = network.organization.require_output("accountIds").apply(lambda ids: ids[ss.ACCOUNT])
        # The self-service portfolio and product (shared-services stack), where data scientists
        # launch the Studio user-profile product.
        self.self_service = f"{ctx.project}-{ctx.environment}" in ss.self_service_accounts(p)
        self.catalog = stack_reference(ss.ACCOUNT).require_output("serviceCatalog") if self.self_service else None
        self.role_arns: dict[str, pulumi.Output[str]] = {}
        for kind, name in ws.service_role_names(p, ctx.project, ctx.environment).items():
            self.role_arns[kind] = roles.arns.get(kind) or concat("arn:aws:iam::", self.account, ":role/", name)

    def arn(self, service: str, resource: str, account: Any = None, region: str | None = None) -> pulumi.Output[str]:
        return concat(f"arn:aws:{service}:", self.region if region is None else region, ":",
                       self.account if account is None else account, ":", resource)


def _logs(c: _Context, group_prefix: str) -> list[Statement]:
    group = c.arn("logs", f"log-group:{group_prefix}*")
    return [
        {"Sid": "LogGroups", "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:DescribeLogStreams"],
         "Resource": [group]},
        {"Sid": "LogStreams", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [c.arn("logs", f"log-group:{group_prefix}*:log-stream:*")]},
    ]


def _metrics() -> Statement:
    # Metrics have no ARN (the data's only resource type for PutMetricData is a CloudWatch
    # dataset, which jobs do not use); the namespace condition is its scope.
    return {"Sid": "SageMakerMetrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
            "Condition": {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}}}


def _ecr_pull(c: _Context) -> list[Statement]:
    p = c.platform
    prefixes = [ss.BASE, ss.FRAMEWORK, ss.namespace(p, c.project),
                *(rule.prefix for rule in p.shared_services.ecr.pull_through_cache)]
    return [
        # GetAuthorizationToken takes no resource.
        {"Sid": "EcrToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "EcrPullShared", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": [c.arn("ecr", f"repository/{prefix}/*", c.shared) for prefix in dict.fromkeys(prefixes)]},
    ]


def _project_key(c: _Context, grants: bool) -> list[Statement]:
    found: list[Statement] = [{"Sid": "ProjectKey", "Effect": "Allow", "Action": list(ws.JOB_KEY_ACTIONS),
                               "Resource": [c.data.key_arn]}]
    if grants:
        # SageMaker and EFS attach the key to volumes through grants.
        found.append({"Sid": "ProjectKeyGrantsForVolumes", "Effect": "Allow", "Action": ["kms:CreateGrant"],
                      "Resource": [c.data.key_arn], "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})
    return found


def _s3(c: _Context, kind: str, lake: bool) -> list[Statement]:
    return _data_access(c, ws.service_role_suffixes(c.platform)[kind], lake=lake, athena=kind == "notebook")


def _lake(c: _Context) -> pp.LakeReads | None:
    if c.data.lake_readable is None or c.data.lake_account_id is None:
        return None
    return pp.LakeReads(pp.AccountArns(c.data.lake_account_id, c.region), c.data.lake_readable,
                        list(c.data.lake_databases), c.data.athena_workgroup)


def _data_access(c: _Context, suffix: str, lake: bool, athena: bool) -> list[Statement]:
    """The role `suffix`'s data reads and writes, exactly as the grants allow them: the project
    buckets as their bucket policies grant the role, and (`lake`) the lake zones, catalog and
    Athena workgroup when a consumers entry names the role."""
    access = ws.bucket_access(c.platform, c.env, suffix)
    found: list[Statement] = []
    if access:
        arns = [c.data.bucket_arns[k] for k in access]
        found.append({"Sid": "ProjectBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
                      "Resource": arns})
        found.append({"Sid": "ProjectObjectsRead", "Effect": "Allow", "Action": ["s3:GetObject"],
                      "Resource": [concat(a, "/*") for a in arns]})
        writable = [c.data.bucket_arns[k] for k, mode in access.items() if mode == "write"]
        if writable:
            found.append({"Sid": "ProjectObjectsWrite", "Effect": "Allow",
                          "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"],
                          "Resource": [concat(a, "/*") for a in writable]})
    if c.env == "prod" and "preprod" in c.platform.project(c.project).environments \
            and suffix in ws.promotion_readers(c.platform):
        found += _registry_artifact_reads(c)
    reads = _lake(c)
    if lake and reads is not None and suffix in _lake_readers(c):
        found += pp.lake_reads(pp.AccountArns(c.account, c.region), reads, athena=athena)
    return found


def _registry_artifact_reads(c: _Context) -> list[Statement]:
    """Prod's read of the registered versions' artifacts in the preprod models bucket, as its
    ProdPromotion grant allows (project_data): the prefix only; preprod's keys only through S3
    (the key ids are preprod's outputs, which prod does not read: of preprod's keys, only the
    project key's policy names prod's roles, and the bucket policy admits only the prefix)."""
    bucket = ds.project_bucket_name(c.platform, c.project, "preprod", "models")
    prefix = ss.artifact_prefix(c.platform, c.project)
    preprod = c.network.organization.require_output("accountIds").apply(lambda ids: ids[f"{c.project}-preprod"])
    return [
        {"Sid": "RegistryArtifactsList", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{bucket}"], "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}},
        {"Sid": "RegistryArtifactsRead", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"]},
        {"Sid": "RegistryArtifactsKeyThroughS3", "Effect": "Allow", "Action": ["kms:Decrypt"],
         "Resource": [c.arn("kms", "key/*", account=preprod)],
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{c.region}.amazonaws.com"}}},
    ]


def _lake_readers(c: _Context) -> set[str]:
    return {r for consumer, _ in ds.consumer_grants(c.platform, c.project, c.env) for r in consumer.roles}


def people_role_statements(c: _Context) -> dict[str, list[Statement]]:
    """Role name -> statements of the people's roles of this environment (`data_settings.
    PEOPLE_ROLES`, assumed by the data scientist / ML engineer persona's sessions): what the
    bucket and lake grants allow them, the project key only through S3, Athena on the project
    workgroup (the console queries the whitepaper's data scientists run); nothing else."""
    found: dict[str, list[Statement]] = {}
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{c.region}.amazonaws.com"}}
    for suffix in ws.data_persona_suffixes(c.platform, c.project, c.env):
        if ds.role_persona(suffix) is None:
            continue
        statements = _data_access(c, suffix, lake=True, athena=True)
        if ws.bucket_access(c.platform, c.env, suffix):
            writes = "write" in ws.bucket_access(c.platform, c.env, suffix).values()
            statements.append({"Sid": "ProjectKeyThroughS3", "Effect": "Allow", "Resource": [c.data.key_arn],
                               "Action": ["kms:Decrypt", "kms:DescribeKey", *(["kms:GenerateDataKey"] if writes else [])],
                               "Condition": via_s3})
        found[ds.project_role_name(c.platform, c.project, c.env, suffix)] = statements
    return found


def _vpc(c: _Context) -> list[Statement]:
    vpc_arn = c.arn("ec2", c.network.vpc_id.apply(lambda v: f"vpc/{v}"))
    return [
        # Describe calls take no resource.
        {"Sid": "VpcDescribe", "Effect": "Allow", "Resource": "*",
         "Action": ["ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets", "ec2:DescribeVpcs"]},
        {"Sid": "ProjectVpcEnis", "Effect": "Allow",
         "Action": ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
         "Resource": [c.arn("ec2", "network-interface/*"), c.arn("ec2", "subnet/*"), c.arn("ec2", "security-group/*")],
         "Condition": {"ArnEquals": {"ec2:Vpc": vpc_arn}}},
    ]


def _pass_roles(c: _Context, kinds: list[str]) -> Statement:
    return {"Sid": "PassJobRoles", "Effect": "Allow", "Action": ["iam:PassRole"],
            "Resource": [c.role_arns[k] for k in kinds],
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}}


_JOB_TYPES = {"training-job": "TrainingJob", "processing-job": "ProcessingJob",
              "hyper-parameter-tuning-job": "HyperParameterTuningJob"}


def _run_jobs(c: _Context) -> list[Statement]:
    """Create, watch and stop training, tuning and processing jobs of this account, only in the
    project's subnets and security group (the SCPs also require the volume key, SM-1/SM-3)."""
    resources = [c.arn("sagemaker", f"{t}/*") for t in _JOB_TYPES]
    creates = [f"sagemaker:Create{n}" for n in _JOB_TYPES.values()]
    return [
        {"Sid": "CreateJobsInProjectVpc", "Effect": "Allow", "Action": creates, "Resource": resources,
         "Condition": {
             "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
             "ForAllValues:StringEquals": {"sagemaker:VpcSubnets": c.network.subnet_ids,
                                           "sagemaker:VpcSecurityGroupIds": [c.network.workload_security_group_id]},
         }},
        {"Sid": "WatchJobs", "Effect": "Allow", "Resource": resources,
         "Action": [*(f"sagemaker:Describe{n}" for n in _JOB_TYPES.values()),
                    *(f"sagemaker:Stop{n}" for n in _JOB_TYPES.values()), "sagemaker:AddTags", "sagemaker:ListTags"]},
        # List calls take no resource.
        {"Sid": "ListJobs", "Effect": "Allow", "Resource": "*",
         "Action": ["sagemaker:ListHyperParameterTuningJobs", "sagemaker:ListProcessingJobs", "sagemaker:ListTrainingJobs"]},
    ]


def _run_workflow(c: _Context) -> list[Statement]:
    """What a training workflow's orchestrator (the Step Functions role, the SageMaker pipeline
    role) does: run the processing and training jobs in the project VPC, create the model from
    the trained artifact there (network-isolated), and pass only the roles those run as."""
    return [
        *_run_jobs(c),
        {"Sid": "CreateModelsInProjectVpc", "Effect": "Allow", "Action": ["sagemaker:CreateModel"],
         "Resource": [c.arn("sagemaker", "model/*")],
         "Condition": {
             "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
             "ForAllValues:StringEquals": {"sagemaker:VpcSubnets": c.network.subnet_ids,
                                           "sagemaker:VpcSecurityGroupIds": [c.network.workload_security_group_id]},
             "Bool": {"sagemaker:NetworkIsolation": "true"},
         }},
        # Tagging on create needs AddTags (the models carry the mandatory tags, TAG-1).
        {"Sid": "TagAndDescribeModels", "Effect": "Allow", "Action": ["sagemaker:AddTags", "sagemaker:DescribeModel"],
         "Resource": [c.arn("sagemaker", "model/*")]},
        _pass_roles(c, ["processing", "training", "hosting"]),
    ]


def _parameters(c: _Context) -> Statement:
    path = ws.parameter_path(c.platform, c.project, c.env)
    return {"Sid": "WorkspaceParameters", "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
            "Resource": [c.arn("ssm", f"parameter{path}"), c.arn("ssm", f"parameter{path}/*")]}


def _packages(c: _Context) -> list[Statement]:
    p = c.platform
    domain, repo = ss.codeartifact_domain(p), p.shared_services.codeartifact.repository
    return [
        {"Sid": "CodeArtifactToken", "Effect": "Allow", "Action": ["codeartifact:GetAuthorizationToken"],
         "Resource": [c.arn("codeartifact", f"domain/{domain}", c.shared)]},
        {"Sid": "CodeArtifactRead", "Effect": "Allow",
         "Action": ["codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository"],
         "Resource": [c.arn("codeartifact", f"repository/{domain}/{repo}", c.shared)]},
        {"Sid": "CodeArtifactBearerToken", "Effect": "Allow", "Action": ["sts:GetServiceBearerToken"], "Resource": "*",
         "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
    ]


def job_policies(c: _Context) -> dict[str, list[Statement]]:
    """Statements per job kind (see the module docstring)."""
    sagemaker_jobs = ["processing", "training", "hosting"]
    policies: dict[str, list[Statement]] = {
        "notebook": [*_s3(c, "notebook", lake=True), *_project_key(c, grants=True), *_ecr_pull(c),
                     *_logs(c, "/aws/sagemaker/"), _metrics(), *_vpc(c), *_run_jobs(c),
                     _pass_roles(c, sagemaker_jobs), _parameters(c), *_packages(c)],
        "processing": [*_s3(c, "processing", lake=True), *_project_key(c, grants=True), *_ecr_pull(c),
                       *_logs(c, "/aws/sagemaker/ProcessingJobs"), _metrics(), *_vpc(c), _parameters(c)],
        "training": [*_s3(c, "training", lake=True), *_project_key(c, grants=True), *_ecr_pull(c),
                     *_logs(c, "/aws/sagemaker/TrainingJobs"), _metrics(), *_vpc(c)],
        "hosting": [*_s3(c, "hosting", lake=False), *_project_key(c, grants=True), *_ecr_pull(c),
                    *_logs(c, "/aws/sagemaker/Endpoints"), _metrics(), *_vpc(c)],
        "pipelines": _run_workflow(c),
        "step_functions": [*_run_workflow(c),
                           {"Sid": "SageMakerJobEvents", "Effect": "Allow",
                            "Action": ["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                            "Resource": [c.arn("events", f"rule/StepFunctionsGetEventsForSageMaker{n}sRule")
                                         for n in _JOB_TYPES.values()]}],
        "glue": [*_s3(c, "glue", lake=True), *_project_key(c, grants=False), *_logs(c, "/aws-glue/"),
                 {"Sid": "ProjectCatalogRead", "Effect": "Allow",
                  "Action": ["glue:GetDatabase", "glue:GetPartitions", "glue:GetTable", "glue:GetTables"],
                  "Resource": [c.arn("glue", "catalog"), c.arn("glue", "database/*"), c.arn("glue", "table/*/*")]}],
    }
    monitor = dv.model_monitor(c.platform, c.project) if c.env == "prod" else None
    if monitor is not None:
        # The endpoint's Model Monitor jobs run as the processing role in AWS's analyzer image,
        # outside the organization (the ECR endpoints' policies admit pulls of AWS's images).
        account, region, repository = dv.analyzer_repository(monitor.image_uri)
        policies["processing"].append(
            {"Sid": "EcrPullModelMonitorAnalyzer", "Effect": "Allow",
             "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
             "Resource": [f"arn:aws:ecr:{region}:{account}:repository/{repository}"]})
    if c.env == "dev":
        # Whitepaper: quick experiments build images from the notebook into this account's
        # repositories tagged CreatedBy=SageMaker; the jobs pull them. Dev only.
        a = pp.AccountArns(c.account, c.region)
        policies["notebook"] += pp.sagemaker_repositories(a, push=True)
        for kind in ("processing", "training"):
            policies[kind] += pp.sagemaker_repositories(a, push=False)
    return policies


def _parameter_values(c: _Context) -> dict[str, pulumi.Input[str]]:
    n = c.network
    values: dict[str, pulumi.Input[str]] = {
        "vpc-id": n.vpc_id,
        "subnet-ids": pulumi.Output.all(*n.subnet_ids).apply(lambda ids: ",".join(ids)),
        "security-group-id": n.workload_security_group_id,
        "kms-key-arn": c.data.key_arn,
        "region": c.region,
        "shared-services-account-id": c.shared,
    }
    for kind, arn in c.role_arns.items():
        values[f"roles/{kind.replace('_', '-')}"] = arn
    for kind, name in c.data.bucket_names.items():
        if kind != "access-logs":
            values[f"buckets/{kind}"] = name
    return values


def project_workspace(ctx: StackContext, network: ProjectNetwork, data: ProjectData, roles: ServiceRoles) -> None:
    """Attach the job roles' permissions and write the SSM parameters."""
    c = _Context(ctx, network, data, roles)
    opts = pulumi.ResourceOptions(provider=network.provider)
    JobPermissions(f"{network.label}-job-permissions",
                   {kind: (c.role_arns[kind], statements) for kind, statements in job_policies(c).items()}, opts)
    people = people_role_statements(c)
    JobPermissions(f"{network.label}-people-permissions",
                   {name: (data.persona_arns[name], statements) for name, statements in people.items() if statements},
                   opts, policy_suffix="data")
    path = ws.parameter_path(ctx.platform, ctx.project, ctx.environment)
    names = {}
    for key, value in _parameter_values(c).items():
        name = f"{path}/{key}"
        aws.ssm.Parameter(f"{network.label}-parameter-{key.replace('/', '-')}", name=name, type="SecureString",
                          key_id=data.key_arn, value=value, description=f"ml-platform workspace: {key}",
                          tags=dict(network.tags), opts=opts)
        names[key] = name
    exports: dict[str, Any] = {
        "parameterPath": path,
        "parameters": names,
        "serviceRoleArns": {kind: c.role_arns[kind] for kind in ws.JOB_SERVICES},
    }
    domain_id = None
    if ws.has_studio(ctx.platform, ctx.environment):
        exports["studio"], domain_id = _studio(c, path, opts)
    access = PersonaAccess(f"{network.label}-people-access", ids.access_args(
        ctx.platform, f"{ctx.project}-{ctx.environment}", network.account_id, persona_statements(c, domain_id),
        dict(network.tags),
        lambda key: network.organization.require_output("accountIds").apply(lambda m: m[key])), opts)
    exports["personaPolicyArns"] = access.policy_arns
    exports["accountAssignments"] = access.assignments
    if access.role_arns:
        exports["samlRoleArns"] = access.role_arns
    pulumi.export("workspace", exports)


def lifecycle_script(c: _Context, path: str) -> str:
    """What JupyterLab and Code Editor run at start: the workspace parameters as environment
    variables, pip through the shared CodeArtifact repository, and the SageMaker Python SDK's
    default bucket set to the experimentation bucket (the S3 endpoint admits platform buckets
    only, so the SDK's own `sagemaker-<region>-<account>` default would fail)."""
    p = c.platform
    domain, repo = ss.codeartifact_domain(p), p.shared_services.codeartifact.repository
    work = ds.WORK_BUCKET_KIND[c.env]
    return _SCRIPT.format(path=path, domain=domain, repo=repo, region=c.region, work=work.upper())


# Parameter names become WORKSPACE_<NAME> variables (`roles/notebook` -> WORKSPACE_ROLES_NOTEBOOK).
_SCRIPT = r"""#!/bin/bash
set -euo pipefail
PARAMS={path}
ENV_FILE="$HOME/.workspace-env"
aws ssm get-parameters-by-path --path "$PARAMS" --recursive --with-decryption \
  --query 'Parameters[].[Name,Value]' --output text | while read -r name value; do
  key=$(echo "${{name#$PARAMS/}}" | tr 'a-z/-' 'A-Z__')
  printf 'export WORKSPACE_%s=%q\n' "$key" "$value"
done > "$ENV_FILE"
grep -qs workspace-env "$HOME/.bashrc" || echo ". $ENV_FILE" >> "$HOME/.bashrc"
. "$ENV_FILE"
aws codeartifact login --tool pip --domain {domain} --domain-owner "$WORKSPACE_SHARED_SERVICES_ACCOUNT_ID" \
  --repository {repo} --region {region}
mkdir -p "$HOME/.config/sagemaker"
cat > "$HOME/.config/sagemaker/config.yaml" <<CONFIG
SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      Session:
        DefaultS3Bucket: $WORKSPACE_BUCKETS_{work}
CONFIG
"""


def _studio(c: _Context, path: str, opts: pulumi.ResourceOptions) -> tuple[dict[str, Any], pulumi.Output[str]]:
    p, studio = c.platform, c.platform.workspace.studio
    name = ws.domain_name(p, c.project, c.env)
    work = ds.WORK_BUCKET_KIND[c.env]
    profiles = [StudioProfile(u.name, u.owner) for u in ws.user_profiles(p, c.project)]
    domain = StudioDomain(f"{c.network.label}-studio", StudioDomainArgs(
        domain_name=name,
        auth_mode=studio.auth_mode,
        vpc_id=c.network.vpc_id,
        subnet_ids=c.network.subnet_ids,
        security_group_id=c.network.workload_security_group_id,
        kms_key_arn=c.data.key_arn,
        execution_role_arn=c.role_arns["notebook"],
        lifecycle_script=lifecycle_script(c, path),
        default_instance_type=ws.instance_types(p)[0],
        idle_timeout_minutes=studio.idle_timeout_minutes,
        owner_tag=ws.OWNER_TAG,
        notebook_output=studio.notebook_output,
        sharing_s3_path=concat("s3://", c.data.bucket_names[work], "/studio-sharing/"),
        profiles=profiles,
        tags=c.network.tags,
    ), opts)
    found: dict[str, Any] = {}
    if f"{c.project}-{c.env}" in ss.launch_accounts(p):
        # The self-service product's launch constraint names this role (shared_services_settings).
        launch = LaunchRole(f"{c.network.label}-studio-launch", ss.launch_role_name(p), c.account,
                            launch_statements(c, domain.domain_id), c.network.tags, opts)
        found["launchRoleArn"] = launch.arn
    if c.catalog is not None:
        found["selfService"] = _self_service_principals(c, opts)
    return {**found, "domainId": domain.domain_id, "domainArn": domain.domain_arn, "authMode": studio.auth_mode,
            "userProfiles": domain.profile_arns, "lifecycleConfigArns": domain.lifecycle_config_arns,
            "presignedUrlSeconds": studio.presigned_url_seconds,
            "instanceTypes": ws.instance_types(p)}, domain.domain_id


def _self_service_principals(c: _Context, opts: pulumi.ResourceOptions) -> dict[str, Any]:
    """The data scientists' sessions associated with the shared portfolio in this account (an
    organization share is imported by its recipients without acceptance, so the association is
    all this account adds); what they may do with it is their persona policy's."""
    assert c.catalog is not None
    portfolio = c.catalog.apply(lambda catalog: catalog["portfolioId"])
    for i, pattern in enumerate(ss.self_service_principals(c.platform)):
        aws.servicecatalog.PrincipalPortfolioAssociation(
            f"{c.network.label}-self-service-principal-{i}", portfolio_id=portfolio, principal_arn=pattern,
            principal_type="IAM_PATTERN", opts=opts)
    return {"portfolioId": portfolio, "productArns": _product_arns(c),
            "principals": ss.self_service_principals(c.platform)}


def _product_arns(c: _Context) -> list[pulumi.Output[str]]:
    """The shared product's ARNs as the end user's calls may name it: the owner's (shared-services)
    and, the portfolio being imported here, this account's. Service Catalog has no resource
    policy a cross-account request could be checked against (the share and the principal
    association are the grant), so it authorizes in the caller's account; both ARNs name this
    one product (product ids are unique)."""
    assert c.catalog is not None
    resource = c.catalog.apply(lambda catalog: f"product/{catalog['productId']}")
    return [c.arn("catalog", resource, c.shared), c.arn("catalog", resource)]


# What CloudFormation does for the Studio user-profile product (templates/studio-user-profile.yaml)
# on the stacks Service Catalog names `SC-<account>-pp-<id>`.
_LAUNCH_STACK_ACTIONS = ("cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStackEvents",
                         "cloudformation:DescribeStacks", "cloudformation:GetTemplateSummary",
                         "cloudformation:SetStackPolicy", "cloudformation:UpdateStack")
# The AWS::SageMaker::UserProfile handlers' calls for the template's properties (its resource
# schema); no custom images in the template, so no DescribeImage calls.
_LAUNCH_PROFILE_ACTIONS = ("sagemaker:CreateUserProfile", "sagemaker:DeleteUserProfile",
                           "sagemaker:DescribeUserProfile", "sagemaker:UpdateUserProfile")
_LAUNCH_TAG_ACTIONS = ("sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags")
# In an SSO domain the template sets the Identity Center user fields, which the handlers look
# up in the Identity Center instance and its identity store.
_LAUNCH_SSO_ACTIONS = ("sso:DescribeInstance",)
_LAUNCH_IDENTITY_STORE_ACTIONS = ("identitystore:DescribeUser", "identitystore:ListUsers")
# Service Catalog hands CloudFormation a copy of the template in a bucket the service owns (its
# name is not published); the copies carry this object tag, which is the statement's scope.
PROVISIONING_TEMPLATE_TAG = "s3:ExistingObjectTag/servicecatalog:provisioning"


def launch_statements(c: _Context, domain_id: pulumi.Input[str]) -> list[Statement]:
    """The launch role's permissions: exactly what the Studio user-profile product's template
    does in this account (a CloudFormation stack `SC-*`, user profiles of this project's domain
    with their tags, the notebook execution role passed to SageMaker, the security-group
    parameter's lookup), nothing else."""
    domain = pulumi.Output.from_input(domain_id)
    profiles = c.arn("sagemaker", domain.apply(lambda d: f"user-profile/{d}/*"))
    return [
        {"Sid": "ServiceCatalogStacks", "Effect": "Allow", "Action": list(_LAUNCH_STACK_ACTIONS),
         "Resource": [c.arn("cloudformation", "stack/SC-*")]},
        # ValidateTemplate and DescribeSecurityGroups (the AWS::EC2::SecurityGroup::Id parameter's
        # check) take no resource.
        {"Sid": "TemplateAndParameterChecks", "Effect": "Allow", "Resource": "*",
         "Action": ["cloudformation:ValidateTemplate", "ec2:DescribeSecurityGroups"]},
        {"Sid": "ProvisioningTemplates", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*",
         "Condition": {"StringEquals": {PROVISIONING_TEMPLATE_TAG: "true"}}},
        {"Sid": "ProjectDomainUserProfiles", "Effect": "Allow", "Action": list(_LAUNCH_PROFILE_ACTIONS),
         "Resource": [profiles]},
        {"Sid": "ProjectDomainUserProfileTags", "Effect": "Allow", "Action": list(_LAUNCH_TAG_ACTIONS),
         "Resource": [profiles]},
        {"Sid": "PassNotebookRole", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [c.role_arns["notebook"]],
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        *(_launch_identity_center(c) if c.platform.workspace.studio.auth_mode == "SSO" else []),
    ]


def _launch_identity_center(c: _Context) -> list[Statement]:
    """The Identity Center lookups of an SSO domain's user profile (`identity.instance_arn` and
    `identity_store_id` when configured; the identity store's account is Identity Center's)."""
    ident = c.platform.identity
    store = ident.identity_store_id or "*"
    return [
        {"Sid": "IdentityCenterInstance", "Effect": "Allow", "Action": list(_LAUNCH_SSO_ACTIONS),
         "Resource": [ident.instance_arn or "arn:aws:sso:::instance/*"]},
        # ListInstances takes no resource.
        {"Sid": "ListIdentityCenterInstances", "Effect": "Allow", "Action": ["sso:ListInstances"], "Resource": "*"},
        {"Sid": "IdentityStoreUsers", "Effect": "Allow", "Action": list(_LAUNCH_IDENTITY_STORE_ACTIONS),
         "Resource": [f"arn:aws:identitystore::*:identitystore/{store}", "arn:aws:identitystore:::user/*"]},
    ]


def studio_user_statements(c: _Context, domain_id: pulumi.Input[str]) -> list[Statement]:
    """ABAC: the caller's user name (the `studio-owner` session tag Identity Center passes as an
    attribute for access control, or the SAML session's) must equal the profile's / space's tag."""
    owner = {"StringEquals": {f"aws:ResourceTag/{ws.OWNER_TAG}": f"${{aws:PrincipalTag/{ws.OWNER_TAG}}}"}}
    domain_arn = c.arn("sagemaker", pulumi.Output.from_input(domain_id).apply(lambda d: f"domain/{d}"))
    profiles = c.arn("sagemaker", pulumi.Output.from_input(domain_id).apply(lambda d: f"user-profile/{d}/*"))
    spaces = c.arn("sagemaker", pulumi.Output.from_input(domain_id).apply(lambda d: f"space/{d}/*"))
    apps = c.arn("sagemaker", pulumi.Output.from_input(domain_id).apply(lambda d: f"app/{d}/*"))
    return [
        {"Sid": "OpenOwnProfile", "Effect": "Allow", "Action": ["sagemaker:CreatePresignedDomainUrl"],
         "Resource": [profiles], "Condition": owner},
        {"Sid": "DescribeOwnProfileAndSpaces", "Effect": "Allow",
         "Action": ["sagemaker:DescribeSpace", "sagemaker:DescribeUserProfile"], "Resource": [profiles, spaces],
         "Condition": owner},
        {"Sid": "DescribeDomain", "Effect": "Allow", "Action": ["sagemaker:DescribeDomain"], "Resource": [domain_arn]},
        # SM-8 as an allow-list of the identity policy too.
        {"Sid": "CreateAppsOfAllowedTypes", "Effect": "Allow", "Action": ["sagemaker:CreateApp"], "Resource": [apps],
         "Condition": {"ForAllValues:StringEquals": {"sagemaker:InstanceTypes": ws.instance_types(c.platform)}}},
        {"Sid": "ManageApps", "Effect": "Allow", "Action": ["sagemaker:DeleteApp", "sagemaker:DescribeApp"],
         "Resource": [apps]},
        {"Sid": "ListStudio", "Effect": "Allow", "Resource": "*",
         "Action": ["sagemaker:ListApps", "sagemaker:ListDomains", "sagemaker:ListSpaces", "sagemaker:ListUserProfiles"]},
    ]


def viewer_statements(c: _Context) -> list[Statement]:
    """Read-only views of SageMaker jobs, their logs and metrics in this account."""
    jobs = [c.arn("sagemaker", f"{t}/*") for t in _JOB_TYPES]
    return [
        {"Sid": "ReadJobs", "Effect": "Allow", "Resource": jobs,
         "Action": [f"sagemaker:Describe{n}" for n in _JOB_TYPES.values()]},
        {"Sid": "ReadSageMakerLogGroups", "Effect": "Allow", "Action": ["logs:DescribeLogStreams", "logs:FilterLogEvents"],
         "Resource": [c.arn("logs", "log-group:/aws/sagemaker/*")]},
        {"Sid": "ReadSageMakerLogStreams", "Effect": "Allow", "Action": ["logs:GetLogEvents"],
         "Resource": [c.arn("logs", "log-group:/aws/sagemaker/*:log-stream:*")]},
        # Metric and list calls take no resource.
        {"Sid": "ListJobsAndMetrics", "Effect": "Allow", "Resource": "*",
         "Action": ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "sagemaker:ListHyperParameterTuningJobs",
                    "sagemaker:ListProcessingJobs", "sagemaker:ListTrainingJobs"]},
    ]


def persona_statements(c: _Context, domain_id: pulumi.Input[str] | None) -> dict[str, list[Statement]]:
    """Persona -> statements of its policy in this environment (see the module docstring);
    `identity_settings.account_personas` decides which personas have a policy here."""
    a = pp.AccountArns(c.account, c.region)
    viewer = viewer_statements(c)
    found: dict[str, list[Statement]] = {
        "mlops-engineer": [*viewer, *pp.serving_reads(a), *pp.mlops_operations(a), *pp.registry_reads(a)],
        "model-risk-manager": [*pp.registry_reads(a), *pp.model_governance_reads(a), *pp.serving_reads(a)],
    }
    # The people's roles of this account the grants name (the data lake's and the buckets'
    # policies cannot name an Identity Center role, whose name AWS makes up): the data
    # scientists' sessions assume them to read what those grants allow.
    data_roles = pp.assume_roles(a, [ds.project_role_name(c.platform, c.project, c.env, r)
                                     for r in ws.data_persona_suffixes(c.platform, c.project, c.env)
                                     if ds.role_persona(r) == "data-scientist"], "AssumeDataRoles")
    if c.env == "dev":
        scientist = [*viewer, *_run_jobs(c), _pass_roles(c, ["processing", "training"]), *data_roles]
        if domain_id is not None:
            scientist += studio_user_statements(c, domain_id)
        if c.catalog is not None:
            scientist += pp.self_service_products(_product_arns(c))
        if c.platform.workspace.notebook_instances:
            scientist += pp.notebook_instances_by_owner(a, ws.OWNER_TAG)
        found["data-scientist"] = _unique_sids(scientist)
    else:
        # Preprod: read-only views of training metrics and logs (whitepaper "Testing/UAT account"),
        # and the reviewer roles' reads of datasets and models.
        found["data-scientist"] = [*viewer, *data_roles]
    return {persona: _unique_sids(statements) for persona, statements in found.items()}


def _unique_sids(statements: list[Statement]) -> list[Statement]:
    """Statements of several builders in one document: the same statement once, and a Sid
    shared by two different statements numbered."""
    seen: dict[str, Statement] = {}
    found = []
    for statement in statements:
        sid = statement["Sid"]
        if sid in seen and seen[sid] == statement:
            continue
        n = 2
        while sid in seen:
            sid, n = f"{statement['Sid']}{n}", n + 1
        seen[sid] = statement
        found.append({**statement, "Sid": sid})
    return found
