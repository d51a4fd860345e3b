"""Subscriptions: every notice given to the handler once in effect, from a position kept
beside the views; dead letters kept with it; both surviving rebuilds, prunes and crashes.

The webhook handler and the command line are tested in tests/test_webhooks.py.
"""

import contextlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import (
    Actor,
    DeadLetter,
    Engine,
    InvalidInputError,
    Location,
    ManualClock,
    NotFoundError,
    Notice,
    Role,
    TamperedStoreError,
    Undeliverable,
)
from resilience.adapters.subscriptions import DEAD_LETTERS
from resilience.services.notices import SCHEMA, notice_kinds

from conftest import OFFICE, T0, donghu, pg_schema, require_postgres

AES = "eventsourcing.cryptography:AESCipher"
KEY = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="


class Crash(Exception):
    """The process "dies" here: nothing after it runs."""


def record_incidents(engine: Engine, community: UUID, count: int) -> list[UUID]:
    """``count`` fires, each detected and reported (a notice, then none), acknowledged
    (none) and contained (a notice)."""
    incidents = []
    for n in range(count):
        at = T0 + timedelta(minutes=10 * n)
        incident = engine.incidents.report(
            community, incident_type="fire", severity="high", location=Location(building="30"),
            description=f"smoke {n}", actor=OFFICE, detected_at=at,
            occurred_at=at + timedelta(minutes=1)).aggregate_id
        engine.incidents.acknowledge(incident, actor=OFFICE,
                                     occurred_at=at + timedelta(minutes=2))
        engine.incidents.contain(incident, "out", actor=OFFICE,
                                 occurred_at=at + timedelta(minutes=5))
        incidents.append(incident)
    return incidents


def notice_keys(engine: Engine, *aggregates: UUID) -> list[str]:
    """The keys of the aggregates' facts that are notices (their classes say so)."""
    return [f"{a}/{e.originator_version}" for a in aggregates for e in engine.events(a)
            if type(e).notice is not None]


def everything(engine: Engine) -> list[str]:
    """Every notice of the store, by position, as a subscription of all kinds takes them."""
    got: list[Notice] = []
    engine.subscribe(f"everything-{uuid4().hex}", got.append).deliver()
    return [notice.key for notice in got]


@pytest.fixture
def community(engine: Engine) -> UUID:
    return donghu(engine)


# What a notice is ------------------------------------------------------------------------


def test_a_subscription_gives_each_notice_once_in_the_order_recorded(
        engine: Engine, community: UUID) -> None:
    """Facts that are notices reach the handler, by position; the rest move the position
    silently; a second pass gives nothing more."""
    incidents = record_incidents(engine, community, 3)
    got: list[Notice] = []
    subscription = engine.subscribe("app", got.append)
    assert subscription.position == 0
    assert subscription.deliver() == 6
    assert [n.key for n in got] == notice_keys(engine, *incidents)  # recorded in this order
    assert [n.position for n in got] == sorted(n.position for n in got)
    assert [n.kind for n in got] == ["incident.new", "incident.contained"] * 3
    assert subscription.position == engine.views.head
    assert subscription.deliver() == 0
    assert len(got) == 6


def test_a_notice_carries_the_fact_and_reads_back_equal_from_its_json(
        engine: Engine, community: UUID) -> None:
    """Key, kind, times, actor, the community (also for facts that don't name it), the
    summary and the fact's own fields; ``to_dict`` is JSON that ``from_dict`` reads back."""
    (fire,) = record_incidents(engine, community, 1)
    got: list[Notice] = []
    engine.subscribe("app", got.append).deliver()
    new, contained = got
    events = engine.events(fire)
    assert new.key == f"{fire}/1"
    assert (new.aggregate_id, new.aggregate_kind, new.version) == (fire, "incident", 1)
    assert new.community_id == contained.community_id == community
    assert new.occurred_at == T0
    assert new.recorded_at == events[0].timestamp
    assert new.actor == OFFICE
    assert new.summary == events[0].describe()
    assert new.data["description"] == "smoke 0"
    assert new.data["severity"] == "high"
    assert contained.data == {"description": "out"}
    for notice in got:
        data = json.loads(json.dumps(notice.to_dict()))
        assert data["schema"] == SCHEMA
        assert Notice.from_dict(data) == notice


