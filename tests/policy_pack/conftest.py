"""One policy-pack subprocess per test session (per xdist worker), spoken to over gRPC."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (ROOT, HERE, ROOT / "policypacks" / "ml-guardrails"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from offline_preview.policy_analyzer import PolicyAnalyzer, load_policy_config  # noqa: E402
from pack_helpers import PACK_DIR, PROJECT, SAMPLE_CONFIG, STACK  # noqa: E402


@pytest.fixture(scope="session")
def analyzer() -> Iterator[PolicyAnalyzer]:
    with PolicyAnalyzer(PACK_DIR, load_policy_config(SAMPLE_CONFIG), project=PROJECT, stack=STACK) as running:
        yield running


@pytest.fixture
def stack_tags(analyzer: PolicyAnalyzer):
    """`with stack_tags({...}):` analyzes as a stack carrying those tags, then restores none."""

    @contextmanager
    def use(tags: dict[str, str]) -> Iterator[PolicyAnalyzer]:
        analyzer.configure_stack(STACK, tags=tags)
        try:
            yield analyzer
        finally:
            analyzer.configure_stack(STACK, tags={})

    return use
