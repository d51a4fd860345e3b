"""Stateful property test: random community organisation commands against a plain model.

Hypothesis drives ``engine.communities`` with random, often invalid, commands
(duplicate area ids, unknown parents, roles for people not (yet) enrolled,
roles in the wrong kind of area, duplicate and overlapping roles, relieving
what is not held or before it began, activities and the corrections of their
participant counts, repeated command ids, time corrections).
A deliberately simple model restates the rules and predicts, for every
command, whether it is accepted (and which facts it records: a handover is a
relief and an assignment) or which documented error class rejects it. After
every step the community read back from the store must equal the model, and
so must the roster and the holder of every exclusive role at sampled times.
"""

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition

from resilience import (
    AlreadyExistsError,
    CareCard,
    Community,
    Contact,
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    Receipt,
    UnitSpec,
)
from stateful_support import (
    COMMAND_IDS,
    FACTS,
    SETTINGS,
    WHENS,
    Errors,
    Fact,
    FactMachine,
    blank,
    command,
    first_command,
)

from conftest import DONGHU, OFFICE, T0, donghu

Term = dict[str, Any]  # person, role, scope, assigned (version), relieved (version or None)
Span = tuple[datetime, datetime | None, int]  # since, until (None: still held), assigned version

SETUP_AT = T0 - timedelta(days=1)  # when ``donghu`` sets the community up

# Which kind of area each roster role is held for (None: any area, or the whole community).
ROLE_SCOPES: dict[str, set[str] | None] = {
    "grid_leader": {"grid"},
    "grid_worker": {"grid"},
    "building_leader": {"building"},
    "unit_leader": {"unit"},
    "party_member_household": {"building", "unit"},
    "squad_member": None,
    "volunteer": None,
    "community_staff": None,
}
EXCLUSIVE = {"grid_leader", "building_leader", "unit_leader"}


def card(n: int) -> CareCard:
    c = Contact(f"contact {n}", f"0538-{n:04d}")
    return CareCard(c, c, c, c, c, c)


PEOPLE = st.sampled_from(("p1", "p2", "p3", "p4", ""))
ROLES = st.sampled_from(("grid_leader",) * 3 + ("building_leader", "unit_leader") * 2 + (
    "grid_worker", "party_member_household", "volunteer", "squad_member", "community_staff",
    "resident", "mayor"))
SCOPES = st.sampled_from((None, "g1", "g1", "g1", "g2", "m1", "b1", "b1", "b2", "b1/1", "b1/1",
                          "b1/2", "nowhere"))
ASSIGNMENTS = FACTS.filter(lambda fact: fact.kind == "RoleAssigned")  # a term each
# Roles to relieve that may well not be held (the last is no role at all).
ROLES_TO_RELIEVE = st.sampled_from((("p1", "grid_leader", "g1"), ("p2", "volunteer", None),
                                    ("p1", "mayor", None)))


def in_sequence(spans: list[Span]) -> bool:
    """Terms (since, until, version) follow each other: each ends before the next begins.

    Ordered by start, ties by assignment order; an open term (until None) must be the last.
    """
    ordered = sorted(spans, key=lambda s: (s[0], s[2]))
    return all(a[1] is not None and a[1] <= b[0] for a, b in itertools.pairwise(ordered))


