"""The personas' permissions as policy data (whitepaper "Personas for an ML platform", "User
roles"), one builder per persona and account kind. Each returns statements with explicit
ARNs (Outputs allowed), for :class:`components.permission_sets.PersonaAccess`:

- never a wildcard action on iam, kms, s3 or sagemaker, and `Resource: *` only for actions
  the service authorization data gives no resource type (List*, LookupEvents, ...);
- people read and operate; what changes the platform (pipelines, registries, keys) stays with
  the delivery layer's roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from policy_documents.serialize import concat

Statement = dict[str, Any]


@dataclass(frozen=True)
class AccountArns:
    """ARNs in one account and region."""

    account_id: pulumi.Input[str]
    region: str

    def arn(self, service: str, resource: str, region: str | None = None) -> pulumi.Output[str]:
        return concat(f"arn:aws:{service}:", self.region if region is None else region, ":",
                                    self.account_id, ":", resource)

    def role(self, name: str) -> pulumi.Output[str]:
        return concat("arn:aws:iam::", self.account_id, ":role/", name)


def assume_roles(a: AccountArns, role_names: Sequence[str], sid: str) -> list[Statement]:
    """Assume the account's named roles (those resource policies admit by ARN)."""
    if not role_names:
        return []
    return [{"Sid": sid, "Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": [a.role(n) for n in role_names]}]


def serving_reads(a: AccountArns) -> list[Statement]:
    """What is deployed and how it runs: endpoints, models, pipelines and their executions."""
    return [
        {"Sid": "ReadServingAndPipelines", "Effect": "Allow",
         "Action": ["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel",
                    "sagemaker:DescribePipeline", "sagemaker:DescribePipelineExecution",
                    "sagemaker:ListPipelineExecutionSteps", "sagemaker:ListPipelineExecutions"],
         "Resource": [a.arn("sagemaker", "endpoint/*"), a.arn("sagemaker", "endpoint-config/*"),
                      a.arn("sagemaker", "model/*"), a.arn("sagemaker", "pipeline/*")]},
        {"Sid": "ReadAlarms", "Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"],
         "Resource": [a.arn("cloudwatch", "alarm:*")]},
        # List calls take no resource.
        {"Sid": "ListServingAndPipelines", "Effect": "Allow", "Resource": "*",
         "Action": ["sagemaker:ListEndpointConfigs", "sagemaker:ListEndpoints", "sagemaker:ListModels",
                    "sagemaker:ListPipelines"]},
    ]


def mlops_operations(a: AccountArns) -> list[Statement]:
    """Operate what the delivery layer deployed: stop or retry a pipeline execution, scale an
    endpoint. Never create, update or delete a pipeline, model or endpoint configuration."""
    return [
        {"Sid": "OperatePipelineExecutions", "Effect": "Allow",
         "Action": ["sagemaker:RetryPipelineExecution", "sagemaker:StopPipelineExecution"],
         "Resource": [a.arn("sagemaker", "pipeline/*")]},
        {"Sid": "ScaleEndpoints", "Effect": "Allow", "Action": ["sagemaker:UpdateEndpointWeightsAndCapacities"],
         "Resource": [a.arn("sagemaker", "endpoint/*")]},
    ]


def registry_reads(a: AccountArns) -> list[Statement]:
    """The model registry of this account: model package groups and versions."""
    return [
        {"Sid": "ReadModelRegistry", "Effect": "Allow",
         "Action": ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:ListModelPackages"],
         "Resource": [a.arn("sagemaker", "model-package/*"), a.arn("sagemaker", "model-package-group/*")]},
        {"Sid": "ListModelPackageGroups", "Effect": "Allow", "Action": ["sagemaker:ListModelPackageGroups"],
         "Resource": "*"},
    ]


