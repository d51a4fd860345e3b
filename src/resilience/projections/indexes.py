"""What the views index besides a document's kind, community and start: when a case
stops being open, so "what was open at a moment" reads only the cases that may have been.

A case (an incident or a service order) read at an ``as_of`` cut holds the facts that
had happened by then, at their times as corrected today, folded in the order things
happened (``resilience.domain.base.happening_order``: effective time, then version).
Whether it is open then is decided by the latest of its facts that close it or leave it
open (``CLOSING``): an incident's closure closes it and a reopening opens it again; an
order's move closes it when it completes, cancels or rejects it and leaves it open
otherwise. So the cut sees the case closed from the first of the closing facts that end
the case's facts in that order, and never open again. That moment is the row's
``until`` (epoch seconds): a case is open at T only if it began by T (``at <= T``) and
``until`` is None (open now) or later than T. It is an index, not an answer: readers
still read each case it keeps at the cut (resilience.services.point_in_time).

It holds for ``as_of`` cuts only: a ``known_at`` cut leaves out facts recorded later,
which may have closed a case the index counts closed (those readers read every case).
``until`` follows the facts as they stand now, so a correction, a late record or a
reopening moves it when the document is folded again. A row written before the column
existed holds None: read as "may be open", so answers stay exact until a rebuild.
"""

from collections.abc import Mapping
from datetime import datetime

from resilience.domain.incident import Incident
from resilience.domain.service import ENDED_STATUSES, ServiceOrder
from resilience.projections.base import Doc

CLOSING: Mapping[str, Mapping[str, bool]] = {
    "incident": {Incident.Closed.fact_name: True,
                 **Incident.declared(lambda event: False if event.reopens else None)},
    "order": ServiceOrder.declared(
        lambda event: None if event.status_after is None
        else event.status_after in ENDED_STATUSES),
}
"""Kind of case -> the facts after which it stands closed (True) or open (False): an
incident's closure and reopening; an order's moves, closing it when they end it
(completed, cancelled, rejected). The one table of it: resilience.metrics.milestones
exports it as ``CLOSES``, which the cases and the situations' ``is_open`` follow."""


def case_until(doc: Doc) -> float | None:
    """The moment (epoch seconds) from which the ``cases`` document's incident or order is
    closed at every ``as_of`` cut, as its facts stand now: the first of the closing facts
    that end its facts in happening order. None while it is open, and for any other
    document (a community's, an activity's, an emergency's)."""
    closing = CLOSING.get(doc["kind"])
    if closing is None or "facts" not in doc:
        return None
    moves = sorted((datetime.fromisoformat(fact[1]), version, closing[fact[0]])
                   for version, fact in enumerate(doc["facts"], start=1)
                   if fact[0] in closing)
    if not moves or not moves[-1][2]:
        return None
    first = len(moves) - 1
    while first and moves[first - 1][2]:
        first -= 1
    return moves[first][0].timestamp()
