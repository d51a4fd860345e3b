"""The data-quality report: what keeps the figures from being graded or trusted.

- **Missing milestones**: a finished case (an incident resolved, or closed as
  resolved; an order completed) without a milestone that a graded metric
  (one with a target) needs, so that target can't be graded for it (measured per
  reopening: a reopening's cycle without one).
- **Out of order**: milestones that happened in an unexpected order (e.g.
  contained before anyone was on scene): legal facts, but worth a look.
- **Late records**: facts recorded more than ``late_after`` after the time first
  given for them (as a timeline entry's ``record_delay``).
- **Corrections**: every time or details correction, with its reason.
- **Amendments after closure**: every correction or late record made while its case
  stood closed (``Case.amendments``): who, when, what changed. Listed for the audit
  trail, not counted against ``is_clean``: a correction among them is already in
  *corrections*, a record made long after its fact already in *late records*, and
  amending a closed record is what an after-action review should do.
- **Quarantined events**: stored events the views could not fold (see
  resilience.projections.quarantine), whatever the period or community: no
  figure reflects them, nor the later facts of their aggregates, until the
  cause is fixed (e.g. an upcaster) and the views rebuilt.
- **Overrides**: every fact recorded by override (its actor acted outside what the
  policy allows them, and said why): the facts of the cases in scope, and the
  community's own facts (areas, activities...) that happened in the period. Counted
  against ``is_clean``: a figure resting on a fact nobody was allowed to record wants a
  look before it is trusted.
- **Imported facts**: how many of the cases' facts each importer imported (scenario
  files, bulk imports), and of how many cases. Listed, not counted against
  ``is_clean``: importing history is how a store is filled, not a fault.
- **Corrections by an interested party**: every correction (already in *corrections*)
  made by someone whose own record it touches (``INTERESTS``): they recorded the fact
  it corrects, were named the incident's commander, responded to it (dispatched, en
  route or on scene) or were the order's provider, or acted as grid leader or grid
  worker on the case (the correction included). Read off the case's facts (all of
  them, whenever recorded), not the roster: someone who holds a grid's role but never
  acted in it on the case is not flagged. Not counted again against ``is_clean``.
- **Patrols without coverage**: every patrol that started in the period and, as last
  corrected, visited no building or unit. Counted against ``is_clean``: a patrol that
  covered nothing adds nothing to the patrol coverage, so either its visits were never
  recorded (correct its coverage) or it should not have been recorded as a patrol.
- **Closed without verification**: every hazard found in the period that stands closed
  without verification (``Closed``: its rectification, if any, never checked by a
  second person). Counted against ``is_clean``: the share verified already counts it
  against the grid, and each one wants a look (a hazard closed as a duplicate or as no
  hazard at all is a reason to write down, in its ``reason``).

Hazards are checked like incidents and orders for every other section (late records,
corrections, overrides, imports...).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from attrs import field, frozen

from resilience.adapters.report_data import report_data
from resilience.domain.escalated import WATCH
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.i18n import _
from resilience.metrics.cases import Amendment, Case, Correction
from resilience.metrics.definitions import MetricDefinition
from resilience.metrics.milestones import RESPONDER_CHAIN
from resilience.metrics.peacetime import PatrolRecord
from resilience.metrics.period import Period
from resilience.metrics.tables import period_text, render_table, value_text
from resilience.projections.quarantine import QuarantinedEvent

DEFAULT_LATE_AFTER = timedelta(minutes=15)

EXPECTED_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "incident": (
        ("detected", "reported"), ("reported", "acknowledged"),
        ("acknowledged", "first_dispatched"), ("first_on_scene", "contained"),
        ("consent_requested", "consent_granted"), ("contained", "resolved"),
        ("resolved", "closed"),
    ),
    "order": (
        ("placed", "first_dispatched"), ("first_dispatched", "first_completed"),
        ("placed", "expected"),
    ),
    "hazard": (("found", "assigned"), ("found", "rectified"), ("rectified", "verified")),
}


@frozen
class MissingMilestone:
    case_id: str
    subject: str
    community: str
    grid: str | None
    missing: tuple[str, ...]
    ungraded: tuple[str, ...]
    """The metrics whose target can't be graded for this case."""


