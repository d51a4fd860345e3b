"""The ConverterMapper: every event class round-trips with exact types, stable topics, upcasting.

The round-trip property discovers the event classes by walking the aggregates,
so an event class added later is covered without touching this file.
"""

import dataclasses
import json
import types
import zlib
from base64 import b64encode
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from os import urandom
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints
from uuid import UUID

import attrs
import pytest
from eventsourcing.persistence import JSONTranscoder, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from resilience import Actor, Engine, Role
from resilience.adapters.mapper import ConverterMapper
from resilience.domain.base import FactAggregate
from resilience.domain.emergency import Emergency
from resilience.domain.hazard import Hazard
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.patrol import Patrol, PatrolPlan, PatrolRule, PatrolVisit
from resilience.domain.references import ReferenceBook
from resilience.domain.service import ServiceOrder
from resilience.domain.values import Location, UnitSpec
from resilience.errors import InvalidInputError
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE

AGGREGATES: tuple[type[FactAggregate], ...] = (Community, Incident, ServiceOrder,
                                               ImprovementItem, Emergency, ReferenceBook,
                                               Hazard, Patrol, PatrolPlan)


def _event_classes(aggregate: type[FactAggregate]) -> list[type[FactAggregate.Event]]:
    """The aggregate's persistable event classes: nested, with a TOPIC of their own.

    Left out: the base ``Event`` (eventsourcing refuses to trigger it). ``Created``
    is an alias of the creation event (Registered, Detected, Placed, Planned): counted once.
    """
    classes = [
        value
        for name, value in vars(aggregate).items()
        if isinstance(value, type)
        and issubclass(value, FactAggregate.Event)
        and name != "Event"
        and "TOPIC" in vars(value)
    ]
    return list(dict.fromkeys(classes))


EVENT_CLASSES: list[type[FactAggregate.Event]] = [
    cls for aggregate in AGGREGATES for cls in _event_classes(aggregate)
]


def topic_of(cls: type[Any]) -> str:
    """The TOPIC a class declares itself (not one inherited from a base)."""
    topic = vars(cls)["TOPIC"]
    assert isinstance(topic, str)
    return topic


def _mapper() -> ConverterMapper:
    return ConverterMapper(transcoder=JSONTranscoder())


# Strategies derived from declared types -------------------------------------------------

_OFFSETS = st.one_of(
    st.just(UTC),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m))),
    st.integers(-86399, 86399).map(lambda s: timezone(timedelta(seconds=s))),
)
AWARE_DATETIMES = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=_OFFSETS
)
# Text the validation rule accepts (no lone surrogates, no control characters but \n, \t).
_CHARS = st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\n\t")
ANY_TEXT = st.text(_CHARS, max_size=30)
NON_BLANK_TEXT = st.text(_CHARS, min_size=1, max_size=30).filter(lambda s: bool(s.strip()))

# Invariants of value classes that a validator-free field can't tell us about.
_FIELD_OVERRIDES: dict[tuple[type[Any], str], st.SearchStrategy[Any]] = {
    (UnitSpec, "households"): st.integers(min_value=0, max_value=10_000),
    (Location, "floor"): st.none() | st.integers(min_value=-20, max_value=300),
    (PatrolVisit, "spots"): st.lists(NON_BLANK_TEXT, max_size=4).map(tuple),
    (PatrolRule, "areas"): st.lists(NON_BLANK_TEXT, max_size=4).map(tuple),
}


def _build_attrs(cls: type[Any], kwargs: dict[str, Any]) -> Any:
    try:
        return cls(**kwargs)
    except InvalidInputError:
        reject()


