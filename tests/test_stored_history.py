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
from attrs import evolve
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from resilience import Engine
from resilience.domain.base import FactAggregate
from resilience.metrics import BUILT_IN, SCORECARD, CaseFilter, MetricDefinition

from history_fixture import _event_classes, expectations

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("history-*.json"))
Doc = dict[str, Any]

NEW_IN_0_2 = ("reopened_to_contained", "reopened_to_resolved")
NEW_IN_0_4 = ("detection_to_recovered",)
"""Issue 13 added detection to full recovery (linked recovery)."""
BEFORE_0_4 = ("resilience 0.1.0", "resilience 0.2 (unreleased: issue 11)",
              "resilience 0.3 (unreleased: issue 12)")
BEFORE_0_6 = ("resilience 0.4 (unreleased: issue 13)", "resilience 0.4 (unreleased: issue 14)",
              "resilience 0.5 (unreleased: issue 15)")
"""The versions whose fixtures were written before hazards had metrics."""
ORDER_FLOW = ("placed_to_dispatched", "dispatched_to_completed", "placed_to_completed",
              "completion_vs_expected")


def built_ins_as_of(library: str) -> tuple[MetricDefinition, ...]:
    """The built-in metrics as they stood in ``library``, the version that wrote a
    fixture. A definition changed on purpose (CHANGELOG.md) changes its figures, not the
    events: an old fixture's figures are checked against the definitions of its day, so
    the stored events are still proven to give exactly what they gave then."""
    if library not in (*BEFORE_0_4, *BEFORE_0_6):
        return SCORECARD  # 0.6 added the hazards' metrics (issue 16)
    if library not in BEFORE_0_4:
        return BUILT_IN
    if library != "resilience 0.1.0":
        return tuple(m for m in BUILT_IN if m.name not in NEW_IN_0_4)
    # 0.2 added the per-reopening metrics and left cancelled and rejected orders out of
    # the order-flow metrics (issue 11).
    return tuple(evolve(m, applies_to=CaseFilter()) if m.name in ORDER_FLOW else m
                 for m in BUILT_IN if m.name not in (*NEW_IN_0_2, *NEW_IN_0_4))


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


def test_the_newest_fixture_holds_an_event_of_every_event_class_of_this_version() -> None:
    """A new event class (or a new stored form) needs a new fixture: the newest one holds
    an event of every class the library has now."""
    topics = {e["topic"] for e in _doc(FIXTURES[-1])["events"]}
    assert {get_topic(cls) for cls in _event_classes()} <= topics


def test_the_0_1_figures_differ_under_0_2_only_where_a_definition_changed(
    tmp_path: Path,
) -> None:
    """Read with today's built-ins, the 0.1 history gives the figures 0.1 gave, except for
    the order-flow metrics, which now leave out its cancelled and rejected orders."""
    for doc, engine in _store_of(FIXTURES[0], tmp_path):
        engine.views.catch_up()
        then = doc["expected"]["metrics"]
        now = expectations(engine)["metrics"]
        changed = {name for name in then if now[name] != then[name]}
        assert changed == set(ORDER_FLOW)
        assert all(now[name][0][0] < then[name][0][0] for name in ORDER_FLOW)  # fewer cases


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
    found = expectations(engine, built_ins_as_of(doc["library"]))
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
