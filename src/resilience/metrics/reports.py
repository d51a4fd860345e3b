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

from collections.abc import Iterable, Mapping, Sequence
from datetime import tzinfo
from fractions import Fraction
from typing import Any

from attrs import Factory, evolve, field, frozen

from resilience.adapters.report_data import report_data
from resilience.domain.validation import shown
from resilience.errors import InvalidInputError
from resilience.i18n import _
from resilience.metrics.cases import Case
from resilience.metrics.definitions import SECONDS_PER, MetricDefinition
from resilience.metrics.period import ALL_TIME, Period, group_key, grouped
from resilience.metrics.stats import median, percentile, rank, share
from resilience.metrics.tables import (
    absent,
    fmt,
    group_label,
    met_text,
    pct,
    period_text,
    render_table,
    unit_text,
    value_text,
)

Group = dict[str, str | None]


def _check_unit(unit: str) -> str:
    if type(unit) is not str or unit not in SECONDS_PER:
        raise InvalidInputError(_("unit must be one of {units}, got {value}").format(
            units=", ".join(SECONDS_PER), value=shown(unit)))
    return unit


def _in_unit(seconds: Fraction | None, unit: str) -> float | None:
    """An exact number of seconds in ``unit``, rounded once."""
    return None if seconds is None else float(seconds / Fraction(SECONDS_PER[unit]))


def _exact_seconds(target: float | None, unit: str) -> Fraction | None:
    if target is None or unit not in SECONDS_PER:
        return None
    return Fraction(target) * Fraction(SECONDS_PER[unit])


def _target_seconds(definition: MetricDefinition) -> Fraction | None:
    return _exact_seconds(definition.target, definition.unit)


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
    excluded: Mapping[str, int] = Factory(dict)
    """Cases of the subject, group and period the definition's filter left out, by reason
    (``CaseFilter.why_excluded``): not counted in ``cases``, nor in ``missing``."""
    seconds: tuple[float, ...] | None = field(default=None, repr=False, eq=False)
    """The measured durations in seconds, shortest first: what every figure is computed
    from (None: a summary made from its figures alone, which ``in_unit`` scales)."""
    target_seconds: Fraction | None = field(
        default=Factory(lambda self: _exact_seconds(self.target, self.unit), takes_self=True),
        repr=False, eq=False)
    """The target in seconds, exactly."""

    @property
    def missing(self) -> int:
        """``cases - measured``: those lacking a milestone."""
        return self.cases - self.measured

    def in_unit(self, unit: str) -> "MetricSummary":
        """The same summary with every duration in ``unit`` (``"s"``, ``"min"``, ``"h"``,
        ``"d"``): each figure computed from the measured seconds as a definition in that
        unit would measure it, the target converted exactly; counts, compliance and
        ``target_met`` unchanged. A summary made without its ``seconds`` has each
        figure scaled instead."""
        _check_unit(unit)
        if self.seconds is not None:
            middle, p90, most, least, mean, at_percentile = _figures(
                self.seconds, unit, self.percentile)
        else:
            scale = SECONDS_PER[self.unit] / SECONDS_PER[unit]
            middle, p90, most, least, mean, at_percentile = (
                None if v is None else v * scale
                for v in (self.median, self.p90, self.max, self.min, self.mean,
                          self.at_percentile))
        return evolve(self, unit=unit, median=middle, p90=p90, max=most, min=least, mean=mean,
                      at_percentile=at_percentile, target=_in_unit(self.target_seconds, unit))


Figures = tuple[float | None, float | None, float | None, float | None, float | None,
                float | None]


def _figures(seconds: Sequence[float], unit: str, p: float) -> Figures:
    """Median, p90, max, min, mean and the value at ``p`` of sorted durations in seconds,
    in ``unit``: each duration as ``measure`` gives it in that unit."""
    return _figures_of([s / SECONDS_PER[unit] for s in seconds], p)


def _figures_of(ordered: Sequence[float], p: float) -> Figures:
    """Median, p90, max, min, mean and the value at ``p`` of sorted durations."""
    n = len(ordered)
    return (median(ordered), percentile(ordered, 90), ordered[-1] if n else None,
            ordered[0] if n else None, sum(ordered) / n if n else None,
            percentile(ordered, p))


