"""Scenario files from Hypothesis, and a corpus of known poison: a file records all or nothing.

Texts are built from the format (a header and entries that replay when left
alone) and then mutated: keys dropped or repeated, values replaced by hostile
ones (lone surrogates, control characters, NaN and Infinity, huge and
overlong numbers, deep arrays, wrong types), entries replaced or swapped, the
text cut short. Whatever the text, ``replay`` and ``replay_file`` either

* raise ScenarioError (naming the entry and its line when an entry is at
  fault) and the store records nothing, or
* succeed alike, every stored event decodes to the event that was saved,
  and the views, caught up, equal a rebuild from the log.
"""

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from resilience import Engine, ScenarioError
from resilience.projections.base import Doc
from resilience.scenario import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NAME,
    ReplayResult,
    load_scenario,
    parse_scenario,
    replay,
    replay_file,
)


class Raw:
    """JSON text written as it is (NaN, a 5,000-digit number, 10,000 brackets)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r})"


Pairs = list[tuple[str, Any]]
"""A JSON object as its key-value pairs, so a key can appear twice."""


def render(value: Any) -> str:
    """JSON text of a value built from Raw, Pairs, lists and plain values (ASCII only)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
        return "{" + ", ".join(f"{json.dumps(k)}: {render(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return render(list(value.items())) if value else "{}"
    return json.dumps(value)


def nested(depth: int) -> Raw:
    return Raw("[" * depth + "]" * depth)


HEADER: Pairs = [
    ("format", "resilience.scenario"), ("version", 1), ("name", "fuzz"),
    ("timezone", "Asia/Shanghai"),
    ("community", [("district", "Fuzz District"), ("subdistrict", "Fuzz Subdistrict"),
                   ("name", "Fuzz Community")]),
]
STAFF: Pairs = [("actor", "office"), ("as", "community_staff")]
LEADER: Pairs = [("actor", "zhang"), ("as", "grid_leader")]
RESIDENT: Pairs = [("actor", "res"), ("as", "resident")]


def entry(do: str, minute: int, who: Pairs, *more: tuple[str, Any]) -> Pairs:
    return [("do", do), ("at", f"2022-02-15T{9 + minute // 60:02d}:{minute % 60:02d}:00"),
            *who, *more]


def setup() -> list[Pairs]:
    """A community with a grid and a building, and an incident reported in it."""
    return [
        entry("register", 0, STAFF),
        entry("add_grid", 1, STAFF, ("grid_id", "1"), ("name", "Grid 1")),
        entry("add_building", 2, STAFF, ("building_id", "30"), ("parent", "1"),
              ("units", [[("unit_id", "1"), ("households", 24)]])),
        entry("enrol", 3, STAFF, ("person_id", "li"), ("name", "Li"), ("skills", ["veteran"])),
        entry("report", 10, LEADER, ("incident", "fire"), ("label", "report"),
              ("detected_at", "2022-02-15T09:09:00"), ("incident_type", "fire"),
              ("severity", "high"),
              ("location", [("building", "30"), ("unit", "1"), ("floor", -1)]),
              ("description", "smoke")),
    ]


def follow_ups(text: st.SearchStrategy[str]) -> st.SearchStrategy[list[Pairs]]:
    """Entries that replay after the setup, in the order drawn (some orders are refused)."""
    fire, storm = ("incident", "fire"), ("emergency", "storm")
    steps = st.sampled_from([
        lambda t, m: entry("acknowledge", m, STAFF, fire),
        lambda t, m: entry("dispatch", m, STAFF, fire, ("responder_ids", ["li"]), ("task", t)),
        lambda t, m: entry("arrive", m, LEADER, fire, ("responder_id", "zhang")),
        lambda t, m: entry("take_action", m, LEADER, fire, ("action", "other"),
                           ("description", t), ("equipment", [t])),
        lambda t, m: entry("add_note", m, STAFF, fire, ("text", t)),
        lambda t, m: entry("contain", m, LEADER, fire, ("label", "contained"),
                           ("description", t)),
        lambda t, m: entry("correct_details", m, STAFF, fire, ("corrects", "report"),
                           ("details", t), ("reason", "typo")),
        lambda t, m: entry("resolve", m, LEADER, fire, ("summary", t)),
        lambda t, m: entry("close", m, STAFF, fire, ("reason", "resolved"), ("note", t)),
        lambda t, m: entry("reopen", m, LEADER, fire, ("reason", t)),
        lambda t, m: entry("hold_activity", m, STAFF, ("label", "talk"), ("title", t),
                           ("category", "safety"), ("participants", 30)),
        lambda t, m: entry("correct_participants", m, STAFF, ("corrects", "talk"),
                           ("participants", 31), ("reason", t)),
        lambda t, m: entry("add_grid", m, STAFF, ("grid_id", t), ("name", t)),
        lambda t, m: entry("enrol", m, STAFF, ("person_id", t), ("name", t), ("phone", "1")),
        # The live response: the watch, an emergency and its call-up, a recovery link.
        lambda t, m: entry("tick", m, STAFF),
        lambda t, m: entry("assign_role", m, STAFF, ("person_id", "li"),
                           ("role", "squad_member")),
        lambda t, m: entry("place", m, RESIDENT, ("order", "repair"), ("household_id", "hh"),
                           ("area_id", "30/1"), ("category", "home"), ("item", "repair"),
                           ("details", t)),
        lambda t, m: entry("declare", m, STAFF, storm, ("kind", "storm"), ("reason", t)),
        lambda t, m: entry("call_up", m, STAFF, storm, ("teams", ["squad_member"])),
        lambda t, m: entry("acknowledge", m, STAFF, storm, ("person_id", "li")),
        lambda t, m: entry("arrive", m, STAFF, storm, ("person_id", "li"), ("post", t)),
        lambda t, m: entry("end", m, STAFF, storm, ("reason", t)),
        lambda t, m: entry("link_recovery", m, STAFF, fire, ("order", "repair"),
                           ("purpose", t)),
        lambda t, m: entry("place", m, RESIDENT,
                           ("order", f"meal-{m}"), ("household_id", "hh"), ("area_id", "30/1"),
                           ("category", "meals"), ("item", "meal_delivery"), ("details", t)),
    ])
    drawn_steps = st.lists(st.tuples(steps, text), max_size=6).map(
        lambda drawn: [make(t, 20 + i) for i, (make, t) in enumerate(drawn)])
    # The live response in the order that replays, cut short anywhere: drawn one step at
    # a time, a call-up or an arrival would seldom find its emergency and its squad.
    live: list[Callable[[str, int], Pairs]] = [
        lambda t, m: entry("assign_role", m, STAFF, ("person_id", "li"),
                           ("role", "squad_member")),
        lambda t, m: entry("place", m, RESIDENT, ("order", "repair"), ("household_id", "hh"),
                           ("area_id", "30/1"), ("category", "home"), ("item", "repair"),
                           ("details", t)),
        lambda t, m: entry("declare", m, STAFF, storm, ("kind", "storm"), ("reason", t)),
        lambda t, m: entry("call_up", m, STAFF, storm, ("teams", ["squad_member"])),
        lambda t, m: entry("acknowledge", m, STAFF, storm, ("person_id", "li")),
        lambda t, m: entry("arrive", m, STAFF, storm, ("person_id", "li"), ("post", t)),
        lambda t, m: entry("link_recovery", m, STAFF, fire, ("order", "repair"),
                           ("purpose", t)),
        lambda t, m: entry("end", m, STAFF, storm, ("reason", t)),
        lambda t, m: entry("tick", m, STAFF),
    ]
    in_order = st.tuples(st.integers(1, len(live)), st.lists(text, min_size=len(live),
                                                             max_size=len(live))).map(
        lambda drawn: [make(t, 20 + i) for i, (make, t)
                       in enumerate(zip(live[:drawn[0]], drawn[1], strict=False))])
    return st.one_of(drawn_steps, in_order)


TEXT = st.text(st.characters(exclude_categories=()), max_size=12)
"""Any code points, lone surrogates and control characters included."""

PLAIN = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1,
                max_size=20)
