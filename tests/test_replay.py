"""Replay at a cut: properties on random incident histories, and the Donghu fire's moments.

The oracle here folds raw events by hand (effective times worked out from
the corrections recorded by the cut, facts kept by the cut, state folded in
the order things happened); it shares no code with resilience.review.
"""

import contextlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from histories import apply_history, histories, setup_world
from resilience import (
    Actor,
    Engine,
    IncidentStatus,
    InvalidInputError,
    Location,
    ManualClock,
    NotFoundError,
    ResilienceError,
    Role,
    UnitSpec,
)
from resilience.scenario import load_scenario, replay
from resilience.scenarios import DONGHU_FIRE
from resilience.services.incidents import incident_id_for

from conftest import OFFICE, SHANGHAI, T0

COMMANDER = Actor("commander-wu", Role.INCIDENT_COMMANDER)
RESPONDERS = ("li", "wang", "chen")
RESIDENTS = ("resident-a", "resident-b")

# (command, argument, minutes after the previous step it happened (mostly forwards, so
#  most commands are accepted), minutes after that it was recorded)
COMMANDS = ("report", "acknowledge", "commander", "reclassify", "dispatch", "en_route",
            "arrive", "notify", "ask", "grant", "refuse", "exigent", "force", "source",
            "contain", "resolve", "close", "close_false_alarm", "reopen", "note",
            "correct_time", "rekindle")
# Closing shuts out most commands, so the others come up more often; containing, resolving
# and reopening often enough make incidents of several cycles.
WEIGHTED = (COMMANDS + tuple(c for c in COMMANDS if "close" not in c) * 2 + ("ask", "grant") * 3
            + ("contain", "resolve", "rekindle") * 4 + ("dispatch", "arrive") * 3)
steps = st.lists(st.tuples(st.sampled_from(WEIGHTED), st.integers(0, 5),
                           st.integers(-10, 12), st.sampled_from([0, 0, 0, 3, 20, 45])),
                 max_size=40)


def _world(engine: Engine) -> tuple[UUID, UUID]:
    community = engine.communities.register(district="D", subdistrict="S", name="C",
                                            actor=OFFICE).aggregate_id
    engine.communities.add_grid(community, "3", actor=OFFICE)
    engine.communities.add_building(community, "30", "3", [UnitSpec("1", 10)], actor=OFFICE)
    incident = engine.incidents.report(
        community, incident_type="fire", severity="high",
        location=Location(building="30", unit="1"), description="smoke", actor=OFFICE,
        occurred_at=T0).aggregate_id
    return community, incident


def _run(engine: Engine, clock: ManualClock, incident: UUID,
         history: list[tuple[str, int, int, int]]) -> None:
    """Each step at a moving clock; refused commands record nothing and are skipped."""
    at = T0
    for command, pick, delta, lateness in history:
        at = max(T0, at + timedelta(minutes=delta))
        clock.set(max(clock(), at + timedelta(minutes=lateness)))
        with contextlib.suppress(ResilienceError):
            _command(engine, incident, command, pick, at)


def _command(engine: Engine, incident: UUID, command: str, pick: int, at: datetime) -> None:
    i = engine.incidents
    responder, resident = RESPONDERS[pick % 3], RESIDENTS[pick % 2]
    kw: dict[str, Any] = {"actor": COMMANDER, "occurred_at": at}
    calls = {
        "report": lambda: i.report_to_community(incident, **kw),
        "acknowledge": lambda: i.acknowledge(incident, **kw),
        "commander": lambda: i.assign_commander(incident, f"commander-{pick % 3}", **kw),
        "reclassify": lambda: i.reclassify(incident, severity=("low", "high", "critical")[
            pick % 3], **kw),
        "dispatch": lambda: i.dispatch(incident, [responder], **kw),
        "en_route": lambda: i.en_route(incident, responder, **kw),
        "arrive": lambda: i.arrive(incident, responder, **kw),
        "notify": lambda: i.take_action(incident, "residents_notified", "phoned", **kw),
        "ask": lambda: i.request_consent(incident, resident, "break a lock", **kw),
        "grant": lambda: i.grant_consent(incident, resident, **kw),
        "refuse": lambda: i.refuse_consent(incident, resident, "no", **kw),
        "exigent": lambda: i.authorise_exigent_entry(incident, "smoke spreading", **kw),
        "force": lambda: i.force_entry(incident, "storage room", **kw),
        "source": lambda: i.find_source(incident, "mattress", **kw),
        "contain": lambda: i.contain(incident, **kw),
        "resolve": lambda: i.resolve(incident, "out", **kw),
        "close": lambda: i.close(incident, "resolved", **kw),
        "close_false_alarm": lambda: i.close(incident, "false_alarm", **kw),
        "reopen": lambda: i.reopen(incident, f"rekindled {pick}", **kw),
        "note": lambda: i.add_note(incident, "note", **kw),
        "correct_time": lambda: i.correct_time(
            incident, 1 + pick * 3 % max(1, len(engine.events(incident))),
            at - timedelta(minutes=pick), "log", **kw),
    }
    if command == "rekindle":  # resolved (unless it is already) and reopened: a new cycle
        with contextlib.suppress(ResilienceError):
            calls["resolve"]()
        calls["reopen"]()
        return
    calls[command]()


