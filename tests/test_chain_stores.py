"""The hash chain as the stores keep it: written in the insert's transaction by processes
writing at once (links in notification order, every checkpoint valid), by batches, never
by an insert that fails; built on first open for a store recorded before the chain existed,
once, however many processes open it together; read in pages when verified.
"""

import multiprocessing
from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from chain_support import KEY, Raw, open_engine, record, recorded
from resilience import ConfigurationError, Engine, TamperedStoreError
from resilience.adapters import chain_checks
from resilience.adapters.chain import CheckpointKind, Signature, Tampering
from resilience.adapters.chain_checks import verify

from conftest import require_postgres

PROCS = 4
COMMANDS = 25
_fork = multiprocessing.get_context("fork")


def _at_once(work: Callable[..., None], args: list[tuple[Any, ...]]) -> list[str]:
    """Run ``work(*args)`` in one process per args, released together; the failures."""
    barrier, results = _fork.Barrier(len(args)), _fork.Queue()
    workers = [_fork.Process(target=_reporting, args=(work, barrier, results, *a))
               for a in args]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    return [o for o in outcomes if o is not None]


def _reporting(work: Callable[..., None], barrier: Any, results: Any, *args: Any) -> None:
    try:
        barrier.wait(timeout=60)
        work(*args)
    except BaseException as exc:  # every failure is a result
        results.put(f"{type(exc).__name__}: {exc}")
    else:
        results.put(None)


