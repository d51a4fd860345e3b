"""Where the views live: beside the events, in the same database.

Every view is a set of JSON documents keyed by ``(view, key)`` with indexed
columns for queries: ``kind``, ``community``, ``at`` (epoch seconds) and
``until`` (a case's end of being open: resilience.projections.indexes), so a
query reads the rows of one kind, community and period, or those that may be
open at a moment, not every case. One tracking position, eventsourcing's own
tracking record (named ``tracking_name``, e.g. ``resilience/views/v1``), says
which notification the views reflect, and a generation counts the rebuilds.
Each page of events is committed as one transaction: the changed documents and
the new position together, and only if the stored (generation, position) mark
is still the one the page was folded from. So two catch-up readers, in one
process or several, never apply an event twice, even when a rebuild has reset
the position and counted back up to the same number meanwhile. The three stores
are eventsourcing ``TrackingRecorder`` subclasses: ``max_tracking_id`` and
``wait`` work on them as on any view.

The memory and SQLite stores are here, the PostgreSQL one in
resilience.adapters.postgres_views; ``open_view_store`` opens the one beside
a recorder. The rows and the commit rule they share are in
resilience.adapters.viewrows. A table made before ``until`` existed gets the
column when first opened (``ALTER TABLE``, under the set-up lock); its rows
hold None there, which reads as "may be open" until the views are next
rebuilt, so answers stay exact.
"""

import json
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, Protocol, cast

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.popo import POPOTrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

from resilience.adapters.setup import sqlite_set_up, sqlite_write
from resilience.adapters.viewrows import (
    COLUMNS,
    GENERATIONS,
    INDEXES,
    TABLE,
    Mark,
    ViewRow,
    ViewsMoved,
    check_mark,
    where_clauses,
    within,
)

__all__ = ["Mark", "MemoryViewStore", "SQLiteViewStore", "ViewRow", "ViewStore", "ViewsMoved",
           "dumps", "open_view_store"]


class ViewStore(Protocol):
    """What the projection runner needs from a store of views (all three backends)."""

    tracking_name: str

    def mark(self) -> Mark: ...

    def fetch(self, view: str, keys: Collection[str]) -> dict[str, ViewRow]: ...

    def select(self, view: str, kind: str, *, start: float | None = None,
               end: float | None = None, community: str | None = None,
               until_after: float | None = None) -> Iterator[ViewRow]:
        """The rows of a kind, ``at`` within [start, end), of ``community``, and (given
        ``until_after``) whose ``until`` is None or later than it."""
        ...

    def commit(self, rows: Sequence[ViewRow], expected: Mark, position: int) -> None: ...

    def reset(self, views: Sequence[str]) -> None: ...

    def drop_indexes(self) -> None:
        """Drop the query indexes (``INDEXES``; never the key): before a rebuild writes
        every row, which costs several times less without them."""
        ...

    def make_indexes(self) -> None:
        """Make the query indexes that are missing (after a rebuild, or one that died
        before it could: opening the store makes them too)."""
        ...

    def prune(self, keep: Sequence[str], tracking_prefix: str) -> int: ...

    def drop_unsealed(self, tracking_prefix: str, suffix: str) -> int:
        """Delete every document, tracking record and generation of views whose names
        don't end with ``suffix`` (plain views, on a store now protected); return the
        documents deleted. Cheap when there are none: it looks at the positions first."""
        ...

    def max_tracking_id(self, application_name: str) -> int | None: ...


