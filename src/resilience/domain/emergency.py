"""The emergency aggregate: a community or one grid switched from peacetime into an
emergency, its teams mobilised member by member, and its return to normal order.

declared -> mobilisation called (any number of times) -> each member acknowledges and
arrives at a post -> ended ("return to normal order"), with notes and corrections.

Rules, over effective times (corrections applied):

- nothing happens before the declaration;
- a member is called up once (a later call-up calls only people not yet called), and
  acknowledges and arrives at most once each, never before the call-up that called them;
  an arrival is never before the member's acknowledgement (a member who turns up
  unannounced has answered by arriving: the acknowledgement is not required);
- the end is the emergency's last fact: nothing (but a correction) is dated after it.
  An ended emergency accepts corrections and late records (call-ups, answers, arrivals,
  notes) dated at or before its end; it is never reopened: a new emergency is declared.

The emergency is **in force** from its declaration (inclusive) to its end (exclusive):
``in_force(at)``, the one rule (``in_force_between``) every reading of an emergency
applies; it **covers** the grid it was declared for, or (declared for the whole
community) every area of the community (``covers_grid``). Who is called up is the
roster's answer at the call-up's moment, worked out by the service
(resilience.services.emergencies), and recorded on the fact, each member with the team
(roster role) they were called as (``CalledMember``), so the record says who was asked,
and as what, whatever the roster says later.
"""

import itertools
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from attrs import frozen

from resilience.domain.base import Context, Correction, FactAggregate, personal_data
from resilience.domain.validation import check_items, check_moment, check_uuid, require_text
from resilience.domain.values import ROSTER_ROLES, Role, parse_enum
from resilience.errors import InvalidInputError, InvalidTransitionError
from resilience.i18n import N_, _


class EmergencyKind(StrEnum):
    """What the emergency is."""

    FLOOD = "flood"
    EPIDEMIC = "epidemic"
    MAJOR_FIRE = "major_fire"
    POWER_CUT = "power_cut"
    STORM = "storm"
    EARTHQUAKE = "earthquake"
    OTHER = "other"


NORMAL_ORDER = "return to normal order"
"""The usual reason an emergency ends with."""


def parse_teams(teams: object) -> tuple[Role, ...]:
    """The teams a call-up names: a non-empty list or tuple of roster roles (Role or its
    text), each once, in the order given; InvalidInputError otherwise."""
    parsed = check_items(teams, "teams", lambda value, name: parse_enum(Role, value, name))
    if not parsed:
        raise InvalidInputError(_("teams must name at least one roster role"))
    for role in parsed:
        if role not in ROSTER_ROLES:
            raise InvalidInputError(_("teams are roster roles: {role} is held by nobody on "
                                      "the roster").format(role=role.value))
    if len(set(parsed)) != len(parsed):
        raise InvalidInputError(_("teams names a role twice"))
    return parsed


def in_force_between(declared_at: datetime, ended_at: datetime | None, at: datetime) -> bool:
    """The rule of an emergency in force at ``at``: declared at or before it, not ended by
    then (the end exclusive; ``ended_at`` None: not ended)."""
    return declared_at <= at and (ended_at is None or at < ended_at)


def covers_grid(area_id: str | None, grid: str | None) -> bool:
    """Does an emergency declared for ``area_id`` (a grid; None: the whole community)
    cover ``grid`` (the grid of the area asked about; None: the community as a whole, or
    an area in no grid, which only the whole community's emergencies cover)?"""
    return area_id is None or area_id == grid


@frozen
class CalledMember:
    """One person a call-up called, with the team (the roster role of the call-up's teams)
    they were called as. Recorded on the call-up as is (``person_id`` is a pseudonym, as
    every person id)."""

    person_id: str
    role: Role


