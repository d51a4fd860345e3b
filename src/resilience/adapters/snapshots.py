"""Snapshots of aggregates that grow for as long as they are served (a community).

A command checks who may act, and where, against the community as it is stored now. A
community of 10,000 facts folded from its events costs 10,000 decodes per fresh engine
(a CLI command, a restarted app); loaded from a snapshot, it costs the facts recorded
since the snapshot and the attributes the command reads (resilience.adapters.lazy: a
snapshot decodes as it is read).

Snapshots are derived data, never a source of truth:

* **Kept beside the events**: the table ``resilience_snapshots`` (the SQLite file, the
  PostgreSQL schema; a dict in memory), one row per aggregate, the newest kept: its
  version, the erasures it is tied to, its hot part (``data``: read on every load) and
  its cold part (``cold``: the dicts that grow with every fact, read when one of them is
  read; resilience.adapters.snapshot_state). Created the first time one is written; a
  store without it (or a read-only one) works unchanged, folding every fact. Deleting
  rows, or the table, loses nothing.
* **Equal to folding.** A loaded aggregate is the snapshot's state with the facts
  recorded after it folded on (exactly as the events would fold: tests prove it over
  generated histories). One that does not read (another format, another class) is
  ignored.
* **When**: an aggregate of a snapshotted class (``FactAggregate.snapshotted``) is
  snapshotted once it is ``EVERY`` facts past its last snapshot, after a command or
  batch saved it, or a load folded it: a load never folds much more than ``EVERY``
  facts. Writing one is best effort, after the command's own transaction: a failure
  is ignored (the next load folds a little more).
* **Trust.** On a protected store a snapshot holds personal data (the community's
  people, in plain text once opened), so each section is sealed under the key ring's
  snapshots key (AES-GCM, bound to the aggregate, its version and the section). With a
  signing key (``RESILIENCE_SIGNING_KEY``) and no protection, each section carries an
  HMAC under a key derived from it: a snapshot changed outside the engine does not
  open, and is ignored, instead of granting what the facts don't. Without either,
  a snapshot is as trustworthy as the database it is in (as the views are):
  ``RESILIENCE_SNAPSHOTS=off`` turns them off.
* **Erasure.** A row records the key ring's count of erasures when it was written, and
  is written only if the key table still counts as many (one statement, so an erasure
  can't slip between); erasing a person deletes every snapshot in the same transaction
  as the key (resilience.adapters.keystore), and a row of another count is never read.
  So an erased person's data never comes back from a snapshot.
"""

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

from resilience.adapters.chain import ChainSettings
from resilience.adapters.keystore import SNAPSHOT_LOCK, SNAPSHOTS
from resilience.adapters.keystore import TABLE as KEYS_TABLE
from resilience.adapters.lazy import Bytes
from resilience.adapters.setup import lock_set_up, sqlite_write
from resilience.adapters.snapshot_state import (
    Plain,
    Sealer,
    Snapshot,
    Unreadable,
    decode,
    encode,
)
from resilience.errors import ConfigurationError, TamperedStoreError
from resilience.i18n import _

if TYPE_CHECKING:
    from eventsourcing.application import Application

    from resilience.adapters.keyring import KeyRing

TABLE = SNAPSHOTS
SETTING = "RESILIENCE_SNAPSHOTS"
"""``off`` (or ``no``, ``0``, ``false``): no snapshot is read or written; ``on`` (or
``yes``, ``1``, ``true``, or unset: the default) they are. Anything else is refused."""
_OFF = ("off", "no", "0", "false")
_ON = ("on", "yes", "1", "true")
EVERY = 8
"""Facts an aggregate grows past its last snapshot before it is snapshotted again."""
RETRY = 60.0
"""Seconds without writing snapshots after a write failed."""

Row = tuple[int, int, bytes]
"""(version, erasures, data)."""
A = TypeVar("A")