"""Text the library takes (unless it is blank): any printable character, CJK included."""

HOSTILE: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([
        "\ud800", "a\udfffb", "\x00", "bell\x07", "\x1b[2J", "\r", "\u2028", "\ufeff", "",
        "   ", "3", "1e3", "true", "null", "NaN",
        Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e400"), Raw("-1e999"),
        Raw("1" + "0" * 5000), 10**30, -(2**63), 2**64, 2**53, 1.5, -0.0, 3.0, 0, -1,
        True, False, None, [], {}, [1, "a"], [("a", 1)], [[("unit_id", "1")]],
        nested(MAX_DEPTH), nested(MAX_DEPTH + 5), nested(5000),
        "2022-02-15T15:00:00", "2022-02-15T15:00:00+25:00", "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59.999999+14:00", "1899-12-31T23:59:59Z", "2022-02-30T00:00:00",
        "x" * 20_000,
    ]),
    TEXT,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)


def mutate(data: DataObject, header: Pairs, entries: list[Pairs]) -> tuple[Pairs, list[Any]]:
    """One drawn mutation of a scenario's header or entries (copies; inputs unchanged)."""
    header = list(header)
    out: list[Any] = [list(e) for e in entries]
    kind = data.draw(st.sampled_from(["drop", "repeat", "replace", "add", "header", "entry",
                                      "swap"]), label="mutation")
    index = data.draw(st.integers(0, len(out) - 1), label="entry")
    target: Pairs = out[index]
    if kind == "header":
        target = header
    if kind == "entry":
        out[index] = data.draw(HOSTILE, label="entry value")
    elif kind == "swap":
        other = data.draw(st.integers(0, len(out) - 1), label="other")
        out[index], out[other] = out[other], out[index]
    elif kind in ("drop", "repeat", "replace", "header") and target:
        at = data.draw(st.integers(0, len(target) - 1), label="key")
        key, _ = target[at]
        if kind == "drop":
            del target[at]
        elif kind == "repeat":
            again = data.draw(st.one_of(st.just("add_note"), HOSTILE), label="again")
            target.insert(data.draw(st.integers(0, len(target)), label="where"), (key, again))
        else:
            target[at] = (key, data.draw(HOSTILE, label="value"))
    elif kind == "add":
        name = data.draw(st.sampled_from(["note", "extra", "occurred_at", "incident", "order",
                                          "improvement", "corrects", "command_id", "label"]),
                         label="name")
        target.append((name, data.draw(HOSTILE, label="value")))
    return header, out


