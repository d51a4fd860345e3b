"""Bounded queries answer exactly what reading every case answers (issue 14, req 2).

A review of a period reads that period's rows, and a community's situation at a cut
reads the cases begun by then whose ``until`` (resilience.projections.indexes) says they
may be open then. Here, over generated histories on every store, each answer equals the
one computed from every case of the community (the views' bounds dropped), the index is
sound at every moment a case changes, each store's select keeps exactly the rows its
bounds say, and a views table made before ``until`` existed is migrated in place,
answers the same, and rebuilds.
"""

import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject

from histories import STAFF, World, setup_world
from resilience import Engine, Location, ManualClock, ResilienceError
from resilience.adapters.viewrows import INDEXES
from resilience.adapters.viewstore import MemoryViewStore, ViewRow, ViewStore
from resilience.metrics.cases import case_at
from resilience.metrics.milestones import CLOSES
from resilience.metrics.period import Period
from resilience.projections.base import Doc
from resilience.projections.indexes import CLOSING, case_until, plan_until
from resilience.projections.plan_items import plan_item
from resilience.projections.runner import Views
from resilience.review.situations import incident_situation, order_situation
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS
from test_metrics_oracle import apply_steps
from test_projections import amended_histories, fresh_url

from conftest import T0, _conninfo, require_postgres

KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
EXAMPLES = {"memory": 40, "sqlite": 12, "postgres": 4}
"""Hypothesis examples per store: each PostgreSQL example opens a schema of its own."""
OLD_TABLE = ("CREATE TABLE {table} (view {text} NOT NULL, key {text} NOT NULL, "
             "kind {text} NOT NULL, community {text}, at {real}, doc {text} NOT NULL, "
             "PRIMARY KEY (view, key))")
"""The views table as the library made it before ``until`` (issue 14), and its index."""
OLD_INDEX = "CREATE INDEX resilience_views_by_time ON {table} (view, kind, at)"


