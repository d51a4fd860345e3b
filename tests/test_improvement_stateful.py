"""Stateful property test: random improvement-item command sequences against a plain model.

Hypothesis drives ``engine.improvements`` with random, often invalid,
commands (wrong status, times before the planning or before the lifecycle
fact or due date they follow, blank text, the current owner or due date
again, a finished item given amendments dated before its closure and facts
dated after it, repeated command ids, corrections). A deliberately simple
model restates the item's life and predicts, for every command, whether it
is accepted or which documented error class rejects it. After every step
the item read back from the store, and from the ``plans`` view, must equal
the model. The model also keeps each fact's original time, when it was
recorded and each time correction with when that was recorded, so the view
is also asked for the item at cuts (``at``, ``known_at``) around those times
(after every step around the newest fact and each correction, and at random
ones by a rule) and must give the item the model works out for that cut, or
none.
"""

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from resilience import (
    ImprovementItem,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PlanItem,
    Receipt,
)
from stateful_support import (
    COMMAND_IDS,
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

TEXTS = texts("storage rooms cleared")
OWNERS = st.sampled_from(("zhang", "zhang", "sun", "li", "", " "))
DUES = MOMENTS | st.just((T0 + timedelta(hours=1)).replace(tzinfo=None))
FIRST_DUE = T0 + timedelta(minutes=60)
STEP_KINDS = frozenset({"Planned", "Started", "Completed", "Cancelled", "Reopened"})
DUE_KINDS = frozenset({"Planned", "Rescheduled"})
OWNER_KINDS = frozenset({"Planned", "OwnerAssigned"})
UNFINISHED = frozenset({"open", "in_progress"})
FINISHED = frozenset({"done", "cancelled"})
STATUS_OF = {"Planned": "open", "Started": "in_progress", "Completed": "done",
             "Cancelled": "cancelled", "Reopened": "open"}
DATED_FACTS = FACTS.filter(lambda fact: fact.kind in STEP_KINDS | DUE_KINDS | OWNER_KINDS)
SECOND = timedelta(seconds=1)
# As of a cut: status, owner, due, planned_at, completed_at, overdue.
AsOf = tuple[str, str, datetime, datetime, datetime | None, bool]


class ImprovementMachine(NotedMachine[ImprovementItem]):
    """One improvement item driven through the engine, shadowed by a model of plain values."""

    def __init__(self) -> None:
        super().__init__()
        self.item = self.aggregate_id = uuid4()
        self.service = self.engine.improvements
        self.community = donghu(self.engine, building=None)
        self.status = "open"
        self.owner = "zhang"
        self.dues: dict[int, datetime] = {}  # version -> due date it set
        self.completed: int | None = None  # version of the completion in force
        self.cancel_reason: str | None = None
        self.reopens = 0
        self.owners: dict[int, str] = {}  # version -> owner it gave
        # For cuts: each fact's original time and when it was recorded, and each time
        # correction (version, corrected to, recorded) in recording order.
        self.occurred: dict[int, datetime] = {}
        self.recorded: dict[int, datetime] = {}
        self.corrections: list[tuple[int, datetime, datetime]] = []

    def create(self, command_id: str | None) -> Receipt:
        """Grid 3's review plans an item at T0, owned by zhang, due an hour later."""
        return self.engine.improvements.plan(
            self.community, review=f"community/{self.community}/grid/3/all time",
            action="Clear the storage rooms", owner="zhang", due=FIRST_DUE, actor=OFFICE,
            grid="3", occurred_at=T0, item_id=self.item, command_id=command_id)

    def attempt(self, command_id: str | None, errors: Errors, call: Callable[[], Receipt],
                kinds: list[str], at: datetime) -> int | None:
        """The shared command loop, also noting each new fact's original and recorded time."""
        recorded, count = self.clock(), len(self.times)
        version = super().attempt(command_id, errors, call, kinds, at)
        for new in range(count + 1, len(self.times) + 1):
            self.occurred[new], self.recorded[new] = self.times[new], recorded
        return version

    # Rules of the model ----------------------------------------------------------

    @property
    def due(self) -> datetime:
        return self.dues[max(self.dues)]

    def versions_of(self, kinds: frozenset[str]) -> list[int]:
        return [v for v in sorted(self.kinds) if self.kinds[v] in kinds]

    def closure(self) -> int | None:
        """A finished item stands closed by its last lifecycle fact (its completion or
        cancellation): it accepts amendments dated at or before it, nothing later but a
        reopen."""
        return self.versions_of(STEP_KINDS)[-1] if self.status in FINISHED else None

    def amendable(self, at: datetime) -> Errors:
        """Errors of a fact that is no lifecycle step dated ``at``: after a finished item's
        closure, or before the planning."""
        errors = self.closed_errors(at)
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

    def as_of(self, at: datetime | None, known_at: datetime | None) -> AsOf | None:
        """The item as it stood at ``at`` from the facts and corrections recorded by
        ``known_at`` (None: no limit), overdue against ``at``, else ``known_at``, else now;
        None if its planning had not happened, or had not been recorded, by then."""
        times = dict(self.occurred)
        for version, corrected_to, recorded in self.corrections:  # a later one wins
            if known_at is None or recorded <= known_at:
                times[version] = corrected_to
        facts = [v for v in self.kinds if (known_at is None or self.recorded[v] <= known_at)
                 and (at is None or times[v] <= at)]
        if 1 not in facts:
            return None

        def last(kinds: frozenset[str]) -> int:
            """The fact of ``kinds`` in force: the latest, ties to the last recorded."""
            return max((times[v], v) for v in facts if self.kinds[v] in kinds)[1]

        step, due = last(STEP_KINDS), self.dues[last(DUE_KINDS)]
        status = STATUS_OF[self.kinds[step]]
        moment = at or known_at or self.clock()
        return (status, self.owners[last(OWNER_KINDS)], due, times[1],
                times[step] if status == "done" else None,
                status in UNFINISHED and moment > due)

    def cut_moments(self) -> list[datetime]:
        """Every time the model holds (occurred, corrected to, recorded, due), and a second
        either side of each."""
        times = {*self.occurred.values(), *self.recorded.values(), *self.dues.values(),
                 *(corrected_to for _, corrected_to, _ in self.corrections)}
        return sorted({t + d for t in times for d in (-SECOND, timedelta(0), SECOND)})

    # Setup -----------------------------------------------------------------------

    @first_command(command_id=COMMAND_IDS, head_start=st.integers(0, 5))
    def plan(self, command_id: str | None, head_start: int) -> None:
        """The item is planned (``create``); a few smooth steps follow."""
        self.attempt(command_id, set(), lambda: self.create(command_id), ["Planned"], T0)
        self.dues, self.owners = {1: FIRST_DUE}, {1: "zhang"}
        for _ in range(head_start):
            self.progress(None)

    # Commands --------------------------------------------------------------------

    @command(when=WHENS, command_id=COMMAND_IDS)
    def start(self, when: datetime | None, command_id: str | None) -> None:
        """Only an open item is started, not before the last lifecycle fact."""
        at = self.at(when)
        if self.attempt(command_id, self.expect(at, frozenset({"open"})),
                        lambda: self.engine.improvements.start(
                            self.item, actor=OFFICE, occurred_at=when, command_id=command_id),
                        ["Started"], at) is not None:
            self.status = "in_progress"

    @command(note=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def complete(self, note: str, when: datetime | None, command_id: str | None) -> None:
        """An open or started item is completed (a note is optional)."""
        at = self.at(when)
        version = self.attempt(command_id, self.expect(at, UNFINISHED),
                               lambda: self.engine.improvements.complete(
                                   self.item, note, actor=OFFICE, occurred_at=when,
                                   command_id=command_id), ["Completed"], at)
        if version is not None:
            self.status, self.completed = "done", version

    @command(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
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

    @command(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
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

    @command(owner=OWNERS, when=WHENS, command_id=COMMAND_IDS)
    def assign(self, owner: str, when: datetime | None, command_id: str | None) -> None:
        """The item is handed to someone who is not its owner, not dated before the previous
        owner was given it (a finished item: a late record dated at or before its closure)."""
        at = self.at(when)
        errors = self.amendable(at)
        if blank(owner):
            errors.add(InvalidInputError)
        elif owner == self.owner:
            errors.add(InvalidTransitionError)
        if at < self.times[self.versions_of(OWNER_KINDS)[-1]]:
            errors.add(InvalidTransitionError)
        version = self.attempt(command_id, errors, lambda: self.engine.improvements.assign(
            self.item, owner, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["OwnerAssigned"], at)
        if version is not None:
            self.owner, self.owners[version] = owner, owner

    @command(due=DUES, reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def reschedule(self, due: datetime, reason: str, when: datetime | None,
                   command_id: str | None) -> None:
        """The item gets another due date after its planning, not dated before the previous
        due date was set (a finished item: a late record dated at or before its closure);
        the same instant again is refused."""
        at = self.at(when)
        errors = self.amendable(at)
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

    def correct_time_of(self, version: int, corrected_to: datetime, reason: str,
                        when: datetime | None, command_id: str | None) -> int | None:
        """The shared time correction, also noting it (with when it was recorded) for cuts."""
        new = super().correct_time_of(version, corrected_to, reason, when, command_id)
        if new is not None:
            self.corrections.append((version, corrected_to, self.recorded[new]))
        return new

    @command(fact=DATED_FACTS, anchor=DATED_FACTS, steps=st.integers(-1, 1), when=WHENS,
             command_id=COMMAND_IDS)
    def correct_a_dated_fact(self, fact: Fact, anchor: Fact, steps: int,
                             when: datetime | None, command_id: str | None) -> None:
        """Move a lifecycle, due-date or owner fact (one already moved is likelier: see
        ``facts_since``) to just before, at or after another such fact: random facts and
        moments rarely give the view corrections, or corrections of corrected times, to
        undo at a cut."""
        near = self.times[anchor.version] + timedelta(minutes=5 * steps)
        self.correct_time_of(fact.version, near, "log checked", when, command_id)

    @command(command_id=COMMAND_IDS)
    def progress(self, command_id: str | None) -> None:
        """The next step of a smooth life, now (keeps long runs reaching reopens)."""
        if self.status == "open":
            self.start(None, command_id)
        elif self.status == "in_progress":
            self.complete("cleared", None, command_id)
        else:
            self.reopen("not really done", None, command_id)

    @rule(data=st.data())
    def view_at_cut(self, data: st.DataObject) -> None:
        """At cuts around the facts' own times (or None), ``item`` and ``items`` give the
        model's item as of ``at`` as recorded by ``known_at``, or none."""
        moment = st.none() | st.sampled_from(self.cut_moments())
        for at, known_at in data.draw(st.lists(st.tuples(moment, moment), min_size=1,
                                               max_size=4), label="cuts"):
            found = self.check_cut(at, known_at)
            listed = self.engine.improvements.items(self.community, at=at, known_at=known_at)
            assert listed == ([] if found is None else [found])

    def check_cut(self, at: datetime | None, known_at: datetime | None) -> PlanItem | None:
        """``item`` at this cut is the model's item; None when the model has none (and the
        view says NotFoundError)."""
        expected = self.as_of(at, known_at)
        if expected is None:
            with pytest.raises(NotFoundError):
                self.engine.improvements.item(self.item, at=at, known_at=known_at)
            return None
        found = self.engine.improvements.item(self.item, at=at, known_at=known_at)
        assert (found.status.value, found.owner, found.due, found.planned_at,
                found.completed_at, found.overdue) == expected, (at, known_at)
        return found

    # Invariants ------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        """The stored item's state equals the model's."""
        item = self.stored()
        assert item.status.value == self.status
        assert (item.owner, item.due, item.planned_at) == (self.owner, self.due, self.times[1])
        completed = self.times[self.completed] if self.completed is not None else None
        assert item.completed_at == completed
        assert (item.cancel_reason, item.reopen_count) == (self.cancel_reason, self.reopens)
        late = FIRST_DUE + timedelta(minutes=30)
        assert item.is_overdue(late) == (self.status in UNFINISHED and late > self.due)

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

    @invariant()
    def view_around_newest_fact(self) -> None:
        """Around the newest fact's time and its recording, the view is the model's item: the
        fact counts once it has happened and been recorded, and wins ties with the facts
        recorded before it; a time correction moves its fact, from each time it ever had,
        only once recorded."""
        newest = max(self.kinds)
        happened, recorded = self.times[newest], self.recorded[newest]
        cuts = [(happened - SECOND, None), (happened, None), (happened, recorded - SECOND),
                (None, recorded)]
        if self.kinds[newest] == "TimeCorrected":  # the model's last correction
            version = self.corrections[-1][0]
            had = [self.occurred[version], *(to for v, to, _ in self.corrections if v == version)]
            cuts += [(at, known_at) for at in had for known_at in (recorded - SECOND, recorded)]
        for at, known_at in cuts:
            self.check_cut(at, known_at)

class TestImprovementMachine(ImprovementMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence leaves the item, its facts, its errors and its plans document as
    the model says."""

    settings = SETTINGS
