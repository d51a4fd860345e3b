"""Plumbing shared by the stateful tests: the command loop, time strategies and settings.

Each machine drives one aggregate through an engine and keeps a plain model of its facts
(effective time and event name by version, and the versions each command id recorded).
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from resilience import (
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    ManualClock,
    NotFoundError,
    Receipt,
    ResilienceError,
)
from resilience.domain.base import FactAggregate

from conftest import T0

Errors = set[type[ResilienceError]]
A = TypeVar("A", bound=FactAggregate)

ZONES: tuple[tzinfo, ...] = (UTC, ZoneInfo("Asia/Shanghai"), timezone(timedelta(hours=-5)))


def moment(minutes: int, zone: tzinfo) -> datetime:
    """T0 + ``minutes``, expressed in ``zone`` (the same instant in any zone)."""
    return (T0 + timedelta(minutes=minutes)).astimezone(zone)


# Five-minute steps, so that facts often share a moment (ties are where rules are subtle).
MOMENTS = st.builds(moment, st.integers(-2, 24).map(lambda k: 5 * k), st.sampled_from(ZONES))
WHENS = st.one_of(MOMENTS, st.none())  # None: the engine's clock, five minutes later each step
COMMAND_IDS = st.sampled_from((None,) * 18 + tuple(f"cmd-{i}" for i in range(1, 7)))
PICKS = st.integers(0, 9)  # an index into the model's current candidates
VERSIONS = st.integers(0, 80)  # reduced modulo (facts + 2): mostly existing versions
CORRECTIONS = frozenset({"TimeCorrected", "DetailsCorrected"})
SETTINGS = settings(max_examples=100, stateful_step_count=30,
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])


def blank(text: str) -> bool:
    """Would the library consider this text empty?"""
    return not text.strip()


class FactMachine(RuleBasedStateMachine):
    """One aggregate driven through an in-memory engine, its facts shadowed by a plain model."""

    aggregate_id: UUID  # the aggregate the commands go to: each machine sets it in __init__

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0 + timedelta(minutes=5))
        self.engine = Engine("memory:", clock=self.clock)
        # The model. Facts by version: effective time and event name.
        self.times: dict[int, datetime] = {}
        self.kinds: dict[int, str] = {}
        self.commands: dict[str, tuple[int, int]] = {}

    def naive_command(self, command_id: str | None) -> Receipt:
        """An ordinary command dated at a naive time (``naive_time`` expects it refused)."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Close the engine."""
        self.engine.close()

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

    def at(self, when: datetime | None) -> datetime:
        """The effective time of a command: ``when``, or the engine's clock when None."""
        return self.clock() if when is None else when

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Would these effective times (version -> time) keep every invariant?"""
        raise NotImplementedError

    def time_correction_errors(self, version: int, corrected_to: datetime, reason: str,
                               at: datetime, errors: Errors) -> Errors:
        """``errors`` plus what correcting ``version`` to ``corrected_to`` at ``at`` must raise:
        a naive time or a blank reason, a fact that can't be corrected, or times (the
        correction's own included) that would break an invariant."""
        naive = corrected_to.tzinfo is None
        if naive or blank(reason):
            errors.add(InvalidInputError)
        if self.correctable(version, errors) and not naive:
            times = {**self.times, version: corrected_to, len(self.times) + 1: at}
            if not self.times_valid(times):
                errors.add(InvalidTransitionError)
        return errors

    def correctable(self, version: int, errors: Errors) -> bool:
        """Is ``version`` a fact that may be corrected? If not, add the error to ``errors``."""
        if version not in self.kinds:
            errors.add(NotFoundError)
            return False
        if self.kinds[version] in CORRECTIONS:
            errors.add(InvalidTransitionError)
            return False
        return True

    # A rule and invariant checks every machine shares ----------------------------

    @rule(command_id=COMMAND_IDS)
    def naive_time(self, command_id: str | None) -> None:
        """A naive occurred_at is rejected before anything else, even for a repeated id."""
        with pytest.raises(InvalidInputError):
            self.naive_command(command_id)

    def stored(self, get: Callable[[UUID], A]) -> A:
        """The aggregate read back by ``get``, once its facts and their times equal the model's."""
        events = self.engine.events(self.aggregate_id)
        assert [type(e).__name__ for e in events] == [self.kinds[v] for v in sorted(self.kinds)]
        aggregate = get(self.aggregate_id)
        assert aggregate.version == len(self.times)
        assert {v: aggregate.time_of(v) for v in self.times} == self.times
        return aggregate

    def check_commands(self, aggregate: FactAggregate) -> None:
        """Every command id the model knows recorded, in the store, the versions it says."""
        for command_id, versions in self.commands.items():
            assert aggregate.command_versions(command_id) == versions