def _attrs_strategy(cls: type[Any]) -> st.SearchStrategy[Any]:
    hints = get_type_hints(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for attribute in attrs.fields(cls):
        if not attribute.init:
            continue
        override = _FIELD_OVERRIDES.get((cls, attribute.name))
        hint = hints[attribute.name]
        if override is not None:
            strategy = override
        elif hint is str and attribute.validator is not None:
            strategy = NON_BLANK_TEXT
        elif hint == str | None and attribute.validator is not None:
            strategy = st.none() | NON_BLANK_TEXT
        else:
            strategy = strategy_for(hint)
        fields[attribute.alias] = strategy
    return st.fixed_dictionaries(fields).map(lambda kwargs: _build_attrs(cls, kwargs))


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    """A strategy for values of a declared field type (raises for a type it doesn't know)."""
    origin = get_origin(hint)
    if hint is str:
        return ANY_TEXT
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers()
    if hint is datetime:
        return AWARE_DATETIMES
    if hint is timedelta:
        return st.integers(-10**9, 10**9).map(lambda s: timedelta(seconds=s))
    if hint is UUID or isinstance(hint, TypeVar):  # originator_id is the TAggregateID TypeVar
        return st.uuids()
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(list(hint))
    if origin is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy_for(args[0]), max_size=4).map(tuple)
        return st.tuples(*(strategy_for(arg) for arg in args))
    if origin in (Union, types.UnionType):
        return st.one_of(
            *(st.none() if arg is type(None) else strategy_for(arg) for arg in get_args(hint))
        )
    if isinstance(hint, type) and attrs.has(hint):
        return _attrs_strategy(hint)
    raise TypeError(f"test_mapper has no strategy for {hint!r}: teach strategy_for about it")


def event_strategy(cls: type[FactAggregate.Event]) -> st.SearchStrategy[FactAggregate.Event]:
    """Events of ``cls`` with every dataclass field drawn from its declared type."""
    hints = get_type_hints(cls)
    fields = {f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls) if f.init}
    return st.fixed_dictionaries(fields).map(lambda kwargs: cls(**kwargs))


# Exact-type comparison ---------------------------------------------------------------------


def assert_same(original: Any, loaded: Any, path: str = "event") -> None:
    """``loaded`` equals ``original`` with exactly the same types, all the way down."""
    assert type(loaded) is type(original), (
        f"{path}: {type(original).__name__} came back as {type(loaded).__name__}"
    )
    if isinstance(original, datetime):
        assert loaded.tzinfo is not None, f"{path}: came back naive"
        assert loaded.utcoffset() == original.utcoffset(), f"{path}: UTC offset changed"
        assert loaded == original, f"{path}: {original!r} came back as {loaded!r}"
    elif isinstance(original, tuple):
        assert len(loaded) == len(original), f"{path}: tuple length changed"
        for index, (a, b) in enumerate(zip(original, loaded, strict=True)):
            assert_same(a, b, f"{path}[{index}]")
    elif attrs.has(type(original)):
        for attribute in attrs.fields(type(original)):
            assert_same(getattr(original, attribute.name), getattr(loaded, attribute.name),
                        f"{path}.{attribute.name}")
    elif dataclasses.is_dataclass(original):
        for f in dataclasses.fields(original):
            assert_same(getattr(original, f.name), getattr(loaded, f.name), f"{path}.{f.name}")
    else:
        assert loaded == original, f"{path}: {original!r} came back as {loaded!r}"


# Tests ------------------------------------------------------------------------------------


def test_every_aggregate_of_the_library_is_walked() -> None:
    """A new aggregate class is round-tripped too: AGGREGATES lists every one."""
    assert {cls for cls in FactAggregate.__subclasses__()
            if cls.__module__.startswith("resilience.")} == set(AGGREGATES)


def test_every_aggregate_event_class_is_discovered() -> None:
    """The walk over the aggregates finds all their event classes, Incident.Detected included."""
    assert len(EVENT_CLASSES) >= 40
    for expected in (Incident.Detected, Incident.ForcedEntryMade, Community.Registered,
                     Community.CareCardIssued, ServiceOrder.Placed, ServiceOrder.Dispatched,
                     Incident.TimeCorrected, ServiceOrder.DetailsCorrected,
                     ImprovementItem.Planned, ImprovementItem.Rescheduled,
                     Hazard.Found, Hazard.Verified, Incident.FromHazard, ServiceOrder.FromHazard,
                     ImprovementItem.FromHazard, Patrol.Recorded, Patrol.CoverageCorrected,
                     PatrolPlan.Adopted, PatrolPlan.TimeCorrected):
        assert expected in EVENT_CLASSES
    # (A reference book and a patrol plan have two facts of their own and the corrections
    # every aggregate has; a patrol four.)
    fewest = {ReferenceBook: 4, PatrolPlan: 4, Patrol: 6}
    for aggregate in AGGREGATES:
        assert len(_event_classes(aggregate)) >= fewest.get(aggregate, 8), aggregate


