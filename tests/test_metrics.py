"""Metrics by example: the Donghu fire, Xiangyang orders, definitions, statistics, leagues."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from attrs import evolve

from histories import PROVIDERS, RESIDENT, setup_world
from resilience import (
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    ManualClock,
    NotFoundError,
    NotInReportError,
    ResilienceError,
)
from resilience.domain.validation import LATEST
from resilience.metrics import (
    BUILT_IN,
    SCORECARD,
    CaseFilter,
    MetricDefinition,
    Period,
    builtin,
    median,
    percentile,
)
from resilience.metrics.reports import summarise
from resilience.scenario import ReplayResult, replay_file
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS

from conftest import OFFICE, SHANGHAI, T0


def at(hour: int, minute: int, day: int = 15, month: int = 2) -> datetime:
    return datetime(2022, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def donghu(memory_engine: Engine) -> tuple[Engine, ReplayResult]:
    """The shipped Donghu fire, replayed into a fresh in-memory engine."""
    return memory_engine, replay_file(memory_engine, DONGHU_FIRE)


@pytest.fixture
def xiangyang(memory_engine: Engine) -> tuple[Engine, ReplayResult]:
    """The shipped day of Xiangyang service orders, replayed into a fresh in-memory engine."""
    return memory_engine, replay_file(memory_engine, XIANGYANG_ORDERS)


@pytest.fixture
def grids(memory_engine: Engine, clock: ManualClock) -> tuple[Engine, list[UUID]]:
    """Two communities, East and West, each with grids g1 and g2."""
    world = setup_world(memory_engine, clock)
    return memory_engine, world.communities


def contained_after(engine: Engine, community: UUID, grid: str, minutes: float,
                    detected: datetime) -> None:
    """Record a fire in ``grid`` detected at ``detected`` and contained ``minutes`` later."""
    receipt = engine.incidents.detect(
        community, incident_type="fire", severity="high", description="smoke",
        location=Location(grid=grid, building=f"{grid}-b", unit="1"), actor=OFFICE,
        occurred_at=detected)
    engine.incidents.contain(receipt.aggregate_id, actor=OFFICE,
                             occurred_at=detected + timedelta(minutes=minutes))


# The Donghu fire -------------------------------------------------------------------------


def test_donghu_contained_in_12_minutes_after_the_correction(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """Detection to containment is 12 min (the 15:14 containment corrected to 15:12): target met."""
    engine, _ = donghu
    row = engine.metrics("detection_to_contained").rows[0]
    assert row.group == {}
    assert (row.cases, row.measured) == (1, 1)
    assert (row.median, row.p90, row.max) == (12, 12, 12)
    assert (row.target, row.compliance, row.target_met) == (15, 1.0, True)
    (correction,) = engine.data_quality().corrections
    assert (correction.before, correction.after) == (at(15, 14), at(15, 12))
    assert correction.before is not None
    assert correction.before - at(15, 0) == timedelta(minutes=14)  # what it read before


def test_donghu_turnout_and_travel_of_the_first_dispatched_unit(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """Turnout 60 s, travel 120 s: the grid leader on patrol at 15:00 is not a dispatched unit."""
    engine, _ = donghu
    turnout, travel = engine.metrics("turnout").rows[0], engine.metrics("travel").rows[0]
    assert (turnout.median, turnout.target_met) == (60, True)
    assert (travel.median, travel.target_met) == (120, True)
    on_scene = engine.metrics("on_scene_to_contained").rows[0]
    assert on_scene.median == 12  # from the patrol's arrival at 15:00, who does count here


def test_donghu_scorecard_of_grid_3(donghu: tuple[Engine, ReplayResult]) -> None:
    """Grid 3's scorecard has the fire, its graded metrics and its lock repair (placed 16:40,
    completed 11:00 the next day; rated at 12:00, 21 h after detection); grid 1's has
    nothing measured."""
    engine, result = donghu
    card = engine.scorecard(result.community_id, "3")
    assert (card.community_name, card.grid, card.grid_name) == ("Donghu Community", "3", "Grid 3")
    assert (card.counts.incidents, card.counts.by_type, card.counts.by_severity) == (
        1, {"fire": 1}, {"high": 1})
    assert card.counts.drills == 0
    assert [m.metric for m in card.metrics] == [d.name for d in SCORECARD]
    assert card.metric("detection_to_contained").median == 12
    assert card.metric("turnout").median == 60
    assert card.metric("travel").median == 120
    assert card.metric("detection_to_resolved").median == 30
    assert card.metric("placed_to_completed").median == pytest.approx(18 + 20 / 60)
    assert card.metric("detection_to_recovered").median == 21
    assert card.service.orders == 1
    rendered = card.render()
    assert "Donghu Community, Grid 3" in rendered
    assert "Incidents: 1 (fire 1), drills 0" in rendered
    other = engine.scorecard(result.community_id, "1")
    assert other.counts.incidents == 0
    assert all(m.measured == 0 for m in other.metrics)
    with pytest.raises(NotFoundError):
        engine.scorecard(result.community_id, "9")
    with pytest.raises(NotFoundError):
        engine.scorecard(UUID(int=7))


def test_donghu_data_quality_lists_three_late_records_and_the_correction(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """Consent 15:07, entry 15:08 and source 15:09 were recorded at 15:25; one correction;
    the lock repair ordered from the incident is a case, recorded in time, and so is the
    storage-room hazard recorded after the fire."""
    engine, result = donghu
    report = engine.data_quality()
    incident = str(result.incidents["donghu-fire"])
    assert report.cases == 3
    assert [(r.case_id, r.fact, r.occurred_at, r.recorded_at) for r in report.late] == [
        (incident, "ConsentGranted", at(15, 7), at(15, 25)),
        (incident, "ForcedEntryMade", at(15, 8), at(15, 25)),
        (incident, "SourceFound", at(15, 9), at(15, 25)),
    ]
    assert [r.delay for r in report.late] == [timedelta(minutes=m) for m in (18, 17, 16)]
    (correction,) = report.corrections
    assert (correction.case_id, correction.fact, correction.what) == (incident, "Contained", "time")
    assert "all-clear call at 15:12" in correction.reason
    assert not report.missing
    assert not report.out_of_order
    assert not report.is_clean
    rendered = report.render()
    assert "Recorded more than 15 min late (3)" in rendered
    assert "Corrections (1)" in rendered
    assert [r.fact for r in engine.data_quality(late_after=timedelta(minutes=16)).late] == [
        "ConsentGranted", "ForcedEntryMade"]  # 16 min late is not *more* than 16
    assert engine.data_quality(late_after=timedelta(minutes=18)).late == ()
    with pytest.raises(InvalidInputError):
        engine.data_quality(late_after=timedelta(minutes=-1))


def test_turnout_and_travel_follow_one_responders_chain_even_after_a_correction(
        grids: tuple[Engine, list[UUID]]) -> None:
    """The first dispatched responder to arrive sets both segments; a correction can change who."""
    engine, (east, _) = grids
    run = engine.incidents
    fire = run.detect(east, incident_type="fire", severity="high", description="smoke",
                      location=Location(grid="g1"), actor=OFFICE, occurred_at=T0).aggregate_id
    run.dispatch(fire, ["a"], actor=OFFICE, occurred_at=T0 + timedelta(minutes=1))
    run.dispatch(fire, ["b"], actor=OFFICE, occurred_at=T0 + timedelta(minutes=2))
    run.en_route(fire, "a", actor=OFFICE, occurred_at=T0 + timedelta(minutes=2))
    run.arrive(fire, "patrol", actor=OFFICE, occurred_at=T0 + timedelta(minutes=3))
    run.en_route(fire, "b", actor=OFFICE, occurred_at=T0 + timedelta(minutes=5))
    b_on_scene = run.arrive(fire, "b", actor=OFFICE, occurred_at=T0 + timedelta(minutes=8))
    run.arrive(fire, "a", actor=OFFICE, occurred_at=T0 + timedelta(minutes=10))
    run.contain(fire, actor=OFFICE, occurred_at=T0 + timedelta(minutes=13))
    assert engine.metrics("turnout").row().median == 180  # b: 00:02 -> 00:05, not 00:01 -> 00:02
    assert engine.metrics("travel").row().median == 180  # b: 00:05 -> 00:08
    assert engine.metrics("acknowledge_to_dispatch").row().measured == 0  # never acknowledged
    assert engine.metrics("on_scene_to_contained").row().median == 10  # the patrol at 00:03
    run.correct_time(fire, b_on_scene.first_version, T0 + timedelta(minutes=11), "radio log",
                     actor=OFFICE)
    assert engine.metrics("turnout").row().median == 60  # now a arrived first (00:10)
    assert engine.metrics("travel").row().median == 480


def test_a_reopening_corrected_to_earlier_moves_the_resolution_that_follows(
        grids: tuple[Engine, list[UUID]]) -> None:
    """"Since the last reopening" follows the corrected times; a correction that would put
    the resolution before the reopening is refused and changes no metric."""
    engine, (east, _) = grids
    run = engine.incidents
    gas = run.detect(east, incident_type="gas", severity="low", description="smell",
                     location=Location(grid="g1"), actor=OFFICE, occurred_at=T0).aggregate_id
    run.resolve(gas, "valve shut", actor=OFFICE, occurred_at=T0 + timedelta(minutes=10))
    run.close(gas, "resolved", actor=OFFICE, occurred_at=T0 + timedelta(minutes=15))
    reopening = run.reopen(gas, "smell again", actor=OFFICE, occurred_at=T0 + timedelta(hours=1))
    second = run.resolve(gas, "pipe fixed", actor=OFFICE,
                         occurred_at=T0 + timedelta(minutes=90))
    assert engine.metrics("detection_to_resolved").row().median == 90
    with pytest.raises(InvalidTransitionError, match="times can't go backwards"):
        run.correct_time(gas, second.first_version, T0 + timedelta(minutes=20), "log",
                         actor=OFFICE)
    assert engine.metrics("detection_to_resolved").row().median == 90
    run.correct_time(gas, reopening.first_version, T0 + timedelta(minutes=16), "log",
                     actor=OFFICE)
    run.correct_time(gas, second.first_version, T0 + timedelta(minutes=20), "log", actor=OFFICE)
    order = [e.version for e in engine.timeline(gas).entries]
    assert order.index(reopening.first_version) < order.index(second.first_version)
    assert engine.metrics("detection_to_resolved").row().median == 20


def test_a_reopened_order_loses_its_completion_and_rating_until_done_again(
        grids: tuple[Engine, list[UUID]]) -> None:
    """Reopening clears the standing completion and its rating; the next completion counts."""
    engine, (east, _) = grids
    orders, provider = engine.orders, PROVIDERS[0]
    order = orders.place(east, household_id="hh", area_id="g1-b/1", category="home",
                         item="repair", actor=RESIDENT, occurred_at=T0,
                         expected_by=T0 + timedelta(hours=4)).aggregate_id
    orders.accept(order, actor=OFFICE, occurred_at=T0 + timedelta(minutes=5))
    orders.dispatch(order, provider, actor=OFFICE, occurred_at=T0 + timedelta(minutes=10))
    orders.complete(order, "fixed", actor=OFFICE, occurred_at=T0 + timedelta(hours=1))
    orders.rate(order, 5, actor=RESIDENT, occurred_at=T0 + timedelta(hours=2))
    orders.reopen(order, "leaks again", actor=RESIDENT, occurred_at=T0 + timedelta(hours=3))
    (kpis,) = engine.service_kpis()
    assert (kpis.open, kpis.completed, kpis.rated, kpis.reopened) == (1, 0, 0, 1)
    assert kpis.reopen_rate == 1.0
    assert engine.metrics("placed_to_completed").row().measured == 0
    assert engine.metrics("dispatched_to_completed").row().median == pytest.approx(50 / 60)
    orders.dispatch(order, provider, actor=OFFICE, occurred_at=T0 + timedelta(hours=3))
    orders.complete(order, "not_fixed", "needs a new pipe", actor=OFFICE,
                    occurred_at=T0 + timedelta(hours=5))
    (kpis,) = engine.service_kpis()
    assert (kpis.open, kpis.completed, kpis.fixed, kpis.not_fixed, kpis.on_time) == (
        0, 1, 0, 1, 0)
    assert (kpis.rated, kpis.rating_mean) == (0, None)
    assert engine.metrics("placed_to_completed").row().median == 5
    assert engine.metrics("completion_vs_expected").row().median == 1  # an hour late
    (counts,) = engine.counts()
    assert counts.requests_resolved == 0  # not fixed in the end


# Xiangyang orders --------------------------------------------------------------------------


def test_xiangyang_service_kpis(xiangyang: tuple[Engine, ReplayResult]) -> None:
    """Nine orders: six completed (five fixed), one reopened, five on time, ratings 2 to 5."""
    engine, _ = xiangyang
    (kpis,) = engine.service_kpis()
    assert (kpis.orders, kpis.open, kpis.rejected, kpis.cancelled) == (9, 1, 1, 1)
    assert (kpis.completed, kpis.fixed, kpis.not_fixed) == (6, 5, 1)
    assert kpis.fixed_rate == pytest.approx(5 / 6)
    assert kpis.not_fixed_rate == pytest.approx(1 / 6)
    assert kpis.reopened == 1
    assert kpis.reopen_rate == pytest.approx(1 / 6)
    assert kpis.on_time == 5  # meal-2 was late
    assert kpis.on_time_rate == pytest.approx(5 / 6)
    assert kpis.rated == 6
    assert kpis.rating_mean == pytest.approx(23 / 6)
    assert kpis.ratings == {1: 0, 2: 1, 3: 1, 4: 2, 5: 2}
    old_estates = next(s for s in engine.service_kpis(group_by=("grid",))
                       if s.group == {"grid": "xy-2"})
    assert (old_estates.orders, old_estates.completed, old_estates.on_time) == (4, 3, 2)
    assert old_estates.reopen_rate == pytest.approx(1 / 3)
    assert old_estates.rating_mean == 4.0


def test_xiangyang_order_metrics_use_the_final_completion(
        xiangyang: tuple[Engine, ReplayResult]) -> None:
    """The reopened repair: first dispatch to first completion 85 min, placed to final 5 h."""
    engine, _ = xiangyang
    report = engine.metrics("placed_to_completed", group_by=("provider",))
    assert report.row(provider="p-6201").median == 5  # 08:00 -> 13:00; meal-3 is open
    assert report.row(provider="p-6201").cases == 2
    first = engine.metrics("dispatched_to_completed", group_by=("provider",))
    assert first.row(provider="p-6201").median == pytest.approx(85 / 60)
    late = engine.metrics("completion_vs_expected").rows[0]
    assert late.max == pytest.approx(50 / 60)  # meal-2: 13:10 against 12:20
    assert late.measured == 6
    assert late.compliance == pytest.approx(5 / 6)
    assert late.target_met is False
    # The two orders never dispatched (provider unknown) were cancelled and rejected: the
    # order-flow metrics leave them out, so their group has no row; the rates count them.
    assert report.excluded == {"cancelled": 1, "rejected": 1}
    with pytest.raises(NotInReportError, match="no row for provider"):
        report.row(provider=None)
    rates = engine.rates(group_by=("provider",))
    assert rates.rows[-1].group == {"provider": None}  # unknown last
    assert (rates.rows[-1].orders, rates.rows[-1].cancelled) == (2, 1)


def test_xiangyang_counts(xiangyang: tuple[Engine, ReplayResult]) -> None:
    """Requests resolved are the five fixed orders; person-times add activities' participants."""
    engine, _ = xiangyang
    actions = json.loads(XIANGYANG_ORDERS.read_text(encoding="utf-8"))["actions"]
    held = [a["participants"] for a in actions if a["do"] == "hold_activity"]
    (counts,) = engine.counts()
    assert (counts.incidents, counts.orders, counts.requests_resolved) == (0, 9, 5)
    assert (counts.activities_held, counts.activity_participants) == (len(held), sum(held))
    assert counts.person_times_served == sum(held) + 5


