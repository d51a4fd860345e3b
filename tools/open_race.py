"""Start-up and rebuild races: many processes opening engines at once, a rebuild beside a writer.

    python tools/open_race.py open [--store sqlite|postgres|both] [--procs 8] [--rounds 15]
    python tools/open_race.py rebuild [--runs 12] [--events 3000]

``open``: for a fresh store (a new SQLite file, a new PostgreSQL schema, each
round) and then for an existing one (set up once before the rounds), ``--procs``
processes released together by a barrier each open ``resilience.Engine(url)``,
record one command and close. Every failed process is one failure; the first
few distinct errors are printed.

``rebuild``: a SQLite file with about ``--events`` events; in each run a writer
process records commands without pause while this process rebuilds the views
(``Engine.views.rebuild``, what ``resilience rebuild`` runs). A run fails when
the rebuild raises.

PostgreSQL is ``$RESILIENCE_TEST_PG`` (default
postgresql://postgres@127.0.0.1:5432/postgres); each round's schema is dropped
afterwards. Exit status 1 when anything failed. ``OPEN_RACE_TRACEBACK=1`` prints each
failure's traceback.
"""

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

from resilience import Actor, Engine, Role

PG_URL = os.environ.get("RESILIENCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ACTOR = Actor("open-race", Role.COMMUNITY_STAFF)
_fork = multiprocessing.get_context("fork")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:160]


def _open_and_write(url: str, name: str) -> None:
    with Engine(url) as engine:
        engine.communities.register(district="Race", subdistrict="Open", name=name, actor=ACTOR)


def _opener(url: str, name: str, barrier: Barrier, results: Any) -> None:
    try:
        barrier.wait(timeout=60)
        _open_and_write(url, name)
    except BaseException as exc:  # every failure is a result to count
        if os.environ.get("OPEN_RACE_TRACEBACK"):
            traceback.print_exc()
        results.put(_describe(exc))
    else:
        results.put(None)


def open_round(url: str, procs: int, tag: str) -> list[str]:
    """``procs`` processes open ``url`` at once; the errors of those that failed."""
    barrier = _fork.Barrier(procs)
    results = _fork.Queue()
    workers = [_fork.Process(target=_opener, args=(url, f"{tag}-{i}", barrier, results))
               for i in range(procs)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join()
    return [o for o in outcomes if o is not None]


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    import psycopg

    conninfo = PG_URL.split("?", 1)[0]
    schema = f"race_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{conninfo}?schema={schema}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def fresh_store(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}"
    else:
        with pg_schema() as url:
            yield url


def race_opens(kind: str, procs: int, rounds: int) -> int:
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for state in ("fresh", "existing"):
            errors: Counter[str] = Counter()
            started = time.perf_counter()
            if state == "fresh":
                for r in range(rounds):
                    with fresh_store(kind, workdir) as url:
                        errors.update(open_round(url, procs, f"r{r}"))
            else:
                with fresh_store(kind, workdir) as url:
                    _open_and_write(url, "set-up")
                    for r in range(rounds):
                        errors.update(open_round(url, procs, f"r{r}"))
            failed = sum(errors.values())
            failures += failed
            print(f"{kind:8} {state:8} {failed:4} of {procs * rounds} opens failed "
                  f"({time.perf_counter() - started:.1f} s)")
            for error, count in errors.most_common(4):
                print(f"    {count:4} x {error}")
    return failures


def _writer(url: str, ready: Event, stop: Event, written: Any) -> None:
    i = 0
    try:
        with Engine(url) as engine:
            ready.set()
            while not stop.is_set():
                engine.communities.register(district="Race", subdistrict="Writer",
                                            name=f"w{os.getpid()}-{i}", actor=ACTOR)
                i += 1
    finally:
        ready.set()
        written.put(i)


def race_rebuilds(runs: int, events: int) -> int:
    failures: Counter[str] = Counter()
    writes = 0
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'rebuild.db'}"
        with Engine(url) as engine, engine.batch():
            for i in range(events):
                engine.communities.register(district="Race", subdistrict="History",
                                            name=f"h{i}", actor=ACTOR)
        for _ in range(runs):
            ready, stop, written = _fork.Event(), _fork.Event(), _fork.Queue()
            writer = _fork.Process(target=_writer, args=(url, ready, stop, written))
            writer.start()
            ready.wait(30)
            time.sleep(0.05)
            try:
                with Engine(url) as engine:
                    engine.views.rebuild()
            except Exception as exc:  # a failed rebuild is what this counts
                failures[_describe(exc)] += 1
                if os.environ.get("OPEN_RACE_TRACEBACK"):
                    traceback.print_exc()
            finally:
                stop.set()
                writes += written.get(timeout=60)
                writer.join()
    failed = sum(failures.values())
    print(f"sqlite   rebuild beside a writer: {failed} of {runs} rebuilds failed "
          f"(the writer recorded {writes} commands meanwhile)")
    for error, count in failures.most_common(4):
        print(f"    {count:4} x {error}")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("race", choices=("open", "rebuild"))
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--procs", type=int, default=8, help="processes per round (default 8)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per case (default 15)")
    parser.add_argument("--runs", type=int, default=12, help="rebuilds (default 12)")
    parser.add_argument("--events", type=int, default=3000,
                        help="events in the rebuilt store (default 3000)")
    args = parser.parse_args(argv)
    if args.race == "rebuild":
        return 1 if race_rebuilds(args.runs, args.events) else 0
    kinds = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    failures = sum(race_opens(kind, args.procs, args.rounds) for kind in kinds)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
