"""Events the views can't fold are quarantined, never a stop for the views.

A stored event that can't be decoded, or that a projection raises on, is
quarantined with the later facts of its aggregate; the views carry on with
everything else, the quarantine is listed (``views.quarantined()``) and
reported (the data-quality report), and once the cause is fixed (an
upcaster, a registered topic, a fixed projection) a rebuild folds it and
empties the quarantine. On every store, and page by page exactly as a fold
from scratch.
"""

import json
import uuid
from pathlib import Path
from typing import Any
from unittest.mock import patch
from uuid import UUID

import eventsourcing.utils
import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from histories import apply_history, histories, setup_world
from resilience import Engine, Location, ManualClock, ProtectedStoreError, UnreadableEventError
from resilience.adapters.viewstore import dumps
from resilience.cli import main
from resilience.domain.incident import Incident
from resilience.projections.base import Delivery, Doc, Docs, Projection
from resilience.projections.folds import PROJECTIONS
from resilience.projections.quarantine import QuarantinedEvent
from test_projections import fresh_url, snapshot

from conftest import OFFICE, T0, minutes, require_postgres

CONTAINED = "resilience.incident:Contained"
KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
EXAMPLES = {"memory": 30, "sqlite": 12, "postgres": 4}


def _incidents(engine: Engine, clock: ManualClock) -> tuple[UUID, UUID]:
    """A community with two incidents: A (detected, a note: v2) and B (detected)."""
    community = engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                            name="Donghu", actor=OFFICE).aggregate_id
    engine.communities.add_grid(community, "3", "Grid 3", actor=OFFICE)
    found = []
    for place in ("A", "B"):
        found.append(engine.incidents.detect(
            community, incident_type="fire", severity="high", location=Location(grid="3"),
            description=f"smoke at {place}", actor=OFFICE).aggregate_id)
        clock.advance(minutes(1))
    engine.incidents.add_note(found[0], "residents outside", actor=OFFICE)
    return found[0], found[1]


def _stored(engine: Engine, event_class: type[Any], incident: UUID, version: int,
            **fields: Any) -> StoredEvent:
    """A fact of ``incident`` at ``version``, as the engine's mapper stores it."""
    at = engine.clock()
    event = event_class(originator_id=incident, originator_version=version, timestamp=at,
                        occurred_at=at, actor=OFFICE, command_id=None, **fields)
    stored: StoredEvent = engine.app.mapper.to_stored_event(event)
    return stored


def _without(stored: StoredEvent, field: str, *, topic: str | None = None) -> StoredEvent:
    """The stored event with ``field`` left out of its state (as an older class wrote it)."""
    state = json.loads(stored.state)
    del state[field]
    return StoredEvent(stored.originator_id, stored.originator_version, topic or stored.topic,
                       json.dumps(state).encode())


def _actions(engine: Engine, incident: UUID) -> list[str]:
    return [e.action for e in engine.timeline(incident).entries]


def _positions(engine: Engine) -> list[tuple[int, int, bool]]:
    """(version, position, held back?) of each quarantined event."""
    return [(q.version, q.position, q.error.startswith("held back"))
            for q in engine.views.quarantined()]


# 1. An event that can't be decoded ----------------------------------------------------------


