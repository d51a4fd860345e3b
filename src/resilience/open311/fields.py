"""GeoReport v2's fields, and what export and import share: the words of
``status_notes``, the code of a service, the address of an area, the reading of a
date-time; and checking a service or request against the field list
(resilience.open311 has the rules)."""

import math
from collections.abc import Callable, Mapping
from datetime import datetime

from resilience.domain.organisation import Community
from resilience.domain.service import OrderStatus
from resilience.domain.validation import check_moment, check_text, shown, text_limit
from resilience.domain.values import AreaKind, ServiceOutcome
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _

GEOREPORT_V2_SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata",
                               "type", "keywords", "group")
"""The fields of a GeoReport v2 service (GET services), in the specification's order."""
GEOREPORT_V2_REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url")
"""The fields of a GeoReport v2 service request (GET requests), in the specification's
order."""

STATUS_NOTES = {
    OrderStatus.ACCEPTED: "accepted",
    OrderStatus.DISPATCHED: "dispatched",
    OrderStatus.IN_PROGRESS: "in progress",
    OrderStatus.REOPENED: "reopened",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.REJECTED: "rejected",
    ServiceOutcome.FIXED: "fixed",
    ServiceOutcome.NOT_FIXED: "not fixed",
}
"""The words ``status_notes`` begins with, for each status (and a completion's outcome);
a reason or note follows after ``": "``."""

Check = Callable[[object, str], object]


def _text(limit: int) -> Check:
    def check(value: object, name: str) -> object:
        return check_text(value, name, limit)
    return check


def _code(value: object, name: str) -> object:
    if not check_text(value, name).strip():
        raise InvalidInputError(_("{name} must be a non-empty string, got {value}").format(
            name=name, value=shown(value)))
    return value


def _one_of(*allowed: str) -> Check:
    def check(value: object, name: str) -> object:
        if value not in allowed:
            raise InvalidInputError(_("{name} must be one of {allowed}, got {value}").format(
                name=name, allowed=", ".join(map(repr, allowed)), value=shown(value)))
        return value
    return check


def _flag(value: object, name: str) -> object:
    if type(value) is not bool:
        raise InvalidInputError(_("{name} must be true or false, got {value}").format(
            name=name, value=shown(value)))
    return value


def _degrees(most: float) -> Check:
    def check(value: object, name: str) -> object:
        number = value if isinstance(value, int | float) and type(value) is not bool else None
        if number is None or not math.isfinite(number) or abs(number) > most:
            raise InvalidInputError(
                _("{name} must be a number from -{most} to {most}, got {value}").format(
                    name=name, most=f"{most:g}", value=shown(value)))
        return value
    return check


def w3c_moment(value: object, name: str) -> datetime:
    """A W3C date-time with its offset (``Z`` or ``+08:00``), as GeoReport requires."""
    try:
        moment = datetime.fromisoformat(check_text(value, name))
    except ValueError:
        raise InvalidInputError(_("{name} must be a W3C date-time such as "
                                  "2022-03-01T09:30:00+08:00, got {value}").format(
            name=name, value=shown(value))) from None
    if moment.tzinfo is None:
        raise InvalidInputError(_("{name} must carry its offset (Z or +08:00), got "
                                  "{value}").format(name=name, value=shown(value)))
    return check_moment(moment, name)


_SHORT = _text(text_limit("item"))
_FREE = _text(text_limit("details"))
# A field is (check, required). Texts are held to the limit of the field they become.
_SERVICE_RULES: Mapping[str, tuple[Check, bool]] = {
    "service_code": (_code, True), "service_name": (_SHORT, True),
    "description": (_FREE, False), "metadata": (_flag, True),
    "type": (_one_of("realtime", "batch", "blackbox"), True), "keywords": (_FREE, False),
    "group": (_SHORT, False),
}
_REQUEST_RULES: Mapping[str, tuple[Check, bool]] = {
    "service_request_id": (_text(text_limit("command_id") - 32), True),
    "status": (_one_of("open", "closed"), True), "status_notes": (_FREE, False),
    "service_name": (_SHORT, False), "service_code": (_code, True),
    "description": (_FREE, False), "agency_responsible": (_text(text_limit("name")), False),
    "service_notice": (_FREE, False), "requested_datetime": (w3c_moment, True),
    "updated_datetime": (w3c_moment, False), "expected_datetime": (w3c_moment, False),
    "address": (_FREE, False), "address_id": (_text(text_limit("area_id")), False),
    "zipcode": (_SHORT, False), "lat": (_degrees(90), False), "long": (_degrees(180), False),
    "media_url": (_FREE, False),
}
assert tuple(_SERVICE_RULES) == GEOREPORT_V2_SERVICE_FIELDS
assert tuple(_REQUEST_RULES) == GEOREPORT_V2_REQUEST_FIELDS


def validate_service(service: object) -> None:
    """Refuse (InvalidInputError) anything but a GeoReport v2 service: an object of only
    its fields, the required ones present, each of its type."""
    _validate(service, "service", _SERVICE_RULES)


def validate_request(request: object) -> None:
    """Refuse (InvalidInputError) anything but a GeoReport v2 service request: an object
    of only its fields, the required ones present (``service_request_id``, ``status``,
    ``service_code``, ``requested_datetime``), each of its type, times with an offset."""
    _validate(request, "request", _REQUEST_RULES)


_REFUSALS: Mapping[str, tuple[str, str, str]] = {
    "service": (N_("a GeoReport v2 service is an object, got {value}"),
                N_("a GeoReport v2 service has no field {fields} (its fields: {known})"),
                N_("a GeoReport v2 service needs {name}")),
    "request": (N_("a GeoReport v2 request is an object, got {value}"),
                N_("a GeoReport v2 request has no field {fields} (its fields: {known})"),
                N_("a GeoReport v2 request needs {name}")),
}
"""What refuses a service or a request: not an object, an unknown field, a missing one."""


def _validate(found: object, what: str, rules: Mapping[str, tuple[Check, bool]]) -> None:
    not_object, no_field, needs = _REFUSALS[what]
    if not isinstance(found, dict):
        raise InvalidInputError(_(not_object).format(value=shown(found)))
    unknown = sorted(str(key) for key in found if key not in rules)
    if unknown:
        raise InvalidInputError(_(no_field).format(fields=", ".join(unknown),
                                                   known=", ".join(rules)))
    for name, (check, required) in rules.items():
        value = found.get(name)
        if value is None:
            if required:
                raise InvalidInputError(_(needs).format(name=name))
            continue
        check(value, name)


# Shared by export and import ------------------------------------------------------------


def service_code(category: str, item: str) -> str:
    """The GeoReport ``service_code`` of a catalogue item: ``category/item``."""
    return f"{category}/{item}"


def area_address(community: Community, area_id: str) -> str:
    """An area as people name it: the community, then each area from the grid down
    (``Xiangyang Community, Grid 2, b12, unit 1``)."""
    names = []
    current: str | None = area_id
    while current is not None:
        area = community.area(current)
        names.append(f"unit {area.name}" if area.kind is AreaKind.UNIT else area.name)
        current = area.parent
    return ", ".join([community.name, *reversed(names)])
