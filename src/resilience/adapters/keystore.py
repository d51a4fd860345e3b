"""Each person's own key, and the store key that guards them: erasure by crypto-shredding.

Protection is on when the engine has a cipher (eventsourcing's ``CIPHER_TOPIC`` and
``CIPHER_KEY``). Then every personal value of a fact (``FactAggregate.Event.personal``)
is sealed under its subject's own key before the event is stored
(resilience.adapters.mapper), and erasing a person deletes their key: what was sealed
under it can no longer be read by anyone, while the facts themselves, and every count,
time and order built from them, stay.

**Subjects.** A person, by their id; or, for personal data that names nobody by id (a
care card's office contacts), the aggregate holding it. Each subject's key is 32 random
bytes made on first use, stored wrapped (AES-GCM) under the wrapping key and named by a
random key id, which is all an envelope names.

**The table** ``resilience_keys`` beside the events (the SQLite file, the PostgreSQL
schema; a dict in memory): ``key_id``; ``subject``, an HMAC of the subject under the
index key, so the table names nobody to a reader without the store key; ``wrapped``, NULL
once the subject is erased (a tombstone, kept so that new personal data about them is
refused: ErasedPersonError); ``erased``, when.

**The store key** is CIPHER_KEY. The key ring (resilience.adapters.keyring, which needs
the crypto extra) derives from it one key per purpose: the wrapping key, the index key,
the views key (resilience.projections.runner seals every view document with it) and the
verifier key. The verifier row (key id ``verifier``) holds a known text sealed with the
verifier key, written by the first protected opening. An engine opened on a protected
store with another key, or with none, raises ProtectedStoreError before it reads
anything (resilience.adapters.protection).

**Snapshots** (resilience.adapters.snapshots) may hold personal data in plain text once
opened: erasing a person deletes every snapshot in the transaction that deletes the key,
and a snapshot is written only while the table counts as many tombstones as its writer
saw, so none taken before an erasure survives it.

**Concurrency.** Two writers making one subject's key both insert-or-ignore, then both
read the row that won. Tombstones are never removed, so their number only grows: a ring
compares it now and then and forgets every key it unwrapped when another process has
erased someone (KeyRing.refresh).
"""

import secrets
import threading
from collections.abc import Collection, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

from resilience.adapters.setup import lock_set_up, sqlite_write

TABLE = "resilience_keys"
SNAPSHOTS = "resilience_snapshots"
"""The snapshots' table (resilience.adapters.snapshots): emptied with every erasure."""
SNAPSHOT_LOCK = "resilience snapshots {}"
"""PostgreSQL advisory lock (per schema): snapshots are written holding it shared, an
erasure takes it exclusively, so no snapshot taken before an erasure outlives it."""
VERIFIER = "verifier"
"""Key id and subject of the verifier row (key ids and subjects are otherwise random or
hex digests, so it names no subject)."""


def person_subject(person_id: str) -> str:
    """The subject a person's data is sealed for."""
    return f"person:{person_id}"


def aggregate_subject(aggregate_id: UUID) -> str:
    """The subject of personal data that names nobody by id (sealed for its aggregate)."""
    return f"aggregate:{aggregate_id}"


# The tables ---------------------------------------------------------------------------


Row = tuple[str, bytes | None]
"""(key id, wrapped key or None for a tombstone)."""
NewRow = tuple[str, str, bytes | None]
"""(key id, subject, wrapped key or None for a tombstone): a row to insert."""


class KeyTable(Protocol):
    """Where the wrapped keys are kept: the three backends below."""

    def exists(self) -> bool: ...

    def create(self) -> None: ...

    def claim(self, rows: Sequence[NewRow]) -> dict[str, Row]:
        """Insert each row unless its subject has one, all in one transaction; return each
        subject's row as it now stands (a subject is missing if its new key id was
        another's, which never happens in practice: the caller tries a new one)."""
        ...

    def find(self, subject: str) -> Row | None: ...

    def load(self, key_ids: Collection[str] | None) -> dict[str, bytes | None]:
        """Wrapped key (None: erased) by key id, of ``key_ids`` (None: every key)."""
        ...

    def shred(self, subject: str, erased: str) -> None:
        """Delete the subject's key, keeping its tombstone (made if the subject had no key)."""
        ...

    def tombstones(self) -> int: ...


