"""A review as JSON-ready data: every field of it and of everything in it.

The rules are every report's (:mod:`resilience.adapters.report_data`, which follows the
library's one converter): datetimes become ISO 8601 strings with their offset,
durations seconds, UUIDs strings, enums their bare values and tuples lists, and an
actor keeps every field (the stored events leave an actor's ``override`` and
``imported_by`` out when None, so an event is stored as before they existed; a
review's data say null). At the top, ``"schema_version"`` and ``"report"``
(``"review"``); the review's ``drills`` count (a property) is added before its plan.
"""

import json
from typing import TYPE_CHECKING, Any

from resilience.adapters.report_data import report_data

if TYPE_CHECKING:
    from resilience.review.model import AfterActionReview

__all__ = ["review_to_dict", "review_to_json"]


def review_to_dict(review: "AfterActionReview") -> dict[str, Any]:
    """Every field of the review and of everything in it, as JSON-ready values, after
    the header (``"schema_version"``, ``"report": "review"``).

    Datetimes become ISO 8601 strings with their offset, durations seconds,
    enums their values, UUIDs strings and tuples lists.
    """
    fields = report_data(review, "review", drills=review.drills)
    plan = {name: fields.pop(name) for name in ("plan", "still_open")}
    return {**fields, **plan}


def review_to_json(review: "AfterActionReview", indent: int | None = 2) -> str:
    """The review as a JSON document (see :func:`review_to_dict`)."""
    return json.dumps(review_to_dict(review), indent=indent, ensure_ascii=False)
