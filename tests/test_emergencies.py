"""Emergencies: peacetime and emergency as facts, mobilisation member by member, what is in
force, the mobilisation report and the situation's mode."""

from base64 import b64encode
from collections.abc import Callable
from datetime import datetime, timedelta
from os import urandom
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import (
    Actor,
    Emergency,
    EmergencyKind,
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    ManualClock,
    NotFoundError,
    ResilienceError,
    Role,
    ScenarioError,
    UnitSpec,
    emergency_id_for,
)
from resilience.adapters.converter import converter
from resilience.cli import format_situation, main
from resilience.domain.base import Context
from resilience.domain.emergency import CalledMember
from resilience.metrics.cases import known_at_cut, times_at_cut
from resilience.scenario import parse_scenario, replay
from stateful_support import recorded, refused

from conftest import OFFICE, T0, minutes

SQUAD = (("sq-1", "Li"), ("sq-2", "Wang"), ("sq-3", "Zhao"))
VOLUNTEERS = (("vol-1", "Sun"), ("vol-4", "Qian"))




def town(engine: Engine) -> UUID:
    """Donghu a day before T0: grids 3 and 4, building 30 in grid 3; squad members sq-1
    and sq-2 for grid 3, sq-3 for grid 4; volunteers vol-1 community-wide and vol-4 for
    building 30 (grid 3)."""
    communities = engine.communities
    at = T0 - timedelta(days=1)
    community = communities.register(district="Taishan", subdistrict="Daimiao",
                                      name="Donghu", actor=OFFICE, occurred_at=at).aggregate_id
    for grid in ("3", "4"):
        communities.add_grid(community, grid, actor=OFFICE, occurred_at=at)
    communities.add_building(community, "30", "3", [UnitSpec("1", 24)], actor=OFFICE,
                             occurred_at=at)
    for (person, name), scope in zip(SQUAD, ("3", "3", "4"), strict=True):
        communities.enrol(community, person, name, actor=OFFICE, occurred_at=at)
        communities.assign_role(community, person, Role.SQUAD_MEMBER, scope, actor=OFFICE,
                                occurred_at=at)
    for (person, name), held_for in zip(VOLUNTEERS, (None, "30"), strict=True):
        communities.enrol(community, person, name, actor=OFFICE, occurred_at=at)
        communities.assign_role(community, person, Role.VOLUNTEER, held_for, actor=OFFICE,
                                occurred_at=at)
    return community


@pytest.fixture
def donghu(memory_engine: Engine) -> UUID:
    return town(memory_engine)


def flood(engine: Engine, community: UUID, grid: str | None = "3", **kwargs: Any) -> UUID:
    arguments: dict[str, Any] = {"kind": "flood", "reason": "the river broke its banks",
                                 "area_id": grid, "actor": OFFICE, "occurred_at": T0}
    arguments.update(kwargs)
    return engine.emergencies.declare(community, **arguments).aggregate_id


def member(person: str) -> Actor:
    return Actor(person, Role.SQUAD_MEMBER if person.startswith("sq") else Role.VOLUNTEER)


# Declaring ---------------------------------------------------------------------------------


def test_declaring_records_one_fact_with_who_where_what_and_why(
        memory_engine: Engine, donghu: UUID) -> None:
    """declare records Declared: the grid, the kind and the reason; in force from then."""
    emergency = flood(memory_engine, donghu)
    [declared] = memory_engine.events(emergency)
    assert isinstance(declared, Emergency.Declared)
    assert (declared.area_id, declared.kind, declared.reason) == (
        "3", EmergencyKind.FLOOD, "the river broke its banks")
    assert declared.actor == OFFICE
    assert declared.occurred_at == T0
    stored = memory_engine.emergencies.get(emergency)
    assert stored.in_force(T0)
    assert not stored.in_force(T0 - minutes(1))
    assert declared.notice == "emergency.declared"


def test_a_repeated_declaration_records_nothing_and_its_id_derives_from_the_command_id(
        memory_engine: Engine, donghu: UUID) -> None:
    """With a command id the id is emergency_id_for(community, command id); a repeat
    returns the first receipt."""
    first = memory_engine.emergencies.declare(donghu, kind="power_cut", reason="substation",
                                              actor=OFFICE, occurred_at=T0, command_id="pc-1")
    before = recorded(memory_engine)
    again = memory_engine.emergencies.declare(donghu, kind="power_cut", reason="substation",
                                              actor=OFFICE, occurred_at=T0, command_id="pc-1")
    assert again == first
    assert recorded(memory_engine) == before
    assert first.aggregate_id == emergency_id_for(donghu, "pc-1")


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"area_id": "30"}, InvalidInputError),  # a building, not a grid
    ({"area_id": "9"}, NotFoundError),
    ({"kind": "meteor"}, InvalidInputError),
    ({"reason": "  "}, InvalidInputError),
    ({"occurred_at": T0.replace(tzinfo=None)}, InvalidInputError),
    ({"emergency_id": "not-a-uuid"}, InvalidInputError),
])
def test_a_declaration_with_bad_input_is_refused_and_records_nothing(
        memory_engine: Engine, donghu: UUID, kwargs: dict[str, Any],
        error: type[ResilienceError]) -> None:
    """A building for a grid, an unknown area or kind, a blank reason, a naive time, an id
    that is no UUID: each refused with its documented error."""
    refused(memory_engine, error, lambda: flood(memory_engine, donghu, **kwargs))


