"""The engine: the one object an importing app opens."""

import copy
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from resilience.adapters.store import resolve_url, store_env
from resilience.clock import Clock, system_clock
from resilience.domain.base import FactAggregate
from resilience.domain.catalogue import DEFAULT_CATALOGUE, ServiceCatalogue
from resilience.errors import NotFoundError
from resilience.services.communities import Communities
from resilience.services.core import Batch, EventStoreApplication, Store
from resilience.services.incidents import Incidents
from resilience.services.orders import Orders
from resilience.timeline import Timeline, build_timeline


class Engine:
    """Records commands as events in one store and reads them back.

    >>> engine = Engine("memory:")     # or "sqlite:///resilience.db", "postgresql://..."

    ``url`` defaults to ``$RESILIENCE_DB``, then to ``sqlite:///resilience.db``.
    ``clock`` gives every event's recorded time and each command's default
    ``occurred_at``. ``env`` passes extra eventsourcing settings (compression,
    encryption, pool sizes).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        clock: Clock = system_clock,
        catalogue: ServiceCatalogue = DEFAULT_CATALOGUE,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.url = resolve_url(url)
        settings = store_env(self.url)
        settings.update(env or {})
        self.app = EventStoreApplication(env=settings)
        self._attach(Store(self.app, clock), catalogue)

    def _attach(self, store: Store, catalogue: ServiceCatalogue) -> None:
        self._store = store
        self.communities = Communities(store)
        self.incidents = Incidents(store)
        self.orders = Orders(store, catalogue)

    @property
    def clock(self) -> Clock:
        return self._store.clock

    def with_clock(self, clock: Clock) -> "Engine":
        """The same store seen through another clock (e.g. a ManualClock to import history)."""
        other = copy.copy(self)
        other._attach(Store(self.app, clock), self.catalogue)
        return other

    def batch(self) -> AbstractContextManager[Batch]:
        """Record every command in the block in one transaction, or none of them.

        Commands inside see each other's facts; the facts reach the store when
        the block ends. Use it to import scenarios and history in bulk (one
        save of many events is ~10x faster than one save per command).
        The yielded :class:`Batch` tells how many events were recorded.
        """
        return self._store.batch()

    @property
    def catalogue(self) -> ServiceCatalogue:
        return self.orders.catalogue

    def events(self, aggregate_id: UUID) -> list[FactAggregate.Event]:
        """Every fact of one aggregate, in version (recording) order."""
        return cast(list[FactAggregate.Event], list(self.app.events.get(aggregate_id)))

    def timeline(self, aggregate_id: UUID) -> Timeline:
        """The timeline of an incident or order (computed from its events)."""
        events = self.events(aggregate_id)
        if not events:
            raise NotFoundError(f"no incident or order with id {aggregate_id}")
        return build_timeline(events)

    def stored_events(self, aggregate_id: UUID) -> list[StoredEvent]:
        """The raw stored records of one aggregate (topics and JSON state), for audits."""
        return list(self.app.recorder.select_events(aggregate_id))

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
