"""The fast fold is the plain fold: same events, same documents, byte for byte.

A views rebuild decodes stored events with resilience.adapters.decoded (compiled
structuring, the stored ISO times kept, the mapper for anything it does not read
itself), folds large pages a chunk at a time, and commits a page while the next is
folded. Each of these must change nothing a reader can see. So, over generated
histories (corrections of times and details, reopenings, late records, amendments,
activities, improvement items, recovery links), with odd stored events added (a
field missing, an unknown topic, a value of the wrong type, a state that is no object,
times written in other ISO forms, an id in capitals, extra fields, surrounding spaces,
an upcast class) on plain and protected stores (CIPHER settings, personal values
sealed):

- each stored event decodes to the event the mapper decodes, or fails with its error;
- a rebuild writes the rows (kind, community, at, until and document text) a rebuild
  in pages of the same size writes through the mapper (``Delivery.of(mapper.to_domain_event(n))``
  for each event, each page whole, not in chunks), the quarantine and derived views
  included; and the documents equal the plain fold of the oracle
  (tests/test_projections.py ``reference``) where nothing was quarantined;
- one case's document from its stored events (``stored_case_doc``, what a replay reads)
  is ``case_doc`` of the mapper's events; the stored events read (``stored_events``,
  ``notification_reader``) are those ``select_events`` and ``select_notifications`` read.
"""

import json
from base64 import b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from os import urandom
from pathlib import Path
from typing import Any
from unittest.mock import patch
from uuid import UUID

import pytest
from eventsourcing.persistence import Notification, StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from histories import STAFF, setup_world
from resilience import Engine, ManualClock, NotFoundError
from resilience.adapters.decoded import (
    FastDecoder,
    iso_as_stored,
    notification_reader,
    stored_events,
)
from resilience.adapters.store import describe
from resilience.domain.base import FactAggregate
from resilience.domain.emergency import Emergency
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.projections import quarantine
from resilience.projections.base import Deliveries, Delivery
from resilience.review.situations import case_doc, stored_case_doc
from resilience.services.point_in_time import own_events
from test_metrics_oracle import apply_steps
from test_projections import amended_histories, fresh_url, reference, snapshot
from test_quarantine import _expected, _Poisoned

from conftest import T0, require_postgres

KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
EXAMPLES = {"memory": 25, "sqlite": 10, "postgres": 3}
AES = "eventsourcing.cryptography:AESCipher"

ODDITIES = ("missing field", "unknown topic", "wrong type", "not an object", "space time",
            "zulu time", "minus zero", "zero micros", "short fraction", "capital id",
            "extra field", "spaces around", "upcast")
"""Stored events the fast path must read as the mapper does (or refuse as it does)."""


