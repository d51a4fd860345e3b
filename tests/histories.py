"""Random histories for property tests of the read side.

A history is a list of steps drawn by Hypothesis. Applying it to an engine
runs each step as a command at a moving clock; a step the domain refuses
raises a ResilienceError, records nothing and is skipped, so every history
is a valid one. Histories cover two communities with two grids each,
incidents (drills, reclassifications, responders, containment, reopening),
service orders (dispatch, completion fixed or not, ratings, reopening,
cancelling), improvement items of reviews (planned for an incident or not,
started, completed, cancelled, reopened, reassigned, rescheduled), recovery links
of orders and items to incidents, activities, late records and time corrections; and the
peacetime side: patrol plans (adopted, revised), patrols (covering buildings, units and
spots or nothing; coverage and end corrected), hazards found on a patrol or not (assigned,
rectified, verified by another person or refused for the same one, closed, reopened,
linked to orders, items and incidents) and their time corrections.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from attrs import define, field
from hypothesis import strategies as st

from resilience import (
    Actor,
    Engine,
    Location,
    ManualClock,
    Provider,
    ResilienceError,
    Role,
    UnitSpec,
    ZoneType,
)
from resilience.domain.patrol import PatrolRule, PatrolVisit

STAFF = Actor("desk", Role.COMMUNITY_STAFF)
RESIDENT = Actor("resident", Role.RESIDENT)
WORKERS = (STAFF, Actor("grid-worker", Role.GRID_WORKER))
"""Who records a hazard's steps: a rectification verified by the one who recorded it is
refused, by the other recorded."""
GRIDS = ("g1", "g2")
ZONES = (ZoneType.NEW_BUILD, ZoneType.OLD_ESTATE)
SERVICES = (("home", "repair"), ("meals", "meal_delivery"), ("health", "home_nursing"))
PROVIDERS = (Provider("property_company", "p-prop"), Provider("alliance_member", "p-360"))

INCIDENT_STEPS = ("report", "acknowledge", "dispatch", "en_route", "arrive", "contain",
                  "resolve", "close", "close_false_alarm", "reopen", "reclassify", "note")
ORDER_STEPS = ("accept", "reject", "dispatch", "start", "complete_fixed", "complete_not_fixed",
               "rate", "reopen", "cancel")
IMPROVEMENT_STEPS = ("start", "complete", "cancel", "reopen", "assign", "reschedule", "note")
OWNERS = ("owner-a", "owner-b")
HAZARD_STEPS = ("assign", "rectify", "verify", "close", "reopen", "note", "link_order",
                "link_improvement", "link_incident")
HAZARD_LIFE = ("assign", "rectify", "verify")
"""A hazard's life, more likely among its follow-ups so more hazards are fixed."""
PATROL_STEPS = ("cover", "end", "note")
CATEGORIES = ("clutter", "blocked_exit", "ebike_charging", "gas")
ASSIGNEES = (("household", "hh-1"), ("property_company", "p-prop"), ("provider", "p-360"))


@define
class World:
    """What a history has created so far, by the order it was created in."""

    communities: list[UUID] = field(factory=list)
    incidents: list[UUID] = field(factory=list)
    orders: list[UUID] = field(factory=list)
    improvements: list[UUID] = field(factory=list)
    hazards: list[UUID] = field(factory=list)
    patrols: list[UUID] = field(factory=list)
    plans: list[UUID] = field(factory=list)
    walked: dict[UUID, tuple[UUID, str]] = field(factory=dict)
    """Each patrol's community and grid (a hazard found on one is of its grid)."""
    applied: int = 0
    refused: int = 0

    @property
    def aggregates(self) -> list[UUID]:
        return [*self.communities, *self.incidents, *self.orders, *self.improvements,
                *self.hazards, *self.patrols, *self.plans]


def setup_world(engine: Engine, clock: ManualClock) -> World:
    """Two communities of two grids, each grid with one building of two units."""
    world = World()
    for name in ("East", "West"):
        community = engine.communities.register(
            district="D", subdistrict="S", name=name, actor=STAFF).aggregate_id
        for grid, zone in zip(GRIDS, ZONES, strict=True):
            engine.communities.add_grid(community, grid, f"Grid {grid}", actor=STAFF)
            engine.communities.classify_zone(community, grid, zone, actor=STAFF)
            engine.communities.add_building(community, f"{grid}-b", grid,
                                            [UnitSpec("1", 10), UnitSpec("2", 10)], actor=STAFF)
        world.communities.append(community)
    return world


