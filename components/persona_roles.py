"""IAM roles for the platform's personas, created before anything grants them access.

Lake Formation, unlike S3 and KMS policies, checks that a principal exists when it is granted
permissions, so the roles the data layer grants to must exist first. This component creates
them with a trust policy and no permissions: each layer that grants access (buckets, keys, Lake
Formation, the ML workspace, the persona policies of components/permission_sets.py) adds its
own, so a role never holds more than those grants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import concat, document, policy_json


@dataclass(frozen=True)
class PersonaTrust:
    """Who may assume the roles: AWS services acting for this account (SageMaker execution
    roles), or people: the sessions of this account's roles whose names match `people`
    (paths included), i.e. the Identity Center role of a persona's permission set
    (`aws-reserved/sso.amazonaws.com/*AWSReservedSSO_<name>_*`) or the SAML persona role.

    No `aws:MultiFactorAuthPresent`: federated sessions (Identity Center, SAML) never carry
    it, so such a condition locks everybody out; MFA is enforced where people sign in."""

    services: Sequence[str] = ()
    people: Sequence[str] = ()


def trust_policy(account_id: pulumi.Input[str], trust: PersonaTrust) -> dict:
    """The trust policy as data: services only on behalf of `account_id` (confused deputy),
    people only through the persona roles of `account_id` that `trust.people` names."""
    statements = []
    if trust.services:
        statements.append({
            "Sid": "ServicesOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": list(trust.services)},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        })
    if trust.people:
        statements.append({
            "Sid": "PersonaSessionsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"AWS": concat("arn:aws:iam::", account_id, ":root")},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:PrincipalArn": [concat("arn:aws:iam::", account_id, ":role/", p)
                                                           for p in trust.people]}},
        })
    if not statements:
        raise ValueError("PersonaTrust: name services, people, or both")
    return document(*statements)


class PersonaRoles(pulumi.ComponentResource):
    """One IAM role per name in `role_names`, trusted as `trust` (or its entry of `trusts`) says,
    with no permissions.

    Outputs `arns`, keyed by role name.
    """

    arns: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, account_id: pulumi.Input[str], role_names: Sequence[str], trust: PersonaTrust,
                 tags: Mapping[str, str], opts: pulumi.ResourceOptions | None = None,
                 trusts: Mapping[str, PersonaTrust] | None = None):
        super().__init__("ml-platform:identity:PersonaRoles", name, None, opts)
        # `trusts`: role name -> its own trust, where it differs from `trust`.
        default = policy_json(trust_policy(account_id, trust))
        policies = {role: policy_json(trust_policy(account_id, t)) for role, t in (trusts or {}).items()}
        self.arns = {}
        for role_name in dict.fromkeys(role_names):
            role = aws.iam.Role(
                f"{name}-{role_name}",
                name=role_name,
                description="ml-platform persona role; each layer grants its own access",
                assume_role_policy=policies.get(role_name, default),
                max_session_duration=3600,
                tags={**tags, "persona": role_name},
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.arns[role_name] = role.arn
        self.register_outputs({"arns": self.arns})
