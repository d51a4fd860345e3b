"""Commands whose cost does not grow with the history: snapshots, lazy state, the
shortcuts the command loop takes, each proven to give exactly what the long way gives.

* A community loaded from its snapshot, with the facts after it folded on, equals the
  one folded from every fact (generated histories: roster changes, corrections of roster
  facts, activities and their counts, areas, care cards, command ids, imports, times in
  several UTC offsets), before and after it is encoded again; what a command reads from
  it before anything is decoded in full answers as the folded one does.
* The lazy maps behave as dicts under any sequence of reads, writes, command ids and
  re-encodings.
* An erased person's data never comes back from a snapshot; a sealed or signed snapshot
  altered outside the engine is ignored; snapshots can be turned off.
* ``last_occurred`` is ``max`` of every fact's time (the first of equal ones), and
  ``imported_only`` says whether every fact was imported, as reading the facts says.
* A new incident or order with a fresh id is not looked for before it is inserted;
  ids that may repeat still are.
"""

import contextlib
import copy
import json
from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from os import urandom
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import (
    Actor,
    CareCard,
    ConfigurationError,
    Contact,
    Engine,
    Location,
    ManualClock,
    ResilienceError,
    Role,
    UnitSpec,
)
from resilience.adapters.keyring import ERASED
from resilience.adapters.lazy import CLASSES, TIMES, Codec, LazyMap, PositionalMap
from resilience.adapters.mapper import key_ring
from resilience.adapters.snapshot_state import (
    Plain,
    Unreadable,
    decode,
    encode,
    materialize,
    sections,
)
from resilience.adapters.snapshots import EVERY, TABLE, TagSealer
from resilience.domain.base import FactAggregate
from resilience.domain.organisation import Community
from resilience.services.core import _fold

from conftest import DONGHU, OFFICE, T0

