"""The peacetime documents of the ``cases`` view, and hazards read as cases.

A hazard is kept as incidents and orders are (its dimensions as found, its facts, its
corrections, its reference and the reference's index document) and read as a case of
subject ``"hazard"``; a patrol keeps what it covered and when it ended as last corrected
and the hazards found on it; a grid's patrol plan keeps every version of its rules in
the order they took effect; a community's document lists its areas. Folded page by page
on SQLite and PostgreSQL, they are the documents of a fold from scratch, as every view's
(tests/test_projections.py).
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

import histories as hist
from histories import apply_history, setup_world
from resilience import Actor, Engine, InvalidInputError, Location, ManualClock, Role, UnitSpec
from resilience.domain.patrol import PatrolPlan, PatrolRule, PatrolVisit
from resilience.metrics import MetricDefinition, builtin, case_at, case_from_doc
from resilience.metrics.definitions import HAZARD_BUILT_IN, CaseFilter
from resilience.metrics.milestones import HAZARD_MILESTONES, MILESTONES, START
from resilience.projections.base import Doc
from resilience.projections.indexes import case_until
from resilience.services.core import FactService
from test_metrics_oracle import (
    OracleCase,
    cycle_milestones,
    cycles,
    earliest,
    happened,
    latest,
    read_facts,
    reopenings,
)
from test_projections import _settings, fresh_url, logged, reference, snapshot

from conftest import T0, require_postgres

STAFF = Actor("desk", Role.COMMUNITY_STAFF)
WORKER = Actor("grid-worker", Role.GRID_WORKER)
CHECKER = Actor("checker", Role.COMMUNITY_STAFF)
SHARED = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def engine(clock: ManualClock) -> Iterator[Engine]:
    """An engine in memory, at the conftest's manual clock, without a policy."""
    with Engine("memory:", clock=clock, policy=None) as opened:
        yield opened


def _community(engine: Engine) -> UUID:
    """A community of grid g1, its building g1-b of units 1 (10 households) and 2 (5)."""
    community = engine.communities.register(
        district="Wuchang", subdistrict="Donghu", name="Donghu", actor=STAFF,
        code="DH").aggregate_id
    engine.communities.add_grid(community, "g1", "Grid 1", actor=STAFF)
    engine.communities.add_building(community, "g1-b", "g1",
                                    [UnitSpec("1", 10), UnitSpec("2", 5)], actor=STAFF)
    return community


def _cases(engine: Engine) -> dict[str, Doc]:
    engine.views.catch_up()
    return engine.views.documents("cases")


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


_OTHERS = (builtin("placed_to_completed"), builtin("detection_to_contained"))
"""Definitions of other subjects: never applied to a hazard."""


class _PlanTimes(FactService[PatrolPlan]):
    """Time corrections of a patrol plan's facts (engine.patrols corrects a patrol's)."""

    aggregate_class = PatrolPlan
    name = "patrols"


def _worked(engine: Engine, clock: ManualClock) -> tuple[UUID, UUID, UUID, UUID]:
    """A plan adopted and revised, a patrol, a hazard found on it and fixed; a second
    hazard reported apart. (community, plan, patrol, hazard)."""
    community = _community(engine)
    clock.advance(timedelta(hours=1))  # now T0 + 1 h
    plan = engine.patrols.adopt_plan(
        community, "g1", [PatrolRule("every building", "weekly")], actor=STAFF,
        occurred_at=_at(0.5)).aggregate_id
    engine.patrols.adopt_plan(
        community, "g1", [PatrolRule("every building", "weekly"),
                          PatrolRule("storage rooms", "monthly", "storage_room", ("g1-b",))],
        actor=STAFF, reason="after the fire", occurred_at=_at(0.75))
    patrol = engine.patrols.record(
        community, grid="g1", ended_at=_at(0.9), visits=["g1-b/1"], findings="clutter",
        actor=WORKER, occurred_at=_at(0.8)).aggregate_id
    hazard = engine.hazards.find(
        community, location=Location(grid="g1", building="g1-b", unit="1", floor=3,
                                     description="by the stairs"),
        category="clutter", severity="high", description="boxes in the storage room",
        actor=WORKER, patrol_id=patrol, occurred_at=_at(0.85)).aggregate_id
    clock.advance(timedelta(hours=1))  # T0 + 2 h
    engine.hazards.assign(hazard, assignee_kind="property_company", assignee="p-prop",
                          due=_at(26), actor=STAFF)
    clock.advance(timedelta(hours=20))  # T0 + 22 h
    engine.hazards.rectify(hazard, "cleared", actor=WORKER)
    clock.advance(timedelta(hours=2))  # T0 + 24 h
    engine.hazards.verify(hazard, "checked", actor=CHECKER)
    engine.hazards.find(community, location=Location(grid="g1"), category="gas",
                        severity="low", description="smell", actor=STAFF)
    return community, plan, patrol, hazard


