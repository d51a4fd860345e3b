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

An incident's facts fall into **cycles**, cut by the domain's one rule
(``resilience.domain.base.in_cycles``): cycle 0 is the first response, and
each reopening begins the next, in the order things happened. A situation keeps
every cycle (``IncidentSituation.cycles``: its reopening, dispatch, arrival,
containment, resolution and closure) and each responder's chain per cycle;
its status, containment, resolution, closure and who is on scene are the
current (last) cycle's, as the aggregate's own are.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from attrs import evolve, frozen
from eventsourcing.persistence import AggregateRecorder

from resilience.adapters.report_data import report_data
from resilience.domain.base import FactAggregate, happening_order, in_cycles
from resilience.domain.incident import Incident, IncidentStatus
from resilience.domain.organisation import Holding
from resilience.domain.service import OrderStatus
from resilience.domain.validation import check_uuid
from resilience.errors import NotFoundError
from resilience.i18n import _
from resilience.metrics.cases import Case, Fact
from resilience.metrics.milestones import REOPENING, RESPONDER_CHAIN
from resilience.metrics.mobilisation import EmergencySituation, Member
from resilience.projections.base import Deliveries, Delivery, Doc
from resilience.projections.folds import Cases


@frozen
class Responder:
    """One responder's chain in one cycle, as of the cut (None: not (yet) recorded)."""

    responder_id: str
    dispatched_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    cycle: int = 0
    """The cycle of the chain: 0 the first response, n after the nth reopening."""


