"""The intruder of issue 12, step by step: each step refused, or possible only through an
override that the fact records.

Donghu as the shipped scenario has it (Zhang Chuanlian leads grid 3, Sun works it, the
squad is Li, Wang and Zhao), and a second fire in building 30 on 1 March. Zhou, a resident
nobody enrolled, tries what the issue says was accepted: to make herself grid leader
(relieving Zhang), issue a care card with fake numbers, grant consent on a resident's
behalf, authorise and force entry, back-date the containment to one minute after
detection, and close the incident.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from attrs import evolve

from resilience import (
    Actor,
    CareCard,
    Contact,
    Engine,
    Location,
    ManualClock,
    PermissionDeniedError,
    Receipt,
    Role,
)
from resilience.scenario import load_scenario, replay
from resilience.scenarios import DONGHU_FIRE

SHANGHAI = ZoneInfo("Asia/Shanghai")
DETECTED = datetime(2022, 3, 1, 10, 0, tzinfo=SHANGHAI)
OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)
ZHANG = Actor("p-3001", Role.GRID_LEADER)
WANG = Actor("p-3102", Role.SQUAD_MEMBER)
SUN = Actor("p-3201", Role.GRID_WORKER)
OWNER = "b30-u2-storage-owner"
FAKE_CARD = CareCard(*(Contact(f"Zhou's friend {n}", "17000000000") for n in range(6)))


def at(minute: float) -> datetime:
    return DETECTED + timedelta(minutes=minute)


@pytest.fixture
def world() -> Iterator[tuple[Engine, UUID, UUID, int]]:
    """The scenario replayed (as an import), then the second fire as recorded live:
    reported by Zhang, consent asked of the storage room's owner, contained at 10:14 by
    Zhang. Yields the engine, Donghu, the fire and the containment's version."""
    clock = ManualClock(at(0))
    with Engine("memory:", clock=clock) as engine:
        donghu = replay(engine, load_scenario(DONGHU_FIRE)).community_id
        fire = engine.incidents.report(
            donghu, incident_type="fire", severity="high",
            location=Location(building="30", unit="2"), description="smoke again",
            actor=ZHANG, occurred_at=at(0)).aggregate_id
        engine.incidents.request_consent(fire, OWNER, "open the storage room", actor=ZHANG,
                                         occurred_at=at(3))
        clock.set(at(15))
        contained = engine.incidents.contain(fire, "out", actor=ZHANG, occurred_at=at(14))
        yield engine, donghu, fire, contained.first_version


def steps(engine: Engine, donghu: UUID, fire: UUID,
          contained: int) -> dict[str, Callable[[Actor], Receipt]]:
    """The intruder's steps, each as done by a given actor."""
    i, c = engine.incidents, engine.communities
    return {
        "make herself grid leader": lambda a: c.assign_role(
            donghu, a.person_id, Role.GRID_LEADER, "3", actor=a),
        "relieve the real one": lambda a: c.relieve_role(
            donghu, "p-3001", Role.GRID_LEADER, "3", "replaced", actor=a),
        "issue a care card with fake numbers": lambda a: c.issue_care_card(
            donghu, "3", FAKE_CARD, actor=a),
        "grant consent on a resident's behalf": lambda a: i.grant_consent(
            fire, OWNER, actor=a, occurred_at=at(16)),
        "authorise entry": lambda a: i.authorise_exigent_entry(
            fire, "smoke", actor=a, occurred_at=at(16)),
        "force entry": lambda a: i.force_entry(fire, "storage room", actor=a,
                                               occurred_at=at(17)),
        "back-date the containment": lambda a: i.correct_time(
            fire, contained, at(1), "it was out at once", actor=a),
        "close the incident": lambda a: i.close(fire, "false_alarm", actor=a,
                                                occurred_at=at(20)),
    }


ZHOU_CLAIMS = [Actor("zhou", role) for role in (Role.RESIDENT, Role.GRID_LEADER,
                                                Role.COMMUNITY_STAFF,
                                                Role.INCIDENT_COMMANDER, Role.SYSTEM)]


@pytest.mark.parametrize("claim", ZHOU_CLAIMS, ids=lambda a: a.role.value)
@pytest.mark.parametrize("override", [None, "I am helping"])
def test_every_step_of_the_unenrolled_intruder_is_refused(
        world: tuple[Engine, UUID, UUID, int], claim: Actor, override: str | None) -> None:
    """Whatever role Zhou claims, with or without an override: refused, nothing recorded,
    and the refusal names her."""
    engine, donghu, fire, contained = world
    zhou = evolve(claim, override=override)
    for step, do in steps(engine, donghu, fire, contained).items():
        before = engine.app.recorder.max_notification_id()
        with pytest.raises(PermissionDeniedError, match="zhou") as refusal:
            do(zhou)
        assert engine.app.recorder.max_notification_id() == before, step
        if override is not None:
            assert "the override is refused" in str(refusal.value), step
    assert engine.communities.get(donghu).holder(Role.GRID_LEADER, "3", at(30)) == (
        "p-3001")


def test_a_person_on_the_roster_can_do_only_the_overridable_steps_and_it_shows(
        world: tuple[Engine, UUID, UUID, int]) -> None:
    """Sun, grid 3's worker, acting beyond her role with a reason: entry, the back-dated
    containment and the closure go through, each fact carrying her override; the roster,
    the care card and the consent stay refused."""
    engine, donghu, fire, contained = world
    sun = evolve(SUN, override="the grid leader was out of reach")
    done, barred = [], []
    for step, do in steps(engine, donghu, fire, contained).items():
        try:
            receipt = do(sun)
        except PermissionDeniedError as refusal:
            barred.append(str(refusal))
            continue
        done.append(step)
        recorded = engine.events(receipt.aggregate_id)[receipt.first_version - 1:]
        assert {event.actor for event in recorded} == {sun}, step
    assert done == ["authorise entry", "force entry", "back-date the containment",
                    "close the incident"]
    assert all("cannot be overridden" in refusal for refusal in barred)


def test_the_grid_leader_back_dating_his_own_containment_is_possible_only_within_a_day(
        world: tuple[Engine, UUID, UUID, int]) -> None:
    """Zhang may correct facts of his grid for a day (the review flags a correction by an
    interested party); after that only the staff, for a month."""
    engine, _, fire, contained = world
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    clock.set(at(15) + timedelta(days=2))
    with pytest.raises(PermissionDeniedError, match="up to 1 day after it was recorded"):
        engine.incidents.correct_time(fire, contained, at(1), "log", actor=ZHANG)
    engine.incidents.correct_time(fire, contained, at(12), "duty log", actor=OFFICE)
