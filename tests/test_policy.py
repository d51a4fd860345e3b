"""Authorization: the policy as data, its defaults, refusals that record nothing, overrides,
correction windows, imports, and the roster read fresh (resilience.domain.policy)."""

import functools
import inspect
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from attrs import evolve

import stateful_support
from resilience import (
    Actor,
    CareCard,
    Contact,
    Engine,
    InvalidInputError,
    Location,
    ManualClock,
    PermissionDeniedError,
    Provider,
    Role,
    ScenarioError,
    UnitSpec,
)
from resilience.adapters.converter import converter
from resilience.cli import main
from resilience.domain.policy import (
    COMMANDS,
    DEFAULT_POLICY,
    IMPORT,
    SERVICE_COMMANDS,
    Policy,
    Rule,
    Scope,
    Target,
)
from resilience.scenario import SCENARIO_IMPORTER, load_scenario, replay
from resilience.scenarios import DONGHU_FIRE
from resilience.services.core import AggregateService

from conftest import T0

OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)
ZHANG = Actor("zhang", Role.GRID_LEADER)
SUN = Actor("sun", Role.GRID_WORKER)
WU = Actor("wu", Role.GRID_LEADER)
LI = Actor("li", Role.SQUAD_MEMBER)
WANG = Actor("wang", Role.SQUAD_MEMBER)
CHEN = Actor("chen", Role.VOLUNTEER)
OWNER = Actor("owner", Role.RESIDENT)
DAY = timedelta(days=1)


def at(minute: float) -> datetime:
    """T0 + ``minute`` minutes."""
    return T0 + timedelta(minutes=minute)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 - 30 * DAY)


@pytest.fixture
def engine(clock: ManualClock) -> Iterator[Engine]:
    """An engine under the default policy."""
    with Engine("memory:", clock=clock) as opened:
        yield opened


@pytest.fixture
def donghu(engine: Engine, clock: ManualClock) -> UUID:
    """Donghu, registered by the office (its founder) a month before T0: grids 3 and 4,
    building 30 (unit 1) in grid 3 and 40 in grid 4; Zhang leads grid 3, Wu grid 4, Sun
    works grid 3, Li and Wang are squad members, Chen a volunteer. The clock is then T0."""
    c = engine.communities
    community = c.register(district="Taishan", subdistrict="Daimiao", name="Donghu",
                           actor=OFFICE).aggregate_id
    for grid, building in (("3", "30"), ("4", "40")):
        c.add_grid(community, grid, actor=OFFICE)
        c.add_building(community, building, grid, [UnitSpec("1", 12)], actor=OFFICE)
    for person, role, scope in (("zhang", Role.GRID_LEADER, "3"), ("wu", Role.GRID_LEADER, "4"),
                                ("sun", Role.GRID_WORKER, "3"), ("li", Role.SQUAD_MEMBER, None),
                                ("wang", Role.SQUAD_MEMBER, None),
                                ("chen", Role.VOLUNTEER, None)):
        c.enrol(community, person, person.title(), actor=OFFICE)
        c.assign_role(community, person, role, scope, actor=OFFICE)
    clock.set(T0)
    return community


@pytest.fixture
def fire(engine: Engine, donghu: UUID) -> UUID:
    """A fire in building 30, unit 1, reported by Zhang at T0; Li dispatched at T0+2."""
    incident = engine.incidents.report(
        donghu, incident_type="fire", severity="high", location=Location(building="30", unit="1"),
        description="smoke", actor=ZHANG, occurred_at=T0).aggregate_id
    engine.incidents.dispatch(incident, ["li"], actor=OFFICE, occurred_at=at(2))
    return incident


def refused(engine: Engine, command: Callable[[], object], match: str | None = None) -> str:
    """Assert the command raises PermissionDeniedError and records nothing at all; return
    the refusal's message (stateful_support's refused, for a refusal)."""
    return stateful_support.refused(engine, PermissionDeniedError, command, match)


# The policy as data -----------------------------------------------------------------------


def command_methods(service: AggregateService[Any]) -> set[str]:
    """A service's commands: its public methods that take an ``actor``."""
    return {f"{service.name}.{name}" for name, method in inspect.getmembers(service)
            if not name.startswith("_") and callable(method)
            and "actor" in inspect.signature(method).parameters}


def test_commands_are_exactly_the_services_commands(engine: Engine) -> None:
    """COMMANDS names every command the engine's services take, and nothing else (but
    ``import``): a new command can't be forgotten by the policy."""
    services = [s for s in vars(engine).values() if isinstance(s, AggregateService)]
    found = set().union(*(command_methods(s) for s in services))
    assert found == COMMANDS - {IMPORT}
    assert {s.name for s in services} == set(SERVICE_COMMANDS)


def test_every_command_has_a_rule_in_the_default_policy() -> None:
    """No command is left to nobody by default."""
    assert {rule.command for rule in DEFAULT_POLICY.rules} == COMMANDS


