"""Patrols and patrol plans through the engine: what a patrol covered is checked against the
community's areas (buildings and units inside its grid), a grid's plan is adopted then
revised with a reason; every refusal raises a documented error and records nothing."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID, uuid4

import pytest

from resilience import (
    Actor,
    Engine,
    Frequency,
    InvalidInputError,
    InvalidTransitionError,
    ManualClock,
    NotFoundError,
    Patrol,
    PatrolPlan,
    PatrolRule,
    PatrolVisit,
    PermissionDeniedError,
    Role,
    UnitSpec,
    patrol_id_for,
    patrol_plan_id,
)
from stateful_support import recorded, refused

from conftest import DONGHU, OFFICE, T0

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
ZHANG = Actor("zhang", Role.GRID_LEADER)
"""Grid leader of grid 3."""
WU = Actor("wu", Role.GRID_WORKER)
"""Grid worker of grid 3."""
LI = Actor("li", Role.GRID_WORKER)
"""Grid worker of grid 4."""
WEEKLY = PatrolRule("every building", Frequency.WEEKLY)
STORAGE = PatrolRule("storage rooms", Frequency.MONTHLY, spot="storage_room", areas=("30",))


class World(NamedTuple):
    donghu: UUID
    """Donghu (code DH): grid 3 with micro-grid 3a and building 30 in it (units 1 and
    2); grid 4 with building 40 (unit 1); Zhang leads grid 3, Wu and Li work grids 3
    and 4."""
    other: UUID
    """Xiangyang: grid 3 with building 30 (unit 1)."""


def setup(engine: Engine) -> World:
    """The two communities, registered a month before T0."""
    c = engine.communities
    at = T0 - 30 * DAY
    donghu = c.register(**DONGHU, actor=OFFICE, occurred_at=at).aggregate_id
    c.set_code(donghu, "DH", actor=OFFICE, occurred_at=at)
    for grid in ("3", "4"):
        c.add_grid(donghu, grid, actor=OFFICE, occurred_at=at)
    c.add_micro_grid(donghu, "3a", "3", actor=OFFICE, occurred_at=at)
    c.add_building(donghu, "30", "3a", [UnitSpec("1", 24), UnitSpec("2", 12)], actor=OFFICE,
                   occurred_at=at)
    c.add_building(donghu, "40", "4", [UnitSpec("1", 10)], actor=OFFICE, occurred_at=at)
    for person, role, scope in (("zhang", Role.GRID_LEADER, "3"), ("wu", Role.GRID_WORKER, "3"),
                                ("li", Role.GRID_WORKER, "4")):
        c.enrol(donghu, person, person.title(), actor=OFFICE, occurred_at=at)
        c.assign_role(donghu, person, role, scope, actor=OFFICE, occurred_at=at)
    other = c.register(district="Taishan", subdistrict="Daimiao", name="Xiangyang",
                       actor=OFFICE, occurred_at=at).aggregate_id
    c.add_grid(other, "3", actor=OFFICE, occurred_at=at)
    c.add_building(other, "30", "3", [UnitSpec("1", 5)], actor=OFFICE, occurred_at=at)
    return World(donghu, other)


@pytest.fixture
def engine(shared_store_url: str, clock: ManualClock) -> Iterator[Engine]:
    """An engine on SQLite and on PostgreSQL (where a server answers), no policy."""
    with Engine(shared_store_url, clock=clock, policy=None) as opened:
        yield opened


@pytest.fixture
def world(memory_engine: Engine) -> World:
    return setup(memory_engine)


@pytest.fixture
def policed(clock: ManualClock) -> Iterator[tuple[Engine, World]]:
    """An in-memory engine under the default policy, with the two communities."""
    with Engine("memory:", clock=clock) as opened:
        yield opened, setup(opened)


def walk(engine: Engine, community: UUID, *, at: datetime = T0, **overrides: Any) -> UUID:
    """Record Wu's patrol of grid 3 from ``at``, an hour long, through building 30 and its
    unit 1's storage room (or as ``overrides`` say); return its id."""
    arguments: dict[str, Any] = {
        "grid": "3", "ended_at": at + HOUR,
        "visits": ["30", PatrolVisit("30/1", ("storage_room",))],
        "findings": "clutter in the storage room", "actor": WU, "occurred_at": at}
    arguments.update(overrides)
    return engine.patrols.record(community, **arguments).aggregate_id


# Recording a patrol --------------------------------------------------------------------------


