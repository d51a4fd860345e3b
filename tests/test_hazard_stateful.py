"""Stateful property test: random hazard command sequences against a plain model.

Hypothesis drives ``engine.hazards`` with random, often invalid, commands (a step in a
status that does not allow it, a step dated before the last one, a due date at or before
the finding, the same assignment again, a verification by the person who rectified, blank
texts, notes on a finished hazard dated after its end, links to the same incident or item
twice, repeated command ids, corrections). A deliberately simple model restates the
hazard's life and predicts, for every command, whether it is accepted or which documented
error class rejects it; after every step the hazard read back from the store must equal
the model, and so must the other side of each link.
"""

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import strategies as st
from hypothesis.stateful import invariant

from resilience import (
    Actor,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    Receipt,
    Role,
)
from resilience.domain.hazard import Hazard
from stateful_support import (
    COMMAND_IDS,
    CORRECTIONS,
    FACTS,
    MOMENTS,
    SETTINGS,
    WHENS,
    Errors,
    Fact,
    NotedMachine,
    blank,
    command,
    first_command,
    texts,
)

from conftest import OFFICE, T0, donghu

TEXTS = texts("storage room cleared")
PEOPLE = st.sampled_from((Actor("wang", Role.GRID_WORKER), Actor("li", Role.GRID_LEADER)))
KINDS = st.sampled_from(("household", "household", "property_company", "provider", "landlord"))
ASSIGNEES = st.sampled_from(("30-1-402", "30-1-402", "wuye", "", " "))
DUES = MOMENTS | st.just((T0 + timedelta(hours=1)).replace(tzinfo=None))
FIRST_DUE = T0 + timedelta(minutes=60)
STEP_KINDS = frozenset({"Found", "Assigned", "Rectified", "Verified", "Closed", "Reopened"})
LINK_KINDS = frozenset({"LinkedToIncident", "LinkedToImprovement", "LinkedToOrder"})
STATUS_OF = {"Found": "open", "Assigned": "assigned", "Rectified": "rectified",
             "Verified": "verified", "Closed": "closed", "Reopened": "open"}
AWAITING_FIX = frozenset({"open", "assigned"})
FINISHED = frozenset({"verified", "closed"})
HERE = Location(grid="3", building="30", description="storage room")
DATED_FACTS = FACTS.filter(lambda fact: fact.kind in STEP_KINDS | LINK_KINDS)


