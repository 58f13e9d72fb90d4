"""Pieces every stack composes with: tags, providers into member accounts, stack references."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_aws as aws

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
    assume = None
    if account_id is not None:
        role_arn = pulumi.Output.concat("arn:aws:iam::", account_id, ":role/", role_name or org.deployment_role)
        assume = [aws.ProviderAssumeRoleArgs(role_arn=role_arn, session_name=session_name or f"ml-platform-{name}")]
    return aws.Provider(
        name,
        region=region or platform.home_region,
        assume_roles=assume,
        allowed_account_ids=[target],
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )


def stack_reference(name: str) -> pulumi.StackReference:
    """A reference to another stack of this project, fully qualified."""
    return pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/{name}")


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