def _settings(kind: str) -> settings:
    return settings(max_examples=EXAMPLES[kind], deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def unbounded(engine: Engine) -> Iterator[None]:
    """Within: every select of the views reads every row of its kind and community (the
    period and ``until`` bounds dropped), so a query filters every case itself."""
    views = engine.views

    def every_row(view: str, kind: str, *, community: str | None = None,
                  **bounds: Any) -> list[tuple[str, Doc]]:
        return Views.select(views, view, kind, community=community)

    with mock.patch.object(views, "select", every_row):
        yield


def _history(engine: Engine, clock: ManualClock, steps: list[tuple[Any, ...]]) -> World:
    world = setup_world(engine, clock)
    apply_steps(engine, clock, world, steps)
    engine.views.catch_up()
    return world


@contextmanager
def _recorded(kind: str, tmp_path: Path, steps: list[tuple[Any, ...]]
              ) -> Iterator[tuple[Engine, World]]:
    """An engine on a fresh store of ``kind`` holding the history of ``steps``."""
    clock = ManualClock(T0)
    with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as engine:
        yield engine, _history(engine, clock, steps)


def _same_unbounded(engine: Engine, query: Callable[[], Any], context: Any) -> None:
    """The query answers (or fails) the same with its bounds as reading every row."""
    bounded = _outcome(query)
    with unbounded(engine):
        assert bounded == _outcome(query), context


def _case_docs(engine: Engine) -> dict[str, Doc]:
    engine.views.catch_up()
    return {key: doc for kind in ("incident", "order")
            for key, doc in engine.views.select("cases", kind)}


def _moments(docs: dict[str, Doc]) -> list[datetime]:
    """Every moment a case's facts say something happened, and a microsecond either side:
    where an answer at a cut can change."""
    times = {datetime.fromisoformat(fact[1]) for doc in docs.values() for fact in doc["facts"]}
    step = timedelta(microseconds=1)
    return sorted({t + d for t in times for d in (-step, timedelta(0), step)})


def _outcome(query: Callable[[], Any]) -> Any:
    """The query's answer, or the error it raised (its type and message)."""
    try:
        return query()
    except ResilienceError as exc:
        return type(exc), str(exc)


def _is_open(key: str, doc: Doc, as_of: datetime | None) -> bool | None:
    """Whether the case was open at ``as_of`` (None: now), read from every fact; None if it
    had not begun."""
    case = case_at(key, doc, as_of=as_of)
    if case is None:
        return None
    if case.subject == "incident":
        return incident_situation(case).is_open
    return order_situation(case, doc).is_open


# The index -----------------------------------------------------------------------------


def test_the_index_closes_cases_by_the_rule_the_situations_read() -> None:
    """``CLOSING`` (what the views index) is the table the metrics and situations use."""
    assert CLOSING == CLOSES


@pytest.mark.parametrize("kind", KINDS)
def test_a_case_is_never_open_at_or_after_its_until(kind: str, tmp_path: Path) -> None:
    """At every moment a case's facts name, an open case has no ``until`` yet or one later
    than the moment; a case closed now has one; each stored row holds its document's."""
    if kind == "postgres":
        require_postgres()

    @_settings(kind)
    @given(steps=amended_histories)
    def check(steps: list[tuple[Any, ...]]) -> None:
        clock = ManualClock(T0)
        with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as engine:
            _history(engine, clock, steps)
            docs = _case_docs(engine)
            stored = {row.key: row.until for subject in ("incident", "order")
                      for row in engine.views.store.select(
                          engine.views.stored_names["cases"], subject)}
            for key, doc in docs.items():
                until = case_until(doc)
                assert stored[key] == until
                now = _is_open(key, doc, None)
                assert (until is None) == bool(now)
                for moment in _moments({key: doc}):
                    if _is_open(key, doc, moment):
                        assert until is None or until > moment.timestamp(), (key, moment)

    check()


def _item_docs(engine: Engine) -> dict[str, Doc]:
    engine.views.catch_up()
    return dict(engine.views.select("plans", "improvement"))


def _item_moments(docs: dict[str, Doc]) -> list[datetime]:
    """Every moment an item's lifecycle facts name (as now and as first recorded), and a
    microsecond either side."""
    times = {datetime.fromisoformat(t) for doc in docs.values()
             for t in [*(entry[1] for entry in doc["history"]),
                       *(fix[1] for fix in doc["corrections"])]}
    step = timedelta(microseconds=1)
    return sorted({t + d for t in times for d in (-step, timedelta(0), step)})


@pytest.mark.parametrize("kind", KINDS)
def test_an_item_is_never_open_at_or_after_its_until(kind: str, tmp_path: Path) -> None:
    """The improvement items' ``until`` (``plans`` rows): an item open at a moment its facts
    name has none or a later one; one open now has none; each row holds its document's."""
    if kind == "postgres":
        require_postgres()

    @_settings(kind)
    @given(steps=amended_histories)
    def check(steps: list[tuple[Any, ...]]) -> None:
        with _recorded(kind, tmp_path, steps) as (engine, _):
            docs = _item_docs(engine)
            stored = {row.key: row.until for row in engine.views.store.select(
                engine.views.stored_names["plans"], "improvement")}
            for key, doc in docs.items():
                until = plan_until(doc)
                assert stored[key] == until
                now = plan_item(key, doc)
                assert now is not None
                if now.is_open:
                    assert until is None
                for moment in _item_moments({key: doc}):
                    item = plan_item(key, doc, at=moment)
                    if item is not None and item.is_open:
                        assert until is None or until > moment.timestamp(), (key, moment)

    check()


# Answers: bounded == every case read ---------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_community_at_any_cut_is_what_reading_every_case_says(
        kind: str, tmp_path: Path) -> None:
    """``replay.community`` at every moment a fact names (the whole community and each
    grid; now, as of a moment, and as known then) equals the answer from every case."""
    if kind == "postgres":
        require_postgres()

    @_settings(kind)
    @given(steps=amended_histories, data=st.data())
    def check(steps: list[tuple[Any, ...]], data: DataObject) -> None:
        with _recorded(kind, tmp_path, steps) as (engine, world):
            moments = _moments(_case_docs(engine)) or [T0]
            picked = data.draw(st.lists(st.sampled_from(moments), min_size=1, max_size=6),
                               label="moments")
            cuts: list[dict[str, Any]] = [{}, *({"as_of": m} for m in picked)]
            cuts.append({"as_of": picked[0], "known_at": data.draw(st.sampled_from(moments))})
            for community in world.communities:
                for grid in (None, "g1"):
                    for cut in cuts:
                        def replay(cut: dict[str, Any] = cut, grid: str | None = grid,
                                   community: UUID = community) -> Any:
                            return engine.replay.community(community, grid=grid, **cut)

                        _same_unbounded(engine, replay, cut)

    check()