def test_a_declaration_in_an_unknown_community_is_not_found(memory_engine: Engine) -> None:
    """No community, no emergency."""
    refused(memory_engine, NotFoundError, lambda: flood(memory_engine, uuid4(), None))


# Calling up ----------------------------------------------------------------------------------


def test_a_grids_call_up_calls_the_teams_of_the_grid_and_of_the_whole_community(
        memory_engine: Engine, donghu: UUID) -> None:
    """A grid-3 flood calls grid 3's squad, the community-wide volunteer and building 30's
    volunteer (in grid 3), never grid 4's squad member."""
    emergency = flood(memory_engine, donghu)
    memory_engine.emergencies.call_up(emergency, actor=OFFICE, occurred_at=T0 + minutes(2))
    called = memory_engine.events(emergency)[-1]
    assert isinstance(called, Emergency.MobilisationCalled)
    assert called.teams == (Role.SQUAD_MEMBER, Role.VOLUNTEER)
    squad, volunteer = Role.SQUAD_MEMBER, Role.VOLUNTEER
    assert called.members == (CalledMember("sq-1", squad), CalledMember("sq-2", squad),
                              CalledMember("vol-1", volunteer),
                              CalledMember("vol-4", volunteer))
    assert called.notice == "emergency.mobilised"


def test_each_member_is_recorded_with_the_team_they_were_called_as_the_first_named(
        memory_engine: Engine, donghu: UUID) -> None:
    """The call-up records each member with the team they were called as: someone who
    holds two of the teams is called once, as the first of them the call-up names; the
    stored form is the person and the role, and the aggregate keeps each one's team."""
    memory_engine.communities.assign_role(donghu, "sq-1", Role.VOLUNTEER, "3", actor=OFFICE,
                                          occurred_at=T0 - minutes(5))
    emergency = flood(memory_engine, donghu)
    memory_engine.emergencies.call_up(emergency, ["volunteer", "squad_member"], actor=OFFICE,
                                      occurred_at=T0 + minutes(2))
    called = memory_engine.events(emergency)[-1]
    assert isinstance(called, Emergency.MobilisationCalled)
    assert [(m.person_id, m.role) for m in called.members] == [
        ("sq-1", Role.VOLUNTEER), ("sq-2", Role.SQUAD_MEMBER), ("vol-1", Role.VOLUNTEER),
        ("vol-4", Role.VOLUNTEER)]
    stored = converter.unstructure(called, type(called))["members"]
    assert stored[1] == {"person_id": "sq-2", "role": "squad_member"}
    assert memory_engine.emergencies.get(emergency).roles["sq-1"] is Role.VOLUNTEER
    refused(memory_engine, InvalidInputError, lambda: memory_engine.emergencies.get(
        emergency).call_up(Context(OFFICE, T0 + minutes(3), T0 + minutes(3)),
                           [Role.SQUAD_MEMBER], [CalledMember("sq-3", Role.VOLUNTEER)]),
            match="called as a team")


def test_a_community_wide_call_up_of_one_team_calls_all_its_holders(
        memory_engine: Engine, donghu: UUID) -> None:
    """Teams are roster roles; the whole community's emergency calls every holder."""
    emergency = flood(memory_engine, donghu, None)
    memory_engine.emergencies.call_up(emergency, ["squad_member"], actor=OFFICE,
                                      occurred_at=T0 + minutes(2))
    assert memory_engine.emergencies.get(emergency).members == ("sq-1", "sq-2", "sq-3")


def test_the_call_up_reads_the_roster_at_its_own_moment(
        memory_engine: Engine, donghu: UUID) -> None:
    """Someone relieved before the call-up's moment is not called; a later call-up calls
    only those not called yet, and calling again with nobody new is refused."""
    memory_engine.communities.relieve_role(donghu, "sq-2", Role.SQUAD_MEMBER, "3", "moved",
                                           actor=OFFICE, occurred_at=T0 + minutes(1))
    emergency = flood(memory_engine, donghu)
    memory_engine.emergencies.call_up(emergency, ["squad_member"], actor=OFFICE,
                                      occurred_at=T0 + minutes(2))
    assert memory_engine.emergencies.get(emergency).members == ("sq-1",)
    memory_engine.emergencies.call_up(emergency, ["volunteer", "squad_member"], actor=OFFICE,
                                      occurred_at=T0 + minutes(3))
    assert memory_engine.emergencies.get(emergency).members == ("sq-1", "vol-1", "vol-4")
    refused(memory_engine, InvalidTransitionError, lambda: memory_engine.emergencies.call_up(
        emergency, actor=OFFICE, occurred_at=T0 + minutes(4)), match="nobody to call up")


@pytest.mark.parametrize("teams", [[], ["resident"], ["squad_member", "squad_member"],
                                   "squad_member", [3]])
