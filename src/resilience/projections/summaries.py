"""Where per-case summaries are kept: buckets of a community's cases of one kind that
start in one stretch of time, their figures packed in columns.

A summary is an index derived from a case's ``cases`` document (what a metric report
reads of a case: its dimensions, status, milestones as integer microseconds...), made
by the reader that needs it (resilience.metrics.summaries) and kept here beside the
cases. A **bucket** is one document of the ``summaries`` view: the cases of one
community and kind (``incident``, ``order``) whose start (the effective time of their
first fact) falls in its range of time, ``at`` its first moment (epoch seconds), so a
period's buckets are one indexed range. A bucket holds a UTC month; one that would hold
more than ``LEAF`` cases is split into the two halves of its range (and each half
likewise), so a page that changes a case rewrites a bucket of at most ``LEAF`` cases
however busy the month, and a quiet month stays one document. Key:
``<community>/<kind>/<low>-<high>`` (its range in microseconds); a split bucket's
document is left as a marker (kind ``<kind>:split``) saying to look in its halves.

A bucket holds its cases' keys, in order, and one packed column per figure:

- ``t:<name>`` columns hold times and durations as signed 64-bit integers (microseconds;
  ``NONE`` for a case without one), in base64: reading one decodes at C speed, and
  arithmetic on them is exact (the difference of two is what subtracting the datetimes
  gives, in microseconds);
- every other column holds JSON values (text, flags, small numbers) as codes into its
  list of distinct values, packed the same way;
- ``extra`` holds, by case key, what only some cases have (a reopened case's cycles, an
  incident's recovery links), as JSON.

A case whose start is corrected into another bucket moves: the buckets of the starts it
had before lose it. Nothing here reads a rule: the figures are given (``Entry``) by the
module that makes them.
"""

import base64
import bisect
import functools
from array import array
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from resilience.projections.base import Doc
from resilience.projections.quarantine import PageDocs

SUMMARIES = "summaries"
"""The view's name."""
TIME = "t:"
"""What the names of integer columns begin with."""
NONE = -(2**63)
"""An integer column's value for a case without one."""
START_COLUMN = TIME + "start"
"""The column of each case's start (microseconds): what decides its bucket."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """An aware moment as integer microseconds since the epoch, exactly."""
    return (moment - EPOCH) // _US


def month_of(us: int) -> tuple[int, int]:
    """The UTC (year, month) of a moment in microseconds."""
    moment = EPOCH + timedelta(microseconds=us)
    return moment.year, moment.month


def month_start(year: int, month: int) -> float:
    """The first moment of a UTC month, in epoch seconds."""
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


class Entry(NamedTuple):
    """One case's summary: its column values, and what goes in ``extra``."""

    columns: Mapping[str, Any]
    extra: Mapping[str, Any]


# Packing ------------------------------------------------------------------------------


def _pack_ints(values: Sequence[int]) -> str:
    return base64.b64encode(array("q", values).tobytes()).decode("ascii")


def _unpack_ints(text: str) -> list[int]:
    found = array("q")
    found.frombytes(base64.b64decode(text))
    return found.tolist()


def _pack_values(values: Sequence[Any]) -> dict[str, Any]:
    # JSON keeps True apart from 1 and None apart from "None": keyed on the type too.
    typed = list(zip(map(type, values), values, strict=True))
    index = {value: code for code, value in enumerate(dict.fromkeys(typed))}
    typecode = "B" if len(index) <= 256 else "I"
    codes = array(typecode, map(index.__getitem__, typed))
    return {"v": [value for _, value in index], "t": typecode,
            "c": base64.b64encode(codes.tobytes()).decode("ascii")}


def _unpack_values(packed: Mapping[str, Any]) -> list[Any]:
    codes = array(packed["t"])
    codes.frombytes(base64.b64decode(packed["c"]))
    return list(map(packed["v"].__getitem__, codes))


def _unpack(name: str, packed: Any) -> list[Any]:
    if name.startswith(TIME):
        return [None if v == NONE else v for v in _unpack_ints(packed)]
    return _unpack_values(packed)


# Reading ------------------------------------------------------------------------------


