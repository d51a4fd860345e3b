"""The hazard, patrol and patrol-plan aggregates' rules, command by command, on the domain
objects themselves (no engine): what each accepts, and that each refusal raises its
documented error and records nothing."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from resilience import Actor, InvalidInputError, InvalidTransitionError, Role
from resilience.domain.base import Context, FactAggregate
from resilience.domain.hazard import (
    AssigneeKind,
    Hazard,
    HazardCategory,
    HazardStatus,
    LinkKind,
    hazard_id_for,
)
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.patrol import (
    Frequency,
    Patrol,
    PatrolPlan,
    PatrolRule,
    PatrolVisit,
    patrol_plan_id,
)
from resilience.domain.references import (
    CASE_KINDS,
    check_reference,
    normal_reference,
    reference_text,
)
from resilience.domain.values import IncidentType, Location, Severity
from resilience.errors import ResilienceError

from conftest import OFFICE, T0

COMMUNITY = UUID("0b6f0a3e-8f55-4d55-9a43-5a1f0c0f2a11")
WORKER = Actor("wang", Role.GRID_WORKER)
LEADER = Actor("li", Role.GRID_LEADER)
HERE = Location(grid="3", building="30", unit="1", description="storage room")


def ctx(minutes: float, actor: Actor = OFFICE, command_id: str | None = None) -> Context:
    """A command's context ``minutes`` after T0, recorded then."""
    at = T0 + timedelta(minutes=minutes)
    return Context(actor, at, at, command_id)


def found(**changes: Any) -> Hazard:
    """A clutter hazard found at T0 in building 30's storage room, its events taken out."""
    fields: dict[str, Any] = {
        "hazard_id": uuid4(), "community_id": COMMUNITY, "location": HERE,
        "category": HazardCategory.CLUTTER, "severity": Severity.HIGH,
        "description": "bikes and boxes block the storage room", "photo": None, "patrol_id": None,
        "reference": "DH-2022-H0001"}
    fields.update(changes)
    hazard = Hazard.find(ctx(0, WORKER), **fields)
    hazard.collect_events()
    return hazard


def refused(aggregate: FactAggregate, error: type[ResilienceError],
            command: Callable[[], object], match: str | None = None) -> None:
    """``command`` raises ``error`` and records nothing on ``aggregate`` (whose pending
    events are taken out first)."""
    aggregate.collect_events()
    version = aggregate.version
    with pytest.raises(error, match=match):
        command()
    assert aggregate.version == version
    assert not aggregate.collect_events()


def kinds(aggregate: FactAggregate) -> list[str]:
    return [aggregate.fact_types[v].fact_name for v in sorted(aggregate.fact_types)]


# Finding -------------------------------------------------------------------------------


def test_a_found_hazard_keeps_what_was_found_and_stands_open() -> None:
    """The first fact sets every field; the hazard is open, unassigned, not overdue."""
    patrol = uuid4()
    hazard = found(category="ebike_charging", severity="critical", patrol_id=patrol,
                   photo="photos/0215-30.jpg")
    assert hazard.status is HazardStatus.OPEN
    assert (hazard.category, hazard.severity) == (HazardCategory.EBIKE_CHARGING,
                                                 Severity.CRITICAL)
    assert (hazard.location, hazard.patrol_id, hazard.photo) == (HERE, patrol,
                                                                 "photos/0215-30.jpg")
    assert hazard.reference == "DH-2022-H0001"
    assert hazard.found_at == T0
    assert (hazard.assignee, hazard.due, hazard.rectified_by) == (None, None, None)
    assert not hazard.is_finished
    assert not hazard.is_overdue(T0 + timedelta(days=400))


