"""The watch: deadlines escalated once, when due, to whoever held the role then; the live
view it reads; overdue orders; the tick entry of scenario files and the command line."""

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import (
    Actor,
    ConflictError,
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    ManualClock,
    NotFoundError,
    Provider,
    ResilienceError,
    Role,
    ScenarioError,
)
from resilience.cli import main
from resilience.domain.base import Context
from resilience.domain.deadline_state import deadline_states
from resilience.domain.escalated import WATCH, Notified
from resilience.domain.escalation import (
    Deadline,
    EscalationPolicy,
    Level,
    Recipient,
)
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.scenario import parse_scenario, replay
from resilience.services.deadlines import DEFAULT_ESCALATION

from conftest import DONGHU, OFFICE, T0, donghu, minutes

ZHANG = Actor("zhang", Role.GRID_LEADER)
RESIDENT = Actor("r-501", Role.RESIDENT)
STAFF = [("zhang", "grid_leader", "3"), ("wang", "grid_worker", "3"),
         ("li", "squad_member", None), ("zhao", "squad_member", None),
         ("chen", "community_staff", None), ("sun", "building_leader", "30")]


def staffed(engine: Engine) -> UUID:
    """Donghu (grid 3, building 30) with a grid leader, a grid worker, two squad members,
    a member of staff and a building leader, all on the roster since the day before T0."""
    community = donghu(engine, people=[(p, p.title()) for p, _, _ in STAFF])
    for person, role, scope in STAFF:
        engine.communities.assign_role(community, person, role, scope, actor=OFFICE,
                                       occurred_at=T0 - timedelta(hours=20))
    return community


def fire(engine: Engine, community: UUID, severity: str = "high") -> UUID:
    """A fire in building 30 detected and reported at T0."""
    return engine.incidents.report(
        community, incident_type="fire", severity=severity,
        location=Location(grid="3", building="30", unit="1"), description="smoke",
        actor=ZHANG, occurred_at=T0).aggregate_id


def escalations(engine: Engine, case: UUID) -> list[tuple[str, int, int]]:
    """(deadline, level, cycle) of each Escalated fact of a case, in recording order."""
    return [(e.deadline, e.level, e.cycle) for e in engine.events(case)
            if isinstance(e, Incident.Escalated | ServiceOrder.Escalated)]


def at(clock: ManualClock, minutes_after: float) -> None:
    clock.set(T0 + minutes(minutes_after))


# Incidents --------------------------------------------------------------------------------


def test_a_level_is_recorded_when_due_dated_then_by_the_watch_under_its_command_id(
        engine: Engine, clock: ManualClock) -> None:
    """Nothing before the deadline; at it, level 0 is recorded once: dated when it fell
    due, recorded by the clock, by the watch, under escalation/<deadline>/<cycle>/<level>."""
    incident = fire(engine, staffed(engine))
    at(clock, 1.9)
    assert engine.tick().raised == ()
    at(clock, 2.5)
    tick = engine.tick()
    assert [(r.deadline, r.level) for r in tick.raised] == [("acknowledged", 0)]
    assert tick.examined == 1
    event = engine.events(incident)[-1]
    assert isinstance(event, Incident.Escalated)
    assert event.occurred_at == T0 + minutes(2)
    assert event.due_at == T0 + minutes(2)
    assert event.timestamp == T0 + minutes(2.5)
    assert event.actor == WATCH
    assert event.command_id == "escalation/acknowledged/0/0"
    assert event.notified == (Notified(Role.GRID_LEADER, scope="3", person_id="zhang"),)
    assert event.notice == "incident.escalated"
    assert engine.tick().raised == ()
    assert escalations(engine, incident) == [("acknowledged", 0, 0)]


def test_a_late_tick_raises_every_level_due_in_the_order_they_fell_due(
        engine: Engine, clock: ManualClock) -> None:
    """A watch that was not running raises, on its next tick, every level due meanwhile,
    each dated when it fell due, in time order."""
    incident = fire(engine, staffed(engine))
    at(clock, 30)
    raised = engine.tick().raised
    assert [(r.deadline, r.level, r.due_at - T0) for r in raised] == [
        ("acknowledged", 0, minutes(2)), ("acknowledged", 1, minutes(4)),
        ("on_scene", 0, timedelta(seconds=320)), ("on_scene", 1, timedelta(seconds=620)),
        ("contained", 0, minutes(15))]
    times = [e.occurred_at for e in engine.events(incident)[2:]]
    assert times == sorted(times)
    assert [str(n) for r in raised for n in r.notified] == [
        "grid_leader of 3 zhang", "community_staff chen", "squad_member li",
        "squad_member zhao", "community_staff chen", "subdistrict Daimiao"]


