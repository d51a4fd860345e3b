"""The engine on every store: commands record facts, read back with exact types."""

import threading
from datetime import timedelta
from uuid import UUID

import pytest

from resilience import (
    Actor,
    ConflictError,
    Engine,
    IncidentStatus,
    InvalidTransitionError,
    Location,
    ManualClock,
    Role,
    UnitSpec,
)

from conftest import OFFICE, T0

ZHANG = Actor("p-3001", Role.GRID_LEADER)


def _donghu(engine: Engine) -> tuple[UUID, UUID]:
    community = engine.communities.register(
        district="Taishan District", subdistrict="Daimiao Subdistrict", name="Donghu Community",
        actor=OFFICE, occurred_at=T0 - timedelta(days=60),
    ).aggregate_id
    engine.communities.add_grid(community, "3", actor=OFFICE)
    engine.communities.add_building(community, "30", "3", [UnitSpec("1", 24)], actor=OFFICE)
    incident = engine.incidents.report(
        community, incident_type="fire", severity="high",
        location=Location(building="30", unit="1", floor=-1), description="smoke",
        actor=ZHANG, detected_at=T0, occurred_at=T0 + timedelta(minutes=1),
    ).aggregate_id
    return community, incident


def test_facts_round_trip_through_every_store(engine: Engine) -> None:
    """An incident's facts come back from each store with aware times and their grid filled in."""
    _, incident = _donghu(engine)
    loaded = engine.incidents.get(incident)
    assert loaded.status is IncidentStatus.REPORTED
    assert loaded.detected_at == T0
    assert loaded.location.grid == "3"
    events = engine.events(incident)
    assert [type(e).__name__ for e in events] == ["Detected", "Reported"]
    assert events[1].occurred_at == T0 + timedelta(minutes=1)
    assert events[0].occurred_at.utcoffset() == timedelta(hours=8)


def test_recorded_time_comes_from_the_injected_clock(engine: Engine, clock: ManualClock) -> None:
    """The event timestamp is the clock's time, not the wall clock's nor occurred_at."""
    _, incident = _donghu(engine)
    clock.set(T0 + timedelta(minutes=20))
    engine.incidents.acknowledge(incident, actor=OFFICE,
                                 occurred_at=T0 + timedelta(minutes=2))
    last = engine.events(incident)[-1]
    assert last.timestamp == T0 + timedelta(minutes=20)
    assert last.occurred_at == T0 + timedelta(minutes=2)


def test_repeated_command_id_records_nothing_and_returns_the_original(engine: Engine) -> None:
    """A field device retrying a command with the same id gets the first receipt back."""
    _, incident = _donghu(engine)
    first = engine.incidents.dispatch(incident, ["li", "wang"], actor=OFFICE,
                                      command_id="radio-17")
    again = engine.incidents.dispatch(incident, ["li", "wang"], actor=OFFICE,
                                      command_id="radio-17")
    assert again == first
    assert len(engine.events(incident)) == 4


def test_concurrent_writers_get_a_conflict_not_a_lost_update(shared_store_url: str,
                                                             clock: ManualClock) -> None:
    """Two engines deciding on the same incident version: the second save raises ConflictError."""
    store_url = shared_store_url
    with Engine(store_url, clock=clock, policy=None) as first, \
            Engine(store_url, clock=clock, policy=None) as second:
        _, incident = _donghu(first)
        stale = second.incidents.get(incident)
        first.incidents.acknowledge(incident, actor=OFFICE)
        store = second.incidents._store
        ctx = store.context(OFFICE, None, None)
        stale.acknowledge(ctx)
        with pytest.raises(ConflictError):
            store._save(type(stale), stale, ctx, stale.version)
        assert len(first.events(incident)) == 3


def test_another_writers_facts_are_seen_by_the_next_command(shared_store_url: str,
                                                            clock: ManualClock) -> None:
    """An engine that cached an incident still decides on what other writers recorded since."""
    with Engine(shared_store_url, clock=clock, policy=None) as first, \
            Engine(shared_store_url, clock=clock, policy=None) as second:
        _, incident = _donghu(first)
        first.incidents.acknowledge(incident, actor=OFFICE)       # first caches the incident
        second.incidents.close(incident, "false_alarm", actor=OFFICE)
        clock.set(clock() + timedelta(minutes=1))  # a note dated at the closure amends it
        with pytest.raises(InvalidTransitionError, match="closed"):
            first.incidents.add_note(incident, "stale view would accept this", actor=OFFICE)
        first.incidents.reopen(incident, "it was real", actor=OFFICE)  # cached: closed
        second.incidents.add_note(incident, "from the second desk", actor=OFFICE,
                                  command_id="desk-2/1")
        receipt = first.incidents.add_note(incident, "from the second desk", actor=OFFICE,
                                           command_id="desk-2/1")
        assert receipt.first_version == 6
        first.incidents.add_note(incident, "after catching up", actor=OFFICE)
        names = [type(e).__name__ for e in second.events(incident)]
        assert names == ["Detected", "Reported", "Acknowledged", "Closed", "Reopened",
                         "NoteAdded", "NoteAdded"]


def test_a_refused_command_leaves_no_trace_in_later_decisions(memory_engine: Engine) -> None:
    """After a rejected command the next one decides on the stored state only."""
    _, incident = _donghu(memory_engine)
    memory_engine.incidents.dispatch(incident, ["li"], actor=OFFICE)
    with pytest.raises(InvalidTransitionError):
        memory_engine.incidents.dispatch(incident, ["wang", "li"], actor=OFFICE)
    memory_engine.incidents.dispatch(incident, ["wang"], actor=OFFICE)
    assert sorted(memory_engine.incidents.get(incident).responders) == ["li", "wang"]
    assert len(memory_engine.events(incident)) == 4


def test_other_threads_never_see_a_batch_before_it_is_saved(memory_engine: Engine) -> None:
    """A query from another thread during a batch sees the stored state, not the held facts."""
    _, incident = _donghu(memory_engine)
    seen: list[int] = []
    with memory_engine.batch():
        memory_engine.incidents.acknowledge(incident, actor=OFFICE)
        assert memory_engine.incidents.get(incident).acknowledged == 3  # this thread sees it
        reader = threading.Thread(
            target=lambda: seen.append(memory_engine.incidents.get(incident).version))
        reader.start()
        reader.join()
    assert seen == [2]
    assert memory_engine.incidents.get(incident).version == 3
