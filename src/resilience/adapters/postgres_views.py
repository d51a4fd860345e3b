"""Views in PostgreSQL: the store of views beside the events, in the events' schema.

Its own module, as eventsourcing has ``eventsourcing.postgres``: psycopg comes
with the postgres extra, and only this module imports it, so the library
opens memory and SQLite stores without it (resilience.adapters.viewstore
imports this module only to open a PostgreSQL store). The position of the
views is eventsourcing's tracking record in ``TRACKING_TABLE``; every writer
first locks that row, so writers queue in one order.
"""

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.sql import SQL, Identifier

from resilience.adapters.setup import lock_set_up, postgres_set_up
from resilience.adapters.viewrows import (
    COLUMNS,
    GENERATIONS,
    INDEXES,
    TABLE,
    Mark,
    ViewRow,
    check_mark,
    where_clauses,
)

TRACKING_TABLE = "resilience_views_tracking"  # SQLite keeps eventsourcing's "tracking" table


class PostgresViewStore(PostgresTrackingRecorder):
    """Views in the PostgreSQL schema that holds the events."""

    tracking_name: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema, table = Identifier(self.datastore.schema), Identifier(TABLE)
        self._make_indexes = [
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1}.{2} (" + columns + ")").format(
                Identifier(f"{TABLE}_{name}"), schema, table) for name, columns in INDEXES]
        self._drop_indexes = [SQL("DROP INDEX IF EXISTS {0}.{1}").format(
            schema, Identifier(f"{TABLE}_{name}")) for name, _ in INDEXES]
        self.sql_create_statements.extend([
            SQL("CREATE TABLE IF NOT EXISTS {0}.{1} (view text NOT NULL, key text NOT NULL, "
                "kind text NOT NULL, community text, at double precision, doc text NOT NULL, "
                "until double precision, PRIMARY KEY (view, key))").format(schema, table),
            *self._make_indexes,
            SQL("CREATE TABLE IF NOT EXISTS {0}.{1} (name text PRIMARY KEY, "
                "generation bigint NOT NULL)").format(schema, Identifier(GENERATIONS)),
        ])
        self._select_generation = SQL("SELECT generation FROM {0}.{1} WHERE name = %s").format(
            schema, Identifier(GENERATIONS))
        self._next_generation = SQL(
            "INSERT INTO {0}.{1} VALUES (%s, 1) ON CONFLICT (name) "
            "DO UPDATE SET generation = {0}.{1}.generation + 1").format(
            schema, Identifier(GENERATIONS))
        self._delete_other_generations = SQL(
            "DELETE FROM {0}.{1} WHERE name LIKE %s AND name != %s").format(
            schema, Identifier(GENERATIONS))
        columns = ", ".join(COLUMNS)
        self._select_all = SQL("SELECT " + columns + " FROM {0}.{1} ").format(schema, table)
        self._upsert = SQL(
            "INSERT INTO {0}.{1} (" + columns + ") VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (view, key) DO UPDATE SET kind = excluded.kind, "
            "community = excluded.community, at = excluded.at, doc = excluded.doc, "
            "until = excluded.until").format(schema, table)
        self._lacks_until = SQL(
            "SELECT to_regclass(%s) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
            "information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "AND column_name = 'until') AS lacking")
        self._add_until = SQL(
            "ALTER TABLE {0}.{1} ADD COLUMN IF NOT EXISTS until double precision").format(
            schema, table)
        # A row to lock even before the first page: two readers starting on an
        # empty view then queue on it instead of both inserting.
        self._ensure_position_row = SQL(
            "INSERT INTO {0}.{1} VALUES (%s, 0) ON CONFLICT DO NOTHING").format(
            schema, Identifier(self.tracking_table_name))
        self._lock_position = SQL(
            "SELECT notification_id FROM {0}.{1} WHERE application_name = %s FOR UPDATE"
        ).format(schema, Identifier(self.tracking_table_name))
        self._delete_view = SQL("DELETE FROM {0}.{1} WHERE view = ANY(%s)").format(
            schema, table)
        self._delete_other_views = SQL(
            "DELETE FROM {0}.{1} WHERE NOT (view = ANY(%s))").format(schema, table)
        self._delete_tracking = SQL(
            "DELETE FROM {0}.{1} WHERE application_name = %s").format(
            schema, Identifier(self.tracking_table_name))
        self._positions = SQL(
            "SELECT application_name AS name FROM {0}.{1} WHERE application_name LIKE %s "
            "UNION SELECT name FROM {0}.{2} WHERE name LIKE %s").format(
            schema, Identifier(self.tracking_table_name), Identifier(GENERATIONS))
        self._delete_unsealed = SQL("DELETE FROM {0}.{1} WHERE view NOT LIKE %s").format(
            schema, table)
        self._delete_positions = [
            SQL("DELETE FROM {0}.{1} WHERE application_name = ANY(%s)").format(
                schema, Identifier(self.tracking_table_name)),
            SQL("DELETE FROM {0}.{1} WHERE name = ANY(%s)").format(schema, Identifier(GENERATIONS)),
        ]
        self._delete_other_tracking = SQL(
            "DELETE FROM {0}.{1} WHERE application_name LIKE %s AND application_name != %s"
        ).format(schema, Identifier(self.tracking_table_name))

    def create_table(self) -> None:
        # The column first (the set-up's indexes name it), and only if it is missing:
        # ALTER TABLE waits for every reader of the table, so an opener reads first.
        if self._lacking_until():
            with self.datastore.transaction(commit=True) as c:
                lock_set_up(c, self.datastore.schema)
                c.execute(self._add_until)
        postgres_set_up(self)  # safe when many processes open the store at once

    def _lacking_until(self) -> bool:
        """Whether the views table is there without its ``until`` column (made before it)."""
        schema = self.datastore.schema
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._lacks_until, (f"{Identifier(schema).as_string()}."
                                          f"{Identifier(TABLE).as_string()}", schema, TABLE))
            found = c.fetchone()
            return found is not None and bool(found["lacking"])

    def mark(self) -> Mark:
        with self.datastore.transaction(commit=False) as c:
            return self._generation(c), self._max_tracking_id(self.tracking_name, c) or 0

    def _generation(self, c: Any) -> int:
        c.execute(self._select_generation, (self.tracking_name,))
        row = c.fetchone()
        return int(row["generation"]) if row else 0

    def fetch(self, view: str, keys: Collection[str]) -> dict[str, ViewRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._select_all + SQL("WHERE view = %s AND key = ANY(%s)"),
                      (view, list(keys)))
            return {row["key"]: ViewRow(**row) for row in c.fetchall()}

    def select(self, view: str, kind: str, *, start: float | None = None,
               end: float | None = None, community: str | None = None,
               until_after: float | None = None) -> Iterator[ViewRow]:
        selects = where_clauses(view, kind, start, end, community, "%s", until_after)
        with self.datastore.transaction(commit=False) as c:
            c.execute(SQL(" UNION ALL ").join(self._select_all + SQL("WHERE " + where)
                                              for where, _ in selects),
                      [param for _, params in selects for param in params])
            rows = [ViewRow(**row) for row in c.fetchall()]
        yield from rows

    def _hold_position(self, c: Any) -> int | None:
        """Lock the position row (made if missing): writers of these views queue here
        first, so they never wait on each other's documents the other way round."""
        c.execute(self._ensure_position_row, (self.tracking_name,))
        c.execute(self._lock_position, (self.tracking_name,))
        found = c.fetchone()
        if found is None or found["notification_id"] is None:
            return None
        return int(found["notification_id"])

    def commit(self, rows: Sequence[ViewRow], expected: Mark, position: int) -> None:
        with self.datastore.transaction(commit=True) as c:
            found = self._hold_position(c)
            check_mark(self._generation(c), found, expected)
            if rows:
                c.executemany(self._upsert, rows)
            self._insert_tracking(c, Tracking(self.tracking_name, position))

    def reset(self, views: Sequence[str]) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._hold_position(c)  # as commit does, before touching any document
            c.execute(self._delete_view, (list(views),))
            c.execute(self._delete_tracking, (self.tracking_name,))
            c.execute(self._next_generation, (self.tracking_name,))

    def drop_indexes(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._hold_position(c)  # as commit does: never between a writer and its rows
            for statement in self._drop_indexes:
                c.execute(statement)

    def make_indexes(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for statement in self._make_indexes:
                c.execute(statement)

    def prune(self, keep: Sequence[str], tracking_prefix: str) -> int:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._delete_other_views, (list(keep),))
            gone = c.rowcount
            for statement in (self._delete_other_tracking, self._delete_other_generations):
                c.execute(statement, (tracking_prefix + "%", self.tracking_name))
        return int(gone)

    def drop_unsealed(self, tracking_prefix: str, suffix: str) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._positions, (tracking_prefix + "%",) * 2)
            plain = [row["name"] for row in c.fetchall() if not row["name"].endswith(suffix)]
        if not plain:
            return 0
        with self.datastore.transaction(commit=True) as c:
            self._hold_position(c)  # as commit does, before touching any document
            c.execute(self._delete_unsealed, ("%" + suffix,))
            gone = c.rowcount
            for statement in self._delete_positions:
                c.execute(statement, (plain,))
        return int(gone)