def test_a_hazard_found_on_a_patrol_is_kept_with_its_place_facts_and_reference(
        engine: Engine, clock: ManualClock) -> None:
    """The hazard's document: where and what, as found, its patrol, its facts (with what
    cases measure of them, and nothing personal) and its reference's index document."""
    community, _, patrol, hazard = _worked(engine, clock)
    docs = _cases(engine)
    doc = docs[str(hazard)]
    facts = doc.pop("facts")
    assert doc == {
        "kind": "hazard", "community": str(community), "at": _at(0.85).timestamp(),
        "grid": "g1", "building": "g1-b", "unit": "1", "floor": 3, "category": "clutter",
        "severity": "high", "patrol": str(patrol), "corrections": [],
        "reference": "DH-2022-H0001"}
    assert [fact[0] for fact in facts] == ["Found", "Assigned", "Rectified", "Verified"]
    assert [fact[1] for fact in facts] == [
        _at(h).isoformat() for h in (0.85, 2, 22, 24)]
    assert [fact[3] for fact in facts] == [
        None, {"assignee_kind": "property_company", "due": _at(26).isoformat()}, None, None]
    assert [fact[4] for fact in facts] == ["grid-worker", "desk", "grid-worker", "checker"]
    assert "boxes" not in str(facts)  # personal data: not kept
    assert "stairs" not in str(facts)
    assert docs[f"{community}/reference/DH-2022-H0001"] == {
        "kind": "reference", "community": str(community), "id": str(hazard),
        "case": "hazard"}
    other = [d for d in docs.values() if d["kind"] == "hazard" and d["category"] == "gas"]
    assert [(d["patrol"], d["building"], d["reference"]) for d in other] == [
        (None, None, "DH-2022-H0002")]


def test_a_patrol_a_plan_and_the_communitys_areas_are_kept(engine: Engine,
                                                          clock: ManualClock) -> None:
    """The patrol's coverage, end and the hazards found on it; each version of the plan
    in force from its time; every area of the community with its households."""
    community, plan, patrol, hazard = _worked(engine, clock)
    docs = _cases(engine)
    walked = docs[str(patrol)]
    assert [fact[0] for fact in walked.pop("facts")] == ["Recorded"]
    assert walked == {
        "kind": "patrol", "community": str(community), "at": _at(0.8).timestamp(),
        "grid": "g1", "ended": _at(0.9).isoformat(), "visits": [["g1-b/1", []]],
        "hazards": [str(hazard)], "corrections": []}
    recorded = _at(1).isoformat()
    assert docs[str(plan)] == {
        "kind": "patrol_plan", "community": str(community), "grid": "g1",
        "at": _at(0.5).timestamp(), "fact_versions": [1, 2], "versions": [
            [_at(0.5).isoformat(), recorded, [["every building", "weekly", None, []]]],
            [_at(0.75).isoformat(), recorded,
             [["every building", "weekly", None, []],
              ["storage rooms", "monthly", "storage_room", ["g1-b"]]]]]}
    added = T0.isoformat()
    assert docs[str(community)]["areas"] == {
        "g1": ["grid", None, 0, added], "g1-b": ["building", "g1", 15, added],
        "g1-b/1": ["unit", "g1-b", 10, added], "g1-b/2": ["unit", "g1-b", 5, added]}


