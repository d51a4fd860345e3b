"""Linked recovery: the facts that tie an incident to the work that repairs what it broke.

A response is not over when the fire is out: the lock broken with the resident's consent
is repaired by a service order, the storage room cleared by an improvement item. The
link is a fact on both sides, recorded by one command in one transaction
(``engine.incidents.link_recovery``): ``Incident.RecoveryLinked`` on the incident,
``LinkedToIncident`` on the order or item. Each order or item serves the recovery of
at most one incident, and is linked to it once.

Recovery follows the response, so a link is never refused because its incident stands
closed (or its improvement item stands done or cancelled): the facts marked
``RecoveryFact`` are exempt from the amendment rule (``FactAggregate._check_writable``),
and a time correction may move one past the closure. They are no step of anyone's life
and no amendment of a closed record. What counts as recovered is decided when read
(resilience.metrics.recovery).
"""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class RecoveryKind(StrEnum):
    """What an incident's recovery link names: a service order or an improvement item
    (named as the views name their aggregates)."""

    ORDER = "order"
    IMPROVEMENT = "improvement"


class RecoveryFact:
    """What the facts of a recovery link are (a plain mix-in, as ``Correction`` is):
    recorded whether or not their aggregate stands closed."""


class _Closable(Protocol):
    occurred: dict[int, datetime]
    fact_types: dict[int, Any]

    def _closure(self) -> int | None: ...


def links_kept_in_place(aggregate: _Closable,
                        times: Mapping[int, datetime]) -> dict[int, datetime]:
    """``times`` with each recovery fact dated at the standing closure (as corrected): what
    the closure rule for corrections (``FactAggregate._check_closure_kept``) checks, so a
    link, which needs no reopen, may be moved past the closure."""
    closure = aggregate._closure()
    found = dict(times)
    if closure is None:
        return found
    for version, fact in aggregate.fact_types.items():
        if issubclass(fact, RecoveryFact):
            found[version] = min(times[version], times[closure])
    return found
