"""Commands on incidents, from detection to closure."""

from datetime import datetime
from uuid import UUID, uuid4, uuid5

from attrs import evolve

from resilience.domain.incident import Incident
from resilience.domain.organisation import NAMESPACE, Community, unit_area_id
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
from resilience.errors import InvalidInputError
from resilience.services.core import AggregateService, Receipt

Ids = list[str] | tuple[str, ...]


def incident_id_for(community: UUID, key: str) -> UUID:
    """A stable incident id from a caller's key (a scenario name, a device's report id...)."""
    return uuid5(NAMESPACE, f"incident/{community}/{key}")


class Incidents(AggregateService[Incident]):
    """``engine.incidents``: every command of an incident's life."""

    aggregate_class = Incident

    def detect(
        self, community: UUID, *, incident_type: IncidentType | str, severity: Severity | str,
        location: Location, description: str, actor: Actor, occurred_at: datetime | None = None,
        drill: bool = False, incident_id: UUID | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record that ``actor`` noticed an incident at ``occurred_at`` (not yet reported)."""
        return self.report(
            community, incident_type=incident_type, severity=severity, location=location,
            description=description, actor=actor, occurred_at=occurred_at, channel=None,
            drill=drill, incident_id=incident_id, command_id=command_id,
        )

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
        ctx = self._store.context(actor, occurred_at, command_id)
        if incident_id is not None:
            check_uuid(incident_id, "incident_id")
        detected = ctx if detected_at is None else evolve(ctx, occurred_at=detected_at)
        where = self._locate(community, location)
        if incident_id is None:
            incident_id = incident_id_for(community, command_id) if command_id else uuid4()

        def build() -> Incident:
            incident = Incident.detect(
                detected, incident_id=incident_id, community_id=community,
                incident_type=incident_type, severity=severity, location=where,
                description=description, drill=drill,
            )
            if channel is not None:
                incident.report(ctx, channel)
            return incident

        return self._store.create(Incident, incident_id, ctx, build)

    def _locate(self, community: UUID, location: Location) -> Location:
        """Check the location against the community's areas and fill in its grid."""
        if not isinstance(location, Location):
            raise InvalidInputError(f"location must be a Location, got {shown(location)}")
        org = self._store.load(Community, community)
        grid = location.grid
        if location.unit is not None and location.building is None:
            raise InvalidInputError("a location with a unit needs its building")
        if location.building is not None:
            org.area(location.building)
            if location.unit is not None:
                org.area(unit_area_id(location.building, location.unit))
            building_grid = org.grid_of(location.building)
            if grid is not None and grid != building_grid:
                raise InvalidInputError(
                    f"building {location.building} is in grid {building_grid}, not {grid}"
                )
            grid = building_grid
        if grid is not None and org.area(grid).kind is not AreaKind.GRID:
            raise InvalidInputError(f"{grid} is not a grid of {org.name}")
        return evolve(location, grid=grid)

    def report_to_community(self, incident: UUID, channel: str = "phone", *, actor: Actor,
                            occurred_at: datetime | None = None,
                            command_id: str | None = None) -> Receipt:
        """Record the report of an incident that was detected earlier."""
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.report(ctx, channel))

    def acknowledge(self, incident: UUID, *, actor: Actor, occurred_at: datetime | None = None,
                    command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.acknowledge(ctx))

    def reclassify(self, incident: UUID, *, incident_type: IncidentType | str | None = None,
                   severity: Severity | str | None = None, actor: Actor,
                   occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.reclassify(ctx, incident_type=incident_type,
                                                     severity=severity))

    def assign_commander(self, incident: UUID, person_id: str, *, actor: Actor,
                         occurred_at: datetime | None = None,
                         command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.assign_commander(ctx, person_id))

    def dispatch(self, incident: UUID, responder_ids: Ids, *, team: str | None = None,
                 task: str = "", actor: Actor, occurred_at: datetime | None = None,
                 command_id: str | None = None) -> Receipt:
        """Dispatch responders; one fact per responder, all recorded or none."""
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.dispatch(ctx, responder_ids, team=team, task=task))

    def en_route(self, incident: UUID, responder_id: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.en_route(ctx, responder_id))

    def arrive(self, incident: UUID, responder_id: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Record a responder on scene."""
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.arrive(ctx, responder_id))

    def take_action(self, incident: UUID, action: ActionKind | str, description: str,
                    equipment: Ids = (), *, actor: Actor, occurred_at: datetime | None = None,
                    command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.take_action(ctx, action, description, equipment))

    def request_consent(self, incident: UUID, resident_id: str, purpose: str, *, actor: Actor,
                        occurred_at: datetime | None = None,
                        command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.request_consent(ctx, resident_id, purpose))

    def grant_consent(self, incident: UUID, resident_id: str, *, actor: Actor,
                      occurred_at: datetime | None = None,
                      command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.grant_consent(ctx, resident_id))

    def refuse_consent(self, incident: UUID, resident_id: str, reason: str = "", *,
                       actor: Actor, occurred_at: datetime | None = None,
                       command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.refuse_consent(ctx, resident_id, reason))

    def authorise_exigent_entry(self, incident: UUID, reason: str, *, actor: Actor,
                                occurred_at: datetime | None = None,
                                command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.authorise_exigent_entry(ctx, reason))

    def force_entry(self, incident: UUID, target: str, *, actor: Actor,
                    occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.force_entry(ctx, target))

    def find_source(self, incident: UUID, description: str, *, actor: Actor,
                    occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.find_source(ctx, description))

    def contain(self, incident: UUID, description: str = "contained", *, actor: Actor,
                occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.contain(ctx, description))

    def resolve(self, incident: UUID, summary: str, *, actor: Actor,
                occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.resolve(ctx, summary))

    def close(self, incident: UUID, reason: ClosureReason | str, note: str = "", *,
              actor: Actor, occurred_at: datetime | None = None,
              command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.close(ctx, reason, note))

    def reopen(self, incident: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.reopen(ctx, reason))

    def add_note(self, incident: UUID, text: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(incident, actor, occurred_at, command_id,
                         lambda i, ctx: i.add_note(ctx, text))



