"""Subcommand: an incident's linked recovery (``resilience recovery INCIDENT --db X``): the
orders and improvement items linked to it, where each stands, and when it was recovered
(resilience.metrics.recovery has the rule; engine.recovery reads it)."""

import argparse
from datetime import UTC, datetime, tzinfo

from resilience.cli.common import (
    Command,
    _existing,
    _moment,
    _zone,
    add_cut,
    add_report_output,
    emit_report,
)
from resilience.domain.recovery import RecoveryKind
from resilience.i18n import _, ngettext
from resilience.listing import resolve
from resilience.metrics.recovery import Recovery


def register(command: Command) -> None:
    """Add this module's subcommand (see Command)."""
    recovery = command("recovery", _("an incident's linked recovery work and when it was "
                                     "recovered"), _recovery)
    recovery.add_argument("incident", help=_("the incident's id (or its first characters, "
                                             "or its scenario handle)"))
    add_cut(recovery, "the incident's date")
    recovery.add_argument("--tz", help=_("show times in this zone (default: the detection's "
                                         "offset)"))
    add_report_output(recovery)


def _recovery(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        incident = resolve(engine, args.incident, ["incident"])
        # The detection places bare times of day and gives the default zone: read from
        # the incident itself, so the recovery (every linked case) is read only once.
        detected = engine.incidents.get(incident).detected_at
        zone = _zone(args.tz) if args.tz else detected.tzinfo or UTC
        on = detected.astimezone(zone).date()
        recovery = engine.recovery(incident, as_of=_moment(args.as_of, zone, on),
                                   known_at=_moment(args.known_at, zone, on))
    emit_report(args, recovery, lambda: format_recovery(recovery, zone))
    return 0


def format_recovery(recovery: Recovery, tz: tzinfo | None = None) -> str:
    """The recovery as text (times in ``tz``, by default as recorded): one line per link,
    then when (or whether) the incident was recovered."""
    def moment(value: datetime) -> str:
        return f"{value.astimezone(tz) if tz else value:%Y-%m-%d %H:%M}"

    lines = [_("Incident {incident}: detected {detected}").format(
        incident=recovery.incident_id, detected=moment(recovery.detected_at))]
    if not recovery.links:
        lines.append(_("No recovery work linked."))
    for link in recovery.links:
        lines.append("  " + _("linked {time}: {purpose} ({kind} {id}): {state}").format(
            time=moment(link.linked_at), purpose=link.purpose,
            kind=_("order") if link.kind == RecoveryKind.ORDER else _("improvement"),
            id=link.linked_id, state=link.describe()))
    if recovery.recovered_at is not None and recovery.duration is not None:
        lines.append(_("Recovered {time}, {hours} h after detection.").format(
            time=moment(recovery.recovered_at),
            hours=f"{recovery.duration.total_seconds() / 3600:.1f}"))
    elif recovery.links:
        lines.append(ngettext("Not recovered yet: {count} link(s) pending.",
                              "Not recovered yet: {count} link(s) pending.",
                              len(recovery.pending)).format(count=len(recovery.pending)))
    return "\n".join(lines)
