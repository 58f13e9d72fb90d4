"""Private Python packages in AWS CodeArtifact (whitepaper "Artifacts repository").

A KMS-encrypted domain, an upstream repository holding the external connection to public PyPI
and an internal repository for the organization's own packages that uses it as its upstream,
so `pip install` through the internal repository sees both and every public package is cached
in the domain. Policies: principals of the named reader accounts within the organization may
read (domain: authorization token; internal repository: read); only the named publisher roles
may publish. The upstream repository has no resource policy: it is read through the internal one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.kms_keys import RolePrincipals, account_root, merge_principals
from policy_documents.serialize import concat, document, policy_json

DOMAIN_READ = ("codeartifact:DescribeDomain", "codeartifact:GetAuthorizationToken",
               "codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository")
REPOSITORY_READ = ("codeartifact:DescribePackageVersion", "codeartifact:DescribeRepository",
                   "codeartifact:GetPackageVersionReadme", "codeartifact:GetRepositoryEndpoint",
                   "codeartifact:ListPackageVersionAssets", "codeartifact:ListPackageVersionDependencies",
                   "codeartifact:ListPackageVersions", "codeartifact:ListPackages", "codeartifact:ReadFromRepository")
PUBLISH = ("codeartifact:PublishPackageVersion", "codeartifact:PutPackageMetadata")
PYPI = "public:pypi"


@dataclass(frozen=True)
class PackageRepositoriesArgs:
    domain: str
    repository: str
    upstream_repository: str
    kms_key_arn: pulumi.Input[str]
    owner_account_id: pulumi.Input[str]
    region: str
    organization_id: pulumi.Input[str]
    reader_accounts: Sequence[pulumi.Input[str]]
    publishers: Sequence[RolePrincipals]
    tags: Mapping[str, str]


def _principal(roots: list[pulumi.Output[str]]) -> dict:
    return {"AWS": roots if len(roots) > 1 else roots[0]}


def domain_policy(args: PackageRepositoriesArgs) -> dict:
    """Reader accounts' principals in the organization, and the publishers, may get tokens."""
    accounts = [*args.reader_accounts, *(p.account_id for p in merge_principals(args.publishers))]
    roots = list({id(a): account_root(a) for a in accounts}.values())
    return document({
        "Sid": "OrganizationAccountsRead", "Effect": "Allow", "Principal": _principal(roots),
        "Action": list(DOMAIN_READ), "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": args.organization_id}},
    })


def repository_policy(args: PackageRepositoriesArgs) -> dict:
    """Reader accounts read; only the publisher roles publish."""
    statements = [{
        "Sid": "OrganizationAccountsRead", "Effect": "Allow",
        "Principal": _principal([account_root(a) for a in args.reader_accounts]),
        "Action": list(REPOSITORY_READ), "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": args.organization_id}},
    }]
    publishers = merge_principals(args.publishers)
    if publishers:
        statements.append({
            "Sid": "PublishByPipelineRoles", "Effect": "Allow",
            "Principal": _principal([account_root(p.account_id) for p in publishers]),
            "Action": [*PUBLISH, *REPOSITORY_READ], "Resource": "*",
            "Condition": {"ArnEquals": {"aws:PrincipalArn": [a for p in publishers for a in p.role_arns]},
                          "StringEquals": {"aws:PrincipalOrgID": args.organization_id}},
        })
    return document(*statements)


class PackageRepositories(pulumi.ComponentResource):
    """The domain (protected, kept on destroy), its two repositories and their policies.

    `pip_index_url` is the pip index of the internal repository
    (`https://<domain>-<owner>.d.codeartifact.<region>.amazonaws.com/pypi/<repository>/simple/`).
    """

    domain_arn: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    pip_index_url: pulumi.Output[str]

    def __init__(self, name: str, args: PackageRepositoriesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:shared:PackageRepositories", name, None, opts)
        if not args.reader_accounts:
            raise ValueError(f"{name}: name the reader accounts")
        domain = aws.codeartifact.Domain(
            name, domain=args.domain, encryption_key=args.kms_key_arn, tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True))
        aws.codeartifact.DomainPermissions(
            f"{name}-domain-policy", domain=domain.domain, domain_owner=args.owner_account_id,
            policy_document=policy_json(domain_policy(args)), opts=pulumi.ResourceOptions(parent=domain))
        upstream = aws.codeartifact.Repository(
            f"{name}-{args.upstream_repository}", repository=args.upstream_repository, domain=domain.domain,
            domain_owner=args.owner_account_id, description="Cache of public PyPI (read through the internal repository)",
            external_connections=aws.codeartifact.RepositoryExternalConnectionsArgs(external_connection_name=PYPI),
            tags=dict(args.tags), opts=pulumi.ResourceOptions(parent=domain, protect=True, retain_on_delete=True))
        internal = aws.codeartifact.Repository(
            f"{name}-{args.repository}", repository=args.repository, domain=domain.domain,
            domain_owner=args.owner_account_id, description="The organization's private Python packages, with PyPI upstream",
            upstreams=[aws.codeartifact.RepositoryUpstreamArgs(repository_name=upstream.repository)],
            tags=dict(args.tags), opts=pulumi.ResourceOptions(parent=domain, protect=True, retain_on_delete=True))
        aws.codeartifact.RepositoryPermissionsPolicy(
            f"{name}-{args.repository}-policy", repository=internal.repository, domain=domain.domain,
            domain_owner=args.owner_account_id, policy_document=policy_json(repository_policy(args)),
            opts=pulumi.ResourceOptions(parent=internal))
        self.domain_arn, self.repository_arn = domain.arn, internal.arn
        self.pip_index_url = concat(
            "https://", args.domain, "-", args.owner_account_id, ".d.codeartifact.", args.region,
            ".amazonaws.com/pypi/", args.repository, "/simple/")
        self.register_outputs({"domainArn": self.domain_arn, "repositoryArn": self.repository_arn,
                               "pipIndexUrl": self.pip_index_url})
