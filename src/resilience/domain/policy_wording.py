"""Refusals in words: who was refused, as what, where and why (``why_refused``), and
whom the policy would let do it instead (``who_may``); resilience.domain.policy adds
when, and why an override was refused.

A refusal names an area by the kind the role is held for (a grid leader of grid 3, not of
unit 30/1), a window in its largest exact unit ("30 days", "24 hours"), and groups a
command's rules by what they need, so that the reason reads as one sentence.
"""

from datetime import datetime, timedelta

from resilience.domain.organisation import Community
from resilience.domain.policy_standing import scope_holds
from resilience.domain.policy_terms import Rule, Scope, Target
from resilience.domain.validation import shown
from resilience.domain.values import Actor, AreaKind, Role


def why_refused(community: Community | None, actor: Actor, held: bool,
                areas: tuple[str | None, ...], rules: tuple[Rule, ...], target: Target,
                now: datetime) -> str:
    """Why ``actor`` (standing in their role or not, for ``areas``) is refused: ``rules``
    are the policy's for the command and that role, none of which holds for ``target``
    (a correction's window measured at ``now``)."""
    who, role = actor.person_id, role_words(actor.role)
    if not held:
        if actor.role is Role.INCIDENT_COMMANDER:
            return f"{who} is not incident commander of {target.what}"
        if target.area is not None and any(r.scope is Scope.AREA for r in rules):
            return f"{who} is not {role} of {where(community, target.area, actor.role)}"
        return f"{who} is not {role} in {community_name(community)}"
    if not rules:
        return f"{who}, as {role}, may not do this"
    missed = []
    for rule in rules:
        if scope_holds(rule, community, actor, areas, target):
            # the scope holds: the correction's window does not
            assert rule.within is not None
            assert target.corrected_recorded_at is not None
            age = now - target.corrected_recorded_at
            return (f"{who}, as {role}, may correct a fact up to "
                    f"{duration(rule.within)} after it was recorded; fact "
                    f"{target.corrected} was recorded {duration(age)} before")
        match rule.scope:
            case Scope.AREA:
                missed.append(f"{role} of {where(community, target.area, actor.role)}")
            case Scope.OWN:
                missed.append(f"{target.subject_is}"
                              + (f" ({target.subject})" if target.subject else ""))
            case Scope.ASSIGNED:
                missed.append(target.assigned_is)
    return f"{who} is not " + " nor ".join(dict.fromkeys(missed))


def who_may(command: str, rules: tuple[Rule, ...], target: Target) -> str:
    """Who ``rules`` (the policy's for ``command``) let do it on ``target``, in words, grouped
    by what they need ("grid_leader, grid_worker or volunteer of the incident's area")."""
    groups: dict[tuple[Scope, timedelta | None, bool], list[str]] = {}
    for rule in rules:
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
        phrases.append(phrase + (f" within {duration(within)}" if within else ""))
    simple = all(len(roles) == 1 for roles in groups.values())
    return f"{command} needs " + (_listed(phrases, "or") if simple else
                                  "; ".join(phrases[:-1]) + ("; or " if len(phrases) > 1
                                                             else "") + phrases[-1])


def _listed(items: list[str], last: str) -> str:
    """``["a", "b", "c"]`` as "a, b or c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def role_words(role: Role) -> str:
    return role.value.replace("_", " ")


def community_name(community: Community | None) -> str:
    return community.name if community is not None else "a community not yet registered"


_HELD_FOR = {Role.GRID_LEADER: AreaKind.GRID, Role.GRID_WORKER: AreaKind.GRID,
             Role.BUILDING_LEADER: AreaKind.BUILDING, Role.UNIT_LEADER: AreaKind.UNIT,
             Role.PARTY_MEMBER_HOUSEHOLD: AreaKind.BUILDING}
"""The kind of area each area-bound role is held for, to name the one a refusal is about."""


def where(community: Community | None, area: object, role: Role | None = None) -> str:
    """An area in words ("grid 3", "building 30", "unit 30/1"; None: the community); for
    an area-bound ``role``, the area of its kind that holds it (a grid leader of grid 3,
    not of unit 30/1)."""
    if area is None:
        return community_name(community)
    if community is None or type(area) is not str or area not in community.areas:
        return f"area {shown(area)}"
    named: str | None = area
    wanted = _HELD_FOR.get(role) if role is not None else None
    while wanted is not None and named is not None and community.areas[named].kind is not wanted:
        named = community.areas[named].parent
    named = area if named is None else named
    return f"{community.areas[named].kind.value.replace('_', '-')} {named}"


def duration(span: timedelta) -> str:
    """A duration in words, in the largest whole unit that is exact ("30 days", "24 hours")
    or else rounded down to whole minutes."""
    seconds = span.total_seconds()
    for unit, size in (("day", 86_400), ("hour", 3_600)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    minutes = int(seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
