"""Hazards through the engine: found (checked against the community's areas, numbered like
orders), assigned, rectified, verified by someone else, closed, reopened, and linked both
ways to the order, item and incident that came of them; every refusal raises a documented
error and records nothing."""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from resilience import (
    Actor,
    AssigneeKind,
    Engine,
    Hazard,
    HazardCategory,
    HazardStatus,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    ManualClock,
    NotFoundError,
    PermissionDeniedError,
    Role,
    Severity,
    hazard_id_for,
)
from resilience.domain.base import Context
from stateful_support import recorded, refused
from test_patrols import DAY, HOUR, LI, WU, ZHANG, World, policed, setup, walk, world

from conftest import OFFICE, T0

__all__ = ["policed", "world"]  # fixtures shared with test_patrols

DUE = T0 + 7 * DAY
PROVIDER = Actor("prov-1", Role.PROVIDER)
SPOT = Location(building="30", unit="1", floor=-1, description="basement storage room")


def find(engine: Engine, community: UUID, *, at: datetime = T0, **overrides: Any) -> UUID:
    """Wu finds cardboard piled in unit 30/1's storage room at ``at`` (or as ``overrides``
    say); return the hazard's id."""
    hazard: UUID = found(engine, community, at=at, **overrides).aggregate_id
    return hazard


def found(engine: Engine, community: UUID, *, at: datetime = T0, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "location": SPOT, "category": "clutter", "severity": "high",
        "description": "cardboard piled to the ceiling", "actor": WU, "occurred_at": at}
    arguments.update(overrides)
    return engine.hazards.find(community, **arguments)


def names(engine: Engine, aggregate: UUID) -> list[str]:
    return [type(event).__name__ for event in engine.events(aggregate)]


# Finding ------------------------------------------------------------------------------------


def test_a_hazard_found_keeps_what_was_found_and_is_numbered_in_its_own_series(
        engine: Engine) -> None:
    """find records Found with the location's grid filled in, and a reference of the H
    series (DH-2022-H0001, H0002...), apart from the incidents' and orders' numbers."""
    donghu, _ = setup(engine)
    first = found(engine, donghu, photo="photos/0215-1.jpg")
    assert (first.reference, first.first_version, first.last_version) == ("DH-2022-H0001", 1, 1)
    hazard = engine.hazards.get(first.aggregate_id)
    assert names(engine, hazard.id) == ["Found"]
    assert hazard.location == Location(grid="3", building="30", unit="1", floor=-1,
                                       description="basement storage room")
    assert (hazard.community_id, hazard.category, hazard.severity, hazard.status) == (
        donghu, HazardCategory.CLUTTER, Severity.HIGH, HazardStatus.OPEN)
    assert (hazard.photo, hazard.patrol_id, hazard.reference, hazard.found_at) == (
        "photos/0215-1.jpg", None, "DH-2022-H0001", T0)
    second = found(engine, donghu, location=Location(grid="4"), category="ebike_charging",
                   severity="critical", description="", photo="photos/0215-2.jpg", actor=LI)
    assert second.reference == "DH-2022-H0002"
    fire = engine.incidents.report(donghu, incident_type="fire", severity="high",
                                   location=SPOT, description="smoke", actor=OFFICE)
    assert fire.reference == "DH-2022-0001"


@pytest.mark.parametrize(("location", "error", "match"), [
    (Location(building="99"), NotFoundError, "no area '99'"),
    (Location(building="30", unit="9"), NotFoundError, "no area '30/9'"),
    (Location(unit="1"), InvalidInputError, "needs its building"),
    (Location(), InvalidInputError, "names its grid or building"),
    (Location(grid="4", building="30"), InvalidInputError, "grid 3, not 4"),
    (Location(grid="30"), InvalidInputError, "not a grid"),
    (Location(grid="3a"), InvalidInputError, "not a grid"),
    (Location(grid="9"), NotFoundError, "no area '9'"),
    (Location(building="3a"), InvalidInputError, "not a building"),
    (Location(building="3"), InvalidInputError, "not a building"),
    ("30/1", InvalidInputError, "must be a Location"),
])
def test_the_location_is_checked_against_the_communitys_areas(
        world: World, memory_engine: Engine, location: Any, error: type[Exception],
        match: str) -> None:
    """The grid must be a grid, the building a building inside it, the unit one of the
    building's: else refused, recording nothing (no number taken either)."""
    refused(memory_engine, error,  # type: ignore[arg-type]
            lambda: find(memory_engine, world.donghu, location=location), match=match)
    assert found(memory_engine, world.donghu).reference == "DH-2022-H0001"


