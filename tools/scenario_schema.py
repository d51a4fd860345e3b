"""Write the JSON Schema of scenario files from the commands a replay calls.

    python tools/scenario_schema.py            # writes src/resilience/schemas/scenario.schema.json
    python tools/scenario_schema.py --check    # exit 1 if the file is not what it would write

The schema (draft 2020-12) is generated, not written by hand, so that it says what a
replay accepts and nothing else: the header's keys (docs/scenario-format.md), each
entry's own keys (resilience.scenario_entries), and for each command of each target
(community, incident, order, improvement, emergency, hazard, patrol) the arguments its
engine method takes by keyword (resilience.scenario calls ``method(**arguments)``), less those the
replay supplies itself (actor, occurred_at, command_id, corrects, and the ids it
derives from keys). An argument's type comes from the method's annotation: text,
whole numbers, true/false, an enumeration's values, a list, a value object (a location,
provider, care card, unit: its attrs fields, no others), a date-time where the entry
reads one (``_VALUE_ARGUMENTS``). An argument annotated as an id (a UUID) cannot come
from a file and is left out. tests/test_scenario_schema.py fails when the file is not
what this script writes.
"""

import inspect
import json
import sys
import typing
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from types import NoneType, UnionType
from typing import Any
from uuid import UUID

import attrs

from resilience.domain.values import Role
from resilience.scenario_entries import (
    _COMMANDS,
    _VALUE_ARGUMENTS,
    FORMAT,
    HAZARD_LINKS,
    IMPROVEMENT_COMMANDS,
    MAX_NAME,
    PLAN_COMMANDS,
    VERSIONS,
)
from resilience.services.communities import Communities
from resilience.services.emergencies import Emergencies
from resilience.services.hazards import Hazards
from resilience.services.improvements import Improvements
from resilience.services.incidents import Incidents
from resilience.services.orders import Orders
from resilience.services.patrols import Patrols

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "src" / "resilience" / "schemas" / "scenario.schema.json"
SCHEMA_ID = ("https://raw.githubusercontent.com/resilience-community/resilience/main/"
             "src/resilience/schemas/scenario.schema.json")

SERVICES: dict[str, type] = {"community": Communities, "incident": Incidents, "order": Orders,
                             "improvement": Improvements, "emergency": Emergencies,
                             "hazard": Hazards, "patrol": Patrols, "patrols": Patrols}
"""The service each target's commands are methods of (and, by their names in
``PLAN_COMMANDS``, of the community commands another service runs)."""
CREATORS = {"report": "incident_id", "detect": "incident_id", "place": "order_id",
            "plan_improvement": "item_id", "declare": "emergency_id", "find": "hazard_id",
            "record": "patrol_id"}
"""The commands that create their target, and the id argument the replay derives."""
SUPPLIED = frozenset({"actor", "occurred_at", "command_id", "corrects"})
"""Arguments the replay gives from an entry's own keys: never an argument of the file."""

# The reader's rule for a moment (scenario_entries._moment): a date and a time, to the
# minute at least and the microsecond at most; an offset, or the file's timezone.
MOMENT = {"type": "string", "pattern": r"^\d{4}-?\d\d-?\d\d[T ]\d\d:?\d\d(?!.*[.,]\d{7})",
          "description": "an ISO 8601 date and time (to the minute at least, the microsecond "
                         "at most); without a UTC offset, in the file's timezone"}
KEY = {"$ref": "#/$defs/key"}
VALUES: dict[str, Any] = {}
"""The value objects met (a location, a provider...), by class name: each in ``$defs``."""