def _writer(url: str, name: str, batches: bool) -> None:
    with open_engine(url, every=7, key=KEY) as engine:
        if batches:
            for round_ in range(COMMANDS // 5):
                with engine.batch():
                    record(engine, 5, prefix=f"{name}-{round_}-")
        else:
            record(engine, COMMANDS, prefix=name)


def test_processes_writing_at_once_keep_a_valid_signed_chain(shared_store_url: str) -> None:
    """Links follow notification order under the insert lock, and every interval checkpoint
    any process signed verifies; one process writes in batches."""
    with open_engine(shared_store_url):
        pass  # set up once: the race here is between writers
    assert _at_once(_writer, [(shared_store_url, f"w{i}", i == 0) for i in range(PROCS)]) == []
    with open_engine(shared_store_url, every=7, key=KEY) as engine:
        verification = engine.verify()
    assert verification.ok, verification
    assert verification.events_checked == PROCS * COMMANDS
    assert verification.signature is Signature.VALID
    raw = Raw(shared_store_url)
    assert raw.count("chain") == raw.count("events") == PROCS * COMMANDS
    assert raw.count("checkpoints") >= PROCS * COMMANDS // 7 // 2


def test_a_batch_is_chained_in_its_one_transaction(store_url: str) -> None:
    with open_engine(store_url, every=10) as engine:
        record(engine, 3)
        with engine.batch() as batch:
            record(engine, 30, prefix="batch")
        assert batch.events_recorded == 30
        verification = engine.verify()
    assert verification.ok
    assert verification.events_checked == 33
    assert verification.checkpoint is not None
    assert (verification.checkpoint.position, verification.checkpoint.events) == (33, 33)


def test_an_insert_that_fails_records_no_link(store_url: str) -> None:
    with open_engine(store_url) as engine:
        record(engine, 2)
        first = engine.stored_events(record(engine, 1, prefix="x")[0])[0]
        again = StoredEvent(first.originator_id, first.originator_version, first.topic,
                            first.state)
        with pytest.raises(IntegrityError):
            engine.app.recorder.insert_events([again])
        record(engine, 1, prefix="after")
        verification = engine.verify()
        assert verification.ok
        assert verification.events_checked == 4


def test_a_store_recorded_before_the_chain_gets_it_built_on_first_open(
        shared_store_url: str) -> None:
    """The chain is built over the events as they are then (a checkpoint of kind "built",
    unsigned); interval checkpoints follow from there."""
    raw = recorded(shared_store_url, 5)
    raw.drop_chain()
    with open_engine(shared_store_url, every=3) as engine:
        verification = engine.verify()
        assert verification.ok
        built = verification.built
        assert built is not None
        assert (built.position, built.events, built.kind, built.signed) == (
            5, 5, CheckpointKind.BUILT, False)
        assert "the first 5 events were recorded before the chain, which was built over " \
               "them on" in str(verification)
        record(engine, 4, prefix="later")
        verification = engine.verify()
    assert verification.ok
    assert verification.built == built
    assert verification.checkpoint is not None
    assert (verification.checkpoint.position, verification.checkpoint.kind) == (
        8, CheckpointKind.INTERVAL)


def test_a_built_chain_is_signed_only_by_an_explicit_checkpoint(shared_store_url: str) -> None:
    """Building never signs: someone who dropped the chain's tables would otherwise have the
    next opener sign their edits. With a key, the store is uncovered until sealed."""
    raw = recorded(shared_store_url, 5)
    raw.drop_chain()
    with open_engine(shared_store_url, every=3, key=KEY) as engine:
        problem = engine.verify().problem
        assert problem is not None
        assert problem.kind is Tampering.UNCOVERED
        assert engine.checkpoint().signed
        assert engine.verify().ok


def _opener(url: str, name: str) -> None:
    with open_engine(url) as engine:
        record(engine, 1, prefix=name)


def test_processes_opening_a_store_without_a_chain_at_once_build_it_once(
        shared_store_url: str) -> None:
    raw = recorded(shared_store_url, 20)
    raw.drop_chain()
    assert _at_once(_opener, [(shared_store_url, f"o{i}") for i in range(8)]) == []
    assert raw.run("SELECT position, kind FROM {checkpoints}") == [(20, "built")]
    assert raw.count("chain") == raw.count("events") == 28
    with open_engine(shared_store_url) as engine:
        assert engine.verify().ok


class _Counting:
    """A store's chain rows, noting the largest page any read returned."""

    def __init__(self, rows: Any) -> None:
        self.rows = rows
        self.largest = 0

    def __getattr__(self, name: str) -> Any:
        read = getattr(self.rows, name)

        def counted(*args: Any) -> Any:
            found = read(*args)
            if isinstance(found, list):  # a page (state() is one tuple)
                self.largest = max(self.largest, len(found))
            return found

        return counted


def test_verification_reads_events_links_and_checkpoints_in_pages(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No read returns more than a page, across page boundaries problems are still found."""
    monkeypatch.setattr(chain_checks, "PAGE", 3)
    with open_engine(store_url, every=2) as engine:
        record(engine, 25)
        rows = _Counting(engine._chain.chain_reader())
        verification = verify(rows, engine._chain.chain_settings)
        assert verification.ok
        assert verification.events_checked == 25
        assert rows.largest == 3
        if store_url != "memory:":
            Raw(store_url).alter(7)
            problem = verify(rows, engine._chain.chain_settings).problem
            assert problem is not None
            assert (problem.kind, problem.position) == (Tampering.ALTERED, 7)


@pytest.mark.postgres
def test_postgres_database_functions_are_refused(pg_url: str) -> None:
    with pytest.raises(ConfigurationError, match="POSTGRES_ENABLE_DB_FUNCTIONS"):
        Engine(pg_url, policy=None, env={"POSTGRES_ENABLE_DB_FUNCTIONS": "y"})


@pytest.mark.postgres
def test_a_notification_id_sequence_set_back_refuses_to_record(pg_url: str) -> None:
    """The newest events deleted and the sequence set back to hide it: new events would take
    positions the chain already holds, so nothing is recorded."""
    require_postgres()
    with open_engine(pg_url) as engine:
        record(engine, 5)
        raw = Raw(pg_url)
        raw.run("DELETE FROM {events} WHERE notification_id > 3")
        raw.run("SELECT setval(pg_get_serial_sequence('{events}', 'notification_id'), 3)")
        with pytest.raises(TamperedStoreError, match="hands out notification id 4"):
            record(engine, 1, prefix="late")
    assert (raw.count("events"), raw.count("chain")) == (3, 5)
