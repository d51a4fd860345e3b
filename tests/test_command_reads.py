"""What a command reads is checked when it is recorded (resilience.services.core,
``Store.deciding``): it decides on the cached community without reading the store first,
and its insert checks, under the store's write lock, that the community still stands at
the version read (the insert's ``reads``: resilience.adapters.chain_recorders); on every
store, another writer's roster change is seen however the timing falls."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from resilience import (
    Actor,
    Engine,
    Location,
    ManualClock,
    PermissionDeniedError,
    Role,
)
from resilience.adapters.chain_recorders import StaleReadError
from resilience.services.core import Store

from conftest import OFFICE, T0

ZHANG = Actor("zhang", Role.GRID_LEADER)
ZHOU = Actor("zhou", Role.GRID_WORKER)


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


@pytest.fixture
def engines(store_url: str) -> Iterator[tuple[Engine, Engine, ManualClock]]:
    """An engine, and another writer on its store: a store of its own (its own cache),
    sharing the engine's application, so the memory store has another writer too."""
    clock = ManualClock(T0 - timedelta(days=30))
    with Engine(store_url, clock=clock) as engine:
        yield engine, engine.with_clock(clock), clock


def _donghu(engine: Engine, clock: ManualClock) -> tuple[UUID, UUID]:
    """Donghu with Zhang grid leader of grid 3, and a fire Zhang reported and noted: the
    community and the fire cached by ``engine``'s store."""
    c = engine.communities
    community = c.register(district="T", subdistrict="D", name="Donghu",
                           actor=OFFICE).aggregate_id
    c.add_grid(community, "3", actor=OFFICE)
    c.enrol(community, "zhang", "Zhang", actor=OFFICE)
    c.assign_role(community, "zhang", Role.GRID_LEADER, "3", actor=OFFICE)
    c.enrol(community, "zhou", "Zhou", actor=OFFICE)
    clock.set(T0)
    fire = engine.incidents.report(community, incident_type="fire", severity="low",
                                   location=Location(grid="3"), description="smoke",
                                   actor=ZHANG).aggregate_id
    engine.incidents.add_note(fire, "all in hand", actor=ZHANG)
    return community, fire


@contextmanager
def counting_reads(engine: Engine) -> Iterator[list[object]]:
    """Every read of stored events through the engine's recorder while the block runs."""
    recorder: Any = engine.app.recorder
    reads: list[object] = []
    select = recorder.select_events

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return select(*args, **kwargs)

    recorder.select_events = counted
    try:
        yield reads
    finally:
        del recorder.select_events


