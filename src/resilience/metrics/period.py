"""Periods and groupings: which cases a report covers and how it splits them.

A period's bounds are moments that ask (:func:`~resilience.domain.validation.check_moment`
with ``query``): they may lie a day beyond the range of recorded moments, so the last
day, month or year of the range can be asked for in any time zone. ``Period.day``,
``month`` and ``year`` take a year from 1900 to 2199 and a time zone (a ``ZoneInfo`` or
a ``timezone``).
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import TypeVar

from attrs import frozen

from resilience.domain.validation import (
    EARLIEST,
    LATEST,
    check_items,
    check_moment,
    check_text,
    check_whole,
    check_zone,
    shown,
)
from resilience.errors import InvalidInputError
from resilience.i18n import _
from resilience.metrics.cases import Case
from resilience.metrics.milestones import DIMENSIONS

T = TypeVar("T")


@frozen
class Period:
    """The half-open interval [start, end) of the cases' start times; None is unbounded.

    A case belongs to the period its first fact (detection, placement) falls in.
    """

    start: datetime | None = None
    end: datetime | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                check_moment(value, f"period {name}", query=True)
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidInputError(_("a period must end after it starts"))

    @classmethod
    def day(cls, on: date, tz: tzinfo) -> "Period":
        if type(on) is not date and type(on) is not datetime:
            raise InvalidInputError(_("Period.day needs a date, got {value}").format(
                value=shown(on)))
        start = datetime(_year(on.year), on.month, on.day, tzinfo=check_zone(tz, "tz"))
        return cls(start, start + timedelta(days=1))

    @classmethod
    def month(cls, year: int, month: int, tz: tzinfo) -> "Period":
        check_whole(month, "month", 1, 12)
        zone = check_zone(tz, "tz")
        return cls(datetime(_year(year), month, 1, tzinfo=zone),
                   datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone))

    @classmethod
    def year(cls, year: int, tz: tzinfo) -> "Period":
        zone = check_zone(tz, "tz")
        return cls(datetime(_year(year), 1, 1, tzinfo=zone),
                   datetime(year + 1, 1, 1, tzinfo=zone))

    def bounds(self) -> tuple[float | None, float | None]:
        return (self.start.timestamp() if self.start else None,
                self.end.timestamp() if self.end else None)

    def __contains__(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end)

    def __str__(self) -> str:
        if self.start is None and self.end is None:
            return "all time"
        start = self.start.isoformat() if self.start else "the beginning"
        end = self.end.isoformat() if self.end else "now"
        return f"{start} to {end}"


def _year(year: int) -> int:
    """``year``, if moments in it may be recorded."""
    return check_whole(year, "year", EARLIEST.year, LATEST.year - 1)


ALL_TIME = Period()

# Time buckets are cut in a given zone (the period's, by default), or else in the
# local time of the case's start as recorded with its offset.
_BUCKETS: Mapping[str, Callable[[datetime], str]] = {
    "day": lambda t: t.date().isoformat(),
    "week": lambda t: "{}-W{:02d}".format(*t.isocalendar()[:2]),
    "month": lambda t: f"{t.year}-{t.month:02d}",
    "year": lambda t: str(t.year),
}
TIME_BUCKETS = tuple(_BUCKETS)


def bucket_of(name: str, moment: datetime) -> str:
    """The time bucket (``day``, ``week``, ``month``, ``year``) of a moment, in its own
    zone: of its local date alone."""
    return _BUCKETS[name](moment)


def check_group_by(group_by: Sequence[str], subjects: Sequence[str]) -> tuple[str, ...]:
    """The grouping as a tuple, or InvalidInputError naming what can't be grouped by."""
    if group_by is None:
        group_by = ()
    if type(group_by) is str:
        group_by = (group_by,)
    group_by = check_items(group_by, "group_by", check_text)
    for name in group_by:
        if name in _BUCKETS:
            continue
        lacking = [s for s in subjects if name not in DIMENSIONS[s]]
        if lacking:
            known = sorted({d for s in subjects for d in DIMENSIONS[s]} | set(_BUCKETS))
            if lacking == ["incident"]:
                message = _("can't group incidents by {name}; use one of {known}")
            elif lacking == ["order"]:
                message = _("can't group orders by {name}; use one of {known}")
            else:
                message = _("can't group {subjects}s by {name}; use one of {known}")
            raise InvalidInputError(message.format(
                subjects=" and ".join(lacking), name=shown(name), known=", ".join(known)))
    if len(set(group_by)) != len(group_by):
        raise InvalidInputError(_("group_by repeats a name: {names}").format(
            names=shown(list(group_by))))
    return tuple(group_by)


def group_key(case: Case, group_by: Sequence[str],
              tz: tzinfo | None = None) -> tuple[str | None, ...]:
    """The group of a case; time buckets in ``tz``, or in the case's own offset if None."""
    moment = case.start if tz is None else case.start.astimezone(tz)
    return tuple(_BUCKETS[name](moment) if name in _BUCKETS else case.dim(name)
                 for name in group_by)


def place_key(community: str, grid: str | None, moment: datetime, group_by: Sequence[str],
              tz: tzinfo | None = None) -> tuple[str | None, ...]:
    """The group of something that has only a place and a time (an activity)."""
    moment = moment if tz is None else moment.astimezone(tz)
    return tuple(_BUCKETS[name](moment) if name in _BUCKETS else
                 community if name == "community" else grid for name in group_by)


def sort_key(key: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    """Groups in order of their values, unknown (None) last."""
    return tuple((value is None, value or "") for value in key)


def grouped(items: Iterable[T], key: Callable[[T], tuple[str | None, ...]]
            ) -> list[tuple[tuple[str | None, ...], list[T]]]:
    """``items`` split by ``key``, in the order of the keys' values (``sort_key``)."""
    groups: dict[tuple[str | None, ...], list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return sorted(groups.items(), key=lambda entry: sort_key(entry[0]))