def schema_of(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of a value the annotation allows (as JSON gives it)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, UnionType):
        options = [a for a in typing.get_args(annotation) if a is not NoneType]
        enums = [a for a in options if isinstance(a, type) and issubclass(a, Enum)]
        # ``Role | str``: the text of one of the enumeration's values.
        found = schema_of(enums[0]) if enums else (
            schema_of(options[0]) if len(options) == 1 else
            {"anyOf": [schema_of(a) for a in options]})
        if NoneType in typing.get_args(annotation):
            return {"anyOf": [found, {"type": "null"}]}
        return found
    if origin in (list, tuple, Sequence) or annotation in (list, tuple):
        items = typing.get_args(annotation)
        return {"type": "array", **({"items": schema_of(items[0])} if items else {})}
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return {"enum": [member.value for member in annotation]}
        if annotation is bool:
            return {"type": "boolean"}
        if annotation is int:
            return {"type": "integer"}
        if annotation is float:
            return {"type": "number"}
        if annotation is str:
            return {"type": "string"}
        if annotation is datetime:
            return {"$ref": "#/$defs/moment"}
        if attrs.has(annotation):
            if annotation.__name__ not in VALUES:
                VALUES[annotation.__name__] = value_object(annotation)
            return {"$ref": f"#/$defs/{annotation.__name__}"}
    raise TypeError(f"no JSON Schema for {annotation!r}: teach schema_of")


def value_object(cls: type) -> dict[str, Any]:
    """A value class as the input converter structures it: its fields, no other key."""
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    return {"type": "object",
            "properties": {f.name: schema_of(hints[f.name]) for f in fields},
            "required": [f.name for f in fields if f.default is attrs.NOTHING],
            "additionalProperties": False}


def arguments(target: str, do: str) -> tuple[dict[str, Any], list[str], bool]:
    """The arguments an entry may give ``do`` on ``target`` (name -> schema), those it
    must, and whether the method takes ``corrects`` (then the entry's own key)."""
    name = IMPROVEMENT_COMMANDS[do] if target == "improvement" else do
    service = PLAN_COMMANDS.get(do, target) if target == "community" else target
    method: Callable[..., Any] = getattr(SERVICES[service], name)
    hints = typing.get_type_hints(method)
    positional = 0 if do == "register" else 1
    parameters = list(inspect.signature(method).parameters.values())[1 + positional:]
    supplied = SUPPLIED | {CREATORS.get(do, ""), "linked_id", "incident_id", "patrol_id"}
    if do == "register":
        supplied |= {"district", "subdistrict", "name"}  # from the header's community
    found, required = {}, []
    for parameter in parameters:
        annotation = hints[parameter.name]
        if parameter.name in supplied or UUID in (annotation, *typing.get_args(annotation)):
            continue
        wanted = _VALUE_ARGUMENTS.get(parameter.name)
        found[parameter.name] = schema_of(wanted if wanted is datetime else annotation)
        if parameter.default is parameter.empty:
            required.append(parameter.name)
    takes_corrects = any(p.name == "corrects" for p in parameters)
    return found, required, takes_corrects


def command(target: str, do: str) -> dict[str, Any]:
    """One command on one target: the entry's own keys and the command's arguments."""
    moment = {"$ref": "#/$defs/moment"}
    own: dict[str, Any] = {"do": {"const": do}, "actor": KEY, "as": {"$ref": "#/$defs/role"},
                           "at": moment, "recorded_at": moment}
    required = ["do", "at", "actor", "as"]
    if do == "tick":
        return {"type": "object", "properties": own, "required": required,
                "additionalProperties": False}
    own |= {"label": KEY, "command_id": KEY}
    found, needed, takes_corrects = arguments(target, do)
    if takes_corrects:
        own["corrects"] = {"type": ["integer", "string"],
                           "description": "a fact version, or an earlier entry's label"}
        required.append("corrects")
    schema: dict[str, Any] = {"type": "object", "properties": own, "required": required,
                              "additionalProperties": False}
    if target != "community":
        own[target] = KEY
        required.append(target)
    if do == "link_recovery":
        own |= {"order": KEY, "improvement": KEY}
        schema["oneOf"] = [{"required": ["order"]}, {"required": ["improvement"]}]
    if target == "hazard" and do in HAZARD_LINKS:
        # The hazard's link names the other side by its key.
        own[HAZARD_LINKS[do]] = KEY
        required.append(HAZARD_LINKS[do])
    if target == "hazard" and do == "find":
        own["patrol"] = KEY  # the patrol it was found on, if any
    if do == "plan_improvement":
        # Naming the incident reviewed gives the review its default key.
        own["incident"] = KEY
        needed.remove("review")
        schema["anyOf"] = [{"required": ["incident"]}, {"required": ["review"]}]
    clash = own.keys() & found.keys()
    assert not clash, f"{target}.{do}: arguments named as own keys: {clash}"
    schema["properties"] = own | found
    schema["required"] = required + needed
    return schema


