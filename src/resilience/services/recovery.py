"""``engine.recovery``: an incident's linked recovery at a cut, read from the facts.

The incident and each order or item linked to it are read from their own events (as
``engine.replay`` reads one incident), folded in memory through the projections and cut
alike (``as_of``: what had happened by then; ``known_at``: what had been recorded by
then), so the answer never waits for the views. The rule for what is done and when the
incident is recovered is resilience.metrics.recovery's, the one the
``detection_to_recovered`` metric reads the views with. Links are recorded by
``engine.incidents.link_recovery``.
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from resilience.domain.base import FactAggregate
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.recovery import RecoveryKind
from resilience.domain.service import ServiceOrder
from resilience.errors import NotFoundError
from resilience.i18n import _
from resilience.metrics.cases import Case
from resilience.metrics.recovery import (
    Linked,
    Recovery,
    RecoveryLink,
    link_facts,
    linked_at,
    recovery,
)
from resilience.projections.base import Delivery, Doc
from resilience.projections.plans import Plans
from resilience.review.situations import case_doc
from resilience.services.core import EventStoreApplication
from resilience.services.point_in_time import Cut, own_events

__all__ = ["Recoveries", "Recovery", "RecoveryLink"]


class Recoveries:
    """Reads incidents' recoveries (``engine.recovery`` is ``recovery``)."""

    def __init__(self, app: EventStoreApplication) -> None:
        self._app = app

    def recovery(self, incident_id: UUID, *, as_of: datetime | None = None,
                 known_at: datetime | None = None) -> Recovery:
        """The incident's recovery: each order or improvement item linked to it (what for,
        when, its status, when it was done) and when the incident was recovered, as it
        stood at the cut (resilience.metrics.recovery has the rule).

        Raises NotFoundError if the incident had not been detected by ``as_of`` or
        recorded by ``known_at`` (InvalidInputError for a bad id or moment).
        """
        cut = Cut.of(as_of, known_at)
        events = own_events(self._app, incident_id, Incident)
        case = cut.case(str(incident_id), case_doc(events))
        if case is None:
            raise NotFoundError(_("incident {id} is not in the record at that cut").format(
                id=incident_id))
        return self.of_case(case, events, cut)

    def of_case(self, case: Case, events: Sequence[FactAggregate.Event], cut: Cut) -> Recovery:
        """The recovery of the incident ``case`` (its own ``events`` read at ``cut``): each
        order or item linked to it read at the same cut (``recovery`` is this for an id)."""
        linked: dict[UUID, Linked] = {}
        for _fact, linked_id, kind, _purpose in link_facts(case):
            linked[linked_id] = self._linked(linked_id, kind, cut)
        return recovery(case, linked, _purposes(events, cut))

    def _linked(self, linked_id: UUID, kind: str, cut: Cut) -> Linked:
        if kind == RecoveryKind.ORDER:
            doc = case_doc(own_events(self._app, linked_id, ServiceOrder))
        else:
            doc = _plans_doc(own_events(self._app, linked_id, ImprovementItem))
        return linked_at(kind, str(linked_id), doc, as_of=cut.as_of, known_at=cut.known_at)


def _plans_doc(events: Sequence[FactAggregate.Event]) -> Doc:
    """One improvement item's ``plans`` document, folded from its own events in memory."""
    docs = _Docs()
    fold = Plans()
    for event in events:
        fold.apply(Delivery.of(event), docs)
    return docs[str(events[0].originator_id)]


class _Docs(dict[str, Doc]):
    def put(self, key: str, doc: Doc) -> None:
        self[key] = doc


def _purposes(events: Sequence[FactAggregate.Event], cut: Cut) -> dict[int, str]:
    """Each link's purpose by its version, as corrected by the details corrections known
    at the cut (every one without ``known_at``)."""
    purposes = {event.originator_version: event.purpose for event in events
                if isinstance(event, Incident.RecoveryLinked)}
    for event in events:
        if (isinstance(event, Incident.DetailsCorrected) and event.corrects in purposes
                and (cut.known_at is None or event.timestamp <= cut.known_at)):
            purposes[event.corrects] = event.details
    return purposes
