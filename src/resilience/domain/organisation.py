"""The community aggregate: grids, micro-grids, buildings, units, roster over time, care cards."""

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import attrs
from attrs import define, frozen

from resilience.domain.base import Context, Correction, FactAggregate, personal_data
from resilience.domain.escalated import WATCH
from resilience.domain.references import check_code, fallback_code
from resilience.domain.validation import (
    check_instance,
    check_items,
    check_text,
    check_whole,
    require_text,
    shown,
)
from resilience.domain.values import (
    EXCLUSIVE_ROLES,
    ROSTER_ROLES,
    AreaKind,
    CareCard,
    Employment,
    Location,
    Role,
    UnitSpec,
    ZoneType,
    parse_enum,
)
from resilience.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
)
from resilience.i18n import N_, _

NAMESPACE = uuid5(NAMESPACE_URL, "https://resilience.invalid/ids")
"""Namespace of the library's derived (uuid5) identifiers."""


def community_id(district: str, subdistrict: str, name: str) -> UUID:
    """The one id of a community, derived from where it is and its name."""
    check_text(district, "district")
    check_text(subdistrict, "subdistrict")
    check_text(name, "name")
    return uuid5(NAMESPACE, f"community/{district}/{subdistrict}/{name}")


def unit_area_id(building_id: str, unit_id: str) -> str:
    """Area id of a unit within a building, e.g. ``"30/1"``."""
    return f"{building_id}/{unit_id}"


def location_areas(location: Location) -> tuple[str, ...]:
    """The areas a location names, the most precise first: its unit's area, its building,
    its grid (none: somewhere in the community). An incident's area is the first
    (``Incident.area``); a reader of a record whose community lacks it takes the first
    the community has."""
    named = [location.grid]
    if location.building is not None:
        named.insert(0, location.building)
        if location.unit is not None:
            named.insert(0, unit_area_id(location.building, location.unit))
    return tuple(area for area in named if area is not None)


def location_area(location: Location) -> str | None:
    """The area a location is in, as precisely as it says (the first of
    ``location_areas``; None: somewhere in the community): an incident's area."""
    return next(iter(location_areas(location)), None)


FACT_AREA_FIELDS = ("grid_id", "area_id", "building_id", "micro_grid_id", "scope")
"""The fields in which a community's facts name the area they are about, in the order
``fact_area`` reads them."""


def fact_area(fact: object) -> str | None:
    """The area one of a community's facts is about: the grid of an activity, a care
    card or a micro-grid added, the area classified, the building added, the scope of a
    role; None (the community as a whole) for the rest. A correction's is its corrected
    fact's (the reader looks that up)."""
    for name in FACT_AREA_FIELDS:
        value = getattr(fact, name, None)
        if isinstance(value, str):
            return value
    return None


# Which area kind a role is held for (None: community-wide, any area allowed).
_ROLE_SCOPES: dict[Role, frozenset[AreaKind] | None] = {
    Role.GRID_LEADER: frozenset({AreaKind.GRID}),
    Role.GRID_WORKER: frozenset({AreaKind.GRID}),
    Role.BUILDING_LEADER: frozenset({AreaKind.BUILDING}),
    Role.UNIT_LEADER: frozenset({AreaKind.UNIT}),
    Role.PARTY_MEMBER_HOUSEHOLD: frozenset({AreaKind.BUILDING, AreaKind.UNIT}),
    Role.SQUAD_MEMBER: None,
    Role.VOLUNTEER: None,
    Role.COMMUNITY_STAFF: None,
}


@define
class Area:
    kind: AreaKind
    name: str
    parent: str | None
    zone_type: ZoneType | None = None
    households: int = 0


@frozen
class Person:
    person_id: str
    name: str
    phone: str
    skills: tuple[str, ...]


@define
class RoleTerm:
    """One person holding one role for one scope, from one fact to (maybe) another:
    the versions of those facts, and their effective times (kept here, corrections
    applied, so a roster question reads the term alone)."""

    person_id: str
    role: Role
    scope: str | None
    employment: Employment | None
    affiliation: str | None
    assigned: int
    since: datetime
    relieved: int | None = None
    until: datetime | None = None


