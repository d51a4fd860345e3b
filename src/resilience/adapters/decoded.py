"""A fast decode of stored events, equal to the mapper's: for the views' reader and replays.

``ConverterMapper.to_domain_event`` structures each event through the one cattrs
converter (resilience.adapters.converter). cattrs' generated structure functions
check every field generically and collect its errors (``detailed_validation``),
and that costs about two thirds of a views rebuild's decoding. ``FastDecoder`` gives
the same events faster, by the same rules:

- each event class's structuring is compiled once into one plain function that
  runs, field by field, **the converter's own hook for the field's declared type**
  (the ones cattrs' function for the class runs), inlined where the hook is one
  of the converter's plain rules (text, whole number, yes/no, datetime, UUID, a
  vocabulary, an optional one of those, a stored value object) and the JSON value
  is of the type the rule takes as it is, else the hook itself is called;
- the class is built as cattrs builds it (``cls(**fields)``);
- **anything else is the mapper's**: an event the fast path cannot read for any
  reason (a missing field, a value of the wrong type, a topic no class answers
  to, bytes that do not open, a state with sealed personal values, a class this
  decoder cannot compile) is decoded again by ``mapper.decode``, which returns the
  event or raises exactly the error it always raises. So the fast path never
  accepts what the mapper refuses, and never changes what the mapper reads.

Upcasting (``class_version``, ``upcast_vN_vN+1``) is done as the mapper does it,
before the state is structured. A mapper that is not a ConverterMapper is used as it is.
"""

import dataclasses
import inspect
import json
import json.scanner
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import StrEnum
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin
from uuid import UUID

import attrs
from eventsourcing.domain import DomainEvent, DomainEventProtocol
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Mapper,
    Notification,
    StoredEvent,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder
from eventsourcing.utils import resolve_topic

from resilience.adapters.converter import VALUE_CLASSES, converter
from resilience.adapters.mapper import SEALED, ConverterMapper

Event = DomainEventProtocol[UUID]
Build = Callable[[dict[str, Any]], Any]
"""A class's compiled structuring: a decoded state (its identity added) -> the event."""

_Compiled = tuple[type, Build, int, bool]
_UNSEEN: Any = object()
_PARSE = datetime.fromisoformat  # one object: compiled sources name it once
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    json.JSONDecoder())  # type: ignore[arg-type]

_UUIDS_KEPT = 65_536
"""UUIDs parsed from text kept for reuse (communities, people and linked cases repeat)."""


