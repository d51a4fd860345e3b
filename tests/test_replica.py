"""Reports from a streaming replica (docs/scale-out.md): several writer processes on the
PostgreSQL primary, a views follower process beside them, and an engine on a hot standby
answering reports equal to the primary's once it has replayed a receipt's position;
refusing every write there, and creating nothing when it opens.

The standby is real: a copy of the suite's server ($RESILIENCE_TEST_PG, by default
127.0.0.1:5432) made with ``pg_basebackup -R`` into a temporary directory, started with
``pg_ctl`` on a free port of 127.0.0.1 (as the ``postgres`` user when the suite runs as
root: PostgreSQL refuses to run as root), and stopped and removed after the tests. Where
that cannot be done (no server binaries, replication refused by pg_hba.conf, ...) the
tests are skipped with the reason, or fail under RESILIENCE_REQUIRE_POSTGRES=1: .ci/run
lets 127.0.0.1 replicate.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import pytest

from resilience import Engine, Location, ReadOnlyStoreError, ResilienceError

from conftest import OFFICE, PG_URL, REQUIRE_PG, T0, _conninfo, donghu, require_postgres

WAIT = 120.0
"""Seconds to wait for the standby (started, replayed, its views at a position) before
calling it stuck: far above what any of it takes."""
WRITERS = 3
INCIDENTS = 8
"""Incidents each writer process reports (three commands each)."""
STANDBY_SETTINGS = ("max_connections", "max_worker_processes", "max_wal_senders",
                    "max_prepared_transactions", "max_locks_per_transaction")
"""Settings a hot standby must have at least as high as its primary's."""

WRITER = """
import sys
from datetime import datetime, timedelta
from uuid import UUID
from resilience import Actor, Engine, Location, Role

url, community, writer, count, start = sys.argv[1:]
office = Actor("office-duty", Role.COMMUNITY_STAFF)
t0 = datetime.fromisoformat(start)
position = 0
with Engine(url, policy=None, fresh_views=False) as engine:
    for i in range(int(count)):
        at = t0 + timedelta(hours=100 * int(writer) + i)
        incident = engine.incidents.report(
            UUID(community), incident_type="fire", severity="low", location=Location(building="30"),
            description=f"writer {writer}, fire {i}", actor=office, occurred_at=at,
            detected_at=at - timedelta(minutes=i % 5)).aggregate_id
        engine.incidents.acknowledge(incident, actor=office,
                                     occurred_at=at + timedelta(seconds=30 + i))
        receipt = engine.incidents.contain(incident, actor=office,
                                           occurred_at=at + timedelta(minutes=10 + i % 7))
        position = max(position, receipt.position)
print(position)
"""
"""One writer process: its incidents on the primary; prints its last receipt's position."""


def _unavailable(reason: str) -> NoReturn:
    if REQUIRE_PG:
        pytest.fail(f"RESILIENCE_REQUIRE_POSTGRES is set but no standby can run here: {reason}")
    pytest.skip(f"no PostgreSQL standby here: {reason}")


def _primary(statement: str, params: tuple[Any, ...] = ()) -> Any:
    import psycopg

    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


def _binaries(major: int) -> Path | None:
    """The directory of the server's own major version's pg_basebackup and pg_ctl."""
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin")]
    if (pg_config := shutil.which("pg_config")) is not None:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(found.stdout.strip()))
    if (pg_ctl := shutil.which("pg_ctl")) is not None:
        candidates.append(Path(pg_ctl).parent)
    for folder in candidates:
        if (folder / "pg_ctl").is_file() and (folder / "pg_basebackup").is_file():
            version = subprocess.run([folder / "pg_ctl", "--version"], capture_output=True,
                                     text=True).stdout
            if f" {major}." in version or f" {major} " in version:
                return folder
    return None


