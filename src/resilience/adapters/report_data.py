"""Reports as JSON-ready data: the rules every report's ``to_dict`` follows (here, beside
the converter whose rules it shares, so that a report of any layer can follow them).

A report's data is a dict of plain JSON values (text, whole numbers, numbers,
true/false, null, lists and objects) that ``json.dumps`` writes and ``json.loads``
reads back unchanged. At its top level it carries ``"schema_version"``
(``SCHEMA_VERSION``) and ``"report"``, the kind of report (``"metrics"``,
``"scorecard"``...), then the report's own fields. Each value is turned into
data by one rule, in this order:

- an enum becomes its value (``"closed"``, ``"P"``);
- datetimes, durations and UUIDs follow the library's one converter
  (:mod:`resilience.adapters.converter`): ISO 8601 text with its UTC offset, seconds
  (a number), text;
- an exact fraction becomes a number;
- an attrs class becomes an object of its fields, in declaration order, leaving
  out those declared ``repr=False``: what a report does not show of itself (a metric
  summary's measured durations, from which its figures were computed) its data leaves
  out too;
- a mapping becomes an object (keys as text), a tuple, list or set a list.

A new version of the schema may add keys; a key is renamed or dropped, or its meaning
changed, only with a new ``SCHEMA_VERSION``.
"""

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum
from fractions import Fraction
from typing import Any
from uuid import UUID

import attrs

from resilience.adapters.converter import converter

__all__ = ["SCHEMA_VERSION", "plain", "report_data"]

SCHEMA_VERSION = 1
"""The version of the layout of every report's data (``"schema_version"``)."""


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data, by the rules of the module docstring (TypeError for
    a value none of them covers)."""
    if isinstance(value, Enum):
        return plain(value.value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # NaN is not JSON, and is unequal to itself after a round trip: no report holds one.
        if math.isnan(value):
            raise TypeError("a report's number is never NaN")
        return value
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, datetime | timedelta | UUID):
        return converter.unstructure(value)
    if attrs.has(type(value)):
        return {f.name: plain(getattr(value, f.name)) for f in attrs.fields(type(value))
                if f.repr is not False}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    raise TypeError(f"no rule makes a {type(value).__name__} JSON-ready data")


def report_data(report: Any, kind: str, **given: Any) -> dict[str, Any]:
    """The data of ``report`` (an attrs class), of kind ``kind``: the header, then its
    fields (``plain``), each field named in ``given`` replaced by (or, for a name that
    is no field, followed by) that value made plain (a definition's own ``to_dict``, a
    property worth having, such as ``is_clean``)."""
    fields = plain(report)
    fields.update((name, plain(value)) for name, value in given.items())
    return {"schema_version": SCHEMA_VERSION, "report": kind, **fields}