def test_a_policy_round_trips_through_json() -> None:
    """to_dict gives plain JSON; from_dict reads it back equal."""
    text = json.dumps(DEFAULT_POLICY.to_dict())
    assert Policy.from_dict(json.loads(text)) == DEFAULT_POLICY
    small = Policy([Rule(Role.GRID_LEADER, "incidents.correct_time", Scope.AREA, 6 * 3600 *
                         timedelta(seconds=1))], {"orders.rate"}, ())
    assert Policy.from_dict(json.loads(json.dumps(small.to_dict()))) == small
    assert small.to_dict()["rules"][0]["within_hours"] == 6


@pytest.mark.parametrize(("data", "message"), [
    ([], "a policy is a JSON object"),
    ({"rules": [], "extra": 1}, "unknown key"),
    ({"rules": {}}, "rules must be a list"),
    ({"rules": [3]}, "rule 1 must be an object"),
    ({"rules": [{"role": "mayor", "command": "incidents.contain", "scope": "area"}]},
     "rule 1: role must be one of"),
    ({"rules": [{"role": "grid_leader", "command": "incidents.extinguish",
                 "scope": "area"}]}, "unknown command 'incidents.extinguish'"),
    ({"rules": [{"role": "grid_leader", "command": "incidents.contain", "scope": "city"}]},
     "scope must be one of"),
    ({"rules": [{"role": "grid_leader", "command": "incidents.contain"}]}, "lacks scope"),
    ({"rules": [{"role": "grid_leader", "command": "incidents.contain", "scope": "area",
                 "within_hours": 2}]}, "no correction"),
    ({"rules": [{"role": "grid_leader", "command": "incidents.correct_time", "scope": "area",
                 "within_hours": -1}]}, "within_hours must be a number of hours above 0"),
    ({"rules": [{"role": "grid_leader", "command": "incidents.correct_time", "scope": "area",
                 "within_hours": True}]}, "within_hours"),
    ({"rules": [{"role": "resident", "command": "incidents.report", "scope": "area"}]},
     "resident holds no area"),
    ({"rules": [{"role": "community_staff", "command": "import", "scope": "area"}]},
     "import is allowed in scope community only"),
    ({"rules": [{"role": "grid_leader", "command": "incidents.contain", "scope": "area"}] * 2},
     "repeats the rule"),
    ({"not_overridable": ["incidents.extinguish"]}, "unknown command"),
    ({"personal_data": [{"role": "resident", "scope": "community"}]}, "no roster role"),
    ({"personal_data": [{"role": "grid_leader", "scope": "own"}]},
     "scope community or area"),
])
def test_malformed_policy_data_is_refused_naming_what_is_wrong(data: Any, message: str) -> None:
    """from_dict refuses malformed data with an InvalidInputError saying what is wrong (each
    case a whole policy but for what it shows)."""
    whole: dict[str, list[Any]] = {"rules": [], "not_overridable": [], "personal_data": []}
    with pytest.raises(InvalidInputError, match=message):
        Policy.from_dict({**whole, **data} if isinstance(data, dict) else data)


@pytest.mark.parametrize("left_out", ["rules", "not_overridable", "personal_data"])
def test_a_policy_missing_a_part_is_refused_not_read_as_permissive(left_out: str) -> None:
    """A policy file without ``not_overridable`` would let anyone override anything, one
    without ``personal_data`` would hide everything from everyone: every part must be
    written (an empty list says "none" on purpose)."""
    data = DEFAULT_POLICY.to_dict()
    del data[left_out]
    with pytest.raises(InvalidInputError, match=f"the policy lacks {left_out}"):
        Policy.from_dict(data)


def test_the_defaults_follow_the_issue() -> None:
    """Only staff shape the organisation and roster; nobody answers consent or rates an
    order on someone else's behalf; residents place and rate their own orders."""
    def who(command: str) -> set[tuple[str, str]]:
        return {(r.role.value, r.scope.value) for r in DEFAULT_POLICY.rules_for(command)}

    for command in ("communities.add_grid", "communities.add_building", "communities.enrol",
                    "communities.assign_role", "communities.relieve_role",
                    "communities.issue_care_card"):
        assert who(command) == {("community_staff", "community")}
    assert who("incidents.grant_consent") == who("incidents.refuse_consent") == {
        ("resident", "own")}
    assert who("orders.rate") == {("resident", "own")}
    assert ("resident", "own") in who("orders.place")
    assert ("squad_member", "own") in who("incidents.arrive")
    assert ("grid_leader", "area") in who("incidents.contain")
    assert ("system", "community") in who(IMPORT)
    for command in ("incidents.grant_consent", "orders.rate", "communities.enrol",
                    "communities.assign_role", "communities.relieve_role",
                    "communities.issue_care_card", "people.erase"):
        assert not DEFAULT_POLICY.overridable(command)


# Actors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["override", "imported_by"])
@pytest.mark.parametrize("value", ["", "   ", 3, "\x00"])
def test_an_actors_optional_fields_are_text_when_given(field: str, value: object) -> None:
    """override and imported_by are None or non-empty text."""
    with pytest.raises(InvalidInputError, match=field):
        Actor("zhou", Role.RESIDENT, **{field: value})  # type: ignore[arg-type]