def test_teams_must_be_distinct_roster_roles(memory_engine: Engine, donghu: UUID,
                                              teams: Any) -> None:
    """An empty list, a role off the roster, a repeat, a bare string, a number: refused."""
    emergency = flood(memory_engine, donghu)
    refused(memory_engine, InvalidInputError, lambda: memory_engine.emergencies.call_up(
        emergency, teams, actor=OFFICE, occurred_at=T0 + minutes(2)))


# Answers and arrivals --------------------------------------------------------------------------


@pytest.fixture
def called(memory_engine: Engine, donghu: UUID) -> UUID:
    """A grid-3 flood at T0, its squad and volunteers called up at T0 + 2 min."""
    emergency = flood(memory_engine, donghu)
    memory_engine.emergencies.call_up(emergency, actor=OFFICE, occurred_at=T0 + minutes(2))
    return emergency


def test_members_answer_and_arrive_for_themselves(memory_engine: Engine, called: UUID) -> None:
    """Acknowledgement then arrival at a post, each once, each a fact of its own."""
    run = memory_engine.emergencies
    run.acknowledge(called, "sq-1", actor=member("sq-1"), occurred_at=T0 + minutes(3))
    run.arrive(called, "sq-1", "east levee", actor=member("sq-1"), occurred_at=T0 + minutes(15))
    emergency = run.get(called)
    assert emergency.posts == {"sq-1": "east levee"}
    refused(memory_engine, InvalidTransitionError, lambda: run.acknowledge(
        called, "sq-1", actor=OFFICE, occurred_at=T0 + minutes(16)), match="already")
    refused(memory_engine, InvalidTransitionError, lambda: run.arrive(
        called, "sq-1", "school", actor=OFFICE, occurred_at=T0 + minutes(16)), match="already")


@pytest.mark.parametrize(("person", "at", "match"), [
    ("sq-3", 5, "was not called up"),
    ("nobody", 5, "was not called up"),
    ("sq-1", 1, "call-up"),
])
def test_only_members_called_answer_and_never_before_their_call_up(
        memory_engine: Engine, called: UUID, person: str, at: int, match: str) -> None:
    """Grid 4's squad member was not called; nobody answers before being called."""
    run = memory_engine.emergencies
    refused(memory_engine, InvalidTransitionError, lambda: run.acknowledge(
        called, person, actor=OFFICE, occurred_at=T0 + minutes(at)), match=match)
    refused(memory_engine, InvalidTransitionError, lambda: run.arrive(
        called, person, "gate", actor=OFFICE, occurred_at=T0 + minutes(at)), match=match)


def test_an_arrival_never_precedes_the_members_acknowledgement(
        memory_engine: Engine, called: UUID) -> None:
    """Arriving before the recorded acknowledgement, or acknowledging after the recorded
    arrival, is refused; arriving unannounced is an answer."""
    run = memory_engine.emergencies
    run.acknowledge(called, "sq-1", actor=OFFICE, occurred_at=T0 + minutes(10))
    refused(memory_engine, InvalidTransitionError, lambda: run.arrive(
        called, "sq-1", "gate", actor=OFFICE, occurred_at=T0 + minutes(9)))
    run.arrive(called, "sq-2", "gate", actor=OFFICE, occurred_at=T0 + minutes(12))
    refused(memory_engine, InvalidTransitionError, lambda: run.acknowledge(
        called, "sq-2", actor=OFFICE, occurred_at=T0 + minutes(13)))
    run.acknowledge(called, "sq-2", actor=OFFICE, occurred_at=T0 + minutes(11))  # a late record
    assert memory_engine.mobilisation(called).answered == 2


# Ending ------------------------------------------------------------------------------------------


def test_ending_returns_to_peacetime_and_is_the_last_fact(
        memory_engine: Engine, called: UUID) -> None:
    """The end is dated no earlier than any fact; then facts dated after it are refused,
    late records dated before it accepted, and it can't end twice."""
    run = memory_engine.emergencies
    run.arrive(called, "sq-1", "gate", actor=OFFICE, occurred_at=T0 + minutes(20))
    refused(memory_engine, InvalidTransitionError, lambda: run.end(
        called, actor=OFFICE, occurred_at=T0 + minutes(19)), match="times can't go backwards")
    run.end(called, actor=OFFICE, occurred_at=T0 + minutes(60))
    ended = memory_engine.events(called)[-1]
    assert isinstance(ended, Emergency.Ended)
    assert ended.reason == "return to normal order"
    assert ended.notice == "emergency.ended"
    refused(memory_engine, InvalidTransitionError, lambda: run.arrive(
        called, "sq-2", "gate", actor=OFFICE, occurred_at=T0 + minutes(61)),
        match="new emergency")
    refused(memory_engine, InvalidTransitionError, lambda: run.end(
        called, actor=OFFICE, occurred_at=T0 + minutes(70)), match="already ended")
    run.arrive(called, "sq-2", "gate", actor=OFFICE, occurred_at=T0 + minutes(40))
    assert run.get(called).arrived.keys() == {"sq-1", "sq-2"}
    refused(memory_engine, InvalidTransitionError, lambda: run.correct_time(
        called, 2, T0 + minutes(65), "log", actor=OFFICE))  # the call-up past the end
    stored = run.get(called)
    assert not stored.in_force(T0 + minutes(60))
    assert stored.in_force(T0 + minutes(59))


