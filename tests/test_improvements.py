"""Improvement items: an after-action review's plan, tracked to done, and listed from the views."""

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import OperationalError

from resilience import (
    Actor,
    AlreadyExistsError,
    Engine,
    ImprovementItem,
    ImprovementStatus,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    ManualClock,
    NotFoundError,
    PlanItem,
    Receipt,
    Role,
    ScenarioError,
    StoreUnavailableError,
    UnitSpec,
    improvement_id_for,
)
from resilience.domain.organisation import community_id
from resilience.scenario import parse_scenario, replay, replay_file
from resilience.scenarios import DONGHU_FIRE
from stateful_support import recorded, refused

from conftest import OFFICE, SHANGHAI, T0

DAY = timedelta(days=1)
ZHANG = "p-3001"
DUE = T0 + 30 * DAY
OBJECTIVE = "contained_within_15_min"  # a default objective's name (not a milestone)


def community_review(community: UUID, grid: str | None = None) -> str:
    """The review key of a community's (or grid's) incidents of all time."""
    return f"community/{community}" + (f"/grid/{grid}" if grid else "") + "/all time"


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def setup(engine: Engine) -> tuple[UUID, UUID, UUID]:
    """Donghu (grids 3 and 4, building 30 in grid 3), another community, and a fire in
    building 30 detected at T0."""
    communities = engine.communities
    donghu = communities.register(district="Taishan", subdistrict="Daimiao", name="Donghu",
                                  actor=OFFICE, occurred_at=T0 - 30 * DAY).aggregate_id
    for grid in ("3", "4"):
        communities.add_grid(donghu, grid, actor=OFFICE, occurred_at=T0 - 30 * DAY)
    communities.add_building(donghu, "30", "3", [UnitSpec("1", 24)], actor=OFFICE,
                             occurred_at=T0 - 30 * DAY)
    other = communities.register(district="Taishan", subdistrict="Daimiao", name="Xiangyang",
                                 actor=OFFICE, occurred_at=T0 - 30 * DAY).aggregate_id
    fire = engine.incidents.report(
        donghu, incident_type="fire", severity="high",
        location=Location(building="30", unit="1"), description="smoke in the basement",
        actor=OFFICE, occurred_at=T0).aggregate_id
    return donghu, other, fire


def plan(engine: Engine, community: UUID, fire: UUID | None = None, *,
         at: datetime = T0 + DAY, **overrides: Any) -> UUID:
    """Plan the storage-room item (or another, by overrides) and return its id."""
    arguments: dict[str, Any] = {
        "review": f"incident/{fire}" if fire else community_review(community),
        "action": "Clear basement storage-room clutter", "owner": ZHANG, "due": DUE,
        "actor": OFFICE, "incident_id": fire, "objective": OBJECTIVE, "occurred_at": at}
    arguments.update(overrides)
    return engine.improvements.plan(community, **arguments).aggregate_id




@pytest.fixture
def world(memory_engine: Engine) -> tuple[UUID, UUID, UUID]:
    return setup(memory_engine)


