"""Commands on hazards: a finding on a patrol or an inspection, tracked to a verified fix.

A hazard is found (in a grid; at a building or unit of it, if the finder says), assigned
to whoever must fix it, rectified, and verified by someone other than the person who
rectified it; or closed without verification (the quality report flags it); and
reopened when the fix did not hold. It takes a reference like an order's
(``DH-2022-H0001``) and may be linked, both ways, to the service order or improvement
item it spawned and to the incident that came of it (resilience.domain.hazard).
"""

from datetime import datetime
from uuid import UUID, uuid4

from attrs import evolve

from resilience.domain.base import Context, FactAggregate
from resilience.domain.hazard import (
    AssigneeKind,
    Hazard,
    HazardCategory,
    LinkKind,
    hazard_id_for,
)
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community, location_area, unit_area_id
from resilience.domain.patrol import Patrol
from resilience.domain.policy import Target
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import check_uuid, shown
from resilience.domain.values import Actor, AreaKind, Location, Severity
from resilience.errors import InvalidInputError, NotFoundError
from resilience.i18n import N_, _
from resilience.services.core import FactService, Receipt, Store, refuse_taken_command
from resilience.services.references import give_reference, next_reference, take

Linked = ServiceOrder | ImprovementItem | Incident
"""What a hazard links to: the order or item it spawned, the incident that came of it."""


