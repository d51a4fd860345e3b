"""What protection costs: a protected store against an unprotected one, same run, paired.

    python benchmarks/protection.py [--chunks N] [--bulk-chunks B] [--rebuilds R]
                                    [--store sqlite|postgres] [--page-size S]

Two engines record the same workload, each into a fresh store of its own:

* plain       no cipher: events and views in plain JSON
* protected   ``CIPHER_TOPIC``/``CIPHER_KEY``: every personal value sealed under its
              person's own key (one key-table write the first time a person appears),
              the whole event encrypted by eventsourcing's cipher, every view document
              sealed under the views key

A chunk is about 80 facts of a day in a community of its own (so no aggregate grows
with the run): the community registered with a grid and a building, five people
enrolled, an incident (reported, dispatched, on scene, ten actions, consent asked of and
given by three residents, contained, resolved, closed) and eight service orders placed
by eight new residents (accepted, dispatched, completed, rated with a comment). New
people every chunk: the protected side makes keys all along, as a store in service does.

Measured, each paired chunk by chunk (plain then protected, then the other way round,
so drift in the machine falls on both sides alike), with the same garbage-collection
setting (a collection before each side's turn) and the same page size:

1. commands    one command per transaction (``--chunks`` chunks), as an app records
2. bulk        one ``engine.batch()`` per chunk (``--bulk-chunks``): the history for 3
3. rebuild     ``views.rebuild()`` of each store's whole history, ``--rebuilds`` times,
               and reading + decoding that history (the floor a rebuild can't beat)

The headline figures are the ratios protected / plain of each rate (1.00: free).
Machines here are noisy: read ratios, not absolute rates.
"""

import argparse
import gc
import statistics
import sys
import tempfile
import time
from base64 import b64encode
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from os import urandom
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live import pg_schema
from results import record

from resilience import Actor, Engine, Location, ManualClock, Provider, Role, UnitSpec

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2022, 3, 1, 8, 0).astimezone()
STAFF = Actor("desk", Role.COMMUNITY_STAFF)
SQUAD = Actor("squad", Role.SQUAD_MEMBER)
PROVIDER = Actor("provider-desk", Role.PROVIDER)
MODES = ("plain", "protected")


class Workload:
    """The same commands for either engine: chunk ``k`` is a day of community ``k``."""

    def __init__(self, engine: Engine, clock: ManualClock) -> None:
        self.engine, self.clock = engine, clock

    def chunk(self, k: int) -> int:
        """Record chunk ``k``; return the facts recorded."""
        engine, day = self.engine, T0 + timedelta(days=k)

        def at(minutes: float) -> datetime:
            moment = day + timedelta(minutes=minutes)
            self.clock.set(moment)
            return moment

        communities, incidents, orders = engine.communities, engine.incidents, engine.orders
        community = communities.register(district="Bench", subdistrict="Bench",
                                         name=f"Bench {k}", actor=STAFF,
                                         occurred_at=at(0)).aggregate_id
        communities.add_grid(community, "g1", actor=STAFF, occurred_at=at(0))
        communities.add_building(community, "b1", "g1", [UnitSpec("1", 40)], actor=STAFF,
                                 occurred_at=at(0))
        for i in range(5):
            communities.enrol(community, f"p{k}-{i}", f"Person {k}-{i}", f"1380000{k:04d}{i}",
                              ["first aid"], actor=STAFF, occurred_at=at(i))
        incident = incidents.report(
            community, incident_type="fire", severity="moderate",
            location=Location(building="b1", unit="1", description=f"flat {k} on the 3rd floor"),
            description=f"smoke from flat {k}, reported by a neighbour", actor=STAFF,
            occurred_at=at(10)).aggregate_id
        responders = [f"p{k}-0", f"p{k}-1"]
        incidents.dispatch(incident, responders, team="squad", actor=STAFF, occurred_at=at(11))
        for responder in responders:
            incidents.arrive(incident, responder, actor=SQUAD, occurred_at=at(15))
        for a in range(10):
            incidents.take_action(incident, "other",
                                  f"action {a}: checked the stairwell and flat {k}",
                                  actor=SQUAD, occurred_at=at(16 + a))
        for r in range(3):
            resident = f"resident-{k}-{r}"
            incidents.request_consent(incident, resident, "enter the flat to check for smoke",
                                      actor=SQUAD, occurred_at=at(30 + r))
            incidents.grant_consent(incident, resident, actor=SQUAD, occurred_at=at(31 + r))
        incidents.contain(incident, "smoke cleared, pan removed from the stove", actor=SQUAD,
                          occurred_at=at(40))
        incidents.resolve(incident, "no injuries; the neighbour thanked", actor=STAFF,
                          occurred_at=at(50))
        incidents.close(incident, "resolved", "all done", actor=STAFF, occurred_at=at(60))
        for o in range(8):
            household = Actor(f"household-{k}-{o}", Role.RESIDENT)
            order = orders.place(community, household_id=f"hh-{k}-{o}", area_id="b1/1",
                                 category="home", item="repair", actor=household,
                                 details=f"kitchen tap leaking, call {k}{o} before coming",
                                 occurred_at=at(70 + o)).aggregate_id
            orders.accept(order, actor=STAFF, occurred_at=at(90 + o))
            orders.dispatch(order, Provider("property_company", "p-prop"), actor=STAFF,
                            occurred_at=at(100 + o))
            orders.complete(order, "fixed", "washer replaced", actor=PROVIDER,
                            occurred_at=at(200 + o))
            orders.rate(order, 5, "quick and tidy, thank you", actor=household,
                        occurred_at=at(300 + o))
        # registered, grid, building, 5 enrolled; reported (2 facts), 2 dispatched, 2 on
        # scene, 10 actions, 3 consents asked and given, contained, resolved, closed;
        # 8 orders of 5 facts
        return 8 + 2 + 2 + 2 + 10 + 6 + 3 + 8 * 5


