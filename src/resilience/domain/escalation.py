"""Escalation policies: what must happen to a case by when, and who is told if it doesn't.

A **deadline** names the case milestones that meet it (``expect``: any one of them, by
the names the event classes declare, e.g. ``"acknowledged"``, ``"first_on_scene"``, an
order's ``"accepted"``) and when it falls due: ``within`` a duration of the case's
beginning (detection; placement for an order), or (orders) ``from_expected``, at the
order's ``expected_by``. It applies to the incidents of its ``types`` and ``severities``
(as classified when it falls due; empty: all) or the orders of its ``categories``. Its
**levels** fall due in turn, ``after`` the deadline (level 0: at it), each telling its
recipients: a roster role resolved at that moment, or the community's subdistrict or
district.

**Cycles.** A deadline whose every milestone comes again after a reopening (a responder
dispatched, en route or on scene, a containment, a resolution, a closure; an order's
dispatch or completion) applies to every cycle of the case, each from its own beginning
(the reopening). One that expects a milestone a case reaches once (reported,
acknowledged; an order's acceptance or rejection) or runs from ``expected_by`` applies to
cycle 0 alone, and any fact of the case meets it.

**When it is needed.** A deadline level is *needed* (``DeadlineState.needed``) when, by
effective times, at its due time no fact meeting the deadline had happened in its cycle
and the cycle had not ended (a fact whose class declares it ``ends``: an incident's
resolution or closure; an order's completion, cancellation or rejection). It is *due* to
the watch (``DeadlineState.due(now)``) when its time has come, no meeting fact and no
ending is recorded (whenever it is dated), and no escalation for it is recorded: a fact
recorded late still stops an escalation, which the review then grades as missed.
Emergency deadlines (``EscalationPolicy.emergency``) are those of the cases that began
while their community or grid was in an emergency. The states themselves are worked out
in resilience.domain.deadline_state; a deadline can't expect what comes after the
response (``AFTER_RESPONSE``: a recovery link, a rating).

A policy is a value: built from Python or read from JSON (``EscalationPolicy.from_dict``,
``from_json``), strictly: a wrong type, a missing or unknown key, a milestone the subject
doesn't have is an InvalidInputError naming the deadline, never a policy that quietly
means something else (the form: resilience.domain.escalation_json). Durations in JSON
are minutes; in Python, timedeltas of whole seconds. Whom a level tells is worked out
when it falls due (resilience.domain.recipients).
"""

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from attrs import field, frozen

from resilience.domain.base import FactAggregate
from resilience.domain.escalated import MAX_LEVEL
from resilience.domain.escalation_json import DeadlineFields, policy_fields, read_json
from resilience.domain.incident import Incident
from resilience.domain.named import shows_name
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import (
    MAX_DURATION,
    check_bool,
    check_duration,
    check_instance,
    check_items,
    require_text,
    shown,
)
from resilience.domain.values import IncidentType, Role, Severity, parse_enum
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _

Subject = Literal["incident", "order"]
Body = Literal["subdistrict", "district"]
Case = Incident | ServiceOrder

SUBJECTS: Mapping[str, type[Case]] = {"incident": Incident, "order": ServiceOrder}
"""Each subject a deadline names -> the aggregate class of its cases."""


def subject_of(case: Case) -> Subject:
    """``"incident"`` or ``"order"``: the subject ``case`` is."""
    return "incident" if isinstance(case, Incident) else "order"


BODIES: tuple[str, ...] = ("subdistrict", "district")
RECIPIENT_ROLES = (Role.GRID_LEADER, Role.GRID_WORKER, Role.BUILDING_LEADER, Role.UNIT_LEADER,
                   Role.COMMUNITY_STAFF, Role.SQUAD_MEMBER, Role.VOLUNTEER)
"""The roster roles an escalation can tell: the first four for the case's own grid,
building or unit, the others every holder."""

RECURRING: tuple[type[FactAggregate.Event], ...] = (
    Incident.ResponderDispatched, Incident.ResponderEnRoute, Incident.ResponderOnScene,
    Incident.Contained, Incident.Resolved, Incident.Closed,
    ServiceOrder.Dispatched, ServiceOrder.Completed)
"""The facts a reopening starts again (as the metrics' cycles count them): a deadline
expecting only these applies to every cycle."""
MAX_NAME = 100
"""Most characters in a deadline's name (it is part of the escalation's command id)."""


