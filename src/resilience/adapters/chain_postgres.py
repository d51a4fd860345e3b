"""The PostgreSQL events recorder that keeps the hash chain (resilience.adapters.chain).

Its own module, as resilience.adapters.postgres_views: psycopg comes with the
postgres extra, and eventsourcing imports this module only when a store's
``APPLICATION_RECORDER_TOPIC`` names the class here (a ``postgresql://`` URL).

Links are written in the insert's transaction after its ``LOCK TABLE ... IN
EXCLUSIVE MODE`` (eventsourcing's), which every writer of the table takes, so
the chain's head read there is the last committed one and links follow the
notification ids. The insert is eventsourcing's pipelined one, with one
difference: eventsourcing keeps an error raised after the insert to raise once
the pipeline has closed, and commits the transaction meanwhile; the links are
written after that step, where an error rolls the events back with them. The
chain's tables are ``<events table>_chain`` and ``<events table>_checkpoints``
in the events' schema (resilience.adapters.chain_recorders). Database functions
(``POSTGRES_ENABLE_DB_FUNCTIONS``) insert without this code, so they are refused.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Composable, Identifier

from resilience.adapters.chain import ChainSettings, ChainState, ChainWriter
from resilience.adapters.chain_checks import ChainWarnings, build, extend
from resilience.adapters.chain_recorders import (
    CHAIN_SUFFIX,
    CHECKPOINTS_SUFFIX,
    STATEMENTS,
    TABLES,
    SqlChainRows,
    chain_state,
    state_statement,
)
from resilience.adapters.setup import postgres_set_up
from resilience.errors import ConfigurationError


class PostgresEventRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL events recorder, set up safely by concurrent openers
    (resilience.adapters.setup), keeping the chain."""

    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            raise ConfigurationError("POSTGRES_ENABLE_DB_FUNCTIONS inserts events without "
                                     "their hash chain: leave it off")
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
        }
        self._chain_sql = {key: SQL(sql).format(**names) for key, sql in STATEMENTS.items()}
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

    def _rows(self, cursors: Any) -> SqlChainRows:
        return SqlChainRows(self._chain_sql, cursors, lambda originator_id: originator_id)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        exc: Exception | None = None
        notification_ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn:
            with conn.pipeline() as pipeline, conn.transaction():
                with conn.cursor() as curs:
                    self._insert_events(curs, stored_events, **kwargs)
                if len(stored_events) > 0:
                    state: Any = None
                    with conn.cursor() as curs, conn.cursor() as head:
                        try:
                            self._insert_stored_events(curs, stored_events, **kwargs)
                            # Read under the lock the insert took, in the same round trip.
                            head.execute(self._chain_sql[state_statement(
                                self.chain_settings.signing)])
                            # A uniqueness violation raises here (as eventsourcing does it).
                            pipeline.sync()
                            notification_ids = self._fetch_ids_after_insert_events(
                                curs, stored_events, **kwargs)
                            state = chain_state(head.fetchone())
                        except Exception as e:
                            exc = e  # raised once the pipeline is closed (as eventsourcing)
                    if exc is None:
                        assert notification_ids is not None
                        self._chain(conn, state, stored_events, notification_ids)
            if exc:
                raise exc
        return notification_ids

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
