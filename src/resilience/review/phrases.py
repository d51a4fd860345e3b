"""A recorded fact's words in the reader's language: the domain's English phrase read
back into its parts and said again through the catalog.

The domain words each fact once, in English, when it is recorded
(``Incident.ResponderOnScene.describe()``: "p-3101 on scene"), and the views keep only
those words. A review reads them back with the pattern of the fact's phrase, and says
them again with the catalog's message for it, whose placeholders are the pattern's
groups: "{person} on scene" -> "{person}到场". On the way:

- a person's id (``person``, ``resident``) becomes their name where the review knows it;
  in words no pattern reads, every id the review knows is named (:func:`named`), as a
  whole word only ("p-30" is not a part of "p-3001");
- a word of the domain's vocabulary (the incident type, severity, closure reason, action,
  channel) is translated, as :func:`resilience.review.text.enum_words` does; in English it
  is left exactly as recorded ("false_alarm" stays), so an English phrase is the recorded
  one with names for ids;
- what people wrote (descriptions, reasons, notes) is shown as written.

A phrase no pattern reads (a fact added later, words from an older version) is shown
as recorded, with names for ids: never lost, only untranslated. tests/test_i18n.py
replays the Donghu fire and checks every incident fact's phrase is read.
"""

import re
from collections.abc import Mapping

from attrs import frozen

from resilience.i18n import N_, _
from resilience.review.text import words

__all__ = ["named", "phrase"]


@frozen
class _Phrase:
    pattern: str
    message: str
    people: tuple[str, ...] = ()
    vocabulary: tuple[str, ...] = ()
    places: tuple[str, ...] = ()


_TYPE = r"(?P<type>[a-z_]+) \((?P<severity>[a-z_]+)\)"
_KINDS = ("type", "severity")
_PHRASES: Mapping[str, tuple[_Phrase, ...]] = {
    "Detected": (
        _Phrase(_TYPE + r" at (?P<location>.*?): (?P<description>.*) \[drill\]",
                N_("{type} ({severity}) at {location}: {description} [drill]"),
                vocabulary=_KINDS, places=("location",)),
        _Phrase(_TYPE + r" at (?P<location>.*?): (?P<description>.*)",
                N_("{type} ({severity}) at {location}: {description}"), vocabulary=_KINDS,
                places=("location",))),
    "Reported": (_Phrase(r"reported to the community by (?P<channel>.+)",
                         N_("reported to the community by {channel}"),
                         vocabulary=("channel",)),),
    "Acknowledged": (_Phrase(r"acknowledged by the community",
                             N_("acknowledged by the community")),),
    "Reclassified": (_Phrase(r"reclassified as " + _TYPE,
                             N_("reclassified as {type} ({severity})"), vocabulary=_KINDS),),
    "CommanderAssigned": (_Phrase(r"(?P<person>.+) is incident commander",
                                  N_("{person} is incident commander"), ("person",)),),
    "ResponderDispatched": (
        _Phrase(r"(?P<person>\S+) dispatched with (?P<team>.+?): (?P<task>.+)",
                N_("{person} dispatched with {team}: {task}"), ("person",)),
        _Phrase(r"(?P<person>\S+) dispatched with (?P<team>.+)",
                N_("{person} dispatched with {team}"), ("person",)),
        _Phrase(r"(?P<person>\S+) dispatched: (?P<task>.+)",
                N_("{person} dispatched: {task}"), ("person",)),
        _Phrase(r"(?P<person>\S+) dispatched", N_("{person} dispatched"), ("person",))),
    "ResponderEnRoute": (_Phrase(r"(?P<person>.+) en route", N_("{person} en route"),
                                 ("person",)),),
    "ResponderOnScene": (_Phrase(r"(?P<person>.+) on scene", N_("{person} on scene"),
                                 ("person",)),),
    "ActionTaken": (
        _Phrase(r"(?P<action>[a-z ]+): (?P<description>.*) \((?P<equipment>[^()]*)\)",
                N_("{action}: {description} ({equipment})"), vocabulary=("action",)),
        _Phrase(r"(?P<action>[a-z ]+): (?P<description>.*)", N_("{action}: {description}"),
                vocabulary=("action",))),
    "ConsentRequested": (_Phrase(r"consent requested from (?P<resident>\S+): (?P<purpose>.*)",
                                 N_("consent requested from {resident}: {purpose}"),
                                 ("resident",)),),
    "ConsentGranted": (_Phrase(r"(?P<resident>.+) granted consent",
                               N_("{resident} granted consent"), ("resident",)),),
    "ConsentRefused": (
        _Phrase(r"(?P<resident>\S+) refused consent: (?P<reason>.*)",
                N_("{resident} refused consent: {reason}"), ("resident",)),
        _Phrase(r"(?P<resident>.+) refused consent", N_("{resident} refused consent"),
                ("resident",))),
    "ExigentEntryAuthorised": (_Phrase(r"exigent entry authorised: (?P<reason>.*)",
                                       N_("exigent entry authorised: {reason}")),),
    "ForcedEntryMade": (_Phrase(r"forced entry: (?P<target>.*)",
                                N_("forced entry: {target}")),),
    "SourceFound": (_Phrase(r"source found: (?P<description>.*)",
                            N_("source found: {description}")),),
    "Contained": (_Phrase(r"contained: (?P<description>.*)",
                          N_("contained: {description}")),),
    "Resolved": (_Phrase(r"resolved: (?P<summary>.*)", N_("resolved: {summary}")),),
    "Closed": (
        _Phrase(r"closed \((?P<reason>[a-z_]+)\): (?P<note>.*)", N_("closed ({reason}): {note}"),
                vocabulary=("reason",)),
        _Phrase(r"closed \((?P<reason>[a-z_]+)\)", N_("closed ({reason})"),
                vocabulary=("reason",))),
    "Reopened": (_Phrase(r"reopened: (?P<reason>.*)", N_("reopened: {reason}")),),
    "NoteAdded": (_Phrase(r"note: (?P<text>.*)", N_("note: {text}")),),
    "RecoveryLinked": (
        _Phrase(r"recovery: order linked: (?P<purpose>.*)",
                N_("recovery: order linked: {purpose}")),
        _Phrase(r"recovery: improvement item linked: (?P<purpose>.*)",
                N_("recovery: improvement item linked: {purpose}"))),
}
"""Fact name -> its phrases, most specific first (the first whose pattern reads the
whole of the words wins)."""

