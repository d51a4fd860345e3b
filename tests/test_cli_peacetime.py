"""``resilience hazards`` (and ``hazards show``) and ``resilience patrols`` end to end on
SQLite and PostgreSQL: the Donghu demo's hazard and grid 3's plan, a second community with
a hazard left overdue; tables, JSON and CSV; English and Chinese."""

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resilience.cli import main
from resilience.i18n import set_language
from resilience.scenarios import DONGHU_FIRE
from test_cli_review import run
from test_i18n_reports import english_left, misaligned
from test_scenario_peacetime import FIND, LIFE, PATROL, PLAN, SETUP, document

from conftest import _pg_schema_url, require_postgres

OVERDUE = [LIFE[0], LIFE[1], {**FIND, "hazard": "exit", "patrol": "walk-1", "label": "exit-found",
                     "at": "2022-02-18T09:50", "category": "blocked_exit", "severity": "high",
                     "location": {"building": "30", "unit": "2"},
                     "description": "bikes in the stairwell"},
           {**LIFE[0], "hazard": "exit", "due": "2022-03-01T18:00"}]
"""The clutter assigned and rectified; a blocked exit assigned, due 1 March, never
rectified."""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[str]:
    """A store holding the Donghu demo and a second community with two hazards."""
    if request.param == "sqlite":
        url = str(tmp_path_factory.mktemp("peacetime") / "store.db")
    else:
        require_postgres()
        schemas = _pg_schema_url()
        url = next(schemas)
    other = tmp_path_factory.mktemp("files") / "peace.json"
    other.write_text(document([*SETUP, PLAN, PATROL, FIND, *OVERDUE]), encoding="utf-8")
    for scenario in (DONGHU_FIRE, other):
        assert main(["replay", str(scenario), "--db", url]) == 0
    set_language(None)
    yield url
    if request.param == "postgres":
        next(schemas, None)  # drops the schema


