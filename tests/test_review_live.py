"""Escalations and recovery in reviews: each deadline level graded (raised as needed,
missed, unneeded, not needed) with the watch's lag, and the linked recovery work; in the
JSON, Markdown and HTML alike, at any cut, and read as a person.

Donghu's grid 3 is led by Zhou; Wang is community staff. The policy: a fire must be
acknowledged within 2 minutes (level 0 tells the grid leader, level 1, 2 minutes later,
community staff), and contained within 10 minutes (the subdistrict is told).
"""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from attrs import define
from hypothesis import HealthCheck, given, settings

import histories as hist
from resilience import (
    Actor,
    Engine,
    Incident,
    Location,
    ManualClock,
    Provider,
    Role,
    UnitSpec,
)
from resilience.domain.escalated import Notified
from resilience.domain.escalation import Deadline, EscalationPolicy, Level, Recipient
from resilience.domain.policy import DEFAULT_POLICY
from resilience.review.escalations import EscalationResult
from resilience.review.sight import HIDDEN

from conftest import DONGHU, T0

OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)
ZHOU = Actor("zhou-min", Role.GRID_LEADER)
WU = Actor("wu-lan", Role.GRID_LEADER)  # grid 5: sees no personal data of grid 3
ACKNOWLEDGED = Deadline(
    "acknowledged", "incident", ["acknowledged"], within=timedelta(minutes=2),
    levels=(Level(timedelta(0), (Recipient(Role.GRID_LEADER),)),
            Level(timedelta(minutes=2), (Recipient(Role.COMMUNITY_STAFF),))))
CONTAINED = Deadline("contained", "incident", ["contained"], within=timedelta(minutes=10),
                     levels=(Level(timedelta(0), (Recipient(body="subdistrict"),)),))
POLICY = EscalationPolicy((ACKNOWLEDGED, CONTAINED))


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


@define
class Donghu:
    engine: Engine
    clock: ManualClock
    community: UUID

    def fire(self, minute: float = 0) -> UUID:
        return self.engine.incidents.detect(
            self.community, incident_type="fire", severity="high", description="smoke",
            location=Location(grid="3", building="30", unit="1"), actor=ZHOU,
            occurred_at=at(minute)).aggregate_id

    def tick(self, minute: float) -> None:
        self.clock.set(at(minute))
        self.engine.tick()

    def levels(self, incident: UUID, **cut: datetime) -> dict[tuple[str, int],
                                                                 EscalationResult]:
        review = self.engine.review(incident, **cut)  # type: ignore[arg-type]
        escalations = review.incidents[0].escalations
        assert escalations is not None
        return {(r.deadline, r.level): r for r in escalations}


def register(engine: Engine) -> UUID:
    run = engine.communities
    before = T0 - timedelta(days=1)
    community = run.register(**DONGHU, actor=OFFICE, occurred_at=before).aggregate_id
    for grid in ("3", "5"):
        run.add_grid(community, grid, actor=OFFICE, occurred_at=before)
    run.add_building(community, "30", "3", [UnitSpec("1", 24)], actor=OFFICE,
                     occurred_at=before)
    for person, name in (("zhou-min", "Zhou Min"), ("wang-fang", "Wang Fang"),
                         ("wu-lan", "Wu Lan")):
        run.enrol(community, person, name, actor=OFFICE, occurred_at=before)
    run.assign_role(community, "zhou-min", Role.GRID_LEADER, "3", actor=OFFICE,
                    occurred_at=before)
    run.assign_role(community, "wu-lan", Role.GRID_LEADER, "5", actor=OFFICE,
                    occurred_at=before)
    run.assign_role(community, "wang-fang", Role.COMMUNITY_STAFF, actor=OFFICE,
                    occurred_at=before)
    return community


@pytest.fixture
def donghu(store_url: str, clock: ManualClock) -> Iterator[Donghu]:
    """Donghu on every store, the engine escalating under POLICY (no authorization)."""
    with Engine(store_url, clock=clock, policy=None, escalation=POLICY) as engine:
        yield Donghu(engine, clock, register(engine))


def test_a_level_raised_when_needed_is_graded_raised_with_the_watchs_lag(
        donghu: Donghu) -> None:
    """A tick at 15:03 raises level 0 (due 15:02, a minute late, telling Zhou); the
    acknowledgement at 15:03:30 comes before level 1's 15:04: not needed."""
    fire = donghu.fire()
    donghu.tick(3)
    donghu.engine.incidents.acknowledge(fire, actor=ZHOU, occurred_at=at(3.5))
    donghu.clock.set(at(8))
    levels = donghu.levels(fire)
    raised = levels[("acknowledged", 0)]
    assert (raised.verdict, raised.due_at, raised.lag) == ("raised", at(2), timedelta(minutes=1))
    assert raised.recorded_at == at(3)
    assert raised.notified == (Notified(Role.GRID_LEADER, scope="3", person_id="zhou-min"),)
    assert (levels[("acknowledged", 1)].verdict, levels[("acknowledged", 1)].met_at) == (
        "not_needed", at(3.5))
    assert ("contained", 0) not in levels  # due 15:10, after the review's moment (15:08)


