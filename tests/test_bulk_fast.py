"""The bulk path's faster ways give exactly what the plain ones give.

- An event's state and stored text (resilience.adapters.event_json) equal the
  converter's ``unstructure`` (identity left out, ``class_version`` last) and the JSON
  encoder's text of it, for every event class, generated values and values of the wrong
  type alike.
- The chain's links worked out for a batch (``chain_links``) equal ``chained`` applied
  event after event.
- An event made by ``_trigger`` equals one made by calling its class.
- A batch's kept decisions and targets (``BatchDecisions``, ``Store.standing_target``)
  allow and refuse exactly what deciding every command in full does.
"""

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest.mock import patch
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.persistence import EventStore, IntegrityError, Notification, StoredEvent
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from resilience import Engine, Location, ManualClock, ResilienceError, UnitSpec
from resilience.adapters.chain import START, Link, chain_links, chained
from resilience.adapters.chain_recorders import SQLITE_ROWS, MemoryEventRecorder
from resilience.adapters.converter import converter
from resilience.adapters.event_json import IDENTITY, encoder_for, json_text
from resilience.adapters.event_store import RecordingEventStore
from resilience.domain.base import _CONTEXT_FIELDS, Context, FactAggregate, trigger_plan
from resilience.domain.incident import Incident
from resilience.domain.policy import BatchDecisions, Policy
from resilience.domain.values import ActionKind, Actor, Role
from resilience.errors import PermissionDeniedError
from resilience.services.core import Store
from resilience.services.incidents import Incidents
from test_mapper import AGGREGATES, EVENT_CLASSES, _mapper, event_strategy

from conftest import T0


def reference_state(event: Any) -> dict[str, Any]:
    """What the mapper stored before: the converter's state, identity left out."""
    state: dict[str, Any] = converter.unstructure(event, type(event))
    for key in IDENTITY:
        del state[key]
    class_version = getattr(type(event), "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    return state


def reference_text(state: dict[str, Any]) -> str:
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False)


def assert_written_alike(event: Any) -> None:
    encoder = encoder_for(type(event))
    state = reference_state(event)
    made = encoder.state(event)
    assert list(made.items()) == list(state.items())  # the same keys, in the same order
    assert encoder.text(event) == reference_text(state)
    assert json_text(made) == reference_text(state)


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=lambda c: c.__qualname__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_an_event_is_written_as_the_converter_and_the_encoder_write_it(
        event_class: type[FactAggregate.Event], data: st.DataObject) -> None:
    """Every class, values drawn from the declared types: the same state, the same text."""
    assert_written_alike(data.draw(event_strategy(event_class)))


_ODD = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from(list(Role) + list(ActionKind)),
    st.lists(st.integers() | st.text(max_size=4), max_size=3).map(tuple),
    st.lists(st.booleans(), max_size=3),
)


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=lambda c: c.__qualname__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_values_of_another_type_are_written_as_the_encoder_writes_them(
        event_class: type[FactAggregate.Event], data: st.DataObject) -> None:
    """A field holding a value of another type than declared (True in a whole number, a
    number in a text, a member of another vocabulary) is written as the encoder writes
    it, or refused by both alike: the fast text never guesses."""
    event = data.draw(event_strategy(event_class))
    names = [f.name for f in dataclasses.fields(event_class) if f.name not in IDENTITY
             and f.name not in ("timestamp", "occurred_at", "actor")]
    if not names:
        return
    name = data.draw(st.sampled_from(names))
    odd = dataclasses.replace(event, **{name: data.draw(_ODD)})
    try:
        expected = reference_text(reference_state(odd))
    except Exception as exc:
        with pytest.raises(type(exc)):
            encoder_for(event_class).text(odd)
        return
    assert encoder_for(event_class).text(odd) == expected


_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5)),
                          ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")])


@settings(max_examples=60, deadline=None)
@given(moments=st.lists(st.datetimes(min_value=datetime(1900, 1, 2),
                                     max_value=datetime(2199, 12, 30), timezones=_ZONES),
                        min_size=1, max_size=6),
       texts=st.lists(st.text(max_size=12), min_size=1, max_size=6),
       people=st.lists(st.sampled_from(["p-1", "p-2", "lead"]), min_size=1, max_size=6))
