"""A timeline of one aggregate's facts: from the ``timelines`` view, or straight from events.

Entries are in effective ``occurred_at`` order (corrections applied; the
recording order breaks ties). Each shows who did what, how long after the
first fact (detection, or the order's placement) it happened, when it was
recorded and how late that was. A corrected entry keeps its original time
and details alongside the corrected ones.
"""

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from attrs import evolve, frozen

from resilience.domain.base import FactAggregate
from resilience.domain.improvement import ImprovementItem
from resilience.domain.values import Actor, Role


@frozen
class TimelineEntry:
    version: int
    action: str
    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    details: str
    elapsed: timedelta
    original_occurred_at: datetime
    original_details: str
    corrected_by: tuple[int, ...] = ()

    @property
    def record_delay(self) -> timedelta:
        """How long after it happened (as first reported) the fact was recorded."""
        return self.recorded_at - self.original_occurred_at

    @property
    def minutes(self) -> float:
        """Minutes since the timeline's start (detection or placement)."""
        return self.elapsed.total_seconds() / 60

    @property
    def is_corrected(self) -> bool:
        return bool(self.corrected_by)


@frozen
class Timeline:
    aggregate_id: Any
    start: datetime
    entries: tuple[TimelineEntry, ...]

    def first(self, action: str) -> TimelineEntry | None:
        """The earliest entry of an action (a fact name, e.g. ``"Contained"``)."""
        return next((e for e in self.entries if e.action == action), None)

    def elapsed_until(self, action: str) -> timedelta | None:
        entry = self.first(action)
        return entry.elapsed if entry is not None else None


def _who(event: Any, field: str) -> str:
    return str(getattr(event, field))


_DESCRIBE: dict[str, Callable[[Any], str]] = {
    "Detected": lambda e: f"{e.incident_type.value} ({e.severity.value}) at {e.location}: "
    f"{e.description}" + (" [drill]" if e.drill else ""),
    "Reported": lambda e: f"reported to the community by {e.channel}",
    "Acknowledged": lambda e: "acknowledged by the community",
    "Reclassified": lambda e: f"reclassified as {e.incident_type.value} ({e.severity.value})",
    "CommanderAssigned": lambda e: f"{e.person_id} is incident commander",
    "ResponderDispatched": lambda e: f"{e.responder_id} dispatched"
    + (f" with {e.team}" if e.team else "") + (f": {e.task}" if e.task else ""),
    "ResponderEnRoute": lambda e: f"{e.responder_id} en route",
    "ResponderOnScene": lambda e: f"{e.responder_id} on scene",
    "ActionTaken": lambda e: f"{e.action.value.replace('_', ' ')}: {e.description}"
    + (f" ({', '.join(e.equipment)})" if e.equipment else ""),
    "ConsentRequested": lambda e: f"consent requested from {e.resident_id}: {e.purpose}",
    "ConsentGranted": lambda e: f"{e.resident_id} granted consent",
    "ConsentRefused": lambda e: f"{e.resident_id} refused consent"
    + (f": {e.reason}" if e.reason else ""),
    "ExigentEntryAuthorised": lambda e: f"exigent entry authorised: {e.reason}",
    "ForcedEntryMade": lambda e: f"forced entry: {e.target}",
    "SourceFound": lambda e: f"source found: {e.description}",
    "Contained": lambda e: f"contained: {e.description}",
    "Resolved": lambda e: f"resolved: {e.summary}",
    "Closed": lambda e: f"closed ({e.reason.value})" + (f": {e.note}" if e.note else ""),
    "Reopened": lambda e: f"reopened: {e.reason}",
    "NoteAdded": lambda e: f"note: {e.text}",
    "TimeCorrected": lambda e: f"time of fact {e.corrects} corrected to "
    f"{e.corrected_to.isoformat()}: {e.reason}",
    "DetailsCorrected": lambda e: f"details of fact {e.corrects} corrected: {e.reason}",
    "Placed": lambda e: f"ordered {e.category}/{e.item} for household {e.household_id}, "
    f"expected by {e.expected_by.isoformat()}" + (f": {e.details}" if e.details else ""),
    "Accepted": lambda e: "accepted by the community",
    "Rejected": lambda e: f"rejected: {e.reason}",
    "Dispatched": lambda e: f"dispatched to {e.provider.name or e.provider.provider_id} "
    f"({e.provider.kind.value})",
    "Started": lambda e: "work started",
    "Completed": lambda e: f"completed, {e.outcome.value.replace('_', ' ')}"
    + (f": {e.note}" if e.note else ""),
    "Rated": lambda e: f"rated {e.score}/5" + (f": {e.comment}" if e.comment else ""),
    "Cancelled": lambda e: f"cancelled: {e.reason}",
    "Registered": lambda e: f"{e.name} registered ({e.district}, {e.subdistrict})",
    "GridAdded": lambda e: f"grid {e.grid_id} added",
    "MicroGridAdded": lambda e: f"micro-grid {e.micro_grid_id} added to grid {e.grid_id}",
    "BuildingAdded": lambda e: f"building {e.building_id} added under {e.parent}",
    "ZoneClassified": lambda e: f"{e.area_id} classified {e.zone_type.value}",
    "PersonEnrolled": lambda e: f"{e.person_id} enrolled",
    "RoleAssigned": lambda e: f"{e.person_id} is {e.role.value}"
    + (f" of {e.scope}" if e.scope else ""),
    "RoleRelieved": lambda e: f"{e.person_id} relieved as {e.role.value}"
    + (f" of {e.scope}" if e.scope else ""),
    "CareCardIssued": lambda e: f"care card issued to grid {e.grid_id}",
    "ActivityHeld": lambda e: f"activity held: {e.title} ({e.category}), "
    f"{e.participants} taking part" + (f", grid {e.grid_id}" if e.grid_id else ""),
}
"""One-line descriptions by fact name (``fact_name``, from the topic: never the class name)."""

