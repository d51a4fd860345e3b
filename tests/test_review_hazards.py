"""An incident's review lists the hazards recorded at its location before it happened,
and whether they were open then, as it happened and as known then: "was this fire
foreseeable?" (issue 16; resilience.review.hazards has the rule).

Donghu's building 30, before the fire detected at 15:00 on 15 February 2022 (T0):

- a blocked exit found 20 days before, rectified and verified before the fire;
- clutter in the basement found 10 days before, assigned, still open at the fire (linked
  to the fire afterwards, rectified and verified the days after);
- a gas smell found 5 days before and recorded rectified the day before the fire; a
  correction recorded that evening says the rectification was really half an hour after
  the fire: open as it happened, rectified as known then;
- a broken extinguisher found 3 days before but recorded two hours after the fire: open
  as it happened, not yet recorded as known then;
- an electric bike charging indoors, found an hour after the fire: not listed;
- and in building 31, next door in the same grid, clutter found 12 days before: listed
  only for an incident that names no building.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve, frozen

from resilience import Actor, Engine, Location, ManualClock, Role, UnitSpec
from resilience.domain.hazard import HazardStatus
from resilience.i18n import language
from resilience.review.build import hazard_findings
from resilience.review.hazards import PriorHazard, PriorHazards, prior_hazards
from resilience.review.model import AfterActionReview

from conftest import OFFICE, T0

ZHOU = Actor("p-3001", Role.GRID_LEADER)
LI = Actor("p-3101", Role.GRID_WORKER)


def days(n: float) -> timedelta:
    return timedelta(days=n)


@frozen
class History:
    engine: Engine
    clock: ManualClock
    community: UUID
    fire: UUID
    later: UUID
    """An incident of grid 3 naming no building, four days after the fire."""
    hazards: dict[str, UUID]


@pytest.fixture(scope="module")
def history() -> Any:
    clock = ManualClock(T0 - days(30))
    with Engine("memory:", clock=clock, policy=None) as engine:
        yield _record(engine, clock)


def _record(engine: Engine, clock: ManualClock) -> History:
    def now(moment: datetime) -> None:
        clock.set(moment)

    run = engine.communities
    community = run.register(name="Donghu", district="Taishan", subdistrict="Daimiao",
                             actor=OFFICE).aggregate_id
    run.add_grid(community, "3", actor=OFFICE)
    for building in ("30", "31"):
        run.add_building(community, building, "3", [UnitSpec("1", 24)], actor=OFFICE)
    run.enrol(community, "p-3001", "Zhou Min", actor=OFFICE)
    run.enrol(community, "p-3101", "Li Ming", actor=OFFICE)
    hazards = engine.hazards

    def find(key: str, found: datetime, category: str, building: str, **where: Any) -> None:
        ids[key] = hazards.find(
            community, location=Location(grid="3", building=building, **where),
            category=category, severity="high", description=f"the {key}", actor=ZHOU,
            occurred_at=found).aggregate_id

    ids: dict[str, UUID] = {}
    now(T0 - days(20))
    find("exit", T0 - days(20), "blocked_exit", "30", unit="1")
    now(T0 - days(15))
    hazards.rectify(ids["exit"], "bikes moved", actor=LI)
    now(T0 - days(14))
    hazards.verify(ids["exit"], actor=ZHOU)
    now(T0 - days(12))
    find("next door", T0 - days(12), "clutter", "31")
    now(T0 - days(10))
    find("clutter", T0 - days(10), "clutter", "30", unit="1", floor=-1)
    now(T0 - days(9))
    hazards.assign(ids["clutter"], assignee_kind="household", assignee="b30-u1-storage-owner",
                   due=T0 - days(2), actor=ZHOU)
    now(T0 - days(5))
    find("gas", T0 - days(5), "gas", "30")
    now(T0 - days(1))
    hazards.rectify(ids["gas"], "valve replaced", actor=LI)
    now(T0)
    fire = engine.incidents.detect(
        community, incident_type="fire", severity="high", description="smoke in the basement",
        location=Location(grid="3", building="30", unit="1", floor=-1),
        actor=ZHOU).aggregate_id
    now(T0 + timedelta(hours=1))
    find("bike", T0 + timedelta(hours=1), "ebike_charging", "30")
    now(T0 + timedelta(hours=2))
    find("extinguisher", T0 - days(3), "extinguisher", "30", unit="1")
    now(T0 + timedelta(hours=3))
    hazards.link_incident(ids["clutter"], fire, actor=ZHOU)
    now(T0 + timedelta(hours=5))
    hazards.correct_time(ids["gas"], 2, T0 + timedelta(minutes=30),
                         "the valve was replaced after the fire", actor=ZHOU)
    now(T0 + days(1))
    hazards.rectify(ids["clutter"], "storage room cleared", actor=LI)
    now(T0 + days(2))
    hazards.verify(ids["clutter"], actor=ZHOU)
    now(T0 + days(4))
    later = engine.incidents.detect(
        community, incident_type="gas", severity="moderate", description="smell of gas",
        location=Location(grid="3"), actor=ZHOU).aggregate_id
    now(T0 + days(5))
    return History(engine, clock, community, fire, later, ids)


def _hazards(review: AfterActionReview, number: int = 0) -> PriorHazards:
    found = review.incidents[number].hazards
    assert found is not None
    return found


def _by_key(history: History, found: PriorHazards) -> dict[str, PriorHazard]:
    keys = {str(hazard): key for key, hazard in history.hazards.items()}
    return {keys[hazard.hazard_id]: hazard for hazard in found.hazards}


def test_the_review_lists_the_hazards_found_at_the_building_before_the_fire(
        history: History) -> None:
    """Found before detection, in the same building, in the order found; the one found
    after the fire and the one next door are left out."""
    found = _hazards(history.engine.review(history.fire))
    assert (found.scope, found.place, found.detected_at) == ("building", "30", T0)
    by_key = _by_key(history, found)
    assert list(by_key) == ["exit", "clutter", "gas", "extinguisher"]
    clutter = by_key["clutter"]
    assert (clutter.category, clutter.severity, clutter.building, clutter.unit,
            clutter.floor) == ("clutter", "high", "30", "1", -1)
    assert (clutter.found_at, clutter.recorded_at, clutter.found_by) == (
        T0 - days(10), T0 - days(10), "p-3001")
    assert clutter.reference is not None
    assert clutter.reference.endswith("-H0003")
    assert clutter.incidents == (str(history.fire),)
    assert by_key["extinguisher"].recorded_at == T0 + timedelta(hours=2)


def test_each_hazard_is_open_or_not_at_detection_on_both_time_axes(history: History) -> None:
    """As it happened (the corrected rectification after the fire: still open) and as
    known then (recorded rectified; the extinguisher not yet recorded)."""
    found = _hazards(history.engine.review(history.fire))
    statuses = {key: (h.status_then, h.status_known_then, h.open_then, h.open_known_then)
                for key, h in _by_key(history, found).items()}
    assert statuses == {
        "exit": (HazardStatus.VERIFIED, HazardStatus.VERIFIED, False, False),
        "clutter": (HazardStatus.ASSIGNED, HazardStatus.ASSIGNED, True, True),
        "gas": (HazardStatus.OPEN, HazardStatus.RECTIFIED, True, False),
        "extinguisher": (HazardStatus.OPEN, None, True, None),
    }
    assert (found.open_then, found.open_known_then) == (3, 1)


def test_the_markdown_says_how_many_were_open_and_shows_each(history: History) -> None:
    text = history.engine.review(history.fire).to_markdown()
    section = text.split("### Hazards before the incident", 1)[1].split("### Strengths")[0]
    assert ("4 hazards recorded at building 30 before detection; 3 were still open then "
            "(as known then: 1).") in section
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[1] for row in rows] == [
        "blocked exit", "clutter", "gas", "extinguisher"]
    clutter, gas, extinguisher = rows[1], rows[2], rows[3]
    assert "| grid 3, building 30, unit 1, floor -1 |" in clutter
    assert "| 2022-02-05 15:00 | 2022-02-05 15:00 | Zhou Min |" in clutter
    assert "| assigned | assigned | this incident |" in clutter
    assert "| open | rectified |" in gas
    assert "| 2022-02-12 15:00 | 17:00 | Zhou Min | open | not yet recorded | — |" in (
        extinguisher)
    assert "next door" not in section
    assert str(history.hazards["bike"]) not in section


def test_the_hazards_open_at_detection_are_an_area_for_improvement(history: History) -> None:
    """Each, with when it was found and how it stood as known then; none when every
    hazard there was done with (or none was read)."""
    review = history.engine.review(history.fire)
    found = _by_key(history, _hazards(review))
    said = ", ".join(f"{what} {found[key].reference} (found {date}; {then})"
                     for key, what, date, then in (
                         ("clutter", "clutter", "2022-02-05", "assigned as known then"),
                         ("gas", "gas", "2022-02-10", "rectified as known then"),
                         ("extinguisher", "extinguisher", "2022-02-12",
                          "not yet recorded then")))
    assert review.incidents[0].improvements[-1].text == (
        f"Hazards at building 30 were still open when the incident was detected: {said}.")
    assert "- Hazards at building 30 were still open" in review.to_markdown()
    prior = _hazards(review)
    done_with = evolve(prior, hazards=tuple(h for h in prior.hazards if not h.open_then))
    assert hazard_findings(done_with) == hazard_findings(None) == ()


def test_the_html_marks_the_open_hazards(history: History) -> None:
    page = history.engine.review(history.fire).to_html()
    assert "<h3>Hazards before the incident</h3>" in page
    assert '<table class="hazards">' in page
    table = page.split('<table class="hazards">', 1)[1].split("</table>", 1)[0]
    # Three open as it happened (the clutter assigned, the gas, the extinguisher), one as
    # known then (the clutter).
    assert table.count('<span class="mark bad">') == 4
    assert table.count('<span class="mark bad">open</span>') == 2
    assert '<span class="mark note">not yet recorded</span>' in table
    assert '<span class="mark good">verified</span>' in table


def test_the_data_hold_every_hazard_with_both_statuses(history: History) -> None:
    data = history.engine.review(history.fire).to_dict()
    found = data["incidents"][0]["hazards"]
    assert (found["scope"], found["place"], found["open_then"], found["open_known_then"]) == (
        "building", "30", 3, 1)
    assert [(h["category"], h["status_then"], h["status_known_then"])
            for h in found["hazards"]] == [
        ("blocked_exit", "verified", "verified"), ("clutter", "assigned", "assigned"),
        ("gas", "open", "rectified"), ("extinguisher", "open", None)]
    clutter = found["hazards"][1]
    assert clutter["found_at"] == (T0 - days(10)).isoformat()
    assert clutter["incidents"] == [str(history.fire)]
    assert clutter["hazard_id"] == str(history.hazards["clutter"])


def test_a_review_at_an_earlier_cut_shows_only_what_was_known_then(history: History) -> None:
    """At 16:30 the extinguisher was not yet recorded (not listed), nor the gas valve's
    correction (rectified before the fire, as far as anyone knew), nor the clutter's link
    to the fire."""
    review = history.engine.review(history.fire, known_at=T0 + timedelta(minutes=90))
    found = _hazards(review)
    by_key = _by_key(history, found)
    assert list(by_key) == ["exit", "clutter", "gas"]
    assert by_key["gas"].status_then is HazardStatus.RECTIFIED
    assert by_key["clutter"].incidents == ()
    assert (found.open_then, found.open_known_then) == (1, 1)
    assert ("3 hazards recorded at building 30 before detection; 1 was still open then "
            "(as known then: 1).") in review.to_markdown()
    # As of 15:20 (every correction known): the gas valve not yet replaced; the link, made
    # at 18:00, not yet.
    at = _by_key(history, _hazards(history.engine.review(
        history.fire, as_of=T0 + timedelta(minutes=20))))
    assert at["gas"].status_then is HazardStatus.OPEN
    assert at["clutter"].incidents == ()


def test_an_incident_naming_no_building_is_compared_with_its_whole_grid(
        history: History) -> None:
    """Every hazard of grid 3 found before it, building 31's too, as they stood then."""
    review = history.engine.review(history.later)
    found = _hazards(review)
    assert (found.scope, found.place) == ("grid", "3")
    by_key = _by_key(history, found)
    assert list(by_key) == ["exit", "next door", "clutter", "gas", "extinguisher", "bike"]
    assert by_key["clutter"].status_then is HazardStatus.VERIFIED
    text = review.to_markdown()
    assert "6 hazards recorded at grid 3 before detection; 3 were still open then" in text
    assert "The incident names no building: the hazards anywhere in its grid are listed." in text