def _after_the_decision(engine: Engine, write: Callable[[], object]) -> list[int]:
    """Have ``write`` (another writer's command) recorded once, right after ``engine``'s
    next command is authorized, before its insert; the number of authorizations seen."""
    store: Store = engine._store
    authorize = store.authorize
    calls: list[int] = []

    def then_write(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        decision = authorize(*args, **kwargs)
        if len(calls) == 1:
            write()
        return decision

    store.authorize = then_write  # type: ignore[method-assign]
    return calls


def test_a_command_reads_nothing_before_its_insert(
        engines: tuple[Engine, Engine, ManualClock]) -> None:
    """The incident and its community cached: a note, and a new report (a fresh id), are
    decided and recorded without a read of the store (the roster is checked by the
    insert itself)."""
    engine, _, clock = engines
    community, fire = _donghu(engine, clock)
    with counting_reads(engine) as reads:
        engine.incidents.add_note(fire, "hoses out", actor=ZHANG, occurred_at=at(1))
        engine.incidents.report(community, incident_type="flood", severity="low",
                                location=Location(grid="3"), description="water",
                                actor=ZHANG, occurred_at=at(2))
    assert reads == []


def test_a_relief_by_another_writer_is_refused_at_once(
        engines: tuple[Engine, Engine, ManualClock]) -> None:
    """The other writer relieves Zhang; the engine, whose cached roster still has him,
    refuses his next note and report, recording nothing."""
    engine, other, clock = engines
    community, fire = _donghu(engine, clock)
    other.communities.relieve_role(community, "zhang", Role.GRID_LEADER, "3", "moved",
                                   actor=OFFICE, occurred_at=at(1))
    clock.set(at(2))
    with pytest.raises(PermissionDeniedError):
        engine.incidents.add_note(fire, "still here", actor=ZHANG)
    with pytest.raises(PermissionDeniedError):
        engine.incidents.report(community, incident_type="flood", severity="low",
                                location=Location(grid="3"), description="water",
                                actor=ZHANG)
    assert len(engine.events(fire)) == 3


def test_a_relief_between_the_decision_and_the_insert_is_refused(
        engines: tuple[Engine, Engine, ManualClock]) -> None:
    """Zhang is relieved by the other writer after the engine's policy allowed his note
    on the cached roster, before the note's insert: the insert finds the community moved
    (StaleReadError), records nothing, and the note is decided again on the roster as
    stored: refused."""
    engine, other, clock = engines
    community, fire = _donghu(engine, clock)
    clock.set(at(2))
    decided = _after_the_decision(engine, lambda: other.communities.relieve_role(
        community, "zhang", Role.GRID_LEADER, "3", "moved", actor=OFFICE, occurred_at=at(1)))
    with pytest.raises(PermissionDeniedError):
        engine.incidents.add_note(fire, "still here", actor=ZHANG)
    assert len(decided) == 2  # allowed on the cached roster, refused on the stored one
    assert len(engine.events(fire)) == 3


def test_a_report_decided_before_a_relief_is_refused(
        engines: tuple[Engine, Engine, ManualClock]) -> None:
    """The same for a new incident: its insert checks the community it was decided on."""
    engine, other, clock = engines
    community, _ = _donghu(engine, clock)
    clock.set(at(2))
    decided = _after_the_decision(engine, lambda: other.communities.relieve_role(
        community, "zhang", Role.GRID_LEADER, "3", "moved", actor=OFFICE, occurred_at=at(1)))
    before = engine.app.recorder.max_notification_id() or 0
    with pytest.raises(PermissionDeniedError):
        engine.incidents.report(community, incident_type="flood", severity="low",
                                location=Location(grid="3"), description="water",
                                actor=ZHANG)
    assert len(decided) == 2
    assert engine.app.recorder.max_notification_id() == before + 1  # the relief alone


def test_a_role_given_by_another_writer_counts_at_once(
        engines: tuple[Engine, Engine, ManualClock]) -> None:
    """The other writer makes Zhou grid worker of grid 3; the engine's cached roster does
    not have him: refused there, the command is decided again on the roster as stored,
    and recorded."""
    engine, other, clock = engines
    community, fire = _donghu(engine, clock)
    other.communities.assign_role(community, "zhou", Role.GRID_WORKER, "3", actor=OFFICE,
                                  occurred_at=at(1))
    clock.set(at(2))
    receipt = engine.incidents.add_note(fire, "on my way", actor=ZHOU)
    assert receipt.first_version == 4


def test_each_store_refuses_an_insert_whose_reads_moved(
        engines: tuple[Engine, Engine, ManualClock]) -> None:
    """The recorder's own check: an insert naming a read the store no longer holds at
    that version raises StaleReadError and records nothing."""
    engine, _, clock = engines
    community, fire = _donghu(engine, clock)
    version = engine.communities.get(community).version

    def noted() -> Any:
        incident = engine.incidents.get(fire)
        incident.add_note(engine._store.context(ZHANG, at(3), None), "late")
        return incident

    before = engine.app.recorder.max_notification_id()
    with pytest.raises(StaleReadError):
        engine.app.save(noted(), reads={community: version - 1})
    with pytest.raises(StaleReadError):
        engine.app.save(noted(), reads={fire: 2})  # the insert's own aggregate too
    assert engine.app.recorder.max_notification_id() == before
    assert len(engine.app.save(noted(), reads={community: version})) == 1
