"""Rendering an after-action review: JSON-ready data, Markdown and one self-contained HTML file.

The review is built by hand (the Donghu fire of 15 February 2022), so these
tests pin the renderers alone, not how a review is computed.
"""

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import attrs
import pytest
from attrs import evolve

from resilience import Actor, Role
from resilience.domain.improvement import ImprovementStatus
from resilience.projections.plan_items import PlanItem
from resilience.review import (
    review_to_dict,
    review_to_html,
    review_to_json,
    review_to_markdown,
)
from resilience.review.model import (
    AfterActionReview,
    Finding,
    Grade,
    IncidentReview,
    Milestone,
    ObjectiveResult,
    ObjectiveSummary,
    QualityFlag,
    ResponderTrack,
    SegmentResult,
)
from resilience.timeline import Timeline, TimelineEntry

CST = timezone(timedelta(hours=8))
DETECTED = datetime(2022, 2, 15, 15, 0, tzinfo=CST)
INCIDENT = UUID("6f1c2a52-8d0e-4b8e-9a51-0c1d2e3f4a5b")
COMMUNITY = UUID("0b7e5f7a-1c2d-4e3f-8a9b-0c1d2e3f4a5b")
KEY = f"incident/{INCIDENT}"
PEOPLE = {"wang-fang": "Wang Fang", "li-wei": "Li Wei", "zhao-min": "Zhao Min",
          "chen-jie": "Chen Jie", "office-duty": "Office duty"}
ROLES = {"wang-fang": Role.GRID_LEADER, "li-wei": Role.SQUAD_MEMBER,
         "zhao-min": Role.SQUAD_MEMBER, "chen-jie": Role.RESIDENT,
         "office-duty": Role.COMMUNITY_STAFF}


def at(minute: float) -> datetime:
    return DETECTED + timedelta(minutes=minute)


def entry(version: int, action: str, who: str, minute: float, details: str, *,
          recorded: float | None = None, first: float | None = None,
          corrected_by: tuple[int, ...] = ()) -> TimelineEntry:
    """A fact ``minute`` minutes after detection (``first``: the time first reported)."""
    return TimelineEntry(
        version=version, action=action, actor=Actor(who, ROLES[who]), occurred_at=at(minute),
        recorded_at=at(recorded if recorded is not None else minute), details=details,
        elapsed=timedelta(minutes=minute),
        original_occurred_at=at(first if first is not None else minute),
        original_details=details, corrected_by=corrected_by,
    )


TIMELINE = Timeline(INCIDENT, DETECTED, tuple(sorted((
    entry(1, "Detected", "wang-fang", 0, "fire (major) at building 7, unit 3-402: smoke "
          "from a kitchen window"),
    entry(2, "ResponderOnScene", "wang-fang", 0, "wang-fang on scene", recorded=4),
    entry(3, "Reported", "wang-fang", 1, "reported to the community by phone"),
    entry(4, "CommanderAssigned", "office-duty", 1, "wang-fang is incident commander"),
    entry(5, "ResponderDispatched", "office-duty", 2, "li-wei dispatched with squad"),
    entry(6, "ResponderDispatched", "office-duty", 2, "zhao-min dispatched with squad"),
    entry(7, "ResponderEnRoute", "li-wei", 3, "li-wei en route"),
    entry(8, "ResponderEnRoute", "zhao-min", 3, "zhao-min en route"),
    entry(9, "ResponderOnScene", "li-wei", 5, "li-wei on scene"),
    entry(10, "ResponderOnScene", "zhao-min", 5, "zhao-min on scene"),
    entry(11, "ConsentRequested", "wang-fang", 6, "consent requested from chen-jie: entry"),
    entry(12, "ConsentGranted", "chen-jie", 7, "chen-jie granted consent"),
    entry(13, "ForcedEntryMade", "li-wei", 8, "forced entry: unit 3-402", recorded=35),
    entry(14, "SourceFound", "li-wei", 9, "source found: unattended pan on the stove"),
    entry(15, "Contained", "li-wei", 12, "contained: fire out, smoke cleared", first=14,
          corrected_by=(17,)),
    entry(16, "Resolved", "wang-fang", 30, "resolved: residents back home"),
    entry(17, "TimeCorrected", "wang-fang", 40, "time of fact 15 corrected to "
          "2022-02-15T15:12:00+08:00: the radio log shows 15:12"),
), key=lambda e: (e.occurred_at, e.version))))

