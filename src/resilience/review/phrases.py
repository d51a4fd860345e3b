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
  channel, role, zone, outcome, provider kind, emergency kind, escalation deadline) is
  translated, as :func:`resilience.review.text.enum_words` does; in English it is left
  exactly as recorded ("false_alarm" stays), so an English phrase is the recorded one
  with names for ids;
- what people wrote (descriptions, reasons, notes) is shown as written, and so are ids,
  codes and ISO 8601 stamps; a personal value hidden from the reader ("[hidden]",
  resilience.review.sight) is said in the reader's language.

Every fact of every aggregate a timeline shows (communities, incidents, service orders,
improvement items, emergencies) has its phrases here. A phrase no pattern reads (words
from an older version, or a fact added later without its phrase) is shown as recorded,
with names for ids: never lost, only untranslated. tests/test_phrases.py checks, for any
fact of every event class, that its phrase is read and, in Chinese, said without the
English words of the pattern.
"""

import re
from collections.abc import Mapping

from attrs import evolve, frozen

from resilience.domain.values import Role
from resilience.i18n import N_, _
from resilience.review.sight import unhidden
from resilience.review.text import words

__all__ = ["named", "phrase", "place_words", "reading"]


@frozen
class _Phrase:
    pattern: str
    message: str
    people: tuple[str, ...] = ()
    vocabulary: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    """Words of the vocabulary joined by ", " ("grid leader, volunteer")."""
    called: tuple[str, ...] = ()
    """People called up, ", "-joined "p-3001 (grid leader)": each named, their role said."""
    told: tuple[str, ...] = ()
    """Whom an escalation told (``told_text``): roles and bodies said, people named."""
    rules: tuple[str, ...] = ()
    """A patrol plan's rules (``_rules_said``: "weekly: weekly of 30, 31; storage:
    monthly storage_room"): each rule's frequency said, the rest as written."""
    names: bool = False
    """Every other part has the ids in it named (:func:`named`)."""


