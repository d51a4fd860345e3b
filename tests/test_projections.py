"""The read side's properties: every view, on every store, is the fold of the log.

For each projection (``timelines``, ``cases`` and ``plans``) and each store (memory,
SQLite, PostgreSQL): catching up incrementally, in pages of any size, stopped
and resumed anywhere (between pages or by a failure inside one), or by two
readers at once, gives exactly the documents of a fold of the whole log from
scratch; a page delivered again changes nothing; ``wait`` follows a
background follower; and a new projection version folds views of its own.

The oracle (:func:`reference`) folds the log one event at a time into plain
dicts with the projections themselves, without the runner's pages, cache,
prefetching or store, so a runner bug can't hide in both sides.
"""

import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

import histories as hist
from histories import STAFF, apply_history, histories, setup_world
from resilience import Engine, InvalidInputError, Location, ManualClock
from resilience.adapters.viewstore import ViewsMoved, dumps
from resilience.projections import VERSION, Follower, ViewsTimeoutError
from resilience.projections.base import Delivery, Doc, Docs, Projection
from resilience.projections.folds import PROJECTIONS
from test_metrics_oracle import amendment, apply_steps, lifecycles

from conftest import OFFICE, T0, _pg_schema_url, require_postgres

Documents = dict[str, dict[str, Doc]]
"""Every document of every view: view -> key -> document."""

KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SHARED = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
EXAMPLES = {"memory": 25, "sqlite": 12, "postgres": 4}
"""Hypothesis examples per store: each PostgreSQL example opens a schema of its own."""