def test_an_actor_without_override_or_importer_is_stored_as_before() -> None:
    """The optional fields are left out of the stored JSON when None, so old and new
    events of plain actors store byte for byte alike; given, they are kept."""
    assert converter.unstructure(Actor("zhou", Role.RESIDENT)) == {
        "person_id": "zhou", "role": "resident"}
    marked = Actor("zhou", Role.RESIDENT, override="fire", imported_by="loader")
    assert converter.unstructure(marked) == {"person_id": "zhou", "role": "resident",
                                             "override": "fire", "imported_by": "loader"}
    assert converter.structure(converter.unstructure(marked), Actor) == marked


def test_a_stored_plain_actor_has_no_new_keys(engine: Engine, donghu: UUID) -> None:
    """The stored state of a plain actor's fact names only person_id and role."""
    stored = engine.stored_events(donghu)[0]
    assert json.loads(stored.state)["actor"] == {"person_id": "office-duty",
                                                 "role": "community_staff"}


# Decisions, and refusals that record nothing -----------------------------------------------


def test_a_refusal_names_who_role_command_where_when_and_why(engine: Engine, fire: UUID) -> None:
    """One sentence: who, in which role, where, when, and who may instead."""
    message = refused(engine, lambda: engine.incidents.contain(
        fire, "out", actor=WU, occurred_at=at(12)))
    assert message == (
        "wu is not grid leader of grid 3 at 2022-02-15T15:12:00+08:00: incidents.contain "
        "needs community_staff, grid_leader of the incident's area or incident_commander "
        "of this incident")


def test_a_grid_leader_acts_in_their_grid_only(engine: Engine, donghu: UUID, fire: UUID) -> None:
    """Zhang (grid 3) records in grid 3; Wu (grid 4) is refused there, and reports in 4."""
    engine.incidents.take_action(fire, "evacuation", "unit 1 out", actor=ZHANG,
                                 occurred_at=at(5))
    refused(engine, lambda: engine.incidents.take_action(
        fire, "evacuation", "unit 1 out", actor=WU, occurred_at=at(5)), "grid 3")
    engine.incidents.report(donghu, incident_type="flood", severity="low",
                            location=Location(building="40"), description="leak", actor=WU)


def test_squad_members_record_their_own_arrival_and_their_incidents_work(
        engine: Engine, fire: UUID) -> None:
    """Li (dispatched) records his arrival and his work; Wang (not dispatched) may record
    his own arrival but not Li's, nor work on an incident he was not sent to."""
    engine.incidents.arrive(fire, "li", actor=LI, occurred_at=at(5))
    engine.incidents.find_source(fire, "cardboard", actor=LI, occurred_at=at(9))
    refused(engine, lambda: engine.incidents.en_route(fire, "li", actor=WANG,
                                                      occurred_at=at(3)),
            r"wang is not the responder named \(li\)")
    refused(engine, lambda: engine.incidents.take_action(
        fire, "suppression", "hose", actor=WANG, occurred_at=at(6)),
        "dispatched to or commanding this incident")
    engine.incidents.arrive(fire, "wang", actor=WANG, occurred_at=at(6))


def test_a_dispatch_counts_from_when_it_happened(engine: Engine, fire: UUID) -> None:
    """Li's work dated before his dispatch (T0+2) is refused: he was not sent yet."""
    refused(engine, lambda: engine.incidents.add_note(fire, "early", actor=LI,
                                                      occurred_at=at(1)))
    engine.incidents.add_note(fire, "on my way", actor=LI, occurred_at=at(2))


def test_the_commander_acts_on_their_incident_from_their_assignment(
        engine: Engine, fire: UUID) -> None:
    """Named commander at T0+3, Chen (as incident commander) contains the fire; before, or
    on another incident, she may not."""
    engine.incidents.assign_commander(fire, "chen", actor=ZHANG, occurred_at=at(3))
    commander = Actor("chen", Role.INCIDENT_COMMANDER)
    refused(engine, lambda: engine.incidents.contain(fire, "out", actor=commander,
                                                     occurred_at=at(2)),
            "chen is not incident commander of this incident")
    engine.incidents.contain(fire, "out", actor=commander, occurred_at=at(12))


def test_residents_place_rate_and_answer_for_themselves(engine: Engine, donghu: UUID,
                                                         fire: UUID) -> None:
    """A resident places and rates her order and answers a consent request to her; she
    can't rate another's order or answer for another resident."""
    order = engine.orders.place(donghu, household_id="30-1-101", area_id="30/1",
                                category="home", item="repair", actor=OWNER).aggregate_id
    engine.orders.accept(order, actor=SUN)
    engine.orders.dispatch(order, Provider("property_company", "fixit"), actor=SUN)
    engine.orders.complete(order, "fixed", actor=Actor("fixit", Role.PROVIDER))
    refused(engine, lambda: engine.orders.rate(order, 1, actor=Actor("neighbour",
                                                                      Role.RESIDENT)))
    engine.orders.rate(order, 5, actor=OWNER)
    engine.incidents.request_consent(fire, "owner", "open the storage room", actor=LI,
                                     occurred_at=at(6))
    refused(engine, lambda: engine.incidents.grant_consent(
        fire, "owner", actor=Actor("neighbour", Role.RESIDENT), occurred_at=at(7)),
        r"the resident asked \(owner\)")
    refused(engine, lambda: engine.incidents.grant_consent(fire, "owner", actor=LI,
                                                           occurred_at=at(7)))
    engine.incidents.grant_consent(fire, "owner", actor=OWNER, occurred_at=at(7))


