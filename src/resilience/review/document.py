"""What a review's Markdown and HTML say, prepared once: the review as blocks.

Headings, paragraphs, tables and lists (:mod:`.blocks`), every label, verdict and time
worded here (the live response's sections, escalations and recovery, in :mod:`.response`),
so the two outputs always say the same thing: :mod:`.markdown` and :mod:`.html` only lay
the blocks out (the HTML adds coloured grade badges and, for each ``Chart`` block, the
chart of :mod:`.chart`).
"""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from resilience.metrics import DEFAULT_LATE_AFTER
from resilience.review.blocks import (
    Badge,
    Block,
    BulletList,
    Cell,
    Chart,
    Heading,
    Mark,
    Paragraph,
    Section,
    Table,
)
from resilience.review.escalations import escalation_summary
from resilience.review.response import escalation_blocks, recovery_blocks
from resilience.review.sight import HIDDEN
from resilience.review.text import duration, enum_words, exact_clock, in_minutes, one_decimal, stamp

if TYPE_CHECKING:
    from resilience.projections.plan_items import PlanItem
    from resilience.review.model import AfterActionReview, Finding, Grade, IncidentReview
    from resilience.timeline import TimelineEntry


def document(review: "AfterActionReview") -> tuple[Block, ...]:
    """The review's front matter, the summary across incidents (when several), each
    incident's section and the improvement plan."""
    blocks: list[Block] = [_front_matter(review)]
    if len(review.incidents) > 1:
        blocks.append(_overall(review))
    blocks += [_incident(incident, n) for n, incident in enumerate(review.incidents, 1)]
    blocks.append(_plan(review))
    return tuple(blocks)


def _front_matter(review: "AfterActionReview") -> Section:
    where = review.community + (f", grid {review.grid}" if review.grid else "")
    blocks: list[Block] = [
        Heading(1, review.title),
        Paragraph(review.scope, "Scope", "meta"),
        Paragraph(where, "Community", "meta"),
    ]
    if review.as_of is not None:
        blocks.append(Paragraph(f"{stamp(review.as_of)} (only what had happened by then)",
                                "As of", "meta"))
    if review.known_at is not None:
        blocks.append(Paragraph(
            f"{stamp(review.known_at)} (only what had been recorded by then)",
            "Known at", "meta"))
    if len(review.incidents) != 1:
        drills = f", {review.drills} of them drills" if review.drills else ""
        blocks.append(Paragraph(f"{len(review.incidents)}{drills}", "Incidents", "meta"))
    blocks.append(Paragraph(stamp(review.generated_at), "Generated", "meta"))
    if review.viewer is not None:
        viewer = review.viewer
        blocks.append(Paragraph(
            f"{viewer.person_id} ({enum_words(viewer.role)}); personal data the policy keeps "
            f"from them reads {HIDDEN}", "Read as", "meta"))
    if review.verified is not None:
        blocks.append(Paragraph(review.verified.statement, "Verification",
                                "meta" if review.verified.ok else "meta alert"))
    return Section("front", tuple(blocks))


def _overall(review: "AfterActionReview") -> Section:
    keys = ("P", "S", "M", "U", "n/a", "pending")
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (summary.title, _badge(summary.grade), *_counts(summary.counts, keys),
         summary.evidence or "—")
        for summary in review.objectives
    )
    graded = [result for incident in review.incidents
              for result in incident.escalations or ()]
    escalations = (Paragraph(escalation_summary(graded), "Escalations", "summary"),) if any(
        incident.escalations is not None for incident in review.incidents) else ()
    return Section("overall", (
        Heading(2, f"Objectives across {len(review.incidents)} incidents"),
        Table(("Objective", "Grade", *keys, "Compliance"), rows, "summary"),
        *escalations,
    ))


def _counts(counts: Mapping[str, int], keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(counts.get(key, 0)) for key in keys)


def _badge(grade: "Grade | None", pending: bool = False) -> Badge:
    if grade is not None:
        return Badge(grade, grade.meaning)
    return Badge(None, "not graded yet" if pending else "did not apply", pending)