def test_an_event_that_cannot_be_decoded_is_quarantined_and_the_views_carry_on(
        engine: Engine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A state the class can't load is quarantined with its aggregate's later facts, reported,
    and folded by a rebuild once an upcaster fixes it."""
    a, b = _incidents(engine, clock)
    contained = _stored(engine, Incident.Contained, a, 3, description="fire out")
    note = _stored(engine, Incident.NoteAdded, a, 4, text="all clear")
    engine.app.recorder.insert_events([_without(contained, "description"), note])
    head = engine.views.head
    engine.incidents.contain(b, "fire out at B", actor=OFFICE)

    assert _actions(engine, b) == ["Detected", "Contained"]  # the views carried on
    assert (engine.views.position, engine.views.lag) == (head + 1, 0)
    assert _actions(engine, a) == ["Detected", "NoteAdded"]  # a as it stood before v3
    quarantined = engine.views.quarantined()
    assert _positions(engine) == [(3, head - 1, False), (4, head, True)]
    first, held = quarantined
    assert (first.topic, first.aggregate_id) == (CONTAINED, str(a))
    assert "required field missing @ $.description" in first.error  # what cattrs found
    assert "\n" not in first.error
    assert held.error == "held back: v3 of this aggregate is quarantined"

    report = engine.data_quality()
    assert report.quarantined == tuple(quarantined)
    assert not report.is_clean
    rendered = report.render()
    assert "Quarantined events (2)" in rendered
    assert "held back: v3" in rendered
    assert str(a) in rendered
    assert CONTAINED in rendered
    assert engine.views.catch_up() == 0
    assert len(engine.views.quarantined()) == 2

    # Fixed by an upcaster: what the older class wrote gets a description.
    monkeypatch.setattr(Incident.Contained, "class_version", 2, raising=False)
    monkeypatch.setattr(Incident.Contained, "upcast_v1_v2", staticmethod(
        lambda state: state.setdefault("description", "(not recorded)")), raising=False)
    assert engine.views.rebuild() == engine.views.head
    assert engine.views.quarantined() == []
    assert engine.views.documents("quarantine") == {}
    assert _actions(engine, a) == ["Detected", "NoteAdded", "Contained", "NoteAdded"]
    entry = engine.timeline(a).first("Contained")
    assert entry is not None
    assert entry.details == "contained: (not recorded)"
    assert engine.data_quality().quarantined == ()


def test_an_event_whose_topic_names_no_class_is_quarantined_until_the_topic_is_registered(
        engine: Engine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """An event of a class this version lacks (a newer writer's) waits in quarantine; a
    registered topic lets a rebuild fold it."""
    a, _ = _incidents(engine, clock)
    topic = "resilience.incident:Extinguished"
    note = _stored(engine, Incident.NoteAdded, a, 3, text="out")
    engine.app.recorder.insert_events([StoredEvent(a, 3, topic, note.state)])
    assert _actions(engine, a) == ["Detected", "NoteAdded"]
    (unknown,) = engine.views.quarantined()
    assert (unknown.topic, unknown.version) == (topic, 3)
    assert topic in unknown.error

    class Extinguished(Incident.Event):
        TOPIC = topic
        text: str

    monkeypatch.setitem(eventsourcing.utils._topic_cache, topic, Extinguished)
    engine.views.rebuild()
    assert engine.views.quarantined() == []
    assert _actions(engine, a) == ["Detected", "NoteAdded", "Extinguished"]


def _lost_incident(engine: Engine) -> UUID:
    """An incident (detected, contained) whose first fact lacks its severity: it cannot be
    decoded, so nothing of the incident reaches the views."""
    lost = uuid.uuid4()
    detected = _stored(engine, Incident.Detected, lost, 1, originator_topic=Incident.TOPIC,
                       community_id=uuid.uuid4(),
                       incident_type="fire", severity="low", location=Location(grid="3"),
                       description="smoke", drill=False)
    engine.app.recorder.insert_events([
        _without(detected, "severity"), _stored(engine, Incident.Contained, lost, 2,
                                                description="out")])
    return lost


def test_the_first_fact_quarantined_holds_back_every_later_one(
        engine: Engine, clock: ManualClock) -> None:
    """With its first fact quarantined, an aggregate's later facts are quarantined too (no
    view has its document) rather than failing, and the views carry on."""
    _, b = _incidents(engine, clock)
    lost = _lost_incident(engine)
    engine.incidents.contain(b, actor=OFFICE)
    assert _actions(engine, b) == ["Detected", "Contained"]  # a query: the views catch up
    assert [(q.aggregate_id, q.version, q.error.startswith("held back: v1 "))
            for q in engine.views.quarantined()] == [(str(lost), 1, False), (str(lost), 2, True)]
    assert engine.views.get("timelines", str(lost)) is None


def test_the_timeline_of_a_quarantined_incident_says_it_is_quarantined(
        tmp_path: Path, clock: ManualClock, capsys: pytest.CaptureFixture[str]) -> None:
    """An incident whose first fact is quarantined is not "not found": `resilience timeline`
    (and ``views.check_not_quarantined``) raise UnreadableEventError naming the quarantine,
    the stored event and what was wrong with it; an unknown id is still NotFoundError."""
    path = tmp_path / "events.db"
    with Engine(str(path), clock=clock) as engine:
        lost = _lost_incident(engine)
        engine.views.catch_up()
        with pytest.raises(UnreadableEventError, match=r"required field missing @ \$\.severity"):
            engine.views.check_not_quarantined(str(lost))
        engine.views.check_not_quarantined(str(uuid.uuid4()))  # nothing to say
    capsys.readouterr()
    assert main(["timeline", str(lost), "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"resilience: UnreadableEventError: the facts of {lost} from v1 on "
                          "are quarantined (2 stored events; see the data-quality report): "
                          "event 1 (resilience.incident:Detected): UnreadableEventError: "
                          "cannot load stored event "), err
    assert "required field missing @ $.severity" in err
    assert main(["timeline", str(uuid.uuid4()), "--db", str(path)]) == 2
    assert capsys.readouterr().err.startswith("resilience: NotFoundError: no incident")


# 2. A projection that raises ----------------------------------------------------------------


class Poison(Exception):
    """What a poisoned projection raises."""


class _Poisoned:
    """Folds like ``inner``, then raises on the poisoned (aggregate, version) facts, after its
    changes are made: a projection failing half-way."""

    def __init__(self, inner: Projection, poisoned: set[tuple[str, int]]) -> None:
        self.inner = inner
        self.view = inner.view
        self.poisoned = poisoned

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        self.inner.apply(delivery, docs)
        if (delivery.key, delivery.version) in self.poisoned:
            doc = docs.get(delivery.key)
            if doc is not None:
                doc["half"] = True  # in place: must leave no trace either
            raise Poison(f"cannot fold v{delivery.version}")


def test_a_projection_raising_half_way_leaves_no_trace_of_the_event_in_any_view(
        engine: Engine, clock: ManualClock) -> None:
    """The event a projection raises on is folded into no view (not even those whose
    projection had folded it); its aggregate's later facts are held back."""
    a, b = _incidents(engine, clock)
    engine.views.catch_up()  # a's documents exist before the page that fails on it
    engine.incidents.contain(a, actor=OFFICE)
    engine.incidents.add_note(a, "after", actor=OFFICE)
    engine.incidents.contain(b, actor=OFFICE)
    before = engine.views.head
    poisoned = {(str(a), 3)}
    real = engine.views.projections
    engine.views.projections = tuple(
        _Poisoned(p, poisoned if p.view == "cases" else set()) for p in real)
    engine.views.catch_up()
    assert engine.views.position == before
    assert [(q.version, q.error) for q in engine.views.quarantined()] == [
        (3, "cases view: Poison: cannot fold v3"),
        (4, "held back: v3 of this aggregate is quarantined")]
    timeline = engine.views.get("timelines", str(a))
    cases = engine.views.get("cases", str(a))
    assert timeline is not None
    assert cases is not None
    assert [e[1] for e in timeline["entries"]] == ["Detected", "NoteAdded"]
    assert [f[0] for f in cases["facts"]] == ["Detected", "NoteAdded"]
    assert "half" not in timeline
    assert "half" not in cases
    assert _actions(engine, b) == ["Detected", "Contained"]

    engine.views.projections = real  # the projection fixed
    engine.views.rebuild()
    assert engine.views.quarantined() == []
    assert _actions(engine, a) == ["Detected", "NoteAdded", "Contained", "NoteAdded"]


class _Tally:
    """A view of one document that every fact changes (so not held back with any aggregate),
    counting facts; it raises on the poisoned ones after counting them."""

    view = "plans"  # stored in the plans view's rows: any view name the reader knows

    def __init__(self, poisoned: set[tuple[str, int]]) -> None:
        self.poisoned = poisoned

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        doc = docs.get("tally") or {"kind": "improvement", "facts": 0}
        doc["facts"] += 1
        if (delivery.key, delivery.version) in self.poisoned:
            raise Poison("after counting")
        docs.put("tally", doc)


def test_a_document_other_facts_share_keeps_no_change_of_a_quarantined_fact(
        engine: Engine, clock: ManualClock) -> None:
    """Projections are tried on copies: a change made before raising is undone even in a
    document the page's later facts go on changing."""
    a, b = _incidents(engine, clock)
    engine.views.projections = (_Tally({(str(a), 2)}),)
    engine.views.catch_up()
    engine.incidents.contain(b, actor=OFFICE)
    engine.views.catch_up()
    assert [q.version for q in engine.views.quarantined()] == [2]
    assert engine.views.get("plans", "tally") == {
        "kind": "improvement", "facts": engine.views.head - 1}


# 3. Store-wide problems are not one event's: raised, never quarantined ---------------------


def test_a_store_read_without_its_cipher_key_raises_and_quarantines_nothing(
        tmp_path: Path, clock: ManualClock) -> None:
    """No or a wrong key is every event's problem: ProtectedStoreError as the engine opens,
    nothing folded, nothing quarantined."""
    url = f"sqlite:///{tmp_path / 'secret.db'}"
    cipher = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher"}
    key = AESCipher.create_key(16)
    with Engine(url, clock=clock, env={**cipher, "CIPHER_KEY": key}) as e:
        _incidents(e, clock)
    for env in ({}, {**cipher, "CIPHER_KEY": AESCipher.create_key(16)}):
        with pytest.raises(ProtectedStoreError):
            Engine(url, clock=clock, env=env, fresh_views=False)
    with Engine(url, clock=clock, env={**cipher, "CIPHER_KEY": key}) as engine:
        assert engine.views.quarantined() == []


# 4. Exactly once ------------------------------------------------------------------------------


def test_the_quarantine_commits_with_its_page_and_exactly_once(
        engine: Engine, clock: ManualClock) -> None:
    """A page whose commit fails leaves no quarantine; folding it again quarantines once."""
    a, _ = _incidents(engine, clock)
    contained = _stored(engine, Incident.Contained, a, 3, description="out")
    engine.app.recorder.insert_events([_without(contained, "description")])
    store = engine.views.store
    name = "insert_tracking" if engine.url.startswith("memory:") else "_insert_tracking"

    class Down(Exception):
        pass

    def failing(*args: Any) -> None:
        raise Down("the database went away")

    with patch.object(store, name, new=failing), pytest.raises(Down):
        engine.views.catch_up()
    assert engine.views.position == 0
    assert engine.views.quarantined() == []
    assert engine.views.catch_up() == engine.views.head
    assert [q.version for q in engine.views.quarantined()] == [3]
    assert engine.views.catch_up() == 0
    if not engine.url.startswith("memory:"):
        with Engine(engine.url, clock=clock) as other:  # another reader: nothing left to do
            assert other.views.catch_up() == 0
            assert [q.version for q in other.views.quarantined()] == [3]


# 5. Page by page == from scratch, with poisoned facts ------------------------------------------


def _expected(engine: Engine, poisoned: set[tuple[str, int]]) -> tuple[dict[str, Any], list[int]]:
    """Every view's documents folded one event at a time skipping the poisoned facts and the
    later facts of their aggregates, and the positions that quarantines."""
    notifications = engine.app.recorder.select_notifications(1, engine.views.head + 1)
    held: set[str] = set()
    folded: list[Any] = []
    quarantined: list[int] = []
    for n in notifications:
        key = str(n.originator_id)
        if key in held or (key, n.originator_version) in poisoned:
            held.add(key)
            quarantined.append(n.id)
        else:
            folded.append(engine.app.mapper.to_domain_event(n))
    found: dict[str, Any] = {}
    for projection in PROJECTIONS:
        docs = _DictDocs()
        for event in folded:
            projection.apply(Delivery.of(event), docs)
        found[projection.view] = {k: json.loads(dumps(d)) for k, d in docs.items()}
    return found, quarantined


class _DictDocs(dict[str, Doc]):
    def put(self, key: str, doc: Doc) -> None:
        self[key] = doc


@pytest.mark.parametrize("kind", KINDS)
def test_folding_page_by_page_with_poisoned_facts_equals_a_fold_from_scratch(
        kind: str, tmp_path: Path) -> None:
    """Whatever the pages, the views are the fold of every fact but the quarantined ones and
    those they hold back, and a rebuild gives the same views and quarantine."""
    if kind == "postgres":
        require_postgres()

    @settings(max_examples=EXAMPLES[kind], deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(steps=histories, data=st.data())
    def check(steps: list[tuple[Any, ...]], data: DataObject) -> None:
        clock = ManualClock(T0)
        with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock) as engine:
            views = engine.views
            apply_history(engine, clock, setup_world(engine, clock), steps)
            notifications = engine.app.recorder.select_notifications(1, views.head + 1)
            picks = data.draw(st.sets(st.sampled_from(notifications), max_size=4), label="poison")
            poisoned = {(str(n.originator_id), n.originator_version) for n in picks}
            view = data.draw(st.sampled_from(["timelines", "cases", "plans"]), label="view")
            real = views.projections
            views.projections = tuple(
                _Poisoned(p, poisoned if p.view == view else set()) for p in real)
            while views.lag:
                views.page_size = data.draw(st.integers(1, 12), label="page size")
                views.catch_up(max_events=data.draw(st.integers(1, 30), label="events"))
            expected, positions = _expected(engine, poisoned)
            incremental = snapshot(engine), views.documents("quarantine")
            assert incremental[0] == expected
            assert [q.position for q in views.quarantined()] == positions
            assert all(isinstance(q, QuarantinedEvent) for q in views.quarantined())
            views.rebuild_page_size = data.draw(st.integers(1, 50), label="rebuild page")
            views.rebuild()
            assert (snapshot(engine), views.documents("quarantine")) == incremental
            views.projections = real
            views.rebuild()
            assert views.quarantined() == []
            assert snapshot(engine) == _expected(engine, set())[0]

    check()

