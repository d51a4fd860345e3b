"""A case as the facts recorded by a moment make it: the one rule for "known at a cut".

Facts are numbered in the order they were stored, but an import stores each with the time
it was first recorded, so a fact recorded later can come before one recorded earlier: the
facts recorded by ``known_at`` are not always a prefix of the versions. ``known_facts``
applies each fact known then in turn, over the gaps the others leave (so eventsourcing's
version check, which expects the next version, does not refuse it), and a correction only
of a fact known then. The watch's ``engine.deadlines(..., known_at=...)`` and the reviews
read a past cut through it.
"""

from collections.abc import Iterable
from datetime import datetime

from resilience.domain.base import Correction, FactAggregate


def known_facts(events: Iterable[FactAggregate.Event], known_at: datetime | None
                ) -> tuple[FactAggregate | None, list[FactAggregate.Event]]:
    """The aggregate as the ``events`` recorded by ``known_at`` (all of them: None) make
    it, and those events in version order; None if none of them was recorded by then."""
    aggregate: FactAggregate | None = None
    known: list[FactAggregate.Event] = []
    for event in events:
        if known_at is not None and event.timestamp > known_at:
            continue
        if aggregate is not None:
            if isinstance(event, Correction) and event.corrects not in aggregate.occurred:
                continue
            aggregate.version = event.originator_version - 1  # over the facts not known
        aggregate = event.mutate(aggregate)
        known.append(event)
    return aggregate, known