_COMPILED = {action: tuple((re.compile(p.pattern + r"\Z", re.DOTALL), p) for p in phrases)
             for action, phrases in _PHRASES.items()}


def phrase(action: str, recorded: str, people: Mapping[str, str]) -> str:
    """The recorded words of a fact named ``action`` in the current language, with names
    for ids (the module docstring)."""
    for pattern, found in _COMPILED.get(action, ()):
        match = pattern.match(recorded)
        if match is None:
            continue
        parts = {name: value or "" for name, value in match.groupdict().items()}
        for name in found.people:
            parts[name] = people.get(parts[name], parts[name])
        for name in found.vocabulary:
            parts[name] = _vocabulary(parts[name])
        for name in found.places:
            parts[name] = _place(parts[name])
        return _(found.message).format(**parts)
    return named(recorded, people)


_PLACE = re.compile(r"(?:grid (?P<grid>[^,]+)(?:, |\Z))?(?:building (?P<building>[^,]+)(?:, |\Z))?"
                    r"(?:unit (?P<unit>[^,]+)(?:, |\Z))?(?:floor (?P<floor>-?\d+)(?:, |\Z))?"
                    r"(?P<description>.*)\Z", re.DOTALL)
_PLACE_PARTS = {"grid": N_("grid {grid}"), "building": N_("building {building}"),
                "unit": N_("unit {unit}"), "floor": N_("floor {floor}")}


def _place(recorded: str) -> str:
    """A location as ``Location.__str__`` words it ("grid 3, building 30, unit 1, floor -1,
    basement storage room"), its parts said in the current language."""
    match = _PLACE.match(recorded)
    assert match is not None  # every part is optional: the pattern reads any text
    parts = [_(message).format(**{name: match[name]})
             for name, message in _PLACE_PARTS.items() if match[name] is not None]
    return _(", ").join([*parts, *([match["description"]] if match["description"] else [])])


def _vocabulary(value: str) -> str:
    """A word of the domain's vocabulary translated, or exactly as recorded when the
    catalog has nothing else for it (English)."""
    said = words(value)
    translated = _(said)
    return value if translated == said else translated


def named(text: str, people: Mapping[str, str]) -> str:
    """``text`` with every whole-word id of ``people`` replaced by the person's name."""
    ids = [person for person, name in people.items() if person and name != person]
    if not ids:
        return text
    pattern = re.compile(r"(?<![\w-])(" + "|".join(
        map(re.escape, sorted(ids, key=len, reverse=True))) + r")(?![\w-])")
    return pattern.sub(lambda found: people[found.group(1)], text)
