"""The authorization matrix: every command × every role × every scope, generated.

The cells come from ``COMMANDS``, ``Role`` and ``Scope`` (nothing hand-listed). In each
cell an actor claiming the role stands in the *situation* named by the scope, and no more:

- ``community``: on the roster in their role (for grid 3), the target outside their area
  (grid 4), not about them, not assigned to them;
- ``area``: the target inside their area (unit 30/1), not about them, not assigned;
- ``own``: outside, about them (their arrival, a consent request to them, an order they
  placed, a fact they recorded), not assigned;
- ``assigned``: outside, not about them, assigned to them (dispatched to the incident,
  the provider of the order, the owner of the item);
- and ``none``: everything about them and inside, but without standing (claiming a roster
  role they do not hold; claiming to command an incident someone else commands).

The oracle is the policy's data read plainly: a cell is allowed if the policy has a rule
for (role, command) whose scope the situation satisfies, where a situation satisfies
``community`` and its own scope, an incident commander's standing is also ``assigned``,
and a role off the roster holds no area. The decisions are checked twice: on the policy
alone, for every command (``import`` and ``people.erase`` included), and through the engine,
where the services work out the target themselves from the stored facts (each command
run in a batch that is then discarded, so the world stays as built).
"""

import contextlib
import itertools
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from attrs import evolve, frozen

from resilience import (
    Actor,
    CareCard,
    Community,
    Contact,
    Engine,
    Frequency,
    Hazard,
    Location,
    ManualClock,
    PatrolRule,
    PermissionDeniedError,
    Provider,
    ResilienceError,
    Role,
    UnitSpec,
)
from resilience.domain.base import Context
from resilience.domain.catalogue import DEFAULT_CATALOGUE
from resilience.domain.incident import Incident
from resilience.domain.policy import (
    COMMANDS,
    CORRECTIONS,
    DEFAULT_POLICY,
    IMPORT,
    Policy,
    Rule,
    Scope,
    Target,
)
from resilience.domain.service import ServiceOrder
from resilience.domain.values import ROSTER_ROLES
from resilience.services.core import Receipt

from conftest import T0

FOUNDER = Actor("founder", Role.COMMUNITY_STAFF)
LOADER = Actor("loader", Role.SYSTEM)
SITUATIONS = ("none", "community", "area", "own", "assigned")
HELD_IN = {Role.GRID_LEADER: "3", Role.GRID_WORKER: "3", Role.BUILDING_LEADER: "30",
           Role.UNIT_LEADER: "30/1", Role.PARTY_MEMBER_HOUSEHOLD: "30",
           Role.SQUAD_MEMBER: "3", Role.VOLUNTEER: "3", Role.COMMUNITY_STAFF: "3"}
"""Where each roster role's actor holds it: an area containing unit 30/1, not grid 4."""
PARENT = {"30/1": "30", "30": "3", "3": None, "40/1": "40", "40": "4", "4": None}
INSIDE = {"unit": "30/1", "building": "30", "grid": "3"}
"""A cell's target area inside, by the level of area its command acts on."""
NOW = T0 + timedelta(hours=1)


def valid_rules(scope: Scope) -> list[Rule]:
    """Every rule in ``scope`` a policy may hold."""
    rules = []
    for role, command in itertools.product(Role, sorted(COMMANDS)):
        # Left out: rules that could never apply (an area rule off the roster).
        with contextlib.suppress(ResilienceError):
            rules.append(Rule(role, command, scope))
    return rules


POLICIES = {
    "default": DEFAULT_POLICY,
    **{f"only {scope.value}": Policy(valid_rules(scope), (), ()) for scope in Scope},
    # What the engine works out of the stored facts (area, subject, assignee) decides alone;
    # the importer that writes each cell's target may import.
    "all but community": Policy([*(r for s in (Scope.AREA, Scope.OWN, Scope.ASSIGNED)
                                   for r in valid_rules(s)),
                                 Rule(Role.SYSTEM, IMPORT, Scope.COMMUNITY)], (), ()),
}


# The oracle ----------------------------------------------------------------------------


def within(area: str | None, held: str) -> bool:
    while area is not None:
        if area == held:
            return True
        area = PARENT[area]
    return False


def satisfied(role: Role, situation: str, *, level: str | None = "unit",
              subject: bool | None = True, assignee: bool = True,
              commander: bool = True) -> set[Scope]:
    """The scopes a situation satisfies, for a target inside at ``level`` (None: it has no
    area) that has a subject (None: always the actor, as an order's placer), an assignee
    and a commander (or lacks them: then that situation is only ``community``)."""
    if situation == "none":
        return set()
    if role is Role.INCIDENT_COMMANDER and not commander:
        return set()  # nobody commands what is no incident: the role never stands
    found = {Scope.COMMUNITY}
    if (situation == "area" and level is not None and role in ROSTER_ROLES
            and within(INSIDE[level], HELD_IN[role])):
        found.add(Scope.AREA)
    if (situation == "own" and subject) or subject is None:
        found.add(Scope.OWN)
    if situation == "assigned" and assignee:
        found.add(Scope.ASSIGNED)
    if role is Role.INCIDENT_COMMANDER:
        found.add(Scope.ASSIGNED)  # commanding the incident is being assigned to it
    return found


def expected(policy: Policy, role: Role, command: str, scopes: set[Scope]) -> bool:
    """The oracle: some rule of the policy for (role, command) in a satisfied scope."""
    return any(rule.role is role and rule.command == command and rule.scope in scopes
               for rule in policy.rules)


def situations(role: Role) -> tuple[str, ...]:
    """Roles off the roster (but the commander) always stand: they have no ``none``."""
    if role in ROSTER_ROLES or role is Role.INCIDENT_COMMANDER:
        return SITUATIONS
    return SITUATIONS[1:]