class MemoryKeys:
    """Keys of an in-memory store, in a dict: they vanish with the process, as its events do."""

    def __init__(self) -> None:
        self._rows: dict[str, list[Any]] = {}  # subject -> [key id, wrapped, erased]
        self._ids: dict[str, str] = {}  # key id -> subject
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return True

    def create(self) -> None:
        pass

    def claim(self, rows: Sequence[NewRow]) -> dict[str, Row]:
        found: dict[str, Row] = {}
        with self._lock:
            for key_id, subject, wrapped in rows:
                if subject not in self._rows and key_id not in self._ids:
                    self._rows[subject] = [key_id, wrapped, None]
                    self._ids[key_id] = subject
                row = self._find(subject)
                if row is not None:
                    found[subject] = row
        return found

    def _find(self, subject: str) -> Row | None:
        row = self._rows.get(subject)
        return None if row is None else (row[0], row[1])

    def find(self, subject: str) -> Row | None:
        with self._lock:
            return self._find(subject)

    def load(self, key_ids: Collection[str] | None) -> dict[str, bytes | None]:
        with self._lock:
            ids = self._ids if key_ids is None else [k for k in key_ids if k in self._ids]
            return {k: self._rows[self._ids[k]][1] for k in ids if k != VERIFIER}

    def shred(self, subject: str, erased: str) -> None:
        self.claim([(new_key_id(), subject, None)])
        with self._lock:
            row = self._rows[subject]
            if row[1] is not None:
                row[1], row[2] = None, erased

    def tombstones(self) -> int:
        with self._lock:
            return sum(1 for row in self._rows.values() if row[1] is None)


_SQLITE_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (key_id TEXT PRIMARY KEY, "
    "subject TEXT NOT NULL UNIQUE, wrapped BLOB, erased TEXT)",
    # Only tombstones are indexed: counting them (``tombstones``) costs what they number.
    f"CREATE INDEX IF NOT EXISTS {TABLE}_erased ON {TABLE} (key_id) WHERE wrapped IS NULL",
)


