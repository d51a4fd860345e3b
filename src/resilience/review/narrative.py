"""The few sentences that open an incident's review: what happened, when it was contained,
how every cycle went, how it ended.

Sentences give times to the minute (:func:`resilience.review.text.clock`), in the
zone of the incident's detection. An incident never reopened reads:

    fire (high) in grid 3, detected at 15:00 on 2022-02-15.
    Contained at 15:12, 12 min after detection (target 15 min).
    3 responders dispatched, 2 of them on scene; ...
    Closed (resolved) at 16:30.

A reopened one says how its first response ended on the containment line, then gives
each reopening a sentence of its own, so no cycle is folded away:

    Contained at 10:20, 20 min after detection (target 15 min); resolved at 10:30.
    Rekindled at 11:00 (reopened: flare-up behind the shelving); contained again at
    11:10, 10 min after the reopening; resolved at 11:30.

("Rekindled" for a fire, "Reopened" otherwise; "again" from the second reopening on.)
The last line is then the closure, if the incident stands closed, or its status at
the cut if it is neither resolved nor closed.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from resilience.domain.incident import Incident
from resilience.domain.values import IncidentType
from resilience.metrics.cases import Case
from resilience.review.situations import Cycle, IncidentSituation
from resilience.review.text import clock, minutes, plural
from resilience.timeline import Timeline

__all__ = ["summary"]


def summary(case: Case, situation: IncidentSituation, timeline: Timeline,
            people: Mapping[str, str], containment: timedelta | None) -> tuple[str, ...]:
    """The review's summary of one incident (``containment``: the containment objective's
    target, if any)."""
    detected = case.start
    cycles = situation.cycles
    lines = [f"{'Drill: ' if case.drill else ''}{situation.incident_type} "
             f"({situation.severity}) in grid {case.dims.get('grid') or '?'}, detected at "
             f"{clock(detected)} on {detected:%Y-%m-%d}."]
    # The first response's containment (the one the objectives grade).
    contained = case.milestones.get("contained")
    if contained is not None:
        target = f" (target {minutes(containment)})" if containment is not None else ""
        first = (f"Contained at {clock(contained, detected)}, "
                 f"{minutes(contained - detected)} after detection{target}")
    elif len(cycles) == 1 and situation.closure_reason not in (None, "resolved"):
        first = ("Nothing to contain: closed as "
                 f"{str(situation.closure_reason).replace('_', ' ')}")
    else:
        first = "No containment recorded"
    if len(cycles) > 1:
        first += "".join(f"; {part}" for part in _ending(cycles[0], detected, closed=True))
    lines.append(first + ".")
    lines += [_reopening(cycle, situation, timeline, detected, last=cycle is cycles[-1])
              for cycle in cycles[1:]]
    lines.append(_responders(situation, people))
    asked = sum(1 for f in case.facts if f.name == Incident.ConsentRequested.fact_name)
    if asked:
        lines.append(f"Consent asked {plural(asked, 'time')}, granted by "
                     f"{plural(len(situation.consents_granted), 'resident')}; "
                     f"{len(situation.pending_consents)} still awaited.")
    ended = situation.closed_at or situation.resolved_at
    if ended is not None and (len(cycles) == 1 or situation.closed_at is not None):
        how = (f"closed ({situation.closure_reason.replace('_', ' ')})"
               if situation.closure_reason else "resolved")
        lines.append(f"{how.capitalize()} at {clock(ended, detected)}.")
    elif ended is None:
        lines.append(f"Status at this cut: {situation.status.value.replace('_', ' ')}.")
    return tuple(lines)


def _ending(cycle: Cycle, origin: datetime, *, closed: bool) -> list[str]:
    """How a cycle ended: its resolution, and (``closed``) its closure."""
    parts = []
    if cycle.resolved_at is not None:
        parts.append(f"resolved at {clock(cycle.resolved_at, origin)}")
    if closed and cycle.closed_at is not None:
        reason = (cycle.closure_reason or "").replace("_", " ")
        parts.append(f"closed ({reason}) at {clock(cycle.closed_at, origin)}")
    return parts


def _reopening(cycle: Cycle, situation: IncidentSituation, timeline: Timeline,
               origin: datetime, *, last: bool) -> str:
    """One reopening's sentence: when and why, its containment and resolution (and its
    closure, unless it is the last cycle: the review's last line says that)."""
    verb = "Rekindled" if situation.incident_type == IncidentType.FIRE else "Reopened"
    again = " again" if cycle.number > 1 else ""
    # The timeline's words for the reopening: its reason, as corrected.
    said = next((e.details for e in timeline.entries if e.version == cycle.reopening),
                f"reopened: {cycle.reason}" if cycle.reason else "reopened")
    parts = [f"{verb}{again} at {clock(cycle.started_at, origin)} ({said})"]
    if cycle.contained_at is not None:
        parts.append(f"contained again at {clock(cycle.contained_at, origin)}, "
                     f"{minutes(cycle.contained_at - cycle.started_at)} after the reopening")
    elif cycle.resolved_at is not None or cycle.closed_at is not None:
        parts.append("no containment recorded")
    else:
        parts.append("no containment recorded yet")
    parts += _ending(cycle, origin, closed=not last)
    return "; ".join(parts) + "."


def _responders(situation: IncidentSituation, people: Mapping[str, str]) -> str:
    """Who was sent and who arrived, each person once whatever the cycles."""
    dispatched = {r.responder_id for r in situation.responders if r.dispatched_at is not None}
    arrived = {r.responder_id for r in situation.responders
               if r.responder_id in dispatched and r.on_scene_at is not None}
    undispatched = [people.get(r, r) for r in dict.fromkeys(
        r.responder_id for r in situation.responders
        if r.responder_id not in dispatched and r.on_scene_at is not None)]
    commander = situation.commander
    return (f"{plural(len(dispatched), 'responder')} dispatched, {len(arrived)} of them on "
            "scene" + (f"; also on scene: {', '.join(undispatched)}" if undispatched else "")
            + (f"; incident commander {people.get(commander, commander)}" if commander
               else "") + ".")
