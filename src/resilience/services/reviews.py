"""``engine.reviews``: after-action reviews of an incident, or of a grid's or community's
incidents over a period, at any cut; and timelines read as a person.

Each incident is reviewed from its own events (a handful of reads), its
community's names from the community's events; which incidents a grid or
period review covers comes from the ``cases`` view. Improvement items are
read from the ``plans`` view.

Read as a viewer (``viewer=Actor(...)``), a review or timeline hides the personal
values the policy keeps from them (resilience.review.sight). A timeline for a viewer is
built from the aggregate's own events rather than the ``timelines`` view: the view holds
each fact's wording (``describe()``) with every value in it, and what a viewer may see
differs per viewer and per value (their own consent, but not their neighbour's), so a
view would have to hold a wording per combination. The events are one indexed read of
one aggregate (as a review makes for every incident it covers), and masking them before
they are worded is the same one rule (``masked``) everywhere.

What a review says of the live response, each incident's escalations graded under the
engine's current escalation policy and its linked recovery, is read by
resilience.services.review_response; the hazards recorded at an incident's location
before it (resilience.review.hazards) from the ``cases`` view's hazard documents, which
hold no personal data: read once per review, however many incidents it covers.
"""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from uuid import UUID

from attrs import evolve

from resilience.adapters.chain import Signature, Verification
from resilience.clock import Clock
from resilience.domain.base import FactAggregate
from resilience.domain.deadline_state import InEmergency
from resilience.domain.escalation import EscalationPolicy
from resilience.domain.incident import Incident
from resilience.domain.named import Named
from resilience.domain.organisation import Community
from resilience.domain.policy import DEFAULT_POLICY, Policy
from resilience.domain.validation import check_bool, check_instance, check_moment, check_uuid, shown
from resilience.domain.values import Actor
from resilience.errors import InvalidInputError, NotFoundError
from resilience.i18n import _
from resilience.metrics.cases import case_at
from resilience.metrics.definitions import BUILT_IN, MetricDefinition
from resilience.metrics.period import Period
from resilience.metrics.quality import DEFAULT_LATE_AFTER
from resilience.projections.base import Doc
from resilience.projections.folds import community_of
from resilience.projections.plan_items import PlanItem
from resilience.review.build import (
    DEFAULT_GAP_AFTER,
    hazard_findings,
    review_incident,
    summarise,
)
from resilience.review.hazards import prior_hazards
from resilience.review.keys import incident_review_key, scope_review_key
from resilience.review.model import AfterActionReview, IncidentReview, Verified
from resilience.review.objectives import DEFAULT_OBJECTIVES, Objective
from resilience.review.sight import HIDDEN, Keep, Sight, incident_area, known_area
from resilience.review.situations import IncidentSituation, case_doc, incident_situation
from resilience.review.titles import (
    incident_review_scope,
    incident_review_title,
    scope_review_scope,
    scope_review_title,
)
from resilience.services.core import EventStoreApplication
from resilience.services.improvement_plan import ImprovementPlan
from resilience.services.point_in_time import Cut, own_events
from resilience.services.recovery import Recoveries
from resilience.services.reports import Reports, checked_period
from resilience.services.review_response import graded_escalations, linked_recovery
from resilience.timeline import Timeline, build_timeline

Drills = Literal["include", "exclude", "only"]
INCIDENT_SEGMENTS: tuple[MetricDefinition, ...] = Named(
    "INCIDENT_SEGMENTS", (d for d in BUILT_IN if d.subject == "incident"))


