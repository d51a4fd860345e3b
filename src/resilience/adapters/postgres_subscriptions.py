"""Subscriptions on PostgreSQL: their positions and dead letters, and the LISTEN wake-up.

Its own module, as resilience.adapters.postgres_views: psycopg comes with the postgres
extra. Positions are tracking records in the views' tracking table
(``resilience_views_tracking``), dead letters rows of ``resilience_dead_letters``, both
in the events' schema; a writer first locks the subscription's position row, so two
deliverers queue there and the second finds the position moved.

eventsourcing's events recorder sends ``NOTIFY <events table>`` (its ``channel_name``,
e.g. ``resilience_events``) in every insert's transaction, so a listener hears of new
events as they commit. A NOTIFY can be lost (a dropped connection; upstream
eventsourcing issue #305), so the wake-up only shortens a deliverer's wait: it still
polls every interval. Channels are per database, not per schema: stores in other
schemas of one database wake it too, which costs one poll.

A subscription's deliverer lock (``claim``) is a session advisory lock
(``pg_try_advisory_lock``) keyed by a 64-bit hash of the schema and the tracking name,
taken on a connection of its own that the deliverer holds while it delivers: the server
lets it go when that connection closes, the deliverer's process dying included (a host
that vanished is noticed by the server's TCP keepalives, set on that session). A pooler
in transaction mode (pgbouncer's) does not keep session locks: connect to the server
itself, or through a session-mode pool.
"""

import hashlib
import logging
import threading
from typing import Any

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from resilience.adapters.postgres_views import TRACKING_TABLE
from resilience.adapters.setup import postgres_set_up
from resilience.adapters.store import StoreFault, describe
from resilience.adapters.subscription_rows import (
    DEAD_LETTERS,
    Claim,
    DeadLetterRow,
    Wakeup,
    check_position,
)
from resilience.i18n import _

_log = logging.getLogger("resilience.notifications")

RELISTEN_EVERY = 5.0
"""Seconds between attempts to listen again after the listening connection failed."""