AES = "eventsourcing.cryptography:AESCipher"
SIGNING = "a-signing-key-for-the-snapshot-tests-0123"
EAST = timezone(timedelta(hours=8))
HISTORY = settings(max_examples=40, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def cipher() -> dict[str, str]:
    return {"CIPHER_TOPIC": AES, "CIPHER_KEY": b64encode(urandom(32)).decode()}


def folded(events: list[Any]) -> Any:
    """The aggregate folded from ``events`` (all its facts from the first, or onto one)."""
    return _fold(None, events)


def state(aggregate: Any) -> dict[str, Any]:
    return dict(materialize(aggregate).__dict__)


# Generated community histories -----------------------------------------------------------

PEOPLE = ("ann", "bo", "chen", "dai", "eve")
GRIDS = ("g1", "g2")
SCOPES: dict[Role, tuple[str | None, ...]] = {
    Role.GRID_LEADER: GRIDS, Role.GRID_WORKER: GRIDS, Role.BUILDING_LEADER: ("g1-b",),
    Role.VOLUNTEER: (None, "g1"), Role.SQUAD_MEMBER: (None,), Role.COMMUNITY_STAFF: (None,)}
"""The scopes each role is held for (assignments elsewhere are refused, and so recorded
too rarely to be worth drawing)."""
roles = st.sampled_from(list(SCOPES)).flatmap(
    lambda role: st.tuples(st.just(role), st.sampled_from(SCOPES[role])))
step = st.one_of(
    st.tuples(st.just("enrol"), st.sampled_from(PEOPLE[2:])),
    st.tuples(st.just("assign"), st.sampled_from(PEOPLE), roles),
    st.tuples(st.just("relieve"), st.sampled_from(PEOPLE), roles),
    st.tuples(st.just("assign"), st.sampled_from(PEOPLE), roles),
    st.tuples(st.just("relieve"), st.sampled_from(PEOPLE), roles),
    st.tuples(st.just("activity"), st.sampled_from((*GRIDS, None)), st.integers(0, 50)),
    st.tuples(st.just("participants"), st.integers(0, 20), st.integers(0, 60)),
    st.tuples(st.just("time"), st.integers(1, 25), st.integers(-180, 30)),
    st.tuples(st.just("details"), st.integers(1, 25)),
    st.tuples(st.just("zone"), st.sampled_from((*GRIDS, "g1-b", "g1-b/1")),
              st.sampled_from(("new_build", "old_estate"))),
    st.tuples(st.just("card"), st.sampled_from(GRIDS), st.integers(0, 3)),
    st.tuples(st.just("building"), st.integers(0, 3), st.sampled_from(GRIDS)),
)
entry = st.tuples(
    step,
    st.integers(-30, 30),  # minutes from the clock: late records, and ahead
    st.sampled_from((EAST, UTC, timezone(timedelta(hours=-5)))),
    st.sampled_from((None, None, None, "new", "new", "repeat")),  # command id
    st.booleans(),  # imported
)
histories = st.lists(entry, min_size=15, max_size=80)


def record(engine: Engine, clock: ManualClock, history: list[Any]) -> UUID:
    """The community of ``history``: set up (two grids, a building of two units), then
    each step as a command (a refused one records nothing and is skipped)."""
    c = engine.communities
    community = c.register(**DONGHU, actor=OFFICE, occurred_at=T0).aggregate_id
    for grid in GRIDS:
        c.add_grid(community, grid, actor=OFFICE, occurred_at=T0)
    c.add_building(community, "g1-b", "g1", [UnitSpec("1", 8), UnitSpec("2", 8)],
                   actor=OFFICE, occurred_at=T0)
    for person in PEOPLE[:2]:
        c.enrol(community, person, f"Name of {person}", actor=OFFICE, occurred_at=T0)
    importing = engine.importing(Actor("importer", Role.SYSTEM))
    activities: list[int] = []
    ids: list[str] = []
    for n, (what, minutes, zone, command, imported) in enumerate(history):
        clock.advance(timedelta(minutes=20))
        at = (clock() + timedelta(minutes=minutes)).astimezone(zone)
        command_id = None
        if command == "new":
            command_id = f"c{n}"
            ids.append(command_id)
        elif command == "repeat" and ids:
            command_id = ids[n % len(ids)]
        on = (importing if imported else engine).communities
        kw: dict[str, Any] = {"actor": OFFICE, "occurred_at": at, "command_id": command_id}
        with contextlib.suppress(ResilienceError):
            _step(on, community, what, kw, activities)
    return community


def _step(c: Any, community: UUID, what: tuple[Any, ...], kw: dict[str, Any],
          activities: list[int]) -> None:
    kind = what[0]
    if kind == "enrol":
        c.enrol(community, what[1], f"Name of {what[1]}", "138", ["first aid"], **kw)
    elif kind == "assign":
        c.assign_role(community, what[1], *what[2], **kw)
    elif kind == "relieve":
        c.relieve_role(community, what[1], *what[2], "rota", **kw)
    elif kind == "activity":
        activities.append(c.hold_activity(community, title="talk", category="health",
                                          participants=what[2], grid=what[1], **kw)
                          .last_version)
    elif kind == "participants" and activities:
        c.correct_participants(community, activities[what[1] % len(activities)], what[2],
                               "recount", **kw)
    elif kind == "time":
        c.correct_time(community, what[1], kw["occurred_at"] + timedelta(minutes=what[2]),
                       "clock", **kw)
    elif kind == "details":
        c.correct_details(community, what[1], "better", "typo", **kw)
    elif kind == "zone":
        c.classify_zone(community, what[1], what[2], **kw)
    elif kind == "card":
        office = Contact("Office", f"027-{what[2]}")
        c.issue_care_card(community, what[1], CareCard(
            emergency_contact=office, grid_leader=Contact("Lead", "139", "ann"),
            grid_worker=office, community_office=office, property_management=office,
            health_station=office), **kw)
    elif kind == "building":
        c.add_building(community, f"{what[2]}-n{what[1]}", what[2], [UnitSpec("1", 4)], **kw)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def _answers(community: Any, moments: list[datetime]) -> dict[str, Any]:
    """What commands read of a community, asked one key at a time."""
    found: dict[str, Any] = {}
    for person in (*PEOPLE, "office-duty", "nobody"):
        for at in moments:
            found[f"holdings {person} {at}"] = community.holdings(person, at)
            for role in SCOPES:
                held = community.scopes_held(person, role, at)
                assert held == [h.scope for h in community.roster(at, role=role)
                                if h.person_id == person]
                found[f"scopes {person} {role} {at}"] = held
        found[f"person {person}"] = community.people.get(person)
        found[f"erased {person}"] = person in community.erased
    for area in ("g1", "g2", "g1-b", "g1-b/1", "g1-b/2", "g9"):
        found[f"area {area}"] = community.areas.get(area)
    for version in range(1, community.version + 2):
        found[f"occurred {version}"] = community.occurred.get(version)
        found[f"fact {version}"] = community.fact_types.get(version)
    for n in range(50):
        found[f"command c{n}"] = community.command_versions(f"c{n}")
    found["founder"], found["last"] = community.founder, community.last_occurred
    found["imported only"] = community.imported_only
    return found


@HISTORY
@given(history=histories, cut=st.integers(1, 80), data=st.data())
def test_a_community_from_its_snapshot_and_later_facts_equals_one_folded_from_every_fact(
        history: list[Any], cut: int, data: st.DataObject) -> None:
    """Snapshot at any version, load, fold the rest on: equal to folding every fact, before
    and after it is encoded again (and loaded again), and what a command asks of it one
    key at a time is answered as the folded community answers it."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        community = record(engine, clock, history)
        events = engine.events(community)
    whole = folded(events)
    cut = min(cut, len(events))
    snapshot = encode(folded(events[:cut]), Plain())
    assert snapshot is not None
    loaded = _fold(decode(snapshot.hot, Plain(), community, Community, lambda: snapshot.cold),
                   events[cut:])
    moments = [T0 + timedelta(minutes=data.draw(st.integers(-60, 1200), label="moment"))
               for _ in range(3)]
    assert _answers(loaded, moments) == _answers(whole, moments)
    again = encode(loaded, Plain())
    assert again is not None
    reloaded = decode(again.hot, Plain(), community, Community, lambda: again.cold)
    assert state(loaded) == state(whole)
    assert state(reloaded) == state(whole)
    assert list(materialize(reloaded).occurred.items()) == list(whole.occurred.items())


@HISTORY
@given(history=histories)
def test_last_occurred_is_the_first_latest_time_and_imported_only_reads_the_facts(
        history: list[Any]) -> None:
    """``last_occurred`` is what ``max`` over every fact's effective time gives (on equal
    instants in different offsets, the earlier version's), corrections applied; and
    ``imported_only`` is whether every fact so far was imported."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        community = record(engine, clock, history)
        events = engine.events(community)
    for n in range(1, len(events) + 1):
        aggregate = folded(events[:n])
        latest = max(aggregate.occurred.values())
        assert aggregate.last_occurred == latest
        assert aggregate.last_occurred.utcoffset() == latest.utcoffset()
        assert aggregate.imported_only == all(
            e.actor.imported_by is not None for e in events[:n])


# The lazy maps, against dicts -------------------------------------------------------------

keys = st.sampled_from(["a", "b", "c", "d", "e", 'q"uote', "x,y", ":"])
pairs = st.tuples(st.integers(0, 9), st.integers(0, 9))
operations = st.lists(st.one_of(
    st.tuples(st.just("set"), keys, pairs),
    st.tuples(st.just("get"), keys),
    st.tuples(st.just("command"), keys, st.integers(1, 99)),
    st.tuples(st.just("encode")),
    st.tuples(st.just("all")),
), max_size=30)


class Owner:
    """Something holding a lazy map as an attribute (as an aggregate does)."""

    def __init__(self) -> None:
        self.items: Any = None


def _codec() -> Codec[str, tuple[int, int]]:
    return Codec(str, str, list, tuple, False)


@settings(max_examples=300, deadline=None)
@given(start=st.dictionaries(keys, pairs), ops=operations)
def test_a_lazy_map_behaves_as_a_dict(start: dict[str, tuple[int, int]],
                                      ops: list[Any]) -> None:
    """Reads, writes, a fact's command id (``record_command``: the first version stays the
    earliest), encoding and loading again, reading every key: the same as a dict, in
    the same order."""
    codec = _codec()
    model: dict[str, Any] = dict(start)
    owner = Owner()
    owner.items = LazyMap(owner, "items", codec, codec.encode(start))
    for op in ops:
        lazy = owner.items
        if op[0] == "set":
            lazy[op[1]] = op[2]
            model[op[1]] = op[2]
        elif op[0] == "get":
            assert lazy.get(op[1]) == model.get(op[1])
            assert (op[1] in lazy) == (op[1] in model)
        elif op[0] == "command":
            first = model[op[1]][0] if op[1] in model else op[2]
            model[op[1]] = (first, op[2])
            if isinstance(lazy, LazyMap):
                lazy.record_command(op[1], op[2])
            else:
                lazy[op[1]] = (lazy[op[1]][0] if op[1] in lazy else op[2], op[2])
        elif op[0] == "encode":
            data = lazy.encoded() if isinstance(lazy, LazyMap) else codec.encode(lazy)
            owner.items = LazyMap(owner, "items", codec, data)
        else:
            assert list(lazy.items()) == list(model.items())
            assert isinstance(owner.items, dict)  # it took the map's place
    final = owner.items.materialize() if isinstance(owner.items, LazyMap) else owner.items
    assert list(final.items()) == list(model.items())


@settings(max_examples=200, deadline=None)
@given(count=st.integers(0, 30), writes=st.lists(
    st.tuples(st.integers(1, 40), st.integers(-10_000, 10_000),
              st.sampled_from((EAST, UTC))), max_size=10))
def test_a_positional_map_behaves_as_a_dict(count: int, writes: list[Any]) -> None:
    """Fixed-width records by version: new versions appended, old ones changed; read one
    at a time, all at once, or encoded and read again."""
    base = {v: (T0 + timedelta(minutes=v)).astimezone(EAST) for v in range(1, count + 1)}
    model = dict(base)
    owner = Owner()
    data = TIMES.encode(base)
    assert data is not None
    owner.items = PositionalMap(owner, "items", TIMES, data)
    for version, minutes, zone in writes:
        version = min(version, len(model) + 1)  # versions stay 1..n, as facts are
        value = (T0 + timedelta(minutes=minutes)).astimezone(zone)
        owner.items[version] = value
        model[version] = value
        assert owner.items.get(version) == value
    encoded = owner.items.encoded()
    assert encoded is not None
    again = PositionalMap(owner, "items", TIMES, encoded)
    for version in range(0, len(model) + 2):
        assert again.get(version) == model.get(version)
        if version in model:
            assert again[version].utcoffset() == model[version].utcoffset()
    assert list(again.materialize().items()) == list(model.items())


def test_classes_are_kept_by_topic() -> None:
    """``fact_types``' records name each class once, by its topic."""
    owner = Owner()
    classes = {1: Community.Registered, 2: Community.GridAdded, 3: Community.Registered}
    data = CLASSES.encode(classes)
    assert data is not None
    assert data.count(b"GridAdded") == 1
    assert dict(PositionalMap(owner, "items", CLASSES, data)) == classes


def test_every_aggregate_class_has_sections() -> None:
    """Every attribute of every aggregate is declared, so any of them can be snapshotted."""
    for cls in FactAggregate.__subclasses__():
        found = sections(cls)
        assert found is not None
        assert {s.name for s in found} >= {"occurred", "commands"}


# Through the engine ----------------------------------------------------------------------


def _grow(engine: Engine, community: UUID, facts: int, start: datetime) -> None:
    for n in range(facts):
        engine.communities.hold_activity(community, title=f"talk {n}", category="health",
                                         participants=n, grid="g1", actor=OFFICE,
                                         occurred_at=start + timedelta(minutes=n))


def _community(engine: Engine, people: tuple[str, ...] = ("zhang",)) -> UUID:
    c = engine.communities
    community = c.register(**DONGHU, actor=OFFICE, occurred_at=T0).aggregate_id
    c.add_grid(community, "g1", actor=OFFICE, occurred_at=T0)
    c.add_building(community, "b1", "g1", [UnitSpec("1", 8)], actor=OFFICE, occurred_at=T0)
    for person in people:
        c.enrol(community, person, "Zhang Chuanlian", "13800000003", actor=OFFICE,
                occurred_at=T0)
        c.assign_role(community, person, Role.GRID_LEADER, "g1", actor=OFFICE, occurred_at=T0)
    return community


def _row(engine: Engine, community: UUID) -> tuple[int, int, bytes] | None:
    return engine._store.snapshots.table.get(community)


def test_a_fresh_engine_loads_the_community_from_its_snapshot(shared_store_url: str) -> None:
    """Commands write snapshots as a community grows; a fresh engine (a CLI command, a
    restarted app) loads one, folds the few facts after it, and decides as before: the
    community it holds equals the one folded from every fact."""
    clock = ManualClock(T0 + timedelta(hours=1))
    with Engine(shared_store_url, clock=clock) as engine:
        community = _community(engine)
        _grow(engine, community, 3 * EVERY + 3, T0)
        row = _row(engine, community)
        assert row is not None
        assert row[0] > 2 * EVERY
        everything = engine.events(community)
    with Engine(shared_store_url, clock=clock) as fresh:
        leader = Actor("zhang", Role.GRID_LEADER)
        receipt = fresh.incidents.report(community, incident_type="fire", severity="low",
                                         location=Location(building="b1", unit="1"),
                                         description="smoke", actor=leader, occurred_at=T0)
        assert fresh.incidents.get(receipt.aggregate_id).location.grid == "g1"
        with fresh._store.locked():
            loaded = fresh._store.current(Community, community)
        assert "_lazy" in loaded.__dict__  # from the snapshot, decoded only as read
        assert state(loaded) == state(folded(everything))


def test_snapshots_can_be_turned_off(tmp_path: Path) -> None:
    """``RESILIENCE_SNAPSHOTS=off``: none written, none read."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with Engine(url, env={"RESILIENCE_SNAPSHOTS": "off"}, policy=None) as engine:
        community = _community(engine)
        _grow(engine, community, 2 * EVERY, T0)
        assert _row(engine, community) is None
        assert engine.communities.get(community).version == 5 + 2 * EVERY


def test_on_a_protected_store_snapshots_are_sealed_and_erasure_deletes_them(
        store_url: str) -> None:
    """On a protected store a snapshot shows nothing of the people it holds; erasing one
    deletes every snapshot with the key, and a fresh engine then reads them erased."""
    env = cipher()
    with Engine(store_url, env=env, policy=None) as engine:
        community = _community(engine, ("zhang", "li"))
        _grow(engine, community, EVERY + 1, T0)
        row = _row(engine, community)
        assert row is not None
        assert b"Zhang" not in row[2]
        assert b"13800000003" not in row[2]
        engine.erase_person("zhang", community=community, actor=OFFICE, reason="asked")
        if store_url != "memory:":
            assert _row(engine, community) is None  # deleted with the key
        _grow(engine, community, EVERY + 1, T0 + timedelta(days=1))
        assert _row(engine, community) is not None  # written again, after the erasure
        fresh = engine if store_url == "memory:" else Engine(store_url, env=env, policy=None)
        with fresh._store.locked():
            fresh._store._cache.clear()
            loaded = fresh._store.current(Community, community)
        assert loaded.people["zhang"].name == ERASED
        assert loaded.people["li"].name == "Zhang Chuanlian"  # the other one's, kept
        assert state(loaded) == state(folded(fresh.events(community)))
        if fresh is not engine:
            fresh.close()


erasures = st.lists(st.tuples(st.integers(0, 2 * EVERY), st.sampled_from(("ann", "bo", None))),
                    min_size=1, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=erasures)
def test_erasure_never_brings_data_back_from_a_snapshot(plan: list[Any]) -> None:
    """Facts, snapshots and erasures in any order, with engines that were open before the
    erasure and fresh ones: an erased person's name is never read again, from any
    snapshot or cache, and a snapshot loaded equals folding every fact."""
    env = cipher()
    with Engine("memory:", env=env, policy=None) as engine:
        community = _community(engine, ("ann", "bo"))
        other = engine.with_clock(ManualClock(T0))  # a second store on the same app
        erased: set[str] = set()
        for n, (facts, person) in enumerate(plan):
            _grow(other if n % 2 else engine, community, facts, T0 + timedelta(days=n))
            if person is not None and person not in erased:
                engine.erase_person(person, community=community, actor=OFFICE,
                                    reason="asked")
                erased.add(person)
            for store in (engine._store, other._store):
                ring = key_ring(store.app)
                assert ring is not None
                ring.refresh()  # as FRESH_FOR seconds later
                with store.locked():
                    seen = store.current(Community, community)
                for gone in erased:
                    assert seen.people[gone].name == ERASED
            snapshot = engine._store.snapshots.load(Community, community)
            if snapshot is not None:
                loaded = _fold(snapshot, engine.events(community)[snapshot.version:])
                for gone in erased:
                    assert loaded.people[gone].name == ERASED
                assert state(loaded) == state(folded(engine.events(community)))


def test_a_snapshot_taken_before_an_erasure_is_refused_by_the_count(store_url: str) -> None:
    """A snapshot written with the count of erasures its writer saw is kept only while
    the key table still counts that many: one begun before an erasure and finished after
    it is not written, and one of another count is never read."""
    with Engine(store_url, env=cipher(), policy=None) as engine:
        community = _community(engine)
        engine.erase_person("zhang", community=community, actor=OFFICE, reason="asked")
        snapshots = engine._store.snapshots
        aggregate = engine.communities.get(community)
        data = encode(aggregate, Plain())
        assert data is not None
        counted = store_url != "memory:"
        snapshots.table.clear()
        snapshots.table.put(community, aggregate.version, 0, data, counted)  # stale count
        if counted:
            assert snapshots.table.get(community) is None
        assert snapshots.load(Community, community) is None


@pytest.mark.parametrize("kind", ["signed", "protected"])
def test_a_snapshot_altered_outside_the_engine_is_ignored(tmp_path: Path, kind: str) -> None:
    """With a key (protection, or a signing key) a snapshot changed in the table does not
    open: the community is folded from its events instead, equal to them."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    env = cipher() if kind == "protected" else {"RESILIENCE_SIGNING_KEY": SIGNING}
    with Engine(url, env=env, policy=None) as engine:
        community = _community(engine)
        _grow(engine, community, EVERY + 1, T0)
        row = _row(engine, community)
        assert row is not None
    import sqlite3

    with sqlite3.connect(tmp_path / "events.db") as db:
        data = bytearray(row[2])
        data[-5] ^= 1
        db.execute(f"UPDATE {TABLE} SET data = ?", (bytes(data),))
    with Engine(url, env=env, policy=None) as engine:
        assert engine._store.snapshots.load(Community, community) is None
        loaded = engine.communities.get(community)
        assert "_lazy" not in loaded.__dict__
        assert state(loaded) == state(folded(engine.events(community)))


def test_a_signed_snapshot_opens_with_any_of_the_keys() -> None:
    """As checkpoints: the first key signs, every key listed opens."""
    old = TagSealer((b"old-key-0123456789abcdef0123456789",))
    new = TagSealer((b"new-key-0123456789abcdef0123456789",
                     b"old-key-0123456789abcdef0123456789"))
    assert new.open(old.seal(b"state", b"where"), b"where") == b"state"
    with pytest.raises(ResilienceError):
        old.open(new.seal(b"state", b"where"), b"where")
    with pytest.raises(ResilienceError):
        new.open(new.seal(b"state", b"where"), b"elsewhere")


# The shortcuts of the command loop -----------------------------------------------------


def test_a_fresh_id_is_not_looked_for_but_an_id_that_may_repeat_is(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A report or order without an id or command id gets a uuid4 and is inserted without
    the existence query; a caller's id and a command id's derived id are looked for, so a
    repeat still returns its receipt and a taken id is still AlreadyExistsError."""
    with Engine("memory:", policy=None) as engine:
        community = _community(engine)
        looked: list[UUID] = []
        exists: Callable[[UUID], bool] = engine._store.exists

        def spy(aggregate_id: UUID) -> bool:
            looked.append(aggregate_id)
            return exists(aggregate_id)
        monkeypatch.setattr(engine._store, "exists", spy)
        report: dict[str, Any] = {"incident_type": "fire", "severity": "low",
                                  "description": "smoke", "location": Location(building="b1"),
                                  "actor": OFFICE}
        engine.incidents.report(community, **report)
        engine.orders.place(community, household_id="hh", area_id="b1/1", category="home",
                            item="repair", actor=OFFICE)
        assert looked == []
        first = engine.incidents.report(community, **report, command_id="call-1")
        again = engine.incidents.report(community, **report, command_id="call-1")
        assert again == first
        assert again.repeated
        with pytest.raises(ResilienceError, match="already exists"):
            engine.incidents.report(community, **report, incident_id=first.aggregate_id)
        assert looked == [first.aggregate_id] * 3


def test_a_batch_decides_on_cached_aggregates_caught_up(tmp_path: Path) -> None:
    """Inside a batch an aggregate cached by an earlier command is caught up with what
    another writer recorded (one query) instead of reloaded, and the batch records what
    it would have recorded from a reload."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with Engine(url, policy=None) as engine, Engine(url, policy=None) as other:
        community = _community(engine)
        incident = engine.incidents.report(community, incident_type="fire", severity="low",
                                           description="smoke", location=Location(
                                               building="b1"), actor=OFFICE,
                                           occurred_at=T0).aggregate_id
        other.incidents.add_note(incident, "from the other writer", actor=OFFICE,
                                 occurred_at=T0)
        with engine.batch() as batch:
            engine.incidents.add_note(incident, "one", actor=OFFICE, occurred_at=T0)
            engine.incidents.add_note(incident, "two", actor=OFFICE, occurred_at=T0)
        assert batch.events_recorded == 2
        assert [e.originator_version for e in engine.events(incident)] == [1, 2, 3, 4, 5]


def test_snapshot_row_format_is_json_headed() -> None:
    """The header names the class, id and version in JSON (what ``resilience`` writes is
    readable by a person with the key, and checked before use)."""
    with Engine("memory:", policy=None) as engine:
        community = _community(engine)
        snapshot = encode(engine.communities.get(community), Plain())
    assert snapshot is not None
    assert snapshot.hot[:4] == b"RSN1"
    size = int.from_bytes(snapshot.hot[4:8], "big")
    header = json.loads(snapshot.hot[8:8 + size])
    assert header["topic"] == "resilience.organisation:Community"
    assert header["id"] == str(community)
    assert header["version"] == 5
    assert {name for name, _, cold in header["sections"] if cold} == {
        "occurred", "fact_types", "commands", "activities"}
    with pytest.raises(Unreadable, match="another aggregate"):
        decode(snapshot.hot, Plain(), UUID(int=1), Community)
    with pytest.raises(Unreadable, match="check does not match"):  # the header was changed
        decode(snapshot.hot.replace(header["layout"].encode(), b"0" * 16), Plain(), community,
               Community)


def test_a_cold_part_replaced_before_it_is_read_is_folded_instead(tmp_path: Path) -> None:
    """A snapshot's cold part (the facts' times and classes, command ids, activities) is
    read when first needed, by the snapshot's version: replaced by a newer snapshot in the
    meantime, the community is folded up to the loaded snapshot's version for it. Either
    way the result equals folding every fact."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with Engine(url, policy=None) as engine, Engine(url, policy=None) as other:
        community = _community(engine)
        _grow(engine, community, EVERY + 2, T0)
        loaded = engine._store.snapshots.load(Community, community)
        assert loaded is not None
        assert "_lazy" in loaded.__dict__
        _grow(other, community, EVERY + 2, T0 + timedelta(days=1))  # a newer snapshot
        assert _row(engine, community)[0] > loaded.version  # type: ignore[index]
        assert loaded.occurred[3] == folded(engine.events(community)).occurred[3]
        events = engine.events(community)
        assert state(_fold(loaded, events[loaded.version:])) == state(folded(events))


def test_a_loaded_community_can_be_copied() -> None:
    """A deep copy of a community loaded from its snapshot (sections not read yet, maps
    half read) equals the original and shares nothing it could change."""
    with Engine("memory:", policy=None) as engine:
        community = _community(engine)
        _grow(engine, community, EVERY + 1, T0)
        loaded = engine._store.snapshots.load(Community, community)
        assert loaded is not None
        assert loaded.areas["b1"].households == 8  # one key read
        copied = copy.deepcopy(loaded)
        copied.areas["b1"].households = 99
        assert loaded.areas["b1"].households == 8
        assert state(copied) != state(loaded)
        copied.areas["b1"].households = 8
        at_snapshot = folded(engine.events(community)[:loaded.version])
        assert state(copied) == state(loaded) == state(at_snapshot)


def test_a_report_reads_only_the_hot_part(tmp_path: Path) -> None:
    """A fresh engine reporting in a community reads the snapshot's hot part (areas, the
    roster, names) and never its cold part, which grows with the facts."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with Engine(url, policy=None) as engine:
        community = _community(engine)
        _grow(engine, community, 3 * EVERY, T0)
    with Engine(url) as fresh:
        table = fresh._store.snapshots.table
        asked: list[tuple[Any, ...]] = []
        real = table.cold

        def spy(*args: Any) -> bytes | None:
            asked.append(args)
            return real(*args)
        table.cold = spy  # type: ignore[method-assign, assignment]
        fresh.incidents.report(community, incident_type="fire", severity="low",
                               description="smoke", location=Location(building="b1"),
                               actor=Actor("zhang", Role.GRID_LEADER), occurred_at=T0)
        assert asked == []


@given(setting=st.one_of(st.sampled_from(["on", "off", " OFF ", "No", "1", "0", "true",
                                          "False", "yes"]), st.text(max_size=6)))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_snapshots_setting_is_on_off_or_refused(setting: str) -> None:
    """``RESILIENCE_SNAPSHOTS`` takes on/off words (any case, spaces around): the engine
    opens with snapshots on or off as they say; any other value is ConfigurationError when
    the engine opens, recording nothing."""
    word = setting.strip().lower()
    if word in ("on", "yes", "1", "true", "off", "no", "0", "false"):
        with Engine("memory:", env={"RESILIENCE_SNAPSHOTS": setting}) as engine:
            assert engine._store.snapshots.enabled is (word in ("on", "yes", "1", "true"))
    else:
        with pytest.raises(ConfigurationError, match="RESILIENCE_SNAPSHOTS"):
            Engine("memory:", env={"RESILIENCE_SNAPSHOTS": setting})