# In force --------------------------------------------------------------------------------------


def test_in_force_covers_the_whole_community_and_the_grid_an_area_is_in(
        memory_engine: Engine, donghu: UUID) -> None:
    """A grid's emergency covers its buildings and units, not another grid nor the
    community as a whole; a community's covers everything; both only while in force."""
    run = memory_engine.emergencies
    grid_flood = flood(memory_engine, donghu, "3")
    power = flood(memory_engine, donghu, None, kind="power_cut", occurred_at=T0 + minutes(30))
    run.end(power, actor=OFFICE, occurred_at=T0 + minutes(90))

    def ids(area: str | None, at_minutes: int) -> list[UUID]:
        return [e.id for e in run.in_force(donghu, area, T0 + minutes(at_minutes))]

    assert ids("30/1", 10) == ids("30", 10) == ids("3", 10) == [grid_flood]
    assert ids("4", 10) == ids(None, 10) == []
    assert ids("30/1", 30) == [grid_flood, power]
    assert ids("4", 60) == [power]
    assert ids("4", 90) == []
    assert ids("3", -1) == []
    assert run.in_emergency(donghu, "30", T0)
    assert not run.in_emergency(donghu, "4", T0)
    run.in_force(donghu, "3", T0)[0].posts["x"] = "changed by a caller"
    assert run.in_force(donghu, "3", T0)[0].posts == {}  # copies, not the cached objects
    with pytest.raises(NotFoundError):
        run.in_force(donghu, "99", T0)
    with pytest.raises(NotFoundError):
        run.in_force(uuid4(), None, T0)


def test_in_force_reads_only_the_communitys_own_emergencies(
        memory_engine: Engine, donghu: UUID) -> None:
    """Another community's emergency never covers this one."""
    other = memory_engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                               name="Xiangyang", actor=OFFICE,
                                               occurred_at=T0 - minutes(60)).aggregate_id
    flood(memory_engine, other, None)
    assert memory_engine.emergencies.in_force(donghu, None, T0 + minutes(1)) == []


def test_in_force_sees_the_open_batchs_own_declaration(
        memory_engine: Engine, donghu: UUID) -> None:
    """Inside engine.batch() the batch's declaration is in force before it is saved."""
    with memory_engine.batch():
        emergency = flood(memory_engine, donghu, None)
        assert [e.id for e in memory_engine.emergencies.in_force(donghu, "4", T0)] == [
            emergency]


def test_in_force_sees_an_end_recorded_in_the_open_batch(
        memory_engine: Engine, donghu: UUID) -> None:
    """An emergency of the views ended inside the open batch is read from the batch's
    aggregate: not in force after its end, before the batch is saved."""
    emergency = flood(memory_engine, donghu, None)
    assert memory_engine.emergencies.in_emergency(donghu, "4", T0 + minutes(20))
    with memory_engine.batch():
        memory_engine.emergencies.end(emergency, actor=OFFICE, occurred_at=T0 + minutes(10))
        assert not memory_engine.emergencies.in_emergency(donghu, "4", T0 + minutes(20))
        assert memory_engine.emergencies.in_emergency(donghu, "4", T0 + minutes(5))
    assert not memory_engine.emergencies.in_emergency(donghu, "4", T0 + minutes(20))