def actor_for(role: Role, situation: str) -> Actor:
    """The actor of a cell: who holds the role (or, in ``none``, someone who does not)."""
    if situation == "none" and role in ROSTER_ROLES:
        return Actor("outsider", role)
    return Actor(f"p-{role.value}", role)


# The world -----------------------------------------------------------------------------


def build(engine: Engine) -> UUID:
    """A community: grids 3 and 4, buildings 30 and 40 (unit 1 each), each roster role held
    by ``p-<role>`` for an area containing unit 30/1 (founder: ``founder``), and
    ``new-cmdr`` enrolled."""
    communities = engine.communities
    at = T0 - timedelta(days=1)
    community = communities.register(district="D", subdistrict="S", name="Matrix",
                                     actor=FOUNDER, occurred_at=at).aggregate_id
    for grid, building in (("3", "30"), ("4", "40")):
        communities.add_grid(community, grid, actor=FOUNDER, occurred_at=at)
        communities.add_building(community, building, grid, [UnitSpec("1", 10)],
                                 actor=FOUNDER, occurred_at=at)
    for role, scope in HELD_IN.items():
        person = f"p-{role.value}"
        communities.enrol(community, person, person, actor=FOUNDER, occurred_at=at)
        communities.assign_role(community, person, role, scope, actor=FOUNDER, occurred_at=at)
    # A commander must be on the roster: the one the assign_commander cells name is.
    communities.enrol(community, "new-cmdr", "new-cmdr", actor=FOUNDER, occurred_at=at)
    return community


@frozen
class Situation:
    """What a cell's target is made of: inside the actor's area or not, the person it is
    about, who is assigned to it, who commands it (incidents)."""

    inside: bool
    subject: str
    assignee: str | None
    commander: str


def situation_of(actor: Actor, situation: str) -> Situation:
    me = actor.person_id
    commander = me if actor.role is Role.INCIDENT_COMMANDER and situation != "none" else "cmdr"
    if situation == "none":
        return Situation(True, me, me, commander)
    return Situation(situation == "area", me if situation == "own" else "other",
                     me if situation == "assigned" else None, commander)


class World:
    """The community, an importer writing each cell's target (not checked actor by actor),
    and fresh names for what cells create."""

    def __init__(self, engine: Engine, clock: ManualClock) -> None:
        self.engine = engine
        self.clock = clock
        self.loader = engine.importing(LOADER)
        self.community = build(self.loader)
        self.count = 0
        self.instant = NOW
        """When the latest emergency's call-up is (or would be) dated (``emergency``)."""

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}-{self.count}"

    def location(self, s: Situation) -> Location:
        return Location(building="30" if s.inside else "40", unit="1")

    def incident(self, s: Situation, *, detect_only: bool = False,
                 dispatched: bool = True) -> UUID:
        """An incident detected an hour ago, commanded by ``s.commander``, with the assignee
        dispatched to it."""
        ld = self.loader.incidents
        start = NOW - timedelta(minutes=50)
        make = ld.detect if detect_only else ld.report
        incident = make(self.community, incident_type="fire", severity="high",
                        location=self.location(s), description="smoke", actor=FOUNDER,
                        occurred_at=start).aggregate_id
        ld.assign_commander(incident, s.commander, actor=FOUNDER,
                            occurred_at=start + timedelta(minutes=1))
        if s.assignee is not None and dispatched:
            ld.dispatch(incident, [s.assignee], actor=FOUNDER,
                        occurred_at=start + timedelta(minutes=2))
        return incident

    def order(self, s: Situation, status: str) -> UUID:
        """An order placed by ``s.subject`` and brought to ``status``; dispatched (and
        fulfilled) by the assignee when there is one."""
        ld = self.loader.orders
        start = NOW - timedelta(minutes=50)
        order = ld.place(self.community, household_id="hh", area_id=self.location_id(s),
                         category="home", item="repair", actor=Actor(s.subject, Role.RESIDENT),
                         occurred_at=start).aggregate_id
        steps = ["placed", "accepted", "dispatched", "completed"]
        wanted = steps.index(status)
        if s.assignee is not None:
            wanted = max(wanted, 2)
        if wanted >= 1:
            ld.accept(order, actor=FOUNDER, occurred_at=start + timedelta(minutes=1))
        if wanted >= 2:
            provider = Provider("property_company", s.assignee or "prov-other")
            ld.dispatch(order, provider, actor=FOUNDER, occurred_at=start + timedelta(minutes=2))
        if wanted >= 3:
            ld.complete(order, "fixed", actor=FOUNDER, occurred_at=start + timedelta(minutes=3))
        return order

    def location_id(self, s: Situation) -> str:
        return "30/1" if s.inside else "40/1"

    def item(self, s: Situation, *, finished: bool = False) -> UUID:
        """An improvement item of the grid (3 inside, 4 outside), owned by the assignee (or
        someone else), planned by ``s.subject``."""
        ld = self.loader.improvements
        start = NOW - timedelta(minutes=50)
        item = ld.plan(self.community, review=f"community/{self.community}/all time",
                       action="fix", owner=s.assignee or "owner-other",
                       due=NOW + timedelta(days=10), grid="3" if s.inside else "4",
                       actor=Actor(s.subject, Role.COMMUNITY_STAFF),
                       occurred_at=start).aggregate_id
        if finished:
            ld.complete(item, actor=FOUNDER, occurred_at=start + timedelta(minutes=1))
        return item

    def emergency(self, s: Situation, *, called: bool = True, subject: bool = False) -> UUID:
        """An emergency of grid 3 (inside) or 4 (outside) declared 50 minutes ago, its
        community staff called up (unless not ``called``): the assignee, ``other`` and (if
        the command is about them: ``subject``) the subject among them. Each holds a staff
        term in the grid for an instant of its own, at which the call-up is dated, so no
        other cell's call-up (nor anyone's standing in the role they claim) changes; only
        the base staff holder of grid 3, to whom being called adds nothing, is called with
        them."""
        grid = "3" if s.inside else "4"
        start = NOW - timedelta(minutes=50)
        instant = start + timedelta(minutes=1, microseconds=2 * self.count)
        self.count += 1
        self.instant = instant
        communities = self.loader.communities
        community = communities.get(self.community)
        wanted = {s.assignee, "other", s.subject if subject else None} if called else set()
        people = sorted(p for p in wanted | {"other"} if p is not None and p != "outsider")
        for person in people:
            if person not in community.people:
                communities.enrol(self.community, person, person, actor=FOUNDER,
                                  occurred_at=start - timedelta(minutes=10))
            communities.assign_role(self.community, person, Role.COMMUNITY_STAFF, grid,
                                    actor=FOUNDER, occurred_at=instant)
            communities.relieve_role(self.community, person, Role.COMMUNITY_STAFF, grid,
                                     "the call-up is over", actor=FOUNDER,
                                     occurred_at=instant + timedelta(microseconds=1))
        ld = self.loader.emergencies
        emergency = ld.declare(self.community, kind="flood", reason="river", area_id=grid,
                               actor=FOUNDER, occurred_at=start).aggregate_id
        if called:
            ld.call_up(emergency, [Role.COMMUNITY_STAFF], actor=FOUNDER, occurred_at=instant)
        return emergency