@pytest.fixture
def world() -> Iterator[tuple[Engine, ManualClock, UUID, UUID]]:
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock) as engine:
        community, incident = _world(engine)
        yield engine, clock, community, incident


# The oracle ------------------------------------------------------------------------------


def oracle(events: list[Any], as_of: datetime | None, known_at: datetime | None
           ) -> dict[str, Any] | None:
    """The incident's state at the cut, folded by hand from its raw events."""
    known = [e for e in events if known_at is None or e.timestamp <= known_at]
    versions = {e.originator_version for e in known}
    times = {e.originator_version: e.occurred_at for e in known}
    for e in known:
        if type(e).__name__ == "TimeCorrected" and e.corrects in versions:
            times[e.corrects] = e.corrected_to
    kept = [e for e in known if as_of is None or times[e.originator_version] <= as_of]
    if not kept or kept[0].originator_version != 1:
        return None
    state: dict[str, Any] = {"commander": None, "type": kept[0].incident_type.value,
                             "severity": kept[0].severity.value, "on_scene": set(),
                             "dispatched": set(), "asked": {}, "answered": {},
                             "granted": set(), "chains": {}, "contained_at": None,
                             "resolved_at": None, "closed_at": None,
                             "contained": False, "resolved": False, "closed": None,
                             "reopened": 0, "reported": False, "acknowledged": False,
                             "facts": len(kept), "cycles": []}
    steps = {"ResponderDispatched": 0, "ResponderEnRoute": 1, "ResponderOnScene": 2}
    for e in sorted(kept, key=lambda e: (times[e.originator_version], e.originator_version)):
        name, order = type(e).__name__, (times[e.originator_version], e.originator_version)
        if name in steps:  # a chain per responder per cycle
            chain = state["chains"].setdefault((e.responder_id, state["reopened"]),
                                               [None, None, None])
            chain[steps[name]] = order[0]
        if name == "CommanderAssigned":
            state["commander"] = e.person_id
        elif name == "Reclassified":
            state["type"], state["severity"] = e.incident_type.value, e.severity.value
        elif name == "ResponderDispatched":
            state["dispatched"].add(e.responder_id)
        elif name == "ResponderOnScene":
            state["on_scene"].add(e.responder_id)
        elif name == "ConsentRequested":
            state["asked"][e.resident_id] = order
        elif name in ("ConsentGranted", "ConsentRefused"):
            state["answered"][e.resident_id] = order
            if name == "ConsentGranted":
                state["granted"].add(e.resident_id)
            else:
                state["granted"].discard(e.resident_id)
        elif name == "Contained":
            state["contained"], state["contained_at"] = True, order[0]
        elif name == "Resolved":
            state["resolved"], state["resolved_at"] = True, order[0]
        elif name == "Closed":
            state["closed"], state["closed_at"] = e.reason.value, order[0]
        elif name == "Reopened":  # a new cycle: its own response from scratch
            state["resolved"], state["closed"], state["contained"] = False, None, False
            state["resolved_at"] = state["closed_at"] = state["contained_at"] = None
            state["dispatched"], state["on_scene"] = set(), set()
            state["reopened"] += 1
            # The reason as the cases view keeps it: the fact's detail(), where it gives one.
            state["cycles"].append((order[0], e.detail() if isinstance(e.detail(), str)
                                    else None))
        elif name in ("Reported", "Acknowledged"):
            state[name.lower()] = True
    state["pending"] = {r for r, asked in state["asked"].items()
                        if state["answered"].get(r, (T0 - timedelta(days=1), 0)) < asked}
    return state


