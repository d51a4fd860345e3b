"""The events recorders that keep the hash chain (resilience.adapters.chain): memory and
SQLite here, PostgreSQL in resilience.adapters.chain_postgres; and the chain's tables.

Each recorder writes the links of the events it inserts, and any checkpoint that
falls due, in the insert's own transaction while it holds the events' write lock:
the memory store's lock; on SQLite the write lock, taken at ``BEGIN IMMEDIATE``
(a deferred transaction that reads the chain's head first would fail at once
beside another writer instead of waiting for it). The SQLite recorder gives each
event its notification id (``rowid``) itself, one past both the last event and
the chain's head: SQLite would otherwise hand the ids of the newest events out
again after someone deleted them by hand, and the new events would take the
deleted ones' places in the chain instead of leaving the gap verification names.

The chain lives in two tables beside the events, named after the events table
(``stored_events_chain``, ``stored_events_checkpoints`` on SQLite): one row per
event (position, place in the chain, originator id and version, link) and one
per checkpoint. They are created with the events table, safely when several
processes open a store at once (resilience.adapters.setup); when they are
created for a store that already holds events, the chain is built over those
events in the same transaction (:func:`resilience.adapters.chain_checks.build`).

Each recorder also checks, under the same lock, the aggregates a command decided on
without writing them (the community whose roster the policy read): the insert's
``reads`` keyword maps each one's id to the version the command read, and the insert
raises :class:`StaleReadError`, recording nothing, unless each still stands at that
version. So a command decides on cached copies without reading the store first, and
what it decided on is checked as stored when it is recorded, in the insert's own round
trip (resilience.services.core).
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from itertools import chain
from typing import Any, LiteralString
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from resilience.adapters.chain import (
    ChainSettings,
    ChainState,
    ChainWriter,
    Checkpoint,
    CheckpointKind,
    Link,
    timestamp,
)
from resilience.adapters.chain_checks import ChainWarnings, build, extend
from resilience.adapters.setup import sqlite_set_up, sqlite_write
from resilience.i18n import _

CHAIN_SUFFIX = "_chain"
CHECKPOINTS_SUFFIX = "_checkpoints"

# The chain's statements, in both SQL dialects: {events}, {chain} and {checkpoints} are
# the tables, {id} the events' position column, %s a parameter (? on SQLite).
_STATE: LiteralString = (
    # One statement, so one snapshot (PostgreSQL reads each statement's own), and one trip.
    "SELECT (SELECT max(position) FROM {checkpoints}) AS checkpoints_max, "
    "(SELECT max({id}) FROM {events}) AS events_max, h.notification_id, h.seq, "
    "h.originator_id, h.originator_version, h.link, c.position AS c_position, "
    "c.events AS c_events, c.link AS c_link, c.recorded_at AS c_recorded_at, "
    "c.every AS c_every, c.kind AS c_kind, c.key_id AS c_key_id, c.signature AS c_signature "
    "FROM (SELECT 1 AS one) AS x "
    "LEFT JOIN (SELECT * FROM {chain} ORDER BY notification_id DESC LIMIT 1) AS h ON 1 = 1 "
    "LEFT JOIN (SELECT * FROM {checkpoints} %(signed)s ORDER BY position DESC LIMIT 1) AS c "
    "ON 1 = 1")
STATEMENTS: dict[str, LiteralString] = {
    "state": _STATE.replace("%(signed)s", ""),
    "state_signed": _STATE.replace("%(signed)s", "WHERE signature IS NOT NULL"),
    "events": (
        "SELECT {id} AS id, originator_id, originator_version, topic, state FROM {events} "
        "WHERE {id} > %s AND {id} <= %s ORDER BY {id} LIMIT %s"),
    "links": (
        "SELECT notification_id, seq, originator_id, originator_version, link FROM {chain} "
        "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id "
        "LIMIT %s"),
    "checkpoints": (
        "SELECT * FROM {checkpoints} WHERE position > %s AND position <= %s "
        "ORDER BY position LIMIT %s"),
    "add_link": "INSERT INTO {chain} VALUES (%s, %s, %s, %s, %s)",
    "version": "SELECT max(originator_version) AS version FROM {events} WHERE originator_id = %s",
    "add_checkpoint": (
        "INSERT INTO {checkpoints} VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (position) DO UPDATE SET events = excluded.events, "
        "link = excluded.link, recorded_at = excluded.recorded_at, every = excluded.every, "
        "kind = excluded.kind, key_id = excluded.key_id, signature = excluded.signature"),
}
TABLES: tuple[LiteralString, LiteralString] = (
    "CREATE TABLE IF NOT EXISTS {chain} (notification_id {integer} PRIMARY KEY, "
    "seq {integer} NOT NULL, originator_id {text} NOT NULL, originator_version {integer} "
    "NOT NULL, link {blob} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {checkpoints} (position {integer} PRIMARY KEY, "
    "events {integer} NOT NULL, link {text} NOT NULL, recorded_at {text} NOT NULL, "
    "every {integer}, kind {text} NOT NULL, key_id {text}, signature {text})",
)

Reads = Mapping[UUID, int]
"""The aggregates a command read and did not write, each at the version it read (an
insert's ``reads``)."""


class StaleReadError(IntegrityError):
    """An aggregate the command decided on (``reads``) was changed by another writer before
    the insert: nothing was recorded (an IntegrityError, as a version clash is: eventsourcing
    does not retry it); the command is decided again on it as stored."""


def check_reads(reads: Reads | None, stored: Callable[[Reads], Mapping[str, int]]) -> None:
    """StaleReadError unless every aggregate in ``reads`` stands at the version read;
    ``stored`` gives the versions stored now, by id as text (missing: none)."""
    if reads:
        found = stored(reads)
        moved = [i for i, version in reads.items() if found.get(str(i), 0) != version]
        if moved:
            raise StaleReadError(_("{ids} changed since the command read it; nothing was "
                                   "recorded").format(ids=", ".join(map(str, moved))))


Cursors = Callable[[], AbstractContextManager[Any]]
"""Gives a cursor to run one statement on: in a transaction held by the caller, or each
in a read transaction of its own."""


class SqlChainRows:
    """The chain's rows in a SQL store (both dialects): ``ChainWriter`` over ``cursors``."""

    def __init__(self, statements: dict[str, Any], cursors: Cursors,
                 originator_id: Callable[[Any], UUID | str]) -> None:
        self._sql = statements
        self._cursors = cursors
        self._originator_id = originator_id

    def _rows(self, name: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._cursors() as c:
            c.execute(self._sql[name], params)
            return list(c.fetchall())

    def state(self, signed: bool = False) -> ChainState:
        return chain_state(self._rows(state_statement(signed))[0])

    def events(self, after: int, stop: int, limit: int) -> Sequence[Notification]:
        return [Notification(id=row["id"], originator_id=self._originator_id(row["originator_id"]),
                             originator_version=row["originator_version"], topic=row["topic"],
                             state=_bytes(row["state"]))
                for row in self._rows("events", (after, stop, limit))]

    def links(self, after: int, stop: int, limit: int) -> Sequence[Link]:
        return [_link(row) for row in self._rows("links", (after, stop, limit))]

    def checkpoints(self, after: int, stop: int, limit: int) -> Sequence[Checkpoint]:
        return [_checkpoint(row) for row in self._rows("checkpoints", (after, stop, limit))]

    def add_links(self, links: Sequence[Link]) -> None:
        if links:
            with self._cursors() as c:
                c.executemany(self._sql["add_link"], links)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        with self._cursors() as c:
            c.execute(self._sql["add_checkpoint"], (
                checkpoint.position, checkpoint.events, checkpoint.link,
                timestamp(checkpoint.recorded_at), checkpoint.every, checkpoint.kind.value,
                checkpoint.key_id, checkpoint.signature))


def state_statement(signed: bool) -> str:
    """The name of the statement reading a :class:`ChainState` (:func:`chain_state`)."""
    return "state_signed" if signed else "state"


def chain_state(row: Any) -> ChainState:
    """The row the state statement read."""
    head = None if row["notification_id"] is None else _link(row)
    latest = None if row["c_position"] is None else _checkpoint(row, "c_")
    return ChainState(head, row["events_max"] or 0, row["checkpoints_max"] or 0, latest)


def _bytes(value: object) -> bytes:
    """A stored state as bytes, also when someone stored another type in its place (SQLite
    keeps what it is given: ``state || x'20'`` is text), so that it fails its link."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "surrogateescape")


def _link(row: Any) -> Link:
    return Link(row["notification_id"], row["seq"], row["originator_id"],
                row["originator_version"], bytes(row["link"]))


def _checkpoint(row: Any, prefix: str = "") -> Checkpoint:
    """A checkpoint row (its columns named with ``prefix``); one that cannot be read (edited
    by hand) as a checkpoint that matches nothing, so verification names it."""
    column = {name: row[prefix + name] for name in (
        "position", "events", "link", "recorded_at", "every", "kind", "key_id", "signature")}
    try:
        recorded_at = datetime.fromisoformat(column["recorded_at"])
        kind = CheckpointKind(column["kind"])
    except (TypeError, ValueError):
        return Checkpoint(column["position"], -1, "unreadable", datetime.fromtimestamp(0, UTC),
                          None, CheckpointKind.INTERVAL)
    return Checkpoint(column["position"], column["events"], column["link"], recorded_at,
                      column["every"], kind, column["key_id"], column["signature"])


# Memory -------------------------------------------------------------------------------


class MemoryEventRecorder(POPOApplicationRecorder):
    """eventsourcing's in-memory events recorder, keeping the chain in memory beside them,
    checking the ``reads`` of an insert."""

    checks_reads = True

    def __init__(self) -> None:
        super().__init__()
        self.chain_settings = ChainSettings()
        self.chain_warnings = ChainWarnings()
        self.links: dict[int, Link] = {}
        self.checkpoints: dict[int, Checkpoint] = {}

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], *,
                           reads: Reads | None = None, **kwargs: Any) -> None:
        # Called holding the store's lock, before anything is changed.
        check_reads(reads, self._versions)
        super()._assert_uniqueness(stored_events, **kwargs)

    def _versions(self, reads: Reads) -> dict[str, int]:
        # Versions are added in order: the last one added is the latest.
        index = self._stored_events_index
        return {str(i): next(reversed(index[str(i)]), 0) for i in reads if str(i) in index}

    def _update_table(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        # Called holding the store's lock, once the events were found new.
        rows = _MemoryRows(self)
        first = len(self._stored_events) + 1  # eventsourcing's ids here: list positions
        settings = self.chain_settings
        links, checkpoint = extend(rows, settings, rows.state(settings.signing), stored_events,
                                   range(first, first + len(stored_events)), self.chain_warnings)
        ids = super()._update_table(stored_events, **kwargs)
        rows.add_links(links)
        if checkpoint is not None:
            rows.add_checkpoint(checkpoint)
        return ids

    def chain_reader(self) -> "_MemoryRows":
        return _MemoryRows(self)

    @contextmanager
    def chain_writer(self) -> Iterator[ChainWriter]:
        with self._database_lock:
            yield _MemoryRows(self)


class _MemoryRows:
    def __init__(self, recorder: MemoryEventRecorder) -> None:
        self._recorder = recorder

    def state(self, signed: bool = False) -> ChainState:
        links, checkpoints = self._recorder.links, self._recorder.checkpoints
        with self._recorder._database_lock:
            # Links are added in order of position: the last one added is the head.
            return ChainState(links[next(reversed(links))] if links else None,
                              len(self._recorder._stored_events), max(checkpoints, default=0),
                              max((c for c in checkpoints.values() if c.signed or not signed),
                                  key=lambda c: c.position, default=None))

    def events(self, after: int, stop: int, limit: int) -> Sequence[Notification]:
        return self._recorder.select_notifications(after + 1, limit, stop=stop)

    # Reads hold the store's lock too: another thread may be adding to these dicts.

    def links(self, after: int, stop: int, limit: int) -> Sequence[Link]:
        found: list[Link] = []
        links = self._recorder.links
        with self._recorder._database_lock:
            last = min(stop, next(reversed(links), 0))
            position = after + 1
            while position <= last and len(found) < limit:
                if position in links:
                    found.append(links[position])
                position += 1
        return found

    def checkpoints(self, after: int, stop: int, limit: int) -> Sequence[Checkpoint]:
        stored = self._recorder.checkpoints
        with self._recorder._database_lock:
            return [stored[p] for p in sorted(stored) if after < p <= stop][:limit]

    def add_links(self, links: Sequence[Link]) -> None:
        self._recorder.links.update((link.position, link) for link in links)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._recorder.checkpoints[checkpoint.position] = checkpoint


class MemoryFactory(POPOFactory):
    """eventsourcing's in-memory persistence, with the events recorder above."""

    def application_recorder(self) -> MemoryEventRecorder:
        return MemoryEventRecorder()


# SQLite -------------------------------------------------------------------------------


SQLITE_ROWS = 100
"""Rows one SQLite INSERT statement carries (``insert_rows``): 500 parameters at most,
under the 999 of the oldest SQLite builds."""


def insert_rows(c: Any, insert: str, width: int, values: list[Any]) -> None:
    """``INSERT`` (``insert``, up to ``VALUES``) rows of ``width`` columns, their ``values``
    one row after another: ``SQLITE_ROWS`` rows a statement, the rest one statement
    each. One statement of many rows is stepped once, where ``executemany`` steps (binds
    and resets) a statement per row: in a batch that is most of the insert's own time.
    A conflict in any row fails its statement all the same, and so the transaction."""
    row = f"({', '.join('?' * width)})"
    rows = len(values) // width
    full = rows - rows % SQLITE_ROWS
    if full:
        many, size = f"{insert} {','.join([row] * SQLITE_ROWS)}", SQLITE_ROWS * width
        for start in range(0, full * width, size):
            c.execute(many, values[start:start + size])
    if full < rows:
        rest = values[full * width:]
        c.executemany(f"{insert} {row}", [rest[start:start + width]
                                         for start in range(0, len(rest), width)])


class SQLiteChainRows(SqlChainRows):
    """The chain's rows in a SQLite store: links inserted many rows a statement."""

    def add_links(self, links: Sequence[Link]) -> None:
        if links:
            with self._cursors() as c:
                insert_rows(c, self._sql["add_links"], len(Link._fields),
                            list(chain.from_iterable(links)))


def sqlite_statements(events_table: str) -> dict[str, str]:
    names = {"events": events_table, "chain": events_table + CHAIN_SUFFIX,
             "checkpoints": events_table + CHECKPOINTS_SUFFIX, "id": "rowid"}
    statements = {key: sql.format(**names).replace("%s", "?")
                  for key, sql in STATEMENTS.items()}
    statements["add_links"] = f"INSERT INTO {names['chain']} VALUES"
    return statements


class SQLiteEventRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite events recorder, set up safely by concurrent openers
    (resilience.adapters.setup), keeping the chain, checking the ``reads`` of an insert."""

    checks_reads = True

    def __init__(self, datastore: SQLiteDatastore,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self.chain_settings = ChainSettings()
        self.chain_warnings = ChainWarnings()
        self.insert_events_statement = (
            f"INSERT INTO {events_table_name} (rowid, originator_id, originator_version, "
            "topic, state) VALUES (?, ?, ?, ?, ?)")
        self._insert_events_prefix = (
            f"INSERT INTO {events_table_name} (rowid, originator_id, originator_version, "
            "topic, state) VALUES")
        self._chain_sql = sqlite_statements(events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        names = {"chain": self.events_table_name + CHAIN_SUFFIX,
                 "checkpoints": self.events_table_name + CHECKPOINTS_SUFFIX,
                 "integer": "INTEGER", "text": "TEXT", "blob": "BLOB"}
        return [*super().construct_create_table_statements(),
                *(table.format(**names) for table in TABLES)]

    def create_table(self) -> None:
        sqlite_set_up(self)

    def _create_table(self, c: SQLiteCursor) -> None:
        # Under set-up's write lock: only the opener that creates the chain builds it.
        c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                  (self.events_table_name + CHAIN_SUFFIX,))
        new = c.fetchone() is None
        super()._create_table(c)
        if new:
            build(self._rows(c))

    def _rows(self, c: SQLiteCursor | None = None) -> SqlChainRows:
        cursors: Cursors = ((lambda: nullcontext(c)) if c is not None else
                            (lambda: self.datastore.transaction(commit=False)))
        return SQLiteChainRows(self._chain_sql, cursors, self.convert_originator_id)

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        with sqlite_write(self.datastore) as c:
            return self._insert_events(c, stored_events, **kwargs)

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], *,
                       reads: Reads | None = None, **_: Any) -> Sequence[int] | None:
        check_reads(reads, lambda reads: self._versions(c, reads))  # under the write lock
        rows = self._rows(c)
        state = rows.state(self.chain_settings.signing)
        positions = range(state.stop + 1, state.stop + 1 + len(stored_events))
        links, checkpoint = extend(rows, self.chain_settings, state, stored_events, positions,
                                   self.chain_warnings)
        values: list[Any] = []
        add, last, text = values.extend, None, None
        for position, s in zip(positions, stored_events, strict=True):
            if s.originator_id is not last:  # (a batch's events come aggregate by aggregate)
                last = s.originator_id
                text = last.hex if isinstance(last, UUID) else last
            add((position, text, s.originator_version, s.topic, s.state))
        insert_rows(c, self._insert_events_prefix, 5, values)
        rows.add_links(links)
        if checkpoint is not None:
            rows.add_checkpoint(checkpoint)
        return list(positions)

    def _versions(self, c: SQLiteCursor, reads: Reads) -> dict[str, int]:
        found = {}
        for originator_id in reads:  # (as the insert keys them)
            c.execute(self._chain_sql["version"], (originator_id.hex if isinstance(
                originator_id, UUID) else originator_id,))
            found[str(originator_id)] = c.fetchone()["version"] or 0
        return found

    def chain_reader(self) -> SqlChainRows:
        return self._rows()

    @contextmanager
    def chain_writer(self) -> Iterator[ChainWriter]:
        with sqlite_write(self.datastore) as c:
            yield self._rows(c)
