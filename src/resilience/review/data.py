"""A review as JSON-ready data: every field of it and of everything in it.

The rules are the library's one converter's (:mod:`resilience.adapters.converter`):
datetimes become ISO 8601 strings with their offset, durations seconds, UUIDs
strings and tuples lists. On top of them, enums become their bare values, the
review's ``drills`` count (a property) is added before its plan, and an actor keeps
every field: the stored events leave an actor's ``override`` and ``imported_by`` out
when None (so an event is stored as before they existed), a review's data say null.
"""

import json
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from cattrs.gen import make_dict_unstructure_fn

from resilience.adapters.converter import converter
from resilience.domain.values import Actor

if TYPE_CHECKING:
    from resilience.review.model import AfterActionReview

__all__ = ["review_to_dict", "review_to_json"]

_converter = converter.copy()
_converter.register_unstructure_hook(Actor, make_dict_unstructure_fn(Actor, _converter))


def review_to_dict(review: "AfterActionReview") -> dict[str, Any]:
    """Every field of the review and of everything in it, as JSON-ready values.

    Datetimes become ISO 8601 strings with their offset, durations seconds,
    enums their values, UUIDs strings and tuples lists.
    """
    fields = _converter.unstructure(review)
    plan = {name: fields.pop(name) for name in ("plan", "still_open")}
    plain: dict[str, Any] = _plain({**fields, "drills": review.drills, **plan})
    return plain


def review_to_json(review: "AfterActionReview", indent: int | None = 2) -> str:
    """The review as a JSON document (see :func:`review_to_dict`)."""
    return json.dumps(review_to_dict(review), indent=indent, ensure_ascii=False)


def _plain(value: Any) -> Any:
    # The JSON converter passes str-based enums through unchanged; JSON
    # consumers (and equality after a round trip) want their bare values.
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