def scenario_text(header: Pairs, entries: list[Any]) -> tuple[str, int]:
    """The file, one entry per line, and the line of the first entry."""
    head = ["{", *(f"  {json.dumps(k)}: {render(v)}," for k, v in header), '  "actions": [']
    body = ",\n".join("    " + render(e) for e in entries)
    return "\n".join([*head, body, "  ]", "}", ""]), len(head) + 1


# The checks -----------------------------------------------------------------------------------


def outcome(engine: Engine, run: Callable[[Engine], ReplayResult]) -> ReplayResult | ScenarioError:
    """Replay and return the result or the ScenarioError (anything else fails the test);
    a refused file has recorded nothing."""
    before = engine.app.recorder.max_notification_id()
    try:
        return run(engine)
    except ScenarioError as error:
        assert engine.app.recorder.max_notification_id() == before, "a refused file recorded"
        return error


def names_its_place(error: ScenarioError, first_line: int, lines: int) -> None:
    """An entry at fault is named with the line it is on (one entry per line here), or,
    in a text cut short before the entry, the last line, where the text ends."""
    if error.entry is not None:
        assert error.line == min(first_line + error.entry - 1, lines), str(error)
        assert str(error).startswith(f"entry {error.entry}, line {error.line}: "), str(error)
    elif error.line is not None:
        assert 1 <= error.line <= lines, str(error)
        assert str(error).startswith(f"line {error.line}: "), str(error)


