"""The watch: each open case's deadlines checked against the clock, escalations recorded.

``tick(now)`` reads the open incidents and orders from the ``live`` view (its index on
(view, kind, at): the ended cases are never read, however long the history), takes each
as stored now (``Store.current``: with the open batch's facts), works out its deadline
states (resilience.domain.escalation) under the engine's escalation policy (the
emergency deadlines for a case that began in an emergency), and for each level due at
``now`` resolves whom it tells from the community's roster at its due time and records
an ``Escalated`` fact: dated when it was due, recorded by the engine's clock, by the
``WATCH`` actor, under the command id ``escalation/<deadline>/<cycle>/<level>``.

**Exactly once.** Two watches ticking at once (threads, processes, machines) both find a
level due, and both try to record it under the same command id at the same next version
of the case: the store accepts one (optimistic concurrency) and the other finds the
command recorded and records nothing. A case changed meanwhile (acknowledged, closed) is
looked at again. A level is never raised once a fact meeting its deadline, or ending its
cycle, is recorded: late or not.

The escalations are the engine's own timer facts, not anyone's command: no actor is
checked against the policy (the engine's clock is trusted), and no public command method
records them.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from attrs import frozen

from resilience.adapters.store import describe
from resilience.domain.base import FactAggregate
from resilience.domain.escalation import (
    WATCH,
    Case,
    Deadline,
    DeadlineState,
    EscalationPolicy,
    Level,
    Recipient,
    deadline_states,
)
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.recipients import notified
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import check_instance, check_moment, check_uuid
from resilience.domain.values import Notified, Role, Severity
from resilience.errors import (
    ConflictError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    UnreadableEventError,
)
from resilience.metrics.definitions import SECONDS_PER, builtin
from resilience.metrics.rates import DEFAULT_RESPONSE_LIMIT, RESPONSES
from resilience.projections.runner import Views
from resilience.services.core import Receipt, Store
from resilience.services.reports import Reports

_log = logging.getLogger("resilience.watch")

InEmergency = Callable[[UUID, str | None, datetime], bool]
"""Was ``(community_id, area_id, moment)`` in an emergency (the community's, or its
grid's)? Decides whether a case that began then has the emergency deadlines."""

_ATTEMPTS = 5
"""How often a tick looks at one case again after another writer changed it first."""


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


DEFAULT_ESCALATION: EscalationPolicy = _default_policy()
"""The built-in escalation policy (docs/live.md lists it). Incidents: ``acknowledged``
within 2 minutes of detection (no metric sets a target for it: the policy's own), the grid
leader then (+2 min) community staff; ``on_scene`` within the turnout and travel targets
(80 + 240 s), high and critical incidents, the squad then (+5 min) community staff;
``contained`` within the 15-minute target, high and critical, the subdistrict. Orders:
``response`` (accepted, rejected or dispatched) within the response rate's limit (2 h),
the grid worker then (+2 h) community staff; ``completion`` by the order's expected time,
the grid worker then (+1 day) community staff. In an emergency every ``within`` is halved
and community staff are told at level 0 too."""


@frozen
class Raised:
    """An escalation a tick recorded (or, racing another watch, found recorded as it
    recorded it: the store holds it once)."""

    case_id: UUID
    subject: str
    """``"incident"`` or ``"order"``."""
    community_id: UUID
    deadline: str
    level: int
    cycle: int
    due_at: datetime
    notified: tuple[Notified, ...]
    receipt: Receipt


@frozen
class Tick:
    """What one tick did: the moment it judged deadlines at, how many open cases it
    looked at, the escalations it raised (in the order it raised them), and the cases it
    had to leave to the next tick (``skipped``: one whose stored events can't be read, or
    that kept changing under it), each logged as a warning."""

    at: datetime
    examined: int
    raised: tuple[Raised, ...]
    skipped: tuple[UUID, ...] = ()


@frozen
class OverdueOrder:
    """An open order past one of its deadlines at ``at``: how late, and how many of the
    deadline's levels were escalated so far."""

    order_id: UUID
    community_id: UUID
    category: str
    item: str
    deadline: str
    cycle: int
    due_at: datetime
    late: timedelta
    escalations: int
    levels: int


class Deadlines:
    """``engine.tick``, ``engine.overdue`` and ``engine.deadlines`` (see the module
    docstring)."""

    def __init__(self, store: Store, reports: Reports, policy: EscalationPolicy | None,
                 in_emergency: InEmergency) -> None:
        if policy is not None:
            check_instance(policy, "escalation", EscalationPolicy)
        self._store = store
        self._reports = reports
        self.policy = policy
        self.in_emergency = in_emergency

    @property
    def views(self) -> Views:
        return self._reports.views

    # The watch ------------------------------------------------------------------------

    def tick(self, now: datetime | None = None, *, community: UUID | None = None) -> Tick:
        """Record every escalation due at ``now`` (default: the clock's time; never later
        than it) on the open incidents and orders (of ``community`` only, if given)."""
        clock_now = self._store.clock()
        at = clock_now if now is None else check_moment(now, "now")
        if at > clock_now:
            raise InvalidInputError(f"a tick can't run ahead of the clock: now "
                                    f"{at.isoformat()} is after {clock_now.isoformat()}")
        self._community(community)
        candidates = self._open(community)
        raised: list[Raised] = []
        skipped: list[UUID] = []
        if self.policy is not None:
            for cls, case_id in candidates:
                try:
                    self._tick_case(cls, case_id, at, community, raised)
                except (ConflictError, UnreadableEventError) as exc:
                    # One case the watch can't settle must not hold up the others' deadlines.
                    _log.warning("the watch left %s to the next tick: %s", case_id,
                                 describe(exc))
                    skipped.append(case_id)
        return Tick(at, len(candidates), tuple(raised), tuple(skipped))

    def _tick_case(self, cls: type[Case], case_id: UUID, now: datetime,
                   community: UUID | None, raised: list[Raised]) -> None:
        for _ in range(_ATTEMPTS):
            try:
                self._raise_due(cls, case_id, now, community, raised)
                return
            except ConflictError:
                continue  # another writer changed the case first: look at it again
        raise ConflictError(f"it kept changing under the watch ({_ATTEMPTS} attempts)")

    def _raise_due(self, cls: type[Case], case_id: UUID, now: datetime,
                   community: UUID | None, raised: list[Raised]) -> None:
        """Record the case's escalations due at ``now`` (levels in order), adding each to
        ``raised`` as it is recorded."""
        store = self._store
        with store.locked():
            case = store.current(cls, case_id)
            if community is not None and case.community_id != community:
                return
            # In time order, so recording order is the order they fell due (a deadline's
            # levels in turn).
            due = sorted((s for s in self._states(case) if s.due(now)), key=lambda s: s.due_at)
            if not due:
                return
            roster = store.current(Community, case.community_id)
            levels = self._levels(case)
            for state in due:
                told = notified(roster, case, levels[state.deadline][state.level].notify,
                                state.due_at)
                receipt = self._record(cls, case_id, state, told, now)
                if receipt is None:
                    continue  # no longer due on the case as stored now
                raised.append(Raised(case_id, _subject(case), case.community_id, state.deadline,
                                     state.level, state.cycle, state.due_at, told, receipt))

    def _record(self, cls: type[Case], case_id: UUID, state: DeadlineState,
                told: tuple[Notified, ...], now: datetime) -> Receipt | None:
        """Record one escalation, unless the case as the store holds it when it is recorded
        no longer has it due (None): ``change`` decides again on the stored history when
        another writer got there first, and so does this check."""
        store = self._store
        command_id = f"escalation/{state.deadline}/{state.cycle}/{state.level}"
        ctx = store.context(WATCH, state.due_at, command_id)
        key = (state.deadline, state.cycle, state.level)

        def escalate(case: Any) -> None:
            if not any((s.deadline, s.cycle, s.level) == key and s.due(now)
                       for s in self._states(case)):
                raise InvalidTransitionError(f"{state.deadline} is no longer due")
            case.escalate(ctx, state.deadline, state.level, state.cycle, state.due_at, told)

        try:
            return store.change(cls, case_id, ctx, escalate)
        except InvalidTransitionError:
            return None

    # Queries ----------------------------------------------------------------------------

    def overdue(self, *, community: UUID | None = None,
                at: datetime | None = None) -> list[OverdueOrder]:
        """Open orders past a deadline at ``at`` (default: the clock's time; a later moment
        shows what will be overdue by then if nothing is recorded): one row per order,
        deadline and cycle whose time had come with no meeting fact recorded, the longest
        overdue first."""
        moment = self._store.clock() if at is None else check_moment(at, "at", query=True)
        self._community(community)
        found = []
        for cls, case_id in self._open(community, subjects=("order",)):
            with self._store.locked():
                order = self._store.current(cls, case_id)
                states = self._states(order)
            assert isinstance(order, ServiceOrder)
            by_deadline: dict[tuple[str, int], list[DeadlineState]] = {}
            for state in states:
                by_deadline.setdefault((state.deadline, state.cycle), []).append(state)
            for (name, cycle), levels in by_deadline.items():
                first = levels[0]
                if first.due_at > moment or first.met_at is not None or \
                        first.ended_at is not None:
                    continue
                found.append(OverdueOrder(
                    order.id, order.community_id, order.category, order.item, name, cycle,
                    first.due_at, moment - first.due_at,
                    sum(s.escalated is not None for s in levels), len(levels)))
        return sorted(found, key=lambda row: (row.due_at, str(row.order_id), row.deadline))

    def states(self, case_id: UUID, *, at: datetime | None = None) -> list[DeadlineState]:
        """The deadline states of an incident or order under the engine's policy: as the
        store holds it now, or (``at``) as it was recorded by then."""
        check_uuid(case_id, "case_id")
        if at is not None:
            check_moment(at, "at", query=True)
        events = cast(list[FactAggregate.Event], list(self._store.app.events.get(case_id)))
        if at is not None:
            events = [e for e in events if e.timestamp <= at]
        case: Any = None
        for event in events:
            case = event.mutate(case)
        if not isinstance(case, Incident | ServiceOrder):
            raise NotFoundError(f"no incident or order {case_id}"
                                + (f" recorded by {at.isoformat()}" if at else ""))
        return self._states(case)

    # Internals --------------------------------------------------------------------------

    def _states(self, case: Case) -> list[DeadlineState]:
        if self.policy is None:
            return []
        area = case.area if isinstance(case, Incident) else case.area_id
        emergency = self.in_emergency(case.community_id, area, case.occurred[1])
        return deadline_states(case, self.policy, emergency=emergency)

    def _levels(self, case: Case) -> dict[str, tuple[Level, ...]]:
        assert self.policy is not None
        area = case.area if isinstance(case, Incident) else case.area_id
        emergency = self.in_emergency(case.community_id, area, case.occurred[1])
        return {d.name: d.levels for d in self.policy.for_case(emergency=emergency)}

    def _community(self, community: UUID | None) -> None:
        if community is None:
            return
        check_uuid(community, "community")
        with self._store.locked():
            self._store.current(Community, community)  # NotFoundError if there is none

    def _open(self, community: UUID | None, subjects: tuple[str, ...] = ("incident", "order")
              ) -> list[tuple[type[Case], UUID]]:
        """The open cases: the live view's (caught up first, unless the engine reads stale
        views), and those the open batch holds (which the view has not seen yet)."""
        store = self._store
        if not store.in_batch:
            self._reports.ready()
        key = None if community is None else str(community)
        found: dict[UUID, tuple[float, type[Case]]] = {}
        for subject in subjects:
            cls = _CLASSES[subject]
            for case_id, doc in self.views.select("live", subject, community=key):
                found[UUID(case_id)] = (doc["at"], cls)
        # A batch's cases are not in the view until it commits (a scenario's own).
        # Store keeps its batch to itself; the watch is the one reader that needs it whole.
        for aggregate in store.held().values():
            if (isinstance(aggregate, Incident | ServiceOrder)
                    and _subject(aggregate) in subjects
                    and community in (None, aggregate.community_id)):
                found.setdefault(aggregate.id, (aggregate.occurred[1].timestamp(),
                                                type(aggregate)))
        return [(cls, case_id) for case_id, (_, cls) in
                sorted(found.items(), key=lambda item: (item[1][0], str(item[0])))]


_CLASSES: dict[str, type[Case]] = {"incident": Incident, "order": ServiceOrder}


def _subject(case: Case) -> str:
    return "incident" if isinstance(case, Incident) else "order"
