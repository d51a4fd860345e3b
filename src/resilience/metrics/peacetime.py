"""Peacetime figures: patrol coverage, hazards per 100 households, share verified, overdue
hazards. Pure functions of the ``cases`` view's documents (the community's, its patrol
plans', its patrols') and of the hazard cases read from them.

**Patrol coverage** of a grid over a period, as of a moment ``as_of``. A patrol plan's
rules cut time into windows by their frequency: a calendar day, an ISO week (Monday to
Sunday) or a calendar month, in the period's time zone. A window is counted when it
lies inside the period and has ended by ``as_of``; the rules asked of it are those in
force at its start (the plan's version with the latest effective time at or before it),
so a plan revised mid-week asks the new rules from the next window on. A rule asks one
visit per target per window: each area it lists (a building, or a unit) added by the
window's start, or, listing none, every building of the grid added by then. A (target, window) is
*done* when a patrol of that grid that started in the window visited the target: the
building itself or any unit of it (a unit target: that unit), and, when the rule names a
spot (``"storage_room"``), with the visit listing that spot. The visits are a patrol's
as last corrected, and a patrol counts whenever it was recorded (late records too): its
start, as corrected, places it. Coverage is ``done / planned``, None when nothing was
planned. The window in progress at ``as_of`` is not counted; its targets not yet visited
are listed apart (``pending``): what is left to walk.

**Hazards per 100 households**: the hazards found in the period (by their ``found``
milestone) per 100 households of the scope: the households of the buildings in it
(a building's households are its units'), counting the buildings added before the
period's end.

**Share verified**: of the hazards *finished* in the period (verified, or closed
without verification, by the time of the standing ``verified`` or ``closed``
milestone), the share verified. A hazard found earlier and finished in the period
counts; one reopened since it was finished does not (it is not finished any more).

**Overdue hazards** at ``as_of``: unfinished and not rectified then (status open or
assigned), with a standing due before ``as_of`` (a due date is its cycle's: a reopened
hazard is due again once it is assigned again). Listed with their reference, grid, due
and the days past it.

The hazards' durations (found to rectified, rectified to verified, against the due)
are metrics like any other: ``MetricSummary`` of the hazard definitions
(resilience.metrics.definitions ``HAZARD_BUILT_IN``).

The figures a scorecard carries and a league table ranks on are definitions as data
(``PeacetimeDefinition``, ``PEACETIME``): change one (another ``per``, only some
frequencies or severities) and it is computed over the whole history at once.
"""

import bisect
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal, get_args

import attrs
from attrs import field, frozen

from resilience.adapters.report_data import report_data
from resilience.domain.hazard import FINISHED as HAZARD_FINISHED
from resilience.domain.hazard import HazardStatus
from resilience.domain.named import Named
from resilience.domain.validation import check_text, check_whole, shown
from resilience.errors import InvalidInputError, NotFoundError, NotInReportError
from resilience.i18n import N_, _
from resilience.metrics.cases import Case
from resilience.metrics.definitions import HAZARD_BUILT_IN, MetricDefinition
from resilience.metrics.period import ALL_TIME, Period, grouped
from resilience.metrics.reports import MetricSummary, metric_report, summarise_seconds
from resilience.metrics.stats import share
from resilience.metrics.tables import (
    fmt,
    group_label,
    pct,
    period_text,
    render_table,
    unit_text,
    value_text,
)

FigureKind = Literal["coverage", "per_households", "share_verified", "overdue"]
Better = Literal["higher", "lower"]
FREQUENCIES = ("daily", "weekly", "monthly")
HAZARD_METRICS: tuple[str, ...] = Named("HAZARD_METRICS",
                                        (m.name for m in HAZARD_BUILT_IN))
"""The built-in hazard metrics a hazard report shows by default."""
FINISHED = frozenset(status.value for status in HAZARD_FINISHED)
"""A finished hazard's statuses (resilience.domain.hazard ``FINISHED``): verified, closed."""
UNRECTIFIED = frozenset({HazardStatus.OPEN.value, HazardStatus.ASSIGNED.value})
"""The statuses of a hazard that is neither finished nor rectified: it can be overdue."""
_DAY = 86400.0


# The community's areas -------------------------------------------------------------------