# Definitions as data -----------------------------------------------------------------------


@pytest.mark.parametrize(("change", "says"), [
    ({"start": "noticed"}, "'noticed' is not a milestone"),
    ({"end": "completed"}, "'completed' is not a milestone of an incident"),
    ({"end": "detected"}, "the same milestone"),
    ({"unit": "minutes"}, "unit"),
    ({"percentile": 0}, "percentile"),
    ({"percentile": 100.5}, "percentile"),
    ({"percentile": True}, "percentile"),
    ({"target": "15"}, "target"),
    ({"target": False}, "target"),
    ({"subject": "parcel"}, "subject"),
    ({"name": "  "}, "name"),
    ({"applies_to": {"incident_types": ["fire"]}}, "CaseFilter"),
])
def test_a_definition_with_an_unknown_milestone_unit_or_percentile_is_refused(
        change: dict[str, object], says: str) -> None:
    """MetricDefinition raises InvalidInputError naming what is wrong."""
    fields: dict[str, object] = {"name": "m", "subject": "incident", "start": "detected",
                                 "end": "contained", "unit": "min", "target": 15}
    with pytest.raises(InvalidInputError, match=says):
        MetricDefinition(**(fields | change))  # type: ignore[arg-type]


def test_a_definition_round_trips_through_json() -> None:
    """to_json then from_json gives an equal definition, filter and all; bad JSON is refused."""
    definition = MetricDefinition(
        "turnout_ems", "incident", "first_unit_dispatched", "first_unit_en_route", unit="s",
        target=60, percentile=95, description="EMS turnout",
        applies_to=CaseFilter(incident_types=("medical",), include_drills=True))
    text = definition.to_json()
    assert json.loads(text)["applies_to"]["incident_types"] == ["medical"]
    assert MetricDefinition.from_json(text) == definition
    assert MetricDefinition.from_dict(definition.to_dict()) == definition
    for built_in in BUILT_IN:
        assert MetricDefinition.from_json(built_in.to_json()) == built_in
    with pytest.raises(InvalidInputError, match="not JSON"):
        MetricDefinition.from_json("{name: 1}")
    with pytest.raises(InvalidInputError, match="not a metric definition"):
        MetricDefinition.from_dict(definition.to_dict() | {"colour": "red"})
    with pytest.raises(InvalidInputError):
        MetricDefinition.from_dict(definition.to_dict() | {"end": "closed_door"})
    with pytest.raises(NotFoundError):
        builtin("no_such_metric")


