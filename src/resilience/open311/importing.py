"""A GeoReport v2 ``requests`` document recorded as service orders (resilience.open311
has the rules)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from attrs import frozen

from resilience.domain.catalogue import CatalogueItem
from resilience.domain.organisation import Community
from resilience.domain.validation import check_instance, check_uuid, shown
from resilience.domain.values import Actor, Provider, ProviderKind, ServiceOutcome
from resilience.engine import Engine
from resilience.errors import InvalidInputError
from resilience.i18n import _
from resilience.open311.fields import (
    STATUS_NOTES,
    area_address,
    service_code,
    validate_request,
    w3c_moment,
)

_KEY = "open311:"
"""What an imported order's household and command ids begin with."""


@frozen
class _Step:
    """A command recorded to bring an imported order to its status."""

    command: str
    text: str = ""
    outcome: ServiceOutcome = ServiceOutcome.FIXED


@frozen
class _Planned:
    """One request, checked and read: what importing it records."""

    request_id: str
    service: CatalogueItem
    area_id: str
    details: str
    requested: datetime
    updated: datetime
    expected: datetime | None
    agency: str | None
    steps: tuple[_Step, ...]


def import_requests(engine: Engine, requests: object, *, community: UUID, actor: Actor,
                    provider_kind: ProviderKind = ProviderKind.SOCIAL_ORGANISATION,
                    ) -> list[UUID]:
    """Record a GeoReport v2 ``requests`` document (a list of requests) as orders of
    ``community``, imported by ``actor`` (``engine.importing``: the policy must allow
    them ``"import"`` there); return the orders' ids in the document's order.

    Every request is checked before anything is recorded, then all are recorded in one
    batch: InvalidInputError (naming the request) or any refusal records nothing. An
    ``agency_responsible`` becomes a provider of ``provider_kind`` (GeoReport does not
    say which kind). The mapping is resilience.open311's."""
    check_uuid(community, "community")
    check_instance(actor, "actor", Actor)
    if not isinstance(requests, list):
        raise InvalidInputError(
            _("a GeoReport v2 requests document is a list of requests, got {value}").format(
                value=shown(requests)))
    place = engine.communities.get(community)
    codes = {service_code(e.category, e.item): e for e in engine.catalogue.items}
    plans: list[_Planned] = []
    seen: set[str] = set()
    for number, request in enumerate(requests, start=1):
        try:
            validate_request(request)
            plan = _plan(request, codes, place)
            if plan.request_id in seen:
                raise InvalidInputError(
                    _("its service_request_id is repeated in the document"))
        except InvalidInputError as exc:
            named = request.get("service_request_id") if isinstance(request, dict) else None
            message = (_("request {number} ({id}): {error}") if isinstance(named, str)
                       else _("request {number}: {error}"))
            raise InvalidInputError(message.format(number=number, id=shown(named),
                                                   error=exc)) from None
        seen.add(plan.request_id)
        plans.append(plan)
    importer = engine.importing(actor)
    with importer.batch():
        ids = [_record(importer, community, actor, provider_kind, plan) for plan in plans]
    return ids


def _plan(request: dict[str, Any], codes: Mapping[str, CatalogueItem],
          community: Community) -> _Planned:
    """What importing a valid request records (InvalidInputError if it can't be)."""
    code = request["service_code"]
    if code not in codes:
        raise InvalidInputError(
            _("the catalogue has no service_code {code} (it has: {known})").format(
                code=shown(code), known=", ".join(codes)))
    requested = w3c_moment(request["requested_datetime"], "requested_datetime")
    updated = requested
    if request.get("updated_datetime") is not None:
        updated = w3c_moment(request["updated_datetime"], "updated_datetime")
        if updated < requested:
            raise InvalidInputError(_("updated_datetime is before requested_datetime"))
    expected = None
    if request.get("expected_datetime") is not None:
        expected = w3c_moment(request["expected_datetime"], "expected_datetime")
        if expected <= requested:
            raise InvalidInputError(_("expected_datetime must be after requested_datetime"))
    agency = request.get("agency_responsible")
    if agency is not None and not agency.strip():
        agency = None  # (a provider needs a name)
    return _Planned(request["service_request_id"], codes[code], _area(request, community),
                    request.get("description") or "", requested, updated, expected, agency,
                    _steps(request["status"], request.get("status_notes"), agency))