def test_a_patrol_records_its_grid_times_visits_and_findings(engine: Engine) -> None:
    """record keeps one Recorded fact; an area id given as a visit is a visit with no spots."""
    donghu, _ = setup(engine)
    patrol = walk(engine, donghu)
    (fact,) = engine.events(patrol)
    assert isinstance(fact, Patrol.Recorded)
    walked = engine.patrols.get(patrol)
    assert (walked.community_id, walked.grid, walked.started_at, walked.ended_at) == (
        donghu, "3", T0, T0 + HOUR)
    assert walked.visits == (PatrolVisit("30"), PatrolVisit("30/1", ("storage_room",)))
    assert walked.findings == "clutter in the storage room"


def test_a_patrol_that_visited_nothing_is_recorded(world: World,
                                                   memory_engine: Engine) -> None:
    """No visits is no refusal: the data-quality report flags such a patrol instead."""
    patrol = walk(memory_engine, world.donghu, visits=())
    assert memory_engine.patrols.get(patrol).visits == ()


@pytest.mark.parametrize(("overrides", "error", "match"), [
    ({"grid": "9"}, NotFoundError, "no area '9'"),
    ({"grid": "30"}, InvalidInputError, "not a grid"),
    ({"grid": "3a"}, InvalidInputError, "not a grid"),
    ({"grid": ""}, InvalidInputError, "grid"),
    ({"visits": ["40"]}, InvalidInputError, "not in grid 3"),
    ({"visits": ["40/1"]}, InvalidInputError, "not in grid 3"),
    ({"visits": ["3a"]}, InvalidInputError, "not a building or unit"),
    ({"visits": ["3"]}, InvalidInputError, "not a building or unit"),
    ({"visits": ["31"]}, NotFoundError, "no area '31'"),
    ({"visits": ["30/9"]}, NotFoundError, "no area"),
    ({"visits": "30"}, InvalidInputError, "list or tuple"),
    ({"visits": [30]}, InvalidInputError, "PatrolVisit or an area id"),
    ({"visits": [""]}, InvalidInputError, "visits"),
    ({"ended_at": T0}, InvalidInputError, "ends after it starts"),
    ({"ended_at": T0 + DAY + HOUR}, InvalidInputError, "within 24 hours"),
    ({"patrol_id": "not an id"}, InvalidInputError, "patrol_id"),
])
def test_what_a_patrol_names_is_checked_against_the_community(
        world: World, memory_engine: Engine, overrides: dict[str, Any],
        error: type[Exception], match: str) -> None:
    """The grid must be a grid, each visit a building or unit inside it, the end within a
    day after the start: else refused, recording nothing."""
    refused(memory_engine, error,  # type: ignore[arg-type]
            lambda: walk(memory_engine, world.donghu, **overrides), match=match)


def test_a_patrol_of_an_unknown_community_is_refused(memory_engine: Engine) -> None:
    refused(memory_engine, NotFoundError, lambda: walk(memory_engine, uuid4()))


def test_a_repeated_patrol_command_records_nothing(world: World,
                                                   memory_engine: Engine) -> None:
    """The same command id returns the first receipt; the id comes from it."""
    first = memory_engine.patrols.record(world.donghu, grid="3", ended_at=T0 + HOUR,
                                         actor=WU, occurred_at=T0, command_id="walk-1")
    before = recorded(memory_engine)
    again = memory_engine.patrols.record(world.donghu, grid="3", ended_at=T0 + HOUR,
                                         actor=WU, occurred_at=T0, command_id="walk-1")
    assert again == first
    assert again.repeated
    assert recorded(memory_engine) == before
    assert first.aggregate_id == patrol_id_for(world.donghu, "walk-1")
    chosen = uuid4()
    assert walk(memory_engine, world.donghu, patrol_id=chosen) == chosen


# Corrections of a patrol ---------------------------------------------------------------------


def test_coverage_and_end_are_corrected_as_facts(engine: Engine) -> None:
    """correct_coverage replaces the visits (checked as record checks them), correct_end
    the end; a note, a time correction: each a fact of its own."""
    donghu, _ = setup(engine)
    patrol = walk(engine, donghu)
    patrols = engine.patrols
    patrols.correct_coverage(patrol, ["30/2"], "unit 2 was visited, not unit 1", actor=WU,
                             occurred_at=T0 + 2 * HOUR)
    patrols.correct_end(patrol, T0 + 3 * HOUR, "the sheet says 18:00", actor=ZHANG,
                        occurred_at=T0 + 4 * HOUR)
    patrols.add_note(patrol, "the storage room was locked", actor=WU, occurred_at=T0 + 4 * HOUR)
    patrols.correct_time(patrol, 1, T0 - HOUR, "started earlier", actor=OFFICE)
    walked = patrols.get(patrol)
    assert walked.visits == (PatrolVisit("30/2"),)
    assert (walked.started_at, walked.ended_at) == (T0 - HOUR, T0 + 3 * HOUR)
    assert [type(e).__name__ for e in engine.events(patrol)] == [
        "Recorded", "CoverageCorrected", "EndCorrected", "NoteAdded", "TimeCorrected"]