@frozen
class OutOfOrder:
    case_id: str
    subject: str
    expected_first: str
    expected_then: str
    first_at: datetime
    then_at: datetime


@frozen
class LateRecord:
    case_id: str
    subject: str
    version: int
    fact: str
    occurred_at: datetime
    recorded_at: datetime

    @property
    def delay(self) -> timedelta:
        return self.recorded_at - self.occurred_at


@frozen
class CorrectionMade:
    case_id: str
    subject: str
    version: int
    corrects: int
    fact: str
    what: str
    reason: str
    before: datetime | None
    after: datetime | None


INTERESTS: Mapping[str, str] = {
    "own_fact": "recorded the corrected fact",
    "commander": "was named the incident's commander",
    "responder": "responded to the incident",
    "provider": "was the order's provider",
    "grid_leader": "acted as grid leader on the case",
    "grid_worker": "acted as grid worker on the case",
}
"""Why a corrector has an interest in the record they correct, by code (in the order an
``InterestedCorrection`` lists them)."""
_GRID_ROLES = ("grid_leader", "grid_worker")
_COMMANDER = Incident.CommanderAssigned.fact_name
_PROVIDER = ServiceOrder.Dispatched.fact_name


def interests(case: Case, correction: Correction) -> tuple[str, ...]:
    """The codes of ``INTERESTS`` that hold for the person who made ``correction``."""
    person = correction.person
    found = {"own_fact"} if person and person == correction.author else set()
    if correction.role in _GRID_ROLES:
        found.add(correction.role)
    for fact in case.facts:
        if fact.person == person and fact.role in _GRID_ROLES:
            found.add(fact.role)
        if fact.name == _COMMANDER and fact.extra == person:
            found.add("commander")
        elif fact.name in RESPONDER_CHAIN and fact.extra == person:
            found.add("responder")
        elif fact.name == _PROVIDER and fact.extra and fact.extra[0] == person:
            found.add("provider")
    return tuple(code for code in INTERESTS if code in found) if person else ()


@frozen
class InterestedCorrection(CorrectionMade):
    """A correction made by someone whose own record it touches."""

    person: str
    role: str
    interests: tuple[str, ...]
    """Codes of ``INTERESTS``."""

    @property
    def why(self) -> str:
        """The interests in words: "recorded the corrected fact; responded to the incident"."""
        return "; ".join(INTERESTS[code] for code in self.interests)


@frozen
class OverrideUsed:
    """A fact recorded by override: its actor acted outside what the policy allows them,
    and said why."""

    case_id: str
    """The incident, order or (for its own facts) community."""
    subject: str
    """"incident", "order" or "community"."""
    version: int
    fact: str
    person: str
    role: str
    occurred_at: datetime
    """When the fact happened, as first given."""
    recorded_at: datetime
    why: str


@frozen
class ImportedFacts:
    """The facts of the cases in scope one importer imported."""

    importer: str
    """The person id the facts were imported under (``Actor.imported_by``)."""
    facts: int
    cases: int


def community_overrides(key: str, doc: Mapping[str, Any]) -> list[OverrideUsed]:
    """The overrides a community's ``cases`` document notes of its own facts."""
    parse = datetime.fromisoformat
    return [OverrideUsed(key, "community", version, name, person, role, parse(occurred),
                         parse(recorded), why)
            for version, name, occurred, recorded, person, role, why
            in doc.get("overrides", ())]


@frozen
class PatrolWithoutCoverage:
    """A patrol that, as last corrected, visited no building or unit."""

    patrol: str
    community: str
    grid: str
    started_at: datetime


@frozen
class ClosedUnverified:
    """A hazard that stands closed without verification."""

    hazard: str
    reference: str | None
    community: str
    grid: str | None
    category: str | None
    closed_at: datetime | None
    rectified: bool
    """Whether it was rectified before it was closed."""


@frozen
class AmendmentMade(Amendment):
    """An amendment made while a case stood closed, and the case it amends."""

    case_id: str
    subject: str


