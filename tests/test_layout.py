"""The program's layout rules (ARCHITECTURE.md, Conventions), read from the sources:

* a stack module (one per layer, `stacks/<layer>.py`, optionally split into parts
  `stacks/<layer>_<part>.py`) never imports another layer's stack module;
* what stacks share lives in the typed settings (`stacks/*_settings.py`, `config`,
  `config_model`) or in components, and those modules import one another without a cycle,
  counting imports inside functions (a lazy import only hides a cycle);
* components and policy documents never import the stacks.
"""

from __future__ import annotations

import ast
from pathlib import Path

from stacks.config import LAYERS

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
# Modules of stacks/ every stack may use, which are not stacks themselves.
SUPPORT = {"__init__", "common", "context", "config", "config_model"}


def _imports(path: Path) -> set[str]:
    """Every module `path` imports at run time (top level and inside functions; imports under
    `if TYPE_CHECKING:` are for annotations only and never run)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # `from stacks import data_settings` imports the module stacks.data_settings.
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if (ROOT / node.module.replace(".", "/") / f"{alias.name}.py").exists())
    return found


def _stack_imports(path: Path) -> set[str]:
    return {m.removeprefix("stacks.") for m in _imports(path) if m.startswith("stacks.")}


def _modules() -> dict[str, Path]:
    return {p.stem: p for p in sorted(STACKS.glob("*.py"))}


def _is_settings(name: str) -> bool:
    return name in SUPPORT or name.endswith("_settings")


def _layer_of(name: str) -> str | None:
    """The layer a stack module belongs to: `<layer>` itself or a part `<layer>_<part>`."""
    layers = sorted((layer.replace("-", "_") for layer in LAYERS), key=len, reverse=True)
    return next((layer for layer in layers if name == layer or name.startswith(f"{layer}_")), None)


def test_every_module_of_stacks_is_a_layer_or_settings():
    strays = [name for name in _modules() if not _is_settings(name) and _layer_of(name) is None]
    assert not strays, f"stacks/ modules that are neither a layer's stack module nor settings: {strays}"


def test_every_layer_has_its_stack_module():
    assert {layer.replace("-", "_") for layer in LAYERS} <= set(_modules())


def test_no_stack_module_imports_another_layer():
    found = []
    for name, path in _modules().items():
        if _is_settings(name):
            continue
        for imported in _stack_imports(path):
            if not _is_settings(imported) and _layer_of(imported) != _layer_of(name):
                found.append(f"stacks/{name}.py imports stacks.{imported}")
    assert not found, "a stack module imports another layer's stack module:\n" + "\n".join(found)


def test_settings_import_only_settings_without_a_cycle():
    modules = _modules()
    graph = {name: {m for m in _stack_imports(path) if m in modules and m != "__init__"}
             for name, path in modules.items() if _is_settings(name)}
    wrong = {name: sorted(m for m in deps if not _is_settings(m)) for name, deps in graph.items()}
    assert not any(wrong.values()), f"settings modules importing stack modules: {wrong}"
    # Depth-first search for a cycle, reporting the path.
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = "open"
        for dep in sorted(graph.get(name, ())):
            if state.get(dep) == "open":
                return [*path, name, dep]
            if dep not in state and (cycle := visit(dep, [*path, name])):
                return cycle
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = visit(name, [])
            assert cycle is None, "import cycle between settings modules: " + " -> ".join(cycle)


def test_components_and_policy_documents_never_import_stacks():
    found = [f"{p.relative_to(ROOT)} imports {m}"
             for folder in ("components", "policy_documents") for p in sorted((ROOT / folder).glob("*.py"))
             for m in _imports(p) if m == "stacks" or m.startswith("stacks.")]
    assert not found, found


def test_the_checker_sees_lazy_imports_and_skips_type_checking(tmp_path):
    # The rules above must not be blind to an import inside a function.
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from stacks.config import X\n"
                      "def f():\n    from stacks import network_settings\n")
    assert _stack_imports(module) == {"network_settings"}