def _settings(kind: str) -> settings:
    return settings(max_examples=EXAMPLES[kind], deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _engine(url: str, clock: ManualClock, protected: bool) -> Engine:
    env = ({"CIPHER_TOPIC": AES, "CIPHER_KEY": b64encode(urandom(32)).decode()}
           if protected else None)
    return Engine(url, clock=clock, policy=None, env=env)


# Odd stored events ------------------------------------------------------------------------


def _state(engine: Engine, stored: StoredEvent) -> dict[str, Any]:
    mapper = engine.app.mapper
    data = stored.state
    if mapper.cipher:
        data = mapper.cipher.decrypt(data)
    loaded: dict[str, Any] = json.loads(data)
    return loaded


def _restored(engine: Engine, stored: StoredEvent, text: str, topic: str | None = None,
              version: int | None = None) -> StoredEvent:
    """``stored`` with its state's text (and topic, version) replaced, as the store keeps it."""
    mapper = engine.app.mapper
    data = text.encode("utf-8")
    if mapper.cipher:
        data = mapper.cipher.encrypt(data)
    return StoredEvent(stored.originator_id,
                       stored.originator_version if version is None else version,
                       topic or stored.topic, data)


def _odd(engine: Engine, oddity: str, incident: UUID) -> StoredEvent:
    """A stored event of ``oddity`` for ``incident``'s next version (a new incident's first
    for "capital id")."""
    at = engine.clock()
    next_version = len(engine.app.recorder.select_events(incident)) + 1
    if oddity == "capital id":
        first = engine.app.recorder.select_events(incident)[0]
        state = _state(engine, first)
        state["community_id"] = state["community_id"].upper()
        new = UUID(int=engine.views.head + 1)  # a new incident's id, never one before
        return _restored(engine, StoredEvent(new, 1, first.topic, b""), json.dumps(state))
    note: Any = Incident.NoteAdded
    event = note(originator_id=incident, originator_version=next_version, timestamp=at,
                 occurred_at=at, actor=STAFF, command_id=None, text="an odd note")
    stored = engine.app.mapper.to_stored_event(event)
    state = _state(engine, stored)
    times = {
        "space time": at.isoformat(sep=" "),
        "zulu time": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "minus zero": at.astimezone(UTC).isoformat().replace("+00:00", "-00:00"),
        "zero micros": at.replace(microsecond=0).isoformat(timespec="microseconds"),
        "short fraction": at.replace(microsecond=500_000).isoformat(timespec="milliseconds"),
    }
    if oddity in times:
        state["occurred_at"] = times[oddity]
        state["timestamp"] = times[oddity]
    elif oddity == "missing field":
        del state["text"]
    elif oddity == "wrong type":
        state["text"] = 3
    elif oddity == "extra field":
        state["later_field"] = {"added": True}
    elif oddity == "upcast":
        state["class_version"] = 1
    text = json.dumps(state, separators=(",", ":"))
    if oddity == "not an object":
        text = json.dumps([state])
    elif oddity == "spaces around":
        text = f"  {text} \n"
    return _restored(engine, stored, text,
                     topic="resilience.incident:NoSuchFact" if oddity == "unknown topic"
                     else None)


@contextmanager
def _upcast() -> Iterator[None]:
    """NoteAdded at class version 2, its upcaster adding a mark to the text."""
    def upcast(state: dict[str, Any]) -> None:
        state["text"] = f"{state.get('text')} (upcast)"

    with patch.object(Incident.NoteAdded, "class_version", 2, create=True), \
            patch.object(Incident.NoteAdded, "upcast_v1_v2", staticmethod(upcast), create=True):
        yield


def _add_oddities(engine: Engine, incidents: list[UUID], oddities: list[tuple[str, int]]) -> None:
    for oddity, index in oddities:
        if incidents:
            incident = incidents[index % len(incidents)]
            engine.app.recorder.insert_events([_odd(engine, oddity, incident)])


# Decoding -----------------------------------------------------------------------------------


def _decoded(decode: Callable[[Notification], Any], n: Notification) -> tuple[str, Any]:
    try:
        return "event", decode(n)
    except Exception as exc:
        return "error", describe(exc)


@pytest.mark.parametrize("protected", [False, True], ids=["plain", "protected"])
def test_each_stored_event_decodes_to_the_mappers_event_or_its_error(
        protected: bool, tmp_path: Path) -> None:
    """Over generated histories with odd events: the fast decoder's event equals the
    mapper's (fields and class), or it raises the mapper's error; its stored times are
    what ``isoformat()`` gives of the event's times."""

    @_settings("memory")
    @given(steps=amended_histories,
           oddities=st.lists(st.tuples(st.sampled_from(ODDITIES), st.integers(0, 9)),
                             max_size=6))
    def check(steps: list[tuple[Any, ...]], oddities: list[tuple[str, int]]) -> None:
        clock = ManualClock(T0)
        with _engine("memory:", clock, protected) as engine, _upcast():
            world = apply_steps(engine, clock, setup_world(engine, clock), steps)
            _add_oddities(engine, world.incidents, oddities)
            mapper = engine.app.mapper
            fast = FastDecoder(mapper)
            for n in engine.app.recorder.select_notifications(1, engine.views.head + 1):
                expected = _decoded(mapper.to_domain_event, n)
                got = _decoded(fast.decode, n)
                assert got == expected
                if got[0] == "event":
                    assert type(got[1]) is type(expected[1])
                    assert vars(got[1]) == vars(expected[1])
                    _, occurred, recorded = fast.decode_timed(n)
                    for text, moment in ((occurred, expected[1].occurred_at),
                                         (recorded, expected[1].timestamp)):
                        assert text is None or text == moment.isoformat()

    check()


@given(moment=st.datetimes(timezones=st.timezones()),
       form=st.sampled_from(["T", " ", "seconds", "milliseconds", "microseconds", "Z", "-00"]))
def test_a_time_kept_as_stored_is_what_isoformat_gives(moment: datetime, form: str) -> None:
    """``iso_as_stored`` says yes only to a text ``isoformat()`` gives back exactly, and to
    every aware time's own ``isoformat()`` with a whole-minute offset."""
    offset = moment.utcoffset()
    assert offset is not None
    canonical = moment.isoformat()
    if form in ("T", " "):
        text = moment.isoformat(sep=form)
    elif form == "Z":
        text = canonical.replace("+00:00", "Z")
    elif form == "-00":
        text = canonical.replace("+00:00", "-00:00")
    else:
        text = moment.isoformat(timespec=form)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return
    if iso_as_stored(text):
        assert parsed.isoformat() == text
    if offset % timedelta(minutes=1) == timedelta(0):
        assert iso_as_stored(canonical)


# Rebuilding -------------------------------------------------------------------------------


def _rows(engine: Engine) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Every stored row of the views: its columns and its document's text (opened)."""
    views = engine.views
    store: Any = views.store
    names = set(views.stored_names.values())
    if engine.url.startswith("memory:"):
        rows = [tuple(row) for row in store._rows.values()]
    else:
        with store.datastore.transaction(commit=False) as cursor:
            schema = f"{store.datastore.schema}." if engine.url.startswith("postgres") else ""
            cursor.execute("SELECT view, key, kind, community, at, doc, until "
                           f"FROM {schema}resilience_views")
            rows = [tuple(row.values()) if isinstance(row, dict) else tuple(row)
                    for row in cursor.fetchall()]
    found = {}
    for view, key, kind, community, at, doc, until in rows:
        if view in names:
            text = doc if views.keys is None else views.keys.open_document(
                doc, f"{view}\x00{key}")
            found[(view, key)] = (kind, community, at, until, text)
    return found


def _plain(engine: Engine) -> Callable[[Notification], Delivery]:
    mapper = engine.app.mapper
    return lambda n: Delivery.of(mapper.to_domain_event(n))  # type: ignore[arg-type]


@pytest.mark.parametrize("protected", [False, True], ids=["plain", "protected"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_rebuild_writes_the_rows_of_a_plain_fold(kind: str, protected: bool,
                                                  tmp_path: Path) -> None:
    """Pages of any size, chunks of any size, the writer beside the folding: the same rows
    as folding every event through the mapper in the same pages, and the oracle's
    documents."""
    if kind == "postgres":
        require_postgres()

    @_settings(kind)
    @given(steps=amended_histories,
           oddities=st.lists(st.tuples(st.sampled_from(ODDITIES), st.integers(0, 9)),
                             max_size=4),
           page=st.integers(1, 40), chunk=st.integers(1, 15), data=st.data())
    def check(steps: list[tuple[Any, ...]], oddities: list[tuple[str, int]], page: int,
              chunk: int, data: DataObject) -> None:
        clock = ManualClock(T0)
        with fresh_url(kind, tmp_path) as url, _engine(url, clock, protected) as engine, \
                _upcast():
            views = engine.views
            world = apply_steps(engine, clock, setup_world(engine, clock), steps)
            _add_oddities(engine, world.incidents, oddities)
            recorder = engine.app.recorder
            for aggregate in world.aggregates:
                assert stored_events(recorder, aggregate) == list(
                    recorder.select_events(aggregate))
            read = notification_reader(recorder)
            start = data.draw(st.integers(1, views.head + 1), label="read from")
            assert list(read(start, page)) == list(recorder.select_notifications(start, page))
            if data.draw(st.booleans(), label="caught up before"):
                views.catch_up()
            fast = views.deliveries
            views.deliveries = _plain(engine)  # type: ignore[assignment]
            views.rebuild_page_size = page
            with patch.object(quarantine, "CHUNK", views.head + 1):
                views.rebuild()
            plain = _rows(engine)
            plain_quarantined = views.quarantined()
            views.deliveries = fast
            with patch.object(quarantine, "CHUNK", chunk):
                assert views.rebuild() == len(
                    engine.app.recorder.select_notifications(1, views.head + 1))
            assert _rows(engine) == plain
            assert views.quarantined() == plain_quarantined
            if not plain_quarantined:
                documents = {p.view: views.documents(p.view) for p in views.projections}
                assert documents == reference(engine)

    check()


@pytest.mark.parametrize("kind", KINDS)
def test_a_fold_failing_in_any_chunk_refolds_the_whole_page_event_by_event(
        kind: str, tmp_path: Path) -> None:
    """A projection raising half-way on a fact of any chunk of a page: the page is folded
    again from its start, event by event, so the views are the fold of every fact but the
    quarantined ones and those they hold back, whatever the pages and chunks."""
    if kind == "postgres":
        require_postgres()

    @_settings(kind)
    @given(steps=amended_histories, page=st.integers(1, 40), chunk=st.integers(1, 15),
           data=st.data())
    def check(steps: list[tuple[Any, ...]], page: int, chunk: int, data: DataObject) -> None:
        clock = ManualClock(T0)
        with fresh_url(kind, tmp_path) as url, _engine(url, clock, False) as engine:
            views = engine.views
            apply_steps(engine, clock, setup_world(engine, clock), steps)
            notifications = engine.app.recorder.select_notifications(1, views.head + 1)
            picks = data.draw(st.sets(st.sampled_from(notifications), max_size=3),
                              label="poison")
            poisoned = {(str(n.originator_id), n.originator_version) for n in picks}
            view = data.draw(st.sampled_from(["timelines", "cases", "plans", "live"]),
                             label="view")
            views.projections = tuple(
                _Poisoned(p, poisoned if p.view == view else set()) for p in views.projections)
            views.rebuild_page_size = page
            with patch.object(quarantine, "CHUNK", chunk):
                views.rebuild()
            expected, positions = _expected(engine, poisoned)
            assert snapshot(engine) == expected
            assert [q.position for q in views.quarantined()] == positions

    check()


# One case from its stored events ------------------------------------------------------------


@pytest.mark.parametrize("protected", [False, True], ids=["plain", "protected"])
def test_a_cases_document_from_its_stored_events_is_case_doc_of_its_events(
        protected: bool) -> None:
    """``stored_case_doc`` (what a replay reads) equals ``case_doc`` of the mapper's events
    for every incident and order, and refuses what ``own_events`` refuses."""

    @_settings("memory")
    @given(steps=amended_histories)
    def check(steps: list[tuple[Any, ...]]) -> None:
        clock = ManualClock(T0)
        with _engine("memory:", clock, protected) as engine:
            world = apply_steps(engine, clock, setup_world(engine, clock), steps)
            recorder, deliveries = engine.app.recorder, Deliveries(engine.app.mapper)
            cases: list[tuple[UUID, type[FactAggregate]]] = [
                *((i, Incident) for i in world.incidents),
                *((o, ServiceOrder) for o in world.orders)]
            for case_id, kind in cases:
                expected = case_doc(own_events(engine.app, case_id, kind))
                assert stored_case_doc(recorder, deliveries, case_id, kind) == expected
                other = ServiceOrder if kind is Incident else Emergency
                with pytest.raises(NotFoundError, match=f"no {other.kind} with id"):
                    stored_case_doc(recorder, deliveries, case_id, other)
            for community in world.communities:
                with pytest.raises(NotFoundError):
                    stored_case_doc(recorder, deliveries, community, Incident)
            with pytest.raises(NotFoundError):
                stored_case_doc(recorder, deliveries, UUID(int=1), Incident)

    check()