def test_strategies_know_every_declared_field_type() -> None:
    """Every field type of every event class has a strategy (a new type fails here, loudly)."""
    for cls in EVENT_CLASSES:
        event_strategy(cls)


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=topic_of)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_round_trips_with_exact_types(
    event_class: type[FactAggregate.Event], data: st.DataObject
) -> None:
    """Any event survives to_stored_event -> to_domain_event equal and with identical types."""
    event = data.draw(event_strategy(event_class))
    mapper = _mapper()
    stored = mapper.to_stored_event(event)
    assert stored.topic == topic_of(event_class)
    assert stored.originator_id == event.originator_id
    assert stored.originator_version == event.originator_version
    state = json.loads(stored.state)
    assert "originator_id" not in state
    assert "originator_version" not in state
    loaded = mapper.to_domain_event(stored)
    assert loaded == event
    assert_same(event, loaded)
    assert type(loaded.originator_id) is UUID


def test_stored_topics_are_the_explicit_stable_topics() -> None:
    """Each event class is stored under its own TOPIC, never a module path or __main__."""
    for cls in EVENT_CLASSES:
        topic = topic_of(cls)
        assert get_topic(cls) == topic
        assert resolve_topic(topic) is cls
        assert topic.startswith("resilience.")
        assert "__main__" not in topic
        assert topic != f"{cls.__module__}:{cls.__qualname__}"


def test_every_event_topic_is_unique() -> None:
    """No two event classes (nor an event class and an aggregate) share a TOPIC."""
    topics = [topic_of(cls) for cls in EVENT_CLASSES]
    assert len(set(topics)) == len(topics)
    aggregate_topics = {topic_of(a) for a in AGGREGATES}
    assert len(aggregate_topics) == len(AGGREGATES)
    assert not aggregate_topics & set(topics)


def test_a_real_store_holds_only_explicit_topics(tmp_path: Path) -> None:
    """Replaying the Donghu fire into SQLite stores only the classes' TOPIC strings."""
    known = {topic_of(cls) for cls in EVENT_CLASSES}
    with Engine(f"sqlite:///{tmp_path / 'topics.db'}") as engine:
        result = replay_file(engine, DONGHU_FIRE)
        ids = [result.community_id, *result.incidents.values(), *result.improvements.values()]
        stored = [s for aggregate_id in ids for s in engine.stored_events(aggregate_id)]
    assert stored
    assert {s.topic for s in stored} <= known
    assert "resilience.incident:ForcedEntryMade" in {s.topic for s in stored}
    assert "resilience.improvement:Planned" in {s.topic for s in stored}


# Schema evolution --------------------------------------------------------------------------


class Notebook(FactAggregate):
    """A test-only aggregate whose NoteV2 event is at class_version 2."""

    TOPIC = "tests.mapper:Notebook"
    kind = "notebook"

    class Event(FactAggregate.Event):
        TOPIC = "tests.mapper:Event"

    class Opened(Event, FactAggregate.Created):
        TOPIC = "tests.mapper:Opened"

    class NoteV2(Event):
        """v1 had only ``text``; v2 added ``tags`` (a tuple)."""

        TOPIC = "tests.mapper:NoteV2"
        class_version = 2
        text: str
        tags: tuple[str, ...]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["tags"] = ["legacy"]

    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "tests.mapper:TimeCorrected"

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "tests.mapper:DetailsCorrected"


NOTE_ID = UUID("6f1c2f7e-0b7d-4c61-9d1e-3b1b1f0c9a01")
# What the library's mapper wrote for a v1 NoteV2 (then named Note): no class_version key.
V1_NOTE_STATE = (
    b'{"timestamp":"2022-02-15T15:20:00+08:00","occurred_at":"2022-02-15T15:14:00+08:00",'
    b'"actor":{"person_id":"office-duty","role":"community_staff"},"command_id":null,'
    b'"text":"all-clear call logged at 15:12"}'
)