def test_corrections_of_a_patrol_are_checked(world: World, memory_engine: Engine) -> None:
    """Coverage outside the grid, coverage or end as they stand, an end out of range, a
    blank reason: refused, recording nothing."""
    patrol = walk(memory_engine, world.donghu)
    patrols = memory_engine.patrols
    cases: list[tuple[type[Exception], Any, str]] = [
        (InvalidInputError, lambda: patrols.correct_coverage(patrol, ["40"], "r", actor=WU),
         "not in grid 3"),
        (NotFoundError, lambda: patrols.correct_coverage(patrol, ["99"], "r", actor=WU), "99"),
        (InvalidTransitionError, lambda: patrols.correct_coverage(
            patrol, ["30", PatrolVisit("30/1", ("storage_room",))], "r", actor=WU),
         "already"),
        (InvalidInputError, lambda: patrols.correct_coverage(patrol, ["30"], " ", actor=WU),
         "reason"),
        (InvalidTransitionError, lambda: patrols.correct_end(patrol, T0 + HOUR, "r", actor=WU),
         "already"),
        (InvalidInputError, lambda: patrols.correct_end(patrol, T0 - HOUR, "r", actor=WU),
         "ends after it starts"),
        (NotFoundError, lambda: patrols.add_note(uuid4(), "x", actor=WU), "no patrol"),
    ]
    for error, command, match in cases:
        refused(memory_engine, error, command, match=match)  # type: ignore[arg-type]


# Plans -----------------------------------------------------------------------------------------


def test_a_grid_adopts_a_plan_then_revises_it_with_a_reason(engine: Engine) -> None:
    """The first adopt_plan adopts (the plan's id is the grid's), a later one revises; the
    rules in force are those of the latest version dated by then."""
    donghu, _ = setup(engine)
    patrols = engine.patrols
    assert patrols.plan(donghu, "3") is None
    adopted = patrols.adopt_plan(donghu, "3", [WEEKLY], actor=ZHANG, occurred_at=T0 - 10 * DAY)
    assert adopted.aggregate_id == patrol_plan_id(donghu, "3")
    revised = patrols.adopt_plan(donghu, "3", (WEEKLY, STORAGE), actor=ZHANG,
                                 reason="storage rooms added after the fire",
                                 occurred_at=T0 + DAY)
    assert (revised.aggregate_id, revised.first_version) == (adopted.aggregate_id, 2)
    plan = patrols.plan(donghu, "3")
    assert isinstance(plan, PatrolPlan)
    assert (plan.community_id, plan.grid, plan.rules) == (donghu, "3", (WEEKLY, STORAGE))
    assert plan.rules_at(T0) == (WEEKLY,)
    assert plan.rules_at(T0 - 20 * DAY) == ()
    assert [type(e).__name__ for e in engine.events(plan.id)] == ["Adopted", "Revised"]
    assert patrols.plan(donghu, "4") is None


def test_a_plan_is_checked_against_the_grid(world: World, memory_engine: Engine) -> None:
    """The grid must be a grid; each rule's areas buildings or units inside it; the rules a
    non-empty list of PatrolRule with unique names; a revision needs its reason."""
    patrols, donghu = memory_engine.patrols, world.donghu
    outside = PatrolRule("outside", Frequency.DAILY, areas=("40",))
    cases: list[tuple[type[Exception], Any, str]] = [
        (NotFoundError, lambda: patrols.adopt_plan(donghu, "9", [WEEKLY], actor=ZHANG), "9"),
        (InvalidInputError, lambda: patrols.adopt_plan(donghu, "30", [WEEKLY], actor=ZHANG),
         "not a grid"),
        (InvalidInputError, lambda: patrols.adopt_plan(donghu, "3", [outside], actor=ZHANG),
         "not in grid 3"),
        (InvalidInputError, lambda: patrols.adopt_plan(donghu, "3", [], actor=ZHANG),
         "at least one rule"),
        (InvalidInputError, lambda: patrols.adopt_plan(donghu, "3", [WEEKLY, WEEKLY],
                                                       actor=ZHANG), "unique"),
        (InvalidInputError, lambda: patrols.adopt_plan(donghu, "3", ["weekly"],  # type: ignore[list-item]
                                                       actor=ZHANG),
         "PatrolRule"),
        (InvalidInputError, lambda: patrols.adopt_plan(donghu, "3", WEEKLY,  # type: ignore[arg-type]
                                                       actor=ZHANG),
         "list or tuple"),
        (NotFoundError, lambda: patrols.adopt_plan(uuid4(), "3", [WEEKLY], actor=ZHANG),
         "no community"),
    ]
    for error, command, match in cases:
        refused(memory_engine, error, command, match=match)  # type: ignore[arg-type]
    patrols.adopt_plan(donghu, "3", [WEEKLY, PatrolRule("units", Frequency.MONTHLY,
                                                        areas=("30/1", "30"))], actor=ZHANG)
    refused(memory_engine, InvalidInputError,
            lambda: patrols.adopt_plan(donghu, "3", [STORAGE], actor=ZHANG), match="reason")
    refused(memory_engine, InvalidInputError,
            lambda: patrols.adopt_plan(donghu, "3", [outside], reason="x", actor=ZHANG),
            match="not in grid 3")


