"""Reports that can't mislead: units, absent rows, empty periods, cases left out, figures as
known at closure, and the counts of reopenings and corrected participants."""

import re
from datetime import datetime, timedelta
from fractions import Fraction
from uuid import UUID

import pytest
from attrs import evolve
from hypothesis import given
from hypothesis import strategies as st

from histories import STAFF, setup_world
from resilience import (
    Engine,
    InvalidInputError,
    Location,
    ManualClock,
    NotFoundError,
    NotInReportError,
)
from resilience.metrics import Counts, MetricDefinition, MetricSummary, Period, builtin
from resilience.metrics.definitions import Unit
from resilience.metrics.reports import summarise, summarise_seconds
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS

from conftest import SHANGHAI, T0

UNITS: tuple[Unit, ...] = ("s", "min", "h", "d")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def world(memory_engine: Engine, clock: ManualClock) -> tuple[Engine, list[UUID]]:
    """East and West (grids g1, g2), the clock a day after T0."""
    communities = setup_world(memory_engine, clock).communities
    clock.set(T0 + timedelta(days=1))
    return memory_engine, communities


@pytest.fixture
def scenarios(memory_engine: Engine) -> Engine:
    """Both shipped scenarios."""
    replay_file(memory_engine, DONGHU_FIRE)
    replay_file(memory_engine, XIANGYANG_ORDERS)
    return memory_engine


def fire(engine: Engine, community: UUID, grid: str = "g1", *, drill: bool = False) -> UUID:
    return engine.incidents.detect(
        community, incident_type="fire", severity="high", description="smoke", drill=drill,
        location=Location(grid=grid), actor=STAFF, occurred_at=at(0)).aggregate_id


# Units -------------------------------------------------------------------------------------


def test_a_report_in_another_unit_has_the_figures_a_definition_in_that_unit_measures(
        scenarios: Engine) -> None:
    """placed_to_completed (hours) in min and s equals the same definition measured in min
    and s, figure for figure; the 0 h target is 0 in every unit."""
    hours = scenarios.metrics("completion_vs_expected", group_by=["grid"])
    for unit in UNITS:
        converted = hours.in_unit(unit)
        measured = scenarios.metrics(evolve(builtin("completion_vs_expected"), unit=unit),
                                     group_by=["grid"])
        assert converted.unit == unit
        assert converted.rows == measured.rows  # every figure, the unit and the target
        assert converted.in_unit("h").rows == hours.rows


def test_a_fifteen_minute_target_reads_900_seconds_and_a_quarter_hour(scenarios: Engine) -> None:
    """The Donghu containment: 12 min is 720 s and 0.2 h; counts and grading don't move."""
    row = scenarios.metrics("detection_to_contained").row()
    assert (row.unit, row.median, row.target) == ("min", 12, 15)
    for unit, median, target in (("s", 720, 900), ("h", 0.2, 0.25), ("d", 12 / 1440, 15 / 1440)):
        other = row.in_unit(unit)
        assert (other.unit, other.median, other.p90, other.max, other.min, other.mean,
                other.at_percentile, other.target) == (unit, median, median, median, median,
                                                       median, median, target)
        assert (other.cases, other.measured, other.met, other.compliance, other.target_met,
                other.excluded) == (row.cases, row.measured, row.met, row.compliance,
                                    row.target_met, row.excluded)


def test_every_rendered_report_names_its_unit(scenarios: Engine) -> None:
    """Titles and headers of metric reports, comparisons and league tables carry the unit;
    a scorecard has a unit column."""
    report = scenarios.metrics("turnout").in_unit("min").render()
    assert "turnout (first_unit_dispatched -> first_unit_en_route, min; target 1.3 min" in report
    assert "median min  p90 min  max min" in report
    comparison = scenarios.compare(["turnout", "travel"]).in_unit("s").render()
    assert "median s" in comparison
    league = scenarios.league_table("placed_to_completed", min_sample=1).render()
    assert "League: placed_to_completed (h)" in league
    assert "median h  p90 h" in league
    card = scenarios.scorecard(UUID(scenarios.reports.cases(subject="order")[0].community))
    assert re.search(r"^metric +unit  ", card.render(), re.MULTILINE)


