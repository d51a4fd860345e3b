"""What had happened, or what was known, at any moment: situations rebuilt from facts.

Two cuts, usable together:

- ``as_of``: the facts that had happened by then (effective ``occurred_at``,
  every known correction applied): "what had happened by 15:07, as we now
  know it".
- ``known_at``: the facts recorded by then, with only the corrections recorded
  by then: "what did we know at 15:07".

A situation is folded from the facts left after the cut in the order they
happened (corrected time; recording order breaks ties). It works on the
same fact records as the ``cases`` view, so one incident's situation can
come from its own events (folded through the projection in memory) and a
whole community's from the view, with the same code.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from attrs import frozen

from resilience.domain.base import FactAggregate, happening_order
from resilience.domain.incident import Incident, IncidentStatus, incident_status
from resilience.domain.organisation import Holding
from resilience.domain.service import OrderStatus, ServiceOrder
from resilience.metrics.cases import RESPONDER_CHAIN, Case, Fact
from resilience.projections.base import Delivery, Doc
from resilience.projections.folds import Cases


@frozen
class Responder:
    """One responder's chain as of the cut (None: not (yet) recorded)."""

    responder_id: str
    dispatched_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None


@frozen
class IncidentSituation:
    """One incident as it stood at the cut."""

    incident_id: str
    community: str
    grid: str | None
    incident_type: str
    severity: str
    drill: bool
    detected_at: datetime
    status: IncidentStatus
    commander: str | None
    responders: tuple[Responder, ...]
    """In the order they were first dispatched or arrived."""
    on_scene: tuple[str, ...]
    """Responders recorded on scene, in the order they arrived."""
    pending_consents: tuple[str, ...]
    """Residents asked for consent who had not answered, in the order they were asked."""
    consents_granted: tuple[str, ...]
    """Residents whose latest answer was yes (a refusal after a grant withdraws it)."""
    contained_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    closure_reason: str | None
    reopen_count: int
    facts: int
    """How many facts the cut holds (corrections included)."""
    last_recorded_at: datetime
    """When the latest fact in the cut was recorded."""

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.CLOSED


@frozen
class OrderSituation:
    """One service order as it stood at the cut."""

    order_id: str
    community: str
    grid: str | None
    category: str
    item: str
    placed_at: datetime
    expected_by: datetime
    status: OrderStatus
    provider: str | None
    outcome: str | None
    rating: int | None
    reopen_count: int
    facts: int

    @property
    def is_open(self) -> bool:
        return self.status not in _ORDER_DONE


_ORDER_DONE = frozenset({OrderStatus.COMPLETED, OrderStatus.REJECTED, OrderStatus.CANCELLED})


@frozen
class CommunitySituation:
    """A community (or one of its grids) at a moment: who held which role, what was going on."""

    community: str
    name: str
    grid: str | None
    at: datetime
    """The moment the roster is read at: ``as_of``, else ``known_at``, else now."""
    as_of: datetime | None
    known_at: datetime | None
    roster: tuple[Holding, ...]
    open_incidents: tuple[IncidentSituation, ...]
    open_orders: tuple[OrderSituation, ...]

    @property
    def pending_consents(self) -> dict[str, tuple[str, ...]]:
        """Incident id -> residents whose consent was still awaited."""
        return {i.incident_id: i.pending_consents for i in self.open_incidents
                if i.pending_consents}

    @property
    def responders_on_scene(self) -> dict[str, tuple[str, ...]]:
        """Incident id -> responders on scene of incidents not yet resolved."""
        return {i.incident_id: i.on_scene for i in self.open_incidents
                if i.on_scene and i.resolved_at is None}


class _Docs(dict[str, Doc]):
    def put(self, key: str, doc: Doc) -> None:
        self[key] = doc


def case_doc(events: Iterable[FactAggregate.Event]) -> Doc:
    """One incident's or order's ``cases`` document, folded from its own events in memory."""
    docs = _Docs()
    fold = Cases()
    key = None
    for event in events:
        delivery = Delivery.of(event)
        key = delivery.key
        fold.apply(delivery, docs)
    if key is None:
        raise ValueError("a case needs at least its first event")
    return docs[key]


