"""An escalation policy as JSON, read strictly: its shape here, its meaning in the classes.

The form (``EscalationPolicy.to_dict``): ``{"deadlines": [deadline], "emergency":
[deadline] | null}``; a deadline ``{"name", "subject", "expect": [milestone],
"within_minutes"? | "from_expected"?: true, "levels": [{"after_minutes", "notify":
[{"role"} | {"body"}]}], "types"?, "severities"?, "categories"?}``. Reading refuses a
wrong JSON type (``"2"`` is not a number of minutes, ``1`` is not text), a missing or
unknown key, a duration that is not a whole number of seconds, a repeated key and NaN in
JSON text: each an InvalidInputError naming the deadline (``deadline 2 (contained):
...``), never a policy that quietly means something else. Whether the values make a
deadline (milestones its subject has, levels in order, known roles) is checked by the
classes of resilience.domain.escalation, which build what this reads; their refusals are
named the same way.
"""

import json
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, NamedTuple, TypeVar

from resilience.domain.validation import MAX_DURATION, shown
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _

T = TypeVar("T")


class DeadlineFields(NamedTuple):
    """One deadline as read, its types checked: what ``Deadline`` is built from."""

    name: str
    subject: str
    expect: tuple[str, ...]
    within: timedelta | None
    from_expected: bool
    levels: tuple[tuple[timedelta, tuple[tuple[str | None, str | None], ...]], ...]
    """Each level's ``after`` and its recipients as (role, body)."""
    types: tuple[str, ...]
    severities: tuple[str, ...]
    categories: tuple[str, ...]


_POLICY_KEYS = {"deadlines", "emergency"}
_DEADLINE_KEYS = {"name", "subject", "expect", "within_minutes", "from_expected", "levels",
                  "types", "severities", "categories"}


def read_json(text: str) -> Any:
    """JSON text as data; a repeated key, NaN or infinity is refused."""
    try:
        return json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidInputError(_("escalation policy: not JSON: {problem}").format(
            problem=exc)) from None


def policy_fields(data: object, build: Callable[[DeadlineFields], T]
                  ) -> tuple[tuple[T, ...], tuple[T, ...] | None]:
    """The peacetime and emergency deadlines of a policy's data, each read and passed to
    ``build`` (a refusal names the deadline)."""
    fields = _object(data, N_("an escalation policy"), {"deadlines"}, _POLICY_KEYS)
    emergency = fields.get("emergency")
    return (_deadlines(fields["deadlines"], _PEACETIME, build),
            None if emergency is None else _deadlines(emergency, _EMERGENCY, build))


_PEACETIME = (N_("deadlines"), N_("deadline {number}"), N_("deadline {number} ({name})"))
_EMERGENCY = (N_("emergency deadlines"), N_("emergency deadline {number}"),
              N_("emergency deadline {number} ({name})"))
"""What a list of deadlines is called in refusals: the list, and one of its deadlines
(unnamed, named)."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise InvalidInputError(_("escalation policy: key {key} repeats").format(
                key=shown(key)))
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise InvalidInputError(_("escalation policy: {name} is not a number").format(name=name))


def _object(data: object, what: str, required: set[str],
            allowed: Iterable[str]) -> Mapping[str, Any]:
    """``data`` if it is a JSON object with the ``required`` keys and no key but the
    ``allowed``; ``what`` names it in a refusal (marked with ``N_``)."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(_("{what} is a JSON object, got {value}").format(
            what=_(what), value=shown(data)))
    missing = required - data.keys()
    if missing:
        raise InvalidInputError(_("{what} lacks {keys}").format(
            what=_(what), keys=", ".join(sorted(missing))))
    unknown = sorted(map(str, data.keys() - set(allowed)))
    if unknown:
        raise InvalidInputError(_("{what} has unknown key(s) {keys}; allowed: {allowed}").format(
            what=_(what), keys=", ".join(map(shown, unknown)),
            allowed=", ".join(sorted(allowed))))
    return data


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInputError(_("{what} must be a list, got {value}").format(
            what=what, value=shown(value)))
    return value


def _deadlines(value: object, what: tuple[str, str, str],
               build: Callable[[DeadlineFields], T]) -> tuple[T, ...]:
    found = []
    listed, unnamed, named = what
    for number, item in enumerate(_list(value, _(listed)), start=1):
        name = item.get("name") if isinstance(item, Mapping) else None
        try:
            found.append(build(_deadline(item)))
        except InvalidInputError as exc:
            # A deadline names itself in its own refusals: once is enough.
            message = str(exc).removeprefix(
                _("deadline {name}: {problem}").format(name=name, problem=""))
            label = (_(named) if isinstance(name, str) else _(unnamed)).format(
                number=number, name=name)
            raise InvalidInputError(_("{label}: {problem}").format(
                label=label, problem=message)) from None
    return tuple(found)


def _deadline(item: object) -> DeadlineFields:
    data = _object(item, N_("a deadline"), {"name", "subject", "expect", "levels"},
                   _DEADLINE_KEYS)
    within = data.get("within_minutes")
    from_expected = data.get("from_expected", False)
    if type(from_expected) is not bool:
        raise InvalidInputError(_("from_expected must be true or false, got {value}").format(
            value=shown(from_expected)))
    for key in ("name", "subject"):
        if type(data[key]) is not str:
            raise InvalidInputError(_("{key} must be text, got {value}").format(
                key=key, value=shown(data[key])))
    return DeadlineFields(
        data["name"], data["subject"], _texts(data["expect"], "expect"),
        None if within is None else _minutes(within, "within_minutes"), from_expected,
        tuple(_level(n, level) for n, level in enumerate(_list(data["levels"], "levels"))),
        _texts(data.get("types", []), "types"),
        _texts(data.get("severities", []), "severities"),
        _texts(data.get("categories", []), "categories"))


def _texts(value: object, what: str) -> tuple[str, ...]:
    items = _list(value, what)
    for item in items:
        if type(item) is not str:
            raise InvalidInputError(_("{what} must be a list of text, got {value}").format(
                what=what, value=shown(item)))
    return tuple(items)


def _minutes(value: object, what: str) -> timedelta:
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or not 0 <= value <= MAX_DURATION / timedelta(minutes=1)):
        raise InvalidInputError(_("{what} must be a number of minutes from 0, got {value}")
                                .format(what=what, value=shown(value)))
    seconds = round(value * 60)
    if abs(value * 60 - seconds) > 1e-6:
        raise InvalidInputError(_("{what} must come to whole seconds, got {value}").format(
            what=what, value=shown(value)))
    return timedelta(seconds=seconds)


def _level(number: int, item: object) -> tuple[timedelta, tuple[tuple[str | None, str | None],
                                                                 ...]]:
    try:
        data = _object(item, N_("a level"), {"after_minutes", "notify"},
                       {"after_minutes", "notify"})
        told = []
        for entry in _list(data["notify"], "notify"):
            fields = _object(entry, N_("a recipient"), set(), {"role", "body"})
            for key in ("role", "body"):
                value = fields.get(key)
                if value is not None and type(value) is not str:
                    raise InvalidInputError(_("a recipient's {key} must be text, got {value}")
                                            .format(key=key, value=shown(value)))
            told.append((fields.get("role"), fields.get("body")))
        return _minutes(data["after_minutes"], "after_minutes"), tuple(told)
    except InvalidInputError as exc:
        raise InvalidInputError(_("level {number}: {problem}").format(
            number=number, problem=exc)) from None
