"""The incident aggregate.

report -> dispatch -> on scene -> consent -> contain -> resolve -> close, with corrections.
"""

import itertools
from collections.abc import Iterable
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
)
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


class IncidentStatus(StrEnum):
    DETECTED = "detected"
    REPORTED = "reported"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CONTAINED = "contained"
    RESOLVED = "resolved"
    CLOSED = "closed"


def incident_status(*, closed: bool, resolved: bool, contained: bool, on_scene: bool,
                    dispatched: bool, acknowledged: bool, reported: bool) -> IncidentStatus:
    """The status of an incident that has reached the steps given as True: the furthest
    step up the ladder (closed, resolved, contained, a responder on scene, one dispatched,
    acknowledged, reported), else detected."""
    ladder = ((closed, IncidentStatus.CLOSED), (resolved, IncidentStatus.RESOLVED),
              (contained, IncidentStatus.CONTAINED), (on_scene, IncidentStatus.ON_SCENE),
              (dispatched, IncidentStatus.DISPATCHED),
              (acknowledged, IncidentStatus.ACKNOWLEDGED), (reported, IncidentStatus.REPORTED))
    return next((status for reached, status in ladder if reached), IncidentStatus.DETECTED)


@define
class ResponderChain:
    """Versions of one responder's dispatch, en-route and on-scene facts."""

    team: str | None = None
    task: str = ""
    dispatched: int | None = None
    en_route: int | None = None
    on_scene: int | None = None


