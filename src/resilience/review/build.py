"""From one incident's facts (cut or not) to its review: segments, grades, findings, flags.

Pure: the caller (resilience.services.reviews) reads the facts; everything
here is worked out from them, so the same incident at the same cut always
gets the same review.
"""

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from attrs import evolve

from resilience.domain.incident import Incident
from resilience.metrics.cases import Case
from resilience.metrics.definitions import SECONDS_PER, MetricDefinition
from resilience.metrics.period import ALL_TIME
from resilience.metrics.quality import DEFAULT_LATE_AFTER, data_quality
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
from resilience.review.objectives import Objective
from resilience.review.situations import IncidentSituation
from resilience.review.text import clock, minutes, noun, plural, words
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
# Milestones of the response proper: a long gap between two of these delayed containment.
_RESPONSE = ("detected", "reported", "acknowledged", "first_dispatched", "first_on_scene",
             "consent_granted", "forced_entry", "source_found", "contained")


def review_incident(
    case: Case, first_recorded: Case, situation: IncidentSituation, timeline: Timeline, *,
    objectives: Sequence[Objective], segments: Sequence[MetricDefinition],
    at: datetime, community_name: str, people: Mapping[str, str],
    late_after: timedelta = DEFAULT_LATE_AFTER, gap_after: timedelta = DEFAULT_GAP_AFTER,
) -> IncidentReview:
    """The review of one incident. ``first_recorded`` is the same cut with no
    corrections applied; ``at`` is the moment of the cut (or now)."""
    graded = tuple(o.grade(case, at) for o in objectives)
    # A drill is measured and checked like the real thing: each segment's own filter,
    # with drills let in.
    segments = [evolve(d, applies_to=evolve(d.applies_to, include_drills=True))
                for d in segments]
    measured = tuple(_segment(d, case, first_recorded) for d in segments if d.applies(case))
    flags = _flags(case, segments, late_after)
    strengths, improvements = _findings(case, graded, measured, flags, gap_after, late_after)
    containment = next((o.target for o in objectives
                        if o.rule == "within" and o.end == "contained"), None)
    return IncidentReview(
        incident_id=case.case_id, community=case.community,
        description=next(e.details for e in timeline.entries if e.version == 1),
        community_name=community_name, grid=case.dims.get("grid"),
        incident_type=situation.incident_type, severity=situation.severity, drill=case.drill,
        detected_at=case.start, status=situation.status.value, commander=situation.commander,
        summary=_summary(case, situation, people, containment), timeline=timeline,
        milestones=tuple(Milestone(name, case.milestones[name], label)
                         for name, label in CHART_MILESTONES.items()
                         if name in case.milestones),
        responders=tuple(ResponderTrack(r.responder_id, people.get(r.responder_id,
                                                                   r.responder_id),
                                        r.dispatched_at, r.en_route_at, r.on_scene_at)
                         for r in situation.responders),
        segments=measured, objectives=graded, strengths=strengths, improvements=improvements,
        quality=flags, target_line=containment, situation=situation, people=dict(people),
    )


def _duration(definition: MetricDefinition, case: Case) -> timedelta | None:
    start, end = case.milestones.get(definition.start), case.milestones.get(definition.end)
    return None if start is None or end is None else end - start


def _segment(definition: MetricDefinition, case: Case, first_recorded: Case) -> SegmentResult:
    took = _duration(definition, case)
    target = (timedelta(seconds=definition.target * SECONDS_PER[definition.unit])
              if definition.target is not None else None)
    met = None if target is None or took is None else took <= target
    return SegmentResult(definition.name, definition.description, definition.start,
                         definition.end, took, _duration(definition, first_recorded), target, met)


def _flags(case: Case, segments: Sequence[MetricDefinition],
           late_after: timedelta) -> tuple[QualityFlag, ...]:
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
    return tuple(flags)


