"""The hash chain's cost on commands: the engine writing links against the same engine with
a recorder that writes none, same machine, same run, paired chunk by chunk.

    python benchmarks/chain.py [--actions N] [--incidents K] [--repeat R] [--chunk C]
                               [--batch B] [--postgres] [--verify-events V]

Three engines, one per mode, each on a fresh store, record commands.py's
workload (N incident actions over K incidents, one command = one transaction)
taking turns: C actions each, in a rotating order, so that a burst of load
elsewhere on the machine falls on all of them alike; then the same with the
actions in ``engine.batch()``es of B. R passes, each on fresh stores.

* no chain        resilience's recorder with the chain taken out: eventsourcing's
                  own insert (the baseline)
* chain           links in the insert's transaction, a checkpoint every 1000 events
* chain, signed   the same with ``RESILIENCE_SIGNING_KEY``: each checkpoint is signed
                  after the chain since the last one was checked

The figure is the ratio of each chunk's time without the chain to its time in the
mode, median over chunks (goal: commands >= 0.8). ``--postgres`` runs the same on
fresh schemas of postgresql://postgres@127.0.0.1:5432/postgres too. Then
``engine.verify()`` on a store of V events (default 100,000, recorded in
batches): events per second, and the peak of memory Python allocated while
verifying (tracemalloc, in a second run: it slows the run it watches).
Machines here are noisy: read ratios, not absolute rates.
"""

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from commands import OFFICE, SQUAD, T0, _plan
from live import pg_schema
from results import record

from resilience import Engine, Location, ManualClock, UnitSpec
from resilience.adapters.chain_recorders import SQLiteEventRecorder

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
KEY = "benchmark-signing-key-0123456789"


