"""Facts are named by their topic, not their Python class: renaming a class (topic kept)
changes no view, metric, timeline or review.

Views and metric definitions store and match fact names (``"Contained"``):
each event class's ``fact_name``, the last segment of its topic. Here the
Contained class is renamed with its ``TOPIC`` kept (a subclass under the new
name, its topic re-registered so stored facts load as it, restored after),
and an existing store's containment median, timeline and review are the
same as before: from the views folded before the rename, with new facts
recorded through the renamed class, and after a rebuild.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import eventsourcing.utils
import pytest

from resilience import Engine, Location
from resilience.domain.incident import Incident
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE

from conftest import OFFICE

CONTAINED = "resilience.incident:Contained"


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, UUID]:
    """A SQLite store holding the Donghu fire, its views folded; and the fire's id."""
    url = f"sqlite:///{tmp_path / 'donghu.db'}"
    with Engine(url) as engine:
        fire = replay_file(engine, DONGHU_FIRE).incidents["donghu-fire"]
        engine.views.catch_up()
    return url, fire


def _renamed(monkeypatch: pytest.MonkeyPatch) -> type[Any]:
    """Rename Incident.Contained to Incident.ContainmentReached, its topic kept."""

    class ContainmentReached(Incident.Contained):
        TOPIC = CONTAINED

    ContainmentReached.__qualname__ = "Incident.ContainmentReached"
    ContainmentReached.__module__ = Incident.__module__
    monkeypatch.setattr(Incident, "Contained", ContainmentReached)
    monkeypatch.setitem(eventsourcing.utils._topic_cache, CONTAINED, ContainmentReached)
    return ContainmentReached


def _figures(engine: Engine, fire: UUID) -> tuple[Any, ...]:
    """What a rename must not change: the containment median, the timeline, the review."""
    (row,) = engine.metrics("detection_to_contained").rows
    timeline = engine.timeline(fire)
    review = engine.review(fire)
    return (row.median, row.measured, timeline, timeline.elapsed_until("Contained"),
            [(o.name, o.grade) for o in review.incidents[0].objectives], review.to_html())


def test_renaming_an_event_class_with_its_topic_kept_changes_no_figure(
        store: tuple[str, UUID], monkeypatch: pytest.MonkeyPatch) -> None:
    """The containment median, timeline and review of an existing store are the same after
    the Contained class is renamed: from its views, for new facts, and after a rebuild."""
    url, fire = store
    with Engine(url) as engine:
        before = _figures(engine, fire)
        assert before[0] == 12
        assert before[3] == timedelta(minutes=12)

    renamed = _renamed(monkeypatch)
    assert (renamed.__name__, renamed.fact_name) == ("ContainmentReached", "Contained")
    with Engine(url) as engine:
        assert _figures(engine, fire) == before  # from the views folded before the rename
        assert type(engine.events(fire)[20]) is renamed  # stored facts load as the new class
        assert engine.incidents.get(fire).fact_types[21].fact_name == "Contained"
        assert engine.views.rebuild() > 0
        assert _figures(engine, fire) == before  # and folded again through it

        # A new fact recorded through the renamed class is a Contained fact too.
        community = engine.incidents.get(fire).community_id
        other = engine.incidents.detect(community, incident_type="fire", severity="low",
                                        location=Location(grid="3"), description="bin fire",
                                        actor=OFFICE).aggregate_id
        engine.incidents.contain(other, "bin fire out", actor=OFFICE)
        assert engine.app.recorder.select_events(other)[-1].topic == CONTAINED
        assert [e.action for e in engine.timeline(other).entries] == ["Detected", "Contained"]
        assert engine.metrics("detection_to_contained").rows[0].measured == 2

    monkeypatch.undo()
    with Engine(url) as engine:  # the original class reads what the renamed one wrote
        assert engine.views.rebuild() > 0
        assert engine.metrics("detection_to_contained").rows[0].measured == 2
        assert _figures(engine, fire)[2:] == before[2:]