def _as_server_user() -> list[str]:
    """The prefix that runs PostgreSQL's programs as a user it accepts: ``postgres`` for
    root (it refuses root), the suite's own user otherwise."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        _unavailable("running as root without runuser to start the server as postgres")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        _unavailable("running as root, and there is no postgres user to run the server")
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Standby:
    """A hot standby of the suite's server, on 127.0.0.1:``port``."""

    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, primary_url: str) -> str:
        """``primary_url`` (a store URL on the suite's server) on this standby."""
        parts = urlsplit(primary_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else \
            f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def replayed(self) -> None:
        """Wait until the standby has replayed everything written on the primary so far."""
        import psycopg

        ((written,),) = _primary("SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + WAIT
        while True:
            with psycopg.connect(_conninfo(), port=self.port, autocommit=True) as conn:
                done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                    (written,)).fetchone()
            if done is not None and done[0]:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the standby did not replay the primary's WAL up to {written} "
                            f"in {WAIT:.0f} s")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def standby() -> Iterator[Standby]:
    """A hot standby of the suite's server for this module's tests (see the docstring)."""
    require_postgres()
    ((version, wal_level),) = _primary(
        "SELECT current_setting('server_version_num')::int, current_setting('wal_level')")
    if wal_level == "minimal":
        _unavailable("the server has wal_level = minimal: it keeps no WAL for a standby")
    binaries = _binaries(version // 10000)
    if binaries is None:
        _unavailable(f"no pg_ctl and pg_basebackup of PostgreSQL {version // 10000} "
                     "(/usr/lib/postgresql/*/bin, pg_config --bindir, PATH)")
    user = _as_server_user()
    settings = dict(_primary("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                             (list(STANDBY_SETTINGS),)))
    folder = Path(tempfile.mkdtemp(prefix="resilience-standby-"))
    data, port = folder / "data", _free_port()
    if user:
        shutil.chown(folder, "postgres", "postgres")
    primary = urlsplit(PG_URL)

    def run(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*user, *map(str, args)], capture_output=True, text=True,
                              timeout=WAIT)

    started = False
    try:
        copied = run(binaries / "pg_basebackup", "-d", _conninfo(), "-h",
                     primary.hostname or "127.0.0.1", "-p", primary.port or 5432,
                     "-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync")
        if copied.returncode != 0:
            _unavailable(f"pg_basebackup from {primary.hostname}:{primary.port or 5432} "
                         f"failed (replication allowed in pg_hba.conf?): "
                         f"{' '.join(copied.stderr.split())}")
        config = [f"port = {port}", "listen_addresses = '127.0.0.1'",
                  f"unix_socket_directories = '{folder}'", "hot_standby = on",
                  "shared_buffers = 32MB", "fsync = off",
                  *(f"{name} = {value}" for name, value in settings.items())]
        # The primary's own files may live elsewhere (Debian keeps them in /etc): these
        # are the standby's, and its options on the command line win over any copied.
        (data / "postgresql.conf").write_text("\n".join(config) + "\n")
        (data / "pg_hba.conf").write_text("local all all trust\n"
                                          "host all all 127.0.0.1/32 trust\n")
        if user:
            for name in ("postgresql.conf", "pg_hba.conf"):
                shutil.chown(data / name, "postgres", "postgres")
        start = run(binaries / "pg_ctl", "-D", data, "-l", folder / "log", "-w", "-t",
                    int(WAIT), "-o", f"-p {port} -c listen_addresses=127.0.0.1", "start")
        started = start.returncode == 0
        if not started:
            log = (folder / "log").read_text() if (folder / "log").exists() else ""
            _unavailable(f"pg_ctl could not start the standby: {start.stderr.strip()} "
                         f"{' '.join(log.split()[-60:])}")
        yield Standby(port)
    finally:
        if started:
            run(binaries / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _write(url: str, community: UUID, writer: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WRITER, url, str(community), str(writer),
                             str(INCIDENTS), T0.isoformat()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _position(writer: subprocess.Popen[str]) -> int:
    out, err = writer.communicate(timeout=WAIT)
    assert writer.returncode == 0, err
    return int(out)


def _answers(engine: Engine, community: UUID) -> tuple[Any, ...]:
    """What a reader of the community asks: its counts, three metrics, one of them by day."""
    return (engine.counts(community=community),
            *(engine.metrics(name, community=community) for name in (
                "detection_to_report", "report_to_acknowledge", "detection_to_contained")),
            engine.metrics("detection_to_contained", group_by=["day"], community=community))


def test_reports_on_a_replica_equal_the_primarys_once_it_reaches_the_position(
        standby: Standby, pg_url: str) -> None:
    """Writer processes on the primary, a follower process keeping the views there: an
    engine on the standby waits for the writers' last position, then answers as an
    engine on the primary does."""
    with Engine(pg_url, policy=None) as primary:  # sets the schema up, on the primary
        community = donghu(primary)
    follower = subprocess.Popen(
        [sys.executable, "-m", "resilience.cli", "project", "--follow", "--interval", "0.1",
         "--db", pg_url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        writers = [_write(pg_url, community, writer) for writer in range(WRITERS)]
        position = max(_position(writer) for writer in writers)
        standby.replayed()  # its tables at least, for the engine to open there
        with Engine(standby.url(pg_url), policy=None) as replica:
            assert replica.read_only
            replica.views.wait(position, timeout=WAIT)
            on_replica = _answers(replica, community)
            assert replica.views.position >= position
        with Engine(pg_url, policy=None, fresh_views=False) as primary:
            assert not primary.read_only
            primary.views.wait(position, timeout=WAIT)
            assert primary.views.position == position == primary.views.head
            on_primary = _answers(primary, community)
    finally:
        follower.terminate()
        _, err = follower.communicate(timeout=WAIT)
    assert on_replica == on_primary
    assert on_replica[0][0].incidents == WRITERS * INCIDENTS
    assert "Error" not in err, err


def test_an_engine_on_a_replica_refuses_every_write_and_records_nothing(
        standby: Standby, pg_url: str) -> None:
    """Commands, a batch, a checkpoint and catching the views up raise ReadOnlyStoreError;
    reads (the facts, the chain's verification) work; the primary is as it was. It opens
    with another timeout than the primary's openers (the insert function's body differs:
    set-up leaves it be there)."""
    with Engine(pg_url, policy=None) as primary:
        community = donghu(primary)
        head = primary.app.recorder.max_notification_id()
    standby.replayed()
    with Engine(f"{standby.url(pg_url)}&timeout=3", policy=None) as replica:
        assert replica.read_only
        writes: list[Callable[[], object]] = [
            lambda: replica.communities.add_grid(community, "9", actor=OFFICE, occurred_at=T0),
            lambda: replica.incidents.report(
                community, incident_type="fire", severity="low",
                location=Location(building="30"), description="on the standby",
                actor=OFFICE, occurred_at=T0),
            replica.checkpoint, replica.views.catch_up, lambda: _batch(replica, community)]
        for write in writes:
            with pytest.raises(ReadOnlyStoreError, match=r"read-only.*primary"):
                write()
        assert replica.verify().ok
        facts = replica.events(community)
    with Engine(pg_url, policy=None) as primary:
        assert primary.app.recorder.max_notification_id() == head
        assert primary.events(community) == facts
        assert primary.verify().ok


def test_a_write_refused_before_its_pipeline_syncs_is_read_only_too(
        standby: Standby, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The standby's refusal of the insert's LOCK TABLE, read by psycopg before the
    pipeline syncs (as happens under load), raises ReadOnlyStoreError too: the next
    statement raises the refusal and closing the pipeline raises PipelineAborted for
    the statements after it, which alone would be a StoreFault (retried, then raised):
    the refusal is raised, the PipelineAborted its cause. Pinned here by waiting, before
    the NOTIFY after the LOCK, for the refusal to arrive."""
    import select

    from psycopg.errors import PipelineAborted, ReadOnlySqlTransaction

    from resilience.adapters.chain_postgres import PostgresEventRecorder

    notify = PostgresEventRecorder._notify_channel

    def refused_first(self: PostgresEventRecorder, curs: Any) -> None:
        assert select.select([curs.connection.pgconn.socket], [], [], WAIT)[0], \
            "the standby did not answer the LOCK TABLE"
        notify(self, curs)

    with Engine(pg_url, policy=None) as primary:
        community = donghu(primary)
    standby.replayed()
    monkeypatch.setattr(PostgresEventRecorder, "_notify_channel", refused_first)
    with Engine(f"{standby.url(pg_url)}&timeout=3", policy=None) as replica:
        for _ in range(3):
            with pytest.raises(ReadOnlyStoreError, match=r"LOCK TABLE during recovery.*primary"
                               ) as refused:
                replica.communities.add_grid(community, "9", actor=OFFICE, occurred_at=T0)
            assert isinstance(refused.value.__cause__, ReadOnlySqlTransaction)
            assert isinstance(refused.value.__cause__.__cause__, PipelineAborted)  # the path


def test_the_pool_maps_a_refusal_however_psycopg_surfaces_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No server: the refusal raised directly, as the cause of the PipelineAborted that
    closing a pipeline raises (resilience.adapters.chain_postgres), or as the context of
    another error, is ReadOnlyStoreError; a PipelineAborted of anything else is still
    a StoreFault, and other errors are left as they were."""
    pytest.importorskip("psycopg")
    import psycopg_pool
    from psycopg.errors import (
        Error,
        InterfaceError,
        PipelineAborted,
        ReadOnlySqlTransaction,
        UniqueViolation,
    )

    from resilience.adapters.store import StoreFault, _postgres_pool_class

    @contextmanager
    def handed_out(self: Any, timeout: float | None = None) -> Iterator[None]:
        yield None

    monkeypatch.setattr(psycopg_pool.ConnectionPool, "connection", handed_out)
    pool: Any = object.__new__(_postgres_pool_class())  # only its mapping: never opened
    pool.where = "127.0.0.1:5433/postgres"

    def raised(exc: BaseException) -> BaseException:
        """What leaves the pool's connection when ``exc`` is raised while holding it."""
        with pytest.raises((ResilienceError, Error, ValueError)) as caught, \
                pool.connection():
            raise exc
        return caught.value

    def after(cause: BaseException, exc: BaseException, *, context: bool = False
              ) -> BaseException:
        if context:
            exc.__context__ = cause
        else:
            exc.__cause__ = cause
        return exc

    def refusal() -> BaseException:
        return ReadOnlySqlTransaction("cannot execute LOCK TABLE during recovery")

    for exc in (refusal(), after(refusal(), PipelineAborted("pipeline aborted")),
                after(refusal(), PipelineAborted("pipeline aborted"), context=True),
                after(after(refusal(), PipelineAborted("pipeline aborted")),
                      InterfaceError("the connection is lost"), context=True)):
        mapped = raised(exc)
        assert isinstance(mapped, ReadOnlyStoreError), exc
        assert "read-only (a hot standby): cannot execute LOCK TABLE" in str(mapped)
        assert mapped.__cause__ is exc
    aborted = after(UniqueViolation("duplicate key"), PipelineAborted("pipeline aborted"))
    assert isinstance(raised(aborted), StoreFault)
    assert isinstance(raised(PipelineAborted("pipeline aborted")), StoreFault)
    unique = UniqueViolation("duplicate key")
    assert raised(unique) is unique
    assert isinstance(raised(after(refusal(), ValueError("not psycopg's"))), ValueError)


def test_opening_a_replica_of_a_schema_never_set_up_creates_nothing(
        standby: Standby, pg_url: str) -> None:
    """The schema exists, its tables do not (no engine opened on the primary yet): the
    standby cannot create them, and says where to open an engine first."""
    standby.replayed()
    with pytest.raises(ReadOnlyStoreError, match="open one there first"):
        Engine(standby.url(pg_url), policy=None)


def _batch(engine: Engine, community: UUID) -> None:
    with engine.batch():
        engine.communities.add_grid(community, "8", actor=OFFICE, occurred_at=T0)