MILESTONES = (
    Milestone("detected", at(0), "Detected"),
    Milestone("first_on_scene", at(0), "First on scene"),
    Milestone("reported", at(1), "Reported"),
    Milestone("first_dispatched", at(2), "First dispatch"),
    Milestone("first_unit_on_scene", at(5), "Squad on scene"),
    Milestone("consent_granted", at(7), "Consent granted"),
    Milestone("forced_entry", at(8), "Forced entry"),
    Milestone("source_found", at(9), "Source found"),
    Milestone("contained", at(12), "Contained"),
    Milestone("resolved", at(30), "Resolved"),
)

OBJECTIVES = (
    ObjectiveResult("containment", "Contained within 15 minutes", Grade.P,
                    "Contained at 15:12, 12 min after detection (target 15 min).",
                    timedelta(minutes=12), timedelta(minutes=15), (1, 15, 17)),
    ObjectiveResult("turnout", "Squad en route within 2 minutes of dispatch", Grade.P,
                    "Both squad members were en route 1 min after dispatch.",
                    timedelta(minutes=1), timedelta(minutes=2), (5, 6, 7, 8)),
    ObjectiveResult("entry", "Entry with consent or lawful authority", Grade.S,
                    "Consent was granted at 15:07 but the entry was recorded 27 min late.",
                    versions=(12, 13)),
    ObjectiveResult("notification", "Residents notified", None,
                    "No notification of residents was recorded."),
)


def donghu_incident() -> IncidentReview:
    """The Donghu fire as reviewed the next morning."""
    return IncidentReview(
        incident_id=str(INCIDENT),
        description="Kitchen fire, building 7 unit 3-402",
        community=str(COMMUNITY), community_name="Donghu Community", grid="g3",
        incident_type="fire", severity="major", drill=False, detected_at=DETECTED,
        status="resolved", commander="wang-fang",
        summary=("Smoke from a kitchen window was seen at 15:00 by the grid leader.",
                 "The squad was on scene 5 min after detection and contained the fire at "
                 "15:12.",
                 "It was resolved at 15:30."),
        timeline=TIMELINE,
        milestones=MILESTONES,
        responders=(
            ResponderTrack("wang-fang", "Wang Fang", None, None, at(0)),
            ResponderTrack("li-wei", "Li Wei", at(2), at(3), at(5)),
            ResponderTrack("zhao-min", "Zhao Min", at(2), at(3), at(5)),
        ),
        segments=(
            SegmentResult("turnout", "dispatch to en route", "first_dispatched",
                          "first_en_route", timedelta(minutes=1), timedelta(minutes=1),
                          timedelta(minutes=2), True),
            SegmentResult("travel", "en route to on scene", "first_en_route",
                          "first_unit_on_scene", timedelta(minutes=2), timedelta(minutes=2),
                          None, None),
            SegmentResult("containment", "detection to containment", "detected",
                          "contained", timedelta(minutes=12), timedelta(minutes=14),
                          timedelta(minutes=15), True),
        ),
        objectives=OBJECTIVES,
        strengths=(Finding("The grid leader was on scene at detection.", "containment",
                           (1, 2)),),
        improvements=(Finding("Forced entry was recorded 27 min after it happened.", "entry",
                              (13,)),),
        quality=(
            QualityFlag("late", "Forced entry recorded 27 min late", 13),
            QualityFlag("correction", "Containment time corrected from 15:14 to 15:12", 15),
        ),
        target_line=timedelta(minutes=15),
        people=PEOPLE,
    )