def test_corrections_move_what_they_correct(engine: Engine, clock: ManualClock) -> None:
    """A patrol's coverage and end as last corrected, its start and a hazard's finding as
    corrected (the document's ``at`` too), a plan's revision moved before another in the
    order they take effect, an area's time as its fact's corrected time."""
    community, plan, patrol, hazard = _worked(engine, clock)
    engine.patrols.correct_coverage(
        patrol, [PatrolVisit("g1-b", ("storage_room", "basement")), "g1-b/2"],
        "the sheet had two pages", actor=STAFF)
    engine.patrols.correct_end(patrol, _at(0.95), "the sheet", actor=STAFF)
    engine.patrols.correct_end(patrol, _at(0.92), "the sheet again", actor=STAFF)
    engine.patrols.correct_time(patrol, 1, _at(0.7), "the sheet", actor=STAFF)
    engine.hazards.correct_time(hazard, 1, _at(0.82), "the photo's time", actor=STAFF)
    engine.patrols.adopt_plan(community, "g1", [PatrolRule("daily", "daily")], actor=STAFF,
                              reason="tried daily", occurred_at=_at(0.8))
    plans = _PlanTimes(engine.patrols._store)
    plans.correct_time(plan, 3, _at(0.6), "tried earlier", actor=STAFF)
    plans.correct_time(plan, 1, _at(0.4), "adopted earlier", actor=STAFF)
    engine.communities.correct_time(community, 3, T0 - timedelta(days=1), "built earlier",
                                    actor=STAFF)
    docs = _cases(engine)
    walked = docs[str(patrol)]
    assert walked["visits"] == [["g1-b", ["storage_room", "basement"]], ["g1-b/2", []]]
    assert walked["ended"] == _at(0.92).isoformat()
    assert walked["at"] == _at(0.7).timestamp()
    assert walked["facts"][0][1] == _at(0.7).isoformat()
    assert [c[1:4] for c in walked["corrections"]] == [[1, "Recorded", "time"]]
    found = docs[str(hazard)]
    assert (found["at"], found["facts"][0][1]) == (_at(0.82).timestamp(),
                                                     _at(0.82).isoformat())
    assert found["corrections"] == [[5, 1, "Found", "time", "the photo's time",
                                     _at(0.85).isoformat(), _at(0.82).isoformat()]]
    versions = docs[str(plan)]
    assert versions["fact_versions"] == [1, 3, 2]
    assert [v[0] for v in versions["versions"]] == [
        _at(h).isoformat() for h in (0.4, 0.6, 0.75)]
    assert versions["versions"][1][2] == [["daily", "daily", None, []]]
    assert versions["at"] == _at(0.4).timestamp()
    areas = docs[str(community)]["areas"]
    earlier = (T0 - timedelta(days=1)).isoformat()
    assert {area: entry[3] for area, entry in areas.items()} == {
        "g1": T0.isoformat(), "g1-b": earlier, "g1-b/1": earlier, "g1-b/2": earlier}