@frozen
class DataQualityReport:
    period: Period
    late_after: timedelta
    cases: int
    missing: tuple[MissingMilestone, ...]
    out_of_order: tuple[OutOfOrder, ...]
    late: tuple[LateRecord, ...]
    corrections: tuple[CorrectionMade, ...]
    quarantined: tuple[QuarantinedEvent, ...] = ()
    """Stored events the views could not fold, in the whole store (any period or community)."""
    amendments: tuple[AmendmentMade, ...] = ()
    """Corrections and late records made while their case stood closed, by case."""
    overrides: tuple[OverrideUsed, ...] = ()
    """Facts recorded by override: the cases' by case, then the communities' own."""
    imported: tuple[ImportedFacts, ...] = ()
    """The cases' facts imported, per importer (most facts first)."""
    interested: tuple[InterestedCorrection, ...] = ()
    """Corrections made by someone whose own record they touch, by case."""
    no_coverage: tuple[PatrolWithoutCoverage, ...] = ()
    """Patrols started in the period that visited nothing, by start."""
    closed_unverified: tuple[ClosedUnverified, ...] = ()
    """Hazards found in the period standing closed without verification, by case."""
    position: int | None = field(default=None, eq=False)
    """The views' position (notification id) the answer reflects at least: read after the
    views caught up, before the documents (None: not read from the views)."""

    @property
    def is_clean(self) -> bool:
        """Nothing missing, out of order, late, corrected, quarantined or recorded by
        override, no patrol without coverage and no hazard closed without verification.
        Amendments after closure and corrections by an interested party don't count on
        their own (each is a correction or a record, which the other sections already
        judge), nor do imports (how a store is filled, not a fault)."""
        return not (self.missing or self.out_of_order or self.late or self.corrections
                    or self.quarantined or self.overrides or self.no_coverage
                    or self.closed_unverified)

    SECTIONS = ("quarantined", "missing", "out_of_order", "late", "corrections", "amendments",
                "overrides", "imported", "interested", "no_coverage", "closed_unverified")
    """The report's lists of findings, in the order ``render`` shows them."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (resilience.adapters.report_data), report ``"data_quality"``: the
        period, ``late_after`` in seconds, the cases checked, ``is_clean``, and one list per
        section (``SECTIONS``) of one object per finding."""
        return report_data(self, "data_quality", is_clean=self.is_clean)

    def render(self) -> str:
        minutes = self.late_after.total_seconds() / 60
        out = [_("Data quality over {period}: {cases} cases checked").format(
            period=period_text(self.period), cases=self.cases), ""]
        if self.quarantined:  # shown only when there are any: the store needs attention
            out += [_("Quarantined events ({count}): stored events the views could not fold, "
                      "left out of every figure; fix the cause (e.g. an upcaster) and rebuild "
                      "the views").format(count=len(self.quarantined)),
                    render_table([_("position"), _("aggregate"), _("version"), _("topic"),
                                  _("error")], [
                        [str(q.position), q.aggregate_id, str(q.version), q.topic, q.error]
                        for q in self.quarantined]), ""]
        out.append(_("Missing milestones ({count}): a target can't be graded").format(
            count=len(self.missing)))
        if self.missing:
            out.append(render_table([_("case"), _("subject"), _("missing"), _("can't grade")], [
                [m.case_id, value_text(m.subject), _(", ").join(map(value_text, m.missing)),
                 _(", ").join(m.ungraded)]
                for m in self.missing]))
        out += ["", _("Out of order ({count})").format(count=len(self.out_of_order))]
        if self.out_of_order:
            out.append(render_table([_("case"), _("expected"), _("but")], [
                [o.case_id, _("{first} before {then}").format(
                    first=value_text(o.expected_first), then=value_text(o.expected_then)),
                 f"{value_text(o.expected_then)} {o.then_at.isoformat()} < "
                 f"{o.first_at.isoformat()}"]
                for o in self.out_of_order]))
        out += ["", _("Recorded more than {minutes} min late ({count})").format(
            minutes=f"{minutes:g}", count=len(self.late))]
        if self.late:
            out.append(render_table([_("case"), _("version"), _("fact"), _("happened"),
                                     _("late by")], [
                [r.case_id, str(r.version), value_text(r.fact), r.occurred_at.isoformat(),
                 _("{minutes} min").format(minutes=f"{r.delay.total_seconds() / 60:g}")]
                for r in self.late]))
        out += ["", _("Corrections ({count})").format(count=len(self.corrections))]
        if self.corrections:
            out.append(render_table([_("case"), _("version"), _("corrects"), _("what"),
                                     _("reason")], [
                [c.case_id, str(c.version), f"{value_text(c.fact)} (v{c.corrects})",
                 c.what if c.before is None else
                 _("time {before} -> {after}").format(
                     before=c.before.isoformat(),
                     after=c.after.isoformat() if c.after else "?"),
                 c.reason] for c in self.corrections]))
        out += ["", _("Amendments after closure ({count})").format(count=len(self.amendments))]
        if self.amendments:
            out.append(render_table([_("case"), _("version"), _("by"), _("recorded"), _("fact"),
                                     _("what")], [
                [a.case_id, str(a.version), f"{a.person} ({value_text(a.role)})",
                 a.recorded_at.isoformat(),
                 value_text(a.fact) if a.corrects is None
                 else f"{value_text(a.fact)} (v{a.corrects})", a.what]
                for a in self.amendments]))
        out += ["", _("Overrides ({count}): facts recorded outside what the policy allows "
                      "their actor").format(count=len(self.overrides))]
        if self.overrides:
            out.append(render_table([_("case"), _("version"), _("fact"), _("by"), _("happened"),
                                     _("recorded"), _("why")], [
                [o.case_id, str(o.version), value_text(o.fact),
                 f"{o.person} ({value_text(o.role)})",
                 o.occurred_at.isoformat(), o.recorded_at.isoformat(), o.why]
                for o in self.overrides]))
        out += ["", _("Imported facts ({count})").format(
            count=sum(i.facts for i in self.imported))]
        if self.imported:
            out.append(render_table([_("importer"), _("facts"), _("cases")], [
                [i.importer, str(i.facts), str(i.cases)] for i in self.imported]))
        out += ["", _("Corrections by an interested party ({count})").format(
            count=len(self.interested))]
        if self.interested:
            out.append(render_table([_("case"), _("version"), _("corrects"), _("by"), _("who"),
                                     _("reason")], [
                [c.case_id, str(c.version), f"{value_text(c.fact)} (v{c.corrects})",
                 f"{c.person} ({value_text(c.role)})",
                 _("; ").join(_(INTERESTS[code]) for code in c.interests), c.reason]
                for c in self.interested]))
        out += ["", _("Patrols without coverage ({count}): no building or unit visited").format(
            count=len(self.no_coverage))]
        if self.no_coverage:
            out.append(render_table([_("patrol"), _("grid"), _("started")], [
                [p.patrol, p.grid, p.started_at.isoformat()] for p in self.no_coverage]))
        out += ["", _("Hazards closed without verification ({count})").format(
            count=len(self.closed_unverified))]
        if self.closed_unverified:
            out.append(render_table([_("hazard"), _("grid"), _("category"), _("closed"),
                                     _("rectified")], [
                [h.reference or h.hazard, h.grid or "-",
                 value_text(h.category, spaced=True) if h.category else "-",
                 h.closed_at.isoformat() if h.closed_at else "-",
                 _("yes") if h.rectified else _("no")] for h in self.closed_unverified]))
        return "\n".join(out)


