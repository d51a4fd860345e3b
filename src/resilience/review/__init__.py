"""After-action reviews: replay at any cut, objectives graded P/S/M/U, findings, the
hazards recorded where an incident happened before it did, outputs; read as a person
(resilience.review.sight) and verified against the store, if asked."""

from resilience.review.build import DEFAULT_GAP_AFTER
from resilience.review.chromium import find_chromium, screenshot
from resilience.review.data import review_to_dict, review_to_json
from resilience.review.escalations import EscalationResult, EscalationVerdict
from resilience.review.hazards import PriorHazard, PriorHazards
from resilience.review.html import review_to_html
from resilience.review.markdown import review_to_markdown
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
    Verified,
)
from resilience.review.objectives import DEFAULT_OBJECTIVES, KEY_MILESTONES, Objective
from resilience.review.sight import HIDDEN
from resilience.review.situations import (
    CommunitySituation,
    Cycle,
    IncidentSituation,
    OrderSituation,
    Responder,
)

__all__ = [
    "DEFAULT_GAP_AFTER", "DEFAULT_OBJECTIVES", "GRADE_MEANINGS", "HIDDEN", "KEY_MILESTONES",
    "AfterActionReview", "CommunitySituation", "Cycle", "EscalationResult", "EscalationVerdict",
    "Finding", "Grade", "IncidentReview",
    "IncidentSituation", "Milestone", "Objective", "ObjectiveResult", "ObjectiveSummary",
    "OrderSituation", "PriorHazard", "PriorHazards", "QualityFlag", "Responder",
    "ResponderTrack", "SegmentResult", "Verified",
    "find_chromium", "review_to_dict", "review_to_html", "review_to_json",
    "review_to_markdown", "screenshot",
]
