"""The language human-facing text is written in, its translations, and text widths.

Rules, in the order they are applied:

- **Which language.** :func:`language` (a ``with`` block, scoped to the running thread or
  task) wins over :func:`set_language` (the whole process: what ``--lang`` calls), which
  wins over the environment: ``RESILIENCE_LANG``, then the POSIX locale variables
  ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` (the first one set, as gettext reads them), then
  English. A language this library does not speak raises
  :class:`~resilience.errors.ConfigurationError` when it was asked for by name (an argument
  or ``RESILIENCE_LANG``), but a system locale it does not speak (``fr_FR.UTF-8``, ``C``)
  falls back to English: a French desktop should not make the tool unusable.
- **Names accepted.** ``en`` and ``zh-CN``, case and ``-``/``_`` insensitive, with an
  encoding suffix ignored (``zh_CN.UTF-8``); ``zh``, ``zh-Hans`` and ``zh_Hans_CN`` mean
  ``zh-CN``, and any ``en_*`` means ``en``.
- **Translations.** gettext catalogs of domain ``resilience`` under
  ``resilience/locale/<ll_CC>/LC_MESSAGES/``; English is the source language, so it has
  no catalog and a message without a translation is shown in English.
- **Formats.** Dates and numbers go through Babel's CLDR data; English uses the
  ``en_GB`` conventions (day before month, 24-hour clock), which is what the reports
  printed before they were translated.
- **Widths.** :func:`display_width` counts terminal columns: East Asian Wide and
  Fullwidth characters take two, combining marks and zero-width characters none, so
  plain-text tables line up when they hold Chinese.
"""

import gettext
import os
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_skeleton
from babel.numbers import format_decimal

from resilience.errors import ConfigurationError, InvalidInputError

__all__ = ["LANGUAGES", "N_", "_", "current_language", "display_width", "format_datetime",
           "format_month", "format_number", "gettext_language", "language", "ngettext",
           "normalize_language", "pad", "set_language"]

LANGUAGES = ("en", "zh-CN")
"""The languages the library speaks, in the form :func:`current_language` returns."""

DOMAIN = "resilience"
LOCALE_DIR = Path(__file__).parent / "locale"

_BABEL_LOCALES = {"en": "en_GB", "zh-CN": "zh_Hans_CN"}
_ALIASES = {"en": "en", "zh": "zh-CN", "zhcn": "zh-CN", "zhhans": "zh-CN",
            "zhhanscn": "zh-CN"}

_TIME_FIELDS = frozenset("aBbHhKkmsSjJCvVzZxXO")

_chosen: str | None = None
_scoped: ContextVar[str | None] = ContextVar("resilience_language", default=None)


def _known(lang: str) -> str | None:
    key = lang.split(".", 1)[0].split("@", 1)[0].replace("-", "").replace("_", "").lower()
    if key.startswith("en"):
        return "en"
    return _ALIASES.get(key)


def normalize_language(lang: str) -> str:
    """``lang`` as one of :data:`LANGUAGES` (``"zh_CN.UTF-8"`` -> ``"zh-CN"``), or
    ConfigurationError naming the languages there are."""
    found = _known(lang.strip())
    if found is None:
        raise ConfigurationError(f"unknown language {lang!r}; languages: "
                                 f"{', '.join(LANGUAGES)}")
    return found


def set_language(lang: str | None) -> None:
    """Write in ``lang`` from now on, in the whole process; ``None`` goes back to the
    environment's choice."""
    global _chosen
    _chosen = None if lang is None else normalize_language(lang)


@contextmanager
def language(lang: str | None) -> Iterator[str]:
    """Write in ``lang`` inside the block (this thread or task only); ``None`` leaves the
    language as it is. Yields the language in force."""
    if lang is None:
        yield current_language()
        return
    token = _scoped.set(normalize_language(lang))
    try:
        yield current_language()
    finally:
        _scoped.reset(token)


_ENVIRONMENT = ("RESILIENCE_LANG", "LC_ALL", "LC_MESSAGES", "LANG")


def _from_environment() -> str:
    # Read every time (a test or an app may change the environment), worked out once.
    return _chosen_by(tuple(os.environ.get(name, "") for name in _ENVIRONMENT))


@cache
def _chosen_by(values: tuple[str, ...]) -> str:
    named, *posix = (value.strip() for value in values)
    if named:
        return normalize_language(named)
    return next(((_known(value) or "en") for value in posix if value), "en")


def current_language() -> str:
    """The language text is written in now: one of :data:`LANGUAGES`."""
    return _scoped.get() or _chosen or _from_environment()


def gettext_language(lang: str) -> str:
    """The catalog directory name of a language: ``"zh-CN"`` -> ``"zh_CN"``."""
    return normalize_language(lang).replace("-", "_")


@cache
def _translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[gettext_language(lang)],
                               fallback=True)


def _(message: str) -> str:
    """``message`` in the current language (itself when there is no translation)."""
    return _translations(current_language()).gettext(message)


def N_(message: str) -> str:
    """``message`` unchanged: marks a constant for the catalog (``pybabel extract``) where
    it is defined, to be translated by :func:`_` where it is shown."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for ``n`` things in the current language."""
    return _translations(current_language()).ngettext(singular, plural, n)


def _locale() -> Locale:
    return _babel_locale(current_language())


@cache
def _babel_locale(lang: str) -> Locale:
    return Locale.parse(_BABEL_LOCALES[lang])


def format_datetime(moment: datetime | date, skeleton: str) -> str:
    """``moment`` by a CLDR skeleton (the fields wanted, in any order: ``"yMMMd"``,
    ``"Hm"``, ``"yMMMdHm"``) arranged as the current language arranges them, in
    ``moment``'s own zone.

    CLDR lists skeletons of a date or of a time, so one with both is formatted in two
    halves joined by the locale's own date-and-time pattern ("{1} {0}", "{1}{0}").
    """
    locale = _locale()
    time_part = "".join(ch for ch in skeleton if ch in _TIME_FIELDS)
    date_part = "".join(ch for ch in skeleton if ch not in _TIME_FIELDS)
    if not time_part or not date_part or not isinstance(moment, datetime):
        return format_skeleton(skeleton, moment, locale=locale)
    pattern = str(locale.datetime_formats["medium"])
    return pattern.replace("{1}", format_skeleton(date_part, moment, locale=locale)).replace(
        "{0}", format_skeleton(time_part, moment, locale=locale))


def format_number(value: float | int | Decimal) -> str:
    """``value`` with the current language's decimal and grouping marks."""
    return format_decimal(value, locale=_locale())


def format_month(year: int, month: int) -> str:
    """A calendar month as a title: "February 2022", "2022年2月"."""
    return format_skeleton("yMMMM", date(year, month, 1), locale=_locale())


def display_width(text: str) -> int:
    """The terminal columns ``text`` takes: 2 for East Asian Wide and Fullwidth
    characters, 0 for combining marks and zero-width formatting characters, 1 otherwise."""
    if text.isascii():  # the common case: one column a character, no lookups
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):  # combining marks, zero-width
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int, align: str = "<") -> str:
    """``text`` padded with spaces to ``width`` columns: ``"<"`` left-aligned, ``">"``
    right-aligned, ``"^"`` centred (text wider than ``width`` is returned unchanged)."""
    gap = max(0, width - display_width(text))
    if align == "<":
        return text + " " * gap
    if align == ">":
        return " " * gap + text
    if align == "^":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    raise InvalidInputError(f"align must be '<', '>' or '^', not {align!r}")
