"""Metrics, service KPIs, counts and data quality equal a naive oracle over the raw events.

The oracle reads each aggregate's events (``engine.events``), applies time
corrections by version, and derives every milestone, duration and statistic
plainly from the rules as docs/metrics.md and resilience.metrics.cases,
definitions and stats state them. It uses none of the library's Case, report or statistics code, so
an agreement on random histories means the views, the case reader and the
reports implement the stated rules.
"""

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import histories as hist
from histories import PROVIDERS, World, apply_history, setup_world
from resilience import Engine, ManualClock, ResilienceError
from resilience.domain.escalated import is_watch
from resilience.metrics import BUILT_IN, MetricDefinition, MetricSummary, Period
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE

from conftest import T0

EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "30"))
"""Examples per property (set ORACLE_EXAMPLES higher for a longer hunt)."""
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# The oracle --------------------------------------------------------------------------------

SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400}

# "The earliest ..." milestones, each the earliest effective time of one kind of fact: of
# the response (what a reopening starts again) in the first cycle, of the others anywhere.
INCIDENT_RESPONSE = {
    "first_dispatched": "ResponderDispatched", "first_en_route": "ResponderEnRoute",
    "first_on_scene": "ResponderOnScene", "contained": "Contained",
}
INCIDENT_EARLIEST = {
    "reported": "Reported", "acknowledged": "Acknowledged",
    "commander_assigned": "CommanderAssigned", "consent_requested": "ConsentRequested",
    "consent_granted": "ConsentGranted", "exigent_entry": "ExigentEntryAuthorised",
    "forced_entry": "ForcedEntryMade", "source_found": "SourceFound",
    "recovery_linked": "RecoveryLinked",
}
ORDER_RESPONSE = {"first_dispatched": "Dispatched", "first_completed": "Completed"}
ORDER_EARLIEST = {
    "accepted": "Accepted", "rejected": "Rejected", "started": "Started",
    "cancelled": "Cancelled",
}
# The pairs the data-quality report expects in this order (resilience.metrics.quality).
EXPECTED_ORDER = {
    "incident": [("detected", "reported"), ("reported", "acknowledged"),
                 ("acknowledged", "first_dispatched"), ("first_on_scene", "contained"),
                 ("consent_requested", "consent_granted"), ("contained", "resolved"),
                 ("resolved", "closed")],
    "order": [("placed", "first_dispatched"), ("first_dispatched", "first_completed"),
              ("placed", "expected")],
}


@dataclass
class Fact:
    version: int
    name: str
    at: datetime
    """Effective time: the last correction of this version, else the time recorded with it."""
    original: datetime
    recorded: datetime
    event: Any


@dataclass
class OracleCase:
    key: str
    subject: str
    community: str
    dims: dict[str, str | None]
    drill: bool
    milestones: dict[str, datetime]
    facts: list[Fact]
    reopened: int
    closure: str | None
    rating: int | None
    status: str
    cycles: list[dict[str, datetime]]
    """Every cycle, in the order they happened (the first response first, without a
    ``reopened``): its milestones."""

    @property
    def start(self) -> datetime:
        return self.milestones["detected" if self.subject == "incident" else "placed"]


@dataclass
class OracleActivity:
    community: str
    grid: str | None
    participants: int
    at: datetime


def read_facts(engine: Engine, aggregate_id: UUID) -> list[Fact]:
    events: list[Any] = list(engine.events(aggregate_id))
    effective = {e.originator_version: e.occurred_at for e in events}
    for event in events:  # in version order, so the last correction of a fact wins
        if type(event).__name__ == "TimeCorrected":
            effective[event.corrects] = event.corrected_to
    return [Fact(e.originator_version, type(e).__name__, effective[e.originator_version],
                 e.occurred_at, e.timestamp, e) for e in events]


def of_kind(facts: Iterable[Fact], name: str) -> list[Fact]:
    return [f for f in facts if f.name == name]


def earliest(facts: Iterable[Fact], name: str) -> Fact | None:
    """The smallest effective time; of equal ones, the one recorded first."""
    found = of_kind(facts, name)
    return min(found, key=lambda f: (f.at, f.version)) if found else None


def happened(fact: Fact) -> tuple[datetime, int]:
    """The order things happened in: effective time, then recording order."""
    return fact.at, fact.version


def latest(facts: Iterable[Fact], name: str) -> Fact | None:
    """The one that happened last."""
    found = of_kind(facts, name)
    return max(found, key=happened) if found else None


def reopenings(facts: list[Fact]) -> list[Fact]:
    return sorted(of_kind(facts, "Reopened"), key=happened)


def between(facts: list[Fact], after: Fact | None, before: Fact | None) -> list[Fact]:
    """The facts that happened after ``after`` and before ``before`` (None: no bound)."""
    return [f for f in facts if (after is None or happened(f) > happened(after))
            and (before is None or happened(f) < happened(before))]


def cycles(facts: list[Fact]) -> list[tuple[Fact | None, list[Fact]]]:
    """(the reopening that began it, its facts) for the first response and each reopening."""
    starts: list[Fact | None] = [None, *reopenings(facts)]
    return [(start, between(facts, start, end))
            for start, end in zip(starts, [*starts[1:], None], strict=True)]


def cycle_milestones(start: Fact | None, facts: list[Fact], earliest_of: dict[str, str],
                     latest_of: dict[str, str]) -> dict[str, datetime]:
    found = {} if start is None else {"reopened": start.at}
    for milestone, name in earliest_of.items():
        if (fact := earliest(facts, name)) is not None:
            found[milestone] = fact.at
    for milestone, name in latest_of.items():
        if (fact := latest(facts, name)) is not None:
            found[milestone] = fact.at
    return found


