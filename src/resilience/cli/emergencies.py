"""Subcommands: emergencies and mobilisation (issue 13, part 3).

``resilience emergencies`` lists a store's emergencies (of one community, if asked) as
they stood at a cut; ``resilience mobilisation ID`` reports how fast one emergency's
people were mobilised (resilience.metrics.mobilisation). Both only read.
"""

import argparse
import json
from datetime import UTC

from resilience.cli.common import (
    Command,
    _community,
    _existing,
    _home_zone,
    _moment,
    _shown,
    _today,
    _zone,
    add_cut,
)
from resilience.i18n import _
from resilience.listing import resolve
from resilience.metrics.mobilisation import Mobilisation
from resilience.metrics.tables import render_table
from resilience.review.text import enum_words


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
    listing = command("emergencies", _("a store's emergencies: where, since when, until "
                                       "when, and how many were called up, answered and "
                                       "arrived"), _emergencies)
    listing.add_argument("--community", help=_("a community's id or exact name"))
    _add_cut(listing)
    report = command("mobilisation", _("how fast one emergency's people were mobilised: "
                                       "answered, time to the first, half and all arrivals, "
                                       "declaration to normal order"), _mobilisation)
    report.add_argument("id", help=_("the emergency's id (or its first characters, or its "
                                     "scenario handle)"))
    report.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    _add_cut(report)


def _add_cut(parser: argparse.ArgumentParser) -> None:
    add_cut(parser)
    parser.add_argument("--tz", help=_("time zone of times without an offset, and of the "
                                       "times shown (default: the community's own offset, "
                                       "else UTC)"))


def _emergencies(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        community = _community(engine, args.community)
        zone = _zone(args.tz) if args.tz else (
            _home_zone(engine, community) if community is not None else UTC)
        today = _today(engine, zone)
        found = engine.emergencies.situations(
            community, as_of=_moment(args.as_of, zone, today),
            known_at=_moment(args.known_at, zone, today))
    if not found:
        print(_("No emergencies."))
        return 0
    rows = []
    for e in found:
        report = Mobilisation(e)
        rows.append([e.emergency_id, enum_words(e.kind),
                     _("grid {grid}").format(grid=e.area) if e.area else _("community"),
                     _shown(e.declared_at, zone),
                     _shown(e.ended_at, zone) if e.ended_at else _("in force"),
                     str(report.called), str(report.answered), str(report.arrived)])
    print(render_table([_("emergency"), _("kind"), _("area"), _("declared"), _("ended"),
                        _("called"), _("answered"), _("arrived")], rows))
    return 0


def _mobilisation(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        emergency = resolve(engine, args.id, ["emergency"])
        community = engine.emergencies.get(emergency).community_id
        zone = _zone(args.tz) if args.tz else _home_zone(engine, community)
        today = _today(engine, zone)
        report = engine.mobilisation(emergency, as_of=_moment(args.as_of, zone, today),
                                     known_at=_moment(args.known_at, zone, today))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.render(zone))
    return 0