Call = Callable[[Actor], Receipt]


@frozen
class Recipe:
    """How to run one command in a situation: ``prepare`` builds its target and returns
    the call; the flags say which situations the command can be in at all."""

    prepare: Callable[[World, Situation], Call]
    level: str | None = "unit"
    subject: bool | None = False
    assignee: bool = True
    commander: bool = False


def _incident(call: Callable[[World, Situation, UUID, Actor], Receipt], *, subject: bool = False,
              **kwargs: Any) -> Recipe:
    def prepare(w: World, s: Situation) -> Call:
        incident = w.incident(s, **kwargs)
        return lambda actor: call(w, s, incident, actor)
    return Recipe(prepare, subject=subject, commander=True)


def _incident_prep(prep: Callable[[World, Situation, UUID], Any],
                   call: Callable[[World, Situation, UUID, Actor], Receipt], *,
                   subject: bool = False) -> Recipe:
    def prepare(w: World, s: Situation) -> Call:
        incident = w.incident(s)
        prep(w, s, incident)
        return lambda actor: call(w, s, incident, actor)
    return Recipe(prepare, subject=subject, commander=True)


def _order(status: str, call: Callable[[World, Situation, UUID, Actor], Receipt]) -> Recipe:
    def prepare(w: World, s: Situation) -> Call:
        order = w.order(s, status)
        return lambda actor: call(w, s, order, actor)
    return Recipe(prepare, subject=True)


def _legacy(kind: str) -> Recipe:
    """A case recorded before references (saved as its aggregate, with none), to be given
    one (``assign_reference``)."""
    def prepare(w: World, s: Situation) -> Call:
        at = NOW - timedelta(minutes=50)
        ctx = Context(FOUNDER, at, at)
        org = w.engine.communities.get(w.community)
        case: Incident | ServiceOrder | Hazard
        if kind == "hazard":
            location = w.location(s)
            case = Hazard.find(ctx, hazard_id=uuid4(), community_id=w.community,
                               location=evolve(location, grid=org.grid_of(location.building
                                                                          or "")),
                               category="clutter", severity="high", description="boxes")
        elif kind == "incident":
            location = w.location(s)
            case = Incident.detect(ctx, incident_id=uuid4(), community_id=w.community,
                                   incident_type="fire", severity="high",
                                   location=evolve(location, grid=org.grid_of(location.building
                                                                              or "")),
                                   description="smoke")
        else:
            area = w.location_id(s)
            case = ServiceOrder.place(ctx, order_id=uuid4(), community_id=w.community,
                                      household_id="hh", area_id=area,
                                      grid_id=org.grid_of(area), zone_type=None,
                                      service=DEFAULT_CATALOGUE.get("home", "repair"))
        w.engine.app.save(case)
        service = {"incident": w.engine.incidents, "order": w.engine.orders,
                   "hazard": w.engine.hazards}[kind]
        return lambda actor: service.assign_reference(  # type: ignore[attr-defined]
            case.id, actor=actor, occurred_at=NOW)
    return Recipe(prepare, assignee=False)  # (nobody dispatched, commanding or placing)


def _item(call: Callable[[World, Situation, UUID, Actor], Receipt], *,
          finished: bool = False) -> Recipe:
    def prepare(w: World, s: Situation) -> Call:
        item = w.item(s, finished=finished)
        return lambda actor: call(w, s, item, actor)
    return Recipe(prepare, level="grid")


def _emergency(call: Callable[[World, Situation, UUID, Actor], Receipt], *,
               subject: bool = False, called: bool = True) -> Recipe:
    def prepare(w: World, s: Situation) -> Call:
        emergency = w.emergency(s, called=called, subject=subject)
        return lambda actor: call(w, s, emergency, actor)
    return Recipe(prepare, level="grid", subject=subject, assignee=called)


def _community(call: Callable[[World, Situation, Actor], Receipt], *,
               level: str | None = "grid", subject: bool = False) -> Recipe:
    def prepare(w: World, s: Situation) -> Call:
        return lambda actor: call(w, s, actor)
    return Recipe(prepare, level=level, subject=subject, assignee=False)


def _noted(w: World, s: Situation, service: str, aggregate: UUID) -> int:
    """A fact recorded by ``s.subject`` (a note; in a community, an activity): the fact a
    correction corrects."""
    if service == "communities":
        return _activity(w, s)
    ld = getattr(w.loader, service)
    return int(ld.add_note(aggregate, "noted", actor=Actor(s.subject, Role.RESIDENT),
                           occurred_at=NOW - timedelta(minutes=10)).first_version)