def test_a_level_no_watch_raised_in_time_is_missed(donghu: Donghu) -> None:
    """No tick ran before the acknowledgement at 15:05: both levels were needed and
    never raised."""
    fire = donghu.fire()
    donghu.engine.incidents.acknowledge(fire, actor=ZHOU, occurred_at=at(5))
    donghu.clock.set(at(6))
    levels = donghu.levels(fire)
    assert [(r.verdict, r.version, r.lag) for r in levels.values()] == [
        ("missed", None, None), ("missed", None, None)]


def test_a_level_raised_before_a_late_record_of_the_acknowledgement_is_unneeded(
        donghu: Donghu) -> None:
    """The acknowledgement happened at 15:01 but was recorded at 15:03:30, after the tick
    at 15:03 raised level 0: by effective times it was met in time, so unneeded."""
    fire = donghu.fire()
    donghu.tick(3)
    donghu.clock.set(at(3.5))
    donghu.engine.incidents.acknowledge(fire, actor=ZHOU, occurred_at=at(1))
    donghu.clock.set(at(5))
    levels = donghu.levels(fire)
    assert (levels[("acknowledged", 0)].verdict, levels[("acknowledged", 0)].met_at) == (
        "unneeded", at(1))
    assert levels[("acknowledged", 1)].verdict == "not_needed"


def test_a_closed_cycle_needs_nothing_more(donghu: Donghu) -> None:
    """A fire resolved (and closed) at 15:01, never acknowledged nor contained: every
    level after the ending is not needed, and none was raised."""
    fire = donghu.fire()
    run = donghu.engine.incidents
    run.resolve(fire, "false alarm after all", actor=ZHOU, occurred_at=at(1))
    run.close(fire, "false_alarm", actor=OFFICE, occurred_at=at(1))
    donghu.tick(30)
    levels = donghu.levels(fire)
    assert {key: r.verdict for key, r in levels.items()} == {
        ("acknowledged", 0): "not_needed", ("acknowledged", 1): "not_needed",
        ("contained", 0): "not_needed"}
    assert all(r.ended_at == at(1) for r in levels.values())


def test_the_cut_grades_what_was_known_or_had_happened_then(donghu: Donghu) -> None:
    """Known at 15:02:30 the first level was due and not yet raised (missed so far);
    as of 15:01 nothing was due yet; known after the tick it is raised."""
    fire = donghu.fire()
    donghu.tick(3)
    donghu.engine.incidents.acknowledge(fire, actor=ZHOU, occurred_at=at(3.5))
    donghu.clock.set(at(20))
    early = donghu.levels(fire, known_at=at(2.5))
    assert [(key, r.verdict) for key, r in early.items()] == [(("acknowledged", 0), "missed")]
    assert donghu.levels(fire, as_of=at(1)) == {}
    assert donghu.levels(fire, known_at=at(3))[("acknowledged", 0)].verdict == "raised"


def test_an_escalation_of_a_deadline_the_review_policy_lacks_is_listed_apart(
        shared_store_url: str, clock: ManualClock) -> None:
    """Reviewed under a policy without the acknowledgement deadline, the escalation the
    watch raised under it is listed as outside the policy, with its lag and recipients."""
    with Engine(shared_store_url, clock=clock, policy=None, escalation=POLICY) as engine:
        donghu = Donghu(engine, clock, register(engine))
        fire = donghu.fire()
        donghu.tick(3)
    clock.set(at(12))
    other = EscalationPolicy((CONTAINED,))
    with Engine(shared_store_url, clock=clock, policy=None, escalation=other) as engine:
        review = engine.review(fire)
    escalations = review.incidents[0].escalations
    assert escalations is not None
    assert [(r.deadline, r.level, r.verdict) for r in escalations] == [
        ("acknowledged", 0, "outside_policy"), ("contained", 0, "missed")]
    assert escalations[0].lag == timedelta(minutes=1)
    assert review.escalation_policy == other.to_dict()


