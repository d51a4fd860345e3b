"""Stateful property test: random emergency command sequences against a plain model.

Hypothesis drives ``engine.emergencies`` with random, often invalid, commands
(call-ups of teams with nobody left to call, answers from people never called or
dated before their call-up, arrivals before the acknowledgement, acknowledgements
after the arrival, an end dated before a fact, facts after the end and late records
before it, blank text, repeated command ids, corrections). A deliberately simple model
restates the rules (resilience.domain.emergency) and predicts, for every command,
whether it is accepted or which documented error class rejects it. After every step the
emergency read back from the store must equal the model, and so must its situation
folded from the ``cases`` document, now and as of any moment.
"""

import itertools
from datetime import datetime
from uuid import uuid4

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from resilience import (
    Emergency,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    Receipt,
    Role,
)
from stateful_support import (
    COMMAND_IDS,
    CORRECTIONS,
    MOMENTS,
    SETTINGS,
    WHENS,
    Errors,
    NotedMachine,
    blank,
    command,
    first_command,
    texts,
)
from test_emergencies import town

from conftest import OFFICE, T0

ROSTER = (("sq-1", Role.SQUAD_MEMBER), ("sq-2", Role.SQUAD_MEMBER),
          ("vol-1", Role.VOLUNTEER), ("vol-4", Role.VOLUNTEER))
"""Who a grid-3 call-up can call, in roster order (test_emergencies.town; sq-3 is grid 4's)."""
PEOPLE = st.sampled_from(("sq-1", "sq-2", "vol-1", "vol-4", "sq-3"))
TEAMS = st.sampled_from(((Role.SQUAD_MEMBER,), (Role.VOLUNTEER,),
                         (Role.SQUAD_MEMBER, Role.VOLUNTEER)))


