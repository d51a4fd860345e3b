"""The watch: each open case's deadlines checked against the clock, escalations recorded.

``tick(now)`` reads the open incidents and orders from the ``live`` view (its index on
(view, kind, at): the ended cases are never read, however long the history), takes each
as stored now (``Store.current``: with the open batch's facts), works out its deadline
states (resilience.domain.deadline_state) under the engine's escalation policy (the
emergency deadlines for a case that began in an emergency), and for each level due at
``now`` resolves whom it tells from the community's roster at its due time and records
an ``Escalated`` fact: dated when it was due, recorded by the engine's clock, by the
``WATCH`` actor, under the command id ``escalation/<deadline>/<cycle>/<level>``.

**Exactly once.** Two watches ticking at once (threads, processes, machines) both find a
level due, and both try to record it under the same command id at the same next version
of the case: the store accepts one (optimistic concurrency) and the other finds the
command recorded and records nothing (its ``Raised.recorded`` is False). A command id
found recorded must hold that very escalation, or the case is skipped: only the watch
may use these ids (resilience.domain.escalated). A case changed meanwhile (acknowledged,
closed) is looked at again. A level is never raised once a fact meeting its deadline, or
ending its cycle, is recorded: late or not. One case the watch can't settle is logged and
skipped (``Tick.skipped``), never the end of the tick; whether a case began in an
emergency is asked once per area and moment in a tick.

The escalations are the engine's own timer facts, not anyone's command: no actor is
checked against the policy (the engine's clock is trusted), and no public command method
records them.
"""

import functools
import logging
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from attrs import frozen

from resilience.adapters.store import describe
from resilience.domain.base import FactAggregate
from resilience.domain.deadline_state import (
    DeadlineState,
    InEmergency,
    began_in_emergency,
    case_deadlines,
    deadline_states,
)
from resilience.domain.escalated import WATCH, Notified, escalation_command
from resilience.domain.escalation import (
    SUBJECTS,
    Case,
    EscalationPolicy,
    subject_of,
)
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.recipients import notified
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import check_instance, check_moment, check_uuid
from resilience.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    ResilienceError,
)
from resilience.i18n import _
from resilience.projections.runner import Views
from resilience.services.core import Receipt, Store
from resilience.services.default_escalation import DEFAULT_ESCALATION as DEFAULT_ESCALATION
from resilience.services.known import known_facts
from resilience.services.reports import Reports

_log = logging.getLogger("resilience.watch")

_ATTEMPTS = 5
"""How often a tick looks at one case again after another writer changed it first."""


@frozen
class Raised:
    """An escalation a tick raised: recorded by it (``recorded``), or, racing another
    watch, found recorded by that one as it recorded it (the store holds it once; an app
    notifying from a tick's result tells people of those with ``recorded`` True only, or
    keys its messages by ``receipt``)."""

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
    recorded: bool = True
    """This tick recorded it (False: another watch had, first)."""


@frozen
class Tick:
    """What one tick did: the moment it judged deadlines at, how many open cases it
    looked at, the escalations it raised (in the order it raised them), and the cases it
    had to leave to the next tick (``skipped``: one whose stored events can't be read,
    that kept changing under it, or that it could not settle for any other refusal), each
    logged as a warning: one such case never stops the others' escalations."""

    at: datetime
    examined: int
    raised: tuple[Raised, ...]
    skipped: tuple[UUID, ...] = ()


@frozen
class OverdueOrder:
    """An open order past one of its deadlines at the moment asked about
    (``engine.overdue(at=...)``): how late, and how many of the deadline's levels were
    escalated so far."""

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


