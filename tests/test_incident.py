"""Incident rules: each rejected command raises a documented error and records nothing."""

import functools
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest

from resilience import (
    Actor,
    ClosureReason,
    Engine,
    IncidentStatus,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    NotFoundError,
    ResilienceError,
    Role,
    UnitSpec,
)

from conftest import OFFICE, T0, minutes

ZHANG = Actor("zhang", Role.GRID_LEADER)
LI = Actor("li", Role.SQUAD_MEMBER)


@pytest.fixture
def community(memory_engine: Engine) -> UUID:
    """Donghu with grid 3 and building 30."""
    c = memory_engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                           name="Donghu", actor=OFFICE,
                                           occurred_at=T0 - timedelta(days=9)).aggregate_id
    memory_engine.communities.add_grid(c, "3", actor=OFFICE)
    memory_engine.communities.add_grid(c, "4", actor=OFFICE)
    memory_engine.communities.add_building(c, "30", "3", [UnitSpec("1", 24)], actor=OFFICE)
    return c


@pytest.fixture
def fire(memory_engine: Engine, community: UUID) -> UUID:
    """The Donghu fire, detected at T0 and reported a minute later."""
    return memory_engine.incidents.report(
        community, incident_type="fire", severity="high",
        location=Location(building="30", unit="1", floor=-1), description="smoke",
        actor=ZHANG, detected_at=T0, occurred_at=T0 + minutes(1),
    ).aggregate_id


def rejected(engine: Engine, aggregate: UUID, error: type[ResilienceError],
             command: Callable[[], object], match: str | None = None) -> None:
    """Assert the command raises ``error`` and the aggregate gained no event."""
    before = len(engine.events(aggregate))
    with pytest.raises(error, match=match):
        command()
    assert len(engine.events(aggregate)) == before


def test_report_records_detection_and_report_as_two_facts(memory_engine: Engine,
                                                          fire: UUID) -> None:
    """Detection and report are separate facts, so detection -> reported can be measured."""
    detected, reported = memory_engine.events(fire)
    assert (type(detected).__name__, detected.occurred_at) == ("Detected", T0)
    assert (type(reported).__name__, reported.occurred_at) == ("Reported", T0 + minutes(1))


def test_location_is_checked_against_the_community(memory_engine: Engine,
                                                   community: UUID) -> None:
    """An unknown building, a unit without its building or a wrong grid is rejected."""
    def report(location: Location) -> object:
        return memory_engine.incidents.report(community, incident_type="fire", severity="low",
                                              location=location, description="x", actor=ZHANG)
    with pytest.raises(NotFoundError, match="99"):
        report(Location(building="99"))
    with pytest.raises(InvalidInputError, match="needs its building"):
        report(Location(unit="1"))
    with pytest.raises(InvalidInputError, match="grid 3, not 4"):
        report(Location(grid="4", building="30"))
    assert memory_engine.app.recorder.max_notification_id() == 4  # the community's facts only


def test_unknown_type_and_naive_times_are_invalid_input(memory_engine: Engine,
                                                        community: UUID) -> None:
    """Enum values are checked and a naive datetime is refused with a hint."""
    with pytest.raises(InvalidInputError, match="incident_type must be one of"):
        memory_engine.incidents.report(community, incident_type="volcano", severity="low",
                                       location=Location(), description="x", actor=ZHANG)
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        memory_engine.incidents.report(community, incident_type="fire", severity="low",
                                       location=Location(), description="x", actor=ZHANG,
                                       occurred_at=T0.replace(tzinfo=None))


def test_nothing_happens_before_detection(memory_engine: Engine, fire: UUID) -> None:
    """A fact dated before detection is rejected."""
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: memory_engine.incidents.acknowledge(fire, actor=OFFICE,
                                                         occurred_at=T0 - minutes(1)),
             "before detection")


