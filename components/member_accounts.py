"""Member accounts of the organization, each in its OU."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class MemberAccountSpec:
    """One account to create: its AWS name, root e-mail, OU id and tags."""

    name: str
    email: str
    parent_id: pulumi.Input[str]
    tags: Mapping[str, str]


class MemberAccounts(pulumi.ComponentResource):
    """Creates member accounts; protected, and closed on deletion only when asked.

    `role_name` is the role AWS creates in each account for the management account to assume.
    Every account is created after `depends_on` (e.g. the account quota request). Outputs
    `ids` keyed like `accounts`.
    """

    ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, accounts: Mapping[str, MemberAccountSpec], role_name: str,
                 close_on_deletion: bool = False, opts: pulumi.ResourceOptions | None = None,
                 depends_on: Sequence[pulumi.Resource] = ()):
        super().__init__("ml-platform:organization:MemberAccounts", name, None, opts)
        self.ids = {}
        for key, spec in accounts.items():
            account = aws.organizations.Account(
                f"account-{key}",
                name=spec.name,
                email=spec.email,
                parent_id=spec.parent_id,
                role_name=role_name,
                iam_user_access_to_billing="DENY",
                close_on_deletion=close_on_deletion,
                tags=dict(spec.tags),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=list(depends_on),
                    protect=True,
                    # Without close_on_deletion a destroyed account leaves the organization but
                    # keeps its data; retain it in AWS instead so nothing is orphaned silently.
                    retain_on_delete=not close_on_deletion,
                    # AWS does not return these after creation; without this every preview
                    # would plan a replacement of the account.
                    ignore_changes=["roleName", "iamUserAccessToBilling"],
                ),
            )
            self.ids[key] = account.id
        self.register_outputs({"ids": self.ids})
