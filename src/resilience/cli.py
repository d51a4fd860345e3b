"""The ``resilience`` command line: demo, replay, timeline."""

import argparse
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from resilience.engine import Engine
from resilience.errors import ResilienceError
from resilience.scenario import load_scenario, replay
from resilience.scenarios import DONGHU_FIRE
from resilience.timeline import Timeline

CONTAINMENT_TARGET = timedelta(minutes=15)


def format_timeline(timeline: Timeline, people: dict[str, str] | None = None) -> str:
    """The timeline as text: minutes since start, time, actor and role, what happened."""
    names = people or {}
    rows = []
    for entry in timeline.entries:
        who = names.get(entry.actor.person_id, entry.actor.person_id)
        role = entry.actor.role.value.replace("_", " ")
        notes = []
        delay = entry.record_delay
        if delay >= timedelta(minutes=5):
            notes.append(f"recorded {delay.total_seconds() / 60:.0f} min later")
        if entry.is_corrected and entry.occurred_at != entry.original_occurred_at:
            notes.append(f"corrected from {entry.original_occurred_at:%H:%M}")
        suffix = f"  [{'; '.join(notes)}]" if notes else ""
        rows.append(f"  +{entry.minutes:5.1f}  {entry.occurred_at:%H:%M}  "
                    f"{who} ({role}): {entry.details}{suffix}")
    return "\n".join(rows)


def _demo(args: argparse.Namespace) -> int:
    path = Path(args.db)
    # No need to start from an empty file: the replay's command ids make a
    # second run record nothing, so the demo never destroys an existing store.
    with Engine(str(path)) as engine:  # a bare path is a SQLite file
        scenario = load_scenario(DONGHU_FIRE)
        result = replay(engine, scenario)
        incident_id = result.incidents["donghu-fire"]
        incident = engine.incidents.get(incident_id)
        community = engine.communities.get(result.community_id)
        timeline = engine.timeline(incident_id)
        people = {p.person_id: p.name for p in community.people.values()}
        detected = incident.detected_at
        leader = community.holder("grid_leader", incident.location.grid or "", detected)
        print(f"{scenario.name}: {community.name}, {community.subdistrict}, {community.district}")
        print(f"Replayed {result.facts} facts into {path} (SQLite; "
              f"{result.events_recorded} recorded by this run)\n")
        print(f"Detected {detected:%Y-%m-%d %H:%M} at {incident.location}")
        print(f"Grid {incident.location.grid}'s leader then: {people.get(leader or '', leader)}\n")
        print(format_timeline(timeline, people))
        entry = timeline.first("Contained")
        print()
        if entry is None:
            print("Not contained: the 15-minute containment target cannot be graded.")
            return 1
        minutes = entry.elapsed.total_seconds() / 60
        met = entry.elapsed <= CONTAINMENT_TARGET
        print(f"Contained at {entry.occurred_at:%H:%M}, {minutes:.0f} minutes after detection: "
              f"15-minute target {'met' if met else 'MISSED'}.")
        return 0 if met else 1


def _replay(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.file)
    with Engine(args.db) as engine:
        result = replay(engine, scenario)
    print(f"{scenario.name}: {len(scenario.actions)} actions, {result.facts} facts in {args.db}, "
          f"{result.events_recorded} recorded by this run")
    print(f"community {result.community_id}")
    for key, incident in result.incidents.items():
        print(f"incident {key}: {incident}")
    for key, order in result.orders.items():
        print(f"order {key}: {order}")
    return 0


def _timeline(args: argparse.Namespace) -> int:
    with Engine(args.db) as engine:
        timeline = engine.timeline(UUID(args.id))
    print(f"start {timeline.start.isoformat()}")
    print(format_timeline(timeline))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resilience", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="replay the Donghu fire and print its timeline")
    demo.add_argument("--db", default="donghu-demo.db",
                      help="SQLite file to record into (a second run records nothing new)")
    demo.set_defaults(run=_demo)
    rep = commands.add_parser("replay", help="record a scenario file into a store")
    rep.add_argument("file")
    rep.add_argument("--db", required=True, help="SQLite file (or a store URL)")
    rep.set_defaults(run=_replay)
    tl = commands.add_parser("timeline", help="print the timeline of an incident or order")
    tl.add_argument("id")
    tl.add_argument("--db", required=True, help="SQLite file (or a store URL)")
    tl.set_defaults(run=_timeline)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ResilienceError as exc:
        print(f"resilience: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:  # a malformed UUID, a missing or unreadable file
        print(f"resilience: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
