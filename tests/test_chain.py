"""A record nobody can quietly rewrite (issue 12 §3): rows of the events edited, deleted and
inserted directly in the database, and ``verify`` naming each (notification id, originator
id, version), on SQLite and PostgreSQL, and in memory; what the chain alone cannot show, and
how a checkpoint kept elsewhere shows it; ``resilience verify`` and ``resilience checkpoint``.

The signed checkpoints are in test_chain_signing.py; concurrent writers, batches and stores
recorded before the chain existed in test_chain_stores.py.
"""

from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent

from chain_support import Raw, memory_recorder, open_engine, record, recorded
from resilience import InvalidInputError, TamperedStoreError
from resilience.adapters.chain import Signature, Tampering, Verification
from resilience.cli import main


def _verify(url: str, expect: str | None = None) -> Verification:
    with open_engine(url) as engine:
        return engine.verify(expect=expect)


def test_an_untouched_store_verifies(store_url: str) -> None:
    """Every event checked, the latest interval checkpoint found; no signature without a key."""
    with open_engine(store_url, every=4) as engine:
        record(engine, 10)
        verification = engine.verify()
    assert verification.ok
    assert verification.problem is None
    assert (verification.events_checked, verification.head) == (10, 10)
    assert verification.checkpoint is not None
    assert (verification.checkpoint.position, verification.checkpoint.events) == (8, 8)
    assert verification.trusted == verification.checkpoint
    assert verification.signature is Signature.ABSENT
    assert str(verification).startswith("verified: 10 events match the hash chain; latest "
                                        "checkpoint at event 8")


def test_an_empty_store_verifies_and_takes_a_checkpoint(store_url: str) -> None:
    with open_engine(store_url) as engine:
        assert engine.verify().ok
        checkpoint = engine.checkpoint()
        assert (checkpoint.position, checkpoint.events) == (0, 0)
        assert engine.verify(expect=checkpoint.reference).ok
        assert engine.verify(expect=checkpoint).kept == checkpoint.reference
        with pytest.raises(InvalidInputError, match="a checkpoint reference is a string"):
            engine.verify(expect=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("edit", "message"), [
    ("UPDATE {events} SET state = %s WHERE {id} = %s", "was altered"),
    ("UPDATE {events} SET topic = topic || 'x' WHERE {id} = %s", "was altered"),
    ("UPDATE {events} SET originator_version = 99 WHERE {id} = %s", "was replaced"),
])
def test_an_edited_event_is_named(shared_store_url: str, edit: str, message: str) -> None:
    """Its state, its topic or its version changed: the event, as it now reads, is named."""
    raw = recorded(shared_store_url, 6)
    originator, version = raw.event(4)
    if "state" in edit:
        raw.alter(4)
    else:
        raw.run(edit, (4,))
        version = raw.event(4)[1]
    verification = _verify(shared_store_url)
    problem = verification.problem
    assert problem is not None
    assert problem.kind is Tampering.ALTERED
    assert (problem.position, problem.originator_id, problem.version) == (4, originator, version)
    assert verification.events_checked == 3
    assert not verification.ok
    assert str(verification).startswith(f"TAMPERED: Event 4 (aggregate {originator}, version "
                                        f"{version})")
    assert message in str(verification)


def test_a_deleted_event_is_named_by_the_link_it_left(shared_store_url: str) -> None:
    raw = recorded(shared_store_url, 6)
    originator, version = raw.event(3)
    raw.run("DELETE FROM {events} WHERE {id} = 3")
    problem = _verify(shared_store_url).problem
    assert problem is not None
    assert problem.kind is Tampering.DELETED
    assert (problem.position, problem.originator_id, problem.version) == (3, originator, version)
    assert "as the chain recorded it) was deleted" in problem.message


def test_an_inserted_event_is_named_also_after_later_writes(shared_store_url: str) -> None:
    """A row added by hand has no link; the library's next writes go on past it."""
    raw = recorded(shared_store_url, 4)
    originator, _ = raw.event(2)
    raw.run("INSERT INTO {events} (originator_id, originator_version, topic, state) "
            "SELECT originator_id, 99, topic, state FROM {events} WHERE {id} = 2")
    with open_engine(shared_store_url) as engine:
        record(engine, 2, prefix="later")
        verification = engine.verify()
    problem = verification.problem
    assert problem is not None
    assert problem.kind is Tampering.INSERTED
    assert (problem.position, problem.originator_id, problem.version) == (5, originator, 99)
    assert verification.events_checked == 4
    assert raw.one("SELECT max({id}) FROM {events}") == 7


def test_an_event_deleted_with_its_link_is_found_by_the_chains_count(
        shared_store_url: str) -> None:
    raw = recorded(shared_store_url, 6)
    raw.run("DELETE FROM {events} WHERE {id} = 3")
    raw.run("DELETE FROM {chain} WHERE notification_id = 3")
    problem = _verify(shared_store_url).problem
    assert problem is not None
    assert problem.kind is Tampering.DELETED
    assert problem.position == 4
    assert "1 event(s) between events 2 and 4 were deleted together with their links" in \
        problem.message


def test_an_edited_link_is_named(shared_store_url: str) -> None:
    raw = recorded(shared_store_url, 5)
    raw.run("UPDATE {chain} SET link = %s WHERE notification_id = 2", (b"\0" * 32,))
    problem = _verify(shared_store_url).problem
    assert problem is not None
    assert (problem.kind, problem.position) == (Tampering.ALTERED, 2)


