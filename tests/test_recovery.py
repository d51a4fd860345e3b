"""Linked recovery: the link as a fact on both sides, its refusals, and when an incident is
recovered (engine.recovery from the facts, detection_to_recovered from the views)."""

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from attrs import frozen
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from resilience import (
    Actor,
    ConflictError,
    Engine,
    Incident,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    ManualClock,
    NotFoundError,
    PermissionDeniedError,
    Provider,
    ResilienceError,
    Role,
    ScenarioError,
    ServiceOrder,
    UnitSpec,
)
from resilience.cli import main
from resilience.domain.improvement import ImprovementItem
from resilience.domain.recovery import RecoveryKind
from resilience.metrics.period import ALL_TIME
from resilience.metrics.recovery import RecoveryLink, linked_at, recovered_at
from resilience.projections.plan_items import PlanItem, plan_item
from resilience.scenario import parse_scenario, replay

from conftest import OFFICE, T0

OWNER = Actor("owner-501", Role.RESIDENT)
LOCKSMITH = Provider("alliance_member", "locksmith", "Taishan locksmith")
FITTER = Actor("locksmith", Role.PROVIDER)
HOUR = timedelta(hours=1)


@frozen
class Place:
    """A community with grid 3 (building 30) and the fire detected at T0 in it."""

    engine: Engine
    clock: ManualClock
    community: UUID
    fire: UUID

    def at(self, hours: float) -> datetime:
        """T0 + ``hours``, with the clock moved there (facts are never dated ahead of it)."""
        moment = T0 + timedelta(hours=hours)
        if moment > self.clock():
            self.clock.set(moment)
        return moment

    def order(self, hours: float, *, placer: Actor = OWNER, community: UUID | None = None
              ) -> UUID:
        return self.engine.orders.place(
            community or self.community, household_id="501", area_id="30/1",
            category="home", item="repair", actor=placer, occurred_at=self.at(hours),
        ).aggregate_id

    def item(self, hours: float, *, incident: UUID | None = None) -> UUID:
        return self.engine.improvements.plan(
            self.community, review=f"community/{self.community}/all time",
            action="clear the storage room", owner="p-3001", due=self.at(hours) + 48 * HOUR,
            actor=OFFICE, incident_id=incident, occurred_at=self.at(hours)).aggregate_id

    def link(self, linked: UUID, hours: float, incident: UUID | None = None,
             **kwargs: object) -> object:
        return self.engine.incidents.link_recovery(
            incident or self.fire, linked, purpose="repair the lock", actor=OFFICE,
            occurred_at=self.at(hours), **kwargs)  # type: ignore[arg-type]

    def finish(self, order: UUID, hours: float, *, rate: bool = True) -> None:
        """Accept, dispatch and complete the order (and the resident rates it)."""
        run = self.engine.orders
        run.accept(order, actor=OFFICE, occurred_at=self.at(hours))
        run.dispatch(order, LOCKSMITH, actor=OFFICE, occurred_at=self.at(hours))
        run.complete(order, "fixed", actor=FITTER, occurred_at=self.at(hours + 1))
        if rate:
            run.rate(order, 5, actor=OWNER, occurred_at=self.at(hours + 2))


def _community(engine: Engine, name: str) -> UUID:
    community = engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                            name=name, actor=OFFICE,
                                            occurred_at=T0 - timedelta(days=1)).aggregate_id
    engine.communities.add_grid(community, "3", actor=OFFICE)
    engine.communities.add_building(community, "30", "3", [UnitSpec("1", 24)], actor=OFFICE)
    return community


def _place(engine: Engine, clock: ManualClock) -> Place:
    community = _community(engine, "Donghu")
    fire = engine.incidents.report(
        community, incident_type="fire", severity="high",
        location=Location(building="30", unit="1"), description="smoke", actor=OFFICE,
        occurred_at=T0).aggregate_id
    return Place(engine, clock, community, fire)


@pytest.fixture
def place(memory_engine: Engine, clock: ManualClock) -> Place:
    return _place(memory_engine, clock)


def rejected(engine: Engine, aggregates: tuple[UUID, ...], error: type[ResilienceError],
             command: Callable[[], object], match: str | None = None) -> None:
    """Assert the command raises ``error`` and none of ``aggregates`` gained a fact."""
    before = [len(engine.events(a)) for a in aggregates]
    with pytest.raises(error, match=match):
        command()
    assert [len(engine.events(a)) for a in aggregates] == before


# The link ------------------------------------------------------------------------------


