"""Random actors issue random commands; a plain model predicts exactly which are refused.

One community (founded by the office) and one incident in building 30, unit 1 (grid 3).
People are enrolled, given roles and relieved as time passes (by the office, and now and
then by whoever tries); random actors (enrolled or not, claiming any role, now and then
with an override) record what happens at the incident, late or on time, and correct facts
hours or days after they were recorded. The model keeps the roster as terms over time
and reads the default policy's rules plainly, at the moment a fact happened and at the
moment it is recorded; a commander must be on the roster; after every step the store holds exactly
the facts the model accepted, each with the actor (override included) it was given.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from attrs import evolve
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from resilience import (
    Actor,
    Engine,
    Location,
    ManualClock,
    PermissionDeniedError,
    ResilienceError,
    Role,
    UnitSpec,
)
from resilience.domain.policy import DEFAULT_POLICY, Scope
from resilience.domain.values import ROSTER_ROLES
from stateful_support import SETTINGS

from conftest import T0

FOUNDER = "office"
PEOPLE = ("office", "p1", "p2", "p3", "zhou")
"""Who acts: the founder, three people who may be enrolled, and one never enrolled."""
ROLES = (Role.GRID_LEADER, Role.GRID_WORKER, Role.SQUAD_MEMBER, Role.VOLUNTEER,
         Role.COMMUNITY_STAFF, Role.RESIDENT, Role.INCIDENT_COMMANDER, Role.SYSTEM)
TERMS = ((Role.GRID_LEADER, "3"), (Role.GRID_LEADER, "4"), (Role.GRID_WORKER, "3"),
         (Role.SQUAD_MEMBER, None), (Role.VOLUNTEER, None), (Role.COMMUNITY_STAFF, None))
"""The roles given on the roster, and where."""
INCIDENT_AREA = ("30/1", "30", "3")
"""The incident's unit and the areas that contain it: a term for one of these covers it."""
ACTORS = st.builds(Actor, st.sampled_from(PEOPLE), st.sampled_from(ROLES),
                   override=st.sampled_from((None, None, None, "the commander was unreachable")))
LAGS = st.sampled_from((timedelta(0), timedelta(0), timedelta(minutes=10), timedelta(hours=3)))
WAITS = st.sampled_from((timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=10),
                         timedelta(hours=25)))
OFFICE = Actor(FOUNDER, Role.COMMUNITY_STAFF)


class Term:
    """A role held by a person for an area (None: the community) from ``since`` until
    ``until`` (None: still held)."""

    def __init__(self, person: str, role: Role, scope: str | None, since: datetime) -> None:
        self.person, self.role, self.scope = person, role, scope
        self.since: datetime = since
        self.until: datetime | None = None

    def held_at(self, at: datetime) -> bool:
        return self.since <= at and (self.until is None or at < self.until)