def test_the_overview_of_a_community_counts_them(history: History) -> None:
    review = history.engine.reviews.incidents(history.community)
    index = review.to_markdown(detail=False).split("## Incidents", 1)[1]
    assert "| Hazards before |" in index
    fire = next(line for line in index.splitlines() if str(history.fire) in line)
    assert "| 4 (3 open) |" in fire


def test_the_section_is_written_in_chinese(history: History) -> None:
    with language("zh-CN"):
        review = history.engine.review(history.fire)
    text = review.to_markdown()
    assert "### 事发前的隐患" in text
    assert "事件发现前，30号楼已记录4处隐患；其中3处当时仍未整改（按当时所知：1处）。" in text
    assert "尚未记录" in text
    assert "本事件" in text
    assert "堆放杂物" in text
    assert "事件发现时，30号楼的隐患仍未整改：堆放杂物" in text
    assert "灭火器失效" in text
    assert "当时尚未记录）。" in text
    page = review.to_html()
    assert "<h3>事发前的隐患</h3>" in page


def test_the_rule_is_pure_over_the_documents(history: History) -> None:
    """The same documents and cut give the same hazards; a community's hazards only, and
    none for an incident that names no place."""
    docs = history.engine.reports.views.select("cases", "hazard")
    community = str(history.community)
    first = prior_hazards(docs, community=community, grid="3", building="30", detected_at=T0)
    assert first == prior_hazards(list(reversed(docs)), community=community, grid="3",
                                  building="30", detected_at=T0)
    assert first is not None
    assert len(first.hazards) == 4
    other = prior_hazards(docs, community="another", grid="3", building="30", detected_at=T0)
    assert other is not None
    assert other.hazards == ()
    assert prior_hazards(docs, community=community, grid=None, building=None,
                         detected_at=T0) is None


def test_every_store_reads_the_same_hazards(store_url: str) -> None:
    """SQLite and PostgreSQL select the hazards' documents as memory does, and a review at
    a cut back in knowledge reads them all (their ``at`` is as corrected today)."""
    clock = ManualClock(T0 - days(30))
    with Engine(store_url, clock=clock, policy=None) as engine:
        history = _record(engine, clock)
        now = _hazards(engine.review(history.fire))
        then = _hazards(engine.review(history.fire, known_at=T0 + timedelta(minutes=90)))
    assert [(h.category, h.status_then, h.status_known_then) for h in now.hazards] == [
        ("blocked_exit", HazardStatus.VERIFIED, HazardStatus.VERIFIED),
        ("clutter", HazardStatus.ASSIGNED, HazardStatus.ASSIGNED),
        ("gas", HazardStatus.OPEN, HazardStatus.RECTIFIED),
        ("extinguisher", HazardStatus.OPEN, None)]
    assert [(h.category, h.status_then) for h in then.hazards] == [
        ("blocked_exit", HazardStatus.VERIFIED), ("clutter", HazardStatus.ASSIGNED),
        ("gas", HazardStatus.RECTIFIED)]
