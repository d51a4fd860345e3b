"""Reports computed from cases: metric summaries, service KPIs, counts, rates, scorecards,
league tables.

Every function here is pure: it takes the cases (and activities) read from
the views and a definition, and returns values. Nothing is stored, so a
changed definition is computed over the whole history at once.

Every duration a report shows is in its unit (``unit``, in titles and headers). A
metric's durations are measured in seconds and each figure computed from those in the
unit asked for, so ``in_unit`` gives exactly the figures a definition measured in that
unit would (a 15-minute median is 900 s, never a rounded 899.9999); the target, a
number someone chose, is converted in exact arithmetic and rounded once.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from fractions import Fraction
from typing import Any, Generic, TypeVar

from attrs import Factory, evolve, field, frozen

from resilience.domain.validation import shown
from resilience.errors import InvalidInputError, NotInReportError
from resilience.metrics.cases import Case
from resilience.metrics.definitions import SECONDS_PER, MetricDefinition
from resilience.metrics.period import ALL_TIME, Period, group_key, grouped, place_key, sort_key
from resilience.metrics.rates import (
    RateDefinition,
    RateRow,
    RateSummary,
    rate_named,
    rate_row,
    rate_summary,
)
from resilience.metrics.stats import median, percentile, rank, share

Group = dict[str, str | None]
S = TypeVar("S", "MetricSummary", RateSummary)


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


def _absent(what: str, group: Mapping[str, str | None], rows: Iterable[Mapping[str, str | None]]
            ) -> NotInReportError:
    """The error for a group a report has no row of, naming the groups it has."""
    have = [_group_label(g) for g in rows]
    return NotInReportError(f"{what} has no row for {_group_label(group)}; its rows: "
                            f"{'; '.join(have) if have else 'none (no cases)'}")


def _check_unit(unit: str) -> str:
    if type(unit) is not str or unit not in SECONDS_PER:
        raise InvalidInputError(f"unit must be one of {', '.join(SECONDS_PER)}, got {shown(unit)}")
    return unit


def _in_unit(seconds: Fraction | None, unit: str) -> float | None:
    """An exact number of seconds in ``unit``, rounded once."""
    return None if seconds is None else float(seconds / Fraction(SECONDS_PER[unit]))


def _target_seconds(definition: MetricDefinition) -> Fraction | None:
    if definition.target is None:
        return None
    return Fraction(definition.target) * Fraction(SECONDS_PER[definition.unit])


# Metric summaries -----------------------------------------------------------------


@frozen
class MetricSummary:
    """One metric over one group of cases. Durations are in ``unit``."""

    metric: str
    unit: str
    group: Group
    cases: int
    """What the definition applies to: the cases its filter admits, or, for a metric per
    reopening, every reopening of those cases."""
    measured: int
    """Of those, the ones with both milestones (the rest lack one: see the data-quality
    report)."""
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
    """Measured units within the target."""
    compliance: float | None
    """``met / measured``."""
    target_met: bool | None
    """Whether at least ``percentile`` percent of measured units met the target."""
    excluded: Mapping[str, int]
    """Cases of the subject, group and period the definition's filter left out, by reason
    (``CaseFilter.why_excluded``): not counted in ``cases``, nor in ``missing``."""
    seconds: tuple[float, ...] = field(repr=False, eq=False)
    """The measured durations in seconds, shortest first: what every figure is computed
    from."""
    target_seconds: Fraction | None = field(repr=False, eq=False)
    """The target in seconds, exactly."""

    @property
    def missing(self) -> int:
        """``cases - measured``: those lacking a milestone."""
        return self.cases - self.measured

    def in_unit(self, unit: str) -> "MetricSummary":
        """The same summary with every duration in ``unit`` (``"s"``, ``"min"``, ``"h"``,
        ``"d"``): each figure computed from the measured seconds as a definition in that
        unit would measure it, the target converted exactly; counts, compliance and
        ``target_met`` unchanged."""
        middle, p90, most, least, mean, at_percentile = _figures(
            self.seconds, _check_unit(unit), self.percentile)
        return evolve(self, unit=unit, median=middle, p90=p90, max=most, min=least, mean=mean,
                      at_percentile=at_percentile, target=_in_unit(self.target_seconds, unit))


Figures = tuple[float | None, float | None, float | None, float | None, float | None,
                float | None]


def _figures(seconds: Sequence[float], unit: str, p: float) -> Figures:
    """Median, p90, max, min, mean and the value at ``p`` of sorted durations in seconds,
    in ``unit``: each duration as ``measure`` gives it in that unit."""
    ordered = [s / SECONDS_PER[unit] for s in seconds]
    n = len(ordered)
    return (median(ordered), percentile(ordered, 90), ordered[-1] if n else None,
            ordered[0] if n else None, sum(ordered) / n if n else None,
            percentile(ordered, p))


def summarise(definition: MetricDefinition, seconds: Sequence[float], cases: int,
              group: Mapping[str, str | None] | None = None, *,
              excluded: Mapping[str, int] | None = None) -> MetricSummary:
    """The summary of the durations measured (``seconds``, in seconds) of ``cases`` cases
    (or reopenings, for a metric per reopening)."""
    ordered = tuple(sorted(seconds))
    n = len(ordered)
    middle, p90, most, least, mean, at_percentile = _figures(
        ordered, definition.unit, definition.percentile)
    met = compliance = target_met = None
    if definition.target is not None:
        # In the definition's own unit, as each case is graded against its target.
        met = sum(1 for s in ordered if s / SECONDS_PER[definition.unit] <= definition.target)
        compliance = share(met, n)
        target_met = met >= rank(definition.percentile, n) if n else None
    return MetricSummary(
        metric=definition.name, unit=definition.unit, group=dict(group or {}), cases=cases,
        measured=n, median=middle, p90=p90, max=most, min=least, mean=mean,
        percentile=definition.percentile, at_percentile=at_percentile, target=definition.target,
        met=met, compliance=compliance, target_met=target_met,
        excluded=_tally([excluded or {}]),
        seconds=ordered, target_seconds=_target_seconds(definition))


def _in_seconds(definition: MetricDefinition) -> MetricDefinition:
    """The definition measuring in seconds, so a summary can give any unit exactly."""
    return definition if definition.unit == "s" else evolve(definition, unit="s")


def _measured(in_seconds: MetricDefinition, members: Iterable[Case]
              ) -> tuple[list[float], int]:
    """The durations measured over ``members`` (seconds), and how many units they have."""
    values: list[float] = []
    units = 0
    for case in members:
        measured = in_seconds.measure_all(case)
        units += len(measured)
        values += [v for v in measured if v is not None]
    return values, units


def _met(target_met: bool | None) -> str:
    return "-" if target_met is None else ("yes" if target_met else "NO")


def _excluded(excluded: Mapping[str, int]) -> str:
    """The footer naming why cases were left out (empty if none were)."""
    if not excluded:
        return ""
    return "\nexcluded: " + ", ".join(f"{reason} {count}" for reason, count in excluded.items())


def _tally(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Counts by reason added up, by reason's name."""
    total: dict[str, int] = {}
    for each in counts:
        for reason, count in each.items():
            total[reason] = total.get(reason, 0) + count
    return dict(sorted(total.items()))