class Bucket:
    """A bucket document read: its cases' keys and columns, each decoded when first asked."""

    def __init__(self, key: str, doc: Mapping[str, Any]) -> None:
        self.key = key
        self.doc = doc
        self.community: str = doc["community"]
        self.kind: str = doc["kind"]
        self.size: int = doc["n"]
        self._columns: dict[str, list[Any]] = {}

    @property
    def keys(self) -> list[str]:
        text: str = self.doc["keys"]
        return text.split(" ") if text else []

    def ints(self, name: str) -> list[int]:
        """A time column as stored, ``NONE`` for a case without one (faster to compare)."""
        packed = self.doc["cols"].get(name)
        return [NONE] * self.size if packed is None else _unpack_ints(packed)

    def column(self, name: str) -> list[Any]:
        """A column's values in case order (None for a case without one)."""
        found = self._columns.get(name)
        if found is None:
            packed = self.doc["cols"].get(name)
            found = [None] * self.size if packed is None else _unpack(name, packed)
            self._columns[name] = found
        return found

    @property
    def extra(self) -> Mapping[str, Mapping[str, Any]]:
        """Case key -> what only some cases have."""
        found: Mapping[str, Mapping[str, Any]] = self.doc["extra"]
        return found


# Keeping ------------------------------------------------------------------------------

LEAF = 128
"""Cases a bucket holds before it splits in two: a page that changes a case rewrites
its bucket whole, so buckets stay small however many cases a month holds."""
SPLIT = ":split"
"""What the kind of a bucket split in two ends with (no report reads it)."""


class _Leaf:
    """A bucket decoded for rewriting: its keys in order, its columns (a time column as
    stored, ``NONE`` or None for none), its extras."""

    def __init__(self, doc: Doc | None) -> None:
        if doc is None:
            self.keys: list[str] = []
            self.columns: dict[str, list[Any]] = {}
            self.extra: dict[str, Any] = {}
            return
        self.keys = doc["keys"].split(" ") if doc["keys"] else []
        self.columns = {name: _unpack_ints(packed) if name.startswith(TIME)
                        else _unpack_values(packed) for name, packed in doc["cols"].items()}
        self.extra = dict(doc["extra"])

    def put(self, key: str, entry: Entry | None) -> None:
        """The case's entry (None: the case taken out), in its place by key."""
        keys, columns = self.keys, self.columns
        index = bisect.bisect_left(keys, key)
        present = index < len(keys) and keys[index] == key
        self.extra.pop(key, None)
        if entry is None:
            if present:
                del keys[index]
                for values in columns.values():
                    del values[index]
            return
        given = entry.columns
        if not present:
            keys.insert(index, key)
            for values in columns.values():
                values.insert(index, None)
        else:  # what it no longer has: none (``doc`` packs it)
            for name in columns.keys() - given.keys():
                columns[name][index] = None
        for name, value in given.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * len(keys)
            column[index] = value
        if entry.extra:
            self.extra[key] = dict(entry.extra)

    def part(self, rows: Sequence[int]) -> "_Leaf":
        """The leaf of the cases ``rows`` alone."""
        found = _Leaf(None)
        found.keys = [self.keys[row] for row in rows]
        found.columns = {name: [values[row] for row in rows]
                         for name, values in self.columns.items()}
        found.extra = {key: self.extra[key] for key in found.keys if key in self.extra}
        return found

    def doc(self, community: str, kind: str, low: int, high: int) -> Doc:
        columns = {name: [NONE if v is None else v for v in values] if name.startswith(TIME)
                   else values for name, values in self.columns.items()}
        return {"kind": kind, "community": community, "at": low / 1_000_000, "low": low,
                "high": high, "n": len(self.keys), "keys": " ".join(self.keys),
                "cols": {name: _pack_ints(values) if name.startswith(TIME)
                         else _pack_values(values)
                         for name, values in sorted(columns.items())
                         if (values.count(NONE) if name.startswith(TIME)
                             else values.count(None)) < len(values)},
                "extra": dict(sorted(self.extra.items()))}


