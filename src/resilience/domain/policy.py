"""Who may do what, where and when: the authorization policy, as data.

A policy is a set of rules, each ``role × command × scope`` (and, for corrections, a
window). A command is allowed when some rule for the role the actor claims and the
command holds for them; no rule, denied. The claim (``Actor(person_id, role)``) is checked
against the community's roster **at the moment the action happened** (its
``occurred_at``): "was zhou grid leader of grid 3 at 15:02?", and, when the fact is
recorded at another moment (its ``recorded_at``, the engine's clock), **at that moment
too**: a caller chooses ``occurred_at``, so without the second check someone relieved
could back-date a command into their old term, or date one into a term not yet begun.
At the moment of recording, the target is as it stands then (the incident's commander
and the responders dispatched by then; an order's placer and provider as now); the
founder stands always; an importer is checked only now, by the engine's own clock (never
the ``recorded_at`` of the history it imports).
Authentication (that the caller is who the actor says) is the app's job, not this
module's.

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
fact's recorded time must be at most ``within``. Later, only by override. A correction
of a **roster fact** (``ROSTER_FACTS``: a registration, enrolment, role assigned or
relieved, erasure) moves who held what when, so it also needs the right to record that
fact (by default community staff), and neither check may be met by override: the
roster commands are not overridable, and a correction must not get round that.

Overrides. An actor with ``override="why"`` may do what the policy denies them, if they
are on the community's roster at both moments in the role they claim (the founder counts as
community staff; claiming a role off the roster, in any roster role; never the system
role), and the command is not one the policy marks not overridable. The fact records the
override (its actor carries it). An override that was not needed is allowed and recorded.

Imports run under an importer's identity (``engine.importing``): per-actor checks are
skipped, the importer must be allowed the command ``"import"`` now, by the engine's own
clock, and every imported fact records who imported it. Where the importer may
import is the store's rule (resilience.services.core): an importer off the roster (the
system role) only into a community the import registers or whose every fact was
imported; a community with facts recorded live only from its staff. ``NEVER_IMPORTED``
commands are refused to every importer.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from attrs import field, frozen

from resilience.domain.base import Context
from resilience.domain.named import named, shows_name
from resilience.domain.organisation import Community
from resilience.domain.policy_defaults import (
    DEFAULT_NOT_OVERRIDABLE,
    DEFAULT_READERS,
    DEFAULT_RULES,
)
from resilience.domain.policy_json import policy_data, policy_parts
from resilience.domain.policy_standing import applies, covers, standing
from resilience.domain.policy_terms import (
    COMMANDS,
    CORRECTIONS,
    IMPORT,
    NEVER_IMPORTED,
    ROSTER_FACTS,
    SERVICE_COMMANDS,
    Decision,
    Reader,
    Rule,
    Scope,
    Target,
    known_command,
    roster_command,
)
from resilience.domain.policy_wording import community_name, role_words, who_may, why_refused
from resilience.domain.validation import check_instance, check_moment
from resilience.domain.values import ROSTER_ROLES, Actor, Role
from resilience.errors import InvalidInputError, PermissionDeniedError
from resilience.i18n import _

__all__ = [
    "COMMANDS",
    "CORRECTIONS",
    "DEFAULT_POLICY",
    "IMPORT",
    "NEVER_IMPORTED",
    "ROSTER_FACTS",
    "SERVICE_COMMANDS",
    "BatchDecisions",
    "Decision",
    "Policy",
    "Reader",
    "Rule",
    "Scope",
    "Target",
    "roster_command",
]
"""Policy and DEFAULT_POLICY, and the vocabulary of resilience.domain.policy_terms
re-exported, so that importers keep ``from resilience.domain.policy import ...``."""


_NOWHERE = Target()
_ALLOWED = Decision(True)


class _Once:
    """``target(moment)``, worked out the first time it is asked for and kept (a command
    asks for it once per rule that needs it, at two moments); ``found`` is None until
    then."""

    __slots__ = ("_moment", "_target", "found")

    def __init__(self, target: Callable[[datetime], Target], moment: datetime) -> None:
        self._target, self._moment = target, moment
        self.found: Target | None = None

    def __call__(self) -> Target:
        found = self.found
        if found is None:
            found = self.found = self._target(self._moment)
        return found


def _as_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)


def _as_set(items: Iterable[str]) -> frozenset[str]:
    return frozenset(items)


@shows_name
@frozen
class Policy:
    """Rules (role × command × scope, corrections' windows), the commands nobody may
    override, and who may read residents' personal data. Immutable: build a new one, or
    load one from JSON (``Policy.from_dict``), and give it to the engine. All three parts
    are required, as in JSON: left out, the last two would quietly mean "anyone may
    override anything" and "nobody reads personal data"."""

    rules: tuple[Rule, ...] = field(converter=_as_tuple)
    not_overridable: frozenset[str] = field(converter=_as_set)
    personal_data: tuple[Reader, ...] = field(converter=_as_tuple)
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
                raise InvalidInputError(_("the policy repeats the rule {role} × {command} × "
                                          "{scope}").format(role=rule.role.value,
                                                            command=rule.command,
                                                            scope=rule.scope.value))
            seen.add(key)
            index.setdefault((rule.command, rule.role), []).append(rule)
            by_command.setdefault(rule.command, []).append(rule)
        for command in self.not_overridable:
            known_command(command)
        for reader in self.personal_data:
            check_instance(reader, "reader", Reader)
        object.__setattr__(self, "_index", {k: tuple(v) for k, v in index.items()})
        object.__setattr__(self, "_by_command", {k: tuple(v) for k, v in by_command.items()})

    # Reading the rules ---------------------------------------------------------------

    def rules_for(self, command: str) -> tuple[Rule, ...]:
        """The rules of one command, in the policy's order."""
        known_command(command)
        return self._by_command.get(command, ())

    def _windowed(self, command: str, role: Role) -> bool:
        """Has any rule of ``command`` for ``role`` a correction window?"""
        return any(rule.within is not None for rule in self._index.get((command, role), ()))

    def overridable(self, command: str) -> bool:
        known_command(command)
        return command not in self.not_overridable

    # Deciding ------------------------------------------------------------------------

    def decide(self, community: Community | None, actor: Actor, command: str, *,
               at: datetime, recorded_at: datetime | None = None,
               target: Target = _NOWHERE) -> Decision:
        """May ``actor`` do ``command`` on ``target`` in ``community`` at ``at`` (its
        occurred_at), recorded at ``recorded_at`` (None: at ``at``)? Both moments must
        allow it (module docstring); ``recorded_at`` also measures correction windows.
        ``community`` None: the community does not exist yet (registering it)."""
        known_command(command)
        check_instance(actor, "actor", Actor)
        check_moment(at, "at")
        check_instance(target, "target", Target)
        now = at if recorded_at is None else check_moment(recorded_at, "recorded_at")
        return self._decide(community, actor, command, at, now, lambda _: target)

    def enforce(self, community: Community | None, ctx: Context, command: str,
                target: Callable[[datetime], Target]) -> Decision:
        """``check`` for a command about to be decided: its context (whose actor and
        moments were checked when it was made) and its target as it stood at a moment
        (its occurred_at, its recorded_at), worked out only if a rule needs it (a
        community-wide rule does not). Raises PermissionDeniedError."""
        decision = self._decide(community, ctx.actor, known_command(command), ctx.occurred_at,
                                ctx.recorded_at, target)
        if not decision.allowed:
            raise PermissionDeniedError(decision.reason)
        return decision

    def _decide(self, community: Community | None, actor: Actor, command: str, at: datetime,
                now: datetime, target: Callable[[datetime], Target]) -> Decision:
        """Allowed when it happened (``at``) and, if that is another moment, when it is
        recorded (``now``): a fact back-dated into a term since ended, or dated into one
        not yet begun, is refused, as is one recorded by someone relieved since."""
        return self._decide_reading(community, actor, command, at, now, target)[0]

    def _decide_reading(self, community: Community | None, actor: Actor, command: str,
                        at: datetime, now: datetime, target: Callable[[datetime], Target]
                        ) -> tuple[Decision, bool]:
        """``_decide``, and whether it read the target (at either moment)."""
        # Each target is worked out at most once, and only if a rule needs it.
        then_target = _Once(target, at)
        held, areas = standing(community, actor, at, then_target)
        then = self._decide_at(community, actor, command, at, now, then_target, held, areas,
                               recorded=False)
        if not then.allowed or now == at:
            return then, then_target.found is not None
        later_target = _Once(target, now)
        held_later, areas_later = standing(community, actor, now, later_target)
        read = then_target.found is not None or later_target.found is not None
        if (then is _ALLOWED and held_later and areas_later == areas
                and (then_target.found is None or _same(then_target.found, later_target()))):
            # Allowed by a rule when it happened; at the moment of recording the actor
            # stands as then, for the same areas, and the target is the same (or none was
            # needed): the same rules decide on the same facts, so they allow it again.
            return _ALLOWED, read
        later = self._decide_at(community, actor, command, now, now, later_target,
                                held_later, areas_later, recorded=True)
        read = read or later_target.found is not None
        if not later.allowed:
            return later, read
        if not (then.overridden or later.overridden):
            return _ALLOWED, read
        return Decision(True, overridden=True), read

    def _decide_at(self, community: Community | None, actor: Actor, command: str,
                   moment: datetime, now: datetime, target: Callable[[], Target],
                   held: bool, areas: tuple[str | None, ...], *, recorded: bool) -> Decision:
        """The decision at one ``moment`` (``recorded``: the moment of recording), where the
        actor's standing is ``held`` for ``areas``."""
        rules = self._index.get((command, actor.role), ())
        if held and any(applies(rule, community, actor, areas, target, now) for rule in rules):
            return _ALLOWED
        when = (_("at {moment}, when this is recorded (a fact needs standing both when it "
                  "happened and when it is recorded)") if recorded
                else _("at {moment}")).format(moment=moment.isoformat())
        reason = _("{why} {when}: {needed}").format(
            why=why_refused(community, actor, held, areas, rules, target(), now), when=when,
            needed=who_may(command, self._by_command.get(command, ()), target()))
        if actor.override is None:
            return Decision(False, reason=reason)
        problem = self._override_problem(community, actor, command, held, moment)
        if problem is not None:
            return Decision(False, reason=_("{reason}; the override is refused: {problem}")
                            .format(reason=reason, problem=problem))
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
        held, areas = standing(community, viewer, at, lambda: _NOWHERE)
        if not held:
            return False
        return any(reader.role is viewer.role and (
            reader.scope is Scope.COMMUNITY or any(covers(community, a, area) for a in areas))
            for reader in self.personal_data)

    # Overrides -----------------------------------------------------------------------

    def _override_problem(self, community: Community | None, actor: Actor, command: str,
                          held: bool, at: datetime) -> str | None:
        """Why ``actor``'s override can't be taken, or None if it can."""
        if command in self.not_overridable:
            return _("{command} cannot be overridden").format(command=command)
        if actor.role is Role.SYSTEM:
            return _("the system role acts only by import")
        if community is None or not (actor.person_id == community.founder
                                     or community.roles_of(actor.person_id, at)):
            return _("{person} is on no role of {community}'s roster then, and only a person "
                     "on the roster may override").format(person=actor.person_id,
                                                          community=community_name(community))
        if actor.role in ROSTER_ROLES and not held:
            return _("an override is made in a role one holds, and {person} does not hold "
                     "{role}").format(person=actor.person_id, role=_(role_words(actor.role)))
        return None

    # JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON-ready data (``from_dict`` reads it back equal;
        resilience.domain.policy_json)."""
        return policy_data(self.rules, self.not_overridable, self.personal_data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Policy":
        """A policy from ``to_dict``'s form; InvalidInputError naming what is wrong."""
        rules, not_overridable, readers = policy_parts(data)
        return cls(rules, not_overridable, readers)


