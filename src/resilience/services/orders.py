"""Commands on service orders: the resident orders, the community dispatches, the resident rates."""

from datetime import datetime
from uuid import UUID, uuid4, uuid5

from resilience.domain.catalogue import ServiceCatalogue
from resilience.domain.organisation import NAMESPACE, Community
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import check_uuid
from resilience.domain.values import Actor, Provider, ServiceOutcome
from resilience.services.core import AggregateService, Receipt, Store


def order_id_for(community: UUID, key: str) -> UUID:
    """A stable order id from a caller's key."""
    return uuid5(NAMESPACE, f"order/{community}/{key}")


class Orders(AggregateService[ServiceOrder]):
    """``engine.orders``: every command of a service order's life."""

    aggregate_class = ServiceOrder

    def __init__(self, store: Store, catalogue: ServiceCatalogue) -> None:
        super().__init__(store)
        self.catalogue = catalogue

    def place(
        self, community: UUID, *, household_id: str, area_id: str, category: str, item: str,
        actor: Actor, details: str = "", expected_by: datetime | None = None,
        occurred_at: datetime | None = None, order_id: UUID | None = None,
        command_id: str | None = None,
    ) -> Receipt:
        """A resident of ``area_id`` (a building or unit) orders a catalogued service."""
        ctx = self._store.context(actor, occurred_at, command_id)
        if order_id is not None:
            check_uuid(order_id, "order_id")
        service = self.catalogue.get(category, item)
        org = self._store.load(Community, community)
        org.area(area_id)
        if order_id is None:
            order_id = order_id_for(community, command_id) if command_id else uuid4()
        return self._store.create(
            ServiceOrder, order_id, ctx,
            lambda: ServiceOrder.place(
                ctx, order_id=order_id, community_id=community, household_id=household_id,
                area_id=area_id, grid_id=org.grid_of(area_id), zone_type=org.zone_type_of(area_id),
                service=service, details=details, expected_by=expected_by,
            ),
        )

    def accept(self, order: UUID, *, actor: Actor, occurred_at: datetime | None = None,
               command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id, lambda o, ctx: o.accept(ctx))

    def reject(self, order: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.reject(ctx, reason))

    def dispatch(self, order: UUID, provider: Provider, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.dispatch(ctx, provider))

    def start(self, order: UUID, *, actor: Actor, occurred_at: datetime | None = None,
              command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id, lambda o, ctx: o.start(ctx))

    def complete(self, order: UUID, outcome: ServiceOutcome | str, note: str = "", *,
                 actor: Actor, occurred_at: datetime | None = None,
                 command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.complete(ctx, outcome, note))

    def rate(self, order: UUID, score: int, comment: str = "", *,
             resolved: bool | None = None, actor: Actor,
             occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """The resident who placed the order rates its completion, 1 to 5, and may say
        whether it resolved their request (``resolved``; None: not said)."""
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.rate(ctx, score, comment, resolved=resolved))

    def reopen(self, order: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.reopen(ctx, reason))

    def cancel(self, order: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.cancel(ctx, reason))

    def add_note(self, order: UUID, text: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(order, actor, occurred_at, command_id,
                         lambda o, ctx: o.add_note(ctx, text))
