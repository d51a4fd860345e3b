"""A scenario file read into its header (a Scenario) and its entries (Actions).

The JSON is read by :mod:`resilience.scenario_reader` (stricter than
:func:`json.loads`: size and depth bounded, no repeated key, no NaN; one entry
at a time, with its line). This module gives the header and the entries their
meaning, and refuses what only scenarios have:

* a value of the wrong shape (a list for a location, a number for a key) is
  refused by name, never met later as a TypeError;
* times (``at``, ``recorded_at`` and the date-time arguments) are checked
  where they are read, by the library's rule for moments, so one out of range
  is named with its entry and line, not met by the replay's clock;
* the scenario's ``name`` is at most :data:`MAX_NAME` characters, so that every
  implicit command id made from it fits the limit on command ids.

Whether a value is acceptable (its text, range, type; ``"3"`` is not a
floor) is the library's one rule (:mod:`resilience.domain.validation`),
checked by the commands and the input converter; this module applies it to
what only scenarios have (keys, labels, the header) and turns every refusal
into a ScenarioError naming the entry and its line. Recording the actions is
:mod:`resilience.scenario`'s.
"""

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any, NoReturn, get_origin
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import Factory, field, fields, frozen
from cattrs import ClassValidationError, IterableValidationError, transform_error
from cattrs.gen import make_dict_structure_fn, override
from cattrs.v import format_exception

from resilience.adapters.converter import input_converter
from resilience.domain.organisation import community_id
from resilience.domain.patrol import PatrolRule, PatrolVisit
from resilience.domain.validation import check_moment, check_text, shown, text_limit
from resilience.domain.values import Actor, CareCard, Location, Provider, UnitSpec
from resilience.errors import InvalidInputError, ResilienceError, ScenarioError
from resilience.i18n import N_, _
from resilience.scenario_reader import (
    MAX_BYTES,
    Entries,
    Header,
    read_document,
)

FORMAT = "resilience.scenario"
VERSIONS = frozenset({1})
_IMPLICIT_ID = "scenario/{name}/{digest}/{count}"
"""The command id of an entry without one: stores hold these ids, so never change it."""
_DIGEST_CHARS = 20
MAX_NAME = text_limit("command_id") - len(
    _IMPLICIT_ID.format(name="", digest="0" * _DIGEST_CHARS, count=MAX_BYTES))
"""The most characters in a scenario's ``name`` (161): every implicit command id made
from it then fits the limit on command ids, since a file of ``MAX_BYTES`` holds fewer
than ``MAX_BYTES`` entries to count."""

# Arguments that are values, not plain JSON: structured with the library's converter.
_VALUE_ARGUMENTS: dict[str, Any] = {
    "location": Location,
    "units": tuple[UnitSpec, ...],
    "provider": Provider,
    "card": CareCard,
    "detected_at": datetime,
    "expected_by": datetime,
    "corrected_to": datetime,
    "due": datetime,
    "ended_at": datetime,
    "rules": tuple[PatrolRule, ...],
}
_VISITS = "visits"
"""A patrol's visits: each a building or unit id (text) or ``{"area", "spots"}``
(a PatrolVisit), as the service takes them (:func:`_visits`)."""

_COMMUNITY_COMMANDS = frozenset({
    "set_code", "add_grid", "add_micro_grid", "add_building", "classify_zone", "enrol",
    "assign_role", "relieve_role", "issue_care_card", "hold_activity", "correct_participants",
    "correct_time", "correct_details",
})
_INCIDENT_COMMANDS = frozenset({
    "report", "detect", "report_to_community", "acknowledge", "reclassify", "assign_commander",
    "dispatch", "en_route", "arrive", "take_action", "request_consent", "grant_consent",
    "refuse_consent", "authorise_exigent_entry", "force_entry", "find_source", "contain",
    "resolve", "close", "reopen", "add_note", "correct_time", "correct_details",
    "link_recovery",
})
_ORDER_COMMANDS = frozenset({
    "place", "accept", "reject", "dispatch", "start", "complete", "rate", "reopen", "cancel",
    "add_note", "correct_time", "correct_details",
})
# Improvement-item commands (``"improvement": KEY``) and the service methods they call.
IMPROVEMENT_COMMANDS = {
    "plan_improvement": "plan", "assign_improvement": "assign",
    "reschedule_improvement": "reschedule", "start_improvement": "start",
    "complete_improvement": "complete", "cancel_improvement": "cancel",
    "reopen_improvement": "reopen", "add_improvement_note": "add_note",
    "correct_time": "correct_time", "correct_details": "correct_details",
}
# Emergency commands (``"emergency": KEY``): the service's own names (engine.emergencies).
_EMERGENCY_COMMANDS = frozenset({
    "declare", "call_up", "acknowledge", "arrive", "end", "add_note", "correct_time",
    "correct_details",
})
# Hazard commands (``"hazard": KEY``): the service's own names (engine.hazards). A link
# names the other side by its key too: ``"order"``, ``"improvement"`` or ``"incident"``.
HAZARD_LINKS = {"link_order": "order", "link_improvement": "improvement",
                "link_incident": "incident"}
