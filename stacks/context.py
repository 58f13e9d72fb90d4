"""What every stack starts from: the validated platform definition and this stack's role."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from stacks import model_sharing_settings as ms
from stacks.config import (
    ENVIRONMENTS,
    LAYERS,
    ConfigError,
    PlatformConfig,
    load_platform_file,
)

NAMESPACE = "ml-platform"
STACKS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class StackContext:
    """The platform definition, this stack's layer and (for project stacks) project and env."""

    platform: PlatformConfig
    layer: str
    stack: str
    config: pulumi.Config
    project: str | None = None
    environment: str | None = None


def _stack_environments(platform: PlatformConfig, project: str) -> list[str]:
    """The `<project>-<env>` stacks a project has: its environments, and `model` when it keeps
    its shared model in a dedicated account (stacks/model_sharing_settings.py)."""
    return [*platform.project(project).environments, *([ms.MODEL_ENVIRONMENT] if ms.has_model_account(platform, project) else [])]


def load_context() -> StackContext:
    """Read this stack's configuration; raise :class:`ConfigError` naming every problem."""
    config = pulumi.Config(NAMESPACE)
    config_dir = Path(config.get("config-dir") or STACKS_DIR)
    platform = load_platform_file(config_dir / (config.get("platform-file") or "platform.yaml"))
    problems: list[str] = []
    layer = config.get("layer")
    if layer not in LAYERS:
        problems.append(f"{NAMESPACE}:layer: {layer!r} is not a layer (allowed: {', '.join(LAYERS)})")
    project = environment = None
    if layer in ("project", "delivery"):  # delivery: one stack per project, no environment
        project, environment = config.get("project"), config.get("environment") if layer == "project" else None
        names = [p.name for p in platform.projects]
        if project not in names:
            problems.append(f"{NAMESPACE}:project: {project!r} is not a project of the platform (allowed: {', '.join(names)})")
        elif layer == "project" and environment not in _stack_environments(platform, project):
            allowed = ", ".join(_stack_environments(platform, project)) or "none"
            problems.append(f"{NAMESPACE}:environment: {environment!r} is not an environment of {project} (allowed: {allowed})")
        if environment is not None and environment not in (*ENVIRONMENTS, ms.MODEL_ENVIRONMENT):
            problems.append(f"{NAMESPACE}:environment: {environment!r} is unknown (allowed: {', '.join(ENVIRONMENTS)})")
    if problems:
        raise ConfigError(problems)
    return StackContext(platform, layer, pulumi.get_stack(), config, project, environment)