def test_a_link_is_a_fact_on_the_incident_and_on_the_order_recorded_together(
        engine: Engine, clock: ManualClock) -> None:
    """RecoveryLinked on the incident and LinkedToIncident on the order, one transaction:
    both at the link's time, the receipt the incident's with the position of the pair."""
    place = _place(engine, clock)
    order = place.order(1)
    head = engine.views.head
    receipt = engine.incidents.link_recovery(place.fire, order, purpose="repair the lock",
                                             actor=OFFICE, occurred_at=place.at(1.5))
    linked, = engine.events(place.fire)[receipt.first_version - 1:]
    other = engine.events(order)[-1]
    assert isinstance(linked, Incident.RecoveryLinked)
    assert (linked.linked_id, linked.linked_kind, linked.purpose) == (
        order, RecoveryKind.ORDER, "repair the lock")
    assert isinstance(other, ServiceOrder.LinkedToIncident)
    assert (other.incident_id, other.occurred_at) == (place.fire, linked.occurred_at)
    assert (receipt.aggregate_id, receipt.first_version) == (place.fire, 3)
    assert receipt.position == engine.views.head == head + 2
    assert engine.incidents.get(place.fire).recovery_links == {order: 3}
    assert engine.orders.get(order).recovery_of == place.fire


def test_a_repeated_link_records_nothing_and_returns_the_same_receipt(place: Place) -> None:
    """The command id makes the link idempotent, on both sides."""
    order = place.order(1)
    first = place.link(order, 1.5, command_id="link-1")
    counts = [len(place.engine.events(a)) for a in (place.fire, order)]
    assert place.link(order, 1.5, command_id="link-1") == first
    assert [len(place.engine.events(a)) for a in (place.fire, order)] == counts


def test_improvement_items_are_linked_too_and_a_done_item_after_its_completion(
        place: Place) -> None:
    """An item (of a community review, or of this incident's) links like an order, even
    once done: recovery follows the work, closed or not."""
    engine = place.engine
    item = place.item(1)
    engine.improvements.complete(item, actor=OFFICE, occurred_at=place.at(2))
    place.link(item, 3)
    assert engine.improvements.get(item).recovery_of == place.fire
    assert isinstance(engine.events(item)[-1], ImprovementItem.LinkedToIncident)
    own = place.item(4, incident=place.fire)
    place.link(own, 4)
    assert [link.kind for link in engine.recovery(place.fire).links] == [
        "improvement", "improvement"]


def test_a_closed_incident_takes_a_link_dated_after_its_closure_and_keeps_it_no_amendment(
        place: Place) -> None:
    """Closure refuses later facts but the link (exempt by its class): no reopen needed,
    and the case lists no amendment for it."""
    engine = place.engine
    engine.incidents.resolve(place.fire, "out", actor=OFFICE, occurred_at=place.at(0.5))
    engine.incidents.close(place.fire, "resolved", actor=OFFICE, occurred_at=place.at(1))
    rejected(engine, (place.fire,), InvalidTransitionError,
             lambda: engine.incidents.add_note(place.fire, "late", actor=OFFICE,
                                               occurred_at=place.at(2)))
    order = place.order(2)
    receipt = place.link(order, 3)
    # And a time correction may move the link anywhere after detection, past the closure.
    engine.incidents.correct_time(place.fire, receipt.first_version,  # type: ignore[attr-defined]
                                  place.at(5), "the desk's log", actor=OFFICE,
                                  occurred_at=place.at(5))
    case, = engine.reports.cases(subject="incident")
    assert case.amendments[0].fact == "RecoveryLinked"  # the correction, not the link
    assert [a.corrects for a in case.amendments] == [receipt.first_version]  # type: ignore[attr-defined]
    order_case, = engine.reports.cases(subject="order")
    assert order_case.amendments == ()


@pytest.mark.parametrize("case", ["unknown", "incident", "community", "other community",
                                  "twice", "order taken", "before detection",
                                  "before placement", "item of another review", "no purpose"])
