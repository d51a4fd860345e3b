"""The live response in a review's document: each incident's escalations, graded
(:mod:`.escalations` has the rule), and the recovery work linked to it, as blocks; and
what came before it, the hazards recorded at its location before it was detected
(:mod:`.hazards` has the rule).

A review grades escalations under the escalation policy it is given (the engine's
current one), not the one the watch ran under: an escalation recorded for a deadline the
current policy lacks reads "not in this policy", and a level only the current policy has
reads "missed" (docs/review.md, "Escalations").
"""

from typing import TYPE_CHECKING

from resilience.i18n import _, ngettext
from resilience.review.blocks import Block, Heading, Mark, Paragraph, Table
from resilience.review.escalations import escalation_summary, told, verdict_words
from resilience.review.phrases import place_words
from resilience.review.text import duration, enum_words, exact_clock

if TYPE_CHECKING:
    from resilience.review.hazards import PriorHazard, PriorHazards
    from resilience.review.model import IncidentReview


_TONES = {"raised": "good", "missed": "bad", "unneeded": "note", "not_needed": "none",
          "outside_policy": "note"}


def escalation_blocks(incident: "IncidentReview") -> tuple[Block, ...]:
    """Each deadline level due by the cut, graded (resilience.review.escalations)."""
    if incident.escalations is None:
        return (Paragraph(_("Not graded: the review was made without an escalation policy."),
                          css="empty"),)
    results = incident.escalations
    if not results:
        return (Paragraph(escalation_summary(results), css="empty"),)
    origin = incident.detected_at
    cycles = any(result.cycle for result in results)
    rows = tuple(
        (_(result.deadline), str(result.level), *((str(result.cycle),) if cycles else ()),
         exact_clock(result.due_at, origin),
         Mark(verdict_words(result, origin), _TONES[result.verdict]),
         "—" if result.recorded_at is None else exact_clock(result.recorded_at, origin),
         duration(result.lag), told(result.notified, incident.people) or "—")
        for result in results)
    headers = (_("Deadline"), _("Level"), *((_("Cycle"),) if cycles else ()), _("Due"),
               _("Verdict"), _("Raised (recorded)"), _("Lag"), _("Told"))
    return (Paragraph(escalation_summary(results), css="summary"),
            Table(headers, rows, "escalations"))


def recovery_blocks(incident: "IncidentReview") -> tuple[Block, ...]:
    """The recovery work linked to the incident, and when it was complete."""
    recovery = incident.recovery
    if recovery is None:
        return ()
    heading = Heading(3, _("Recovery"))
    if not recovery.links:
        return heading, Paragraph(_("No recovery work was linked to the incident."),
                                  css="empty")
    origin = incident.detected_at
    if recovery.recovered_at is not None:
        verdict = _("Recovered {time}, {duration} after detection.").format(
            time=exact_clock(recovery.recovered_at, origin), duration=duration(recovery.duration))
    else:
        waiting = len(recovery.pending)
        verdict = (ngettext("Not recovered by the cut: {waiting} of {linked} linked piece of "
                            "work still open.",
                            "Not recovered by the cut: {waiting} of {linked} linked pieces of "
                            "work still open.", len(recovery.links)).format(
            waiting=waiting, linked=len(recovery.links))
                   if waiting else _("Not recovered: nothing linked was done."))
    rows = tuple(
        (enum_words(link.kind), link.purpose, exact_clock(link.linked_at, origin),
         Mark(enum_words(link.status) + (_(", awaiting the rating") if link.awaiting_rating
                                         else ""),
              "good" if link.done else "note" if link.dropped else "none"),
         "—" if link.done_at is None else exact_clock(link.done_at, origin),
         str(link.linked_id))
        for link in recovery.links)
    return (heading, Paragraph(verdict, css="summary"),
            Table((_("Work"), _("Purpose"), _("Linked"), _("Status"), _("Done"), _("Id")), rows,
                  "recovery"))


def hazard_blocks(incident: "IncidentReview") -> tuple[Block, ...]:
    """The hazards recorded at the incident's location before its detection, each with
    its status at detection as it happened and as known then (none when not read)."""
    prior = incident.hazards
    if prior is None:
        return ()
    blocks: list[Block] = [Heading(3, _("Hazards before the incident")),
                           Paragraph(hazard_summary(prior), css="summary")]
    if prior.scope == "grid":
        blocks.append(Paragraph(_("The incident names no building: the hazards anywhere in "
                                  "its grid are listed."), css="empty"))
    if not prior.hazards:
        return tuple(blocks)
    origin = incident.detected_at
    rows = tuple(
        (hazard.reference or "—", enum_words(hazard.category), enum_words(hazard.severity),
         place_words(hazard.grid, hazard.building, hazard.unit, hazard.floor) or "—",
         exact_clock(hazard.found_at, origin), exact_clock(hazard.recorded_at, origin),
         incident.people.get(hazard.found_by, hazard.found_by),
         Mark(enum_words(hazard.status_then), "bad" if hazard.open_then else "good"),
         (Mark(_("not yet recorded"), "note") if hazard.status_known_then is None
          else Mark(enum_words(hazard.status_known_then),
                    "bad" if hazard.open_known_then else "good")),
         _hazard_links(hazard, incident.incident_id), hazard.hazard_id)
        for hazard in prior.hazards)
    headers = (_("Reference"), _("Category"), _("Severity"), _("Where"), _("Found"),
               _("Recorded"), _("Found by"), _("At detection, as it happened"),
               _("At detection, as known then"), _("Links"), _("Id"))
    blocks.append(Table(headers, rows, "hazards"))
    return tuple(blocks)


def hazard_summary(prior: "PriorHazards") -> str:
    """The section's summary: "2 hazards recorded at building 30 before detection; 1 was
    still open then (as known then: 1)."."""
    place = hazard_place(prior)
    count = len(prior.hazards)
    if not count:
        return _("No hazards recorded at {place} before detection.").format(place=place)
    recorded = ngettext("{count} hazard recorded at {place} before detection",
                        "{count} hazards recorded at {place} before detection",
                        count).format(count=count, place=place)
    still_open = ngettext("{open} was still open then (as known then: {known})",
                          "{open} were still open then (as known then: {known})",
                          prior.open_then).format(open=prior.open_then,
                                                  known=prior.open_known_then)
    return _("{recorded}; {still_open}.").format(recorded=recorded, still_open=still_open)


def hazard_place(prior: "PriorHazards") -> str:
    """Where the hazards were compared: "building 30", or "grid 3"."""
    return place_words(**{prior.scope: prior.place})


def hazard_count(prior: "PriorHazards | None") -> str:
    """A review's index cell: "2 (1 open)", "0", or "—" (not read)."""
    if prior is None:
        return "—"
    if not prior.hazards:
        return "0"
    return _("{count} ({open} open)").format(count=len(prior.hazards), open=prior.open_then)


def _hazard_links(hazard: "PriorHazard", reviewed: str) -> str:
    """What the hazard was linked to by the review's cut: "order 9e16...; this incident"."""
    links = [*(_("order {id}").format(id=order) for order in hazard.orders),
             *(_("improvement item {id}").format(id=item) for item in hazard.items),
             *(_("this incident") if incident == reviewed
               else _("incident {id}").format(id=incident) for incident in hazard.incidents)]
    return _("; ").join(links) or "—"
