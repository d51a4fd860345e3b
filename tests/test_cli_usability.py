"""The command line as a newcomer meets it (issue 15): ``--version``, help on every option,
``--db`` falling back to ``$RESILIENCE_DB``, ``--by`` one value at a time, the same moment
flags on every command that reads as of a moment, the format of ``--out`` from its
extension, ``--lang``, and a store that cannot be reached or set up said in one line."""

import argparse
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

import pytest

import resilience
from resilience import Engine
from resilience.cli import build_parser, main
from resilience.cli.common import _dimensions, _moment, _out_format, walk
from resilience.errors import (
    ConfigurationError,
    InvalidInputError,
    ReadOnlyStoreError,
    ResilienceError,
    StoreUnavailableError,
)
from resilience.i18n import current_language
from resilience.metrics.definitions import BUILT_IN_BY_NAME
from resilience.scenarios import DONGHU_FIRE
from test_cli_review import DONGHU, FIRE, run

from conftest import PG_URL, _conninfo, require_postgres

BEIJING = timezone(timedelta(hours=8))

MOMENT_COMMANDS = {("review",), ("situation",), ("plan",), ("recovery",), ("emergencies",),
                   ("mobilisation",), ("timeline",)}
"""The commands that read a store as of a moment: each takes --as-of and --known-at."""
KNOWN_AT_COMMANDS = {("metrics",)}
"""Reports over a period (which bounds what happened) that can be read as known then."""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file holding the Donghu fire (read only by these tests)."""
    path = str(tmp_path_factory.mktemp("usability") / "donghu.db")
    assert main(["replay", str(DONGHU_FIRE), "--db", path]) == 0
    return path


def assert_one_line(err: str, expected: type[ResilienceError]) -> None:
    assert err.startswith(f"resilience: {expected.__name__}: "), err
    assert err.count("\n") == 1, err
    assert err.endswith("\n"), err


def options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """The parser's own options and positionals (not its subcommands)."""
    return (a for a in parser._actions if not isinstance(a, argparse._SubParsersAction))


def command_parser(*path: str) -> argparse.ArgumentParser:
    return dict(walk(build_parser()))[path]


# Version and help -------------------------------------------------------------------


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``resilience --version`` prints ``resilience <version>``, the library's own and the
    installed distribution's, and exits 0."""
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert printed == f"resilience {metadata.version('resilience')}\n"
    assert printed == f"resilience {resilience.__version__}\n"