class Reviews:
    """``engine.reviews``; ``engine.timeline`` and ``engine.review`` are its ``timeline``
    and ``incident``.

    ``policy`` says which personal data a viewer may see (None: every viewer sees all);
    ``verify`` checks the store's hash chain (the engine's ``verify``), for reviews asked
    to state it; ``escalation`` is the escalation policy each incident's deadlines are
    graded on (None: not graded), ``emergencies()`` an ``in_emergency(community_id,
    area_id, at)`` telling whether an incident began in an emergency (its emergency
    deadlines then; None: never), called once per review so that a review of many
    incidents reads each community's emergencies once;
    ``recoveries`` reads each incident's linked recovery (the engine's); ``communities``
    reads a community as it stands now, for a review names people by their names today
    (the engine's ``communities.get``: from its snapshot
    and the facts since, so a review's cost does not grow with the community's history;
    NotFoundError for an id that is no community)."""

    def __init__(self, app: EventStoreApplication, reports: Reports, plan: ImprovementPlan,
                 clock: Clock, recoveries: Recoveries, *, policy: Policy | None = DEFAULT_POLICY,
                 verify: Callable[[], Verification] | None = None,
                 escalation: EscalationPolicy | None = None,
                 emergencies: Callable[[], InEmergency] | None = None,
                 communities: Callable[[UUID], Community]) -> None:
        self._app = app
        self._communities = communities
        self._reports = reports
        self._improvement_plan = plan
        self._clock = clock
        self._policy = policy
        self._verify = verify
        self._escalation = escalation
        self._emergencies = emergencies
        self._recoveries = recoveries

    def timeline(self, aggregate_id: UUID, *, as_of: datetime | None = None,
                 known_at: datetime | None = None, viewer: Actor | None = None) -> Timeline:
        """The timeline of an incident, order, community or improvement item: every fact in
        ``occurred_at`` order (``engine.timeline`` is this method). ``as_of``: only the
        facts that had happened by then; ``known_at``: only those recorded by then, each
        at the time it had then (as a review's timeline at the same cut). Now and without
        a ``viewer`` (the app itself) it is read from the ``timelines`` view
        (``engine.reports.timeline``); else from the aggregate's events, for a viewer each
        personal value the policy keeps from them reading "[hidden]"
        (resilience.review.sight), the roster read at the engine's clock."""
        cut = Cut.of(as_of, known_at)
        if viewer is None and cut.as_of is None and cut.known_at is None:
            return self._reports.timeline(aggregate_id)
        if viewer is not None:
            check_instance(viewer, "viewer", Actor)
        check_uuid(aggregate_id, "a timeline's id")
        events = cast(list[FactAggregate.Event], list(self._app.events.get(aggregate_id)))
        if not events or type(events[0]).aggregate_kind == "references":  # (no timeline)
            raise NotFoundError(_("no incident, order or community with id {id}").format(
                id=aggregate_id))
        if cut.known_at is not None and events[0].timestamp > cut.known_at:
            raise NotFoundError(_("{id} had not been recorded by {moment}").format(
                id=aggregate_id, moment=cut.known_at))
        if viewer is not None:
            community = self._communities(UUID(community_of(events[0])))
            events = self._sight(community, viewer).events(events)
        return _timeline(events, cut)

    def incident(self, incident_id: UUID, *, as_of: datetime | None = None,
                 known_at: datetime | None = None,
                 objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
                 segments: Sequence[MetricDefinition] = INCIDENT_SEGMENTS,
                 late_after: timedelta = DEFAULT_LATE_AFTER,
                 gap_after: timedelta = DEFAULT_GAP_AFTER, viewer: Actor | None = None,
                 verify: bool = False) -> AfterActionReview:
        """The after-action review of one incident (or drill), as of a cut (``engine.review``
        is this method): graded on ``objectives`` (by default the default objectives), the
        ``segments`` measured (by default every built-in incident metric).

        ``viewer``: read as that person (resilience.review.sight): the same figures, with
        the personal values the policy keeps from them reading "[hidden]" (default None:
        the app itself, which sees everything). ``verify``: first check the store's hash
        chain (``engine.verify()``) and state what it found (``AfterActionReview.verified``)."""
        cut = Cut.of(as_of, known_at)
        objectives, segments = _checked(objectives, segments, late_after, gap_after)
        _check_reader(viewer, verify)
        verified = self._verified() if verify else None
        review, community = self._review_one(incident_id, cut, objectives, segments,
                                             late_after, gap_after, self._in_emergency(),
                                             viewer=viewer)
        key = incident_review_key(incident_id)
        plan, still_open = self._plan(community, key, review.grid, cut, review.detected_at,
                                      viewer)
        return AfterActionReview(
            key=key, title=incident_review_title(review.incident_type, review.severity,
                                                 review.grid, review.community_name,
                                                 review.detected_at),
            scope=incident_review_scope(incident_id, review.community_name, review.grid),
            community=review.community, grid=review.grid, generated_at=self._now(),
            as_of=cut.as_of, known_at=cut.known_at, incidents=(review,),
            objectives=summarise(objectives, [review]), plan=plan, still_open=still_open,
            **_definitions(objectives, segments), viewer=viewer, verified=verified,
            escalation_policy=self._policy_data())

    def incidents(self, community: UUID, *, grid: str | None = None,
                  period: Period | None = None, drills: Drills = "include",
                  as_of: datetime | None = None, known_at: datetime | None = None,
                  objectives: Sequence[Objective] = DEFAULT_OBJECTIVES,
                  segments: Sequence[MetricDefinition] = INCIDENT_SEGMENTS,
                  late_after: timedelta = DEFAULT_LATE_AFTER,
                  gap_after: timedelta = DEFAULT_GAP_AFTER, viewer: Actor | None = None,
                  verify: bool = False) -> AfterActionReview:
        """One review of every incident of a community, or of one grid, detected in
        ``period``: each incident reviewed, then each objective graded over them all
        (``viewer`` and ``verify`` as for ``incident``)."""
        cut = Cut.of(as_of, known_at)
        objectives, segments = _checked(objectives, segments, late_after, gap_after)
        _check_reader(viewer, verify)
        period = checked_period(period)
        if drills not in ("include", "exclude", "only"):
            raise InvalidInputError(
                _("drills must be include, exclude or only, got {value}").format(
                    value=shown(drills)))
        if not isinstance(community, UUID):
            raise InvalidInputError(_("community must be a UUID, got {value}").format(
                value=shown(community)))
        known = self._communities(community)
        verified = self._verified() if verify else None
        name = known.name
        if grid is not None and grid not in known.grids():
            raise NotFoundError(_("{community} has no grid {grid}").format(
                community=name, grid=shown(grid)))
        self._reports.ready()
        # The view's ``at`` is each incident's detection as corrected today, which is
        # what the cut reads unless it goes back in knowledge (a correction recorded
        # since could have moved it): only then must every incident be read.
        start, end = period.bounds() if cut.known_at is None else (None, None)
        chosen = []
        for key, doc in self._reports.views.select("cases", "incident", start=start, end=end,
                                                   community=str(community)):
            case = cut.case(key, doc)
            if (case is None or case.start not in period
                    or (grid is not None and case.dims.get("grid") != grid)
                    or (drills == "exclude" and case.drill)
                    or (drills == "only" and not case.drill)):
                continue
            chosen.append((case.start, key))
        in_emergency = self._in_emergency()  # each community's emergencies read once
        hazards = self._hazard_docs(str(community), cut)  # and its hazards
        reviews = [self._review_one(UUID(key), cut, objectives, segments, late_after, gap_after,
                                    in_emergency, known, viewer, hazards)[0]
                   for _, key in sorted(chosen)]
        key = scope_review_key(community, grid, period)
        first = min((r.detected_at for r in reviews), default=period.end)
        plan, still_open = self._plan(known, key, grid, cut, first, viewer)
        return AfterActionReview(
            key=key, title=scope_review_title(name, grid, period, drills),
            scope=scope_review_scope(len(reviews), name, grid, period, drills),
            community=str(community), grid=grid, generated_at=self._now(), as_of=cut.as_of,
            known_at=cut.known_at, incidents=tuple(reviews),
            objectives=summarise(objectives, reviews), plan=plan, still_open=still_open,
            **_definitions(objectives, segments), viewer=viewer, verified=verified,
            escalation_policy=self._policy_data())

    # Reading ----------------------------------------------------------------------

    def _in_emergency(self) -> InEmergency | None:
        return None if self._emergencies is None else self._emergencies()

    def _now(self) -> datetime:
        return check_moment(self._clock(), "clock()")

    def _sight(self, community: Community, viewer: Actor | None) -> Sight:
        return Sight(self._policy, community, viewer, self._now())

    def _review_one(self, incident_id: UUID, cut: Cut, objectives: Sequence[Objective],
                    segments: Sequence[MetricDefinition], late_after: timedelta,
                    gap_after: timedelta, in_emergency: InEmergency | None,
                    community: Community | None = None, viewer: Actor | None = None,
                    hazards: Sequence[tuple[str, Doc]] | None = None,
                    ) -> tuple[IncidentReview, Community]:
        """The incident's review, and its community (``community`` if given, else read);
        ``hazards``: the ``cases`` documents of the community's hazards (else read)."""
        events = recorded = own_events(self._app, incident_id, Incident)
        doc = case_doc(events)
        key = str(incident_id)
        case = cut.case(key, doc)
        first = case_at(key, doc, as_of=cut.as_of, known_at=cut.known_at, corrected=False)
        closed = case_at(key, doc, as_of=cut.as_of, known_at=cut.known_at, as_closed=True)
        if case is None or first is None:
            raise NotFoundError(_("incident {id} is not in the record at that cut").format(
                id=incident_id))
        detected = cast(Incident.Detected, events[0])
        if community is None:
            community = self._communities(detected.community_id)
        sight = self._sight(community, viewer)
        people = sight.names({p.person_id: p.name for p in community.people.values()})
        situation = incident_situation(case)
        area = incident_area(community, detected)
        shown = None  # the case as the viewer may see it, where it differs
        if not sight.sees(area):
            events = sight.events(events)
            shown = cut.case(key, case_doc(events))
            assert shown is not None  # the same facts as ``case``, their values hidden
            situation = _hidden(situation, incident_situation(shown), sight.keep(area))
        at = cut.moment or self._now()
        review = review_incident(
            case, first, situation, _timeline(events, cut),
            objectives=objectives, segments=segments,
            at=at, community_name=community.name,
            people=people, late_after=late_after, gap_after=gap_after, as_closed=closed,
            shown=shown)
        recovery = linked_recovery(self._recoveries, case, recorded, cut,
                                   hidden=not sight.sees(area))
        escalations = graded_escalations(recorded, cut, at, self._escalation, in_emergency)
        if hazards is None:
            hazards = self._hazard_docs(case.community, cut, case.start)
        before = prior_hazards(hazards, community=case.community, grid=detected.location.grid,
                               building=detected.location.building, detected_at=case.start,
                               as_of=cut.as_of, known_at=cut.known_at)
        return evolve(review, escalations=escalations, recovery=recovery, hazards=before,
                      improvements=review.improvements + hazard_findings(before)), community

    def _hazard_docs(self, community: str, cut: Cut, before: datetime | None = None
                     ) -> list[tuple[str, Doc]]:
        """The ``cases`` documents of a community's hazards: those found before ``before``
        (None: all). The view's ``at`` is each hazard's finding as corrected today, which
        is what the cut reads unless it goes back in knowledge (a correction recorded since
        could have moved it): then every one is read."""
        self._reports.ready()
        end = None if before is None or cut.known_at is not None else before.timestamp()
        return self._reports.views.select("cases", "hazard", end=end, community=community)

    def _policy_data(self) -> Mapping[str, Any] | None:
        return None if self._escalation is None else self._escalation.to_dict()

    def _verified(self) -> Verified:
        if self._verify is None:
            raise InvalidInputError(_("this engine cannot verify its store"))
        return _statement(self._verify())

    def _plan(self, community: Community, key: str, grid: str | None, cut: Cut,
              before: datetime | None, viewer: Actor | None = None
              ) -> tuple[tuple[PlanItem, ...], tuple[PlanItem, ...]]:
        """The items this review raised, and those of other reviews planned before the
        reviewed incidents (``before``) and not finished at the cut; an action reads
        "[hidden]" to a viewer who may not see its grid's personal data (it is its
        planner's words, and the item does not say who planned it, so not even the planner
        is told apart). ``community``: the reviewed one, as the review read it."""
        plan = self._improvement_plan
        raised = plan.items(community.id, review=key, at=cut.as_of, known_at=cut.known_at)
        still_open = [item for item in plan.still_open(community.id, grid, before, cut.as_of,
                                                       cut.known_at)
                      if item.review != key]
        if viewer is not None:
            sight = self._sight(community, viewer)
            raised = [_plan_item(sight, item) for item in raised]
            still_open = [_plan_item(sight, item) for item in still_open]
        return tuple(raised), tuple(still_open)