def _settings(kind: str) -> settings:
    return settings(max_examples=EXAMPLES[kind], deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def fresh_url(kind: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty store of a kind (a PostgreSQL schema is dropped after)."""
    if kind == "memory":
        yield "memory:"
    elif kind == "sqlite":
        yield f"sqlite:///{directory / f'{uuid.uuid4().hex}.db'}"
    else:
        with contextmanager(_pg_schema_url)() as url:
            yield url


def _needs(kind: str) -> None:
    if kind == "postgres":
        require_postgres()


class _DictDocs:
    """The documents of one view as a plain dict (the oracle's Docs)."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}

    def get(self, key: str) -> Doc | None:
        return self.docs.get(key)

    def put(self, key: str, doc: Doc) -> None:
        self.docs[key] = doc


def reference(engine: Engine, upto: int | None = None) -> Documents:
    """The documents of folding the log (up to notification ``upto``) one event at a time."""
    last = engine.views.head if upto is None else upto
    notifications = [n for n in engine.app.recorder.select_notifications(1, max(last, 1))
                     if n.id <= last]
    events: list[Any] = [engine.app.mapper.to_domain_event(n) for n in notifications]
    found: Documents = {}
    for projection in PROJECTIONS:
        docs = _DictDocs()
        for event in events:
            projection.apply(Delivery.of(event), docs)
        found[projection.view] = {key: json.loads(dumps(doc)) for key, doc in docs.docs.items()}
    return found


def snapshot(engine: Engine) -> Documents:
    """Every document of every view the engine's reader feeds, as stored."""
    return {p.view: engine.views.documents(p.view) for p in engine.views.projections}


def logged(engine: Engine) -> int:
    """How many notifications the store's log holds."""
    return len(engine.app.recorder.select_notifications(1, engine.views.head + 1))


def _history(engine: Engine, clock: ManualClock, steps: Sequence[tuple[Any, ...]]) -> None:
    apply_history(engine, clock, setup_world(engine, clock), steps)


amended_histories = st.one_of(st.lists(st.one_of(hist.step, amendment), min_size=1,
                                       max_size=40), lifecycles())
"""The shared histories with details and participant corrections among their steps, and
lifecycles: reopenings after a resolution, second containments, corrections and late
records of closed cases, so reopen cycles and amendments after closure are folded too."""


class Boom(Exception):
    """The failure a test injects into a page's commit (the database failing)."""


class Crash(BaseException):
    """The process dying mid-fold (as an interrupt): no event's fault, so nothing is
    quarantined and the page is lost whole. (A projection raising an Exception on an
    event quarantines that event instead: tests/test_quarantine.py.)"""


class _Calls:
    """Counts calls across projections and raises ``error`` from the ``fail_at``-th on."""

    def __init__(self, fail_at: int, error: type[BaseException] = Boom) -> None:
        self.fail_at = fail_at
        self.error = error
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.count >= self.fail_at:
            raise self.error(f"injected failure at call {self.count}")


class _Failing:
    """A projection that folds like ``inner`` but lets ``calls`` fail it."""

    def __init__(self, inner: Projection, calls: _Calls) -> None:
        self.inner = inner
        self.view = inner.view
        self.calls = calls

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        self.calls.tick()
        self.inner.apply(delivery, docs)


# 1. Incremental == rebuild from scratch -----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_incremental_catch_up_equals_rebuild_and_a_fold_from_scratch(
        kind: str, tmp_path: Path) -> None:
    """Catching up at random points in random pages gives the documents of a rebuild."""
    _needs(kind)

    @_settings(kind)
    @given(steps=amended_histories, page_size=st.integers(min_value=1, max_value=7),
           data=st.data())
    def check(steps: list[tuple[Any, ...]], page_size: int, data: DataObject) -> None:
        clock = ManualClock(T0)
        with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as engine:
            views = engine.views
            assert [p.view for p in views.projections] == ["timelines", "cases", "plans", "live"]
            views.page_size = page_size
            world = setup_world(engine, clock)
            reports: list[tuple[int, int]] = []
            for entry in steps:
                apply_steps(engine, clock, world, [entry])
                if data.draw(st.booleans(), label="catch up now"):
                    reports.clear()
                    lag = views.lag
                    done = views.catch_up(progress=lambda d, t: reports.append((d, t)))
                    assert done == lag
                    assert [d for d, _ in reports] == sorted({d for d, _ in reports})
                    assert all(d <= t <= lag for d, t in reports)
                    assert reports[-1:] == ([(done, done)] if done else [])
            views.catch_up()
            assert views.lag == 0
            assert views.position == views.head
            incremental = snapshot(engine)
            assert incremental == reference(engine)
            items = {str(i) for i in world.improvements}
            plans = incremental["plans"]
            # One plans document per item, and one per review that raised items, listing
            # them in the order they were recorded ...
            assert {k for k, doc in plans.items() if doc["kind"] == "improvement"} == items
            raised = {k: doc["items"] for k, doc in plans.items() if doc["kind"] == "review"}
            assert raised == {review: [str(i) for i in world.improvements
                                       if plans[str(i)]["review"] == review]
                              for review in {plans[i]["review"] for i in items}}
            assert not items & set(incremental["cases"])  # ... and no case
            assert items <= set(incremental["timelines"])
            first_page: list[bool] = []

            def first_page_alone(done: int, total: int) -> None:
                if not first_page:  # the rebuild emptied the views before folding
                    first_page.append(snapshot(engine) == reference(engine, views.position))

            assert views.rebuild(progress=first_page_alone) == logged(engine)
            assert first_page == [True]
            assert snapshot(engine) == incremental
            if kind != "memory":
                with Engine(url, clock=clock, policy=None) as other:
                    assert other.views.position == views.position
                    other.views.page_size = data.draw(st.integers(1, 50), label="other page")
                    assert other.views.rebuild() == logged(engine)
                    assert snapshot(other) == incremental
                assert views.catch_up() == 0
                assert snapshot(engine) == incremental

    check()


CYCLES_AND_AMENDMENTS: list[tuple[Any, ...]] = [
    ("incident", 0, "g1", "fire", "high", False, 0, 0),
    ("advance", 5), ("incident_step", 0, "contain", "r1", 0, 0),
    ("advance", 5), ("incident_step", 0, "resolve", "r1", 0, 0),
    ("advance", 30), ("incident_step", 0, "reopen", "r1", 0, 0),  # reopened once resolved
    ("advance", 5), ("incident_step", 0, "dispatch", "r1", 0, 0),
    ("advance", 5), ("incident_step", 0, "contain", "r1", 0, 0),  # a second containment
    ("advance", 5), ("incident_step", 0, "resolve", "r1", 0, 0),
    ("incident_step", 0, "close", "r1", 0, 0),
    ("advance", 60), ("incident_step", 0, "arrive", "r1", 62, 0),  # a late record, closed
    ("correct", 0, 1, -1, 0),  # the first containment a minute earlier, closed
    ("amend", 0, 4, "details", 0),
    ("activity", 0, "g1", 20, 0, 0),
    ("amend", 0, 0, "participants", 23), ("amend", 0, 0, "participants", 25),
]


@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
def test_reopen_cycles_and_amendments_fold_incrementally_as_from_scratch(
        page_size: int) -> None:
    """A second cycle, amendments after closure and corrected participants, caught up after
    every step in pages of any size: the documents of a fold from scratch."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        engine.views.page_size = page_size
        world = setup_world(engine, clock)
        for entry in CYCLES_AND_AMENDMENTS:
            apply_steps(engine, clock, world, [entry])
            engine.views.catch_up()
            assert snapshot(engine) == reference(engine)
        assert world.refused == 0
        (case,) = engine.reports.cases(subject="incident")
        assert (case.reopened, len(case.cycles), case.status) == (1, 2, "closed")
        assert [a.what.partition(" from")[0] for a in case.amendments] == [
            "late record", "time corrected", "details corrected"]
        (activity,) = [doc for doc in snapshot(engine)["cases"].values()
                       if doc["kind"] == "activity"]
        assert (activity["participants"], activity["participants_recorded"]) == (25, 20)


# 2. Re-delivery changes nothing ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_page_delivered_again_is_refused_and_changes_nothing(kind: str, tmp_path: Path) -> None:
    """Committing an already-folded page from an old position raises and changes no view."""
    _needs(kind)

    @_settings(kind)
    @given(steps=histories, data=st.data())
    def check(steps: list[tuple[Any, ...]], data: DataObject) -> None:
        clock = ManualClock(T0)
        with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as engine:
            views, store = engine.views, engine.views.store
            _history(engine, clock, steps)
            views.catch_up()
            position, before = views.position, snapshot(engine)
            size = data.draw(st.integers(1, position), label="page size")
            old = data.draw(st.integers(0, position - size), label="page start")
            page = engine.app.recorder.select_notifications(old + 1, size)
            views._forget()  # fold the old page as a reader that is behind would
            rows, _ = views._fold(page)
            views._forget()
            # (A page of reference books' facts alone changes no view: nothing to refuse.)
            assume(not all(n.topic.startswith("resilience.references:") for n in page))
            assert rows
            generation = store.mark()[0]
            with pytest.raises(ViewsMoved):
                store.commit(rows, expected=(generation, old), position=page[-1].id)
            with pytest.raises(ViewsMoved):
                store.commit(rows, expected=(generation, old), position=position + 1)
            assert views.position == position
            assert snapshot(engine) == before
            assert views.catch_up() == 0
            assert snapshot(engine) == before == reference(engine)

    check()


@pytest.mark.parametrize("kind", KINDS)
def test_a_commit_whose_position_is_not_ahead_changes_nothing(kind: str, tmp_path: Path) -> None:
    """A page committed at the current position but ending at or before it is refused whole."""
    _needs(kind)
    clock = ManualClock(T0)
    with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as engine:
        views, store = engine.views, engine.views.store
        setup_world(engine, clock)
        views.catch_up()
        position, before = views.position, snapshot(engine)
        page = engine.app.recorder.select_notifications(1, 3)
        views._forget()
        rows, _ = views._fold(page)
        views._forget()
        for end in (page[-1].id, position):
            with pytest.raises(IntegrityError):
                store.commit(rows, expected=store.mark(), position=end)
            assert views.position == position
            assert snapshot(engine) == before


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_page_folded_before_a_rebuild_is_refused_even_at_the_same_position(
        kind: str, tmp_path: Path) -> None:
    """A rebuild that counts back up to a reader's position still makes the reader's page stale."""
    _needs(kind)
    clock = ManualClock(T0)
    with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as reader, \
            Engine(url, clock=clock, policy=None) as rebuilder:
        world = setup_world(reader, clock)
        reader.views.catch_up()
        incident = reader.incidents.detect(world.communities[0], incident_type="fire",
                                           severity="low", location=Location(grid="g1"),
                                           description="smoke", actor=OFFICE).aggregate_id
        reader.views.catch_up()
        reader.incidents.contain(incident, actor=OFFICE)
        mark = reader.views.store.mark()
        page = reader.app.recorder.select_notifications(mark[1] + 1, 10)
        reader.views._forget()
        rows, _ = reader.views._fold(page)
        rebuilder.views.store.reset(list(rebuilder.views.stored_names.values()))
        rebuilder.views.catch_up(max_events=mark[1])
        assert rebuilder.views.position == mark[1]
        with pytest.raises(ViewsMoved):
            reader.views.store.commit(rows, expected=mark, position=page[-1].id)
        reader.views._forget()
        assert reader.views.catch_up() == len(page)
        assert [e.action for e in reader.timeline(incident).entries] == ["Detected", "Contained"]
        assert snapshot(reader) == reference(reader)


# 3. Stop and resume ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_stopping_between_pages_and_resuming_equals_one_run(kind: str, tmp_path: Path) -> None:
    """Catching up at most k events at a time, amid writes, ends as an uninterrupted run."""
    _needs(kind)

    @_settings(kind)
    @given(steps=histories, page_size=st.integers(min_value=1, max_value=6), data=st.data())
    def check(steps: list[tuple[Any, ...]], page_size: int, data: DataObject) -> None:
        clock = ManualClock(T0)
        with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as engine:
            views = engine.views
            views.page_size = page_size
            world = setup_world(engine, clock)

            def some(least: int, most: int) -> None:
                k = data.draw(st.integers(least, most), label="max_events")
                position, lag = views.position, views.lag
                done = views.catch_up(max_events=k)
                assert done == min(k, lag)
                assert views.position == position + done
                assert snapshot(engine) == reference(engine, views.position)

            for entry in steps:
                apply_history(engine, clock, world, [entry])
                if data.draw(st.booleans(), label="catch up some"):
                    some(0, 5)
            while views.lag:
                some(1, 12)
            resumed = snapshot(engine)
            assert resumed == reference(engine)
            assert views.rebuild() == logged(engine)
            assert snapshot(engine) == resumed

    check()


@pytest.mark.parametrize("kind", KINDS)
def test_a_failure_inside_a_page_leaves_nothing_of_it_and_resuming_equals_one_run(
        kind: str, tmp_path: Path) -> None:
    """A fold crashing or a commit failing mid-page loses that page whole; resuming ends as
    one run."""
    _needs(kind)

    @_settings(kind)
    @given(steps=histories, page_size=st.integers(min_value=1, max_value=60),
           where=st.sampled_from(["fold", "commit"]), data=st.data())
    def check(steps: list[tuple[Any, ...]], page_size: int, where: str,
              data: DataObject) -> None:
        clock = ManualClock(T0)
        with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as engine:
            views = engine.views
            views.page_size = page_size
            _history(engine, clock, steps)
            views.catch_up(max_events=data.draw(st.integers(0, views.lag - 1), label="before"))
            real = views.projections
            start, lag = views.position, views.lag
            pages = -(-lag // page_size)
            # (A memory commit can only fail at its last step on a position not ahead:
            # test_a_commit_whose_position_is_not_ahead_changes_nothing covers that.)
            if where == "fold" or kind == "memory":  # the n-th apply call of the run crashes
                fail_at = data.draw(st.integers(1, lag * len(real)), label="fail at call")
                calls = _Calls(fail_at, Crash)
                views.projections = tuple(_Failing(p, calls) for p in real)
                try:
                    with pytest.raises(Crash):
                        views.catch_up()
                finally:
                    views.projections = real
                pages_done = (fail_at - 1) // (page_size * len(real))
            else:  # the n-th page's commit fails after its documents are written
                fail_at = data.draw(st.integers(1, pages), label="fail at page")
                pages_done = fail_at - 1
                with _failing_tracking(views.store, _Calls(fail_at)), pytest.raises(Boom):
                    views.catch_up()
            assert views.position == start + pages_done * page_size
            assert snapshot(engine) == reference(engine, views.position)
            assert views.catch_up() == lag - pages_done * page_size
            resumed = snapshot(engine)
            assert resumed == reference(engine)
            views.rebuild()
            assert snapshot(engine) == resumed

    check()


@contextmanager
def _failing_tracking(store: Any, calls: _Calls) -> Iterator[None]:
    """Make a SQL store's commit fail at its last step (recording the position), as ``calls`` says.

    The documents are already written by then: the transaction must undo them.
    """
    original: Callable[..., None] = store._insert_tracking

    def failing(*args: Any) -> None:
        calls.tick()
        original(*args)

    with patch.object(store, "_insert_tracking", new=failing):
        yield


# 4. Two readers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SHARED)
def test_two_readers_on_one_store_fold_each_event_once(kind: str, tmp_path: Path) -> None:
    """Two engines catching up from two threads amid writes commit each event exactly once."""
    _needs(kind)

    @_settings(kind)
    @given(steps=histories, sizes=st.tuples(st.integers(1, 4), st.integers(1, 4)))
    def check(steps: list[tuple[Any, ...]], sizes: tuple[int, int]) -> None:
        clock = ManualClock(T0)
        with (fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as writer,
              Engine(url, clock=clock, policy=None) as first,
              Engine(url, clock=clock, policy=None) as second):
            readers = (first, second)
            for reader, size in zip(readers, sizes, strict=True):
                reader.views.page_size = size
            world = setup_world(writer, clock)
            writing = threading.Event()
            writing.set()
            start = threading.Barrier(3)

            def read(reader: Engine) -> int:
                folded = 0
                start.wait()
                while writing.is_set() or reader.views.lag:
                    folded += reader.views.catch_up(max_events=reader.views.page_size)
                    time.sleep(0)  # let the other reader have a turn
                return folded + reader.views.catch_up()

            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = [pool.submit(read, reader) for reader in readers]
                start.wait()
                try:
                    apply_history(writer, clock, world, steps)
                finally:
                    writing.clear()
                folded = [future.result() for future in futures]
            assert sum(folded) == logged(writer)
            assert first.views.position == second.views.position == writer.views.head
            expected = reference(writer)
            assert snapshot(first) == snapshot(second) == expected
            assert second.views.rebuild() == logged(writer)
            assert snapshot(first) == expected

    check()


@pytest.mark.parametrize("kind", SHARED)
def test_two_readers_taking_turns_see_each_others_pages(kind: str, tmp_path: Path) -> None:
    """Two engines catching up in turns, amid writes and rebuilds, stay the fold of the log."""
    _needs(kind)

    @_settings(kind)
    @given(steps=histories, sizes=st.tuples(st.integers(1, 4), st.integers(1, 4)),
           data=st.data())
    def check(steps: list[tuple[Any, ...]], sizes: tuple[int, int], data: DataObject) -> None:
        clock = ManualClock(T0)
        with (fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as first,
              Engine(url, clock=clock, policy=None) as second):
            readers = (first, second)
            for reader, size in zip(readers, sizes, strict=True):
                reader.views.page_size = size
            world = setup_world(first, clock)
            for entry in [*steps, None, None]:
                if entry is not None:
                    apply_history(first, clock, world, [entry])
                reader = readers[data.draw(st.integers(0, 1), label="reader")]
                if entry is not None and data.draw(st.integers(0, 9), label="rebuild?") == 0:
                    reader.views.rebuild()
                else:
                    lag = reader.views.lag
                    k = data.draw(st.integers(0, 6) | st.none(), label="max_events")
                    folded = reader.views.catch_up(max_events=k)
                    assert folded == (lag if k is None else min(k, lag))
                assert snapshot(reader) == reference(reader, reader.views.position)
            for reader in readers:
                reader.views.catch_up()
            assert snapshot(first) == snapshot(second) == reference(first)

    check()


class _Interrupted:
    """A projection that folds like ``inner`` but first runs ``interruption`` once."""

    def __init__(self, inner: Projection, interruption: Callable[[], None]) -> None:
        self.inner = inner
        self.view = inner.view
        self.interruption: Callable[[], None] | None = interruption

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        if self.interruption is not None:
            interruption, self.interruption = self.interruption, None
            interruption()
        self.inner.apply(delivery, docs)


@pytest.mark.parametrize("kind", SHARED)
def test_a_reader_folding_while_another_engine_starts_a_rebuild_starts_over(
        kind: str, tmp_path: Path) -> None:
    """A page being folded when another engine's rebuild empties the views is refolded, not lost."""
    _needs(kind)
    clock = ManualClock(T0)
    with (fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as rebuilder,
          Engine(url, clock=clock, policy=None) as reader):
        world = setup_world(rebuilder, clock)
        rebuilder.views.catch_up()
        rebuilder.communities.add_grid(world.communities[0], "g3", "Grid 3", actor=STAFF)
        real = reader.views.projections
        stored = list(rebuilder.views.stored_names.values())

        def rebuild_begins() -> None:  # what rebuild() does first, in its own transaction
            rebuilder.views.store.reset(stored)

        reader.views.projections = (_Interrupted(real[0], rebuild_begins), *real[1:])
        try:
            folded = reader.views.catch_up()
        finally:
            reader.views.projections = real
        assert folded == reader.views.head == logged(reader)
        assert snapshot(reader) == reference(reader)
        assert rebuilder.views.catch_up() == 0


# 5. wait() and the follower ----------------------------------------------------------------------


def test_wait_returns_once_a_follower_has_folded_the_write(store_url: str,
                                                          clock: ManualClock) -> None:
    """With fresh_views=False, wait(receipt.position) returns once the follower shows the write."""
    with Engine(store_url, clock=clock, fresh_views=False, policy=None) as engine:
        views = engine.views
        community = engine.communities.register(district="D", subdistrict="S", name="East",
                                                actor=STAFF)
        community = engine.communities.add_grid(community.aggregate_id, "g1", "Grid 1",
                                                actor=STAFF)
        assert community.position is not None
        assert views.lag > 0  # nothing feeds the views yet: queries don't catch up
        with pytest.raises(ViewsTimeoutError):
            views.wait(community.position, timeout=0.05)
        with views.follow(interval=0.01):
            views.wait(community.position, timeout=30)
            assert views.position >= community.position
            clock.advance(timedelta(minutes=5))
            incident = engine.incidents.detect(
                community.aggregate_id, incident_type="fire", severity="high",
                location=Location(grid="g1"), description="smoke", actor=STAFF)
            assert incident.position is not None
            assert incident.position > community.position
            views.wait(incident.position, timeout=30)
            assert views.position >= incident.position
            timeline = engine.timeline(incident.aggregate_id)
            assert [e.action for e in timeline.entries] == [
                type(e).__name__ for e in engine.events(incident.aggregate_id)]
            assert len(timeline.entries) == incident.last_version
            with pytest.raises(ViewsTimeoutError):
                views.wait(views.head + 100, timeout=0.05)
        assert snapshot(engine) == reference(engine)


def test_a_failing_follower_keeps_the_error_and_recovers(clock: ManualClock) -> None:
    """A follower whose catch-up fails keeps the error, leaves the views as they were, then
    recovers."""
    with Engine("memory:", clock=clock, fresh_views=False, policy=None) as engine:
        views = engine.views
        setup_world(engine, clock)
        calls = _Calls(1)
        commit = views.store.commit

        def failing(*args: Any, **kwargs: Any) -> None:
            calls.tick()  # the database unreachable: every commit fails until it is back
            commit(*args, **kwargs)

        with patch.object(views.store, "commit", new=failing), \
                views.follow(interval=0.01) as follower:
            with pytest.raises(ViewsTimeoutError):
                views.wait(timeout=0.2)
            assert isinstance(follower.error, Boom)
            assert follower.failures >= 1
            assert follower.running
            assert views.position == 0
            assert snapshot(engine) == {"timelines": {}, "cases": {}, "plans": {}, "live": {}}
            calls.fail_at = 10**9
            views.wait(timeout=60)
            assert snapshot(engine) == reference(engine)
        assert not follower.running


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Whether ``condition`` holds within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_follower_outlasts_any_number_of_failures_in_a_row(clock: ManualClock) -> None:
    """After more failed attempts in a row than a float can double over (1,024: a long
    outage), the follower still pauses at most ``max(interval, 2)`` s and keeps trying,
    then recovers (its pause once overflowed and the thread died)."""
    with Engine("memory:", clock=clock, fresh_views=False, policy=None) as engine:
        views = engine.views
        setup_world(engine, clock)
        blocked, down = threading.Event(), [True]
        catch_up = views.catch_up

        def failing(**kwargs: Any) -> int:
            if down[0]:
                blocked.wait(10)
                raise Boom("the store is unreachable")
            return catch_up(**kwargs)

        with patch.object(views, "catch_up", new=failing), \
                views.follow(interval=0.001) as follower:
            follower.failures = 5_000  # while its first attempt waits: a long outage so far
            blocked.set()
            assert _until(lambda: follower.failures >= 5_002 or not follower.running)
            assert follower.running
            assert follower.pause() == 2.0 ** 10 * 0.001
            assert isinstance(views.error, Boom)
            down[0] = False
            views.wait(timeout=30)
            assert _until(lambda: follower.failures == 0)
            assert views.error is None
        assert snapshot(engine) == reference(engine)


def test_a_followers_pause_doubles_up_to_its_cap() -> None:
    """The pause after n failures in a row is interval * 2**n, at most max(interval, 2) s."""
    with Engine("memory:", fresh_views=False, policy=None) as engine, \
            engine.views.follow(interval=0.25) as follower:
        pauses = []
        for failures in (0, 1, 2, 3, 4, 1_024, 10**6):
            follower.failures = failures
            pauses.append(follower.pause())
        follower.failures = 0
    assert pauses == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0]


@pytest.mark.parametrize("interval", [0, -1, math.nan, math.inf, 1e300, 86_401, True, "1"])
def test_a_follower_needs_an_interval_of_seconds_within_a_day(interval: Any) -> None:
    """An interval that is not a number of seconds > 0 and at most a day is refused before
    any thread starts (0 polled without pause; inf and 1e300 overflowed the thread's wait)."""
    threads = threading.active_count()
    with Engine("memory:", fresh_views=False, policy=None) as engine:
        with pytest.raises(InvalidInputError, match="interval"):
            engine.views.follow(interval)
        assert threading.active_count() == threads


def test_a_follower_stopped_by_a_fault_of_its_own_says_so(
        clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """Should the follower's thread stop on an error (not the store's: those are retried),
    ``running`` turns False, ``error`` keeps the error and one error line is logged."""
    with Engine("memory:", clock=clock, fresh_views=False, policy=None) as engine, \
            patch.object(Follower, "_follow", side_effect=Crash("a fault of the follower")):
        follower = engine.views.follow(interval=0.01)
        assert _until(lambda: not follower.running)
        assert isinstance(follower.error, Crash)
        assert engine.views.error is follower.error
    (record,) = [r for r in caplog.records if r.name == "resilience.views"]
    assert record.levelname == "ERROR"
    assert record.getMessage() == ("views follower stopped, the views are no longer kept up "
                                   "to date: Crash: a fault of the follower")


# 6. Views of another version -----------------------------------------------------------------


@pytest.mark.parametrize("kind", SHARED)
def test_a_new_version_folds_views_of_its_own_beside_the_old_and_prunes_them(
        kind: str, tmp_path: Path) -> None:
    """A new VERSION rebuilds into its own views on first query; the old keep theirs till pruned."""
    _needs(kind)
    clock = ManualClock(T0)
    newer = patch("resilience.projections.runner.VERSION", VERSION + 1)
    with fresh_url(kind, tmp_path) as url:
        with Engine(url, clock=clock, policy=None) as old:
            world = setup_world(old, clock)
            incident = old.incidents.detect(
                world.communities[0], incident_type="fire", severity="high",
                location=Location(grid="g1"), description="smoke", actor=STAFF).aggregate_id
            old.views.catch_up()
            before, head = snapshot(old), old.views.head
        with newer, Engine(url, clock=clock, policy=None) as new:
            assert new.views.stored_names == {"timelines": f"timelines/v{VERSION + 1}",
                                              "cases": f"cases/v{VERSION + 1}",
                                              "plans": f"plans/v{VERSION + 1}",
                                              "live": f"live/v{VERSION + 1}",
                                              "quarantine": f"quarantine/v{VERSION + 1}",
                                              "summaries": f"summaries/v{VERSION + 1}"}
            assert (new.views.position, new.views.lag) == (0, head)
            assert [e.action for e in new.timeline(incident).entries] == ["Detected"]
            assert new.views.position == head
            assert snapshot(new) == before == reference(new)
        with Engine(url, clock=clock, policy=None) as old, newer, \
                Engine(url, clock=clock, policy=None) as new:
            assert old.views.position == new.views.position == head
            assert snapshot(old) == before
            old.incidents.add_note(incident, "still smoking", actor=STAFF)
            assert old.views.catch_up() == 1
            assert new.views.position == head  # each version keeps its own position
            old_documents = sum(len(docs) for docs in snapshot(old).values())
            old_documents += len(old.views.documents("summaries"))  # the metrics' index
            assert new.views.prune() == old_documents
            assert new.views.prune() == 0
            assert old.views.position == 0
            assert snapshot(old) == {"timelines": {}, "cases": {}, "plans": {}, "live": {}}
            assert new.views.catch_up() == 1
            assert snapshot(new) == reference(new)
