"""The improvement-item aggregate: one action of an after-action review's improvement plan.

An after-action review (HSEEP style) ends with an improvement plan: actions,
each with an owner and a due date. Each item is tracked to done here:
planned -> (started) -> completed or cancelled, reopened if it was not
really done, with its owner reassigned and its due date rescheduled on the
way, and corrections like every other aggregate.

Rules:

- the due date (planned or rescheduled) is after the planning time;
- lifecycle facts (planned, started, completed, cancelled, reopened) are
  each dated no earlier than the one before, and so are the facts that set
  the due date (planned, rescheduled) and those that set the owner (planned,
  owner assigned): times can't go backwards, so the status, due date and
  owner as of any moment are those of the last such fact by then, and the
  last recorded is the one in force;
- a *finished* item (done or cancelled) accepts amendments, as a closed
  incident does: corrections, and late records of notes, reassignments and
  reschedulings dated at or before its completion or cancellation; anything
  dated after that (and a start, completion or cancellation) needs a reopen
  first, and a time correction may not move a fact from before the closure to
  after it;
- only a finished item can be reopened; reassigning to the current owner or
  rescheduling to the current due date is refused;
- a link to an incident's recovery (``LinkedToIncident``, resilience.domain.recovery)
  is in no chain and exempt from the closure: recorded, and moved, whether the item is
  finished or not.
"""

import itertools
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from resilience.domain.base import Context, FactAggregate, personal_data
from resilience.domain.hazard import FromHazardFact, check_from_hazard
from resilience.domain.recovery import IncidentLink, check_recovery_link
from resilience.domain.validation import check_moment, check_text, check_uuid, require_text
from resilience.errors import InvalidInputError, InvalidTransitionError
from resilience.i18n import N_, _


class ImprovementStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


FINISHED = frozenset({ImprovementStatus.DONE, ImprovementStatus.CANCELLED})
UNFINISHED = frozenset({ImprovementStatus.OPEN, ImprovementStatus.IN_PROGRESS})


_Chain = Callable[[Any], bool]
"""Whether a fact (its event class) belongs to one of an item's chains of facts."""


def _life(fact: Any) -> bool:
    """A step of the item's life: planned, started, completed, cancelled, reopened."""
    return fact.status_after is not None


def _due_dates(fact: Any) -> bool:
    return bool(fact.sets_due)


def _owners(fact: Any) -> bool:
    return bool(fact.sets_owner)


def _objective(objective: str | None) -> str | None:
    return None if objective is None else require_text(objective, "objective")