@pytest.mark.parametrize("changes", [
    {"location": Location(building="30")},  # no grid
    {"location": "grid 3"},
    {"category": "fire"},
    {"severity": "urgent"},
    {"description": "  ", "photo": None},  # neither said nor photographed
    {"photo": " "},
    {"description": 7},
    {"patrol_id": "p-1"},
    {"community_id": "donghu"},
    {"reference": "DH-2022-X0001"},
])
def test_a_finding_missing_or_misstating_something_is_refused(changes: dict[str, Any]) -> None:
    """A location without a grid, an unknown category or severity, neither description nor
    photo, and ill-typed ids are InvalidInputError."""
    with pytest.raises(InvalidInputError):
        found(**changes)


def test_a_photo_alone_is_enough() -> None:
    """A hazard photographed and not described is recorded with an empty description."""
    hazard = found(description="", photo="photos/1.jpg")
    assert (hazard.description, hazard.photo) == ("", "photos/1.jpg")


def test_hazard_ids_from_keys_are_stable_and_distinct() -> None:
    assert hazard_id_for(COMMUNITY, "k") == hazard_id_for(COMMUNITY, "k")
    assert hazard_id_for(COMMUNITY, "k") != hazard_id_for(COMMUNITY, "j")
    assert hazard_id_for(COMMUNITY, "k") != hazard_id_for(uuid4(), "k")


# Its life ------------------------------------------------------------------------------


def test_the_whole_life_found_assigned_rectified_verified() -> None:
    """Assign, rectify and verify (by another person): verified, finished, its facts in
    order, the assignment detailed for the cases view."""
    hazard = found()
    due = T0 + timedelta(days=3)
    hazard.assign(ctx(10), "household", "30-1-402", due)
    assert (hazard.status, hazard.assignee_kind, hazard.assignee, hazard.due) == (
        HazardStatus.ASSIGNED, AssigneeKind.HOUSEHOLD, "30-1-402", due)
    assert hazard.is_overdue(due + timedelta(seconds=1))
    assert not hazard.is_overdue(due)
    hazard.rectify(ctx(60, WORKER), "storage room cleared")
    assert (hazard.status, hazard.rectified_by) == (HazardStatus.RECTIFIED, "wang")
    assert not hazard.is_overdue(due + timedelta(days=1))  # rectified: no longer overdue
    hazard.verify(ctx(120, LEADER))
    assert hazard.status is HazardStatus.VERIFIED
    assert hazard.is_finished
    events: list[Any] = list(hazard.collect_events())
    assert [type(e).fact_name for e in events] == ["Assigned", "Rectified", "Verified"]
    assert events[0].detail() == {"assignee_kind": "household", "due": due.isoformat()}
    assert [e.detail() for e in events[1:]] == [None, None]


def test_the_person_who_rectified_cannot_verify() -> None:
    """Verification by the rectifier is refused; by anyone else it is recorded."""
    hazard = found()
    hazard.rectify(ctx(10, WORKER))
    hazard.collect_events()
    refused(hazard, InvalidTransitionError, lambda: hazard.verify(ctx(20, WORKER)),
            match="someone other than the person who rectified it")
    hazard.verify(ctx(20, Actor("wang-2", Role.GRID_WORKER)))
    assert hazard.status is HazardStatus.VERIFIED


@pytest.mark.parametrize("command", ["assign", "rectify", "verify", "close", "reopen"])
def test_each_step_is_refused_in_a_status_that_does_not_allow_it(command: str) -> None:
    """assign and rectify need open or assigned; verify, rectified; close, unfinished;
    reopen, rectified or finished."""
    due = T0 + timedelta(days=1)
    calls: dict[str, Callable[[Hazard], None]] = {
        "assign": lambda h: h.assign(ctx(50), "provider", "p-9", due),
        "rectify": lambda h: h.rectify(ctx(50, WORKER)),
        "verify": lambda h: h.verify(ctx(50, LEADER)),
        "close": lambda h: h.close(ctx(50), "gone"),
        "reopen": lambda h: h.reopen(ctx(50), "back"),
    }
    refusing: dict[str, Callable[[Hazard], None]] = {
        "assign": lambda h: h.rectify(ctx(10, WORKER)),
        "rectify": lambda h: h.rectify(ctx(10, WORKER)),
        "verify": lambda h: None,  # open
        "close": lambda h: h.close(ctx(10), "duplicate"),
        "reopen": lambda h: None,  # open
    }
    hazard = found()
    refusing[command](hazard)
    hazard.collect_events()
    refused(hazard, InvalidTransitionError, lambda: calls[command](hazard))


