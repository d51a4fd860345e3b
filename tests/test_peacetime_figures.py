"""Peacetime figures (resilience.metrics.peacetime) on worked examples whose figures are
computed by hand here: patrol coverage against a plan (weekly and monthly spot rules, a
plan revised mid-period, patrols recorded late, a corrected coverage), hazards per 100
households, time to rectify, share verified, overdue hazards; then the same through the
engine (reports, scorecard, league table, data quality)."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience import Actor, Engine, InvalidInputError, Location, ManualClock, Role, UnitSpec
from resilience.domain.patrol import PatrolRule, PatrolVisit
from resilience.exports import to_csv, to_dict
from resilience.i18n import language
from resilience.metrics import Case, Period
from resilience.metrics.definitions import builtin
from resilience.metrics.peacetime import (
    PEACETIME,
    Areas,
    PatrolRecord,
    PeacetimeDefinition,
    PeacetimeScope,
    grid_coverage,
    hazard_report,
    overdue_hazards,
    window_of,
)
from resilience.metrics.quality import data_quality

from conftest import SHANGHAI

COMMUNITY = "c-1"


def day(month: int, d: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment of 2022, Shanghai time."""
    return datetime(2022, month, d, hour, minute, tzinfo=SHANGHAI)


MARCH = Period.month(2022, 3, SHANGHAI)

# Grid g1: buildings b1 (units b1/1 and b1/2, 10 households each) and b2 (b2/1, 5
# households); grid g2: micro-grid m holding building b3 (8 households). 33 in all.
COMMUNITY_DOC: dict[str, Any] = {
    "kind": "community", "community": COMMUNITY, "name": "East",
    "grids": {"g1": "Grid 1", "g2": "Grid 2"},
    "areas": {
        "g1": ["grid", None, 0, day(1, 1).isoformat()],
        "g2": ["grid", None, 0, day(1, 1).isoformat()],
        "m": ["micro_grid", "g2", 0, day(1, 1).isoformat()],
        "b1": ["building", "g1", 20, day(1, 1).isoformat()],
        "b1/1": ["unit", "b1", 10, day(1, 1).isoformat()],
        "b1/2": ["unit", "b1", 10, day(1, 1).isoformat()],
        "b2": ["building", "g1", 5, day(1, 1).isoformat()],
        "b2/1": ["unit", "b2", 5, day(1, 1).isoformat()],
        "b3": ["building", "m", 8, day(1, 1).isoformat()],
    },
}
AREAS = Areas.from_doc(COMMUNITY_DOC)

WALK: list[Any] = ["walk", "weekly", None, []]
"""Every building of the grid, once a week."""
STORAGE: list[Any] = ["storage", "monthly", "storage_room", ["b1"]]
"""b1's storage room, once a month."""


def plan(*versions: tuple[datetime, list[list[Any]]]) -> dict[str, Any]:
    return {"kind": "patrol_plan", "community": COMMUNITY, "grid": "g1",
            "at": versions[0][0].timestamp(),
            "versions": [[at.isoformat(), at.isoformat(), rules] for at, rules in versions]}


def patrol(key: str, start: datetime, *visits: tuple[str, Sequence[str]],
           grid: str = "g1") -> PatrolRecord:
    return PatrolRecord.from_doc(key, {
        "kind": "patrol", "community": COMMUNITY, "grid": grid, "at": start.timestamp(),
        "ended": (start + timedelta(hours=1)).isoformat(),
        "visits": [[area, list(spots)] for area, spots in visits], "hazards": [],
        "facts": [], "corrections": []})


# March 2022 starts on a Tuesday: the ISO weeks inside it are 7-13, 14-20 and 21-27
# (28 March - 3 April ends after it); the month itself is one monthly window.
PATROLS = [
    patrol("p1", day(3, 8, 10), ("b1", ()), ("b2/1", ())),  # week 1: b1, and b2 by its unit
    patrol("p2", day(3, 15, 10), ("b1/2", ("storage_room",))),  # week 2: b1; b1's storage
    # week 3, late on Sunday (recorded days later: a patrol counts whenever recorded)
    patrol("p3", day(3, 27, 23, 30), ("b2", ())),
    patrol("p4", day(3, 22, 9), ("b1", ()), grid="g2"),  # another grid's: not g1's
]