@pytest.mark.parametrize(("overrides", "error", "match"), [
    ({"category": "fire"}, InvalidInputError, "category"),
    ({"severity": "dire"}, InvalidInputError, "severity"),
    ({"description": " ", "photo": None}, InvalidInputError, "description or a photo"),
    ({"photo": " "}, InvalidInputError, "photo"),
    ({"hazard_id": "h-1"}, InvalidInputError, "hazard_id"),
    ({"patrol_id": "p-1"}, InvalidInputError, "patrol_id"),
])
def test_what_a_hazard_says_is_checked(world: World, memory_engine: Engine,
                                       overrides: dict[str, Any], error: type[Exception],
                                       match: str) -> None:
    refused(memory_engine, error,  # type: ignore[arg-type]
            lambda: find(memory_engine, world.donghu, **overrides), match=match)


def test_a_hazard_found_on_a_patrol_names_a_patrol_of_its_community_and_grid(
        world: World, memory_engine: Engine) -> None:
    """``patrol_id`` must name a patrol of the community walked in the hazard's grid."""
    engine = memory_engine
    patrol = walk(engine, world.donghu, at=T0 - HOUR)
    hazard = engine.hazards.get(find(engine, world.donghu, patrol_id=patrol))
    assert hazard.patrol_id == patrol
    in_4 = walk(engine, world.donghu, grid="4", visits=["40"], actor=LI)
    refused(engine, InvalidInputError,
            lambda: find(engine, world.donghu, patrol_id=in_4), match="grid 4, not in")
    elsewhere = walk(engine, world.other, visits=["30"])
    refused(engine, NotFoundError, lambda: find(engine, world.donghu, patrol_id=elsewhere),
            match="has no patrol")
    refused(engine, NotFoundError, lambda: find(engine, world.donghu, patrol_id=uuid4()))
    refused(engine, NotFoundError,
            lambda: find(engine, world.donghu, patrol_id=hazard.id), match="not a patrol")


def test_a_hazard_of_an_unknown_community_is_refused(memory_engine: Engine) -> None:
    refused(memory_engine, NotFoundError, lambda: find(memory_engine, uuid4()))


# Its life -----------------------------------------------------------------------------------


def test_a_hazard_is_assigned_rectified_verified_by_another_and_reopened(
        engine: Engine) -> None:
    """assign, rectify, verify (not by the rectifier), reopen (the assignee kept), close:
    each one fact, the status following."""
    donghu, _ = setup(engine)
    hazard = find(engine, donghu)
    hazards = engine.hazards
    hazards.assign(hazard, assignee_kind="household", assignee="hh-30-1-101", due=DUE,
                   actor=WU, occurred_at=T0 + HOUR)
    hazards.assign(hazard, assignee_kind=AssigneeKind.PROPERTY_COMPANY, assignee="prop-co",
                   due=DUE + DAY, actor=ZHANG, occurred_at=T0 + 2 * HOUR)
    stands = hazards.get(hazard)
    assert (stands.status, stands.assignee_kind, stands.assignee, stands.due) == (
        HazardStatus.ASSIGNED, AssigneeKind.PROPERTY_COMPANY, "prop-co", DUE + DAY)
    hazards.rectify(hazard, "storage room cleared", actor=WU, occurred_at=T0 + 2 * DAY)
    assert hazards.get(hazard).rectified_by == "wu"
    refused(engine, InvalidTransitionError,
            lambda: hazards.verify(hazard, actor=WU, occurred_at=T0 + 3 * DAY),
            match="someone other than the person who rectified it")
    hazards.verify(hazard, "checked: clear", actor=ZHANG, occurred_at=T0 + 3 * DAY)
    assert hazards.get(hazard).status is HazardStatus.VERIFIED
    hazards.reopen(hazard, "cardboard is back", actor=ZHANG, occurred_at=T0 + 10 * DAY)
    stands = hazards.get(hazard)
    assert (stands.status, stands.reopen_count, stands.assignee, stands.rectified_by) == (
        HazardStatus.OPEN, 1, "prop-co", None)
    hazards.add_note(hazard, "the company was called", actor=WU, occurred_at=T0 + 10 * DAY)
    hazards.close(hazard, "the storage room was demolished", actor=OFFICE,
                  occurred_at=T0 + 12 * DAY)
    assert hazards.get(hazard).status is HazardStatus.CLOSED
    assert names(engine, hazard) == ["Found", "Assigned", "Assigned", "Rectified", "Verified",
                                     "Reopened", "NoteAdded", "Closed"]


