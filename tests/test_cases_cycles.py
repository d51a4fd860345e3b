"""Reopen cycles as the metrics read them: hand-computed histories replayed through the engine.

A case's cycles are cut by its reopenings in the order things happened
(``case.cycles[n]`` is cycle n, cycle 0 the first response): the response
milestones (dispatch, en route, on scene, containment; an order's dispatch and
completion) are the first cycle's, every other earliest milestone the earliest
anywhere in the case, ``resolved`` / ``closed`` / ``completed`` the last cycle's,
and each reopening is measured on its own by the metrics per reopening.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings

from histories import PROVIDERS, RESIDENT, STAFF, setup_world
from resilience import Engine, InvalidInputError, Location, ManualClock
from resilience.metrics import (
    BUILT_IN,
    CYCLE_MILESTONES,
    INCIDENT_MILESTONES,
    ORDER_MILESTONES,
    Case,
    MetricDefinition,
    builtin,
    case_from_doc,
)
from test_metrics_oracle import any_history, build

from conftest import SHANGHAI


def at(hour: int, minute: int) -> datetime:
    """A moment on 1 March 2022, Shanghai time."""
    return datetime(2022, 3, 1, hour, minute, tzinfo=SHANGHAI)


World = tuple[Engine, ManualClock, UUID]
"""An engine, its clock and a community (of two grids, g1 and g2, each with a building)."""


@pytest.fixture
def world(clock: ManualClock) -> Iterator[World]:
    """An in-memory engine at noon on 1 March, with two communities of two grids each."""
    clock.set(at(12, 0))
    with Engine("memory:", clock=clock, policy=None) as engine:
        yield engine, clock, setup_world(engine, clock).communities[0]


def detect(engine: Engine, community: UUID, when: datetime, kind: str = "fire") -> UUID:
    return engine.incidents.detect(
        community, incident_type=kind, severity="high", location=Location(grid="g1"),
        description="smoke", actor=STAFF, occurred_at=when).aggregate_id


def incident_case(engine: Engine, incident: UUID) -> Case:
    (case,) = [c for c in engine.reports.cases(subject="incident") if c.case_id == str(incident)]
    return case


def rekindled_fire(engine: Engine, community: UUID) -> UUID:
    """The issue's fire: detected 10:00, contained 10:20, resolved 10:30, flared up at 11:00,
    contained again 11:10, resolved again 11:30."""
    fire = detect(engine, community, at(10, 0))
    run = engine.incidents
    run.contain(fire, "fire out", actor=STAFF, occurred_at=at(10, 20))
    run.resolve(fire, "damped down", actor=STAFF, occurred_at=at(10, 30))
    run.reopen(fire, "flared up in the roof space", actor=STAFF, occurred_at=at(11, 0))
    run.contain(fire, "out again", actor=STAFF, occurred_at=at(11, 10))
    run.resolve(fire, "roof space checked", actor=STAFF, occurred_at=at(11, 30))
    return fire


def test_the_rekindled_fire_is_measured_as_the_issue_computes_it(world: World) -> None:
    """Detection to contained 20 min, to resolved 90; the reopening: 10 to contained, 30 to
    resolved; one reopening."""
    engine, _, community = world
    case = incident_case(engine, rekindled_fire(engine, community))
    assert builtin("detection_to_contained").measure_all(case) == [20]
    assert builtin("detection_to_resolved").measure_all(case) == [90]
    assert builtin("reopened_to_contained").measure_all(case) == [10]
    assert builtin("reopened_to_resolved").measure_all(case) == [30]
    assert case.reopened == 1
    assert (case.milestones["contained"], case.milestones["reopened"],
            case.milestones["resolved"]) == (at(10, 20), at(11, 0), at(11, 30))
    assert case.cycles == ({"contained": at(10, 20), "resolved": at(10, 30)},
                           {"reopened": at(11, 0), "contained": at(11, 10),
                            "resolved": at(11, 30)})
    assert case.status == "resolved" == engine.incidents.get(case_id(case)).status


def case_id(case: Case) -> UUID:
    return UUID(case.case_id)


def test_the_response_milestones_are_the_first_cycles_only(world: World) -> None:
    """A fire a patrol put out alone, then rekindled and fought by a crew: no first-cycle
    dispatch, so turnout and detection to contained don't measure the second response."""
    engine, _, community = world
    fire = detect(engine, community, at(10, 0))
    run = engine.incidents
    run.arrive(fire, "patrol", actor=STAFF, occurred_at=at(10, 2))
    run.resolve(fire, "patrol put it out", actor=STAFF, occurred_at=at(10, 15))
    run.reopen(fire, "rekindled", actor=STAFF, occurred_at=at(11, 0))
    run.dispatch(fire, ["crew"], actor=STAFF, occurred_at=at(11, 1))
    run.en_route(fire, "crew", actor=STAFF, occurred_at=at(11, 2))
    run.arrive(fire, "crew", actor=STAFF, occurred_at=at(11, 6))
    run.contain(fire, "crew put it out", actor=STAFF, occurred_at=at(11, 20))
    case = incident_case(engine, fire)
    assert case.milestones["first_on_scene"] == at(10, 2)
    assert not {"first_dispatched", "first_unit_dispatched", "contained"} & set(case.milestones)
    assert case.cycles == ({"first_on_scene": at(10, 2), "resolved": at(10, 15)},
                           {"reopened": at(11, 0), "first_dispatched": at(11, 1),
                            "first_on_scene": at(11, 6), "contained": at(11, 20)})
    assert "first_en_route" not in case.milestones  # the crew's en route is the second's
    assert builtin("detection_to_contained").measure(case) is None
    assert builtin("reopened_to_contained").measure_all(case) == [20]
    assert builtin("reopened_to_resolved").measure_all(case) == [None]  # not resolved again
    assert case.status == "contained" == engine.incidents.get(fire).status
    assert "resolved" not in case.milestones  # the reopening undid the resolution