def test_windows_are_calendar_days_iso_weeks_and_months_in_the_zone() -> None:
    """A Sunday evening in Shanghai is in the week that began the Monday before."""
    moment = day(3, 27, 23, 30)
    assert window_of("daily", moment, SHANGHAI) == (day(3, 27), day(3, 28))
    assert window_of("weekly", moment, SHANGHAI) == (day(3, 21), day(3, 28))
    assert window_of("monthly", moment, SHANGHAI) == (day(3, 1), day(4, 1))
    assert window_of("monthly", day(12, 31, 23), SHANGHAI) == (
        day(12, 1), datetime(2023, 1, 1, tzinfo=SHANGHAI))


def test_areas_are_read_through_micro_grids_and_households_are_the_buildings() -> None:
    """A building under a micro-grid is in the micro-grid's grid; households are counted by
    building (a building's are its units')."""
    assert AREAS.grid_of("b3") == "g2"
    assert AREAS.grid_of("b1/2") == "g1"
    assert AREAS.buildings("g1") == ["b1", "b2"]
    assert AREAS.households({"community": COMMUNITY}) == 20 + 5 + 8
    assert AREAS.households({"community": COMMUNITY, "grid": "g1"}) == 25
    assert AREAS.households({"community": COMMUNITY, "building": "b2"}) == 5
    assert AREAS.households({"community": COMMUNITY, "category": "gas"}) is None


def test_coverage_counts_weekly_and_monthly_spot_rules_by_hand() -> None:
    """Weekly: week 1 both buildings (b2 through its unit), week 2 b1 only, week 3 b2 only
    (a late Sunday patrol): 4 of 6. Monthly storage room of b1: visited through b1/2
    with the spot: 1 of 1. Another grid's patrol counts for nothing. 5 of 7 in all."""
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", plan((day(3, 1), [WALK, STORAGE])),
                             PATROLS, AREAS, period=MARCH, as_of=day(4, 2))
    assert (coverage.planned, coverage.done) == (7, 5)
    assert coverage.share == pytest.approx(5 / 7)
    rules = {r.rule: (r.frequency, r.spot, r.planned, r.done) for r in coverage.rules}
    assert rules == {"walk": ("weekly", None, 6, 4), "storage": ("monthly", "storage_room", 1, 1)}
    assert [(w.rule, w.start, w.missed) for w in coverage.missed] == [
        ("walk", day(3, 14), ("b2",)), ("walk", day(3, 21), ("b1",))]
    assert coverage.pending == ()  # as of 2 April, the week of 28 March lies outside March
    assert coverage.patrols == 3


def test_a_spot_rule_needs_a_visit_naming_the_spot() -> None:
    """Walking b1 without looking at its storage room does not do the storage rule."""
    walked = [patrol("p1", day(3, 8, 10), ("b1", ("basement",)))]
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", plan((day(3, 1), [STORAGE])),
                             walked, AREAS, period=MARCH, as_of=day(4, 2))
    assert (coverage.planned, coverage.done) == (1, 0)
    assert coverage.missed[0].missed == ("b1",)


def test_a_plan_revised_mid_period_asks_the_new_rules_from_the_next_window() -> None:
    """Revised on Wednesday 16 March to walk b1 only: week 2 (begun on the 14th) still
    asks b1 and b2 (1 of 2 done), week 3 asks b1 alone (missed: 0 of 1); the month
    began under the first version. Weekly 2 + 1 + 0 of 2 + 2 + 1, monthly 1 of 1."""
    revised = plan((day(3, 1), [WALK, STORAGE]),
                   (day(3, 16, 12), [["walk", "weekly", None, ["b1"]], STORAGE]))
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", revised, PATROLS, AREAS,
                             period=MARCH, as_of=day(4, 2))
    assert coverage.counted(("weekly",)) == (5, 3)
    assert (coverage.planned, coverage.done) == (6, 4)
    assert [(w.start, w.planned, w.missed) for w in coverage.missed] == [
        (day(3, 14), 2, ("b2",)), (day(3, 21), 1, ("b1",))]


