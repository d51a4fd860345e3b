"""Views rebuild throughput against reading and decoding the same events, same store, same run.

    python benchmarks/rebuild.py [--events N] [--repeat R] [--phases P] [--cohort C]
                                 [--store sqlite|postgres] [--page-size S]
                                 [--baseline-events B] [--db FILE] [--pg-schema NAME]
                                 [--seed X] [--progress] [--no-record]

A child process records about N events (default 200,000) into a fresh store
with ``engine.batch()``: communities with grids and buildings, incidents of
8-25 facts (detected, reported, acknowledged, responders dispatched, en route
and on scene, actions, consent and forced entry, contained, resolved, closed;
some reclassified, reopened, time- or details-corrected, recorded late),
service orders (placed, accepted, dispatched, started, completed, rated; some
rejected, cancelled or reopened) and activities. Each aggregate's facts are
recorded in ``--phases`` batches spread over as many consecutive batches
(each batch starts about ``--cohort`` events' worth of new aggregates), and
the aggregates of a batch are shuffled, so a page of the log touches many
aggregates whose documents were written pages ago: the worst case for the
reader's document cache (``--phases 1``: each aggregate's facts contiguous).

Then, on that store:

* a rebuild alone      one ``views.rebuild()`` in a fresh child process: its
                       wall time and peak RSS (``ru_maxrss``), what a rebuild
                       costs a deployment (goal at 1M events: < 60 s, < 300 MiB);
* ``--repeat`` pairs, A B A B (whatever the machine or one side's leftovers do
  falls on both), of
  - read + decode      every notification, in pages of ``views.rebuild_page_size``
                       (the rebuild's own pages), decoded with the app's mapper
                       (``to_domain_event``), garbage collection paused as the
                       reader pauses it: the floor a rebuild cannot beat (the
                       reader reads the same pages, then folds and writes);
  - views.rebuild()    empty the views and fold the whole log again;
* one txn per event    ``views.page_size = 1`` from the middle of the log, for
                       ``--baseline-events`` events: a projection committing
                       each event with its tracking position (reference only).

The figure to watch is the ratio rebuild / read+decode, each pair's wall times,
median of the pairs (goal >= 0.5; the floor, read+decode, is 1); the same ratio in CPU
seconds is printed beside it (the rebuild's CPU counts its writer thread, which
commits a page while the next is folded). The rows (ratio, the rebuild alone's wall
and peak RSS) are recorded as ``rebuild-<store>-<size>`` (benchmarks/results.py).
``--db FILE`` keeps the SQLite file and ``--pg-schema NAME`` the PostgreSQL schema,
and reuses it (no recording) if it holds events; ``--store postgres`` otherwise
records into a fresh schema of postgresql://postgres@127.0.0.1:5432/postgres,
dropped afterwards.
Machines here are noisy: read ratios, not absolute rates.
"""

import argparse
import concurrent.futures
import gc
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results
from live import pg_schema

from resilience import (
    Actor,
    Engine,
    Location,
    ManualClock,
    Provider,
    Role,
    UnitSpec,
    ZoneType,
)

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2022, 1, 3, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ZERO = timedelta(0)
STAFF = Actor("desk", Role.COMMUNITY_STAFF)
DUTY = Actor("duty-officer", Role.COMMUNITY_STAFF)
LEADER = Actor("grid-leader", Role.GRID_LEADER)
SQUAD = Actor("squad", Role.SQUAD_MEMBER)
PROVIDER = Actor("provider-desk", Role.PROVIDER)
GRIDS_PER_COMMUNITY = 4
BUILDINGS_PER_GRID = 3
ZONES = (ZoneType.NEW_BUILD, ZoneType.OLD_ESTATE, ZoneType.COMMERCIAL, ZoneType.INSTITUTIONAL)
INCIDENT_TYPES = ("fire", "fire", "medical", "medical", "gas", "flood", "security",
                  "infrastructure", "other")
