"""Signed checkpoints (issue 12 §3): with ``RESILIENCE_SIGNING_KEY``, someone who can write
the database but has no key cannot rewrite the history before the latest signed checkpoint:
a recomputed chain breaks the signed checkpoints, and deleting them leaves more events
uncovered than the interval allows; writers never sign over a history they have not
checked; forged signatures (altered fields, another key) are named. Without a key the same
recomputation passes: what the chain alone cannot show.
"""

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chain_support import KEY, OTHER_KEY, Raw, open_engine, record, recorded
from resilience import ConfigurationError, Engine
from resilience.adapters.chain import (
    ChainSettings,
    Checkpoint,
    CheckpointKind,
    Signature,
    Tampering,
    Verification,
    timestamp,
)


def _verify(url: str, key: str | None = None, every: int = 4) -> Verification:
    with open_engine(url, every=every, key=key) as engine:
        return engine.verify()


def test_interval_checkpoints_are_signed_and_verify_with_the_key(shared_store_url: str) -> None:
    with open_engine(shared_store_url, every=3, key=KEY) as engine:
        record(engine, 7)
        verification = engine.verify()
    assert verification.ok
    assert verification.signature is Signature.VALID
    checkpoint = verification.checkpoint
    assert checkpoint is not None
    assert (checkpoint.position, checkpoint.kind) == (6, CheckpointKind.INTERVAL)
    assert checkpoint.signed
    assert checkpoint.key_id is not None
    assert verification.trusted == checkpoint
    assert "signature valid" in str(verification)
    without = _verify(shared_store_url, every=3)
    assert without.ok
    assert without.signature is Signature.UNCHECKED


def test_the_key_is_not_in_the_database_nor_in_any_repr(shared_store_url: str) -> None:
    with open_engine(shared_store_url, every=2, key=KEY) as engine:
        record(engine, 4)
        assert KEY not in repr(engine._chain.chain_settings)
        assert KEY not in repr(engine.verify())
    raw = Raw(shared_store_url)
    for table in ("checkpoints", "chain"):
        assert KEY not in str(raw.run(f"SELECT * FROM {{{table}}}"))


@pytest.mark.parametrize(("column", "value", "caught_without_key"), [
    ("recorded_at", "2001-01-01T00:00:00.000000+00:00", False),
    ("every", 1_000_000, False),
    ("link", "00" * 32, True),
    ("events", 99, True),
])
def test_an_edited_checkpoint_is_named(shared_store_url: str, column: str, value: object,
                                       caught_without_key: bool) -> None:
    """Any field of a signed checkpoint edited breaks its signature; its link or count
    also breaks its match with the chain, which is seen without the key too."""
    with open_engine(shared_store_url, every=3, key=KEY) as engine:
        record(engine, 7)
    Raw(shared_store_url).run(f"UPDATE {{checkpoints}} SET {column} = %s WHERE position = 3",
                              (value,))
    problem = _verify(shared_store_url, KEY, every=3).problem
    assert problem is not None
    assert (problem.kind, problem.position) == (Tampering.CHECKPOINT, 3)
    assert _verify(shared_store_url, every=3).ok is not caught_without_key


def test_a_recomputed_chain_is_caught_by_the_signed_checkpoints(shared_store_url: str) -> None:
    """The attacker edits event 2, recomputes every link by the published rule and makes
    the checkpoints match again: their signatures no longer verify (without the key, the
    forgery holds). Deleting them instead leaves ten events after the start covered by no
    checkpoint."""
    raw = recorded(shared_store_url, 10, every=4, key=KEY)
    raw.alter(2)
    raw.recompute(checkpoints="rewrite")
    assert _verify(shared_store_url).ok  # without the key, a consistent forgery
    problem = _verify(shared_store_url, KEY).problem
    assert problem is not None
    assert (problem.kind, problem.position) == (Tampering.CHECKPOINT, 4)
    assert "has a signature that does not verify with the signing key" in problem.message

    raw.recompute(checkpoints="delete")
    problem = _verify(shared_store_url).problem  # without the key: too few checkpoints
    assert problem is not None
    assert problem.message.endswith("covered by no checkpoint, though one is recorded every 4 "
                                    "events: checkpoints were deleted.")
    problem = _verify(shared_store_url, KEY).problem
    assert problem is not None
    assert problem.kind is Tampering.UNCOVERED
    assert problem.message.startswith("The 10 events after the start of the chain are "
                                      "covered by no signed checkpoint, though one is signed "
                                      "every 4 events")