def test_steps_dated_before_the_last_step_are_refused() -> None:
    """Times can't go backwards along the hazard's life."""
    hazard = found()
    hazard.assign(ctx(30), "property_company", "wuye", T0 + timedelta(days=2))
    hazard.collect_events()
    refused(hazard, InvalidTransitionError, lambda: hazard.rectify(ctx(20, WORKER)),
            match="times can't go backwards")
    refused(hazard, InvalidTransitionError, lambda: hazard.close(ctx(-5), "gone"))


def test_a_due_date_must_follow_the_finding_and_a_reassignment_change_something() -> None:
    """A due at or before the finding is InvalidInputError; the same assignee and due again
    is InvalidTransitionError; another assignee or due is a reassignment."""
    hazard = found()
    refused(hazard, InvalidInputError,
            lambda: hazard.assign(ctx(10), "household", "h", T0))
    refused(hazard, InvalidInputError,
            lambda: hazard.assign(ctx(10), "household", "h", T0.replace(tzinfo=None)))
    refused(hazard, InvalidInputError,
            lambda: hazard.assign(ctx(10), "landlord", "h", T0 + timedelta(days=1)))
    refused(hazard, InvalidInputError,
            lambda: hazard.assign(ctx(10), "household", " ", T0 + timedelta(days=1)))
    due = T0 + timedelta(days=1)
    hazard.assign(ctx(10), "household", "h", due)
    hazard.collect_events()
    refused(hazard, InvalidTransitionError,
            lambda: hazard.assign(ctx(20), AssigneeKind.HOUSEHOLD, "h", due))
    hazard.assign(ctx(20), "household", "h", due + timedelta(days=1))
    hazard.assign(ctx(30), "community", "h", due + timedelta(days=1))
    assert (hazard.assignee_kind, hazard.due) == (AssigneeKind.COMMUNITY,
                                                  due + timedelta(days=1))


def test_closing_without_verification_and_reopening_keep_the_assignee() -> None:
    """A closed hazard is finished; reopened it is open again with its assignee, no
    rectifier and no due date (the last cycle's: overdue for nobody until it is assigned
    again), and one reopening counted."""
    hazard = found()
    due = T0 + timedelta(days=1)
    hazard.assign(ctx(10), "household", "h", due)
    hazard.rectify(ctx(20, WORKER))
    hazard.close(ctx(30), "household moved out")
    assert hazard.status is HazardStatus.CLOSED
    assert hazard.is_finished
    hazard.reopen(ctx(40), "clutter is back")
    assert (hazard.status, hazard.assignee, hazard.due) == (HazardStatus.OPEN, "h", None)
    assert (hazard.rectified_by, hazard.reopen_count) == (None, 1)
    assert not hazard.is_overdue(due + timedelta(seconds=1))
    again = due + timedelta(days=2)
    hazard.assign(ctx(50), "household", "h", again)
    assert hazard.due == again
    assert hazard.is_overdue(again + timedelta(seconds=1))


def test_a_rectified_hazard_can_be_reopened_before_verification() -> None:
    hazard = found()
    hazard.rectify(ctx(10, WORKER))
    hazard.reopen(ctx(20, LEADER), "not really cleared")
    assert hazard.status is HazardStatus.OPEN
    assert kinds(hazard)[-1] == "Reopened"


