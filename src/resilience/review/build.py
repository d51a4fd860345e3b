"""From one incident's facts (cut or not) to its review: segments, grades, findings, flags.

Pure: the caller (resilience.services.reviews) reads the facts; everything
here is worked out from them, so the same incident at the same cut always
gets the same review.
"""

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from attrs import evolve

from resilience.metrics.cases import Case, Correction
from resilience.metrics.definitions import SECONDS_PER, MetricDefinition
from resilience.metrics.period import ALL_TIME
from resilience.metrics.quality import (
    DEFAULT_LATE_AFTER,
    INTERESTS,
    AmendmentMade,
    InterestedCorrection,
    data_quality,
)
from resilience.review.model import (
    Finding,
    Grade,
    IncidentReview,
    Milestone,
    ObjectiveResult,
    ObjectiveSummary,
    QualityFlag,
    ResponderTrack,
    SegmentResult,
)
from resilience.review.narrative import summary
from resilience.review.objectives import Objective
from resilience.review.situations import IncidentSituation
from resilience.review.text import clock, minutes, noun, one_decimal, plural, words
from resilience.timeline import Timeline

DEFAULT_GAP_AFTER = timedelta(minutes=5)
"""A gap between two successive milestones up to containment longer than this is a finding."""

CHART_MILESTONES: Mapping[str, str] = {
    "detected": "detected", "reported": "reported", "acknowledged": "acknowledged",
    "first_dispatched": "first dispatch", "first_on_scene": "first on scene",
    "residents_notified": "residents notified", "consent_granted": "consent granted",
    "exigent_entry": "exigent entry", "forced_entry": "forced entry",
    "source_found": "source found", "contained": "contained", "resolved": "resolved",
}
"""The milestones a review's chart shows. Not the closure: closing the record is
paperwork, often hours later, and would squeeze the response into a corner."""
CYCLE_CHART_MILESTONES: Mapping[str, str] = {
    "reopened": "reopened", "first_dispatched": "dispatch after reopening",
    "first_on_scene": "on scene after reopening", "contained": "contained again",
    "resolved": "resolved again",
}
"""The milestones the chart shows for each reopening's cycle (numbered "(2)", "(3)"...
when there are several)."""
# Milestones of the response proper: a long gap between two of these delayed containment.
_RESPONSE = ("detected", "reported", "acknowledged", "first_dispatched", "first_on_scene",
             "consent_granted", "forced_entry", "source_found", "contained")


def review_incident(
    case: Case, first_recorded: Case, situation: IncidentSituation, timeline: Timeline, *,
    objectives: Sequence[Objective], segments: Sequence[MetricDefinition],
    at: datetime, community_name: str, people: Mapping[str, str],
    late_after: timedelta = DEFAULT_LATE_AFTER, gap_after: timedelta = DEFAULT_GAP_AFTER,
    as_closed: Case | None = None, shown: Case | None = None,
) -> IncidentReview:
    """The review of one incident. ``first_recorded`` is the same cut with no
    corrections applied; ``as_closed`` the same cut as known when its standing closure was
    recorded (``case_at(..., as_closed=True)``), which gives the segments' ``at_closure``
    of an incident amended after its closure (None: not measured); ``at`` is the moment
    of the cut (or now).

    ``shown`` is the same case as its reader may see it (resilience.review.sight: its
    personal values hidden), ``timeline`` and ``people`` being theirs too: the figures
    come from ``case``, so every reader gets the same grades and durations, and the words
    of the data-quality flags (correction reasons, override reasons) from ``shown``."""
    graded = tuple(o.grade(case, at) for o in objectives)
    segments = with_drills(tuple(segments))
    at_closure = as_closed if case.amendments else None
    measured = tuple(result for d in segments if d.applies(case)
                     for result in _segments(d, case, first_recorded, at_closure))
    flags = _flags(shown or case, segments, late_after, people)
    strengths, improvements = _findings(case, graded, measured, flags, gap_after, late_after)
    containment = next((o.target for o in objectives
                        if o.rule == "within" and o.end == "contained"), None)
    return IncidentReview(
        incident_id=case.case_id, community=case.community,
        description=next(e.details for e in timeline.entries if e.version == 1),
        community_name=community_name, grid=case.dims.get("grid"),
        incident_type=situation.incident_type, severity=situation.severity, drill=case.drill,
        detected_at=case.start, status=situation.status.value, commander=situation.commander,
        summary=summary(case, situation, timeline, people, containment), timeline=timeline,
        milestones=_milestones(case, situation),
        responders=tuple(ResponderTrack(r.responder_id, people.get(r.responder_id,
                                                                   r.responder_id),
                                        r.dispatched_at, r.en_route_at, r.on_scene_at,
                                        r.cycle)
                         for r in situation.responders),
        segments=measured, objectives=graded, strengths=strengths, improvements=improvements,
        quality=flags, target_line=containment, situation=situation, people=dict(people),
        amendments=(shown or case).amendments,
    )


