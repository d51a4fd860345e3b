"""Reports taken elsewhere (resilience.exports): every report's data survives JSON unchanged
and carries its header; its CSV is one table, a header then one record per row.

Over generated histories (tests/histories.py, with amendments: reopenings, corrections,
late records, improvement items, recovery links) every report the engine answers with is
exported; the shipped Donghu fire pins what the data and the tables say.
"""

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from histories import setup_world
from resilience import Engine, ManualClock
from resilience.adapters.report_data import plain
from resilience.errors import InvalidInputError
from resilience.exports import ROWS, SCHEMA_VERSION, TABLES, table, to_csv, to_dict, to_json
from resilience.listing import list_cases
from resilience.metrics import Period
from resilience.metrics.definitions import builtin
from resilience.scenario import ReplayResult, replay_file
from resilience.scenarios import DONGHU_FIRE
from test_emergencies import flood, town
from test_metrics_oracle import apply_steps
from test_projections import amended_histories

from conftest import OFFICE, T0

# Checking one report's export ------------------------------------------------------------


def flattened(row: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A table row as the CSV's cells should read: nested objects by dotted names, lists
    as JSON, null empty, true/false as JSON."""
    cells: dict[str, str] = {}
    for name, value in row.items():
        if isinstance(value, Mapping):
            cells.update(flattened(value, f"{prefix}{name}."))
        elif value is None:
            cells[prefix + name] = ""
        elif isinstance(value, bool | list):
            cells[prefix + name] = json.dumps(value, ensure_ascii=False)
        else:
            cells[prefix + name] = str(value)
    return cells


def exported(report: Any, kind: str | None = None) -> dict[str, Any]:
    """Export ``report`` every way, check each, and return its data."""
    data = to_dict(report, kind=kind)
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert data["report"] in TABLES
    text = json.dumps(data, allow_nan=False)  # standard JSON: no NaN, no Infinity
    assert json.loads(text) == data
    assert json.loads(to_json(report, kind=kind)) == data
    if hasattr(report, "to_dict"):  # a report's own data is the same (a timeline's aside)
        own = report.to_dict()
        assert {k: v for k, v in own.items() if k not in ("schema_version", "report")} == {
            k: v for k, v in data.items() if k not in ("schema_version", "report")}
    records = list(csv.reader(io.StringIO(to_csv(report, kind=kind))))
    header, body = records[0], records[1:]
    rows = table(data)
    assert len(body) == len(rows), data["report"]
    assert len(set(header)) == len(header)
    assert all(len(r) == len(header) for r in body)
    for row, record in zip(rows, body, strict=True):
        cells = flattened(row)
        assert set(cells) <= set(header)
        assert {name: cell for name, cell in zip(header, record, strict=True)
                if name in cells} == cells
    return data


# Every report over generated histories -----------------------------------------------------


def reports(engine: Engine, clock: ManualClock, communities: list[UUID], cases: list[UUID],
            incidents: list[UUID], orders: list[UUID], data: DataObject
            ) -> Iterator[tuple[Any, str | None]]:
    """Every report the engine answers with about the history (and the kind a list of
    rows needs, where it may be empty)."""
    by = data.draw(st.sampled_from([(), ("grid",), ("community", "month")]), label="group by")
    metric = data.draw(st.sampled_from(["detection_to_contained", "placed_to_completed",
                                        "reopened_to_contained", "turnout"]), label="metric")
    yield engine.metrics(metric, group_by=by), None
    yield engine.metrics(metric, group_by=by).in_unit("s"), None
    yield engine.compare([metric, "detection_to_resolved", "placed_to_dispatched"],
                         group_by=by), None
    yield engine.service_kpis(group_by=by), "service_kpis"
    yield engine.counts(group_by=tuple(g for g in by if g != "category")), "counts"
    yield engine.rates(group_by=by), None
    yield engine.league_table(metric, min_sample=1), None
    yield engine.league_table("satisfaction_rate", level="community", min_sample=2), None
    yield engine.data_quality(), None
    yield engine.overdue(), "overdue"
    yield engine.improvements.items(), "improvement_plan"
    yield engine.replay.metrics(metric, known_at=clock() - timedelta(hours=1),
                                group_by=by), None
    yield engine.what_if.target("detection_to_contained", 10), None
    for community in communities:
        yield engine.scorecard(community), None
        yield engine.replay.community(community), None
        yield engine.reviews.incidents(community), None
        yield engine.timeline(community), None
    for case in cases:
        yield engine.timeline(case), None
        yield engine.deadlines(case), "deadlines"
    for incident in incidents:
        yield engine.replay.incident(incident), None
        yield engine.recovery(incident), None
        yield engine.review(incident), None
    for order in orders:
        yield engine.replay.order(order), None


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=amended_histories, data=st.data())
def test_every_reports_data_survives_json_and_its_csv_has_one_record_per_row(
        steps: list[tuple[Any, ...]], data: DataObject) -> None:
    """Whatever happened, each report's to_dict is plain JSON that loads back equal, with
    the schema version and its kind on top, the same as to_json's; its CSV has a header
    and one record per row of its table, each cell what the row says."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        world = setup_world(engine, clock)
        apply_steps(engine, clock, world, steps)
        shown = [(report, kind) for report, kind in reports(
            engine, clock, world.communities, [*world.incidents[:3], *world.orders[:3]],
            world.incidents[:3], world.orders[:3], data)]
        kinds = {exported(report, kind)["report"] for report, kind in shown}
    assert {"metrics", "compare", "rates", "scorecard", "league_table", "data_quality",
            "timeline", "community_situation", "review", "service_kpis", "counts",
            "improvement_plan", "overdue", "then_and_now", "what_if_target"} <= kinds


# The Donghu fire ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def donghu() -> Iterator[tuple[Engine, ReplayResult]]:
    with Engine("memory:") as engine:
        yield engine, replay_file(engine, DONGHU_FIRE)


def csv_records(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_a_metric_reports_data_holds_its_definition_rows_and_header(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """Report "metrics": the definition as its own to_dict, all time as two nulls, one row
    per grid in the report's unit; in seconds, the same figures in seconds."""
    engine, _ = donghu
    report = engine.metrics("detection_to_contained", group_by=["grid"])
    data = exported(report)
    assert (data["schema_version"], data["report"]) == (1, "metrics")
    assert data["definition"] == builtin("detection_to_contained").to_dict()
    assert data["period"] == {"start": None, "end": None}
    assert data["group_by"] == ["grid"]
    assert data["unit"] == "min"
    (row,) = data["rows"]
    assert (row["group"], row["cases"], row["median"], row["target"], row["target_met"]) == (
        {"grid": "3"}, 1, 12.0, 15, True)
    assert "seconds" not in row
    assert "target_seconds" not in row
    assert exported(report.in_unit("s"))["rows"][0]["median"] == 720.0
    assert data["position"] == report.position is not None


def test_a_metric_reports_csv_is_its_rows_under_one_header(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """One record per group, the group's fields as ``group.grid``, yes/no as JSON."""
    engine, _ = donghu
    text = to_csv(engine.metrics("detection_to_contained", group_by=["grid"]))
    assert csv_records(text) == [
        ["metric", "unit", "group.grid", "cases", "measured", "median", "p90", "max", "min",
         "mean", "percentile", "at_percentile", "target", "met", "compliance", "target_met"],
        ["detection_to_contained", "min", "3", "1", "1", "12.0", "12.0", "12.0", "12.0",
         "12.0", "90", "12.0", "15", "1", "1.0", "true"]]


def test_a_comparison_nests_each_metrics_report_without_the_header(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """Report "compare": each report as MetricReport.to_dict gives it, less the header; its
    CSV is every metric's rows, one after the other."""
    engine, _ = donghu
    names = ["detection_to_contained", "turnout", "placed_to_completed"]
    data = exported(engine.compare(names))
    alone = engine.metrics("turnout").to_dict()
    del alone["schema_version"], alone["report"], alone["position"]
    assert {k: v for k, v in data["reports"][1].items() if k != "position"} == alone
    assert [r[0] for r in csv_records(to_csv(engine.compare(names)))[1:]] == names


def test_tuples_of_rows_are_reports_of_the_kind_of_their_rows(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """Service KPIs and counts (tuples of rows) and the improvement plan (a list) export
    as ``{"report": kind, "rows": [...]}``; an empty list needs ``kind=``."""
    engine, result = donghu
    kpis = exported(engine.service_kpis())
    assert kpis["report"] == "service_kpis"
    assert kpis["rows"][0]["fixed_rate"] == 1.0
    assert kpis["rows"][0]["ratings"]["5"] == 1
    counts = exported(engine.counts())
    assert (counts["report"], counts["rows"][0]["by_type"]) == ("counts", {"fire": 1})
    (item,) = exported(engine.improvements.items(result.community_id))["rows"]
    assert item["status"] == "open"
    assert item["due"].startswith("2022-03-15T18:00:00")
    with pytest.raises(InvalidInputError, match="kind="):
        to_dict([])
    assert csv_records(to_csv([], kind="overdue")) == [
        ["order_id", "community_id", "category", "item", "deadline", "cycle", "due_at",
         "late", "escalations", "levels"]]
    assert exported(engine.overdue(), "overdue") == {"schema_version": 1,
                                                     "report": "overdue", "rows": []}


@pytest.mark.parametrize("report", [
    object(), "metrics", {"schema_version": 1, "report": "metrics", "rows": []}, 3,
    builtin("turnout"),  # data, but no report's: no header
])
def test_what_is_not_a_report_is_refused(report: object) -> None:
    """Anything but a report, or the rows of one, is InvalidInputError, exported as nothing."""
    with pytest.raises(InvalidInputError, match="not a report"):
        to_json(report)


def test_rows_are_refused_under_another_kind(donghu: tuple[Engine, ReplayResult]) -> None:
    """``kind=`` must name the report the rows are of, and only a list of rows takes it."""
    engine, _ = donghu
    with pytest.raises(InvalidInputError, match="a row of counts is a Counts"):
        to_dict(engine.service_kpis(), kind="counts")
    with pytest.raises(InvalidInputError, match="kind must be one of"):
        to_dict((), kind="metrics")
    with pytest.raises(InvalidInputError, match="says its own"):
        to_dict(engine.data_quality(), kind="data_quality")
    assert set(ROWS) <= set(TABLES)


def test_the_scorecard_league_and_rates_tables(donghu: tuple[Engine, ReplayResult]) -> None:
    """A scorecard's table is its metrics; a league's its rows ranked first, each with what
    it was graded on; the rates' one record per group, each rate's figures by its name."""
    engine, result = donghu
    card = exported(engine.scorecard(result.community_id))
    assert card["community_name"] == "Donghu Community"
    assert card["counts"]["incidents"] == 1
    assert [r[0] for r in csv_records(to_csv(engine.scorecard(result.community_id)))[1:]] == [
        m["metric"] for m in card["metrics"]]
    league = exported(engine.league_table(min_sample=1))
    assert (league["rows"][0]["rank"], league["rows"][0]["name"],
            league["rows"][0]["graded"]) == (1, "Donghu Community / Grid 3", 1)
    assert league["definition"] == builtin("detection_to_contained").to_dict()
    rated = exported(engine.league_table("response_rate", min_sample=1))
    assert rated["definition"]["limit"] == 7200.0  # a duration, in seconds
    header, row = csv_records(to_csv(engine.rates()))
    cells = dict(zip(header, row, strict=True))
    assert (cells["orders"], cells["resolution_rate.value"], cells["response_rate.no"]) == (
        "1", "1.0", "1")


def test_the_data_quality_table_lists_each_finding_under_its_section(
        donghu: tuple[Engine, ReplayResult]) -> None:
    """Report "data_quality": ``is_clean``, ``late_after`` in seconds, every section; its
    CSV one record per finding, the first column its section."""
    engine, _ = donghu
    report = engine.data_quality()
    data = exported(report)
    assert (data["is_clean"], data["late_after"]) == (False, 900.0)
    findings = sum(len(data[name]) for name in type(report).SECTIONS)
    records = csv_records(to_csv(report))
    assert records[0][0] == "section"
    assert len(records) == findings + 1
    assert {r[0] for r in records[1:]} == {name for name in type(report).SECTIONS
                                           if data[name]}


def test_the_timeline_situations_and_review(donghu: tuple[Engine, ReplayResult]) -> None:
    """A timeline's table is its entries (the actor's fields as ``actor.role``); an
    incident's situation one record; the review's data the review's own, with the header,
    and its table the objectives."""
    engine, result = donghu
    fire = result.incidents["donghu-fire"]
    timeline = engine.timeline(fire)
    records = csv_records(to_csv(timeline))
    assert len(records) == len(timeline.entries) + 1
    first = dict(zip(records[0], records[1], strict=True))
    assert (first["action"], first["actor.role"], first["occurred_at"]) == (
        "Detected", "grid_leader", "2022-02-15T15:00:00+08:00")
    situation = exported(engine.replay.incident(fire, as_of=T0 + timedelta(minutes=10)))
    assert (situation["report"], situation["status"], situation["is_open"],
            situation["contained_at"]) == ("incident_situation", "on_scene", True, None)
    review = engine.review(fire)
    data = exported(review)
    assert data == {"schema_version": 1, "report": "review", **review.to_dict()}
    assert [r[2] for r in csv_records(to_csv(review))[1:]] == [
        o["grade"] for o in data["objectives"]]
    recovery = exported(engine.recovery(fire))
    assert recovery["report"] == "recovery"
    assert recovery["links"][0]["rated"] is True
    community = exported(engine.replay.community(result.community_id))
    assert community["mode"] == "peacetime"
    assert community["roster"]


def test_a_mobilisation_and_the_emergencies_in_force(memory_engine: Engine) -> None:
    """An emergency's mobilisation (its own data, with the header) and the emergencies in
    force (a tuple of rows) export like every report."""
    emergency = flood(memory_engine, town(memory_engine))
    memory_engine.emergencies.call_up(emergency, actor=OFFICE,
                                      occurred_at=T0 + timedelta(minutes=2))
    report = exported(memory_engine.mobilisation(emergency))
    assert (report["report"], report["called"]) == ("mobilisation", 4)
    assert len(csv_records(to_csv(memory_engine.mobilisation(emergency)))) == 5
    (flooded,) = exported(memory_engine.emergencies.situations())["rows"]
    assert flooded["kind"] == "flood"
    assert len(flooded["members"]) == 4


def test_a_value_no_rule_covers_is_refused() -> None:
    """The rules cover every value a report holds; another (NaN, which JSON has not, or an
    object) is a TypeError, never silently written."""
    with pytest.raises(TypeError):
        plain(float("nan"))
    with pytest.raises(TypeError, match="object"):
        plain(object())
    assert plain(Period()) == {"start": None, "end": None}


def test_a_listing_exports_by_its_own_data(donghu: tuple[Engine, ReplayResult]) -> None:
    """A report of a layer above the exports' (``resilience list``'s listing) exports by its
    own to_dict, whose kind names its table; an empty one still has its header."""
    engine, _ = donghu
    listing = list_cases(engine, "incidents")
    data = exported(listing)
    assert (data["report"], len(data["rows"])) == ("list", 1)
    empty = list_cases(engine, "incidents", of_type="flood")
    assert csv_records(to_csv(empty)) == [list(listing.rows[0].to_dict())]
