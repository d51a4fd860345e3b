"""Subcommands: what-if replays history under another target or escalation policy, beside
what actually happened, and records nothing (issue 13, part 5).

``resilience what-if target`` and ``resilience what-if escalations`` take ``--db`` before
or after their own name."""

import argparse

from resilience.cli.common import (
    DB_HELP,
    Command,
    _add_period,
    _existing,
    _metric,
    _period,
    _store,
    _where,
    _zone,
    add_by,
    add_escalation,
    escalation_policy,
    metrics_help,
)
from resilience.i18n import _


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
    parent = command("what-if", _("history under another target or escalation policy, "
                                  "beside what happened (records nothing)"), None,
                     db_required=False)
    # --db may come after the action's name too (resilience what-if target --db X ...).
    actions = parent.add_subparsers(dest="what_if", required=True,
                                    metavar="{target,escalations}")
    target = actions.add_parser(
        "target", help=_("a metric's groups graded against another target, beside its own"))
    _add_db(target)
    target.add_argument("--metric", default="detection_to_contained", metavar="METRIC",
                        help=_("{metrics} (default detection_to_contained)").format(
                            metrics=metrics_help()))
    target.add_argument("--target", type=float, required=True,
                        help=_("the hypothetical target, in the metric's unit"))
    target.add_argument("--percentile", type=float,
                        help=_("share of cases that must be within it (default: the "
                               "metric's own, 90)"))
    add_by(target, "community, grid, incident_type, severity, zone_type, ... day, week, "
                   "month, year", default="grid")
    _add_period(target)
    target.set_defaults(run=_target)
    escalations = actions.add_parser(
        "escalations", help=_("the escalations a policy would have raised with a perfect "
                              "watch, beside those recorded"))
    _add_db(escalations)
    add_escalation(escalations, "--policy", required=True)  # --policy: its first name
    escalations.add_argument("--cases", action="store_true",
                             help=_("also list each case with an escalation on either "
                                    "side"))
    _add_period(escalations)
    escalations.set_defaults(run=_escalations)


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="STORE", default=argparse.SUPPRESS,
                        help=_("{db}; also accepted before the action").format(db=_(DB_HELP)))


def _db(args: argparse.Namespace) -> str:
    return _store(getattr(args, "db", None), f"what-if {args.what_if}")


def _target(args: argparse.Namespace) -> int:
    definition = _metric(args.metric)
    with _existing(_db(args)) as engine:
        community, zone = _where(engine, args)
        period = _period(args, zone)
        found = engine.what_if.target(definition, args.target, period=period,
                                      group_by=["grid"] if args.by is None else args.by,
                                      community=community, percentile=args.percentile,
                                      tz=_zone(args.tz) if args.tz else None)
    print(found.render())
    return 0


def _escalations(args: argparse.Namespace) -> int:
    policy = escalation_policy(args.escalation)
    with _existing(_db(args)) as engine:
        community, zone = _where(engine, args)
        period = _period(args, zone)
        found = engine.what_if.escalations(policy, period=period, community=community)
    print(found.render(cases=args.cases))
    return 0