def test_what_the_life_of_a_hazard_refuses(world: World, memory_engine: Engine) -> None:
    """Out-of-turn steps are InvalidTransitionError; bad values InvalidInputError; unknown
    hazards NotFoundError: each recording nothing."""
    engine, hazards = memory_engine, memory_engine.hazards
    hazard = find(engine, world.donghu)
    order = engine.orders.place(world.donghu, household_id="hh", area_id="30/1",
                                category="home", item="repair", actor=OFFICE).aggregate_id
    cases: list[tuple[type[Exception], Any, str]] = [
        (InvalidTransitionError, lambda: hazards.verify(hazard, actor=ZHANG), "open"),
        (InvalidTransitionError, lambda: hazards.reopen(hazard, "again", actor=ZHANG), "open"),
        (InvalidInputError, lambda: hazards.assign(
            hazard, assignee_kind="landlord", assignee="x", due=DUE, actor=WU), "assignee_kind"),
        (InvalidInputError, lambda: hazards.assign(
            hazard, assignee_kind="household", assignee=" ", due=DUE, actor=WU), "assignee"),
        (InvalidInputError, lambda: hazards.assign(
            hazard, assignee_kind="household", assignee="hh", due=T0, actor=WU),
         "after the hazard was found"),
        (InvalidInputError, lambda: hazards.close(hazard, "", actor=ZHANG), "reason"),
        (InvalidInputError, lambda: hazards.add_note(hazard, "", actor=ZHANG), "text"),
        (NotFoundError, lambda: hazards.rectify(uuid4(), actor=WU), "no hazard"),
        (NotFoundError, lambda: hazards.rectify(order, actor=WU), "not a hazard"),
        (InvalidInputError, lambda: hazards.rectify("h", actor=WU), "hazard id"),  # type: ignore[arg-type]
    ]
    for error, command, match in cases:
        refused(engine, error, command, match=match)  # type: ignore[arg-type]
    hazards.rectify(hazard, actor=WU, occurred_at=T0 + DAY)
    refused(engine, InvalidTransitionError, lambda: hazards.rectify(hazard, actor=ZHANG),
            match="rectified")
    refused(engine, InvalidTransitionError,
            lambda: hazards.assign(hazard, assignee_kind="household", assignee="hh", due=DUE,
                                   actor=WU), match="rectified")
    hazards.verify(hazard, actor=ZHANG, occurred_at=T0 + 2 * DAY)
    refused(engine, InvalidTransitionError, lambda: hazards.close(hazard, "x", actor=ZHANG),
            match="verified")


