"""The package's import graph has no cycle, and every module imports first, in any order.

Two graphs: the module-level imports (what runs when a module is imported: top level, inside
top-level ``try``/``if`` blocks, not under ``if TYPE_CHECKING``), whose cycles make an import's
result depend on which module a user imports first; and every import wherever it stands (inside
functions too, and ``importlib.import_module("recbole_easrec…")`` literals), whose cycles are the
ones deferred imports merely hide (issue 16: ``config → registry → model → config``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = "recbole_easrec"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def module_names() -> list[str]:
    names = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(body: list[ast.stmt]) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            found += _top_level_imports(node.body) + _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                found += _top_level_imports(block)
    return found


def _all_imports(body: list[ast.stmt]) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            found += _all_imports(node.orelse)
            continue
        for child in ast.walk(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
    return found


DYNAMIC_IMPORT = re.compile(r"import_module\(\s*[\"'](recbole_easrec[\w.]*)[\"']")


def imported_modules(name: str, known: set[str], deferred: bool = False) -> set[str]:
    """The package's modules that module ``name`` imports at module level (``deferred``: also
    inside functions and through ``importlib`` literals)."""
    path = ROOT.parent / Path(*name.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    source = path.read_text(encoding="utf-8")
    body = ast.parse(source).body
    edges = set(DYNAMIC_IMPORT.findall(source)) & known if deferred else set()
    for node in (_all_imports if deferred else _top_level_imports)(body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative import
                package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    package = package.rsplit(".", 1)[0]
                base = f"{package}.{base}" if base else package
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        edges.update(t for t in targets if t in known)
    return edges - {name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_not_even_through_deferred_imports() -> None:
    names = module_names()
    known = set(names)
    for deferred in (False, True):
        graph = {name: imported_modules(name, known, deferred) for name in names}
        assert sum(map(len, graph.values())) > 40  # the parser does see the package's imports
        assert "recbole_easrec.registry" in graph["recbole_easrec.config"]
        cycle = find_cycle(graph)
        assert cycle is None, " → ".join(cycle or [])
    # deferred edges are seen: saving finds models through the registry inside load_model
    assert "recbole_easrec.registry" in imported_modules("recbole_easrec.saving", known, True)
    assert "recbole_easrec.registry" not in imported_modules("recbole_easrec.saving", known)


def test_models_do_not_import_config() -> None:
    """Model lookup (config → registry → model) must not loop back through config."""
    known = set(module_names())
    for name in known:
        if name.startswith(f"{PACKAGE}.model"):
            assert f"{PACKAGE}.config" not in imported_modules(name, known, deferred=True), name


def test_every_module_imports_first_in_either_order() -> None:
    """Each module imported with no other module of the package loaded (one fresh interpreter;
    the package's modules are dropped from ``sys.modules`` before each import), in sorted and in
    reverse order."""
    code = f"""
import importlib, sys
names = {module_names()!r}
for order in (names, names[::-1]):
    for name in order:
        for loaded in [m for m in sys.modules if m == {PACKAGE!r} or m.startswith({PACKAGE!r} + ".")]:
            del sys.modules[loaded]
        importlib.import_module(name)
print(len(names))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr.splitlines()[-3:]
    assert int(done.stdout.strip().splitlines()[-1]) == len(module_names())