@pytest.mark.parametrize("kind", KINDS)
def test_a_review_of_a_period_is_what_reading_every_incident_says(
        kind: str, tmp_path: Path) -> None:
    """``reviews.incidents`` of a period whose bounds fall on incidents' detections (as of
    a cut too, and as known then) equals the review that reads every incident."""
    if kind == "postgres":
        require_postgres()

    @_settings(kind)
    @given(steps=amended_histories, data=st.data())
    def check(steps: list[tuple[Any, ...]], data: DataObject) -> None:
        with _recorded(kind, tmp_path, steps) as (engine, world):
            starts = sorted({datetime.fromisoformat(doc["facts"][0][1])
                             for doc in _case_docs(engine).values()
                             if doc["kind"] == "incident"}) or [T0]
            first = data.draw(st.sampled_from(starts), label="period start")
            later = [s for s in starts if s > first] or [first + timedelta(minutes=1)]
            period = data.draw(st.sampled_from(
                [Period(), Period(first, None), Period(None, first),
                 Period(first, data.draw(st.sampled_from(later), label="period end"))]),
                label="period")
            as_of, known_at = data.draw(st.sampled_from(
                [(None, None), (first, None), (None, data.draw(st.sampled_from(starts)))]),
                label="cut (as_of, known_at)")
            for community in world.communities:
                def review(community: UUID = community) -> Any:
                    return engine.reviews.incidents(community, period=period, as_of=as_of,
                                                    known_at=known_at)

                _same_unbounded(engine, review, period)

    check()


@pytest.mark.parametrize("kind", KINDS)
def test_a_reviews_items_and_those_open_at_any_cut_are_what_reading_every_item_says(
        kind: str, tmp_path: Path) -> None:
    """At cuts on the items' facts (now, as of a moment, as known then): each review's
    items (read by the view's index of them) are the community's items of that review; the
    open items (of the community, of a grid), read by ``until``, and each incident's review
    (its still-open items read by ``until`` and planning time) are the answers from every
    item."""
    if kind == "postgres":
        require_postgres()

    @_settings(kind)
    @given(steps=amended_histories, data=st.data())
    def check(steps: list[tuple[Any, ...]], data: DataObject) -> None:
        with _recorded(kind, tmp_path, steps) as (engine, world):
            docs = _item_docs(engine)
            moments = _item_moments(docs) or [T0]
            picked = data.draw(st.lists(st.sampled_from(moments), min_size=1, max_size=4),
                               label="moments")
            cuts: list[dict[str, Any]] = [{}, *({"at": m} for m in picked)]
            cuts.append({"at": picked[0], "known_at": data.draw(st.sampled_from(moments))})
            reviews = sorted({doc["review"] for doc in docs.values()})
            for community in world.communities:
                for cut in cuts:
                    every = engine.improvements.items(community, **cut)
                    for review in reviews:
                        assert engine.improvements.items(community, review=review, **cut) == [
                            item for item in every if item.review == review], (review, cut)
                    for grid in (None, "g1"):
                        def still_open(cut: dict[str, Any] = cut, grid: str | None = grid,
                                       community: UUID = community) -> Any:
                            return engine.improvements.items(community, grid=grid,
                                                             open_only=True, **cut)

                        _same_unbounded(engine, still_open, (cut, grid))
            for incident in world.incidents:
                for cut in cuts:
                    def review(incident: UUID = incident, cut: dict[str, Any] = cut) -> Any:
                        return engine.reviews.incident(incident, as_of=cut.get("at"),
                                                       known_at=cut.get("known_at"))

                    _same_unbounded(engine, review, (incident, cut))

    check()


@pytest.mark.parametrize("kind", KINDS)
def test_a_review_lists_an_item_planned_a_microsecond_before_its_incident(
        kind: str, tmp_path: Path) -> None:
    """The planning-time bound at its edge: an item planned a microsecond before an
    incident's detection is still open in its review, and one planned at the detection is
    not (planned *before* the incidents reviewed); once the item is done, neither is."""
    if kind == "postgres":
        require_postgres()
    clock = ManualClock(T0 + timedelta(hours=2))
    with fresh_url(kind, tmp_path) as url, Engine(url, clock=clock, policy=None) as engine:
        (community, _) = setup_world(engine, clock).communities
        detected = T0 + timedelta(hours=1)
        step = timedelta(microseconds=1)
        items = [engine.improvements.plan(
            community, review=f"community/{community}/before-{n}", action="fix the thing",
            owner="owner-a", due=T0 + timedelta(days=1), actor=STAFF, grid="g1",
            occurred_at=detected - shift).aggregate_id for n, shift in enumerate((step, 0 * step))]
        incident = engine.incidents.detect(
            community, incident_type="fire", severity="high",
            location=Location(grid="g1", building="g1-b", unit="1"), description="smoke",
            actor=STAFF, occurred_at=detected).aggregate_id
        review = engine.reviews.incident(incident)
        assert [item.item_id for item in review.still_open] == items[:1]
        engine.improvements.complete(items[0], actor=STAFF, occurred_at=detected + step)
        assert engine.reviews.incident(incident).still_open == ()
        assert [item.item_id for item in engine.reviews.incident(
            incident, as_of=detected).still_open] == items[:1]


