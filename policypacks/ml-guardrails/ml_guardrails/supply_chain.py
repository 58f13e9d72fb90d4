"""Supply chain: ECR repositories (ECR-1, ECR-2) and delivery pipelines (CI-1)."""

from __future__ import annotations

from collections.abc import Callable

from .common import (
    UNKNOWN,
    ResourceContext,
    as_list,
    known_str,
    matches_any,
    resource_policy,
    truthy,
)
from .identity import documents_of, is_allow, outside_principals, restricted_by, statements

DOMAIN = "supply_chain"

REPOSITORY = "aws:ecr/repository:Repository"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"
PIPELINE = "aws:codepipeline/pipeline:Pipeline"
BUILD_PROJECT = "aws:codebuild/project:Project"
IMMUTABLE = ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION")


def _repository_name(ctx: ResourceContext) -> str:
    return known_str(ctx.props.get("name")) or ctx.name


def _validate_repository(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    props = ctx.props
    problems = []
    scanning = props.get("imageScanningConfiguration")
    if not ctx.config.get("registryScanning") and scanning is not UNKNOWN:
        scan = scanning.get("scanOnPush") if isinstance(scanning, dict) else None
        if scan is not UNKNOWN and truthy(scan) is not True:
            problems.append("images are not scanned on push (imageScanningConfiguration.scanOnPush)")
    encryption = [e for e in as_list(props.get("encryptionConfigurations")) if isinstance(e, dict)]
    if props.get("encryptionConfigurations") is not UNKNOWN:
        kinds = [e.get("encryptionType") for e in encryption]
        if not encryption or not all(k in ("KMS", "KMS_DSSE", UNKNOWN) for k in kinds):
            problems.append(f"the repository is not KMS-encrypted (encryptionType {kinds[0] if kinds else 'AES256, the default'})")
        elif ctx.config.get("requireCustomerManagedKey", True) and any(e.get("kmsKey") is None or e.get("kmsKey") == ""
                                                                        for e in encryption):
            problems.append("the repository uses the AWS-managed ECR key instead of a customer-managed key (kmsKey)")
    if problems:
        report(f"repository {_repository_name(ctx)}: " + "; ".join(problems))


def _validate_tag_immutability(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    if matches_any(_repository_name(ctx), ctx.config.get("mutableRepositoryPatterns") or []):
        return
    value = ctx.props.get("imageTagMutability")
    if value is not UNKNOWN and value not in IMMUTABLE:
        report(f"repository {_repository_name(ctx)} has mutable image tags ({value or 'MUTABLE, the default'})")


def _validate_repository_policy(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    org_keys = ctx.config.get("organizationConditionKeys") or []
    for document in documents_of(ctx.type, ctx.props):
        if document.doc is None:
            continue
        trusted = ctx.own_accounts | set(document.template_accounts)
        for index, statement in enumerate(statements(document.doc)):
            if not is_allow(statement):
                continue
            sid = statement.get("Sid") or f"#{index}"
            for principal, whole in outside_principals(statement, trusted):
                if whole and not restricted_by(statement, org_keys):
                    report(f"{document.label}: statement {sid} lets {principal} pull without "
                           f"{' / '.join(org_keys)}; name the consumer roles or condition on the organization")


def _validate_pipeline(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    stores = ctx.props.get("artifactStores")
    if stores is UNKNOWN:
        return
    stores = [s for s in as_list(stores) if isinstance(s, dict)]
    if not stores:
        report(f"pipeline {ctx.name} has no artifact store")
    for store in stores:
        key = store.get("encryptionKey")
        where = store.get("region") if isinstance(store.get("region"), str) else "the pipeline's region"
        if key is UNKNOWN:
            continue
        if not isinstance(key, dict) or not key.get("id"):
            report(f"pipeline {ctx.name}: the artifact store in {where} has no KMS encryption key "
                   "(the AWS-managed key cannot be shared with target accounts)")
        elif key.get("type") not in ("KMS", UNKNOWN):
            report(f"pipeline {ctx.name}: artifact store key type is {key.get('type')}, not KMS")


def _validate_build_project(ctx: ResourceContext, report: Callable[[str], None]) -> None:
    props = ctx.props
    name = known_str(props.get("name")) or ctx.name
    if props.get("encryptionKey") is not UNKNOWN and not props.get("encryptionKey"):
        report(f"build project {name} has no encryptionKey (its artifacts use the AWS-managed S3 key)")
    environment = props.get("environment")
    privileged = truthy(environment.get("privilegedMode")) if isinstance(environment, dict) else None
    if privileged:
        builder_tags = ctx.config.get("imageBuilderTags") or {}
        tagged = any(ctx.tags.get(k) == v for k, v in builder_tags.items())
        if not tagged and not matches_any(name, ctx.config.get("imageBuilderPatterns") or []):
            report(f"build project {name} runs privileged but is not an image build (tag it "
                   f"{builder_tags or '<imageBuilderTags>'} or name it per imageBuilderPatterns)")


POLICIES = [
    resource_policy(
        name="ecr-1-repository-scan-kms", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="ECR-1: ECR repositories scan images on push and are encrypted with a customer-managed "
                    "KMS key.",
        remediation="Set image_scanning_configuration={scan_on_push: True} (or enable enhanced registry "
                    "scanning and set registryScanning) and encryption_configurations=[{encryption_type: 'KMS', "
                    "kms_key: <key ARN>}] (encryption cannot change after creation: replace the repository).",
        types=(REPOSITORY,), validate=_validate_repository,
        config={
            "registryScanning": {"type": "boolean", "default": False,
                                 "description": "Registry-level scanning (aws.ecr.RegistryScanningConfiguration) "
                                                "replaces the repository's scanOnPush."},
            "requireCustomerManagedKey": {"type": "boolean", "default": True,
                                          "description": "Require kmsKey (not the aws/ecr key)."},
        },
    ),
    resource_policy(
        name="ecr-1-immutable-image-tags", domain=DOMAIN, severity="low", enforcement="advisory",
        description="ECR-1: application image repositories have immutable tags (hygiene: a deployed tag "
                    "always names the same image).",
        remediation="Set image_tag_mutability='IMMUTABLE' (or IMMUTABLE_WITH_EXCLUSION for e.g. 'latest'); "
                    "list base-image or cache repositories in mutableRepositoryPatterns.",
        types=(REPOSITORY,), validate=_validate_tag_immutability,
        config={
            "mutableRepositoryPatterns": {"type": "array", "items": {"type": "string"}, "default": [],
                                          "description": "Repository names (glob) that may keep mutable tags."},
        },
    ),
    resource_policy(
        name="ecr-2-cross-account-pull-org-only", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="ECR-2: repository and registry policies let other accounts pull only when they name "
                    "principals (role ARNs) or condition on the organization (aws:PrincipalOrgID); never '*' "
                    "or a whole account alone.",
        remediation="Replace the '*' or account-root principal with the consumer role ARNs, or add "
                    "Condition: {StringEquals: {'aws:PrincipalOrgID': <organization id>}}.",
        types=(REPOSITORY_POLICY, REGISTRY_POLICY), validate=_validate_repository_policy,
        config={
            "organizationConditionKeys": {"type": "array", "items": {"type": "string"},
                                          "default": ["aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalArn"],
                                          "description": "Condition keys that restrict pulls to the organization."},
        },
    ),
    resource_policy(
        name="ci-1-pipeline-artifacts-kms", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="CI-1: every CodePipeline artifact store has a customer-managed KMS key (shared with the "
                    "target accounts of the cross-account deployment).",
        remediation="Set artifact_stores=[{type: 'S3', location: <artifact bucket>, encryption_key: {id: <key "
                    "ARN>, type: 'KMS'}}] for every region the pipeline deploys to.",
        types=(PIPELINE,), validate=_validate_pipeline,
    ),
    resource_policy(
        name="ci-1-codebuild-encrypted-unprivileged", domain=DOMAIN, severity="high", enforcement="mandatory",
        description="CI-1: CodeBuild projects set an encryption key and run privileged (Docker-in-Docker) "
                    "only when they build container images.",
        remediation="Set encryption_key=<key ARN>; set environment.privileged_mode only on image builds and "
                    "tag those projects as configured in imageBuilderTags.",
        types=(BUILD_PROJECT,), validate=_validate_build_project,
        config={
            "imageBuilderTags": {"type": "object", "additionalProperties": {"type": "string"},
                                 "default": {"builds-images": "true"},
                                 "description": "Tags (key -> value) marking a project that builds images."},
            "imageBuilderPatterns": {"type": "array", "items": {"type": "string"}, "default": [],
                                     "description": "Project names (glob) that build images."},
        },
    ),
]