def test_a_hazard_is_read_as_a_case(engine: Engine, clock: ManualClock) -> None:
    """Its status, dimensions (the standing assignee's kind), milestones (the standing
    due date read off its assignment), cycles cut by a reopening, and amendments: a
    correction recorded once it was verified, never a link."""
    community, _, _, hazard = _worked(engine, clock)
    case = case_from_doc(str(hazard), _cases(engine)[str(hazard)])
    assert (case.subject, case.status, case.community, case.finished) == (
        "hazard", "verified", str(community), True)
    assert case.dims == {"grid": "g1", "building": "g1-b", "category": "clutter",
                         "severity": "high", "assignee_kind": "property_company"}
    assert case.milestones == {"found": _at(0.85), "assigned": _at(2), "due": _at(26),
                               "rectified": _at(22), "verified": _at(24)}
    assert (case.start, case.reference) == (_at(0.85), "DH-2022-H0001")
    order = engine.orders.place(community, household_id="hh", area_id="g1-b/1",
                                category="home", item="repair", actor=STAFF).aggregate_id
    engine.hazards.link_order(hazard, order, actor=STAFF)
    engine.hazards.correct_time(hazard, 3, _at(21), "the log", actor=STAFF)
    clock.advance(timedelta(hours=1))  # T0 + 25 h
    engine.hazards.reopen(hazard, "boxes back", actor=CHECKER)
    clock.advance(timedelta(hours=1))  # T0 + 26 h
    engine.hazards.assign(hazard, assignee_kind="household", assignee="hh-7", due=_at(30),
                          actor=STAFF)
    again = case_from_doc(str(hazard), _cases(engine)[str(hazard)])
    assert (again.status, again.finished, again.reopened) == ("assigned", False, 1)
    assert again.milestones == {"found": _at(0.85), "assigned": _at(2), "due": _at(30),
                                "reopened": _at(25)}
    assert again.dims["assignee_kind"] == "household"
    assert again.cycles == ({"rectified": _at(21), "verified": _at(24)},
                            {"reopened": _at(25)})
    assert [(a.fact, a.what) for a in again.amendments] == [
        ("Rectified", f"time corrected from {_at(22).isoformat()} to {_at(21).isoformat()}")]


def test_a_hazard_on_both_time_axes(engine: Engine, clock: ManualClock) -> None:
    """As of a moment: the facts that had happened by then; as known at a moment: those
    recorded by then. The views' ``until`` is when it stands finished, for every ``as_of``
    cut; none once reopened."""
    _, _, _, hazard = _worked(engine, clock)
    clock.advance(timedelta(hours=4))  # T0 + 28 h: a late note, dated at 23 h
    engine.hazards.add_note(hazard, "owner told", actor=STAFF, occurred_at=_at(23))
    doc = _cases(engine)[str(hazard)]
    key = str(hazard)
    before = case_at(key, doc, as_of=_at(10))
    assert before is not None
    assert (before.status, set(before.milestones)) == ("assigned", {"found", "assigned", "due"})
    assert case_at(key, doc, as_of=_at(0.5)) is None  # not found yet
    rectified = case_at(key, doc, as_of=_at(23))
    assert rectified is not None
    assert rectified.status == "rectified"
    assert [f.name for f in rectified.facts][-1] == "NoteAdded"
    known = case_at(key, doc, known_at=_at(25))
    assert known is not None
    assert known.status == "verified"
    assert "NoteAdded" not in [f.name for f in known.facts]
    assert [f.name for f in case_from_doc(key, doc).facts].count("NoteAdded") == 1
    assert case_until(doc) == _at(24).timestamp()
    engine.hazards.reopen(hazard, "back", actor=CHECKER)
    assert case_until(_cases(engine)[key]) is None
    assert engine.views.select("cases", "hazard", until_after=_at(100).timestamp())