@frozen
class AreaEntry:
    kind: str
    parent: str | None
    households: int
    added: datetime | None


@frozen
class Areas:
    """A community's areas as its ``cases`` document holds them (``"areas"``:
    ``{area_id: [kind, parent, households, added]}``)."""

    entries: Mapping[str, AreaEntry]

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> "Areas":
        return cls({key: AreaEntry(kind, parent, int(households),
                                   None if added is None else datetime.fromisoformat(added))
                    for key, (kind, parent, households, added) in doc.get("areas", {}).items()})

    def existing(self, listed: Sequence[str], *, by: datetime) -> tuple[str, ...]:
        """The areas of ``listed`` added by ``by`` (a window's start): a plan dated before a
        building it lists was added asks no visit of it until it stands."""
        return tuple(area for area in listed
                     if (entry := self.entries.get(area)) is None or entry.added is None
                     or entry.added <= by)

    def grid_of(self, area: str) -> str | None:
        """The grid an area lies in (a grid is its own), None if unknown."""
        current: str | None = area
        for _step in range(len(self.entries) + 1):  # a parent chain never loops; guard anyway
            entry = self.entries.get(current) if current is not None else None
            if entry is None:
                return None
            if entry.kind == "grid":
                return current
            current = entry.parent
        return None

    def buildings(self, grid: str | None = None, *, before: datetime | None = None,
                  by: datetime | None = None) -> list[str]:
        """The buildings of a grid (of the community: None) added before ``before`` and at
        or before ``by`` (every one, without either)."""
        return sorted(key for key, entry in self.entries.items()
                      if entry.kind == "building"
                      and (grid is None or self.grid_of(key) == grid)
                      and (entry.added is None or (
                          (before is None or entry.added < before)
                          and (by is None or entry.added <= by))))

    def households(self, scope: Mapping[str, str | None], *, by: datetime | None = None
                   ) -> int | None:
        """Households of a scope (``{"community": ...}`` with ``"grid"`` or ``"building"``,
        or neither), counting the buildings added before ``by`` (a period's end); None for
        a scope that is no place (a category, a severity)."""
        if any(k not in ("community", "grid", "building") for k in scope):
            return None
        building = scope.get("building")
        names = self.buildings(scope.get("grid"), before=by)
        if "building" in scope:
            names = [name for name in names if name == building]
        return sum(self.entries[name].households for name in names)

    def covers(self, visited: str, target: str) -> bool:
        """Whether a visit to ``visited`` is a visit to ``target``: the target itself, or
        a unit of the target building."""
        if visited == target:
            return True
        entry = self.entries.get(visited)
        return entry is not None and entry.kind == "unit" and entry.parent == target


# Patrols and plans ------------------------------------------------------------------------


@frozen
class PatrolRecord:
    """A patrol as its ``cases`` document holds it: its visits as last corrected."""

    patrol_id: str
    community: str
    grid: str
    start: datetime
    visits: tuple[tuple[str, frozenset[str]], ...]

    @classmethod
    def from_doc(cls, key: str, doc: Mapping[str, Any]) -> "PatrolRecord":
        return cls(key, doc["community"], doc["grid"],
                   datetime.fromtimestamp(doc["at"], UTC),
                   tuple((area, frozenset(spots)) for area, spots in doc["visits"]))


@frozen
class PlanRule:
    name: str
    frequency: str
    spot: str | None
    areas: tuple[str, ...]


@frozen
class PlanVersion:
    effective: datetime
    rules: tuple[PlanRule, ...]


def plan_versions(doc: Mapping[str, Any]) -> tuple[PlanVersion, ...]:
    """A plan document's versions in order of their effective time (a later record first
    among those of the same time: stable sort on the recorded order)."""
    versions = [PlanVersion(datetime.fromisoformat(occurred), tuple(
        PlanRule(name, frequency, spot, tuple(areas)) for name, frequency, spot, areas in rules))
        for occurred, _recorded, rules in doc["versions"]]
    return tuple(sorted(versions, key=lambda v: v.effective))


def rules_at(versions: Sequence[PlanVersion], moment: datetime) -> tuple[PlanRule, ...]:
    """The rules in force at ``moment``: the latest version effective at or before it."""
    found: tuple[PlanRule, ...] = ()
    for version in versions:
        if version.effective <= moment:
            found = version.rules
    return found