class MemoryViewStore(POPOTrackingRecorder):
    """Views of an in-memory store, in a dict: they vanish with the process, as its events do."""

    def __init__(self, tracking_name: str) -> None:
        super().__init__()
        self.tracking_name = tracking_name
        self._rows: dict[tuple[str, str], ViewRow] = {}
        # The same rows by (view, kind), so a select reads one kind of one view, as the
        # SQL stores' indexes let them.
        self._kinds: dict[tuple[str, str], dict[str, ViewRow]] = {}
        self._generation = 0
        self._write = threading.Lock()

    def mark(self) -> Mark:
        with self._write:
            return self._generation, self.max_tracking_id(self.tracking_name) or 0

    def fetch(self, view: str, keys: Collection[str]) -> dict[str, ViewRow]:
        rows = self._rows
        return {k: row for k in keys if (row := rows.get((view, k))) is not None}

    def select(self, view: str, kind: str, *, start: float | None = None,
               end: float | None = None, community: str | None = None,
               until_after: float | None = None) -> Iterator[ViewRow]:
        with self._write:
            rows = list(self._kinds.get((view, kind), {}).values())
        for row in rows:
            if within(row, start, end, community, until_after):
                yield row

    def commit(self, rows: Sequence[ViewRow], expected: Mark, position: int) -> None:
        with self._write:
            check_mark(self._generation, self.max_tracking_id(self.tracking_name), expected)
            self.insert_tracking(Tracking(self.tracking_name, position))  # may refuse: rows after
            for row in rows:
                before = self._rows.get((row.view, row.key))
                if before is not None and before.kind != row.kind:  # a live case ended
                    del self._kinds[(before.view, before.kind)][before.key]
                self._rows[(row.view, row.key)] = row
                self._kinds.setdefault((row.view, row.kind), {})[row.key] = row

    def reset(self, views: Sequence[str]) -> None:
        with self._write, self._database_lock:
            self._delete(lambda view: view in views)
            self._max_tracking_ids[self.tracking_name] = None
            self._generation += 1

    def drop_indexes(self) -> None:
        pass  # its one index, by (view, kind), is kept as rows are

    def make_indexes(self) -> None:
        pass

    def prune(self, keep: Sequence[str], tracking_prefix: str) -> int:
        with self._write, self._database_lock:
            gone = self._delete(lambda view: view not in keep)
            for name in list(self._max_tracking_ids):
                if name.startswith(tracking_prefix) and name != self.tracking_name:
                    del self._max_tracking_ids[name]
            return gone

    def drop_unsealed(self, tracking_prefix: str, suffix: str) -> int:
        with self._write, self._database_lock:
            gone = self._delete(lambda view: not view.endswith(suffix))
            for name in list(self._max_tracking_ids):
                if name.startswith(tracking_prefix) and not name.endswith(suffix):
                    del self._max_tracking_ids[name]
            return gone

    def _delete(self, doomed: Callable[[str], bool]) -> int:
        """Delete the rows of every view ``doomed`` says; return how many."""
        gone = [k for k in self._rows if doomed(k[0])]
        for key in gone:
            del self._rows[key]
        for group in [g for g in self._kinds if doomed(g[0])]:
            del self._kinds[group]
        return len(gone)


_COLUMNS = ", ".join(COLUMNS)


def _lacks_until(c: SQLiteCursor) -> bool:
    """Whether the views table is there without its ``until`` column (made before it)."""
    c.execute(f"PRAGMA table_info({TABLE})")
    names = {row["name"] for row in c.fetchall()}
    return bool(names) and "until" not in names


def _sqlite_indexes() -> list[str]:
    return [f"CREATE INDEX IF NOT EXISTS {TABLE}_{name} ON {TABLE} ({columns})"
            for name, columns in INDEXES]