SEVERITIES = ("low", "low", "moderate", "moderate", "high", "critical")
ACTIONS = ("equipment_brought", "equipment_prepared", "residents_notified", "evacuation",
           "suppression", "first_aid", "utilities_isolated", "other")
SERVICES = (("health", "rehab_care"), ("health", "home_nursing"), ("meals", "meal_delivery"),
            ("meals", "meal_help"), ("home", "repair"), ("home", "cleaning"),
            ("home", "escort"), ("skills", "digital_help"), ("professional", "legal_advice"))
PROVIDERS = (Provider("property_company", "p-prop"), Provider("alliance_member", "p-360"),
             Provider("social_organisation", "p-social"), Provider("grid_worker", "p-grid"))
ACTIVITY_SHARE = 0.03
"""About this share of the events are activities held (facts of the community aggregate)."""

Step = Callable[[], None]
"""One command, at its own occurred/recorded times."""


# Generating the events ------------------------------------------------------------------


@dataclass
class Place:
    community: UUID
    grids: list[str]
    buildings: list[str]


@dataclass
class Made:
    """What the generator recorded (returned from the child process)."""

    events: int = 0
    communities: int = 0
    incidents: int = 0
    orders: int = 0
    activities: int = 0
    batches: int = 0
    seconds: float = 0.0


@dataclass
class Life:
    """One aggregate's commands, and how many facts they record."""

    steps: list[Step] = field(default_factory=list)
    facts: int = 0


