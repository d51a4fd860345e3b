"""Imports point one way: no cycles between modules, and each layer imports only those below it.

The rule is written in docs/concepts.md ("Which package imports which"). The
imports are read from the source with ``ast``, as they run: an import inside a
function counts (it runs when the function does), one under
``if TYPE_CHECKING:`` does not (it never runs). Importing a submodule also
runs its package's ``__init__``; that edge is not drawn, because every
package's ``__init__`` imports its own submodules: the layer check keeps
those runs acyclic across packages, the cycle check within one.

The imports under ``if TYPE_CHECKING:`` are read apart (``type_only``): the
modules they tie into a cycle with the running imports must be a group of
TYPE_ONLY_CYCLES, so that each such cycle is one someone chose.
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
    "errors", "i18n", "domain", "clock", "adapters", "timeline", "projections", "metrics",
    "review", "services", "exports", "engine", "listing", "open311", "scenario_reader",
    "scenario_entries", "scenario", "scenarios", "simulation", "cli",
)
"""The layers of resilience, bottom to top: each imports only from those before it (and
from itself). The package's own ``__init__`` sits above them all."""

TYPE_ONLY_CYCLES: Collection[frozenset[str]] = (
    # An AfterActionReview renders itself (review.to_html(), .to_markdown(), .to_dict()),
    # so the model imports its renderers when it runs; the renderers name the model's
    # classes only in their annotations.
    frozenset({
        "resilience.review.model", "resilience.review.chart", "resilience.review.data",
        "resilience.review.document", "resilience.review.html", "resilience.review.markdown",
        "resilience.review.blocks", "resilience.review.response",
    }),
)
"""The groups of modules that may import each other round a cycle, as long as one import
of the cycle is only for the type checker (under ``if TYPE_CHECKING:``)."""

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


def _imports(node: ast.AST,
             type_only: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement below ``node``, and whether it is only for the type checker:
    under ``if TYPE_CHECKING:`` (not under its ``else:``, which runs)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, type_only
        elif isinstance(child, ast.If) and _type_checking(child.test):
            for branch in child.body:
                yield from _imports(ast.Module(body=[branch], type_ignores=[]), True)
            for branch in child.orelse:
                yield from _imports(ast.Module(body=[branch], type_ignores=[]), type_only)
        else:
            yield from _imports(child, type_only)


def imports_of(module: str, source: str, modules: Collection[str], *,
               package: bool = False, type_only: bool = False) -> set[str]:
    """The modules of ``modules`` that ``module`` imports when it runs (``type_only``:
    those it imports only under ``if TYPE_CHECKING:``, for the type checker).

    ``from a.b import c`` imports ``a.b.c`` when that is a module, else ``a.b``;
    relative imports are resolved against ``module``, a package's ``__init__``
    (``package``) being named as the package.
    """
    found: set[str] = set()
    for statement, only_typed in _imports(ast.parse(source)):
        if only_typed != type_only:
            continue
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


def import_graph(root: Path = SOURCE, *, type_only: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (``type_only``: only for the type
    checker), for every module of the package."""
    modules = module_names(root)
    return {name: imports_of(name, path.read_text(encoding="utf-8"), modules,
                             package=path.name == "__init__.py", type_only=type_only)
            for name, path in modules.items()}


def cyclic_groups(graph: Graph) -> list[set[str]]:
    """Each group of modules that import each other, round or not, directly or not: each
    strongly connected component on a cycle (of two modules or more, or of one importing
    itself)."""
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
    return [c for c in components if len(c) > 1 or min(c) in graph.get(min(c), ())]


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle (a path ending where it starts) for each of the graph's cyclic groups."""
    return sorted(_shortest_cycle(graph, min(group), group) for group in cyclic_groups(graph))


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


def test_the_only_cycles_closed_by_type_only_imports_are_the_allowed_ones() -> None:
    """Imports under TYPE_CHECKING tie modules into a cycle only in a group of
    TYPE_ONLY_CYCLES, and each of those groups is still tied so."""
    runtime, type_only = import_graph(), import_graph(type_only=True)
    both = {module: runtime[module] | type_only[module] for module in runtime}
    found = cyclic_groups(both)
    assert {frozenset(group) for group in found} == set(TYPE_ONLY_CYCLES), (
        "cycles through type-only imports:\n"
        + "\n".join(" -> ".join(c) for c in cycles(both)))


def test_the_graphs_hold_the_packages_modules_and_imports() -> None:
    """The checks above read the real package: imports known to be there are found
    (the type-only ones apart), over all of its modules."""
    runtime, type_only = import_graph(), import_graph(type_only=True)
    assert len(runtime) >= 60
    assert sum(map(len, runtime.values())) >= 250
    for module, imported in [
        ("resilience.engine", "resilience.services.reports"),
        ("resilience.projections.folds", "resilience.domain.incident"),
        ("resilience.review.model", "resilience.review.html"),
        ("resilience.scenario", "resilience.review.keys"),
        ("resilience", "resilience.engine"),
    ]:
        assert imported in runtime[module], f"{module} imports {imported}"
    assert "resilience.review.model" in type_only["resilience.review.html"]
    assert "resilience.review.model" not in runtime["resilience.review.html"]


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


def made_up_graph(*, type_only: bool = False) -> dict[str, set[str]]:
    packages = {name.rpartition(".")[0] for name in MADE_UP}
    return {name: imports_of(name, source, MADE_UP, package=name in packages,
                             type_only=type_only)
            for name, source in MADE_UP.items()}


def test_imports_are_read_as_they_run() -> None:
    """Imports in functions count, those under TYPE_CHECKING don't (they are read apart);
    relative ones resolve."""
    assert made_up_graph(type_only=True) == {
        name: {"resilience.services.core"} if name == "resilience.domain.a" else set()
        for name in MADE_UP}
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
    assert cyclic_groups({"x": {"y"}, "y": {"z", "x"}, "z": {"z"}, "w": {"x"}}) == [
        {"z"}, {"x", "y"}]


def test_an_import_from_a_layer_above_is_reported() -> None:
    """A layer importing from one above it, or from a layer not listed, is reported;
    the package's own __init__ may import anything."""
    graph = made_up_graph()
    assert upward_imports(graph, ("errors", "domain", "services", "cli")) == []
    assert upward_imports(graph, ("errors", "services", "domain", "cli")) == [
        "resilience.services.core imports resilience.domain.a: services is below domain"]
    assert upward_imports(graph, ("domain", "services", "cli")) == [
        "resilience.domain.a imports resilience.errors: errors is no layer"]
