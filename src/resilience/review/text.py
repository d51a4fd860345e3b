"""How reviews word names, clock times and durations (one place, so every output agrees).

Sentences (summaries, evidence) give times to the minute with :func:`clock`; the
tables, notes and chart that show what was recorded use :func:`exact_clock` and
:func:`stamp`.
"""

from datetime import datetime, timedelta, tzinfo
from enum import Enum


def words(name: str) -> str:
    """``first_on_scene`` -> "first on scene"; ``ConsentGranted`` -> "consent granted"."""
    spaced = "".join(f" {ch.lower()}" if ch.isupper() and i else ch.lower()
                     for i, ch in enumerate(name))
    return spaced.replace("_", " ")


def enum_words(value: object) -> str:
    """An enum member by its value, anything else as text, in words:
    ``Role.GRID_LEADER`` -> "grid leader"."""
    return words(value.value if isinstance(value, Enum) else str(value))


def clock(at: datetime, origin: datetime | None = None) -> str:
    """The time of day, e.g. "15:07", in ``origin``'s zone (the incident's detection, so
    one review reads in one zone), with the date when it isn't ``origin``'s day."""
    if origin is None:
        return f"{at:%H:%M}"
    moment = at.astimezone(origin.tzinfo)
    return f"{moment:%H:%M}" if moment.date() == origin.date() else f"{moment:%Y-%m-%d %H:%M}"


def exact_clock(at: datetime, origin: datetime) -> str:
    """The time of day as recorded, "15:07" or "15:07:30", in ``origin``'s offset, with
    the date when it isn't ``origin``'s day.

    Unlike :func:`clock` (sentences, to the minute) it keeps the seconds when there are
    any, for the tables, notes and chart that show what was recorded; a moment without
    an offset is shown as it is.
    """
    moment = local(at, origin)
    text = f"{moment:%H:%M:%S}" if moment.second else f"{moment:%H:%M}"
    return text if moment.date() == origin.date() else f"{moment:%Y-%m-%d} {text}"


def local(at: datetime, origin: datetime) -> datetime:
    """``at`` in ``origin``'s offset (unchanged when either has none)."""
    zone: tzinfo | None = origin.tzinfo
    return at.astimezone(zone) if zone is not None and at.tzinfo is not None else at


def stamp(at: datetime | None) -> str:
    """A moment with its date and UTC offset, as it was given: "2022-02-15 15:00 +08:00"
    ("—" when unknown)."""
    if at is None:
        return "—"
    raw = at.strftime("%z")
    offset = f"{raw[:3]}:{raw[3:5]}" if raw else ""
    return f"{at:%Y-%m-%d %H:%M} {offset}".rstrip()


_NOUNS = {"detected": "detection", "reported": "the report", "acknowledged": "acknowledgement",
          "contained": "containment", "resolved": "resolution", "closed": "closure",
          "placed": "the order"}


def noun(milestone: str) -> str:
    """A milestone as the noun a sentence needs: "12 min after detection"."""
    return _NOUNS.get(milestone, words(milestone))


def minutes(duration: timedelta) -> str:
    """"12 min", "1 min 20 s", "40 s", "-2 min", "3 h 05 min"; whole seconds, sign kept."""
    total = round(duration.total_seconds())
    sign, total = ("-" if total < 0 else ""), abs(total)
    whole, seconds = divmod(total, 60)
    if whole >= 120:
        hours, whole = divmod(whole, 60)
        return f"{sign}{hours} h {whole:02d} min"
    if not whole:
        return f"{sign}{seconds} s" if seconds else "0 min"
    return f"{sign}{whole} min" + (f" {seconds} s" if seconds else "")


def duration(value: timedelta | None) -> str:
    """:func:`minutes`, or "—" when unknown."""
    return "—" if value is None else minutes(value)


def in_minutes(value: timedelta) -> float:
    return value.total_seconds() / 60


def one_decimal(value: float) -> str:
    """To one decimal without trailing zeros: "12", "12.5", "0" (never "-0")."""
    rounded = round(value, 1)
    return f"{rounded:g}" if rounded != 0 else "0"


def plural(count: int, noun: str) -> str:
    """"1 resident", "2 residents"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
