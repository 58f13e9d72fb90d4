"""People's access through IAM Identity Center or SAML federation (whitepaper "Identity and
access management", "Personas for an ML platform").

- :class:`PermissionSets` (the `identity` stack, in the Identity Center administrator account):
  one permission set per persona whose only permission is a customer-managed policy referenced
  by name and path. Each account creates its own policy of that name, so a permission set
  never changes as projects or accounts are added; the attribute for access control
  `studio-owner` carries the person's user name into every session (the Studio ABAC key).
- :class:`PersonaAccess` (the stack of each account that people use): the persona policies of
  that account, the assignments of directory groups to the permission sets for that account
  (through a provider into the Identity Center account, after the policy exists, since AWS
  provisions a permission set into an account only when the policies it references exist
  there), or, in SAML mode, one IAM role per persona trusting the account's SAML provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import concat, document, policy_json


@dataclass(frozen=True)
class PermissionSetSpec:
    persona: str
    name: str
    description: str
    policy_name: str


@dataclass(frozen=True)
class PermissionSetsArgs:
    instance_arn: str
    policy_path: str
    session_duration: str  # ISO-8601, e.g. PT8H
    permission_sets: Sequence[PermissionSetSpec]
    # Attributes for access control: session tag key -> identity source attribute.
    access_control_attributes: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


class PermissionSets(pulumi.ComponentResource):
    """Outputs `arns` (persona -> permission set ARN)."""

    def __init__(self, name: str, args: PermissionSetsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:identity:PermissionSets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.arns: dict[str, pulumi.Output[str]] = {}
        for spec in args.permission_sets:
            permission_set = aws.ssoadmin.PermissionSet(
                f"{name}-{spec.persona}", name=spec.name, description=spec.description,
                instance_arn=args.instance_arn, session_duration=args.session_duration,
                tags={**args.tags, "persona": spec.persona}, opts=child)
            aws.ssoadmin.CustomerManagedPolicyAttachment(
                f"{name}-{spec.persona}-policy", instance_arn=args.instance_arn,
                permission_set_arn=permission_set.arn,
                customer_managed_policy_reference=aws.ssoadmin.CustomerManagedPolicyAttachmentCustomerManagedPolicyReferenceArgs(
                    name=spec.policy_name, path=args.policy_path),
                opts=child)
            self.arns[spec.persona] = permission_set.arn
        if args.access_control_attributes:
            aws.ssoadmin.InstanceAccessControlAttributes(
                f"{name}-access-control-attributes", instance_arn=args.instance_arn,
                attributes=[aws.ssoadmin.InstanceAccessControlAttributesAttributeArgs(
                    key=key, values=[aws.ssoadmin.InstanceAccessControlAttributesAttributeValueArgs(sources=[source])])
                    for key, source in args.access_control_attributes.items()],
                opts=child)
        self.register_outputs({"arns": self.arns})


@dataclass(frozen=True)
class PersonaPolicy:
    """A persona's customer-managed policy in this account, as statements (Outputs inside)."""

    persona: str
    name: str
    statements: Sequence[dict]


@dataclass(frozen=True)
class GroupAssignment:
    persona: str
    group: str  # the configured group's name (logical names)
    group_id: str


@dataclass(frozen=True)
class IdentityCenterTarget:
    """Where the assignments are made: the instance, the permission sets (from the `identity`
    stack) and the account Identity Center is administered from (None: management)."""

    instance_arn: str
    permission_set_arns: pulumi.Input[Mapping[str, str]]
    admin_account_id: pulumi.Input[str]
    role_name: str | None  # the role to assume there; None: the deploying credentials' own account
    region: str


@dataclass(frozen=True)
class SamlRoles:
    """SAML mode: persona -> role name, the account's SAML provider and the audience."""

    role_names: Mapping[str, str]
    provider_name: str
    audience: str
    max_session_seconds: int


@dataclass(frozen=True)
class PersonaAccessArgs:
    account_id: pulumi.Input[str]
    policy_path: str
    policies: Sequence[PersonaPolicy]
    tags: Mapping[str, str]
    assignments: Sequence[GroupAssignment] = ()
    identity_center: IdentityCenterTarget | None = None
    saml: SamlRoles | None = None
    # persona -> ARNs of existing roles of this account that hold the persona's policy too
    # (the roles resource policies name, which the persona's sessions assume).
    attach_to_roles: Mapping[str, Sequence[pulumi.Input[str]]] = field(default_factory=dict)