SAMPLE = Notice(key=f"{UUID(int=1)}/1", kind="incident.new", position=4,
                aggregate_id=UUID(int=1), aggregate_kind="incident", version=1,
                community_id=UUID(int=2), drill=False, occurred_at=T0, recorded_at=T0, actor=OFFICE,
                summary="fire", data={"severity": "high"})
FIELDS = sorted(SAMPLE.to_dict())


@given(field=st.sampled_from(FIELDS),
       value=st.one_of(st.just(KeyError), st.none(), st.integers(-2, 2), st.text(max_size=3),
                       st.lists(st.integers(), max_size=1)))
def test_a_body_that_is_not_a_notice_is_refused_by_from_dict(field: str, value: object) -> None:
    """A notice's data with one field missing or replaced reads back equal (the value
    happened to be valid: a None command id) or is InvalidInputError, nothing else."""
    data = SAMPLE.to_dict()
    if value is KeyError:
        del data[field]
    else:
        data[field] = value
    try:
        read = Notice.from_dict(data)
    except InvalidInputError:
        return
    assert read.to_dict() == data


def test_a_body_missing_fields_is_refused_naming_them() -> None:
    """from_dict says which fields a body lacks, in a sentence (not a bare KeyError)."""
    with pytest.raises(InvalidInputError) as refused:
        Notice.from_dict({"schema": SCHEMA})
    assert str(refused.value).startswith("not a notice: it has no key, kind, position,")
    assert "KeyError" not in str(refused.value)
    data = SAMPLE.to_dict()
    del data["community_id"], data["summary"]
    with pytest.raises(InvalidInputError, match=r"^not a notice: it has no community_id, "
                                                r"summary$"):
        Notice.from_dict(data)


def test_the_notices_of_a_drill_say_so_its_escalations_too(
        engine: Engine, community: UUID) -> None:
    """A drill's facts, its watch's escalations among them, are notices marked ``drill``
    (read from its first fact, also after a restart of the reader), so an app rings
    nobody real for them; a real incident's are not."""
    watched = engine.with_clock(ManualClock(T0))
    drill, real = (watched.incidents.report(
        community, incident_type="fire", severity="high", location=Location(grid="3"),
        description=f"smoke {n}", drill=n == 0, actor=OFFICE, occurred_at=T0).aggregate_id
        for n in range(2))
    clock = ManualClock(T0 + timedelta(minutes=3))
    assert len(engine.with_clock(clock).tick().raised) == 2  # unacknowledged: level 0 each
    got: list[Notice] = []
    engine.subscribe("app", got.append, kinds=["incident.new", "incident.escalated"]).deliver()
    assert {(n.aggregate_id, n.kind, n.drill) for n in got} == {
        (drill, "incident.new", True), (drill, "incident.escalated", True),
        (real, "incident.new", False), (real, "incident.escalated", False)}
    for notice in got:
        assert Notice.from_dict(json.loads(json.dumps(notice.to_dict()))).drill is notice.drill


def test_kinds_choose_the_notices_and_the_rest_move_the_position(
        engine: Engine, community: UUID) -> None:
    """Only the kinds asked for reach the handler; the position still reaches the head."""
    record_incidents(engine, community, 2)
    got: list[Notice] = []
    subscription = engine.subscribe("contained", got.append, kinds=["incident.contained"])
    assert subscription.deliver() == 2
    assert {n.kind for n in got} == {"incident.contained"}
    assert subscription.position == engine.views.head


def test_every_declared_notice_kind_is_known() -> None:
    """The kinds are read from the facts' classes, those of every part of the library."""
    assert {"incident.new", "consent.awaited", "incident.contained", "incident.closed",
            "order.new"} <= notice_kinds()


def refused(engine: Engine, call: Callable[[], object]) -> None:
    """InvalidInputError, and nothing stored or moved."""
    head = engine.views.head
    with pytest.raises(InvalidInputError):
        call()
    assert engine.views.head == head


