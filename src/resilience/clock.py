"""Clocks: the only place the library may read the time.

Domain code and projections never call ``datetime.now()``; the engine asks
its injected clock for the recorded time of each event and for the default
``occurred_at`` of a command.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from resilience.domain.validation import check_duration, check_moment

Clock = Callable[[], datetime]
"""A zero-argument callable returning a timezone-aware datetime."""


def system_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(tz=UTC)


class ManualClock:
    """A clock that only moves when told to: for tests, simulations and scenario replays."""

    def __init__(self, start: datetime) -> None:
        self._now = require_aware(start, "start")

    def __call__(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (which may be earlier: a clock is not an invariant)."""
        self._now = require_aware(moment, "moment")

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new time."""
        check_duration(delta, "delta")
        self._now = require_aware(self._now + delta, "the advanced clock")
        return self._now


def require_aware(moment: datetime, name: str) -> datetime:
    """Return ``moment`` unchanged, or raise InvalidInputError if it is not an aware
    datetime within the accepted range (see :mod:`resilience.domain.validation`)."""
    return check_moment(moment, name)