class CommunityMachine(FactMachine[Community]):
    """One community's organisation driven through the engine, shadowed by plain dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.community = self.aggregate_id = self.engine.communities.id_for(**DONGHU)
        self.service = self.engine.communities
        self.areas: dict[str, str] = {}  # area id -> kind
        self.zones: dict[str, str] = {}  # area id -> zone type
        self.people: dict[str, int] = {}  # person -> version of their enrolment
        self.terms: list[Term] = []
        self.cards: dict[str, int] = {}  # grid -> card number
        self.activities: dict[int, int] = {}  # version -> participants (corrected)
        self.progressed = 0

    def create(self, command_id: str | None) -> Receipt:
        """Register the community (as ``donghu`` did)."""
        return self.engine.communities.register(**DONGHU, actor=OFFICE, occurred_at=SETUP_AT,
                                                command_id=command_id)

    def naive_command(self, command_id: str | None) -> Receipt:
        """A grid added at a naive time (the shared ``naive_time`` rule expects a refusal)."""
        return self.engine.communities.add_grid(
            self.community, "g9", actor=OFFICE, occurred_at=T0.replace(tzinfo=None),
            command_id=command_id)

    # Rules of the model ----------------------------------------------------------

    def new_area(self, area_id: str, errors: Errors) -> None:
        if blank(area_id):
            errors.add(InvalidInputError)
        elif area_id in self.areas:
            errors.add(AlreadyExistsError)

    def area_of_kind(self, area_id: str | None, kinds: set[str], errors: Errors) -> None:
        if area_id is None:
            errors.add(InvalidInputError)
        elif area_id not in self.areas:
            errors.add(NotFoundError)
        elif self.areas[area_id] not in kinds:
            errors.add(InvalidInputError)

    def span(self, term: Term, times: dict[int, datetime]) -> tuple[datetime, datetime | None]:
        relieved = term["relieved"]
        return times[term["assigned"]], (times[relieved] if relieved is not None else None)

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Would these effective times keep every roster invariant?"""
        groups: dict[tuple[str | None, ...], list[Span]] = {}
        for term in self.terms:
            since, until = self.span(term, times)
            if until is not None and until < since:
                return False  # relieved before assigned
            if since < times[self.people[term["person"]]]:
                return False  # holding a role before being enrolled
            span = (since, until, term["assigned"])
            groups.setdefault((term["person"], term["role"], term["scope"]), []).append(span)
            if term["role"] in EXCLUSIVE:
                groups.setdefault((term["role"], term["scope"]), []).append(span)
        return all(in_sequence(spans) for spans in groups.values())

    def role_given(self, assignment: Fact) -> tuple[str, str, str | None]:
        """The person, role and scope of the term this RoleAssigned fact began."""
        term = next(t for t in self.terms if t["assigned"] == assignment.version)
        return term["person"], term["role"], term["scope"]

    def held(self, at: datetime) -> list[Term]:
        """Terms held at ``at``, in assignment order."""
        held = []
        for term in self.terms:
            since, until = self.span(term, self.times)
            if since <= at and (until is None or at < until):
                held.append(term)
        return held

    # Setup -----------------------------------------------------------------------

    @first_command(command_id=COMMAND_IDS, head_start=st.integers(0, 14))
    def register(self, command_id: str | None, head_start: int) -> None:
        """Register the community with grid g1, building b1 (units 1, 2) and p1; steps follow."""
        registered = donghu(self.engine, "g1", "b1", [UnitSpec("1", 12), UnitSpec("2", 12)],
                            people=[("p1", "Zhang")], command_id=command_id)
        assert registered == self.community
        kinds = ["Registered", "GridAdded", "BuildingAdded", "PersonEnrolled"]
        self.times = dict.fromkeys(range(1, 5), SETUP_AT)
        self.kinds = dict(enumerate(kinds, start=1))
        if command_id is not None:
            self.commands[command_id] = (1, 1)
        self.areas = {"g1": "grid", "b1": "building", "b1/1": "unit", "b1/2": "unit"}
        self.people = {"p1": 4}
        for _ in range(head_start):
            self.progress(None)

    # Commands --------------------------------------------------------------------

    @command(grid=st.sampled_from(("g2", "g3", "g1", "b1", "")), when=WHENS,
             command_id=COMMAND_IDS)
    def add_grid(self, grid: str, when: datetime | None, command_id: str | None) -> None:
        """Add a grid with a new area id."""
        at = self.at(when)
        errors: Errors = set()
        self.new_area(grid, errors)
        if self.attempt(command_id, errors, lambda: self.engine.communities.add_grid(
                self.community, grid, actor=OFFICE, occurred_at=when, command_id=command_id),
                ["GridAdded"], at) is not None:
            self.areas[grid] = "grid"

    @command(micro_grid=st.sampled_from(("m1", "m2", "g1")),
             grid=st.sampled_from(("g1", "g2", "m1", "b1", "nowhere")), when=WHENS,
             command_id=COMMAND_IDS)
    def add_micro_grid(self, micro_grid: str, grid: str, when: datetime | None,
                       command_id: str | None) -> None:
        """Add a micro-grid with a new area id, in an existing grid."""
        at = self.at(when)
        errors: Errors = set()
        self.new_area(micro_grid, errors)
        self.area_of_kind(grid, {"grid"}, errors)
        if self.attempt(command_id, errors, lambda: self.engine.communities.add_micro_grid(
                self.community, micro_grid, grid, actor=OFFICE, occurred_at=when,
                command_id=command_id), ["MicroGridAdded"], at) is not None:
            self.areas[micro_grid] = "micro_grid"

    @command(building=st.sampled_from(("b2", "b3", "b1", "g1")),
             parent=st.sampled_from(("g1", "g2", "m1", "b1", "nowhere")),
             units=st.sampled_from((("1",), ("1", "2"), ("1", "1"), ())), when=WHENS,
             command_id=COMMAND_IDS)
    def add_building(self, building: str, parent: str, units: tuple[str, ...],
                     when: datetime | None, command_id: str | None) -> None:
        """Add a building with new area ids (its units' too) in a grid or micro-grid."""
        at = self.at(when)
        errors: Errors = set()
        self.new_area(building, errors)
        self.area_of_kind(parent, {"grid", "micro_grid"}, errors)
        if len(set(units)) != len(units):
            errors.add(InvalidInputError)
        if any(f"{building}/{u}" in self.areas for u in units):
            errors.add(AlreadyExistsError)
        specs = [UnitSpec(u, 6) for u in units]
        if self.attempt(command_id, errors, lambda: self.engine.communities.add_building(
                self.community, building, parent, specs, actor=OFFICE, occurred_at=when,
                command_id=command_id), ["BuildingAdded"], at) is not None:
            self.areas[building] = "building"
            self.areas.update({f"{building}/{u}": "unit" for u in units})

    @command(area=st.sampled_from(("g1", "b1", "b1/1", "nowhere")),
             zone=st.sampled_from(("old_estate", "new_build", "moon")), when=WHENS,
             command_id=COMMAND_IDS)
    def classify_zone(self, area: str, zone: str, when: datetime | None,
                      command_id: str | None) -> None:
        """Classify an existing area as a known zone type it does not already have."""
        at = self.at(when)
        errors: Errors = set()
        if zone == "moon":
            errors.add(InvalidInputError)
        if area not in self.areas:
            errors.add(NotFoundError)
        elif self.zones.get(area) == zone:
            errors.add(InvalidTransitionError)
        if self.attempt(command_id, errors, lambda: self.engine.communities.classify_zone(
                self.community, area, zone, actor=OFFICE, occurred_at=when,
                command_id=command_id), ["ZoneClassified"], at) is not None:
            self.zones[area] = zone

    @command(grid=st.sampled_from(("g1", "b1", "nowhere")), number=st.integers(1, 2), when=WHENS,
             command_id=COMMAND_IDS)
    def issue_care_card(self, grid: str, number: int, when: datetime | None,
                        command_id: str | None) -> None:
        """Issue a grid a care card that differs from its current one."""
        at = self.at(when)
        errors: Errors = set()
        self.area_of_kind(grid, {"grid"}, errors)
        if self.cards.get(grid) == number:
            errors.add(InvalidTransitionError)
        if self.attempt(command_id, errors, lambda: self.engine.communities.issue_care_card(
                self.community, grid, card(number), actor=OFFICE, occurred_at=when,
                command_id=command_id), ["CareCardIssued"], at) is not None:
            self.cards[grid] = number

    @command(grid=st.sampled_from(("g1", "b1", "nowhere", None)),
             participants=st.sampled_from((0, 12, -1)), title=st.sampled_from(("Health talk", " ")),
             when=WHENS, command_id=COMMAND_IDS)
    def hold_activity(self, grid: str | None, participants: int, title: str,
                      when: datetime | None, command_id: str | None) -> None:
        """Record an activity: a grid if given, a title and zero or more participants."""
        at = self.at(when)
        errors: Errors = set()
        if grid is not None:
            self.area_of_kind(grid, {"grid"}, errors)
        if participants < 0 or blank(title):
            errors.add(InvalidInputError)
        version = self.attempt(command_id, errors, lambda: self.engine.communities.hold_activity(
            self.community, title=title, category="health", participants=participants,
            grid=grid, actor=OFFICE, occurred_at=when, command_id=command_id),
            ["ActivityHeld"], at)
        if version is not None:
            self.activities[version] = participants

    @command(fact=FACTS, participants=st.sampled_from((0, 12, 30, -1)),
             reason=st.sampled_from(("the sign-in sheet", " ")), when=WHENS,
             command_id=COMMAND_IDS)
    def correct_participants(self, fact: Fact, participants: int, reason: str,
                             when: datetime | None, command_id: str | None) -> None:
        """Correct an activity's count to another whole number, with a reason; any other
        fact (a correction included) is refused."""
        at = self.at(when)
        errors: Errors = set()
        if participants < 0 or blank(reason):
            errors.add(InvalidInputError)
        elif fact.version not in self.activities or participants == self.activities[
                fact.version]:
            errors.add(InvalidTransitionError)
        if self.attempt(command_id, errors, lambda: self.engine.communities.correct_participants(
                self.community, fact.version, participants, reason, actor=OFFICE,
                occurred_at=when, command_id=command_id),
                ["ParticipantsCorrected"], at) is not None:
            self.activities[fact.version] = participants

    @command(person=PEOPLE, name=st.sampled_from(("Wang", "Li", "")), when=WHENS,
             command_id=COMMAND_IDS)
    def enrol(self, person: str, name: str, when: datetime | None,
              command_id: str | None) -> None:
        """Enrol a named person once."""
        at = self.at(when)
        errors: Errors = set()
        if blank(person) or blank(name):
            errors.add(InvalidInputError)
        if person in self.people:
            errors.add(AlreadyExistsError)
        version = self.attempt(command_id, errors, lambda: self.engine.communities.enrol(
            self.community, person, name, actor=OFFICE, occurred_at=when,
            command_id=command_id), ["PersonEnrolled"], at)
        if version is not None:
            self.people[person] = version

    @command(person=PEOPLE, role=ROLES, scope=SCOPES, when=WHENS, command_id=COMMAND_IDS)
    def assign_role(self, person: str, role: str, scope: str | None, when: datetime | None,
                    command_id: str | None) -> None:
        """Assign a roster role to an enrolled person for the right kind of area.

        Not while they hold it already; an exclusive role hands over from the incumbent (a
        relief at the same moment, then the assignment) and never overlaps another term.
        """
        at = self.at(when)
        errors: Errors = set()
        if role not in ROLE_SCOPES:
            errors.add(InvalidInputError)  # not a roster role (or not a role at all)
        if person not in self.people:
            errors.add(NotFoundError)
        elif at < self.times[self.people[person]]:
            errors.add(InvalidTransitionError)  # not enrolled yet at that time
        incumbents: list[Term] = []
        if role in ROLE_SCOPES:
            kinds = ROLE_SCOPES[role]
            if kinds is not None:
                self.area_of_kind(scope, kinds, errors)
            elif scope is not None and scope not in self.areas:
                errors.add(NotFoundError)
            new: Span = (at, None, len(self.times) + 1)
            mine = [(*self.span(t, self.times), t["assigned"]) for t in self.terms
                    if (t["person"], t["role"], t["scope"]) == (person, role, scope)]
            if not in_sequence([*mine, new]):
                errors.add(InvalidTransitionError)  # holds it already, then or later
            if role in EXCLUSIVE:
                spans = [new]
                for term in self.terms:
                    if (term["role"], term["scope"]) != (role, scope):
                        continue
                    since, until = self.span(term, self.times)
                    if until is None and since <= at:
                        incumbents.append(term)
                        until = at
                    spans.append((since, until, term["assigned"]))
                if not in_sequence(spans):
                    errors.add(InvalidTransitionError)
        kinds_recorded = ["RoleRelieved"] * len(incumbents) + ["RoleAssigned"]
        first = self.attempt(command_id, errors, lambda: self.engine.communities.assign_role(
            self.community, person, role, scope, actor=OFFICE, occurred_at=when,
            command_id=command_id), kinds_recorded, at)
        if first is not None:
            for version, term in enumerate(incumbents, start=first):
                term["relieved"] = version
            self.terms.append({"person": person, "role": role, "scope": scope,
                               "assigned": first + len(incumbents), "relieved": None})

    @precondition(lambda self: self.terms)
    @command(assignment=ASSIGNMENTS, when=WHENS, command_id=COMMAND_IDS)
    def reassign_role(self, assignment: Fact, when: datetime | None,
                      command_id: str | None) -> None:
        """Assign a role someone holds or held before again (duplicates, returns, overlaps)."""
        self.assign_role(*self.role_given(assignment), when, command_id)

    @precondition(lambda self: self.terms)
    @command(assignment=ASSIGNMENTS, when=WHENS, command_id=COMMAND_IDS)
    def relieve_role(self, assignment: Fact, when: datetime | None,
                     command_id: str | None) -> None:
        """Relieve a role someone was assigned: still held, or relieved already."""
        self.relieve(*self.role_given(assignment), when, command_id)

    @command(role=ROLES_TO_RELIEVE, when=WHENS, command_id=COMMAND_IDS)
    def relieve_any_role(self, role: tuple[str, str, str | None], when: datetime | None,
                         command_id: str | None) -> None:
        """Relieve a role that may not be held, or is no role at all."""
        self.relieve(*role, when, command_id)

    def relieve(self, person: str, role: str, scope: str | None, when: datetime | None,
                command_id: str | None) -> None:
        """Relieve only a role that is held, not before it was assigned."""
        at = self.at(when)
        errors: Errors = set()
        open_terms = [t for t in self.terms if t["relieved"] is None and (
            t["person"], t["role"], t["scope"]) == (person, role, scope)]
        if role == "mayor":
            errors.add(InvalidInputError)
        elif not open_terms or at < self.times[open_terms[0]["assigned"]]:
            errors.add(InvalidTransitionError)
        version = self.attempt(command_id, errors, lambda: self.engine.communities.relieve_role(
            self.community, person, role, scope, "moved away", actor=OFFICE, occurred_at=when,
            command_id=command_id), ["RoleRelieved"], at)
        if version is not None:
            open_terms[0]["relieved"] = version

    @command(command_id=COMMAND_IDS)
    def progress(self, command_id: str | None) -> None:
        """The next step of a typical organisation's life, now (builds rosters with handovers)."""
        step = self.progressed % 12
        self.progressed += 1
        if step == 0:
            self.enrol("p2", "Wang", None, command_id)
        elif step == 1:
            self.assign_role("p1", "grid_leader", "g1", None, command_id)
        elif step == 2:
            self.assign_role("p2", "grid_leader", "g1", None, command_id)  # a handover
        elif step == 3:
            self.assign_role("p1", "unit_leader", "b1/1", None, command_id)
        elif step == 4:
            self.enrol("p3", "Li", None, command_id)
        elif step == 5:
            self.assign_role("p3", "volunteer", None, None, command_id)
        elif step == 6:
            self.relieve("p3", "volunteer", None, None, command_id)
        elif step == 7:
            self.assign_role("p3", "building_leader", "b1", None, command_id)
        elif step == 8:
            self.assign_role("p1", "grid_leader", "g1", None, command_id)
        elif step == 9:
            self.add_micro_grid("m1", "g1", None, command_id)
        elif step == 10:
            self.add_building("b2", "m1", ("1",), None, command_id)
        else:
            self.issue_care_card("g1", 1, None, command_id)

    # Invariants ------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        """The stored areas, people, care cards and roster over time equal the model's."""
        community = self.stored()
        assert {a: area.kind.value for a, area in community.areas.items()} == self.areas
        assert {a: area.zone_type.value for a, area in community.areas.items()
                if area.zone_type is not None} == self.zones
        assert set(community.people) == set(self.people)
        assert community.care_cards == {g: card(n) for g, n in self.cards.items()}
        assert community.activities == self.activities
        # Who holds what, and who holds each exclusive role, at every moment that matters.
        moments = {SETUP_AT - timedelta(days=1), T0 + timedelta(days=1)}
        for term in self.terms:
            for edge in self.span(term, self.times):
                if edge is not None:
                    moments |= {edge, edge - timedelta(minutes=1)}
        keys = {(t["role"], t["scope"]) for t in self.terms if t["role"] in EXCLUSIVE}
        for at in moments:
            held = self.held(at)
            assert sorted(str((h.person_id, h.role.value, h.scope))
                          for h in community.roster(at)) == sorted(
                str((t["person"], t["role"], t["scope"])) for t in held), at
            for role, scope in keys:
                holders = [t["person"] for t in held if (t["role"], t["scope"]) == (role, scope)]
                assert len(holders) <= 1, (role, scope, at, holders)
                assert scope is not None
                assert community.holder(role, scope, at) == (holders[0] if holders else None)


