"""The hazard aggregate: a finding of a patrol or an inspection, tracked until it is fixed.

A grid worker on patrol finds a blocked fire exit, clutter in a storage room, an electric
bike charging indoors: a hazard, with its category, location (its grid at least),
severity and a description or a photo reference. It is then assigned (to a household,
the property company, a provider, the community), rectified, and verified by someone
other than the person who rectified it; or closed without verification (the data-quality
report flags those). A rectified or finished hazard can be reopened.

Rules:

- its life (found, assigned, rectified, verified, closed, reopened: the facts with a
  ``status_after``) is dated in order: each step no earlier than the one before, so the
  status as of any moment is that of the last step by then;
- a due date is after the hazard was found (its time corrected or not);
- only the person who did not rectify it may verify it;
- a *finished* hazard (verified or closed) accepts amendments, as a closed incident does:
  corrections, and late notes dated at or before its verification or closure; anything
  dated after that, and any step, needs a reopen first;
- its links to a service order, an improvement item or an incident (each id once, each
  the other side's ``FromHazard``) follow the closure: recorded, and moved, whether the
  hazard is finished or not (``follows_closure``), as recovery links are
  (resilience.domain.recovery).
"""

import itertools
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol
from uuid import UUID, uuid5

from resilience.domain.base import CaseMilestone, Context, FactAggregate, personal_data
from resilience.domain.organisation import NAMESPACE
from resilience.domain.references import GivesReference, check_reference, not_yet_referenced
from resilience.domain.validation import (
    check_instance,
    check_moment,
    check_text,
    check_uuid,
    require_text,
)
from resilience.domain.values import Location, Severity, parse_enum
from resilience.errors import InvalidInputError, InvalidTransitionError
from resilience.i18n import N_, _


class HazardCategory(StrEnum):
    BLOCKED_EXIT = "blocked_exit"
    CLUTTER = "clutter"
    EBIKE_CHARGING = "ebike_charging"
    EXTINGUISHER = "extinguisher"
    GAS = "gas"
    ELECTRICAL = "electrical"
    OTHER = "other"


class AssigneeKind(StrEnum):
    """Who is to fix a hazard: a household, the property company, a provider, the community."""

    HOUSEHOLD = "household"
    PROPERTY_COMPANY = "property_company"
    PROVIDER = "provider"
    COMMUNITY = "community"


class HazardStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    RECTIFIED = "rectified"
    VERIFIED = "verified"
    CLOSED = "closed"
    """Closed *without* verification (the data-quality report flags it)."""


FINISHED = frozenset({HazardStatus.VERIFIED, HazardStatus.CLOSED})
UNFINISHED = frozenset({HazardStatus.OPEN, HazardStatus.ASSIGNED, HazardStatus.RECTIFIED})
AWAITING_FIX = frozenset({HazardStatus.OPEN, HazardStatus.ASSIGNED})
"""The statuses a hazard is in while nobody has rectified it: where it can be overdue."""

_STATUS_WORDS = {
    HazardStatus.OPEN: N_("open"),
    HazardStatus.ASSIGNED: N_("assigned"),
    HazardStatus.RECTIFIED: N_("rectified"),
    HazardStatus.VERIFIED: N_("verified"),
    HazardStatus.CLOSED: N_("closed"),
}
"""A hazard's status as messages say it (marked for the catalog)."""


class LinkKind(StrEnum):
    """What a hazard is linked to (named as the views name those aggregates)."""

    ORDER = "order"
    IMPROVEMENT = "improvement"
    INCIDENT = "incident"


LINK_FIELDS = {LinkKind.ORDER: "order_id", LinkKind.IMPROVEMENT: "item_id",
               LinkKind.INCIDENT: "incident_id"}
"""The field naming the other side in a hazard's link of each kind."""


class HazardLink:
    """What a hazard's ``LinkedToOrder``, ``LinkedToImprovement`` and ``LinkedToIncident``
    facts share beside their field (each class declares its own, ``LINK_FIELDS``): they
    follow the closure (recorded, and moved, whether the hazard is finished or not, as
    recovery links are), the id the hazard keeps, the wording, and the detail the cases
    view keeps (the other side's id). A plain mix-in placed before the aggregate's
    ``Event``, as ``IncidentLink`` is."""

    follows_closure: ClassVar[bool] = True
    link_kind: ClassVar[LinkKind]
    said: ClassVar[str]
    """The fact in a timeline, its ``{id}`` the other side's."""

    @property
    def other_id(self) -> UUID:
        """The id of the order, item or incident linked."""
        found: UUID = getattr(self, LINK_FIELDS[self.link_kind])
        return found

    def apply(self, aggregate: "Hazard") -> None:
        aggregate.linked(self.link_kind).add(self.other_id)

    def describe(self) -> str:
        return self.said.format(id=self.other_id)

    def detail(self) -> dict[str, str]:
        return {"id": str(self.other_id)}