@given(name=st.text(max_size=120))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_subscription_name_is_letters_digits_dots_dashes_or_refused(
        memory_engine: Engine, name: str) -> None:
    """Any name outside the rule is refused before anything is read or kept."""
    valid = (0 < len(name) <= 100 and name.isascii() and name[0].isalnum()
             and all(c.isalnum() or c in "._-" for c in name))
    if valid:
        assert memory_engine.subscribe(name, print).position == 0
    else:
        refused(memory_engine, lambda: memory_engine.subscribe(name, print))


def test_unknown_kinds_a_string_of_kinds_and_a_non_callable_handler_are_refused(
        memory_engine: Engine) -> None:
    """A typo in a kind would otherwise silently skip every notice."""
    refused(memory_engine, lambda: memory_engine.subscribe("a", print, kinds=["incident.nwe"]))
    refused(memory_engine, lambda: memory_engine.subscribe("a", print, kinds="incident.new"))
    refused(memory_engine, lambda: memory_engine.subscribe("a", "print"))  # type: ignore[arg-type]
    refused(memory_engine, lambda: memory_engine.subscribe("a", print).deliver(0))


# Positions -------------------------------------------------------------------------------


def test_a_failing_handler_stops_before_the_notice_which_comes_again(
        engine: Engine, community: UUID) -> None:
    """An exception other than Undeliverable leaves the position before its notice."""
    record_incidents(engine, community, 2)
    seen: list[str] = []

    def flaky(notice: Notice) -> None:
        seen.append(notice.key)
        if len(seen) == 2:
            raise RuntimeError("SMS gateway down")

    subscription = engine.subscribe("sms", flaky)
    with pytest.raises(RuntimeError, match="gateway"):
        subscription.deliver()
    assert subscription.deliver() == 3
    assert seen[1] == seen[2]
    assert len(seen) == 5
    assert len(set(seen)) == 4


def test_max_notices_bounds_a_pass_and_the_next_one_goes_on(
        engine: Engine, community: UUID) -> None:
    """``deliver(max_notices)`` gives at most that many, from where the last pass ended."""
    record_incidents(engine, community, 2)
    got: list[Notice] = []
    subscription = engine.subscribe("app", got.append)
    assert subscription.deliver(max_notices=3) == 3
    assert subscription.deliver(max_notices=3) == 1
    assert len({n.key for n in got}) == 4


def test_subscriptions_keep_their_own_positions_and_a_name_its_position(
        engine: Engine, community: UUID) -> None:
    """Another name starts from the beginning; the same name, subscribed again, goes on."""
    record_incidents(engine, community, 1)
    engine.subscribe("first", lambda n: None).deliver()
    got: list[Notice] = []
    assert engine.subscribe("second", got.append).deliver() == 2
    record_incidents(engine, community, 1)
    again: list[Notice] = []
    assert engine.subscribe("first", again.append).deliver() == 2
    assert {n.key for n in again}.isdisjoint({n.key for n in got})


def test_positions_and_dead_letters_survive_a_rebuild_and_a_prune(
        engine: Engine, community: UUID) -> None:
    """They are not view documents: ``views.rebuild()`` and ``views.prune()`` keep them."""
    record_incidents(engine, community, 2)

    def refuse(notice: Notice) -> None:
        raise Undeliverable("410 Gone")

    subscription = engine.subscribe("app", refuse, kinds=["incident.contained"])
    subscription.deliver()
    position, letters = subscription.position, subscription.dead_letters()
    assert len(letters) == 2
    engine.views.rebuild()
    engine.views.prune()
    assert subscription.position == position
    assert engine.subscribe("app", refuse).dead_letters() == letters


def test_two_deliverers_of_one_subscription_never_both_advance_it(
        shared_store_url: str) -> None:
    """Two engines on one store deliver one subscription at once: every notice is given
    once (one of them holds the deliverer lock, the other delivers nothing), and the
    position ends at the head."""
    url = shared_store_url
    clock = ManualClock(T0)
    with Engine(url, clock=clock, policy=None) as one, Engine(url, clock=clock,
                                                              policy=None) as two:
        incidents = record_incidents(one, donghu(one), 20)
        given: Counter[str] = Counter()
        lock = threading.Lock()

        def count(notice: Notice) -> None:
            with lock:
                given[notice.key] += 1

        runs = [threading.Thread(target=e.subscribe("app", count).deliver) for e in (one, two)]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
        assert set(given) == set(notice_keys(one, *incidents))
        assert max(given.values()) == 1
        assert two.subscribe("app", count).position == one.views.head