def test_an_order_the_desk_placed_for_a_household_is_nobodys_to_rate(
        engine: Engine, donghu: UUID) -> None:
    """The office places an order for a household on the phone: nobody rates it on the
    household's behalf, the office least of all (not even claiming the resident role);
    the office still acts on it as staff."""
    order = engine.orders.place(donghu, household_id="30-1-102", area_id="30/1",
                                category="home", item="repair", actor=OFFICE).aggregate_id
    engine.orders.accept(order, actor=OFFICE)
    engine.orders.dispatch(order, Provider("property_company", "fixit"), actor=OFFICE)
    engine.orders.complete(order, "fixed", actor=Actor("fixit", Role.PROVIDER))
    for rater in (Actor("office-duty", Role.RESIDENT), OFFICE, OWNER):
        refused(engine, functools.partial(engine.orders.rate, order, 5, actor=rater))
    engine.orders.add_note(order, "the resident thanked us on the phone", actor=OFFICE)


def test_a_provider_fulfils_only_the_order_dispatched_to_it(engine: Engine,
                                                            donghu: UUID) -> None:
    """The provider dispatched starts the work; another provider may not."""
    order = engine.orders.place(donghu, household_id="hh", area_id="40/1", category="home",
                                item="repair", actor=OWNER).aggregate_id
    engine.orders.accept(order, actor=OFFICE)
    engine.orders.dispatch(order, Provider("property_company", "fixit"), actor=OFFICE)
    refused(engine, lambda: engine.orders.start(order, actor=Actor("other", Role.PROVIDER)),
            "the provider the order is dispatched to")
    engine.orders.start(order, actor=Actor("fixit", Role.PROVIDER))


def test_the_founder_acts_as_community_staff_and_others_must_be_on_the_roster(
        engine: Engine, donghu: UUID) -> None:
    """The office registered Donghu: it acts as staff there. Claiming staff is not enough
    for anyone else, nor for the office in another community."""
    engine.communities.add_grid(donghu, "5", actor=OFFICE)
    refused(engine, lambda: engine.communities.add_grid(
        donghu, "6", actor=Actor("zhou", Role.COMMUNITY_STAFF)),
        "zhou is not community staff in Donghu")
    other = engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                        name="Xinhu", actor=Actor("xinhu-desk",
                                                                  Role.COMMUNITY_STAFF))
    refused(engine, lambda: engine.communities.add_grid(other.aggregate_id, "1", actor=OFFICE))


def test_roles_are_checked_when_the_fact_happened_and_when_it_is_recorded(
        engine: Engine, clock: ManualClock, donghu: UUID, fire: UUID) -> None:
    """Zhang, relieved at T0+20 (Wu takes grid 3 over), can't act in grid 3 afterwards,
    nor record late what he did before: he no longer stands when it is recorded. The
    office records it for him; Wu acts from then on."""
    engine.communities.assign_role(donghu, "wu", Role.GRID_LEADER, "3", actor=OFFICE,
                                   occurred_at=at(20))
    clock.set(at(30))
    refused(engine, lambda: engine.incidents.resolve(fire, "done", actor=ZHANG,
                                                     occurred_at=at(25)))
    message = refused(engine, lambda: engine.incidents.contain(fire, "out", actor=ZHANG,
                                                               occurred_at=at(12)))
    assert message.startswith(f"zhang is not grid leader of grid 3 at {at(30).isoformat()}, "
                              "when this is recorded")
    engine.incidents.contain(fire, "out", actor=OFFICE, occurred_at=at(12))
    engine.incidents.resolve(fire, "done", actor=WU, occurred_at=at(25))


def test_a_relieved_person_cannot_back_date_a_command_into_their_old_term(
        engine: Engine, clock: ManualClock, donghu: UUID) -> None:
    """Mallory, staff from T0 and relieved at T0+10 days, may not assign herself grid 3
    on day 20 by dating the assignment day 5: she is not staff when it is recorded."""
    c = engine.communities
    c.enrol(donghu, "mallory", "Mallory", actor=OFFICE)
    c.assign_role(donghu, "mallory", Role.COMMUNITY_STAFF, actor=OFFICE)
    clock.set(T0 + 10 * DAY)
    c.relieve_role(donghu, "mallory", Role.COMMUNITY_STAFF, reason="left", actor=OFFICE)
    clock.set(T0 + 20 * DAY)
    mallory = Actor("mallory", Role.COMMUNITY_STAFF)
    message = refused(engine, lambda: c.assign_role(donghu, "mallory", Role.GRID_LEADER, "3",
                                                    actor=mallory, occurred_at=T0 + 5 * DAY))
    assert "when this is recorded" in message
    assert "when this is recorded" not in refused(engine, lambda: c.assign_role(
        donghu, "mallory", Role.GRID_LEADER, "3", actor=mallory))
    refused(engine, lambda: c.assign_role(donghu, "mallory", Role.GRID_LEADER, "3",
                                          actor=evolve(mallory, override="urgent"),
                                          occurred_at=T0 + 5 * DAY))