class World:
    """Plans realistic lives for incidents and orders in a set of communities."""

    def __init__(self, engine: Engine, clock: ManualClock, rng: random.Random) -> None:
        self.engine = engine
        self.clock = clock
        self.rng = rng
        self.places: list[Place] = []
        self.made = Made()

    def uuid(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)

    def at(self, when: datetime, late: timedelta, command: Callable[..., object],
           *args: Any, **kwargs: Any) -> Step:
        """``command(*args, occurred_at=when, **kwargs)``, recorded ``late`` after ``when``."""
        clock = self.clock

        def run() -> None:
            clock.set(when + late)
            command(*args, occurred_at=when, **kwargs)
        return run

    def setup(self, count: int) -> None:
        """Communities, each with grids (zoned) and buildings of a few units."""
        run = self.engine.communities
        for c in range(count):
            at = T0 - timedelta(days=30) + timedelta(minutes=c)
            self.clock.set(at)
            community = run.register(district="Bench", subdistrict=f"S{c % 7}",
                                     name=f"Community {c}", actor=STAFF,
                                     occurred_at=at).aggregate_id
            grids, buildings = [], []
            for g in range(GRIDS_PER_COMMUNITY):
                grid = f"g{g + 1}"
                run.add_grid(community, grid, f"Grid {g + 1}", actor=STAFF, occurred_at=at)
                run.classify_zone(community, grid, ZONES[g % len(ZONES)], actor=STAFF,
                                  occurred_at=at)
                for b in range(BUILDINGS_PER_GRID):
                    building = f"{grid}-b{b + 1}"
                    run.add_building(community, building, grid,
                                     [UnitSpec(str(u), 12) for u in range(1, 4)],
                                     actor=STAFF, occurred_at=at)
                    buildings.append(building)
                grids.append(grid)
            self.places.append(Place(community, grids, buildings))
        self.made.communities = count

    def activity(self, place: Place, when: datetime) -> Step:
        r = self.rng
        title = r.choice(("health talk", "fire drill", "elderly lunch", "flood briefing"))
        self.made.activities += 1
        return self.at(when, ZERO, self.engine.communities.hold_activity, place.community,
                       title=title, category=title.split()[0], participants=r.randint(0, 80),
                       grid=r.choice([*place.grids, None]), actor=STAFF)

    def _planner(self, life: Life, start: datetime,
                 late_share: float) -> Callable[..., datetime]:
        """``add(minutes, command, *args, facts=1, **kwargs)``: the next step of a life."""
        r = self.rng
        now = [start]

        def add(minutes: float, command: Callable[..., object], *args: Any, facts: int = 1,
                **kwargs: Any) -> datetime:
            now[0] += timedelta(minutes=minutes)
            late = (timedelta(minutes=r.choice((20, 90, 600, 2880)))
                    if r.random() < late_share else ZERO)
            life.steps.append(self.at(now[0], late, command, *args, **kwargs))
            life.facts += facts
            return now[0]
        return add

    def incident(self, start: datetime) -> Life:
        r, run, life = self.rng, self.engine.incidents, Life()
        add = self._planner(life, start, late_share=0.04)
        place = r.choice(self.places)
        incident = self.uuid()
        severity = r.choice(SEVERITIES)
        add(0, run.report, place.community, incident_type=r.choice(INCIDENT_TYPES),
            severity=severity,
            location=Location(building=r.choice(place.buildings), unit=str(r.randint(1, 3))),
            description="smoke in the stairwell", actor=DUTY,
            detected_at=start - timedelta(minutes=r.randint(0, 12)), incident_id=incident,
            facts=2)
        acknowledged = add(r.uniform(1, 5), run.acknowledge, incident, actor=DUTY)
        self.made.incidents += 1
        if r.random() < 0.08:  # a false alarm: someone goes to look, then it is closed
            add(r.uniform(1, 4), run.dispatch, incident, ["leader-1"], actor=DUTY)
            add(r.uniform(3, 10), run.arrive, incident, "leader-1", actor=LEADER)
            add(r.uniform(2, 10), run.close, incident, "false_alarm", "nothing found",
                actor=DUTY)
            return life
        if r.random() < 0.1:
            add(r.uniform(1, 5), run.reclassify, incident,
                severity="critical" if severity != "critical" else "high", actor=DUTY)
        if r.random() < 0.5:
            add(r.uniform(0, 3), run.assign_commander, incident, "commander-1", actor=DUTY)
        responders = [f"r{i}" for i in range(r.randint(1, 4))]
        add(r.uniform(1, 4), run.dispatch, incident, responders, team="squad", actor=DUTY,
            facts=len(responders))
        for responder in responders:
            if r.random() < 0.8:
                add(r.uniform(0, 3), run.en_route, incident, responder, actor=SQUAD)
        for responder in responders:
            add(r.uniform(2, 12), run.arrive, incident, responder, actor=SQUAD)
        for _ in range(r.randint(1, 3)):
            action = r.choice(ACTIONS)
            add(r.uniform(1, 10), run.take_action, incident, action, f"{action} at the scene",
                ("extinguisher",), actor=SQUAD)
        if r.random() < 0.15:
            add(r.uniform(1, 5), run.request_consent, incident, "resident-9", "enter the flat",
                actor=SQUAD)
            add(r.uniform(1, 5), run.grant_consent, incident, "resident-9", actor=SQUAD)
            add(r.uniform(0, 2), run.force_entry, incident, "door of unit", actor=SQUAD)
        if r.random() < 0.2:
            add(r.uniform(1, 10), run.add_note, incident, "neighbours informed", actor=DUTY)
        add(r.uniform(5, 40), run.contain, incident, actor=SQUAD)
        add(r.uniform(10, 90), run.resolve, incident, "all clear", actor=DUTY)
        if r.random() < 0.12:  # the acknowledgement (version 3) was logged late: correct it
            add(r.uniform(30, 300), run.correct_time, incident, 3,
                acknowledged - timedelta(minutes=1), "checked the call log", actor=DUTY)
        if r.random() < 0.05:
            add(r.uniform(30, 300), run.correct_details, incident, 2, "reported by a neighbour",
                "call log", actor=DUTY)
        add(r.uniform(10, 120), run.close, incident, "resolved", actor=DUTY)
        if r.random() < 0.04:
            add(r.uniform(60, 600), run.reopen, incident, "flared up", actor=DUTY)
            add(r.uniform(5, 30), run.take_action, incident, "suppression", "hot spot",
                actor=SQUAD)
            add(r.uniform(10, 60), run.resolve, incident, "all clear again", actor=DUTY)
            add(r.uniform(30, 120), run.close, incident, "resolved", actor=DUTY)
        return life

    def order(self, start: datetime) -> Life:
        r, run, life = self.rng, self.engine.orders, Life()
        add = self._planner(life, start, late_share=0.05)
        place = r.choice(self.places)
        order = self.uuid()
        resident = Actor(f"resident-{r.randint(1, 10_000)}", Role.RESIDENT)
        category, item = r.choice(SERVICES)
        add(0, run.place, place.community, household_id=resident.person_id,
            area_id=f"{r.choice(place.buildings)}/{r.randint(1, 3)}", category=category,
            item=item, actor=resident, order_id=order)
        self.made.orders += 1
        if r.random() < 0.05:
            add(r.uniform(5, 60), run.reject, order, "out of scope", actor=STAFF)
            return life
        add(r.uniform(5, 60), run.accept, order, actor=STAFF)
        if r.random() < 0.05:
            add(r.uniform(5, 60), run.cancel, order, "no longer needed", actor=resident)
            return life
        add(r.uniform(5, 120), run.dispatch, order, r.choice(PROVIDERS), actor=STAFF)
        if r.random() < 0.6:
            add(r.uniform(10, 300), run.start, order, actor=PROVIDER)
        fixed = r.random() < 0.85
        add(r.uniform(30, 900), run.complete, order, "fixed" if fixed else "not_fixed",
            "" if fixed else "part unavailable", actor=PROVIDER)
        if r.random() < 0.07:
            add(r.uniform(60, 1440), run.reopen, order, "still broken", actor=resident)
            add(r.uniform(10, 120), run.dispatch, order, r.choice(PROVIDERS), actor=STAFF)
            add(r.uniform(30, 900), run.complete, order, "fixed", actor=PROVIDER)
        if r.random() < 0.7:
            add(r.uniform(30, 2880), run.rate, order, r.choice((3, 4, 5, 5, 5)),
                actor=resident)
        if r.random() < 0.05:
            add(r.uniform(60, 600), run.correct_time, order, 1, start - timedelta(minutes=10),
                "placed by phone earlier", actor=STAFF)
        return life


