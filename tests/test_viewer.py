"""Reading as a person: timelines and reviews hide what the policy keeps from the viewer.

A kitchen fire in flat 501 of building 30, grid 3 of Donghu: the grid leader of grid 3
(Zhou) reports it and asks the resident (chen-501) for consent, which she grants; a
squad member forces the door. Read by the grid leader of grid 5 (Wu), every personal
value of it reads "[hidden]" (the descriptions, the consent giver, the purpose); read by
community staff, or by Zhou, nothing is hidden; read by the resident, her own consent is
hers to see and the rest is hidden. Whoever reads it, the figures are the same.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from attrs import define

from resilience import (
    Actor,
    Engine,
    InvalidInputError,
    Location,
    ManualClock,
    NotFoundError,
    Role,
    UnitSpec,
)
from resilience.domain.base import personal_values
from resilience.domain.policy import DEFAULT_POLICY
from resilience.review.sight import HIDDEN

from conftest import DONGHU, T0

OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)  # registers Donghu: its founder
ZHOU = Actor("zhou-min", Role.GRID_LEADER)  # grid 3
WU = Actor("wu-lan", Role.GRID_LEADER)  # grid 5
LI = Actor("li-wei", Role.SQUAD_MEMBER)
CHEN = Actor("chen-501", Role.RESIDENT)
NAMES = {"zhou-min": ("Zhou Min", "13900000001"), "wu-lan": ("Wu Lan", "13900000002"),
         "li-wei": ("Li Wei", "13900000003")}


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


@define
class Fire:
    engine: Engine
    clock: ManualClock
    community: UUID
    fire: UUID


def donghu_with_grids(engine: Engine) -> UUID:
    """Donghu the day before: grids 3 and 5, building 30 (one unit) in grid 3, Zhou leading
    grid 3, Wu grid 5, Li in the squad."""
    run = engine.communities
    before = T0 - timedelta(days=1)
    community = run.register(**DONGHU, actor=OFFICE, occurred_at=before).aggregate_id
    for grid in ("3", "5"):
        run.add_grid(community, grid, actor=OFFICE, occurred_at=before)
    run.add_building(community, "30", "3", [UnitSpec("1", 24)], actor=OFFICE,
                     occurred_at=before)
    for person, (name, phone) in NAMES.items():
        run.enrol(community, person, name, phone, actor=OFFICE, occurred_at=before)
    run.assign_role(community, ZHOU.person_id, Role.GRID_LEADER, "3", actor=OFFICE,
                    occurred_at=before)
    run.assign_role(community, WU.person_id, Role.GRID_LEADER, "5", actor=OFFICE,
                    occurred_at=before)
    run.assign_role(community, LI.person_id, Role.SQUAD_MEMBER, actor=OFFICE,
                    occurred_at=before)
    return community


def kitchen_fire(engine: Engine, community: UUID) -> UUID:
    """v1 detected 15:00, v2 Li dispatched 15:01, v3 on scene 15:04, v4 consent asked
    15:05, v5 granted 15:06, v6 door forced 15:08, v7 contained 15:12, v8 resolved 15:30."""
    run = engine.incidents
    fire = run.detect(community, incident_type="fire", severity="high",
                      location=Location(building="30", unit="1", floor=5,
                                        description="flat 501"),
                      description="smoke from the kitchen of flat 501", actor=ZHOU,
                      occurred_at=at(0)).aggregate_id
    run.dispatch(fire, [LI.person_id], actor=ZHOU, occurred_at=at(1))
    run.arrive(fire, LI.person_id, actor=LI, occurred_at=at(4))
    run.request_consent(fire, CHEN.person_id, "enter flat 501 to reach the kitchen",
                        actor=ZHOU, occurred_at=at(5))
    run.grant_consent(fire, CHEN.person_id, actor=CHEN, occurred_at=at(6))
    run.force_entry(fire, "the door of flat 501", actor=LI, occurred_at=at(8))
    run.contain(fire, "fire out in the kitchen of flat 501", actor=ZHOU, occurred_at=at(12))
    run.resolve(fire, "the Chen family back home", actor=ZHOU, occurred_at=at(30))
    return fire


@pytest.fixture
def world() -> Iterator[Fire]:
    """The fire, recorded under the default policy, read an hour later."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=DEFAULT_POLICY) as engine:
        community = donghu_with_grids(engine)
        fire = kitchen_fire(engine, community)
        clock.set(at(60))
        yield Fire(engine, clock, community, fire)


def details(engine: Engine, fire: UUID, viewer: Actor | None) -> list[tuple[str, str]]:
    """Each timeline entry's actor and details, as ``viewer`` reads them."""
    return [(e.actor.person_id, e.details) for e in engine.timeline(fire, viewer=viewer).entries]


