"""What a review's Markdown and HTML say, prepared once: the review as blocks.

Headings, paragraphs, tables and lists (:mod:`.blocks`), every label, verdict and time
worded here (the live response's sections, escalations and recovery, in :mod:`.response`),
so the two outputs always say the same thing: :mod:`.markdown` and :mod:`.html` only lay
the blocks out (the HTML adds coloured grade badges and, for each ``Chart`` block, the
chart of :mod:`.chart`).

Every word here goes through the catalog (resilience.i18n) in the language current when
the document is made: the renderers make it in the review's own language. In the
timeline, a person's id in the recorded words is shown as their name where the review
knows it, and a time correction reads "contained: 15:14 → 15:12 (reason)".
"""

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from resilience.i18n import N_, _, format_datetime
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
from resilience.review.entries import what
from resilience.review.escalations import escalation_summary
from resilience.review.keys import incident_review_key
from resilience.review.phrases import phrase
from resilience.review.response import (
    escalation_blocks,
    hazard_blocks,
    hazard_count,
    recovery_blocks,
)
from resilience.review.sight import HIDDEN
from resilience.review.text import (
    duration,
    enum_words,
    exact_clock,
    in_minutes,
    one_decimal,
    sentences,
    stamp,
)

if TYPE_CHECKING:
    from resilience.projections.plan_items import PlanItem
    from resilience.review.model import AfterActionReview, Finding, Grade, IncidentReview
    from resilience.timeline import TimelineEntry


OVERVIEW_AFTER = 20
"""A review of more incidents than this is written as an overview unless asked in full:
its summary across them, an index of one line per incident, and the plan (a month of a
busy community's incidents in full is a page of many megabytes nobody reads whole)."""


def in_full(review: "AfterActionReview", detail: bool | None) -> bool:
    """Whether the review is written with every incident's section: as ``detail`` says,
    else (None) when it has at most ``OVERVIEW_AFTER`` incidents."""
    return len(review.incidents) <= OVERVIEW_AFTER if detail is None else detail


def document(review: "AfterActionReview", detail: bool | None = None) -> tuple[Block, ...]:
    """The review's front matter, the summary across incidents (when several), each
    incident's section (``in_full``) or else the index of them, and the improvement plan."""
    blocks: list[Block] = [_front_matter(review)]
    if len(review.incidents) > 1:
        blocks.append(_overall(review))
    if in_full(review, detail):
        blocks += [_incident(incident, n) for n, incident in enumerate(review.incidents, 1)]
    else:
        blocks.append(_index(review))
    blocks.append(_plan(review))
    return tuple(blocks)


def _index(review: "AfterActionReview") -> Section:
    """One line per incident: when, what, where, how it stands, when it was contained,
    its grades, and how many hazards were recorded at its location before it (how many
    still open then); its full review by its reference or its id."""
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (str(number), stamp(incident.detected_at),
         (f"{incident.reference} " if incident.reference else "")
         + _("{type}, {severity}").format(type=enum_words(incident.incident_type),
                                          severity=enum_words(incident.severity))
         + (_(" (drill)") if incident.drill else ""),
         incident.grid or "—", enum_words(incident.status), _contained(incident),
         _grades(incident), hazard_count(incident.hazards), incident.incident_id)
        for number, incident in enumerate(review.incidents, 1))
    return Section("index", (
        Heading(2, _("Incidents")),
        Paragraph(_("An overview of {count} incidents, one line each: an incident's full "
                    "review is resilience review ID, the whole review's --detail full.")
                  .format(count=len(review.incidents)), css="summary"),
        Table((_("No."), _("Detected"), _("Incident"), _("Grid"), _("Status"),
               _("Contained after"), _("Grades"), _("Hazards before"), _("Id")), rows,
              "index"),
    ))


def _contained(incident: "IncidentReview") -> str:
    """How long after detection the first response contained it ("—": not contained)."""
    reached = next((m.at for m in incident.milestones
                    if m.name == "contained" and m.cycle == 0), None)
    return duration(None if reached is None else reached - incident.detected_at)


def _grades(incident: "IncidentReview") -> str:
    """How many of its objectives got each grade: "P 3 · U 1"."""
    grades = [result.grade.value if result.grade is not None else "pending"
              for result in incident.objectives]
    return " · ".join(f"{_(key)} {grades.count(key)}" for key in _GRADE_ORDER
                      if key in grades) or "—"


_GRADE_ORDER = ("P", "S", "M", "U", "n/a", "pending")
"""The order grades are counted in, best first (as the summary across incidents)."""


