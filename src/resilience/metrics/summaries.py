"""Per-case summaries: what the reports read of a case, worked out when its document is
folded, kept beside the cases (resilience.projections.summaries).

A summary is an index, not an answer: the figures ``case_from_doc`` gives the case
(dimensions as last reclassified, status, closure, rating, the resident's "resolved?",
reopenings, every milestone, each reopening's cycle and the recovery links), each
moment as integer microseconds, so that a report reads a month of a community in a
few rows (the buckets of resilience.projections.summaries) and measures a duration
with integer arithmetic, exactly as subtracting the datetimes would. Nothing is graded
here: which cases a definition applies to, what a duration is and what meets a target
are decided when read (resilience.metrics.indexed), so a new or changed definition
still needs no rebuild; a change to how a case is read (resilience.metrics.cases)
needs one, as any change to a view does.

The engine's reports register the summaries on the views when it opens
(``Views.derive``), so every reader of a store keeps them.
"""

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from resilience.i18n import language
from resilience.metrics.cases import read_doc
from resilience.metrics.milestones import DIMENSIONS
from resilience.metrics.recovery import links_of
from resilience.projections.quarantine import PageDocs
from resilience.projections.summaries import SUMMARIES, TIME, Entry, keep, micros

_log = logging.getLogger("resilience.views")

START, OFFSET = "t:start", "t:offset"
"""The start (microseconds) and its recorded offset from UTC (microseconds): the moment
and the local time the case's time buckets are cut in when no zone is given."""
FLAGS = ("drill", "status", "closure", "reopened", "rating", "resolved")
"""The case's other figures, each a column of its name."""
CYCLES, LINKS, UNREADABLE = "cycles", "links", "unreadable"
"""The extras: a reopened case's cycles after the first, an incident's recovery links,
and, for a document that could not be read as a case, why."""
SUBJECTS = ("incident", "order")
_MICROSECOND = timedelta(microseconds=1)
_CHUNK = 1000
"""Cases summarised and put in their buckets at a time."""


def dimension(name: str) -> str:
    """The column of a case dimension (but ``community``, which is the bucket's)."""
    return f"d:{name}"


def milestone(name: str) -> str:
    """The column of a milestone."""
    return TIME + name


_DIMENSIONS = {subject: [(d, dimension(d)) for d in DIMENSIONS[subject] if d != "community"]
               for subject in SUBJECTS}
"""Each subject's dimensions and their columns (the community is the bucket's)."""


def case_entry(doc: Mapping[str, Any]) -> Entry:
    """The summary of a ``cases`` document's incident or order: of the Case
    ``case_from_doc`` reads (resilience.metrics.cases ``read_doc``)."""
    read, steps = read_doc(doc)
    subject = doc["kind"]
    start = read.milestones["detected" if subject == "incident" else "placed"]
    offset = start.utcoffset()
    known: dict[int, int] = {}  # a fact's time marks several milestones: worked out once

    def at(moment: datetime) -> int:
        found = known.get(id(moment))
        if found is None:
            found = known[id(moment)] = micros(moment)
        return found

    dims = read.dims
    columns: dict[str, Any] = {
        START: at(start), OFFSET: None if offset is None else offset // _MICROSECOND,
        "drill": bool(doc.get("drill", False)), "status": read.status,
        "closure": read.closure, "reopened": read.reopened, "rating": read.rating,
        "resolved": read.resolved_by_resident,
        **{column: dims.get(d) for d, column in _DIMENSIONS[subject]},
        **{TIME + name: at(moment) for name, moment in read.milestones.items()}}
    extra: dict[str, Any] = {}
    if len(read.cycles) > 1:
        extra[CYCLES] = [{name: at(moment) for name, moment in cycle.items()}
                         for cycle in read.cycles[1:]]
    links = links_of(steps)
    if links:
        extra[LINKS] = [[version, str(linked), kind, at(moment)]
                        for version, linked, kind, moment in links]
    return Entry(columns, extra)


def _starts(doc: Mapping[str, Any], start: int | None = None) -> list[int]:
    """Every start a case document has had, its start now (``start``, if known) first:
    its first fact's time, and that time before and after each correction of it (the
    buckets it may be in)."""
    parse = datetime.fromisoformat
    found = [micros(parse(doc["facts"][0][1])) if start is None else start]
    for _, corrects, _, what, _, before, after in doc["corrections"]:
        if corrects == 1 and what == "time":
            found += [micros(parse(before)), micros(parse(after))]
    return found


def _place(case: tuple[str, Mapping[str, Any]]) -> tuple[str, str, float]:
    """A case's community, kind and start (epoch seconds, as the view indexes it)."""
    doc = case[1]
    return doc["community"], doc["kind"], doc["at"]


class CaseSummaries:
    """The ``summaries`` view, kept from the ``cases`` documents a page changed
    (resilience.projections.runner ``Views.derive``)."""

    view = SUMMARIES
    source = "cases"

    def derive(self, changed: Mapping[str, dict[str, Any]], docs: PageDocs) -> None:
        cases = sorted(((key, doc) for key, doc in changed.items()
                        if doc.get("kind") in SUBJECTS), key=_place)
        # A chunk at a time, so memory stays flat; in order of place and start, so each
        # chunk fills buckets of its own.
        for first in range(0, len(cases), _CHUNK):
            keep(self._entries(cases[first:first + _CHUNK]), docs)

    @staticmethod
    def _entries(cases: list[tuple[str, dict[str, Any]]]
                 ) -> list[tuple[str, str, str, int, list[int], Entry]]:
        entries = []
        for key, doc in cases:
            try:
                with language("en"):  # its error is stored in the view: in English
                    entry = case_entry(doc)
            except Exception as exc:
                # Never a stop for the views: the reports read the cases of its bucket
                # instead, and raise there what reading it raises, as before.
                _log.warning("case %s could not be summarised: %s", key, exc)
                entry = Entry({START: _starts(doc)[0]}, {UNREADABLE: str(exc)[:300]})
            start = entry.columns[START]
            entries.append((doc["community"], doc["kind"], key, start, _starts(doc, start),
                            entry))
        return entries

