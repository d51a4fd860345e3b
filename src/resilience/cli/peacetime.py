"""Subcommands: peacetime (issue 16). ``resilience hazards`` lists a community's hazards
(``resilience hazards show REF``: one hazard's timeline); ``resilience patrols`` shows how
much of each grid's patrol plan was walked over a period.

What a hazard's status is, when one is overdue and how coverage is counted are the
library's (resilience.metrics.peacetime, the ``cases`` view); this module reads them
through the engine, filters as the options ask and prints.
"""

import argparse
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

from attrs import frozen

from resilience.adapters.report_data import SCHEMA_VERSION
from resilience.cli.common import (
    Command,
    _existing,
    _period,
    _where,
    _zone,
    add_report_output,
    emit_report,
    format_timeline,
    people_of,
)
from resilience.domain.hazard import FINISHED, Hazard, HazardStatus
from resilience.domain.values import Location
from resilience.engine import Engine
from resilience.i18n import N_, _, current_language
from resilience.listing import resolve
from resilience.metrics.cases import Case
from resilience.metrics.peacetime import overdue_hazards
from resilience.metrics.tables import render_table, unit_text, value_text
from resilience.review.phrases import _place as place  # a Location's words, translated

SHORT = 8
"""The hex digits of a hazard's id a list shows (as ``resilience list`` does)."""

def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
    hazards = command("hazards", _("a community's hazards: where, how severe, where each "
                                   "stands and whether it is overdue; or one hazard's "
                                   "timeline"), _hazards, period=True)
    hazards.add_argument("--grid", help=_("one grid (of --community, or of any community)"))
    hazards.add_argument("--status", choices=[status.value for status in HazardStatus],
                         help=_("only hazards in this status"))
    hazards.add_argument("--open", action="store_true",
                         help=_("only hazards not yet verified nor closed"))
    hazards.add_argument("--overdue", action="store_true",
                         help=_("only hazards past their due date and not rectified"))
    add_report_output(hazards)
    actions = hazards.add_subparsers(dest="action", metavar="show")
    show = actions.add_parser("show", help=_("one hazard's timeline"),
                              description=_("one hazard's timeline"))
    show.add_argument("hazard", help=_("the hazard's reference (DH-2022-H0001), id, its "
                                       "first characters or its scenario handle"))
    show.add_argument("--db", metavar="STORE", default=argparse.SUPPRESS,
                      help=_("the store: a SQLite file or a store URL (default: "
                             "$RESILIENCE_DB)"))
    show.add_argument("--tz", default=argparse.SUPPRESS,
                      help=_("show times in this zone (default: the finding's offset)"))
    add_report_output(show)
    patrols = command("patrols", _("patrol coverage per grid over a period: each rule's "
                                   "planned and done visits and the windows missed"),
                      _patrols, period=True, needs_community=True)
    patrols.add_argument("--grid", help=_("one grid of the community"))
    add_report_output(patrols)


# resilience hazards ---------------------------------------------------------------------


@frozen
class HazardRow:
    """One hazard as the list shows it."""

    id: UUID
    reference: str | None
    community: str
    grid: str | None
    building: str | None
    unit: str | None
    floor: int | None
    category: str
    severity: str
    status: str
    found: datetime
    due: datetime | None
    days_overdue: float | None
    """How long past its due date at the list's ``as_of`` (None: not overdue)."""

    @property
    def short(self) -> str:
        return self.id.hex[:SHORT]

    @property
    def location(self) -> Location:
        return Location(grid=self.grid, building=self.building, unit=self.unit,
                        floor=self.floor)

    def to_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "short": self.short, "reference": self.reference,
                "community": self.community, "grid": self.grid, "building": self.building,
                "unit": self.unit, "floor": self.floor, "category": self.category,
                "severity": self.severity, "status": self.status,
                "found": self.found.isoformat(),
                "due": self.due.isoformat() if self.due is not None else None,
                "overdue": self.days_overdue is not None,
                "days_overdue": (round(self.days_overdue, 2)
                                 if self.days_overdue is not None else None)}


_COLUMNS = (N_("reference"), N_("found"), N_("category"), N_("severity"), N_("where"),
            N_("status"), N_("due"), N_("overdue"))