def test_a_finished_hazard_takes_amendments_dated_at_or_before_its_end_only() -> None:
    """Notes dated at or before the verification are recorded; after it, refused until a
    reopening; a correction may not move a fact past it."""
    hazard = found()
    hazard.rectify(ctx(10, WORKER))
    hazard.verify(ctx(20, LEADER))
    hazard.add_note(ctx(20), "photo of the cleared room filed")
    hazard.collect_events()
    refused(hazard, InvalidTransitionError, lambda: hazard.add_note(ctx(21), "late"),
            match="accepts nothing but a reopen")
    refused(hazard, InvalidTransitionError,
            lambda: hazard.correct_time(ctx(30), 4, T0 + timedelta(minutes=25), "log"))
    hazard.reopen(ctx(30), "back")
    hazard.add_note(ctx(31), "now accepted")
    assert kinds(hazard)[-2:] == ["Reopened", "NoteAdded"]


def test_time_corrections_keep_dues_after_the_finding_and_steps_in_order() -> None:
    """Moving the finding to after a due date, or a step before the one it follows, is
    refused; a correction that keeps the rules is recorded."""
    hazard = found()
    hazard.assign(ctx(10), "household", "h", T0 + timedelta(hours=1))
    hazard.rectify(ctx(20, WORKER))
    hazard.collect_events()
    refused(hazard, InvalidTransitionError,
            lambda: hazard.correct_time(ctx(30), 1, T0 + timedelta(hours=2), "log"))
    refused(hazard, InvalidTransitionError,
            lambda: hazard.correct_time(ctx(30), 3, T0 + timedelta(minutes=5), "log"))
    hazard.correct_time(ctx(30), 3, T0 + timedelta(minutes=15), "log checked")
    assert hazard.time_of(3) == T0 + timedelta(minutes=15)


def test_a_due_date_may_precede_its_assignment_but_never_the_finding() -> None:
    """A late-recorded assignment may give a due date already passed; a correction that
    would move the finding to or past a due date is refused, one that keeps it before is
    recorded."""
    hazard = found()
    hazard.assign(ctx(90), "household", "h", T0 + timedelta(minutes=60))
    refused(hazard, InvalidTransitionError,
            lambda: hazard.correct_time(ctx(90), 1, T0 + timedelta(minutes=60), "log"),
            match="would not be after it was found")
    hazard.correct_time(ctx(90), 1, T0 + timedelta(minutes=50), "log")
    assert hazard.found_at == T0 + timedelta(minutes=50)


def test_nothing_is_recorded_before_the_finding() -> None:
    hazard = found()
    refused(hazard, InvalidTransitionError, lambda: hazard.add_note(ctx(-1), "early"))
    refused(hazard, InvalidTransitionError, lambda: hazard.link_order(ctx(-1), uuid4()))
    refused(hazard, InvalidInputError, lambda: hazard.add_note(ctx(1), "  "))


# Links ---------------------------------------------------------------------------------


def test_links_are_recorded_in_any_status_each_id_once() -> None:
    """A link follows the closure: recorded on a verified hazard, after the verification;
    the same id twice is refused; each link kind keeps its own ids."""
    hazard = found()
    hazard.rectify(ctx(10, WORKER))
    hazard.verify(ctx(20, LEADER))
    order, item, incident = uuid4(), uuid4(), uuid4()
    hazard.link_order(ctx(30), order)
    hazard.link_improvement(ctx(31), item)
    hazard.link_incident(ctx(32), incident)
    events: list[Any] = list(hazard.collect_events())
    assert [e.detail() for e in events[-3:]] == [{"id": str(order)}, {"id": str(item)},
                                                 {"id": str(incident)}]
    assert (hazard.orders, hazard.items, hazard.incidents) == ({order}, {item}, {incident})
    refused(hazard, InvalidTransitionError, lambda: hazard.link_order(ctx(40), order),
            match="already linked")
    refused(hazard, InvalidInputError, lambda: hazard.link_incident(ctx(40), "i-1"))  # type: ignore[arg-type]
    refused(hazard, InvalidInputError, lambda: hazard.check_link(ctx(40), "patrol", order))
    assert hazard.check_link(ctx(40), "incident", order) is LinkKind.INCIDENT


