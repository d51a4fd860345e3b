"""Plumbing and rules shared by the stateful tests: the command loop, the commands every
aggregate takes, time strategies and settings.

Each machine drives one aggregate through an engine and keeps a plain model of its facts
(effective time and event name by version, and the versions each command id recorded).
Every command rule hands the facts it recorded to the ``FACTS`` Bundle, from which the
rules that name a fact (corrections, a role held, a consent asked) draw.
"""

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Concatenate, Generic, NamedTuple, ParamSpec, Protocol, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from resilience import (
    Actor,
    AlreadyExistsError,
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    ManualClock,
    NotFoundError,
    Receipt,
    ResilienceError,
)
from resilience.domain.base import FactAggregate

from conftest import OFFICE, T0

Errors = set[type[ResilienceError]]
A = TypeVar("A", bound=FactAggregate)
A_co = TypeVar("A_co", bound=FactAggregate, covariant=True)
M = TypeVar("M", bound="FactMachine[Any]")
P = ParamSpec("P")

ZONES: tuple[tzinfo, ...] = (UTC, ZoneInfo("Asia/Shanghai"), timezone(timedelta(hours=-5)))


def moment(minutes: int, zone: tzinfo) -> datetime:
    """T0 + ``minutes``, expressed in ``zone`` (the same instant in any zone)."""
    return (T0 + timedelta(minutes=minutes)).astimezone(zone)


def texts(sample: str) -> st.SearchStrategy[str]:
    """Mostly ``sample`` or a short word; now and then blank, which commands refuse."""
    return st.sampled_from((sample,) * 3 + ("ok",) * 3 + ("", "   "))


# Five-minute steps, so that facts often share a moment (ties are where rules are subtle).
MOMENTS = st.builds(moment, st.integers(-2, 24).map(lambda k: 5 * k), st.sampled_from(ZONES))
WHENS = st.one_of(MOMENTS, st.none())  # None: the engine's clock, five minutes later each step
COMMAND_IDS = st.sampled_from((None,) * 18 + tuple(f"cmd-{i}" for i in range(1, 7)))
REASONS = texts("checked against the log")
CORRECTIONS = frozenset({"TimeCorrected", "DetailsCorrected", "ParticipantsCorrected"})
SETTINGS = settings(max_examples=100, stateful_step_count=30,
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])


def blank(text: str) -> bool:
    """Would the library consider this text empty?"""
    return not text.strip()


class Fact(NamedTuple):
    """A fact the model saw recorded: what the ``FACTS`` Bundle holds."""

    version: int
    kind: str  # its event's name: rules pick facts of some kinds by filtering on it


FACTS: Bundle[Fact] = Bundle("facts")  # every fact a machine's model saw recorded


class FactService(Protocol[A_co]):
    """What the shared rules ask of a machine's service: its aggregate, and the two
    corrections every aggregate takes."""

    def get(self, aggregate_id: UUID, /) -> A_co: ...

    def correct_time(self, aggregate_id: UUID, corrects: int, corrected_to: datetime,
                     reason: str, /, *, actor: Actor, occurred_at: datetime | None = None,
                     command_id: str | None = None) -> Receipt: ...

    def correct_details(self, aggregate_id: UUID, corrects: int, details: str, reason: str,
                        /, *, actor: Actor, occurred_at: datetime | None = None,
                        command_id: str | None = None) -> Receipt: ...


class NotedService(FactService[A_co], Protocol[A_co]):
    """A service whose aggregates also take notes (incidents, orders, improvement items)."""

    def add_note(self, aggregate_id: UUID, text: str, /, *, actor: Actor,
                 occurred_at: datetime | None = None,
                 command_id: str | None = None) -> Receipt: ...


Body = Callable[Concatenate[M, P], None]
Command = Callable[Concatenate[M, P], MultipleResults[Fact]]


def _recording(decorator: Any, strategies: dict[str, st.SearchStrategy[Any]]
               ) -> Callable[[Body[M, P]], Command[M, P]]:
    """``decorator`` (``rule`` or ``initialize``) for a body that runs commands: the facts
    they record go to ``FACTS``. Called from another rule (as ``progress`` calls them), its
    result is dropped, but the outer rule counted from before and hands the same facts on."""

    def decorate(body: Body[M, P]) -> Command[M, P]:
        @functools.wraps(body)
        def run(self: M, /, *args: P.args, **kwargs: P.kwargs) -> MultipleResults[Fact]:
            count = len(self.kinds)
            body(self, *args, **kwargs)
            return multiple(*self.facts_since(count))

        made: Command[M, P] = decorator(target=FACTS, **strategies)(run)
        return made

    return decorate


