"""The engine: the one object an importing app opens."""

import copy
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from resilience.adapters.store import opening, resolve_url, store_env
from resilience.clock import Clock, check_clock, system_clock
from resilience.domain.base import FactAggregate
from resilience.domain.catalogue import DEFAULT_CATALOGUE, ServiceCatalogue
from resilience.domain.validation import check_uuid
from resilience.projections.runner import Views
from resilience.services.communities import Communities
from resilience.services.core import Batch, EventStoreApplication, Store
from resilience.services.delegation import delegated
from resilience.services.improvement_plan import ImprovementPlan
from resilience.services.improvements import Improvements
from resilience.services.incidents import Incidents
from resilience.services.orders import Orders
from resilience.services.point_in_time import PointInTime
from resilience.services.reports import Reports
from resilience.services.reviews import Reviews


class Engine:
    """Records commands as events in one store and reads them back.

    >>> engine = Engine("memory:")     # or "sqlite:///resilience.db", "postgresql://..."

    ``url`` defaults to ``$RESILIENCE_DB``, then to ``sqlite:///resilience.db``.
    ``clock`` gives every event's recorded time and each command's default
    ``occurred_at``. ``env`` passes extra eventsourcing settings (compression,
    encryption, pool sizes; ``RESILIENCE_TIMEOUT``, seconds, as the URL's
    ``?timeout=``).

    Opening raises ConfigurationError for settings the store refuses (a
    schema that does not exist, a missing cipher key) and StoreUnavailableError
    when the store cannot be reached within the timeout.

    Commands go through ``engine.communities``, ``incidents``, ``orders`` and
    ``improvements``. Queries are ``engine.timeline``, ``metrics``, ``compare``,
    ``service_kpis``, ``counts``, ``rates``, ``scorecard``, ``league_table`` and
    ``data_quality``: the methods of ``engine.reports`` (``engine.metrics`` runs
    ``engine.reports.metrics``); ``engine.review`` runs ``engine.reviews.incident``; and
    ``engine.replay`` answers as of a moment.
    """

    # The queries reachable from the engine run the methods of its reports and reviews:
    # one signature and one docstring each (help(engine.metrics) shows it).
    timeline = delegated("reports", Reports.timeline)
    metrics = delegated("reports", Reports.metrics)
    compare = delegated("reports", Reports.compare)
    service_kpis = delegated("reports", Reports.service_kpis)
    counts = delegated("reports", Reports.counts)
    rates = delegated("reports", Reports.rates)
    scorecard = delegated("reports", Reports.scorecard)
    league_table = delegated("reports", Reports.league_table)
    data_quality = delegated("reports", Reports.data_quality)
    review = delegated("reviews", Reviews.incident)

    def __init__(
        self,
        url: str | None = None,
        *,
        clock: Clock = system_clock,
        catalogue: ServiceCatalogue = DEFAULT_CATALOGUE,
        env: Mapping[str, str] | None = None,
        fresh_views: bool = True,
    ) -> None:
        check_clock(clock)
        self.url = resolve_url(url)
        settings = store_env(self.url)
        settings.update(env or {})
        with opening(self.url):
            self.app = EventStoreApplication(env=settings)
            try:
                self.views = Views(self.app)
            except BaseException:
                self.app.close()
                raise
        self.reports = Reports(self.views, fresh=fresh_views)
        self._attach(Store(self.app, clock), catalogue)

    def _attach(self, store: Store, catalogue: ServiceCatalogue) -> None:
        self._store = store
        self.communities = Communities(store)
        self.incidents = Incidents(store)
        self.orders = Orders(store, catalogue)
        plan = ImprovementPlan(self.reports, store.clock)
        self.improvements = Improvements(store, plan)
        self.replay = PointInTime(self.app, self.reports, store.clock)
        self.reviews = Reviews(self.app, self.reports, plan, store.clock)

    @property
    def clock(self) -> Clock:
        return self._store.clock

    def with_clock(self, clock: Clock) -> "Engine":
        """The same store seen through another clock (e.g. a ManualClock to import history)."""
        check_clock(clock)
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
        check_uuid(aggregate_id, "an id")
        return cast(list[FactAggregate.Event], list(self.app.events.get(aggregate_id)))

    def stored_events(self, aggregate_id: UUID) -> list[StoredEvent]:
        """The raw stored records of one aggregate (topics and JSON state), for audits."""
        check_uuid(aggregate_id, "an id")
        return list(self.app.recorder.select_events(aggregate_id))

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
