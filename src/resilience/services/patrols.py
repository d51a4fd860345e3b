"""Commands on patrols and patrol plans: who walked which buildings of a grid, and how often
the grid's plan asks them to.

A patrol is recorded once it has been walked (its start, end, the buildings and units it
covered, what was found); a grid's patrol plan (one per grid: ``patrol_plan_id``) says
how often each building, or a spot of it, is to be visited, and is revised as facts
(resilience.domain.patrol). The areas a patrol visited and a plan's rules target are
checked here against the community: each a building or unit inside the grid.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID, uuid4, uuid5

from resilience.domain.base import Context
from resilience.domain.organisation import NAMESPACE, Community
from resilience.domain.patrol import Patrol, PatrolPlan, PatrolRule, PatrolVisit, patrol_plan_id
from resilience.domain.policy import Target
from resilience.domain.validation import check_items, check_uuid, require_text, shown
from resilience.domain.values import Actor, AreaKind
from resilience.errors import InvalidInputError, NotFoundError
from resilience.i18n import N_, _
from resilience.services.core import FactService, Receipt, Store

Visits = Sequence[PatrolVisit | str]
"""A patrol's visits as a caller gives them: a visit, or the id of the area visited."""


def patrol_id_for(community: UUID, key: str) -> UUID:
    """A stable patrol id from a caller's key (a scenario key, a command id)."""
    return uuid5(NAMESPACE, f"patrol/{community}/{key}")


