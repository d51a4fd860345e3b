"""A district to measure on: each query's time beside the size of its answer, on PostgreSQL.

    python benchmarks/city.py [--communities 40] [--full] [--incidents 300] [--orders 600]
                              [--activities 50] [--days 365] [--repeat R]
                              [--store postgres|sqlite] [--url URL] [--keep]
                              [--history simulate|stand-in] [--no-record]

Generates a district with ``resilience.simulation.simulate`` (``CityPlan``: each community
with its grids, buildings and rosters, ``--incidents`` incidents, ``--orders`` service
orders and ``--activities`` activities over ``--days`` days, the untidy cases included),
or with history.py's small stand-in generator where the simulation is missing, into a
fresh PostgreSQL schema (``--store sqlite``: a SQLite file). ``--full`` is the issue's
district: 1,000 communities over one year (about 6M events: generating it takes the
better part of an hour here); ``make bench`` runs 40. ``--keep`` keeps the schema (named
after the plan) and reuses it when it is there, so the queries can be run again.

A fresh engine then catches its views up (timed: a rebuild of the district) and times
each query, the queries taking turns (median of R rounds; the first round, on the
just-opened engine, beside it), each printed beside the size of its answer:

district-wide         metrics all time and one month (cases), counts and service KPIs
                      per community for a month (rows), a league table of communities
                      (rows)
one community         metrics all time (cases), the review of a month (incidents
                      reviewed), replay.community at a cut (cases open then), its
                      scorecard for a month (metric rows), one incident's timeline (facts)

A query that costs what its answer holds shows it here: the one community's queries
should not grow with the number of communities around it. Recorded as
``record("city", ...)`` for the closing table (benchmarks/table.py).
"""

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from history import (
    START,
    History,
    StandIn,
    Timed,
    cut_of,
    simulation_available,
    time_queries,
)
from live import pg_schema
from results import record

from resilience import DEFAULT_POLICY, Engine, ManualClock, NotFoundError

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
METRIC = "detection_to_contained"
FULL = 1000


@contextmanager
def store(kind: str, name: str, keep: bool) -> Iterator[str]:
    """The store's URL: a fresh PostgreSQL schema (kept, and reused, with ``keep``) or a
    SQLite file."""
    if kind == "sqlite":
        with ExitStack() as stack:
            folder = Path("/tmp/bench-city") if keep else Path(
                stack.enter_context(tempfile.TemporaryDirectory()))
            folder.mkdir(exist_ok=True)
            yield f"sqlite:///{folder / name}.db"
    elif keep:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")
        yield f"{PG_URL}?schema={name}"
    else:
        with pg_schema(PG_URL, name) as url:
            yield url


def generate(url: str, generator: str, communities: int, incidents: int, orders: int,
             activities: int, days: int, seed: int) -> tuple[History, list[UUID]]:
    """Record the district; what was recorded and its communities."""
    def progress(done: int, total: int) -> None:
        print(f"\r  recorded {done:,} of {total:,}", end="", file=sys.stderr, flush=True)

    # Progress only on a terminal: simulate counts the plan's facts first to show it.
    shown = progress if sys.stderr.isatty() else None
    # The stand-in records as the app itself (no policy); simulate imports, as a district would.
    with Engine(url, policy=None if generator == "stand-in" else DEFAULT_POLICY) as engine:
        if generator == "simulate":
            from resilience.simulation import CityPlan, simulate

            made = simulate(engine, CityPlan(
                communities=communities, incidents=incidents, orders=orders,
                activities=activities, days=days, start=START, seed=seed), progress=shown)
            history = History(made.communities[0], made.start, made.end, made.events,
                              made.incidents, made.orders)
            ids = list(made.communities)
        else:
            ids, events = [], 0
            for n in range(communities):
                one = StandIn(engine, seed, name=f"Community {n:04d}").record(
                    incidents, orders, days, None)
                ids.append(one.community)
                events += one.events
                if shown is not None:
                    shown(n + 1, communities)
            history = History(ids[0], START, START + timedelta(days=days), events,
                              incidents * communities, orders * communities)
    if shown is not None:
        print(file=sys.stderr)
    return history, ids


def queries(engine: Engine, community: UUID, incident: UUID | None, month: Any,
            as_of: datetime) -> dict[str, Callable[[], int]]:
    """Each query of the district, returning the size of its answer."""
    def cases(report: Any) -> int:
        return int(sum(r.cases for r in report.rows) + sum(report.excluded.values()))

    run: dict[str, Callable[[], int]] = {
        "district: metrics all time": lambda: cases(engine.metrics(METRIC)),
        "district: metrics one month": lambda: cases(engine.metrics(METRIC, period=month)),
        "district: counts per community, one month":
            lambda: len(engine.counts(month, ["community"])),
        "district: service KPIs per community, one month":
            lambda: len(engine.service_kpis(month, ["community"])),
        "district: league table of communities, all time":
            lambda: len(engine.league_table(METRIC, level="community").rows),
        "community: metrics all time":
            lambda: cases(engine.metrics(METRIC, community=community)),
        "community: review of one month":
            lambda: len(engine.reviews.incidents(community, period=month).incidents),
        "community: replay.community(as_of)": lambda: _open(engine, community, as_of),
        "community: scorecard, one month":
            lambda: len(engine.scorecard(community, period=month).metrics),
    }
    if incident is not None:
        run["incident: timeline"] = lambda: len(engine.timeline(incident).entries)
    return run


