"""The `identity` stack: IAM Identity Center permission sets for the whitepaper's personas, in
the management account or the Identity Center delegated administrator (`identity.admin_account`).

Each permission set's only permission is the customer-managed policy
`<prefix>-persona-<persona>` under `identity.policy_path`, which every account's own stack
creates with what the persona may do there (components/permission_sets.py), so this stack
never grows with projects or accounts. The account assignments are made by the stack of the
account they grant. The attribute for access control `studio-owner` (the user name) is the
Studio ABAC key. In `saml` mode the stack holds nothing: each account's stack creates SAML
persona roles instead.

Outputs: the contract is documented once, under "Stack outputs (contract)" in README.md.
"""

from __future__ import annotations

import pulumi

from components.permission_sets import PermissionSets, PermissionSetsArgs, PermissionSetSpec
from stacks import identity_settings as ids
from stacks import workspace_settings as ws
from stacks.common import account_ids, account_provider, platform_tags, stack_reference
from stacks.config import ConfigError
from stacks.context import StackContext

DESCRIPTIONS = {
    "data-scientist": "Data scientists / ML engineers: change in dev, read training metrics and logs in preprod",
    "data-engineer": "Data engineers: ingest and curate the data lake",
    "mlops-engineer": "MLOps engineers: read and operate preprod and prod, never change pipelines",
    "it-auditor": "IT auditors: read CloudTrail, Config and the log archive from security tooling",
    "model-risk-manager": "Model risk managers: read the model registry, model cards and lineage",
}


def run(ctx: StackContext) -> None:
    platform = ctx.platform
    ident = platform.identity
    if not ids.uses_identity_center(platform):
        # The same contract in both modes: no instance, no permission sets.
        for key, value in (("mode", ident.mode), ("instanceArn", None), ("identityStoreId", None),
                           ("permissionSetArns", {}), ("personaPolicies", {})):
            pulumi.export(key, value)
        return
    problems = ids.instance_problems(platform)
    if problems:
        raise ConfigError(problems)
    tags = platform_tags(platform, project="identity")
    if ident.admin_account == ids.MANAGEMENT:
        provider = account_provider("identity-center", platform, None, tags)
    else:
        provider = account_provider("identity-center", platform,
                                    account_ids(stack_reference("organization"))(ident.admin_account), tags)
    sets = PermissionSets("permission-sets", PermissionSetsArgs(
        instance_arn=ident.instance_arn or "",
        policy_path=ident.policy_path,
        session_duration=ident.session_duration,
        permission_sets=[PermissionSetSpec(p, ids.permission_set_name(platform, p), DESCRIPTIONS[p],
                                           ids.persona_policy_name(platform, p)) for p in ids.PERSONAS],
        access_control_attributes={ws.OWNER_TAG: ids.USER_NAME_ATTRIBUTE},
        tags=tags,
    ), pulumi.ResourceOptions(provider=provider))
    pulumi.export("mode", ident.mode)
    pulumi.export("instanceArn", ident.instance_arn)
    pulumi.export("identityStoreId", ident.identity_store_id)
    pulumi.export("permissionSetArns", sets.arns)
    pulumi.export("personaPolicies", {p: {"name": ids.persona_policy_name(platform, p), "path": ident.policy_path,
                                          "accounts": ids.persona_accounts(platform, p)} for p in ids.PERSONAS})