def test_forced_entry_needs_consent_first(memory_engine: Engine, fire: UUID) -> None:
    """No breach without a consent granted at or before it; a refusal does not count."""
    incidents = memory_engine.incidents
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.force_entry(fire, "lock", actor=LI, occurred_at=T0 + minutes(5)),
             "consent")
    incidents.request_consent(fire, "owner", "break the lock", actor=LI,
                              occurred_at=T0 + minutes(5))
    incidents.refuse_consent(fire, "owner", "not my room", actor=LI, occurred_at=T0 + minutes(6))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.force_entry(fire, "lock", actor=LI, occurred_at=T0 + minutes(7)))
    incidents.request_consent(fire, "neighbour", "break the lock", actor=LI,
                              occurred_at=T0 + minutes(7))
    incidents.grant_consent(fire, "neighbour", actor=LI, occurred_at=T0 + minutes(8))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.force_entry(fire, "lock", actor=LI, occurred_at=T0 + minutes(7)))
    incidents.force_entry(fire, "lock", actor=LI, occurred_at=T0 + minutes(9))
    assert memory_engine.incidents.get(fire).pending_consents() == []


def test_exigent_authorisation_is_its_own_fact(memory_engine: Engine, fire: UUID) -> None:
    """Forced entry without consent is allowed only after an explicit exigent authorisation."""
    memory_engine.incidents.authorise_exigent_entry(fire, "smoke spreading to the stairwell",
                                                    actor=ZHANG, occurred_at=T0 + minutes(3))
    memory_engine.incidents.force_entry(fire, "lock", actor=LI, occurred_at=T0 + minutes(4))
    names = [type(e).__name__ for e in memory_engine.events(fire)]
    assert names[-2:] == ["ExigentEntryAuthorised", "ForcedEntryMade"]


def test_consent_answer_needs_a_pending_request(memory_engine: Engine, fire: UUID) -> None:
    """A resident can't grant consent nobody asked for."""
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: memory_engine.incidents.grant_consent(fire, "owner", actor=LI),
             "request consent first")


def test_responder_chain_times_cannot_go_backwards(memory_engine: Engine, fire: UUID) -> None:
    """dispatched <= en route <= on scene for one responder."""
    incidents = memory_engine.incidents
    incidents.dispatch(fire, ["li"], actor=OFFICE, occurred_at=T0 + minutes(2))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.en_route(fire, "li", actor=LI, occurred_at=T0 + minutes(1)),
             "backwards")
    incidents.en_route(fire, "li", actor=LI, occurred_at=T0 + minutes(3))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.arrive(fire, "li", actor=LI, occurred_at=T0 + minutes(2)))
    incidents.arrive(fire, "li", actor=LI, occurred_at=T0 + minutes(4))
    assert memory_engine.incidents.get(fire).status is IncidentStatus.ON_SCENE


def test_a_dispatch_of_a_team_is_all_or_nothing(memory_engine: Engine, fire: UUID) -> None:
    """One already-dispatched member rejects the whole team dispatch."""
    memory_engine.incidents.dispatch(fire, ["li"], actor=OFFICE)
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: memory_engine.incidents.dispatch(fire, ["wang", "li"], actor=OFFICE),
             "li was already dispatched")


def test_a_closed_incident_accepts_amendments_and_nothing_dated_after_its_closure(
        memory_engine: Engine, fire: UUID) -> None:
    """After closing, corrections and late records dated at or before the closure are
    accepted; a fact dated after it, or a step, is refused until the incident is reopened."""
    incidents = memory_engine.incidents
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.close(fire, ClosureReason.RESOLVED, actor=OFFICE), "resolved first")
    incidents.close(fire, "false_alarm", actor=OFFICE, occurred_at=T0 + minutes(40))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.add_note(fire, "late note", actor=OFFICE,
                                        occurred_at=T0 + minutes(41)), "nothing but a reopen")
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.resolve(fire, "out", actor=OFFICE, occurred_at=T0 + minutes(41)),
             "nothing but a reopen")
    incidents.add_note(fire, "late note", actor=OFFICE, occurred_at=T0 + minutes(40))
    incidents.correct_time(fire, 2, T0 + minutes(2), "phone log", actor=OFFICE,
                           occurred_at=T0 + minutes(90))
    incidents.correct_details(fire, 1, "smoke, basement", "wording", actor=OFFICE,
                              occurred_at=T0 + minutes(90))
    assert incidents.get(fire).status is IncidentStatus.CLOSED
    incidents.reopen(fire, "it was real", actor=OFFICE, occurred_at=T0 + minutes(95))
    incidents.add_note(fire, "later note", actor=OFFICE, occurred_at=T0 + minutes(96))
    assert incidents.get(fire).status is IncidentStatus.REOPENED


