"""The package installs like a real one: one version, a licence, its data files shipped,
and ``help(Engine)`` a page a person can read."""

import importlib.metadata
import importlib.util
import inspect
import pydoc
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import resilience
from resilience import Engine
from resilience.domain.named import Named

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(resilience.__file__).resolve().parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())

LONGEST_LINE = 200
"""help(Engine)'s lines of text, at most (its signatures are counted per parameter)."""
LONGEST_PARAMETER = 160
"""A parameter as a signature shows it (name, annotation, default), at most: the longest
today, module-qualified as help prints it, is 130 characters (``league_table``'s
``metric``)."""
LONGEST_DEFAULT = 40
"""A default value as a signature shows it, at most."""

# A signature line of help(): "name(...)", "name(...) -> ...", or "alias = name(...)",
# after pydoc's " |  " margin for a class's members.
SIGNATURE_LINE = re.compile(r"^[ |]*(?:\w+ = )?\w+\(.*\)(?: -> .+)?$")


def test_the_version_is_the_installed_distributions() -> None:
    """``resilience.__version__`` is the version pip installed (importlib.metadata)."""
    assert resilience.__version__ == importlib.metadata.version("resilience")


def test_the_version_is_written_in_one_place() -> None:
    """pyproject reads the version from ``resilience.__version__`` rather than repeating it."""
    project = PYPROJECT["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "resilience.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?", resilience.__version__)


def test_the_licence_is_mit_and_pyproject_names_its_file() -> None:
    """LICENSE is the MIT licence of the resilience authors; pyproject and the installed
    metadata say so."""
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 The resilience authors" in text
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    metadata = importlib.metadata.metadata("resilience")
    assert metadata["License-Expression"] == "MIT"
    assert "LICENSE" in metadata.get_all("License-File", [])


def test_the_metadata_names_home_keywords_and_classifiers() -> None:
    """The installed distribution carries its project URLs, keywords and classifiers."""
    metadata = importlib.metadata.metadata("resilience")
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL", []))
    assert urls["Homepage"] == "https://github.com/resilience-community/resilience"
    assert {"Source", "Issues", "Changelog", "Documentation"} <= set(urls)
    assert "incident response" in (metadata["Keywords"] or "")
    classifiers = metadata.get_all("Classifier", [])
    assert "Typing :: Typed" in classifiers
    assert "Natural Language :: Chinese (Simplified)" in classifiers


def _data_files() -> set[Path]:
    """Every file of the package that is not Python source (nor a compiled one)."""
    return {path for path in PACKAGE.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".py"}


def test_every_data_file_of_the_package_is_shipped() -> None:
    """Each non-Python file under src/resilience (scenarios, CSS, schemas, gettext
    catalogues) matches a package-data pattern, so a wheel carries it."""
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["resilience"]
    shipped = {path for pattern in patterns for path in PACKAGE.glob(pattern)}
    found = _data_files()
    assert PACKAGE / "py.typed" in found
    assert found - shipped == set(), "add a package-data pattern to pyproject.toml"


def _help(thing: object) -> str:
    return pydoc.plain(pydoc.render_doc(thing))


def _signatures(cls: type) -> Iterator[tuple[str, inspect.Signature]]:
    """The signatures help(cls) shows: the class's own, and each public method's and
    query's (a delegated query shows the service method's, through ``__wrapped__``)."""
    yield cls.__name__, inspect.signature(cls)
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not callable(member):
            continue
        yield name, inspect.signature(member)


def test_help_engine_shows_each_default_in_a_few_characters() -> None:
    """Every default value in the signatures help(Engine) shows reads as a short name
    (``BUILT_IN``, ``DEFAULT_POLICY``, ``system_clock``), never a giant repr nor an object
    with its address."""
    for name, signature in _signatures(Engine):
        for parameter in signature.parameters.values():
            assert len(str(parameter)) <= LONGEST_PARAMETER, (name, str(parameter)[:300])
            if parameter.default is inspect.Parameter.empty:
                continue
            shown = repr(parameter.default)
            assert len(shown) <= LONGEST_DEFAULT, (name, parameter.name, shown[:100])
            assert " at 0x" not in shown, (name, parameter.name, shown)
            assert str(parameter).endswith(f"= {shown}")


def test_help_engine_is_a_page_a_person_can_read() -> None:
    """help(Engine) has no object shown by its address, and no line longer than 200
    characters but its signatures, which Python 3.11's help prints on one line however many
    parameters they have (each parameter is bounded by the test above)."""
    text = _help(Engine)
    assert re.search(r"<[^>\n]* at 0x[0-9a-f]+>", text) is None
    long_lines = [line for line in text.splitlines()
                  if len(line) > LONGEST_LINE and not SIGNATURE_LINE.match(line)]
    assert long_lines == []
    assert len(text) < 60_000  # ~21,000 characters; 160,000 with the defaults in full


@pytest.mark.parametrize("default", ["BUILT_IN", "RATES", "DEFAULT_OBJECTIVES"])
def test_a_tuple_of_built_ins_is_the_plain_tuple_shown_by_its_name(default: str) -> None:
    """``BUILT_IN``, ``RATES`` and ``DEFAULT_OBJECTIVES`` equal, hash, iterate, index and
    slice as the plain tuple of their items, and are tuples to a type check; only their
    repr is their name."""
    value = getattr(resilience, default)
    plain = tuple(value)
    assert isinstance(value, tuple)
    assert value == plain
    assert plain == value
    assert hash(value) == hash(plain)
    assert list(value) == list(plain)
    assert value[0] is plain[0]
    assert len(value) == len(plain)
    assert value[1:] == plain[1:]
    assert type(value[1:]) is tuple
    assert value + plain == plain + plain
    assert repr(value) == default


def test_a_named_tuple_round_trips_through_pickle_and_copy() -> None:
    """A ``Named`` keeps its name and items through pickle and deepcopy."""
    import copy
    import pickle

    named = Named("EXAMPLE", (1, 2))
    for again in (pickle.loads(pickle.dumps(named)), copy.deepcopy(named)):
        assert type(again) is Named
        assert again == (1, 2)
        assert repr(again) == "EXAMPLE"


@pytest.mark.parametrize("default", ["DEFAULT_CATALOGUE", "DEFAULT_POLICY", "DEFAULT_ESCALATION"])
def test_a_built_in_value_is_shown_by_its_name_and_an_equal_one_in_full(default: str) -> None:
    """The default catalogue, policy and escalation policy show as their names; an equal
    value built from the same fields is equal to them both ways and shows every field."""
    value = getattr(resilience, default)
    assert repr(value) == default
    rebuilt = attrs.evolve(value)
    assert rebuilt is not value
    assert rebuilt == value
    assert value == rebuilt
    assert repr(rebuilt).startswith(f"{type(value).__name__}(")
    assert len(repr(rebuilt)) > 200


def test_the_system_clock_is_shown_by_its_name_and_tells_the_time() -> None:
    """``system_clock`` shows as its name, and still gives an aware UTC moment."""
    clock: Callable[[], Any] = resilience.system_clock
    assert repr(clock) == "system_clock"
    assert clock().utcoffset() is not None


def test_the_package_docstring_points_to_the_engine() -> None:
    """``help(resilience)`` starts by saying what it is and sends the reader to Engine."""
    doc = resilience.__doc__ or ""
    assert "Engine" in doc.split("\n\n")[1]
    assert "help(Engine)" in doc


def test_every_query_on_the_engine_is_in_the_api_reference() -> None:
    """docs/api/engine.md lists each query the engine delegates to a service, with a link
    mkdocstrings resolves (``make docs`` fails on one it cannot)."""
    page = (ROOT / "docs" / "api" / "engine.md").read_text()
    delegated = {name: member.__wrapped__ for name, member in vars(Engine).items()
                 if callable(member) and hasattr(member, "__wrapped__")}
    assert len(delegated) > 10
    for name, method in delegated.items():
        target = f"{method.__module__}.{method.__qualname__}"
        assert f"| `engine.{name}` | [`{method.__qualname__}`][{target}] |" in page, name


def test_the_api_reference_shows_docstring_roles_as_code() -> None:
    """The API reference's griffe extension (tools/griffe_roles.py) turns a docstring's
    ``:class:`...``` roles into inline code of the name, a module's in full."""
    spec = importlib.util.spec_from_file_location("griffe_roles",
                                                  ROOT / "tools" / "griffe_roles.py")
    assert spec is not None
    assert spec.loader is not None
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)
    text = ("Open :class:`Engine`, then :func:`~resilience.i18n.language` "
            "(:mod:`resilience.exports`; :meth:`Engine.batch`)")
    assert roles.ROLE.sub(roles.shown, text) == (
        "Open ``Engine``, then ``language`` (``resilience.exports``; ``batch``)")
