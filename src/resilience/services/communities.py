"""Commands on communities: organisation, roster, care cards and activities."""

from datetime import datetime
from uuid import UUID

from resilience.domain.base import Context, FactAggregate
from resilience.domain.organisation import Community, community_id, fact_area
from resilience.domain.policy import Target
from resilience.domain.values import Actor, CareCard, Employment, Role, UnitSpec, ZoneType
from resilience.i18n import N_
from resilience.services.core import FactService, Receipt


class Communities(FactService[Community]):
    """``engine.communities``: register communities and keep their organisation current."""

    aggregate_class = Community
    name = "communities"

    @staticmethod
    def id_for(district: str, subdistrict: str, name: str) -> UUID:
        """The derived id of a community (registration is idempotent on these three names)."""
        return community_id(district, subdistrict, name)

    def register(
        self, *, district: str, subdistrict: str, name: str, actor: Actor,
        occurred_at: datetime | None = None, command_id: str | None = None,
        code: str | None = None,
    ) -> Receipt:
        """Register a community. ``code`` (``DH``): what its incidents' and orders' human
        references begin with (resilience.domain.references); without one they begin with
        ``C`` and the first hex digits of its id until ``set_code`` gives it one."""
        ctx = self._store.context(actor, occurred_at, command_id)

        def build() -> Community:
            # No roster yet: whoever the policy lets register it becomes its founder.
            self._store.authorize("communities.register", ctx, None,
                                  lambda _: Target(what=N_("the new community")))
            return Community.register(ctx, district=district, subdistrict=subdistrict,
                                      name=name, code=code)

        return self._store.create(Community, community_id(district, subdistrict, name), ctx,
                                  build)

    def set_code(self, community: UUID, code: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Set the code the references of the community's cases recorded from now on begin
        with (``DH``: 1 to 8 letters and digits, a letter first; taken in capitals). The
        references already issued stay as they are."""
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.set_code(ctx, code), command="set_code")

    def add_grid(self, community: UUID, grid_id: str, name: str = "", *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.add_grid(ctx, grid_id, name),
                         command="add_grid")

    def add_micro_grid(self, community: UUID, micro_grid_id: str, grid_id: str, name: str = "",
                       *, actor: Actor, occurred_at: datetime | None = None,
                       command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.add_micro_grid(ctx, micro_grid_id, grid_id, name),
                         command="add_micro_grid", area=grid_id)

    def add_building(self, community: UUID, building_id: str, parent: str,
                     units: list[UnitSpec] | tuple[UnitSpec, ...], name: str = "", *,
                     actor: Actor, occurred_at: datetime | None = None,
                     command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.add_building(ctx, building_id, parent, units, name),
                         command="add_building", area=parent)

    def classify_zone(self, community: UUID, area_id: str, zone_type: ZoneType | str, *,
                      actor: Actor, occurred_at: datetime | None = None,
                      command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.classify_zone(ctx, area_id, zone_type),
                         command="classify_zone", area=area_id)

    def enrol(self, community: UUID, person_id: str, name: str, phone: str = "",
              skills: list[str] | tuple[str, ...] = (), *, actor: Actor,
              occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.enrol(ctx, person_id, name, phone, skills),
                         command="enrol", subject=person_id)

    def assign_role(self, community: UUID, person_id: str, role: Role | str,
                    scope: str | None = None, *, employment: Employment | str | None = None,
                    affiliation: str | None = None, actor: Actor,
                    occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.assign_role(ctx, person_id, role, scope,
                                                      employment=employment,
                                                      affiliation=affiliation),
                         command="assign_role", subject=person_id, area=scope)

    def relieve_role(self, community: UUID, person_id: str, role: Role | str,
                     scope: str | None = None, reason: str = "", *, actor: Actor,
                     occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.relieve_role(ctx, person_id, role, scope, reason),
                         command="relieve_role", subject=person_id, area=scope)

    def issue_care_card(self, community: UUID, grid_id: str, card: CareCard, *, actor: Actor,
                        occurred_at: datetime | None = None,
                        command_id: str | None = None) -> Receipt:
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.issue_care_card(ctx, grid_id, card),
                         command="issue_care_card", area=grid_id)

    def hold_activity(self, community: UUID, *, title: str, category: str, participants: int,
                      grid: str | None = None, actor: Actor, occurred_at: datetime | None = None,
                      command_id: str | None = None) -> Receipt:
        """Record an activity held for residents (counted as activities held and person-times)."""
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.hold_activity(ctx, title, category, participants, grid),
                         command="hold_activity", area=grid)

    def correct_participants(self, community: UUID, corrects: int, participants: int,
                             reason: str, *, actor: Actor, occurred_at: datetime | None = None,
                             command_id: str | None = None) -> Receipt:
        """Correct the number who took part in the activity recorded at version
        ``corrects`` (``Community.correct_participants``): activity reports count the
        corrected number."""
        return self._run(community, actor, occurred_at, command_id,
                         lambda c, ctx: c.correct_participants(ctx, corrects, participants,
                                                               reason),
                         command="correct_participants", corrects=corrects)

    def _community_of(self, aggregate: Community) -> Community:
        return aggregate

    def _fact_area(self, fact: FactAggregate.Event) -> str | None:
        """The area a community's fact names (``fact_area``), if any."""
        return fact_area(fact)

    def _target(self, aggregate: Community, ctx: Context, subject: object,
                area: object) -> Target:
        return Target(area=area if isinstance(area, str) else None,
                      subject=subject if isinstance(subject, str) else None,
                      what=aggregate.name)