def test_in_emergency_loads_no_emergency_and_reads_the_views_once_per_position(
        memory_engine: Engine, donghu: UUID, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the watch asks of every case is cheap: no emergency aggregate is loaded, and
    the community's emergencies are read from the views once until something new is
    recorded; then again, once."""
    run = memory_engine.emergencies
    for hour in range(5):  # long ended: they must cost nothing more each call
        old = flood(memory_engine, donghu, None, occurred_at=T0 - minutes(600 - 60 * hour))
        run.end(old, actor=OFFICE, occurred_at=T0 - minutes(570 - 60 * hour))
    grid_flood = flood(memory_engine, donghu, "3")
    store, views = run._store, run._reports.views
    loaded: list[UUID] = []
    selects: list[str] = []
    current, load, select = store.current, store.load, views.select

    def counted_current(cls: Any, aggregate_id: UUID) -> Any:
        if cls is Emergency:
            loaded.append(aggregate_id)
        return current(cls, aggregate_id)

    def counted_load(cls: Any, aggregate_id: UUID) -> Any:
        if cls is Emergency:
            loaded.append(aggregate_id)
        return load(cls, aggregate_id)

    def counted_select(view: str, kind: str, **kwargs: Any) -> Any:
        if kind == "emergency":
            selects.append(kind)
        return select(view, kind, **kwargs)

    monkeypatch.setattr(store, "current", counted_current)
    monkeypatch.setattr(store, "load", counted_load)
    monkeypatch.setattr(views, "select", counted_select)
    for _ in range(50):
        assert run.in_emergency(donghu, "30/1", T0 + minutes(5))
        assert not run.in_emergency(donghu, "4", T0 + minutes(5))
    assert run.in_emergency(donghu, "4", T0 - minutes(590))
    assert (loaded, selects) == ([], ["emergency"])
    run.end(grid_flood, actor=OFFICE, occurred_at=T0 + minutes(60))
    loaded.clear()
    assert not run.in_emergency(donghu, "30/1", T0 + minutes(61))
    assert run.in_emergency(donghu, "30/1", T0 + minutes(59))
    assert (loaded, selects) == ([], ["emergency", "emergency"])


def test_emergencies_and_cases_read_a_cut_by_one_rule(
        memory_engine: Engine, called: UUID, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An emergency at a cut is read by the rule of cases (``times_at_cut``): a time
    correction counts from when it was recorded, and only for a fact known then too."""
    recorded_at = clock()
    clock.set(recorded_at + minutes(60))
    memory_engine.emergencies.correct_time(called, 2, T0 + minutes(1), "the phone log",
                                           actor=OFFICE)
    run = memory_engine.emergencies
    assert run.situation(called).first_called_at == T0 + minutes(1)
    assert run.situation(called, known_at=recorded_at).first_called_at == T0 + minutes(2)
    used: list[object] = []

    def spy(doc: Any, known: Any, **kwargs: Any) -> Any:
        used.append(known)
        return times_at_cut(doc, known, **kwargs)

    monkeypatch.setattr("resilience.metrics.mobilisation.times_at_cut", spy)
    run.situation(called, known_at=recorded_at)
    assert used
    doc = {"facts": [["Declared", "2024-01-01T10:00:00+00:00", "2024-01-01T10:00:00+00:00"],
                     ["NoteAdded", "2024-01-01T10:05:00+00:00", "2024-01-01T12:00:00+00:00"],
                     ["TimeCorrected", "2024-01-01T10:00:00+00:00",
                      "2024-01-01T11:00:00+00:00"]],
           "corrections": [[3, 2, "NoteAdded", "time", "clock set back",
                            "2024-01-01T10:01:00+00:00", "2024-01-01T10:05:00+00:00"]]}
    cut = datetime.fromisoformat("2024-01-01T11:30:00+00:00")
    times, first = times_at_cut(doc, known_at_cut(doc, cut))
    assert known_at_cut(doc, cut) == [True, False, True]
    assert times[2] == first[2] == datetime.fromisoformat("2024-01-01T10:01:00+00:00")


# The mobilisation report ----------------------------------------------------------------------


def test_the_mobilisation_report_counts_answers_and_times_arrivals_by_nearest_rank(
        memory_engine: Engine, called: UUID) -> None:
    """4 called (half: the 2nd arrival), 3 answered (one by arriving unannounced), 2
    arrived: first at 10 min, half at 25 min from the call-up, all not yet."""
    run = memory_engine.emergencies
    run.acknowledge(called, "sq-1", actor=OFFICE, occurred_at=T0 + minutes(3))
    run.acknowledge(called, "vol-1", actor=OFFICE, occurred_at=T0 + minutes(4))
    run.arrive(called, "sq-1", "gate", actor=OFFICE, occurred_at=T0 + minutes(12))
    run.arrive(called, "vol-4", "school", actor=OFFICE, occurred_at=T0 + minutes(27))
    report = memory_engine.mobilisation(called)
    assert (report.called, report.answered, report.arrived) == (4, 3, 2)
    assert report.answered_share == 0.75
    assert report.to_first == minutes(10)
    assert report.to_half == minutes(25)
    assert report.to_all is None
    assert report.duration is None
    assert report.time_to(3) is None
    early = memory_engine.mobilisation(called, as_of=T0 + minutes(20))
    assert (early.answered, early.arrived, early.to_half) == (2, 1, None)
    run.end(called, actor=OFFICE, occurred_at=T0 + minutes(240))
    assert memory_engine.mobilisation(called).duration == minutes(240)
    data = memory_engine.mobilisation(called).to_dict()
    assert data["to_half_s"] == 1500
    assert data["duration_s"] == 14400
    assert "called 4, answered 3 (75%), arrived 2" in memory_engine.mobilisation(
        called).render()


def test_the_mobilisation_report_gives_each_teams_share_that_answered(
        memory_engine: Engine, called: UUID) -> None:
    """The squad (sq-1, sq-2) and the volunteers (vol-1, vol-4) are reported apart: the
    share of the squad that answered, and of the volunteers, in the report, its dict and
    its text, each member beside their team."""
    run = memory_engine.emergencies
    run.acknowledge(called, "sq-1", actor=OFFICE, occurred_at=T0 + minutes(3))
    run.acknowledge(called, "vol-1", actor=OFFICE, occurred_at=T0 + minutes(4))
    run.arrive(called, "vol-4", "school", actor=OFFICE, occurred_at=T0 + minutes(27))
    report = memory_engine.mobilisation(called)
    squad, volunteers = report.teams["squad_member"], report.teams["volunteer"]
    assert list(report.teams) == ["squad_member", "volunteer"]
    assert (squad.called, squad.answered, squad.arrived, squad.answered_share) == (
        2, 1, 0, 0.5)
    assert (volunteers.called, volunteers.answered, volunteers.arrived,
            volunteers.answered_share) == (2, 2, 1, 1.0)
    data = report.to_dict()
    assert data["teams"]["squad_member"] == {"called": 2, "answered": 1,
                                             "answered_share": 0.5, "arrived": 0}
    assert [m["team"] for m in data["members"]] == [
        "squad_member", "squad_member", "volunteer", "volunteer"]
    text = report.render()
    assert "squad member: called 2, answered 1 (50%), arrived 0" in text
    assert "volunteer: called 2, answered 2 (100%), arrived 1" in text
    assert [m.team for m in memory_engine.emergencies.situation(called).members] == [
        "squad_member", "squad_member", "volunteer", "volunteer"]


def test_a_report_as_known_earlier_leaves_out_what_was_recorded_since(
        memory_engine: Engine, clock: ManualClock, called: UUID) -> None:
    """known_at: an arrival recorded later is not known; a time correction recorded later
    is undone."""
    clock.set(T0 + minutes(30))
    memory_engine.emergencies.arrive(called, "sq-1", "gate", actor=OFFICE,
                                     occurred_at=T0 + minutes(12))
    clock.set(T0 + minutes(40))
    memory_engine.emergencies.correct_time(called, 3, T0 + minutes(14), "the gate log",
                                           actor=OFFICE)
    assert memory_engine.mobilisation(called).to_first == minutes(12)
    assert memory_engine.mobilisation(called, known_at=T0 + minutes(35)).to_first == minutes(10)
    assert memory_engine.mobilisation(called, known_at=T0 + minutes(25)).arrived == 0
    with pytest.raises(NotFoundError):
        memory_engine.mobilisation(called, as_of=T0 - minutes(1))


# The situation's mode ------------------------------------------------------------------------


def test_the_situation_shows_the_mode_and_who_is_mobilised_where(
        memory_engine: Engine, called: UUID, donghu: UUID) -> None:
    """Peacetime before the declaration and after the end; in between the emergency, its
    members' answers and posts; a grid-4 situation does not see grid 3's flood."""
    run = memory_engine.emergencies
    run.arrive(called, "sq-1", "east levee", actor=OFFICE, occurred_at=T0 + minutes(12))
    run.end(called, actor=OFFICE, occurred_at=T0 + minutes(120))
    replay = memory_engine.replay
    assert replay.community(donghu, as_of=T0 - minutes(1)).mode == "peacetime"
    during = replay.community(donghu, as_of=T0 + minutes(30))
    assert during.mode == "emergency"
    [emergency] = during.emergencies
    assert emergency.emergency_id == str(called)
    assert emergency.area == "3"
    mobilised = during.mobilised[str(called)]
    assert [(m.person_id, m.status, m.post) for m in mobilised][:2] == [
        ("sq-1", "arrived", "east levee"), ("sq-2", "called", None)]
    assert replay.community(donghu, as_of=T0 + minutes(30), grid="3").mode == "emergency"
    assert replay.community(donghu, as_of=T0 + minutes(30), grid="4").mode == "peacetime"
    assert replay.community(donghu, as_of=T0 + minutes(120)).mode == "peacetime"
    text = format_situation(during, {"sq-1": "Li"})
    assert "Mode: emergency" in text
    assert "Li: arrived" in text
    assert "east levee" in text


# Views, stores, scenarios, the command line ----------------------------------------------------


def test_an_emergency_folds_into_the_timelines_and_cases_views_and_rebuilds_the_same(
        memory_engine: Engine, called: UUID) -> None:
    """Its timeline lists every fact; its cases document is of kind emergency; a rebuild
    from scratch gives the same documents."""
    memory_engine.emergencies.add_note(called, "sandbags at the school", actor=OFFICE,
                                       occurred_at=T0 + minutes(5))
    timeline = memory_engine.timeline(called)
    assert [e.action for e in timeline.entries] == ["Declared", "MobilisationCalled",
                                                    "NoteAdded"]
    memory_engine.views.catch_up()
    doc = memory_engine.views.get("cases", str(called))
    assert doc is not None
    assert doc["kind"] == "emergency"
    assert doc["area"] == "3"
    before = memory_engine.views.documents("cases")
    assert str(called) in before
    memory_engine.views.rebuild()
    assert memory_engine.views.documents("cases") == before
    assert memory_engine.views.quarantined() == []


def test_every_store_keeps_an_emergency_and_reads_it_back_equal(
        engine: Engine, clock: ManualClock) -> None:
    """On memory, SQLite and PostgreSQL: the facts read back equal, the report and the
    situations agree."""
    community = town(engine)
    emergency = flood(engine, community)
    engine.emergencies.call_up(emergency, actor=OFFICE, occurred_at=T0 + minutes(2))
    engine.emergencies.arrive(emergency, "sq-2", "gate", actor=OFFICE,
                              occurred_at=T0 + minutes(9))
    engine.emergencies.end(emergency, actor=OFFICE, occurred_at=T0 + minutes(99))
    events = engine.events(emergency)
    assert [type(e).__name__ for e in events] == ["Declared", "MobilisationCalled",
                                                  "MemberArrived", "Ended"]
    fresh = Engine(engine.url, clock=clock, policy=None) if engine.url != "memory:" else engine
    try:
        assert fresh.events(emergency) == events
        [listed] = fresh.emergencies.situations(community)
        assert listed == fresh.emergencies.situation(emergency)
        assert fresh.mobilisation(emergency).to_first == minutes(7)
    finally:
        if fresh is not engine:
            fresh.close()


SCENARIO = """{"format": "resilience.scenario", "version": 1, "name": "flood drill",
 "community": {"district": "Taishan", "subdistrict": "Daimiao", "name": "Floodtown"},
 "timezone": "Asia/Shanghai",
 "actions": [
  {"do": "register", "at": "2024-07-01T08:00", "actor": "office", "as": "community_staff"},
  {"do": "add_grid", "grid_id": "3", "at": "2024-07-01T08:00", "actor": "office",
   "as": "community_staff"},
  {"do": "enrol", "person_id": "sq1", "name": "Li", "at": "2024-07-01T08:00",
   "actor": "office", "as": "community_staff"},
  {"do": "assign_role", "person_id": "sq1", "role": "squad_member", "at": "2024-07-01T08:00",
   "actor": "office", "as": "community_staff"},
  {"do": "declare", "emergency": "flood", "kind": "flood", "area_id": "3",
   "reason": "river up", "at": "2024-07-02T08:00", "actor": "office",
   "as": "community_staff"},
  {"do": "call_up", "emergency": "flood", "teams": ["squad_member"], "at": "2024-07-02T08:05",
   "actor": "office", "as": "community_staff"},
  {"do": "acknowledge", "emergency": "flood", "person_id": "sq1", "at": "2024-07-02T08:06",
   "actor": "sq1", "as": "squad_member"},
  {"do": "arrive", "emergency": "flood", "person_id": "sq1", "post": "levee",
   "at": "2024-07-02T08:20", "actor": "sq1", "as": "squad_member"},
  {"do": "end", "emergency": "flood", "at": "2024-07-02T20:00", "actor": "office",
   "as": "community_staff"}
 ]}"""


def test_a_scenario_declares_mobilises_and_ends_an_emergency_by_its_key(tmp_path: Path) -> None:
    """Entries naming an "emergency" key run its commands; the replay returns its id; a
    second replay records nothing."""
    with Engine(f"sqlite:///{tmp_path / 's.db'}") as engine:
        result = replay(engine, parse_scenario(SCENARIO))
        emergency = result.emergencies["flood"]
        assert emergency == emergency_id_for(result.community_id, "flood")
        report = engine.mobilisation(emergency)
        assert (report.called, report.arrived, report.to_first) == (1, 1, minutes(15))
        assert replay(engine, parse_scenario(SCENARIO)).events_recorded == 0


@pytest.mark.parametrize(("entry", "match"), [
    ('{"do": "declare", "kind": "flood", "reason": "r"', "needs an 'emergency'"),
    ('{"do": "end", "emergency": "f", "incident": "i"', "'emergency' alone"),
    ('{"do": "dispatch", "emergency": "f"', "unknown emergency command"),
    ('{"do": "end", "emergency": ""', "'emergency' must be a non-empty key"),
])
def test_a_scenario_entry_misusing_the_emergency_key_is_refused(entry: str, match: str) -> None:
    """A command needing the key without it, the key beside another, an unknown command."""
    text = SCENARIO.replace('{"do": "end", "emergency": "flood"', entry)
    with pytest.raises(ScenarioError, match=match):
        parse_scenario(text)


def test_the_command_line_lists_emergencies_and_reports_a_mobilisation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """resilience emergencies: one row per emergency; resilience mobilisation ID: the
    report (or JSON); an unknown id exits 2."""
    db = str(tmp_path / "cli.db")
    scenario = tmp_path / "flood.json"
    scenario.write_text(SCENARIO, encoding="utf-8")
    assert main(["replay", "--db", db, str(scenario)]) == 0
    capsys.readouterr()
    assert main(["emergencies", "--db", db, "--community", "Floodtown",
                 "--as-of", "2024-07-02T09:00"]) == 0
    out = capsys.readouterr().out
    assert "flood" in out
    assert "grid 3" in out
    assert "in force" in out
    emergency = out.strip().splitlines()[-1].split()[0]
    assert main(["mobilisation", "--db", db, emergency]) == 0
    assert "time to mobilise: first 15 min, half 15 min, all 15 min" in capsys.readouterr().out
    assert main(["mobilisation", "--db", db, emergency, "--json"]) == 0
    assert '"to_first_s": 900.0' in capsys.readouterr().out
    assert main(["mobilisation", "--db", db, str(uuid4())]) == 2
    assert main(["situation", "--db", db, "--community", "Floodtown",
                 "--as-of", "2024-07-02T09:00"]) == 0
    assert "Mode: emergency" in capsys.readouterr().out


# Generated input -------------------------------------------------------------------------------

_JUNK = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.just("   "),
                  st.lists(st.text(max_size=3), max_size=2), st.just(T0.replace(tzinfo=None)))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_command_refuses_generated_bad_input_with_a_documented_error_recording_nothing(
        memory_engine: Engine, donghu: UUID, called: UUID, data: st.DataObject) -> None:
    """Arguments drawn from junk (None, numbers, blank or short texts, lists, naive times):
    each command either records what it accepted (and it reads back and folds) or raises a
    ResilienceError and records nothing."""
    run = memory_engine.emergencies
    commands: dict[str, Callable[[Any], object]] = {
        "declare_kind": lambda v: run.declare(donghu, kind=v, reason="r", actor=OFFICE,
                                              occurred_at=T0),
        "declare_area": lambda v: run.declare(donghu, kind="storm", reason="r", area_id=v,
                                              actor=OFFICE, occurred_at=T0),
        "declare_reason": lambda v: run.declare(donghu, kind="storm", reason=v, actor=OFFICE,
                                                occurred_at=T0),
        "call_up": lambda v: run.call_up(called, v, actor=OFFICE, occurred_at=T0 + minutes(3)),
        "acknowledge": lambda v: run.acknowledge(called, v, actor=OFFICE,
                                                 occurred_at=T0 + minutes(3)),
        "arrive": lambda v: run.arrive(called, "sq-1", v, actor=OFFICE,
                                       occurred_at=T0 + minutes(3)),
        "end_at": lambda v: run.end(called, actor=OFFICE, occurred_at=v),
        "note": lambda v: run.add_note(called, v, actor=OFFICE, occurred_at=T0 + minutes(3)),
    }
    name = data.draw(st.sampled_from(sorted(commands)))
    value = data.draw(_JUNK)
    before = recorded(memory_engine)
    try:
        commands[name](value)
    except ResilienceError:
        assert recorded(memory_engine) == before
    memory_engine.views.catch_up()
    assert memory_engine.views.quarantined() == []


