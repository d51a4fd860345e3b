"""The incident aggregate.

report -> dispatch -> on scene -> consent -> contain -> resolve -> close, with corrections,
and reopen cycles: a resolved (or closed) incident can be reopened, and the response
starts again.

Cycles. A fact's *cycle* is the number of reopenings that happened before it, in
happening order (``happening_order``: effective time, then version). Cycle 0 is the first
response; cycle n follows the nth reopening, which is the first fact of cycle n. Within
one cycle there is at most one containment, one resolution and one closure, and per
responder at most one dispatch, one en route and one on scene, dated dispatched <= en
route <= on scene: the rule is about effective times, not about the order facts were
recorded in, so a late record may land between two facts already recorded. Time
corrections are checked against the same rules over the corrected times (a correction
that would move a containment into a cycle that has one, or put an arrival before its
dispatch, is refused).

Amendments. A closed incident accepts corrections (time and details) and late records
of facts that are no step (anything but resolve, close, reopen) dated at or before its
closure; a fact dated after the closure needs a reopen first, and a time correction may
not move a fact from before the closure to after it. A recovery link
(``RecoveryLinked``, resilience.domain.recovery) is exempt: recovery follows the
response, so it is recorded, and moved, whether the incident is closed or not.
"""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from attrs import define

from resilience.domain.base import (
    CaseMilestone,
    Context,
    FactAggregate,
    FactTime,
    happening_order,
    in_cycles,
    personal_data,
)
from resilience.domain.escalated import Escalation, Notified, check_escalation
from resilience.domain.hazard import FromHazardFact, check_from_hazard
from resilience.domain.organisation import location_area
from resilience.domain.recovery import RecoveryFact, RecoveryKind
from resilience.domain.references import GivesReference, check_reference, not_yet_referenced
from resilience.domain.validation import (
    check_bool,
    check_instance,
    check_items,
    check_text,
    check_uuid,
    require_text,
)
from resilience.domain.values import (
    ActionKind,
    ClosureReason,
    IncidentType,
    Location,
    Severity,
    parse_enum,
)
from resilience.errors import InvalidInputError, InvalidTransitionError
from resilience.i18n import N_, _


class IncidentStatus(StrEnum):
    DETECTED = "detected"
    REPORTED = "reported"
    ACKNOWLEDGED = "acknowledged"
    REOPENED = "reopened"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CONTAINED = "contained"
    RESOLVED = "resolved"
    CLOSED = "closed"


def incident_status(*, closed: bool, resolved: bool, contained: bool, on_scene: bool,
                    dispatched: bool, acknowledged: bool, reported: bool,
                    reopened: bool = False) -> IncidentStatus:
    """The status of an incident that has reached the steps given as True: the furthest
    step up the ladder (closed, resolved, contained, a responder on scene, one dispatched,
    reopened, acknowledged, reported), else detected.

    ``closed``, ``resolved``, ``contained``, ``on_scene`` and ``dispatched`` are about the
    current cycle (the facts since the last reopening, in happening order); ``reopened``
    says there was a reopening, ``acknowledged`` and ``reported`` are about the whole
    incident. So a reopened incident reads "reopened" until its new cycle gets further."""
    ladder = ((closed, IncidentStatus.CLOSED), (resolved, IncidentStatus.RESOLVED),
              (contained, IncidentStatus.CONTAINED), (on_scene, IncidentStatus.ON_SCENE),
              (dispatched, IncidentStatus.DISPATCHED), (reopened, IncidentStatus.REOPENED),
              (acknowledged, IncidentStatus.ACKNOWLEDGED), (reported, IncidentStatus.REPORTED))
    return next((status for reached, status in ladder if reached), IncidentStatus.DETECTED)


_Fact = tuple[type[FactAggregate.Event], str | None]
"""A fact the per-cycle rules count: its class, and the responder it is about (None: the
incident's own containment)."""


def _chain_step(fact: type[FactAggregate.Event]) -> int | None:
    """The fact's place in a responder's chain (its ``chain_step``), None if it has none."""
    return fact.chain_step if issubclass(fact, Incident.Event) else None


@define
class ResponderChain:
    """Versions of one responder's dispatch, en-route and on-scene facts in one cycle, and
    the team and task of that dispatch."""

    team: str | None = None
    task: str = ""
    dispatched: int | None = None
    en_route: int | None = None
    on_scene: int | None = None


