"""The service-order aggregate: resident orders, community dispatches, resident rates."""

import itertools
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from resilience.domain.base import CaseMilestone, Context, FactAggregate, personal_data
from resilience.domain.catalogue import CatalogueItem
from resilience.domain.escalated import Escalation, Notified, check_escalation
from resilience.domain.hazard import FromHazardFact, check_from_hazard
from resilience.domain.recovery import IncidentLink, check_recovery_link
from resilience.domain.references import GivesReference, check_reference, not_yet_referenced
from resilience.domain.validation import (
    check_bool,
    check_instance,
    check_moment,
    check_text,
    check_uuid,
    check_whole,
    require_text,
)
from resilience.domain.values import (
    Provider,
    Role,
    ServiceOutcome,
    ZoneType,
    parse_enum,
)
from resilience.errors import InvalidInputError, InvalidTransitionError
from resilience.i18n import N_, _


class OrderStatus(StrEnum):
    PLACED = "placed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"


_CANCELLABLE = frozenset({OrderStatus.PLACED, OrderStatus.ACCEPTED, OrderStatus.DISPATCHED,
                          OrderStatus.IN_PROGRESS, OrderStatus.REOPENED})
_DISPATCHABLE = frozenset({OrderStatus.ACCEPTED, OrderStatus.DISPATCHED, OrderStatus.REOPENED})


