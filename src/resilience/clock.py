"""Clocks: the only place the library may read the time.

Domain code and projections never call ``datetime.now()``; the engine asks
its injected clock for the recorded time of each event and for the default
``occurred_at`` of a command. Every moment a clock gives is checked by the one
rule for moments (:func:`resilience.domain.validation.check_moment`).
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from resilience.domain.validation import check_duration, check_moment, shown
from resilience.errors import InvalidInputError
from resilience.i18n import _

Clock = Callable[[], datetime]
"""A zero-argument callable returning a timezone-aware datetime."""


class _WallClock:
    # A class, not a function, only to be shown by name: a function's repr carries its
    # address, and help(Engine) shows the default clock (clock=system_clock).

    def __call__(self) -> datetime:
        return datetime.now(tz=UTC)

    def __repr__(self) -> str:
        return "system_clock"


system_clock: Clock = _WallClock()
"""The wall clock, in UTC."""


def check_clock(clock: object) -> Clock:
    """Return ``clock`` if it can be called (what it returns is checked on each call)."""
    if not callable(clock):
        raise InvalidInputError(_("clock must be a callable returning an aware datetime "
                                  "(e.g. system_clock or a ManualClock), got {value}").format(
            value=shown(clock)))
    return clock


class ManualClock:
    """A clock that only moves when told to: for tests, simulations and scenario replays."""

    def __init__(self, start: datetime) -> None:
        self._now = check_moment(start, "start")

    def __call__(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (which may be earlier: a clock is not an invariant)."""
        self._now = check_moment(moment, "moment")

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new time."""
        check_duration(delta, "delta")
        self._now = check_moment(self._now + delta, "the advanced clock")
        return self._now