class Hazards(FactService[Hazard]):
    """``engine.hazards``: every command of a hazard's life, from finding to verification."""

    aggregate_class = Hazard
    name = "hazards"

    def find(
        self, community: UUID, *, location: Location, category: HazardCategory | str,
        severity: Severity | str, description: str, actor: Actor, photo: str | None = None,
        patrol_id: UUID | None = None, occurred_at: datetime | None = None,
        hazard_id: UUID | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record a hazard found at ``location`` at ``occurred_at``; the receipt's
        ``reference`` is its reference (``DH-2022-H0001``), the next of its community's
        book for the year it was found.

        The location is checked against the community's areas: its grid must be a grid
        (taken from its building if not given), its building a building inside that
        grid, its unit a unit of that building; a location naming neither grid nor
        building, or a unit without its building, is refused (InvalidInputError), as is
        an area of another kind or grid; an unknown area is NotFoundError. ``patrol_id``,
        if given, must name a patrol of the community (NotFoundError) walked in the
        hazard's grid (InvalidInputError). The hazard's id is ``hazard_id`` if given, else
        ``hazard_id_for(community, command_id)`` with a command id, else a random UUID.
        Who may find there is decided first, on the area the location names: a refused
        caller learns nothing of the community's areas.
        """
        ctx = self._store.context(actor, occurred_at, command_id)
        if hazard_id is not None:
            check_uuid(hazard_id, "hazard_id")
        if patrol_id is not None:
            check_uuid(patrol_id, "patrol_id")
        if not isinstance(location, Location):
            raise InvalidInputError(_("location must be a Location, got {value}").format(
                value=shown(location)))
        fresh = hazard_id is None and not command_id  # a uuid4: nobody else's

        def record() -> Receipt:
            # The community read once, as cached: the insert checks it (Store.deciding).
            org = self._store.current(Community, community)
            new_id = hazard_id if hazard_id is not None else (
                hazard_id_for(community, command_id) if command_id else uuid4())

            def build() -> Hazard:
                self._store.authorize("hazards.find", ctx, org, lambda _: _target(
                    location_area(location), None, N_("the new hazard")))
                placed = _located(org, location)
                if patrol_id is not None:
                    self._check_patrol(org, patrol_id, placed.grid, ctx.occurred_at)
                numbered = next_reference(self._store, org, "hazard", ctx.occurred_at)
                hazard = Hazard.find(
                    ctx, hazard_id=new_id, community_id=community, location=placed,
                    category=category, severity=severity, description=description,
                    photo=photo, patrol_id=patrol_id, reference=numbered.reference)
                take(self._store, numbered, ctx, new_id)  # (last: nothing refuses after it)
                return hazard

            return self._store.create(Hazard, new_id, ctx, build, fresh=fresh)

        return self._store.deciding(record)

    def _check_patrol(self, org: Community, patrol_id: UUID, grid: str | None,
                      found: datetime) -> None:
        """Refuse a patrol that is not one of the community's (NotFoundError), was walked
        in another grid than the hazard's, or was not under way when the hazard was
        ``found`` (InvalidInputError)."""
        patrol = self._store.load(Patrol, patrol_id)
        if patrol.community_id != org.id:
            raise NotFoundError(_("{community} has no patrol {id}").format(
                community=org.name, id=patrol_id))
        if patrol.grid != grid:
            raise InvalidInputError(
                _("patrol {id} was walked in grid {found}, not in the hazard's grid "
                  "{grid}").format(id=patrol_id, found=patrol.grid, grid=grid))
        if not patrol.started_at <= found <= patrol.ended_at:
            raise InvalidInputError(
                _("the hazard was found at {found}, outside patrol {id} ({start} to "
                  "{end})").format(found=found.isoformat(), id=patrol_id,
                                   start=patrol.started_at.isoformat(),
                                   end=patrol.ended_at.isoformat()))

    def assign_reference(self, hazard: UUID, *, actor: Actor,
                         occurred_at: datetime | None = None,
                         command_id: str | None = None) -> Receipt:
        """Give a hazard recorded before references its reference (``DH-2022-H0007``): the
        next number of its community's book for the year it was found.
        InvalidTransitionError if it has one."""
        return self._run(hazard, actor, occurred_at, command_id,
                         lambda h, ctx: give_reference(self._store, h, ctx),
                         command="assign_reference")

    def assign(self, hazard: UUID, *, assignee_kind: AssigneeKind | str, assignee: str,
               due: datetime, actor: Actor, occurred_at: datetime | None = None,
               command_id: str | None = None) -> Receipt:
        """Hand the hazard to whoever must fix it (a household, the property company, a
        provider, the community) by ``due``, after the moment it was found; again to
        hand it on while it is open or assigned. InvalidTransitionError once it is
        rectified or finished; InvalidInputError for a blank assignee or an unknown kind."""
        return self._run(hazard, actor, occurred_at, command_id,
                         lambda h, ctx: h.assign(ctx, assignee_kind, assignee, due),
                         command="assign")

    def rectify(self, hazard: UUID, note: str = "", *, actor: Actor,
                occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Record the hazard fixed, by ``actor`` (whom its verification may not be by).
        InvalidTransitionError unless it is open or assigned."""
        return self._run(hazard, actor, occurred_at, command_id,
                         lambda h, ctx: h.rectify(ctx, note), command="rectify")

    def verify(self, hazard: UUID, note: str = "", *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Record the fix checked and found good. InvalidTransitionError unless the hazard
        stands rectified, or when ``actor`` is the person who rectified it."""
        return self._run(hazard, actor, occurred_at, command_id,
                         lambda h, ctx: h.verify(ctx, note), command="verify")

    def close(self, hazard: UUID, reason: str, *, actor: Actor,
              occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Close the hazard without verification, saying why (the quality report flags
        it). InvalidTransitionError once it is finished; InvalidInputError for a blank
        reason."""
        return self._run(hazard, actor, occurred_at, command_id,
                         lambda h, ctx: h.close(ctx, reason), command="close")

    def reopen(self, hazard: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Reopen a rectified, verified or closed hazard whose fix did not hold (its
        assignee kept). InvalidTransitionError while it is open or assigned."""
        return self._run(hazard, actor, occurred_at, command_id,
                         lambda h, ctx: h.reopen(ctx, reason), command="reopen")

    def add_note(self, hazard: UUID, text: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(hazard, actor, occurred_at, command_id,
                         lambda h, ctx: h.add_note(ctx, text), command="add_note")

    # Links, both sides in one transaction -------------------------------------------

    def link_order(self, hazard: UUID, order_id: UUID, *, actor: Actor,
                   occurred_at: datetime | None = None,
                   command_id: str | None = None) -> Receipt:
        """Link the service order the hazard spawned: ``LinkedToOrder`` on the hazard and
        ``FromHazard`` on the order (``_link``'s docstring says what is refused)."""
        return self._link(hazard, order_id, ServiceOrder, actor, occurred_at, command_id,
                          command="link_order")

    def link_improvement(self, hazard: UUID, item_id: UUID, *, actor: Actor,
                         occurred_at: datetime | None = None,
                         command_id: str | None = None) -> Receipt:
        """Link the improvement item the hazard spawned: ``LinkedToImprovement`` on the
        hazard and ``FromHazard`` on the item (``_link``'s docstring)."""
        return self._link(hazard, item_id, ImprovementItem, actor, occurred_at, command_id,
                          command="link_improvement")

    def link_incident(self, hazard: UUID, incident_id: UUID, *, actor: Actor,
                      occurred_at: datetime | None = None,
                      command_id: str | None = None) -> Receipt:
        """Link the incident that came of the hazard: ``LinkedToIncident`` on the hazard
        and ``FromHazard`` on the incident ("it came from this hazard"; ``_link``'s
        docstring)."""
        return self._link(hazard, incident_id, Incident, actor, occurred_at, command_id,
                          command="link_incident")

    def _link(self, hazard: UUID, other_id: UUID, cls: type[Linked], actor: Actor,
              occurred_at: datetime | None, command_id: str | None, *,
              command: str) -> Receipt:
        """Record a link on the hazard and on ``other_id`` (a ``cls``), both or neither: in
        the open batch if there is one, else in one transaction of their own. Recorded in
        any status of either side (a link follows the closure).

        The policy decides ``hazards.<command>`` on the hazard and again on the other side
        (its area: the order's area, the item's grid, the incident's area): a link is for
        good, so nobody links what is not theirs to act on.

        Refused, recording nothing: an id that names no ``cls`` (NotFoundError), nor one
        of the hazard's community (NotFoundError: another community's records are none
        of this hazard's to know of); a side linked already (the same link, or this kind
        of link to another), a link dated before either side began
        (InvalidTransitionError); a command id the other side took for another command
        (InvalidInputError). The receipt is the hazard's."""
        check_uuid(other_id, _ID_NAMES[cls])
        store = self._store
        named = f"{self.name}.{command}"

        def link(h: Hazard, ctx: Context) -> None:
            other = _linked(store, cls, other_id, h)
            store.authorize(named, ctx, h.community_id, lambda _: _other_target(other))
            refuse_taken_command(ctx, other)
            # Both sides checked before either records: a refusal inside the caller's
            # batch must leave no half of the link held in it.
            other.check_hazard_link(ctx, h.id)
            h.check_link(ctx, _KINDS[cls], other_id)
            _record_link(h, ctx, cls, other_id)
            store.change(cls, other_id, ctx,
                         lambda side: side.from_hazard(ctx, h.id))

        return store.together(hazard, lambda: self._run(
            hazard, actor, occurred_at, command_id, link, command=command))

    def _target(self, aggregate: Hazard, ctx: Context, subject: object,
                area: object) -> Target:
        # The assignee acts on the hazard (rectifies it) when it is a provider or the
        # property company, named by the id its staff act under; a household's or the
        # community's name is no person's id, so it grants nobody anything.
        acting = aggregate.assignee if aggregate.assignee_kind in _ACTING else None
        return _target(location_area(aggregate.location), acting, N_("this hazard"))


_ACTING = frozenset({AssigneeKind.PROVIDER, AssigneeKind.PROPERTY_COMPANY})
"""The kinds of assignee the policy takes for the person acting on a hazard (``assigned``)."""

_KINDS: dict[type[FactAggregate], LinkKind] = {
    ServiceOrder: LinkKind.ORDER, ImprovementItem: LinkKind.IMPROVEMENT,
    Incident: LinkKind.INCIDENT}
"""The kind of link a hazard records to each class (``Hazard.check_link``)."""

_ID_NAMES: dict[type[FactAggregate], str] = {
    ServiceOrder: "order_id", ImprovementItem: "item_id", Incident: "incident_id"}


def _record_link(hazard: Hazard, ctx: Context, cls: type[Linked], other_id: UUID) -> None:
    if cls is ServiceOrder:
        hazard.link_order(ctx, other_id)
    elif cls is ImprovementItem:
        hazard.link_improvement(ctx, other_id)
    else:
        hazard.link_incident(ctx, other_id)


def _linked(store: Store, cls: type[Linked], other_id: UUID, hazard: Hazard) -> Linked:
    """The ``cls`` of ``other_id``, if it is one of the hazard's community; else
    NotFoundError."""
    other: Linked = store.load(cls, other_id)
    if other.community_id != hazard.community_id:
        raise NotFoundError(_("no {kind} {id} in the hazard's community").format(
            kind=_(cls.kind), id=other_id))
    return other


def _other_target(other: Linked) -> Target:
    """The other side of a link as the policy sees it: its area."""
    if isinstance(other, ServiceOrder):
        return Target(area=other.area_id, what=N_("the order linked"),
                      area_is=N_("the order's area"))
    if isinstance(other, ImprovementItem):
        return Target(area=other.grid, what=N_("the item linked"),
                      area_is=N_("the item's grid"))
    return Target(area=other.area, what=N_("the incident linked"),
                  area_is=N_("the incident's area"))


def _target(area: str | None, assignee: str | None, what: str) -> Target:
    """A hazard as the policy sees it: its area (unit, else building, else grid) and whom
    it is assigned to (``assigned``: a provider rectifies the hazards handed to it)."""
    return Target(area=area, assigned=frozenset() if assignee is None else frozenset({assignee}),
                  what=what, area_is=N_("the hazard's area"),
                  assigned_is=N_("whom the hazard is assigned to"))


def _located(org: Community, location: Location) -> Location:
    """The location checked against the community's areas (``Hazards.find``), its grid
    filled in from its building."""
    grid, building, unit = location.grid, location.building, location.unit
    if unit is not None and building is None:
        raise InvalidInputError(_("a location with a unit needs its building"))
    if building is None:
        if grid is None:
            raise InvalidInputError(_("a hazard's location names its grid or building"))
    else:
        if org.area(building).kind is not AreaKind.BUILDING:
            raise InvalidInputError(_("{area} is not a building of {community}").format(
                area=building, community=org.name))
        if unit is not None:
            unit_id = unit_area_id(building, unit)
            if org.area(unit_id).kind is not AreaKind.UNIT:
                raise InvalidInputError(_("{area} is not a unit of {community}").format(
                    area=unit_id, community=org.name))
        building_grid = org.grid_of(building)
        if grid is not None and grid != building_grid:
            raise InvalidInputError(
                _("building {building} is in grid {found}, not {grid}").format(
                    building=building, found=building_grid, grid=grid))
        grid = building_grid
    if org.area(grid).kind is not AreaKind.GRID:
        raise InvalidInputError(_("{grid} is not a grid of {community}").format(
            grid=grid, community=org.name))
    return evolve(location, grid=grid)
