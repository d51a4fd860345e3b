"""Commands: the engine against plain eventsourcing, and a command's cost against the
size of its community, same machine, same run, paired chunk by chunk.

    python benchmarks/commands.py [--store sqlite|postgres|both] [--actions N]
        [--incidents K] [--chunk C] [--repeat R] [--bulk-chunks B] [--cold R]
        [--facts 1000,10000] [--only bulk|commands] [--no-record]

**1. One command per transaction.** Each mode records the same N incident actions (K
incidents, actions round-robin, each incident reported and dispatched first) into a fresh
store of its own; the modes take turns, C actions each, in a rotating order, with a
garbage collection before each turn, so a burst of load on the machine falls on all of
them alike. The ratio is taken per chunk (the baseline's time over the mode's); the
median over chunks is printed, beside each mode's floor:

* engine            ``engine.incidents.*`` under the default policy (load -> authorize
                    -> validate -> save; the hash chain, the cattrs mapper)
* engine, no policy the same with ``policy=None``: what the policy costs
* plain, save only  a plain eventsourcing ``Aggregate`` kept in memory, one ``app.save``
                    per command: **the floor** of the headline ratio (goal >= 0.8); no
                    application that reloads what it decides on gets under it
* plain, cached     the same aggregate read through eventsourcing's own aggregate cache
                    (``AGGREGATE_CACHE_MAXSIZE``; its defaults: fast-forward, deep copy
                    out of the cache) before each command: the like-for-like baseline
                    of an engine that caches
* plain, load+save  ``repository.get`` (no cache) + command + save

**2. Bulk.** Each chunk records a day of new incidents (report, dispatch, actions: 1,000
events) in one transaction: ``engine.batch()`` (default policy: each command checked at
both its moments), the same through ``engine.importing(staff)`` (as scenario imports and
``resilience simulate`` record: the importer checked, not each actor), and with
``policy=None``, against plain eventsourcing recording the same facts on aggregates in
memory and saving them in one ``app.save``, **the floor** (goal >= 0.9). Paired and
collected as above.

**3. A command against the community's history.** One community of 0 (new), 1,000 and
10,000 community facts (its staff and a roster of 40 enrolled first, then a mix:
activities 70%, participant counts corrected 8%, roster changes 9% (a volunteer relieved
and another assigned, or a new person enrolled), times and details corrected 6%, care
cards 4%, zones classified 3%). Each round opens a fresh engine on each store in a
rotating order and times its first ``incidents.report`` (cold: what a CLI command or a
restarted app pays), then a second one (warm: the community cached), and on another
fresh engine the first ``orders.place``. The grid leader reporting and the resident
ordering are checked against the roster and the areas by the default policy. Medians;
the ratio of each size to the new community is the goal's (within 1.2x).

Machines here are noisy (+-20-40%): read the ratios, measured in one run, not the rates.
``--store postgres`` (or ``both``, the default: PostgreSQL is skipped, said so, when it
does not answer) runs the same on fresh schemas of
postgresql://postgres@127.0.0.1:5432/postgres.
"""

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live import pg_schema
from results import load_all, record

from resilience import Actor, CareCard, Contact, Engine, Location, ManualClock, Role, UnitSpec
from resilience.domain.policy import DEFAULT_POLICY, Policy

PG = "postgresql://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2022, 2, 15, 7, 0).astimezone()
OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)
SQUAD = Actor("p-3101", Role.SQUAD_MEMBER)
LEADER = Actor("p-lead-g1", Role.GRID_LEADER)
RESIDENT = Actor("hh-bench", Role.RESIDENT)


class PlainIncident(Aggregate):
    """The same facts as plain eventsourcing would record them: no validation, its own
    mapper and recorder."""

    @event("Reported")
    def __init__(self, occurred_at: datetime, incident_type: str, building: str,
                 description: str) -> None:
        self.occurred_at = occurred_at
        self.notes: list[str] = []
        self.responders: list[str] = []

    @event("Dispatched")
    def dispatch(self, occurred_at: datetime, person_id: str) -> None:
        self.responders.append(person_id)

    @event("Acted")
    def act(self, occurred_at: datetime, person_id: str, action: str, description: str) -> None:
        self.notes.append(action)