@frozen
class MetricReport:
    definition: MetricDefinition
    period: Period
    group_by: tuple[str, ...]
    rows: tuple[MetricSummary, ...]
    """One per group with a case the definition applies to."""
    excluded: Mapping[str, int] = Factory(dict)
    """The cases of the subject and period the definition left out, by reason, in every
    group: also those of groups left without a row (all their cases excluded)."""
    unit: str = Factory(lambda self: self.definition.unit, takes_self=True)
    """The unit of every duration in the rows: the definition's, unless converted."""

    def row(self, **group: str | None) -> MetricSummary:
        """The row of one group, e.g. ``report.row(grid="3")``; NotInReportError if no
        case of the group is one the definition applies to."""
        for row in self.rows:
            if row.group == group:
                return row
        raise _absent(self.definition.name, group, (r.group for r in self.rows))

    def in_unit(self, unit: str) -> "MetricReport":
        """The same report with every duration in ``unit`` (see MetricSummary.in_unit)."""
        return evolve(self, unit=_check_unit(unit),
                      rows=tuple(row.in_unit(unit) for row in self.rows))

    def render(self, names: Mapping[str, str] | None = None) -> str:
        d, u = self.definition, self.unit
        target = (f"target {_fmt(_in_unit(_target_seconds(d), u))} {u} for "
                  f"{_fmt(d.percentile)}% of {'reopenings' if d.per == 'reopening' else 'cases'}"
                  if d.target is not None else "no target")
        per = ", per reopening" if d.per == "reopening" else ""
        title = f"{d.name} ({d.start} -> {d.end}{per}, {u}; {target}) over {self.period}"
        headers = ["group", "cases", "measured", f"median {u}", f"p90 {u}", f"max {u}",
                   "compliance", "met", "excluded"]
        rows = [[_group_label(r.group, names), str(r.cases), str(r.measured), _fmt(r.median),
                 _fmt(r.p90), _fmt(r.max), _pct(r.compliance), _met(r.target_met),
                 str(sum(r.excluded.values()))]
                for r in self.rows]
        return title + "\n" + render_table(headers, rows) + _excluded(self.excluded)


