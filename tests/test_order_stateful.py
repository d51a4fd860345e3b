"""Stateful property test: random service-order command sequences against a plain model.

Hypothesis drives ``engine.orders`` with random, often invalid, commands
(wrong status, times before placement or before the dispatch/start/completion
they follow, ratings out of range, twice or by someone other than the placing
resident, a "resolved?" answer that is neither yes, no nor unsaid, repeated
command ids, time corrections, and notes and corrections once the order is
completed, cancelled or rejected: amendments, which an order always accepts).
A deliberately simple model restates the order's life cycle and predicts, for
every command, whether it is accepted or which documented error class rejects
it. After every step the order read back from the store must equal the model.
"""

import itertools
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant

from resilience import (
    Actor,
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    Provider,
    ProviderKind,
    Receipt,
    Role,
    ServiceOrder,
    UnitSpec,
)
from stateful_support import (
    COMMAND_IDS,
    SETTINGS,
    WHENS,
    Errors,
    NotedMachine,
    blank,
    command,
    first_command,
    texts,
)

from conftest import OFFICE, T0, donghu

PLACER = Actor("resident-liu", Role.RESIDENT)
NEIGHBOUR = Actor("resident-sun", Role.RESIDENT)
PROVIDERS = (
    Provider(ProviderKind.ALLIANCE_MEMBER, "plumber-1", "Taishan Plumbing"),
    Provider(ProviderKind.GRID_WORKER, "grid-worker-2"),
)

TEXTS = texts("no water in the kitchen")

STEP_KINDS = frozenset({"Placed", "Accepted", "Rejected", "Dispatched", "Started", "Completed",
                        "Rated", "Reopened", "Cancelled"})


def kitchen(engine: Engine) -> UUID:
    """Donghu with grid g1 and building b1, whose unit 1 the placing resident lives in."""
    return donghu(engine, "g1", "b1", [UnitSpec("1", 12)])