def _front_matter(review: "AfterActionReview") -> Section:
    # The community by its name, its id after it for the command line (the id alone
    # when the review knows no name: a review of no incidents).
    name = next((incident.community_name for incident in review.incidents
                 if incident.community_name), None)
    where = (name or review.community) + (_(", grid {grid}").format(grid=review.grid)
                                          if review.grid else "")
    one = review.incidents[0] if (len(review.incidents) == 1 and review.key
                                  == incident_review_key(review.incidents[0].incident_id)
                                  ) else None
    blocks: list[Block] = [
        Heading(1, review.title),
        (Paragraph(_what_incident(one), _("Scope"), "meta", reference=str(one.incident_id))
         if one is not None else Paragraph(review.scope, _("Scope"), "meta")),
        Paragraph(where, _("Community"), "meta",
                  reference=review.community if name and name != review.community else ""),
    ]
    if review.as_of is not None:
        blocks.append(Paragraph(_("{moment} (only what had happened by then)").format(
            moment=stamp(review.as_of)), _("As of"), "meta"))
    if review.known_at is not None:
        blocks.append(Paragraph(_("{moment} (only what had been recorded by then)").format(
            moment=stamp(review.known_at)), _("Known at"), "meta"))
    if len(review.incidents) != 1:
        drills = (_(", {count} of them drills").format(count=review.drills)
                  if review.drills else "")
        blocks.append(Paragraph(f"{len(review.incidents)}{drills}", _("Incidents"), "meta"))
    blocks.append(Paragraph(stamp(review.generated_at), _("Generated"), "meta"))
    if review.viewer is not None:
        viewer = review.viewer
        blocks.append(Paragraph(
            _("{person} ({role}); personal data the policy keeps from them reads {hidden}")
            .format(person=viewer.person_id, role=enum_words(viewer.role), hidden=_(HIDDEN)),
            _("Read as"), "meta"))
    if review.verified is not None:
        blocks.append(Paragraph(review.verified.statement, _("Verification"),
                                "meta" if review.verified.ok else "meta alert"))
    return Section("front", tuple(blocks))


def _what_incident(incident: "IncidentReview") -> str:
    """The incident as what it is: "DH-2022-0001: fire (high), detected 15 Feb 2022 15:00"
    (its own zone's date and time; its reference first if it has one), or "... drill,
    detected ..."."""
    moment = incident.detected_at
    what = (_("{type} ({severity}) drill, detected {date} {time}") if incident.drill
            else _("{type} ({severity}), detected {date} {time}")).format(
        type=enum_words(incident.incident_type), severity=enum_words(incident.severity),
        date=format_datetime(moment, "yMMMd"), time=f"{moment:%H:%M}")
    if incident.reference is None:
        return what
    return _("{reference}: {what}").format(reference=incident.reference, what=what)


def _overall(review: "AfterActionReview") -> Section:
    keys = _GRADE_ORDER
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (summary.title, _badge(summary.grade), *_counts(summary.counts, keys),
         summary.evidence or "—")
        for summary in review.objectives
    )
    graded = [result for incident in review.incidents
              for result in incident.escalations or ()]
    escalations = (Paragraph(escalation_summary(graded), _("Escalations"), "summary"),) if any(
        incident.escalations is not None for incident in review.incidents) else ()
    return Section("overall", (
        Heading(2, _("Objectives across {count} incidents").format(
            count=len(review.incidents))),
        Table((_("Objective"), _("Grade"), *map(_, keys), _("Compliance")), rows, "summary"),
        *escalations,
    ))


def _counts(counts: Mapping[str, int], keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(counts.get(key, 0)) for key in keys)


def _badge(grade: "Grade | None", pending: bool = False) -> Badge:
    if grade is not None:
        return Badge(grade, grade.meaning)
    return Badge(None, _("not graded yet") if pending else _("did not apply"), pending)


