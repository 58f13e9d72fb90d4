"""IAM principals of the platform: who may be named in a policy, and who creates them.

Rule for the whole program: every IAM role that a trust, bucket, key, topic or Lake Formation
policy names is either

* **created** by a stack of the platform (`created_roles`: account key, role name, creating
  stack, a pure function of the platform definition so that it cannot lag behind the stacks:
  a test compares it with the roles the sample plan registers),
* **created by AWS** (`aws_created_roles`: the member role Organizations creates with every
  account, the service-managed StackSet execution roles `stacksets-exec-*`, service-linked
  roles under `aws-service-role/` and Identity Center's roles under `aws-reserved/`), or
* **pre-existing**, declared in `organization.existing_roles` with the reason it exists
  (e.g. a role of a layer this program does not build yet).

Stacks check the roles they are about to name with `require_roles` before registering any
resource; an unknown role fails with the policy and the principal named.

This module also holds the break-glass settings (`organization.break_glass`): the security
stack creates the management account's break-glass role, which the member accounts'
break-glass roles (baseline StackSet) trust.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field

from stacks import data_settings as ds
from stacks import delivery_settings as dv
from stacks import identity_settings as ids
from stacks import model_sharing_settings as ms
from stacks import shared_services_settings as ss
from stacks import workspace_settings as ws
from stacks.config_model import ConfigError, ConfigModel, once_per_definition
from stacks.security_settings import auditor_role_names, trail_name

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

MANAGEMENT = "management"
# A role name with an optional path (`path/name`); `*` only where a pattern is allowed.
_ROLE_NAME = re.compile(r"^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_REASON_MIN = 10
# Principals that may assume the management break-glass role: IAM users or roles (a path and
# `*` wildcards are allowed in role names, e.g. Identity Center's permission-set roles).
_TRUSTED = re.compile(r"^arn:aws:iam::(\d{12}):(user|role)/([\w+=,.@*/-]+)$")
# IAM's limits for a role's maximum session duration (seconds).
SESSION_MIN, SESSION_MAX = 3600, 43200


class BreakGlassSettings(ConfigModel):
    """The management account's break-glass role (`organization.break_glass_role_name`).

    `trusted_principals` are IAM user or role ARNs of the management account (role names may
    contain `*`, e.g. `arn:aws:iam::<id>:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*`);
    they may assume the role only with MFA no older than `max_mfa_age_seconds`, for at most
    `max_session_seconds`. IAM users with MFA are the dependable choice: federated sessions
    do not reliably carry `aws:MultiFactorAuthPresent`, and break-glass must work without the IdP. `existing: true` means the role is created outside this program:
    it is then looked up (it must exist) instead of created."""

    existing: bool = False
    trusted_principals: list[str] = []
    max_session_seconds: int = Field(default=3600, ge=SESSION_MIN, le=SESSION_MAX)
    max_mfa_age_seconds: int = Field(default=900, ge=60, le=SESSION_MAX)


class ExistingRole(ConfigModel):
    """A role that policies of the platform name and that exists outside this program."""

    account: str
    name: str
    reason: str


@dataclass(frozen=True)
class KnownRole:
    """A role policies may name: `account` is an account key (`management`, `log-archive`,
    `<project>-<env>`, a sandbox's name); `name` is the role's path and name (a `*` pattern for
    AWS-created families); `origin` is `created`, `aws`, `existing`, `template` (created by a
    template a delivery pipeline deploys, :func:`template_created_roles`) or `reserved` (a pattern
    deny-only guardrails name, see :func:`reserved_patterns`); `source` is the
    creating stack, the AWS service, or the configured reason."""

    account: str
    name: str
    origin: str
    source: str


@dataclass(frozen=True)
class RoleReference:
    """A role a policy is about to name (`name` may be a `*` pattern)."""

    policy: str
    account: str
    name: str


def member_accounts(platform: "PlatformConfig") -> list[str]:
    return list(platform.accounts())


def baseline_accounts(platform: "PlatformConfig") -> list[str]:
    """Member accounts the baseline StackSet reaches: all of them, or those under
    `security.config.baseline_ous`."""
    ous = platform.security.config.baseline_ous
    found = []
    for key, (_, ou) in platform.accounts().items():
        if not ous or any(ou == target or ou.startswith(f"{target}/") for target in ous):
            found.append(key)
    return found


def auditor_roles_created(platform: "PlatformConfig") -> list[str]:
    """Auditor roles the security stack creates in security tooling: every configured name
    that is not a pattern (a pattern names roles made elsewhere, which must be declared)."""
    return [n for n in auditor_role_names(platform) if "*" not in n]


def created_roles(platform: "PlatformConfig") -> list[KnownRole]:
    """Every role the platform's stacks create, by account key, from the definition alone."""
    return list(_created_roles(platform))


@once_per_definition
def _created_roles(platform: "PlatformConfig") -> tuple[KnownRole, ...]:
    prefix, org = platform.name_prefix, platform.organization
    found: list[KnownRole] = []
    # `role in found` would make this quadratic in projects; tuples hash in C, and a role is
    # made once.
    listed: set[tuple[str, str, str]] = set()

    def add(account: str, name: str, stack: str) -> None:
        key = (account, name, stack)
        if key not in listed:
            listed.add(key)
            found.append(KnownRole(account, name, "created", stack))

    # security: management account.
    add(MANAGEMENT, f"{prefix}-config-recorder", "security")
    add(MANAGEMENT, f"{trail_name(platform)}-cloudwatch", "security")
    add(MANAGEMENT, f"{prefix}-security-alert-forwarder", "security")
    if not org.break_glass.existing:
        add(MANAGEMENT, org.break_glass_role_name, "security")
    # security: security tooling.
    add("security-tooling", f"{prefix}-organization-role", "security")
    for name in auditor_roles_created(platform):
        add("security-tooling", name, "security")
    # security: the baseline StackSet, in every member account it reaches (IAM is global; the
    # recorder and automation roles are one per region, the break-glass role one per account).
    recorder = not platform.security.control_tower.enabled
    for account in baseline_accounts(platform):
        for region in platform.allowed_regions:
            if recorder:
                add(account, f"{prefix}-config-recorder-{region}", "security")
            add(account, f"{prefix}-account-baseline-{region}", "security")
        add(account, org.break_glass_role_name, "security")

    # network: the shared VPCs' and the sandboxes' flow-log roles.
    for key in platform.cidr_plan.shared:
        account = key.replace("_", "-")
        add(account, f"{prefix}-{account}-vpc-flow-logs", "network")
    for sandbox in platform.sandbox_accounts:
        add(sandbox.name, f"{sandbox.name}-vpc-flow-logs", "network")

    # data-lake: people's roles, the Lake Formation role and the write-back role.
    data = platform.data_lake
    for name in (*data.admin_roles, *data.data_engineer_roles):
        if name not in (org.member_role_name, org.break_glass_role_name):
            add("data-lake", name, "data-lake")
    add("data-lake", ds.lake_formation_role_name(platform), "data-lake")
    if data.write_back.approvers:
        add("data-lake", ds.write_back_role_name(platform), "data-lake")

    # shared-services: the role ECR assumes to create repositories from templates, and the
    # Service Catalog launch role (where the launch constraint is made, and in every account
    # with a Studio domain, by its project stack).
    if ss.creates_creation_role(platform):
        add(ss.ACCOUNT, ss.creation_role_name(platform), "shared-services")
    launching = set(ss.launch_accounts(platform))
    if platform.shared_services.service_catalog.enabled:
        add(ss.ACCOUNT, ss.launch_role_name(platform), "shared-services")

    # <project>-<env>: personas and the VPC's flow-log role.
    for project in platform.projects:
        for env in project.environments:
            stack, account = f"{project.name}-{env}", f"{project.name}-{env}"
            for persona in ws.data_persona_suffixes(platform, project.name, env):
                add(account, ds.project_role_name(platform, project.name, env, persona), stack)
            for role in ws.service_role_names(platform, project.name, env).values():
                add(account, role, stack)
            add(account, f"{platform.project_account_name(project.name, env)}-vpc-flow-logs", stack)
            if account in launching:
                add(account, ss.launch_role_name(platform), stack)
        # <project>-delivery: the pipelines' roles (automation) and roles B and C with their
        # CloudFormation execution roles (preprod, prod).
        for key in dv.created_role_keys(platform, project.name):
            add(dv.role_account(project.name, key), dv.role_name(platform, project.name, key), dv.stack_name(project.name))
        for env in dv.monitored_environments(platform, project.name):
            add(f"{project.name}-{env}", dv.forwarder_role_name(platform, project.name), dv.stack_name(project.name))
            add(f"{project.name}-{env}", dv.CLOUDWATCH_SHARING_ROLE, dv.stack_name(project.name))
    # SAML mode: the persona roles, in every account where the persona has a policy (the
    # stack of that account).
    if not ids.uses_identity_center(platform):
        stacks = {"data-lake": "data-lake", "security-tooling": "security", ss.ACCOUNT: "shared-services"}
        for persona in ids.PERSONAS:
            for account in ids.persona_accounts(platform, persona):
                add(account, ids.saml_role_name(platform, persona), stacks.get(account, account))
    # <project>-<env>: model sharing's application and producer roles (each in its account's stack).
    for account, name in ms.created_roles(platform):
        add(account, name, account)
    return tuple(found)


def aws_created_roles(platform: "PlatformConfig") -> list[KnownRole]:
    """Roles AWS creates (the documented "created by AWS" category), never by this program:

    * the member role (`organization.member_role_name`) Organizations creates in every account
      it creates (the platform's deployment role);
    * `stacksets-exec-*`, the execution roles of service-managed StackSets, which CloudFormation
      creates in every member account once trusted access is on;
    * service-linked roles (`aws-service-role/...`, `AWSServiceRoleFor*`) and Identity Center's
      permission-set roles (`aws-reserved/sso.amazonaws.com/...`), in any account.
    """
    found = []
    for account in member_accounts(platform):
        found.append(KnownRole(account, platform.organization.member_role_name, "aws",
                               "AWS Organizations (created with the account)"))
        found.append(KnownRole(account, "stacksets-exec-*", "aws", "AWS CloudFormation service-managed StackSets"))
    for account in (MANAGEMENT, *member_accounts(platform)):
        found.append(KnownRole(account, "aws-service-role/*", "aws", "AWS service-linked roles"))
        found.append(KnownRole(account, "aws-reserved/sso.amazonaws.com/*", "aws", "AWS IAM Identity Center"))
    return found


def existing_roles(platform: "PlatformConfig") -> list[KnownRole]:
    """The roles `organization.existing_roles` declares (and the break-glass role when
    `organization.break_glass.existing`)."""
    org = platform.organization
    found = [KnownRole(r.account, r.name, "existing", r.reason) for r in org.existing_roles]
    if org.break_glass.existing:
        found.append(KnownRole(MANAGEMENT, org.break_glass_role_name, "existing",
                               "organization.break_glass.existing (looked up by the security stack)"))
    return found


def reserved_patterns(platform: "PlatformConfig") -> list[KnownRole]:
    """Role name patterns the guardrails deny by (never grant to) before any role of the
    family exists: MOD-1's model-consumer roles, wherever a producer account is. A reference
    is known through one only when it names the pattern itself, never a concrete role."""
    return [KnownRole("*", ds.model_consumer_role_pattern(platform), "reserved", "MOD-1 (organization stack SCPs)")]


def template_created_roles(platform: "PlatformConfig") -> list[KnownRole]:
    """Roles the CloudFormation templates the delivery pipelines deploy create (not the stacks):
    the API front's function role under its path in production (CloudFormation names it)."""
    return [KnownRole(f"{p}-prod", dv.front_role_pattern(), "template",
                      f"templates/endpoint.yaml, deployed by {dv.pipeline_name(platform, p, 'deployment')}")
            for p in platform.delivery.projects if dv.api_front(platform, p)]


def known_roles(platform: "PlatformConfig") -> list[KnownRole]:
    return list(_known_roles(platform))


@once_per_definition
def _known_roles(platform: "PlatformConfig") -> tuple[KnownRole, ...]:
    return (*_created_roles(platform), *aws_created_roles(platform), *existing_roles(platform),
            *template_created_roles(platform), *reserved_patterns(platform))


def find_role(platform: "PlatformConfig", account: str, name: str,
              known: Sequence[KnownRole] | None = None) -> KnownRole | None:
    """The known role `name` in `account` (`*` for any account, as SCPs name roles). A `*`
    pattern reference is known when it is a known pattern or matches a known role."""
    if known is None:
        # Only roles of `account` can be found for it (a reserved pattern too): its roles alone.
        known = _known_roles(platform) if account == "*" else _roles_by_account(platform).get(account, ())
    for role in known:
        if role.origin == "reserved":
            if account == role.account and name == role.name:
                return role
            continue
        if account != "*" and role.account != account:
            continue
        if role.name == name or glob_match(name, role.name) or glob_match(role.name, name):
            return role
    return None


_GLOB_CHARACTERS = frozenset("*?[")


def glob_match(name: str, pattern: str) -> bool:
    """`fnmatch.fnmatchcase(name, pattern)`; a pattern with no `*`, `?` or `[` matches only
    itself, so it is compared, not compiled (each stack's process would compile every role name
    of the inventory as a pattern, once per process)."""
    if _GLOB_CHARACTERS.isdisjoint(pattern):
        return name == pattern
    return fnmatch.fnmatchcase(name, pattern)


@once_per_definition
def _roles_by_account(platform: "PlatformConfig") -> dict[str, tuple[KnownRole, ...]]:
    """The known roles by account key, each account's in inventory order."""
    found: dict[str, list[KnownRole]] = {}
    for role in _known_roles(platform):
        found.setdefault(role.account, []).append(role)
    return {account: tuple(roles) for account, roles in found.items()}


def administrator_references(platform: "PlatformConfig", account: str, policy: str) -> list[RoleReference]:
    """The deployment and break-glass roles a key policy of `account` names as administrators."""
    org = platform.organization
    return [RoleReference(policy, account, name) for name in dict.fromkeys((org.deployment_role, org.break_glass_role_name))]


def require_roles(platform: "PlatformConfig", references: Sequence[RoleReference]) -> None:
    """Raise :class:`stacks.config.ConfigError` naming every reference to a role that no stack
    creates, AWS does not create and configuration does not declare pre-existing."""
    problems = []
    for ref in references:
        if find_role(platform, ref.account, ref.name) is None:
            problems.append(
                f"{ref.policy}: names role '{ref.name}' in account {ref.account}, which no stack of the platform "
                "creates (allowed: a role the platform creates, an AWS-created role, or one declared in "
                f"organization.existing_roles as {{account: {ref.account}, name: {ref.name}, reason: ...}})")
    if problems:
        raise ConfigError(problems)


def validate(platform: "PlatformConfig") -> list[str]:
    """Checks of `organization.break_glass` and `organization.existing_roles`."""
    problems: list[str] = []
    org = platform.organization
    accounts = [MANAGEMENT, *member_accounts(platform)]

    bg = org.break_glass
    key = "organization.break_glass"
    if not bg.existing and not bg.trusted_principals:
        problems.append(f"{key}.trusted_principals: at least one principal is needed to create the break-glass role "
                        "(allowed: IAM user or role ARNs of the management account; or set existing: true)")
    if bg.existing and bg.trusted_principals:
        problems.append(f"{key}.trusted_principals: not used with existing: true (the existing role's trust is its own)")
    for i, arn in enumerate(bg.trusted_principals):
        match = _TRUSTED.match(arn)
        if not match:
            problems.append(f"{key}.trusted_principals[{i}]: '{arn}' is not an IAM user or role ARN "
                            "(allowed: arn:aws:iam::<management account>:user/<name> or :role/<path/name>, '*' in names)")
            continue
        account, kind, name = match.groups()
        if account != org.management_account_id:
            problems.append(f"{key}.trusted_principals[{i}]: '{arn}' is in account {account} (allowed: the management "
                            f"account {org.management_account_id} only)")
        if kind == "role" and name.rsplit("/", 1)[-1] == org.break_glass_role_name:
            problems.append(f"{key}.trusted_principals[{i}]: the break-glass role cannot trust itself")
        if name.replace("/", "").strip("*") == "":
            problems.append(f"{key}.trusted_principals[{i}]: '{arn}' matches every {kind} of the account "
                            "(allowed: named users or roles, or a pattern with a fixed part)")
        if kind == "user" and "*" in name:
            problems.append(f"{key}.trusted_principals[{i}]: '{arn}' is a user pattern (allowed: named users)")
    if bg.max_mfa_age_seconds > bg.max_session_seconds:
        problems.append(f"{key}.max_mfa_age_seconds: {bg.max_mfa_age_seconds} is longer than max_session_seconds "
                        f"({bg.max_session_seconds}) (allowed: at most the session duration)")

    created = _created_roles(platform)
    seen: dict[tuple[str, str], int] = {}
    for i, role in enumerate(org.existing_roles):
        key = f"organization.existing_roles[{i}]"
        if role.account not in accounts:
            problems.append(f"{key}.account: unknown account '{role.account}' (allowed: {', '.join(accounts)})")
        if not _ROLE_NAME.match(role.name):
            problems.append(f"{key}.name: '{role.name}' is not an IAM role name (allowed: letters, digits, +=,.@_- "
                            "with an optional path, at most 64 characters; no wildcards)")
        if len(role.reason.strip()) < _REASON_MIN:
            problems.append(f"{key}.reason: say why the role exists outside the platform (allowed: at least "
                            f"{_REASON_MIN} characters)")
        clash = next((c for c in created if c.account == role.account and c.name == role.name), None)
        if clash:
            problems.append(f"{key}: role '{role.name}' in {role.account} is created by the {clash.source} stack "
                            "(allowed: only roles the platform does not create)")
        if role.name == org.break_glass_role_name and role.account == MANAGEMENT:
            problems.append(f"{key}: the management break-glass role is declared with organization.break_glass.existing")
        if (role.account, role.name) in seen:
            problems.append(f"{key}: role '{role.name}' in {role.account} is already declared at "
                            f"organization.existing_roles[{seen[(role.account, role.name)]}]")
        seen.setdefault((role.account, role.name), i)
    return problems
