"""The one rule for every value that enters the library: what is accepted is stored and
read back exactly, by every store and every view.

A value is checked against its *declared* type, never converted to it:

- **text** (``str``) is a ``str`` of at most ``SHORT_TEXT`` (200) characters, or
  ``FREE_TEXT`` (10,000) for the free-text fields named in ``FREE_TEXT_FIELDS``
  (descriptions, details, notes, reasons, summaries, comments, purposes, tasks,
  actions, targets and review keys). Characters are code points (``len``). It is
  valid Unicode: no lone surrogate (U+D800..U+DFFF, which UTF-8 cannot encode, so
  SQLite and PostgreSQL refuse the views that hold it). It holds no control
  character (Unicode category Cc: U+0000..U+001F, U+007F..U+009F) other than
  newline (``\\n``) and tab (``\\t``). A carriage return is refused too: send line
  breaks as ``\\n`` (a lone ``\\r`` rewrites a terminal line, so a report could be
  made to show what was not recorded). Command ids are text.
- **whole numbers** (``int``) are ``int`` and never ``bool``: ``"3"`` is not 3,
  ``1.5`` and ``3.0`` are not whole numbers, ``True`` is not a number. They lie from
  ``-MAX_INT`` to ``MAX_INT`` (2**53 - 1), which every JSON reader keeps exactly,
  or in the tighter range a field's domain sets (a floor from -20 to 300, a unit's
  households from 0 to 10,000, a rating from 1 to 5...).
- **numbers** (``float``) are ``float`` or ``int`` (never ``bool``), finite (no NaN,
  no infinity), of magnitude at most ``MAX_INT``.
- **yes/no** (``bool``) is ``True`` or ``False``, nothing else.
- **moments** (``datetime``) are timezone-aware, with a UTC offset in whole seconds
  (so the ISO 8601 text they are stored as reads back equal), from ``EARLIEST``
  (1900-01-01T00:00Z) up to, not including, ``LATEST`` (2200-01-01T00:00Z): far
  enough from the calendar's end (year 9999) that adding any duration a report
  works with cannot overflow.
- **durations** (``timedelta``) are at most ``MAX_DURATION`` (36,525 days) either
  way: stored as seconds, they keep their microseconds exactly.
- **identifiers** (``UUID``) are ``UUID`` objects, not their text.
- **vocabularies** (``StrEnum``) are members of the declared enum (commands accept
  a member's value and look it up, listing the allowed values when it is not one).
- **lists** (``tuple[X, ...]``) are tuples (commands accept a list or tuple, never a
  string, which would be taken apart into characters) of at most ``MAX_ITEMS``
  (1,000) items, each checked as ``X``; ``dict[K, V]``: each key and value checked.
- **value objects** (attrs classes: ``Location``, ``Actor``, ``Contact``...) are
  instances of the declared class, and each of their fields follows these rules
  (their own validators also check them when they are built).
- ``X | None`` is None or an ``X``.

Every refusal raises :class:`resilience.errors.InvalidInputError` (a ``ValueError``)
naming the field, before anything is recorded. Commands check their arguments with
these functions first, for messages in the caller's terms; :func:`check_event` then
checks every field of every event just before it is triggered, by its declared
type, so no command can record a value that breaks the rule. The limits may grow in
later versions, never shrink, so that what was accepted stays readable.
"""

import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import NoneType, UnionType
from typing import Any, TypeVar
from uuid import UUID

import attrs

from resilience.errors import InvalidInputError

SHORT_TEXT = 200
"""Most characters in identifiers, names, phone numbers, channels, categories, titles."""
FREE_TEXT = 10_000
"""Most characters in a free-text field (see ``FREE_TEXT_FIELDS``)."""
FREE_TEXT_FIELDS = frozenset({
    "description", "details", "note", "text", "reason", "summary", "comment", "purpose",
    "task", "action", "target", "review",
})
"""Text fields (and command arguments) with the ``FREE_TEXT`` limit; all others are short."""
MAX_INT = 2**53 - 1
"""Largest magnitude of a whole number: every JSON reader (doubles included) keeps it exactly."""
MAX_ITEMS = 1_000
"""Most items in a list (a building's units, a person's skills, equipment, responders)."""
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest moment accepted."""
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""Moments must be before this."""
MAX_DURATION = timedelta(days=36_525)
"""Longest duration, either way (about a century)."""