_WATCH = (WATCH.person_id, WATCH.role.value)
"""The watch as a cases-view fact names its recorder (``Fact.person``, ``Fact.role``: plain
text, possibly empty, so not an Actor for ``escalated.is_watch``)."""


def data_quality(cases: Iterable[Case], graded: Sequence[MetricDefinition], *,
                 period: Period, late_after: timedelta = DEFAULT_LATE_AFTER,
                 quarantined: Sequence[QuarantinedEvent] = (),
                 community_overrides: Iterable[OverrideUsed] = (),
                 patrols: Iterable[PatrolRecord] = ()) -> DataQualityReport:
    """The report over the cases (incidents, orders, hazards) whose first fact falls in
    ``period``, the ``community_overrides`` (``community_overrides()`` of community
    documents) of the facts that happened in it, and the ``patrols`` that started in it."""
    scoped = sorted((c for c in cases if c.start in period), key=lambda c: (c.start, c.case_id))
    missing, disorder, late, corrections, amendments = [], [], [], [], []
    for case in scoped:
        lacking: dict[str, None] = {}
        ungraded = []
        if case.finished:
            for definition in graded:
                if definition.target is None or not definition.applies(case):
                    continue
                absent = [m for unit in definition.units(case)
                          for m in (definition.start, definition.end) if m not in unit]
                if absent:
                    ungraded.append(definition.name)
                    lacking.update(dict.fromkeys(absent))
        if ungraded:
            missing.append(MissingMilestone(case.case_id, case.subject, case.community,
                                            case.dims.get("grid"), tuple(lacking),
                                            tuple(ungraded)))
        for first, then in EXPECTED_ORDER[case.subject]:
            a, b = case.milestones.get(first), case.milestones.get(then)
            if a is not None and b is not None and b < a:
                disorder.append(OutOfOrder(case.case_id, case.subject, first, then, a, b))
        for fact in case.facts:
            if (fact.person, fact.role) == _WATCH:
                continue  # the watch's delay is its lag, graded in reviews, not a late record
            if fact.recorded_at - fact.original_at > late_after:
                late.append(LateRecord(case.case_id, case.subject, fact.version, fact.name,
                                       fact.original_at, fact.recorded_at))
        for c in case.corrections:
            corrections.append(CorrectionMade(case.case_id, case.subject, c.version, c.corrects,
                                              c.fact, c.what, c.reason, c.before, c.after))
        amendments += [AmendmentMade(**attrs.asdict(a, recurse=False), case_id=case.case_id,
                                     subject=case.subject) for a in case.amendments]
    overrides = [o for case in scoped for o in _overrides(case)]
    overrides += sorted((o for o in community_overrides if o.occurred_at in period),
                        key=lambda o: (o.case_id, o.version))
    return DataQualityReport(period, late_after, len(scoped), tuple(missing), tuple(disorder),
                             tuple(late), tuple(corrections), tuple(quarantined),
                             tuple(amendments), tuple(overrides), _imported(scoped),
                             tuple(_interested(scoped)),
                             tuple(sorted((PatrolWithoutCoverage(p.patrol_id, p.community,
                                                                 p.grid, p.start)
                                           for p in patrols
                                           if p.start in period and not p.visits),
                                          key=lambda p: (p.started_at, p.patrol))),
                             tuple(_closed_unverified(scoped)))