_TYPE = r"(?P<type>[a-z_]+) \((?P<severity>[a-z_]+)\)"
_KINDS = ("type", "severity")
_INCIDENT: Mapping[str, tuple[_Phrase, ...]] = {
    "Detected": (
        _Phrase(_TYPE + r" at (?P<location>.*?): (?P<description>.*) \[drill\]",
                N_("{type} ({severity}) at {location}: {description} [drill]"),
                vocabulary=_KINDS, places=("location",)),
        _Phrase(_TYPE + r" at (?P<location>.*?): (?P<description>.*)",
                N_("{type} ({severity}) at {location}: {description}"), vocabulary=_KINDS,
                places=("location",))),
    "Reported": (_Phrase(r"reported to the community by (?P<channel>.*)",
                         N_("reported to the community by {channel}"),
                         vocabulary=("channel",)),),
    "Acknowledged": (_Phrase(r"acknowledged by the community",
                             N_("acknowledged by the community")),),
    "Reclassified": (_Phrase(r"reclassified as " + _TYPE,
                             N_("reclassified as {type} ({severity})"), vocabulary=_KINDS),),
    "CommanderAssigned": (_Phrase(r"(?P<person>.*) is incident commander",
                                  N_("{person} is incident commander"), ("person",)),),
    "ResponderDispatched": (
        _Phrase(r"(?P<person>.*?) dispatched with (?P<team>.+?): (?P<task>.+)",
                N_("{person} dispatched with {team}: {task}"), ("person",)),
        _Phrase(r"(?P<person>.*?) dispatched with (?P<team>.+)",
                N_("{person} dispatched with {team}"), ("person",)),
        _Phrase(r"(?P<person>.*?) dispatched: (?P<task>.+)",
                N_("{person} dispatched: {task}"), ("person",)),
        _Phrase(r"(?P<person>.*?) dispatched", N_("{person} dispatched"), ("person",))),
    "ResponderEnRoute": (_Phrase(r"(?P<person>.*) en route", N_("{person} en route"),
                                 ("person",)),),
    "ResponderOnScene": (_Phrase(r"(?P<person>.*) on scene", N_("{person} on scene"),
                                 ("person",)),),
    "ActionTaken": (
        _Phrase(r"(?P<action>[a-z ]+): (?P<description>.*) \((?P<equipment>[^()]*)\)",
                N_("{action}: {description} ({equipment})"), vocabulary=("action",)),
        _Phrase(r"(?P<action>[a-z ]+): (?P<description>.*)", N_("{action}: {description}"),
                vocabulary=("action",))),
    "ConsentRequested": (_Phrase(r"consent requested from (?P<resident>.*?): (?P<purpose>.*)",
                                 N_("consent requested from {resident}: {purpose}"),
                                 ("resident",)),),
    "ConsentGranted": (_Phrase(r"(?P<resident>.*) granted consent",
                               N_("{resident} granted consent"), ("resident",)),),
    "ConsentRefused": (
        _Phrase(r"(?P<resident>.*?) refused consent: (?P<reason>.*)",
                N_("{resident} refused consent: {reason}"), ("resident",)),
        _Phrase(r"(?P<resident>.*) refused consent", N_("{resident} refused consent"),
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
"""An incident's facts: the people their phrases name are named, the rest of their words
shown as written."""

_NAMING: Mapping[str, tuple[_Phrase, ...]] = {
    # Facts of every aggregate (a fact name several of them use words the fact alike).
    "Escalated": (
        _Phrase(r"escalated: (?P<deadline>.*?) not met \(level (?P<level>-?\d+), cycle "
                r"(?P<cycle>-?\d+)\); told (?P<told>.*)",
                N_("escalated: {deadline} not met (level {level}, cycle {cycle}); told {told}"),
                vocabulary=("deadline",), told=("told",)),
        _Phrase(r"escalated: (?P<deadline>.*?) not met \(level (?P<level>-?\d+)\); told "
                r"(?P<told>.*)", N_("escalated: {deadline} not met (level {level}); told {told}"),
                vocabulary=("deadline",), told=("told",))),
    "TimeCorrected": (_Phrase(r"time of fact (?P<version>-?\d+) corrected to (?P<moment>\S*): "
                              r"(?P<reason>.*)",
                              N_("time of fact {version} corrected to {moment}: {reason}")),),
    "DetailsCorrected": (_Phrase(r"details of fact (?P<version>-?\d+) corrected: (?P<reason>.*)",
                                 N_("details of fact {version} corrected: {reason}")),),
    "LinkedToIncident": (_Phrase(r"linked to the recovery of incident (?P<incident>.*?): "
                                 r"(?P<purpose>.*)",
                                 N_("linked to the recovery of incident {incident}: {purpose}")),
                         _Phrase(r"incident (?P<incident>.*) came from it",  # a hazard's
                                 N_("incident {incident} came from it"))),
    "Cancelled": (_Phrase(r"cancelled: (?P<reason>.*)", N_("cancelled: {reason}")),),
    "Started": (_Phrase(r"work started", N_("work started")),  # an order
                _Phrase(r"work on the item started", N_("work on the item started"))),
    "Completed": (  # an order (with its outcome), then an improvement item
        _Phrase(r"completed, (?P<outcome>[a-z ]+): (?P<note>.*)",
                N_("completed, {outcome}: {note}"), vocabulary=("outcome",)),
        _Phrase(r"completed, (?P<outcome>[a-z ]+)", N_("completed, {outcome}"),
                vocabulary=("outcome",)),
        _Phrase(r"completed: (?P<note>.*)", N_("completed: {note}")),
        _Phrase(r"completed", N_("completed"))),
    # A community's facts.
    "Registered": (_Phrase(r"(?P<name>.*) registered \((?P<district>.*), (?P<subdistrict>.*)\)",
                           N_("{name} registered ({district}, {subdistrict})")),),
    "GridAdded": (_Phrase(r"grid (?P<grid>.*) added", N_("grid {grid} added")),),
    "MicroGridAdded": (_Phrase(r"micro-grid (?P<micro_grid>.*?) added to grid (?P<grid>.*)",
                               N_("micro-grid {micro_grid} added to grid {grid}")),),
    "BuildingAdded": (_Phrase(r"building (?P<building>.*?) added under (?P<parent>.*)",
                              N_("building {building} added under {parent}")),),
    "ZoneClassified": (_Phrase(r"(?P<area>.*) classified (?P<zone>[a-z_]+)",
                               N_("{area} classified {zone}"), vocabulary=("zone",)),),
    "PersonEnrolled": (_Phrase(r"(?P<person>.*) enrolled", N_("{person} enrolled"),
                               ("person",)),),
    "RoleAssigned": (
        _Phrase(r"(?P<person>.*?) is (?P<role>[a-z_]+) of (?P<scope>.*)",
                N_("{person} is {role} of {scope}"), ("person",), vocabulary=("role",)),
        _Phrase(r"(?P<person>.*) is (?P<role>[a-z_]+)", N_("{person} is {role}"), ("person",),
                vocabulary=("role",))),
    "RoleRelieved": (
        _Phrase(r"(?P<person>.*?) relieved as (?P<role>[a-z_]+) of (?P<scope>.*)",
                N_("{person} relieved as {role} of {scope}"), ("person",),
                vocabulary=("role",)),
        _Phrase(r"(?P<person>.*) relieved as (?P<role>[a-z_]+)",
                N_("{person} relieved as {role}"), ("person",), vocabulary=("role",))),
    "CareCardIssued": (_Phrase(r"care card issued to grid (?P<grid>.*)",
                               N_("care card issued to grid {grid}")),),
    "ActivityHeld": (
        _Phrase(r"activity held: (?P<title>.*) \((?P<category>.*)\), (?P<participants>-?\d+) "
                r"taking part, grid (?P<grid>.*)",
                N_("activity held: {title} ({category}), {participants} taking part, "
                   "grid {grid}")),
        _Phrase(r"activity held: (?P<title>.*) \((?P<category>.*)\), (?P<participants>-?\d+) "
                r"taking part",
                N_("activity held: {title} ({category}), {participants} taking part"))),
    "ParticipantsCorrected": (
        _Phrase(r"participants of fact (?P<version>-?\d+) corrected to "
                r"(?P<participants>-?\d+): (?P<reason>.*)",
                N_("participants of fact {version} corrected to {participants}: {reason}")),),
    "PersonErased": (_Phrase(r"(?P<person>.*?)'s personal data erased: (?P<reason>.*)",
                             N_("{person}'s personal data erased: {reason}"), ("person",)),),
    "CodeSet": (_Phrase(r"reference code set to (?P<code>.*)",
                        N_("reference code set to {code}")),),
    # An incident's or order's reference given after it was recorded.
    "Referenced": (_Phrase(r"reference (?P<reference>.*) given",
                           N_("reference {reference} given")),),
    # A service order's facts.
    "Placed": (
        _Phrase(r"ordered (?P<category>.*?)/(?P<item>.*?) for household (?P<household>.*?), "
                r"expected by (?P<expected>\S*): (?P<details>.*)",
                N_("ordered {category}/{item} for household {household}, expected by "
                   "{expected}: {details}")),
        _Phrase(r"ordered (?P<category>.*?)/(?P<item>.*?) for household (?P<household>.*?), "
                r"expected by (?P<expected>\S*)",
                N_("ordered {category}/{item} for household {household}, expected by "
                   "{expected}"))),
    "Accepted": (_Phrase(r"accepted by the community", N_("accepted by the community")),),
    "Rejected": (_Phrase(r"rejected: (?P<reason>.*)", N_("rejected: {reason}")),),
    "Dispatched": (_Phrase(r"dispatched to (?P<provider>.*) \((?P<kind>[a-z_]+)\)",
                           N_("dispatched to {provider} ({kind})"), vocabulary=("kind",)),),
    "Rated": (
        _Phrase(r"rated (?P<score>-?\d+)/5, resolved: (?P<comment>.*)",
                N_("rated {score}/5, resolved: {comment}")),
        _Phrase(r"rated (?P<score>-?\d+)/5, not resolved: (?P<comment>.*)",
                N_("rated {score}/5, not resolved: {comment}")),
        _Phrase(r"rated (?P<score>-?\d+)/5, resolved", N_("rated {score}/5, resolved")),
        _Phrase(r"rated (?P<score>-?\d+)/5, not resolved", N_("rated {score}/5, not resolved")),
        _Phrase(r"rated (?P<score>-?\d+)/5: (?P<comment>.*)", N_("rated {score}/5: {comment}")),
        _Phrase(r"rated (?P<score>-?\d+)/5", N_("rated {score}/5"))),
    # An improvement item's facts.
    "Planned": tuple(
        _Phrase(r"planned for review (?P<review>.*?): (?P<action>.*); owner (?P<owner>.*?), "
                r"due (?P<due>\S*)" + more, message, ("owner",))
        for more, message in (
            (r", grid (?P<grid>.*?), objective (?P<objective>.*)",
             N_("planned for review {review}: {action}; owner {owner}, due {due}, grid {grid}, "
                "objective {objective}")),
            (r", grid (?P<grid>.*)",
             N_("planned for review {review}: {action}; owner {owner}, due {due}, "
                "grid {grid}")),
            (r", objective (?P<objective>.*)",
             N_("planned for review {review}: {action}; owner {owner}, due {due}, "
                "objective {objective}")),
            ("", N_("planned for review {review}: {action}; owner {owner}, due {due}")))),
    "OwnerAssigned": (_Phrase(r"(?P<owner>.*) now owns the item",
                              N_("{owner} now owns the item"), ("owner",)),),
    "Rescheduled": (_Phrase(r"rescheduled to (?P<due>\S*): (?P<reason>.*)",
                            N_("rescheduled to {due}: {reason}")),),
    # An emergency's facts.
    "Declared": (
        _Phrase(r"(?P<kind>[a-z ]+) emergency declared in the community: (?P<reason>.*)",
                N_("{kind} emergency declared in the community: {reason}"),
                vocabulary=("kind",)),
        _Phrase(r"(?P<kind>[a-z ]+) emergency declared in grid (?P<grid>.*?): (?P<reason>.*)",
                N_("{kind} emergency declared in grid {grid}: {reason}"),
                vocabulary=("kind",))),
    "MobilisationCalled": (_Phrase(r"mobilisation called \((?P<teams>[a-z, ]*)\): (?P<called>.*)",
                                   N_("mobilisation called ({teams}): {called}"),
                                   teams=("teams",), called=("called",)),),
    "MemberAcknowledged": (_Phrase(r"(?P<person>.*) acknowledged the call-up",
                                   N_("{person} acknowledged the call-up"), ("person",)),),
    "MemberArrived": (_Phrase(r"(?P<person>.*?) arrived at (?P<post>.*)",
                              N_("{person} arrived at {post}"), ("person",)),),
    "Ended": (_Phrase(r"emergency ended: (?P<reason>.*)", N_("emergency ended: {reason}")),),
    # A hazard's facts (its reopening and notes read as an incident's), and the other side
    # of its links: an incident, order or improvement item that came from it.
    "Found": tuple(
        _Phrase(r"(?P<category>[a-z ]+) hazard \((?P<severity>[a-z_]+)\) found at "
                r"(?P<location>.*?)" + more, message, vocabulary=("category", "severity"),
                places=("location",))
        for more, message in (
            (r": (?P<description>.*) \(photo (?P<photo>[^()]*)\)",
             N_("{category} hazard ({severity}) found at {location}: {description} "
                "(photo {photo})")),
            (r": (?P<description>.*)",
             N_("{category} hazard ({severity}) found at {location}: {description}")),
            (r" \(photo (?P<photo>[^()]*)\)",
             N_("{category} hazard ({severity}) found at {location} (photo {photo})")),
            ("", N_("{category} hazard ({severity}) found at {location}")))),
    "Assigned": (_Phrase(r"assigned to (?P<assignee>.*) \((?P<kind>[a-z ]+)\), due (?P<due>\S*)",
                         N_("assigned to {assignee} ({kind}), due {due}"),
                         vocabulary=("kind",)),),
    "Rectified": (_Phrase(r"rectified: (?P<note>.*)", N_("rectified: {note}")),
                  _Phrase(r"rectified", N_("rectified"))),
    "Verified": (_Phrase(r"rectification verified: (?P<note>.*)",
                         N_("rectification verified: {note}")),
                 _Phrase(r"rectification verified", N_("rectification verified"))),
    "Closed": (_Phrase(r"closed without verification: (?P<reason>.*)",
                       N_("closed without verification: {reason}")),),
    "LinkedToOrder": (_Phrase(r"service order (?P<order>.*) raised for it",
                              N_("service order {order} raised for it")),),
    "LinkedToImprovement": (_Phrase(r"improvement item (?P<item>.*) raised from it",
                                    N_("improvement item {item} raised from it")),),
    "FromHazard": (_Phrase(r"came from hazard (?P<hazard>.*)", N_("came from hazard {hazard}")),),
    # A patrol's facts, and a patrol plan's.
    "Recorded": (
        _Phrase(r"patrol of grid (?P<grid>.*?) until (?P<until>\S*), visited nothing: "
                r"(?P<findings>.*)",
                N_("patrol of grid {grid} until {until}, visited nothing: {findings}")),
        _Phrase(r"patrol of grid (?P<grid>.*?) until (?P<until>\S*), visited nothing",
                N_("patrol of grid {grid} until {until}, visited nothing")),
        _Phrase(r"patrol of grid (?P<grid>.*?) until (?P<until>\S*), visited (?P<visited>.*?): "
                r"(?P<findings>.*)",
                N_("patrol of grid {grid} until {until}, visited {visited}: {findings}")),
        _Phrase(r"patrol of grid (?P<grid>.*?) until (?P<until>\S*), visited (?P<visited>.*)",
                N_("patrol of grid {grid} until {until}, visited {visited}"))),
    "CoverageCorrected": (
        _Phrase(r"coverage corrected to nothing: (?P<reason>.*)",
                N_("coverage corrected to nothing: {reason}")),
        _Phrase(r"coverage corrected to (?P<visited>.*?): (?P<reason>.*)",
                N_("coverage corrected to {visited}: {reason}"))),
    "EndCorrected": (_Phrase(r"end corrected to (?P<moment>\S*): (?P<reason>.*)",
                             N_("end corrected to {moment}: {reason}")),),
    "Adopted": (_Phrase(r"patrol plan of grid (?P<grid>.*?) adopted: (?P<rules>.*)",
                        N_("patrol plan of grid {grid} adopted: {rules}"), rules=("rules",)),),
    "Revised": (_Phrase(r"patrol plan revised: (?P<rules>.*) \((?P<reason>.*)\)",
                        N_("patrol plan revised: {rules} ({reason})"), rules=("rules",)),),
}
"""The facts of the other aggregates, and an incident's escalations and corrections: read
since their words were shown as recorded with every id the review knows named, they name
the ids in each of their parts still (``names``), so their English words are unchanged."""

_PHRASES: Mapping[str, tuple[_Phrase, ...]] = {
    action: _INCIDENT.get(action, ()) + tuple(evolve(found, names=True)
                                              for found in _NAMING.get(action, ()))
    for action in {**_INCIDENT, **_NAMING}}
"""Fact name -> its phrases, most specific first (the first whose pattern reads the
whole of the words wins). A fact name several aggregates use has the phrases of each
(a service order's "completed, fixed", an improvement item's "completed: ...", an
incident's closure before a hazard's)."""

_COMPILED = {action: tuple((re.compile(p.pattern + r"\Z", re.DOTALL), p) for p in phrases)
             for action, phrases in _PHRASES.items()}


def reading(action: str, recorded: str) -> tuple[str, dict[str, str]] | None:
    """The message of the first phrase of a fact named ``action`` whose pattern reads the
    whole of ``recorded`` (marked, untranslated), and the parts it read; None if none
    does (the phrase is then shown as recorded)."""
    read = _read(action, recorded)
    return None if read is None else (read[0].message, read[1])


def _read(action: str, recorded: str) -> tuple[_Phrase, dict[str, str]] | None:
    for pattern, found in _COMPILED.get(action, ()):
        match = pattern.match(recorded)
        if match is not None:
            return found, {name: value or "" for name, value in match.groupdict().items()}
    return None


def phrase(action: str, recorded: str, people: Mapping[str, str]) -> str:
    """The recorded words of a fact named ``action`` in the current language, with names
    for ids (the module docstring); a hidden personal value (``[hidden]``) is said in the
    current language too."""
    read = _read(action, recorded)
    if read is not None:
        found, parts = read
        if found.names:
            said = {*found.people, *found.vocabulary, *found.places, *found.teams,
                    *found.called, *found.told, *found.rules}
            parts = {name: value if name in said else named(value, people)
                     for name, value in parts.items()}
        for name in found.people:
            parts[name] = people.get(parts[name], parts[name])
        for name in found.vocabulary:
            parts[name] = _vocabulary(parts[name])
        for name in found.places:
            parts[name] = _place(parts[name])
        for name in found.teams:
            parts[name] = _(", ").join(map(_vocabulary, parts[name].split(", ")))
        for name in found.called:
            parts[name] = _CALLED.sub(lambda member: _("{person} ({role})").format(
                person=people.get(member["person"], member["person"]),
                role=_vocabulary(member["role"])) + (_(", ") if member["next"] else ""),
                parts[name])
        for name in found.told:
            parts[name] = _told(parts[name], people)
        for name in found.rules:
            parts[name] = _rules(parts[name])
        return unhidden(_(found.message).format(**parts))
    return unhidden(named(recorded, people))


_CALLED = re.compile(r"(?P<person>.*?) \((?P<role>[a-z ]+)\)(?P<next>, )?", re.DOTALL)
"""One member of a call-up as ``Emergency.MobilisationCalled.describe`` words it."""

_ROLES = frozenset(role.value for role in Role)
_TOLD = re.compile(r"(?P<role>[a-z_]+)(?: of (?P<scope>.*))? "
                   r"(?P<person>\(nobody held it\)|\S*)\Z", re.DOTALL)
_NOBODY_HELD = "(nobody held it)"


def _told(text: str, people: Mapping[str, str]) -> str:
    """Whom an escalation told as ``told_text`` words it ("grid_leader of 3 p-3001;
    subdistrict Daimiao", "nobody"), said in the current language, people named."""
    if text == "nobody":
        return _("nobody")
    return _("; ").join(_told_one(one, people) for one in text.split("; "))


def _told_one(text: str, people: Mapping[str, str]) -> str:
    """One of those told (``Notified.__str__``): a role's holder, or a body."""
    first, _space, rest = text.partition(" ")
    match = _TOLD.match(text) if first in _ROLES else None
    if match is not None:
        role = _vocabulary(match["role"])
        if match["scope"] is not None:
            role = _("{role} of {scope}").format(role=role, scope=match["scope"])
        if match["person"] == _NOBODY_HELD:
            return _("{role} (nobody held it)").format(role=role)
        return _("{role} {person}").format(role=role,
                                           person=people.get(match["person"], match["person"]))
    if first == "body" and rest:
        return _("body {body}").format(body=rest)
    if rest and first.isalpha():
        return _("{kind} {body}").format(kind=_vocabulary(first), body=rest)
    return named(text, people)


_FREQUENCY = r"(?P<name>.*?): (?P<frequency>daily|weekly|monthly)"
_RULE_MESSAGES = (
    ("", N_("{name}: {frequency}")),
    (r" of (?P<areas>.*)", N_("{name}: {frequency} of {areas}")),
    (r" (?P<spot>.*?) of (?P<areas>.*)", N_("{name}: {frequency} {spot} of {areas}")),
    (r" (?P<spot>.*)", N_("{name}: {frequency} {spot}")))
_RULES = tuple((re.compile(_FREQUENCY + pattern + r"\Z", re.DOTALL), message)
               for pattern, message in _RULE_MESSAGES)
"""One rule of a patrol plan as ``_rules_said`` words it ("storage: monthly storage_room
of 30, 31": its name, frequency, spot and areas), most specific first."""


def _rules(text: str) -> str:
    """A patrol plan's rules ("; "-joined), each one's frequency said in the current
    language (its name, spot and areas as written); a rule no pattern reads is left as
    written."""
    said = []
    for rule in text.split("; "):
        for pattern, message in _RULES:
            match = pattern.match(rule)
            if match is not None:
                parts = match.groupdict()
                parts["frequency"] = _vocabulary(parts["frequency"])
                said.append(_(message).format(**parts))
                break
        else:
            said.append(rule)
    return _("; ").join(said)


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
    return place_words(match["grid"], match["building"], match["unit"], match["floor"],
                       match["description"] or "")


def place_words(grid: str | None = None, building: str | None = None,
                unit: str | None = None, floor: int | str | None = None,
                description: str = "") -> str:
    """A location's parts said in the current language, as ``Location.__str__`` orders
    them: "grid 3, building 30, unit 1, floor -1" ("网格3、30号楼..." in Chinese)."""
    given = {"grid": grid, "building": building, "unit": unit, "floor": floor}
    parts = [_(message).format(**{name: given[name]})
             for name, message in _PLACE_PARTS.items() if given[name] is not None]
    return _(", ").join([*parts, *([description] if description else [])])


def _vocabulary(value: str) -> str:
    """A word of the domain's vocabulary translated, or exactly as recorded when the
    catalog has nothing else for it (English)."""
    said = words(value)
    if not said.strip():  # gettext's "" is the catalog's header, not a translation
        return value
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