def test_only_windows_ended_by_as_of_count_and_the_one_in_progress_is_what_is_left_to_walk(
) -> None:
    """As of Friday 25 March: weeks 1 and 2 counted (3 of 4); the month has not ended;
    week 3 is in progress with both buildings still to walk (p3 had not started yet)."""
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", plan((day(3, 1), [WALK, STORAGE])),
                             PATROLS, AREAS, period=MARCH, as_of=day(3, 25, 12))
    assert (coverage.planned, coverage.done) == (4, 3)
    assert [(w.rule, w.start, w.missed) for w in coverage.pending] == [
        ("walk", day(3, 21), ("b1", "b2"))]
    assert coverage.patrols == 2


def test_a_plan_adopted_mid_window_asks_nothing_of_that_window() -> None:
    """Adopted Tuesday 8 March at noon: week 1 (from the 7th) had no plan at its start."""
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", plan((day(3, 8, 12), [WALK])),
                             PATROLS, AREAS, period=MARCH, as_of=day(4, 2))
    assert (coverage.planned, coverage.done) == (4, 2)


def test_a_building_added_mid_period_is_walked_from_the_next_window() -> None:
    """b4, added to g1 on 15 March, is a target of week 3 alone (weeks 1 and 2 began
    before it was there): 3 weeks x 2 buildings + 1 planned; nobody walked it. Its
    households count towards the month's (added before its end)."""
    doc = {**COMMUNITY_DOC, "areas": {**COMMUNITY_DOC["areas"],
                                      "b4": ["building", "g1", 12, day(3, 15).isoformat()]}}
    areas = Areas.from_doc(doc)
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", plan((day(3, 1), [WALK])), PATROLS,
                             areas, period=MARCH, as_of=day(4, 2))
    assert (coverage.planned, coverage.done) == (7, 4)
    assert coverage.missed[-1].missed == ("b1", "b4")
    assert areas.households({"community": COMMUNITY, "grid": "g1"}, by=MARCH.end) == 37
    assert areas.households({"community": COMMUNITY, "grid": "g1"}, by=day(3, 15)) == 25


def test_a_building_a_rule_lists_is_asked_for_once_it_stands() -> None:
    """A plan dated 1 March lists b4, added on 15 March: weeks 1 and 2 (begun before it
    stood) ask nothing of it, week 3 asks one visit, which nobody made."""
    doc = {**COMMUNITY_DOC, "areas": {**COMMUNITY_DOC["areas"],
                                      "b4": ["building", "g1", 12, day(3, 15).isoformat()]}}
    listed = ["b4 weekly", "weekly", None, ["b4"]]
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", plan((day(3, 1), [listed])), PATROLS,
                             Areas.from_doc(doc), period=MARCH, as_of=day(4, 2))
    assert (coverage.planned, coverage.done) == (1, 0)
    assert [(w.start, w.missed) for w in coverage.missed] == [(day(3, 21), ("b4",))]


def test_no_plan_plans_nothing() -> None:
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", None, PATROLS, AREAS, period=MARCH,
                             as_of=day(4, 2))
    assert (coverage.planned, coverage.done, coverage.share) == (0, 0, None)


def test_a_corrected_coverage_is_read_as_last_corrected() -> None:
    """The view keeps a patrol's visits as last corrected: a patrol recorded with no
    visits and corrected to b2 covers b2 (and is no longer flagged)."""
    empty = patrol("p2", day(3, 15, 10))
    corrected = patrol("p2", day(3, 15, 10), ("b2", ()))
    rules = plan((day(3, 1), [WALK]))
    before = grid_coverage(COMMUNITY, "g1", "Grid 1", rules, [PATROLS[0], empty], AREAS,
                           period=MARCH, as_of=day(4, 2))
    after = grid_coverage(COMMUNITY, "g1", "Grid 1", rules, [PATROLS[0], corrected], AREAS,
                          period=MARCH, as_of=day(4, 2))
    assert (before.planned, before.done) == (6, 2)
    assert (after.planned, after.done) == (6, 3)
    flagged = data_quality([], [], period=MARCH, patrols=[PATROLS[0], empty])
    assert [p.patrol for p in flagged.no_coverage] == ["p2"]
    assert not flagged.is_clean
    assert data_quality([], [], period=MARCH, patrols=[PATROLS[0], corrected]).is_clean


# Hazards ----------------------------------------------------------------------------------


def hazard(key: str, found: datetime, status: str, *, grid: str = "g1",
           severity: str = "moderate", **milestones: datetime) -> Case:
    return Case(key, "hazard", COMMUNITY,
                {"grid": grid, "building": None, "category": "clutter", "severity": severity,
                 "assignee_kind": None}, {"found": found, **milestones}, (), (),
                status=status, reference=f"DH-2022-{key.upper()}")


