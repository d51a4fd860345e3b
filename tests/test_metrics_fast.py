"""The reports read from the per-case summaries equal the reports computed from the cases.

``engine.metrics`` and the other reports read the summaries (resilience.metrics.indexed);
the computation they replace is the metrics' functions over every case read whole
(``case_from_doc`` and the linked recovery): ``metric_report`` over those cases, and the
reports' own path over them (taken here by making the summaries unreadable). Over
generated histories and generated definitions (any milestones, unit, target,
percentile, filter, per case or per reopening), groupings, time zones and periods, the
two give equal answers, row by row, down to each measured duration; and the summaries
kept page by page equal those of a rebuild, whatever was corrected since.
"""

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import histories as hist
from histories import STAFF, setup_world
from resilience import Engine, Location, ManualClock
from resilience.domain.incident import IncidentStatus
from resilience.domain.service import OrderStatus
from resilience.domain.values import ClosureReason, IncidentType, ServiceOutcome, Severity
from resilience.metrics import (
    CYCLE_MILESTONES,
    DIMENSIONS,
    TIME_BUCKETS,
    CaseFilter,
    MetricDefinition,
    MetricReport,
    Period,
    RateDefinition,
    case_from_doc,
)
from resilience.metrics.case_table import CaseTable, Unindexed
from resilience.metrics.definitions import Per, Unit
from resilience.metrics.milestones import MILESTONES, Subject
from resilience.metrics.recovery import recovered_cases
from resilience.metrics.reports import metric_report
from resilience.metrics.summaries import UNREADABLE, CaseSummaries
from resilience.projections.summaries import LEAF, SUMMARIES, Bucket
from resilience.services.reports import Reports, bucket_bounds, bucket_zone
from test_metrics_oracle import any_history, build, draw_period

from conftest import SHANGHAI, T0

