"""The ``live`` view: which incidents and orders are open now, so the watch reads only those.

One document per incident and order, keyed by its id: ``kind`` ``"incident"`` or
``"order"`` while it is open, ``"ended"`` once a fact whose class declares it ``ends``
is recorded (an incident's resolution or closure; an order's completion, cancellation or
rejection: no deadline is needed after them), open again after a reopening (``reopens``);
``subject`` (what it is, ended or not), ``community``, and ``at``, its beginning
(detection or placement, as corrected: epoch seconds). The views' index on (view, kind,
at) then gives the open cases of a kind without reading the ended ones: a tick's work
follows what is open, not the length of the history (resilience.services.deadlines).

It only folds facts. Whether a deadline is due is decided by the watch, on the case as
stored (``Store.current``), never here: a changed policy needs no rebuild.
"""

from typing import Any

from resilience.domain.base import FactAggregate
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.projections.base import Delivery, Doc, Docs

ENDED = "ended"
"""The kind of a live document whose case has ended (its last step ``ends``)."""
_CASES = ("incident", "order")


class Live:
    """Open incidents and orders (see the module docstring)."""

    view = "live"
    owners = frozenset(_CASES)
    """Whose documents it reads (resilience.projections.base ``reads``)."""

    def __init__(self) -> None:
        self._ignored: set[tuple[type, str]] = set()
        """(event class, owner) of the deliveries this view takes nothing from: most
        facts of a case, and every fact of other aggregates (so they cost one lookup)."""

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        event = delivery.event
        if (event.__class__, delivery.owner) in self._ignored:
            return
        match event:
            case Incident.Detected() | ServiceOrder.Placed():
                subject = delivery.owner
                docs.put(delivery.key, {"kind": subject, "subject": subject,
                                        "community": str(event.community_id),
                                        "at": event.occurred_at.timestamp()})
            case FactAggregate.Event() if type(event).ends and delivery.owner in _CASES:
                self._set(delivery, docs, kind=ENDED)
            case FactAggregate.Event() if type(event).reopens and delivery.owner in _CASES:
                self._set(delivery, docs, kind=delivery.owner)
            case FactAggregate.TimeCorrected() if delivery.owner in _CASES:
                if event.corrects == 1:
                    self._set(delivery, docs, at=event.corrected_to.timestamp())
            case _:
                # Nothing above depends on more than the class and the owner.
                self._ignored.add((event.__class__, delivery.owner))

    @staticmethod
    def _set(delivery: Delivery, docs: Docs, **changes: Any) -> None:
        doc: Doc | None = docs.get(delivery.key)
        if doc is None:
            raise LookupError(f"the live view has no document {delivery.key} for version "
                              f"{delivery.version}: it did not see the case's first fact; "
                              "rebuild the views")
        doc.update(changes)
        docs.put(delivery.key, doc)
