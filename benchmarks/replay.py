"""Replay and review costs against the plain ways of getting the same answers, same run.

    python benchmarks/replay.py [--incidents N] [--db FILE] [--repeat R]

Records one community with N incidents (default 2,000; about 12 facts each,
some recorded late, some corrected) into a SQLite file, catches the views up,
then times (median of R runs):

* community replay     ``engine.replay.community(id, as_of=t)``: the roster and
                       the open incidents at a cut, from the ``cases`` view
* re-read every one    the same open incidents by replaying each of the
                       community's incidents from its own events (without the
                       view nothing says which were detected by the cut);
                       ratio = this / ours
* one incident         ``engine.replay.incident(id, as_of=t)`` against plain
                       eventsourcing ``repository.get(id)`` of the same
                       incident (no cut, no situation); ratio = plain / ours
* one review           ``engine.review(id)`` (reads the incident, its community
                       and the plans view; grades; no rendering)

The two answers of the first pair are checked equal before timing.
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from resilience import Actor, Engine, Location, ManualClock, Role, UnitSpec

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2022, 1, 1, 8, 0, tzinfo=SHANGHAI)
OFFICE = Actor("office", Role.COMMUNITY_STAFF)
LEADER = Actor("leader", Role.GRID_LEADER)


def record(engine: Engine, clock: ManualClock, incidents: int) -> tuple[Any, list[Any]]:
    with engine.batch():
        community = engine.communities.register(district="D", subdistrict="S", name="Bench",
                                                actor=OFFICE).aggregate_id
        for grid in ("1", "2", "3"):
            engine.communities.add_grid(community, grid, actor=OFFICE)
            engine.communities.add_building(community, f"b{grid}", grid, [UnitSpec("1", 40)],
                                            actor=OFFICE)
    ids = []
    for n in range(incidents):
        start = T0 + timedelta(hours=3 * n)
        clock.set(start + timedelta(minutes=1))
        with engine.batch():
            run = engine.incidents
            incident = run.report(
                community, incident_type=("fire", "gas", "medical")[n % 3], severity="high",
                location=Location(building=f"b{n % 3 + 1}"), description="smoke",
                actor=LEADER, occurred_at=start).aggregate_id
            ids.append(incident)
            run.acknowledge(incident, actor=OFFICE, occurred_at=start + timedelta(minutes=1))
            run.dispatch(incident, ["r1", "r2"], actor=OFFICE,
                         occurred_at=start + timedelta(minutes=2))
            for responder in ("r1", "r2"):
                run.en_route(incident, responder, actor=OFFICE,
                             occurred_at=start + timedelta(minutes=3))
                run.arrive(incident, responder, actor=OFFICE,
                           occurred_at=start + timedelta(minutes=5 + n % 4))
            run.take_action(incident, "residents_notified", "phoned", actor=OFFICE,
                            occurred_at=start + timedelta(minutes=4))
            contained = run.contain(incident, actor=LEADER,
                                    occurred_at=start + timedelta(minutes=8 + n % 15))
            if n % 5 == 0:
                run.correct_time(incident, contained.first_version,
                                 start + timedelta(minutes=7 + n % 15), "log", actor=OFFICE)
            if n % 7 != 0:  # some stay open
                run.resolve(incident, "out", actor=LEADER,
                            occurred_at=start + timedelta(minutes=40))
                run.close(incident, "resolved", actor=OFFICE,
                          occurred_at=start + timedelta(minutes=60))
    return community, ids


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, help="SQLite file to use (default: a temp file)")
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp()) / "replay.db"
    clock = ManualClock(T0)
    with Engine(f"sqlite:///{path}", clock=clock, policy=None) as engine:
        started = time.perf_counter()
        community, ids = record(engine, clock, args.incidents)
        events = engine.views.head
        print(f"recorded {args.incidents} incidents, {events} events in "
              f"{time.perf_counter() - started:.1f} s; views caught up "
              f"({engine.views.catch_up()} events)")
        cut = T0 + timedelta(hours=3 * (args.incidents // 2), minutes=10)

        def ours() -> tuple[str, ...]:
            return tuple(i.incident_id for i in
                         engine.replay.community(community, as_of=cut).open_incidents)

        def every_one() -> tuple[str, ...]:
            found = []
            for incident in ids:
                try:
                    situation = engine.replay.incident(incident, as_of=cut)
                except LookupError:  # not detected yet at the cut
                    continue
                if situation.is_open:
                    found.append(situation.incident_id)
            return tuple(found)

        assert ours() == every_one(), "the view and the aggregates disagree"
        print(f"{len(ours())} incidents open at the cut")
        view = median_seconds(ours, args.repeat)
        reread = median_seconds(every_one, max(1, args.repeat // 2))
        print(f"community replay from the view   {view * 1000:9.1f} ms")
        print(f"re-reading every incident         {reread * 1000:9.1f} ms   "
              f"ratio {reread / view:.1f}x")
        one = ids[len(ids) // 2]
        replay_one = median_seconds(lambda: engine.replay.incident(one, as_of=cut), 50)
        plain_get = median_seconds(lambda: engine.app.repository.get(one), 50)
        print(f"one incident replayed at a cut   {replay_one * 1000:9.2f} ms")
        print(f"plain repository.get             {plain_get * 1000:9.2f} ms   "
              f"ratio {plain_get / replay_one:.2f}")
        review = median_seconds(lambda: engine.review(one), 20)
        print(f"one incident's review            {review * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