def window_of(frequency: str, moment: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The day, ISO week or month (in ``tz``) that ``moment`` falls in: [start, end)."""
    day = moment.astimezone(tz).date()
    if frequency == "daily":
        first, after = day, day + timedelta(days=1)
    elif frequency == "weekly":
        first = day - timedelta(days=day.weekday())
        after = first + timedelta(days=7)
    else:
        first = day.replace(day=1)
        after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (datetime.combine(first, time(), tzinfo=tz),
            datetime.combine(after, time(), tzinfo=tz))


@frozen
class Window:
    """One window of one rule: its targets and those no patrol visited in it."""

    grid: str
    rule: str
    frequency: str
    spot: str | None
    start: datetime
    end: datetime
    planned: int
    missed: tuple[str, ...]
    """The targets (buildings, units) not visited in the window: what was (or is) left to
    walk."""

    @property
    def done(self) -> int:
        return self.planned - len(self.missed)


@frozen
class RuleCoverage:
    """One rule of a grid's plan over the period: its counted windows' targets."""

    rule: str
    frequency: str
    spot: str | None
    planned: int
    done: int
    share: float | None
    """``done / planned``."""


@frozen
class GridCoverage:
    """A grid's patrol coverage over a period, as of ``as_of`` (module docstring)."""

    community: str
    grid: str
    name: str
    planned: int
    done: int
    share: float | None
    """``done / planned``; None when nothing was planned (no plan, or no window ended)."""
    rules: tuple[RuleCoverage, ...]
    missed: tuple[Window, ...]
    """The counted windows with a target not visited, in order of their start."""
    pending: tuple[Window, ...] = ()
    """The windows in progress at ``as_of`` (not counted) with targets not yet visited."""
    patrols: int = 0
    """The grid's patrols that started in the period, by ``as_of``."""

    def counted(self, frequencies: Sequence[str] = ()) -> tuple[int, int]:
        """(planned, done) of the rules of ``frequencies`` (all: empty)."""
        rules = [r for r in self.rules if not frequencies or r.frequency in frequencies]
        return sum(r.planned for r in rules), sum(r.done for r in rules)


def zone_of(period: Period, fallback: tzinfo | None = None) -> tzinfo:
    """The time zone windows are cut in: the period's, else ``fallback``, else UTC."""
    bound = period.start or period.end
    zone = bound.tzinfo if bound is not None else None
    return zone or fallback or UTC


def grid_coverage(community: str, grid: str, name: str, plan: Mapping[str, Any] | None,
                  patrols: Iterable[PatrolRecord], areas: Areas, *, period: Period,
                  as_of: datetime, tz: tzinfo | None = None) -> GridCoverage:
    """The coverage of one grid (module docstring). ``plan``: the grid's ``patrol_plan``
    document (None: no plan, nothing planned); ``patrols``: the community's patrols (those
    of other grids are left aside); windows cut in ``tz``, by default the period's zone
    (UTC for a period without bounds)."""
    # A patrol started after as_of had not happened then: it fills no window, even the
    # one in progress.
    own = sorted((p for p in patrols if p.grid == grid and p.start <= as_of),
                 key=lambda p: p.start)
    starts = [p.start for p in own]
    in_period = sum(1 for p in own if p.start in period)
    versions = plan_versions(plan) if plan is not None else ()
    if not versions:
        return GridCoverage(community, grid, name, 0, 0, None, (), (), (), in_period)
    zone = tz or zone_of(period, versions[0].effective.tzinfo)
    lower = period.start or versions[0].effective
    upper = as_of if period.end is None else min(period.end, as_of)
    tally: dict[str, list[int]] = {}
    shape: dict[str, tuple[str, str | None]] = {}
    missed: list[Window] = []
    pending: list[Window] = []
    for frequency in FREQUENCIES:
        start, end = window_of(frequency, lower, zone)
        while start < upper:
            inside = ((period.start is None or start >= period.start)
                      and (period.end is None or end <= period.end))
            if inside:  # every window enumerated starts before as_of
                walked = own[bisect.bisect_left(starts, start):bisect.bisect_left(starts, end)]
                for rule in rules_at(versions, start):
                    if rule.frequency != frequency:
                        continue
                    targets = (areas.existing(rule.areas, by=start) if rule.areas
                               else tuple(areas.buildings(grid, by=start)))
                    left = tuple(t for t in targets if not _visited(t, rule.spot, walked, areas))
                    window = Window(grid, rule.name, frequency, rule.spot, start, end,
                                    len(targets), left)
                    if end <= as_of:
                        counts = tally.setdefault(rule.name, [0, 0])
                        counts[0] += len(targets)
                        counts[1] += len(targets) - len(left)
                        shape[rule.name] = (frequency, rule.spot)
                        if left:
                            missed.append(window)
                    elif left:
                        pending.append(window)
            start, end = end, window_of(frequency, end, zone)[1]
    rules = tuple(RuleCoverage(rule, *shape[rule], planned, done, share(done, planned))
                  for rule, (planned, done) in sorted(tally.items()))
    planned = sum(r.planned for r in rules)
    done = sum(r.done for r in rules)
    return GridCoverage(community, grid, name, planned, done, share(done, planned), rules,
                        tuple(sorted(missed, key=lambda w: (w.start, w.rule))),
                        tuple(sorted(pending, key=lambda w: (w.start, w.rule))), in_period)


def _visited(target: str, spot: str | None, patrols: Sequence[PatrolRecord],
             areas: Areas) -> bool:
    return any(areas.covers(area, target) and (spot is None or spot in spots)
               for patrol in patrols for area, spots in patrol.visits)


@frozen
class CoverageReport:
    """Patrol coverage per grid of a community over a period, as of ``as_of``."""

    community: str
    community_name: str
    period: Period
    as_of: datetime
    grids: tuple[GridCoverage, ...]
    position: int | None = field(default=None, eq=False)
    """The views' position (notification id) the answer reflects at least."""

    @property
    def planned(self) -> int:
        return sum(g.planned for g in self.grids)

    @property
    def done(self) -> int:
        return sum(g.done for g in self.grids)

    @property
    def share(self) -> float | None:
        """``done / planned`` over every grid (None when nothing was planned)."""
        return share(self.done, self.planned)

    def grid(self, grid: str) -> GridCoverage:
        """The coverage of one grid (NotInReportError if the report has none)."""
        for found in self.grids:
            if found.grid == grid:
                return found
        raise NotInReportError(_("the coverage report has no grid {grid}; its grids: "
                                 "{grids}").format(grid=shown(grid), grids=", ".join(
                                     g.grid for g in self.grids) or _("none")))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"patrol_coverage"``:
        the community, the period, ``as_of``, the totals and one object per grid, with its
        rules, its missed windows and its pending ones."""
        return report_data(self, "patrol_coverage", planned=self.planned, done=self.done,
                           share=self.share)

    def render(self) -> str:
        lines = [_("Patrol coverage: {community} ({period}), as of {as_of}: {share} "
                   "({done} of {planned} planned visits)").format(
            community=self.community_name, period=period_text(self.period),
            as_of=self.as_of.isoformat(timespec="minutes"), share=pct(self.share), done=self.done,
            planned=self.planned), ""]
        rows = []
        for g in self.grids:
            rows.append([g.name, _("all rules"), "-", str(g.planned), str(g.done),
                         pct(g.share), str(g.patrols)])
            rows += [["", r.rule, _frequency_text(r.frequency, r.spot), str(r.planned),
                      str(r.done), pct(r.share), ""] for r in g.rules]
        lines.append(render_table([_("grid"), _("rule"), _("how often"), _("planned"),
                                   _("done"), _("coverage"), _("patrols")], rows))
        missed = [w for g in self.grids for w in g.missed]
        lines += ["", _("Windows with a target missed ({count})").format(count=len(missed))]
        if missed:
            lines.append(_window_table(missed))
        pending = [w for g in self.grids for w in g.pending]
        if pending:
            lines += ["", _("Windows in progress, still to walk ({count})").format(
                count=len(pending)), _window_table(pending)]
        return "\n".join(lines)


_FREQUENCY_WORDS = {"daily": N_("daily"), "weekly": N_("weekly"), "monthly": N_("monthly")}


def _frequency_text(frequency: str, spot: str | None) -> str:
    said = _(_FREQUENCY_WORDS[frequency]) if frequency in _FREQUENCY_WORDS else frequency
    return said if spot is None else _("{frequency}, {spot}").format(
        frequency=said, spot=value_text(spot, spaced=True))


def _window_table(windows: Sequence[Window]) -> str:
    return render_table([_("grid"), _("rule"), _("from"), _("to"), _("done"), _("not visited")],
                        [[w.grid, w.rule, w.start.isoformat(), w.end.isoformat(),
                          f"{w.done}/{w.planned}", _(", ").join(w.missed)] for w in windows])


# Hazards ----------------------------------------------------------------------------------


def found_at(case: Case) -> datetime:
    return case.milestones["found"]


def finished_at(case: Case) -> datetime | None:
    """When a hazard was finished (its standing verification or closure), None if it is
    not finished."""
    if case.status not in FINISHED:
        return None
    return case.milestones.get(case.status)


@frozen
class OverdueHazard:
    hazard: str
    reference: str | None
    community: str
    grid: str | None
    category: str | None
    severity: str | None
    status: str
    due: datetime
    days_overdue: float
    """``(as_of - due)`` in days."""


def overdue_hazards(cases: Iterable[Case], as_of: datetime) -> tuple[OverdueHazard, ...]:
    """The hazards overdue at ``as_of`` (module docstring), the longest overdue first.
    ``cases``: the hazards as they stood at ``as_of``."""
    found = []
    for case in cases:
        due = case.milestones.get("due")
        if case.subject == "hazard" and case.status in UNRECTIFIED and due is not None \
                and due < as_of:
            found.append(OverdueHazard(
                case.case_id, case.reference, case.community, case.dims.get("grid"),
                case.dims.get("category"), case.dims.get("severity"), case.status, due,
                (as_of - due).total_seconds() / _DAY))
    return tuple(sorted(found, key=lambda o: (o.due, o.hazard)))


@frozen
class HazardRow:
    """The hazard figures of one group (a grid, a category...: ``group``)."""

    group: Mapping[str, str | None]
    households: int | None
    """Households of the group's place (None: the group is no place)."""
    found: int
    """Hazards found in the period."""
    per_100_households: float | None
    finished: int
    """Hazards finished (verified or closed) in the period."""
    verified: int
    share_verified: float | None
    """``verified / finished``."""
    open: int
    """Hazards unfinished at ``as_of`` (found whenever)."""
    overdue: int
    metrics: tuple[MetricSummary, ...]
    """The hazard metrics over the hazards found in the period."""

    def metric(self, name: str) -> MetricSummary:
        for summary in self.metrics:
            if summary.metric == name:
                return summary
        raise NotInReportError(_("the row has no metric {name}; its metrics: {metrics}").format(
            name=shown(name), metrics=", ".join(m.metric for m in self.metrics) or _("none")))


def hazard_row(cases: Sequence[Case], group: Mapping[str, str | None],
               households: int | None, definitions: Sequence[MetricDefinition], *,
               period: Period, as_of: datetime) -> HazardRow:
    """The figures of one group of hazards (``cases``: the group's hazards as they stood
    at ``as_of``, whenever found)."""
    found = [c for c in cases if found_at(c) in period]
    finished = [c for c in cases if (at := finished_at(c)) is not None and at in period]
    verified = sum(1 for c in finished if c.status == "verified")
    summaries: list[MetricSummary] = []
    for definition in definitions:
        report = metric_report(definition, found, period=period)
        summaries += report.rows or (summarise_seconds(definition, [], 0, dict(group),
                                                       excluded=report.excluded),)
    summaries = [attrs.evolve(s, group=dict(group)) for s in summaries]
    return HazardRow(dict(group), households, len(found),
                     per_households(len(found), households, 100), len(finished), verified,
                     share(verified, len(finished)),
                     sum(1 for c in cases if c.status not in FINISHED),
                     len(overdue_hazards(cases, as_of)), tuple(summaries))


def per_households(count: int, households: int | None, per: int) -> float | None:
    """``count`` per ``per`` households (None without households)."""
    return None if not households else count * per / households


@frozen
class HazardReport:
    """Hazards of a community (or every community) over a period, as of ``as_of``: one row
    per group and a total, and the hazards overdue at ``as_of``."""

    community: str | None
    period: Period
    as_of: datetime
    by: str | None
    rows: tuple[HazardRow, ...]
    total: HazardRow
    overdue: tuple[OverdueHazard, ...]
    position: int | None = field(default=None, eq=False)
    """The views' position (notification id) the answer reflects at least."""

    def row(self, **group: str | None) -> HazardRow:
        """The row of one group, e.g. ``report.row(grid="g1")``."""
        for row in self.rows:
            own = {k: v for k, v in row.group.items() if k != "community" or k in group}
            if own == group:
                return row
        raise NotInReportError(_("the hazard report has no row for {group}").format(
            group=group_label(group)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"hazards"``: the scope,
        the period, ``as_of``, the grouping, one object per row (each with its metrics),
        the total and the overdue hazards."""
        return report_data(self, "hazards")

    def render(self, names: Mapping[str, str] | None = None) -> str:
        """The figures per group, the hazard metrics per group, then the overdue hazards
        (``names``: display names of groups' values, e.g. a grid's)."""
        title = _("Hazards over {period}, as of {as_of}").format(
            period=period_text(self.period), as_of=self.as_of.isoformat(timespec="minutes"))
        labelled = [(self._label(row, names), row) for row in self.rows]
        labelled.append((_("total"), self.total))
        figures = render_table(
            [_("group"), _("households"), _("found"), _("per 100 households"), _("finished"),
             _("share verified"), _("open"), _("overdue")],
            [[label, "-" if row.households is None else str(row.households), str(row.found),
              fmt(row.per_100_households, 2), str(row.finished),
              _("{share} ({verified}/{finished})").format(
                  share=pct(row.share_verified), verified=row.verified, finished=row.finished),
              str(row.open), str(row.overdue)] for label, row in labelled])
        metrics = render_table(
            [_("group"), _("metric"), _("unit"), _("measured"), _("median"), _("p90"),
             _("target"), _("compliance")],
            [[label, m.metric, unit_text(m.unit), str(m.measured), fmt(m.median), fmt(m.p90),
              fmt(m.target), pct(m.compliance)]
             for label, row in labelled for m in row.metrics])
        out = [title, "", figures]
        if self.total.metrics:
            out += ["", _("Time to rectify and verify (hazards found in the period)"), metrics]
        out += ["", _("Overdue at {as_of} ({count})").format(
            as_of=self.as_of.isoformat(timespec="minutes"), count=len(self.overdue))]
        if self.overdue:
            out.append(render_table(
                [_("hazard"), _("grid"), _("category"), _("status"), _("due"),
                 _("days overdue")],
                [[o.reference or o.hazard, o.grid or "-",
                  value_text(o.category, spaced=True) if o.category else "-",
                  value_text(o.status), o.due.isoformat(), fmt(o.days_overdue)]
                 for o in self.overdue]))
        return "\n".join(out)

    def _label(self, row: HazardRow, names: Mapping[str, str] | None) -> str:
        """A row's group as a label: its community named only when grouped by it (or with
        no community asked for)."""
        shown_group = {k: v for k, v in row.group.items()
                       if k != "community" or self.community is None or self.by == "community"}
        return group_label(shown_group, names)


def hazard_report(cases: Iterable[Case], areas: Mapping[str, Areas], *,
                  community: str | None, period: Period = ALL_TIME, as_of: datetime,
                  by: str | None = "grid",
                  definitions: Sequence[MetricDefinition] = ()) -> HazardReport:
    """The report over the hazards ``cases`` as they stood at ``as_of`` (whenever found),
    their households read off ``areas`` (community id -> its areas): one row per
    community and value of ``by`` (None: the total alone), then the total."""
    hazards = [c for c in cases if c.subject == "hazard"]
    end = period.end

    def households(group: Mapping[str, str | None]) -> int | None:
        known = areas.get(group.get("community") or "")
        return None if known is None else known.households(group, by=end)

    rows = []
    if by is not None:
        def key(case: Case) -> tuple[str | None, ...]:
            return (case.community,) if by == "community" else (case.community, case.dim(by))

        for found, members in grouped(hazards, key):
            group = dict(zip(("community", by), found, strict=False))
            rows.append(hazard_row(members, group, households(group), definitions,
                                   period=period, as_of=as_of))
    if community is not None:
        total_group: dict[str, str | None] = {"community": community}
        total_households = households(total_group)
    else:
        total_group = {}
        total_households = sum(a.households({}, by=end) or 0 for a in areas.values())
    total = hazard_row(hazards, total_group, total_households, definitions, period=period,
                       as_of=as_of)
    return HazardReport(community, period, as_of, by, tuple(rows), total,
                        overdue_hazards(hazards, as_of))


# Definitions as data ----------------------------------------------------------------------


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(type(v) is str and v for v in value):
        raise InvalidInputError(_("a filter takes a list of names, got {value}").format(
            value=shown(value)))
    return tuple(value)


@frozen
class PeacetimeDefinition:
    """One peacetime figure: its ``kind`` and parameters.

    - ``coverage``: patrol coverage (``frequencies``: only the rules of these; all when
      empty); graded on the planned visits.
    - ``per_households``: hazards found per ``per`` households (``categories``,
      ``severities``: only those; all when empty).
    - ``share_verified``: of the hazards finished in the period, the share verified;
      graded on the finished hazards.
    - ``overdue``: hazards overdue at ``as_of`` (a count).

    ``better``: whether a higher or a lower value ranks first in a league table.
    """

    name: str
    kind: FigureKind
    better: Better = "higher"
    per: int = 100
    frequencies: tuple[str, ...] = field(default=(), converter=_names)
    categories: tuple[str, ...] = field(default=(), converter=_names)
    severities: tuple[str, ...] = field(default=(), converter=_names)
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if not check_text(self.name, "a figure's name").strip():
            raise InvalidInputError(_("a figure needs a name"))
        if type(self.kind) is not str or self.kind not in get_args(FigureKind):
            raise InvalidInputError(_("a figure's kind is one of {kinds}, got {value}").format(
                kinds=", ".join(get_args(FigureKind)), value=shown(self.kind)))
        if type(self.better) is not str or self.better not in get_args(Better):
            raise InvalidInputError(_("better is 'higher' or 'lower', got {value}").format(
                value=shown(self.better)))
        check_whole(self.per, f"figure {self.name}: per", 1)
        unknown = [f for f in self.frequencies if f not in FREQUENCIES]
        if unknown:
            raise InvalidInputError(_("unknown frequencies {names}; known: {known}").format(
                names=shown(unknown), known=", ".join(FREQUENCIES)))
        check_text(self.description, "description")

    def admits(self, case: Case) -> bool:
        """Whether the figure counts a hazard (its category and severity filters)."""
        return ((not self.categories or case.dims.get("category") in self.categories)
                and (not self.severities or case.dims.get("severity") in self.severities))

    def figure(self, scope: "PeacetimeScope", group: Mapping[str, str | None]
               ) -> "PeacetimeFigure":
        """The figure of one scope (its coverage, its hazards and households)."""
        hazards = [c for c in scope.hazards if c.subject == "hazard" and self.admits(c)]
        if self.kind == "coverage":
            planned = done = 0
            for grid in scope.coverage:
                p, d = grid.counted(self.frequencies)
                planned, done = planned + p, done + d
            return PeacetimeFigure(self.name, self.kind, dict(group), share(done, planned),
                                   done, planned)
        if self.kind == "per_households":
            count = sum(1 for c in hazards if found_at(c) in scope.period)
            return PeacetimeFigure(self.name, self.kind, dict(group),
                                   per_households(count, scope.households, self.per), count,
                                   scope.households)
        if self.kind == "share_verified":
            finished = [c for c in hazards
                        if (at := finished_at(c)) is not None and at in scope.period]
            verified = sum(1 for c in finished if c.status == "verified")
            return PeacetimeFigure(self.name, self.kind, dict(group),
                                   share(verified, len(finished)), verified, len(finished))
        count = len(overdue_hazards(hazards, scope.as_of))
        return PeacetimeFigure(self.name, self.kind, dict(group), float(count), count, None)

    def to_dict(self) -> dict[str, Any]:
        """The definition as JSON-ready data: its fields, the filters as lists."""
        return attrs.asdict(self, value_serializer=lambda _i, _a, v: (
            list(v) if isinstance(v, tuple) else v))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PeacetimeDefinition":
        """A definition from its data (``to_dict``): unknown keys refused, every value
        checked as the constructor checks it."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(_("a figure definition is a JSON object, got {value}")
                                    .format(value=shown(data)))
        known = {a.name: a for a in attrs.fields(cls)}
        unknown = [str(k) for k in data if k not in known]
        if unknown:
            raise InvalidInputError(_("unknown fields of a figure definition: {fields}").format(
                fields=", ".join(unknown)))
        if "name" not in data or "kind" not in data:
            raise InvalidInputError(_("a figure definition needs a name and a kind"))
        per = data.get("per", 100)
        if type(per) is not int:
            raise InvalidInputError(_("per must be a whole number, got {value}").format(
                value=shown(per)))
        for name in ("name", "kind", "better", "description"):
            if name in data and type(data[name]) is not str:
                raise InvalidInputError(_("{field} must be text, got {value}").format(
                    field=name, value=shown(data[name])))
        return cls(**dict(data))

    @property
    def rule(self) -> str:
        """What the figure is, in a few words (shown in reports)."""
        return {"coverage": _("planned building-visits done"),
                "per_households": _("hazards found per {per} households").format(per=self.per),
                "share_verified": _("finished hazards verified"),
                "overdue": _("hazards past their due, not rectified")}[self.kind]


PEACETIME: tuple[PeacetimeDefinition, ...] = Named("PEACETIME", (
    PeacetimeDefinition("patrol_coverage", "coverage", "higher",
                        description="share of planned building-visits done"),
    PeacetimeDefinition("hazards_per_100_households", "per_households", "lower",
                        description="hazards found in the period per 100 households"),
    PeacetimeDefinition("share_verified", "share_verified", "higher",
                        description="of the hazards finished (verified or closed) in the "
                        "period, the share verified"),
    PeacetimeDefinition("overdue_hazards", "overdue", "lower",
                        description="hazards unfinished and not rectified past their due"),
))
"""The four built-in peacetime figures."""
BUILT_IN = PEACETIME
PEACETIME_BY_NAME: Mapping[str, PeacetimeDefinition] = {d.name: d for d in PEACETIME}


def builtin_figure(name: str) -> PeacetimeDefinition:
    """A built-in peacetime figure by name (NotFoundError listing them for another)."""
    found = PEACETIME_BY_NAME.get(check_text(name, "a figure's name"))
    if found is None:
        raise NotFoundError(_("no built-in figure {name}; built-ins: {known}").format(
            name=shown(name), known=", ".join(PEACETIME_BY_NAME)))
    return found


@frozen
class PeacetimeScope:
    """What a scope's figures are computed from: its grids' coverage, its hazards (as they
    stood at ``as_of``, whenever found) and its households."""

    period: Period
    as_of: datetime
    coverage: tuple[GridCoverage, ...]
    hazards: tuple[Case, ...]
    households: int | None


@frozen
class PeacetimeFigure:
    """One peacetime figure of one scope."""

    name: str
    kind: str
    """The definition's kind (``PeacetimeDefinition.kind``)."""
    group: Mapping[str, str | None]
    value: float | None
    numerator: int
    """Coverage: visits done; per households: hazards found; share verified: hazards
    verified; overdue: hazards overdue."""
    denominator: int | None
    """Coverage: visits planned; per households: households; share verified: hazards
    finished; overdue: None."""

    def text(self) -> str:
        """The figure in a few words, in the current language."""
        kind = self.kind
        if kind == "overdue":
            return _("{name} {count}").format(name=self.name, count=self.numerator)
        if kind == "per_households":
            return _("{name} {value} ({count} in {households} households)").format(
                name=self.name, value=fmt(self.value, 2), count=self.numerator,
                households=self.denominator)
        return _("{name} {value} ({part}/{whole})").format(
            name=self.name, value=pct(self.value), part=self.numerator,
            whole=self.denominator)


def peacetime_figures(definitions: Sequence[PeacetimeDefinition], scope: PeacetimeScope,
                      group: Mapping[str, str | None]) -> tuple[PeacetimeFigure, ...]:
    return tuple(d.figure(scope, group) for d in definitions)
