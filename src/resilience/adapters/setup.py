"""Setting up a store's tables when any number of processes open it at once.

eventsourcing creates its tables, types and functions every time a recorder is
made, without coordination: processes opening one store together race on
PostgreSQL (``tuple concurrently updated`` from ``CREATE OR REPLACE
FUNCTION``, duplicate types and tables on a fresh schema) and on SQLite (two
openers both insert the tracking table's ``__migration__`` row). Here each
recorder first checks, reading only, that everything its create statements
name is already there (and on PostgreSQL that the insert function has the
body it would write); if so it creates nothing. Otherwise it sets up under a
lock that serialises set-up per store: on PostgreSQL an advisory transaction
lock per schema, on SQLite a ``BEGIN IMMEDIATE`` transaction (SQLite's write
lock). Inside the lock it looks again, from the state the previous holder
committed, before creating anything. On a PostgreSQL server that takes no writes (a
hot standby: a streaming replica) nothing is created: the primary set the tables up
and replication brought them; set-up only checks they are there
(:class:`~resilience.errors.ReadOnlyStoreError` if not).

The events recorders (resilience.adapters.chain_recorders, chain_postgres: they
keep the hash chain) are selected with eventsourcing's settings, named here for
:mod:`resilience.adapters.store`; they and the view stores call
:func:`sqlite_set_up` and :func:`postgres_set_up` from their ``create_table``. A
create statement not recognised here only costs the fast path: set-up then always
runs, under the lock.
"""

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteRecorder,
    SQLiteTrackingRecorder,
    SQLiteTransaction,
)

from resilience.errors import ReadOnlyStoreError
from resilience.i18n import _

SQLITE_EVENT_RECORDER_TOPIC = "resilience.adapters.chain_recorders:SQLiteEventRecorder"
POSTGRES_EVENT_RECORDER_TOPIC = "resilience.adapters.chain_postgres:PostgresEventRecorder"
MEMORY_PERSISTENCE_TOPIC = "resilience.adapters.chain_recorders:MemoryFactory"
MIGRATION = "__migration__"
"""eventsourcing's row in a tracking table saying it has single-row tracking."""


# SQLite ------------------------------------------------------------------------


class _ImmediateTransaction(SQLiteTransaction):
    """eventsourcing's SQLite transaction, begun with the write lock held."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            cursor.sqlite_cursor.close()
            self._raise(exc)
        return cursor

    def _raise(self, exc: sqlite3.Error) -> None:
        # The base class's __exit__ rolls back (nothing here) and re-raises the error
        # as eventsourcing's own exception class, as for any failed transaction.
        self.__exit__(type(exc), exc, exc.__traceback__)
        raise exc  # not reached: __exit__ always raises when given an exception


@contextmanager
def sqlite_write(datastore: SQLiteDatastore) -> Iterator[SQLiteCursor]:
    """A SQLite write transaction that holds the write lock from its first statement.

    eventsourcing's transactions ``BEGIN`` deferred: one that reads before it
    writes fails at once with "database is locked" when another connection
    writes meanwhile, where a transaction that starts with the lock waits for it
    (up to ``SQLITE_LOCK_TIMEOUT``) like any write. Commits at the end, or rolls
    back if the block raises; errors are eventsourcing's persistence errors.
    """
    with (datastore.get_connection(commit=True) as conn,
          _ImmediateTransaction(conn, commit=True) as cursor, cursor):
        yield cursor


_SQLITE_OBJECT = re.compile(
    r"\s*CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+IF\s+NOT\s+EXISTS\s+\"?(\w+)\"?[\s(]", re.I)


def _sqlite_objects(statements: list[str]) -> list[str] | None:
    """The tables and indexes the statements create, or None if one isn't understood."""
    names = []
    for statement in statements:
        found = _SQLITE_OBJECT.match(statement)
        if found is None:
            return None
        names.append(found.group(1))
    return names


def _sqlite_tracking_state(recorder: SQLiteTrackingRecorder, c: SQLiteCursor) -> None:
    """Tell eventsourcing's tracking set-up what is there now (it reads it before its
    transaction, so two openers could both find nothing and both insert the migration row)."""
    c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tracking'")
    recorder.tracking_table_exists = c.fetchone() is not None
    migration = recorder._max_tracking_id(MIGRATION, c) if recorder.tracking_table_exists else None
    recorder.tracking_migration_previous = recorder.tracking_migration_current = migration


