"""Point-in-time queries (``engine.replay``): incidents, orders, grids and communities as
they stood at a moment, and a metric as known then beside the same metric now.

One incident or order is replayed from its own events only (folded through
the ``cases`` projection in memory). A community or grid is replayed from
its own events (for the roster) and from the ``cases`` view (for incidents,
orders and emergencies), never by re-reading every aggregate.
"""

import itertools
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from attrs import frozen
from eventsourcing.application import AggregateNotFoundError

from resilience.adapters.report_data import report_data
from resilience.clock import Clock
from resilience.domain.base import FactAggregate
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import check_bool, check_moment, check_uuid, shown
from resilience.errors import InvalidInputError, NotFoundError
from resilience.i18n import _
from resilience.metrics.cases import Case, case_at
from resilience.metrics.mobilisation import (
    EmergencySituation,
    emergency_at,
    in_force_covering,
)
from resilience.metrics.period import Period
from resilience.metrics.reports import MetricReport
from resilience.metrics.tables import render_table
from resilience.projections.base import Doc
from resilience.review.situations import (
    CommunitySituation,
    IncidentSituation,
    OrderSituation,
    incident_situation,
    order_situation,
    stored_case_doc,
)
from resilience.services.core import EventStoreApplication
from resilience.services.reports import MetricRef, Reports


@frozen
class Cut:
    """A checked pair of cuts (either may be None: no cut on that axis)."""

    as_of: datetime | None = None
    known_at: datetime | None = None

    @classmethod
    def of(cls, as_of: datetime | None, known_at: datetime | None) -> "Cut":
        return cls(None if as_of is None else check_moment(as_of, "as_of", query=True),
                   None if known_at is None else check_moment(known_at, "known_at", query=True))

    @property
    def moment(self) -> datetime | None:
        """The moment the cut describes: the earlier of the two (nothing recorded after
        ``known_at`` can be known, nothing after ``as_of`` has happened)."""
        given = [t for t in (self.as_of, self.known_at) if t is not None]
        return min(given) if given else None

    def case(self, key: str, doc: dict[str, object]) -> Case | None:
        return case_at(key, doc, as_of=self.as_of, known_at=self.known_at)


