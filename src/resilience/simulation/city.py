"""A community's places and people: its grids, micro-grids, buildings and units, and its
roster over time (staff, grid leaders and workers, building and unit leaders, squad,
volunteers), planned as the steps that record them.

The community is set up in the four weeks before the period: registered, its areas
added and classified, its people enrolled and given roles, each grid's care card
issued. During the period the roster changes as rosters do: a grid worker takes over
as grid leader (the old leader relieved by the handover, a new worker hired), a worker
moves grid, building leaders change, squad members and volunteers join and leave, and
a grid whose leader changed gets a new care card. :class:`Roster` answers who held a
role at a moment, so incidents are answered by the people on duty then.
"""

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

from attrs import define, frozen

from resilience.domain.organisation import community_id, unit_area_id
from resilience.domain.values import (
    Actor,
    CareCard,
    Contact,
    Employment,
    Role,
    UnitSpec,
)
from resilience.simulation import words
from resilience.simulation.model import CityPlan, fixed_start
from resilience.simulation.steps import Life, Queue

SETUP_DAYS = 28
"""How long before the period each community is set up."""
BUILDINGS_PER_MICRO_GRID = 3
WORKERS_PER_GRID = 4
SQUAD_PER_GRID = 12
"""Donghu: 6 grids, an emergency squad of 76."""
VOLUNTEERS_PER_GRID = 5
"""Donghu: a volunteer team of 32."""
STAFF = 4
RESIDENTS_PER_UNIT = 6
"""Residents per unit who place orders, consent, rate: the households that use the
services (each unit has ~50)."""


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


@lru_cache(maxsize=1 << 16)
def acting(person: str, role: Role) -> Actor:
    """``person`` acting in ``role``: built (and checked) once, as an Actor is immutable."""
    return Actor(person, role)


@frozen
class Building:
    id: str
    grid: str
    units: tuple[str, ...]

    def unit_area(self, unit: str) -> str:
        return unit_area_id(self.id, unit)


@frozen
class Term:
    person: str
    role: Role
    scope: str | None
    since: datetime
    until: datetime | None = None

    def holds(self, at: datetime) -> bool:
        return self.since <= at and (self.until is None or at < self.until)


class Roster:
    """Who holds which role when, as the simulation planned it (the same the community's
    facts record)."""

    def __init__(self) -> None:
        self._terms: dict[tuple[Role, str | None], list[Term]] = {}
        self._held: dict[tuple[Role, str | None], tuple[datetime, datetime, list[str]]] = {}
        """Per role and scope: the holders over the span between two of its terms' ends,
        where the last lookup fell (stories are planned in time order, so most lookups
        fall in the same span)."""
        self.names: dict[str, str] = {}
        self.phones: dict[str, str] = {}

    def begin(self, person: str, role: Role, scope: str | None, since: datetime) -> None:
        self._terms.setdefault((role, scope), []).append(Term(person, role, scope, since))
        self._held.pop((role, scope), None)

    def end(self, person: str, role: Role, scope: str | None, until: datetime) -> None:
        terms = self._terms[(role, scope)]
        self._held.pop((role, scope), None)
        for index, term in enumerate(terms):
            if term.person == person and term.until is None:
                terms[index] = Term(person, role, scope, term.since, until)
                return
        raise AssertionError(f"{person} holds no open {role} term for {scope}")

    def holders(self, role: Role, scope: str | None, at: datetime) -> list[str]:
        """Who holds ``role`` for ``scope`` at ``at``, in the order they took it (the list
        is shared: don't change it)."""
        key = (role, scope)
        held = self._held.get(key)
        if held is not None and held[0] <= at < held[1]:
            return held[2]
        terms = self._terms.get(key, ())
        ends = [m for t in terms for m in (t.since, t.until) if m is not None]
        since = max((m for m in ends if m <= at), default=_EARLIEST)
        until = min((m for m in ends if m > at), default=_LATEST)
        found = [t.person for t in terms if t.holds(at)]
        self._held[key] = (since, until, found)
        return found

    def holder(self, role: Role, scope: str | None, at: datetime) -> str:
        """The one holder of an exclusive role (or the first of several) at ``at``."""
        return self.holders(role, scope, at)[0]

    def contact(self, person: str) -> Contact:
        return Contact(self.names[person], self.phones[person], person)


