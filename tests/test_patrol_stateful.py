"""Stateful property tests: random patrol and patrol-plan command sequences against plain
models.

Hypothesis drives ``engine.patrols`` with random, often invalid, commands: coverage
corrected to the same visits or to an area the grid lacks, ends at or before the start or
more than a day after it, blank reasons, notes and facts dated before the start, plans
revised with no rules, rules named twice or an unknown area, repeated command ids, and
the corrections every aggregate takes (a start moved so its end is no longer within a day
is refused). A deliberately simple model of each predicts whether a command is accepted
or which documented error class rejects it; after every step the patrol (the plan) read
back from the store must equal the model, and a plan's rules as of any moment must be
those of its latest version dated by then.
"""

from datetime import datetime, timedelta
from uuid import uuid4

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from resilience import (
    Actor,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    Receipt,
    Role,
)
from resilience.domain.patrol import Patrol, PatrolPlan, PatrolRule, PatrolVisit, patrol_plan_id
from resilience.services.core import FactService
from stateful_support import (
    COMMAND_IDS,
    MOMENTS,
    SETTINGS,
    WHENS,
    Errors,
    FactMachine,
    NotedMachine,
    blank,
    command,
    first_command,
    texts,
)

from conftest import OFFICE, T0, donghu

WORKER = Actor("wang", Role.GRID_WORKER)
REASONS = texts("log checked")
FIRST_END = T0 + timedelta(minutes=90)
DAY = timedelta(hours=24)
# Ends around the start and a day after it (the limit), and a naive one.
ENDS = (st.integers(-1, 4).map(lambda k: T0 + timedelta(minutes=30 * k))
        | st.integers(-2, 2).map(lambda k: T0 + DAY + timedelta(minutes=5 * k))
        | st.just(FIRST_END.replace(tzinfo=None)))
VISITS = st.lists(st.sampled_from((PatrolVisit("30"), PatrolVisit("30", ("storage_room",)),
                                   PatrolVisit("30/1"), "30", "30/1", PatrolVisit("31"))),
                  max_size=3)


def as_visit(visit: PatrolVisit | str) -> PatrolVisit:
    """A visit as the patrol keeps it (an area id given alone: a visit with no spots)."""
    return PatrolVisit(visit) if isinstance(visit, str) else visit