class Incident(FactAggregate):
    """One incident in one community, from detection to closure."""

    TOPIC = "resilience.incident:Incident"
    kind = "incident"
    beginning = "detection"

    community_id: UUID
    classifications: dict[int, tuple[IncidentType, Severity]]
    """Version of the detection and of each reclassification -> the type and severity it set."""
    location: Location
    description: str
    drill: bool
    commanders: dict[int, str]
    """Version of each commander assignment -> the person assigned."""
    reported: int | None
    acknowledged: int | None
    responders: dict[str, ResponderChain]
    consent_requests: dict[str, list[int]]
    """Resident -> versions of the consent requests made to them, in recording order."""
    consent_answers: dict[str, list[tuple[int, bool]]]
    answered_requests: dict[int, int]
    """Version of each consent answer -> version of the request it answered."""
    exigent_entry: int | None
    forced_entries: list[int]
    source_found: int | None
    contained: int | None
    resolved: int | None
    closed: int | None
    closure_reason: ClosureReason | None
    reopen_count: int

    class Event(FactAggregate.Event):
        TOPIC = "resilience.incident:Event"
        aggregate_kind = "incident"
        chain_step: ClassVar[int | None] = None
        """A responder's fact: its place in the dispatched -> en route -> on scene chain."""

    class Detected(Event, FactAggregate.Created):
        TOPIC = "resilience.incident:Detected"
        milestone = CaseMilestone("detected", "the incident was noticed (its first fact)")
        community_id: UUID
        incident_type: IncidentType
        severity: Severity
        location: Location
        description: str
        drill: bool

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

    # The creation event under the name eventsourcing looks for, so the metaclass
    # doesn't derive a Created class that would inherit (and squat) Event's topic.
    Created = Detected

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
        milestone = CaseMilestone("first_dispatched", "the earliest dispatch of any responder")
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
            chain = aggregate.responders.setdefault(self.responder_id, ResponderChain())
            chain.team = self.team
            chain.task = self.task
            chain.dispatched = self.originator_version

    class ResponderEnRoute(Event):
        TOPIC = "resilience.incident:ResponderEnRoute"
        milestone = CaseMilestone("first_en_route", "the earliest responder en route")
        chain_step = 1
        responder_id: str

        def describe(self) -> str:
            return f"{self.responder_id} en route"

        def detail(self) -> str:
            return self.responder_id

        def apply(self, aggregate: "Incident") -> None:
            chain = aggregate.responders.setdefault(self.responder_id, ResponderChain())
            chain.en_route = self.originator_version

    class ResponderOnScene(Event):
        TOPIC = "resilience.incident:ResponderOnScene"
        milestone = CaseMilestone(
            "first_on_scene", "the earliest responder on scene (a patrol counts)")
        chain_step = 2
        responder_id: str

        def describe(self) -> str:
            return f"{self.responder_id} on scene"

        def detail(self) -> str:
            return self.responder_id

        def apply(self, aggregate: "Incident") -> None:
            chain = aggregate.responders.setdefault(self.responder_id, ResponderChain())
            chain.on_scene = self.originator_version

    class ActionTaken(Event):
        TOPIC = "resilience.incident:ActionTaken"
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
        milestone = CaseMilestone("exigent_entry", "entry without consent was authorised")
        reason: str

        def describe(self) -> str:
            return f"exigent entry authorised: {self.reason}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.exigent_entry = self.originator_version

    class ForcedEntryMade(Event):
        """A lock was breached or a door forced, e.g. the storage room in the Donghu fire."""

        TOPIC = "resilience.incident:ForcedEntryMade"
        milestone = CaseMilestone("forced_entry", "the earliest forced entry")
        target: str

        def describe(self) -> str:
            return f"forced entry: {self.target}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.forced_entries.append(self.originator_version)

    class SourceFound(Event):
        TOPIC = "resilience.incident:SourceFound"
        milestone = CaseMilestone("source_found", "the earliest report of the source found")
        description: str

        def describe(self) -> str:
            return f"source found: {self.description}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.source_found = self.originator_version

    class Contained(Event):
        TOPIC = "resilience.incident:Contained"
        milestone = CaseMilestone("contained", "the incident was contained")
        description: str

        def describe(self) -> str:
            return f"contained: {self.description}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.contained = self.originator_version

    class Resolved(Event):
        TOPIC = "resilience.incident:Resolved"
        noun = "resolution"
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
        noun = "closure"
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
        noun = "reopening"
        step = True
        reason: str

        def describe(self) -> str:
            return f"reopened: {self.reason}"

        def apply(self, aggregate: "Incident") -> None:
            aggregate.closed = None
            aggregate.closure_reason = None
            aggregate.resolved = None
            aggregate.reopen_count += 1

    class NoteAdded(Event):
        TOPIC = "resilience.incident:NoteAdded"
        text: str

        def describe(self) -> str:
            return f"note: {self.text}"

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
        self.responders = {}
        self.consent_requests = {}
        self.consent_answers = {}
        self.answered_requests = {}
        self.exigent_entry = None
        self.forced_entries = []
        self.source_found = None
        self.contained = None
        self.resolved = None
        self.closed = None
        self.closure_reason = None
        self.reopen_count = 0

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
        )
        return incident

    # Queries ------------------------------------------------------------------

    @property
    def detected_at(self) -> datetime:
        return self.occurred[1]

    @property
    def status(self) -> IncidentStatus:
        chains = self.responders.values()
        return incident_status(
            closed=self.closed is not None, resolved=self.resolved is not None,
            contained=self.contained is not None,
            on_scene=any(c.on_scene is not None for c in chains),
            dispatched=any(c.dispatched is not None for c in chains),
            acknowledged=self.acknowledged is not None, reported=self.reported is not None)

    @property
    def lifecycle_steps(self) -> list[int]:
        """Versions of the Resolved, Closed and Reopened facts (its ``step`` facts):
        recording order is time order."""
        return self._steps()

    @property
    def is_closed(self) -> bool:
        return self.closed is not None

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

    def on_scene(self) -> list[str]:
        """Responders recorded on scene."""
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

    def report(self, ctx: Context, channel: str = "phone") -> None:
        if self.reported is not None:
            raise InvalidTransitionError("the incident was already reported")
        self._after_beginning(ctx)
        self._trigger(self.Reported, ctx, channel=require_text(channel, "channel"))

    def acknowledge(self, ctx: Context) -> None:
        if self.acknowledged is not None:
            raise InvalidTransitionError("the incident was already acknowledged")
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
            raise InvalidInputError("reclassification changes neither type nor severity")
        self._after_beginning(ctx)
        self._trigger(self.Reclassified, ctx, incident_type=new_type, severity=new_severity)

    def assign_commander(self, ctx: Context, person_id: str) -> None:
        person_id = require_text(person_id, "person_id")
        if person_id == self.commander:
            raise InvalidTransitionError(f"{person_id} is already the incident commander")
        self._after_beginning(ctx)
        self._trigger(self.CommanderAssigned, ctx, person_id=person_id)

    def dispatch(
        self, ctx: Context, responder_ids: list[str] | tuple[str, ...], *,
        team: str | None = None, task: str = "",
    ) -> None:
        """Dispatch one or more responders (a team mobilising is one command, one fact each)."""
        ids = list(check_items(responder_ids, "responder_ids", require_text))
        if not ids:
            raise InvalidInputError("responder_ids must be a non-empty list of person ids")
        if team is not None:
            check_text(team, "team")
        check_text(task, "task")
        if len(set(ids)) != len(ids):
            raise InvalidInputError(f"responder ids repeat: {ids}")
        self._after_beginning(ctx)
        for responder in ids:
            chain = self.responders.get(responder)
            if chain is None:
                continue
            if chain.dispatched is not None:
                raise InvalidTransitionError(f"{responder} was already dispatched")
            for version, state in ((chain.en_route, "en route"), (chain.on_scene, "on scene")):
                if version is not None and self.occurred[version] < ctx.occurred_at:
                    raise InvalidTransitionError(
                        f"{responder} was already {state} at "
                        f"{self.occurred[version].isoformat()}: a dispatch at "
                        f"{ctx.occurred_at.isoformat()} would put the chain backwards"
                    )
        for responder in ids:
            self._trigger(self.ResponderDispatched, ctx, responder_id=responder,
                          team=team, task=task)

    def en_route(self, ctx: Context, responder_id: str) -> None:
        responder_id = require_text(responder_id, "responder_id")
        chain = self.responders.get(responder_id)
        if chain is not None and chain.en_route is not None:
            raise InvalidTransitionError(f"{responder_id} was already recorded en route")
        if chain is not None and chain.on_scene is not None:
            raise InvalidTransitionError(f"{responder_id} is already on scene")
        self._after_beginning(ctx)
        if chain is not None and chain.dispatched is not None:
            self._not_before(ctx, chain.dispatched, f"{responder_id}'s dispatch")
        self._trigger(self.ResponderEnRoute, ctx, responder_id=responder_id)

    def arrive(self, ctx: Context, responder_id: str) -> None:
        """Record a responder on scene (a patrolling grid leader may arrive undispatched)."""
        responder_id = require_text(responder_id, "responder_id")
        chain = self.responders.get(responder_id)
        if chain is not None and chain.on_scene is not None:
            raise InvalidTransitionError(f"{responder_id} is already on scene")
        self._after_beginning(ctx)
        if chain is not None:
            for version in (chain.dispatched, chain.en_route):
                if version is not None:
                    self._not_before(ctx, version, f"{responder_id}'s {self._name_of(version)}")
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
            raise InvalidTransitionError(
                f"a refusal by {resident_id} at {ctx.occurred_at.isoformat()} would leave a "
                "recorded forced entry without consent; correct that entry's time instead"
            )
        self._trigger(self.ConsentRefused, ctx, resident_id=resident_id, reason=reason)

    def authorise_exigent_entry(self, ctx: Context, reason: str) -> None:
        if self.exigent_entry is not None:
            raise InvalidTransitionError("exigent entry was already authorised")
        self._after_beginning(ctx)
        self._trigger(self.ExigentEntryAuthorised, ctx, reason=require_text(reason, "reason"))

    def force_entry(self, ctx: Context, target: str) -> None:
        """Breach a lock or door: needs a consent granted, or exigent entry authorised, first."""
        target = require_text(target, "target")
        self._after_beginning(ctx)
        if not self._entry_permitted(ctx.occurred_at, self.occurred):
            raise InvalidTransitionError(
                "forced entry needs a resident's consent granted (or exigent entry "
                f"authorised) at or before {ctx.occurred_at.isoformat()}"
            )
        self._trigger(self.ForcedEntryMade, ctx, target=target)

    def find_source(self, ctx: Context, description: str) -> None:
        self._after_beginning(ctx)
        self._trigger(self.SourceFound, ctx, description=require_text(description, "description"))

    def contain(self, ctx: Context, description: str = "contained") -> None:
        if self.contained is not None:
            raise InvalidTransitionError("the incident was already contained")
        self._after_beginning(ctx)
        self._trigger(self.Contained, ctx, description=require_text(description, "description"))

    def resolve(self, ctx: Context, summary: str) -> None:
        if self.resolved is not None:
            raise InvalidTransitionError("the incident was already resolved")
        self._after_beginning(ctx)
        self._after_last_lifecycle_step(ctx, self.Resolved)
        self._trigger(self.Resolved, ctx, summary=require_text(summary, "summary"))

    def close(self, ctx: Context, reason: ClosureReason | str, note: str = "") -> None:
        closure = parse_enum(ClosureReason, reason, "reason")
        check_text(note, "note")
        if closure is ClosureReason.RESOLVED and self.resolved is None:
            raise InvalidTransitionError(
                "an incident closed as resolved must be resolved first "
                "(or close it as false_alarm, duplicate or cancelled)"
            )
        self._after_beginning(ctx)
        self._after_last_lifecycle_step(ctx, self.Closed)
        self._trigger(self.Closed, ctx, reason=closure, note=note)

    def reopen(self, ctx: Context, reason: str) -> None:
        if self.closed is None:
            raise InvalidTransitionError("only a closed incident can be reopened")
        self._after_beginning(ctx)
        self._after_last_lifecycle_step(ctx, self.Reopened)
        self._trigger(self.Reopened, ctx, reason=require_text(reason, "reason"))

    def add_note(self, ctx: Context, text: str) -> None:
        self._after_beginning(ctx)
        self._trigger(self.NoteAdded, ctx, text=require_text(text, "text"))

    # Invariants ---------------------------------------------------------------

    def _check_writable(self, event_class: type[object]) -> None:
        if self.closed is not None and not issubclass(event_class, self.Reopened):
            raise InvalidTransitionError(
                "the incident is closed: it accepts nothing but a reopen"
            )

    def _after_last_lifecycle_step(self, ctx: Context, event_class: type[object]) -> None:
        # Keeping resolution, closure and reopening in recording order lets the status stay
        # version-based and still agree with a replay in the order things happened.
        self._check_writable(event_class)  # a closed incident says so before any time rule
        steps = self.lifecycle_steps
        if steps:
            self._not_before(ctx, steps[-1], f"the incident's {self._noun_of(steps[-1])}")

    def _answer(self, ctx: Context, resident_id: str) -> None:
        require_text(resident_id, "resident_id")
        if resident_id not in self.pending_consents():
            raise InvalidTransitionError(
                f"no consent request is pending for {resident_id}; request consent first"
            )
        self._after_beginning(ctx)
        self._not_before(ctx, self._pending_request(resident_id), "the consent request")

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

    def _naming(self, early: list[int]) -> str:
        return f": {', '.join(self._name_of(v) for v in early)} would"

    def _check_times(self, times: dict[int, datetime]) -> None:
        self._check_beginning(times)
        for responder, chain in self.responders.items():
            steps = [v for v in (chain.dispatched, chain.en_route, chain.on_scene) if v is not None]
            for earlier, later in itertools.pairwise(steps):
                if times[later] < times[earlier]:
                    raise InvalidTransitionError(
                        f"{responder}'s {self._name_of(later)} would precede their "
                        f"{self._name_of(earlier)}: times can't go backwards"
                    )
        for earlier, later in itertools.pairwise(self.lifecycle_steps):
            if times[later] < times[earlier]:
                raise InvalidTransitionError(
                    f"the incident's {self._noun_of(later)} would precede its "
                    f"{self._noun_of(earlier)}: times can't go backwards"
                )
        for answer, request in self.answered_requests.items():
            if times[answer] < times[request]:
                raise InvalidTransitionError(
                    "a consent answer would precede the request it answered"
                )
        for version in self.forced_entries:
            if not self._entry_permitted(times[version], times):
                raise InvalidTransitionError(
                    "the forced entry would precede any consent granted or exigent authorisation"
                )

