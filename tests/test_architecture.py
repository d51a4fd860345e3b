"""Imports point one way: no cycles between modules, and each layer imports only those below it.

The rule is written in docs/concepts.md ("Which package imports which"). The
imports are read from the source with ``ast``, as they run: an import inside a
function counts (it runs when the function does), one under
``if TYPE_CHECKING:`` does not (it never runs). Importing a submodule also
runs its package's ``__init__``; that edge is not drawn, because every
package's ``__init__`` imports its own submodules: the layer check keeps
those runs acyclic across packages, the cycle check within one.
"""

import ast
import subprocess
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

import resilience

PACKAGE = "resilience"
SOURCE = Path(resilience.__file__).resolve().parent

LAYERS: Sequence[str] = (
    "errors", "domain", "clock", "adapters", "timeline", "projections", "metrics", "review",
    "services", "engine", "scenario_reader", "scenario_entries", "scenario", "scenarios", "cli",
)
"""The layers of resilience, bottom to top: each imports only from those before it (and
from itself). The package's own ``__init__`` sits above them all."""

Graph = Mapping[str, Collection[str]]


def module_names(root: Path = SOURCE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((PACKAGE, *parts))] = path
    return found


def _type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement below ``node`` that can run: all but those under
    ``if TYPE_CHECKING:`` (its ``else:`` runs, so it counts)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _type_checking(child.test):
            for branch in child.orelse:
                yield from _runtime_imports(ast.Module(body=[branch], type_ignores=[]))
        else:
            yield from _runtime_imports(child)