def metric_report(definition: MetricDefinition, cases: Iterable[Case], *,
                  period: Period = ALL_TIME, group_by: tuple[str, ...] = (),
                  tz: tzinfo | None = None) -> MetricReport:
    """``definition`` over the cases of its subject that start in ``period``: those it
    applies to measured, one row per group that has any; the others counted by reason in
    ``excluded``, of their row and of the report."""
    in_seconds = _in_seconds(definition)
    scoped = [c for c in cases if c.subject == definition.subject and c.start in period]
    rows = []
    left_out: list[dict[str, int]] = []
    for key, members in grouped(scoped, lambda c: group_key(c, group_by, tz)):
        admitted: list[Case] = []
        excluded: dict[str, int] = {}
        for case in members:
            reason = definition.applies_to.why_excluded(case)
            if reason is None:
                admitted.append(case)
            else:
                excluded[reason] = excluded.get(reason, 0) + 1
        left_out.append(excluded)
        if admitted:
            values, units = _measured(in_seconds, admitted)
            rows.append(summarise(definition, values, units,
                                  dict(zip(group_by, key, strict=True)), excluded=excluded))
    return MetricReport(definition, period, group_by, tuple(rows), _tally(left_out))


@frozen
class Comparison:
    """Several definitions (an old and a new one, say) over the same cases, side by side."""

    reports: tuple[MetricReport, ...]

    def in_unit(self, unit: str) -> "Comparison":
        """Every report in ``unit``."""
        return Comparison(tuple(report.in_unit(unit) for report in self.reports))

    def render(self, names: Mapping[str, str] | None = None) -> str:
        groups: dict[tuple[tuple[str, str | None], ...], None] = {}
        for report in self.reports:
            for row in report.rows:
                groups.setdefault(tuple(row.group.items()), None)
        headers = ["group"]
        for report in self.reports:
            headers += [f"{report.definition.name} n", f"median {report.unit}", "p90",
                        "compliance"]
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
                         + (f", target {_fmt(_in_unit(_target_seconds(r.definition), r.unit))}"
                            f" {r.unit}" if r.definition.target is not None else "")
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
    """One summary per group of the orders placed in ``period``. Ungrouped, always one
    (of zeros when there is none): "no orders" is a figure; grouped, one per group that
    has orders."""
    scoped = [c for c in cases if c.subject == "order" and c.start in period]
    if not group_by:
        return (service_summary(scoped),)
    return tuple(service_summary(members, dict(zip(group_by, key, strict=True)))
                 for key, members in grouped(scoped, lambda c: group_key(c, group_by, tz)))


# Counts ----------------------------------------------------------------------------------


@frozen
class Activity:
    community: str
    grid: str | None
    category: str
    title: str
    participants: int
    """As last corrected (``correct_participants``)."""
    occurred_at: datetime
    participants_recorded: int = Factory(lambda self: self.participants, takes_self=True)
    """As first recorded."""