@frozen
class ThenAndNow:
    """A metric as known then beside the same metric as corrected since: "then" is a moment
    (``known_at``), the closure of each case (``as_closed``: as known when its standing
    closure was recorded), or both."""

    known_at: datetime | None
    then: MetricReport
    now: MetricReport
    as_closed: bool = False

    @property
    def then_label(self) -> str:
        """"as known at 2022-02-15T16:00:00+08:00", "as known at closure"..."""
        when = [f"at {self.known_at.isoformat()}"] if self.known_at is not None else []
        return "as known " + " and ".join((["at closure"] if self.as_closed else []) + when)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"then_and_now"``: the
        cut, and the metric's report then and now (each as ``MetricReport.to_dict`` gives
        it, without the header)."""
        return report_data(self, "then_and_now")

    def render(self) -> str:
        d = self.now.definition
        groups = [r.group for r in self.then.rows]
        groups += [r.group for r in self.now.rows if r.group not in groups]
        rows = []
        for group in groups:
            then = next((r for r in self.then.rows if r.group == group), None)
            now = next((r for r in self.now.rows if r.group == group), None)
            rows.append([", ".join(f"{k} {v}" for k, v in group.items()) or "all",
                         _cell(then.measured if then else None), _cell(then.p90 if then else None),
                         _cell(now.measured if now else None), _cell(now.p90 if now else None)])
        return (f"{d.name} ({d.unit}) {self.then_label} and as corrected\n"
                + render_table(["group", "measured then", "p90 then", "measured now",
                                "p90 now"], rows))


def _cell(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def own_events(app: EventStoreApplication, aggregate_id: UUID,
               kind: type[FactAggregate]) -> list[FactAggregate.Event]:
    """Every event of one aggregate of ``kind``, or NotFoundError (InvalidInputError for a
    non-UUID)."""
    check_uuid(aggregate_id, "an id")
    events = cast(list[FactAggregate.Event], list(app.events.get(aggregate_id)))
    if not events or not isinstance(events[0], kind.Event):
        raise NotFoundError(_("no {kind} with id {id}").format(kind=_(kind.kind),
                                                               id=aggregate_id))
    return events


def own_aggregate(app: EventStoreApplication, aggregate_id: UUID,
                  kind: type[FactAggregate]) -> FactAggregate:
    """One aggregate of ``kind`` as it stands now, from the repository (which may hold it
    already), or NotFoundError as ``own_events`` raises it."""
    check_uuid(aggregate_id, "an id")
    aggregate: object
    try:
        aggregate = app.repository.get(aggregate_id)
    except AggregateNotFoundError:
        aggregate = None
    if not isinstance(aggregate, kind):
        raise NotFoundError(_("no {kind} with id {id}").format(kind=_(kind.kind),
                                                               id=aggregate_id))
    return aggregate


class PointInTime:
    """``engine.replay``: situations at a cut, and metrics as known then."""

    def __init__(self, app: EventStoreApplication, reports: Reports, clock: Clock) -> None:
        self._app = app
        self._reports = reports
        self._clock = clock

    def _events(self, aggregate_id: UUID, kind: type[FactAggregate]) -> list[FactAggregate.Event]:
        return own_events(self._app, aggregate_id, kind)

    def incident(self, incident_id: UUID, *, as_of: datetime | None = None,
                 known_at: datetime | None = None) -> IncidentSituation:
        """One incident as it stood: status, commander, responders, consents, and every
        cycle (each reopening with its dispatch, arrival, containment and resolution).

        Raises NotFoundError if it had not been detected by ``as_of`` or
        recorded by ``known_at``.
        """
        cut = Cut.of(as_of, known_at)
        doc = stored_case_doc(self._app.recorder, self._reports.views.deliveries, incident_id,
                              Incident)
        case = cut.case(str(incident_id), doc)
        if case is None:
            raise NotFoundError(_("incident {id} is not in the record at that cut").format(
                id=incident_id))
        return incident_situation(case)

    def order(self, order_id: UUID, *, as_of: datetime | None = None,
              known_at: datetime | None = None) -> OrderSituation:
        """One service order as it stood: status, provider, outcome, rating."""
        cut = Cut.of(as_of, known_at)
        doc = stored_case_doc(self._app.recorder, self._reports.views.deliveries, order_id,
                              ServiceOrder)
        case = cut.case(str(order_id), doc)
        if case is None:
            raise NotFoundError(_("order {id} is not in the record at that cut").format(
                id=order_id))
        return order_situation(case, doc)

    def community(self, community_id: UUID, *, as_of: datetime | None = None,
                  known_at: datetime | None = None, grid: str | None = None
                  ) -> CommunitySituation:
        """A community, or one grid of it: the roster then, its open incidents and orders,
        and its mode: the emergencies in force then (the community's, and the grid's for
        a grid), with who was called up, answered and arrived where.

        The roster and the emergencies in force are read at ``as_of``, else
        ``known_at``, else now (the engine's clock), from the community's facts
        recorded by ``known_at``.
        """
        cut = Cut.of(as_of, known_at)
        community = self._community_known(community_id, cut.known_at)
        if grid is not None and grid not in community.grids():
            raise NotFoundError(_("community {community} had no grid {grid} at that cut").format(
                community=community.name, grid=shown(grid)))
        at = cut.as_of or cut.known_at or check_moment(self._clock(), "clock()")
        roster = [h for h in community.roster(at)
                  if grid is None or h.scope is None or community.grid_of(h.scope) == grid]
        incidents, orders = self._open_cases(str(community_id), cut, grid)
        return CommunitySituation(str(community_id), community.name, grid, at, cut.as_of,
                                  cut.known_at, tuple(roster), incidents, orders,
                                  self._emergencies(str(community_id), cut, grid, at))

    def _community_known(self, community_id: UUID, known_at: datetime | None) -> Community:
        """The community as its facts recorded by ``known_at`` make it (all of them: None,
        one read of the aggregate, as the repository keeps it)."""
        if known_at is None:
            return cast(Community, own_aggregate(self._app, community_id, Community))
        events = self._events(community_id, Community)
        # Facts are recorded in version order, so what was known is a prefix (a
        # clock set back mid-history ends it at the first fact recorded later).
        known = list(itertools.takewhile(lambda e: e.timestamp <= known_at, events))
        if not known:
            raise NotFoundError(_("community {id} was not registered at that cut").format(
                id=community_id))
        community: Community = self._app.repository.get(community_id, version=len(known))
        return community

    def _emergencies(self, community: str, cut: Cut, grid: str | None,
                     at: datetime) -> tuple[EmergencySituation, ...]:
        """The emergencies in force at ``at`` covering the community or ``grid``, as of the
        cut (the community's emergencies only: they are few)."""
        cut_off = (emergency_at(key, doc, as_of=cut.as_of, known_at=cut.known_at)
                   for key, doc in self._reports.views.select("cases", "emergency",
                                                              community=community))
        return tuple(in_force_covering((e for e in cut_off if e is not None), at, grid,
                                       every_grid=grid is None))

    def _open_cases(self, community: str, cut: Cut, grid: str | None
                    ) -> tuple[tuple[IncidentSituation, ...], tuple[OrderSituation, ...]]:
        self._reports.ready()
        views = self._reports.views
        # The view's ``at`` (each case's first fact) and ``until`` (from when it is closed
        # at every as-of cut) follow the facts as corrected and recorded today, which is
        # what an as-of cut reads (resilience.projections.indexes): the rows that began by
        # the cut and may be open at it. A cut back in knowledge may see a case before a
        # correction or closure recorded since: then every case is read.
        end: float | None = None
        until_after: float | None = None
        if cut.known_at is None:
            until_after = math.inf if cut.as_of is None else cut.as_of.timestamp()
            if cut.as_of is not None:
                end = math.nextafter(until_after, math.inf)

        def rows(kind: str) -> list[tuple[str, Doc]]:
            return views.select("cases", kind, end=end, community=community,
                                until_after=until_after)

        incidents = []
        for key, doc in rows("incident"):
            case = cut.case(key, doc)
            if case is not None and (grid is None or case.dims.get("grid") == grid):
                situation = incident_situation(case)
                if situation.is_open:
                    incidents.append(situation)
        orders = []
        for key, doc in rows("order"):
            case = cut.case(key, doc)
            if case is not None and (grid is None or case.dims.get("grid") == grid):
                order = order_situation(case, doc)
                if order.is_open:
                    orders.append(order)
        incidents.sort(key=lambda i: (i.detected_at, i.incident_id))
        orders.sort(key=lambda o: (o.placed_at, o.order_id))
        return tuple(incidents), tuple(orders)

    def metrics(self, metric: MetricRef, known_at: datetime | None = None,
                period: Period | None = None, group_by: Sequence[str] = (), *,
                community: UUID | None = None, as_closed: bool = False) -> ThenAndNow:
        """A metric as known at ``known_at``, or as known when each case's standing closure
        was recorded (``as_closed``, amendments made after it left out), or both, beside
        the same metric as corrected since. InvalidInputError if neither is given."""
        check_bool(as_closed, "as_closed")
        if known_at is None and not as_closed:
            raise InvalidInputError(_("give known_at, as_closed=True, or both"))
        then = self._reports.metrics(
            metric, period, group_by, community=community, as_closed=as_closed,
            known_at=None if known_at is None else check_moment(known_at, "known_at",
                                                                query=True))
        now = self._reports.metrics(metric, period, group_by, community=community)
        return ThenAndNow(known_at, then, now, as_closed)
