"""Commands on communities: organisation, roster, care cards and activities."""

from datetime import datetime
from uuid import UUID

from resilience.domain.organisation import Community, community_id
from resilience.domain.values import Actor, CareCard, Employment, Role, UnitSpec, ZoneType
from resilience.services.core import AggregateService, Receipt


class Communities(AggregateService[Community]):
    """``engine.communities``: register communities and keep their organisation current."""

    aggregate_class = Community

    @staticmethod
    def id_for(district: str, subdistrict: str, name: str) -> UUID:
        """The derived id of a community (registration is idempotent on these three names)."""
        return community_id(district, subdistrict, name)

    def register(
        self, *, district: str, subdistrict: str, name: str, actor: Actor,
        occurred_at: datetime | None = None, command_id: str | None = None,
    ) -> Receipt:
        ctx = self._store.context(actor, occurred_at, command_id)
        return self._store.create(
            Community, community_id(district, subdistrict, name), ctx,
            lambda: Community.register(ctx, district=district, subdistrict=subdistrict, name=name),
        )

    def add_grid(self, community: UUID, grid_id: str, name: str = "", *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.add_grid(ctx, grid_id, name))

    def add_micro_grid(self, community: UUID, micro_grid_id: str, grid_id: str, name: str = "",
                       *, actor: Actor, occurred_at: datetime | None = None,
                       command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.add_micro_grid(ctx, micro_grid_id, grid_id, name))

    def add_building(self, community: UUID, building_id: str, parent: str,
                     units: list[UnitSpec] | tuple[UnitSpec, ...], name: str = "", *,
                     actor: Actor, occurred_at: datetime | None = None,
                     command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.add_building(ctx, building_id, parent, units, name))

    def classify_zone(self, community: UUID, area_id: str, zone_type: ZoneType | str, *,
                      actor: Actor, occurred_at: datetime | None = None,
                      command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.classify_zone(ctx, area_id, zone_type))

    def enrol(self, community: UUID, person_id: str, name: str, phone: str = "",
              skills: list[str] | tuple[str, ...] = (), *, actor: Actor,
              occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.enrol(ctx, person_id, name, phone, skills))

    def assign_role(self, community: UUID, person_id: str, role: Role | str,
                    scope: str | None = None, *, employment: Employment | str | None = None,
                    affiliation: str | None = None, actor: Actor,
                    occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.assign_role(ctx, person_id, role, scope,
                                                      employment=employment,
                                                      affiliation=affiliation))

    def relieve_role(self, community: UUID, person_id: str, role: Role | str,
                     scope: str | None = None, reason: str = "", *, actor: Actor,
                     occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.relieve_role(ctx, person_id, role, scope, reason))

    def issue_care_card(self, community: UUID, grid_id: str, card: CareCard, *, actor: Actor,
                        occurred_at: datetime | None = None,
                        command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.issue_care_card(ctx, grid_id, card))

    def hold_activity(self, community: UUID, *, title: str, category: str, participants: int,
                      grid: str | None = None, actor: Actor, occurred_at: datetime | None = None,
                      command_id: str | None = None) -> Receipt:
        """Record an activity held for residents (counted as activities held and person-times)."""
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.hold_activity(ctx, title, category, participants, grid))

    def correct_participants(self, community: UUID, corrects: int, participants: int,
                             reason: str, *, actor: Actor, occurred_at: datetime | None = None,
                             command_id: str | None = None) -> Receipt:
        """Correct the number who took part in the activity recorded at version
        ``corrects`` (``Community.correct_participants``): activity reports count the
        corrected number."""
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.correct_participants(ctx, corrects, participants,
                                                               reason))
