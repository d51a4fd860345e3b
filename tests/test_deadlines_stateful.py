"""The watch against a model: random incident and order histories, clock moves and ticks.

The model keeps each case's facts as plain records (what, the cycle it is in, its
effective time) and works out on its own, from the built-in policy's numbers, which
escalation levels a tick at a moment must raise: those due by then whose deadline has no
meeting fact and whose cycle has no ending recorded yet. After every step the store must
hold exactly the model's escalations, each once, dated when it fell due: so every due
escalation is recorded exactly once, none for a deadline met in time, none after its
case ended or closed.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from resilience import Actor, Engine, Location, ManualClock, Provider, Role
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.services.deadlines import DEFAULT_ESCALATION
from stateful_support import SETTINGS
from test_deadlines import staffed

from conftest import OFFICE, T0

ZHANG = Actor("zhang", Role.GRID_LEADER)
RESIDENT = Actor("r-501", Role.RESIDENT)
M = timedelta(minutes=1)
POLICY = {d.name: d for d in DEFAULT_ESCALATION.deadlines}

Key = tuple[str, int, int]  # deadline, cycle, level


@dataclass
class Model:
    """One case as the model knows it: its facts by kind and cycle, and what it expects
    escalated."""

    subject: str
    begun: datetime
    high: bool = False
    expected_by: datetime | None = None
    cycle_starts: list[datetime] = field(default_factory=list)
    facts: list[tuple[str, int]] = field(default_factory=list)
    """(kind, cycle) of each fact recorded (its effective time doesn't matter to the watch)."""
    escalated: dict[Key, datetime] = field(default_factory=dict)
    status: str = "open"

    @property
    def cycle(self) -> int:
        return len(self.cycle_starts) - 1

    def has(self, kinds: set[str], cycle: int | None = None) -> bool:
        return any(k in kinds and cycle in (None, c) for k, c in self.facts)

    def deadlines(self) -> list[tuple[str, int, datetime, list[timedelta], set[str], bool]]:
        """(name, cycle, base time, level offsets, meeting kinds, recurring) per cycle."""
        found = []
        if self.subject == "incident":
            found.append(("acknowledged", 0, self.begun + 2 * M, [0 * M, 2 * M],
                          {"acknowledged"}, False))
            if self.high:
                for cycle, start in enumerate(self.cycle_starts):
                    found.append(("on_scene", cycle, start + timedelta(seconds=320),
                                  [0 * M, 5 * M], {"on_scene"}, True))
                    found.append(("contained", cycle, start + 15 * M, [0 * M], {"contained"},
                                  True))
        else:
            assert self.expected_by is not None
            found.append(("response", 0, self.begun + timedelta(hours=2),
                          [0 * M, timedelta(hours=2)], {"accepted", "rejected", "dispatched"},
                          False))
            found.append(("completion", 0, self.expected_by, [0 * M, timedelta(days=1)],
                          {"completed"}, False))
        return found

    def due(self, now: datetime) -> dict[Key, datetime]:
        """What a tick at ``now`` must raise on this case."""
        endings = {"resolved", "closed", "completed", "cancelled", "rejected"}
        raised = {}
        for name, cycle, base, levels, meeting, recurring in self.deadlines():
            if self.has(meeting, cycle if recurring else None) or self.has(endings, cycle):
                continue
            for level, after in enumerate(levels):
                key = (name, cycle, level)
                if base + after <= now and key not in self.escalated:
                    raised[key] = base + after
        return raised


TICK_BACK = st.sampled_from([0, 0, 0, 1, 5, 30])
STEPS = st.sampled_from([0, 1, 1, 2, 3, 5, 10, 30, 120, 600, 1500])


class Watch(RuleBasedStateMachine):
    """Random histories of up to a few incidents and orders in one community."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0)
        self.engine = Engine("memory:", clock=self.clock, policy=None)
        self.community = staffed(self.engine)
        self.cases: dict[UUID, Model] = {}

    def teardown(self) -> None:
        self.engine.close()

    # Helpers ------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock()

    def of(self, subject: str, *statuses: str) -> list[UUID]:
        return [k for k, m in self.cases.items() if m.subject == subject and m.status in statuses]

    def record(self, case: UUID, kind: str) -> None:
        model = self.cases[case]
        model.facts.append((kind, model.cycle))

    # Time and the watch -------------------------------------------------------------------

    @rule(minutes=STEPS)
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(minutes * M)

    @rule(back=TICK_BACK)
    def tick(self, back: int) -> None:
        """A tick at now, or at a moment a little before (never later than the clock)."""
        now = max(self.now - back * M, T0)
        expected = {(case, key): due for case, model in self.cases.items()
                    for key, due in model.due(now).items()}
        raised = self.engine.tick(now).raised
        assert {(r.case_id, (r.deadline, r.cycle, r.level)): r.due_at for r in raised} == expected
        for (case, key), due in expected.items():
            self.cases[case].escalated[key] = due

    # Incidents ----------------------------------------------------------------------------

    @precondition(lambda self: len(self.cases) < 6)
    @rule(high=st.booleans())
    def report(self, high: bool) -> None:
        case = self.engine.incidents.report(
            self.community, incident_type="fire", severity="high" if high else "low",
            location=Location(grid="3", building="30"), description="smoke", actor=ZHANG,
            occurred_at=self.now).aggregate_id
        self.cases[case] = Model("incident", self.now, high=high, cycle_starts=[self.now])

    def back(self, case: UUID, minutes: int) -> datetime:
        """A moment up to ``minutes`` ago, in the case's current cycle: a late record."""
        return max(self.now - minutes * M, self.cases[case].cycle_starts[-1])

    @rule(data=st.data(), late=TICK_BACK)
    def acknowledge(self, data: st.DataObject, late: int) -> None:
        choices = [c for c in self.of("incident", "open", "resolved")
                   if not self.cases[c].has({"acknowledged"})]
        if choices:
            case = data.draw(st.sampled_from(choices))
            self.engine.incidents.acknowledge(case, actor=OFFICE,
                                              occurred_at=self.back(case, late))
            self.record(case, "acknowledged")

    @rule(data=st.data(), late=TICK_BACK)
    def arrive(self, data: st.DataObject, late: int) -> None:
        choices = [c for c in self.of("incident", "open")
                   if not self.cases[c].has({"on_scene"}, self.cases[c].cycle)]
        if choices:
            case = data.draw(st.sampled_from(choices))
            self.engine.incidents.arrive(case, f"li-{self.cases[case].cycle}", actor=ZHANG,
                                         occurred_at=self.back(case, late))
            self.record(case, "on_scene")

    @rule(data=st.data(), late=TICK_BACK)
    def contain(self, data: st.DataObject, late: int) -> None:
        choices = [c for c in self.of("incident", "open")
                   if not self.cases[c].has({"contained"}, self.cases[c].cycle)]
        if choices:
            case = data.draw(st.sampled_from(choices))
            self.engine.incidents.contain(case, actor=ZHANG, occurred_at=self.back(case, late))
            self.record(case, "contained")

    @rule(data=st.data())
    def resolve(self, data: st.DataObject) -> None:
        choices = self.of("incident", "open")
        if choices:
            case = data.draw(st.sampled_from(choices))
            self.engine.incidents.resolve(case, "done", actor=ZHANG, occurred_at=self.now)
            self.record(case, "resolved")
            self.cases[case].status = "resolved"

    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        choices = self.of("incident", "open", "resolved")
        if choices:
            case = data.draw(st.sampled_from(choices))
            reason = "resolved" if self.cases[case].status == "resolved" else "false_alarm"
            self.engine.incidents.close(case, reason, actor=OFFICE, occurred_at=self.now)
            self.record(case, "closed")
            self.cases[case].status = "closed"

    @rule(data=st.data())
    def reopen_incident(self, data: st.DataObject) -> None:
        choices = self.of("incident", "resolved", "closed")
        if choices:
            case = data.draw(st.sampled_from(choices))
            self.engine.incidents.reopen(case, "again", actor=OFFICE, occurred_at=self.now)
            model = self.cases[case]
            model.cycle_starts.append(self.now)
            model.status = "open"

    # Orders -------------------------------------------------------------------------------

    @precondition(lambda self: len(self.cases) < 6)
    @rule(hours=st.integers(1, 30))
    def place(self, hours: int) -> None:
        expected = self.now + timedelta(hours=hours)
        case = self.engine.orders.place(
            self.community, household_id="501", area_id="30", category="home", item="repair",
            actor=RESIDENT, occurred_at=self.now, expected_by=expected).aggregate_id
        self.cases[case] = Model("order", self.now, expected_by=expected,
                                 cycle_starts=[self.now], status="placed")

    def _order_step(self, data: st.DataObject, statuses: tuple[str, ...], kind: str,
                    status: str) -> None:
        choices = self.of("order", *statuses)
        if not choices:
            return
        case = data.draw(st.sampled_from(choices))
        orders, at = self.engine.orders, self.now
        match kind:
            case "accepted":
                orders.accept(case, actor=OFFICE, occurred_at=at)
            case "rejected":
                orders.reject(case, "not ours", actor=OFFICE, occurred_at=at)
            case "dispatched":
                orders.dispatch(case, Provider("grid_worker", f"w{len(self.cases[case].facts)}"),
                                actor=OFFICE, occurred_at=at)
            case "completed":
                orders.complete(case, "fixed", actor=OFFICE, occurred_at=at)
            case "cancelled":
                orders.cancel(case, "withdrawn", actor=RESIDENT, occurred_at=at)
            case "reopened":
                orders.reopen(case, "again", actor=OFFICE, occurred_at=at)
                self.cases[case].cycle_starts.append(at)
        if kind != "reopened":
            self.record(case, kind)
        self.cases[case].status = status

    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        self._order_step(data, ("placed",), "accepted", "accepted")

    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        self._order_step(data, ("placed",), "rejected", "ended")

    @rule(data=st.data())
    def dispatch(self, data: st.DataObject) -> None:
        self._order_step(data, ("accepted", "reopened"), "dispatched", "dispatched")

    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        self._order_step(data, ("dispatched",), "completed", "completed")

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self._order_step(data, ("placed", "accepted", "dispatched", "reopened"), "cancelled",
                         "ended")

    @rule(data=st.data())
    def reopen_order(self, data: st.DataObject) -> None:
        self._order_step(data, ("completed",), "reopened", "reopened")

    # What the store must hold -------------------------------------------------------------

    @invariant()
    def the_store_holds_each_expected_escalation_once_dated_when_due(self) -> None:
        for case, model in self.cases.items():
            stored = [e for e in self.engine.events(case)
                      if isinstance(e, Incident.Escalated | ServiceOrder.Escalated)]
            keys = [(e.deadline, e.cycle, e.level) for e in stored]
            assert len(keys) == len(set(keys))
            assert {k: e.occurred_at for k, e in zip(keys, stored, strict=True)} == \
                model.escalated
            assert all(e.due_at == e.occurred_at and e.timestamp >= e.due_at for e in stored)

    @invariant()
    def the_watch_and_the_model_agree_on_what_is_due_now(self) -> None:
        for case, model in self.cases.items():
            due = {(s.deadline, s.cycle, s.level) for s in self.engine.deadlines(case)
                   if s.due(self.now)}
            assert due == set(model.due(self.now))


Watch.TestCase.settings = SETTINGS
TestWatch = Watch.TestCase