def test_a_link_that_cannot_be_is_refused_and_records_nothing_on_either_side(
        place: Place, case: str) -> None:
    """Unknown or wrong ids, another community's work, a second link, an order serving
    another incident, a link dated before either side began, an item raised by another
    incident's review, a blank purpose."""
    engine = place.engine
    other_fire = engine.incidents.report(
        place.community, incident_type="fire", severity="low",
        location=Location(building="30", unit="1"), description="again", actor=OFFICE,
        occurred_at=place.at(0.5)).aggregate_id
    order = place.order(1)
    error: type[ResilienceError] = InvalidTransitionError
    linked, at, incident, purpose = order, 2.0, place.fire, "repair the lock"
    if case == "unknown":
        linked, error = uuid4(), NotFoundError
    elif case == "incident":
        linked, error = other_fire, NotFoundError
    elif case == "community":
        linked, error = place.community, NotFoundError
    elif case == "other community":
        linked, error = place.order(1, community=_community(engine, "Xihu")), NotFoundError
    elif case == "twice":
        place.link(order, 1.5)
    elif case == "order taken":
        place.link(order, 1.5, incident=other_fire)
    elif case == "before detection":
        incident, at = other_fire, 0.25
        linked = engine.orders.place(
            place.community, household_id="501", area_id="30/1", category="home",
            item="repair", actor=OWNER, occurred_at=T0).aggregate_id
    elif case == "before placement":
        at = 0.75
    elif case == "item of another review":
        linked = place.item(1, incident=other_fire)
    else:
        purpose, error = " ", InvalidInputError
    rejected(engine, (incident, linked) if case not in ("unknown", "community") else (incident,),
             error, lambda: engine.incidents.link_recovery(
                 incident, linked, purpose=purpose, actor=OFFICE, occurred_at=T0 + at * HOUR))


@given(purpose=st.one_of(st.text(max_size=3), st.integers(), st.none()),
       linked=st.one_of(st.just("order"), st.text(max_size=5), st.integers(), st.none()))