def test_the_scenarios_answer_the_same_bounded_and_unbounded(clock: ManualClock) -> None:
    """The Donghu fire and the Xiangyang orders, minute by minute through their day."""
    with Engine("memory:", clock=clock, policy=None) as engine:
        communities = [replay_file(engine, scenario).community_id
                       for scenario in (DONGHU_FIRE, XIANGYANG_ORDERS)]
        docs = _case_docs(engine)
        begun = min(datetime.fromisoformat(doc["facts"][0][1]) for doc in docs.values())
        for community in communities:
            for minute in range(0, 24 * 60, 7):
                as_of = begun + timedelta(minutes=minute)
                bounded = engine.replay.community(community, as_of=as_of)
                with unbounded(engine):
                    assert bounded == engine.replay.community(community, as_of=as_of)


# The stores' selects -------------------------------------------------------------------

moment = st.one_of(st.none(), st.integers(0, 5).map(float))
rows = st.lists(st.tuples(st.sampled_from(["incident", "order", "ended"]),
                          st.sampled_from(["c1", "c2", None]), moment, moment),
                min_size=3, max_size=30)
"""(kind, community, at, until) of rows of one view, keyed by their place in the list."""


def _kept(row: ViewRow, start: float | None, end: float | None, community: str | None,
          until_after: float | None) -> bool:
    """The oracle: what a select's bounds mean, spelled out."""
    return ((community is None or row.community == community)
            and (start is None or (row.at is not None and row.at >= start))
            and (end is None or (row.at is not None and row.at < end))
            and (until_after is None or row.until is None or row.until > until_after))


@pytest.mark.parametrize("kind", KINDS)
def test_each_store_selects_exactly_the_rows_its_bounds_say(kind: str, tmp_path: Path) -> None:
    """Rows written, some rewritten under another kind, then selected by kind, period,
    community and ``until_after``: the rows the oracle keeps, on every store."""
    if kind == "postgres":
        require_postgres()

    @_settings(kind)
    @given(written=rows, rewritten=rows, data=st.data())
    def check(written: list[tuple[Any, ...]], rewritten: list[tuple[Any, ...]],
              data: DataObject) -> None:
        with fresh_url(kind, tmp_path) as url, Engine(url) as engine:
            store = engine.views.store
            view = engine.views.stored_names["cases"]
            final: dict[str, ViewRow] = {}
            for position, batch in enumerate((written, rewritten), start=1):
                page = [ViewRow(view, str(i), subject, community, at, "{}", until)
                        for i, (subject, community, at, until) in enumerate(batch)]
                store.commit(page, expected=store.mark(), position=position)
                final.update((row.key, row) for row in page)
            # Bounds often exactly at a row's ``at`` or ``until``, where ``<`` and ``<=`` part.
            bound = moment | st.sampled_from(
                [m for row in final.values() for m in (row.at, row.until)] or [None])
            for _ in range(12):
                subject = data.draw(st.sampled_from(["incident", "order", "ended"]))
                start, end = (data.draw(st.none() | bound) for _ in range(2))
                until_after = data.draw(bound)
                community = data.draw(st.sampled_from(["c1", "c2", None]))
                found = list(store.select(view, subject, start=start, end=end,
                                          community=community, until_after=until_after))
                assert sorted(row.key for row in found) == sorted(
                    key for key, row in final.items() if row.kind == subject
                    and _kept(row, start, end, community, until_after))
                assert all(row == final[row.key] for row in found)

    check()