def _corrections(service: str, make: Callable[[World, Situation], UUID], *,
                 level: str | None, commander: bool) -> dict[str, Recipe]:
    """``correct_time`` and ``correct_details`` of a fact recorded by ``s.subject``."""
    def prep(s_call: Callable[[Any, UUID, int, Actor], Receipt]) -> Recipe:
        def prepare(w: World, s: Situation) -> Call:
            aggregate = make(w, s)
            version = _noted(w, s, service, aggregate)
            svc = getattr(w.engine, service)
            return lambda actor: s_call(svc, aggregate, version, actor)
        return Recipe(prepare, level=level, subject=True,
                      assignee=service not in ("communities", "patrols"), commander=commander)

    return {
        f"{service}.correct_time": prep(lambda svc, a, v, actor: svc.correct_time(
            a, v, NOW - timedelta(minutes=12), "the log", actor=actor, occurred_at=NOW)),
        f"{service}.correct_details": prep(lambda svc, a, v, actor: svc.correct_details(
            a, v, "better", "the log", actor=actor, occurred_at=NOW)),
    }


def _activity(w: World, s: Situation) -> int:
    return w.loader.communities.hold_activity(
        w.community, title="talk", category="training", participants=5,
        grid="3" if s.inside else "4",
        actor=Actor(s.subject, Role.GRID_LEADER),
        occurred_at=NOW - timedelta(minutes=10)).first_version


def _enrolled(w: World, s: Situation) -> str:
    person = w.fresh("new")
    w.loader.communities.enrol(w.community, person, person, actor=FOUNDER,
                               occurred_at=NOW - timedelta(minutes=30))
    return person


def _recovery_link(w: World, s: Situation) -> Call:
    """Link an order of the community (placed, in the situation's area) to the incident."""
    incident, order = w.incident(s), w.order(s, "placed")
    return lambda actor: w.engine.incidents.link_recovery(
        incident, order, purpose="repair the lock", actor=actor, occurred_at=NOW)


def _hazard(w: World, s: Situation, status: str = "open") -> UUID:
    """A hazard at the situation's unit found 50 minutes ago, assigned (as a provider's) to
    the assignee if there is one, and brought to ``status``: rectified by ``rectifier``
    (whom no cell's actor is, so any may verify it), then verified."""
    ld = w.loader.hazards
    start = NOW - timedelta(minutes=50)
    hazard = ld.find(w.community, location=w.location(s), category="clutter", severity="high",
                     description="boxes", actor=FOUNDER, occurred_at=start).aggregate_id
    if s.assignee is not None:
        ld.assign(hazard, assignee_kind="provider", assignee=s.assignee,
                  due=NOW + timedelta(days=7), actor=FOUNDER,
                  occurred_at=start + timedelta(minutes=1))
    if status in ("rectified", "verified"):
        ld.rectify(hazard, actor=Actor("rectifier", Role.GRID_WORKER),
                   occurred_at=start + timedelta(minutes=2))
    if status == "verified":
        ld.verify(hazard, actor=FOUNDER, occurred_at=start + timedelta(minutes=3))
    return hazard


def _hazards(status: str, call: Callable[[Any, UUID, Actor], Receipt]) -> Recipe:
    def prepare(w: World, s: Situation) -> Call:
        hazard = _hazard(w, s, status)
        return lambda actor: call(w.engine.hazards, hazard, actor)
    return Recipe(prepare)


def _hazard_link(kind: str) -> Recipe:
    """Link an order of the hazard's area, an improvement item of its grid or an incident
    at its unit to a hazard assigned to nobody: the link is decided on both sides, each by
    its area (so an item's link needs the grid)."""
    def prepare(w: World, s: Situation) -> Call:
        alone = evolve(s, assignee=None)
        hazard = _hazard(w, alone)
        other = {"order": lambda: w.order(alone, "placed"), "item": lambda: w.item(alone),
                 "incident": lambda: w.incident(alone)}[kind]()
        link = {"order": w.engine.hazards.link_order, "item": w.engine.hazards.link_improvement,
                "incident": w.engine.hazards.link_incident}[kind]
        return lambda actor: link(hazard, other, actor=actor, occurred_at=NOW)
    return Recipe(prepare, level="grid" if kind == "item" else "unit", assignee=False)


def _patrol(w: World, s: Situation) -> UUID:
    """A patrol of the situation's grid walked by ``s.subject`` from 50 to 20 minutes ago,
    through its building."""
    inside = s.inside
    return w.loader.patrols.record(
        w.community, grid="3" if inside else "4", ended_at=NOW - timedelta(minutes=20),
        visits=["30" if inside else "40"], actor=Actor(s.subject, Role.GRID_WORKER),
        occurred_at=NOW - timedelta(minutes=50)).aggregate_id


def _patrols(call: Callable[[Any, UUID, Situation, Actor], Receipt], *,
             subject: bool = False) -> Recipe:
    """A command on the situation's patrol; ``subject``: it corrects the patrol's record,
    whose recorder is the subject (``own``)."""
    def prepare(w: World, s: Situation) -> Call:
        patrol = _patrol(w, s)
        return lambda actor: call(w.engine.patrols, patrol, s, actor)
    return Recipe(prepare, level="grid", subject=subject, assignee=False)


