"""Scenario files: a community's history as a JSON list of timestamped actions.

See ``docs/scenario-format.md`` for the format. A scenario replays through
the public engine API inside one batch, so a file either loads whole or
records nothing; errors name the entry (1-based) and its line in the file.
"""

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import field, frozen
from cattrs import ClassValidationError, IterableValidationError, transform_error
from cattrs.v import format_exception

from resilience.adapters.converter import input_converter
from resilience.clock import ManualClock
from resilience.domain.organisation import community_id
from resilience.domain.values import Actor, CareCard, Location, Provider, UnitSpec
from resilience.engine import Engine
from resilience.errors import InvalidInputError, NotFoundError, ResilienceError, ScenarioError
from resilience.services.core import Receipt
from resilience.services.improvements import improvement_id_for
from resilience.services.incidents import incident_id_for
from resilience.services.orders import order_id_for

FORMAT = "resilience.scenario"
VERSIONS = frozenset({1})

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
}
_RESERVED = frozenset({"do", "at", "recorded_at", "actor", "as", "command_id", "label",
                       "incident", "order", "improvement", "corrects"})

_COMMUNITY_COMMANDS = frozenset({
    "add_grid", "add_micro_grid", "add_building", "classify_zone", "enrol", "assign_role",
    "relieve_role", "issue_care_card", "hold_activity", "correct_time", "correct_details",
})
_INCIDENT_COMMANDS = frozenset({
    "report", "detect", "report_to_community", "acknowledge", "reclassify", "assign_commander",
    "dispatch", "en_route", "arrive", "take_action", "request_consent", "grant_consent",
    "refuse_consent", "authorise_exigent_entry", "force_entry", "find_source", "contain",
    "resolve", "close", "reopen", "add_note", "correct_time", "correct_details",
})
_ORDER_COMMANDS = frozenset({
    "place", "accept", "reject", "dispatch", "start", "complete", "rate", "reopen", "cancel",
    "add_note", "correct_time", "correct_details",
})
# Improvement-item commands (``"improvement": KEY``) and the service methods they call.
_IMPROVEMENT_COMMANDS = {
    "plan_improvement": "plan", "assign_improvement": "assign",
    "reschedule_improvement": "reschedule", "start_improvement": "start",
    "complete_improvement": "complete", "cancel_improvement": "cancel",
    "reopen_improvement": "reopen", "add_improvement_note": "add_note",
    "correct_time": "correct_time", "correct_details": "correct_details",
}


@frozen
class Action:
    entry: int
    line: int | None
    do: str
    at: datetime
    recorded_at: datetime
    actor: Actor
    target: str  # "community", "incident", "order" or "improvement"
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