@pytest.mark.parametrize("change", [
    {"target": True}, {"target": "15"}, {"percentile": True}, {"percentile": "90"},
])
def test_from_dict_refuses_what_the_constructor_refuses(change: dict[str, object]) -> None:
    """A bool or text target or percentile is refused from JSON as by the constructor."""
    data = builtin("detection_to_contained").to_dict() | change
    with pytest.raises(InvalidInputError):
        MetricDefinition(**data)
    with pytest.raises(InvalidInputError):
        MetricDefinition.from_dict(data)
    with pytest.raises(InvalidInputError):
        MetricDefinition.from_json(json.dumps(data))


def test_a_filter_given_one_name_as_text_does_not_split_it_into_letters(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """incident_types "fire" is refused or means ("fire",); never ("f", "i", "r", "e")."""
    engine, _ = donghu
    data = builtin("turnout").to_dict() | {"name": "fire_turnout",
                                           "applies_to": {"incident_types": "fire"}}
    text_filter = {"incident_types": "fire"}
    makers: list[Callable[[], MetricDefinition]] = [
        lambda: MetricDefinition.from_dict(data),
        lambda: evolve(builtin("turnout"), applies_to=CaseFilter(**text_filter))]  # type: ignore[arg-type]
    for make in makers:
        try:
            definition = make()
        except InvalidInputError:
            continue
        assert definition.applies_to.incident_types == ("fire",)
        assert engine.metrics(definition).rows[0].cases == 1


def test_a_changed_definition_is_computed_over_all_history_and_compared(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """A 10-min target or a start at the report recomputes at once; compare shows both."""
    engine, _ = donghu
    old = builtin("detection_to_contained")
    assert engine.metrics(old).rows[0].target_met is True
    position = engine.views.position
    tighter = evolve(old, name="contained_within_10", target=10)
    from_report = evolve(old, name="report_to_contained", start="reported")
    assert engine.metrics(tighter).rows[0].target_met is False
    assert engine.metrics(tighter).rows[0].compliance == 0.0
    assert engine.metrics(from_report).rows[0].median == 11  # reported 15:01
    assert engine.views.position == position  # nothing was re-projected
    comparison = engine.compare([old, tighter, from_report])
    assert [r.definition.name for r in comparison.reports] == [
        "detection_to_contained", "contained_within_10", "report_to_contained"]
    assert [r.rows[0].target_met for r in comparison.reports] == [True, False, True]
    rendered = comparison.render()
    for name in ("detection_to_contained", "contained_within_10", "report_to_contained"):
        assert name in rendered
    assert "target 15 min" in rendered
    assert "target 10 min" in rendered
    with pytest.raises(InvalidInputError):
        engine.compare([])


def test_compare_groups_by_a_single_name_given_as_a_string(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """compare(group_by="grid") groups like metrics(group_by="grid"): by grid, not by letters."""
    engine, _ = donghu
    assert engine.metrics("turnout", group_by="grid").rows[0].group == {"grid": "3"}
    (report,) = engine.compare(["turnout"], group_by="grid").reports
    assert [row.group for row in report.rows] == [{"grid": "3"}]


# Statistics ------------------------------------------------------------------------------


def test_median_and_nearest_rank_percentile_on_small_lists() -> None:
    """Median averages the middle pair; p90 of 1..10 is 9 and of 1..11 is 10 (nearest rank)."""
    assert median([]) is None
    assert median([7.0]) == 7
    assert median([1.0, 2.0, 3.0, 4.0]) == 2.5
    assert median([1.0, 2.0, 3.0]) == 2
    assert percentile([float(v) for v in range(1, 11)], 90) == 9
    assert percentile([float(v) for v in range(1, 12)], 90) == 10
    assert percentile([float(v) for v in range(1, 21)], 95) == 19
    assert percentile([float(v) for v in range(1, 11)], 100) == 10
    assert percentile([float(v) for v in range(1, 11)], 1) == 1
    assert percentile([5.0], 90) == 5
    assert percentile([], 90) is None


def test_a_fractional_percentile_is_exact() -> None:
    """64.4% of 250 is exactly 161 cases: p64.4 is the 161st value and 161 meeting it is enough."""
    values = [float(v) for v in range(1, 251)]
    assert percentile(values, 64.4) == 161
    definition = evolve(builtin("detection_to_contained"), target=161, percentile=64.4)
    summary = summarise(definition, values, len(values))
    assert summary.met == 161  # 161 * 100 == 64.4 * 250, so at least 64.4% met the target
    assert summary.target_met is True
    assert summary.at_percentile == 161


# Periods and grouping ----------------------------------------------------------------------


def test_month_and_year_periods_end_where_the_next_begins() -> None:
    """December ends on 1 January of the next year; February on 1 March; years on 1 January."""
    december = Period.month(2022, 12, SHANGHAI)
    assert (december.start, december.end) == (
        datetime(2022, 12, 1, tzinfo=SHANGHAI), datetime(2023, 1, 1, tzinfo=SHANGHAI))
    february = Period.month(2024, 2, SHANGHAI)
    assert february.end == datetime(2024, 3, 1, tzinfo=SHANGHAI)
    year = Period.year(2022, SHANGHAI)
    assert (year.start, year.end) == (
        datetime(2022, 1, 1, tzinfo=SHANGHAI), datetime(2023, 1, 1, tzinfo=SHANGHAI))
    day = Period.day(date(2022, 2, 28), SHANGHAI)
    assert day.end == datetime(2022, 3, 1, tzinfo=SHANGHAI)


def test_a_period_is_half_open() -> None:
    """A period holds its start and not its end; it must end after it starts and be aware."""
    period = Period(T0, T0 + timedelta(hours=1))
    assert T0 in period
    assert T0 + timedelta(hours=1) not in period
    assert T0 + timedelta(minutes=59, seconds=59, microseconds=999999) in period
    assert T0 - timedelta(microseconds=1) not in period
    assert T0 in Period(None, None)
    with pytest.raises(InvalidInputError):
        Period(T0, T0)
    with pytest.raises(InvalidInputError):
        Period(T0, T0 - timedelta(minutes=1))
    with pytest.raises(InvalidInputError):
        Period(datetime(2022, 2, 15), None)


def test_reports_take_cases_by_their_detection_in_a_half_open_period(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """The fire (detected 15:00) is in a period starting 15:00 and not in one ending then."""
    engine, _ = donghu
    assert engine.metrics("turnout", Period(T0, None)).rows[0].cases == 1
    assert engine.metrics("turnout", Period(None, T0)).rows == ()
    assert engine.metrics("turnout", Period.day(date(2022, 2, 15), SHANGHAI)).rows[0].cases == 1
    assert engine.metrics("turnout", Period.month(2022, 3, SHANGHAI)).rows == ()
    # In UTC the fire happened at 07:00 on the same day: the same instant, the same answer.
    utc_day = Period(datetime(2022, 2, 15, 7, tzinfo=ZoneInfo("UTC")), None)
    assert engine.metrics("turnout", utc_day).rows[0].cases == 1
    by_month = engine.metrics("turnout", group_by=("month", "grid"))
    assert [r.group for r in by_month.rows] == [{"month": "2022-02", "grid": "3"}]
    (before,) = engine.counts(Period(None, T0))  # nothing yet: one row of zeros
    assert (before.incidents, before.orders, before.activities_held) == (0, 0, 0)


def test_the_last_day_month_and_year_of_the_range_can_be_asked_for_in_any_zone(
        memory_engine: Engine, clock: ManualClock) -> None:
    """A period may end a day past the range (LATEST): the last month, year and day of 2199
    are periods in UTC, New York or Shanghai, and a fact in the last hour is in them."""
    new_york = ZoneInfo("America/New_York")
    last = Period.month(2199, 12, UTC)
    assert (last.start, last.end) == (datetime(2199, 12, 1, tzinfo=UTC), LATEST)
    assert Period.year(2199, UTC).end == LATEST
    assert Period.year(2199, new_york).end == datetime(2200, 1, 1, tzinfo=new_york)
    # Ends 05:00 UTC on 1 January 2200; starts on 31 December 1899 in UTC.
    assert Period.day(date(2199, 12, 31), new_york) == Period(
        datetime(2199, 12, 31, tzinfo=new_york), datetime(2200, 1, 1, tzinfo=new_york))
    assert Period.month(1900, 1, SHANGHAI) == Period(
        datetime(1900, 1, 1, tzinfo=SHANGHAI), datetime(1900, 2, 1, tzinfo=SHANGHAI))
    assert Period(None, LATEST + timedelta(hours=23)).end is not None
    with pytest.raises(InvalidInputError, match="year must be a whole number from 1900 to 2199"):
        Period.year(2200, UTC)
    with pytest.raises(InvalidInputError, match="period end must be from"):
        Period(None, LATEST + timedelta(days=1))

    engine = memory_engine
    clock.set(LATEST - timedelta(minutes=1))
    c = engine.communities.register(district="d", subdistrict="s", name="n",
                                    actor=OFFICE).aggregate_id
    engine.incidents.report(c, incident_type="fire", severity="high", location=Location(),
                            description="x", actor=OFFICE)
    for period in (last, Period.year(2199, new_york), Period.day(date(2199, 12, 31), UTC)):
        assert [row.incidents for row in engine.counts(period)] == [1]
    assert engine.metrics("turnout", last, known_at=LATEST).period == last


@pytest.mark.parametrize("tz", ["UTC", "Asia/Shanghai", 8, None, timedelta(hours=8)])
def test_a_period_in_a_zone_that_is_not_a_time_zone_says_what_a_zone_is(tz: object) -> None:
    """``Period.month(2022, 2, "UTC")`` names the argument and shows a ZoneInfo, not a
    "no such month" from datetime's own message."""
    zone: Any = tz
    makes: list[Callable[[], Period]] = [
        lambda: Period.month(2022, 2, zone), lambda: Period.year(2022, zone),
        lambda: Period.day(date(2022, 2, 15), zone)]
    for make in makes:
        with pytest.raises(InvalidInputError,
                           match=r"^tz must be a time zone .*ZoneInfo\('Asia/Shanghai'\)"):
            make()


def test_a_grid_or_a_grouping_of_the_wrong_type_is_invalid_input(
        grids: tuple[Engine, list[UUID]]) -> None:
    """A scorecard of grid 3 (a number) is InvalidInputError, not "no grid 3; its grids: 3";
    a group_by that is not a list of names is InvalidInputError, not a TypeError."""
    engine, communities = grids
    with pytest.raises(InvalidInputError, match="grid must be text, got int 3"):
        engine.scorecard(communities[0], grid=3)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="has no grid '3'"):
        engine.scorecard(communities[0], grid="3")
    for group_by in (5, {"grid"}, [3], iter(["grid"])):
        with pytest.raises(InvalidInputError, match="group_by"):
            engine.metrics("turnout", group_by=group_by)  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "group_by"), [
    ("metrics", ("colour",)), ("metrics", ("provider",)), ("metrics", ("grid", "grid")),
    ("service", ("incident_type",)), ("counts", ("incident_type",)), ("counts", ("category",)),
])
def test_grouping_by_an_unknown_dimension_is_refused(
        donghu: tuple[Engine, ReplayResult], query: str, group_by: tuple[str, ...]) -> None:
    """An unknown, foreign or repeated group_by name raises InvalidInputError."""
    engine, _ = donghu
    runs: dict[str, Callable[[], object]] = {
        "metrics": lambda: engine.metrics("turnout", group_by=group_by),
        "service": lambda: engine.service_kpis(group_by=group_by),
        "counts": lambda: engine.counts(group_by=group_by)}
    with pytest.raises(InvalidInputError):
        runs[query]()


# League tables -----------------------------------------------------------------------------


def test_a_grid_with_one_fast_case_is_not_ranked_under_the_minimum_sample(
        grids: tuple[Engine, list[UUID]]) -> None:
    """One 1-minute fire doesn't top the league; a grid with ten 10-minute fires is ranked."""
    engine, (east, _) = grids
    contained_after(engine, east, "g1", 1, T0)
    for n in range(10):
        contained_after(engine, east, "g2", 10, T0 + timedelta(hours=n))
    table = engine.league_table("detection_to_contained")
    ranked = [(r.rank, r.name) for r in table.rows if r.rank is not None]
    assert ranked == [(1, "East / Grid g2")]
    fast = next(r for r in table.rows if r.grid == "g1" and r.community == str(east))
    assert (fast.rank, fast.summary.measured, fast.summary.median) == (None, 1, 1)
    assert fast.note == "not ranked: 1 < 10 cases"
    assert len(table.rows) == 4  # West's grids are listed, unranked, too
    assert "East / Grid g2" in table.render()
    by_community = engine.league_table("detection_to_contained", level="community")
    top = by_community.rows[0]
    assert (top.rank, top.name, top.summary.measured) == (1, "East", 11)
    with pytest.raises(InvalidInputError):
        engine.league_table("detection_to_contained", min_sample=0)
    with pytest.raises(InvalidInputError):
        engine.league_table("detection_to_contained", level="district")


def test_a_league_table_uses_only_each_grids_latest_cases(
        grids: tuple[Engine, list[UUID]]) -> None:
    """With last=10 the oldest (slow) fires fall out, though recorded last; the newest counts."""
    engine, (east, _) = grids
    for n in range(9):
        contained_after(engine, east, "g1", 5, T0 + timedelta(days=1, hours=n))
    engine.incidents.detect(  # the newest fire, its containment not (yet) recorded
        east, incident_type="fire", severity="high", description="smoke",
        location=Location(grid="g1"), actor=OFFICE, occurred_at=T0 + timedelta(days=2))
    for n in range(2):  # older fires, entered afterwards from the paper log
        contained_after(engine, east, "g1", 60, T0 + timedelta(hours=n))

    def east_g1(last: int | None) -> tuple[int, int, float | None]:
        table = engine.league_table("detection_to_contained", last=last, min_sample=1)
        row = next(r for r in table.rows if r.grid == "g1" and r.community == str(east))
        return row.summary.cases, row.summary.measured, row.summary.max

    assert east_g1(10) == (10, 9, 5)  # the uncontained newest one is missing, not skipped
    assert east_g1(11) == (11, 10, 60)
    assert east_g1(None) == (12, 11, 60)


def test_tied_grids_share_a_rank_and_the_next_rank_is_skipped(
        grids: tuple[Engine, list[UUID]]) -> None:
    """Two grids with equal figures are both first; the next grid is third."""
    engine, (east, west) = grids
    contained_after(engine, east, "g1", 5, T0)
    contained_after(engine, east, "g2", 5, T0 + timedelta(hours=1))
    contained_after(engine, west, "g1", 9, T0 + timedelta(hours=2))
    table = engine.league_table("detection_to_contained", min_sample=1)
    assert [(r.rank, r.name) for r in table.rows] == [
        (1, "East / Grid g1"), (1, "East / Grid g2"), (3, "West / Grid g1"),
        (None, "West / Grid g2")]


# Activities ------------------------------------------------------------------------------


@pytest.mark.parametrize(("participants", "grid", "error"), [
    (-1, "g1", InvalidInputError), (True, "g1", InvalidInputError),
    (2.5, "g1", InvalidInputError), (10, "g9", NotFoundError),
    (10, "g1-b", InvalidInputError),
])
def test_hold_activity_refuses_bad_participants_or_grid_and_records_nothing(
        grids: tuple[Engine, list[UUID]], participants: object, grid: str,
        error: type[ResilienceError]) -> None:
    """Negative or non-whole participants, an unknown grid or a non-grid area: an error, no fact."""
    engine, (east, _) = grids
    before = len(engine.events(east))
    with pytest.raises(error):
        engine.communities.hold_activity(east, title="health talk", category="health",
                                         participants=participants,  # type: ignore[arg-type]
                                         grid=grid, actor=OFFICE)
    assert len(engine.events(east)) == before
    (nothing,) = engine.counts()
    assert nothing.activities_held == 0
    engine.communities.hold_activity(east, title="health talk", category="health",
                                     participants=0, grid="g1", actor=OFFICE)
    (counts,) = engine.counts()
    assert (counts.activities_held, counts.activity_participants) == (1, 0)


def test_leaving_slow_cases_unrecorded_never_climbs_the_league(
        grids: tuple[Engine, list[UUID]]) -> None:
    """A finished case without its containment ranks as slower than any recorded one."""
    engine, (east, _) = grids
    for grid in ("g1", "g2"):
        for n in range(8):
            contained_after(engine, east, grid, 10, T0 + timedelta(hours=n))
    for n in range(2):
        contained_after(engine, east, "g1", 40, T0 + timedelta(days=1, hours=n))  # honest
        unrecorded = engine.incidents.detect(
            east, incident_type="fire", severity="high", description="smoke",
            location=Location(grid="g2"), actor=OFFICE,
            occurred_at=T0 + timedelta(days=1, hours=n)).aggregate_id
        engine.incidents.resolve(unrecorded, "out", actor=OFFICE,  # no containment recorded
                                 occurred_at=T0 + timedelta(days=1, hours=n, minutes=50))
    table = engine.league_table("detection_to_contained", level="grid", community=east)
    rows = {r.grid: r for r in table.rows}
    assert (rows["g2"].summary.compliance, rows["g2"].compliance) == (1.0, 0.8)
    assert (rows["g2"].unrecorded, rows["g2"].graded) == (2, 10)
    assert (rows["g1"].compliance, rows["g1"].unrecorded) == (0.8, 0)
    assert rows["g1"].rank == 1  # the honest grid is not behind: its p90 is 40, g2's unknown
    assert rows["g2"].rank == 2
    assert "unrecorded" in table.render()


def test_turnout_applies_only_to_incidents_that_dispatched_someone(
        grids: tuple[Engine, list[UUID]]) -> None:
    """An incident handled without a dispatch is outside turnout, not a gap in its data."""
    engine, (east, _) = grids
    contained_after(engine, east, "g1", 5, T0)
    (handled,) = engine.reports.cases(subject="incident")
    engine.incidents.resolve(UUID(handled.case_id), "out", actor=OFFICE,
                             occurred_at=T0 + timedelta(minutes=9))
    fire = engine.incidents.detect(east, incident_type="fire", severity="high",
                                   description="smoke", location=Location(grid="g1"),
                                   actor=OFFICE, occurred_at=T0 + timedelta(hours=1)).aggregate_id
    engine.incidents.dispatch(fire, ["squad"], actor=OFFICE,
                              occurred_at=T0 + timedelta(hours=1, minutes=1))
    engine.incidents.resolve(fire, "out", actor=OFFICE, occurred_at=T0 + timedelta(hours=2))
    assert engine.metrics("turnout").row().cases == 1
    missing = {m.case_id: m.ungraded for m in engine.data_quality().missing}
    assert missing[str(fire)] == ("turnout", "travel", "detection_to_contained")
    assert len(missing) == 1  # the undispatched fire is not flagged for turnout


def test_month_groups_are_cut_in_the_periods_zone(grids: tuple[Engine, list[UUID]]) -> None:
    """A fire at 03:00 Shanghai on 1 February recorded in UTC falls in February's group."""
    engine, (east, _) = grids
    early = datetime(2022, 2, 1, 3, 0, tzinfo=SHANGHAI).astimezone(ZoneInfo("UTC"))
    contained_after(engine, east, "g1", 5, early)
    february = Period.month(2022, 2, SHANGHAI)
    (row,) = engine.metrics("detection_to_contained", february, ["month"]).rows
    assert row.group == {"month": "2022-02"}
    (own_offset,) = engine.metrics("detection_to_contained", group_by=["month"]).rows
    assert own_offset.group == {"month": "2022-01"}  # as recorded, in UTC
    (counted,) = engine.counts(february, ["day"])
    assert counted.group == {"day": "2022-02-01"}
    (utc,) = engine.metrics("detection_to_contained", february, ["day"],
                            tz=ZoneInfo("UTC")).rows
    assert utc.group == {"day": "2022-01-31"}


def test_queries_refuse_an_unknown_community_or_view(grids: tuple[Engine, list[UUID]]) -> None:
    """An unknown community is NotFoundError everywhere; an unknown view InvalidInputError."""
    engine, _ = grids
    stranger = UUID(int=7)
    for query in (lambda: engine.metrics("turnout", community=stranger),
                  lambda: engine.compare(["turnout"], community=stranger),
                  lambda: engine.service_kpis(community=stranger),
                  lambda: engine.counts(community=stranger),
                  lambda: engine.league_table(community=stranger),
                  lambda: engine.data_quality(community=stranger)):
        with pytest.raises(NotFoundError):
            query()
    with pytest.raises(InvalidInputError):
        engine.views.get("timeline", str(stranger))
    with pytest.raises(InvalidInputError):
        engine.views.page_size = 0
    assert engine.metrics("turnout", group_by=None).rows == ()  # type: ignore[arg-type]


def test_every_incident_milestone_names_the_kind_of_fact_behind_it() -> None:
    """Reviews cite the facts behind milestones: each milestone maps to an Incident event."""
    from resilience.domain.incident import Incident
    from resilience.metrics.milestones import INCIDENT_MILESTONE_FACTS, INCIDENT_MILESTONES

    assert set(INCIDENT_MILESTONE_FACTS) == set(INCIDENT_MILESTONES)
    assert all(isinstance(getattr(Incident, name, None), type)
               for name in INCIDENT_MILESTONE_FACTS.values())