class HazardMachine(NotedMachine[Hazard]):
    """One hazard driven through the engine, shadowed by a model of plain values."""

    def __init__(self) -> None:
        super().__init__()
        self.hazard = self.aggregate_id = uuid4()
        self.service = self.engine.hazards
        self.community = donghu(self.engine)
        # What a hazard may be linked to: two incidents and two improvement items of the
        # community, begun before anything the machine dates.
        before = T0 - timedelta(hours=1)
        self.incidents = [self.engine.incidents.detect(
            self.community, incident_type="fire", severity="high", location=HERE,
            description="smoke", actor=OFFICE, occurred_at=before).aggregate_id
            for _ in range(2)]
        self.items = [self.engine.improvements.plan(
            self.community, review=f"community/{self.community}/grid/3/all time",
            action="clear storage rooms", owner="zhang", due=T0 + timedelta(days=30),
            actor=OFFICE, grid="3", occurred_at=before).aggregate_id for _ in range(2)]
        self.status = "open"
        self.assignment: tuple[str, str, datetime | None] | None = None  # kind, assignee, due
        self.dues: dict[int, datetime] = {}  # version of each assignment -> its due
        self.rectified_by: str | None = None
        self.reopens = 0
        self.linked: dict[str, set[UUID]] = {"incident": set(), "improvement": set()}

    def create(self, command_id: str | None) -> Receipt:
        """Wang finds clutter in building 30's storage room at T0."""
        return self.engine.hazards.find(
            self.community, location=HERE, category="clutter", severity="high",
            description="bikes and boxes", actor=Actor("wang", Role.GRID_WORKER),
            occurred_at=T0, hazard_id=self.hazard, command_id=command_id)

    # Rules of the model ----------------------------------------------------------

    def steps(self) -> list[int]:
        return [v for v in sorted(self.kinds) if self.kinds[v] in STEP_KINDS]

    def closure(self) -> int | None:
        """A finished hazard stands closed by its last step (its verification or closure)."""
        return self.steps()[-1] if self.status in FINISHED else None

    def crosses_closure(self, times: dict[int, datetime]) -> bool:
        """As the shared rule, but a link follows the closure: it may be moved past it."""
        closure = self.closure()
        return closure is not None and any(
            self.times[v] <= self.times[closure] and times[v] > times[closure]
            for v in self.times if self.kinds[v] not in CORRECTIONS | LINK_KINDS)

    def expect(self, at: datetime, statuses: frozenset[str]) -> Errors:
        """Errors of a step allowed in ``statuses``, dated ``at``."""
        errors: Errors = set()
        if self.status not in statuses:
            errors.add(InvalidTransitionError)
        if at < self.times[self.steps()[-1]]:
            errors.add(InvalidTransitionError)
        return errors

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Nothing before the finding; every due after it; the steps in recording order."""
        found = times[1]
        if any(t < found for t in times.values()):
            return False
        if any(due <= found for due in self.dues.values()):
            return False
        ordered = [times[v] for v in self.steps()]
        return all(earlier <= later for earlier, later in itertools.pairwise(ordered))

    # Setup -----------------------------------------------------------------------

    @first_command(command_id=COMMAND_IDS, head_start=st.integers(0, 4))
    def find(self, command_id: str | None, head_start: int) -> None:
        """The hazard is found (``create``); a few smooth steps follow."""
        self.attempt(command_id, set(), lambda: self.create(command_id), ["Found"], T0)
        for _ in range(head_start):
            self.progress(None)

    # Commands --------------------------------------------------------------------

    def _step(self, command_id: str | None, errors: Errors, call: Callable[[], Receipt],
              kind: str, at: datetime) -> int | None:
        version = self.attempt(command_id, errors, call, [kind], at)
        if version is not None:
            self.status = STATUS_OF[kind]
        return version

    @command(kind=KINDS, assignee=ASSIGNEES, due=DUES, when=WHENS, command_id=COMMAND_IDS)
    def assign(self, kind: str, assignee: str, due: datetime, when: datetime | None,
               command_id: str | None) -> None:
        """An open or assigned hazard is assigned, due after it was found; the standing
        assignment again is refused."""
        at = self.at(when)
        errors = self.expect(at, AWAITING_FIX)
        if kind == "landlord" or blank(assignee) or due.tzinfo is None or due <= self.times[1]:
            errors.add(InvalidInputError)
        elif self.status == "assigned" and self.assignment == (kind, assignee, due):
            errors.add(InvalidTransitionError)
        version = self._step(command_id, errors, lambda: self.engine.hazards.assign(
            self.hazard, assignee_kind=kind, assignee=assignee, due=due, actor=OFFICE,
            occurred_at=when, command_id=command_id), "Assigned", at)
        if version is not None:
            self.assignment, self.dues[version] = (kind, assignee, due), due

    @command(note=TEXTS, actor=PEOPLE, when=WHENS, command_id=COMMAND_IDS)
    def rectify(self, note: str, actor: Actor, when: datetime | None,
                command_id: str | None) -> None:
        """An open or assigned hazard is rectified (a note is optional)."""
        at = self.at(when)
        if self._step(command_id, self.expect(at, AWAITING_FIX),
                      lambda: self.engine.hazards.rectify(
                          self.hazard, note, actor=actor, occurred_at=when,
                          command_id=command_id), "Rectified", at) is not None:
            self.rectified_by = actor.person_id

    @command(note=TEXTS, actor=PEOPLE, when=WHENS, command_id=COMMAND_IDS)
    def verify(self, note: str, actor: Actor, when: datetime | None,
               command_id: str | None) -> None:
        """Only a rectified hazard is verified, and not by the person who rectified it."""
        at = self.at(when)
        errors = self.expect(at, frozenset({"rectified"}))
        if self.status == "rectified" and actor.person_id == self.rectified_by:
            errors.add(InvalidTransitionError)
        self._step(command_id, errors, lambda: self.engine.hazards.verify(
            self.hazard, note, actor=actor, occurred_at=when, command_id=command_id),
            "Verified", at)

    @command(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def close(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """An unfinished hazard is closed without verification, with a reason."""
        at = self.at(when)
        errors = self.expect(at, AWAITING_FIX | {"rectified"})
        if blank(reason):
            errors.add(InvalidInputError)
        self._step(command_id, errors, lambda: self.engine.hazards.close(
            self.hazard, reason, actor=OFFICE, occurred_at=when, command_id=command_id),
            "Closed", at)

    @command(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def reopen(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """A rectified or finished hazard is reopened, with a reason; its assignee stays,
        its due date goes."""
        at = self.at(when)
        errors = self.expect(at, FINISHED | {"rectified"})
        if blank(reason):
            errors.add(InvalidInputError)
        if self._step(command_id, errors, lambda: self.engine.hazards.reopen(
                self.hazard, reason, actor=OFFICE, occurred_at=when, command_id=command_id),
                "Reopened", at) is not None:
            self.rectified_by = None
            self.reopens += 1
            if self.assignment is not None:  # the due date was the last cycle's
                self.assignment = (self.assignment[0], self.assignment[1], None)

    @command(which=st.integers(0, 1), incident=st.booleans(), when=WHENS,
             command_id=COMMAND_IDS)
    def link(self, which: int, incident: bool, when: datetime | None,
             command_id: str | None) -> None:
        """An incident or an improvement item is linked, each once, in any status, not
        before the finding."""
        at = self.at(when)
        kind = "incident" if incident else "improvement"
        other = (self.incidents if incident else self.items)[which]
        errors: Errors = set()
        if at < self.times[1]:
            errors.add(InvalidTransitionError)
        if other in self.linked[kind]:
            errors.add(InvalidTransitionError)
        call = (self.engine.hazards.link_incident if incident
                else self.engine.hazards.link_improvement)
        if self.attempt(command_id, errors, lambda: call(
                self.hazard, other, actor=OFFICE, occurred_at=when, command_id=command_id),
                ["LinkedToIncident" if incident else "LinkedToImprovement"], at) is not None:
            self.linked[kind].add(other)

    @command(fact=DATED_FACTS, anchor=DATED_FACTS, to_due=st.booleans(),
             steps=st.integers(-1, 1), when=WHENS, command_id=COMMAND_IDS)
    def correct_a_dated_fact(self, fact: Fact, anchor: Fact, to_due: bool, steps: int,
                             when: datetime | None, command_id: str | None) -> None:
        """Move a step or a link (one already moved is likelier) to just before, at or
        after another one, or the standing due date: where the rules bite (a finding
        after a due date, a step before the one it follows, a fact past the closure) and
        random moments rarely land."""
        due = self.assignment[2] if self.assignment is not None and to_due else None
        near = (due or self.times[anchor.version]) + timedelta(minutes=5 * steps)
        self.correct_time_of(fact.version, near, "log checked", when, command_id)

    @command(command_id=COMMAND_IDS)
    def progress(self, command_id: str | None) -> None:
        """The next step of a smooth life, now (keeps long runs reaching reopenings)."""
        if self.status == "open":
            self.assign("household", "30-1-402", FIRST_DUE + timedelta(minutes=5 * self.reopens),
                        None, command_id)
        elif self.status == "assigned":
            self.rectify("cleared", Actor("wang", Role.GRID_WORKER), None, command_id)
        elif self.status == "rectified":
            self.verify("", Actor("li", Role.GRID_LEADER), None, command_id)
        else:
            self.reopen("clutter is back", None, command_id)

    # Invariants ------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        """The stored hazard's state equals the model's, and so do the other sides of its
        links."""
        hazard = self.stored()
        assert hazard.status.value == self.status
        assert hazard.found_at == self.times[1]
        standing = None if hazard.assignee_kind is None else (
            hazard.assignee_kind.value, hazard.assignee, hazard.due)
        assert standing == self.assignment
        assert (hazard.rectified_by, hazard.reopen_count) == (self.rectified_by, self.reopens)
        assert (hazard.incidents, hazard.items) == (self.linked["incident"],
                                                   self.linked["improvement"])
        assert hazard.is_finished == (self.status in FINISHED)
        late = T0 + timedelta(days=1)
        due = None if self.assignment is None else self.assignment[2]
        assert hazard.is_overdue(late) == (self.status in AWAITING_FIX and due is not None
                                           and due < late)
        for incident in self.incidents:
            assert self.engine.incidents.get(incident).hazard_id == (
                self.hazard if incident in self.linked["incident"] else None)
        for item in self.items:
            assert self.engine.improvements.get(item).hazard_id == (
                self.hazard if item in self.linked["improvement"] else None)


class TestHazardMachine(HazardMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence leaves the hazard, its facts, its errors and its links as the
    model says."""

    settings = SETTINGS