class PolicyMachine(RuleBasedStateMachine):
    """The store against a model of the roster, the incident's facts and the policy."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0 - timedelta(days=1))
        self.engine = Engine("memory:", clock=self.clock)
        self.terms: list[Term] = []
        self.enrolled: set[str] = set()
        self.facts: list[tuple[str, Actor, datetime]] = []  # kind, actor, recorded at
        self.commanders: list[tuple[datetime, int, str]] = []  # occurred, version, person
        self.dispatched: dict[str, datetime] = {}
        self.arrived: set[str] = set()
        self.pending: dict[str, datetime] = {}  # resident -> when consent was asked
        self.refusals = 0

    def teardown(self) -> None:
        self.engine.close()

    @initialize()
    def found(self) -> None:
        """The office registers Donghu (grids 3, 4; building 30) and reports the fire."""
        c = self.engine.communities
        self.community: UUID = c.register(district="T", subdistrict="D", name="Donghu",
                                          actor=OFFICE).aggregate_id
        c.add_grid(self.community, "3", actor=OFFICE)
        c.add_grid(self.community, "4", actor=OFFICE)
        c.add_building(self.community, "30", "3", [UnitSpec("1", 10)], actor=OFFICE)
        self.clock.set(T0)
        self.fire: UUID = self.engine.incidents.detect(
            self.community, incident_type="fire", severity="high",
            location=Location(building="30", unit="1"), description="smoke",
            actor=OFFICE).aggregate_id
        self.detected = T0
        self.facts.append(("Detected", OFFICE, T0))

    # The model ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def standing(self, actor: Actor, at: datetime) -> tuple[bool, list[str | None]]:
        """Does the actor stand in the role they claim at ``at``, and for which areas?"""
        if actor.role in ROSTER_ROLES:
            areas = [t.scope for t in self.terms
                     if t.person == actor.person_id and t.role is actor.role and t.held_at(at)]
            if actor.role is Role.COMMUNITY_STAFF and actor.person_id == FOUNDER:
                areas.append(None)
            return bool(areas), areas
        if actor.role is Role.INCIDENT_COMMANDER:
            return self.commander(at) == actor.person_id, []
        return True, []

    def commander(self, at: datetime) -> str | None:
        named = [c for c in self.commanders if c[0] <= at]
        return max(named)[2] if named else None

    def assigned(self, at: datetime) -> set[str]:
        people = {p for p, when in self.dispatched.items() if when <= at}
        commander = self.commander(at)
        return people | ({commander} if commander else set())

    def allowed(self, command: str, actor: Actor, at: datetime, *, area: str | None,
                subject: str | None = None, recorded: datetime | None = None) -> bool:
        """Would the default policy let ``actor`` do ``command`` there, when it happened
        (``at``) and when it is recorded (now)? (Every fact here is recorded by now, so
        the incident "as now" is the incident at now.)"""
        return all(self.allowed_at(command, actor, moment, area=area, subject=subject,
                                   recorded=recorded) for moment in {at, self.now()})

    def allowed_at(self, command: str, actor: Actor, at: datetime, *, area: str | None,
                   subject: str | None, recorded: datetime | None) -> bool:
        """Would the default policy let ``actor`` do ``command`` there at ``at``?"""
        held, areas = self.standing(actor, at)
        if held:
            for r in DEFAULT_POLICY.rules_for(command):
                if r.role is not actor.role:
                    continue
                fits = {Scope.COMMUNITY: True,
                        Scope.AREA: any(a is None or a in _around(area) for a in areas),
                        Scope.OWN: subject == actor.person_id,
                        Scope.ASSIGNED: actor.person_id in self.assigned(at)}[r.scope]
                late = (r.within is not None and recorded is not None
                        and self.now() - recorded > r.within)
                if fits and not late:
                    return True
        on_roster = actor.person_id == FOUNDER or any(
            t.person == actor.person_id and t.held_at(at) for t in self.terms)
        return (actor.override is not None and DEFAULT_POLICY.overridable(command)
                and actor.role is not Role.SYSTEM and on_roster
                and (held or actor.role not in ROSTER_ROLES))

    def attempt(self, command: str, actor: Actor, call: Any, predicted: bool,
                aggregate: UUID) -> bool:
        """Run ``call``; it must be refused exactly when the model says, recording nothing;
        return whether it was accepted."""
        before = len(self.engine.events(aggregate))
        try:
            call()
        except PermissionDeniedError:
            assert not predicted, f"{command} by {actor} refused; the model allows it"
            assert len(self.engine.events(aggregate)) == before
            self.refusals += 1
            return False
        assert predicted, f"{command} by {actor} accepted; the model refuses it"
        return True

    def actor(self, data: st.DataObject) -> Actor:
        """Someone: mostly a person in a role they hold now (or the office, or the
        incident's commander), sometimes anyone claiming anything; now and then with an
        override."""
        now = self.now()
        held = [Actor(t.person, t.role) for t in self.terms if t.held_at(now)]
        commander = self.commander(now)
        held += [OFFICE] + ([Actor(commander, Role.INCIDENT_COMMANDER)] if commander else [])
        actor = data.draw(st.one_of(st.sampled_from(held), ACTORS))
        if data.draw(st.integers(0, 9)) == 0:
            actor = evolve(actor, override="no one else was there")
        return actor

    def incident_fact(self, kind: str, actor: Actor) -> None:
        self.facts.append((kind, actor, self.now()))

    def when(self, lag: timedelta) -> datetime:
        return max(self.detected, self.now() - lag)

    # Time and the roster ---------------------------------------------------------------

    @rule(wait=WAITS)
    def time_passes(self, wait: timedelta) -> None:
        self.clock.advance(wait)

    @rule(person=st.sampled_from(PEOPLE[1:4]))
    def enrol(self, person: str) -> None:
        if person not in self.enrolled:
            self.engine.communities.enrol(self.community, person, person, actor=OFFICE)
            self.enrolled.add(person)

    @rule(person=st.sampled_from(PEOPLE[:4]), term=st.sampled_from(TERMS),
          by=st.one_of(st.just(OFFICE), ACTORS))
    def assign(self, person: str, term: tuple[Role, str | None], by: Actor) -> None:
        """Someone (the office, or whoever tries) gives a role; an exclusive one is handed
        over from its holder."""
        role, scope = term
        if person not in self.enrolled and person != FOUNDER:
            return
        if person == FOUNDER and FOUNDER not in self.enrolled:
            self.engine.communities.enrol(self.community, FOUNDER, "Office", actor=OFFICE)
            self.enrolled.add(FOUNDER)
        if any(t.person == person and t.role is role and t.scope == scope and t.until is None
               for t in self.terms):
            return
        now = self.now()
        ok = self.attempt("communities.assign_role", by, lambda: (
            self.engine.communities.assign_role(self.community, person, role, scope, actor=by)),
            self.allowed("communities.assign_role", by, now, area=scope, subject=person),
            self.community)
        if ok:
            if role is Role.GRID_LEADER:
                for t in self.terms:
                    if t.role is role and t.scope == scope and t.until is None:
                        t.until = now
            self.terms.append(Term(person, role, scope, now))

    @rule(data=st.data())
    def relieve(self, data: st.DataObject) -> None:
        """The office relieves someone of a role they hold."""
        open_terms = [t for t in self.terms if t.until is None]
        if not open_terms:
            return
        term = data.draw(st.sampled_from(open_terms))
        self.engine.communities.relieve_role(self.community, term.person, term.role,
                                             term.scope, "moved on", actor=OFFICE)
        term.until = self.now()

    # At the incident -------------------------------------------------------------------

    @rule(data=st.data(), lag=LAGS, kind=st.sampled_from(("note", "action", "source")))
    def record_by(self, data: st.DataObject, lag: timedelta, kind: str) -> None:
        self.record(self.actor(data), lag, kind)

    def record(self, actor: Actor, lag: timedelta, kind: str) -> None:
        """A note, an action, the source found: each needs its own rule of the policy."""
        at = self.when(lag)
        incidents = self.engine.incidents
        command, event, call = {
            "note": ("incidents.add_note", "NoteAdded",
                     lambda: incidents.add_note(self.fire, "n", actor=actor, occurred_at=at)),
            "action": ("incidents.take_action", "ActionTaken",
                       lambda: incidents.take_action(self.fire, "other", "a", actor=actor,
                                                     occurred_at=at)),
            "source": ("incidents.find_source", "SourceFound",
                       lambda: incidents.find_source(self.fire, "s", actor=actor,
                                                     occurred_at=at)),
        }[kind]
        if self.attempt(command, actor, call, self.allowed(command, actor, at, area="30/1"),
                        self.fire):
            self.incident_fact(event, actor)

    @rule(data=st.data(), person=st.sampled_from(PEOPLE))
    def name_commander(self, data: st.DataObject, person: str) -> None:
        actor = self.actor(data)
        now = self.now()
        if self.commander(now) == person:
            return
        if self.attempt("incidents.assign_commander", actor,
                        lambda: self.engine.incidents.assign_commander(self.fire, person,
                                                                       actor=actor),
                        self.allowed("incidents.assign_commander", actor, now, area="30/1")
                        and (person in self.enrolled or person == FOUNDER),  # on the roster
                        self.fire):
            self.incident_fact("CommanderAssigned", actor)
            self.commanders.append((now, len(self.facts), person))

    @rule(data=st.data(), person=st.sampled_from(PEOPLE))
    def dispatch(self, data: st.DataObject, person: str) -> None:
        actor = self.actor(data)
        now = self.now()
        if person in self.dispatched or person in self.arrived:
            return  # one dispatch per responder, never after their arrival
        if self.attempt("incidents.dispatch", actor,
                        lambda: self.engine.incidents.dispatch(self.fire, [person], actor=actor),
                        self.allowed("incidents.dispatch", actor, now, area="30/1"), self.fire):
            self.incident_fact("ResponderDispatched", actor)
            self.dispatched[person] = now

    @rule(data=st.data(), person=st.sampled_from(PEOPLE))
    def arrive(self, data: st.DataObject, person: str) -> None:
        actor = self.actor(data)
        """An arrival, the actor's own or someone else's."""
        now = self.now()
        if person in self.arrived:
            return
        if self.attempt("incidents.arrive", actor,
                        lambda: self.engine.incidents.arrive(self.fire, person, actor=actor),
                        self.allowed("incidents.arrive", actor, now, area="30/1",
                                     subject=person), self.fire):
            self.incident_fact("ResponderOnScene", actor)
            self.arrived.add(person)

    @rule(data=st.data(), resident=st.sampled_from(("zhou", "p3", "owner")))
    def ask(self, data: st.DataObject, resident: str) -> None:
        actor = self.actor(data)
        now = self.now()
        if self.attempt("incidents.request_consent", actor,
                        lambda: self.engine.incidents.request_consent(self.fire, resident, "in",
                                                                      actor=actor),
                        self.allowed("incidents.request_consent", actor, now, area="30/1"),
                        self.fire):
            self.incident_fact("ConsentRequested", actor)
            self.pending[resident] = now

    @rule(data=st.data())
    def answer(self, data: st.DataObject) -> None:
        """Someone answers a pending consent request: only the resident asked may."""
        if not self.pending:
            return
        resident = data.draw(st.sampled_from(sorted(self.pending)))
        actor = data.draw(st.one_of(st.just(Actor(resident, Role.RESIDENT)), ACTORS))
        now = self.now()
        if self.attempt("incidents.grant_consent", actor,
                        lambda: self.engine.incidents.grant_consent(self.fire, resident,
                                                                    actor=actor),
                        self.allowed("incidents.grant_consent", actor, now, area="30/1",
                                     subject=resident), self.fire):
            self.incident_fact("ConsentGranted", actor)
            del self.pending[resident]

    @rule(data=st.data())
    def correct(self, data: st.DataObject) -> None:
        """Someone corrects a fact's details, maybe long after it was recorded."""
        facts = [v for v, (kind, _, _) in enumerate(self.facts, start=1)
                 if kind != "DetailsCorrected"]
        version = data.draw(st.sampled_from(facts))
        _, recorder, recorded = self.facts[version - 1]
        # Mostly the one who recorded it (maybe with an override); else anyone.
        actor = [evolve(recorder, override=None), evolve(recorder, override="found the log"),
                 None][data.draw(st.integers(0, 2))] or self.actor(data)
        now = self.now()
        if self.attempt("incidents.correct_details", actor,
                        lambda: self.engine.incidents.correct_details(self.fire, version, "d",
                                                                      "r", actor=actor),
                        self.allowed("incidents.correct_details", actor, now, area="30/1",
                                     subject=recorder.person_id, recorded=recorded),
                        self.fire):
            self.incident_fact("DetailsCorrected", actor)

    # What the store holds --------------------------------------------------------------

    @invariant()
    def the_store_holds_the_accepted_facts_with_their_actors(self) -> None:
        if not hasattr(self, "fire"):
            return
        events = self.engine.events(self.fire)
        assert [(type(e).__name__, e.actor) for e in events] == [
            (kind, actor) for kind, actor, _ in self.facts]


def _around(area: str | None) -> tuple[str, ...]:
    """The areas a term may be for and cover ``area`` (the incident's unit)."""
    return INCIDENT_AREA if area == "30/1" else (area,) if area else ()


TestPolicyMachine = PolicyMachine.TestCase
TestPolicyMachine.settings = SETTINGS


def test_the_model_sees_refusals_and_acceptances() -> None:
    """A guard on the machine itself: a short run refuses some and accepts some."""
    machine = PolicyMachine()
    try:
        machine.found()
        machine.record(Actor("zhou", Role.GRID_LEADER), timedelta(0), "note")
        machine.record(OFFICE, timedelta(0), "note")
        machine.the_store_holds_the_accepted_facts_with_their_actors()
        assert machine.refusals == 1
        assert len(machine.facts) == 2
    finally:
        machine.teardown()


def test_a_refused_command_is_a_resilience_error() -> None:
    """PermissionDeniedError is the library's, and Python's PermissionError."""
    assert issubclass(PermissionDeniedError, ResilienceError)
    assert issubclass(PermissionDeniedError, PermissionError)