AFTER_RESPONSE: Mapping[str, Mapping[str, str]] = {
    "incident": {"recovery_linked": "recovery follows the response"},
    "order": {"rated": "a rating follows the completion"},
}
"""Milestones no deadline may expect, and why: they mark what comes after the response a
deadline watches (a deadline stops when its cycle ends), so a deadline expecting one
would only ever escalate on a response still under way, never be met by it."""


def milestone_classes(subject: str) -> dict[str, tuple[type[FactAggregate.Event], ...]]:
    """Each milestone name a deadline on ``subject`` may expect -> the event classes
    marking it (their ``milestone`` or ``last_milestone``); the beginning and the
    milestones ``AFTER_RESPONSE`` are left out."""
    found: dict[str, list[type[FactAggregate.Event]]] = {}
    for event in SUBJECTS[subject].event_classes():
        if issubclass(event, FactAggregate.Created):
            continue
        for milestone in (event.milestone, event.last_milestone):
            if milestone is not None and milestone.name not in AFTER_RESPONSE[subject]:
                found.setdefault(milestone.name, []).append(event)
    return {name: tuple(classes) for name, classes in found.items()}


_MILESTONES = {subject: milestone_classes(subject) for subject in SUBJECTS}


def _whole_seconds(value: object, name: str, *, low: timedelta) -> timedelta:
    duration = check_duration(value, name)
    if duration < low or duration.microseconds:
        raise InvalidInputError(_("{name} must be a whole number of seconds, at least "
                                  "{low} s, got {duration}").format(
            name=name, low=f"{low.total_seconds():g}", duration=duration))
    return duration


def _role(value: object) -> Role | None:
    """A recipient's role: a Role, or its value as text (``"grid_leader"``)."""
    return None if value is None else parse_enum(Role, value, _("a recipient's role"))


@frozen
class Recipient:
    """Who a level tells: a roster ``role`` (resolved at the moment the level is due) or a
    ``body``, ``"subdistrict"`` or ``"district"`` (the community's own): exactly one."""

    role: Role | None = field(default=None, converter=_role)
    body: Body | None = None

    def __attrs_post_init__(self) -> None:
        if (self.role is None) == (self.body is None):
            raise InvalidInputError(_("a recipient is a role or a body: exactly one of them"))
        if self.role is not None and self.role not in RECIPIENT_ROLES:
            raise InvalidInputError(_("a recipient's role must be one of {allowed}; got {value}")
                                    .format(allowed=", ".join(r.value for r in RECIPIENT_ROLES),
                                            value=shown(self.role)))
        if self.body is not None and (type(self.body) is not str or self.body not in BODIES):
            raise InvalidInputError(_("a recipient's body must be one of {allowed}; got {value}")
                                    .format(allowed=", ".join(BODIES), value=shown(self.body)))

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role.value} if self.role is not None else {"body": str(self.body)}


def _recipients(value: object) -> tuple[Recipient, ...]:
    found = check_items(value, "notify",
                        lambda item, what: check_instance(item, what, Recipient))
    if not found:
        raise InvalidInputError(_("notify must name at least one recipient"))
    if len(set(found)) != len(found):
        raise InvalidInputError(_("notify names a recipient twice"))
    return found


@frozen
class Level:
    """One step of a deadline's escalation: ``after`` the deadline (level 0: zero), tell
    ``notify``."""

    after: timedelta = field()
    notify: tuple[Recipient, ...] = field(converter=_recipients)

    @after.validator
    def _check_after(self, attribute: object, value: object) -> None:
        _whole_seconds(value, _("a level's after"), low=timedelta(0))

    def to_dict(self) -> dict[str, Any]:
        return {"after_minutes": _minutes(self.after),
                "notify": [r.to_dict() for r in self.notify]}


def _minutes(duration: timedelta) -> int | float:
    minutes = duration / timedelta(minutes=1)
    return int(minutes) if minutes.is_integer() else minutes


def _enum_items(enum: Any, value: object, name: str) -> tuple[Any, ...]:
    found = check_items(value, name, lambda item, what: parse_enum(enum, item, what))
    if len(set(found)) != len(found):
        raise InvalidInputError(_("{name} repeats an item").format(name=name))
    return found


