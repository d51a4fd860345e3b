"""Patrols and patrol plans: who walked which buildings of a grid, and how often they should.

A **patrol** (``Patrol``) is one walk of a grid by a grid worker or leader: when it
started (its first fact's time) and ended (within a day of the start), which buildings
and units it visited (``PatrolVisit``: an area, and the spots looked at there, such as
storage rooms and basements) and what was found. A patrol that visited nothing is
recorded all the same: the data-quality report flags it. Its coverage and its end are
corrected by facts of their own, each saying why.

A **patrol plan** (``PatrolPlan``, one per grid: ``patrol_plan_id``) says what is to be
visited how often (``PatrolRule``: every building weekly, storage rooms monthly); it is
adopted once and revised after, each version in force from its effective time
(``rules_at``), so coverage is measured against the plan as it stood.

The domain checks shape only (texts given, names unique, times in order); that each area
is a building or unit of the patrol's (the plan's) grid is the service's check, against
the community's areas.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid5

from attrs import field, frozen

from resilience.domain.base import Context, FactAggregate, personal_data
from resilience.domain.organisation import NAMESPACE
from resilience.domain.validation import (
    check_items,
    check_moment,
    check_text,
    check_uuid,
    non_empty_field,
    optional_non_empty_field,
    require_text,
)
from resilience.domain.values import parse_enum
from resilience.errors import InvalidInputError, InvalidTransitionError
from resilience.i18n import N_, _

MAX_PATROL = timedelta(hours=24)
"""The longest a patrol lasts: its end is at most this long after its start."""


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


def _named(item: object, name: str) -> str:
    """``item`` as given, if it is a non-blank text (kept unstripped, as the validators of
    the values' other texts keep theirs)."""
    require_text(item, name)
    return check_text(item, name)


def _spots(value: object) -> tuple[str, ...]:
    """A list or tuple of spots, each a non-blank text, as a tuple."""
    return check_items(value, "spots", _named)


def _areas(value: object) -> tuple[str, ...]:
    """A list or tuple of area ids, each a non-blank text and listed once (a target listed
    twice would be asked twice a window, and weigh double in the coverage), as a tuple."""
    areas = check_items(value, "areas", _named)
    repeated = sorted({area for area in areas if areas.count(area) > 1})
    if repeated:
        raise InvalidInputError(_("a rule lists each area once; listed more than once: "
                                  "{areas}").format(areas=", ".join(repeated)))
    return areas


def _frequency(value: object) -> Frequency:
    return parse_enum(Frequency, value, "frequency")


@frozen
class PatrolVisit:
    """One area a patrol visited (a building id, or a unit's area id: ``"30/1"``, see
    ``organisation.unit_area_id``) and the spots looked at there (``"storage_room"``)."""

    area: str = field(validator=non_empty_field)
    spots: tuple[str, ...] = field(default=(), converter=_spots)


@frozen
class PatrolRule:
    """One rule of a patrol plan: its ``name``; how often each target is to be visited;
    the ``spot`` to look at there (None: the area itself); the buildings or units targeted
    (``areas``; none: every building of the grid)."""

    name: str = field(validator=non_empty_field)
    frequency: Frequency = field(converter=_frequency)
    spot: str | None = field(default=None, validator=optional_non_empty_field)
    areas: tuple[str, ...] = field(default=(), converter=_areas)


def patrol_plan_id(community_id: UUID, grid: str) -> UUID:
    """The id of the patrol plan of ``community_id``'s ``grid`` (one plan a grid)."""
    return uuid5(NAMESPACE, f"patrol_plan/{community_id}/{grid}")


def _visits(value: object) -> tuple[PatrolVisit, ...]:
    """A patrol's visits: a list or tuple of ``PatrolVisit`` (possibly none)."""
    def visit(item: object, name: str) -> PatrolVisit:
        if type(item) is not PatrolVisit:
            raise InvalidInputError(_("{name} must be a PatrolVisit, got {value}").format(
                name=name, value=type(item).__name__))
        return item
    return check_items(value, "visits", visit)


def _rules(value: object) -> tuple[PatrolRule, ...]:
    """A plan's rules: a non-empty list or tuple of ``PatrolRule``, their names unique."""
    def rule(item: object, name: str) -> PatrolRule:
        if type(item) is not PatrolRule:
            raise InvalidInputError(_("{name} must be a PatrolRule, got {value}").format(
                name=name, value=type(item).__name__))
        return item
    rules = check_items(value, "rules", rule)
    if not rules:
        raise InvalidInputError(_("a patrol plan has at least one rule"))
    names = [r.name for r in rules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInputError(_("a patrol plan's rule names are unique: {names} "
                                  "given twice").format(names=", ".join(twice)))
    return rules


class Patrol(FactAggregate):
    """One patrol of a grid: its start (first fact), end, visits and findings."""

    TOPIC = "resilience.patrol:Patrol"
    kind = N_("patrol")
    beginning = N_("the patrol's start")

    community_id: UUID
    grid: str
    ended_at: datetime
    visits: tuple[PatrolVisit, ...]
    """The areas visited, as last corrected."""
    findings: str

    class Event(FactAggregate.Event):
        TOPIC = "resilience.patrol:Event"
        aggregate_kind = "patrol"

    class Recorded(Event, FactAggregate.Created):
        """A patrol of ``grid`` started at the fact's ``occurred_at`` and ended at
        ``ended_at``, visiting ``visits``."""

        TOPIC = "resilience.patrol:Recorded"
        personal = personal_data({"findings": "actor"})
        noun = N_("start")
        community_id: UUID
        grid: str
        ended_at: datetime
        visits: tuple[PatrolVisit, ...]
        findings: str

        def apply(self, aggregate: "Patrol") -> None:
            aggregate.community_id = self.community_id
            aggregate.grid = self.grid
            aggregate.ended_at = self.ended_at
            aggregate.visits = self.visits
            aggregate.findings = self.findings

        def describe(self) -> str:
            visited = ", ".join(_said(v) for v in self.visits) or "nothing"
            return (f"patrol of grid {self.grid} until {self.ended_at.isoformat()}, "
                    f"visited {visited}" + (f": {self.findings}" if self.findings else ""))

    Created = Recorded  # see Incident.Created

    class CoverageCorrected(Event):
        """What the patrol visited, corrected (a fact, not a ``Correction``: it replaces
        the visits, not one fact's time or details)."""

        TOPIC = "resilience.patrol:CoverageCorrected"
        personal = personal_data({"reason": "actor"})
        visits: tuple[PatrolVisit, ...]
        reason: str

        def apply(self, aggregate: "Patrol") -> None:
            aggregate.visits = self.visits

        def describe(self) -> str:
            visited = ", ".join(_said(v) for v in self.visits) or "nothing"
            return f"coverage corrected to {visited}: {self.reason}"

    class EndCorrected(Event):
        TOPIC = "resilience.patrol:EndCorrected"
        personal = personal_data({"reason": "actor"})
        ended_at: datetime
        reason: str

        def apply(self, aggregate: "Patrol") -> None:
            aggregate.ended_at = self.ended_at

        def describe(self) -> str:
            return f"end corrected to {self.ended_at.isoformat()}: {self.reason}"

    class NoteAdded(Event):
        TOPIC = "resilience.patrol:NoteAdded"
        personal = personal_data({"text": "actor"})
        text: str

        def describe(self) -> str:
            return f"note: {self.text}"

    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "resilience.patrol:TimeCorrected"

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "resilience.patrol:DetailsCorrected"

    def __init__(self) -> None:  # (eventsourcing would make one from the annotations)
        super().__init__()

    @classmethod
    def record(
        cls, ctx: Context, *, patrol_id: UUID, community_id: UUID, grid: str,
        ended_at: datetime, visits: tuple[PatrolVisit, ...] | list[PatrolVisit],
        findings: str = "",
    ) -> "Patrol":
        """A patrol of ``grid`` that started at ``ctx.occurred_at`` and ended at
        ``ended_at`` (after it, within a day), visiting ``visits`` (possibly none)."""
        check_uuid(community_id, "community_id")
        _check_end(ctx.occurred_at, check_moment(ended_at, "ended_at"), InvalidInputError)
        return cls._create(
            cls.Recorded,
            id=patrol_id,
            timestamp=ctx.recorded_at,
            occurred_at=ctx.occurred_at,
            actor=ctx.actor,
            command_id=ctx.command_id,
            community_id=community_id,
            grid=require_text(grid, "grid"),
            ended_at=ended_at,
            visits=_visits(visits),
            findings=check_text(findings, "findings").strip(),
        )

    @property
    def started_at(self) -> datetime:
        return self.occurred[1]

    def correct_coverage(self, ctx: Context,
                         visits: tuple[PatrolVisit, ...] | list[PatrolVisit],
                         reason: str) -> None:
        """Record what the patrol really visited, saying why."""
        checked = _visits(visits)
        reason = require_text(reason, "reason")
        if checked == self.visits:
            raise InvalidTransitionError(_("the patrol's visits are these already"))
        self._after_beginning(ctx)
        self._trigger(self.CoverageCorrected, ctx, visits=checked, reason=reason)

    def correct_end(self, ctx: Context, ended_at: datetime, reason: str) -> None:
        """Record when the patrol really ended (after its start, within a day), saying why."""
        _check_end(self.started_at, check_moment(ended_at, "ended_at"), InvalidInputError)
        reason = require_text(reason, "reason")
        if ended_at == self.ended_at:
            raise InvalidTransitionError(_("the patrol ended at {end} already").format(
                end=ended_at.isoformat()))
        self._after_beginning(ctx)
        self._trigger(self.EndCorrected, ctx, ended_at=ended_at, reason=reason)

    def add_note(self, ctx: Context, text: str) -> None:
        text = require_text(text, "text")
        self._after_beginning(ctx)
        self._trigger(self.NoteAdded, ctx, text=text)

    def _check_times(self, times: dict[int, datetime]) -> None:
        self._check_beginning(times)
        _check_end(times[1], self.ended_at, InvalidTransitionError)


def _check_end(start: datetime, end: datetime, error: type[Exception]) -> None:
    """Refuse (with ``error``) an end that is not after ``start``, or more than a day on."""
    if not start < end <= start + MAX_PATROL:
        raise error(_("a patrol ends after it starts ({start}) and within 24 hours of it; "
                      "got {end}").format(start=start.isoformat(), end=end.isoformat()))


def _said(visit: PatrolVisit) -> str:
    return visit.area + (f" ({', '.join(visit.spots)})" if visit.spots else "")


class PatrolPlan(FactAggregate):
    """The patrol plan of one grid: its rules, as adopted and revised."""

    TOPIC = "resilience.patrol:PatrolPlan"
    kind = N_("patrol plan")
    beginning = N_("the plan's adoption")

    community_id: UUID
    grid: str
    versions: dict[int, tuple[PatrolRule, ...]]
    """The rules each adoption or revision set, by its version."""

    class Event(FactAggregate.Event):
        TOPIC = "resilience.patrol:PatrolPlan.Event"
        aggregate_kind = "patrol_plan"

    class Adopted(Event, FactAggregate.Created):
        TOPIC = "resilience.patrol:Adopted"
        noun = N_("adoption")
        community_id: UUID
        grid: str
        rules: tuple[PatrolRule, ...]

        def apply(self, aggregate: "PatrolPlan") -> None:
            aggregate.community_id = self.community_id
            aggregate.grid = self.grid
            aggregate.versions[self.originator_version] = self.rules

        def describe(self) -> str:
            return f"patrol plan of grid {self.grid} adopted: {_rules_said(self.rules)}"

    Created = Adopted  # see Incident.Created

    class Revised(Event):
        TOPIC = "resilience.patrol:Revised"
        personal = personal_data({"reason": "actor"})
        noun = N_("revision")
        rules: tuple[PatrolRule, ...]
        reason: str

        def apply(self, aggregate: "PatrolPlan") -> None:
            aggregate.versions[self.originator_version] = self.rules

        def describe(self) -> str:
            return f"patrol plan revised: {_rules_said(self.rules)} ({self.reason})"

    # Topics under the plan's name, so their fact names are the corrections' own.
    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "resilience.patrol:PatrolPlan.TimeCorrected"

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "resilience.patrol:PatrolPlan.DetailsCorrected"

    def __init__(self) -> None:
        super().__init__()
        self.versions = {}

    @classmethod
    def adopt(cls, ctx: Context, *, community_id: UUID, grid: str,
              rules: tuple[PatrolRule, ...] | list[PatrolRule]) -> "PatrolPlan":
        """``grid``'s patrol plan, adopted with ``rules`` (at least one, names unique)."""
        check_uuid(community_id, "community_id")
        grid = require_text(grid, "grid")
        return cls._create(
            cls.Adopted,
            id=patrol_plan_id(community_id, grid),
            timestamp=ctx.recorded_at,
            occurred_at=ctx.occurred_at,
            actor=ctx.actor,
            command_id=ctx.command_id,
            community_id=community_id,
            grid=grid,
            rules=_rules(rules),
        )

    @property
    def adopted_at(self) -> datetime:
        return self.occurred[1]

    @property
    def rules(self) -> tuple[PatrolRule, ...]:
        """The rules in force now: the latest version by effective time (ties: the last
        recorded)."""
        return self.versions[max(self.versions, key=lambda v: (self.occurred[v], v))]

    def rules_at(self, moment: datetime) -> tuple[PatrolRule, ...]:
        """The rules in force at ``moment``: those of the latest adoption or revision dated
        at or before it (ties: the last recorded); none before the adoption."""
        check_moment(moment, "moment", query=True)
        dated = [(self.occurred[v], v) for v in self.versions if self.occurred[v] <= moment]
        return self.versions[max(dated)[1]] if dated else ()

    def revise(self, ctx: Context, rules: tuple[PatrolRule, ...] | list[PatrolRule],
               reason: str) -> None:
        """New rules for the grid, in force from ``ctx.occurred_at``, saying why."""
        checked = _rules(rules)
        reason = require_text(reason, "reason")
        self._after_beginning(ctx)
        self._trigger(self.Revised, ctx, rules=checked, reason=reason)

    def _check_times(self, times: dict[int, datetime]) -> None:
        self._check_beginning(times)


def _rules_said(rules: tuple[PatrolRule, ...]) -> str:
    return "; ".join(
        f"{r.name}: {r.frequency.value}" + (f" {r.spot}" if r.spot else "")
        + (f" of {', '.join(r.areas)}" if r.areas else "") for r in rules)
