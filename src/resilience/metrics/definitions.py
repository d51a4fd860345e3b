"""Metric definitions are values: change one, or add one, and it is computed over all history.

A duration metric measures, for every case it applies to, the time from a
start milestone to an end milestone, in a unit; an optional target grades
it. The target is met when at least ``percentile`` percent of the measured
cases meet it (NFPA 1710's rule is 90 percent), which is the same as the
``percentile``-th percentile (nearest rank) being within the target.
"""

import json
import math
import typing
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs
from attrs import field, frozen

from resilience.domain.hazard import HazardStatus
from resilience.domain.incident import IncidentStatus
from resilience.domain.named import Named
from resilience.domain.service import OrderStatus
from resilience.domain.validation import check_bool, check_text, shown
from resilience.domain.values import ClosureReason, IncidentType, ServiceOutcome, Severity
from resilience.errors import InvalidInputError, NotFoundError
from resilience.i18n import _
from resilience.metrics.cases import Case
from resilience.metrics.milestones import CYCLE_MILESTONES, MILESTONES, Subject

Unit = Literal["s", "min", "h", "d"]
Per = Literal["case", "reopening"]
SECONDS_PER: Mapping[str, float] = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
"""Seconds in each unit a metric can be measured in."""


def _names(value: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if type(value) not in (list, tuple) or not all(type(v) is str and v for v in value):
        raise InvalidInputError(_("a filter takes a list of names, got {value}").format(
            value=shown(value)))
    return tuple(value)


def _number(value: object) -> bool:
    return type(value) in (int, float) and math.isfinite(typing.cast(float, value))


_STATUSES: Mapping[Subject, tuple[str, ...]] = {
    "incident": tuple(IncidentStatus), "order": tuple(OrderStatus),
    "hazard": tuple(HazardStatus)}
_KNOWN: Mapping[str, tuple[str, ...]] = {
    "exclude_statuses": tuple(dict.fromkeys([*IncidentStatus, *OrderStatus, *HazardStatus])),
    "exclude_outcomes": tuple(ServiceOutcome),
    "exclude_closures": tuple(ClosureReason),
}
"""The names each exclusion can list."""


def _known_names(instance: object, attribute: "attrs.Attribute[tuple[str, ...]]",
                 value: tuple[str, ...]) -> None:
    known = _KNOWN[attribute.name]
    unknown = [name for name in value if name not in known]
    if unknown:
        raise InvalidInputError(_("unknown {field} {names}; known: {known}").format(
            field=attribute.name, names=shown(unknown), known=", ".join(known)))


def _flag(instance: object, attribute: "attrs.Attribute[bool]", value: bool) -> None:
    check_bool(value, attribute.name)  # a truthy "no" must not include the drills


@frozen
class CaseFilter:
    """Which cases a metric applies to. Empty tuples mean "any" (or, for the exclusions,
    "none left out")."""

    incident_types: tuple[str, ...] = field(default=(), converter=_names)
    severities: tuple[str, ...] = field(default=(), converter=_names)
    categories: tuple[str, ...] = field(default=(), converter=_names)
    items: tuple[str, ...] = field(default=(), converter=_names)
    include_drills: bool = field(default=False, validator=_flag)
    """Whether drills count (True or False; anything else is refused)."""
    requires: tuple[str, ...] = field(default=(), converter=_names)
    """Milestones a case must have for the metric to apply (e.g. turnout applies only
    to incidents that dispatched someone)."""
    exclude_statuses: tuple[str, ...] = field(default=(), converter=_names,
                                              validator=_known_names)
    """Leave out cases in these statuses (``Case.status``: an incident's, order's or
    hazard's)."""
    exclude_outcomes: tuple[str, ...] = field(default=(), converter=_names,
                                              validator=_known_names)
    """Leave out orders whose standing completion had these outcomes (fixed, not_fixed)."""
    exclude_closures: tuple[str, ...] = field(default=(), converter=_names,
                                              validator=_known_names)
    """Leave out incidents whose standing closure gave these reasons (resolved,
    false_alarm, duplicate, cancelled)."""

    def admits(self, case: Case) -> bool:
        return self.why_excluded(case) is None

    def why_excluded(self, case: Case) -> str | None:
        """None if the filter admits the case, else why not: the first of ``"drill"``
        (a drill, drills not included), ``"<dimension> <value>"`` (e.g. ``"incident_type
        medical"``: a type, severity, category or item not listed; ``unknown`` for none),
        ``"<status>"`` (e.g. ``"cancelled"``), ``"closed as <reason>"``, ``"outcome
        <outcome>"``, ``"no <milestone>"`` (a required milestone missing)."""
        if case.drill and not self.include_drills:
            return "drill"
        checks = (("incident_type", self.incident_types), ("severity", self.severities),
                  ("category", self.categories), ("item", self.items))
        for dim, allowed in checks:
            value = case.dims.get(dim)
            if allowed and value not in allowed:
                return f"{dim} {value if value is not None else 'unknown'}"
        if case.status in self.exclude_statuses:
            return case.status
        if case.subject == "incident" and case.closure in self.exclude_closures:
            return f"closed as {case.closure}"
        if case.subject == "order" and case.closure in self.exclude_outcomes:
            return f"outcome {case.closure}"
        missing = next((m for m in self.requires if m not in case.milestones), None)
        return None if missing is None else f"no {missing}"


@frozen
class MetricDefinition:
    """How long from ``start`` to ``end`` (milestone names), graded against ``target``:

        MetricDefinition("turnout_ems", "incident", "first_unit_dispatched",
                         "first_unit_en_route", unit="s", target=60,
                         applies_to=CaseFilter(incident_types=("medical",)))
    """

    name: str
    subject: Subject
    start: str
    end: str
    unit: Unit = "min"
    target: float | None = None
    """In ``unit``; a case meets it when its duration is at most the target."""
    percentile: float = 90
    """Share (in percent) of cases that must meet the target; also the percentile reported."""
    applies_to: CaseFilter = CaseFilter()
    description: str = ""
    per: Per = "case"
    """What one measured unit is: a case (from its ``start`` to its ``end`` milestone), or
    each reopening of a case (from and to milestones of that reopening's cycle,
    ``CYCLE_MILESTONES``)."""

    def __attrs_post_init__(self) -> None:
        if not check_text(self.name, "a metric's name").strip():
            raise InvalidInputError(_("a metric needs a name"))
        if type(self.subject) is not str or self.subject not in MILESTONES:
            raise InvalidInputError(
                _("subject must be 'incident', 'order' or 'hazard', got {value}").format(
                    value=shown(self.subject)))
        known = MILESTONES[self.subject]
        hazard = self.subject == "hazard"  # "a hazard", where the others take "an"
        for which, milestone in (("start", self.start), ("end", self.end)):
            if type(milestone) is not str or milestone not in known:
                message = (_("metric {name}: {which} {milestone} is not a milestone of a "
                             "hazard; known: {known}") if hazard else
                           _("metric {name}: {which} {milestone} is not a milestone of an "
                             "{subject}; known: {known}"))
                raise InvalidInputError(message.format(
                    name=self.name, which=which, milestone=shown(milestone),
                    subject=self.subject, known=", ".join(known)))
        if self.start == self.end:
            raise InvalidInputError(
                _("metric {name}: start and end are the same milestone").format(name=self.name))
        if type(self.per) is not str or self.per not in typing.get_args(Per):
            raise InvalidInputError(_("per must be 'case' or 'reopening', got {value}").format(
                value=shown(self.per)))
        if self.per == "reopening":
            cycle = CYCLE_MILESTONES[self.subject]
            for which, milestone in (("start", self.start), ("end", self.end)):
                if milestone not in cycle:
                    raise InvalidInputError(
                        _("metric {name}: measured per reopening, its {which} must be a "
                          "milestone of a reopening's cycle ({cycle}), not "
                          "{milestone}").format(name=self.name, which=which,
                                                cycle=", ".join(cycle),
                                                milestone=shown(milestone)))
        if type(self.unit) is not str or self.unit not in SECONDS_PER:
            raise InvalidInputError(_("unit must be one of {units}").format(
                units=", ".join(SECONDS_PER)))
        if self.target is not None and not _number(self.target):
            raise InvalidInputError(_("target must be a number of {unit}, got {value}").format(
                unit=self.unit, value=shown(self.target)))
        if not _number(self.percentile) or not 0 < self.percentile <= 100:
            raise InvalidInputError(_("percentile must be in (0, 100], got {value}").format(
                value=shown(self.percentile)))
        if not isinstance(self.applies_to, CaseFilter):
            raise InvalidInputError(_("applies_to must be a CaseFilter"))
        for milestone in self.applies_to.requires:
            if milestone not in known:
                message = (_("metric {name}: requires {milestone}, not a milestone of a "
                             "hazard") if hazard else
                           _("metric {name}: requires {milestone}, not a milestone of an "
                             "{subject}"))
                raise InvalidInputError(message.format(
                    name=self.name, milestone=shown(milestone), subject=self.subject))
        for name, kind in (("incident_types", IncidentType), ("severities", Severity)):
            known_values = [member.value for member in kind]
            unknown = [v for v in getattr(self.applies_to, name) if v not in known_values]
            if unknown:
                raise InvalidInputError(
                    _("metric {name}: unknown {field} {names}; known: {known}").format(
                        name=self.name, field=name, names=shown(unknown),
                        known=", ".join(known_values)))
        self._check_exclusions()

    def _check_exclusions(self) -> None:
        """Refuse exclusions a case of the subject can't meet: they would leave out nothing."""
        statuses = _STATUSES[self.subject]
        wrong = [s for s in self.applies_to.exclude_statuses if s not in statuses]
        if wrong:
            message = (_("metric {name}: {statuses} is no status of a hazard; known: {known}")
                       if self.subject == "hazard" else
                       _("metric {name}: {statuses} is no status of an {subject}; "
                         "known: {known}"))
            raise InvalidInputError(message.format(name=self.name, statuses=shown(wrong),
                                                   subject=self.subject,
                                                   known=", ".join(statuses)))
        others = {"incident": ("exclude_outcomes",), "order": ("exclude_closures",),
                  "hazard": ("exclude_outcomes", "exclude_closures")}[self.subject]
        for other in others:
            if getattr(self.applies_to, other):
                message = (_("metric {name}: {field} applies to orders, not to incidents")
                           if self.subject == "incident" else
                           _("metric {name}: {field} applies to incidents, not to orders")
                           if self.subject == "order" else
                           _("metric {name}: {field} applies to incidents or orders, not to "
                             "hazards"))
                raise InvalidInputError(message.format(name=self.name, field=other))

    def measure(self, case: Case) -> float | None:
        """The case's duration in the metric's unit, or None if a milestone is missing.
        Measured per reopening: the first reopening's (None if there is none)."""
        return next(iter(self.measure_all(case)), None)

    def units(self, case: Case) -> list[Mapping[str, datetime]]:
        """The milestones of each unit the definition measures on the case: per case,
        ``[case.milestones]``; per reopening, ``case.cycles[1:]`` (each reopening's cycle,
        in the order they happened; none if the case was never reopened). The one rule
        for what a unit is: reports, the data-quality report and reviews all use it."""
        return [case.milestones] if self.per == "case" else list(case.cycles[1:])

    def measure_all(self, case: Case) -> list[float | None]:
        """One duration per measured unit of the case (``units``), in the metric's unit
        (None: a milestone missing): per case, ``[measure(case)]``; per reopening, one for
        each reopening, in the order they happened (none if the case was never reopened)."""
        return [None if (took := self.elapsed(unit)) is None
                else took.total_seconds() / SECONDS_PER[self.unit]
                for unit in self.units(case)]

    def elapsed(self, milestones: Mapping[str, datetime]) -> timedelta | None:
        """The time from ``start`` to ``end`` in one unit's ``milestones`` (one of
        ``units``), or None if either is missing."""
        start, end = milestones.get(self.start), milestones.get(self.end)
        return None if start is None or end is None else end - start

    def applies(self, case: Case) -> bool:
        return case.subject == self.subject and self.applies_to.admits(case)

    # As data --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The definition as JSON-ready data: its fields, the filter's as lists."""
        return attrs.asdict(self, value_serializer=_listed)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MetricDefinition":
        if not isinstance(data, Mapping):
            raise InvalidInputError(_("a metric definition is a JSON object, got {value}").format(
                value=shown(data)))
        if not isinstance(data.get("name"), str):
            raise InvalidInputError(_("a metric needs a name (text), got {value}").format(
                value=shown(data.get("name"))))
        # Numbers first, with their own message: true is not a number, nor is "15".
        for key in ("target", "percentile"):
            if data.get(key) is not None and not _number(data[key]):
                raise InvalidInputError(_("{field} must be a number, got {value}").format(
                    field=key, value=shown(data[key])))
        filters = data.get("applies_to")
        if isinstance(filters, Mapping):
            for key, value in filters.items():
                if key != "include_drills":
                    _names(value)
                elif not isinstance(value, bool):
                    raise InvalidInputError(
                        _("include_drills must be true or false, got {value}").format(
                            value=shown(value)))
        return _read_definition(data)

    @classmethod
    def from_json(cls, text: str) -> "MetricDefinition":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            # Not JSON, a number too long to convert, or nesting too deep to decode.
            raise InvalidInputError(
                _("metric definition is not JSON that can be read: {error}").format(
                    error=exc)) from None
        return cls.from_dict(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


# Reading a definition from data ----------------------------------------------------------
# By the rules of resilience.adapters.converter for values typed by people, applied here
# so that definitions, values of the domain's level, need nothing from the adapters: each
# field by its declared type, strictly (a value of another JSON type is refused, never
# converted; numbers are read as floats), unknown keys refused. Reported is the first
# thing wrong, in field order, then unknown keys, then what the constructor refuses, in
# the converter's (cattrs') words: a field's message ends by naming the class and field.

def _refused(reason: object) -> InvalidInputError:
    """The error refusing a definition for ``reason`` (a message already in the language)."""
    return InvalidInputError(_("not a metric definition: {reason}").format(reason=reason))


def _where(reason: str, cls: str, attribute: str) -> str:
    """``reason`` naming the class and attribute being read, as cattrs words it."""
    return _("{reason} (Structuring class {cls} @ attribute {attribute})").format(
        reason=reason, cls=cls, attribute=attribute)


def _listed(_: object, __: object, value: object) -> object:
    """A filter's tuple as the list JSON has."""
    return list(value) if isinstance(value, tuple) else value


def _read_definition(data: Mapping[str, Any]) -> MetricDefinition:
    """A definition from data ``from_dict`` has checked (name, numbers and filter lists)."""
    values: dict[str, Any] = {}
    for attribute in attrs.fields(MetricDefinition):
        name = attribute.name
        where = name
        if name not in data:
            if attribute.default is attrs.NOTHING:
                raise _refused(_where(repr(name), "MetricDefinition", where))
            continue
        if name == "applies_to":
            values[name] = _read_filter(data[name], where)
        else:
            values[name] = _read_value(data[name], attribute.type, where)
    _refuse_unknown(MetricDefinition, data)
    try:
        return MetricDefinition(**values)
    except InvalidInputError as exc:
        raise _refused(exc) from None


def _read_value(value: object, declared: Any, where: str) -> object:
    """``value`` as the declared text, one of a Literal's names, or a number (or None)."""
    if typing.get_origin(declared) is Literal:
        if value not in typing.get_args(declared):
            raise _refused(_where(_("{value} not in literal {literal}").format(
                value=value, literal=declared), "MetricDefinition", where))
        return value
    if declared is str:
        wanted = _("expected text, got {type} {value}")
        if isinstance(value, str):
            return value
    else:  # float, or float | None
        wanted = _("expected a number, got {type} {value}")
        if value is None and declared is not float:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    raise _refused(_where(wanted.format(type=type(value).__name__, value=shown(value)),
                          "MetricDefinition", where))


def _read_filter(value: object, where: str) -> CaseFilter:
    """A CaseFilter from an object whose lists and flag ``from_dict`` has checked."""
    if not isinstance(value, Mapping):  # what looking up its keys raises
        try:
            iter(value)  # type: ignore[call-overload]
        except TypeError:
            problem = _("argument of type '{type}' is not iterable")
        else:
            problem = _("'{type}' object has no attribute 'keys'")
        raise _refused(_where(problem.format(type=type(value).__name__), "MetricDefinition",
                              where))
    values: dict[str, Any] = {attribute.name: value[attribute.name] if attribute.type is bool
                              else tuple(value[attribute.name])
                              for attribute in attrs.fields(CaseFilter) if attribute.name in value}
    _refuse_unknown(CaseFilter, value)
    try:
        return CaseFilter(**values)
    except InvalidInputError as exc:  # an exclusion naming no status, outcome or closure
        raise _refused(exc) from None


def _refuse_unknown(cls: type[Any], data: Mapping[str, Any]) -> None:
    known = {attribute.name for attribute in attrs.fields(cls)}
    unknown = [str(key) for key in data if key not in known]
    if unknown:
        raise _refused(_("Extra fields in constructor for {cls}: {fields}").format(
            cls=cls.__name__, fields=", ".join(unknown)))


def _m(name: str, subject: Subject, start: str, end: str, unit: Unit,
       target: float | None = None, description: str = "",
       applies_to: CaseFilter = CaseFilter(), per: Per = "case") -> MetricDefinition:
    return MetricDefinition(name, subject, start, end, unit, target, description=description,
                            applies_to=applies_to, per=per)


DISPATCHED = CaseFilter(requires=("first_dispatched",))
RECOVERY = CaseFilter(requires=("recovery_linked",))
"""Recovery is measured on the incidents that linked recovery work (an order or item)."""
ORDER_FLOW = CaseFilter(exclude_statuses=("cancelled", "rejected"))
"""The order-flow metrics leave out cancelled and rejected orders: not a flow to measure."""


BUILT_IN: tuple[MetricDefinition, ...] = Named("BUILT_IN", (
    _m("detection_to_report", "incident", "detected", "reported", "min",
       description="from noticing an incident to telling the community office"),
    _m("report_to_acknowledge", "incident", "reported", "acknowledged", "s",
       description="alarm answering: the office acknowledging a report"),
    _m("acknowledge_to_dispatch", "incident", "acknowledged", "first_dispatched", "s",
       description="alarm processing: from acknowledgement to the first dispatch"),
    _m("turnout", "incident", "first_unit_dispatched", "first_unit_en_route", "s", 80,
       "NFPA 1710 turnout of the first arriving unit: 80 s for fire (define 60 s for EMS); "
       "incidents that dispatched someone", DISPATCHED),
    _m("travel", "incident", "first_unit_en_route", "first_unit_on_scene", "s", 240,
       "NFPA 1710 travel of the first arriving unit: 240 s; incidents that dispatched someone",
       DISPATCHED),
    _m("on_scene_to_contained", "incident", "first_on_scene", "contained", "min",
       description="from the first responder on scene to containment"),
    _m("detection_to_contained", "incident", "detected", "contained", "min", 15,
       "the community's resilience target: contained within 15 minutes of detection"),
    _m("detection_to_resolved", "incident", "detected", "resolved", "min",
       description="from detection to the (final) resolution"),
    _m("resolved_to_closed", "incident", "resolved", "closed", "min",
       description="from resolution to closing the record"),
    _m("detection_to_recovered", "incident", "detected", "recovered", "h",
       description="from detection to full recovery: the last order or improvement item "
       "linked to the incident's recovery done (an order completed and rated); incidents "
       "with recovery work linked", applies_to=RECOVERY),
    _m("reopened_to_contained", "incident", "reopened", "contained", "min",
       description="each reopening to the containment of its cycle", per="reopening"),
    _m("reopened_to_resolved", "incident", "reopened", "resolved", "min",
       description="each reopening to the resolution of its cycle", per="reopening"),
    _m("placed_to_dispatched", "order", "placed", "first_dispatched", "h",
       description="from the resident's order to the community's first dispatch; "
       "cancelled and rejected orders left out", applies_to=ORDER_FLOW),
    _m("dispatched_to_completed", "order", "first_dispatched", "first_completed", "h",
       description="from the first dispatch to the first completion; cancelled and "
       "rejected orders left out", applies_to=ORDER_FLOW),
    _m("placed_to_completed", "order", "placed", "completed", "h",
       description="from the order to its final completion (after any reopening); "
       "cancelled and rejected orders left out", applies_to=ORDER_FLOW),
    _m("completion_vs_expected", "order", "expected", "completed", "h", 0,
       "how late the final completion was against the expected time (negative: early); "
       "meeting the target means on time; cancelled and rejected orders left out",
       ORDER_FLOW),
))
URGENT = CaseFilter(severities=("high", "critical"))
"""The hazards to rectify within hours: of high or critical severity."""

HAZARD_BUILT_IN: tuple[MetricDefinition, ...] = Named("HAZARD_BUILT_IN", (
    _m("found_to_rectified", "hazard", "found", "rectified", "d", 7,
       "time to rectify: from finding a hazard to its standing rectification (after any "
       "reopening), within 7 days"),
    _m("found_to_rectified_urgent", "hazard", "found", "rectified", "h", 24,
       "time to rectify a high or critical hazard: within 24 hours", URGENT),
    _m("rectified_to_verified", "hazard", "rectified", "verified", "d",
       description="from the standing rectification to its verification by someone "
       "other than the person who rectified it"),
    _m("rectified_vs_due", "hazard", "due", "rectified", "h", 0,
       "how late the standing rectification was against the standing assignment's due "
       "date (negative: early); meeting the target means on time"),
))
"""The hazards' built-in metrics (resilience.domain.hazard). Apart from ``BUILT_IN``, the
scorecards' and reviews' default list, whose figures are read from the per-case
summaries; ``builtin`` finds them by name like the others."""
SCORECARD: tuple[MetricDefinition, ...] = Named("SCORECARD", (*BUILT_IN, *HAZARD_BUILT_IN))
"""The metrics a scorecard shows by default: the built-ins and the hazards' (time to
rectify among them), as a grid is assessed in peacetime too."""
BUILT_IN_BY_NAME: Mapping[str, MetricDefinition] = {
    m.name: m for m in (*BUILT_IN, *HAZARD_BUILT_IN)}


def builtin(name: str) -> MetricDefinition:
    """A built-in definition by name (see docs/metrics.md for each one's exact rule)."""
    found = BUILT_IN_BY_NAME.get(check_text(name, "a metric's name"))
    if found is None:
        raise NotFoundError(_("no built-in metric {name}; built-ins: {known}").format(
            name=shown(name), known=", ".join(BUILT_IN_BY_NAME)))
    return found
