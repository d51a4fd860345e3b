"""The one rule for every value that enters the library: what is accepted is stored and
read back exactly, by every store and every view.

A value is checked against its *declared* type, never converted to it, and must be of
**exactly** that type, never a subclass: a subclass can override what a check reads
(``len``, ``.year``, ``__str__``, ``__abs__``) and so store something other than what
was checked (a ``UUID`` subclass whose ``__str__`` is not a UUID would be stored as
that text and never read back). A member of the declared vocabulary is exact (an enum
with members cannot be subclassed), and so is ``True`` (``bool`` cannot be).

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
- **moments** (``datetime``) are timezone-aware, their ``tzinfo`` a
  ``datetime.timezone`` or a ``zoneinfo.ZoneInfo`` (exactly: these give the same
  offset however often they are asked, so the offset checked is the one stored; convert
  another tzinfo first, ``moment.astimezone(ZoneInfo("Asia/Shanghai"))``), with a UTC
  offset in whole seconds (so the ISO 8601 text they are stored as reads back equal),
  not a wall time a daylight-saving change repeats or skips in its ``ZoneInfo``,
  from ``EARLIEST`` (1900-01-01T00:00Z) up to, not including, ``LATEST``
  (2200-01-01T00:00Z): far enough from the calendar's end (year 9999) that adding any
  duration a report works with cannot overflow. Moments that only *ask* (a period's
  bounds, ``known_at``, ``as_of``) may lie ``QUERY_MARGIN`` (a day) either side, so
  that a day, month or year at the range's edge, cut in any time zone, can be asked
  for.
- **durations** (``timedelta``) are at most ``MAX_DURATION`` (36,525 days) either
  way: stored as seconds, they keep their microseconds exactly.
- **identifiers** (``UUID``) are ``UUID`` objects, not their text.
- **vocabularies** (``StrEnum``) are members of the declared enum (commands accept
  a member's value as a ``str`` and look it up, listing the allowed values when it is
  not one).
- **lists** (``tuple[X, ...]``) are tuples (commands accept a list or tuple, never a
  string, which would be taken apart into characters) of at most ``MAX_ITEMS``
  (1,000) items, each checked as ``X``; ``dict[K, V]``: each key and value checked.
- **value objects** (attrs classes: ``Location``, ``Actor``, ``Contact``...) are
  instances of the declared class, and each of their fields follows these rules
  (their own validators also check them when they are built).
- ``X | None`` is None or an ``X``.

Every refusal raises :class:`resilience.errors.InvalidInputError` (a ``ValueError``)
naming the field, before anything is recorded; a message quotes the refused value
through :func:`shown`, short whatever it is (a megabyte of text, a list nested
thousands deep, an object whose ``__repr__`` raises). Commands check their arguments
with these functions first, for messages in the caller's terms; :func:`check_event`
then checks every field of every event just before it is triggered, by its declared
type, so no command can record a value that breaks the rule. The limits may grow in
later versions, never shrink, so that what was accepted stays readable.
"""

import functools
import math
import re
import reprlib
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import Enum
from types import NoneType, UnionType
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from resilience.domain.named import Named
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _

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
QUERY_MARGIN = timedelta(days=1)
"""How far before EARLIEST and after LATEST a moment that only asks may lie: more than
any UTC offset, so a period of local days at either edge can be asked for."""
MAX_DURATION = timedelta(days=36_525)
"""Longest duration, either way (about a century)."""

ZONES = (timezone, ZoneInfo)
"""The tzinfo types a moment may carry (exactly: not their subclasses)."""

_RANGE = (EARLIEST, LATEST)
_QUERY_RANGE = (EARLIEST - QUERY_MARGIN, LATEST + QUERY_MARGIN)

# Cc except tab and newline, and every surrogate code point.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

T = TypeVar("T")
E = TypeVar("E", bound=Enum)


# Showing a refused value ------------------------------------------------------------------

_SHOWN_LENGTH = 60
_PLAIN = frozenset({str, bytes, int, float, bool, NoneType, list, tuple, dict, set, frozenset})
"""Built-in types shown item by item, a few levels deep and a few items long."""
_TRUSTED = frozenset({UUID, datetime, date, time, timedelta, timezone, ZoneInfo})
"""Other types whose own ``repr`` is short and safe."""