def plan_item(action: str, *, review: str = KEY,
              status: ImprovementStatus = ImprovementStatus.OPEN, overdue: bool = False,
              due_day: int = 28, planned_day: int = 1, item: int = 1) -> PlanItem:
    """An improvement item planned and due some days after the fire (negative: before)."""
    return PlanItem(
        item_id=UUID(int=item), review=review, incident_id=INCIDENT, community=COMMUNITY,
        grid="g3", objective="entry", action=action, owner="wang-fang",
        due=at(due_day * 24 * 60), status=status,
        planned_at=at(planned_day * 24 * 60 - 6 * 60), completed_at=None, overdue=overdue,
    )


@pytest.fixture
def donghu() -> AfterActionReview:
    """The after-action review of the Donghu fire, with one plan item and one still open."""
    earlier = "community/donghu/grid/g3/2022-01"
    return AfterActionReview(
        key=KEY,
        title="After-action review: Donghu kitchen fire, 15 February 2022",
        scope=f"Incident {INCIDENT}", community=str(COMMUNITY), grid="g3",
        generated_at=datetime(2022, 2, 16, 9, 0, tzinfo=CST), as_of=None,
        known_at=datetime(2022, 2, 16, 8, 0, tzinfo=CST),
        incidents=(donghu_incident(),),
        objectives=tuple(ObjectiveSummary(o.name, o.title, o.grade,
                                          {(o.grade.value if o.grade else "n/a"): 1})
                         for o in OBJECTIVES),
        plan=(plan_item("Record forced entries on the app as they happen"),),
        still_open=(plan_item("Fit smoke alarms in building 7 kitchens", review=earlier,
                              status=ImprovementStatus.IN_PROGRESS, overdue=True,
                              due_day=-1, planned_day=-26, item=2),),
    )


def two_incidents(review: AfterActionReview) -> AfterActionReview:
    """The review widened to a grid's month: the fire and a drill graded lower."""
    drill = evolve(
        review.incidents[0], incident_id="8a0f0000-0000-4000-8000-000000000002",
        description="Evacuation drill, building 9", drill=True, responders=(),
        objectives=(evolve(OBJECTIVES[0], grade=Grade.S),),
    )
    return evolve(
        review, key="community/donghu/grid/g3/2022-02", title="Grid g3, February 2022",
        scope="Grid g3 of Donghu Community, February 2022",
        incidents=(review.incidents[0], drill),
        objectives=(ObjectiveSummary("containment", "Contained within 15 minutes", Grade.S,
                                     {"P": 1, "S": 1, "M": 0, "U": 0, "n/a": 0}),),
    )


def with_incident(review: AfterActionReview, **changes: Any) -> AfterActionReview:
    return evolve(review, incidents=(evolve(review.incidents[0], **changes),))


def assert_complete(value: Any, data: Any, path: str = "review") -> None:
    """Every attrs field of ``value`` (recursively) has a key in ``data``."""
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            assert field.name in data, f"{path}.{field.name} missing"
            assert_complete(getattr(value, field.name), data[field.name],
                            f"{path}.{field.name}")
    elif isinstance(value, tuple | list):
        assert len(value) == len(data), path
        for n, (item, plain) in enumerate(zip(value, data, strict=True)):
            assert_complete(item, plain, f"{path}[{n}]")


# ---------------------------------------------------------------- dict / JSON


def test_dict_round_trips_through_json(donghu: AfterActionReview) -> None:
    """The dict is JSON-ready: dumping and loading it gives it back unchanged."""
    data = review_to_dict(donghu)
    assert json.loads(json.dumps(data)) == data
    assert json.loads(review_to_json(donghu)) == data
    assert json.loads(donghu.to_json(indent=None)) == data


