"""Linked recovery: the facts that tie an incident to the work that repairs what it broke.

A response is not over when the fire is out: the lock broken with the resident's consent
is repaired by a service order, the storage room cleared by an improvement item. The
link is a fact on both sides, recorded by one command in one transaction
(``engine.incidents.link_recovery``): ``Incident.RecoveryLinked`` on the incident,
``LinkedToIncident`` on the order or item. Each order or item serves the recovery of
at most one incident, and is linked to it once.

Recovery follows the response, so a link is never refused because its incident stands
closed (or its improvement item stands done or cancelled): the facts marked
``RecoveryFact`` follow the closure (``FactAggregate.Event.follows_closure``), exempt from
the amendment rule (``FactAggregate._check_writable``), and a time correction may move
one past the closure (``FactAggregate._check_closure_kept``). They are no step of anyone's
life and no amendment of a closed record. What counts as recovered is decided when read
(resilience.metrics.recovery).
"""

from enum import StrEnum
from typing import Any, ClassVar, Protocol
from uuid import UUID

from resilience.domain.base import personal_data
from resilience.domain.validation import check_uuid
from resilience.errors import InvalidTransitionError
from resilience.i18n import N_, _


class RecoveryKind(StrEnum):
    """What an incident's recovery link names: a service order or an improvement item
    (named as the views name their aggregates)."""

    ORDER = "order"
    IMPROVEMENT = "improvement"


class RecoveryFact:
    """What the facts of a recovery link are (a plain mix-in placed before the
    aggregate's ``Event``, as ``Correction`` is): they follow the response, so they are
    recorded whether or not their aggregate stands closed (``follows_closure``)."""

    follows_closure: ClassVar[bool] = True


class IncidentLink(RecoveryFact):
    """What an order's and an item's ``LinkedToIncident`` facts share beside their fields
    (each class declares those: ``incident_id``, ``purpose``): the purpose is its
    author's personal data, the wording, and the link their aggregate holds
    (``recovery_of``). A plain mix-in placed before the aggregate's ``Event``, as
    ``Correction`` is for corrections."""

    personal = personal_data({"purpose": "actor"})
    incident_id: UUID
    purpose: str

    def apply(self, aggregate: Any) -> None:
        aggregate.recovery_of = self.incident_id

    def describe(self) -> str:
        return f"linked to the recovery of incident {self.incident_id}: {self.purpose}"


class _Linkable(Protocol):
    recovery_of: UUID | None


def check_recovery_link(work: _Linkable, incident_id: UUID, noun: str) -> None:
    """Refuse to link ``work`` (an order or an item, called ``noun``) to the recovery of
    ``incident_id`` if it serves an incident's recovery already (this one's or another's):
    what a link to either asks, beside the time it is dated at."""
    check_uuid(incident_id, "incident_id")
    if work.recovery_of is not None:
        another, this = _ALREADY_LINKED[noun]
        raise InvalidTransitionError(
            _(another).format(incident=work.recovery_of) if work.recovery_of != incident_id
            else _(this))


_ALREADY_LINKED = {
    "order": (N_("the order is already linked to the recovery of incident {incident}"),
              N_("the order is already linked to this incident's recovery")),
    "item": (N_("the item is already linked to the recovery of incident {incident}"),
             N_("the item is already linked to this incident's recovery")),
}
"""``check_recovery_link``'s refusals, by what is linked: linked to another incident's
recovery, and to this one's."""