def test_a_deadline_met_in_time_is_never_escalated(engine: Engine, clock: ManualClock) -> None:
    """Acknowledged, someone on scene and contained in time: nothing is raised, ever."""
    incident = fire(engine, staffed(engine))
    engine.incidents.acknowledge(incident, actor=OFFICE, occurred_at=T0 + minutes(1))
    engine.incidents.arrive(incident, "li", actor=ZHANG, occurred_at=T0 + minutes(4))
    engine.incidents.contain(incident, actor=ZHANG, occurred_at=T0 + minutes(12))
    at(clock, 120)
    assert engine.tick().raised == ()
    assert all(not s.needed for s in engine.deadlines(incident))


def test_a_fact_recorded_late_stops_the_escalation_and_shows_it_was_needed(
        engine: Engine, clock: ManualClock) -> None:
    """An acknowledgement recorded at 10 min, dated 3 min: the watch (which had not run)
    raises nothing for it, and the state says a level was needed and never raised."""
    incident = fire(engine, staffed(engine), severity="low")
    at(clock, 10)
    engine.incidents.acknowledge(incident, actor=OFFICE, occurred_at=T0 + minutes(3))
    assert engine.tick().raised == ()
    states = engine.deadlines(incident)
    assert [(s.level, s.needed, s.escalated, s.met_at) for s in states] == [
        (0, True, None, T0 + minutes(3)), (1, False, None, T0 + minutes(3))]


def test_nothing_is_escalated_once_the_incident_is_resolved_or_closed(
        engine: Engine, clock: ManualClock) -> None:
    """A false alarm closed at once, and an incident resolved within a minute: no deadline
    is due on either, neither is even looked at (both left the live view), and each
    refuses an escalation outright (its cycle has ended)."""
    community = staffed(engine)
    closed, resolved = fire(engine, community), fire(engine, community)
    engine.incidents.close(closed, "false_alarm", actor=OFFICE, occurred_at=T0 + minutes(1))
    engine.incidents.resolve(resolved, "out", actor=OFFICE, occurred_at=T0 + minutes(1))
    at(clock, 60)
    tick = engine.tick()
    assert tick.raised == ()
    assert tick.examined == 0
    with engine._store.locked():
        for case_id, ended in ((closed, "closed"), (resolved, "resolved")):
            incident = engine._store.current(Incident, case_id)
            version = incident.version
            ctx = Context(WATCH, T0 + minutes(2), T0 + minutes(60))
            with pytest.raises(InvalidTransitionError, match=f"is {ended}:"):
                incident.escalate(ctx, "acknowledged", 0, 0, T0 + minutes(2), ())
            assert incident.version == version
            assert not incident.pending_events


def test_a_reopened_incident_has_its_response_deadlines_again_but_not_its_acknowledgement(
        engine: Engine, clock: ManualClock) -> None:
    """Reopened at 60 min: on scene and contained fall due again from the reopening (cycle
    1); acknowledged is the whole incident's, met in cycle 0, and is not."""
    incident = fire(engine, staffed(engine))
    engine.incidents.acknowledge(incident, actor=OFFICE, occurred_at=T0 + minutes(1))
    engine.incidents.arrive(incident, "li", actor=ZHANG, occurred_at=T0 + minutes(3))
    engine.incidents.contain(incident, actor=ZHANG, occurred_at=T0 + minutes(10))
    engine.incidents.resolve(incident, "out", actor=ZHANG, occurred_at=T0 + minutes(20))
    engine.incidents.reopen(incident, "rekindled", actor=ZHANG, occurred_at=T0 + minutes(60))
    at(clock, 70)
    raised = engine.tick().raised
    assert [(r.deadline, r.level, r.cycle, r.due_at - T0) for r in raised] == [
        ("on_scene", 0, 1, minutes(60) + timedelta(seconds=320))]
    assert raised[0].receipt.first_version == len(engine.events(incident))
    assert engine.events(incident)[-1].command_id == "escalation/on_scene/1/0"