minutes = st.integers(min_value=0, max_value=90)
late = st.sampled_from([0, 0, 0, 5, 20, 45])
which = st.integers(min_value=0, max_value=50)

new_incident = st.tuples(st.just("incident"), which, st.sampled_from(GRIDS),
                         st.sampled_from(["fire", "medical", "gas"]),
                         st.sampled_from(["low", "high"]), st.sampled_from([False, False, True]),
                         minutes, late)
incident_step = st.tuples(st.just("incident_step"), which, st.sampled_from(INCIDENT_STEPS),
                          st.sampled_from(["r1", "r2", "r3"]), minutes, late)
new_order = st.tuples(st.just("order"), which, st.sampled_from(GRIDS), st.sampled_from(SERVICES),
                      st.integers(min_value=1, max_value=72), minutes, late)
order_step = st.tuples(st.just("order_step"), which, st.sampled_from(ORDER_STEPS),
                       st.sampled_from(PROVIDERS), st.integers(min_value=1, max_value=5),
                       minutes, late)
activity = st.tuples(st.just("activity"), which, st.sampled_from([*GRIDS, None]),
                     st.integers(min_value=0, max_value=60), minutes, late)
due_shift = st.integers(min_value=-60 * 24 * 5, max_value=60 * 24 * 30)
follow_up = st.tuples(st.sampled_from(IMPROVEMENT_STEPS), st.sampled_from(OWNERS), due_shift,
                      st.integers(min_value=0, max_value=60 * 24 * 10))
"""(action, owner, due shift, minutes later): what happens to an item soon after it is planned."""
new_improvement = st.tuples(st.just("improvement"), which, st.none() | which,
                            st.sampled_from([*GRIDS, None]),
                            st.integers(min_value=1, max_value=60 * 24 * 30), minutes, late,
                            st.lists(follow_up, max_size=4))
improvement_step = st.tuples(st.just("improvement_step"), which,
                             st.sampled_from(IMPROVEMENT_STEPS), st.sampled_from(OWNERS),
                             due_shift, minutes, late)
correction = st.tuples(st.just("correct"), which, which, st.integers(min_value=-30, max_value=30),
                       late)
advance = st.tuples(st.just("advance"), st.integers(min_value=1, max_value=60 * 24 * 20))
link = st.tuples(st.just("link"), which, which, st.booleans(), minutes, late)
"""(incident, order or item, whether an item, minutes ago, lateness): linked to the
incident's recovery."""

visits = st.lists(st.tuples(st.sampled_from(["b", "b/1", "b/2"]),
                           st.lists(st.sampled_from(["storage_room", "basement"]),
                                    max_size=2, unique=True)), max_size=3)
"""A patrol's visits, as areas of its grid's building (``b``: the building, ``b/1``: a unit)
with the spots looked at; none: a patrol without coverage."""
found = st.lists(st.tuples(st.sampled_from(CATEGORIES), st.sampled_from(["low", "high"])),
                max_size=2)
"""The hazards found on a patrol: (category, severity)."""
new_patrol = st.tuples(st.just("patrol"), which, st.sampled_from(GRIDS), visits,
                       st.integers(min_value=1, max_value=180), minutes, late, found)
patrol_step = st.tuples(st.just("patrol_step"), which, st.sampled_from(PATROL_STEPS), visits,
                        st.integers(min_value=1, max_value=240), minutes, late)
rules = st.lists(st.tuples(st.sampled_from(["daily", "weekly", "monthly"]),
                           st.sampled_from([None, "storage_room"]), st.booleans()),
                 min_size=1, max_size=3)
"""A plan's rules: (frequency, spot, whether it names the grid's building)."""
plan = st.tuples(st.just("plan"), which, st.sampled_from(GRIDS), rules, minutes, late)
due_after = st.integers(min_value=1, max_value=60 * 24 * 14)
hazard_follow_up = st.tuples(st.sampled_from((*HAZARD_STEPS, *HAZARD_LIFE, *HAZARD_LIFE)),
                             st.sampled_from([0, 1]),
                             st.sampled_from(ASSIGNEES), which, due_after,
                             st.integers(min_value=0, max_value=60 * 24 * 3))
