"""Who may do what, where and when: the authorization policy, as data.

A policy is a set of rules, each ``role × command × scope`` (and, for corrections, a
window). A command is allowed when some rule for the role the actor claims and the
command holds for them; no rule, denied. The claim (``Actor(person_id, role)``) is checked
against the community's roster **at the moment the action happened** (its
``occurred_at``): "was zhou grid leader of grid 3 at 15:02?". Authentication (that the
caller is who the actor says) is the app's job, not this module's.

The actor's *standing* in the role they claim:

- a roster role (grid leader, squad member, community staff...): the terms they hold in
  that role at that moment, each for an area or (``None``) the whole community; the
  community's founder (who registered it) counts as community staff of the whole
  community. No term, no standing. Registering a community (which has no roster yet)
  is open to whoever claims community staff: they become its founder.
- ``incident_commander``: they are the incident's commander at that moment (the last
  commander assignment dated at or before it).
- ``resident``, ``provider``, ``system``: always (they act off the roster); what they may
  do is bounded by their rules' scopes (a resident's own consent, a provider's own order)
  and the system role is for imports.

A rule's scope says what, beyond standing, it needs:

- ``community``: nothing more (anywhere in the community).
- ``area``: the command's target area lies within an area of one of their terms (a grid
  leader of grid 3 covers grid 3's micro-grids, buildings and units; a term for the whole
  community covers everything, a community-wide target only such a term). The target
  area is the incident's location (unit, else building, else grid, else the community),
  the order's area, the item's grid, or the area a community command names.
- ``own``: the command is about themselves: their own arrival, a consent request
  addressed to them, an order they placed, a fact they recorded (corrections).
- ``assigned``: they are assigned to the target: dispatched to (at or before that moment)
  or commanding the incident, the provider the order is dispatched to, the owner of the
  improvement item.

Corrections (``*.correct_time``, ``*.correct_details``, ``communities.correct_participants``)
may carry a window on their rules: the correction's recorded time minus the corrected
fact's recorded time must be at most ``within``. Later, only by override.

Overrides. An actor with ``override="why"`` may do what the policy denies them, if they
are on the community's roster at that moment in the role they claim (the founder counts as
community staff; claiming a role off the roster, in any roster role; never the system
role), and the command is not one the policy marks not overridable. The fact records the
override (its actor carries it). An override that was not needed is allowed and recorded.

Imports run under an importer's identity (``engine.importing``): per-actor checks are
skipped, the importer must be allowed the command ``"import"``, and every imported fact
records who imported it.
"""

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from attrs import field, frozen

from resilience.domain.base import Context
from resilience.domain.organisation import Community
from resilience.domain.validation import check_instance, check_moment, shown
from resilience.domain.values import ROSTER_ROLES, Actor, AreaKind, Role, parse_enum
from resilience.errors import InvalidInputError, PermissionDeniedError


class Scope(StrEnum):
    """What a rule needs beyond the actor's standing in their role (module docstring)."""

    COMMUNITY = "community"
    AREA = "area"
    OWN = "own"
    ASSIGNED = "assigned"


IMPORT = "import"
"""The command an importer must be allowed (``engine.importing``)."""

SERVICE_COMMANDS: Mapping[str, tuple[str, ...]] = {
    "communities": (
        "register", "add_grid", "add_micro_grid", "add_building", "classify_zone", "enrol",
        "assign_role", "relieve_role", "issue_care_card", "hold_activity",
        "correct_participants", "correct_time", "correct_details"),
    "incidents": (
        "detect", "report", "report_to_community", "acknowledge", "reclassify",
        "assign_commander", "dispatch", "en_route", "arrive", "take_action", "request_consent",
        "grant_consent", "refuse_consent", "authorise_exigent_entry", "force_entry",
        "find_source", "contain", "resolve", "close", "reopen", "add_note", "correct_time",
        "correct_details"),
    "orders": (
        "place", "accept", "reject", "dispatch", "start", "complete", "rate", "reopen",
        "cancel", "add_note", "correct_time", "correct_details"),
    "improvements": (
        "plan", "assign", "reschedule", "start", "complete", "cancel", "reopen", "add_note",
        "correct_time", "correct_details"),
    "people": ("erase",),
}
"""Each service's commands (``engine.<service>.<command>``; ``people.erase`` is
``engine.erase_person``)."""