def snapshot(engine: Engine) -> dict[str, dict[str, Doc]]:
    return {p.view: engine.views.documents(p.view) for p in engine.views.projections}


def stored_faithfully(engine: Engine, saved: list[Any]) -> None:
    """Every stored event decodes equal to the event saved, and the views equal a rebuild."""
    mapper = engine.app.mapper
    stored = engine.app.recorder.select_notifications(1, len(saved) + 1)
    assert len(stored) == len(saved)
    for notification, original in zip(stored, saved, strict=True):
        assert mapper.to_domain_event(notification) == original
    engine.views.catch_up()
    incremental = snapshot(engine)
    engine.views.rebuild()
    assert snapshot(engine) == incremental


def recording(engine: Engine) -> list[Any]:
    """The events the engine's mapper encodes from now on, in order."""
    saved: list[Any] = []
    mapper = engine.app.mapper
    encode = mapper.to_stored_event

    def to_stored_event(event: Any) -> Any:
        saved.append(event)
        return encode(event)

    mapper.to_stored_event = to_stored_event  # type: ignore[method-assign,assignment]
    return saved


def check(text: str, tmp_path: Path, first_line: int = 0) -> ReplayResult | ScenarioError:
    """Both ways of replaying agree, and each holds the property in the module docstring:
    the parsed scenario into a memory store, the file streamed into a SQLite file."""
    path = tmp_path / "fuzz.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    database = tmp_path / f"fuzz-{uuid.uuid4().hex}.db"
    lines = text.count("\n") + 1
    found = []
    for url, run in (("memory:", lambda e: replay(e, parse_scenario(text))),
                     (f"sqlite:///{database}", lambda e: replay_file(e, path))):
        with Engine(url) as engine:
            saved = recording(engine)
            result = outcome(engine, run)
            if isinstance(result, ScenarioError):
                if first_line:
                    names_its_place(result, first_line, lines)
                assert not saved
            else:
                stored_faithfully(engine, saved)
            found.append(result)
    database.unlink(missing_ok=True)
    eager, streamed = found
    assert isinstance(eager, ScenarioError) == isinstance(streamed, ScenarioError), found
    if not isinstance(eager, ScenarioError):
        assert not isinstance(streamed, ScenarioError)
        assert eager.receipts == streamed.receipts
    return eager


# The property -----------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(more=follow_ups(st.one_of(st.just("ok"), PLAIN)), data=st.data())
@example(more=[], data=None).via("the setup alone replays")
def test_any_scenario_text_records_all_or_nothing_and_reads_back_equal(
    tmp_path: Path, more: list[Pairs], data: DataObject | None
) -> None:
    """Generated and mutated scenario texts replay whole and faithfully, or are refused
    as a ScenarioError naming their place, recording nothing."""
    header, entries = HEADER, setup() + more
    if data is not None and data.draw(st.booleans(), label="mutate?"):
        header, entries = mutate(data, header, entries)
    text, first_line = scenario_text(header, entries)
    if data is not None and data.draw(st.integers(0, 9), label="truncate?") == 0:
        text = text[:data.draw(st.integers(0, len(text) - 1), label="cut at")]
    result = check(text, tmp_path, first_line)
    event("accepted" if not isinstance(result, ScenarioError)
          else "refused reading the file" if result.entry is None else "refused an entry")
    if data is None:
        assert not isinstance(result, ScenarioError), result


# The regression corpus ------------------------------------------------------------------------