class FastDecoder:
    """Stored events -> domain events, equal to ``mapper.to_domain_event`` (see the module
    docstring)."""

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self.mapper = mapper
        self._fast = isinstance(mapper, ConverterMapper)
        self._open = bool(mapper.cipher or mapper.compressor)
        self._builds: dict[str, _Compiled | None] = {}
        self._uuids: dict[str, UUID] = {}

    def decode(self, stored: StoredEvent) -> Event:
        """The event the mapper decodes ``stored`` into; its error if it raises."""
        return self.decode_timed(stored)[0]

    def decode_timed(self, stored: StoredEvent) -> tuple[Event, str | None, str | None]:
        """The event (as ``decode``), and its ``occurred_at`` and ``timestamp`` as stored:
        the texts their ``isoformat()`` gives, read from the state instead of formatted
        again (None where the stored text is not exactly that, or not at hand)."""
        if self._fast:
            try:
                return self._decode(stored)
            except Exception:
                pass  # the mapper says what is wrong, if anything is
        return self.mapper.to_domain_event(stored), None, None

    def _decode(self, stored: StoredEvent) -> tuple[Event, str | None, str | None]:
        found = self._builds.get(stored.topic, _UNSEEN)
        if found is _UNSEEN:
            found = self._builds[stored.topic] = self._compile(stored.topic)
        event_class, build, class_version, timed = found  # None (unreadable here): TypeError
        data = stored.state
        if self._open:
            mapper = self.mapper
            if mapper.cipher:
                data = mapper.cipher.decrypt(data)
            if mapper.compressor:
                data = mapper.compressor.decompress(data)
        text = data.decode("utf-8")
        # The JSON module's own scanner, without json.loads' wrapping: the same values
        # for a state that is one JSON object and nothing else (the mapper reads any other).
        state, end = _scan(text, 0)
        if end != len(text) or state.__class__ is not dict or SEALED in state:
            raise LookupError(SEALED)  # the mapper opens sealed values with the key ring
        if "class_version" in state or class_version > 1:
            from_version = state.pop("class_version", 1)
            while from_version < class_version:
                getattr(event_class, f"upcast_v{from_version}_v{from_version + 1}")(state)
                from_version += 1
        originator_id = stored.originator_id
        state["originator_id"] = (
            originator_id if originator_id.__class__ is UUID else UUID(str(originator_id)))
        state["originator_version"] = stored.originator_version
        event: Event = build(state)
        if not timed:
            return event, None, None
        occurred, recorded = state["occurred_at"], state["timestamp"]
        if not iso_as_stored(occurred):
            occurred = None
        if recorded == occurred:  # often the same moment: one text kept for both
            recorded = occurred
        elif not iso_as_stored(recorded):
            recorded = None
        return event, occurred, recorded

    def _compile(self, topic: str) -> "_Compiled | None":
        """The class of ``topic``, its compiled structuring, its ``class_version``, and
        whether the structuring parses its ``occurred_at`` and ``timestamp`` texts with
        ``datetime.fromisoformat``; None: the mapper decodes its events alone."""
        try:
            event_class = resolve_topic(topic)
            build, parsed = _compile_class(event_class, self._uuid)
            class_version = getattr(event_class, "class_version", 1)
        except Exception:
            return None
        return event_class, build, class_version, {"occurred_at", "timestamp"} <= parsed

    def _uuid(self, text: str) -> UUID:
        """``UUID(text)``, reusing the one parsed before (UUIDs are immutable)."""
        uuids = self._uuids
        found = uuids.get(text)
        if found is None:
            if len(uuids) >= _UUIDS_KEPT:
                uuids.clear()
            found = uuids[text] = UUID(text)
        return found


def stored_events(recorder: AggregateRecorder, aggregate_id: UUID) -> list[StoredEvent]:
    """``recorder.select_events(aggregate_id)``: one aggregate's stored events in version
    order. On SQLite without the id parsed back from each row (it is the one asked for),
    which costs a long aggregate's replay a tenth of its time; on other stores, or a
    recorder that reads its own way, ``select_events`` itself."""
    if (isinstance(recorder, SQLiteAggregateRecorder)
            and type(recorder).select_events is SQLiteAggregateRecorder.select_events
            and recorder.datastore.originator_id_type == "uuid"):
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(recorder.select_events_statement + "ORDER BY originator_version ASC ",
                      [aggregate_id.hex])
            return [StoredEvent(aggregate_id, row["originator_version"], row["topic"],
                                row["state"]) for row in c.fetchall()]
    return list(recorder.select_events(aggregate_id))


Read = Callable[[int, int], Sequence[Notification]]
"""``read(start, limit)``: the notifications from id ``start`` on, at most ``limit``."""


def notification_reader(recorder: ApplicationRecorder) -> Read:
    """``recorder.select_notifications(start, limit)``, faster on SQLite: the same
    Notifications, each aggregate's id parsed once and shared (a page holds each
    aggregate's facts many times), read as plain rows. On other stores, or a recorder that
    reads its own way, ``select_notifications`` itself."""
    if not (isinstance(recorder, SQLiteApplicationRecorder)
            and type(recorder).select_notifications
            is SQLiteApplicationRecorder.select_notifications
            and recorder.datastore.originator_id_type == "uuid"):
        return lambda start, limit: recorder.select_notifications(start, limit)
    statement = (f"SELECT rowid, originator_id, originator_version, topic, state "
                 f"FROM {recorder.events_table_name} WHERE rowid>=? ORDER BY rowid LIMIT ?")
    uuids: dict[str, UUID] = {}

    def read(start: int, limit: int) -> Sequence[Notification]:
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(statement, (start, limit))
            rows = c.fetchall()
        if len(uuids) >= _UUIDS_KEPT:
            uuids.clear()
        page = []
        for position, text, version, topic, state in rows:
            originator = uuids.get(text)
            if originator is None:
                originator = uuids[text] = UUID(text)
            page.append(Notification(originator, version, topic, state, position))
        return page

    return read


