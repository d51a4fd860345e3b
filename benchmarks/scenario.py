"""Scenario files at scale: parse and replay time per action, and peak memory, by size.

    python benchmarks/scenario.py [--actions N] [--sizes 10000,30000,60000] [--repeat R]

Generates scenario files of incidents and service orders (a community set
up, then each incident reported, dispatched, contained, closed and each
order placed, fulfilled and rated; one entry per line, ~160 bytes each) and,
for each size, in a fresh child process so peak RSS is that run's alone:

* json.loads    the file with plain ``json.loads``: the floor for parsing
* parse         ``load_scenario`` (read, check and build every action; nothing recorded)
* replay        ``replay_file`` into a fresh SQLite file (streamed, one batch)
* API batch     the same commands called directly inside one ``engine.batch()``,
                with command ids of the same length as a scenario's implicit
                ones: the floor for replaying (the ratio replay / API batch is
                the scenario layer's own cost)

The smaller sizes run ``--repeat`` times, the modes taking turns, and show
the median. Per-action times that stay flat as the size grows show linear
time: the ratio time(60k) / time(10k) should be near 6, not 36. Goal: the largest
file (default 330,000 actions) replayed in under a minute, its peak RSS
bounded by what one batch holds rather than by the file.
Machines here are noisy: read ratios, not absolute rates.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record

from resilience import Actor, Engine
from resilience.adapters.converter import input_converter
from resilience.domain.values import Location, Provider, UnitSpec
from resilience.scenario import SCENARIO_IMPORTER, load_scenario, replay_file
from resilience.services.incidents import incident_id_for
from resilience.services.orders import order_id_for

T0 = datetime(2022, 3, 1, 8, 0)
ZONE = ZoneInfo("Asia/Shanghai")
OFFICE = {"actor": "office", "as": "community_staff"}
LEADER = {"actor": "leader", "as": "grid_leader"}
SQUAD = {"actor": "p-3101", "as": "squad_member"}
KITCHEN = {"actor": "kitchen", "as": "provider"}
VALUES: dict[str, Any] = {"location": Location, "provider": Provider,
                          "units": tuple[UnitSpec, ...]}
Spec = tuple[dict[str, Any], dict[str, Any]]
"""An entry's own keys (do, at, actor, as, target) and its command's arguments."""


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def specs(count: int) -> Iterator[Spec]:
    """``count`` entries: the community's setup, then incident and order lives in turn."""
    setup: list[Spec] = [
        ({"do": "register", **OFFICE}, {}),
        ({"do": "add_grid", **OFFICE}, {"grid_id": "1", "name": "Grid 1"}),
        ({"do": "add_building", **OFFICE},
         {"building_id": "b1", "parent": "1", "units": [{"unit_id": "1", "households": 40}]}),
        ({"do": "enrol", **OFFICE}, {"person_id": "leader", "name": "Zhang"}),
        ({"do": "assign_role", **OFFICE},
         {"person_id": "leader", "role": "grid_leader", "scope": "1"}),
    ]
    made = 0
    for own, arguments in setup:
        if made == count:
            return
        yield {**own, "at": _at(0)}, arguments
        made += 1
    block = 0
    while True:
        incident, order, start = f"fire-{block}", f"meal-{block}", 60 + block
        life: list[tuple[int, Spec]] = [
            (0, ({"do": "report", "incident": incident, **LEADER},
                 {"incident_type": "fire", "severity": "low", "description": "smoke in unit 1",
                  "location": {"building": "b1", "unit": "1"}})),
            (1, ({"do": "acknowledge", "incident": incident, **OFFICE}, {})),
            (2, ({"do": "dispatch", "incident": incident, **OFFICE},
                 {"responder_ids": ["p-3101"], "team": "squad", "task": "extinguishers"})),
            (3, ({"do": "en_route", "incident": incident, **SQUAD}, {"responder_id": "p-3101"})),
            (6, ({"do": "arrive", "incident": incident, **SQUAD}, {"responder_id": "p-3101"})),
            (7, ({"do": "take_action", "incident": incident, **SQUAD},
                 {"action": "suppression", "description": "one extinguisher"})),
            (9, ({"do": "contain", "incident": incident, **LEADER}, {"description": "out"})),
            (20, ({"do": "resolve", "incident": incident, **LEADER}, {"summary": "no damage"})),
            (30, ({"do": "close", "incident": incident, **OFFICE}, {"reason": "resolved"})),
            (0, ({"do": "place", "order": order, "actor": f"res-{block}", "as": "resident"},
                 {"household_id": f"hh-{block}", "area_id": "b1/1", "category": "meals",
                  "item": "meal_delivery"})),
            (5, ({"do": "accept", "order": order, **OFFICE}, {})),
            (6, ({"do": "dispatch", "order": order, **OFFICE},
                 {"provider": {"kind": "social_organisation", "provider_id": "kitchen"}})),
            (30, ({"do": "start", "order": order, **KITCHEN}, {})),
            (60, ({"do": "complete", "order": order, **KITCHEN}, {"outcome": "fixed"})),
            (90, ({"do": "rate", "order": order, "actor": f"res-{block}", "as": "resident"},
                  {"score": 5})),
        ]
        for offset, (own, arguments) in life:
            if made == count:
                return
            yield {**own, "at": _at(start + offset)}, arguments
            made += 1
        block += 1


