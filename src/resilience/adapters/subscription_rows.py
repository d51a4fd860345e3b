"""What every store of subscriptions shares: the dead letters' table and rows, the rule a
position moves by, the deliverer lock's protocol (and its in-process kind), and the
wake-up deliverers wait on.

A position moves only from the one a notice was read after (``check_position``:
PositionMoved otherwise), so two deliverers never both advance one subscription. The
stores are in resilience.adapters.subscriptions (memory and SQLite) and
resilience.adapters.postgres_subscriptions (PostgreSQL).
"""

import threading
from typing import ClassVar, NamedTuple, Protocol

DEAD_LETTERS = "resilience_dead_letters"


class PositionMoved(Exception):
    """Another deliverer moved the subscription's position first: read it again."""


class DeadLetterRow(NamedTuple):
    subscription: str
    """The subscription's tracking name."""
    key: str
    """The notice's key."""
    position: int
    """The notification id of the notice's fact."""
    doc: str
    """What is known of the failure, as JSON (sealed on a protected store)."""


def check_position(found: int | None, expected: int, position: int, name: str) -> None:
    """PositionMoved unless the stored position ``found`` (None: 0) is ``expected`` and
    the new ``position`` is past it (a position never moves back, nor stays)."""
    if (found or 0) != expected:
        raise PositionMoved(f"{name} is at {found or 0}, not {expected}")
    if position <= expected:
        raise PositionMoved(f"{name} can't move back from {expected} to {position}")


class Claim(Protocol):
    """A subscription's deliverer lock, held by one deliverer at a time (``claim``)."""

    def held(self) -> bool:
        """Whether the lock is still held (False: lost with its connection)."""
        ...

    def release(self) -> None:
        """Let the lock go (again: nothing)."""
        ...


class ProcessClaim:
    """A deliverer lock within this process: an in-memory store's, or where no OS lock is
    to be had. ``take`` gives one per key at a time."""

    _taken: ClassVar[set[object]] = set()
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, key: object) -> None:
        self._key: object | None = key

    @classmethod
    def take(cls, key: object) -> "ProcessClaim | None":
        with cls._guard:
            if key in cls._taken:
                return None
            cls._taken.add(key)
        return cls(key)

    def held(self) -> bool:
        return self._key is not None

    def release(self) -> None:
        with self._guard:
            if self._key is not None:
                self._taken.discard(self._key)
                self._key = None


class Wakeup:
    """What a deliverer waits on between passes: ``interval`` seconds, or less when it is
    told that new events may be there (``set``: by a PostgreSQL NOTIFY, or by ``stop``)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True if woken early. Clears the signal."""
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken

    def set(self) -> None:
        self._event.set()

    def close(self) -> None:
        """Stop listening (nothing to stop here)."""