def _in_happening_order(case: Case) -> list[Fact]:
    return sorted(case.facts, key=happening_order)


def incident_situation(case: Case) -> IncidentSituation:
    """Fold an incident's facts (already cut) in the order they happened."""
    chains: dict[str, list[datetime | None]] = {}
    commander: str | None = None
    asked: dict[str, Fact] = {}
    answered: dict[str, Fact] = {}
    granted: dict[str, None] = {}
    resolved = closed = None
    closure: str | None = None
    reopened = 0
    present: set[str] = set()
    for fact in _in_happening_order(case):
        name, at = fact.name, fact.occurred_at
        present.add(name)
        step = RESPONDER_CHAIN.get(name)
        if step is not None:
            chains.setdefault(fact.extra, [None, None, None])[step] = at
            continue
        match name:
            case Incident.CommanderAssigned.fact_name:
                commander = fact.extra
            case Incident.ConsentRequested.fact_name:
                asked[fact.extra] = fact
            case Incident.ConsentGranted.fact_name | Incident.ConsentRefused.fact_name:
                answered[fact.extra] = fact
                granted.pop(fact.extra, None)
                if name == Incident.ConsentGranted.fact_name:
                    granted[fact.extra] = None
            case Incident.Resolved.fact_name:
                resolved = at
            case Incident.Closed.fact_name:
                closed, closure = at, fact.extra
            case Incident.Reopened.fact_name:
                resolved = closed = closure = None
                reopened += 1
    arrivals = sorted((chain[2], responder) for responder, chain in chains.items()
                      if chain[2] is not None)
    pending = [resident for resident, request in asked.items()
               if resident not in answered
               or happening_order(answered[resident]) < happening_order(request)]
    contained = case.milestones.get("contained")
    status = incident_status(
        closed=closed is not None, resolved=resolved is not None,
        contained=contained is not None,
        on_scene=any(chain[2] is not None for chain in chains.values()),
        dispatched=any(chain[0] is not None for chain in chains.values()),
        acknowledged=Incident.Acknowledged.fact_name in present,
        reported=Incident.Reported.fact_name in present)
    return IncidentSituation(
        incident_id=case.case_id, community=case.community, grid=case.dims.get("grid"),
        incident_type=str(case.dims["incident_type"]), severity=str(case.dims["severity"]),
        drill=case.drill, detected_at=case.start, status=status, commander=commander,
        responders=tuple(Responder(r, *chain) for r, chain in chains.items()),
        on_scene=tuple(responder for _, responder in arrivals),
        pending_consents=tuple(sorted(pending, key=lambda r: happening_order(asked[r]))),
        consents_granted=tuple(granted), contained_at=contained, resolved_at=resolved,
        closed_at=closed, closure_reason=closure, reopen_count=reopened,
        facts=len(case.facts), last_recorded_at=max(f.recorded_at for f in case.facts),
    )


_ORDER_STATUS: Mapping[str, OrderStatus] = ServiceOrder.declared(
    lambda event: event.status_after)
"""Fact name -> the status an order is in after that fact (the classes' ``status_after``)."""


def order_situation(case: Case, doc: Mapping[str, Any]) -> OrderSituation:
    """Fold an order's facts (already cut) in the order they happened."""
    status = OrderStatus.PLACED
    provider: str | None = None
    outcome: str | None = None
    rating: int | None = None
    reopened = 0
    for fact in _in_happening_order(case):
        status = _ORDER_STATUS.get(fact.name, status)
        match fact.name:
            case ServiceOrder.Dispatched.fact_name:
                provider = fact.extra[0]
            case ServiceOrder.Completed.fact_name:
                outcome, rating = fact.extra, None
            case ServiceOrder.Rated.fact_name:
                rating = fact.extra
            case ServiceOrder.Reopened.fact_name:
                outcome, rating = None, None
                reopened += 1
    return OrderSituation(
        order_id=case.case_id, community=case.community, grid=case.dims.get("grid"),
        category=str(doc["category"]), item=str(doc["item"]), placed_at=case.start,
        expected_by=case.milestones["expected"], status=status, provider=provider,
        outcome=outcome, rating=rating, reopen_count=reopened, facts=len(case.facts),
    )
