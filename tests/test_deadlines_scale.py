"""The watch at scale: exactly once when several engines tick one store at once, and a
tick's work bounded by the open cases, not by the history."""

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from resilience import Engine, ManualClock
from resilience.domain import recipients
from resilience.domain.base import FactAggregate
from resilience.domain.incident import Incident
from resilience.services import deadlines
from resilience.services.core import Store
from test_deadlines import escalations, fire, order, staffed

from conftest import OFFICE, T0, minutes


def test_engines_ticking_one_store_at_once_record_each_escalation_once(
        shared_store_url: str) -> None:
    """Four engines on one SQLite file or PostgreSQL schema (as four processes would be),
    each ticking from its own thread at the same moment, twice: every level due is
    recorded once, on every case, and reported as recorded by exactly one tick."""
    clock = ManualClock(T0)
    with Engine(shared_store_url, clock=clock, policy=None) as first:
        community = staffed(first)
        cases = [fire(first, community) for _ in range(3)] + [order(first, community, hours=1)]
    clock.set(T0 + timedelta(hours=30))
    engines = [Engine(shared_store_url, clock=clock, policy=None) for _ in range(4)]
    try:
        barrier = threading.Barrier(len(engines))
        failures: list[BaseException] = []
        raised: list[int] = []
        recorded: list[int] = []

        def watch(engine: Engine) -> None:
            try:
                barrier.wait()
                for _ in range(2):
                    tick = engine.tick()
                    raised.append(len(tick.raised))
                    recorded.append(sum(r.recorded for r in tick.raised))
            except BaseException as exc:  # reported below, with the others
                failures.append(exc)

        threads = [threading.Thread(target=watch, args=(e,)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        stored = {case: escalations(engines[0], case) for case in cases}
        for keys in stored.values():
            assert len(keys) == len(set(keys))
        assert [len(stored[case]) for case in cases] == [5, 5, 5, 4]
        assert sum(raised) >= 19  # each one reported by a watch that recorded or met it
        assert sum(recorded) == 19  # ... and as recorded by the one that recorded it
        assert all(engine.tick().raised == () for engine in engines)
    finally:
        for engine in engines:
            engine.close()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """The ids of every aggregate the store hands a command or the watch (``current``)."""
    seen: list[UUID] = []
    original = Store.current

    def current(self: Store, cls: type[Any], aggregate_id: UUID) -> Any:
        seen.append(aggregate_id)
        return original(self, cls, aggregate_id)

    monkeypatch.setattr(Store, "current", current)
    return seen


def test_a_tick_reads_only_the_open_cases_however_many_ended_before(
        engine: Engine, clock: ManualClock, counted: list[UUID]) -> None:
    """300 closed incidents of history and three open ones: a tick reads three live
    documents and loads the three open cases (and the community whose roster it tells),
    nothing of the closed ones; the views' (view, kind, at) index answers it."""
    community = staffed(engine)
    with engine.batch():
        for n in range(300):
            closed = fire(engine, community)
            engine.incidents.close(closed, "false_alarm", actor=OFFICE,
                                   occurred_at=T0 + minutes(1), command_id=f"close-{n}")
    open_cases = {fire(engine, community) for _ in range(3)}
    clock.advance(minutes(3))
    engine.views.catch_up()
    read: list[int] = []
    select = engine.views.select

    def counting(view: str, kind: str, **options: Any) -> Any:
        found = select(view, kind, **options)
        read.append(len(found))
        return found

    engine.views.select = counting  # type: ignore[method-assign]
    counted.clear()
    tick = engine.tick()
    assert tick.examined == 3
    assert {r.case_id for r in tick.raised} == open_cases
    assert sum(read) == 3
    assert set(counted) == open_cases | {community}


def test_the_live_view_index_is_the_one_the_views_query_by_kind() -> None:
    """The rows a tick selects are the live view's open kinds: ``ended`` rows are another
    kind, which the index keeps apart (a closed case is never a candidate)."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        community = staffed(engine)
        closed, kept = fire(engine, community), fire(engine, community)
        engine.incidents.close(closed, "false_alarm", actor=OFFICE, occurred_at=T0)
        engine.views.catch_up()
        assert [k for k, _ in engine.views.select("live", "incident")] == [str(kept)]
        assert [k for k, _ in engine.views.select("live", "ended")] == [str(closed)]
        events: list[FactAggregate.Event] = engine.events(closed)
        assert not any(isinstance(e, Incident.Escalated) for e in events)


def test_a_fact_recorded_by_another_writer_while_the_watch_decides_stops_the_escalation(
        shared_store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch finds the acknowledgement level due; before it records it, another
    engine records the acknowledgement. The watch's save clashes, it decides again on the
    stored history, and records nothing: no escalation of a deadline met first."""
    clock = ManualClock(T0)
    with Engine(shared_store_url, clock=clock, policy=None) as watch, \
            Engine(shared_store_url, clock=clock, policy=None) as office:
        incident = fire(watch, staffed(watch), severity="low")
        watch.tick()  # caches the incident in the watch's store
        clock.set(T0 + minutes(3))
        real = recipients.notified

        def meanwhile(*args: Any) -> Any:
            if office.events(incident)[-1].fact_name != "Acknowledged":
                office.incidents.acknowledge(incident, actor=OFFICE,
                                             occurred_at=T0 + minutes(3))
            return real(*args)

        monkeypatch.setattr(deadlines, "notified", meanwhile)
        tick = watch.tick()
        assert tick.raised == ()
        assert tick.skipped == ()
        assert escalations(watch, incident) == []