def test_the_hazard_metrics_are_definitions_like_any_other(engine: Engine,
                                                          clock: ManualClock) -> None:
    """Built in by name, measured on hazard cases; a hazard definition is checked as any
    (its milestones, statuses; no outcomes nor closures)."""
    _, _, _, hazard = _worked(engine, clock)
    case = case_from_doc(str(hazard), _cases(engine)[str(hazard)])
    measured = {d.name: d.measure(case) for d in HAZARD_BUILT_IN if d.applies(case)}
    assert measured == {"found_to_rectified": pytest.approx(21.15 / 24),
                        "found_to_rectified_urgent": pytest.approx(21.15),
                        "rectified_to_verified": pytest.approx(2 / 24),
                        "rectified_vs_due": -4.0}
    assert builtin("rectified_vs_due").target == 0
    assert not builtin("found_to_rectified_urgent").applies_to.admits(
        case_from_doc(str(hazard), {**_cases(engine)[str(hazard)], "severity": "low"}))
    assert not any(d.applies(case) for d in _OTHERS)
    assert START["hazard"] == "found"
    assert MILESTONES["hazard"] is HAZARD_MILESTONES
    assert set(HAZARD_MILESTONES) == {"found", "assigned", "due", "rectified", "verified",
                                      "closed", "reopened"}
    refused: list[dict[str, Any]] = [
        {"start": "found", "end": "completed"},
        {"applies_to": CaseFilter(exclude_statuses=("cancelled",))},
        {"applies_to": CaseFilter(exclude_outcomes=("fixed",))},
        {"applies_to": CaseFilter(exclude_closures=("false_alarm",))},
        {"applies_to": CaseFilter(requires=("contained",))}]
    for wrong in refused:
        fields = {"name": "m", "subject": "hazard", "start": "found", "end": "rectified",
                  **wrong}
        with pytest.raises(InvalidInputError, match="hazard"):
            MetricDefinition(**fields)
    kept = MetricDefinition("open_to_verified", "hazard", "found", "verified", "d",
                            applies_to=CaseFilter(exclude_statuses=("closed",)),
                            per="case")
    assert MetricDefinition.from_json(kept.to_json()) == kept
    with pytest.raises(InvalidInputError, match="'incident', 'order' or 'hazard'"):
        MetricDefinition("m", "patrol", "found", "rectified")  # type: ignore[arg-type]


PEACETIME = st.lists(st.one_of(hist.new_patrol, hist.patrol_step, hist.plan, hist.new_hazard,
                               hist.hazard_step, hist.peace_correction, hist.advance,
                               hist.new_order, hist.new_incident),
                     min_size=1, max_size=30)
"""Histories mostly of patrols, plans and hazards (with orders and incidents to link)."""


@pytest.mark.parametrize("kind", SHARED)
def test_peacetime_documents_folded_in_pages_equal_a_rebuild_and_a_fold_from_scratch(
        kind: str, tmp_path: Path) -> None:
    """Caught up at random points in pages of any size, on a shared store: the documents
    of a rebuild and of the projections folding the log alone; one document per hazard,
    patrol and plan recorded."""
    if kind == "postgres":
        require_postgres()

    @_settings(kind)
    @given(steps=PEACETIME, page_size=st.integers(min_value=1, max_value=7), data=st.data())
    def check(steps: list[tuple[Any, ...]], page_size: int, data: DataObject) -> None:
        clock = ManualClock(T0)
        with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as engine:
            views = engine.views
            views.page_size = page_size
            world = setup_world(engine, clock)
            for entry in steps:
                apply_history(engine, clock, world, [entry])
                if data.draw(st.booleans(), label="catch up now"):
                    views.catch_up()
            views.catch_up()
            incremental = snapshot(engine)
            assert incremental == reference(engine)
            cases = incremental["cases"]
            for kind_of, made in (("hazard", world.hazards), ("patrol", world.patrols),
                                  ("patrol_plan", world.plans)):
                assert {k for k, d in cases.items() if d["kind"] == kind_of} == {
                    str(i) for i in made}
            for key in world.patrols:
                listed = cases[str(key)]["hazards"]
                assert listed == [str(h) for h in world.hazards
                                  if cases[str(h)]["patrol"] == str(key)]
            assert views.rebuild() == logged(engine)
            assert snapshot(engine) == incremental

    check()


# An oracle of hazards, patrols and plans -------------------------------------------------

HAZARD_MOVES = {"Found": "open", "Assigned": "assigned", "Rectified": "rectified",
                "Verified": "verified", "Closed": "closed", "Reopened": "open"}