class Patrols(FactService[Patrol]):
    """``engine.patrols``: patrols walked, and each grid's patrol plan."""

    aggregate_class = Patrol
    name = "patrols"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._plans = _Plans(store)

    def record(
        self, community: UUID, *, grid: str, ended_at: datetime, visits: Visits = (),
        findings: str = "", actor: Actor, occurred_at: datetime | None = None,
        patrol_id: UUID | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record a patrol of ``grid`` that started at ``occurred_at`` and ended at
        ``ended_at`` (within a day), visiting ``visits`` (each a PatrolVisit, or an area
        id: a visit with no spots named); none is allowed, and the data-quality report
        flags it.

        ``grid`` must be one of the community's grids (NotFoundError if unknown,
        InvalidInputError if another kind of area); each visit's area a building or a
        unit inside it (NotFoundError, InvalidInputError); the visits a list or tuple
        (InvalidInputError). The patrol's id is ``patrol_id`` if given, else
        ``patrol_id_for(community, command_id)`` with a command id, else a random UUID.
        Who may record is decided first, on the grid named: a refused caller learns
        nothing of the community's areas.
        """
        ctx = self._store.context(actor, occurred_at, command_id)
        if patrol_id is not None:
            check_uuid(patrol_id, "patrol_id")
        walked = _visits(visits)
        fresh = patrol_id is None and not command_id  # a uuid4: nobody else's

        def record() -> Receipt:
            # The community read once, as cached: the insert checks it (Store.deciding).
            org = self._store.current(Community, community)
            new_id = patrol_id if patrol_id is not None else (
                patrol_id_for(community, command_id) if command_id else uuid4())

            def build() -> Patrol:
                self._store.authorize("patrols.record", ctx, org, lambda _: _target(
                    grid if isinstance(grid, str) else None, N_("the new patrol")))
                _check_areas(org, grid, (visit.area for visit in walked), "visits")
                return Patrol.record(ctx, patrol_id=new_id, community_id=community, grid=grid,
                                     ended_at=ended_at, visits=walked, findings=findings)

            return self._store.create(Patrol, new_id, ctx, build, fresh=fresh)

        return self._store.deciding(record)

    def correct_coverage(self, patrol: UUID, visits: Visits, reason: str, *, actor: Actor,
                         occurred_at: datetime | None = None,
                         command_id: str | None = None) -> Receipt:
        """Record what the patrol really covered (``visits``, as ``record`` takes them, each
        checked as there), saying why; the coverage as last corrected is the patrol's.
        Decided as a correction of the patrol's record (its first fact: who recorded it
        corrects their own, within the policy's window). InvalidTransitionError if the
        visits are these already."""
        walked = _visits(visits)

        def correct(p: Patrol, ctx: Context) -> None:
            org = self._store.current(Community, p.community_id)
            _check_areas(org, p.grid, (visit.area for visit in walked), "visits")
            p.correct_coverage(ctx, walked, reason)

        return self._run(patrol, actor, occurred_at, command_id, correct,
                         command="correct_coverage", corrects=1)

    def correct_end(self, patrol: UUID, ended_at: datetime, reason: str, *, actor: Actor,
                    occurred_at: datetime | None = None,
                    command_id: str | None = None) -> Receipt:
        """Record when the patrol really ended (after its start, within a day: else
        InvalidInputError), saying why; decided as ``correct_coverage`` is.
        InvalidTransitionError if it ended then already."""
        return self._run(patrol, actor, occurred_at, command_id,
                         lambda p, ctx: p.correct_end(ctx, ended_at, reason),
                         command="correct_end", corrects=1)

    def add_note(self, patrol: UUID, text: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(patrol, actor, occurred_at, command_id,
                         lambda p, ctx: p.add_note(ctx, text), command="add_note")

    # Plans --------------------------------------------------------------------------

    def adopt_plan(self, community: UUID, grid: str, rules: Sequence[PatrolRule], *,
                   actor: Actor, reason: str | None = None,
                   occurred_at: datetime | None = None,
                   command_id: str | None = None) -> Receipt:
        """Adopt ``rules`` as ``grid``'s patrol plan from ``occurred_at`` on: the grid's
        first plan (``Adopted``), or a revision of the one it has (``Revised``, which needs
        a ``reason``: InvalidInputError without one; an adoption records none, so a reason
        given for the first is not kept). The receipt's aggregate is the plan,
        ``patrol_plan_id(community, grid)``.

        ``grid`` must be one of the community's grids (NotFoundError, InvalidInputError);
        ``rules`` a non-empty list or tuple of PatrolRule with unique names, each rule's
        areas buildings or units inside the grid (NotFoundError, InvalidInputError).
        Decided as ``patrols.adopt_plan`` on the grid, before the rules are checked.
        """
        ctx = self._store.context(actor, occurred_at, command_id)
        check_uuid(community, "community")
        grid = require_text(grid, "grid")
        kept = check_items(rules, "rules", _rule)
        plan_id = patrol_plan_id(community, grid)
        store = self._store

        def decided(org: Community) -> None:
            store.authorize("patrols.adopt_plan", ctx, org, lambda _: _target(
                grid, N_("the grid's patrol plan")))
            _check_grid(org, grid)
            for index, rule in enumerate(kept):
                _check_areas(org, grid, rule.areas, f"rules[{index}].areas")

        def revise(plan: PatrolPlan) -> None:
            decided(store.current(Community, community))
            if reason is None:
                raise InvalidInputError(_("revising the patrol plan of grid {grid} needs a "
                                          "reason").format(grid=grid))
            plan.revise(ctx, kept, reason)

        def record() -> Receipt:
            org = store.current(Community, community)
            if store.exists(plan_id):
                return store.change(PatrolPlan, plan_id, ctx, revise)

            def build() -> PatrolPlan:
                decided(org)
                return PatrolPlan.adopt(ctx, community_id=community, grid=grid, rules=kept)

            return store.create(PatrolPlan, plan_id, ctx, build)

        return store.deciding(record)

    def correct_time(
        self, aggregate_id: UUID, corrects: int, corrected_to: datetime, reason: str, *,
        actor: Actor, occurred_at: datetime | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record that the fact at version ``corrects`` of a patrol, or of a grid's patrol
        plan (``patrol_plan_id``: its adoption or a revision, whose rules in force move
        with it), really happened at ``corrected_to``."""
        if self._is_plan(aggregate_id):
            return self._plans.correct_time(aggregate_id, corrects, corrected_to, reason,
                                            actor=actor, occurred_at=occurred_at,
                                            command_id=command_id)
        return super().correct_time(aggregate_id, corrects, corrected_to, reason,
                                    actor=actor, occurred_at=occurred_at,
                                    command_id=command_id)

    def correct_details(
        self, aggregate_id: UUID, corrects: int, details: str, reason: str, *,
        actor: Actor, occurred_at: datetime | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record a better description of the fact at version ``corrects`` of a patrol or
        of a patrol plan (a plan's rules stay as recorded: a revision changes them)."""
        if self._is_plan(aggregate_id):
            return self._plans.correct_details(aggregate_id, corrects, details, reason,
                                               actor=actor, occurred_at=occurred_at,
                                               command_id=command_id)
        return super().correct_details(aggregate_id, corrects, details, reason,
                                       actor=actor, occurred_at=occurred_at,
                                       command_id=command_id)

    def _is_plan(self, aggregate_id: object) -> bool:
        if not isinstance(aggregate_id, UUID):
            return False  # refused by the patrol's command, as any id that is none
        try:
            self._store.current(PatrolPlan, aggregate_id)
        except NotFoundError:
            return False
        return True

    def plan(self, community: UUID, grid: str) -> PatrolPlan | None:
        """``grid``'s patrol plan, all its versions (``rules_at``), as stored now; None if
        the grid has none."""
        check_uuid(community, "community")
        try:
            return self._store.load(PatrolPlan,
                                    patrol_plan_id(community, require_text(grid, "grid")))
        except NotFoundError:
            return None

    def _target(self, aggregate: Patrol, ctx: Context, subject: object,
                area: object) -> Target:
        return _target(aggregate.grid, N_("this patrol"))


class _Plans(FactService[PatrolPlan]):
    """The corrections of patrol plans, run by ``Patrols.correct_time`` and
    ``correct_details`` for a plan's id: named ``patrols`` so the policy decides them as
    the patrols' own corrections, on the plan's grid."""

    aggregate_class = PatrolPlan
    name = "patrols"

    def _target(self, aggregate: PatrolPlan, ctx: Context, subject: object,
                area: object) -> Target:
        return _target(aggregate.grid, N_("the grid's patrol plan"))


def _target(grid: str | None, what: str) -> Target:
    """A patrol or a plan as the policy sees it: its grid."""
    return Target(area=grid, what=what, area_is=N_("the patrol's grid"))


def _visit(value: object, name: str) -> PatrolVisit:
    if type(value) is PatrolVisit:
        return value
    if isinstance(value, str):
        return PatrolVisit(require_text(value, name))
    raise InvalidInputError(_("{name} must be a PatrolVisit or an area id, got {value}").format(
        name=name, value=shown(value)))


def _visits(visits: object) -> tuple[PatrolVisit, ...]:
    return check_items(visits, "visits", _visit)


def _rule(value: object, name: str) -> PatrolRule:
    if type(value) is not PatrolRule:
        raise InvalidInputError(_("{name} must be a PatrolRule, got {value}").format(
            name=name, value=shown(value)))
    return value


def _check_grid(org: Community, grid: str) -> None:
    if org.area(grid).kind is not AreaKind.GRID:
        raise InvalidInputError(_("{grid} is not a grid of {community}").format(
            grid=grid, community=org.name))


def _check_areas(org: Community, grid: object, areas: Iterable[object], name: str) -> None:
    """Refuse a grid that is none of the community's, and any of ``areas`` that is not a
    building or unit inside it."""
    grid_id = require_text(grid, "grid")
    _check_grid(org, grid_id)
    for area in areas:
        area_id = require_text(area, name)
        found = org.area(area_id)
        if found.kind not in (AreaKind.BUILDING, AreaKind.UNIT):
            raise InvalidInputError(
                _("{name}: {area} is a {kind}, not a building or unit").format(
                    name=name, area=area_id, kind=found.kind.value))
        if not org.within(area_id, grid_id):
            raise InvalidInputError(_("{name}: {area} is not in grid {grid}").format(
                name=name, area=area_id, grid=grid_id))
