"""Community organisation: areas, roles held over time, handovers, care cards."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from resilience import (
    AlreadyExistsError,
    AreaKind,
    CareCard,
    Community,
    Contact,
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    Role,
    UnitSpec,
    ZoneType,
)

from conftest import OFFICE, T0

DAY = timedelta(days=1)


@pytest.fixture
def donghu(memory_engine: Engine) -> UUID:
    """Donghu with grids 3 and 4, micro-grid 3-b, building 30 (two units), three people."""
    communities = memory_engine.communities
    c = communities.register(district="Taishan", subdistrict="Daimiao", name="Donghu",
                             actor=OFFICE, occurred_at=T0 - 100 * DAY).aggregate_id
    communities.add_grid(c, "3", actor=OFFICE)
    communities.add_grid(c, "4", actor=OFFICE)
    communities.add_micro_grid(c, "3-b", "3", actor=OFFICE)
    communities.add_building(c, "30", "3-b", [UnitSpec("1", 24), UnitSpec("2", 20)],
                             actor=OFFICE)
    for person in ("zhang", "chen", "sun"):
        communities.enrol(c, person, person.title(), actor=OFFICE, occurred_at=T0 - 100 * DAY)
    return c


def test_registration_is_idempotent_on_its_names(memory_engine: Engine, donghu: UUID) -> None:
    """The id derives from district/subdistrict/name; registering twice is AlreadyExists."""
    assert memory_engine.communities.id_for("Taishan", "Daimiao", "Donghu") == donghu
    with pytest.raises(AlreadyExistsError):
        memory_engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                           name="Donghu", actor=OFFICE)


def test_areas_nest_and_count_households(memory_engine: Engine, donghu: UUID) -> None:
    """Units belong to buildings, buildings to (micro-)grids; households add up."""
    org = memory_engine.communities.get(donghu)
    assert org.area("30/2").kind is AreaKind.UNIT
    assert org.grid_of("30/2") == "3"
    assert org.households() == 44
    assert org.households("3") == 44
    assert org.households("4") == 0
    with pytest.raises(AlreadyExistsError):
        memory_engine.communities.add_grid(donghu, "30", actor=OFFICE)
    with pytest.raises(InvalidInputError, match="is a building, not a grid"):
        memory_engine.communities.add_micro_grid(donghu, "x", "30", actor=OFFICE)


def test_zone_type_is_inherited_from_the_nearest_classified_area(memory_engine: Engine,
                                                                 donghu: UUID) -> None:
    """A unit in a grid classified old-estate is in an old-estate zone."""
    memory_engine.communities.classify_zone(donghu, "3", ZoneType.OLD_ESTATE, actor=OFFICE)
    assert memory_engine.communities.get(donghu).zone_type_of("30/1") is ZoneType.OLD_ESTATE


def test_who_led_grid_3_at_a_moment_has_one_answer(memory_engine: Engine, donghu: UUID) -> None:
    """Assigning a new grid leader hands over: the incumbent is relieved at that moment."""
    communities = memory_engine.communities
    communities.assign_role(donghu, "zhang", Role.GRID_LEADER, "3", actor=OFFICE,
                            occurred_at=T0 - 50 * DAY)
    receipt = communities.assign_role(donghu, "chen", "grid_leader", "3", actor=OFFICE,
                                      occurred_at=T0 + DAY)
    assert len(receipt.versions) == 2  # the relief and the assignment, two facts
    org = communities.get(donghu)
    assert org.holder(Role.GRID_LEADER, "3", T0) == "zhang"
    assert org.holder(Role.GRID_LEADER, "3", T0 + DAY) == "chen"
    assert org.holder(Role.GRID_LEADER, "3", T0 - 60 * DAY) is None
    assert [h.person_id for h in org.roster(T0, role="grid_leader")] == ["zhang"]


def test_overlapping_leadership_is_refused(memory_engine: Engine, donghu: UUID) -> None:
    """A retroactive leader whose term would overlap a later one is rejected."""
    communities = memory_engine.communities
    communities.assign_role(donghu, "zhang", Role.GRID_LEADER, "3", actor=OFFICE,
                            occurred_at=T0)
    with pytest.raises(InvalidTransitionError, match="overlaps"):
        communities.assign_role(donghu, "chen", Role.GRID_LEADER, "3", actor=OFFICE,
                                occurred_at=T0 - DAY)


def test_roles_need_enrolment_and_the_right_scope(memory_engine: Engine, donghu: UUID) -> None:
    """Unknown people, missing or wrong scopes and non-roster roles are rejected."""
    communities = memory_engine.communities
    with pytest.raises(NotFoundError, match="not enrolled"):
        communities.assign_role(donghu, "ghost", Role.VOLUNTEER, actor=OFFICE)
    with pytest.raises(InvalidInputError, match="needs a scope"):
        communities.assign_role(donghu, "zhang", Role.GRID_LEADER, actor=OFFICE)
    with pytest.raises(InvalidInputError, match="not a unit"):
        communities.assign_role(donghu, "zhang", Role.UNIT_LEADER, "30", actor=OFFICE)
    with pytest.raises(InvalidInputError, match="not a roster role"):
        communities.assign_role(donghu, "zhang", Role.RESIDENT, actor=OFFICE)
    communities.assign_role(donghu, "sun", Role.GRID_WORKER, "3", employment="part_time",
                            affiliation="property company", actor=OFFICE)
    holding = communities.get(donghu).roles_of("sun", memory_engine.clock())[0]
    assert (holding.employment, holding.affiliation) == ("part_time", "property company")


def test_relieving_needs_a_held_role_and_not_before_it_began(memory_engine: Engine,
                                                            donghu: UUID) -> None:
    """Relief of a role never held, or dated before the assignment, is rejected."""
    communities = memory_engine.communities
    with pytest.raises(InvalidTransitionError, match="does not hold"):
        communities.relieve_role(donghu, "zhang", Role.SQUAD_MEMBER, actor=OFFICE)
    communities.assign_role(donghu, "zhang", Role.SQUAD_MEMBER, actor=OFFICE, occurred_at=T0)
    with pytest.raises(InvalidTransitionError, match="before"):
        communities.relieve_role(donghu, "zhang", Role.SQUAD_MEMBER, actor=OFFICE,
                                 occurred_at=T0 - DAY)
    communities.relieve_role(donghu, "zhang", Role.SQUAD_MEMBER, reason="moved away", actor=OFFICE,
                             occurred_at=T0 + DAY)
    assert communities.get(donghu).roles_of("zhang", T0 + 2 * DAY) == []


def test_correcting_a_term_start_moves_who_held_it(memory_engine: Engine, donghu: UUID) -> None:
    """Corrected assignment times change the roster answer; overlaps are still refused."""
    communities = memory_engine.communities
    first = communities.assign_role(donghu, "zhang", Role.GRID_LEADER, "3", actor=OFFICE,
                                    occurred_at=T0 - 10 * DAY)
    communities.assign_role(donghu, "chen", Role.GRID_LEADER, "3", actor=OFFICE,
                            occurred_at=T0)
    communities.correct_time(donghu, first.first_version, T0 - 20 * DAY, "minutes of the meeting",
                             actor=OFFICE)
    assert communities.get(donghu).holder(Role.GRID_LEADER, "3", T0 - 15 * DAY) == "zhang"
    with pytest.raises(InvalidTransitionError, match=r"overlap|end before"):
        communities.correct_time(donghu, first.first_version, T0 + DAY, "typo", actor=OFFICE)


def test_care_card_lists_six_contacts(memory_engine: Engine, donghu: UUID) -> None:
    """A grid's care card is stored whole; reissuing the same card is refused."""
    contact = Contact("Grid 3 desk", "0538-0000003")
    card = CareCard(contact, contact, contact, contact, contact, contact)
    memory_engine.communities.issue_care_card(donghu, "3", card, actor=OFFICE)
    assert memory_engine.communities.get(donghu).care_cards["3"] == card
    with pytest.raises(InvalidTransitionError):
        memory_engine.communities.issue_care_card(donghu, "3", card, actor=OFFICE)
    with pytest.raises(InvalidInputError, match="not a grid"):
        memory_engine.communities.issue_care_card(donghu, "30", card, actor=OFFICE)