def test_whom_a_level_tells_is_who_held_the_role_when_it_fell_due(
        engine: Engine, clock: ManualClock) -> None:
    """Zhang hands grid 3 to Wu at 1 min (before the deadline) and Wu hands it back at 3
    min: a tick at 10 min tells Wu, who led the grid at 2 min, not who leads it now."""
    community = staffed(engine)
    engine.communities.enrol(community, "wu", "Wu", actor=OFFICE, occurred_at=T0)
    incident = fire(engine, community, severity="low")
    engine.communities.relieve_role(community, "zhang", "grid_leader", "3", actor=OFFICE,
                                    occurred_at=T0 + minutes(1))
    engine.communities.assign_role(community, "wu", "grid_leader", "3", actor=OFFICE,
                                   occurred_at=T0 + minutes(1))
    engine.communities.relieve_role(community, "wu", "grid_leader", "3", actor=OFFICE,
                                    occurred_at=T0 + minutes(3))
    at(clock, 10)
    told = {(r.level, str(n)) for r in engine.tick().raised for n in r.notified}
    assert told == {(0, "grid_leader of 3 wu"), (1, "community_staff chen")}
    assert escalations(engine, incident) == [("acknowledged", 0, 0), ("acknowledged", 1, 0)]


def test_a_role_nobody_held_is_recorded_as_such(engine: Engine, clock: ManualClock) -> None:
    """In a community with nobody on its roster, the escalation is still recorded, naming
    the role and area that had nobody to tell."""
    community = donghu(engine)
    incident = fire(engine, community, severity="low")
    at(clock, 2)
    (raised,) = engine.tick().raised
    assert raised.notified == (Notified(Role.GRID_LEADER, scope="3"),)
    assert "nobody held it" in engine.events(incident)[-1].describe()


def test_a_recipient_of_an_area_the_case_lacks_is_told_as_nobody(
        engine: Engine, clock: ManualClock) -> None:
    """A building leader for an incident somewhere in the community (no building): nobody,
    no scope; the district by its name."""
    community = staffed(engine)
    incident = engine.incidents.report(
        community, incident_type="gas", severity="low", location=Location(description="park"),
        description="smell", actor=OFFICE, occurred_at=T0).aggregate_id
    policy = EscalationPolicy([Deadline(
        "told", "incident", ["acknowledged"], within=minutes(1),
        levels=[Level(timedelta(0), [Recipient(Role.BUILDING_LEADER), Recipient(body="district"),
                                     Recipient(Role.GRID_LEADER)])])])
    at(clock, 1)
    (raised,) = engine.with_escalation(policy).tick().raised
    assert raised.case_id == incident
    assert raised.notified == (Notified(Role.BUILDING_LEADER), Notified(body="Taishan",
                               scope="district"), Notified(Role.GRID_LEADER))


def test_a_deadline_applies_by_the_classification_when_it_falls_due(
        engine: Engine, clock: ManualClock) -> None:
    """On scene is for high and critical incidents: a low one reclassified high at 4 min
    (before the 320 s deadline) gets it; one reclassified at 6 min does not."""
    community = staffed(engine)
    early, late = fire(engine, community, "low"), fire(engine, community, "low")
    for incident in (early, late):
        engine.incidents.acknowledge(incident, actor=OFFICE, occurred_at=T0)
    engine.incidents.reclassify(early, severity="high", actor=OFFICE, occurred_at=T0 + minutes(4))
    engine.incidents.reclassify(late, severity="high", actor=OFFICE, occurred_at=T0 + minutes(6))
    at(clock, 7)
    assert {(r.case_id, r.deadline) for r in engine.tick().raised} == {(early, "on_scene")}


# Orders -----------------------------------------------------------------------------------


def order(engine: Engine, community: UUID, hours: float = 24) -> UUID:
    """A repair for household 501, placed at T0, expected in ``hours``."""
    return engine.orders.place(community, household_id="501", area_id="30", category="home",
                               item="repair", actor=RESIDENT, occurred_at=T0,
                               expected_by=T0 + timedelta(hours=hours)).aggregate_id