class SQLiteKeys:
    """Keys in the SQLite file that holds the events."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore

    def exists(self) -> bool:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,))
            return c.fetchone() is not None

    def create(self) -> None:
        if not self.exists():
            with sqlite_write(self.datastore) as c:  # IF NOT EXISTS, under the write lock
                for statement in _SQLITE_CREATE:
                    c.execute(statement)

    def claim(self, rows: Sequence[NewRow]) -> dict[str, Row]:
        found: dict[str, Row] = {}
        with sqlite_write(self.datastore) as c:
            c.executemany(f"INSERT OR IGNORE INTO {TABLE} (key_id, subject, wrapped) "
                          "VALUES (?, ?, ?)", rows)
            for _, subject, _ in rows:
                c.execute(f"SELECT key_id, wrapped FROM {TABLE} WHERE subject = ?", (subject,))
                row = c.fetchone()
                if row is not None:
                    found[subject] = (row[0], row[1])
        return found

    def find(self, subject: str) -> Row | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT key_id, wrapped FROM {TABLE} WHERE subject = ?", (subject,))
            row = c.fetchone()
        return (row[0], row[1]) if row else None

    def load(self, key_ids: Collection[str] | None) -> dict[str, bytes | None]:
        found: dict[str, bytes | None] = {}
        with self.datastore.transaction(commit=False) as c:
            if key_ids is None:
                c.execute(f"SELECT key_id, wrapped FROM {TABLE} WHERE key_id != ?", (VERIFIER,))
                found.update((row[0], row[1]) for row in c.fetchall())
            else:
                ids = [k for k in key_ids if k != VERIFIER]
                for i in range(0, len(ids), 500):  # SQLite caps bound parameters
                    chunk = ids[i:i + 500]
                    c.execute(f"SELECT key_id, wrapped FROM {TABLE} WHERE key_id IN "
                              f"({','.join('?' * len(chunk))})", chunk)
                    found.update((row[0], row[1]) for row in c.fetchall())
        return found

    def shred(self, subject: str, erased: str) -> None:
        with sqlite_write(self.datastore) as c:
            # The deleted key's bytes are overwritten in the file, not left in a free page
            # (most builds do this by default; not all).
            c.execute("PRAGMA secure_delete = ON")
            c.execute(f"INSERT OR IGNORE INTO {TABLE} (key_id, subject, wrapped, erased) "
                      "VALUES (?, ?, NULL, ?)", (new_key_id(), subject, erased))
            c.execute(f"UPDATE {TABLE} SET wrapped = NULL, erased = ? "
                      "WHERE subject = ? AND wrapped IS NOT NULL", (erased, subject))
            c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                      (SNAPSHOTS,))
            if c.fetchone() is not None:
                c.execute(f"DELETE FROM {SNAPSHOTS}")  # under the write lock: none slips in
        # The old page, key and all, stays in the write-ahead log until a checkpoint copies
        # the log into the file and truncates it: done now (best effort: a reader still on
        # an older snapshot holds the log until it finishes; the next checkpoint then).
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                cursor.sqlite_cursor.close()

    def tombstones(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT count(*) FROM {TABLE} WHERE wrapped IS NULL")
            return int(c.fetchone()[0])


class PostgresKeys:
    """Keys in the PostgreSQL schema that holds the events."""

    def __init__(self, datastore: Any) -> None:
        from psycopg.sql import SQL, Identifier

        self.datastore = datastore
        table = SQL("{0}.{1}").format(Identifier(datastore.schema), Identifier(TABLE))
        self._create = [
            SQL("CREATE TABLE IF NOT EXISTS {0} (key_id text PRIMARY KEY, "
                "subject text NOT NULL UNIQUE, wrapped bytea, erased text)").format(table),
            SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (key_id) WHERE wrapped IS NULL").format(
                Identifier(f"{TABLE}_erased"), table),
        ]
        self._insert = SQL("INSERT INTO {0} (key_id, subject, wrapped, erased) "
                           "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING").format(table)
        self._find = SQL("SELECT key_id, wrapped FROM {0} WHERE subject = %s").format(table)
        self._find_many = SQL("SELECT subject, key_id, wrapped FROM {0} "
                              "WHERE subject = ANY(%s)").format(table)
        self._all = SQL("SELECT key_id, wrapped FROM {0} WHERE key_id != %s").format(table)
        self._some = SQL("SELECT key_id, wrapped FROM {0} WHERE key_id = ANY(%s)").format(table)
        self._shred = SQL("UPDATE {0} SET wrapped = NULL, erased = %s "
                          "WHERE subject = %s AND wrapped IS NOT NULL").format(table)
        self._count = SQL("SELECT count(*) AS n FROM {0} WHERE wrapped IS NULL").format(table)
        self._vacuum = SQL("VACUUM {0}").format(table)
        self._delete_snapshots = SQL("DELETE FROM {0}.{1}").format(
            Identifier(datastore.schema), Identifier(SNAPSHOTS))

    def exists(self) -> bool:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT to_regclass(%s) IS NOT NULL AS found",
                      (f'"{self.datastore.schema}"."{TABLE}"',))
            return bool(c.fetchone()["found"])

    def create(self) -> None:
        if self.exists():
            return
        with self.datastore.transaction(commit=True) as c:
            # The lock for any set-up in this schema: concurrent CREATE ... IF NOT EXISTS
            # can still clash in PostgreSQL's catalogue.
            lock_set_up(c, self.datastore.schema)
            for statement in self._create:
                c.execute(statement)

    def claim(self, rows: Sequence[NewRow]) -> dict[str, Row]:
        with self.datastore.transaction(commit=True) as c:
            c.executemany(self._insert, [(*row, None) for row in rows])
            c.execute(self._find_many, ([subject for _, subject, _ in rows],))
            return {row["subject"]: (row["key_id"], _bytes(row["wrapped"]))
                    for row in c.fetchall()}

    def find(self, subject: str) -> Row | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._find, (subject,))
            row = c.fetchone()
        return (row["key_id"], _bytes(row["wrapped"])) if row else None

    def load(self, key_ids: Collection[str] | None) -> dict[str, bytes | None]:
        with self.datastore.transaction(commit=False) as c:
            if key_ids is None:
                c.execute(self._all, (VERIFIER,))
            else:
                c.execute(self._some, ([k for k in key_ids if k != VERIFIER],))
            return {row["key_id"]: _bytes(row["wrapped"]) for row in c.fetchall()}

    def shred(self, subject: str, erased: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            # Snapshots being written (holding the lock shared) finish first, and are
            # deleted below; any written after this commits count one tombstone more.
            c.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                      (SNAPSHOT_LOCK.format(self.datastore.schema),))
            c.execute(self._insert, (new_key_id(), subject, None, erased))
            c.execute(self._shred, (erased, subject))
            c.execute("SELECT to_regclass(%s) IS NOT NULL AS found",
                      (f'"{self.datastore.schema}"."{SNAPSHOTS}"',))
            if c.fetchone()["found"]:
                c.execute(self._delete_snapshots)
        # The updated row's old version, key and all, stays in the table's file as a dead
        # tuple until vacuumed (autovacuum may never get to a table this small): vacuumed
        # now, outside any transaction (the pool's connections are in autocommit).
        with self.datastore.get_connection() as conn:
            conn.execute(self._vacuum)

    def tombstones(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._count)
            return int(c.fetchone()["n"])


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def new_key_id() -> str:
    """A random key id: 96 bits, as 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


def key_table(recorder: Any) -> KeyTable:
    """The key table beside an application's recorder (memory, SQLite or PostgreSQL)."""
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:
        return MemoryKeys()
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteKeys(datastore)
    return PostgresKeys(datastore)
