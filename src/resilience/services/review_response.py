"""What a review says of an incident's live response, read from its stored facts: its
escalations graded, and the recovery work linked to it.

Escalations are graded under the escalation policy the review is given (the engine's
current one), as the watch decides which deadlines a case is held to
(``resilience.domain.deadline_state.case_deadlines``), on the facts known at the cut
(``resilience.services.known``); resilience.review.escalations has the grading rule.
"""

from collections.abc import Sequence
from datetime import datetime

from attrs import evolve

from resilience.domain.base import FactAggregate
from resilience.domain.deadline_state import InEmergency, case_deadlines
from resilience.domain.escalation import EscalationPolicy
from resilience.domain.incident import Incident
from resilience.metrics.cases import Case
from resilience.review.escalations import EscalationResult, grade_escalations
from resilience.review.sight import HIDDEN
from resilience.services.known import known_facts
from resilience.services.point_in_time import Cut
from resilience.services.recovery import Recoveries, Recovery


def graded_escalations(events: Sequence[FactAggregate.Event], cut: Cut, at: datetime,
                       policy: EscalationPolicy | None, in_emergency: InEmergency | None
                       ) -> tuple[EscalationResult, ...] | None:
    """The incident's deadline levels due by ``at``, graded on its facts (``events``)
    known at the cut; None without an escalation ``policy``."""
    if policy is None:
        return None
    incident, known = known_facts(events, cut.known_at)
    assert isinstance(incident, Incident)  # the cut holds the detection (the case is there)
    states = case_deadlines(incident, policy, in_emergency)
    return grade_escalations(states, [e for e in known if isinstance(e, Incident.Escalated)],
                             until=at)


def linked_recovery(recoveries: Recoveries, case: Case, events: Sequence[FactAggregate.Event],
                    cut: Cut, *, hidden: bool) -> Recovery:
    """The recovery of the incident ``case`` (its own ``events`` read at ``cut``);
    ``hidden``: what each piece of work is for (the linker's words) reads "[hidden]"."""
    recovery = recoveries.of_case(case, events, cut)
    if hidden:
        recovery = evolve(recovery, links=tuple(evolve(link, purpose=HIDDEN)
                                                for link in recovery.links))
    return recovery