class Incident(FactAggregate):
    """One incident in one community, from detection to closure."""

    TOPIC = "resilience.incident:Incident"
    kind = N_("incident")
    beginning = N_("detection")

    community_id: UUID
    classifications: dict[int, tuple[IncidentType, Severity]]
    """Version of the detection and of each reclassification -> the type and severity it set."""
    location: Location
    description: str
    drill: bool
    reference: str | None
    """Its human reference (resilience.domain.references); None: recorded before them."""
    commanders: dict[int, str]
    """Version of each commander assignment -> the person assigned."""
    reported: int | None
    acknowledged: int | None
    chain_facts: dict[int, str]
    """Version of each dispatch, en route and on scene fact -> the responder it is about."""
    dispatches: dict[int, tuple[str | None, str]]
    """Version of each dispatch -> the team and task it gave."""
    consent_requests: dict[str, list[int]]
    """Resident -> versions of the consent requests made to them, in recording order."""
    consent_answers: dict[str, list[tuple[int, bool]]]
    answered_requests: dict[int, int]
    """Version of each consent answer -> version of the request it answered."""
    exigent_entry: int | None
    forced_entries: list[int]
    source_found: int | None
    containments: list[int]
    """Versions of the Contained facts, in recording order (one per cycle)."""
    resolved: int | None
    """Version of the current cycle's resolution (a step: recorded in time order)."""
    closed: int | None
    """Version of the current cycle's closure: the incident stands closed."""
    closure_reason: ClosureReason | None
    reopenings: list[int]
    """Versions of the Reopened facts: steps, so recording order is happening order."""
    escalations: dict[tuple[str, int, int], tuple[int, datetime]]
    """(deadline, cycle, level) of each Escalated fact -> its version and recorded time."""
    recovery_links: dict[UUID, int]
    """Each order or improvement item linked to the incident's recovery -> the version of
    its RecoveryLinked fact."""
    hazard_id: UUID | None
    """The hazard the incident came from (its FromHazard), if any."""

    class Event(FactAggregate.Event):
        TOPIC = "resilience.incident:Event"
        aggregate_kind = "incident"
        chain_step: ClassVar[int | None] = None
        """A responder's fact: its place in the dispatched -> en route -> on scene chain."""

    class Detected(Event, FactAggregate.Created):
        TOPIC = "resilience.incident:Detected"
        notice = "incident.new"
        personal = personal_data({"location.description": "actor", "description": "actor"})
        milestone = CaseMilestone("detected", "the incident was noticed (its first fact)")
        community_id: UUID
        incident_type: IncidentType
        severity: Severity
        location: Location
        description: str
        drill: bool
        reference: str | None = None
        """Its human reference (``DH-2022-0001``: resilience.domain.references); None for
        one recorded before references."""

        def describe(self) -> str:
            return (f"{self.incident_type.value} ({self.severity.value}) at {self.location}: "
                    f"{self.description}" + (" [drill]" if self.drill else ""))

        def apply(self, aggregate: "Incident") -> None:
            aggregate.community_id = self.community_id
            aggregate.classifications[self.originator_version] = (
                self.incident_type, self.severity)
            aggregate.location = self.location
            aggregate.description = self.description
            aggregate.drill = self.drill
            aggregate.reference = self.reference

    # The creation event under the name eventsourcing looks for, so the metaclass
    # doesn't derive a Created class that would inherit (and squat) Event's topic.
    Created = Detected

    class Referenced(GivesReference, Event):
        """The incident was given its reference after it was recorded
        (``engine.incidents.assign_reference``: resilience.domain.references)."""

        TOPIC = "resilience.incident:Referenced"
        reference: str

    class Reported(Event):
        """The community office was told (phone, app, in person, sensor...)."""

        TOPIC = "resilience.incident:Reported"
        milestone = CaseMilestone("reported", "the community office was told")
        channel: str

        def describe(self) -> str:
            return f"reported to the community by {self.channel}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.reported = self.originator_version

    class Acknowledged(Event):
        TOPIC = "resilience.incident:Acknowledged"
        milestone = CaseMilestone("acknowledged", "the community acknowledged the report")

        def describe(self) -> str:
            return "acknowledged by the community"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.acknowledged = self.originator_version

    class Reclassified(Event):
        TOPIC = "resilience.incident:Reclassified"
        incident_type: IncidentType
        severity: Severity

        def describe(self) -> str:
            return f"reclassified as {self.incident_type.value} ({self.severity.value})"

        def detail(self) -> list[str]:
            return [self.incident_type.value, self.severity.value]

        def apply(self, aggregate: "Incident") -> None:
            aggregate.classifications[self.originator_version] = (
                self.incident_type, self.severity)

    class CommanderAssigned(Event):
        TOPIC = "resilience.incident:CommanderAssigned"
        milestone = CaseMilestone("commander_assigned", "the first incident commander was named")
        person_id: str

        def describe(self) -> str:
            return f"{self.person_id} is incident commander"

        def detail(self) -> str:
            return self.person_id

        def apply(self, aggregate: "Incident") -> None:
            aggregate.commanders[self.originator_version] = self.person_id

    class ResponderDispatched(Event):
        TOPIC = "resilience.incident:ResponderDispatched"
        personal = personal_data({"task": "actor"})
        milestone = CaseMilestone(
            "first_dispatched", "the earliest dispatch of any responder in the first response")
        chain_step = 0
        responder_id: str
        team: str | None
        task: str

        def describe(self) -> str:
            return (f"{self.responder_id} dispatched" + (f" with {self.team}" if self.team else "")
                    + (f": {self.task}" if self.task else ""))

        def detail(self) -> str:
            return self.responder_id

        def apply(self, aggregate: "Incident") -> None:
            aggregate.chain_facts[self.originator_version] = self.responder_id
            aggregate.dispatches[self.originator_version] = (self.team, self.task)

    class ResponderEnRoute(Event):
        TOPIC = "resilience.incident:ResponderEnRoute"
        milestone = CaseMilestone(
            "first_en_route", "the earliest responder en route in the first response")
        chain_step = 1
        responder_id: str

        def describe(self) -> str:
            return f"{self.responder_id} en route"

        def detail(self) -> str:
            return self.responder_id

        def apply(self, aggregate: "Incident") -> None:
            aggregate.chain_facts[self.originator_version] = self.responder_id

    class ResponderOnScene(Event):
        TOPIC = "resilience.incident:ResponderOnScene"
        milestone = CaseMilestone(
            "first_on_scene",
            "the earliest responder on scene in the first response (a patrol counts)")
        chain_step = 2
        responder_id: str

        def describe(self) -> str:
            return f"{self.responder_id} on scene"

        def detail(self) -> str:
            return self.responder_id

        def apply(self, aggregate: "Incident") -> None:
            aggregate.chain_facts[self.originator_version] = self.responder_id

    class ActionTaken(Event):
        TOPIC = "resilience.incident:ActionTaken"
        personal = personal_data({"description": "actor"})
        action: ActionKind
        description: str
        equipment: tuple[str, ...]

        def describe(self) -> str:
            return (f"{self.action.value.replace('_', ' ')}: {self.description}"
                    + (f" ({', '.join(self.equipment)})" if self.equipment else ""))

        def detail(self) -> str:
            return self.action.value

    class ConsentRequested(Event):
        TOPIC = "resilience.incident:ConsentRequested"
        notice = "consent.awaited"
        personal = personal_data({"resident_id": "resident_id", "purpose": "actor"})
        milestone = CaseMilestone(
            "consent_requested", "the earliest request for a resident's consent")
        resident_id: str
        purpose: str

        def describe(self) -> str:
            return f"consent requested from {self.resident_id}: {self.purpose}"

        def detail(self) -> str:
            return self.resident_id

        def apply(self, aggregate: "Incident") -> None:
            aggregate.consent_requests.setdefault(self.resident_id, []).append(
                self.originator_version)

    class ConsentGranted(Event):
        TOPIC = "resilience.incident:ConsentGranted"
        personal = personal_data({"resident_id": "resident_id"})
        milestone = CaseMilestone("consent_granted", "the earliest consent granted")
        resident_id: str

        def describe(self) -> str:
            return f"{self.resident_id} granted consent"

        def detail(self) -> str:
            return self.resident_id

        def apply(self, aggregate: "Incident") -> None:
            # The request pending when the answer was given (the command checked there was one).
            aggregate.answered_requests[self.originator_version] = (
                aggregate._pending_request(self.resident_id))
            answers = aggregate.consent_answers.setdefault(self.resident_id, [])
            answers.append((self.originator_version, True))

    class ConsentRefused(Event):
        TOPIC = "resilience.incident:ConsentRefused"
        personal = personal_data({"resident_id": "resident_id", "reason": "resident_id"})
        resident_id: str
        reason: str

        def describe(self) -> str:
            return (f"{self.resident_id} refused consent"
                    + (f": {self.reason}" if self.reason else ""))

        def detail(self) -> str:
            return self.resident_id

        def apply(self, aggregate: "Incident") -> None:
            # The request pending when the answer was given (the command checked there was one).
            aggregate.answered_requests[self.originator_version] = (
                aggregate._pending_request(self.resident_id))
            answers = aggregate.consent_answers.setdefault(self.resident_id, [])
            answers.append((self.originator_version, False))

    class ExigentEntryAuthorised(Event):
        """Forced entry without consent was authorised because lives or property could not wait."""

        TOPIC = "resilience.incident:ExigentEntryAuthorised"
        personal = personal_data({"reason": "actor"})
        milestone = CaseMilestone("exigent_entry", "entry without consent was authorised")
        reason: str

        def describe(self) -> str:
            return f"exigent entry authorised: {self.reason}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.exigent_entry = self.originator_version

    class ForcedEntryMade(Event):
        """A lock was breached or a door forced, e.g. the storage room in the Donghu fire."""

        TOPIC = "resilience.incident:ForcedEntryMade"
        # "The storage room of flat 501" names a household.
        personal = personal_data({"target": "actor"})
        milestone = CaseMilestone("forced_entry", "the earliest forced entry")
        target: str

        def describe(self) -> str:
            return f"forced entry: {self.target}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.forced_entries.append(self.originator_version)

    class SourceFound(Event):
        TOPIC = "resilience.incident:SourceFound"
        personal = personal_data({"description": "actor"})
        milestone = CaseMilestone("source_found", "the earliest report of the source found")
        description: str

        def describe(self) -> str:
            return f"source found: {self.description}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.source_found = self.originator_version

    class Contained(Event):
        TOPIC = "resilience.incident:Contained"
        notice = "incident.contained"
        personal = personal_data({"description": "actor"})
        milestone = CaseMilestone(
            "contained", "the incident was contained in its first response")
        description: str

        def describe(self) -> str:
            return f"contained: {self.description}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.containments.append(self.originator_version)

    class Resolved(Event):
        TOPIC = "resilience.incident:Resolved"
        ends = True
        personal = personal_data({"summary": "actor"})
        noun = N_("resolution")
        step = True
        last_milestone = CaseMilestone(
            "resolved",
            "the latest resolution since the last "
            "reopening (in the order they happened)")
        summary: str

        def describe(self) -> str:
            return f"resolved: {self.summary}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.resolved = self.originator_version

    class Closed(Event):
        TOPIC = "resilience.incident:Closed"
        ends = True
        notice = "incident.closed"
        personal = personal_data({"note": "actor"})
        noun = N_("closure")
        step = True
        last_milestone = CaseMilestone(
            "closed", "the latest closure since the last reopening (in the order they happened)")
        reason: ClosureReason
        note: str

        def describe(self) -> str:
            return f"closed ({self.reason.value})" + (f": {self.note}" if self.note else "")

        def detail(self) -> str:
            return self.reason.value

        def apply(self, aggregate: "Incident") -> None:
            aggregate.closed = self.originator_version
            aggregate.closure_reason = self.reason

    class Reopened(Event):
        TOPIC = "resilience.incident:Reopened"
        personal = personal_data({"reason": "actor"})
        noun = N_("reopening")
        step = True
        reopens = True
        reason: str

        def describe(self) -> str:
            return f"reopened: {self.reason}"

        def detail(self) -> str:
            return self.reason

        def apply(self, aggregate: "Incident") -> None:
            aggregate.closed = None
            aggregate.closure_reason = None
            aggregate.resolved = None
            aggregate.reopenings.append(self.originator_version)

    class NoteAdded(Event):
        TOPIC = "resilience.incident:NoteAdded"
        personal = personal_data({"text": "actor"})
        text: str

        def describe(self) -> str:
            return f"note: {self.text}"

    class Escalated(Escalation, Event):
        """A deadline of the escalation policy passed unmet (resilience.domain.escalation):
        recorded by the watch, dated when it was due, naming whom it told."""

        TOPIC = "resilience.incident:Escalated"
        notice = "incident.escalated"
        deadline: str
        level: int
        cycle: int
        due_at: datetime
        notified: tuple[Notified, ...]

    class RecoveryLinked(RecoveryFact, Event):
        """A service order or improvement item was linked to the incident: it repairs what
        the incident broke (resilience.domain.recovery). Recorded at any time, the incident
        closed or not: recovery follows the response."""

        TOPIC = "resilience.incident:RecoveryLinked"
        notice = "recovery.linked"
        personal = personal_data({"purpose": "actor"})
        milestone = CaseMilestone(
            "recovery_linked", "the earliest link of an order or improvement item to its "
            "recovery")
        linked_id: UUID
        linked_kind: RecoveryKind
        purpose: str

        def describe(self) -> str:
            noun = "order" if self.linked_kind is RecoveryKind.ORDER else "improvement item"
            return f"recovery: {noun} linked: {self.purpose}"

        def detail(self) -> list[str]:
            return [str(self.linked_id), self.linked_kind.value]

        def apply(self, aggregate: "Incident") -> None:
            aggregate.recovery_links[self.linked_id] = self.originator_version

    class FromHazard(FromHazardFact, Event):
        """The incident came from a hazard found before it (the other side of the
        hazard's LinkedToIncident: resilience.domain.hazard). Recorded at any time, the
        incident closed or not."""

        TOPIC = "resilience.incident:FromHazard"
        hazard_id: UUID

    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "resilience.incident:TimeCorrected"

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "resilience.incident:DetailsCorrected"

    def __init__(self) -> None:
        super().__init__()
        self.classifications = {}
        self.commanders = {}
        self.reported = None
        self.acknowledged = None
        self.chain_facts = {}
        self.dispatches = {}
        self.consent_requests = {}
        self.consent_answers = {}
        self.answered_requests = {}
        self.exigent_entry = None
        self.forced_entries = []
        self.source_found = None
        self.containments = []
        self.resolved = None
        self.closed = None
        self.closure_reason = None
        self.reopenings = []
        self.escalations = {}
        self.recovery_links = {}
        self.hazard_id = None

    # Creation -----------------------------------------------------------------

    @classmethod
    def detect(
        cls,
        ctx: Context,
        *,
        incident_id: UUID,
        community_id: UUID,
        incident_type: IncidentType | str,
        severity: Severity | str,
        location: Location,
        description: str,
        drill: bool = False,
        reference: str | None = None,
    ) -> "Incident":
        """Someone noticed an incident at ``ctx.occurred_at``."""
        check_instance(location, "location", Location)
        check_uuid(community_id, "community_id")
        incident = cls._create(
            cls.Detected,
            id=incident_id,
            timestamp=ctx.recorded_at,
            occurred_at=ctx.occurred_at,
            actor=ctx.actor,
            command_id=ctx.command_id,
            community_id=community_id,
            incident_type=parse_enum(IncidentType, incident_type, "incident_type"),
            severity=parse_enum(Severity, severity, "severity"),
            location=location,
            description=require_text(description, "description"),
            drill=check_bool(drill, "drill"),
            reference=check_reference(reference),
        )
        return incident

    # Queries ------------------------------------------------------------------

    @property
    def area(self) -> str | None:
        """The area the incident happened in, as precisely as its location says: its
        unit's area, else its building, else its grid (None: somewhere in the community;
        resilience.domain.organisation.location_area)."""
        return location_area(self.location)

    @property
    def detected_at(self) -> datetime:
        return self.occurred[1]

    @property
    def status(self) -> IncidentStatus:
        """The current cycle's progress (``incident_status``): a reopened incident reads
        "reopened" until its new cycle gets a dispatch, an arrival, a containment..."""
        chains = self.responders.values()
        return incident_status(
            closed=self.closed is not None, resolved=self.resolved is not None,
            contained=self.contained is not None,
            on_scene=any(c.on_scene is not None for c in chains),
            dispatched=any(c.dispatched is not None for c in chains),
            reopened=bool(self.reopenings),
            acknowledged=self.acknowledged is not None, reported=self.reported is not None)

    @property
    def reopen_count(self) -> int:
        """How many times the incident was reopened."""
        return len(self.reopenings)

    @property
    def cycle(self) -> int:
        """The current cycle: 0 for the first response, n after the nth reopening."""
        return len(self.reopenings)

    def cycle_of(self, version: int) -> int:
        """The cycle of the fact at ``version``: how many reopenings happened before it
        (in happening order, effective times with corrections applied); a reopening is the
        first fact of the cycle it opens."""
        return self._cycle_in(version, self.occurred)

    def chains(self, cycle: int | None = None) -> dict[str, ResponderChain]:
        """Each responder's chain of facts in ``cycle`` (the current one by default), in the
        order their first fact of the cycle was recorded."""
        wanted = self.cycle if cycle is None else cycle
        chains: dict[str, ResponderChain] = {}
        for version, responder in self.chain_facts.items():
            if self.cycle_of(version) != wanted:
                continue
            chain = chains.setdefault(responder, ResponderChain())
            match _chain_step(self.fact_types[version]):
                case 0:
                    chain.dispatched = version
                    chain.team, chain.task = self.dispatches[version]
                case 1:
                    chain.en_route = version
                case _:
                    chain.on_scene = version
        return chains

    @property
    def responders(self) -> dict[str, ResponderChain]:
        """The current cycle's responder chains (``chains()``)."""
        return self.chains()

    @property
    def contained(self) -> int | None:
        """Version of the current cycle's containment, or None."""
        return next((v for v in self.containments if self.cycle_of(v) == self.cycle), None)

    @property
    def lifecycle_steps(self) -> list[int]:
        """Versions of the Resolved, Closed and Reopened facts (its ``step`` facts):
        recording order is time order."""
        return self._steps()

    @property
    def is_closed(self) -> bool:
        return self.closed is not None

    @property
    def ending(self) -> int | None:
        """Version of the fact that ended the current cycle (the latest step, if its class
        ``ends``: a resolution or a closure), or None while the cycle is open."""
        steps = self._steps()
        return steps[-1] if steps and self.fact_types[steps[-1]].ends else None

    # Replaying facts in the order they happened must give the same answers as these, so
    # the ones a late record or a time correction could reorder pick by effective time.

    @property
    def incident_type(self) -> IncidentType:
        return self._classification[0]

    @property
    def severity(self) -> Severity:
        return self._classification[1]

    @property
    def _classification(self) -> tuple[IncidentType, Severity]:
        return self.classifications[self._last_to_happen(self.classifications)]

    @property
    def commander(self) -> str | None:
        """The person named by the assignment that happened last, or None if nobody was."""
        if not self.commanders:
            return None
        return self.commanders[self._last_to_happen(self.commanders)]

    def commander_at(self, at: datetime) -> str | None:
        """Who commanded the incident at ``at``: named by the last assignment dated at or
        before it (in the order things happened), or None."""
        named = [v for v in self.commanders if self.occurred[v] <= at]
        return self.commanders[self._last_to_happen(named)] if named else None

    def classification_at(self, at: datetime) -> tuple[IncidentType, Severity]:
        """The type and severity the incident had at ``at``: its last classification by
        then (its detection's, if none happened by then)."""
        before = [v for v in self.classifications if self.occurred[v] <= at] or [1]
        return self.classifications[self._last_to_happen(before)]

    def on_scene(self) -> list[str]:
        """Responders recorded on scene in the current cycle."""
        return [r for r, c in self.responders.items() if c.on_scene is not None]

    def _pending_request(self, resident_id: str) -> int:
        """Version of the consent request to ``resident_id`` that happened last."""
        return self._last_to_happen(self.consent_requests[resident_id])

    def pending_consents(self) -> list[str]:
        """Residents whose last request has no answer after it (in the order they were asked)."""
        pending = {resident: self._pending_request(resident) for resident in self.consent_requests}
        return sorted(
            (resident for resident, request in pending.items()
             if not any(self._happened_after(answer, request)
                        for answer, _ in self.consent_answers.get(resident, ()))),
            key=lambda resident: self._happening_order(pending[resident]),
        )

    # Commands -----------------------------------------------------------------

    def give_reference(self, ctx: Context, reference: str) -> None:
        """Record the reference of an incident recorded before references (``Referenced``)."""
        self._trigger(self.Referenced, ctx, reference=not_yet_referenced(self, reference))

    def report(self, ctx: Context, channel: str = "phone") -> None:
        if self.reported is not None:
            raise InvalidTransitionError(_("the incident was already reported"))
        self._after_beginning(ctx)
        self._trigger(self.Reported, ctx, channel=require_text(channel, "channel"))

    def acknowledge(self, ctx: Context) -> None:
        if self.acknowledged is not None:
            raise InvalidTransitionError(_("the incident was already acknowledged"))
        self._after_beginning(ctx)
        self._trigger(self.Acknowledged, ctx)

    def reclassify(
        self, ctx: Context, *, incident_type: IncidentType | str | None = None,
        severity: Severity | str | None = None,
    ) -> None:
        new_type = (parse_enum(IncidentType, incident_type, "incident_type")
                    if incident_type is not None else self.incident_type)
        new_severity = (parse_enum(Severity, severity, "severity")
                        if severity is not None else self.severity)
        if (new_type, new_severity) == (self.incident_type, self.severity):
            raise InvalidInputError(_("reclassification changes neither type nor severity"))
        self._after_beginning(ctx)
        self._trigger(self.Reclassified, ctx, incident_type=new_type, severity=new_severity)

    def assign_commander(self, ctx: Context, person_id: str) -> None:
        person_id = require_text(person_id, "person_id")
        if person_id == self.commander:
            raise InvalidTransitionError(_("{person} is already the incident commander").format(
                person=person_id))
        self._after_beginning(ctx)
        self._trigger(self.CommanderAssigned, ctx, person_id=person_id)

    def dispatch(
        self, ctx: Context, responder_ids: list[str] | tuple[str, ...], *,
        team: str | None = None, task: str = "",
    ) -> None:
        """Dispatch one or more responders (a team mobilising is one command, one fact each)."""
        ids = list(check_items(responder_ids, "responder_ids", require_text))
        if not ids:
            raise InvalidInputError(_("responder_ids must be a non-empty list of person ids"))
        if team is not None:
            check_text(team, "team")
        check_text(task, "task")
        if len(set(ids)) != len(ids):
            raise InvalidInputError(_("responder ids repeat: {ids}").format(ids=ids))
        self._check_new(ctx, self.ResponderDispatched, ids)
        for responder in ids:
            self._trigger(self.ResponderDispatched, ctx, responder_id=responder,
                          team=team, task=task)

    def en_route(self, ctx: Context, responder_id: str) -> None:
        """Record a responder on their way: in the fact's cycle, after their dispatch (if
        any) and before their arrival (if recorded already: late records are fine)."""
        responder_id = require_text(responder_id, "responder_id")
        self._check_new(ctx, self.ResponderEnRoute, [responder_id])
        self._trigger(self.ResponderEnRoute, ctx, responder_id=responder_id)

    def arrive(self, ctx: Context, responder_id: str) -> None:
        """Record a responder on scene (a patrolling grid leader may arrive undispatched)."""
        responder_id = require_text(responder_id, "responder_id")
        self._check_new(ctx, self.ResponderOnScene, [responder_id])
        self._trigger(self.ResponderOnScene, ctx, responder_id=responder_id)

    def take_action(
        self, ctx: Context, action: ActionKind | str, description: str,
        equipment: list[str] | tuple[str, ...] = (),
    ) -> None:
        kind = parse_enum(ActionKind, action, "action")
        self._after_beginning(ctx)
        self._trigger(self.ActionTaken, ctx, action=kind,
                      description=require_text(description, "description"),
                      equipment=check_items(equipment, "equipment", require_text))

    def request_consent(self, ctx: Context, resident_id: str, purpose: str) -> None:
        self._after_beginning(ctx)
        self._trigger(self.ConsentRequested, ctx,
                      resident_id=require_text(resident_id, "resident_id"),
                      purpose=require_text(purpose, "purpose"))

    def grant_consent(self, ctx: Context, resident_id: str) -> None:
        self._answer(ctx, resident_id)
        self._trigger(self.ConsentGranted, ctx, resident_id=resident_id)

    def refuse_consent(self, ctx: Context, resident_id: str, reason: str = "") -> None:
        """Record a refusal; it can't withdraw the consent an entry already recorded relied on."""
        check_text(reason, "reason")
        self._answer(ctx, resident_id)
        answers = {r: list(a) for r, a in self.consent_answers.items()}
        answers.setdefault(resident_id, []).append((self.version + 1, False))
        times = self._times_with(ctx, {})
        if not all(self._entry_permitted(times[v], times, answers) for v in self.forced_entries):
            raise InvalidTransitionError(_(
                "a refusal by {resident} at {time} would leave a recorded forced entry "
                "without consent; correct that entry's time instead").format(
                    resident=resident_id, time=ctx.occurred_at.isoformat()))
        self._trigger(self.ConsentRefused, ctx, resident_id=resident_id, reason=reason)

    def authorise_exigent_entry(self, ctx: Context, reason: str) -> None:
        if self.exigent_entry is not None:
            raise InvalidTransitionError(_("exigent entry was already authorised"))
        self._after_beginning(ctx)
        self._trigger(self.ExigentEntryAuthorised, ctx, reason=require_text(reason, "reason"))

    def force_entry(self, ctx: Context, target: str) -> None:
        """Breach a lock or door: needs a consent granted, or exigent entry authorised, first."""
        target = require_text(target, "target")
        self._after_beginning(ctx)
        if not self._entry_permitted(ctx.occurred_at, self.occurred):
            raise InvalidTransitionError(_(
                "forced entry needs a resident's consent granted (or exigent entry "
                "authorised) at or before {time}").format(time=ctx.occurred_at.isoformat()))
        self._trigger(self.ForcedEntryMade, ctx, target=target)

    def find_source(self, ctx: Context, description: str) -> None:
        self._after_beginning(ctx)
        self._trigger(self.SourceFound, ctx, description=require_text(description, "description"))

    def contain(self, ctx: Context, description: str = "contained") -> None:
        """Record the containment of the fact's cycle (one per cycle)."""
        description = require_text(description, "description")
        self._check_new(ctx, self.Contained, [None])
        self._trigger(self.Contained, ctx, description=description)

    def resolve(self, ctx: Context, summary: str) -> None:
        """Resolve the current cycle (once; after a reopening, again)."""
        if self.resolved is not None:
            raise InvalidTransitionError(
                _("the incident was already resolved{cycle}: reopen it first").format(
                    cycle=self._in_cycle(self.cycle)))
        self._after_beginning(ctx)
        self._after_last_lifecycle_step(ctx, self.Resolved)
        self._trigger(self.Resolved, ctx, summary=require_text(summary, "summary"))

    def close(self, ctx: Context, reason: ClosureReason | str, note: str = "") -> None:
        closure = parse_enum(ClosureReason, reason, "reason")
        check_text(note, "note")
        if closure is ClosureReason.RESOLVED and self.resolved is None:
            raise InvalidTransitionError(_(
                "an incident closed as resolved must be resolved first "
                "(or close it as false_alarm, duplicate or cancelled)"))
        self._after_beginning(ctx)
        self._after_last_lifecycle_step(ctx, self.Closed)
        self._trigger(self.Closed, ctx, reason=closure, note=note)

    def reopen(self, ctx: Context, reason: str) -> None:
        """Reopen a resolved or closed incident: a new cycle starts (its response can
        happen again: dispatch, en route, on scene, contain, resolve, close)."""
        if self.resolved is None and self.closed is None:
            raise InvalidTransitionError(
                _("only a resolved or closed incident can be reopened"))
        self._after_beginning(ctx)
        self._after_last_lifecycle_step(ctx, self.Reopened)
        self._trigger(self.Reopened, ctx, reason=require_text(reason, "reason"))

    def add_note(self, ctx: Context, text: str) -> None:
        self._after_beginning(ctx)
        self._trigger(self.NoteAdded, ctx, text=require_text(text, "text"))

    def escalate(self, ctx: Context, deadline: str, level: int, cycle: int, due_at: datetime,
                 notified: Sequence[Notified]) -> None:
        """Record that ``deadline`` passed unmet in ``cycle`` and its ``level`` told
        ``notified`` (the engine's watch: resilience.services.deadlines): once per
        (deadline, cycle, level), never once the current cycle has ended (``ending``:
        resolved or closed, until a reopening)."""
        name, level, cycle, due_at, told = check_escalation(
            deadline, level, cycle, due_at, notified, ctx.occurred_at, cycles=self.cycle,
            escalated=self.escalations)
        ending = self.ending
        if ending is not None:
            ended = self.fact_types[ending].fact_name.lower()  # resolved, closed
            raise InvalidTransitionError(
                _("the incident is {state}: nothing is escalated on it").format(
                    state=_(ended)))
        self._after_beginning(ctx)
        self._trigger(self.Escalated, ctx, deadline=name, level=level, cycle=cycle,
                      due_at=due_at, notified=told)

    def link_recovery(self, ctx: Context, linked_id: UUID, kind: RecoveryKind | str,
                      purpose: str) -> None:
        """Record that the order or improvement item ``linked_id`` serves the incident's
        recovery (once each; at any time after detection, the incident closed or not). The
        other side's fact is the linked aggregate's (``link_to_incident``)."""
        check_uuid(linked_id, "linked_id")
        linked_kind = parse_enum(RecoveryKind, kind, "kind")
        purpose = require_text(purpose, "purpose")
        if linked_id in self.recovery_links:
            raise InvalidTransitionError(
                _("{id} is already linked to this incident's recovery (fact {version})")
                .format(id=linked_id, version=self.recovery_links[linked_id]))
        self._after_beginning(ctx)
        self._trigger(self.RecoveryLinked, ctx, linked_id=linked_id, linked_kind=linked_kind,
                      purpose=purpose)

    def from_hazard(self, ctx: Context, hazard_id: UUID) -> None:
        """Record that the incident came from the hazard ``hazard_id`` (one hazard, once;
        at any time after detection, the incident closed or not). The other side's fact is
        the hazard's (``link_incident``)."""
        self.check_hazard_link(ctx, hazard_id)
        self._trigger(self.FromHazard, ctx, hazard_id=hazard_id)

    def check_hazard_link(self, ctx: Context, hazard_id: UUID) -> None:
        """Refuse to record that the incident came from ``hazard_id``, if it can't be."""
        check_from_hazard(self, hazard_id, "incident")
        self._after_beginning(ctx)

    # Invariants ---------------------------------------------------------------

    def _closure(self) -> int | None:
        return self.closed

    def _after_last_lifecycle_step(self, ctx: Context, event_class: type[object]) -> None:
        # Keeping resolution, closure and reopening in recording order lets the status stay
        # version-based and still agree with a replay in the order things happened.
        # A closed incident says so before any time rule.
        self._check_writable(event_class, ctx.occurred_at)
        steps = self.lifecycle_steps
        if steps:
            self._not_before(ctx, steps[-1], N_("the incident's {noun}"))

    def _answer(self, ctx: Context, resident_id: str) -> None:
        require_text(resident_id, "resident_id")
        if resident_id not in self.pending_consents():
            raise InvalidTransitionError(
                _("no consent request is pending for {resident}; request consent first")
                .format(resident=resident_id))
        self._after_beginning(ctx)
        self._not_before(ctx, self._pending_request(resident_id), N_("the consent request"))

    def _happening_order(self, version: int) -> tuple[datetime, int]:
        """The fact at ``version``'s place in the order things happened (``happening_order``)."""
        return happening_order(FactTime(self.occurred[version], version))

    def _happened_after(self, version: int, other: int) -> bool:
        return self._happening_order(version) > self._happening_order(other)

    def _last_to_happen(self, versions: Iterable[int]) -> int:
        return max(versions, key=self._happening_order)

    def _entry_permitted(
        self, at: datetime, times: dict[int, datetime],
        consent_answers: dict[str, list[tuple[int, bool]]] | None = None,
    ) -> bool:
        if self.exigent_entry is not None and times[self.exigent_entry] <= at:
            return True
        given = self.consent_answers if consent_answers is None else consent_answers
        for answers in given.values():
            # The latest answer by then counts (in happening order).
            before = [(FactTime(times[v], v), granted) for v, granted in answers if times[v] <= at]
            if before and max(before, key=lambda answer: happening_order(answer[0]))[1]:
                return True
        return False

    def _naming(self, early: list[int]) -> tuple[str, str]:
        return (N_("nothing can happen before {beginning} ({first}): {facts} would"),
                ", ".join(self._name_of(v) for v in early))

    def _cycle_in(self, version: int, times: Mapping[int, datetime]) -> int:
        """The cycle of the fact at ``version`` if facts happened at ``times`` (``in_cycles``:
        the reopenings at or before it in happening order)."""
        reopenings = set(self.reopenings)
        facts = [FactTime(times[v], v) for v in {version, *reopenings}]
        cycles = in_cycles(facts, lambda fact: fact.version in reopenings)
        return next(n for n, cycle in enumerate(cycles)
                    if any(fact.version == version for fact in cycle))

    def _in_cycle(self, cycle: int) -> str:
        """The words " in cycle N" for messages, once there are cycles to tell apart (in
        the current language: it fills a message's ``{cycle}``)."""
        return _(" in cycle {cycle}").format(cycle=cycle) if self.reopenings else ""

    def _check_new(self, ctx: Context, event_class: type["Incident.Event"],
                   about: Sequence[str | None]) -> None:
        """Check new facts of ``event_class`` at ``ctx.occurred_at``, one per item of
        ``about`` (a responder, or None for the incident's own containment), against the
        closure and the per-cycle rules."""
        self._check_writable(event_class, ctx.occurred_at)
        self._after_beginning(ctx)
        times = dict(self.occurred)
        new = {self.version + n: (event_class, who) for n, who in enumerate(about, start=1)}
        times.update(dict.fromkeys(new, ctx.occurred_at))
        self._check_cycles(times, new)

    def _check_cycles(self, times: Mapping[int, datetime], new: Mapping[int, _Fact]) -> None:
        """The per-cycle rules over ``times``, with ``new`` facts (version -> class, and the
        responder it is about) added: in each cycle at most one containment, and per
        responder at most one dispatch, en route and on scene, dated in that order."""
        facts: dict[int, _Fact] = {v: (self.fact_types[v], None) for v in self.containments}
        facts.update((v, (self.fact_types[v], who)) for v, who in self.chain_facts.items())
        facts.update(new)
        places: dict[tuple[int, str | None, int | None], int] = {}
        for version in sorted(facts):
            fact, who = facts[version]
            place = (self._cycle_in(version, times), who, _chain_step(fact))
            if place in places:
                raise InvalidTransitionError(self._twice(places[place], version, facts, times))
            places[place] = version
        for (cycle, who, step), later in places.items():
            for earlier_step in range(step or 0):
                earlier = places.get((cycle, who, earlier_step))
                if earlier is not None and times[later] < times[earlier]:
                    raise InvalidTransitionError(_(
                        "{who}'s {fact} at {time} would precede their {earlier} at "
                        "{earlier_time}{cycle}: times can't go backwards").format(
                            who=who, fact=facts[later][0].fact_name,
                            time=times[later].isoformat(),
                            earlier=facts[earlier][0].fact_name,
                            earlier_time=times[earlier].isoformat(),
                            cycle=self._in_cycle(cycle)))

    def _twice(self, first: int, second: int, facts: Mapping[int, _Fact],
               times: Mapping[int, datetime]) -> str:
        """Why a cycle can't hold both ``first`` and ``second`` (the same kind of fact)."""
        fact, who = facts[second]
        cycle = self._in_cycle(self._cycle_in(second, times))
        at = times[first].isoformat()
        if second > self.version:  # a new fact: say what is there already
            if who is None:
                return _("the incident was already contained{cycle} at {at}: another "
                         "containment needs a reopen first").format(cycle=cycle, at=at)
            message = (N_("{who} was already dispatched{cycle} at {at}"),
                       N_("{who} was already recorded en route{cycle} at {at}"),
                       N_("{who} was already on scene{cycle} at {at}"))[_chain_step(fact) or 0]
            return _(message).format(who=who, cycle=cycle, at=at)
        message = (N_("the correction would give the incident two {fact} facts{cycle} "
                      "(facts {first} and {second}): one per cycle") if who is None else
                   N_("the correction would give {who} two {fact} facts{cycle} "
                      "(facts {first} and {second}): one per cycle"))
        return _(message).format(who=who, fact=fact.fact_name, cycle=cycle, first=first,
                                 second=second)

    def _check_times(self, times: dict[int, datetime]) -> None:
        self._check_beginning(times)
        for earlier, later in itertools.pairwise(self.lifecycle_steps):
            if times[later] < times[earlier]:
                raise InvalidTransitionError(_(
                    "the incident's {noun} would precede its {earlier}: times can't go "
                    "backwards").format(noun=self._said_noun(later),
                                        earlier=self._said_noun(earlier)))
        self._check_cycles(times, {})
        for answer, request in self.answered_requests.items():
            if times[answer] < times[request]:
                raise InvalidTransitionError(
                    _("a consent answer would precede the request it answered"))
        for version in self.forced_entries:
            if not self._entry_permitted(times[version], times):
                raise InvalidTransitionError(_(
                    "the forced entry would precede any consent granted or exigent "
                    "authorisation"))