@define
class Community:
    """One community of the district: its id, places and roster, and the people the
    planners draw on."""

    index: int
    id: UUID
    district: str
    subdistrict: str
    name: str
    grids: tuple[str, ...]
    buildings: tuple[Building, ...]
    by_grid: dict[str, tuple[Building, ...]]
    roster: Roster
    residents: dict[str, tuple[str, ...]]
    """By unit area id: the residents (person ids) who use the services."""
    opened: datetime
    """When its setup began."""
    enrolled: int = 0
    """People enrolled so far (the next one's number)."""

    def person(self, number: int) -> str:
        return f"c{self.index + 1}p{number}"

    def new_person(self, rng: random.Random) -> tuple[str, str, str]:
        """A new person's id, name and phone (known to the roster from now on)."""
        self.enrolled += 1
        person = self.person(self.enrolled)
        name = f"{rng.choice(words.SURNAMES)} {rng.choice(words.GIVEN_NAMES)}"
        phone = f"13{rng.randrange(10**9):09d}"
        self.roster.names[person], self.roster.phones[person] = name, phone
        return person, name, phone

    def actor(self, role: Role, rng: random.Random, at: datetime,
              scope: str | None = None) -> Actor:
        """Someone holding ``role`` (for ``scope``) at ``at``, acting in it; the grid's
        leader for its workers while it has none (a worker promoted to leader, the one
        hired in their place not yet started: over decades that window is met)."""
        holders = self.roster.holders(role, scope, at)
        if not holders and role is Role.GRID_WORKER:
            return self.actor(Role.GRID_LEADER, rng, at, scope)
        return acting(rng.choice(holders), role)

    def desk(self, rng: random.Random, at: datetime) -> Actor:
        """The community staff member at the desk at ``at``."""
        return self.actor(Role.COMMUNITY_STAFF, rng, at)


def name_community(plan: CityPlan, index: int) -> tuple[str, str, str]:
    """(district, subdistrict, name) of the community at ``index``: subdistricts and names
    dealt in turn, so neighbours in the list differ in both; past the pairs the two lists
    make, a number is added (``Donghu 2``)."""
    subdistricts, names = words.SUBDISTRICTS, words.COMMUNITIES
    pairs = math.lcm(len(subdistricts), len(names))
    name = names[index % len(names)]
    if index >= pairs:
        name = f"{name} {index // pairs + 1}"
    return (words.DISTRICT.format(seed=plan.seed),
            f"{subdistricts[index % len(subdistricts)]} Subdistrict", name)


def community_ids(plan: CityPlan) -> tuple[UUID, ...]:
    return tuple(community_id(*name_community(plan, index))
                 for index in range(plan.communities))


def set_up(plan: CityPlan, index: int, rng: random.Random, queue: Queue) -> Community:
    """Plan the community's setup (before the period) and return it, its roster as set up."""
    district, subdistrict, name = name_community(plan, index)
    opened = fixed_start(plan) - timedelta(days=SETUP_DAYS)
    grids = tuple(f"g{g + 1}" for g in range(plan.grids))
    buildings: list[Building] = []
    by_grid: dict[str, tuple[Building, ...]] = {}
    for g, grid in enumerate(grids):
        here = tuple(Building(f"b{g * plan.buildings + b + 1}", grid,
                              tuple(str(u + 1) for u in range(rng.randint(2, 4))))
                     for b in range(plan.buildings))
        by_grid[grid] = here
        buildings.extend(here)
    residents = {b.unit_area(u): tuple(f"c{index + 1}r{b.id[1:]}-{u}-{k + 1}"
                                        for k in range(RESIDENTS_PER_UNIT))
                 for b in buildings for u in b.units}
    community = Community(index, community_id(district, subdistrict, name), district,
                          subdistrict, name, grids, tuple(buildings), by_grid, Roster(),
                          residents, opened)
    _Setup(community, rng, queue).plan()
    return community