def incident_case(key: str, facts: list[Fact]) -> OracleCase:
    detected = facts[0].event
    milestones = {"detected": facts[0].at}
    (_, first_cycle), *later = cycles(facts)
    milestones |= cycle_milestones(None, first_cycle, INCIDENT_RESPONSE, {})  # first response
    milestones |= cycle_milestones(None, facts, INCIDENT_EARLIEST, {})  # anywhere in the case
    notified = [f for f in of_kind(facts, "ActionTaken")
                if f.event.action.value == "residents_notified"]
    if notified:
        milestones["residents_notified"] = min(notified, key=lambda f: (f.at, f.version)).at
    # The first *dispatched* responder to arrive, and that responder's own chain.
    dispatched = {f.event.responder_id: f for f in of_kind(first_cycle, "ResponderDispatched")}
    arrivals = [f for f in of_kind(first_cycle, "ResponderOnScene")
                if f.event.responder_id in dispatched]
    if arrivals:
        first = min(arrivals, key=lambda f: (f.at, f.version))
        who = first.event.responder_id
        milestones["first_unit_dispatched"] = dispatched[who].at
        milestones["first_unit_on_scene"] = first.at
        en_route = [f for f in of_kind(first_cycle, "ResponderEnRoute")
                    if f.event.responder_id == who]
        if en_route:
            milestones["first_unit_en_route"] = en_route[0].at
    if later:
        milestones["reopened"] = reopenings(facts)[0].at
    standing = cycles(facts)[-1][1]
    resolved, closed = latest(standing, "Resolved"), latest(standing, "Closed")
    if resolved is not None:
        milestones["resolved"] = resolved.at
    if closed is not None:
        milestones["closed"] = closed.at
    classified = max((f for f in facts if f.name in ("Detected", "Reclassified")),
                     key=happened).event
    ladder = [("closed", closed is not None), ("resolved", resolved is not None),
              ("contained", bool(of_kind(standing, "Contained"))),
              ("on_scene", bool(of_kind(standing, "ResponderOnScene"))),
              ("dispatched", bool(of_kind(standing, "ResponderDispatched"))),
              ("reopened", bool(later)), ("acknowledged", bool(of_kind(facts, "Acknowledged"))),
              ("reported", bool(of_kind(facts, "Reported"))), ("detected", True)]
    return OracleCase(
        key, "incident", str(detected.community_id),
        {"grid": detected.location.grid, "incident_type": classified.incident_type.value,
         "severity": classified.severity.value},
        bool(detected.drill), milestones, facts, len(later),
        closed.event.reason.value if closed is not None else None, None,
        next(status for status, reached in ladder if reached),
        [cycle_milestones(start, cycle,
                          {"first_dispatched": "ResponderDispatched",
                           "first_on_scene": "ResponderOnScene", "contained": "Contained"},
                          {"resolved": "Resolved", "closed": "Closed"})
         for start, cycle in cycles(facts)])


ORDER_MOVES = {"Placed": "placed", "Accepted": "accepted", "Rejected": "rejected",
               "Dispatched": "dispatched", "Started": "in_progress", "Completed": "completed",
               "Reopened": "reopened", "Cancelled": "cancelled"}


def order_case(key: str, facts: list[Fact]) -> OracleCase:
    placed = facts[0].event
    milestones = {"placed": facts[0].at, "expected": placed.expected_by}
    (_, first_cycle), *later = cycles(facts)
    milestones |= cycle_milestones(None, first_cycle, ORDER_RESPONSE, {})  # first response
    milestones |= cycle_milestones(None, facts, ORDER_EARLIEST, {})  # anywhere in the case
    if later:
        milestones["reopened"] = reopenings(facts)[0].at
    last_dispatch = latest(facts, "Dispatched")
    if last_dispatch is not None:
        milestones["dispatched"] = last_dispatch.at
    # A reopening undoes the completion (and so its rating); a new one may follow.
    standing = cycles(facts)[-1][1]
    completed, rated = latest(standing, "Completed"), latest(standing, "Rated")
    if completed is not None:
        milestones["completed"] = completed.at
    if rated is not None:
        milestones["rated"] = rated.at
    provider = last_dispatch.event.provider if last_dispatch is not None else None
    last_move = max((f for f in facts if f.name in ORDER_MOVES), key=happened)
    return OracleCase(
        key, "order", str(placed.community_id),
        {"grid": placed.grid_id,
         "zone_type": placed.zone_type.value if placed.zone_type is not None else None,
         "category": placed.category, "item": placed.item,
         "provider": provider.provider_id if provider is not None else None,
         "provider_kind": provider.kind.value if provider is not None else None},
        False, milestones, facts, len(later),
        completed.event.outcome.value if completed is not None else None,
        rated.event.score if rated is not None else None, ORDER_MOVES[last_move.name],
        [cycle_milestones(start, cycle, {"first_dispatched": "Dispatched"},
                          {"completed": "Completed"})
         for start, cycle in cycles(facts)])


def oracle_cases(engine: Engine, world: World) -> list[OracleCase]:
    incidents = [incident_case(str(i), read_facts(engine, i)) for i in world.incidents]
    orders = [order_case(str(o), read_facts(engine, o)) for o in world.orders]
    by_key = {order.key: order for order in orders}
    for incident in incidents:
        if (at := recovered(engine, incident, by_key)) is not None:
            incident.milestones["recovered"] = at
    return incidents + orders