HAZARDS = [
    # Found in March in g1; rectified after 2, 5 and 10 days.
    hazard("h1", day(3, 1, 9), "verified", rectified=day(3, 3, 9), verified=day(3, 10)),
    hazard("h2", day(3, 2, 9), "closed", rectified=day(3, 7, 9), closed=day(3, 20)),
    hazard("h3", day(3, 5, 9), "rectified", rectified=day(3, 15, 9), due=day(3, 20)),
    # Found in February, verified in February: not finished in March.
    hazard("h4", day(2, 1), "verified", rectified=day(2, 3), verified=day(2, 28)),
    # Found in February, verified in April: not finished in March either.
    hazard("h5", day(2, 2), "verified", rectified=day(3, 30), verified=day(4, 2)),
    # Assigned, due 25 March: 6 days overdue at the end of the 31st.
    hazard("h6", day(3, 6), "assigned", grid="g2", due=day(3, 25)),
    # Open, due after 31 March: not overdue.
    hazard("h7", day(2, 10), "open", due=day(4, 5)),
]


def test_hazards_per_100_households_count_the_hazards_found_in_the_period() -> None:
    """March: h1, h2, h3 in g1 (25 households): 12 per 100; h6 in g2 (8): 12.5; the
    community, 4 of 33 households: 400 / 33."""
    report = hazard_report(HAZARDS, {COMMUNITY: AREAS}, community=COMMUNITY, period=MARCH,
                           as_of=day(4, 1))
    g1, g2 = report.row(grid="g1"), report.row(grid="g2")
    assert (g1.found, g1.households, g1.per_100_households) == (3, 25, 12.0)
    assert (g2.found, g2.households, g2.per_100_households) == (1, 8, 12.5)
    assert report.total.found == 4
    assert report.total.per_100_households == pytest.approx(400 / 33)


def test_share_verified_is_of_the_hazards_finished_in_the_period() -> None:
    """Finished in March: h1 verified (10th), h2 closed unverified (20th): 1 of 2. h4 and
    h5 were finished in February and April."""
    report = hazard_report(HAZARDS, {COMMUNITY: AREAS}, community=COMMUNITY, period=MARCH,
                           as_of=day(4, 3))
    assert (report.total.finished, report.total.verified) == (2, 1)
    assert report.total.share_verified == 0.5


def test_time_to_rectify_goes_through_the_metric_machinery() -> None:
    """found_to_rectified (days, target 7) over h1, h2, h3: 2, 5, 10 days: median 5, p90
    (nearest rank 3 of 3) 10, 2 of 3 within the target."""
    report = hazard_report(HAZARDS, {COMMUNITY: AREAS}, community=COMMUNITY, period=MARCH,
                           as_of=day(4, 1), definitions=[builtin("found_to_rectified")])
    summary = report.row(grid="g1").metric("found_to_rectified")
    assert (summary.cases, summary.measured) == (3, 3)
    assert (summary.median, summary.p90, summary.met) == (5.0, 10.0, 2)
    assert summary.compliance == pytest.approx(2 / 3)
    assert summary.target_met is False


def test_overdue_hazards_are_unrectified_past_their_due() -> None:
    """At the end of 31 March: h6 (due the 25th, assigned) is 7 days overdue; h3 is
    rectified, h7 due in April, the rest finished or without a due."""
    overdue = overdue_hazards(HAZARDS, day(4, 1))
    assert [(o.hazard, o.grid, o.due, o.days_overdue) for o in overdue] == [
        ("h6", "g2", day(3, 25), 7.0)]
    assert overdue[0].reference == "DH-2022-H6"
    assert overdue_hazards(HAZARDS, day(3, 25)) == ()  # due is not yet past at the due


