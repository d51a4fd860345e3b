"""The JSON Schema of scenario files (src/resilience/schemas/scenario.schema.json): what
editors check a file against says what a replay accepts."""

import copy
import importlib.util
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from resilience import Engine, ResilienceError
from resilience.scenario import parse_scenario, replay
from resilience.scenarios import DIRECTORY
from test_docs import DOCS, fenced_blocks

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(DIRECTORY.glob("*.json"))


@cache
def schema() -> dict[str, Any]:
    text = (files("resilience") / "schemas" / "scenario.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def valid(document: object) -> bool:
    return validator().is_valid(document)


def replays(document: object) -> bool:
    """A replay into a fresh memory store takes the file (nothing is refused)."""
    try:
        with Engine("memory:") as engine:
            replay(engine, parse_scenario(json.dumps(document)))
    except ResilienceError:
        return False
    return True


def test_the_schema_is_a_draft_2020_12_schema_editors_can_find() -> None:
    """It declares its dialect and an ``$id`` (a URL editors can fetch), and is itself a
    valid schema of that dialect."""
    found = schema()
    assert found["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert found["$id"].startswith("https://")
    assert found["$id"].endswith("/src/resilience/schemas/scenario.schema.json")
    assert validator_for(found) is Draft202012Validator
    Draft202012Validator.check_schema(found)


def test_the_schema_is_what_the_generator_writes_from_the_commands() -> None:
    """Generated from the engine's command signatures (tools/scenario_schema.py): a
    command or argument added without regenerating it fails here."""
    spec = importlib.util.spec_from_file_location("scenario_schema",
                                                  ROOT / "tools" / "scenario_schema.py")
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    written = (ROOT / "src" / "resilience" / "schemas" / "scenario.schema.json").read_text(
        encoding="utf-8")
    assert written == generator.text(), "run: python tools/scenario_schema.py"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_every_shipped_scenario_is_valid(path: Path) -> None:
    """The scenarios the library ships validate."""
    errors = [f"{e.json_path}: {e.message}"
              for e in validator().iter_errors(json.loads(path.read_text("utf-8")))]
    assert errors == []


def documented() -> Iterator[Any]:
    """Every JSON scenario and action the docs show: json blocks, and the files bash
    blocks write with ``cat > FILE.json <<'EOF'``."""
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text("utf-8")
        blocks = [code for _, code in fenced_blocks(text, "json")]
        for _, code in fenced_blocks(text, "bash"):
            blocks += re.findall(r"<<'EOF'\n(.*?)\nEOF", code, re.DOTALL)
        for code in blocks:
            try:
                document = json.loads(code)
            except json.JSONDecodeError:
                continue  # a fragment that is not a whole value
            if isinstance(document, dict) and ("actions" in document or "do" in document):
                yield pytest.param(document, id=f"{path.name}:{document.get('do', 'file')}")


@pytest.mark.parametrize("document", list(documented()))
def test_every_documented_scenario_and_action_is_valid(document: dict[str, Any]) -> None:
    """A whole file validates against the schema, one action against its ``action``."""
    against = schema() if "actions" in document else {
        "$schema": schema()["$schema"], "$defs": schema()["$defs"], "$ref": "#/$defs/action"}
    errors = [f"{e.json_path}: {e.message}"
              for e in Draft202012Validator(against).iter_errors(document)]
    assert errors == []


def test_documented_examples_cover_every_kind_of_target() -> None:
    """The docs' examples reach the community's, an incident's, an order's, an
    improvement's and an emergency's commands (so the test above checks each)."""
    seen = set()
    for param in documented():
        document = param.values[0]
        for action in document.get("actions", [document]):
            seen |= {k for k in ("incident", "order", "improvement", "emergency")
                     if k in action} or {"community"}
    assert seen == {"community", "incident", "order", "improvement", "emergency"}


# Files the replay refuses for their structure ---------------------------------------------

BASE: dict[str, Any] = json.loads((DIRECTORY / "xiangyang_orders.json").read_text("utf-8"))
OTHER_TYPES: list[Any] = [7, 2.5, "text", True, [], {}, ["x"], {"x": 1}]


def _type(value: Any) -> str:
    return "number" if type(value) in (int, float) else type(value).__name__


@st.composite
def retyped(draw: st.DrawFn) -> dict[str, Any]:
    """The shipped Xiangyang file with one value of one entry (one of its own keys or an
    argument, or a value inside one) replaced by a value of another JSON type."""
    document: dict[str, Any] = copy.deepcopy(BASE)
    entry = draw(st.sampled_from(document["actions"]))
    holder, key = entry, draw(st.sampled_from(sorted(entry)))
    while isinstance(holder[key], dict | list) and holder[key] and draw(st.booleans()):
        holder = holder[key]
        key = draw(st.sampled_from(sorted(holder) if isinstance(holder, dict)
                                   else range(len(holder))))
    before = holder[key]
    holder[key] = draw(st.sampled_from([v for v in OTHER_TYPES if _type(v) != _type(before)]))
    return document


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=retyped())
def test_a_value_of_the_wrong_type_fails_the_schema_as_it_fails_the_replay(
        document: dict[str, Any]) -> None:
    """A text where a number goes, a list where an object goes, a number for a key: the
    replay refuses the file, and so does the schema."""
    assert not replays(document)
    assert not valid(document)


@st.composite
def with_unknown_key(draw: st.DrawFn) -> dict[str, Any]:
    """The shipped Xiangyang file with a key no command knows added to one entry, or to a
    value object inside one."""
    document: dict[str, Any] = copy.deepcopy(BASE)
    entry = draw(st.sampled_from(document["actions"]))
    values = [v for v in entry.values() if isinstance(v, dict)]
    holder = draw(st.sampled_from([entry, *values]))
    unknown = draw(st.sampled_from(["colour", "occurred_at", "buildng", "order_id", "actor_id"]))
    holder[unknown] = "x"
    return document


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=with_unknown_key())
def test_an_unknown_key_fails_the_schema_as_it_fails_the_replay(
        document: dict[str, Any]) -> None:
    """A misspelt or unknown argument, an ``occurred_at`` for ``at``, an id the replay
    derives itself: refused by both."""
    assert not replays(document)
    assert not valid(document)