def test_an_unanswered_order_is_escalated_and_listed_overdue(
        engine: Engine, clock: ManualClock) -> None:
    """Unanswered past 2 h: overdue, escalated to the grid worker (with its notice);
    accepted at 3 h it is no longer overdue for its response, until its expected time
    passes too."""
    community = staffed(engine)
    placed = order(engine, community, hours=5)
    at(clock, 119)
    assert engine.overdue() == []
    assert engine.tick().raised == ()
    at(clock, 150)
    (raised,) = engine.tick().raised
    assert (raised.subject, raised.deadline, raised.level) == ("order", "response", 0)
    assert raised.notified == (Notified(Role.GRID_WORKER, scope="3", person_id="wang"),)
    assert engine.events(placed)[-1].notice == "order.overdue"
    (row,) = engine.overdue()
    assert (row.order_id, row.deadline, row.late, row.escalations, row.levels) == (
        placed, "response", minutes(30), 1, 2)
    engine.orders.accept(placed, actor=OFFICE, occurred_at=T0 + minutes(180))
    assert engine.overdue() == []
    later = engine.overdue(at=T0 + timedelta(hours=6))
    assert [(r.deadline, r.late) for r in later] == [("completion", timedelta(hours=1))]


def test_an_ended_order_is_neither_overdue_nor_escalated(
        engine: Engine, clock: ManualClock) -> None:
    """Cancelled at 1 h: past every deadline a day later, nothing is listed or raised, and
    the order refuses an escalation."""
    placed = order(engine, staffed(engine))
    engine.orders.cancel(placed, "moved out", actor=RESIDENT, occurred_at=T0 + minutes(60))
    at(clock, 3 * 24 * 60)
    assert engine.overdue() == []
    assert engine.tick().raised == ()
    stored = engine.orders.get(placed)
    ctx = Context(WATCH, T0 + minutes(120), T0 + minutes(130))
    with pytest.raises(InvalidTransitionError, match="cancelled"):
        stored.escalate(ctx, "response", 0, 0, T0 + minutes(120), ())


def test_a_reopened_order_has_no_deadline_of_its_own(engine: Engine, clock: ManualClock) -> None:
    """The response and completion deadlines are the order's first promise: completed in
    time and reopened, it is open again but nothing falls due on it."""
    placed = order(engine, staffed(engine), hours=3)
    engine.orders.accept(placed, actor=OFFICE, occurred_at=T0 + minutes(10))
    engine.orders.dispatch(placed, Provider("grid_worker", "wang"), actor=OFFICE,
                           occurred_at=T0 + minutes(30))
    engine.orders.complete(placed, "fixed", actor=OFFICE, occurred_at=T0 + minutes(60))
    engine.orders.reopen(placed, "leaks again", actor=OFFICE, occurred_at=T0 + minutes(90))
    at(clock, 3 * 24 * 60)
    assert engine.tick().raised == ()
    assert engine.overdue() == []
    assert engine.tick().examined == 1


# Queries and refusals ---------------------------------------------------------------------


def test_a_tick_can_not_run_ahead_of_the_clock(engine: Engine, clock: ManualClock) -> None:
    """``now`` later than the clock, naive, or not a moment, an unknown community: refused,
    nothing recorded."""
    community = staffed(engine)
    incident = fire(engine, community)
    at(clock, 10)
    before = len(engine.events(incident))
    for now, error in ((T0 + minutes(11), InvalidInputError),
                       (T0.replace(tzinfo=None), InvalidInputError), ("now", InvalidInputError)):
        with pytest.raises(error):
            engine.tick(now)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        engine.tick(community=UUID(int=7))
    with pytest.raises(InvalidInputError):
        engine.tick(community="Donghu")  # type: ignore[arg-type]
    assert len(engine.events(incident)) == before
    assert len(engine.tick(T0 + minutes(3)).raised) == 1  # an earlier moment is fine


def test_a_tick_for_one_community_leaves_the_others(engine: Engine, clock: ManualClock) -> None:
    """Two communities with a fire each: a tick of one escalates that one only."""
    donghu_id = staffed(engine)
    other = engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                        name="Xiangyang", actor=OFFICE,
                                        occurred_at=T0 - timedelta(days=1)).aggregate_id
    engine.communities.add_grid(other, "3", actor=OFFICE, occurred_at=T0 - timedelta(days=1))
    mine = fire(engine, donghu_id, "low")
    theirs = engine.incidents.report(
        other, incident_type="fire", severity="low", location=Location(grid="3"),
        description="smoke", actor=ZHANG, occurred_at=T0).aggregate_id
    at(clock, 3)
    tick = engine.tick(community=donghu_id)
    assert {r.case_id for r in tick.raised} == {mine}
    assert tick.examined == 1
    assert escalations(engine, theirs) == []