def test_a_term_not_yet_begun_gives_no_standing_today(engine: Engine, clock: ManualClock,
                                                     donghu: UUID, fire: UUID) -> None:
    """Zhou leads grid 3 only from next month: dating a command into that month today is
    refused (he does not stand now), as is an override; next month he acts."""
    engine.communities.enrol(donghu, "zhou", "Zhou", actor=OFFICE)
    engine.communities.assign_role(donghu, "zhou", Role.GRID_LEADER, "3", actor=OFFICE,
                                   occurred_at=T0 + 30 * DAY)
    zhou = Actor("zhou", Role.GRID_LEADER)
    later = T0 + 30 * DAY + timedelta(minutes=1)
    refused(engine, lambda: engine.incidents.contain(fire, "out", actor=zhou))
    refused(engine, lambda: engine.incidents.contain(fire, "out", actor=zhou, occurred_at=later),
            "when this is recorded")
    refused(engine, lambda: engine.incidents.add_note(
        fire, "x", actor=evolve(zhou, override="help"), occurred_at=later), "override")
    clock.set(later)
    engine.incidents.contain(fire, "out", actor=zhou)


def test_a_replaced_commander_no_longer_records_for_the_incident(
        engine: Engine, clock: ManualClock, donghu: UUID, fire: UUID) -> None:
    """Chen commanded from T0+3 until the office named Wang at T0+20: at T0+30 Chen may
    not record what he did at T0+10 (the incident's commander now is Wang); Wang may."""
    engine.incidents.assign_commander(fire, "chen", actor=OFFICE, occurred_at=at(3))
    engine.incidents.assign_commander(fire, "wang", actor=OFFICE, occurred_at=at(20))
    clock.set(at(30))
    message = refused(engine, lambda: engine.incidents.contain(
        fire, "out", actor=Actor("chen", Role.INCIDENT_COMMANDER), occurred_at=at(10)))
    assert "chen is not incident commander of this incident" in message
    assert "when this is recorded" in message
    engine.incidents.contain(fire, "out", actor=Actor("wang", Role.INCIDENT_COMMANDER),
                             occurred_at=at(25))


def test_the_founder_stands_at_every_moment(engine: Engine, clock: ManualClock,
                                            donghu: UUID, fire: UUID) -> None:
    """The office, founder of Donghu, records facts dated long before or after now."""
    engine.incidents.add_note(fire, "before", actor=OFFICE, occurred_at=at(1))
    engine.incidents.add_note(fire, "after", actor=OFFICE, occurred_at=T0 + 5 * DAY)


