"""Faults of the store itself: a PostgreSQL server stopped and restarted under writers and
followers, a table lock held too long, a SQLite disk that fills up, an acknowledgement lost.

What must hold: a call fails with StoreUnavailableError within the store's timeout (it
blocked for minutes, then raised eventsourcing's OperationalError); nothing acknowledged
is lost or recorded twice, a retry with the same command id records once; the engine
works again as soon as the server does, without being reopened; a follower reports the
outage (log, ``views.error``, one stderr line from ``resilience project --follow``) and
resumes by itself.

The PostgreSQL tests run a throwaway cluster of their own (initdb on a free loopback
port, in a temporary directory), never the shared server. Without initdb they skip with
the reason, unless RESILIENCE_REQUIRE_POSTGRES=1, when they fail. The full disk is a
2 MB tmpfs (mounting needs root: elsewhere that test skips, saying so).
"""

import contextlib
import glob
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from resilience import Engine, StoreUnavailableError
from resilience.adapters.store import StoreFault
from resilience.cli import main
from resilience.services.core import Receipt

from conftest import OFFICE, REQUIRE_PG

TIMEOUT = 2.0
"""The store timeout of these tests (``?timeout=``)."""
SLACK = 1.5
"""What a failing call may take beyond the timeout (a retry pause, thread scheduling)."""


# A PostgreSQL cluster of the tests' own ------------------------------------------------


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Cluster:
    """A PostgreSQL server in a temporary directory, started and stopped at will."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="resilience-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as postgres
            shutil.chown(self.base, "postgres")
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.as_postgres, str(self.bin / program), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    def _ctl(self, *args: str) -> None:
        # -l: the server must not inherit our pipes (run() would wait for them to close)
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-w", *args)

    @property
    def options(self) -> str:
        return (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c max_connections=100")

    def start(self) -> None:
        self._ctl("-o", self.options, "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "-o", self.options, "restart")

    def url(self, schema: str, timeout: float = TIMEOUT) -> str:
        return (f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
                f"?schema={schema}&timeout={timeout:g}")

    def new_schema(self) -> str:
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return schema

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._ctl("-m", "immediate", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster, running when each test starts."""
    problem = None
    bin_dir = _pg_bin()
    if bin_dir is None:
        problem = "no initdb (PostgreSQL server binaries) on this machine"
    elif os.geteuid() == 0 and shutil.which("runuser") is None:
        problem = "running as root without runuser to start PostgreSQL as postgres"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        problem = "psycopg is not installed (the postgres extra)"
    if problem is not None:
        if REQUIRE_PG:
            pytest.fail(f"RESILIENCE_REQUIRE_POSTGRES is set but {problem}")
        pytest.skip(problem)
    assert bin_dir is not None
    made = Cluster(bin_dir)
    try:
        made.start()
        yield made
    finally:
        made.remove()


