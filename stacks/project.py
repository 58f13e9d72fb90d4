"""The `<project>-<env>` stacks: one ML project's environment in its own account.

Each part lives in its own module so the network and data parts can grow independently.
"""

from __future__ import annotations

from stacks.context import StackContext
from stacks.project_data import project_data
from stacks.project_network import project_network


def run(ctx: StackContext) -> None:
    network = project_network(ctx)
    project_data(ctx, network)
