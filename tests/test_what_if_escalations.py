"""What-if on escalations: the escalations a policy would have raised with a perfect watch,
beside those recorded, per deadline level and per case; nothing recorded.

Donghu's grid 3: fires detected at 15:00, 16:00 and 17:00. The first is acknowledged at
15:01:30, the second at 16:03, the third at 17:05; the watch ticked once, at 17:03 (so it
raised the third fire's level 0, due 17:02, and nothing else).
"""

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings

import histories as hist
from histories import setup_world
from resilience import (
    Actor,
    Engine,
    InvalidInputError,
    Location,
    ManualClock,
    NotFoundError,
    Period,
    Role,
)
from resilience.cli import main
from resilience.domain.escalation import Deadline, EscalationPolicy, Level, Recipient
from resilience.services.deadlines import DEFAULT_ESCALATION
from resilience.services.what_if import WhatIf
from test_what_if import records_nothing

from conftest import T0, donghu

OFFICE = Actor("office-duty", Role.COMMUNITY_STAFF)
GRID_LEADER, STAFF = Recipient(Role.GRID_LEADER), Recipient(Role.COMMUNITY_STAFF)


def acknowledged(minutes: float) -> Deadline:
    return Deadline("acknowledged", "incident", ["acknowledged"],
                    within=timedelta(minutes=minutes),
                    levels=(Level(timedelta(0), (GRID_LEADER,)),
                            Level(timedelta(minutes=2), (STAFF,))))


POLICY = EscalationPolicy((acknowledged(2),))
TIGHTER = EscalationPolicy((acknowledged(1),))


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def fires(engine: Engine, clock: ManualClock) -> tuple[UUID, list[UUID]]:
    """The three fires, acknowledged after 1.5, 3 and 5 minutes; one tick at 17:03."""
    community = donghu(engine)
    found = []
    for hour, after in ((0, 1.5), (1, 3), (2, 5)):
        fire = engine.incidents.detect(
            community, incident_type="fire", severity="high", description="smoke",
            location=Location(grid="3"), actor=OFFICE, occurred_at=at(60 * hour)).aggregate_id
        if hour == 2:
            clock.set(at(123))
            engine.tick()
        engine.incidents.acknowledge(fire, actor=OFFICE, occurred_at=at(60 * hour + after))
        found.append(fire)
    clock.set(at(60 * 24))
    return community, found


@pytest.fixture
def recorded(store_url: str, clock: ManualClock) -> Iterator[tuple[Engine, list[UUID]]]:
    """The fires on every store, watched under POLICY."""
    with Engine(store_url, clock=clock, policy=None, escalation=POLICY) as engine:
        _, found = fires(engine, clock)
        yield engine, found


def test_each_level_counts_what_was_recorded_and_what_a_perfect_watch_would_raise(
        recorded: tuple[Engine, list[UUID]]) -> None:
    """Under the policy the watch ran: level 0 was needed for the second and third fires
    (acknowledged after 3 and 5 minutes) but raised only for the third; level 1 (due
    after 4 minutes) only for the third, and never raised."""
    engine, (first, second, third) = recorded
    with records_nothing(engine):
        found = engine.what_if.escalations(POLICY)
    assert found.examined == 3
    assert [(r.subject, r.deadline, r.level, r.recorded, r.would) for r in found.levels] == [
        ("incident", "acknowledged", 0, 1, 2), ("incident", "acknowledged", 1, 0, 1)]
    assert (found.recorded, found.would) == (1, 3)
    by_case = {c.case_id: c for c in found.cases}
    assert first not in by_case  # acknowledged in time: nothing either side
    assert by_case[second].recorded == ()
    assert [(s.deadline, s.level, s.due_at) for s in by_case[second].would] == [
        ("acknowledged", 0, at(62))]
    assert by_case[third].recorded == (("acknowledged", 0, 0),)
    assert [(s.level, s.due_at) for s in by_case[third].would] == [(0, at(122)), (1, at(124))]


def test_a_tighter_policy_would_have_raised_more(recorded: tuple[Engine, list[UUID]]) -> None:
    """Within one minute, every fire's level 0 was needed; level 1 (after 3 minutes) for
    the third fire only (the second was acknowledged just then)."""
    engine, _ = recorded
    found = engine.what_if.escalations(TIGHTER)
    assert found.level("incident", "acknowledged", 0).would == 3
    assert found.level("incident", "acknowledged", 1).would == 1
    assert found.level("incident", "acknowledged", 0).difference == 2
    assert found.level("order", "response", 0).would == 0  # not in the policy: zero


def test_levels_not_due_by_the_clock_are_not_counted(memory_engine: Engine,
                                                     clock: ManualClock) -> None:
    """An incident detected at 15:00 and unacknowledged: as of 15:03 only level 0 (15:02)
    is due; the engine's clock decides."""
    community = donghu(memory_engine)
    memory_engine.incidents.detect(
        community, incident_type="fire", severity="high", description="smoke",
        location=Location(grid="3"), actor=OFFICE, occurred_at=at(0))
    clock.set(at(3))
    found = memory_engine.what_if.escalations(POLICY)
    assert [(r.level, r.would) for r in found.levels] == [(0, 1), (1, 0)]
    assert found.at == at(3)


