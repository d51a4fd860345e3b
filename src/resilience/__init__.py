"""resilience: every action of a community's incident response and resident services as an event."""

from resilience.adapters.chain import Checkpoint, Verification
from resilience.adapters.subscriptions import Undeliverable
from resilience.adapters.webhooks import Webhook
from resilience.clock import Clock, ManualClock, system_clock
from resilience.domain.catalogue import DEFAULT_CATALOGUE, CatalogueItem, ServiceCatalogue
from resilience.domain.deadline_state import DeadlineState, case_deadlines, deadline_states
from resilience.domain.emergency import Emergency, EmergencyKind
from resilience.domain.escalated import Notified
from resilience.domain.escalation import Deadline, EscalationPolicy, Level, Recipient
from resilience.domain.improvement import ImprovementItem, ImprovementStatus
from resilience.domain.incident import Incident, IncidentStatus
from resilience.domain.organisation import Community, Holding, community_id
from resilience.domain.policy import DEFAULT_POLICY, Policy, Rule, Scope
from resilience.domain.recovery import RecoveryKind
from resilience.domain.service import OrderStatus, ServiceOrder
from resilience.domain.values import (
    ActionKind,
    Actor,
    AreaKind,
    CareCard,
    ClosureReason,
    Contact,
    Employment,
    IncidentType,
    Location,
    Provider,
    ProviderKind,
    Role,
    ServiceOutcome,
    Severity,
    UnitSpec,
    ZoneType,
)
from resilience.engine import Engine
from resilience.errors import (
    AlreadyExistsError,
    ConfigurationError,
    ConflictError,
    ErasedPersonError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    NotInReportError,
    PermissionDeniedError,
    ProtectedStoreError,
    ReadOnlyStoreError,
    ResilienceError,
    ScenarioError,
    StoreUnavailableError,
    TamperedStoreError,
    UnreadableEventError,
)
from resilience.metrics import BUILT_IN, CaseFilter, MetricDefinition, Period
from resilience.metrics.rates import RATES, RateDefinition
from resilience.metrics.recovery import Recovery, RecoveryLink
from resilience.projections.plan_items import PlanItem
from resilience.review import DEFAULT_OBJECTIVES, AfterActionReview, Grade, Objective
from resilience.services.core import Receipt
from resilience.services.deadlines import DEFAULT_ESCALATION, OverdueOrder, Tick
from resilience.services.emergencies import emergency_id_for
from resilience.services.improvements import improvement_id_for
from resilience.services.incidents import incident_id_for
from resilience.services.notices import DeadLetter, Notice
from resilience.services.notifications import Subscription
from resilience.services.orders import order_id_for
from resilience.services.what_if import EscalationWhatIf, TargetWhatIf
from resilience.timeline import Timeline, TimelineEntry

__all__ = [
    "BUILT_IN",
    "DEFAULT_CATALOGUE",
    "DEFAULT_ESCALATION",
    "DEFAULT_OBJECTIVES",
    "DEFAULT_POLICY",
    "RATES",
    "ActionKind",
    "Actor",
    "AfterActionReview",
    "AlreadyExistsError",
    "AreaKind",
    "CareCard",
    "CaseFilter",
    "CatalogueItem",
    "Checkpoint",
    "Clock",
    "ClosureReason",
    "Community",
    "ConfigurationError",
    "ConflictError",
    "Contact",
    "DeadLetter",
    "Deadline",
    "DeadlineState",
    "Emergency",
    "EmergencyKind",
    "Employment",
    "Engine",
    "ErasedPersonError",
    "EscalationPolicy",
    "EscalationWhatIf",
    "Grade",
    "Holding",
    "ImprovementItem",
    "ImprovementStatus",
    "Incident",
    "IncidentStatus",
    "IncidentType",
    "InvalidInputError",
    "InvalidTransitionError",
    "Level",
    "Location",
    "ManualClock",
    "MetricDefinition",
    "NotFoundError",
    "NotInReportError",
    "Notice",
    "Notified",
    "Objective",
    "OrderStatus",
    "OverdueOrder",
    "Period",
    "PermissionDeniedError",
    "PlanItem",
    "Policy",
    "ProtectedStoreError",
    "Provider",
    "ProviderKind",
    "RateDefinition",
    "ReadOnlyStoreError",
    "Receipt",
    "Recipient",
    "Recovery",
    "RecoveryKind",
    "RecoveryLink",
    "ResilienceError",
    "Role",
    "Rule",
    "ScenarioError",
    "Scope",
    "ServiceCatalogue",
    "ServiceOrder",
    "ServiceOutcome",
    "Severity",
    "StoreUnavailableError",
    "Subscription",
    "TamperedStoreError",
    "TargetWhatIf",
    "Tick",
    "Timeline",
    "TimelineEntry",
    "Undeliverable",
    "UnitSpec",
    "UnreadableEventError",
    "Verification",
    "Webhook",
    "ZoneType",
    "case_deadlines",
    "community_id",
    "deadline_states",
    "emergency_id_for",
    "improvement_id_for",
    "incident_id_for",
    "order_id_for",
    "system_clock",
]