def test_a_relief_recorded_by_another_writer_is_seen_at_once(tmp_path: Path) -> None:
    """Two engines on one store: one relieves Zhang; the other, whose cached roster still
    has him, refuses him at once (its roster is read as stored, not as cached)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    clock = ManualClock(T0 - 30 * DAY)
    with Engine(url, clock=clock) as first, Engine(url, clock=clock) as second:
        c = first.communities
        community = c.register(district="T", subdistrict="D", name="Donghu",
                               actor=OFFICE).aggregate_id
        c.add_grid(community, "3", actor=OFFICE)
        c.enrol(community, "zhang", "Zhang", actor=OFFICE)
        c.assign_role(community, "zhang", Role.GRID_LEADER, "3", actor=OFFICE)
        clock.set(T0)
        fire = first.incidents.report(community, incident_type="fire", severity="low",
                                      location=Location(grid="3"), description="smoke",
                                      actor=ZHANG).aggregate_id
        first.incidents.add_note(fire, "all in hand", actor=ZHANG)  # both cached here
        second.communities.relieve_role(community, "zhang", Role.GRID_LEADER, "3", "moved",
                                        actor=OFFICE, occurred_at=at(1))
        clock.set(at(2))
        refused(first, lambda: first.incidents.add_note(fire, "still here", actor=ZHANG))


def test_a_batch_sees_its_own_roster(engine: Engine, donghu: UUID) -> None:
    """In a batch, a person enrolled and given a role acts at once."""
    with engine.batch():
        engine.communities.enrol(donghu, "zhou", "Zhou", actor=OFFICE)
        engine.communities.assign_role(donghu, "zhou", Role.GRID_WORKER, "4", actor=OFFICE)
        engine.incidents.report(donghu, incident_type="gas", severity="low",
                                location=Location(building="40"), description="smell",
                                actor=Actor("zhou", Role.GRID_WORKER))


def test_without_a_policy_nothing_is_checked(clock: ManualClock) -> None:
    """policy=None: any actor may do anything (tests and single-user tools)."""
    with Engine("memory:", clock=clock, policy=None) as engine:
        assert engine.policy is None
        community = engine.communities.register(district="T", subdistrict="D", name="X",
                                                actor=OFFICE).aggregate_id
        engine.communities.add_grid(community, "1", actor=Actor("anyone", Role.RESIDENT))


def test_an_engine_policy_is_a_policy() -> None:
    """Anything else is refused when the engine opens."""
    with pytest.raises(InvalidInputError, match="policy"):
        Engine("memory:", policy={"rules": []})  # type: ignore[arg-type]


def test_a_custom_policy_is_the_one_enforced(clock: ManualClock) -> None:
    """A policy that lets grid workers contain: Sun contains, and the defaults' grid
    leader may not."""
    custom = evolve(DEFAULT_POLICY, rules=[
        *(r for r in DEFAULT_POLICY.rules
          if not (r.command == "incidents.contain" and r.role is Role.GRID_LEADER)),
        Rule(Role.GRID_WORKER, "incidents.contain", Scope.AREA)])
    with Engine("memory:", clock=clock, policy=custom) as engine:
        community = engine.communities.register(district="T", subdistrict="D", name="X",
                                                actor=OFFICE).aggregate_id
        engine.communities.add_grid(community, "3", actor=OFFICE)
        for person, role in (("sun", Role.GRID_WORKER), ("zhang", Role.GRID_LEADER)):
            engine.communities.enrol(community, person, person, actor=OFFICE)
            engine.communities.assign_role(community, person, role, "3", actor=OFFICE)
        fire = engine.incidents.report(community, incident_type="fire", severity="low",
                                       location=Location(grid="3"), description="smoke",
                                       actor=SUN).aggregate_id
        refused(engine, lambda: engine.incidents.contain(fire, actor=ZHANG))
        engine.incidents.contain(fire, actor=SUN)
        assert engine.policy is custom


# Overrides ---------------------------------------------------------------------------------


def test_an_override_lets_a_person_on_the_roster_act_and_is_recorded(
        engine: Engine, fire: UUID) -> None:
    """Chen (a volunteer, not dispatched) contains the fire, saying why: the fact carries
    her override; without it she is refused."""
    refused(engine, lambda: engine.incidents.contain(fire, "out", actor=CHEN,
                                                     occurred_at=at(12)))
    why = "the grid leader was trapped; I had the extinguisher"
    engine.incidents.contain(fire, "out", actor=evolve(CHEN, override=why),
                             occurred_at=at(12))
    contained = engine.events(fire)[-1]
    assert contained.actor == Actor("chen", Role.VOLUNTEER, override=why)


def test_an_override_that_was_not_needed_is_recorded_all_the_same(
        engine: Engine, fire: UUID) -> None:
    """Kept simple: allowed, and the reason is on the fact."""
    engine.incidents.contain(fire, actor=evolve(ZHANG, override="just in case"))
    assert engine.events(fire)[-1].actor.override == "just in case"


@pytest.mark.parametrize(("actor", "why"), [
    (Actor("zhou", Role.GRID_LEADER, override="emergency"), "only a person on the roster"),
    (Actor("chen", Role.GRID_LEADER, override="emergency"), "does not hold grid leader"),
    (Actor("loader", Role.SYSTEM, override="emergency"), "the system role acts only by import"),
])
def test_an_override_is_refused_off_the_roster_or_in_a_role_not_held(
        engine: Engine, fire: UUID, actor: Actor, why: str) -> None:
    """An unenrolled person, a role claimed but not held, the system role: refused, saying
    why."""
    message = refused(engine, lambda: engine.incidents.contain(fire, actor=actor,
                                                               occurred_at=at(12)))
    assert "the override is refused" in message
    assert why in message


def test_what_is_not_overridable_stays_refused_with_an_override(
        engine: Engine, donghu: UUID, fire: UUID) -> None:
    """Answering for another resident, rating another's order, enrolling, assigning and
    relieving roles, issuing care cards: no override helps, even the staff's."""
    engine.incidents.request_consent(fire, "owner", "entry", actor=LI, occurred_at=at(6))
    staff = evolve(OFFICE, override="the owner said yes on the phone")
    card = CareCard(*(Contact(f"fake {n}", "110") for n in range(6)))
    cant = [
        lambda: engine.incidents.grant_consent(fire, "owner", actor=staff,
                                               occurred_at=at(7)),
        lambda: engine.communities.enrol(donghu, "zhou", "Zhou",
                                         actor=evolve(ZHANG, override="x")),
        lambda: engine.communities.assign_role(donghu, "chen", Role.GRID_LEADER, "3",
                                               actor=evolve(ZHANG, override="x")),
        lambda: engine.communities.relieve_role(donghu, "sun", Role.GRID_WORKER, "3",
                                                actor=evolve(ZHANG, override="x")),
        lambda: engine.communities.issue_care_card(donghu, "3", card,
                                                   actor=evolve(ZHANG, override="x")),
    ]
    for command in cant:
        assert "cannot be overridden" in refused(engine, command)


# Corrections -------------------------------------------------------------------------------