def test_the_built_in_figures_of_a_scope() -> None:
    """The four figures of grid g1 in March, as of 2 April: coverage 5/7, hazards 3 per
    25 households, 1 of 2 finished verified, no overdue."""
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", plan((day(3, 1), [WALK, STORAGE])),
                             PATROLS, AREAS, period=MARCH, as_of=day(4, 2))
    scope = PeacetimeScope(MARCH, day(4, 2), (coverage,),
                           tuple(c for c in HAZARDS if c.dims["grid"] == "g1"), 25)
    figures = {d.name: d.figure(scope, {"grid": "g1"}) for d in PEACETIME}
    assert (figures["patrol_coverage"].numerator, figures["patrol_coverage"].denominator) == (5, 7)
    assert figures["hazards_per_100_households"].value == 12.0
    assert figures["share_verified"].value == 0.5
    assert figures["overdue_hazards"].value == 0.0
    weekly = PeacetimeDefinition("weekly_coverage", "coverage", frequencies=("weekly",))
    assert weekly.figure(scope, {}).value == pytest.approx(4 / 6)


def test_a_definition_is_data() -> None:
    """A figure's definition goes to JSON-ready data and back unchanged; a wrong one is
    refused."""
    custom = PeacetimeDefinition("urgent_per_1000", "per_households", "lower", per=1000,
                                 severities=("high", "critical"))
    data = custom.to_dict()
    assert data["severities"] == ["high", "critical"]
    assert PeacetimeDefinition.from_dict(data) == custom
    for d in PEACETIME:
        assert PeacetimeDefinition.from_dict(d.to_dict()) == d
    with pytest.raises(InvalidInputError):
        PeacetimeDefinition("x", "speed")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        PeacetimeDefinition.from_dict({"name": "x", "kind": "overdue", "per": "100"})
    with pytest.raises(InvalidInputError):
        PeacetimeDefinition.from_dict({"name": "x", "kind": "overdue", "colour": "red"})
    with pytest.raises(InvalidInputError):
        PeacetimeDefinition("x", "coverage", frequencies=("hourly",))


def test_closed_without_verification_is_flagged() -> None:
    """h2 stands closed without verification (rectified first): the data-quality report
    lists it and is not clean."""
    report = data_quality(HAZARDS, [], period=MARCH)
    assert [(h.hazard, h.rectified, h.closed_at) for h in report.closed_unverified] == [
        ("h2", True, day(3, 20))]
    assert not report.is_clean


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40 * 24), st.lists(
    st.tuples(st.sampled_from(["b1", "b1/1", "b1/2", "b2", "b2/1"]),
              st.lists(st.sampled_from(["storage_room", "basement"]), unique=True)),
    max_size=3)), max_size=12),
    st.integers(0, 45 * 24), st.integers(0, 30 * 24))
def test_coverage_is_a_share_and_done_never_exceeds_planned(
        walks: list[tuple[int, list[tuple[str, list[str]]]]], as_of_hours: int,
        revised_hours: int) -> None:
    """Whatever the patrols, the revision and the moment: 0 <= done <= planned per rule
    and in all, coverage in [0, 1] (None only when nothing is planned), a missed window's
    targets among its planned, and the totals the sum of the rules."""
    start = day(3, 1)
    patrols = [patrol(f"p{i}", start + timedelta(hours=h), *visits)
               for i, (h, visits) in enumerate(walks)]
    revised = plan((start, [WALK, STORAGE, ["gate", "daily", None, ["b2"]]]),
                   (start + timedelta(hours=revised_hours), [["walk", "weekly", None, ["b1"]]]))
    coverage = grid_coverage(COMMUNITY, "g1", "Grid 1", revised, patrols, AREAS,
                             period=MARCH, as_of=start + timedelta(hours=as_of_hours))
    assert 0 <= coverage.done <= coverage.planned
    assert (coverage.share is None) == (coverage.planned == 0)
    assert coverage.share is None or 0 <= coverage.share <= 1
    assert coverage.planned == sum(r.planned for r in coverage.rules)
    assert coverage.done == sum(r.done for r in coverage.rules)
    for rule in coverage.rules:
        assert 0 <= rule.done <= rule.planned
    for window in (*coverage.missed, *coverage.pending):
        assert 0 < len(window.missed) <= window.planned
        assert window.start in MARCH
        assert MARCH.end is not None
        assert window.end <= MARCH.end


_STATUSES = st.sampled_from(["open", "assigned", "rectified", "verified", "closed"])


