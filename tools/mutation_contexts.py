"""pytest plugin for `tools.mutation`: each test is its own coverage context (its node id).

Loaded only by the mutation driver's coverage step (`-p tools.mutation_contexts`), which runs
many test files in one pytest process so the sample runs are made once. Each test's node id
is the coverage context of the test process and, through the serialized configuration that
coverage.py hands to subprocesses, the static context of every subprocess the test starts (the
policy pack), so the pack's lines name the test that ran them too.

It also writes, to `$MUTATION_FIXTURES`, which fixtures each test uses and how long it took:
the sample runs are cached per session, so a line of the program runs only in the first test
that asks for a stack, yet every later test asserts on what that run registered."""

from __future__ import annotations

import copy
import json
import os
from collections import defaultdict

import pytest

_CONFIG = "COVERAGE_PROCESS_CONFIG"
_durations: dict[str, float] = defaultdict(float)
_fixtures: dict[str, list[str]] = {}
_shared: dict[str, list[str]] = {}


def _switch(name: str) -> None:
    import coverage  # a development dependency (requirements-dev.txt), present where the plugin runs

    current = coverage.Coverage.current()
    if current is None:
        return
    current.switch_context(name)
    if _CONFIG in os.environ:
        # Subprocesses started from now on record under this test's node id.
        config = copy.copy(current.config)
        config.context = name or None
        os.environ[_CONFIG] = config.serialize()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    # Setup counts as the test's: a fixture that runs the program is what most tests check.
    _switch(item.nodeid)
    yield
    _switch("")


def pytest_runtest_logreport(report):
    _durations[report.nodeid] += report.duration


def shared_instances(item) -> list[str]:
    """The instances of the repository's broader-scoped fixtures `item` uses, each named by
    scope, where it is shared (the test file for a module, nothing for the session) and name:
    such a fixture runs code in the first test that asks for it only, and later ones reuse it."""
    found = []
    info = getattr(item, "_fixtureinfo", None)
    for name, definitions in (info.name2fixturedefs.items() if info else ()):
        definition = definitions[-1]
        code = getattr(definition.func, "__code__", None)
        # pytest's and plugins' own fixtures (tmp_path_factory, ...) hold no program state.
        if definition.scope == "function" or code is None or "site-packages" in code.co_filename:
            continue
        where = {"session": "", "package": definition.baseid, "module": item.nodeid.split("::", 1)[0],
                 "class": item.nodeid.rsplit("::", 1)[0]}.get(definition.scope, item.nodeid)
        found.append(f"{definition.scope}:{where}:{name}")
    return sorted(found)


def pytest_collection_finish(session):
    _fixtures.update({item.nodeid: sorted(getattr(item, "fixturenames", ())) for item in session.items})
    _shared.update({item.nodeid: shared_instances(item) for item in session.items})


def pytest_sessionfinish(session):
    out = os.environ.get("MUTATION_FIXTURES")
    if out:
        with open(out, "w") as f:
            json.dump({"fixtures": _fixtures, "shared": _shared, "durations": dict(_durations)}, f)