@pytest.mark.parametrize("kind", KINDS)
def test_a_select_keeps_at_from_start_before_end_and_until_after_the_moment(
        kind: str, tmp_path: Path) -> None:
    """The bounds at their edges: ``at`` in [start, end), ``until`` None or after."""
    if kind == "postgres":
        require_postgres()
    with fresh_url(kind, tmp_path) as url, Engine(url) as engine:
        store = engine.views.store
        view = engine.views.stored_names["cases"]
        page = [ViewRow(view, f"{at}-{until}", "incident", "c1", at, "{}", until)
                for at in (None, 1.0, 2.0, 3.0) for until in (None, 1.0, 2.0, 3.0)]
        store.commit(page, expected=store.mark(), position=1)

        def keys(**bounds: Any) -> set[str]:
            return {row.key for row in store.select(view, "incident", **bounds)}

        assert keys(start=2.0, end=3.0) == {"2.0-None", "2.0-1.0", "2.0-2.0", "2.0-3.0"}
        assert keys(end=2.0, until_after=2.0, community="c1") == {"1.0-None", "1.0-3.0"}
        assert keys(until_after=2.0) == {f"{at}-{until}" for at in (None, 1.0, 2.0, 3.0)
                                         for until in (None, 3.0)}
        assert keys(until_after=math.inf) == {f"{at}-None" for at in (None, 1.0, 2.0, 3.0)}
        assert keys(community="c2") == set()


def test_the_memory_store_forgets_rows_of_views_reset_pruned_or_dropped() -> None:
    """Its rows by kind follow every delete: a reset, a prune, plain views dropped."""
    store: ViewStore = MemoryViewStore("resilience/views/v7")
    row = ViewRow("cases/v7", "a", "incident", "c1", 1.0, "{}")
    kept = ViewRow("cases/v7/sealed", "b", "incident", "c1", 1.0, "{}")
    for reset in (lambda: store.reset(["cases/v7"]),
                  lambda: store.prune(["cases/v7/sealed"], "resilience/views/"),
                  lambda: store.drop_unsealed("resilience/views/", "/sealed")):
        store.commit([row, kept], expected=store.mark(), position=store.mark()[1] + 1)
        reset()
        assert list(store.select("cases/v7", "incident")) == []
        assert store.fetch("cases/v7", ["a"]) == {}
        assert list(store.select("cases/v7/sealed", "incident")) == [kept]


# A views table made before ``until`` ---------------------------------------------------


def _downgrade(url: str) -> None:
    """Make the store's views table as the library made it before ``until``, rows kept."""
    copy = "INSERT INTO {table} SELECT view, key, kind, community, at, doc FROM {old}"
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        with db:
            db.execute("ALTER TABLE resilience_views RENAME TO views_new")
            for index in ("by_time", "by_community", "by_until"):
                db.execute(f"DROP INDEX resilience_views_{index}")
            db.execute(OLD_TABLE.format(table="resilience_views", text="TEXT", real="REAL"))
            db.execute(copy.format(table="resilience_views", old="views_new"))
            db.execute("DROP TABLE views_new")
            db.execute(OLD_INDEX.format(table="resilience_views"))
        db.close()
        return
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    table = f"{schema}.resilience_views"
    with psycopg.connect(_conninfo(), autocommit=True) as conn, conn.transaction():
        conn.execute(f"ALTER TABLE {table} RENAME TO views_new")
        for index in ("by_time", "by_community", "by_until"):
            conn.execute(f"DROP INDEX {schema}.resilience_views_{index}")
        conn.execute(OLD_TABLE.format(table=table, text="text", real="double precision"))
        conn.execute(copy.format(table=table, old=f"{schema}.views_new"))
        conn.execute(f"DROP TABLE {schema}.views_new")
        conn.execute(OLD_INDEX.format(table=table))


def _columns(engine: Engine) -> dict[str, float | None]:
    """The ``until`` of every stored cases row of an incident or order, by key."""
    view = engine.views.stored_names["cases"]
    return {row.key: row.until for subject in ("incident", "order")
            for row in engine.views.store.select(view, subject)}


def _answers(engine: Engine, communities: list[UUID]) -> list[Any]:
    docs = _case_docs(engine)
    begun = min(datetime.fromisoformat(doc["facts"][0][1]) for doc in docs.values())
    return [engine.replay.community(community, as_of=begun + timedelta(minutes=minute))
            for community in communities for minute in range(0, 24 * 60, 30)
            ] + [engine.reviews.incidents(communities[0])]