def test_while_one_deliverer_delivers_another_of_the_subscription_delivers_nothing(
        store_url: str) -> None:
    """A second deliverer of one subscription (another engine on the store, or another
    subscription object of the name in memory) finds the deliverer lock held and returns
    0 at once, while the first is in its handler; once the first is done, it delivers
    what comes next (it was a standby). Other names are not held up."""
    clock = ManualClock(T0)
    with Engine(store_url, clock=clock, policy=None) as one, contextlib.ExitStack() as stack:
        two = one if store_url == "memory:" else stack.enter_context(
            Engine(store_url, clock=clock, policy=None))
        community = donghu(one)
        first = record_incidents(one, community, 2)
        other: list[Notice] = []
        meanwhile: list[int] = []
        given: list[str] = []

        def handler(notice: Notice) -> None:
            if not meanwhile:
                meanwhile.append(two.subscribe("app", other.append).deliver())
                meanwhile.append(two.subscribe("elsewhere", other.append,
                                               kinds=["incident.new"]).deliver())
            given.append(notice.key)

        assert one.subscribe("app", handler).deliver() == 4
        assert meanwhile == [0, 2]
        assert [n.kind for n in other] == ["incident.new"] * 2  # only the other name's
        assert given == notice_keys(one, *first)
        later = record_incidents(one, community, 1)
        standby = two.subscribe("app", other.append)
        assert standby.deliver() == 2
        assert not standby.standby
        assert [n.key for n in other[2:]] == notice_keys(one, *later)


def test_a_standby_follower_takes_over_when_the_delivering_one_stops(
        shared_store_url: str) -> None:
    """Two followers of one subscription (two watches): one delivers, the other stands by
    (``active`` False) and delivers nothing; when the first stops, the standby takes over
    and nothing is given twice."""
    clock = ManualClock(T0)
    given: Counter[str] = Counter()
    lock = threading.Lock()

    def count(notice: Notice) -> None:
        with lock:
            given[notice.key] += 1

    def wait_for(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.02)

    with Engine(shared_store_url, clock=clock, policy=None) as one, Engine(
            shared_store_url, clock=clock, policy=None) as two:
        community = donghu(one)
        incidents = record_incidents(one, community, 2)
        first = one.subscribe("app", count).follow(interval=0.05)
        try:
            wait_for(lambda: first.delivered == 4)
            second = two.subscribe("app", count).follow(interval=0.05)
            try:
                incidents += record_incidents(one, community, 2)
                wait_for(lambda: first.delivered == 8)
                time.sleep(0.3)  # a few of the standby's rounds
                assert first.active
                assert not second.active
                assert second.delivered == 0
                assert second.subscription.standby
            finally:
                first.stop()
            incidents += record_incidents(one, community, 1)
            wait_for(lambda: second.delivered == 2)
            assert second.active
            assert second.error is None
        finally:
            second.stop()
            first.stop()
        assert not second.active
        assert given == Counter(notice_keys(one, *incidents))  # each once


_HOLDER = """
import sys, time
from resilience import Engine, ManualClock
from datetime import datetime, timezone
engine = Engine(sys.argv[1], clock=ManualClock(datetime(2022, 1, 1, tzinfo=timezone.utc)),
                policy=None)
def handler(notice):
    print("in the handler", flush=True)
    time.sleep(600)
engine.subscribe("app", handler).deliver()
"""


