"""History that already exists stays readable: every committed fixture of stored events
(tests/fixtures/history-*.json, written by an earlier version and never regenerated)
loads into a fresh store, decodes, folds into every aggregate and view, and gives the
metrics and timelines that version computed from it."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from resilience import Engine
from resilience.domain.base import FactAggregate

from history_fixture import expectations

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("history-*.json"))
Doc = dict[str, Any]


@pytest.fixture(params=FIXTURES, ids=lambda p: p.stem)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Doc, Engine]]:
    """A committed fixture, and a fresh SQLite store holding its events as they were written."""
    yield from _store_of(request.param, tmp_path)


def _doc(path: Path) -> Doc:
    doc: Doc = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _store_of(path: Path, tmp_path: Path) -> Iterator[tuple[Doc, Engine]]:
    doc = _doc(path)
    with Engine(f"sqlite:///{tmp_path / 'old.db'}") as engine:
        engine.app.recorder.insert_events([
            StoredEvent(originator_id=UUID(e["originator_id"]),
                        originator_version=e["originator_version"],
                        topic=e["topic"], state=e["state"].encode("utf-8"))
            for e in doc["events"]])
        yield doc, engine


def test_there_is_a_fixture_of_every_event_class_of_the_first_release() -> None:
    """The fixture of 0.1 holds an event of each of its 56 event classes."""
    assert FIXTURES, "no fixture of stored events is committed"
    doc = _doc(FIXTURES[0])
    assert len({e["topic"] for e in doc["events"]}) == 56


def test_every_stored_event_of_a_fixture_decodes_and_folds_into_its_aggregate(
    old_store: tuple[Doc, Engine],
) -> None:
    """Each event reads back as an event of the library, and every aggregate rebuilds."""
    doc, engine = old_store
    ids = {UUID(e["originator_id"]) for e in doc["events"]}
    for aggregate_id in ids:
        events = engine.events(aggregate_id)
        assert all(isinstance(e, FactAggregate.Event) for e in events)
        aggregate: FactAggregate = engine.app.repository.get(aggregate_id)
        assert aggregate.version == len(events)
    assert sum(len(engine.events(i)) for i in ids) == len(doc["events"])


def test_a_fixture_folds_into_the_views_and_metrics_its_version_computed(
    old_store: tuple[Doc, Engine],
) -> None:
    """The views built from old events give the metrics and timelines they gave then."""
    doc, engine = old_store
    engine.views.catch_up()
    assert engine.views.quarantined() == []
    found = expectations(engine)
    assert found == {k: v for k, v in doc["expected"].items() if k in found}
    fire = UUID(doc["expected"]["fire"])
    assert engine.timeline(fire).elapsed_until("Contained") is not None
    assert "Donghu Community" in engine.review(fire).to_markdown()


def test_the_reference_fire_in_the_first_fixture_was_contained_in_12_minutes(
    tmp_path: Path,
) -> None:
    """Old Donghu events still say, whatever any version computed: contained 12 minutes
    after detection."""
    for _, engine in _store_of(FIXTURES[0], tmp_path):
        row = engine.metrics("detection_to_contained").rows[0]
        assert (row.measured, row.median) == (1, 12.0)