class _Code:
    """The source of one compiled function, and the values its names stand for."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}

    def name(self, value: Any) -> str:
        """A name the function's source uses for ``value``."""
        for name, known in self.names.items():
            if known is value:
                return name
        name = f"_v{len(self.names)}"
        self.names[name] = value
        return name


def _compile_class(event_class: type, uuid: Callable[[str], UUID]) -> tuple[Build, set[str]]:
    """One function structuring ``event_class`` from its state as the converter does.

    The converter's function for the class names each field's hook and declared type
    among its parameters' defaults (``__c_structure_<field>``, ``__c_type_<field>``);
    without them, or for a field with a default (cattrs then checks whether it is
    given), the converter's own function is used as it is.
    """
    whole = converter.get_structure_hook(event_class)
    fields = attrs.fields(event_class) if attrs.has(event_class) else None
    params = {n: p.default for n, p in inspect.signature(whole).parameters.items()}
    names = [f.name for f in _dataclass_fields(event_class)] if fields is None else []
    if not names or any(f"__c_structure_{n}" not in params or f"__c_type_{n}" not in params
                        for n in names):
        return (lambda state: whole(state, event_class)), set()
    code = _Code()
    parts = []
    parsed = set()
    for name in names:
        hook, declared = params[f"__c_structure_{name}"], params[f"__c_type_{name}"]
        expression = _expression(code, f"state[{name!r}]", hook, declared, uuid)
        if expression.startswith(f"({code.name(_PARSE)}(_x) "):
            parsed.add(name)
        parts.append(f"{name}={expression}")
    cls = code.name(event_class)
    if _plain_init(event_class):
        # What its __init__ would do: set each field (and check the id is a UUID, which
        # it is: the hook for it made it one).
        source = (f"def build(state):\n    made = {code.name(object.__new__)}({cls})\n"
                  f"    made.__dict__.update({', '.join(parts)})\n    return made\n")
    else:
        source = f"def build(state):\n    return {cls}({', '.join(parts)})\n"
    return _define(source, code, "build"), parsed


def _plain_init(event_class: type) -> bool:
    """Does building ``event_class`` (``cls(**fields)``) only set its fields in its
    ``__dict__``? So for the dataclass ``__init__`` of an eventsourcing event, whose
    ``__post_init__`` only checks that the id is a UUID."""
    cls: Any = event_class
    init = cls.__init__
    code = getattr(init, "__code__", None)
    return (cls.__new__ is object.__new__
            and getattr(event_class, "__post_init__", None) is DomainEvent.__post_init__
            and code is not None and code.co_filename == "<string>"
            and init.__qualname__ == f"{event_class.__qualname__}.__init__"
            and hasattr(object.__new__(event_class), "__dict__"))


def _dataclass_fields(cls: type) -> list[Any]:
    """The fields of a dataclass event, [] if any has a default (see ``_compile_class``)."""
    if not dataclasses.is_dataclass(cls):
        return []
    found = dataclasses.fields(cls)
    if any(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
           or not f.init for f in found):
        return []
    return list(found)


def _define(source: str, code: _Code, name: str) -> Build:
    scope = dict(code.names)
    exec(compile(source, f"<resilience.adapters.decoded {name}>", "exec"), scope)
    built: Build = scope[name]
    return built


_PLAIN = {str: str, int: int, bool: bool}
"""Types whose hook returns a JSON value of exactly that type as it is."""


