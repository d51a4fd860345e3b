"""After-action reviews: replay at any cut, objectives graded P/S/M/U, findings, outputs."""

from resilience.review.build import DEFAULT_GAP_AFTER
from resilience.review.model import (
    GRADE_MEANINGS,
    AfterActionReview,
    Finding,
    Grade,
    IncidentReview,
    Milestone,
    ObjectiveResult,
    ObjectiveSummary,
    QualityFlag,
    ResponderTrack,
    SegmentResult,
)
from resilience.review.objectives import DEFAULT_OBJECTIVES, KEY_MILESTONES, Objective
from resilience.review.replay import (
    CommunitySituation,
    IncidentSituation,
    OrderSituation,
    Responder,
)

__all__ = [
    "DEFAULT_GAP_AFTER", "DEFAULT_OBJECTIVES", "GRADE_MEANINGS", "KEY_MILESTONES",
    "AfterActionReview", "CommunitySituation", "Finding", "Grade", "IncidentReview",
    "IncidentSituation", "Milestone", "Objective", "ObjectiveResult", "ObjectiveSummary",
    "OrderSituation", "QualityFlag", "Responder", "ResponderTrack", "SegmentResult",
]
