"""resilience: every action of a community's incident response and resident services as an event.

Open one ``Engine`` and do everything through it:

    from resilience import Engine

    with Engine("sqlite:///resilience.db") as engine:  # or "memory:", "postgresql://..."
        engine.communities.register(...)  # a command: checked, recorded, a Receipt back
        engine.metrics("detection_to_contained")  # a query: the recorded facts read back

Commands go through ``engine.communities``, ``incidents``, ``orders``, ``improvements``,
``emergencies``, ``patrols`` and ``hazards``; each is checked against the policy
(``DEFAULT_POLICY`` unless the engine is given another) before anything is recorded, and
returns a ``Receipt``.
Queries (``engine.metrics``, ``scorecard``, ``league_table``, ``review``, ``timeline``,
``replay``...) read the recorded facts back, as of any moment: ``help(Engine)`` lists
them all.

Everything an importing app needs is importable from here: the engine; its clocks
(``ManualClock`` for tests and imported history); the values commands take (``Actor``,
``Location``, ``Role``...); the built-in definitions (``BUILT_IN`` metrics,
``DEFAULT_OBJECTIVES``, ``DEFAULT_CATALOGUE``, ``DEFAULT_POLICY``); and the errors, each
a ``ResilienceError``. The guides are in docs/ (start at docs/index.md); the API
reference is built from these docstrings (``make docs``).
"""

__version__ = "0.1.0"

from resilience.adapters.chain import Checkpoint, Verification
from resilience.adapters.subscriptions import Undeliverable
from resilience.adapters.webhooks import Webhook
from resilience.clock import Clock, ManualClock, system_clock
from resilience.domain.catalogue import DEFAULT_CATALOGUE, CatalogueItem, ServiceCatalogue
from resilience.domain.deadline_state import DeadlineState, case_deadlines, deadline_states
from resilience.domain.emergency import Emergency, EmergencyKind
from resilience.domain.escalated import Notified
from resilience.domain.escalation import Deadline, EscalationPolicy, Level, Recipient
from resilience.domain.hazard import (
    AssigneeKind,
    Hazard,
    HazardCategory,
    HazardStatus,
    hazard_id_for,
)
from resilience.domain.improvement import ImprovementItem, ImprovementStatus
from resilience.domain.incident import Incident, IncidentStatus
from resilience.domain.organisation import Community, Holding, community_id
from resilience.domain.patrol import (
    Frequency,
    Patrol,
    PatrolPlan,
    PatrolRule,
    PatrolVisit,
    patrol_plan_id,
)
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
from resilience.services.patrols import patrol_id_for
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
    "AssigneeKind",
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
    "Frequency",
    "Grade",
    "Hazard",
    "HazardCategory",
    "HazardStatus",
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
    "Patrol",
    "PatrolPlan",
    "PatrolRule",
    "PatrolVisit",
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
    "hazard_id_for",
    "improvement_id_for",
    "incident_id_for",
    "order_id_for",
    "patrol_id_for",
    "patrol_plan_id",
    "system_clock",
]