def test_hazards_lists_reference_place_status_due_and_overdue(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The Donghu hazard, verified: its reference, category, place, due date; not
    overdue."""
    code, out, _ = run(capsys, "hazards", "--db", db, "--community", "Donghu Community")
    assert code == 0
    header, _rule, row, _blank, total = out.splitlines()
    assert header.split() == ["reference", "found", "category", "severity", "where",
                              "status", "due", "overdue"]
    assert row.startswith("DH-2022-H0001  2022-02-18 09:40  clutter")
    assert "grid 3, building 30, unit 1, floor -1" in row
    assert "verified" in row
    assert "2022-02-25 18:00" in row
    assert row.endswith("-")
    assert total.startswith("1 hazard(s), 0 overdue as of ")
    assert not misaligned(out)


def test_the_filters_keep_what_they_say(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--open, --status, --grid and --overdue (now: the exit was due in 2022); a period that
    holds none."""
    community = ["--db", db, "--community", "Peace Community"]
    out = run(capsys, "hazards", *community)[1]
    assert [line.split()[0] for line in out.splitlines()[2:4]] == ["DH-2022-H0001",
                                                                  "DH-2022-H0002"]
    out = run(capsys, "hazards", *community, "--status", "assigned", "--grid", "3",
              "--open")[1]
    assert "DH-2022-H0002" in out
    assert "blocked exit" in out
    out = run(capsys, "hazards", *community, "--overdue")[1]
    lines = out.splitlines()
    assert len(lines) == 5
    assert lines[2].startswith("DH-2022-H0002")
    assert lines[2].endswith(" d")
    assert lines[4].startswith("1 hazard(s), 1 overdue as of ")
    assert run(capsys, "hazards", *community, "--overdue", "--status", "rectified")[1] \
        .strip() == "No hazards."
    assert run(capsys, "hazards", *community, "--grid", "4")[1].strip() == "No hazards."
    assert run(capsys, "hazards", *community, "--month", "2022-01")[1].strip() == "No hazards."
    with pytest.raises(SystemExit):
        main(["hazards", *community, "--status", "fixed"])


def test_hazards_as_json_and_csv(db: str, capsys: pytest.CaptureFixture[str],
                                 tmp_path: Path) -> None:
    """The same rows as JSON (with schema_version) and CSV (one record a hazard), by
    --format or by the --out file's extension."""
    code, out, _ = run(capsys, "hazards", "--db", db, "--community", "Peace Community",
                       "--format", "json")
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    assert (data["schema_version"], data["report"], data["total"]) == (1, "hazard_list", 2)
    exit_row = data["rows"][1]
    assert {k: exit_row[k] for k in ("reference", "category", "severity", "status",
                                     "building", "unit", "overdue")} == {
        "reference": "DH-2022-H0002", "category": "blocked_exit", "severity": "high",
        "status": "assigned", "building": "30", "unit": "2", "overdue": True}
    assert exit_row["days_overdue"] > 365  # due 1 March 2022, never rectified
    assert exit_row["due"] == "2022-03-01T18:00:00+08:00"
    path = tmp_path / "hazards.csv"
    assert run(capsys, "hazards", "--db", db, "--community", "Peace Community", "--out",
               str(path))[0] == 0
    records = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    assert [r["reference"] for r in records] == ["DH-2022-H0001", "DH-2022-H0002"]
    assert [r["overdue"] for r in records] == ["false", "true"]


def test_hazards_show_prints_one_hazards_timeline(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """By reference (any case, zeros optional), scenario handle or id prefix: the same
    timeline, each fact dated; an unknown one exits 2 saying so."""
    code, out, _ = run(capsys, "hazards", "show", "DH-2022-H0001", "--db", db)
    assert code == 2  # two communities have a DH-2022-H0001
    code, out, _ = run(capsys, "hazards", "show", "b30-storage-clutter", "--db", db)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Hazard DH-2022-H0001 (clutter, moderate) at grid 3, "
                               "building 30, unit 1, floor -1")
    assert lines[0].endswith(": verified")
    assert lines[1].startswith("  2022-02-18 09:40  Zhang Chuanlian (grid leader): ")
    assert "Qian, property service centre (provider)" in out
    assert lines[-1].startswith("  2022-02-24 10:00  Sun (grid worker, property staff)")
    data = json.loads(run(capsys, "hazards", "show", "b30-storage-clutter", "--db", db,
                          "--format", "json")[1])
    assert data["report"] == "timeline"
    assert [entry["action"] for entry in data["entries"]] == [
        "Found", "LinkedToImprovement", "Assigned", "Rectified", "Verified"]
    assert run(capsys, "hazards", "show", data["aggregate_id"][:8], "--db", db)[1] == out
    assert run(capsys, "hazards", "show", data["aggregate_id"], "--db", db)[1] == out
    code, _, err = run(capsys, "hazards", "show", "no-such-hazard", "--db", db)
    assert code == 2
    assert "no hazard is 'no-such-hazard'" in err


def test_patrols_shows_each_rules_coverage_and_the_windows_missed(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Grid 3 of Donghu in February 2022: the plan adopted on the 17th asks building 30
    once in the week of the 21st, and the grid worker's walk on the 24th did it."""
    code, out, _ = run(capsys, "patrols", "--db", db, "--community", "Donghu Community",
                       "--month", "2022-02", "--grid", "3")
    assert code == 0
    assert out.startswith("Patrol coverage: Donghu Community")
    assert "100% (1 of 1 planned visits)" in out
    assert not misaligned(out)
    code, out, _ = run(capsys, "patrols", "--db", db, "--community", "Donghu Community",
                       "--from", "2022-02-14", "--to", "2022-03-14", "--format", "csv")
    records = list(csv.DictReader(io.StringIO(out)))
    weekly = next(r for r in records if r["grid"] == "3" and r["frequency"] == "weekly")
    assert (weekly["planned"], weekly["done"]) == ("3", "1")
    data = json.loads(run(capsys, "patrols", "--db", db, "--community", "Donghu Community",
                          "--month", "2022-03", "--grid", "3", "--format", "json")[1])
    assert data["report"] == "patrol_coverage"
    (grid,) = data["grids"]
    assert grid["done"] == 0
    assert grid["planned"] > 0
    assert grid["missed"]


def test_patrols_needs_a_community(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["patrols", "--db", db])
    assert run(capsys, "patrols", "--db", db, "--community", "Nowhere")[0] == 2


def test_hazards_and_patrols_speak_chinese(db: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Headers, categories, statuses, places and the totals in Chinese, the tables
    aligned by display width; the demo's hazard lines too."""
    outputs = [
        run(capsys, "--lang", "zh-CN", "hazards", "--db", db, "--community",
            "Peace Community")[1],
        run(capsys, "--lang", "zh-CN", "hazards", "show", "b30-storage-clutter", "--db",
            db)[1],
        run(capsys, "--lang", "zh-CN", "patrols", "--db", db, "--community",
            "Donghu Community", "--from", "2022-02-14", "--to", "2022-03-14")[1],
    ]
    listed, shown, coverage = outputs
    assert listed.splitlines()[0].split()[:2] == ["案件号", "发现"]
    assert coverage.startswith("巡查")
    assert "安全出口堵塞" in listed
    assert "共2条隐患" in listed
    assert shown.startswith("隐患DH-2022-H0001（")
    for text in outputs:
        assert not misaligned(text), text
        assert not english_left(text, db), text


def test_the_demo_prints_the_hazard_after_the_fire(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's hazard lines, in English and in Chinese."""
    code, out, _ = run(capsys, "demo", "--db", str(tmp_path / "d.db"))
    assert code == 0
    assert ("Hazard DH-2022-H0001 (clutter, moderate) at grid 3, building 30, unit 1, floor "
            "-1, basement storage rooms: found 2022-02-18 09:40 by Zhang Chuanlian on "
            "patrol") in out
    assert "  assigned to the property company (Qian, property service centre), due " \
           "2022-02-25 18:00" in out
    assert "  rectified 2022-02-23 16:00 by Qian, property service centre; verified " \
           "2022-02-24 10:00 by Sun (grid worker, property staff)" in out
    assert "  time to rectify: 5.3 d from found to rectified (found_to_rectified, target " \
           "7 d)" in out
    assert "Patrol plan of grid 3 (adopted 2022-02-17): every building weekly; storage " \
           "rooms monthly; basements monthly" in out
    code, out, _ = run(capsys, "--lang", "zh-CN", "demo", "--db", str(tmp_path / "d.db"))
    assert code == 0
    assert "由Zhang Chuanlian巡查时发现" in out
    assert "整改用时：从发现到整改5.3天（found_to_rectified，目标7天）" in out
