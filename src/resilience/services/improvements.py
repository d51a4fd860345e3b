"""Commands on improvement items: an after-action review's plan, tracked to done.

The plan is read back from the ``plans`` view by resilience.services.improvement_plan;
``engine.improvements.items`` and ``.item`` are that reader's methods.
"""

from datetime import datetime
from uuid import UUID, uuid4, uuid5

from resilience.domain.base import Context
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import NAMESPACE, Community
from resilience.domain.policy import Target
from resilience.domain.validation import require_text, shown
from resilience.domain.values import Actor, AreaKind
from resilience.errors import InvalidInputError, NotFoundError
from resilience.i18n import N_, _
from resilience.review.keys import parse_review_key
from resilience.services.core import FactService, Receipt, Store
from resilience.services.delegation import delegated
from resilience.services.improvement_plan import ImprovementPlan


def improvement_id_for(community: UUID, key: str) -> UUID:
    """A stable improvement-item id from a caller's key (a scenario key, a review's item key...)."""
    return uuid5(NAMESPACE, f"improvement/{community}/{key}")


class Improvements(FactService[ImprovementItem]):
    """``engine.improvements``: an improvement plan's items, tracked to done; listed by
    ``items`` and ``item``, which run ImprovementPlan's (the read side)."""

    aggregate_class = ImprovementItem
    name = "improvements"
    items = delegated("_improvement_plan", ImprovementPlan.items)
    item = delegated("_improvement_plan", ImprovementPlan.item)

    def __init__(self, store: Store, plan: ImprovementPlan) -> None:
        super().__init__(store)
        self._improvement_plan = plan

    # Commands -----------------------------------------------------------------

    def plan(
        self, community: UUID, *, review: str, action: str, owner: str, due: datetime,
        actor: Actor, incident_id: UUID | None = None, grid: str | None = None,
        objective: str | None = None, occurred_at: datetime | None = None,
        item_id: UUID | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record an item of the improvement plan of the review whose key is ``review``.

        A review key names the after-action review that raised the item (see
        resilience.review.keys): ``"incident/<incident uuid>"`` for the review of
        one incident, ``"community/<community uuid>/<period>"`` or
        ``"community/<community uuid>/grid/<grid>/<period>"`` for the review of
        a community's or grid's incidents over a period (``<period>`` the
        period's text as the review writes it, e.g. ``all time``; only its form
        is checked here). A review lists the items under its own key as
        raised, and as "still open" the items of *other* reviews (of its
        community; of its grid, if it has one) planned before the incidents it
        reviews were detected and not finished at its cut: the items of a
        later review are never an earlier review's "still open".

        The community must exist. A key of none of these forms is refused
        (InvalidInputError), as is a community key of another community. An
        incident key's incident must be one of the community's incidents
        (NotFoundError); ``incident_id`` defaults to it, and if given must be
        it (InvalidInputError). ``incident_id``, if given, must be one of the
        community's incidents; a grid key's grid, and ``grid`` if given, one of
        its grids. The item's grid is ``grid``, else the grid key's, else the
        incident's. ``objective`` names the objective the item addresses (not
        a milestone). The item's id is ``item_id`` if given, else
        ``improvement_id_for(community, command_id)`` with a command id, else a
        random UUID.
        """
        ctx = self._store.context(actor, occurred_at, command_id)
        if item_id is not None and not isinstance(item_id, UUID):
            raise InvalidInputError(_("item_id must be a UUID, got {value}").format(
                value=shown(item_id)))

        def record() -> Receipt:
            # The community read once, as cached: the insert checks it (Store.deciding).
            org = self._store.current(Community, community)
            new_id = item_id if item_id is not None else (
                improvement_id_for(community, command_id) if command_id else uuid4())

            def build() -> ImprovementItem:
                # Decided on the grid the item would be planned in, before the review key,
                # incident and grid are checked: a refused caller learns nothing of them.
                self._store.authorize("improvements.plan", ctx, org, lambda _: _target(
                    self._planned_grid(org, review, incident_id, grid), None,
                    N_("the improvement plan")))
                about, planned_in = self._placed(org, review, incident_id, grid)
                return ImprovementItem.plan(
                    ctx, item_id=new_id, community_id=community, review=review,
                    incident_id=about, grid=planned_in, objective=objective, action=action,
                    owner=owner, due=due,
                )

            return self._store.create(ImprovementItem, new_id, ctx, build)

        return self._store.deciding(record)

    def _planned_grid(self, org: Community, review: object, incident_id: object,
                      grid: object) -> str | None:
        """The grid ``_placed`` would plan the item in, as far as it can be told without
        refusing anything (None: the community as a whole): ``grid``, else the review
        key's, else its incident's (if it is one of the community's)."""
        if isinstance(grid, str):
            return grid
        try:
            key = parse_review_key(review)
        except InvalidInputError:
            return None
        if key.grid is not None:
            return key.grid
        incident = incident_id if isinstance(incident_id, UUID) else (
            key.subject if key.kind == "incident" else None)
        if not isinstance(incident, UUID):
            return None
        try:
            found = self._store.load(Incident, incident)
        except NotFoundError:
            return None
        return found.location.grid if found.community_id == org.id else None

    def _placed(self, org: Community, review: str, incident_id: UUID | None,
                grid: str | None) -> tuple[UUID | None, str | None]:
        """The item's incident and grid, checked against the review key and the community
        (``plan``'s docstring)."""
        community = org.id
        key = parse_review_key(review)
        if incident_id is not None and not isinstance(incident_id, UUID):
            raise InvalidInputError(_("incident_id must be a UUID or None, got {value}").format(
                value=shown(incident_id)))
        if key.kind == "incident":
            if incident_id is None:
                incident_id = key.subject
            elif incident_id != key.subject:
                raise InvalidInputError(
                    _("the review is of incident {subject} but incident_id is {id}").format(
                        subject=key.subject, id=incident_id))
        elif key.subject != community:
            raise InvalidInputError(
                _("the review is of community {subject} but the item is planned in "
                  "{community} ({id})").format(subject=key.subject, community=org.name,
                                               id=community))
        if key.grid is not None:
            self._require_grid(org, key.grid)
            if grid is None:
                grid = key.grid
        if incident_id is not None:
            incident = self._store.load(Incident, incident_id)
            if incident.community_id != community:
                raise NotFoundError(_("{community} has no incident {id}").format(
                    community=org.name, id=incident_id))
            if grid is None:
                grid = incident.location.grid
        if grid is not None:
            self._require_grid(org, require_text(grid, "grid"))
        return incident_id, grid

    def assign(self, item: UUID, owner: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Hand the item to another owner."""
        return self._run(item, actor, occurred_at, command_id, lambda i, ctx: i.assign(ctx, owner),
                         command="assign")

    def reschedule(self, item: UUID, due: datetime, reason: str, *, actor: Actor,
                   occurred_at: datetime | None = None,
                   command_id: str | None = None) -> Receipt:
        """Move the item's due date, saying why."""
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.reschedule(ctx, due, reason),
                         command="reschedule")

    def start(self, item: UUID, *, actor: Actor, occurred_at: datetime | None = None,
              command_id: str | None = None) -> Receipt:
        return self._run(item, actor, occurred_at, command_id, lambda i, ctx: i.start(ctx),
                         command="start")

    def complete(self, item: UUID, note: str = "", *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.complete(ctx, note),
                         command="complete")

    def cancel(self, item: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.cancel(ctx, reason),
                         command="cancel")

    def reopen(self, item: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Reopen a done or cancelled item."""
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.reopen(ctx, reason),
                         command="reopen")

    def add_note(self, item: UUID, text: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.add_note(ctx, text),
                         command="add_note")

    def _target(self, aggregate: ImprovementItem, ctx: Context, subject: object,
                area: object) -> Target:
        return _target(aggregate.grid, aggregate.owner, N_("this item"))

    @staticmethod
    def _require_grid(org: Community, grid: str) -> None:
        if org.area(grid).kind is not AreaKind.GRID:
            raise InvalidInputError(_("{grid} is not a grid of {community}").format(
                grid=grid, community=org.name))


def _target(grid: str | None, owner: str | None, what: str) -> Target:
    """An improvement item as the policy sees it: its grid, and its owner (``assigned``)."""
    return Target(area=grid, assigned=frozenset() if owner is None else frozenset({owner}),
                  what=what, area_is=N_("the item's grid"),
                  assigned_is=N_("the owner of this item"))
