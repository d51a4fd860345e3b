"""Scenario files: a community's history as a JSON list of timestamped actions.

See ``docs/scenario-format.md`` for the format. A file is read into its
header and actions by :mod:`resilience.scenario_entries` (which refuses,
naming the entry and its line, what only scenarios can get wrong); this module
records the actions through the public engine API inside one batch, so a file
either loads whole or records nothing; errors name the entry (1-based) and its
line in the file.

A replay is an import: it runs under an importer's identity (``engine.importing``),
by default ``SCENARIO_IMPORTER``, ``Actor("scenario-importer", Role.SYSTEM)``. The
entries' actors are recorded as the file gives them, each stamped
``imported_by=<the importer's person id>``; they are not checked against the policy one
by one (history is what happened), the importer is (it must be allowed ``"import"``).
"""

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any
from uuid import UUID

from attrs import field, frozen

from resilience.clock import ManualClock
from resilience.domain.base import FactAggregate
from resilience.domain.hazard import hazard_id_for
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import shown
from resilience.domain.values import Actor, Role
from resilience.engine import Engine
from resilience.errors import InvalidInputError, NotFoundError, ResilienceError, ScenarioError
from resilience.i18n import N_, _
from resilience.review.keys import incident_review_key
from resilience.scenario_entries import (
    FORMAT,
    IMPROVEMENT_COMMANDS,
    MAX_NAME,
    PLAN_COMMANDS,
    VERSIONS,
    Action,
    Scenario,
    read_scenario,
)
from resilience.scenario_reader import MAX_BYTES, MAX_DEPTH, read_file
from resilience.services.core import Receipt
from resilience.services.emergencies import emergency_id_for
from resilience.services.improvements import improvement_id_for
from resilience.services.incidents import incident_id_for
from resilience.services.orders import order_id_for
from resilience.services.patrols import patrol_id_for

__all__ = ["FORMAT", "MAX_BYTES", "MAX_DEPTH", "MAX_NAME", "SCENARIO_IMPORTER", "VERSIONS",
           "Action", "ReplayResult", "Scenario", "load_scenario", "parse_scenario", "replay",
           "replay_file"]

SCENARIO_IMPORTER = Actor("scenario-importer", Role.SYSTEM)
"""Whom a replay imports as unless told otherwise: the system role, which the default
policy allows to import."""