class OrderMachine(NotedMachine[ServiceOrder]):
    """One service order driven through the engine, shadowed by a model of plain values."""

    def __init__(self) -> None:
        super().__init__()
        self.order = self.aggregate_id = uuid4()
        self.service = self.engine.orders
        self.community = kitchen(self.engine)
        self.status = "placed"
        self.provider: Provider | None = None
        self.dispatched: int | None = None  # versions of the current dispatch/start/completion
        self.started: int | None = None
        self.completed: int | None = None
        self.outcome: str | None = None
        self.rating: int | None = None  # of the current completion
        self.rated: int | None = None  # version of that rating
        self.resolved: bool | None = None  # what the resident said with it
        self.ratings: list[int] = []
        self.reopens = 0

    def create(self, command_id: str | None) -> Receipt:
        """A resident of unit b1/1 orders a household repair at T0."""
        return self.engine.orders.place(
            self.community, household_id="b1-1-101", area_id="b1/1", category="home",
            item="repair", actor=PLACER, occurred_at=T0, order_id=self.order,
            command_id=command_id)

    # Rules of the model ----------------------------------------------------------

    def expect(self, at: datetime, statuses: set[str], after: tuple[int | None, ...] = ()
               ) -> Errors:
        """Errors for a command allowed in ``statuses`` that can't precede the facts ``after``."""
        errors: Errors = set()
        if self.status not in statuses:
            errors.add(InvalidTransitionError)
        if at < self.times[1]:
            errors.add(InvalidTransitionError)
        if any(at < self.times[v] for v in after if v is not None):
            errors.add(InvalidTransitionError)
        if at < self.times[self.steps()[-1]]:
            errors.add(InvalidTransitionError)
        return errors

    def steps(self) -> list[int]:
        """Versions of the facts that move the order along (each not dated before the last)."""
        return [v for v in sorted(self.kinds) if self.kinds[v] in STEP_KINDS]

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Nothing before placement; every step of the order no earlier than the one before."""
        if any(t < times[1] for t in times.values()):
            return False
        steps = [times[v] for v in self.steps()]
        return all(earlier <= later for earlier, later in itertools.pairwise(steps))

    # Setup -----------------------------------------------------------------------

    @first_command(command_id=COMMAND_IDS, head_start=st.integers(0, 7))
    def place(self, command_id: str | None, head_start: int) -> None:
        """The order is placed (``create``); a few smooth steps follow."""
        self.attempt(command_id, set(), lambda: self.create(command_id), ["Placed"], T0)
        for _ in range(head_start):
            self.progress(None)

    # Commands --------------------------------------------------------------------
    # Each records one fact, so ``attempt`` gets a one-kind list.

    @command(when=WHENS, command_id=COMMAND_IDS)
    def accept(self, when: datetime | None, command_id: str | None) -> None:
        """Only a placed order is accepted."""
        at = self.at(when)
        if self.attempt(command_id, self.expect(at, {"placed"}), lambda: self.engine.orders.accept(
                self.order, actor=OFFICE, occurred_at=when, command_id=command_id),
                ["Accepted"], at) is not None:
            self.status = "accepted"

    @command(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def reject(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """Only a placed order is rejected, with a reason."""
        at = self.at(when)
        errors = self.expect(at, {"placed"})
        if blank(reason):
            errors.add(InvalidInputError)
        if self.attempt(command_id, errors, lambda: self.engine.orders.reject(
                self.order, reason, actor=OFFICE, occurred_at=when, command_id=command_id),
                ["Rejected"], at) is not None:
            self.status = "rejected"

    @command(provider=st.sampled_from(PROVIDERS), when=WHENS, command_id=COMMAND_IDS)
    def dispatch(self, provider: Provider, when: datetime | None,
                 command_id: str | None) -> None:
        """Dispatch an accepted or reopened order, or re-dispatch it to another provider."""
        at = self.at(when)
        errors = self.expect(at, {"accepted", "dispatched", "reopened"})
        if self.status == "dispatched" and provider == self.provider:
            errors.add(InvalidTransitionError)
        version = self.attempt(command_id, errors, lambda: self.engine.orders.dispatch(
            self.order, provider, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["Dispatched"], at)
        if version is not None:
            self.status, self.provider = "dispatched", provider
            self.dispatched, self.started = version, None

    @command(when=WHENS, command_id=COMMAND_IDS)
    def start(self, when: datetime | None, command_id: str | None) -> None:
        """Start a dispatched order, not before its dispatch."""
        at = self.at(when)
        version = self.attempt(
            command_id, self.expect(at, {"dispatched"}, (self.dispatched,)),
            lambda: self.engine.orders.start(self.order, actor=PLACER, occurred_at=when,
                                             command_id=command_id), ["Started"], at)
        if version is not None:
            self.status, self.started = "in_progress", version

    @command(outcome=st.sampled_from(("fixed", "not_fixed", "gave_up")), note=TEXTS, when=WHENS,
             command_id=COMMAND_IDS)
    def complete(self, outcome: str, note: str, when: datetime | None,
                 command_id: str | None) -> None:
        """Complete a dispatched or started order after both; not fixed needs a note."""
        at = self.at(when)
        errors = self.expect(at, {"dispatched", "in_progress"}, (self.dispatched, self.started))
        if outcome == "gave_up" or (outcome == "not_fixed" and blank(note)):
            errors.add(InvalidInputError)
        version = self.attempt(command_id, errors, lambda: self.engine.orders.complete(
            self.order, outcome, note, actor=Actor("plumber-1", Role.PROVIDER), occurred_at=when,
            command_id=command_id), ["Completed"], at)
        if version is not None:
            self.status, self.completed, self.outcome, self.rating = (
                "completed", version, outcome, None)
            self.rated = None

    @command(score=st.integers(-1, 7) | st.just(True), by_placer=st.booleans(),
             resolved=st.sampled_from((None, True, False, 1, "yes")), when=WHENS,
             command_id=COMMAND_IDS)
    def rate(self, score: int, by_placer: bool, resolved: Any, when: datetime | None,
             command_id: str | None) -> None:
        """Rate 1..5, once per completion, only by the placing resident, after completion;
        saying resolved or not (True, False) or nothing (None), never anything else."""
        at = self.at(when)
        errors = self.expect(at, {"completed"}, (self.completed,))
        if isinstance(score, bool) or not 1 <= score <= 5:
            errors.add(InvalidInputError)
        if resolved is not None and type(resolved) is not bool:
            errors.add(InvalidInputError)
        if self.rating is not None or not by_placer:
            errors.add(InvalidTransitionError)
        rater = PLACER if by_placer else NEIGHBOUR
        rated = self.attempt(command_id, errors, lambda: self.engine.orders.rate(
            self.order, score, "thanks", resolved=resolved, actor=rater, occurred_at=when,
            command_id=command_id), ["Rated"], at)
        if rated is not None:
            self.rating, self.rated, self.resolved = score, rated, resolved
            self.ratings.append(score)

    @command(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def reopen(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """Reopen a completed order (rated or not), with a reason."""
        at = self.at(when)
        errors = self.expect(at, {"completed"})
        if blank(reason):
            errors.add(InvalidInputError)
        if self.attempt(command_id, errors, lambda: self.engine.orders.reopen(
                self.order, reason, actor=PLACER, occurred_at=when, command_id=command_id),
                ["Reopened"], at) is not None:
            self.status, self.completed, self.outcome, self.rating = "reopened", None, None, None
            self.rated = None
            self.reopens += 1

    @command(reason=TEXTS, when=WHENS, command_id=COMMAND_IDS)
    def cancel(self, reason: str, when: datetime | None, command_id: str | None) -> None:
        """Cancel an order that is neither finished (completed, rejected) nor cancelled."""
        at = self.at(when)
        errors = self.expect(at, {"placed", "accepted", "dispatched", "in_progress", "reopened"})
        if blank(reason):
            errors.add(InvalidInputError)
        if self.attempt(command_id, errors, lambda: self.engine.orders.cancel(
                self.order, reason, actor=PLACER, occurred_at=when, command_id=command_id),
                ["Cancelled"], at) is not None:
            self.status = "cancelled"

    @command(command_id=COMMAND_IDS)
    def progress(self, command_id: str | None) -> None:
        """The next step of a smooth life, now (keeps long runs reaching ratings and reopens)."""
        if self.status == "placed":
            self.accept(None, command_id)
        elif self.status in ("accepted", "reopened"):
            self.dispatch(PROVIDERS[self.reopens % 2], None, command_id)
        elif self.status == "dispatched":
            self.start(None, command_id)
        elif self.status == "in_progress":
            self.complete("fixed", "", None, command_id)
        elif self.status == "completed" and self.rating is None:
            self.rate(4, True, len(self.times) % 2 == 0, None, command_id)
        elif self.status == "completed":
            self.reopen("leaking again", None, command_id)
        else:
            self.add_note("closed order", None, command_id)

    # Invariants ------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        """The stored order's state equals the model's."""
        order = self.stored()
        assert order.placer_id == PLACER.person_id
        assert order.status.value == self.status
        assert order.provider == self.provider
        assert (order.outcome.value if order.outcome else None) == self.outcome
        assert order.rating == self.rating
        assert order.resolved_by_resident == (self.resolved if self.rating is not None else None)
        assert order.ratings == self.ratings
        assert order.reopen_count == self.reopens


class TestOrderMachine(OrderMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence leaves the order, its facts and its errors as the model says."""

    settings = SETTINGS


# Regressions the machine found, as plain examples ---------------------------------


def test_a_correction_cannot_happen_before_placement(memory_engine: Engine) -> None:
    """A correction is a fact too: its own occurred_at can't precede the order's placement."""
    orders = memory_engine.orders
    order = orders.place(kitchen(memory_engine), household_id="b1-1-101", area_id="b1/1",
                         category="home", item="repair", actor=PLACER,
                         occurred_at=T0).aggregate_id
    with pytest.raises(InvalidTransitionError):
        orders.correct_time(order, 1, T0 + timedelta(minutes=5), "misdated", actor=OFFICE,
                            occurred_at=T0)
    with pytest.raises(InvalidTransitionError):
        orders.correct_details(order, 1, "kitchen tap", "typo", actor=OFFICE,
                               occurred_at=T0 - timedelta(minutes=1))
    assert len(memory_engine.events(order)) == 1