@frozen
class HazardList:
    """The hazards a ``resilience hazards`` asked for, oldest found first."""

    as_of: datetime
    rows: tuple[HazardRow, ...]
    zone: tzinfo

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "report": "hazard_list",
                "as_of": self.as_of.isoformat(), "total": len(self.rows),
                "rows": [row.to_dict() for row in self.rows]}

    def render(self) -> str:
        """The list as a table in the current language, the count of overdue last."""
        if not self.rows:
            return _("No hazards.")

        def moment(at: datetime) -> str:
            return f"{at.astimezone(self.zone):%Y-%m-%d %H:%M}"

        days = unit_text("d")
        table = render_table([_(column) for column in _COLUMNS], [
            [row.reference or row.short, moment(row.found), category_text(row.category),
             value_text(row.severity), where_text(row.location), status_text(row.status),
             moment(row.due) if row.due is not None else "-",
             f"{row.days_overdue:.1f} {days}" if row.days_overdue is not None else "-"]
            for row in self.rows])
        overdue = sum(row.days_overdue is not None for row in self.rows)
        return table + "\n\n" + _("{count} hazard(s), {overdue} overdue as of {as_of}").format(
            count=len(self.rows), overdue=overdue, as_of=moment(self.as_of))


def category_text(category: str) -> str:
    """A hazard's category in words (the review's: resilience.review.vocabulary)."""
    return value_text(category, spaced=True)


def status_text(status: str) -> str:
    """A hazard's status in words (the review's)."""
    return value_text(status, spaced=True)


def where_text(location: Location) -> str:
    """A hazard's place in words (translated as the review says places)."""
    return str(location) if current_language() == "en" else place(str(location))


def list_hazards(engine: Engine, *, community: UUID | None, grid: str | None,
                 period: Any, status: str | None, open_only: bool, overdue_only: bool,
                 as_of: datetime, zone: tzinfo) -> HazardList:
    """The hazards found in ``period`` (of ``community`` and ``grid`` if given) that the
    filters keep, oldest found first; overdue as metrics.peacetime says at ``as_of``."""
    cases = [case for case in engine.reports.cases(subject="hazard", period=period,
                                                   community=community)
             if grid is None or case.dims.get("grid") == grid]
    overdue = {o.hazard: o.days_overdue for o in overdue_hazards(cases, as_of)}
    docs = engine.views.fetch("cases", [case.case_id for case in cases])
    rows = [_row(case, docs.get(case.case_id) or {}, overdue.get(case.case_id))
            for case in cases]
    kept = [row for row in rows
            if (status is None or row.status == status)
            and (not open_only or row.status not in {str(s) for s in FINISHED})
            and (not overdue_only or row.days_overdue is not None)]
    return HazardList(as_of, tuple(sorted(kept, key=lambda r: (r.found, r.id.hex))), zone)


def _row(case: Case, doc: Mapping[str, Any], days_overdue: float | None) -> HazardRow:
    floor = doc.get("floor")
    return HazardRow(UUID(case.case_id), case.reference, case.community, case.dims.get("grid"),
                     case.dims.get("building"), doc.get("unit"),
                     floor if isinstance(floor, int) else None,
                     case.dims.get("category") or "", case.dims.get("severity") or "",
                     case.status, case.start, case.milestones.get("due"), days_overdue)


def _hazards(args: argparse.Namespace) -> int:
    if args.action == "show":
        return _show(args)
    with _existing(args.db) as engine:
        community, zone = _where(engine, args)
        # Overdue now: the list shows each hazard as it stands (a cut in time is the
        # figures' engine.reports.hazards(as_of=...)).
        as_of = engine.clock()
        found = list_hazards(engine, community=community, grid=args.grid,
                             period=_period(args, zone), status=args.status,
                             open_only=args.open, overdue_only=args.overdue, as_of=as_of,
                             zone=zone)
    emit_report(args, found, found.render)
    return 0