@frozen
class ReplayResult:
    """What a replay recorded: ids by the scenario's keys, one receipt per command entry,
    and the escalations of its ``tick`` entries."""

    community_id: UUID
    incidents: Mapping[str, UUID]
    orders: Mapping[str, UUID]
    receipts: tuple[Receipt, ...]
    """One per entry that records a command, in file order (a ``tick`` entry records
    none: its escalations are in ``escalations``)."""
    events_recorded: int
    """Facts this replay added to the store (0 when the file had been replayed before)."""
    improvements: Mapping[str, UUID] = field(factory=dict)
    """Improvement items by the scenario's keys."""
    name: str = ""
    """The scenario's name."""
    emergencies: Mapping[str, UUID] = field(factory=dict)
    """Emergencies by the scenario's keys."""
    hazards: Mapping[str, UUID] = field(factory=dict)
    """Hazards by the scenario's keys."""
    patrols: Mapping[str, UUID] = field(factory=dict)
    """Patrols by the scenario's keys."""
    facts_beside_receipts: int = 0
    """Facts entries recorded on aggregates their receipts do not name (the order's or
    item's side of a ``link_recovery``; the other side of a hazard's link)."""
    escalations: tuple[Receipt, ...] = ()
    """The watch's escalations the ``tick`` entries account for, one receipt each (on its
    incident or order): those a tick raised on this replay, and those an earlier replay's
    tick recorded at the same moment on this file's cases (replayed again, a tick finds
    them recorded and raises none)."""
    ticks: int = 0
    """``tick`` entries replayed."""

    @property
    def entries(self) -> int:
        """Entries replayed: commands and ticks."""
        return len(self.receipts) + self.ticks

    @property
    def facts(self) -> int:
        """Facts the scenario's entries account for, recorded now or by an earlier replay:
        the commands' (both sides of a link, a new case's reference) and the escalations
        its ticks raised."""
        return (sum(len(r.versions) for r in (*self.receipts, *self.escalations))
                + sum(r.reference is not None for r in self.receipts)
                + self.facts_beside_receipts)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (nothing is recorded)."""
    return parse_scenario(read_file(path))


def parse_scenario(text: str) -> Scenario:
    """Validate a scenario given as text (nothing is recorded)."""
    header, actions = read_scenario(text)
    return Scenario(header.name, header.version, header.district, header.subdistrict,
                    header.community, tuple(actions))


def replay(engine: Engine, scenario: Scenario, *,
           importer: Actor = SCENARIO_IMPORTER) -> ReplayResult:
    """Record a scenario through the engine, imported as ``importer``: all of it, or (on
    any error) nothing.

    Each action's recorded time is its ``recorded_at`` (default: its ``at``),
    so a replayed history keeps its late reports and corrections.
    """
    return _record(engine, importer, scenario, iter(scenario.actions))


def replay_file(engine: Engine, path: str | Path, *,
                importer: Actor = SCENARIO_IMPORTER) -> ReplayResult:
    """Read a scenario file and record it, imported as ``importer``, one entry at a time
    (the file is never held parsed whole): all of it, or (on any error, found early or
    late) nothing."""
    return _record(engine, importer, *read_scenario(read_file(path)))


# Replaying ---------------------------------------------------------------------------------


def _record(engine: Engine, importer: Actor, scenario: Scenario,
            actions: Iterator[Action]) -> ReplayResult:
    """One batch, so all or nothing: eventsourcing saves a batch in one transaction, and
    the batch discards everything when an entry (or the file after it) is refused."""
    first = next(actions, None)
    if first is None:
        raise ScenarioError(_("'actions' must be a non-empty list"))
    clock = ManualClock(first.recorded_at)
    player = engine.importing(importer).with_clock(clock)
    community = scenario.community_id
    keys: dict[str, dict[str, UUID]] = {"incident": {}, "order": {}, "improvement": {},
                                        "emergency": {}, "hazard": {}, "patrol": {}}
    labels: dict[str, Receipt] = {}
    receipts: list[Receipt] = []
    watch = _Watch(player, community)
    beside = 0
    with player.batch() as batch:
        for action in chain([first], actions):
            clock.set(action.recorded_at)
            try:
                if action.do == "tick":  # on the community: read_scenario checked it
                    watch.tick(action, (*keys["incident"].values(), *keys["order"].values()))
                    continue
                receipt = _perform(player, scenario, community, action, keys, labels)
            except ScenarioError:
                raise
            except ResilienceError as exc:
                raise ScenarioError(_("{command}: {error}").format(command=action.do, error=exc),
                                    entry=action.entry, line=action.line) from exc
            receipts.append(receipt)
            beside += action.linked is not None  # the link's other side
            if action.label is not None:
                labels[action.label] = receipt
    return ReplayResult(community, keys["incident"], keys["order"], tuple(receipts),
                        batch.events_recorded, keys["improvement"], scenario.name,
                        keys["emergency"], facts_beside_receipts=beside,
                        escalations=tuple(watch.escalations), ticks=watch.ticks,
                        hazards=keys["hazard"], patrols=keys["patrol"])


class _Watch:
    """The ``tick`` entries of one replay: the watch run at each entry's ``at`` over the
    scenario's community (engine.tick), and the escalations each accounts for.

    The escalations are the watch's own facts, each under its own command id, so a
    second replay records none again: its tick finds them recorded and raises nothing.
    So that the second replay accounts for the same facts as the first, each tick also
    counts the escalations recorded before this replay at its own moment (the clock it
    runs under) on the file's cases; each case's stored escalations are read once."""

    def __init__(self, engine: Engine, community: UUID) -> None:
        self._engine = engine
        self._community = community
        self._stored: dict[UUID, list[FactAggregate.Event]] = {}
        self._counted: set[tuple[UUID, int]] = set()
        self.escalations: list[Receipt] = []
        self.ticks = 0

    def tick(self, action: Action, cases: Iterable[UUID]) -> None:
        done = self._engine.tick(action.at, community=self._community)
        self.ticks += 1
        found = [raised.receipt for raised in done.raised]
        for case_id in cases:
            found += [Receipt(case_id, event.originator_version, event.originator_version)
                      for event in self._stored_escalations(case_id)
                      if event.timestamp == action.recorded_at]
        for receipt in found:
            key = (receipt.aggregate_id, receipt.first_version)
            if key not in self._counted:
                self._counted.add(key)
                self.escalations.append(receipt)

    def _stored_escalations(self, case_id: UUID) -> list[FactAggregate.Event]:
        """The case's escalations in the store (this replay's batch is not in it yet)."""
        stored = self._stored.get(case_id)
        if stored is None:
            stored = self._stored[case_id] = [
                event for event in self._engine.events(case_id)
                if isinstance(event, Incident.Escalated | ServiceOrder.Escalated)]
        return stored


def _perform(engine: Engine, scenario: Scenario, community: UUID, action: Action,
             ids: dict[str, dict[str, UUID]], labels: dict[str, Receipt]) -> Receipt:
    command_id = action.command_id or action.implicit_command_id
    supplied: dict[str, Any] = {"actor": action.actor, "occurred_at": action.at,
                                "command_id": command_id}
    if action.corrects is not None:
        supplied["corrects"] = _corrected_version(action, labels)
    if action.target == "community":
        if action.do == "register":
            supplied.update(district=scenario.district, subdistrict=scenario.subdistrict,
                            name=scenario.community)
            return _call(engine.communities.register, (), action.arguments, supplied)
        # A grid's patrol plan is the community's, kept by engine.patrols.
        service = getattr(engine, PLAN_COMMANDS.get(action.do, "communities"))
        return _call(getattr(service, action.do), (community,), action.arguments, supplied)
    # Ids derive from the community and the key, so one file may act on an incident,
    # order, improvement item or emergency that another file reported, placed, planned
    # or declared.
    assert action.key is not None
    # Each keyed target: its service, its creating commands, how its id derives from the
    # community and a key, the id's argument, and the verb for a key no file created.
    targets: dict[str, tuple[Any, set[str], Callable[[UUID, str], UUID], str, str]] = {
        "incident": (engine.incidents, {"report", "detect"}, incident_id_for, "incident_id",
                     "reported"),
        "order": (engine.orders, {"place"}, order_id_for, "order_id", "placed"),
        "improvement": (engine.improvements, {"plan_improvement"}, improvement_id_for,
                        "item_id", "planned"),
        "emergency": (engine.emergencies, {"declare"}, emergency_id_for, "emergency_id",
                      "declared"),
        "hazard": (engine.hazards, {"find"}, hazard_id_for, "hazard_id", "found"),
        "patrol": (engine.patrols, {"record"}, patrol_id_for, "patrol_id", "recorded"),
    }
    service, creators, id_for, id_argument, verb = targets[action.target]
    aggregate = ids[action.target].get(action.key)
    if aggregate is None:
        aggregate = ids[action.target][action.key] = id_for(community, action.key)
    method = getattr(service, IMPROVEMENT_COMMANDS[action.do]
                     if action.target == "improvement" else action.do)
    arguments = action.arguments
    if action.incident is not None:  # a plan_improvement naming its incident
        incident = incident_id_for(community, action.incident)
        ids["incident"][action.incident] = incident
        _known(engine.incidents.get, incident, "incident", action.incident, "reported")
        supplied["incident_id"] = incident
        arguments = {"review": incident_review_key(incident), **arguments}
    if action.linked is not None:  # a link naming the order, item or incident it links
        kind, key = action.linked
        linked_service, _creators, linked_for, linked_argument, done = targets[kind]
        linked = ids[kind].setdefault(key, linked_for(community, key))
        _known(linked_service.get, linked, kind, key, done)
        # A hazard's link_order takes order_id (as the order's place does), its
        # link_improvement item_id, its link_incident incident_id; link_recovery linked_id.
        supplied["linked_id" if action.target != "hazard" else linked_argument] = linked
    if action.patrol is not None:  # a hazard found on a patrol of this file or the store
        patrol = ids["patrol"].setdefault(action.patrol, patrol_id_for(community,
                                                                       action.patrol))
        _known(engine.patrols.get, patrol, "patrol", action.patrol, "recorded")
        supplied["patrol_id"] = patrol
    if action.do in creators:
        supplied[id_argument] = aggregate
        return _call(method, (community,), arguments, supplied)
    try:
        return _call(method, (aggregate,), arguments, supplied)
    except NotFoundError:
        raise _unknown(action.target, action.key, verb) from None


def _call(method: Callable[..., Receipt], args: tuple[Any, ...], arguments: Mapping[str, Any],
          supplied: Mapping[str, Any]) -> Receipt:
    """``method(*args, **arguments, **supplied)``, once the names are known to fit it: an
    argument that is unknown, missing or given by the action's own keys is the file's
    mistake, said as such (not a TypeError from deep inside)."""
    clash = arguments.keys() & supplied.keys()
    if clash:
        raise InvalidInputError(_("{names}: given by the action's own keys, not as an "
                                  "argument").format(names=", ".join(sorted(clash))))
    kwargs = {**arguments, **supplied}
    names, required = _parameters(getattr(method, "__func__", method), len(args))
    unknown = kwargs.keys() - names
    if unknown:
        raise InvalidInputError(_("unknown argument {names}; takes {known}").format(
            names=", ".join(map(repr, sorted(unknown))),
            known=", ".join(sorted(names - supplied.keys()))))
    missing = required - kwargs.keys()
    if missing:
        raise InvalidInputError(_("missing argument {names}").format(
            names=", ".join(map(repr, sorted(missing)))))
    return method(*args, **kwargs)


@cache
def _parameters(function: Callable[..., Any], positional: int) -> tuple[frozenset[str],
                                                                          frozenset[str]]:
    """The names a service method takes by keyword after ``positional`` arguments (skipping
    ``self``), and those of them without a default."""
    rest = list(inspect.signature(function).parameters.values())[1 + positional:]
    named = [p for p in rest if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return (frozenset(p.name for p in named),
            frozenset(p.name for p in named if p.default is p.empty))


def _known(get: Callable[[UUID], object], aggregate: UUID, target: str, key: str,
           verb: str) -> None:
    """Raise NotFoundError naming the scenario's key if ``aggregate`` is not in the store."""
    try:
        get(aggregate)
    except NotFoundError:
        raise _unknown(target, key, verb) from None