@st.composite
def without_a_key(draw: st.DrawFn) -> dict[str, Any]:
    """The shipped Xiangyang file with one key of one entry left out."""
    document: dict[str, Any] = copy.deepcopy(BASE)
    entry = draw(st.sampled_from(document["actions"]))
    del entry[draw(st.sampled_from(sorted(entry)))]
    return document


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=without_a_key())
def test_what_the_schema_refuses_for_a_missing_key_the_replay_refuses(
        document: dict[str, Any]) -> None:
    """Leaving out ``do``, ``at``, ``actor``, ``as``, a target's key or a required
    argument fails both; an optional argument left out fails neither (a key another entry
    refers to, such as a label, only the replay can tell)."""
    if not valid(document):
        assert not replays(document)


@pytest.mark.parametrize(("change", "key"), [
    ({"format": "resilience.other"}, "format"), ({"version": 2}, "version"),
    ({"name": ""}, "name"), ({"name": "x" * 162}, "name"), ({"timezone": "localtime"}, "timezone"),
    ({"community": {"district": "Taishan", "name": "Xiangyang"}}, "community"),
    ({"community": ["Taishan", "Taiqian", "Xiangyang"]}, "community"), ({"actions": []}, "actions"),
])
def test_a_header_the_reader_refuses_fails_the_schema(change: dict[str, Any], key: str) -> None:
    """A wrong format or version, a blank or too long name, a host-dependent timezone, a
    community without its three names, no actions."""
    document = {**copy.deepcopy(BASE), **change}
    assert not replays(document)
    assert [e.json_path for e in validator().iter_errors(document)] in (
        [f"$.{key}"], [f"$.{key}"] * 2, ["$"])


def test_a_file_may_name_its_schema_for_editors() -> None:
    """``"$schema"`` in a file points editors at the schema; the reader ignores it."""
    document = {"$schema": schema()["$id"], **copy.deepcopy(BASE)}
    assert valid(document)
    assert replays(document)