class PatrolMachine(NotedMachine[Patrol]):
    """One patrol driven through the engine, shadowed by its start, end and visits."""

    def __init__(self) -> None:
        super().__init__()
        self.patrol = self.aggregate_id = uuid4()
        self.service = self.engine.patrols
        self.community = donghu(self.engine)  # grid 3, building 30 with unit 1
        self.ended_at = FIRST_END
        self.visits: tuple[PatrolVisit, ...] = (PatrolVisit("30"),)

    def create(self, command_id: str | None) -> Receipt:
        """Wang walks grid 3 from T0 for an hour and a half, visiting building 30."""
        return self.engine.patrols.record(
            self.community, grid="3", ended_at=FIRST_END, visits=["30"],
            findings="storage room cluttered", actor=WORKER, occurred_at=T0,
            patrol_id=self.patrol, command_id=command_id)

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Nothing before the start; the end after the start, within a day of it."""
        start = times[1]
        return (all(t >= start for t in times.values())
                and start < self.ended_at <= start + DAY)

    @first_command(command_id=COMMAND_IDS)
    def record(self, command_id: str | None) -> None:
        self.attempt(command_id, set(), lambda: self.create(command_id), ["Recorded"], T0)

    @command(visits=VISITS, reason=REASONS, when=WHENS, command_id=COMMAND_IDS)
    def correct_coverage(self, visits: list[PatrolVisit | str], reason: str,
                         when: datetime | None, command_id: str | None) -> None:
        """Coverage is corrected to other visits of the grid's buildings and units, saying
        why; an area the community lacks is not found; the same visits again refused."""
        at = self.at(when)
        kept = tuple(as_visit(v) for v in visits)
        errors: Errors = set()
        if any(v.area == "31" for v in kept):
            errors.add(NotFoundError)
        if blank(reason):
            errors.add(InvalidInputError)
        if kept == self.visits or at < self.times[1]:
            errors.add(InvalidTransitionError)
        if self.attempt(command_id, errors, lambda: self.engine.patrols.correct_coverage(
                self.patrol, visits, reason, actor=OFFICE, occurred_at=when,
                command_id=command_id), ["CoverageCorrected"], at) is not None:
            self.visits = kept

    @command(ended_at=ENDS, reason=REASONS, when=WHENS, command_id=COMMAND_IDS)
    def correct_end(self, ended_at: datetime, reason: str, when: datetime | None,
                    command_id: str | None) -> None:
        """The end is corrected to another time after the start, within a day of it."""
        at = self.at(when)
        errors: Errors = set()
        start = self.times[1]
        if ended_at.tzinfo is None or blank(reason) or not start < ended_at <= start + DAY:
            errors.add(InvalidInputError)
        elif ended_at == self.ended_at:
            errors.add(InvalidTransitionError)
        if at < start:
            errors.add(InvalidTransitionError)
        if self.attempt(command_id, errors, lambda: self.engine.patrols.correct_end(
                self.patrol, ended_at, reason, actor=OFFICE, occurred_at=when,
                command_id=command_id), ["EndCorrected"], at) is not None:
            self.ended_at = ended_at

    @command(anchor=st.sampled_from(("end", "a day before the end")), steps=st.integers(-1, 1),
             when=WHENS, command_id=COMMAND_IDS)
    def correct_the_start(self, anchor: str, steps: int, when: datetime | None,
                          command_id: str | None) -> None:
        """Move the start to just before, at or after the end, or a day before it: where
        the end stops being within a day after the start (random moments rarely are)."""
        near = self.ended_at - (DAY if anchor != "end" else timedelta(0))
        self.correct_time_of(1, near + timedelta(minutes=5 * steps), "log checked", when,
                             command_id)

    @invariant()
    def store_matches_model(self) -> None:
        patrol = self.stored()
        assert (patrol.grid, patrol.community_id) == ("3", self.community)
        assert (patrol.started_at, patrol.ended_at) == (self.times[1], self.ended_at)
        assert patrol.visits == self.visits


class TestPatrolMachine(PatrolMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence leaves the patrol, its facts and its errors as the model says."""

    settings = SETTINGS


# Patrol plans ------------------------------------------------------------------------

WEEKLY = PatrolRule("buildings", "weekly")
STORAGE = PatrolRule("storage rooms", "monthly", spot="storage_room", areas=("30",))
UNITS = PatrolRule("units", "daily", areas=("30/1",))
AGAIN = PatrolRule("buildings", "daily")  # WEEKLY's name
ELSEWHERE = PatrolRule("elsewhere", "weekly", areas=("31",))  # no such area
RULES = st.lists(st.sampled_from((WEEKLY, STORAGE, UNITS, AGAIN, ELSEWHERE)), max_size=3)


class PlanCorrections(FactService[PatrolPlan]):
    """The corrections every aggregate takes, run on a plan through the engine's store
    (``engine.patrols`` corrects patrols)."""

    aggregate_class = PatrolPlan
    name = "patrols"