# Cc except tab and newline, and every surrogate code point.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

T = TypeVar("T")
E = TypeVar("E", bound=Enum)


def _shown(value: object) -> str:
    """``repr`` of a value for a message, cut short (a refused value may be megabytes)."""
    try:
        shown = repr(value)
    except Exception:  # a hostile __repr__ must not hide the refusal
        shown = f"<{type(value).__name__}>"
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _not_a(name: str, what: str, value: object) -> InvalidInputError:
    return InvalidInputError(f"{name} must be {what}, got {type(value).__name__} "
                             f"{_shown(value)}")


def _too_many(name: str, count: int, most: int = MAX_ITEMS) -> InvalidInputError:
    return InvalidInputError(f"{name} must have at most {most:,} items, got {count:,}")


def text_limit(name: str) -> int:
    """The most characters the text field (or argument) ``name`` may hold."""
    return FREE_TEXT if name.rpartition(".")[2] in FREE_TEXT_FIELDS else SHORT_TEXT


def check_text(value: object, name: str, limit: int | None = None) -> str:
    """Return ``value`` unchanged if it is acceptable text (see the module docstring)."""
    if not isinstance(value, str):
        raise _not_a(name, "text", value)
    most = text_limit(name) if limit is None else limit
    if len(value) > most:
        raise InvalidInputError(f"{name} must be at most {most:,} characters, "
                                f"got {len(value):,}")
    bad = _FORBIDDEN.search(value)
    if bad is not None:
        char = ord(bad.group())
        what = "a lone surrogate" if 0xD800 <= char <= 0xDFFF else "a control character"
        raise InvalidInputError(
            f"{name} contains {what} (U+{char:04X}) at position {bad.start()}; text may "
            "hold no control character but newline and tab, and must be valid Unicode")
    return value


def require_text(value: object, name: str) -> str:
    """Return ``value`` stripped, if it is acceptable text that is not blank."""
    if not check_text(value, name).strip():
        raise InvalidInputError(f"{name} must be a non-empty string, got {_shown(value)}")
    return typing.cast(str, value).strip()


def check_whole(value: object, name: str, low: int = -MAX_INT, high: int = MAX_INT) -> int:
    """Return ``value`` if it is an ``int`` (not a bool) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be a whole number from {low} to {high}, "
                                f"got {type(value).__name__} {_shown(value)}")
    if not low <= value <= high:
        raise InvalidInputError(f"{name} must be a whole number from {low} to {high}, "
                                f"got {_shown(value)}")
    return value


def require_whole(value: object, name: str, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is a whole number (not a bool) from ``low`` to ``high``
    (inclusive; up to ``MAX_INT`` if None), or raise InvalidInputError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            value > (MAX_INT if high is None else high)):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise InvalidInputError(f"{name} must be a whole number {bounds}, got {_shown(value)}")
    return value


def check_number(value: object, name: str) -> float:
    """Return ``value`` if it is a finite ``float`` or an ``int`` (not a bool) within range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _not_a(name, "a number", value)
    if not math.isfinite(value) or abs(value) > MAX_INT:
        raise InvalidInputError(f"{name} must be a finite number of magnitude at most "
                                f"{MAX_INT}, got {_shown(value)}")
    return value


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is True or False."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {_shown(value)}")
    return value


_recent: tuple[object, object] = (None, None)
"""The last two moments accepted. A command checks the same two (when it happened, when
it was recorded) several times over; datetimes are immutable, so they pass at once."""