def test_every_output_shows_the_escalations(donghu: Donghu) -> None:
    """Markdown and HTML give the section with its summary and table; the JSON every
    field, the policy graded on with it."""
    fire = donghu.fire()
    donghu.tick(3)
    donghu.engine.incidents.acknowledge(fire, actor=ZHOU, occurred_at=at(3.5))
    donghu.clock.set(at(12))
    review = donghu.engine.review(fire)
    md = review.to_markdown()
    section = md[md.index("### Escalations"):md.index("### Strengths")]
    assert ("3 deadline levels due: 1 raised as needed (at most 1 min after its due time), "
            "1 missed (no watch ran in time to raise it), 1 not needed.") in section
    assert ("| acknowledged | 0 | 15:02 | raised as needed | 15:03 | 1 min | Zhou Min "
            "(grid leader of 3) |") in section
    assert "| contained | 0 | 15:10 | missed: never raised | — | — | — |" in section
    assert "not needed: it was met at 15:03" in section
    html = review.to_html()
    assert '<table class="escalations">' in html
    assert "raised as needed" in html
    data = review.to_dict()
    raised = data["incidents"][0]["escalations"][0]
    assert raised["verdict"] == "raised"
    assert raised["lag"] == 60.0
    assert raised["notified"] == [{"role": "grid_leader", "body": None, "scope": "3",
                                   "person_id": "zhou-min"}]
    assert data["escalation_policy"] == POLICY.to_dict()


def test_without_an_escalation_policy_the_review_says_it_did_not_grade(
        store_url: str, clock: ManualClock) -> None:
    """An engine without an escalation policy grades no deadline, and says so."""
    with Engine(store_url, clock=clock, policy=None, escalation=None) as engine:
        place = Donghu(engine, clock, register(engine))
        fire = place.fire()
        clock.set(at(30))
        review = engine.review(fire)
    assert review.incidents[0].escalations is None
    assert review.escalation_policy is None
    assert "Not graded: the review was made without an escalation policy." in (
        review.to_markdown())


def test_a_community_review_grades_each_incident(donghu: Donghu) -> None:
    """Reviewing every incident of the community grades each one's deadlines."""
    first, second = donghu.fire(), donghu.fire(1)
    donghu.tick(3.5)
    donghu.clock.set(at(4.5))  # the second fire's level 1 falls due at 15:05
    review = donghu.engine.reviews.incidents(donghu.community)
    graded = {r.incident_id: [(e.deadline, e.level, e.verdict) for e in r.escalations or ()]
              for r in review.incidents}
    assert graded == {str(first): [("acknowledged", 0, "raised"), ("acknowledged", 1, "missed")],
                      str(second): [("acknowledged", 0, "raised")]}
    md = review.to_markdown()
    overall = md[md.index("## Objectives across 2 incidents"):md.index("## fire")]
    assert ("**Escalations:** 3 deadline levels due: 2 raised as needed (at most 1 min 30 s "
            "after its due time), 1 missed") in overall


# Recovery -------------------------------------------------------------------------------


def repaired_fire(donghu: Donghu) -> tuple[UUID, UUID]:
    """A fire contained at 15:08; at 17:00 the desk orders the lock repaired for the
    household (nobody rates a desk's order: done when completed) and links it; the
    locksmith is sent at 09:00 the next day and done at 10:00."""
    engine = donghu.engine
    fire = donghu.fire()
    engine.incidents.acknowledge(fire, actor=OFFICE, occurred_at=at(1))
    engine.incidents.contain(fire, actor=ZHOU, occurred_at=at(8))
    order = engine.orders.place(
        donghu.community, household_id="hh-30-1", area_id="30/1", category="home",
        item="repair", actor=OFFICE, occurred_at=at(120),
        expected_by=at(60 * 24)).aggregate_id
    engine.incidents.link_recovery(fire, order, purpose="repair the lock forced at 15:05",
                                   actor=OFFICE, occurred_at=at(121))
    engine.orders.accept(order, actor=OFFICE, occurred_at=at(130))
    engine.orders.dispatch(order, Provider("property_company", "locksmith"), actor=OFFICE,
                           occurred_at=at(60 * 18))
    engine.orders.complete(order, "fixed", actor=OFFICE, occurred_at=at(60 * 19))
    return fire, order