def command(**strategies: st.SearchStrategy[Any]) -> Callable[[Body[M, P]], Command[M, P]]:
    """``rule`` for a command: what it records (nothing if refused) goes to ``FACTS``."""
    return _recording(rule, strategies)


def first_command(**strategies: st.SearchStrategy[Any]
                  ) -> Callable[[Body[M, P]], Command[M, P]]:
    """``initialize`` for the command that creates the aggregate, likewise."""
    return _recording(initialize, strategies)


class FactMachine(RuleBasedStateMachine, Generic[A]):
    """One aggregate driven through an in-memory engine, its facts shadowed by a plain model.

    Each machine sets ``aggregate_id`` and ``service`` in ``__init__`` and gives the hooks
    below: ``create`` (its first command), ``naive_command``, ``closure`` (the fact that
    closed it, while it stands closed) and ``times_valid`` (its rules about time). The
    rules here use them to test the commands every aggregate takes.
    """

    aggregate_id: UUID  # the aggregate the commands go to
    service: FactService[A]  # the service they go through

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0 + timedelta(minutes=5))
        self.engine = Engine("memory:", clock=self.clock, policy=None)
        # The model. Facts by version: effective time and event name.
        self.times: dict[int, datetime] = {}
        self.kinds: dict[int, str] = {}
        self.commands: dict[str, tuple[int, int]] = {}
        self.moved: dict[int, int] = {}  # version of a time correction -> version it moved

    def teardown(self) -> None:
        """Close the engine."""
        self.engine.close()

    # Hooks -----------------------------------------------------------------------

    def create(self, command_id: str | None) -> Receipt:
        """The command that created the aggregate, as the machine first ran it."""
        raise NotImplementedError

    def naive_command(self, command_id: str | None) -> Receipt:
        """An ordinary command dated at a naive time (``naive_time`` expects it refused)."""
        raise NotImplementedError

    def closure(self) -> int | None:
        """Version of the fact that closed the aggregate, while it stands closed (a closed
        incident's closure, a finished item's completion or cancellation); None here."""
        return None

    def closed_errors(self, at: datetime | None) -> Errors:
        """The amendment rule: what a closed aggregate gives a new fact that is no
        correction nor reopening, dated ``at`` (None: a step, refused whatever its time).
        It accepts late records dated at or before its closure, nothing after it."""
        closure = self.closure()
        if closure is not None and (at is None or at > self.times[closure]):
            return {InvalidTransitionError}
        return set()

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Would these effective times (version -> time) keep every invariant?"""
        raise NotImplementedError

    # The command loop ------------------------------------------------------------

    def attempt(self, command_id: str | None, errors: Errors, call: Callable[[], Receipt],
                kinds: list[str], at: datetime) -> int | None:
        """Run ``call``; check it against the model; return the first new version if accepted."""
        try:
            return self._attempt(command_id, errors, call, kinds, at)
        finally:
            self.clock.advance(timedelta(minutes=5))

    def _attempt(self, command_id: str | None, errors: Errors, call: Callable[[], Receipt],
                 kinds: list[str], at: datetime) -> int | None:
        """The checks of ``attempt``: an accepted command records ``kinds``, all at ``at``."""
        count = len(self.times)
        # The invariant then checks that the store holds exactly the model's facts, so a
        # repeated or rejected command is also shown to have recorded nothing.
        if command_id is not None and command_id in self.commands:
            receipt = call()
            assert receipt == Receipt(self.aggregate_id, *self.commands[command_id])
            return None
        if errors:
            expected = sorted(e.__name__ for e in errors)
            try:
                call()
            except ResilienceError as exc:
                raised = exc
            else:
                raise AssertionError(f"accepted a command the model rejects with {expected}")
            assert isinstance(raised, tuple(errors)), f"raised {raised!r}; expected {expected}"
            return None
        try:
            receipt = call()
        except ResilienceError as exc:
            raise AssertionError(f"the model accepts this command but it raised {exc!r}") from exc
        first, last = count + 1, count + len(kinds)
        assert receipt == Receipt(self.aggregate_id, first, last)
        for version, kind in enumerate(kinds, start=first):
            self.times[version] = at
            self.kinds[version] = kind
        if command_id is not None:
            self.commands[command_id] = (first, last)
        return first

    def facts_since(self, count: int) -> list[Fact]:
        """The facts after the first ``count``; after a time correction, the fact it moved
        once more, so that a fact once moved is likelier to be moved again."""
        found = []
        for version in range(count + 1, len(self.kinds) + 1):
            found.append(Fact(version, self.kinds[version]))
            if version in self.moved:
                found.append(Fact(self.moved[version], self.kinds[self.moved[version]]))
        return found

    def at(self, when: datetime | None) -> datetime:
        """The effective time of a command: ``when``, or the engine's clock when None."""
        return self.clock() if when is None else when

    # Rules of the model every aggregate shares -----------------------------------

    def new_fact_errors(self, at: datetime, *, correction: bool = False) -> Errors:
        """What a plain new fact (a note; a details correction if ``correction``) dated
        ``at`` must raise: a closed aggregate's errors (none for a correction), and
        InvalidTransitionError where its time breaks an invariant (as before the
        aggregate's first fact)."""
        errors = set() if correction else self.closed_errors(at)
        if not self.times_valid({**self.times, len(self.times) + 1: at}):
            errors.add(InvalidTransitionError)
        return errors

    def time_correction_errors(self, version: int, corrected_to: datetime, reason: str,
                               at: datetime) -> Errors:
        """What correcting ``version`` to ``corrected_to`` at ``at`` must raise: a naive
        time or a blank reason, a fact that can't be corrected, times (the correction's own
        included) that would break an invariant, or a fact moved from at or before the
        standing closure to after it (it would need a reopen)."""
        errors: Errors = set()
        naive = corrected_to.tzinfo is None
        if naive or blank(reason):
            errors.add(InvalidInputError)
        if self.correctable(version, errors) and not naive:
            times = {**self.times, version: corrected_to, len(self.times) + 1: at}
            if not self.times_valid(times) or self.crosses_closure(times):
                errors.add(InvalidTransitionError)
        return errors

    def crosses_closure(self, times: dict[int, datetime]) -> bool:
        """Would ``times`` move a fact (no correction) from at or before the standing
        closure to after it?"""
        closure = self.closure()
        return closure is not None and any(
            self.times[v] <= self.times[closure] and times[v] > times[closure]
            for v in self.times if self.kinds[v] not in CORRECTIONS)

    def correctable(self, version: int, errors: Errors) -> bool:
        """Is ``version`` a fact that may be corrected? If not, add the error to ``errors``."""
        if version not in self.kinds:
            errors.add(NotFoundError)
            return False
        if self.kinds[version] in CORRECTIONS:
            errors.add(InvalidTransitionError)
            return False
        return True

    def correct_time_of(self, version: int, corrected_to: datetime, reason: str,
                        when: datetime | None, command_id: str | None) -> int | None:
        """Correct the time of ``version`` and check it against the model; return the
        correction's version if accepted."""
        at = self.at(when)
        errors = self.time_correction_errors(version, corrected_to, reason, at)
        new = self.attempt(command_id, errors, lambda: self.service.correct_time(
            self.aggregate_id, version, corrected_to, reason, actor=OFFICE, occurred_at=when,
            command_id=command_id), ["TimeCorrected"], at)
        if new is not None:
            self.times[version] = corrected_to
            self.moved[new] = version
        return new

    def correct_details_of(self, version: int, details: str, when: datetime | None,
                           command_id: str | None) -> None:
        """Correct the details of ``version`` and check it against the model."""
        at = self.at(when)
        errors = self.new_fact_errors(at, correction=True)
        if blank(details):
            errors.add(InvalidInputError)
        self.correctable(version, errors)
        self.attempt(command_id, errors, lambda: self.service.correct_details(
            self.aggregate_id, version, details, "typo", actor=OFFICE, occurred_at=when,
            command_id=command_id), ["DetailsCorrected"], at)

    # Rules every machine shares --------------------------------------------------

    @command(command_id=COMMAND_IDS)
    def create_again(self, command_id: str | None) -> None:
        """Creating the same aggregate again is refused, unless it repeats a known command id."""
        self.attempt(command_id, {AlreadyExistsError}, lambda: self.create(command_id),
                     [self.kinds[1]], self.times[1])

    @rule(command_id=COMMAND_IDS)
    def naive_time(self, command_id: str | None) -> None:
        """A naive occurred_at is rejected before anything else, even for a repeated id."""
        with pytest.raises(InvalidInputError):
            self.naive_command(command_id)

    @command(fact=FACTS, corrected_to=MOMENTS | st.just(T0.replace(tzinfo=None)),
             reason=REASONS, when=WHENS, command_id=COMMAND_IDS)
    def correct_time(self, fact: Fact, corrected_to: datetime, reason: str,
                     when: datetime | None, command_id: str | None) -> None:
        """Correct a fact's time only if every invariant still holds (the correction's own
        time included), and not across a standing closure; never a correction's."""
        self.correct_time_of(fact.version, corrected_to, reason, when, command_id)

    @command(fact=FACTS, details=texts("spelling fixed"), when=WHENS, command_id=COMMAND_IDS)
    def correct_details(self, fact: Fact, details: str, when: datetime | None,
                        command_id: str | None) -> None:
        """Correct a fact's details, never a correction's; the correction is a fact dated
        like any other."""
        self.correct_details_of(fact.version, details, when, command_id)

    @command(past_the_end=st.booleans(), details=st.booleans(), text=REASONS, when=WHENS,
             command_id=COMMAND_IDS)
    def correct_a_missing_fact(self, past_the_end: bool, details: bool, text: str,
                               when: datetime | None, command_id: str | None) -> None:
        """Correcting a version the aggregate lacks (0, or the next: the correction's own)
        is refused as not found (and a blank ``text``, as reason or details, as invalid)."""
        version = len(self.times) + 1 if past_the_end else 0
        if details:
            self.correct_details_of(version, text, when, command_id)
        else:
            self.correct_time_of(version, T0, text, when, command_id)

    # Invariant every machine shares ----------------------------------------------

    @invariant()
    def store_holds_the_models_facts(self) -> None:
        """The stored facts, their effective times and the versions of every command id
        the model knows equal the model's."""
        events = self.engine.events(self.aggregate_id)
        assert [type(e).__name__ for e in events] == [self.kinds[v] for v in sorted(self.kinds)]
        aggregate = self.stored()
        assert aggregate.version == len(self.times)
        assert {v: aggregate.time_of(v) for v in self.times} == self.times
        for command_id, versions in self.commands.items():
            assert aggregate.command_versions(command_id) == versions

    def stored(self) -> A:
        """The aggregate as the store has it now."""
        return self.service.get(self.aggregate_id)


