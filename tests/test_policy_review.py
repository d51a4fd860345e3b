"""Holes a security review found in authorization, each closed: roster facts corrected
round the roster's rules, an outsider made commander, checks that told a refused caller
about the community, caches that kept an erased person's data, and one area concept
computed in two places (resilience.domain.policy, resilience.services)."""

import json
from base64 import b64encode
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from attrs import evolve

from resilience import (
    Actor,
    Engine,
    Location,
    ManualClock,
    PermissionDeniedError,
    Role,
    ScenarioError,
    UnitSpec,
)
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community, fact_area, location_areas
from resilience.review.keys import incident_review_key
from resilience.review.sight import incident_area
from resilience.scenario import load_scenario, replay, replay_file
from resilience.scenarios import DONGHU_FIRE
from test_policy import DAY, OFFICE, SUN, WU, ZHANG, refused

from conftest import T0

PROTECTED = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
             "CIPHER_KEY": b64encode(b"0123456789abcdef0123456789abcdef").decode()}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 - 30 * DAY)


@pytest.fixture
def engine(clock: ManualClock) -> Iterator[Engine]:
    with Engine("memory:", clock=clock) as opened:
        yield opened


def found(engine: Engine, clock: ManualClock) -> UUID:
    """Donghu, founded by the office: grids 3 and 4 (buildings 30, 40); Zhang leads grid 3,
    Wu grid 4, Sun works grid 3; Chen is enrolled with no role. The clock is then T0."""
    c = engine.communities
    community = c.register(district="Taishan", subdistrict="Daimiao", name="Donghu",
                           actor=OFFICE).aggregate_id
    for grid, building in (("3", "30"), ("4", "40")):
        c.add_grid(community, grid, actor=OFFICE)
        c.add_building(community, building, grid, [UnitSpec("1", 12)], actor=OFFICE)
    for person, role, scope in (("zhang", Role.GRID_LEADER, "3"), ("wu", Role.GRID_LEADER, "4"),
                                ("sun", Role.GRID_WORKER, "3")):
        c.enrol(community, person, person.title(), actor=OFFICE)
        c.assign_role(community, person, role, scope, actor=OFFICE)
    c.enrol(community, "chen", "Chen", actor=OFFICE)
    clock.set(T0)
    return community


@pytest.fixture
def donghu(engine: Engine, clock: ManualClock) -> UUID:
    return found(engine, clock)


def version_of(engine: Engine, community: UUID, fact: type, person: str) -> int:
    """The version of ``person``'s last fact of class ``fact`` in the community."""
    return max(e.originator_version for e in engine.events(community)
               if isinstance(e, fact) and getattr(e, "person_id", None) == person)


# Corrections of roster facts -----------------------------------------------------------------


def test_a_relieved_leader_cannot_move_their_relief_by_correcting_its_time(
        engine: Engine, clock: ManualClock, donghu: UUID) -> None:
    """Zhang, relieved of grid 3, may not correct the relief's time (within his own
    day's window, dated before it, or with an override): a roster fact's correction
    needs community staff."""
    relief = engine.communities.relieve_role(donghu, "zhang", Role.GRID_LEADER, "3", "moved",
                                             actor=OFFICE).first_version
    clock.set(T0 + timedelta(hours=2))
    later = T0 + 3650 * DAY
    for actor, occurred_at in ((ZHANG, None), (ZHANG, T0 - timedelta(minutes=1)),
                               (evolve(ZHANG, override="typo"), None)):
        message = refused(engine, partial(engine.communities.correct_time, donghu, relief,
                                          later, "typo", actor=actor,
                                          occurred_at=occurred_at))
        assert message.startswith(f"fact {relief} is a roster fact (RoleRelieved)")
    assert engine.communities.get(donghu).roles_of("zhang", T0 + DAY) == []
    engine.communities.correct_time(donghu, relief, T0 - timedelta(minutes=5),
                                    "the relief letter", actor=OFFICE)


