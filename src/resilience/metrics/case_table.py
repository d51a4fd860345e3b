"""The per-case summaries of one query, column by column (resilience.metrics.indexed
computes the reports from them).

A query reads the buckets of its community and months (resilience.projections.summaries)
and keeps the cases that start in its period, by their start in microseconds compared
with the period's bounds as ``Period`` compares moments. A column is decoded, bucket by
bucket, only when a report first asks for it, and kept for the next: the reports of one
scorecard read each column once.
"""

import bisect
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from itertools import compress
from typing import Any, TypeVar
from uuid import UUID

from resilience.metrics.milestones import Subject
from resilience.metrics.period import Period
from resilience.metrics.recovery import (
    RECOVERED,
    Fetch,
    linked_at,
    linked_documents,
    recovered_by,
)
from resilience.metrics.summaries import LINKS, OFFSET, START, UNREADABLE, milestone
from resilience.projections.summaries import EPOCH, NONE, Bucket, micros

T = TypeVar("T")


class Unindexed(Exception):
    """A case among the summaries could not be summarised: read the cases instead (which
    raises what reading it raises)."""


# The cases of a query, by column ----------------------------------------------------


class CaseTable:
    """The summaries of the cases of one subject that start in a period (of the buckets
    given), column by column, each decoded and gathered when first asked.

    ``fetch`` reads linked documents (``Views.fetch``), for the ``recovered`` milestone.
    """

    def __init__(self, subject: Subject, buckets: Iterable[Bucket], period: Period,
                 fetch: Fetch) -> None:
        low = None if period.start is None else micros(period.start)
        high = None if period.end is None else micros(period.end)
        self.subject = subject
        self.fetch = fetch
        self._parts: list[tuple[Bucket, list[int] | None]] = []
        for bucket in buckets:
            if bucket.size == 0:
                continue
            if any(UNREADABLE in extra for extra in bucket.extra.values()):
                raise Unindexed(bucket.key)
            picked: list[int] | None = None
            if low is not None or high is not None:
                picked = [i for i, start in enumerate(bucket.ints(START))
                          if (low is None or start >= low) and (high is None or start < high)]
                if not picked:
                    continue
                if len(picked) == bucket.size:
                    picked = None
            self._parts.append((bucket, picked))
        self._gathered: dict[Hashable, Any] = {}
        """What was asked of every case the buckets' picked (shared by ``where``)."""
        self._rows: list[int] | None = None
        self._mine_: dict[Hashable, Any] = {}
        self.size = sum(b.size if p is None else len(p) for b, p in self._parts)

    def where(self, keep: Sequence[bool]) -> "CaseTable":
        """The table of the cases ``keep`` marks (one flag per case, in order)."""
        table = CaseTable.__new__(CaseTable)
        table.subject, table.fetch, table._parts = self.subject, self.fetch, self._parts
        table._gathered, table._mine_ = self._gathered, {}
        rows = self._rows if self._rows is not None else range(self.size)
        table._rows = list(compress(rows, keep))
        table.size = len(table._rows)
        return table

    def only(self, rows: Sequence[int]) -> "CaseTable":
        """A table of the cases ``rows`` alone (in order), reading only their buckets."""
        every = rows if self._rows is None else [self._rows[row] for row in rows]
        starts, at = [], 0
        for bucket, picked in self._parts:
            starts.append(at)
            at += bucket.size if picked is None else len(picked)
        chosen: dict[int, list[int]] = {}
        for row in every:
            part = bisect.bisect_right(starts, row) - 1
            picked = self._parts[part][1]
            index = row - starts[part]
            chosen.setdefault(part, []).append(index if picked is None else picked[index])
        table = CaseTable.__new__(CaseTable)
        table.subject, table.fetch = self.subject, self.fetch
        table._parts = [(self._parts[part][0], indices) for part, indices in chosen.items()]
        table._gathered, table._rows, table._mine_ = {}, None, {}
        table.size = len(every)
        return table

    def _every(self, name: Hashable, read: Callable[[Bucket], list[Any]]) -> list[Any]:
        """A column of every case the buckets' picked, ``read`` off each bucket."""
        found: list[Any] | None = self._gathered.get(name)
        if found is None:
            found = []
            for bucket, picked in self._parts:
                values = read(bucket)
                found += values if picked is None else list(map(values.__getitem__, picked))
            self._gathered[name] = found
        return found

    def _mine(self, name: Hashable, every: Callable[[], list[Any]]) -> list[Any]:
        """A column of this table's cases."""
        if self._rows is None:
            return every()
        found: list[Any] | None = self._mine_.get(name)
        if found is None:
            found = self._mine_[name] = list(map(every().__getitem__, self._rows))
        return found

    def column(self, name: str) -> list[Any]:
        """A column's values, one per case (None where a case has none); the
        ``recovered`` milestone's worked out from the links."""
        if name == milestone(RECOVERED):
            return self._mine(name, self._recovered)
        return self._mine(name, lambda: self._every(name, lambda b: b.column(name)))

    def times(self, name: str) -> list[int]:
        """A time column as stored: ``NONE`` where a case has none (quicker to compare)."""
        if name == milestone(RECOVERED):
            return self.remembered(("times", name), lambda: [
                NONE if at is None else at for at in self.column(name)])
        return self._mine(("times", name),
                          lambda: self._every(("times", name), lambda b: b.ints(name)))

    @property
    def keys(self) -> list[str]:
        return self._mine("", lambda: self._every("", lambda b: b.keys))

    @property
    def communities(self) -> list[str]:
        return self._mine("community", lambda: self._every(
            "community", lambda b: [b.community] * b.size))

    def extra(self, name: str) -> dict[str, Any]:
        """Case key -> its extra ``name``, of the cases that have one (of every bucket)."""
        found: dict[str, Any] | None = self._gathered.get(("extra", name))
        if found is None:
            found = self._gathered[("extra", name)] = {
                key: extra[name] for bucket, _ in self._parts
                for key, extra in bucket.extra.items() if name in extra}
        return found

    def remembered(self, what: Hashable, work: Callable[[], T]) -> T:
        """``work()``'s answer about this table's cases, worked out once."""
        if what not in self._mine_:
            self._mine_[what] = work()
        found: T = self._mine_[what]
        return found

    def names(self) -> set[str]:
        """The columns any case has."""
        return {name for bucket, _ in self._parts for name in bucket.doc["cols"]}

    def _recovered(self) -> list[Any]:
        """Each incident's recovery (microseconds; None: not recovered, or no links), its
        linked orders and items read as they stand, as ``recovered_cases`` reads them."""
        name = milestone(RECOVERED)
        every: list[Any] | None = self._gathered.get(name)
        if every is None:
            keys, links = self._every("", lambda b: b.keys), self.extra(LINKS)
            wanted = {(found[1], found[2]) for key in keys for found in links.get(key, ())}
            docs = linked_documents(wanted, self.fetch) if wanted else {}
            linked = {(linked_id, kind): linked_at(kind, linked_id, docs.get(linked_id))
                      for linked_id, kind in wanted}
            every = []
            for key in keys:
                found = links.get(key)
                at = None if not found else recovered_by(
                    [(UUID(f[1]), f[2]) for f in found],
                    {UUID(f[1]): linked[(f[1], f[2])] for f in found})
                every.append(None if at is None else micros(at))
            self._gathered[name] = every
        return every

    def start(self, row: int) -> datetime:
        """A case's start as recorded: its moment, in its recorded offset."""
        at, offset = self.column(START)[row], self.column(OFFSET)[row]
        return (EPOCH + timedelta(microseconds=at)).astimezone(
            timezone(timedelta(microseconds=offset)))