def test_the_other_sides_take_one_hazard_each_in_any_status() -> None:
    """An incident, an order's and an item's FromHazard: recorded once, whatever the
    status (a closed incident included); another hazard, or the same again, refused."""
    hazard_id, other = uuid4(), uuid4()
    incident = Incident.detect(
        ctx(0), incident_id=uuid4(), community_id=COMMUNITY, incident_type=IncidentType.FIRE,
        severity=Severity.HIGH, location=HERE, description="smoke")
    incident.resolve(ctx(10), "out")
    incident.close(ctx(20), "resolved")
    incident.collect_events()
    incident.from_hazard(ctx(30), hazard_id)
    assert incident.hazard_id == hazard_id
    assert [type(e).__name__ for e in incident.collect_events()] == ["FromHazard"]
    refused(incident, InvalidTransitionError, lambda: incident.from_hazard(ctx(40), other),
            match="came from hazard")
    refused(incident, InvalidTransitionError,
            lambda: incident.check_hazard_link(ctx(40), hazard_id))
    item = ImprovementItem.plan(
        ctx(0), item_id=uuid4(), community_id=COMMUNITY, review="r", incident_id=None,
        grid="3", objective=None, action="clear rooms", owner="zhang",
        due=T0 + timedelta(days=7))
    item.complete(ctx(10))
    item.collect_events()
    refused(item, InvalidTransitionError, lambda: item.from_hazard(ctx(-1), hazard_id))
    item.from_hazard(ctx(20), hazard_id)
    assert item.hazard_id == hazard_id
    refused(item, InvalidTransitionError, lambda: item.from_hazard(ctx(30), hazard_id),
            match="linked to this hazard already")


# References ----------------------------------------------------------------------------


def test_hazards_are_numbered_in_a_series_of_their_own() -> None:
    assert "hazard" in CASE_KINDS
    assert reference_text("DH", 2022, "hazard", 7) == "DH-2022-H0007"
    assert check_reference("DH-2022-H0007") == "DH-2022-H0007"
    assert normal_reference("dh-2022-h7") == "DH-2022-H0007"
    hazard = found(reference=None)
    hazard.give_reference(ctx(5), "DH-2022-H0002")
    assert hazard.reference == "DH-2022-H0002"
    hazard.collect_events()
    refused(hazard, InvalidTransitionError, lambda: hazard.give_reference(ctx(6),
                                                                          "DH-2022-H0003"))


# Patrols -------------------------------------------------------------------------------


def patrol(minutes: float = 90, visits: tuple[PatrolVisit, ...] = (PatrolVisit("30"),)
           ) -> Patrol:
    walked = Patrol.record(ctx(0, WORKER), patrol_id=uuid4(), community_id=COMMUNITY,
                           grid="3", ended_at=T0 + timedelta(minutes=minutes),
                           visits=visits, findings="storage room cluttered")
    walked.collect_events()
    return walked


def test_a_patrol_keeps_its_grid_times_and_visits() -> None:
    walked = patrol(visits=(PatrolVisit("30", ["storage_room"]), PatrolVisit("30/1")))
    assert (walked.grid, walked.started_at, walked.ended_at) == (
        "3", T0, T0 + timedelta(minutes=90))
    assert walked.visits == (PatrolVisit("30", ("storage_room",)), PatrolVisit("30/1"))
    assert patrol(visits=()).visits == ()  # none visited: recorded, the quality report flags it


@pytest.mark.parametrize("minutes", [0, -5, 24 * 60 + 1])
def test_a_patrol_ends_after_it_starts_within_a_day(minutes: int) -> None:
    with pytest.raises(InvalidInputError, match="within 24 hours"):
        patrol(minutes)