# A person's rights ---------------------------------------------------------------------------


def test_an_export_lists_a_members_emergency_facts_and_an_erasure_reaches_them(
        clock: ManualClock) -> None:
    """On a protected store: the member's export holds the call-up naming them and the
    arrival they recorded (its post theirs); erased, their post reads as erased while the
    facts and the report stand."""
    key = b64encode(urandom(32)).decode()
    env = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": key}
    with Engine("memory:", env=env, clock=clock) as engine:
        community = town(engine)
        emergency = flood(engine, community)
        engine.emergencies.call_up(emergency, actor=OFFICE, occurred_at=T0 + minutes(2))
        engine.emergencies.arrive(emergency, "sq-1", "Li's own flat", actor=member("sq-1"),
                                  occurred_at=T0 + minutes(9))
        export = engine.export_person("sq-1", actor=OFFICE)
        mine = {fact["fact"]: fact["relation"] for fact in export["facts"]
                if fact["aggregate"] == "emergency"}
        assert mine == {"MobilisationCalled": ["named"],
                        "MemberArrived": ["recorded", "personal", "named"]}
        engine.erase_person("sq-1", community=community, actor=OFFICE, reason="request")
        arrived = engine.events(emergency)[-1]
        assert isinstance(arrived, Emergency.MemberArrived)
        assert arrived.post != "Li's own flat"
        assert "erased" in arrived.post
        assert engine.mobilisation(emergency).arrived == 1


