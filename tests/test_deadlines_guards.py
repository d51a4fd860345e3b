"""What keeps the watch's record sound: its command ids and person id are its own, its
facts are never corrected, a bad case never stops a tick, a past cut of an imported
history reads, and ended cases leave the live view."""

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import pytest

from resilience import (
    AlreadyExistsError,
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    ManualClock,
    ResilienceError,
)
from resilience.domain.base import Context
from resilience.domain.escalated import WATCH
from resilience.domain.escalation import Deadline, EscalationPolicy, Level, Recipient
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.domain.values import Role
from test_deadlines import ZHANG, at, escalations, fire, order, staffed

from conftest import OFFICE, T0, minutes


def rejected(engine: Engine, aggregate: UUID, error: type[ResilienceError],
             command: Callable[[], object], match: str | None = None) -> None:
    """Assert the command raises ``error`` and the aggregate gained no fact."""
    before = len(engine.events(aggregate))
    with pytest.raises(error, match=match):
        command()
    assert len(engine.events(aggregate)) == before


# The watch's own ids --------------------------------------------------------------------


def test_a_command_can_not_take_an_escalations_command_id(
        engine: Engine, clock: ManualClock) -> None:
    """An acknowledgement under escalation/acknowledged/0/0 is refused, and the watch
    still records that escalation when it falls due."""
    incident = fire(engine, staffed(engine), severity="low")
    rejected(engine, incident, InvalidInputError, lambda: engine.incidents.acknowledge(
        incident, actor=ZHANG, occurred_at=T0 + minutes(1),
        command_id="escalation/acknowledged/0/0"), match="the watch's")
    at(clock, 2)
    [raised] = engine.tick().raised
    assert (raised.deadline, raised.level, raised.recorded) == ("acknowledged", 0, True)
    assert escalations(engine, incident) == [("acknowledged", 0, 0)]


