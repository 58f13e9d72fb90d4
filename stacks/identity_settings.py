"""Settings of people's access (`identity:`): the whitepaper's personas, how people get in and
which directory groups hold which persona where.

- **Personas** (whitepaper "Personas for an ML platform"): data scientist / ML engineer,
  data engineer, MLOps engineer, IT auditor, model risk manager. Each persona's permissions in
  an account are one customer-managed policy, `<prefix>-persona-<persona>` under
  `policy_path`, which that account's own stack creates (`persona_accounts` says which
  accounts have one).
- **identity-center** (default): the `identity` stack, in the management account or the
  Identity Center delegated administrator (`admin_account`), holds one permission set per
  persona that references the policy by name and path, so no permission set grows with
  projects. Each account's stack assigns the configured groups to the permission sets for its
  own account (`assignments`).
- **saml**: no permission sets; each account's stack creates one IAM role per persona,
  `<prefix>-saml-<persona>`, trusting the account's SAML provider (`saml_provider_name`) for the
  audience `saml_audience`, with the same policy attached.

Every name is a pure function of the configuration, so the stacks and the checks agree
(`access_args` also reads the `identity` stack's outputs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pulumi
from pydantic import Field

from components.permission_sets import (
    GroupAssignment,
    IdentityCenterTarget,
    PersonaAccessArgs,
    PersonaPolicy,
    SamlRoles,
)
from stacks.config_model import ENVIRONMENTS, ConfigModel

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

PERSONAS = ("data-scientist", "data-engineer", "mlops-engineer", "it-auditor", "model-risk-manager")
# Where each persona works: project environments (whitepaper "Testing/UAT account": data
# scientists change in dev, read in preprod, nothing in prod; MLOps engineers run preprod and
# prod; model risk managers review what is registered and deployed) and shared accounts.
PROJECT_ENVIRONMENTS = {
    "data-scientist": ("dev", "preprod"),
    "mlops-engineer": ("preprod", "prod"),
    "model-risk-manager": ("preprod", "prod"),
}
SHARED_ACCOUNTS = {
    "data-engineer": ("data-lake",),
    "it-auditor": ("security-tooling",),
    "model-risk-manager": ("shared-services",),
}
MANAGEMENT = "management"
# Accounts that may administer Identity Center: the management account or a delegated
# administrator among the shared accounts (never a workload account).
ADMIN_ACCOUNTS = (MANAGEMENT, "security-tooling", "shared-services")
# Identity Center's attribute for access control that carries the person's user name into the
# session as the `studio-owner` principal tag (the Studio ABAC key).
USER_NAME_ATTRIBUTE = "${path:userName}"
_GROUP_ID = re.compile(r"^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$")
_INSTANCE_ARN = re.compile(r"^arn:aws:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$")
_STORE_ID = re.compile(r"^d-[0-9a-f]{10}$")
_PATH = re.compile(r"^/([\x21-\x7e]+/)?$")
_DURATION = re.compile(r"^PT([1-9]|1[0-2])H$")
PERMISSION_SET_NAME_MAX = 32


class Group(ConfigModel):
    """A directory group of the identity store: its id, the personas it holds and, for the
    project personas, which projects and environments (empty: all of them)."""

    group_id: str
    personas: list[str]
    projects: list[str] = []
    environments: list[str] = []


class IdentitySettings(ConfigModel):
    mode: Literal["identity-center", "saml"] = "identity-center"
    instance_arn: str | None = None
    identity_store_id: str | None = None
    admin_account: str = MANAGEMENT
    # Permission set sessions (ISO-8601, 1 to 12 hours); SAML roles' MaxSessionDuration.
    session_duration: str = "PT8H"
    policy_path: str = "/ml-platform/personas/"
    saml_provider_name: str | None = None
    saml_audience: str = "https://signin.aws.amazon.com/saml"
    groups: dict[str, Group] = Field(default_factory=dict)


# -- derived names ----------------------------------------------------------------------------

def settings(platform: "PlatformConfig") -> IdentitySettings:
    return platform.identity


def uses_identity_center(platform: "PlatformConfig") -> bool:
    return platform.identity.mode == "identity-center"


def session_seconds(platform: "PlatformConfig") -> int:
    return int(platform.identity.session_duration[2:-1]) * 3600


# Permission set names: at most 32 characters, so the personas' short names after the prefix.
PERMISSION_SET_NAMES = {"data-scientist": "DataScientist", "data-engineer": "DataEngineer",
                        "mlops-engineer": "MLOpsEngineer", "it-auditor": "ITAuditor",
                        "model-risk-manager": "ModelRisk"}


def permission_set_name(platform: "PlatformConfig", persona: str) -> str:
    return f"{platform.name_prefix}-{PERMISSION_SET_NAMES[persona]}"


def persona_policy_name(platform: "PlatformConfig", persona: str) -> str:
    """The customer-managed policy of `persona`, the same name (and path) in every account
    that has one, so one permission set references it everywhere."""
    return f"{platform.name_prefix}-persona-{persona}"


def saml_role_name(platform: "PlatformConfig", persona: str) -> str:
    """SAML mode: the persona's role in each account where it has a policy (the identity
    provider maps directory groups to these role ARNs)."""
    return f"{platform.name_prefix}-saml-{persona}"


def permission_set_role_pattern(platform: "PlatformConfig", persona: str) -> str:
    """The role name pattern (path included) of the role Identity Center creates for a
    permission set in each account it is assigned to."""
    return f"aws-reserved/sso.amazonaws.com/*AWSReservedSSO_{permission_set_name(platform, persona)}_*"


def persona_session_roles(platform: "PlatformConfig", persona: str) -> list[str]:
    """The role name patterns of `persona`'s sessions in any account: the permission set's
    Identity Center role, or the SAML persona role (what roles people assume trust)."""
    if uses_identity_center(platform):
        return [permission_set_role_pattern(platform, persona)]
    return [saml_role_name(platform, persona)]


def persona_accounts(platform: "PlatformConfig", persona: str) -> list[str]:
    """Account keys (`<project>-<env>`, shared account keys) where `persona` has a policy."""
    found = [f"{p.name}-{env}" for p in platform.projects for env in p.environments
             if env in PROJECT_ENVIRONMENTS.get(persona, ())]
    return found + list(SHARED_ACCOUNTS.get(persona, ()))


def account_personas(platform: "PlatformConfig", account: str) -> list[str]:
    """The personas with a policy in `account` (an account key)."""
    return [p for p in PERSONAS if account in persona_accounts(platform, p)]


def _covers(group: Group, account: str, platform: "PlatformConfig") -> bool:
    """Whether a group's project and environment filter admits a project account (shared
    accounts are not filtered)."""
    for project in platform.projects:
        for env in project.environments:
            if account == f"{project.name}-{env}":
                return ((not group.projects or project.name in group.projects)
                        and (not group.environments or env in group.environments))
    return True


def assignments(platform: "PlatformConfig", account: str) -> list[tuple[str, str, str]]:
    """(persona, group name, group id) of every assignment into `account` (identity-center
    mode; empty in saml mode, where the identity provider maps groups to the roles)."""
    if not uses_identity_center(platform):
        return []
    personas = account_personas(platform, account)
    return [(persona, name, group.group_id) for name, group in platform.identity.groups.items()
            for persona in group.personas if persona in personas and _covers(group, account, platform)]


IDENTITY_STACK = "identity"


def access_args(platform: "PlatformConfig", account: str, account_id: pulumi.Input[str],
                statements: Mapping[str, Sequence[dict[str, Any]]], tags: Mapping[str, str],
                account_ids: Callable[[str], pulumi.Output[str]],
                attach_to_roles: Mapping[str, Sequence[pulumi.Input[str]]] | None = None) -> PersonaAccessArgs:
    """What an account's stack gives `PersonaAccess`: the persona policies of `account` (the
    personas of `statements` that have a policy there), and the assignments into it
    (identity-center mode, permission set ARNs read from the `identity` stack) or the SAML
    roles (saml mode). `account_ids` looks up account ids by key (the organization stack's).

    The one thing here that is not a pure function of the configuration: with assignments to
    make it reads the `identity` stack's `permissionSetArns` through a StackReference, so
    each account's stack calls it once."""
    ident = platform.identity
    personas = [p for p in account_personas(platform, account) if statements.get(p)]
    policies = [PersonaPolicy(p, persona_policy_name(platform, p), list(statements[p])) for p in personas]
    target = saml = None
    wanted = [GroupAssignment(p, g, gid) for p, g, gid in assignments(platform, account) if p in personas]
    if uses_identity_center(platform) and wanted:
        stack = pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/{IDENTITY_STACK}")
        management = ident.admin_account == MANAGEMENT
        target = IdentityCenterTarget(
            instance_arn=ident.instance_arn or "", permission_set_arns=stack.require_output("permissionSetArns"),
            admin_account_id=(platform.organization.management_account_id if management
                              else account_ids(ident.admin_account)),
            role_name=None if management else platform.organization.deployment_role, region=platform.home_region)
    if not uses_identity_center(platform):
        saml = SamlRoles({p: saml_role_name(platform, p) for p in personas}, ident.saml_provider_name or "",
                         ident.saml_audience, session_seconds(platform))
    return PersonaAccessArgs(account_id=account_id, policy_path=ident.policy_path, policies=policies, tags=tags,
                             assignments=wanted, identity_center=target, saml=saml,
                             attach_to_roles={p: list(r) for p, r in (attach_to_roles or {}).items() if p in personas})


# -- validation -------------------------------------------------------------------------------

def instance_problems(platform: "PlatformConfig") -> list[str]:
    """What is missing to build permission sets and assignments (identity-center mode): the
    instance ARN and the identity store id. Required once groups are configured, and by the
    `identity` stack."""
    ident, problems = platform.identity, []
    if not ident.instance_arn or not _INSTANCE_ARN.match(ident.instance_arn):
        problems.append(f"identity.instance_arn: {ident.instance_arn!r} is not an IAM Identity Center instance ARN, "
                        "required with mode identity-center (allowed: arn:aws:sso:::instance/ssoins-<16 characters>)")
    if not ident.identity_store_id or not _STORE_ID.match(ident.identity_store_id):
        problems.append(f"identity.identity_store_id: {ident.identity_store_id!r} is not an identity store id, "
                        "required with mode identity-center (allowed: d-<10 hexadecimal digits>)")
    return problems


def validate(platform: "PlatformConfig") -> list[str]:
    """Every problem of `identity`, each naming its key."""
    problems: list[str] = []
    ident = platform.identity
    projects = [p.name for p in platform.projects]
    seen_ids: dict[str, str] = {}
    for name, group in ident.groups.items():
        key = f"identity.groups.{name}"
        if not _GROUP_ID.match(group.group_id):
            problems.append(f"{key}.group_id: '{group.group_id}' is not an identity store group id "
                            "(allowed: a GUID such as 1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718)")
        if group.group_id in seen_ids:
            problems.append(f"{key}.group_id: '{group.group_id}' is also group {seen_ids[group.group_id]} "
                            "(allowed: one entry per group)")
        seen_ids.setdefault(group.group_id, name)
        if not group.personas:
            problems.append(f"{key}.personas: a group needs at least one persona (allowed: {', '.join(PERSONAS)})")
        for j, persona in enumerate(group.personas):
            if persona not in PERSONAS:
                problems.append(f"{key}.personas[{j}]: unknown persona '{persona}' (allowed: {', '.join(PERSONAS)})")
        for j, project in enumerate(group.projects):
            if project not in projects:
                problems.append(f"{key}.projects[{j}]: unknown project '{project}' (allowed: {', '.join(projects) or 'none'})")
        for j, env in enumerate(group.environments):
            if env not in ENVIRONMENTS:
                problems.append(f"{key}.environments[{j}]: unknown environment '{env}' (allowed: {', '.join(ENVIRONMENTS)})")
    if ident.mode == "identity-center":
        problems += instance_problems(platform) if ident.groups else []
    elif not ident.saml_provider_name or not re.match(r"^[\w.-]{1,128}$", ident.saml_provider_name):
        problems.append(f"identity.saml_provider_name: {ident.saml_provider_name!r} is required with mode saml "
                        "(allowed: the IAM SAML provider's name in each account, letters, digits, '.', '_', '-')")
    if ident.admin_account not in ADMIN_ACCOUNTS:
        problems.append(f"identity.admin_account: '{ident.admin_account}' cannot administer IAM Identity Center "
                        f"(allowed: {', '.join(ADMIN_ACCOUNTS)}; a delegated administrator is a shared account)")
    if not _DURATION.match(ident.session_duration):
        problems.append(f"identity.session_duration: '{ident.session_duration}' is not a session length "
                        "(allowed: PT1H to PT12H)")
    if not _PATH.match(ident.policy_path) or len(ident.policy_path) > 512:
        problems.append(f"identity.policy_path: '{ident.policy_path}' is not an IAM path (allowed: /, or /<name>/ ...)")
    longest = max((permission_set_name(platform, p) for p in PERSONAS), key=len)
    if len(longest) > PERMISSION_SET_NAME_MAX:
        problems.append(f"name_prefix: permission set name '{longest}' would be {len(longest)} characters "
                        f"(allowed: at most {PERMISSION_SET_NAME_MAX}; shorten name_prefix)")
    return problems