@contextmanager
def stores(kind: str) -> Iterator[dict[str, str]]:
    """A fresh store URL per mode, removed afterwards."""
    if kind == "postgres":
        with ExitStack() as schemas:
            yield {mode: schemas.enter_context(pg_schema(PG_URL, f"bench_protection_{mode}"))
                   for mode in MODES}
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield {mode: f"sqlite:///{Path(folder) / f'{mode}.db'}" for mode in MODES}


def paired(rounds: int, run: Callable[[str, int], tuple[int, float]]
           ) -> tuple[dict[str, float], list[float]]:
    """``run(mode, round)`` for both modes each round, alternating which goes first, a
    garbage collection before each: (events/s of each mode over all rounds, the ratio
    protected / plain of each round)."""
    done = dict.fromkeys(MODES, 0)
    seconds = dict.fromkeys(MODES, 0.0)
    ratios = []
    for k in range(rounds):
        rate = {}
        for mode in (MODES if k % 2 == 0 else MODES[::-1]):
            gc.collect()
            count, elapsed = run(mode, k)
            done[mode] += count
            seconds[mode] += elapsed
            rate[mode] = count / elapsed
        ratios.append(rate["protected"] / rate["plain"])
    return {mode: done[mode] / seconds[mode] for mode in MODES}, ratios


def timed(fn: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    count = fn()
    return count, time.perf_counter() - started


def read_and_decode(engine: Engine, limit: int) -> int:
    """Every notification in pages of ``limit``, decoded: how many."""
    recorder, mapper = engine.app.recorder, engine.app.mapper
    count, start = 0, 1
    while page := recorder.select_notifications(start, limit):
        count += len([mapper.to_domain_event(n) for n in page])
        start = page[-1].id + 1
    return count


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chunks", type=int, default=20,
                        help="chunks recorded one command per transaction (about 80 facts each)")
    parser.add_argument("--bulk-chunks", type=int, default=400,
                        help="chunks recorded one batch each (the history rebuilt)")
    parser.add_argument("--rebuilds", type=int, default=5)
    parser.add_argument("--page-size", type=int, help="views.rebuild_page_size, both sides")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args(argv)
    env = {"plain": {}, "protected": {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
                                      "CIPHER_KEY": b64encode(urandom(32)).decode()}}
    with stores(args.store) as urls:
        clocks = {mode: ManualClock(T0) for mode in MODES}
        engines = {mode: Engine(urls[mode], env=env[mode], clock=clocks[mode], policy=None,
                                fresh_views=False) for mode in MODES}
        try:
            work = {mode: Workload(engines[mode], clocks[mode]) for mode in MODES}
            commands, command_ratios = paired(
                args.chunks, lambda mode, k: timed(lambda: work[mode].chunk(k)))

            def bulk(mode: str, k: int) -> tuple[int, float]:
                def record() -> int:
                    with engines[mode].batch():
                        return work[mode].chunk(args.chunks + k)
                return timed(record)

            batches, batch_ratios = paired(args.bulk_chunks, bulk)
            heads = {mode: engines[mode].views.head for mode in MODES}
            assert heads["plain"] == heads["protected"], heads
            page = args.page_size or engines["plain"].views.rebuild_page_size
            for engine in engines.values():
                engine.views.rebuild_page_size = page
            read_page = engines["plain"].views.page_size
            reads, read_ratios = paired(args.rebuilds, lambda mode, k: timed(
                lambda: read_and_decode(engines[mode], read_page)))
            rebuilds, rebuild_ratios = paired(args.rebuilds, lambda mode, k: timed(
                engines[mode].views.rebuild))
            keys = engines["protected"].app.mapper.keys  # type: ignore[attr-defined]
            people = len(keys.table.load(None))
        finally:
            for engine in engines.values():
                engine.close()

    store = "PostgreSQL" if args.store == "postgres" else "SQLite file"
    n = heads["plain"]
    print(f"{store}; protected vs plain, paired chunk by chunk; {n:,} events in each store, "
          f"{people:,} personal keys")

    def line(label: str, rates: dict[str, float], ratios: list[float], unit: str) -> None:
        print(f"  {label:<34}{rates['plain']:9,.0f} {unit}  {rates['protected']:9,.0f} {unit}"
              f"   ratio {rates['protected'] / rates['plain']:5.2f}"
              f"   (median of {len(ratios)} pairs {statistics.median(ratios):5.2f})")

    print(f"  {'':<34}{'plain':>15}  {'protected':>15}")
    line("commands, one per transaction", commands, command_ratios, "ev/s")
    line("bulk, one batch per chunk", batches, batch_ratios, "ev/s")
    line(f"read + decode, pages of {read_page:,}", reads, read_ratios, "ev/s")
    line(f"views.rebuild(), pages of {page:,}", rebuilds, rebuild_ratios, "ev/s")
    ratios = {name: rates["protected"] / rates["plain"] for name, rates in (
        ("commands", commands), ("bulk", batches), ("read", reads), ("rebuild", rebuilds))}
    record(f"protection-{args.store}", {
        f"protected / plain, {name}, {args.store}": {
            "value": round(ratio, 3), "unit": "x",
            "note": f"events/s, paired; {n:,} events, {people:,} personal keys"}
        for name, ratio in ratios.items()})
    return {"commands": commands, "bulk": batches, "read": reads, "rebuild": rebuilds,
            "ratios": ratios,
            "events": n, "keys": people}


if __name__ == "__main__":
    main()