def _check_reader(viewer: object, verify: object) -> None:
    if viewer is not None:
        check_instance(viewer, "viewer", Actor)
    check_bool(verify, "verify")


def _hidden(situation: IncidentSituation, shown: IncidentSituation,
            keep: Keep) -> IncidentSituation:
    """The situation with its personal values hidden: the residents asked for consent that
    ``keep`` does not keep (each in its place, so the counts stay), and each reopening's
    reason as ``shown`` (the situation of the masked facts) has it."""
    def residents(ids: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(r if keep(r) else HIDDEN for r in ids)

    return evolve(situation, pending_consents=residents(situation.pending_consents),
                  consents_granted=residents(situation.consents_granted),
                  cycles=tuple(evolve(cycle, reason=seen.reason) for cycle, seen
                               in zip(situation.cycles, shown.cycles, strict=True)))


def _plan_item(sight: Sight, item: PlanItem) -> PlanItem:
    grid = known_area(sight.community, item.grid)
    return item if sight.sees(grid) else evolve(item, action=HIDDEN)


_SIGNATURES: Mapping[Signature, str] = {
    Signature.VALID: "signed, signature valid",
    Signature.UNCHECKED: "signed; signature not checked, no signing key given",
    Signature.ABSENT: "unsigned",
    Signature.INVALID: "signed, but its signature does not verify",
}


def _statement(found: Verification) -> Verified:
    """A review's statement of what ``engine.verify()`` found: the checkpoint that vouches
    for the chain (the latest trusted one, else the latest), or the first problem."""
    if found.problem is not None:
        problem = str(found.problem)
        return Verified(False, f"Verification FAILED: {problem.rstrip('.')}. The facts of "
                               "this review cannot be vouched for "
                               f"({found.events_checked:,} events checked before the problem).",
                        found.events_checked, found.head, problem=problem)
    events = (f"all {found.events_checked:,} events up to position {found.head:,} match the "
              "hash chain")
    built = "" if found.built is None else (
        f"; the first {found.built.events:,} were recorded before the chain existed and are "
        "vouched for as they were when it was built")
    checkpoint = found.trusted or found.checkpoint
    if checkpoint is None:
        return Verified(True, f"Facts verified: {events}{built}, but no checkpoint covers "
                              "them yet.", found.events_checked, found.head)
    signature = found.signature if checkpoint is found.checkpoint else Signature.VALID
    return Verified(True, f"Facts verified against the checkpoint at position "
                          f"{checkpoint.position:,} ({_SIGNATURES[signature]}): {events}{built}.",
                    found.events_checked, found.head, checkpoint.position, checkpoint.signed)


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
        raise InvalidInputError(_("objectives must be a sequence of Objective"))
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise InvalidInputError(_("objective names repeat: {names}").format(names=names))
    if isinstance(segments, MetricDefinition) or not all(
            isinstance(d, MetricDefinition) and d.subject == "incident" for d in segments):
        raise InvalidInputError(_("segments must be a sequence of incident MetricDefinitions"))
    for value, name in ((late_after, "late_after"), (gap_after, "gap_after")):
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise InvalidInputError(_("{name} must be a non-negative timedelta").format(
                name=name))
    return tuple(objectives), tuple(segments)