def test_corrections_have_windows_per_role(engine: Engine, clock: ManualClock,
                                           fire: UUID) -> None:
    """Li corrects his own arrival within a day, not later; Zhang corrects facts in his
    grid within a day; the staff within 30 days; later only by override."""
    clock.set(at(10))
    arrived = engine.incidents.arrive(fire, "li", actor=LI, occurred_at=at(5))
    clock.set(at(10) + DAY - timedelta(minutes=1))
    engine.incidents.correct_time(fire, arrived.first_version, at(6), "radio log",
                                  actor=LI)
    engine.incidents.correct_details(fire, arrived.first_version, "on foot", "radio log",
                                     actor=ZHANG)
    clock.set(at(10) + DAY + timedelta(minutes=1))
    message = refused(engine, lambda: engine.incidents.correct_time(
        fire, arrived.first_version, at(7), "radio log", actor=LI))
    assert "may correct a fact up to 1 day after it was recorded" in message
    refused(engine, lambda: engine.incidents.correct_time(
        fire, arrived.first_version, at(7), "radio log", actor=ZHANG))
    refused(engine, lambda: engine.incidents.correct_time(
        fire, 1, at(-1), "radio log", actor=WANG), r"who recorded the fact \(zhang\)")
    engine.incidents.correct_time(fire, arrived.first_version, at(7), "radio log",
                                  actor=OFFICE)
    clock.set(at(10) + 31 * DAY)
    refused(engine, lambda: engine.incidents.correct_time(
        fire, arrived.first_version, at(8), "radio log", actor=OFFICE),
        "up to 30 days")
    engine.incidents.correct_time(fire, arrived.first_version, at(8), "the CCTV",
                                  actor=evolve(OFFICE, override="the CCTV came late"))


def test_a_correction_of_a_missing_fact_is_left_to_the_aggregate(engine: Engine,
                                                                 fire: UUID) -> None:
    """No such fact, no window: the staff's correction reaches the aggregate, which
    refuses it as not found; an intruder's is refused by the policy."""
    from resilience import NotFoundError

    with pytest.raises(NotFoundError):
        engine.incidents.correct_time(fire, 99, at(1), "x", actor=OFFICE)
    refused(engine, lambda: engine.incidents.correct_time(
        fire, 99, at(1), "x", actor=Actor("zhou", Role.RESIDENT)))


def test_a_community_fact_is_corrected_in_its_own_area(engine: Engine, donghu: UUID) -> None:
    """An activity held in grid 3 is corrected by grid 3's leader, not grid 4's."""
    held = engine.communities.hold_activity(donghu, title="talk", category="training",
                                            participants=10, grid="3", actor=OFFICE)
    refused(engine, lambda: engine.communities.correct_participants(
        donghu, held.first_version, 12, "sheet", actor=WU), "grid 3")
    engine.communities.correct_participants(donghu, held.first_version, 12, "sheet",
                                            actor=ZHANG)


# Imports -----------------------------------------------------------------------------------


def test_an_import_is_not_checked_actor_by_actor_but_stamps_the_importer(
        engine: Engine, donghu: UUID, fire: UUID) -> None:
    """History as it happened (a squad member answering for a resident, as the Donghu
    scenario has it) imports into a live community under its staff's identity; each fact
    records its importer."""
    loader = engine.importing(OFFICE)
    loader.incidents.request_consent(fire, "owner", "entry", actor=WANG, occurred_at=at(6))
    loader.incidents.grant_consent(fire, "owner", actor=WANG, occurred_at=at(7))
    granted = engine.events(fire)[-1]
    assert granted.actor == Actor("wang", Role.SQUAD_MEMBER, imported_by="office-duty")
    assert engine.importing(OFFICE).incidents.add_note(
        fire, "imported by the desk", actor=Actor("x", Role.RESIDENT)).last_version


def test_the_system_role_imports_only_where_every_fact_was_imported(
        engine: Engine, clock: ManualClock, donghu: UUID, fire: UUID) -> None:
    """Donghu has live facts: an importer claiming the system role may not import into it
    (not even a role assignment, nor an incident's note); its staff may, while they hold
    the role. A community the import registers, or one only ever imported, takes the
    system importer; one fact recorded live there closes it to them."""
    system = engine.importing(Actor("anyone", Role.SYSTEM))
    for command in (lambda: system.communities.assign_role(donghu, "zhang", Role.COMMUNITY_STAFF,
                                                           actor=OFFICE),
                    lambda: system.incidents.add_note(fire, "x", actor=OFFICE)):
        assert "Donghu has facts recorded live" in refused(engine, command)
    engine.communities.enrol(donghu, "kim", "Kim", actor=OFFICE)
    engine.communities.assign_role(donghu, "kim", Role.COMMUNITY_STAFF, actor=OFFICE)
    kim = Actor("kim", Role.COMMUNITY_STAFF)
    engine.importing(kim).incidents.add_note(fire, "from the log", actor=ZHANG)
    clock.set(T0 + DAY)
    engine.communities.relieve_role(donghu, "kim", Role.COMMUNITY_STAFF, actor=OFFICE)
    refused(engine, lambda: engine.importing(kim).incidents.add_note(fire, "y", actor=ZHANG),
            "kim is not community staff")

    archive = engine.importing(Actor("archive", Role.SYSTEM))
    xinhu = archive.communities.register(district="T", subdistrict="D", name="Xinhu",
                                         actor=Actor("xinhu-desk", Role.COMMUNITY_STAFF))
    archive.communities.add_grid(xinhu.aggregate_id, "1", actor=OFFICE)  # all imported
    engine.communities.add_grid(xinhu.aggregate_id, "2",
                                actor=Actor("xinhu-desk", Role.COMMUNITY_STAFF))
    refused(engine, lambda: archive.communities.add_grid(xinhu.aggregate_id, "3", actor=OFFICE),
            "Xinhu has facts recorded live")


