"""Metrics as data, and the reports computed from the views (KPIs, scorecards, quality)."""

from resilience.metrics.cases import (
    CYCLE_MILESTONES,
    DIMENSIONS,
    INCIDENT_MILESTONES,
    ORDER_MILESTONES,
    Amendment,
    Case,
    Correction,
    Fact,
    case_at,
    case_from_doc,
)
from resilience.metrics.definitions import (
    BUILT_IN,
    BUILT_IN_BY_NAME,
    CaseFilter,
    MetricDefinition,
    builtin,
)
from resilience.metrics.period import ALL_TIME, TIME_BUCKETS, Period
from resilience.metrics.quality import (
    DEFAULT_LATE_AFTER,
    AmendmentMade,
    CorrectionMade,
    DataQualityReport,
    LateRecord,
    MissingMilestone,
    OutOfOrder,
)
from resilience.metrics.reports import (
    Activity,
    Comparison,
    Counts,
    LeagueRow,
    LeagueTable,
    MetricReport,
    MetricSummary,
    Scorecard,
    ServiceSummary,
)
from resilience.metrics.stats import median, percentile

__all__ = [
    "ALL_TIME", "BUILT_IN", "BUILT_IN_BY_NAME", "CYCLE_MILESTONES", "DEFAULT_LATE_AFTER",
    "DIMENSIONS", "INCIDENT_MILESTONES", "ORDER_MILESTONES", "TIME_BUCKETS", "Activity",
    "Amendment", "AmendmentMade", "Case", "CaseFilter",
    "Comparison", "Correction", "CorrectionMade", "Counts", "DataQualityReport", "Fact",
    "LateRecord", "LeagueRow", "LeagueTable", "MetricDefinition", "MetricReport",
    "MetricSummary", "MissingMilestone", "OutOfOrder", "Period", "Scorecard", "ServiceSummary",
    "builtin", "case_at", "case_from_doc", "median", "percentile",
]
