"""Commands on incidents, from detection to closure."""

from datetime import datetime
from uuid import UUID, uuid4, uuid5

from attrs import evolve

from resilience.domain.base import Context, FactAggregate
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import NAMESPACE, Community, location_area, unit_area_id
from resilience.domain.policy import Target
from resilience.domain.policy_standing import covers
from resilience.domain.recovery import RecoveryKind
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import check_uuid, shown
from resilience.domain.values import (
    ActionKind,
    Actor,
    AreaKind,
    ClosureReason,
    IncidentType,
    Location,
    Severity,
)
from resilience.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from resilience.i18n import N_, _
from resilience.services.core import (
    FactService,
    Receipt,
    Store,
    refuse_taken_command,
    target_context,
)
from resilience.services.references import give_reference, next_reference, take

Ids = list[str] | tuple[str, ...]


def incident_id_for(community: UUID, key: str) -> UUID:
    """A stable incident id from a caller's key (a scenario name, a device's report id...)."""
    return uuid5(NAMESPACE, f"incident/{community}/{key}")


class Incidents(FactService[Incident]):
    """``engine.incidents``: every command of an incident's life."""

    aggregate_class = Incident
    name = "incidents"

    def detect(
        self, community: UUID, *, incident_type: IncidentType | str, severity: Severity | str,
        location: Location, description: str, actor: Actor, occurred_at: datetime | None = None,
        drill: bool = False, incident_id: UUID | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record that ``actor`` noticed an incident at ``occurred_at`` (not yet reported)."""
        return self._report(
            community, incident_type=incident_type, severity=severity, location=location,
            description=description, actor=actor, occurred_at=occurred_at, detected_at=None,
            channel=None, drill=drill, incident_id=incident_id, command_id=command_id,
            command="detect")

    def report(
        self, community: UUID, *, incident_type: IncidentType | str, severity: Severity | str,
        location: Location, description: str, actor: Actor, occurred_at: datetime | None = None,
        detected_at: datetime | None = None, channel: str | None = "phone", drill: bool = False,
        incident_id: UUID | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record an incident reported to the community at ``occurred_at``.

        ``detected_at`` (default: the same moment) is when it was noticed; the
        detection and the report are two facts, so "detection -> reported"
        can be measured. The returned receipt's ``aggregate_id`` is the new
        incident's id.
        """
        return self._report(
            community, incident_type=incident_type, severity=severity, location=location,
            description=description, actor=actor, occurred_at=occurred_at,
            detected_at=detected_at, channel=channel, drill=drill, incident_id=incident_id,
            command_id=command_id, command="report")

    def _report(
        self, community: UUID, *, incident_type: IncidentType | str, severity: Severity | str,
        location: Location, description: str, actor: Actor, occurred_at: datetime | None,
        detected_at: datetime | None, channel: str | None, drill: bool,
        incident_id: UUID | None, command_id: str | None, command: str,
    ) -> Receipt:
        ctx = self._store.context(actor, occurred_at, command_id)
        if incident_id is not None:
            check_uuid(incident_id, "incident_id")
        if not isinstance(location, Location):
            raise InvalidInputError(_("location must be a Location, got {value}").format(
                value=shown(location)))
        detected = ctx if detected_at is None else evolve(ctx, occurred_at=detected_at)
        fresh = incident_id is None and not command_id  # a uuid4: nobody else's

        def record() -> Receipt:
            # The community read once, as cached: the insert checks it (Store.deciding).
            # Who may report there is decided first, on the area the location names; only
            # then is the location checked against the community's areas, so a refused
            # caller learns nothing of them.
            org = self._store.current(Community, community)
            new_id = incident_id if incident_id is not None else (
                incident_id_for(community, command_id) if command_id else uuid4())

            def build() -> Incident:
                self._store.authorize(f"{self.name}.{command}", ctx, org, lambda _: Target(
                    area=location_area(location), what=N_("the new incident"),
                    area_is=N_("the incident's area")))
                numbered = next_reference(self._store, org, "incident", detected.occurred_at)
                incident = Incident.detect(
                    detected, incident_id=new_id, community_id=community,
                    incident_type=incident_type, severity=severity,
                    location=_located(org, location), description=description, drill=drill,
                    reference=numbered.reference,
                )
                if channel is not None:
                    incident.report(ctx, channel)
                # The number taken last, once nothing of the command can refuse it.
                take(self._store, numbered, detected, new_id)
                return incident

            return self._store.create(Incident, new_id, ctx, build, fresh=fresh)

        return self._store.deciding(record)

    def assign_reference(self, incident: UUID, *, actor: Actor,
                         occurred_at: datetime | None = None,
                         command_id: str | None = None) -> Receipt:
        """Give an incident recorded before references its reference (``DH-2022-0007``):
        the next number of its community's book for the year of its detection.
        InvalidTransitionError if it has one. ``resilience references --assign`` gives one
        to every case that has none."""
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: give_reference(self._store, i, ctx),
                         command="assign_reference")

    def report_to_community(self, incident: UUID, channel: str = "phone", *, actor: Actor,
                            occurred_at: datetime | None = None,
                            command_id: str | None = None) -> Receipt:
        """Record the report of an incident that was detected earlier."""
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.report(ctx, channel),
                         command="report_to_community")

    def acknowledge(self, incident: UUID, *, actor: Actor, occurred_at: datetime | None = None,
                    command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.acknowledge(ctx),
                         command="acknowledge")

    def reclassify(self, incident: UUID, *, incident_type: IncidentType | str | None = None,
                   severity: Severity | str | None = None, actor: Actor,
                   occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.reclassify(ctx, incident_type=incident_type,
                                                     severity=severity),
                         command="reclassify")

    def assign_commander(self, incident: UUID, person_id: str, *, actor: Actor,
                         occurred_at: datetime | None = None,
                         command_id: str | None = None) -> Receipt:
        def assign(i: Incident, ctx: Context) -> None:
            if self._store.policy is not None and self._store.importer is None:
                _on_roster(self._store.current(Community, i.community_id), person_id)
            i.assign_commander(ctx, person_id)

        return self._run(incident, actor, occurred_at, command_id, assign,
                         command="assign_commander")

    def dispatch(self, incident: UUID, responder_ids: Ids, *, team: str | None = None,
                 task: str = "", actor: Actor, occurred_at: datetime | None = None,
                 command_id: str | None = None) -> Receipt:
        """Dispatch responders; one fact per responder, all recorded or none."""
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.dispatch(ctx, responder_ids, team=team, task=task),
                         command="dispatch")

    def en_route(self, incident: UUID, responder_id: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.en_route(ctx, responder_id),
                         command="en_route", subject=responder_id,
                         subject_is=N_("the responder named"))

    def arrive(self, incident: UUID, responder_id: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Record a responder on scene."""
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.arrive(ctx, responder_id),
                         command="arrive", subject=responder_id,
                         subject_is=N_("the responder named"))

    def take_action(self, incident: UUID, action: ActionKind | str, description: str,
                    equipment: Ids = (), *, actor: Actor, occurred_at: datetime | None = None,
                    command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.take_action(ctx, action, description, equipment),
                         command="take_action")

    def request_consent(self, incident: UUID, resident_id: str, purpose: str, *, actor: Actor,
                        occurred_at: datetime | None = None,
                        command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.request_consent(ctx, resident_id, purpose),
                         command="request_consent")

    def grant_consent(self, incident: UUID, resident_id: str, *, actor: Actor,
                      occurred_at: datetime | None = None,
                      command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.grant_consent(ctx, resident_id),
                         command="grant_consent", subject=resident_id,
                         subject_is=N_("the resident asked"))

    def refuse_consent(self, incident: UUID, resident_id: str, reason: str = "", *,
                       actor: Actor, occurred_at: datetime | None = None,
                       command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.refuse_consent(ctx, resident_id, reason),
                         command="refuse_consent", subject=resident_id,
                         subject_is=N_("the resident asked"))

    def authorise_exigent_entry(self, incident: UUID, reason: str, *, actor: Actor,
                                occurred_at: datetime | None = None,
                                command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.authorise_exigent_entry(ctx, reason),
                         command="authorise_exigent_entry")

    def force_entry(self, incident: UUID, target: str, *, actor: Actor,
                    occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.force_entry(ctx, target),
                         command="force_entry")

    def find_source(self, incident: UUID, description: str, *, actor: Actor,
                    occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.find_source(ctx, description),
                         command="find_source")

    def contain(self, incident: UUID, description: str = "contained", *, actor: Actor,
                occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.contain(ctx, description),
                         command="contain")

    def resolve(self, incident: UUID, summary: str, *, actor: Actor,
                occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.resolve(ctx, summary),
                         command="resolve")

    def close(self, incident: UUID, reason: ClosureReason | str, note: str = "", *,
              actor: Actor, occurred_at: datetime | None = None,
              command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.close(ctx, reason, note),
                         command="close")

    def reopen(self, incident: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.reopen(ctx, reason),
                         command="reopen")

    def add_note(self, incident: UUID, text: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.add_note(ctx, text),
                         command="add_note")

    def link_recovery(self, incident: UUID, linked_id: UUID, *, purpose: str, actor: Actor,
                      occurred_at: datetime | None = None,
                      command_id: str | None = None) -> Receipt:
        """Link a service order or improvement item of the incident's community to its
        recovery (resilience.domain.recovery): ``RecoveryLinked`` on the incident and
        ``LinkedToIncident`` on ``linked_id``, both or neither, in the open batch if there
        is one, else in one transaction of their own. Allowed after the incident's closure.

        The policy decides ``incidents.link_recovery`` on the incident and again on the
        work linked (``_work_target``: its area; those assigned to the incident only for
        work in its grid): a link is for good, so nobody links work that is not theirs.

        Refused, recording nothing: an id that is no order or item of the incident's
        community (NotFoundError), work linked already (to this incident, or to another),
        an item raised by another incident's review, a link dated before either side began
        (InvalidTransitionError), a blank purpose, a command id the other side took for
        another command (InvalidInputError). The receipt is the incident's.
        """
        check_uuid(linked_id, "linked_id")
        store = self._store

        def link(i: Incident, ctx: Context) -> None:
            linked = _recovery_work(_load(store, linked_id), i)
            # The actor needs the right on the work linked too (its area, or the incident
            # they command or are dispatched to, where the work lies in its grid): a link
            # is once for good, so a link to the wrong incident blocks the right one.
            store.authorize(f"{self.name}.link_recovery", ctx, i.community_id,
                            lambda moment: self._work_target(
                                i, linked, target_context(ctx, i, moment)))
            refuse_taken_command(ctx, linked)
            linked.check_link(ctx, i.id)  # both sides checked before either records
            i.link_recovery(ctx, linked_id, _KINDS[type(linked)], purpose)
            store.change(type(linked), linked_id, ctx,
                         lambda work: work.link_to_incident(ctx, i.id, purpose))

        return store.together(incident, lambda: self._run(
            incident, actor, occurred_at, command_id, link, command="link_recovery"))

    def _work_target(self, incident: Incident, work: "ServiceOrder | ImprovementItem",
                     ctx: Context) -> Target:
        """The work a recovery link names, as the policy sees it: its area (the order's
        area, the item's grid); the incident's commander (standing); and, only if the
        work lies in the incident's grid, those assigned to the incident (``assigned``)."""
        of_incident = self._target(incident, ctx, None, None)
        area: str | None
        if isinstance(work, ServiceOrder):
            area, what, area_is = work.area_id, N_("the order linked"), N_("the order's area")
        else:
            area, what, area_is = work.grid, N_("the item linked"), N_("the item's grid")
        grid = incident.location.grid
        org = self._store.current(Community, incident.community_id)
        near = grid is None or covers(org, grid, area)
        return Target(area=area, assigned=of_incident.assigned if near else frozenset(),
                      commander=of_incident.commander, what=what, area_is=area_is,
                      assigned_is=N_("dispatched to or commanding the incident, the work "
                                     "lying in its grid"))

    def _target(self, aggregate: Incident, ctx: Context, subject: object,
                area: object) -> Target:
        at = ctx.occurred_at
        commander = aggregate.commander_at(at)
        occurred, responders = aggregate.occurred, aggregate.chain_facts
        dispatched = {responders[version] for version in aggregate.dispatches
                      if occurred[version] <= at}
        assigned = dispatched if commander is None else {*dispatched, commander}
        return Target(area=aggregate.area,
                      subject=subject if isinstance(subject, str) else None,
                      assigned=frozenset(assigned), commander=commander, what=N_("this incident"),
                      area_is=N_("the incident's area"),
                      assigned_is=N_("dispatched to or commanding this incident"))


_KINDS: dict[type[FactAggregate], RecoveryKind] = {
    ServiceOrder: RecoveryKind.ORDER, ImprovementItem: RecoveryKind.IMPROVEMENT}
"""What an incident's recovery may link, and the kind each is linked as."""


def _load(store: Store, linked_id: UUID) -> FactAggregate:
    try:
        return store.load(FactAggregate, linked_id)
    except NotFoundError:
        raise NotFoundError(
            _("no service order or improvement item with id {id}").format(
                id=linked_id)) from None


def _recovery_work(linked: FactAggregate,
                   incident: Incident) -> ServiceOrder | ImprovementItem:
    """``linked`` if it is an order or item of the incident's community; else NotFoundError
    (another community's work is none of this incident's to know of)."""
    if not isinstance(linked, ServiceOrder | ImprovementItem):
        raise NotFoundError(_("{id} names the {kind} of that id, not a service order or "
                              "improvement item").format(id=linked.id, kind=_(linked.kind)))
    if linked.community_id != incident.community_id:
        raise NotFoundError(_("no service order or improvement item {id} in the incident's "
                              "community").format(id=linked.id))
    return linked


def _located(org: Community, location: Location) -> Location:
    """The location checked against the community's areas, its grid filled in."""
    grid = location.grid
    if location.unit is not None and location.building is None:
        raise InvalidInputError(_("a location with a unit needs its building"))
    if location.building is not None:
        org.area(location.building)
        if location.unit is not None:
            org.area(unit_area_id(location.building, location.unit))
        building_grid = org.grid_of(location.building)
        if grid is not None and grid != building_grid:
            raise InvalidInputError(
                _("building {building} is in grid {found}, not {grid}").format(
                    building=location.building, found=building_grid, grid=grid))
        grid = building_grid
    if grid is not None and org.area(grid).kind is not AreaKind.GRID:
        raise InvalidInputError(_("{grid} is not a grid of {community}").format(
            grid=grid, community=org.name))
    return evolve(location, grid=grid)


def _on_roster(org: Community, person_id: object) -> None:
    """Refuse a commander who is not on the community's roster (enrolled and not erased,
    or its founder): commanding an incident is a role of its own (it may close it), given
    only to people the community's staff enrolled."""
    if not isinstance(person_id, str) or person_id == org.founder:
        return  # not a person id (the incident refuses it), or the founder
    if person_id not in org.people or person_id in org.erased:
        raise PermissionDeniedError(
            _("{person} is not on {community}'s roster (enrolled and not erased), and only "
              "a person on it may command an incident: enrol them first").format(
                person=person_id, community=org.name))
