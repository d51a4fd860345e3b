"""Steps: the commands a simulation plans, held as data until they are recorded.

A step is one command: which service runs it, with what, as whom, when it happened
(``occurred``) and when it is recorded (``recorded``: the clock the engine is given).
Planning and recording are apart, so a plan can be counted before anything is
recorded, and tested without a store.

The rule for time: the steps of one aggregate are recorded in the order they were
planned, each at its moment plus any lateness but never before the step before it
(a desk that records one fact late records the facts after it no sooner), so an
aggregate's recorded times never go backwards. A community's steps are recorded in
order of (recorded time, planning order): its log reads as the live system's would.
"""

import heapq
import itertools
import random
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from resilience.domain.values import Actor

ZERO = timedelta(0)
LATE_MINUTES = (20, 45, 90, 600, 2880)
LATE_WEIGHTS = (40, 25, 20, 10, 5)
"""How far behind a late record lags what it records, and how often: mostly within the
hour or two, sometimes written up that evening or two days later."""


def minutes(value: float) -> timedelta:
    """``value`` minutes, to the second (what a desk records)."""
    return timedelta(seconds=round(value * 60))


def lateness(rng: random.Random) -> timedelta:
    """How late a record is made (LATE_MINUTES)."""
    return minutes(rng.choices(LATE_MINUTES, LATE_WEIGHTS)[0])


class Ref(NamedTuple):
    """The version of a fact an earlier step recorded (the step labelled ``label``; its
    first fact, plus ``offset``): known only once that step has run, since a community's
    facts interleave (roster changes, activities) in recording order."""

    label: str
    offset: int = 0


class Step(NamedTuple):
    """One command, as planned. Ordered by (recorded, seq): recording order."""

    recorded: datetime
    seq: int
    """Planning order, unique in its community: breaks ties of recorded time."""
    occurred: datetime
    service: str
    """The engine's service: ``communities``, ``incidents``, ``orders``, ``improvements``."""
    command: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    actor: Actor
    facts: int
    """Facts the command records (a dispatch of three: three)."""
    label: str | None
    """Names the step for a later :class:`Ref` to it."""


class Queue:
    """A community's planned steps not yet recorded, in recording order."""

    def __init__(self) -> None:
        self._heap: list[Step] = []
        self._seq = itertools.count()

    def next_seq(self) -> int:
        return next(self._seq)

    def push(self, step: Step) -> None:
        heapq.heappush(self._heap, step)

    def until(self, moment: datetime | None) -> Iterator[Step]:
        """Take out, in order, the steps recorded before ``moment`` (None: all)."""
        heap = self._heap
        while heap and (moment is None or heap[0].recorded < moment):
            yield heapq.heappop(heap)


class Life:
    """One aggregate's steps, planned in order (see the module's rule for time)."""

    __slots__ = ("_queue", "_recorded", "_service", "facts")

    def __init__(self, queue: Queue, service: str) -> None:
        self._queue = queue
        self._service = service
        self._recorded: datetime | None = None
        self.facts = 0

    def add(self, occurred: datetime, command: str, *args: Any, actor: Actor,
            late: timedelta = ZERO, facts: int = 1, label: str | None = None,
            **kwargs: Any) -> datetime:
        """Plan ``command(*args, actor=actor, occurred_at=occurred, **kwargs)``, recorded
        ``late`` after it happened (or after the previous step, if that is later);
        return ``occurred``."""
        recorded = occurred + late
        if self._recorded is not None and recorded < self._recorded:
            recorded = self._recorded
        self._recorded = recorded
        self._queue.push(Step(recorded, self._queue.next_seq(), occurred, self._service,
                              command, args, kwargs, actor, facts, label))
        self.facts += facts
        return occurred