class BatchDecisions:
    """The commands a policy allowed in one batch, kept so that a command it would decide
    on the same facts is allowed without deciding again: a batch records many commands by
    few actors (an import, a day's incidents), each checked at its two moments.

    A decision is kept only when it was allowed by a rule (not by an override), in a
    community (not while registering one), for a command none of whose rules for the
    actor's role has a correction window (those read the moment of recording itself).
    It is taken again for a command with the same actor (equal: the same person, role,
    override and importer), the same command, the same community object at the same
    version (so the same roster and areas: every fact changes the version), moments
    within the spans in which the actor's terms of that role neither begin nor end
    (``Community.standing_span``: the same standing, for the same areas, at each moment),
    and, if the decision read the command's target, equal targets at both moments.
    Those are everything the rules read (resilience.domain.policy_standing): the same
    rules on the same facts give the same answer. Anything else is decided in full.
    """

    __slots__ = ("_allowed", "_last", "_policy")

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._allowed: dict[tuple[Actor, str, int, int], _Kept] = {}
        self._last: _Kept | None = None
        """The decision last taken again: a batch repeats a command, by the same actor
        object, so it is found without its key (``_Kept.actor``, ``command``, ``version``)."""

    def enforce(self, community: Community, actor: Actor, command: str, at: datetime,
                now: datetime, target: Callable[[datetime], Target]) -> Decision:
        """``Policy.enforce`` of ``actor``'s command at its two moments (``at``, when it
        happened; ``now``, when it is recorded): PermissionDeniedError when refused."""
        version, last = community.version, self._last
        if (last is not None and last.actor is actor and last.command == command
                and last.community is community and last.version == version):
            kept: _Kept | None = last  # the same as the last command (the same objects)
            key = last.key
        else:
            key = (actor, known_command(command), id(community), version)
            kept = self._allowed.get(key)
        if kept is not None and kept.community is community and kept.spans(at, now):
            self._last = kept
            if kept.targets is None:
                return _ALLOWED
            targets = target(at), target(now)
            seen = kept.last  # most often the very objects (a target kept as it stands)
            if (targets[0] is seen[0] and targets[1] is seen[1]) or targets in kept.targets:
                kept.last = targets
                return _ALLOWED
        decision, read = self._policy._decide_reading(community, actor, command, at, now,
                                                      target)
        if not decision.allowed:
            raise PermissionDeniedError(decision.reason)
        if decision is _ALLOWED and not self._policy._windowed(command, actor.role):
            self._keep(key, kept, community, actor, at, now,
                       (target(at), target(now)) if read else None)
        return decision

    def _keep(self, key: tuple[Actor, str, int, int], kept: "_Kept | None",
              community: Community, actor: Actor, at: datetime, now: datetime,
              targets: tuple[Target, Target] | None) -> None:
        if kept is not None and kept.community is community and kept.spans(at, now):
            if targets is not None and kept.targets is not None:
                kept.targets.add(targets)
                kept.last = targets
            return
        if len(self._allowed) >= 4096:
            self._allowed.clear()
        role = actor.role
        if role in ROSTER_ROLES:
            then = community.standing_span(actor.person_id, role, at)
            later = community.standing_span(actor.person_id, role, now)
        else:  # off the roster the standing does not change with time
            then = later = (None, None)
        self._allowed[key] = _Kept(key, community, then, later,
                                   None if targets is None else {targets})


