"""The PostgreSQL events recorder that keeps the hash chain (resilience.adapters.chain).

Its own module, as resilience.adapters.postgres_views: psycopg comes with the
postgres extra, and eventsourcing imports this module only when a store's
``APPLICATION_RECORDER_TOPIC`` names the class here (a ``postgresql://`` URL).

Links are written in the insert's transaction after its ``LOCK TABLE ... IN
EXCLUSIVE MODE`` (eventsourcing's), which every writer of the table takes, so
the chain's head read there is the last committed one and links follow the
notification ids. The insert is pipelined as eventsourcing's is, with four
differences:

- A batch of any size is safe. psycopg's ``Pipeline.sync()`` flushes its
  output once and then waits for results (``pipeline_communicate`` ignores
  ``PQflush`` reporting unsent bytes; the same hole as psycopg issue 685, which
  was fixed on pipeline exit, not on sync). When a statement is bigger than the
  sockets take at once (about 12-16 MB here: one INSERT of ~20k-50k events), the
  server waits for the rest of it (``ClientRead``) while the client waits for a
  result: both forever. Here the events go in statements of at most
  :data:`CHUNK_BYTES`, each handed to the socket whole (:func:`drain`) before
  anything else is sent, all in the one transaction under the one lock.
- The events go as four binary arrays (``unnest``), not eventsourcing's array
  of composites in text form, which psycopg escapes field by field: about 4x
  faster to send. ``WITH ORDINALITY ... ORDER BY`` makes the notification ids
  follow the events' order, which the chain and the ids returned rely on.
- The transaction is begun and committed by statements in the pipeline: two
  round trips (BEGIN to the chain's head read; the links and COMMIT), where
  psycopg's ``transaction()`` in a pipeline syncs around BEGIN and COMMIT (five,
  as eventsourcing's insert takes). Whatever fails before COMMIT is sent, in
  the server or here (the links, the reads below), rolls the events back.
- The versions of the aggregates the command read (the insert's ``reads``:
  resilience.adapters.chain_recorders) are read under the lock in the same
  round trip, and checked before the links are written.

The chain's tables are ``<events table>_chain`` and ``<events table>_checkpoints``
in the events' schema (resilience.adapters.chain_recorders); links go in as
arrays too. Database functions (``POSTGRES_ENABLE_DB_FUNCTIONS``) insert without
this code, so they are refused.
"""

import selectors
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import (
    DataError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Composable, Identifier

from resilience.adapters.chain import ChainSettings, ChainState, ChainWriter, Link
from resilience.adapters.chain_checks import ChainWarnings, build, extend
from resilience.adapters.chain_recorders import (
    CHAIN_SUFFIX,
    CHECKPOINTS_SUFFIX,
    STATEMENTS,
    TABLES,
    Cursors,
    Reads,
    SqlChainRows,
    chain_state,
    check_reads,
    state_statement,
)
from resilience.adapters.setup import postgres_set_up
from resilience.errors import ConfigurationError
from resilience.i18n import _

CHUNK_BYTES = 256 * 1024
"""Bytes of events (states, topics, ids) per INSERT statement: far below what the sockets
hold, and a size at which the server's work on one statement overlaps sending the next."""

_ROW_OVERHEAD = 48
"""Bytes an event or link costs in the arrays besides its state and topic (lengths, id,
version), for sizing statements."""

T = TypeVar("T")

_INSERT: dict[str, str] = {
    "insert_events": (
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT i, v, t, s FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[]) "
        "WITH ORDINALITY AS u (i, v, t, s, o) ORDER BY o RETURNING notification_id"),
    "insert_links": (
        "INSERT INTO {chain} (notification_id, seq, originator_id, originator_version, link) "
        "SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::bigint[], "
        "%b::bytea[])"),
}


def chunks(items: Sequence[T], size: Callable[[T], int],
           budget: int | None = None) -> Iterator[Sequence[T]]:
    """``items`` in order, in runs of at most ``budget`` bytes (default
    :data:`CHUNK_BYTES`) by ``size``; a run holds at least one item, however big."""
    budget = CHUNK_BYTES if budget is None else budget
    start, used = 0, 0
    for index, item in enumerate(items):
        cost = size(item)
        if index > start and used + cost > budget:
            yield items[start:index]
            start, used = index, 0
        used += cost
    if start < len(items):
        yield items[start:]


