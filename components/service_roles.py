"""IAM roles for the jobs of an ML project (whitepaper "Service roles"): one role per job kind,
each trusted by the one service that runs that kind of job, on behalf of its own account only.

The roles come first (bucket and key policies name them, and S3 refuses a policy naming a role
that does not exist); their permissions, which name the buckets and keys, are attached after
with :class:`JobPermissions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import document, policy_json


SERVICE_CATALOG = "servicecatalog.amazonaws.com"


@dataclass(frozen=True)
class ServiceRole:
    """One job role: its kind, IAM name and the service principal that assumes it."""

    kind: str
    role_name: str
    service: str


def service_trust(account_id: pulumi.Input[str], service: str, sid: str = "JobServiceOfThisAccount") -> dict:
    """Trust of a role a service assumes: `service` acting for `account_id` only (confused deputy)."""
    return document({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    })


class ServiceRoles(pulumi.ComponentResource):
    """The job roles of one project environment, without permissions. Outputs `arns` by kind."""

    arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, account_id: pulumi.Input[str], roles: Sequence[ServiceRole],
                 tags: Mapping[str, str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:identity:ServiceRoles", name, None, opts)
        self.arns = {}
        for spec in roles:
            role = aws.iam.Role(
                f"{name}-{spec.kind}",
                name=spec.role_name,
                description=f"ml-platform {spec.kind.replace('_', ' ')} job role",
                assume_role_policy=policy_json(service_trust(account_id, spec.service)),
                max_session_duration=3600,
                tags={**tags, "job-kind": spec.kind},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.arns[spec.kind] = role.arn
        self.register_outputs({"arns": self.arns})


class LaunchRole(pulumi.ComponentResource):
    """The role Service Catalog assumes in this account to launch a product (a launch
    constraint's `LocalRoleName`): trusted by `servicecatalog.amazonaws.com` acting for this
    account only, with `statements` as its one inline policy (none: the role only exists, e.g.
    in the portfolio's own account, where AWS checks the constraint's role name).

    Outputs `arn`."""

    def __init__(self, name: str, role_name: str, account_id: pulumi.Input[str], statements: Sequence[dict],
                 tags: Mapping[str, str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:identity:LaunchRole", name, None, opts)
        role = aws.iam.Role(
            f"{name}-role",
            name=role_name,
            description="ml-platform Service Catalog launch role (launch constraint)",
            assume_role_policy=policy_json(service_trust(account_id, SERVICE_CATALOG, sid="ServiceCatalogOfThisAccount")),
            max_session_duration=3600,
            tags={**tags, "purpose": "service-catalog-launch"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        if statements:
            aws.iam.RolePolicy(f"{name}-policy", name="launch-products", role=role.name,
                               policy=policy_json(document(*statements)), opts=pulumi.ResourceOptions(parent=self))
        self.arn = role.arn
        self.register_outputs({"arn": self.arn})


class JobPermissions(pulumi.ComponentResource):
    """One inline policy per role (`key -> (role ARN, statements)`, as data with Outputs
    inside), named `<key>-<policy_suffix>`."""

    def __init__(self, name: str, policies: Mapping[str, tuple[pulumi.Input[str], Sequence[dict]]],
                 opts: pulumi.ResourceOptions | None = None, policy_suffix: str = "job"):
        super().__init__("ml-platform:identity:JobPermissions", name, None, opts)
        for key, (arn, statements) in policies.items():
            aws.iam.RolePolicy(
                f"{name}-{key}",
                name=f"{key}-{policy_suffix}",
                # The name read from the ARN, so the policy waits for the role.
                role=pulumi.Output.from_input(arn).apply(lambda a: a.rsplit("/", 1)[-1]),
                policy=policy_json(document(*statements)),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})