@functools.lru_cache(maxsize=64)
def with_drills(segments: tuple[MetricDefinition, ...]) -> tuple[MetricDefinition, ...]:
    """The segments as a review measures them: a drill is measured and checked like the
    real thing, each segment's own filter with drills let in. Kept for the next incident
    (a period's review measures each of its incidents on the same segments: making them
    again cost about a third of an incident's review)."""
    return tuple(evolve(d, applies_to=evolve(d.applies_to, include_drills=True))
                 for d in segments)


def _milestones(case: Case, situation: IncidentSituation) -> tuple[Milestone, ...]:
    """The chart's key moments: the first response's (``CHART_MILESTONES``, its own
    resolution, not the final one), then each reopening's cycle's."""
    first = dict(case.milestones)
    first.pop("resolved", None)
    if situation.cycles and situation.cycles[0].resolved_at is not None:
        first["resolved"] = situation.cycles[0].resolved_at
    found = [Milestone(name, first[name], label) for name, label in CHART_MILESTONES.items()
             if name in first]
    several = len(situation.cycles) > 2
    for cycle in situation.cycles[1:]:
        number = f" ({cycle.number})" if several else ""
        times = {"reopened": cycle.started_at, "first_dispatched": cycle.first_dispatched_at,
                 "first_on_scene": cycle.first_on_scene_at, "contained": cycle.contained_at,
                 "resolved": cycle.resolved_at}
        found += [Milestone(name, time, label + number, cycle.number)
                  for name, label in CYCLE_CHART_MILESTONES.items()
                  if (time := times[name]) is not None]
    return tuple(found)


def _segments(definition: MetricDefinition, case: Case, first_recorded: Case,
              as_closed: Case | None) -> list[SegmentResult]:
    """The definition measured on the incident: one result, or one per reopening."""
    target = (timedelta(seconds=definition.target * SECONDS_PER[definition.unit])
              if definition.target is not None else None)
    # The three readings' units are matched by place: per case there is one each; per
    # reopening, the nth unit is the nth reopening's cycle in every reading. Reopenings are
    # steps, which the incident keeps in recording order whatever the corrections (a step
    # is dated no earlier than the step recorded before it), so in each reading the
    # reopenings in happening order are the same facts, in the same order: those recorded
    # first (a cut keeps a prefix of them; the reading as known at the standing closure
    # keeps them all, since a reopening recorded after that closure would end it).
    first = definition.units(first_recorded)
    closed = [] if as_closed is None else definition.units(as_closed)

    def nth(units: Sequence[Mapping[str, datetime]], index: int) -> timedelta | None:
        return definition.elapsed(units[index]) if index < len(units) else None

    results = []
    for index, unit in enumerate(definition.units(case)):
        took = definition.elapsed(unit)
        met = None if target is None or took is None else took <= target
        results.append(SegmentResult(
            definition.name, definition.description, definition.start, definition.end, took,
            nth(first, index), target, met,
            reopening=None if definition.per == "case" else index + 1,
            at_closure=nth(closed, index)))
    return results