def check_moment(value: object, name: str) -> datetime:
    """Return ``value`` if it is an aware datetime from EARLIEST to before LATEST."""
    global _recent
    if not isinstance(value, datetime):
        raise _not_a(name, "a datetime", value)
    if value is _recent[0] or value is _recent[1]:
        return value
    offset = value.utcoffset() if value.tzinfo is not None else None
    if offset is None:
        raise InvalidInputError(
            f"{name} must be timezone-aware (got naive {value.isoformat()}); "
            "attach a tzinfo, e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai'))")
    if offset.microseconds:
        raise InvalidInputError(f"{name}'s UTC offset must be whole seconds, got {offset}")
    # An offset is less than a day, so only the years at the edges need the exact test.
    if not EARLIEST.year < value.year < LATEST.year - 1 and not (
            EARLIEST.year - 1 <= value.year <= LATEST.year and EARLIEST <= value < LATEST):
        raise InvalidInputError(
            f"{name} must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC), "
            f"got {value.isoformat()}")
    _recent = (value, _recent[0])
    return value


def check_duration(value: object, name: str) -> timedelta:
    """Return ``value`` if it is a timedelta of at most MAX_DURATION either way."""
    if not isinstance(value, timedelta):
        raise _not_a(name, "a timedelta", value)
    if abs(value) > MAX_DURATION:
        raise InvalidInputError(f"{name} must be at most {MAX_DURATION.days:,} days either "
                                f"way, got {value}")
    return value


def check_uuid(value: object, name: str) -> UUID:
    """Return ``value`` if it is a UUID."""
    if not isinstance(value, UUID):
        raise _not_a(name, "a UUID", value)
    return value


def check_items(value: object, name: str, item: Callable[[object, str], T],
                most: int = MAX_ITEMS) -> tuple[T, ...]:
    """A tuple of the checked items of ``value``, a list or tuple (never a string) of at
    most ``most`` items, each passed to ``item(value, name)``."""
    if not isinstance(value, list | tuple):
        raise _not_a(name, "a list or tuple", value)
    if len(value) > most:
        raise _too_many(name, len(value), most)
    return tuple(item(entry, f"{name}[{index}]") for index, entry in enumerate(value))


def check_instance(value: object, name: str, cls: type[T]) -> T:
    """Return ``value`` if it is a ``cls``."""
    if not isinstance(value, cls):
        raise _not_a(name, _article(cls.__name__), value)
    return value


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "AEIOU" else f"a {noun}"


# Validators for attrs fields: the same rule, named by the attribute --------------------


def text_field(_: object, attribute: "attrs.Attribute[Any]", value: object) -> None:
    """attrs validator: acceptable text (may be empty)."""
    check_text(value, attribute.name)


def non_empty_field(_: object, attribute: "attrs.Attribute[Any]", value: object) -> None:
    """attrs validator: acceptable text that is not blank."""
    require_text(value, attribute.name)


def optional_non_empty_field(_: object, attribute: "attrs.Attribute[Any]",
                             value: object) -> None:
    """attrs validator: None, or acceptable text that is not blank."""
    if value is not None:
        require_text(value, attribute.name)


def whole_field(low: int, high: int, *, optional: bool = False
                ) -> Callable[[object, "attrs.Attribute[Any]", object], None]:
    """attrs validator: a whole number from ``low`` to ``high`` (or None if ``optional``)."""
    def validate(_: object, attribute: "attrs.Attribute[Any]", value: object) -> None:
        if value is None and optional:
            return
        check_whole(value, attribute.name, low, high)
    return validate


def instance_field(cls: type[Any]) -> Callable[[object, "attrs.Attribute[Any]", object], None]:
    """attrs validator: an instance of ``cls``."""
    def validate(_: object, attribute: "attrs.Attribute[Any]", value: object) -> None:
        check_instance(value, attribute.name, cls)
    return validate


# The walker: every field of an event by its declared type -----------------------------

Check = Callable[[object, str], object]
"""Checks a value (second argument: its name for messages); raises InvalidInputError."""

_LIBRARY_FIELDS = frozenset({"originator_id", "originator_version", "originator_topic"})
"""Set by eventsourcing itself, not by a command."""

_plans: dict[type[Any], tuple[tuple[str, Check], ...]] = {}


def check_event(event_class: type[Any], values: Mapping[str, object]) -> None:
    """Check the values a command is about to trigger ``event_class`` with, each against
    the field's declared type; fields the library sets itself are left to it."""
    plan = _plans.get(event_class)
    if plan is None:
        plan = _plans[event_class] = _event_plan(event_class)
    prefix = event_class.__name__
    for name, check in plan:
        if name in values:
            check(values[name], f"{prefix}.{name}")