def test_no_override_corrects_a_roster_fact_not_even_by_staff_past_the_window(
        engine: Engine, clock: ManualClock, donghu: UUID) -> None:
    """Sun, grid worker, may not move Zhang's assignment with an override; the office
    corrects it within its 30 days, not after, even with an override; Sun's own facts of
    other kinds keep their rules (an activity she held)."""
    assigned = version_of(engine, donghu, Community.RoleAssigned, "zhang")
    refused(engine, lambda: engine.communities.correct_time(
        donghu, assigned, T0 + 3650 * DAY, "typo",
        actor=evolve(SUN, override="leader unreachable")), "no override")
    engine.communities.correct_details(donghu, assigned, "appointed at the grid meeting",
                                       "minutes", actor=OFFICE)
    clock.set(T0 + 40 * DAY)
    refused(engine, lambda: engine.communities.correct_details(
        donghu, assigned, "x", "late", actor=evolve(OFFICE, override="audit")),
        "may correct a fact up to 30 days")
    held = engine.communities.hold_activity(donghu, title="drill", category="training",
                                            participants=10, grid="3", actor=SUN)
    engine.communities.correct_participants(donghu, held.first_version, 12, "sheet", actor=SUN)


@pytest.mark.parametrize("fact", [Community.PersonEnrolled, Community.RoleAssigned])
def test_a_roster_fact_is_corrected_by_staff_only(engine: Engine, donghu: UUID,
                                                  fact: type) -> None:
    """A grid leader corrects facts of their grid within a day, but not its enrolments or
    role assignments."""
    version = version_of(engine, donghu, fact, "sun")
    refused(engine, lambda: engine.communities.correct_details(donghu, version, "x", "y",
                                                               actor=ZHANG),
            "roster fact")
    engine.communities.correct_details(donghu, version, "x", "y", actor=OFFICE)


# Incident commanders --------------------------------------------------------------------------


def test_only_a_person_on_the_roster_is_named_commander(engine: Engine, donghu: UUID) -> None:
    """Zhang may name Chen (enrolled) or the office (the founder) commander of a fire in his
    grid, not an outsider."""
    fire = engine.incidents.report(donghu, incident_type="fire", severity="high",
                                   location=Location(building="30"), description="smoke",
                                   actor=ZHANG).aggregate_id
    refused(engine, lambda: engine.incidents.assign_commander(fire, "outsider", actor=ZHANG),
            "outsider is not on Donghu's roster")
    refused(engine, lambda: engine.incidents.assign_commander(
        fire, "outsider", actor=evolve(ZHANG, override="help")), "not on Donghu's roster")
    engine.incidents.assign_commander(fire, "chen", actor=ZHANG)
    engine.incidents.assign_commander(fire, "office-duty", actor=ZHANG)


def test_an_erased_person_is_not_named_commander(clock: ManualClock) -> None:
    """Erased from the community, Chen can no longer be named commander."""
    with Engine("memory:", clock=clock, env=PROTECTED) as engine:
        donghu = found(engine, clock)
        engine.erase_person("chen", community=donghu, actor=OFFICE, reason="asked")
        fire = engine.incidents.report(donghu, incident_type="fire", severity="high",
                                       location=Location(building="30"), description="smoke",
                                       actor=ZHANG).aggregate_id
        refused(engine, lambda: engine.incidents.assign_commander(fire, "chen", actor=ZHANG),
                "not on Donghu's roster")


def test_a_grid_leader_closes_incidents_in_their_grid_only(engine: Engine,
                                                          donghu: UUID) -> None:
    """Closing is the grid leader's in their grid (no commander needed to get there); not
    in another grid."""
    fires = [engine.incidents.report(donghu, incident_type="fire", severity="high",
                                     location=Location(building=b), description="smoke",
                                     actor=OFFICE).aggregate_id for b in ("30", "40")]
    refused(engine, lambda: engine.incidents.close(fires[1], "false_alarm", actor=ZHANG),
            "grid 4")
    engine.incidents.close(fires[0], "false_alarm", actor=ZHANG)


# A refused caller learns only that they were refused -------------------------------------------


def test_a_refused_caller_is_refused_before_the_target_is_checked(engine: Engine,
                                                                 donghu: UUID) -> None:
    """Wu (grid 4) reporting in a building that does not exist, a grid leader placing an
    order in an unknown area, Sun planning under a review of an unknown incident: each is
    told they may not, not what the community has; staff get the check's own error."""
    nowhere = Location(building="99")
    refused(engine, lambda: engine.incidents.report(
        donghu, incident_type="fire", severity="high", location=nowhere, description="x",
        actor=WU))
    refused(engine, lambda: engine.orders.place(
        donghu, household_id="h", area_id="99", category="home", item="repair",
        actor=WU))
    ghost = uuid4()
    refused(engine, lambda: engine.improvements.plan(
        donghu, review=incident_review_key(ghost), action="a", owner="sun",
        due=T0 + DAY, actor=SUN))
    with pytest.raises(Exception, match="99") as raised:
        engine.incidents.report(donghu, incident_type="fire", severity="high",
                                location=nowhere, description="x", actor=OFFICE)
    assert not isinstance(raised.value, PermissionDeniedError)