class SQLiteViewStore(SQLiteTrackingRecorder):
    """Views in the SQLite file that holds the events (a table beside ``stored_events``)."""

    tracking_name: str

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {TABLE} (view TEXT NOT NULL, key TEXT NOT NULL, "
            "kind TEXT NOT NULL, community TEXT, at REAL, doc TEXT NOT NULL, until REAL, "
            "PRIMARY KEY (view, key))",
            *_sqlite_indexes(),
            f"CREATE TABLE IF NOT EXISTS {GENERATIONS} (name TEXT PRIMARY KEY, "
            "generation INTEGER NOT NULL)",
        ]

    def create_table(self) -> None:
        # The column first: the set-up's indexes name it.
        with self.datastore.transaction(commit=False) as c:
            lacking = _lacks_until(c)
        if lacking:
            with sqlite_write(self.datastore) as c:
                if _lacks_until(c):  # another opener may have added it meanwhile
                    c.execute(f"ALTER TABLE {TABLE} ADD COLUMN until REAL")
        sqlite_set_up(self)  # safe when many processes open the store at once

    def mark(self) -> Mark:
        with self.datastore.transaction(commit=False) as c:
            return self._mark(c)

    def _mark(self, c: SQLiteCursor) -> Mark:
        c.execute(f"SELECT generation FROM {GENERATIONS} WHERE name = ?", (self.tracking_name,))
        row = c.fetchone()
        return (row[0] if row else 0), self._max_tracking_id(self.tracking_name, c) or 0

    def fetch(self, view: str, keys: Collection[str]) -> dict[str, ViewRow]:
        found: dict[str, ViewRow] = {}
        keys = list(keys)
        with self.datastore.transaction(commit=False) as c:
            for i in range(0, len(keys), 500):  # SQLite caps bound parameters per statement
                chunk = keys[i:i + 500]
                c.execute(f"SELECT {_COLUMNS} FROM {TABLE} WHERE view = ? AND key IN "
                          f"({','.join('?' * len(chunk))})", [view, *chunk])
                for row in c.fetchall():
                    found[row["key"]] = ViewRow(*row)
        return found

    def select(self, view: str, kind: str, *, start: float | None = None,
               end: float | None = None, community: str | None = None,
               until_after: float | None = None) -> Iterator[ViewRow]:
        selects = where_clauses(view, kind, start, end, community, "?", until_after,
                                steer=True)
        with self.datastore.transaction(commit=False) as c:
            c.execute(" UNION ALL ".join(f"SELECT {_COLUMNS} FROM {TABLE} WHERE {where}"
                                         for where, _ in selects),
                      [param for _, params in selects for param in params])
            rows = [ViewRow(*row) for row in c.fetchall()]
        yield from rows

    # Every write transaction here holds SQLite's write lock from its BEGIN: one that
    # read first would fail at once, instead of waiting, when another connection writes.

    def commit(self, rows: Sequence[ViewRow], expected: Mark, position: int) -> None:
        with sqlite_write(self.datastore) as c:
            check_mark(*self._mark(c), expected)
            c.executemany(
                f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (view, key) DO UPDATE SET kind = excluded.kind, "
                "community = excluded.community, at = excluded.at, doc = excluded.doc, "
                "until = excluded.until", rows)
            self._insert_tracking(c, Tracking(self.tracking_name, position))

    def reset(self, views: Sequence[str]) -> None:
        with sqlite_write(self.datastore) as c:
            c.execute(f"SELECT 1 FROM {TABLE} WHERE view NOT IN ({','.join('?' * len(views))}) "
                      "LIMIT 1", list(views))
            if c.fetchone() is None:
                c.execute(f"DELETE FROM {TABLE}")  # no WHERE: SQLite truncates, no per-row work
            else:
                c.executemany(f"DELETE FROM {TABLE} WHERE view = ?", [(v,) for v in views])
            c.execute("DELETE FROM tracking WHERE application_name = ?", (self.tracking_name,))
            c.execute(f"INSERT INTO {GENERATIONS} VALUES (?, 1) ON CONFLICT (name) "
                      "DO UPDATE SET generation = generation + 1", (self.tracking_name,))

    def drop_indexes(self) -> None:
        with sqlite_write(self.datastore) as c:
            for name, _ in INDEXES:
                c.execute(f"DROP INDEX IF EXISTS {TABLE}_{name}")

    def make_indexes(self) -> None:
        with sqlite_write(self.datastore) as c:
            for statement in _sqlite_indexes():
                c.execute(statement)

    def prune(self, keep: Sequence[str], tracking_prefix: str) -> int:
        with sqlite_write(self.datastore) as c:
            c.execute(f"DELETE FROM {TABLE} WHERE view NOT IN ({','.join('?' * len(keep))})",
                      list(keep))
            c.execute("SELECT changes()")
            gone = c.fetchone()[0]
            for table, column in (("tracking", "application_name"), (GENERATIONS, "name")):
                c.execute(f"DELETE FROM {table} WHERE {column} LIKE ? AND {column} != ?",
                          (tracking_prefix + "%", self.tracking_name))
        return int(gone)

    def drop_unsealed(self, tracking_prefix: str, suffix: str) -> int:
        positions = (f"SELECT application_name FROM tracking WHERE application_name LIKE ? "
                     f"UNION SELECT name FROM {GENERATIONS} WHERE name LIKE ?")
        with self.datastore.transaction(commit=False) as c:
            c.execute(positions, (tracking_prefix + "%",) * 2)
            plain = [row[0] for row in c.fetchall() if not row[0].endswith(suffix)]
        if not plain:
            return 0
        with sqlite_write(self.datastore) as c:
            c.execute(f"DELETE FROM {TABLE} WHERE view NOT LIKE ?", ("%" + suffix,))
            c.execute("SELECT changes()")
            gone = c.fetchone()[0]
            for table, column in (("tracking", "application_name"), (GENERATIONS, "name")):
                c.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(n,) for n in plain])
        return int(gone)


def open_view_store(recorder: Any, tracking_name: str) -> ViewStore:
    """The view store beside an application's recorder (memory, SQLite or PostgreSQL)."""
    store: Any
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:
        store = MemoryViewStore(tracking_name)
    elif isinstance(datastore, SQLiteDatastore):
        store = SQLiteViewStore(datastore)
        store.tracking_name = tracking_name
        store.create_table()
    else:
        # Here, not at the top: psycopg comes with the postgres extra (see postgres_views).
        from resilience.adapters.postgres_views import TRACKING_TABLE, PostgresViewStore

        store = PostgresViewStore(datastore, tracking_table_name=TRACKING_TABLE)
        store.tracking_name = tracking_name
        store.create_table()
    assert isinstance(store, TrackingRecorder)
    return cast(ViewStore, store)


def dumps(doc: Any) -> str:
    """A view document as the JSON text stored: UTF-8 where it can be, else escaped.

    Text with a lone surrogate (which the event mapper stores, escaped) can't be
    encoded in UTF-8, so neither SQLite nor PostgreSQL would take it: such a
    document is written with every non-ASCII character escaped, and reads back
    the same. NUL and the other control characters are always escaped by JSON,
    so PostgreSQL's text (which refuses NUL) takes every document too.
    """
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    if not text.isascii():  # a flag lookup: free for ASCII documents
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = json.dumps(doc, separators=(",", ":"))
    return text
