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
"""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import attrs
from attrs import frozen

from resilience.metrics.cases import Amendment, Case
from resilience.metrics.definitions import MetricDefinition
from resilience.metrics.period import Period
from resilience.metrics.tables import render_table
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

    @property
    def is_clean(self) -> bool:
        """Nothing missing, out of order, late, corrected or quarantined. Amendments after
        closure don't count on their own: each is a correction or a record, which the
        other sections already judge."""
        return not (self.missing or self.out_of_order or self.late or self.corrections
                    or self.quarantined)

    def render(self) -> str:
        minutes = self.late_after.total_seconds() / 60
        out = [f"Data quality over {self.period}: {self.cases} cases checked", ""]
        if self.quarantined:  # shown only when there are any: the store needs attention
            out += [f"Quarantined events ({len(self.quarantined)}): stored events the views "
                    "could not fold, left out of every figure; fix the cause (e.g. an "
                    "upcaster) and rebuild the views",
                    render_table(["position", "aggregate", "version", "topic", "error"], [
                        [str(q.position), q.aggregate_id, str(q.version), q.topic, q.error]
                        for q in self.quarantined]), ""]
        out.append(f"Missing milestones ({len(self.missing)}): a target can't be graded")
        if self.missing:
            out.append(render_table(["case", "subject", "missing", "can't grade"], [
                [m.case_id, m.subject, ", ".join(m.missing), ", ".join(m.ungraded)]
                for m in self.missing]))
        out += ["", f"Out of order ({len(self.out_of_order)})"]
        if self.out_of_order:
            out.append(render_table(["case", "expected", "but"], [
                [o.case_id, f"{o.expected_first} before {o.expected_then}",
                 f"{o.expected_then} {o.then_at.isoformat()} < {o.first_at.isoformat()}"]
                for o in self.out_of_order]))
        out += ["", f"Recorded more than {minutes:g} min late ({len(self.late)})"]
        if self.late:
            out.append(render_table(["case", "version", "fact", "happened", "late by"], [
                [r.case_id, str(r.version), r.fact, r.occurred_at.isoformat(),
                 f"{r.delay.total_seconds() / 60:g} min"] for r in self.late]))
        out += ["", f"Corrections ({len(self.corrections)})"]
        if self.corrections:
            out.append(render_table(["case", "version", "corrects", "what", "reason"], [
                [c.case_id, str(c.version), f"{c.fact} (v{c.corrects})",
                 c.what if c.before is None else
                 f"time {c.before.isoformat()} -> {c.after.isoformat() if c.after else '?'}",
                 c.reason] for c in self.corrections]))
        out += ["", f"Amendments after closure ({len(self.amendments)})"]
        if self.amendments:
            out.append(render_table(["case", "version", "by", "recorded", "fact", "what"], [
                [a.case_id, str(a.version), f"{a.person} ({a.role})", a.recorded_at.isoformat(),
                 a.fact if a.corrects is None else f"{a.fact} (v{a.corrects})", a.what]
                for a in self.amendments]))
        return "\n".join(out)


def data_quality(cases: Iterable[Case], graded: Sequence[MetricDefinition], *,
                 period: Period, late_after: timedelta = DEFAULT_LATE_AFTER,
                 quarantined: Sequence[QuarantinedEvent] = ()) -> DataQualityReport:
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
            if fact.recorded_at - fact.original_at > late_after:
                late.append(LateRecord(case.case_id, case.subject, fact.version, fact.name,
                                       fact.original_at, fact.recorded_at))
        for c in case.corrections:
            corrections.append(CorrectionMade(case.case_id, case.subject, c.version, c.corrects,
                                              c.fact, c.what, c.reason, c.before, c.after))
        amendments += [AmendmentMade(**attrs.asdict(a, recurse=False), case_id=case.case_id,
                                     subject=case.subject) for a in case.amendments]
    return DataQualityReport(period, late_after, len(scoped), tuple(missing), tuple(disorder),
                             tuple(late), tuple(corrections), tuple(quarantined),
                             tuple(amendments))