def test_a_repeated_command_id_records_nothing_and_answers_the_first_receipt(
        world: World, memory_engine: Engine) -> None:
    """find (its reference too), assign and a link repeated under their command ids record
    nothing and return their first receipts; the hazard's id comes from the command id."""
    engine = memory_engine
    first = found(engine, world.donghu, command_id="h-1")
    assert first.aggregate_id == hazard_id_for(world.donghu, "h-1")
    assigning: dict[str, Any] = {"assignee_kind": "provider", "assignee": "prov-1",
                                 "due": DUE, "actor": WU, "command_id": "a-1"}
    assigned = engine.hazards.assign(first.aggregate_id, **assigning)
    order = engine.orders.place(world.donghu, household_id="hh", area_id="30/1",
                                category="home", item="repair", actor=OFFICE).aggregate_id
    linked = engine.hazards.link_order(first.aggregate_id, order, actor=WU, command_id="l-1")
    before = recorded(engine)
    again = found(engine, world.donghu, command_id="h-1")
    assert (again, again.reference, again.repeated) == (first, "DH-2022-H0001", True)
    assert engine.hazards.assign(first.aggregate_id, **assigning) == assigned
    assert engine.hazards.link_order(first.aggregate_id, order, actor=WU,
                                     command_id="l-1") == linked
    assert recorded(engine) == before
    chosen = uuid4()
    assert find(engine, world.donghu, hazard_id=chosen) == chosen


def test_corrections_of_a_hazards_facts(world: World, memory_engine: Engine) -> None:
    """correct_time and correct_details, inherited, correct the hazard's facts."""
    hazards = memory_engine.hazards
    hazard = find(memory_engine, world.donghu)
    hazards.correct_time(hazard, 1, T0 - HOUR, "the patrol sheet says 14:00", actor=OFFICE)
    hazards.correct_details(hazard, 1, "cardboard and a sofa", "seen again", actor=OFFICE)
    assert hazards.get(hazard).found_at == T0 - HOUR
    refused(memory_engine, NotFoundError,
            lambda: hazards.correct_time(hazard, 7, T0, "no such fact", actor=OFFICE),
            match="no fact at version 7")


def test_a_hazard_recorded_without_a_reference_is_given_the_next(
        world: World, memory_engine: Engine) -> None:
    """assign_reference gives the next number of the year the hazard was found; once."""
    engine = memory_engine
    find(engine, world.donghu)
    ctx = Context(OFFICE, T0, T0)
    legacy = Hazard.find(ctx, hazard_id=uuid4(), community_id=world.donghu,
                         location=Location(grid="3"), category="gas", severity="low",
                         description="a smell of gas")
    engine.app.save(legacy)
    receipt = engine.hazards.assign_reference(legacy.id, actor=OFFICE)
    assert receipt.reference == "DH-2022-H0002"
    assert engine.hazards.get(legacy.id).reference == "DH-2022-H0002"
    refused(engine, InvalidTransitionError,
            lambda: engine.hazards.assign_reference(legacy.id, actor=OFFICE), match="already")


# Links ----------------------------------------------------------------------------------------


def _work(engine: Engine, community: UUID, area: str = "30/1") -> tuple[UUID, UUID, UUID]:
    """An order placed in ``area``, an improvement item of grid 3 and an incident in 30/1."""
    order = engine.orders.place(community, household_id="hh", area_id=area, category="home",
                                item="repair", actor=OFFICE, occurred_at=T0).aggregate_id
    item = engine.improvements.plan(
        community, review=f"community/{community}/all time", action="add storage rooms to "
        "the monthly check", owner="zhang", due=T0 + 30 * DAY, grid="3", actor=OFFICE,
        occurred_at=T0).aggregate_id
    incident = engine.incidents.report(community, incident_type="fire", severity="high",
                                       location=SPOT, description="smoke", actor=OFFICE,
                                       occurred_at=T0 + DAY).aggregate_id
    return order, item, incident


