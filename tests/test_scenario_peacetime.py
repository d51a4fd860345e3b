"""Scenario files record patrols, patrol plans and hazards (issue 16): a hazard's key names
it to later entries and to the links that name it; a find names the patrol it was made
on; a grid's plan is adopted by the community's entry ``adopt_plan``. What the file gets
wrong is a ScenarioError naming the entry and its line, and nothing is recorded."""

import json
from typing import Any

import pytest

from resilience import Engine, ScenarioError
from resilience.domain.hazard import HazardStatus
from resilience.domain.patrol import Frequency, PatrolRule, PatrolVisit
from resilience.scenario import parse_scenario, replay
from resilience.scenarios import DONGHU_FIRE
from test_scenario_schema import valid

STAFF = {"actor": "office-duty", "as": "community_staff"}
LEADER = {"actor": "zhang", "as": "grid_leader"}
SETUP: list[dict[str, Any]] = [
    {"do": "register", "at": "2022-01-10T09:00", "code": "DH", **STAFF},
    {"do": "add_grid", "at": "2022-01-10T09:00", "grid_id": "3", **STAFF},
    {"do": "add_grid", "at": "2022-01-10T09:00", "grid_id": "4", **STAFF},
    {"do": "add_building", "at": "2022-01-10T09:00", "building_id": "30", "parent": "3",
     "units": [{"unit_id": "1", "households": 24}, {"unit_id": "2", "households": 24}],
     **STAFF},
    {"do": "add_building", "at": "2022-01-10T09:00", "building_id": "41", "parent": "4",
     "units": [{"unit_id": "1", "households": 12}], **STAFF},
]
PLAN: dict[str, Any] = {"do": "adopt_plan", "at": "2022-01-11T09:00", "grid": "3", "rules": [
    {"name": "every building weekly", "frequency": "weekly"},
    {"name": "storage rooms monthly", "frequency": "monthly", "spot": "storage_room"}],
    **LEADER}
PATROL: dict[str, Any] = {"do": "record", "patrol": "walk-1", "at": "2022-02-18T09:00",
          "ended_at": "2022-02-18T10:30", "grid": "3",
          "visits": [{"area": "30", "spots": ["storage_room", "basement"]}, "30/1"],
          "findings": "clutter in the storage rooms", **LEADER}
FIND: dict[str, Any] = {"do": "find", "hazard": "clutter", "patrol": "walk-1", "label": "found",
        "at": "2022-02-18T09:40", "location": {"building": "30", "unit": "1", "floor": -1,
                                               "description": "storage rooms"},
        "category": "clutter", "severity": "moderate", "description": "boxes piled high",
        "photo": "b30.jpg", **LEADER}
LIFE: list[dict[str, Any]] = [
    {"do": "assign", "hazard": "clutter", "at": "2022-02-18T11:00",
     "assignee_kind": "property_company", "assignee": "Property service centre",
     "due": "2022-02-25T18:00", **STAFF},
    {"do": "rectify", "hazard": "clutter", "at": "2022-02-23T16:00", "note": "cleared",
     "actor": "qian", "as": "provider"},
    {"do": "verify", "hazard": "clutter", "at": "2022-02-24T10:00", "note": "clear",
     "actor": "sun", "as": "grid_worker"},
]


def document(actions: list[dict[str, Any]], name: str = "peacetime") -> str:
    return json.dumps({
        "format": "resilience.scenario", "version": 1, "name": name,
        "timezone": "Asia/Shanghai",
        "community": {"district": "D", "subdistrict": "S", "name": "Peace Community"},
        "actions": actions}, indent=1)


def test_a_patrol_its_plan_and_a_hazard_tracked_to_a_verified_fix(store_url: str) -> None:
    """On every store: the plan, the patrol (visits as objects and as area ids), the
    hazard found on it (its reference on the receipt), assigned, rectified and verified by
    someone else; replayed again, nothing is recorded and the same facts are counted."""
    text = document([*SETUP, PLAN, PATROL, FIND, *LIFE])
    with Engine(store_url) as engine:
        result = replay(engine, parse_scenario(text))
        hazard = engine.hazards.get(result.hazards["clutter"])
        patrol = engine.patrols.get(result.patrols["walk-1"])
        assert hazard.patrol_id == patrol.id
        assert hazard.status is HazardStatus.VERIFIED
        assert hazard.reference == "DH-2022-H0001"
        assert hazard.rectified_by == "qian"
        assert (hazard.location.grid, hazard.location.building, hazard.location.unit) == (
            "3", "30", "1")
        assert patrol.visits == (PatrolVisit("30", ("storage_room", "basement")),
                                 PatrolVisit("30/1"))
        plan = engine.patrols.plan(result.community_id, "3")
        assert plan is not None
        assert plan.rules == (PatrolRule("every building weekly", Frequency.WEEKLY),
                              PatrolRule("storage rooms monthly", Frequency.MONTHLY,
                                         "storage_room"))
        find_receipt = result.receipts[len(SETUP) + 2]
        assert find_receipt.reference == "DH-2022-H0001"
        assert result.events_recorded == result.facts
        again = replay(engine, parse_scenario(text))
        assert again.events_recorded == 0
        assert again.facts == result.facts