WU_READS = [
    ("zhou-min", f"fire (high) at grid 3, building 30, unit 1, floor 5, {HIDDEN}: {HIDDEN}"),
    ("zhou-min", "li-wei dispatched"),
    ("li-wei", "li-wei on scene"),
    ("zhou-min", f"consent requested from {HIDDEN}: {HIDDEN}"),
    (HIDDEN, f"{HIDDEN} granted consent"),
    ("li-wei", f"forced entry: {HIDDEN}"),
    ("zhou-min", f"contained: {HIDDEN}"),
    ("zhou-min", f"resolved: {HIDDEN}"),
]


def test_a_grid_leader_of_another_grid_reads_every_personal_value_as_hidden(
        world: Fire) -> None:
    """Wu leads grid 5: the descriptions, the consent giver (as value and as actor), the
    purpose and the door read "[hidden]"; person ids, roles and times are as recorded."""
    assert details(world.engine, world.fire, WU) == WU_READS
    seen, app = (world.engine.timeline(world.fire, viewer=WU),
                 world.engine.timeline(world.fire))
    assert [(e.version, e.occurred_at, e.recorded_at, e.actor.role) for e in seen.entries] == [
        (e.version, e.occurred_at, e.recorded_at, e.actor.role) for e in app.entries]


def test_community_staff_and_the_grids_own_leader_see_everything(world: Fire) -> None:
    """Staff (the founder, here) anywhere, Zhou in grid 3: the timeline of the view itself."""
    app = world.engine.timeline(world.fire)
    assert ("chen-501", "chen-501 granted consent") in details(world.engine, world.fire, None)
    for viewer in (OFFICE, ZHOU):
        assert world.engine.timeline(world.fire, viewer=viewer) == app


def test_the_resident_sees_her_own_consent_and_nothing_else(world: Fire) -> None:
    """Chen's id is hers, so the request and the grant name her; the purpose is Zhou's
    words and the descriptions the reporter's: hidden."""
    read = details(world.engine, world.fire, CHEN)
    assert read[3:5] == [("zhou-min", f"consent requested from chen-501: {HIDDEN}"),
                         ("chen-501", "chen-501 granted consent")]
    assert read[0][1].endswith(f"{HIDDEN}: {HIDDEN}")


def test_who_may_see_is_read_off_the_roster_at_the_engines_clock(world: Fire) -> None:
    """Zhou relieved of grid 3 at 15:40 no longer reads it at 16:00, though he led it when
    the fire happened; Wu, appointed to grid 3 too, now does."""
    run = world.engine.communities
    run.relieve_role(world.community, ZHOU.person_id, Role.GRID_LEADER, "3", "moved",
                     actor=OFFICE, occurred_at=at(40))
    run.assign_role(world.community, WU.person_id, Role.GRID_LEADER, "3", actor=OFFICE,
                    occurred_at=at(41))
    assert details(world.engine, world.fire, ZHOU)[4] == (HIDDEN, f"{HIDDEN} granted consent")
    assert world.engine.timeline(world.fire, viewer=WU) == world.engine.timeline(world.fire)


def test_an_engine_without_a_policy_hides_nothing(world: Fire) -> None:
    """policy=None is no authorization at all: every viewer reads what the app reads."""
    with Engine("memory:", clock=world.clock, policy=None) as open_engine:
        community = donghu_with_grids(open_engine)
        fire = kitchen_fire(open_engine, community)
        assert open_engine.timeline(fire, viewer=WU) == open_engine.timeline(fire)


def test_a_communitys_own_facts_are_each_about_the_area_they_name(world: Fire) -> None:
    """Activities' titles on the community's timeline: Zhou reads grid 3's, not grid 5's
    (Wu's own words, which Wu reads) nor the community-wide one, which staff read."""
    run = world.engine.communities
    for actor, grid, title in ((ZHOU, "3", "fire safety talk by Dr Fang"),
                               (WU, "5", "meal help day at Mrs Gao's"),
                               (OFFICE, None, "volunteer thanks dinner")):
        run.hold_activity(world.community, title=title, category="talk", participants=9,
                          grid=grid, actor=actor, occurred_at=at(50))

    def titles(viewer: Actor | None) -> list[bool]:
        """Which of the three titles the viewer reads."""
        entries = world.engine.timeline(world.community, viewer=viewer).entries
        return [HIDDEN not in e.details for e in entries if e.action == "ActivityHeld"]

    assert (titles(None), titles(OFFICE), titles(ZHOU), titles(WU)) == (
        [True] * 3, [True] * 3, [True, False, False], [False, True, False])


def personal(engine: Engine, fire: UUID, community: UUID, *, but: str) -> set[str]:
    """Every personal value of the fire and of the community's enrolments (names,
    phones), but those whose subject is ``but``."""
    events = [*engine.events(fire), *engine.events(community)]
    return {value for event in events for _, subject, value in personal_values(event)
            if subject != but}


