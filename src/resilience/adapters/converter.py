"""The one cattrs converter: how every event and value becomes JSON and back.

Configured once, here. JSON has no tuples, UUIDs, datetimes or durations, so
the converter unstructures them to lists, strings, ISO 8601 strings (with
their UTC offset) and seconds, and structures them back from the *declared*
field types: tuples come back as tuples, datetimes come back aware.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from cattrs import Converter
from cattrs.preconf.json import make_converter


def _uuid(value: Any, _: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _datetime(value: Any, _: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _timedelta(value: Any, _: Any) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


def _make() -> Converter:
    conv = make_converter()
    conv.register_unstructure_hook(UUID, str)
    conv.register_structure_hook(UUID, _uuid)
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(datetime, _datetime)
    conv.register_unstructure_hook(timedelta, timedelta.total_seconds)
    conv.register_structure_hook(timedelta, _timedelta)
    return conv


converter: Converter = _make()
"""The library's converter. Use it to (un)structure any event or value object."""

input_converter: Converter = converter.copy(forbid_extra_keys=True)
"""The same hooks, refusing unknown keys: for values typed by people (scenario files).

Stored events keep the lenient converter so an older reader can load events
written by a newer version that added fields."""