_UNKNOWN = {
    "incident": N_("incident {key} was not reported in this file nor before it in the store"),
    "order": N_("order {key} was not placed in this file nor before it in the store"),
    "improvement": N_("improvement {key} was not planned in this file nor before it in the "
                      "store"),
    "emergency": N_("emergency {key} was not declared in this file nor before it in the "
                    "store"),
    "hazard": N_("no hazard {key} was found in this file nor before it in the store"),
    "patrol": N_("patrol {key} was not recorded in this file nor before it in the store"),
}
"""What a key no file created says, by target (its verb: ``targets`` in _perform)."""


def _unknown(target: str, key: str, verb: str) -> NotFoundError:
    message = _UNKNOWN.get(target)
    if message is None or verb not in message:
        return NotFoundError(_("{target} {key} was not {verb} in this file nor before it in "
                               "the store").format(target=target, key=shown(key), verb=verb))
    return NotFoundError(_(message).format(key=shown(key)))


def _corrected_version(action: Action, labels: Mapping[str, Receipt]) -> int:
    if isinstance(action.corrects, int):
        return action.corrects
    receipt = labels.get(str(action.corrects))
    if receipt is None:
        raise ScenarioError(_("'corrects' names no earlier label {label}").format(
            label=shown(action.corrects)), entry=action.entry, line=action.line)
    return receipt.first_version