def _closed_unverified(cases: Sequence[Case]) -> list[ClosedUnverified]:
    return [ClosedUnverified(case.case_id, case.reference, case.community,
                             case.dims.get("grid"), case.dims.get("category"),
                             case.milestones.get("closed"), "rectified" in case.milestones)
            for case in cases if case.subject == "hazard" and case.status == "closed"]


def _overrides(case: Case) -> list[OverrideUsed]:
    return [OverrideUsed(case.case_id, case.subject, f.version, f.name, f.person, f.role,
                         f.original_at, f.recorded_at, f.override)
            for f in case.facts if f.override is not None]


def _imported(cases: Sequence[Case]) -> tuple[ImportedFacts, ...]:
    facts: dict[str, int] = {}
    touched: dict[str, set[str]] = {}
    for case in cases:
        for fact in case.facts:
            if fact.imported_by is not None:
                facts[fact.imported_by] = facts.get(fact.imported_by, 0) + 1
                touched.setdefault(fact.imported_by, set()).add(case.case_id)
    return tuple(ImportedFacts(importer, count, len(touched[importer]))
                 for importer, count in sorted(facts.items(), key=lambda i: (-i[1], i[0])))


def _interested(cases: Sequence[Case]) -> list[InterestedCorrection]:
    found = []
    for case in cases:
        for c in case.corrections:
            codes = interests(case, c)
            if codes:
                found.append(InterestedCorrection(
                    case.case_id, case.subject, c.version, c.corrects, c.fact, c.what,
                    c.reason, c.before, c.after, c.person, c.role, codes))
    return found