def _sqlite_ready(recorder: SQLiteRecorder, c: SQLiteCursor) -> bool:
    names = _sqlite_objects(recorder.create_table_statements)
    if names is None:
        return False
    if names:
        c.execute(f"SELECT count(DISTINCT name) FROM sqlite_master WHERE name IN "
                  f"({','.join('?' * len(names))})", names)
        if c.fetchone()[0] != len(set(names)):
            return False
    if isinstance(recorder, SQLiteTrackingRecorder):
        return _tracking_ready(recorder, lambda: _sqlite_tracking_state(recorder, c))
    return True


def _tracking_ready(recorder: Any, read_state: Callable[[], None]) -> bool:
    """Whether a tracking recorder's set-up is done besides its tables: the single-row
    layout (the legacy one is left to eventsourcing's checks, under the lock) with its
    migration row in place (``read_state`` reads it)."""
    if not recorder.datastore.single_row_tracking:
        return False
    read_state()
    return bool(recorder.tracking_migration_previous)


def _check_tracking_layout(recorder: Any, tracking: bool) -> None:
    """eventsourcing's own refusal, after a set-up that found legacy multi-row tracking."""
    if (tracking and not recorder.datastore.single_row_tracking
            and recorder.tracking_migration_current is not None):
        raise OperationalError("Can't do multi-row tracking with single-row tracking table")


def _sqlite_wal(datastore: SQLiteDatastore) -> None:
    """Put a SQLite file in WAL mode, waiting for other openers doing the same.

    eventsourcing switches a file to WAL as it makes its first connection, and on
    a new file opened by several processes at once that switch fails at once with
    "database is locked" (SQLite doesn't wait on its busy timeout there). Done here
    first, with retries; eventsourcing then finds the file in WAL mode already.
    """
    pool = datastore.pool
    if pool.is_sqlite_memory_mode or pool.is_journal_mode_wal:
        return
    timeout = pool.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT
    deadline = time.monotonic() + timeout
    pause = 0.005
    try:
        conn = sqlite3.connect(pool.db_name, uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise InterfaceError(exc) from exc  # as eventsourcing says it
    try:
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
    except sqlite3.Error as exc:
        raise OperationalError(exc) from exc
    finally:
        conn.close()


def sqlite_set_up(recorder: SQLiteRecorder) -> None:
    """Create a SQLite recorder's tables unless they are there, one process at a time."""
    _sqlite_wal(recorder.datastore)
    with recorder.datastore.transaction(commit=False) as c:
        if _sqlite_ready(recorder, c):
            return
    with sqlite_write(recorder.datastore) as c:
        if _sqlite_ready(recorder, c):
            return
        if isinstance(recorder, SQLiteTrackingRecorder):
            _sqlite_tracking_state(recorder, c)
        recorder._create_table(c)
    _check_tracking_layout(recorder, isinstance(recorder, SQLiteTrackingRecorder))


# PostgreSQL --------------------------------------------------------------------

_IDENT = r'"(?:[^"]|"")+"'
_QUALIFIED = rf"({_IDENT})\.({_IDENT})"
_PG_RELATION = re.compile(
    rf"\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+{_QUALIFIED}"
    rf"|\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\s+({_IDENT})\s+ON\s+{_QUALIFIED}",
    re.I)
_PG_TYPE = re.compile(rf"\s*CREATE\s+TYPE\s+{_QUALIFIED}", re.I)
_PG_FUNCTION = re.compile(
    rf"\s*CREATE\s+OR\s+REPLACE\s+FUNCTION\s+{_QUALIFIED}\s*\(.*?\$BODY\$(.*)\$BODY\$\s*$",
    re.I | re.S)


def _unquote(identifier: str) -> str:
    return identifier[1:-1].replace('""', '"')


def _pg_checks(statements: list[Any],
               functions: bool = True) -> tuple[str, list[Any]] | None:
    """One query that is true when everything the statements create exists as they
    would create it (functions as well, unless ``functions`` is false), or None if one
    isn't understood."""
    checks: list[str] = []
    params: list[Any] = []
    for statement in statements:
        text = statement.as_string()
        if found := _PG_RELATION.match(text):
            schema, table, index, index_schema = (found.group(1), found.group(2),
                                                  found.group(3), found.group(4))
            checks.append("to_regclass(%s) IS NOT NULL")
            params.append(f"{schema}.{table}" if table else f"{index_schema}.{index}")
        elif found := _PG_TYPE.match(text):
            checks.append("to_regtype(%s) IS NOT NULL")
            params.append(f"{found.group(1)}.{found.group(2)}")
        elif (found := _PG_FUNCTION.match(text)) and not functions:
            continue
        elif found:
            # The body carries settings (the lock timeout): a different one is replaced.
            checks.append("EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n "
                          "ON n.oid = p.pronamespace "
                          "WHERE n.nspname = %s AND p.proname = %s AND p.prosrc = %s)")
            params.extend([_unquote(found.group(1)), _unquote(found.group(2)), found.group(3)])
        else:
            return None
    return "SELECT " + (" AND ".join(checks) or "true") + " AS ready", params


def _pg_tracking_state(recorder: Any, curs: Any) -> None:
    """As :func:`_sqlite_tracking_state`, on PostgreSQL."""
    from psycopg.sql import Identifier

    table = (f"{Identifier(recorder.datastore.schema).as_string()}."
             f"{Identifier(recorder.tracking_table_name).as_string()}")
    curs.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (table,))
    recorder.tracking_table_exists = bool(curs.fetchone()["found"])
    migration = None
    if recorder.tracking_table_exists:
        curs.execute(recorder.max_tracking_id_statement, (MIGRATION,))
        migration = curs.fetchone()["max"]
    recorder.tracking_migration_previous = recorder.tracking_migration_current = migration