def recovered(engine: Engine, incident: OracleCase, orders: dict[str, OracleCase]
              ) -> datetime | None:
    """docs/review.md's recovery rule, plainly: the latest time a linked order or item was
    done (an order's standing completion rated, or completed if the desk placed it; an
    item's completion in force), once every one is done or dropped (cancelled or
    rejected)."""
    done: list[datetime] = []
    for link in of_kind(incident.facts, "RecoveryLinked"):
        linked = link.event.linked_id
        order = None
        if link.event.linked_kind.value == "order":
            order = orders.get(str(linked)) or order_case(str(linked), read_facts(engine, linked))
        if order is None:  # an improvement item: the last step of its life decides
            life = [f for f in read_facts(engine, linked)
                    if f.name in ("Planned", "Started", "Completed", "Cancelled", "Reopened")]
            last = max(life, key=happened)
            if last.name == "Completed":
                done.append(last.at)
            elif last.name != "Cancelled":
                return None
        elif order.status in ("cancelled", "rejected"):
            continue
        elif order.status != "completed":
            return None
        elif "rated" in order.milestones:
            done.append(order.milestones["rated"])
        elif order.facts[0].event.actor.role.value != "resident":
            done.append(order.milestones["completed"])
        else:
            return None
    return max(done, default=None)


def oracle_activities(engine: Engine, world: World) -> list[OracleActivity]:
    """Every activity, with its participants as last corrected (in recording order)."""
    found = []
    for community in world.communities:
        facts = read_facts(engine, community)
        counted = {f.version: f.event.participants for f in of_kind(facts, "ActivityHeld")}
        for fact in of_kind(facts, "ParticipantsCorrected"):
            counted[fact.event.corrects] = fact.event.participants
        for fact in of_kind(facts, "ActivityHeld"):
            found.append(OracleActivity(str(community), fact.event.grid_id,
                                        counted[fact.version], fact.at))
    return found


def in_period(moment: datetime, period: Period) -> bool:
    after_start = period.start is None or moment >= period.start
    before_end = period.end is None or moment < period.end
    return after_start and before_end


def dim_value(case: OracleCase, name: str) -> str | None:
    start = case.start  # time buckets: in the offset the start was recorded with
    if name == "day":
        return f"{start.year}-{start.month:02d}-{start.day:02d}"
    if name == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if name == "month":
        return f"{start.year}-{start.month:02d}"
    if name == "year":
        return str(start.year)
    if name == "community":
        return case.community
    return case.dims[name]


def reason(definition: MetricDefinition, case: OracleCase) -> str | None:
    """Why the definition leaves a case of its subject out, as docs/metrics.md words it (the
    first that applies: drill, dimension, status, closure or outcome, required milestone)."""
    wanted = definition.applies_to
    if case.drill and not wanted.include_drills:
        return "drill"
    for dim, allowed in [("incident_type", wanted.incident_types),
                         ("severity", wanted.severities), ("category", wanted.categories),
                         ("item", wanted.items)]:
        if allowed and case.dims.get(dim) not in allowed:
            return f"{dim} {case.dims.get(dim) or 'unknown'}"
    if case.status in wanted.exclude_statuses:
        return case.status
    if case.subject == "incident" and case.closure in wanted.exclude_closures:
        return f"closed as {case.closure}"
    if case.subject == "order" and case.closure in wanted.exclude_outcomes:
        return f"outcome {case.closure}"
    return next((f"no {m}" for m in wanted.requires if m not in case.milestones), None)


def applies(definition: MetricDefinition, case: OracleCase) -> bool:
    return case.subject == definition.subject and reason(definition, case) is None


def between_milestones(definition: MetricDefinition, milestones: dict[str, datetime]
                       ) -> float | None:
    start = milestones.get(definition.start)
    end = milestones.get(definition.end)
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / SECONDS[definition.unit]


def durations(definition: MetricDefinition, case: OracleCase) -> list[float | None]:
    """One per measured unit: the case, or each of its reopenings (cycles after the first)."""
    if definition.per == "reopening":
        return [between_milestones(definition, cycle) for cycle in case.cycles[1:]]
    return [between_milestones(definition, case.milestones)]


def duration(definition: MetricDefinition, case: OracleCase) -> float | None:
    (value,) = durations(definition, case)
    return value


def plain_median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    if n % 2 == 1:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def nearest_rank(values: Sequence[float], p: float) -> float | None:
    """The smallest value that at least p percent of the values do not exceed."""
    ordered = sorted(values)
    for value in ordered:
        if sum(1 for v in ordered if v <= value) * 100 >= p * len(ordered):
            return value
    return None


@dataclass
class Expected:
    cases: int
    measured: int
    median: float | None
    p90: float | None
    max: float | None
    compliance: float | None
    target_met: bool | None


def expected_summary(definition: MetricDefinition, members: list[OracleCase]) -> Expected:
    units = [v for c in members for v in durations(definition, c)]
    values = [v for v in units if v is not None]
    compliance = target_met = None
    if definition.target is not None and values:
        met = sum(1 for v in values if v <= definition.target)
        compliance = met / len(values)
        target_met = met * 100 >= definition.percentile * len(values)
    return Expected(len(units), len(values), plain_median(values), nearest_rank(values, 90),
                    max(values) if values else None, compliance, target_met)


Key = tuple[str | None, ...]


def grouped(cases: Iterable[OracleCase], group_by: Sequence[str]) -> dict[Key, list[OracleCase]]:
    groups: dict[Key, list[OracleCase]] = {}
    for case in cases:
        groups.setdefault(tuple(dim_value(case, g) for g in group_by), []).append(case)
    return groups


def ordered_keys(keys: Iterable[Key]) -> list[Key]:
    """Groups in order of their values, unknown last (what every report promises)."""
    return sorted(keys, key=lambda k: [(v is None, v or "") for v in k])


def approx(value: float | None) -> Any:
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-9)


# Checks ------------------------------------------------------------------------------------