COMMANDS: frozenset[str] = frozenset(
    {f"{service}.{command}" for service, names in SERVICE_COMMANDS.items() for command in names}
    | {IMPORT})
"""Every command a policy rules on, named ``"<service>.<method>"`` (and ``"import"``)."""

CORRECTIONS: frozenset[str] = frozenset(
    c for c in COMMANDS if c.endswith((".correct_time", ".correct_details",
                                       ".correct_participants")))
"""The commands that correct a recorded fact: their rules may carry a window."""

_OFF_ROSTER_AREA = frozenset({Role.RESIDENT, Role.PROVIDER, Role.SYSTEM,
                              Role.INCIDENT_COMMANDER})
"""Roles that hold no area: an ``area`` rule could never apply to them."""


def _role(value: object) -> Role:
    return parse_enum(Role, value, "role")


def _scope(value: object) -> Scope:
    return parse_enum(Scope, value, "scope")


def _known(value: object) -> str:
    """``value`` if it names a command of COMMANDS; otherwise InvalidInputError."""
    if type(value) is not str or value not in COMMANDS:
        raise InvalidInputError(f"unknown command {shown(value)}: a command is one of "
                                "resilience.domain.policy.COMMANDS, e.g. 'incidents.contain'")
    return value


def _command(_: object, __: Any, value: str) -> None:
    _known(value)


def _window(_: object, __: Any, value: timedelta | None) -> None:
    if value is None:
        return
    if type(value) is not timedelta or value <= timedelta(0):
        raise InvalidInputError(f"within must be a positive timedelta or None, got "
                                f"{shown(value)}")


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
            raise InvalidInputError(f"{self.command} is no correction: only corrections' "
                                    "rules have a window")
        if self.scope is Scope.AREA and self.role in _OFF_ROSTER_AREA:
            raise InvalidInputError(f"{self.role.value} holds no area: a rule for it in scope "
                                    "area could never apply")
        if self.command == IMPORT and self.scope is not Scope.COMMUNITY:
            raise InvalidInputError("import is allowed in scope community only")


@frozen
class Reader:
    """``role`` may see residents' personal data in ``scope``: ``community`` (all of the
    community's) or ``area`` (within an area the viewer holds the role for)."""

    role: Role = field(converter=_role)
    scope: Scope = field(converter=_scope)

    def __attrs_post_init__(self) -> None:
        if self.scope not in (Scope.COMMUNITY, Scope.AREA):
            raise InvalidInputError("personal data is read in scope community or area")
        if self.role not in ROSTER_ROLES:
            raise InvalidInputError(f"{self.role.value} is no roster role: only people on the "
                                    "roster read residents' personal data")


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
    what: str = "the community"
    area_is: str = "the area named"
    subject_is: str = "the person named"
    assigned_is: str = "assigned to it"


@frozen
class Decision:
    """A policy's answer: ``allowed`` (``overridden``: only through the actor's override),
    or refused, ``reason`` saying who, role, what, where, when and why."""

    allowed: bool
    overridden: bool = False
    reason: str = ""


_NOWHERE = Target()


def _as_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


def _as_set(items: Iterable[str]) -> frozenset[str]:
    return frozenset(items)