@pytest.fixture
def item(memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> UUID:
    """The storage-room item, planned a day after the fire, due 30 days after it."""
    donghu, _, fire = world
    return plan(memory_engine, donghu, fire)


# Planning ---------------------------------------------------------------------------------


def test_planning_records_one_fact_with_the_review_incident_grid_and_objective(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> None:
    """plan records Planned; the item is open, owned, due, and takes its grid from the incident."""
    donghu, _, fire = world
    receipt = memory_engine.improvements.plan(
        donghu, review=f"incident/{fire}", action="Clear the clutter", owner=ZHANG, due=DUE,
        actor=OFFICE, incident_id=fire, objective=OBJECTIVE, occurred_at=T0 + DAY)
    assert (receipt.first_version, receipt.last_version) == (1, 1)
    (planned,) = memory_engine.events(receipt.aggregate_id)
    assert isinstance(planned, ImprovementItem.Planned)
    item = memory_engine.improvements.get(receipt.aggregate_id)
    assert (item.community_id, item.review, item.incident_id, item.grid, item.objective) == (
        donghu, f"incident/{fire}", fire, "3", OBJECTIVE)
    assert (item.action, item.owner, item.due, item.status) == (
        "Clear the clutter", ZHANG, DUE, ImprovementStatus.OPEN)
    assert (item.planned_at, item.completed_at, item.reopen_count) == (T0 + DAY, None, 0)


def test_an_item_needs_no_incident_and_may_name_another_grid(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> None:
    """Without an incident the grid is what the caller says (or none); with one, it can differ."""
    donghu, _, fire = world
    alone = memory_engine.improvements.get(plan(memory_engine, donghu, objective=None))
    assert (alone.incident_id, alone.grid, alone.objective) == (None, None, None)
    elsewhere = memory_engine.improvements.get(plan(memory_engine, donghu, fire, grid="4"))
    assert (elsewhere.incident_id, elsewhere.grid) == (fire, "4")


def test_planning_checks_the_community_incident_and_grid(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> None:
    """An unknown community or incident, another community's incident, or a grid that is
    not one of the community's is refused, and nothing is recorded."""
    donghu, other, fire = world
    engine = memory_engine
    refused(engine, NotFoundError, lambda: plan(engine, uuid4(), None))
    refused(engine, NotFoundError, lambda: plan(engine, donghu, uuid4()))
    refused(engine, NotFoundError, lambda: plan(engine, other, fire), match="no incident")
    refused(engine, NotFoundError, lambda: plan(engine, donghu, grid="9"))
    refused(engine, InvalidInputError, lambda: plan(engine, donghu, grid="30"),
            match="not a grid")
    refused(engine, NotFoundError, lambda: plan(engine, donghu, incident_id=donghu),
            match="not an incident")


def test_a_review_key_of_no_known_form_is_refused(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> None:
    """A review that is not incident/<uuid> nor community/<uuid>[/grid/<grid>]/<period>
    (canonical uuid, no blank part) is InvalidInputError, and nothing is recorded."""
    donghu, _, fire = world
    for review in ("garbage", "incident/", "incident/fire", f"incident/{fire}/all time",
                   f"incident/{str(fire).upper()}", f" incident/{fire}", f"incident/{fire} ",
                   f"Incident/{fire}", "community/", f"community/{donghu}",
                   f"community/{donghu}/", f"community/{donghu}/ all time",
                   f"community/{donghu}/grid/3", f"community/{donghu}/grid//all time",
                   f"community/{donghu}/a/b", "community/donghu/all time", 42):
        refused(memory_engine, InvalidInputError,
                partial(plan, memory_engine, donghu, review=review, incident_id=None),
                match="is not a review key")


def test_an_incident_review_key_names_one_of_the_communitys_incidents(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> None:
    """incident/<uuid> of an unknown incident, of another community's incident, or of an
    aggregate that is no incident, is NotFoundError, and nothing is recorded."""
    donghu, other, fire = world
    engine = memory_engine
    refused(engine, NotFoundError,
            lambda: plan(engine, donghu, review=f"incident/{uuid4()}", incident_id=None))
    refused(engine, NotFoundError,
            lambda: plan(engine, other, review=f"incident/{fire}", incident_id=None),
            match="no incident")
    refused(engine, NotFoundError,
            lambda: plan(engine, donghu, review=f"incident/{donghu}", incident_id=None),
            match="not an incident")


def test_an_incident_review_key_gives_the_item_its_incident_and_no_other(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> None:
    """Without incident_id, an incident key's incident is the item's (and its grid the
    item's grid); an incident_id naming another incident is InvalidInputError."""
    donghu, _, fire = world
    engine = memory_engine
    second = engine.incidents.report(
        donghu, incident_type="gas", severity="low", location=Location(grid="4"),
        description="gas smell", actor=OFFICE, occurred_at=T0 + DAY / 2).aggregate_id
    refused(engine, InvalidInputError, lambda: plan(engine, donghu, fire, incident_id=second),
            match=f"the review is of incident {fire} but incident_id is {second}")
    defaulted = engine.improvements.get(plan(engine, donghu, review=f"incident/{second}",
                                             incident_id=None))
    assert (defaulted.review, defaulted.incident_id, defaulted.grid) == (
        f"incident/{second}", second, "4")


def test_a_community_review_key_names_the_community_and_a_grid_of_it(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> None:
    """A community key of another community is InvalidInputError; a grid key's grid must be
    one of the community's grids and is the item's grid unless ``grid`` says otherwise."""
    donghu, other, fire = world
    engine = memory_engine
    refused(engine, InvalidInputError, lambda: plan(engine, donghu, review=community_review(other)),
            match=f"the review is of community {other}")
    refused(engine, NotFoundError, lambda: plan(engine, donghu,
                                                review=community_review(donghu, "9")))
    refused(engine, InvalidInputError,
            lambda: plan(engine, donghu, review=community_review(donghu, "30")),
            match="not a grid")
    whole = engine.improvements.get(plan(engine, donghu))
    assert (whole.review, whole.incident_id, whole.grid) == (community_review(donghu), None, None)
    grid_4 = community_review(donghu, "4")
    assert engine.improvements.get(plan(engine, donghu, review=grid_4)).grid == "4"
    # The grid key's grid comes before the incident's; ``grid`` before both.
    for overrides, grid in (({"incident_id": fire}, "4"), ({"grid": "3"}, "3")):
        planned = plan(engine, donghu, review=grid_4, **overrides)
        assert engine.improvements.get(planned).grid == grid
    period = f"community/{donghu}/2022-01-01T00:00:00+08:00 to 2022-04-01T00:00:00+08:00"
    assert engine.improvements.get(plan(engine, donghu, review=period)).review == period


@pytest.mark.parametrize("overrides", [
    {"due": T0 + DAY},                                   # due at the planning time
    {"due": T0},                                         # due before it
    {"due": DUE.replace(tzinfo=None)},                   # naive
    {"action": "  "}, {"owner": ""}, {"review": ""}, {"objective": " "}, {"grid": ""},
    {"occurred_at": (T0 + DAY).replace(tzinfo=None)},
    {"item_id": "not-a-uuid"}, {"incident_id": "not-a-uuid"},
], ids=lambda o: ",".join(o))
def test_malformed_plans_are_invalid_input_and_record_nothing(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID], overrides: dict[str, Any]) -> None:
    """A due date not after planning, a naive time, blank text or a malformed id is refused."""
    donghu, _, _ = world
    refused(memory_engine, InvalidInputError, lambda: plan(memory_engine, donghu, **overrides))


def test_a_repeated_plan_command_returns_the_first_receipt_and_ids_derive_from_it(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> None:
    """A command id gives the item a stable id and makes a retry record nothing; another
    plan under an existing id is refused."""
    donghu, _, fire = world
    improvements = memory_engine.improvements

    def again() -> Receipt:
        return improvements.plan(donghu, review=community_review(donghu), action="a",
                                 owner=ZHANG, due=DUE,
                                 actor=OFFICE, occurred_at=T0 + DAY, command_id="review-1/a")

    first = again()
    assert first.aggregate_id == improvement_id_for(donghu, "review-1/a")
    before = recorded(memory_engine)
    assert again() == first
    assert recorded(memory_engine) == before
    refused(memory_engine, AlreadyExistsError,
            lambda: plan(memory_engine, donghu, fire, item_id=first.aggregate_id))


# Tracking to done ---------------------------------------------------------------------------


def test_an_item_is_started_completed_reopened_and_completed_again(
        memory_engine: Engine, item: UUID) -> None:
    """open -> in progress -> done -> open (reopened) -> done, each one fact."""
    run = memory_engine.improvements
    run.start(item, actor=Actor(ZHANG, Role.GRID_LEADER), occurred_at=days(2))
    assert run.get(item).status is ImprovementStatus.IN_PROGRESS
    run.complete(item, "cleared, photos filed", actor=OFFICE, occurred_at=days(10))
    done = run.get(item)
    assert (done.status, done.completed_at, done.is_finished) == (
        ImprovementStatus.DONE, days(10), True)
    run.reopen(item, "clutter back at the March check", actor=OFFICE, occurred_at=days(20))
    reopened = run.get(item)
    assert (reopened.status, reopened.completed_at, reopened.reopen_count) == (
        ImprovementStatus.OPEN, None, 1)
    run.complete(item, actor=OFFICE, occurred_at=days(25))  # no need to start it again
    assert run.get(item).completed_at == days(25)
    assert [type(e).__name__ for e in memory_engine.events(item)] == [
        "Planned", "Started", "Completed", "Reopened", "Completed"]


def test_cancelling_keeps_the_reason_and_a_reopen_clears_it(
        memory_engine: Engine, item: UUID) -> None:
    """A cancelled item is finished with its reason; reopened, it is open again."""
    run = memory_engine.improvements
    refused(memory_engine, InvalidInputError,
            lambda: run.cancel(item, " ", actor=OFFICE, occurred_at=days(2)))
    run.cancel(item, "the storage rooms were demolished", actor=OFFICE, occurred_at=days(2))
    cancelled = run.get(item)
    assert (cancelled.status, cancelled.cancel_reason) == (
        ImprovementStatus.CANCELLED, "the storage rooms were demolished")
    run.reopen(item, "only half of them were", actor=OFFICE, occurred_at=days(3))
    assert (run.get(item).status, run.get(item).cancel_reason) == (ImprovementStatus.OPEN, None)


def test_nothing_is_completed_cancelled_started_or_reopened_twice(
        memory_engine: Engine, item: UUID) -> None:
    """A done item can't be completed, cancelled or started; only a finished item is reopened;
    an item in progress can't be started again."""
    run, engine = memory_engine.improvements, memory_engine
    refused(engine, InvalidTransitionError,
            lambda: run.reopen(item, "why", actor=OFFICE, occurred_at=days(2)),
            match="open cannot be reopened")
    run.start(item, actor=OFFICE, occurred_at=days(2))
    refused(engine, InvalidTransitionError,
            lambda: run.start(item, actor=OFFICE, occurred_at=days(3)),
            match="in progress cannot be started")
    run.complete(item, actor=OFFICE, occurred_at=days(3))
    for command in (lambda: run.complete(item, actor=OFFICE, occurred_at=days(4)),
                    lambda: run.cancel(item, "no", actor=OFFICE, occurred_at=days(4)),
                    lambda: run.start(item, actor=OFFICE, occurred_at=days(4))):
        refused(engine, InvalidTransitionError, command, match="done cannot be")


def test_a_finished_item_accepts_nothing_dated_after_its_closure_but_a_reopen(
        memory_engine: Engine, item: UUID) -> None:
    """Like a closed incident, a done item refuses notes, reassignment and rescheduling dated
    after its completion; reopened, it accepts them again."""
    run, engine = memory_engine.improvements, memory_engine
    run.complete(item, actor=OFFICE, occurred_at=days(3))
    for command in (
            lambda: run.add_note(item, "photos filed", actor=OFFICE, occurred_at=days(4)),
            lambda: run.assign(item, "p-3201", actor=OFFICE, occurred_at=days(4)),
            lambda: run.reschedule(item, DUE + DAY, "later", actor=OFFICE, occurred_at=days(4))):
        refused(engine, InvalidTransitionError, command, match="accepts nothing but a reopen")
    run.reopen(item, "photos missing", actor=OFFICE, occurred_at=days(4))
    run.add_note(item, "photos filed", actor=OFFICE, occurred_at=days(5))
    assert len(engine.events(item)) == 4


def test_a_finished_item_accepts_corrections_and_late_records_dated_before_its_closure(
        memory_engine: Engine, item: UUID) -> None:
    """Amendments after closure: corrections, and notes, reassignments and reschedulings dated
    at or before the completion, are recorded; the item stays done."""
    run, engine = memory_engine.improvements, memory_engine
    run.complete(item, actor=OFFICE, occurred_at=days(3))
    run.add_note(item, "photos filed", actor=OFFICE, occurred_at=days(3))
    run.assign(item, "p-3201", actor=OFFICE, occurred_at=days(2))
    run.reschedule(item, DUE + DAY, "later", actor=OFFICE, occurred_at=days(2))
    run.correct_time(item, 2, days(3.5), "log", actor=OFFICE, occurred_at=days(9))
    run.correct_details(item, 1, "better", "typo", actor=OFFICE, occurred_at=days(9))
    done = run.get(item)
    assert (done.status, done.owner, done.due, done.completed_at) == (
        ImprovementStatus.DONE, "p-3201", DUE + DAY, days(3.5))
    assert len(engine.events(item)) == 7


def test_a_correction_cannot_move_a_fact_of_a_finished_item_after_its_closure(
        memory_engine: Engine, item: UUID) -> None:
    """Moving a note past the completion (or the completion before the note) would date a
    fact after the closure: refused, as a late record dated there would be."""
    run, engine = memory_engine.improvements, memory_engine
    note = run.add_note(item, "photos filed", actor=OFFICE, occurred_at=days(2)).first_version
    done = run.complete(item, actor=OFFICE, occurred_at=days(3)).first_version
    for command in (
            lambda: run.correct_time(item, note, days(4), "log", actor=OFFICE,
                                     occurred_at=days(9)),
            lambda: run.correct_time(item, done, days(1) + timedelta(hours=12), "log",
                                     actor=OFFICE, occurred_at=days(9))):
        refused(engine, InvalidTransitionError, command, match="reopen it first")


def test_reassigning_hands_the_item_over_but_not_to_its_owner(
        memory_engine: Engine, item: UUID) -> None:
    """assign records OwnerAssigned; the current owner, a blank id, or a date before the
    previous reassignment is refused."""
    run, engine = memory_engine.improvements, memory_engine
    refused(engine, InvalidTransitionError,
            lambda: run.assign(item, ZHANG, actor=OFFICE, occurred_at=days(2)),
            match="already owns")
    refused(engine, InvalidInputError,
            lambda: run.assign(item, "", actor=OFFICE, occurred_at=days(2)))
    run.assign(item, "p-3201", actor=OFFICE, occurred_at=days(3))
    assert run.get(item).owner == "p-3201"
    assert isinstance(engine.events(item)[-1], ImprovementItem.OwnerAssigned)
    refused(engine, InvalidTransitionError,
            lambda: run.assign(item, "li", actor=OFFICE, occurred_at=days(2)),
            match="before the item's reassignment")


def test_rescheduling_moves_the_due_date_with_a_reason(memory_engine: Engine, item: UUID) -> None:
    """reschedule records the new due date; the same instant (in any zone), a date not after
    planning, a naive date or a blank reason is refused."""
    run, engine = memory_engine.improvements, memory_engine
    refused(engine, InvalidTransitionError,
            lambda: run.reschedule(item, DUE.astimezone(UTC), "same", actor=OFFICE,
                                   occurred_at=days(2)), match="already due")
    for due, reason in ((T0 + DAY, "too soon"), (DUE.replace(tzinfo=None), "naive"),
                        (DUE + DAY, "  ")):
        refused(engine, InvalidInputError,
                partial(run.reschedule, item, due, reason, actor=OFFICE, occurred_at=days(2)))
    run.reschedule(item, DUE + 10 * DAY, "contractor booked for April", actor=OFFICE,
                   occurred_at=days(3))
    assert run.get(item).due == DUE + 10 * DAY
    # A reschedule is not dated before the one it follows (or the planning) ...
    refused(engine, InvalidTransitionError,
            lambda: run.reschedule(item, DUE, "back", actor=OFFICE, occurred_at=days(2.5)),
            match="before the item's rescheduling")
    # ... but may bring the date forward, as long as it stays after the planning.
    run.reschedule(item, T0 + 2 * DAY, "urgent after a second fire", actor=OFFICE,
                   occurred_at=days(3))
    assert run.get(item).due == T0 + 2 * DAY
    assert [type(e).__name__ for e in engine.events(item)] == [
        "Planned", "Rescheduled", "Rescheduled"]


def test_lifecycle_times_cannot_go_backwards(memory_engine: Engine, item: UUID) -> None:
    """Nothing before the planning; a start, completion, cancellation or reopening not dated
    before the lifecycle fact it follows."""
    run, engine = memory_engine.improvements, memory_engine
    for command in (lambda: run.start(item, actor=OFFICE, occurred_at=T0),
                    lambda: run.add_note(item, "early", actor=OFFICE, occurred_at=T0),
                    lambda: run.assign(item, "p-3201", actor=OFFICE, occurred_at=T0)):
        refused(engine, InvalidTransitionError, command)
    run.start(item, actor=OFFICE, occurred_at=days(5))
    refused(engine, InvalidTransitionError,
            lambda: run.complete(item, actor=OFFICE, occurred_at=days(4)),
            match="times can't go backwards")
    refused(engine, InvalidTransitionError,
            lambda: run.cancel(item, "no", actor=OFFICE, occurred_at=days(4)),
            match="before the item's start")
    run.complete(item, actor=OFFICE, occurred_at=days(5))  # the same moment is fine
    refused(engine, InvalidTransitionError,
            lambda: run.reopen(item, "no", actor=OFFICE, occurred_at=days(4.5)))
    # A note or a reassignment may be dated before the last lifecycle fact.
    run.reopen(item, "not done", actor=OFFICE, occurred_at=days(6))
    run.add_note(item, "found out on day 3", actor=OFFICE, occurred_at=days(3))
    assert len(engine.events(item)) == 5


def test_time_corrections_keep_the_rules(memory_engine: Engine, item: UUID) -> None:
    """A correction is refused if it would put a lifecycle fact before the one it follows,
    anything before the planning, or the planning at or after a due date; otherwise the
    corrected time is the item's."""
    run, engine = memory_engine.improvements, memory_engine
    run.start(item, actor=OFFICE, occurred_at=days(2))
    run.complete(item, actor=OFFICE, occurred_at=days(12))
    run.reopen(item, "not done", actor=OFFICE, occurred_at=days(13))
    run.complete(item, actor=OFFICE, occurred_at=days(14))
    run.reopen(item, "correct the log", actor=OFFICE, occurred_at=days(15))
    for version, moved in ((2, days(0.5)),           # started before planned
                           (3, days(1.5)),           # completed before started
                           (1, DUE),                 # planned at the due date
                           (1, days(2.5))):          # planned after the start
        refused(engine, InvalidTransitionError,
                partial(run.correct_time, item, version, moved, "log", actor=OFFICE,
                        occurred_at=days(16)))
    refused(engine, NotFoundError,
            lambda: run.correct_time(item, 42, days(2), "log", actor=OFFICE,
                                     occurred_at=days(16)))
    run.correct_time(item, 3, days(11), "the check sheet is dated day 11", actor=OFFICE,
                     occurred_at=days(16))
    assert run.get(item).time_of(3) == days(11)
    run.complete(item, actor=OFFICE, occurred_at=days(17))
    assert run.get(item).completed_at == days(17)


def test_is_overdue_when_unfinished_after_the_due_date(memory_engine: Engine, item: UUID) -> None:
    """is_overdue(at): unfinished and ``at`` after the due date (not at it); never when done."""
    run = memory_engine.improvements
    current = run.get(item)
    assert not current.is_overdue(DUE)
    assert current.is_overdue(DUE + timedelta(seconds=1))
    with pytest.raises(InvalidInputError):
        current.is_overdue(DUE.replace(tzinfo=None))
    run.complete(item, actor=OFFICE, occurred_at=DUE + DAY)
    assert not run.get(item).is_overdue(DUE + 2 * DAY)


def test_a_repeated_command_id_records_nothing_new(memory_engine: Engine, item: UUID) -> None:
    """Completing twice under one command id returns the first receipt and records once."""
    run = memory_engine.improvements
    first = run.complete(item, "done", actor=OFFICE, occurred_at=days(3), command_id="done-1")
    before = recorded(memory_engine)
    assert run.complete(item, "done", actor=OFFICE, occurred_at=days(3),
                        command_id="done-1") == first
    assert recorded(memory_engine) == before


def test_commands_on_an_unknown_or_other_aggregate_are_not_found(
        memory_engine: Engine, world: tuple[UUID, UUID, UUID]) -> None:
    """An id that is no item (unknown, or an incident's) raises NotFoundError."""
    _, _, fire = world
    refused(memory_engine, NotFoundError,
            lambda: memory_engine.improvements.start(uuid4(), actor=OFFICE))
    refused(memory_engine, NotFoundError,
            lambda: memory_engine.improvements.start(fire, actor=OFFICE), match="not an")


# The plans view, on every store ------------------------------------------------------------


def test_the_plans_view_lists_items_by_review_incident_grid_and_openness(engine: Engine) -> None:
    """items() filters by community, review, incident, grid and open_only, sorted by due date."""
    donghu, other, fire = setup(engine)
    clutter = plan(engine, donghu, fire)
    hydrants = plan(engine, donghu, fire, action="Test the basement hydrant", grid="4",
                    due=T0 + 10 * DAY)
    drill = plan(engine, donghu, review=community_review(donghu), action="Evacuation drill",
                 due=T0 + 60 * DAY, objective=None)
    engine.improvements.complete(hydrants, actor=OFFICE, occurred_at=T0 + 5 * DAY)
    run = engine.improvements

    def ids(items: list[PlanItem]) -> list[UUID]:
        return [i.item_id for i in items]

    assert ids(run.items()) == [hydrants, clutter, drill]
    assert ids(run.items(donghu)) == [hydrants, clutter, drill]
    assert run.items(other) == []
    assert ids(run.items(review=f"incident/{fire}")) == [hydrants, clutter]
    assert ids(run.items(incident=fire, open_only=True)) == [clutter]
    assert ids(run.items(grid="3")) == [clutter]
    assert ids(run.items(open_only=True)) == [clutter, drill]
    listed = run.item(clutter)
    assert listed == PlanItem(
        item_id=clutter, review=f"incident/{fire}", incident_id=fire, community=donghu,
        grid="3", objective=OBJECTIVE, action="Clear basement storage-room clutter",
        owner=ZHANG, due=DUE, status=ImprovementStatus.OPEN, planned_at=T0 + DAY,
        completed_at=None, overdue=False)
    assert run.item(hydrants).completed_at == T0 + 5 * DAY
    with pytest.raises(NotFoundError):
        run.items(uuid4())
    with pytest.raises(NotFoundError):
        run.item(uuid4())
    with pytest.raises(InvalidInputError):
        run.items(str(donghu))  # type: ignore[arg-type]


def test_listing_a_grid_the_community_does_not_have_is_not_found(engine: Engine) -> None:
    """items(community, grid=...) raises NotFoundError when the grid is not one of the
    community's grids (unknown, another area, another community's); a grid of it with no
    items lists nothing; an id that is no community is NotFoundError."""
    donghu, other, fire = setup(engine)
    plan(engine, donghu, fire)
    run = engine.improvements
    for community, grid in ((donghu, "9"), (donghu, "30"), (other, "3")):
        with pytest.raises(NotFoundError, match=f"has no grid '{grid}'"):
            run.items(community, grid=grid)
    assert run.items(donghu, grid="4") == []
    assert [i.grid for i in run.items(donghu, grid="3")] == ["3"]
    assert run.items(grid="9") == []  # no community to check the grid against
    with pytest.raises(NotFoundError, match="no community"):
        run.items(fire)


@pytest.mark.parametrize("arguments", [
    {"open_only": "no"}, {"open_only": 1}, {"open_only": None},
    {"review": "garbage"}, {"review": f"incident/{uuid4()}/x"}, {"grid": 3},
], ids=repr)
def test_read_arguments_of_the_wrong_kind_are_invalid_input(
        memory_engine: Engine, item: UUID, arguments: dict[str, Any]) -> None:
    """items() wants open_only a bool, review a review key and grid a string
    (InvalidInputError), rather than reading a non-empty string as true or listing nothing."""
    with pytest.raises(InvalidInputError):
        memory_engine.improvements.items(**arguments)


def test_the_plans_view_gives_status_and_due_as_of_a_moment(engine: Engine,
                                                            clock: ManualClock) -> None:
    """items(at=...) replays the history: status, due date and overdue as they were then."""
    donghu, _, fire = setup(engine)
    item = plan(engine, donghu, fire)
    run = engine.improvements
    run.start(item, actor=OFFICE, occurred_at=days(2))
    run.reschedule(item, DUE + 10 * DAY, "contractor booked", actor=OFFICE, occurred_at=days(20))
    run.assign(item, "p-3201", actor=OFFICE, occurred_at=days(21))
    run.complete(item, actor=OFFICE, occurred_at=days(35))
    run.reopen(item, "clutter back", actor=OFFICE, occurred_at=days(50))

    def at(moment: datetime) -> PlanItem | None:
        found = run.items(at=moment)
        return found[0] if found else None

    assert at(T0) is None                                       # not planned yet
    assert (at(days(1.5)).status, at(days(1.5)).due) == (ImprovementStatus.OPEN, DUE)  # type: ignore[union-attr]
    assert at(days(3)).status is ImprovementStatus.IN_PROGRESS  # type: ignore[union-attr]
    assert at(days(19)).due == DUE                              # type: ignore[union-attr]
    assert at(days(31)).overdue is False                        # type: ignore[union-attr]
    done = at(days(36))
    assert done is not None
    assert (done.status, done.completed_at, done.overdue) == (
        ImprovementStatus.DONE, days(35), False)
    assert done.owner == "p-3201"
    assert at(days(3)).owner == ZHANG                           # type: ignore[union-attr]
    assert run.items(at=days(36), open_only=True) == []
    reopened = at(days(51))
    assert reopened is not None
    assert (reopened.status, reopened.completed_at, reopened.overdue) == (
        ImprovementStatus.OPEN, None, True)
    # Without ``at``: as it stands now, overdue against the engine's clock.
    clock.set(DUE)
    assert run.items()[0].overdue is False
    clock.set(DUE + 11 * DAY)
    assert run.items()[0].overdue is True
    with pytest.raises(InvalidInputError):
        run.items(at=days(3).replace(tzinfo=None))


def test_the_plans_view_applies_corrections_and_knows_what_was_recorded_when(
        engine: Engine, clock: ManualClock) -> None:
    """A corrected start moves the status history; known_at leaves out the facts and the
    corrections recorded after it."""
    donghu, _, fire = setup(engine)
    clock.set(days(1))
    item = plan(engine, donghu, fire)
    clock.set(days(10))
    engine.improvements.start(item, actor=OFFICE, occurred_at=days(8))       # recorded late
    clock.set(days(12))
    engine.improvements.correct_time(item, 2, days(4), "the work sheet says day 4",
                                     actor=OFFICE, occurred_at=days(12))
    run = engine.improvements
    assert run.items(at=days(5))[0].status is ImprovementStatus.IN_PROGRESS  # corrected
    assert run.items(at=days(5), known_at=days(11))[0].status is ImprovementStatus.OPEN
    assert run.items(at=days(9), known_at=days(11))[0].status is ImprovementStatus.IN_PROGRESS
    assert run.items(at=days(9), known_at=days(9))[0].status is ImprovementStatus.OPEN
    assert run.items(known_at=T0) == []                                   # not yet recorded
    assert run.items(known_at=days(31))[0].overdue is True
    with pytest.raises(NotFoundError, match="by then"):
        run.item(item, known_at=T0)
    doc = engine.views.get("plans", str(item))
    assert doc is not None
    assert doc["history"] == [["Planned", days(1).isoformat(), days(1).isoformat()],
                              ["Started", days(4).isoformat(), days(10).isoformat()]]


def test_items_are_in_the_timelines_but_not_in_the_cases(engine: Engine) -> None:
    """An item has a timeline like any aggregate; cases, metrics and counts ignore it."""
    donghu, _, fire = setup(engine)
    item = plan(engine, donghu, fire)
    engine.improvements.start(item, actor=OFFICE, occurred_at=days(2))
    engine.improvements.complete(item, "cleared", actor=OFFICE, occurred_at=days(3))
    timeline = engine.timeline(item)
    assert [(e.action, e.details) for e in timeline.entries] == [
        ("Planned", f"planned for review incident/{fire}: Clear basement storage-room "
                    f"clutter; owner {ZHANG}, due {DUE.isoformat()}, grid 3, objective "
                    f"{OBJECTIVE}"),
        ("Started", "work on the item started"),
        ("Completed", "completed: cleared")]
    assert engine.views.get("cases", str(item)) is None
    assert engine.counts(community=donghu)[0].incidents == 1


def test_a_store_failure_while_reading_the_plan_is_store_unavailable(
        memory_engine: Engine, item: UUID, monkeypatch: pytest.MonkeyPatch) -> None:
    """An eventsourcing PersistenceError while the views catch up becomes StoreUnavailableError."""

    def unreachable(**_: Any) -> int:
        raise OperationalError("connection refused")

    monkeypatch.setattr(memory_engine.views, "catch_up", unreachable)
    with pytest.raises(StoreUnavailableError, match="connection refused"):
        memory_engine.improvements.items()


def test_with_views_fed_elsewhere_items_reads_them_as_they_are(tmp_path: Path,
                                                               clock: ManualClock) -> None:
    """Engine(fresh_views=False): items() does not catch up; after a catch-up it lists."""
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    with Engine(url, clock=clock, fresh_views=False) as engine:
        donghu, _, fire = setup(engine)
        plan(engine, donghu, fire)
        assert engine.improvements.items() == []
        engine.views.catch_up()
        assert len(engine.improvements.items()) == 1


# Scenarios -----------------------------------------------------------------------------------


def test_the_donghu_fire_ends_with_an_open_item_of_its_review(engine: Engine) -> None:
    """The shipped scenario plans the storage-room item, keyed by the fire's review, left open;
    it names no objective (source_found is a milestone, not an objective)."""
    result = replay_file(engine, DONGHU_FIRE)
    fire = result.incidents["donghu-fire"]
    (item,) = engine.improvements.items(result.community_id, open_only=True)
    assert item.item_id == result.improvements["storage-room-clutter"]
    assert (item.review, item.incident_id, item.grid, item.owner, item.objective) == (
        f"incident/{fire}", fire, "3", ZHANG, None)
    assert item.action.startswith("Clear basement storage-room clutter in grid 3")
    assert item.due == datetime(2022, 3, 15, 18, 0, tzinfo=SHANGHAI)
    assert item.status is ImprovementStatus.OPEN
    assert item.overdue is (engine.clock() > item.due)
    assert engine.improvements.items(review=f"incident/{fire}",
                                     at=datetime(2022, 3, 16, tzinfo=SHANGHAI))[0].overdue


def _scenario(actions: list[dict[str, Any]]) -> str:
    staff = {"actor": "office-duty", "as": "community_staff"}
    setup: list[dict[str, Any]] = [
        {"do": "register", "at": "2022-01-10T09:00"},
        {"do": "add_grid", "at": "2022-01-10T09:00", "grid_id": "3"},
        {"do": "report", "incident": "fire-1", "at": "2022-02-15T15:00",
         "incident_type": "fire", "severity": "high", "location": {"grid": "3"},
         "description": "smoke"}]
    return json.dumps({
        "format": "resilience.scenario", "version": 1, "name": "plan-test",
        "timezone": "Asia/Shanghai",
        "community": {"district": "D", "subdistrict": "S", "name": "Test Community"},
        "actions": [{**staff, **a} for a in [*setup, *actions]]})


TEST_COMMUNITY_REVIEW = f"community/{community_id('D', 'S', 'Test Community')}/all time"
PLAN: dict[str, Any] = {
    "do": "plan_improvement", "improvement": "clutter", "incident": "fire-1",
    "at": "2022-02-16T10:00", "action": "clear it", "owner": "zhang", "due": "2022-03-15T18:00"}


def test_scenarios_plan_start_and_complete_items_by_key(memory_engine: Engine) -> None:
    """plan_improvement derives the review from its incident; later actions name the item's
    key; a second replay records nothing."""
    text = _scenario([
        PLAN,
        {"do": "plan_improvement", "improvement": "drill", "at": "2022-02-16T10:00",
         "review": TEST_COMMUNITY_REVIEW, "action": "drill", "owner": "li",
         "due": "2022-03-01T10:00"},
        {"do": "assign_improvement", "improvement": "clutter", "at": "2022-02-17T09:00",
         "owner": "sun"},
        {"do": "reschedule_improvement", "improvement": "clutter", "at": "2022-02-17T09:00",
         "due": "2022-03-20T18:00", "reason": "contractor"},
        {"do": "start_improvement", "improvement": "clutter", "at": "2022-02-18T09:00"},
        {"do": "add_improvement_note", "improvement": "clutter", "at": "2022-02-18T10:00",
         "text": "half done", "label": "note"},
        {"do": "correct_details", "improvement": "clutter", "at": "2022-02-18T11:00",
         "corrects": "note", "details": "a third done", "reason": "recount"},
        {"do": "complete_improvement", "improvement": "clutter", "at": "2022-03-01T17:00",
         "note": "photos filed"},
        {"do": "cancel_improvement", "improvement": "drill", "at": "2022-02-20T09:00",
         "reason": "merged with the district drill"},
        {"do": "reopen_improvement", "improvement": "drill", "at": "2022-02-21T09:00",
         "reason": "district drill postponed"},
    ])
    scenario = parse_scenario(text)
    result = replay(memory_engine, scenario)
    fire = result.incidents["fire-1"]
    clutter = memory_engine.improvements.get(result.improvements["clutter"])
    assert (clutter.review, clutter.incident_id, clutter.owner, clutter.status) == (
        f"incident/{fire}", fire, "sun", ImprovementStatus.DONE)
    assert clutter.completed_at == datetime(2022, 3, 1, 17, tzinfo=SHANGHAI)
    drill = memory_engine.improvements.get(result.improvements["drill"])
    assert (drill.review, drill.incident_id, drill.status) == (
        TEST_COMMUNITY_REVIEW, None, ImprovementStatus.OPEN)
    assert replay(memory_engine, scenario).events_recorded == 0


@pytest.mark.parametrize(("action", "message"), [
    ({**PLAN, "improvement": None}, "'improvement' must be a non-empty key"),
    ({k: v for k, v in PLAN.items() if k != "improvement"}, "needs an 'improvement'"),
    ({"do": "start_improvement", "improvement": "clutter", "incident": "fire-1",
      "at": "2022-02-17T09:00"}, "only plan_improvement names an 'incident'"),
    ({**PLAN, "order": "x"}, "not both"),
    ({"do": "start", "improvement": "clutter", "at": "2022-02-17T09:00"},
     "unknown improvement command 'start'"),
])
def test_malformed_improvement_actions_are_refused_when_parsed(action: dict[str, Any],
                                                               message: str) -> None:
    """Improvement actions need their key; only a plan names an incident; names are checked."""
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(_scenario([action]))


@pytest.mark.parametrize(("action", "message"), [
    ({**PLAN, "incident": "no-such-fire"}, "incident 'no-such-fire' was not reported"),
    ({"do": "start_improvement", "improvement": "nothing", "at": "2022-02-17T09:00"},
     "improvement 'nothing' was not planned"),
    ({**PLAN, "due": "2022-02-16T09:00"}, "must be after the item is planned"),
    ({**PLAN, "review": "community/2022-Q1"}, "is not a review key"),
    ({k: v for k, v in PLAN.items() if k != "incident"} | {
        "review": f"community/{uuid4()}/all time"}, "the review is of community"),
])
def test_refused_improvement_actions_name_the_key_and_record_nothing(
        memory_engine: Engine, action: dict[str, Any], message: str) -> None:
    """An unknown incident or item key, or a refused command, fails the whole file."""
    with pytest.raises(ScenarioError, match=message):
        replay(memory_engine, parse_scenario(_scenario([action])))
    assert recorded(memory_engine) == 0