_HAZARD_COMMANDS = frozenset({
    "find", "assign", "rectify", "verify", "close", "reopen", "add_note", "assign_reference",
    "correct_time", "correct_details", *HAZARD_LINKS,
})
# Patrol commands (``"patrol": KEY``): engine.patrols' commands on one patrol.
_PATROL_COMMANDS = frozenset({
    "record", "correct_coverage", "correct_end", "add_note", "correct_time", "correct_details",
})
PLAN_COMMANDS = {"adopt_plan": "patrols"}
"""Community commands another service runs (a grid's patrol plan is engine.patrols'):
command -> the engine's service."""
_COMMANDS = {"community": _COMMUNITY_COMMANDS | {"register", "tick", *PLAN_COMMANDS},
             "incident": _INCIDENT_COMMANDS,
             "order": _ORDER_COMMANDS, "improvement": frozenset(IMPROVEMENT_COMMANDS),
             "emergency": _EMERGENCY_COMMANDS, "hazard": _HAZARD_COMMANDS,
             "patrol": _PATROL_COMMANDS}
"""The commands each kind of target takes."""
_KEYED = ("incident", "order", "improvement", "emergency", "hazard", "patrol")
"""The targets an entry names by a key."""


@frozen
class Action:
    entry: int
    line: int | None
    do: str
    at: datetime
    recorded_at: datetime
    actor: Actor
    target: str  # "community", or a keyed one (_KEYED): "incident", "hazard", "patrol"...
    key: str | None
    label: str | None
    command_id: str | None
    corrects: int | str | None
    arguments: Mapping[str, Any]
    implicit_command_id: str
    """For entries without a command_id: derived from the entry's content (and how
    many identical entries precede it), so replaying the file again, even with
    entries inserted, records nothing twice."""
    incident: str | None = None
    """The incident key a ``plan_improvement`` names (the item's incident and review)."""
    linked: tuple[str, str] | None = None
    """What a ``link_recovery`` links to its incident's recovery: ``("order", KEY)`` or
    ``("improvement", KEY)``; what a hazard's link names: ``("order", KEY)``,
    ``("improvement", KEY)`` or ``("incident", KEY)``."""
    patrol: str | None = None
    """The patrol key a hazard's ``find`` names (the patrol it was found on)."""


@frozen
class Scenario:
    name: str
    version: int
    district: str
    subdistrict: str
    community: str
    actions: tuple[Action, ...]

    @property
    def community_id(self) -> UUID:
        return community_id(self.district, self.subdistrict, self.community)


# The header and the entries, as read (resilience.scenario_reader) -------------------------


_HEADER = ("format", "version", "name", "community", "timezone")
"""Header keys the actions depend on: once all are read, the actions stream in one pass."""


def read_scenario(text: str) -> tuple[Scenario, Iterator[Action]]:
    """The header, and the actions to come (each read and checked as it is asked for)."""
    found, entries = read_document(text, _HEADER)
    scenario, zone = _header(found)
    return scenario, _actions(entries, scenario.name, zone)


def _actions(entries: Entries, name: str, zone: tzinfo | None) -> Iterator[Action]:
    """Each entry as an Action, with the implicit command id it would record under."""
    seen: Counter[str] = Counter()
    for entry, line, raw in entries:
        digest = _digest(raw)
        seen[digest] += 1
        yield _action(entry, line, raw, zone, _IMPLICIT_ID.format(
            name=name, digest=digest, count=seen[digest]))