def test_a_deliverer_whose_process_dies_lets_the_lock_go(shared_store_url: str) -> None:
    """The deliverer lock is no lease: a process killed in its handler (SIGKILL, no
    clean-up) holds the subscription until it dies, and not a moment longer; the next
    deliverer gives everything, the notice in flight included."""
    with Engine(shared_store_url, clock=ManualClock(T0), policy=None) as engine:
        incidents = record_incidents(engine, donghu(engine), 2)
        holder = subprocess.Popen([sys.executable, "-c", _HOLDER, shared_store_url],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "in the handler\n"
            got: list[Notice] = []
            subscription = engine.subscribe("app", got.append)
            assert subscription.deliver() == 0
            assert subscription.standby
            holder.kill()
            holder.wait(30)
            deadline = time.monotonic() + 20  # the server sees the connection close
            while subscription.deliver() == 0:
                assert time.monotonic() < deadline, "the lock was not let go"
                time.sleep(0.05)
            assert [n.key for n in got] == notice_keys(engine, *incidents)
        finally:
            if holder.poll() is None:
                holder.kill()
            if holder.stdout is not None:
                holder.stdout.close()
            holder.wait()


# Crash points ------------------------------------------------------------------------------

MODES = st.sampled_from(["before acting", "after acting", "before the commit"])


def crash_run(open_engine: Callable[[], Engine], name: str, keys: list[str],
              plan: dict[int, str]) -> None:
    """Deliver ``keys`` (every notice, by position) to a handler that "dies" at the
    notices ``plan`` names, in the way it says: before the handler acts, after it acted
    (before it returns), or after it returned and before the position was committed.
    Each death is a new engine (or subscription) picking up. Then check the property."""
    given: Counter[str] = Counter()
    in_flight: Counter[str] = Counter()
    index = {key: n for n, key in enumerate(keys)}
    pending = dict(plan)
    while True:
        engine = open_engine()
        store = engine.notifications.store
        failing = threading.Event()

        def advance(*args: Any, real: Any = store.advance, failing: threading.Event = failing,
                    **kwargs: Any) -> None:
            if failing.is_set():
                raise Crash
            real(*args, **kwargs)

        def handler(notice: Notice, failing: threading.Event = failing) -> None:
            mode = pending.pop(index[notice.key], None)
            if mode == "before acting":
                raise Crash
            given[notice.key] += 1
            if mode is not None:
                in_flight[notice.key] += 1
            if mode == "after acting":
                raise Crash
            if mode == "before the commit":
                failing.set()

        with mock.patch.object(store, "advance", advance):
            try:
                engine.subscribe(name, handler).deliver()
                break
            except Crash:
                continue
    assert set(given) == set(keys)
    assert all(given[key] <= 1 + in_flight[key] for key in keys)


@pytest.fixture(scope="module")
def memory_history() -> Iterator[tuple[Engine, list[str]]]:
    with Engine("memory:", clock=ManualClock(T0), policy=None) as engine:
        record_incidents(engine, donghu(engine), 8)
        yield engine, everything(engine)


@given(plan=st.dictionaries(st.integers(0, 15), MODES, max_size=6))
@settings(max_examples=150)
def test_every_notice_is_given_across_random_crash_points(
        memory_history: tuple[Engine, list[str]], plan: dict[int, str]) -> None:
    """Whatever notices the process dies at, and however: every notice is given, and none
    more than once but the notice in flight at a death (the at-least-once edge)."""
    engine, keys = memory_history
    crash_run(lambda: engine, f"crash-{uuid4().hex}", keys, plan)  # a new name: from 0


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@given(plan=st.dictionaries(st.integers(0, 7), MODES, max_size=3))
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_notice_is_given_across_crashes_and_reopened_engines(
        backend: str, tmp_path: Path, plan: dict[int, str]) -> None:
    """As above on a shared store, each death a new engine on it (a restarted process)."""
    if backend == "postgres":
        require_postgres()
    opened: list[Engine] = []
    with (pg_schema() if backend == "postgres" else _sqlite(tmp_path)) as url:
        def open_engine() -> Engine:
            opened.append(Engine(url, clock=ManualClock(T0), policy=None))
            return opened[-1]

        try:
            first = open_engine()
            record_incidents(first, donghu(first), 4)
            crash_run(open_engine, "app", everything(first), plan)
        finally:
            for engine in opened:
                engine.close()


class _sqlite:
    """A fresh SQLite file per example (the examples share the test's tmp_path)."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / f"{uuid4().hex}.db"

    def __enter__(self) -> str:
        return f"sqlite:///{self.path}"

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


# Dead letters ------------------------------------------------------------------------------


def test_an_undeliverable_notice_becomes_a_dead_letter_and_delivery_moves_on(
        engine: Engine, community: UUID, clock: ManualClock) -> None:
    """The handler's Undeliverable keeps the notice (its place, attempts, why, when) and the
    next notices are still given; ``redeliver`` gives it again and drops it once taken."""
    (fire,) = record_incidents(engine, community, 1)
    given: list[str] = []

    def gateway(notice: Notice) -> None:
        if notice.kind == "incident.new":
            raise Undeliverable("number unknown", attempts=3)
        given.append(notice.key)

    subscription = engine.subscribe("sms", gateway)
    assert subscription.deliver() == 1
    (letter,) = subscription.dead_letters()
    assert isinstance(letter, DeadLetter)
    assert (letter.key, letter.kind, letter.attempts, letter.error) == (
        f"{fire}/1", "incident.new", 3, "number unknown")
    assert letter.failed_at == letter.first_failed_at == clock()
    assert letter.notice is not None
    assert letter.notice.key == letter.key
    clock.advance(timedelta(minutes=5))
    assert subscription.redeliver() == 0  # it fails again: kept, its attempts counted
    (again,) = subscription.dead_letters()
    assert (again.attempts, again.first_failed_at, again.failed_at) == (
        6, letter.first_failed_at, clock())
    taken: list[str] = []
    assert engine.subscribe("sms", lambda n: taken.append(n.key)).redeliver(letter.key) == 1
    assert taken == [letter.key]
    assert subscription.dead_letters() == []
    with pytest.raises(NotFoundError):
        subscription.redeliver(letter.key)


def test_a_fact_that_cannot_be_read_is_a_dead_letter_without_reaching_the_handler(
        tmp_path: Path) -> None:
    """An altered stored event is kept as a dead letter saying why; the rest are given."""
    url = f"sqlite:///{tmp_path / 'altered.db'}"
    with Engine(url, clock=ManualClock(T0), policy=None) as engine:
        (fire,) = record_incidents(engine, donghu(engine), 1)
        with sqlite3.connect(tmp_path / "altered.db") as db:
            db.execute("UPDATE stored_events SET state = ? WHERE originator_id = ? AND "
                       "originator_version = 1", (b"{not json", fire.hex))
        got: list[Notice] = []
        subscription = engine.subscribe("app", got.append)
        assert subscription.deliver() == 1
        (letter,) = subscription.dead_letters()
        assert letter.key == f"{fire}/1"
        assert letter.notice is None
        assert "cannot read the fact" in letter.error
        assert letter.attempts == 0
        assert [n.kind for n in got] == ["incident.contained"]


def test_dead_letters_are_sealed_on_a_protected_store(tmp_path: Path) -> None:
    """On a protected store a dead letter's record is sealed (its error does not show in the
    table), opens through the API, and an altered one is TamperedStoreError."""
    path = tmp_path / "sealed.db"
    env = {"CIPHER_TOPIC": AES, "CIPHER_KEY": KEY}
    with Engine(f"sqlite:///{path}", clock=ManualClock(T0), policy=None, env=env) as engine:
        record_incidents(engine, donghu(engine), 1)

        def refuse(notice: Notice) -> None:
            raise Undeliverable("the receiver said: secret-ish reason")

        subscription = engine.subscribe("app", refuse, kinds=["incident.new"])
        subscription.deliver()
        assert subscription.dead_letters()[0].error.endswith("secret-ish reason")
        with sqlite3.connect(path) as db:
            (doc,) = db.execute(f"SELECT doc FROM {DEAD_LETTERS}").fetchone()
            assert "secret-ish" not in doc
            assert "incident.new" not in doc
            db.execute(f"UPDATE {DEAD_LETTERS} SET doc = ?", (doc[:-8] + "AAAAAAA=",))
        with pytest.raises(TamperedStoreError, match="dead letter"):
            subscription.dead_letters()


def test_an_erased_person_s_text_reads_erased_in_notices_and_dead_letters(
        tmp_path: Path) -> None:
    """A dead letter keeps no text: read again after the reporter's erasure, its notice says
    "[erased]", as a new subscription's notice of the same fact does."""
    env = {"CIPHER_TOPIC": AES, "CIPHER_KEY": KEY}
    url = f"sqlite:///{tmp_path / 'erased.db'}"
    with Engine(url, clock=ManualClock(T0), policy=None, env=env) as engine:
        community = donghu(engine, people=[("chen", "Chen")])
        engine.incidents.report(community, incident_type="fire", severity="high",
                                location=Location(building="30"), description="my storage room",
                                actor=Actor("chen", Role.RESIDENT))

        def refuse(notice: Notice) -> None:
            raise Undeliverable("later")

        subscription = engine.subscribe("app", refuse, kinds=["incident.new"])
        subscription.deliver()
        before = subscription.dead_letters()[0].notice
        assert before is not None
        assert before.data["description"] == "my storage room"
        engine.erase_person("chen", community=community, actor=OFFICE, reason="asked")
        after = subscription.dead_letters()[0].notice
        assert after is not None
        assert after.data["description"] == "[erased]"
        assert "my storage room" not in after.summary
        got: list[Notice] = []
        engine.subscribe("fresh", got.append, kinds=["incident.new"]).deliver()
        assert got[0].data["description"] == "[erased]"