def test_a_period_and_a_community_choose_the_cases(recorded: tuple[Engine, list[UUID]]) -> None:
    """Only the cases started in the period (and of the community) are examined."""
    engine, (first, second, _) = recorded
    found = engine.what_if.escalations(POLICY, period=Period(at(0), at(90)))
    assert found.examined == 2
    assert [c.case_id for c in found.cases] == [second]
    community = engine.incidents.get(first).community_id
    assert engine.what_if.escalations(POLICY, community=community).examined == 3


def test_a_case_that_began_in_an_emergency_is_judged_on_the_emergency_deadlines(
        memory_engine: Engine, clock: ManualClock) -> None:
    """With an emergency in force where the case began, the policy's emergency deadlines
    apply (here: one minute, where peacetime allows two)."""
    _, _ = fires(memory_engine, clock)
    policy = EscalationPolicy((acknowledged(2),), emergency=(acknowledged(1),))
    what_if = WhatIf(memory_engine.reports, memory_engine.app, clock,
                     in_emergency=lambda community, area, moment: True)
    assert what_if.escalations(policy).level("incident", "acknowledged", 0).would == 3
    assert memory_engine.what_if.escalations(policy).level(
        "incident", "acknowledged", 0).would == 2


def test_the_render_gives_each_level_and_the_total(recorded: tuple[Engine, list[UUID]]) -> None:
    """The table has a row per level and a total; with cases, a line per case."""
    engine, (_, second, _) = recorded
    text = engine.what_if.escalations(POLICY).render(cases=True)
    lines = text.splitlines()
    assert lines[3].split() == ["incident", "acknowledged", "0", "1", "2", "+1"]
    assert lines[5].split() == ["total", "1", "3", "+2"]
    assert any(line.startswith(str(second)) and line.endswith("acknowledged/0")
               for line in lines)
    assert text.endswith("Nothing was recorded: a what-if only reads.")


@pytest.mark.parametrize(("error", "arguments"), [
    (InvalidInputError, {"policy": POLICY.to_dict()}),
    (InvalidInputError, {"policy": None}),
    (InvalidInputError, {"policy": POLICY, "period": (at(0), at(1))}),
    (InvalidInputError, {"policy": POLICY, "community": "Donghu"}),
    (NotFoundError, {"policy": POLICY, "community": UUID(int=9)}),
])
def test_bad_input_is_refused_and_nothing_recorded(
        memory_engine: Engine, error: type[Exception], arguments: dict[str, Any]) -> None:
    """A policy that is no EscalationPolicy, a period or community that is no such
    thing: refused, nothing recorded."""
    donghu(memory_engine)
    with records_nothing(memory_engine), pytest.raises(error):
        memory_engine.what_if.escalations(arguments.pop("policy"), **arguments)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=hist.histories)
def test_on_any_history_the_counts_add_up_and_nothing_is_recorded(
        history: list[tuple[Any, ...]]) -> None:
    """On random histories watched by ticks along the way: the recorded column counts
    the Escalated facts of the cases, the would column each case's needed levels due by
    now (``engine.deadlines``), per case and per level alike; nothing is recorded."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        world = setup_world(engine, clock)
        for number, step in enumerate(history):
            hist.apply_history(engine, clock, world, [step])
            if number % 3 == 0:
                engine.tick()
        clock.advance(timedelta(days=1))
        with records_nothing(engine):
            found = engine.what_if.escalations(DEFAULT_ESCALATION)
        now = clock()
        cases = [*world.incidents, *world.orders]
        assert found.examined == len(cases)
        facts = sum(type(e).__name__ == "Escalated" for c in cases for e in engine.events(c))
        assert found.recorded == facts
        needed = {c: [s for s in engine.deadlines(c) if s.needed and s.due_at <= now]
                  for c in cases}
        assert found.would == sum(map(len, needed.values()))
        assert {c.case_id: list(c.would) for c in found.cases if c.would} == {
            c: states for c, states in needed.items() if states}
        assert sum(r.would for r in found.levels) == found.would


# The command line -----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "watched.db"
    clock = ManualClock(T0)
    with Engine(f"sqlite:///{path}", clock=clock, policy=None, escalation=POLICY) as engine:
        fires(engine, clock)
    return path


def test_the_command_line_prints_the_counts(store: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``resilience what-if escalations --policy FILE`` (or ``default``) prints the
    table; ``--cases`` adds a line per case."""
    policy = tmp_path / "tighter.json"
    policy.write_text(json.dumps(TIGHTER.to_dict()), encoding="utf-8")
    assert main(["what-if", "escalations", "--db", str(store), "--policy", str(policy)]) == 0
    out = capsys.readouterr().out
    assert next(line for line in out.splitlines() if line.startswith("total")).split() == [
        "total", "1", "4", "+3"]
    assert main(["what-if", "escalations", "--db", str(store), "--policy", "default",
                 "--cases", "--month", "2022-02", "--community", "Donghu"]) == 0
    assert "would raise" in capsys.readouterr().out


def test_the_command_line_refuses_a_bad_policy_file(store: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A policy file that is not there, or not a policy: exit 2 with the reason."""
    assert main(["what-if", "escalations", "--db", str(store), "--policy",
                 str(tmp_path / "none.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"deadlines": [{"name": "x"}]}', encoding="utf-8")
    assert main(["what-if", "escalations", "--db", str(store), "--policy", str(bad)]) == 2
    assert "escalation policy" in capsys.readouterr().err