def check_metric(engine: Engine, cases: list[OracleCase], definition: MetricDefinition,
                 period: Period, group_by: tuple[str, ...], community: UUID | None = None) -> None:
    scoped = [c for c in cases if applies(definition, c) and in_period(c.start, period)
              and (community is None or c.community == str(community))]
    want = grouped(scoped, group_by)
    report = engine.metrics(definition, period, group_by, community=community)
    got: dict[Key, MetricSummary] = {}
    for row in report.rows:
        assert list(row.group) == list(group_by)
        got[tuple(row.group.values())] = row
    where = f"{definition.name} by {group_by or 'nothing'} over {period} in {community or 'all'}"
    assert list(got) == ordered_keys(want), where
    left_out: dict[Key, dict[str, int]] = {}
    for case in cases:
        if (case.subject == definition.subject and in_period(case.start, period)
                and (community is None or case.community == str(community))
                and (why := reason(definition, case)) is not None):
            counted = left_out.setdefault(tuple(dim_value(case, g) for g in group_by), {})
            counted[why] = counted.get(why, 0) + 1
    for key, members in want.items():
        row, expected = got[key], expected_summary(definition, members)
        assert row.excluded == left_out.get(key, {}), (where, key)
        assert (row.cases, row.measured) == (expected.cases, expected.measured), (where, key)
        assert row.median == approx(expected.median), (where, key)
        assert row.p90 == approx(expected.p90), (where, key)
        assert row.max == approx(expected.max), (where, key)
        assert row.compliance == approx(expected.compliance), (where, key)
        assert row.target_met == expected.target_met, (where, key)


INCIDENT_GROUPINGS: list[tuple[str, ...]] = [
    (), ("grid",), ("incident_type",), ("month",), ("community", "severity")]
ORDER_GROUPINGS: list[tuple[str, ...]] = [
    (), ("grid",), ("category",), ("provider",), ("month",), ("community", "item")]


def check_cases(engine: Engine, cases: list[OracleCase]) -> None:
    """Each case's milestones, status, reopenings and cycles are the oracle's."""
    got = {c.case_id: c for c in engine.reports.cases()}
    for case in cases:
        mine = got[case.key]
        assert dict(mine.milestones) == case.milestones, case.key
        assert (mine.status, mine.reopened) == (case.status, case.reopened), case.key
        assert [dict(cycle) for cycle in mine.cycles] == case.cycles, case.key


def check_every_metric(engine: Engine, world: World, period: Period) -> list[OracleCase]:
    cases = oracle_cases(engine, world)
    check_cases(engine, cases)
    for definition in BUILT_IN:
        groupings = INCIDENT_GROUPINGS if definition.subject == "incident" else ORDER_GROUPINGS
        for group_by in groupings:
            check_metric(engine, cases, definition, Period(), group_by)
        for group_by in [(), ("day",), ("week", "year")]:
            check_metric(engine, cases, definition, period, group_by)
        for community in world.communities:
            check_metric(engine, cases, definition, period, ("grid",), community)
    return cases


def check_service(engine: Engine, world: World, period: Period) -> None:
    orders = [c for c in oracle_cases(engine, world)
              if c.subject == "order" and in_period(c.start, period)]
    for group_by in [(), ("grid",), ("provider",)]:
        want = grouped(orders, group_by)
        got = engine.service_kpis(period, group_by)
        assert [tuple(s.group.values()) for s in got] == ordered_keys(
            want if group_by else {()})  # ungrouped: one row, a zero one over no orders
        for summary in got:
            members = want.get(tuple(summary.group.values()), [])
            completed = [c for c in members if "completed" in c.milestones]
            fixed = [c for c in completed if c.closure == "fixed"]
            not_fixed = [c for c in completed if c.closure == "not_fixed"]
            ever_completed = [c for c in members if of_kind(c.facts, "Completed")]
            reopened = [c for c in members if c.reopened > 0]
            on_time = [c for c in completed
                       if c.milestones["completed"] <= c.milestones["expected"]]
            scores = [c.rating for c in members if c.rating is not None]
            finished = [c for c in members if c.status in ("completed", "cancelled", "rejected")]

            def rate(part: list[OracleCase], whole: list[OracleCase]) -> Any:
                return approx(len(part) / len(whole)) if whole else None

            assert summary.orders == len(members)
            assert summary.open == len(members) - len(finished)
            assert summary.rejected == sum(1 for c in members if c.status == "rejected")
            assert summary.cancelled == sum(1 for c in members if c.status == "cancelled")
            assert (summary.completed, summary.fixed, summary.not_fixed) == (
                len(completed), len(fixed), len(not_fixed))
            assert summary.fixed_rate == rate(fixed, completed)
            assert summary.not_fixed_rate == rate(not_fixed, completed)
            assert summary.reopened == len(reopened)
            assert summary.reopen_rate == rate(reopened, ever_completed)
            assert summary.on_time == len(on_time)
            assert summary.on_time_rate == rate(on_time, completed)
            assert summary.rated == len(scores)
            assert summary.rating_mean == approx(sum(scores) / len(scores) if scores else None)
            assert summary.ratings == {s: scores.count(s) for s in range(1, 6)}


def check_counts(engine: Engine, world: World, period: Period) -> None:
    cases = [c for c in oracle_cases(engine, world) if in_period(c.start, period)]
    activities = [a for a in oracle_activities(engine, world) if in_period(a.at, period)]
    for group_by in [(), ("grid",), ("month",), ("community", "grid")]:
        def activity_key(a: OracleActivity, group_by: tuple[str, ...] = group_by) -> Key:
            return tuple(f"{a.at.year}-{a.at.month:02d}" if g == "month" else
                         a.community if g == "community" else a.grid for g in group_by)

        want_cases = grouped(cases, group_by)
        want_activities: dict[Key, list[OracleActivity]] = {}
        for activity in activities:
            want_activities.setdefault(activity_key(activity), []).append(activity)
        got = engine.counts(period, group_by)
        assert [tuple(c.group.values()) for c in got] == ordered_keys(
            set(want_cases) | set(want_activities) if group_by else {()})
        for count in got:
            key = tuple(count.group.values())
            members = want_cases.get(key, [])
            held = want_activities.get(key, [])
            incidents = [c for c in members if c.subject == "incident" and not c.drill]
            by_type: dict[str, int] = {}
            by_severity: dict[str, int] = {}
            for case in incidents:
                kind, severity = case.dims["incident_type"], case.dims["severity"]
                assert kind is not None
                assert severity is not None
                by_type[kind] = by_type.get(kind, 0) + 1
                by_severity[severity] = by_severity.get(severity, 0) + 1
            resolved = sum(1 for c in members if c.subject == "order"
                           and "completed" in c.milestones and c.closure == "fixed")
            participants = sum(a.participants for a in held)
            assert count.incidents == len(incidents)
            assert count.by_type == by_type
            assert list(count.by_type) == sorted(by_type)
            assert count.by_severity == by_severity
            assert count.drills == sum(1 for c in members if c.subject == "incident" and c.drill)
            assert count.orders == sum(1 for c in members if c.subject == "order")
            assert count.requests_resolved == resolved
            assert count.activities_held == len(held)
            assert count.activity_participants == participants
            assert count.person_times_served == participants + resolved