def _peacetime() -> dict[str, Recipe]:
    """The recipes of patrols and hazards."""
    def grid(s: Situation) -> str:
        return "3" if s.inside else "4"

    return {
        "patrols.record": Recipe(
            lambda w, s: (lambda a: w.engine.patrols.record(
                w.community, grid=grid(s), ended_at=NOW + timedelta(hours=1),
                visits=["30" if s.inside else "40"], actor=a, occurred_at=NOW)),
            level="grid", assignee=False),
        "patrols.correct_coverage": _patrols(lambda p, i, s, a: p.correct_coverage(
            i, ["30/1" if s.inside else "40/1"], "unit 1 too", actor=a, occurred_at=NOW),
            subject=True),
        "patrols.correct_end": _patrols(lambda p, i, s, a: p.correct_end(
            i, NOW - timedelta(minutes=10), "the sheet", actor=a, occurred_at=NOW),
            subject=True),
        "patrols.add_note": _patrols(lambda p, i, s, a: p.add_note(
            i, "note", actor=a, occurred_at=NOW)),
        "patrols.adopt_plan": Recipe(
            lambda w, s: (lambda a: w.engine.patrols.adopt_plan(
                w.community, grid(s), [PatrolRule("weekly", Frequency.WEEKLY)], reason="r",
                actor=a, occurred_at=NOW)), level="grid", assignee=False),
        "hazards.find": Recipe(
            lambda w, s: (lambda a: w.engine.hazards.find(
                w.community, location=w.location(s), category="gas", severity="low",
                description="a smell", actor=a, occurred_at=NOW)), assignee=False),
        "hazards.assign": _hazards("open", lambda h, i, a: h.assign(
            i, assignee_kind="provider", assignee="prov-new", due=NOW + timedelta(days=9),
            actor=a, occurred_at=NOW)),
        "hazards.rectify": _hazards("open", lambda h, i, a: h.rectify(
            i, actor=a, occurred_at=NOW)),
        "hazards.verify": _hazards("rectified", lambda h, i, a: h.verify(
            i, actor=a, occurred_at=NOW)),
        "hazards.close": _hazards("open", lambda h, i, a: h.close(
            i, "gone", actor=a, occurred_at=NOW)),
        "hazards.reopen": _hazards("verified", lambda h, i, a: h.reopen(
            i, "back", actor=a, occurred_at=NOW)),
        "hazards.add_note": _hazards("open", lambda h, i, a: h.add_note(
            i, "note", actor=a, occurred_at=NOW)),
        "hazards.link_order": _hazard_link("order"),
        "hazards.link_improvement": _hazard_link("item"),
        "hazards.link_incident": _hazard_link("incident"),
        "hazards.assign_reference": _legacy("hazard"),
        **_corrections("hazards", _hazard, level="unit", commander=False),
        **_corrections("patrols", _patrol, level="grid", commander=False),
    }


INCIDENTS, ORDERS, COMMUNITIES = "incidents", "orders", "communities"


