"""From one incident's facts (cut or not) to its review: segments, grades, findings, flags.

Pure: the caller (resilience.services.reviews) reads the facts; everything
here is worked out from them, so the same incident at the same cut always
gets the same review (in the language current when it is made: resilience.i18n).
"""

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from attrs import evolve

from resilience.i18n import N_, _, current_language, language, ngettext
from resilience.metrics.cases import Case
from resilience.metrics.definitions import SECONDS_PER, MetricDefinition
from resilience.metrics.quality import DEFAULT_LATE_AFTER
from resilience.review.flags import flags
from resilience.review.hazards import PriorHazards
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
from resilience.review.response import hazard_place
from resilience.review.situations import IncidentSituation
from resilience.review.text import clock, day, enum_words, minutes, noun, one_decimal
from resilience.timeline import Timeline

DEFAULT_GAP_AFTER = timedelta(minutes=5)
"""A gap between two successive milestones up to containment longer than this is a finding."""

CHART_MILESTONES: Mapping[str, str] = {
    "detected": N_("detected"), "reported": N_("reported"),
    "acknowledged": N_("acknowledged"), "first_dispatched": N_("first dispatch"),
    "first_on_scene": N_("first on scene"), "residents_notified": N_("residents notified"),
    "consent_granted": N_("consent granted"), "exigent_entry": N_("exigent entry"),
    "forced_entry": N_("forced entry"), "source_found": N_("source found"),
    "contained": N_("contained"), "resolved": N_("resolved"),
}
"""The milestones a review's chart shows. Not the closure: closing the record is
paperwork, often hours later, and would squeeze the response into a corner."""
CYCLE_CHART_MILESTONES: Mapping[str, str] = {
    "reopened": N_("reopened"), "first_dispatched": N_("dispatch after reopening"),
    "first_on_scene": N_("on scene after reopening"), "contained": N_("contained again"),
    "resolved": N_("resolved again"),
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
    of the data-quality flags (correction reasons, override reasons) from ``shown``.

    Worded in the language current when it is called, settled once for the whole review
    (rather than looked up in the environment for each of its hundred-odd messages)."""
    with language(current_language()):
        return _review_incident(case, first_recorded, situation, timeline,
                                objectives=objectives, segments=segments, at=at,
                                community_name=community_name, people=people,
                                late_after=late_after, gap_after=gap_after,
                                as_closed=as_closed, shown=shown)


def _review_incident(
    case: Case, first_recorded: Case, situation: IncidentSituation, timeline: Timeline, *,
    objectives: Sequence[Objective], segments: Sequence[MetricDefinition],
    at: datetime, community_name: str, people: Mapping[str, str],
    late_after: timedelta, gap_after: timedelta, as_closed: Case | None, shown: Case | None,
) -> IncidentReview:
    graded = tuple(o.grade(case, at) for o in objectives)
    segments = with_drills(tuple(segments))
    at_closure = as_closed if case.amendments else None
    measured = tuple(result for d in segments if d.applies(case)
                     for result in _segments(d, case, first_recorded, at_closure))
    found = flags(shown or case, segments, late_after, people)
    strengths, improvements = _findings(case, graded, measured, found, gap_after, late_after)
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
        quality=found, target_line=containment, situation=situation, people=dict(people),
        amendments=(shown or case).amendments, reference=case.reference,
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
    found = [Milestone(name, first[name], _(label))
             for name, label in CHART_MILESTONES.items()
             if name in first]
    several = len(situation.cycles) > 2
    for cycle in situation.cycles[1:]:
        number = f" ({cycle.number})" if several else ""
        times = {"reopened": cycle.started_at, "first_dispatched": cycle.first_dispatched_at,
                 "first_on_scene": cycle.first_on_scene_at, "contained": cycle.contained_at,
                 "resolved": cycle.resolved_at}
        found += [Milestone(name, time, _(label) + number, cycle.number)
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


def _findings(case: Case, graded: Sequence[ObjectiveResult], segments: Sequence[SegmentResult],
              flags: Sequence[QualityFlag], gap_after: timedelta, late_after: timedelta,
              ) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    strengths: list[Finding] = []
    improvements: list[Finding] = []
    for result in graded:
        if result.grade is Grade.P:
            strengths.append(Finding(_("{objective}: {evidence}.").format(
                objective=result.title, evidence=result.evidence), result.name,
                result.versions))
        elif result.grade is not None:
            improvements.append(Finding(_("{objective} ({grade}, {meaning}): {evidence}.").format(
                objective=result.title, grade=result.grade.value, meaning=result.grade.meaning,
                evidence=result.evidence), result.name, result.versions))
    for segment in segments:
        name = segment.name + (_(" (reopening {number})").format(number=segment.reopening)
                               if segment.reopening is not None else "")
        if segment.met is True and segment.duration is not None and segment.target is not None:
            strengths.append(Finding(_("{metric} took {took}, within its {target} target.")
                                     .format(metric=name, took=minutes(segment.duration),
                                             target=minutes(segment.target))))
        elif segment.met is False and segment.duration is not None:
            assert segment.target is not None
            improvements.append(Finding(_("{metric} took {took}, over its {target} target.")
                                        .format(metric=name, took=minutes(segment.duration),
                                                target=minutes(segment.target))))
    late = [f for f in flags if f.kind == "late"]
    if late:
        improvements.append(Finding(
            ngettext("{count} fact recorded more than {late_after} after they happened; "
                     "record from the field as things happen.",
                     "{count} facts recorded more than {late_after} after they happened; "
                     "record from the field as things happen.", len(late)).format(
                count=len(late), late_after=minutes(late_after)),
            versions=tuple(f.version for f in late if f.version is not None)))
    missing = [f for f in flags if f.kind == "missing"]
    if missing:
        improvements.append(Finding(
            _("Key milestones are missing, so targets can't be graded: {missing}.").format(
                missing=_("; ").join(f.text for f in missing))))
    reached = sorted((case.milestones[m], m) for m in _RESPONSE if m in case.milestones)
    for (before, first), (after, then) in itertools.pairwise(reached):
        if after - before > gap_after:
            improvements.append(Finding(
                _("{gap} passed between {first} ({first_at}) and {then} ({then_at}).").format(
                    gap=minutes(after - before), first=noun(first),
                    first_at=clock(before, case.start), then=noun(then),
                    then_at=clock(after, case.start))))
    return tuple(strengths), tuple(improvements)


def hazard_findings(prior: PriorHazards | None) -> tuple[Finding, ...]:
    """An area for improvement when hazards recorded at the incident's location were still
    open at its detection (as it happened): each one, when it was found and how it stood
    as known then, so the review says what could have been foreseen."""
    open_then = [hazard for hazard in prior.hazards if hazard.open_then] if prior else []
    if prior is None or not open_then:
        return ()
    said = []
    for hazard in open_then:
        then = (_("not yet recorded then") if hazard.status_known_then is None
                else _("{status} as known then").format(
                    status=enum_words(hazard.status_known_then)))
        what = enum_words(hazard.category)
        if hazard.reference is not None:
            what = _("{category} {reference}").format(category=what, reference=hazard.reference)
        said.append(_("{hazard} (found {date}; {then})").format(
            hazard=what, date=day(hazard.found_at), then=then))
    return (Finding(_("Hazards at {place} were still open when the incident was detected: "
                      "{hazards}.").format(place=hazard_place(prior),
                                           hazards=_(", ").join(said))),)


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
            objective.name, _(objective.title), grade, counts, complied=complied,
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
        return _("no incident graded")
    share = f"{one_decimal(math.floor(complied * 1000 / graded) / 10)}%"
    if objective.rule != "within":
        if grade is Grade.P:
            return _("{complied} of {graded} graded P or S ({share})").format(
                complied=complied, graded=graded, share=share)
        return _("{complied} of {graded} graded P or S ({share}; S needs {bar})").format(
            complied=complied, graded=graded, share=share, bar=_NINETY)
    assert objective.target is not None
    met = _("{complied} of {graded} within {target}").format(
        complied=complied, graded=graded, target=minutes(objective.target))
    if grade is Grade.P:
        return _("{met} ({share})").format(met=met, share=share)
    if grade is Grade.S:
        return _("{met} ({share}, meeting the {bar} rule)").format(met=met, share=share,
                                                                    bar=_NINETY)
    return _("{met} ({share}; the {bar} rule needs {bar})").format(met=met, share=share,
                                                                   bar=_NINETY)


_NINETY = "90%"  # NFPA's bar, kept out of the messages: a "%" in one reads as a %-format