"""(action, who (``WORKERS``), assignee, order/item/incident linked, due in minutes after
now, minutes later): what happens to a hazard soon after it is found."""
new_hazard = st.tuples(st.just("hazard"), which, st.sampled_from(GRIDS),
                       st.sampled_from(CATEGORIES), st.sampled_from(["low", "high", "critical"]),
                       st.none() | which, minutes, late,
                       st.lists(hazard_follow_up, min_size=1, max_size=5))
hazard_step = st.tuples(st.just("hazard_step"), which, st.sampled_from(HAZARD_STEPS),
                        st.sampled_from([0, 1]), st.sampled_from(ASSIGNEES), which, due_after,
                        minutes, late)
"""(hazard, action, who, assignee, linked, due in minutes after now, minutes ago,
lateness): as a follow-up, later."""
peace_correction = st.tuples(st.just("peace_correct"), which, which,
                             st.integers(min_value=-30, max_value=30), late)
"""A time correction of a hazard's or a patrol's fact (no command corrects a plan's)."""

step = st.one_of(new_incident, incident_step, new_order, order_step, activity, correction,
                 advance, new_improvement, improvement_step, link, new_patrol, patrol_step,
                 plan, new_hazard, hazard_step, peace_correction)
histories = st.lists(step, min_size=1, max_size=40)


def apply_history(engine: Engine, clock: ManualClock, world: World,
                  steps: Sequence[tuple[Any, ...]]) -> World:
    """Run every step as a command (refused ones record nothing); return the world."""
    for entry in steps:
        try:
            _apply(engine, clock, world, entry)
        except ResilienceError:
            world.refused += 1
        else:
            world.applied += 1
    return world


def _pick(items: Sequence[UUID], index: int) -> UUID | None:
    return items[index % len(items)] if items else None


def _when(clock: ManualClock, ago: int, lateness: int) -> tuple[datetime, datetime]:
    """(occurred_at, recorded_at): ``ago`` minutes before now, recorded ``lateness`` later."""
    clock.advance(timedelta(minutes=lateness))
    now = clock()
    return now - timedelta(minutes=ago + lateness), now