def test_the_review_as_read_by_another_grids_leader_holds_no_personal_value(
        world: Fire) -> None:
    """Nothing personal of grid 3, nor any other person's name, in any output for Wu."""
    review = world.engine.review(world.fire, viewer=WU)
    outputs = (review.to_markdown(), review.to_html(), review.to_json())
    values = personal(world.engine, world.fire, world.community, but=WU.person_id)
    assert "Wu Lan" not in values
    assert {"Zhou Min", "chen-501", "flat 501"} <= values
    for output in outputs:
        assert [value for value in values if value in output] == []
    read_as = "wu-lan (grid leader); personal data the policy keeps from them reads "
    markdown, html, _ = outputs
    assert f"**Read as:** {read_as}\\[hidden\\]" in markdown
    assert f"<strong>Read as:</strong> {read_as}[hidden]" in html
    assert review.to_dict()["viewer"] == {"person_id": "wu-lan", "role": "grid_leader",
                                          "override": None, "imported_by": None}
    (incident,) = review.incidents
    assert incident.description.endswith(f"{HIDDEN}: {HIDDEN}")
    assert incident.people == {"wu-lan": "Wu Lan"}
    assert incident.situation is not None
    assert incident.situation.consents_granted == (HIDDEN,)
    assert review.viewer == WU


def test_every_reader_gets_the_same_figures(world: Fire) -> None:
    """Grades, segments, milestones and the summary's counts do not depend on who reads."""
    app = world.engine.review(world.fire).incidents[0]
    for viewer in (WU, CHEN, ZHOU, OFFICE):
        seen = world.engine.review(world.fire, viewer=viewer).incidents[0]
        assert [(o.name, o.grade, o.measured) for o in seen.objectives] == [
            (o.name, o.grade, o.measured) for o in app.objectives]
        assert seen.segments == app.segments
        assert seen.milestones == app.milestones
        assert seen.summary[-2:] == app.summary[-2:]  # consent counts, resolution
        assert len(seen.quality) == len(app.quality)


def test_staff_read_the_review_the_app_reads(world: Fire) -> None:
    """The founder, as community staff, sees everything: the app's review, but for whom
    it was made."""
    app = world.engine.review(world.fire)
    staff = world.engine.review(world.fire, viewer=OFFICE)
    assert staff.incidents == app.incidents
    assert (staff.viewer, app.viewer) == (OFFICE, None)


def test_zhou_reads_his_grids_incident_with_person_ids_for_names(world: Fire) -> None:
    """Grid 3's personal data is his to read; names are the community's (enrolments):
    he reads his own, and ids for the others."""
    (incident,) = world.engine.review(world.fire, viewer=ZHOU).incidents
    assert incident.timeline == world.engine.timeline(world.fire)
    assert incident.people == {"zhou-min": "Zhou Min"}
    assert [r.name for r in incident.responders] == ["li-wei"]


def test_an_improvement_items_action_is_hidden_outside_its_grid(world: Fire) -> None:
    """The plan's action is its planner's words about grid 3."""
    key = f"incident/{world.fire}"
    world.engine.improvements.plan(
        world.community, review=key, action="fit a smoke alarm in flat 501",
        owner=ZHOU.person_id, due=at(60 * 24 * 7), actor=ZHOU, incident_id=world.fire,
        grid="3")
    assert [i.action for i in world.engine.review(world.fire, viewer=WU).plan] == [HIDDEN]
    assert [i.action for i in world.engine.review(world.fire, viewer=ZHOU).plan] == [
        "fit a smoke alarm in flat 501"]


def test_a_grid_review_read_as_a_viewer_hides_each_incident_alike(world: Fire) -> None:
    """A review of grid 3's incidents, for Wu: the same hiding, incident by incident."""
    review = world.engine.reviews.incidents(world.community, grid="3", viewer=WU)
    (incident,) = review.incidents
    assert [(e.actor.person_id, e.details) for e in incident.timeline.entries] == WU_READS


def test_an_unknown_id_read_as_a_viewer_is_not_found(world: Fire) -> None:
    """As for the app: NotFoundError, InvalidInputError for what is no id."""
    with pytest.raises(NotFoundError):
        world.engine.timeline(uuid4(), viewer=WU)
    with pytest.raises(InvalidInputError):
        world.engine.timeline("not an id", viewer=WU)  # type: ignore[arg-type]


@pytest.mark.parametrize("viewer", ["wu-lan", ("wu-lan", "grid_leader"), 3])
def test_a_viewer_must_be_an_actor(world: Fire, viewer: Any) -> None:
    """A viewer is an Actor (who, in which role), nothing else."""
    with pytest.raises(InvalidInputError):
        world.engine.timeline(world.fire, viewer=viewer)
    with pytest.raises(InvalidInputError):
        world.engine.review(world.fire, viewer=viewer)
