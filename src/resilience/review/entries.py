"""How a review's timeline words a recorded fact: people by name, corrections as changes.

The words of a fact are the domain's, recorded in English with the ids of the people it
names (``"p-3001 on scene"``); a review shows:

- each id the review knows a name for as that name (resilience.review.phrases.named), so
  "Zhang Chuanlian on scene"; a name the reader may not see is already "[hidden]" in the
  review's people (resilience.review.sight);
- a time correction as the fact it moved and the change, with its reason:
  "contained: 15:14 → 15:12 (the duty phone log shows ...)", rather than "time of fact 21
  corrected to 2022-02-15T15:12:00+08:00: ..." (the ``#`` column still gives versions);
  the time before a correction is the one the previous correction of the same fact set
  (else the time first recorded), so a chain of corrections reads step by step;
- a details correction as "source found: details corrected (reason)";
- any other fact in the reader's language, by resilience.review.phrases.

A correction whose words are not the domain's (a view written by an older version) is
shown as recorded.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from resilience.i18n import _
from resilience.review.phrases import phrase
from resilience.review.text import enum_words, exact_clock
from resilience.timeline import TimelineEntry

_TIME = re.compile(r"time of fact (\d+) corrected to (\S+?): (.*)\Z", re.DOTALL)
_DETAILS = re.compile(r"details of fact (\d+) corrected: (.*)\Z", re.DOTALL)


def what(entries: Sequence[TimelineEntry], people: Mapping[str, str], origin: datetime
         ) -> dict[int, str]:
    """The "What" of each entry (by version), worded as the module docstring says."""
    by_version = {entry.version: entry for entry in entries}
    return {entry.version: (_correction(entry, by_version, origin)
                            or phrase(entry.action, entry.details, people))
            for entry in entries}


def _correction(entry: TimelineEntry, by_version: Mapping[int, TimelineEntry],
                origin: datetime) -> str | None:
    if entry.action == "TimeCorrected" and (found := _TIME.match(entry.details)):
        corrected = by_version.get(int(found.group(1)))
        after = _moment(found.group(2))
        if corrected is None or after is None:
            return None
        return _("{fact}: {before} → {after} ({reason})").format(
            fact=enum_words(corrected.action),
            before=exact_clock(_before(corrected, entry.version, by_version), origin),
            after=exact_clock(after, origin), reason=found.group(3))
    if entry.action == "DetailsCorrected" and (found := _DETAILS.match(entry.details)):
        corrected = by_version.get(int(found.group(1)))
        if corrected is None:
            return None
        return _("{fact}: details corrected ({reason})").format(
            fact=enum_words(corrected.action), reason=found.group(2))
    return None


def _before(corrected: TimelineEntry, correction: int,
            by_version: Mapping[int, TimelineEntry]) -> datetime:
    """The corrected fact's time just before the correction at version ``correction``."""
    time = corrected.original_occurred_at
    for version in sorted(corrected.corrected_by):
        if version >= correction:
            break
        earlier = by_version.get(version)
        found = _TIME.match(earlier.details) if earlier is not None else None
        moved = _moment(found.group(2)) if found else None
        time = moved or time
    return time


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