class ImprovementItem(FactAggregate):
    """One action of an improvement plan, with its owner and due date, tracked to done."""

    TOPIC = "resilience.improvement:ImprovementItem"
    kind = N_("improvement item")
    beginning = N_("the item was planned")

    community_id: UUID
    review: str
    incident_id: UUID | None
    grid: str | None
    objective: str | None
    action: str
    owner: str
    due: datetime
    status: ImprovementStatus
    dues: dict[int, datetime]
    """Every due date recorded (planned or rescheduled), by the version that set it."""
    completed: int | None
    """Version of the completion in force (None unless done)."""
    cancel_reason: str | None
    reopen_count: int
    recovery_of: UUID | None
    """The incident whose recovery the item serves (its LinkedToIncident), if any: apart
    from ``incident_id``, the incident whose review raised it."""
    hazard_id: UUID | None
    """The hazard the item was raised from (its FromHazard), if any."""

    class Event(FactAggregate.Event):
        """A fact of the item. It belongs to up to three chains, each of facts dated no
        earlier than the one before: its life (those with a ``status_after``), its due
        dates (``sets_due``) and its owners (``sets_owner``)."""

        TOPIC = "resilience.improvement:Event"
        aggregate_kind = "improvement"
        status_after: ClassVar[ImprovementStatus | None] = None
        """The status the item is in after the fact (None: no step of its life)."""
        sets_due: ClassVar[bool] = False
        """The fact sets the item's due date (its ``due``)."""
        sets_owner: ClassVar[bool] = False
        """The fact sets the item's owner (its ``owner``)."""


    class Planned(Event, FactAggregate.Created):
        TOPIC = "resilience.improvement:Planned"
        personal = personal_data({"action": "actor"})
        noun = N_("planning")
        status_after = ImprovementStatus.OPEN
        sets_due = True
        sets_owner = True
        community_id: UUID
        review: str
        incident_id: UUID | None
        grid: str | None
        objective: str | None
        action: str
        owner: str
        due: datetime

        def apply(self, aggregate: "ImprovementItem") -> None:
            aggregate.community_id = self.community_id
            aggregate.review = self.review
            aggregate.incident_id = self.incident_id
            aggregate.grid = self.grid
            aggregate.objective = self.objective
            aggregate.action = self.action
            aggregate.owner = self.owner
            aggregate.due = self.due
            aggregate.dues[self.originator_version] = self.due

        def describe(self) -> str:
            return (f"planned for review {self.review}: {self.action}; owner {self.owner}, "
                    f"due {self.due.isoformat()}" + (f", grid {self.grid}" if self.grid else "")
                    + (f", objective {self.objective}" if self.objective else ""))

    Created = Planned  # see Incident.Created

    class OwnerAssigned(Event):
        """The item was handed to another owner."""

        TOPIC = "resilience.improvement:OwnerAssigned"
        noun = N_("reassignment")
        sets_owner = True
        owner: str

        def apply(self, aggregate: "ImprovementItem") -> None:
            aggregate.owner = self.owner

        def describe(self) -> str:
            return f"{self.owner} now owns the item"

    class Rescheduled(Event):
        TOPIC = "resilience.improvement:Rescheduled"
        personal = personal_data({"reason": "actor"})
        noun = N_("rescheduling")
        sets_due = True
        due: datetime
        reason: str

        def apply(self, aggregate: "ImprovementItem") -> None:
            aggregate.due = self.due
            aggregate.dues[self.originator_version] = self.due

        def describe(self) -> str:
            return f"rescheduled to {self.due.isoformat()}: {self.reason}"

    class Started(Event):
        TOPIC = "resilience.improvement:Started"
        noun = N_("start")
        status_after = ImprovementStatus.IN_PROGRESS

        def describe(self) -> str:
            return "work on the item started"

    class Completed(Event):
        TOPIC = "resilience.improvement:Completed"
        personal = personal_data({"note": "actor"})
        noun = N_("completion")
        status_after = ImprovementStatus.DONE
        note: str

        def apply(self, aggregate: "ImprovementItem") -> None:
            aggregate.completed = self.originator_version

        def describe(self) -> str:
            return "completed" + (f": {self.note}" if self.note else "")

    class Cancelled(Event):
        TOPIC = "resilience.improvement:Cancelled"
        personal = personal_data({"reason": "actor"})
        noun = N_("cancellation")
        status_after = ImprovementStatus.CANCELLED
        reason: str

        def apply(self, aggregate: "ImprovementItem") -> None:
            aggregate.cancel_reason = self.reason

        def describe(self) -> str:
            return f"cancelled: {self.reason}"

    class Reopened(Event):
        TOPIC = "resilience.improvement:Reopened"
        personal = personal_data({"reason": "actor"})
        noun = N_("reopening")
        reopens = True
        status_after = ImprovementStatus.OPEN
        reason: str

        def apply(self, aggregate: "ImprovementItem") -> None:
            aggregate.completed = None
            aggregate.cancel_reason = None
            aggregate.reopen_count += 1

        def describe(self) -> str:
            return f"reopened: {self.reason}"

    class NoteAdded(Event):
        TOPIC = "resilience.improvement:NoteAdded"
        personal = personal_data({"text": "actor"})
        text: str

        def describe(self) -> str:
            return f"note: {self.text}"

    class LinkedToIncident(IncidentLink, Event):
        """The item serves the recovery of an incident (the other side of the incident's
        RecoveryLinked: resilience.domain.recovery). In no chain: recorded in any status,
        the item done or not."""

        TOPIC = "resilience.improvement:LinkedToIncident"
        incident_id: UUID
        purpose: str

    class FromHazard(FromHazardFact, Event):
        """The item was raised from a hazard (the other side of the hazard's
        LinkedToImprovement: resilience.domain.hazard). In no chain: recorded in any
        status, the item done or not."""

        TOPIC = "resilience.improvement:FromHazard"
        hazard_id: UUID

    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "resilience.improvement:TimeCorrected"

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "resilience.improvement:DetailsCorrected"

    def __init__(self) -> None:
        super().__init__()
        self.status = ImprovementStatus.OPEN
        self.dues = {}
        self.completed = None
        self.cancel_reason = None
        self.reopen_count = 0
        self.recovery_of = None
        self.hazard_id = None

    # Creation -----------------------------------------------------------------

    @classmethod
    def plan(
        cls, ctx: Context, *, item_id: UUID, community_id: UUID, review: str,
        incident_id: UUID | None, grid: str | None, objective: str | None, action: str,
        owner: str, due: datetime,
    ) -> "ImprovementItem":
        """A review plans an action, owned by ``owner``, due at ``due`` (after now)."""
        check_moment(due, "due")
        if due <= ctx.occurred_at:
            raise InvalidInputError(
                _("due ({due}) must be after the item is planned ({planned})").format(
                    due=due.isoformat(), planned=ctx.occurred_at.isoformat()))
        if incident_id is not None:
            check_uuid(incident_id, "incident_id")
        check_uuid(community_id, "community_id")
        return cls._create(
            cls.Planned,
            id=item_id,
            timestamp=ctx.recorded_at,
            occurred_at=ctx.occurred_at,
            actor=ctx.actor,
            command_id=ctx.command_id,
            community_id=community_id,
            review=require_text(review, "review"),
            incident_id=incident_id,
            grid=None if grid is None else require_text(grid, "grid"),
            objective=_objective(objective),
            action=require_text(action, "action"),
            owner=require_text(owner, "owner"),
            due=due,
        )

    # Queries ------------------------------------------------------------------

    @property
    def planned_at(self) -> datetime:
        return self.occurred[1]

    @property
    def completed_at(self) -> datetime | None:
        """Effective time of the completion in force, or None if the item is not done."""
        return self.occurred[self.completed] if self.completed is not None else None

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def is_overdue(self, at: datetime) -> bool:
        """Is the item, as it stands now, unfinished with its due date before ``at``?"""
        check_moment(at, "at", query=True)
        return self.status in UNFINISHED and at > self.due

    # Commands -----------------------------------------------------------------

    def assign(self, ctx: Context, owner: str) -> None:
        """Hand the item to another owner (a person id)."""
        owner = require_text(owner, "owner")
        if owner == self.owner:
            raise InvalidTransitionError(_("{owner} already owns this item").format(owner=owner))
        self._after_beginning(ctx)
        self._after_last(ctx, _owners)
        self._trigger(self.OwnerAssigned, ctx, owner=owner)

    def reschedule(self, ctx: Context, due: datetime, reason: str) -> None:
        """Move the due date (still after the planning time), saying why."""
        check_moment(due, "due")
        reason = require_text(reason, "reason")
        if due <= self.planned_at:
            raise InvalidInputError(
                _("due ({due}) must be after the item was planned ({planned})").format(
                    due=due.isoformat(), planned=self.planned_at.isoformat()))
        if due == self.due:
            raise InvalidTransitionError(_("the item is already due at {due}").format(
                due=self.due.isoformat()))
        self._after_beginning(ctx)
        self._after_last(ctx, _due_dates)
        self._trigger(self.Rescheduled, ctx, due=due, reason=reason)

    def start(self, ctx: Context) -> None:
        self._require_status(ctx, frozenset({ImprovementStatus.OPEN}),
                             N_("an item that is {status} cannot be started"))
        self._trigger(self.Started, ctx)

    def complete(self, ctx: Context, note: str = "") -> None:
        check_text(note, "note")
        self._require_status(ctx, UNFINISHED, N_("an item that is {status} cannot be completed"))
        self._trigger(self.Completed, ctx, note=note)

    def cancel(self, ctx: Context, reason: str) -> None:
        reason = require_text(reason, "reason")
        self._require_status(ctx, UNFINISHED, N_("an item that is {status} cannot be cancelled"))
        self._trigger(self.Cancelled, ctx, reason=reason)

    def reopen(self, ctx: Context, reason: str) -> None:
        """Reopen a done or cancelled item (it was not really done, or is needed after all)."""
        reason = require_text(reason, "reason")
        self._require_status(ctx, FINISHED, N_("an item that is {status} cannot be reopened"))
        self._trigger(self.Reopened, ctx, reason=reason)

    def add_note(self, ctx: Context, text: str) -> None:
        text = require_text(text, "text")
        self._after_beginning(ctx)
        self._trigger(self.NoteAdded, ctx, text=text)

    def link_to_incident(self, ctx: Context, incident_id: UUID, purpose: str) -> None:
        """Record that the item serves the recovery of ``incident_id`` (one incident, once;
        in any status, dated no earlier than the planning)."""
        self.check_link(ctx, incident_id)
        self._trigger(self.LinkedToIncident, ctx, incident_id=incident_id,
                      purpose=require_text(purpose, "purpose"))

    def check_link(self, ctx: Context, incident_id: UUID) -> None:
        """Refuse to link the item to ``incident_id``'s recovery, if it can't be: it
        serves one incident's, and an item raised by another incident's review serves
        that one's."""
        check_recovery_link(self, incident_id, "item")
        if self.incident_id is not None and self.incident_id != incident_id:
            raise InvalidTransitionError(_(
                "the item was raised by the review of incident {incident}: it can serve only "
                "that incident's recovery").format(incident=self.incident_id))
        self._after_beginning(ctx)

    def from_hazard(self, ctx: Context, hazard_id: UUID) -> None:
        """Record that the item was raised from the hazard ``hazard_id`` (one hazard, once;
        in any status, dated no earlier than the planning)."""
        self.check_hazard_link(ctx, hazard_id)
        self._trigger(self.FromHazard, ctx, hazard_id=hazard_id)

    def check_hazard_link(self, ctx: Context, hazard_id: UUID) -> None:
        """Refuse to record that the item came from ``hazard_id``, if it can't be."""
        check_from_hazard(self, hazard_id, "item")
        self._after_beginning(ctx)

    # Invariants ---------------------------------------------------------------

    def _closure(self) -> int | None:
        return self._chain(_life)[-1] if self.status in FINISHED else None

    def _is_step(self, event_class: type[Any]) -> bool:
        return _life(event_class)

    def _closed_as(self) -> str:
        return self.status.value.replace("_", " ")

    def _require_status(self, ctx: Context, allowed: frozenset[ImprovementStatus],
                        refused: str) -> None:
        """Refuse the command unless the item is in an ``allowed`` status (``refused``: the
        refusal, marked with ``N_``, its ``{status}`` the item's), or if it is dated before
        the item's last step."""
        if self.status not in allowed:
            raise InvalidTransitionError(_(refused).format(
                status=_(self.status.value.replace("_", " "))))
        self._after_last(ctx, _life)

    def _after_last(self, ctx: Context, in_chain: _Chain) -> None:
        """Refuse a fact dated before the latest fact of one chain."""
        last = self._chain(in_chain)[-1]
        self._not_before(ctx, last, N_("the item's {noun}"))

    def _chain(self, in_chain: _Chain) -> list[int]:
        """Versions of the facts of one chain, in recording order."""
        return [v for v, fact in self.fact_types.items() if in_chain(fact)]

    def _check_times(self, times: dict[int, datetime]) -> None:
        self._check_beginning(times)
        planned = times[1]
        if any(due <= planned for due in self.dues.values()):
            raise InvalidTransitionError(
                _("a due date recorded for the item would not be after its planning "
                  "({planned})").format(planned=planned.isoformat()))
        chains = (self._chain(_life), self._chain(_due_dates), self._chain(_owners))
        for earlier, later in itertools.chain.from_iterable(map(itertools.pairwise, chains)):
            if times[later] < times[earlier]:
                raise InvalidTransitionError(_(
                    "the {fact} fact would precede the {earlier} fact: times can't go "
                    "backwards").format(fact=self._name_of(later),
                                        earlier=self._name_of(earlier)))


STATUS_AFTER = ImprovementItem.declared(lambda fact: fact.status_after)
"""Fact name -> the status an item is in after that fact, for readers of the ``plans``
view (which names facts): read off the classes' ``status_after``."""