def write_file(path: Path, count: int) -> int:
    """Write a scenario of ``count`` actions, one per line; its size in bytes."""
    with path.open("w", encoding="utf-8") as out:
        out.write('{\n  "format": "resilience.scenario",\n  "version": 1,\n'
                  f'  "name": "bench-{count}",\n  "timezone": "Asia/Shanghai",\n'
                  '  "community": {"district": "Bench", "subdistrict": "Bench", '
                  '"name": "Bench"},\n  "actions": [\n')
        for number, (own, arguments) in enumerate(specs(count)):
            out.write(("" if number == 0 else ",\n") + "    "
                      + json.dumps({**own, **arguments}, separators=(", ", ": ")))
        out.write("\n  ]\n}\n")
    return path.stat().st_size


def api_batch(engine: Engine, count: int) -> int:
    """The same commands, called directly in one batch (the floor): events recorded."""
    community: UUID | None = None
    with engine.batch() as batch:
        for number, (own, arguments) in enumerate(specs(count)):
            own = dict(own)
            do, at = own.pop("do"), datetime.fromisoformat(own.pop("at")).replace(tzinfo=ZONE)
            actor = Actor(own.pop("actor"), own.pop("as"))
            kwargs = {name: input_converter.structure(value, VALUES[name])
                      if name in VALUES else value for name, value in arguments.items()}
            # Command ids like a scenario's implicit ones, so both sides keep them.
            kwargs.update(actor=actor, occurred_at=at,
                          command_id=f"scenario/bench-{count}/{number:020x}/1")
            if do == "register":
                community = engine.communities.register(
                    district="Bench", subdistrict="Bench", name="Bench", **kwargs).aggregate_id
                continue
            assert community is not None
            if "incident" in own:
                key = incident_id_for(community, own["incident"])
                if do == "report":
                    engine.incidents.report(community, incident_id=key, **kwargs)
                else:
                    getattr(engine.incidents, do)(key, **kwargs)
            elif "order" in own:
                key = order_id_for(community, own["order"])
                if do == "place":
                    engine.orders.place(community, order_id=key, **kwargs)
                else:
                    getattr(engine.orders, do)(key, **kwargs)
            else:
                getattr(engine.communities, do)(community, **kwargs)
    return batch.events_recorded