def summarise(definition: MetricDefinition, values: Sequence[float], cases: int,
              group: Mapping[str, str | None] | None = None) -> MetricSummary:
    """The summary of the durations measured (``values``, in the definition's unit, as
    ``measure`` gives them) of ``cases`` cases (or reopenings, for a metric per
    reopening)."""
    ordered = sorted(values)
    seconds = tuple(v * SECONDS_PER[definition.unit] for v in ordered)
    return _summary(definition, ordered, seconds, cases, group, {})


def summarise_seconds(definition: MetricDefinition, seconds: Sequence[float], cases: int,
                      group: Mapping[str, str | None] | None = None, *,
                      excluded: Mapping[str, int] | None = None) -> MetricSummary:
    """``summarise`` of durations measured in seconds (``measured_in_seconds``), with the
    cases ``excluded`` by reason: what the reports use, so that ``in_unit`` is exact."""
    ordered = tuple(sorted(seconds))
    size = SECONDS_PER[definition.unit]
    # x / 1.0 is x: in seconds, the durations are the seconds themselves.
    in_unit = ordered if size == 1 else [s / size for s in ordered]
    return _summary(definition, in_unit, ordered, cases, group, excluded or {})


def _summary(definition: MetricDefinition, ordered: Sequence[float],
             seconds: tuple[float, ...], cases: int, group: Mapping[str, str | None] | None,
             excluded: Mapping[str, int]) -> MetricSummary:
    """The summary of sorted durations in the definition's unit (``seconds``: the same in
    seconds), each graded against the target in that unit."""
    n = len(ordered)
    middle, p90, most, least, mean, at_percentile = _figures_of(ordered, definition.percentile)
    met = compliance = target_met = None
    if definition.target is not None:
        # In the definition's own unit, as each case is graded against its target.
        met = sum(1 for v in ordered if v <= definition.target)
        compliance = share(met, n)
        target_met = met >= rank(definition.percentile, n) if n else None
    return MetricSummary(
        metric=definition.name, unit=definition.unit, group=dict(group or {}), cases=cases,
        measured=n, median=middle, p90=p90, max=most, min=least, mean=mean,
        percentile=definition.percentile, at_percentile=at_percentile, target=definition.target,
        met=met, compliance=compliance, target_met=target_met, excluded=tally([excluded]),
        seconds=seconds, target_seconds=_target_seconds(definition))


def measured_in_seconds(definition: MetricDefinition) -> MetricDefinition:
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


def _excluded(excluded: Mapping[str, int]) -> str:
    """The footer naming why cases were left out (empty if none were)."""
    if not excluded:
        return ""
    return "\n" + _("excluded: {reasons}").format(reasons=excluded_text(excluded))


def excluded_text(excluded: Mapping[str, int]) -> str:
    """Cases left out by reason, "drill 2, dropped 1" ("演练 2、..."): reasons in words."""
    return _(", ").join(_("{reason} {count}").format(reason=value_text(reason), count=count)
                        for reason, count in excluded.items())