def hazard_id_for(community: UUID, key: str) -> UUID:
    """A stable hazard id from a caller's key (a scenario key, a command id)."""
    return uuid5(NAMESPACE, f"hazard/{community}/{key}")


def _life(fact: Any) -> bool:
    """A step of the hazard's life: found, assigned, rectified, verified, closed, reopened."""
    return fact.status_after is not None


class Hazard(FactAggregate):
    """One hazard found in a community, from its finding to its verified rectification."""

    TOPIC = "resilience.hazard:Hazard"
    kind = N_("hazard")
    beginning = N_("the hazard was found")

    community_id: UUID
    location: Location
    category: HazardCategory
    severity: Severity
    description: str
    photo: str | None
    patrol_id: UUID | None
    """The patrol it was found on (None: an inspection, a report)."""
    reference: str | None
    """Its human reference (``DH-2022-H0001``: resilience.domain.references)."""
    status: HazardStatus
    assignee_kind: AssigneeKind | None
    assignee: str | None
    due: datetime | None
    """The due date of the standing assignment (kept through a reopening)."""
    dues: dict[int, datetime]
    """Every due date recorded, by the version of the assignment that set it."""
    rectified_by: str | None
    """The person id of whoever recorded the standing rectification (None: not rectified,
    or reopened since)."""
    orders: set[UUID]
    items: set[UUID]
    incidents: set[UUID]
    reopen_count: int

    class Event(FactAggregate.Event):
        """A fact of the hazard. Those with a ``status_after`` are its life, each dated no
        earlier than the one before."""

        TOPIC = "resilience.hazard:Event"
        aggregate_kind = "hazard"
        status_after: ClassVar[HazardStatus | None] = None

    class Found(Event, FactAggregate.Created):
        TOPIC = "resilience.hazard:Found"
        personal = personal_data({"description": "actor", "photo": "actor",
                                  "location.description": "actor"})
        noun = N_("finding")
        step = True
        milestone = CaseMilestone("found", "the hazard was found (its first fact)")
        status_after = HazardStatus.OPEN
        community_id: UUID
        location: Location
        category: HazardCategory
        severity: Severity
        description: str
        photo: str | None
        patrol_id: UUID | None
        reference: str | None = None
        """Its human reference (``DH-2022-H0001``); None for one recorded without."""

        def apply(self, aggregate: "Hazard") -> None:
            aggregate.community_id = self.community_id
            aggregate.location = self.location
            aggregate.category = self.category
            aggregate.severity = self.severity
            aggregate.description = self.description
            aggregate.photo = self.photo
            aggregate.patrol_id = self.patrol_id
            aggregate.reference = self.reference

        def describe(self) -> str:
            said = f": {self.description}" if self.description else ""
            photo = f" (photo {self.photo})" if self.photo else ""
            return (f"{self.category.value.replace('_', ' ')} hazard ({self.severity.value}) "
                    f"found at {self.location}{said}{photo}")

    Created = Found  # see Incident.Created

    class Referenced(GivesReference, Event):
        """The hazard was given its reference after it was recorded."""

        TOPIC = "resilience.hazard:Referenced"
        reference: str

    class Assigned(Event):
        """The hazard was given to someone to fix, by a due date (or handed to another)."""

        TOPIC = "resilience.hazard:Assigned"
        personal = personal_data({"assignee": "actor"})
        noun = N_("assignment")
        step = True
        milestone = CaseMilestone("assigned", "the earliest assignment of the hazard")
        status_after = HazardStatus.ASSIGNED
        assignee_kind: AssigneeKind
        assignee: str
        due: datetime

        def apply(self, aggregate: "Hazard") -> None:
            aggregate.assignee_kind = self.assignee_kind
            aggregate.assignee = self.assignee
            aggregate.due = self.due
            aggregate.dues[self.originator_version] = self.due

        def describe(self) -> str:
            return (f"assigned to {self.assignee} ({self.assignee_kind.value.replace('_', ' ')})"
                    f", due {self.due.isoformat()}")

        def detail(self) -> dict[str, str]:
            return {"assignee_kind": self.assignee_kind.value, "due": self.due.isoformat()}

    class Rectified(Event):
        TOPIC = "resilience.hazard:Rectified"
        personal = personal_data({"note": "actor"})
        noun = N_("rectification")
        step = True
        last_milestone = CaseMilestone(
            "rectified", "the latest rectification since the last reopening")
        status_after = HazardStatus.RECTIFIED
        note: str

        def apply(self, aggregate: "Hazard") -> None:
            aggregate.rectified_by = self.actor.person_id

        def describe(self) -> str:
            return "rectified" + (f": {self.note}" if self.note else "")

    class Verified(Event):
        TOPIC = "resilience.hazard:Verified"
        personal = personal_data({"note": "actor"})
        noun = N_("verification")
        step = True
        ends = True
        last_milestone = CaseMilestone(
            "verified", "the latest verification of the rectification since the last "
            "reopening")
        status_after = HazardStatus.VERIFIED
        note: str

        def describe(self) -> str:
            return "rectification verified" + (f": {self.note}" if self.note else "")

    class Closed(Event):
        """The hazard was closed without a verified rectification (gone, a duplicate...)."""

        TOPIC = "resilience.hazard:Closed"
        personal = personal_data({"reason": "actor"})
        noun = N_("closure")
        step = True
        ends = True
        last_milestone = CaseMilestone(
            "closed", "the latest closure without verification since the last reopening")
        status_after = HazardStatus.CLOSED
        reason: str

        def describe(self) -> str:
            return f"closed without verification: {self.reason}"

    class Reopened(Event):
        TOPIC = "resilience.hazard:Reopened"
        personal = personal_data({"reason": "actor"})
        noun = N_("reopening")
        step = True
        reopens = True
        status_after = HazardStatus.OPEN
        reason: str

        def apply(self, aggregate: "Hazard") -> None:
            aggregate.rectified_by = None
            aggregate.due = None  # a due date is its cycle's: reassign to set a new one
            aggregate.reopen_count += 1

        def describe(self) -> str:
            return f"reopened: {self.reason}"

    class NoteAdded(Event):
        TOPIC = "resilience.hazard:NoteAdded"
        personal = personal_data({"text": "actor"})
        text: str

        def describe(self) -> str:
            return f"note: {self.text}"

    class LinkedToOrder(HazardLink, Event):
        """A service order was raised to fix the hazard (the order's ``FromHazard``)."""

        TOPIC = "resilience.hazard:LinkedToOrder"
        link_kind = LinkKind.ORDER
        said = "service order {id} raised for it"
        order_id: UUID

    class LinkedToImprovement(HazardLink, Event):
        """An improvement item was raised from the hazard (the item's ``FromHazard``)."""

        TOPIC = "resilience.hazard:LinkedToImprovement"
        link_kind = LinkKind.IMPROVEMENT
        said = "improvement item {id} raised from it"
        item_id: UUID

    class LinkedToIncident(HazardLink, Event):
        """An incident came from the hazard (the incident's ``FromHazard``)."""

        TOPIC = "resilience.hazard:LinkedToIncident"
        link_kind = LinkKind.INCIDENT
        said = "incident {id} came from it"
        incident_id: UUID

    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "resilience.hazard:TimeCorrected"

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "resilience.hazard:DetailsCorrected"

    def __init__(self) -> None:
        super().__init__()
        self.status = HazardStatus.OPEN
        self.assignee_kind = None
        self.assignee = None
        self.due = None
        self.dues = {}
        self.rectified_by = None
        self.orders = set()
        self.items = set()
        self.incidents = set()
        self.reopen_count = 0

    # Creation -----------------------------------------------------------------

    @classmethod
    def find(
        cls, ctx: Context, *, hazard_id: UUID, community_id: UUID, location: Location,
        category: HazardCategory | str, severity: Severity | str, description: str,
        photo: str | None = None, patrol_id: UUID | None = None, reference: str | None = None,
    ) -> "Hazard":
        """A hazard is found at ``location`` (its grid named at least), described, or
        photographed (``photo``: a reference to the picture), or both."""
        check_uuid(community_id, "community_id")
        check_instance(location, "location", Location)
        if location.grid is None:
            raise InvalidInputError(_("a hazard's location names its grid at least"))
        kind = parse_enum(HazardCategory, category, "category")
        level = parse_enum(Severity, severity, "severity")
        said = check_text(description, "description").strip()
        picture = None if photo is None else require_text(photo, "photo")
        if not said and picture is None:
            raise InvalidInputError(_("a hazard needs a description or a photo"))
        if patrol_id is not None:
            check_uuid(patrol_id, "patrol_id")
        return cls._create(
            cls.Found,
            id=hazard_id,
            timestamp=ctx.recorded_at,
            occurred_at=ctx.occurred_at,
            actor=ctx.actor,
            command_id=ctx.command_id,
            community_id=community_id,
            location=location,
            category=kind,
            severity=level,
            description=said,
            photo=picture,
            patrol_id=patrol_id,
            reference=check_reference(reference),
        )

    # Queries ------------------------------------------------------------------

    @property
    def found_at(self) -> datetime:
        return self.occurred[1]

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def is_overdue(self, at: datetime) -> bool:
        """Is the hazard, as it stands now, unfinished and not rectified, with its standing
        due date before ``at``?"""
        check_moment(at, "at", query=True)
        return self.status in AWAITING_FIX and self.due is not None and self.due < at

    # Commands -----------------------------------------------------------------

    def give_reference(self, ctx: Context, reference: str) -> None:
        """Record the reference of a hazard recorded without one (``Referenced``)."""
        self._trigger(self.Referenced, ctx, reference=not_yet_referenced(self, reference))

    def assign(self, ctx: Context, assignee_kind: AssigneeKind | str, assignee: str,
               due: datetime) -> None:
        """Give the hazard to ``assignee`` (a household, company or provider id, or a
        person id) to fix by ``due`` (after it was found), or hand it to another."""
        kind = parse_enum(AssigneeKind, assignee_kind, "assignee_kind")
        who = require_text(assignee, "assignee")
        check_moment(due, "due")
        if due <= self.found_at:
            raise InvalidInputError(
                _("due ({due}) must be after the hazard was found ({found})").format(
                    due=due.isoformat(), found=self.found_at.isoformat()))
        self._require_status(ctx, AWAITING_FIX,
                             N_("a hazard that is {status} cannot be assigned"))
        if self.status is HazardStatus.ASSIGNED and (kind, who, due) == (
                self.assignee_kind, self.assignee, self.due):
            raise InvalidTransitionError(
                _("the hazard is assigned to {assignee} by {due} already").format(
                    assignee=who, due=due.isoformat()))
        self._trigger(self.Assigned, ctx, assignee_kind=kind, assignee=who, due=due)

    def rectify(self, ctx: Context, note: str = "") -> None:
        """Record that the hazard was fixed (by the actor: someone else verifies it)."""
        note = check_text(note, "note").strip()
        self._require_status(ctx, AWAITING_FIX,
                             N_("a hazard that is {status} cannot be rectified"))
        self._trigger(self.Rectified, ctx, note=note)

    def verify(self, ctx: Context, note: str = "") -> None:
        """Record that the rectification was checked and holds: by someone other than the
        person who rectified the hazard."""
        note = check_text(note, "note").strip()
        self._require_status(ctx, frozenset({HazardStatus.RECTIFIED}),
                             N_("a hazard that is {status} cannot be verified"))
        if ctx.actor.person_id == self.rectified_by:
            raise InvalidTransitionError(
                _("a hazard is verified by someone other than the person who rectified it "
                  "({person})").format(person=self.rectified_by))
        self._trigger(self.Verified, ctx, note=note)

    def close(self, ctx: Context, reason: str) -> None:
        """Close the hazard without a verified rectification, saying why."""
        reason = require_text(reason, "reason")
        self._require_status(ctx, UNFINISHED, N_("a hazard that is {status} cannot be closed"))
        self._trigger(self.Closed, ctx, reason=reason)

    def reopen(self, ctx: Context, reason: str) -> None:
        """Reopen a rectified, verified or closed hazard (it is back); its assignee stays."""
        reason = require_text(reason, "reason")
        self._require_status(ctx, FINISHED | {HazardStatus.RECTIFIED},
                             N_("a hazard that is {status} cannot be reopened"))
        self._trigger(self.Reopened, ctx, reason=reason)

    def add_note(self, ctx: Context, text: str) -> None:
        text = require_text(text, "text")
        self._after_beginning(ctx)
        self._trigger(self.NoteAdded, ctx, text=text)

    def link_order(self, ctx: Context, order_id: UUID) -> None:
        """Record that the service order ``order_id`` was raised to fix the hazard."""
        self.check_link(ctx, LinkKind.ORDER, order_id)
        self._trigger(self.LinkedToOrder, ctx, order_id=order_id)

    def link_improvement(self, ctx: Context, item_id: UUID) -> None:
        """Record that the improvement item ``item_id`` was raised from the hazard."""
        self.check_link(ctx, LinkKind.IMPROVEMENT, item_id)
        self._trigger(self.LinkedToImprovement, ctx, item_id=item_id)

    def link_incident(self, ctx: Context, incident_id: UUID) -> None:
        """Record that the incident ``incident_id`` came from the hazard."""
        self.check_link(ctx, LinkKind.INCIDENT, incident_id)
        self._trigger(self.LinkedToIncident, ctx, incident_id=incident_id)

    def check_link(self, ctx: Context, kind: LinkKind | str, other_id: UUID) -> LinkKind:
        """Refuse to link the hazard to ``other_id`` (an order, an item or an incident, as
        ``kind`` says) if it can't be: linked already, or dated before the hazard was
        found. A link is recorded in any status (``follows_closure``). The kind, checked."""
        link = parse_enum(LinkKind, kind, "kind")
        check_uuid(other_id, LINK_FIELDS[link])
        if other_id in self.linked(link):
            raise InvalidTransitionError(_("{id} is already linked to this hazard").format(
                id=other_id))
        self._after_beginning(ctx)
        return link

    def linked(self, kind: LinkKind) -> set[UUID]:
        """The ids of the hazard's links of ``kind``."""
        return {LinkKind.ORDER: self.orders, LinkKind.IMPROVEMENT: self.items,
                LinkKind.INCIDENT: self.incidents}[kind]

    # Invariants ---------------------------------------------------------------

    def _closure(self) -> int | None:
        return self._life()[-1] if self.status in FINISHED else None

    def _is_step(self, event_class: type[Any]) -> bool:
        return _life(event_class)

    def _closed_as(self) -> str:
        return _STATUS_WORDS[self.status]

    def _life(self) -> list[int]:
        """Versions of the hazard's life facts, in recording order (its time order)."""
        return [v for v, fact in self.fact_types.items() if _life(fact)]

    def _require_status(self, ctx: Context, allowed: frozenset[HazardStatus],
                        refused: str) -> None:
        """Refuse the command unless the hazard is in an ``allowed`` status (``refused``:
        the refusal, marked with ``N_``, its ``{status}`` the hazard's), or if it is dated
        before the hazard's last step."""
        if self.status not in allowed:
            raise InvalidTransitionError(_(refused).format(
                status=_(_STATUS_WORDS[self.status])))
        self._not_before(ctx, self._life()[-1], N_("the hazard's {noun}"))

    def _check_times(self, times: dict[int, datetime]) -> None:
        self._check_beginning(times)
        found = times[1]
        if any(due <= found for due in self.dues.values()):
            raise InvalidTransitionError(
                _("a due date recorded for the hazard would not be after it was found "
                  "({found})").format(found=found.isoformat()))
        for earlier, later in itertools.pairwise(self._life()):
            if times[later] < times[earlier]:
                raise InvalidTransitionError(_(
                    "the {fact} fact would precede the {earlier} fact: times can't go "
                    "backwards").format(fact=self._name_of(later),
                                        earlier=self._name_of(earlier)))


