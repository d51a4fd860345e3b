"""What the views index besides a document's kind, community and start: when a case
stops being open, so "what was open at a moment" reads only the cases that may have been.

A case (an incident, a service order or a hazard) read at an ``as_of`` cut holds the
facts that had happened by then, at their times as corrected today, folded in the order
things happened (``resilience.domain.base.happening_order``: effective time, then version).
Whether it is open then is decided by the latest of its facts that close it or leave it
open (``CLOSING``): an incident's closure closes it and a reopening opens it again; an
order's move closes it when it completes, cancels or rejects it and leaves it open
otherwise. So the cut sees the case closed from the first of the closing facts that end
the case's facts in that order, and never open again. That moment is the row's
``until`` (epoch seconds): a case is open at T only if it began by T (``at <= T``) and
``until`` is None (open now) or later than T. It is an index, not an answer: readers
still read each case it keeps at the cut (resilience.services.point_in_time).

An improvement item (a ``plans`` document) is indexed the same way, by its lifecycle
facts (``history``): a completion or cancellation closes it, a start or reopening leaves
it open; and its ``until`` is None while it stands open now (its status is that of the
last fact *recorded*, which a reopening back-dated before the completion it undoes can
tell apart from the happening order), so reading the items open now reads only those.

It holds for ``as_of`` cuts only: a ``known_at`` cut leaves out facts recorded later,
which may have closed a case the index counts closed (those readers read every case).
``until`` follows the facts as they stand now, so a correction, a late record or a
reopening moves it when the document is folded again. A row written before the column
existed holds None: read as "may be open", so answers stay exact until a rebuild.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from resilience.domain.hazard import FINISHED, Hazard
from resilience.domain.improvement import STATUS_AFTER, UNFINISHED
from resilience.domain.incident import Incident
from resilience.domain.service import ENDED_STATUSES, ServiceOrder
from resilience.projections.base import Doc

CLOSING: Mapping[str, Mapping[str, bool]] = {
    "incident": {Incident.Closed.fact_name: True,
                 **Incident.declared(lambda event: False if event.reopens else None)},
    "order": ServiceOrder.declared(
        lambda event: None if event.status_after is None
        else event.status_after in ENDED_STATUSES),
    "hazard": Hazard.declared(
        lambda event: None if event.status_after is None
        else event.status_after in FINISHED),
}
"""Kind of case -> the facts after which it stands closed (True) or open (False): an
incident's closure and reopening; an order's moves, closing it when they end it
(completed, cancelled, rejected); a hazard's moves, closing it when it is verified or
closed without verification (a rectification awaits its verification: still open). The
one table of it: resilience.metrics.milestones exports it as ``CLOSES``, which the cases
and the situations' ``is_open`` follow."""


def case_until(doc: Doc) -> float | None:
    """The moment (epoch seconds) from which the ``cases`` document's incident, order or
    hazard is closed at every ``as_of`` cut, as its facts stand now: the first of the
    closing facts that end its facts in happening order. None while it is open, and for
    any other document (a community's, an activity's, an emergency's, a patrol's)."""
    closing = CLOSING.get(doc["kind"])
    if closing is None or "facts" not in doc:
        return None
    return _closed_from((fact[1], version, closing[fact[0]])
                        for version, fact in enumerate(doc["facts"], start=1)
                        if fact[0] in closing)


ITEM_CLOSING: Mapping[str, bool] = {name: status not in UNFINISHED
                                    for name, status in STATUS_AFTER.items()}
"""An improvement item's lifecycle facts -> whether the item stands closed after it (done,
cancelled) or open (planned, started, reopened)."""


def plan_until(doc: Doc) -> float | None:
    """The moment (epoch seconds) from which the ``plans`` document's item is closed at
    every ``as_of`` cut, as its facts stand now (as ``case_until``, by its lifecycle facts);
    None while it is open at some cut from now on or stands open now, and for any other
    document (a review's list of the items it raised)."""
    if (doc["kind"] != "improvement" or doc.get("status") not in _CLOSED_STATUSES
            or "history" not in doc):
        return None
    return _closed_from((entry[1], version, ITEM_CLOSING[entry[0]]) for entry, version
                        in zip(doc["history"], doc["history_versions"], strict=True))


UNTIL: Mapping[str, Callable[[Doc], float | None]] = {"cases": case_until, "plans": plan_until}
"""View -> the ``until`` of each of its documents (the views' ``until`` column); the
other views' rows hold None."""

_CLOSED_STATUSES = frozenset(status.value for status in STATUS_AFTER.values()
                             if status not in UNFINISHED)


def _closed_from(moves: Iterable[tuple[str, int, bool]]) -> float | None:
    """Of (effective time as ISO text, version, closes?) facts: the time of the first of
    the closing facts that end them in happening order (time, then version); None if the
    last leaves the case open, or there are none."""
    ordered = sorted((datetime.fromisoformat(at), version, closes)
                     for at, version, closes in moves)
    if not ordered or not ordered[-1][2]:
        return None
    first = len(ordered) - 1
    while first and ordered[first - 1][2]:
        first -= 1
    return ordered[first][0].timestamp()