def child(mode: str, path: Path, count: int) -> dict[str, Any]:
    """One measurement, in a process of its own: seconds, events, peak RSS in MiB."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    events = 0
    started = time.perf_counter()
    if mode == "parse":
        scenario = load_scenario(path)
        assert len(scenario.actions) == count
    elif mode == "json":
        document = json.loads(path.read_text(encoding="utf-8"))
        assert len(document["actions"]) == count
    else:
        with Engine(f"sqlite:///{path.with_suffix(f'.{mode}.db')}") as engine:
            if mode == "replay":
                result = replay_file(engine, path)
                assert len(result.receipts) == count
                events = result.events_recorded
            else:
                # As the replay records them: imported (no per-actor check), so the two
                # modes differ only in reading the file.
                events = api_batch(engine.importing(SCENARIO_IMPORTER), count)
            assert events >= count, "the store was not fresh"
    seconds = time.perf_counter() - started
    for leftover in path.parent.glob(f"{path.stem}.*.db*"):  # and its -wal, -shm
        leftover.unlink()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "events": events, "peak_mib": peak / 1024,
            "start_mib": before / 1024}


def measure(mode: str, path: Path, count: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(path), str(count)],
                         check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


MODES = ("json", "parse", "replay", "api")


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time (its peak RSS with it)."""
    return sorted(runs, key=lambda r: float(r["seconds"]))[len(runs) // 2]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--actions", type=int, default=330_000,
                        help="the largest file's actions (default 330,000)")
    parser.add_argument("--sizes", default="10000,30000,60000",
                        help="smaller sizes, to show time per action stays flat")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each smaller size (median shown); the largest runs once")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, path, count = args.child
        print(json.dumps(child(mode, Path(path), int(count))))
        return {}
    sizes = sorted({int(s) for s in args.sizes.split(",") if s} | {args.actions})
    results: dict[str, Any] = {}
    print("scenario files of incidents and orders; SQLite file; one child process per figure")
    print(f"{'actions':>8} {'MB':>6} {'json.loads':>11} {'parse':>9} {'replay':>9} "
          f"{'API batch':>10} {'replay/API':>10} {'events':>8} {'peak RSS MiB':>13}")
    print(f"{'':>8} {'':>6} {'us/action':>11} {'us/action':>9} {'us/action':>9} "
          f"{'us/action':>10} {'':>10} {'':>8} {'replay / API':>13}")
    with tempfile.TemporaryDirectory() as folder:
        for count in sizes:
            path = Path(folder) / f"bench-{count}.json"
            size = write_file(path, count)
            runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
            for _ in range(args.repeat if count < sizes[-1] else 1):
                for mode in MODES:  # paired: each round measures every mode once
                    runs[mode].append(measure(mode, path, count))
            row = {mode: median_run(found) for mode, found in runs.items()}
            path.unlink()
            results[str(count)] = row
            per = {mode: row[mode]["seconds"] / count * 1e6 for mode in row}
            print(f"{count:8,} {size / 1e6:6.1f} {per['json']:11.1f} {per['parse']:9.1f} "
                  f"{per['replay']:9.1f} {per['api']:10.1f} "
                  f"{per['replay'] / per['api']:10.2f} {row['replay']['events']:8,} "
                  f"{row['replay']['peak_mib']:6.0f} /{row['api']['peak_mib']:5.0f}")
    smallest, largest = str(sizes[0]), str(sizes[-1])
    for mode, label in (("parse", "parse"), ("replay", "replay"), ("api", "API batch")):
        base = results[smallest][mode]["seconds"]
        ratios = ", ".join(
            f"{int(c) // 1000}k: {results[c][mode]['seconds'] / base:.1f}"
            f" (linear {int(c) / int(smallest):.0f})" for c in results if c != smallest)
        print(f"time / time({int(smallest) // 1000}k), {label:9}  {ratios}")
    replayed = results[largest]["replay"]
    print(f"largest file: {int(largest):,} actions replayed in {replayed['seconds']:.1f} s "
          f"(goal < 60 s), peak RSS {replayed['peak_mib']:.0f} MiB; the same commands "
          f"in one API batch: {results[largest]['api']['peak_mib']:.0f} MiB; load_scenario "
          f"(every action held): {results[largest]['parse']['peak_mib']:.0f} MiB")
    api = results[largest]["api"]
    record("scenario", {
        f"scenario replay of {int(largest):,} actions": {
            "value": round(replayed["seconds"], 2), "unit": "s",
            "note": f"{replayed['events']:,} events; goal < 60 s"},
        f"scenario replay / API batch, {int(largest):,} actions": {
            "value": round(replayed["seconds"] / api["seconds"], 3), "unit": "x",
            "note": "the scenario layer's own cost (1.00: free)"},
        f"scenario replay peak RSS, {int(largest):,} actions": {
            "value": round(replayed["peak_mib"]), "unit": "MiB",
            "note": f"the same commands in one API batch: {api['peak_mib']:.0f} MiB"}})
    return results


if __name__ == "__main__":
    main()