def test_an_unknown_unit_is_refused(scenarios: Engine) -> None:
    """Only s, min, h and d."""
    report = scenarios.metrics("turnout")
    for unit in ("sec", "minutes", "", None):
        with pytest.raises(InvalidInputError, match="unit must be one of s, min, h, d"):
            report.in_unit(unit)  # type: ignore[arg-type]


durations = st.lists(st.integers(min_value=-10**12, max_value=10**12).map(lambda us: us / 1e6),
                     max_size=25)
targets = st.none() | st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6, allow_nan=False)


@given(seconds=durations, unit=st.sampled_from(UNITS), first=st.sampled_from(UNITS),
       then=st.sampled_from(UNITS), target=targets,
       p=st.sampled_from([50, 64.4, 90, 95, 100]))
def test_a_summary_converted_through_any_unit_is_the_summary_converted_directly(
        seconds: list[float], unit: Unit, first: Unit, then: Unit, target: float | None,
        p: float) -> None:
    """in_unit(a).in_unit(b) == in_unit(b), and back to its own unit gives itself, exactly."""
    definition = MetricDefinition("m", "incident", "detected", "contained", unit=unit,
                                  target=target, percentile=p)
    summary = summarise_seconds(definition, seconds, len(seconds))
    assert summary.in_unit(first).in_unit(then) == summary.in_unit(then)
    assert summary.in_unit(first).in_unit(unit) == summary
    assert summary.in_unit(then).unit == then


def test_summarise_takes_values_in_the_definitions_unit_as_it_always_did() -> None:
    """Minutes in, minutes out (not 60 times off); ``summarise_seconds`` takes seconds."""
    definition = MetricDefinition("m", "incident", "detected", "contained", target=15)
    summary = summarise(definition, [4, 6, 20], 4)
    assert (summary.unit, summary.median, summary.max, summary.met, summary.missing) == (
        "min", 6, 20, 2, 1)
    assert (summary.in_unit("s").median, summary.in_unit("s").target) == (360, 900)
    assert summarise_seconds(definition, [240, 360, 1200], 4) == summary


def test_a_summary_or_counts_built_positionally_keep_their_fields_meaning() -> None:
    """The fields added since (a summary's exclusions and seconds, the counts of
    reopenings) come last, with defaults; a summary without seconds scales its figures."""
    summary = MetricSummary("m", "min", {}, 3, 2, 6.0, 8.0, 8.0, 4.0, 6.0, 90, 8.0, 15, 2,
                            1.0, True)
    assert (summary.excluded, summary.seconds) == ({}, None)
    assert summary.target_seconds == Fraction(900)
    assert (summary.in_unit("s").median, summary.in_unit("s").target) == (360, 900)
    assert summary.in_unit("s").in_unit("min") == summary
    counts = Counts({}, 2, {"fire": 2}, {"high": 2}, 1, 5, 3, 1, 10, 13)
    assert (counts.orders, counts.requests_resolved, counts.person_times_served) == (5, 3, 13)
    assert (counts.incidents_reopened, counts.reopenings) == (0, 0)


# Rows that are not there -------------------------------------------------------------------


def test_a_group_without_a_row_raises_a_documented_error_that_reads_as_a_sentence(
        scenarios: Engine) -> None:
    """NotInReportError is a NotFoundError and a KeyError; its message is no quoted key."""
    report = scenarios.metrics("detection_to_contained", group_by=["grid"])
    with pytest.raises(NotInReportError) as raised:
        report.row(grid="9")
    error = raised.value
    assert isinstance(error, NotFoundError)
    assert isinstance(error, KeyError)
    assert str(error) == ("detection_to_contained has no row for grid 9; its rows: grid 3")
    empty = scenarios.metrics("turnout", Period.month(2021, 1, SHANGHAI))
    assert empty.rows == ()
    with pytest.raises(KeyError, match=r"no row for all; its rows: none \(no cases\)"):
        empty.row()
    card = scenarios.scorecard(UUID(scenarios.reports.cases(subject="incident")[0].community),
                               metrics=["turnout"])
    with pytest.raises(NotInReportError, match="the scorecard has no metric 'travel'; its "
                                               "metrics: turnout"):
        card.metric("travel")


