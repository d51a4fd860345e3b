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

Each sentence is one message of the catalog (resilience.i18n), worded in the language
current when the review is made; the date of detection is a sentence's date
(:func:`resilience.review.text.day`).
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from resilience.domain.incident import Incident
from resilience.domain.values import IncidentType
from resilience.i18n import _, ngettext
from resilience.metrics.cases import Case
from resilience.review.situations import Cycle, IncidentSituation
from resilience.review.text import clock, day, enum_words, minutes
from resilience.timeline import Timeline

__all__ = ["summary"]


def summary(case: Case, situation: IncidentSituation, timeline: Timeline,
            people: Mapping[str, str], containment: timedelta | None) -> tuple[str, ...]:
    """The review's summary of one incident (``containment``: the containment objective's
    target, if any)."""
    detected = case.start
    cycles = situation.cycles
    lines = [(_("Drill: ") if case.drill else "") + _(
        "{type} ({severity}) in grid {grid}, detected at {time} on {date}.").format(
        type=enum_words(situation.incident_type), severity=enum_words(situation.severity),
        grid=case.dims.get("grid") or "?", time=clock(detected), date=day(detected))]
    # The first response's containment (the one the objectives grade).
    contained = case.milestones.get("contained")
    if contained is not None:
        target = (_(" (target {target})").format(target=minutes(containment))
                  if containment is not None else "")
        first = _("Contained at {time}, {took} after detection{target}").format(
            time=clock(contained, detected), took=minutes(contained - detected), target=target)
    elif len(cycles) == 1 and situation.closure_reason not in (None, "resolved"):
        first = _("Nothing to contain: closed as {reason}").format(
            reason=enum_words(situation.closure_reason))
    else:
        first = _("No containment recorded")
    if len(cycles) > 1:
        first += "".join(_("; ") + part for part in _ending(cycles[0], detected, closed=True))
    lines.append(first + _("."))
    lines += [_reopening(cycle, situation, timeline, detected, last=cycle is cycles[-1])
              for cycle in cycles[1:]]
    lines.append(_responders(situation, people))
    asked = sum(1 for f in case.facts if f.name == Incident.ConsentRequested.fact_name)
    if asked:
        granted = len(situation.consents_granted)
        lines.append(ngettext("Consent asked {asked} time", "Consent asked {asked} times",
                              asked).format(asked=asked)
                     + ngettext(", granted by {granted} resident",
                                ", granted by {granted} residents", granted).format(
                                    granted=granted)
                     + _("; {pending} still awaited.").format(
                         pending=len(situation.pending_consents)))
    ended = situation.closed_at or situation.resolved_at
    if ended is not None and (len(cycles) == 1 or situation.closed_at is not None):
        how = (_("Closed ({reason}) at {time}.") if situation.closure_reason
               else _("Resolved at {time}."))
        lines.append(how.format(reason=enum_words(situation.closure_reason),
                                time=clock(ended, detected)))
    elif ended is None:
        lines.append(_("Status at this cut: {status}.").format(
            status=enum_words(situation.status)))
    return tuple(lines)


def _ending(cycle: Cycle, origin: datetime, *, closed: bool) -> list[str]:
    """How a cycle ended: its resolution, and (``closed``) its closure."""
    parts = []
    if cycle.resolved_at is not None:
        parts.append(_("resolved at {time}").format(time=clock(cycle.resolved_at, origin)))
    if closed and cycle.closed_at is not None:
        reason = enum_words(cycle.closure_reason) if cycle.closure_reason else ""
        parts.append(_("closed ({reason}) at {time}").format(
            reason=reason, time=clock(cycle.closed_at, origin)))
    return parts


def _reopening(cycle: Cycle, situation: IncidentSituation, timeline: Timeline,
               origin: datetime, *, last: bool) -> str:
    """One reopening's sentence: when and why, its containment and resolution (and its
    closure, unless it is the last cycle: the review's last line says that)."""
    fire = situation.incident_type == IncidentType.FIRE
    if cycle.number > 1:
        verb = _("Rekindled again at {time} ({said})") if fire else _(
            "Reopened again at {time} ({said})")
    else:
        verb = _("Rekindled at {time} ({said})") if fire else _("Reopened at {time} ({said})")
    # The timeline's words for the reopening: its reason, as corrected.
    said = next((e.details for e in timeline.entries if e.version == cycle.reopening),
                f"reopened: {cycle.reason}" if cycle.reason else "reopened")
    parts = [verb.format(time=clock(cycle.started_at, origin), said=said)]
    if cycle.contained_at is not None:
        parts.append(_("contained again at {time}, {took} after the reopening").format(
            time=clock(cycle.contained_at, origin),
            took=minutes(cycle.contained_at - cycle.started_at)))
    elif cycle.resolved_at is not None or cycle.closed_at is not None:
        parts.append(_("no containment recorded"))
    else:
        parts.append(_("no containment recorded yet"))
    parts += _ending(cycle, origin, closed=not last)
    return _("; ").join(parts) + _(".")


def _responders(situation: IncidentSituation, people: Mapping[str, str]) -> str:
    """Who was sent and who arrived, each person once whatever the cycles."""
    dispatched = {r.responder_id for r in situation.responders if r.dispatched_at is not None}
    arrived = {r.responder_id for r in situation.responders
               if r.responder_id in dispatched and r.on_scene_at is not None}
    undispatched = [people.get(r, r) for r in dict.fromkeys(
        r.responder_id for r in situation.responders
        if r.responder_id not in dispatched and r.on_scene_at is not None)]
    commander = situation.commander
    return (ngettext("{count} responder dispatched, {arrived} of them on scene",
                     "{count} responders dispatched, {arrived} of them on scene",
                     len(dispatched)).format(count=len(dispatched), arrived=len(arrived))
            + (_("; also on scene: {people}").format(people=_(", ").join(undispatched))
               if undispatched else "")
            + (_("; incident commander {person}").format(person=people.get(commander,
                                                                            commander))
               if commander else "") + _("."))