def check_value(value: object, declared: Any, name: str) -> None:
    """Check one value against a declared type (as ``check_event`` checks a field)."""
    _checker(declared, name)(value, name)


def _event_plan(event_class: type[Any]) -> tuple[tuple[str, Check], ...]:
    hints = typing.get_type_hints(event_class)
    return tuple((f.name, _checker(hints[f.name], f.name))
                 for f in dataclass_fields(event_class) if f.name not in _LIBRARY_FIELDS)


def _checker(declared: Any, field: str) -> Check:
    """A function checking values of the declared type (``field`` names its text limit)."""
    simple = _SIMPLE.get(declared)
    if simple is not None:
        return simple
    if declared is str:
        return _text_of(text_limit(field))
    origin, args = typing.get_origin(declared), typing.get_args(declared)
    if origin in (typing.Union, UnionType):
        return _union([_checker(a, field) for a in args if a is not NoneType],
                      NoneType in args, declared)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _tuple_of(_checker(args[0], field))
        raise TypeError(f"{field}: only tuple[X, ...] is supported, not {declared}")
    if origin is dict:
        return _dict_of(_checker(args[0], field), _checker(args[1], field))
    if isinstance(declared, type) and issubclass(declared, Enum):
        return _member_of(declared)
    if isinstance(declared, type) and attrs.has(declared):
        return _value_object(declared)
    raise TypeError(f"{field}: no validation rule for the declared type {declared!r}")


def _text_of(limit: int) -> Check:
    search = _FORBIDDEN.search

    def check_field_text(value: object, name: str) -> None:
        # The common case in one test; check_text finds and words any refusal.
        if type(value) is not str or len(value) > limit or search(value) is not None:
            check_text(value, name, limit)
    return check_field_text


def _union(options: list[Check], optional: bool, declared: Any) -> Check:
    if optional and len(options) == 1:
        inner = options[0]

        def check_optional(value: object, name: str) -> None:
            if value is not None:
                inner(value, name)
        return check_optional

    def check_union(value: object, name: str) -> None:
        if value is None and optional:
            return
        for option in options:
            try:
                option(value, name)
                return
            except InvalidInputError:
                continue
        raise InvalidInputError(f"{name} must be {declared}, got {_shown(value)}")
    return check_union


def _tuple_of(item: Check) -> Check:
    def check_tuple(value: object, name: str) -> None:
        if not isinstance(value, tuple):
            raise _not_a(name, "a tuple", value)
        if len(value) > MAX_ITEMS:
            raise _too_many(name, len(value))
        for index, entry in enumerate(value):
            item(entry, f"{name}[{index}]")
    return check_tuple


def _dict_of(key: Check, item: Check) -> Check:
    def check_dict(value: object, name: str) -> None:
        if not isinstance(value, dict):
            raise _not_a(name, "a dict", value)
        if len(value) > MAX_ITEMS:
            raise _too_many(name, len(value))
        for k, v in value.items():
            key(k, f"{name} key")
            item(v, f"{name}[{k!r}]")
    return check_dict


def _member_of(enum_cls: type[E]) -> Check:
    def check_member(value: object, name: str) -> None:
        if not isinstance(value, enum_cls):
            allowed = ", ".join(str(m.value) for m in enum_cls)
            raise InvalidInputError(f"{name} must be one of {allowed}; got {_shown(value)}")
    return check_member


def _value_object(cls: type[Any]) -> Check:
    plan: list[tuple[str, Check]] = []

    def check_object(value: object, name: str) -> None:
        if not isinstance(value, cls):
            check_instance(value, name, cls)
        if not plan:  # built on first use: value classes may refer to each other
            plan.extend((a.name, _checker(a.type, a.name)) for a in attrs.fields(cls))
        for field, check in plan:
            check(getattr(value, field), f"{name}.{field}")
    return check_object


_SIMPLE: dict[Any, Check] = {
    bool: check_bool,
    int: check_whole,
    float: check_number,
    datetime: check_moment,
    timedelta: check_duration,
    UUID: check_uuid,
    NoneType: lambda value, name: None if value is None else check_instance(value, name,
                                                                            NoneType),
}