def test_dict_holds_grades_times_with_offsets_and_durations_in_seconds(
        donghu: AfterActionReview) -> None:
    """Grades are letters, times ISO 8601 with their offset, durations seconds, ids strings."""
    incident = review_to_dict(donghu)["incidents"][0]
    containment = incident["objectives"][0]
    assert (containment["grade"], containment["measured"], containment["target"]) == (
        "P", 720.0, 900.0)
    assert incident["objectives"][3]["grade"] is None
    assert incident["detected_at"] == "2022-02-15T15:00:00+08:00"
    assert incident["target_line"] == 900.0
    assert incident["milestones"][8] == {
        "name": "contained", "at": "2022-02-15T15:12:00+08:00", "label": "Contained",
        "cycle": 0}
    corrected = next(e for e in incident["timeline"]["entries"] if e["version"] == 15)
    assert corrected["original_occurred_at"] == "2022-02-15T15:14:00+08:00"
    assert corrected["corrected_by"] == [17]
    assert type(corrected["actor"]["role"]) is str
    assert corrected["actor"] == {"person_id": "li-wei", "role": "squad_member",
                                  "override": None, "imported_by": None}
    assert incident["timeline"]["aggregate_id"] == str(INCIDENT)


def test_dict_holds_plan_items(donghu: AfterActionReview) -> None:
    """Plan items (this review's and those still open) carry every attribute, JSON-ready."""
    data = review_to_dict(donghu)
    [item] = data["plan"]
    assert item == {
        "item_id": str(UUID(int=1)), "review": KEY, "incident_id": str(INCIDENT),
        "community": str(COMMUNITY), "grid": "g3", "objective": "entry",
        "action": "Record forced entries on the app as they happen", "owner": "wang-fang",
        "due": "2022-03-15T15:00:00+08:00", "status": "open",
        "planned_at": "2022-02-16T09:00:00+08:00", "completed_at": None, "overdue": False,
    }
    assert (data["still_open"][0]["status"], data["still_open"][0]["overdue"]) == (
        "in_progress", True)


def test_dict_is_complete(donghu: AfterActionReview) -> None:
    """Every field of every nested value appears in the dict."""
    assert_complete(donghu, donghu.to_dict())


# ---------------------------------------------------------------- Markdown


def test_markdown_is_an_after_action_report(donghu: AfterActionReview) -> None:
    """The report has its title, scope, cut, summary, objectives and segments tables."""
    md = review_to_markdown(donghu)
    assert md.startswith("# After-action review: Donghu kitchen fire, 15 February 2022\n")
    # The incident as what it is, and the community by name, each id after it.
    assert f"**Scope:** fire (major), detected 15 Feb 2022 15:00 (id `{INCIDENT}`)" in md
    assert f"**Community:** Donghu Community, grid g3 (id `{COMMUNITY}`)" in md
    assert "**Known at:** 2022-02-16 08:00 +08:00" in md
    assert "**Generated:** 2022-02-16 09:00 +08:00" in md
    assert "## Kitchen fire, building 7 unit 3-402" in md
    assert "commander Wang Fang" in md
    assert "| Objective | Grade | Measured | Evidence |" in md
    assert ("| Contained within 15 minutes | **P** performed without challenges "
            "| 12 min (target 15 min) |") in md
    assert "**S** performed with some challenges" in md
    assert "| Residents notified | **n/a** did not apply | — |" in md
    assert "| Metric | As corrected | As first recorded | Target | Met |" in md
    assert ("| containment: detection to containment | 12 min | 14 min | 15 min | yes |"
            in md)
    assert "## Objectives across" not in md


def test_markdown_lists_findings_quality_and_the_timeline(donghu: AfterActionReview) -> None:
    """Strengths, areas for improvement, flags and a timeline with who, late records and
    corrections."""
    md = review_to_markdown(donghu)
    assert ("- The grid leader was on scene at detection. (Contained within 15 minutes; "
            "facts #1, #2)") in md
    assert "### Areas for improvement\n\n- Forced entry was recorded 27 min" in md
    assert "- **Late record:** Forced entry recorded 27 min late (fact #13)" in md
    assert "| # | Time | +min | Who | What | Notes |" in md
    assert "| 1 | 15:00 | +0 | Wang Fang (grid leader) | fire (major)" in md
    assert ("| 15 | 15:12 | +12 | Li Wei (squad member) | contained: fire out, smoke cleared "
            "| time corrected from 15:14 |") in md
    assert "| forced entry: unit 3-402 | recorded 15:35, 27 min late |" in md
    assert "| Office duty (community staff) |" in md


