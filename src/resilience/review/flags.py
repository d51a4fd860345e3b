"""The data-quality flags of one incident's review, worded: missing and out-of-order
milestones, late records, corrections, amendments after closure, corrections by an
interested party, overrides and imports (resilience.metrics.quality finds them).

Times are given to the minute in the zone of the incident's detection
(:func:`resilience.review.text.clock`), people by name (else id) with their role, and
every sentence in the current language (resilience.i18n).
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from resilience.i18n import _, ngettext
from resilience.metrics.cases import Case, Correction
from resilience.metrics.definitions import MetricDefinition
from resilience.metrics.period import ALL_TIME
from resilience.metrics.quality import (
    INTERESTS,
    AmendmentMade,
    InterestedCorrection,
    data_quality,
)
from resilience.review.model import QualityFlag
from resilience.review.text import clock, enum_words, minutes

__all__ = ["flags"]


def flags(case: Case, segments: Sequence[MetricDefinition],
           late_after: timedelta, people: Mapping[str, str]) -> tuple[QualityFlag, ...]:
    """The flags of ``case`` (as its reader may see it), measured on ``segments``."""
    report = data_quality([case], segments, period=ALL_TIME, late_after=late_after)
    found = [QualityFlag("missing", _("not recorded: {milestones} (so {metrics} can't be "
                                      "graded)").format(milestones=", ".join(m.missing),
                                                        metrics=", ".join(m.ungraded)))
             for m in report.missing]
    origin = case.start
    found += [QualityFlag("out_of_order", _("{then} ({then_at}) is before {first} "
                                            "({first_at})").format(
        then=o.expected_then, then_at=clock(o.then_at, origin), first=o.expected_first,
        first_at=clock(o.first_at, origin)))
              for o in report.out_of_order]
    found += [QualityFlag("late", _("{fact} of {time} recorded at {recorded}, {delay} later")
                          .format(fact=enum_words(r.fact), time=clock(r.occurred_at, origin),
                                  recorded=clock(r.recorded_at, origin),
                                  delay=minutes(r.delay)), r.version)
              for r in report.late]
    found += [QualityFlag("correction", _correction(c.fact, c.what, c.before, c.after, c.reason,
                                                    case.start), c.corrects)
              for c in report.corrections]
    moved = {c.version: c for c in case.corrections}
    found += [QualityFlag("amendment", _amendment(a, moved.get(a.version), people, origin),
                          a.version)
              for a in report.amendments]
    found += [QualityFlag("interested", _interested(c, people, origin), c.version)
              for c in report.interested]
    found += [QualityFlag("override", _("{fact} recorded by {person} by override: {reason}")
                          .format(fact=enum_words(o.fact),
                                  person=_person(o.person, o.role, people), reason=o.why),
                          o.version)
              for o in report.overrides]
    found += [QualityFlag("imported", ngettext("{count} fact imported by {importer}",
                                               "{count} facts imported by {importer}",
                                               i.facts).format(
        count=i.facts, importer=people.get(i.importer, i.importer)))
              for i in report.imported]
    return tuple(found)


def _person(person: str, role: str, people: Mapping[str, str]) -> str:
    """"Wang (community staff)": the name (else the id) and the role in words."""
    person = person or _("someone unknown")
    return people.get(person, person) + (f" ({enum_words(role)})" if role else "")


def _interested(correction: InterestedCorrection, people: Mapping[str, str],
                origin: datetime) -> str:
    """"contained moved from 15:14 to 15:12 by Li (squad member), who recorded the
    corrected fact and responded to the incident"."""
    what = _change(correction.fact, correction.what, correction.before, correction.after,
                   origin)
    reasons = [_(INTERESTS[code]) for code in correction.interests]
    who = (_("{some} and {last}").format(some=_(", ").join(reasons[:-1]), last=reasons[-1])
           if len(reasons) > 1 else reasons[0])
    return _("{change} by {person}, who {interests}").format(
        change=what, person=_person(correction.person, correction.role, people),
        interests=who)


def _amendment(amendment: AmendmentMade, correction: Correction | None,
               people: Mapping[str, str], origin: datetime) -> str:
    """"contained moved from 15:14 to 15:12 after the closure, by Wang (community staff),
    recorded at 2022-02-16 09:00"."""
    fact = enum_words(amendment.fact)
    if correction is not None and correction.before is not None and correction.after is not None:
        what = _("{fact} moved from {before} to {after}").format(
            fact=fact, before=clock(correction.before, origin),
            after=clock(correction.after, origin))
    elif correction is not None:
        what = _("{fact} details corrected").format(fact=fact)
    elif amendment.what == "late record":
        what = _("{fact} of {time} recorded late").format(
            fact=fact, time=clock(amendment.occurred_at, origin))
    else:
        what = _("{fact} recorded").format(fact=fact)
    who = _person(amendment.person, amendment.role, people)
    return _("{change} after the closure, by {person}, recorded at {time}").format(
        change=what, person=who, time=clock(amendment.recorded_at, origin))


def _correction(fact: str, what: str, before: datetime | None, after: datetime | None,
                reason: str, origin: datetime) -> str:
    return _("{change}: {reason}").format(change=_change(fact, what, before, after, origin),
                                          reason=reason)


def _change(fact: str, what: str, before: datetime | None, after: datetime | None,
            origin: datetime) -> str:
    """"contained moved from 15:14 to 15:12", "resolved details corrected"."""
    if what == "time" and before is not None and after is not None:
        return _("{fact} moved from {before} to {after}").format(
            fact=enum_words(fact), before=clock(before, origin), after=clock(after, origin))
    return _("{fact} details corrected").format(fact=enum_words(fact))