def test_an_empty_period_gives_one_row_of_zeros_ungrouped_and_none_grouped(
        world: tuple[Engine, list[UUID]]) -> None:
    """counts() and service_kpis() over nothing: one row of zeros; grouped: no rows."""
    engine, _ = world
    (counted,) = engine.counts()
    assert (counted.group, counted.incidents, counted.drills, counted.orders,
            counted.incidents_reopened, counted.reopenings, counted.activities_held,
            counted.person_times_served, counted.by_type) == ({}, 0, 0, 0, 0, 0, 0, 0, {})
    (served,) = engine.service_kpis()
    assert (served.group, served.orders, served.open, served.completed, served.rated) == (
        {}, 0, 0, 0, 0)
    assert (served.fixed_rate, served.rating_mean, served.ratings) == (
        None, None, {1: 0, 2: 0, 3: 0, 4: 0, 5: 0})
    assert engine.counts(group_by=["grid"]) == ()
    assert engine.service_kpis(group_by=["month"]) == ()


# Cases left out ------------------------------------------------------------------------------


def test_reports_count_the_cases_left_out_by_reason_apart_from_those_missing_a_milestone(
        scenarios: Engine) -> None:
    """placed_to_completed over Xiangyang: 7 orders apply (one open: missing), the cancelled
    and the rejected are excluded; their groups keep the count; a group with no case left
    has no row but counts in the report's total."""
    report = scenarios.metrics("placed_to_completed", group_by=["zone_type"])
    assert report.excluded == {"cancelled": 1, "rejected": 1}
    rows = {r.group["zone_type"]: r for r in report.rows}
    assert (rows["new_build"].cases, rows["new_build"].excluded) == (1, {"cancelled": 1})
    assert (rows["commercial"].cases, rows["commercial"].excluded) == (1, {"rejected": 1})
    assert (rows["old_estate"].missing, rows["old_estate"].excluded) == (1, {})
    assert "excluded: cancelled 1, rejected 1" in report.render()
    by_provider = scenarios.metrics("placed_to_completed", group_by=["provider"])
    assert None not in [r.group["provider"] for r in by_provider.rows]
    assert by_provider.excluded == {"cancelled": 1, "rejected": 1}
    drills = scenarios.metrics(evolve(builtin("turnout"), name="t"))
    assert (drills.row().cases, drills.row().excluded) == (1, {})


def test_a_metric_per_reopening_counts_each_reopening_as_a_case(
        world: tuple[Engine, list[UUID]]) -> None:
    """A fire reopened twice is two reopenings, the second not yet resolved (missing); one
    never reopened adds none."""
    engine, (east, _) = world
    rekindled, calm = fire(engine, east), fire(engine, east, "g2")
    run = engine.incidents
    for start in (0, 60):
        run.contain(rekindled, actor=STAFF, occurred_at=at(start + 10))
        run.resolve(rekindled, "out", actor=STAFF, occurred_at=at(start + 20))
        run.reopen(rekindled, "flared up", actor=STAFF, occurred_at=at(start + 30))
    run.contain(calm, actor=STAFF, occurred_at=at(5))
    report = engine.metrics("reopened_to_resolved", group_by=["grid"])
    row = report.row(grid="g1")
    assert (row.cases, row.measured, row.missing) == (2, 1, 1)  # the second: no resolution
    assert row.median == 50                                     # 00:30 -> 01:20
    assert (report.row(grid="g2").cases, report.row(grid="g2").measured) == (0, 0)


def test_a_group_never_reopened_has_a_row_of_no_reopenings_as_a_report_per_case_would(
        world: tuple[Engine, list[UUID]]) -> None:
    """A row per group with a case the definition applies to, per reopening too: 0
    reopenings, none measured or missing, statistics None; a group with no case, no row. A
    league on it counts reopenings."""
    engine, (east, _) = world
    calm = fire(engine, east, "g2")
    engine.incidents.contain(calm, actor=STAFF, occurred_at=at(5))
    report = engine.metrics("reopened_to_contained", group_by=["grid"])
    row = report.row(grid="g2")
    assert (row.cases, row.measured, row.missing, row.median, row.compliance) == (
        0, 0, 0, None, None)
    with pytest.raises(NotInReportError):
        report.row(grid="g1")
    table = engine.league_table("reopened_to_contained", community=east, min_sample=1)
    assert {r.note for r in table.rows} == {"not ranked: 0 < 1 reopenings"}
    assert "graded reopenings" in table.render()


