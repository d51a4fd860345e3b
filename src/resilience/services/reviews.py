"""``engine.reviews``: after-action reviews of an incident, or of a grid's or community's
incidents over a period, at any cut.

Each incident is reviewed from its own events (a handful of reads), its
community's names from the community's events; which incidents a grid or
period review covers comes from the ``cases`` view. Improvement items are
read from the ``plans`` view.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from resilience.clock import Clock
from resilience.domain.base import FactAggregate
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.validation import check_moment, shown
from resilience.errors import InvalidInputError, NotFoundError
from resilience.metrics.cases import case_at
from resilience.metrics.definitions import BUILT_IN, MetricDefinition
from resilience.metrics.period import ALL_TIME, Period
from resilience.metrics.quality import DEFAULT_LATE_AFTER
from resilience.projections.plan_items import PlanItem
from resilience.review.build import DEFAULT_GAP_AFTER, review_incident, summarise
from resilience.review.keys import incident_review_key, scope_review_key
from resilience.review.model import AfterActionReview, IncidentReview
from resilience.review.objectives import DEFAULT_OBJECTIVES, Objective
from resilience.review.situations import case_doc, incident_situation
from resilience.review.text import plural
from resilience.services.core import EventStoreApplication
from resilience.services.improvement_plan import ImprovementPlan
from resilience.services.point_in_time import Cut, own_events
from resilience.services.reports import Reports
from resilience.timeline import Timeline, build_timeline

Drills = Literal["include", "exclude", "only"]
INCIDENT_SEGMENTS: tuple[MetricDefinition, ...] = tuple(
    d for d in BUILT_IN if d.subject == "incident")


class Reviews:
    """``engine.reviews``."""

    def __init__(self, app: EventStoreApplication, reports: Reports, plan: ImprovementPlan,
                 clock: Clock) -> None:
        self._app = app
        self._reports = reports
        self._improvement_plan = plan
        self._clock = clock

    def incident(self, incident_id: UUID, *, as_of: datetime | None = None,
                 known_at: datetime | None = None,
                 objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
                 segments: Sequence[MetricDefinition] = INCIDENT_SEGMENTS,
                 late_after: timedelta = DEFAULT_LATE_AFTER,
                 gap_after: timedelta = DEFAULT_GAP_AFTER) -> AfterActionReview:
        """The after-action review of one incident (or drill), as of a cut (``engine.review``
        is this method): graded on ``objectives`` (by default the default objectives), the
        ``segments`` measured (by default every built-in incident metric)."""
        cut = Cut.of(as_of, known_at)
        objectives, segments = _checked(objectives, segments, late_after, gap_after)
        review = self._review_one(incident_id, cut, objectives, segments, late_after,
                                  gap_after)
        key = incident_review_key(incident_id)
        plan, still_open = self._plan(UUID(review.community), key, review.grid, cut,
                                      review.detected_at)
        return AfterActionReview(
            key=key, title=(f"After-action review: {review.incident_type} "
                            f"({review.severity}) in grid {review.grid or '?'} of "
                            f"{review.community_name}, {review.detected_at:%Y-%m-%d %H:%M}"),
            scope=f"incident {incident_id} ({review.community_name}, grid "
                  f"{review.grid or '?'})",
            community=review.community, grid=review.grid, generated_at=self._now(),
            as_of=cut.as_of, known_at=cut.known_at, incidents=(review,),
            objectives=summarise(objectives, [review]), plan=plan, still_open=still_open,
            **_definitions(objectives, segments))

    def incidents(self, community: UUID, *, grid: str | None = None,
                  period: Period | None = None, drills: Drills = "include",
                  as_of: datetime | None = None, known_at: datetime | None = None,
                  objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
                  segments: Sequence[MetricDefinition] = INCIDENT_SEGMENTS,
                  late_after: timedelta = DEFAULT_LATE_AFTER,
                  gap_after: timedelta = DEFAULT_GAP_AFTER) -> AfterActionReview:
        """One review of every incident of a community, or of one grid, detected in
        ``period``: each incident reviewed, then each objective graded over them all."""
        cut = Cut.of(as_of, known_at)
        objectives, segments = _checked(objectives, segments, late_after, gap_after)
        period = period if period is not None else ALL_TIME
        if not isinstance(period, Period):
            raise InvalidInputError(f"period must be a Period, got {shown(period)}")
        if drills not in ("include", "exclude", "only"):
            raise InvalidInputError(f"drills must be include, exclude or only, got {shown(drills)}")
        if not isinstance(community, UUID):
            raise InvalidInputError(f"community must be a UUID, got {shown(community)}")
        known = self._community(community)
        name = known.name
        if grid is not None and grid not in known.grids():
            raise NotFoundError(f"{name} has no grid {shown(grid)}")
        self._reports.ready()
        chosen = []
        for key, doc in self._reports.views.select("cases", "incident",
                                                   community=str(community)):
            case = cut.case(key, doc)
            if (case is None or case.start not in period
                    or (grid is not None and case.dims.get("grid") != grid)
                    or (drills == "exclude" and case.drill)
                    or (drills == "only" and not case.drill)):
                continue
            chosen.append((case.start, key))
        reviews = [self._review_one(UUID(key), cut, objectives, segments, late_after, gap_after,
                                    known)
                   for _, key in sorted(chosen)]
        key = scope_review_key(community, grid, period)
        first = min((r.detected_at for r in reviews), default=period.end)
        plan, still_open = self._plan(community, key, grid, cut, first)
        where = f"grid {grid} of {name}" if grid is not None else name
        kind = "drill" if drills == "only" else "incident"
        left_out = " (drills left out)" if drills == "exclude" else ""
        return AfterActionReview(
            key=key, title=f"After-action review: {kind}s{left_out} of {where}, {period}",
            scope=f"{plural(len(reviews), kind)}{left_out} of {where} detected {period}",
            community=str(community), grid=grid, generated_at=self._now(), as_of=cut.as_of,
            known_at=cut.known_at, incidents=tuple(reviews),
            objectives=summarise(objectives, reviews), plan=plan, still_open=still_open,
            **_definitions(objectives, segments))

    # Reading ----------------------------------------------------------------------

    def _now(self) -> datetime:
        return check_moment(self._clock(), "clock()")

    def _review_one(self, incident_id: UUID, cut: Cut, objectives: Sequence[Objective],
                    segments: Sequence[MetricDefinition], late_after: timedelta,
                    gap_after: timedelta, community: Community | None = None
                    ) -> IncidentReview:
        events = own_events(self._app, incident_id, Incident)
        doc = case_doc(events)
        key = str(incident_id)
        case = cut.case(key, doc)
        first = case_at(key, doc, as_of=cut.as_of, known_at=cut.known_at, corrected=False)
        closed = case_at(key, doc, as_of=cut.as_of, known_at=cut.known_at, as_closed=True)
        if case is None or first is None:
            raise NotFoundError(f"incident {incident_id} is not in the record at that cut")
        if community is None:
            community = self._community(cast(Incident.Detected, events[0]).community_id)
        people = {p.person_id: p.name for p in community.people.values()}
        return review_incident(
            case, first, incident_situation(case), _timeline(events, cut),
            objectives=objectives, segments=segments,
            at=cut.moment or self._now(), community_name=community.name,
            people=people, late_after=late_after, gap_after=gap_after, as_closed=closed)

    def _community(self, community_id: UUID) -> Community:
        # Names and grids as they stand now: a review names people by their names today.
        try:
            community: Community = self._app.repository.get(community_id)
        except AggregateNotFoundError as exc:
            raise NotFoundError(f"no community {community_id}") from exc
        if not isinstance(community, Community):
            raise NotFoundError(f"{community_id} is not a community")
        return community

    def _plan(self, community: UUID, key: str, grid: str | None, cut: Cut,
              before: datetime | None) -> tuple[tuple[PlanItem, ...], tuple[PlanItem, ...]]:
        """The items this review raised, and those of other reviews planned before the
        reviewed incidents (``before``) and not finished at the cut."""
        items = self._improvement_plan.items
        raised = items(community, review=key, at=cut.as_of, known_at=cut.known_at)
        still_open = [item for item in items(community, grid=grid, open_only=True,
                                             at=cut.as_of, known_at=cut.known_at)
                      if item.review != key and (before is None or item.planned_at < before)]
        return tuple(raised), tuple(still_open)


def _timeline(events: Sequence[FactAggregate.Event], cut: Cut) -> Timeline:
    """The timeline of the facts known at the cut that had happened by it."""
    known = [e for e in events if cut.known_at is None or e.timestamp <= cut.known_at]
    timeline = build_timeline(known)
    if cut.as_of is None:
        return timeline
    as_of = cut.as_of
    return Timeline(timeline.aggregate_id, timeline.start,
                    tuple(e for e in timeline.entries if e.occurred_at <= as_of))


def _definitions(objectives: Sequence[Objective], segments: Sequence[MetricDefinition]
                 ) -> dict[str, Any]:
    return {"objective_definitions": tuple(o.to_dict() for o in objectives),
            "segment_definitions": tuple(d.to_dict() for d in segments)}


def _checked(objectives: Sequence[Objective], segments: Sequence[MetricDefinition],
             late_after: timedelta, gap_after: timedelta
             ) -> tuple[tuple[Objective, ...], tuple[MetricDefinition, ...]]:
    if isinstance(objectives, Objective) or not all(isinstance(o, Objective)
                                                    for o in objectives):
        raise InvalidInputError("objectives must be a sequence of Objective")
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"objective names repeat: {names}")
    if isinstance(segments, MetricDefinition) or not all(
            isinstance(d, MetricDefinition) and d.subject == "incident" for d in segments):
        raise InvalidInputError("segments must be a sequence of incident MetricDefinitions")
    for value, name in ((late_after, "late_after"), (gap_after, "gap_after")):
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise InvalidInputError(f"{name} must be a non-negative timedelta")
    return tuple(objectives), tuple(segments)