def _apply(engine: Engine, clock: ManualClock, world: World, entry: tuple[Any, ...]) -> None:
    kind = entry[0]
    if kind == "advance":
        clock.advance(timedelta(minutes=entry[1]))
        return
    if kind == "incident":
        _, index, grid, incident_type, severity, drill, ago, lateness = entry
        community = world.communities[index % len(world.communities)]
        at, _ = _when(clock, ago, lateness)
        receipt = engine.incidents.detect(
            community, incident_type=incident_type, severity=severity,
            location=Location(grid=grid, building=f"{grid}-b", unit="1"), description="smoke",
            actor=STAFF, occurred_at=at, drill=drill)
        world.incidents.append(receipt.aggregate_id)
    elif kind == "incident_step":
        _, index, action, responder, ago, lateness = entry
        incident = _pick(world.incidents, index)
        if incident is not None:
            at, _ = _when(clock, ago, lateness)
            _incident_step(engine, incident, action, responder, at)
    elif kind == "order":
        _, index, grid, (category, item), hours, ago, lateness = entry
        community = world.communities[index % len(world.communities)]
        at, _ = _when(clock, ago, lateness)
        receipt = engine.orders.place(
            community, household_id="hh", area_id=f"{grid}-b/1", category=category, item=item,
            actor=RESIDENT, occurred_at=at, expected_by=at + timedelta(hours=hours))
        world.orders.append(receipt.aggregate_id)
    elif kind == "order_step":
        _, index, action, provider, score, ago, lateness = entry
        order = _pick(world.orders, index)
        if order is not None:
            at, _ = _when(clock, ago, lateness)
            _order_step(engine, order, action, provider, score, at)
    elif kind == "activity":
        _, index, grid, participants, ago, lateness = entry
        community = world.communities[index % len(world.communities)]
        at, _ = _when(clock, ago, lateness)
        engine.communities.hold_activity(community, title="health talk", category="health",
                                         participants=participants, grid=grid, actor=STAFF,
                                         occurred_at=at)
    elif kind == "improvement":
        _, index, incident_index, grid, due_after, ago, lateness, follow_ups = entry
        incident = None if incident_index is None else _pick(world.incidents, incident_index)
        if incident is None:
            community = world.communities[index % len(world.communities)]
            review = f"community/{community}/review-{len(world.improvements)}"
        else:
            community = engine.incidents.get(incident).community_id
            review = f"incident/{incident}"
        at, _ = _when(clock, ago, lateness)
        receipt = engine.improvements.plan(
            community, review=review, action="fix the thing", owner=OWNERS[index % 2],
            due=at + timedelta(minutes=due_after), actor=STAFF, incident_id=incident, grid=grid,
            objective="contained_within_15_min" if index % 3 == 0 else None, occurred_at=at)
        world.improvements.append(receipt.aggregate_id)
        for action, owner, shift, later in follow_ups:  # each its own command
            clock.advance(timedelta(minutes=later))
            try:
                _improvement_step(engine, receipt.aggregate_id, action, owner, shift, clock())
            except ResilienceError:
                world.refused += 1
            else:
                world.applied += 1
    elif kind == "improvement_step":
        _, index, action, owner, shift, ago, lateness = entry
        item = _pick(world.improvements, index)
        if item is not None:
            at, _ = _when(clock, ago, lateness)
            _improvement_step(engine, item, action, owner, shift, at)
    elif kind == "link":
        _, index, other, item, ago, lateness = entry
        incident = _pick(world.incidents, index)
        linked = _pick(world.improvements if item else world.orders, other)
        if incident is not None and linked is not None:
            at, _ = _when(clock, ago, lateness)
            engine.incidents.link_recovery(incident, linked, purpose="repair what broke",
                                           actor=STAFF, occurred_at=at)
    elif kind in _PEACETIME:
        _PEACETIME[kind](engine, clock, world, entry)
    elif kind == "correct":
        _, index, version, shift, lateness = entry
        target = _pick([*world.incidents, *world.orders, *world.improvements], index)
        if target is not None:
            facts = engine.events(target)
            fact = facts[version % len(facts)]
            _, now = _when(clock, 0, lateness)
            service: Any = (engine.incidents if target in world.incidents
                            else engine.orders if target in world.orders
                            else engine.improvements)
            service.correct_time(target, fact.originator_version,
                                 fact.occurred_at + timedelta(minutes=shift), "log checked",
                                 actor=STAFF, occurred_at=now)


def _incident_step(engine: Engine, incident: UUID, action: str, responder: str,
                   at: datetime) -> None:
    run = engine.incidents
    if action == "report":
        run.report_to_community(incident, actor=STAFF, occurred_at=at)
    elif action == "acknowledge":
        run.acknowledge(incident, actor=STAFF, occurred_at=at)
    elif action == "dispatch":
        run.dispatch(incident, [responder], actor=STAFF, occurred_at=at)
    elif action == "en_route":
        run.en_route(incident, responder, actor=STAFF, occurred_at=at)
    elif action == "arrive":
        run.arrive(incident, responder, actor=STAFF, occurred_at=at)
    elif action == "contain":
        run.contain(incident, actor=STAFF, occurred_at=at)
    elif action == "resolve":
        run.resolve(incident, "done", actor=STAFF, occurred_at=at)
    elif action == "close":
        run.close(incident, "resolved", actor=STAFF, occurred_at=at)
    elif action == "close_false_alarm":
        run.close(incident, "false_alarm", actor=STAFF, occurred_at=at)
    elif action == "reopen":
        run.reopen(incident, "flared up", actor=STAFF, occurred_at=at)
    elif action == "reclassify":
        run.reclassify(incident, severity="critical", actor=STAFF, occurred_at=at)
    else:
        run.add_note(incident, "noted", actor=STAFF, occurred_at=at)