def test_moments_and_actors_written_again_read_the_same(
        moments: list[datetime], texts: list[str], people: list[str]) -> None:
    """Events sharing moments and actors (kept texts) and not sharing them, in any order,
    with their optional fields set or not, write what the encoder writes."""
    actors = {person: Actor(person, Role.SQUAD_MEMBER) for person in people}
    for index, (moment, text, person) in enumerate(
            zip(moments * 6, texts * 6, people * 6, strict=False)):
        actor = actors[person] if index % 2 else Actor(
            person, Role.GRID_LEADER, override="urgent" if index % 3 else None)
        action: Any = Incident.ActionTaken  # (eventsourcing's dataclass: mypy sees no fields)
        event = action(
            originator_id=uuid4(), originator_version=index + 1, timestamp=moments[0],
            occurred_at=moment, actor=actor, command_id=text or None,
            action=ActionKind.OTHER, description=text, equipment=tuple(texts[:index % 3]))
        assert_written_alike(event)


def _stored(count: int, aggregates: int, seed: int) -> list[StoredEvent]:
    ids = [UUID(int=seed * 1000 + a) for a in range(aggregates)]
    return [StoredEvent(ids[i % aggregates], i // aggregates + 1,
                        ("resilience.incident:ActionTaken", "resilience.incident:Détecté")[i % 2],
                        bytes([i % 256]) * (i % 7)) for i in range(count)]


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 40), aggregates=st.integers(1, 5), seed=st.integers(0, 99),
       gap=st.integers(0, 3), start=st.integers(0, 10))
def test_a_batch_is_chained_as_event_after_event(count: int, aggregates: int, seed: int,
                                                 gap: int, start: int) -> None:
    """``chain_links`` gives the links ``chained`` gives one event at a time, from the
    start or from any link, with gaps between positions."""
    events = _stored(count, aggregates, seed)
    head = START if start == 0 else Link(start, start, "x", 1, bytes(32))
    positions = [head.position + 1 + i * (gap + 1) for i in range(count)]
    expected, previous = [], head
    for position, event in zip(positions, events, strict=True):
        previous = chained(previous, position, event)
        expected.append(previous)
    assert chain_links(head, positions, events) == expected


# Events made without calling their class ----------------------------------------------


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=lambda c: c.__qualname__)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_an_event_made_in_a_trigger_equals_one_made_by_its_class(
        event_class: type[FactAggregate.Event], data: st.DataObject) -> None:
    """``_trigger`` makes an event as its class's ``__init__`` would (the same fields, in
    the same order, equal), and calls the class for anything else (a missing or an extra
    field, an id that is no UUID), which refuses it as before."""
    aggregate_class = next(a for a in AGGREGATES if event_class in vars(a).values())
    how = trigger_plan(aggregate_class, event_class)
    event = data.draw(event_strategy(event_class))
    state = vars(event)
    ctx: Context = object.__new__(Context)  # the event's own values, checked or not
    for name, value in (("actor", event.actor), ("occurred_at", event.occurred_at),
                        ("recorded_at", event.timestamp), ("command_id", event.command_id)):
        object.__setattr__(ctx, name, value)
    own = {name: value for name, value in state.items() if name not in _CONTEXT_FIELDS}
    made = how.made(event.originator_id, event.originator_version, ctx, own)
    assert type(made) is event_class
    assert list(vars(made).items()) == list(state.items())
    assert made == event
    with pytest.raises(TypeError):
        how.made(event.originator_id, 1, ctx, {**own, "unknown": 1})
    if own:
        with pytest.raises(TypeError):
            how.made(event.originator_id, 1, ctx, dict(list(own.items())[1:]))
    with pytest.raises(TypeError):
        how.made(str(event.originator_id), 1, ctx, own)


def test_the_events_of_the_bench_are_made_without_calling_their_class() -> None:
    """(So the fast way is the one taken: an action's fields are all the command's.)"""
    assert trigger_plan(Incident, Incident.ActionTaken).own == frozenset(
        {"action", "description", "equipment"})


# The policy's decisions kept for a batch ------------------------------------------------

PEOPLE = ("office", "p1", "p2", "p3", "zhou")
ROLES = (Role.GRID_LEADER, Role.GRID_WORKER, Role.SQUAD_MEMBER, Role.VOLUNTEER,
         Role.COMMUNITY_STAFF, Role.RESIDENT, Role.INCIDENT_COMMANDER, Role.SYSTEM)
TERMS = ((Role.GRID_LEADER, "3"), (Role.GRID_LEADER, "4"), (Role.GRID_WORKER, "3"),
         (Role.SQUAD_MEMBER, None), (Role.VOLUNTEER, None), (Role.COMMUNITY_STAFF, None))
OFFICE = Actor("office", Role.COMMUNITY_STAFF)
ACTORS = (OFFICE, *(Actor(p, r) for p in PEOPLE for r in ROLES),
          Actor("p1", Role.SQUAD_MEMBER, override="nobody else was there"),
          Actor("p2", Role.GRID_LEADER, override="the leader was away"))