def _status(state: dict[str, Any]) -> IncidentStatus:
    for flag, status in (("closed", IncidentStatus.CLOSED), ("resolved", IncidentStatus.RESOLVED),
                         ("contained", IncidentStatus.CONTAINED),
                         ("on_scene", IncidentStatus.ON_SCENE),
                         ("dispatched", IncidentStatus.DISPATCHED),
                         ("reopened", IncidentStatus.REOPENED),
                         ("acknowledged", IncidentStatus.ACKNOWLEDGED),
                         ("reported", IncidentStatus.REPORTED)):
        if state[flag]:
            return status
    return IncidentStatus.DETECTED


def assert_matches(situation: Any, state: dict[str, Any]) -> None:
    assert situation.status is _status(state)
    assert situation.commander == state["commander"]
    assert (situation.incident_type, situation.severity) == (state["type"], state["severity"])
    assert set(situation.on_scene) == state["on_scene"]
    assert set(situation.pending_consents) == state["pending"]
    assert situation.closure_reason == state["closed"]
    assert situation.reopen_count == state["reopened"]
    assert situation.facts == state["facts"]
    assert (situation.contained_at, situation.resolved_at, situation.closed_at) == (
        state["contained_at"], state["resolved_at"], state["closed_at"])
    assert set(situation.consents_granted) == state["granted"]
    assert {(r.responder_id, r.cycle): [r.dispatched_at, r.en_route_at, r.on_scene_at]
            for r in situation.responders} == state["chains"]
    assert [(c.started_at, c.reason) for c in situation.cycles[1:]] == state["cycles"]
    assert [c.number for c in situation.cycles] == list(range(state["reopened"] + 1))
    assert (situation.cycles[-1].contained_at, situation.cycles[-1].resolved_at) == (
        state["contained_at"], state["resolved_at"])


# Properties -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=steps)
def test_replay_at_the_end_of_history_is_the_current_state(history: list[Any]) -> None:
    """With no cut, the replayed situation equals the incident aggregate's own state."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock) as engine:
        _, incident = _world(engine)
        _run(engine, clock, incident, history)
        situation = engine.replay.incident(incident)
        aggregate = engine.incidents.get(incident)
        assert situation.status is aggregate.status
        assert situation.commander == aggregate.commander
        assert situation.incident_type == aggregate.incident_type.value
        assert situation.severity == aggregate.severity.value
        assert list(situation.pending_consents) == aggregate.pending_consents()
        assert set(situation.on_scene) == set(aggregate.on_scene())
        assert situation.closure_reason == (aggregate.closure_reason.value
                                            if aggregate.closure_reason else None)
        assert situation.reopen_count == aggregate.reopen_count
        assert situation.facts == aggregate.version
        assert len(situation.cycles) == aggregate.cycle + 1
        for cycle in situation.cycles:
            chains = aggregate.chains(cycle.number)
            assert {r.responder_id: (r.dispatched_at, r.en_route_at, r.on_scene_at)
                    for r in situation.responders if r.cycle == cycle.number} == {
                responder: tuple(None if v is None else aggregate.time_of(v)
                                 for v in (c.dispatched, c.en_route, c.on_scene))
                for responder, c in chains.items()}
        contained = aggregate.contained
        assert situation.contained_at == (None if contained is None
                                          else aggregate.time_of(contained))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=steps, as_of=st.none() | st.integers(-5, 120),
       known_at=st.none() | st.integers(-5, 180))
def test_replay_at_a_cut_equals_the_events_filtered_by_hand(
        history: list[Any], as_of: int | None, known_at: int | None) -> None:
    """As of / known at any moment, the situation equals a hand fold of the filtered events,
    and knows no fact recorded after ``known_at``."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock) as engine:
        _, incident = _world(engine)
        _run(engine, clock, incident, history)
        cut_as_of = None if as_of is None else T0 + timedelta(minutes=as_of)
        cut_known = None if known_at is None else T0 + timedelta(minutes=known_at)
        expected = oracle(engine.events(incident), cut_as_of, cut_known)
        if expected is None:
            with pytest.raises(NotFoundError):
                engine.replay.incident(incident, as_of=cut_as_of, known_at=cut_known)
            return
        situation = engine.replay.incident(incident, as_of=cut_as_of, known_at=cut_known)
        assert_matches(situation, expected)
        if cut_known is not None:
            assert situation.last_recorded_at <= cut_known
        timeline = engine.reviews.incident(incident, as_of=cut_as_of,
                                           known_at=cut_known).incidents[0].timeline
        assert len(timeline.entries) == expected["facts"]
        assert all(cut_known is None or e.recorded_at <= cut_known for e in timeline.entries)
        assert all(cut_as_of is None or e.occurred_at <= cut_as_of for e in timeline.entries)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=steps, as_of=st.integers(0, 120), known_at=st.none() | st.integers(0, 180))