@st.composite
def hazards(draw: st.DrawFn) -> Case:
    """A hazard found in February to April, with the milestones its status implies."""
    found = day(2, 1) + timedelta(hours=draw(st.integers(0, 88 * 24)))
    status = draw(_STATUSES)
    later = [found + timedelta(hours=draw(st.integers(1, 30 * 24))) for _ in range(3)]
    marks: dict[str, datetime] = {}
    if draw(st.booleans()):
        marks["due"] = later[0]
    if status in ("rectified", "verified") or (status == "closed" and draw(st.booleans())):
        marks["rectified"] = later[1]
    if status in ("verified", "closed"):
        marks[status] = max(later[1], later[2])
    made = hazard(draw(st.sampled_from(["a", "b", "c", "d"])) + str(found.timestamp()), found,
                  status, grid=draw(st.sampled_from(["g1", "g2"])))
    return attrs.evolve(made, milestones={**made.milestones, **marks})


@settings(max_examples=80, deadline=None)
@given(st.lists(hazards(), max_size=20), st.integers(0, 100 * 24))
def test_hazard_figures_hold_together(cases: list[Case], as_of_hours: int) -> None:
    """Whatever the hazards: verified <= finished, share verified in [0, 1], the rows add
    up to the total, per 100 households times the households is 100 x found, and an
    overdue hazard is unrectified with its due passed."""
    as_of = day(2, 1) + timedelta(hours=as_of_hours)
    report = hazard_report(cases, {COMMUNITY: AREAS}, community=COMMUNITY, period=MARCH,
                           as_of=as_of)
    for row in (*report.rows, report.total):
        assert 0 <= row.verified <= row.finished
        assert row.share_verified is None or 0 <= row.share_verified <= 1
        assert row.households is not None
        assert row.per_100_households is not None
        assert row.per_100_households * row.households == pytest.approx(100 * row.found)
        assert row.overdue <= row.open
    for name in ("found", "finished", "verified", "open", "overdue"):
        assert sum(getattr(r, name) for r in report.rows) == getattr(report.total, name)
    assert len(report.overdue) == report.total.overdue
    for late in report.overdue:
        assert late.status in ("open", "assigned")
        assert late.due < as_of
        assert late.days_overdue > 0


# Through the engine ---------------------------------------------------------------------

STAFF = Actor("office", Role.COMMUNITY_STAFF)
LEADER = Actor("p-leader", Role.GRID_LEADER)
WORKER = Actor("p-worker", Role.GRID_WORKER)
OTHER = Actor("p-other", Role.GRID_WORKER)


@pytest.fixture
def east(engine: Engine, clock: ManualClock) -> tuple[Engine, UUID, ManualClock]:
    """East as above (no micro-grid: b3 straight in g2), set up on 1 January; its g1 plan
    (weekly walk, monthly storage room of b1) adopted on 1 March, March's patrols and
    hazards recorded on 10 April (so every one is late)."""
    clock.set(day(1, 1))
    communities = engine.communities
    east = communities.register(district="D", subdistrict="S", name="East",
                                actor=STAFF).aggregate_id
    for grid in ("g1", "g2"):
        communities.add_grid(east, grid, f"Grid {grid[1]}", actor=STAFF)
    communities.add_building(east, "b1", "g1", [UnitSpec("1", 10), UnitSpec("2", 10)],
                             actor=STAFF)
    communities.add_building(east, "b2", "g1", [UnitSpec("1", 5)], actor=STAFF)
    communities.add_building(east, "b3", "g2", [UnitSpec("1", 8)], actor=STAFF)
    clock.set(day(4, 10))
    engine.patrols.adopt_plan(east, "g1", [
        PatrolRule("walk", "weekly"),
        PatrolRule("storage", "monthly", "storage_room", ("b1",))],
        actor=LEADER, occurred_at=day(3, 1))
    walks: list[tuple[datetime, list[PatrolVisit | str]]] = [
        (day(3, 8, 10), ["b1", "b2/1"]),
             (day(3, 15, 10), [PatrolVisit("b1/2", ("storage_room",))]),
             (day(3, 27, 23, 30), ["b2"])]
    for start, visits in walks:
        engine.patrols.record(east, grid="g1", ended_at=start + timedelta(minutes=20),
                              visits=visits, actor=WORKER, occurred_at=start)
    return engine, east, clock


def find(engine: Engine, east: UUID, at: datetime, grid: str = "g1",
         building: str = "b1") -> UUID:
    return engine.hazards.find(east, location=Location(grid=grid, building=building),
                               category="clutter", severity="moderate",
                               description="boxes in the stairwell", actor=WORKER,
                               occurred_at=at).aggregate_id


