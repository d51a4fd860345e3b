"""Where events live: one URL (or the ``RESILIENCE_DB`` variable) picks the store.

``memory:``                         in-process, for tests and throwaway runs
``sqlite:///relative/file.db``      the embedded default (``sqlite:////abs/path.db`` too)
``postgresql://user:pw@host:port/db?schema=name``   the scale-out store
A bare path such as ``resilience.db`` means a SQLite file.

``?timeout=SECONDS`` (SQLite and PostgreSQL URLs; default 10, at most
``MAX_WAIT``, a day; or the ``RESILIENCE_TIMEOUT`` setting in
``Engine(env=...)``) bounds every wait on
the store: for a connection, for a PostgreSQL connection to be made, for
another writer's lock. A store call that cannot get through in that time
raises :class:`~resilience.errors.StoreUnavailableError` and changed nothing;
the engine stays usable and reconnects by itself once the server answers.
Reaching a PostgreSQL server is bounded more tightly, by the
``RESILIENCE_CONNECT_TIMEOUT`` setting (seconds, default 5; in the environment
or ``Engine(env=...)``; never more than the timeout): each connection attempt,
and an opening engine's wait for its first connection, so a wrong host or port
fails in seconds. A schema the URL names that does not exist is created
(:func:`require_schema`).

How: :func:`configure_factory` gives eventsourcing's datastore these bounds.
On PostgreSQL it swaps in a connection pool that waits ``timeout`` for a
connection, connects with libpq's ``connect_timeout`` and TCP keepalives,
drops idle connections the server has closed (a restart) before handing one
out, and keeps trying to reconnect about every second during an outage
(psycopg_pool's own back-off would wait up to minutes after the server is
back); the table lock waits ``POSTGRES_LOCK_TIMEOUT`` (the timeout, in whole
seconds). On SQLite the lock wait (``SQLITE_LOCK_TIMEOUT``) is the timeout.
Either way the store's own faults (unreachable, locked, disk full) become
``StoreUnavailableError``: :class:`StoreTimeout` after a whole wait (not
retried by eventsourcing, so a call waits one timeout, not ten), else
:class:`StoreFault`.
"""

import functools
import math
import os
import re
import select
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from cattrs import transform_error
from eventsourcing.persistence import (
    DataError,
    InfrastructureFactory,
    InfrastructureFactoryError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
)
from eventsourcing.utils import TopicError

from resilience.adapters.setup import (
    MEMORY_PERSISTENCE_TOPIC,
    POSTGRES_EVENT_RECORDER_TOPIC,
    READ_ONLY_QUERY,
    SQLITE_EVENT_RECORDER_TOPIC,
    lock_set_up,
    read_only_message,
)
from resilience.domain.validation import MAX_WAIT, check_wait
from resilience.errors import (
    ConfigurationError,
    InvalidInputError,
    ReadOnlyStoreError,
    ResilienceError,
    StoreUnavailableError,
)
from resilience.i18n import _