def test_the_emergency_deadlines_are_those_of_cases_begun_in_an_emergency(
        engine: Engine, clock: ManualClock) -> None:
    """With grid 3 in an emergency from T0 (as the emergencies would say), acknowledging
    falls due at 1 min and tells staff at once; a case begun before it keeps peacetime's."""
    community = staffed(engine)
    before = engine.incidents.report(
        community, incident_type="fire", severity="low", location=Location(grid="3"),
        description="smoke", actor=ZHANG, occurred_at=T0 - minutes(0.5)).aggregate_id
    during = fire(engine, community, severity="low")
    engine.watch.in_emergency = lambda c, area, moment: moment >= T0 and c == community
    at(clock, 1)
    (raised,) = engine.tick().raised
    assert (raised.case_id, raised.due_at) == (during, T0 + minutes(1))
    assert {n.role for n in raised.notified} == {Role.GRID_LEADER, Role.COMMUNITY_STAFF}
    assert [s.due_at for s in engine.deadlines(before)][:1] == [T0 + minutes(1.5)]


def test_an_engine_without_an_escalation_policy_raises_nothing(
        engine: Engine, clock: ManualClock) -> None:
    """``escalation=None`` (here through ``with_escalation``): no deadline, nothing due,
    nothing overdue; the engine's own policy is left as it was."""
    community = staffed(engine)
    fire(engine, community)
    order(engine, community, hours=1)
    at(clock, 600)
    quiet = engine.with_escalation(None)
    assert quiet.escalation is None
    assert engine.escalation is DEFAULT_ESCALATION
    assert quiet.tick().raised == ()
    assert quiet.overdue() == []
    with pytest.raises(InvalidInputError):
        engine.with_escalation({"deadlines": []})  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        Engine("memory:", escalation="default")  # type: ignore[arg-type]


def test_deadlines_can_be_read_as_they_were_recorded_by_a_moment(
        engine: Engine, clock: ManualClock) -> None:
    """Acknowledged at 3 min, recorded at 5: the state at 4 min knows no acknowledgement,
    the state now does."""
    incident = fire(engine, staffed(engine), severity="low")
    at(clock, 5)
    engine.incidents.acknowledge(incident, actor=OFFICE, occurred_at=T0 + minutes(3))
    assert engine.deadlines(incident, known_at=T0 + minutes(4))[0].met_at is None
    assert engine.deadlines(incident)[0].met_at == T0 + minutes(3)
    with pytest.raises(NotFoundError):
        engine.deadlines(incident, known_at=T0 - minutes(1))
    with pytest.raises(NotFoundError):
        engine.deadlines(UUID(int=5))


