"""The `<project>-<env>` stacks: one ML project's environment in its own account.

Each part lives in its own module so the network and data parts can grow independently.
"""

from __future__ import annotations

from stacks.context import StackContext
from stacks.principal_settings import administrator_references, require_roles
from stacks.project_data import project_data
from stacks.project_model_sharing import project_model_sharing
from stacks.project_network import project_network
from stacks.project_workspace import job_roles, project_workspace


def run(ctx: StackContext) -> None:
    require_roles(ctx.platform, administrator_references(
        ctx.platform, f"{ctx.project}-{ctx.environment}", "project key policies (administrators)"))
    network = project_network(ctx)
    roles = job_roles(ctx, network)
    data = project_data(ctx, network, depends_on=[roles])
    project_workspace(ctx, network, data, roles)
    project_model_sharing(ctx, network)