@frozen
class Holding:
    """A role held at a moment, as returned by roster queries."""

    person_id: str
    role: Role
    scope: str | None
    since: datetime
    until: datetime | None
    employment: Employment | None
    affiliation: str | None


class Community(FactAggregate):
    """A community (社區) of a subdistrict (街道) of a district (區), and its organisation."""

    TOPIC = "resilience.organisation:Community"
    kind = "community"

    district: str
    subdistrict: str
    name: str
    areas: dict[str, Area]
    people: dict[str, Person]
    enrolments: dict[str, int]
    """Version of each person's enrolment fact: no role of theirs can begin before it."""
    person_terms: dict[str, list[RoleTerm]]
    """Each person's terms, in the order they were assigned (``terms``: everyone's): a
    question about one person's roles reads theirs alone."""
    care_cards: dict[str, CareCard]
    activities: dict[int, int]
    """Version of each ActivityHeld fact -> how many took part (the corrected count)."""
    erased: dict[str, int]
    """Version of the PersonErased fact of each person erased here."""
    code: str | None
    """Its code in its cases' references (``DH``; resilience.domain.references)."""
    founder: str
    """Who registered the community (the person id of its Registered fact's actor): its
    first administrator, who may act as community staff (resilience.domain.policy)."""
    imported_only: bool
    """Every fact so far was imported (``engine.importing``): who may import into it
    (resilience.services.core)."""
    snapshotted = True  # a community grows for as long as it is served

    class Event(FactAggregate.Event):
        TOPIC = "resilience.organisation:Event"
        aggregate_kind = "community"

        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            if self.actor.imported_by is None:
                aggregate.imported_only = False
            return aggregate

    class Registered(Event, FactAggregate.Created):
        TOPIC = "resilience.organisation:Registered"
        district: str
        subdistrict: str
        name: str
        code: str | None = None
        """The community's code in its cases' references (resilience.domain.references);
        None: none given (registered before codes, or without one)."""

        def apply(self, aggregate: "Community") -> None:
            aggregate.district = self.district
            aggregate.subdistrict = self.subdistrict
            aggregate.name = self.name
            aggregate.founder = self.actor.person_id
            aggregate.code = self.code

        def describe(self) -> str:
            return f"{self.name} registered ({self.district}, {self.subdistrict})"

    Created = Registered  # see Incident.Created

    class GridAdded(Event):
        TOPIC = "resilience.organisation:GridAdded"
        grid_id: str
        name: str

        def apply(self, aggregate: "Community") -> None:
            aggregate.areas[self.grid_id] = Area(AreaKind.GRID, self.name, None)

        def describe(self) -> str:
            return f"grid {self.grid_id} added"

    class MicroGridAdded(Event):
        TOPIC = "resilience.organisation:MicroGridAdded"
        micro_grid_id: str
        grid_id: str
        name: str

        def apply(self, aggregate: "Community") -> None:
            aggregate.areas[self.micro_grid_id] = Area(AreaKind.MICRO_GRID, self.name, self.grid_id)

        def describe(self) -> str:
            return f"micro-grid {self.micro_grid_id} added to grid {self.grid_id}"

    class BuildingAdded(Event):
        TOPIC = "resilience.organisation:BuildingAdded"
        building_id: str
        parent: str
        name: str
        units: tuple[UnitSpec, ...]

        def apply(self, aggregate: "Community") -> None:
            total = sum(u.households for u in self.units)
            aggregate.areas[self.building_id] = Area(
                AreaKind.BUILDING, self.name, self.parent, households=total
            )
            for unit in self.units:
                aggregate.areas[unit_area_id(self.building_id, unit.unit_id)] = Area(
                    AreaKind.UNIT, unit.unit_id, self.building_id, households=unit.households
                )

        def describe(self) -> str:
            return f"building {self.building_id} added under {self.parent}"

    class ZoneClassified(Event):
        TOPIC = "resilience.organisation:ZoneClassified"
        area_id: str
        zone_type: ZoneType

        def apply(self, aggregate: "Community") -> None:
            aggregate.areas[self.area_id].zone_type = self.zone_type

        def describe(self) -> str:
            return f"{self.area_id} classified {self.zone_type.value}"

    class PersonEnrolled(Event):
        TOPIC = "resilience.organisation:PersonEnrolled"
        personal = personal_data({"name": "person_id", "phone": "person_id", "skills": "person_id"})
        person_id: str
        name: str
        phone: str
        skills: tuple[str, ...]

        def apply(self, aggregate: "Community") -> None:
            aggregate.people[self.person_id] = Person(
                self.person_id, self.name, self.phone, self.skills
            )
            aggregate.enrolments[self.person_id] = self.originator_version

        def describe(self) -> str:
            return f"{self.person_id} enrolled"

    class RoleAssigned(Event):
        TOPIC = "resilience.organisation:RoleAssigned"
        person_id: str
        role: Role
        scope: str | None
        employment: Employment | None
        affiliation: str | None

        def apply(self, aggregate: "Community") -> None:
            term = RoleTerm(self.person_id, self.role, self.scope, self.employment,
                            self.affiliation, self.originator_version, self.occurred_at)
            terms = aggregate.person_terms.get(self.person_id)
            if terms is None:
                aggregate.person_terms[self.person_id] = [term]
            else:
                terms.append(term)

        def describe(self) -> str:
            return f"{self.person_id} is {self.role.value}" + (
                f" of {self.scope}" if self.scope else "")

    class RoleRelieved(Event):
        TOPIC = "resilience.organisation:RoleRelieved"
        personal = personal_data({"reason": "actor"})
        person_id: str
        role: Role
        scope: str | None
        reason: str

        def apply(self, aggregate: "Community") -> None:
            term = aggregate.open_term(self.person_id, self.role, self.scope)
            assert term is not None  # checked by the command
            term.relieved, term.until = self.originator_version, self.occurred_at

        def describe(self) -> str:
            return f"{self.person_id} relieved as {self.role.value}" + (
                f" of {self.scope}" if self.scope else "")

    class CareCardIssued(Event):
        TOPIC = "resilience.organisation:CareCardIssued"
        # Each contact's name and phone are that contact's (an office's: the card's grid's).
        personal = personal_data({
            f"card.{contact.name}.{part}": f"card.{contact.name}.person_id"
            for contact in attrs.fields(CareCard) for part in ("name", "phone")})
        grid_id: str
        card: CareCard

        def apply(self, aggregate: "Community") -> None:
            aggregate.care_cards[self.grid_id] = self.card

        def describe(self) -> str:
            return f"care card issued to grid {self.grid_id}"

    class ActivityHeld(Event):
        """A service activity (health talk, skills class, meal help day...) took place."""

        TOPIC = "resilience.organisation:ActivityHeld"
        personal = personal_data({"title": "actor"})  # "Health talk by Dr Wang" names someone
        title: str
        category: str
        grid_id: str | None
        participants: int

        def describe(self) -> str:
            return (f"activity held: {self.title} ({self.category}), {self.participants} taking "
                    "part" + (f", grid {self.grid_id}" if self.grid_id else ""))

        def apply(self, aggregate: "Community") -> None:
            aggregate.activities[self.originator_version] = self.participants

    class ParticipantsCorrected(Event, Correction):
        """The activity held at version ``corrects`` had ``participants`` taking part: a
        structured correction of a count (the activity's fact keeps the count first
        recorded; readers count the corrected one)."""

        TOPIC = "resilience.organisation:ParticipantsCorrected"
        personal = personal_data({"reason": "actor"})
        corrects: int
        participants: int
        reason: str

        def describe(self) -> str:
            return (f"participants of fact {self.corrects} corrected to {self.participants}: "
                    f"{self.reason}")

        def apply(self, aggregate: "Community") -> None:
            aggregate.activities[self.corrects] = self.participants

    class PersonErased(Event):
        """A person's personal data was erased (their right to erasure, or the law's): the
        key it was sealed under is deleted beside this fact (resilience.services.people),
        so it reads as a placeholder everywhere. Their id stays, a pseudonym: the facts
        about them still count. ``reason`` says on what ground (it belongs to whoever
        recorded it, so it should not name the person)."""

        TOPIC = "resilience.organisation:PersonErased"
        personal = personal_data({"reason": "actor"})
        person_id: str
        reason: str

        def apply(self, aggregate: "Community") -> None:
            aggregate.erased[self.person_id] = self.originator_version

        def describe(self) -> str:
            return f"{self.person_id}'s personal data erased: {self.reason}"

    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "resilience.organisation:TimeCorrected"

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            fact = aggregate.fact_types[self.corrects]
            if issubclass(fact, Community.RoleAssigned | Community.RoleRelieved):
                for term in aggregate.terms:  # the term's own copy of the time moves too
                    if term.assigned == self.corrects:
                        term.since = self.corrected_to
                    if term.relieved == self.corrects:
                        term.until = self.corrected_to

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "resilience.organisation:DetailsCorrected"

    class CodeSet(Event):
        """The community's code (``DH``) for the references of cases recorded from now on."""

        TOPIC = "resilience.organisation:CodeSet"
        code: str

        def apply(self, aggregate: "Community") -> None:
            aggregate.code = self.code

        def describe(self) -> str:
            return f"reference code set to {self.code}"

    def __init__(self) -> None:
        super().__init__()
        self.areas = {}
        self.people = {}
        self.enrolments = {}
        self.person_terms = {}
        self.care_cards = {}
        self.activities = {}
        self.erased = {}
        self.imported_only = True

    @classmethod
    def register(cls, ctx: Context, *, district: str, subdistrict: str, name: str,
                 code: str | None = None) -> "Community":
        """``code``: the community's code in its cases' references (``DH``), or None."""
        code = None if code is None else check_code(code)
        district = require_text(district, "district")
        subdistrict = require_text(subdistrict, "subdistrict")
        name = require_text(name, "name")
        return cls._create(
            cls.Registered,
            id=community_id(district, subdistrict, name),
            timestamp=ctx.recorded_at,
            occurred_at=ctx.occurred_at,
            actor=ctx.actor,
            command_id=ctx.command_id,
            district=district,
            subdistrict=subdistrict,
            name=name,
            code=code,
        )

    # Queries ------------------------------------------------------------------

    def area(self, area_id: str) -> Area:
        check_text(area_id, "area id")
        try:
            return self.areas[area_id]
        except KeyError:
            raise NotFoundError(_("{community} has no area {area}").format(
                community=self.name, area=shown(area_id))) from None

    def grids(self) -> list[str]:
        return [a for a, area in self.areas.items() if area.kind is AreaKind.GRID]

    def grid_of(self, area_id: str) -> str:
        """The grid an area belongs to (a grid belongs to itself)."""
        current: str | None = area_id
        while current is not None:
            area = self.area(current)
            if area.kind is AreaKind.GRID:
                return current
            current = area.parent
        raise NotFoundError(_("area {area} is in no grid").format(  # pragma: no cover
            area=shown(area_id)))

    def zone_type_of(self, area_id: str) -> ZoneType | None:
        """The service-zone type of an area: its own, or the nearest classified ancestor's."""
        current: str | None = area_id
        while current is not None:
            area = self.area(current)
            if area.zone_type is not None:
                return area.zone_type
            current = area.parent
        return None

    def households(self, area_id: str | None = None) -> int:
        """Households in an area (the whole community when ``area_id`` is None)."""
        buildings = [a for a, area in self.areas.items() if area.kind is AreaKind.BUILDING]
        if area_id is None:
            return sum(self.areas[b].households for b in buildings)
        self.area(area_id)
        return sum(self.areas[b].households for b in buildings if self.within(b, area_id))

    @property
    def terms(self) -> list[RoleTerm]:
        """Every term, in the order they were assigned."""
        every = [term for terms in self.person_terms.values() for term in terms]
        every.sort(key=_assigned)
        return every

    def open_term(self, person_id: str, role: Role, scope: str | None) -> RoleTerm | None:
        for term in reversed(self.person_terms.get(person_id, ())):
            if term.role is role and term.scope == scope and term.relieved is None:
                return term
        return None

    def roster(self, at: datetime, *, role: Role | str | None = None,
               scope: str | None = None) -> list[Holding]:
        """Everyone holding a role at ``at`` (effective times, corrections applied)."""
        wanted = parse_enum(Role, role, "role") if role is not None else None
        return _holdings(self.terms, at, wanted, scope)

    def holdings(self, person_id: str, at: datetime, role: Role | None = None) -> list[Holding]:
        """``roster(at, role=role)`` of one person: the roles they held at ``at``, read from
        their own terms."""
        return _holdings(self.person_terms.get(person_id, ()), at, role, None)

    def scopes_held(self, person_id: str, role: Role, at: datetime) -> list[str | None]:
        """The scopes of ``role`` that ``person_id`` held at ``at`` (None: the whole
        community), in the order they were assigned: the policy asks this of every
        command (``holdings``' scopes, without making them)."""
        return [term.scope for term in self.person_terms.get(person_id, ())
                if term.role is role and term.since <= at
                and (term.until is None or at < term.until)]

    def standing_span(self, person_id: str, role: Role,
                      at: datetime) -> tuple[datetime | None, datetime | None]:
        """The span ``[since, until)`` around ``at`` in which none of ``person_id``'s terms
        of ``role`` begins or ends (None: unbounded), so ``scopes_held`` answers the same
        at every moment in it: each term holds from its ``since`` to its ``until``, and
        none of those lies inside the span."""
        since: datetime | None = None
        until: datetime | None = None
        for term in self.person_terms.get(person_id, ()):
            if term.role is not role:
                continue
            for edge in (term.since, term.until):
                if edge is None:
                    continue
                if edge <= at:
                    if since is None or edge > since:
                        since = edge
                elif until is None or edge < until:
                    until = edge
        return since, until

    def holder(self, role: Role | str, scope: str, at: datetime) -> str | None:
        """Who held an exclusive role for ``scope`` at ``at`` ("who led grid 3 at 15:00")."""
        held = self.roster(at, role=role, scope=scope)
        return held[0].person_id if held else None

    def roles_of(self, person_id: str, at: datetime) -> list[Holding]:
        return self.holdings(person_id, at)

    # Commands -----------------------------------------------------------------

    def set_code(self, ctx: Context, code: str) -> None:
        """Set the code of the community's references (resilience.domain.references)."""
        code = check_code(code)
        if code == self.code:
            raise InvalidTransitionError(_("{community}'s code is {code} already").format(
                community=self.name, code=code))
        self._trigger(self.CodeSet, ctx, code=code)

    @property
    def reference_code(self) -> str:
        """The code its cases' references begin with: its own, else ``fallback_code``."""
        return self.code or fallback_code(self.id)

    def add_grid(self, ctx: Context, grid_id: str, name: str = "") -> None:
        grid_id = self._new_area_id(grid_id)
        name = check_text(name, "name")
        self._trigger(self.GridAdded, ctx, grid_id=grid_id, name=name or grid_id)

    def add_micro_grid(
        self, ctx: Context, micro_grid_id: str, grid_id: str, name: str = ""
    ) -> None:
        micro_grid_id = self._new_area_id(micro_grid_id)
        name = check_text(name, "name")
        self._require_kind(grid_id, {AreaKind.GRID})
        self._trigger(self.MicroGridAdded, ctx, micro_grid_id=micro_grid_id, grid_id=grid_id,
                      name=name or micro_grid_id)

    def add_building(
        self, ctx: Context, building_id: str, parent: str,
        units: list[UnitSpec] | tuple[UnitSpec, ...], name: str = "",
    ) -> None:
        building_id = self._new_area_id(building_id)
        name = check_text(name, "name")
        self._require_kind(parent, {AreaKind.GRID, AreaKind.MICRO_GRID})
        units = check_items(units, "units", lambda u, n: check_instance(u, n, UnitSpec))
        unit_ids = [u.unit_id for u in units]
        if len(set(unit_ids)) != len(unit_ids):
            raise InvalidInputError(_("building {building}: unit ids repeat: {units}").format(
                building=building_id, units=unit_ids))
        for unit in unit_ids:
            self._new_area_id(unit_area_id(building_id, unit))
        self._trigger(self.BuildingAdded, ctx, building_id=building_id, parent=parent,
                      name=name or building_id, units=units)

    def classify_zone(self, ctx: Context, area_id: str, zone_type: ZoneType | str) -> None:
        zone = parse_enum(ZoneType, zone_type, "zone_type")
        area = self.area(area_id)
        if area.zone_type is zone:
            raise InvalidTransitionError(_("{area} is already classified {zone}").format(
                area=area_id, zone=zone.value))
        self._trigger(self.ZoneClassified, ctx, area_id=area_id, zone_type=zone)

    def enrol(
        self, ctx: Context, person_id: str, name: str, phone: str = "",
        skills: list[str] | tuple[str, ...] = (),
    ) -> None:
        person_id = require_text(person_id, "person_id")
        if person_id == WATCH.person_id:  # the engine's watch: no person holds its id
            raise InvalidInputError(_("{person} is reserved for the engine's watch").format(
                person=person_id))
        if person_id in self.people:
            raise AlreadyExistsError(_("{person} is already on {community}'s roster").format(
                person=person_id, community=self.name))
        self._trigger(self.PersonEnrolled, ctx, person_id=person_id,
                      name=require_text(name, "name"), phone=check_text(phone, "phone"),
                      skills=check_items(skills, "skills", require_text))

    def erase_person(self, ctx: Context, person_id: str, reason: str) -> None:
        """Record that ``person_id``'s personal data was erased (see PersonErased)."""
        person_id = require_text(person_id, "person_id")
        if person_id in self.erased:
            raise InvalidTransitionError(_("{person} was already erased from {community}")
                                         .format(person=person_id, community=self.name))
        self._trigger(self.PersonErased, ctx, person_id=person_id,
                      reason=require_text(reason, "reason"))

    def assign_role(
        self, ctx: Context, person_id: str, role: Role | str, scope: str | None = None, *,
        employment: Employment | str | None = None, affiliation: str | None = None,
    ) -> None:
        """Give ``person_id`` a role from ``ctx.occurred_at``.

        For an exclusive role (grid, building or unit leader) the incumbent is
        relieved at the same moment, as a fact of its own (a handover).
        """
        assigned = parse_enum(Role, role, "role")
        self._check_assignable(person_id, assigned, affiliation)
        self._check_scope(assigned, scope)
        work = parse_enum(Employment, employment, "employment") if employment is not None else None
        self._check_new_term(ctx, person_id, assigned, scope)
        for term in self._incumbents(ctx, assigned, scope):
            self._trigger(self.RoleRelieved, ctx, person_id=term.person_id, role=assigned,
                          scope=scope, reason=f"handed over to {person_id}")
        self._trigger(self.RoleAssigned, ctx, person_id=person_id, role=assigned, scope=scope,
                      employment=work, affiliation=affiliation)

    def _check_assignable(self, person_id: str, role: Role, affiliation: str | None) -> None:
        """A roster role, for a person enrolled here."""
        if role not in ROSTER_ROLES:
            raise InvalidInputError(_("{role} is not a roster role").format(role=role.value))
        check_text(person_id, "person_id")
        if affiliation is not None:
            check_text(affiliation, "affiliation")
        if person_id not in self.people:
            raise NotFoundError(_("{person} is not enrolled in {community}").format(
                person=person_id, community=self.name))

    def _check_scope(self, role: Role, scope: str | None) -> None:
        """An area of the kind the role is held for, or (community-wide roles) any or none."""
        kinds = _ROLE_SCOPES[role]
        if kinds is not None:
            if scope is None:
                raise InvalidInputError(_("{role} needs a scope: one of {kinds}").format(
                    role=role.value, kinds=", ".join(sorted(k.value for k in kinds))))
            self._require_kind(scope, set(kinds))
        elif scope is not None:
            self.area(scope)

    def _check_new_term(self, ctx: Context, person_id: str, role: Role,
                        scope: str | None) -> None:
        """The person's new term begins after their enrolment, and after (not inside) any
        term of theirs in the same role and scope."""
        enrolled_at = self.occurred[self.enrolments[person_id]]
        if ctx.occurred_at < enrolled_at:
            raise InvalidTransitionError(_(
                "{person} was enrolled at {time}: a role can't begin before that").format(
                    person=person_id, time=enrolled_at.isoformat()))
        if self.open_term(person_id, role, scope) is not None:
            raise InvalidTransitionError(_(
                N_("{person} already holds {role} for {scope}") if scope else
                N_("{person} already holds {role} for the community")).format(
                    person=person_id, role=role.value, scope=scope))
        for term in self.person_terms.get(person_id, ()):
            if (term.role, term.scope) == (role, scope):
                until = term.until
                if until is not None and ctx.occurred_at < until:
                    raise InvalidTransitionError(_(
                        N_("{person} held {role} for {scope} until {until}: a new term can't "
                           "begin inside that one") if scope else
                        N_("{person} held {role} for the community until {until}: a new term "
                           "can't begin inside that one")).format(
                            person=person_id, role=role.value, scope=scope,
                            until=until.isoformat()))

    def _incumbents(self, ctx: Context, role: Role, scope: str | None) -> list[RoleTerm]:
        """The terms a new holder of an exclusive role takes over at ``ctx.occurred_at``;
        refused if that moment falls inside an earlier holder's finished term."""
        incumbents: list[RoleTerm] = []
        if role not in EXCLUSIVE_ROLES:
            return incumbents
        for term in self.terms:
            if (term.role, term.scope) != (role, scope):
                continue
            since, until = term.since, term.until
            if term.relieved is None and since <= ctx.occurred_at:
                incumbents.append(term)
            elif until is None or ctx.occurred_at < until:
                raise InvalidTransitionError(_(
                    "{role} of {scope} at {time} overlaps {person}'s term from {since}").format(
                        role=role.value, scope=scope, time=ctx.occurred_at.isoformat(),
                        person=term.person_id, since=since.isoformat()))
        return incumbents

    def relieve_role(
        self, ctx: Context, person_id: str, role: Role | str, scope: str | None = None,
        reason: str = "",
    ) -> None:
        relieved = parse_enum(Role, role, "role")
        check_text(person_id, "person_id")
        if scope is not None:
            check_text(scope, "scope")
        check_text(reason, "reason")
        term = self.open_term(person_id, relieved, scope)
        if term is None:
            raise InvalidTransitionError(_(
                N_("{person} does not hold {role} for {scope}") if scope else
                N_("{person} does not hold {role} for the community")).format(
                    person=person_id, role=relieved.value, scope=scope))
        if ctx.occurred_at < term.since:
            raise InvalidTransitionError(_(
                "{person} took the role at {time}; they cannot be relieved before that").format(
                    person=person_id, time=term.since.isoformat()))
        self._trigger(self.RoleRelieved, ctx, person_id=person_id, role=relieved, scope=scope,
                      reason=reason)

    def issue_care_card(self, ctx: Context, grid_id: str, card: CareCard) -> None:
        self._require_kind(grid_id, {AreaKind.GRID})
        check_instance(card, "card", CareCard)
        if self.care_cards.get(grid_id) == card:
            raise InvalidTransitionError(_("grid {grid} already has this care card").format(
                grid=grid_id))
        self._trigger(self.CareCardIssued, ctx, grid_id=grid_id, card=card)

    def hold_activity(
        self, ctx: Context, title: str, category: str, participants: int,
        grid_id: str | None = None,
    ) -> None:
        """Record an activity held for residents, and how many took part (person-times)."""
        if grid_id is not None:
            self._require_kind(grid_id, {AreaKind.GRID})
        self._trigger(self.ActivityHeld, ctx, title=require_text(title, "title"),
                      category=require_text(category, "category"), grid_id=grid_id,
                      participants=check_whole(participants, "participants", 0))

    def correct_participants(self, ctx: Context, corrects: int, participants: int,
                             reason: str) -> None:
        """Correct how many took part in the activity held at version ``corrects``: a
        whole number >= 0 that differs from its current count, with a reason.
        NotFoundError if the community has no fact at that version; InvalidTransitionError
        if that fact is no ActivityHeld."""
        count = check_whole(participants, "participants", 0)
        reason = require_text(reason, "reason")
        self._require_correctable(corrects)
        fact = self.fact_types[corrects]
        if not issubclass(fact, self.ActivityHeld):
            raise InvalidTransitionError(_(
                "fact {version} is {fact}, not ActivityHeld: only an activity's participants "
                "can be corrected").format(version=corrects, fact=fact.fact_name))
        if count == self.activities[corrects]:
            raise InvalidTransitionError(_(
                "the activity at version {version} already counts {count} participants")
                .format(version=corrects, count=count))
        self._check_times(self._times_with(ctx, {}))
        self._trigger(self.ParticipantsCorrected, ctx, corrects=corrects, participants=count,
                      reason=reason)

    # Invariants ---------------------------------------------------------------

    def _span(self, term: RoleTerm, times: dict[int, datetime]) -> tuple[datetime, datetime | None]:
        return times[term.assigned], times[term.relieved] if term.relieved is not None else None

    def _check_times(self, times: dict[int, datetime]) -> None:
        # Terms that may not overlap: one holder at a time for exclusive roles, and
        # never the same person twice in the same role and scope.
        groups: dict[tuple[object, ...], list[tuple[datetime, datetime | None, str]]] = {}
        for term in self.terms:
            since, until = self._span(term, times)
            if until is not None and until < since:
                raise InvalidTransitionError(
                    _("{person}'s {role} term would end before it began").format(
                        person=term.person_id, role=term.role.value))
            enrolled_at = times[self.enrolments[term.person_id]]
            if since < enrolled_at:
                raise InvalidTransitionError(_(
                    "{person}'s {role} term would begin before their enrolment ({enrolled})")
                    .format(person=term.person_id, role=term.role.value,
                            enrolled=enrolled_at.isoformat()))
            span = (since, until, term.person_id)
            groups.setdefault((term.person_id, term.role, term.scope), []).append(span)
            if term.role in EXCLUSIVE_ROLES:
                groups.setdefault((term.role, term.scope), []).append(span)
        for key, spans in groups.items():
            spans.sort(key=lambda t: t[0])
            for (_began, until, who), (since, _ended, nxt) in itertools.pairwise(spans):
                if until is None or since < until:
                    role, scope = key[-2], key[-1]
                    raise InvalidTransitionError(_(
                        N_("{person}'s and {other}'s terms as {role} of {scope} would overlap")
                        if scope else
                        N_("{person}'s and {other}'s terms as {role} of the community would "
                           "overlap")).format(person=who, other=nxt, role=role, scope=scope))

    def _new_area_id(self, area_id: str) -> str:
        area_id = require_text(area_id, "area id")
        if area_id in self.areas:
            raise AlreadyExistsError(_("{community} already has an area {area}").format(
                community=self.name, area=shown(area_id)))
        return area_id

    def _require_kind(self, area_id: str | None, kinds: set[AreaKind]) -> None:
        if area_id is None:
            raise InvalidInputError(_("an area id is required"))
        area = self.area(area_id)
        if area.kind not in kinds:
            wanted = " or ".join(sorted(k.value for k in kinds))
            raise InvalidInputError(_("{area} is a {kind}, not a {wanted}").format(
                area=area_id, kind=area.kind.value, wanted=wanted))

    def within(self, area_id: str, ancestor: str) -> bool:
        """Is the area ``area_id`` (one of the community's) ``ancestor`` or below it?"""
        current: str | None = area_id
        while current is not None:
            if current == ancestor:
                return True
            current = self.areas[current].parent
        return False


def _assigned(term: RoleTerm) -> int:
    return term.assigned


def _holdings(terms: Iterable[RoleTerm], at: datetime, role: Role | None,
              scope: str | None) -> list[Holding]:
    """The holdings of ``terms`` at ``at`` (of ``role``, for ``scope``: None, any)."""
    found = []
    for term in terms:
        if role is not None and term.role is not role:
            continue
        if scope is not None and term.scope != scope:
            continue
        since, until = term.since, term.until
        if since <= at and (until is None or at < until):
            found.append(Holding(term.person_id, term.role, term.scope, since, until,
                                 term.employment, term.affiliation))
    return found