def test_every_option_of_every_command_says_what_it_is_for() -> None:
    """Walking the whole parser: every option and positional of every (sub)command, and
    every subcommand, has a help text."""
    found = 0
    for path, parser in walk(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"{' '.join(path)} {choice.dest}: no help"
                continue
            found += 1
            where = f"resilience {' '.join(path)} {action.option_strings or action.dest}"
            assert action.help, f"{where}: no help"
            assert action.help != argparse.SUPPRESS, f"{where}: help suppressed"
    assert found > 200  # the walk reached the subcommands


@pytest.mark.parametrize(("path", "dest"), [(("metrics",), "metric"), (("league",), "metric"),
                                        (("what-if", "target"), "metric")])
def test_the_metric_options_list_every_built_in_metric(path: tuple[str, ...],
                                                       dest: str) -> None:
    """Where a metric is named, its help lists the built-in metrics' names."""
    action = next(a for a in options(command_parser(*path)) if a.dest == dest)
    assert action.help is not None
    for name in BUILT_IN_BY_NAME:
        assert name in action.help, (path, name)


def test_every_command_takes_lang_after_its_name_too() -> None:
    """--lang is a global option, accepted after the subcommand's name as well."""
    for path, parser in walk(build_parser()):
        assert any("--lang" in a.option_strings for a in options(parser)), path


# --db and $RESILIENCE_DB ------------------------------------------------------------


def test_db_falls_back_to_resilience_db(db: str, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --db a command reads the store $RESILIENCE_DB names, as the engine does;
    --db still wins over it."""
    code, with_flag, _ = run(capsys, "metrics", "--db", db)
    assert code == 0
    monkeypatch.setenv("RESILIENCE_DB", db)
    assert run(capsys, "metrics") == (0, with_flag, "")
    assert run(capsys, "what-if", "target", "--target", "10")[0] == 0
    monkeypatch.setenv("RESILIENCE_DB", "/nonexistent/elsewhere.db")
    assert run(capsys, "metrics", "--db", db) == (0, with_flag, "")


@pytest.mark.parametrize("argv", [["metrics"], ["timeline", FIRE], ["rebuild"],
                                  ["what-if", "target", "--target", "10"]])
def test_without_db_or_resilience_db_a_command_says_both(
        argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither --db nor $RESILIENCE_DB: one line naming both, exit 2, and no store made
    (no default file appears)."""
    monkeypatch.delenv("RESILIENCE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert_one_line(err, InvalidInputError)
    assert "--db" in err
    assert "RESILIENCE_DB" in err
    assert list(tmp_path.iterdir()) == []


# --by ---------------------------------------------------------------------------------


def test_by_takes_one_value_so_the_metric_after_it_is_a_metric(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``metrics --by grid turnout`` measures turnout by grid: --by no longer swallows the
    metric name (it was read as a second dimension, and the default metric measured)."""
    code, out, _ = run(capsys, "metrics", "--db", db, "--by", "grid", "turnout")
    assert code == 0
    assert out.startswith("turnout (")
    assert "\ngrid 3 " in out


def test_by_repeated_or_comma_separated_is_the_same(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--by grid --by month and --by grid,month group alike, by both."""
    code, repeated, _ = run(capsys, "metrics", "--db", db, "--by", "grid", "--by", "month")
    assert code == 0
    assert "grid 3, month 2022-02" in repeated
    assert run(capsys, "metrics", "--db", db, "--by", "grid,month") == (0, repeated, "")
    assert _dimensions(" grid, month ,") == ["grid", "month"]


def test_what_if_target_groups_by_grid_unless_by_says(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """what-if target keeps its default (by grid); --by replaces it, not adds to it."""
    code, default, _ = run(capsys, "what-if", "target", "--db", db, "--target", "10")
    assert code == 0
    assert "Grid 3" in default
    code, by_month, _ = run(capsys, "what-if", "target", "--db", db, "--target", "10",
                            "--by", "month")
    assert code == 0
    assert "2022-02" in by_month
    assert "Grid 3" not in by_month


# Moments ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("15:07", datetime(2022, 2, 15, 15, 7, tzinfo=BEIJING)),
    ("15:07:30", datetime(2022, 2, 15, 15, 7, 30, tzinfo=BEIJING)),
    ("07:05+00:00", datetime(2022, 2, 15, 7, 5, tzinfo=UTC)),
    ("2022-02-16T09:00", datetime(2022, 2, 16, 9, 0, tzinfo=BEIJING)),
    ("2022-02-16T09:00:00+00:00", datetime(2022, 2, 16, 9, 0, tzinfo=UTC)),
    ("2022-02-16", datetime(2022, 2, 16, tzinfo=BEIJING)),
])
def test_a_moment_is_iso_or_a_time_of_day_on_the_day_given(text: str,
                                                           expected: datetime) -> None:
    """One rule for every moment option: ISO date-times and dates in the zone unless they
    carry an offset; HH:MM and HH:MM:SS on the command's day."""
    found = _moment(text, BEIJING, date(2022, 2, 15))
    assert found == expected
    assert found is not None
    assert found.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["2022", "1507", "tea time", "25:00", "15:07 today"])
def test_a_moment_that_is_neither_is_refused(text: str) -> None:
    """A bare number is not a time of day (Python's time.fromisoformat reads 2022 as
    20:22), nor is anything else not ISO: InvalidInputError quoting it."""
    with pytest.raises(InvalidInputError, match="not an ISO date or time"):
        _moment(text, BEIJING, date(2022, 2, 15))


def test_a_time_of_day_needs_a_day_where_the_command_has_none() -> None:
    """--from and --to (a period) have no day of their own: a bare time is refused."""
    with pytest.raises(InvalidInputError, match="time of day: give a date too"):
        _moment("15:07", BEIJING)


def test_every_command_reading_as_of_a_moment_takes_both_flags_alike() -> None:
    """review, situation, plan, recovery, emergencies, mobilisation, timeline: --as-of and
    --known-at, each saying it takes HH:MM; metrics --known-at; no other command has
    either."""
    for path, parser in walk(build_parser()):
        flags = {o: a for a in options(parser) for o in a.option_strings}
        if path in MOMENT_COMMANDS:
            assert "HH:MM" in str(flags["--as-of"].help), path
            assert "--as-of" in str(flags["--known-at"].help), path
        elif path in KNOWN_AT_COMMANDS:
            assert "--as-of" not in flags, path
            assert "HH:MM" in str(flags["--known-at"].help), path
        else:
            assert "--as-of" not in flags, path
            assert "--known-at" not in flags, path


def test_a_time_of_day_and_the_iso_moment_read_the_same(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """review and recovery: --as-of 15:05 is 15:05 on the incident's day, in its offset."""
    for command in ("review", "recovery"):
        short = run(capsys, command, FIRE, "--db", db, "--as-of", "15:05")
        full = run(capsys, command, FIRE, "--db", db, "--as-of", "2022-02-15T15:05+08:00")
        assert short[0] == 0
        assert short == full, command
    code, out, _ = run(capsys, "situation", "--db", db, "--community", str(DONGHU),
                       "--as-of", "2022-02-15T15:05", "--known-at", "2022-02-15T15:06")
    assert code == 0
    assert out.startswith("Donghu Community at 2022-02-15T15:05+08:00, as known at "
                          "2022-02-15T15:06+08:00")


def test_metrics_known_at_reads_the_figures_as_they_stood(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """metrics --known-at: the Donghu containment as first recorded (14 min) before its
    correction to 12 was recorded, and nothing measured before it was recorded at all."""
    def median(known_at: str) -> str:
        code, out, _ = run(capsys, "metrics", "--db", db, "--known-at", known_at)
        assert code == 0
        return out.splitlines()[-1].split()[3]

    assert median("2022-02-15T15:05") == "-"
    assert median("2022-02-15T15:20") == "14"
    assert median("2022-02-16") == "12"


# --out --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "check"), [
    ("review.html", lambda text: text.startswith("<!DOCTYPE html>")),
    ("review.json", lambda text: json.loads(text)["incidents"][0]["incident_id"] == FIRE),
    ("review.md", lambda text: text.startswith("# After-action review")),
    ("review.txt", lambda text: text.startswith("# After-action review")),
])
def test_out_s_extension_gives_the_format(
        name: str, check: Callable[[str], bool], db: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """review --out x.html writes HTML, .json JSON, .md Markdown; an extension naming no
    format (.txt) keeps the default, Markdown."""
    path = tmp_path / name
    code, out, _ = run(capsys, "review", FIRE, "--db", db, "--out", str(path))
    assert code == 0
    assert f"written to {path}" in out
    assert check(path.read_text(encoding="utf-8"))


def test_format_wins_over_the_extension(db: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """--format says what is written, whatever the file is called."""
    path = tmp_path / "review.html"
    assert run(capsys, "review", FIRE, "--db", db, "--out", str(path), "--format", "md")[0] == 0
    assert path.read_text(encoding="utf-8").startswith("# After-action review")


def test_an_extension_naming_a_format_the_command_lacks_is_refused(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """review --out x.csv: a review has no CSV; one line saying which formats it has, and
    no file written."""
    path = tmp_path / "review.csv"
    code, _, err = run(capsys, "review", FIRE, "--db", db, "--out", str(path))
    assert code == 2
    assert_one_line(err, InvalidInputError)
    assert "md, json, html" in err
    assert not path.exists()
    assert _out_format(None, None, ("md",), "md") == "md"


# --lang ---------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_lang_sets_the_language_for_the_command_only(
        where: str, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """--lang zh-CN (before or after the command's name) is the language while the command
    runs; the process is back in its own language afterwards."""
    monkeypatch.delenv("RESILIENCE_LANG", raising=False)
    monkeypatch.setenv("LC_ALL", "C")
    seen = []

    def rebuild(args: argparse.Namespace) -> int:
        seen.append(current_language())
        return 0

    monkeypatch.setattr("resilience.cli._rebuild", rebuild)
    argv = ["rebuild", "--db", db]
    assert main(["--lang", "zh-CN", *argv] if where == "before" else
                [*argv, "--lang", "zh_CN.UTF-8"]) == 0
    assert seen == ["zh-CN"]
    assert current_language() == "en"


def test_an_unknown_language_is_one_line(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--lang fr: ConfigurationError naming the languages there are, exit 2."""
    code, _, err = run(capsys, "--lang", "fr", "metrics", "--db", db)
    assert code == 2
    assert_one_line(err, ConfigurationError)
    assert "en, zh-CN" in err


# Stores that cannot be reached or set up ----------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_server_fails_within_the_connect_timeout(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection: StoreUnavailableError after RESILIENCE_CONNECT_TIMEOUT (here
    2 s), well before the store's timeout (10 s), naming the refusal; one line from the
    command line."""
    pytest.importorskip("psycopg")
    monkeypatch.setenv("RESILIENCE_CONNECT_TIMEOUT", "2")
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/db"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"no connection within 2 s: .*refused"):
        Engine(url)
    assert time.monotonic() - started < 2 + 1.5
    code, _, err = run(capsys, "metrics", "--db", url)
    assert code == 2
    assert_one_line(err, StoreUnavailableError)


def test_the_connect_timeout_is_five_seconds_by_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the setting an opening waits 5 s for port 1, not the store's 10."""
    pytest.importorskip("psycopg")
    monkeypatch.delenv("RESILIENCE_CONNECT_TIMEOUT", raising=False)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="no connection within 5 s"):
        Engine("postgresql://postgres@127.0.0.1:1/db")
    assert time.monotonic() - started < 5 + 1.5


@pytest.mark.parametrize("bad", ["0", "-1", "soon"])
def test_the_connect_timeout_must_be_a_number_of_seconds(
        bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """RESILIENCE_CONNECT_TIMEOUT is checked as the timeout is: ConfigurationError."""
    pytest.importorskip("psycopg")
    monkeypatch.setenv("RESILIENCE_CONNECT_TIMEOUT", bad)
    with pytest.raises(ConfigurationError, match="RESILIENCE_CONNECT_TIMEOUT"):
        Engine("postgresql://postgres@127.0.0.1:1/db")


def admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        conn.execute(statement)


def schema_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                            (name,)).fetchone() is not None


def url_as(user: str | None, schema: str) -> str:
    base = PG_URL.split("?", 1)[0]
    if user is not None:
        base = base.replace("://postgres@", f"://{user}@", 1)
    return f"{base}?schema={schema}"


@pytest.fixture
def new_schema() -> Iterator[str]:
    """A schema name no server has yet; dropped afterwards if something made it."""
    require_postgres()
    name = f"c_{uuid.uuid4().hex[:12]}"
    yield name
    admin(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def role() -> Iterator[str]:
    """A login role of no privilege of its own, dropped afterwards."""
    require_postgres()
    name = f"c_role_{uuid.uuid4().hex[:8]}"
    admin(f"CREATE ROLE {name} LOGIN")
    yield name
    admin(f"DROP ROLE IF EXISTS {name}")


@pytest.mark.postgres
def test_a_missing_schema_is_created(new_schema: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A URL naming a schema that does not exist yet: the engine creates it, and the store
    works (it was a ConfigurationError asking for CREATE SCHEMA)."""
    url = url_as(None, new_schema)
    assert run(capsys, "replay", str(DONGHU_FIRE), "--db", url)[0] == 0
    assert schema_exists(new_schema)
    code, out, _ = run(capsys, "metrics", "--db", url, "--by", "grid")
    assert code == 0
    assert "grid 3" in out


@pytest.mark.postgres
def test_a_schema_the_user_may_not_create_is_named(
        new_schema: str, role: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A user without CREATE on the database: ConfigurationError naming the schema and the
    user, in one line; nothing created."""
    code, _, err = run(capsys, "metrics", "--db", url_as(role, new_schema))
    assert code == 2
    assert_one_line(err, ConfigurationError)
    assert f"no schema '{new_schema}'" in err
    assert repr(role) in err
    assert not schema_exists(new_schema)


@pytest.mark.postgres
def test_a_read_only_server_names_the_missing_schema(
        new_schema: str, role: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A server taking no writes (here: the role's transactions read-only, as on a hot
    standby) creates nothing: ReadOnlyStoreError naming the schema."""
    admin(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    with pytest.raises(ReadOnlyStoreError, match=f"no schema '{new_schema}'"):
        Engine(url_as(role, new_schema))
    code, _, err = run(capsys, "metrics", "--db", url_as(role, new_schema))
    assert code == 2
    assert_one_line(err, ReadOnlyStoreError)
    assert not schema_exists(new_schema)


@pytest.mark.postgres
def test_a_schema_name_that_is_not_plain_is_not_created(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Upper case (which eventsourcing's unquoted type names would fold) is named, not
    created: the tables could not be set up in it."""
    require_postgres()
    name = f"C_{uuid.uuid4().hex[:8]}"
    try:
        with pytest.raises(ConfigurationError, match="only a plain lower-case name"):
            Engine(url_as(None, name))
        assert not schema_exists(name)
    finally:
        admin(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