def test_each_reopening_is_one_unit_in_the_order_they_happened(world: World) -> None:
    """Two reopenings: two units, each to its own cycle's containment and resolution."""
    engine, _, community = world
    fire = rekindled_fire(engine, community)
    run = engine.incidents
    run.close(fire, "resolved", actor=STAFF, occurred_at=at(11, 40))
    run.reopen(fire, "smoke again", actor=STAFF, occurred_at=at(13, 0))
    run.contain(fire, "out for good", actor=STAFF, occurred_at=at(13, 5))
    case = incident_case(engine, fire)
    assert builtin("reopened_to_contained").measure_all(case) == [10, 5]
    assert builtin("reopened_to_resolved").measure_all(case) == [30, None]
    assert builtin("reopened_to_contained").measure(case) == 10  # the first reopening's
    assert case.cycles[1]["closed"] == at(11, 40)
    assert (case.reopened, case.milestones["reopened"]) == (2, at(11, 0))
    assert not {"resolved", "closed"} & set(case.milestones)
    assert case.status == "contained"


def test_a_fact_recorded_after_a_reopening_but_dated_before_it_belongs_to_the_first_cycle(
        world: World) -> None:
    """Cycles follow the times things happened, not the order they were recorded in."""
    engine, _, community = world
    fire = rekindled_fire(engine, community)
    engine.incidents.dispatch(fire, ["crew"], actor=STAFF, occurred_at=at(10, 5))  # late
    case = incident_case(engine, fire)
    assert case.milestones["first_dispatched"] == at(10, 5)
    assert case.cycles[0]["first_dispatched"] == at(10, 5)
    assert "first_dispatched" not in case.cycles[1]


def test_a_never_reopened_case_has_only_cycle_0_and_no_units_per_reopening(
        world: World) -> None:
    """Measured per reopening, a case never reopened adds nothing (not a missing value)."""
    engine, _, community = world
    fire = detect(engine, community, at(10, 0))
    engine.incidents.contain(fire, "out", actor=STAFF, occurred_at=at(10, 9))
    case = incident_case(engine, fire)
    assert (case.cycles, case.reopened) == (({"contained": at(10, 9)},), 0)
    assert builtin("reopened_to_contained").units(case) == []
    assert "reopened" not in case.milestones
    assert builtin("reopened_to_contained").measure_all(case) == []
    assert builtin("reopened_to_contained").measure(case) is None
    assert builtin("detection_to_contained").measure_all(case) == [9]


def test_reopened_is_a_milestone_of_both_subjects_and_of_every_cycle() -> None:
    """The earliest reopening is a case milestone; every cycle milestone is a milestone."""
    assert "reopened" in INCIDENT_MILESTONES
    assert "reopened" in ORDER_MILESTONES
    for subject, known in (("incident", INCIDENT_MILESTONES), ("order", ORDER_MILESTONES)):
        assert set(CYCLE_MILESTONES[subject]) <= set(known)
    assert [(m.name, m.per) for m in BUILT_IN if m.per == "reopening"] == [
        ("reopened_to_contained", "reopening"), ("reopened_to_resolved", "reopening")]


def place(engine: Engine, community: UUID, when: datetime) -> UUID:
    return engine.orders.place(
        community, household_id="hh", area_id="g1-b/1", category="home", item="repair",
        actor=RESIDENT, occurred_at=when, expected_by=when + timedelta(hours=4)).aggregate_id