def test_time_correction_applies_and_keeps_the_original(memory_engine: Engine,
                                                        fire: UUID) -> None:
    """A correction moves the effective time; the timeline still shows the original."""
    incidents = memory_engine.incidents
    contained = incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(14)).first_version
    incidents.correct_time(fire, contained, T0 + minutes(12), "phone log", actor=OFFICE)
    assert incidents.get(fire).time_of(contained) == T0 + minutes(12)
    entry = memory_engine.timeline(fire).first("Contained")
    assert entry is not None
    assert (entry.occurred_at, entry.original_occurred_at) == (T0 + minutes(12), T0 + minutes(14))
    assert entry.corrected_by == (contained + 1,)


def test_corrections_cannot_break_invariants(memory_engine: Engine, fire: UUID) -> None:
    """Moving a fact before detection, or a breach before its consent, is rejected."""
    incidents = memory_engine.incidents
    incidents.request_consent(fire, "owner", "lock", actor=LI, occurred_at=T0 + minutes(5))
    incidents.grant_consent(fire, "owner", actor=LI, occurred_at=T0 + minutes(6))
    breach = incidents.force_entry(fire, "lock", actor=LI, occurred_at=T0 + minutes(7))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, breach.first_version, T0 + minutes(5), "x",
                                            actor=OFFICE), "precede")
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, 2, T0 - minutes(5), "x", actor=OFFICE),
             "before detection")
    rejected(memory_engine, fire, NotFoundError,
             lambda: incidents.correct_time(fire, 99, T0, "x", actor=OFFICE))


def test_correcting_a_correction_is_refused(memory_engine: Engine, fire: UUID) -> None:
    """Corrections name the original fact, never another correction."""
    receipt = memory_engine.incidents.correct_details(fire, 1, "storage room 3", "exact room",
                                                      actor=OFFICE)
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: memory_engine.incidents.correct_details(fire, receipt.first_version, "y",
                                                             "z", actor=OFFICE))
    entry = memory_engine.timeline(fire).first("Detected")
    assert entry is not None
    assert entry.details == "storage room 3"
    assert entry.original_details.startswith("fire (high)")


def test_unknown_incident_is_not_found(memory_engine: Engine, community: UUID) -> None:
    """Commands on an id that is not an incident raise NotFoundError."""
    with pytest.raises(NotFoundError, match="is a community, not an incident"):
        memory_engine.incidents.acknowledge(community, actor=OFFICE)
    with pytest.raises(NotFoundError):
        memory_engine.incidents.acknowledge(UUID(int=7), actor=OFFICE)


def test_a_consent_answer_cannot_be_corrected_to_before_its_request(memory_engine: Engine,
                                                                    fire: UUID) -> None:
    """Corrections keep each consent answer after the request it answered."""
    incidents = memory_engine.incidents
    incidents.request_consent(fire, "owner", "lock", actor=LI, occurred_at=T0 + minutes(5))
    answer = incidents.grant_consent(fire, "owner", actor=LI, occurred_at=T0 + minutes(6))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, answer.first_version, T0 + minutes(4), "x",
                                            actor=OFFICE), "precede the request")