def model_governance_reads(a: AccountArns) -> list[Statement]:
    """Model cards and lineage (artifacts, contexts, actions, associations) of this account."""
    return [
        {"Sid": "ReadModelCards", "Effect": "Allow",
         "Action": ["sagemaker:DescribeModelCard", "sagemaker:ListModelCardVersions"],
         "Resource": [a.arn("sagemaker", "model-card/*")]},
        {"Sid": "ReadLineageEntities", "Effect": "Allow",
         "Action": ["sagemaker:DescribeAction", "sagemaker:DescribeArtifact", "sagemaker:DescribeContext"],
         "Resource": [a.arn("sagemaker", "action/*"), a.arn("sagemaker", "artifact/*"),
                      a.arn("sagemaker", "context/*")]},
        {"Sid": "QueryLineage", "Effect": "Allow", "Resource": "*",
         "Action": ["sagemaker:ListActions", "sagemaker:ListArtifacts", "sagemaker:ListAssociations",
                    "sagemaker:ListContexts", "sagemaker:ListModelCards", "sagemaker:QueryLineage"]},
    ]


def notebook_instances_by_owner(a: AccountArns, owner_tag: str) -> list[Statement]:
    """The whitepaper's notebook-instance pattern: start, stop and open only the instances
    tagged with the caller's own user name."""
    return [
        {"Sid": "OwnNotebookInstances", "Effect": "Allow",
         "Action": ["sagemaker:CreatePresignedNotebookInstanceUrl", "sagemaker:DescribeNotebookInstance",
                    "sagemaker:StartNotebookInstance", "sagemaker:StopNotebookInstance"],
         "Resource": [a.arn("sagemaker", "notebook-instance/*")],
         "Condition": {"StringEquals": {f"sagemaker:ResourceTag/{owner_tag}": f"${{aws:PrincipalTag/{owner_tag}}}"}}},
        {"Sid": "ListNotebookInstances", "Effect": "Allow", "Action": ["sagemaker:ListNotebookInstances"],
         "Resource": "*"},
    ]


def sagemaker_repositories(a: AccountArns, push: bool) -> list[Statement]:
    """The whitepaper's development pattern (notebook execution role): pull from, and with
    `push` create and push to, only this account's repositories tagged `CreatedBy=SageMaker`."""
    tagged = {"StringEquals": {"aws:ResourceTag/CreatedBy": "SageMaker"}}
    pull = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    if not push:
        return [{"Sid": "PullSageMakerRepositories", "Effect": "Allow", "Action": pull,
                 "Resource": [a.arn("ecr", "repository/*")], "Condition": tagged}]
    return [
        {"Sid": "PushToSageMakerRepositories", "Effect": "Allow",
         "Action": sorted([*pull, "ecr:CompleteLayerUpload", "ecr:DescribeImages", "ecr:DescribeRepositories",
                           "ecr:InitiateLayerUpload", "ecr:ListImages", "ecr:PutImage", "ecr:UploadLayerPart"]),
         "Resource": [a.arn("ecr", "repository/*")], "Condition": tagged},
        {"Sid": "CreateSageMakerRepositories", "Effect": "Allow", "Action": ["ecr:CreateRepository", "ecr:TagResource"],
         "Resource": [a.arn("ecr", "repository/*")],
         "Condition": {"StringEquals": {"aws:RequestTag/CreatedBy": "SageMaker"}}},
    ]


