"""Subcommand: simulate (issue 14): record a seeded, realistic district into a store.

``resilience simulate [--db URL] --communities N --incidents K --orders M --days D --seed S``
records the history :func:`resilience.simulation.simulate` plans (docs/simulate.md),
drawing its progress on stderr: on a terminal, one bar redrawn in place with the events
per second and the time left; otherwise (a log, a pipe) a line each tenth of the way;
nothing with ``--quiet``. What was recorded is summed up on stdout.

Every text a person reads is in ``TEXT``, one place, so the module can be translated
(each template passed through gettext) without touching its logic.
"""

import argparse
import sys
import time as timer
from datetime import timedelta

from resilience.adapters.store import redacted
from resilience.cli.common import Command, Progress, _moment
from resilience.engine import Engine
from resilience.simulation import CHINA_STANDARD_TIME, CityPlan, Simulated, simulate
from resilience.simulation.city import name_community

DEFAULTS = CityPlan()

TEXT = {
    "help": "record a seeded, realistic district (communities, grids, rosters, a year of "
            "incidents, service orders and activities, with late records, corrections and "
            "reopenings) into a store, for trying the library out and for benchmarks",
    "communities": "communities in the district (default {default})",
    "grids": "grids per community (default {default})",
    "buildings": "buildings per grid (default {default})",
    "incidents": "incidents per community over the period (default {default})",
    "orders": "residents' service orders per community over the period (default {default})",
    "activities": "activities per community over the period (default {default})",
    "days": "length of the period in days (default {default})",
    "start": "first moment of the period, ISO date-time (default {default}; without an "
             "offset: UTC+08:00)",
    "seed": "picks one history among those the plan allows; the same seed gives the same "
            "facts (default {default})",
    "batch_events": "about how many facts each transaction records (default {default})",
    "quiet": "draw no progress on stderr (the summary is still printed)",
    "project": "then bring the views up to date (the first report would do it otherwise)",
    "simulating": "simulate",
    "views": "views",
    "summary": "Simulated {communities:,} communit{ies} of {district}, {start} to {end}: "
               "{events:,} events in {seconds:.1f} s ({rate:,.0f} events/s) into {store}",
    "tally": "  {incidents:,} incidents, {orders:,} service orders, {activities:,} activities",
    "community": "community {id}: {name}, {subdistrict}",
    "more": "... and {count:,} more communities",
    "projected": "Views up to date: {events:,} events folded in {seconds:.1f} s",
    "interrupted": "resilience: simulate interrupted: the batches recorded before stay in "
                   "{store} (a part of the district); simulate again into a fresh store",
}
"""Every text this subcommand shows: str.format templates, by name."""

LISTED = 10
"""Communities listed by id in the summary (the rest are counted)."""


def register(command: Command) -> None:
    """Add the ``simulate`` subcommand (see Command)."""
    sub = command("simulate", TEXT["help"], _simulate, db_required=False)
    for name in ("communities", "grids", "buildings", "incidents", "orders", "activities",
                 "days", "seed"):
        sub.add_argument(f"--{name}", type=int, default=getattr(DEFAULTS, name),
                         metavar="N", help=TEXT[name].format(default=getattr(DEFAULTS, name)))
    sub.add_argument("--start", metavar="ISO",
                     help=TEXT["start"].format(default=DEFAULTS.start.isoformat()))
    sub.add_argument("--batch-events", type=int, default=5000, metavar="N",
                     help=TEXT["batch_events"].format(default=5000))
    sub.add_argument("--quiet", action="store_true", help=TEXT["quiet"])
    sub.add_argument("--project", action="store_true", help=TEXT["project"])


def _simulate(args: argparse.Namespace) -> int:
    start = _moment(args.start, CHINA_STANDARD_TIME) or DEFAULTS.start
    plan = CityPlan(communities=args.communities, grids=args.grids, buildings=args.buildings,
                    incidents=args.incidents, orders=args.orders, activities=args.activities,
                    days=args.days, start=start, seed=args.seed)
    with Engine(getattr(args, "db", None), fresh_views=False) as engine:
        began = timer.monotonic()
        try:
            done = simulate(engine, plan, batch_events=args.batch_events,
                            progress=None if args.quiet else Progress(TEXT["simulating"]))
        except KeyboardInterrupt:
            print(f"\n{TEXT['interrupted'].format(store=redacted(engine.url))}",
                  file=sys.stderr)
            return 130  # as a shell reports a program stopped by Ctrl-C (128 + SIGINT)
        seconds = timer.monotonic() - began
        print(summary(done, plan, seconds, redacted(engine.url)))
        if args.project:
            began = timer.monotonic()
            folded = engine.views.catch_up(
                progress=None if args.quiet else Progress(TEXT["views"]))
            print(TEXT["projected"].format(events=folded, seconds=timer.monotonic() - began))
    return 0


def summary(done: Simulated, plan: CityPlan, seconds: float, store: str) -> str:
    """What was recorded, in a few lines: the district, its size, how fast, and the first
    communities' ids."""
    district, _, _ = name_community(plan, 0)
    lines = [
        TEXT["summary"].format(
            communities=len(done.communities), ies="y" if len(done.communities) == 1 else "ies",
            district=district, start=f"{done.start:%Y-%m-%d}",
            end=f"{done.end - timedelta(days=1):%Y-%m-%d}", events=done.events,
            seconds=seconds, rate=done.events / max(seconds, 1e-9), store=store),
        TEXT["tally"].format(incidents=done.incidents, orders=done.orders,
                             activities=done.activities)]
    for index, community in enumerate(done.communities[:LISTED]):
        _, subdistrict, name = name_community(plan, index)
        lines.append(TEXT["community"].format(id=community, name=name,
                                              subdistrict=subdistrict))
    if len(done.communities) > LISTED:
        lines.append(TEXT["more"].format(count=len(done.communities) - LISTED))
    return "\n".join(lines)