def test_the_watchs_question_places_an_unknown_area_in_the_whole_community(
        memory_engine: Engine, donghu: UUID) -> None:
    """in_emergency (asked for every case) reads an area the community lacks as somewhere in
    the community: only its whole-community emergencies cover it; in_force refuses it."""
    grid_flood = flood(memory_engine, donghu, "3")
    run = memory_engine.emergencies
    assert not run.in_emergency(donghu, "99/1", T0 + minutes(1))
    assert run.in_emergency(donghu, "30/1", T0 + minutes(1))
    power = flood(memory_engine, donghu, None, kind="power_cut")
    assert run.in_emergency(donghu, "99/1", T0 + minutes(1))
    assert [e.id for e in run.in_force(donghu, "30", T0 + minutes(1))] == sorted(
        [grid_flood, power], key=str)
    with pytest.raises(NotFoundError):
        run.in_force(donghu, "99/1", T0)


def test_two_engines_on_one_store_see_each_others_emergencies_and_call_up_once(
        shared_store_url: str, clock: ManualClock) -> None:
    """What one engine declares is in force for another at once (as stored now); a call-up
    repeated by the other engine under the same command id records nothing, and under
    another finds nobody left to call."""
    with Engine(shared_store_url, clock=clock, policy=None) as one, \
            Engine(shared_store_url, clock=clock, policy=None) as other:
        community = town(one)
        assert other.emergencies.in_force(community, "30", T0) == []  # read, views cached
        emergency = flood(one, community)
        assert [e.id for e in other.emergencies.in_force(community, "30", T0)] == [emergency]
        first = one.emergencies.call_up(emergency, actor=OFFICE, occurred_at=T0 + minutes(2),
                                        command_id="call-1")
        assert other.emergencies.call_up(emergency, actor=OFFICE, occurred_at=T0 + minutes(2),
                                         command_id="call-1") == first
        with pytest.raises(InvalidTransitionError, match="nobody to call up"):
            other.emergencies.call_up(emergency, actor=OFFICE, occurred_at=T0 + minutes(3))
        assert len(one.events(emergency)) == 2