def self_service_products(product_arns: Sequence[pulumi.Input[str]]) -> list[Statement]:
    """End users of a Service Catalog portfolio (AWS's end-user pattern): launch the named
    products (the launch constraint's role does the work), and describe, update and terminate
    only the provisioned products they launched themselves (`servicecatalog:userLevel: self`)."""
    return [
        {"Sid": "LaunchSelfServiceProducts", "Effect": "Allow",
         "Action": ["servicecatalog:DescribeProduct", "servicecatalog:DescribeProvisioningParameters",
                    "servicecatalog:ListLaunchPaths", "servicecatalog:ProvisionProduct"],
         "Resource": list(product_arns)},
        # Finding the product takes no resource; the portfolio's principal association decides
        # what a search returns.
        {"Sid": "FindSelfServiceProducts", "Effect": "Allow", "Resource": "*",
         "Action": ["servicecatalog:DescribeProductView", "servicecatalog:SearchProducts"]},
        # Provisioned products and records have no resource type; the access level is the scope.
        {"Sid": "OwnProvisionedProducts", "Effect": "Allow", "Resource": "*",
         "Action": ["servicecatalog:DescribeProvisionedProduct", "servicecatalog:DescribeRecord",
                    "servicecatalog:ListRecordHistory", "servicecatalog:SearchProvisionedProducts",
                    "servicecatalog:TerminateProvisionedProduct", "servicecatalog:UpdateProvisionedProduct"],
         "Condition": {"StringEquals": {"servicecatalog:userLevel": "self"}}},
    ]


def data_engineering(a: AccountArns, bucket_arns: Sequence[str], key_arns: Sequence[pulumi.Input[str]],
                     databases: Sequence[pulumi.Input[str]], workgroup: str, results_bucket_arn: str,
                     results_key_arn: pulumi.Input[str]) -> list[Statement]:
    """Data engineers in the data-lake account: ingest and curate the domains' zones (objects,
    catalog tables), query through their Athena workgroup. Keys: the named data actions only."""
    found: list[Statement] = []
    if bucket_arns:
        found += [
            {"Sid": "DomainBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
             "Resource": list(bucket_arns)},
            {"Sid": "DomainObjects", "Effect": "Allow",
             "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion",
                        "s3:PutObject"],
             "Resource": [f"{b}/*" for b in bucket_arns]},
            {"Sid": "DomainKeys", "Effect": "Allow",
             "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
             "Resource": list(key_arns)},
        ]
    if databases:
        found.append({"Sid": "DomainCatalog", "Effect": "Allow",
                      "Action": ["glue:BatchCreatePartition", "glue:CreateTable", "glue:GetDatabase", "glue:GetPartitions",
                                 "glue:GetTable", "glue:GetTables", "glue:UpdateTable"],
                      "Resource": [a.arn("glue", "catalog"),
                                   *(a.arn("glue", concat("database/", d)) for d in databases),
                                   *(a.arn("glue", concat("table/", d, "/*")) for d in databases)]})
    found += [
        # Lake Formation vends its credentials without a resource; its grants decide.
        {"Sid": "LakeFormationCredentials", "Effect": "Allow", "Action": ["lakeformation:GetDataAccess"], "Resource": "*"},
        {"Sid": "QueryThroughWorkgroup", "Effect": "Allow",
         "Action": ["athena:GetQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup",
                    "athena:StartQueryExecution", "athena:StopQueryExecution"],
         "Resource": [a.arn("athena", f"workgroup/{workgroup}")]},
        {"Sid": "QueryResults", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
         "Resource": [results_bucket_arn]},
        {"Sid": "QueryResultObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": [f"{results_bucket_arn}/*"]},
        {"Sid": "QueryResultsKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": [results_key_arn]},
    ]
    return found