# Caches after an erasure -------------------------------------------------------------------------


def test_no_store_hands_out_an_erased_persons_data_from_its_cache(
        tmp_path: Path, clock: ManualClock) -> None:
    """After Chen is erased through one engine, that engine's derived engines and another
    engine on the store (at its next look at the key table) hold no aggregate with his
    name: their caches are dropped."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with Engine(url, clock=clock, env=PROTECTED) as engine, \
            Engine(url, clock=clock, env=PROTECTED) as other:
        donghu = found(engine, clock)
        importer = engine.with_clock(clock)
        stores = [engine._store, importer._store, other._store]
        for store in stores:
            with store.locked():
                assert store.current(Community, donghu).people["chen"].name == "Chen"
        engine.erase_person("chen", community=donghu, actor=OFFICE, reason="asked")
        keys = other.app.mapper.keys  # type: ignore[attr-defined]
        keys.refresh()  # its next look at the key table (FRESH_FOR seconds later)
        for store in stores:
            with store.locked():
                assert store.current(Community, donghu).people["chen"].name != "Chen"


# One area concept ------------------------------------------------------------------------------


def test_an_incidents_area_and_a_community_facts_area_are_one_concept() -> None:
    """The services and the readers compute an incident's and a community fact's area the
    same way: from the domain's location_areas and fact_area."""
    assert location_areas(Location(building="30", unit="1", grid="3")) == ("30/1", "30", "3")
    assert location_areas(Location(grid="3")) == ("3",)
    assert location_areas(Location()) == ()
    with Engine("memory:", policy=None) as engine:
        result = replay(engine, load_scenario(DONGHU_FIRE))
        community = engine.communities.get(result.community_id)
        for incident_id in result.incidents.values():
            incident = engine.incidents.get(incident_id)
            detected = engine.events(incident_id)[0]
            assert isinstance(detected, Incident.Detected)
            assert incident.area == incident_area(community, detected) is not None
        areas = {fact_area(e) for e in engine.events(result.community_id)}
        assert {"3", "30"} <= areas
        assert engine.communities._fact_area(engine.events(result.community_id)[1]) == "1"


# An import's clock never grants standing ---------------------------------------------------


def test_a_relieved_staff_importer_cannot_replay_herself_back_onto_the_roster(
        engine: Engine, clock: ManualClock, donghu: UUID, tmp_path: Path) -> None:
    """Staff until yesterday, relieved, she replays a file of her own into the live
    community as its "staff" importer, its ``recorded_at`` inside her old term: the
    importer is checked by the engine's own clock, not the one the file sets."""
    c = engine.communities
    c.enrol(donghu, "exstaff", "Ex Staff", actor=OFFICE)
    c.assign_role(donghu, "exstaff", Role.COMMUNITY_STAFF, actor=OFFICE)
    clock.set(T0 + DAY)
    c.relieve_role(donghu, "exstaff", Role.COMMUNITY_STAFF, reason="dismissed", actor=OFFICE)
    clock.set(T0 + 40 * DAY)
    crafted = tmp_path / "crafted.json"
    crafted.write_text(json.dumps({
        "format": "resilience.scenario", "version": 1, "name": "crafted",
        "timezone": "Asia/Shanghai",
        "community": {"district": "Taishan", "subdistrict": "Daimiao", "name": "Donghu"},
        "actions": [{"do": "assign_role", "at": (T0 + 40 * DAY).isoformat(),
                     "recorded_at": (T0 + timedelta(hours=1)).isoformat(),
                     "actor": "exstaff", "as": "community_staff",
                     "person_id": "exstaff", "role": "community_staff"}]}), "utf-8")
    before = engine.app.recorder.max_notification_id()
    with pytest.raises(ScenarioError, match="exstaff is not community staff"):
        replay_file(engine, crafted, importer=Actor("exstaff", Role.COMMUNITY_STAFF))
    assert engine.app.recorder.max_notification_id() == before
    assert engine.communities.get(donghu).roles_of("exstaff", clock()) == []