def test_links_name_the_other_side_by_its_key_and_record_both_sides() -> None:
    """link_order, link_improvement and link_incident name the hazard and the order, item
    or incident by their keys; each side knows the other; the other side counts among the
    replay's facts."""
    incident = {"do": "report", "incident": "fire-1", "at": "2022-02-20T15:00",
                "incident_type": "fire", "severity": "high", "location": {"building": "30"},
                "description": "smoke from the storage room", **LEADER}
    order = {"do": "place", "order": "skip", "at": "2022-02-18T12:00", "household_id": "h-1",
             "area_id": "30/1", "category": "home", "item": "repair",
             "actor": "h-1", "as": "resident"}
    item = {"do": "plan_improvement", "improvement": "storage-check", "incident": "fire-1",
            "at": "2022-02-21T10:00", "action": "add storage rooms to the monthly check",
            "owner": "zhang", "due": "2022-03-15T18:00", "grid": "3", **STAFF}
    links = [
        {"do": "link_order", "hazard": "clutter", "order": "skip", "at": "2022-02-18T12:05",
         **STAFF},
        {"do": "link_incident", "hazard": "clutter", "incident": "fire-1",
         "at": "2022-02-20T16:00", **STAFF},
        {"do": "link_improvement", "hazard": "clutter", "improvement": "storage-check",
         "at": "2022-02-21T10:05", **STAFF},
    ]
    text = document([*SETUP, PATROL, FIND, order, links[0], incident, links[1], item,
                     links[2]])
    with Engine("memory:") as engine:
        result = replay(engine, parse_scenario(text))
        hazard = engine.hazards.get(result.hazards["clutter"])
        assert hazard.orders == {result.orders["skip"]}
        assert hazard.incidents == {result.incidents["fire-1"]}
        assert hazard.items == {result.improvements["storage-check"]}
        assert engine.orders.get(result.orders["skip"]).hazard_id == hazard.id
        assert engine.incidents.get(result.incidents["fire-1"]).hazard_id == hazard.id
        assert engine.improvements.get(result.improvements["storage-check"]).hazard_id \
            == hazard.id
        assert result.facts_beside_receipts == 3
        assert result.events_recorded == result.facts


def test_corrections_and_notes_on_hazards_and_patrols() -> None:
    """A hazard's time corrected by its label, a note on each, a patrol's coverage and end
    corrected, the plan revised with a reason."""
    entries: list[dict[str, Any]] = [
        {"do": "correct_time", "hazard": "clutter", "corrects": "found",
         "at": "2022-02-18T12:00", "corrected_to": "2022-02-18T09:35", "reason": "photo time",
         **STAFF},
        {"do": "add_note", "hazard": "clutter", "at": "2022-02-18T12:10", "text": "owners told",
         **STAFF},
        {"do": "correct_coverage", "patrol": "walk-1", "at": "2022-02-18T12:20",
         "visits": ["30", "30/2"], "reason": "unit 2 too", **LEADER},
        {"do": "correct_end", "patrol": "walk-1", "at": "2022-02-18T12:30",
         "ended_at": "2022-02-18T10:45", "reason": "walked on", **LEADER},
        {"do": "add_note", "patrol": "walk-1", "at": "2022-02-18T12:40", "text": "dry day",
         **LEADER},
        {**PLAN, "at": "2022-03-01T09:00", "rules": [
            {"name": "every building weekly", "frequency": "weekly", "areas": ["30"]}],
         "reason": "storage rooms now on the weekly walk"},
    ]
    with Engine("memory:") as engine:
        result = replay(engine, parse_scenario(document([*SETUP, PLAN, PATROL, FIND,
                                                         *entries])))
        hazard = engine.hazards.get(result.hazards["clutter"])
        assert hazard.found_at.isoformat() == "2022-02-18T09:35:00+08:00"
        patrol = engine.patrols.get(result.patrols["walk-1"])
        assert patrol.visits == (PatrolVisit("30"), PatrolVisit("30/2"))
        assert patrol.ended_at.isoformat() == "2022-02-18T10:45:00+08:00"
        plan = engine.patrols.plan(result.community_id, "3")
        assert plan is not None
        assert [rule.name for rule in plan.rules] == ["every building weekly"]
        assert plan.rules[0].areas == ("30",)


def _refused(actions: list[dict[str, Any]], match: str, entry: int) -> None:
    """The file is refused naming ``entry`` and its line; nothing of it is recorded."""
    with Engine("memory:") as engine:
        with pytest.raises(ScenarioError, match=match) as raised:
            replay(engine, parse_scenario(document(actions)))
        assert raised.value.entry == entry
        assert raised.value.line is not None
        assert engine.app.recorder.max_notification_id() in (None, 0)


BEFORE = [*SETUP, PLAN, PATROL]
AFTER = len(BEFORE) + 1  # the entry number of the one after them


REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"do": "verify", "at": "2022-02-18T10:00", **STAFF},
     "verify needs a 'hazard': a key naming the hazard"),
    ({"do": "correct_end", "at": "2022-02-18T10:00", "ended_at": "2022-02-18T11:00",
      "reason": "r", **STAFF}, "correct_end needs a 'patrol'"),
    ({"do": "link_order", "hazard": "clutter", "at": "2022-02-18T10:00", **STAFF},
     "link_order names the 'hazard' and the 'order' it links to it"),
    ({**FIND, "incident": "fire-1"}, r"an action on a 'hazard' names no 'incident' besides it"),
    ({"do": "rectify", "hazard": "clutter", "patrol": "walk-1", "at": "2022-02-18T10:00",
      **STAFF}, "names no 'patrol' besides it"),
    ({"do": "dispatch", "patrol": "walk-1", "at": "2022-02-18T10:00", **STAFF},
     "unknown patrol command 'dispatch'"),
    ({"do": "verify", "hazard": "nowhere", "at": "2022-02-18T10:00", **STAFF},
     "no hazard 'nowhere' was found in this file nor before it in the store"),
    ({**FIND, "patrol": "no-walk"},
     "patrol 'no-walk' was not recorded in this file nor before it in the store"),
    ({**PATROL, "patrol": "walk-2", "visits": "30"}, "malformed visits: must be a list"),
    ({**PATROL, "patrol": "walk-2", "visits": [30]}, r"malformed visits\[0\]: an area id"),
    ({**PATROL, "patrol": "walk-2", "visits": [{"area": "30", "spot": ["basement"]}]},
     r"malformed visits: .*extra fields found \(spot\)"),
    ({**PLAN, "rules": {"name": "weekly"}}, "malformed rules: must be a list"),
    ({**PLAN, "rules": [{"name": "weekly", "frequency": "fortnightly"}]}, "malformed rules"),
    ({**FIND, "hazard": ""}, "'hazard' must be a non-empty key string"),
    ({**PATROL, "patrol": 7}, "'patrol' must be a non-empty key string"),
    ({**FIND, "colour": "red"}, "find: unknown argument 'colour'"),
]
"""Entries the replay refuses after BEFORE, and what it says."""
STORE_ONLY = frozenset({6, 7})
"""Those of REFUSED (by position) only the store can tell wrong (a key nothing created):
the JSON Schema refuses every other, for its shape."""


@pytest.mark.parametrize(("entry", "match"), REFUSED)
def test_an_entry_the_replay_cannot_take_is_named_and_nothing_recorded(
        entry: dict[str, Any], match: str) -> None:
    _refused([*BEFORE, entry], match, AFTER)


def test_the_schema_takes_the_peacetime_files_and_refuses_their_misshapen_entries() -> None:
    """tools/scenario_schema.py's schema, regenerated from engine.hazards and
    engine.patrols: every file of this module valid; each entry refused above for its
    shape (a missing or extra key, a malformed visit or rule) invalid."""
    assert valid(json.loads(document([*SETUP, PLAN, PATROL, FIND, *LIFE])))
    for at, (entry, _match) in enumerate(REFUSED):
        assert valid(json.loads(document([*BEFORE, entry]))) is (at in STORE_ONLY), entry


def test_a_hazard_verified_by_whoever_rectified_it_is_refused() -> None:
    """The domain's rule, said as the file's mistake (entry and line), recording nothing."""
    rectified_by_sun = {**LIFE[1], "actor": "sun", "as": "grid_worker"}
    _refused([*BEFORE, FIND, LIFE[0], rectified_by_sun, LIFE[2]],
             "verify: .*someone other than", AFTER + 3)


def test_a_patrol_visiting_another_grids_building_is_refused() -> None:
    """The service checks the visits against the community: building 41 is grid 4's."""
    _refused([*SETUP, {**PATROL, "visits": ["41"]}], "record: ", len(SETUP) + 1)


def test_the_shipped_demo_records_the_storage_room_hazard_and_grid_3s_plan() -> None:
    """The Donghu scenario, after the fire: the clutter found on the grid leader's patrol,
    assigned to the property company, rectified by its person and verified by the grid
    worker; grid 3's plan asks for storage rooms and basements monthly."""
    with Engine("memory:") as engine:
        result = replay(engine, parse_scenario(DONGHU_FIRE.read_text("utf-8")))
        hazard = engine.hazards.get(result.hazards["b30-storage-clutter"])
        assert hazard.reference == "DH-2022-H0001"
        assert hazard.status is HazardStatus.VERIFIED
        assert hazard.patrol_id == result.patrols["grid3-2022-02-18"]
        assert hazard.rectified_by == "p-3301"
        assert hazard.items == {result.improvements["storage-room-clutter"]}
        plan = engine.patrols.plan(result.community_id, "3")
        assert plan is not None
        assert {(rule.frequency, rule.spot) for rule in plan.rules} == {
            (Frequency.WEEKLY, None), (Frequency.MONTHLY, "storage_room"),
            (Frequency.MONTHLY, "basement")}
