"""Service KPIs, counts and the three rates over groups of cases: pure functions of the
cases (and activities) read from the views, like every report here."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from attrs import Factory, field, frozen

from resilience.adapters.report_data import report_data
from resilience.i18n import _
from resilience.metrics.cases import Case
from resilience.metrics.period import ALL_TIME, Period, group_key, grouped, place_key, sort_key
from resilience.metrics.rates import (
    RateDefinition,
    RateRow,
    rate_row,
)
from resilience.metrics.reports import (
    Group,
)
from resilience.metrics.stats import share
from resilience.metrics.tables import absent, group_label, pct, period_text, render_table

# Service orders ----------------------------------------------------------------------


@frozen
class ServiceSummary:
    """Resident service orders in one group: the order -> dispatch -> fulfil -> rate loop."""

    group: Group
    orders: int
    open: int
    """Orders neither completed, cancelled nor rejected (``Case.status``)."""
    rejected: int
    """Orders whose status is rejected."""
    cancelled: int
    """Orders whose status is cancelled (a reopened order cancelled since among them)."""
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
        open=sum(1 for c in cases if c.status not in finished),
        rejected=sum(1 for c in cases if c.status == "rejected"),
        cancelled=sum(1 for c in cases if c.status == "cancelled"),
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
    return service_rows(grouped(scoped, lambda c: group_key(c, group_by, tz)) if group_by
                        else [((), scoped)], group_by)


def service_rows(groups: Iterable[tuple[tuple[str | None, ...], Sequence[Case]]],
                 group_by: tuple[str, ...]) -> tuple[ServiceSummary, ...]:
    """One summary per group of orders (``((), orders)`` alone, ungrouped), in order."""
    return tuple(service_summary(members, dict(zip(group_by, key, strict=True)))
                 for key, members in groups)


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
    orders: int
    requests_resolved: int
    """Orders whose final completion was "fixed"."""
    activities_held: int
    activity_participants: int
    """Participants of the activities held, as last corrected."""
    person_times_served: int
    """Activity participants plus requests resolved (one person-time each)."""
    incidents_reopened: int = 0
    """Real incidents reopened at least once."""
    reopenings: int = 0
    """How many times real incidents were reopened, in all."""


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
    keyed: dict[tuple[str | None, ...], list[Case]] = {}
    for case in cases:
        keyed.setdefault(group_key(case, group_by, tz), []).append(case)
    return count_rows(keyed, activities, group_by=group_by, tz=tz)


def count_rows(keyed: Mapping[tuple[str | None, ...], Sequence[Case]],
               activities: Iterable[Activity], *, group_by: tuple[str, ...],
               tz: tzinfo | None) -> tuple[Counts, ...]:
    """``count_report`` of the cases already grouped (``keyed``: group -> its cases)."""
    both: dict[tuple[str | None, ...], tuple[Sequence[Case], list[Activity]]] = {
        key: (members, []) for key, members in keyed.items()}
    for activity in activities:
        place = place_key(activity.community, activity.grid, activity.occurred_at, group_by, tz)
        both.setdefault(place, ([], []))[1].append(activity)
    if not group_by:
        both.setdefault((), ([], []))
    return tuple(counts(c, a, dict(zip(group_by, key, strict=True)))
                 for key, (c, a) in sorted(both.items(), key=lambda i: sort_key(i[0])))


# The three rates -------------------------------------------------------------------------


@frozen
class RateReport:
    """Rates (by default the three: response, resolution, satisfaction) per group of
    orders placed in a period."""

    definitions: tuple[RateDefinition, ...]
    period: Period
    group_by: tuple[str, ...]
    rows: tuple[RateRow, ...]
    position: int | None = field(default=None, eq=False)
    """The views' position (notification id) the answer reflects at least: read after the
    views caught up, before the documents (None: not read from the views)."""

    def row(self, **group: str | None) -> RateRow:
        """The row of one group, e.g. ``report.row(grid="xy-2")``; NotInReportError if the
        group placed no order in the period."""
        for row in self.rows:
            if row.group == group:
                return row
        raise absent(_("the rates"), group, (r.group for r in self.rows))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"rates"``: the rates'
        definitions (limits in seconds), the period, the grouping and one object per row,
        each with its rates."""
        return report_data(self, "rates")

    def render(self, names: Mapping[str, str] | None = None) -> str:
        rules = _("; ").join(_("{name}: {rule}").format(name=d.name, rule=d.rule)
                             for d in self.definitions)
        title = (_("Rates over {period}: yes of n orders (cancelled left out, unknown counted "
                   "in n)").format(period=period_text(self.period)) + "\n" + rules)
        headers = [_("group"), _("orders"), _("cancelled")]
        for d in self.definitions:
            headers += [d.name, _("yes/n"), _("unknown")]
        rows = []
        for row in self.rows:
            line = [group_label(row.group, names), str(row.orders), str(row.cancelled)]
            for s in row.rates:
                line += [pct(s.value), f"{s.numerator}/{s.denominator}", str(s.unknown)]
            rows.append(line)
        return title + "\n" + render_table(headers, rows)


def rate_report(definitions: Sequence[RateDefinition], cases: Iterable[Case], *,
                period: Period = ALL_TIME, group_by: tuple[str, ...] = (),
                tz: tzinfo | None = None) -> RateReport:
    """The rates over the orders placed in ``period``: ungrouped, always one row (of zeros
    when there is none); grouped, one per group that placed any."""
    scoped = [c for c in cases if c.subject == "order" and c.start in period]
    return rate_rows(definitions, grouped(scoped, lambda c: group_key(c, group_by, tz))
                     if group_by else [((), scoped)], period=period, group_by=group_by)


def rate_rows(definitions: Sequence[RateDefinition],
              groups: Iterable[tuple[tuple[str | None, ...], Sequence[Case]]], *,
              period: Period, group_by: tuple[str, ...]) -> RateReport:
    """The rate report of orders already grouped (``((), orders)`` alone, ungrouped)."""
    return RateReport(tuple(definitions), period, group_by, tuple(
        rate_row(definitions, members, dict(zip(group_by, key, strict=True)))
        for key, members in groups))
