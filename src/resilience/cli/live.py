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
    Command,
    _existing,
    _moment,
    _shown,
    _today,
    _where,
    _with_escalation,
    add_escalation,
    moment_help,
    told_words,
)
from resilience.i18n import _, ngettext
from resilience.metrics.tables import render_table, value_text


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
    tick = command("tick", _("run the watch once: record every escalation due (an incident "
                             "unacknowledged, nobody on scene, an order unanswered...) and "
                             "print them"), _tick)
    tick.add_argument("--at", metavar="WHEN", help=_("judge deadlines at this moment "
                                                     "(default: now; never later than now): "
                                                     "{forms}").format(forms=moment_help()))
    _add_common(tick)
    overdue = command("overdue", _("open service orders past a deadline (response, "
                                   "completion...): how late, and the escalations raised so "
                                   "far"), _overdue)
    overdue.add_argument("--at", metavar="WHEN", help=_("as of this moment (default: now; a "
                                                        "later one shows what will be overdue "
                                                        "then if nothing is done): "
                                                        "{forms}").format(forms=moment_help()))
    _add_common(overdue)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--community", help=_("a community's id or exact name (default: "
                                              "all)"))
    add_escalation(parser)
    parser.add_argument("--tz", help=_("time zone of --at without an offset, and of the "
                                       "times shown (default: the community's own offset, "
                                       "else UTC)"))


def _tick(args: argparse.Namespace) -> int:
    with _existing(args.db) as opened:
        engine = _with_escalation(opened, args.escalation)
        community, zone = _where(engine, args)
        done = engine.tick(_moment(args.at, zone, _today(engine, zone)), community=community)
    raised = len(done.raised)
    print(ngettext("tick at {at}: {examined} open case(s) looked at, {raised} escalation "
                   "raised", "tick at {at}: {examined} open case(s) looked at, {raised} "
                   "escalations raised", raised).format(
        at=_shown(done.at, zone), examined=done.examined, raised=raised))
    if done.raised:
        print(render_table(
            [_("case"), _("subject"), _("deadline"), _("level"), _("cycle"), _("due"),
             _("told")],
            [[str(r.case_id), value_text(r.subject), value_text(r.deadline), str(r.level),
              str(r.cycle), _shown(r.due_at, zone), told_words(r.notified)]
             for r in done.raised]))
    if done.skipped:
        print(_("left to the next tick ({count}): {cases}").format(
            count=len(done.skipped), cases=", ".join(map(str, done.skipped))))
    return 0


def _overdue(args: argparse.Namespace) -> int:
    with _existing(args.db) as opened:
        engine = _with_escalation(opened, args.escalation)
        community, zone = _where(engine, args)
        at = _moment(args.at, zone, _today(engine, zone))
        rows = engine.overdue(community=community, at=at)
        when = at or engine.clock()
    if not rows:
        print(_("No order is overdue at {at}.").format(at=_shown(when, zone)))
        return 0
    print(_("{count} overdue at {at}:").format(count=len(rows), at=_shown(when, zone)))
    print(render_table(
        [_("order"), _("service"), _("deadline"), _("cycle"), _("due"), _("late"),
         _("escalated")],
        [[str(r.order_id), f"{value_text(r.category)}/{value_text(r.item)}",
          value_text(r.deadline), str(r.cycle), _shown(r.due_at, zone), late(r.late),
          _("{escalations}/{levels} levels").format(escalations=r.escalations,
                                                    levels=r.levels)]
         for r in rows]))
    return 0


def late(duration: timedelta) -> str:
    """How late, in words a desk reads at a glance: ``"3 d 2 h"``, ``"2 h 05 min"``,
    ``"7 min"`` (in the current language)."""
    minutes = int(duration.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=f"{minutes:02d}")
    return _("{minutes} min").format(minutes=minutes)
