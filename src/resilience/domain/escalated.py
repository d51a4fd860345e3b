"""What an escalation records, and who records it: the watch's facts, apart from any case.

An ``Escalated`` fact (an incident's or an order's) says that a deadline of the escalation
policy (resilience.domain.escalation) passed unmet, and whom its level told
(``Notified``). Only the engine's watch (``WATCH``) records one, dated when it was due,
under the command id ``escalation/<deadline>/<cycle>/<level>`` (``escalation_command``):
command ids of that form are the watch's alone (``RESERVED_PREFIX``; the store refuses
them from anyone else, so no command can take one first and block or stand in for an
escalation), and so is the person id ``resilience-watch`` (no roster enrols it). The
facts record what the engine's clock said: they are never corrected (``correctable``).

This module knows no aggregate, so every aggregate and the services can import it.
"""

from collections.abc import Container, Sequence
from datetime import datetime
from typing import Any, ClassVar

import attrs
from attrs import field, frozen

from resilience.domain.validation import (
    check_instance,
    check_items,
    check_moment,
    check_whole,
    optional_non_empty_field,
    require_text,
)
from resilience.domain.values import Actor, Role
from resilience.errors import InvalidInputError, InvalidTransitionError
from resilience.i18n import N_, _

WATCH = Actor("resilience-watch", Role.SYSTEM)
"""Who records escalations: the engine's watch, not a person (its facts' delay from their
due time is the watch's lag, graded in reviews, not a late record). Its person id is
reserved: no roster enrols it."""

RESERVED_PREFIX = "escalation/"
"""Command ids starting so are the watch's (``escalation_command``)."""


def escalation_command(deadline: str, cycle: int, level: int) -> str:
    """The command id the watch records a level of a deadline in a cycle under."""
    return f"{RESERVED_PREFIX}{deadline}/{cycle}/{level}"


def is_watch(actor: Actor) -> bool:
    """Is ``actor`` the engine's watch (as imported or not)?"""
    return (actor.person_id, actor.role) == (WATCH.person_id, WATCH.role)


def check_command_id(actor: Actor, command_id: str | None) -> None:
    """Refuse (InvalidInputError) a command id of the watch's form from anyone else."""
    if (isinstance(command_id, str) and command_id.startswith(RESERVED_PREFIX)
            and not is_watch(actor)):
        raise InvalidInputError(_(
            "command ids starting with {prefix} are the watch's (its escalations); got "
            "{command_id}").format(prefix=repr(RESERVED_PREFIX), command_id=repr(command_id)))


def _optional_role(_: object, attribute: "attrs.Attribute[Any]", value: object) -> None:
    if value is not None:
        check_instance(value, attribute.name, Role)


@frozen
class Notified:
    """Whom an escalation told (resilience.domain.escalation), as resolved when it was
    due: a roster ``role`` and the ``person_id`` who held it then for ``scope`` (the area
    they hold it for, None: community-wide), with ``person_id`` None when nobody held
    it; or a ``body`` (the community's subdistrict or district, by its name) and
    ``scope`` the kind of body (``"subdistrict"``, ``"district"``). Exactly one of
    ``role`` and ``body``."""

    role: Role | None = field(default=None, validator=_optional_role)
    body: str | None = field(default=None, validator=optional_non_empty_field)
    scope: str | None = field(default=None, validator=optional_non_empty_field)
    person_id: str | None = field(default=None, validator=optional_non_empty_field)

    def __attrs_post_init__(self) -> None:
        if (self.role is None) == (self.body is None):
            raise InvalidInputError(_("whom an escalation told is a role or a body: exactly "
                                      "one of them"))
        if self.body is not None and self.person_id is not None:
            raise InvalidInputError(_("a body is told as a body: no person_id"))

    def __str__(self) -> str:
        if self.role is None:
            return f"{self.scope or 'body'} {self.body}"
        where = f" of {self.scope}" if self.scope else ""
        return f"{self.role.value}{where} {self.person_id or '(nobody held it)'}"


def told_text(notified: Sequence[Notified]) -> str:
    """Whom an escalation told, without names (each ``Notified`` as it reads, by person
    id): ``"grid_leader of 3 wu; subdistrict Daimiao"``, ``"nobody"`` if it told none.
    The words of ``resilience tick``, ``watch`` and the facts' ``describe``; a review
    names the people (resilience.review.escalations.told)."""
    return "; ".join(map(str, notified)) or "nobody"


MAX_LEVEL = 99
"""Highest level of an escalation (levels count from 0: a deadline has at most 100)."""


def check_escalation(deadline: object, level: object, cycle: object, due_at: object,
                     notified: object, occurred_at: datetime, *, cycles: int,
                     escalated: Container[tuple[str, int, int]]) -> tuple[
                         str, int, int, datetime, tuple[Notified, ...]]:
    """An escalation's fields, checked (the ``escalate`` commands of incidents and orders
    share them): a deadline name, a level from 0 to ``MAX_LEVEL``, a cycle the case has
    begun (up to ``cycles``), the moment it was due (which is when it happened:
    ``occurred_at``) and whom it told; InvalidTransitionError if the case has the
    (deadline, cycle, level) ``escalated`` already."""
    name = require_text(deadline, "deadline")
    moment = check_moment(due_at, "due_at")
    if occurred_at != moment:
        raise InvalidInputError(_("an escalation happens when it is due ({due}), not at "
                                  "{time}").format(due=moment.isoformat(),
                                                   time=occurred_at.isoformat()))
    told = check_items(notified, "notified",
                       lambda value, what: check_instance(value, what, Notified))
    step, span = check_whole(level, "level", 0, MAX_LEVEL), check_whole(cycle, "cycle", 0)
    if span > cycles:
        raise InvalidInputError(_("the case has no cycle {cycle} (it is in cycle {cycles})")
                                .format(cycle=span, cycles=cycles))
    if (name, span, step) in escalated:
        raise InvalidTransitionError(_(
            N_("{deadline} (level {level}, cycle {cycle}) was already escalated") if span else
            N_("{deadline} (level {level}) was already escalated")).format(
                deadline=name, level=step, cycle=span))
    return name, step, span, moment, told


class Escalation:
    """What an incident's and an order's ``Escalated`` facts share beside their fields
    (each class declares those: ``deadline``, ``level``, ``cycle``, ``due_at``,
    ``notified``): their wording, what the cases view keeps, and the escalations their
    aggregate holds. A plain mix-in placed before the aggregate's ``Event``, as
    ``Correction`` is for corrections."""

    deadline: str
    level: int
    cycle: int
    notified: tuple[Notified, ...]
    originator_version: int
    timestamp: datetime
    correctable: ClassVar[bool] = False
    """The watch's record of the trusted clock: neither its time nor its details are
    corrected."""

    def describe(self) -> str:
        told = told_text(self.notified)
        again = f", cycle {self.cycle}" if self.cycle else ""
        return f"escalated: {self.deadline} not met (level {self.level}{again}); told {told}"

    def detail(self) -> list[str | int]:
        return [self.deadline, self.level, self.cycle]

    def apply(self, aggregate: Any) -> None:
        aggregate.escalations[(self.deadline, self.cycle, self.level)] = (
            self.originator_version, self.timestamp)
