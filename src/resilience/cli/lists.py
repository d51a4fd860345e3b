"""Subcommand: ``resilience list incidents|orders|items --db X``: what the store holds,
newest first, each with the short id to type back into any command that takes an id
(resilience.listing reads and filters; this module only parses and prints)."""

import argparse

from resilience.cli.common import (
    Command,
    _community,
    _existing,
    _period,
    _where,
    add_report_output,
    emit_report,
)
from resilience.domain.values import Actor
from resilience.errors import InvalidInputError
from resilience.i18n import _, ngettext
from resilience.listing import LISTS, Listing, assign_references, list_cases, list_items


def register(command: Command) -> None:
    """Add this module's subcommand (see Command)."""
    listing = command("list", _("incidents, orders or improvement items, newest first, with "
                                "the short id to type back"), _list, period=True)
    listing.add_argument("what", choices=LISTS, help=_("what to list"))
    listing.add_argument("--grid", help=_("one grid (of --community, or of any community)"))
    listing.add_argument("--open", action="store_true",
                         help=_("only those still open (not closed, completed, cancelled, "
                                "rejected or done)"))
    listing.add_argument("--type", dest="of_type",
                         help=_("incidents of this type (fire, medical, ...); orders of this "
                                "category or item"))
    listing.add_argument("--limit", type=int, default=50,
                         help=_("the newest N (default 50; 0 lists them all)"))
    add_report_output(listing)
    numbering = command("references", _("give every incident and order recorded before "
                                        "references its reference (DH-2022-0001), in the "
                                        "order they happened"), _references)
    numbering.add_argument("--community", help=_("only this community's (id or name)"))
    numbering.add_argument("--by", required=True, help=_("your person id (community staff)"))
    numbering.add_argument("--role", default="community_staff",
                           help=_("the role you act in (default community_staff)"))


def _references(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        community = _community(engine, args.community)
        receipts = assign_references(engine, actor=Actor(args.by, args.role),
                                     community=community)
    for receipt in receipts:
        print(_("{reference}: {id}").format(reference=receipt.reference, id=receipt.aggregate_id))
    print(ngettext("{count} case given its reference", "{count} cases given their references",
                   len(receipts)).format(count=len(receipts)))
    return 0


def _list(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise InvalidInputError(_("--limit must be 0 (all) or more, got {limit}").format(
            limit=args.limit))
    limit = args.limit or None
    with _existing(args.db) as engine:
        community, zone = _where(engine, args)
        period = _period(args, zone)
        found: Listing
        if args.what == "items":
            if args.of_type is not None:
                raise InvalidInputError(_("--type filters incidents and orders, not items"))
            found = list_items(engine, community=community, grid=args.grid, period=period,
                               open_only=args.open, limit=limit)
        else:
            found = list_cases(engine, args.what, community=community, grid=args.grid,
                               period=period, open_only=args.open, of_type=args.of_type,
                               limit=limit)
    emit_report(args, found, found.render)
    return 0