STEPS = {"incident": {"Resolved", "Closed", "Reopened"}, "order": {*ORDER_MOVES, "Rated"}}
CLOSING = {"incident": {"Closed"}, "order": {"Completed", "Cancelled", "Rejected"}}


def amendments(case: OracleCase) -> set[tuple[Any, ...]]:
    """Every fact but a step (or a recovery link: recovery follows the response) recorded
    while the case stood closed, and what it changed."""
    found = set()
    closure: Fact | None = None
    times = {f.version: f.original for f in case.facts}  # as corrected so far
    links = ("RecoveryLinked", "LinkedToIncident")
    for fact in case.facts:  # in version order
        event = fact.event
        if closure is not None and fact.name not in (*STEPS[case.subject], *links):
            corrected = next((f for f in case.facts if f.version == getattr(event, "corrects", 0)),
                             None)
            if fact.name == "TimeCorrected":
                what = (f"time corrected from {times[event.corrects].isoformat()} to "
                        f"{event.corrected_to.isoformat()}")
            elif fact.name == "DetailsCorrected":
                what = "details corrected"
            else:
                what = "late record" if fact.at <= closure.at else "dated after closure"
            found.add((case.key, fact.version, corrected.name if corrected else fact.name,
                       event.actor.person_id, event.actor.role.value, fact.recorded, fact.at,
                       corrected.version if corrected else None, what))
        if fact.name == "TimeCorrected":
            times[event.corrects] = event.corrected_to
        if fact.name in CLOSING[case.subject]:
            closure = fact
        elif fact.name in STEPS[case.subject] and fact.name != "Rated":
            closure = None
    return found


def without_hazards(engine: Engine, report: Any, period: Period) -> Any:
    """The data-quality report of the incidents and orders alone: the oracle does not read
    hazards (the report checks them too)."""
    hazards = len(engine.reports.cases(subject="hazard", period=period))
    kept = {name: tuple(x for x in getattr(report, name) if x.subject != "hazard")
            for name in ("missing", "out_of_order", "late", "corrections", "amendments")}
    return attrs.evolve(report, cases=report.cases - hazards, **kept)


def check_quality(engine: Engine, world: World, period: Period, late_after: timedelta) -> None:
    cases = [c for c in oracle_cases(engine, world) if in_period(c.start, period)]
    report = without_hazards(engine, engine.data_quality(period, late_after=late_after), period)
    assert report.cases == len(cases)
    # The watch's escalations are recorded when it saw them due: its lag, not a late record.
    late = {(c.key, f.version, f.name, f.original, f.recorded)
            for c in cases for f in c.facts if f.recorded - f.original > late_after
            and not is_watch(f.event.actor)}
    assert {(r.case_id, r.version, r.fact, r.occurred_at, r.recorded_at)
            for r in report.late} == late
    assert len(report.late) == len(late)
    corrections = {(c.key, f.version, f.event.corrects, "time" if f.name == "TimeCorrected"
                    else "details") for c in cases for f in c.facts
                   if f.name in ("TimeCorrected", "DetailsCorrected")}
    assert len(report.corrections) == len(corrections)
    assert {(r.case_id, r.version, r.corrects, r.what) for r in report.corrections} == corrections
    disorder = {(c.key, first, then) for c in cases for first, then in EXPECTED_ORDER[c.subject]
                if first in c.milestones and then in c.milestones
                and c.milestones[then] < c.milestones[first]}
    assert {(o.case_id, o.expected_first, o.expected_then)
            for o in report.out_of_order} == disorder
    missing = {}
    for case in cases:
        finished = ("resolved" in case.milestones or case.closure == "resolved"
                    if case.subject == "incident" else "completed" in case.milestones)
        if not finished:
            continue
        lacking = {m for d in BUILT_IN if d.target is not None and applies(d, case)
                   for m in (d.start, d.end) if m not in case.milestones}
        if lacking:
            missing[case.key] = lacking
    assert {m.case_id: set(m.missing) for m in report.missing} == missing
    amended = {a for case in cases for a in amendments(case)}
    assert {(a.case_id, a.version, a.fact, a.person, a.role, a.recorded_at, a.occurred_at,
             a.corrects, a.what) for a in report.amendments} == amended
    assert len(report.amendments) == len(amended)


# Drawing a world and a period ------------------------------------------------------------

amendment = st.tuples(st.just("amend"), hist.which, hist.which,
                      st.sampled_from(["details", "participants"]), st.integers(0, 80))
"""A details correction of any case's fact, or an activity's participants corrected."""


