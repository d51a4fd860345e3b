"""The read-side commands: metrics, scorecard, league, quality, rebuild, project."""

import io
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest

from resilience import RATES, Actor, Engine, RateDefinition, Role, StoreUnavailableError
from resilience.cli import main, progress_bar
from resilience.metrics.rates import rate_description
from resilience.projections import Follower
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite file holding both shipped scenarios."""
    path = str(tmp_path / "both.db")
    for scenario in (DONGHU_FIRE, XIANGYANG_ORDERS):
        assert main(["replay", str(scenario), "--db", path]) == 0
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_metrics_grades_the_donghu_containment(db: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`resilience metrics` prints the built-in 15-minute metric, met, for Donghu."""
    code, out, _ = run(capsys, "metrics", "--db", db, "--by", "community")
    assert code == 0
    assert "detection_to_contained" in out
    donghu = next(line for line in out.splitlines() if "Donghu" in line)
    assert donghu.split()[-2:] == ["yes", "0"]  # met; no case excluded
    assert " 12 " in donghu


def test_metrics_compares_a_definition_file_with_the_built_in(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Several metrics print side by side; a .json file defines a custom one."""
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"name": "contained_in_10", "subject": "incident",
                                  "start": "detected", "end": "contained", "unit": "min",
                                  "target": 10}))
    code, out, _ = run(capsys, "metrics", "detection_to_contained", str(strict), "--db", db)
    assert code == 0
    header = out.splitlines()[0]
    assert "detection_to_contained" in header
    assert "contained_in_10" in header
    assert "100%" in out
    assert "0%" in out.replace("100%", "")


def test_scorecard_by_community_name_and_month(db: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A scorecard is found by the community's name and limited to a month in its time zone."""
    code, out, _ = run(capsys, "scorecard", "--db", db, "--community", "Xiangyang Community",
                       "--month", "2022-03", "--tz", "Asia/Shanghai")
    assert code == 0
    assert "Service orders: 9" in out
    assert "activities held 3" in out
    code, out, _ = run(capsys, "scorecard", "--db", db, "--community", "Xiangyang Community",
                       "--month", "2022-04", "--tz", "Asia/Shanghai")
    assert "Service orders: 0" in out


def test_league_lists_unranked_grids_with_the_reason(db: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Grids below the minimum sample are listed as not ranked."""
    code, out, _ = run(capsys, "league", "--db", db, "--min-sample", "2")
    assert code == 0
    assert "not ranked: 1 < 2 cases" in out
    assert "not ranked: 0 < 2 cases" in out


def test_rates_prints_the_three_rates_per_grid_with_their_counts(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Xiangyang's day by grid: every order answered within 2 h; in 10 min, 5 of 9 (the
    Donghu lock repair, answered the next morning, among them); each rate with its yes/n
    and unknowns."""
    code, out, _ = run(capsys, "rates", "--db", db, "--by", "grid")
    assert code == 0
    assert "response_rate: answered within 2 h" in out
    xy2 = next(line for line in out.splitlines() if line.startswith("grid xy-2"))
    assert xy2.split() == ["grid", "xy-2", "4", "0", "100%", "4/4", "0", "0%", "0/4", "4",
                           "50%", "2/4", "1"]
    code, out, _ = run(capsys, "rates", "--db", db, "--limit", "10", "--satisfied-from", "5")
    assert "response_rate: answered within 10 min" in out
    assert "satisfaction_rate: score 5" in out
    everyone = out.splitlines()[-1].split()
    assert everyone[:6] == ["all", "10", "1", "56%", "5/9", "0"]
    assert everyone[-3:] == ["33%", "3/9", "2"]


def test_a_rate_changed_by_its_options_is_described_by_its_rule_not_the_built_ins_words(
        db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`--limit 90 --satisfied-from 5`: the rates asked for say "90 minutes" and "5 out of
    5", never the built-ins' "within 2 hours" and "4 or 5"."""
    asked: list[RateDefinition] = []
    real = Engine.rates

    def rates(engine: Engine, *args: Any, **kwargs: Any) -> Any:
        asked.extend(kwargs["rates"])
        return real(engine, *args, **kwargs)

    monkeypatch.setattr(Engine, "rates", rates)
    code, _, _ = run(capsys, "rates", "--db", db, "--limit", "90", "--satisfied-from", "5")
    assert code == 0
    assert [r.description for r in asked] == [
        "orders the community answered (accepted, rejected or dispatched) within 90 minutes "
        "of their placement",
        "orders the resident says were resolved, when rating them",
        "orders the resident rated 5 out of 5"]
    assert [rate_description(r) for r in RATES] == [r.description for r in RATES]


def test_league_ranks_on_a_rate_and_metrics_print_in_the_unit_asked(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`league --metric satisfaction_rate` ranks the highest rate first; `metrics --unit s`
    prints seconds; `--as-closed` reads closed cases as known at their closure."""
    code, out, _ = run(capsys, "league", "--db", db, "--metric", "satisfaction_rate",
                       "--min-sample", "2")
    assert code == 0
    assert "League: satisfaction_rate (score 4 or more)" in out
    first = next(line for line in out.splitlines() if line.startswith("1 "))
    assert "Grid 2 - old estates" in first
    assert first.split()[-5:] == ["4", "2", "1", "1", "50%"]
    code, out, _ = run(capsys, "metrics", "--db", db, "--unit", "s", "--as-closed")
    assert code == 0
    assert "(detected -> contained, s; target 900 s" in out
    assert out.splitlines()[-1].split() == ["all", "1", "1", "720", "720", "720", "100%",
                                            "yes", "0"]


def test_quality_lists_late_records_and_the_correction(db: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`resilience quality` reports Donghu's three late records and its time correction."""
    code, out, _ = run(capsys, "quality", "--db", db)
    assert code == 0
    assert "Recorded more than 15 min late (3)" in out
    assert "Corrections (1)" in out
    code, out, _ = run(capsys, "quality", "--db", db, "--late-after", "20")
    assert "Recorded more than 20 min late (0)" in out


def test_rebuild_and_project_report_what_they_folded(db: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A rebuild folds every event again; a catch-up right after finds nothing new."""
    code, out, err = run(capsys, "rebuild", "--db", db)
    assert code == 0
    folded = int(out.split("from ")[1].split(" events")[0].replace(",", ""))
    assert folded > 100
    assert "100%" in err
    code, out, _ = run(capsys, "project", "--db", db)
    assert code == 0
    assert ": 0 new events folded" in out


@pytest.mark.parametrize("argv", [
    ["metrics", "no_such_metric"],
    ["metrics", "--by", "provider"],  # incidents have no provider
    ["metrics", "--month", "2022-13"],
    ["metrics", "--from", "yesterday"],
    ["metrics", "--tz", "Mars/Olympus"],
    ["scorecard", "--community", "Nowhere"],
    ["scorecard", "--community", "Donghu Community", "--grid", "9"],
    ["league", "--min-sample", "0"],
    ["rates", "--by", "severity"],  # orders have no severity
    ["rates", "--limit", "0"],
])
def test_bad_arguments_exit_2_with_a_message(db: str, argv: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Bad input gets one clear line on stderr and exit status 2."""
    code, _, err = run(capsys, argv[0], "--db", db, *argv[1:])
    assert code == 2
    assert err.startswith("resilience: ")


@pytest.mark.parametrize("argv", [
    ["metrics", "--unit", "hours"],
    ["rates", "--satisfied-from", "6"],
])
def test_an_option_outside_its_choices_is_a_usage_error(
        db: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """argparse names the choices and exits 2."""
    with pytest.raises(SystemExit) as exited:
        main([argv[0], "--db", db, *argv[1:]])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_progress_bar_draws_the_share_done() -> None:
    """The progress bar (cli.common.Progress) shows the share of events folded: in a log
    (not a terminal) a line per tenth done, the last one at 100%, ending with a newline."""
    out = io.StringIO()
    draw = progress_bar(out, width=10)
    draw(50, 100)
    draw(100, 100)
    text = out.getvalue()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[0].startswith("views:  50%  50/100 events")
    assert lines[-1].startswith("views: 100%  100/100 events")


def test_a_mistyped_store_is_refused_and_not_created(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Read-side commands on a SQLite file that doesn't exist exit 2 and create nothing."""
    typo = tmp_path / "typo.db"
    for argv in (["metrics"], ["scorecard", "--community", "x"], ["quality"], ["rebuild"],
                 ["project"], ["league"], ["timeline", "00000000-0000-0000-0000-000000000000"]):
        code, _, err = run(capsys, *argv, "--db", str(typo))
        assert code == 2
        assert "no store at" in err
    assert not typo.exists()


def test_a_definition_file_that_is_not_an_object_exits_2(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A .json definition holding a list or text is refused with a message, not a traceback."""
    for content in ("[1, 2]", '"turnout"', '{"name": 5}'):
        bad = tmp_path / "bad.json"
        bad.write_text(content)
        code, _, err = run(capsys, "metrics", str(bad), "--db", db)
        assert code == 2
        assert "InvalidInputError" in err


def test_quality_refuses_an_infinite_threshold(db: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """--late-after inf exits 2 with a message."""
    code, _, err = run(capsys, "quality", "--db", db, "--late-after", "inf")
    assert code == 2
    assert "--late-after" in err


def test_timeline_shows_times_in_the_asked_zone(db: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`timeline --tz UTC` prints the 15:00 Shanghai detection as 07:00."""
    code, out, _ = run(capsys, "replay", str(DONGHU_FIRE), "--db", db)
    incident = next(line.split()[-1] for line in out.splitlines() if line.startswith("incident"))
    code, out, _ = run(capsys, "timeline", incident, "--db", db, "--tz", "UTC")
    assert code == 0
    assert out.splitlines()[0] == "start 2022-02-15T07:00:00+00:00"
    assert "  07:00  " in out


def test_a_fresh_query_on_a_locked_store_raises_a_documented_error(tmp_path: Path) -> None:
    """While another writer holds SQLite's lock, a query that must catch up raises
    StoreUnavailableError; once it is released the query answers."""
    path = tmp_path / "locked.db"
    with Engine(str(path), env={"SQLITE_LOCK_TIMEOUT": "1"}) as engine:
        donghu = replay_file(engine, DONGHU_FIRE).community_id
        engine.communities.hold_activity(donghu, title="fire drill talk", category="safety",
                                         participants=30, actor=Actor("office-duty",
                                                                      Role.COMMUNITY_STAFF))
        holder = sqlite3.connect(path, timeout=0)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreUnavailableError):
                engine.counts()
        finally:
            holder.rollback()
            holder.close()
        (counts,) = engine.counts()
        assert counts.activity_participants == 30


def one_error_line(err: str, kind: str) -> str:
    """The message of the single documented line ``resilience: <kind>: <message>``."""
    assert err.startswith(f"resilience: {kind}: "), err
    assert err.count("\n") == 1, err
    assert err.endswith("\n"), err
    return err[len(f"resilience: {kind}: "):-1]


@pytest.mark.parametrize("argv", [
    ["quality", "--late-after", "1e308"],  # a timedelta overflow and a traceback
    ["quality", "--late-after", "-1"],
    ["quality", "--late-after", "nan"],
    ["project", "--follow", "--interval", "1e300"],  # the follower's wait overflowed
    ["project", "--follow", "--interval", "inf"],
    ["project", "--follow", "--interval", "0"],  # polled without pause
    ["project", "--follow", "--interval", "-1"],
    ["project", "--follow", "--interval", "nan"],
])
def test_numbers_out_of_range_get_one_line_and_exit_2(
        db: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Every number the command line takes is checked against its range before use: one
    InvalidInputError line naming the option, exit 2."""
    code, _, err = run(capsys, *argv, "--db", db)
    assert code == 2
    assert argv[-2].lstrip("-") in one_error_line(err, "InvalidInputError")


def test_a_file_that_cannot_be_written_or_read_is_one_typed_line(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`review --out` to a directory or a missing folder, and a definition file that cannot
    be read, print `resilience: OSError: cannot write|read FILE: why` (they printed the
    errno and no type), exit 2; a definition file that is not UTF-8 is InvalidInputError."""
    code, out, _ = run(capsys, "replay", str(DONGHU_FIRE), "--db", db)
    incident = next(line.split()[-1] for line in out.splitlines() if line.startswith("incident"))
    for target, why in (("/", "Is a directory"),
                        (str(tmp_path / "no" / "such.md"), "No such file or directory")):
        code, _, err = run(capsys, "review", incident, "--db", db, "--out", target)
        assert code == 2
        assert one_error_line(err, "OSError") == f"cannot write {target}: {why}"
    folder = tmp_path / "definition.json"
    folder.mkdir()
    code, _, err = run(capsys, "metrics", str(folder), "--db", db)
    assert code == 2
    assert one_error_line(err, "OSError") == f"cannot read {folder}: Is a directory"
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"name": "délai"}'.encode("latin-1"))
    code, _, err = run(capsys, "metrics", str(latin), "--db", db)
    assert code == 2
    assert one_error_line(err, "InvalidInputError") == (
        f"cannot read {latin}: not UTF-8 text (invalid continuation byte at byte 11)")


def test_project_follow_exits_2_with_one_line_if_its_follower_stops(
        db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`project --follow` watches its follower: should its thread stop (a fault of its own,
    not the store's), it prints the error on one line and exits 2 instead of sleeping on
    with views no longer kept up to date."""
    monkeypatch.setattr(Follower, "_follow", Mock(side_effect=RuntimeError("follower bug")))
    monkeypatch.setattr("resilience.cli.FOLLOWER_CHECK", 0.01, raising=False)
    capsys.readouterr()
    result: list[int] = []
    command = threading.Thread(target=lambda: result.append(
        main(["project", "--db", db, "--follow", "--interval", "0.01"])), daemon=True)
    command.start()
    command.join(10)
    assert result == [2], "still following with a stopped follower"
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "resilience: RuntimeError: follower bug"
    assert "Traceback" not in err