def saml_trust(account_id: pulumi.Input[str], provider_name: str, audience: str) -> dict:
    """Trust of a SAML persona role: the account's SAML provider, for the sign-in audience only
    (`SAML:aud`), with session tags (the `studio-owner` principal tag)."""
    return document({
        "Sid": "SamlFederationForThisAudience",
        "Effect": "Allow",
        "Principal": {"Federated": concat("arn:aws:iam::", account_id, ":saml-provider/", provider_name)},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
        "Condition": {"StringEquals": {"SAML:aud": audience}},
    })


class PersonaAccess(pulumi.ComponentResource):
    """Outputs `policy_arns` (persona -> ARN), `assignments` (`<persona>/<group>` -> id) and
    `role_arns` (SAML mode: persona -> ARN). `opts` carries the account's provider."""

    def __init__(self, name: str, args: PersonaAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ml-platform:identity:PersonaAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        policies: dict[str, aws.iam.Policy] = {}
        for spec in args.policies:
            policies[spec.persona] = aws.iam.Policy(
                f"{name}-{spec.persona}", name=spec.name, path=args.policy_path,
                description=f"ml-platform persona {spec.persona} in this account (permission set / SAML role)",
                policy=policy_json(document(*spec.statements)), tags={**args.tags, "persona": spec.persona},
                opts=child)
        self.policy_arns = {persona: p.arn for persona, p in policies.items()}
        self.assignments: dict[str, pulumi.Output[str]] = {}
        target = args.identity_center
        wanted = [a for a in args.assignments if a.persona in policies]
        if target is not None and wanted:
            assume = None
            if target.role_name is not None:
                assume = [aws.ProviderAssumeRoleArgs(
                    role_arn=concat("arn:aws:iam::", target.admin_account_id, ":role/", target.role_name),
                    session_name=f"ml-platform-{name}")]
            # The allowed account stops a mis-wired role from assigning in another organization.
            provider = aws.Provider(f"{name}-identity-center", region=target.region, assume_roles=assume,
                                    allowed_account_ids=[target.admin_account_id],
                                    opts=pulumi.ResourceOptions(parent=self))
            arns = pulumi.Output.from_input(target.permission_set_arns)
            for a in wanted:
                assignment = aws.ssoadmin.AccountAssignment(
                    f"{name}-{a.persona}-{a.group}", instance_arn=target.instance_arn,
                    permission_set_arn=arns.apply(lambda m, p=a.persona: m[p]),
                    principal_type="GROUP", principal_id=a.group_id,
                    target_type="AWS_ACCOUNT", target_id=args.account_id,
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[policies[a.persona]]))
                self.assignments[f"{a.persona}/{a.group}"] = assignment.id
        self.role_arns: dict[str, pulumi.Output[str]] = {}
        if args.saml is not None:
            trust = policy_json(saml_trust(args.account_id, args.saml.provider_name, args.saml.audience))
            for persona, policy in policies.items():
                role = aws.iam.Role(
                    f"{name}-{persona}-role", name=args.saml.role_names[persona], assume_role_policy=trust,
                    description=f"ml-platform persona {persona} (SAML federation)",
                    max_session_duration=args.saml.max_session_seconds, tags={**args.tags, "persona": persona},
                    opts=child)
                aws.iam.RolePolicyAttachment(f"{name}-{persona}-role-policy", role=role.name, policy_arn=policy.arn,
                                             opts=child)
                self.role_arns[persona] = role.arn
        for persona, arns in args.attach_to_roles.items():
            for i, arn in enumerate(arns):
                aws.iam.RolePolicyAttachment(
                    f"{name}-{persona}-attachment-{i}", policy_arn=policies[persona].arn,
                    # The name read from the ARN, so the attachment waits for the role.
                    role=pulumi.Output.from_input(arn).apply(lambda a: a.rsplit("/", 1)[-1]), opts=child)
        self.register_outputs({"policy_arns": self.policy_arns, "assignments": self.assignments,
                               "role_arns": self.role_arns})
