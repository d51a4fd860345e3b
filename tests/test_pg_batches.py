"""Batches of any size on PostgreSQL: recorded in one transaction, chained, verified.

A 20k-50k-event batch used to hang for ever in psycopg's ``Pipeline.sync()``: its
single INSERT was bigger than the sockets hold, and sync stopped sending before all of
it was sent (resilience.adapters.chain_postgres). Events now go in bounded statements,
each handed to the socket whole. A hang would stall the suite rather than fail it, so
the big runs happen under :func:`finishes`, a deadlock guard (minutes, far above any
run here: it says "stuck", not "slow").
"""

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast
from uuid import uuid4

import pytest
from eventsourcing.persistence import DataError, IntegrityError, StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain_support import KEY, Raw, open_engine
from resilience import Location, ManualClock
from resilience.adapters import chain_postgres
from resilience.adapters.chain import Signature
from resilience.adapters.chain_postgres import chunks
from resilience.domain.references import book_id

from conftest import OFFICE, T0, donghu

T = TypeVar("T")
STUCK_AFTER = 600.0
"""Seconds after which a batch still running is taken for a deadlock."""
TOPIC = "tests.test_pg_batches:Fact"


def finishes(work: Callable[[], T]) -> T:
    """``work()``, run in a thread; a test failure instead of a hang if it deadlocks."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(("value", work()))
        except BaseException as exc:  # handed to the test's thread
            outcome.append(("error", exc))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(STUCK_AFTER)
    if not outcome:
        pytest.fail(f"still running after {STUCK_AFTER:.0f} s: deadlocked (the pipeline?)")
    kind, value = outcome[0]
    if kind == "error":
        raise value
    return cast(T, value)


def _events(sizes: list[int]) -> list[StoredEvent]:
    return [StoredEvent(uuid4(), 1, TOPIC, b"s" * size) for size in sizes]


@given(st.lists(st.integers(0, 50)), st.integers(1, 120))
def test_chunks_keep_every_item_in_order_each_within_the_budget(sizes: list[int],
                                                                budget: int) -> None:
    """Runs are never empty, fill greedily, and exceed the budget only as one big item."""
    runs = list(chunks(sizes, lambda size: size, budget))
    assert [size for run in runs for size in run] == sizes
    for index, run in enumerate(runs):
        assert run
        assert sum(run) <= budget or len(run) == 1
        if index + 1 < len(runs):
            assert sum(run) + runs[index + 1][0] > budget


def test_a_50k_event_batch_is_recorded_chained_and_verified(pg_url: str) -> None:
    """One engine.batch() of 50,000 events, in one transaction, with a signed checkpoint
    falling due inside it: every event recorded in command order, the chain holds."""
    incidents, facts = 5_000, 10
    with open_engine(pg_url, every=20_000, key=KEY) as opened:
        engine = opened.with_clock(ManualClock(T0))
        community = donghu(engine)
        before = engine.app.recorder.max_notification_id() or 0

        def record() -> Any:
            with engine.batch() as batch:
                for index in range(incidents):
                    at = T0 + timedelta(seconds=index)
                    incident = engine.incidents.report(
                        community, incident_type="fire", severity="low",
                        location=Location(building="30"), description=f"fire {index}",
                        actor=OFFICE, occurred_at=at, channel=None).aggregate_id
                    for step in range(facts - 1):
                        engine.incidents.take_action(incident, "other", f"step {step}",
                                                     actor=OFFICE, occurred_at=at)
            return batch

        batch = finishes(record)
        assert batch.events_recorded == incidents * (facts + 1)  # (each one's reference too)
        assert batch.position == engine.app.recorder.max_notification_id()
        verification = finishes(engine.verify)
    assert verification.ok, verification
    assert verification.events_checked == before + incidents * (facts + 1)
    assert verification.signature is Signature.VALID
    raw = Raw(pg_url)
    assert raw.count("events") == raw.count("chain") == before + incidents * (facts + 1)
    # The checkpoint that fell due inside the batch, at its end (one insert: one at most).
    assert raw.one("SELECT max(position) FROM {checkpoints}") == batch.position
    # Notification order is the batch's order: each incident's facts in version order,
    # the incidents one after another.
    rows = raw.run("SELECT originator_id, originator_version FROM {events} "
                   "WHERE {id} > %s ORDER BY {id}", (before,))
    # (The year's reference book, which numbered them all, is saved as one aggregate.)
    book = book_id(community, "incident", T0.year)
    assert [version for originator, version in rows if originator == book] == list(
        range(1, incidents + 1))
    rows = [(originator, version) for originator, version in rows if originator != book]
    assert [version for _, version in rows] == list(range(1, facts + 1)) * incidents
    assert len({originator for originator, _ in rows}) == incidents


def test_a_batch_in_many_statements_is_stored_in_its_order(pg_url: str,
                                                           monkeypatch: Any) -> None:
    """With statements of a few hundred bytes, any batch (events of any size) comes back
    as given, at ascending positions past everything before it, and the chain holds."""
    with open_engine(pg_url) as engine:
        recorder = engine.app.recorder

        @settings(max_examples=25, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(st.integers(0, 700), min_size=1, max_size=40),
               st.integers(1, 1_500))
        def check(sizes: list[int], budget: int) -> None:
            monkeypatch.setattr(chain_postgres, "CHUNK_BYTES", budget)
            events = _events(sizes)
            before = recorder.max_notification_id() or 0
            positions = recorder.insert_events(events)
            assert positions is not None
            assert list(positions) == sorted(positions)
            assert positions[0] > before
            stored = recorder.select_notifications(before + 1, len(events) + 1)
            assert [n.id for n in stored] == list(positions)
            assert [(n.originator_id, n.originator_version, n.topic, n.state)
                    for n in stored] == [(e.originator_id, e.originator_version, e.topic,
                                          e.state) for e in events]

        check()
        verification = engine.verify()
    assert verification.ok, verification


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_conflict_in_any_statement_of_a_batch_records_nothing(
        pg_url: str, monkeypatch: Any, where: str) -> None:
    """An event already stored, in the first, a middle or the last statement: the whole
    batch fails with IntegrityError (a conflict), nothing of it is stored, the store
    takes the next batch and its chain holds."""
    monkeypatch.setattr(chain_postgres, "CHUNK_BYTES", 2_000)
    with open_engine(pg_url) as engine:
        recorder = engine.app.recorder
        taken = StoredEvent(uuid4(), 1, TOPIC, b"first")
        recorder.insert_events([taken])
        events = _events([100] * 200)
        events[{"first": 0, "middle": 100, "last": 199}[where]] = taken
        with pytest.raises(IntegrityError):
            recorder.insert_events(events)
        raw = Raw(pg_url)
        assert raw.count("events") == raw.count("chain") == 1
        assert recorder.insert_events(_events([10, 20]))
        verification = engine.verify()
    assert verification.ok, verification
    assert raw.count("events") == raw.count("chain") == 3


def test_an_event_bigger_than_the_sockets_hold_is_stored(pg_url: str) -> None:
    """One statement that cannot be split (one 32 MB event) still goes through whole."""
    with open_engine(pg_url) as engine:
        big = StoredEvent(uuid4(), 1, TOPIC, bytes(range(256)) * (1 << 17))
        positions = finishes(lambda: engine.app.recorder.insert_events([big]))
        assert positions is not None
        (stored,) = engine.app.recorder.select_notifications(positions[0], 1)
        assert stored.state == big.state
        assert engine.verify().ok


def test_uuids_given_as_text_are_stored_as_uuids(pg_url: str) -> None:
    """The ids go as a uuid array: one given as text is converted (eventsourcing's insert
    took them too), one that is not a UUID is refused as a DataError, recording nothing."""
    with open_engine(pg_url) as engine:
        originator = uuid4()
        recorder = engine.app.recorder
        recorder.insert_events([StoredEvent(str(originator), 1, TOPIC, b"{}")])
        (stored,) = recorder.select_events(originator)
        assert stored.originator_id == originator
        with pytest.raises(DataError):
            recorder.insert_events([StoredEvent(uuid4(), 1, TOPIC, b"{}"),
                                    StoredEvent("not-a-uuid", 1, TOPIC, b"{}")])
        assert recorder.max_notification_id() == 1