@frozen
class ReplayResult:
    """What a replay recorded: ids by the scenario's keys, and one receipt per entry."""

    community_id: UUID
    incidents: Mapping[str, UUID]
    orders: Mapping[str, UUID]
    receipts: tuple[Receipt, ...]
    events_recorded: int
    """Facts this replay added to the store (0 when the file had been replayed before)."""
    improvements: Mapping[str, UUID] = field(factory=dict)
    """Improvement items by the scenario's keys."""

    @property
    def facts(self) -> int:
        """Facts the scenario's entries account for, recorded now or by an earlier replay."""
        return sum(len(r.versions) for r in self.receipts)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (nothing is recorded)."""
    text = Path(path).read_text(encoding="utf-8")
    return parse_scenario(text)


def parse_scenario(text: str) -> Scenario:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(document, dict):
        raise ScenarioError("a scenario is a JSON object with 'format', 'version', "
                            "'community' and 'actions'")
    if document.get("format") != FORMAT:
        raise ScenarioError(f"'format' must be {FORMAT!r}, got {document.get('format')!r}")
    version = document.get("version")
    if version not in VERSIONS:
        raise ScenarioError(f"unsupported scenario version {version!r} "
                            f"(this library reads {sorted(VERSIONS)})")
    zone = _timezone(document.get("timezone"))
    place = document.get("community")
    if not isinstance(place, dict) or not all(
        isinstance(place.get(k), str) and place.get(k) for k in ("district", "subdistrict", "name")
    ):
        raise ScenarioError("'community' needs string 'district', 'subdistrict' and 'name'")
    raw_actions = document.get("actions")
    if not isinstance(raw_actions, list) or not raw_actions:
        raise ScenarioError("'actions' must be a non-empty list")
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ScenarioError("'name' (a non-empty string naming the scenario) is required")
    lines = _entry_lines(text, len(raw_actions))
    seen: Counter[str] = Counter()
    actions = []
    for number, raw in enumerate(raw_actions, start=1):
        digest = _digest(raw)
        seen[digest] += 1
        actions.append(_action(number, lines[number - 1], raw, zone,
                               f"scenario/{name}/{digest}/{seen[digest]}"))
    return Scenario(
        name=name,
        version=version,
        district=place["district"],
        subdistrict=place["subdistrict"],
        community=place["name"],
        actions=tuple(actions),
    )


def replay(engine: Engine, scenario: Scenario) -> ReplayResult:
    """Record a scenario through the engine: all of it, or (on any error) nothing.

    Each action's recorded time is its ``recorded_at`` (default: its ``at``),
    so a replayed history keeps its late reports and corrections.
    """
    clock = ManualClock(scenario.actions[0].recorded_at)
    player = engine.with_clock(clock)
    community = scenario.community_id
    incidents: dict[str, UUID] = {}
    orders: dict[str, UUID] = {}
    improvements: dict[str, UUID] = {}
    labels: dict[str, Receipt] = {}
    receipts: list[Receipt] = []
    with player.batch() as batch:
        for action in scenario.actions:
            clock.set(action.recorded_at)
            try:
                receipt = _perform(player, scenario, community, action,
                                   {"incident": incidents, "order": orders,
                                    "improvement": improvements}, labels)
            except ScenarioError:
                raise
            except ResilienceError as exc:
                raise ScenarioError(f"{action.do}: {exc}", entry=action.entry,
                                    line=action.line) from exc
            except TypeError as exc:
                raise ScenarioError(f"{action.do}: bad arguments: {exc}", entry=action.entry,
                                    line=action.line) from exc
            receipts.append(receipt)
            if action.label is not None:
                labels[action.label] = receipt
    return ReplayResult(community, dict(incidents), dict(orders), tuple(receipts),
                        batch.events_recorded, dict(improvements))


def replay_file(engine: Engine, path: str | Path) -> ReplayResult:
    return replay(engine, load_scenario(path))


def _perform(engine: Engine, scenario: Scenario, community: UUID, action: Action,
             seen: dict[str, dict[str, UUID]], labels: dict[str, Receipt]) -> Receipt:
    kwargs: dict[str, Any] = dict(action.arguments)
    command_id = action.command_id or action.implicit_command_id
    kwargs.update(actor=action.actor, occurred_at=action.at, command_id=command_id)
    if action.corrects is not None:
        kwargs["corrects"] = _version(action, labels)
    if action.target == "community":
        if action.do == "register":
            return engine.communities.register(
                district=scenario.district, subdistrict=scenario.subdistrict,
                name=scenario.community, **kwargs,
            )
        method: Callable[..., Receipt] = getattr(engine.communities, action.do)
        return method(community, **kwargs)
    # Ids derive from the community and the key, so one file may act on an
    # incident, order or improvement item that another file reported, placed or planned.
    assert action.key is not None
    service: Any
    service, creators, id_for, id_argument, verb = {
        "incident": (engine.incidents, {"report", "detect"}, incident_id_for, "incident_id",
                     "reported"),
        "order": (engine.orders, {"place"}, order_id_for, "order_id", "placed"),
        "improvement": (engine.improvements, {"plan_improvement"}, improvement_id_for,
                        "item_id", "planned"),
    }[action.target]
    aggregate = id_for(community, action.key)
    seen[action.target][action.key] = aggregate
    method = getattr(service, _IMPROVEMENT_COMMANDS[action.do]
                     if action.target == "improvement" else action.do)
    if action.incident is not None:  # a plan_improvement naming its incident
        incident = incident_id_for(community, action.incident)
        seen["incident"][action.incident] = incident
        _known(engine.incidents.get, incident, "incident", action.incident, "reported")
        kwargs["incident_id"] = incident
        kwargs.setdefault("review", f"incident/{incident}")
    if action.do in creators:
        return method(community, **{id_argument: aggregate}, **kwargs)
    try:
        return method(aggregate, **kwargs)
    except NotFoundError:
        raise _unknown(action.target, action.key, verb) from None


def _known(get: Callable[[UUID], object], aggregate: UUID, target: str, key: str,
           verb: str) -> None:
    """Raise NotFoundError naming the scenario's key if ``aggregate`` is not in the store."""
    try:
        get(aggregate)
    except NotFoundError:
        raise _unknown(target, key, verb) from None


def _unknown(target: str, key: str, verb: str) -> NotFoundError:
    return NotFoundError(f"{target} {key!r} was not {verb} in this file "
                         "nor before it in the store")


def _version(action: Action, labels: Mapping[str, Receipt]) -> int:
    if isinstance(action.corrects, int):
        return action.corrects
    receipt = labels.get(str(action.corrects))
    if receipt is None:
        raise ScenarioError(f"'corrects' names no earlier label {action.corrects!r}",
                            entry=action.entry, line=action.line)
    return receipt.first_version


def _digest(raw: Any) -> str:
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:20]


