"""The live response in a review's document: each incident's escalations, graded
(:mod:`.escalations` has the rule), and the recovery work linked to it, as blocks.

A review grades escalations under the escalation policy it is given (the engine's
current one), not the one the watch ran under: an escalation recorded for a deadline the
current policy lacks reads "not in this policy", and a level only the current policy has
reads "missed" (docs/review.md, "Escalations").
"""

from typing import TYPE_CHECKING

from resilience.i18n import _, ngettext
from resilience.review.blocks import Block, Heading, Mark, Paragraph, Table
from resilience.review.escalations import escalation_summary, told, verdict_words
from resilience.review.text import duration, enum_words, exact_clock

if TYPE_CHECKING:
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
