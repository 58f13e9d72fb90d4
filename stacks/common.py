"""Pieces every stack composes with: tags, providers into member accounts, stack references."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws

from policy_documents.serialize import concat
from stacks.config import PlatformConfig


def platform_tags(platform: PlatformConfig, project: str = "platform", environment: str = "shared",
                  **overrides: str) -> dict[str, str]:
    """The one place tags come from: platform defaults, then project and environment."""
    return {**platform.default_tags, "project": project, "environment": environment, **overrides}


def project_tags(platform: PlatformConfig, project_name: str, environment: str) -> dict[str, str]:
    """A project environment's tags: owner, cost center and classification from the project."""
    project = platform.project(project_name)
    return platform_tags(platform, project.name, environment, owner=project.owner,
                         **{"cost-center": project.cost_center, "data-classification": project.data_classification})


def account_provider(name: str, platform: PlatformConfig, account_id: pulumi.Input[str] | None,
                     tags: dict[str, str], region: str | None = None, role_name: str | None = None,
                     session_name: str | None = None) -> aws.Provider:
    """An AWS provider acting in `account_id` through the deployment role (management if None),
    or through `role_name` with `session_name` where a stack's settings say so.

    Default tags on the provider tag every taggable resource from one place; the allowed
    account id stops a mis-wired role from deploying into the wrong account.
    """
    org = platform.organization
    target = account_id if account_id is not None else org.management_account_id
    # Parts of a stack may each need the provider of one account (the delivery stack's model
    # package group and its pipelines in a preprod account, say): the engine rejects a second
    # registration of its URN, so the same settings get the one provider. Other settings under
    # the same name still register (and fail the stack as a duplicate URN).
    settings = (name, id(platform), _same(account_id), tuple(sorted(tags.items())), region, role_name, session_name)
    shared = _this_run().setdefault("providers", {})
    found = shared.get(name)
    if found is not None and found[0] == settings:
        return found[1]
    assume = None
    if account_id is not None:
        role_arn = concat("arn:aws:iam::", account_id, ":role/", role_name or org.deployment_role)
        assume = [aws.ProviderAssumeRoleArgs(role_arn=role_arn, session_name=session_name or f"ml-platform-{name}")]
    provider = aws.Provider(
        name,
        region=region or platform.home_region,
        assume_roles=assume,
        allowed_account_ids=[target],
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )
    # The inputs compared by identity stay referenced, so their ids are not reused meanwhile.
    shared.setdefault(name, (settings, provider, (platform, account_id)))
    return provider


def stack_reference(name: str) -> pulumi.StackReference:
    """A reference to another stack of this project, fully qualified; one per stack and run
    (the engine rejects a second read of the same reference), shared by every part that reads it."""
    full = f"{pulumi.get_organization()}/{pulumi.get_project()}/{name}"
    references = _this_run().setdefault("references", {})
    if full not in references:
        references[full] = pulumi.StackReference(full)
    return references[full]


# What one run of the program has registered for sharing, by its root stack resource: a new
# run (another stack, or the same one again in one process) starts empty.
_RUNS: weakref.WeakKeyDictionary[Any, dict[str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def _this_run() -> dict[str, dict[str, Any]]:
    root = pulumi.runtime.get_root_resource()
    if root is None:  # outside a program run: nothing to share with
        return {}
    return _RUNS.setdefault(root, {})


def _same(value: Any) -> Any:
    # An Output is the same input only as the same object; plain values compare by value.
    return ("output", id(value)) if isinstance(value, pulumi.Output) else ("value", value)


def account_ids(organization: pulumi.StackReference) -> Callable[[str], pulumi.Output[str]]:
    """Account id by key, from the organization stack; one Output per key so principals of the
    same account are recognised as such."""
    ids = organization.require_output("accountIds")
    cache: dict[str, pulumi.Output[str]] = {}

    def lookup(key: str) -> pulumi.Output[str]:
        if key not in cache:
            cache[key] = ids.apply(lambda m, k=key: m[k])
        return cache[key]

    return lookup
