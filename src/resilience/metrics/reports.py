"""Reports computed from cases: metric summaries, service KPIs, counts, scorecards, league tables.

Every function here is pure: it takes the cases (and activities) read from
the views and a definition, and returns values. Nothing is stored, so a
changed definition is computed over the whole history at once.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import tzinfo
from typing import Any, TypeVar

from attrs import evolve, frozen

from resilience.metrics.cases import Case
from resilience.metrics.definitions import MetricDefinition
from resilience.metrics.period import ALL_TIME, Period, group_key, sort_key
from resilience.metrics.stats import median, percentile, rank, share

Group = dict[str, str | None]
T = TypeVar("T")


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def render_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain-text table with columns padded to fit."""
    body = [list(map(str, r)) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return "\n".join(lines)


def _group_label(group: Mapping[str, str | None], names: Mapping[str, str] | None = None) -> str:
    if not group:
        return "all"
    names = names or {}
    return ", ".join(f"{k} {names.get(v or '', v) if v is not None else '(unknown)'}"
                     for k, v in group.items())


# Metric summaries -----------------------------------------------------------------


@frozen
class MetricSummary:
    """One metric over one group of cases. Durations are in the metric's unit."""

    metric: str
    unit: str
    group: Group
    cases: int
    """Cases the definition applies to."""
    measured: int
    """Of those, cases with both milestones (the rest lack one: see the data-quality report)."""
    median: float | None
    p90: float | None
    max: float | None
    min: float | None
    mean: float | None
    percentile: float
    at_percentile: float | None
    """The value at the definition's percentile (nearest rank)."""
    target: float | None
    met: int | None
    """Measured cases within the target."""
    compliance: float | None
    """``met / measured``."""
    target_met: bool | None
    """Whether at least ``percentile`` percent of measured cases met the target."""

    @property
    def missing(self) -> int:
        return self.cases - self.measured


def summarise(definition: MetricDefinition, values: Sequence[float], cases: int,
              group: Mapping[str, str | None] | None = None) -> MetricSummary:
    ordered = sorted(values)
    n = len(ordered)
    met = compliance = target_met = None
    if definition.target is not None:
        met = sum(1 for v in ordered if v <= definition.target)
        compliance = share(met, n)
        target_met = met >= rank(definition.percentile, n) if n else None
    return MetricSummary(
        metric=definition.name, unit=definition.unit, group=dict(group or {}), cases=cases,
        measured=n, median=median(ordered), p90=percentile(ordered, 90),
        max=ordered[-1] if n else None, min=ordered[0] if n else None,
        mean=sum(ordered) / n if n else None, percentile=definition.percentile,
        at_percentile=percentile(ordered, definition.percentile), target=definition.target,
        met=met, compliance=compliance, target_met=target_met)


def _grouped(cases: Iterable[T], key: Callable[[T], tuple[str | None, ...]]
             ) -> list[tuple[tuple[str | None, ...], list[T]]]:
    groups: dict[tuple[str | None, ...], list[T]] = {}
    for case in cases:
        groups.setdefault(key(case), []).append(case)
    return sorted(groups.items(), key=lambda item: sort_key(item[0]))


def _met(target_met: bool | None) -> str:
    return "-" if target_met is None else ("yes" if target_met else "NO")


@frozen
class MetricReport:
    definition: MetricDefinition
    period: Period
    group_by: tuple[str, ...]
    rows: tuple[MetricSummary, ...]

    def row(self, **group: str | None) -> MetricSummary:
        """The row of one group, e.g. ``report.row(grid="3")``."""
        for row in self.rows:
            if row.group == group:
                return row
        raise KeyError(f"no group {group} in {self.definition.name}")

    def render(self, names: Mapping[str, str] | None = None) -> str:
        d = self.definition
        target = (f"target {_fmt(d.target)} {d.unit} for {_fmt(d.percentile)}% of cases"
                  if d.target is not None else "no target")
        title = f"{d.name} ({d.start} -> {d.end}, {d.unit}; {target}) over {self.period}"
        headers = ["group", "cases", "measured", "median", "p90", "max", "compliance", "met"]
        rows = [[_group_label(r.group, names), str(r.cases), str(r.measured), _fmt(r.median),
                 _fmt(r.p90), _fmt(r.max), _pct(r.compliance), _met(r.target_met)]
                for r in self.rows]
        return title + "\n" + render_table(headers, rows)


def metric_report(definition: MetricDefinition, cases: Iterable[Case], *,
                  period: Period = ALL_TIME, group_by: tuple[str, ...] = (),
                  tz: tzinfo | None = None) -> MetricReport:
    scoped = [c for c in cases if definition.applies(c) and c.start in period]
    rows = []
    for key, members in _grouped(scoped, lambda c: group_key(c, group_by, tz)):
        values = [v for c in members if (v := definition.measure(c)) is not None]
        rows.append(summarise(definition, values, len(members),
                              dict(zip(group_by, key, strict=True))))
    return MetricReport(definition, period, group_by, tuple(rows))


@frozen
class Comparison:
    """Several definitions (an old and a new one, say) over the same cases, side by side."""

    reports: tuple[MetricReport, ...]

    def render(self, names: Mapping[str, str] | None = None) -> str:
        groups: dict[tuple[tuple[str, str | None], ...], None] = {}
        for report in self.reports:
            for row in report.rows:
                groups.setdefault(tuple(row.group.items()), None)
        headers = ["group"]
        for report in self.reports:
            d = report.definition
            headers += [f"{d.name} n", f"median {d.unit}", "p90", "compliance"]
        lines = []
        for group in groups:
            line = [_group_label(dict(group), names)]
            for report in self.reports:
                found = next((r for r in report.rows if tuple(r.group.items()) == group), None)
                line += ["0", "-", "-", "-"] if found is None else [
                    str(found.measured), _fmt(found.median), _fmt(found.p90),
                    _pct(found.compliance)]
            lines.append(line)
        defs = "; ".join(f"{r.definition.name}: {r.definition.start} -> {r.definition.end}"
                         + (f", target {_fmt(r.definition.target)} {r.definition.unit}"
                            if r.definition.target is not None else "")
                         for r in self.reports)
        return defs + "\n" + render_table(headers, lines)


# Service orders ----------------------------------------------------------------------


@frozen
class ServiceSummary:
    """Resident service orders in one group: the order -> dispatch -> fulfil -> rate loop."""

    group: Group
    orders: int
    open: int
    rejected: int
    cancelled: int
    completed: int
    """Orders whose standing (final) completion is recorded."""
    fixed: int
    not_fixed: int
    fixed_rate: float | None
    """``fixed / completed``: FixMyStreet's "fixed" against "closed, not fixed"."""
    not_fixed_rate: float | None
    reopened: int
    """Orders reopened at least once."""
    reopen_rate: float | None
    """``reopened / orders ever completed``."""
    on_time: int
    on_time_rate: float | None
    """Completed orders whose final completion was no later than expected."""
    rated: int
    rating_mean: float | None
    ratings: dict[int, int]
    """How many completed orders got each score, 1 to 5 (their latest rating)."""


def service_summary(cases: Sequence[Case],
                    group: Mapping[str, str | None] | None = None) -> ServiceSummary:
    completed = [c for c in cases if "completed" in c.milestones]
    ever_completed = sum(1 for c in cases if "first_completed" in c.milestones)
    fixed = sum(1 for c in completed if c.closure == "fixed")
    not_fixed = sum(1 for c in completed if c.closure == "not_fixed")
    reopened = sum(1 for c in cases if c.reopened)
    on_time = sum(1 for c in completed if c.milestones["completed"] <= c.milestones["expected"])
    scores = [c.rating for c in cases if c.rating is not None]
    finished = {"completed", "cancelled", "rejected"}
    return ServiceSummary(
        group=dict(group or {}), orders=len(cases),
        open=sum(1 for c in cases if not finished & c.milestones.keys()),
        rejected=sum(1 for c in cases if "rejected" in c.milestones),
        cancelled=sum(1 for c in cases if "cancelled" in c.milestones),
        completed=len(completed), fixed=fixed, not_fixed=not_fixed,
        fixed_rate=share(fixed, len(completed)), not_fixed_rate=share(not_fixed, len(completed)),
        reopened=reopened, reopen_rate=share(reopened, ever_completed), on_time=on_time,
        on_time_rate=share(on_time, len(completed)), rated=len(scores),
        rating_mean=sum(scores) / len(scores) if scores else None,
        ratings={score: scores.count(score) for score in range(1, 6)})


def service_report(cases: Iterable[Case], *, period: Period = ALL_TIME,
                   group_by: tuple[str, ...] = (),
                   tz: tzinfo | None = None) -> tuple[ServiceSummary, ...]:
    scoped = [c for c in cases if c.subject == "order" and c.start in period]
    return tuple(service_summary(members, dict(zip(group_by, key, strict=True)))
                 for key, members in _grouped(scoped, lambda c: group_key(c, group_by, tz)))


# Counts ----------------------------------------------------------------------------------


@frozen
class Activity:
    community: str
    grid: str | None
    category: str
    title: str
    participants: int
    occurred_at: Any


@frozen
class Counts:
    """The figures a district assesses a community or grid on, for one period."""

    group: Group
    incidents: int
    """Real incidents (drills are counted apart)."""
    by_type: dict[str, int]
    by_severity: dict[str, int]
    drills: int
    orders: int
    requests_resolved: int
    """Orders whose final completion was "fixed"."""
    activities_held: int
    activity_participants: int
    person_times_served: int
    """Activity participants plus requests resolved (one person-time each)."""


def counts(cases: Sequence[Case], activities: Sequence[Activity],
           group: Mapping[str, str | None] | None = None) -> Counts:
    incidents = [c for c in cases if c.subject == "incident" and not c.drill]
    by_type: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    for case in incidents:
        kind, severity = case.dims["incident_type"] or "?", case.dims["severity"] or "?"
        by_type[kind] = by_type.get(kind, 0) + 1
        by_severity[severity] = by_severity.get(severity, 0) + 1
    resolved = sum(1 for c in cases if c.subject == "order" and "completed" in c.milestones
                   and c.closure == "fixed")
    participants = sum(a.participants for a in activities)
    return Counts(
        group=dict(group or {}), incidents=len(incidents), by_type=dict(sorted(by_type.items())),
        by_severity=dict(sorted(by_severity.items())),
        drills=sum(1 for c in cases if c.subject == "incident" and c.drill),
        orders=sum(1 for c in cases if c.subject == "order"), requests_resolved=resolved,
        activities_held=len(activities), activity_participants=participants,
        person_times_served=participants + resolved)


# Scorecards and league tables ---------------------------------------------------------


@frozen
class Scorecard:
    """Everything a community or one of its grids is assessed on, for one period."""

    community: str
    community_name: str
    grid: str | None
    grid_name: str | None
    period: Period
    metrics: tuple[MetricSummary, ...]
    service: ServiceSummary
    counts: Counts

    def metric(self, name: str) -> MetricSummary:
        for summary in self.metrics:
            if summary.metric == name:
                return summary
        raise KeyError(name)

    def render(self) -> str:
        scope = self.community_name + (f", {self.grid_name}" if self.grid is not None else "")
        c, s = self.counts, self.service
        types = ", ".join(f"{k} {v}" for k, v in c.by_type.items()) or "none"
        lines = [f"Scorecard: {scope} ({self.period})", "",
                 f"Incidents: {c.incidents} ({types}), drills {c.drills}",
                 f"Service orders: {s.orders}, completed {s.completed}, fixed {_pct(s.fixed_rate)},"
                 f" not fixed {_pct(s.not_fixed_rate)}, reopened {_pct(s.reopen_rate)}, on time "
                 f"{_pct(s.on_time_rate)}, rating {_fmt(s.rating_mean, 2)} from {s.rated}",
                 f"Requests resolved {c.requests_resolved}, activities held {c.activities_held}, "
                 f"person-times served {c.person_times_served}", ""]
        headers = ["metric", "unit", "cases", "measured", "median", "p90", "max", "target",
                   "compliance", "met"]
        rows = [[m.metric, m.unit, str(m.cases), str(m.measured), _fmt(m.median), _fmt(m.p90),
                 _fmt(m.max), _fmt(m.target), _pct(m.compliance),
                 _met(m.target_met)]
                for m in self.metrics]
        return "\n".join(lines) + render_table(headers, rows)


@frozen
class LeagueRow:
    rank: int | None
    """None: too few cases to rank (see ``note``)."""
    community: str
    grid: str | None
    name: str
    summary: MetricSummary
    """The recorded figures of the scope's latest cases."""
    unrecorded: int = 0
    """Finished cases lacking a milestone of the metric: ranked as slower than any recorded."""
    compliance: float | None = None
    """Share of graded cases (measured plus unrecorded) within the target: what ranks."""
    note: str = ""

    @property
    def graded(self) -> int:
        return self.summary.measured + self.unrecorded


@frozen
class LeagueTable:
    """Grids (or communities) ranked on one metric, each over its latest cases."""

    definition: MetricDefinition
    period: Period
    min_sample: int
    last: int | None
    rows: tuple[LeagueRow, ...]

    def render(self) -> str:
        d = self.definition
        over = f"latest {self.last} cases each" if self.last else "all cases"
        title = (f"League: {d.name} ({d.unit}) over {self.period}, {over}; ranked with at least "
                 f"{self.min_sample} graded cases")
        headers = ["rank", "name", "graded", "unrecorded", "median", "p90", "compliance", "note"]
        rows = [["-" if r.rank is None else str(r.rank), r.name, str(r.graded),
                 str(r.unrecorded), _fmt(r.summary.median), _fmt(r.summary.p90),
                 _pct(r.compliance), r.note]
                for r in self.rows]
        return title + "\n" + render_table(headers, rows)


def league_table(definition: MetricDefinition, cases: Iterable[Case],
                 scopes: Sequence[tuple[str, str | None, str]], *, period: Period,
                 min_sample: int, last: int | None) -> LeagueTable:
    """Rank ``scopes`` (community, grid or None, display name) on ``definition``.

    Each scope is judged on its latest ``last`` cases (FixMyStreet ranks over
    the last 100). A finished case that lacks the metric's milestones counts
    as slower than any recorded one (and as missing the target), so leaving
    slow cases unrecorded never climbs the table. A scope is ranked only with
    at least ``min_sample`` graded cases, so one fast case can't top it.
    """
    by_scope: dict[tuple[str, str | None], list[Case]] = {}
    for case in cases:
        if definition.applies(case) and case.start in period:
            by_scope.setdefault((case.community, case.dims.get("grid")), []).append(case)
            by_scope.setdefault((case.community, None), []).append(case)
    ranked: list[tuple[tuple[float, ...], LeagueRow]] = []
    unranked: list[LeagueRow] = []
    for community, grid, name in scopes:
        members = by_scope.get((community, grid), [])
        if last is not None:
            members = sorted(members, key=lambda c: (c.start, c.case_id))[-last:]
        values: list[float] = []
        unrecorded = 0
        for case in members:
            value = definition.measure(case)
            if value is not None:
                values.append(value)
            elif case.finished:
                unrecorded += 1
        group: dict[str, str | None] = {"community": community}
        if grid is not None:
            group["grid"] = grid
        summary = summarise(definition, values, len(members), group)
        graded = sorted(values) + [math.inf] * unrecorded
        compliance = (share(summary.met or 0, len(graded))
                      if definition.target is not None else None)
        row = LeagueRow(None, community, grid, name, summary, unrecorded, compliance)
        if len(graded) < min_sample:
            unranked.append(evolve(row, note=f"not ranked: {len(graded)} < {min_sample} cases"))
            continue
        middle, high = median(graded) or 0.0, percentile(graded, definition.percentile) or 0.0
        order: tuple[float, ...] = ((-(compliance or 0.0), high, middle)
                                    if definition.target is not None else (middle, high))
        ranked.append((order, row))
    ranked.sort(key=lambda item: item[0])
    rows: list[LeagueRow] = []
    for position, (order, row) in enumerate(ranked, start=1):
        tied = rows and ranked[position - 2][0] == order
        rows.append(evolve(row, rank=rows[-1].rank if tied else position))
    return LeagueTable(definition, period, min_sample, last, tuple(rows + unranked))