def test_a_late_recorded_earlier_assignment_does_not_displace_the_commander(
        memory_engine: Engine, fire: UUID) -> None:
    """The commander is named by the assignment that happened last, not the last recorded."""
    incidents = memory_engine.incidents
    incidents.assign_commander(fire, "wu", actor=OFFICE, occurred_at=T0 + minutes(10))
    incidents.assign_commander(fire, "ma", actor=OFFICE, occurred_at=T0 + minutes(5))
    assert incidents.get(fire).commander == "wu"
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.assign_commander(fire, "wu", actor=OFFICE), "already")


def test_a_late_recorded_earlier_reclassification_does_not_override_the_later_one(
        memory_engine: Engine, fire: UUID) -> None:
    """Type and severity are those of the reclassification that happened last."""
    incidents = memory_engine.incidents
    incidents.reclassify(fire, severity="critical", actor=OFFICE, occurred_at=T0 + minutes(10))
    incidents.reclassify(fire, incident_type="gas", severity="low", actor=OFFICE,
                         occurred_at=T0 + minutes(5))
    incident = incidents.get(fire)
    assert (incident.incident_type.value, incident.severity.value) == ("fire", "critical")
    rejected(memory_engine, fire, InvalidInputError,
             lambda: incidents.reclassify(fire, severity="critical", actor=OFFICE),
             "changes neither")


def test_correcting_an_assignment_time_can_change_the_commander(memory_engine: Engine,
                                                                fire: UUID) -> None:
    """Moving an assignment after another one puts its person in command."""
    incidents = memory_engine.incidents
    wu = incidents.assign_commander(fire, "wu", actor=OFFICE, occurred_at=T0 + minutes(5))
    incidents.assign_commander(fire, "ma", actor=OFFICE, occurred_at=T0 + minutes(10))
    assert incidents.get(fire).commander == "ma"
    incidents.correct_time(fire, wu.first_version, T0 + minutes(15), "radio log", actor=OFFICE)
    assert incidents.get(fire).commander == "wu"


def test_a_consent_answer_answers_the_request_that_happened_last(memory_engine: Engine,
                                                                 fire: UUID) -> None:
    """A late-recorded earlier request leaves the later one pending; answers must follow it."""
    incidents = memory_engine.incidents
    last = incidents.request_consent(fire, "owner", "lock", actor=LI,
                                     occurred_at=T0 + minutes(10))
    incidents.request_consent(fire, "owner", "door", actor=LI, occurred_at=T0 + minutes(5))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.grant_consent(fire, "owner", actor=LI, occurred_at=T0 + minutes(7)),
             "before the consent request")
    answer = incidents.grant_consent(fire, "owner", actor=LI, occurred_at=T0 + minutes(12))
    incident = incidents.get(fire)
    assert incident.answered_requests == {answer.first_version: last.first_version}
    assert incident.pending_consents() == []


def test_resolve_close_and_reopen_cannot_go_back_in_time(memory_engine: Engine,
                                                         fire: UUID) -> None:
    """Each of resolve, close and reopen is dated no earlier than the one before it."""
    incidents = memory_engine.incidents
    incidents.resolve(fire, "out", actor=OFFICE, occurred_at=T0 + minutes(30))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.close(fire, "resolved", actor=OFFICE, occurred_at=T0 + minutes(20)),
             "before the incident's resolution")
    incidents.close(fire, "resolved", actor=OFFICE, occurred_at=T0 + minutes(40))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.reopen(fire, "smoke", actor=OFFICE, occurred_at=T0 + minutes(35)),
             "before the incident's closure")
    incidents.reopen(fire, "smoke", actor=OFFICE, occurred_at=T0 + minutes(50))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.resolve(fire, "out", actor=OFFICE, occurred_at=T0 + minutes(45)),
             "before the incident's reopening")
    incidents.resolve(fire, "out", actor=OFFICE, occurred_at=T0 + minutes(50))  # a tie is fine