def test_patrol_coverage_from_the_engine_as_of_the_clock(
        east: tuple[Engine, UUID, ManualClock]) -> None:
    """The engine's figures are those worked out above (5 of 7 in g1; g2 has no plan),
    as of the clock's now when not given; a coverage corrected later counts."""
    engine, community, clock = east
    report = engine.reports.patrol_coverage(community, period=MARCH)
    assert report.as_of == clock()
    assert (report.grid("g1").planned, report.grid("g1").done) == (7, 5)
    assert (report.grid("g2").planned, report.grid("g2").share) == (0, None)
    assert (report.planned, report.done) == (7, 5)
    empty = engine.patrols.record(community, grid="g1", ended_at=day(3, 16, 11), actor=WORKER,
                                  occurred_at=day(3, 16, 10)).aggregate_id
    assert [p.patrol for p in engine.data_quality(MARCH).no_coverage] == [str(empty)]
    engine.patrols.correct_coverage(empty, ["b2"], "forgot to tick b2", actor=WORKER)
    assert engine.reports.patrol_coverage(community, period=MARCH).done == 6
    assert engine.data_quality(MARCH).no_coverage == ()
    earlier = engine.reports.patrol_coverage(community, grid="g1", period=MARCH,
                                             as_of=day(3, 25, 12))
    assert (earlier.planned, earlier.done) == (4, 4)  # week 2's b2 by the corrected patrol
    assert [w.missed for w in earlier.grid("g1").pending] == [("b1", "b2")]
    data = to_dict(report)
    assert (data["report"], data["planned"], data["done"]) == ("patrol_coverage", 7, 5)
    assert to_csv(report).splitlines()[0] == "grid,name,rule,frequency,spot,planned,done,share"
    assert "5 of 7" in report.render()
    with language("zh_CN"):
        assert report.render()


def test_hazards_report_from_the_engine(east: tuple[Engine, UUID, ManualClock]) -> None:
    """Three hazards in g1, one in g2; rectified after 2 and 10 days, one verified, one
    closed unverified, one assigned past its due: the figures computed by hand."""
    engine, community, clock = east
    h1, h2 = find(engine, community, day(3, 1, 9)), find(engine, community, day(3, 2, 9))
    h3 = find(engine, community, day(3, 5, 9))
    h4 = find(engine, community, day(3, 6), grid="g2", building="b3")
    engine.hazards.rectify(h1, actor=WORKER, occurred_at=day(3, 3, 9))
    engine.hazards.verify(h1, actor=LEADER, occurred_at=day(3, 10))
    engine.hazards.rectify(h2, actor=WORKER, occurred_at=day(3, 12, 9))
    engine.hazards.close(h2, "owner moved out", actor=LEADER, occurred_at=day(3, 20))
    engine.hazards.assign(h4, assignee_kind="household", assignee="hh-b3-1", due=day(3, 25),
                          actor=LEADER, occurred_at=day(3, 7))
    report = engine.reports.hazards(community, period=MARCH, as_of=day(4, 1),
                                     metrics=["found_to_rectified"])
    g1 = report.row(grid="g1")
    assert (g1.found, g1.households, g1.per_100_households) == (3, 25, 12.0)
    assert (g1.finished, g1.verified, g1.share_verified, g1.open) == (2, 1, 0.5, 1)
    summary = g1.metric("found_to_rectified")
    assert (summary.measured, summary.median, summary.met) == (2, 6.0, 1)  # 2 and 10 days
    assert report.total.per_100_households == pytest.approx(400 / 33)
    assert [(o.hazard, o.days_overdue) for o in report.overdue] == [(str(h4), 7.0)]
    assert report.overdue[0].reference is not None
    only_g1 = engine.reports.hazards(community, grid="g1", period=MARCH, as_of=day(4, 1))
    assert (only_g1.total.found, only_g1.total.households) == (3, 25)
    assert only_g1.overdue == ()
    before = engine.reports.hazards(community, period=MARCH, as_of=day(3, 15))
    assert (before.total.finished, before.total.open) == (1, 3)  # as it stood on the 15th
    data = to_dict(report)
    assert (data["report"], data["total"]["found"]) == ("hazards", 4)
    assert to_csv(report).count("\n") == 3 + 1  # header, g1, g2, total
    assert str(report.overdue[0].reference) in report.render()
    with language("zh_CN"):
        assert report.render()
    quality = engine.data_quality(MARCH)
    assert [h.hazard for h in quality.closed_unverified] == [str(h2)]
    assert not quality.is_clean
    del h3, clock
    with pytest.raises(InvalidInputError):
        engine.reports.hazards(community, by="colour")
    by_category = engine.reports.hazards(community, period=MARCH, as_of=day(4, 1),
                                         by="category")
    clutter = by_category.row(category="clutter")
    assert (clutter.found, clutter.households, clutter.per_100_households) == (4, None, None)
    alone = engine.reports.hazards(period=MARCH, as_of=day(4, 1), by=None)
    assert (alone.rows, alone.total.found, alone.total.households) == ((), 4, 33)


