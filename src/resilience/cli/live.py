"""Subcommands: deadlines: tick and overdue (issue 13, part 1).

``resilience tick`` runs the watch once (engine.tick): every escalation due is recorded,
and printed. ``resilience overdue`` lists the open orders past a deadline
(engine.overdue); it only reads. Both take ``--escalation FILE.json``, a policy in
``EscalationPolicy.to_dict``'s form (or ``default``, the built-in one), in place of the
engine's own (docs/live.md).
"""

import argparse
from datetime import timedelta

from resilience.cli.common import (
    MOMENT_HELP,
    Command,
    _existing,
    _moment,
    _shown,
    _today,
    _where,
    _with_escalation,
    add_escalation,
)
from resilience.domain.escalated import told_text
from resilience.metrics.tables import render_table


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
    tick = command("tick", "run the watch once: record every escalation due (an incident "
                   "unacknowledged, nobody on scene, an order unanswered...) and print them",
                   _tick)
    tick.add_argument("--at", metavar="WHEN", help="judge deadlines at this moment (default: "
                      "now; never later than now): " + MOMENT_HELP.format(day="today"))
    _add_common(tick)
    overdue = command("overdue", "open service orders past a deadline (response, "
                      "completion...): how late, and the escalations raised so far", _overdue)
    overdue.add_argument("--at", metavar="WHEN", help="as of this moment (default: now; a "
                         "later one shows what will be overdue then if nothing is done): "
                         + MOMENT_HELP.format(day="today"))
    _add_common(overdue)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--community", help="a community's id or exact name (default: all)")
    add_escalation(parser)
    parser.add_argument("--tz", help="time zone of --at without an offset, and of the times "
                        "shown (default: the community's own offset, else UTC)")


def _tick(args: argparse.Namespace) -> int:
    with _existing(args.db) as opened:
        engine = _with_escalation(opened, args.escalation)
        community, zone = _where(engine, args)
        done = engine.tick(_moment(args.at, zone, _today(engine, zone)), community=community)
    raised = len(done.raised)
    print(f"tick at {_shown(done.at, zone)}: {done.examined} open case(s) looked at, "
          f"{raised} escalation{'' if raised == 1 else 's'} raised")
    if done.raised:
        print(render_table(
            ["case", "subject", "deadline", "level", "cycle", "due", "told"],
            [[str(r.case_id), r.subject, r.deadline, str(r.level), str(r.cycle),
              _shown(r.due_at, zone), told_text(r.notified)] for r in done.raised]))
    if done.skipped:
        print(f"left to the next tick ({len(done.skipped)}): "
              f"{', '.join(map(str, done.skipped))}")
    return 0


def _overdue(args: argparse.Namespace) -> int:
    with _existing(args.db) as opened:
        engine = _with_escalation(opened, args.escalation)
        community, zone = _where(engine, args)
        at = _moment(args.at, zone, _today(engine, zone))
        rows = engine.overdue(community=community, at=at)
        when = at or engine.clock()
    if not rows:
        print(f"No order is overdue at {_shown(when, zone)}.")
        return 0
    print(f"{len(rows)} overdue at {_shown(when, zone)}:")
    print(render_table(
        ["order", "service", "deadline", "cycle", "due", "late", "escalated"],
        [[str(r.order_id), f"{r.category}/{r.item}", r.deadline, str(r.cycle),
          _shown(r.due_at, zone), late(r.late), f"{r.escalations}/{r.levels} levels"]
         for r in rows]))
    return 0


def late(duration: timedelta) -> str:
    """How late, in words a desk reads at a glance: ``"3 d 2 h"``, ``"2 h 05 min"``,
    ``"7 min"``."""
    minutes = int(duration.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"
