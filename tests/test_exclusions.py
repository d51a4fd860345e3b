"""Cases that don't count: a definition's filter leaves them out, and says why.

``CaseFilter.why_excluded`` gives one short, stable reason per case left out
(the first that applies); the built-in order-flow metrics leave out cancelled
and rejected orders; exclusions by status, outcome and closure reason read
and write as JSON like every other field of a definition.
"""

import json
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from histories import PROVIDERS, RESIDENT, STAFF
from resilience import Engine, InvalidInputError, Location
from resilience.domain.incident import IncidentStatus
from resilience.domain.service import OrderStatus
from resilience.domain.values import ClosureReason, IncidentType, ServiceOutcome, Severity
from resilience.metrics import (
    BUILT_IN,
    CYCLE_MILESTONES,
    INCIDENT_MILESTONES,
    ORDER_MILESTONES,
    Case,
    CaseFilter,
    MetricDefinition,
    builtin,
)
from test_cases_cycles import World, at, place, world

__all__ = ["world"]  # the fixture, shared with the tests of cycles


def by_id(engine: Engine) -> dict[UUID, Case]:
    return {UUID(c.case_id): c for c in engine.reports.cases()}


@pytest.fixture
def orders(world: World) -> tuple[Engine, dict[str, UUID]]:
    """Four orders placed at 08:00: fixed, not fixed, cancelled after dispatch, rejected."""
    engine, _, community = world
    run = engine.orders
    made = {name: place(engine, community, at(8, 0))
            for name in ("fixed", "not_fixed", "cancelled", "rejected")}
    for name in ("fixed", "not_fixed", "cancelled"):
        run.accept(made[name], actor=STAFF, occurred_at=at(8, 10))
        run.dispatch(made[name], PROVIDERS[0], actor=STAFF, occurred_at=at(9, 0))
    run.complete(made["fixed"], "fixed", actor=STAFF, occurred_at=at(10, 0))
    run.complete(made["not_fixed"], "not_fixed", "no part", actor=STAFF, occurred_at=at(11, 0))
    run.cancel(made["cancelled"], "resident away", actor=RESIDENT, occurred_at=at(9, 30))
    run.reject(made["rejected"], "not ours", actor=STAFF, occurred_at=at(8, 20))
    return engine, made


def test_the_order_flow_built_ins_leave_out_cancelled_and_rejected_orders(
        orders: tuple[Engine, dict[str, UUID]]) -> None:
    """Placed to dispatched measures the two completed orders, not the cancelled one's 1 h."""
    engine, made = orders
    cases = by_id(engine)
    flow = ["placed_to_dispatched", "dispatched_to_completed", "placed_to_completed",
            "completion_vs_expected"]
    for name in flow:
        definition = builtin(name)
        assert definition.applies_to.exclude_statuses == ("cancelled", "rejected")
        reasons = {n: definition.applies_to.why_excluded(cases[o]) for n, o in made.items()}
        assert reasons == {"fixed": None, "not_fixed": None, "cancelled": "cancelled",
                           "rejected": "rejected"}
        assert [definition.measure(cases[made[n]]) for n in ("fixed", "not_fixed")] == {
            "placed_to_dispatched": [1, 1], "dispatched_to_completed": [1, 2],
            "placed_to_completed": [2, 3], "completion_vs_expected": [-2, -1]}[name]
    assert [m.name for m in BUILT_IN if m.applies_to.exclude_statuses] == flow


def test_each_reason_is_the_first_that_applies(orders: tuple[Engine, dict[str, UUID]]) -> None:
    """Dimension, status, outcome, then a required milestone: one stable reason each."""
    engine, made = orders
    cases = by_id(engine)
    fixed, not_fixed = cases[made["fixed"]], cases[made["not_fixed"]]
    rejected = cases[made["rejected"]]
    assert CaseFilter(exclude_outcomes=("not_fixed",)).why_excluded(not_fixed) == (
        "outcome not_fixed")
    assert CaseFilter(exclude_outcomes=("not_fixed",)).why_excluded(fixed) is None
    assert CaseFilter(requires=("first_dispatched",)).why_excluded(rejected) == (
        "no first_dispatched")
    assert CaseFilter(exclude_statuses=("rejected",), requires=("first_dispatched",)
                      ).why_excluded(rejected) == "rejected"
    assert CaseFilter(categories=("meals",), exclude_statuses=("rejected",)
                      ).why_excluded(rejected) == "category home"
    assert CaseFilter(incident_types=("fire",)).why_excluded(fixed) == "incident_type unknown"
    assert CaseFilter().why_excluded(rejected) is None
    assert CaseFilter(exclude_statuses=("completed",)).admits(fixed) is False


def test_incidents_are_left_out_by_drill_closure_and_status(world: World) -> None:
    """A drill, a false alarm, a duplicate; an open fire by its status."""
    engine, _, community = world
    run = engine.incidents

    def detect(kind: str = "fire", drill: bool = False) -> UUID:
        return run.detect(community, incident_type=kind, severity="high",
                          location=Location(grid="g1"), description="smoke", actor=STAFF,
                          occurred_at=at(10, 0), drill=drill).aggregate_id

    drill, alarm, duplicate, open_fire, medical = (
        detect(drill=True), detect(), detect(), detect(), detect("medical"))
    run.close(alarm, "false_alarm", actor=STAFF, occurred_at=at(10, 5))
    run.close(duplicate, "duplicate", actor=STAFF, occurred_at=at(10, 5))
    run.contain(open_fire, "out", actor=STAFF, occurred_at=at(10, 9))
    cases = by_id(engine)
    real = CaseFilter(exclude_closures=("false_alarm", "duplicate"),
                      exclude_statuses=("contained",), incident_types=("fire",))
    assert {name: real.why_excluded(cases[i]) for name, i in (
        ("drill", drill), ("alarm", alarm), ("duplicate", duplicate), ("open", open_fire),
        ("medical", medical))} == {
        "drill": "drill", "alarm": "closed as false_alarm", "duplicate": "closed as duplicate",
        "open": "contained", "medical": "incident_type medical"}
    assert attrs.evolve(real, include_drills=True).why_excluded(cases[drill]) is None