def _order_step(engine: Engine, order: UUID, action: str, provider: Provider, score: int,
                at: datetime) -> None:
    run = engine.orders
    if action == "accept":
        run.accept(order, actor=STAFF, occurred_at=at)
    elif action == "reject":
        run.reject(order, "out of scope", actor=STAFF, occurred_at=at)
    elif action == "dispatch":
        run.dispatch(order, provider, actor=STAFF, occurred_at=at)
    elif action == "start":
        run.start(order, actor=STAFF, occurred_at=at)
    elif action == "complete_fixed":
        run.complete(order, "fixed", actor=STAFF, occurred_at=at)
    elif action == "complete_not_fixed":
        run.complete(order, "not_fixed", "part unavailable", actor=STAFF, occurred_at=at)
    elif action == "rate":
        run.rate(order, score, actor=RESIDENT, occurred_at=at)
    elif action == "reopen":
        run.reopen(order, "still broken", actor=RESIDENT, occurred_at=at)
    else:
        run.cancel(order, "no longer needed", actor=RESIDENT, occurred_at=at)


def _improvement_step(engine: Engine, item: UUID, action: str, owner: str, shift: int,
                      at: datetime) -> None:
    run = engine.improvements
    if action == "start":
        run.start(item, actor=STAFF, occurred_at=at)
    elif action == "complete":
        run.complete(item, "checked", actor=STAFF, occurred_at=at)
    elif action == "cancel":
        run.cancel(item, "no longer needed", actor=STAFF, occurred_at=at)
    elif action == "reopen":
        run.reopen(item, "not really done", actor=STAFF, occurred_at=at)
    elif action == "assign":
        run.assign(item, owner, actor=STAFF, occurred_at=at)
    elif action == "reschedule":
        run.reschedule(item, run.get(item).due + timedelta(minutes=shift), "more time needed",
                       actor=STAFF, occurred_at=at)
    else:
        run.add_note(item, "progress noted", actor=STAFF, occurred_at=at)


def _visits(grid: str, chosen: Sequence[tuple[str, Sequence[str]]]) -> list[PatrolVisit]:
    return [PatrolVisit(f"{grid}-{area}", tuple(spots)) for area, spots in chosen]


def _patrol(engine: Engine, clock: ManualClock, world: World, entry: tuple[Any, ...]) -> None:
    _, index, grid, chosen, took, ago, lateness, hazards = entry
    community = world.communities[index % len(world.communities)]
    at, _ = _when(clock, ago, lateness)
    receipt = engine.patrols.record(
        community, grid=grid, ended_at=at + timedelta(minutes=took),
        visits=_visits(grid, chosen), findings="walked", actor=STAFF, occurred_at=at)
    patrol = receipt.aggregate_id
    world.patrols.append(patrol)
    world.walked[patrol] = (community, grid)
    for category, severity in hazards:  # each its own command, found on the way
        _followed(world, _found_on, engine, world, patrol, category, severity,
                  at + timedelta(minutes=took / 2))


def _found_on(engine: Engine, world: World, patrol: UUID, category: str, severity: str,
              at: datetime) -> None:
    community, grid = world.walked[patrol]
    world.hazards.append(engine.hazards.find(
        community, location=Location(grid=grid, building=f"{grid}-b"), category=category,
        severity=severity, description="seen on patrol", actor=WORKERS[1], patrol_id=patrol,
        occurred_at=at).aggregate_id)


def _followed(world: World, command: Callable[..., None], *args: Any) -> None:
    """Run a command that follows a step's own, counted as applied or refused."""
    try:
        command(*args)
    except ResilienceError:
        world.refused += 1
    else:
        world.applied += 1


def _patrol_step(engine: Engine, clock: ManualClock, world: World,
                 entry: tuple[Any, ...]) -> None:
    _, index, action, chosen, took, ago, lateness = entry
    patrol = _pick(world.patrols, index)
    if patrol is None:
        return
    at, _ = _when(clock, ago, lateness)
    run = engine.patrols
    if action == "cover":
        grid = world.walked[patrol][1]
        run.correct_coverage(patrol, _visits(grid, chosen), "sheet checked", actor=STAFF,
                             occurred_at=at)
    elif action == "end":
        start = engine.events(patrol)[0].occurred_at
        run.correct_end(patrol, start + timedelta(minutes=took), "sheet checked", actor=STAFF,
                        occurred_at=at)
    else:
        run.add_note(patrol, "all clear", actor=STAFF, occurred_at=at)


