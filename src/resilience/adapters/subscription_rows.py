"""What every store of subscriptions shares: the dead letters' table and rows, the rule a
position moves by, and the wake-up deliverers wait on.

A position moves only from the one a notice was read after (``check_position``:
PositionMoved otherwise), so two deliverers never both advance one subscription. The
stores are in resilience.adapters.subscriptions (memory and SQLite) and
resilience.adapters.postgres_subscriptions (PostgreSQL).
"""

import threading
from typing import NamedTuple

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


def check_position(found: int | None, expected: int, name: str) -> None:
    """PositionMoved unless the stored position ``found`` (None: 0) is ``expected``."""
    if (found or 0) != expected:
        raise PositionMoved(f"{name} is at {found or 0}, not {expected}")


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