def test_markdown_lists_the_improvement_plan(donghu: AfterActionReview) -> None:
    """The plan table names the owner, due time, status and objective; earlier items follow."""
    md = donghu.to_markdown()
    assert "## Improvement plan\n\n| Action | Owner | Due | Status | Objective |" in md
    assert ("| Record forced entries on the app as they happen | Wang Fang "
            "| 2022-03-15 15:00 +08:00 | open | Entry with consent or lawful authority |") in md
    assert "## Still open from earlier reviews" in md
    assert ("| in progress, overdue | Entry with consent or lawful authority "
            "| community/donghu/grid/g3/2022-01, 2022-01-20 |") in md


def test_markdown_shows_times_in_the_incidents_own_offset(donghu: AfterActionReview) -> None:
    """A fact given in UTC is shown in the incident's offset (07:12Z is 15:12)."""
    entries = tuple(
        evolve(e, occurred_at=e.occurred_at.astimezone(UTC)) for e in TIMELINE.entries
    )
    md = with_incident(donghu, timeline=evolve(TIMELINE, entries=entries)).to_markdown()
    assert "| 15 | 15:12 | +12 |" in md
    assert "07:12" not in md


def test_markdown_keeps_data_from_becoming_markup(donghu: AfterActionReview) -> None:
    """A pipe or raw HTML in the data is escaped, so tables keep their columns."""
    evidence = "Radio | phone logs disagree <b>by 2 min</b>"
    objectives = (evolve(OBJECTIVES[0], evidence=evidence),)
    md = with_incident(donghu, objectives=objectives).to_markdown()
    assert r"Radio \| phone logs disagree \<b>by 2 min\</b>" in md


def test_multi_incident_markdown_starts_with_the_objective_summary(
        donghu: AfterActionReview) -> None:
    """A review of several incidents tables each objective's overall grade and counts first."""
    md = review_to_markdown(two_incidents(donghu))
    summary = md.index("## Objectives across 2 incidents")
    assert summary < md.index("## Kitchen fire")
    assert "| Objective | Grade | P | S | M | U | n/a |" in md
    assert ("| Contained within 15 minutes | **S** performed with some challenges "
            "| 1 | 1 | 0 | 0 | 0 |") in md
    assert "**Incidents:** 2, 1 of them drills" in md
    assert "## Evacuation drill, building 9 (drill)" in md


# ---------------------------------------------------------------- HTML