def test_deadline_states_follow_the_case_as_the_domain_sees_it() -> None:
    """The same answers from the domain function on an aggregate alone (what reviews and
    what-if use), with or without the emergency set."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        incident = engine.incidents.get(fire(engine, staffed(engine), severity="low"))
    peace = deadline_states(incident, DEFAULT_ESCALATION, emergency=False)
    crisis = deadline_states(incident, DEFAULT_ESCALATION, emergency=True)
    assert [s.due_at - T0 for s in peace] == [minutes(2), minutes(4)]
    assert [s.due_at - T0 for s in crisis] == [minutes(1), minutes(3)]
    assert all(s.needed and s.due(T0 + minutes(9)) and not s.due(T0) for s in peace)


# The escalation facts ---------------------------------------------------------------------


def test_an_escalation_is_refused_twice_or_out_of_its_time_or_cycle(
        engine: Engine, clock: ManualClock) -> None:
    """The aggregate refuses a second escalation of one key, one dated other than when due,
    one naming a cycle not begun, a negative level, someone told who is not a Notified;
    each refusal leaves it as it was."""
    incident_id = fire(engine, staffed(engine))
    at(clock, 5)
    engine.tick()
    incident = engine.incidents.get(incident_id)
    due = T0 + minutes(2)
    attempts: list[tuple[type[ResilienceError], Callable[[], None]]] = [
        (InvalidTransitionError, lambda: incident.escalate(
            Context(WATCH, due, clock()), "acknowledged", 0, 0, due, ())),
        (InvalidInputError, lambda: incident.escalate(
            Context(WATCH, due + minutes(1), clock()), "x", 0, 0, due, ())),
        (InvalidInputError, lambda: incident.escalate(Context(WATCH, due, clock()), "x", 0, 1,
                                                      due, ())),
        (InvalidInputError, lambda: incident.escalate(Context(WATCH, due, clock()), "x", -1, 0,
                                                      due, ())),
        (InvalidInputError, lambda: incident.escalate(
            Context(WATCH, due, clock()), "x", 0, 0, due, ("zhang",))),  # type: ignore[arg-type]
        (InvalidInputError, lambda: incident.escalate(Context(WATCH, due, clock()), " ", 0, 0,
                                                      due, ())),
    ]
    version = incident.version
    for error, attempt in attempts:
        with pytest.raises(error):
            attempt()
        assert incident.version == version
        assert not incident.pending_events


def test_two_watches_racing_on_one_engine_record_each_level_once(
        engine: Engine, clock: ManualClock) -> None:
    """Ticks from eight threads at once on one engine: each level recorded once."""
    import threading

    incident = fire(engine, staffed(engine))
    at(clock, 30)
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def tick() -> None:
        barrier.wait()
        try:
            engine.tick()
        except (ConflictError, ResilienceError) as exc:  # pragma: no cover - reported
            failures.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(escalations(engine, incident)) == len(set(escalations(engine, incident))) == 5


# The live view ----------------------------------------------------------------------------


def test_the_live_view_holds_open_cases_and_marks_ended_ones(
        engine: Engine, clock: ManualClock) -> None:
    """Open while open, ended once closed (reopened: open again) or completed; the same
    documents folded afresh by a rebuild."""
    community = staffed(engine)
    incident, placed = fire(engine, community), order(engine, community)
    engine.incidents.close(incident, "false_alarm", actor=OFFICE, occurred_at=T0 + minutes(1))
    engine.orders.reject(placed, "not ours", actor=OFFICE, occurred_at=T0 + minutes(1))
    engine.views.catch_up()
    docs = engine.views.documents("live")
    assert {k: (d["kind"], d["subject"]) for k, d in docs.items()} == {
        str(incident): ("ended", "incident"), str(placed): ("ended", "order")}
    engine.incidents.reopen(incident, "smoke again", actor=OFFICE, occurred_at=T0 + minutes(9))
    engine.incidents.correct_time(incident, 1, T0 - minutes(1), "clock", actor=OFFICE)
    engine.views.catch_up()
    live = engine.views.get("live", str(incident))
    assert live is not None
    assert (live["kind"], live["at"]) == ("incident", (T0 - minutes(1)).timestamp())
    assert live["community"] == str(community)
    folded = engine.views.documents("live")
    engine.views.rebuild()
    assert engine.views.documents("live") == folded


# Scenario files and the command line ------------------------------------------------------


def _scenario(*extra: dict[str, object]) -> str:
    def entry(do: str, when: str, **keys: object) -> dict[str, object]:
        return {"do": do, "at": f"2022-02-15T{when}", "actor": "office-duty",
                "as": "community_staff", **keys}

    return json.dumps({
        "format": "resilience.scenario", "version": 1, "name": "watch",
        "timezone": "Asia/Shanghai", "community": DONGHU,
        "actions": [entry("register", "14:00"), entry("add_grid", "14:00", grid_id="3"),
                    entry("report", "15:00", incident="fire", incident_type="fire",
                          severity="low", location={"grid": "3"}, description="smoke"),
                    entry("tick", "15:03"),
                    entry("acknowledge", "15:03:30", incident="fire"), *extra]})


def test_a_scenario_tick_entry_raises_what_was_due_and_a_replay_records_it_once() -> None:
    """The tick at 15:03 raises the 15:02 level of the file's own (unsaved) incident; a
    second replay records nothing; a tick with arguments is refused by entry."""
    with Engine("memory:") as engine:
        result = replay(engine, parse_scenario(_scenario()))
        incident = result.incidents["fire"]
        assert escalations(engine, incident) == [("acknowledged", 0, 0)]
        (event,) = [e for e in engine.events(incident) if isinstance(e, Incident.Escalated)]
        assert event.timestamp == T0 + minutes(3)
        assert event.actor.imported_by == "scenario-importer"
        assert replay(engine, parse_scenario(_scenario())).events_recorded == 0
        with pytest.raises(ScenarioError, match=r"entry 6.*tick takes no arguments"):
            replay(engine, parse_scenario(_scenario(
                {"do": "tick", "at": "2022-02-15T16:00", "actor": "a", "as": "system",
                 "grid": "3"})))


def test_the_command_line_ticks_and_lists_overdue_orders(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``resilience tick`` prints what it raised, ``resilience overdue`` what is late; a
    policy file replaces the built-in one, and a bad one is refused (exit 2)."""
    db = tmp_path / "w.db"
    with Engine(str(db), clock=ManualClock(T0), policy=None) as engine:
        community = staffed(engine)
        fire(engine, community, severity="low")
        order(engine, community, hours=5)
    argv = ["--db", str(db), "--tz", "Asia/Shanghai"]
    assert main(["overdue", *argv, "--at", "2022-02-15T18:00"]) == 0
    out = capsys.readouterr().out
    assert "response" in out
    assert "1 h 00 min" in out
    assert "0/2 levels" in out
    assert main(["tick", *argv, "--at", "2022-02-15T15:05"]) == 0
    out = capsys.readouterr().out
    assert "2 escalations raised" in out
    assert "grid_leader of 3 zhang" in out
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(EscalationPolicy([]).to_dict()))
    assert main(["tick", *argv, "--escalation", str(policy)]) == 0
    assert "0 escalations raised" in capsys.readouterr().out
    policy.write_text('{"deadlines": [{"name": "x"}]}')
    assert main(["overdue", *argv, "--escalation", str(policy)]) == 2
    assert "deadline 1 (x): a deadline lacks" in capsys.readouterr().err