class _Shown(reprlib.Repr):
    """``reprlib``'s limits, run only on the types it may trust."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 4
        self.maxdict = 3
        self.maxstring = self.maxother = _SHOWN_LENGTH
        self.maxlong = 40

    def repr1(self, x: Any, level: int) -> str:
        kind = type(x)
        if kind in _PLAIN:
            return super().repr1(x, level)
        if kind in _TRUSTED or isinstance(x, Enum) or kind.__module__.startswith("resilience."):
            return self.repr_instance(x, level)
        # Anything else may have a __repr__ that is slow, huge or hostile: not run.
        return f"<{kind.__name__} object>"

    def repr_bytes(self, x: bytes, level: int) -> str:
        return repr(x[:self.maxstring])


_shower = _Shown()


def shown(value: object) -> str:
    """A value as a message quotes it: at most 60 characters, a few levels deep, never
    raising, whatever the value (megabytes, nested thousands deep, a hostile ``__repr__``
    of an unknown type, which is not run)."""
    try:
        text = _shower.repr(value)
    except Exception:  # an int too long to print, a library repr that fails
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= _SHOWN_LENGTH else text[:_SHOWN_LENGTH - 3] + "..."


_REFUSALS: dict[str, tuple[str, str]] = {
    "text": (N_("{name} must be text, got {type} {value}"),
             N_("{name} must be text itself, not an instance of the subclass {subclass}")),
    "a number": (
        N_("{name} must be a number, got {type} {value}"),
        N_("{name} must be a number itself, not an instance of the subclass {subclass}")),
    "a datetime": (
        N_("{name} must be a datetime, got {type} {value}"),
        N_("{name} must be a datetime itself, not an instance of the subclass {subclass}")),
    "a timedelta": (
        N_("{name} must be a timedelta, got {type} {value}"),
        N_("{name} must be a timedelta itself, not an instance of the subclass {subclass}")),
    "a UUID": (
        N_("{name} must be a UUID, got {type} {value}"),
        N_("{name} must be a UUID itself, not an instance of the subclass {subclass}")),
    "a list or tuple": (
        N_("{name} must be a list or tuple, got {type} {value}"),
        N_("{name} must be a list or tuple itself, not an instance of the subclass "
           "{subclass}")),
    "a tuple": (
        N_("{name} must be a tuple, got {type} {value}"),
        N_("{name} must be a tuple itself, not an instance of the subclass {subclass}")),
    "a dict": (
        N_("{name} must be a dict, got {type} {value}"),
        N_("{name} must be a dict itself, not an instance of the subclass {subclass}")),
    "a {cls}": (
        N_("{name} must be a {cls}, got {type} {value}"),
        N_("{name} must be a {cls} itself, not an instance of the subclass {subclass}")),
    "an {cls}": (
        N_("{name} must be an {cls}, got {type} {value}"),
        N_("{name} must be an {cls} itself, not an instance of the subclass {subclass}")),
}
"""The refusals of a value of the wrong type, by what was asked for (a class by its
name, ``{cls}``, after "a" or "an"): one whole sentence each, so each is translated."""


def _refuse_type(value: object, name: str, what: str, *types: type[Any],
                 cls: str = "") -> InvalidInputError:
    """The refusal of a value that is not exactly one of ``types`` (``what``, a key of
    ``_REFUSALS``, names them): a subclass's is worded apart, for it looks like what was
    asked for."""
    wrong, subclass = _REFUSALS[what]
    if isinstance(value, types) and type(value) is not bool:  # True is not a number at all
        return InvalidInputError(_(subclass).format(name=name, cls=cls,
                                                    subclass=type(value).__name__))
    return InvalidInputError(_(wrong).format(name=name, cls=cls, type=type(value).__name__,
                                             value=shown(value)))


def _too_many(name: str, count: int, most: int = MAX_ITEMS) -> InvalidInputError:
    return InvalidInputError(_("{name} must have at most {most} items, got {count}").format(
        name=name, most=f"{most:,}", count=f"{count:,}"))


def text_limit(name: str) -> int:
    """The most characters the text field (or argument) ``name`` may hold."""
    limit = _limits.get(name)
    if limit is None:
        limit = FREE_TEXT if name.rpartition(".")[2] in FREE_TEXT_FIELDS else SHORT_TEXT
        if len(_limits) < 4096:  # (names are the code's own, and a few per list item)
            _limits[name] = limit
    return limit


_limits: dict[str, int] = {}


def check_text(value: object, name: str, limit: int | None = None) -> str:
    """Return ``value`` unchanged if it is acceptable text (see the module docstring)."""
    if type(value) is not str:
        raise _refuse_type(value, name, "text", str)
    most = text_limit(name) if limit is None else limit
    if len(value) > most:
        raise InvalidInputError(_("{name} must be at most {most} characters, got {count}")
                                .format(name=name, most=f"{most:,}", count=f"{len(value):,}"))
    bad = _FORBIDDEN.search(value)
    if bad is not None:
        char = ord(bad.group())
        message = (N_("{name} contains a lone surrogate ({code}) at position {position}; "
                      "text may hold no control character but newline and tab, and must be "
                      "valid Unicode")
                   if 0xD800 <= char <= 0xDFFF else
                   N_("{name} contains a control character ({code}) at position "
                      "{position}; text may hold no control character but newline and tab, "
                      "and must be valid Unicode"))
        raise InvalidInputError(_(message).format(name=name, code=f"U+{char:04X}",
                                                  position=bad.start()))
    return value


def require_text(value: object, name: str) -> str:
    """Return ``value`` stripped, if it is acceptable text that is not blank."""
    stripped = check_text(value, name).strip()
    if not stripped:
        raise InvalidInputError(_("{name} must be a non-empty string, got {value}").format(
            name=name, value=shown(value)))
    return stripped


def check_whole(value: object, name: str, low: int = -MAX_INT, high: int = MAX_INT) -> int:
    """Return ``value`` if it is an ``int`` (not a bool) from ``low`` to ``high``."""
    if type(value) is not int or not low <= value <= high:
        open_ended = high == MAX_INT and low > -MAX_INT
        message = (N_("{name} must be a whole number {low} or more, got {type} {value}")
                   if open_ended else
                   N_("{name} must be a whole number from {low} to {high}, got {type} {value}"))
        raise InvalidInputError(_(message).format(name=name, low=low, high=high,
                                                  type=type(value).__name__,
                                                  value=shown(value)))
    return value


def check_number(value: object, name: str) -> float:
    """Return ``value`` if it is a finite ``float`` or an ``int`` (not a bool) within range."""
    if type(value) is not float and type(value) is not int:
        raise _refuse_type(value, name, "a number", int, float)
    if not math.isfinite(value) or abs(value) > MAX_INT:
        raise InvalidInputError(_("{name} must be a finite number of magnitude at most "
                                  "{most}, got {value}").format(name=name, most=MAX_INT,
                                                                value=shown(value)))
    return value


MAX_WAIT = 86_400.0
"""Most seconds a wait may be set to (a store's timeout, a follower's interval): a day.
Far longer ones overflow a thread's or a driver's timed wait."""


def check_wait(value: object, name: str) -> float:
    """Return ``value`` if it is a number of seconds > 0 and at most MAX_WAIT (not a bool,
    not NaN, not infinite)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0 < value <= MAX_WAIT):  # NaN fails the comparison too
        raise InvalidInputError(_("{name} must be a number of seconds > 0 and at most "
                                  "{most}, got {value}").format(
            name=name, most=f"{MAX_WAIT:,.0f}", value=shown(value)))
    return value


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` if it is True or False."""
    if type(value) is not bool:
        raise InvalidInputError(_("{name} must be True or False, got {value}").format(
            name=name, value=shown(value)))
    return value


def check_zone(value: object, name: str) -> timezone | ZoneInfo:
    """Return ``value`` if it is a time zone a moment may carry (see ``ZONES``)."""
    if type(value) not in ZONES:
        raise InvalidInputError(_(
            "{name} must be a time zone (a zoneinfo.ZoneInfo or a datetime.timezone), e.g. "
            "ZoneInfo('Asia/Shanghai'); got {type} {value}").format(
                name=name, type=type(value).__name__, value=shown(value)))
    return typing.cast(timezone | ZoneInfo, value)


def check_moment(value: object, name: str, *, query: bool = False) -> datetime:
    """Return ``value`` if it is an aware datetime from EARLIEST to before LATEST; with
    ``query``, a moment that only asks, up to QUERY_MARGIN beyond either end."""
    global _passed
    passed = _passed
    if value is passed[0] or value is passed[1]:
        return value  # type: ignore[return-value]  # (it passed: a datetime)
    if type(value) is not datetime:
        raise _refuse_type(value, name, "a datetime", datetime)
    zone = value.tzinfo
    if zone is None:
        raise InvalidInputError(_(
            "{name} must be timezone-aware (got naive {moment}); "
            "attach a tzinfo, e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai'))").format(
                name=name, moment=value.isoformat()))
    if type(zone) not in ZONES:
        # raises, naming the zone's class
        check_zone(zone, _("{name}'s tzinfo").format(name=name))
    offset = typing.cast(timedelta, value.utcoffset())
    if offset.microseconds:
        raise InvalidInputError(_("{name}'s UTC offset must be whole seconds, got {offset}")
                                .format(name=name, offset=offset))
    low, high = _QUERY_RANGE if query else _RANGE
    # A local time is within a day of UTC, so only the years at the edges need the exact
    # test; one far beyond is refused without it (datetime.max less an offset overflows).
    year = value.year
    if not low.year < year < high.year - 1 and not (
            low.year - 1 <= year <= high.year and low <= value < high):
        raise InvalidInputError(_(
            "{name} must be from {low} to before {high} (UTC), got {moment}").format(
                name=name, low=f"{low:%Y-%m-%d}", high=f"{high:%Y-%m-%d}",
                moment=value.isoformat()))
    if type(zone) is ZoneInfo and not _steady(zone, year) and (
            value.replace(fold=1 - value.fold).utcoffset() != offset):
        _refuse_shifted_wall_time(value, name)
    if not query:
        _passed = (value, passed[0])
    return value


_passed: tuple[object, object] = (None, None)
"""The last two moments that passed ``check_moment`` (not as a query): a command checks
its recorded moment as every command before it (a clock's reading, or an import's), and
the moments of a batch repeat. A datetime of exactly that type in one of ``ZONES`` is
immutable and its offset fixed, so one that passed passes again; it is kept (held, so its
id is not reused) and passes at once. A pair read at once: threads may replace it."""


@functools.lru_cache(maxsize=4096)
def _steady(zone: ZoneInfo, year: int) -> bool:
    """Whether ``zone`` keeps one UTC offset all through ``year`` (and a day either side),
    so no wall time of that year is repeated or skipped. Sampled daily: no zone changes
    its clocks and back within a day. Most moments are in such a year (Asia/Shanghai
    since 1992), and the test below is the costliest part of checking a moment."""
    noon = datetime(year, 1, 1, 12, tzinfo=UTC)
    offsets = {(noon + timedelta(days=day)).astimezone(zone).utcoffset()
               for day in range(-2, 368)}
    return len(offsets) == 1


def _refuse_shifted_wall_time(value: datetime, name: str) -> None:
    """Refuse a wall time that a daylight-saving change repeats (two instants) or skips
    (none). Stored with its offset, a repeated one reads back unequal (PEP 495), and two
    moments of one zone compare by wall time, so either would let times go backwards."""
    there = value.astimezone(UTC).astimezone(value.tzinfo)
    message = (N_("{name} {moment} never happened in {zone} (a daylight-saving change): "
                  "give the moment with a fixed UTC offset instead, "
                  "e.g. tzinfo=timezone(timedelta(hours=-5))")
               if there.replace(tzinfo=None) != value.replace(tzinfo=None) else
               N_("{name} {moment} happened twice in {zone} (a daylight-saving change): "
                  "give the moment with a fixed UTC offset instead, "
                  "e.g. tzinfo=timezone(timedelta(hours=-5))"))
    raise InvalidInputError(_(message).format(
        name=name, moment=value.replace(tzinfo=None).isoformat(), zone=value.tzinfo))


def check_duration(value: object, name: str) -> timedelta:
    """Return ``value`` if it is a timedelta of at most MAX_DURATION either way."""
    if type(value) is not timedelta:
        raise _refuse_type(value, name, "a timedelta", timedelta)
    if abs(value) > MAX_DURATION:
        raise InvalidInputError(_("{name} must be at most {days} days either way, got "
                                  "{value}").format(name=name, days=f"{MAX_DURATION.days:,}",
                                                    value=value))
    return value


def check_uuid(value: object, name: str) -> UUID:
    """Return ``value`` if it is a UUID."""
    if type(value) is not UUID:
        raise _refuse_type(value, name, "a UUID", UUID)
    return value


def check_items(value: object, name: str, item: Callable[[object, str], T],
                most: int = MAX_ITEMS) -> tuple[T, ...]:
    """A tuple of the checked items of ``value``, a list or tuple (never a string) of at
    most ``most`` items, each passed to ``item(value, name)``. A tuple of built-ins shown
    by its name (``Named``: ``BUILT_IN``, ``RATES``) is a tuple: it overrides only its repr."""
    if type(value) is not list and type(value) is not tuple and type(value) is not Named:
        raise _refuse_type(value, name, "a list or tuple", list, tuple)
    if not value:
        return ()
    if len(value) > most:
        raise _too_many(name, len(value), most)
    return tuple(item(entry, f"{name}[{index}]") for index, entry in enumerate(value))


def check_instance(value: object, name: str, cls: type[T]) -> T:
    """Return ``value`` if it is a ``cls`` (exactly)."""
    if type(value) is not cls:
        noun = cls.__name__
        raise _refuse_type(value, name, "an {cls}" if noun[:1] in "AEIOU" else "a {cls}", cls,
                           cls=noun)
    return value


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

_plans: dict[type[Any], tuple[tuple[str, str, Check], ...]] = {}


def check_event(event_class: type[Any], values: Mapping[str, object]) -> None:
    """Check the values a command is about to trigger ``event_class`` with, each against
    the field's declared type; fields the library sets itself are left to it."""
    for name, qualified, check in event_plan(event_class):
        if name in values:
            check(values[name], qualified)


def event_plan(event_class: type[Any]) -> tuple[tuple[str, str, Check], ...]:
    """How ``check_event`` checks ``event_class``'s fields: each field's name, its name in
    messages (``"Class.field"``) and its check, in the order the class declares them."""
    plan = _plans.get(event_class)
    if plan is None:
        plan = _plans[event_class] = tuple(
            (name, f"{event_class.__name__}.{name}", check)
            for name, check in _event_plan(event_class))
    return plan


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
    raise TypeError(f"{field}: no validation rule for the declared type {declared}")


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
        raise InvalidInputError(_("{name} must be {declared}, got {value}").format(
            name=name, declared=declared, value=shown(value)))
    return check_union


def _tuple_of(item: Check) -> Check:
    def check_tuple(value: object, name: str) -> None:
        if type(value) is not tuple:
            raise _refuse_type(value, name, "a tuple", tuple)
        if len(value) > MAX_ITEMS:
            raise _too_many(name, len(value))
        for index, entry in enumerate(value):
            item(entry, f"{name}[{index}]")
    return check_tuple


def _dict_of(key: Check, item: Check) -> Check:
    def check_dict(value: object, name: str) -> None:
        if type(value) is not dict:
            raise _refuse_type(value, name, "a dict", dict)
        if len(value) > MAX_ITEMS:
            raise _too_many(name, len(value))
        for k, v in value.items():
            key(k, f"{name} key")
            item(v, f"{name}[{shown(k)}]")
    return check_dict


def _member_of(enum_cls: type[E]) -> Check:
    def check_member(value: object, name: str) -> None:
        if type(value) is not enum_cls:
            allowed = ", ".join(str(m.value) for m in enum_cls)
            raise InvalidInputError(_("{name} must be one of {allowed}; got {value}").format(
                name=name, allowed=allowed, value=shown(value)))
    return check_member


def _value_object(cls: type[Any]) -> Check:
    plan: list[tuple[str, Check]] = []

    def check_object(value: object, name: str) -> None:
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
