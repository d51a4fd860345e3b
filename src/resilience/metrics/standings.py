"""Scorecards (everything one community or grid is assessed on) and league tables (grids or
communities ranked on one metric, rate or peacetime figure): pure functions of the cases
and documents read from the views.

A league on a peacetime figure (resilience.metrics.peacetime) ranks each scope on the
figure's value, highest first or lowest first as its definition says (``better``).
Coverage and the share verified are shares of a sample: a scope is ranked only with at
least ``min_sample`` planned visits, or finished hazards. Hazards per 100 households and
overdue hazards are counts of the whole scope, not samples: ranked whenever known (per
100 households: the scope has households). A scope whose figure is unknown (nothing
planned, no hazard finished, no households) is listed unranked.
"""

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from attrs import evolve, field, frozen

from resilience.adapters.report_data import report_data
from resilience.domain.validation import shown
from resilience.errors import NotInReportError
from resilience.i18n import _, ngettext
from resilience.metrics.cases import Case
from resilience.metrics.definitions import SECONDS_PER, MetricDefinition
from resilience.metrics.peacetime import PeacetimeDefinition, PeacetimeFigure
from resilience.metrics.period import Period
from resilience.metrics.rates import (
    RateDefinition,
    RateSummary,
    rate_named,
    rate_summary,
)
from resilience.metrics.reports import (
    MetricSummary,
    excluded_text,
    measured_in_seconds,
    summarise_seconds,
)
from resilience.metrics.stats import median, percentile, share
from resilience.metrics.tables import (
    fmt,
    met_text,
    pct,
    period_text,
    render_table,
    unit_text,
    value_text,
)
from resilience.metrics.tallies import (
    Counts,
    ServiceSummary,
)