def test_a_community_replay_from_the_view_agrees_with_each_incident_replayed_alone(
        history: list[Any], as_of: int, known_at: int | None) -> None:
    """The community's open incidents (read from the cases view) are the incidents'
    own replays at the same cut."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock) as engine:
        community, incident = _world(engine)
        _run(engine, clock, incident, history)
        cut_as_of = T0 + timedelta(minutes=as_of)
        cut_known = None if known_at is None else T0 + timedelta(minutes=known_at)
        situation = engine.replay.community(community, as_of=cut_as_of, known_at=cut_known)
        try:
            alone = engine.replay.incident(incident, as_of=cut_as_of, known_at=cut_known)
        except NotFoundError:
            assert situation.open_incidents == ()
            return
        expected = (alone,) if alone.is_open else ()
        assert situation.open_incidents == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories)
def test_every_order_replayed_at_the_end_is_its_current_state(history: list[Any]) -> None:
    """With no cut, each order's situation equals the order aggregate's own state."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock) as engine:
        world = apply_history(engine, clock, setup_world(engine, clock), history)
        for order_id in world.orders:
            situation = engine.replay.order(order_id)
            order = engine.orders.get(order_id)
            assert situation.status is order.status
            assert situation.provider == (order.provider.provider_id if order.provider else None)
            assert situation.outcome == (order.outcome.value if order.outcome else None)
            assert situation.rating == order.rating
            assert situation.resolved_by_resident == order.resolved_by_resident
            assert situation.reopen_count == order.reopen_count


# Examples: the Donghu fire --------------------------------------------------------------------


@pytest.fixture
def donghu() -> Iterator[tuple[Engine, UUID, UUID]]:
    with Engine("memory:") as engine:
        result = replay(engine, load_scenario(DONGHU_FIRE))
        yield engine, result.community_id, result.incidents["donghu-fire"]