"""A hazard's status after each of its moves."""


def hazard_case(key: str, engine: Engine, hazard: UUID) -> OracleCase:
    """A hazard as docs/metrics.md describes it, read plainly from its facts: found; the
    earliest assignment; the standing (latest) assignment's due date and assignee kind;
    the earliest reopening; the latest rectification, verification and closure of the
    last cycle; the status its last move left it in."""
    facts = read_facts(engine, hazard)
    found = facts[0].event
    milestones = {"found": facts[0].at}
    if (first := earliest(facts, "Assigned")) is not None:
        milestones["assigned"] = first.at
    standing = latest(facts, "Assigned")
    if standing is not None:
        milestones["due"] = standing.event.due
    if later := reopenings(facts):
        milestones["reopened"] = later[0].at
    ends = {"rectified": "Rectified", "verified": "Verified", "closed": "Closed"}
    milestones |= cycle_milestones(None, cycles(facts)[-1][1], {}, ends)
    last_move = max((f for f in facts if f.name in HAZARD_MOVES), key=happened)
    return OracleCase(
        key, "hazard", str(found.community_id),
        {"grid": found.location.grid, "building": found.location.building,
         "category": found.category.value, "severity": found.severity.value,
         "assignee_kind": None if standing is None else standing.event.assignee_kind.value},
        False, milestones, facts, len(later), None, None, HAZARD_MOVES[last_move.name],
        [cycle_milestones(start, cycle, {}, ends) for start, cycle in cycles(facts)])


def patrol_doc(engine: Engine, patrol: UUID, hazards: list[UUID]) -> dict[str, Any]:
    """What a patrol's document says of it, plainly: its coverage and end as last
    corrected, its start as corrected, the hazards found on it in the order recorded."""
    facts = read_facts(engine, patrol)
    visits = [f.event.visits for f in facts if f.name in ("Recorded", "CoverageCorrected")]
    ended = [f.event.ended_at for f in facts if f.name in ("Recorded", "EndCorrected")]
    return {"at": facts[0].at.timestamp(), "ended": ended[-1].isoformat(),
            "visits": [[v.area, list(v.spots)] for v in visits[-1]],
            "hazards": [str(h) for h in hazards if read_facts(engine, h)[0].event.patrol_id
                        == patrol]}


def plan_versions(engine: Engine, plan: UUID) -> list[list[Any]]:
    """A plan's versions in the order they took effect, their rules as the view keeps them."""
    facts = sorted((f for f in read_facts(engine, plan) if f.name in ("Adopted", "Revised")),
                   key=happened)
    return [[f.at.isoformat(), f.recorded.isoformat(),
             [[r.name, r.frequency.value, r.spot, list(r.areas)] for r in f.event.rules]]
            for f in facts]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=PEACETIME)
def test_the_views_read_hazards_patrols_and_plans_as_the_oracle_does(
        steps: list[tuple[Any, ...]]) -> None:
    """Every hazard read as a case (dimensions, milestones, status, reopenings, cycles),
    every patrol and every plan of a random history, against the plain oracle above."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        world = apply_history(engine, clock, setup_world(engine, clock), steps)
        docs = _cases(engine)
        for hazard in world.hazards:
            key = str(hazard)
            want, got = hazard_case(key, engine, hazard), case_from_doc(key, docs[key])
            assert got.dims == want.dims
            assert got.milestones == want.milestones
            assert (got.status, got.reopened) == (want.status, want.reopened)
            assert [dict(c) for c in got.cycles] == want.cycles
            assert got.finished == (want.status in ("verified", "closed"))
        for patrol in world.patrols:
            doc = docs[str(patrol)]
            assert {k: doc[k] for k in ("at", "ended", "visits", "hazards")} == patrol_doc(
                engine, patrol, world.hazards)
        for plan in world.plans:
            assert docs[str(plan)]["versions"] == plan_versions(engine, plan)