def completed_order(engine: Engine, community: UUID) -> UUID:
    """A repair placed 08:00, accepted 08:05, dispatched 08:10, completed (fixed) 09:00."""
    order = place(engine, community, at(8, 0))
    engine.orders.accept(order, actor=STAFF, occurred_at=at(8, 5))
    engine.orders.dispatch(order, PROVIDERS[0], actor=STAFF, occurred_at=at(8, 10))
    engine.orders.complete(order, "fixed", actor=STAFF, occurred_at=at(9, 0))
    return order


def order_case(engine: Engine, order: UUID) -> Case:
    (case,) = [c for c in engine.reports.cases(subject="order") if c.case_id == str(order)]
    return case


def test_a_reopened_order_has_a_cycle_of_its_own(world: World) -> None:
    """Completed 09:00, reopened 10:00, dispatched 10:10, completed 11:00: one cycle."""
    engine, _, community = world
    order = completed_order(engine, community)
    run = engine.orders
    run.reopen(order, "leaks again", actor=RESIDENT, occurred_at=at(10, 0))
    assert order_case(engine, order).status == "reopened"
    run.dispatch(order, PROVIDERS[1], actor=STAFF, occurred_at=at(10, 10))
    run.complete(order, "fixed", actor=STAFF, occurred_at=at(11, 0))
    case = order_case(engine, order)
    assert case.cycles == ({"first_dispatched": at(8, 10), "completed": at(9, 0)},
                           {"reopened": at(10, 0), "first_dispatched": at(10, 10),
                            "completed": at(11, 0)})
    assert (case.milestones["first_completed"], case.milestones["completed"]) == (
        at(9, 0), at(11, 0))
    assert case.status == "completed" == engine.orders.get(order).status


def test_an_order_fixed_reopened_and_never_completed_again_is_not_resolved(
        world: World) -> None:
    """No standing completion: not completed, no outcome, status reopened."""
    engine, _, community = world
    order = completed_order(engine, community)
    run = engine.orders
    run.rate(order, 5, actor=RESIDENT, occurred_at=at(9, 30))
    run.reopen(order, "leaks again", actor=RESIDENT, occurred_at=at(10, 0))
    case = order_case(engine, order)
    assert "completed" not in case.milestones
    assert not case.finished
    assert (case.closure, case.rating, case.status) == (None, None, "reopened")
    assert case.cycles == ({"first_dispatched": at(8, 10), "completed": at(9, 0)},
                           {"reopened": at(10, 0)})


def test_the_residents_resolved_answer_is_read_with_the_standing_rating(world: World) -> None:
    """Said with the rating: True or False; not said, not rated or reopened since: None."""
    engine, _, community = world
    run = engine.orders
    answers = {}
    for answer in (True, False, None):
        order = completed_order(engine, community)
        run.rate(order, 4, actor=RESIDENT, occurred_at=at(9, 30), resolved=answer)
        answers[order] = answer
    for order, answer in answers.items():
        case = order_case(engine, order)
        assert (case.rating, case.resolved_by_resident) == (4, answer)
    reopened = next(iter(answers))
    run.reopen(reopened, "not really", actor=RESIDENT, occurred_at=at(10, 0))
    assert order_case(engine, reopened).resolved_by_resident is None


def test_a_documents_fact_carries_who_recorded_it(world: World) -> None:
    """The ``cases`` view keeps each fact's person and role; the case's facts read them."""
    engine, _, community = world
    fire = rekindled_fire(engine, community)
    engine.views.catch_up()
    doc = engine.views.get("cases", str(fire))
    assert doc is not None
    assert doc["facts"][0][4:] == [STAFF.person_id, STAFF.role.value]
    case = case_from_doc(str(fire), doc)
    assert {(f.person, f.role) for f in case.facts} == {(STAFF.person_id, STAFF.role.value)}


@pytest.mark.parametrize(("start", "end"), [("detected", "contained"),
                                            ("reopened", "first_unit_on_scene")])
def test_a_metric_per_reopening_must_start_and_end_at_cycle_milestones(start: str,
                                                                        end: str) -> None:
    """A milestone no cycle has is refused, naming the cycle's milestones."""
    with pytest.raises(InvalidInputError, match="milestone of a reopening's cycle"):
        MetricDefinition("x", "incident", start, end, per="reopening")


def test_per_must_be_case_or_reopening() -> None:
    """Anything else is refused, in Python and in JSON."""
    with pytest.raises(InvalidInputError, match="per must be 'case' or 'reopening'"):
        MetricDefinition("x", "incident", "detected", "contained", per="cycle")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not a metric definition"):
        MetricDefinition.from_json('{"name": "x", "subject": "incident", "start": "detected",'
                                   ' "end": "contained", "per": "cycle"}')