def dispatch(do: str, targets: list[str]) -> dict[str, Any]:
    """What ``do`` is checked against: its target's command, the target chosen by the
    key the entry gives (as the replay chooses it)."""
    if targets == ["community"]:
        return {"$ref": f"#/$defs/community.{do}"}
    keyed = [t for t in targets if t != "community"]
    cases: list[dict[str, Any]] = [
        {"if": {"required": [t]}, "then": {"$ref": f"#/$defs/{t}.{do}"}} for t in keyed]
    if do == "link_recovery" or do == "plan_improvement":
        return {"$ref": f"#/$defs/{keyed[0]}.{do}"}
    fallback: dict[str, Any] = (
        {"$ref": f"#/$defs/community.{do}"} if "community" in targets else
        {"anyOf": [{"required": [t]} for t in keyed]})
    # Without a key of its own targets (another's, or none), the command is the
    # community's, or refused for want of its target's key.
    cases.append({"if": {"not": {"anyOf": [{"required": [t]} for t in keyed]}},
                  "then": fallback})
    return {"allOf": cases}


def build() -> dict[str, Any]:
    """The schema of a scenario file (the module docstring)."""
    by_command: dict[str, list[str]] = {}
    defs: dict[str, Any] = {"role": {"enum": [role.value for role in Role]},
                            "key": {"type": "string", "minLength": 1}, "moment": MOMENT}
    for target, commands in _COMMANDS.items():
        for do in sorted(commands):
            by_command.setdefault(do, []).append(target)
            defs[f"{target}.{do}"] = command(target, do)
    defs |= dict(sorted(VALUES.items()))
    defs["action"] = {
        "type": "object",
        "description": "one command: 'do' names it, 'incident', 'order', 'improvement', "
                       "'emergency', 'hazard' or 'patrol' the key of what it acts on (none: "
                       "the community)",
        "required": ["do"],
        "properties": {"do": {"enum": sorted(by_command)}},
        "allOf": [{"if": {"properties": {"do": {"const": do}}, "required": ["do"]},
                   "then": dispatch(do, targets)} for do, targets in sorted(by_command.items())],
    }
    [version] = sorted(VERSIONS)
    name = {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": r"\S"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "resilience scenario file",
        "description": "A community's history as timestamped actions, replayed by "
                       "resilience (docs/scenario-format.md). Generated by "
                       "tools/scenario_schema.py from the commands a replay calls.",
        "type": "object",
        "required": ["format", "version", "name", "community", "actions"],
        "properties": {
            "$schema": {"type": "string", "description": "this schema, for editors"},
            "format": {"const": FORMAT},
            "version": {"const": version},
            "name": name,
            "description": {"type": "string"},
            "timezone": {"type": "string", "minLength": 1, "not": {"const": "localtime"},
                         "description": "an IANA zone name, e.g. Asia/Shanghai"},
            "community": {"type": "object",
                          "properties": {k: {"type": "string", "pattern": r"\S"}
                                         for k in ("district", "subdistrict", "name")},
                          "required": ["district", "subdistrict", "name"],
                          "additionalProperties": False},
            "actions": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/action"}},
        },
        "additionalProperties": False,
        "$defs": defs,
    }


def text() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if SCHEMA.read_text(encoding="utf-8") == text() else 1)
    SCHEMA.parent.mkdir(exist_ok=True)
    SCHEMA.write_text(text(), encoding="utf-8")
    print(f"wrote {SCHEMA.relative_to(ROOT)}")