def apply_steps(engine: Engine, clock: ManualClock, world: World,
                steps: Sequence[tuple[Any, ...]]) -> World:
    """``apply_history``, and the ``amendment`` steps (a refused one records nothing)."""
    for entry in steps:
        if entry[0] != "amend":
            apply_history(engine, clock, world, [entry])
            continue
        _, index, version, what, participants = entry
        try:
            if what == "details":
                target = hist._pick([*world.incidents, *world.orders], index)
                if target is not None:
                    facts = engine.events(target)
                    service: Any = (engine.incidents if target in world.incidents
                                    else engine.orders)
                    service.correct_details(target, facts[version % len(facts)].originator_version,
                                            "better words", "log checked", actor=hist.STAFF)
            else:
                community = world.communities[index % len(world.communities)]
                held = [e.originator_version for e in engine.events(community)
                        if type(e).__name__ == "ActivityHeld"]
                if held:
                    engine.communities.correct_participants(
                        community, held[version % len(held)], participants, "sign-in sheet",
                        actor=hist.STAFF)
        except ResilienceError:
            world.refused += 1
        else:
            world.applied += 1
    return world


Step = tuple[Any, ...]
INCIDENT_FLOW: list[tuple[str, str]] = [
    ("report", "r1"), ("acknowledge", "r1"), ("dispatch", "r1"), ("dispatch", "r2"),
    ("en_route", "r1"), ("en_route", "r2"), ("arrive", "r3"), ("arrive", "r2"),
    ("arrive", "r1"), ("contain", "r1"), ("resolve", "r1"), ("close", "r1"), ("note", "r1"),
    ("reopen", "r1"), ("dispatch", "r3"), ("arrive", "r3"), ("contain", "r1"),
    ("resolve", "r1"), ("close", "r1"), ("note", "r1")]
"""A response, a rekindle with a second cycle, and after each closure a note (an amendment
if dated at or before the closure, else refused)."""
ORDER_FLOW = ["accept", "dispatch", "start", "complete", "rate", "reopen", "dispatch",
              "start", "complete", "rate"]
often = st.sampled_from([True, True, True, False])
rarely = st.sampled_from([False, False, False, False, True])
ago = st.sampled_from([0, 0, 0, 1, 3, 10, 40])
pause = st.sampled_from([0, 1, 1, 2, 5, 15, 60, 600])
written_up = st.sampled_from([0, 5, 30, 120, 700])
"""How long ago a note happened: often before the closure just recorded (an amendment)."""
responders = st.sampled_from(["r1", "r2", "r3"])


def _script(draw: st.DrawFn, flow: Sequence[Any], make: Callable[[Any], Step]) -> list[Step]:
    """Most of ``flow`` in order, with pauses; now and then two steps swapped."""
    out: list[Step] = []
    for item in flow:
        if draw(often):
            out.append(make(item))
            gap = draw(pause)
            if gap:
                out.append(("advance", gap))
        if draw(rarely) and len(out) >= 2:
            out[-1], out[-2] = out[-2], out[-1]
    return out


def _incident_script(draw: st.DrawFn) -> list[Step]:
    head = ("new", "incident", draw(st.integers(0, 1)), draw(st.sampled_from(hist.GRIDS)),
            draw(st.sampled_from(["fire", "medical", "gas"])),
            draw(st.sampled_from(["low", "high"])),
            draw(st.sampled_from([False, False, False, True])), draw(ago), draw(hist.late))
    flow = list(INCIDENT_FLOW)
    for action in draw(st.lists(st.sampled_from(hist.INCIDENT_STEPS), max_size=2)):
        flow.insert(draw(st.integers(0, len(flow))), (action, draw(responders)))
    return [head, *_script(draw, flow, lambda a: (
        "incident_step", a[0], a[1], draw(written_up if a[0] == "note" else ago),
        draw(hist.late)))]


def _order_script(draw: st.DrawFn) -> list[Step]:
    head = ("new", "order", draw(st.integers(0, 1)), draw(st.sampled_from(hist.GRIDS)),
            draw(st.sampled_from(hist.SERVICES)), draw(st.integers(1, 72)), draw(ago),
            draw(hist.late))
    flow = list(ORDER_FLOW)
    for action in draw(st.lists(st.sampled_from(["reject", "cancel", "reopen", "rate"]),
                                max_size=2)):
        flow.insert(draw(st.integers(0, len(flow))), action)

    def make(action: str) -> Step:
        if action == "complete":
            action = draw(st.sampled_from(["complete_fixed", "complete_fixed",
                                           "complete_not_fixed"]))
        return ("order_step", action, draw(st.sampled_from(hist.PROVIDERS)),
                draw(st.integers(1, 5)), draw(ago), draw(hist.late))

    return [head, *_script(draw, flow, make)]


@st.composite
def lifecycles(draw: st.DrawFn) -> list[Step]:
    """Incidents and orders taken through most of their life, interleaved, with noise.

    The shared ``histories`` pick each step at random, so few cases reach
    containment or completion; these reach every built-in metric's milestones
    in most examples, and still record late facts, swaps and corrections.
    """
    scripts = [_incident_script(draw) for _ in range(draw(st.integers(0, 4)))]
    scripts += [_order_script(draw) for _ in range(draw(st.integers(0, 4)))]
    noise = draw(st.lists(st.one_of(hist.activity, hist.correction, hist.correction,
                                    hist.advance, hist.step, amendment), max_size=8))
    position: dict[int, int] = {}  # script -> index of its case among cases of its kind
    created = {"incident": 0, "order": 0}
    history: list[Step] = []
    live = [i for i, script in enumerate(scripts) if script]
    while live or noise:
        pick = draw(st.integers(0, len(live) - (0 if noise else 1)))
        if pick == len(live):
            entry = noise.pop(0)
            if entry[0] in created:
                created[entry[0]] += 1
            history.append(entry)
            continue
        script = live[pick]
        entry = scripts[script].pop(0)
        if not scripts[script]:
            live.remove(script)
        if entry[0] == "new":
            position[script] = created[entry[1]]
            created[entry[1]] += 1
            history.append((entry[1], *entry[2:]))
        elif entry[0] == "advance":
            history.append(entry)
        else:
            history.append((entry[0], position[script], *entry[1:]))
    return history


