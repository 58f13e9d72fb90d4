"""pytest plugin for `tools.mutation`: each test is its own coverage context (its node id).

Loaded only by the mutation driver's coverage step (`-p tools.mutation_contexts`)."""

from __future__ import annotations

import coverage
import pytest


def _switch(name: str) -> None:
    current = coverage.Coverage.current()
    if current is not None:
        current.switch_context(name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    # Setup counts as the test's: a fixture that runs the program is what most tests check.
    _switch(item.nodeid)
    yield
    _switch("")
