"""``engine.what_if``: history replayed under a changed target or escalation policy, side
by side with what actually happened, recording nothing.

A what-if only reads. A changed target regrades the cases the ``cases`` view already
holds (the same cases, measured the same way, only graded against another number); a
changed escalation policy is evaluated on each case's stored facts with
``resilience.domain.deadline_state.deadline_states``, as a watch that never missed a tick
would have evaluated it. Nothing is recorded: no event, no command, no escalation (the
views may catch up first, as for every query; that folds facts already recorded).

The 90% rule is the metric's own: a group meets its target when at least
``percentile`` percent (NFPA 1710: 90) of its measured cases are within it
(``resilience.metrics.definitions``).
"""

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from typing import Any
from uuid import UUID

from attrs import evolve, frozen

from resilience.adapters.report_data import report_data
from resilience.clock import Clock
from resilience.domain.deadline_state import DeadlineState, InEmergency, case_deadlines
from resilience.domain.escalation import EscalationPolicy
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import check_instance, check_moment, check_number
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _
from resilience.metrics.definitions import SECONDS_PER, MetricDefinition
from resilience.metrics.period import Period, check_group_by
from resilience.metrics.reports import MetricSummary, metric_report, summarise_seconds
from resilience.metrics.tables import (
    DIMENSION_LABELS,
    absent,
    fmt,
    met_text,
    pct,
    period_text,
    render_table,
    unit_text,
    value_text,
)
from resilience.services.core import EventStoreApplication
from resilience.services.reports import (
    MetricRef,
    Reports,
    bucket_zone,
    checked_period,
    definition_of,
)

Group = dict[str, str | None]


@frozen
class TargetRow:
    """One group's cases graded against the metric's own target (``actual``) and against
    the hypothetical one (``hypothetical``): the same cases, the same measured durations,
    only ``met``, ``compliance`` and ``target_met`` differ."""

    group: Group
    label: str
    """The group in words: a community's and a grid's names (ids when unnamed)."""
    actual: MetricSummary
    """Against the metric's own target (``target`` None: it has none, so nothing is met)."""
    hypothetical: MetricSummary

    @property
    def measured(self) -> int:
        return self.hypothetical.measured

    @property
    def change(self) -> str:
        """What the hypothetical target changes for the group under the 90% rule:
        ``"would meet"`` (it does not now), ``"would miss"`` (it does now), ``"same"``,
        or ``"-"`` (nothing measured, or no actual target to compare with)."""
        now, then = self.actual.target_met, self.hypothetical.target_met
        if then is None or now is None:
            return "-"
        if now == then:
            return "same"
        return "would meet" if then else "would miss"