def test_the_review_shows_the_recovery_and_when_it_was_complete(donghu: Donghu) -> None:
    """As of 09:30 the next morning the repair is under way: not recovered; as of 11:00
    it is done, recovered 19 hours after detection."""
    fire, order = repaired_fire(donghu)
    donghu.clock.set(at(60 * 22))
    waiting = donghu.engine.review(fire, as_of=at(60 * 18.5))
    recovery = waiting.incidents[0].recovery
    assert recovery is not None
    assert recovery.recovered_at is None
    assert [(link.linked_id, link.status) for link in recovery.links] == [(order, "dispatched")]
    assert "Not recovered by the cut: 1 of 1 linked piece of work still open." in (
        waiting.to_markdown())
    done = donghu.engine.review(fire)
    assert done.incidents[0].recovery is not None
    assert done.incidents[0].recovery.recovered_at == at(60 * 19)
    md = done.to_markdown()
    assert "Recovered 2022-02-16 10:00, 19 h 00 min after detection." in md
    assert (f"| order | repair the lock forced at 15:05 | 17:01 | completed | "
            f"2022-02-16 10:00 | {order} |") in md
    assert '<table class="recovery">' in done.to_html()
    assert done.to_dict()["incidents"][0]["recovery"]["recovered_at"] == (
        "2022-02-16T10:00:00+08:00")


def test_no_recovery_linked_says_so(donghu: Donghu) -> None:
    """An incident with nothing linked has an empty recovery, and the review says so."""
    fire = donghu.fire()
    donghu.clock.set(at(30))
    review = donghu.engine.review(fire)
    recovery = review.incidents[0].recovery
    assert recovery is not None
    assert (recovery.links, recovery.recovered_at) == ((), None)
    assert "No recovery work was linked to the incident." in review.to_markdown()
    assert review.to_dict()["incidents"][0]["recovery"]["links"] == []


# Read as a person (under the default policy) ---------------------------------------------


@pytest.fixture
def guarded(clock: ManualClock) -> Iterator[Donghu]:
    """Donghu in memory under the default policy (who may see what) and POLICY."""
    with Engine("memory:", clock=clock, policy=DEFAULT_POLICY, escalation=POLICY) as engine:
        yield Donghu(engine, clock, register(engine))


def test_whom_an_escalation_told_is_named_only_to_who_may_read_names(
        guarded: Donghu) -> None:
    """Read by Wu (grid 5's leader) the recipient is the person id, not the name; the
    grades are the same."""
    fire = guarded.fire()
    guarded.tick(3)
    guarded.clock.set(at(12))
    shown = guarded.engine.review(fire, viewer=OFFICE).to_markdown()
    hidden = guarded.engine.review(fire, viewer=WU)
    assert "Zhou Min (grid leader of 3)" in shown
    assert "zhou-min (grid leader of 3)" in hidden.to_markdown()
    assert hidden.incidents[0].escalations == guarded.engine.review(fire).incidents[0].escalations


def test_what_recovery_work_is_for_is_hidden_from_who_may_not_see_the_grid(
        guarded: Donghu) -> None:
    """The purpose is the linker's words about grid 3: Wu reads it hidden, staff read it."""
    fire, _ = repaired_fire(guarded)
    guarded.clock.set(at(60 * 20))
    hidden = guarded.engine.review(fire, viewer=WU).incidents[0].recovery
    shown = guarded.engine.review(fire, viewer=OFFICE).incidents[0].recovery
    assert hidden is not None
    assert shown is not None
    assert [link.purpose for link in hidden.links] == [HIDDEN]
    assert [link.purpose for link in shown.links] == ["repair the lock forced at 15:05"]
    assert hidden.recovered_at == shown.recovered_at == at(60 * 19)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=hist.histories)
def test_on_any_history_each_escalation_is_graded_once_and_each_verdict_fits(
        history: list[tuple[Any, ...]]) -> None:
    """On random histories watched by ticks along the way (under POLICY),
    each incident's review lists every Escalated fact once, and each verdict is the one
    its deadline state gives: raised or missed when needed, unneeded or not needed when
    not, by whether the level was raised."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None, escalation=POLICY) as engine:
        world = hist.setup_world(engine, clock)
        for number, step in enumerate(history):
            hist.apply_history(engine, clock, world, [step])
            if number % 2 == 0:
                engine.tick()
        clock.advance(timedelta(hours=2))
        for incident in world.incidents:
            graded = engine.review(incident).incidents[0].escalations
            assert graded is not None
            facts = [e.originator_version for e in engine.events(incident)
                     if isinstance(e, Incident.Escalated)]
            assert sorted(r.version for r in graded if r.version is not None) == facts
            states = {(s.deadline, s.cycle, s.level): s for s in engine.deadlines(incident)}
            for result in graded:
                state = states.get((result.deadline, result.cycle, result.level))
                if state is None:
                    assert result.verdict == "outside_policy"
                    continue
                assert result.due_at == state.due_at <= clock()
                raised = state.escalated is not None
                assert result.verdict == (("raised" if raised else "missed") if state.needed
                                          else "unneeded" if raised else "not_needed")
            due = [s for s in states.values() if s.due_at <= clock()]
            assert len([r for r in graded if r.verdict != "outside_policy"]) == len(due)
