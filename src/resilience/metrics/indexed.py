"""The reports read from the per-case summaries (resilience.metrics.summaries): what
``metric_report``, ``service_report``, ``count_report``, ``rate_report``,
``league_table`` and a scorecard give over the cases, from a few rows per community and
month (resilience.metrics.case_table), with no case read whole.

Every figure is the one the reports over cases compute, by the same rules:

- a duration is the end's microseconds less the start's, divided by 10**6: what
  ``timedelta.total_seconds()`` gives of the two datetimes' difference, exactly;
- a case is in a period, and in a day, week, month or year, by the same bounds and
  the same ``bucket_of`` of its local date (in ``tz``, or its own recorded offset);
- which cases a definition applies to (``CaseFilter.why_excluded``), and the service
  KPIs, counts and rates, are the metrics' own functions, run on **stand-ins**: a
  ``Case`` holding only what the rule reads of a case (its flags and dimensions, which
  milestones it has and, where the rule compares two, how they compare; for a response
  rate, how its responses compare with each limit asked), made once per distinct
  combination and counted as many times as cases have it;
- the recovery of an incident is read from its linked orders' and items' documents,
  as for the cases (resilience.metrics.recovery);
- a league ranks stand-ins holding every figure of the cases it ranks (the latest
  ``last`` of each scope).

The reports are equal to those over ``case_from_doc`` cases (tests/test_metrics_fast.py
holds them equal over generated histories and definitions). What a summary does not
hold, the facts, stays with the cases: the data-quality report, and reports as known
at a moment or as closed, read the cases.
"""

import bisect
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from itertools import compress, repeat
from operator import and_, is_, le, ne, sub, truediv
from typing import Any, TypeVar

from resilience.metrics.case_table import CaseTable
from resilience.metrics.cases import Case
from resilience.metrics.definitions import CaseFilter, MetricDefinition
from resilience.metrics.milestones import DIMENSIONS, Subject
from resilience.metrics.period import TIME_BUCKETS, Period, bucket_of, sort_key
from resilience.metrics.rates import RESPONSES, RateDefinition
from resilience.metrics.recovery import RECOVERED
from resilience.metrics.reports import MetricReport, MetricSummary, summarise_seconds, tally
from resilience.metrics.standings import LeagueTable, league_table
from resilience.metrics.summaries import CYCLES, OFFSET, START, dimension, milestone
from resilience.metrics.tallies import (
    Activity,
    Counts,
    RateReport,
    ServiceSummary,
    count_rows,
    counts,
    rate_rows,
    service_rows,
    service_summary,
)
from resilience.projections.summaries import EPOCH, NONE, TIME

Key = tuple[str | None, ...]
F = TypeVar("F", bound=Hashable)
_DAY = 86_400_000_000
"""Microseconds in a day."""
_US = timedelta(microseconds=1)
_MIDNIGHT_1970 = datetime(1970, 1, 1)
_FILTERED = ("incident_type", "severity", "category", "item")
"""The dimensions a CaseFilter can list."""


def _stand_in(subject: Subject, milestones: Mapping[str, datetime] | None = None, *,
              dims: Mapping[str, str | None] | None = None, community: str = "",
              case_id: str = "", **figures: Any) -> Case:
    """A Case holding only what is given (no facts: no rule that reads a stand-in reads
    them)."""
    return Case(case_id, subject, community, dict(dims or {}), dict(milestones or {}), (),
                (), **figures)


def _counted(features: Iterable[F], make: Callable[[F], Case]) -> list[Case]:
    """One stand-in per distinct combination of features, as many times as it comes."""
    members: list[Case] = []
    for feature, count in Counter(features).items():
        members += [make(feature)] * count
    return members


