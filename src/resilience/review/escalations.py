"""Escalations graded in a review: was each one raised when it was needed?

Each level of each deadline of the escalation policy that applies to the incident
(``resilience.domain.deadline_state.deadline_states``) and fell due by the cut is graded by
**effective times**, as the response really went, against the escalations **recorded**:

- ``raised``: needed (at its due time the deadline was unmet and the cycle open) and
  raised; its lag is how long after the due time the watch recorded it;
- ``missed``: needed, never raised: no watch ran between the due time and the fact that
  stopped it (a fact recorded, however late, stops the watch from raising it);
- ``unneeded``: raised, but the deadline was met in time, or the cycle had ended, by the
  times as now known: a fact recorded after the escalation, or a time corrected since;
- ``not_needed``: met in time or ended, and not raised.

An escalation recorded for a deadline the policy has not (another policy's, or one whose
filter no longer admits the incident as reclassified) cannot be graded: it is listed as
``outside_policy``. Pure: the same states and facts always grade the same.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from attrs import frozen

from resilience.domain.deadline_state import DeadlineState
from resilience.domain.escalated import Notified
from resilience.domain.incident import Incident
from resilience.i18n import N_, _, ngettext
from resilience.review.text import clock, enum_words, minutes

EscalationVerdict = Literal["raised", "missed", "unneeded", "not_needed", "outside_policy"]
"""How one deadline level of an incident is graded: see the module docstring."""


@frozen
class EscalationResult:
    """One level of one escalation deadline, in one cycle of the incident, graded by
    effective times against the escalations recorded."""

    deadline: str
    level: int
    cycle: int
    due_at: datetime
    verdict: EscalationVerdict
    met_at: datetime | None
    """When the earliest fact meeting the deadline happened (None: none by the cut)."""
    ended_at: datetime | None
    """When the cycle ended (resolution or closure; None: not by the cut)."""
    version: int | None = None
    """The Escalated fact recorded for the level (None: none)."""
    recorded_at: datetime | None = None
    """When that fact was recorded: the watch's tick that raised it."""
    lag: timedelta | None = None
    """``recorded_at - due_at``: how long after its due time the watch raised it."""
    notified: tuple[Notified, ...] = ()
    """Whom the escalation told, as resolved from the roster when it was due."""


def grade_escalations(states: Iterable[DeadlineState], facts: Iterable[Incident.Escalated],
                      *, until: datetime) -> tuple[EscalationResult, ...]:
    """The levels of ``states`` due by ``until`` graded (module docstring), with the
    escalations of ``facts`` (the incident's Escalated facts known at the cut) that no
    state accounts for; in due order. A meeting or ending after ``until`` is left out:
    it had not happened at the cut."""
    recorded = {fact.originator_version: fact for fact in facts}
    graded: list[EscalationResult] = []
    for state in states:
        if state.due_at > until:
            continue
        fact = recorded.pop(state.escalated, None) if state.escalated is not None else None
        raised = state.escalated is not None
        verdict: EscalationVerdict = (("raised" if raised else "missed") if state.needed
                                      else "unneeded" if raised else "not_needed")
        graded.append(EscalationResult(
            state.deadline, state.level, state.cycle, state.due_at, verdict,
            _by(state.met_at, until), _by(state.ended_at, until), state.escalated,
            state.escalated_recorded_at,
            None if state.escalated_recorded_at is None
            else state.escalated_recorded_at - state.due_at,
            fact.notified if fact is not None else ()))
    for fact in recorded.values():
        if fact.due_at <= until:
            graded.append(EscalationResult(
                fact.deadline, fact.level, fact.cycle, fact.due_at, "outside_policy", None,
                None, fact.originator_version, fact.timestamp, fact.timestamp - fact.due_at,
                fact.notified))
    return tuple(sorted(graded, key=lambda r: (r.due_at, r.cycle, r.deadline, r.level)))


def _by(moment: datetime | None, until: datetime) -> datetime | None:
    return moment if moment is not None and moment <= until else None


VERDICTS: Mapping[EscalationVerdict, str] = {
    "raised": N_("raised as needed"),
    "missed": N_("missed"),
    "unneeded": N_("unneeded"),
    "not_needed": N_("not needed"),
    "outside_policy": N_("not in this policy"),
}
"""Each verdict in words, as the review's tables and sentences give it (in English: the
review translates them)."""


def verdict_words(result: EscalationResult, origin: datetime) -> str:
    """"raised as needed", "missed: never raised before it was met at 15:12", "not needed:
    met at 15:01", "unneeded: the cycle ended at 15:30"."""
    name = _(VERDICTS[result.verdict])
    stopped = _stopped(result, origin)
    if result.verdict == "missed":
        if stopped:
            return _("{verdict}: never raised before {stopped}").format(verdict=name,
                                                                         stopped=stopped)
        return _("{verdict}: never raised").format(verdict=name)
    if result.verdict in ("unneeded", "not_needed") and stopped:
        return _("{verdict}: {stopped}").format(verdict=name, stopped=stopped)
    return name


def _stopped(result: EscalationResult, origin: datetime) -> str:
    """What met the deadline or ended its cycle first, and when: "it was met at 15:01",
    "the cycle ended at 15:30" ("" if neither by the cut)."""
    met, ended = result.met_at, result.ended_at
    if met is not None and (ended is None or met <= ended):
        return _("it was met at {time}").format(time=clock(met, origin))
    if ended is not None:
        return _("the cycle ended at {time}").format(time=clock(ended, origin))
    return ""


def told(notified: Sequence[Notified], people: Mapping[str, str]) -> str:
    """Whom an escalation told: "Wang Fang (grid leader of 3); nobody held community
    staff"; "Daimiao (subdistrict)"."""
    found = []
    for one in notified:
        if one.role is None:
            found.append(f"{one.body} ({one.scope})" if one.scope
                         else _("{body} (body)").format(body=one.body))
            continue
        role = (_("{role} of {scope}").format(role=enum_words(one.role), scope=one.scope)
                if one.scope else enum_words(one.role))
        found.append(f"{people.get(one.person_id, one.person_id)} ({role})"
                     if one.person_id is not None
                     else _("nobody held {role}").format(role=role))
    return _("; ").join(found)


def escalation_summary(results: Sequence[EscalationResult]) -> str:
    """"3 deadline levels due: 1 raised as needed (at most 40 s after its due time), 1
    missed (no watch ran in time to raise it), 1 not needed."."""
    if not results:
        return _("No deadline of the escalation policy fell due.")
    counts = {verdict: sum(1 for r in results if r.verdict == verdict) for verdict in VERDICTS}
    parts = []
    for verdict, count in counts.items():
        if not count:
            continue
        part = _("{count} {verdict}").format(count=count, verdict=_(VERDICTS[verdict]))
        if verdict == "raised":
            lags = [r.lag for r in results if r.verdict == "raised" and r.lag is not None]
            if lags:
                part += _(" (at most {lag} after its due time)").format(lag=minutes(max(lags)))
        elif verdict == "missed":
            part += _(" (no watch ran in time to raise it)")
        elif verdict == "unneeded":
            part += _(" (met in time by the times recorded since)")
        parts.append(part)
    return ngettext("{count} deadline level due: {verdicts}.",
                    "{count} deadline levels due: {verdicts}.", len(results)).format(
        count=len(results), verdicts=_(", ").join(parts))