class _Setup:
    """The steps that set a community up: data entry on working days (9:00 to 17:00), a
    fact a minute, or closer together if the setup would otherwise run into the period.
    Everyone set up holds their role from the setup's beginning."""

    def __init__(self, community: Community, rng: random.Random, queue: Queue) -> None:
        self.c = community
        self.rng = rng
        self.life = Life(queue, "communities")
        self.entries: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.founder = acting(community.person(0), Role.COMMUNITY_STAFF)

    def add(self, command: str, *args: Any, **kwargs: Any) -> None:
        self.entries.append((command, args, kwargs))

    def enrol(self, role: Role, scope: str | None, skills: Sequence[str] = (),
              **terms: Any) -> str:
        """Enrol a new person and give them ``role``."""
        c = self.c
        person, name, phone = c.new_person(self.rng)
        self.add("enrol", c.id, person, name, phone, tuple(skills))
        self.add("assign_role", c.id, person, role, scope, **terms)
        c.roster.begin(person, role, scope, c.opened)
        return person

    def record(self) -> None:
        """Plan the entries, in order, at the pace the setup's days allow."""
        day = self.c.opened.replace(hour=9, minute=0, second=0, microsecond=0)
        working = 8 * 3600
        pace = min(60, (SETUP_DAYS - 1) * working // max(1, len(self.entries)))
        for n, (command, args, kwargs) in enumerate(self.entries):
            days, second = divmod(n * pace, working)
            self.life.add(day + timedelta(days=days, seconds=second), command, *args,
                          actor=self.founder, **kwargs)

    def plan(self) -> None:
        c, rng = self.c, self.rng
        self.add("register", district=c.district, subdistrict=c.subdistrict, name=c.name)
        # The founder is staff from the first fact, by the policy's rule for founders;
        # their role is recorded like everyone's.
        c.roster.names[self.founder.person_id] = f"{rng.choice(words.SURNAMES)} Jie"
        c.roster.phones[self.founder.person_id] = "0538-8220000"
        self.add("enrol", c.id, self.founder.person_id, c.roster.names[self.founder.person_id],
                 c.roster.phones[self.founder.person_id])
        self.add("assign_role", c.id, self.founder.person_id, Role.COMMUNITY_STAFF)
        c.roster.begin(self.founder.person_id, Role.COMMUNITY_STAFF, None, c.opened)
        for _ in range(STAFF - 1):
            self.enrol(Role.COMMUNITY_STAFF, None, employment=Employment.FULL_TIME)
        for g, grid in enumerate(c.grids):
            self.add("add_grid", c.id, grid, f"Grid {g + 1}")
            self.add("classify_zone", c.id, grid, words.ZONES[(c.index + g) % len(words.ZONES)])
            buildings = c.by_grid[grid]
            for m in range(0, len(buildings), BUILDINGS_PER_MICRO_GRID):
                micro = f"{grid}-m{m // BUILDINGS_PER_MICRO_GRID + 1}"
                self.add("add_micro_grid", c.id, micro, grid)
                for building in buildings[m:m + BUILDINGS_PER_MICRO_GRID]:
                    self.add("add_building", c.id, building.id, micro,
                             tuple(UnitSpec(u, rng.randint(30, 60)) for u in building.units),
                             f"Building {building.id[1:]}")
        for grid in c.grids:
            self.enrol(Role.GRID_LEADER, grid)
            for w in range(WORKERS_PER_GRID):
                full = w < WORKERS_PER_GRID // 2
                self.enrol(Role.GRID_WORKER, grid,
                           employment=Employment.FULL_TIME if full else Employment.PART_TIME,
                           affiliation=None if full else words.PROPERTY_COMPANY)
            for building in c.by_grid[grid]:
                self.enrol(Role.BUILDING_LEADER, building.id)
                unit = rng.choice(building.units)
                self.enrol(Role.UNIT_LEADER, building.unit_area(unit))
                self.enrol(Role.PARTY_MEMBER_HOUSEHOLD, building.unit_area(unit))
            for _ in range(SQUAD_PER_GRID):
                self.enrol(Role.SQUAD_MEMBER, None, rng.sample(words.SKILLS["squad"], 2))
            for _ in range(VOLUNTEERS_PER_GRID):
                self.enrol(Role.VOLUNTEER, None, rng.sample(words.SKILLS["volunteer"], 1))
        for grid in c.grids:
            self.add("issue_care_card", c.id, grid, care_card(c, grid, c.opened))
        self.record()


def care_card(c: Community, grid: str, at: datetime) -> CareCard:
    """The six numbers a grid's households are given at ``at``."""
    roster = c.roster
    office = Contact("Community office", "0538-8220000")
    leader = roster.contact(roster.holder(Role.GRID_LEADER, grid, at))
    workers = roster.holders(Role.GRID_WORKER, grid, at)
    worker = roster.contact(workers[0]) if workers else office
    return CareCard(emergency_contact=office, grid_leader=leader, grid_worker=worker,
                    community_office=office,
                    property_management=Contact(words.PROPERTY_COMPANY, "0538-8221111"),
                    health_station=Contact("Health service station", "0538-8222222"))


def roster_changes(plan: CityPlan, rng: random.Random) -> list[tuple[float, str]]:
    """When, in minutes from the period's start, the roster changes, and how: sorted."""
    days = plan.days * 24 * 60
    changes = []
    for kind, per_grid_year in (("leader", 0.35), ("move", 0.3), ("building", 0.6),
                                ("squad_join", 1.2), ("squad_leave", 0.8),
                                ("volunteer", 1.0)):
        expected = per_grid_year * plan.grids * plan.days / 365
        count = int(expected) + (rng.random() < expected - int(expected))
        changes += [(_working_minute(rng, days), kind) for _ in range(count)]
    changes.sort()
    return changes


def _working_minute(rng: random.Random, total: int) -> float:
    """A minute of the period on a working day's hours (9:00-17:00)."""
    day = rng.randrange(max(1, total // 1440))
    return day * 1440 + rng.uniform(9 * 60, 17 * 60)


def plan_change(c: Community, kind: str, at: datetime, rng: random.Random,
                queue: Queue) -> None:
    """Plan one roster change at ``at`` (a kind ``roster_changes`` names)."""
    life = Life(queue, "communities")
    roster = c.roster
    desk = c.desk(rng, at)

    def hire(role: Role, scope: str | None, when: datetime, **terms: Any) -> str:
        person, name, phone = c.new_person(rng)
        life.add(when, "enrol", c.id, person, name, phone, actor=desk)
        life.add(when + timedelta(minutes=2), "assign_role", c.id, person, role, scope,
                 actor=desk, **terms)
        roster.begin(person, role, scope, when + timedelta(minutes=2))
        return person

    grid = rng.choice(c.grids)
    if kind == "leader":
        # A grid worker takes over (the handover relieves the old leader: two facts); a
        # new worker is hired in their place, and the grid's care card is issued anew.
        workers = roster.holders(Role.GRID_WORKER, grid, at)
        if not workers:
            return
        new = rng.choice(workers)
        old = roster.holder(Role.GRID_LEADER, grid, at)
        life.add(at, "relieve_role", c.id, new, Role.GRID_WORKER, grid, "became grid leader",
                 actor=desk)
        roster.end(new, Role.GRID_WORKER, grid, at)
        life.add(at + timedelta(minutes=1), "assign_role", c.id, new, Role.GRID_LEADER, grid,
                 actor=desk, facts=2)
        roster.end(old, Role.GRID_LEADER, grid, at + timedelta(minutes=1))
        roster.begin(new, Role.GRID_LEADER, grid, at + timedelta(minutes=1))
        hire(Role.GRID_WORKER, grid, at + timedelta(days=rng.randint(3, 20)),
             employment=Employment.FULL_TIME)
        issued = at + timedelta(days=1)
        life.add(issued, "issue_care_card", c.id, grid, care_card(c, grid, issued), actor=desk)
    elif kind == "move" and len(c.grids) > 1:
        # A worker moves grid: relieved in one, assigned in another, the same day.
        workers = roster.holders(Role.GRID_WORKER, grid, at)
        if len(workers) > 1:
            mover = rng.choice(workers)
            to = rng.choice([g for g in c.grids if g != grid])
            life.add(at, "relieve_role", c.id, mover, Role.GRID_WORKER, grid,
                     "moved to grid " + to[1:], actor=desk)
            roster.end(mover, Role.GRID_WORKER, grid, at)
            life.add(at + timedelta(minutes=5), "assign_role", c.id, mover, Role.GRID_WORKER,
                     to, actor=desk, employment=Employment.FULL_TIME)
            roster.begin(mover, Role.GRID_WORKER, to, at + timedelta(minutes=5))
    elif kind == "building":
        building = rng.choice(c.by_grid[grid])
        old = roster.holder(Role.BUILDING_LEADER, building.id, at)
        # A handover: the new leader's assignment relieves the old one (two facts).
        person, name, phone = c.new_person(rng)
        life.add(at, "enrol", c.id, person, name, phone, actor=desk)
        life.add(at + timedelta(minutes=2), "assign_role", c.id, person, Role.BUILDING_LEADER,
                 building.id, actor=desk, facts=2)
        roster.end(old, Role.BUILDING_LEADER, building.id, at + timedelta(minutes=2))
        roster.begin(person, Role.BUILDING_LEADER, building.id, at + timedelta(minutes=2))
    elif kind == "squad_join":
        hire(Role.SQUAD_MEMBER, None, at)
    elif kind == "squad_leave":
        squad = roster.holders(Role.SQUAD_MEMBER, None, at)
        if len(squad) > SQUAD_PER_GRID:  # the squad never runs short
            leaver = rng.choice(squad)
            life.add(at, "relieve_role", c.id, leaver, Role.SQUAD_MEMBER, None,
                     rng.choice(words.RELIEVED), actor=desk)
            roster.end(leaver, Role.SQUAD_MEMBER, None, at)
    elif kind == "volunteer":
        hire(Role.VOLUNTEER, None, at)

