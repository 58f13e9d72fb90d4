"""An ECR repository of the platform's image hierarchy (guardrails ECR-1, ECR-2; whitepaper
"Container repository management").

Every repository is encrypted with a customer-managed KMS key, scans on push, keeps the last
N tagged images and expires untagged ones, and has a repository policy that

* lets **pull** only principals of the named accounts that are also in the organization
  (account principals *and* `aws:PrincipalOrgID`: neither alone is enough, and never `*`);
* lets **push** only the named roles (account principal plus `aws:PrincipalArn`, so the policy
  can name roles a later stack creates: ECR, like KMS, refuses unknown role ARNs as principals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.kms_keys import RolePrincipals, account_root, merge_principals
from policy_documents.serialize import document, policy_json, to_json

PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
PUSH_ACTIONS = (*PULL_ACTIONS, "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage",
                "ecr:UploadLayerPart")


@dataclass(frozen=True)
class ImageRepositoryArgs:
    """`pull_accounts`: account ids whose principals may pull (within `organization_id`);
    `pushers`: the roles that may push. Tags are immutable (a deployed tag always names the
    same image) except those matching `mutable_tags` (wildcards), e.g. the stable tags
    (`latest`, `3.11`) base and framework images move to each new build."""

    name: str
    kms_key_arn: pulumi.Input[str]
    organization_id: pulumi.Input[str]
    pull_accounts: Sequence[pulumi.Input[str]]
    pushers: Sequence[RolePrincipals]
    keep_tagged_images: int
    untagged_expire_days: int
    tags: Mapping[str, str]
    mutable_tags: Sequence[str] = ()


def lifecycle_policy(keep_tagged: int, untagged_days: int) -> str:
    """Expire untagged images after `untagged_days`, keep the newest `keep_tagged` tagged ones."""
    return to_json({"rules": [
        {"rulePriority": 1, "description": f"expire untagged images after {untagged_days} days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": untagged_days},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"keep the last {keep_tagged} tagged images",
         "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan",
                       "countNumber": keep_tagged},
         "action": {"type": "expire"}},
    ]})


def repository_policy(pull_accounts: Sequence[pulumi.Input[str]], organization_id: pulumi.Input[str],
                      pushers: Sequence[RolePrincipals]) -> dict:
    """The repository policy as data (see the module docstring)."""
    statements = []
    if pull_accounts:
        roots = [account_root(a) for a in pull_accounts]
        statements.append({
            "Sid": "ECR2PullFromOrganizationAccounts", "Effect": "Allow",
            "Principal": {"AWS": roots if len(roots) > 1 else roots[0]},
            "Action": list(PULL_ACTIONS),
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
        })
    pushers = merge_principals(pushers)
    if pushers:
        roots = [account_root(p.account_id) for p in pushers]
        statements.append({
            "Sid": "PushByPipelineRoles", "Effect": "Allow",
            "Principal": {"AWS": roots if len(roots) > 1 else roots[0]},
            "Action": list(PUSH_ACTIONS),
            "Condition": {"ArnEquals": {"aws:PrincipalArn": [arn for p in pushers for arn in p.role_arns]},
                          "StringEquals": {"aws:PrincipalOrgID": organization_id}},
        })
    if not statements:
        raise ValueError("repository policy: name pull accounts or pushers")
    return document(*statements)


def pull_through_registry_policy(pull_accounts: Sequence[pulumi.Input[str]], organization_id: pulumi.Input[str],
                                 cache_repositories: Sequence[pulumi.Input[str]]) -> dict:
    """The registry policy that lets principals of `pull_accounts` (within the organization)
    fill the pull-through caches: create a cache repository on first pull, only under the cache
    prefixes (`cache_repositories`: repository ARN patterns), and import upstream images. The
    import is granted on `*` because the IAM data parliament checks with lists no resource type
    for it; ECR imports only into repositories of a pull-through cache rule, so `*` reaches no
    other repository. Pulling is then the creation template's repository policy."""
    roots = [account_root(a) for a in pull_accounts]
    principal = {"AWS": roots if len(roots) > 1 else roots[0]}
    condition = {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
    return document(
        {"Sid": "CreateCacheRepositories", "Effect": "Allow", "Principal": principal,
         "Action": "ecr:CreateRepository", "Resource": list(cache_repositories), "Condition": condition},
        {"Sid": "ImportUpstreamImages", "Effect": "Allow", "Principal": principal,
         "Action": "ecr:BatchImportUpstreamImage", "Resource": "*", "Condition": condition},
    )


class ImageRepository(pulumi.ComponentResource):
    """One repository with its lifecycle and repository policy. Protected: images are kept on
    `pulumi destroy` (no `force_delete`)."""

    arn: pulumi.Output[str]
    repository_url: pulumi.Output[str]

    def __init__(self, name: str, args: ImageRepositoryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:shared:ImageRepository", name, None, opts)
        repository = aws.ecr.Repository(
            name,
            name=args.name,
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(
                encryption_type="KMS", kms_key=args.kms_key_arn)],
            # With enhanced (registry) scanning configured, the registry's rules apply instead.
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            image_tag_mutability="IMMUTABLE_WITH_EXCLUSION" if args.mutable_tags else "IMMUTABLE",
            image_tag_mutability_exclusion_filters=[
                aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(filter=f, filter_type="WILDCARD")
                for f in args.mutable_tags] or None,
            force_delete=False,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        aws.ecr.LifecyclePolicy(f"{name}-lifecycle", repository=repository.name,
                                policy=lifecycle_policy(args.keep_tagged_images, args.untagged_expire_days),
                                opts=pulumi.ResourceOptions(parent=repository))
        aws.ecr.RepositoryPolicy(f"{name}-policy", repository=repository.name,
                                 policy=policy_json(repository_policy(args.pull_accounts, args.organization_id,
                                                                      args.pushers)),
                                 opts=pulumi.ResourceOptions(parent=repository))
        self.arn, self.repository_url = repository.arn, repository.repository_url
        self.register_outputs({"arn": self.arn, "repositoryUrl": self.repository_url})
