"""What every section of the platform definition is built from (no imports of the sections,
so each layer's settings module and `stacks.config` can share it without a cycle)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


class ConfigModel(BaseModel):
    """A section of the platform definition: frozen, and unknown keys are errors (a misspelt
    key silently ignored is a guardrail silently off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