@settings(max_examples=40, deadline=None)
def test_generated_bad_input_is_refused_and_records_nothing(purpose: object,
                                                           linked: object) -> None:
    """Any purpose that is no text (or blank), any linked id that is no UUID of an order."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        place = _place(engine, clock)
        order = place.order(1)
        target = order if linked == "order" else linked
        good = isinstance(purpose, str) and purpose.strip() and target == order
        if good:
            return
        rejected(engine, (place.fire, order), ResilienceError,
                 lambda: engine.incidents.link_recovery(
                     place.fire, target, purpose=purpose,  # type: ignore[arg-type]
                     actor=OFFICE, occurred_at=place.at(2)))


def test_inside_a_batch_the_link_joins_it_and_a_failed_batch_records_neither_side(
        place: Place) -> None:
    """Placed and linked in one batch: all recorded at its end; the batch failing after
    the link keeps neither side."""
    engine = place.engine
    with engine.batch() as batch:
        order = place.order(1)
        receipt = place.link(order, 1)
        assert receipt.position is None  # type: ignore[attr-defined]
    assert batch.events_recorded == 4  # placed, its reference, and the link's two sides
    other = place.order(2)

    def failing_import() -> None:
        with engine.batch():
            place.link(other, 2)
            raise RuntimeError("the import failed later")

    with pytest.raises(RuntimeError):
        failing_import()
    assert engine.orders.get(other).recovery_of is None
    assert list(engine.incidents.get(place.fire).recovery_links) == [order]


def test_another_writer_changing_the_order_first_records_neither_side(
        tmp_path: Path, clock: ManualClock) -> None:
    """Two engines on one SQLite file: a link decided on an order another writer changed
    in between is refused whole (ConflictError), and a retry links it."""
    url = f"sqlite:///{tmp_path}/r.db"
    with Engine(url, clock=clock, policy=None) as one, Engine(url, clock=clock,
                                                             policy=None) as two:
        place = _place(one, clock)
        order = place.order(1)
        original = one._store.change

        def meddling(cls: type, aggregate_id: UUID, ctx: object,
                     decide: Callable[[object], None]) -> object:
            def meddled(aggregate: object) -> None:  # the order loaded, not yet saved
                two.orders.accept(order, actor=OFFICE, occurred_at=place.at(1.5))
                decide(aggregate)
            return original(cls, aggregate_id, ctx,  # type: ignore[arg-type]
                            meddled if aggregate_id == order else decide)

        one._store.change = meddling  # type: ignore[method-assign,assignment]
        rejected(one, (place.fire,), ConflictError, lambda: place.link(order, 1.5))
        assert [type(e).__name__ for e in one.events(order)] == ["Placed", "Accepted"]
        one._store.change = original  # type: ignore[method-assign]
        place.link(order, 2)
        assert one.orders.get(order).recovery_of == place.fire


def test_the_policy_lets_staff_the_grid_leader_and_the_commander_link_and_no_one_else(
        clock: ManualClock) -> None:
    """A resident may not order recovery work from an incident; refused, nothing recorded."""
    with Engine("memory:", clock=clock) as engine:
        place = _place(engine, clock)
        order = place.order(1)
        rejected(engine, (place.fire, order), PermissionDeniedError,
                 lambda: engine.incidents.link_recovery(place.fire, order, purpose="fix",
                                                        actor=OWNER, occurred_at=place.at(2)))
        engine.incidents.link_recovery(place.fire, order, purpose="fix", actor=OFFICE,
                                       occurred_at=place.at(2))


def test_the_work_linked_must_be_the_actors_too_a_grid_leader_or_commander_links_none_elsewhere(
        clock: ManualClock) -> None:
    """The actor needs the right on the order or item linked as well as on the incident: a
    grid leader of grid 3 may not link grid 5's order (another household's) to a grid-3
    fire, which would take its one link for good, nor may the fire's commander; both may
    link work in grid 3, and staff anywhere. Refused: nothing recorded on either side."""
    with Engine("memory:", clock=clock) as engine:
        place = _place(engine, clock)
        run = engine.communities
        run.add_grid(place.community, "5", actor=OFFICE)
        run.add_building(place.community, "50", "5", [UnitSpec("1", 24)], actor=OFFICE)
        for person, role, where in (("zhou", Role.GRID_LEADER, "3"),
                                    ("cmdr", Role.GRID_WORKER, "3")):
            run.enrol(place.community, person, person, actor=OFFICE)
            run.assign_role(place.community, person, role, where, actor=OFFICE)
        engine.incidents.assign_commander(place.fire, "cmdr", actor=OFFICE,
                                          occurred_at=place.at(0.1))
        leader, commander = (Actor("zhou", Role.GRID_LEADER),
                             Actor("cmdr", Role.INCIDENT_COMMANDER))
        elsewhere = engine.orders.place(
            place.community, household_id="502", area_id="50/1", category="home",
            item="repair", actor=Actor("owner-502", Role.RESIDENT),
            occurred_at=place.at(1)).aggregate_id
        item = engine.improvements.plan(
            place.community, review=f"community/{place.community}/all time", action="drain",
            owner="p-5001", due=place.at(1) + 48 * HOUR, grid="5", actor=OFFICE,
            occurred_at=place.at(1)).aggregate_id
        def link(actor: Actor, work: UUID) -> Callable[[], object]:
            return lambda: engine.incidents.link_recovery(
                place.fire, work, purpose="fix", actor=actor, occurred_at=place.at(2))

        for actor in (leader, commander):
            for work, words in ((elsewhere, "the order's area"), (item, "the item's grid")):
                rejected(engine, (place.fire, work), PermissionDeniedError, link(actor, work),
                         match=words if actor is leader else None)
        assert engine.orders.get(elsewhere).recovery_of is None
        here, there = place.order(2), place.order(2)
        engine.incidents.link_recovery(place.fire, here, purpose="fix", actor=leader,
                                       occurred_at=place.at(3))
        engine.incidents.link_recovery(place.fire, there, purpose="fix", actor=commander,
                                       occurred_at=place.at(3))
        engine.incidents.link_recovery(place.fire, elsewhere, purpose="fix", actor=OFFICE,
                                       occurred_at=place.at(3))
        assert {engine.orders.get(o).recovery_of for o in (here, there, elsewhere)} == {
            place.fire}


def test_a_linked_item_is_read_with_no_moment_to_judge_it_overdue_by(place: Place) -> None:
    """``linked_at`` (and ``plan_item`` under it) take no dummy ``now``: an item read as it
    stands, with none, is never judged overdue (not asked here), even past its due."""
    item = place.item(1)
    place.at(100)  # long past its due
    place.engine.views.catch_up()
    doc = place.engine.views.get("plans", str(item))
    assert doc is not None
    read = linked_at(RecoveryKind.IMPROVEMENT, str(item), doc)
    assert isinstance(read, PlanItem)
    assert read.overdue is False
    judged = plan_item(str(item), doc, place.at(100))
    assert judged is not None
    assert judged.overdue


# When the incident is recovered ------------------------------------------------------------


def test_recovery_waits_for_the_rating_of_the_standing_completion(place: Place) -> None:
    """Placed, linked, completed: not done until the resident rates it; a reopening undoes
    it until completed and rated again; recovered at the last rating."""
    engine = place.engine
    order = place.order(1)
    place.link(order, 1)
    assert engine.recovery(place.fire).links[0].status == "placed"
    place.finish(order, 20, rate=False)
    link, = engine.recovery(place.fire).links
    assert (link.status, link.done_at, link.awaiting_rating) == ("completed", None, True)
    engine.orders.rate(order, 4, actor=OWNER, occurred_at=place.at(23))
    recovery = engine.recovery(place.fire)
    assert (recovery.recovered_at, recovery.duration) == (place.at(23), 23 * HOUR)
    assert recovery.links[0].describe().startswith("order completed and rated ")
    engine.orders.reopen(order, "still sticks", actor=OWNER, occurred_at=place.at(24))
    assert engine.recovery(place.fire).recovered_at is None
    engine.orders.dispatch(order, LOCKSMITH, actor=OFFICE, occurred_at=place.at(25))
    engine.orders.complete(order, "fixed", actor=FITTER, occurred_at=place.at(26))
    engine.orders.rate(order, 5, actor=OWNER, occurred_at=place.at(27))
    assert engine.recovery(place.fire).recovered_at == place.at(27)


def test_an_order_the_desk_placed_is_done_at_its_completion_as_nobody_may_rate_it(
        place: Place) -> None:
    """Placed by the desk for a household: its standing completion is the end."""
    order = place.order(1, placer=OFFICE)
    place.link(order, 1)
    place.finish(order, 5, rate=False)
    link, = place.engine.recovery(place.fire).links
    assert (link.done_at, link.rated) == (place.at(6), False)


def test_every_link_must_be_done_or_dropped_and_recovery_is_the_latest_done(
        place: Place) -> None:
    """Two orders and an item: recovered at the latest done once all are done; a cancelled
    order no longer holds it open; only dropped links, or none, is not recovered."""
    engine = place.engine
    assert engine.recovery(place.fire).recovered_at is None  # no links
    first, second, item = place.order(1), place.order(1), place.item(1)
    for linked in (first, second, item):
        place.link(linked, 1)
    place.finish(first, 3)
    engine.improvements.complete(item, actor=OFFICE, occurred_at=place.at(10))
    assert engine.recovery(place.fire).recovered_at is None  # the second is pending
    assert [link.linked_id for link in engine.recovery(place.fire).pending] == [second]
    engine.orders.cancel(second, "the owner fixed it", actor=OWNER, occurred_at=place.at(11))
    recovery = engine.recovery(place.fire)
    assert recovery.recovered_at == place.at(10)
    assert [link.dropped for link in recovery.links] == [False, True, False]
    assert recovered_at([("order", "cancelled", None)]) is None


def test_recovery_at_a_cut_reads_every_side_at_that_cut(place: Place) -> None:
    """as_of: what had happened by then; known_at: what had been recorded by then (a rating
    recorded late is unknown before); an incident not yet detected is not found."""
    engine = place.engine
    order = place.order(1)
    place.link(order, 1)
    engine.orders.accept(order, actor=OFFICE, occurred_at=place.at(2))
    engine.orders.dispatch(order, LOCKSMITH, actor=OFFICE, occurred_at=place.at(2))
    engine.orders.complete(order, "fixed", actor=FITTER, occurred_at=place.at(3))
    place.clock.set(T0 + 10 * HOUR)
    engine.orders.rate(order, 5, actor=OWNER, occurred_at=T0 + 4 * HOUR)  # recorded at 10
    assert engine.recovery(place.fire).recovered_at == T0 + 4 * HOUR
    assert engine.recovery(place.fire, as_of=T0 + 2.5 * HOUR).links[0].status == "dispatched"
    assert engine.recovery(place.fire, known_at=T0 + 5 * HOUR).recovered_at is None
    assert engine.recovery(place.fire, as_of=T0 + 0.5 * HOUR).links == ()
    with pytest.raises(NotFoundError):
        engine.recovery(place.fire, as_of=T0 - HOUR)
    with pytest.raises(NotFoundError):
        engine.recovery(order)
    with pytest.raises(InvalidInputError):
        engine.recovery("not an id")  # type: ignore[arg-type]


def test_a_links_purpose_reads_as_corrected(place: Place) -> None:
    """A details correction of the link gives its purpose, from when it was recorded."""
    engine = place.engine
    order = place.order(1)
    version = place.link(order, 1).first_version  # type: ignore[attr-defined]
    engine.incidents.correct_details(place.fire, version, "replace the lock", "typo",
                                     actor=OFFICE, occurred_at=place.at(2))
    assert engine.recovery(place.fire).links[0].purpose == "replace the lock"
    assert engine.recovery(place.fire, known_at=T0 + 1.5 * HOUR).links[0].purpose == (
        "repair the lock")


def test_detection_to_recovered_is_measured_from_the_views_as_engine_recovery_reads_it(
        place: Place) -> None:
    """The built-in metric measures the incidents with linked work, in hours, as known at a
    moment or as closed; an incident without links is left out, not missing."""
    engine = place.engine
    engine.incidents.report(place.community, incident_type="fire", severity="low",
                            location=Location(building="30", unit="1"), description="other",
                            actor=OFFICE, occurred_at=place.at(0.5))
    engine.incidents.resolve(place.fire, "out", actor=OFFICE, occurred_at=place.at(0.5))
    engine.incidents.close(place.fire, "resolved", actor=OFFICE, occurred_at=place.at(1))
    order = place.order(1)
    place.link(order, 1)
    place.finish(order, 19)  # rated at T0 + 21 h
    row, = engine.metrics("detection_to_recovered").rows
    assert (row.cases, row.measured, row.median, row.unit) == (1, 1, 21, "h")
    assert row.excluded == {"no recovery_linked": 1}
    assert engine.recovery(place.fire).duration == 21 * HOUR
    then, = engine.metrics("detection_to_recovered", known_at=T0 + 20 * HOUR).rows
    assert (then.cases, then.measured) == (1, 0)
    # As closed: as known when the closure was recorded, before any link.
    assert not any(row.cases for row in engine.metrics("detection_to_recovered",
                                                       as_closed=True).rows)


def test_a_recovery_link_rounds_to_a_dict_and_words() -> None:
    """``to_dict`` is JSON-ready; ``describe`` says where the work stands."""
    link = RecoveryLink(uuid4(), "improvement", "clear it", T0, "in_progress", None)
    assert link.to_dict()["done_at"] is None
    assert link.describe() == "improvement item in progress, not done yet"
    assert RecoveryLink(uuid4(), "order", "fix", T0, "rejected", None).describe() == (
        "order rejected: no longer awaited")


# Scenario files --------------------------------------------------------------------------

_HEAD = ('{"format": "resilience.scenario", "version": 1, "name": "lock", '
         '"timezone": "Asia/Shanghai", "community": {"district": "D", "subdistrict": "S", '
         '"name": "C"}, "actions": [')
_SETUP = [
    '{"do": "register", "at": "2022-02-15T09:00:00", "actor": "desk", "as": "community_staff"}',
    '{"do": "add_grid", "at": "2022-02-15T09:00:00", "actor": "desk", "as": "community_staff",'
    ' "grid_id": "3"}',
    '{"do": "add_building", "at": "2022-02-15T09:00:00", "actor": "desk", "as": '
    '"community_staff", "building_id": "30", "parent": "3", "units": [{"unit_id": "1"}]}',
    '{"do": "report", "at": "2022-02-15T15:00:00", "actor": "desk", "as": "community_staff",'
    ' "incident": "fire", "incident_type": "fire", "severity": "high", "location": '
    '{"building": "30", "unit": "1"}, "description": "smoke"}',
    '{"do": "place", "at": "2022-02-15T16:00:00", "actor": "r1", "as": "resident", "order": '
    '"lock", "household_id": "501", "area_id": "30/1", "category": "home", "item": "repair"}',
]


def _scenario(*entries: str) -> str:
    return _HEAD + ", ".join([*_SETUP, *entries]) + "]}"


def test_a_scenario_links_an_order_to_an_incidents_recovery(memory_engine: Engine) -> None:
    """``link_recovery`` names the incident and the order (or improvement) it links; both
    sides count among the replay's facts."""
    result = replay(memory_engine, parse_scenario(_scenario(
        '{"do": "link_recovery", "at": "2022-02-15T16:05:00", "actor": "desk", "as": '
        '"community_staff", "incident": "fire", "order": "lock", "purpose": "the lock"}')))
    assert result.facts == result.events_recorded
    link, = memory_engine.recovery(result.incidents["fire"]).links
    assert (link.linked_id, link.purpose) == (result.orders["lock"], "the lock")