def test_a_history_whose_escalation_command_id_holds_other_facts_is_skipped_not_trusted(
        engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """A note stored under escalation/acknowledged/0/0 (as an old import could have): the
    tick does not report it as the escalation; it skips that case, logs why, and still
    raises the other case's escalation."""
    community = staffed(engine)
    forged, other = fire(engine, community, "low"), fire(engine, community, "low")
    store = engine._store
    ctx = Context(OFFICE, T0 + minutes(1), T0 + minutes(1), "escalation/acknowledged/0/0")
    store.change(Incident, forged, ctx, lambda i: i.add_note(ctx, "not an escalation"))
    at(clock, 3)
    with caplog.at_level(logging.WARNING, "resilience.watch"):
        tick = engine.tick()
    assert tick.skipped == (forged,)
    assert [(r.case_id, r.deadline, r.level) for r in tick.raised] == [
        (other, "acknowledged", 0)]
    assert escalations(engine, forged) == []
    assert "not this escalation" in caplog.text


def test_nobody_can_be_enrolled_as_the_watch(engine: Engine) -> None:
    """The person id resilience-watch is reserved: enrolling it is refused."""
    community = staffed(engine)
    rejected(engine, community, InvalidInputError, lambda: engine.communities.enrol(
        community, WATCH.person_id, "Watch", actor=OFFICE), match="reserved")


# The watch's facts are never corrected ----------------------------------------------------


def test_an_escalation_is_corrected_neither_in_time_nor_in_details(
        engine: Engine, clock: ManualClock) -> None:
    """The watch's record of the trusted clock: a time or details correction of an
    Escalated fact is refused, nothing recorded."""
    incident = fire(engine, staffed(engine), severity="low")
    at(clock, 3)
    [raised] = engine.tick().raised
    version = raised.receipt.first_version
    rejected(engine, incident, InvalidTransitionError, lambda: engine.incidents.correct_time(
        incident, version, T0 + minutes(2.5), "clock was off", actor=OFFICE),
        match="not corrected")
    rejected(engine, incident, InvalidTransitionError,
             lambda: engine.incidents.correct_details(
                 incident, version, "told someone else", "wrong", actor=OFFICE),
             match="not corrected")


# A tick's robustness and cost -------------------------------------------------------------


def test_a_case_refused_for_any_reason_is_skipped_and_the_tick_goes_on(
        engine: Engine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first case's escalation refused by the aggregate (a ResilienceError other than
    a conflict): that case is skipped, the second still escalated."""
    community = staffed(engine)
    bad, good = fire(engine, community, "low"), fire(engine, community, "low")
    original = Incident.escalate

    def escalate(self: Incident, *args: object, **kwargs: object) -> None:
        if self.id == bad:
            raise AlreadyExistsError("refused for the test")
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Incident, "escalate", escalate)
    at(clock, 3)
    tick = engine.tick()
    assert tick.skipped == (bad,)
    assert [r.case_id for r in tick.raised] == [good]


def test_a_tick_asks_about_an_emergency_once_per_area_and_moment(
        engine: Engine, clock: ManualClock) -> None:
    """Three incidents of one area detected at one moment, each with levels due: one
    question to in_emergency in the whole tick."""
    community = staffed(engine)
    cases = [fire(engine, community) for _ in range(3)]
    asked: list[tuple[UUID, str | None, datetime]] = []

    def in_emergency(community_id: UUID, area: str | None, moment: datetime) -> bool:
        asked.append((community_id, area, moment))
        return False

    engine.watch.in_emergency = in_emergency
    at(clock, 30)
    tick = engine.tick()
    assert {r.case_id for r in tick.raised} == set(cases)
    assert len(tick.raised) == 15
    assert len(asked) == 1


# Past cuts -------------------------------------------------------------------------------


def test_deadlines_known_at_a_moment_read_an_imported_history_out_of_version_order(
        engine: Engine, clock: ManualClock) -> None:
    """A note recorded at 30 min as fact 3, then the acknowledgement (3 min) imported as
    first recorded at 4 min, fact 4: at 5 min the facts known are 1, 2 and 4, which is no
    version prefix; the deadline states read them all the same."""
    incident = fire(engine, staffed(engine), severity="low")
    at(clock, 30)
    engine.incidents.add_note(incident, "later", actor=OFFICE, occurred_at=T0 + minutes(20))
    at(clock, 4)  # an import replays each fact with the time it was first recorded
    engine.incidents.acknowledge(incident, actor=ZHANG, occurred_at=T0 + minutes(3))
    at(clock, 40)
    known = engine.deadlines(incident, known_at=T0 + minutes(5))
    assert known[0].met_at == T0 + minutes(3)
    assert engine.deadlines(incident, known_at=T0 + minutes(3.5))[0].met_at is None


# The live view ---------------------------------------------------------------------------


def test_a_resolved_incident_leaves_the_live_view_and_a_reopening_brings_it_back(
        engine: Engine, clock: ManualClock) -> None:
    """Resolved, never closed: ended in the live view and not examined by a tick;
    reopened: open again, and its recurring deadlines escalate."""
    incident = fire(engine, staffed(engine))
    engine.incidents.resolve(incident, "out", actor=OFFICE, occurred_at=T0 + minutes(1))
    at(clock, 30)
    assert engine.tick().examined == 0
    engine.views.catch_up()
    assert engine.views.documents("live")[str(incident)]["kind"] == "ended"
    engine.incidents.reopen(incident, "smoke again", actor=OFFICE,
                            occurred_at=T0 + minutes(20))
    at(clock, 60)
    tick = engine.tick()
    assert tick.examined == 1
    assert {(r.deadline, r.cycle) for r in tick.raised} >= {("on_scene", 1)}


# Policies ------------------------------------------------------------------------------


@pytest.mark.parametrize(("subject", "milestone"), [("incident", "recovery_linked"),
                                                     ("order", "rated")])
def test_a_deadline_can_not_expect_what_comes_after_the_response(
        subject: str, milestone: str) -> None:
    """A recovery link, a rating: a deadline stops at the end of the response, so it
    could never be met by them; refused, naming why."""
    with pytest.raises(InvalidInputError, match="after the response"):
        Deadline("late", subject, [milestone], within=minutes(10),  # type: ignore[arg-type]
                 levels=[Level(minutes(0), [Recipient(Role.COMMUNITY_STAFF)])])
    with pytest.raises(InvalidInputError, match="after the response"):
        EscalationPolicy.from_dict({"deadlines": [{
            "name": "late", "subject": subject, "expect": [milestone], "within_minutes": 10,
            "levels": [{"after_minutes": 0, "notify": [{"role": "community_staff"}]}]}],
            "emergency": None})


def test_an_order_escalated_by_the_tick_says_it_recorded_it(
        engine: Engine, clock: ManualClock) -> None:
    """Recorded by this tick: ``recorded``; the same level asked of the store again is
    found recorded (a repeated receipt, equal to the first)."""
    placed = order(engine, staffed(engine), hours=1)
    at(clock, 121)
    raised = engine.tick().raised
    assert raised
    assert all(r.recorded for r in raised)
    first = raised[0]
    ctx = engine._store.context(WATCH, first.due_at,
                                f"escalation/{first.deadline}/{first.cycle}/{first.level}")
    again = engine._store.change(ServiceOrder, placed, ctx, lambda o: None)
    assert again == first.receipt
    assert again.repeated
    assert not first.receipt.repeated
