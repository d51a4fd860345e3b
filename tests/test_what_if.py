"""What-if on a target: the same cases graded against another target, beside their own,
per group; nothing recorded, whatever is asked."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import histories as hist
from histories import STAFF, World, apply_history, setup_world
from resilience import Engine, InvalidInputError, Location, ManualClock, NotFoundError
from resilience.cli import main
from resilience.errors import NotInReportError
from resilience.metrics import BUILT_IN, MetricDefinition, Period, builtin
from resilience.services.what_if import TargetWhatIf

from conftest import T0

CONTAINED = builtin("detection_to_contained")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stored(engine: Engine) -> tuple[int, int | None]:
    """How many events the store holds, and its newest notification id."""
    recorder = engine.app.recorder
    count = len(recorder.select_notifications(1, 1_000_000))
    return count, recorder.max_notification_id()


@contextmanager
def records_nothing(engine: Engine) -> Iterator[None]:
    """The block records no event: the count and the newest notification id stay."""
    engine.reports.ready()  # the views may catch up; that folds what is already recorded
    before = stored(engine)
    yield
    assert stored(engine) == before


def contained_fires(engine: Engine, community: UUID, grid: str,
                    minutes: Sequence[float]) -> None:
    """One fire per entry in ``grid``, each contained that many minutes after detection."""
    for n, took in enumerate(minutes):
        start = at(60 * n)
        fire = engine.incidents.detect(
            community, incident_type="fire", severity="high", description="smoke",
            location=Location(grid=grid), actor=STAFF, occurred_at=start).aggregate_id
        engine.incidents.contain(fire, actor=STAFF, occurred_at=start + timedelta(minutes=took))


@pytest.fixture
def world(engine: Engine, clock: ManualClock) -> tuple[Engine, list[UUID]]:
    """East and West, grids g1 and g2, with containment times known by grid:
    East g1 ten fires of 5..14 min, East g2 ten of 8 min and one of 20, West g1 none,
    West g2 ten of 9 min; the clock the next week."""
    communities = setup_world(engine, clock).communities
    clock.set(T0 + timedelta(days=7))
    east, west = communities
    contained_fires(engine, east, "g1", [5 + n for n in range(10)])
    contained_fires(engine, east, "g2", [8] * 10 + [20])
    contained_fires(engine, west, "g2", [9] * 10)
    return engine, communities


def test_each_grid_is_graded_against_its_own_and_the_hypothetical_target(
        world: tuple[Engine, list[UUID]]) -> None:
    """A 10-minute containment target: each grid's share within 15 and within 10 minutes,
    its verdict under the 90% rule for both, and what changes; the total over all."""
    engine, (east, west) = world
    with records_nothing(engine):
        found = engine.what_if.target("detection_to_contained", 10)
    assert found.actual == CONTAINED
    assert found.hypothetical == evolve(CONTAINED, target=10.0)
    assert found.group_by == ("community", "grid")  # grid ids are each community's own
    figures = {(r.group["community"], r.group["grid"]):
               (r.measured, r.actual.met, r.actual.target_met, r.hypothetical.met,
                r.hypothetical.target_met, r.change) for r in found.rows}
    assert figures == {
        (str(east), "g1"): (10, 10, True, 6, False, "would miss"),
        (str(east), "g2"): (11, 10, True, 10, True, "same"),
        (str(west), "g2"): (10, 10, True, 10, True, "same"),
    }
    assert [r.label for r in found.rows] == ["East / Grid g1", "East / Grid g2",
                                             "West / Grid g2"]
    assert (found.total.measured, found.total.actual.met, found.total.hypothetical.met) == (
        31, 30, 26)
    assert [r.label for r in found.would_meet] == ["East / Grid g2", "West / Grid g2"]
    assert [r.label for r in found.changed] == ["East / Grid g1"]
    assert found.row(community=str(east), grid="g1").hypothetical.compliance == 0.6
    with pytest.raises(NotInReportError, match=r"no row for community .*, grid g1"):
        found.row(community=str(west), grid="g1")


def test_the_measured_figures_are_the_metrics_own(world: tuple[Engine, list[UUID]]) -> None:
    """Both sides are ``engine.metrics`` of the metric and of the metric with the new
    target, row for row: only what is met differs."""
    engine, _ = world
    found = engine.what_if.target(CONTAINED, 10, group_by=["grid", "severity"])
    actual = engine.metrics(CONTAINED, group_by=found.group_by)
    hypothetical = engine.metrics(found.hypothetical, group_by=found.group_by)
    assert [r.actual for r in found.rows] == list(actual.rows)
    assert [r.hypothetical for r in found.rows] == list(hypothetical.rows)
    assert all(r.actual.median == r.hypothetical.median for r in found.rows)


def test_one_community_is_grouped_by_its_grids(world: tuple[Engine, list[UUID]]) -> None:
    """Within one community the rows are its grids; a timedelta target is read in the
    metric's unit, exactly."""
    engine, (east, _) = world
    found = engine.what_if.target(CONTAINED, timedelta(minutes=10), community=east)
    assert found.group_by == ("grid",)
    assert [(r.group, r.label) for r in found.rows] == [({"grid": "g1"}, "Grid g1"),
                                                        ({"grid": "g2"}, "Grid g2")]
    assert found.hypothetical.target == 10.0
    seconds = engine.what_if.target(builtin("turnout"), timedelta(seconds=61.5))
    assert seconds.hypothetical.target == 61.5


