"""What a tick of the watch costs as the history grows: it should not grow with it.

    python benchmarks/deadlines.py [--sizes 1000 10000] [--open N] [--repeat R] [--db DIR]

For each size, records into a fresh SQLite file one community with that many closed
incidents of history (each reported and closed as a false alarm) and ``--open`` (default
20) incidents still open, catches the views up, runs one tick (which raises what is
due), then times (median of R runs):

* tick            ``engine.tick()`` when nothing new is due: the open cases read from
                  the live view and each checked against its deadlines; the ratio to
                  the smallest size should stay about 1
* read them all   what a watch without the live view would do: load every incident
                  and look at it (ratio to ours)

Figures are printed, not asserted: tests/test_deadlines_scale.py proves a tick reads only
the open cases.
"""

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay import median_seconds
from results import record as record_results

from resilience import Actor, Engine, Location, ManualClock, Role

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2022, 1, 1, 8, 0, tzinfo=SHANGHAI)
OFFICE = Actor("office", Role.COMMUNITY_STAFF)
LEADER = Actor("leader", Role.GRID_LEADER)
PAGE = 1000


def record(engine: Engine, clock: ManualClock, closed: int, open_: int) -> list[Any]:
    """The community, ``closed`` closed incidents a minute apart, then ``open_`` open ones;
    the ids of all of them."""
    with engine.batch():
        community = engine.communities.register(district="D", subdistrict="S", name="Bench",
                                                actor=OFFICE).aggregate_id
        engine.communities.add_grid(community, "1", actor=OFFICE)
    ids = []
    for first in range(0, closed + open_, PAGE):
        with engine.batch():
            for n in range(first, min(first + PAGE, closed + open_)):
                start = T0 + timedelta(minutes=n)
                clock.set(start)
                incident = engine.incidents.report(
                    community, incident_type="fire", severity="high",
                    location=Location(grid="1"), description="smoke", actor=LEADER,
                    occurred_at=start).aggregate_id
                if n < closed:
                    engine.incidents.close(incident, "false_alarm", actor=OFFICE,
                                           occurred_at=start + timedelta(seconds=30))
                ids.append(incident)
    return ids


def measure(directory: Path, closed: int, open_: int, repeat: int,
            read_all: bool) -> tuple[float, float | None, float]:
    clock = ManualClock(T0)
    path = directory / f"deadlines-{closed}.db"
    with Engine(f"sqlite:///{path}", clock=clock, policy=None) as engine:
        started = time.perf_counter()
        ids = record(engine, clock, closed, open_)
        recorded = time.perf_counter() - started
        engine.views.catch_up()
        clock.advance(timedelta(hours=1))
        first = engine.tick()
        assert first.examined == open_, first.examined
        assert len(first.raised) == 5 * open_, len(first.raised)
        ours = median_seconds(lambda: engine.tick(), repeat)

        def every() -> None:
            for incident in ids:
                engine.incidents.get(incident)

        plain = median_seconds(every, max(1, repeat // 5)) if read_all else None
    return ours, plain, recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--open", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--db", help="directory for the SQLite files (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(args.db or scratch)
        print(f"{'closed':>8} {'open':>5} {'tick ms':>9} {'ratio':>6} "
              f"{'read all ms':>12} {'ours x':>7}   (recorded in)")
        base = None
        rows: dict[str, dict[str, Any]] = {}
        for size in args.sizes:
            ours, plain, recorded = measure(directory, size, args.open, args.repeat,
                                            read_all=size <= 10_000)
            base = base or ours
            rows[f"tick @{size:,} closed incidents"] = {
                "value": round(ours * 1000, 3), "unit": "ms",
                "note": f"{args.open} open; {ours / base:.2f}x the smallest size"
                        + ("" if plain is None else f"; reading them all {plain * 1000:.0f} ms")}
            shown = "-" if plain is None else f"{plain * 1000:12.1f}"
            faster = "-" if plain is None else f"{plain / ours:7.0f}"
            print(f"{size:>8,} {args.open:>5} {ours * 1000:9.2f} {ours / base:6.2f} "
                  f"{shown:>12} {faster:>7}   ({recorded:.0f} s)")
    record_results("deadlines", rows)


if __name__ == "__main__":
    main()
