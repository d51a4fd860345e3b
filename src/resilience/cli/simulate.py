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
from resilience.i18n import N_, _, ngettext
from resilience.simulation import CHINA_STANDARD_TIME, CityPlan, Simulated, simulate
from resilience.simulation.city import name_community

DEFAULTS = CityPlan()

TEXT = {
    "help": N_("record a seeded, realistic district (communities, grids, rosters, a year of "
               "incidents, service orders and activities, with late records, corrections "
               "and reopenings) into a store, for trying the library out and for benchmarks"),
    "communities": N_("communities in the district (default {default})"),
    "grids": N_("grids per community (default {default})"),
    "buildings": N_("buildings per grid (default {default})"),
    "incidents": N_("incidents per community over the period (default {default})"),
    "orders": N_("residents' service orders per community over the period (default "
                 "{default})"),
    "activities": N_("activities per community over the period (default {default})"),
    "days": N_("length of the period in days (default {default})"),
    "start": N_("first moment of the period, ISO date-time (default {default}; without an "
                "offset: UTC+08:00)"),
    "seed": N_("picks one history among those the plan allows; the same seed gives the same "
               "facts (default {default})"),
    "batch_events": N_("about how many facts each transaction records (default {default})"),
    "quiet": N_("draw no progress on stderr (the summary is still printed)"),
    "project": N_("then bring the views up to date (the first report would do it "
                  "otherwise)"),
    "simulating": N_("simulate"),
    "views": N_("views"),
    "tally": N_("  {incidents} incidents, {orders} service orders, {activities} activities"),
    "community": N_("community {id}: {name}, {subdistrict}"),
    "more": N_("... and {count} more communities"),
    "projected": N_("Views up to date: {events} events folded in {seconds} s"),
    "interrupted": N_("resilience: simulate interrupted: the batches recorded before stay in "
                      "{store} (a part of the district); simulate again into a fresh store"),
}
"""Every text this subcommand shows but its summary's first line (a plural, in
:func:`summary`): str.format templates, by name, translated by ``_`` where shown; the
numbers come formatted ("12,345")."""

LISTED = 10
"""Communities listed by id in the summary (the rest are counted)."""


def register(command: Command) -> None:
    """Add the ``simulate`` subcommand (see Command)."""
    sub = command("simulate", _(TEXT["help"]), _simulate, db_required=False)
    for name in ("communities", "grids", "buildings", "incidents", "orders", "activities",
                 "days", "seed"):
        sub.add_argument(f"--{name}", type=int, default=getattr(DEFAULTS, name),
                         metavar="N", help=_(TEXT[name]).format(default=getattr(DEFAULTS,
                                                                                name)))
    sub.add_argument("--start", metavar="ISO",
                     help=_(TEXT["start"]).format(default=DEFAULTS.start.isoformat()))
    sub.add_argument("--batch-events", type=int, default=5000, metavar="N",
                     help=_(TEXT["batch_events"]).format(default=5000))
    sub.add_argument("--quiet", action="store_true", help=_(TEXT["quiet"]))
    sub.add_argument("--project", action="store_true", help=_(TEXT["project"]))


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
            print("\n" + _(TEXT["interrupted"]).format(store=redacted(engine.url)),
                  file=sys.stderr)
            return 130  # as a shell reports a program stopped by Ctrl-C (128 + SIGINT)
        seconds = timer.monotonic() - began
        print(summary(done, plan, seconds, redacted(engine.url)))
        if args.project:
            began = timer.monotonic()
            folded = engine.views.catch_up(
                progress=None if args.quiet else Progress(TEXT["views"]))
            print(_(TEXT["projected"]).format(events=f"{folded:,}",
                                              seconds=f"{timer.monotonic() - began:.1f}"))
    return 0


def summary(done: Simulated, plan: CityPlan, seconds: float, store: str) -> str:
    """What was recorded, in a few lines: the district, its size, how fast, and the first
    communities' ids."""
    district = name_community(plan, 0)[0]
    lines = [
        ngettext("Simulated {communities} community of {district}, {start} to {end}: "
                 "{events} events in {seconds} s ({rate} events/s) into {store}",
                 "Simulated {communities} communities of {district}, {start} to {end}: "
                 "{events} events in {seconds} s ({rate} events/s) into {store}",
                 len(done.communities)).format(
            communities=f"{len(done.communities):,}", district=district,
            start=f"{done.start:%Y-%m-%d}", end=f"{done.end - timedelta(days=1):%Y-%m-%d}",
            events=f"{done.events:,}", seconds=f"{seconds:.1f}",
            rate=f"{done.events / max(seconds, 1e-9):,.0f}", store=store),
        _(TEXT["tally"]).format(incidents=f"{done.incidents:,}", orders=f"{done.orders:,}",
                                activities=f"{done.activities:,}")]
    for index, community in enumerate(done.communities[:LISTED]):
        _district, subdistrict, name = name_community(plan, index)
        lines.append(_(TEXT["community"]).format(id=community, name=name,
                                                 subdistrict=subdistrict))
    if len(done.communities) > LISTED:
        lines.append(_(TEXT["more"]).format(count=f"{len(done.communities) - LISTED:,}"))
    return "\n".join(lines)
