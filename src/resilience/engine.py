"""The engine: the one object an importing app opens."""

import copy
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, tzinfo
from types import TracebackType
from typing import cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from resilience.adapters.store import opening, resolve_url, store_env
from resilience.clock import Clock, check_clock, system_clock
from resilience.domain.base import FactAggregate
from resilience.domain.catalogue import DEFAULT_CATALOGUE, ServiceCatalogue
from resilience.domain.validation import check_uuid
from resilience.metrics.definitions import BUILT_IN
from resilience.metrics.period import Period
from resilience.metrics.quality import DEFAULT_LATE_AFTER, DataQualityReport
from resilience.metrics.reports import (
    Comparison,
    Counts,
    LeagueTable,
    MetricReport,
    Scorecard,
    ServiceSummary,
)
from resilience.projections.runner import Views
from resilience.review.model import AfterActionReview
from resilience.services.communities import Communities
from resilience.services.core import Batch, EventStoreApplication, Store
from resilience.services.improvements import Improvements
from resilience.services.incidents import Incidents
from resilience.services.orders import Orders
from resilience.services.replay import Replay
from resilience.services.reports import MetricRef, Reports
from resilience.services.reviews import Reviews
from resilience.timeline import Timeline


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
    """

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
        self.improvements = Improvements(store, self.reports)
        self.replay = Replay(self.app, self.reports, store.clock)
        self.reviews = Reviews(self.app, self.reports, self.improvements, store.clock)

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

    def timeline(self, aggregate_id: UUID) -> Timeline:
        """The timeline of an incident, order or community, from the ``timelines`` view."""
        return self.reports.timeline(aggregate_id)

    def metrics(self, metric: MetricRef, period: Period | None = None,
                group_by: Sequence[str] = (), *, community: UUID | None = None,
                tz: tzinfo | None = None, known_at: datetime | None = None) -> MetricReport:
        """One metric (a definition or a built-in's name) over a period, grouped.

        Day, week, month and year groups are cut in ``tz``, by default the
        period's time zone, else in each case's own recorded offset.
        ``known_at``: as it could have been computed then, from the facts and
        corrections recorded by that moment.
        """
        return self.reports.metrics(metric, period, group_by, community=community, tz=tz,
                                    known_at=known_at)

    def compare(self, metrics: Sequence[MetricRef], period: Period | None = None,
                group_by: Sequence[str] = (), *, community: UUID | None = None,
                tz: tzinfo | None = None, known_at: datetime | None = None) -> Comparison:
        """Several metric definitions side by side over the same cases."""
        return self.reports.compare(metrics, period, group_by, community=community, tz=tz,
                                    known_at=known_at)

    def review(self, incident_id: UUID, *, as_of: datetime | None = None,
               known_at: datetime | None = None) -> AfterActionReview:
        """The after-action review of one incident with the default objectives
        (``engine.reviews`` takes objectives of your own, and grid or period reviews)."""
        return self.reviews.incident(incident_id, as_of=as_of, known_at=known_at)

    def service_kpis(self, period: Period | None = None, group_by: Sequence[str] = (), *,
                     community: UUID | None = None,
                     tz: tzinfo | None = None) -> tuple[ServiceSummary, ...]:
        """Service-order KPIs per group: fixed / not fixed, reopen, on time, ratings."""
        return self.reports.service(period, group_by, community=community, tz=tz)

    def counts(self, period: Period | None = None, group_by: Sequence[str] = (), *,
               community: UUID | None = None, tz: tzinfo | None = None) -> tuple[Counts, ...]:
        """Incidents by type and severity, requests resolved, activities, person-times."""
        return self.reports.counts(period, group_by, community=community, tz=tz)

    def scorecard(self, community: UUID, grid: str | None = None,
                  period: Period | None = None, *,
                  metrics: Sequence[MetricRef] = BUILT_IN) -> Scorecard:
        """Everything a community, or one of its grids, is assessed on for a period."""
        return self.reports.scorecard(community, grid, period, metrics=metrics)

    def league_table(self, metric: MetricRef = "detection_to_contained",
                     period: Period | None = None, *, level: str = "grid",
                     community: UUID | None = None, min_sample: int = 10,
                     last: int | None = 100) -> LeagueTable:
        """Grids or communities ranked on a metric, with a minimum sample to be ranked."""
        return self.reports.league_table(metric, period, level=level, community=community,
                                         min_sample=min_sample, last=last)

    def data_quality(self, period: Period | None = None, *,
                     late_after: timedelta = DEFAULT_LATE_AFTER,
                     community: UUID | None = None,
                     graded: Sequence[MetricRef] = BUILT_IN) -> DataQualityReport:
        """Missing milestones, out-of-order times, late records and corrections."""
        return self.reports.data_quality(period, late_after=late_after, community=community,
                                         graded=graded)

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
