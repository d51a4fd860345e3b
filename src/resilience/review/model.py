"""What an after-action review holds: plain frozen values.

A review is computed from the facts each time it is asked for; only its
improvement plan is stored (as ImprovementItem aggregates linked by the
review's ``key``), so a later review of the same scope lists what is still
open.

A review renders as JSON-ready data (:mod:`resilience.review.data`), Markdown
(:mod:`.markdown`) and one HTML page (:mod:`.html`); its ``to_*`` methods call
those functions, which know the review's classes only for type checkers.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from attrs import Factory, frozen

from resilience.domain.values import Actor
from resilience.i18n import N_, _, current_language
from resilience.metrics.cases import Amendment
from resilience.metrics.recovery import Recovery
from resilience.projections.plan_items import PlanItem
from resilience.review.data import review_to_dict, review_to_json
from resilience.review.escalations import EscalationResult
from resilience.review.hazards import PriorHazards
from resilience.review.html import review_to_html
from resilience.review.markdown import review_to_markdown
from resilience.review.situations import IncidentSituation
from resilience.timeline import Timeline


class Grade(StrEnum):
    """HSEEP's rating of how an objective was performed."""

    P = "P"
    S = "S"
    M = "M"
    U = "U"

    @property
    def meaning(self) -> str:
        """HSEEP's words for the grade, in the current language (resilience.i18n)."""
        return _(GRADE_MEANINGS[self])


GRADE_MEANINGS: Mapping[Grade, str] = {
    Grade.P: N_("performed without challenges"),
    Grade.S: N_("performed with some challenges"),
    Grade.M: N_("performed with major challenges"),
    Grade.U: N_("unable to be performed"),
}
"""HSEEP's words for each grade, in English (``Grade.meaning`` translates them)."""


@frozen
class ObjectiveResult:
    """One objective graded on one incident (``grade`` None: it did not apply)."""

    name: str
    title: str
    grade: Grade | None
    evidence: str
    """One sentence on why: the times, the facts, what was missing."""
    measured: timedelta | None = None
    target: timedelta | None = None
    versions: tuple[int, ...] = ()
    """The facts the grade rests on (their versions in the incident)."""
    pending: bool = False
    """Not graded *yet*: the incident was still open at the cut and the deadline ahead
    (``grade`` None without ``pending``: the objective did not apply)."""


@frozen
class SegmentResult:
    """One segment metric (e.g. NFPA turnout) of one incident against its target."""

    name: str
    description: str
    start: str
    end: str
    """Milestone names (resilience.metrics.INCIDENT_MILESTONES)."""
    duration: timedelta | None
    """As corrected (None: a milestone is missing)."""
    first_recorded: timedelta | None
    """From the times as first recorded, before any correction."""
    target: timedelta | None
    met: bool | None
    """None when there is no target or nothing to measure."""
    reopening: int | None = None
    """None: measured on the incident (a metric ``per="case"``); n: on the cycle its nth
    reopening began (a metric ``per="reopening"`` gives one result per reopening)."""
    at_closure: timedelta | None = None
    """As known when the incident's standing closure was recorded, for an incident amended
    after its closure (``IncidentReview.amendments``); otherwise None."""


@frozen
class Finding:
    """A strength or an area for improvement, with the facts it rests on."""

    text: str
    objective: str | None = None
    versions: tuple[int, ...] = ()


FlagKind = Literal["missing", "out_of_order", "late", "correction", "amendment", "interested",
                   "override", "imported"]
"""``interested``: a correction by someone whose own record it touches
(``resilience.metrics.quality.INTERESTS``); ``override``: a fact recorded outside what
the policy allows its actor; ``imported``: how many facts one importer imported."""


@frozen
class QualityFlag:
    kind: FlagKind
    text: str
    version: int | None = None


@frozen
class Milestone:
    """A key moment of the incident for the chart: its name, effective time and label."""

    name: str
    at: datetime
    label: str
    cycle: int = 0
    """0: the first response; n: the nth reopening's cycle (``name`` is then one of the
    cycle's milestones: reopened, first_dispatched, first_on_scene, contained, resolved)."""


@frozen
class ResponderTrack:
    """One responder's dispatch -> en route -> on scene (any of them may be unknown)."""

    responder_id: str
    name: str
    dispatched_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    cycle: int = 0
    """0: the first response; n: after the nth reopening (a responder sent again has a
    track per cycle)."""