def _poison() -> Iterator[Any]:
    """(text, entry, line, message) of known poison; entry 6 is on line 13."""

    def file(*last: tuple[str, Any], raw_entry: str | None = None,
             header: Pairs = HEADER) -> str:
        final = raw_entry if raw_entry is not None else render(
            entry("add_note", 30, STAFF, ("incident", "fire"), *last))
        text, _ = scenario_text(header, [*setup(), Raw(final)])
        return text

    def one(*pairs: tuple[str, Any]) -> str:
        return file(*pairs)

    yield pytest.param(
        file(raw_entry='{"do": "dispatch", "incident": "fire", "at": "2022-02-15T10:00:00", '
             '"actor": "office", "as": "community_staff", "responder_ids": ["li"], '
             '"do": "add_note", "text": "a note"}'),
        6, 13, r"the key 'do' appears twice", id="repeated-do-key")
    yield pytest.param(one(("text", nested(10_000))), 6, 13,
                       rf"nest deeper than {MAX_DEPTH}", id="10000-deep-array")
    yield pytest.param(one(("text", Raw('{"a": ' * 10_000 + "1" + "}" * 10_000))), 6, 13,
                       rf"nest deeper than {MAX_DEPTH}", id="10000-deep-object")
    # The entry is at depth 3, so its value's arrays may go MAX_DEPTH - 3 deep.
    yield pytest.param(one(("text", nested(MAX_DEPTH - 2))), 6, 13,
                       rf"nest deeper than {MAX_DEPTH}", id="just-too-deep")
    yield pytest.param(one(("text", nested(MAX_DEPTH - 3))), 6, 13,
                       r"add_note: text must be text", id="just-deep-enough")
    yield pytest.param(one(("text", Raw("NaN"))), 6, 13, "NaN is not a JSON number", id="NaN")
    yield pytest.param(one(("text", Raw("-Infinity"))), 6, 13, "-Infinity is not a JSON number",
                       id="minus-infinity")
    yield pytest.param(one(("text", Raw("1e400"))), 6, 13, "too large", id="1e400")
    yield pytest.param(one(("text", Raw("9" * 5000))), 6, 13, "not a usable number",
                       id="5000-digit-integer")
    yield pytest.param(one(("text", "\ud800")), 6, 13, r"lone surrogate", id="lone-surrogate")
    yield pytest.param(one(("text", "a\x00b")), 6, 13, r"control character", id="nul")
    yield pytest.param(file(raw_entry=render(entry("add_note", 30, STAFF, ("incident", "\udc00"),
                                                   ("text", "x")))),
                       6, 13, r"lone surrogate", id="surrogate-in-a-key")
    yield pytest.param(file(raw_entry="[1, 2]"), 6, 13, "an action is a JSON object",
                       id="entry-is-a-list")
    yield pytest.param(file(raw_entry="7"), 6, 13, "an action is a JSON object",
                       id="entry-is-a-number")
    yield pytest.param(file(raw_entry=render(entry("add_note", 30, STAFF, ("incident", 5),
                                                   ("text", "x")))),
                       6, 13, "'incident' must be a non-empty key string", id="number-key")
    yield pytest.param(file(raw_entry=render(entry(
        "report", 30, LEADER, ("incident", "f2"), ("incident_type", "fire"),
        ("severity", "low"), ("description", "x"), ("location", [1, 2])))),
        6, 13, "malformed location: must be an object", id="location-is-a-list")
    yield pytest.param(file(raw_entry=render(entry(
        "report", 30, LEADER, ("incident", "f2"), ("incident_type", "fire"),
        ("severity", "low"), ("description", "x"), ("location", [("floor", "3")])))),
        6, 13, "malformed location", id="floor-as-a-string")
    yield pytest.param(file(raw_entry=render(entry(
        "add_building", 30, STAFF, ("building_id", "31"), ("parent", "1"),
        ("units", [("unit_id", "1")])))),
        6, 13, "malformed units: must be a list", id="units-is-an-object")
    yield pytest.param(file(raw_entry=render(entry(
        "add_building", 30, STAFF, ("building_id", "31"), ("parent", "1"),
        ("units", [[("unit_id", "1"), ("households", 2.5)]])))),
        6, 13, "malformed units", id="fractional-households")
    yield pytest.param(file(raw_entry=render([("do", "add_note"), ("at", "1900-01-01T00:00:00"),
                                              *STAFF, ("incident", "fire"), ("text", "x")])),
                       6, 13, "'at' must be from 1900-01-01", id="at-in-shanghai-before-1900")
    yield pytest.param(one(("recorded_at", "2200-01-01T00:00:00+00:00")), 6, 13,
                       "'recorded_at' must be from 1900-01-01 to before 2200-01-01",
                       id="recorded-at-2200")
    yield pytest.param(one(("corrects", True)), 6, 13, "'corrects' is a fact version",
                       id="corrects-true")
    yield pytest.param(one(("text", 3)), 6, 13, "add_note", id="number-for-text")
    yield pytest.param(one(("texts", "x")), 6, 13, r"unknown argument 'texts'",
                       id="unknown-argument")
    yield pytest.param(file(raw_entry=render(entry("add_note", 30, STAFF, ("incident", "fire")))),
                       6, 13, r"missing argument 'text'", id="missing-argument")
    yield pytest.param(file(raw_entry=render(entry("register", 30, STAFF, ("name", "Other")))),
                       6, 13, "name: given by the action's own keys", id="register-with-a-name")
    yield pytest.param(file(raw_entry='{"do": "add_note", "text": "\\ud800"'), 6, 13,
                       "not valid JSON", id="truncated-entry")
    yield pytest.param(file(header=[*HEADER, ("name", "again")]), None, 7,
                       r"the key 'name' appears twice in the header", id="repeated-header-key")
    yield pytest.param(file(header=[(k, "1" if k == "version" else v) for k, v in HEADER]),
                       None, 3, "unsupported scenario version '1'", id="version-as-a-string")
    yield pytest.param(file(header=[(k, True if k == "version" else v) for k, v in HEADER]),
                       None, 3, "unsupported scenario version True", id="version-true")
    yield pytest.param(file(header=[(k, ["x"] if k == "community" else v) for k, v in HEADER]),
                       None, 6, "'community' needs", id="community-is-a-list")
    yield pytest.param(file(header=[(k, 5 if k == "timezone" else v) for k, v in HEADER]),
                       None, 5, "unknown timezone 5", id="timezone-is-a-number")
    yield pytest.param(file(header=[(k, "x\ud800" if k == "name" else v) for k, v in HEADER]),
                       None, 4, "lone surrogate", id="surrogate-in-the-name")
    yield pytest.param(file(header=[(k, "n" * 200 if k == "name" else v) for k, v in HEADER]),
                       None, 4, rf"'name' must be at most {MAX_NAME} characters",
                       id="name-too-long-for-its-command-ids")
    yield pytest.param(file(header=[*HEADER, ("description", nested(10_000))]), None, 7,
                       rf"nest deeper than {MAX_DEPTH}", id="deep-header-value")