def test_a_hazard_is_linked_both_ways_in_one_transaction(engine: Engine) -> None:
    """link_order, link_improvement and link_incident each record the link on the hazard
    and FromHazard on the other side, the receipt the hazard's with its position."""
    donghu, _ = setup(engine)
    hazard = find(engine, donghu)
    order, item, incident = _work(engine, donghu)
    receipts = [
        engine.hazards.link_order(hazard, order, actor=WU, occurred_at=T0 + 2 * DAY),
        engine.hazards.link_improvement(hazard, item, actor=ZHANG, occurred_at=T0 + 2 * DAY),
        engine.hazards.link_incident(hazard, incident, actor=ZHANG, occurred_at=T0 + 2 * DAY),
    ]
    assert [(r.aggregate_id, r.first_version) for r in receipts] == [
        (hazard, 2), (hazard, 3), (hazard, 4)]
    assert all(r.position is not None for r in receipts)
    stands = engine.hazards.get(hazard)
    assert (stands.orders, stands.items, stands.incidents) == ({order}, {item}, {incident})
    assert names(engine, hazard)[1:] == ["LinkedToOrder", "LinkedToImprovement",
                                         "LinkedToIncident"]
    for other in (order, item, incident):
        assert names(engine, other)[-1] == "FromHazard"
    assert engine.orders.get(order).hazard_id == hazard
    assert engine.improvements.get(item).hazard_id == hazard
    assert engine.incidents.get(incident).hazard_id == hazard


def test_what_a_link_refuses(world: World, memory_engine: Engine, clock: ManualClock) -> None:
    """Another kind, another community's, a side linked already (to this hazard or
    another), a command id the other side used: refused, neither side recording."""
    engine, hazards = memory_engine, memory_engine.hazards
    hazard, second = find(engine, world.donghu), find(engine, world.donghu)
    order, item, incident = _work(engine, world.donghu)
    clock.set(T0 + 2 * DAY)  # links dated after the incident
    theirs = engine.orders.place(world.other, household_id="hh", area_id="30/1",
                                 category="home", item="repair", actor=OFFICE).aggregate_id
    engine.orders.accept(order, actor=OFFICE, command_id="taken")
    cases: list[tuple[type[Exception], Any, str]] = [
        (NotFoundError, lambda: hazards.link_order(hazard, uuid4(), actor=WU), "no service"),
        (NotFoundError, lambda: hazards.link_order(hazard, item, actor=WU), "not a service"),
        (NotFoundError, lambda: hazards.link_improvement(hazard, order, actor=WU), "not an"),
        (NotFoundError, lambda: hazards.link_incident(hazard, second, actor=WU), "not an"),
        (NotFoundError, lambda: hazards.link_order(hazard, theirs, actor=WU),
         "in the hazard's community"),
        (InvalidInputError, lambda: hazards.link_order(hazard, "order", actor=WU),  # type: ignore[arg-type]
         "order_id"),
        (InvalidInputError, lambda: hazards.link_order(hazard, order, actor=WU,
                                                       command_id="taken"),
         "a link needs one of its own"),
    ]
    for error, command, match in cases:
        refused(engine, error, command, match=match)  # type: ignore[arg-type]
    hazards.link_order(hazard, order, actor=WU)
    refused(engine, InvalidTransitionError, lambda: hazards.link_order(hazard, order, actor=WU),
            match="already")
    refused(engine, InvalidTransitionError, lambda: hazards.link_order(second, order, actor=WU),
            match="came from hazard")
    hazards.link_incident(second, incident, actor=ZHANG)
    refused(engine, InvalidTransitionError,
            lambda: hazards.link_incident(hazard, incident, actor=ZHANG), match="already")
    assert engine.orders.get(order).hazard_id == hazard
    assert engine.improvements.get(item).hazard_id is None


def test_a_finished_hazard_takes_links(world: World, memory_engine: Engine) -> None:
    """A link follows the closure: recorded on a verified hazard and a closed incident."""
    engine, hazards = memory_engine, memory_engine.hazards
    hazard = find(engine, world.donghu)
    hazards.rectify(hazard, actor=WU, occurred_at=T0 + HOUR)
    hazards.verify(hazard, actor=ZHANG, occurred_at=T0 + 2 * HOUR)
    _, item, incident = _work(engine, world.donghu)
    engine.incidents.close(incident, "false_alarm", actor=OFFICE, occurred_at=T0 + 2 * DAY)
    hazards.link_incident(hazard, incident, actor=ZHANG, occurred_at=T0 + 3 * DAY)
    hazards.link_improvement(hazard, item, actor=ZHANG, occurred_at=T0 + 3 * DAY)
    assert hazards.get(hazard).incidents == {incident}