class ServiceOrder(FactAggregate):
    """One resident's order for one catalogued service (訂單)."""

    TOPIC = "resilience.service:ServiceOrder"
    kind = N_("service order")
    beginning = N_("the order was placed")

    community_id: UUID
    placer_id: str
    placer_role: Role
    """The role the order was placed in: a resident's own order, or one placed for a
    household by someone else (the desk, on the phone)."""
    household_id: str
    area_id: str
    grid_id: str | None
    zone_type: ZoneType | None
    category: str
    item: str
    details: str
    reference: str | None
    """Its human reference (resilience.domain.references); None: recorded before them."""
    expected_by: datetime
    status: OrderStatus
    provider: Provider | None
    outcome: ServiceOutcome | None
    rating: int | None
    """The rating of the standing completion (None: not rated yet, or reopened)."""
    resolved_by_resident: bool | None
    """What the resident said with that rating: resolved or not (None: not said, or not
    rated)."""
    ratings: list[int]
    reopen_count: int
    escalations: dict[tuple[str, int, int], tuple[int, datetime]]
    """(deadline, cycle, level) of each Escalated fact -> its version and recorded time."""
    recovery_of: UUID | None
    """The incident whose recovery the order serves (its LinkedToIncident), if any."""
    hazard_id: UUID | None
    """The hazard the order was raised to fix (its FromHazard), if any."""

    class Event(FactAggregate.Event):
        """A fact of the order. Those that are a ``step`` move the order along its loop:
        each is dated no earlier than the one before."""

        TOPIC = "resilience.service:Event"
        aggregate_kind = "order"
        status_after: ClassVar[OrderStatus | None] = None

    class Placed(Event, FactAggregate.Created):
        TOPIC = "resilience.service:Placed"
        notice = "order.new"
        # The household and what it asked for belong to whoever placed the order: the
        # resident, or the desk for a household (then the desk's, erased with the desk's:
        # docs/security.md, what is not protected).
        personal = personal_data({"household_id": "actor", "details": "actor"})
        noun = N_("placement")
        step = True
        milestone = CaseMilestone("placed", "the resident placed the order (its first fact)")
        status_after = OrderStatus.PLACED
        community_id: UUID
        household_id: str
        area_id: str
        grid_id: str | None
        zone_type: ZoneType | None
        category: str
        item: str
        details: str
        expected_by: datetime
        reference: str | None = None
        """Its human reference (``DH-2022-S0001``: resilience.domain.references); None for
        one placed before references."""

        def apply(self, aggregate: "ServiceOrder") -> None:
            aggregate.community_id = self.community_id
            aggregate.placer_id = self.actor.person_id
            aggregate.placer_role = self.actor.role
            aggregate.household_id = self.household_id
            aggregate.area_id = self.area_id
            aggregate.grid_id = self.grid_id
            aggregate.zone_type = self.zone_type
            aggregate.category = self.category
            aggregate.item = self.item
            aggregate.reference = self.reference
            aggregate.details = self.details
            aggregate.expected_by = self.expected_by

        def describe(self) -> str:
            return (f"ordered {self.category}/{self.item} for household {self.household_id}, "
                    f"expected by {self.expected_by.isoformat()}"
                    + (f": {self.details}" if self.details else ""))

    Created = Placed  # see Incident.Created

    class Referenced(GivesReference, Event):
        """The order was given its reference after it was recorded
        (``engine.orders.assign_reference``: resilience.domain.references)."""

        TOPIC = "resilience.service:Referenced"
        reference: str

    class Accepted(Event):
        TOPIC = "resilience.service:Accepted"
        noun = N_("acceptance")
        step = True
        milestone = CaseMilestone("accepted", "the community accepted it")
        status_after = OrderStatus.ACCEPTED

        def describe(self) -> str:
            return "accepted by the community"

    class Rejected(Event):
        TOPIC = "resilience.service:Rejected"
        ends = True
        personal = personal_data({"reason": "actor"})
        noun = N_("rejection")
        step = True
        milestone = CaseMilestone("rejected", "the community rejected it")
        status_after = OrderStatus.REJECTED
        reason: str

        def describe(self) -> str:
            return f"rejected: {self.reason}"

    class Dispatched(Event):
        TOPIC = "resilience.service:Dispatched"
        # A provider may be a person (a grid worker): their name is theirs.
        personal = personal_data({"provider.name": "provider.provider_id"})
        noun = N_("dispatch")
        step = True
        milestone = CaseMilestone("first_dispatched", "the earliest dispatch to a provider")
        last_milestone = CaseMilestone(
            "dispatched", "the latest dispatch (to the provider who fulfilled it)")
        status_after = OrderStatus.DISPATCHED
        provider: Provider

        def apply(self, aggregate: "ServiceOrder") -> None:
            aggregate.provider = self.provider

        def describe(self) -> str:
            return (f"dispatched to {self.provider.name or self.provider.provider_id} "
                    f"({self.provider.kind.value})")

        def detail(self) -> list[str]:
            return [self.provider.provider_id, self.provider.kind.value]

    class Started(Event):
        TOPIC = "resilience.service:Started"
        noun = N_("start")
        step = True
        milestone = CaseMilestone("started", "the earliest start of work")
        status_after = OrderStatus.IN_PROGRESS

        def describe(self) -> str:
            return "work started"

    class Completed(Event):
        TOPIC = "resilience.service:Completed"
        ends = True
        personal = personal_data({"note": "actor"})
        noun = N_("completion")
        step = True
        milestone = CaseMilestone("first_completed", "the earliest completion")
        last_milestone = CaseMilestone(
            "completed",
            "the latest completion since the last "
            "reopening (in the order they happened)")
        status_after = OrderStatus.COMPLETED
        outcome: ServiceOutcome
        note: str

        def apply(self, aggregate: "ServiceOrder") -> None:
            aggregate.outcome = self.outcome
            aggregate.rating = None
            aggregate.resolved_by_resident = None

        def describe(self) -> str:
            return (f"completed, {self.outcome.value.replace('_', ' ')}"
                    + (f": {self.note}" if self.note else ""))

        def detail(self) -> str:
            return self.outcome.value

    class Rated(Event):
        """The resident rated the completion, 1 to 5, and may have said whether it resolved
        their request (``resolved``: None when they did not say). The provider's outcome
        (fixed or not) stays a fact of its own: this is the resident's judgement."""

        TOPIC = "resilience.service:Rated"
        personal = personal_data({"comment": "actor"})
        noun = N_("rating")
        step = True
        last_milestone = CaseMilestone(
            "rated", "the latest rating of the standing completion (a reopening clears it)")
        class_version = 2
        score: int
        comment: str
        resolved: bool | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Ratings stored before ``resolved`` existed: the resident did not say."""
            state["resolved"] = None

        def apply(self, aggregate: "ServiceOrder") -> None:
            aggregate.rating = self.score
            aggregate.ratings.append(self.score)
            aggregate.resolved_by_resident = self.resolved

        def describe(self) -> str:
            said = {True: ", resolved", False: ", not resolved", None: ""}[self.resolved]
            return f"rated {self.score}/5{said}" + (f": {self.comment}" if self.comment else "")

        def detail(self) -> list[int | bool | None]:
            return [self.score, self.resolved]

    class Reopened(Event):
        TOPIC = "resilience.service:Reopened"
        personal = personal_data({"reason": "actor"})
        noun = N_("reopening")
        reopens = True
        step = True
        status_after = OrderStatus.REOPENED
        reason: str

        def apply(self, aggregate: "ServiceOrder") -> None:
            aggregate.reopen_count += 1
            aggregate.outcome = None
            aggregate.rating = None
            aggregate.resolved_by_resident = None

        def describe(self) -> str:
            return f"reopened: {self.reason}"

        def detail(self) -> str:
            return self.reason

    class Cancelled(Event):
        TOPIC = "resilience.service:Cancelled"
        ends = True
        personal = personal_data({"reason": "actor"})
        noun = N_("cancellation")
        step = True
        milestone = CaseMilestone("cancelled", "the order was cancelled")
        status_after = OrderStatus.CANCELLED
        reason: str

        def describe(self) -> str:
            return f"cancelled: {self.reason}"

    class NoteAdded(Event):
        TOPIC = "resilience.service:NoteAdded"
        personal = personal_data({"text": "actor"})
        text: str

        def describe(self) -> str:
            return f"note: {self.text}"

    class Escalated(Escalation, Event):
        """A deadline of the escalation policy passed unmet (resilience.domain.escalation):
        recorded by the watch, dated when it was due, naming whom it told."""

        TOPIC = "resilience.service:Escalated"
        notice = "order.overdue"
        deadline: str
        level: int
        cycle: int
        due_at: datetime
        notified: tuple[Notified, ...]

    class LinkedToIncident(IncidentLink, Event):
        """The order serves the recovery of an incident (the other side of the incident's
        RecoveryLinked: resilience.domain.recovery). No step: recorded in any status."""

        TOPIC = "resilience.service:LinkedToIncident"
        incident_id: UUID
        purpose: str

        def detail(self) -> str:
            return str(self.incident_id)

    class FromHazard(FromHazardFact, Event):
        """The order was raised to fix a hazard (the other side of the hazard's
        LinkedToOrder: resilience.domain.hazard). No step: recorded in any status."""

        TOPIC = "resilience.service:FromHazard"
        hazard_id: UUID

    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "resilience.service:TimeCorrected"

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "resilience.service:DetailsCorrected"

    def __init__(self) -> None:
        super().__init__()
        self.status = OrderStatus.PLACED
        self.provider = None
        self.outcome = None
        self.rating = None
        self.resolved_by_resident = None
        self.ratings = []
        self.reopen_count = 0
        self.escalations = {}
        self.recovery_of = None
        self.hazard_id = None

    @classmethod
    def place(
        cls, ctx: Context, *, order_id: UUID, community_id: UUID, household_id: str,
        area_id: str, grid_id: str | None, zone_type: ZoneType | None,
        service: CatalogueItem, details: str = "", expected_by: datetime | None = None,
        reference: str | None = None,
    ) -> "ServiceOrder":
        """The resident places an order (居民訂單); ``expected_by`` defaults from the catalogue."""
        check_uuid(community_id, "community_id")
        check_text(details, "details")
        if expected_by is not None:
            due = check_moment(expected_by, "expected_by")
        else:
            due = check_moment(ctx.occurred_at + service.expected, "expected_by (by default)")
        if due <= ctx.occurred_at:
            raise InvalidInputError(_("expected_by must be after the order is placed"))
        return cls._create(
            cls.Placed,
            id=order_id,
            timestamp=ctx.recorded_at,
            occurred_at=ctx.occurred_at,
            actor=ctx.actor,
            command_id=ctx.command_id,
            community_id=community_id,
            household_id=require_text(household_id, "household_id"),
            area_id=require_text(area_id, "area_id"),
            grid_id=grid_id,
            zone_type=zone_type,
            category=service.category,
            item=service.item,
            details=details,
            expected_by=due,
            reference=check_reference(reference),
        )

    @property
    def placed_at(self) -> datetime:
        return self.occurred[1]

    # Commands -----------------------------------------------------------------

    def give_reference(self, ctx: Context, reference: str) -> None:
        """Record the reference of an order placed before references (``Referenced``)."""
        self._trigger(self.Referenced, ctx, reference=not_yet_referenced(self, reference))

    def accept(self, ctx: Context) -> None:
        self._require_status(ctx, {OrderStatus.PLACED}, N_("a {status} order cannot be accepted"))
        self._trigger(self.Accepted, ctx)

    def reject(self, ctx: Context, reason: str) -> None:
        self._require_status(ctx, {OrderStatus.PLACED}, N_("a {status} order cannot be rejected"))
        self._trigger(self.Rejected, ctx, reason=require_text(reason, "reason"))

    def dispatch(self, ctx: Context, provider: Provider) -> None:
        """The community dispatches the order (社區派單) to a provider, or reassigns it."""
        check_instance(provider, "provider", Provider)
        self._require_status(ctx, _DISPATCHABLE, N_("a {status} order cannot be dispatched"))
        if self.status is OrderStatus.DISPATCHED and provider == self.provider:
            raise InvalidTransitionError(_("the order is already dispatched to {provider}")
                                         .format(provider=provider.name or provider.provider_id))
        self._trigger(self.Dispatched, ctx, provider=provider)

    def start(self, ctx: Context) -> None:
        self._require_status(ctx, {OrderStatus.DISPATCHED},
                             N_("a {status} order cannot be started"))
        self._trigger(self.Started, ctx)

    def complete(self, ctx: Context, outcome: ServiceOutcome | str, note: str = "") -> None:
        """The provider fulfils the order: fixed, or closed without being fixed (with a reason)."""
        result = parse_enum(ServiceOutcome, outcome, "outcome")
        check_text(note, "note")
        if result is ServiceOutcome.NOT_FIXED and not note.strip():
            raise InvalidInputError(_("an order closed as not fixed needs a reason in note"))
        self._require_status(ctx, {OrderStatus.DISPATCHED, OrderStatus.IN_PROGRESS},
                             N_("a {status} order cannot be completed"))
        self._trigger(self.Completed, ctx, outcome=result, note=note)

    def rate(self, ctx: Context, score: int, comment: str = "", *,
             resolved: bool | None = None) -> None:
        """The resident rates the fulfilled order (居民評單), 1 to 5, and may say whether it
        resolved their request (``resolved``: True, False, or None for not said)."""
        check_whole(score, "a rating", 1, 5)
        check_text(comment, "comment")
        if resolved is not None:
            check_bool(resolved, "resolved")
        self._require_status(ctx, {OrderStatus.COMPLETED}, N_("a {status} order cannot be rated"))
        if self.rating is not None:
            raise InvalidTransitionError(_("this completion was already rated"))
        if ctx.actor.person_id != self.placer_id:
            raise InvalidTransitionError(
                _("only the resident who placed the order ({person}) can rate it").format(
                    person=self.placer_id))
        self._trigger(self.Rated, ctx, score=score, comment=comment, resolved=resolved)

    def reopen(self, ctx: Context, reason: str) -> None:
        self._require_status(ctx, {OrderStatus.COMPLETED},
                             N_("a {status} order cannot be reopened"))
        self._trigger(self.Reopened, ctx, reason=require_text(reason, "reason"))

    def cancel(self, ctx: Context, reason: str) -> None:
        self._require_status(ctx, _CANCELLABLE, N_("a {status} order cannot be cancelled"))
        self._trigger(self.Cancelled, ctx, reason=require_text(reason, "reason"))

    def add_note(self, ctx: Context, text: str) -> None:
        # Worded as the order's other time rules are, not as _after_beginning words it:
        # the message is a contract the scenario and command tests pin.
        self._not_before(ctx, 1, N_("the order's {noun}"))
        self._trigger(self.NoteAdded, ctx, text=require_text(text, "text"))

    def escalate(self, ctx: Context, deadline: str, level: int, cycle: int, due_at: datetime,
                 notified: Sequence[Notified]) -> None:
        """Record that ``deadline`` passed unmet in ``cycle`` and its ``level`` told
        ``notified`` (the engine's watch: resilience.services.deadlines): once per
        (deadline, cycle, level), never on an ended order."""
        name, level, cycle, due_at, told = check_escalation(
            deadline, level, cycle, due_at, notified, ctx.occurred_at,
            cycles=self.reopen_count, escalated=self.escalations)
        if self.status in ENDED_STATUSES:
            raise InvalidTransitionError(_("a {status} order is not escalated").format(
                status=_status_word(self.status)))
        self._not_before(ctx, 1, N_("the order's {noun}"))
        self._trigger(self.Escalated, ctx, deadline=name, level=level, cycle=cycle,
                      due_at=due_at, notified=told)

    def link_to_incident(self, ctx: Context, incident_id: UUID, purpose: str) -> None:
        """Record that the order serves the recovery of ``incident_id`` (one incident, once;
        in any status, dated no earlier than the placement)."""
        self.check_link(ctx, incident_id)
        self._trigger(self.LinkedToIncident, ctx, incident_id=incident_id,
                      purpose=require_text(purpose, "purpose"))

    def check_link(self, ctx: Context, incident_id: UUID) -> None:
        """Refuse to link the order to ``incident_id``'s recovery, if it can't be."""
        check_recovery_link(self, incident_id, "order")
        self._not_before(ctx, 1, N_("the order's {noun}"))

    def from_hazard(self, ctx: Context, hazard_id: UUID) -> None:
        """Record that the order was raised to fix the hazard ``hazard_id`` (one hazard,
        once; in any status, dated no earlier than the placement)."""
        self.check_hazard_link(ctx, hazard_id)
        self._trigger(self.FromHazard, ctx, hazard_id=hazard_id)

    def check_hazard_link(self, ctx: Context, hazard_id: UUID) -> None:
        """Refuse to record that the order came from ``hazard_id``, if it can't be."""
        check_from_hazard(self, hazard_id, "order")
        self._not_before(ctx, 1, N_("the order's {noun}"))

    # Invariants ---------------------------------------------------------------

    def _require_status(self, ctx: Context, allowed: set[OrderStatus] | frozenset[OrderStatus],
                        refused: str) -> None:
        """Refuse the command unless the order is in an ``allowed`` status (``refused``:
        the refusal, marked with ``N_``, its ``{status}`` the order's), or if it is dated
        before the order's last step."""
        if self.status not in allowed:
            raise InvalidTransitionError(_(refused).format(status=_status_word(self.status)))
        last = self._steps()[-1]
        self._not_before(ctx, last, N_("the order's {noun}"))

    def _check_times(self, times: dict[int, datetime]) -> None:
        self._check_beginning(times)
        for earlier, later in itertools.pairwise(self._steps()):
            if times[later] < times[earlier]:
                raise InvalidTransitionError(
                    _("the {fact} fact would precede the {earlier} fact").format(
                        fact=self._name_of(later), earlier=self._name_of(earlier)))


def _status_word(status: OrderStatus) -> str:
    """An order's status in a message: in the current language when the catalog has its
    words ("in progress"), else as recorded ("in_progress")."""
    words = status.value.replace("_", " ")
    said = _(words)
    return status.value if said == words else said


ENDED_STATUSES = frozenset(event.status_after for event in ServiceOrder.event_classes()
                           if event.ends)
"""The statuses of an order nobody need act on (until a reopening, for a completed one):
those its facts that ``end`` it leave it in (completed, cancelled, rejected)."""