def _expression(code: _Code, value: str, hook: Any, declared: Any,
                uuid: Callable[[str], UUID]) -> str:
    """Source of an expression structuring ``value`` (source) as ``hook(value, declared)``
    would, faster where the hook is one of the converter's plain rules."""
    called = f"{code.name(hook)}(_x, {code.name(declared)})"
    for plain in _PLAIN:
        if declared is plain and hook is converter.get_structure_hook(plain):
            return f"(_x if (_x := {value}).__class__ is {code.name(plain)} else {called})"
    if declared is UUID and hook is converter.get_structure_hook(UUID):
        return f"({code.name(uuid)}(_x) if (_x := {value}).__class__ is str else {called})"
    if _is_class(declared) and hook is converter.get_structure_hook(declared):
        if issubclass(declared, StrEnum):
            members = code.name(declared._value2member_map_)
            return (f"(_m if (_x := {value}).__class__ is str and "
                    f"(_m := {members}.get(_x)) is not None else {called})")
        if declared in VALUE_CLASSES:
            return f"{code.name(_compile_value(declared, uuid))}({value})"
        if declared is datetime:
            parse = code.name(_PARSE)
            return f"({parse}(_x) if (_x := {value}).__class__ is str else {called})"
    inner = _optional(declared)
    if inner is not None and getattr(hook, "__name__", "") == "_structure_optional":
        inner_hook = converter.get_structure_hook(inner)
        each = _expression(code, "_y", inner_hook, inner, uuid)
        if each != f"{code.name(inner_hook)}(_x, {code.name(inner)})":
            function = _define(f"def optional(_y):\n    return {each}\n", code, "optional")
            return f"(None if (_x := {value}) is None else {code.name(function)}(_x))"
    return f"{code.name(hook)}({value}, {code.name(declared)})"


def _is_class(declared: Any) -> bool:
    return isinstance(declared, type) and get_origin(declared) is None


def _optional(declared: Any) -> Any:
    """X of ``X | None``, else None."""
    if get_origin(declared) not in (Union, UnionType):
        return None
    members = [a for a in get_args(declared) if a is not NoneType]
    return members[0] if len(members) == 1 and len(get_args(declared)) == 2 else None


def _compile_value(cls: type, uuid: Callable[[str], UUID]) -> Build:
    """A stored value object's structuring, as the converter's hook for it does it
    (resilience.adapters.converter ``_stored``): a dict, each field by its declared
    type's hook when given, else its default, else refused; built without validators."""
    hook = converter.get_structure_hook(cls)
    code = _Code()
    lines = ["def value(value):",
             "    if value.__class__ is not dict:",
             f"        return {code.name(hook)}(value, {code.name(cls)})",
             f"    made = {code.name(object.__new__)}({code.name(cls)})",
             f"    put = {code.name(object.__setattr__)}"]
    for field in attrs.fields(cls):
        declared = field.type
        each = _expression(code, f"value[{field.name!r}]", converter.get_structure_hook(declared),
                           declared, uuid)
        lines.append(f"    if {field.name!r} in value:")
        lines.append(f"        put(made, {field.name!r}, {each})")
        lines.append("    else:")
        if field.default is attrs.NOTHING:
            # The converter's hook says what is missing, as the mapper reports it.
            lines.append(f"        return {code.name(hook)}(value, {code.name(cls)})")
        else:
            lines.append(f"        put(made, {field.name!r}, {code.name(field.default)})")
    lines.append("    return made")
    return _define("\n".join(lines) + "\n", code, "value")


def iso_as_stored(text: Any) -> bool:
    """Is ``text``, which ``datetime.fromisoformat`` reads, exactly what ``isoformat()``
    gives of what it reads? (So a stored time can be kept as its text, not formatted
    again.) True for the two forms an aware time is written in, to the second or the
    microsecond, with an offset of whole minutes: ``2022-01-03T09:35:11+08:00``,
    ``2022-01-03T09:35:11.750217+08:00``; False for every other form it reads (a space
    or another separator, basic or week dates, other fractions, ``Z``, ``-00:00``...)."""
    if text.__class__ is not str:
        return False
    size = len(text)
    # The separators every canonical text has at 4, 7, 10, 13, 16 (and 19: the fraction's).
    if size == 32:
        if text[4:20:3] != "--T::." or text[20:26] == "000000":
            return False
    elif size != 25 or text[4:17:3] != "--T::":
        return False
    return text[-6] in "+-" and text[-3] == ":" and text[-6:] != "-00:00"
