"""Metrics as data, and the reports computed from the views (KPIs, scorecards, quality)."""

from resilience.metrics.cases import Amendment, Case, Correction, Fact, case_at, case_from_doc
from resilience.metrics.definitions import (
    BUILT_IN,
    BUILT_IN_BY_NAME,
    CaseFilter,
    MetricDefinition,
    builtin,
)
from resilience.metrics.milestones import (
    CYCLE_MILESTONES,
    DIMENSIONS,
    INCIDENT_MILESTONES,
    ORDER_MILESTONES,
)
from resilience.metrics.period import ALL_TIME, TIME_BUCKETS, Period
from resilience.metrics.quality import (
    DEFAULT_LATE_AFTER,
    INTERESTS,
    AmendmentMade,
    CorrectionMade,
    DataQualityReport,
    ImportedFacts,
    InterestedCorrection,
    LateRecord,
    MissingMilestone,
    OutOfOrder,
    OverrideUsed,
)
from resilience.metrics.rates import (
    RATES,
    RATES_BY_NAME,
    RateDefinition,
    RateRow,
    RateSummary,
    builtin_rate,
)
from resilience.metrics.reports import Comparison, MetricReport, MetricSummary
from resilience.metrics.standings import LeagueRow, LeagueTable, Scorecard
from resilience.metrics.stats import median, percentile
from resilience.metrics.tallies import Activity, Counts, RateReport, ServiceSummary

__all__ = [
    "ALL_TIME",
    "BUILT_IN",
    "BUILT_IN_BY_NAME",
    "CYCLE_MILESTONES",
    "DEFAULT_LATE_AFTER",
    "DIMENSIONS",
    "INCIDENT_MILESTONES",
    "INTERESTS",
    "ORDER_MILESTONES",
    "RATES",
    "RATES_BY_NAME",
    "TIME_BUCKETS",
    "Activity",
    "Amendment",
    "AmendmentMade",
    "Case",
    "CaseFilter",
    "Comparison",
    "Correction",
    "CorrectionMade",
    "Counts",
    "DataQualityReport",
    "Fact",
    "ImportedFacts",
    "InterestedCorrection",
    "LateRecord",
    "LeagueRow",
    "LeagueTable",
    "MetricDefinition",
    "MetricReport",
    "MetricSummary",
    "MissingMilestone",
    "OutOfOrder",
    "OverrideUsed",
    "Period",
    "RateDefinition",
    "RateReport",
    "RateRow",
    "RateSummary",
    "Scorecard",
    "ServiceSummary",
    "builtin",
    "builtin_rate",
    "case_at",
    "case_from_doc",
    "median",
    "percentile",
]