@frozen
class TargetWhatIf:
    """``engine.what_if.target``: a metric's cases, per group, graded against its own
    target and a hypothetical one, side by side, with the total over every group."""

    actual: MetricDefinition
    hypothetical: MetricDefinition
    """The metric with the hypothetical target (and percentile, if one was given)."""
    period: Period
    group_by: tuple[str, ...]
    rows: tuple[TargetRow, ...]
    """One per group with a case the metric applies to, in the order of the report."""
    total: TargetRow
    """Every group together (``group`` empty)."""

    def row(self, **group: str | None) -> TargetRow:
        """The row of one group, e.g. ``what_if.row(community=key, grid="3")``;
        NotInReportError if the group has no case the metric applies to."""
        for row in self.rows:
            if row.group == group:
                return row
        raise absent(_("what-if on {metric}").format(metric=self.actual.name), group,
                     (r.group for r in self.rows))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"what_if_target"``: both
        definitions (their ``to_dict``), the period, the grouping, one object per row (its
        ``actual`` and ``hypothetical`` summaries) and the total."""
        return report_data(self, "what_if_target", actual=self.actual.to_dict(),
                           hypothetical=self.hypothetical.to_dict())

    @property
    def would_meet(self) -> tuple[TargetRow, ...]:
        """The groups that would meet the hypothetical target under the 90% rule."""
        return tuple(row for row in self.rows if row.hypothetical.target_met)

    @property
    def changed(self) -> tuple[TargetRow, ...]:
        """The groups whose verdict the hypothetical target changes."""
        return tuple(row for row in self.rows if row.change in ("would meet", "would miss"))

    def render(self) -> str:
        """The table, one row a group and the total, in the current language."""
        a, h = self.actual, self.hypothetical
        now = (_("{target} {unit}").format(target=fmt(a.target, 3), unit=unit_text(a.unit))
               if a.target is not None else _("none"))
        then = _("{target} {unit}").format(target=fmt(h.target, 3), unit=unit_text(h.unit))
        share = (f"{fmt(h.percentile)}%" if a.percentile == h.percentile
                 else f"{fmt(a.percentile)}% -> {fmt(h.percentile)}%")
        title = (_("What if: {name} ({start} -> {end}) over {period}: target {now} -> {then}; "
                   "a group meets it with {share} of its reopenings within it")
                 if a.per == "reopening" else
                 _("What if: {name} ({start} -> {end}) over {period}: target {now} -> "
                   "{then}; a group meets it with {share} of its cases within it")).format(
            name=a.name, start=value_text(a.start), end=value_text(a.end),
            period=period_text(self.period), now=now, then=then, share=share)
        headers = [_("group"), _("measured"),
                   _("within {target}").format(target=now) if a.target is not None
                   else _("own target"),
                   _("{share} rule").format(share=f"{fmt(a.percentile)}%"),
                   _("within {target}").format(target=then),
                   _("{share} rule").format(share=f"{fmt(h.percentile)}%"), _("change")]
        rows = [[_group(row), str(row.measured), pct(row.actual.compliance),
                 met_text(row.actual.target_met), pct(row.hypothetical.compliance),
                 met_text(row.hypothetical.target_met),
                 _(_CHANGES[row.change]) if row.change in _CHANGES else row.change]
                for row in (*self.rows, *((self.total,) if len(self.rows) > 1 else ()))]
        return (title + "\n" + render_table(headers, rows)
                + "\n" + _("Nothing was recorded: a what-if only reads."))


_CHANGES = {"would meet": N_("would meet"), "would miss": N_("would miss"), "same": N_("same")}
"""What a hypothetical target changes for a group (``TargetRow.change``), in words."""


def _group(row: TargetRow) -> str:
    """A row's label (English, as recorded) in the current language: the words the
    catalog has for its dimensions and values, names as they are."""
    if not row.group:
        return _("all")
    label = row.label
    for dimension, value in row.group.items():
        if value is None:
            label = label.replace(f"{dimension} (unknown)", _("{dimension} (unknown)").format(
                dimension=_(DIMENSION_LABELS.get(dimension, dimension))))
        elif dimension == "grid":
            label = label.replace(f"grid {value}", _("grid {grid}").format(grid=value))
        elif dimension != "community":
            said = value_text(value).replace("\\", "\\\\")
            label = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", said, label)
    return label


@frozen
class LevelCount:
    """One level of one deadline over the period's cases: escalations recorded, and those
    the policy would have raised with a perfect watch."""

    subject: str
    """``"incident"`` or ``"order"``."""
    deadline: str
    level: int
    recorded: int
    """Escalations recorded for the level (by the watch that ran, under its policy)."""
    would: int
    """Levels the policy makes needed (``DeadlineState.needed``) and due by the moment
    judged: what a watch that never missed a tick would have raised."""

    @property
    def difference(self) -> int:
        return self.would - self.recorded


@frozen
class CaseEscalations:
    """One case's escalations: those recorded, as ``(deadline, cycle, level)``, and the
    levels the policy would have raised."""

    case_id: UUID
    subject: str
    community: str
    started_at: datetime
    """Its detection (incident) or placement (order)."""
    recorded: tuple[tuple[str, int, int], ...]
    would: tuple[DeadlineState, ...]


@frozen
class EscalationWhatIf:
    """``engine.what_if.escalations``: per deadline level and per case, the escalations
    recorded beside those a policy would have raised with a perfect watch."""

    policy: EscalationPolicy
    period: Period
    at: datetime
    """The moment judged (the engine's clock): levels due later are not counted."""
    examined: int
    """Incidents and orders started in the period (of the community, if one was given)."""
    levels: tuple[LevelCount, ...]
    """The policy's deadline levels in its order (peacetime, then emergency-only names),
    then those only recorded (another policy's)."""
    cases: tuple[CaseEscalations, ...]
    """The cases with an escalation recorded or one the policy would have raised."""

    @property
    def recorded(self) -> int:
        return sum(level.recorded for level in self.levels)

    @property
    def would(self) -> int:
        return sum(level.would for level in self.levels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"what_if_escalations"``:
        the policy (its ``to_dict``), the period, the moment judged, the counts per level
        and per case, and the totals ``recorded`` and ``would``."""
        return report_data(self, "what_if_escalations", policy=self.policy.to_dict(),
                           recorded=self.recorded, would=self.would)

    def level(self, subject: str, deadline: str, level: int) -> LevelCount:
        """The row of one deadline level (one with nothing in it counts zero)."""
        for row in self.levels:
            if (row.subject, row.deadline, row.level) == (subject, deadline, level):
                return row
        return LevelCount(subject, deadline, level, 0, 0)

    def render(self, *, cases: bool = False) -> str:
        """The per-level table with its total (``cases``: then one line per case), in the
        current language."""
        title = _("What if: escalations under another policy over {period}: {examined} cases "
                  "examined, judged at {at}").format(period=period_text(self.period),
                                                     examined=self.examined,
                                                     at=self.at.isoformat())
        rows = [[value_text(row.subject), value_text(row.deadline), str(row.level),
                 str(row.recorded), str(row.would), _signed(row.difference)]
                for row in self.levels]
        rows.append([_("total"), "", "", str(self.recorded), str(self.would),
                     _signed(self.would - self.recorded)])
        text = title + "\n" + render_table(
            [_("subject"), _("deadline"), _("level"), _("recorded"), _("would raise"),
             _("difference")], rows)
        if cases:
            lines = [[str(case.case_id), value_text(case.subject), case.started_at.isoformat(),
                      _levels(case.recorded),
                      _levels([(s.deadline, s.cycle, s.level) for s in case.would])]
                     for case in self.cases]
            text += "\n\n" + render_table([_("case"), _("subject"), _("started"),
                                            _("recorded"), _("would raise")], lines)
        return (text + "\n" + _("Would raise: needed by the times as now recorded, with a "
                                "watch that never missed a tick. Nothing was recorded: a "
                                "what-if only reads."))


def _levels(found: Sequence[tuple[str, int, int]]) -> str:
    """Deadline levels ``(deadline, cycle, level)`` as "response/1 (cycle 1), ..." ("-":
    none)."""
    return _(", ").join(
        (_("{deadline}/{level} (cycle {cycle})") if cycle else
         _("{deadline}/{level}")).format(deadline=value_text(deadline), level=level,
                                         cycle=cycle)
        for deadline, cycle, level in found) or "-"


def _signed(number: int) -> str:
    return f"+{number}" if number > 0 else str(number)


def hypothetical_target(definition: MetricDefinition, target: object,
                        percentile: object = None) -> MetricDefinition:
    """``definition`` with another ``target`` (a number in its unit, or a timedelta,
    converted exactly) and, if given, another ``percentile``; InvalidInputError otherwise."""
    if isinstance(target, timedelta):
        micro = Fraction(target // timedelta(microseconds=1), 1_000_000)
        value = float(micro / Fraction(SECONDS_PER[definition.unit]))
    elif target is None:
        raise InvalidInputError(_("a what-if needs a target: a number of the metric's unit "
                                  "({unit}) or a timedelta").format(unit=definition.unit))
    else:
        value = float(check_number(target, f"target (in {definition.unit})"))
    changes: dict[str, Any] = {"target": value}
    if percentile is not None:
        changes["percentile"] = float(check_number(percentile, "percentile"))
    return evolve(definition, **changes)


class WhatIf:
    """``engine.what_if``: history graded under a changed target, or escalated under a
    changed policy, beside what actually happened; nothing is recorded."""

    def __init__(self, reports: Reports, app: EventStoreApplication, clock: Clock, *,
                 in_emergency: InEmergency | None = None) -> None:
        self._reports = reports
        self._app = app
        self._clock = clock
        self._in_emergency = in_emergency

    def target(self, metric: MetricRef, target: float | timedelta, *,
               period: Period | None = None, group_by: Sequence[str] = ("grid",),
               community: UUID | None = None, percentile: float | None = None,
               tz: tzinfo | None = None) -> TargetWhatIf:
        """Each group's cases of ``metric`` (a definition or a built-in's name) detected
        (placed) in ``period``, graded against the metric's own target and against
        ``target`` (a number in the metric's unit, or a timedelta), side by side: measured,
        share met, whether the group meets the ``percentile`` rule (default the metric's
        own, 90).

        ``group_by`` groups as ``engine.metrics`` does. Grid ids are a community's own, so
        grouped by grid across every community (``community`` None) the rows are per
        community and grid. Nothing is recorded."""
        definition = definition_of(metric)
        hypothetical = hypothetical_target(definition, target, percentile)
        groups = check_group_by(group_by, [definition.subject])
        if community is None and "grid" in groups and "community" not in groups:
            groups = ("community", *groups)
        period = checked_period(period)
        zone = bucket_zone(tz, period)
        cases = self._reports.cases(subject=definition.subject, period=period,
                                    community=community)
        names = self._reports.communities()
        key = None if community is None else str(community)

        def rows(by: tuple[str, ...]) -> list[TargetRow]:
            now = metric_report(definition, cases, period=period, group_by=by, tz=zone)
            then = metric_report(hypothetical, cases, period=period, group_by=by, tz=zone)
            return [TargetRow(old.group, _label(old.group, key, names), old, new)
                    for old, new in zip(now.rows, then.rows, strict=True)]

        total = rows(()) or [TargetRow({}, "all", summarise_seconds(definition, [], 0),
                                       summarise_seconds(hypothetical, [], 0))]
        return TargetWhatIf(definition, hypothetical, period, groups, tuple(rows(groups)),
                            total[0])

    def escalations(self, policy: EscalationPolicy, *, period: Period | None = None,
                    community: UUID | None = None) -> EscalationWhatIf:
        """The incidents and orders started in ``period`` (of ``community``, if given),
        each read from its stored facts: per deadline level and per case, the escalations
        recorded beside those ``policy`` would have raised with a perfect watch (each
        level needed by effective times, ``DeadlineState.needed``, and due by the
        engine's clock; the emergency deadlines for a case that began in an emergency).
        Nothing is recorded."""
        check_instance(policy, "policy", EscalationPolicy)
        period = checked_period(period)
        at = check_moment(self._clock(), "clock()")
        found = self._reports.cases(period=period, community=community)
        counts: dict[tuple[str, str, int], list[int]] = {}
        for deadline in (*policy.deadlines, *(policy.emergency or ())):
            for level in range(len(deadline.levels)):
                counts.setdefault((deadline.subject, deadline.name, level), [0, 0])
        cases = []
        for case in sorted(found, key=lambda c: (c.start, c.case_id)):
            aggregate: Incident | ServiceOrder = self._app.repository.get(UUID(case.case_id))
            would = tuple(s for s in case_deadlines(aggregate, policy, self._in_emergency)
                          if s.needed and s.due_at <= at)
            recorded = tuple(sorted(aggregate.escalations))
            for name, _cycle, level in recorded:
                counts.setdefault((case.subject, name, level), [0, 0])[0] += 1
            for state in would:
                counts[(case.subject, state.deadline, state.level)][1] += 1
            if recorded or would:
                cases.append(CaseEscalations(UUID(case.case_id), case.subject, case.community,
                                             case.start, recorded, would))
        levels = tuple(LevelCount(subject, name, level, recorded, would)
                       for (subject, name, level), (recorded, would) in counts.items())
        return EscalationWhatIf(policy, period, at, len(found), levels, tuple(cases))


def _label(group: Mapping[str, str | None], community: str | None,
           names: Mapping[str, tuple[str, Mapping[str, str]]]) -> str:
    """"Donghu / Grid 3, fire": each value of the group by its name where it has one."""
    if not group:
        return "all"
    where = group.get("community", community)
    name, grids = names.get(where or "", (where or "(unknown)", {}))
    parts = []
    for dimension, value in group.items():
        if value is None:
            parts.append(f"{dimension} (unknown)")
        elif dimension == "community":
            parts.append(name)
        elif dimension == "grid":
            grid = grids.get(value, value)
            if parts and "community" in group:
                parts[-1] = f"{parts[-1]} / {grid}"
            else:
                parts.append(grid if grid != value else f"grid {value}")
        else:
            parts.append(value)
    return ", ".join(parts)