@pytest.mark.parametrize(("entry", "message"), [
    ('"incident": "fire", "purpose": "x"', "one 'order' or 'improvement'"),
    ('"order": "lock", "purpose": "x"', "names the 'incident'"),
    ('"incident": "fire", "order": "lock", "improvement": "i", "purpose": "x"', "one 'order'"),
    ('"incident": "fire", "order": "nope", "purpose": "x"', "order 'nope' was not placed"),
])
def test_a_scenario_link_naming_the_wrong_things_is_refused_with_its_entry(
        memory_engine: Engine, entry: str, message: str) -> None:
    """The entry and the key at fault are named; nothing is recorded."""
    text = _scenario('{"do": "link_recovery", "at": "2022-02-15T16:05:00", "actor": "desk", '
                     f'"as": "community_staff", {entry}}}')
    with pytest.raises(ScenarioError, match=message):
        replay(memory_engine, parse_scenario(text))
    assert memory_engine.views.head == 0


# Two read paths, one rule ----------------------------------------------------------------


def _model(engine: Engine, incident: UUID) -> datetime | None:
    """When the incident is recovered, from its linked aggregates as they stand: each order
    done at its standing rating (or, placed by the desk, its standing completion), each
    item at its completion; cancelled and rejected ones dropped."""
    done: list[datetime] = []
    for linked in engine.incidents.get(incident).recovery_links:
        facts = engine.events(linked)
        if isinstance(facts[0], ImprovementItem.Event):
            item = engine.improvements.get(linked)
            if item.completed_at is not None:
                done.append(item.completed_at)
            elif item.status.value != "cancelled":
                return None
            continue
        order = engine.orders.get(linked)
        if order.status.value in ("cancelled", "rejected"):
            continue
        if order.status.value != "completed":
            return None
        last = ServiceOrder.Rated if order.rating is not None else ServiceOrder.Completed
        if order.rating is None and order.placer_role is Role.RESIDENT:
            return None
        version = max(e.originator_version for e in facts if isinstance(e, last))
        done.append(order.time_of(version))
    return max(done, default=None)