@frozen(init=False)
class Deadline:
    """What must happen to a case by when (see the module docstring), and its levels."""

    name: str
    subject: Subject
    expect: tuple[str, ...]
    within: timedelta | None = None
    from_expected: bool = False
    levels: tuple[Level, ...] = ()
    types: tuple[IncidentType, ...] = ()
    severities: tuple[Severity, ...] = ()
    categories: tuple[str, ...] = ()

    def __init__(self, name: str, subject: Subject, expect: Sequence[str], *,
                 within: timedelta | None = None, from_expected: bool = False,
                 levels: Sequence[Level] = (), types: Sequence[IncidentType | str] = (),
                 severities: Sequence[Severity | str] = (),
                 categories: Sequence[str] = ()) -> None:
        name = require_text(name, _("a deadline's name"))
        if len(name) > MAX_NAME or "/" in name:
            raise InvalidInputError(_("a deadline's name has at most {most} characters and "
                                      "no '/' (it is part of a command id); got {value}")
                                    .format(most=MAX_NAME, value=shown(name)))
        if subject not in SUBJECTS:
            raise InvalidInputError(_("deadline {name}: {problem}").format(
                name=name, problem=_("subject must be incident or order, got {value}").format(
                    value=shown(subject))))
        try:
            values = _checked(subject, expect, within, from_expected, levels, types,
                              severities, categories)
        except InvalidInputError as exc:
            raise InvalidInputError(_("deadline {name}: {problem}").format(
                name=name, problem=exc)) from None
        self.__attrs_init__(name=name, subject=subject, **values)

    @property
    def recurring(self) -> bool:
        """Does it apply to every cycle (each from its reopening), or to cycle 0 alone?"""
        return not self.from_expected and all(
            set(_MILESTONES[self.subject][name]) <= set(RECURRING) for name in self.expect)

    def meeting(self) -> tuple[type[FactAggregate.Event], ...]:
        """The event classes whose facts meet the deadline."""
        return tuple(c for name in self.expect for c in _MILESTONES[self.subject][name])

    def applies(self, case: Case, at: datetime) -> bool:
        """Does the deadline apply to ``case``, as it was classified at ``at``?"""
        if isinstance(case, ServiceOrder):
            return not self.categories or case.category in self.categories
        incident_type, severity = case.classification_at(at)
        return ((not self.types or incident_type in self.types)
                and (not self.severities or severity in self.severities))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "subject": self.subject,
                                "expect": list(self.expect)}
        if self.within is not None:
            data["within_minutes"] = _minutes(self.within)
        if self.from_expected:
            data["from_expected"] = True
        data["levels"] = [level.to_dict() for level in self.levels]
        for key, items in (("types", self.types), ("severities", self.severities)):
            if items:
                data[key] = [item.value for item in items]
        if self.categories:
            data["categories"] = list(self.categories)
        return data


def _checked(subject: str, expect: object, within: object, from_expected: object,
             levels: object, types: object, severities: object,
             categories: object) -> dict[str, Any]:
    known = _MILESTONES[subject]
    expected = check_items(expect, "expect", require_text)
    if not expected:
        raise InvalidInputError(_("expect must name at least one milestone"))
    after = [f"{name} ({AFTER_RESPONSE[subject][name]})" for name in expected
             if name in AFTER_RESPONSE[subject]]
    if after:
        raise InvalidInputError(_(
            "expect can't name a milestone that comes after the response, which a deadline "
            "stops at: {milestones}").format(milestones=", ".join(after)))
    unknown = [name for name in expected if name not in known]
    if unknown or len(set(expected)) != len(expected):
        raise InvalidInputError(_(
            N_("expect must name incident milestones, each once ({known}); got {value}")
            if subject == "incident" else
            N_("expect must name order milestones, each once ({known}); got {value}")).format(
                known=", ".join(sorted(known)), value=shown(list(expected))))
    check_bool(from_expected, "from_expected")
    if (within is None) == (not from_expected):
        raise InvalidInputError(_("a deadline falls due within a duration or from_expected: "
                                  "exactly one of them"))
    if from_expected and subject != "order":
        raise InvalidInputError(_("only an order has an expected time (from_expected)"))
    due = None if within is None else _whole_seconds(within, "within", low=timedelta(0))
    steps = check_items(levels, "levels", lambda item, what: check_instance(item, what, Level),
                        most=MAX_LEVEL + 1)
    if not steps:
        raise InvalidInputError(_("a deadline needs at least one level"))
    if steps[0].after != timedelta(0):
        raise InvalidInputError(_("level 0 falls due at the deadline: its after must be 0"))
    if any(later.after <= earlier.after for earlier, later in itertools.pairwise(steps)):
        raise InvalidInputError(_("each level must fall due after the one before"))
    if (due or timedelta(0)) + steps[-1].after > MAX_DURATION:
        raise InvalidInputError(_("the last level must fall due within {days} days").format(
            days=f"{MAX_DURATION.days:,}"))
    kinds = _enum_items(IncidentType, types, "types")
    grades = _enum_items(Severity, severities, "severities")
    sorts = check_items(categories, "categories", require_text)
    if len(set(sorts)) != len(sorts):
        raise InvalidInputError(_("{name} repeats an item").format(name="categories"))
    if subject == "order" and (kinds or grades):
        raise InvalidInputError(_("types and severities are an incident's: an order's "
                                  "deadline takes categories"))
    if subject == "incident" and sorts:
        raise InvalidInputError(_("categories are an order's: an incident's deadline takes "
                                  "types and severities"))
    return {"expect": expected, "within": within, "from_expected": from_expected,
            "levels": steps, "types": kinds, "severities": grades, "categories": sorts}


