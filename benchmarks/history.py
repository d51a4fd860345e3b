"""How query costs grow with history: the issue's table, one community on SQLite.

    python benchmarks/history.py [--sizes 1000,10000,100000] [--per-month 250]
                                 [--orders-per-incident 0.5] [--repeat R]
                                 [--history simulate|stand-in] [--db DIR] [--no-record]

For each size, records one community with that many incidents of history (and
``--orders-per-incident`` times as many service orders) into a fresh SQLite file,
spread over as many months as keep ``--per-month`` (default 250) incidents in each
month, so the month a review covers holds about the same cases at every size: what
grows is only the history around it. The history comes from
``resilience.simulation.simulate`` (``--history simulate``, the default once it exists)
or from a small stand-in generator here (``--history stand-in``: incidents of every type
with corrections, late records, reopenings, false alarms, drills and some left open;
orders placed, dispatched, completed, rated, some rejected or cancelled).

Then a fresh engine (its clock at the end of the history) catches the views up (not
timed) and times, the queries taking turns each round (median of R rounds, each the
mean of as many calls as fill 50 ms, so a millisecond's query is not timed by one call;
the very first call, on a just-opened engine, beside it):

* review of one month   ``engine.reviews.incidents(community, period=<the last full
                        month>)``: every incident detected in it reviewed and graded
* replay.community      ``engine.replay.community(community, as_of=<mid that month>)``:
                        the roster and the open incidents and orders at the cut
* metrics all time      ``engine.metrics("detection_to_contained", community=...)``
* metrics one month     the same over the reviewed month

Each time is printed beside the size of its answer (incidents reviewed, cases open at
the cut, cases the metric covers), and the ratio to the smallest size: a query whose
cost follows its answer stays near 1 as the history grows, as the month's metrics do
(the simulated history leaves some cases open for good, resolved but never closed, so
the cases open at a cut grow with the history: compare the time with the answer).
Machines here are noisy: read ratios within one run. Figures are recorded as
``record("history", ...)`` for the table ``make bench`` ends with (benchmarks/table.py).
"""

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record

from resilience import (
    DEFAULT_POLICY,
    Actor,
    Engine,
    IncidentType,
    Location,
    ManualClock,
    Period,
    Provider,
    Role,
    Severity,
    UnitSpec,
)

ZONE = timezone(timedelta(hours=8))
START = datetime(2022, 1, 1, tzinfo=ZONE)
MONTH_DAYS = 365.25 / 12
METRIC = "detection_to_contained"
QUERIES = ("review of one month", "replay.community(as_of)", "metrics all time",
           "metrics one month")


class History(NamedTuple):
    """What a generator recorded: the community, the period it spans, its events."""

    community: UUID
    start: datetime
    end: datetime
    events: int
    incidents: int
    orders: int


def size_label(incidents: int) -> str:
    """1000 -> "1k", 100000 -> "100k" (the table's column names)."""
    if incidents % 1_000_000 == 0:
        return f"{incidents // 1_000_000}M"
    if incidents % 1000 == 0:
        return f"{incidents // 1000}k"
    return str(incidents)


def days_for(incidents: int, per_month: int) -> int:
    """Days of history that hold ``incidents`` at ``per_month`` a month (a month at least)."""
    return max(31, round(incidents / per_month * MONTH_DAYS))


def simulation_available() -> bool:
    try:
        from resilience.simulation import CityPlan, simulate  # noqa: F401
    except ImportError:
        return False
    return True


# The history ------------------------------------------------------------------------

