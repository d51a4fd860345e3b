"""The built-in policy's data (resilience.domain.policy.DEFAULT_POLICY; docs/security.md
lists it): who may do each command by default, following the division of work of grid
management, the commands nobody may override, and who reads residents' personal data.

Each command's grants are ``(role, scope)`` or, for a correction, ``(role, scope,
within)``; the comments say why a grant is there.
"""

from collections.abc import Mapping
from datetime import timedelta

from resilience.domain.policy_terms import IMPORT, Reader, Rule, Scope
from resilience.domain.values import Role

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
    "communities.set_code": ((_STAFF, _C),),
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
    # A grid leader closes in their grid: they may name any enrolled person commander,
    # who may close, so the right is theirs in effect; better held openly, in their role.
    "incidents.close": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    "incidents.reopen": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    "incidents.add_note": ((_STAFF, _C), (_GL, _A), (_GW, _A), (_BL, _A), (_UL, _A),
                           (_IC, _S), (_SQ, _S), (_VOL, _S)),
    # Recovery work is ordered from the incident by those who run it, closed or not.
    "incidents.link_recovery": ((_STAFF, _C), (_GL, _A), (_IC, _S)),
    # Staff number what was recorded before references (resilience.domain.references).
    "incidents.assign_reference": ((_STAFF, _C),),
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
    "orders.assign_reference": ((_STAFF, _C),),
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
    # Staff switch the community (a grid leader their grid) into an emergency, call up
    # its teams and end it; each member answers and reports arriving for themselves.
    "emergencies.declare": ((_STAFF, _C), (_GL, _A)),
    "emergencies.call_up": ((_STAFF, _C), (_GL, _A)),
    "emergencies.acknowledge": ((_STAFF, _C), (_GL, _A), *((r, _O) for r in _FIELD)),
    "emergencies.arrive": ((_STAFF, _C), (_GL, _A), *((r, _O) for r in _FIELD)),
    "emergencies.end": ((_STAFF, _C), (_GL, _A)),
    "emergencies.add_note": ((_STAFF, _C), (_GL, _A), *((r, _S) for r in _FIELD)),
    "emergencies.correct_time": _CORRECTORS,
    "emergencies.correct_details": _CORRECTORS,
    # Peacetime: grid leaders and grid workers walk their grid's patrols; what a patrol
    # covered and when it ended correct its record, as any fact is corrected; a grid
    # leader (or staff) sets how often the grid is walked.
    "patrols.record": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "patrols.correct_coverage": _CORRECTORS,
    "patrols.correct_end": _CORRECTORS,
    "patrols.add_note": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "patrols.adopt_plan": ((_STAFF, _C), (_GL, _A)),
    "patrols.correct_time": _CORRECTORS,
    "patrols.correct_details": _CORRECTORS,
    # The grid's leader and workers find hazards and see them fixed; the provider a hazard
    # is handed to records its fix. Verification is never by the rectifier: the hazard
    # itself refuses that, whatever the policy (resilience.domain.hazard).
    "hazards.find": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "hazards.assign": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "hazards.rectify": ((_STAFF, _C), (_GL, _A), (_GW, _A), (_PRO, _S)),
    "hazards.verify": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "hazards.close": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "hazards.reopen": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "hazards.add_note": ((_STAFF, _C), (_GL, _A), (_GW, _A), (_PRO, _S)),
    # Work raised from a hazard is linked by those who raise it: orders by the grid's
    # leader and workers (who handle them), items and incidents by its leader.
    "hazards.link_order": ((_STAFF, _C), (_GL, _A), (_GW, _A)),
    "hazards.link_improvement": ((_STAFF, _C), (_GL, _A)),
    "hazards.link_incident": ((_STAFF, _C), (_GL, _A)),
    "hazards.assign_reference": ((_STAFF, _C),),
    "hazards.correct_time": _CORRECTORS,
    "hazards.correct_details": _CORRECTORS,
    # A person's rights: staff erase; the person themselves or staff read what is held.
    "people.erase": ((_STAFF, _C),),
    "people.export": ((_STAFF, _C), (_RES, _O)),
    IMPORT: ((_SYS, _C), (_STAFF, _C)),
}


def _rules(grants: Mapping[str, tuple[_Grant, ...]]) -> tuple[Rule, ...]:
    return tuple(Rule(grant[0], command, grant[1], grant[2] if len(grant) > 2 else None)
                 for command, granted in grants.items() for grant in granted)


DEFAULT_RULES: tuple[Rule, ...] = _rules(_DEFAULT_GRANTS)
"""The default rules, command by command in the order above."""

DEFAULT_NOT_OVERRIDABLE: frozenset[str] = frozenset({
    "incidents.grant_consent", "incidents.refuse_consent", "orders.rate",
    "communities.enrol", "communities.assign_role", "communities.relieve_role",
    "communities.issue_care_card", "people.erase", "people.export", IMPORT,
    "communities.register"})
"""The commands no override may get round: a resident's own answers (consent, a rating),
the roster and its care cards, a person's rights, imports."""

DEFAULT_READERS: tuple[Reader, ...] = (Reader(_STAFF, _C), Reader(_GL, _A), Reader(_GW, _A))
"""Who reads residents' personal data by default: community staff everywhere, a grid
leader or grid worker within their grid."""