# Following ---------------------------------------------------------------------------------


def test_a_deliverer_follows_in_the_background_and_retries_a_failing_handler(
        engine: Engine, community: UUID) -> None:
    """``follow`` delivers what is recorded after it started; a handler failing twice is
    retried until it takes the notice, and the error state clears."""
    record_incidents(engine, community, 1)
    got: list[str] = []
    done = threading.Event()
    failures = [RuntimeError("down"), RuntimeError("still down")]

    def handler(notice: Notice) -> None:
        if failures:
            raise failures.pop(0)
        got.append(notice.key)
        if len(got) == 4:
            done.set()

    subscription = engine.subscribe("app", handler)
    with subscription.follow(interval=0.01) as deliverer:
        record_incidents(engine, community, 1)
        assert done.wait(30)
        assert deliverer.running
    assert not deliverer.running
    assert deliverer.error is None
    assert deliverer.failures == 0
    assert len(set(got)) == 4


def test_the_deliverer_s_interval_is_checked(memory_engine: Engine) -> None:
    """A follower's interval is a number of seconds > 0, as the views' follower's is."""
    refused(memory_engine, lambda: memory_engine.subscribe("a", print).follow(0))


def test_a_postgresql_notify_wakes_a_deliverer_waiting_for_events(pg_url: str) -> None:
    """The store's NOTIFY on insert ends the wait (the poll stays as a guard)."""
    from resilience.adapters.postgres_subscriptions import ListeningWakeup

    with Engine(pg_url, clock=ManualClock(T0), policy=None) as engine:
        wakeup = engine.notifications.wakeup()
        assert isinstance(wakeup, ListeningWakeup)
        try:
            assert wakeup.listening.wait(30)
            wakeup.wait(0)  # the wake-up on listening: nothing new yet
            donghu(engine)
            assert wakeup.wait(60) is True
        finally:
            wakeup.close()