def test_another_percentile_changes_the_rule(world: tuple[Engine, list[UUID]]) -> None:
    """With ``percentile`` the rule changes too: East g1 has 6 of 10 within 10 minutes,
    enough for a 60% rule, not for 61%."""
    engine, (east, _) = world
    sixty = engine.what_if.target(CONTAINED, 10, percentile=60, community=east)
    assert sixty.row(grid="g1").hypothetical.target_met is True
    assert sixty.row(grid="g1").change == "same"
    more = engine.what_if.target(CONTAINED, 10, percentile=61, community=east)
    assert more.row(grid="g1").hypothetical.target_met is False


def test_a_metric_without_a_target_is_only_graded_hypothetically(
        world: tuple[Engine, list[UUID]]) -> None:
    """A metric with no target of its own has nothing met now, and no change to report."""
    engine, _ = world
    found = engine.what_if.target("detection_to_resolved", 30)
    assert found.actual.target is None
    assert all(r.actual.target_met is None and r.change == "-" for r in found.rows)


def test_a_period_with_no_case_gives_no_rows_and_an_empty_total(
        world: tuple[Engine, list[UUID]]) -> None:
    """Nothing detected in the period: no rows, a total of zero measured."""
    engine, _ = world
    empty = Period(at(-600), at(-60))
    found = engine.what_if.target(CONTAINED, 10, period=empty)
    assert found.rows == ()
    assert found.total.measured == 0
    assert found.total.hypothetical.target == 10.0
    assert "Nothing was recorded" in found.render()


def test_the_render_shows_both_verdicts_side_by_side(world: tuple[Engine, list[UUID]]) -> None:
    """The table names the targets and gives each grid's shares and verdicts."""
    engine, _ = world
    text = engine.what_if.target(CONTAINED, 10).render()
    assert "target 15 min -> 10 min" in text
    assert "90% of its cases" in text
    line = next(line for line in text.splitlines() if line.startswith("East / Grid g1"))
    assert line.split() == ["East", "/", "Grid", "g1", "10", "100%", "yes", "60%", "NO",
                            "would", "miss"]
    assert text.splitlines()[-2].startswith("all")


Refusal = tuple[type[Exception], dict[str, Any]]
REFUSALS: list[Refusal] = [
    (InvalidInputError, {"target": "10"}),
    (InvalidInputError, {"target": float("nan")}),
    (InvalidInputError, {"target": True}),
    (InvalidInputError, {"target": None}),
    (InvalidInputError, {"target": 10, "percentile": 0}),
    (InvalidInputError, {"target": 10, "percentile": 101}),
    (InvalidInputError, {"target": 10, "percentile": "90"}),
    (InvalidInputError, {"target": 10, "group_by": ["provider"]}),
    (InvalidInputError, {"target": 10, "group_by": "grid grid"}),
    (InvalidInputError, {"target": 10, "period": "2022"}),
    (InvalidInputError, {"target": 10, "community": "East"}),
    (NotFoundError, {"target": 10, "community": UUID(int=7)}),
    (NotFoundError, {"target": 10, "metric": "containment"}),
    (InvalidInputError, {"target": 10, "metric": 3}),
    (InvalidInputError, {"target": 10, "tz": "Asia/Shanghai"}),
]