def _peacetime(value: object) -> tuple[Deadline, ...]:
    return _deadlines(value, "deadlines")


def _emergency(value: object) -> tuple[Deadline, ...] | None:
    return None if value is None else _deadlines(value, "emergency")


def _deadlines(value: object, name: str) -> tuple[Deadline, ...]:
    found = check_items(value, name, lambda item, what: check_instance(item, what, Deadline))
    names = [d.name for d in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInputError(_("{name}: deadline names must differ; {names} repeats")
                                .format(name=name, names=", ".join(twice)))
    return found


@shows_name
@frozen
class EscalationPolicy:
    """The deadlines of peacetime, and (``emergency``) those of the cases that begin while
    their community or grid is in an emergency; None: the same as peacetime."""

    deadlines: tuple[Deadline, ...] = field(converter=_peacetime)
    emergency: tuple[Deadline, ...] | None = field(default=None, converter=_emergency)

    def for_case(self, *, emergency: bool) -> tuple[Deadline, ...]:
        """The deadlines of a case that began in an emergency, or in peacetime. The
        emergency list replaces peacetime's subject by subject: a subject (incidents,
        orders) it names no deadline for keeps its peacetime deadlines, so declaring an
        emergency never leaves a case with none."""
        if not emergency or self.emergency is None:
            return self.deadlines
        named = {deadline.subject for deadline in self.emergency}
        return self.emergency + tuple(d for d in self.deadlines if d.subject not in named)

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON-ready data (``from_dict`` reads it back equal)."""
        return {"deadlines": [d.to_dict() for d in self.deadlines],
                "emergency": None if self.emergency is None
                else [d.to_dict() for d in self.emergency]}

    @classmethod
    def from_dict(cls, data: object) -> "EscalationPolicy":
        """A policy from ``to_dict``'s form, strictly (resilience.domain.escalation_json;
        InvalidInputError naming what is wrong: ``escalation policy: deadline 2
        (contained): ...``)."""
        try:
            peacetime, emergency = policy_fields(data, _deadline)
            return cls(peacetime, emergency)
        except InvalidInputError as exc:
            raise InvalidInputError(_("escalation policy: {problem}").format(
                problem=exc)) from None

    @classmethod
    def from_json(cls, text: str) -> "EscalationPolicy":
        """A policy from JSON text (``from_dict``); duplicate keys and NaN are refused."""
        return cls.from_dict(read_json(text))


def _deadline(fields: DeadlineFields) -> Deadline:
    """A deadline from what ``escalation_json`` read, each level numbered in refusals."""
    levels = []
    for number, (after, told) in enumerate(fields.levels):
        try:
            recipients = tuple(Recipient(role, cast(Body | None, body)) for role, body in told)
            levels.append(Level(after, recipients))
        except InvalidInputError as exc:
            raise InvalidInputError(_("level {number}: {problem}").format(
                number=number, problem=exc)) from None
    return Deadline(fields.name, cast(Subject, fields.subject), fields.expect,
                    within=fields.within, from_expected=fields.from_expected, levels=levels,
                    types=fields.types, severities=fields.severities,
                    categories=fields.categories)