class SnapshotTable(Protocol):
    def get(self, aggregate_id: UUID) -> Row | None:
        """The kept snapshot's version, erasures and hot part."""
        ...

    def cold(self, aggregate_id: UUID, version: int, erasures: int) -> bytes | None:
        """The cold part of the snapshot of that version and count (None: replaced)."""
        ...

    def put(self, aggregate_id: UUID, version: int, erasures: int, data: Snapshot,
            counted: bool) -> None:
        """Keep the snapshot unless a newer one is kept; ``counted``: only if the key
        table still counts ``erasures`` tombstones."""
        ...

    def clear(self) -> None: ...


class MemorySnapshots:
    """Snapshots of an in-memory store (which its key ring counts erasures for)."""

    def __init__(self) -> None:
        self._rows: dict[UUID, tuple[int, int, Snapshot]] = {}
        self._lock = threading.Lock()

    def get(self, aggregate_id: UUID) -> Row | None:
        row = self._rows.get(aggregate_id)
        return None if row is None else (row[0], row[1], row[2].hot)

    def cold(self, aggregate_id: UUID, version: int, erasures: int) -> bytes | None:
        row = self._rows.get(aggregate_id)
        return row[2].cold if row is not None and row[:2] == (version, erasures) else None

    def put(self, aggregate_id: UUID, version: int, erasures: int, data: Snapshot,
            counted: bool) -> None:
        with self._lock:
            if any(row[1] != erasures for row in self._rows.values()):
                self._rows.clear()  # taken before an erasure: nothing of them is kept
            kept = self._rows.get(aggregate_id)
            if kept is None or kept[0] < version:
                self._rows[aggregate_id] = (version, erasures, data)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


# The hot part first: a row's columns are read in order, so reading it stops before the cold.
_SQLITE_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (aggregate_id TEXT PRIMARY KEY, "
                  "version INTEGER NOT NULL, erasures INTEGER NOT NULL, data BLOB NOT NULL, "
                  "cold BLOB NOT NULL)")
_UPSERT = ("ON CONFLICT (aggregate_id) DO UPDATE SET version = excluded.version, "
           "erasures = excluded.erasures, data = excluded.data, cold = excluded.cold "
           f"WHERE {TABLE}.version < excluded.version")


class SQLiteSnapshots:
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore
        self._exists = False

    def _found(self, c: Any) -> bool:
        if not self._exists:
            c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,))
            self._exists = c.fetchone() is not None
        return self._exists

    def get(self, aggregate_id: UUID) -> Row | None:
        with self.datastore.transaction(commit=False) as c:
            if not self._found(c):
                return None
            c.execute(f"SELECT version, erasures, data FROM {TABLE} WHERE aggregate_id = ?",
                      (str(aggregate_id),))
            row = c.fetchone()
        return None if row is None else (row[0], row[1], bytes(row[2]))

    def cold(self, aggregate_id: UUID, version: int, erasures: int) -> bytes | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT cold FROM {TABLE} WHERE aggregate_id = ? AND version = ? "
                      "AND erasures = ?", (str(aggregate_id), version, erasures))
            row = c.fetchone()
        return None if row is None else bytes(row[0])

    def put(self, aggregate_id: UUID, version: int, erasures: int, data: Snapshot,
            counted: bool) -> None:
        where = (f"WHERE (SELECT count(*) FROM {KEYS_TABLE} WHERE wrapped IS NULL) = ?"
                 if counted else "WHERE true")
        with sqlite_write(self.datastore) as c:
            if not self._found(c):
                c.execute(_SQLITE_CREATE)
                self._exists = True
            # One statement: an erasure (which deletes every snapshot, in the key's own
            # transaction) is either before it, and counted, or after it.
            c.execute(f"INSERT INTO {TABLE} (aggregate_id, version, erasures, data, cold) "
                      f"SELECT ?, ?, ?, ?, ? {where} {_UPSERT}",
                      (str(aggregate_id), version, erasures, data.hot, data.cold,
                       *((erasures,) if counted else ())))

    def clear(self) -> None:
        with sqlite_write(self.datastore) as c:
            if self._found(c):
                c.execute(f"DELETE FROM {TABLE}")