class PostgresSubscriptionStore(PostgresTrackingRecorder):
    """Positions and dead letters of subscriptions in the events' PostgreSQL schema."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        super().__init__(datastore, tracking_table_name=TRACKING_TABLE)
        schema, table = Identifier(datastore.schema), Identifier(DEAD_LETTERS)
        tracking = Identifier(self.tracking_table_name)
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {0}.{1} (subscription text NOT NULL, "
                "key text NOT NULL, position bigint NOT NULL, doc text NOT NULL, "
                "PRIMARY KEY (subscription, key))").format(schema, table))
        self._ensure_row = SQL("INSERT INTO {0}.{1} VALUES (%s, 0) ON CONFLICT DO NOTHING"
                               ).format(schema, tracking)
        self._lock_row = SQL("SELECT notification_id FROM {0}.{1} WHERE application_name = %s "
                             "FOR UPDATE").format(schema, tracking)
        self._upsert = SQL("INSERT INTO {0}.{1} VALUES (%s, %s, %s, %s) ON CONFLICT "
                           "(subscription, key) DO UPDATE SET position = excluded.position, "
                           "doc = excluded.doc").format(schema, table)
        self._select = SQL("SELECT subscription, key, position, doc FROM {0}.{1} "
                           "WHERE subscription = %s ORDER BY position").format(schema, table)
        self._delete = SQL("DELETE FROM {0}.{1} WHERE subscription = %s AND key = %s"
                           ).format(schema, table)

    def create_table(self) -> None:
        postgres_set_up(self)  # safe when many processes open the store at once

    def position(self, name: str) -> int:
        with self.datastore.transaction(commit=False) as c:
            return self._max_tracking_id(name, c) or 0

    def advance(self, name: str, expected: int, position: int,
                dead: DeadLetterRow | None = None) -> None:
        with self.datastore.transaction(commit=True) as c:
            # A row to lock even before the first notice: two deliverers starting on a
            # new subscription then queue on it instead of both inserting.
            c.execute(self._ensure_row, (name,))
            c.execute(self._lock_row, (name,))
            found = c.fetchone()
            check_position(None if found is None else found["notification_id"], expected,
                           position, name)
            if dead is not None:
                c.execute(self._upsert, tuple(dead))
            self._insert_tracking(c, Tracking(name, position))

    def dead_letters(self, name: str) -> list[DeadLetterRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select, (name,))
            return [DeadLetterRow(**row) for row in c.fetchall()]

    def keep(self, row: DeadLetterRow) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._upsert, tuple(row))

    def drop(self, name: str, key: str) -> bool:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._delete, (name, key))
            return bool(c.rowcount)

    def claim(self, name: str) -> Claim | None:
        key = advisory_key(self.datastore.schema, name)
        try:
            conn = connect(self.datastore)
        except psycopg.Error as exc:
            raise StoreFault(_("cannot connect for the deliverer lock of {name}: {error}")
                             .format(name=name, error=describe(exc))) from exc
        conn.row_factory = tuple_row
        try:
            kwargs: Any = self.datastore.pool.kwargs
            idle = kwargs.get("keepalives_idle")
            if idle is not None:  # the server notices a vanished deliverer's host too
                for setting, value in (("tcp_keepalives_idle", idle),
                                       ("tcp_keepalives_interval", 1),
                                       ("tcp_keepalives_count", 3)):
                    conn.execute("SELECT set_config(%s, %s, false)", (setting, str(value)))
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise StoreFault(_("cannot take the deliverer lock of {name}: {error}").format(
                name=name, error=describe(exc))) from exc
        if row is None or not row[0]:
            conn.close()
            return None
        return _AdvisoryClaim(conn)


def advisory_key(schema: str, name: str) -> int:
    """The advisory lock key of a subscription's deliverer lock: a signed 64-bit hash of
    the schema and the tracking name (advisory locks are per database)."""
    digest = hashlib.blake2b(f"{schema}\x00{name}".encode(), digest_size=8,
                             person=b"resilience-sub").digest()
    return int.from_bytes(digest, "big", signed=True)


def connect(datastore: PostgresDatastore) -> Any:
    """A connection of its own (not the pool's), in autocommit, made as the pool makes
    them: libpq's connect_timeout and TCP keepalives included."""
    pool: Any = datastore.pool
    kwargs = dict(pool.kwargs)
    get_password = getattr(pool, "get_password_func", None)
    if get_password is not None:
        kwargs["password"] = get_password()
    return psycopg.connect(autocommit=True, **kwargs)


class _AdvisoryClaim:
    """A session advisory lock, held while its connection lives."""

    def __init__(self, conn: Any) -> None:
        self._conn: Any = conn
        self._guard = threading.Lock()

    def held(self) -> bool:
        """Whether the lock's connection still answers (a server restart or a dropped
        connection lets the lock go)."""
        with self._guard:
            if self._conn is None:
                return False
            try:
                self._conn.execute("SELECT 1")
            except psycopg.Error:
                self._conn.close()
                self._conn = None
                return False
            return True

    def release(self) -> None:
        with self._guard:
            if self._conn is not None:
                self._conn.close()  # the session ends: the server lets the lock go
                self._conn = None


class ListeningWakeup(Wakeup):
    """A wake-up set by the events' NOTIFY: a thread LISTENs on a connection of its own
    (not one of the pool's: a listening connection collects notifications until it is
    closed), reconnecting every RELISTEN_EVERY seconds while it can't."""

    def __init__(self, datastore: PostgresDatastore, channel: str) -> None:
        super().__init__()
        self._datastore = datastore
        self._channel = channel
        self._stopping = threading.Event()
        self.listening = threading.Event()
        """Set while the listener holds a LISTENing connection (tests and benchmarks)."""
        self._thread = threading.Thread(target=self._listen, name="resilience-listen",
                                        daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        failing = False
        while not self._stopping.is_set():
            try:
                with connect(self._datastore) as conn:
                    conn.execute(SQL("LISTEN {0}").format(Identifier(self._channel)))
                    self.listening.set()
                    if failing:
                        _log.info("listening for new events again")
                        failing = False
                    self.set()  # events may have come while nobody listened
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.25, stop_after=1):
                            self.set()
            except Exception as exc:  # logged; the deliverer polls meanwhile
                self.listening.clear()
                if not failing:
                    _log.warning("cannot listen for new events (polling meanwhile): %s",
                                 describe(exc))
                    failing = True
                self._stopping.wait(RELISTEN_EVERY)
        self.listening.clear()

    def close(self) -> None:
        self._stopping.set()
        self._thread.join()
