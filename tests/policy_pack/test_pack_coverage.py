"""Every policy of the pack has at least one compliant and one non-compliant test.

Read statically from the test modules: the policy names passed to `assert_violation` and
`assert_clean`, as literals, module constants or the literal tuple a `for` loop walks.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from pack_helpers import SAMPLE_CONFIG

HERE = Path(__file__).resolve().parent


def _strings(node: ast.AST, names: dict[str, set[str]]) -> set[str]:
    """The string constants an expression stands for: a literal, a tuple or list of them, a
    module constant, or a concatenation of those."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List)):
        return {v for e in node.elts for v in _strings(e, names)}
    if isinstance(node, ast.Name):
        return names.get(node.id, set())
    if isinstance(node, ast.BinOp):
        return _strings(node.left, names) | _strings(node.right, names)
    return set()


def _asserted() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"assert_violation": set(), "assert_clean": set()}
    for path in HERE.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        names: dict[str, set[str]] = {}
        for node in tree.body:  # module constants first, so loops can use them
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        names.setdefault(target.id, set()).update(_strings(node.value, names))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        names.setdefault(target.id, set()).update(_strings(node.value, names))
            if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
                names.setdefault(node.target.id, set()).update(_strings(node.iter, names))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in found and len(node.args) > 1:
                found[node.func.id].update(_strings(node.args[1], names))
    return found


def test_every_policy_has_compliant_and_non_compliant_tests(analyzer):
    policies = {p.name for p in analyzer.info.policies}
    asserted = _asserted()
    assert len(policies) >= 40
    assert sorted(policies - asserted["assert_violation"]) == [], "policies without a non-compliant test"
    assert sorted(policies - asserted["assert_clean"]) == [], "policies without a compliant test"


# Tested once for every policy, by the shared mechanism (tests of exemptions in test_pack_protocol.py).
GENERIC_PROPERTIES = {"exemptResources", "exemptTags"}


def _parametrized(function: ast.FunctionDef, names: dict[str, set[str]]) -> dict[str, set[str]]:
    """The strings each argument of a `pytest.mark.parametrize` decorator takes."""
    found: dict[str, set[str]] = {}
    for decorator in function.decorator_list:
        if not (isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "parametrize"
                and len(decorator.args) >= 2):
            continue
        if isinstance(decorator.args[0], (ast.Tuple, ast.List)):
            columns = [e.value for e in decorator.args[0].elts if isinstance(e, ast.Constant)]
        else:
            columns = [a.strip() for a in next(iter(_strings(decorator.args[0], names)), "").split(",")]
        for row in getattr(decorator.args[1], "elts", []):
            cells = row.elts if isinstance(row, ast.Tuple) and len(columns) > 1 else [row]
            for column, cell in zip(columns, cells):
                found.setdefault(column, set()).update(_strings(cell, names))
    return found


def _configured() -> set[tuple[str, str]]:
    """(policy, property) pairs some test sets with `analyzer.configured({...})`."""
    pairs: set[tuple[str, str]] = set()
    for path in HERE.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            names = _parametrized(function, {})
            for node in ast.walk(function):  # local constants (`policy = "kms-1-..."`)
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            names.setdefault(target.id, set()).update(_strings(node.value, names))
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "configured"
                        and node.args and isinstance(node.args[0], ast.Dict)):
                    continue
                for key, value in zip(node.args[0].keys, node.args[0].values):
                    if key is None or not isinstance(value, ast.Dict):
                        continue
                    for policy in _strings(key, names):
                        pairs.update((policy, p) for p in _strings(ast.List(elts=value.keys), names))
    return pairs


def test_every_configurable_value_of_every_policy_is_tested_configured(analyzer):
    # A policy's configuration is part of its logic: each value it reads is set by a test to
    # something other than its default, so a check that ignores it (or misreads it) fails.
    wanted = {(p.name, prop) for p in analyzer.info.policies
              for prop in p.config_schema if prop not in GENERIC_PROPERTIES}
    assert len(wanted) > 30
    # The session's analyzer runs with the sample configuration: what it sets is tested configured.
    sample = {(policy, prop) for policy, values in json.loads(SAMPLE_CONFIG.read_text()).items()
              if isinstance(values, dict) for prop in values}
    missing = sorted(wanted - _configured() - sample)
    assert not missing, "\n".join(f"{policy}: {prop}" for policy, prop in missing)