def test_visits_and_rules_are_checked_for_shape() -> None:
    """A blank area or spot, a visit that is no PatrolVisit, a rule without a name or with
    an unknown frequency are InvalidInputError."""
    for bad in (lambda: PatrolVisit(" "), lambda: PatrolVisit("30", ("",)),
                lambda: PatrolVisit("30", "storage"),
                lambda: PatrolRule("", Frequency.DAILY),
                lambda: PatrolRule("r", "hourly"),
                lambda: PatrolRule("r", Frequency.DAILY, spot=" "),
                lambda: PatrolRule("r", Frequency.DAILY, areas=("30", "")),
                lambda: patrol(visits=("30",))):  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            bad()


def test_coverage_and_end_are_corrected_by_facts_saying_why() -> None:
    walked = patrol()
    walked.correct_coverage(ctx(100), [PatrolVisit("30"), PatrolVisit("31")], "forgot 31")
    walked.correct_end(ctx(100), T0 + timedelta(hours=3), "log checked")
    assert walked.visits == (PatrolVisit("30"), PatrolVisit("31"))
    assert walked.ended_at == T0 + timedelta(hours=3)
    walked.collect_events()
    refused(walked, InvalidTransitionError,
            lambda: walked.correct_coverage(ctx(110), walked.visits, "same"))
    refused(walked, InvalidTransitionError,
            lambda: walked.correct_end(ctx(110), T0 + timedelta(hours=3), "same"))
    refused(walked, InvalidInputError,
            lambda: walked.correct_end(ctx(110), T0 + timedelta(hours=25), "typo"))
    refused(walked, InvalidInputError,
            lambda: walked.correct_coverage(ctx(110), [PatrolVisit("32")], " "))
    refused(walked, InvalidTransitionError, lambda: walked.add_note(ctx(-1), "early"))
    # A start moved to within a day of the end is kept; one that would leave the end
    # more than a day on, or not after it, is refused.
    refused(walked, InvalidTransitionError,
            lambda: walked.correct_time(ctx(120), 1, T0 - timedelta(hours=22), "log"))
    refused(walked, InvalidTransitionError,
            lambda: walked.correct_time(ctx(120), 1, T0 + timedelta(hours=3), "log"))
    walked.correct_time(ctx(120), 1, T0 - timedelta(hours=2), "log")
    assert walked.started_at == T0 - timedelta(hours=2)


# Patrol plans --------------------------------------------------------------------------

WEEKLY = PatrolRule("buildings", Frequency.WEEKLY)
STORAGE = PatrolRule("storage rooms", Frequency.MONTHLY, spot="storage_room", areas=("30",))


def test_a_plan_is_adopted_once_per_grid_and_revised_in_force_from_its_time() -> None:
    plan = PatrolPlan.adopt(ctx(0), community_id=COMMUNITY, grid="3", rules=[WEEKLY])
    assert plan.id == patrol_plan_id(COMMUNITY, "3") != patrol_plan_id(COMMUNITY, "4")
    plan.revise(ctx(60), (WEEKLY, STORAGE), "storage rooms added after the fire")
    assert plan.rules == (WEEKLY, STORAGE)
    assert plan.rules_at(T0 - timedelta(seconds=1)) == ()
    assert plan.rules_at(T0 + timedelta(minutes=59)) == (WEEKLY,)
    assert plan.rules_at(T0 + timedelta(minutes=60)) == (WEEKLY, STORAGE)
    # A revision recorded late, dated between the two, is in force from its own time.
    plan.revise(ctx(30), (STORAGE,), "late record")
    assert plan.rules_at(T0 + timedelta(minutes=45)) == (STORAGE,)
    assert plan.rules == (WEEKLY, STORAGE)
    plan.collect_events()
    refused(plan, InvalidInputError, lambda: plan.revise(ctx(90), [], "none"))
    refused(plan, InvalidInputError, lambda: plan.revise(ctx(90), [WEEKLY, WEEKLY], "twice"),
            match="unique")
    refused(plan, InvalidInputError, lambda: plan.revise(ctx(90), [WEEKLY], ""))
    refused(plan, InvalidTransitionError, lambda: plan.revise(ctx(-1), [WEEKLY], "early"))
