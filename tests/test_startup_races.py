"""Opening and rebuilding a store from many processes at once (issue 9 §3).

Processes released together by a barrier each open ``Engine(url)`` and record
one command: none may fail, on a fresh store (tables, types and functions
being created) or an existing one, on SQLite and PostgreSQL. A rebuild beside
a writer on SQLite waits for the write lock instead of failing. The full-size
race (8 processes x 15 rounds) is ``python tools/open_race.py open``.
"""

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

import pytest

from resilience import Engine
from resilience.adapters.viewstore import SQLiteViewStore

from conftest import OFFICE, _conninfo, _pg_schema_url, require_postgres

PROCS = 8
ROUNDS = 3
_fork = multiprocessing.get_context("fork")


def _name(tag: str, i: int) -> str:
    return f"{tag}-{i}"


def _opener(url: str, name: str, barrier: Barrier, results: Any) -> None:
    try:
        barrier.wait(timeout=60)
        with Engine(url) as engine:
            engine.communities.register(district="Race", subdistrict="Open", name=name,
                                        actor=OFFICE)
    except BaseException as exc:  # every failure is a result
        results.put(f"{type(exc).__name__}: {exc}")
    else:
        results.put(None)


def _race(url: str, tag: str) -> list[str]:
    """PROCS processes open ``url`` at once and record a command; the failures."""
    barrier = _fork.Barrier(PROCS)
    results = _fork.Queue()
    workers = [_fork.Process(target=_opener, args=(url, _name(tag, i), barrier, results))
               for i in range(PROCS)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return [o for o in outcomes if o is not None]


def _assert_works(url: str, tags: list[str]) -> None:
    """Every process's command is recorded, and the views fold them all."""
    with Engine(url) as engine:
        for tag in tags:
            for i in range(PROCS):
                community = engine.communities.id_for("Race", "Open", _name(tag, i))
                assert len(engine.events(community)) == 1
        engine.views.catch_up()
        assert engine.views.position == engine.views.head
        assert len(engine.views.select("timelines", "community")) == PROCS * len(tags)
        assert engine.views.rebuild() == PROCS * len(tags)


Stores = Callable[[], AbstractContextManager[str]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    """Makes fresh stores of one kind (a new SQLite file, a new PostgreSQL schema)."""
    if request.param == "postgres":
        require_postgres()
        return contextmanager(_pg_schema_url)
    count = iter(range(1_000))

    @contextmanager
    def sqlite_file() -> Iterator[str]:
        yield f"sqlite:///{tmp_path / f'events-{next(count)}.db'}"

    return sqlite_file


def test_processes_opening_a_fresh_store_at_once_all_succeed(new_store: Stores) -> None:
    for round_ in range(ROUNDS):
        with new_store() as url:
            assert _race(url, f"r{round_}") == []
            _assert_works(url, [f"r{round_}"])


def test_processes_opening_an_existing_store_at_once_all_succeed(new_store: Stores) -> None:
    with new_store() as url:
        with Engine(url) as engine:
            engine.views.catch_up()
        tags = [f"r{round_}" for round_ in range(ROUNDS)]
        for tag in tags:
            assert _race(url, tag) == []
        _assert_works(url, tags)


@pytest.mark.postgres
def test_opening_a_set_up_schema_creates_nothing(pg_url: str) -> None:
    """No DDL on an open once everything is there as it would be created; an insert
    function with another body (an older version, another lock timeout) is replaced."""
    import psycopg

    schema = pg_url.split("schema=")[1]
    find = ("SELECT p.oid, p.xmin::text::bigint AS version, p.prosrc FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s "
            "AND p.proname = 'es_insert_events_uuid'")

    def function() -> tuple[int, int, str]:
        with psycopg.connect(_conninfo()) as conn:
            row = conn.execute(find, (schema,)).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), str(row[2])

    Engine(pg_url).close()
    oid, created, body = function()
    with Engine(pg_url) as engine:
        engine.communities.register(district="Race", subdistrict="Open", name="x",
                                    actor=OFFICE)
    assert function() == (oid, created, body)
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        definition = conn.execute("SELECT pg_get_functiondef(%s)", (oid,)).fetchone()
        assert definition is not None
        conn.execute(str(definition[0]).replace("RETURN QUERY", "PERFORM 1; RETURN QUERY"))
    assert function()[2] != body
    Engine(pg_url).close()
    assert function()[2] == body


def test_legacy_sqlite_tracking_table_is_still_migrated(tmp_path: Path) -> None:
    """eventsourcing's migration of a multi-row tracking table still runs (under the lock)."""
    path = tmp_path / "legacy.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE tracking (application_name TEXT, notification_id INTEGER, "
                     "PRIMARY KEY (application_name, notification_id)) WITHOUT ROWID")
        conn.executemany("INSERT INTO tracking VALUES (?, ?)",
                         [("other", 3), ("other", 5), ("resilience/views/v1", 2)])
    conn.close()
    with Engine(f"sqlite:///{path}") as engine:
        assert isinstance(engine.views.store, SQLiteViewStore)
        assert engine.views.store.max_tracking_id("other") == 5
        assert engine.views.store.max_tracking_id("__migration__") == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM tracking WHERE application_name = 'other'"
                            ).fetchone() == (1,)
    conn.close()


# Rebuilds beside a writer ------------------------------------------------------


def _writer(url: str, ready: Event, stop: Event, results: Any) -> None:
    written, error = 0, None
    try:
        with Engine(url) as engine:
            ready.set()
            while not stop.is_set():
                engine.communities.register(district="Race", subdistrict="Writer",
                                            name=f"w{written}", actor=OFFICE)
                written += 1
    except BaseException as exc:  # reported to the test
        error = f"{type(exc).__name__}: {exc}"
    finally:
        ready.set()
        results.put((written, error))


def test_rebuilds_wait_for_a_concurrent_writer_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with Engine(url) as engine, engine.batch():
        for i in range(2_000):
            engine.communities.register(district="Race", subdistrict="History", name=f"h{i}",
                                        actor=OFFICE)
    ready, stop, results = _fork.Event(), _fork.Event(), _fork.Queue()
    writer = _fork.Process(target=_writer, args=(url, ready, stop, results))
    writer.start()
    try:
        assert ready.wait(30)
        with Engine(url) as engine:
            for _ in range(6):
                assert engine.views.rebuild() >= 2_000
    finally:
        stop.set()
        written, error = results.get(timeout=30)
        writer.join(timeout=30)
    assert error is None
    assert written > 0
    with Engine(url) as engine:
        engine.views.catch_up()
        assert len(engine.views.select("timelines", "community")) == 2_000 + written


def test_a_view_reset_waits_for_the_write_lock_instead_of_failing(tmp_path: Path) -> None:
    """The read-then-write pattern failed at once when another connection committed meanwhile."""
    path = tmp_path / "events.db"
    with Engine(f"sqlite:///{path}") as engine:
        engine.communities.register(district="Race", subdistrict="Lock", name="a", actor=OFFICE)
        engine.views.catch_up()
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO tracking VALUES ('someone-else', 1)")

        def release() -> None:
            time.sleep(0.3)
            other.execute("COMMIT")

        releaser = threading.Thread(target=release)
        releaser.start()
        started = time.monotonic()
        engine.views.store.reset(list(engine.views.stored_names.values()))
        waited = time.monotonic() - started
        releaser.join()
        other.close()
        assert waited >= 0.25
        assert engine.views.position == 0
        assert engine.views.catch_up() == 1