_pick = st.integers(min_value=0, max_value=20)
recovery_steps = st.lists(st.one_of(
    st.tuples(st.just("incident")),
    *[st.tuples(st.just("order"), st.booleans())] * 2,
    st.tuples(st.just("item")),
    *[st.tuples(st.just("link"), _pick, _pick, st.booleans())] * 3,
    *[st.tuples(st.just("order_on"), _pick, st.sampled_from(
        ["accept", "dispatch", "complete_fixed", "complete_not_fixed", "rate", "reopen",
         "cancel", "reject"]))] * 4,
    *[st.tuples(st.just("order_done"), _pick, st.booleans())] * 3,
    st.tuples(st.just("item_on"), _pick, st.sampled_from(["complete", "cancel", "reopen"])),
    st.tuples(st.just("correct"), _pick, _pick, st.integers(min_value=-90, max_value=90)),
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=60 * 30))),
    min_size=3, max_size=40)
"""Incidents, orders (a resident's or the desk's) and items of one community, links among
them, the orders and items moving on, time corrections, and time passing."""


def _recovery_step(place: Place, world: dict[str, list[UUID]], step: tuple[Any, ...]
                   ) -> None:
    engine, clock, now = place.engine, place.clock, place.clock()
    kind, args = step[0], step[1:]
    if kind == "advance":
        clock.advance(timedelta(minutes=int(args[0])))
        return
    clock.advance(timedelta(minutes=1))
    now = clock()

    def pick(items: str, index: int) -> UUID | None:
        found = world[items]
        return found[int(index) % len(found)] if found else None

    if kind == "incident":
        world["incidents"].append(engine.incidents.report(
            place.community, incident_type="fire", severity="high",
            location=Location(building="30", unit="1"), description="smoke", actor=OFFICE,
            occurred_at=now).aggregate_id)
    elif kind == "order":
        world["orders"].append(place.order((now - T0) / HOUR,
                                           placer=OFFICE if args[0] else OWNER))
    elif kind == "item":
        world["items"].append(place.item((now - T0) / HOUR))
    elif kind == "link":
        incident = pick("incidents", args[0])
        linked = pick("items" if args[2] else "orders", args[1])
        if incident is not None and linked is not None:
            engine.incidents.link_recovery(incident, linked, purpose="repair", actor=OFFICE,
                                           occurred_at=now)
    elif kind == "order_on" and (order := pick("orders", args[0])) is not None:
        run, action = engine.orders, args[1]
        if action == "accept":
            run.accept(order, actor=OFFICE, occurred_at=now)
        elif action == "dispatch":
            run.dispatch(order, LOCKSMITH, actor=OFFICE, occurred_at=now)
        elif action in ("complete_fixed", "complete_not_fixed"):
            run.complete(order, action[9:], "a part was missing", actor=FITTER,
                         occurred_at=now)
        elif action == "rate":
            run.rate(order, 4, actor=OWNER, occurred_at=now)
        elif action == "reopen":
            run.reopen(order, "again", actor=OFFICE, occurred_at=now)
        else:
            getattr(run, action)(order, "not needed", actor=OFFICE, occurred_at=now)
    elif kind == "order_done" and (order := pick("orders", args[0])) is not None:
        steps = ["accept", "dispatch", "complete_fixed", *(["rate"] if args[1] else [])]
        for action in steps:  # each its own command: the order goes as far as it can
            with contextlib.suppress(ResilienceError):
                _recovery_step(place, world, ("order_on", args[0], action))
    elif kind == "item_on" and (item := pick("items", args[0])) is not None:
        if args[1] == "complete":
            engine.improvements.complete(item, actor=OFFICE, occurred_at=now)
        else:
            getattr(engine.improvements, str(args[1]))(item, "again", actor=OFFICE,
                                                       occurred_at=now)
    elif kind == "correct":
        every = [*world["incidents"], *world["orders"], *world["items"]]
        if every:
            target = every[int(args[0]) % len(every)]
            facts = engine.events(target)
            fact = facts[int(args[1]) % len(facts)]
            service = (engine.incidents if target in world["incidents"] else engine.orders
                       if target in world["orders"] else engine.improvements)
            service.correct_time(target, fact.originator_version,
                                 fact.occurred_at + timedelta(minutes=int(args[2])),
                                 "log checked", actor=OFFICE, occurred_at=now)