def _correction(fact: str, what: str, before: datetime | None, after: datetime | None,
                reason: str, origin: datetime) -> str:
    if what == "time" and before is not None and after is not None:
        moved = f"{clock(before, origin)} to {clock(after, origin)}"
        return f"{words(fact)} moved from {moved}: {reason}"
    return f"{words(fact)} details corrected: {reason}"


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
        if segment.met is True and segment.duration is not None and segment.target is not None:
            strengths.append(Finding(f"{segment.name} took {minutes(segment.duration)}, within "
                                     f"its {minutes(segment.target)} target."))
        elif segment.met is False and segment.duration is not None:
            assert segment.target is not None
            improvements.append(Finding(f"{segment.name} took {minutes(segment.duration)}, "
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


def _summary(case: Case, situation: IncidentSituation, people: Mapping[str, str],
             containment: timedelta | None) -> tuple[str, ...]:
    detected = case.start
    lines = [f"{'Drill: ' if case.drill else ''}{situation.incident_type} "
             f"({situation.severity}) in grid {case.dims.get('grid') or '?'}, detected at "
             f"{clock(detected)} on {detected:%Y-%m-%d}."]
    contained = case.milestones.get("contained")
    if contained is not None:
        target = f" (target {minutes(containment)})" if containment is not None else ""
        lines.append(f"Contained at {clock(contained, case.start)}, "
                     f"{minutes(contained - detected)} after detection{target}.")
    elif situation.closure_reason not in (None, "resolved"):
        lines.append("Nothing to contain: closed as "
                     f"{str(situation.closure_reason).replace('_', ' ')}.")
    else:
        lines.append("No containment recorded.")
    dispatched = [r for r in situation.responders if r.dispatched_at is not None]
    arrived = sum(1 for r in dispatched if r.on_scene_at is not None)
    undispatched = [people.get(r.responder_id, r.responder_id) for r in situation.responders
                    if r.dispatched_at is None and r.on_scene_at is not None]
    commander = situation.commander
    lines.append(f"{plural(len(dispatched), 'responder')} dispatched, {arrived} of them on "
                 "scene" + (f"; also on scene: {', '.join(undispatched)}" if undispatched
                            else "")
                 + (f"; incident commander {people.get(commander, commander)}" if commander
                    else "") + ".")
    asked = sum(1 for f in case.facts if f.name == Incident.ConsentRequested.fact_name)
    if asked:
        lines.append(f"Consent asked {plural(asked, 'time')}, granted by "
                     f"{plural(len(situation.consents_granted), 'resident')}; "
                     f"{len(situation.pending_consents)} still awaited.")
    ended = situation.closed_at or situation.resolved_at
    if ended is not None:
        how = (f"closed ({situation.closure_reason.replace('_', ' ')})"
               if situation.closure_reason else "resolved")
        lines.append(f"{how.capitalize()} at {clock(ended, case.start)}.")
    else:
        lines.append(f"Status at this cut: {situation.status.value.replace('_', ' ')}.")
    return tuple(lines)


def summarise(objectives: Sequence[Objective],
              reviews: Sequence[IncidentReview]) -> tuple[ObjectiveSummary, ...]:
    """Each objective over several incidents: P if all P; S if at least 90% got P or S
    (NFPA's 90% rule); M if any got P, S or M; U if every graded one got U."""
    summaries = []
    for objective in objectives:
        results = [r for review in reviews for r in review.objectives
                   if r.name == objective.name]
        grades = [r.grade for r in results]
        counts = {g.value: sum(1 for x in grades if x is g) for g in Grade}
        counts["n/a"] = sum(1 for r in results if r.grade is None and not r.pending)
        counts["pending"] = sum(1 for r in results if r.pending)
        summaries.append(ObjectiveSummary(objective.name, objective.title,
                                          _overall([g for g in grades if g is not None]),
                                          counts))
    return tuple(summaries)


def _overall(grades: Sequence[Grade]) -> Grade | None:
    if not grades:
        return None
    if all(g is Grade.P for g in grades):
        return Grade.P
    if sum(1 for g in grades if g in (Grade.P, Grade.S)) * 10 >= len(grades) * 9:
        return Grade.S
    if any(g is not Grade.U for g in grades):
        return Grade.M
    return Grade.U