# Starting at the head, facts this version can't read, positions that never stay -----------


def test_a_subscription_started_at_the_head_gives_only_what_comes_after(
        engine: Engine, community: UUID) -> None:
    """``start="head"``: a new subscription takes nothing of the history; once it has a
    position, subscribing again (either way) goes on from there."""
    record_incidents(engine, community, 2)
    got: list[Notice] = []
    subscription = engine.subscribe("late", got.append, start="head")
    assert subscription.position == engine.views.head
    assert subscription.deliver() == 0
    (fire,) = record_incidents(engine, community, 1)
    assert engine.subscribe("late", got.append, start="head").deliver() == 2
    assert [n.key for n in got] == notice_keys(engine, fire)
    assert engine.subscribe("late", got.append).deliver() == 0
    assert engine.subscribe("early", got.append).deliver() == 6
    refused(engine, lambda: engine.subscribe("x", print, start="now"))


def test_a_fact_of_an_unknown_type_is_a_dead_letter_for_every_subscription(
        tmp_path: Path) -> None:
    """A stored fact whose topic this version can't resolve (a later version's) is never
    passed over silently: each subscription, whatever its kinds, keeps it as a dead letter
    saying so; after an upgrade ``redeliver`` gives it to the handlers that want it."""
    path = tmp_path / "future.db"
    with Engine(f"sqlite:///{path}", clock=ManualClock(T0), policy=None) as engine:
        (fire,) = record_incidents(engine, donghu(engine), 1)
        with sqlite3.connect(path) as db:
            (topic,) = db.execute("SELECT topic FROM stored_events WHERE originator_id = ? "
                                  "AND originator_version = 1", (fire.hex,)).fetchone()
            db.execute("UPDATE stored_events SET topic = ? WHERE originator_id = ? AND "
                       "originator_version = 1", ("resilience.domain.future:Upgrade", fire.hex))
        every: list[Notice] = []
        contained: list[Notice] = []
        for name, handler, kinds in (("every", every.append, None),
                                     ("contained", contained.append, ["incident.contained"])):
            subscription = engine.subscribe(name, handler, kinds=kinds)
            assert subscription.deliver() == 1
            (letter,) = subscription.dead_letters()
            assert letter.key == f"{fire}/1"
            assert "unknown fact type: resilience.domain.future:Upgrade" in letter.error
            assert subscription.redeliver() == 0  # still unknown: kept
        with sqlite3.connect(path) as db:  # "the upgrade"
            db.execute("UPDATE stored_events SET topic = ? WHERE originator_id = ? AND "
                       "originator_version = 1", (topic, fire.hex))
    with Engine(f"sqlite:///{path}", clock=ManualClock(T0), policy=None) as engine:
        assert engine.subscribe("every", every.append).redeliver() == 1
        assert [n.kind for n in every] == ["incident.contained", "incident.new"]
        subscription = engine.subscribe("contained", contained.append,
                                        kinds=["incident.contained"])
        assert subscription.redeliver() == 0  # not a kind it wants: done with
        assert subscription.dead_letters() == []
        assert [n.kind for n in contained] == ["incident.contained"]


