"""Command throughput: the engine against plain eventsourcing, same machine, same run.

    python benchmarks/commands.py [--actions N] [--incidents K] [--repeat R]

Both sides record the same N incident actions (K incidents, actions
interleaved round-robin) into a fresh SQLite file, one command = one
transaction, the way an app records field reports:

* engine          ``engine.incidents.*`` (load -> authorize -> validate -> save, cattrs
                  mapper), under the default policy: the squad member recording the
                  actions is on the roster and dispatched to each incident; and the same
                  with ``policy=None`` (no authorization), for the policy's cost
* plain load+save a plain ``eventsourcing`` Aggregate with ``@event`` methods,
                  ``repository.get`` + command + ``app.save`` per action: the
                  like-for-like baseline; the ratio engine / baseline is the
                  figure to watch (goal >= 0.8)
* plain save only the plain aggregate kept in memory, ``app.save`` per action
                  (a floor no reloading app reaches; shown for context)

Then a bulk import (``engine.batch()``, one transaction) against plain
eventsourcing saving all pending events in one ``app.save``.
Machines here are noisy: read ratios, not absolute rates.
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from resilience import Actor, Engine, Location, ManualClock, Role, UnitSpec
from resilience.domain.policy import DEFAULT_POLICY, Policy

T0 = datetime(2022, 2, 15, 7, 0).astimezone()
OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)
SQUAD = Actor("p-3101", Role.SQUAD_MEMBER)


class PlainIncident(Aggregate):
    """The same facts as plain eventsourcing would record them: no validation, default mapper."""

    @event("Reported")
    def __init__(self, occurred_at: datetime, incident_type: str, building: str,
                 description: str) -> None:
        self.occurred_at = occurred_at
        self.notes: list[str] = []

    @event("Acted")
    def act(self, occurred_at: datetime, person_id: str, action: str, description: str) -> None:
        self.notes.append(action)


def _plan(actions: int, incidents: int) -> list[tuple[int, int]]:
    """(incident index, step) pairs, round-robin so each save hits a warm, growing aggregate."""
    per = max(actions // incidents, 1)
    return [(i, step) for step in range(per) for i in range(incidents)][:actions]


def run_engine(folder: Path, plan: list[tuple[int, int]], batch: bool,
               policy: Policy | None = DEFAULT_POLICY) -> float:
    clock = ManualClock(T0)
    with Engine(f"sqlite:///{folder / 'engine.db'}", clock=clock, policy=policy) as engine:
        community = engine.communities.register(
            district="Bench", subdistrict="Bench", name="Bench", actor=OFFICE).aggregate_id
        engine.communities.add_grid(community, "g1", actor=OFFICE)
        engine.communities.add_building(community, "b1", "g1", [UnitSpec("1", 10)], actor=OFFICE)
        on_duty = T0 - timedelta(hours=1)
        engine.communities.enrol(community, SQUAD.person_id, "Li", actor=OFFICE,
                                 occurred_at=on_duty)
        engine.communities.assign_role(community, SQUAD.person_id, Role.SQUAD_MEMBER,
                                       actor=OFFICE, occurred_at=on_duty)
        ids: dict[int, UUID] = {}

        def record() -> None:
            for index, step in plan:
                at = T0 + timedelta(seconds=step)
                if step == 0:
                    ids[index] = engine.incidents.report(
                        community, incident_type="fire", severity="low",
                        location=Location(building="b1"), description="bench",
                        actor=OFFICE, occurred_at=at, channel=None).aggregate_id
                    engine.incidents.dispatch(ids[index], [SQUAD.person_id], actor=OFFICE,
                                              occurred_at=at)
                else:
                    engine.incidents.take_action(ids[index], "other", f"step {step}",
                                                 actor=SQUAD, occurred_at=at)

        started = time.perf_counter()
        if batch:
            with engine.batch():
                record()
        else:
            record()
        return time.perf_counter() - started


def run_plain(folder: Path, plan: list[tuple[int, int]], mode: str) -> float:
    app = Application[UUID](env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                 "SQLITE_DBNAME": str(folder / f"plain-{mode}.db")})
    aggregates: dict[int, PlainIncident] = {}
    started = time.perf_counter()
    for index, step in plan:
        at = T0 + timedelta(seconds=step)
        if step == 0:
            aggregates[index] = PlainIncident(at, "fire", "1", "bench")
        else:
            incident = aggregates[index]
            if mode == "load":
                incident = app.repository.get(incident.id)
            incident.act(at, "p-3101", "other", f"step {step}")
            aggregates[index] = incident
        if mode != "batch":
            app.save(aggregates[index])
    if mode == "batch":
        app.save(*aggregates.values())
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed


def best_rate(fn: Callable[[Path], float], count: int, repeat: int) -> float:
    rates = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            rates.append(count / fn(Path(folder)))
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--actions", type=int, default=3000)
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    plan = _plan(args.actions, args.incidents)
    n = len(plan)
    engine_rate = best_rate(lambda f: run_engine(f, plan, batch=False), n, args.repeat)
    open_rate = best_rate(lambda f: run_engine(f, plan, batch=False, policy=None), n,
                          args.repeat)
    load_rate = best_rate(lambda f: run_plain(f, plan, "load"), n, args.repeat)
    save_rate = best_rate(lambda f: run_plain(f, plan, "save"), n, args.repeat)
    engine_batch = best_rate(lambda f: run_engine(f, plan, batch=True), n, args.repeat)
    open_batch = best_rate(lambda f: run_engine(f, plan, batch=True, policy=None), n,
                           args.repeat)
    plain_batch = best_rate(lambda f: run_plain(f, plan, "batch"), n, args.repeat)
    print(f"{n} actions over {args.incidents} incidents, SQLite file, median of {args.repeat}")
    print(f"  engine, one command per transaction   {engine_rate:9,.0f} actions/s")
    print(f"  the same, policy=None (no checks)     {open_rate:9,.0f} actions/s")
    print(f"  ratio default policy / policy=None    {engine_rate / open_rate:9.2f}")
    print(f"  plain eventsourcing, load + save      {load_rate:9,.0f} actions/s")
    print(f"  plain eventsourcing, save only        {save_rate:9,.0f} actions/s")
    print(f"  ratio engine / plain load+save        {engine_rate / load_rate:9.2f}   (goal >= 0.8)")
    print(f"  ratio engine / plain save only        {engine_rate / save_rate:9.2f}")
    print(f"  engine.batch(), one transaction       {engine_batch:9,.0f} actions/s")
    print(f"  the same, policy=None                 {open_batch:9,.0f} actions/s")
    print(f"  plain eventsourcing, one save         {plain_batch:9,.0f} actions/s")
    print(f"  ratio batch engine / plain one save   {engine_batch / plain_batch:9.2f}")
    return {"engine": engine_rate, "engine_no_policy": open_rate, "plain_load": load_rate,
            "plain_save": save_rate,
            "engine_batch": engine_batch, "engine_batch_no_policy": open_batch,
            "plain_batch": plain_batch}


if __name__ == "__main__":
    main()