def _action(entry: int, line: int | None, raw: Any, zone: tzinfo | None,
            implicit_command_id: str) -> Action:
    def fail(message: str) -> ScenarioError:
        return ScenarioError(message, entry=entry, line=line)

    if not isinstance(raw, dict):
        raise fail("an action is a JSON object")
    do = raw.get("do")
    if not isinstance(do, str):
        raise fail("'do' (the command) is required")
    incident: str | None = None
    if "improvement" in raw:
        target = "improvement"
        if "order" in raw:
            raise fail("an action targets an 'improvement' or an 'order', not both")
        if "incident" in raw:
            if do != "plan_improvement":
                raise fail("only plan_improvement names an 'incident' besides the 'improvement'")
            incident = raw["incident"]
            if not isinstance(incident, str) or not incident:
                raise fail("'incident' must be a non-empty key string")
    elif do in _IMPROVEMENT_COMMANDS and do not in _COMMUNITY_COMMANDS:
        raise fail(f"{do} needs an 'improvement': a key naming the item")
    elif "incident" in raw and "order" in raw:
        raise fail("an action targets an 'incident' or an 'order', not both")
    else:
        target = "incident" if "incident" in raw else "order" if "order" in raw else "community"
    allowed = {"incident": _INCIDENT_COMMANDS, "order": _ORDER_COMMANDS,
               "improvement": frozenset(_IMPROVEMENT_COMMANDS),
               "community": _COMMUNITY_COMMANDS | {"register"}}[target]
    if do not in allowed:
        raise fail(f"unknown {target} command {do!r}; known: {', '.join(sorted(allowed))}")
    key = raw.get(target) if target != "community" else None
    if target != "community" and (not isinstance(key, str) or not key):
        raise fail(f"'{target}' must be a non-empty key string")
    if "occurred_at" in raw:
        raise fail("use 'at' for when the action happened ('occurred_at' is not a key here)")
    for optional in ("label", "command_id"):
        if optional in raw and (not isinstance(raw[optional], str) or not raw[optional]):
            raise fail(f"'{optional}' must be a non-empty string")
    actor_id, role = raw.get("actor"), raw.get("as")
    if not isinstance(actor_id, str) or not isinstance(role, str):
        raise fail("'actor' (a person id) and 'as' (the role they act in) are required")
    try:
        actor = Actor(actor_id, role)
        at = _moment(raw.get("at"), zone, "at")
        recorded_at = _moment(raw.get("recorded_at", raw.get("at")), zone, "recorded_at")
        arguments = {
            name: _argument(name, value, zone)
            for name, value in raw.items() if name not in _RESERVED
        }
    except ResilienceError as exc:
        raise fail(str(exc)) from None
    corrects = raw.get("corrects")
    if corrects is not None and not isinstance(corrects, int | str):
        raise fail("'corrects' is a fact version (number) or an earlier entry's label")
    label = raw.get("label")
    command_id = raw.get("command_id")
    return Action(entry, line, do, at, recorded_at, actor, target, key, label, command_id,
                  corrects, arguments, implicit_command_id, incident)


def _argument(name: str, value: Any, zone: tzinfo | None) -> Any:
    wanted = _VALUE_ARGUMENTS.get(name)
    if wanted is datetime:
        return _moment(value, zone, name)
    if wanted is not None:
        try:
            return input_converter.structure(value, wanted)
        except (ClassValidationError, IterableValidationError) as exc:
            problems = "; ".join(transform_error(exc, path=name, format_exception=_explain))
            raise InvalidInputError(f"malformed {name}: {problems}") from None
    return value


def _explain(exc: BaseException, wanted: type | None) -> str:
    return str(exc) if isinstance(exc, ResilienceError) else format_exception(exc, wanted)


def _moment(value: Any, zone: tzinfo | None, name: str) -> datetime:
    if not isinstance(value, str):
        raise ScenarioError(f"'{name}' must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ScenarioError(f"'{name}' is not an ISO 8601 date-time: {value!r}") from None
    if moment.tzinfo is None:
        if zone is None:
            raise ScenarioError(f"'{name}' {value!r} has no UTC offset and the file sets no "
                                "'timezone'")
        moment = moment.replace(tzinfo=zone)
    return moment


def _timezone(name: Any) -> tzinfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScenarioError(f"unknown timezone {name!r} (use an IANA name such as "
                            "'Asia/Shanghai')") from None


def _entry_lines(text: str, count: int) -> list[int | None]:
    """The line where each entry of the top-level 'actions' array starts."""
    match = re.search(r'"actions"\s*:\s*\[', text)
    if match is None:
        return [None] * count
    decoder = json.JSONDecoder()
    position = match.end()
    lines: list[int | None] = []
    while len(lines) < count:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        lines.append(text.count("\n", 0, position) + 1)
        try:
            _, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            lines.extend([None] * (count - len(lines)))
    return lines