EXTERNAL = re.compile(r"""\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def test_html_is_one_self_contained_page(donghu: AfterActionReview) -> None:
    """The page fetches nothing: no external src/href, stylesheet link, import, url() or
    script."""
    page = review_to_html(two_incidents(donghu))
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    assert not EXTERNAL.search(page)
    assert "http://" not in page
    assert "https://" not in page
    for fetcher in ("<link", "@import", "url(", "<script", "<img", "<iframe"):
        assert fetcher not in page


def test_html_escapes_text_from_the_data(donghu: AfterActionReview) -> None:
    """A description or name holding HTML is shown as text, never parsed as markup."""
    hostile = '<script>alert("pwned")</script>'
    tracks = (ResponderTrack("li-wei", '<img src=x onerror="alert(1)">', at(2), at(3), at(5)),)
    review = with_incident(donghu, description=hostile, responders=tracks)
    page = review.to_html()
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_html_shows_grades_as_coloured_badges(donghu: AfterActionReview) -> None:
    """Each grade is a badge whose class the stylesheet colours (n/a grey)."""
    page = review_to_html(donghu)
    assert '<span class="badge grade-P" title="performed without challenges">P</span>' in page
    assert '<span class="badge grade-S"' in page
    assert '<span class="badge grade-na" title="did not apply">n/a</span>' in page
    for grade in ("P", "S", "M", "U"):
        assert f".grade-{grade} {{ background:" in page


def test_html_has_the_same_sections_as_the_markdown(donghu: AfterActionReview) -> None:
    """Objectives, segments, findings, quality, timeline and plan all appear in the page."""
    page = review_to_html(donghu)
    for heading in ("Objectives", "Segments", "Strengths", "Areas for improvement",
                    "Data quality", "Timeline"):
        assert f"<h3>{heading}</h3>" in page
    assert "<h2>Improvement plan</h2>" in page
    assert "<h2>Still open from earlier reviews</h2>" in page
    assert "time corrected from 15:14" in page
    assert "recorded 15:35, 27 min late" in page
    assert '<span class="mark bad">in progress, overdue</span>' in page


def test_html_charts_the_response_as_inline_svg(donghu: AfterActionReview) -> None:
    """The chart has a row per milestone and per responder, a dashed target line and a text
    summary."""
    page = review_to_html(donghu)
    [svg] = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert 'role="img"' in svg
    label = re.search(r'aria-label="([^"]*)"', svg)
    assert label is not None
    assert "Contained 15:12 · +12 min" in label.group(1)
    assert "Li Wei: dispatched 15:02 · +2 min, en route 15:03 · +3 min, on scene" in label[1]
    assert svg.count('class="row milestone-row"') == len(MILESTONES)
    assert svg.count('class="row responder"') == 3
    assert svg.count('<line class="target"') == 2  # the line and its legend
    assert ">15-min target</text>" in svg
    assert svg.count('<polygon class="contained"') == 2  # the marker and its legend
    assert "<title>Contained: 15:12 · +12 min</title>" in svg
    assert "<title>Zhao Min en route: 15:03 · +3 min</title>" in svg


def test_chart_ticks_suit_the_span(donghu: AfterActionReview) -> None:
    """A 30-minute response gets 5-minute ticks; one of 8 minutes gets 1-minute ticks."""
    page = review_to_html(donghu)
    assert ">+5 min</text>" in page
    assert ">+35 min</text>" in page
    assert ">+1 min</text>" not in page
    short = with_incident(donghu, milestones=MILESTONES[:7], target_line=None,
                          responders=())
    page = review_to_html(short)
    assert ">+1 min</text>" in page
    assert ">+9 min</text>" in page
    assert ">+10 min</text>" not in page


def ticks(page: str) -> list[tuple[str, str]]:
    """The chart's ticks: (offset label, time or date label) pairs."""
    texts = re.findall(r'<text class="tick"[^>]*>([^<]*)</text>', page)
    return list(zip(texts[::2], texts[1::2], strict=True))


def test_the_donghu_chart_keeps_its_minute_ticks(donghu: AfterActionReview) -> None:
    """Minutes still read as minutes, with the time of day under each tick."""
    assert ticks(review_to_html(donghu)) == [
        ("0", "15:00"), ("+5 min", "15:05"), ("+10 min", "15:10"), ("+15 min", "15:15"),
        ("+20 min", "15:20"), ("+25 min", "15:25"), ("+30 min", "15:30"),
        ("+35 min", "15:35")]
    assert "<figcaption>Minutes since detection at 15:00;" in review_to_html(donghu)


@pytest.mark.parametrize(("span", "first", "dates"), [
    (timedelta(hours=30), "+4 h", ("15:00", "19:00")),
    (timedelta(days=10), "+2 d", ("2022-02-15", "2022-02-17")),
    (timedelta(days=75), "+14 d", ("2022-02-15", "2022-03-01")),
    (timedelta(days=400), "+2 mo", ("2022-02-15", "2022-04-16")),
    (timedelta(days=365 * 30), "+5 y", ("2022-02-15", "2027-02-14")),
    (timedelta(days=365 * 250), "+50 y", ("2022-02-15", "2072-02-03")),
])
def test_chart_ticks_step_up_to_days_months_and_years(
        donghu: AfterActionReview, span: timedelta, first: str,
        dates: tuple[str, str]) -> None:
    """However long the response, a few ticks in a unit that suits it; from a day's step
    on, each tick is dated and so is detection in the caption."""
    resolved = attrs.evolve(MILESTONES[-1], at=DETECTED + span)
    page = with_incident(donghu, milestones=(*MILESTONES[:-1], resolved)).to_html()
    axis = ticks(page)
    assert 4 <= len(axis) <= 14
    assert axis[0] == ("0", dates[0])
    assert axis[1] == (first, dates[1])
    assert page.count('<line class="grid"') == len(axis) - 1  # the zero line is the other
    if span >= timedelta(days=10):
        assert "since detection at 2022-02-15 15:00 +08:00;" in page


def test_a_history_of_three_centuries_renders_a_small_review() -> None:
    """Moments run from 1900 to 2199, so one incident may span them (or a typo of a
    century, until corrected): the chart still has a handful of ticks, not one a day,
    and the Markdown and JSON say the same as ever."""
    from resilience import Engine, Location, ManualClock, UnitSpec

    office = Actor("office-duty", Role.COMMUNITY_STAFF)
    detected = datetime(1900, 1, 2, tzinfo=UTC)
    contained = datetime(2199, 12, 30, tzinfo=UTC)
    last_day = ManualClock(datetime(2199, 12, 31, tzinfo=UTC))
    with Engine("memory:", clock=last_day, policy=None) as engine:
        community = engine.communities.register(
            district="Taishan District", subdistrict="Daimiao Subdistrict",
            name="Donghu Community", actor=office).aggregate_id
        engine.communities.add_grid(community, "3", actor=office)
        engine.communities.add_building(community, "30", "3", [UnitSpec("1", 24)], actor=office)
        fire = engine.incidents.report(
            community, incident_type="fire", severity="high", location=Location(building="30"),
            description="smoke in the basement", detected_at=detected,
            actor=Actor("zhang", Role.GRID_LEADER), occurred_at=detected).aggregate_id
        engine.incidents.contain(fire, "fire out", actor=office, occurred_at=contained)
        review = engine.review(fire)
        page = review.to_html()
        md = review.to_markdown()
        data = json.loads(review.to_json())
    assert len(page.encode()) < 200_000
    axis = ticks(page)
    assert len(axis) <= 14
    assert axis[:2] == [("0", "1900-01-02"), ("+50 y", "1949-12-21")]
    assert page.count('<line class="grid"') + page.count('<line class="zero"') == len(axis)
    assert "since detection at 1900-01-02 00:00 +00:00;" in page
    assert "Contained at 2199-12-30 00:00" in md
    assert data["incidents"][0]["detected_at"].startswith("1900-01-02")


def test_chart_copes_with_missing_times_and_no_target(donghu: AfterActionReview) -> None:
    """Unknown times draw no marker; no responders, no rows; no target, no line."""
    tracks = (ResponderTrack("li-wei", "Li Wei", at(2), None, None),
              ResponderTrack("zhao-min", "Zhao Min", None, None, None))
    page = with_incident(donghu, responders=tracks, target_line=None).to_html()
    assert "dispatched 15:02 · +2 min, no arrival recorded" in page
    assert "no dispatch, en route or arrival time recorded" in page
    assert 'class="target"' not in page
    assert "-min target" not in page
    assert page.count('<rect class="on-scene"') == 1  # only the legend's
    bare = with_incident(donghu, responders=(), target_line=None).to_html()
    assert "RESPONDERS" not in bare
    assert 'class="row responder"' not in bare
    assert "<svg" in bare


def test_multi_incident_html_renders_the_summary_table(donghu: AfterActionReview) -> None:
    """A review of several incidents shows the overall grades and counts, and a chart each."""
    page = review_to_html(two_incidents(donghu))
    assert "<h2>Objectives across 2 incidents</h2>" in page
    assert '<table class="summary">' in page
    assert page.index('<table class="summary">') < page.index("<svg")
    assert page.count("<svg") == 2
