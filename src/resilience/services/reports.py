"""Queries on the views: timelines, metrics, service KPIs, counts, rates, scorecards, data
quality.

Each query first lets the views catch up (unless the engine was opened with
``fresh_views=False`` because another thread or process feeds them), notes the
views' position (the ``position`` of its answer: the answer reflects every fact up
to it at least), then reads the documents it needs and computes the answer with
resilience.metrics.

The metrics, comparisons, service KPIs, counts, rates, scorecards and league tables
read the per-case summaries (resilience.metrics.summaries: a few rows per community and
month; resilience.metrics.indexed computes the same answers from them), so their cost
grows with the months and cases asked for, not with every fact of every case. Asked
``known_at`` a moment or ``as_closed``, they read the cases (the summaries hold the
cases as they stand now), as do ``cases()``, the data-quality report and a report whose
months hold a case that could not be summarised. Hazards have no summaries: a metric of
hazards (``found_to_rectified``...) is computed from their cases.

The peacetime reports (``hazards``, ``patrol_coverage``; the peacetime figures of a
scorecard and a league on one: resilience.metrics.peacetime) are taken ``as_of`` a
moment, by default the engine's clock's now (never the wall clock's): the hazards as
they stood then, the patrol windows ended by then.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar
from uuid import UUID

from attrs import evolve
from eventsourcing.persistence import PersistenceError

from resilience.clock import Clock
from resilience.domain.validation import (
    check_bool,
    check_items,
    check_moment,
    check_text,
    check_uuid,
    check_whole,
    check_zone,
    shown,
)
from resilience.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from resilience.i18n import _
from resilience.metrics import indexed
from resilience.metrics.case_table import CaseTable, Unindexed
from resilience.metrics.cases import Case, case_at, case_from_doc
from resilience.metrics.definitions import BUILT_IN, SCORECARD, MetricDefinition, builtin
from resilience.metrics.milestones import DIMENSIONS, Subject
from resilience.metrics.peacetime import (
    HAZARD_METRICS,
    PEACETIME,
    PEACETIME_BY_NAME,
    Areas,
    CoverageReport,
    GridCoverage,
    HazardReport,
    PatrolRecord,
    PeacetimeDefinition,
    PeacetimeFigure,
    PeacetimeScope,
    builtin_figure,
    grid_coverage,
    hazard_report,
    peacetime_figures,
)
from resilience.metrics.period import ALL_TIME, TIME_BUCKETS, Period, check_group_by
from resilience.metrics.quality import (
    DEFAULT_LATE_AFTER,
    DataQualityReport,
    community_overrides,
    data_quality,
)
from resilience.metrics.rates import RATES, RATES_BY_NAME, RateDefinition, builtin_rate
from resilience.metrics.recovery import recovered_cases
from resilience.metrics.reports import (
    Comparison,
    MetricReport,
    MetricSummary,
    metric_report,
    summarise_seconds,
)
from resilience.metrics.standings import (
    LeagueTable,
    Scorecard,
    league_table,
    peacetime_league,
)
from resilience.metrics.summaries import CaseSummaries, dimension
from resilience.metrics.tallies import (
    Activity,
    Counts,
    RateReport,
    ServiceSummary,
    count_report,
    counts,
    rate_report,
    service_report,
    service_summary,
)
from resilience.projections.runner import Views, gc_paused
from resilience.projections.summaries import SUMMARIES, Bucket, micros, month_of, month_start
from resilience.timeline import Timeline, timeline_from_doc

MetricRef = MetricDefinition | str
RateRef = RateDefinition | str
FigureRef = PeacetimeDefinition | str
LeagueRef = MetricDefinition | RateDefinition | PeacetimeDefinition | str
"""What a league table ranks on: a metric, a rate or a peacetime figure, or a built-in's
name (annotated by this name, quoted, so that help(Engine) shows it short)."""
T = TypeVar("T")


def definition_of(metric: object) -> MetricDefinition:
    """A metric given as a MetricDefinition or a built-in's name, as its definition
    (InvalidInputError otherwise; NotFoundError for an unknown name)."""
    if isinstance(metric, MetricDefinition):
        return metric
    if type(metric) is str:
        return builtin(metric)
    raise InvalidInputError(
        _("a metric is a MetricDefinition or a built-in's name, got {value}").format(
            value=shown(metric)))


def _definitions(metrics: Sequence[MetricRef], name: str) -> tuple[MetricDefinition, ...]:
    """The definitions of a list or tuple of metrics (``name``: the argument's)."""
    return check_items(metrics, name, lambda metric, _: definition_of(metric))


def _rate(rate: object) -> RateDefinition:
    if isinstance(rate, RateDefinition):
        return rate
    if type(rate) is str:
        return builtin_rate(rate)
    raise InvalidInputError(
        _("a rate is a RateDefinition or a built-in's name, got {value}").format(
            value=shown(rate)))


def _rates(rates: Sequence[RateRef]) -> tuple[RateDefinition, ...]:
    return check_items(rates, "rates", lambda rate, _: _rate(rate))


def _figure(figure: object) -> PeacetimeDefinition:
    if isinstance(figure, PeacetimeDefinition):
        return figure
    if type(figure) is str:
        return builtin_figure(figure)
    raise InvalidInputError(
        _("a peacetime figure is a PeacetimeDefinition or a built-in's name, got {value}")
        .format(value=shown(figure)))


def _figures(figures: Sequence[FigureRef]) -> tuple[PeacetimeDefinition, ...]:
    return check_items(figures, "figures", lambda figure, _: _figure(figure))


def _ranked(metric: object) -> MetricDefinition | RateDefinition | PeacetimeDefinition:
    """What a league ranks on: a metric, a rate (a RateDefinition or a built-in's name) or
    a peacetime figure (a PeacetimeDefinition or a built-in's name)."""
    if isinstance(metric, RateDefinition) or (type(metric) is str and metric in RATES_BY_NAME):
        return _rate(metric)
    if isinstance(metric, PeacetimeDefinition) or (type(metric) is str
                                                   and metric in PEACETIME_BY_NAME):
        return _figure(metric)
    return definition_of(metric)


def checked_period(period: Period | None) -> Period:
    """A query's period: None is all time; anything but a Period is InvalidInputError."""
    if period is None:
        return ALL_TIME
    if not isinstance(period, Period):
        raise InvalidInputError(_("period must be a Period, got {value}").format(
            value=shown(period)))
    return period


def bucket_zone(tz: tzinfo | None, period: Period) -> tzinfo | None:
    """Where day, week, month and year buckets are cut: ``tz``, else the period's zone,
    else each case's own recorded offset."""
    if tz is not None:
        check_zone(tz, "tz")
    bound = period.start or period.end
    return tz or (bound.tzinfo if bound is not None else None)


def _moment(value: datetime | None, name: str) -> datetime | None:
    return None if value is None else check_moment(value, name, query=True)


def bucket_bounds(period: Period) -> tuple[float | None, float | None]:
    """The range of summary buckets (their ``at``, epoch seconds) that may hold a case
    starting in ``period``: from its start's UTC month to the end of its end's."""
    start = None if period.start is None else month_start(*month_of(micros(period.start)))
    if period.end is None:
        return start, None
    year, month = month_of(micros(period.end) - 1)  # the end is left out
    return start, month_start(year + month // 12, month % 12 + 1)


def _community_key(community: UUID | None) -> str | None:
    if community is None:
        return None
    return str(check_uuid(community, "community"))


class Reports:
    """``engine.reports``: the queries on the views.

    ``metrics``, ``compare``, ``service_kpis``, ``counts``, ``rates``, ``scorecard``,
    ``league_table`` and ``data_quality`` are also the engine's: ``engine.metrics`` runs
    ``engine.reports.metrics``, with its signature and docstring, and so for each (the
    documentation calls them on the engine). ``timeline`` is the app's reading of one
    (everything shown): ``engine.timeline`` (``engine.reviews.timeline``) runs it unless
    asked to read as a person. Each query catches the views up once (when fresh), checks
    its arguments, then reads what it needs.
    """

    def __init__(self, views: Views, *, fresh: bool = True, clock: Clock | None = None) -> None:
        self.views = views
        self.fresh = fresh
        self.clock = clock
        """What ``as_of`` defaults to (the engine's clock); None: it must be given."""
        views.derive(CaseSummaries())  # kept beside the cases, whichever reader folds them

    def _as_of(self, as_of: datetime | None) -> datetime:
        """A peacetime report's moment: ``as_of`` checked, or the clock's now."""
        if as_of is not None:
            return check_moment(as_of, "as_of", query=True)
        if self.clock is None:
            raise InvalidInputError(_("as_of is needed: these reports have no clock"))
        return self.clock()

    def ready(self) -> int:
        """Let the views catch up (when fresh); return the position they reflect."""
        if self.fresh:
            try:
                self.views.catch_up()
            except PersistenceError as exc:
                raise StoreUnavailableError(
                    _("the views could not catch up with the store: {error}").format(
                        error=exc)) from exc
        return self.views.position

    def _community(self, community: UUID | None) -> str | None:
        """The community's key, after checking the views know it (NotFoundError if not)."""
        key = _community_key(community)
        if key is not None and self.views.get("cases", key) is None:
            raise NotFoundError(_("no community {id}").format(id=community))
        return key

    # Reading the views ------------------------------------------------------------

    def cases(self, *, subject: Subject | None = None, period: Period | None = None,
              community: UUID | None = None) -> list[Case]:
        """Incidents and/or orders (or, asked for, hazards) whose first fact falls in
        ``period``."""
        if subject not in (None, "incident", "order", "hazard"):
            raise InvalidInputError(
                _("subject must be 'incident', 'order' or 'hazard', got {value}").format(
                    value=shown(subject)))
        self.ready()
        return self._cases(subject, checked_period(period), self._community(community))

    def _cases(self, subject: Subject | None, period: Period, community: str | None,
               known_at: datetime | None = None, as_closed: bool = False) -> list[Case]:
        if known_at is not None or as_closed:
            return self._cases_cut(subject, period, community, known_at, as_closed)
        start, end = period.bounds()
        found = []
        for kind in ((subject,) if subject else ("incident", "order")):
            rows = self.views.select("cases", kind, start=start, end=end, community=community)
            found += [case_from_doc(key, doc) for key, doc in rows]
        return recovered_cases(found, self.views.fetch)

    def _cases_of(self, subjects: Sequence[Subject], period: Period, community: str | None,
                  known_at: datetime | None = None, as_closed: bool = False) -> list[Case]:
        """The cases of each subject of ``subjects``."""
        if set(subjects) <= {"incident", "order"}:
            one = subjects[0] if len(subjects) == 1 else None
            return self._cases(one, period, community, known_at, as_closed)
        return [case for subject in subjects
                for case in self._cases(subject, period, community, known_at, as_closed)]

    def _hazards_at(self, community: str | None, as_of: datetime) -> list[Case]:
        """Every hazard of the community (whenever found) as it stood at ``as_of``: what
        had happened by then, as now known."""
        found = []
        for key, doc in self.views.select("cases", "hazard", community=community):
            case = case_at(key, doc, as_of=as_of)
            if case is not None:
                found.append(case)
        return found

    def _coverage(self, community: str, grids: dict[str, str], period: Period,
                  as_of: datetime, tz: tzinfo | None) -> tuple[GridCoverage, ...]:
        """The coverage of each grid of ``grids`` (id -> name) of a community."""
        doc = self.views.get("cases", community)
        areas = Areas.from_doc(doc or {})
        plans = {plan["grid"]: plan for _, plan in
                 self.views.select("cases", "patrol_plan", community=community)}
        # Only the patrols that may start in a window of the period: all up to as_of.
        start, end = period.bounds()
        until = as_of.timestamp() if end is None else min(end, as_of.timestamp())
        patrols = [PatrolRecord.from_doc(key, patrol) for key, patrol in self.views.select(
            "cases", "patrol", start=start, end=until, community=community)]
        return tuple(grid_coverage(community, grid, name, plans.get(grid), patrols, areas,
                                   period=period, as_of=as_of, tz=tz)
                     for grid, name in sorted(grids.items()))

    def _scope(self, community: str, grid: str | None, grids: dict[str, str],
               period: Period, as_of: datetime,
               hazards: Sequence[Case]) -> PeacetimeScope:
        """What the peacetime figures of a community, or one of its grids, are computed
        from."""
        areas = Areas.from_doc(self.views.get("cases", community) or {})
        scope: dict[str, str | None] = {"community": community}
        if grid is not None:
            scope["grid"] = grid
        own = {grid: grids[grid]} if grid is not None else grids
        return PeacetimeScope(
            period, as_of, self._coverage(community, own, period, as_of, None),
            tuple(c for c in hazards if c.community == community
                  and (grid is None or c.dims.get("grid") == grid)),
            areas.households(scope, by=period.end))

    def _table(self, subject: Subject, period: Period, community: str | None) -> CaseTable:
        """The summaries of the cases of ``subject`` that start in ``period``: Unindexed if
        one of them could not be summarised."""
        start, end = bucket_bounds(period)
        rows = self.views.select(SUMMARIES, subject, start=start, end=end, community=community)
        return CaseTable(subject, [Bucket(key, doc) for key, doc in rows], period,
                         self.views.fetch)

    def _tables(self, period: Period, community: str | None) -> dict[Subject, CaseTable]:
        return {subject: self._table(subject, period, community)
                for subject in ("incident", "order")}

    @staticmethod
    def _indexed(fast: Callable[[], T], slow: Callable[[], T]) -> T:
        """``fast()`` from the summaries, or ``slow()`` from the cases where a case among
        them could not be summarised. Without cyclic garbage collection meanwhile: the
        figures of a long period are many small containers, freed by reference counting,
        whose allocation would otherwise set off full collections."""
        with gc_paused():
            try:
                return fast()
            except Unindexed:
                return slow()

    def _cases_cut(self, subject: Subject | None, period: Period, community: str | None,
                   known_at: datetime | None, as_closed: bool) -> list[Case]:
        """Cases as recorded by ``known_at`` and/or, ``as_closed``, as known when each
        closed case's standing closure was recorded. The view is keyed by today's
        corrected times, so the period is applied to the times known then."""
        found = []
        for kind in ((subject,) if subject else ("incident", "order")):
            for key, doc in self.views.select("cases", kind, community=community):
                case = case_at(key, doc, known_at=known_at, as_closed=as_closed)
                if case is not None and case.start in period:
                    found.append(case)
        return recovered_cases(found, self.views.fetch, known_at=known_at, as_closed=as_closed)

    def activities(self, *, period: Period | None = None,
                   community: UUID | None = None) -> list[Activity]:
        """Activities held in ``period``."""
        self.ready()
        return self._activities(checked_period(period), self._community(community))

    def _activities(self, period: Period, community: str | None) -> list[Activity]:
        start, end = period.bounds()
        return [Activity(doc["community"], doc["grid"], doc["category"], doc["title"],
                         doc["participants"], datetime.fromisoformat(doc["occurred"]),
                         doc["participants_recorded"])
                for _, doc in self.views.select("cases", "activity", start=start, end=end,
                                                community=community)]

    def communities(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Community id -> (name, grid id -> grid name)."""
        self.ready()
        return self._communities()

    def _communities(self) -> dict[str, tuple[str, dict[str, str]]]:
        return {key: (doc["name"], doc["grids"])
                for key, doc in self.views.select("cases", "community")}

    # Queries ----------------------------------------------------------------------------

    def timeline(self, aggregate_id: UUID) -> Timeline:
        """The timeline of an incident, order or community: every fact in ``occurred_at``
        order, from the ``timelines`` view."""
        check_uuid(aggregate_id, "a timeline's id")
        position = self.ready()
        doc = self.views.get("timelines", str(aggregate_id))
        if doc is None:
            self.views.check_not_quarantined(str(aggregate_id))  # there, but unreadable
            raise NotFoundError(_("no incident, order or community with id {id}").format(
                id=aggregate_id))
        return evolve(timeline_from_doc(aggregate_id, doc), position=position)

    def metrics(self, metric: MetricRef, period: Period | None = None,
                group_by: Sequence[str] = (), *, community: UUID | None = None,
                tz: tzinfo | None = None, known_at: datetime | None = None,
                as_closed: bool = False) -> MetricReport:
        """One metric (a definition or a built-in's name) over a period, split by any of the
        case dimensions or time buckets.

        Day, week, month and year groups are cut in ``tz``, by default the
        period's time zone, else in each case's own recorded offset.
        ``known_at``: as it could have been computed then, from the facts and
        corrections recorded by that moment. ``as_closed``: each case that stands
        closed as known when its standing closure was recorded (amendments made
        since left out); by default, as corrected.
        """
        definition = definition_of(metric)
        groups = check_group_by(group_by, [definition.subject])
        period = checked_period(period)
        zone = bucket_zone(tz, period)
        known_at = _moment(known_at, "known_at")
        check_bool(as_closed, "as_closed")
        position = self.ready()
        key = self._community(community)

        def slow() -> MetricReport:
            cases = self._cases(definition.subject, period, key, known_at, as_closed)
            return metric_report(definition, cases, period=period, group_by=groups, tz=zone)

        def fast() -> MetricReport:
            return indexed.metric_report(definition, self._table(definition.subject, period, key),
                                         period=period, group_by=groups, tz=zone)

        unindexed = known_at is not None or as_closed or definition.subject == "hazard"
        found = slow() if unindexed else self._indexed(fast, slow)
        return evolve(found, position=position)

    def compare(self, metrics: Sequence[MetricRef], period: Period | None = None,
                group_by: Sequence[str] = (), *, community: UUID | None = None,
                tz: tzinfo | None = None, known_at: datetime | None = None,
                as_closed: bool = False) -> Comparison:
        """Several metric definitions side by side (an old and a changed one, say) over the
        same cases (``known_at`` and ``as_closed`` as for ``metrics``)."""
        if isinstance(metrics, str | MetricDefinition):
            metrics = [metrics]
        definitions = _definitions(metrics, "metrics")
        if not definitions:
            raise InvalidInputError(_("compare needs at least one metric"))
        subjects = sorted({d.subject for d in definitions})
        groups = check_group_by(group_by, subjects)
        period = checked_period(period)
        zone = bucket_zone(tz, period)
        known_at = _moment(known_at, "known_at")
        check_bool(as_closed, "as_closed")
        position = self.ready()
        key = self._community(community)

        def slow() -> Comparison:
            cases = self._cases_of(subjects, period, key, known_at, as_closed)
            return Comparison(tuple(metric_report(d, cases, period=period, group_by=groups,
                                                  tz=zone) for d in definitions))

        def fast() -> Comparison:
            tables = {subject: self._table(subject, period, key) for subject in subjects}
            return Comparison(tuple(
                indexed.metric_report(d, tables[d.subject], period=period, group_by=groups,
                                      tz=zone) for d in definitions))

        unindexed = known_at is not None or as_closed or "hazard" in subjects
        found = slow() if unindexed else self._indexed(fast, slow)
        return evolve(found, position=position)

    def service_kpis(self, period: Period | None = None, group_by: Sequence[str] = (), *,
                     community: UUID | None = None,
                     tz: tzinfo | None = None) -> tuple[ServiceSummary, ...]:
        """Service-order KPIs per group: fixed / not fixed, reopen and on-time rates,
        ratings. Ungrouped, always one summary (of zeros for no orders)."""
        groups = check_group_by(group_by, ["order"])
        period = checked_period(period)
        zone = bucket_zone(tz, period)
        self.ready()
        key = self._community(community)
        return self._indexed(
            lambda: indexed.service_report(self._table("order", period, key),
                                           group_by=groups, tz=zone),
            lambda: service_report(self._cases("order", period, key), period=period,
                                   group_by=groups, tz=zone))

    def counts(self, period: Period | None = None, group_by: Sequence[str] = (), *,
               community: UUID | None = None, tz: tzinfo | None = None) -> tuple[Counts, ...]:
        """Incidents by type and severity, reopenings, requests resolved, activities,
        person-times. Ungrouped, always one row (of zeros when nothing happened)."""
        groups = check_group_by(group_by, ["incident", "order"])
        if any(g not in ("community", "grid", *TIME_BUCKETS) for g in groups):
            raise InvalidInputError(_("counts group by community, grid or a time bucket only"))
        period = checked_period(period)
        zone = bucket_zone(tz, period)
        self.ready()
        key = self._community(community)
        activities = self._activities(period, key)
        return self._indexed(
            lambda: indexed.count_report(list(self._tables(period, key).values()), activities,
                                         group_by=groups, tz=zone),
            lambda: count_report(self._cases(None, period, key), activities, group_by=groups,
                                 tz=zone))

    def rates(self, period: Period | None = None, group_by: Sequence[str] = (), *,
              rates: Sequence[RateRef] = RATES, community: UUID | None = None,
              tz: tzinfo | None = None) -> RateReport:
        """The response, resolution and satisfaction rates (or the ``rates`` given: built-in
        names or RateDefinitions) of the orders placed in a period, per group (community,
        grid, provider, category, ..., time buckets). Ungrouped, always one row."""
        definitions = _rates(rates)
        groups = check_group_by(group_by, ["order"])
        period = checked_period(period)
        zone = bucket_zone(tz, period)
        position = self.ready()
        key = self._community(community)
        found = self._indexed(
            lambda: indexed.rate_report(definitions, self._table("order", period, key),
                                        period=period, group_by=groups, tz=zone),
            lambda: rate_report(definitions, self._cases("order", period, key), period=period,
                                group_by=groups, tz=zone))
        return evolve(found, position=position)

    def scorecard(self, community: UUID, grid: str | None = None,
                  period: Period | None = None, *,
                  metrics: Sequence[MetricRef] = SCORECARD,
                  rates: Sequence[RateRef] = RATES,
                  figures: Sequence[FigureRef] = PEACETIME,
                  as_of: datetime | None = None) -> Scorecard:
        """Everything a community, or one of its grids, is assessed on for a period: the
        metrics (by default ``SCORECARD``: the built-ins and the hazards' time to rectify
        and verify), the service KPIs, the counts,
        the rates and the peacetime ``figures`` as of ``as_of`` (default: the clock's
        now)."""
        if community is None:
            raise InvalidInputError(_("a scorecard needs a community"))
        key = _community_key(community)
        if grid is not None:
            check_text(grid, "grid")
        period = checked_period(period)
        definitions = _definitions(metrics, "metrics")
        rate_definitions = _rates(rates)
        figure_definitions = _figures(figures)
        # Without a clock (reports opened on their own) and no as_of: no peacetime figures.
        moment = (self._as_of(as_of) if figure_definitions
                  and (as_of is not None or self.clock is not None) else None)
        position = self.ready()
        known = self._communities()
        if key not in known:
            raise NotFoundError(_("no community {id}").format(id=community))
        name, grids = known[key]
        if grid is not None and grid not in grids:
            raise NotFoundError(_("{community} has no grid {grid}; its grids: {grids}").format(
                community=name, grid=shown(grid), grids=", ".join(grids)))

        def inside(dims_grid: str | None) -> bool:
            return grid is None or dims_grid == grid

        activities = [a for a in self._activities(period, key) if inside(a.grid)]
        scope: dict[str, str | None] = {"community": key}
        if grid is not None:
            scope["grid"] = grid

        hazards = ([c for c in self._cases("hazard", period, key) if inside(c.dims.get("grid"))]
                   if any(d.subject == "hazard" for d in definitions) else [])
        peacetime: tuple[PeacetimeFigure, ...] = ()
        if moment is not None:
            scope_of = self._scope(key, grid, grids, period, moment,
                                   self._hazards_at(key, moment))
            peacetime = peacetime_figures(figure_definitions, scope_of, scope)

        def rows(report: Callable[[MetricDefinition], MetricReport]
                 ) -> tuple[MetricSummary, ...]:
            """Each metric's one row (of its cases, or none: a row of no cases); a hazard
            metric's from the hazards' cases (they have no summaries)."""
            summaries: list[MetricSummary] = []
            for definition in definitions:
                found = (metric_report(definition, hazards, period=period)
                         if definition.subject == "hazard" else report(definition))
                summaries += found.rows or (summarise_seconds(definition, [], 0,
                                                              excluded=found.excluded),)
            return tuple(summaries)

        def slow() -> Scorecard:
            cases = [c for c in self._cases(None, period, key) if inside(c.dims.get("grid"))]
            orders = [c for c in cases if c.subject == "order"]
            return Scorecard(key, name, grid, grids.get(grid) if grid else None, period,
                             rows(lambda d: metric_report(d, cases, period=period)),
                             service_summary(orders, scope), counts(cases, activities, scope),
                             rate_report(rate_definitions, orders, period=period).rows[0].rates,
                             peacetime=peacetime, as_of=moment)

        def fast() -> Scorecard:
            tables = {subject: table if grid is None else table.where(
                [inside(g) for g in table.column(dimension("grid"))])
                for subject, table in self._tables(period, key).items()}
            service, count, rated = indexed.scorecard_figures(tables, rate_definitions,
                                                              activities, scope)
            return Scorecard(key, name, grid, grids.get(grid) if grid else None, period,
                             rows(lambda d: indexed.metric_report(d, tables[d.subject],
                                                                  period=period)),
                             service, count, rated.rows[0].rates, peacetime=peacetime,
                             as_of=moment)

        return evolve(self._indexed(fast, slow), position=position)

    def league_table(self, metric: "LeagueRef" = "detection_to_contained",
                     period: Period | None = None, *, level: str = "grid",
                     community: UUID | None = None, min_sample: int = 10,
                     last: int | None = 100, as_of: datetime | None = None
                     ) -> LeagueTable[Any]:
        """Grids (or communities) ranked on a metric, on a rate (a RateDefinition or
        a built-in rate's name: highest first), over their ``last`` cases, or on a
        peacetime figure (a PeacetimeDefinition or a built-in's name: patrol_coverage,
        hazards_per_100_households, share_verified, overdue_hazards) as of ``as_of``
        (default: the clock's now); those with fewer than ``min_sample`` graded cases
        (a figure: planned visits, finished hazards) are listed unranked."""
        if level not in ("grid", "community"):
            raise InvalidInputError(_("level must be 'grid' or 'community', got {value}").format(
                value=shown(level)))
        check_whole(min_sample, "min_sample", 1)
        if last is not None:
            check_whole(last, "last (or None)", 1)
        definition = _ranked(metric)
        period = checked_period(period)
        moment = (self._as_of(as_of) if isinstance(definition, PeacetimeDefinition)
                  else None)
        position = self.ready()
        only = self._community(community)
        scopes: list[tuple[str, str | None, str]] = []
        for key, (name, grids) in sorted(self._communities().items(), key=lambda i: i[1][0]):
            if only is not None and key != only:
                continue
            if level == "community":
                scopes.append((key, None, name))
            else:
                scopes += [(key, g, f"{name} / {gname}") for g, gname in grids.items()]
        if isinstance(definition, PeacetimeDefinition):
            assert moment is not None
            return evolve(self._peacetime_league(definition, scopes, period, moment,
                                                 min_sample, only), position=position)
        subject: Subject = (definition.subject if isinstance(definition, MetricDefinition)
                            else "order")
        if subject == "hazard":  # no summaries of hazards: from their cases
            return evolve(league_table(definition, self._cases(subject, period, only), scopes,
                                       period=period, min_sample=min_sample, last=last),
                          position=position)
        found = self._indexed(
            lambda: indexed.league(definition, self._table(subject, period, only), scopes,
                                   period=period, min_sample=min_sample, last=last),
            lambda: league_table(definition, self._cases(subject, period, only), scopes,
                                 period=period, min_sample=min_sample, last=last))
        return evolve(found, position=position)

    def _peacetime_league(self, definition: PeacetimeDefinition,
                          scopes: Sequence[tuple[str, str | None, str]], period: Period,
                          as_of: datetime, min_sample: int, only: str | None
                          ) -> LeagueTable[Any]:
        hazards = self._hazards_at(only, as_of)
        communities = self._communities()
        figures = []
        for community, grid, name in scopes:
            scope_of = self._scope(community, grid, communities[community][1], period, as_of,
                                   hazards)
            group: dict[str, str | None] = {"community": community}
            if grid is not None:
                group["grid"] = grid
            figures.append((community, grid, name, definition.figure(scope_of, group)))
        return peacetime_league(definition, figures, period=period, min_sample=min_sample)

    def hazards(self, community: UUID | None = None, *, grid: str | None = None,
                period: Period | None = None, as_of: datetime | None = None,
                by: str | None = "grid",
                metrics: Sequence[MetricRef] = HAZARD_METRICS) -> HazardReport:
        """The hazards of a community (of every community: None), or of one of its grids,
        as they stood at ``as_of`` (default: the clock's now): found in ``period`` (and per
        100 households), finished in it (and the share verified), open and overdue at
        ``as_of``, and the hazard ``metrics`` (time to rectify: median, p90, within
        target), per community and value of ``by`` (a hazard dimension: grid, building,
        category, severity, assignee_kind, community; None: the total alone); with the
        hazards overdue at ``as_of`` listed."""
        if by is not None and (type(by) is not str or by not in DIMENSIONS["hazard"]):
            raise InvalidInputError(_("by must be one of {known} or None, got {value}").format(
                known=", ".join(DIMENSIONS["hazard"]), value=shown(by)))
        if grid is not None:
            check_text(grid, "grid")
        period = checked_period(period)
        definitions = _definitions(metrics, "metrics")
        wrong = [d.name for d in definitions if d.subject != "hazard"]
        if wrong:
            raise InvalidInputError(_("not a metric of hazards: {names}").format(
                names=", ".join(wrong)))
        moment = self._as_of(as_of)
        position = self.ready()
        key = self._community(community)
        if grid is not None:
            if key is None:
                raise InvalidInputError(_("a grid is asked for in a community"))
            self._check_grid(key, grid)
        hazards = [c for c in self._hazards_at(key, moment)
                   if grid is None or c.dims.get("grid") == grid]
        areas = {doc_key: Areas.from_doc(doc)
                 for doc_key, doc in self.views.select("cases", "community", community=key)}
        report = hazard_report(hazards, areas, community=key, period=period, as_of=moment,
                               by=by, definitions=definitions)
        if grid is not None:  # the total is the grid's
            total = report.total
            scope: dict[str, str | None] = {"community": key, "grid": grid}
            households = areas[key].households(scope, by=period.end) if key in areas else None
            report = evolve(report, total=evolve(
                total, group=scope, households=households,
                per_100_households=None if not households else total.found * 100 / households))
        return evolve(report, position=position)

    def _check_grid(self, community: str, grid: str) -> dict[str, str]:
        """The community's grids, after checking it has ``grid`` (NotFoundError if not)."""
        name, grids = self._communities()[community]
        if grid not in grids:
            raise NotFoundError(_("{community} has no grid {grid}; its grids: {grids}").format(
                community=name, grid=shown(grid), grids=", ".join(grids)))
        return grids

    def patrol_coverage(self, community: UUID, *, grid: str | None = None,
                        period: Period | None = None, as_of: datetime | None = None,
                        tz: tzinfo | None = None) -> CoverageReport:
        """Patrol coverage of each grid of a community (or of one grid) over ``period``,
        as of ``as_of`` (default: the clock's now): per rule of its patrol plan, the
        planned building-visits of the windows ended by then, those done, the share, and
        the windows with a target missed (resilience.metrics.peacetime). Windows are cut
        in ``tz``, by default the period's zone."""
        if community is None:
            raise InvalidInputError(_("patrol coverage needs a community"))
        if grid is not None:
            check_text(grid, "grid")
        if tz is not None:
            check_zone(tz, "tz")
        period = checked_period(period)
        moment = self._as_of(as_of)
        position = self.ready()
        key = self._community(community)
        assert key is not None
        name, grids = self._communities()[key]
        if grid is not None:
            self._check_grid(key, grid)
            grids = {grid: grids[grid]}
        return CoverageReport(key, name, period, moment,
                              self._coverage(key, grids, period, moment, tz),
                              position=position)

    def data_quality(self, period: Period | None = None, *,
                     late_after: timedelta = DEFAULT_LATE_AFTER,
                     community: UUID | None = None,
                     graded: Sequence[MetricRef] = BUILT_IN) -> DataQualityReport:
        """Missing milestones, out-of-order times, late records, corrections (and those
        by an interested party), amendments after closure, facts recorded by override and
        facts imported, of incidents, orders and hazards; patrols without coverage and
        hazards closed without verification; and the store's quarantined events, if
        any."""
        if type(late_after) is not timedelta or late_after < timedelta(0):
            raise InvalidInputError(_("late_after must be a timedelta >= 0, got {value}").format(
                value=shown(late_after)))
        definitions = _definitions(graded, "graded")
        period = checked_period(period)
        position = self.ready()
        key = self._community(community)
        overrides = [o for doc_key, doc in self.views.select("cases", "community",
                                                             community=key)
                     for o in community_overrides(doc_key, doc)]
        start, end = period.bounds()
        patrols = [PatrolRecord.from_doc(doc_key, doc) for doc_key, doc in self.views.select(
            "cases", "patrol", start=start, end=end, community=key)]
        cases = self._cases(None, period, key) + self._cases("hazard", period, key)
        return evolve(data_quality(cases, definitions, period=period, late_after=late_after,
                                   quarantined=self.views.quarantined(),
                                   community_overrides=overrides, patrols=patrols),
                      position=position)

