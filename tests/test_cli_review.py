"""`resilience review` and the demo's closing review."""

import json
from pathlib import Path

import pytest

from resilience.cli import main
from resilience.domain.organisation import community_id
from resilience.scenarios import DONGHU_FIRE
from resilience.services.incidents import incident_id_for

DONGHU = community_id("Taishan District", "Daimiao Subdistrict", "Donghu Community")
FIRE = str(incident_id_for(DONGHU, "donghu-fire"))


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A SQLite file holding the Donghu fire."""
    path = str(tmp_path / "donghu.db")
    assert main(["replay", str(DONGHU_FIRE), "--db", path]) == 0
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_review_prints_the_markdown_review_with_its_grades(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The default format is Markdown, with the containment objective graded P."""
    code, out, _ = run(capsys, "review", FIRE, "--db", db)
    assert code == 0
    assert out.startswith("# After-action review")
    line = next(x for x in out.splitlines() if "within 15 minutes of detection" in x)
    assert "P" in line.split("|")[2]


def test_review_known_at_a_time_of_day_reads_it_on_the_incident_s_date(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--known-at 15:10 means 15:10 on the incident's day in its own offset; JSON output."""
    code, out, _ = run(capsys, "review", FIRE, "--db", db, "--known-at", "15:10",
                       "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["known_at"] == "2022-02-15T15:10:00+08:00"
    objectives = {o["name"]: o for o in data["incidents"][0]["objectives"]}
    assert objectives["contained_within_15_min"]["grade"] is None


def test_review_writes_a_self_contained_html_file(
        db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format html --out writes one file with an inline SVG chart and no external link."""
    out_file = tmp_path / "review.html"
    code, out, _ = run(capsys, "review", FIRE, "--db", db, "--format", "html",
                       "--out", str(out_file))
    assert code == 0
    assert str(out_file) in out
    html = out_file.read_text(encoding="utf-8")
    assert "<svg" in html
    assert "15-min target" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


def test_review_of_a_grid_over_a_month(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Without an incident id, --community/--grid/--month review every incident there."""
    code, out, _ = run(capsys, "review", "--db", db, "--community", "Donghu Community",
                       "--grid", "3", "--month", "2022-02", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["title"] == ("After-action review: incidents of grid 3 of Donghu Community, "
                             "February 2022")
    assert data["scope"].startswith("1 incident of grid 3")
    assert [i["incident_id"] for i in data["incidents"]] == [FIRE]
    assert data["objectives"][0]["grade"] == "P"
    assert (data["objectives"][0]["complied"], data["objectives"][0]["graded"],
            data["objectives"][0]["evidence"]) == (1, 1, "1 of 1 within 15 min (100%)")
    code, out, _ = run(capsys, "review", "--db", db, "--community", "Donghu Community",
                       "--month", "2022-03", "--format", "json")
    assert json.loads(out)["incidents"] == []


def test_review_refuses_bad_input_with_a_message(db: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Neither id nor community, an unknown id, a malformed time, a missing store: exit 2."""
    assert run(capsys, "review", "--db", db)[0] == 2
    code, _, err = run(capsys, "review", str(DONGHU), "--db", db)
    assert code == 2
    assert "NotFoundError" in err
    code, _, err = run(capsys, "review", FIRE, "--db", db, "--as-of", "tea time")
    assert code == 2
    assert "not an ISO date or time" in err
    code, _, err = run(capsys, "review", FIRE, "--db", str(tmp_path / "nope.db"))
    assert code == 2
    assert "no store" in err


def test_the_demo_ends_with_the_donghu_review_containment_graded_p(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`demo` prints the review's grades (containment P) and writes the HTML review."""
    code, out, _ = run(capsys, "demo", "--db", str(tmp_path / "d.db"))
    assert code == 0
    line = next(x for x in out.splitlines() if "within 15 minutes of detection" in x)
    assert line.split()[0] == "P"
    assert (tmp_path / "d-review.html").exists()
    assert "Improvement plan: Clear basement storage-room clutter" in out


def test_situation_prints_the_grid_as_it_stood(db: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`situation` lists the roster then, the open incident, who was on scene and the consent
    still awaited at 15:06; as known at 15:15 the fire was not yet contained."""
    # Without --tz a time without an offset is read in the community's own offset.
    code, out, _ = run(capsys, "situation", "--db", db, "--community", "Donghu Community",
                       "--grid", "3", "--as-of", "2022-02-15T15:06")
    assert code == 0
    assert out.startswith("Donghu Community, grid 3 at 2022-02-15T15:06+08:00")
    assert "grid leader (3): Zhang Chuanlian" in out
    assert f"{FIRE} fire (high), grid 3" in out
    assert "awaiting consent: b30-u1-storage-owner" in out
    code, out, _ = run(capsys, "situation", "--db", db, "--community", "Donghu Community",
                       "--known-at", "2022-02-15T15:15+08:00")
    assert code == 0
    assert ": on scene, commander Zhang Chuanlian" in out
    code, out, _ = run(capsys, "situation", "--db", db, "--community", "Donghu Community",
                       "--as-of", "2022-02-15T17:00+08:00")
    assert "Open incidents (0):" in out


def test_situation_needs_a_known_community_and_grid(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --community argparse refuses; an unknown grid exits 2 with NotFoundError."""
    with pytest.raises(SystemExit):
        main(["situation", "--db", db])
    code, _, err = run(capsys, "situation", "--db", db, "--community", "Donghu Community",
                       "--grid", "9")
    assert code == 2
    assert "NotFoundError" in err


def test_review_of_one_incident_refuses_the_flags_of_a_community_review(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--grid, --month or --drills with an incident id are an error, not silently ignored;
    an id naming no incident says so (a scenario handle names one: the review is the same
    as by its id)."""
    code, _, err = run(capsys, "review", FIRE, "--db", db, "--grid", "9", "--drills", "only")
    assert code == 2
    assert "--grid, --drills apply to --community reviews" in err
    code, _, err = run(capsys, "review", "lock-repair", "--db", db)
    assert code == 2
    assert "NotFoundError: no incident is 'lock-repair'" in err
    assert run(capsys, "review", "donghu-fire", "--db", db)[:2] == run(
        capsys, "review", FIRE, "--db", db)[:2]


def test_plan_lists_the_improvement_items_with_owner_names_and_overdue(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`plan` shows the Donghu item: open, overdue now, not yet overdue on 2022-02-20."""
    code, out, _ = run(capsys, "plan", "--db", db, "--community", "Donghu Community", "--open")
    assert code == 0
    line = next(x for x in out.splitlines() if "storage-room clutter" in x)
    assert "open, overdue" in line
    assert "Zhang Chuanlian" in line
    code, out, _ = run(capsys, "plan", "--db", db, "--as-of", "2022-02-20T00:00",
                       "--tz", "Asia/Shanghai")
    line = next(x for x in out.splitlines() if "storage-room clutter" in x)
    assert "overdue" not in line
    code, out, _ = run(capsys, "plan", "--db", db, "--as-of", "2022-02-01T00:00+08:00")
    assert out.strip() == "No improvement items."
    code, _, err = run(capsys, "plan", "--db", db, "--community", "Donghu Community",
                       "--grid", "9")
    assert code == 2
    assert "NotFoundError" in err


def test_plan_refuses_a_grid_without_a_community(db: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --grid` alone is an error rather than a silently empty list."""
    code, _, err = run(capsys, "plan", "--db", db, "--grid", "3")
    assert code == 2
    assert "--grid needs --community" in err


def test_timeline_with_an_id_naming_nothing_says_what_it_takes(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo in an id gets the library's NotFoundError saying what an id may be, not a
    bare ValueError text."""
    code, _, err = run(capsys, "timeline", "nope", "--db", db)
    assert code == 2
    assert ("NotFoundError: no incident or order or improvement item or hazard or patrol is "
            "'nope' (an id, a reference, its first") in err
