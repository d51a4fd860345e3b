"""Lag from a recorded fact to a subscription's handler, with a deliverer following.

    python benchmarks/live.py [--facts N] [--interval S] [--pg URL]

For each way of following, records N incidents (each detection a notice), one at a
random moment within each ``interval``, while ``subscription.follow(interval)`` delivers
them in the background; the lag of a fact is from the start of the command that
records it (its own write included, a few ms) to the handler's call. Prints the median,
p90 (nearest rank) and worst lag of:

* SQLite, polling        the deliverer passes every ``interval`` seconds
* PostgreSQL, LISTEN     the store's NOTIFY on insert wakes it (the poll stays a guard)
* PostgreSQL, polling    the same store, the wake-up left out

and the ratios polling / LISTEN on PostgreSQL (the same store, one waiting by LISTEN,
one polling); SQLite polling against PostgreSQL LISTEN compares two stores as well as
two ways of waiting, and is labelled so. Polling's lag is about half the interval on average
(a fact waits for the next pass); LISTEN's is the round trip of the NOTIFY and a pass.
PostgreSQL runs are skipped when no server answers at ``--pg`` (each run uses a schema
of its own, dropped afterwards).
"""

import argparse
import math
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from resilience import Actor, Engine, Location, ManualClock, Notice, Role, UnitSpec
from resilience.adapters.subscriptions import Wakeup

T0 = datetime(2022, 2, 15, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
OFFICE = Actor("office", Role.COMMUNITY_STAFF)


def measure(url: str, facts: int, interval: float, listen: bool) -> list[float]:
    """Lags in seconds of ``facts`` notices delivered by a follower on ``url``."""
    with Engine(url, clock=ManualClock(T0), policy=None, escalation=None) as engine:
        community = engine.communities.register(district="D", subdistrict="S", name="Lag",
                                                actor=OFFICE).aggregate_id
        engine.communities.add_grid(community, "1", actor=OFFICE)
        engine.communities.add_building(community, "b", "1", [UnitSpec("1", 10)], actor=OFFICE)
        if not listen:
            engine.notifications.wakeup = Wakeup  # type: ignore[method-assign]
        started: dict[uuid.UUID, float] = {}
        lags: list[float] = []
        done = threading.Event()

        def handler(notice: Notice) -> None:
            arrived = time.perf_counter()
            if notice.kind == "incident.new":
                lags.append(arrived - started[notice.aggregate_id])
                if len(lags) == facts:
                    done.set()

        subscription = engine.subscribe("bench", handler, kinds=["incident.new"],
                                        start="head")
        with subscription.follow(interval) as deliverer:
            wait_listening(deliverer)
            for _ in range(facts):
                time.sleep(random.uniform(0, interval))
                incident = uuid.uuid4()
                started[incident] = time.perf_counter()
                engine.incidents.report(community, incident_type="fire", severity="high",
                                        location=Location(building="b"), description="smoke",
                                        actor=OFFICE, incident_id=incident)
            if not done.wait(60):
                raise RuntimeError(f"only {len(lags)} of {facts} notices arrived")
        return lags


def wait_listening(deliverer: object) -> None:
    """Until a PostgreSQL deliverer's LISTEN is in place (at once elsewhere)."""
    listening = getattr(getattr(deliverer, "_wakeup", None), "listening", None)
    if listening is not None:
        listening.wait(30)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


@contextmanager
def pg_schema(url: str, prefix: str = "bench", **connect: Any) -> Iterator[str]:
    """``url`` on a fresh PostgreSQL schema (``prefix`` and a random tail), dropped with
    all it holds afterwards; ``connect``: psycopg.connect's options. The benchmarks' one
    (chain, protection and rebuild import it)."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True, **connect) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}?schema={schema}"
    finally:
        with psycopg.connect(url, autocommit=True, **connect) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def pg_schema_or_none(url: str) -> Iterator[str | None]:
    """pg_schema's URL, or None (said) when PostgreSQL does not answer within 3 s."""
    with ExitStack() as stack:
        try:
            schema_url = stack.enter_context(pg_schema(url, connect_timeout=3))
        except Exception as exc:
            print(f"PostgreSQL skipped: {exc}")
            yield None
            return
        yield schema_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    runs: list[tuple[str, Callable[[], list[float] | None]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'lag.db'}"
        runs.append(("SQLite, polling", lambda: measure(db, args.facts, args.interval, True)))
        for name, listening in (("PostgreSQL, LISTEN", True), ("PostgreSQL, polling", False)):
            def on_postgres(listening: bool = listening) -> list[float] | None:
                with pg_schema_or_none(args.pg) as url:
                    return None if url is None else measure(url, args.facts, args.interval,
                                                            listening)
            runs.append((name, on_postgres))
        for name, run in runs:
            lags = run()
            if lags is not None:
                results[name] = lags
    print(f"lag from recording to the handler: {args.facts} facts, interval "
          f"{args.interval:g} s")
    print(f"{'':22}{'median':>10}{'p90':>10}{'worst':>10}")
    for name, lags in results.items():
        print(f"{name:22}{statistics.median(lags) * 1e3:8.1f}ms{p90(lags) * 1e3:8.1f}ms"
              f"{max(lags) * 1e3:8.1f}ms")
    listen, poll = results.get("PostgreSQL, LISTEN"), results.get("PostgreSQL, polling")
    if listen and poll:
        ratio = statistics.median(poll) / statistics.median(listen)
        print(f"PostgreSQL polling / LISTEN (one store, two ways of waiting): median "
              f"{ratio:.1f}x, p90 {p90(poll) / p90(listen):.1f}x")
    sqlite = results.get("SQLite, polling")
    if listen and sqlite:
        print(f"SQLite polling / PostgreSQL LISTEN (two stores as well as two ways of "
              f"waiting): median {statistics.median(sqlite) / statistics.median(listen):.1f}x")


if __name__ == "__main__":
    main()