def _pg_ready(recorder: Any, curs: Any) -> bool:
    from eventsourcing.postgres import PostgresTrackingRecorder

    query = _pg_checks(recorder.sql_create_statements)
    if query is None:
        return False
    curs.execute(*query)
    if not curs.fetchone()["ready"]:
        return False
    if isinstance(recorder, PostgresTrackingRecorder):
        return _tracking_ready(recorder, lambda: _pg_tracking_state(recorder, curs))
    return True


READ_ONLY_QUERY = ("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') "
                   "= 'on' AS read_only")
"""True on a server that takes no writes: a hot standby (a streaming replica, in recovery),
or one whose transactions are read-only by default."""


def read_only_message(where: str, why: str) -> str:
    """What ReadOnlyStoreError says of a store at ``where`` refusing a write, ``why``."""
    return _("PostgreSQL at {where} is read-only (a hot standby): {why}; commands, "
             "checkpoints and catching up the views go to the primary").format(
        where=where, why=why)


def _read_only_set_up(recorder: Any, curs: Any) -> None:
    """On a server that takes no writes (a hot standby), set-up creates nothing: the
    primary did it, and replication brought its tables here. Only their being there is
    checked (not the insert function's body, which carries the primary's openers' lock
    timeout: nothing inserts here); ReadOnlyStoreError if they are not."""
    from eventsourcing.postgres import PostgresTrackingRecorder

    query = _pg_checks(recorder.sql_create_statements, functions=False)
    if query is not None:
        curs.execute(*query)
        if not curs.fetchone()["ready"]:
            datastore = recorder.datastore
            where = getattr(datastore.pool, "where", "the server")
            raise ReadOnlyStoreError(read_only_message(
                where, _("the schema {schema} lacks tables that an engine opened on the "
                         "primary creates: open one there first").format(
                    schema=repr(datastore.schema))))
    if isinstance(recorder, PostgresTrackingRecorder):
        _pg_tracking_state(recorder, curs)


def lock_set_up(cursor: Any, schema: str) -> None:
    """Take the lock that serialises set-up in a PostgreSQL ``schema`` (every set-up there:
    the recorders', the view stores', the key table's), held until the cursor's
    transaction ends."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                   (f"resilience set-up {schema}",))


def postgres_set_up(recorder: Any) -> None:
    """Create a PostgreSQL recorder's tables, types and functions unless they are there
    as it would create them, one process at a time per schema; on a server that takes
    no writes (a hot standby), only check that its tables are there."""
    from eventsourcing.postgres import PostgresTrackingRecorder
    from psycopg.errors import DuplicateObject

    datastore = recorder.datastore
    with datastore.transaction(commit=False) as curs:
        ready = _pg_ready(recorder, curs)
        if not ready:
            curs.execute(READ_ONLY_QUERY)
            if curs.fetchone()["read_only"]:
                _read_only_set_up(recorder, curs)
                ready = True
    if not ready:
        with datastore.transaction(commit=True) as curs:
            # Held until this transaction ends: the next opener then finds it all done.
            lock_set_up(curs, datastore.schema)
            if not _pg_ready(recorder, curs):
                for statement in recorder.sql_create_statements:
                    if "CREATE TYPE" in statement.as_string():
                        # No IF NOT EXISTS for types: a savepoint keeps the transaction.
                        with suppress(DuplicateObject), curs.connection.transaction():
                            curs.execute(statement, prepare=False)
                if isinstance(recorder, PostgresTrackingRecorder):
                    _pg_tracking_state(recorder, curs)
                recorder._create_table(curs)
    datastore.register_type_adapters()
    _check_tracking_layout(recorder, isinstance(recorder, PostgresTrackingRecorder))