def _segments(steps: list[Step], phases: int) -> list[list[Step]]:
    """A life cut into ``phases`` contiguous runs of commands (some may be empty)."""
    n = len(steps)
    cuts = [round(i * n / phases) for i in range(phases + 1)]
    return [steps[cuts[i]:cuts[i + 1]] for i in range(phases)]


def generate(url: str, target: int, phases: int, cohort_events: int, seed: int,
             show: bool) -> Made:
    """Record about ``target`` events; run in a child process (see the module's docstring)."""
    started = time.perf_counter()
    clock = ManualClock(T0)
    rng = random.Random(seed)
    with Engine(url, clock=clock, fresh_views=False, policy=None) as engine:
        world = World(engine, clock, rng)
        with engine.batch() as batch:
            world.setup(max(2, target // 25_000))
        recorded = planned = batch.events_recorded
        in_flight: list[tuple[int, list[list[list[Step]]]]] = []  # (phases done, segments)
        cohort = 0
        while planned < target or in_flight:
            if planned < target:
                window = T0 + timedelta(hours=2 * cohort)
                lives: list[list[list[Step]]] = []
                made = 0
                while made < cohort_events * (1 - ACTIVITY_SHARE) and planned + made < target:
                    start = window + timedelta(minutes=rng.uniform(0, 120))
                    life = world.incident(start) if rng.random() < 0.55 else world.order(start)
                    lives.append(_segments(life.steps, phases))
                    made += life.facts
                planned += made
                in_flight.append((0, lives))
                cohort += 1
            work: list[list[Step]] = []
            for i, (done, lives) in enumerate(in_flight):
                work.extend(segments[done] for segments in lives)
                in_flight[i] = (done + 1, lives)
            in_flight = [(done, lives) for done, lives in in_flight if done < phases]
            rng.shuffle(work)
            moment = T0 + timedelta(hours=2 * cohort)
            steps = sum(len(segment) for segment in work)
            per_place = max(1, round(steps * ACTIVITY_SHARE / len(world.places)))
            activities = [world.activity(place, moment + timedelta(minutes=rng.uniform(0, 120)))
                          for place in world.places for _ in range(per_place)]
            planned += len(activities)
            with engine.batch() as batch:
                for step in activities:  # first: the communities are then held by the batch
                    step()
                for segment in work:
                    for step in segment:
                        step()
            recorded += batch.events_recorded
            world.made.batches += 1
            if show:
                print(f"\r  recorded {recorded:,} events in {world.made.batches} batches",
                      end="", file=sys.stderr, flush=True)
        if show:
            print(file=sys.stderr)
        world.made.events = engine.views.head
    world.made.seconds = time.perf_counter() - started
    return world.made


def generate_in_child(url: str, target: int, phases: int, cohort_events: int, seed: int,
                      show: bool) -> Made:
    """Record the events in another process, so this one's peak RSS is the reader's alone."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(generate, url, target, phases, cohort_events, seed, show).result()


# Measuring ------------------------------------------------------------------------------


def rss_now() -> int:
    """Resident set size of this process now, in bytes (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss()


def peak_rss() -> int:
    """ru_maxrss in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def read_and_decode(engine: Engine, expected: int, limit: int) -> tuple[float, float]:
    """Every notification in pages of ``limit``, decoded with the app's mapper, with
    garbage collection paused as a rebuild pauses it: (wall, CPU) seconds."""
    recorder, mapper = engine.app.recorder, engine.app.mapper
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        count, start = 0, 1
        while True:
            page = recorder.select_notifications(start, limit)
            if not page:
                break
            events = [mapper.to_domain_event(n) for n in page]
            count += len(events)
            start = page[-1].id + 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        if was_enabled:
            gc.enable()
    assert count == expected, (count, expected)
    return elapsed, cpu


@dataclass
class RssTrace:
    """RSS after each page of a rebuild: (events done, bytes)."""

    samples: list[tuple[int, int]] = field(default_factory=list)
    show: bool = False

    def __call__(self, done: int, total: int) -> None:
        self.samples.append((done, rss_now()))
        if self.show:
            print(f"\r  rebuilt {done:,} / {total:,} events, RSS {mb(self.samples[-1][1])}",
                  end="", file=sys.stderr, flush=True)

    def at(self, fraction: float) -> tuple[int, int]:
        """The first sample at or past ``fraction`` of the events."""
        last = self.samples[-1][0]
        return next(s for s in self.samples if s[0] >= fraction * last)


def rebuild(engine: Engine, show: bool) -> tuple[int, float, float, RssTrace]:
    """One ``views.rebuild()``: (events, wall seconds, CPU seconds of the process, its
    threads' included, RSS after each page)."""
    trace = RssTrace(show=show)
    started, cpu = time.perf_counter(), time.process_time()
    count = engine.views.rebuild(progress=trace)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if show:
        print(file=sys.stderr)
    return count, elapsed, cpu, trace


@dataclass
class Alone:
    """A rebuild in a process that does nothing else (``rebuild_alone``)."""

    events: int
    seconds: float
    peak_rss: int
    samples: list[tuple[int, int]]


def _rebuild_alone(url: str, page_size: int | None) -> Alone:
    with Engine(url, clock=ManualClock(T0), fresh_views=False) as engine:
        if page_size is not None:
            engine.views.rebuild_page_size = page_size
        count, seconds, _, trace = rebuild(engine, False)
    return Alone(count, seconds, peak_rss(), trace.samples)


def rebuild_alone(url: str, page_size: int | None) -> Alone:
    """A rebuild's wall time and peak RSS in a fresh child process: what a deployment's
    ``resilience project --rebuild`` costs, nothing of this process's reads in the peak."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_rebuild_alone, url, page_size).result()


def one_per_event(engine: Engine, start: int, count: int) -> tuple[int, float]:
    """Views folded up to ``start`` in pages, then ``count`` events one transaction each."""
    views = engine.views
    views.store.reset(list(views.stored_names.values()))  # position 0: the reader's cache clears
    views.catch_up(max_events=start)
    saved = views.page_size
    views.page_size = 1
    try:
        started = time.perf_counter()
        done = views.catch_up(max_events=count)
        elapsed = time.perf_counter() - started
    finally:
        views.page_size = saved
    return done, elapsed


@contextmanager
def store_url(store: str, db: str | None,
              pg_schema_name: str | None = None) -> Iterator[tuple[str, bool]]:
    """(URL, whether it already holds events) of the store to measure: a fresh one,
    removed afterwards, or the kept SQLite file or PostgreSQL schema named."""
    if store == "postgres" and pg_schema_name is not None:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {pg_schema_name}")
        url = f"{PG_URL}?schema={pg_schema_name}"
        with Engine(url, clock=ManualClock(T0), fresh_views=False) as engine:
            held = engine.views.head > 0
        yield url, held
    elif store == "postgres":
        with pg_schema(PG_URL, "bench_rebuild") as url:
            yield url, False
    elif db is not None:
        path = Path(db).resolve()
        yield f"sqlite:///{path}", path.exists() and path.stat().st_size > 0
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'rebuild.db'}", False


def size_label(n: int) -> str:
    """"100k", "1M": how the closing table names a store's size (the events recorded are
    about as many as asked for: lives are recorded whole)."""
    if n >= 950_000:
        return f"{round(n / 1e6):g}M"
    unit = next((u for u in (100_000, 10_000) if n >= u), 1_000)
    return f"{round(n / unit) * unit // 1000}k"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200_000,
                        help="events to record (about: lives are recorded whole)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phases", type=int, default=3,
                        help="batches each aggregate's facts are spread over (1: contiguous)")
    parser.add_argument("--cohort", type=int, default=20_000,
                        help="events of the aggregates started in each batch")
    parser.add_argument("--baseline-events", type=int, default=5_000,
                        help="events folded one transaction each, from the middle of the log "
                             "(0: skip)")
    parser.add_argument("--page-size", type=int,
                        help="views.rebuild_page_size (default: the engine's)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--db", help="SQLite file to keep (and reuse if it exists)")
    parser.add_argument("--pg-schema",
                        help="PostgreSQL schema to keep (and reuse if it holds events)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--progress", action="store_true", help="show progress on stderr")
    parser.add_argument("--no-record", action="store_true",
                        help="don't write benchmarks/results/rebuild-<store>-<size>.json")
    args = parser.parse_args(argv)
    if args.phases < 1:
        parser.error("--phases must be 1 or more")

    with store_url(args.store, args.db, args.pg_schema) as (url, reused):
        made = None
        if not reused:
            made = generate_in_child(url, args.events, args.phases, args.cohort, args.seed,
                                     args.progress)
        alone = rebuild_alone(url, args.page_size)
        with Engine(url, clock=ManualClock(T0), fresh_views=False) as engine:
            if args.page_size is not None:
                engine.views.rebuild_page_size = args.page_size
            page = engine.views.rebuild_page_size  # both sides read in these pages
            n = engine.views.head
            assert alone.events == n, (alone.events, n)
            # Paired, A B A B: whatever one side leaves in memory or the machine does
            # meanwhile falls on both. GC is paused on both sides, as the reader pauses it.
            reads: list[tuple[float, float]] = []
            rebuilds: list[tuple[float, float]] = []
            for _ in range(args.repeat):
                reads.append(read_and_decode(engine, n, page))
                count, seconds, cpu, _ = rebuild(engine, args.progress)
                assert count == n, (count, n)
                rebuilds.append((seconds, cpu))
            base_start = n // 2
            base_count, base_seconds = (one_per_event(engine, base_start, args.baseline_events)
                                        if args.baseline_events > 0 else (0, 0.0))
            if args.db is not None or args.pg_schema is not None:
                engine.views.rebuild()  # leave complete views in the kept store

    ratios = [read / built for (read, _), (built, _) in zip(reads, rebuilds, strict=True)]
    cpu_ratios = [read / built for (_, read), (_, built) in zip(reads, rebuilds, strict=True)]
    ratio, cpu_ratio = statistics.median(ratios), statistics.median(cpu_ratios)
    read_s = statistics.median(r for r, _ in reads)
    rebuild_s = statistics.median(r for r, _ in rebuilds)
    read_rate, rebuild_rate = n / read_s, n / rebuild_s
    layout = "contiguous per aggregate" if args.phases == 1 else (
        f"each aggregate over {args.phases} batches, interleaved")
    store = "PostgreSQL" if args.store == "postgres" else "SQLite file"
    print(f"{n:,} events, {store}, {layout}; {args.repeat} pairs (read+decode, rebuild), "
          f"pages of {page:,} and GC paused on both sides")
    if made is not None:
        print(f"  recorded in {made.seconds:.1f} s ({made.batches} batches): "
              f"{made.communities} communities, {made.incidents:,} incidents, "
              f"{made.orders:,} orders, {made.activities:,} activities")

    def line(label: str, text: str) -> None:
        print(f"  {label:<42}{text}")

    line("read + decode (the floor), median", f"{read_rate:9,.0f} events/s  {read_s:7.2f} s")
    line("views.rebuild(), median", f"{rebuild_rate:9,.0f} events/s  {rebuild_s:7.2f} s")
    line("ratio rebuild / read+decode, per pair",
         f"{ratio:9.2f}   (median of {', '.join(f'{r:.2f}' for r in ratios)}; "
         "floor: read+decode = 1, goal >= 0.5)")
    line("the same in CPU seconds", f"{cpu_ratio:9.2f}   (the rebuild's CPU counts its "
         "writer thread: the commits beside the next page's fold)")
    line("a rebuild alone, in a fresh process",
         f"{alone.seconds:9.2f} s, peak RSS {mb(alone.peak_rss)}")
    line("rebuild of 1,000,000 at this rate", f"{1e6 / rebuild_rate:9.1f} s   (goal < 60 s)")
    base_rate = base_count / base_seconds if base_count else None
    if base_rate is not None:
        line("one transaction per event (reference)", f"{base_rate:9,.0f} events/s  "
             f"(views.page_size = 1, events {base_start + 1:,}..{base_start + base_count:,})")
        line("ratio rebuild / one per event", f"{rebuild_rate / base_rate:9.1f}")
    samples = alone.samples
    marks = sorted({next(x for x in samples if x[0] >= f * samples[-1][0])
                    for f in (0.0, 0.25, 0.5, 0.75, 1.0)})
    line("RSS during the rebuild alone", ", ".join(f"{mb(rss)} at {done:,}" for done, rss in marks))
    half = [rss for done, rss in samples if done >= n / 2]
    line("RSS growth over its second half", f"{mb(max(half) - half[0]):>9}")
    size = size_label(n)
    rows = {
        f"rebuild ratio {args.store} {size}": {
            "value": round(ratio, 3), "unit": "x",
            "note": f"rebuild / read+decode, median of {args.repeat} pairs; CPU ratio "
                    f"{cpu_ratio:.2f}; goal >= 0.5"},
        f"rebuild wall {args.store} {size}": {
            "value": round(alone.seconds, 1), "unit": "s",
            "note": f"{n:,} events, a rebuild alone in a fresh process"},
        f"rebuild peak RSS {args.store} {size}": {
            "value": round(alone.peak_rss / 2**20), "unit": "MiB",
            "note": "ru_maxrss of that process"},
    }
    if not args.no_record:
        print(f"  recorded in {results.record(f'rebuild-{args.store}-{size}', rows)}")
    return {"events": n, "read_decode": read_rate, "rebuild": rebuild_rate, "ratio": ratio,
            "cpu_ratio": cpu_ratio, "ratios": ratios, "rebuild_seconds": rebuild_s,
            "one_per_event": base_rate, "alone_seconds": alone.seconds,
            "peak_rss_alone": alone.peak_rss, "rss_samples": samples}


if __name__ == "__main__":
    main()
