"""Stateful property test: random improvement-item command sequences against a plain model.

Hypothesis drives ``engine.improvements`` with random, often invalid,
commands (wrong status, times before the planning or before the lifecycle
fact or due date they follow, blank text, the current owner or due date
again, a finished item given anything but a reopen, repeated command ids,
corrections). A deliberately simple model restates the item's life and
predicts, for every command, whether it is accepted or which documented
error class rejects it. After every step the item read back from the store,
and from the ``plans`` view, must equal the model.
"""

import itertools
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from resilience import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidTransitionError,
    Receipt,
)
from stateful_support import (
    COMMAND_IDS,
    MOMENTS,
    SETTINGS,
    VERSIONS,
    WHENS,
    Errors,
    FactMachine,
    blank,
)

from conftest import OFFICE, T0

TEXTS = st.sampled_from(("storage rooms cleared",) * 3 + ("ok",) * 3 + ("", "   "))
OWNERS = st.sampled_from(("zhang", "zhang", "sun", "li", "", " "))
DUES = MOMENTS | st.just((T0 + timedelta(hours=1)).replace(tzinfo=None))
FIRST_DUE = T0 + timedelta(minutes=60)
STEP_KINDS = frozenset({"Planned", "Started", "Completed", "Cancelled", "Reopened"})
DUE_KINDS = frozenset({"Planned", "Rescheduled"})
OWNER_KINDS = frozenset({"Planned", "OwnerAssigned"})
UNFINISHED = frozenset({"open", "in_progress"})
FINISHED = frozenset({"done", "cancelled"})