S = TypeVar("S", MetricSummary, RateSummary, PeacetimeFigure)
Ranked = MetricDefinition | RateDefinition | PeacetimeDefinition
"""What a league table ranks on."""


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
    position: int | None = field(default=None, eq=False)
    """The views' position (notification id) the answer reflects at least: read after the
    views caught up, before the documents (None: not read from the views)."""
    peacetime: tuple[PeacetimeFigure, ...] = ()
    """The peacetime figures (patrol coverage, hazards per 100 households, share verified,
    overdue hazards: resilience.metrics.peacetime) as of ``as_of``."""
    as_of: datetime | None = None
    """The moment the peacetime figures are taken at (None: none computed)."""

    def figure(self, name: str) -> PeacetimeFigure:
        """The peacetime figure named ``name``; NotInReportError if not computed."""
        for found in self.peacetime:
            if found.name == name:
                return found
        raise NotInReportError(
            _("the scorecard has no figure {name}; its figures: {figures}").format(
                name=shown(name), figures=", ".join(f.name for f in self.peacetime)
                or _("none")))

    def metric(self, name: str) -> MetricSummary:
        """The summary of the metric named ``name``; NotInReportError if the scorecard was
        not computed with it."""
        for summary in self.metrics:
            if summary.metric == name:
                return summary
        raise NotInReportError(
            _("the scorecard has no metric {name}; its metrics: {metrics}").format(
                name=shown(name), metrics=", ".join(m.metric for m in self.metrics) or _("none")))

    def rate(self, name: str) -> RateSummary:
        """The summary of the rate named ``name``; NotInReportError if not computed."""
        return rate_named(self.rates, name,
                          _("the scorecard has no rate {name}; its rates: {rates}"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"scorecard"``: the scope,
        the period, one object per metric, the service KPIs, the counts and the rates."""
        return report_data(self, "scorecard")

    def render(self) -> str:
        scope = (_("{community}, {grid}").format(community=self.community_name,
                                                  grid=self.grid_name)
                 if self.grid is not None else self.community_name)
        c, s = self.counts, self.service
        types = _(", ").join(_("{type} {count}").format(type=value_text(k), count=v)
                             for k, v in c.by_type.items()) or _("none")
        lines = [_("Scorecard: {scope} ({period})").format(scope=scope,
                                                          period=period_text(self.period)), "",
                 _("Incidents: {incidents} ({types}), drills {drills}, reopened {reopened} "
                   "({reopenings} reopenings)").format(
                     incidents=c.incidents, types=types, drills=c.drills,
                     reopened=c.incidents_reopened, reopenings=c.reopenings),
                 _("Service orders: {orders}, completed {completed}, fixed {fixed}, not fixed "
                   "{not_fixed}, reopened {reopened}, on time {on_time}, rating {rating} from "
                   "{rated}").format(
                     orders=s.orders, completed=s.completed, fixed=pct(s.fixed_rate),
                     not_fixed=pct(s.not_fixed_rate), reopened=pct(s.reopen_rate),
                     on_time=pct(s.on_time_rate), rating=fmt(s.rating_mean, 2), rated=s.rated)]
        if self.rates:
            lines.append(_("Rates: {rates}").format(
                rates=_("; ").join(_rate_text(r) for r in self.rates)))
        lines.append(_("Requests resolved {requests}, activities held {activities}, "
                       "person-times served {served}").format(
            requests=c.requests_resolved, activities=c.activities_held,
            served=c.person_times_served))
        if self.peacetime and self.as_of is not None:
            lines.append(_("Peacetime as of {as_of}: {figures}").format(
                as_of=self.as_of.isoformat(timespec="minutes"),
                figures=_("; ").join(f.text() for f in self.peacetime)))
        lines.append("")
        headers = [_("metric"), _("unit"), _("cases"), _("measured"), _("median"), _("p90"),
                   _("max"), _("target"), _("compliance"), _("met"), _("excluded")]
        rows = [[m.metric, unit_text(m.unit), str(m.cases), str(m.measured), fmt(m.median),
                 fmt(m.p90), fmt(m.max), fmt(m.target), pct(m.compliance),
                 met_text(m.target_met), excluded_text(m.excluded) or "-"]
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
        denominator, a peacetime figure's denominator (planned visits, households,
        finished hazards; overdue hazards: their count)."""
        if isinstance(self.summary, RateSummary):
            return self.summary.denominator
        if isinstance(self.summary, PeacetimeFigure):
            figure = self.summary
            return figure.numerator if figure.denominator is None else figure.denominator
        return self.summary.measured + self.unrecorded


@frozen
class LeagueTable(Generic[S]):
    """Grids (or communities) ranked on one metric or rate, each over its latest cases:
    a ``LeagueTable[MetricSummary]`` or a ``LeagueTable[RateSummary]``."""

    definition: Ranked
    period: Period
    min_sample: int
    last: int | None
    rows: tuple[LeagueRow[S], ...]
    position: int | None = field(default=None, eq=False)
    """The views' position (notification id) the answer reflects at least: read after the
    views caught up, before the documents (None: not read from the views)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"league_table"``: what it
        ranks on (a metric's ``to_dict``, or a rate's definition), the period, the sample
        rules and one object per row, ranked first (``rank`` null: not ranked), each with
        ``graded``, what its rank is judged on."""
        definition = (self.definition if isinstance(self.definition, RateDefinition)
                      else self.definition.to_dict())
        data = report_data(self, "league_table", definition=definition)
        for row, plain_row in zip(self.rows, data["rows"], strict=True):
            plain_row["graded"] = row.graded
        return data

    def render(self) -> str:
        d = self.definition
        if isinstance(d, RateDefinition):
            return self._render_rate(d)
        if isinstance(d, PeacetimeDefinition):
            return self._render_peacetime(d)
        over = (ngettext("latest {last} case each", "latest {last} cases each", self.last)
                .format(last=self.last) if self.last else _("all cases"))
        title = _("League: {name} ({unit}) over {period}, {over}; ranked with at least "
                  "{min_sample} graded {graded}").format(
            name=d.name, unit=unit_text(d.unit), period=period_text(self.period), over=over,
            min_sample=self.min_sample, graded=_graded_text(d))
        headers = [_("rank"), _("name"), _("graded"), _("unrecorded"),
                   _("median {unit}").format(unit=unit_text(d.unit)),
                   _("p90 {unit}").format(unit=unit_text(d.unit)), _("compliance"), _("note")]
        rows = [["-" if r.rank is None else str(r.rank), r.name, str(r.graded),
                 str(r.unrecorded), fmt(r.summary.median), fmt(r.summary.p90),
                 pct(r.compliance), _note_text(r.note)]
                for r in self.rows if isinstance(r.summary, MetricSummary)]
        return title + "\n" + render_table(headers, rows)

    def _render_peacetime(self, d: PeacetimeDefinition) -> str:
        title = _("League: {name} ({rule}) over {period}, {better} first; shares ranked with "
                  "at least {min_sample} graded").format(
            name=d.name, rule=d.rule, period=period_text(self.period),
            better=_("highest") if d.better == "higher" else _("lowest"),
            min_sample=self.min_sample)
        headers = [_("rank"), _("name"), _("graded"), _("value"), _("figure"), _("note")]
        rows = [["-" if r.rank is None else str(r.rank), r.name, str(r.graded),
                 (pct(r.summary.value) if d.kind in ("coverage", "share_verified")
                  else fmt(r.summary.value, 2)), r.summary.text(), _note_text(r.note)]
                for r in self.rows if isinstance(r.summary, PeacetimeFigure)]
        return title + "\n" + render_table(headers, rows)

    def _render_rate(self, d: RateDefinition) -> str:
        over = (ngettext("latest {last} order each", "latest {last} orders each", self.last)
                .format(last=self.last) if self.last else _("all orders"))
        title = _("League: {name} ({rule}) over {period}, {over}; ranked with at least "
                  "{min_sample} graded {graded}").format(
            name=d.name, rule=d.rule, period=period_text(self.period), over=over,
            min_sample=self.min_sample, graded=_graded_text(d))
        headers = [_("rank"), _("name"), _("graded"), _("yes"), _("no"), _("unknown"),
                   _("rate"), _("note")]
        rows = [["-" if r.rank is None else str(r.rank), r.name, str(r.graded),
                 str(r.summary.numerator), str(r.summary.no), str(r.summary.unknown),
                 pct(r.summary.value), _note_text(r.note)]
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
            unranked.append(evolve(
                row, note=f"not ranked: {row.graded} < {min_sample} {_graded(definition)}"))
        else:
            ranked.append((order, row))
    return LeagueTable(definition, period, min_sample, last, _ranks(ranked, unranked))


def _ranks(ranked: Sequence[tuple[Any, LeagueRow[Any]]],
           unranked: Sequence[LeagueRow[Any]]) -> tuple[LeagueRow[Any], ...]:
    """The rows in rank order (``ranked``: each with its sort key, lowest first), each given
    its rank (ties share one, the next rank skips as many), then the ``unranked``."""
    rows: list[LeagueRow[Any]] = []
    in_order = sorted(ranked, key=lambda item: item[0])
    for position, (order, row) in enumerate(in_order, start=1):
        tied = rows and in_order[position - 2][0] == order
        rows.append(evolve(row, rank=rows[-1].rank if tied else position))
    return (*rows, *unranked)


_SAMPLED = {"coverage": "planned visits", "share_verified": "finished hazards"}
"""The peacetime figures that are shares of a sample, and what their sample counts."""


def peacetime_league(definition: PeacetimeDefinition,
                     figures: Sequence[tuple[str, str | None, str, PeacetimeFigure]], *,
                     period: Period, min_sample: int) -> LeagueTable[PeacetimeFigure]:
    """Rank scopes (community, grid or None, display name, its figure) on a peacetime
    figure (module docstring)."""
    ranked: list[tuple[float, LeagueRow[PeacetimeFigure]]] = []
    unranked: list[LeagueRow[PeacetimeFigure]] = []
    for community, grid, name, figure in figures:
        row = LeagueRow(None, community, grid, name, figure)
        sample = _SAMPLED.get(definition.kind)
        if figure.value is None:
            unranked.append(evolve(row, note="not ranked: nothing to grade"))
        elif sample is not None and row.graded < min_sample:
            unranked.append(evolve(
                row, note=f"not ranked: {row.graded} < {min_sample} {sample}"))
        else:
            ranked.append((-figure.value if definition.better == "higher" else figure.value,
                           row))
    return LeagueTable(definition, period, min_sample, None, _ranks(ranked, unranked))


def _graded(definition: MetricDefinition | RateDefinition) -> str:
    """What a row's ``graded`` counts: cases, or reopenings (a metric per reopening), or
    orders (a rate: the orders it counts)."""
    if isinstance(definition, RateDefinition):
        return "orders"
    return "reopenings" if definition.per == "reopening" else "cases"


def _metric_standing(definition: MetricDefinition, members: Sequence[Case],
                     group: Mapping[str, str | None]
                     ) -> tuple[tuple[float, ...], LeagueRow[MetricSummary]]:
    """A scope's row on a metric, and what ranks it (lower first)."""
    in_seconds = measured_in_seconds(definition)
    values: list[float] = []
    unrecorded = units = 0
    for case in members:
        measured = in_seconds.measure_all(case)
        units += len(measured)
        values += [v for v in measured if v is not None]
        if case.finished:
            unrecorded += sum(1 for v in measured if v is None)
    summary = summarise_seconds(definition, values, units, group)
    graded = [v / SECONDS_PER[definition.unit] for v in sorted(values)] + [math.inf] * unrecorded
    compliance = (share(summary.met or 0, len(graded)) if definition.target is not None
                  else None)
    middle = median(graded) or 0.0
    high = percentile(graded, definition.percentile) or 0.0
    order = ((-(compliance or 0.0), high, middle) if definition.target is not None
             else (middle, high))
    return order, LeagueRow(None, "", None, "", summary, unrecorded, compliance)


def _rate_text(s: RateSummary) -> str:
    return _("{name} {value} ({yes}/{n}, unknown {unknown})").format(
        name=s.name, value=pct(s.value), yes=s.numerator, n=s.denominator, unknown=s.unknown)


def _graded_text(definition: MetricDefinition | RateDefinition) -> str:
    """``_graded`` in the current language."""
    return {"orders": _("orders"), "reopenings": _("reopenings"),
            "cases": _("cases")}[_graded(definition)]


_NOT_RANKED = re.compile(
    r"not ranked: (\d+) < (\d+) (cases|reopenings|orders|planned visits|finished hazards)\Z")


def _note_text(note: str) -> str:
    """A row's note in the current language (the note is kept in English on the row)."""
    if note == "not ranked: nothing to grade":
        return _("not ranked: nothing to grade")
    found = _NOT_RANKED.match(note)
    if found is None:
        return note
    return _("not ranked: {graded} < {min_sample} {what}").format(
        graded=found[1], min_sample=found[2],
        what={"orders": _("orders"), "reopenings": _("reopenings"), "cases": _("cases"),
              "planned visits": _("planned visits"),
              "finished hazards": _("finished hazards")}[found[3]])