def _incident(incident: "IncidentReview", number: int) -> Section:
    name = incident.people.get
    facts = [
        f"{'Drill' if incident.drill else 'Incident'} {incident.incident_id}",
        f"{enum_words(incident.incident_type)}, {enum_words(incident.severity)}",
        incident.community_name + (f", grid {incident.grid}" if incident.grid else ""),
        f"detected {stamp(incident.detected_at)}",
        f"status {enum_words(incident.status)}",
    ]
    if incident.commander:
        facts.append(f"commander {name(incident.commander, incident.commander)}")
    # The detection's own description already says "[drill]" when it is one.
    marked = incident.drill and "[drill]" not in incident.description
    title = incident.description + (" (drill)" if marked else "")
    return Section("incident", (
        Heading(2, title),
        Paragraph(" · ".join(facts), css="facts"),
        Paragraph(" ".join(incident.summary), "Summary", "summary"),
        Chart(incident, number),
        Heading(3, "Objectives"),
        _objectives(incident),
        Heading(3, "Segments"),
        _segments(incident),
        Heading(3, "Escalations"),
        *escalation_blocks(incident),
        *recovery_blocks(incident),
        Heading(3, "Strengths"),
        _findings(incident, incident.strengths, "No strengths recorded."),
        Heading(3, "Areas for improvement"),
        _findings(incident, incident.improvements, "No areas for improvement recorded."),
        Heading(3, "Data quality"),
        _quality(incident),
        Heading(3, "Timeline"),
        _timeline(incident),
    ))


def _objectives(incident: "IncidentReview") -> Table | Paragraph:
    if not incident.objectives:
        return Paragraph("No objectives were graded.", css="empty")
    rows = tuple(
        (result.title, _badge(result.grade, result.pending),
         _measured(result.measured, result.target), result.evidence)
        for result in incident.objectives
    )
    return Table(("Objective", "Grade", "Measured", "Evidence"), rows, "objectives")


def _measured(measured: timedelta | None, target: timedelta | None) -> str:
    if measured is None and target is None:
        return "—"
    if target is None:
        return duration(measured)
    return f"{duration(measured)} (target {duration(target)})"


def _segments(incident: "IncidentReview") -> Table | Paragraph:
    if not incident.segments:
        return Paragraph("No segments were measured.", css="empty")
    # Amended after its closure: the figures as known at the closure too, where they differ.
    closure = bool(incident.amendments) and any(
        segment.at_closure != segment.duration for segment in incident.segments)
    rows = tuple(
        (f"{segment.name}: {segment.description}"
         + (f" (reopening {segment.reopening})" if segment.reopening is not None else ""),
         duration(segment.duration), duration(segment.first_recorded),
         *((duration(segment.at_closure),) if closure else ()),
         duration(segment.target), _met(segment.met))
        for segment in incident.segments
    )
    headers = ("Metric", "As corrected", "As first recorded",
               *(("As known at closure",) if closure else ()), "Target", "Met")
    return Table(headers, rows, "segments")


def _met(met: bool | None) -> Mark:
    if met is None:
        return Mark("—", "none")
    return Mark("yes", "good") if met else Mark("no", "bad")


def _findings(incident: "IncidentReview", findings: Iterable["Finding"],
              none: str) -> BulletList | Paragraph:
    titles = {result.name: result.title for result in incident.objectives}
    items = []
    for finding in findings:
        notes = []
        title = titles.get(finding.objective, finding.objective) if finding.objective else ""
        if title and title not in finding.text:
            notes.append(title)
        if finding.versions:
            notes.append("facts " + ", ".join(f"#{v}" for v in finding.versions))
        items.append(Paragraph(finding.text + (f" ({'; '.join(notes)})" if notes else "")))
    return BulletList(tuple(items)) if items else Paragraph(none, css="empty")


_FLAG_LABELS = {
    "missing": "Missing",
    "out_of_order": "Out of order",
    "late": "Late record",
    "correction": "Correction",
    "amendment": "Amended after closure",
    "interested": "Correction by an interested party",
    "override": "Override",
    "imported": "Imported",
}