@pytest.mark.parametrize(("field", "names", "message"), [
    ("exclude_statuses", ("canceled",), "unknown exclude_statuses"),
    ("exclude_outcomes", ("broken",), "unknown exclude_outcomes"),
    ("exclude_closures", ("false alarm",), "unknown exclude_closures"),
    ("exclude_closures", "duplicate", "a filter takes a list of names"),
])
def test_an_exclusion_naming_nothing_known_is_refused(field: str, names: Any,
                                                      message: str) -> None:
    """Each exclusion lists names of its enum; one string is not a list."""
    with pytest.raises(InvalidInputError, match=message):
        CaseFilter(**{field: names})
    data = {"name": "x", "subject": "order", "start": "placed", "end": "completed",
            "applies_to": {field: list(names) if isinstance(names, tuple) else names}}
    with pytest.raises(InvalidInputError, match=r"not a metric definition|a filter takes"):
        MetricDefinition.from_dict(data)


@pytest.mark.parametrize(("subject", "applies_to", "message"), [
    ("incident", CaseFilter(exclude_statuses=("cancelled",)), "no status of an incident"),
    ("order", CaseFilter(exclude_statuses=("contained",)), "no status of an order"),
    ("incident", CaseFilter(exclude_outcomes=("fixed",)), "exclude_outcomes applies to orders"),
    ("order", CaseFilter(exclude_closures=("duplicate",)),
     "exclude_closures applies to incidents"),
])
def test_an_exclusion_no_case_of_the_subject_can_meet_is_refused(
        subject: str, applies_to: CaseFilter, message: str) -> None:
    """It would leave out nothing: a mistake worth saying."""
    start, end = ("detected", "contained") if subject == "incident" else ("placed", "completed")
    with pytest.raises(InvalidInputError, match=message):
        MetricDefinition("x", subject, start, end, applies_to=applies_to)  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", ["no", "false", 0, 1, None])
def test_include_drills_that_is_not_true_or_false_is_refused_in_python_as_in_json(
        flag: Any) -> None:
    """A truthy "no" would include the drills: refused, as the JSON path refuses it."""
    with pytest.raises(InvalidInputError, match="include_drills must be True or False"):
        CaseFilter(include_drills=flag)
    data = {"name": "x", "subject": "incident", "start": "detected", "end": "contained",
            "applies_to": {"include_drills": flag}}
    with pytest.raises(InvalidInputError, match="include_drills must be true or false"):
        MetricDefinition.from_dict(data)
    assert CaseFilter(include_drills=True).include_drills is True


def test_old_json_without_exclusions_still_loads() -> None:
    """A filter written before the exclusions existed reads with none."""
    old = {"name": "x", "subject": "order", "start": "placed", "end": "completed",
           "applies_to": {"categories": ["home"], "include_drills": False}}
    loaded = MetricDefinition.from_dict(old)
    assert (loaded.applies_to.exclude_statuses, loaded.applies_to.exclude_outcomes,
            loaded.applies_to.exclude_closures) == ((), (), ())
    assert json.loads(loaded.to_json())["applies_to"]["exclude_statuses"] == []


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=8)


def names(values: Any) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from([str(v) for v in values]), max_size=3,
                    unique=True).map(tuple)


@st.composite
def definitions(draw: st.DrawFn) -> MetricDefinition:
    """Any valid definition, with exclusions and a unit per case or per reopening."""
    subject = draw(st.sampled_from(["incident", "order"]))
    per = draw(st.sampled_from(["case", "reopening"]))
    known = list(CYCLE_MILESTONES[subject] if per == "reopening" else
                 INCIDENT_MILESTONES if subject == "incident" else ORDER_MILESTONES)
    start, end = draw(st.lists(st.sampled_from(known), min_size=2, max_size=2, unique=True))
    incident = subject == "incident"
    applies_to = CaseFilter(
        incident_types=draw(names(IncidentType)), severities=draw(names(Severity)),
        categories=draw(st.lists(TEXT.filter(bool), max_size=2).map(tuple)),
        include_drills=draw(st.booleans()),
        requires=draw(st.lists(st.sampled_from(known), max_size=2, unique=True).map(tuple)),
        exclude_statuses=draw(names(IncidentStatus if incident else OrderStatus)),
        exclude_outcomes=() if incident else draw(names(ServiceOutcome)),
        exclude_closures=draw(names(ClosureReason)) if incident else ())
    target = draw(st.none() | st.floats(-1e6, 1e6, allow_nan=False))
    return MetricDefinition(
        draw(TEXT.filter(str.strip)), subject, start, end,  # type: ignore[arg-type]
        unit=draw(st.sampled_from(["s", "min", "h", "d"])), target=target,
        percentile=draw(st.floats(0.5, 100)), applies_to=applies_to,
        description=draw(TEXT), per=per)  # type: ignore[arg-type]


@given(definitions())
def test_every_definition_round_trips_through_json(definition: MetricDefinition) -> None:
    """``per`` and the exclusions included: from_json(to_json(d)) == d."""
    assert MetricDefinition.from_json(definition.to_json()) == definition
    assert MetricDefinition.from_dict(json.loads(definition.to_json())) == definition
