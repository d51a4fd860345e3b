"""Commands on service orders: the resident orders, the community dispatches, the resident rates."""

from datetime import datetime
from uuid import UUID, uuid4, uuid5

from resilience.domain.base import Context
from resilience.domain.catalogue import ServiceCatalogue
from resilience.domain.organisation import NAMESPACE, Community
from resilience.domain.policy import Target
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import check_uuid
from resilience.domain.values import Actor, Provider, Role, ServiceOutcome
from resilience.i18n import N_
from resilience.services.core import FactService, Receipt, Store
from resilience.services.references import give_reference, next_reference, take


def order_id_for(community: UUID, key: str) -> UUID:
    """A stable order id from a caller's key."""
    return uuid5(NAMESPACE, f"order/{community}/{key}")


class Orders(FactService[ServiceOrder]):
    """``engine.orders``: every command of a service order's life."""

    aggregate_class = ServiceOrder
    name = "orders"

    def __init__(self, store: Store, catalogue: ServiceCatalogue) -> None:
        super().__init__(store)
        self.catalogue = catalogue

    def place(
        self, community: UUID, *, household_id: str, area_id: str, category: str, item: str,
        actor: Actor, details: str = "", expected_by: datetime | None = None,
        occurred_at: datetime | None = None, order_id: UUID | None = None,
        command_id: str | None = None,
    ) -> Receipt:
        """A resident of ``area_id`` (a building or unit), or the desk for a household there,
        orders a catalogued service."""
        ctx = self._store.context(actor, occurred_at, command_id)
        if order_id is not None:
            check_uuid(order_id, "order_id")
        service = self.catalogue.get(category, item)
        fresh = order_id is None and not command_id  # a uuid4: nobody else's

        def record() -> Receipt:
            # The community read once, as cached: the insert checks it (Store.deciding).
            org = self._store.current(Community, community)
            new_id = order_id if order_id is not None else (
                order_id_for(community, command_id) if command_id else uuid4())

            def build() -> ServiceOrder:
                # The one who places an order is its placer: placing is always their own.
                # Decided on the area named before it is checked against the community's
                # areas: a refused caller learns nothing of them.
                self._store.authorize("orders.place", ctx, org, lambda _: _target(
                    area_id, ctx.actor.person_id, None, N_("the new order")))
                org.area(area_id)
                numbered = next_reference(self._store, org, "order", ctx.occurred_at)
                order = ServiceOrder.place(
                    ctx, order_id=new_id, community_id=community, household_id=household_id,
                    area_id=area_id, grid_id=org.grid_of(area_id),
                    zone_type=org.zone_type_of(area_id),
                    service=service, details=details, expected_by=expected_by,
                    reference=numbered.reference,
                )
                take(self._store, numbered, ctx, new_id)  # (last: nothing refuses after it)
                return order

            return self._store.create(ServiceOrder, new_id, ctx, build, fresh=fresh)

        return self._store.deciding(record)

    def assign_reference(self, order: UUID, *, actor: Actor,
                         occurred_at: datetime | None = None,
                         command_id: str | None = None) -> Receipt:
        """Give an order placed before references its reference (``DH-2022-S0007``): the
        next number of its community's book for the year it was placed.
        InvalidTransitionError if it has one."""
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: give_reference(self._store, o, ctx),
                         command="assign_reference")

    def accept(self, order: UUID, *, actor: Actor, occurred_at: datetime | None = None,
               command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id, lambda o, ctx: o.accept(ctx),
                         command="accept")

    def reject(self, order: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.reject(ctx, reason),
                         command="reject")

    def dispatch(self, order: UUID, provider: Provider, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.dispatch(ctx, provider),
                         command="dispatch")

    def start(self, order: UUID, *, actor: Actor, occurred_at: datetime | None = None,
              command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id, lambda o, ctx: o.start(ctx),
                         command="start")

    def complete(self, order: UUID, outcome: ServiceOutcome | str, note: str = "", *,
                 actor: Actor, occurred_at: datetime | None = None,
                 command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.complete(ctx, outcome, note),
                         command="complete")

    def rate(self, order: UUID, score: int, comment: str = "", *,
             resolved: bool | None = None, actor: Actor,
             occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """The resident who placed the order rates its completion, 1 to 5, and may say
        whether it resolved their request (``resolved``; None: not said)."""
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.rate(ctx, score, comment, resolved=resolved),
                         command="rate")

    def reopen(self, order: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.reopen(ctx, reason),
                         command="reopen")

    def cancel(self, order: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.cancel(ctx, reason),
                         command="cancel")

    def add_note(self, order: UUID, text: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.add_note(ctx, text),
                         command="add_note")

    def _target(self, aggregate: ServiceOrder, ctx: Context, subject: object,
                area: object) -> Target:
        provider = aggregate.provider
        # Only a resident's own order is anyone's "own": one placed for a household by the
        # desk is nobody's to rate, cancel or reopen as its resident (the desk acts on it
        # in its own role), so nobody rates it on the household's behalf.
        owner = aggregate.placer_id if aggregate.placer_role is Role.RESIDENT else None
        return _target(aggregate.area_id, owner,
                       None if provider is None else provider.provider_id, N_("this order"))


def _target(area: str, placer: str | None, provider: str | None, what: str) -> Target:
    """An order as the policy sees it: its area, who placed it (``own``), the provider it
    is dispatched to (``assigned``)."""
    return Target(area=area, subject=placer, subject_is=N_("who placed the order"),
                  assigned=frozenset() if provider is None else frozenset({provider}),
                  what=what, area_is=N_("the order's area"),
                  assigned_is=N_("the provider the order is dispatched to"))