@frozen
class Policy:
    """Rules (role × command × scope, corrections' windows), the commands nobody may
    override, and who may read residents' personal data. Immutable: build a new one, or
    load one from JSON (``Policy.from_dict``), and give it to the engine."""

    rules: tuple[Rule, ...] = field(default=(), converter=_as_tuple)
    not_overridable: frozenset[str] = field(default=frozenset(), converter=_as_set)
    personal_data: tuple[Reader, ...] = field(default=(), converter=_as_tuple)
    _index: dict[tuple[str, Role], tuple[Rule, ...]] = field(init=False, repr=False, eq=False)
    _by_command: dict[str, tuple[Rule, ...]] = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        index: dict[tuple[str, Role], list[Rule]] = {}
        by_command: dict[str, list[Rule]] = {}
        seen: set[tuple[Role, str, Scope]] = set()
        for rule in self.rules:
            check_instance(rule, "rule", Rule)
            key = (rule.role, rule.command, rule.scope)
            if key in seen:
                raise InvalidInputError(f"the policy repeats the rule {rule.role.value} × "
                                        f"{rule.command} × {rule.scope.value}")
            seen.add(key)
            index.setdefault((rule.command, rule.role), []).append(rule)
            by_command.setdefault(rule.command, []).append(rule)
        for command in self.not_overridable:
            _known(command)
        for reader in self.personal_data:
            check_instance(reader, "reader", Reader)
        object.__setattr__(self, "_index", {k: tuple(v) for k, v in index.items()})
        object.__setattr__(self, "_by_command", {k: tuple(v) for k, v in by_command.items()})

    # Reading the rules ---------------------------------------------------------------

    def rules_for(self, command: str) -> tuple[Rule, ...]:
        """The rules of one command, in the policy's order."""
        _known(command)
        return self._by_command.get(command, ())

    def overridable(self, command: str) -> bool:
        _known(command)
        return command not in self.not_overridable

    # Deciding ------------------------------------------------------------------------

    def decide(self, community: Community | None, actor: Actor, command: str, *,
               at: datetime, recorded_at: datetime | None = None,
               target: Target = _NOWHERE) -> Decision:
        """May ``actor`` do ``command`` on ``target`` in ``community`` at ``at`` (its
        occurred_at; ``recorded_at``, when it is recorded, measures correction windows)?
        ``community`` None: the community does not exist yet (registering it)."""
        _known(command)
        check_instance(actor, "actor", Actor)
        check_moment(at, "at")
        check_instance(target, "target", Target)
        now = at if recorded_at is None else check_moment(recorded_at, "recorded_at")
        return self._decide(community, actor, command, at, now, lambda: target)

    def enforce(self, community: Community | None, ctx: Context, command: str,
                target: Callable[[], Target]) -> Decision:
        """``check`` for a command about to be decided: its context (whose actor and
        moments were checked when it was made) and its target, worked out only if a rule
        needs it (a community-wide rule does not). Raises PermissionDeniedError."""
        decision = self._decide(community, ctx.actor, _known(command), ctx.occurred_at,
                                ctx.recorded_at, _once(target))
        if not decision.allowed:
            raise PermissionDeniedError(decision.reason)
        return decision

    def _decide(self, community: Community | None, actor: Actor, command: str, at: datetime,
                now: datetime, target: Callable[[], Target]) -> Decision:
        held, areas = _standing(community, actor, at, target)
        rules = self._index.get((command, actor.role), ())
        if held and any(_applies(rule, community, actor, areas, target, now) for rule in rules):
            return Decision(True)
        reason = (f"{self._why(community, actor, held, areas, rules, target(), now)} at "
                  f"{at.isoformat()}: {self._needs(command, target())}")
        if actor.override is None:
            return Decision(False, reason=reason)
        problem = self._override_problem(community, actor, command, held, at)
        if problem is not None:
            return Decision(False, reason=f"{reason}; the override is refused: {problem}")
        return Decision(True, overridden=True)

    def allows(self, community: Community | None, actor: Actor, command: str, *,
               at: datetime, recorded_at: datetime | None = None,
               target: Target = _NOWHERE) -> bool:
        """``decide(...).allowed``."""
        return self.decide(community, actor, command, at=at, recorded_at=recorded_at,
                           target=target).allowed

    def check(self, community: Community | None, actor: Actor, command: str, *,
              at: datetime, recorded_at: datetime | None = None,
              target: Target = _NOWHERE) -> Decision:
        """``decide``, raising PermissionDeniedError (its reason) when refused."""
        decision = self.decide(community, actor, command, at=at, recorded_at=recorded_at,
                               target=target)
        if not decision.allowed:
            raise PermissionDeniedError(decision.reason)
        return decision

    def may_see_personal(self, community: Community, viewer: Actor, area: str | None,
                         at: datetime) -> bool:
        """May ``viewer`` (in the role they claim, held at ``at``) see residents' personal
        data about ``area`` (None: the community as a whole)? By default: community staff
        everywhere, a grid leader or grid worker within their grid. A viewer's own data is
        the reader's concern, not this rule's."""
        check_instance(viewer, "viewer", Actor)
        check_moment(at, "at", query=True)
        held, areas = _standing(community, viewer, at, lambda: _NOWHERE)
        if not held:
            return False
        return any(reader.role is viewer.role and (
            reader.scope is Scope.COMMUNITY or any(_covers(community, a, area) for a in areas))
            for reader in self.personal_data)

    # Refusals, in words --------------------------------------------------------------

    def _why(self, community: Community | None, actor: Actor, held: bool,
             areas: tuple[str | None, ...], rules: tuple[Rule, ...], target: Target,
             now: datetime) -> str:
        who, role = actor.person_id, _words(actor.role)
        if not held:
            if actor.role is Role.INCIDENT_COMMANDER:
                return f"{who} is not incident commander of {target.what}"
            if target.area is not None and any(r.scope is Scope.AREA for r in rules):
                return f"{who} is not {role} of {_where(community, target.area, actor.role)}"
            return f"{who} is not {role} in {_named(community)}"
        if not rules:
            return f"{who}, as {role}, may not do this"
        missed = []
        for rule in rules:
            match rule.scope:
                case Scope.AREA if not any(_covers(community, a, target.area) for a in areas):
                    missed.append(f"{role} of {_where(community, target.area, actor.role)}")
                case Scope.OWN if target.subject != actor.person_id:
                    missed.append(f"{target.subject_is}"
                                  + (f" ({target.subject})" if target.subject else ""))
                case Scope.ASSIGNED if actor.person_id not in target.assigned:
                    missed.append(target.assigned_is)
                case _:  # the scope holds: the correction's window does not
                    assert rule.within is not None
                    assert target.corrected_recorded_at is not None
                    age = now - target.corrected_recorded_at
                    return (f"{who}, as {role}, may correct a fact up to "
                            f"{_duration(rule.within)} after it was recorded; fact "
                            f"{target.corrected} was recorded {_duration(age)} before")
        return f"{who} is not " + " nor ".join(dict.fromkeys(missed))

    def _needs(self, command: str, target: Target) -> str:
        """Who the policy would let do ``command`` on ``target``, in words: its rules grouped
        by what they need ("grid_leader, grid_worker or volunteer of the incident's area")."""
        groups: dict[tuple[Scope, timedelta | None, bool], list[str]] = {}
        for rule in self._by_command.get(command, ()):
            commander = rule.role is Role.INCIDENT_COMMANDER and rule.scope is Scope.ASSIGNED
            groups.setdefault((rule.scope, rule.within, commander), []).append(rule.role.value)
        if not groups:
            return f"nobody may do {command} under this policy"
        phrases = []
        for (scope, within, commander), roles in groups.items():
            phrase = _listed(roles, "or") + {
                Scope.COMMUNITY: "", Scope.AREA: f" of {target.area_is}",
                Scope.OWN: f" ({target.subject_is})",
                Scope.ASSIGNED: f" of {target.what}" if commander
                else f" ({target.assigned_is})"}[scope]
            phrases.append(phrase + (f" within {_duration(within)}" if within else ""))
        simple = all(len(roles) == 1 for roles in groups.values())
        return f"{command} needs " + (_listed(phrases, "or") if simple else
                                      "; ".join(phrases[:-1]) + ("; or " if len(phrases) > 1
                                                                 else "") + phrases[-1])

    def _override_problem(self, community: Community | None, actor: Actor, command: str,
                          held: bool, at: datetime) -> str | None:
        """Why ``actor``'s override can't be taken, or None if it can."""
        if command in self.not_overridable:
            return f"{command} cannot be overridden"
        if actor.role is Role.SYSTEM:
            return "the system role acts only by import"
        if community is None or not (actor.person_id == community.founder
                                     or community.roles_of(actor.person_id, at)):
            return (f"{actor.person_id} is on no role of {_named(community)}'s roster then, and "
                    "only a person on the roster may override")
        if actor.role in ROSTER_ROLES and not held:
            return f"an override is made in a role one holds, and {actor.person_id} does not " \
                   f"hold {_words(actor.role)}"
        return None

    # JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON-ready data (``from_dict`` reads it back equal)."""
        rules = []
        for rule in self.rules:
            entry: dict[str, Any] = {"role": rule.role.value, "command": rule.command,
                                     "scope": rule.scope.value}
            if rule.within is not None:
                entry["within_hours"] = rule.within / timedelta(hours=1)
            rules.append(entry)
        return {"rules": rules, "not_overridable": sorted(self.not_overridable),
                "personal_data": [{"role": r.role.value, "scope": r.scope.value}
                                  for r in self.personal_data]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Policy":
        """A policy from ``to_dict``'s form; InvalidInputError naming what is wrong."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"a policy is a JSON object, got {shown(data)}")
        _keys(data, "the policy", required=set(), allowed={"rules", "not_overridable",
                                                           "personal_data"})
        rules = [_read(n, item, "rule", _rule) for n, item in
                 enumerate(_items(data.get("rules", []), "rules"), start=1)]
        readers = [_read(n, item, "personal_data entry", _reader) for n, item in
                   enumerate(_items(data.get("personal_data", []), "personal_data"), start=1)]
        barred = _items(data.get("not_overridable", []), "not_overridable")
        for command in barred:
            _known(command)
        return cls(rules, frozenset(barred), readers)


# Standing and scopes ---------------------------------------------------------------------


def _once(make: Callable[[], Target]) -> Callable[[], Target]:
    """``make``, called at most once (a target is worked out only if a rule needs it)."""
    made: list[Target] = []

    def target() -> Target:
        if not made:
            made.append(make())
        return made[0]
    return target


def _standing(community: Community | None, actor: Actor, at: datetime,
              target: Callable[[], Target]) -> tuple[bool, tuple[str | None, ...]]:
    """Does ``actor`` stand in the role they claim at ``at``, and for which areas (None:
    the whole community)?"""
    role = actor.role
    if role in ROSTER_ROLES:
        if community is None:  # registering: whoever claims staff becomes the founder
            return role is Role.COMMUNITY_STAFF, (None,)
        areas = [h.scope for h in community.roster(at, role=role)
                 if h.person_id == actor.person_id]
        if role is Role.COMMUNITY_STAFF and actor.person_id == community.founder:
            areas.append(None)
        return bool(areas), tuple(areas)
    if role is Role.INCIDENT_COMMANDER:
        commander = target().commander
        return commander is not None and commander == actor.person_id, ()
    return True, ()


def _applies(rule: Rule, community: Community | None, actor: Actor,
             areas: tuple[str | None, ...], target: Callable[[], Target], now: datetime) -> bool:
    """Does ``rule`` allow ``actor`` (who stands in its role, for ``areas``) the target?"""
    if rule.scope is Scope.COMMUNITY and rule.within is None:
        return True  # anywhere, any time: the target need not be worked out
    about = target()
    match rule.scope:
        case Scope.AREA:
            ok = any(_covers(community, held, about.area) for held in areas)
        case Scope.OWN:
            ok = about.subject is not None and about.subject == actor.person_id
        case Scope.ASSIGNED:
            ok = actor.person_id in about.assigned
        case _:
            ok = True
    if not ok or rule.within is None or about.corrected_recorded_at is None:
        return ok
    return now - about.corrected_recorded_at <= rule.within


def _covers(community: Community | None, held: str | None, area: object) -> bool:
    """Is ``area`` within ``held`` (None: the whole community, which covers everything)?"""
    if held is None:
        return True
    if community is None:
        return False
    current = area
    for _ in range(len(community.areas) + 1):  # areas form a tree; bounded all the same
        if type(current) is not str or current not in community.areas:
            return False
        if current == held:
            return True
        current = community.areas[current].parent
    return False


def _listed(items: list[str], last: str) -> str:
    """``["a", "b", "c"]`` as "a, b or c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def _words(role: Role) -> str:
    return role.value.replace("_", " ")


def _named(community: Community | None) -> str:
    return community.name if community is not None else "a community not yet registered"


_HELD_FOR = {Role.GRID_LEADER: AreaKind.GRID, Role.GRID_WORKER: AreaKind.GRID,
             Role.BUILDING_LEADER: AreaKind.BUILDING, Role.UNIT_LEADER: AreaKind.UNIT,
             Role.PARTY_MEMBER_HOUSEHOLD: AreaKind.BUILDING}
"""The kind of area each area-bound role is held for, to name the one a refusal is about."""


def _where(community: Community | None, area: object, role: Role | None = None) -> str:
    """An area in words ("grid 3", "building 30", "unit 30/1"; None: the community); for
    an area-bound ``role``, the area of its kind that holds it (a grid leader of grid 3,
    not of unit 30/1)."""
    if area is None:
        return _named(community)
    if community is None or type(area) is not str or area not in community.areas:
        return f"area {shown(area)}"
    named: str | None = area
    wanted = _HELD_FOR.get(role) if role is not None else None
    while wanted is not None and named is not None and community.areas[named].kind is not wanted:
        named = community.areas[named].parent
    named = area if named is None else named
    return f"{community.areas[named].kind.value.replace('_', '-')} {named}"


def _duration(span: timedelta) -> str:
    """A duration in words, in the largest whole unit that is exact ("30 days", "24 hours")
    or else rounded down to whole minutes."""
    seconds = span.total_seconds()
    for unit, size in (("day", 86_400), ("hour", 3_600)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    minutes = int(seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# Reading JSON --------------------------------------------------------------------------


def _items(value: object, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInputError(f"the policy's {name} must be a list, got {shown(value)}")
    return value


def _keys(data: Mapping[str, Any], what: str, *, required: set[str], allowed: set[str]) -> None:
    missing = required - data.keys()
    if missing:
        raise InvalidInputError(f"{what} lacks {', '.join(sorted(missing))}")
    unknown = data.keys() - allowed
    if unknown:
        raise InvalidInputError(f"{what} has unknown key(s) "
                                f"{', '.join(shown(k) for k in sorted(map(str, unknown)))}; "
                                f"allowed: {', '.join(sorted(allowed))}")


def _read(number: int, item: object, what: str, read: Any) -> Any:
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"policy {what} {number} must be an object, got {shown(item)}")
    try:
        return read(item)
    except InvalidInputError as exc:
        raise InvalidInputError(f"policy {what} {number}: {exc}") from None


def _rule(item: Mapping[str, Any]) -> Rule:
    _keys(item, "a rule", required={"role", "command", "scope"},
          allowed={"role", "command", "scope", "within_hours"})
    hours = item.get("within_hours")
    within = None
    if hours is not None:
        if (isinstance(hours, bool) or not isinstance(hours, int | float)
                or not math.isfinite(hours) or not 0 < hours <= 24 * 36_525):
            raise InvalidInputError(f"within_hours must be a number of hours above 0, got "
                                    f"{shown(hours)}")
        within = timedelta(hours=hours)
    return Rule(item["role"], item["command"], item["scope"], within)


def _reader(item: Mapping[str, Any]) -> Reader:
    _keys(item, "a personal_data entry", required={"role", "scope"}, allowed={"role", "scope"})
    return Reader(item["role"], item["scope"])


# The default policy ----------------------------------------------------------------------

_C, _A, _O, _S = Scope.COMMUNITY, Scope.AREA, Scope.OWN, Scope.ASSIGNED
_STAFF, _GL, _GW = Role.COMMUNITY_STAFF, Role.GRID_LEADER, Role.GRID_WORKER
_BL, _UL, _PM = Role.BUILDING_LEADER, Role.UNIT_LEADER, Role.PARTY_MEMBER_HOUSEHOLD
_SQ, _VOL, _IC = Role.SQUAD_MEMBER, Role.VOLUNTEER, Role.INCIDENT_COMMANDER
_RES, _PRO, _SYS = Role.RESIDENT, Role.PROVIDER, Role.SYSTEM
_DAY, _MONTH = timedelta(days=1), timedelta(days=30)

_FIELD = (_GL, _GW, _BL, _UL, _PM, _SQ, _VOL)
"""The roster roles below community staff: people who record what they do in the field."""
_CORRECTORS = ((_STAFF, _C, _MONTH), (_GL, _A, _DAY),
               *((role, _O, _DAY) for role in (*_FIELD, _RES)))
"""Who corrects facts by default, and how late: staff for 30 days, a grid leader in their
grid for a day, anyone their own facts for a day (an incident's commander too, for its
facts)."""

_Grant = tuple[Role, Scope] | tuple[Role, Scope, timedelta]

_DEFAULT_GRANTS: dict[str, tuple[_Grant, ...]] = {
    # Only community staff shape the organisation and its roster.
    "communities.register": ((_STAFF, _C),),
    "communities.add_grid": ((_STAFF, _C),),
    "communities.add_micro_grid": ((_STAFF, _C),),
    "communities.add_building": ((_STAFF, _C),),
    "communities.classify_zone": ((_STAFF, _C),),
    "communities.enrol": ((_STAFF, _C),),
    "communities.assign_role": ((_STAFF, _C),),
    "communities.relieve_role": ((_STAFF, _C),),
    "communities.issue_care_card": ((_STAFF, _C),),
    "communities.hold_activity": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "communities.correct_participants": _CORRECTORS,
    "communities.correct_time": _CORRECTORS,
    "communities.correct_details": _CORRECTORS,
    # Anyone on the roster reports in their area; a resident anywhere in the community.
    "incidents.detect": ((_STAFF, _C), *((role, _A) for role in _FIELD), (_RES, _C)),
    "incidents.report": ((_STAFF, _C), *((role, _A) for role in _FIELD), (_RES, _C)),
    "incidents.report_to_community": ((_STAFF, _C), *((role, _A) for role in _FIELD),
                                      (_IC, _S)),
    "incidents.acknowledge": ((_STAFF, _C),),
    "incidents.reclassify": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    "incidents.assign_commander": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    "incidents.dispatch": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    # Responders record their own progress; the grid leader and commander anyone's.
    "incidents.en_route": ((_STAFF, _C), (_GL, _A), (_IC, _S), *((r, _O) for r in _FIELD)),
    "incidents.arrive": ((_STAFF, _C), (_GL, _A), (_IC, _S), *((r, _O) for r in _FIELD)),
    "incidents.take_action": ((_STAFF, _C), (_GL, _A), (_GW, _A), (_BL, _A), (_UL, _A),
                              (_IC, _S), (_SQ, _S), (_VOL, _S)),
    "incidents.request_consent": ((_STAFF, _C), (_GL, _A), (_GW, _A), (_IC, _S), (_SQ, _S)),
    # Only the resident asked answers: nobody answers on someone else's behalf.
    "incidents.grant_consent": ((_RES, _O),),
    "incidents.refuse_consent": ((_RES, _O),),
    "incidents.authorise_exigent_entry": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    "incidents.force_entry": ((_STAFF, _C), (_GL, _A), (_IC, _S), (_SQ, _S)),
    "incidents.find_source": ((_STAFF, _C), (_GL, _A), (_IC, _S), (_SQ, _S), (_VOL, _S)),
    "incidents.contain": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    "incidents.resolve": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    "incidents.close": ((_STAFF, _C), (_IC, _S)),
    "incidents.reopen": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    "incidents.add_note": ((_STAFF, _C), (_GL, _A), (_GW, _A), (_BL, _A), (_UL, _A),
                           (_IC, _S), (_SQ, _S), (_VOL, _S)),
    "incidents.correct_time": (*_CORRECTORS, (_IC, _S, _DAY)),
    "incidents.correct_details": (*_CORRECTORS, (_IC, _S, _DAY)),
    # Residents place, rate, reopen and cancel their own orders; the community handles
    # them (staff, or the grid's leader and worker); the provider dispatched fulfils them.
    "orders.place": ((_RES, _O), (_STAFF, _C)),
    "orders.accept": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "orders.reject": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "orders.dispatch": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "orders.start": ((_STAFF, _C), (_PRO, _S)),
    "orders.complete": ((_STAFF, _C), (_PRO, _S)),
    "orders.rate": ((_RES, _O),),
    "orders.reopen": ((_STAFF, _C), (_RES, _O)),
    "orders.cancel": ((_STAFF, _C), (_RES, _O)),
    "orders.add_note": ((_STAFF, _C), (_GL, _A), (_GW, _A), (_PRO, _S), (_RES, _O)),
    "orders.correct_time": _CORRECTORS,
    "orders.correct_details": _CORRECTORS,
    # Reviews plan (staff; a grid leader for their grid); the owner works the item.
    "improvements.plan": ((_STAFF, _C), (_GL, _A)),
    "improvements.assign": ((_STAFF, _C), (_GL, _A)),
    "improvements.reschedule": ((_STAFF, _C), (_GL, _A)),
    "improvements.start": ((_STAFF, _C), (_GL, _A), *((r, _S) for r in _FIELD)),
    "improvements.complete": ((_STAFF, _C), (_GL, _A), *((r, _S) for r in _FIELD)),
    "improvements.cancel": ((_STAFF, _C),),
    "improvements.reopen": ((_STAFF, _C),),
    "improvements.add_note": ((_STAFF, _C), (_GL, _A), *((r, _S) for r in _FIELD)),
    "improvements.correct_time": _CORRECTORS,
    "improvements.correct_details": _CORRECTORS,
    "people.erase": ((_STAFF, _C),),
    IMPORT: ((_SYS, _C), (_STAFF, _C)),
}


def _rules(grants: Mapping[str, tuple[_Grant, ...]]) -> tuple[Rule, ...]:
    return tuple(Rule(grant[0], command, grant[1], grant[2] if len(grant) > 2 else None)
                 for command, granted in grants.items() for grant in granted)


DEFAULT_POLICY = Policy(
    _rules(_DEFAULT_GRANTS),
    not_overridable=frozenset({
        "incidents.grant_consent", "incidents.refuse_consent", "orders.rate",
        "communities.enrol", "communities.assign_role", "communities.relieve_role",
        "communities.issue_care_card", "people.erase", IMPORT, "communities.register"}),
    personal_data=(Reader(_STAFF, _C), Reader(_GL, _A), Reader(_GW, _A)),
)
"""The built-in policy (docs/security.md lists it): it follows the division of work of
grid management. Engines enforce it unless given another policy (or None)."""