@pytest.mark.parametrize(("error", "arguments"), REFUSALS)
def test_bad_input_is_refused_and_nothing_recorded(
        memory_engine: Engine, clock: ManualClock, error: type[Exception],
        arguments: dict[str, Any]) -> None:
    """A target, percentile, grouping, period, community or metric that isn't one is
    refused with a documented error, and nothing is recorded."""
    setup_world(memory_engine, clock)
    arguments = {"metric": "detection_to_contained", **arguments}
    with records_nothing(memory_engine), pytest.raises(error):
        memory_engine.what_if.target(arguments.pop("metric"), arguments.pop("target"),
                                     **arguments)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=hist.histories, metric=st.sampled_from(BUILT_IN),
       target=st.floats(min_value=-100, max_value=500, allow_nan=False),
       by=st.sampled_from([(), ("grid",), ("community",), ("severity", "grid"), ("day",)]))
def test_on_any_history_a_what_if_is_the_metric_regraded_and_records_nothing(
        history: list[tuple[Any, ...]], metric: MetricDefinition, target: float,
        by: tuple[str, ...]) -> None:
    """On random histories, each side is ``engine.metrics`` of the metric with its own
    target and with the hypothetical one, and asking records nothing."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        world: World = setup_world(engine, clock)
        apply_history(engine, clock, world, history)
        if "severity" in by and metric.subject == "order":
            by = ("grid",)
        with records_nothing(engine):
            found: TargetWhatIf = engine.what_if.target(metric, target, group_by=by)
        groups = found.group_by
        actual = engine.metrics(metric, group_by=groups)
        hypothetical = engine.metrics(evolve(metric, target=target), group_by=groups)
        assert [r.actual for r in found.rows] == list(actual.rows)
        assert [r.hypothetical for r in found.rows] == list(hypothetical.rows)
        assert found.total.measured == sum(r.measured for r in found.rows)


def test_every_store_answers_alike_and_records_nothing(
        engine: Engine, clock: ManualClock) -> None:
    """Memory, SQLite and PostgreSQL give the same what-if, and none records anything."""
    communities = setup_world(engine, clock).communities
    clock.set(T0 + timedelta(days=7))
    contained_fires(engine, communities[0], "g1", [5, 12, 14])
    with records_nothing(engine):
        found = engine.what_if.target(CONTAINED, 10, community=communities[0])
    assert [(r.measured, r.actual.met, r.hypothetical.met) for r in found.rows] == [(3, 3, 1)]


# The command line -----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A SQLite store holding the world's fires."""
    path = tmp_path / "what-if.db"
    clock = ManualClock(T0)
    with Engine(f"sqlite:///{path}", clock=clock, policy=None) as engine:
        east, _ = setup_world(engine, clock).communities
        clock.set(T0 + timedelta(days=7))
        contained_fires(engine, east, "g1", [5 + n for n in range(10)])
    return path


def test_the_command_line_prints_the_table(store: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """``resilience what-if target`` prints the side-by-side table and exits 0, with
    ``--db`` after the action or before it."""
    assert main(["what-if", "target", "--db", str(store), "--target", "10"]) == 0
    after = capsys.readouterr().out
    assert "East / Grid g1" in after
    assert "would miss" in after
    assert main(["what-if", "--db", str(store), "target", "--target", "10", "--community",
                 "East", "--by", "grid"]) == 0
    before = capsys.readouterr().out
    assert "Grid g1" in before
    assert "East / Grid g1" not in before


def test_the_command_line_refuses_what_the_api_refuses(
        store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No --db, a target that is no number, an unknown metric: exit 2 with the reason."""
    assert main(["what-if", "target", "--target", "10"]) == 2
    assert "needs --db" in capsys.readouterr().err
    assert main(["what-if", "target", "--db", str(store), "--target", "nan"]) == 2
    assert "finite number" in capsys.readouterr().err
    assert main(["what-if", "target", "--db", str(store), "--target", "1",
                 "--metric", "speed"]) == 2
    assert "neither a built-in metric" in capsys.readouterr().err
