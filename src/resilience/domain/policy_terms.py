"""The policy's vocabulary: the commands it rules on, the scopes a rule may need, and the
plain values a decision is made of (Rule, Reader, Target, Decision).

What the scopes mean, and how a decision uses them, is resilience.domain.policy's
docstring. Commands are named ``"<service>.<method>"`` (and ``"import"``); a name outside
COMMANDS is refused wherever one is given (``known_command``), so a misspelt command in a
policy fails when the policy is built, not when the command is first run.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from attrs import field, frozen

from resilience.domain.organisation import Community
from resilience.domain.validation import shown
from resilience.domain.values import ROSTER_ROLES, Role, parse_enum
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _


class Scope(StrEnum):
    """What a rule needs beyond the actor's standing in their role (resilience.domain.policy's
    docstring)."""

    COMMUNITY = "community"
    AREA = "area"
    OWN = "own"
    ASSIGNED = "assigned"


IMPORT = "import"
"""The command an importer must be allowed (``engine.importing``)."""

NEVER_IMPORTED: frozenset[str] = frozenset({"people.erase", "people.export"})
"""Commands no import may run: a person's rights are exercised live, by someone the policy
allows (an erasure deletes a key for good; an export hands out their data), never
replayed from a file."""

SERVICE_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "communities": (
        "register", "set_code", "add_grid", "add_micro_grid", "add_building",
        "classify_zone", "enrol", "assign_role", "relieve_role", "issue_care_card",
        "hold_activity", "correct_participants", "correct_time", "correct_details"),
    "incidents": (
        "detect", "report", "report_to_community", "acknowledge", "reclassify",
        "assign_commander", "dispatch", "en_route", "arrive", "take_action", "request_consent",
        "grant_consent", "refuse_consent", "authorise_exigent_entry", "force_entry",
        "find_source", "contain", "resolve", "close", "reopen", "add_note", "correct_time",
        "correct_details", "link_recovery", "assign_reference"),
    "orders": (
        "place", "accept", "reject", "dispatch", "start", "complete", "rate", "reopen",
        "cancel", "add_note", "correct_time", "correct_details", "assign_reference"),
    "improvements": (
        "plan", "assign", "reschedule", "start", "complete", "cancel", "reopen", "add_note",
        "correct_time", "correct_details"),
    "emergencies": (
        "declare", "call_up", "acknowledge", "arrive", "end", "add_note", "correct_time",
        "correct_details"),
    "patrols": (
        "record", "correct_coverage", "correct_end", "add_note", "adopt_plan",
        "correct_time", "correct_details"),
    "hazards": (
        "find", "assign", "rectify", "verify", "close", "reopen", "add_note", "link_order",
        "link_improvement", "link_incident", "assign_reference", "correct_time",
        "correct_details"),
    "people": ("erase", "export"),
}
"""Each service's commands (``engine.<service>.<command>``; ``people.erase`` and
``people.export`` are ``engine.erase_person`` and ``engine.export_person``)."""

COMMANDS: frozenset[str] = frozenset(
    {f"{service}.{command}" for service, names in SERVICE_COMMANDS.items() for command in names}
    | {IMPORT})
"""Every command a policy rules on, named ``"<service>.<method>"`` (and ``"import"``)."""

ROSTER_FACTS: Mapping[type[Community.Event], str] = {
    Community.Registered: "communities.register",
    Community.PersonEnrolled: "communities.enrol",
    Community.RoleAssigned: "communities.assign_role",
    Community.RoleRelieved: "communities.relieve_role",
    Community.PersonErased: "people.erase",
}
"""The facts the roster is made of, each with the command that records it: correcting
one needs that command's right too, without override (resilience.domain.policy's
docstring)."""


def roster_command(fact: object) -> str | None:
    """The command that records ``fact`` if it is a roster fact (ROSTER_FACTS), else None."""
    return next((command for cls, command in ROSTER_FACTS.items() if isinstance(fact, cls)),
                None)


CORRECTIONS: frozenset[str] = frozenset(
    c for c in COMMANDS if c.endswith((".correct_time", ".correct_details",
                                       ".correct_participants", ".correct_coverage",
                                       ".correct_end")))
"""The commands that correct a recorded fact: their rules may carry a window (a patrol's
coverage and end correct its record, its first fact)."""

_OFF_ROSTER_AREA = frozenset({Role.RESIDENT, Role.PROVIDER, Role.SYSTEM,
                              Role.INCIDENT_COMMANDER})
"""Roles that hold no area: an ``area`` rule could never apply to them."""


def _role(value: object) -> Role:
    return parse_enum(Role, value, "role")


def _scope(value: object) -> Scope:
    return parse_enum(Scope, value, "scope")


def known_command(value: object) -> str:
    """``value`` if it names a command of COMMANDS; otherwise InvalidInputError."""
    if type(value) is not str or value not in COMMANDS:
        raise InvalidInputError(_("unknown command {value}: a command is one of "
                                  "resilience.domain.policy.COMMANDS, e.g. "
                                  "'incidents.contain'").format(value=shown(value)))
    return value


def _command(_: object, __: Any, value: str) -> None:
    known_command(value)


def _window(rule: object, attribute: Any, value: timedelta | None) -> None:
    if value is None:
        return
    if type(value) is not timedelta or value <= timedelta(0):
        raise InvalidInputError(_("within must be a positive timedelta or None, got {value}")
                                .format(value=shown(value)))


@frozen
class Rule:
    """``role`` may do ``command`` in ``scope`` (a correction: at most ``within`` after the
    corrected fact was recorded; None: any time)."""

    role: Role = field(converter=_role)
    command: str = field(validator=_command)
    scope: Scope = field(converter=_scope)
    within: timedelta | None = field(default=None, validator=_window)

    def __attrs_post_init__(self) -> None:
        if self.within is not None and self.command not in CORRECTIONS:
            raise InvalidInputError(_("{command} is no correction: only corrections' rules "
                                      "have a window").format(command=self.command))
        if self.scope is Scope.AREA and self.role in _OFF_ROSTER_AREA:
            raise InvalidInputError(_("{role} holds no area: a rule for it in scope area could "
                                      "never apply").format(role=self.role.value))
        if self.command == IMPORT and self.scope is not Scope.COMMUNITY:
            raise InvalidInputError(_("import is allowed in scope community only"))


@frozen
class Reader:
    """``role`` may see residents' personal data in ``scope``: ``community`` (all of the
    community's) or ``area`` (within an area the viewer holds the role for)."""

    role: Role = field(converter=_role)
    scope: Scope = field(converter=_scope)

    def __attrs_post_init__(self) -> None:
        if self.scope not in (Scope.COMMUNITY, Scope.AREA):
            raise InvalidInputError(_("personal data is read in scope community or area"))
        if self.role not in ROSTER_ROLES:
            raise InvalidInputError(_("{role} is no roster role: only people on the roster "
                                      "read residents' personal data").format(
                                          role=self.role.value))


@frozen
class Target:
    """What a command acts on, as a decision needs it. The services build it; the phrases
    name it in refusals ("the incident's area", "the resident asked")."""

    area: str | None = None
    """The area the command acts in (None: the whole community)."""
    subject: str | None = None
    """The person the command is about (``own``): the responder, the resident asked, who
    placed the order, who recorded the corrected fact."""
    assigned: frozenset[str] = frozenset()
    """The people assigned to the target at that moment (``assigned``)."""
    commander: str | None = None
    """The incident's commander at that moment (standing of ``incident_commander``)."""
    corrected: int | None = None
    """The version of the corrected fact (corrections)."""
    corrected_recorded_at: datetime | None = None
    """When the corrected fact was recorded (None: no such fact; no window applies)."""
    what: str = N_("the community")
    area_is: str = N_("the area named")
    subject_is: str = N_("the person named")
    assigned_is: str = N_("assigned to it")
    # (The phrases are marked for the catalog: a refusal translates them when it is worded.)


@frozen
class Decision:
    """A policy's answer: ``allowed`` (``overridden``: only through the actor's override),
    or refused, ``reason`` saying who, role, what, where, when and why."""

    allowed: bool
    overridden: bool = False
    reason: str = ""
