"""What every section of the platform definition is built from: the base model, the error
every validator raises and the platform-wide constants the layers' settings share. It imports
no section, so the settings modules form one chain without a cycle:
`config_model` <- `data_settings` <- `shared_services_settings` <- `security_settings`, `network_settings`
<- `principal_settings` <- `config` (tests/test_layout.py keeps it so)."""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


ENVIRONMENTS = ("dev", "preprod", "prod")
# Names the program derives are checked against AWS limits at load time (every bucket of the
# plan, the longest role name) so that a long prefix or project name fails there rather than
# half-way through `pulumi up`.
# The values of the `data-classification` tag a project may carry.
DATA_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
BUCKET_KINDS = ("experimentation", "datasets", "pipeline", "models", "access-logs")
ROLE_PERSONAS = ("data-scientist", "ml-engineer", "model-consumer", "sm-execution")
IAM_ROLE_NAME_MAX = 64


class ConfigError(ValueError):
    """Raised with every configuration problem found, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"{len(problems)} configuration problem(s):\n" + "\n".join(f"  - {p}" for p in problems)
        )


_Derived = TypeVar("_Derived")


def once_per_definition(derive: Callable[..., _Derived]) -> Callable[..., _Derived]:
    """`derive(platform, *args)` computed once per platform definition object (and hashable
    `args`), then answered from memory.

    For derived views that grow with the projects, or that a stack asks for many times (its
    validation, then the checks before it registers anything). Definitions are frozen, so an
    answer cannot go stale; it is forgotten with the definition. Callers must not change what
    it returns (return tuples, or copy). `derive.__wrapped__` computes afresh.
    """
    answers: dict[int, dict[tuple[Any, ...], _Derived]] = {}  # by the definition's id, then args

    @functools.wraps(derive)
    def derived(platform: Any, *args: Any) -> _Derived:
        of_definition = answers.get(id(platform))
        if of_definition is None:
            of_definition = answers[id(platform)] = {}
            # Dropped when the definition is: its id may then be reused by another.
            weakref.finalize(platform, answers.pop, id(platform), None)
        if args not in of_definition:
            of_definition[args] = derive(platform, *args)
        return of_definition[args]

    return derived


class ConfigModel(BaseModel):
    """A section of the platform definition: frozen, and unknown keys are errors (a misspelt
    key silently ignored is a guardrail silently off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Storage classes a lifecycle rule may move objects to; S3 refuses transitions to the
# infrequent-access classes before an object is 30 days old.
StorageClass = Literal["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]
IA_MIN_DAYS = 30
# Values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)


class Transition(ConfigModel):
    """Move current objects to a colder storage class after `days`."""

    days: int = Field(ge=0)
    storage_class: StorageClass
