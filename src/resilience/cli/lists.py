"""Subcommand: ``resilience list incidents|orders|items --db X``: what the store holds,
newest first, each with the short id to type back into any command that takes an id
(resilience.listing reads and filters; this module only parses and prints)."""

import argparse

from resilience.cli.common import (
    Command,
    _existing,
    _period,
    _where,
    add_report_output,
    emit_report,
)
from resilience.errors import InvalidInputError
from resilience.listing import LISTS, Listing, list_cases, list_items


def register(command: Command) -> None:
    """Add this module's subcommand (see Command)."""
    listing = command("list", "incidents, orders or improvement items, newest first, with "
                      "the short id to type back", _list, period=True)
    listing.add_argument("what", choices=LISTS, help="what to list")
    listing.add_argument("--grid", help="one grid (of --community, or of any community)")
    listing.add_argument("--open", action="store_true",
                         help="only those still open (not closed, completed, cancelled, "
                              "rejected or done)")
    listing.add_argument("--type", dest="of_type",
                         help="incidents of this type (fire, medical, ...); orders of this "
                              "category or item")
    listing.add_argument("--limit", type=int, default=50,
                         help="the newest N (default 50; 0 lists them all)")
    add_report_output(listing)


def _list(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise InvalidInputError(f"--limit must be 0 (all) or more, got {args.limit}")
    limit = args.limit or None
    with _existing(args.db) as engine:
        community, zone = _where(engine, args)
        period = _period(args, zone)
        found: Listing
        if args.what == "items":
            if args.of_type is not None:
                raise InvalidInputError("--type filters incidents and orders, not items")
            found = list_items(engine, community=community, grid=args.grid, period=period,
                               open_only=args.open, limit=limit)
        else:
            found = list_cases(engine, args.what, community=community, grid=args.grid,
                               period=period, open_only=args.open, of_type=args.of_type,
                               limit=limit)
    emit_report(args, found, found.render)
    return 0