def _flags(case: Case, segments: Sequence[MetricDefinition],
           late_after: timedelta, people: Mapping[str, str]) -> tuple[QualityFlag, ...]:
    report = data_quality([case], segments, period=ALL_TIME, late_after=late_after)
    flags = [QualityFlag("missing", f"not recorded: {', '.join(m.missing)} "
                         f"(so {', '.join(m.ungraded)} can't be graded)")
             for m in report.missing]
    origin = case.start
    flags += [QualityFlag("out_of_order", f"{o.expected_then} ({clock(o.then_at, origin)}) "
                          f"is before {o.expected_first} ({clock(o.first_at, origin)})")
              for o in report.out_of_order]
    flags += [QualityFlag("late", f"{words(r.fact)} of {clock(r.occurred_at, origin)} "
                          f"recorded at {clock(r.recorded_at, origin)}, {minutes(r.delay)} later",
                          r.version)
              for r in report.late]
    flags += [QualityFlag("correction", _correction(c.fact, c.what, c.before, c.after, c.reason,
                                                    case.start), c.corrects)
              for c in report.corrections]
    moved = {c.version: c for c in case.corrections}
    flags += [QualityFlag("amendment", _amendment(a, moved.get(a.version), people, origin),
                          a.version)
              for a in report.amendments]
    flags += [QualityFlag("interested", _interested(c, people, origin), c.version)
              for c in report.interested]
    flags += [QualityFlag("override", f"{words(o.fact)} recorded by "
                          f"{_person(o.person, o.role, people)} by override: {o.why}",
                          o.version)
              for o in report.overrides]
    flags += [QualityFlag("imported", f"{plural(i.facts, 'fact')} imported by "
                          f"{people.get(i.importer, i.importer)}")
              for i in report.imported]
    return tuple(flags)


def _person(person: str, role: str, people: Mapping[str, str]) -> str:
    """"Wang (community staff)": the name (else the id) and the role in words."""
    person = person or "someone unknown"
    return people.get(person, person) + (f" ({words(role)})" if role else "")


def _interested(correction: InterestedCorrection, people: Mapping[str, str],
                origin: datetime) -> str:
    """"contained moved from 15:14 to 15:12 by Li (squad member), who recorded the
    corrected fact and responded to the incident"."""
    what = _change(correction.fact, correction.what, correction.before, correction.after,
                   origin)
    reasons = [INTERESTS[code] for code in correction.interests]
    who = ", ".join(reasons[:-1]) + " and " + reasons[-1] if len(reasons) > 1 else reasons[0]
    return f"{what} by {_person(correction.person, correction.role, people)}, who {who}"


def _amendment(amendment: AmendmentMade, correction: Correction | None,
               people: Mapping[str, str], origin: datetime) -> str:
    """"contained moved from 15:14 to 15:12 after the closure, by Wang (community staff),
    recorded at 2022-02-16 09:00"."""
    fact = words(amendment.fact)
    if correction is not None and correction.before is not None and correction.after is not None:
        what = (f"{fact} moved from {clock(correction.before, origin)} to "
                f"{clock(correction.after, origin)}")
    elif correction is not None:
        what = f"{fact} details corrected"
    elif amendment.what == "late record":
        what = f"{fact} of {clock(amendment.occurred_at, origin)} recorded late"
    else:
        what = f"{fact} recorded"
    who = _person(amendment.person, amendment.role, people)
    return f"{what} after the closure, by {who}, recorded at {clock(amendment.recorded_at, origin)}"


def _correction(fact: str, what: str, before: datetime | None, after: datetime | None,
                reason: str, origin: datetime) -> str:
    return f"{_change(fact, what, before, after, origin)}: {reason}"


def _change(fact: str, what: str, before: datetime | None, after: datetime | None,
            origin: datetime) -> str:
    """"contained moved from 15:14 to 15:12", "resolved details corrected"."""
    if what == "time" and before is not None and after is not None:
        return f"{words(fact)} moved from {clock(before, origin)} to {clock(after, origin)}"
    return f"{words(fact)} details corrected"


