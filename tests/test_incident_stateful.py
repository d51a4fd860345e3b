"""Stateful property test: random incident command sequences against a plain model.

Hypothesis drives ``engine.incidents`` with random, often invalid, commands
(wrong state, times before detection, responder chains going backwards,
forced entry without consent, closed incidents and amendments to them, reopen
cycles, late records out of order, repeated command ids, time corrections). A
deliberately simple model (plain dicts and lists) restates the rules and
predicts, for every command, whether it is accepted (and which facts it
records) or which documented error class rejects it. After every step the
incident read back from the store must equal the model. What a late record or a
time correction can reorder (commander, classification, pending consents, the
cycle a containment or a responder's fact belongs to) the model reads in the
order things happened: by effective time, then version.
"""

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition

from resilience import (
    Actor,
    Engine,
    Incident,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    Receipt,
    Role,
)
from stateful_support import (
    COMMAND_IDS,
    FACTS,
    SETTINGS,
    WHENS,
    ZONES,
    Errors,
    Fact,
    NotedMachine,
    blank,
    command,
    first_command,
    moment,
    texts,
)

from conftest import OFFICE, T0, donghu

COMMANDER = Actor("commander-wu", Role.INCIDENT_COMMANDER)
LEADER = Actor("p-3001", Role.GRID_LEADER)
TEXTS = texts("smoke in the basement")
RESPONDERS = st.sampled_from(("li", "wang", "chen", ""))
RESIDENTS = st.sampled_from(("resident-a", "resident-b", ""))
CHAIN = ("dispatched", "en_route", "on_scene")
CHAIN_KINDS = {"ResponderDispatched": "dispatched", "ResponderEnRoute": "en_route",
               "ResponderOnScene": "on_scene"}
CONTAINED = "contained"  # the step name the model gives a containment (responder None)
WHERE = Location(building="30", unit="1", floor=-1)
# Facts whose order in time decides something: who commands, the classification in effect,
# which consents are pending, resolve, close and reopen, and (against the reopenings) the
# cycle of a containment or a responder's fact.
ORDERED = frozenset({"Detected", "Reclassified", "CommanderAssigned", "ConsentRequested",
                     "ConsentGranted", "ConsentRefused", "Resolved", "Closed", "Reopened",
                     "Contained", *CHAIN_KINDS})
ORDERED_FACTS = FACTS.filter(lambda fact: fact.kind in ORDERED)
REQUESTS = FACTS.filter(lambda fact: fact.kind == "ConsentRequested")
CHAIN_FACTS = FACTS.filter(lambda fact: fact.kind in CHAIN_KINDS)
# A fact the per-cycle rules count: the responder it is about (None: a containment), its step.
Counted = tuple[str | None, str]


def happening_order(times: dict[int, datetime]) -> Callable[[int], tuple[datetime, int]]:
    """Sort key of a version among ``times``: when it happened, then when it was recorded."""
    return lambda version: (times[version], version)