STATUS_AFTER = Hazard.declared(lambda fact: fact.status_after)
"""Fact name -> the status a hazard is in after that fact (read off ``status_after``)."""


# The other side of a link: an incident, order or item that came from a hazard ----------


class FromHazardFact:
    """What the ``FromHazard`` facts of an incident, an order and an improvement item are
    beside their field (each class declares ``hazard_id``): the other side of the hazard's
    ``LinkedTo...`` fact, recorded in any status (``follows_closure``, as recovery links
    are), the hazard their aggregate keeps (``hazard_id``) and the wording. A plain mix-in
    placed before the aggregate's ``Event``, as ``IncidentLink`` is."""

    follows_closure: ClassVar[bool] = True
    hazard_id: UUID

    def apply(self, aggregate: Any) -> None:
        aggregate.hazard_id = self.hazard_id

    def describe(self) -> str:
        return f"came from hazard {self.hazard_id}"

    def detail(self) -> dict[str, str]:
        return {"id": str(self.hazard_id)}


class _FromHazard(Protocol):
    hazard_id: UUID | None


def check_from_hazard(work: _FromHazard, hazard_id: UUID, noun: str) -> None:
    """Refuse to record that ``work`` (an incident, an order or an item, called ``noun``)
    came from ``hazard_id`` if it came from a hazard already (this one or another)."""
    check_uuid(hazard_id, "hazard_id")
    if work.hazard_id is not None:
        another, this = _ALREADY_FROM[noun]
        raise InvalidTransitionError(
            _(another).format(hazard=work.hazard_id) if work.hazard_id != hazard_id
            else _(this))


_ALREADY_FROM = {
    "incident": (N_("the incident came from hazard {hazard} already"),
                 N_("the incident is linked to this hazard already")),
    "order": (N_("the order came from hazard {hazard} already"),
              N_("the order is linked to this hazard already")),
    "item": (N_("the item came from hazard {hazard} already"),
             N_("the item is linked to this hazard already")),
}
"""``check_from_hazard``'s refusals, by what is linked: from another hazard, this one."""
