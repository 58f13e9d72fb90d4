"""pytest plugin for `tools.mutation`: each test is its own coverage context (its node id).

Loaded only by the mutation driver's coverage step (`-p tools.mutation_contexts`). It also
writes which fixtures each test uses (to `$MUTATION_FIXTURES`), because the sample runs are
cached per session: a line of the program runs only in the first test that asks for a stack,
yet every later test asserts on what that run registered."""

from __future__ import annotations

import json
import os

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


def pytest_collection_finish(session):
    out = os.environ.get("MUTATION_FIXTURES")
    if out:
        with open(out, "w") as f:
            json.dump({item.nodeid: sorted(getattr(item, "fixturenames", ())) for item in session.items}, f)