LAGS = (timedelta(0), timedelta(0), timedelta(minutes=10), timedelta(hours=3),
        -timedelta(minutes=5))
KINDS = ("note", "action", "action", "source", "commander", "dispatch", "arrive", "en_route",
         "contain", "correct_details", "correct_time", "report", "elsewhere")
_FIRE = UUID(int=30)

_ACT = st.tuples(st.just("act"), st.sampled_from(KINDS), st.integers(0, 399),
                 st.integers(0, len(LAGS) - 1), st.sampled_from(PEOPLE))
STEPS = st.lists(st.one_of(
    st.tuples(st.just("wait"), st.sampled_from((1, 30, 600, 1500))),
    st.tuples(st.just("enrol"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("assign"), st.sampled_from(PEOPLE), st.integers(0, len(TERMS) - 1),
              st.integers(0, 3)),
    st.tuples(st.just("relieve"), st.integers(0, 20)),
    st.tuples(st.sampled_from(("move_since", "move_until")), st.integers(0, 20),
              st.sampled_from((-90, 5, 300, 900))),
    _ACT, _ACT, _ACT, _ACT,
    st.tuples(st.just("again")), st.tuples(st.just("again")), st.tuples(st.just("again")),
), max_size=50)
"""Steps of a batch. An act's actor: below 300, someone in a role they hold now (or the
incident's commander, or the office); else any of ACTORS. ``again``: the last act again,
by the same actor, now (as a bulk import repeats a command)."""


class _Batch:
    """One run of the steps (``run``) in one batch."""

    def __init__(self, engine: Any, clock: ManualClock, community: UUID) -> None:
        self.engine, self.clock, self.community = engine, clock, community
        self.last: tuple[tuple[Any, ...], Actor] | None = None
        self.elsewhere: list[UUID] = []

    def run(self, step: tuple[Any, ...]) -> Any:
        try:
            return self.step(step)
        except ResilienceError as exc:
            return type(exc).__name__, str(exc)

    def step(self, step: tuple[Any, ...]) -> Any:
        kind, now = step[0], self.clock()
        c, incidents, community = self.engine.communities, self.engine.incidents, self.community
        if kind == "wait":
            self.clock.advance(timedelta(minutes=step[1]))
            return None
        if kind == "enrol":
            return c.enrol(community, step[1], step[1], actor=OFFICE).versions
        if kind == "assign":
            role, scope = TERMS[step[2]]
            by = (OFFICE, ACTORS[7], ACTORS[14], ACTORS[30])[step[3]]
            return c.assign_role(community, step[1], role, scope, actor=by).versions
        org = c.get(community)
        if kind in ("relieve", "move_since", "move_until"):
            terms = [t for t in org.terms if (t.until is None) == (kind == "relieve")
                     or kind == "move_since"]
            if not terms:
                return None
            term = terms[step[1] % len(terms)]
            if kind == "relieve":
                return c.relieve_role(community, term.person_id, term.role, term.scope,
                                      "moved", actor=OFFICE).versions
            version, moment = ((term.assigned, term.since) if kind == "move_since"
                               else (term.relieved, term.until))
            return c.correct_time(community, version, moment + timedelta(minutes=step[2]),
                                  "clock", actor=OFFICE).versions
        if kind == "again":
            if self.last is None:
                return None
            step, actor = self.last
        else:
            actor = self.actor(step[2], now)
            self.last = step, actor
        _, what, who, lag, person = step
        at = max(T0, now - LAGS[lag])
        other = self.elsewhere[who % len(self.elsewhere)] if self.elsewhere else _FIRE
        calls = {
            "note": lambda: incidents.add_note(_FIRE, "n", actor=actor, occurred_at=at),
            "action": lambda: incidents.take_action(_FIRE, "other", "a", actor=actor,
                                                    occurred_at=at),
            "elsewhere": lambda: incidents.take_action(other, "other", "a", actor=actor,
                                                       occurred_at=at),
            "source": lambda: incidents.find_source(_FIRE, "s", actor=actor, occurred_at=at),
            "commander": lambda: incidents.assign_commander(_FIRE, person, actor=actor,
                                                            occurred_at=at),
            "dispatch": lambda: incidents.dispatch(_FIRE, [person], actor=actor,
                                                   occurred_at=at),
            "arrive": lambda: incidents.arrive(_FIRE, person, actor=actor, occurred_at=at),
            "en_route": lambda: incidents.en_route(_FIRE, person, actor=actor,
                                                   occurred_at=at),
            "contain": lambda: incidents.contain(_FIRE, actor=actor, occurred_at=at),
            "correct_details": lambda: incidents.correct_details(_FIRE, 1 + lag, "d", "r",
                                                                 actor=actor),
            "correct_time": lambda: incidents.correct_time(
                _FIRE, 2 + lag, T0 + timedelta(minutes=lag), "clock", actor=actor),
            "report": lambda: incidents.report(
                community, incident_type="fire", severity="low",
                location=Location(building="30", unit="1"), description="r", actor=actor,
                occurred_at=at, incident_id=UUID(int=1000 + len(self.elsewhere))),
        }
        receipt = calls[what]()
        if what == "report":
            self.elsewhere.append(receipt.aggregate_id)
        return receipt.aggregate_id == _FIRE, receipt.versions

    def actor(self, who: int, now: datetime) -> Actor:
        if who >= 300:
            return ACTORS[(who - 300) % len(ACTORS)]
        org = self.engine.communities.get(self.community)
        commander = self.engine.incidents.get(_FIRE).commander_at(now)
        held = [Actor(t.person_id, t.role) for t in org.terms
                if t.since <= now and (t.until is None or now < t.until)]
        held += [OFFICE, *([Actor(commander, Role.INCIDENT_COMMANDER)] if commander else [])]
        return held[who % len(held)]


def _run(steps: list[tuple[Any, ...]], importing: bool) -> tuple[list[Any], list[Any]]:
    """Each step's outcome (its receipt's versions, or the refusal's class and message),
    all in one batch; and the incident's stored facts afterwards."""
    clock = ManualClock(T0 - timedelta(days=1))
    with Engine("memory:", clock=clock) as engine:
        c = engine.communities
        community = c.register(district="T", subdistrict="D", name="Donghu",
                               actor=OFFICE).aggregate_id
        c.add_grid(community, "3", actor=OFFICE)
        c.add_grid(community, "4", actor=OFFICE)
        c.add_building(community, "30", "3", [UnitSpec("1", 10)], actor=OFFICE)
        c.enrol(community, "office", "Office", actor=OFFICE)
        for person, (role, scope) in (("p1", TERMS[3]), ("p2", TERMS[0]), ("p3", TERMS[4])):
            c.enrol(community, person, person, actor=OFFICE)
            c.assign_role(community, person, role, scope, actor=OFFICE)
        clock.set(T0)
        engine.incidents.detect(community, incident_type="fire", severity="high",
                                location=Location(building="30", unit="1"),
                                description="smoke", actor=OFFICE, incident_id=_FIRE)
        engine.incidents.dispatch(_FIRE, ["p1"], actor=OFFICE)
        recorder = engine.importing(OFFICE) if importing else engine
        batch = _Batch(recorder, clock, community)
        with recorder.batch():
            outcomes = [batch.run(step) for step in steps]
        facts = [(type(e).__name__, e.originator_id, e.originator_version, e.actor,
                  e.occurred_at, e.timestamp)
                 for aggregate in (_FIRE, community, *batch.elsewhere)
                 for e in engine.events(aggregate)]
    return outcomes, facts


def _decided_in_full(self: BatchDecisions, community: Any, actor: Actor, command: str,
                     at: datetime, now: datetime, target: Any) -> Any:
    """``BatchDecisions.enforce`` keeping nothing: the policy's decision made in full."""
    decision = self._policy._decide(community, actor, command, at, now, target)
    if not decision.allowed:
        raise PermissionDeniedError(decision.reason)
    return decision


_IC2 = 300 + ACTORS.index(Actor("p2", Role.INCIDENT_COMMANDER))
_SQUAD1 = 300 + ACTORS.index(Actor("p1", Role.SQUAD_MEMBER))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=STEPS, importing=st.booleans())
@example(steps=[  # a kept decision, then its target changes: the commander is replaced
    ("act", "commander", 300, 0, "p2"), ("wait", 1), ("act", "action", _IC2, 0, "p1"),
    ("wait", 1), ("act", "commander", 300, 0, "p3"), ("wait", 1),
    ("act", "action", _IC2, 0, "p1")], importing=False)