def _recipes() -> dict[str, Recipe]:
    def grid(s: Situation) -> str:
        return "3" if s.inside else "4"

    recipes: dict[str, Recipe] = {
        "communities.register": _community(lambda w, s, a: w.engine.communities.register(
            district="D", subdistrict="S", name=w.fresh("c"), actor=a, occurred_at=NOW),
            level=None),
        "communities.set_code": _community(lambda w, s, a: w.engine.communities.set_code(
            w.community, w.fresh("C").replace("-", ""), actor=a, occurred_at=NOW),
            level=None),
        "communities.add_grid": _community(lambda w, s, a: w.engine.communities.add_grid(
            w.community, w.fresh("g"), actor=a, occurred_at=NOW), level=None),
        "communities.add_micro_grid": _community(
            lambda w, s, a: w.engine.communities.add_micro_grid(
                w.community, w.fresh("mg"), grid(s), actor=a, occurred_at=NOW)),
        "communities.add_building": _community(
            lambda w, s, a: w.engine.communities.add_building(
                w.community, w.fresh("b"), grid(s), [UnitSpec("1", 3)], actor=a,
                occurred_at=NOW)),
        "communities.classify_zone": _community(
            lambda w, s, a: w.engine.communities.classify_zone(
                w.community, "30" if s.inside else "40", "old_estate", actor=a,
                occurred_at=NOW), level="building"),
        "communities.enrol": _community(lambda w, s, a: w.engine.communities.enrol(
            w.community, s.subject if s.subject != "other" else w.fresh("n"), "N", actor=a,
            occurred_at=NOW), level=None, subject=True),
        "communities.assign_role": Recipe(_assign, level="grid", subject=True, assignee=False),
        "communities.relieve_role": Recipe(_relieve, level="grid", subject=True,
                                           assignee=False),
        "communities.issue_care_card": _community(
            lambda w, s, a: w.engine.communities.issue_care_card(
                w.community, grid(s), CareCard(*(Contact(w.fresh("c"), "1") for _ in range(6))),
                actor=a, occurred_at=NOW)),
        "communities.hold_activity": _community(
            lambda w, s, a: w.engine.communities.hold_activity(
                w.community, title="t", category="c", participants=3, grid=grid(s),
                actor=a, occurred_at=NOW)),
        "communities.correct_participants": Recipe(_correct_participants, level="grid",
                                                   subject=True, assignee=False),
        # Incidents.
        "incidents.detect": Recipe(
            lambda w, s: (lambda a: w.engine.incidents.detect(
                w.community, incident_type="fire", severity="low", location=w.location(s),
                description="smoke", actor=a, occurred_at=NOW)), assignee=False),
        "incidents.report": Recipe(
            lambda w, s: (lambda a: w.engine.incidents.report(
                w.community, incident_type="fire", severity="low", location=w.location(s),
                description="smoke", actor=a, occurred_at=NOW)), assignee=False),
        "incidents.report_to_community": _incident(
            lambda w, s, i, a: w.engine.incidents.report_to_community(
                i, actor=a, occurred_at=NOW), detect_only=True),
        "incidents.acknowledge": _incident(
            lambda w, s, i, a: w.engine.incidents.acknowledge(i, actor=a, occurred_at=NOW)),
        "incidents.reclassify": _incident(
            lambda w, s, i, a: w.engine.incidents.reclassify(i, severity="low", actor=a,
                                                             occurred_at=NOW)),
        "incidents.assign_commander": _incident(
            lambda w, s, i, a: w.engine.incidents.assign_commander(i, "new-cmdr", actor=a,
                                                                   occurred_at=NOW)),
        "incidents.dispatch": _incident(
            lambda w, s, i, a: w.engine.incidents.dispatch(i, ["new-resp"], actor=a,
                                                           occurred_at=NOW)),
        "incidents.en_route": _incident(
            lambda w, s, i, a: w.engine.incidents.en_route(i, s.subject, actor=a,
                                                           occurred_at=NOW), subject=True),
        "incidents.arrive": _incident(
            lambda w, s, i, a: w.engine.incidents.arrive(i, s.subject, actor=a,
                                                         occurred_at=NOW), subject=True),
        "incidents.take_action": _incident(
            lambda w, s, i, a: w.engine.incidents.take_action(i, "other", "did", actor=a,
                                                              occurred_at=NOW)),
        "incidents.request_consent": _incident(
            lambda w, s, i, a: w.engine.incidents.request_consent(i, "res-q", "entry",
                                                                  actor=a, occurred_at=NOW)),
        "incidents.grant_consent": _incident_prep(
            _asked, lambda w, s, i, a: w.engine.incidents.grant_consent(
                i, s.subject, actor=a, occurred_at=NOW), subject=True),
        "incidents.refuse_consent": _incident_prep(
            _asked, lambda w, s, i, a: w.engine.incidents.refuse_consent(
                i, s.subject, actor=a, occurred_at=NOW), subject=True),
        "incidents.authorise_exigent_entry": _incident(
            lambda w, s, i, a: w.engine.incidents.authorise_exigent_entry(
                i, "lives at risk", actor=a, occurred_at=NOW)),
        "incidents.force_entry": _incident_prep(
            lambda w, s, i: w.loader.incidents.authorise_exigent_entry(
                i, "lives at risk", actor=FOUNDER, occurred_at=NOW - timedelta(minutes=5)),
            lambda w, s, i, a: w.engine.incidents.force_entry(i, "door", actor=a,
                                                              occurred_at=NOW)),
        "incidents.find_source": _incident(
            lambda w, s, i, a: w.engine.incidents.find_source(i, "cardboard", actor=a,
                                                              occurred_at=NOW)),
        "incidents.contain": _incident(
            lambda w, s, i, a: w.engine.incidents.contain(i, "out", actor=a, occurred_at=NOW)),
        "incidents.resolve": _incident(
            lambda w, s, i, a: w.engine.incidents.resolve(i, "done", actor=a, occurred_at=NOW)),
        "incidents.close": _incident(
            lambda w, s, i, a: w.engine.incidents.close(i, "false_alarm", actor=a,
                                                        occurred_at=NOW)),
        "incidents.reopen": _incident_prep(
            lambda w, s, i: w.loader.incidents.resolve(i, "done", actor=FOUNDER,
                                                       occurred_at=NOW - timedelta(minutes=5)),
            lambda w, s, i, a: w.engine.incidents.reopen(i, "again", actor=a, occurred_at=NOW)),
        "incidents.add_note": _incident(
            lambda w, s, i, a: w.engine.incidents.add_note(i, "note", actor=a, occurred_at=NOW)),
        "incidents.link_recovery": Recipe(_recovery_link, commander=True),
        "incidents.assign_reference": _legacy("incident"),
        "orders.assign_reference": _legacy("order"),
        # Orders.
        "orders.place": Recipe(
            lambda w, s: (lambda a: w.engine.orders.place(
                w.community, household_id="hh", area_id=w.location_id(s), category="home",
                item="repair", actor=a, occurred_at=NOW)), subject=None, assignee=False),
        "orders.accept": _order("placed", lambda w, s, o, a: w.engine.orders.accept(
            o, actor=a, occurred_at=NOW)),
        "orders.reject": _order("placed", lambda w, s, o, a: w.engine.orders.reject(
            o, "no", actor=a, occurred_at=NOW)),
        "orders.dispatch": _order("accepted", lambda w, s, o, a: w.engine.orders.dispatch(
            o, Provider("property_company", "prov-new"), actor=a, occurred_at=NOW)),
        "orders.start": _order("dispatched", lambda w, s, o, a: w.engine.orders.start(
            o, actor=a, occurred_at=NOW)),
        "orders.complete": _order("dispatched", lambda w, s, o, a: w.engine.orders.complete(
            o, "fixed", actor=a, occurred_at=NOW)),
        "orders.rate": _order("completed", lambda w, s, o, a: w.engine.orders.rate(
            o, 5, actor=a, occurred_at=NOW)),
        "orders.reopen": _order("completed", lambda w, s, o, a: w.engine.orders.reopen(
            o, "again", actor=a, occurred_at=NOW)),
        "orders.cancel": _order("placed", lambda w, s, o, a: w.engine.orders.cancel(
            o, "no need", actor=a, occurred_at=NOW)),
        "orders.add_note": _order("placed", lambda w, s, o, a: w.engine.orders.add_note(
            o, "note", actor=a, occurred_at=NOW)),
        # Improvement items.
        "improvements.plan": Recipe(
            lambda w, s: (lambda a: w.engine.improvements.plan(
                w.community, review=f"community/{w.community}/all time", action="fix",
                owner="someone", due=NOW + timedelta(days=3), grid=grid(s), actor=a,
                occurred_at=NOW)), level="grid", assignee=False),
        "improvements.assign": _item(lambda w, s, i, a: w.engine.improvements.assign(
            i, "new-owner", actor=a, occurred_at=NOW)),
        "improvements.reschedule": _item(lambda w, s, i, a: w.engine.improvements.reschedule(
            i, NOW + timedelta(days=20), "later", actor=a, occurred_at=NOW)),
        "improvements.start": _item(lambda w, s, i, a: w.engine.improvements.start(
            i, actor=a, occurred_at=NOW)),
        "improvements.complete": _item(lambda w, s, i, a: w.engine.improvements.complete(
            i, actor=a, occurred_at=NOW)),
        "improvements.cancel": _item(lambda w, s, i, a: w.engine.improvements.cancel(
            i, "moot", actor=a, occurred_at=NOW)),
        "improvements.reopen": _item(lambda w, s, i, a: w.engine.improvements.reopen(
            i, "not done", actor=a, occurred_at=NOW), finished=True),
        "improvements.add_note": _item(lambda w, s, i, a: w.engine.improvements.add_note(
            i, "note", actor=a, occurred_at=NOW)),
    }
    recipes.update({
        "emergencies.declare": Recipe(
            lambda w, s: (lambda a: w.engine.emergencies.declare(
                w.community, kind="flood", reason="river", area_id=grid(s), actor=a,
                occurred_at=NOW)), level="grid", assignee=False),
        "emergencies.call_up": _emergency(lambda w, s, e, a: w.engine.emergencies.call_up(
            e, [Role.COMMUNITY_STAFF], actor=a, occurred_at=w.instant), called=False),
        "emergencies.acknowledge": _emergency(
            lambda w, s, e, a: w.engine.emergencies.acknowledge(e, s.subject, actor=a,
                                                                occurred_at=NOW), subject=True),
        "emergencies.arrive": _emergency(
            lambda w, s, e, a: w.engine.emergencies.arrive(e, s.subject, "gate", actor=a,
                                                           occurred_at=NOW), subject=True),
        "emergencies.end": _emergency(lambda w, s, e, a: w.engine.emergencies.end(
            e, actor=a, occurred_at=NOW)),
        "emergencies.add_note": _emergency(lambda w, s, e, a: w.engine.emergencies.add_note(
            e, "note", actor=a, occurred_at=NOW)),
    })
    recipes.update(_corrections("emergencies", lambda w, s: w.emergency(s), level="grid",
                                commander=False))
    recipes.update(_corrections(INCIDENTS, lambda w, s: w.incident(s), level="unit",
                                commander=True))
    recipes.update(_corrections(ORDERS, lambda w, s: w.order(s, "placed"), level="unit",
                                commander=False))
    recipes.update(_corrections("improvements", lambda w, s: w.item(s), level="grid",
                                commander=False))
    recipes.update(_corrections(COMMUNITIES, lambda w, s: w.community, level="grid",
                                commander=False))
    recipes.update(_peacetime())
    return recipes