def audit_reads(a: AccountArns, management_account_id: str, trail_name: str,
                auditor_role_names: Sequence[str]) -> list[Statement]:
    """IT auditors in security tooling: the organization trail's status and events, the Config
    aggregator and the organization rules' compliance; the log archive through the auditor
    roles, which hold what the archive's bucket and key policies grant (no copy here)."""
    trail = f"arn:aws:cloudtrail:{a.region}:{management_account_id}:trail/{trail_name}"
    return [
        *assume_roles(a, auditor_role_names, "LogArchiveThroughAuditorRoles"),
        {"Sid": "ReadOrganizationTrail", "Effect": "Allow",
         "Action": ["cloudtrail:GetEventSelectors", "cloudtrail:GetTrailStatus"], "Resource": [trail]},
        {"Sid": "ReadConfigAggregator", "Effect": "Allow",
         "Action": ["config:DescribeAggregateComplianceByConfigRules", "config:GetAggregateComplianceDetailsByConfigRule",
                    "config:GetAggregateConfigRuleComplianceSummary", "config:GetAggregateResourceConfig",
                    "config:ListAggregateDiscoveredResources", "config:SelectAggregateResourceConfig"],
         "Resource": [a.arn("config", "config-aggregator/*")]},
        {"Sid": "ReadConfigRules", "Effect": "Allow", "Action": ["config:GetComplianceDetailsByConfigRule"],
         "Resource": [a.arn("config", "config-rule/*")]},
        # These take no resource.
        {"Sid": "ListTrailsEventsAndRules", "Effect": "Allow", "Resource": "*",
         "Action": ["cloudtrail:DescribeTrails", "cloudtrail:LookupEvents", "config:DescribeComplianceByConfigRule",
                    "config:DescribeConfigRules", "config:DescribeConfigurationAggregators"]},
    ]


@dataclass(frozen=True)
class LakeReads:
    """What one project environment may read in the data lake (its consumers entries): per
    domain the key and the zone buckets with the prefix (`""` or `redacted/`), the catalog
    databases its resource links point to, and its Athena workgroup."""

    lake: AccountArns  # the data-lake account (the shared catalog)
    readable: pulumi.Input[dict]  # domain -> {keyArn, prefix, bucketArns}
    databases: Sequence[str]  # the shared databases; the resource links here have the same names
    workgroup: pulumi.Input[str] | None = None


def lake_reads(a: AccountArns, reads: LakeReads, athena: bool) -> list[Statement]:
    """Read exactly what the lake's grants allow this environment's readers, from their own
    account: S3 list and get on the granted zones' prefixes, decrypt with the domain keys only
    through S3, Lake Formation's credential vending, the catalog's databases and tables (the
    resource links here and their targets in the lake's catalog) and, with `athena`, queries in
    the project's workgroup (its results go to the work bucket the bucket grants cover). No write."""
    readable = pulumi.Output.from_input(reads.readable)
    region = reads.lake.region
    found: list[Statement] = [
        {"Sid": "LakeZonesList", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
         "Resource": readable.apply(lambda d: sorted(x for v in d.values() for x in v["bucketArns"]))},
        {"Sid": "LakeZonesRead", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": readable.apply(lambda d: sorted(f"{x}/{v['prefix']}*" for v in d.values() for x in v["bucketArns"]))},
        {"Sid": "LakeKeysThroughS3", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"],
         "Resource": readable.apply(lambda d: sorted({v["keyArn"] for v in d.values()})),
         "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
        # Lake Formation vends its credentials without a resource; its grants decide.
        {"Sid": "LakeFormationCredentials", "Effect": "Allow", "Action": ["lakeformation:GetDataAccess"], "Resource": "*"},
    ]
    if reads.databases:
        found.append({"Sid": "LakeCatalogRead", "Effect": "Allow",
                      "Action": ["glue:GetDatabase", "glue:GetDatabases", "glue:GetPartition", "glue:GetPartitions",
                                 "glue:GetTable", "glue:GetTables"],
                      "Resource": [r for catalog in (a, reads.lake) for r in (
                          catalog.arn("glue", "catalog"),
                          *(catalog.arn("glue", f"database/{d}") for d in reads.databases),
                          *(catalog.arn("glue", f"table/{d}/*") for d in reads.databases))]})
    if athena and reads.workgroup is not None:
        found.append({"Sid": "LakeQueriesInProjectWorkgroup", "Effect": "Allow",
                      "Action": ["athena:GetQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup",
                                 "athena:StartQueryExecution", "athena:StopQueryExecution"],
                      "Resource": [a.arn("athena", concat("workgroup/", reads.workgroup))]})
    return found
