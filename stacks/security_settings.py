"""Settings of the security and audit layer (`security:` in the platform definition)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from stacks.config import PlatformConfig


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def validate(platform: "PlatformConfig") -> list[str]:
    """Cross-field checks of the security settings; every problem, each naming its key."""
    return []