def _correct_participants(w: World, s: Situation) -> Call:
    version = _activity(w, s)
    return lambda a: w.engine.communities.correct_participants(
        w.community, version, 7, "the sheet", actor=a, occurred_at=NOW)


def _asked(w: World, s: Situation, incident: UUID) -> None:
    w.loader.incidents.request_consent(incident, s.subject, "entry", actor=FOUNDER,
                                       occurred_at=NOW - timedelta(minutes=5))


def _other_role(person: str) -> Role:
    """A role to give ``person`` (an actor ``p-<role>``) beside the one they claim in the
    cells, so that the term changes none of their cells."""
    return Role.VOLUNTEER if person == f"p-{Role.GRID_WORKER.value}" else Role.GRID_WORKER


def _assign(w: World, s: Situation) -> Call:
    """Give a grid-wide role in grid 3 or 4: to the actor themselves (own), or another."""
    person = s.subject if s.subject != "other" else _enrolled(w, s)
    where = "3" if s.inside else "4"
    return lambda a: w.engine.communities.assign_role(w.community, person, _other_role(person),
                                                      where, actor=a, occurred_at=NOW)


def _relieve(w: World, s: Situation) -> Call:
    """Relieve a grid-wide term in grid 3 or 4: the actor's own (own), or another's."""
    person = s.subject if s.subject != "other" else _enrolled(w, s)
    role, where = _other_role(person), "3" if s.inside else "4"
    community = w.engine.communities.get(w.community)
    held = community.open_term(person, role, where) is not None
    if person in community.people and not held:
        w.loader.communities.assign_role(w.community, person, role, where, actor=FOUNDER,
                                         occurred_at=NOW - timedelta(minutes=20))
    return lambda a: w.engine.communities.relieve_role(w.community, person, role, where,
                                                       "moved", actor=a, occurred_at=NOW)


RECIPES = _recipes()
ENGINE_COMMANDS = COMMANDS - {IMPORT, "people.erase", "people.export"}
"""Commands run through the engine here (import: tests/test_policy.py; a person's rights,
erasure and export: tests/test_protection*.py, erasure needing a protected store)."""


# The matrix on the policy alone ---------------------------------------------------------


@pytest.fixture(scope="module")
def community() -> Iterator[Community]:
    with Engine("memory:", policy=None) as engine:
        yield engine.communities.get(build(engine))


def pure_target(actor: Actor, situation: str) -> Target:
    s = situation_of(actor, situation)
    return Target(area="30/1" if s.inside else "40/1", subject=s.subject,
                  assigned=frozenset({s.assignee, s.commander} - {None}),  # type: ignore[arg-type]
                  commander=s.commander)


def test_every_cell_of_the_matrix_is_decided_as_the_policy_data_say(
        community: Community) -> None:
    """Every command × role × situation × policy: the decision is the oracle's."""
    wrong, cells = [], 0
    for (name, policy), command, role in itertools.product(
            POLICIES.items(), sorted(COMMANDS), Role):
        for situation in situations(role):
            actor = actor_for(role, situation)
            decision = policy.decide(community, actor, command, at=NOW,
                                     target=pure_target(actor, situation))
            want = expected(policy, role, command, satisfied(role, situation))
            cells += 1
            if decision.allowed != want:
                wrong.append((name, command, role.value, situation, decision.reason))
            assert decision.allowed or actor.person_id in decision.reason
    assert not wrong, wrong[:10]
    per_policy = len(COMMANDS) * sum(len(situations(role)) for role in Role)
    assert cells == per_policy * len(POLICIES)


