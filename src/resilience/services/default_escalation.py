"""The built-in escalation policy, ``DEFAULT_ESCALATION``: derived from the targets the
metrics already grade against (which the domain can't import, so it lives here), and its
emergency form, each ``within`` halved and community staff told at once too."""

from datetime import timedelta

from resilience.domain.escalation import Deadline, EscalationPolicy, Level, Recipient
from resilience.domain.named import named
from resilience.domain.values import Role, Severity
from resilience.metrics.definitions import SECONDS_PER, builtin
from resilience.metrics.rates import DEFAULT_RESPONSE_LIMIT, RESPONSES


def _target(metric: str) -> timedelta:
    """A built-in metric's target as a duration."""
    definition = builtin(metric)
    assert definition.target is not None, metric
    return timedelta(seconds=definition.target * SECONDS_PER[definition.unit])


def _default_policy() -> EscalationPolicy:
    """The built-in deadlines, from the targets the metrics already grade against."""
    grid_leader, staff = Recipient(Role.GRID_LEADER), Recipient(Role.COMMUNITY_STAFF)
    squad, grid_worker = Recipient(Role.SQUAD_MEMBER), Recipient(Role.GRID_WORKER)
    serious = (Severity.HIGH, Severity.CRITICAL)
    at_once = timedelta(0)

    def levels(*steps: tuple[timedelta, tuple[Recipient, ...]]) -> tuple[Level, ...]:
        return tuple(Level(after, notify) for after, notify in steps)

    peacetime = (
        # No metric sets a target for acknowledging: two minutes is the policy's own.
        Deadline("acknowledged", "incident", ["acknowledged"], within=timedelta(minutes=2),
                 levels=levels((at_once, (grid_leader,)), (timedelta(minutes=2), (staff,)))),
        Deadline("on_scene", "incident", ["first_on_scene"],
                 within=_target("turnout") + _target("travel"), severities=serious,
                 levels=levels((at_once, (squad,)), (timedelta(minutes=5), (staff,)))),
        Deadline("contained", "incident", ["contained"],
                 within=_target("detection_to_contained"), severities=serious,
                 levels=levels((at_once, (Recipient(body="subdistrict"),)))),
        Deadline("response", "order", list(RESPONSES), within=DEFAULT_RESPONSE_LIMIT,
                 levels=levels((at_once, (grid_worker,)), (timedelta(hours=2), (staff,)))),
        Deadline("completion", "order", ["first_completed"], from_expected=True,
                 levels=levels((at_once, (grid_worker,)), (timedelta(days=1), (staff,)))),
    )
    return EscalationPolicy(peacetime, tuple(_emergency(d) for d in peacetime))


def _emergency(deadline: Deadline) -> Deadline:
    """The deadline as an emergency tightens it: its time halved, community staff told at
    once too."""
    first, *rest = deadline.levels
    staff = Recipient(Role.COMMUNITY_STAFF)
    widened = Level(first.after, first.notify + (() if staff in first.notify else (staff,)))
    return Deadline(deadline.name, deadline.subject, deadline.expect,
                    within=None if deadline.within is None else deadline.within / 2,
                    from_expected=deadline.from_expected, levels=(widened, *rest),
                    types=deadline.types, severities=deadline.severities,
                    categories=deadline.categories)


DEFAULT_ESCALATION: EscalationPolicy = named(_default_policy(), "DEFAULT_ESCALATION")
"""The built-in escalation policy (docs/live.md lists it). Incidents: ``acknowledged``
within 2 minutes of detection (no metric sets a target for it: the policy's own), the grid
leader then (+2 min) community staff; ``on_scene`` within the turnout and travel targets
(80 + 240 s), high and critical incidents, the squad then (+5 min) community staff;
``contained`` within the 15-minute target, high and critical, the subdistrict. Orders:
``response`` (accepted, rejected or dispatched) within the response rate's limit (2 h),
the grid worker then (+2 h) community staff; ``completion`` by the order's expected time,
the grid worker then (+1 day) community staff. In an emergency every ``within`` is halved
and community staff are told at level 0 too."""
