"""dtcd's own imports form no cycle, counting imports inside functions too.

A function-level import hides a cycle from Python at import time, but the two modules still
depend on each other. Every module under ``dtcd/`` is parsed (not imported); an import of a
``dtcd`` module at any depth is an edge, except under ``if TYPE_CHECKING:`` (never executed).
``from dtcd.x import y`` is an edge to ``dtcd.x.y`` when that is a module, else to ``dtcd.x``;
relative imports are resolved against the importing module. Importing ``dtcd.x.y`` also runs the
package ``dtcd.x``'s ``__init__``, but that implicit edge is not counted: every package whose
``__init__`` re-exports its modules would otherwise be a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dtcd

PACKAGE_ROOT = Path(dtcd.__file__).parent


def module_names() -> dict[str, Path]:
    """Dotted name of every module under ``dtcd/`` (a package by its ``__init__``)."""
    names = {}
    for path in sorted(PACKAGE_ROOT.rglob('*.py')):
        parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix('').parts
        if parts[-1] == '__init__':
            parts = parts[:-1]
        names['.'.join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or (
        isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING'
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth, except in the body of ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_modules(name: str, path: Path, modules: set[str]) -> set[str]:
    """The ``dtcd`` modules that module ``name`` (at ``path``) imports."""
    is_package = path.name == '__init__.py'
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ''
        if node.level:  # relative: from the importing module's package, up level - 1
            package = name.split('.') if is_package else name.split('.')[:-1]
            anchor = package[: len(package) - (node.level - 1)]
            base = '.'.join([*anchor, *([base] if base else [])])
        for alias in node.names:
            submodule = f'{base}.{alias.name}'
            targets.add(submodule if submodule in modules else base)
    return {t for t in targets if t in modules and t != name}


def import_graph() -> dict[str, set[str]]:
    """Module to the ``dtcd`` modules it imports."""
    names = module_names()
    return {name: imported_modules(name, path, set(names)) for name, path in names.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or ``None`` (depth-first, deterministic)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_graph_sees_function_level_and_from_imports() -> None:
    graph = import_graph()
    assert 'dtcd.models.student' in graph['dtcd.models.checkpoints']  # module-level
    assert 'dtcd.analysis.plots' in graph['dtcd.sweep']  # inside run_sweep
    assert 'dtcd.models.checkpoints' in graph['dtcd.models']  # the package __init__


def test_find_cycle_reports_the_path() -> None:
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) is None


def test_dtcd_imports_have_no_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle or ())
