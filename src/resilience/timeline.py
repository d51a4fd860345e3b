"""A timeline of one aggregate's facts: from the ``timelines`` view, or straight from events.

Entries are in effective ``occurred_at`` order (corrections applied; the
recording order breaks ties). Each shows who did what, how long after the
first fact (detection, or the order's placement) it happened, when it was
recorded and how late that was. A corrected entry keeps its original time
and details alongside the corrected ones.

Every fact is listed, whatever cycle it belongs to: each entry carries its
``cycle``, the number of reopenings at or before it in that order (a
reopening is the first fact of the cycle it begins; cycle 0 is everything
before the first reopening): cut by the domain's one rule,
``resilience.domain.base.in_cycles``.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from attrs import evolve, field, frozen

from resilience.adapters.report_data import report_data
from resilience.domain.base import Correction, FactAggregate, in_cycles
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.service import ServiceOrder
from resilience.domain.values import Actor, Role
from resilience.i18n import _

_REOPENINGS: Mapping[str, frozenset[str]] = {
    aggregate.Event.aggregate_kind: frozenset(aggregate.declared(lambda e: e.reopens or None))
    for aggregate in (Community, Incident, ServiceOrder, ImprovementItem)}
"""Aggregate kind (as the views name it) -> the names of the facts that reopen it, read off
the event classes (``reopens``) as the aggregates themselves read it: a view document names
facts, not classes. (resilience.metrics.milestones keeps the same reading for cases, but the
timeline sits below the metrics, so it reads the classes itself.)"""


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
    cycle: int = 0
    """0 before the first reopening, n from the nth reopening on (the reopening included)."""

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
    position: int | None = field(default=None, eq=False)
    """The views' position (notification id) the answer reflects at least: read after the
    views caught up, before the documents (None: not read from the views)."""

    def first(self, action: str) -> TimelineEntry | None:
        """The earliest entry of an action (a fact name, e.g. ``"Contained"``)."""
        return next((e for e in self.entries if e.action == action), None)

    def elapsed_until(self, action: str) -> timedelta | None:
        entry = self.first(action)
        return entry.elapsed if entry is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"timeline"``: the
        aggregate, its start and every entry (the actor's every field, ``elapsed`` in
        seconds), and the views' position."""
        return report_data(self, "timeline")


def build_timeline(events: Iterable[FactAggregate.Event]) -> Timeline:
    """The timeline of one aggregate's events (all of them, in version order)."""
    facts: Sequence[FactAggregate.Event] = list(events)
    if not facts:
        raise ValueError(_("a timeline needs at least one event"))
    times: dict[int, datetime] = {}
    details: dict[int, str] = {}
    corrections: dict[int, list[int]] = {}
    for event in facts:
        version = event.originator_version
        times[version] = event.occurred_at
        details[version] = event.describe()
        if isinstance(event, Correction):
            corrections.setdefault(event.corrects, []).append(version)
        match event:
            case FactAggregate.TimeCorrected():
                times[event.corrects] = event.corrected_to
            case FactAggregate.DetailsCorrected():
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
            original_details=e.describe(),
            corrected_by=tuple(corrections.get(e.originator_version, ())),
        )
        for e in facts
    ]
    reopenings = {e.originator_version for e in facts if type(e).reopens}
    return Timeline(facts[0].originator_id, start, _in_cycles(entries, reopenings))


def _in_cycles(entries: Sequence[TimelineEntry], reopenings: Collection[int]
               ) -> tuple[TimelineEntry, ...]:
    """The entries in happening order, each with its cycle as the domain cuts them
    (``in_cycles``; ``reopenings``: the versions of the facts that reopen the aggregate)."""
    cycles = in_cycles(entries, lambda entry: entry.version in reopenings)
    return tuple(evolve(entry, cycle=number) if number else entry
                 for number, cycle in enumerate(cycles) for entry in cycle)


def timeline_from_doc(aggregate_id: Any, doc: dict[str, Any]) -> Timeline:
    """The timeline held in a ``timelines`` view document (see resilience.projections)."""
    parse = datetime.fromisoformat
    corrected: dict[str, dict[str, Any]] = doc.get("corrected", {})
    entries = []
    for version, action, person, role, occurred, recorded, details, *marks in doc["entries"]:
        amended = corrected.get(str(version), {})
        override, imported_by = marks or (None, None)  # the actor had neither
        entries.append(TimelineEntry(
            version=version, action=action,
            actor=Actor(person, Role(role), override=override, imported_by=imported_by),
            occurred_at=parse(amended.get("time", occurred)), recorded_at=parse(recorded),
            details=amended.get("text", details), elapsed=timedelta(0),
            original_occurred_at=parse(occurred), original_details=details,
            corrected_by=tuple(amended.get("by", ())),
        ))
    start = entries[0].occurred_at
    entries = [evolve(e, elapsed=e.occurred_at - start) for e in entries]
    reopening = _REOPENINGS.get(doc.get("kind", ""), frozenset())
    reopenings = {e.version for e in entries if e.action in reopening}
    return Timeline(aggregate_id, start, _in_cycles(entries, reopenings))