class IncidentMachine(NotedMachine[Incident]):
    """One incident driven through the engine, shadowed by a model of plain dicts and lists."""

    def __init__(self) -> None:
        super().__init__()
        self.incident = self.aggregate_id = uuid4()
        self.service = self.engine.incidents
        self.community = donghu(self.engine)
        # version -> (type, severity) set by the detection (version 1) or a reclassification
        self.classifications: dict[int, tuple[str, str]] = {}
        self.commanders: dict[int, str] = {}  # version -> person assigned
        self.reported = False
        self.acknowledged = False
        self.counted: dict[int, Counted] = {}  # version -> containment or a responder's step
        self.requests: dict[str, list[int]] = {}  # resident -> versions of their requests
        self.answers: dict[str, list[tuple[int, bool]]] = {}  # resident -> (version, granted)
        self.answered: dict[int, int] = {}  # answer version -> version of the request answered
        self.exigent: int | None = None
        self.forced: list[int] = []
        self.resolved = False  # in the current cycle
        self.closed = False
        self.reopenings: list[int] = []
        self.lifecycle: list[int] = []  # versions of Resolved, Closed and Reopened facts

    def create(self, command_id: str | None) -> Receipt:
        """Detect the fire at T0 (the first command may also have reported it)."""
        return self.engine.incidents.detect(
            self.community, incident_type="fire", severity="high", location=WHERE,
            description="smoke", actor=LEADER, occurred_at=T0, incident_id=self.incident,
            command_id=command_id)

    # Rules of the model ----------------------------------------------------------

    def closure(self) -> int | None:
        """A closed incident stands closed by its last closure."""
        return self.lifecycle[-1] if self.closed else None

    def live(self, at: datetime, *, step: bool = False) -> Errors:
        """Errors every ordinary command dated ``at`` gets: before detection, or the incident
        is closed and the fact is a step or dated after the closure."""
        errors = self.closed_errors(None if step else at)
        if at < self.times[1]:
            errors.add(InvalidTransitionError)
        return errors

    def cycle_of(self, version: int, times: dict[int, datetime]) -> int:
        """How many reopenings happened before the fact (a reopening opens its cycle)."""
        key = happening_order(times)
        return sum(key(r) <= key(version) for r in self.reopenings)

    def cycles_valid(self, times: dict[int, datetime], new: dict[int, Counted]) -> bool:
        """In each cycle at most one containment, and per responder at most one of each
        step, dated dispatched <= en route <= on scene (``new`` facts added)."""
        places: dict[tuple[int, str | None, str], int] = {}
        for version, (who, step) in sorted({**self.counted, **new}.items()):
            place = (self.cycle_of(version, times), who, step)
            if place in places:
                return False
            places[place] = version
        for (cycle, who, step), version in places.items():
            earlier = [places[cycle, who, s] for s in CHAIN[:CHAIN.index(step)]
                       if (cycle, who, s) in places] if step in CHAIN else []
            if any(times[version] < times[e] for e in earlier):
                return False
        return True

    def counted_errors(self, at: datetime, new: list[Counted]) -> Errors:
        """Errors of new counted facts dated ``at``: closed, before detection, or breaking
        the per-cycle rules."""
        errors = self.live(at)
        first = len(self.times) + 1
        pending = dict(enumerate(new, start=first))
        if not self.cycles_valid({**self.times, **dict.fromkeys(pending, at)}, pending):
            errors.add(InvalidTransitionError)
        return errors

    def in_cycle(self, step: str, cycle: int | None = None) -> dict[str | None, int]:
        """Responder (None: the containment) -> version of their ``step`` fact in ``cycle``
        (the current one by default)."""
        wanted = len(self.reopenings) if cycle is None else cycle
        return {who: v for v, (who, s) in self.counted.items()
                if s == step and self.cycle_of(v, self.times) == wanted}

    def last_to_happen(self, versions: list[int]) -> int:
        return max(versions, key=happening_order(self.times))

    def classification(self) -> tuple[str, str]:
        return self.classifications[self.last_to_happen(list(self.classifications))]

    def commander(self) -> str | None:
        if not self.commanders:
            return None
        return self.commanders[self.last_to_happen(list(self.commanders))]

    def pending_request(self, resident: str) -> int:
        return self.last_to_happen(self.requests[resident])

    def pending(self) -> list[str]:
        """Residents whose last request happened after all their answers, in asking order."""
        key = happening_order(self.times)
        pending = {r: self.pending_request(r) for r in self.requests}
        return sorted((r for r, asked in pending.items()
                       if all(key(v) < key(asked) for v, _ in self.answers.get(r, []))),
                      key=lambda r: key(pending[r]))

    def after_lifecycle(self, at: datetime, errors: Errors) -> None:
        """Resolve, close and reopen come no earlier than the last of them."""
        if self.lifecycle and at < self.times[self.lifecycle[-1]]:
            errors.add(InvalidTransitionError)

    def entry_permitted(self, at: datetime, times: dict[int, datetime],
                        answers_by: dict[str, list[tuple[int, bool]]] | None = None) -> bool:
        """Exigent entry authorised by ``at``, or someone's latest answer by ``at`` is a grant.

        "Latest" by effective time; at equal times, the later-recorded answer.
        """
        if self.exigent is not None and times[self.exigent] <= at:
            return True
        for answers in (self.answers if answers_by is None else answers_by).values():
            known = sorted((times[v], v, granted) for v, granted in answers if times[v] <= at)
            if known and known[-1][2]:
                return True
        return False

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Would these effective times keep every invariant?"""
        if any(t < times[1] for t in times.values()):
            return False
        if any(times[answer] < times[request] for answer, request in self.answered.items()):
            return False
        lifecycle = [times[v] for v in self.lifecycle]
        if any(later < earlier for earlier, later in itertools.pairwise(lifecycle)):
            return False
        if not self.cycles_valid(times, {}):
            return False
        return all(self.entry_permitted(times[v], times) for v in self.forced)

    def status(self) -> str:
        """The current cycle's progress; "reopened" until a reopened incident gets further."""
        if self.closed:
            return "closed"
        if self.resolved:
            return "resolved"
        for step in (CONTAINED, "on_scene", "dispatched"):
            if self.in_cycle(step):
                return step
        if self.reopenings:
            return "reopened"
        if self.acknowledged:
            return "acknowledged"
        return "reported" if self.reported else "detected"

    # Setup -----------------------------------------------------------------------

    @first_command(reported_after=st.none() | st.integers(-3, 5), command_id=COMMAND_IDS,
                   head_start=st.integers(0, 13))
    def detect(self, reported_after: int | None, command_id: str | None,
               head_start: int) -> None:
        """Detect the incident at T0, maybe reporting it in the same command; a few steps follow."""
        self.begin(reported_after, command_id)
        for _ in range(head_start):
            self.progress(None)

    def begin(self, reported_after: int | None, command_id: str | None) -> None:
        if reported_after is not None:
            reported_at = moment(reported_after, ZONES[1])

            def report() -> Receipt:
                return self.engine.incidents.report(
                    self.community, incident_type="fire", severity="high", location=WHERE,
                    description="smoke", actor=LEADER, detected_at=T0, occurred_at=reported_at,
                    incident_id=self.incident, command_id=command_id,
                )

            early: Errors = {InvalidTransitionError} if reported_after < 0 else set()
            if self.attempt(command_id, early, report, ["Detected", "Reported"], T0) is not None:
                self.times[2] = reported_at  # the report, unlike the detection, is not at T0
                self.classifications = {1: ("fire", "high")}
                self.reported = True
                return
            assert self.engine.events(self.incident) == []
        self.attempt(command_id, set(), lambda: self.create(command_id), ["Detected"], T0)
        self.classifications = {1: ("fire", "high")}

    # Commands --------------------------------------------------------------------

    @command(when=WHENS, command_id=COMMAND_IDS)
    def report(self, when: datetime | None, command_id: str | None) -> None:
        """Report once, not before detection."""
        at = self.at(when)
        errors = self.live(at)
        if self.reported:
            errors.add(InvalidTransitionError)
        if self.attempt(command_id, errors, lambda: self.engine.incidents.report_to_community(
                self.incident, actor=OFFICE, occurred_at=when, command_id=command_id),
                ["Reported"], at) is not None:
            self.reported = True

    @command(when=WHENS, command_id=COMMAND_IDS)
    def acknowledge(self, when: datetime | None, command_id: str | None) -> None:
        """Acknowledge once, not before detection."""
        at = self.at(when)
        errors = self.live(at)
        if self.acknowledged:
            errors.add(InvalidTransitionError)
        if self.attempt(command_id, errors, lambda: self.engine.incidents.acknowledge(
                self.incident, actor=OFFICE, occurred_at=when, command_id=command_id),
                ["Acknowledged"], at) is not None:
            self.acknowledged = True

    @command(incident_type=st.sampled_from((None, "fire", "gas", "volcano")),
             severity=st.sampled_from((None, "high", "low", "apocalyptic")),
             when=WHENS, command_id=COMMAND_IDS)
    def reclassify(self, incident_type: str | None, severity: str | None,
                   when: datetime | None, command_id: str | None) -> None:
        """Reclassify with known values that change the classification in effect."""
        at = self.at(when)
        errors = self.live(at)
        if incident_type == "volcano" or severity == "apocalyptic":
            errors.add(InvalidInputError)
        current_type, current_severity = self.classification()
        new = (incident_type or current_type, severity or current_severity)
        if new == (current_type, current_severity):
            errors.add(InvalidInputError)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.reclassify(
            self.incident, incident_type=incident_type, severity=severity, actor=OFFICE,
            occurred_at=when, command_id=command_id), ["Reclassified"], at)
        if first is not None:
            self.classifications[first] = new

    @command(person=st.sampled_from(("commander-wu", "commander-ma", "")), when=WHENS,
             command_id=COMMAND_IDS)
    def assign_commander(self, person: str, when: datetime | None,
                         command_id: str | None) -> None:
        """Assign a commander who is not the one in command (by the last assignment to happen)."""
        at = self.at(when)
        errors = self.live(at)
        if blank(person):
            errors.add(InvalidInputError)
        elif person == self.commander():
            errors.add(InvalidTransitionError)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.assign_commander(
            self.incident, person, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["CommanderAssigned"], at)
        if first is not None:
            self.commanders[first] = person

    @command(responders=st.lists(RESPONDERS, max_size=3), when=WHENS, command_id=COMMAND_IDS)
    def dispatch(self, responders: list[str], when: datetime | None,
                 command_id: str | None) -> None:
        """Dispatch each responder once per cycle, never after their en route or arrival of
        that cycle (a late record may come before them)."""
        at = self.at(when)
        errors = self.counted_errors(at, [(r, "dispatched") for r in responders])
        if not responders or any(blank(r) for r in responders):
            errors.add(InvalidInputError)
        if len(set(responders)) != len(responders):
            errors.add(InvalidInputError)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.dispatch(
            self.incident, responders, team="squad", actor=COMMANDER, occurred_at=when,
            command_id=command_id), ["ResponderDispatched"] * len(responders), at)
        if first is not None:
            for version, responder in enumerate(responders, start=first):
                self.counted[version] = (responder, "dispatched")

    @command(responder=RESPONDERS, when=WHENS, command_id=COMMAND_IDS)
    def en_route(self, responder: str, when: datetime | None, command_id: str | None) -> None:
        """En route once per cycle, dated between the dispatch and the arrival of that cycle
        (either may be recorded already)."""
        at = self.at(when)
        errors = self.counted_errors(at, [(responder, "en_route")])
        if blank(responder):
            errors.add(InvalidInputError)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.en_route(
            self.incident, responder, actor=COMMANDER, occurred_at=when, command_id=command_id),
            ["ResponderEnRoute"], at)
        if first is not None:
            self.counted[first] = (responder, "en_route")

    @command(responder=RESPONDERS, when=WHENS, command_id=COMMAND_IDS)
    def arrive(self, responder: str, when: datetime | None, command_id: str | None) -> None:
        """Arrive once per cycle (dispatched or not), not before the dispatch or the en-route
        fact of that cycle."""
        at = self.at(when)
        errors = self.counted_errors(at, [(responder, "on_scene")])
        if blank(responder):
            errors.add(InvalidInputError)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.arrive(
            self.incident, responder, actor=COMMANDER, occurred_at=when, command_id=command_id),
            ["ResponderOnScene"], at)
        if first is not None:
            self.counted[first] = (responder, "on_scene")

    @command(fact=CHAIN_FACTS, step=st.sampled_from(CHAIN), steps=st.integers(-1, 1),
             command_id=COMMAND_IDS)
    def record_late(self, fact: Fact, step: str, steps: int, command_id: str | None) -> None:
        """Record a step of the responder of a chain fact dated just before, at or after that
        fact (a field report arriving out of order): random moments rarely land there."""
        responder = self.counted[fact.version][0]
        assert responder is not None
        near = self.times[fact.version] + timedelta(minutes=5 * steps)
        match step:
            case "dispatched":
                self.dispatch([responder], near, command_id)
            case "en_route":
                self.en_route(responder, near, command_id)
            case _:
                self.arrive(responder, near, command_id)

    @command(action=st.sampled_from(("evacuation", "suppression", "juggling")), description=TEXTS,
             when=WHENS, command_id=COMMAND_IDS)
    def take_action(self, action: str, description: str, when: datetime | None,
                    command_id: str | None) -> None:
        """A field action of a known kind, described."""
        at = self.at(when)
        errors = self.live(at)
        if action == "juggling" or blank(description):
            errors.add(InvalidInputError)
        self.attempt(command_id, errors, lambda: self.engine.incidents.take_action(
            self.incident, action, description, actor=COMMANDER, occurred_at=when,
            command_id=command_id), ["ActionTaken"], at)

    @command(resident=RESIDENTS, purpose=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def request_consent(self, resident: str, purpose: str, when: datetime | None,
                        command_id: str | None) -> None:
        """Ask a resident for consent (asking again is allowed)."""
        at = self.at(when)
        errors = self.live(at)
        if blank(resident) or blank(purpose):
            errors.add(InvalidInputError)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.request_consent(
            self.incident, resident, purpose, actor=LEADER, occurred_at=when,
            command_id=command_id), ["ConsentRequested"], at)
        if first is not None:
            self.requests.setdefault(resident, []).append(first)

    def answer(self, resident: str, granted: bool, when: datetime | None,
               command_id: str | None) -> None:
        """Answer for ``resident``: only a pending request, not before it was asked, and a
        refusal not under a forced entry it allowed."""
        at = self.at(when)
        errors = self.live(at)
        if blank(resident):
            errors.add(InvalidInputError)
        elif (resident not in self.pending()
              or at < self.times[self.pending_request(resident)]):
            errors.add(InvalidTransitionError)  # not asked, or answered before being asked
        elif not granted:
            # A refusal dated at or before a recorded forced entry would leave it unpermitted.
            version = len(self.times) + 1
            times = {**self.times, version: at}
            answers = {**self.answers, resident: [*self.answers.get(resident, []),
                                                  (version, False)]}
            if not all(self.entry_permitted(times[v], times, answers) for v in self.forced):
                errors.add(InvalidTransitionError)
        incidents = self.engine.incidents
        if granted:
            first = self.attempt(command_id, errors, lambda: incidents.grant_consent(
                self.incident, resident, actor=LEADER, occurred_at=when,
                command_id=command_id), ["ConsentGranted"], at)
        else:
            first = self.attempt(command_id, errors, lambda: incidents.refuse_consent(
                self.incident, resident, "not home", actor=LEADER, occurred_at=when,
                command_id=command_id), ["ConsentRefused"], at)
        if first is not None:
            self.answered[first] = self.pending_request(resident)
            self.answers.setdefault(resident, []).append((first, granted))

    def asker(self, request: Fact) -> str:
        """The resident whose consent the request at this fact asked for."""
        return next(r for r, asked in self.requests.items() if request.version in asked)

    @precondition(lambda self: self.requests)
    @command(request=REQUESTS, when=WHENS, command_id=COMMAND_IDS)
    def grant_consent(self, request: Fact, when: datetime | None,
                      command_id: str | None) -> None:
        """Grant the consent a request asked for: only if it is pending, not before it."""
        self.answer(self.asker(request), True, when, command_id)

    @precondition(lambda self: self.requests)
    @command(request=REQUESTS, when=WHENS, command_id=COMMAND_IDS)
    def refuse_consent(self, request: Fact, when: datetime | None,
                       command_id: str | None) -> None:
        """Refuse the consent a request asked for: only if it is pending, not before it, nor
        under a forced entry it allowed."""
        self.answer(self.asker(request), False, when, command_id)

    @command(resident=RESIDENTS, granted=st.booleans(), when=WHENS, command_id=COMMAND_IDS)
    def answer_anyone(self, resident: str, granted: bool, when: datetime | None,
                      command_id: str | None) -> None:
        """Answer for any resident, asked or not, or for no one (a blank id)."""
        self.answer(resident, granted, when, command_id)

    @command(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def authorise_exigent_entry(self, reason: str, when: datetime | None,
                                command_id: str | None) -> None:
        """Authorise exigent entry once, with a reason."""
        at = self.at(when)
        errors = self.live(at)
        if self.exigent is not None:
            errors.add(InvalidTransitionError)
        if blank(reason):
            errors.add(InvalidInputError)
        first = self.attempt(command_id, errors,
                             lambda: self.engine.incidents.authorise_exigent_entry(
                                 self.incident, reason, actor=COMMANDER, occurred_at=when,
                                 command_id=command_id), ["ExigentEntryAuthorised"], at)
        if first is not None:
            self.exigent = first

    @command(door=st.sampled_from(("storage room", "")), when=WHENS, command_id=COMMAND_IDS)
    def force_entry(self, door: str, when: datetime | None, command_id: str | None) -> None:
        """Force entry only with a consent granted, or exigent entry authorised, by then."""
        at = self.at(when)
        errors = self.live(at)
        if blank(door):
            errors.add(InvalidInputError)
        if not self.entry_permitted(at, self.times):
            errors.add(InvalidTransitionError)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.force_entry(
            self.incident, door, actor=COMMANDER, occurred_at=when, command_id=command_id),
            ["ForcedEntryMade"], at)
        if first is not None:
            self.forced.append(first)

    @command(description=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def find_source(self, description: str, when: datetime | None,
                    command_id: str | None) -> None:
        """Find the source (any number of times), described."""
        at = self.at(when)
        errors = self.live(at)
        if blank(description):
            errors.add(InvalidInputError)
        self.attempt(command_id, errors, lambda: self.engine.incidents.find_source(
            self.incident, description, actor=COMMANDER, occurred_at=when,
            command_id=command_id), ["SourceFound"], at)

    @command(when=WHENS, command_id=COMMAND_IDS)
    def contain(self, when: datetime | None, command_id: str | None) -> None:
        """Contain once per cycle (the cycle of the containment's own time)."""
        at = self.at(when)
        errors = self.counted_errors(at, [(None, CONTAINED)])
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.contain(
            self.incident, actor=COMMANDER, occurred_at=when, command_id=command_id),
            ["Contained"], at)
        if first is not None:
            self.counted[first] = (None, CONTAINED)

    @command(summary=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def resolve(self, summary: str, when: datetime | None, command_id: str | None) -> None:
        """Resolve once per cycle, with a summary, not before the last close or reopen; a
        step, so never while closed."""
        at = self.at(when)
        errors = self.live(at, step=True)
        if self.resolved:
            errors.add(InvalidTransitionError)
        if blank(summary):
            errors.add(InvalidInputError)
        self.after_lifecycle(at, errors)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.resolve(
            self.incident, summary, actor=COMMANDER, occurred_at=when,
            command_id=command_id), ["Resolved"], at)
        if first is not None:
            self.resolved = True
            self.lifecycle.append(first)

    @command(reason=st.sampled_from(("resolved", "false_alarm", "cancelled", "bored")),
             when=WHENS, command_id=COMMAND_IDS)
    def close(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """Close for a known reason, not before the last resolve or reopen; closing as
        resolved needs the resolution first; a step, so never while closed."""
        at = self.at(when)
        errors = self.live(at, step=True)
        if reason == "bored":
            errors.add(InvalidInputError)
        if reason == "resolved" and not self.resolved:
            errors.add(InvalidTransitionError)
        self.after_lifecycle(at, errors)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.close(
            self.incident, reason, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["Closed"], at)
        if first is not None:
            self.closed = True
            self.lifecycle.append(first)

    @command(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def reopen(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """Reopen only a resolved or closed incident, not before its resolution or
        closure: a new cycle starts."""
        at = self.at(when)
        errors: Errors = set()
        if at < self.times[1] or not (self.closed or self.resolved):
            errors.add(InvalidTransitionError)
        if blank(reason):
            errors.add(InvalidInputError)
        self.after_lifecycle(at, errors)
        first = self.attempt(command_id, errors, lambda: self.engine.incidents.reopen(
            self.incident, reason, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["Reopened"], at)
        if first is not None:
            self.closed = self.resolved = False
            self.reopenings.append(first)
            self.lifecycle.append(first)

    @command(fact=ORDERED_FACTS, anchor=ORDERED_FACTS, steps=st.integers(-1, 1), when=WHENS,
             command_id=COMMAND_IDS)
    def correct_an_ordered_fact(self, fact: Fact, anchor: Fact, steps: int,
                                when: datetime | None, command_id: str | None) -> None:
        """Move a fact whose place in time matters (an assignment, a classification, a
        consent request or answer, a resolve, close or reopen, a containment or a
        responder's fact) to just before, at or after another such fact: random facts and
        moments rarely reorder these, or tie them."""
        near = self.times[anchor.version] + timedelta(minutes=5 * steps)
        self.correct_time_of(fact.version, near, "log checked", when, command_id)

    @command(command_id=COMMAND_IDS)
    def progress(self, command_id: str | None) -> None:
        """The next step of a smooth response, now (keeps long runs reaching late states and
        further cycles: a resolved incident is reopened every other time, a closed one
        always)."""
        li = {step for step in CHAIN if "li" in self.in_cycle(step)}
        if self.closed:
            self.reopen("rekindled", None, command_id)
        elif not self.reported:
            self.report(None, command_id)
        elif not self.acknowledged:
            self.acknowledge(None, command_id)
        elif not li:
            self.dispatch(["li"], None, command_id)
        elif "en_route" not in li and "on_scene" not in li:
            self.en_route("li", None, command_id)
        elif "on_scene" not in li:
            self.arrive("li", None, command_id)
        elif not self.requests:
            self.request_consent("resident-a", "enter the storage room", None, command_id)
        elif self.pending() and not self.forced:
            self.answer(self.pending()[0], True, None, command_id)
        elif not self.forced:
            self.force_entry("storage room", None, command_id)
        elif len(self.answers.get("resident-a", [])) < 2 and not self.pending():
            # Asked again just before the entry; the refusal is reported afterwards, dated
            # when it was given (which must not leave the entry without consent) or now.
            entered = self.times[self.forced[0]]
            self.request_consent("resident-a", "enter the flat above",
                                 entered - timedelta(minutes=5), command_id)
        elif self.pending():
            resident = self.pending()[0]
            asked = self.times[self.pending_request(resident)]
            self.answer(resident, False, asked if len(self.times) % 2 else None, command_id)
        elif not self.in_cycle(CONTAINED):
            self.contain(None, command_id)
        elif not self.resolved:
            self.resolve("extinguished", None, command_id)
        elif len(self.times) % 2:
            self.reopen("flared up", None, command_id)
        else:
            self.close("resolved", None, command_id)

    # Invariants ------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        """The stored incident's state equals the model's."""
        incident = self.stored()
        assert incident.status.value == self.status()
        assert incident.is_closed is self.closed
        assert sorted(incident.on_scene()) == sorted(map(str, self.in_cycle("on_scene")))
        assert incident.contained == self.in_cycle(CONTAINED).get(None)
        assert incident.cycle == len(self.reopenings)
        for cycle in range(len(self.reopenings) + 1):
            chains = {r: {s: v for s in CHAIN if (v := getattr(chain, s)) is not None}
                      for r, chain in incident.chains(cycle).items()}
            model: dict[str | None, dict[str, int]] = {}
            for step in CHAIN:
                for who, version in self.in_cycle(step, cycle).items():
                    model.setdefault(who, {})[step] = version
            assert chains == model
        assert {v: incident.cycle_of(v) for v in self.times} == {
            v: self.cycle_of(v, self.times) for v in self.times}
        assert incident.pending_consents() == self.pending()
        assert incident.answered_requests == self.answered
        assert incident.commander == self.commander()
        assert (incident.incident_type.value, incident.severity.value) == self.classification()
        assert incident.reopen_count == len(self.reopenings)


class TestIncidentMachine(IncidentMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence leaves the incident, its facts and its errors as the model says."""

    settings = SETTINGS


# Regressions the machine found, as plain examples ---------------------------------


def _fire(engine: Engine) -> UUID:
    return engine.incidents.detect(
        donghu(engine), incident_type="fire", severity="high", location=Location(building="30"),
        description="smoke", actor=LEADER, occurred_at=T0).aggregate_id


def test_en_route_rejects_a_blank_responder_id(memory_engine: Engine) -> None:
    """en_route validates the responder id like dispatch and arrive do."""
    fire = _fire(memory_engine)
    with pytest.raises(InvalidInputError):
        memory_engine.incidents.en_route(fire, "", actor=COMMANDER, occurred_at=T0)
    assert len(memory_engine.events(fire)) == 1


def test_a_dispatch_cannot_come_after_the_responder_arrived(memory_engine: Engine) -> None:
    """Dispatching someone later than their (undispatched) arrival would put the chain backwards."""
    fire = _fire(memory_engine)
    incidents = memory_engine.incidents
    incidents.arrive(fire, "li", actor=LEADER, occurred_at=T0 + timedelta(minutes=5))
    with pytest.raises(InvalidTransitionError):
        incidents.dispatch(fire, ["li"], actor=COMMANDER, occurred_at=T0 + timedelta(minutes=10))
    assert len(memory_engine.events(fire)) == 2


def test_a_correction_cannot_happen_before_detection(memory_engine: Engine) -> None:
    """A correction is a fact too: its own occurred_at can't precede the detection."""
    fire = _fire(memory_engine)
    incidents = memory_engine.incidents
    incidents.add_note(fire, "smoke", actor=OFFICE, occurred_at=T0 + timedelta(minutes=5))
    early = T0 - timedelta(minutes=1)
    with pytest.raises(InvalidTransitionError):
        incidents.correct_time(fire, 2, T0 + timedelta(minutes=6), "misread", actor=OFFICE,
                               occurred_at=early)
    with pytest.raises(InvalidTransitionError):
        incidents.correct_details(fire, 2, "thick smoke", "misheard", actor=OFFICE,
                                  occurred_at=early)
    assert len(memory_engine.events(fire)) == 2


def test_a_refusal_after_a_grant_at_the_same_moment_withdraws_consent(
        memory_engine: Engine) -> None:
    """At equal times the later-recorded answer counts, so a refusal after a grant forbids entry."""
    fire = _fire(memory_engine)
    incidents = memory_engine.incidents
    at = T0 + timedelta(minutes=10)
    incidents.request_consent(fire, "resident-a", "enter", actor=LEADER, occurred_at=at)
    incidents.grant_consent(fire, "resident-a", actor=LEADER, occurred_at=at)
    incidents.request_consent(fire, "resident-a", "enter again", actor=LEADER, occurred_at=at)
    incidents.refuse_consent(fire, "resident-a", "changed mind", actor=LEADER, occurred_at=at)
    with pytest.raises(InvalidTransitionError):
        incidents.force_entry(fire, "storage room", actor=COMMANDER, occurred_at=at)


def test_a_refusal_cannot_withdraw_the_consent_a_recorded_entry_relied_on(
        memory_engine: Engine) -> None:
    """A refusal dated before a recorded forced entry would leave that entry without consent."""
    fire = _fire(memory_engine)
    incidents = memory_engine.incidents

    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    incidents.request_consent(fire, "resident-a", "enter", actor=LEADER, occurred_at=at(10))
    incidents.grant_consent(fire, "resident-a", actor=LEADER, occurred_at=at(10))
    incidents.force_entry(fire, "storage room", actor=COMMANDER, occurred_at=at(20))
    incidents.request_consent(fire, "resident-a", "again", actor=LEADER, occurred_at=at(12))
    with pytest.raises(InvalidTransitionError):
        incidents.refuse_consent(fire, "resident-a", "no", actor=LEADER, occurred_at=at(15))
    incidents.refuse_consent(fire, "resident-a", "no", actor=LEADER, occurred_at=at(25))
    incidents.correct_time(fire, 1, T0 - timedelta(minutes=1), "noticed earlier", actor=OFFICE,
                           occurred_at=at(30))