@frozen
class IncidentReview:
    """The review of one incident (or drill), as of the review's cut."""

    incident_id: str
    description: str
    community: str
    community_name: str
    grid: str | None
    incident_type: str
    severity: str
    drill: bool
    detected_at: datetime
    status: str
    commander: str | None
    summary: tuple[str, ...]
    """A few sentences: what happened, when it was contained, how it ended."""
    timeline: Timeline
    milestones: tuple[Milestone, ...]
    responders: tuple[ResponderTrack, ...]
    segments: tuple[SegmentResult, ...]
    objectives: tuple[ObjectiveResult, ...]
    strengths: tuple[Finding, ...]
    improvements: tuple[Finding, ...]
    """Areas for improvement."""
    quality: tuple[QualityFlag, ...]
    target_line: timedelta | None
    """Where the chart draws its target line (the containment objective's target)."""
    situation: IncidentSituation | None = None
    """The incident as it stood at the cut: consents awaited, closure, reopenings..."""
    people: Mapping[str, str] = Factory(dict)
    """Person id -> name, for display."""
    amendments: tuple[Amendment, ...] = ()
    """Facts recorded while the incident stood closed (corrections, late records), in
    recording order: who, when, what changed (``resilience.metrics.Amendment``)."""
    escalations: tuple[EscalationResult, ...] | None = None
    """Each deadline level of the escalation policy due by the cut, graded, in due order
    (None: reviewed without an escalation policy)."""
    recovery: Recovery | None = None
    """The recovery work linked to the incident at the cut, and when it was recovered
    (resilience.metrics.recovery; None: not read for this review)."""
    reference: str | None = None
    """Its human reference (``DH-2022-0001``); None if it was recorded before references."""
    hazards: PriorHazards | None = None
    """The hazards recorded at its location before its detection, and whether they were
    open then (resilience.review.hazards; None: not read for this review, or the
    incident names no grid nor building)."""


@frozen
class ObjectiveSummary:
    """One objective over every incident of the review: its grade and how many got each."""

    name: str
    title: str
    grade: Grade | None
    counts: Mapping[str, int]
    """"P", "S", "M", "U", "n/a" (did not apply) and "pending" (not graded yet) ->
    number of incidents."""
    complied: int = 0
    """Graded incidents that complied: for a ``within`` objective those that met the target
    itself (graded P), for the other rules those graded P or S."""
    graded: int = 0
    """Incidents graded P, S, M or U. For a ``within`` objective those graded U (the end
    milestone never reached) are graded and did not comply, where a compliance metric counts
    them missing (docs/review.md, "Grids, periods and drills")."""
    evidence: str = ""
    """The compliance figure in words, e.g. "8 of 10 within 15 min (80%; the 90% rule needs
    90%)"."""

    @property
    def compliance(self) -> float | None:
        """``complied / graded`` (None when nothing was graded)."""
        return self.complied / self.graded if self.graded else None


@frozen
class Verified:
    """What verifying the store's hash chain found when a review was made
    (``engine.review(..., verify=True)``; ``engine.verify()``)."""

    ok: bool
    statement: str
    """The finding in one sentence, as every output of the review states it."""
    events: int
    """How many stored events the chain was checked over."""
    position: int
    """The notification position the chain was checked up to."""
    checkpoint: int | None = None
    """The position of the latest checkpoint (None: none recorded yet)."""
    signed: bool | None = None
    """Whether that checkpoint is signed (None: no checkpoint)."""
    problem: str | None = None
    """The first problem found (None when ``ok``)."""


@frozen
class AfterActionReview:
    """An after-action review: of one incident, or of every incident of a grid or period."""

    key: str
    """Links the improvement plan to the review: ``incident/<id>`` or
    ``community/<id>[/grid/<grid>]/<period>``."""
    title: str
    scope: str
    community: str
    grid: str | None
    generated_at: datetime
    as_of: datetime | None
    """Only what had happened by then (None: everything)."""
    known_at: datetime | None
    """Only what had been recorded by then (None: everything recorded)."""
    incidents: tuple[IncidentReview, ...]
    objectives: tuple[ObjectiveSummary, ...]
    plan: tuple[PlanItem, ...]
    """Improvement items raised by this review."""
    still_open: tuple[PlanItem, ...]
    """Items of other reviews in the same community (and grid), planned before the
    reviewed incidents were detected, not finished at the cut."""
    objective_definitions: tuple[Mapping[str, Any], ...] = ()
    """The objectives graded, as data (``Objective.to_dict``), so a review can be redone."""
    segment_definitions: tuple[Mapping[str, Any], ...] = ()
    """The segment metrics measured, as data (``MetricDefinition.to_dict``)."""
    viewer: Actor | None = None
    """Whom the review was made for (None: the app itself, which sees everything): personal
    data the policy keeps from them reads "[hidden]" (resilience.review.sight)."""
    verified: Verified | None = None
    """What verifying the store found when the review was made (None: not asked)."""
    escalation_policy: Mapping[str, Any] | None = None
    """The escalation policy the incidents' deadlines were graded on, as data
    (``EscalationPolicy.to_dict``; None: none, so not graded)."""
    language: str = Factory(current_language)
    """The language the review is written in (resilience.i18n): the one current when it
    was made. Its sentences were worded then, so its Markdown and HTML are laid out in it
    too, whatever the language when they are asked for."""

    @property
    def drills(self) -> int:
        return sum(1 for incident in self.incidents if incident.drill)

    def to_dict(self) -> dict[str, Any]:
        """:func:`~resilience.review.data.review_to_dict` of this review."""
        return review_to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        """:func:`~resilience.review.data.review_to_json` of this review."""
        return review_to_json(self, indent)

    def to_markdown(self, detail: bool | None = None) -> str:
        """:func:`~resilience.review.markdown.review_to_markdown` of this review (``detail``:
        every incident's section, or an index of them; None: in full up to
        ``OVERVIEW_AFTER`` incidents)."""
        return review_to_markdown(self, detail)

    def to_html(self, detail: bool | None = None) -> str:
        """:func:`~resilience.review.html.review_to_html` of this review (``detail`` as for
        ``to_markdown``)."""
        return review_to_html(self, detail)
