"""Whom an escalation level tells: its recipients resolved from the community's roster
at the moment the level fell due.

An area role (``grid_leader``, ``grid_worker``, ``building_leader``, ``unit_leader``) is
its holder for the case's own grid, building or unit (the areas its location names, and
their parents, as the community knows them); a community-wide role (``community_staff``,
``squad_member``, ``volunteer``) is every holder, each once; a body is the community's
subdistrict or district, by its name. A role nobody held then (or an area the case does
not have) is still named, with no person: who should have been told and was not is part
of the record.
"""

from collections.abc import Iterable
from datetime import datetime

from resilience.domain.escalated import Notified
from resilience.domain.escalation import Case, Recipient
from resilience.domain.organisation import Community, location_areas
from resilience.domain.service import ServiceOrder
from resilience.domain.values import AreaKind, Role
from resilience.errors import NotFoundError
from resilience.i18n import _

_AREA_ROLES = {Role.GRID_LEADER: AreaKind.GRID, Role.GRID_WORKER: AreaKind.GRID,
               Role.BUILDING_LEADER: AreaKind.BUILDING, Role.UNIT_LEADER: AreaKind.UNIT}


def case_areas(community: Community, case: Case) -> dict[AreaKind, str]:
    """The grid, building and unit a case is in, as far as its location says and the
    community knows them."""
    named: tuple[str | None, ...]
    if isinstance(case, ServiceOrder):
        named = (case.area_id, case.grid_id)
    else:
        named = location_areas(case.location)
    found: dict[AreaKind, str] = {}
    for area_id in named:
        current: str | None = area_id
        while current is not None and current in community.areas:
            area = community.areas[current]
            found.setdefault(area.kind, current)
            current = area.parent
    return found


def notified(community: Community, case: Case, recipients: Iterable[Recipient],
             at: datetime) -> tuple[Notified, ...]:
    """Whom ``recipients`` are at ``at``: per area role, the holder(s) for the case's own
    grid, building or unit (a Notified with no person when nobody held it, or the case has
    no such area); per community-wide role, each holder; per body, the community's."""
    if case.community_id != community.id:
        raise NotFoundError(_("{case} is not a case of {community}").format(
            case=case.id, community=community.name))
    areas = case_areas(community, case)
    told: list[Notified] = []
    for recipient in recipients:
        if recipient.body is not None:
            told.append(Notified(body=getattr(community, recipient.body), scope=recipient.body))
            continue
        role = recipient.role
        assert role is not None
        kind = _AREA_ROLES.get(role)
        if kind is None:
            holders = community.roster(at, role=role)
            people = dict.fromkeys(h.person_id for h in holders)
            told.extend(Notified(role, scope=None, person_id=p) for p in people)
            if not people:
                told.append(Notified(role))
            continue
        scope = areas.get(kind)
        holders = [] if scope is None else community.roster(at, role=role, scope=scope)
        told.extend(Notified(role, scope=scope, person_id=h.person_id) for h in holders)
        if not holders:
            told.append(Notified(role, scope=scope))
    return tuple(told)