def test_a_checkpoint_past_the_end_shows_the_newest_events_deleted(shared_store_url: str) -> None:
    with open_engine(shared_store_url, every=3) as engine:
        record(engine, 7)
        engine.checkpoint()
    raw = Raw(shared_store_url)
    raw.run("DELETE FROM {events} WHERE {id} > 5")
    raw.run("DELETE FROM {chain} WHERE notification_id > 5")
    problem = _verify(shared_store_url).problem
    assert problem is not None
    assert (problem.kind, problem.position) == (Tampering.DELETED, 6)
    assert problem.message == ("The store ends at event 5, but a checkpoint covers events up "
                               "to 6: the newest events were deleted with their links.")


def test_the_newest_events_deleted_with_their_checkpoints_show_only_against_a_kept_reference(
        shared_store_url: str) -> None:
    """What the store alone cannot show (docs/security.md): a tail cut off with its links
    and checkpoints leaves a shorter, consistent record. A reference kept elsewhere shows it."""
    with open_engine(shared_store_url) as engine:
        record(engine, 5)
        kept = engine.checkpoint().reference
        record(engine, 3, prefix="later")
    raw = Raw(shared_store_url)
    for statement in ("DELETE FROM {events} WHERE {id} > 3",
                      "DELETE FROM {chain} WHERE notification_id > 3",
                      "DELETE FROM {checkpoints} WHERE position > 3"):
        raw.run(statement)
    assert _verify(shared_store_url).ok
    problem = _verify(shared_store_url, expect=kept).problem
    assert problem is not None
    assert (problem.kind, problem.position) == (Tampering.DELETED, 5)
    assert "the checkpoint you kept covers events up to 5" in problem.message


def test_a_kept_reference_that_does_not_match_is_named(shared_store_url: str) -> None:
    with open_engine(shared_store_url) as engine:
        record(engine, 4)
        kept = engine.checkpoint().reference
    raw = Raw(shared_store_url)
    raw.alter(2)
    raw.recompute()
    verification = _verify(shared_store_url, expect=kept)
    assert verification.problem is not None
    assert (verification.problem.kind, verification.problem.position) == (
        Tampering.CHECKPOINT, 4)
    assert "does not match the checkpoint you kept at event 4" in str(verification)
    assert _verify(shared_store_url).ok  # without the reference: a consistent forgery


def test_writes_go_on_after_the_newest_event_is_deleted_and_the_gap_stays(
        shared_store_url: str) -> None:
    """SQLite would hand the deleted id out again: the recorder gives ids past the chain."""
    raw = recorded(shared_store_url, 5)
    raw.run("DELETE FROM {events} WHERE {id} = 5")
    with open_engine(shared_store_url) as engine:
        record(engine, 2, prefix="later")
        problem = engine.verify().problem
    assert problem is not None
    assert (problem.kind, problem.position) == (Tampering.DELETED, 5)
    assert [row[0] for row in raw.run("SELECT {id} FROM {events} ORDER BY {id}")] == [
        1, 2, 3, 4, 6, 7]


def test_the_memory_store_keeps_its_chain_in_memory() -> None:
    with open_engine("memory:") as engine:
        record(engine, 5)
        recorder = memory_recorder(engine)
        assert sorted(recorder.links) == [1, 2, 3, 4, 5]
        stored = recorder._stored_events[2]
        recorder._stored_events[2] = StoredEvent(stored.originator_id, stored.originator_version,
                                                 stored.topic, stored.state + b" ")
        problem = engine.verify().problem
        assert problem is not None
        assert (problem.kind, problem.position) == (Tampering.ALTERED, 3)
        recorder._stored_events[2] = stored
        del recorder.links[4]
        problem = engine.verify().problem
        assert problem is not None
        assert (problem.kind, problem.position) == (Tampering.INSERTED, 4)


def test_verify_can_raise_instead(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with open_engine(url) as engine:
        record(engine, 3)
    Raw(url).alter(2)
    with open_engine(url) as engine, pytest.raises(TamperedStoreError, match="Event 2"):
        engine.verify(raise_on_failure=True)


def test_a_checkpoint_is_refused_over_a_broken_chain_and_records_nothing(
        shared_store_url: str) -> None:
    """It checks the chain since the latest trusted checkpoint: here, from the start."""
    raw = recorded(shared_store_url, 4)
    raw.alter(3)
    with open_engine(shared_store_url) as engine, \
            pytest.raises(TamperedStoreError, match="no checkpoint recorded: Event 3"):
        engine.checkpoint()
    assert raw.count("checkpoints") == 0


def test_resilience_verify_and_checkpoint_on_the_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 0 when the record holds, 1 naming the tampering, 2 for an error."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with open_engine(url) as engine:
        record(engine, 3)
    assert main(["verify", "--db", url]) == 0
    assert capsys.readouterr().out.startswith("verified: 3 events match the hash chain")
    assert main(["checkpoint", "--db", url]) == 0
    out = capsys.readouterr().out
    reference = out.split("--expect ")[1].strip()
    assert out.startswith("recorded checkpoint at event 3 (3 events, requested,")
    assert main(["verify", "--db", url, "--expect", reference]) == 0
    assert "matches the kept checkpoint" in capsys.readouterr().out
    Raw(url).alter(2)
    assert main(["verify", "--db", url]) == 1
    assert capsys.readouterr().out.startswith("TAMPERED: Event 2 (aggregate ")
    assert main(["verify", "--db", url, "--expect", "3:nothex"]) == 2
    assert "InvalidInputError: a checkpoint reference is POSITION:LINK" in \
        capsys.readouterr().err
