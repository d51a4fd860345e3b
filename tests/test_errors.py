"""Every failure is a documented error: each case below once leaked a raw exception (or
hung). Each raises its resilience.errors type from the library, and the CLI prints one
line (no traceback) and exits 2.

The PostgreSQL cases never leave this machine: an unreachable server is a loopback port
nobody listens on, a hanging one a local listener that accepts and never answers.
"""

import base64
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from resilience import (
    ConfigurationError,
    Engine,
    InvalidInputError,
    MetricDefinition,
    ProtectedStoreError,
    ResilienceError,
    StoreUnavailableError,
)
from resilience.adapters.store import _postgres_pool_class
from resilience.cli import main
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS

from conftest import OFFICE, PG_URL, require_postgres

AES = "eventsourcing.cryptography:AESCipher"
TIMEOUT = 2.0
"""The store timeout the slow cases set (``?timeout=``): they must fail about then."""


def new_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().err


def assert_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                    expected: type[ResilienceError]) -> None:
    code, err = cli(capsys, *argv)
    assert code == 2, err
    assert err.startswith(f"resilience: {expected.__name__}: "), err
    assert err.count("\n") == 1, err
    assert err.endswith("\n"), err
    assert "Traceback" not in err


def assert_raises_in_time(call: Callable[[], object], expected: type[ResilienceError],
                          within: float) -> ResilienceError:
    started = time.monotonic()
    with pytest.raises(expected) as caught:
        call()
    assert time.monotonic() - started < within
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never says a word (a hung server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.fixture
def unused_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port: int = probe.getsockname()[1]
    probe.close()
    return port


@pytest.fixture
def donghu_db(tmp_path: Path) -> str:
    path = str(tmp_path / "donghu.db")
    assert main(["replay", str(DONGHU_FIRE), "--db", path]) == 0
    return path


# The SQLite lock --------------------------------------------------------------------


def test_a_command_on_a_locked_sqlite_store_is_store_unavailable(
        donghu_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A command (not only a query) waits the timeout for another writer's lock, then
    raises StoreUnavailableError and records nothing; so does `resilience replay`."""
    url = f"sqlite:///{donghu_db}?timeout=1"
    holder = sqlite3.connect(donghu_db, timeout=0)
    try:
        with Engine(url) as engine:
            community = uuid.UUID(next(iter(engine.reports.communities())))
            recorded = len(engine.events(community))
            holder.execute("BEGIN IMMEDIATE")
            error = assert_raises_in_time(
                lambda: engine.communities.add_grid(community, "g-9", actor=OFFICE),
                StoreUnavailableError, within=1 + 1.5)
            assert "locked" in str(error)
            assert len(engine.events(community)) == recorded
            assert_one_line(capsys, ["replay", str(XIANGYANG_ORDERS), "--db", url],
                            StoreUnavailableError)
            holder.rollback()
            engine.communities.add_grid(community, "g-9", actor=OFFICE)
            assert len(engine.events(community)) == recorded + 1
    finally:
        holder.close()


# PostgreSQL schemas ---------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("schema", ['no such"schema', "%00"])
def test_a_bad_postgres_schema_is_a_configuration_error(
        schema: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A schema name that cannot be used is a ConfigurationError (it was ProgrammingError
    or DataError from deep in eventsourcing's set-up); a missing plain one is created
    (tests/test_cli_usability.py)."""
    require_postgres()
    url = f"{PG_URL.split('?', 1)[0]}?schema={schema}&timeout={TIMEOUT:g}"
    error = assert_raises_in_time(lambda: Engine(url), ConfigurationError, within=TIMEOUT + 3)
    assert "schema" in str(error)
    assert_one_line(capsys, ["metrics", "--db", url], ConfigurationError)


# Unreachable and hung servers -------------------------------------------------------


def test_an_unreachable_postgres_server_fails_within_the_timeout(
        unused_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    """A server that refuses connections: StoreUnavailableError after the timeout, naming
    the refusal (it was a silent 30 s wait, then eventsourcing's OperationalError)."""
    pytest.importorskip("psycopg")
    url = f"postgresql://postgres@127.0.0.1:{unused_port}/db?timeout={TIMEOUT:g}"
    error = assert_raises_in_time(lambda: Engine(url), StoreUnavailableError,
                                  within=TIMEOUT + 1.5)
    assert "refused" in str(error)
    assert_one_line(capsys, ["metrics", "--db", url], StoreUnavailableError)


def test_a_hung_postgres_server_fails_within_the_timeout(
        silent_listener: int, capsys: pytest.CaptureFixture[str]) -> None:
    """A server that accepts and never answers: StoreUnavailableError after the timeout."""
    pytest.importorskip("psycopg")
    url = f"postgresql://postgres@127.0.0.1:{silent_listener}/db?timeout={TIMEOUT:g}"
    error = assert_raises_in_time(lambda: Engine(url), StoreUnavailableError,
                                  within=TIMEOUT + 1.5)
    assert f"no connection within {TIMEOUT:g} s" in str(error)
    assert_one_line(capsys, ["metrics", "--db", url], StoreUnavailableError)


def test_the_timeout_must_be_a_positive_number(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """?timeout= (and RESILIENCE_TIMEOUT) are checked like any other part of the URL: a
    number of seconds > 0 and at most a day (1e300 raised OverflowError)."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    for bad in ("0", "-1", "soon", "nan", "1e300"):
        with pytest.raises(ConfigurationError, match="timeout"):
            Engine(f"{url}?timeout={bad}")
        for store in (url, "memory:"):
            with pytest.raises(ConfigurationError, match="RESILIENCE_TIMEOUT"):
                Engine(store, env={"RESILIENCE_TIMEOUT": bad})
    assert_one_line(capsys, ["metrics", "--db", "sqlite:///x.db?timeout=0"],
                    ConfigurationError)
    assert_one_line(capsys, ["metrics", "--db", "sqlite:///x.db?timeout=1e300"],
                    ConfigurationError)
    assert_one_line(capsys, ["metrics", "--db", "sqlite:///x.db?tiemout=3"],
                    ConfigurationError)


# Encrypted stores -------------------------------------------------------------------


@pytest.fixture
def encrypted_db(tmp_path: Path) -> tuple[str, str, uuid.UUID]:
    """A SQLite store written with AES (its URL, key, and its community's id)."""
    pytest.importorskip("cryptography")
    url = f"sqlite:///{tmp_path / 'secret.db'}"
    key = new_key()
    with Engine(url, env={"CIPHER_TOPIC": AES, "CIPHER_KEY": key}) as engine:
        receipt = engine.communities.register(district="Wuchang", subdistrict="Zhongnan",
                                              name="Donghu", actor=OFFICE)
    return url, key, receipt.aggregate_id


def test_a_protected_store_opened_without_its_key_is_refused(
        encrypted_db: tuple[str, str, uuid.UUID], capsys: pytest.CaptureFixture[str]) -> None:
    """No key: ProtectedStoreError (a ConfigurationError) as the engine opens, before any
    event or view is read (was UnreadableEventError on the first read); from the CLI too."""
    url, _, community = encrypted_db
    error = assert_raises_in_time(lambda: Engine(url, fresh_views=False),
                                  ProtectedStoreError, within=5)
    assert "CIPHER_KEY" in str(error)
    assert isinstance(error, ConfigurationError)
    assert_one_line(capsys, ["timeline", str(community), "--db", url], ProtectedStoreError)
    assert_one_line(capsys, ["rebuild", "--db", url], ProtectedStoreError)


def test_a_protected_store_opened_with_a_wrong_key_is_refused(
        encrypted_db: tuple[str, str, uuid.UUID]) -> None:
    """A wrong key: ProtectedStoreError as the engine opens, saying the key is wrong."""
    url, _, _ = encrypted_db
    error = assert_raises_in_time(
        lambda: Engine(url, env={"CIPHER_TOPIC": AES, "CIPHER_KEY": new_key()}),
        ProtectedStoreError, within=5)
    assert "not the key the store is protected with" in str(error)


def test_a_missing_or_malformed_cipher_key_is_a_configuration_error(
        encrypted_db: tuple[str, str, uuid.UUID]) -> None:
    """CIPHER_TOPIC without CIPHER_KEY, or a key that is not base64: ConfigurationError at
    opening (was OSError or binascii.Error)."""
    url, _, _ = encrypted_db
    for env in ({"CIPHER_TOPIC": AES}, {"CIPHER_TOPIC": AES, "CIPHER_KEY": "xx"}):
        with pytest.raises(ConfigurationError, match="cannot open"):
            Engine(url, env=env)


def test_the_right_key_still_reads_everything(
        encrypted_db: tuple[str, str, uuid.UUID]) -> None:
    """The control: with its key the encrypted store reads as any other."""
    url, key, community = encrypted_db
    with Engine(url, env={"CIPHER_TOPIC": AES, "CIPHER_KEY": key}) as engine:
        assert engine.communities.get(community).name == "Donghu"


# The command line's one line --------------------------------------------------------


def test_a_store_fault_the_engine_did_not_name_is_shown_as_what_it_is(
        donghu_db: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a raw eventsourcing error ever reach the command line, its line names its own
    type (it was labelled StoreUnavailableError whatever it was, an IntegrityError too)."""
    def clash(_: object) -> int:
        raise IntegrityError("UNIQUE constraint failed:\n  events.originator_id")

    monkeypatch.setattr("resilience.cli._rebuild", clash)
    code, err = cli(capsys, "rebuild", "--db", donghu_db)
    assert code == 2
    assert err == ("resilience: IntegrityError: UNIQUE constraint failed: "
                   "events.originator_id\n")


@pytest.mark.parametrize("text", [
    '{"name": "x", "subject": "incident", "start": "detected", "end": "contained", '
    '"target": ' + "9" * 5000 + "}",
    "[" * 100_000,
    "not json",
], ids=["5000-digit-number", "100000-deep", "not-json"])
def test_a_metric_definition_file_python_cannot_read_is_invalid_input(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, donghu_db: str, text: str) -> None:
    """A definition with a number too long to convert or nesting too deep to decode is
    InvalidInputError from the library and one line from the CLI (not a traceback)."""
    with pytest.raises(InvalidInputError, match="metric definition is not JSON"):
        MetricDefinition.from_json(text)
    path = tmp_path / "metric.json"
    path.write_text(text, encoding="utf-8")
    assert_one_line(capsys, ["metrics", "--db", donghu_db, str(path)], InvalidInputError)


def test_a_failed_opening_does_not_wait_for_its_connections_to_close(
        silent_listener: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing a pool waits for a connection attempt under way (up to libpq's
    connect_timeout, which once made a failed opening take twice the timeout): the
    caller's error still comes within the timeout, and the connections close beside it."""
    pytest.importorskip("psycopg")
    pool_class = _postgres_pool_class()  # the engine's pool
    closed = threading.Event()
    close = pool_class.close

    def slow_close(pool: Any, timeout: float = 5.0) -> None:
        time.sleep(TIMEOUT + 2)  # an attempt to a silent server, still under way
        close(pool, timeout)
        closed.set()

    monkeypatch.setattr(pool_class, "close", slow_close)
    url = f"postgresql://postgres@127.0.0.1:{silent_listener}/db?timeout={TIMEOUT:g}"
    assert_raises_in_time(lambda: Engine(url), StoreUnavailableError, within=TIMEOUT + 1.5)
    assert not closed.is_set()
    assert closed.wait(TIMEOUT + 10), "the failed opening's pool was never closed"