EXAMPLES = int(os.environ.get("FAST_EXAMPLES", "40"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ZONES: list[tzinfo | None] = [None, UTC, SHANGHAI, ZoneInfo("America/New_York"),
                              ZoneInfo("Asia/Kathmandu"), timezone(timedelta(hours=-3,
                                                                             minutes=-30))]


# What the reports compare with -------------------------------------------------------------


def cases_whole(engine: Engine, subject: str | None = None) -> list[Any]:
    """Every case read whole, with its recovery: what the reports read before summaries."""
    views = engine.views
    found = [case_from_doc(key, doc) for kind in ((subject,) if subject else ("incident", "order"))
             for key, doc in views.select("cases", kind)]
    return recovered_cases(found, views.fetch)


@contextmanager
def from_the_cases() -> Iterator[None]:
    """The reports as they were computed before summaries: every case read whole."""
    def unindexed(*_: Any) -> CaseTable:
        raise Unindexed("read the cases")
    with patch.object(Reports, "_table", unindexed):
        yield


@contextmanager
def from_the_summaries() -> Iterator[None]:
    """The reports read from the summaries alone (never the cases, for any reason)."""
    def fast_only(fast: Any, slow: Any) -> Any:
        return fast()
    with patch.object(Reports, "_indexed", staticmethod(fast_only)):
        yield


leaves = st.sampled_from([1, 3, LEAF])
"""Cases a bucket holds before it splits: small ones split the buckets of any history."""


def build_split(history: list[tuple[Any, ...]], leaf: int) -> tuple[Engine, hist.World]:
    """``build``, buckets splitting beyond ``leaf`` cases while the history is folded."""
    with patch("resilience.projections.summaries.LEAF", leaf):
        engine, world = build(history)
        engine.views.catch_up()
    return engine, world


def summaries(engine: Engine) -> dict[str, tuple[dict[str, Any], Any]]:
    """Every case's summary as the buckets hold it, by case: each one once, wherever the
    buckets were cut."""
    found: dict[str, tuple[dict[str, Any], Any]] = {}
    for key, doc in engine.views.documents(SUMMARIES).items():
        bucket = Bucket(key, doc)
        names = sorted(doc["cols"])
        columns = [bucket.column(name) for name in names]
        for row, case in enumerate(bucket.keys):
            assert case not in found, f"{case} is in two buckets"
            values = {n: c[row] for n, c in zip(names, columns, strict=True)
                      if c[row] is not None}
            found[case] = (values, bucket.extra.get(case))
    return found


def same_report(fast: MetricReport, slow: MetricReport) -> None:
    assert fast == slow
    assert [row.seconds for row in fast.rows] == [row.seconds for row in slow.rows]


# Generated definitions -----------------------------------------------------------------------

SUBJECTS: tuple[Subject, ...] = ("incident", "order")
PERS: tuple[Per, ...] = ("case", "case", "reopening")
UNITS: tuple[Unit, ...] = ("s", "min", "h", "d")
CATEGORIES = sorted({category for category, _ in hist.SERVICES} | {"legal"})
ITEMS = sorted({item for _, item in hist.SERVICES} | {"escort"})


def some(values: Iterable[str]) -> st.SearchStrategy[tuple[str, ...]]:
    """Up to three of ``values``."""
    return st.lists(st.sampled_from(sorted(values)), max_size=3, unique=True).map(tuple)


@st.composite
def case_filters(draw: st.DrawFn, subject: str) -> CaseFilter:
    statuses = [s.value for s in (IncidentStatus if subject == "incident" else OrderStatus)]
    if subject == "incident":
        return CaseFilter(
            incident_types=draw(some(t.value for t in IncidentType)),
            severities=draw(some(s.value for s in Severity)),
            include_drills=draw(st.booleans()),
            requires=draw(some(MILESTONES["incident"])),
            exclude_statuses=draw(some(statuses)),
            exclude_closures=draw(some(c.value for c in ClosureReason)))
    return CaseFilter(
        categories=draw(some(CATEGORIES)), items=draw(some(ITEMS)),
        requires=draw(some(MILESTONES["order"])), exclude_statuses=draw(some(statuses)),
        exclude_outcomes=draw(some(o.value for o in ServiceOutcome)))


@st.composite
def definitions(draw: st.DrawFn, only: Subject | None = None) -> MetricDefinition:
    subject: Subject = draw(st.sampled_from(SUBJECTS)) if only is None else only
    per: Per = draw(st.sampled_from(PERS))
    names = CYCLE_MILESTONES[subject] if per == "reopening" else sorted(MILESTONES[subject])
    start, end = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
    target = draw(st.none() | st.integers(-600, 6000) | st.floats(-1e4, 1e6, allow_nan=False,
                                                                  allow_infinity=False))
    percentile = draw(st.sampled_from([50, 64.4, 90, 100]) | st.floats(0.01, 100))
    filtered = draw(st.booleans())
    return MetricDefinition(
        "generated", subject, start, end, draw(st.sampled_from(UNITS)),
        target, percentile,
        applies_to=draw(case_filters(subject)) if filtered else CaseFilter(
            include_drills=draw(st.booleans())), per=per)


def groupings(subjects: list[str]) -> st.SearchStrategy[tuple[str, ...]]:
    names = sorted(set.intersection(*(set(DIMENSIONS[s]) for s in subjects))
                   | set(TIME_BUCKETS))
    return st.lists(st.sampled_from(names), max_size=3, unique=True).map(tuple)


def periods(data: st.DataObject, engine: Engine, world: hist.World) -> Period:
    """A period bounded at cases' starts, or a calendar day, month or year in some zone."""
    kind = data.draw(st.sampled_from(["cases", "cases", "calendar"]))
    if kind == "cases":
        return draw_period(data, engine, world)
    zone = data.draw(st.sampled_from([UTC, SHANGHAI, ZoneInfo("America/New_York")]))
    day = data.draw(st.dates(min_value=date(2022, 1, 20), max_value=date(2022, 5, 1)))
    return data.draw(st.sampled_from([Period.day(day, zone), Period.month(day.year, day.month,
                                                                         zone),
                                      Period.year(day.year, zone)]))


def scope(data: st.DataObject, world: hist.World) -> Any:
    return data.draw(st.sampled_from([None, *world.communities]))


# The properties --------------------------------------------------------------------------------


@SETTINGS
@given(history=any_history, data=st.data())
def test_any_metric_from_the_summaries_equals_the_metric_over_the_cases(
        history: list[tuple[Any, ...]], data: st.DataObject) -> None:
    """Any definition, grouping, zone, period and community: the report read from the
    summaries is ``metric_report`` over every case read whole, each duration the same."""
    engine, world = build_split(history, data.draw(leaves))
    with engine:
        for _ in range(3):
            definition = data.draw(definitions())
            group_by = data.draw(groupings([definition.subject]))
            period, tz = periods(data, engine, world), data.draw(st.sampled_from(ZONES))
            community = scope(data, world)
            with from_the_summaries():
                fast = engine.metrics(definition, period, group_by, community=community,
                                      tz=tz)
            cases = [c for c in cases_whole(engine, definition.subject)
                     if community is None or c.community == str(community)]
            same_report(fast, metric_report(definition, cases, period=period,
                                            group_by=group_by, tz=bucket_zone(tz, period)))
            assert fast.position == engine.views.position


@SETTINGS
@given(history=any_history, data=st.data())
def test_every_report_from_the_summaries_equals_the_report_from_the_cases(
        history: list[tuple[Any, ...]], data: st.DataObject) -> None:
    """compare, service KPIs, counts, rates, scorecards and league tables: equal."""
    engine, world = build_split(history, data.draw(leaves))
    with engine:
        period, tz = periods(data, engine, world), data.draw(st.sampled_from(ZONES))
        community = scope(data, world)
        metrics = data.draw(st.lists(definitions(), min_size=1, max_size=3))
        order_groups = data.draw(groupings(["order"]))
        count_groups = data.draw(st.lists(st.sampled_from(["community", "grid",
                                                           *TIME_BUCKETS]),
                                          max_size=2, unique=True).map(tuple))
        rates = data.draw(st.lists(st.sampled_from([
            RateDefinition("fast", "response", limit=timedelta(minutes=20)),
            RateDefinition("slow", "response", limit=timedelta(hours=3)),
            RateDefinition("said", "resolution"),
            RateDefinition("happy", "satisfaction", satisfied_from=data.draw(st.integers(1, 5)))]),
            min_size=1, max_size=4, unique_by=lambda r: r.name))
        grid = data.draw(st.sampled_from([None, *hist.GRIDS]))
        ranked = data.draw(st.one_of(definitions(), st.sampled_from(rates)))
        level = data.draw(st.sampled_from(["grid", "community"]))
        min_sample = data.draw(st.integers(1, 3))
        last = data.draw(st.sampled_from([None, 1, 2, 5]))

        def reports() -> dict[str, Any]:
            return {
                "compare": engine.compare(metrics, period, community=community, tz=tz),
                "service": engine.service_kpis(period, order_groups, community=community,
                                               tz=tz),
                "counts": engine.counts(period, count_groups, community=community, tz=tz),
                "rates": engine.rates(period, order_groups, rates=rates, community=community,
                                      tz=tz),
                "scorecard": engine.scorecard(world.communities[0], grid, period,
                                              metrics=metrics, rates=rates),
                "league": engine.league_table(ranked, period, level=level, community=community,
                                              min_sample=min_sample, last=last),
            }

        with from_the_summaries():
            fast = reports()
        with from_the_cases():
            slow = reports()
        for name, found in fast.items():
            assert found == slow[name], name
        for found, wanted in zip(fast["compare"].reports, slow["compare"].reports, strict=True):
            same_report(found, wanted)


@SETTINGS
@given(history=any_history, data=st.data())
def test_grouped_comparisons_of_both_subjects_are_equal(history: list[tuple[Any, ...]],
                                                         data: st.DataObject) -> None:
    """Metrics of incidents and orders side by side, grouped by what both have."""
    engine, world = build_split(history, data.draw(leaves))
    with engine:
        metrics = [data.draw(definitions("incident")), data.draw(definitions("order"))]
        group_by = data.draw(groupings(["incident", "order"]))
        period, tz = periods(data, engine, world), data.draw(st.sampled_from(ZONES))
        with from_the_summaries():
            fast = engine.compare(metrics, period, group_by, tz=tz)
        with from_the_cases():
            slow = engine.compare(metrics, period, group_by, tz=tz)
        for found, wanted in zip(fast.reports, slow.reports, strict=True):
            same_report(found, wanted)


@SETTINGS
@given(history=any_history, cut=st.integers(0, 40), page=st.integers(1, 40), leaf=leaves,
       chunk=st.sampled_from([1, 2, 1000]))
def test_summaries_kept_page_by_page_equal_a_rebuilds(history: list[tuple[Any, ...]],
                                                      cut: int, page: int, leaf: int,
                                                      chunk: int) -> None:
    """Caught up after each part of a history (corrections moving starts between months
    among it), or rebuilt in pages of any size, buckets split or not, cases summarised a
    few at a time or all at once, the summaries are the same, each case in one bucket."""
    clock = ManualClock(T0 + timedelta(days=13))  # near the end of the month
    with Engine("memory:", clock=clock) as engine, \
            patch("resilience.projections.summaries.LEAF", leaf), \
            patch("resilience.metrics.summaries._CHUNK", chunk):
        world = setup_world(engine, clock)
        for part in (history[:cut], history[cut:]):
            hist.apply_history(engine, clock, world, part)
            engine.views.catch_up()
        kept = summaries(engine)
        engine.views.rebuild_page_size = page
        engine.views.rebuild()
        assert summaries(engine) == kept
        assert sorted(kept) == sorted(map(str, world.incidents + world.orders))


# Examples ------------------------------------------------------------------------------------


def test_a_case_whose_start_is_corrected_into_another_month_moves_bucket() -> None:
    """Detected on the last evening of January (UTC), then corrected to the 1st of
    February and back: one case, in the month its start now falls in."""
    at = datetime(2022, 1, 31, 23, 50, tzinfo=UTC)
    clock = ManualClock(at + timedelta(hours=1))
    with Engine("memory:", clock=clock, policy=None) as engine:
        world = setup_world(engine, clock)
        incident = engine.incidents.detect(
            world.communities[0], incident_type="fire", severity="high",
            location=Location(grid="g1"), description="smoke", actor=STAFF,
            occurred_at=at).aggregate_id
        january, february = Period.month(2022, 1, UTC), Period.month(2022, 2, UTC)

        def counts(period: Period | None) -> int:
            return engine.counts(period)[0].incidents

        assert (counts(january), counts(february)) == (1, 0)
        engine.incidents.correct_time(incident, 1, at + timedelta(minutes=20), "clock",
                                      actor=STAFF)
        assert (counts(january), counts(february), counts(None)) == (0, 1, 1)
        engine.incidents.correct_time(incident, 1, at, "clock was right", actor=STAFF)
        assert (counts(january), counts(february), counts(None)) == (1, 0, 1)
        kept = summaries(engine)
        engine.views.rebuild()
        assert summaries(engine) == kept


def test_the_buckets_of_a_period_are_the_months_its_cases_may_start_in() -> None:
    """From the UTC month of the start to the end of the month holding the last moment
    before the end."""
    def bounds(start: datetime, end: datetime) -> tuple[datetime | None, ...]:
        return tuple(None if b is None else datetime.fromtimestamp(b, UTC)
                     for b in bucket_bounds(Period(start, end)))
    march = Period.month(2022, 3, SHANGHAI)
    assert march.start is not None
    assert march.end is not None
    assert bounds(march.start, march.end) == (datetime(2022, 2, 1, tzinfo=UTC),
                                              datetime(2022, 4, 1, tzinfo=UTC))
    assert bounds(datetime(2022, 3, 1, tzinfo=UTC), datetime(2022, 4, 1, tzinfo=UTC)) == (
        datetime(2022, 3, 1, tzinfo=UTC), datetime(2022, 4, 1, tzinfo=UTC))
    assert bucket_bounds(Period()) == (None, None)


def test_a_case_that_cannot_be_summarised_is_read_whole() -> None:
    """A document the summary cannot read is marked unreadable: its month's report
    reads the cases (and raises there, as before) rather than leave it out."""
    class Docs:
        read_error: BaseException | None = None

        def __init__(self) -> None:
            self.docs: dict[str, Any] = {}

        def get(self, key: str) -> Any:
            return self.docs.get(key)

        def put(self, key: str, doc: Any) -> None:
            self.docs[key] = doc

        def prefetch(self, keys: Any) -> None:
            list(keys)

    docs = Docs()
    broken = {"kind": "incident", "community": "c", "at": 0.0, "grid": "g1",
              "incident_type": "fire", "severity": "high", "drill": False,
              "facts": [["NoSuchFact", "2022-02-15T15:00:00+08:00",
                         "2022-02-15T15:00:00+08:00", None, "p", "community_staff"]],
              "corrections": []}
    CaseSummaries().derive({"k": broken}, docs)
    [(key, doc)] = docs.docs.items()
    assert key == "c/incident/1643673600000000-1646092800000000"  # February 2022, UTC
    assert UNREADABLE in doc["extra"]["k"]
    with pytest.raises(Unindexed):
        CaseTable("incident", [Bucket(key, doc)], Period(), lambda *_: {})


def test_each_answer_states_the_position_it_reflects(memory_engine: Engine) -> None:
    """After a command, every report and timeline carries the views' position; two answers
    at different positions are still equal when their figures are."""
    clock = ManualClock(T0)
    world = setup_world(memory_engine.with_clock(clock), clock)
    incident = memory_engine.incidents.detect(
        world.communities[0], incident_type="fire", severity="high",
        location=Location(grid="g1"), description="smoke", actor=STAFF).aggregate_id
    before = memory_engine.metrics("detection_to_contained")
    memory_engine.incidents.add_note(incident, "still smoking", actor=STAFF)
    head = memory_engine.views.head
    answers: list[Any] = [memory_engine.metrics("detection_to_contained"),
               memory_engine.compare(["turnout"]), memory_engine.rates(),
               memory_engine.scorecard(world.communities[0]), memory_engine.league_table(),
               memory_engine.data_quality(), memory_engine.timeline(incident)]
    assert [answer.position for answer in answers] == [head] * len(answers)
    assert before.position == head - 1
    assert before == answers[0]
    assert answers[0].in_unit("s").position == head
    assert memory_engine.compare(["turnout"]).in_unit("h").position == head


def test_the_reports_agree_on_every_store(shared_store_url: str) -> None:
    """SQLite and PostgreSQL hold the summaries as the memory store does."""
    history = [("incident", 0, "g1", "fire", "high", False, 5, 0),
               ("incident_step", 0, "dispatch", "r1", 3, 0),
               ("incident_step", 0, "arrive", "r1", 1, 0),
               ("incident_step", 0, "contain", "r1", 0, 5),
               ("order", 1, "g2", ("home", "repair"), 4, 2, 0),
               ("order_step", 0, "accept", hist.PROVIDERS[0], 3, 1, 0),
               ("correct", 0, 0, -20, 0), ("advance", 60 * 24 * 20),
               ("incident", 1, "g2", "medical", "low", False, 5, 0),
               ("incident_step", 1, "reopen", "r1", 1, 0)]
    engine, _ = build(history, shared_store_url)
    with engine:
        with from_the_summaries():
            fast = engine.compare(["detection_to_contained", "placed_to_dispatched"],
                                  group_by=("month",))
        with from_the_cases():
            assert engine.compare(["detection_to_contained", "placed_to_dispatched"],
                                  group_by=("month",)) == fast
        assert sum(row.cases for report in fast.reports for row in report.rows) == 3