def test_a_checkpoint_signed_with_another_key_is_named(shared_store_url: str) -> None:
    """The attacker's own key makes a well-formed signature, but not one the store's key
    verifies."""
    raw = recorded(shared_store_url, 10, every=4, key=KEY)
    raw.alter(2)
    raw.recompute(checkpoints="delete")
    head = raw.run("SELECT notification_id, seq, link FROM {chain} "
                   "ORDER BY notification_id DESC LIMIT 1")[0]
    forged = ChainSettings(4, (OTHER_KEY.encode(),)).sign(Checkpoint(
        head[0], head[1], bytes(head[2]).hex(), datetime.now(UTC), 4, CheckpointKind.INTERVAL))
    raw.run("INSERT INTO {checkpoints} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", (
        forged.position, forged.events, forged.link, timestamp(forged.recorded_at),
        forged.every, forged.kind.value, forged.key_id, forged.signature))
    verification = _verify(shared_store_url, KEY)
    assert verification.problem is not None
    assert (verification.problem.kind, verification.problem.position) == (
        Tampering.CHECKPOINT, 10)
    assert f"it names key {forged.key_id}" in verification.problem.message
    assert _verify(shared_store_url).signature is Signature.UNCHECKED


def test_writers_do_not_sign_over_a_rewritten_history(
        shared_store_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """After the signed checkpoints are deleted, writers find more events since the last
    one they can trust than the interval allows: they record none, and say so once."""
    raw = recorded(shared_store_url, 6, every=4, key=KEY)
    raw.alter(2)
    raw.recompute(checkpoints="delete")
    with caplog.at_level(logging.WARNING, "resilience.chain"), \
            open_engine(shared_store_url, every=4, key=KEY) as engine:
        record(engine, 9, prefix="later")
    assert raw.count("checkpoints") == 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "resilience.chain"]
    assert warnings == ["no checkpoint recorded: 6 events already followed the latest signed "
                        "checkpoint (one is due every 4); run resilience verify"]
    assert _verify(shared_store_url, KEY).problem is not None


def test_writers_do_not_sign_over_a_chain_that_does_not_hold(
        shared_store_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with open_engine(shared_store_url, every=4, key=KEY) as engine:
        record(engine, 5)
        Raw(shared_store_url).alter(5)
        with caplog.at_level(logging.WARNING, "resilience.chain"):
            record(engine, 4, prefix="later")
    positions = [row[0] for row in Raw(shared_store_url).run("SELECT position FROM "
                                                             "{checkpoints}")]
    assert positions == [4]
    assert "the chain does not hold: Event 5" in caplog.text


def test_a_forged_latest_signature_stops_writers_signing(shared_store_url: str) -> None:
    raw = recorded(shared_store_url, 4, every=3, key=KEY)
    raw.run("UPDATE {checkpoints} SET signature = %s", ("00" * 32,))
    with open_engine(shared_store_url, every=3, key=KEY) as engine:
        record(engine, 5, prefix="later")
    assert raw.count("checkpoints") == 1


def test_a_store_recorded_without_the_key_is_sealed_by_a_checkpoint(
        shared_store_url: str) -> None:
    """Keyless checkpoints do not count once a key is given: the store is uncovered until
    ``engine.checkpoint()`` checks the whole chain and signs it; writers then go on signing."""
    with open_engine(shared_store_url, every=3) as engine:
        record(engine, 7)
    problem = _verify(shared_store_url, KEY, every=3).problem
    assert problem is not None
    assert problem.kind is Tampering.UNCOVERED
    assert "or the store was never sealed (resilience checkpoint)" in problem.message
    with open_engine(shared_store_url, every=3, key=KEY) as engine:
        sealed = engine.checkpoint()
        assert sealed.signed
        assert (sealed.position, sealed.events) == (7, 7)
        record(engine, 4, prefix="later")
        verification = engine.verify()
    assert verification.ok
    assert verification.checkpoint is not None
    assert verification.checkpoint.position == 10
    assert verification.signature is Signature.VALID


def test_old_keys_after_the_new_one_still_verify(shared_store_url: str) -> None:
    with open_engine(shared_store_url, every=3, key=OTHER_KEY) as engine:
        record(engine, 4)
    rotated = f"{KEY} {OTHER_KEY}"
    assert _verify(shared_store_url, rotated, every=3).signature is Signature.VALID
    problem = _verify(shared_store_url, KEY, every=3).problem
    assert problem is not None
    assert problem.kind is Tampering.CHECKPOINT
    with open_engine(shared_store_url, every=3, key=rotated) as engine:
        record(engine, 3, prefix="later")
        verification = engine.verify()
    assert verification.ok
    assert verification.checkpoint is not None
    assert verification.checkpoint.key_id == ChainSettings(3, (KEY.encode(),)).sign(
        verification.checkpoint).key_id


@pytest.mark.parametrize(("env", "message"), [
    ({"RESILIENCE_SIGNING_KEY": "short"}, "at least 16 characters"),
    ({"RESILIENCE_CHECKPOINT_EVERY": "0"}, "a whole number of events from 1"),
    ({"RESILIENCE_CHECKPOINT_EVERY": "ten"}, "a whole number of events from 1"),
])
def test_unusable_settings_are_refused(tmp_path: Path, env: dict[str, str],
                                       message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Engine(f"sqlite:///{tmp_path / 'events.db'}", policy=None, env=env)