def _show(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        hazard = resolve_hazard(engine, args.hazard)
        timeline = engine.timeline(hazard)
        tz = _zone(args.tz) if getattr(args, "tz", None) else timeline.start.tzinfo
        people = people_of(engine, hazard)
        found = engine.hazards.get(hazard)
    header = _("Hazard {reference} ({category}, {severity}) at {where}: {status}").format(
        reference=found.reference or hazard, category=category_text(str(found.category)),
        severity=value_text(str(found.severity)), where=where_text(found.location),
        status=status_text(str(found.status)))
    emit_report(args, timeline, lambda: header + "\n" + format_timeline(
        timeline, people, tz=tz, dated=True))
    return 0


def resolve_hazard(engine: Engine, text: str) -> UUID:
    """The one hazard ``text`` names: its id, its reference (``DH-2022-H0001``, any case,
    leading zeros optional), a unique prefix of its id (4+ hex digits) or a scenario
    handle, in any community (``resilience.listing.resolve``). NotFoundError if none does,
    InvalidInputError if several."""
    return resolve(engine, text, ["hazard"])


# resilience patrols ---------------------------------------------------------------------


def _patrols(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        community, zone = _where(engine, args)
        assert community is not None  # --community is required
        # The windows ended by now count (the report has no clock of its own).
        as_of = engine.clock()
        report = engine.reports.patrol_coverage(community, grid=args.grid,
                                                period=_period(args, zone), as_of=as_of,
                                                tz=zone)
    emit_report(args, report, report.render)
    return 0


# The demo ---------------------------------------------------------------------------------

ASSIGNEE_WORDS = {"household": N_("the household"),
                  "property_company": N_("the property company"),
                  "provider": N_("a provider"), "community": N_("the community")}
"""Whom a hazard was assigned to, by AssigneeKind's value."""


def demo_lines(engine: Engine, community: UUID, hazard_id: UUID, grid: str,
               people: Mapping[str, str]) -> list[str]:
    """What ``resilience demo`` says of the hazard its scenario records after the fire
    (found on a patrol, assigned, rectified, verified by someone else; the time to
    rectify by the built-in metric) and of the grid's patrol plan."""
    def name(person: str | None) -> str:
        return people.get(person or "", person or "-")

    def moment(at: datetime) -> str:
        return f"{at:%Y-%m-%d %H:%M}"

    hazard = engine.hazards.get(hazard_id)
    events = engine.events(hazard_id)
    found = events[0]
    assigned = [e for e in events if isinstance(e, Hazard.Assigned)][-1]
    rectified = [e for e in events if isinstance(e, Hazard.Rectified)][-1]
    verified = [e for e in events if isinstance(e, Hazard.Verified)][-1]
    lines = [(_("Hazard {reference} ({category}, {severity}) at {where}: found {found} by "
                "{finder} on patrol") if hazard.patrol_id is not None else
              _("Hazard {reference} ({category}, {severity}) at {where}: found {found} by "
                "{finder}")).format(
        reference=hazard.reference or hazard_id, category=category_text(str(hazard.category)),
        severity=value_text(str(hazard.severity)), where=where_text(hazard.location),
        found=moment(found.occurred_at), finder=name(found.actor.person_id)),
        "  " + _("assigned to {assignee} ({who}), due {due}").format(
            assignee=_(ASSIGNEE_WORDS.get(str(assigned.assignee_kind), "-")),
            who=name(assigned.assignee), due=moment(assigned.due)),
        "  " + _("rectified {time} by {person}; verified {verified} by {verifier}").format(
            time=moment(rectified.occurred_at), person=name(rectified.actor.person_id),
            verified=moment(verified.occurred_at), verifier=name(verified.actor.person_id))]
    rectify = engine.metrics("found_to_rectified", community=community).rows[0]
    if rectify.median is not None and rectify.target is not None:
        lines.append("  " + _("time to rectify: {value} {unit} from found to rectified "
                              "({metric}, target {target} {unit})").format(
            value=f"{rectify.median:.1f}", unit=unit_text(rectify.unit),
            metric=rectify.metric, target=f"{rectify.target:g}"))
    plan = engine.patrols.plan(community, grid)
    if plan is not None:
        lines.append(_("Patrol plan of grid {grid} (adopted {adopted}): {rules}").format(
            grid=grid, adopted=f"{plan.adopted_at:%Y-%m-%d}",
            rules=_("; ").join(rule.name for rule in plan.rules)))
    return lines