any_history = st.one_of(hist.histories, lifecycles())
"""The shared random histories, and lifecycles that reach every milestone far more often."""


def build(history: list[tuple[Any, ...]], url: str = "memory:") -> tuple[Engine, World]:
    clock = ManualClock(T0)
    engine = Engine(url, clock=clock)
    world = setup_world(engine, clock)
    apply_steps(engine, clock, world, history)
    return engine, world


def draw_period(data: st.DataObject, engine: Engine, world: World) -> Period:
    """All time, or bounds exactly at cases' start times (to catch a closed end or open start)."""
    starts = sorted({c.start for c in oracle_cases(engine, world)})
    if not starts:
        return Period()
    kind = data.draw(st.sampled_from(["all", "from", "until", "between"]))
    first = data.draw(st.sampled_from(starts))
    if kind == "all":
        return Period()
    if kind == "from":
        return Period(first, None)
    if kind == "until":
        return Period(None, first)
    later = [s for s in starts if s > first] or [first + timedelta(minutes=1)]
    return Period(first, data.draw(st.sampled_from(later)))


# Tests -------------------------------------------------------------------------------------


@SETTINGS
@given(history=any_history, data=st.data())
def test_every_built_in_metric_equals_the_oracle(history: list[tuple[Any, ...]],
                                                 data: st.DataObject) -> None:
    """Each built-in metric's rows (overall and by grid, type, category, provider, month) match."""
    engine, world = build(history)
    with engine:
        check_every_metric(engine, world, draw_period(data, engine, world))


@SETTINGS
@given(history=any_history, data=st.data())
def test_service_kpis_equal_the_oracle(history: list[tuple[Any, ...]],
                                       data: st.DataObject) -> None:
    """Fixed, not-fixed, reopen and on-time rates and the ratings match the oracle's."""
    engine, world = build(history)
    with engine:
        check_service(engine, world, draw_period(data, engine, world))


@SETTINGS
@given(history=any_history, data=st.data())
def test_counts_equal_the_oracle(history: list[tuple[Any, ...]], data: st.DataObject) -> None:
    """Incidents by type and severity, drills apart, requests resolved, activities, person-times."""
    engine, world = build(history)
    with engine:
        check_counts(engine, world, draw_period(data, engine, world))


@SETTINGS
@given(history=any_history, data=st.data(),
       late_minutes=st.sampled_from([0, 5, 15, 19, 20, 21, 45, 120]))
def test_data_quality_equals_the_oracle(history: list[tuple[Any, ...]], data: st.DataObject,
                                        late_minutes: int) -> None:
    """Late records against a threshold, corrections, out-of-order pairs and missing milestones."""
    engine, world = build(history)
    with engine:
        check_quality(engine, world, draw_period(data, engine, world),
                      timedelta(minutes=late_minutes))


# A fixed history that reaches every built-in metric, for the stores other than memory.
HOME, MEALS = ("home", "repair"), ("meals", "meal_delivery")
FIXED_HISTORY: list[tuple[Any, ...]] = [
    ("incident", 0, "g1", "fire", "high", False, 10, 0),
    ("advance", 1), ("incident_step", 0, "report", "r1", 0, 0),
    ("advance", 1), ("incident_step", 0, "acknowledge", "r1", 0, 0),
    ("advance", 1), ("incident_step", 0, "dispatch", "r1", 0, 0),
    ("incident_step", 0, "dispatch", "r2", 0, 0),
    ("advance", 1), ("incident_step", 0, "en_route", "r1", 0, 0),
    ("incident_step", 0, "en_route", "r2", 0, 0),
    ("incident_step", 0, "arrive", "r3", 3, 0),  # a patrol, undispatched, arrives first
    ("advance", 2), ("incident_step", 0, "arrive", "r2", 0, 20),  # recorded 20 min late
    ("incident_step", 0, "arrive", "r1", 0, 0),
    ("advance", 5), ("incident_step", 0, "contain", "r1", 0, 0),
    ("correct", 0, 10, -2, 30),  # v11 (the containment) two minutes earlier, corrected late
    ("advance", 5), ("incident_step", 0, "resolve", "r1", 0, 0),
    ("advance", 5), ("incident_step", 0, "close", "r1", 0, 0),
    ("advance", 5), ("incident_step", 0, "reopen", "r1", 0, 0),
    ("advance", 2), ("incident_step", 0, "contain", "r1", 0, 0),  # a second cycle
    ("advance", 5), ("incident_step", 0, "resolve", "r1", 0, 0),
    ("incident_step", 0, "close", "r1", 0, 0),
    ("incident_step", 0, "note", "r1", 10, 0),  # amendments after closure: a late record
    ("correct", 0, 3, -1, 5),  # ... and the dispatch of r1 (v4) a minute earlier
    ("incident", 1, "g2", "gas", "low", False, 0, 0),
    ("incident_step", 1, "reclassify", "r1", 0, 0),
    ("advance", 3), ("incident_step", 1, "dispatch", "r1", 0, 0),
    ("advance", 4), ("incident_step", 1, "arrive", "r1", 0, 0),
    ("advance", 9), ("incident_step", 1, "contain", "r1", 0, 0),
    ("incident_step", 1, "close_false_alarm", "r1", 0, 0),
    ("incident", 0, "g2", "medical", "low", True, 0, 0),  # a drill
    ("incident_step", 2, "report", "r1", 0, 0),
    ("order", 0, "g1", HOME, 4, 0, 0),
    ("advance", 30), ("order_step", 0, "accept", None, 1, 0, 0),
    ("order_step", 0, "dispatch", "prop", 1, 0, 0),
    ("advance", 60), ("order_step", 0, "start", None, 1, 0, 0),
    ("advance", 60), ("order_step", 0, "complete_fixed", None, 1, 0, 0),
    ("order_step", 0, "rate", None, 5, 0, 0),
    ("advance", 60), ("order_step", 0, "reopen", None, 1, 0, 0),
    ("order_step", 0, "dispatch", "360", 1, 0, 0),
    ("advance", 300), ("order_step", 0, "complete_not_fixed", None, 1, 0, 0),
    ("order_step", 0, "rate", None, 2, 0, 0),
    ("order", 1, "g2", MEALS, 2, 0, 0),
    ("order_step", 1, "accept", None, 1, 0, 0),
    ("advance", 10), ("order_step", 1, "dispatch", "360", 1, 0, 0),
    ("advance", 50), ("order_step", 1, "complete_fixed", None, 1, 0, 0),
    ("order_step", 1, "rate", None, 4, 0, 0),
    ("order_step", 1, "reopen", None, 1, 0, 0),  # reopened after its rating: not re-rated
    ("order", 0, "g2", MEALS, 1, 0, 0),
    ("order_step", 2, "reject", None, 1, 0, 0),
    ("order", 1, "g1", HOME, 48, 0, 16),
    ("order_step", 3, "cancel", None, 1, 0, 0),
    ("activity", 0, "g1", 25, 0, 0), ("activity", 1, None, 40, 0, 0),
    ("advance", 60 * 24 * 35),
    ("incident", 1, "g1", "fire", "high", False, 0, 0),
    ("advance", 1), ("incident_step", 3, "dispatch", "r1", 0, 0),
    ("advance", 2), ("incident_step", 3, "en_route", "r1", 0, 0),
    ("advance", 3), ("incident_step", 3, "arrive", "r1", 0, 0),
    ("advance", 20), ("incident_step", 3, "contain", "r1", 0, 0),
    ("order", 1, "g2", HOME, 3, 0, 0), ("order_step", 4, "accept", None, 1, 0, 0),
    ("advance", 5), ("order_step", 4, "dispatch", "prop", 1, 0, 0),
    ("advance", 100), ("order_step", 4, "complete_fixed", None, 1, 0, 0),
    # The fire's recovery: an item of the community's, done 10 minutes after it was planned.
    ("improvement", 1, None, "g1", 60 * 24, 0, 0, [("complete", "owner-a", 0, 10)]),
    ("link", 3, 0, True, 0, 0),
    ("activity", 1, "g2", 12, 0, 0),
    ("order", 0, "g1", HOME, 6, 0, 0),  # placed, accepted, dispatched, completed, reopened,
    ("advance", 10), ("order_step", 5, "accept", None, 1, 0, 0),  # then cancelled: cancelled
    ("order_step", 5, "dispatch", "prop", 1, 0, 0),
    ("advance", 90), ("order_step", 5, "complete_fixed", None, 1, 0, 0),
    ("advance", 60), ("order_step", 5, "reopen", None, 1, 0, 0),
    ("advance", 30), ("order_step", 5, "cancel", None, 1, 0, 0),
]