def test_a_repeated_plan_command_records_nothing(world: World, memory_engine: Engine) -> None:
    """Adoption and revision repeated under their command ids return their first receipts."""
    patrols, donghu = memory_engine.patrols, world.donghu
    first = patrols.adopt_plan(donghu, "3", [WEEKLY], actor=ZHANG, command_id="plan-1")
    revised = patrols.adopt_plan(donghu, "3", [STORAGE], reason="r", actor=ZHANG,
                                 command_id="plan-2")
    before = recorded(memory_engine)
    assert patrols.adopt_plan(donghu, "3", [WEEKLY], actor=ZHANG, command_id="plan-1") == first
    assert patrols.adopt_plan(donghu, "3", [STORAGE], reason="r", actor=ZHANG,
                              command_id="plan-2") == revised
    assert recorded(memory_engine) == before


# Who may ----------------------------------------------------------------------------------------


def test_grid_workers_and_leaders_patrol_their_own_grid(
        policed: tuple[Engine, World]) -> None:
    """Wu (grid 3's worker) and Zhang (its leader) record patrols of grid 3; Li (grid 4's
    worker) may not; only the leader (or staff) adopts the grid's plan."""
    engine, world = policed
    walk(engine, world.donghu)
    walk(engine, world.donghu, actor=ZHANG)
    refused(engine, PermissionDeniedError, lambda: walk(engine, world.donghu, actor=LI),
            match="li is not grid worker")
    walk(engine, world.donghu, actor=LI, grid="4", visits=["40"])
    refused(engine, PermissionDeniedError,
            lambda: engine.patrols.adopt_plan(world.donghu, "3", [WEEKLY], actor=WU))
    refused(engine, PermissionDeniedError,
            lambda: engine.patrols.adopt_plan(world.donghu, "4", [WEEKLY], actor=ZHANG))
    engine.patrols.adopt_plan(world.donghu, "3", [WEEKLY], actor=ZHANG)
    engine.patrols.adopt_plan(world.donghu, "4", [WEEKLY], actor=OFFICE)


def test_a_patrols_record_is_corrected_by_its_walker_or_the_grids_leader(
        policed: tuple[Engine, World], clock: ManualClock) -> None:
    """Coverage and end correct the patrol's record: Wu corrects the patrol he recorded,
    Zhang any of his grid, within a day of its recording; Li, of another grid, none."""
    engine, world = policed
    patrol = walk(engine, world.donghu)
    patrols = engine.patrols
    refused(engine, PermissionDeniedError,
            lambda: patrols.correct_coverage(patrol, ["30/2"], "r", actor=LI))
    patrols.correct_coverage(patrol, ["30/2"], "unit 2", actor=WU)
    patrols.correct_end(patrol, T0 + 2 * HOUR, "the sheet", actor=ZHANG)
    clock.advance(2 * DAY)
    refused(engine, PermissionDeniedError,
            lambda: patrols.correct_coverage(patrol, ["30"], "late", actor=WU))
    patrols.correct_coverage(patrol, ["30"], "late", actor=OFFICE)


def test_a_refused_caller_learns_nothing_of_the_areas(policed: tuple[Engine, World]) -> None:
    """Who may record is decided on the grid named, before it is checked: an unknown grid
    is refused to Li as a permission, not as a missing area."""
    engine, world = policed
    refused(engine, PermissionDeniedError,
            lambda: walk(engine, world.donghu, actor=LI, grid="nowhere", visits=()))