def at(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return T0.replace(hour=hours, minute=minutes)


def test_what_was_known_at_1515_is_not_what_had_happened_by_then(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """At 15:15 nobody had recorded the containment (15:12, recorded 15:16) nor the
    consent (recorded 15:25); as we now know it, by 15:15 the fire was contained."""
    engine, _, incident = donghu
    known = engine.replay.incident(incident, known_at=at("15:15"))
    assert known.status is IncidentStatus.ON_SCENE
    assert known.pending_consents == ("b30-u1-storage-owner",)
    assert known.contained_at is None
    happened = engine.replay.incident(incident, as_of=at("15:15"))
    assert happened.status is IncidentStatus.CONTAINED
    assert happened.contained_at == at("15:12")
    assert happened.pending_consents == ()


def test_the_containment_known_before_its_correction_is_the_first_recorded_time(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Known at 16:00 (before the 16:10 correction) containment was 15:14; after, 15:12."""
    engine, _, incident = donghu
    assert engine.replay.incident(incident, known_at=at("16:00")).contained_at == at("15:14")
    assert engine.replay.incident(incident, known_at=at("16:20")).contained_at == at("15:12")
    # As of 15:13 as first known, it was not contained yet; as corrected, it was.
    assert engine.replay.incident(incident, as_of=at("15:13"),
                                  known_at=at("16:00")).contained_at is None
    assert engine.replay.incident(incident, as_of=at("15:13")).contained_at == at("15:12")


def test_grid_3_at_1507_had_its_leader_on_duty_and_three_responders_on_scene(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """The grid replay gives who held which role then, the open incident and who was there."""
    engine, community, incident = donghu
    grid = engine.replay.community(community, as_of=at("15:07"), grid="3")
    leaders = [h.person_id for h in grid.roster if h.role is Role.GRID_LEADER]
    assert leaders == ["p-3001"]
    assert [i.incident_id for i in grid.open_incidents] == [str(incident)]
    assert grid.responders_on_scene == {str(incident): ("p-3001", "p-3101", "p-3103")}
    # Consent was asked at 15:06 and granted at 15:07: nothing awaited at 15:07 itself.
    assert grid.pending_consents == {}
    assert engine.replay.community(community, as_of=at("15:06"), grid="3").pending_consents \
        == {str(incident): ("b30-u1-storage-owner",)}


def test_a_replay_after_the_closure_has_no_open_incident(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Once closed (16:30), the incident is no longer among the community's open ones."""
    engine, community, _ = donghu
    assert engine.replay.community(community, as_of=at("17:00")).open_incidents == ()


def test_a_role_handed_over_shows_in_the_roster_of_each_moment(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """A new grid leader from 2022-03-01 is in the roster after, not before."""
    engine, community, _ = donghu
    handover = datetime(2022, 3, 1, tzinfo=SHANGHAI)
    engine.communities.enrol(community, "liu", "Liu", actor=OFFICE, occurred_at=handover)
    engine.communities.assign_role(community, "liu", "grid_leader", scope="3", actor=OFFICE,
                                   occurred_at=handover)

    def leader(when: datetime) -> list[str]:
        grid = engine.replay.community(community, as_of=when, grid="3")
        return [h.person_id for h in grid.roster if h.role is Role.GRID_LEADER]
    assert leader(at("15:07")) == ["p-3001"]
    assert leader(datetime(2022, 3, 2, tzinfo=SHANGHAI)) == ["liu"]


def test_metrics_as_known_then_stand_beside_the_corrected_ones(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Known at 16:00 containment took 14 min; corrected since, 12 min."""
    engine, community, _ = donghu
    pair = engine.replay.metrics("detection_to_contained", known_at=at("16:00"),
                                 community=community)
    assert (pair.then.rows[0].max, pair.now.rows[0].max) == (14, 12)
    assert "as known at 2022-02-15T16:00:00+08:00" in pair.render()


def test_replay_refuses_bad_cuts_and_unknown_ids(donghu: tuple[Engine, UUID, UUID]) -> None:
    """Naive times, non-UUIDs, ids of the wrong kind and cuts before the first fact raise
    documented errors."""
    engine, community, incident = donghu
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        engine.replay.incident(incident, as_of=datetime(2022, 2, 15, 15, 7))
    with pytest.raises(InvalidInputError, match="UUID"):
        engine.replay.incident(str(incident))  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="no incident"):
        engine.replay.incident(community)
    with pytest.raises(NotFoundError, match="not in the record"):
        engine.replay.incident(incident, as_of=at("14:59"))
    with pytest.raises(NotFoundError, match="not registered"):
        engine.replay.community(community, known_at=datetime(2021, 1, 1, tzinfo=SHANGHAI))
    with pytest.raises(NotFoundError, match="no grid"):
        engine.replay.community(community, grid="9")
    with pytest.raises(NotFoundError):
        engine.replay.order(incident_id_for(community, "nothing"))


def test_then_and_now_keeps_the_groups_that_existed_only_then(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Reclassified as gas at 17:00, the Donghu fire was a "fire" row then and a "gas" row
    now: the side-by-side table shows both."""
    engine, community, incident = donghu
    engine.with_clock(ManualClock(at("17:00"))).incidents.reopen(
        incident, "reclassify", actor=OFFICE, occurred_at=at("17:00"))
    engine.with_clock(ManualClock(at("17:01"))).incidents.reclassify(
        incident, incident_type="gas", actor=OFFICE, occurred_at=at("17:01"))
    pair = engine.replay.metrics("detection_to_contained", known_at=at("16:45"),
                                 group_by=["incident_type"], community=community)
    assert [r.group for r in pair.then.rows] == [{"incident_type": "fire"}]
    assert [r.group for r in pair.now.rows] == [{"incident_type": "gas"}]
    rendered = pair.render()
    assert "incident_type fire  1" in rendered
    assert "incident_type gas   -" in rendered
