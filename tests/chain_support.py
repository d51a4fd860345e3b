"""The hash chain's tests reach into the database as someone with write access would: rows of
the events, the chain and the checkpoints edited, deleted and inserted with plain SQL (or,
in memory, the recorder's own structures), and the chain recomputed by the published rule.
"""

import sqlite3
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from resilience import Actor, Engine, Role
from resilience.adapters.chain import START, Link, chained
from resilience.adapters.chain_recorders import MemoryEventRecorder

from conftest import _conninfo

OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)
KEY = "correct-horse-battery-staple"
OTHER_KEY = "another-key-not-the-stores"


def record(engine: Engine, count: int, prefix: str = "c") -> list[UUID]:
    """Register ``count`` communities (one event each), one command per transaction."""
    return [engine.communities.register(district="Chain", subdistrict="Test",
                                        name=f"{prefix}{i}", actor=OFFICE).aggregate_id
            for i in range(count)]


def recorded(url: str, count: int, *, every: int | None = None,
             key: str | None = None) -> "Raw":
    """Record ``count`` commands into a store, and give plain SQL access to it."""
    with open_engine(url, every, key) as engine:
        record(engine, count)
    return Raw(url)


def settings(every: int | None = None, key: str | None = None) -> dict[str, str]:
    env = {}
    if every is not None:
        env["RESILIENCE_CHECKPOINT_EVERY"] = str(every)
    if key is not None:
        env["RESILIENCE_SIGNING_KEY"] = key
    return env


def open_engine(url: str, every: int | None = None, key: str | None = None) -> Engine:
    return Engine(url, policy=None, env=settings(every, key))


class Raw:
    """Plain SQL on a SQLite file or a PostgreSQL schema named by a store URL.

    Statements name the tables ``{events}``, ``{chain}``, ``{checkpoints}`` and the
    events' position column ``{id}``; parameters are ``%s``.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.postgres = parts.scheme.startswith("postgres")
        if self.postgres:
            schema = parse_qs(parts.query)["schema"][0]
            events = f"{schema}.resilience_events"
            self.names = {"events": events, "id": "notification_id"}
        else:
            self.path = url[len("sqlite:///"):]
            events = "stored_events"
            self.names = {"events": events, "id": "rowid"}
        self.names.update(chain=f"{events}_chain", checkpoints=f"{events}_checkpoints")

    def run(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        sql = statement.format(**self.names)
        if self.postgres:
            import psycopg

            with psycopg.connect(_conninfo(), autocommit=True) as conn:
                cursor = conn.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        database = sqlite3.connect(self.path, isolation_level=None)
        try:
            return database.execute(sql.replace("%s", "?"), params).fetchall()
        finally:
            database.close()

    def one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self.run(statement, params)[0][0]

    def event(self, position: int) -> tuple[str, int]:
        """The originator id (as the chain writes it) and version of the event at a position."""
        originator, version = self.run("SELECT originator_id, originator_version FROM {events} "
                                       "WHERE {id} = %s", (position,))[0]
        return str(originator if self.postgres else UUID(originator)), int(version)

    def alter(self, position: int) -> None:
        """Change one byte of meaning in an event's stored state (a digit of its time)."""
        state = bytes(self.one("SELECT state FROM {events} WHERE {id} = %s", (position,)))
        changed = state.replace(b'"occurred_at":"20', b'"occurred_at":"19', 1)
        assert changed != state
        self.run("UPDATE {events} SET state = %s WHERE {id} = %s", (changed, position))

    def drop_chain(self) -> None:
        """Make the store one recorded before the chain existed."""
        self.run("DROP TABLE {chain}")
        self.run("DROP TABLE {checkpoints}")

    def count(self, table: str) -> int:
        return int(self.one(f"SELECT count(*) FROM {{{table}}}"))

    def recompute(self, *, checkpoints: str = "rewrite") -> None:
        """What an attacker who knows the rule does after editing events: recompute every
        link, then rewrite each checkpoint's link and count to match (``"rewrite"``,
        signatures left as they were), or delete the checkpoints (``"delete"``)."""
        rows = self.run("SELECT {id}, originator_id, originator_version, topic, state "
                        "FROM {events} ORDER BY {id}")
        self.run("DELETE FROM {chain}")
        previous = START
        links: dict[int, Link] = {}
        for position, originator, version, topic, state in rows:
            event = StoredEvent(originator if self.postgres else UUID(originator), version,
                                topic, bytes(state))
            previous = chained(previous, position, event)
            links[position] = previous
            self.run("INSERT INTO {chain} VALUES (%s, %s, %s, %s, %s)", previous)
        if checkpoints == "delete":
            self.run("DELETE FROM {checkpoints}")
            return
        for (position,) in self.run("SELECT position FROM {checkpoints}"):
            link = links.get(position, START)
            self.run("UPDATE {checkpoints} SET link = %s, events = %s WHERE position = %s",
                     (link.digest.hex(), link.seq, position))


def memory_recorder(engine: Engine) -> MemoryEventRecorder:
    recorder = engine.app.recorder
    assert isinstance(recorder, MemoryEventRecorder)
    return recorder