def _record(url: str, clock: ManualClock) -> tuple[list[UUID], list[Any], dict[str, Any]]:
    with Engine(url, clock=clock, policy=None) as engine:
        communities = [replay_file(engine, scenario).community_id
                       for scenario in (DONGHU_FIRE, XIANGYANG_ORDERS)]
        answers = _answers(engine, communities)
        untils = _columns(engine)
    assert any(until is not None for until in untils.values())
    return communities, answers, untils


def test_a_sqlite_views_table_made_before_until_is_migrated_and_rebuilt(
        tmp_path: Path, clock: ManualClock) -> None:
    """Opened, it gains the column and the indexes; its rows read as "may be open", so
    every answer stays the same; a rebuild fills the column in."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    _check_migration(url, clock)
    db = sqlite3.connect(tmp_path / "events.db")
    names = {row[1] for row in db.execute("PRAGMA table_info(resilience_views)")}
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.close()
    assert "until" in names
    assert {"resilience_views_by_community", "resilience_views_by_until"} <= indexes


@pytest.mark.postgres
def test_a_postgres_views_table_made_before_until_is_migrated_and_rebuilt(
        pg_url: str, clock: ManualClock) -> None:
    """As on SQLite (and ``ADD COLUMN IF NOT EXISTS`` under the set-up lock)."""
    _check_migration(pg_url, clock)


def _check_migration(url: str, clock: ManualClock) -> None:
    communities, answers, untils = _record(url, clock)
    _downgrade(url)
    with Engine(url, clock=clock, policy=None) as engine:
        assert set(_columns(engine).values()) == {None}  # "may be open": read, not skipped
        assert _answers(engine, communities) == answers
        engine.views.rebuild()
        assert _columns(engine) == untils
        assert _answers(engine, communities) == answers


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_engines_opening_an_old_views_table_at_once_all_open_it(
        kind: str, tmp_path: Path, clock: ManualClock) -> None:
    """Four engines opening a store whose views table predates ``until`` together: the
    column is added once (the others find it there under the lock), none fails."""
    if kind == "postgres":
        require_postgres()
    with fresh_url(kind, tmp_path) as url:
        communities, answers, _ = _record(url, clock)
        _downgrade(url)
        barrier = threading.Barrier(4)
        failures: list[BaseException] = []

        def open_it() -> None:
            try:
                barrier.wait(timeout=30)
                with Engine(url, clock=clock, policy=None, fresh_views=False):
                    pass
            except BaseException as exc:  # every failure is a result
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        with Engine(url, clock=clock, policy=None) as engine:
            assert _answers(engine, communities) == answers


def _query_indexes(engine: Engine) -> set[str]:
    """The views table's query indexes (``INDEXES``) that the store holds now."""
    datastore: Any = engine.views.store.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=False) as c:
        if hasattr(datastore, "schema"):
            c.execute("SELECT indexname AS name FROM pg_indexes WHERE schemaname = %s",
                      (datastore.schema,))
        else:
            c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        found = {row["name"] for row in c.fetchall()}
    return found & {f"resilience_views_{name}" for name, _ in INDEXES}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_rebuild_writes_without_the_query_indexes_and_makes_them_again(
        kind: str, tmp_path: Path, clock: ManualClock) -> None:
    """While a rebuild writes every row the query indexes are gone (made once at the end,
    from the rows); after it, and after one that failed, they are all there, and the
    answers are what they were. A rebuild killed before it could make them leaves them to
    the next opening of the store."""
    if kind == "postgres":
        require_postgres()
    every = {f"resilience_views_{name}" for name, _ in INDEXES}
    with fresh_url(kind, tmp_path) as url:
        communities, answers, _ = _record(url, clock)
        with Engine(url, clock=clock, policy=None) as engine:
            assert _query_indexes(engine) == every
            during: list[set[str]] = []
            catch_up = engine.views.catch_up

            def watched(**kwargs: Any) -> int:
                during.append(_query_indexes(engine))
                return catch_up(**kwargs)

            with mock.patch.object(engine.views, "catch_up", watched):
                engine.views.rebuild()
            assert during == [set()]
            assert _query_indexes(engine) == every
            assert _answers(engine, communities) == answers

            with (mock.patch.object(engine.views, "catch_up", side_effect=RuntimeError("died")),
                  pytest.raises(RuntimeError, match="died")):
                engine.views.rebuild()
            assert _query_indexes(engine) == every
            engine.views.rebuild()

            engine.views.store.drop_indexes()  # as a rebuild killed half way leaves them
        with Engine(url, clock=clock, policy=None) as reopened:
            assert _query_indexes(reopened) == every
            assert _answers(reopened, communities) == answers
