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
from resilience.i18n import N_, _, current_language, ngettext


def why_refused(community: Community | None, actor: Actor, held: bool,
                areas: tuple[str | None, ...], rules: tuple[Rule, ...], target: Target,
                now: datetime) -> str:
    """Why ``actor`` (standing in their role or not, for ``areas``) is refused: ``rules``
    are the policy's for the command and that role, none of which holds for ``target``
    (a correction's window measured at ``now``)."""
    who, role = actor.person_id, _(role_words(actor.role))
    if not held:
        if actor.role is Role.INCIDENT_COMMANDER:
            return _("{who} is not incident commander of {what}").format(
                who=who, what=_said(target.what))
        if target.area is not None and any(r.scope is Scope.AREA for r in rules):
            return _("{who} is not {role} of {where}").format(
                who=who, role=role, where=where(community, target.area, actor.role))
        return _("{who} is not {role} in {community}").format(
            who=who, role=role, community=community_name(community))
    if not rules:
        return _("{who}, as {role}, may not do this").format(who=who, role=role)
    missed = []
    for rule in rules:
        if scope_holds(rule, community, actor, areas, target):
            # the scope holds: the correction's window does not
            assert rule.within is not None
            assert target.corrected_recorded_at is not None
            age = now - target.corrected_recorded_at
            return _("{who}, as {role}, may correct a fact up to {window} after it was "
                     "recorded; fact {version} was recorded {age} before").format(
                who=who, role=role, window=duration(rule.within), version=target.corrected,
                age=duration(age))
        match rule.scope:
            case Scope.AREA:
                missed.append(_("{role} of {where}").format(
                    role=role, where=where(community, target.area, actor.role)))
            case Scope.OWN:
                missed.append(_("{what} ({subject})").format(
                    what=_said(target.subject_is), subject=target.subject) if target.subject
                              else _said(target.subject_is))
            case Scope.ASSIGNED:
                missed.append(_said(target.assigned_is))
    first, *more = list(dict.fromkeys(missed)) or [""]
    said = _("{who} is not {what}").format(who=who, what=first)
    for then in more:
        said = _("{sentence} nor {what}").format(sentence=said, what=then)
    return said


def who_may(command: str, rules: tuple[Rule, ...], target: Target) -> str:
    """Who ``rules`` (the policy's for ``command``) let do it on ``target``, in words, grouped
    by what they need ("grid_leader, grid_worker or volunteer of the incident's area")."""
    groups: dict[tuple[Scope, timedelta | None, bool], list[str]] = {}
    for rule in rules:
        commander = rule.role is Role.INCIDENT_COMMANDER and rule.scope is Scope.ASSIGNED
        groups.setdefault((rule.scope, rule.within, commander), []).append(_role_named(rule.role))
    if not groups:
        return _("nobody may do {command} under this policy").format(command=command)
    phrases = []
    for (scope, within, commander), roles in groups.items():
        who = _listed(roles)
        phrase = {
            Scope.COMMUNITY: who,
            Scope.AREA: _("{roles} of {area}").format(roles=who, area=_said(target.area_is)),
            Scope.OWN: _("{roles} ({subject})").format(roles=who,
                                                        subject=_said(target.subject_is)),
            Scope.ASSIGNED: _("{roles} of {what}").format(roles=who, what=_said(target.what))
            if commander else _("{roles} ({assigned})").format(
                roles=who, assigned=_said(target.assigned_is))}[scope]
        phrases.append(_("{who} within {window}").format(who=phrase, window=duration(within))
                       if within else phrase)
    simple = all(len(roles) == 1 for roles in groups.values())
    if simple or len(phrases) == 1:
        needed = _listed(phrases)
    else:
        needed = _("{some}; or {last}").format(some=_("; ").join(phrases[:-1]),
                                               last=phrases[-1])
    return _("{command} needs {who}").format(command=command, who=needed)


def _said(phrase: str) -> str:
    """A phrase naming what a command acts on (a ``Target``'s: "the incident's area"), in
    the current language when the catalog has it; a name (a community's) as it is."""
    return _(phrase) if phrase else phrase


def _listed(items: list[str]) -> str:
    """``["a", "b", "c"]`` as "a, b or c" (in the current language)."""
    if len(items) == 1:
        return items[0]
    return _("{some} or {last}").format(some=_(", ").join(items[:-1]), last=items[-1])


def _role_named(role: Role) -> str:
    """A role as a refusal lists it: in English its value, as policy files write it
    (``community_staff``); in another language its words there."""
    return role.value if current_language() == "en" else _(role_words(role))


def role_words(role: Role) -> str:
    """A role in words, as the catalog has them ("grid leader"): English; a message
    translates them (``_``)."""
    return role.value.replace("_", " ")


def community_name(community: Community | None) -> str:
    """A community's name, in a message of the current language."""
    return community.name if community is not None else _("a community not yet registered")


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
        return _("area {area}").format(area=shown(area))
    named: str | None = area
    wanted = _HELD_FOR.get(role) if role is not None else None
    while wanted is not None and named is not None and community.areas[named].kind is not wanted:
        named = community.areas[named].parent
    named = area if named is None else named
    return _(_AREA_WORDS[community.areas[named].kind]).format(area=named)


_AREA_WORDS = {AreaKind.GRID: N_("grid {area}"), AreaKind.MICRO_GRID: N_("micro-grid {area}"),
               AreaKind.BUILDING: N_("building {area}"), AreaKind.UNIT: N_("unit {area}")}
"""An area in words, by its kind."""


def duration(span: timedelta) -> str:
    """A duration in words, in the largest whole unit that is exact ("30 days", "24 hours")
    or else rounded down to whole minutes."""
    seconds = span.total_seconds()
    if seconds >= 86_400 and seconds % 86_400 == 0:
        count = int(seconds // 86_400)
        return ngettext("{count} day", "{count} days", count).format(count=count)
    if seconds >= 3_600 and seconds % 3_600 == 0:
        count = int(seconds // 3_600)
        return ngettext("{count} hour", "{count} hours", count).format(count=count)
    minutes = int(seconds // 60)
    return ngettext("{count} minute", "{count} minutes", minutes).format(count=minutes)