@example(steps=[  # a kept decision, then time passes the end of the actor's term
    ("relieve", 0), ("move_until", 0, 900), ("wait", 1), ("act", "action", _SQUAD1, 0, "p1"),
    ("wait", 1500), ("again",)], importing=False)
def test_a_batch_decides_as_the_policy_decides_each_command_in_full(
        steps: list[tuple[Any, ...]], importing: bool) -> None:
    """Random actors (on the roster or not, in any role, with overrides) run random
    commands in one batch, late or on time, while the roster changes under them (roles
    assigned and relieved, their times corrected) and the incident's commander and
    responders change: every command is allowed or refused (with the same message) as
    when each is decided in full, with no decision and no target kept, and the same facts
    are recorded."""
    kept = _run(steps, importing)
    with (patch.object(BatchDecisions, "enforce", _decided_in_full),
          patch.object(Store, "standing_target", lambda *_: None)):
        full = _run(steps, importing)
    assert kept == full


def test_the_batch_keeps_decisions_and_targets() -> None:
    """(So the test above compares two ways: in a batch, a responder's second and later
    actions on an incident are not decided again, nor is its target worked out again.)"""
    setup = [("wait", 1)]  # (p1 is a squad member dispatched to the fire)
    action = [("act", "action", _SQUAD1, 0, "p1"), ("wait", 1)]

    def calls(actions: int) -> dict[str, int]:
        counts = {"decided": 0, "targets": 0}
        decide, about = Policy._decide_reading, Incidents._about

        def counted(name: str, function: Any) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                counts[name] += 1
                return function(*args, **kwargs)
            return call

        with (patch.object(Policy, "_decide_reading", counted("decided", decide)),
              patch.object(Incidents, "_about", counted("targets", about))):
            outcomes, _ = _run(setup + action * actions, importing=False)
        assert [o for o in outcomes[len(setup):] if o is not None] == [
            (True, range(3 + n, 4 + n)) for n in range(actions)]
        return counts

    once = calls(1)
    assert once["targets"] >= 1
    assert calls(6) == once