def _plan(engine: Engine, clock: ManualClock, world: World, entry: tuple[Any, ...]) -> None:
    _, index, grid, chosen, ago, lateness = entry
    community = world.communities[index % len(world.communities)]
    at, _ = _when(clock, ago, lateness)
    adopted = engine.patrols.plan(community, grid) is not None
    receipt = engine.patrols.adopt_plan(
        community, grid, [PatrolRule(f"rule {number}", frequency, spot,
                                     (f"{grid}-b",) if named else ())
                          for number, (frequency, spot, named) in enumerate(chosen)],
        actor=STAFF, reason="reviewed" if adopted else None, occurred_at=at)
    if receipt.aggregate_id not in world.plans:
        world.plans.append(receipt.aggregate_id)


def _hazard(engine: Engine, clock: ManualClock, world: World, entry: tuple[Any, ...]) -> None:
    _, index, grid, category, severity, patrol_index, ago, lateness, follow_ups = entry
    community = world.communities[index % len(world.communities)]
    patrol = None if patrol_index is None else _pick(world.patrols, patrol_index)
    if patrol is not None:  # found on a patrol: in its community and grid
        community, grid = world.walked[patrol]
    at, _ = _when(clock, ago, lateness)
    receipt = engine.hazards.find(
        community, location=Location(grid=grid, building=f"{grid}-b", unit="1"),
        category=category, severity=severity, description="found on the stairs",
        actor=STAFF, patrol_id=patrol, occurred_at=at)
    hazard = receipt.aggregate_id
    world.hazards.append(hazard)
    for action, who, assignee, other, due_in, later in follow_ups:
        clock.advance(timedelta(minutes=later))
        now = clock()
        _followed(world, _hazard_command, engine, world, hazard, action, who, assignee, other,
                  now + timedelta(minutes=due_in), now)


def _hazard_step(engine: Engine, clock: ManualClock, world: World,
                 entry: tuple[Any, ...]) -> None:
    _, index, action, who, assignee, other, due_after, ago, lateness = entry
    hazard = _pick(world.hazards, index)
    if hazard is None:
        return
    at, now = _when(clock, ago, lateness)
    _hazard_command(engine, world, hazard, action, who, assignee, other,
                    now + timedelta(minutes=due_after), at)


def _hazard_command(engine: Engine, world: World, hazard: UUID, action: str, who: int,
                    assignee_of: tuple[str, str], other: int, due: datetime,
                    at: datetime) -> None:
    assignee_kind, assignee = assignee_of
    actor, run = WORKERS[who], engine.hazards
    if action == "assign":
        run.assign(hazard, assignee_kind=assignee_kind, assignee=assignee, due=due,
                   actor=actor, occurred_at=at)
    elif action == "rectify":
        run.rectify(hazard, "cleared", actor=actor, occurred_at=at)
    elif action == "verify":
        run.verify(hazard, "checked", actor=actor, occurred_at=at)
    elif action == "close":
        run.close(hazard, "gone", actor=actor, occurred_at=at)
    elif action == "reopen":
        run.reopen(hazard, "back again", actor=actor, occurred_at=at)
    elif action == "note":
        run.add_note(hazard, "owner told", actor=actor, occurred_at=at)
    else:
        linked = {"link_order": world.orders, "link_improvement": world.improvements,
                  "link_incident": world.incidents}[action]
        target = _pick(linked, other)
        if target is not None:
            getattr(run, action)(hazard, target, actor=actor, occurred_at=at)


def _peace_correct(engine: Engine, clock: ManualClock, world: World,
                   entry: tuple[Any, ...]) -> None:
    _, index, version, shift, lateness = entry
    target = _pick([*world.hazards, *world.patrols], index)
    if target is None:
        return
    facts = engine.events(target)
    fact = facts[version % len(facts)]
    _, now = _when(clock, 0, lateness)
    service: Any = engine.hazards if target in world.hazards else engine.patrols
    service.correct_time(target, fact.originator_version,
                         fact.occurred_at + timedelta(minutes=shift), "log checked",
                         actor=STAFF, occurred_at=now)


_PEACETIME = {"patrol": _patrol, "patrol_step": _patrol_step, "plan": _plan,
              "hazard": _hazard, "hazard_step": _hazard_step, "peace_correct": _peace_correct}
"""The peacetime steps, by kind."""
