"""After-action reviews: the Donghu fire graded, cuts, drills, grid reviews, objectives as data."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from resilience import (
    Actor,
    Engine,
    InvalidInputError,
    Location,
    ManualClock,
    NotFoundError,
    Role,
)
from resilience.metrics import CaseFilter, MetricDefinition, Period, builtin
from resilience.review import DEFAULT_OBJECTIVES, AfterActionReview, Grade, Objective
from resilience.scenario import load_scenario, replay
from resilience.scenarios import DONGHU_FIRE

from conftest import OFFICE, SHANGHAI, T0

LEADER = Actor("p-3001", Role.GRID_LEADER)


@pytest.fixture
def donghu() -> Iterator[tuple[Engine, UUID, UUID]]:
    with Engine("memory:", policy=None) as engine:
        result = replay(engine, load_scenario(DONGHU_FIRE))
        yield engine, result.community_id, result.incidents["donghu-fire"]


def at(hhmm: str, day: int = 15) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return T0.replace(day=day, hour=hours, minute=minutes)


def grades(review: object) -> dict[str, Grade | None]:
    return {o.name: o.grade for o in review.incidents[0].objectives}  # type: ignore[attr-defined]


def test_the_donghu_fire_is_graded_p_for_containment_within_15_minutes(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Contained 12 min after detection (as corrected): P; notification, first unit and
    consent P; the record S because containment's time was corrected afterwards."""
    engine, _, incident = donghu
    review = engine.review(incident)
    assert grades(review) == {
        "contained_within_15_min": Grade.P, "residents_notified_within_5_min": Grade.P,
        "first_unit_on_scene_within_5_min": Grade.P, "consent_before_forced_entry": Grade.P,
        "key_milestones_recorded": Grade.S}
    contained = review.incidents[0].objectives[0]
    assert contained.measured == timedelta(minutes=12)
    assert contained.target == timedelta(minutes=15)
    assert "contained at 15:12, 12 min after detection" in contained.evidence
    assert review.key == f"incident/{incident}"