@given(desk=st.booleans(), steps=recovery_steps,
       cut=st.integers(min_value=0, max_value=60 * 24 * 3))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_engine_recovery_the_views_and_a_model_agree_on_every_random_history(
        desk: bool, steps: list[tuple[Any, ...]], cut: int) -> None:
    """For every incident of a random history of links and linked work: the rule read from
    the facts (engine.recovery), from the views (the cases the metrics measure) and a plain
    model of the aggregates give one recovery time; and the first two agree as known at a
    random moment too."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        place = _place(engine, clock)
        world: dict[str, list[UUID]] = {"incidents": [place.fire], "orders": [], "items": []}
        # The fire's repair ordered and linked first; the rest at random.
        for step in [("order", desk), ("link", 0, 0, False), *steps]:
            with contextlib.suppress(ResilienceError):  # a refused step records nothing
                _recovery_step(place, world, step)
        cases = {UUID(case.case_id): case for case in engine.reports.cases(subject="incident")}
        known_at = T0 + timedelta(minutes=cut)
        then = {UUID(case.case_id): case for case in engine.reports._cases(
            "incident", ALL_TIME, None, known_at=known_at)}
        for incident in world["incidents"]:
            recovered = engine.recovery(incident).recovered_at
            event("links" if engine.incidents.get(incident).recovery_links else "no links")
            event("recovered" if recovered else "not recovered")
            assert recovered == cases[incident].milestones.get("recovered") == _model(
                engine, incident)
            if incident in then:
                assert engine.recovery(incident, known_at=known_at).recovered_at == (
                    then[incident].milestones.get("recovered"))


def test_a_command_id_the_linked_order_took_for_another_command_is_refused(
        place: Place) -> None:
    """The order would take the link for a repeat of that command: refused, so a link is
    always on both sides or neither."""
    order = place.order(1)
    place.engine.orders.accept(order, actor=OFFICE, occurred_at=place.at(1), command_id="c-1")
    rejected(place.engine, (place.fire, order), InvalidInputError,
             lambda: place.link(order, 2, command_id="c-1"), match="was used on")


def test_the_command_line_prints_the_recovery_of_the_donghu_fire(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`resilience recovery ID` lists the lock repair and the recovery; as of the evening
    before, the repair awaited; a bad id exits 2."""
    db = tmp_path / "d.db"
    assert main(["demo", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Recovery: lock repair: the storage-room lock broken with the owner's consent: " \
           "order completed and rated 2022-02-16 12:00" in out
    assert "Recovered 2022-02-16 12:00, 21 h after detection" in out
    assert "Escalation (the watch at 18:41): order lock-repair passed its response " \
           "deadline at 18:40, level 0: told Sun (grid worker, property staff) (grid worker " \
           "of 3)" in out
    fire = "9e1660b0-4754-507e-8afa-e7c9401df9f1"
    assert main(["recovery", fire, "--db", str(db)]) == 0
    assert "Recovered 2022-02-16 12:00, 21.0 h after detection." in capsys.readouterr().out
    assert main(["recovery", fire, "--db", str(db), "--as-of", "21:00"]) == 0
    assert "order placed, not done yet" in capsys.readouterr().out
    assert main(["recovery", "not-an-id", "--db", str(db)]) == 2
