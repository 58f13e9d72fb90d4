"""The `<project>-<env>` stacks: one ML project's environment in its own account.

Each part lives in its own module so the network and data parts can grow independently.
A project that keeps its shared model in a dedicated account (`model_sharing.projects.<p>.
producer: model`) also has a `<project>-model` stack: the model profile, which builds only
what that account needs (stacks/project_model_sharing.py, `model_account_stack`).
"""

from __future__ import annotations

from stacks.context import StackContext
from stacks.principal_settings import administrator_references, require_roles
from stacks.project_data import project_data
from stacks import model_sharing_settings as ms
from stacks.project_model_sharing import model_account_stack, project_model_sharing
from stacks.project_network import project_network
from stacks.project_workspace import job_roles, project_workspace


def run(ctx: StackContext) -> None:
    require_roles(ctx.platform, administrator_references(
        ctx.platform, f"{ctx.project}-{ctx.environment}", "project key policies (administrators)"))
    if ctx.environment == ms.MODEL_ENVIRONMENT:
        model_account_stack(ctx)
        return
    network = project_network(ctx)
    roles = job_roles(ctx, network)
    data = project_data(ctx, network, depends_on=[roles])
    project_workspace(ctx, network, data, roles)
    project_model_sharing(ctx, network)
