"""The backend contract: the same history gives the same facts on every store."""

from uuid import UUID

from resilience import Engine, ManualClock
from resilience.scenario import load_scenario, replay
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS


def _facts(engine: Engine, ids: list[UUID]) -> list[tuple[str, int, bytes]]:
    return [(s.topic, s.originator_version, s.state)
            for aggregate in ids for s in engine.stored_events(aggregate)]


def test_both_scenarios_store_byte_identical_facts_everywhere(engine: Engine,
                                                              clock: ManualClock) -> None:
    """Replaying on memory, SQLite and PostgreSQL stores the same topics and JSON bytes."""
    with Engine("memory:", clock=clock) as reference:
        for path in (DONGHU_FIRE, XIANGYANG_ORDERS):
            scenario = load_scenario(path)
            got = replay(engine, scenario)
            want = replay(reference, scenario)
            ids = [got.community_id, *got.incidents.values(), *got.orders.values()]
            assert got == want
            assert _facts(engine, ids) == _facts(reference, ids)
            assert [type(e) for e in engine.events(ids[-1])] == [
                type(e) for e in reference.events(ids[-1])]


def test_notification_log_holds_every_fact_in_recording_order(engine: Engine) -> None:
    """The store's log (what projections will follow) has each fact once, in save order."""
    result = replay(engine, load_scenario(XIANGYANG_ORDERS))
    notifications = engine.app.recorder.select_notifications(start=1, limit=10_000)
    assert len(notifications) == result.events_recorded
    assert [n.id for n in notifications] == sorted(n.id for n in notifications)
    order = result.orders["repair-1"]
    versions = [n.originator_version for n in notifications if n.originator_id == order]
    assert versions == list(range(1, len(engine.events(order)) + 1))


def test_service_order_timeline_counts_from_placement(engine: Engine) -> None:
    """An order's timeline starts at its placement and shows the reopen and second visit."""
    result = replay(engine, load_scenario(XIANGYANG_ORDERS))
    timeline = engine.timeline(result.orders["repair-1"])
    actions = [e.action for e in timeline.entries]
    assert actions[0] == "Placed"
    assert timeline.entries[0].minutes == 0
    assert actions.count("Completed") == 2
    assert "Reopened" in actions
    rated = timeline.first("Rated")
    assert rated is not None
    assert rated.minutes == 330
