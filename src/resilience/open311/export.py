"""Service orders and the catalogue as GeoReport v2 ``requests`` and ``services``
documents (resilience.open311 has the rules)."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from resilience.domain.base import FactAggregate
from resilience.domain.catalogue import CatalogueItem
from resilience.domain.organisation import Community
from resilience.domain.service import ENDED_STATUSES, OrderStatus, ServiceOrder
from resilience.engine import Engine
from resilience.errors import NotFoundError
from resilience.metrics.period import Period
from resilience.open311.fields import STATUS_NOTES, area_address, service_code


def services_document(engine: Engine) -> list[dict[str, Any]]:
    """The GeoReport v2 ``services`` list of the engine's catalogue (resilience.open311)."""
    return [_service(entry) for entry in engine.catalogue.items]


def _service(entry: CatalogueItem) -> dict[str, Any]:
    return {"service_code": service_code(entry.category, entry.item),
            "service_name": entry.title,
            "description": f"{entry.title}, expected within {_span(entry.expected)}",
            "metadata": False, "type": "realtime",
            "keywords": f"{entry.category},{entry.item}", "group": entry.category}


def _span(span: timedelta) -> str:
    """``2 hours``, ``7 days``, ``90 minutes``: the largest whole unit that words it."""
    seconds = round(span.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def requests_document(engine: Engine, community: UUID | None = None,
                      period: Period | None = None) -> list[dict[str, Any]]:
    """The GeoReport v2 ``requests`` list of the orders placed in ``period`` (None: all
    time) in ``community`` (None: every community), by the time each was placed (module
    docstring)."""
    cases = engine.reports.cases(subject="order", period=period, community=community)
    communities: dict[UUID, Community] = {}
    found = []
    for case in sorted(cases, key=lambda case: (case.start, case.case_id)):
        order = engine.orders.get(UUID(case.case_id))
        place = communities.get(order.community_id)
        if place is None:
            place = communities[order.community_id] = engine.communities.get(
                order.community_id)
        found.append(_request(engine, order, place))
    return found


def _request(engine: Engine, order: ServiceOrder, community: Community) -> dict[str, Any]:
    events = engine.events(order.id)
    details = order.details
    for event in events:
        if isinstance(event, FactAggregate.DetailsCorrected) and event.corrects == 1:
            details = event.details
    steps = [version for version, kind in order.fact_types.items() if kind.step]
    provider = order.provider
    try:
        name = engine.catalogue.get(order.category, order.item).title
    except NotFoundError:  # an item since dropped from the catalogue: the order keeps it
        name = service_code(order.category, order.item)
    return {
        "service_request_id": str(order.id),
        "status": "closed" if order.status in ENDED_STATUSES else "open",
        "status_notes": _notes(order, events, steps[-1]),
        "service_name": name,
        "service_code": service_code(order.category, order.item),
        "description": details or None,
        "agency_responsible": None if provider is None else (
            provider.name if provider.name.strip() else provider.provider_id),
        "service_notice": f"expected within {_span(order.expected_by - order.placed_at)}",
        "requested_datetime": order.placed_at.isoformat(),
        "updated_datetime": max(order.occurred[version] for version in steps).isoformat(),
        "expected_datetime": order.expected_by.isoformat(),
        "address": area_address(community, order.area_id),
        "address_id": order.area_id,
    }


def _notes(order: ServiceOrder, events: Sequence[FactAggregate.Event],
           last: int) -> str | None:
    """The order's ``status_notes``: its status in words (``STATUS_NOTES``), and the
    reason or note of the step that left it so (``last``: its latest step's version;
    for a completed order its latest completion, which a rating leaves standing)."""
    said = ""
    if order.status is OrderStatus.PLACED:
        return None
    if order.status is OrderStatus.COMPLETED:
        assert order.outcome is not None  # a completion sets it, a rating keeps it
        words = STATUS_NOTES[order.outcome]
        said = next(event.note for event in reversed(events)
                    if isinstance(event, ServiceOrder.Completed))
    else:
        words = STATUS_NOTES[order.status]
        step = events[last - 1]
        if isinstance(step, ServiceOrder.Reopened | ServiceOrder.Cancelled
                      | ServiceOrder.Rejected):
            said = step.reason
    return f"{words}: {said}" if said else words