def test_a_position_never_stays_nor_moves_back_on_any_store(engine: Engine) -> None:
    """Every store refuses to "move" a position to where it is, or before."""
    from resilience.adapters.subscriptions import PositionMoved

    store = engine.notifications.store
    with pytest.raises(PositionMoved):
        store.advance("resilience/subscriptions/x", 0, 0)
    store.advance("resilience/subscriptions/x", 0, 3)
    for position in (3, 2):
        with pytest.raises(PositionMoved):
            store.advance("resilience/subscriptions/x", 3, position)
    assert store.position("resilience/subscriptions/x") == 3


def test_a_dead_letter_whose_position_holds_another_notice_is_not_redelivered(
        memory_engine: Engine) -> None:
    """``redeliver`` checks that the fact at the dead letter's position is its notice."""
    from resilience.adapters.subscriptions import DeadLetterRow

    record_incidents(memory_engine, donghu(memory_engine), 1)
    got: list[Notice] = []
    memory_engine.subscribe("probe", got.append).deliver()
    position = got[0].position
    got.clear()
    subscription = memory_engine.subscribe("app", got.append)
    notes = memory_engine.notifications
    doc = {"kind": "incident.new", "attempts": 1, "first_failed_at": T0.isoformat(),
           "failed_at": T0.isoformat(), "error": "x"}
    notes.store.keep(notes.seal(DeadLetterRow(subscription.tracking_name, "other/1", position, ""),
                                doc))
    assert subscription.redeliver() == 0
    assert got == []
    (letter,) = subscription.dead_letters()
    assert "no longer the notice other/1" in letter.error


def test_stopping_a_deliverer_cuts_a_webhook_s_pause_short(memory_engine: Engine) -> None:
    """A deliverer stopped while its webhook pauses between attempts (backoff 30 s) stops
    at once: the notice is neither taken nor a dead letter."""
    from resilience import Webhook
    from test_webhooks import Receiver  # here: test_webhooks imports this module

    server = Receiver()
    webhook = Webhook(server.url, "s", backoff=30)
    server.statuses += [500] * webhook.attempts  # each of its attempts fails
    try:
        record_incidents(memory_engine, donghu(memory_engine), 1)
        subscription = memory_engine.subscribe("app", webhook)
        deliverer = subscription.follow(0.01)
        assert server.posted.wait(30)
        started = time.monotonic()
        deliverer.stop()
        assert time.monotonic() - started < 5
        assert subscription.position == 0
        assert subscription.dead_letters() == []
        assert deliverer.error is None or deliverer.failures == 0
    finally:
        server.stop()