def test_an_erasure_is_never_imported() -> None:
    """Not even the community's founder erases a person (or reads their export) through
    an import."""
    protected = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
                 "CIPHER_KEY": "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="}
    with Engine("memory:", env=protected) as engine:
        community = engine.communities.register(district="T", subdistrict="D", name="D",
                                                actor=OFFICE).aggregate_id
        engine.communities.enrol(community, "zhang", "Zhang", actor=OFFICE)
        for importer in (OFFICE, Actor("anyone", Role.SYSTEM)):
            refused(engine, functools.partial(engine.importing(importer).erase_person, "zhang",
                                    community=community, actor=OFFICE, reason="asked"))
        assert engine.communities.get(community).people["zhang"].name == "Zhang"
        store = engine.importing(OFFICE)._store  # the store refuses it too, for any service
        ctx = store.context(OFFICE, None, None)
        for command in ("people.erase", "people.export"):
            refused(engine, functools.partial(store.authorize, command, ctx, community,
                                    lambda _: Target()), "is never imported")


def test_an_importer_must_be_allowed_to_import(engine: Engine, donghu: UUID,
                                               fire: UUID) -> None:
    """A resident, or another community's staff, may not import; an importer carries no
    override or imported_by; and nobody sets imported_by on an ordinary command."""
    for importer in (Actor("zhou", Role.RESIDENT), Actor("xinhu-desk", Role.COMMUNITY_STAFF)):
        note = functools.partial(engine.importing(importer).incidents.add_note, fire, "x",
                                 actor=ZHANG)
        message = refused(engine, note)
        assert "import needs system or community_staff" in message
    with pytest.raises(InvalidInputError, match="importer"):
        engine.importing(Actor("a", Role.SYSTEM, override="x"))
    with pytest.raises(InvalidInputError, match="imported_by is set by the engine"):
        engine.incidents.add_note(fire, "x", actor=Actor("zhang", Role.GRID_LEADER,
                                                         imported_by="someone"))


def test_a_scenario_replay_is_an_import(engine: Engine) -> None:
    """The Donghu scenario replays under the default policy as the scenario importer (its
    squad member answers for the storage room's owner: history, imported), or as an
    importer given; a refused importer is a ScenarioError naming the entry."""
    scenario = load_scenario(DONGHU_FIRE)
    result = replay(engine, scenario)
    facts = engine.events(result.incidents["donghu-fire"])
    assert {f.actor.imported_by for f in facts} == {SCENARIO_IMPORTER.person_id}
    with Engine("memory:") as other, pytest.raises(ScenarioError, match="entry 2"):
        replay(other, scenario, importer=Actor("zhou", Role.COMMUNITY_STAFF))


def test_the_command_line_replays_under_an_importer(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``resilience replay --importer``: each fact records that importer."""
    db = tmp_path / "events.db"
    assert main(["replay", str(DONGHU_FIRE), "--db", str(db), "--importer", "archivist"]) == 0
    capsys.readouterr()
    with Engine(f"sqlite:///{db}") as engine:
        community = load_scenario(DONGHU_FIRE).community_id
        assert {e.actor.imported_by for e in engine.events(community)} == {"archivist"}
    assert main(["replay", str(DONGHU_FIRE), "--db", str(tmp_path / "x.db"), "--importer",
                 "zhou", "--importer-role", "resident"]) == 2
    assert "import needs" in capsys.readouterr().err


# Reading personal data ----------------------------------------------------------------------


def test_who_may_see_residents_personal_data(engine: Engine, donghu: UUID,
                                             clock: ManualClock) -> None:
    """Staff everywhere; a grid leader or worker in their grid; nobody else; and as roles
    stood at the moment asked."""
    org = engine.communities.get(donghu)
    see = DEFAULT_POLICY.may_see_personal
    assert all(see(org, viewer, area, T0) for viewer, area in (
        (OFFICE, "30/1"), (OFFICE, None), (ZHANG, "30/1"), (SUN, "30")))
    assert not any(see(org, viewer, area, T0) for viewer, area in (
        (ZHANG, "40/1"), (WU, "30/1"), (ZHANG, None), (LI, "30/1"), (OWNER, "30/1"),
        (Actor("zhou", Role.GRID_LEADER), "30/1")))
    engine.communities.relieve_role(donghu, "zhang", Role.GRID_LEADER, "3", actor=OFFICE,
                                    occurred_at=at(10))
    org = engine.communities.get(donghu)
    assert see(org, ZHANG, "30/1", at(5))
    assert not see(org, ZHANG, "30/1", at(11))


def test_a_decision_can_be_asked_without_recording(engine: Engine, donghu: UUID) -> None:
    """An app may ask the policy before it offers a button: allows / decide."""
    org = engine.communities.get(donghu)
    inside = Target(area="30/1", what="this incident", area_is="the incident's area")
    assert DEFAULT_POLICY.allows(org, ZHANG, "incidents.contain", at=T0, target=inside)
    decision = DEFAULT_POLICY.decide(org, WU, "incidents.contain", at=T0, target=inside)
    assert not decision.allowed
    assert decision.reason.startswith("wu is not grid leader")
    assert DEFAULT_POLICY.decide(org, evolve(SUN, override="x"), "incidents.contain", at=T0,
                                 target=inside).overridden