def _plan(actions: int, incidents: int) -> list[tuple[int, int]]:
    """(incident index, step) pairs, round-robin so each save hits a warm, growing aggregate."""
    per = max(actions // incidents, 1)
    return [(i, step) for step in range(per) for i in range(incidents)][:actions]


# Stores --------------------------------------------------------------------------------


@contextmanager
def fresh_store(kind: str, name: str) -> Iterator[str]:
    """A fresh store's URL (a SQLite file, a PostgreSQL schema), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / f'{name}.db'}"
        return
    with pg_schema(PG, f"bench_cmd_{name}") as url:
        yield url


def plain_env(url: str, cached: bool) -> dict[str, str]:
    """Plain eventsourcing's settings for the store at ``url`` (the engine's own URL)."""
    if url.startswith("sqlite:///"):
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": url.removeprefix("sqlite:///")}
    else:
        schema = url.rpartition("schema=")[2]
        env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": "postgres",
               "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "5432",
               "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "",
               "POSTGRES_SCHEMA": schema}
    if cached:
        env["AGGREGATE_CACHE_MAXSIZE"] = "10000"
    return env


def postgres_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG, connect_timeout=3):
            return True
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc}")
        return False


# The sides -------------------------------------------------------------------------------


class EngineSide:
    """The engine recording actions (one command per transaction, or batches)."""

    def __init__(self, url: str, policy: Policy | None, importing: bool = False) -> None:
        self.clock = ManualClock(T0)
        self.engine = Engine(url, clock=self.clock, policy=policy, fresh_views=False)
        engine = self.engine
        on_duty = T0 - timedelta(days=1)
        self.community = engine.communities.register(
            district="Bench", subdistrict="Bench", name="Bench", actor=OFFICE,
            occurred_at=on_duty).aggregate_id
        engine.communities.add_grid(self.community, "g1", actor=OFFICE, occurred_at=on_duty)
        engine.communities.add_building(self.community, "b1", "g1", [UnitSpec("1", 10)],
                                        actor=OFFICE, occurred_at=on_duty)
        engine.communities.enrol(self.community, SQUAD.person_id, "Li", actor=OFFICE,
                                 occurred_at=on_duty)
        engine.communities.assign_role(self.community, SQUAD.person_id, Role.SQUAD_MEMBER,
                                       actor=OFFICE, occurred_at=on_duty)
        self.ids: dict[int, UUID] = {}
        # An import (a scenario file, a simulation): the community's staff vouches for it.
        self.recorder = engine.importing(OFFICE) if importing else engine

    def commands(self, actions: list[tuple[int, int]]) -> int:
        engine, done = self.engine, 0
        for index, step in actions:
            at = T0 + timedelta(seconds=step)
            if step == 0:
                self.ids[index] = engine.incidents.report(
                    self.community, incident_type="fire", severity="low",
                    location=Location(building="b1"), description="bench",
                    actor=OFFICE, occurred_at=at, channel=None).aggregate_id
                engine.incidents.dispatch(self.ids[index], [SQUAD.person_id], actor=OFFICE,
                                          occurred_at=at)
                done += 2
            else:
                engine.incidents.take_action(self.ids[index], "other", f"step {step}",
                                             actor=SQUAD, occurred_at=at)
                done += 1
        return done

    def bulk(self, day: int, incidents: int, actions: int) -> int:
        engine, events = self.recorder, 0
        start = T0 + timedelta(days=day)
        with engine.batch() as batch:
            for i in range(incidents):
                at = start + timedelta(minutes=i)
                incident = engine.incidents.report(
                    self.community, incident_type="fire", severity="low",
                    location=Location(building="b1"), description="bench", actor=OFFICE,
                    occurred_at=at, channel=None).aggregate_id
                engine.incidents.dispatch(incident, [SQUAD.person_id], actor=OFFICE,
                                          occurred_at=at)
                for step in range(actions):
                    engine.incidents.take_action(incident, "other", f"step {step}",
                                                 actor=SQUAD,
                                                 occurred_at=at + timedelta(seconds=step))
        events = batch.events_recorded
        return events

    def close(self) -> None:
        self.engine.close()


class PlainSide:
    """Plain eventsourcing recording the same facts: ``mode`` save (aggregates kept in
    memory), load (``repository.get`` before each command) or cached (the same through
    eventsourcing's aggregate cache)."""

    def __init__(self, url: str, mode: str) -> None:
        self.mode = mode
        self.app = Application[UUID](env=plain_env(url, cached=mode == "cached"))
        self.aggregates: dict[int, PlainIncident] = {}

    def commands(self, actions: list[tuple[int, int]]) -> int:
        app, done = self.app, 0
        for index, step in actions:
            at = T0 + timedelta(seconds=step)
            if step == 0:
                incident = PlainIncident(at, "fire", "b1", "bench")
                app.save(incident)
                if self.mode != "save":
                    incident = app.repository.get(incident.id)
                incident.dispatch(at, SQUAD.person_id)
                app.save(incident)
                done += 2
            else:
                incident = self.aggregates[index]
                if self.mode != "save":
                    incident = app.repository.get(incident.id)
                incident.act(at, SQUAD.person_id, "other", f"step {step}")
                app.save(incident)
                done += 1
            self.aggregates[index] = incident
        return done

    def bulk(self, day: int, incidents: int, actions: int) -> int:
        start = T0 + timedelta(days=day)
        made = []
        for i in range(incidents):
            at = start + timedelta(minutes=i)
            incident = PlainIncident(at, "fire", "b1", "bench")
            incident.dispatch(at, SQUAD.person_id)
            for step in range(actions):
                incident.act(at + timedelta(seconds=step), SQUAD.person_id, "other",
                             f"step {step}")
            made.append(incident)
        return len(self.app.save(*made))

    def close(self) -> None:
        self.app.close()


Side = EngineSide | PlainSide
COMMAND_MODES: dict[str, Callable[[str], Side]] = {
    "engine": lambda url: EngineSide(url, DEFAULT_POLICY),
    "engine, no policy": lambda url: EngineSide(url, None),
    "plain, save only": lambda url: PlainSide(url, "save"),
    "plain, cached": lambda url: PlainSide(url, "cached"),
    "plain, load+save": lambda url: PlainSide(url, "load"),
}
BULK_MODES: dict[str, Callable[[str], Side]] = {
    "engine.batch()": lambda url: EngineSide(url, DEFAULT_POLICY),
    "engine.importing().batch()": lambda url: EngineSide(url, DEFAULT_POLICY, importing=True),
    "engine.batch(), no policy": lambda url: EngineSide(url, None),
    "plain, one save": lambda url: PlainSide(url, "save"),
}


def paired(kind: str, modes: dict[str, Callable[[str], Side]], turns: int,
           turn: Callable[[Side, int], int]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Each mode on a fresh store of its own; ``turn(side, k)`` for every mode, turn after
    turn, in a rotating order, a garbage collection before each: (events/s of each mode
    over all turns, each mode's seconds per turn)."""
    names = list(modes)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    events = dict.fromkeys(names, 0)
    with ExitStack() as stack:
        sides: dict[str, Side] = {}
        for name in names:
            url = stack.enter_context(fresh_store(kind, name.split(",")[0].replace(".", "")
                                                  .replace("(", "").replace(")", "")))
            side = modes[name](url)
            stack.callback(side.close)
            sides[name] = side
        for k in range(turns):
            for name in names[k % len(names):] + names[:k % len(names)]:
                gc.collect()
                started = time.perf_counter()
                events[name] += turn(sides[name], k)
                seconds[name].append(time.perf_counter() - started)
    return {n: events[n] / sum(seconds[n]) for n in names}, seconds


def ratios(seconds: dict[str, list[float]], mode: str, baseline: str) -> list[float]:
    """Per turn: the baseline's time over the mode's (both did the same work)."""
    return [b / m for m, b in zip(seconds[mode], seconds[baseline], strict=True)]


def _quartiles(values: list[float]) -> str:
    low, _, high = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return f"{low:.2f}-{high:.2f}"


def commands_one_at_a_time(kind: str, args: argparse.Namespace) -> dict[str, float]:
    plan = _plan(args.actions, args.incidents)
    chunks = [plan[i:i + args.chunk] for i in range(0, len(plan), args.chunk)]
    turns = chunks * args.repeat
    rates, seconds = paired(kind, COMMAND_MODES, len(turns),
                            lambda side, k: side.commands(turns[k]))
    print(f"{kind}: {len(plan):,} incident actions over {args.incidents} incidents x "
          f"{args.repeat}, one command per transaction, in turns of {args.chunk}")
    for name, rate in rates.items():
        print(f"  {name:22} {rate:9,.0f} commands/s")
    found = {}
    for baseline, floor in (("plain, save only", "the floor (goal >= 0.8)"),
                            ("plain, cached", "plain with its own aggregate cache"),
                            ("plain, load+save", "plain reloading each aggregate")):
        for mode in ("engine", "engine, no policy"):
            r = ratios(seconds, mode, baseline)
            found[f"{mode} / {baseline}"] = statistics.median(r)
            print(f"  ratio {mode:17} / {baseline:16} median {statistics.median(r):4.2f} "
                  f"(quartiles {_quartiles(r)})  against {floor}")
    return found


def bulk(kind: str, args: argparse.Namespace) -> dict[str, float]:
    incidents, actions = 20, 48  # 20 x (report + dispatch + 48 actions) = 1,000 events
    rates, seconds = paired(kind, BULK_MODES, args.bulk_chunks,
                            lambda side, k: side.bulk(k, incidents, actions))
    print(f"{kind}: bulk, {args.bulk_chunks} chunks of {incidents * (2 + actions):,} events "
          "(a day's new incidents) in one transaction each")
    for name, rate in rates.items():
        print(f"  {name:26} {rate:9,.0f} events/s")
    found = {}
    for mode in ("engine.batch()", "engine.importing().batch()", "engine.batch(), no policy"):
        r = ratios(seconds, mode, "plain, one save")
        found[mode] = statistics.median(r)
        print(f"  ratio {mode:26} / plain, one save  median {statistics.median(r):4.2f} "
              f"(quartiles {_quartiles(r)})  against the floor (goal >= 0.9)")
    return found


# A command against the size of its community --------------------------------------------


def grow_community(url: str, facts: int) -> UUID:
    """A community (staff, grids, buildings, a roster of 40) with about ``facts`` facts of
    its own, recorded in batches (no policy: this is the set-up, not what is measured)."""
    start = T0 - timedelta(days=3650)
    clock = ManualClock(start)
    with Engine(url, clock=clock, policy=None, fresh_views=False) as engine:
        c = engine.communities
        community = c.register(district="Bench", subdistrict="Bench", name="History",
                               actor=OFFICE, occurred_at=start).aggregate_id
        at = start
        with engine.batch():
            for g in range(1, 5):
                c.add_grid(community, f"g{g}", actor=OFFICE, occurred_at=at)
                for b in range(1, 7):
                    c.add_building(community, f"g{g}-b{b}", f"g{g}",
                                   [UnitSpec("1", 12), UnitSpec("2", 12)], actor=OFFICE,
                                   occurred_at=at)
            c.add_building(community, "b1", "g1", [UnitSpec("1", 10)], actor=OFFICE,
                           occurred_at=at)
            c.enrol(community, LEADER.person_id, "Lead", actor=OFFICE, occurred_at=at)
            c.assign_role(community, LEADER.person_id, Role.GRID_LEADER, "g1", actor=OFFICE,
                          occurred_at=at)
            for p in range(40):
                c.enrol(community, f"p{p}", f"Person {p}", "13800000000", ["first aid"],
                        actor=OFFICE, occurred_at=at)
                role = (Role.SQUAD_MEMBER, Role.VOLUNTEER)[p % 2]
                c.assign_role(community, f"p{p}", role, actor=OFFICE, occurred_at=at)
        recorded = engine.communities.get(community).version
        step = timedelta(seconds=max(1, 3000 * 86400 // max(facts, 1)))
        activities: list[int] = []
        on_duty = [f"p{p}" for p in range(1, 40, 2)]
        off_duty: list[str] = []
        people, i = 40, 0
        while recorded < facts:
            with engine.batch():
                for _ in range(min(2000, facts - recorded)):
                    at += step
                    clock.set(at)
                    k = i % 100
                    rota = 78 <= k < 87
                    if rota and (len(off_duty) < 3 or i % 2) and len(on_duty) > 3:
                        leaving = on_duty.pop(0)  # a volunteer relieved
                        c.relieve_role(community, leaving, Role.VOLUNTEER, actor=OFFICE,
                                       occurred_at=at)
                        off_duty.append(leaving)
                    elif rota:
                        back = off_duty.pop(0)  # and one back on the roster
                        c.assign_role(community, back, Role.VOLUNTEER, actor=OFFICE,
                                      occurred_at=at)
                        on_duty.append(back)
                    elif k < 70 or not activities:
                        receipt = c.hold_activity(community, title=f"talk {i}",
                                                  category="health", participants=10 + k,
                                                  grid=f"g{1 + i % 4}", actor=OFFICE,
                                                  occurred_at=at)
                        activities.append(receipt.last_version)
                    elif k < 78:
                        c.correct_participants(community, activities[-1], 80 + k,
                                               "recounted", actor=OFFICE, occurred_at=at)
                    elif k < 88:
                        c.enrol(community, f"p{people}", f"Person {people}", "13800000000",
                                actor=OFFICE, occurred_at=at)
                        people += 1
                    elif k < 91:
                        c.correct_time(community, activities[-1], at - step / 2, "clock",
                                       actor=OFFICE, occurred_at=at)
                    elif k < 94:
                        c.correct_details(community, activities[-1], "a health talk",
                                          "typo", actor=OFFICE, occurred_at=at)
                    elif k < 98:
                        office = Contact("Community office", "027-0000")
                        c.issue_care_card(community, f"g{1 + i % 4}", CareCard(
                            emergency_contact=office, grid_worker=office,
                            grid_leader=Contact(f"Lead {i}", "138", "p-lead-g1"),
                            community_office=office, property_management=office,
                            health_station=office), actor=OFFICE, occurred_at=at)
                    else:
                        c.classify_zone(community, f"g{1 + i % 4}-b{1 + i % 6}",
                                        ("new_build", "old_estate")[(i // 100) % 2], actor=OFFICE,
                                        occurred_at=at)
                    i += 1
            recorded = engine.communities.get(community).version
        return community


def cold_commands(kind: str, sizes: list[int], rounds: int) -> dict[int, dict[str, float]]:
    """Median ms of the first report (cold), the second (warm) and a first place, per size:
    wall time, and the process's CPU time (``cpu ...``: without the commit's wait on the
    disk, which is most of the wall time here and varies with what else uses the disk)."""
    modes = ("cold", "warm", "place")
    found: dict[int, dict[str, list[float]]] = {
        n: {m: [] for m in (*modes, *(f"cpu {m}" for m in modes))} for n in sizes}

    def timed(n: int, mode: str, command: Callable[[], object]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        command()
        found[n][mode].append((time.perf_counter() - wall) * 1000)
        found[n][f"cpu {mode}"].append((time.process_time() - cpu) * 1000)

    with ExitStack() as stack:
        urls, communities = {}, {}
        for n in sizes:
            urls[n] = stack.enter_context(fresh_store(kind, f"history{n}"))
            communities[n] = grow_community(urls[n], n)
        for r in range(rounds):
            for n in sizes[r % len(sizes):] + sizes[:r % len(sizes)]:
                at = T0 + timedelta(minutes=r)
                gc.collect()
                with Engine(urls[n], clock=ManualClock(at)) as engine:
                    def report(engine: Engine = engine, n: int = n,
                               at: datetime = at) -> object:
                        return engine.incidents.report(
                            communities[n], incident_type="fire", severity="low",
                            location=Location(building="b1", unit="1"), description="bench",
                            actor=LEADER, occurred_at=at)
                    timed(n, "cold", report)
                    timed(n, "warm", report)
                gc.collect()
                with Engine(urls[n], clock=ManualClock(at)) as engine:
                    def place(engine: Engine = engine, n: int = n,
                              at: datetime = at) -> object:
                        return engine.orders.place(
                            communities[n], household_id="hh-bench", area_id="b1/1",
                            category="home", item="repair", actor=RESIDENT, occurred_at=at)
                    timed(n, "place", place)
    medians = {n: {mode: statistics.median(v) for mode, v in found[n].items()} for n in sizes}
    print(f"{kind}: one command against the community's history, median of {rounds} "
          "fresh engines each, wall (cpu) ms, ratio to the new community (goal "
          "within 1.2x)")
    new = medians[sizes[0]]
    for n in sizes:
        m = medians[n]
        print(f"  {_size(n):>5} facts" + "".join(
            f"  {label} {m[mode]:6.2f} ({m['cpu ' + mode]:5.2f}) {m[mode] / new[mode]:4.2f}x"
            for label, mode in (("report cold", "cold"), ("warm", "warm"),
                                ("place cold", "place"))))
    return medians


def _size(n: int) -> str:
    return "new" if n == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--actions", type=int, default=3000)
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=100,
                        help="actions a mode records before the next takes its turn")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--bulk-chunks", type=int, default=24)
    parser.add_argument("--cold", type=int, default=15, help="fresh engines per size")
    parser.add_argument("--facts", default="1000,10000",
                        help="community sizes beside a new community")
    parser.add_argument("--only", choices=("bulk", "commands"),
                        help="run only that part (bulk: and update only its rows of the "
                             "recorded results; commands: one command per transaction, "
                             "recording nothing)")
    parser.add_argument("--no-record", action="store_true",
                        help="print the figures, leave benchmarks/results/ as it is")
    args = parser.parse_args(argv)
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    if "postgres" in kinds and not postgres_answers():
        kinds.remove("postgres")
    sizes = [0, *(int(n) for n in args.facts.split(","))]
    rows: dict[str, dict[str, Any]] = {}
    if args.only == "bulk":
        rows.update(load_all().get("commands", {}))  # the other parts' rows, as last run
    for kind in kinds:
        found = {} if args.only == "bulk" else commands_one_at_a_time(kind, args)
        if args.only == "commands":
            continue  # (the other parts' rows are not run: nothing is recorded)
        batched = bulk(kind, args)
        for label, value, note in (
                (f"commands ratio {kind}", found.get("engine / plain, save only"),
                 "engine (default policy) / plain eventsourcing save only, paired; the "
                 "floor; goal >= 0.8"),
                (f"commands ratio vs cached plain {kind}", found.get("engine / plain, cached"),
                 "engine / plain eventsourcing with AGGREGATE_CACHE_MAXSIZE, paired"),
                (f"bulk ratio {kind}", batched["engine.batch()"],
                 "engine.batch() (default policy, each command checked) / plain batched "
                 "save, paired; the floor; goal >= 0.9"),
                (f"bulk ratio importing {kind}", batched["engine.importing().batch()"],
                 "engine.importing(staff).batch(), as imports and simulate record / plain "
                 "batched save, paired"),
                (f"bulk ratio no policy {kind}", batched["engine.batch(), no policy"],
                 "engine.batch() with policy=None / plain batched save, paired")):
            if value is not None:
                rows[label] = {"value": round(value, 3), "unit": "x", "note": note}
        if args.only == "bulk":
            continue
        medians = cold_commands(kind, sizes, args.cold)
        suffix = "" if kind == "sqlite" else f" ({kind})"
        for n in sizes:
            at = "@new" if n == 0 else f"@{_size(n)} facts"
            for label, mode in (("report cold", "cold"), ("report warm", "warm"),
                                ("place order cold", "place")):
                m = medians[n]
                rows[f"{label} {at}{suffix}"] = {
                    "value": round(m[mode], 3), "unit": "ms",
                    "note": f"wall, median of {args.cold} fresh engines; cpu "
                            f"{m['cpu ' + mode]:.2f} ms; x{m[mode] / medians[0][mode]:.2f} "
                            "of the new community (goal <= 1.2)"}
    if not args.no_record and args.only != "commands":
        record("commands", rows)
    return rows


if __name__ == "__main__":
    main()