@pytest.fixture
def running(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster, started again after the test if the test left it stopped."""
    yield cluster
    with contextlib.suppress(subprocess.CalledProcessError):  # it was running
        cluster.start()


# Helpers ----------------------------------------------------------------------------


class Writer(threading.Thread):
    """Records grids into its own community through its own engine (as a separate process
    would), retrying each command with the same command id until it is acknowledged."""

    def __init__(self, url: str, n: int) -> None:
        super().__init__(name=f"writer-{n}", daemon=True)
        self.engine = Engine(url)
        self.n = n
        self.community = self.engine.communities.register(
            district="Wuchang", subdistrict="Zhongnan", name=f"writer {n}",
            actor=OFFICE).aggregate_id
        self.acked: list[tuple[str, Receipt, float]] = []
        self.failures: list[tuple[type[BaseException], float]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stopping.is_set():
            command = f"w{self.n}-{i}"
            started = time.monotonic()
            try:
                receipt = self.engine.communities.add_grid(self.community, command,
                                                           actor=OFFICE, command_id=command)
            except Exception as exc:  # every failure is kept: its type is asserted
                self.failures.append((type(exc), time.monotonic() - started))
                time.sleep(0.1)
                continue
            self.acked.append((command, receipt, time.monotonic()))
            i += 1

    def acked_after(self, moment: float) -> bool:
        return any(at > moment for _, _, at in self.acked)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took for ``condition`` to hold (fails after ``timeout``)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.02)
    return time.monotonic() - started


def assert_recorded_once(engine: Engine, community: uuid.UUID,
                         acked: list[tuple[str, Receipt, float]]) -> None:
    """Every acknowledged command is recorded, each exactly once, at its receipt's place."""
    events = engine.events(community)
    assert len(events) == 1 + len(acked)  # the registration, then one grid per command
    aggregate = engine.communities.get(community)
    for command, receipt, _ in acked:
        assert aggregate.command_versions(command) == (receipt.first_version,
                                                        receipt.last_version)
        assert receipt.position is not None


class StderrLines(threading.Thread):
    """Collects a process's stderr lines as they come."""

    def __init__(self, process: "subprocess.Popen[str]") -> None:
        super().__init__(daemon=True)
        self.process = process
        self.lines: list[str] = []

    def run(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


# PostgreSQL -------------------------------------------------------------------------


def test_writers_and_followers_ride_out_a_stopped_server(
        running: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    """Four writers and two followers while the server is down for a few seconds: calls
    fail with StoreUnavailableError within the timeout, every follower reports the outage,
    and all resume within seconds of the server's return, nothing lost or doubled."""
    caplog.set_level(logging.INFO, logger="resilience.views")
    url = running.url(running.new_schema())
    writers = [Writer(url, n) for n in range(4)]
    reader = Engine(url, fresh_views=False)
    follower = reader.views.follow(0.1)
    # -X faulthandler: a CLI that does not stop on Ctrl-C is sent SIGABRT, and its
    # threads' stacks on stderr say where it hung. Ctrl-C as a terminal gives it: a test
    # run started in the background (``make test &``) ignores SIGINT, and so would the
    # CLI it starts (a process keeps an ignored SIGINT ignored, Python too).
    cli = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "resilience.cli", "project", "--db",
         url, "--follow", "--interval", "0.2"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stderr = StderrLines(cli)
    stderr.start()
    try:
        assert cli.stdout is not None
        assert cli.stdout.readline().startswith("views at ")
        for writer in writers:
            writer.start()
        wait_until(lambda: all(len(w.acked) >= 5 for w in writers), 10, "writers running")

        running.stop()
        down = time.monotonic()
        wait_until(lambda: all(w.failures for w in writers), 3 * TIMEOUT, "writers see it")
        wait_until(lambda: reader.views.error is not None, 3 * TIMEOUT, "follower reports")
        assert isinstance(reader.views.error, StoreUnavailableError)
        assert reader.views.failing_since is not None
        wait_until(lambda: stderr.has("views cannot catch up"), 3 * TIMEOUT, "CLI reports")
        time.sleep(max(0.0, down + 3 - time.monotonic()))

        running.start()
        back = time.monotonic()
        resumed = wait_until(lambda: all(w.acked_after(back) for w in writers), 4 * TIMEOUT,
                             "every writer acknowledged again")
        assert resumed < TIMEOUT + SLACK
        for writer in writers:
            writer.stopping.set()
            writer.join(TIMEOUT + 5)

        reader.views.wait(timeout=10)
        wait_until(lambda: reader.views.error is None, 5, "follower clear of the error")
        assert follower.failures == 0
        wait_until(lambda: stderr.has("views resumed after"), 10, "CLI follower resumed")
    finally:
        for writer in writers:
            writer.stopping.set()
        follower.stop()
        cli.send_signal(signal.SIGINT)
        try:
            cli.wait(10)
        except subprocess.TimeoutExpired:
            cli.send_signal(signal.SIGABRT)
            try:
                cli.wait(5)
            except subprocess.TimeoutExpired:
                cli.kill()
                cli.wait()

    for writer in writers:
        assert writer.failures
        for kind, seconds in writer.failures:
            assert issubclass(kind, StoreUnavailableError)
            assert seconds < TIMEOUT + SLACK
        assert_recorded_once(writer.engine, writer.community, writer.acked)
        writer.engine.close()
    assert reader.views.position == reader.views.head
    reader.close()

    messages = [r.getMessage() for r in caplog.records if r.name == "resilience.views"]
    assert any(m.startswith("views cannot catch up: StoreUnavailableError: ") for m in messages)
    assert any(m.startswith("views resumed after") for m in messages)
    assert all("\n" not in m for m in messages)
    stderr.join(5)
    assert cli.returncode == 0, "".join(stderr.lines[-60:])
    assert not stderr.has("Traceback")
    outage = [line for line in stderr.lines if "cannot catch up" in line]
    assert outage
    assert outage[0].startswith("resilience: ")


def test_a_restarted_server_is_used_again_without_reopening(running: Cluster) -> None:
    """After a restart every pooled connection is dead: the engine drops them and carries
    on (at once, or after one StoreUnavailableError), with the same engine object."""
    url = running.url(running.new_schema())
    with Engine(url) as engine:
        community = engine.communities.register(district="Wuchang", subdistrict="Zhongnan",
                                                name="Donghu", actor=OFFICE).aggregate_id
        for i in range(8):  # several pooled connections
            engine.communities.add_grid(community, f"g{i}", actor=OFFICE)
        running.restart()
        started = time.monotonic()
        try:
            receipt = engine.communities.add_grid(community, "after", actor=OFFICE,
                                                  command_id="after")
        except StoreUnavailableError:
            receipt = engine.communities.add_grid(community, "after", actor=OFFICE,
                                                  command_id="after")
        assert time.monotonic() - started < TIMEOUT + SLACK
        again = engine.communities.add_grid(community, "after", actor=OFFICE,
                                            command_id="after")
        assert again == receipt
        assert again.position == receipt.position
        assert len(engine.events(community)) == 1 + 8 + 1
        (nothing,) = engine.counts()  # the views catch up too: no case, one zero row
        assert (nothing.incidents, nothing.orders) == (0, 0)


def test_a_table_lock_held_too_long_is_store_unavailable(running: Cluster) -> None:
    """Another session holding the events table's lock: a command gives up after the lock
    timeout (whole seconds on PostgreSQL) instead of waiting forever, and works after."""
    import psycopg

    schema = running.new_schema()
    with Engine(running.url(schema, timeout=1)) as engine:
        community = engine.communities.register(district="Wuchang", subdistrict="Zhongnan",
                                                name="Donghu", actor=OFFICE).aggregate_id
        with psycopg.connect(host="127.0.0.1", port=running.port, user="postgres",
                             dbname="postgres") as holder:
            holder.execute(f"LOCK TABLE {schema}.resilience_events IN EXCLUSIVE MODE")
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match="held the events table"):
                engine.communities.add_grid(community, "g1", actor=OFFICE, command_id="g1")
            assert time.monotonic() - started < 1 + SLACK
            holder.rollback()
        engine.communities.add_grid(community, "g1", actor=OFFICE, command_id="g1")
        assert len(engine.events(community)) == 2


# Waits inside one engine ------------------------------------------------------------


def test_a_command_waits_for_another_threads_batch_at_most_the_timeout(
        tmp_path: Path) -> None:
    """Commands of one engine take turns; one kept waiting (a long batch in another thread)
    gives up after the store's timeout too, records nothing, and works once it may."""
    with Engine(f"sqlite:///{tmp_path / 'e.db'}?timeout=1") as engine:
        community = engine.communities.register(district="Wuchang", subdistrict="Zhongnan",
                                                name="Donghu", actor=OFFICE).aggregate_id
        inside, release = threading.Event(), threading.Event()

        def long_batch() -> None:
            with engine.batch():
                inside.set()
                release.wait(10)

        holder = threading.Thread(target=long_batch)
        holder.start()
        try:
            assert inside.wait(5)
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match="busy with another command"):
                engine.communities.add_grid(community, "g1", actor=OFFICE)
            assert 1 <= time.monotonic() - started < 1 + SLACK
        finally:
            release.set()
            holder.join()
        engine.communities.add_grid(community, "g1", actor=OFFICE)
        assert len(engine.events(community)) == 2


# A lost acknowledgement -------------------------------------------------------------


def _lose_the_first_acknowledgement(engine: Engine) -> None:
    """The next insert is recorded, but its acknowledgement is lost and eventsourcing
    retries it, as its PostgreSQL recorder does on a dropped connection: the retry meets
    the recorded rows."""
    recorder: Any = engine.app.recorder
    insert = recorder.insert_events

    def lost(*args: Any, **kwargs: Any) -> Any:
        recorder.insert_events = insert
        insert(*args, **kwargs)
        return insert(*args, **kwargs)  # IntegrityError: already there

    recorder.insert_events = lost


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgres"])
def test_a_command_answered_after_a_lost_acknowledgement_has_its_position(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The command is answered from its command id, with the position of the event the
    lost insert recorded (it was None, though the event was new); once, and for good."""
    if kind == "postgres":
        cluster: Cluster = request.getfixturevalue("running")
        url = cluster.url(cluster.new_schema())
    else:
        url = "memory:" if kind == "memory" else f"sqlite:///{tmp_path / 'e.db'}"
    with Engine(url, fresh_views=False) as engine:
        community = engine.communities.register(district="Wuchang", subdistrict="Zhongnan",
                                                name="Donghu", actor=OFFICE).aggregate_id
        _lose_the_first_acknowledgement(engine)
        receipt = engine.communities.add_grid(community, "g1", actor=OFFICE, command_id="g1")
        assert receipt.position == engine.views.head
        assert engine.communities.add_grid(community, "g1", actor=OFFICE,
                                           command_id="g1").position == receipt.position
        assert len(engine.events(community)) == 2


# A full disk (SQLite) ---------------------------------------------------------------


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 2 MB tmpfs, unmounted afterwards."""
    where = Path(tempfile.mkdtemp(prefix="resilience-disk-"))
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a small tmpfs, and mounting one needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        shutil.rmtree(where, ignore_errors=True)


def test_a_full_disk_fails_at_once_and_loses_nothing(
        small_disk: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """SQLite on a disk that fills up: commands and `resilience rebuild` raise
    StoreUnavailableError at once (rebuild: one line, exit 2, the views intact); a
    follower reports it; once there is room, the same engine records again, the follower
    resumes, and nothing acknowledged is missing or doubled."""
    caplog.set_level(logging.INFO, logger="resilience.views")
    path = small_disk / "events.db"
    url = f"sqlite:///{path}?timeout=1"
    engine = Engine(url, fresh_views=False)
    community = engine.communities.register(district="Wuchang", subdistrict="Zhongnan",
                                            name="Donghu", actor=OFFICE).aggregate_id
    acked: list[tuple[str, Receipt, float]] = []

    def record(command: str) -> None:
        receipt = engine.communities.add_grid(community, command, actor=OFFICE,
                                              command_id=command)
        acked.append((command, receipt, time.monotonic()))

    for i in range(5):
        record(f"g{i}")
    engine.views.catch_up()
    views_before = {view: engine.views.documents(view) for view in engine.views.stored_names}
    ballast = small_disk / "ballast"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    ballast.write_bytes(b"\0" * max(0, free - 100_000))

    failed: str | None = None
    for i in range(5, 5000):
        try:
            record(f"g{i}")
        except StoreUnavailableError:
            failed = f"g{i}"
            break
    assert failed is not None, "the disk never filled"
    started = time.monotonic()
    with pytest.raises(StoreFault, match="disk is full"):  # a StoreUnavailableError
        record(failed)
    assert time.monotonic() - started < 1.0  # at once, not after the timeout

    capsys.readouterr()
    assert main(["rebuild", "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("resilience: StoreUnavailableError: ")
    assert err.count("\n") == 1
    assert {view: engine.views.documents(view)
            for view in engine.views.stored_names} == views_before

    with engine.views.follow(0.05) as follower:
        wait_until(lambda: engine.views.error is not None, 5, "follower reports")
        assert isinstance(engine.views.error, StoreUnavailableError)
        ballast.unlink()
        record(failed)  # the same command id, now with room
        record(failed)  # and again: recorded once
        engine.views.wait(timeout=10)
        wait_until(lambda: engine.views.error is None, 5, "follower resumed")
        assert follower.failures == 0
    assert acked[-1][1] == acked[-2][1]
    assert_recorded_once(engine, community, acked[:-1])
    messages = [r.getMessage() for r in caplog.records if r.name == "resilience.views"]
    assert any("cannot catch up: StoreUnavailableError" in m and "full" in m
               for m in messages)
    assert any(m.startswith("views resumed after") for m in messages)
    engine.close()
