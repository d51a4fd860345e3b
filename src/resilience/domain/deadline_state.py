"""Where a case stands against the deadlines of an escalation policy.

``deadline_states`` works out, for each level of each deadline that applies to a case and
each cycle it applies to (resilience.domain.escalation: the rules), when it fell due,
when a fact met it and when the cycle ended: the facts whose class declares it ``ends``
(an incident's resolution and closure; an order's completion, cancellation and
rejection). ``case_deadlines`` first asks whether the case began in an emergency (the
``InEmergency`` question the engine answers from its emergencies), as the watch, the
reviews and the what-ifs all decide it: one rule, one place.
"""

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from uuid import UUID

from attrs import frozen

from resilience.domain.base import Correction, FactAggregate, FactTime, happening_order, in_cycles
from resilience.domain.escalation import Case, EscalationPolicy, subject_of
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import check_instance

InEmergency = Callable[[UUID, str | None, datetime], bool]
"""``in_emergency(community_id, area_id, at)``: was that area (the community's, or its
grid's) in an emergency at ``at``? Decides whether a case that began then has the
emergency deadlines."""


@frozen
class DeadlineState:
    """One level of one deadline in one cycle of a case, as the case stands (effective
    times, corrections applied; needed and due: resilience.domain.escalation's "When it is
    needed")."""

    case_id: UUID
    deadline: str
    level: int
    cycle: int
    due_at: datetime
    met_at: datetime | None
    """Effective time of the earliest fact meeting the deadline in the cycle (None: none
    is recorded)."""
    ended_at: datetime | None
    """Effective time of the cycle's ending (None: none is recorded)."""
    escalated: int | None
    """Version of the Escalated fact recorded for this level, if any."""
    escalated_recorded_at: datetime | None

    @property
    def needed(self) -> bool:
        """At ``due_at``, by effective times, the deadline was unmet and the cycle open."""
        return ((self.met_at is None or self.met_at > self.due_at)
                and (self.ended_at is None or self.ended_at > self.due_at))

    def due(self, now: datetime) -> bool:
        """What the watch raises at ``now``: due, with no meeting fact, no ending and no
        escalation recorded."""
        return (self.due_at <= now and self.met_at is None and self.ended_at is None
                and self.escalated is None)


def deadline_states(case: Case, policy: EscalationPolicy, *,
                    emergency: bool) -> list[DeadlineState]:
    """Every level of every deadline of ``policy`` that applies to ``case`` (the emergency
    deadlines if it began in one), per cycle, in the policy's order, then by cycle and
    level."""
    check_instance(policy, "policy", EscalationPolicy)
    kind = subject_of(case)
    facts = [FactTime(at, version) for version, at in case.occurred.items()
             if not issubclass(case.fact_types[version], Correction)]
    cycles = in_cycles(facts, lambda fact: bool(case.fact_types[fact.version].reopens))
    states = []
    for deadline in policy.for_case(emergency=emergency):
        if deadline.subject != kind:
            continue
        meeting, spans = deadline.meeting(), cycles if deadline.recurring else [cycles[0]]
        for number, cycle in enumerate(spans):
            if deadline.from_expected:
                assert isinstance(case, ServiceOrder)  # only orders have one
                base = case.expected_by
            else:
                assert deadline.within is not None
                base = cycle[0].occurred_at + deadline.within
            if not deadline.applies(case, base):
                continue
            searched = cycle if deadline.recurring else facts
            met = _earliest(case, searched, partial(_one_of, meeting))
            ended = _earliest(case, cycle, _ends)
            for level, step in enumerate(deadline.levels):
                escalated = case.escalations.get((deadline.name, number, level))
                states.append(DeadlineState(
                    case.id, deadline.name, level, number, base + step.after, met, ended,
                    None if escalated is None else escalated[0],
                    None if escalated is None else escalated[1]))
    return states


def _one_of(classes: tuple[type[FactAggregate.Event], ...],
            fact: type[FactAggregate.Event]) -> bool:
    return issubclass(fact, classes)


def _ends(fact: type[FactAggregate.Event]) -> bool:
    return fact.ends


def _earliest(case: Case, facts: Iterable[FactTime],
              counts: Callable[[type[FactAggregate.Event]], bool]) -> datetime | None:
    found = [fact for fact in facts if counts(case.fact_types[fact.version])]
    return min(found, key=happening_order).occurred_at if found else None


def began_in_emergency(case: Case, in_emergency: InEmergency | None) -> bool:
    """Did ``case`` begin (its first fact, as corrected) while its area was in an
    emergency? False without an ``in_emergency`` to ask."""
    if in_emergency is None:
        return False
    area = case.area if isinstance(case, Incident) else case.area_id
    return in_emergency(case.community_id, area, case.occurred[1])


def case_deadlines(case: Case, policy: EscalationPolicy,
                   in_emergency: InEmergency | None) -> list[DeadlineState]:
    """``deadline_states`` of ``case`` under ``policy``, with the emergency deadlines if it
    began in an emergency (``began_in_emergency``)."""
    return deadline_states(case, policy, emergency=began_in_emergency(case, in_emergency))
