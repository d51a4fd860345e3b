"""The three projections: each folds facts into JSON documents, one per aggregate.

``timelines``: every fact of an incident, order, community or improvement
item as a timeline entry (who, what, when it happened, when it was
recorded), with corrections applied beside the original.

``cases``: what metrics and scorecards group and measure: each incident's
and order's dimensions as first recorded (community, grid, type at
detection, category...), its facts with their effective times and the part
of their payload that cases are grouped or measured by (a reclassification,
a provider, an outcome, a score...), each community's grids, and each
activity held. Improvement items are not cases: they are left out.

``plans`` (resilience.projections.plans): each improvement item of an
after-action review's improvement plan, with the history of its status.

They only fold facts: which fact is a milestone, what a duration is and what
meets a target are decided when the views are read (resilience.metrics), so
a changed definition needs no rebuild.
"""

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from resilience.domain.base import CORRECTION_EVENTS, FactAggregate
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.service import ServiceOrder
from resilience.projections.plans import Plans
from resilience.timeline import describe

Doc = dict[str, Any]
OWNER_KINDS: dict[type, str] = {
    Incident.Event: "incident", ServiceOrder.Event: "order", Community.Event: "community",
    ImprovementItem.Event: "improvement"}
"""The kind of each aggregate's documents, by the base class of its events (so by what an
event is, whatever its class is called)."""
_owners: dict[type, str] = {}


class Docs(Protocol):
    """The documents of one view, as of the event being folded."""

    def get(self, key: str) -> Doc | None: ...

    def put(self, key: str, doc: Doc) -> None: ...


class Delivery(NamedTuple):
    """One event as the projections receive it, with what they all need worked out once."""

    event: Any
    key: str
    """The aggregate id as text."""
    name: str
    """The fact's name (``fact_name``: from its topic, not its class name)."""
    version: int
    occurred: str
    recorded: str
    owner: str
    """The kind of aggregate the event belongs to (``OWNER_KINDS``)."""

    @classmethod
    def of(cls, event: FactAggregate.Event) -> "Delivery":
        return cls(event, str(event.originator_id), type(event).fact_name,
                   event.originator_version, event.occurred_at.isoformat(),
                   event.timestamp.isoformat(), owner_kind(event))


class Projection(Protocol):
    view: str

    def apply(self, delivery: Delivery, docs: Docs) -> None: ...


def owner_kind(event: object) -> str:
    """The kind of aggregate an event belongs to; KeyError if it is none of the library's."""
    cls = type(event)
    found = _owners.get(cls)
    if found is None:
        for base, kind in OWNER_KINDS.items():
            if issubclass(cls, base):
                found = _owners[cls] = kind
                break
        else:
            raise KeyError(f"{cls.__module__}:{cls.__qualname__} is no event of an incident, "
                           "order, community or improvement item")
    return found


def community_of(event: Any) -> str:
    community = getattr(event, "community_id", None)
    return str(community if community is not None else event.originator_id)


def _existing(docs: Docs, key: str, version: int) -> Doc:
    doc = docs.get(key)
    if doc is None:
        raise LookupError(
            f"the views have no document {key} for version {version}: "
            "they did not see this aggregate's first fact; rebuild them")
    return doc


class Timelines:
    """One document per aggregate: its facts as timeline entries, in version order.

    An entry is ``[version, action, person, role, occurred, recorded, details]``
    as first recorded; ``corrected`` maps a corrected version to its effective
    ``time`` and/or ``text`` and the versions of the corrections (``by``).
    """

    view = "timelines"

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        event, key, name, version, occurred, recorded, owner = delivery
        if version == 1:
            doc: Doc = {"kind": owner, "community": community_of(event),
                        "at": event.occurred_at.timestamp(), "entries": []}
        else:
            doc = _existing(docs, key, version)
        actor = event.actor
        doc["entries"].append([version, name, actor.person_id, actor.role.value, occurred,
                               recorded, describe(event)])
        if name in CORRECTION_EVENTS:
            amended = doc.setdefault("corrected", {}).setdefault(str(event.corrects), {"by": []})
            amended["by"].append(version)
            if name == "TimeCorrected":
                amended["time"] = event.corrected_to.isoformat()
                if event.corrects == 1:
                    doc["at"] = event.corrected_to.timestamp()
            else:
                amended["text"] = event.details
        docs.put(key, doc)


