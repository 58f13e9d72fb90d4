"""Settings of the delivery layer: one `<project>-delivery` stack per ML project.

A project's delivery stack holds everything of the project that lives outside its own
accounts, so that no platform-wide stack grows with the number of projects (ARCHITECTURE.md,
stack table):

- in the **shared-services account**: the project's application image repositories (its ECR
  namespace), its model package group (central registry mode; in distributed mode the group
  is in the project's pre-production account), its code connection or CodeCommit
  repositories, and the SSM parameters that describe them (added to the shared-services
  parameter share);

Names are pure functions of the configuration, so a project stack can compute what the
delivery stack creates without reading it (project stacks never read the delivery stack; the
delivery stack reads them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stacks import shared_services_settings as ss

if TYPE_CHECKING:
    from stacks.config import PlatformConfig

LAYER = "delivery"
AUTOMATION_ACCOUNT = ss.PIPELINE_ACCOUNT
# The project environments the pipelines deploy into (pre-production trains, production serves).
TARGET_ENVIRONMENTS = ("preprod", "prod")


def stack_name(project: str) -> str:
    return f"{project}-{LAYER}"


def target_environments(platform: "PlatformConfig", project: str) -> list[str]:
    """The project's environments a pipeline deploys into, in pipeline order."""
    return [env for env in TARGET_ENVIRONMENTS if env in platform.project(project).environments]