ENV_VAR = "RESILIENCE_DB"
DEFAULT_URL = "sqlite:///resilience.db"
MAPPER_TOPIC = "resilience.adapters.mapper:ConverterMapper"
TIMEOUT_SETTING = "RESILIENCE_TIMEOUT"
DEFAULT_TIMEOUT = 10.0
"""Seconds a store call may wait (for a connection, a lock) before StoreUnavailableError."""
CONNECT_TIMEOUT_SETTING = "RESILIENCE_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to reach a PostgreSQL server: each connection attempt (libpq's
``connect_timeout``), and the wait for the first connection of an engine that has not
reached its server yet (an opening), if shorter than the timeout."""
RECONNECT_EVERY = 1.0
"""Seconds between PostgreSQL reconnection attempts while the server does not answer."""


def resolve_url(url: str | None) -> str:
    """The URL to use: the one given, else ``$RESILIENCE_DB``, else the SQLite default."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def store_env(url: str) -> dict[str, str]:
    """eventsourcing settings for the store a URL names."""
    env = {"MAPPER_TOPIC": MAPPER_TOPIC}
    if url in ("memory:", "memory://", "popo:"):
        env["PERSISTENCE_MODULE"] = MEMORY_PERSISTENCE_TOPIC  # eventsourcing.popo, chained
        return env
    parts = urlsplit(url)
    if parts.scheme in ("", "sqlite"):
        path = url if parts.scheme == "" else url[len("sqlite://"):]
        if parts.scheme == "sqlite" and path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs -> /abs
        query: dict[str, list[str]] = {}
        if parts.scheme == "sqlite":
            path, _mark, text = path.partition("?")
            query = _parameters(text, url, ("timeout",))
        if not path:
            raise ConfigurationError(
                _("no SQLite file in {url}; e.g. sqlite:///resilience.db").format(url=repr(url)))
        timeout = _timeout(query, url)
        env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env["APPLICATION_RECORDER_TOPIC"] = SQLITE_EVENT_RECORDER_TOPIC  # safe concurrent set-up
        env["SQLITE_DBNAME"] = unquote(path)
        env[TIMEOUT_SETTING] = f"{timeout:g}"
        env["SQLITE_LOCK_TIMEOUT"] = str(math.ceil(timeout))  # eventsourcing wants whole seconds
        return env
    if parts.scheme in ("postgresql", "postgres"):
        dbname = parts.path.lstrip("/")
        if not dbname:
            raise ConfigurationError(_("no database name in {url}").format(url=repr(url)))
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            APPLICATION_RECORDER_TOPIC=POSTGRES_EVENT_RECORDER_TOPIC,  # safe concurrent set-up
            POSTGRES_DBNAME=unquote(dbname),
            POSTGRES_HOST=parts.hostname or "127.0.0.1",
            POSTGRES_PORT=str(parts.port or 5432),
            POSTGRES_USER=unquote(parts.username or "postgres"),
            POSTGRES_PASSWORD=unquote(parts.password or ""),
        )
        query = _parameters(parts.query, url, ("schema", "timeout"))
        if "schema" in query:
            if "\x00" in query["schema"][0]:
                raise ConfigurationError(
                    _("a schema name cannot hold a NUL character: {url}").format(url=repr(url)))
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        timeout = _timeout(query, url)
        whole = str(math.ceil(timeout))  # eventsourcing reads these as whole seconds
        env.update({TIMEOUT_SETTING: f"{timeout:g}", "POSTGRES_CONNECT_TIMEOUT": whole,
                    "POSTGRES_LOCK_TIMEOUT": whole})
        return env
    raise ConfigurationError(
        _("unknown store {url}: use memory:, sqlite:///FILE or postgresql://USER@HOST/DB")
        .format(url=repr(url)))


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _parameters(text: str, url: str, known: tuple[str, ...]) -> dict[str, list[str]]:
    query = parse_qs(text)
    for name in query:
        if name not in known:
            raise ConfigurationError(
                _("unknown parameter {name} in {url}; this store takes {known}").format(
                    name=repr(name), url=repr(url), known=", ".join(f"{k}=" for k in known)))
    return query


def _timeout(query: Mapping[str, list[str]], url: str) -> float:
    return seconds(query["timeout"][0] if "timeout" in query else None,
                   _("timeout in {url}").format(url=repr(url)))


def seconds(text: str | None, what: str, default: float = DEFAULT_TIMEOUT) -> float:
    """A timeout setting: a number of seconds > 0 and at most MAX_WAIT (``None``: the
    default); else ConfigurationError."""
    if text is None:
        return default
    try:
        return check_wait(float(text), what)
    except (ValueError, InvalidInputError):  # not a number, or not one the rule allows
        raise ConfigurationError(
            _("{what} must be a number of seconds > 0 and at most {most}, got {value}").format(
                what=what, most=f"{MAX_WAIT:,.0f}", value=repr(text))) from None


# Faults of the store itself ---------------------------------------------------------


class StoreFault(StoreUnavailableError, OperationalError):
    """A store call failed (unreachable, locked, disk full, connection lost).

    Both the documented :class:`StoreUnavailableError` and eventsourcing's
    ``OperationalError`` it replaces, so eventsourcing's own handling (its
    retries of a lost connection, its set-up checks) works unchanged.
    """


