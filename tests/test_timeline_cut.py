"""A timeline as of a moment and as known at a moment (``engine.timeline(id, as_of=,
known_at=)`` and ``resilience timeline --as-of/--known-at``): the facts a review at the
same cut shows, each at the time it had then."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from resilience import Actor, Engine, ManualClock, NotFoundError, Role
from resilience.cli import main
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE
from test_cli_review import run

DETECTED = datetime.fromisoformat("2022-02-15T15:00:00+08:00")


def test_a_timeline_at_a_cut_is_the_reviews_timeline_at_that_cut(clock: ManualClock) -> None:
    with Engine("memory:", clock=clock) as engine:
        fire = replay_file(engine, DONGHU_FIRE).incidents["donghu-fire"]
        now = engine.timeline(fire)
        assert engine.timeline(fire, as_of=None, known_at=None) == now
        cuts: list[dict[str, Any]] = [{"as_of": DETECTED + timedelta(minutes=m)}
                                      for m in (0, 7, 12, 60 * 48)]
        cuts += [{"known_at": DETECTED + timedelta(minutes=m)} for m in (5, 20, 40)]
        cuts.append({"as_of": DETECTED + timedelta(minutes=13),
                     "known_at": DETECTED + timedelta(minutes=20)})
        sizes = []
        for cut in cuts:
            timeline = engine.timeline(fire, **cut)
            assert timeline == engine.review(fire, **cut).incidents[0].timeline, cut
            assert {e.version for e in timeline.entries} <= {e.version for e in now.entries}
            sizes.append(len(timeline.entries))
        assert sizes[0] < sizes[1] < sizes[3] == len(now.entries)
        # As known at 15:20 the fire was contained at 15:14; corrected since to 15:12.
        contained = [e for e in engine.timeline(fire, known_at=cuts[5]["known_at"]).entries
                     if e.action == "Contained"]
        assert [e.occurred_at.strftime("%H:%M") for e in contained] == ["15:14"]
        viewer = Actor("p-3001", Role.GRID_LEADER)
        assert len(engine.timeline(fire, as_of=cuts[1]["as_of"], viewer=viewer).entries) == (
            sizes[1])
        with pytest.raises(NotFoundError, match="had not been recorded"):
            engine.timeline(fire, known_at=DETECTED - timedelta(minutes=1))


def test_the_cli_timeline_takes_the_cut_as_a_time_of_day(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "donghu.db")
    assert main(["replay", str(DONGHU_FIRE), "--db", db]) == 0
    code, whole, _ = run(capsys, "timeline", "donghu-fire", "--db", db)
    assert code == 0
    code, early, _ = run(capsys, "timeline", "donghu-fire", "--db", db, "--as-of", "15:08")
    assert code == 0
    assert len(early.splitlines()) < len(whole.splitlines())
    assert "15:12" not in early
    code, known, _ = run(capsys, "timeline", "donghu-fire", "--db", db, "--known-at", "15:20")
    assert code == 0
    assert "15:14" in known
    assert "corrected from" not in known