def refused(engine: Engine, community: UUID, error: type[Exception],
            command: Callable[[], object], match: str) -> None:
    """``command`` raises ``error`` (matching ``match``) and the community gained no fact."""
    before = len(engine.events(community))
    with pytest.raises(error, match=match):
        command()
    assert len(engine.events(community)) == before


def test_an_activitys_participants_are_corrected_as_a_number(memory_engine: Engine,
                                                             donghu: UUID) -> None:
    """correct_participants records ParticipantsCorrected; the activity keeps the count
    first recorded, the community the corrected one, and a second correction wins."""
    communities = memory_engine.communities
    talk = communities.hold_activity(donghu, title="Fire-safety talk", category="safety",
                                     participants=40, grid="3", actor=OFFICE).first_version
    communities.correct_participants(donghu, talk, 46, "the sign-in sheet", actor=OFFICE)
    corrected = memory_engine.events(donghu)[-1]
    assert isinstance(corrected, Community.ParticipantsCorrected)
    assert (corrected.corrects, corrected.participants) == (talk, 46)
    assert corrected.describe() == f"participants of fact {talk} corrected to 46: the sign-in sheet"
    assert communities.get(donghu).activities == {talk: 46}
    communities.correct_participants(donghu, talk, 0, "cancelled on the day", actor=OFFICE)
    assert communities.get(donghu).activities == {talk: 0}


def test_only_an_activitys_count_can_be_corrected_and_only_to_another_number(
        memory_engine: Engine, donghu: UUID) -> None:
    """No such fact is NotFoundError; another fact, a correction or the same count is
    InvalidTransitionError; a negative or non-whole count, or a blank reason, is
    InvalidInputError. Each records nothing."""
    communities = memory_engine.communities
    talk = communities.hold_activity(donghu, title="Fire-safety talk", category="safety",
                                     participants=40, actor=OFFICE).first_version
    fix = communities.correct_participants(donghu, talk, 41, "recount", actor=OFFICE)

    def correct(version: Any, participants: Any, reason: str = "recount") -> Callable[[], object]:
        return lambda: communities.correct_participants(donghu, version, participants, reason,
                                                        actor=OFFICE)

    refused(memory_engine, donghu, NotFoundError, correct(99, 3), "no fact at version 99")
    refused(memory_engine, donghu, InvalidTransitionError, correct(2, 3),
            "GridAdded, not ActivityHeld")
    refused(memory_engine, donghu, InvalidTransitionError, correct(fix.first_version, 3),
            "itself a correction")
    refused(memory_engine, donghu, InvalidTransitionError, correct(talk, 41),
            "already counts 41")
    for wrong in (-1, 2.5, True, "42"):
        refused(memory_engine, donghu, InvalidInputError, correct(talk, wrong), "participants")
    refused(memory_engine, donghu, InvalidInputError, correct(talk, 42, " "), "reason")