def test_a_v1_stored_event_is_upcast_into_the_v2_class() -> None:
    """A v1 record (no class_version) loads into the v2 class with the new field filled in."""
    stored = StoredEvent(originator_id=NOTE_ID, originator_version=2,
                         topic="tests.mapper:NoteV2", state=V1_NOTE_STATE)
    loaded = _mapper().to_domain_event(stored)
    assert isinstance(loaded, Notebook.NoteV2)
    assert loaded.tags == ("legacy",)
    assert type(loaded.tags) is tuple
    assert loaded.text == "all-clear call logged at 15:12"
    assert loaded.actor == Actor("office-duty", Role.COMMUNITY_STAFF)
    assert loaded.occurred_at.utcoffset() == timedelta(hours=8)
    assert loaded.originator_id == NOTE_ID
    assert loaded.originator_version == 2


def test_a_v2_event_stores_its_class_version_and_is_not_upcast_again() -> None:
    """A v2 event writes class_version 2 and loads back unchanged (upcasts run only on v1)."""
    when = datetime(2022, 2, 15, 15, 14, tzinfo=timezone(timedelta(hours=8)))
    fields: dict[str, Any] = {
        "originator_id": NOTE_ID, "originator_version": 3, "timestamp": when,
        "occurred_at": when, "actor": Actor("office-duty", Role.COMMUNITY_STAFF),
        "command_id": None, "text": "v2", "tags": ("a", "b"),
    }
    event = Notebook.NoteV2(**fields)
    mapper = _mapper()
    stored = mapper.to_stored_event(event)
    assert stored.topic == "tests.mapper:NoteV2"
    assert json.loads(stored.state)["class_version"] == 2
    loaded = mapper.to_domain_event(stored)
    assert loaded == event
    assert_same(event, loaded)


def test_a_v1_event_in_a_real_store_is_upcast_on_read(tmp_path: Path) -> None:
    """A v1 record written straight into SQLite reads back through the engine as v2."""
    with Engine(f"sqlite:///{tmp_path / 'v1.db'}") as engine:
        engine.app.recorder.insert_events([
            StoredEvent(originator_id=NOTE_ID, originator_version=1,
                        topic="tests.mapper:NoteV2", state=V1_NOTE_STATE),
        ])
        (loaded,) = engine.events(NOTE_ID)
    assert isinstance(loaded, Notebook.NoteV2)
    assert loaded.tags == ("legacy",)


# What the mapper wrote for a Rated event before ``resolved`` (class_version 1): no key.
V1_RATED_STATE = (
    b'{"timestamp":"2022-02-15T17:00:00+08:00","occurred_at":"2022-02-15T16:58:00+08:00",'
    b'"actor":{"person_id":"p-5005","role":"resident"},"command_id":null,'
    b'"score":4,"comment":"hot"}'
)


def test_a_rating_stored_before_resolved_existed_reads_back_as_not_said() -> None:
    """A v1 Rated state loads with ``resolved`` None (the resident did not say), its detail
    ``[score, None]``; a v2 rating stores class_version 2."""
    stored = StoredEvent(originator_id=NOTE_ID, originator_version=6,
                         topic="resilience.service:Rated", state=V1_RATED_STATE)
    mapper = _mapper()
    loaded = mapper.to_domain_event(stored)
    assert isinstance(loaded, ServiceOrder.Rated)
    assert (loaded.score, loaded.comment, loaded.resolved) == (4, "hot", None)
    assert loaded.detail() == [4, None]
    again = mapper.to_stored_event(loaded)
    assert json.loads(again.state)["class_version"] == 2
    assert mapper.to_domain_event(again) == loaded