class PostgresSnapshots:
    def __init__(self, datastore: Any) -> None:
        from psycopg.sql import SQL, Identifier

        self.datastore = datastore
        self.schema: str = datastore.schema
        table = SQL("{0}.{1}").format(Identifier(self.schema), Identifier(TABLE))
        keys = SQL("{0}.{1}").format(Identifier(self.schema), Identifier(KEYS_TABLE))
        self._create = SQL("CREATE TABLE IF NOT EXISTS {0} (aggregate_id uuid PRIMARY KEY, "
                           "version bigint NOT NULL, erasures bigint NOT NULL, "
                           "data bytea NOT NULL, cold bytea NOT NULL)").format(table)
        self._get = SQL("SELECT version, erasures, data FROM {0} "
                        "WHERE aggregate_id = %s").format(table)
        self._cold = SQL("SELECT cold FROM {0} WHERE aggregate_id = %s AND version = %s "
                         "AND erasures = %s").format(table)
        insert = ("INSERT INTO {0} (aggregate_id, version, erasures, data, cold) "
                  "SELECT %s, %s, %s, %s, %s {1} " + _UPSERT.replace(TABLE, "{2}"))
        self._put = SQL(insert).format(table, SQL(""), Identifier(TABLE))
        self._put_counted = SQL(insert).format(
            table, SQL("WHERE (SELECT count(*) FROM {0} WHERE wrapped IS NULL) = %s").format(
                keys), Identifier(TABLE))
        self._clear = SQL("DELETE FROM {0}").format(table)
        self._exists = False

    def _found(self, c: Any) -> bool:
        if not self._exists:
            c.execute("SELECT to_regclass(%s) IS NOT NULL AS found",
                      (f'"{self.schema}"."{TABLE}"',))
            self._exists = bool(c.fetchone()["found"])
        return self._exists

    def get(self, aggregate_id: UUID) -> Row | None:
        with self.datastore.transaction(commit=False) as c:
            if not self._found(c):
                return None
            c.execute(self._get, (aggregate_id,))
            row = c.fetchone()
        return None if row is None else (row["version"], row["erasures"], bytes(row["data"]))

    def cold(self, aggregate_id: UUID, version: int, erasures: int) -> bytes | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._cold, (aggregate_id, version, erasures))
            row = c.fetchone()
        return None if row is None else bytes(row["cold"])

    def put(self, aggregate_id: UUID, version: int, erasures: int, data: Snapshot,
            counted: bool) -> None:
        with self.datastore.transaction(commit=True) as c:
            if not self._found(c):
                lock_set_up(c, self.schema)
                c.execute(self._create)
            c.execute("SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))",
                      (SNAPSHOT_LOCK.format(self.schema),))
            row = (aggregate_id, version, erasures, data.hot, data.cold)
            if counted:
                c.execute(self._put_counted, (*row, erasures))
            else:
                c.execute(self._put, row)
        self._exists = True

    def clear(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            if self._found(c):
                c.execute(self._clear)


def snapshot_table(recorder: Any) -> SnapshotTable:
    """The snapshot table beside an application's recorder (one per in-memory store)."""
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:
        table: SnapshotTable | None = getattr(recorder, "_resilience_snapshots", None)
        if table is None:
            table = MemorySnapshots()
            recorder._resilience_snapshots = table
        return table
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteSnapshots(datastore)
    return PostgresSnapshots(datastore)


# Sealing ------------------------------------------------------------------------------


class RingSealer:
    """A protected store's: AES-GCM under the key ring's snapshots key."""

    def __init__(self, ring: "KeyRing") -> None:
        self.ring = ring

    def seal(self, data: Bytes, bound: bytes) -> bytes:
        return self.ring.seal_snapshot(data, bound)

    def open(self, data: Bytes, bound: bytes) -> bytes:
        return self.ring.open_snapshot(data, bound)


class TagSealer:
    """A signed store's (no protection): the data and an HMAC-SHA256 of it, under a key
    derived from each signing key (the first signs; any opens, as for checkpoints)."""

    def __init__(self, keys: tuple[bytes, ...]) -> None:
        self.keys = [hmac.new(key, b"resilience snapshots", hashlib.sha256).digest()
                     for key in keys]

    def _tag(self, key: bytes, data: Bytes, bound: bytes) -> bytes:
        tag = hmac.new(key, bound + b"\x00", hashlib.sha256)
        tag.update(data)
        return tag.digest()

    def seal(self, data: Bytes, bound: bytes) -> bytes:
        return bytes(data) + self._tag(self.keys[0], data, bound)

    def open(self, data: Bytes, bound: bytes) -> Bytes:
        body, tag = data[:-32], data[-32:]
        if not any(hmac.compare_digest(tag, self._tag(key, body, bound)) for key in self.keys):
            raise TamperedStoreError(_("a snapshot does not match its signature"))
        return body


def enabled(setting: str | None) -> bool:
    """Whether ``RESILIENCE_SNAPSHOTS`` (``setting``; None: unset) turns snapshots on;
    ConfigurationError for a value that is neither on nor off, rather than guess which
    of the two a typo meant."""
    word = "on" if setting is None else setting.strip().lower()
    if word not in _ON + _OFF:
        raise ConfigurationError(
            _("{setting} must be on or off (yes/no, 1/0, true/false), got {value}").format(
                setting=SETTING, value=repr(setting)))
    return word in _ON


# What the command loop uses -------------------------------------------------------------


class Snapshots:
    """The snapshots of one application's store (shared by the stores derived from it)."""

    def __init__(self, app: "Application[UUID]", keys: Callable[[], "KeyRing | None"]) -> None:
        self.table = snapshot_table(app.recorder)
        self._app = app
        self._keys = keys
        self.enabled = enabled(app.env.get(SETTING))
        signing = ChainSettings.from_env(app.env).keys
        self._signed: Sealer = TagSealer(signing) if signing else Plain()
        self._failed = -RETRY
        """When a write last failed (``time.monotonic``): a store that can't take one (a
        read-only replica) is not asked again for ``RETRY`` seconds."""

    def _sealer(self) -> tuple[Sealer, int, bool]:
        """How snapshots are sealed now, the erasures they are tied to, and whether the
        store counts erasures (protected)."""
        ring = self._keys()
        if ring is None:
            return self._signed, 0, False
        return RingSealer(ring), ring.erasures, True

    def load(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate as its snapshot holds it (its sections decoded as they are read),
        or None: no snapshot, snapshots off, one taken before an erasure, or one that
        does not read or open (altered outside the engine, sealed with another key)."""
        if not self.enabled:
            return None
        try:
            row = self.table.get(aggregate_id)
        except Exception:
            return None  # derived data: the store's own faults show on the events' read
        if row is None:
            return None
        version, erasures, data = row
        sealer, counted, _ = self._sealer()
        if erasures != counted:
            return None
        table, app = self.table, self._app

        def cold() -> bytes | None:
            return table.cold(aggregate_id, version, erasures)

        def fallback() -> Any:  # the snapshot was replaced before its cold part was read
            return app.repository.get(aggregate_id, version=version)

        try:
            aggregate: A = decode(data, sealer, aggregate_id, cls, cold, fallback)
        except (Unreadable, TamperedStoreError):
            return None  # ignored (and replaced by the next one written)
        if getattr(aggregate, "version", None) != version:
            return None
        return aggregate

    def save(self, aggregate: Any) -> bool:
        """Snapshot ``aggregate`` (saved: no pending facts); whether it was written."""
        if not self.enabled or time.monotonic() - self._failed < RETRY:
            return False
        sealer, erasures, counted = self._sealer()
        try:
            data = encode(aggregate, sealer)
            if data is None:
                return False
            self.table.put(aggregate.id, aggregate.version, erasures, data, counted)
        except Exception:
            self._failed = time.monotonic()
            return False  # best effort: the next load folds a few more facts
        return True

    def clear(self) -> None:
        """Delete every snapshot (they are rebuilt as aggregates are loaded and saved)."""
        self.table.clear()