def test_a_correction_cannot_reorder_resolution_closure_and_reopening(memory_engine: Engine,
                                                                      fire: UUID) -> None:
    """Time corrections keep resolve, close and reopen in the order they were recorded."""
    incidents = memory_engine.incidents
    resolved = incidents.resolve(fire, "out", actor=OFFICE, occurred_at=T0 + minutes(30))
    incidents.close(fire, "resolved", actor=OFFICE, occurred_at=T0 + minutes(40))
    reopened = incidents.reopen(fire, "smoke", actor=OFFICE, occurred_at=T0 + minutes(50))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, reopened.first_version, T0 + minutes(35),
                                            "log", actor=OFFICE),
             "reopening would precede its closure")
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, resolved.first_version, T0 + minutes(45),
                                            "log", actor=OFFICE),
             "closure would precede its resolution")
    incidents.correct_time(fire, reopened.first_version, T0 + minutes(40), "log", actor=OFFICE)


# Reopen cycles and late records -----------------------------------------------------------


def test_a_rekindled_fire_is_contained_and_resolved_again_after_a_reopening(
        memory_engine: Engine, fire: UUID) -> None:
    """Contained 10:20, resolved 10:30, reopened 11:00, contained 11:10, resolved 11:30: each
    containment and resolution belongs to its own cycle."""
    incidents = memory_engine.incidents
    first = incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(20)).first_version
    incidents.resolve(fire, "out", actor=ZHANG, occurred_at=T0 + minutes(30))
    assert incidents.get(fire).status is IncidentStatus.RESOLVED
    reopened = incidents.reopen(fire, "flare-up", actor=ZHANG, occurred_at=T0 + minutes(60))
    incident = incidents.get(fire)
    assert (incident.status, incident.contained, incident.cycle) == (
        IncidentStatus.REOPENED, None, 1)
    second = incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(70)).first_version
    assert incidents.get(fire).status is IncidentStatus.CONTAINED
    incidents.resolve(fire, "out again", actor=ZHANG, occurred_at=T0 + minutes(90))
    incident = incidents.get(fire)
    assert incident.status is IncidentStatus.RESOLVED
    assert (incident.cycle_of(first), incident.cycle_of(reopened.first_version),
            incident.cycle_of(second), incident.reopen_count) == (0, 1, 1, 1)
    assert incident.containments == [first, second]


def test_a_second_containment_in_one_cycle_is_refused(memory_engine: Engine,
                                                      fire: UUID) -> None:
    """One containment per cycle: another, before the reopening or after it, needs a reopen
    (before it) or is refused (the new cycle has one)."""
    incidents = memory_engine.incidents
    incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(20))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(25)),
             "already contained")
    incidents.resolve(fire, "out", actor=ZHANG, occurred_at=T0 + minutes(30))
    incidents.reopen(fire, "flare-up", actor=ZHANG, occurred_at=T0 + minutes(60))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(40)),
             "already contained in cycle 0")
    incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(70))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(75)),
             "already contained in cycle 1")


def test_a_resolved_incident_can_be_reopened_without_being_closed(memory_engine: Engine,
                                                                   fire: UUID) -> None:
    """Reopen needs a resolution or a closure; an incident that has neither is refused."""
    incidents = memory_engine.incidents
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.reopen(fire, "smoke", actor=ZHANG, occurred_at=T0 + minutes(5)),
             "only a resolved or closed incident")
    incidents.resolve(fire, "out", actor=ZHANG, occurred_at=T0 + minutes(30))
    incidents.reopen(fire, "smoke", actor=ZHANG, occurred_at=T0 + minutes(40))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.reopen(fire, "again", actor=ZHANG, occurred_at=T0 + minutes(45)),
             "only a resolved or closed incident")
    assert incidents.get(fire).reopen_count == 1