def tally(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
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
    position: int | None = field(default=None, eq=False)
    """The views' position (notification id) the answer reflects at least: read after the
    views caught up, before the documents (None: not read from the views)."""

    def row(self, **group: str | None) -> MetricSummary:
        """The row of one group, e.g. ``report.row(grid="3")``; NotInReportError if no
        case of the group is one the definition applies to."""
        for row in self.rows:
            if row.group == group:
                return row
        raise absent(self.definition.name, group, (r.group for r in self.rows))

    def in_unit(self, unit: str) -> "MetricReport":
        """The same report with every duration in ``unit`` (see MetricSummary.in_unit)."""
        return evolve(self, unit=_check_unit(unit),
                      rows=tuple(row.in_unit(unit) for row in self.rows))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"metrics"``: the definition
        (its ``to_dict``), the period, the grouping, one object per row (its durations in
        ``unit``), the cases excluded by reason, the views' position."""
        return report_data(self, "metrics", definition=self.definition.to_dict())

    def render(self, names: Mapping[str, str] | None = None) -> str:
        d, u = self.definition, self.unit
        shown_unit = unit_text(u)
        if d.target is None:
            target = _("no target")
        elif d.per == "reopening":
            target = _("target {target} {unit} for {share} of reopenings")
        else:
            target = _("target {target} {unit} for {share} of cases")
        target = target.format(target=fmt(_in_unit(_target_seconds(d), u)), unit=shown_unit,
                               share=f"{fmt(d.percentile)}%")
        title = (_("{name} ({start} -> {end}, per reopening, {unit}; {target}) over {period}")
                 if d.per == "reopening" else
                 _("{name} ({start} -> {end}, {unit}; {target}) over {period}")).format(
            name=d.name, start=value_text(d.start), end=value_text(d.end), unit=shown_unit,
            target=target, period=period_text(self.period))
        headers = [_("group"), _("cases"), _("measured"),
                   _("median {unit}").format(unit=shown_unit),
                   _("p90 {unit}").format(unit=shown_unit),
                   _("max {unit}").format(unit=shown_unit),
                   _("compliance"), _("met"), _("excluded")]
        rows = [[group_label(r.group, names), str(r.cases), str(r.measured), fmt(r.median),
                 fmt(r.p90), fmt(r.max), pct(r.compliance), met_text(r.target_met),
                 str(sum(r.excluded.values()))]
                for r in self.rows]
        return title + "\n" + render_table(headers, rows) + _excluded(self.excluded)


def metric_report(definition: MetricDefinition, cases: Iterable[Case], *,
                  period: Period = ALL_TIME, group_by: tuple[str, ...] = (),
                  tz: tzinfo | None = None) -> MetricReport:
    """``definition`` over the cases of its subject that start in ``period``: those it
    applies to measured, one row per group that has any; the others counted by reason in
    ``excluded``, of their row and of the report."""
    in_seconds = measured_in_seconds(definition)
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
            rows.append(summarise_seconds(definition, values, units,
                                          dict(zip(group_by, key, strict=True)),
                                          excluded=excluded))
    return MetricReport(definition, period, group_by, tuple(rows), tally(left_out))


@frozen
class Comparison:
    """Several definitions (an old and a new one, say) over the same cases, side by side."""

    reports: tuple[MetricReport, ...]
    position: int | None = field(default=None, eq=False)
    """The views' position (notification id) the answer reflects at least: read after the
    views caught up, before the documents (None: not read from the views)."""

    def in_unit(self, unit: str) -> "Comparison":
        """Every report in ``unit``."""
        return evolve(self, reports=tuple(report.in_unit(unit) for report in self.reports))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"compare"``: each metric's
        report as ``MetricReport.to_dict`` gives it, without the header."""
        return report_data(self, "compare")

    def render(self, names: Mapping[str, str] | None = None) -> str:
        groups: dict[tuple[tuple[str, str | None], ...], None] = {}
        for report in self.reports:
            for row in report.rows:
                groups.setdefault(tuple(row.group.items()), None)
        headers = [_("group")]
        for report in self.reports:
            headers += [_("{name} n").format(name=report.definition.name),
                        _("median {unit}").format(unit=unit_text(report.unit)), _("p90"),
                        _("compliance")]
        lines = []
        for group in groups:
            line = [group_label(dict(group), names)]
            for report in self.reports:
                found = next((r for r in report.rows if tuple(r.group.items()) == group), None)
                line += ["0", "-", "-", "-"] if found is None else [
                    str(found.measured), fmt(found.median), fmt(found.p90),
                    pct(found.compliance)]
            lines.append(line)
        defs = _("; ").join(
            (_("{name}: {start} -> {end}, target {target} {unit}")
             if r.definition.target is not None else _("{name}: {start} -> {end}")).format(
                name=r.definition.name, start=value_text(r.definition.start),
                end=value_text(r.definition.end), unit=unit_text(r.unit),
                target=(fmt(_in_unit(_target_seconds(r.definition), r.unit))
                        if r.definition.target is not None else ""))
            for r in self.reports)
        return defs + "\n" + render_table(headers, lines)
