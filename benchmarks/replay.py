"""Replay and review costs against the plain ways of getting the same answers, same run.

    python benchmarks/replay.py [--incidents N] [--db FILE] [--repeat R] [--facts F]
                                [--p5-repeat P] [--no-record]

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
* P5                   one incident of ``--facts`` facts (default 1,000: a long
                       response, responders dispatched in waves, en route and on
                       scene, actions and notes, some recorded late or corrected)
                       replayed at a cut in its middle,
                       ``engine.replay.incident(id, as_of=cut)`` (goal < 15 ms),
                       beside reading and decoding its events alone
                       (``app.events.get``, the app's mapper), and beside the
                       same replay with its document folded by
                       ``stored_case_doc`` (the fast decode of
                       resilience.adapters.decoded): medians of ``--p5-repeat``
                       runs, paired run by run.

The two answers of the first pair are checked equal before timing. The P5 rows are
recorded as ``replay`` (benchmarks/results.py) unless ``--no-record``.
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results

from resilience import Actor, Engine, Location, ManualClock, Role, UnitSpec
from resilience.domain.incident import Incident
from resilience.review.situations import IncidentSituation, incident_situation, stored_case_doc
from resilience.services.point_in_time import Cut

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


def long_incident(engine: Engine, clock: ManualClock, community: Any, facts: int,
                  start: datetime) -> tuple[Any, datetime]:
    """One incident of about ``facts`` facts (see the module docstring), and a cut in the
    middle of its response."""
    run = engine.incidents
    recorded = [start]

    def at(occurred: datetime, late: timedelta = timedelta(seconds=30)) -> datetime:
        """``occurred``, with the clock at its recording (never back: a late record
        pushes the facts after it later too)."""
        recorded[0] = max(recorded[0], occurred + late)
        clock.set(recorded[0])
        return occurred

    with engine.batch():
        incident = run.report(community, incident_type="fire", severity="critical",
                              location=Location(building="b1"), description="warehouse fire",
                              actor=LEADER, occurred_at=at(start)).aggregate_id
        run.acknowledge(incident, actor=OFFICE, occurred_at=at(start + timedelta(minutes=1)))
        when, wave = start + timedelta(minutes=2), 0
        while wave * 19 < facts - 10:  # 19 facts a wave, 10 besides
            responders = [f"w{wave}-r{i}" for i in range(5)]
            run.dispatch(incident, responders, team=f"wave {wave}", actor=OFFICE,
                         occurred_at=at(when))
            for responder in responders:
                run.en_route(incident, responder, actor=OFFICE,
                             occurred_at=at(when + timedelta(minutes=1)))
            for responder in responders:
                run.arrive(incident, responder, actor=OFFICE,
                           occurred_at=at(when + timedelta(minutes=4)))
            for action in ("suppression", "residents_notified", "evacuation"):
                run.take_action(incident, action, f"{action} (wave {wave})", ("hose",),
                                actor=LEADER, occurred_at=at(when + timedelta(minutes=5)))
            late = timedelta(minutes=45) if wave % 10 == 9 else timedelta(seconds=30)
            run.add_note(incident, f"wave {wave} in", actor=OFFICE,
                         occurred_at=at(when + timedelta(minutes=6), late))
            when += timedelta(minutes=10)
            wave += 1
        contained = run.contain(incident, actor=LEADER, occurred_at=at(when))
        run.correct_time(incident, contained.first_version, when - timedelta(minutes=3),
                         "radio log", actor=OFFICE, occurred_at=at(when + timedelta(minutes=1)))
        run.resolve(incident, "out", actor=LEADER, occurred_at=at(when + timedelta(minutes=30)))
        run.close(incident, "resolved", actor=OFFICE,
                  occurred_at=at(when + timedelta(minutes=60)))
    return incident, start + (when - start) / 2


def paired_medians(first: Callable[[], object], second: Callable[[], object],
                   repeat: int) -> tuple[float, float]:
    """Median seconds of each, run in turns (A B A B)."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        for run, times in ((first, a), (second, b)):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
    return statistics.median(a), statistics.median(b)


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
    parser.add_argument("--facts", type=int, default=1000,
                        help="facts of P5's incident (0: skip P5)")
    parser.add_argument("--p5-repeat", type=int, default=200)
    parser.add_argument("--no-record", action="store_true",
                        help="don't write benchmarks/results/replay.json")
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
        if args.facts > 0:
            p5(engine, clock, community, args)


def p5(engine: Engine, clock: ManualClock, community: Any, args: argparse.Namespace) -> None:
    """P5: one long incident replayed at a cut, beside reading and decoding its events."""
    start = T0 + timedelta(hours=3 * args.incidents + 24)
    incident, cut = long_incident(engine, clock, community, args.facts, start)
    facts = len(list(engine.app.events.get(incident)))
    situation = engine.replay.incident(incident, as_of=cut)
    assert situation.is_open, "the cut is mid-response"
    read_decode, replay = paired_medians(lambda: list(engine.app.events.get(incident)),
                                         lambda: engine.replay.incident(incident, as_of=cut),
                                         args.p5_repeat)
    recorder, deliveries = engine.app.recorder, engine.views.deliveries

    def from_stored() -> IncidentSituation:
        """What replay.incident computes, its document folded by ``stored_case_doc``."""
        doc = stored_case_doc(recorder, deliveries, incident, Incident)
        case = Cut.of(cut, None).case(str(incident), doc)
        assert case is not None
        return incident_situation(case)

    assert from_stored() == situation
    _, stored = paired_medians(lambda: None, from_stored, args.p5_repeat)
    print(f"P5: one incident of {facts:,} facts, replayed at a cut mid-response "
          f"(median of {args.p5_repeat}, paired)")
    print(f"  replay.incident(id, as_of=cut)  {replay * 1000:9.2f} ms   (goal < 15 ms)")
    print(f"  read + decode its events alone  {read_decode * 1000:9.2f} ms   "
          f"(app.events.get, the app's mapper)")
    print(f"  the same, via stored_case_doc   {stored * 1000:9.2f} ms   "
          "(its document folded from the fast decode)")
    if not args.no_record:
        path = results.record("replay", {
            "P5 incident of 1,000 facts at a cut": {
                "value": round(replay * 1000, 2), "unit": "ms",
                "note": f"{facts:,} facts, median of {args.p5_repeat}; goal < 15 ms"},
            "P5 read+decode alone": {
                "value": round(read_decode * 1000, 2), "unit": "ms",
                "note": "app.events.get of the same incident, paired run by run"},
            "P5 via stored_case_doc": {
                "value": round(stored * 1000, 2), "unit": "ms",
                "note": "the same replay folded from stored_case_doc (fast decode)"},
        })
        print(f"  recorded in {path}")


if __name__ == "__main__":
    main()