def test_after_a_reopening_responders_are_dispatched_and_arrive_again(memory_engine: Engine,
                                                                      fire: UUID) -> None:
    """A responder's chain is per cycle: dispatched, en route and on scene again after a
    reopening; the status follows the new cycle."""
    incidents = memory_engine.incidents
    incidents.dispatch(fire, ["li"], actor=OFFICE, occurred_at=T0 + minutes(2))
    incidents.arrive(fire, "li", actor=LI, occurred_at=T0 + minutes(5))
    incidents.resolve(fire, "out", actor=ZHANG, occurred_at=T0 + minutes(30))
    incidents.close(fire, "resolved", actor=OFFICE, occurred_at=T0 + minutes(40))
    incidents.reopen(fire, "flare-up", actor=ZHANG, occurred_at=T0 + minutes(60))
    assert incidents.get(fire).on_scene() == []
    incidents.dispatch(fire, ["li"], actor=OFFICE, occurred_at=T0 + minutes(61))
    assert incidents.get(fire).status is IncidentStatus.DISPATCHED
    incidents.en_route(fire, "li", actor=LI, occurred_at=T0 + minutes(62))
    incidents.arrive(fire, "li", actor=LI, occurred_at=T0 + minutes(65))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.arrive(fire, "li", actor=LI, occurred_at=T0 + minutes(66)),
             "li was already on scene in cycle 1")
    incident = incidents.get(fire)
    assert (incident.status, incident.on_scene()) == (IncidentStatus.ON_SCENE, ["li"])
    assert set(incident.chains(0)) == set(incident.chains(1)) == {"li"}
    assert incident.chains(0)["li"].en_route is None


def test_an_en_route_recorded_after_the_arrival_is_accepted_when_its_time_fits(
        memory_engine: Engine, fire: UUID) -> None:
    """Detected 10:00, dispatched 10:01, on scene 10:05 recorded 10:06, then en route 10:02
    recorded 10:20: the chain rule is about times, not the order of recording."""
    incidents = memory_engine.incidents
    incidents.dispatch(fire, ["li"], actor=OFFICE, occurred_at=T0 + minutes(1))
    incidents.arrive(fire, "li", actor=LI, occurred_at=T0 + minutes(5))
    en_route = incidents.en_route(fire, "li", actor=LI, occurred_at=T0 + minutes(2))
    chain = incidents.get(fire).chains()["li"]
    assert chain.en_route == en_route.first_version


def test_a_late_chain_record_must_still_fit_between_its_neighbours(memory_engine: Engine,
                                                                   fire: UUID) -> None:
    """A late en route is refused before the dispatch or after the arrival; a late dispatch
    after the arrival is refused."""
    incidents = memory_engine.incidents
    incidents.dispatch(fire, ["li"], actor=OFFICE, occurred_at=T0 + minutes(1))
    incidents.arrive(fire, "li", actor=LI, occurred_at=T0 + minutes(5))
    for at in (T0, T0 + minutes(6)):
        rejected(memory_engine, fire, InvalidTransitionError,
                 functools.partial(incidents.en_route, fire, "li", actor=LI, occurred_at=at),
                 "times can't go backwards")
    incidents.arrive(fire, "wang", actor=LI, occurred_at=T0 + minutes(5))
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.dispatch(fire, ["wang"], actor=OFFICE, occurred_at=T0 + minutes(6)),
             "times can't go backwards")
    incidents.dispatch(fire, ["wang"], actor=OFFICE, occurred_at=T0 + minutes(4))


def test_a_time_correction_cannot_put_two_containments_in_one_cycle(memory_engine: Engine,
                                                                    fire: UUID) -> None:
    """Moving the second containment before the reopening (or the reopening after it) would
    give the first cycle two containments: refused."""
    incidents = memory_engine.incidents
    incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(20))
    incidents.resolve(fire, "out", actor=ZHANG, occurred_at=T0 + minutes(30))
    reopened = incidents.reopen(fire, "flare-up", actor=ZHANG,
                                occurred_at=T0 + minutes(60)).first_version
    second = incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(70)).first_version
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, second, T0 + minutes(50), "log", actor=OFFICE,
                                            occurred_at=T0 + minutes(80)),
             "two Contained facts")
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, reopened, T0 + minutes(75), "log",
                                            actor=OFFICE, occurred_at=T0 + minutes(80)),
             "two Contained facts")
    incidents.correct_time(fire, second, T0 + minutes(65), "log", actor=OFFICE,
                           occurred_at=T0 + minutes(80))