class _Kept:
    """What a kept decision was taken on (``BatchDecisions``)."""

    __slots__ = ("actor", "command", "community", "key", "last", "later", "targets", "then",
                 "version")

    def __init__(self, key: tuple[Actor, str, int, int], community: Community,
                 then: tuple[datetime | None, datetime | None],
                 later: tuple[datetime | None, datetime | None],
                 targets: set[tuple[Target, Target]] | None) -> None:
        self.key, (self.actor, self.command, _, self.version) = key, key
        self.community, self.then, self.later, self.targets = community, then, later, targets
        self.last: tuple[Target | None, Target | None] = (
            (None, None) if not targets else next(iter(targets)))
        """The targets last allowed (compared first by identity)."""

    def spans(self, at: datetime, now: datetime) -> bool:
        """Are ``at`` and ``now`` within the spans the decision was taken in?"""
        since, until = self.then
        if (since is not None and at < since) or (until is not None and at >= until):
            return False
        since, until = self.later
        return not ((since is not None and now < since) or (until is not None and now >= until))


def _same(before: Target, after: Target) -> bool:
    """The same target: the one object (a command's target as it stands, worked out once)
    or an equal one."""
    return before is after or before == after


DEFAULT_POLICY = named(Policy(DEFAULT_RULES, not_overridable=DEFAULT_NOT_OVERRIDABLE,
                              personal_data=DEFAULT_READERS), "DEFAULT_POLICY")
"""The built-in policy (docs/security.md lists it): it follows the division of work of
grid management. Engines enforce it unless given another policy (or None)."""
