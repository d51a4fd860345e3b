"""A policy as JSON, and back: the parts of a Policy (its rules, the commands nobody may
override, who reads personal data) as plain data, and those parts read from it.

The form: ``{"rules": [{"role", "command", "scope", "within_hours"?}],
"not_overridable": [command], "personal_data": [{"role", "scope"}]}``, every key
required at the top (a policy that left out ``not_overridable`` would quietly let
anyone override anything: an empty list must be written), none unknown anywhere.
Reading is strict: a wrong type, a missing or unknown key, an unknown command or a
window outside (0, 100 years] is an InvalidInputError naming the entry (``policy rule 3:
...``), never a policy that quietly means something else. ``Policy.to_dict`` and
``Policy.from_dict`` are these, on a Policy.
"""

import math
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from resilience.domain.policy_terms import Reader, Rule, known_command
from resilience.domain.validation import shown
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _


def policy_data(rules: Iterable[Rule], not_overridable: Iterable[str],
                personal_data: Iterable[Reader]) -> dict[str, Any]:
    """A policy's parts as JSON-ready data (``policy_parts`` reads them back equal)."""
    entries = []
    for rule in rules:
        entry: dict[str, Any] = {"role": rule.role.value, "command": rule.command,
                                 "scope": rule.scope.value}
        if rule.within is not None:
            entry["within_hours"] = rule.within / timedelta(hours=1)
        entries.append(entry)
    return {"rules": entries, "not_overridable": sorted(not_overridable),
            "personal_data": [{"role": r.role.value, "scope": r.scope.value}
                              for r in personal_data]}


def policy_parts(data: Mapping[str, Any]) -> tuple[list[Rule], frozenset[str], list[Reader]]:
    """A policy's parts (rules, not overridable, personal data readers) from
    ``policy_data``'s form; InvalidInputError naming what is wrong."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(_("a policy is a JSON object, got {value}").format(
            value=shown(data)))
    parts = {"rules", "not_overridable", "personal_data"}
    _keys(data, N_("the policy"), required=parts, allowed=parts)
    rules = [_read(n, item, _RULE, _rule) for n, item in
             enumerate(_items(data["rules"], "rules"), start=1)]
    readers = [_read(n, item, _READER, _reader) for n, item in
               enumerate(_items(data["personal_data"], "personal_data"), start=1)]
    barred = _items(data["not_overridable"], "not_overridable")
    for command in barred:
        known_command(command)
    return rules, frozenset(barred), readers


def _items(value: object, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInputError(_("the policy's {name} must be a list, got {value}").format(
            name=name, value=shown(value)))
    return value


def _keys(data: Mapping[str, Any], what: str, *, required: set[str], allowed: set[str]) -> None:
    """Refuse ``data`` (called ``what`` in a refusal, marked with ``N_``) unless it has the
    ``required`` keys and no key but the ``allowed``."""
    missing = required - data.keys()
    if missing:
        raise InvalidInputError(_("{what} lacks {keys}").format(
            what=_(what), keys=", ".join(sorted(missing))))
    unknown = data.keys() - allowed
    if unknown:
        raise InvalidInputError(_("{what} has unknown key(s) {keys}; allowed: {allowed}").format(
            what=_(what), keys=", ".join(shown(k) for k in sorted(map(str, unknown))),
            allowed=", ".join(sorted(allowed))))


_RULE = (N_("policy rule {number} must be an object, got {value}"),
         N_("policy rule {number}: {problem}"))
_READER = (N_("policy personal_data entry {number} must be an object, got {value}"),
           N_("policy personal_data entry {number}: {problem}"))
"""The refusals of a policy's rule and of its personal_data entry: not an object, and
what is wrong with it."""


def _read(number: int, item: object, what: tuple[str, str], read: Any) -> Any:
    not_object, wrong = what
    if not isinstance(item, Mapping):
        raise InvalidInputError(_(not_object).format(number=number, value=shown(item)))
    try:
        return read(item)
    except InvalidInputError as exc:
        raise InvalidInputError(_(wrong).format(number=number, problem=exc)) from None


def _rule(item: Mapping[str, Any]) -> Rule:
    _keys(item, N_("a rule"), required={"role", "command", "scope"},
          allowed={"role", "command", "scope", "within_hours"})
    hours = item.get("within_hours")
    within = None
    if hours is not None:
        if (isinstance(hours, bool) or not isinstance(hours, int | float)
                or not math.isfinite(hours) or not 0 < hours <= 24 * 36_525):
            raise InvalidInputError(_("within_hours must be a number of hours above 0, got "
                                      "{value}").format(value=shown(hours)))
        within = timedelta(hours=hours)
    return Rule(item["role"], item["command"], item["scope"], within)


def _reader(item: Mapping[str, Any]) -> Reader:
    _keys(item, N_("a personal_data entry"), required={"role", "scope"},
          allowed={"role", "scope"})
    return Reader(item["role"], item["scope"])