def test_a_time_correction_rechecks_each_responder_chain_in_its_cycle(memory_engine: Engine,
                                                                      fire: UUID) -> None:
    """A correction that puts an arrival before its dispatch, or moves a dispatch into a
    cycle where the responder was dispatched already, is refused."""
    incidents = memory_engine.incidents
    first = incidents.dispatch(fire, ["li"], actor=OFFICE,
                               occurred_at=T0 + minutes(2)).first_version
    arrival = incidents.arrive(fire, "li", actor=LI, occurred_at=T0 + minutes(5)).first_version
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, arrival, T0 + minutes(1), "log", actor=OFFICE,
                                            occurred_at=T0 + minutes(80)),
             "times can't go backwards")
    incidents.resolve(fire, "out", actor=ZHANG, occurred_at=T0 + minutes(30))
    incidents.reopen(fire, "flare-up", actor=ZHANG, occurred_at=T0 + minutes(60))
    again = incidents.dispatch(fire, ["li"], actor=OFFICE,
                               occurred_at=T0 + minutes(61)).first_version
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, again, T0 + minutes(3), "log", actor=OFFICE,
                                            occurred_at=T0 + minutes(80)),
             "two ResponderDispatched facts")
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.correct_time(fire, first, T0 + minutes(62), "log", actor=OFFICE,
                                            occurred_at=T0 + minutes(80)))


def test_a_closed_incident_accepts_a_late_record_of_its_response(memory_engine: Engine,
                                                                 fire: UUID) -> None:
    """After-action review finds a dispatch and a containment nobody logged: dated before the
    closure, they are recorded in the cycle they belong to and the incident stays closed."""
    incidents = memory_engine.incidents
    incidents.resolve(fire, "out", actor=ZHANG, occurred_at=T0 + minutes(30))
    incidents.close(fire, "resolved", actor=OFFICE, occurred_at=T0 + minutes(40))
    incidents.dispatch(fire, ["li"], actor=OFFICE, occurred_at=T0 + minutes(2),)
    incidents.arrive(fire, "li", actor=LI, occurred_at=T0 + minutes(6))
    incidents.contain(fire, actor=ZHANG, occurred_at=T0 + minutes(20))
    incident = incidents.get(fire)
    assert (incident.status, incident.on_scene(), incident.contained is not None) == (
        IncidentStatus.CLOSED, ["li"], True)
    rejected(memory_engine, fire, InvalidTransitionError,
             lambda: incidents.dispatch(fire, ["wang"], actor=OFFICE,
                                        occurred_at=T0 + minutes(41)),
             "nothing but a reopen")


def test_a_time_correction_cannot_move_a_fact_past_the_standing_closure(
        memory_engine: Engine, fire: UUID) -> None:
    """Moving a fact after the closure of a closed incident would need a reopen: refused."""
    incidents = memory_engine.incidents
    note = incidents.add_note(fire, "hydrant open", actor=ZHANG,
                              occurred_at=T0 + minutes(10)).first_version
    closure = incidents.close(fire, "false_alarm", actor=OFFICE,
                              occurred_at=T0 + minutes(40)).first_version
    for version, to in ((note, T0 + minutes(45)), (closure, T0 + minutes(5))):
        rejected(memory_engine, fire, InvalidTransitionError,
                 functools.partial(incidents.correct_time, fire, version, to, "log",
                                   actor=OFFICE, occurred_at=T0 + minutes(90)),
                 "reopen it first")
    incidents.correct_time(fire, closure, T0 + minutes(50), "log", actor=OFFICE,
                           occurred_at=T0 + minutes(90))