def test_a_case_whose_events_can_not_be_read_is_left_to_the_next_tick(
        engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """An incident with a stored event this version can't decode (a newer writer's) does
    not hold up the others: it is skipped, said so in the tick and logged."""
    community = staffed(engine)
    broken, sound = fire(engine, community, "low"), fire(engine, community, "low")
    stored = engine.stored_events(broken)[-1]
    engine.app.recorder.insert_events([StoredEvent(
        broken, stored.originator_version + 1, "resilience.incident:Extinguished",
        stored.state)])
    at(clock, 3)
    tick = engine.tick()
    assert tick.skipped == (broken,)
    assert {r.case_id for r in tick.raised} == {sound}
    assert "left" in caplog.text
    assert str(broken) in caplog.text


ANYTHING = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                     st.datetimes(), st.uuids(), st.just(T0 + minutes(99)),
                     st.lists(st.integers(), max_size=2), st.just(float("nan")))


@given(now=ANYTHING, community=ANYTHING, at_=ANYTHING, case=ANYTHING)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_whatever_the_watch_is_given_it_answers_or_refuses_with_a_documented_error(
        watched: tuple[Engine, ManualClock, UUID], now: object, community: object, at_: object,
        case: object) -> None:
    """Generated arguments to tick, overdue and deadlines: an answer, or InvalidInputError
    or NotFoundError, and a refused tick records nothing."""
    engine, _, incident = watched
    before = len(engine.events(incident))
    try:
        engine.tick(now, community=community)  # type: ignore[arg-type]
    except (InvalidInputError, NotFoundError):
        assert len(engine.events(incident)) == before
    with contextlib.suppress(InvalidInputError, NotFoundError):
        engine.overdue(community=community, at=at_)  # type: ignore[arg-type]
    with contextlib.suppress(InvalidInputError, NotFoundError):
        engine.deadlines(case, known_at=at_)  # type: ignore[arg-type]
    assert len(escalations(engine, incident)) == len(set(escalations(engine, incident))) <= 2


@pytest.fixture(scope="module")
def watched() -> Iterator[tuple[Engine, ManualClock, UUID]]:
    """One memory engine with a fire, the clock 10 minutes on (shared by the examples)."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        incident = fire(engine, staffed(engine), severity="low")
        at(clock, 10)
        yield engine, clock, incident