@functools.cache
def _month_bounds(year: int, month: int) -> tuple[int, int]:
    return (micros(datetime(year, month, 1, tzinfo=UTC)),
            micros(datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)))


def _month(us: int) -> tuple[int, int]:
    """The bounds (microseconds) of the UTC month of a moment."""
    return _month_bounds(*month_of(us))


def node_key(community: str, kind: str, low: int, high: int) -> str:
    """A bucket's key: its community, kind, and the range of starts [low, high) it holds."""
    return f"{community}/{kind}/{low}-{high}"


Leaves = list[tuple[int, int, Doc | None]]
"""A month's buckets (low, high, document; None: not written yet), in order of time."""


def _leaves(docs: PageDocs, community: str, kind: str, months: set[tuple[int, int]]
            ) -> dict[tuple[int, int], Leaves]:
    """The buckets of each month: its own, or the halves of a split one, and so on;
    read a level at a time."""
    found: dict[tuple[int, int], Leaves] = {month: [] for month in months}
    level = [(month, month) for month in months]
    while level:
        docs.prefetch(node_key(community, kind, *node) for _, node in level)
        deeper = []
        for month, (low, high) in level:
            doc = docs.get(node_key(community, kind, low, high))
            if doc is not None and doc["kind"].endswith(SPLIT):
                middle = (low + high) // 2
                deeper += [(month, (low, middle)), (month, (middle, high))]
            else:
                found[month].append((low, high, doc))
        level = deeper
    for leaves in found.values():
        leaves.sort(key=lambda leaf: leaf[0])
    return found


def _write(docs: PageDocs, community: str, kind: str, low: int, high: int,
           leaf: _Leaf) -> None:
    """Write a bucket, split in two halves of its range (and so on) while it holds more
    than LEAF cases."""
    key = node_key(community, kind, low, high)
    if len(leaf.keys) <= LEAF or high - low < 2:
        docs.put(key, leaf.doc(community, kind, low, high))
        return
    docs.put(key, {"kind": kind + SPLIT, "community": community, "at": low / 1_000_000,
                   "low": low, "high": high})
    middle = (low + high) // 2
    starts = leaf.columns[START_COLUMN]
    early = [row for row, start in enumerate(starts) if start < middle]
    late = [row for row, start in enumerate(starts) if start >= middle]
    _write(docs, community, kind, low, middle, leaf.part(early))
    _write(docs, community, kind, middle, high, leaf.part(late))


def keep(changed: Iterable[tuple[str, str, str, int, Iterable[int], Entry]],
         docs: PageDocs) -> None:
    """Put each changed case's summary in its bucket and take it out of the buckets it
    left: ``(community, kind, key, start, starts, entry)``, ``start`` the case's start
    now and ``starts`` every start it ever had (microseconds)."""
    entries = list(changed)
    months: dict[tuple[str, str], set[tuple[int, int]]] = {}
    for community, kind, _, start, starts, _ in entries:
        months.setdefault((community, kind), set()).update(map(_month, {start, *starts}))
    leaves = {place: _leaves(docs, *place, wanted) for place, wanted in months.items()}
    lows = {(place, month): [low for low, _, _ in found]
            for place, by_month in leaves.items() for month, found in by_month.items()}

    def leaf(place: tuple[str, str], us: int) -> tuple[int, int, Doc | None]:
        month = _month(us)
        return leaves[place][month][bisect.bisect_right(lows[(place, month)], us) - 1]

    changes: dict[tuple[str, str, int, int], tuple[Doc | None, dict[str, Entry | None]]] = {}
    for community, kind, key, start, starts, entry in entries:
        place = (community, kind)
        low, high, doc = leaf(place, start)
        changes.setdefault((*place, low, high), (doc, {}))[1][key] = entry
        for us in set(starts) - {start}:
            left = leaf(place, us)
            if left[:2] != (low, high) and left[2] is not None:
                changes.setdefault((*place, *left[:2]), (left[2], {}))[1].setdefault(key, None)
    for (community, kind, low, high), (doc, puts) in changes.items():
        found = _Leaf(doc)
        for key, summary in sorted(puts.items()):
            found.put(key, summary)
        _write(docs, community, kind, low, high, found)
