"""Settings of the data layer (`data_lake:` in the platform definition)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from stacks.config import PlatformConfig


class DataSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def validate(platform: "PlatformConfig") -> list[str]:
    """Cross-field checks of the data settings; every problem, each naming its key."""
    return []