@frozen
class Cycle:
    """One cycle of an incident as of the cut: the first response (``number`` 0) or the
    response after a reopening (``number`` n after the nth), up to the next reopening."""

    number: int
    started_at: datetime
    """Detection (cycle 0) or the reopening (effective time)."""
    reopening: int | None = None
    """The version of the Reopened fact that began it (None for cycle 0)."""
    reason: str | None = None
    """The reason given for the reopening (None for cycle 0, or when the record the
    situation was read from does not keep it)."""
    first_dispatched_at: datetime | None = None
    first_on_scene_at: datetime | None = None
    contained_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    closure_reason: str | None = None


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
    """Each responder's chain in each cycle, in the order they happened (first dispatch or
    arrival of the chain)."""
    on_scene: tuple[str, ...]
    """Responders recorded on scene in the current cycle, in the order they arrived."""
    pending_consents: tuple[str, ...]
    """Residents asked for consent who had not answered, in the order they were asked."""
    consents_granted: tuple[str, ...]
    """Residents whose latest answer was yes (a refusal after a grant withdraws it)."""
    contained_at: datetime | None
    """The current cycle's containment (before any reopening: the first response's)."""
    resolved_at: datetime | None
    """The current cycle's resolution."""
    closed_at: datetime | None
    """The current cycle's closure: the incident stood closed."""
    closure_reason: str | None
    reopen_count: int
    """How many times the incident was reopened by the cut (its Reopened facts)."""
    facts: int
    """How many facts the cut holds (corrections included)."""
    last_recorded_at: datetime
    """When the latest fact in the cut was recorded."""
    cycles: tuple[Cycle, ...] = ()
    """Every cycle, the first response (number 0) first: ``reopen_count + 1`` of them;
    ``cycles[n]`` is the cycle whose milestones ``Case.cycles[n]`` holds."""

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.CLOSED

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"incident_situation"``:
        every field, each responder's chain and each cycle, and ``is_open``."""
        return report_data(self, "incident_situation", is_open=self.is_open)


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
    """How many times the incident was reopened by the cut (its Reopened facts)."""
    facts: int
    resolved_by_resident: bool | None = None
    """The resident's "resolved?" answer with the rating of the standing completion (None:
    not rated, or not said)."""

    @property
    def is_open(self) -> bool:
        return self.status not in _ORDER_DONE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"order_situation"``: every
        field and ``is_open``."""
        return report_data(self, "order_situation", is_open=self.is_open)


_ORDER_DONE = frozenset({OrderStatus.COMPLETED, OrderStatus.REJECTED, OrderStatus.CANCELLED})


@frozen
class CommunitySituation:
    """A community (or one of its grids) at a moment: who held which role, what was going
    on, and whether it was in peacetime or an emergency (who was mobilised, and where)."""

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
    emergencies: tuple[EmergencySituation, ...] = ()
    """The emergencies in force at ``at``, by declaration, as of the cut: the whole
    community's and each grid's (a grid's situation: the whole community's and the
    grid's)."""

    @property
    def mode(self) -> str:
        """``"peacetime"``, or ``"emergency"`` while an emergency is in force."""
        return "emergency" if self.emergencies else "peacetime"

    @property
    def mobilised(self) -> dict[str, tuple[Member, ...]]:
        """Emergency id -> the people called up in it by the cut: each one's status
        (called, acknowledged, arrived) and post."""
        return {e.emergency_id: e.members for e in self.emergencies if e.members}

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"community_situation"``:
        the roster, the open incidents and orders (each as its own ``to_dict`` gives it,
        without the header and ``is_open``), the emergencies in force, and ``mode``."""
        return report_data(self, "community_situation", mode=self.mode)


class _Docs(dict[str, Doc]):
    def put(self, key: str, doc: Doc) -> None:
        self[key] = doc


def case_doc(events: Iterable[FactAggregate.Event]) -> Doc:
    """One incident's, order's or emergency's ``cases`` document, folded from its own
    events in memory."""
    return case_doc_of(Delivery.of(event) for event in events)


def case_doc_of(deliveries: Iterable[Delivery]) -> Doc:
    """``case_doc`` of the events delivered (``Delivery.of`` each, or ``Deliveries``)."""
    docs = _Docs()
    fold = Cases()
    key = None
    for delivery in deliveries:
        key = delivery.key
        fold.apply(delivery, docs)
    if key is None:
        raise ValueError(_("a case needs at least its first event"))
    return docs[key]


def stored_case_doc(recorder: AggregateRecorder, deliveries: Deliveries, case_id: UUID,
                    kind: type[FactAggregate]) -> Doc:
    """``case_doc`` of the stored events of one case of ``kind`` (an incident, order or
    emergency), read and decoded by ``deliveries`` (the views': ``Views.deliveries``):
    the same document as ``case_doc(own_events(app, case_id, kind))`` (the same
    NotFoundError, InvalidInputError or UnreadableEventError), at about half the cost:
    the events are decoded by resilience.adapters.decoded, their times kept as stored."""
    check_uuid(case_id, "an id")
    delivered = deliveries.aggregate(recorder, case_id)
    if not delivered or not isinstance(delivered[0].event, kind.Event):
        raise NotFoundError(_("no {kind} with id {id}").format(kind=_(kind.kind), id=case_id))
    return case_doc_of(delivered)


def _reopens(fact: Fact) -> bool:
    return fact.name in REOPENING["incident"]


def _cycle(case: Case, number: int, facts: list[Fact]) -> Cycle:
    """Cycle ``number`` of the case: its times as the case reads them (``Case.cycles``,
    cut from the same facts), and what only its facts say: the reopening that began a
    later one (its first fact) and the reason of the cycle's closure."""
    times = case.cycles[number]
    closures = [fact.extra for fact in facts if fact.name == Incident.Closed.fact_name]
    if number:
        reopening = facts[0]
        # The view keeps what ``detail()`` gives: the reason, where it gives one.
        reason = reopening.extra if isinstance(reopening.extra, str) else None
        begun = Cycle(number, reopening.occurred_at, reopening.version, reason)
    else:
        begun = Cycle(0, case.start)
    return evolve(begun, first_dispatched_at=times.get("first_dispatched"),
                  first_on_scene_at=times.get("first_on_scene"),
                  contained_at=times.get("contained"), resolved_at=times.get("resolved"),
                  closed_at=times.get("closed"),
                  closure_reason=closures[-1] if closures else None)


def incident_situation(case: Case) -> IncidentSituation:
    """Fold an incident's facts (already cut) in the order they happened, cycle by cycle
    (``in_cycles``: each reopening is the first fact of the cycle it begins)."""
    chains: dict[tuple[str, int], list[datetime | None]] = {}
    commander: str | None = None
    asked: dict[str, Fact] = {}
    answered: dict[str, Fact] = {}
    granted: dict[str, None] = {}
    cycles: list[Cycle] = []
    for number, facts in enumerate(in_cycles(case.facts, _reopens)):
        cycles.append(_cycle(case, number, facts))
        for fact in facts:
            name, at = fact.name, fact.occurred_at
            step = RESPONDER_CHAIN.get(name)
            if step is not None:
                chains.setdefault((fact.extra, number), [None, None, None])[step] = at
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
    now = cycles[-1]
    arrivals = sorted((chain[2], responder) for (responder, number), chain in chains.items()
                      if number == now.number and chain[2] is not None)
    pending = [resident for resident, request in asked.items()
               if resident not in answered
               or happening_order(answered[resident]) < happening_order(request)]
    return IncidentSituation(
        incident_id=case.case_id, community=case.community, grid=case.dims.get("grid"),
        incident_type=str(case.dims["incident_type"]), severity=str(case.dims["severity"]),
        drill=case.drill, detected_at=case.start, status=IncidentStatus(case.status),
        commander=commander,
        responders=tuple(Responder(r, chain[0], chain[1], chain[2], number)
                         for (r, number), chain in chains.items()),
        on_scene=tuple(responder for _, responder in arrivals),
        pending_consents=tuple(sorted(pending, key=lambda r: happening_order(asked[r]))),
        consents_granted=tuple(granted), contained_at=now.contained_at,
        resolved_at=now.resolved_at, closed_at=now.closed_at,
        closure_reason=now.closure_reason, reopen_count=len(cycles) - 1,
        facts=len(case.facts), last_recorded_at=max(f.recorded_at for f in case.facts),
        cycles=tuple(cycles),
    )


def order_situation(case: Case, doc: Mapping[str, Any]) -> OrderSituation:
    """An order's situation: its case (already cut) as the metrics read it, which folds
    the facts in the order they happened (status, latest provider, standing outcome and
    rating)."""
    return OrderSituation(
        order_id=case.case_id, community=case.community, grid=case.dims.get("grid"),
        category=str(doc["category"]), item=str(doc["item"]), placed_at=case.start,
        expected_by=case.milestones["expected"], status=OrderStatus(case.status),
        provider=case.dims.get("provider"), outcome=case.closure, rating=case.rating,
        reopen_count=case.reopened, facts=len(case.facts),
        resolved_by_resident=case.resolved_by_resident,
    )