def _in_groups(table: CaseTable, group_by: tuple[str, ...], tz: tzinfo | None,
               features: Sequence[F], make: Callable[[F], Case]
               ) -> list[tuple[Key, list[Case]]]:
    """The stand-ins of each group (ungrouped: the one group ``()``, even of no cases),
    the groups in order (``sort_key``)."""
    made: dict[F, Case] = {}

    def once(feature: F) -> Case:
        found = made.get(feature)
        if found is None:
            found = made[feature] = make(feature)
        return found

    if not group_by:
        return [((), _counted(features, once))]
    return [(key, _counted(map(features.__getitem__, rows), once))
            for key, rows in _members(table, group_by, tz)]


# Groups ------------------------------------------------------------------------------


def group_keys(table: CaseTable, group_by: Sequence[str], tz: tzinfo | None) -> list[Key]:
    """Each case's group (``group_key``)."""
    if not group_by:
        return [()] * table.size
    columns = []
    for name in group_by:
        if name in TIME_BUCKETS:
            columns.append(_time_buckets(table, name, tz))
        elif name == "community":
            columns.append(table.communities)
        else:
            columns.append(table.column(dimension(name)))
    return list(zip(*columns, strict=True))


def _time_buckets(table: CaseTable, name: str, tz: tzinfo | None) -> list[str]:
    """Each case's day, week, month or year: of its start's local date in ``tz``, else in
    its own recorded offset."""
    starts = table.column(START)
    if tz is None:
        days = [(at + offset) // _DAY
                for at, offset in zip(starts, table.column(OFFSET), strict=True)]
    elif isinstance(tz, timezone):  # a fixed offset
        shift = tz.utcoffset(None) // _US
        days = [(at + shift) // _DAY for at in starts]
    else:
        epoch_day = _MIDNIGHT_1970.toordinal()
        days = [(EPOCH + timedelta(microseconds=at)).astimezone(tz).toordinal() - epoch_day
                for at in starts]
    # Of each local date (days since 1970-01-01), worked out once.
    labels = {day: bucket_of(name, _MIDNIGHT_1970 + timedelta(days=day)) for day in set(days)}
    return list(map(labels.__getitem__, days))


# Metrics -----------------------------------------------------------------------------


def _reasons(definition: MetricDefinition, table: CaseTable) -> list[str | None]:
    """Why the definition's filter leaves out each case (None: it applies)."""
    return table.remembered(("reasons", definition.subject, definition.applies_to),
                            lambda: _excluded(definition.subject, definition.applies_to,
                                              table))


def _excluded(subject: Subject, applies_to: CaseFilter, table: CaseTable
              ) -> list[str | None]:
    dims = [d for d in _FILTERED if d in DIMENSIONS[subject]]
    requires = applies_to.requires
    # What every filter reads (drill, status, closure, the dimensions a filter lists),
    # once per table; then whether each case has the milestones this one requires.
    features: list[tuple[Any, ...]] = table.remembered("filtered", lambda: list(zip(
        table.column("drill"), table.column("status"), table.column("closure"),
        *(table.column(dimension(d)) for d in dims), strict=True)))
    if requires:
        features = list(zip(features, *(_has(table, m) for m in requires), strict=True))
    reasons: dict[tuple[Any, ...], str | None] = {}
    for feature in set(features):
        (drill, status, closure, *values), *has = feature if requires else (feature,)
        case = _stand_in(subject, {m: EPOCH for m, present in zip(requires, has, strict=True)
                                   if present},
                         dims=dict(zip(dims, values, strict=True)), drill=drill,
                         closure=closure, status=status)
        reasons[feature] = applies_to.why_excluded(case)
    return list(map(reasons.__getitem__, features))


def _has(table: CaseTable, name: str) -> list[bool]:
    """Whether each case has the milestone ``name``."""
    return table.remembered(("has", name), lambda: list(
        map(ne, table.times(milestone(name)), repeat(NONE))))


def _members(table: CaseTable, group_by: tuple[str, ...], tz: tzinfo | None
             ) -> list[tuple[Key, Sequence[int]]]:
    """The rows of each group, the groups in order (``sort_key``)."""
    def work() -> list[tuple[Key, Sequence[int]]]:
        if not group_by:
            return [((), range(table.size))] if table.size else []
        members: dict[Key, list[int]] = {}
        for row, key in enumerate(group_keys(table, group_by, tz)):
            found = members.get(key)
            if found is None:
                members[key] = [row]
            else:
                found.append(row)
        return [(key, members[key]) for key in sorted(members, key=sort_key)]
    return table.remembered(("members", group_by, tz), work)


def _graded(definition: MetricDefinition, table: CaseTable, group_by: tuple[str, ...],
            tz: tzinfo | None) -> list[tuple[Key, list[int], dict[str, int]]]:
    """Each group's cases the definition applies to, and how many it leaves out, by
    reason (of definitions with the same filter, worked out once)."""
    def work() -> list[tuple[Key, list[int], dict[str, int]]]:
        reasons = _reasons(definition, table)
        found = []
        for key, rows in _members(table, group_by, tz):
            admitted = list(compress(rows, map(is_, map(reasons.__getitem__, rows),
                                               repeat(None))))
            excluded = ({} if len(admitted) == len(rows)
                        else dict(Counter(filter(None, map(reasons.__getitem__, rows)))))
            found.append((key, admitted, excluded))
        return found
    return table.remembered(("graded", definition.subject, definition.applies_to, group_by,
                             tz), work)


def _durations(definition: MetricDefinition, table: CaseTable, rows: Sequence[int]
               ) -> tuple[list[float], int]:
    """The durations measured (seconds) over the cases ``rows``, and their units
    (``MetricDefinition.units``: each case, or each reopening)."""
    if definition.per == "case":
        starts = table.times(milestone(definition.start))
        ends = table.times(milestone(definition.end))
        began, ended = _has(table, definition.start), _has(table, definition.end)
        if len(rows) < table.size:  # a group, or the cases a filter admits: pick theirs
            starts, ends = list(map(starts.__getitem__, rows)), list(map(ends.__getitem__, rows))
            began, ended = list(map(began.__getitem__, rows)), list(map(ended.__getitem__, rows))
        return list(map(truediv, compress(map(sub, ends, starts), map(and_, began, ended)),
                        repeat(1_000_000))), len(rows)
    cycles, keys = table.extra(CYCLES), table.keys
    values: list[float] = []
    units = 0
    for row in rows:
        for cycle in cycles.get(keys[row], ()):
            units += 1
            start, end = cycle.get(definition.start), cycle.get(definition.end)
            if start is not None and end is not None:
                values.append((end - start) / 1_000_000)
    return values, units


def metric_report(definition: MetricDefinition, table: CaseTable, *, period: Period,
                  group_by: tuple[str, ...] = (), tz: tzinfo | None = None) -> MetricReport:
    """``resilience.metrics.reports.metric_report`` of the table's cases."""
    rows: list[MetricSummary] = []
    left_out = []
    for key, admitted, excluded in _graded(definition, table, group_by, tz):
        left_out.append(excluded)
        if admitted:
            values, units = _durations(definition, table, admitted)
            rows.append(summarise_seconds(definition, values, units,
                                          dict(zip(group_by, key, strict=True)),
                                          excluded=excluded))
    return MetricReport(definition, period, group_by, tuple(rows), tally(left_out))


# Service KPIs, counts and rates --------------------------------------------------------


def _service_features(table: CaseTable) -> list[tuple[Any, ...]]:
    """What ``service_summary`` reads of each order: whether it has its completion and
    first completion, how its completion compares with the time expected, its closure,
    reopenings, rating and status."""
    completed, expected = table.times(milestone("completed")), table.times(milestone("expected"))
    return list(zip(map(ne, completed, repeat(NONE)),
                    map(ne, table.times(milestone("first_completed")), repeat(NONE)),
                    map(le, completed, expected), table.column("closure"),
                    table.column("reopened"), table.column("rating"), table.column("status"),
                    strict=True))


def _service_case(feature: tuple[Any, ...]) -> Case:
    completed, first, on_time, closure, reopened, rating, status = feature
    milestones = {"expected": EPOCH if on_time else EPOCH - _US}
    if completed:
        milestones["completed"] = EPOCH
    if first:
        milestones["first_completed"] = EPOCH
    return _stand_in("order", milestones, closure=closure, reopened=reopened, rating=rating,
                     status=status)


def service_report(table: CaseTable, *, group_by: tuple[str, ...] = (),
                   tz: tzinfo | None = None) -> tuple[ServiceSummary, ...]:
    """``service_report`` of the table's orders."""
    return service_rows(_in_groups(table, group_by, tz, _service_features(table),
                                   _service_case), group_by)


def _count_features(table: CaseTable) -> list[tuple[Any, ...]]:
    """What ``counts`` reads of each case: an incident's drill, type, severity and
    reopenings; whether an order has its completion, and its closure."""
    if table.subject == "incident":
        return list(zip(table.column("drill"), table.column(dimension("incident_type")),
                        table.column(dimension("severity")), table.column("reopened"),
                        strict=True))
    return list(zip(map(ne, table.times(milestone("completed")), repeat(NONE)),
                    table.column("closure"), strict=True))


def _count_case(subject: Subject) -> Callable[[tuple[Any, ...]], Case]:
    def make(feature: tuple[Any, ...]) -> Case:
        if subject == "incident":
            drill, kind, severity, reopened = feature
            return _stand_in(subject, dims={"incident_type": kind, "severity": severity},
                             drill=drill, reopened=reopened)
        completed, closure = feature
        return _stand_in(subject, {"completed": EPOCH} if completed else {},
                         closure=closure)
    return make


def count_report(tables: Sequence[CaseTable], activities: Iterable[Activity], *,
                 group_by: tuple[str, ...] = (), tz: tzinfo | None = None
                 ) -> tuple[Counts, ...]:
    """``count_report`` of the tables' cases and the activities."""
    keyed: dict[Key, list[Case]] = {}
    for table in tables:
        if table.size:
            for key, members in _in_groups(table, group_by, tz, _count_features(table),
                                           _count_case(table.subject)):
                keyed.setdefault(key, []).extend(members)
    return count_rows(keyed, activities, group_by=group_by, tz=tz)


def _rate_features(definitions: Sequence[RateDefinition], table: CaseTable
                   ) -> list[tuple[Any, ...]]:
    """What the rates read of each order: when each response came after its placement,
    up to the least limit asked it is within; its status, "resolved?" and rating."""
    figures = [table.column("status"), table.column("resolved"), table.column("rating")]
    if not any(d.kind == "response" for d in definitions):
        return list(zip(*figures, strict=True))
    limits = sorted({d.limit // _US for d in definitions if d.limit is not None})
    past = limits[-1] + 1

    def within(delay: int) -> int:
        """The least limit the delay is within (beyond them all: past the last)."""
        return limits[bisect.bisect_left(limits, delay)] if delay <= limits[-1] else past

    starts = table.times(START)
    answered = [[None if at == NONE else within(at - start)
                 for at, start in zip(table.times(milestone(m)), starts, strict=True)]
                for m in RESPONSES]
    return list(zip(*answered, *figures, strict=True))


def _rate_case(feature: tuple[Any, ...]) -> Case:
    *responses, status, resolved, rating = feature
    milestones = {"placed": EPOCH}
    milestones.update((m, EPOCH + timedelta(microseconds=delay))
                      for m, delay in zip(RESPONSES, responses, strict=False)
                      if delay is not None)
    return _stand_in("order", milestones, status=status, resolved_by_resident=resolved,
                     rating=rating)


def rate_report(definitions: Sequence[RateDefinition], table: CaseTable, *, period: Period,
                group_by: tuple[str, ...] = (), tz: tzinfo | None = None) -> RateReport:
    """``rate_report`` of the table's orders."""
    return rate_rows(definitions, _in_groups(table, group_by, tz,
                                             _rate_features(definitions, table), _rate_case),
                     period=period, group_by=group_by)


def scorecard_figures(tables: Mapping[Subject, CaseTable],
                      rates: Sequence[RateDefinition], activities: Sequence[Activity],
                      scope: Mapping[str, str | None]
                      ) -> tuple[ServiceSummary, Counts, RateReport]:
    """A scorecard's service summary, counts and rates of the tables' cases."""
    orders = tables["order"]
    service = service_summary(_counted(_service_features(orders), _service_case), scope)
    count = counts([case for table in tables.values()
                    for case in _counted(_count_features(table), _count_case(table.subject))],
                   activities, scope)
    rated = rate_report(rates, orders, period=Period())
    return service, count, rated


# Leagues -------------------------------------------------------------------------------


def league(definition: MetricDefinition | RateDefinition, table: CaseTable,
           scopes: Sequence[tuple[str, str | None, str]], *, period: Period, min_sample: int,
           last: int | None) -> LeagueTable[Any]:
    """``league_table`` of the table's cases: the latest ``last`` it counts of each scope,
    as stand-ins holding every figure."""
    if isinstance(definition, MetricDefinition):
        counted = [reason is None for reason in _reasons(definition, table)]
    else:
        judged: dict[str, bool] = {}
        counted = []
        for status in table.column("status"):
            if status not in judged:
                judged[status] = definition.judge(_stand_in("order", status=status)) is not None
            counted.append(judged[status])
    keys, starts = table.keys, table.column(START)
    grids, communities = table.column(dimension("grid")), table.communities
    by_scope: dict[tuple[str, str | None], list[int]] = {}
    # Latest last, as league_table orders each scope's cases: by start, then case id.
    for _, _, row in sorted(zip(starts, keys, range(table.size), strict=True)):
        if counted[row]:
            scope = (communities[row], grids[row])
            by_scope.setdefault(scope, []).append(row)
            by_scope.setdefault((scope[0], None), []).append(row)
    chosen = sorted({row for rows in by_scope.values()
                     for row in (rows if last is None else rows[-last:])})
    latest = table.only(chosen)
    return league_table(definition, _whole(latest, range(latest.size)), scopes,
                        period=period, min_sample=min_sample, last=last)


def _whole(table: CaseTable, rows: Sequence[int]) -> list[Case]:
    """Stand-ins holding every figure of the cases ``rows`` but their facts (and their
    first cycle, which no report reads)."""
    subject, keys = table.subject, table.keys
    dims = [(d, table.column(dimension(d))) for d in DIMENSIONS[subject] if d != "community"]
    times = [(name[len(TIME):], table.column(name))
             for name in sorted(table.names() | {milestone(RECOVERED)})
             if name.startswith(TIME) and name not in (START, OFFSET)]
    start = "detected" if subject == "incident" else "placed"
    figures = {name: table.column(column) for name, column in (
        ("drill", "drill"), ("closure", "closure"), ("reopened", "reopened"),
        ("rating", "rating"), ("status", "status"), ("resolved_by_resident", "resolved"))}
    cycles, communities = table.extra(CYCLES), table.communities

    def moment(at: int) -> datetime:
        return EPOCH + timedelta(microseconds=at)

    found = []
    for row in rows:
        milestones = {name: moment(values[row]) for name, values in times
                      if values[row] is not None}
        milestones[start] = table.start(row)
        found.append(_stand_in(
            subject, milestones, dims={d: values[row] for d, values in dims},
            community=communities[row], case_id=keys[row],
            cycles=({}, *({name: moment(at) for name, at in cycle.items()}
                          for cycle in cycles.get(keys[row], ()))),
            **{name: values[row] for name, values in figures.items()}))
    return found