def _header(found: Header) -> tuple[Scenario, tzinfo | None]:
    def value(key: str) -> Any:
        return found.get(key, (None, None))[0]

    def fail(key: str, message: str) -> ScenarioError:
        return ScenarioError(message, line=found.get(key, (None, None))[1])

    if value("format") != FORMAT:
        raise fail("format", _("'format' must be {format}, got {value}").format(
            format=repr(FORMAT), value=shown(value("format"))))
    version = value("version")
    if type(version) is not int or version not in VERSIONS:
        raise fail("version", _("unsupported scenario version {version} (this library reads "
                                "{versions})").format(version=shown(version),
                                                      versions=sorted(VERSIONS)))
    zone = _timezone(value("timezone"), found.get("timezone", (None, None))[1])
    place = value("community")
    if not isinstance(place, dict) or not all(
        isinstance(place.get(k), str) and place.get(k) for k in ("district", "subdistrict", "name")
    ):
        raise fail("community",
                   _("'community' needs string 'district', 'subdistrict' and 'name'"))
    if "actions" not in found:
        raise ScenarioError(_("'actions' must be a non-empty list"))
    name = value("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("name", _("'name' (a non-empty string naming the scenario) is required"))
    if len(name) > MAX_NAME:
        shape = _IMPLICIT_ID.format(name="<name>", digest="<hash>", count="<n>")
        raise fail("name", _("'name' must be at most {most} characters, got {count}: it is "
                             "part of every implicit command id ({shape}), and a command id "
                             "holds at most {limit} characters").format(
            most=MAX_NAME, count=f"{len(name):,}", shape=shape,
            limit=text_limit("command_id")))
    for key, text in (("name", name), *(("community", place[k]) for k in
                                        ("district", "subdistrict", "name"))):
        try:
            check_text(text, f"'{key}'")
        except InvalidInputError as exc:
            raise fail(key, str(exc)) from None
    return Scenario(name=name, version=version, district=place["district"],
                    subdistrict=place["subdistrict"], community=place["name"],
                    actions=()), zone


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
"""An entry's canonical JSON, the source of its implicit command id: never change it."""


def _digest(raw: Any) -> str:
    return hashlib.sha256(_CANONICAL.encode(raw).encode("ascii")).hexdigest()[:_DIGEST_CHARS]


# One entry, as an Action -------------------------------------------------------------------


def _action(entry: int, line: int | None, raw: Any, zone: tzinfo | None,
            implicit_command_id: str) -> Action:
    """The entry as an Action, checked in this order: what it does to what, the types of
    its own keys, then their values and the arguments'. The first refusal is a
    ScenarioError naming the entry and its line."""
    try:
        target = _target(raw)
        own = _own_keys(raw)
        _check_texts(own)
        actor = _actor(own.actor, own.role)
        at = _moment(own.at, zone, "at")
        recorded_at = _moment(own.recorded_at, zone, "recorded_at")
        arguments = {name: _argument(name, value, zone)
                     for name, value in raw.items() if name not in _OWN}
        if own.do == "tick":
            _check_tick(own, arguments)
    except ResilienceError as exc:
        raise ScenarioError(str(exc), entry=entry, line=line) from None
    key = {"incident": own.incident, "order": own.order, "improvement": own.improvement,
           "emergency": own.emergency, "hazard": own.hazard, "patrol": own.patrol}
    return Action(entry, line, own.do, at, recorded_at, actor, target, key.get(target),
                  own.label, own.command_id, own.corrects, arguments, implicit_command_id,
                  own.incident if target == "improvement" else None, _linked(own),
                  own.patrol if target == "hazard" else None)


_NO_COMMAND = N_("'do' (the command) is required")


def _check_tick(own: "_OwnKeys", arguments: Mapping[str, Any]) -> None:
    """A ``tick`` entry records no command of its own (the escalations it raises are the
    watch's facts, each under the watch's command id): nothing may label it, give it a
    command id, have it correct a fact or pass it arguments."""
    given = [f"'{name}'" for name, value in (("label", own.label),
                                            ("command_id", own.command_id),
                                            ("corrects", own.corrects)) if value is not None]
    given += [repr(name) for name in sorted(arguments)]
    if given:
        raise InvalidInputError(_("tick takes no arguments, and no 'label', 'command_id' or "
                                  "'corrects': it records no command of its own; got "
                                  "{given}").format(given=", ".join(given)))


def _target(raw: Any) -> str:
    """What the entry acts on: a ``hazard`` or ``patrol`` (_peacetime_target), an
    ``emergency``, ``improvement``, ``incident`` or ``order`` (the one its keys name), else
    the ``community``; its command must be one that target takes. Only
    ``plan_improvement`` names an incident besides its item (the incident it reviews)."""
    if not isinstance(raw, dict):
        raise InvalidInputError(_("an action is a JSON object"))
    do = raw.get("do")
    if not isinstance(do, str):
        raise InvalidInputError(_(_NO_COMMAND))
    if do == "link_recovery":
        return _link_target(raw)
    if "hazard" in raw or "patrol" in raw:
        return _peacetime_target(raw, do)
    if do in (_HAZARD_COMMANDS | _PATROL_COMMANDS) - _COMMANDS["community"] - _INCIDENT_COMMANDS:
        raise InvalidInputError(
            (_("{command} needs a 'hazard': a key naming the hazard") if do in _HAZARD_COMMANDS
             else _("{command} needs a 'patrol': a key naming the patrol")).format(command=do))
    if "emergency" in raw:
        if raw.keys() & {"incident", "order", "improvement"}:
            raise InvalidInputError(_("an action targets an 'emergency' alone: no 'incident', "
                                      "'order' or 'improvement' besides it"))
        target = "emergency"
    elif do in _EMERGENCY_COMMANDS - _COMMUNITY_COMMANDS - _INCIDENT_COMMANDS:
        raise InvalidInputError(_("{command} needs an 'emergency': a key naming the "
                                  "emergency").format(command=do))
    elif "improvement" in raw:
        if "order" in raw:
            raise InvalidInputError(
                _("an action targets an 'improvement' or an 'order', not both"))
        if "incident" in raw and do != "plan_improvement":
            raise InvalidInputError(
                _("only plan_improvement names an 'incident' besides the 'improvement'"))
        target = "improvement"
    elif do in IMPROVEMENT_COMMANDS and do not in _COMMUNITY_COMMANDS:
        raise InvalidInputError(_("{command} needs an 'improvement': a key naming the "
                                  "item").format(command=do))
    elif "incident" in raw and "order" in raw:
        raise InvalidInputError(_("an action targets an 'incident' or an 'order', not both"))
    else:
        target = "incident" if "incident" in raw else "order" if "order" in raw else "community"
    if do not in _COMMANDS[target]:
        raise InvalidInputError(_("unknown {target} command {command}; known: {known}").format(
            target=target, command=shown(do), known=", ".join(sorted(_COMMANDS[target]))))
    return target


def _link_target(raw: dict[str, Any]) -> str:
    """A ``link_recovery`` acts on the ``incident`` whose recovery it is, and names the one
    ``order`` or ``improvement`` it links to it."""
    if "incident" not in raw or "emergency" in raw or len(raw.keys() & {"order",
                                                                         "improvement"}) != 1:
        raise InvalidInputError(_("link_recovery names the 'incident' and one 'order' or "
                                  "'improvement' it links to the incident's recovery"))
    return "incident"


def _peacetime_target(raw: dict[str, Any], do: str) -> str:
    """An entry naming a ``hazard`` acts on it (a ``find`` may name the ``patrol`` it was
    found on; a link names the one order, item or incident it links); else one naming a
    ``patrol`` acts on the patrol, and names nothing else."""
    others = raw.keys() & {"incident", "order", "improvement", "emergency", "patrol"}
    if "hazard" in raw:
        target, allowed = "hazard", {"patrol"} if do == "find" else (
            {HAZARD_LINKS[do]} if do in HAZARD_LINKS else set())
        if do in HAZARD_LINKS and HAZARD_LINKS[do] not in raw:
            raise InvalidInputError(_("{command} names the 'hazard' and the '{other}' it "
                                      "links to it").format(command=do,
                                                            other=HAZARD_LINKS[do]))
    else:
        target, allowed = "patrol", set()
        others -= {"patrol"}
    if others - allowed:
        raise InvalidInputError(_("an action on a '{target}' names no {others} besides "
                                  "it").format(target=target, others=", ".join(
                                      f"'{key}'" for key in sorted(others - allowed))))
    if do not in _COMMANDS[target]:
        raise InvalidInputError(_("unknown {target} command {command}; known: {known}").format(
            target=target, command=shown(do), known=", ".join(sorted(_COMMANDS[target]))))
    return target


def _linked(own: "_OwnKeys") -> tuple[str, str] | None:
    """The order or item a ``link_recovery`` links (by kind and key), or the order, item or
    incident a hazard's link names; else None."""
    if own.hazard is not None and own.do in HAZARD_LINKS:
        kind = HAZARD_LINKS[own.do]
        return kind, str(getattr(own, kind))
    if own.do != "link_recovery":
        return None
    return ("order", own.order) if own.order is not None else (
        "improvement", str(own.improvement))


@frozen(kw_only=True)
class _OwnKeys:
    """An entry's own keys (its other keys are its command's arguments), each structured by
    the input converter's rules: a JSON value of another type is refused, never converted.
    Declared in the order they are checked: of several wrong in one entry, the first is
    named, by its message in :data:`_WRONG`."""

    do: str
    incident: str | None = None
    """The key of the incident acted on, or (``plan_improvement``) of the one reviewed."""
    order: str | None = None
    improvement: str | None = None
    emergency: str | None = None
    hazard: str | None = None
    patrol: str | None = None
    """Keys naming what is acted on: non-empty text."""
    occurred_at: None = None
    """Refused: an entry says ``at``."""
    label: str | None = None
    command_id: str | None = None
    actor: str
    role: str
    """The role the actor acts in: the entry's ``as``."""
    corrects: int | str | None = None
    """A fact version, or the label of an earlier entry."""
    at: Any = None
    recorded_at: Any = field(default=Factory(lambda own: own.at, takes_self=True))
    """Moments, as written: read by :func:`_moment` once the file's timezone is known."""


_WHO = N_("'actor' (a person id) and 'as' (the role they act in) are required")
_WRONG = {
    "do": _NO_COMMAND,
    "incident": N_("'incident' must be a non-empty key string"),
    "order": N_("'order' must be a non-empty key string"),
    "improvement": N_("'improvement' must be a non-empty key string"),
    "emergency": N_("'emergency' must be a non-empty key string"),
    "hazard": N_("'hazard' must be a non-empty key string"),
    "patrol": N_("'patrol' must be a non-empty key string"),
    "occurred_at": N_("use 'at' for when the action happened ('occurred_at' is not a key "
                      "here)"),
    "label": N_("'label' must be a non-empty string"),
    "command_id": N_("'command_id' must be a non-empty string"),
    "actor": _WHO,
    "role": _WHO,
    "corrects": N_("'corrects' is a fact version (number) or an earlier entry's label"),
}
"""What an entry is told when one of its own keys is missing or of the wrong type."""

_text = input_converter.get_structure_hook(str)
_whole_number = input_converter.get_structure_hook(int)


def _non_empty(value: Any, _: Any) -> str:
    """A key, label or command id: text, and not empty."""
    text: str = _text(value, str)
    if not text:
        raise InvalidInputError("empty text")
    return text


def _version_or_label(value: Any, _: Any) -> int | str | None:
    """``corrects``: a label (text), a fact version (a whole number: ``true`` is not one),
    or null (the same as no ``corrects``)."""
    if value is None or isinstance(value, str):
        return value
    version: int = _whole_number(value, int)
    return version


def _refused(value: Any, _: Any) -> NoReturn:
    raise InvalidInputError("not a key of an entry")


_NON_EMPTY = override(struct_hook=_non_empty)
_structure_own_keys = make_dict_structure_fn(
    _OwnKeys, input_converter, _cattrs_forbid_extra_keys=False,  # the others are arguments
    incident=_NON_EMPTY, order=_NON_EMPTY, improvement=_NON_EMPTY, emergency=_NON_EMPTY,
    hazard=_NON_EMPTY, patrol=_NON_EMPTY,
    occurred_at=override(struct_hook=_refused), label=_NON_EMPTY, command_id=_NON_EMPTY,
    role=override(rename="as"), corrects=override(struct_hook=_version_or_label))
"""An entry's own keys as _OwnKeys (a key or label given as null is refused, not taken as
absent); raises ClassValidationError naming every one that is wrong."""
_OWN = frozenset(f.name for f in fields(_OwnKeys)) - {"role"} | {"as"}
"""An entry's own keys, as the file spells them."""


def _own_keys(raw: dict[str, Any]) -> _OwnKeys:
    """The entry's own keys, structured; of those wrong, the first in _OwnKeys is named."""
    try:
        return _structure_own_keys(raw, _OwnKeys)
    except ClassValidationError as exc:
        wrong = {note.name for _, note in exc.group_exceptions()[0]}
        first = next(f.name for f in fields(_OwnKeys) if f.name in wrong)
        raise InvalidInputError(_(_WRONG[first])) from None


def _check_texts(own: _OwnKeys) -> None:
    """The keys naming what is acted on become ids, and labels are looked up: each
    follows the one rule for text."""
    for name, key in (("incident", own.incident), ("order", own.order),
                      ("improvement", own.improvement), ("emergency", own.emergency),
                      ("hazard", own.hazard), ("patrol", own.patrol), ("label", own.label)):
        if key is not None:
            check_text(key, f"'{name}'")


@lru_cache(maxsize=1024)
def _actor(person_id: str, role: str) -> Actor:
    """The few actors of a file, each built (and checked) once: an Actor is immutable."""
    return Actor(person_id, role)


def _argument(name: str, value: Any, zone: tzinfo | None) -> Any:
    if name == _VISITS:
        return _visits(value)
    wanted = _VALUE_ARGUMENTS.get(name)
    if wanted is datetime:
        return _moment(value, zone, name)
    if wanted is None:
        return value
    shape, message = ((list, _("malformed {name}: must be a list, got {type}"))
                      if get_origin(wanted) is tuple else
                      (dict, _("malformed {name}: must be an object, got {type}")))
    if not isinstance(value, shape):
        raise InvalidInputError(message.format(name=name, type=type(value).__name__))
    try:
        return input_converter.structure(value, wanted)
    except (ClassValidationError, IterableValidationError) as exc:
        problems = "; ".join(transform_error(exc, path=name, format_exception=_explain))
        raise InvalidInputError(_("malformed {name}: {problems}").format(
            name=name, problems=problems)) from None


def _visits(value: Any) -> tuple[PatrolVisit | str, ...]:
    """A patrol's visits: a list of area ids (``"30"``, ``"30/1"``) or objects
    (``{"area": "30", "spots": ["storage_room"]}``), each structured as the input converter
    structures a PatrolVisit; whether an area is the community's is the service's check."""
    if not isinstance(value, list):
        raise InvalidInputError(_("malformed {name}: must be a list, got {type}").format(
            name=_VISITS, type=type(value).__name__))
    visits: list[PatrolVisit | str] = []
    for at, item in enumerate(value):
        if isinstance(item, str):
            visits.append(item)
            continue
        name = f"{_VISITS}[{at}]"
        if not isinstance(item, dict):
            raise InvalidInputError(_("malformed {name}: an area id or an object with "
                                      "'area' and 'spots', got {type}").format(
                name=name, type=type(item).__name__))
        try:
            visits.append(input_converter.structure(item, PatrolVisit))
        except (ClassValidationError, IterableValidationError) as exc:
            problems = "; ".join(transform_error(exc, path=name, format_exception=_explain))
            raise InvalidInputError(_("malformed {name}: {problems}").format(
                name=_VISITS, problems=problems)) from None
    return tuple(visits)


def _explain(exc: BaseException, wanted: type | None) -> str:
    return str(exc) if isinstance(exc, ResilienceError) else format_exception(exc, wanted)


_DATE_TIME = re.compile(r"\d{4}-?\d\d-?\d\d[T ]\d\d:?\d\d")
_TOO_FINE = re.compile(r"[.,]\d{7}")


def _moment(value: Any, zone: tzinfo | None, name: str) -> datetime:
    if not isinstance(value, str):
        raise ScenarioError(_("'{name}' must be an ISO 8601 date-time string").format(
            name=name))
    # Python reads a bare date as midnight and cuts digits past the microsecond: both
    # would store a moment the file does not say, so the text must give a time, exactly.
    if _DATE_TIME.match(value) is None or _TOO_FINE.search(value) is not None:
        raise ScenarioError(_("'{name}' must be an ISO 8601 date and time (at least to the "
                              "minute, at most to the microsecond): {value}").format(
            name=name, value=shown(value)))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ScenarioError(_("'{name}' is not an ISO 8601 date-time: {value}").format(
            name=name, value=shown(value))) from None
    if moment.tzinfo is None:
        if zone is None:
            raise ScenarioError(_("'{name}' {value} has no UTC offset and the file sets no "
                                  "'timezone'").format(name=name, value=shown(value)))
        moment = moment.replace(tzinfo=zone)
    return check_moment(moment, f"'{name}'")


def _timezone(name: Any, line: int | None) -> tzinfo | None:
    if name is None:
        return None
    try:
        if not isinstance(name, str) or name == "localtime":
            raise ValueError(name)  # "localtime" is whatever zone the host is set to
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScenarioError(_("unknown timezone {name} (use an IANA name such as "
                              "'Asia/Shanghai')").format(name=shown(name)), line=line) from None