class PlanMachine(FactMachine[PatrolPlan]):
    """Grid 3's patrol plan driven through ``engine.patrols.adopt_plan``, shadowed by the
    rules each version set and when."""

    def __init__(self) -> None:
        super().__init__()
        self.community = donghu(self.engine)
        self.plan = self.aggregate_id = patrol_plan_id(self.community, "3")
        self.service = PlanCorrections(self.engine._store)
        self.versions: dict[int, tuple[PatrolRule, ...]] = {}

    def create(self, command_id: str | None) -> Receipt:
        """The grid adopts its plan at T0: every building weekly."""
        return self.engine.patrols.adopt_plan(self.community, "3", [WEEKLY], actor=OFFICE,
                                              occurred_at=T0, command_id=command_id)

    def naive_command(self, command_id: str | None) -> Receipt:
        return self.engine.patrols.adopt_plan(
            self.community, "3", [WEEKLY], actor=OFFICE, reason="again",
            occurred_at=T0.replace(tzinfo=None), command_id=command_id)

    def times_valid(self, times: dict[int, datetime]) -> bool:
        """Nothing before the adoption."""
        return all(t >= times[1] for t in times.values())

    def rules_at(self, moment: datetime) -> tuple[PatrolRule, ...]:
        """The model's rules in force at ``moment``: the latest version dated by then (ties:
        the last recorded)."""
        dated = [(self.times[v], v) for v in self.versions if self.times[v] <= moment]
        return self.versions[max(dated)[1]] if dated else ()

    @first_command(command_id=COMMAND_IDS)
    def adopt(self, command_id: str | None) -> None:
        if self.attempt(command_id, set(), lambda: self.create(command_id), ["Adopted"],
                        T0) is not None:
            self.versions[1] = (WEEKLY,)

    @command(command_id=COMMAND_IDS)
    def create_again(self, command_id: str | None) -> None:
        """Adopting the grid's plan again is revising it, which needs a reason (unless it
        repeats a known command id)."""
        self.attempt(command_id, {InvalidInputError}, lambda: self.create(command_id),
                     ["Revised"], T0)

    @command(rules=RULES, reason=REASONS, when=WHENS, command_id=COMMAND_IDS)
    def revise(self, rules: list[PatrolRule], reason: str, when: datetime | None,
               command_id: str | None) -> None:
        """The plan is revised with at least one rule, names unique, areas of the grid,
        saying why, not dated before the adoption."""
        at = self.at(when)
        errors: Errors = set()
        names = [r.name for r in rules]
        if not rules or len(set(names)) < len(names) or blank(reason):
            errors.add(InvalidInputError)
        if ELSEWHERE in rules:
            errors.add(NotFoundError)
        if at < self.times[1]:
            errors.add(InvalidTransitionError)
        version = self.attempt(command_id, errors, lambda: self.engine.patrols.adopt_plan(
            self.community, "3", rules, actor=OFFICE, reason=reason, occurred_at=when,
            command_id=command_id), ["Revised"], at)
        if version is not None:
            self.versions[version] = tuple(rules)

    @command(rules=RULES.filter(bool), version=st.integers(1, 30), steps=st.integers(-1, 1),
             command_id=COMMAND_IDS)
    def revise_between(self, rules: list[PatrolRule], version: int, steps: int,
                       command_id: str | None) -> None:
        """A revision recorded late, dated just before, at or after an earlier version:
        in force from its own time, ties going to the last recorded."""
        versions = sorted(self.versions)
        anchor = versions[version % len(versions)]
        when = self.times[anchor] + timedelta(minutes=5 * steps)
        self.revise(rules, "recorded late", when, command_id)

    @rule(moment=MOMENTS)
    def rules_as_of(self, moment: datetime) -> None:
        """As of any moment, the plan's rules are those of its latest version by then."""
        plan = self.engine.patrols.plan(self.community, "3")
        assert plan is not None
        assert plan.rules_at(moment) == self.rules_at(moment)

    @invariant()
    def store_matches_model(self) -> None:
        plan = self.engine.patrols.plan(self.community, "3")
        assert plan is not None
        assert (plan.id, plan.grid, plan.adopted_at) == (self.plan, "3", self.times[1])
        assert plan.versions == self.versions
        latest = max(self.times[v] for v in self.versions)
        assert plan.rules == self.rules_at(latest)
        assert plan.rules_at(T0 - timedelta(days=1)) == ()


class TestPlanMachine(PlanMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence leaves the plan, its facts and its errors as the model says."""

    settings = SETTINGS
