"""Shared fixtures: an engine on every store (memory, SQLite file, PostgreSQL) and a clock;
and ``donghu``, the community most tests set up first.

PostgreSQL tests run against a real server at ``$RESILIENCE_TEST_PG``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``), each in a schema
of its own that is dropped afterwards. When no server answers they are
skipped with the reason, unless ``RESILIENCE_REQUIRE_POSTGRES=1`` (CI sets
it), in which case they fail.
"""

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from resilience import Actor, Engine, ManualClock, Role, UnitSpec

PG_URL = os.environ.get("RESILIENCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("RESILIENCE_REQUIRE_POSTGRES", "") not in ("", "0", "false", "no")
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2022, 2, 15, 15, 0, tzinfo=SHANGHAI)
OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)
DONGHU = {"district": "Taishan", "subdistrict": "Daimiao", "name": "Donghu"}

_pg_problem: str | None = None
_pg_checked = False


def postgres_problem() -> str | None:
    """Why PostgreSQL can't be used here, or None when a server answers."""
    global _pg_checked, _pg_problem
    if not _pg_checked:
        _pg_checked = True
        try:
            import psycopg

            with psycopg.connect(_conninfo(), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # any failure to reach the server means: no server
            _pg_problem = f"no PostgreSQL server at {PG_URL}: {exc}"
    return _pg_problem


def _conninfo() -> str:
    return PG_URL.split("?", 1)[0]


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is not None:
        if REQUIRE_PG:
            pytest.fail(f"RESILIENCE_REQUIRE_POSTGRES is set but {problem}")
        pytest.skip(problem)


def _pg_schema_url() -> Iterator[str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(_conninfo(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


pg_schema = contextmanager(_pg_schema_url)
"""``with pg_schema() as url:`` a fresh PostgreSQL schema, dropped afterwards (call
``require_postgres()`` first), for tests that need several in one test."""


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at the Donghu fire's detection time."""
    return ManualClock(T0)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store of each kind."""
    if request.param == "memory":
        yield "memory:"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
    else:
        require_postgres()
        yield from _pg_schema_url()


@pytest.fixture(params=["sqlite", "postgres"])
def shared_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store that several engines (or processes) can open at once."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
    else:
        require_postgres()
        yield from _pg_schema_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (skipped or failed as described above)."""
    require_postgres()
    yield from _pg_schema_url()


@pytest.fixture
def engine(store_url: str, clock: ManualClock) -> Iterator[Engine]:
    """An engine on each store, with the manual clock; no policy (these tests are about
    the rules and stores, not who may act: tests/test_policy*.py are)."""
    with Engine(store_url, clock=clock, policy=None) as opened:
        yield opened


@pytest.fixture
def memory_engine(clock: ManualClock) -> Iterator[Engine]:
    """An in-memory engine, for tests about domain rules rather than storage (no policy)."""
    with Engine("memory:", clock=clock, policy=None) as opened:
        yield opened


EngineFactory = Callable[[], Engine]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def donghu(engine: Engine, grid: str = "3", building: str | None = "30",
           units: Sequence[UnitSpec] = (UnitSpec("1", 24),), *,
           people: Sequence[tuple[str, str]] = (), command_id: str | None = None) -> uuid.UUID:
    """Register Donghu the day before T0, with ``grid``, ``building`` in it and ``people``
    (id, name)."""
    communities = engine.communities
    at = T0 - timedelta(days=1)
    community = communities.register(**DONGHU, actor=OFFICE, occurred_at=at,
                                     command_id=command_id).aggregate_id
    communities.add_grid(community, grid, actor=OFFICE, occurred_at=at)
    if building is not None:
        communities.add_building(community, building, grid, list(units), actor=OFFICE,
                                 occurred_at=at)
    for person, name in people:
        communities.enrol(community, person, name, actor=OFFICE, occurred_at=at)
    return community
