"""The one cattrs converter: how every event and value becomes JSON and back.

Configured once, here. JSON has no tuples, UUIDs, datetimes or durations, so
the converter unstructures them to lists, strings, ISO 8601 strings (with
their UTC offset) and seconds, and structures them back from the *declared*
field types: tuples come back as tuples, datetimes come back aware.

Text, whole numbers, numbers and yes/no are structured strictly: a value of
another JSON type is refused, never converted (``"3"`` is not 3, ``1.5`` is not
a floor, ``true`` is not a number, ``3`` is not text). What was stored is what
is read back.

Values typed by people (scenario files) go through ``input_converter``, which
builds value objects (``Location``, ``Actor``...) through their constructors, so
they meet the validation rule of a command's arguments
(:mod:`resilience.domain.validation`). Stored value objects are rebuilt field by
field *without* re-running those validators: they were checked when recorded,
and a rule tightened later (a new text limit, a refused character) must not make
what an earlier version accepted unreadable.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin
from uuid import UUID

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter

from resilience.domain.patrol import PatrolRule, PatrolVisit
from resilience.domain.validation import shown
from resilience.domain.values import Actor, CareCard, Contact, Location, Provider, UnitSpec
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _

# What a value was expected to be (the hooks below take a parameter named ``_``).
_WANTED = {"text": N_("text"), "a whole number": N_("a whole number"),
           "a number": N_("a number"), "true or false": N_("true or false"),
           "null": N_("null")}


def _refuse(value: Any, *wanted: str) -> InvalidInputError:
    """The error for ``value``, which is none of ``wanted`` (keys of _WANTED, or a
    phrase already in the language)."""
    words = [_(_WANTED[w]) if w in _WANTED else w for w in wanted]
    either = words[0]
    for word in words[1:]:
        either = _("{one} or {other}").format(one=either, other=word)
    return InvalidInputError(_("expected {wanted}, got {type} {value}").format(
        wanted=either, type=type(value).__name__, value=shown(value)))


def _object(cls: type[Any]) -> str:
    return _("a {cls} object").format(cls=cls.__name__)


def _missing(cls: type[Any], name: str) -> InvalidInputError:
    return InvalidInputError(_("a stored {cls} has no {field}").format(cls=cls.__name__,
                                                                       field=name))


def _str(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise _refuse(value, "text")
    return value


def _int(value: Any, _: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(value, "a whole number")
    return value


def _float(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refuse(value, "a number")
    return float(value)


def _member(value: Any, enum: type[StrEnum]) -> StrEnum:
    return enum(_str(value, None))


def _bool(value: Any, _: Any) -> bool:
    if not isinstance(value, bool):
        raise _refuse(value, "true or false")
    return value


_PLAIN: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    str: ("text", _str), int: ("a whole number", _int), float: ("a number", _float),
    bool: ("true or false", _bool)}


def _plain_union(union: Any) -> bool:
    """Two plain types or more, None aside (``X | None`` is X's hook or None already)."""
    members = [a for a in get_args(union) if a is not NoneType]
    return (get_origin(union) in (Union, UnionType) and len(members) > 1
            and all(a in _PLAIN for a in members))


def _one_of(value: Any, union: Any) -> Any:
    """A union of plain types (``int | str | None``), each member as strict as alone.

    cattrs passes a value through when it is an instance of a member, so ``True``
    would be taken for an ``int`` (bool is an int subclass): the value's exact type is
    matched first, then each member's own hook (an int for a float), else refused."""
    members = get_args(union)
    if type(value) in members or (value is None and NoneType in members):
        return value
    for member in members:
        if member is not NoneType:
            try:
                return _PLAIN[member][1](value, member)
            except InvalidInputError:
                pass
    wanted = [_PLAIN[m][0] for m in members if m is not NoneType]
    raise _refuse(value, *wanted, *["null"] * (NoneType in members))


def _uuid(value: Any, _: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    return UUID(_str(value, None))


def _datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(_str(value, None))


def _timedelta(value: Any, _: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=_float(value, None))


VALUE_CLASSES: tuple[type[Any], ...] = (Actor, Location, Contact, CareCard, UnitSpec, Provider,
                                        PatrolVisit, PatrolRule)
"""The value objects events carry: read back without their validators, typed in with them."""


def _stored(conv: Converter, cls: type[Any]) -> Any:
    """A hook rebuilding a stored ``cls`` from its fields, each structured by its declared
    type, without running the class's validators (see the module docstring)."""
    plan: list[tuple[str, Any, Any, Any]] = []  # name, type, its hook, default

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, dict):
            raise _refuse(value, _object(cls))
        if not plan:  # on first use, once every hook is registered
            plan.extend((f.name, f.type, conv.get_structure_hook(f.type), f.default)
                        for f in attrs.fields(cls))
        made = object.__new__(cls)
        for name, declared, hook, default in plan:
            if name in value:
                item = hook(value[name], declared)
            elif default is not attrs.NOTHING:
                item = default
            else:
                raise _missing(cls, name)
            object.__setattr__(made, name, item)
        return made
    return structure


def _make() -> Converter:
    conv = make_converter()
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(float, _float)
    conv.register_structure_hook(bool, _bool)
    conv.register_structure_hook_func(_plain_union, _one_of)
    # A hook for a class also serves its subclasses: vocabularies (StrEnum, a str)
    # need their own, which comes first in their method resolution order.
    conv.register_structure_hook(StrEnum, _member)
    conv.register_unstructure_hook(UUID, str)
    conv.register_structure_hook(UUID, _uuid)
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(datetime, _datetime)
    conv.register_unstructure_hook(timedelta, timedelta.total_seconds)
    conv.register_structure_hook(timedelta, _timedelta)
    for cls in VALUE_CLASSES:
        conv.register_structure_hook(cls, _stored(conv, cls))
    # An actor's optional fields are left out when None, so an actor without them is
    # stored byte for byte as before they existed (and read back with their default).
    omitted = override(omit_if_default=True)
    conv.register_unstructure_hook(
        Actor, make_dict_unstructure_fn(Actor, conv, override=omitted, imported_by=omitted))
    return conv


def _make_input(conv: Converter) -> Converter:
    typed = conv.copy(forbid_extra_keys=True)
    for cls in VALUE_CLASSES:
        typed.register_structure_hook(
            cls, make_dict_structure_fn(cls, typed, _cattrs_forbid_extra_keys=True))
    return typed


converter: Converter = _make()
"""The library's converter. Use it to (un)structure any event or value object."""

input_converter: Converter = _make_input(converter)
"""The same hooks, refusing unknown keys and building value objects through their
validating constructors: for values typed by people (scenario files).

Stored events keep the lenient converter so an older reader can load events
written by a newer version that added fields, or values a later rule refuses."""
