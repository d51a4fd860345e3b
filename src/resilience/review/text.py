"""How reviews word names, clock times and durations (one place, so every output agrees)."""

from datetime import datetime, timedelta


def words(name: str) -> str:
    """``first_on_scene`` -> "first on scene"; ``ConsentGranted`` -> "consent granted"."""
    spaced = "".join(f" {ch.lower()}" if ch.isupper() and i else ch.lower()
                     for i, ch in enumerate(name))
    return spaced.replace("_", " ")


def clock(at: datetime, origin: datetime | None = None) -> str:
    """The time of day, e.g. "15:07", in ``origin``'s zone (the incident's detection, so
    one review reads in one zone), with the date when it isn't ``origin``'s day."""
    if origin is None:
        return f"{at:%H:%M}"
    local = at.astimezone(origin.tzinfo)
    return f"{local:%H:%M}" if local.date() == origin.date() else f"{local:%Y-%m-%d %H:%M}"


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


def plural(count: int, noun: str) -> str:
    """"1 resident", "2 residents"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