def test_the_donghu_review_measures_each_segment_as_corrected_and_as_first_recorded(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """detection_to_contained: 12 min as corrected, 14 min as first recorded, target met;
    NFPA turnout 60 s and travel 120 s against 80 s and 240 s."""
    engine, _, incident = donghu
    segments = {s.name: s for s in engine.review(incident).incidents[0].segments}
    contained = segments["detection_to_contained"]
    assert (contained.duration, contained.first_recorded, contained.met) == (
        timedelta(minutes=12), timedelta(minutes=14), True)
    assert (segments["turnout"].duration, segments["turnout"].met) == (timedelta(seconds=60),
                                                                       True)
    assert (segments["travel"].duration, segments["travel"].target) == (
        timedelta(seconds=120), timedelta(seconds=240))
    assert segments["detection_to_report"].met is None  # no target: measured, not graded


def test_the_donghu_review_finds_its_strengths_late_records_and_correction(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Strengths come from P grades and met targets; the 3 facts recorded 16-18 min late and
    the containment correction are areas for improvement and data-quality flags."""
    engine, _, incident = donghu
    review = engine.review(incident).incidents[0]
    assert any("Contain the incident within 15 minutes" in s.text for s in review.strengths)
    assert any(f.text.startswith("3 facts recorded more than 15 min after they happened")
               for f in review.improvements)
    kinds = [q.kind for q in review.quality]
    assert kinds.count("late") == 3
    assert kinds.count("correction") == 1
    assert any("contained moved from 15:14 to 15:12" in q.text for q in review.quality)
    assert review.target_line == timedelta(minutes=15)
    assert [m.name for m in review.milestones][:3] == ["detected", "reported", "acknowledged"]
    assert {r.responder_id for r in review.responders} == {
        "p-3001", "p-3101", "p-3102", "p-3103"}
    assert review.summary[1] == "Contained at 15:12, 12 min after detection (target 15 min)."
    assert review.summary[2] == ("3 responders dispatched, 2 of them on scene; also on scene: "
                                 "Zhang Chuanlian; incident commander Zhang Chuanlian.")


def test_the_donghu_review_lists_the_improvement_item_it_raised(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """The scenario's storage-room item is linked to the incident's review, open."""
    engine, _, incident = donghu
    review = engine.review(incident)
    assert [item.owner for item in review.plan] == ["p-3001"]
    assert review.plan[0].review == review.key
    assert review.still_open == ()


def test_a_later_review_lists_what_is_still_open_until_it_is_done(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """A second fire in grid 3 lists the Donghu item as still open; completed, it is not."""
    engine, community, first = donghu
    second = engine.incidents.report(
        community, incident_type="fire", severity="low", location=Location(building="30"),
        description="bin fire", actor=LEADER, occurred_at=at("10:00", day=20)).aggregate_id
    still_open = engine.review(second).still_open
    assert [item.review for item in still_open] == [f"incident/{first}"]
    engine.improvements.complete(still_open[0].item_id, "cleared", actor=LEADER,
                                 occurred_at=at("09:00", day=25))
    assert engine.review(second).still_open == ()


def test_a_review_known_at_a_moment_sees_only_what_was_recorded_by_then(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Known at 15:10 nothing says contained and the deadline is ahead: not yet graded;
    known at 15:20 (contained 15:14, recorded 15:16) it grades P on the first time."""
    engine, _, incident = donghu
    early = engine.reviews.incident(incident, known_at=at("15:10"))
    assert grades(early)["contained_within_15_min"] is None
    assert "not yet graded: no containment by the cut" in early.incidents[0].objectives[0].evidence
    assert early.incidents[0].objectives[0].pending
    assert "**…** not graded yet" in early.to_markdown()
    assert early.objectives[0].counts["pending"] == 1
    assert early.known_at == at("15:10")
    assert all(e.recorded_at <= at("15:10") for e in early.incidents[0].timeline.entries)
    later = engine.reviews.incident(incident, known_at=at("15:20"))
    assert later.incidents[0].objectives[0].measured == timedelta(minutes=14)
    assert grades(later)["contained_within_15_min"] is Grade.P


def test_a_review_as_of_a_moment_holds_only_what_had_happened_by_then(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """As of 15:08 the timeline ends with the forced entry; the incident is on scene."""
    engine, _, incident = donghu
    review = engine.reviews.incident(incident, as_of=at("15:08")).incidents[0]
    assert review.timeline.entries[-1].action == "ForcedEntryMade"
    assert review.status == "on_scene"
    assert "Contained" not in [m.label for m in review.milestones]


def _incident(engine: Engine, community: UUID, when: datetime, *, drill: bool = False,
              contained_after: int | None = None) -> UUID:
    incident = engine.incidents.report(
        community, incident_type="fire", severity="moderate", location=Location(building="30"),
        description="drill: smoke machine" if drill else "kitchen fire", actor=LEADER,
        occurred_at=when, drill=drill).aggregate_id
    engine.incidents.take_action(incident, "residents_notified", "phoned", actor=LEADER,
                                 occurred_at=when + timedelta(minutes=2))
    engine.incidents.dispatch(incident, ["p-3101"], actor=OFFICE,
                              occurred_at=when + timedelta(minutes=1))
    engine.incidents.arrive(incident, "p-3101", actor=LEADER,
                            occurred_at=when + timedelta(minutes=4))
    if contained_after is not None:
        engine.incidents.contain(incident, actor=LEADER,
                                 occurred_at=when + timedelta(minutes=contained_after))
        engine.incidents.resolve(incident, "out", actor=LEADER,
                                 occurred_at=when + timedelta(minutes=contained_after + 5))
    return incident


def test_a_drill_is_reviewed_the_same_way_and_can_be_left_out_or_alone(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """A drill gets the same grades; a grid review includes, excludes or keeps only drills."""
    engine, community, donghu_fire = donghu
    drill = _incident(engine, community, at("10:00", day=18), drill=True, contained_after=20)
    review = engine.review(drill)
    assert review.incidents[0].drill
    assert review.drills == 1
    assert grades(review)["contained_within_15_min"] is Grade.S  # 20 min: within 1.5 x 15
    # Like a real fire, it can't grade turnout without the first unit's en route.
    missing = [q.text for q in review.incidents[0].quality if q.kind == "missing"]
    assert missing == ["not recorded: first_unit_en_route (so turnout, travel can't be graded)"]
    feb = Period.month(2022, 2, SHANGHAI)
    every = engine.reviews.incidents(community, grid="3", period=feb)
    assert [i.incident_id for i in every.incidents] == [str(donghu_fire), str(drill)]
    real = engine.reviews.incidents(community, grid="3", period=feb, drills="exclude")
    assert [i.incident_id for i in real.incidents] == [str(donghu_fire)]
    only = engine.reviews.incidents(community, grid="3", period=feb, drills="only")
    assert [i.incident_id for i in only.incidents] == [str(drill)]
    assert only.title.startswith("After-action review: drills of grid 3 of Donghu Community")


def test_a_grid_review_grades_each_objective_over_all_its_incidents(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Over three fires contained in 12, 20 and 30 min containment grades M (one P, one S,
    one M: under 90% at P or S), with the counts beside it."""
    engine, community, _ = donghu
    _incident(engine, community, at("10:00", day=18), contained_after=20)
    _incident(engine, community, at("10:00", day=19), contained_after=30)
    review = engine.reviews.incidents(community, grid="3", period=Period.month(2022, 2,
                                                                              SHANGHAI))
    summary = {s.name: s for s in review.objectives}
    contained = summary["contained_within_15_min"]
    assert (contained.grade, contained.counts["P"], contained.counts["S"],
            contained.counts["M"]) == (Grade.M, 1, 1, 1)
    assert summary["consent_before_forced_entry"].counts["n/a"] == 2
    assert review.key == (f"community/{community}/grid/3/"
                          f"{Period.month(2022, 2, SHANGHAI)}")


def _ten_fires(engine: Engine, community: UUID, *, late: int) -> AfterActionReview:
    """Ten fires of grid 3 in March 2022: ``late`` contained after 20 min (within 1.5 x the
    15-minute target, so each graded S), the others after 12 min (P)."""
    for day in range(1, 11):
        _incident(engine, community, at("10:00", day=day).replace(month=3),
                  contained_after=20 if day <= late else 12)
    return engine.reviews.incidents(community, grid="3", period=Period.month(2022, 3, SHANGHAI))


def test_eight_of_ten_within_the_target_misses_the_90_percent_rule(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Eight of ten fires contained within 15 min and two within 1.5 x: 80% met the target
    itself, so containment grades M (not S), and the wording shows the 80%."""
    engine, community, _ = donghu
    review = _ten_fires(engine, community, late=2)
    contained = {s.name: s for s in review.objectives}["contained_within_15_min"]
    assert (contained.counts["P"], contained.counts["S"]) == (8, 2)
    assert contained.grade is Grade.M
    assert (contained.complied, contained.graded, contained.compliance) == (8, 10, 0.8)
    assert contained.evidence == "8 of 10 within 15 min (80%; the 90% rule needs 90%)"
    md = review.to_markdown()
    assert "| 8 | 2 | 0 | 0 | 0 | 0 | 8 of 10 within 15 min (80%; the 90% rule needs 90%) |" \
        in md
    assert "8 of 10 within 15 min (80%; the 90% rule needs 90%)" in review.to_html()


def test_nine_of_ten_within_the_target_meets_the_90_percent_rule(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Nine of ten within the target: S, at 90%; ten of ten: P."""
    engine, community, _ = donghu
    review = _ten_fires(engine, community, late=1)
    contained = {s.name: s for s in review.objectives}["contained_within_15_min"]
    assert contained.grade is Grade.S
    assert contained.evidence == "9 of 10 within 15 min (90%, meeting the 90% rule)"


def test_the_other_rules_grade_the_share_of_p_and_s(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """A rule without a target (the record) grades the share of incidents graded P or S."""
    engine, community, _ = donghu
    review = _ten_fires(engine, community, late=0)
    summary = {s.name: s for s in review.objectives}
    assert summary["contained_within_15_min"].grade is Grade.P
    assert summary["contained_within_15_min"].evidence == "10 of 10 within 15 min (100%)"
    recorded = summary["key_milestones_recorded"]
    assert (recorded.complied, recorded.graded) == (recorded.counts["P"] + recorded.counts["S"],
                                                    10)
    assert recorded.evidence.startswith(f"{recorded.complied} of 10 graded P or S")
    assert summary["consent_before_forced_entry"].evidence == "no incident graded"


def test_an_unfinished_response_grades_u_and_finds_the_gaps(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Resolved but never recorded contained: containment U, the record M or U, and the
    long gap before the first arrival is an area for improvement."""
    engine, community, _ = donghu
    when = at("10:00", day=21)
    incident = engine.incidents.report(
        community, incident_type="fire", severity="low", location=Location(building="30"),
        description="balcony", actor=LEADER, occurred_at=when).aggregate_id
    engine.incidents.arrive(incident, "p-3101", actor=LEADER,
                            occurred_at=when + timedelta(minutes=12))
    engine.incidents.resolve(incident, "out", actor=LEADER,
                             occurred_at=when + timedelta(minutes=40))
    review = engine.review(incident).incidents[0]
    result = {o.name: o for o in review.objectives}
    assert result["contained_within_15_min"].grade is Grade.U
    # 3 of the 7 expected milestones missing (no closure yet): at most half, so M.
    assert result["key_milestones_recorded"].grade is Grade.M
    assert "not recorded: acknowledged, first dispatched, contained" in \
        result["key_milestones_recorded"].evidence
    assert any("12 min passed between the report (10:00) and first on scene (10:12)" in f.text
               for f in review.improvements)


def test_objectives_of_your_own_grade_the_same_facts_differently(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """A 10-minute containment objective grades the 12-minute Donghu containment S."""
    engine, _, incident = donghu
    ten = Objective("contained_within_10_min", "Contain within 10 minutes", "within",
                    "detected", "contained", timedelta(minutes=10))
    review = engine.reviews.incident(incident, objectives=[ten])
    assert grades(review) == {"contained_within_10_min": Grade.S}


def test_objectives_round_trip_through_json_like_data() -> None:
    """Every default objective survives to_dict -> from_dict unchanged."""
    for objective in DEFAULT_OBJECTIVES:
        assert Objective.from_dict(objective.to_dict()) == objective


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "x", "title": "X", "rule": "sometimes"}, "rule must be one of"),
    ({"name": "x", "title": "X", "rule": "within", "start": "detected", "end": "lunch",
      "target_minutes": 5}, "end must be an incident milestone"),
    ({"name": "x", "title": "X", "rule": "within", "start": "detected", "end": "contained",
      "target_minutes": 0}, "target must be a positive duration"),
    ({"name": "x", "title": "X", "rule": "within", "start": "detected", "end": "contained",
      "target_minutes": "15"}, "target_minutes must be a number"),
    ({"name": "x", "title": "X", "rule": "recorded", "milestones": "contained"},
     "milestones must be a list"),
    ({"name": "x", "title": "X", "rule": "recorded", "colour": "red"}, "unknown objective keys"),
    ({"name": "x", "title": "X", "rule": "consent_before_entry", "target_minutes": 5},
     "target_minutes does not apply to a consent_before_entry objective"),
    ({"name": "x", "title": "X", "rule": "within", "start": "detected", "end": "contained",
      "target_minutes": 5, "milestones": ["contained"]},
     "milestones does not apply to a within objective"),
    ({"name": "", "title": "X", "rule": "recorded"}, "needs a name"),
    ({"name": "x", "title": "X", "rule": "recorded", "incident_types": ["volcano"]},
     "incident_types must be among"),
])
def test_a_malformed_objective_is_refused_with_the_reason(data: dict[str, object],
                                                          message: str) -> None:
    """Objectives read from data are checked like any other input."""
    with pytest.raises(InvalidInputError, match=message):
        Objective.from_dict(data)


def test_reviews_refuse_bad_input_with_documented_errors(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Unknown ids, naive cuts, bad periods, drill choices and objectives raise and record
    nothing."""
    engine, community, incident = donghu
    before = engine.app.recorder.max_notification_id()
    with pytest.raises(NotFoundError, match="no incident"):
        engine.review(community)
    with pytest.raises(InvalidInputError, match="UUID"):
        engine.review("donghu-fire")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        engine.review(incident, known_at=datetime(2022, 2, 15, 15, 10))
    with pytest.raises(NotFoundError, match="not in the record"):
        engine.review(incident, as_of=at("14:00"))
    with pytest.raises(InvalidInputError, match="period must be a Period"):
        engine.reviews.incidents(community, period="2022-02")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="drills must be"):
        engine.reviews.incidents(community, drills="sometimes")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="no grid"):
        engine.reviews.incidents(community, grid="9")
    with pytest.raises(InvalidInputError, match="objective names repeat"):
        engine.reviews.incident(incident, objectives=[DEFAULT_OBJECTIVES[0]] * 2)
    with pytest.raises(InvalidInputError, match="objectives must be"):
        engine.reviews.incident(incident, objectives=DEFAULT_OBJECTIVES[0])  # type: ignore[arg-type]
    assert engine.app.recorder.max_notification_id() == before


def test_a_review_cut_on_both_axes_is_graded_at_the_earlier_moment(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """As of 16:00 but known at 15:12, a containment recorded at 15:20 is unknown and the
    15:15 deadline still ahead: not yet graded, not U."""
    engine, community, _ = donghu
    when = at("15:00", day=22)
    incident = engine.with_clock(ManualClock(when)).incidents.report(
        community, incident_type="fire", severity="low", location=Location(building="30"),
        description="kitchen", actor=LEADER, occurred_at=when).aggregate_id
    engine.with_clock(ManualClock(when + timedelta(minutes=20))).incidents.contain(
        incident, actor=LEADER, occurred_at=when + timedelta(minutes=10))
    review = engine.reviews.incident(incident, as_of=when + timedelta(hours=1),
                                     known_at=when + timedelta(minutes=12))
    assert grades(review)["contained_within_15_min"] is None
    later = engine.reviews.incident(incident, as_of=when + timedelta(hours=1),
                                    known_at=when + timedelta(minutes=25))
    assert grades(later)["contained_within_15_min"] is Grade.P


def test_a_refusal_after_a_grant_withdraws_the_consent_an_entry_could_rely_on(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Grant, ask again, refuse, then exigent entry and a forced entry: S (exigent, not
    consent), and the situation lists no consent standing."""
    engine, community, _ = donghu
    when = at("15:00", day=23)
    run = engine.incidents
    incident = run.report(community, incident_type="fire", severity="low",
                          location=Location(building="30"), description="locked room",
                          actor=LEADER, occurred_at=when).aggregate_id
    def t(minute: int) -> datetime:
        return when + timedelta(minutes=minute)

    run.request_consent(incident, "res", "lock", actor=LEADER, occurred_at=t(1))
    run.grant_consent(incident, "res", actor=LEADER, occurred_at=t(2))
    run.request_consent(incident, "res", "again", actor=LEADER, occurred_at=t(3))
    run.refuse_consent(incident, "res", "no", actor=LEADER, occurred_at=t(4))
    run.authorise_exigent_entry(incident, "smoke", actor=LEADER, occurred_at=t(5))
    run.force_entry(incident, "door", actor=LEADER, occurred_at=t(6))
    review = engine.review(incident)
    assert grades(review)["consent_before_forced_entry"] is Grade.S
    situation = review.incidents[0].situation
    assert situation is not None
    assert situation.consents_granted == ()


def test_still_open_lists_only_items_planned_before_the_reviewed_incident(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """An item raised by a later incident's review is not "still open" in an earlier one's."""
    engine, community, first = donghu
    later = engine.incidents.report(
        community, incident_type="fire", severity="low", location=Location(building="30"),
        description="later fire", actor=LEADER, occurred_at=at("10:00", day=27)).aggregate_id
    engine.improvements.plan(community, review=f"incident/{later}", action="fix B",
                             owner="p-3001", due=at("10:00", day=28) + timedelta(
                                 days=30), actor=OFFICE, occurred_at=at("12:00", day=27))
    assert engine.review(first).still_open == ()
    assert [i.action for i in engine.review(later).plan] == ["fix B"]


def test_times_read_in_the_incident_s_own_zone_whatever_the_clock_s(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """Facts told in Shanghai time but recorded by a UTC clock read in Shanghai time."""
    engine, community, _ = donghu
    when = at("15:00", day=21)
    utc = engine.with_clock(ManualClock((when + timedelta(minutes=30)).astimezone(UTC)))
    incident = utc.incidents.report(
        community, incident_type="fire", severity="low", location=Location(building="30"),
        description="shed", actor=LEADER, occurred_at=when).aggregate_id
    utc.incidents.contain(incident, actor=LEADER,
                          occurred_at=(when + timedelta(minutes=9)).astimezone(UTC))
    review = engine.review(incident).incidents[0]
    assert review.summary[1].startswith("Contained at 15:09, 9 min after detection")
    assert "contained of 15:09 recorded at 15:30, 21 min later" in [q.text for q in
                                                                    review.quality]


def test_times_on_another_day_carry_their_date_in_the_summary(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """A drill contained ten hours later and resolved the next day says so."""
    engine, community, _ = donghu
    when = at("15:00", day=24)
    incident = engine.incidents.report(
        community, incident_type="flood", severity="low", location=Location(building="30"),
        description="burst pipe", actor=LEADER, occurred_at=when).aggregate_id
    engine.incidents.contain(incident, actor=LEADER, occurred_at=when + timedelta(hours=10))
    engine.incidents.resolve(incident, "dry", actor=LEADER, occurred_at=when + timedelta(days=1))
    summary = engine.review(incident).incidents[0].summary
    assert summary[1].startswith("Contained at 2022-02-25 01:00, 10 h 00 min after detection")
    assert summary[-1] == "Resolved at 2022-02-25 15:00."


def test_a_false_alarm_has_nothing_to_contain(donghu: tuple[Engine, UUID, UUID]) -> None:
    """Closed as a false alarm: the containment objectives don't apply, and the summary
    says there was nothing to contain."""
    engine, community, _ = donghu
    when = at("09:00", day=26)
    incident = engine.incidents.report(
        community, incident_type="fire", severity="low", location=Location(building="30"),
        description="burnt toast", actor=LEADER, occurred_at=when).aggregate_id
    engine.incidents.close(incident, "false_alarm", actor=OFFICE,
                           occurred_at=when + timedelta(minutes=20))
    review = engine.review(incident).incidents[0]
    assert review.summary[1] == "Nothing to contain: closed as false alarm."
    assert {o.name: o.grade for o in review.objectives}["contained_within_15_min"] is None


def test_a_drill_gets_only_the_segments_a_real_incident_of_its_type_would(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """A segment for medical calls is not measured on a fire drill, as on a real fire."""
    engine, community, donghu_fire = donghu
    drill = _incident(engine, community, at("10:00", day=18), drill=True, contained_after=9)
    ems = MetricDefinition("turnout_ems", "incident", "first_unit_dispatched",
                           "first_unit_on_scene", "s", 60,
                           applies_to=CaseFilter(incident_types=("medical",)))
    fire_turnout = builtin("detection_to_contained")
    for incident in (drill, donghu_fire):
        names = [s.name for s in engine.reviews.incident(
            incident, segments=[ems, fire_turnout]).incidents[0].segments]
        assert names == ["detection_to_contained"]


def test_the_json_review_carries_the_situation_and_the_definitions_used(
        donghu: tuple[Engine, UUID, UUID]) -> None:
    """JSON holds the state at the cut (awaited consents, closure) and every objective's and
    segment's definition, so the review can be redone from it."""
    engine, _, incident = donghu
    data = json.loads(engine.reviews.incident(incident, known_at=at("15:15")).to_json())
    situation = data["incidents"][0]["situation"]
    assert situation["pending_consents"] == ["b30-u1-storage-owner"]
    assert situation["status"] == "on_scene"
    assert [o["name"] for o in data["objective_definitions"]] == [
        o.name for o in DEFAULT_OBJECTIVES]
    assert Objective.from_dict(data["objective_definitions"][0]) == DEFAULT_OBJECTIVES[0]
    assert data["drills"] == 0
    assert "detection_to_contained" in [d["name"] for d in data["segment_definitions"]]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e20, True])
def test_an_objective_target_must_be_a_sane_number_of_minutes(value: float) -> None:
    """NaN, infinities, absurd sizes and booleans are refused as targets."""
    with pytest.raises(InvalidInputError, match="target_minutes must be a number"):
        Objective.from_dict({"name": "x", "title": "X", "rule": "within", "start": "detected",
                             "end": "contained", "target_minutes": value})
    with pytest.raises(InvalidInputError, match="some_challenges"):
        Objective("x", "X", "within", "detected", "contained", timedelta(minutes=5),
                  some_challenges=float("nan"))