class Emergency(FactAggregate):
    """One emergency in one community (or one of its grids), from declaration to its end."""

    TOPIC = "resilience.emergency:Emergency"
    kind = N_("emergency")
    beginning = N_("the declaration")

    community_id: UUID
    area_id: str | None
    """The grid in emergency (None: the whole community)."""
    emergency_kind: EmergencyKind
    reason: str
    calls: dict[int, tuple[Role, ...]]
    """Version of each call-up -> the teams it called."""
    called: dict[str, int]
    """Person -> version of the call-up that called them, in the order they were called."""
    roles: dict[str, Role]
    """Person -> the team (roster role) they were called as."""
    acknowledged: dict[str, int]
    """Person -> version of their acknowledgement."""
    arrived: dict[str, int]
    """Person -> version of their arrival."""
    posts: dict[str, str]
    """Person -> the post they arrived at."""
    ended: int | None
    """Version of the end (None while in force)."""
    end_reason: str | None

    class Event(FactAggregate.Event):
        TOPIC = "resilience.emergency:Event"
        aggregate_kind = "emergency"

    class Declared(Event, FactAggregate.Created):
        """The community (``area_id`` None) or one grid was switched into an emergency."""

        TOPIC = "resilience.emergency:Declared"
        personal = personal_data({"reason": "actor"})
        noun = N_("declaration")
        step = True
        notice = "emergency.declared"
        community_id: UUID
        area_id: str | None
        kind: EmergencyKind
        reason: str

        def apply(self, aggregate: "Emergency") -> None:
            aggregate.community_id = self.community_id
            aggregate.area_id = self.area_id
            aggregate.emergency_kind = self.kind
            aggregate.reason = self.reason

        def describe(self) -> str:
            where = f"grid {self.area_id}" if self.area_id is not None else "the community"
            return f"{self.kind.value.replace('_', ' ')} emergency declared in {where}: " \
                   f"{self.reason}"

        def detail(self) -> Any:
            return self.reason

    Created = Declared  # see Incident.Created

    class MobilisationCalled(Event):
        """``teams`` were called up: ``members`` are who held those roles then, each with
        the team they were called as."""

        TOPIC = "resilience.emergency:MobilisationCalled"
        noun = N_("call-up")
        notice = "emergency.mobilised"
        teams: tuple[Role, ...]
        members: tuple[CalledMember, ...]

        def apply(self, aggregate: "Emergency") -> None:
            aggregate.calls[self.originator_version] = self.teams
            for member in self.members:
                aggregate.called[member.person_id] = self.originator_version
                aggregate.roles[member.person_id] = member.role

        def describe(self) -> str:
            teams = ", ".join(team.value.replace("_", " ") for team in self.teams)
            called = ", ".join(f"{m.person_id} ({m.role.value.replace('_', ' ')})"
                               for m in self.members)
            return f"mobilisation called ({teams}): {called}"

        def detail(self) -> Any:
            return [[team.value for team in self.teams],
                    [[m.person_id, m.role.value] for m in self.members]]

    class MemberAcknowledged(Event):
        """A member called up answered: they are coming."""

        TOPIC = "resilience.emergency:MemberAcknowledged"
        noun = N_("acknowledgement")
        person_id: str

        def apply(self, aggregate: "Emergency") -> None:
            aggregate.acknowledged[self.person_id] = self.originator_version

        def describe(self) -> str:
            return f"{self.person_id} acknowledged the call-up"

        def detail(self) -> Any:
            return self.person_id

    class MemberArrived(Event):
        """A member called up arrived at their ``post``."""

        TOPIC = "resilience.emergency:MemberArrived"
        personal = personal_data({"post": "actor"})
        noun = N_("arrival")
        person_id: str
        post: str

        def apply(self, aggregate: "Emergency") -> None:
            aggregate.arrived[self.person_id] = self.originator_version
            aggregate.posts[self.person_id] = self.post

        def describe(self) -> str:
            return f"{self.person_id} arrived at {self.post}"

        def detail(self) -> Any:
            return [self.person_id, self.post]

    class Ended(Event):
        """The emergency ended: the community (or grid) is back in peacetime."""

        TOPIC = "resilience.emergency:Ended"
        personal = personal_data({"reason": "actor"})
        noun = N_("end")
        step = True
        notice = "emergency.ended"
        reason: str

        def apply(self, aggregate: "Emergency") -> None:
            aggregate.ended = self.originator_version
            aggregate.end_reason = self.reason

        def describe(self) -> str:
            return f"emergency ended: {self.reason}"

        def detail(self) -> Any:
            return self.reason

    class NoteAdded(Event):
        TOPIC = "resilience.emergency:NoteAdded"
        personal = personal_data({"text": "actor"})
        text: str

        def describe(self) -> str:
            return f"note: {self.text}"

    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "resilience.emergency:TimeCorrected"

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "resilience.emergency:DetailsCorrected"

    def __init__(self) -> None:
        super().__init__()
        self.calls = {}
        self.called = {}
        self.roles = {}
        self.acknowledged = {}
        self.arrived = {}
        self.posts = {}
        self.ended = None
        self.end_reason = None

    # Creation -----------------------------------------------------------------

    @classmethod
    def declare(cls, ctx: Context, *, emergency_id: UUID, community_id: UUID,
                area_id: str | None, kind: EmergencyKind | str, reason: str) -> "Emergency":
        """Switch the community (``area_id`` None) or one of its grids into an emergency
        (the service checks the grid is one of the community's)."""
        check_uuid(community_id, "community_id")
        return cls._create(
            cls.Declared, id=emergency_id, timestamp=ctx.recorded_at,
            occurred_at=ctx.occurred_at, actor=ctx.actor, command_id=ctx.command_id,
            community_id=community_id,
            area_id=None if area_id is None else require_text(area_id, "area_id"),
            kind=parse_enum(EmergencyKind, kind, "kind"),
            reason=require_text(reason, "reason"))

    # Queries ------------------------------------------------------------------

    @property
    def declared_at(self) -> datetime:
        return self.occurred[1]

    @property
    def ended_at(self) -> datetime | None:
        return None if self.ended is None else self.occurred[self.ended]

    def in_force(self, at: datetime) -> bool:
        """Was the emergency in force at ``at`` (declared by then, not yet ended)?"""
        check_moment(at, "at", query=True)
        return in_force_between(self.declared_at, self.ended_at, at)

    def covers(self, grid: str | None) -> bool:
        """Does the emergency cover ``grid`` (``covers_grid``)?"""
        return covers_grid(self.area_id, grid)

    @property
    def members(self) -> tuple[str, ...]:
        """Everyone called up, in the order they were called."""
        return tuple(self.called)

    # Commands -----------------------------------------------------------------

    def call_up(self, ctx: Context, teams: Iterable[Role],
                members: Iterable[CalledMember]) -> None:
        """Record a call-up of ``teams``, which gave ``members`` (people not yet called,
        each with the team of ``teams`` they were called as)."""
        teams = parse_teams(teams)
        called = check_items(members, "members", _called_member)
        strays = [m.person_id for m in called if m.role not in teams]
        if strays:
            raise InvalidInputError(_("called as a team the call-up does not name: {people}")
                                    .format(people=", ".join(strays)))
        self._after_beginning(ctx)
        self._check_writable(self.MobilisationCalled, ctx.occurred_at)
        if not called:
            raise InvalidTransitionError(_(
                "nobody to call up: no one held {teams} in the emergency's area at {time} who "
                "was not called already").format(teams=", ".join(t.value for t in teams),
                                                 time=ctx.occurred_at.isoformat()))
        people = [m.person_id for m in called]
        if len(set(people)) != len(people):
            raise InvalidInputError(_("members names a person twice"))
        again = [p for p in people if p in self.called]
        if again:
            raise InvalidTransitionError(_("already called up: {people}").format(
                people=", ".join(again)))
        self._trigger(self.MobilisationCalled, ctx, teams=teams, members=called)

    def acknowledge(self, ctx: Context, person_id: str) -> None:
        """Record that a member called up answered the call."""
        person_id = self._member(person_id)
        if person_id in self.acknowledged:
            raise InvalidTransitionError(_("{person} already acknowledged").format(
                person=person_id))
        self._after_call(ctx, person_id)
        arrival = self.arrived.get(person_id)
        if arrival is not None and ctx.occurred_at > self.occurred[arrival]:
            raise InvalidTransitionError(_(
                "{person} arrived at {time}: an acknowledgement can't come after the arrival")
                .format(person=person_id, time=self.occurred[arrival].isoformat()))
        self._trigger(self.MemberAcknowledged, ctx, person_id=person_id)

    def arrive(self, ctx: Context, person_id: str, post: str) -> None:
        """Record that a member called up arrived at ``post``."""
        person_id = self._member(person_id)
        post = require_text(post, "post")
        if person_id in self.arrived:
            raise InvalidTransitionError(_("{person} already arrived").format(person=person_id))
        self._after_call(ctx, person_id)
        answer = self.acknowledged.get(person_id)
        if answer is not None:
            self._not_before(ctx, answer, N_("{person}'s {noun}"), person=person_id)
        self._trigger(self.MemberArrived, ctx, person_id=person_id, post=post)

    def end(self, ctx: Context, reason: str) -> None:
        """End the emergency: back to peacetime. Dated no earlier than any of its facts."""
        reason = require_text(reason, "reason")
        if self.ended is not None:
            raise InvalidTransitionError(_("the emergency already ended at {time}").format(
                time=self.occurred[self.ended].isoformat()))
        latest = max(self._facts(), key=lambda v: self.occurred[v])
        self._not_before(ctx, latest, N_("the emergency's {noun} (fact {fact})"),
                         noun=self._noun_of(latest) or N_("note"), fact=latest)
        self._trigger(self.Ended, ctx, reason=reason)

    def add_note(self, ctx: Context, text: str) -> None:
        text = require_text(text, "text")
        self._after_beginning(ctx)
        self._trigger(self.NoteAdded, ctx, text=text)

    # Invariants ---------------------------------------------------------------

    def _member(self, person_id: str) -> str:
        person_id = require_text(person_id, "person_id")
        if person_id not in self.called:
            raise InvalidTransitionError(_("{person} was not called up in this emergency")
                                         .format(person=person_id))
        return person_id

    def _after_call(self, ctx: Context, person_id: str) -> None:
        self._not_before(ctx, self.called[person_id], N_("{person}'s {noun}"), person=person_id)

    def _facts(self) -> list[int]:
        """Versions of the facts that are no correction."""
        return [v for v, fact in self.fact_types.items() if not issubclass(fact, Correction)]

    def _closure(self) -> int | None:
        return self.ended

    def _closed_as(self) -> str:
        return "ended"

    def _check_writable(self, event_class: type[Any], at: datetime) -> None:
        """The amendment rule, worded for an emergency, which is never reopened."""
        ended = self.ended_at
        if ended is None or issubclass(event_class, Correction):
            return
        if event_class.step:
            raise InvalidTransitionError(_(
                "the emergency ended at {ended}: it can't end again; declare a new emergency")
                .format(ended=ended.isoformat()))
        if at > ended:
            raise InvalidTransitionError(_(
                "the emergency ended at {ended}: a fact dated after that ({time}) belongs to a "
                "new emergency; facts dated at or before it are recorded as amendments").format(
                    ended=ended.isoformat(), time=at.isoformat()))

    def _check_times(self, times: dict[int, datetime]) -> None:
        self._check_beginning(times)
        for person, call in self.called.items():
            answers = [v for v in (self.acknowledged.get(person), self.arrived.get(person))
                       if v is not None]
            for earlier, later in itertools.pairwise([call, *answers]):
                if times[later] < times[earlier]:
                    raise InvalidTransitionError(_(
                        "{person}'s {noun} would precede their {earlier}: times can't go "
                        "backwards").format(person=person,
                                            noun=self._said_noun(later),
                                            earlier=self._said_noun(earlier)))
        if self.ended is not None:
            end = times[self.ended]
            late = [v for v in self._facts() if times[v] > end]
            if late:
                raise InvalidTransitionError(_(
                    "the emergency's end ({end}) would precede {facts} (fact {versions}): the "
                    "end is its last fact").format(
                        end=end.isoformat(), facts=", ".join(self._name_of(v) for v in late),
                        versions=", ".join(map(str, late))))


def _called_member(value: object, name: str) -> CalledMember:
    """``value`` if it is a CalledMember of a person id (text) and a roster role."""
    if not isinstance(value, CalledMember):
        raise InvalidInputError(_("{name} must be a CalledMember, got {type}").format(
            name=name, type=type(value).__name__))
    return CalledMember(require_text(value.person_id, f"{name}.person_id"),
                        parse_enum(Role, value.role, f"{name}.role"))