@frozen
class Counts:
    """The figures a district assesses a community or grid on, for one period."""

    group: Group
    incidents: int
    """Real incidents (drills are counted apart)."""
    by_type: dict[str, int]
    by_severity: dict[str, int]
    drills: int
    incidents_reopened: int
    """Real incidents reopened at least once."""
    reopenings: int
    """How many times real incidents were reopened, in all."""
    orders: int
    requests_resolved: int
    """Orders whose final completion was "fixed"."""
    activities_held: int
    activity_participants: int
    """Participants of the activities held, as last corrected."""
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
        incidents_reopened=sum(1 for c in incidents if c.reopened),
        reopenings=sum(c.reopened for c in incidents),
        orders=sum(1 for c in cases if c.subject == "order"), requests_resolved=resolved,
        activities_held=len(activities), activity_participants=participants,
        person_times_served=participants + resolved)


def count_report(cases: Iterable[Case], activities: Iterable[Activity], *,
                 group_by: tuple[str, ...] = (), tz: tzinfo | None = None) -> tuple[Counts, ...]:
    """Counts per group (community, grid, time buckets). Ungrouped, always one row (of
    zeros when nothing happened); grouped, one per group where anything did."""
    keyed: dict[tuple[str | None, ...], tuple[list[Case], list[Activity]]] = {}
    for case in cases:
        keyed.setdefault(group_key(case, group_by, tz), ([], []))[0].append(case)
    for activity in activities:
        place = place_key(activity.community, activity.grid, activity.occurred_at, group_by, tz)
        keyed.setdefault(place, ([], []))[1].append(activity)
    if not group_by:
        keyed.setdefault((), ([], []))
    return tuple(counts(c, a, dict(zip(group_by, key, strict=True)))
                 for key, (c, a) in sorted(keyed.items(), key=lambda i: sort_key(i[0])))


# The three rates -------------------------------------------------------------------------


@frozen
class RateReport:
    """Rates (by default the three: response, resolution, satisfaction) per group of
    orders placed in a period."""

    definitions: tuple[RateDefinition, ...]
    period: Period
    group_by: tuple[str, ...]
    rows: tuple[RateRow, ...]

    def row(self, **group: str | None) -> RateRow:
        """The row of one group, e.g. ``report.row(grid="xy-2")``; NotInReportError if the
        group placed no order in the period."""
        for row in self.rows:
            if row.group == group:
                return row
        raise _absent("the rates", group, (r.group for r in self.rows))

    def render(self, names: Mapping[str, str] | None = None) -> str:
        rules = "; ".join(f"{d.name}: {d.rule}" for d in self.definitions)
        title = (f"Rates over {self.period}: yes of n orders (cancelled left out, unknown "
                 f"counted in n)\n{rules}")
        headers = ["group", "orders", "cancelled"]
        for d in self.definitions:
            headers += [d.name, "yes/n", "unknown"]
        rows = []
        for row in self.rows:
            line = [_group_label(row.group, names), str(row.orders), str(row.cancelled)]
            for s in row.rates:
                line += [_pct(s.value), f"{s.numerator}/{s.denominator}", str(s.unknown)]
            rows.append(line)
        return title + "\n" + render_table(headers, rows)


def rate_report(definitions: Sequence[RateDefinition], cases: Iterable[Case], *,
                period: Period = ALL_TIME, group_by: tuple[str, ...] = (),
                tz: tzinfo | None = None) -> RateReport:
    """The rates over the orders placed in ``period``: ungrouped, always one row (of zeros
    when there is none); grouped, one per group that placed any."""
    scoped = [c for c in cases if c.subject == "order" and c.start in period]
    if group_by:
        rows = tuple(rate_row(definitions, members, dict(zip(group_by, key, strict=True)))
                     for key, members in grouped(scoped, lambda c: group_key(c, group_by, tz)))
    else:
        rows = (rate_row(definitions, scoped),)
    return RateReport(tuple(definitions), period, group_by, rows)