def _incident(incident: "IncidentReview", number: int) -> Section:
    name = incident.people.get
    facts = [
        (_("Drill {id}") if incident.drill else _("Incident {id}")).format(
            id=incident.incident_id if incident.reference is None
            else f"{incident.reference} ({incident.incident_id})"),
        _("{type}, {severity}").format(type=enum_words(incident.incident_type),
                                        severity=enum_words(incident.severity)),
        incident.community_name + (_(", grid {grid}").format(grid=incident.grid)
                                   if incident.grid else ""),
        _("detected {moment}").format(moment=stamp(incident.detected_at)),
        _("status {status}").format(status=enum_words(incident.status)),
    ]
    if incident.commander:
        facts.append(_("commander {person}").format(
            person=name(incident.commander, incident.commander)))
    # The detection's own description already says "[drill]" when it is one.
    marked = incident.drill and "[drill]" not in incident.description
    title = (phrase("Detected", incident.description, incident.people)
             + (_(" (drill)") if marked else ""))
    return Section("incident", (
        Heading(2, title),
        Paragraph(" · ".join(facts), css="facts"),
        Paragraph(sentences(incident.summary), _("Summary"), "summary"),
        Chart(incident, number),
        Heading(3, _("Objectives")),
        _objectives(incident),
        Heading(3, _("Segments")),
        _segments(incident),
        Heading(3, _("Escalations")),
        *escalation_blocks(incident),
        *recovery_blocks(incident),
        *hazard_blocks(incident),
        Heading(3, _("Strengths")),
        _findings(incident, incident.strengths, _("No strengths recorded."), number),
        Heading(3, _("Areas for improvement")),
        _findings(incident, incident.improvements, _("No areas for improvement recorded."),
                  number),
        Heading(3, _("Data quality")),
        _quality(incident, number),
        Heading(3, _("Timeline")),
        _timeline(incident, number),
    ))


def _objectives(incident: "IncidentReview") -> Table | Paragraph:
    if not incident.objectives:
        return Paragraph(_("No objectives were graded."), css="empty")
    rows = tuple(
        (result.title, _badge(result.grade, result.pending),
         _measured(result.measured, result.target), result.evidence)
        for result in incident.objectives
    )
    return Table((_("Objective"), _("Grade"), _("Measured"), _("Evidence")), rows,
                 "objectives")


def _measured(measured: timedelta | None, target: timedelta | None) -> str:
    if measured is None and target is None:
        return "—"
    if target is None:
        return duration(measured)
    return _("{measured} (target {target})").format(measured=duration(measured),
                                                   target=duration(target))


def _segments(incident: "IncidentReview") -> Table | Paragraph:
    if not incident.segments:
        return Paragraph(_("No segments were measured."), css="empty")
    # Amended after its closure: the figures as known at the closure too, where they differ.
    closure = bool(incident.amendments) and any(
        segment.at_closure != segment.duration for segment in incident.segments)
    rows = tuple(
        (f"{segment.name}: {_(segment.description)}"
         + (_(" (reopening {number})").format(number=segment.reopening)
            if segment.reopening is not None else ""),
         duration(segment.duration), duration(segment.first_recorded),
         *((duration(segment.at_closure),) if closure else ()),
         duration(segment.target), _met(segment.met))
        for segment in incident.segments
    )
    headers = (_("Metric"), _("As corrected"), _("As first recorded"),
               *((_("As known at closure"),) if closure else ()), _("Target"), _("Met"))
    return Table(headers, rows, "segments")


def _met(met: bool | None) -> Mark:
    if met is None:
        return Mark("—", "none")
    return Mark(_("yes"), "good") if met else Mark(_("no"), "bad")


def _facts(number: int) -> str:
    """The id prefix of incident ``number``'s timeline rows: "fact-1-" + the version."""
    return f"fact-{number}-"


def _findings(incident: "IncidentReview", findings: Iterable["Finding"],
              none: str, number: int) -> BulletList | Paragraph:
    titles = {result.name: result.title for result in incident.objectives}
    items = []
    for finding in findings:
        notes = []
        title = titles.get(finding.objective, finding.objective) if finding.objective else ""
        if title and title not in finding.text:
            notes.append(title)
        if finding.versions:
            notes.append(_("facts {versions}").format(
                versions=", ".join(f"#{v}" for v in finding.versions)))
        items.append(Paragraph(finding.text + (_(" ({notes})").format(notes=_("; ").join(notes))
                                               if notes else ""), facts=_facts(number)))
    return BulletList(tuple(items)) if items else Paragraph(none, css="empty")


_FLAG_LABELS = {
    "missing": N_("Missing"),
    "out_of_order": N_("Out of order"),
    "late": N_("Late record"),
    "correction": N_("Correction"),
    "amendment": N_("Amended after closure"),
    "interested": N_("Correction by an interested party"),
    "override": N_("Override"),
    "imported": N_("Imported"),
}


