"""Standing and scopes: does an actor hold the role they claim at a moment, for which
areas, and does a rule's scope (and a correction's window) hold for the target?

The rules are resilience.domain.policy's docstring. Areas form a tree (each names its
parent); a term for an area covers that area and every area below it, a term for the
whole community (None) covers everything.
"""

from collections.abc import Callable
from datetime import datetime

from resilience.domain.organisation import Community
from resilience.domain.policy_terms import Rule, Scope, Target
from resilience.domain.values import ROSTER_ROLES, Actor, Role


def standing(community: Community | None, actor: Actor, at: datetime,
             target: Callable[[], Target]) -> tuple[bool, tuple[str | None, ...]]:
    """Does ``actor`` stand in the role they claim at ``at``, and for which areas (None:
    the whole community)?"""
    role = actor.role
    if role in ROSTER_ROLES:
        if community is None:  # registering: whoever claims staff becomes the founder
            return role is Role.COMMUNITY_STAFF, (None,)
        areas = community.scopes_held(actor.person_id, role, at)
        if role is Role.COMMUNITY_STAFF and actor.person_id == community.founder:
            areas.append(None)
        return bool(areas), tuple(areas)
    if role is Role.INCIDENT_COMMANDER:
        commander = target().commander
        return commander is not None and commander == actor.person_id, ()
    return True, ()


def applies(rule: Rule, community: Community | None, actor: Actor,
            areas: tuple[str | None, ...], target: Callable[[], Target], now: datetime) -> bool:
    """Does ``rule`` allow ``actor`` (who stands in its role, for ``areas``) the target?"""
    if rule.scope is Scope.COMMUNITY and rule.within is None:
        return True  # anywhere, any time: the target need not be worked out
    about = target()
    ok = scope_holds(rule, community, actor, areas, about)
    if not ok or rule.within is None or about.corrected_recorded_at is None:
        return ok
    return now - about.corrected_recorded_at <= rule.within


def scope_holds(rule: Rule, community: Community | None, actor: Actor,
                areas: tuple[str | None, ...], about: Target) -> bool:
    """Does ``rule``'s scope hold for ``actor`` (who stands in its role, for ``areas``) on
    ``about``, its correction window aside: the area within one held, the actor's own
    subject, or one they are assigned to (a community-wide scope always holds)?"""
    match rule.scope:
        case Scope.AREA:
            return any(covers(community, held, about.area) for held in areas)
        case Scope.OWN:
            return about.subject is not None and about.subject == actor.person_id
        case Scope.ASSIGNED:
            return actor.person_id in about.assigned
        case _:
            return True


def covers(community: Community | None, held: str | None, area: object) -> bool:
    """Is ``area`` within ``held`` (None: the whole community, which covers everything)?"""
    if held is None:
        return True
    if community is None:
        return False
    return type(area) is str and area in community.areas and community.within(area, held)