def _rate_text(s: RateSummary) -> str:
    return f"{s.name} {_pct(s.value)} ({s.numerator}/{s.denominator}, unknown {s.unknown})"


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
    rates: tuple[RateSummary, ...] = ()

    def metric(self, name: str) -> MetricSummary:
        """The summary of the metric named ``name``; NotInReportError if the scorecard was
        not computed with it."""
        for summary in self.metrics:
            if summary.metric == name:
                return summary
        raise NotInReportError(f"the scorecard has no metric {shown(name)}; its metrics: "
                               f"{', '.join(m.metric for m in self.metrics) or 'none'}")

    def rate(self, name: str) -> RateSummary:
        """The summary of the rate named ``name``; NotInReportError if not computed."""
        return rate_named(self.rates, name, "the scorecard")

    def render(self) -> str:
        scope = self.community_name + (f", {self.grid_name}" if self.grid is not None else "")
        c, s = self.counts, self.service
        types = ", ".join(f"{k} {v}" for k, v in c.by_type.items()) or "none"
        lines = [f"Scorecard: {scope} ({self.period})", "",
                 f"Incidents: {c.incidents} ({types}), drills {c.drills}, reopened "
                 f"{c.incidents_reopened} ({c.reopenings} reopenings)",
                 f"Service orders: {s.orders}, completed {s.completed}, fixed {_pct(s.fixed_rate)},"
                 f" not fixed {_pct(s.not_fixed_rate)}, reopened {_pct(s.reopen_rate)}, on time "
                 f"{_pct(s.on_time_rate)}, rating {_fmt(s.rating_mean, 2)} from {s.rated}"]
        if self.rates:
            lines.append("Rates: " + "; ".join(_rate_text(r) for r in self.rates))
        lines += [f"Requests resolved {c.requests_resolved}, activities held "
                  f"{c.activities_held}, person-times served {c.person_times_served}", ""]
        headers = ["metric", "unit", "cases", "measured", "median", "p90", "max", "target",
                   "compliance", "met", "excluded"]
        rows = [[m.metric, m.unit, str(m.cases), str(m.measured), _fmt(m.median), _fmt(m.p90),
                 _fmt(m.max), _fmt(m.target), _pct(m.compliance), _met(m.target_met),
                 ", ".join(f"{reason} {n}" for reason, n in m.excluded.items()) or "-"]
                for m in self.metrics]
        return "\n".join(lines) + render_table(headers, rows)


@frozen
class LeagueRow(Generic[S]):
    rank: int | None
    """None: too few cases to rank (see ``note``)."""
    community: str
    grid: str | None
    name: str
    summary: S
    """The recorded figures of the scope's latest cases: a MetricSummary, or a RateSummary
    in a league on a rate."""
    unrecorded: int = 0
    """Finished cases lacking a milestone of the metric: ranked as slower than any recorded."""
    compliance: float | None = None
    """Share of graded cases (measured plus unrecorded) within the target: what ranks a
    metric with a target."""
    note: str = ""

    @property
    def graded(self) -> int:
        """What the rank is judged on: a metric's measured and unrecorded units, a rate's
        denominator."""
        if isinstance(self.summary, RateSummary):
            return self.summary.denominator
        return self.summary.measured + self.unrecorded


@frozen
class LeagueTable(Generic[S]):
    """Grids (or communities) ranked on one metric or rate, each over its latest cases:
    a ``LeagueTable[MetricSummary]`` or a ``LeagueTable[RateSummary]``."""

    definition: MetricDefinition | RateDefinition
    period: Period
    min_sample: int
    last: int | None
    rows: tuple[LeagueRow[S], ...]

    def render(self) -> str:
        d = self.definition
        if isinstance(d, RateDefinition):
            return self._render_rate(d)
        over = f"latest {self.last} cases each" if self.last else "all cases"
        title = (f"League: {d.name} ({d.unit}) over {self.period}, {over}; ranked with at least "
                 f"{self.min_sample} graded cases")
        headers = ["rank", "name", "graded", "unrecorded", f"median {d.unit}", f"p90 {d.unit}",
                   "compliance", "note"]
        rows = [["-" if r.rank is None else str(r.rank), r.name, str(r.graded),
                 str(r.unrecorded), _fmt(r.summary.median), _fmt(r.summary.p90),
                 _pct(r.compliance), r.note]
                for r in self.rows if isinstance(r.summary, MetricSummary)]
        return title + "\n" + render_table(headers, rows)

    def _render_rate(self, d: RateDefinition) -> str:
        over = f"latest {self.last} orders each" if self.last else "all orders"
        title = (f"League: {d.name} ({d.rule}) over {self.period}, {over}; ranked with at "
                 f"least {self.min_sample} graded orders")
        headers = ["rank", "name", "graded", "yes", "no", "unknown", "rate", "note"]
        rows = [["-" if r.rank is None else str(r.rank), r.name, str(r.graded),
                 str(r.summary.numerator), str(r.summary.no), str(r.summary.unknown),
                 _pct(r.summary.value), r.note]
                for r in self.rows if isinstance(r.summary, RateSummary)]
        return title + "\n" + render_table(headers, rows)


