"""Subcommands: what-if replays history under another target or escalation policy, beside
what actually happened, and records nothing (issue 13, part 5).

``resilience what-if target`` and ``resilience what-if escalations`` take ``--db`` before
or after their own name."""

import argparse
import re
from collections.abc import Sequence

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
from resilience.i18n import N_, _, current_language
from resilience.metrics.tables import (
    DIMENSION_LABELS,
    fmt,
    met_text,
    pct,
    period_text,
    render_table,
    unit_text,
    value_text,
)
from resilience.services.what_if import EscalationWhatIf, TargetRow, TargetWhatIf


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
    print(found.render() if current_language() == "en" else format_target(found))
    return 0


def _escalations(args: argparse.Namespace) -> int:
    policy = escalation_policy(args.escalation)
    with _existing(_db(args)) as engine:
        community, zone = _where(engine, args)
        period = _period(args, zone)
        found = engine.what_if.escalations(policy, period=period, community=community)
    print(found.render(cases=args.cases) if current_language() == "en"
          else format_escalations(found, cases=args.cases))
    return 0


CHANGES = {"would meet": N_("would meet"), "would miss": N_("would miss"), "same": N_("same")}
"""What a hypothetical target changes for a group (``TargetRow.change``), in words."""


def _group(row: TargetRow) -> str:
    """A row's group as the what-if labels it (names, "grid 3", values), in the current
    language: the values the catalog has words for said in them."""
    if not row.group:
        return _("all")
    label = row.label
    for dimension, value in row.group.items():
        if value is None:
            label = label.replace(f"{dimension} (unknown)", _("{dimension} (unknown)").format(
                dimension=_(DIMENSION_LABELS.get(dimension, dimension))))
        elif dimension == "grid":
            label = label.replace(f"grid {value}", _("grid {grid}").format(grid=value))
        elif dimension != "community":
            said = value_text(value).replace("\\", "\\\\")
            label = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", said, label)
    return label


def format_target(found: TargetWhatIf) -> str:
    """``TargetWhatIf.render`` in the current language (English: the same text)."""
    a, h = found.actual, found.hypothetical
    now = (_("{target} {unit}").format(target=fmt(a.target, 3), unit=unit_text(a.unit))
           if a.target is not None else _("none"))
    then = _("{target} {unit}").format(target=fmt(h.target, 3), unit=unit_text(h.unit))
    share = (f"{fmt(h.percentile)}%" if a.percentile == h.percentile
             else f"{fmt(a.percentile)}% -> {fmt(h.percentile)}%")
    title = (_("What if: {name} ({start} -> {end}) over {period}: target {now} -> {then}; a "
               "group meets it with {share} of its reopenings within it") if a.per == "reopening"
             else _("What if: {name} ({start} -> {end}) over {period}: target {now} -> "
                    "{then}; a group meets it with {share} of its cases within it")).format(
        name=a.name, start=value_text(a.start), end=value_text(a.end),
        period=period_text(found.period), now=now, then=then, share=share)
    headers = [_("group"), _("measured"),
               _("within {target}").format(target=now) if a.target is not None
               else _("own target"),
               _("rule {percentile}%").format(percentile=fmt(a.percentile)),
               _("within {target}").format(target=then),
               _("rule {percentile}%").format(percentile=fmt(h.percentile)), _("change")]
    rows = [[_group(row), str(row.measured), pct(row.actual.compliance),
             met_text(row.actual.target_met), pct(row.hypothetical.compliance),
             met_text(row.hypothetical.target_met),
             _(CHANGES[row.change]) if row.change in CHANGES else row.change]
            for row in (*found.rows, *((found.total,) if len(found.rows) > 1 else ()))]
    return (title + "\n" + render_table(headers, rows)
            + "\n" + _("Nothing was recorded: a what-if only reads."))


def format_escalations(found: EscalationWhatIf, *, cases: bool = False) -> str:
    """``EscalationWhatIf.render`` in the current language (English: the same text)."""
    title = _("What if: escalations under another policy over {period}: {examined} cases "
              "examined, judged at {at}").format(period=period_text(found.period),
                                                 examined=found.examined,
                                                 at=found.at.isoformat())
    rows = [[value_text(row.subject), value_text(row.deadline), str(row.level),
             str(row.recorded), str(row.would), _signed(row.difference)]
            for row in found.levels]
    rows.append([_("total"), "", "", str(found.recorded), str(found.would),
                 _signed(found.would - found.recorded)])
    text = title + "\n" + render_table(
        [_("subject"), _("deadline"), _("level"), _("recorded"), _("would raise"),
         _("difference")], rows)
    if cases:
        def levels(found: Sequence[tuple[str, int, int]]) -> str:
            return _(", ").join(
                (_("{deadline}/{level} (cycle {cycle})") if cycle else
                 _("{deadline}/{level}")).format(deadline=value_text(deadline), level=level,
                                                 cycle=cycle)
                for deadline, cycle, level in found) or "-"

        lines = [[str(case.case_id), value_text(case.subject), case.started_at.isoformat(),
                  levels(case.recorded),
                  levels([(s.deadline, s.cycle, s.level) for s in case.would])]
                 for case in found.cases]
        text += "\n\n" + render_table([_("case"), _("subject"), _("started"), _("recorded"),
                                       _("would raise")], lines)
    return (text + "\n" + _("Would raise: needed by the times as now recorded, with a watch "
                            "that never missed a tick. Nothing was recorded: a what-if only "
                            "reads."))


def _signed(number: int) -> str:
    return f"+{number}" if number > 0 else str(number)