def fixed_history() -> list[tuple[Any, ...]]:
    providers = {"prop": PROVIDERS[0], "360": PROVIDERS[1]}
    return [(*step[:3], providers.get(step[3]), *step[4:]) if step[0] == "order_step" else step
            for step in FIXED_HISTORY]


def check_everything(engine: Engine, world: World) -> None:
    starts = sorted(c.start for c in oracle_cases(engine, world))
    inner = Period(starts[1], starts[-1]) if len(starts) > 2 else Period(None, starts[0])
    for period in (Period(), inner):
        check_every_metric(engine, world, period)
        check_service(engine, world, period)
        check_counts(engine, world, period)
        for minutes in (0, 15, 20, 30):
            check_quality(engine, world, period, timedelta(minutes=minutes))


def test_the_fixed_history_reaches_every_built_in_metric() -> None:
    """The fixed history is applied in full and measures every built-in (so its checks bite)."""
    engine, world = build(fixed_history())
    with engine:
        assert world.refused == 0
        for definition in BUILT_IN:
            assert engine.metrics(definition).rows[0].measured >= 1, definition.name
        kpis = engine.service_kpis()[0]
        assert (kpis.completed, kpis.reopened, kpis.rated, kpis.cancelled) == (2, 3, 1, 2)
        assert (kpis.open, engine.rates().rows[0].cancelled) == (1, 2)  # the reopened lunch
        quality = engine.data_quality()
        assert quality.late
        assert quality.corrections
        assert [a.what for a in quality.amendments][:2] == [
            "late record", "time corrected from 2022-02-15T15:03:00+08:00 to "
            "2022-02-15T15:02:00+08:00"]
        check_everything(engine, world)


def test_the_oracle_agrees_on_sqlite_and_postgres(shared_store_url: str) -> None:
    """The fixed history gives the oracle's figures on a SQLite file and on PostgreSQL too."""
    engine, world = build(fixed_history(), shared_store_url)
    with engine:
        assert world.refused == 0
        check_everything(engine, world)


def test_the_oracle_reads_the_donghu_fire_as_documented() -> None:
    """The oracle's own milestones for the Donghu fire: 12 min to containment, 60 s, 120 s;
    recovered 21 h after detection, when the owner rated the lock repair."""
    with Engine("memory:") as engine:
        result = replay_file(engine, DONGHU_FIRE)
        world = World(communities=[result.community_id],
                      incidents=list(result.incidents.values()),
                      orders=list(result.orders.values()))
        (case, _) = oracle_cases(engine, world)
        by_name = {d.name: d for d in BUILT_IN}
        assert duration(by_name["detection_to_contained"], case) == 12
        assert duration(by_name["turnout"], case) == 60
        assert duration(by_name["travel"], case) == 120
        assert duration(by_name["on_scene_to_contained"], case) == 12  # the patrol at 15:00
        assert duration(by_name["detection_to_recovered"], case) == 21
        check_everything(engine, world)