class UnchainedSQLiteRecorder(SQLiteEventRecorder):
    """The SQLite recorder with eventsourcing's own insert: no links, no checkpoints."""

    def __init__(self, datastore: SQLiteDatastore,
                 events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self.insert_events_statement = f"INSERT INTO {events_table_name} VALUES (?,?,?,?)"

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        return SQLiteApplicationRecorder.insert_events(self, stored_events, **kwargs)

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        return SQLiteApplicationRecorder._insert_events(self, c, stored_events, **kwargs)


def _unchained_postgres() -> type[Any]:
    from eventsourcing.postgres import PostgresApplicationRecorder

    from resilience.adapters.chain_postgres import PostgresEventRecorder

    class UnchainedPostgresRecorder(PostgresEventRecorder):
        """The PostgreSQL recorder with eventsourcing's own insert."""

        def insert_events(self, stored_events: Sequence[StoredEvent],
                          **kwargs: Any) -> Sequence[int] | None:
            insert: Any = PostgresApplicationRecorder.insert_events
            result: Sequence[int] | None = insert(self, stored_events, **kwargs)
            return result

    return UnchainedPostgresRecorder


def __getattr__(name: str) -> Any:
    # eventsourcing resolves the baseline's topic to this module's attribute.
    if name == "UnchainedPostgresRecorder":
        return _unchained_postgres()
    raise AttributeError(name)


MODES: dict[str, Callable[[str], dict[str, str]]] = {
    "no chain": lambda url: {"APPLICATION_RECORDER_TOPIC": f"{__name__}:" + (
        "UnchainedPostgresRecorder" if url.startswith("postgresql") else
        "UnchainedSQLiteRecorder")},
    "chain": lambda url: {},
    "chain, signed": lambda url: {"RESILIENCE_SIGNING_KEY": KEY},
}


@contextmanager
def fresh_store(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'events.db'}"
        return
    with pg_schema(PG) as url:
        yield url


class Workload:
    """commands.py's actions (commands.run_engine's), recorded into one engine a chunk at
    a time, so that the modes' engines can take turns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        office = OFFICE
        self.community = engine.communities.register(
            district="Bench", subdistrict="Bench", name="Bench", actor=office).aggregate_id
        engine.communities.add_grid(self.community, "g1", actor=office)
        engine.communities.add_building(self.community, "b1", "g1", [UnitSpec("1", 10)],
                                        actor=office)
        self.ids: dict[int, UUID] = {}

    def record(self, actions: Sequence[tuple[int, int]], batch: bool) -> float:
        """Seconds to record the actions (in one ``engine.batch()`` if ``batch``)."""
        started = time.perf_counter()
        if batch:
            with self.engine.batch():
                self._record(actions)
        else:
            self._record(actions)
        return time.perf_counter() - started

    def _record(self, actions: Sequence[tuple[int, int]]) -> None:
        engine = self.engine
        for index, step in actions:
            at = T0 + timedelta(seconds=step)
            if step == 0:
                self.ids[index] = engine.incidents.report(
                    self.community, incident_type="fire", severity="low",
                    location=Location(building="b1"), description="bench", actor=OFFICE,
                    occurred_at=at, channel=None).aggregate_id
            else:
                engine.incidents.take_action(self.ids[index], "other", f"step {step}",
                                             actor=SQUAD, occurred_at=at)


def compare(kind: str, plan: list[tuple[int, int]], repeat: int, chunk: int,
            batch: bool) -> dict[str, float]:
    """Each mode records the plan into its own fresh store, the modes taking turns chunk
    by chunk (in a rotating order): a burst of load elsewhere on the machine then falls
    on all of them alike. The ratio is taken per chunk; its median is printed."""
    names = list(MODES)
    seconds: dict[str, float] = dict.fromkeys(names, 0.0)
    ratios: dict[str, list[float]] = {mode: [] for mode in names}
    for _ in range(repeat):
        with ExitStack() as stack:
            workloads = {}
            for mode in names:
                url = stack.enter_context(fresh_store(kind))
                engine = stack.enter_context(Engine(url, clock=ManualClock(T0),
                                                    env=MODES[mode](url), policy=None))
                workloads[mode] = Workload(engine)
            for number, start in enumerate(range(0, len(plan), chunk)):
                actions = plan[start:start + chunk]
                this = {}
                for mode in names[number % len(names):] + names[:number % len(names)]:
                    this[mode] = workloads[mode].record(actions, batch)
                    seconds[mode] += this[mode]
                for mode in names:
                    ratios[mode].append(this["no chain"] / this[mode])
    what = (f"engine.batch() of {chunk} actions" if batch else
            f"one command per transaction, in turns of {chunk}")
    print(f"{kind}: {len(plan):,} actions x {repeat}, {what}")
    for mode in names:
        print(f"  {mode:14} {len(plan) * repeat / seconds[mode]:9,.0f} actions/s   "
              f"ratio to no chain: median {statistics.median(ratios[mode]):4.2f} "
              f"(quartiles {_quartiles(ratios[mode])})")
    return {mode: statistics.median(ratios[mode]) for mode in names}


def _quartiles(values: list[float]) -> str:
    low, _, high = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return f"{low:.2f}-{high:.2f}"


def verify_cost(kind: str, events: int) -> float:
    with fresh_store(kind) as url:
        with Engine(url, policy=None) as engine:
            done = 0
            while done < events:
                size = min(5_000, events - done)
                with engine.batch():
                    for i in range(size):
                        engine.communities.register(district="Bench", subdistrict="Verify",
                                                    name=f"c{done + i}", actor=OFFICE)
                done += size
        with Engine(url, policy=None, fresh_views=False) as engine:
            started = time.perf_counter()
            verification = engine.verify()
            seconds = time.perf_counter() - started
            tracemalloc.start()
            engine.verify()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    assert verification.ok, verification
    print(f"{kind}: verify {events:,} events in {seconds:.1f} s ({events / seconds:,.0f} "
          f"events/s), peak allocated while verifying {peak / 2**20:.1f} MiB")
    return events / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--actions", type=int, default=3000)
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=100,
                        help="actions a mode records before the next takes its turn")
    parser.add_argument("--batch", type=int, default=1000, help="actions per engine.batch()")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--verify-events", type=int, default=100_000)
    args = parser.parse_args(argv)
    plan = _plan(args.actions, args.incidents)
    kinds = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
    rows: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        for batch, what in ((False, "commands"), (True, "batches")):
            found = compare(kind, plan, args.repeat, args.batch if batch else args.chunk, batch)
            for mode in ("chain", "chain, signed"):
                rows[f"{mode} / no chain, {what} {kind}"] = {
                    "value": round(found[mode], 3), "unit": "x",
                    "note": "median of paired chunks; the floor: the same engine without the "
                            "chain (goal >= 0.8)"}
    for kind in kinds:
        if args.verify_events:
            rate = verify_cost(kind, args.verify_events)
            rows[f"verify {kind}"] = {"value": round(rate), "unit": "/s",
                                      "note": f"{args.verify_events:,} events"}
    record("chain", rows)


if __name__ == "__main__":
    main()