_DESCRIBE_ITEM: dict[str, Callable[[Any], str]] = {
    "Planned": lambda e: f"planned for review {e.review}: {e.action}; "
    f"owner {e.owner}, due {e.due.isoformat()}" + (f", grid {e.grid}" if e.grid else "")
    + (f", objective {e.objective}" if e.objective else ""),
    "OwnerAssigned": lambda e: f"{e.owner} now owns the item",
    "Rescheduled": lambda e: f"rescheduled to {e.due.isoformat()}: {e.reason}",
    "Started": lambda e: "work on the item started",
    "Completed": lambda e: "completed" + (f": {e.note}" if e.note else ""),
    "Cancelled": lambda e: f"cancelled: {e.reason}",
    "Reopened": lambda e: f"reopened: {e.reason}",
}
"""Improvement items' own descriptions (the rest are ``_DESCRIBE``'s): several of their
fact names are also order facts' (Started, Completed, Cancelled...) with other fields."""


def describe(event: Any) -> str:
    """A one-line human description of a fact."""
    name = type(event).fact_name
    table = _DESCRIBE_ITEM if isinstance(event, ImprovementItem.Event) else _DESCRIBE
    formatter = table.get(name) or _DESCRIBE.get(name)
    return formatter(event) if formatter else name


def build_timeline(events: Iterable[FactAggregate.Event]) -> Timeline:
    """The timeline of one aggregate's events (all of them, in version order)."""
    facts: Sequence[FactAggregate.Event] = list(events)
    if not facts:
        raise ValueError("a timeline needs at least one event")
    times: dict[int, datetime] = {}
    details: dict[int, str] = {}
    corrections: dict[int, list[int]] = {}
    for event in facts:
        version = event.originator_version
        times[version] = event.occurred_at
        details[version] = describe(event)
        if isinstance(event, FactAggregate.TimeCorrected):
            corrections.setdefault(event.corrects, []).append(version)
            times[event.corrects] = event.corrected_to
        elif isinstance(event, FactAggregate.DetailsCorrected):
            corrections.setdefault(event.corrects, []).append(version)
            details[event.corrects] = event.details
    start = times[facts[0].originator_version]
    entries = [
        TimelineEntry(
            version=e.originator_version,
            action=type(e).fact_name,
            actor=e.actor,
            occurred_at=times[e.originator_version],
            recorded_at=e.timestamp,
            details=details[e.originator_version],
            elapsed=times[e.originator_version] - start,
            original_occurred_at=e.occurred_at,
            original_details=describe(e),
            corrected_by=tuple(corrections.get(e.originator_version, ())),
        )
        for e in facts
    ]
    entries.sort(key=lambda entry: (entry.occurred_at, entry.version))
    return Timeline(facts[0].originator_id, start, tuple(entries))


def timeline_from_doc(aggregate_id: Any, doc: dict[str, Any]) -> Timeline:
    """The timeline held in a ``timelines`` view document (see resilience.projections)."""
    parse = datetime.fromisoformat
    corrected: dict[str, dict[str, Any]] = doc.get("corrected", {})
    entries = []
    for version, action, person, role, occurred, recorded, details in doc["entries"]:
        amended = corrected.get(str(version), {})
        entries.append(TimelineEntry(
            version=version, action=action, actor=Actor(person, Role(role)),
            occurred_at=parse(amended.get("time", occurred)), recorded_at=parse(recorded),
            details=amended.get("text", details), elapsed=timedelta(0),
            original_occurred_at=parse(occurred), original_details=details,
            corrected_by=tuple(amended.get("by", ())),
        ))
    start = entries[0].occurred_at
    entries = [evolve(e, elapsed=e.occurred_at - start) for e in entries]
    entries.sort(key=lambda entry: (entry.occurred_at, entry.version))
    return Timeline(aggregate_id, start, tuple(entries))
