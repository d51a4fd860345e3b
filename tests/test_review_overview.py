"""A review of many incidents is an overview (issue 15): the summary across them, an index
of one line per incident and the plan, with every incident's section on request; a
review of a few is written in full, as before."""

from datetime import timedelta
from pathlib import Path

import pytest

from resilience import Engine, ManualClock
from resilience.cli import main
from resilience.review.document import OVERVIEW_AFTER, in_full
from resilience.review.model import AfterActionReview
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE
from resilience.simulation import CityPlan, simulate

PLAN = CityPlan(communities=1, incidents=OVERVIEW_AFTER + 15, orders=10, activities=2,
                days=30, seed=15)


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, AfterActionReview]:
    """A SQLite store of one community with more incidents than a review writes in full,
    and the review of all of them."""
    path = tmp_path_factory.mktemp("busy") / "busy.db"
    clock = ManualClock(PLAN.end + timedelta(days=1))
    with Engine(f"sqlite:///{path}", clock=clock) as engine:
        (community,) = simulate(engine, PLAN).communities
        review = engine.reviews.incidents(community)
    assert len(review.incidents) > OVERVIEW_AFTER
    return str(path), review


def test_a_review_of_many_incidents_is_an_overview_with_one_line_each(
        busy: tuple[str, AfterActionReview]) -> None:
    _, review = busy
    assert not in_full(review, None)
    overview = review.to_markdown()
    assert overview == review.to_markdown(detail=False)
    assert "## Incidents" in overview
    assert "### Timeline" not in overview  # no incident's section
    for incident in review.incidents:
        assert incident.incident_id in overview
    index = [line for line in overview.splitlines()
             if line.startswith("| ") and any(i.incident_id in line for i in review.incidents)]
    assert len(index) == len(review.incidents)
    assert "## Objectives across" in overview  # the summary across them stays
    assert "## Improvement plan" in overview


def test_the_full_review_is_there_on_request_and_the_overview_is_a_fraction_of_it(
        busy: tuple[str, AfterActionReview]) -> None:
    _, review = busy
    full = review.to_markdown(detail=True)
    assert full.count("### Timeline") == len(review.incidents)
    assert len(review.to_markdown()) * 4 < len(full)
    html, full_html = review.to_html(), review.to_html(detail=True)
    assert full_html.count("<svg") >= len(review.incidents) > html.count("<svg")
    assert len(html) * 4 < len(full_html)


def test_a_review_of_a_few_incidents_is_written_in_full_unless_asked_for_an_overview(
        clock: ManualClock) -> None:
    with Engine("memory:", clock=clock) as engine:
        run = replay_file(engine, DONGHU_FIRE)
        review = engine.reviews.incidents(run.community_id)
    assert in_full(review, None)
    assert review.to_markdown() == review.to_markdown(detail=True)
    assert "### Timeline" in review.to_markdown()
    overview = review.to_markdown(detail=False)
    assert "### Timeline" not in overview
    assert str(run.incidents["donghu-fire"]) in overview


def test_the_cli_writes_the_overview_or_the_whole_review(
        busy: tuple[str, AfterActionReview], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    db, review = busy
    community = review.community
    out = {}
    for detail in ("auto", "overview", "full"):
        path = tmp_path / f"{detail}.md"
        assert main(["review", "--community", community, "--db", db, "--detail", detail,
                     "--out", str(path)]) == 0
        out[detail] = path.read_text(encoding="utf-8")
    assert "## Incidents" in out["auto"]
    assert "### Timeline" not in out["auto"]
    assert "## Incidents" in out["overview"]
    assert out["full"].count("### Timeline") == len(review.incidents)
