"""Reopen cycles and amendments after closure in timelines, replays and reviews.

One hand-computed history, the issue's rekindle: a fire detected at 10:00 is
contained at 10:20 and resolved at 10:30, flares up at 11:00, is contained again at
11:10, resolved again at 11:30 and closed at 11:40. Later, with the record closed, the
office corrects the first arrival (10:06 -> 10:05), records the en route of 10:03
that was missed, and corrects the wording of the second containment.
"""

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from resilience import (
    Actor,
    Engine,
    IncidentStatus,
    InvalidInputError,
    Location,
    ManualClock,
    Role,
    UnitSpec,
)
from resilience.metrics import Period
from resilience.metrics.cases import case_at
from resilience.review import Grade
from resilience.review.situations import case_doc
from resilience.timeline import build_timeline

from conftest import SHANGHAI

DAY = datetime(2022, 3, 1, tzinfo=SHANGHAI)
OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)
LEADER = Actor("zhang", Role.GRID_LEADER)


def at(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return DAY.replace(hour=hours, minute=minutes)


@pytest.fixture
def rekindle() -> Iterator[tuple[Engine, ManualClock, UUID, UUID]]:
    """The rekindled fire, closed at 11:40, not yet amended."""
    clock = ManualClock(at("10:00"))
    with Engine("memory:", clock=clock, policy=None) as engine:
        community = engine.communities.register(
            district="Taishan District", subdistrict="Daimiao Subdistrict",
            name="Donghu Community", actor=OFFICE).aggregate_id
        engine.communities.add_grid(community, "3", actor=OFFICE)
        engine.communities.add_building(community, "30", "3", [UnitSpec("1", 24)],
                                        actor=OFFICE)
        for person, name in (("zhang", "Zhang"), ("li", "Li"), ("office-duty", "Duty desk")):
            engine.communities.enrol(community, person, name, actor=OFFICE)
        incidents = engine.incidents
        fire = incidents.report(
            community, incident_type="fire", severity="high",
            location=Location(building="30", unit="1"), description="smoke from a storeroom",
            actor=LEADER, occurred_at=at("10:00")).aggregate_id
        steps: list[tuple[str, Callable[[datetime], object]]] = [
            ("10:02", lambda t: incidents.dispatch(fire, ["li"], actor=OFFICE, occurred_at=t)),
            ("10:06", lambda t: incidents.arrive(fire, "li", actor=OFFICE, occurred_at=t)),
            ("10:20", lambda t: incidents.contain(fire, "out", actor=LEADER, occurred_at=t)),
            ("10:30", lambda t: incidents.resolve(fire, "cleared", actor=LEADER,
                                                  occurred_at=t)),
            ("11:00", lambda t: incidents.reopen(fire, "flare-up behind the shelving",
                                                 actor=LEADER, occurred_at=t)),
            ("11:01", lambda t: incidents.dispatch(fire, ["li"], actor=OFFICE, occurred_at=t)),
            ("11:04", lambda t: incidents.arrive(fire, "li", actor=OFFICE, occurred_at=t)),
            ("11:10", lambda t: incidents.contain(fire, "out again", actor=LEADER,
                                                  occurred_at=t)),
            ("11:30", lambda t: incidents.resolve(fire, "cleared again", actor=LEADER,
                                                  occurred_at=t)),
            ("11:40", lambda t: incidents.close(fire, "resolved", actor=OFFICE,
                                                occurred_at=t)),
        ]
        for hhmm, step in steps:
            clock.set(at(hhmm))
            step(at(hhmm))
        yield engine, clock, community, fire


def amend(engine: Engine, clock: ManualClock, fire: UUID) -> None:
    """The office's three amendments, at 15:00 on the day, the record standing closed."""
    clock.set(at("15:00"))
    engine.incidents.correct_time(fire, 4, at("10:05"), "radio log", actor=OFFICE)
    engine.incidents.en_route(fire, "li", actor=OFFICE, occurred_at=at("10:03"))
    engine.incidents.correct_details(fire, 10, "out again, no spread", "fuller wording",
                                     actor=OFFICE)


# Timelines ------------------------------------------------------------------------------


def test_every_fact_of_every_cycle_is_in_the_timeline_with_its_cycle(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """Both containments and resolutions are listed; the reopening begins cycle 1."""
    engine, _, _, fire = rekindle
    timeline = engine.timeline(fire)
    assert [(e.action, e.cycle) for e in timeline.entries] == [
        ("Detected", 0), ("Reported", 0), ("ResponderDispatched", 0),
        ("ResponderOnScene", 0), ("Contained", 0), ("Resolved", 0), ("Reopened", 1),
        ("ResponderDispatched", 1), ("ResponderOnScene", 1), ("Contained", 1),
        ("Resolved", 1), ("Closed", 1)]
    assert [e.cycle for e in build_timeline(engine.events(fire)).entries] == [
        e.cycle for e in timeline.entries]


def test_a_correction_that_moves_a_fact_changes_its_cycle_in_the_timeline(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """Cycles follow effective times: a note first dated 11:55, after a second reopening,
    corrected to 10:40, is the first response's."""
    engine, clock, _, fire = rekindle
    clock.set(at("11:55"))
    engine.incidents.reopen(fire, "paperwork", actor=OFFICE, occurred_at=at("11:50"))
    note = engine.incidents.add_note(fire, "hose left behind", actor=OFFICE,
                                     occurred_at=at("11:55")).first_version
    assert next(e for e in engine.timeline(fire).entries if e.version == note).cycle == 2
    engine.incidents.correct_time(fire, note, at("10:40"), "logged late", actor=OFFICE)
    entry = next(e for e in engine.timeline(fire).entries if e.version == note)
    assert entry.cycle == 0


# Replays at a cut -----------------------------------------------------------------------


def test_a_replay_reports_each_cycle_with_its_reopening_and_milestones(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """At the end: two cycles, each with its containment and resolution; the current
    (second) cycle's containment, resolution and closure are the situation's."""
    engine, _, _, fire = rekindle
    now = engine.replay.incident(fire)
    first, second = now.cycles
    assert (first.number, first.started_at, first.contained_at, first.resolved_at,
            first.closed_at) == (0, at("10:00"), at("10:20"), at("10:30"), None)
    assert (second.number, second.started_at, second.reopening, second.first_dispatched_at,
            second.first_on_scene_at, second.contained_at, second.resolved_at,
            second.closed_at, second.closure_reason) == (
        1, at("11:00"), 7, at("11:01"), at("11:04"), at("11:10"), at("11:30"), at("11:40"),
        "resolved")
    assert (now.status, now.contained_at, now.resolved_at, now.closed_at, now.reopen_count) == (
        IncidentStatus.CLOSED, at("11:10"), at("11:30"), at("11:40"), 1)
    assert [(r.responder_id, r.cycle, r.dispatched_at, r.on_scene_at)
            for r in now.responders] == [("li", 0, at("10:02"), at("10:06")),
                                         ("li", 1, at("11:01"), at("11:04"))]


def test_a_replay_in_the_second_cycle_shows_it_under_way(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """As of 11:05 the incident was reopened and on scene again, not contained in this
    cycle; as of 10:45 it was resolved, with one cycle."""
    engine, _, community, fire = rekindle
    during = engine.replay.incident(fire, as_of=at("11:05"))
    assert (during.status, during.contained_at, during.resolved_at) == (
        IncidentStatus.ON_SCENE, None, None)
    assert [c.number for c in during.cycles] == [0, 1]
    assert during.cycles[0].contained_at == at("10:20")
    assert during.on_scene == ("li",)
    between = engine.replay.incident(fire, as_of=at("10:45"))
    assert (between.status, len(between.cycles)) == (IncidentStatus.RESOLVED, 1)
    assert engine.replay.incident(fire, known_at=at("11:00")).status is IncidentStatus.REOPENED
    grid = engine.replay.community(community, as_of=at("11:05"), grid="3")
    assert grid.open_incidents == (during,)


def test_the_replay_s_cycles_are_the_case_s(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """Cycle n of the replay holds what ``Case.cycles[n]`` holds (cycle 0 the first
    response, with no reopening)."""
    engine, _, _, fire = rekindle
    case = case_at(str(fire), case_doc(engine.events(fire)))
    assert case is not None
    situation = engine.replay.incident(fire)
    names = {"reopened": "started_at", "first_dispatched": "first_dispatched_at",
             "first_on_scene": "first_on_scene_at", "contained": "contained_at",
             "resolved": "resolved_at", "closed": "closed_at"}
    assert [dict(c) for c in case.cycles] == [
        {m: getattr(cycle, field) for m, field in names.items()
         if getattr(cycle, field) is not None and (cycle.number or m != "reopened")}
        for cycle in situation.cycles]
    assert [c.number for c in situation.cycles] == [0, 1]


# The review -----------------------------------------------------------------------------


def test_the_review_tells_every_cycle(rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """The summary says how the first response ended and gives the rekindle its sentence."""
    engine, _, _, fire = rekindle
    review = engine.review(fire).incidents[0]
    assert review.summary == (
        "fire (high) in grid 3, detected at 10:00 on 2022-03-01.",
        "Contained at 10:20, 20 min after detection (target 15 min); resolved at 10:30.",
        "Rekindled at 11:00 (reopened: flare-up behind the shelving); contained again at "
        "11:10, 10 min after the reopening; resolved at 11:30.",
        "1 responder dispatched, 1 of them on scene.",
        "Closed (resolved) at 11:40.",
    )


def test_a_reopening_still_under_way_says_so(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """As of 11:05 the rekindle has no containment yet and the status line says where it
    stands."""
    engine, _, _, fire = rekindle
    review = engine.reviews.incident(fire, as_of=at("11:05")).incidents[0]
    assert review.summary[2] == ("Rekindled at 11:00 (reopened: flare-up behind the "
                                 "shelving); no containment recorded yet.")
    assert review.summary[-1] == "Status at this cut: on scene."


def test_the_chart_shows_the_reopening_and_the_second_containment(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """The first response's moments (its own resolution at 10:30), then the reopening's
    cycle; a responder sent again has a row per cycle."""
    engine, _, _, fire = rekindle
    review = engine.review(fire)
    incident = review.incidents[0]
    assert [(m.label, m.at, m.cycle) for m in incident.milestones] == [
        ("detected", at("10:00"), 0), ("reported", at("10:00"), 0),
        ("first dispatch", at("10:02"), 0), ("first on scene", at("10:06"), 0),
        ("contained", at("10:20"), 0), ("resolved", at("10:30"), 0),
        ("reopened", at("11:00"), 1), ("dispatch after reopening", at("11:01"), 1),
        ("on scene after reopening", at("11:04"), 1), ("contained again", at("11:10"), 1),
        ("resolved again", at("11:30"), 1)]
    assert [(t.name, t.cycle) for t in incident.responders] == [("Li", 0), ("Li", 1)]
    page = review.to_html()
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count('<polygon class="contained"') == 3  # two containments and the legend's
    assert svg.count('<polygon class="reopened"') == 2  # the reopening and the legend's
    assert "contained again: 11:10 · +70 min" in svg
    assert "Li (reopening 1)" in svg


def test_the_markdown_marks_each_timeline_entry_s_cycle_and_measures_each_reopening(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """The timeline table gets a Cycle column; the per-reopening segments a row each."""
    engine, _, _, fire = rekindle
    review = engine.review(fire)
    md = review.to_markdown()
    assert "| # | Time | +min | Who | What | Notes | Cycle |" in md
    assert "| 7 | 11:00 | +60 | Zhang (grid leader) | reopened: flare-up behind the shelving " \
           "|  | 1 |" in md
    segments = {(s.name, s.reopening): s.duration for s in review.incidents[0].segments}
    assert segments[("reopened_to_contained", 1)] == timedelta(minutes=10)
    assert segments[("reopened_to_resolved", 1)] == timedelta(minutes=30)
    assert segments[("detection_to_contained", None)] == timedelta(minutes=20)
    assert segments[("detection_to_resolved", None)] == timedelta(minutes=90)
    assert ("| reopened_to_contained: each reopening to the containment of its cycle "
            "(reopening 1) | 10 min |") in md


def test_the_review_s_data_say_which_reopening_a_segment_measured(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """``reopening`` is n for the nth reopening's segment and null for one per incident."""
    engine, _, _, fire = rekindle
    segments = json.loads(engine.review(fire).to_json())["incidents"][0]["segments"]
    reopening = {s["name"]: s["reopening"] for s in segments}
    assert (reopening["reopened_to_contained"], reopening["detection_to_contained"]) == (
        1, None)
    assert all("cycle" not in s for s in segments)


def test_objectives_grade_the_first_response(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """Contained 20 min after detection in the first cycle: S on its own, and not within
    the target in a grid review (0 of 1: M)."""
    engine, _, community, fire = rekindle
    contained = engine.review(fire).incidents[0].objectives[0]
    assert (contained.grade, contained.measured) == (Grade.S, timedelta(minutes=20))
    month = engine.reviews.incidents(community, period=Period.month(2022, 3, SHANGHAI))
    assert month.objectives[0].grade is Grade.M
    assert month.objectives[0].evidence == "0 of 1 within 15 min (0%; the 90% rule needs 90%)"


# Amendments after closure ---------------------------------------------------------------


def test_the_review_flags_each_amendment_made_after_closure(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """Who, when and what: the time correction, the late record, the details correction;
    nothing reopens, and the record still stands closed."""
    engine, clock, _, fire = rekindle
    amend(engine, clock, fire)
    incident = engine.review(fire).incidents[0]
    assert incident.status == "closed"
    flags = [(q.text, q.version) for q in incident.quality if q.kind == "amendment"]
    assert flags == [
        ("responder on scene moved from 10:06 to 10:05 after the closure, by Duty desk "
         "(community staff), recorded at 15:00", 13),
        ("responder en route of 10:03 recorded late after the closure, by Duty desk "
         "(community staff), recorded at 15:00", 14),
        ("contained details corrected after the closure, by Duty desk (community staff), "
         "recorded at 15:00", 15)]
    assert [(a.version, a.fact, a.person, a.corrects) for a in incident.amendments] == [
        (13, "ResponderOnScene", "office-duty", 4), (14, "ResponderEnRoute", "office-duty", None),
        (15, "Contained", "office-duty", 10)]
    review = engine.review(fire)
    assert ("**Amended after closure:** responder on scene moved from 10:06 to 10:05 after "
            "the closure") in review.to_markdown()
    amendment = json.loads(review.to_json())["incidents"][0]["amendments"][0]
    assert amendment == {
        "version": 13, "fact": "ResponderOnScene", "person": "office-duty",
        "role": "community_staff", "recorded_at": "2022-03-01T15:00:00+08:00",
        "occurred_at": "2022-03-01T15:00:00+08:00", "corrects": 4,
        "what": "time corrected from 2022-03-01T10:06:00+08:00 to 2022-03-01T10:05:00+08:00"}


def test_the_review_shows_figures_as_known_at_closure_beside_the_corrected_ones(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """On scene at 10:06 as closed, 10:05 as corrected: on scene -> contained 14 min then,
    15 min now; turnout, unmeasurable at closure, measured now (1 min)."""
    engine, clock, _, fire = rekindle
    amend(engine, clock, fire)
    segments = {s.name: s for s in engine.review(fire).incidents[0].segments}
    assert (segments["on_scene_to_contained"].duration,
            segments["on_scene_to_contained"].at_closure) == (
        timedelta(minutes=15), timedelta(minutes=14))
    assert (segments["turnout"].duration, segments["turnout"].at_closure) == (
        timedelta(minutes=1), None)
    md = engine.review(fire).to_markdown()
    assert "| Metric | As corrected | As first recorded | As known at closure | Target | Met |" \
        in md
    assert re.search(r"\| on_scene_to_contained: [^|]+ \| 15 min \| 14 min \| 14 min \|", md)


def test_an_unamended_review_has_no_closure_column(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """Without amendments the figures at closure are the figures: no extra column."""
    engine, _, _, fire = rekindle
    incident = engine.review(fire).incidents[0]
    assert incident.amendments == ()
    assert all(s.at_closure is None for s in incident.segments)
    assert "As known at closure" not in engine.review(fire).to_markdown()


def test_a_metric_as_known_at_closure_stands_beside_the_corrected_one(
        rekindle: tuple[Engine, ManualClock, UUID, UUID]) -> None:
    """``engine.replay.metrics(..., as_closed=True)``: then as closed, now as corrected."""
    engine, clock, community, fire = rekindle
    amend(engine, clock, fire)
    pair = engine.replay.metrics("on_scene_to_contained", as_closed=True, community=community)
    assert (pair.then.rows[0].max, pair.now.rows[0].max) == (14, 15)
    assert pair.render().startswith("on_scene_to_contained (min) as known at closure and as "
                                    "corrected\n")
    with pytest.raises(InvalidInputError, match="known_at, as_closed=True, or both"):
        engine.replay.metrics("on_scene_to_contained")
