"""Service orders as Open311 GeoReport v2 documents, and GeoReport requests as orders.

GeoReport v2 (https://wiki.open311.org/GeoReport_v2) is what city service-request
systems publish: a ``services`` list (what can be requested) and a ``requests`` list
(what was, and where each stands). ``services_document`` and ``requests_document`` give
them as JSON-ready lists of dicts; ``import_requests`` records a ``requests`` document
as orders. The rules, one place each:

* **fields**: only the GeoReport v2 fields (``GEOREPORT_V2_SERVICE_FIELDS``,
  ``GEOREPORT_V2_REQUEST_FIELDS``); ``validate_service`` and ``validate_request`` refuse
  any other, a missing required one, or a value of the wrong type (InvalidInputError).
  ``zipcode``, ``lat``, ``long`` and ``media_url`` are never exported: an order knows
  its area, not a map position or a photo. Times are W3C date-times with their offset.
* **services**: one per catalogue item. ``service_code`` is ``category/item``
  (``"meals/meal_delivery"``), ``service_name`` the item's title, ``group`` its
  category, ``type`` ``"realtime"`` (an order's id is known as it is placed).
* **requests**: one per order. ``service_request_id`` is the order's id; ``status`` is
  ``"closed"`` once the order is completed, cancelled or rejected, else ``"open"``;
  ``status_notes`` words the standing outcome (``STATUS_NOTES``): ``"fixed"`` or
  ``"fixed: NOTE"``, ``"not fixed: NOTE"``, ``"cancelled: REASON"``, ``"rejected:
  REASON"``, and for an open order ``"accepted"``, ``"dispatched"``, ``"in progress"``,
  ``"reopened: REASON"`` (none while only placed); ``agency_responsible`` is the
  provider it was last dispatched to; ``description`` its details as last corrected;
  ``address_id`` its area's id and ``address`` the area's names; ``service_notice`` how
  long it was expected to take; ``requested_datetime`` when it was placed,
  ``updated_datetime`` when its status last changed (its latest step: for a closed
  request, when it was closed, as GeoReport says) and ``expected_datetime`` its
  deadline, all at their times as corrected.
* **import**: every request of a document is checked first (its fields, its service in
  the engine's catalogue, its area in the community, its times in order, its
  ``service_request_id`` once only), then all are recorded in one batch: a refused
  document records nothing. A request becomes an order placed at
  ``requested_datetime`` for the area ``address_id`` (else the area whose id or
  address ``address`` is) and, to reach the status its ``status`` and
  ``status_notes`` give, the steps GeoReport does not date (acceptance, dispatch to
  ``agency_responsible``, completion...) recorded at ``updated_datetime``: the document
  says when the status last changed, not when each step happened. A closed request
  whose notes are not ``"cancelled: ..."``, ``"rejected: ..."`` or ``"not fixed: ..."``
  was fixed (as FixMyStreet reads GeoReport's "closed"). GeoReport names no requester,
  so the household is the request itself (``"open311:<service_request_id>"``); every
  command's id derives from the ``service_request_id``, so importing a document again
  records nothing again.
"""

from resilience.open311.export import requests_document, services_document
from resilience.open311.fields import (
    GEOREPORT_V2_REQUEST_FIELDS,
    GEOREPORT_V2_SERVICE_FIELDS,
    STATUS_NOTES,
    service_code,
    validate_request,
    validate_service,
)
from resilience.open311.importing import import_requests

__all__ = ["GEOREPORT_V2_REQUEST_FIELDS", "GEOREPORT_V2_SERVICE_FIELDS", "STATUS_NOTES",
           "import_requests", "requests_document", "service_code", "services_document",
           "validate_request", "validate_service"]