_REPORTED_OK = (
    b'{"timestamp":"2022-02-15T15:01:00+08:00","occurred_at":"2022-02-15T15:01:00+08:00",'
    b'"actor":{"person_id":"zhang","role":"grid_leader"},"command_id":null,"channel":"phone"}'
)


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(b'{"timestamp": "2022-02-15T15:01', id="truncated-json"),
        pytest.param(b"\xff\xfe not utf-8", id="not-utf8"),
        pytest.param(_REPORTED_OK.replace(b',"channel":"phone"', b""), id="missing-field"),
        pytest.param(_REPORTED_OK.replace(b'"grid_leader"', b'"mayor"'), id="unknown-enum"),
        pytest.param(_REPORTED_OK.replace(b'"2022-02-15T15:01:00+08:00"', b"42", 1),
                     id="wrong-type"),
        pytest.param(b"[1, 2, 3]", id="not-an-object"),
    ],
)
def test_malformed_stored_state_raises_a_deserialisation_error_naming_the_topic(
    state: bytes,
) -> None:
    """A corrupt record raises eventsourcing's MapperDeserialisationError naming its topic."""
    assert _mapper().to_domain_event(
        StoredEvent(originator_id=NOTE_ID, originator_version=2,
                    topic="resilience.incident:Reported", state=_REPORTED_OK)
    ).originator_version == 2  # the unbroken record loads
    stored = StoredEvent(originator_id=NOTE_ID, originator_version=2,
                         topic="resilience.incident:Reported", state=state)
    with pytest.raises(MapperDeserialisationError, match=r"resilience\.incident:Reported"):
        _mapper().to_domain_event(stored)


# Compression and encryption ----------------------------------------------------------------

_ZLIB = {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
# The dev extra installs `cryptography`, so encryption is always exercised here.
_AES = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": b64encode(urandom(32)).decode("ascii")}
STORE_SETTINGS: list[Any] = [pytest.param(_ZLIB, id="zlib"), pytest.param(_AES, id="aes"),
                             pytest.param({**_ZLIB, **_AES}, id="zlib+aes")]


def _is_json(data: bytes) -> bool:
    """Whether bytes parse as JSON (ciphertext may start with "{", so test the whole)."""
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("env", STORE_SETTINGS)
def test_compressed_and_encrypted_stores_round_trip(tmp_path: Path, env: dict[str, str]) -> None:
    """With compression and/or encryption, facts read back from SQLite equal the plain ones."""
    url = f"sqlite:///{tmp_path / 'packed.db'}"
    with Engine("memory:") as plain:
        expected_result = replay_file(plain, DONGHU_FIRE)
        incident = expected_result.incidents["donghu-fire"]
        expected = plain.events(incident)
        expected_timeline = plain.timeline(incident)
    with Engine(url, env=env) as engine:
        result = replay_file(engine, DONGHU_FIRE)
        assert result.incidents["donghu-fire"] == incident
        raw = engine.stored_events(incident)
    assert len(raw) == len(expected)
    for record in raw:
        assert not _is_json(record.state)  # not plain JSON at rest
        assert b"basement" not in record.state
    if "CIPHER_TOPIC" not in env:
        json.loads(zlib.decompress(raw[0].state))
    with Engine(url, env=env) as reopened:
        loaded = reopened.events(incident)
        timeline = reopened.timeline(incident)
    assert loaded == expected
    for a, b in zip(expected, loaded, strict=True):
        assert_same(a, b)
    assert timeline == expected_timeline



NUMBER_OR_TEXT: Any = int | str | None
WHOLE_OR_NOT: Any = int | float


@pytest.mark.parametrize("value", [True, False, 1.5, [], {}, "3"])
def test_a_union_of_plain_types_takes_each_member_as_strictly_as_alone(value: object) -> None:
    """``int | None`` refuses ``true``; so must ``int | str | None`` (cattrs would pass a bool
    through as an int), and ``int | float`` refuses text."""
    from resilience.adapters.converter import converter, input_converter

    for conv in (converter, input_converter):
        if type(value) is not str:
            with pytest.raises(InvalidInputError, match="expected a whole number or text"):
                conv.structure(value, NUMBER_OR_TEXT)
        if type(value) is not float:
            with pytest.raises(InvalidInputError, match="expected a whole number or a number"):
                conv.structure(value, WHOLE_OR_NOT)
        assert conv.structure(3, NUMBER_OR_TEXT) == 3
        assert conv.structure("3", NUMBER_OR_TEXT) == "3"
        assert conv.structure(None, NUMBER_OR_TEXT) is None
        assert conv.structure(2, WHOLE_OR_NOT) == 2
        assert conv.structure(2.5, WHOLE_OR_NOT) == 2.5