def _quality(incident: "IncidentReview") -> BulletList | Paragraph:
    if not incident.quality:
        return Paragraph("No data-quality problems found.", css="empty")
    return BulletList(tuple(
        Paragraph(flag.text + (f" (fact #{flag.version})" if flag.version is not None else ""),
                  _FLAG_LABELS.get(flag.kind, flag.kind))
        for flag in incident.quality
    ))


def _timeline(incident: "IncidentReview") -> Table | Paragraph:
    if not incident.timeline.entries:
        return Paragraph("No facts recorded.", css="empty")
    late = {flag.version for flag in incident.quality if flag.kind == "late"}
    origin = incident.detected_at
    # A reopened incident's entries say which cycle they belong to (0: the first response).
    cycles = any(entry.cycle for entry in incident.timeline.entries)
    rows = tuple(
        (str(entry.version), exact_clock(entry.occurred_at, origin),
         _since(entry.occurred_at, origin), _who(incident, entry), entry.details,
         Mark("; ".join(_entry_notes(entry, origin, entry.version in late)), "note"),
         *((str(entry.cycle),) if cycles else ()))
        for entry in incident.timeline.entries
    )
    headers = ("#", "Time", "+min", "Who", "What", "Notes", *(("Cycle",) if cycles else ()))
    return Table(headers, rows, "timeline")


def _since(at: datetime, origin: datetime) -> str:
    elapsed = in_minutes(at - origin)
    return ("+" if elapsed >= 0 else "") + one_decimal(elapsed)


def _who(incident: "IncidentReview", entry: "TimelineEntry") -> str:
    person = entry.actor.person_id
    return f"{incident.people.get(person, person)} ({enum_words(entry.actor.role)})"


def _entry_notes(entry: "TimelineEntry", origin: datetime, flagged_late: bool) -> list[str]:
    notes = []
    if entry.original_occurred_at != entry.occurred_at:
        notes.append(f"time corrected from {exact_clock(entry.original_occurred_at, origin)}")
    if entry.original_details != entry.details:
        notes.append(f"first recorded as “{entry.original_details}”")
    if entry.is_corrected and not notes:
        notes.append("corrected")
    if entry.actor.override is not None:
        notes.append(f"by override: {entry.actor.override}")
    # The review's own flags decide; the library default covers reviews built
    # without late-record flags.
    if flagged_late or entry.record_delay > DEFAULT_LATE_AFTER:
        notes.append(f"recorded {exact_clock(entry.recorded_at, origin)}, "
                     f"{duration(entry.record_delay)} late")
    return notes


def _plan(review: "AfterActionReview") -> Section:
    people: dict[str, str] = {}
    for incident in review.incidents:
        people.update(incident.people)
    titles = {summary.name: summary.title for summary in review.objectives}
    for incident in review.incidents:
        titles.update({result.name: result.title for result in incident.objectives})
    headers = ("Action", "Owner", "Due", "Status", "Objective")

    def row(item: "PlanItem", *extra: str) -> tuple[Cell, ...]:
        objective = titles.get(item.objective, item.objective) if item.objective else "—"
        return (item.action, people.get(item.owner, item.owner), stamp(item.due),
                _status(item), objective, *extra)

    plan: Table | Paragraph = (
        Table(headers, tuple(row(item) for item in review.plan), "plan")
        if review.plan else Paragraph("No improvement items were raised.", css="empty")
    )
    still_open: Table | Paragraph = (
        Table((*headers, "Raised in"),
              tuple(row(item, _raised(item)) for item in review.still_open), "plan")
        if review.still_open else Paragraph("Nothing is still open from earlier reviews.",
                                            css="empty")
    )
    return Section("plan", (
        Heading(2, "Improvement plan"), plan,
        Heading(2, "Still open from earlier reviews"), still_open,
    ))


def _status(item: "PlanItem") -> Mark:
    status = enum_words(item.status)
    if item.overdue:
        return Mark(f"{status}, overdue", "bad")
    return Mark(status, "good" if status == "done" else "none")


def _raised(item: "PlanItem") -> str:
    return f"{item.review}, {item.planned_at:%Y-%m-%d}"
