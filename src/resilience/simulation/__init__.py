"""A city to measure on: a seeded, realistic district history recorded into any store.

``simulate(engine, CityPlan(communities=1000))`` records a district: each community
set up (grids, micro-grids, buildings and units, zones, a roster of staff, grid leaders
and workers, building and unit leaders, party-member households, emergency squad and
volunteers, care cards), then a period of incidents of every type and severity, service
orders of every catalogue item and activities, with the roster changing as it goes. The
history is untidy the way real records are: late records, corrections of times and
details, missing milestones, reopenings, false alarms, duplicates, drills,
reclassifications, consent and forced entry, recovery orders and improvement items
(:mod:`resilience.simulation.incidents`, :mod:`~resilience.simulation.orders`,
:mod:`~resilience.simulation.city`). Escalations are not simulated (run the watch,
``engine.tick``, over the history if they are wanted).

Rules:

- **Deterministic.** The same plan gives the same facts: the same aggregates (ids are
  uuid5s of the community's names and a key: ``incident_id_for(community, "sim-7")``),
  versions, times (the clock is the plan's, never the wall's), actors and values. Each
  community draws from its own generator, seeded by the plan's seed and its index.
- **Recorded as history is imported**: through ``engine.importing(SIMULATOR)`` with a
  ``ManualClock`` set to each fact's recorded time, in ``engine.batch()`` blocks of about
  ``batch_events`` facts, each of one community's steps in a window of time; the
  windows take the communities in turn, so the log reads in time order across the
  district, as a live district's would. Every fact carries ``imported_by="simulator"``.
- **All or nothing per batch.** A refused command stops the run, its batch unrecorded,
  the earlier batches kept: simulate into a fresh store (a store holding the plan's
  first community already is refused before anything is recorded).
- Views are not brought up to date here: the first read does it (or ``engine.views.
  catch_up()``, ``resilience project``).
"""

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from resilience.clock import ManualClock
from resilience.domain.validation import check_instance, check_whole
from resilience.domain.values import Actor, Role
from resilience.engine import Engine
from resilience.errors import AlreadyExistsError, NotFoundError, ResilienceError
from resilience.i18n import _
from resilience.simulation.city import SETUP_DAYS, community_ids
from resilience.simulation.model import CHINA_STANDARD_TIME, CityPlan, Simulated, checked_plan
from resilience.simulation.steps import Ref, Step
from resilience.simulation.stream import Tally, community_steps

__all__ = ["CHINA_STANDARD_TIME", "SIMULATOR", "CityPlan", "Simulated", "planned_events",
           "simulate"]

SIMULATOR = Actor("simulator", Role.SYSTEM)
"""Whom a simulation imports as: the system role, which the default policy allows to
import into the communities the import registers."""

MAX_BATCH_EVENTS = 1_000_000

_EVENTS_PER = {"incident": 16.0, "order": 5.3, "activity": 1.1}
"""About how many facts each story records: only to size the windows of time a batch
covers (the counts themselves are exact)."""


def simulate(engine: Engine, plan: CityPlan, *,
             progress: Callable[[int, int], None] | None = None,
             batch_events: int = 5000) -> Simulated:
    """Record the district ``plan`` describes into ``engine``'s store (see the module's
    rules); return what was recorded.

    ``progress(done, total)`` is called before the first batch and after each: facts
    recorded so far, and the facts the plan records in all (counted before recording,
    by planning the whole history once without recording it, which only a progress
    asks for). ``batch_events``: about how many facts each batch records (a batch never
    splits a command).

    Raises InvalidInputError for a plan that is not a CityPlan or a ``batch_events`` out
    of range, AlreadyExistsError if the store holds the plan's first community already;
    a command the store or the policy refuses raises its own error, noting the step.
    """
    check_instance(engine, "engine", Engine)
    plan = checked_plan(plan)
    check_whole(batch_events, "batch_events", 1, MAX_BATCH_EVENTS)
    communities = community_ids(plan)
    _refuse_recorded(engine, plan, communities[0])
    # Counting plans the whole history once more: only a progress needs the total.
    total = planned_events(plan) if progress is not None else 0
    clock = ManualClock(plan.start - timedelta(days=SETUP_DAYS))
    recorder = _Recorder(engine.importing(SIMULATOR).with_clock(clock), clock)
    tallies = [Tally() for _ in communities]
    streams = [_Peeked(community_steps(plan, index, tally))
               for index, tally in enumerate(tallies)]
    done = 0
    if progress is not None:
        progress(done, total)
    for edge in _windows(plan, batch_events):
        for stream in streams:
            steps = stream.until(edge)
            for batch in _batches(steps, batch_events):
                done += recorder.record(batch)
                if progress is not None:
                    progress(done, total)
    return Simulated(communities, done, sum(t.incidents for t in tallies),
                     sum(t.orders for t in tallies), sum(t.activities for t in tallies),
                     plan.start, plan.end)


