"""Where a subscription keeps its place and its dead letters: beside the views, in the
database that holds the events.

A subscription's **position** (the last notification its handler took, or skipped as
no notice for it) is an eventsourcing tracking record in the views' tracking table,
named ``<application>/subscriptions/<name>``; its **dead letters** (notices its handler
gave up on: ``Undeliverable``) are rows of ``resilience_dead_letters``. A notice is
committed with the position it moves to, and its dead letter if it has one, in one
transaction, and only if the stored position is still the one the notice was read
after (``PositionMoved`` otherwise): two deliverers of one subscription never both
advance it, and a dead letter is kept exactly when the position moves past its notice.

A subscription's **deliverer lock** (``claim``) lets one deliverer deliver at a time,
with no lease: in memory a lock within the process; on SQLite an OS lock (``flock``)
on ``<database>-subscription-<name>.lock`` beside the file, which the OS lets go when
the process dies; on PostgreSQL a session advisory lock on a connection of its own.

Neither is a view document: ``Views.rebuild`` and ``Views.prune`` delete documents and
the views' own tracking records (``<application>/views/...``), never these. A dead
letter holds the notice's place in the log and why it failed, never the notice's text:
it is read again from the events when listed or redelivered, so an erasure reaches it
as it reaches the events (the service seals the rest on a protected store).

The memory and SQLite stores are here, the PostgreSQL one (and its LISTEN wake-up) in
resilience.adapters.postgres_subscriptions, what they share in
resilience.adapters.subscription_rows; ``open_subscription_store`` opens the one beside
a recorder.
"""

import os
import threading
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder

from resilience.adapters.setup import sqlite_set_up, sqlite_write
from resilience.adapters.store import StoreFault
from resilience.adapters.subscription_rows import (
    DEAD_LETTERS,
    Claim,
    DeadLetterRow,
    PositionMoved,
    ProcessClaim,
    Wakeup,
    check_position,
)
from resilience.i18n import _

try:
    import fcntl
except ImportError:  # not POSIX: a lock within the process only
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEAD_LETTERS", "Claim", "DeadLetterRow", "MemorySubscriptionStore", "PositionMoved",
           "SQLiteSubscriptionStore", "SubscriptionStore", "Undeliverable", "Wakeup",
           "open_subscription_store", "open_wakeup"]