def test_a_definition_without_per_is_measured_per_case() -> None:
    """Old JSON (no ``per``) still loads, per case."""
    old = MetricDefinition.from_json('{"name": "x", "subject": "order", "start": "placed",'
                                     ' "end": "completed"}')
    assert old.per == "case"
    per_reopening = MetricDefinition("y", "order", "reopened", "completed", per="reopening")
    assert MetricDefinition.from_json(per_reopening.to_json()) == per_reopening
    assert per_reopening.to_dict()["per"] == "reopening"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=any_history)
def test_a_cases_status_is_its_aggregates_status(steps: list[tuple[Any, ...]]) -> None:
    """For every incident and order of a random history (reopened ones among them),
    ``Case.status`` is the status the aggregate itself reports, ``reopened`` its number
    of cycles after the first, and ``cycles`` holds every cycle, the first among them."""
    engine, _ = build(steps)
    with engine:
        for case in engine.reports.cases():
            aggregate: Any = (engine.incidents if case.subject == "incident"
                              else engine.orders).get(case_id(case))
            assert case.status == aggregate.status.value
            assert case.reopened == len(case.cycles) - 1 == aggregate.reopen_count
            assert "reopened" not in case.cycles[0]
            assert all("reopened" in cycle for cycle in case.cycles[1:])


def test_a_one_off_fact_of_a_later_cycle_is_the_cases_milestone_but_the_response_is_not(
        world: World) -> None:
    """The community told and the source found only after the rekindle: ``reported`` and
    ``source_found`` are the earliest anywhere; the second cycle's dispatch stays its own."""
    engine, _, community = world
    fire = rekindled_fire(engine, community)
    run = engine.incidents
    run.report_to_community(fire, actor=STAFF, occurred_at=at(11, 2))
    run.find_source(fire, "a smouldering joist", actor=STAFF, occurred_at=at(11, 20))
    run.dispatch(fire, ["crew"], actor=STAFF, occurred_at=at(11, 3))
    case = incident_case(engine, fire)
    assert (case.milestones["reported"], case.milestones["source_found"]) == (
        at(11, 2), at(11, 20))
    assert "first_dispatched" not in case.milestones
    assert case.cycles[1]["first_dispatched"] == at(11, 3)


def test_an_order_reopened_and_then_cancelled_is_cancelled(world: World) -> None:
    """Placed, accepted, dispatched, completed, reopened, cancelled: status and milestone
    ``cancelled``, the dispatch and completion still the first cycle's, one reopening."""
    engine, _, community = world
    order = completed_order(engine, community)
    engine.orders.reopen(order, "leaks again", actor=RESIDENT, occurred_at=at(10, 0))
    engine.orders.cancel(order, "fixed it myself", actor=RESIDENT, occurred_at=at(10, 30))
    case = order_case(engine, order)
    assert (case.status, case.milestones["cancelled"], case.reopened) == (
        "cancelled", at(10, 30), 1)
    assert (case.milestones["first_dispatched"], case.milestones["first_completed"]) == (
        at(8, 10), at(9, 0))
    assert "completed" not in case.milestones
    assert case.cycles == ({"first_dispatched": at(8, 10), "completed": at(9, 0)},
                           {"reopened": at(10, 0)})
    assert builtin("placed_to_completed").applies_to.why_excluded(case) == "cancelled"


def test_work_started_only_after_a_reopening_is_the_orders_started(world: World) -> None:
    """``started`` is no cycle milestone: its earliest occurrence anywhere counts."""
    engine, _, community = world
    order = completed_order(engine, community)  # completed without a recorded start
    run = engine.orders
    run.reopen(order, "leaks again", actor=RESIDENT, occurred_at=at(10, 0))
    run.dispatch(order, PROVIDERS[1], actor=STAFF, occurred_at=at(10, 10))
    run.start(order, actor=STAFF, occurred_at=at(10, 20))
    assert order_case(engine, order).milestones["started"] == at(10, 20)


def test_a_definitions_units_are_the_case_or_each_reopenings_cycle(world: World) -> None:
    """``units``: ``[case.milestones]`` per case, ``case.cycles[1:]`` per reopening; what
    ``measure_all`` measures."""
    engine, _, community = world
    case = incident_case(engine, rekindled_fire(engine, community))
    assert builtin("detection_to_contained").units(case) == [case.milestones]
    assert builtin("reopened_to_contained").units(case) == list(case.cycles[1:])
    assert builtin("reopened_to_contained").measure_all(case) == [10]