def test_a_link_inside_a_batch_is_the_batchs(world: World, memory_engine: Engine) -> None:
    """In a batch, both sides are held with the batch's other facts: a batch that fails
    records neither; a refused link leaves no half of it in the batch."""
    engine = memory_engine
    hazard = find(engine, world.donghu)
    order, item, _ = _work(engine, world.donghu)
    before = recorded(engine)

    def failed_import() -> None:
        with engine.batch():
            engine.hazards.link_order(hazard, order, actor=WU)
            raise RuntimeError("the import failed")

    with pytest.raises(RuntimeError):
        failed_import()
    assert recorded(engine) == before
    with engine.batch():
        engine.hazards.link_order(hazard, order, actor=WU)
        with pytest.raises(NotFoundError):
            engine.hazards.link_improvement(hazard, uuid4(), actor=WU)
        engine.hazards.link_improvement(hazard, item, actor=ZHANG)
    assert names(engine, hazard)[1:] == ["LinkedToOrder", "LinkedToImprovement"]


# Who may -----------------------------------------------------------------------------------


def test_the_grids_people_find_and_fix_its_hazards_and_a_provider_its_own(
        policed: tuple[Engine, World]) -> None:
    """Grid 3's leader and worker find, assign, verify; Li (grid 4) may not; the provider
    a hazard is assigned to rectifies it, and no other provider; nobody verifies their own
    rectification, whatever their rights."""
    engine, world = policed
    hazards = engine.hazards
    hazard = find(engine, world.donghu)
    refused(engine, PermissionDeniedError, lambda: find(engine, world.donghu, actor=LI),
            match="li is not grid worker")
    find(engine, world.donghu, actor=LI, location=Location(building="40"))
    refused(engine, PermissionDeniedError,
            lambda: hazards.assign(hazard, assignee_kind="provider", assignee="prov-1",
                                   due=DUE, actor=LI))
    hazards.assign(hazard, assignee_kind="provider", assignee="prov-1", due=DUE, actor=WU,
                   occurred_at=T0 + HOUR)
    refused(engine, PermissionDeniedError,
            lambda: hazards.rectify(hazard, actor=Actor("prov-2", Role.PROVIDER)))
    hazards.rectify(hazard, "cleared", actor=PROVIDER, occurred_at=T0 + DAY)
    refused(engine, PermissionDeniedError, lambda: hazards.verify(hazard, actor=PROVIDER))
    hazards.verify(hazard, actor=WU, occurred_at=T0 + 2 * DAY)
    second = find(engine, world.donghu)
    hazards.rectify(second, actor=ZHANG, occurred_at=T0 + DAY)
    refused(engine, InvalidTransitionError, lambda: hazards.verify(second, actor=ZHANG))


def test_a_link_needs_the_right_on_both_sides(policed: tuple[Engine, World]) -> None:
    """Wu (grid 3's worker) links an order of grid 3 to a hazard of grid 3, not an order of
    grid 4; and no improvement item (only the grid's leader or staff link those)."""
    engine, world = policed
    hazard = find(engine, world.donghu)
    order, item, _ = _work(engine, world.donghu)
    far, _, _ = _work(engine, world.donghu, area="40/1")
    refused(engine, PermissionDeniedError,
            lambda: engine.hazards.link_order(hazard, far, actor=WU), match="the order")
    refused(engine, PermissionDeniedError,
            lambda: engine.hazards.link_improvement(hazard, item, actor=WU))
    engine.hazards.link_order(hazard, order, actor=WU)
    engine.hazards.link_improvement(hazard, item, actor=ZHANG)