@pytest.mark.parametrize(("text", "entry_number", "line", "message"), list(_poison()))
def test_known_poison_is_a_scenario_error_naming_its_place(
    tmp_path: Path, text: str, entry_number: int | None, line: int, message: str
) -> None:
    """Each poison input is refused as a ScenarioError naming entry and line; nothing recorded."""
    result = check(text, tmp_path)
    assert isinstance(result, ScenarioError), "the poison was accepted"
    assert (result.entry, result.line) == (entry_number, line), str(result)
    assert re.search(message, str(result)), str(result)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A file of MAX_BYTES + 1 bytes (sparse: nothing is written) is refused unread."""
    path = tmp_path / "huge.json"
    with path.open("wb") as file:
        file.truncate(MAX_BYTES + 1)
    with Engine("memory:") as engine:
        for read in (load_scenario, lambda p: replay_file(engine, p)):
            with pytest.raises(ScenarioError, match=r"larger than 67,108,864 bytes") as caught:
                read(path)
            assert (caught.value.entry, caught.value.line) == (None, None)
        assert engine.app.recorder.max_notification_id() in (None, 0)
    with pytest.raises(ScenarioError, match=r"longer than 67,108,864 characters"):
        parse_scenario(" " * (MAX_BYTES + 1))


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are a ScenarioError naming their line."""
    text, _ = scenario_text(HEADER, setup())
    path = tmp_path / "latin1.json"
    path.write_bytes(text.replace('"smoke"', '"fum\xe9e"').encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8") as caught:
        load_scenario(path)
    assert caught.value.line == 12
