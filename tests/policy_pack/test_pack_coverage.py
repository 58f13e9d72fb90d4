"""Every policy of the pack has at least one compliant and one non-compliant test.

Read statically from the test modules: the policy names passed to `assert_violation` and
`assert_clean`, as literals, module constants or the literal tuple a `for` loop walks.
"""

from __future__ import annotations

import ast
from pathlib import Path

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