def test_scorecard_and_league_carry_the_peacetime_figures(
        east: tuple[Engine, UUID, ManualClock]) -> None:
    """g1's scorecard carries its coverage (5/7) and hazard figures; a league on coverage
    ranks g1 (7 planned visits: enough with min_sample 5) and lists g2 (nothing planned)
    unranked; on hazard time to rectify through the metric path."""
    engine, community, _ = east
    h1 = find(engine, community, day(3, 1, 9))
    engine.hazards.rectify(h1, actor=WORKER, occurred_at=day(3, 3, 9))
    engine.hazards.verify(h1, actor=LEADER, occurred_at=day(3, 10))
    card = engine.scorecard(community, "g1", MARCH, as_of=day(4, 2))
    assert (card.figure("patrol_coverage").numerator,
            card.figure("patrol_coverage").denominator) == (5, 7)
    assert card.figure("hazards_per_100_households").value == 4.0  # 1 of 25
    assert card.figure("share_verified").value == 1.0
    assert card.figure("overdue_hazards").value == 0
    assert "patrol_coverage 71%" in card.render()
    assert to_dict(card)["peacetime"][0]["name"] == "patrol_coverage"
    league = engine.league_table("patrol_coverage", MARCH, community=community, min_sample=5,
                                 as_of=day(4, 2))
    assert [(r.grid, r.rank, r.graded) for r in league.rows] == [("g1", 1, 7), ("g2", None, 0)]
    assert league.rows[1].note == "not ranked: nothing to grade"
    assert to_dict(league)["definition"]["name"] == "patrol_coverage"
    assert "patrol_coverage" in league.render()
    per_100 = engine.league_table("hazards_per_100_households", MARCH, community=community,
                                  as_of=day(4, 2))
    assert [(r.grid, r.rank) for r in per_100.rows] == [("g2", 1), ("g1", 2)]  # 0 < 4
    rectify = engine.league_table("found_to_rectified", MARCH, community=community,
                                  min_sample=1)
    first = rectify.rows[0]
    assert (first.grid, first.rank, first.summary.median) == ("g1", 1, 2.0)
    assert engine.metrics("found_to_rectified", MARCH).rows[0].median == 2.0
    both = engine.compare(["found_to_rectified", "detection_to_contained"], MARCH)
    assert [len(r.rows) for r in both.reports] == [1, 0]
    with_metric = engine.scorecard(community, "g1", MARCH, metrics=["found_to_rectified"],
                                   as_of=day(4, 2))
    assert with_metric.metric("found_to_rectified").median == 2.0
    verified = engine.league_table("share_verified", MARCH, community=community,
                                   min_sample=2, as_of=day(4, 2))
    assert [(r.grid, r.rank, r.note) for r in verified.rows] == [
        ("g1", None, "not ranked: 1 < 2 finished hazards"),
        ("g2", None, "not ranked: nothing to grade")]
    with language("zh_CN"):
        assert verified.render()


def test_the_peacetime_reports_default_to_the_engine_clock_never_the_wall_clock(
        east: tuple[Engine, UUID, ManualClock]) -> None:
    """Moving the engine's clock back moves the default as_of: at noon on 20 March only
    the week of 7-13 March has ended (both buildings walked); week 2 and the month are
    still in progress."""
    engine, community, clock = east
    clock.set(day(3, 20, 12))
    report = engine.reports.patrol_coverage(community, period=MARCH)
    assert report.as_of == day(3, 20, 12)
    assert (report.planned, report.done) == (2, 2)