def _area(request: Mapping[str, Any], community: Community) -> str:
    """The area a request is for: ``address_id``, else the area whose id or address
    (as exported) ``address`` is."""
    area_id = request.get("address_id")
    if area_id is not None:
        if area_id not in community.areas:
            raise InvalidInputError(_("{community} has no area {area} (address_id)").format(
                community=community.name, area=shown(area_id)))
        return str(area_id)
    address = request.get("address")
    for candidate in community.areas:
        if address in (candidate, area_address(community, candidate)):
            return candidate
    raise InvalidInputError(
        _("{community} has no area whose id or address is {address}: give address_id").format(
            community=community.name, address=shown(address)))


def _said(notes: str | None) -> tuple[str | None, str]:
    """``status_notes`` as (its STATUS_NOTES words, what follows ``": "``), or (None, the
    notes) when they begin with none of them."""
    text = notes or ""
    for words in STATUS_NOTES.values():
        if text == words:
            return words, ""
        if text.startswith(f"{words}: "):
            return words, text[len(words) + 2:]
    return None, text


_OPEN = ("accepted", "dispatched", "in progress", "reopened")


def _steps(status: str, notes: str | None, agency: str | None) -> tuple[_Step, ...]:
    """The commands after the placement that give the order the status the request
    has (its ``status``, worded by its ``status_notes``)."""
    words, said = _said(notes)
    dispatch = (_Step("accept"), _Step("dispatch"))
    if status == "open":
        if words is not None and words not in _OPEN:
            raise InvalidInputError(
                _("status_notes {notes} say closed; status says open").format(notes=shown(notes)))
        if words == "accepted" and agency is None:
            return (_Step("accept"),)
        if words is None and agency is None:
            return ()
        _need(agency, notes)
        if words == "in progress":
            return (*dispatch, _Step("start"))
        if words == "reopened":
            return (*dispatch, _Step("complete"), _Step("reopen", _reason(said, notes)))
        return dispatch
    if words in _OPEN:
        raise InvalidInputError(
            _("status_notes {notes} say open; status says closed").format(notes=shown(notes)))
    if words == "rejected":
        if agency is not None:
            raise InvalidInputError(_("a rejected request was never dispatched: it has no "
                                      "agency_responsible"))
        return (_Step("reject", _reason(said, notes)),)
    if words == "cancelled":
        cancel = _Step("cancel", _reason(said, notes))
        return (cancel,) if agency is None else (*dispatch, cancel)
    _need(agency, notes)
    if words == "not fixed":
        return (*dispatch, _Step("complete", _reason(said, notes), ServiceOutcome.NOT_FIXED))
    return (*dispatch, _Step("complete", said))


def _need(agency: str | None, notes: str | None) -> None:
    if agency is None:
        raise InvalidInputError(
            _("a request {notes} needs the agency_responsible it was dispatched to").format(
                notes=shown(notes or "closed")))


def _reason(said: str, notes: str | None) -> str:
    if not said.strip():
        raise InvalidInputError(_("status_notes {notes} need a reason after ': '").format(
            notes=shown(notes)))
    return said


def _record(importer: Engine, community: UUID, actor: Actor, kind: ProviderKind,
            plan: _Planned) -> UUID:
    """Place the order and take its steps (``importer``: importing, in its batch)."""
    orders = importer.orders
    key = f"{_KEY}{plan.request_id}"
    order = orders.place(community, household_id=key, area_id=plan.area_id,
                         category=plan.service.category, item=plan.service.item, actor=actor,
                         details=plan.details, expected_by=plan.expected,
                         occurred_at=plan.requested, command_id=key).aggregate_id
    agency = plan.agency or ""
    provider = Provider(kind, agency, agency) if agency else None
    for step in plan.steps:
        done: dict[str, Any] = {"actor": actor, "occurred_at": plan.updated,
                                "command_id": f"{key}/{step.command}"}
        match step.command:
            case "accept":
                orders.accept(order, **done)
            case "dispatch":
                assert provider is not None  # _steps dispatches only to an agency
                orders.dispatch(order, provider, **done)
            case "start":
                orders.start(order, **done)
            case "complete":
                orders.complete(order, step.outcome, step.text, **done)
            case "reopen":
                orders.reopen(order, step.text, **done)
            case "cancel":
                orders.cancel(order, step.text, **done)
            case "reject":
                orders.reject(order, step.text, **done)
    return order