def _findings(case: Case, graded: Sequence[ObjectiveResult], segments: Sequence[SegmentResult],
              flags: Sequence[QualityFlag], gap_after: timedelta, late_after: timedelta,
              ) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    strengths: list[Finding] = []
    improvements: list[Finding] = []
    for result in graded:
        if result.grade is Grade.P:
            strengths.append(Finding(f"{result.title}: {result.evidence}.", result.name,
                                     result.versions))
        elif result.grade is not None:
            improvements.append(Finding(
                f"{result.title} ({result.grade.value}, {result.grade.meaning}): "
                f"{result.evidence}.", result.name, result.versions))
    for segment in segments:
        name = segment.name + (f" (reopening {segment.reopening})"
                               if segment.reopening is not None else "")
        if segment.met is True and segment.duration is not None and segment.target is not None:
            strengths.append(Finding(f"{name} took {minutes(segment.duration)}, within "
                                     f"its {minutes(segment.target)} target."))
        elif segment.met is False and segment.duration is not None:
            assert segment.target is not None
            improvements.append(Finding(f"{name} took {minutes(segment.duration)}, "
                                        f"over its {minutes(segment.target)} target."))
    late = [f for f in flags if f.kind == "late"]
    if late:
        improvements.append(Finding(
            f"{plural(len(late), 'fact')} recorded more than {minutes(late_after)} after they "
            "happened; record from the field as things happen.",
            versions=tuple(f.version for f in late if f.version is not None)))
    missing = [f for f in flags if f.kind == "missing"]
    if missing:
        improvements.append(Finding("Key milestones are missing, so targets can't be graded: "
                                    + "; ".join(f.text for f in missing) + "."))
    reached = sorted((case.milestones[m], m) for m in _RESPONSE if m in case.milestones)
    for (before, first), (after, then) in itertools.pairwise(reached):
        if after - before > gap_after:
            improvements.append(Finding(
                f"{minutes(after - before)} passed between {noun(first)} "
                f"({clock(before, case.start)}) and {noun(then)} "
                f"({clock(after, case.start)})."))
    return tuple(strengths), tuple(improvements)


def summarise(objectives: Sequence[Objective],
              reviews: Sequence[IncidentReview]) -> tuple[ObjectiveSummary, ...]:
    """Each objective over several incidents, from the incidents it was graded on (those it
    did not apply to, and those not graded yet, are only counted).

    A ``within`` objective is graded against its target itself (met: the measured duration
    within the target, as a compliance metric counts met cases): P if every graded
    incident met the target; S if at least 90% of them did (NFPA's 90% rule); M if fewer
    did but some incident got P, S or M; U if every graded one got U. An incident that
    never reached the end milestone (U) is graded and did not meet it, where the compliance
    metric counts it missing and leaves it out (``met / measured``); like a league table's
    ``unrecorded``, it counts against the incidents reviewed (docs/review.md).

    The other rules have no target to count against, so the incidents' own grades are:
    P if all got P; S if at least 90% got P or S; M if any got P, S or M; U if every graded
    one got U. The same 90% bar, so that the summaries of all rules read alike.
    """
    summaries = []
    for objective in objectives:
        results = [r for review in reviews for r in review.objectives
                   if r.name == objective.name]
        graded = [r for r in results if r.grade is not None]
        grades = [r.grade for r in graded if r.grade is not None]
        counts = {g.value: sum(1 for x in grades if x is g) for g in Grade}
        counts["n/a"] = sum(1 for r in results if r.grade is None and not r.pending)
        counts["pending"] = sum(1 for r in results if r.pending)
        complied = sum(1 for r in graded if _complied(objective, r))
        grade = _overall(grades, complied)
        summaries.append(ObjectiveSummary(
            objective.name, objective.title, grade, counts, complied=complied,
            graded=len(graded), evidence=_compliance(objective, grade, complied, len(graded))))
    return tuple(summaries)


def _complied(objective: Objective, result: ObjectiveResult) -> bool:
    if objective.rule == "within":
        return (result.measured is not None and result.target is not None
                and result.measured <= result.target)
    return result.grade in (Grade.P, Grade.S)


def _overall(grades: Sequence[Grade], complied: int) -> Grade | None:
    if not grades:
        return None
    if all(g is Grade.P for g in grades):
        return Grade.P
    if complied * 10 >= len(grades) * 9:
        return Grade.S
    if any(g is not Grade.U for g in grades):
        return Grade.M
    return Grade.U


def _compliance(objective: Objective, grade: Grade | None, complied: int, graded: int) -> str:
    """"8 of 10 within 15 min (80%; the 90% rule needs 90%)"; the share is rounded down, so
    a share short of 90% never reads as 90%."""
    if not graded:
        return "no incident graded"
    share = f"{one_decimal(math.floor(complied * 1000 / graded) / 10)}%"
    if objective.rule != "within":
        bar = "" if grade is Grade.P else "; S needs 90%"
        return f"{complied} of {graded} graded P or S ({share}{bar})"
    assert objective.target is not None
    met = f"{complied} of {graded} within {minutes(objective.target)}"
    if grade is Grade.P:
        return f"{met} ({share})"
    if grade is Grade.S:
        return f"{met} ({share}, meeting the 90% rule)"
    return f"{met} ({share}; the 90% rule needs 90%)"
