"""How reviews word names, clock times and durations (one place, so every output agrees).

Sentences (summaries, evidence) give times to the minute with :func:`clock`; the
tables, notes and chart that show what was recorded use :func:`exact_clock` and
:func:`stamp`. Clock times and stamps are numeric (ISO 8601 order) in every language;
durations, words and calendar dates are in the current language (resilience.i18n).
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from enum import Enum

from resilience.i18n import N_, _, current_language, format_datetime


def words(name: str) -> str:
    """``first_on_scene`` -> "first on scene"; ``ConsentGranted`` -> "consent granted"."""
    spaced = "".join(f" {ch.lower()}" if ch.isupper() and i else ch.lower()
                     for i, ch in enumerate(name))
    return spaced.replace("_", " ")


def enum_words(value: object) -> str:
    """An enum member by its value, anything else as text, in words and in the current
    language: ``Role.GRID_LEADER`` -> "grid leader", "网格长" (the catalog's words are
    those of resilience.review.vocabulary)."""
    return _(words(value.value if isinstance(value, Enum) else str(value)))


def day(at: date) -> str:
    """A calendar date in a sentence: "2022-02-15" in English (the reviews' own style),
    the language's long form elsewhere ("2022年2月15日")."""
    return f"{at:%Y-%m-%d}" if current_language() == "en" else format_datetime(at, "yMMMd")


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


_NOUNS = {"detected": N_("detection"), "reported": N_("the report"),
          "acknowledged": N_("acknowledgement"), "contained": N_("containment"),
          "resolved": N_("resolution"), "closed": N_("closure"), "placed": N_("the order")}


def noun(milestone: str) -> str:
    """A milestone as the noun a sentence needs: "12 min after detection"."""
    return _(_NOUNS[milestone]) if milestone in _NOUNS else _(words(milestone))


def minutes(duration: timedelta) -> str:
    """"12 min", "1 min 20 s", "40 s", "-2 min", "3 h 05 min"; whole seconds, sign kept."""
    total = round(duration.total_seconds())
    sign, total = ("-" if total < 0 else ""), abs(total)
    whole, seconds = divmod(total, 60)
    if whole >= 120:
        hours, whole = divmod(whole, 60)
        return sign + _("{hours} h {minutes} min").format(hours=hours, minutes=f"{whole:02d}")
    if not whole:
        return sign + (_("{seconds} s").format(seconds=seconds) if seconds
                       else _("{minutes} min").format(minutes=0))
    if seconds:
        return sign + _("{minutes} min {seconds} s").format(minutes=whole, seconds=seconds)
    return sign + _("{minutes} min").format(minutes=whole)


def duration(value: timedelta | None) -> str:
    """:func:`minutes`, or "—" when unknown."""
    return "—" if value is None else minutes(value)


def in_minutes(value: timedelta) -> float:
    return value.total_seconds() / 60


def sentences(parts: Iterable[str]) -> str:
    """Sentences run together as the language writes them: a space between them in
    English, none after a Chinese full stop."""
    text = ""
    for part in parts:
        text = _("{sentences} {sentence}").format(sentences=text, sentence=part) if text else part
    return text


def one_decimal(value: float) -> str:
    """To one decimal without trailing zeros: "12", "12.5", "0" (never "-0")."""
    rounded = round(value, 1)
    return f"{rounded:g}" if rounded != 0 else "0"


def plural(count: int, noun: str) -> str:
    """"1 resident", "2 residents"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