class Watch:
    """``engine.tick``, ``engine.overdue`` and ``engine.deadlines`` (see the module
    docstring), held as ``engine.watch``; ``escalation`` is the escalation policy it
    applies (None: none)."""

    def __init__(self, store: Store, reports: Reports, escalation: EscalationPolicy | None,
                 in_emergency: InEmergency) -> None:
        if escalation is not None:
            check_instance(escalation, "escalation", EscalationPolicy)
        self._store = store
        self._reports = reports
        self.escalation = escalation
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
            raise InvalidInputError(_("a tick can't run ahead of the clock: now {now} is "
                                      "after {clock}").format(now=at.isoformat(),
                                                              clock=clock_now.isoformat()))
        self._community(community)
        candidates = self._open(community)
        raised: list[Raised] = []
        skipped: list[UUID] = []
        if self.escalation is not None:
            # in_emergency asked once per (community, area, moment) for the tick: the
            # emergencies don't change under it, and every case of an area that began at
            # one moment shares the answer.
            asked = functools.cache(self.in_emergency)
            for cls, case_id in candidates:
                try:
                    self._tick_case(cls, case_id, at, community, asked, raised)
                except ResilienceError as exc:
                    # One case the watch can't settle must not hold up the others' deadlines.
                    _log.warning("the watch left %s to the next tick: %s", case_id,
                                 describe(exc))
                    skipped.append(case_id)
        return Tick(at, len(candidates), tuple(raised), tuple(skipped))

    def _tick_case(self, cls: type[Case], case_id: UUID, now: datetime,
                   community: UUID | None, asked: InEmergency, raised: list[Raised]) -> None:
        for _attempt in range(_ATTEMPTS):
            found: list[Raised] = []
            try:
                self._raise_due(cls, case_id, now, community, asked, found)
                return
            except ConflictError:
                continue  # another writer changed the case first: look at it again
            finally:
                raised.extend(found)  # what was recorded stays recorded
        raise ConflictError(_("it kept changing under the watch ({count} attempts)").format(
            count=_ATTEMPTS))

    def _raise_due(self, cls: type[Case], case_id: UUID, now: datetime,
                   community: UUID | None, asked: InEmergency, raised: list[Raised]) -> None:
        """Record the case's escalations due at ``now`` (levels in order), adding each to
        ``raised`` as it is recorded."""
        store = self._store
        with store.locked():
            case = store.current(cls, case_id)
            if community is not None and case.community_id != community:
                return
            assert self.escalation is not None
            emergency = began_in_emergency(case, asked)  # once per case and tick
            states = deadline_states(case, self.escalation, emergency=emergency)
            # In time order, so recording order is the order they fell due (a deadline's
            # levels in turn).
            due = sorted((s for s in states if s.due(now)), key=lambda s: s.due_at)
            if not due:
                return
            roster = store.current(Community, case.community_id)
            levels = {d.name: d.levels for d in self.escalation.for_case(emergency=emergency)}
            for state in due:
                told = notified(roster, case, levels[state.deadline][state.level].notify,
                                state.due_at)
                recorded = self._record(cls, case_id, state, told, now, asked)
                if recorded is None:
                    continue  # no longer due on the case as stored now
                receipt, ours = recorded
                raised.append(Raised(case_id, subject_of(case), case.community_id,
                                     state.deadline, state.level, state.cycle, state.due_at,
                                     told, receipt, ours))

    def _record(self, cls: type[Case], case_id: UUID, state: DeadlineState,
                told: tuple[Notified, ...], now: datetime, asked: InEmergency
                ) -> tuple[Receipt, bool] | None:
        """Record one escalation, unless the case as the store holds it when it is recorded
        no longer has it due (None): ``change`` decides again on the stored history when
        another writer got there first, and so does this check. With the receipt: did this
        call record it (False: another watch had)?"""
        store = self._store
        assert self.escalation is not None
        policy = self.escalation
        command_id = escalation_command(state.deadline, state.cycle, state.level)
        ctx = store.context(WATCH, state.due_at, command_id)
        key = (state.deadline, state.cycle, state.level)

        def escalate(case: Any) -> None:
            current = case_deadlines(case, policy, asked)
            if not any((s.deadline, s.cycle, s.level) == key and s.due(now) for s in current):
                raise InvalidTransitionError(_("{deadline} is no longer due").format(
                    deadline=state.deadline))
            case.escalate(ctx, state.deadline, state.level, state.cycle, state.due_at, told)

        try:
            receipt = store.change(cls, case_id, ctx, escalate)
        except InvalidTransitionError:
            return None
        if receipt.repeated:
            # Found under its command id: it must be this escalation, not facts some other
            # record put there (an old or imported history), or it would stand in for it.
            held = store.current(cls, case_id).escalations.get(key)
            if held is None or held[0] not in receipt.versions:
                raise AlreadyExistsError(
                    _("command id {command} holds facts {first}..{last}, not this escalation: "
                      "it can't be recorded").format(command=command_id,
                                                     first=receipt.first_version,
                                                     last=receipt.last_version))
        return receipt, not receipt.repeated

    # Queries ----------------------------------------------------------------------------

    def overdue(self, *, community: UUID | None = None,
                at: datetime | None = None) -> list[OverdueOrder]:
        """Open orders past a deadline at ``at`` (default: the clock's time; a later moment
        shows what will be overdue by then if nothing is recorded): one row per order,
        deadline and cycle whose time had come with no meeting fact recorded, the longest
        overdue first. The orders as they stand now: an earlier ``at`` lists those still
        open whose deadline had passed by then (``engine.deadlines(case_id, known_at=...)``: as
        known then)."""
        moment = self._store.clock() if at is None else check_moment(at, "at", query=True)
        self._community(community)
        found = []
        asked = functools.cache(self.in_emergency)  # once per community, area and moment
        for cls, case_id in self._open(community, subjects=("order",)):
            with self._store.locked():
                order = self._store.current(cls, case_id)
                states = self._states(order, asked)
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

    def states(self, case_id: UUID, *, known_at: datetime | None = None
               ) -> list[DeadlineState]:
        """The deadline states of an incident or order under the engine's policy: as the
        store holds it now, or (``known_at``) as the facts recorded by then make it
        (resilience.services.known: an imported history's too). Whether it began in an
        emergency is answered from the emergencies as stored now."""
        check_uuid(case_id, "case_id")
        if known_at is not None:
            check_moment(known_at, "known_at", query=True)
        events = cast(list[FactAggregate.Event], list(self._store.app.events.get(case_id)))
        case, _known = known_facts(events, known_at)
        if not isinstance(case, Incident | ServiceOrder):
            raise NotFoundError((_("no incident or order {id} recorded by {moment}") if known_at
                                 else _("no incident or order {id}")).format(
                id=case_id, moment=known_at.isoformat() if known_at else None))
        return self._states(case, self.in_emergency)

    # Internals --------------------------------------------------------------------------

    def _states(self, case: Case, asked: InEmergency) -> list[DeadlineState]:
        if self.escalation is None:
            return []
        return case_deadlines(case, self.escalation, asked)

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
            cls = SUBJECTS[subject]
            for case_id, doc in self.views.select("live", subject, community=key):
                found[UUID(case_id)] = (doc["at"], cls)
        # A batch's cases are not in the view until it commits (a scenario's own): read
        # them from the batch itself (Store.held).
        for aggregate in store.held().values():
            if (isinstance(aggregate, Incident | ServiceOrder)
                    and subject_of(aggregate) in subjects
                    and community in (None, aggregate.community_id)):
                found.setdefault(aggregate.id, (aggregate.occurred[1].timestamp(),
                                                type(aggregate)))
        return [(cls, case_id) for case_id, (_, cls) in
                sorted(found.items(), key=lambda item: (item[1][0], str(item[0])))]