def _quality(incident: "IncidentReview", number: int) -> BulletList | Paragraph:
    if not incident.quality:
        return Paragraph(_("No data-quality problems found."), css="empty")
    return BulletList(tuple(
        Paragraph(flag.text + (_(" (fact #{version})").format(version=flag.version)
                               if flag.version is not None else ""),
                  _(_FLAG_LABELS[flag.kind]) if flag.kind in _FLAG_LABELS else flag.kind,
                  facts=_facts(number))
        for flag in incident.quality
    ))


def _timeline(incident: "IncidentReview", number: int) -> Table | Paragraph:
    if not incident.timeline.entries:
        return Paragraph(_("No facts recorded."), css="empty")
    late = {flag.version for flag in incident.quality if flag.kind == "late"}
    origin = incident.detected_at
    # A reopened incident's entries say which cycle they belong to (0: the first response).
    cycles = any(entry.cycle for entry in incident.timeline.entries)
    said = what(incident.timeline.entries, incident.people, origin)
    rows = tuple(
        (str(entry.version), exact_clock(entry.occurred_at, origin),
         _since(entry.occurred_at, origin), _who(incident, entry), said[entry.version],
         Mark(_("; ").join(_entry_notes(entry, origin, entry.version in late)), "note"),
         *((str(entry.cycle),) if cycles else ()))
        for entry in incident.timeline.entries
    )
    headers = ("#", _("Time"), _("+min"), _("Who"), _("What"), _("Notes"),
               *((_("Cycle"),) if cycles else ()))
    return Table(headers, rows, "timeline",
                 tuple(_facts(number) + str(e.version) for e in incident.timeline.entries))


def _since(at: datetime, origin: datetime) -> str:
    elapsed = in_minutes(at - origin)
    return ("+" if elapsed >= 0 else "") + one_decimal(elapsed)


def _who(incident: "IncidentReview", entry: "TimelineEntry") -> str:
    person = entry.actor.person_id
    return _("{person} ({role})").format(person=incident.people.get(person, person),
                                         role=enum_words(entry.actor.role))


def _entry_notes(entry: "TimelineEntry", origin: datetime, flagged_late: bool) -> list[str]:
    notes = []
    if entry.original_occurred_at != entry.occurred_at:
        notes.append(_("time corrected from {time}").format(
            time=exact_clock(entry.original_occurred_at, origin)))
    if entry.original_details != entry.details:
        notes.append(_("first recorded as “{details}”").format(details=entry.original_details))
    if entry.is_corrected and not notes:
        notes.append(_("corrected"))
    if entry.actor.override is not None:
        notes.append(_("by override: {reason}").format(reason=entry.actor.override))
    # The review's own flags decide; the library default covers reviews built
    # without late-record flags.
    if flagged_late or entry.record_delay > DEFAULT_LATE_AFTER:
        notes.append(_("recorded {time}, {delay} late").format(
            time=exact_clock(entry.recorded_at, origin), delay=duration(entry.record_delay)))
    return notes


def _plan(review: "AfterActionReview") -> Section:
    people: dict[str, str] = {}
    for incident in review.incidents:
        people.update(incident.people)
    titles = {summary.name: summary.title for summary in review.objectives}
    for incident in review.incidents:
        titles.update({result.name: result.title for result in incident.objectives})
    headers = (_("Action"), _("Owner"), _("Due"), _("Status"), _("Objective"))

    def row(item: "PlanItem", *extra: str) -> tuple[Cell, ...]:
        objective = titles.get(item.objective, item.objective) if item.objective else "—"
        return (item.action, people.get(item.owner, item.owner), stamp(item.due),
                _status(item), objective, *extra)

    plan: Table | Paragraph = (
        Table(headers, tuple(row(item) for item in review.plan), "plan")
        if review.plan else Paragraph(_("No improvement items were raised."), css="empty")
    )
    still_open: Table | Paragraph = (
        Table((*headers, _("Raised in")),
              tuple(row(item, _raised(item)) for item in review.still_open), "plan")
        if review.still_open else Paragraph(_("Nothing is still open from earlier reviews."),
                                            css="empty")
    )
    return Section("plan", (
        Heading(2, _("Improvement plan")), plan,
        Heading(2, _("Still open from earlier reviews")), still_open,
    ))


def _status(item: "PlanItem") -> Mark:
    status = enum_words(item.status)
    if item.overdue:
        return Mark(_("{status}, overdue").format(status=status), "bad")
    return Mark(status, "good" if item.status == "done" else "none")


def _raised(item: "PlanItem") -> str:
    return f"{item.review}, {item.planned_at:%Y-%m-%d}"