class TestCommunityMachine(CommunityMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence leaves the organisation and its roster over time as the model says."""

    settings = SETTINGS


# Regressions the machine found, as plain examples ---------------------------------


def test_a_role_cannot_begin_before_the_person_is_enrolled(memory_engine: Engine) -> None:
    """A term can't start before its holder's enrolment, by assignment or by correction."""
    communities = memory_engine.communities
    community = donghu(memory_engine, "g1", None)
    communities.enrol(community, "p2", "Wang", actor=OFFICE, occurred_at=T0 + timedelta(hours=1))
    with pytest.raises(InvalidTransitionError):
        communities.assign_role(community, "p2", "volunteer", actor=OFFICE, occurred_at=T0)
    communities.assign_role(community, "p2", "volunteer", actor=OFFICE,
                            occurred_at=T0 + timedelta(hours=2))
    with pytest.raises(InvalidTransitionError):  # moving the enrolment after the term's start
        communities.correct_time(community, 3, T0 + timedelta(hours=3), "misdated",
                                 actor=OFFICE)
    assert len(memory_engine.events(community)) == 4


def test_nobody_holds_the_same_role_for_the_same_area_twice_at_once(
        memory_engine: Engine) -> None:
    """Assigning a role inside a past term of the same person, role and area is refused."""
    communities = memory_engine.communities
    community = donghu(memory_engine, "g1", None)
    communities.enrol(community, "p1", "Zhang", actor=OFFICE, occurred_at=SETUP_AT)
    communities.assign_role(community, "p1", "grid_worker", "g1", actor=OFFICE,
                            occurred_at=T0 + timedelta(minutes=10))
    communities.relieve_role(community, "p1", "grid_worker", "g1", actor=OFFICE,
                             occurred_at=T0 + timedelta(minutes=20))
    with pytest.raises(InvalidTransitionError):
        communities.assign_role(community, "p1", "grid_worker", "g1", actor=OFFICE,
                                occurred_at=T0 + timedelta(minutes=15))
    held = communities.get(community).roles_of("p1", T0 + timedelta(minutes=17))
    assert len(held) == 1