def drain(conn: Any) -> None:
    """Hand everything libpq holds for the server to the socket, reading what the server
    sends meanwhile (so it never blocks on a full output buffer either): what libpq does
    itself outside a pipeline, and what psycopg's ``Pipeline.sync()`` does not (see the
    module's docstring). Waits as long as the server does not read, as blocking libpq
    would; TCP keepalives (resilience.adapters.store) end it if the server is gone."""
    pgconn = conn.pgconn
    if not pgconn.flush():
        return
    with selectors.DefaultSelector() as selector:
        selector.register(pgconn.socket, selectors.EVENT_READ | selectors.EVENT_WRITE)
        while pgconn.flush():
            for _, events in selector.select():
                if events & selectors.EVENT_READ:
                    pgconn.consume_input()


class PostgresChainRows(SqlChainRows):
    """The chain's rows on PostgreSQL: links inserted as arrays, a statement per
    :data:`CHUNK_BYTES`, each drained (the insert's transaction is pipelined)."""

    def add_links(self, links: Sequence[Link]) -> None:
        for chunk in chunks(links, lambda link: len(link.originator_id) + _ROW_OVERHEAD):
            with self._cursors() as c:
                c.execute(self._sql["insert_links"], (
                    [link.position for link in chunk], [link.seq for link in chunk],
                    [link.originator_id for link in chunk], [link.version for link in chunk],
                    [link.digest for link in chunk]))
                drain(c.connection)


def _size(event: StoredEvent) -> int:
    return len(event.state) + len(event.topic) + _ROW_OVERHEAD


def _roll_back(conn: Any) -> None:
    """End the transaction a failed insert left open or aborted (nothing is done on a
    connection the failure broke: the pool discards it)."""
    if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
        with suppress(Exception):  # the failure being raised is the one to see
            conn.rollback()


class PostgresEventRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL events recorder, set up safely by concurrent openers
    (resilience.adapters.setup), keeping the chain, inserting batches of any size,
    checking the ``reads`` of an insert."""

    checks_reads = True

    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            raise ConfigurationError(_("POSTGRES_ENABLE_DB_FUNCTIONS inserts events without "
                                       "their hash chain: leave it off"))
        self.chain_settings = ChainSettings()
        self.chain_warnings = ChainWarnings()
        schema = Identifier(datastore.schema)
        self.chain_table = SQL("{0}.{1}").format(
            schema, Identifier(events_table_name + CHAIN_SUFFIX))
        names: dict[str, Composable] = {
            "events": SQL("{0}.{1}").format(schema, Identifier(events_table_name)),
            "chain": self.chain_table,
            "checkpoints": SQL("{0}.{1}").format(
                schema, Identifier(events_table_name + CHECKPOINTS_SUFFIX)),
            "id": Identifier("notification_id"),
            "id_type": Identifier(datastore.originator_id_type),
        }
        self._chain_sql = {key: SQL(sql).format(**names)
                           for key, sql in {**STATEMENTS, **_INSERT}.items()}
        self._uuid_ids = datastore.originator_id_type == "uuid"
        types = {"integer": SQL("bigint"), "text": SQL("text"), "blob": SQL("bytea")}
        self.sql_create_statements.extend(SQL(table).format(**names, **types)
                                          for table in TABLES)

    def create_table(self) -> None:
        postgres_set_up(self)

    def _create_table(self, curs: Any) -> None:
        # Under set-up's lock: only the opener that creates the chain builds it, holding
        # the events' lock against writers of an older version meanwhile.
        curs.execute("SELECT to_regclass(%s) IS NULL AS new", (self.chain_table.as_string(),))
        new = curs.fetchone()["new"]
        super()._create_table(curs)
        if new:
            self._lock_table(curs)
            build(self._rows(lambda: curs.connection.cursor()))

    def _rows(self, cursors: Cursors) -> PostgresChainRows:
        return PostgresChainRows(self._chain_sql, cursors, lambda originator_id: originator_id)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], *, reads: Reads | None = None,
                      **kwargs: Any) -> Sequence[int] | None:
        failure: Exception | None = None
        closing: Exception | None = None
        notification_ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn:
            try:
                with conn.pipeline() as pipeline:
                    try:
                        notification_ids = self._insert(conn, pipeline, stored_events, reads,
                                                        kwargs)
                    except Exception as e:
                        failure = e  # raised once the pipeline is closed (as eventsourcing)
            except Exception as e:
                # The commit, sent as the pipeline closed, failed; or a failure psycopg
                # read before the sync (a later execute met it) left the results of the
                # statements after it unread, and closing the pipeline raised
                # PipelineAborted for them. The failure is what the caller must see,
                # whichever way the timing fell: a conflict as a conflict, a hot standby's
                # refusal as ReadOnlyStoreError (resilience.adapters.store), not a fault
                # to retry.
                closing = e
            if failure is None and closing is not None:
                failure, closing = closing, None
            if failure is not None:
                _roll_back(conn)
                if closing is not None:
                    raise failure from closing
                raise failure
        return notification_ids

    def _insert(self, conn: Any, pipeline: Any, stored_events: Sequence[StoredEvent],
                reads: Reads | None, kwargs: dict[str, Any]) -> Sequence[int] | None:
        """The insert's transaction in two round trips, where psycopg's ``transaction()``
        in a pipeline takes five (it syncs around its BEGIN and its COMMIT): BEGIN, the
        statements of ``_insert_chunks`` and a sync; then the links and COMMIT, sent as
        the pipeline closes. Anything raised before COMMIT is sent leaves the transaction
        open, or aborted, for ``insert_events`` to roll back."""
        with conn.cursor() as curs:
            curs.execute(b"BEGIN")
            self._insert_events(curs, stored_events, **kwargs)
        if not stored_events:
            with conn.cursor() as curs:
                curs.execute(b"COMMIT")
            return None
        notification_ids, state, versions = self._insert_chunks(conn, pipeline, stored_events,
                                                                reads)
        check_reads(reads, lambda _: versions)
        self._chain(conn, state, stored_events, notification_ids)
        with conn.cursor() as curs:
            curs.execute(b"COMMIT")
        return notification_ids

    def _insert_chunks(self, conn: Any, pipeline: Any, stored_events: Sequence[StoredEvent],
                       reads: Reads | None) -> tuple[list[int], ChainState, dict[str, int]]:
        """Lock, read the versions of ``reads``, notify, insert the events a chunk at a
        time and read the chain's head under the lock: one round trip, whatever the number
        of chunks."""
        with ExitStack() as cursors:
            first = cursors.enter_context(conn.cursor())
            self._lock_table(first)
            read = []
            for originator_id in reads or ():  # (before the insert's own events)
                curs = cursors.enter_context(conn.cursor())
                curs.execute(self._chain_sql["version"], (
                    originator_id if self._uuid_ids else str(originator_id),))
                read.append((originator_id, curs))
            self._notify_channel(first)
            inserts = []
            for chunk in chunks(stored_events, _size):
                curs = cursors.enter_context(conn.cursor())
                curs.execute(self._chain_sql["insert_events"], self._columns(chunk))
                drain(conn)
                inserts.append((curs, len(chunk)))
            head = cursors.enter_context(conn.cursor())
            # Read under the lock the insert took, in the same round trip.
            head.execute(self._chain_sql[state_statement(self.chain_settings.signing)])
            drain(conn)
            # A uniqueness violation raises here (as eventsourcing does it).
            pipeline.sync()
            ids: list[int] = []
            for curs, expected in inserts:
                found = [row["notification_id"] for row in curs.fetchall()]
                if len(found) != expected:
                    raise ProgrammingError(f"Couldn't get all notification IDs (got "
                                           f"{len(found)}, expected {expected})")
                ids.extend(found)
            # Ascending in the events' order (ORDER BY ordinality), whatever order the
            # server returned them in.
            ids.sort()
            versions = {str(originator_id): curs.fetchone()["version"] or 0
                        for originator_id, curs in read}
            return ids, chain_state(head.fetchone()), versions

    def _columns(self, events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
        originators: list[Any] = [e.originator_id for e in events]
        if self._uuid_ids and not all(isinstance(o, UUID) for o in originators):
            try:
                originators = [o if isinstance(o, UUID) else UUID(str(o)) for o in originators]
            except ValueError as exc:
                raise DataError(f"an originator id is not a UUID: {exc}") from exc
        return (originators, [e.originator_version for e in events],
                [e.topic for e in events], [e.state for e in events])

    def _chain(self, conn: Any, state: ChainState, stored_events: Sequence[StoredEvent],
               notification_ids: Sequence[int]) -> None:
        rows = self._rows(lambda: conn.cursor())
        links, checkpoint = extend(rows, self.chain_settings, state, stored_events,
                                   notification_ids, self.chain_warnings)
        rows.add_links(links)
        if checkpoint is not None:
            rows.add_checkpoint(checkpoint)

    def chain_reader(self) -> SqlChainRows:
        return self._rows(lambda: self.datastore.transaction(commit=False))

    @contextmanager
    def chain_writer(self) -> Iterator[ChainWriter]:
        with self.datastore.transaction(commit=True) as curs:
            self._lock_table(curs)
            yield self._rows(lambda: nullcontext(curs))