def planned_events(plan: CityPlan) -> int:
    """How many facts ``simulate`` records for ``plan`` (planned, not recorded)."""
    plan = checked_plan(plan)
    total = 0
    for index in range(plan.communities):
        tally = Tally()
        for _step in community_steps(plan, index, tally):
            pass
        total += tally.events
    return total


def _refuse_recorded(engine: Engine, plan: CityPlan, first: UUID) -> None:
    """AlreadyExistsError if the store holds the plan's first community (read from the
    store, not the views)."""
    try:
        engine.communities.get(first)
    except NotFoundError:
        return
    raise AlreadyExistsError(
        _("the store holds this plan's district already (its first community, {first}, "
          "seed {seed}): simulate into a fresh store, or with another seed").format(
            first=first, seed=plan.seed))


def _windows(plan: CityPlan, batch_events: int) -> Iterator[datetime | None]:
    """The ends of the windows of time the batches take the communities in: the setup
    (before the period), then spans of about ``batch_events`` facts of one community,
    then the rest (None: facts recorded after the period's end)."""
    per_day = (plan.incidents * _EVENTS_PER["incident"] + plan.orders * _EVENTS_PER["order"]
               + plan.activities * _EVENTS_PER["activity"]) / plan.days
    span = timedelta(days=max(1.0, batch_events / per_day) if per_day else plan.days)
    edge = plan.start
    while edge < plan.end:
        yield edge
        edge += span
    yield None


def _batches(steps: Sequence[Step], batch_events: int) -> Iterator[list[Step]]:
    """``steps`` cut into runs of about ``batch_events`` facts (a step is never cut)."""
    batch: list[Step] = []
    facts = 0
    for step in steps:
        if batch and facts + step.facts > batch_events:
            yield batch
            batch, facts = [], 0
        batch.append(step)
        facts += step.facts
    if batch:
        yield batch


class _Peeked:
    """A community's stream, taken a window at a time."""

    def __init__(self, steps: Iterator[Step]) -> None:
        self._steps = steps
        self._next: Step | None = next(steps, None)

    def until(self, edge: datetime | None) -> list[Step]:
        """The steps recorded before ``edge`` (None: all the rest)."""
        taken: list[Step] = []
        step = self._next
        while step is not None and (edge is None or step.recorded < edge):
            taken.append(step)
            step = next(self._steps, None)
        self._next = step
        return taken


class _Recorder:
    """Runs steps as the engine's commands, one batch at a time."""

    def __init__(self, player: Engine, clock: ManualClock) -> None:
        self._player = player
        self._clock = clock
        self._services: dict[str, Any] = {
            "communities": player.communities, "incidents": player.incidents,
            "orders": player.orders, "improvements": player.improvements}
        self._methods: dict[tuple[str, str], Callable[..., Any]] = {}
        self._versions: dict[str, int] = {}
        """The first fact's version of each labelled step run so far."""

    def record(self, steps: list[Step]) -> int:
        with self._player.batch() as batch:
            for step in steps:
                self._run(step)
        return batch.events_recorded

    def _run(self, step: Step) -> None:
        key = (step.service, step.command)
        method = self._methods.get(key)
        if method is None:
            method = self._methods[key] = getattr(self._services[step.service], step.command)
        args = step.args
        if any(type(arg) is Ref for arg in args):
            args = tuple(self._versions[arg.label] + arg.offset if type(arg) is Ref else arg
                         for arg in args)
        self._clock.set(step.recorded)
        try:
            receipt = method(*args, actor=step.actor, occurred_at=step.occurred, **step.kwargs)
        except ResilienceError as exc:
            exc.add_note(f"simulating {step.service}.{step.command} by "
                         f"{step.actor.person_id}, at {step.occurred.isoformat()} (recorded "
                         f"{step.recorded.isoformat()})")
            raise
        if step.label is not None:
            self._versions[step.label] = receipt.first_version