class Undeliverable(Exception):
    """Raised by a subscription's handler for a notice it gives up on: the subscription
    keeps it as a dead letter (``subscription.dead_letters()``) and moves on. Any other
    exception stops the delivery before the notice, which is given again next time.

    ``attempts``: how many tries the handler made before giving up (a webhook's POSTs).
    """

    def __init__(self, reason: str, *, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class SubscriptionStore(Protocol):
    """Positions and dead letters of subscriptions (all three backends)."""

    def position(self, name: str) -> int:
        """The stored position of the subscription tracked as ``name`` (0: none yet)."""
        ...

    def advance(self, name: str, expected: int, position: int,
                dead: DeadLetterRow | None = None) -> None:
        """Move ``name`` from ``expected`` to ``position`` (greater), keeping ``dead`` with
        it, in one transaction; PositionMoved if it is no longer at ``expected``."""
        ...

    def dead_letters(self, name: str) -> list[DeadLetterRow]:
        """The subscription's dead letters, by position."""
        ...

    def keep(self, row: DeadLetterRow) -> None:
        """Write a dead letter again (after a failed redelivery)."""
        ...

    def drop(self, name: str, key: str) -> bool:
        """Delete a dead letter (redelivered); False if it was not there."""
        ...

    def claim(self, name: str) -> Claim | None:
        """The deliverer lock of the subscription tracked as ``name``, or None while
        another deliverer (in any process) holds it. Never waits; no lease: it is held
        until released, or until its holder's process (or connection) is gone."""
        ...


class MemorySubscriptionStore:
    """Positions and dead letters of an in-memory store: gone with the process, as its events."""

    def __init__(self) -> None:
        self._positions: dict[str, int] = {}
        self._letters: dict[tuple[str, str], DeadLetterRow] = {}
        self._lock = threading.Lock()

    def position(self, name: str) -> int:
        return self._positions.get(name, 0)

    def advance(self, name: str, expected: int, position: int,
                dead: DeadLetterRow | None = None) -> None:
        with self._lock:
            check_position(self._positions.get(name), expected, position, name)
            if dead is not None:
                self._letters[(dead.subscription, dead.key)] = dead
            self._positions[name] = position

    def dead_letters(self, name: str) -> list[DeadLetterRow]:
        with self._lock:
            rows = [row for (sub, _), row in self._letters.items() if sub == name]
        return sorted(rows, key=lambda row: row.position)

    def keep(self, row: DeadLetterRow) -> None:
        with self._lock:
            self._letters[(row.subscription, row.key)] = row

    def drop(self, name: str, key: str) -> bool:
        with self._lock:
            return self._letters.pop((name, key), None) is not None

    def claim(self, name: str) -> Claim | None:
        return ProcessClaim.take((self, name))


class SQLiteSubscriptionStore(SQLiteTrackingRecorder):
    """Positions in the SQLite file's tracking table, dead letters in a table beside it."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {DEAD_LETTERS} (subscription TEXT NOT NULL, "
            "key TEXT NOT NULL, position INTEGER NOT NULL, doc TEXT NOT NULL, "
            "PRIMARY KEY (subscription, key))",
        ]

    def create_table(self) -> None:
        sqlite_set_up(self)  # safe when many processes open the store at once

    def position(self, name: str) -> int:
        return self.max_tracking_id(name) or 0

    # Written holding SQLite's write lock from BEGIN (sqlite_write), as the views are.

    def advance(self, name: str, expected: int, position: int,
                dead: DeadLetterRow | None = None) -> None:
        with sqlite_write(self.datastore) as c:
            check_position(self._max_tracking_id(name, c), expected, position, name)
            if dead is not None:
                self._upsert(c, dead)
            self._insert_tracking(c, Tracking(name, position))

    def dead_letters(self, name: str) -> list[DeadLetterRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT subscription, key, position, doc FROM {DEAD_LETTERS} "
                      "WHERE subscription = ? ORDER BY position", (name,))
            return [DeadLetterRow(*row) for row in c.fetchall()]

    def keep(self, row: DeadLetterRow) -> None:
        with sqlite_write(self.datastore) as c:
            self._upsert(c, row)

    def drop(self, name: str, key: str) -> bool:
        with sqlite_write(self.datastore) as c:
            c.execute(f"DELETE FROM {DEAD_LETTERS} WHERE subscription = ? AND key = ?",
                      (name, key))
            c.execute("SELECT changes()")
            return bool(c.fetchone()[0])

    def claim(self, name: str) -> Claim | None:
        pool = self.datastore.pool
        if pool.is_sqlite_memory_mode or fcntl is None:
            return ProcessClaim.take((pool.db_name, name))
        path = lock_file(pool.db_name, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreFault(_("cannot open the deliverer lock {path}: {error}").format(
                path=path, error=exc)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another deliverer (BlockingIOError), or can't be had
            os.close(fd)
            return None
        return _FileClaim(fd)

    @staticmethod
    def _upsert(c: Any, row: DeadLetterRow) -> None:
        c.execute(f"INSERT INTO {DEAD_LETTERS} VALUES (?, ?, ?, ?) ON CONFLICT "
                  "(subscription, key) DO UPDATE SET position = excluded.position, "
                  "doc = excluded.doc", tuple(row))


def lock_file(db_name: str, name: str) -> str:
    """The sidecar file whose OS lock (``flock``) a SQLite store's deliverer of the
    subscription tracked as ``name`` holds: ``<database>-subscription-<name>.lock``."""
    path = db_name
    if path.startswith("file:"):  # a URI
        path = unquote(urlsplit(path).path)
    return f"{path}-subscription-{name.rpartition('/')[2]}.lock"


class _FileClaim:
    """A held ``flock``: the OS lets it go when the descriptor closes, the process's
    death included. The file itself stays (deleting it would let two processes lock
    two different files of one name)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._guard = threading.Lock()

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        with self._guard:
            if self._fd is not None:
                os.close(self._fd)  # lets the lock go
                self._fd = None


def open_subscription_store(recorder: Any) -> SubscriptionStore:
    """The subscription store beside an application's recorder (memory, SQLite or
    PostgreSQL), its tables made if missing."""
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:
        return MemorySubscriptionStore()
    if isinstance(datastore, SQLiteDatastore):
        store = SQLiteSubscriptionStore(datastore)
        store.create_table()
        return store
    # Here, not at the top: psycopg comes with the postgres extra.
    from resilience.adapters.postgres_subscriptions import PostgresSubscriptionStore

    pg = PostgresSubscriptionStore(datastore)
    pg.create_table()
    return pg


def open_wakeup(recorder: Any) -> Wakeup:
    """A wake-up for new events of ``recorder``'s store: on PostgreSQL it LISTENs to the
    channel its inserts NOTIFY; elsewhere it only times out (the deliverer polls)."""
    datastore = getattr(recorder, "datastore", None)
    if datastore is None or isinstance(datastore, SQLiteDatastore):
        return Wakeup()
    from resilience.adapters.postgres_subscriptions import ListeningWakeup

    return ListeningWakeup(datastore, recorder.channel_name)