def _open(engine: Engine, community: UUID, as_of: datetime) -> int:
    situation = engine.replay.community(community, as_of=as_of)
    return len(situation.open_incidents) + len(situation.open_orders)


ANSWERS = {"district: metrics all time": "cases", "district: metrics one month": "cases",
           "district: counts per community, one month": "rows",
           "district: service KPIs per community, one month": "rows",
           "district: league table of communities, all time": "rows",
           "community: metrics all time": "cases",
           "community: review of one month": "incidents reviewed",
           "community: replay.community(as_of)": "cases open at the cut",
           "community: scorecard, one month": "metric rows",
           "incident: timeline": "facts"}


def an_incident(engine: Engine, community: UUID, month: Any) -> UUID | None:
    """One incident of the community detected in the month (its timeline is timed)."""
    found = engine.reports.cases(subject="incident", period=month, community=community)
    return UUID(found[len(found) // 2].case_id) if found else None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--communities", type=int, default=40)
    parser.add_argument("--full", action="store_true",
                        help=f"the issue's district: {FULL:,} communities over a year")
    parser.add_argument("--incidents", type=int, default=300, help="per community")
    parser.add_argument("--orders", type=int, default=600, help="per community")
    parser.add_argument("--activities", type=int, default=50, help="per community")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--keep", action="store_true",
                        help="keep the district's store, and reuse it when it is there")
    parser.add_argument("--history", choices=("simulate", "stand-in"),
                        default="simulate" if simulation_available() else "stand-in")
    parser.add_argument("--no-record", action="store_true",
                        help="print only: leave benchmarks/results/city.json as it is")
    args = parser.parse_args(argv)
    communities = FULL if args.full else args.communities
    name = (f"bench_city_{communities}x{args.incidents}x{args.orders}x{args.activities}"
            f"_{args.days}d_{args.seed}_{args.history.replace('-', '')}")
    print(f"city.py: {communities:,} communities, each {args.incidents} incidents, "
          f"{args.orders} orders, {args.activities} activities over {args.days} days, on "
          f"{args.store}; history from {args.history}")
    with store(args.store, name, args.keep) as url:
        with Engine(url, clock=ManualClock(START + timedelta(days=args.days))) as engine:
            known = engine.reports.communities() if engine.views.head else {}
        if args.keep and len(known) >= communities:
            ids = sorted(UUID(key) for key in known)
            history = History(ids[0], START, START + timedelta(days=args.days),
                              0, 0, 0)
            print(f"  reusing the district in {name}")
        else:
            started = time.perf_counter()
            history, ids = generate(url, args.history, communities, args.incidents,
                                    args.orders, args.activities, args.days, args.seed)
            print(f"  recorded {history.events:,} events in {time.perf_counter() - started:.0f}"
                  f" s ({history.events / (time.perf_counter() - started):,.0f} events/s)")
        cut = cut_of(history)
        with Engine(url, clock=ManualClock(history.end)) as engine:
            started = time.perf_counter()
            caught = engine.views.catch_up()
            caught_up = time.perf_counter() - started
            events = engine.views.head
            print(f"  views caught up ({caught:,} events) in {caught_up:.0f} s; "
                  f"{events:,} events in the store")
            community = ids[len(ids) // 2]
            try:
                incident = an_incident(engine, community, cut.month)
            except NotFoundError:
                incident = None
            gc.collect()
            timed = time_queries(queries(engine, community, incident, cut.month, cut.as_of),
                                 args.repeat)
    print(f"\nmonth: {cut.month}; cut: {cut.as_of:%Y-%m-%d %H:%M}; one community of "
          f"{communities:,}\n")
    print(f"{'query':<50} {'median ms':>10} {'first ms':>9} {'answer':>9}  {'ms/item':>8}")
    rows: dict[str, dict[str, Any]] = {}
    for query, found in timed.items():
        one: Timed = found
        per = one.median * 1000 / one.answer if one.answer else float("nan")
        print(f"{query:<50} {one.median * 1000:10.1f} {one.first * 1000:9.1f} "
              f"{one.answer:>9,}  {per:8.3f}   {ANSWERS[query]}")
        rows[f"city {query}"] = {
            "value": round(one.median * 1000, 2), "unit": "ms", "answer": one.answer,
            "note": f"{one.answer:,} {ANSWERS[query]}; {communities:,} communities, "
                    f"{events:,} events, {args.store}"}
    rows["city views caught up"] = {
        "value": round(caught_up, 1), "unit": "s",
        "note": f"{caught:,} events, {communities:,} communities, {args.store}"}
    if not args.no_record:
        record("city", rows)
    return rows


if __name__ == "__main__":
    main()