def imports_of(module: str, source: str, modules: Collection[str], *,
               package: bool = False) -> set[str]:
    """The modules of ``modules`` that ``module`` imports when it runs.

    ``from a.b import c`` imports ``a.b.c`` when that is a module, else ``a.b``;
    relative imports are resolved against ``module``, a package's ``__init__``
    (``package``) being named as the package.
    """
    found: set[str] = set()
    for statement in _runtime_imports(ast.parse(source)):
        if isinstance(statement, ast.Import):
            found.update(alias.name for alias in statement.names)
            continue
        base = statement.module or ""
        if statement.level:
            anchor = module.split(".")
            anchor = anchor[:len(anchor) - statement.level + (1 if package else 0)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in statement.names:
            submodule = f"{base}.{alias.name}"
            found.add(submodule if submodule in modules else base)
    return {m for m in found if m in modules and m != module}


def import_graph(root: Path = SOURCE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, for every module of the package."""
    modules = module_names(root)
    return {name: imports_of(name, path.read_text(encoding="utf-8"), modules,
                             package=path.name == "__init__.py")
            for name, path in modules.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle (a path ending where it starts) for each group of modules that import
    each other, round or not, directly or not (each strongly connected component)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        order[node] = low[node] = len(order)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in sorted(graph):
        if node not in order:
            visit(node)
    found = []
    for component in components:
        start = min(component)
        if len(component) > 1 or start in graph.get(start, ()):
            found.append(_shortest_cycle(graph, start, component))
    return sorted(found)


def _shortest_cycle(graph: Graph, start: str, within: set[str]) -> list[str]:
    """The shortest path from ``start`` back to itself through ``within``."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    return [*paths[node], start]
                if nxt in within and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is on no cycle")


def layer(module: str) -> str:
    """The layer of a module: its top-level package or module below resilience ("" for
    the package's own ``__init__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def upward_imports(graph: Graph, layers: Sequence[str] = LAYERS) -> list[str]:
    """Each import of a module from a layer above its own (or from a layer not in
    ``layers``), said as a sentence. The package's ``__init__`` may import anything."""
    rank = {name: index for index, name in enumerate(layers)}
    found = []
    for module in sorted(graph):
        here = layer(module)
        if not here:
            continue
        for imported in sorted(graph[module]):
            there = layer(imported)
            if here not in rank or there not in rank:
                unknown = here if here not in rank else there
                found.append(f"{module} imports {imported}: {unknown or PACKAGE} is no layer")
            elif rank[there] > rank[here]:
                found.append(f"{module} imports {imported}: {here} is below {there}")
    return found


# The package ---------------------------------------------------------------------------


def test_no_modules_of_the_package_import_each_other_round_in_a_cycle() -> None:
    """No module imports, directly or through others, a module that imports it."""
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    """Every module imports only from its own layer and those below it in LAYERS."""
    found = upward_imports(import_graph())
    assert not found, "imports against the layers' order:\n" + "\n".join(found)


def test_every_top_level_module_and_package_has_a_layer() -> None:
    """A new top-level module or package must be given its place in LAYERS."""
    placed = {layer(name) for name in module_names()} - {""}
    assert placed == set(LAYERS)


def test_the_library_opens_sqlite_and_memory_stores_without_psycopg() -> None:
    """psycopg comes with the postgres extra: only a PostgreSQL store may need it."""
    script = (
        "import sys, tempfile, os\n"
        "sys.modules['psycopg'] = None  # an import of it now fails, as when not installed\n"
        "import resilience.cli\n"
        "from resilience import Engine\n"
        "with Engine('memory:') as engine:\n"
        "    engine.metrics('turnout')\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    with Engine('sqlite:///' + os.path.join(d, 'x.db')) as engine:\n"
        "        engine.metrics('turnout')\n"
        "assert 'eventsourcing.postgres' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


# The checks themselves, on a package made up here -----------------------------------------

MADE_UP = {
    "resilience": "from resilience.cli import main\n",
    "resilience.errors": "",
    "resilience.domain": "",
    "resilience.domain.a": (
        "from typing import TYPE_CHECKING\n"
        "from resilience import errors\n"
        "if TYPE_CHECKING:\n"
        "    from resilience.services import core  # never runs: not an import\n"
        "def later():\n"
        "    from . import b  # runs when called: an import\n"
    ),
    "resilience.domain.b": "import resilience.domain.a\n",
    "resilience.services": "",
    "resilience.services.core": "from ..domain.a import thing\n",
    "resilience.cli": "from resilience.services import core\nimport resilience.domain\n",
}


def made_up_graph() -> dict[str, set[str]]:
    packages = {name.rpartition(".")[0] for name in MADE_UP}
    return {name: imports_of(name, source, MADE_UP, package=name in packages)
            for name, source in MADE_UP.items()}


def test_imports_are_read_as_they_run() -> None:
    """Imports in functions count, those under TYPE_CHECKING don't; relative ones resolve."""
    assert made_up_graph() == {
        "resilience": {"resilience.cli"},
        "resilience.errors": set(),
        "resilience.domain": set(),
        "resilience.domain.a": {"resilience.errors", "resilience.domain.b"},
        "resilience.domain.b": {"resilience.domain.a"},
        "resilience.services": set(),
        "resilience.services.core": {"resilience.domain.a"},
        "resilience.cli": {"resilience.services.core", "resilience.domain"},
    }


def test_a_cycle_is_reported_as_the_path_round_it() -> None:
    """Two modules importing each other (one of them in a function) make a cycle."""
    assert cycles(made_up_graph()) == [
        ["resilience.domain.a", "resilience.domain.b", "resilience.domain.a"]]
    assert cycles({"x": {"x"}, "y": set()}) == [["x", "x"]]
    assert cycles({"x": {"y"}, "y": {"z"}, "z": set()}) == []


def test_an_import_from_a_layer_above_is_reported() -> None:
    """A layer importing from one above it, or from a layer not listed, is reported;
    the package's own __init__ may import anything."""
    graph = made_up_graph()
    assert upward_imports(graph, ("errors", "domain", "services", "cli")) == []
    assert upward_imports(graph, ("errors", "services", "domain", "cli")) == [
        "resilience.services.core imports resilience.domain.a: services is below domain"]
    assert upward_imports(graph, ("domain", "services", "cli")) == [
        "resilience.domain.a imports resilience.errors: errors is no layer"]