class ImprovementMachine(FactMachine):
    """One improvement item driven through the engine, shadowed by a model of plain values."""

    def __init__(self) -> None:
        super().__init__()
        self.community: UUID = uuid4()
        self.item = self.aggregate_id = uuid4()
        self.status = "open"
        self.owner = "zhang"
        self.dues: dict[int, datetime] = {}  # version -> due date it set
        self.completed: int | None = None  # version of the completion in force
        self.cancel_reason: str | None = None
        self.reopens = 0

    def naive_command(self, command_id: str | None) -> Receipt:
        """A note dated at a naive time (the shared ``naive_time`` rule expects a refusal)."""
        return self.engine.improvements.add_note(
            self.item, "note", actor=OFFICE, occurred_at=T0.replace(tzinfo=None),
            command_id=command_id)

    # Rules of the model ----------------------------------------------------------

    @property
    def due(self) -> datetime:
        return self.dues[max(self.dues)]

    def versions_of(self, kinds: frozenset[str]) -> list[int]:
        return [v for v in sorted(self.kinds) if self.kinds[v] in kinds]

    def writable(self, errors: Errors) -> Errors:
        """A finished item accepts nothing but a reopen."""
        if self.status in FINISHED:
            errors.add(InvalidTransitionError)
        return errors

    def after_planning(self, at: datetime, errors: Errors) -> Errors:
        if at < self.times[1]:
            errors.add(InvalidTransitionError)
        return errors

    def expect(self, at: datetime, statuses: frozenset[str]) -> Errors:
        """Errors of a lifecycle command allowed in ``statuses``, dated ``at``."""
        errors: Errors = set()
        if self.status not in statuses:
            errors.add(InvalidTransitionError)
        if at < self.times[self.versions_of(STEP_KINDS)[-1]]:
            errors.add(InvalidTransitionError)
        return errors

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Nothing before the planning; every due after it; lifecycle facts, due-date facts
        and owner facts each in order."""
        planned = times[1]
        if any(t < planned for t in times.values()):
            return False
        if any(due <= planned for due in self.dues.values()):
            return False
        for kinds in (STEP_KINDS, DUE_KINDS, OWNER_KINDS):
            ordered = [times[v] for v in self.versions_of(kinds)]
            if any(later < earlier for earlier, later in itertools.pairwise(ordered)):
                return False
        return True

    # Setup -----------------------------------------------------------------------

    @initialize(command_id=COMMAND_IDS, head_start=st.integers(0, 5))
    def plan(self, command_id: str | None, head_start: int) -> None:
        """Grid 3's review plans an item at T0, owned by zhang, due an hour later."""
        communities = self.engine.communities
        self.community = communities.register(
            district="Taishan", subdistrict="Daimiao", name="Donghu", actor=OFFICE,
            occurred_at=T0 - timedelta(days=1)).aggregate_id
        communities.add_grid(self.community, "3", actor=OFFICE)
        receipt = self.plan_call(command_id)
        assert receipt == Receipt(self.item, 1, 1)
        self.times, self.kinds, self.dues = {1: T0}, {1: "Planned"}, {1: FIRST_DUE}
        if command_id is not None:
            self.commands[command_id] = (1, 1)
        for _ in range(head_start):
            self.progress(None)

    def plan_call(self, command_id: str | None) -> Receipt:
        return self.engine.improvements.plan(
            self.community, review=f"community/{self.community}/grid/3/all time",
            action="Clear the storage rooms", owner="zhang", due=FIRST_DUE, actor=OFFICE,
            grid="3", occurred_at=T0,
            item_id=self.item, command_id=command_id)

    # Commands --------------------------------------------------------------------

    @rule(command_id=COMMAND_IDS)
    def plan_again(self, command_id: str | None) -> None:
        """Planning the same item id again is refused, unless it repeats a known command id."""
        self.attempt(command_id, {AlreadyExistsError}, lambda: self.plan_call(command_id),
                     ["Planned"], T0)

    @rule(when=WHENS, command_id=COMMAND_IDS)
    def start(self, when: datetime | None, command_id: str | None) -> None:
        """Only an open item is started, not before the last lifecycle fact."""
        at = self.at(when)
        if self.attempt(command_id, self.expect(at, frozenset({"open"})),
                        lambda: self.engine.improvements.start(
                            self.item, actor=OFFICE, occurred_at=when, command_id=command_id),
                        ["Started"], at) is not None:
            self.status = "in_progress"

    @rule(note=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def complete(self, note: str, when: datetime | None, command_id: str | None) -> None:
        """An open or started item is completed (a note is optional)."""
        at = self.at(when)
        version = self.attempt(command_id, self.expect(at, UNFINISHED),
                               lambda: self.engine.improvements.complete(
                                   self.item, note, actor=OFFICE, occurred_at=when,
                                   command_id=command_id), ["Completed"], at)
        if version is not None:
            self.status, self.completed = "done", version

    @rule(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def cancel(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """An open or started item is cancelled, with a reason."""
        at = self.at(when)
        errors = self.expect(at, UNFINISHED)
        if blank(reason):
            errors.add(InvalidInputError)
        if self.attempt(command_id, errors, lambda: self.engine.improvements.cancel(
                self.item, reason, actor=OFFICE, occurred_at=when, command_id=command_id),
                ["Cancelled"], at) is not None:
            self.status, self.cancel_reason = "cancelled", reason.strip()

    @rule(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def reopen(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """Only a done or cancelled item is reopened, with a reason."""
        at = self.at(when)
        errors = self.expect(at, FINISHED)
        if blank(reason):
            errors.add(InvalidInputError)
        if self.attempt(command_id, errors, lambda: self.engine.improvements.reopen(
                self.item, reason, actor=OFFICE, occurred_at=when, command_id=command_id),
                ["Reopened"], at) is not None:
            self.status, self.completed, self.cancel_reason = "open", None, None
            self.reopens += 1

    @rule(owner=OWNERS, when=WHENS, command_id=COMMAND_IDS)
    def assign(self, owner: str, when: datetime | None, command_id: str | None) -> None:
        """An unfinished item is handed to someone who is not its owner, not dated before
        the previous owner was given it."""
        at = self.at(when)
        errors = self.after_planning(at, self.writable(set()))
        if blank(owner):
            errors.add(InvalidInputError)
        elif owner == self.owner:
            errors.add(InvalidTransitionError)
        if at < self.times[self.versions_of(OWNER_KINDS)[-1]]:
            errors.add(InvalidTransitionError)
        if self.attempt(command_id, errors, lambda: self.engine.improvements.assign(
                self.item, owner, actor=OFFICE, occurred_at=when, command_id=command_id),
                ["OwnerAssigned"], at) is not None:
            self.owner = owner

    @rule(due=DUES, reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def reschedule(self, due: datetime, reason: str, when: datetime | None,
                   command_id: str | None) -> None:
        """An unfinished item gets another due date after its planning, not dated before the
        previous due date was set; the same instant again is refused."""
        at = self.at(when)
        errors = self.after_planning(at, self.writable(set()))
        if due.tzinfo is None or blank(reason) or due <= self.times[1]:
            errors.add(InvalidInputError)
        elif due == self.due:
            errors.add(InvalidTransitionError)
        if at < self.times[self.versions_of(DUE_KINDS)[-1]]:
            errors.add(InvalidTransitionError)
        version = self.attempt(command_id, errors, lambda: self.engine.improvements.reschedule(
            self.item, due, reason, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["Rescheduled"], at)
        if version is not None:
            self.dues[version] = due

    @rule(text=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def add_note(self, text: str, when: datetime | None, command_id: str | None) -> None:
        """A non-empty note on an unfinished item, not before its planning."""
        at = self.at(when)
        errors = self.after_planning(at, self.writable(set()))
        if blank(text):
            errors.add(InvalidInputError)
        self.attempt(command_id, errors, lambda: self.engine.improvements.add_note(
            self.item, text, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["NoteAdded"], at)

    @rule(raw_version=VERSIONS, corrected_to=MOMENTS | st.just(T0.replace(tzinfo=None)),
          reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def correct_time(self, raw_version: int, corrected_to: datetime, reason: str,
                     when: datetime | None, command_id: str | None) -> None:
        """Correct a fact's time on an unfinished item, only if every invariant still holds."""
        version = raw_version % (len(self.times) + 2)
        at = self.at(when)
        errors = self.time_correction_errors(version, corrected_to, reason, at,
                                             self.writable(set()))
        if self.attempt(command_id, errors, lambda: self.engine.improvements.correct_time(
                self.item, version, corrected_to, reason, actor=OFFICE, occurred_at=when,
                command_id=command_id), ["TimeCorrected"], at) is not None:
            self.times[version] = corrected_to

    @rule(raw_version=VERSIONS, details=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def correct_details(self, raw_version: int, details: str, when: datetime | None,
                        command_id: str | None) -> None:
        """Correct a fact's details on an unfinished item; like any fact, not before planning."""
        version = raw_version % (len(self.times) + 2)
        at = self.at(when)
        errors = self.after_planning(at, self.writable(set()))
        if blank(details):
            errors.add(InvalidInputError)
        self.correctable(version, errors)
        self.attempt(command_id, errors, lambda: self.engine.improvements.correct_details(
            self.item, version, details, "typo", actor=OFFICE, occurred_at=when,
            command_id=command_id), ["DetailsCorrected"], at)

    @rule(command_id=COMMAND_IDS)
    def progress(self, command_id: str | None) -> None:
        """The next step of a smooth life, now (keeps long runs reaching reopens)."""
        if self.status == "open":
            self.start(None, command_id)
        elif self.status == "in_progress":
            self.complete("cleared", None, command_id)
        else:
            self.reopen("not really done", None, command_id)

    # Invariants ------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        """Stored facts, their effective times, state and command ids equal the model's."""
        item = self.stored(self.engine.improvements.get)
        assert item.status.value == self.status
        assert (item.owner, item.due, item.planned_at) == (self.owner, self.due, self.times[1])
        completed = self.times[self.completed] if self.completed is not None else None
        assert item.completed_at == completed
        assert (item.cancel_reason, item.reopen_count) == (self.cancel_reason, self.reopens)
        late = FIRST_DUE + timedelta(minutes=30)
        assert item.is_overdue(late) == (self.status in UNFINISHED and late > self.due)
        self.check_commands(item)

    @invariant()
    def plans_view_matches_model(self) -> None:
        """The plans view shows the item as the model has it, now and as of a late moment."""
        listed = self.engine.improvements.item(self.item)
        assert (listed.status.value, listed.owner, listed.due) == (
            self.status, self.owner, self.due)
        completed = self.times[self.completed] if self.completed is not None else None
        assert (listed.planned_at, listed.completed_at) == (self.times[1], completed)
        later = self.engine.improvements.item(self.item, at=T0 + timedelta(days=1))
        assert (later.status, later.owner, later.due, later.completed_at) == (
            listed.status, listed.owner, listed.due, listed.completed_at)
        assert later.overdue == (self.status in UNFINISHED)  # a day on, every due has passed


class TestImprovementMachine(ImprovementMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence leaves the item, its facts, its errors and its plans document as
    the model says."""

    settings = SETTINGS