class EmergencyMachine(NotedMachine[Emergency]):
    """One grid-3 emergency driven through the engine, shadowed by a model of plain values."""

    def __init__(self) -> None:
        super().__init__()
        self.emergency = self.aggregate_id = uuid4()
        self.service = self.run = self.engine.emergencies
        self.community = town(self.engine)
        self.called: dict[str, int] = {}  # person -> version of their call-up
        self.acknowledged: dict[str, int] = {}
        self.arrived: dict[str, int] = {}
        self.posts: dict[str, str] = {}
        self.ended: int | None = None

    def create(self, command_id: str | None) -> Receipt:
        """A flood of grid 3 declared at T0."""
        return self.run.declare(self.community, kind="flood", reason="river",
                                    area_id="3", actor=OFFICE, occurred_at=T0,
                                    emergency_id=self.emergency, command_id=command_id)

    # Rules of the model ----------------------------------------------------------

    def closure(self) -> int | None:
        return self.ended

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Nothing before the declaration; call-up <= acknowledgement <= arrival per member;
        the end no earlier than any fact but a correction."""
        if any(t < times[1] for t in times.values()):
            return False
        for person, call in self.called.items():
            chain = [v for v in (call, self.acknowledged.get(person), self.arrived.get(person))
                     if v is not None]
            if any(times[a] > times[b] for a, b in itertools.pairwise(chain)):
                return False
        if self.ended is not None:
            end = times[self.ended]
            facts = [v for v, kind in self.kinds.items() if kind not in CORRECTIONS]
            if any(times[v] > end for v in facts):
                return False
        return True

    def late_for(self, at: datetime) -> Errors:
        """A plain new fact dated ``at``: refused after the end, or before the declaration."""
        errors = self.closed_errors(at)
        if at < self.times[1]:
            errors.add(InvalidTransitionError)
        return errors

    # Setup -----------------------------------------------------------------------

    @first_command(command_id=COMMAND_IDS)
    def declare(self, command_id: str | None) -> None:
        self.attempt(command_id, set(), lambda: self.create(command_id), ["Declared"], T0)

    # Commands --------------------------------------------------------------------

    @command(teams=TEAMS, when=WHENS, command_id=COMMAND_IDS)
    def call_up(self, teams: tuple[Role, ...], when: datetime | None,
                command_id: str | None) -> None:
        """Calls everyone of the teams not called yet; refused if that is nobody."""
        at = self.at(when)
        members = [p for p, role in ROSTER if role in teams and p not in self.called]
        errors = self.late_for(at)
        if not members:
            errors.add(InvalidTransitionError)
        version = self.attempt(command_id, errors, lambda: self.run.call_up(
            self.emergency, teams, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["MobilisationCalled"], at)
        if version is not None:
            self.called.update(dict.fromkeys(members, version))

    @command(person=PEOPLE, when=WHENS, command_id=COMMAND_IDS)
    def acknowledge(self, person: str, when: datetime | None, command_id: str | None) -> None:
        """Only someone called, once, no earlier than the call-up, no later than their
        arrival."""
        at = self.at(when)
        errors = self.late_for(at)
        if (person not in self.called or person in self.acknowledged
                or at < self.times[self.called[person]]
                or (person in self.arrived and at > self.times[self.arrived[person]])):
            errors.add(InvalidTransitionError)
        version = self.attempt(command_id, errors, lambda: self.run.acknowledge(
            self.emergency, person, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["MemberAcknowledged"], at)
        if version is not None:
            self.acknowledged[person] = version

    @command(person=PEOPLE, post=texts("east levee"), when=WHENS, command_id=COMMAND_IDS)
    def arrive(self, person: str, post: str, when: datetime | None,
               command_id: str | None) -> None:
        """Only someone called, once, at a post, no earlier than the call-up nor than their
        acknowledgement."""
        at = self.at(when)
        errors = self.late_for(at)
        if blank(post):
            errors.add(InvalidInputError)
        if (person not in self.called or person in self.arrived
                or at < self.times[self.called[person]]
                or (person in self.acknowledged
                    and at < self.times[self.acknowledged[person]])):
            errors.add(InvalidTransitionError)
        version = self.attempt(command_id, errors, lambda: self.run.arrive(
            self.emergency, person, post, actor=OFFICE, occurred_at=when,
            command_id=command_id), ["MemberArrived"], at)
        if version is not None:
            self.arrived[person] = version
            self.posts[person] = post

    @command(reason=texts("return to normal order"), when=WHENS, command_id=COMMAND_IDS)
    def end(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """Once, dated no earlier than any fact but a correction."""
        at = self.at(when)
        errors: Errors = {InvalidInputError} if blank(reason) else set()
        latest = max(t for v, t in self.times.items() if self.kinds[v] not in CORRECTIONS)
        if self.ended is not None or at < latest:
            errors.add(InvalidTransitionError)
        version = self.attempt(command_id, errors, lambda: self.run.end(
            self.emergency, reason, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["Ended"], at)
        if version is not None:
            self.ended = version

    # What is read back ---------------------------------------------------------------

    @invariant()
    def the_aggregate_and_its_folded_situation_are_the_models(self) -> None:
        """Who was called, answered and arrived where, and the end, as the model says, in
        the aggregate and in the situation folded from its ``cases`` document."""
        if not self.times:
            return
        stored = self.stored()
        assert stored.called == self.called
        assert stored.posts == self.posts
        assert stored.acknowledged == self.acknowledged
        assert stored.arrived == self.arrived
        assert stored.ended == self.ended
        situation = self.run.situation(self.emergency)
        # In the order they were called (effective times; a call-up's in roster order).
        assert [m.person_id for m in situation.members] == sorted(
            self.called, key=lambda p: (self.times[self.called[p]], self.called[p]))
        for m in situation.members:
            assert m.called_at == self.times[self.called[m.person_id]]
            assert m.post == self.posts.get(m.person_id)
        assert situation.ended_at == (None if self.ended is None else self.times[self.ended])

    @rule(moment=MOMENTS)
    def as_of_any_moment(self, moment: datetime) -> None:
        """As of a moment: the facts that had happened by then, folded in order."""
        if moment < self.times[1]:
            try:
                self.run.situation(self.emergency, as_of=moment)
            except NotFoundError:
                return
            raise AssertionError("an emergency not yet declared was found")
        situation = self.run.situation(self.emergency, as_of=moment)

        def by(versions: dict[str, int]) -> set[str]:
            return {p for p, v in versions.items() if self.times[v] <= moment}

        members = {m.person_id: m for m in situation.members}
        assert members.keys() == by(self.called)
        assert {p for p, m in members.items() if m.acknowledged_at} == by(self.acknowledged)
        assert {p for p, m in members.items() if m.arrived_at} == by(self.arrived)
        ended = self.ended is not None and self.times[self.ended] <= moment
        assert (situation.ended_at is not None) == ended
        assert situation.in_force(moment) == (not ended)


class TestEmergencyMachine(EmergencyMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence leaves the emergency, its facts, its errors and its folded
    situation as the model says."""

    settings = SETTINGS
