"""A review states what verifying the store found (``engine.review(..., verify=True)``).

On a SQLite store holding the kitchen fire of tests/test_viewer.py: sealed by a
checkpoint, the review says its facts were verified against it (signed or not); with the
containment back-dated in the database by hand, it says verification failed and names
the event, in every output.
"""

import sqlite3
from pathlib import Path
from uuid import UUID

import pytest

from resilience import Engine, InvalidInputError, ManualClock
from resilience.domain.policy import DEFAULT_POLICY
from resilience.review.model import AfterActionReview
from test_viewer import WU, donghu_with_grids, kitchen_fire

from conftest import T0

KEY = "a-signing-key-of-thirty-two-chars"


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Path, UUID]:
    """The fire on a SQLite file, closed: (its URL, its path, the fire's id)."""
    path = tmp_path / "events.db"
    url = f"sqlite:///{path}"
    with Engine(url, clock=ManualClock(T0), policy=DEFAULT_POLICY) as engine:
        fire = kitchen_fire(engine, donghu_with_grids(engine))
    return url, path, fire


def outputs(review: AfterActionReview) -> tuple[str, str, str]:
    return review.to_markdown(), review.to_html(), review.to_json()


def test_a_sealed_store_is_stated_verified_against_its_checkpoint(
        store: tuple[str, Path, UUID]) -> None:
    """18 events, a checkpoint at the last: the statement in every output."""
    url, _, fire = store
    with Engine(url, clock=ManualClock(T0), policy=DEFAULT_POLICY) as engine:
        checkpoint = engine.checkpoint()
        review = engine.review(fire, verify=True)
    statement = (f"Facts verified against the checkpoint at position {checkpoint.position} "
                 f"(unsigned): all {checkpoint.events} events up to position "
                 f"{checkpoint.position} match the hash chain.")
    assert review.verified is not None
    assert (review.verified.ok, review.verified.statement) == (True, statement)
    assert (review.verified.checkpoint, review.verified.signed) == (checkpoint.position, False)
    markdown, html, data = outputs(review)
    assert f"**Verification:** {statement}" in markdown
    assert f'<p class="meta"><strong>Verification:</strong> {statement}</p>' in html
    assert f'"statement": "{statement}"' in data


def test_a_signed_checkpoint_is_stated_signed(store: tuple[str, Path, UUID]) -> None:
    url, _, fire = store
    env = {"RESILIENCE_SIGNING_KEY": KEY}
    with Engine(url, clock=ManualClock(T0), policy=DEFAULT_POLICY, env=env) as engine:
        position = engine.checkpoint().position
        verified = engine.review(fire, verify=True, viewer=WU).verified
    assert verified is not None
    assert verified.signed
    assert verified.statement.startswith(
        f"Facts verified against the checkpoint at position {position} (signed, signature "
        "valid): ")


def test_a_store_with_no_checkpoint_yet_is_verified_but_says_so(
        store: tuple[str, Path, UUID]) -> None:
    url, _, fire = store
    with Engine(url, clock=ManualClock(T0), policy=DEFAULT_POLICY) as engine:
        verified = engine.review(fire, verify=True).verified
    assert verified is not None
    assert (verified.ok, verified.checkpoint) == (True, None)
    assert verified.statement.endswith("match the hash chain, but no checkpoint covers them "
                                       "yet.")


def test_a_tampered_store_is_stated_unverified_naming_the_event(
        store: tuple[str, Path, UUID]) -> None:
    """The containment back-dated from 15:12 to 15:01 in the database: the review still
    reads (the event decodes), and says verification failed at that event."""
    url, path, fire = store
    with Engine(url, clock=ManualClock(T0), policy=DEFAULT_POLICY) as engine:
        engine.checkpoint()
    with sqlite3.connect(path) as db:
        (state,) = db.execute("SELECT state FROM stored_events WHERE originator_id = ? AND "
                              "originator_version = 7", (fire.hex,)).fetchone()
        forged = bytes(state).replace(b"2022-02-15T15:12:00", b"2022-02-15T15:01:00")
        assert forged != state
        db.execute("UPDATE stored_events SET state = ? WHERE originator_id = ? AND "
                   "originator_version = 7", (forged, fire.hex))
    with Engine(url, clock=ManualClock(T0), policy=DEFAULT_POLICY) as engine:
        problem = engine.verify().problem
        review = engine.review(fire, verify=True)
    assert problem is not None
    assert problem.version == 7
    assert review.verified is not None
    assert not review.verified.ok
    assert review.verified.problem == str(problem)
    statement = review.verified.statement
    assert statement == (f"Verification FAILED: {str(problem).rstrip('.')}. The facts of "
                         "this review cannot be vouched for "
                         f"({review.verified.events} events checked before the problem).")
    markdown, html, data = outputs(review)
    assert f"**Verification:** {statement}" in markdown
    assert '<p class="meta alert"><strong>Verification:</strong> Verification FAILED' in html
    assert '"ok": false' in data


def test_verify_is_true_or_false(store: tuple[str, Path, UUID]) -> None:
    url, _, fire = store
    with Engine(url, clock=ManualClock(T0), policy=DEFAULT_POLICY) as engine:
        with pytest.raises(InvalidInputError):
            engine.review(fire, verify="yes")  # type: ignore[arg-type]
        assert engine.review(fire).verified is None