def _extra(name: str, event: Any) -> Any:
    """What a fact carries beyond its name and times that cases are measured or grouped by."""
    if name in ("ResponderDispatched", "ResponderEnRoute", "ResponderOnScene"):
        return event.responder_id
    if name in ("ConsentRequested", "ConsentGranted", "ConsentRefused"):
        return event.resident_id
    if name == "CommanderAssigned":
        return event.person_id
    if name == "Reclassified":
        return [event.incident_type.value, event.severity.value]
    if name == "ActionTaken":
        return event.action.value
    if name == "Closed":
        return event.reason.value
    if name == "Dispatched":
        return [event.provider.provider_id, event.provider.kind.value]
    if name == "Completed":
        return event.outcome.value
    if name == "Rated":
        return event.score
    return None


def activity_key(community: str, version: int) -> str:
    return f"{community}/activity/{version}"


class Cases:
    """Incidents and orders with their dimensions and fact times; communities; activities.

    Improvement items are not cases: their facts are ignored."""

    view = "cases"

    def __init__(self) -> None:
        self._creators: dict[str, Callable[[Any], Doc]] = {
            "Detected": self._incident, "Placed": self._order, "Registered": self._community,
        }

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        if delivery.owner == "improvement":
            return
        event, key, name, version = delivery[:4]
        doc = self._creators[name](event) if version == 1 else _existing(docs, key, version)
        if doc["kind"] != "community":
            self._case_fact(delivery, doc)
            docs.put(key, doc)
        elif self._community_fact(name, event, doc, docs) or version == 1:
            docs.put(key, doc)

    def _case_fact(self, delivery: Delivery, doc: Doc) -> None:
        event, name, version = delivery.event, delivery.name, delivery.version
        doc["facts"].append([name, delivery.occurred, delivery.recorded, _extra(name, event)])
        if name == "TimeCorrected":
            corrected = doc["facts"][event.corrects - 1]
            corrected_to = event.corrected_to.isoformat()
            doc["corrections"].append([version, event.corrects, corrected[0], "time",
                                       event.reason, corrected[1], corrected_to])
            corrected[1] = corrected_to
            if event.corrects == 1:
                doc["at"] = event.corrected_to.timestamp()
        elif name == "DetailsCorrected":
            doc["corrections"].append([version, event.corrects,
                                       doc["facts"][event.corrects - 1][0], "details",
                                       event.reason, None, None])

    def _community_fact(self, name: str, event: Any, doc: Doc, docs: Docs) -> bool:
        """Fold a community's fact; True if the community's own document changed."""
        community = doc["community"]
        if name == "GridAdded":
            doc["grids"][event.grid_id] = event.name
            return True
        if name == "ActivityHeld":
            docs.put(activity_key(community, event.originator_version), {
                "kind": "activity", "community": community, "at": event.occurred_at.timestamp(),
                "occurred": event.occurred_at.isoformat(), "title": event.title,
                "category": event.category, "grid": event.grid_id,
                "participants": event.participants,
            })
        elif name == "TimeCorrected":
            activity = docs.get(activity_key(community, event.corrects))
            if activity is not None:
                activity["at"] = event.corrected_to.timestamp()
                activity["occurred"] = event.corrected_to.isoformat()
                docs.put(activity_key(community, event.corrects), activity)
        return False

    @staticmethod
    def _incident(event: Any) -> Doc:
        return {"kind": "incident", "community": str(event.community_id),
                "at": event.occurred_at.timestamp(), "grid": event.location.grid,
                "incident_type": event.incident_type.value, "severity": event.severity.value,
                "drill": event.drill, "facts": [], "corrections": []}

    @staticmethod
    def _order(event: Any) -> Doc:
        return {"kind": "order", "community": str(event.community_id),
                "at": event.occurred_at.timestamp(), "grid": event.grid_id,
                "zone_type": event.zone_type.value if event.zone_type else None,
                "category": event.category, "item": event.item,
                "expected_by": event.expected_by.isoformat(), "facts": [], "corrections": []}

    @staticmethod
    def _community(event: Any) -> Doc:
        return {"kind": "community", "community": str(event.originator_id), "at": None,
                "name": event.name, "district": event.district,
                "subdistrict": event.subdistrict, "grids": {}}


PROJECTIONS: tuple[Projection, ...] = (Timelines(), Cases(), Plans())