# As known at closure and as corrected --------------------------------------------------------


def test_metrics_as_closed_leave_out_what_was_recorded_after_the_closure(
        world: tuple[Engine, list[UUID]]) -> None:
    """Contained at 10:12 and closed; then corrected to 10:10 and a late en route recorded:
    as corrected 10 min and a turnout of 2 min; as known at closure 12 min and no turnout.
    A case still open is read as corrected either way."""
    engine, (east, _) = world
    run = engine.incidents
    closed = fire(engine, east)
    run.dispatch(closed, ["r1"], actor=STAFF, occurred_at=at(1))
    run.arrive(closed, "r1", actor=STAFF, occurred_at=at(5))
    contained = run.contain(closed, actor=STAFF, occurred_at=at(12))
    run.resolve(closed, "out", actor=STAFF, occurred_at=at(30))
    run.close(closed, "resolved", actor=STAFF, occurred_at=at(40))
    run.correct_time(closed, contained.first_version, at(10), "phone log", actor=STAFF)
    run.en_route(closed, "r1", actor=STAFF, occurred_at=at(3))
    still_open = fire(engine, east, "g2")
    opened = run.contain(still_open, actor=STAFF, occurred_at=at(20))
    run.correct_time(still_open, opened.first_version, at(18), "phone log", actor=STAFF)

    def medians(as_closed: bool) -> dict[str | None, float | None]:
        report = engine.metrics("detection_to_contained", group_by=["grid"],
                                as_closed=as_closed)
        return {r.group["grid"]: r.median for r in report.rows}

    assert medians(False) == {"g1": 10, "g2": 18}
    assert medians(True) == {"g1": 12, "g2": 18}
    assert engine.metrics("turnout").row().median == 120
    assert engine.metrics("turnout", as_closed=True).row().measured == 0
    contained_then, turnout_then = engine.compare(
        ["detection_to_contained", "turnout"], group_by=["grid"], as_closed=True).reports
    assert contained_then.row(grid="g1").median == 12
    assert turnout_then.row(grid="g1").measured == 0
    with pytest.raises(InvalidInputError, match="as_closed"):
        engine.metrics("turnout", as_closed="yes")  # type: ignore[arg-type]


# Counts ----------------------------------------------------------------------------------------


def test_counts_count_reopened_incidents_and_their_reopenings_drills_apart(
        world: tuple[Engine, list[UUID]]) -> None:
    """A fire reopened twice and one never: 1 reopened, 2 reopenings; a reopened drill is
    counted with the drills only."""
    engine, (east, _) = world
    run = engine.incidents
    twice, once_drill = fire(engine, east), fire(engine, east, drill=True)
    fire(engine, east, "g2")
    for start in (0, 30):
        run.resolve(twice, "out", actor=STAFF, occurred_at=at(start + 10))
        run.reopen(twice, "flared up", actor=STAFF, occurred_at=at(start + 20))
    run.resolve(once_drill, "drill over", actor=STAFF, occurred_at=at(10))
    run.reopen(once_drill, "again", actor=STAFF, occurred_at=at(20))
    (counted,) = engine.counts()
    assert (counted.incidents, counted.drills) == (2, 1)
    assert (counted.incidents_reopened, counted.reopenings) == (1, 2)
    by_grid = {c.group["grid"]: c for c in engine.counts(group_by=["grid"])}
    assert (by_grid["g1"].reopenings, by_grid["g2"].reopenings) == (2, 0)
    assert "drills 1, reopened 1 (2 reopenings)" in engine.scorecard(east).render()


def test_activity_participants_are_counted_as_corrected(
        world: tuple[Engine, list[UUID]]) -> None:
    """25 recorded, corrected to 27: the counts and the person-times take 27."""
    engine, (east, _) = world
    held = engine.communities.hold_activity(east, title="health talk", category="health",
                                            participants=25, grid="g1", actor=STAFF,
                                            occurred_at=at(0))
    engine.communities.correct_participants(east, held.last_version, 27, "sign-in sheet",
                                            actor=STAFF)
    (counted,) = engine.counts()
    assert (counted.activities_held, counted.activity_participants,
            counted.person_times_served) == (1, 27, 27)
    (activity,) = engine.reports.activities()
    assert (activity.participants, activity.participants_recorded) == (27, 25)