def simulated(engine: Engine, incidents: int, orders: int, days: int, seed: int,
              progress: Callable[[int, int], None] | None) -> History:
    """The history from ``resilience.simulation.simulate`` (one community)."""
    from resilience.simulation import CityPlan, simulate

    plan = CityPlan(communities=1, incidents=incidents, orders=orders,
                    activities=max(1, days // 7), days=days, start=START, seed=seed)
    made = simulate(engine, plan, progress=progress)
    return History(made.communities[0], made.start, made.end, made.events, made.incidents,
                   made.orders)


STAFF = Actor("h-staff", Role.COMMUNITY_STAFF)
LEADER = Actor("h-leader", Role.GRID_LEADER)
SQUAD = Actor("h-squad", Role.SQUAD_MEMBER)
PROVIDER = Actor("h-provider", Role.PROVIDER)
GRIDS = ("1", "2", "3", "4")
BUILDINGS = tuple(f"{grid}-{n}" for grid in GRIDS for n in range(1, 7))
TYPES = tuple(IncidentType)
SEVERITIES = tuple(Severity)
ORDERS = (("meals", "meal_delivery"), ("home", "repair"), ("health", "home_nursing"))


class StandIn:
    """A small generator of one community's untidy history, recorded in batches of about
    ``batch_events`` events: a stand-in for ``resilience.simulation`` where it is missing
    (the same kind of history, far less varied)."""

    def __init__(self, engine: Engine, seed: int, batch_events: int = 5000,
                 name: str = "Bench") -> None:
        self.clock = ManualClock(START)
        self.engine = engine.with_clock(self.clock)
        self.random = random.Random(f"{seed}/{name}")
        self.batch_events = batch_events
        self.name = name
        self.community = self.engine.communities.id_for("Bench", "Bench", name)
        self.recent = START  # cases begun after it may be left open (set by ``record``)

    def at(self, moment: datetime) -> datetime:
        """``moment``, with the clock set to when it is recorded (mostly at once; one fact
        in 20 recorded hours late)."""
        late = timedelta(hours=self.random.randint(2, 30)) if self.random.random() < 0.05 \
            else timedelta(seconds=5)
        self.clock.set(max(self.clock(), moment + late))
        return moment

    def setup(self) -> None:
        run = self.engine.communities
        with self.engine.batch():
            run.register(district="Bench", subdistrict="Bench", name=self.name, actor=STAFF,
                         occurred_at=START)
            for grid in GRIDS:
                run.add_grid(self.community, grid, f"Grid {grid}", actor=STAFF,
                             occurred_at=START)
            for building in BUILDINGS:
                run.add_building(self.community, building, building.split("-")[0],
                                 [UnitSpec("1", 40), UnitSpec("2", 40)], actor=STAFF,
                                 occurred_at=START)
            for person, role in (("h-leader", Role.GRID_LEADER), ("h-squad", Role.SQUAD_MEMBER)):
                run.enrol(self.community, person, person.title(), actor=STAFF, occurred_at=START)
                run.assign_role(self.community, person, role, "1", actor=STAFF,
                                occurred_at=START)

    def incident(self, n: int, start: datetime) -> None:
        pick, run = self.random, self.engine.incidents
        building = pick.choice(BUILDINGS)
        incident = run.report(
            self.community, incident_type=pick.choice(TYPES), severity=pick.choice(SEVERITIES),
            location=Location(building=building, unit="1"), description=f"incident {n}",
            actor=LEADER, occurred_at=self.at(start), drill=pick.random() < 0.03,
            detected_at=start - timedelta(minutes=pick.randint(0, 5))).aggregate_id
        if pick.random() < 0.08:  # a false alarm: closed at once
            run.close(incident, "false_alarm", actor=STAFF,
                      occurred_at=self.at(start + timedelta(minutes=3)))
            return
        minute = timedelta(minutes=1)
        run.acknowledge(incident, actor=STAFF, occurred_at=self.at(start + minute))
        run.dispatch(incident, ["r1", "r2"], actor=STAFF, occurred_at=self.at(start + 2 * minute))
        run.en_route(incident, "r1", actor=SQUAD, occurred_at=self.at(start + 3 * minute))
        run.arrive(incident, "r1", actor=SQUAD,
                   occurred_at=self.at(start + minute * pick.randint(5, 12)))
        if pick.random() < 0.85:  # some responses never record containment
            contained = run.contain(incident, actor=LEADER,
                                    occurred_at=self.at(start + minute * pick.randint(10, 40)))
            if pick.random() < 0.1:
                run.correct_time(incident, contained.first_version,
                                 start + minute * pick.randint(9, 20), "log checked",
                                 actor=STAFF, occurred_at=self.at(start + timedelta(hours=3)))
        if start > self.recent and pick.random() < 0.3:  # still open at the end
            return
        run.resolve(incident, "done", actor=LEADER, occurred_at=self.at(start + 60 * minute))
        run.close(incident, "resolved", actor=STAFF, occurred_at=self.at(start + 90 * minute))
        if pick.random() < 0.03:
            run.reopen(incident, "flared up", actor=STAFF,
                       occurred_at=self.at(start + timedelta(hours=5)))
            run.contain(incident, actor=LEADER, occurred_at=self.at(start + timedelta(hours=6)))
            run.resolve(incident, "out", actor=LEADER,
                        occurred_at=self.at(start + timedelta(hours=7)))
            run.close(incident, "resolved", actor=STAFF,
                      occurred_at=self.at(start + timedelta(hours=8)))

    def order(self, n: int, start: datetime) -> None:
        pick, run = self.random, self.engine.orders
        resident = Actor(f"h-res-{n % 500}", Role.RESIDENT)
        category, item = pick.choice(ORDERS)
        order = run.place(self.community, household_id=f"hh-{n % 500}",
                          area_id=f"{pick.choice(BUILDINGS)}/1", category=category, item=item,
                          actor=resident, occurred_at=self.at(start)).aggregate_id
        roll = pick.random()
        if roll < 0.05:
            run.reject(order, "out of area", actor=STAFF,
                       occurred_at=self.at(start + timedelta(minutes=20)))
            return
        if roll < 0.08:
            run.cancel(order, "not needed", actor=resident,
                       occurred_at=self.at(start + timedelta(minutes=30)))
            return
        run.accept(order, actor=STAFF, occurred_at=self.at(start + timedelta(minutes=10)))
        run.dispatch(order, Provider("social_organisation", "kitchen"), actor=STAFF,
                     occurred_at=self.at(start + timedelta(minutes=30)))
        if start > self.recent and roll > 0.9:  # still with the provider at the end
            return
        run.start(order, actor=PROVIDER, occurred_at=self.at(start + timedelta(hours=2)))
        run.complete(order, "fixed", actor=PROVIDER,
                     occurred_at=self.at(start + timedelta(hours=pick.randint(3, 30))))
        if pick.random() < 0.6:
            run.rate(order, pick.randint(2, 5), actor=resident,
                     occurred_at=self.at(start + timedelta(days=2)))

    def record(self, incidents: int, orders: int, days: int,
               progress: Callable[[int, int], None] | None) -> History:
        self.setup()
        self.recent = START + timedelta(days=days - 10)
        span = timedelta(days=days).total_seconds()
        lives: list[tuple[datetime, bool, int]] = sorted(
            [(START + timedelta(seconds=span * (n + self.random.random()) / incidents), True, n)
             for n in range(incidents)]
            + [(START + timedelta(seconds=span * (n + self.random.random()) / max(orders, 1)),
                False, n) for n in range(orders)])
        events = 0
        for first in range(0, len(lives), self.batch_events // 8):
            with self.engine.batch() as batch:
                for start, is_incident, n in lives[first:first + self.batch_events // 8]:
                    (self.incident if is_incident else self.order)(n, start)
            events += batch.events_recorded
            if progress is not None:
                progress(min(first + self.batch_events // 8, len(lives)), len(lives))
        return History(self.community, START, START + timedelta(days=days), events, incidents,
                       orders)


def make_history(url: str, generator: str, incidents: int, orders: int, days: int,
                 seed: int) -> History:
    """Record the history into the store at ``url`` (a fresh one), showing progress."""
    def progress(done: int, total: int) -> None:
        print(f"\r  recorded {done:,} of {total:,}", end="", file=sys.stderr, flush=True)

    # The stand-in records as the app itself (no policy); simulate imports, as a district would.
    # Progress only on a terminal: simulate counts the plan's facts first to show it.
    shown = progress if sys.stderr.isatty() else None
    with Engine(url, policy=None if generator == "stand-in" else DEFAULT_POLICY) as engine:
        if generator == "simulate":
            made = simulated(engine, incidents, orders, days, seed, shown)
        else:
            made = StandIn(engine, seed).record(incidents, orders, days, shown)
    if shown is not None:
        print(file=sys.stderr)
    return made


# The queries ------------------------------------------------------------------------

class Cut(NamedTuple):
    month: Period
    as_of: datetime


def cut_of(history: History) -> Cut:
    """The last full month of the history, and a cut in its middle."""
    last = history.end - timedelta(days=1)
    year, month = (last.year, last.month - 1) if last.month > 1 else (last.year - 1, 12)
    period = Period.month(year, month, ZONE)
    assert period.start is not None
    if period.start < history.start:  # a history shorter than two months: its first month
        period = Period.month(history.start.year, history.start.month,
                              ZONE)
    assert period.start is not None
    return Cut(period, period.start + timedelta(days=14, hours=12))


def queries(engine: Engine, community: UUID, cut: Cut) -> dict[str, Callable[[], int]]:
    """Each query of the table, returning the size of its answer."""
    def review() -> int:
        return len(engine.reviews.incidents(community, period=cut.month).incidents)

    def replay() -> int:
        situation = engine.replay.community(community, as_of=cut.as_of)
        return len(situation.open_incidents) + len(situation.open_orders)

    def all_time() -> int:
        report = engine.metrics(METRIC, community=community)
        return sum(r.cases for r in report.rows) + sum(report.excluded.values())

    def month() -> int:
        report = engine.metrics(METRIC, period=cut.month, community=community)
        return sum(r.cases for r in report.rows) + sum(report.excluded.values())

    return dict(zip(QUERIES, (review, replay, all_time, month), strict=True))


ANSWERS = {"review of one month": "incidents reviewed",
           "replay.community(as_of)": "cases open at the cut",
           "metrics all time": "cases", "metrics one month": "cases"}


class Timed(NamedTuple):
    median: float
    first: float
    answer: int


ROUND_S = 0.05
"""A query is called again within a round until the round has taken this long, and the
round's time is the mean call: a query of a millisecond is timed over some fifty calls,
where one call alone would be mostly the machine's noise."""


def time_queries(run: dict[str, Callable[[], int]], rounds: int) -> dict[str, Timed]:
    """Each query ``rounds`` times, taking turns (drift in the machine falls on all alike);
    "first" is the very first call, on the just-opened engine."""
    times: dict[str, list[float]] = {name: [] for name in run}
    firsts: dict[str, float] = {}
    answers: dict[str, int] = {}
    for _ in range(rounds):
        for name, query in run.items():
            calls, started = 0, time.perf_counter()
            while True:
                answers[name] = query()
                calls += 1
                took = time.perf_counter() - started
                firsts.setdefault(name, took)
                if took >= ROUND_S:
                    break
            times[name].append(took / calls)
    return {name: Timed(statistics.median(found), firsts[name], answers[name])
            for name, found in times.items()}


def save_history(path: Path, made: History) -> None:
    """What a kept history holds, beside its store (``--db``), to reuse it."""
    path.write_text(json.dumps({**made._asdict(), "community": str(made.community),
                                "start": made.start.isoformat(), "end": made.end.isoformat()}))


def load_history(path: Path) -> History:
    kept = json.loads(path.read_text())
    return History(UUID(kept["community"]), datetime.fromisoformat(kept["start"]),
                   datetime.fromisoformat(kept["end"]), kept["events"], kept["incidents"],
                   kept["orders"])


@contextmanager
def scratch(directory: str | None) -> Iterator[Path]:
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        yield Path(directory)
    else:
        with tempfile.TemporaryDirectory() as made:
            yield Path(made)


def measure(folder: Path, generator: str, incidents: int, orders: int, per_month: int,
            seed: int, rounds: int) -> dict[str, Any]:
    """One size: the history (reused if ``folder`` has it), then the queries' times."""
    days = days_for(incidents, per_month)
    path = folder / f"history-{generator}-{incidents}-{orders}-{days}-{seed}.db"
    kept = path.with_suffix(".json")
    url = f"sqlite:///{path}"
    if path.exists() and kept.exists():
        made = load_history(kept)
        print(f"  reusing {path.name}: {made.events:,} events")
    else:
        for old in folder.glob(path.name + "*"):
            old.unlink()
        started = time.perf_counter()
        made = make_history(url, generator, incidents, orders, days, seed)
        print(f"  recorded {made.events:,} events ({made.incidents:,} incidents, "
              f"{made.orders:,} orders, {days} days) in {time.perf_counter() - started:.0f} s")
        save_history(kept, made)
    cut = cut_of(made)
    with Engine(url, clock=ManualClock(made.end)) as engine:
        started = time.perf_counter()
        caught = engine.views.catch_up()
        print(f"  views caught up ({caught:,} events) in {time.perf_counter() - started:.0f} s")
        gc.collect()
        timed = time_queries(queries(engine, made.community, cut), rounds)
    return {"events": made.events, "month": str(cut.month), "as_of": cut.as_of.isoformat(),
            "timed": timed}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="incidents of history, one community per size")
    parser.add_argument("--per-month", type=int, default=250,
                        help="incidents a month (the history spans size / this months)")
    parser.add_argument("--orders-per-incident", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=5,
                        help="rounds of the queries (3 at 100k incidents and more)")
    parser.add_argument("--history", choices=("simulate", "stand-in"),
                        default="simulate" if simulation_available() else "stand-in")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--db", help="directory to keep (and reuse) the histories in")
    parser.add_argument("--no-record", action="store_true",
                        help="print only: leave benchmarks/results/history.json as it is")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    import resilience

    print(f"history.py: one community on SQLite, {args.per_month} incidents a month, "
          f"{args.orders_per_incident:g} orders an incident, history from {args.history}; "
          f"resilience from {Path(resilience.__file__).parent}")
    found: dict[int, dict[str, Any]] = {}
    with scratch(args.db) as folder:
        for size in sizes:
            print(f"{size:,} incidents of history:")
            found[size] = measure(folder, args.history, size,
                                  round(size * args.orders_per_incident), args.per_month,
                                  args.seed, args.repeat if size < 100_000 else min(args.repeat, 3))
    smallest = sizes[0]
    print(f"\n{'query':<26} {'incidents':>10} {'median ms':>10} {'first ms':>9} "
          f"{'answer':>7}  {'x ' + size_label(smallest):>6}")
    rows: dict[str, dict[str, Any]] = {}
    for name in QUERIES:
        for size in sizes:
            timed: Timed = found[size]["timed"][name]
            base: Timed = found[smallest]["timed"][name]
            print(f"{name:<26} {size:>10,} {timed.median * 1000:10.1f} {timed.first * 1000:9.1f} "
                  f"{timed.answer:>7,}  {timed.median / base.median:6.2f}")
            rows[f"{name} @{size_label(size)}"] = {
                "value": round(timed.median * 1000, 2), "unit": "ms", "answer": timed.answer,
                "note": f"{timed.answer:,} {ANSWERS[name]}; {found[size]['events']:,} events; "
                        f"first call {timed.first * 1000:.1f} ms; {args.history}"}
    print(f"(month reviewed: the last full one; history at {args.per_month} incidents a month)")
    if not args.no_record:
        record("history", rows)
    return rows


if __name__ == "__main__":
    main()