def league_table(definition: MetricDefinition | RateDefinition, cases: Iterable[Case],
                 scopes: Sequence[tuple[str, str | None, str]], *, period: Period,
                 min_sample: int, last: int | None) -> LeagueTable[Any]:
    """Rank ``scopes`` (community, grid or None, display name) on a metric or a rate.

    Each scope is judged on its latest ``last`` cases (FixMyStreet ranks over
    the last 100): for a rate, the orders it counts. A finished case that lacks
    the metric's milestones counts as slower than any recorded one (and as
    missing the target), so leaving slow cases unrecorded never climbs the
    table; a rate's unknowns stay in its denominator, to the same effect. A
    scope is ranked only with at least ``min_sample`` graded cases, so one fast
    case can't top it. Metrics rank on compliance (with a target), the value at
    the percentile and the median; rates on the rate, highest first.
    """
    counted = (definition.applies if isinstance(definition, MetricDefinition)
               else lambda case: definition.judge(case) is not None)
    by_scope: dict[tuple[str, str | None], list[Case]] = {}
    for case in cases:
        if case.start in period and counted(case):
            by_scope.setdefault((case.community, case.dims.get("grid")), []).append(case)
            by_scope.setdefault((case.community, None), []).append(case)
    ranked: list[tuple[tuple[float, ...], LeagueRow[Any]]] = []
    unranked: list[LeagueRow[Any]] = []
    for community, grid, name in scopes:
        members = by_scope.get((community, grid), [])
        if last is not None:
            members = sorted(members, key=lambda c: (c.start, c.case_id))[-last:]
        group: dict[str, str | None] = {"community": community}
        if grid is not None:
            group["grid"] = grid
        row: LeagueRow[Any]
        if isinstance(definition, MetricDefinition):
            order, row = _metric_standing(definition, members, group)
        else:
            summary = rate_summary(definition, members, group)
            order, row = (-(summary.value or 0.0),), LeagueRow(None, community, grid, name,
                                                               summary)
        row = evolve(row, community=community, grid=grid, name=name)
        if row.graded < min_sample:
            what = "cases" if isinstance(definition, MetricDefinition) else "orders"
            unranked.append(evolve(row, note=f"not ranked: {row.graded} < {min_sample} {what}"))
        else:
            ranked.append((order, row))
    ranked.sort(key=lambda item: item[0])
    rows: list[LeagueRow[Any]] = []
    for position, (order, row) in enumerate(ranked, start=1):
        tied = rows and ranked[position - 2][0] == order
        rows.append(evolve(row, rank=rows[-1].rank if tied else position))
    return LeagueTable(definition, period, min_sample, last, tuple(rows + unranked))


def _metric_standing(definition: MetricDefinition, members: Sequence[Case],
                     group: Mapping[str, str | None]
                     ) -> tuple[tuple[float, ...], LeagueRow[MetricSummary]]:
    """A scope's row on a metric, and what ranks it (lower first)."""
    in_seconds = _in_seconds(definition)
    values: list[float] = []
    unrecorded = units = 0
    for case in members:
        measured = in_seconds.measure_all(case)
        units += len(measured)
        values += [v for v in measured if v is not None]
        if case.finished:
            unrecorded += sum(1 for v in measured if v is None)
    summary = summarise(definition, values, units, group)
    graded = [v / SECONDS_PER[definition.unit] for v in sorted(values)] + [math.inf] * unrecorded
    compliance = (share(summary.met or 0, len(graded)) if definition.target is not None
                  else None)
    middle = median(graded) or 0.0
    high = percentile(graded, definition.percentile) or 0.0
    order = ((-(compliance or 0.0), high, middle) if definition.target is not None
             else (middle, high))
    return order, LeagueRow(None, "", None, "", summary, unrecorded, compliance)