class StoreTimeout(StoreUnavailableError):
    """A store call waited its whole timeout (for a connection, for a lock).

    Deliberately not an ``OperationalError``: eventsourcing retries those up to
    ten times, which would make the wait ten times the timeout.
    """


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (database drivers' messages span several),
    with what each part of an exception group says: a cattrs structuring error's own
    message only counts its sub-exceptions, and whoever fixes the data (an upcaster to
    write) needs them, ``[required field missing @ $.description]``."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, BaseExceptionGroup):
        text += f" [{'; '.join(' '.join(line.split()) for line in transform_error(exc))}]"
    return text


def describe(exc: BaseException) -> str:
    """``Type: message`` on one line, named by the documented class (StoreFault and the
    other adapters' double-typed errors show as the resilience.errors class they are)."""
    documented = next(c for c in type(exc).__mro__
                      if not c.__module__.startswith("resilience.adapters"))
    return f"{documented.__name__}: {one_line(exc)}"


def configure_factory(factory: InfrastructureFactory[Any]) -> None:
    """Bound the waits of the datastore an eventsourcing factory has just made, and make
    its faults StoreUnavailableError (see the module's docstring). Call it before any
    recorder is made (``Application.construct_factory``)."""
    datastore = getattr(factory, "datastore", None)
    if datastore is None:
        return  # in memory: nothing to wait for
    timeout = seconds(factory.env.get(TIMEOUT_SETTING), TIMEOUT_SETTING)
    if isinstance(datastore, SQLiteDatastore):
        replacement = _SQLiteStore(
            datastore.pool.db_name, lock_timeout=datastore.pool.lock_timeout,
            pool_timeout=timeout, single_row_tracking=datastore.single_row_tracking,
            originator_id_type=datastore.originator_id_type)
        datastore.close()
        factory.datastore = replacement  # type: ignore[attr-defined]
    else:
        connect = seconds(factory.env.get(CONNECT_TIMEOUT_SETTING), CONNECT_TIMEOUT_SETTING,
                          DEFAULT_CONNECT_TIMEOUT)
        _bound_postgres(datastore, timeout, min(connect, timeout))


STATEMENT_CACHE = 128
"""Prepared statements each SQLite connection keeps (the sqlite3 module's own default)."""


class _SQLitePool(SQLiteConnectionPool):
    """eventsourcing's SQLite connections, keeping their prepared statements.

    eventsourcing opens them with ``cached_statements=True``, which sqlite3 reads as
    a cache of one statement: each statement but the last one run was compiled
    again every time (about 100 µs for a query with subqueries, such as the hash
    chain's head read at every insert; a few µs for a simple one).
    """

    def _create_connection(self) -> SQLiteConnection:
        if not (self.is_sqlite_memory_mode or self.is_journal_mode_wal):
            super()._create_connection().close()  # it puts the file in WAL mode, once
        try:
            connection = sqlite3.connect(
                database=self.db_name, uri=True, check_same_thread=False, isolation_level=None,
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT)
        except (sqlite3.Error, TypeError) as exc:
            raise InterfaceError(exc) from exc  # as eventsourcing says it
        connection.row_factory = sqlite3.Row
        return SQLiteConnection(sqlite_conn=connection, max_age=self.max_age)


class _SQLiteStore(SQLiteDatastore):
    """eventsourcing's SQLite datastore, whose faults are StoreFault, and whose connections
    keep their prepared statements (_SQLitePool)."""

    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        made = self.pool
        self.pool = _SQLitePool(
            db_name=db_name, lock_timeout=made.lock_timeout, pool_size=made.pool_size,
            max_overflow=made.max_overflow, pool_timeout=made.pool_timeout,
            max_age=made.max_age, pre_ping=made.pre_ping)
        made.close()

    @contextmanager
    def get_connection(self, *, commit: bool) -> Iterator[SQLiteConnection]:
        try:
            with super().get_connection(commit=commit) as connection:
                yield connection
        except StoreUnavailableError:
            raise
        except (OperationalError, InterfaceError) as exc:
            message = one_line(exc)
            if "locked" in message:
                raise StoreFault(_("SQLite store {name}: {error} (by another writer; waited up "
                                   "to {seconds} s)").format(
                    name=self.pool.db_name, error=message,
                    seconds=self.pool.lock_timeout)) from exc
            raise StoreFault(_("SQLite store {name}: {error}").format(
                name=self.pool.db_name, error=message)) from exc


PLAIN_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""The schema names an engine creates: eventsourcing names some objects with the schema
unquoted (its types), so another name (upper case, spaces, quotes) would make a schema
whose tables cannot then be set up."""


def require_schema(factory: InfrastructureFactory[Any]) -> None:
    """On PostgreSQL, make sure the schema the URL names exists: eventsourcing creates
    tables in it, not the schema itself. A missing one is created, under the set-up lock
    (``lock_set_up``), so openers racing on a new schema create it once. Where it cannot
    be, the error names it: ReadOnlyStoreError on a server that takes no writes (a hot
    standby: the primary creates it), ConfigurationError when the user may not create
    schemas in that database, or when the name is not a plain lower-case identifier
    (``PLAIN_SCHEMA``)."""
    datastore = getattr(factory, "datastore", None)
    if datastore is None or isinstance(datastore, SQLiteDatastore) or datastore.schema == "public":
        return
    from psycopg.sql import SQL, Identifier  # here: SQLite and memory stores run without it

    schema, where = datastore.schema, datastore.pool.where
    with datastore.transaction(commit=False) as curs:
        curs.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
        if curs.fetchone() is not None:
            return
        curs.execute(READ_ONLY_QUERY)
        if curs.fetchone()["read_only"]:
            raise ReadOnlyStoreError(read_only_message(
                where, _("it has no schema {schema}, and creates none: open an engine on "
                         "the primary first").format(schema=repr(schema))))
    if not PLAIN_SCHEMA.fullmatch(schema):
        raise ConfigurationError(
            _("PostgreSQL at {where} has no schema {schema}, and only a plain lower-case "
              "name (letters, digits, _) is created: create it (CREATE SCHEMA) or correct "
              "the URL's ?schema=").format(where=where, schema=repr(schema)))
    try:
        with datastore.transaction(commit=True) as curs:
            lock_set_up(curs, schema)
            curs.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))
    except ProgrammingError as exc:  # insufficient privilege
        raise ConfigurationError(
            _("PostgreSQL at {where} has no schema {schema}, and user {user} may not create "
              "it ({error}): create it (CREATE SCHEMA), or correct the URL's ?schema=").format(
                where=where, schema=repr(schema), user=repr(datastore.pool.kwargs.get("user")),
                error=one_line(exc))) from exc


def _bound_postgres(datastore: Any, timeout: float, connect: float) -> None:
    old = datastore.pool
    kwargs = dict(old.kwargs)
    kwargs["connect_timeout"] = max(2, math.ceil(connect))  # libpq's minimum is 2
    # A server that vanished mid-query (its host gone, not restarted) is noticed by TCP
    # keepalives about timeout + 3 s later, instead of the system's two hours.
    kwargs.update(keepalives=1, keepalives_idle=math.ceil(timeout), keepalives_interval=1,
                  keepalives_count=3)
    datastore.pool = _postgres_pool_class()(
        kwargs=kwargs, connection_class=old.connection_class,
        min_size=old.min_size, max_size=old.max_size, open=False,
        configure=datastore.after_connect_func(), timeout=timeout,
        max_waiting=old.max_waiting, max_lifetime=old.max_lifetime,
        reconnect_timeout=RECONNECT_EVERY, get_password_func=old.get_password_func,
        where=f"{kwargs['host']}:{kwargs['port']}/{kwargs['dbname']}", connect=connect,
        lock_timeout=datastore.lock_timeout)
    old.close()


@functools.cache
def _postgres_pool_class() -> type[Any]:
    """The pool class (made on first use: psycopg comes with the postgres extra)."""
    import psycopg
    from eventsourcing.postgres import ConnectionPool
    from psycopg.errors import LockNotAvailable, ReadOnlySqlTransaction
    from psycopg_pool import PoolClosed, PoolTimeout

    class Pool(ConnectionPool[Any]):
        """eventsourcing's pool, with bounded waits, quick reconnection and StoreFaults."""

        connect: float | None = None
        """Seconds to wait for a connection until the server has answered once."""
        reached = False
        """Whether the server has answered once. Until it has (an engine opening), a call
        waits only ``connect`` for it: a wrong host or port is said within seconds."""

        def __init__(self, *, where: str, lock_timeout: int, connect: float,
                     **kwargs: Any) -> None:
            self.where = where
            self.lock_timeout = lock_timeout
            self.connect = connect
            self.last_error: str | None = None
            super().__init__(check=self._check_idle, **kwargs)

        @contextmanager
        def connection(self, timeout: float | None = None) -> Iterator[Any]:
            wait = self.connect if timeout is None and not self.reached else timeout
            try:
                with super().connection(wait) as conn:
                    self.reached = True
                    yield conn
            except PoolTimeout as exc:
                message = (_("PostgreSQL at {where}: no connection within {seconds} s: "
                             "{error}") if self.last_error else
                           _("PostgreSQL at {where}: no connection within {seconds} s"))
                raise StoreTimeout(message.format(where=self.where,
                                                  seconds=f"{wait or self.timeout:g}",
                                                  error=self.last_error)) from exc
            except LockNotAvailable as exc:
                raise StoreTimeout(_("PostgreSQL at {where}: another writer held the "
                                     "events table for {seconds} s").format(
                    where=self.where, seconds=self.lock_timeout)) from exc
            except PoolClosed as exc:  # for good: not an OperationalError, not retried
                raise StoreUnavailableError(_("PostgreSQL at {where}: the engine is "
                                              "closed").format(where=self.where)) from exc
            except psycopg.Error as exc:
                if (refusal := self._refusal(exc)) is not None:  # a hot standby: for good
                    raise ReadOnlyStoreError(read_only_message(
                        self.where, one_line(refusal))) from exc
                if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
                    raise StoreFault(_("PostgreSQL at {where}: {error}").format(
                        where=self.where, error=one_line(exc))) from exc
                raise

        @staticmethod
        def _refusal(exc: BaseException | None) -> BaseException | None:
            """The read-only refusal (SQLSTATE 25006) ``exc`` is or follows from, if any.
            psycopg raises it directly, or, in a pipeline, may raise PipelineAborted for
            the statements after the refused one, with the refusal in its chain (the
            events' insert raises the refusal itself: resilience.adapters.chain_postgres;
            any other pipelined write may not): a write refused either way."""
            seen = set()
            while exc is not None and id(exc) not in seen:
                if isinstance(exc, ReadOnlySqlTransaction):
                    return exc
                seen.add(id(exc))
                exc = exc.__cause__ or exc.__context__
            return None

        def _connect(self, timeout: float | None = None) -> Any:
            try:
                conn = super()._connect(timeout)
            except Exception as exc:
                self.last_error = one_line(exc)
                raise
            self.last_error = None
            return conn

        def _check_idle(self, conn: Any) -> None:
            """Before an idle connection is handed out: a healthy idle connection has
            nothing to read, one the server closed (a restart) has its goodbye and EOF.
            Only those are pinged, so a call pays a poll, not a round trip."""
            if not conn.closed:
                poller = select.poll()
                poller.register(conn.fileno(), select.POLLIN)
                if not poller.poll(0):
                    return
            try:
                ConnectionPool.check_connection(conn)
            except Exception:
                # The server closed this one, so most likely every idle one: drop them
                # now rather than meet them one by one (with a growing pause between).
                self.check()
                raise

        def reconnect_failed(self) -> None:
            # psycopg_pool gave up one (re)connection attempt after RECONNECT_EVERY:
            # start another at once, so a server that is back is found within a second.
            super().reconnect_failed()
            if not self.closed:
                self.check()

    return Pool


def read_only(recorder: Any) -> bool:
    """Whether the store behind an events recorder takes no writes (see READ_ONLY_QUERY);
    memory and SQLite stores always take them."""
    datastore = getattr(recorder, "datastore", None)
    if datastore is None or isinstance(datastore, SQLiteDatastore):
        return False
    with datastore.transaction(commit=False) as curs:
        curs.execute(READ_ONLY_QUERY)
        return bool(curs.fetchone()["read_only"])


@contextmanager
def opening(url: str) -> Iterator[None]:
    """Opening a store: a setting or URL eventsourcing refuses is a ConfigurationError, a
    store that cannot be reached or set up a StoreUnavailableError."""
    url = redacted(url)
    try:
        yield
    except ResilienceError:
        raise
    except (InfrastructureFactoryError, TopicError, ProgrammingError, DataError,
            NotSupportedError, OSError, ValueError) as exc:
        # Settings eventsourcing can't use (a topic, a factory), a store refusing what
        # the URL says (a schema name, a privilege), missing or malformed settings (a
        # cipher key, a pool size: eventsourcing raises OSError or ValueError for them).
        raise ConfigurationError(_("cannot open {url}: {error}").format(
            url=url, error=one_line(exc))) from exc
    except PersistenceError as exc:
        raise StoreUnavailableError(_("cannot open {url}: {error}").format(
            url=url, error=one_line(exc))) from exc


def notification_id(recorder: Any, originator_id: UUID, version: int) -> int | None:
    """The notification id (position in the log) of one recorded event, None if it isn't
    recorded: eventsourcing returns ids only from the insert that made them, and a command
    repeated after a lost acknowledgement needs the ids of the earlier insert."""
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:  # eventsourcing.popo: ids are positions in its list, from 1
        index = recorder._stored_events_index.get(str(originator_id), {}).get(version)
        return None if index is None else int(index) + 1
    if isinstance(datastore, SQLiteDatastore):
        key = originator_id.hex if datastore.originator_id_type == "uuid" else str(originator_id)
        with datastore.transaction(commit=False) as c:
            c.execute(f"SELECT rowid FROM {recorder.events_table_name} "
                      "WHERE originator_id = ? AND originator_version = ?", (key, version))
            row = c.fetchone()
        return None if row is None else int(row[0])
    from psycopg.sql import SQL, Identifier

    statement = SQL("SELECT notification_id FROM {}.{} WHERE originator_id = %s "
                    "AND originator_version = %s").format(
        Identifier(datastore.schema), Identifier(recorder.events_table_name))
    text_ids = datastore.originator_id_type != "uuid"
    with datastore.transaction(commit=False) as curs:
        curs.execute(statement, (str(originator_id) if text_ids else originator_id, version))
        found = curs.fetchone()
    return None if found is None else int(found["notification_id"])