def test_the_matrix_covers_every_command_role_and_scope() -> None:
    """Nothing is left out: every command has a recipe, every role and scope a cell."""
    assert set(RECIPES) == ENGINE_COMMANDS
    assert set(SITUATIONS[1:]) == {s.value for s in Scope}


# The matrix through the engine ------------------------------------------------------------


class Discard(Exception):
    """Raised to leave a cell's batch: the batch records nothing."""


def run_cell(world: World, command: str, role: Role, situation: str) -> BaseException | None:
    """Prepare the cell's target, run its command in a batch, discard it; return what the
    command raised (None: it was accepted)."""
    actor = actor_for(role, situation)
    return attempted(world, RECIPES[command].prepare(world, situation_of(actor, situation)),
                     actor)


def attempted(world: World, call: Callable[[Actor], object],
              actor: Actor) -> BaseException | None:
    """Run ``call(actor)`` in a batch and discard it; return what it raised (None: it was
    accepted)."""
    raised: BaseException | None = None
    try:
        with world.engine.batch():
            try:
                call(actor)
            except ResilienceError as exc:
                raised = exc
            raise Discard
    except Discard:
        pass
    return raised


@pytest.mark.parametrize("name", ["default", "all but community"])
def test_every_command_through_the_engine_decides_each_cell_as_the_oracle(name: str) -> None:
    """Each command, run by each role in each situation it can be in, is refused exactly
    where the oracle says (and, where allowed, is not refused by the policy)."""
    policy = POLICIES[name]
    clock = ManualClock(NOW)
    with Engine("memory:", clock=clock, policy=policy) as engine:
        world = World(engine, clock)
        wrong = []
        for command in sorted(ENGINE_COMMANDS):
            recipe = RECIPES[command]
            for role in Role:
                for situation in situations(role):
                    scopes = satisfied(role, situation, level=recipe.level,
                                       subject=recipe.subject, assignee=recipe.assignee,
                                       commander=recipe.commander)
                    if command == "communities.register":
                        # No roster yet: who claims staff stands as its founder-to-be, over
                        # the whole community; off the roster, as anywhere.
                        scopes = ({Scope.COMMUNITY, Scope.AREA} if role is Role.COMMUNITY_STAFF
                                  else {Scope.COMMUNITY} if role not in ROSTER_ROLES
                                  and role is not Role.INCIDENT_COMMANDER else set())
                    want = expected(policy, role, command, scopes)
                    raised = run_cell(world, command, role, situation)
                    refused = isinstance(raised, PermissionDeniedError)
                    if refused == want:
                        wrong.append((command, role.value, situation, repr(raised)))
        assert not wrong, f"{len(wrong)} cells wrong, e.g. {wrong[:8]}"


def test_every_rule_of_the_default_policy_lets_its_command_record_its_facts() -> None:
    """Each rule of the default policy, exercised in the situation its scope names, lets
    its command through to the aggregate, which records it: a rule allowed only on paper
    (a recipe the aggregate refuses) would prove little."""
    clock = ManualClock(NOW)
    with Engine("memory:", clock=clock) as engine:
        world = World(engine, clock)
        failed = []
        for rule in DEFAULT_POLICY.rules:
            if rule.command not in ENGINE_COMMANDS:
                continue
            raised = run_cell(world, rule.command, rule.role, rule.scope.value)
            if raised is not None:
                failed.append((rule.command, rule.role.value, rule.scope.value, repr(raised)))
        assert not failed, failed[:8]


def test_corrections_are_the_commands_that_take_a_window() -> None:
    """CORRECTIONS lists exactly the commands named correct_*."""
    assert {c for c in COMMANDS if ".correct_" in c} == CORRECTIONS


def _recovery_link_across(w: World, s: Situation) -> Call:
    """Link an order of the other grid than the incident's (grid 4 for an incident in grid
    3, and the other way round) to the incident, everything else as the situation says."""
    incident = w.incident(s)
    order = w.order(Situation(not s.inside, s.subject, None, s.commander), "placed")
    return lambda actor: w.engine.incidents.link_recovery(
        incident, order, purpose="repair the lock", actor=actor, occurred_at=NOW)


@pytest.mark.parametrize("name", ["default", "all but community"])
def test_a_recovery_link_needs_the_right_on_the_order_linked_too(name: str) -> None:
    """``incidents.link_recovery`` is decided on the incident and on the order linked, each
    by a rule of its own: with the order in the other grid than the incident's, the
    incident's side is the situation's, and the order's side is satisfied only
    community-wide or, where the incident lies outside the actor's area, by the order
    lying inside it; never by being assigned to the incident (its commander and
    responders are, not to work outside its grid)."""
    command = "incidents.link_recovery"
    policy = POLICIES[name]
    clock = ManualClock(NOW)
    with Engine("memory:", clock=clock, policy=policy) as engine:
        world = World(engine, clock)
        wrong = []
        for role in Role:
            for situation in situations(role):
                actor = actor_for(role, situation)
                call = _recovery_link_across(world, situation_of(actor, situation))
                on_order = set() if situation == "none" else {Scope.COMMUNITY}
                if (situation != "area" and on_order and role in ROSTER_ROLES
                        and within(INSIDE["unit"], HELD_IN[role])):
                    on_order.add(Scope.AREA)  # the incident outside, the order inside
                want = (expected(policy, role, command,
                                 satisfied(role, situation, subject=False))
                        and expected(policy, role, command, on_order))
                raised = attempted(world, call, actor)
                if isinstance(raised, PermissionDeniedError) == want:
                    wrong.append((role.value, situation, repr(raised)))
        assert not wrong, wrong[:8]