class NotedMachine(FactMachine[A]):
    """A machine whose aggregate also takes notes: the shared ``add_note`` rule, and a note
    is the command ``naive_time`` dates naively."""

    service: NotedService[A]

    def naive_command(self, command_id: str | None) -> Receipt:
        """A note dated at a naive time."""
        return self.service.add_note(self.aggregate_id, "note", actor=OFFICE,
                                     occurred_at=T0.replace(tzinfo=None), command_id=command_id)

    @command(text=texts("residents informed"), when=WHENS, command_id=COMMAND_IDS)
    def add_note(self, text: str, when: datetime | None, command_id: str | None) -> None:
        """Add a non-empty note, dated like any other fact."""
        at = self.at(when)
        errors = self.new_fact_errors(at)
        if blank(text):
            errors.add(InvalidInputError)
        self.attempt(command_id, errors, lambda: self.service.add_note(
            self.aggregate_id, text, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["NoteAdded"], at)


def recorded(engine: Engine) -> int:
    """How many events the store holds."""
    return engine.app.recorder.max_notification_id() or 0


def refused(engine: Engine, error: type[ResilienceError], command: Callable[[], object],
            match: str | None = None) -> str:
    """``command`` raises ``error`` and records nothing; the error's message."""
    before = recorded(engine)
    with pytest.raises(error, match=match) as raised:
        command()
    assert recorded(engine) == before
    return str(raised.value)