# What the store makes of each event it records -------------------------------------------


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_the_event_store_records_as_eventsourcing_records(data: st.DataObject) -> None:
    """``RecordingEventStore.put`` gives the stored events and recordings eventsourcing's
    own ``EventStore.put`` gives (equal, the same types), and the mapper's stored event
    equals one made by calling ``StoredEvent``."""
    classes = data.draw(st.lists(st.sampled_from(EVENT_CLASSES), min_size=1, max_size=5))
    events = [data.draw(event_strategy(cls)) for cls in classes]
    ids = [UUID(int=index) for index in range(len(events))]
    events = [dataclasses.replace(event, originator_id=ids[index], originator_version=1)
              for index, event in enumerate(events)]
    mapper = _mapper()
    for event in events:
        stored = mapper.to_stored_event(event)
        assert type(stored) is StoredEvent
        assert list(vars(stored).items()) == list(vars(StoredEvent(
            originator_id=event.originator_id, originator_version=event.originator_version,
            topic=stored.topic, state=stored.state)).items())
    made = [RecordingEventStore(mapper, MemoryEventRecorder()).put(events),
            EventStore(mapper, MemoryEventRecorder()).put(events)]
    assert made[0] == made[1]
    for ours, theirs in zip(*made, strict=True):
        assert type(ours) is type(theirs)
        assert type(ours.notification) is Notification
        assert list(vars(ours.notification).items()) == list(
            vars(theirs.notification).items())
        assert ours.domain_event is theirs.domain_event


# SQLite inserts of many rows a statement -------------------------------------------------


@pytest.mark.parametrize("count", [1, SQLITE_ROWS - 1, SQLITE_ROWS, SQLITE_ROWS + 1,
                                   2 * SQLITE_ROWS + 37])
def test_a_sqlite_batch_of_any_size_is_recorded_and_chained(count: int,
                                                           tmp_path: Path) -> None:
    """Events and links go in many rows a statement, the rest one a statement: every event
    is stored once, in order, under its notification id, and the chain verifies; an event
    already stored, at the start, in a middle statement or in the rest, fails the whole
    insert and records nothing."""
    with Engine(f"sqlite:///{tmp_path / 'bulk.db'}") as engine:
        recorder = engine.app.recorder
        first = _stored(count, 3, seed=7)
        positions = list(recorder.insert_events(first) or ())
        assert positions == list(range(1, count + 1))
        stored = recorder.select_notifications(1, count + 10)
        assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state)
                for n in stored] == [(p, e.originator_id, e.originator_version, e.topic,
                                      e.state) for p, e in zip(positions, first, strict=True)]
        for clash in sorted({0, count // 2, count - 1}):
            again = _stored(count, 3, seed=8)
            again[clash] = first[clash]
            with pytest.raises(IntegrityError):
                recorder.insert_events(again)
            assert len(recorder.select_notifications(1, 3 * count + 10)) == count
        verification = engine.verify()
        assert verification.ok
        assert verification.events_checked == count
