"""The protected mapper and the key store: every event class round-trips with its personal
values sealed under their subjects' keys; erased, they read as stable placeholders; the
key tables (memory, SQLite, PostgreSQL) make one key per subject however many writers
ask at once.

The event classes and their strategies are those of test_mapper (found by walking the
aggregates), so a new event class is covered here too.
"""

import json
import threading
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from os import urandom
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import Environment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import Engine
from resilience.adapters.converter import converter
from resilience.adapters.keyring import ERASED, KeyRing
from resilience.adapters.keystore import (
    VERIFIER,
    KeyTable,
    MemoryKeys,
    key_table,
    person_subject,
)
from resilience.adapters.mapper import SEALED, ConverterMapper
from resilience.domain.base import FactAggregate, personal_values
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.values import Actor, Role
from resilience.errors import ErasedPersonError, UnreadableEventError
from test_mapper import EVENT_CLASSES, assert_same, event_strategy

from conftest import pg_schema, require_postgres

STORE_KEY = urandom(32)
AES = {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
       "CIPHER_KEY": b64encode(STORE_KEY).decode()}
_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def protected_mapper(table: KeyTable | None = None) -> ConverterMapper:
    """A mapper as a protected engine has it: the store's cipher and a key ring."""
    mapper = ConverterMapper(transcoder=JSONTranscoder(),
                             cipher=AESCipher(Environment(env=AES)))
    ring = KeyRing(MemoryKeys() if table is None else table, STORE_KEY)
    ring.verify(lambda: None)
    mapper.keys = ring
    return mapper


def stored_json(mapper: ConverterMapper, event: FactAggregate.Event) -> dict[str, Any]:
    """The JSON state a mapper stores for an event, deciphered with the store key."""
    assert mapper.cipher is not None
    state: dict[str, Any] = json.loads(mapper.cipher.decrypt(
        mapper.to_stored_event(event).state))
    return state


NOW = datetime(2022, 2, 15, tzinfo=UTC)


def fact(cls: Any, version: int = 2, actor: str = "office", aggregate: UUID | None = None,
         **fields: Any) -> Any:
    """An event of ``cls`` with the fields every fact has, and ``fields``."""
    return cls(originator_id=aggregate or uuid4(), originator_version=version, timestamp=NOW,
               occurred_at=NOW, actor=Actor(actor, Role.COMMUNITY_STAFF), command_id=None,
               **fields)


def at(state: Any, path: str) -> Any:
    for step in path.split("."):
        state = state[int(step)] if isinstance(state, list) else state[step]
    return state


# Round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_every_event_class_round_trips_through_the_protected_mapper(
        cls: type[FactAggregate.Event]) -> None:
    """Stored and read back, an event equals itself with exact types; at rest (even with
    the store key) each personal value is an envelope naming a key id, not a person."""
    mapper = protected_mapper()

    @_SETTINGS
    @given(event_strategy(cls))
    def check(event: FactAggregate.Event) -> None:
        assert_same(event, mapper.to_domain_event(mapper.to_stored_event(event)))
        state = stored_json(mapper, event)
        found = personal_values(event)
        assert state.get(SEALED, []) == [path for path, _, _ in found]
        for path, subject, _ in found:
            envelope = at(state, path)
            assert set(envelope) <= {"$k", "$v", "$t"}, path
            assert subject is None or subject not in envelope.values()

    check()


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_an_unprotected_mapper_stores_exactly_what_it_always_did(
        cls: type[FactAggregate.Event]) -> None:
    """No key ring: the stored bytes are the compact JSON of the unstructured event, as
    before protection existed (no envelope, no list of sealed paths)."""
    mapper = ConverterMapper(transcoder=JSONTranscoder())

    @_SETTINGS
    @given(event_strategy(cls))
    def check(event: FactAggregate.Event) -> None:
        state = converter.unstructure(event, cls)
        del state["originator_id"], state["originator_version"]
        if getattr(cls, "class_version", 1) > 1:
            state["class_version"] = cls.class_version  # type: ignore[attr-defined]
        expected = json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()
        assert mapper.to_stored_event(event).state == expected

    check()


# Erased subjects ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_erased_personal_values_read_as_stable_placeholders(
        cls: type[FactAggregate.Event]) -> None:
    """Once every subject is erased, the event still loads: texts read "[erased]", an
    identifier reads "[erased <tag>]", the same for the same value; nothing else changes."""

    @_SETTINGS
    @given(event_strategy(cls))
    def check(event: FactAggregate.Event) -> None:
        mapper = protected_mapper()
        stored = mapper.to_stored_event(event)
        again = mapper.to_stored_event(event)  # sealed twice: fresh nonces, same keys
        assert mapper.keys is not None
        for _, subject, _ in personal_values(event):
            if subject is not None:
                mapper.keys.erase(person_subject(subject))
        first, second = mapper.to_domain_event(stored), mapper.to_domain_event(again)
        assert first == second
        for (path, subject, value), (_, _, shown) in zip(
                personal_values(event), personal_values(first), strict=True):
            if subject is None:
                assert shown == value  # an aggregate's own key: never erased
            elif path.rsplit(".", 1)[-1].endswith("_id"):
                assert shown.startswith("[erased ")
                assert shown != value
            else:
                assert shown == ERASED

    check()


def test_one_erased_residents_identifiers_still_match_each_other() -> None:
    """A consent request and its answer for one erased resident read the same resident;
    another erased resident reads differently."""
    mapper = protected_mapper()
    incident = uuid4()
    stored = [mapper.to_stored_event(e) for e in (
        fact(Incident.ConsentRequested, 2, aggregate=incident, resident_id="res-a",
             purpose="enter"),
        fact(Incident.ConsentGranted, 3, aggregate=incident, resident_id="res-a"),
        fact(Incident.ConsentRequested, 4, aggregate=incident, resident_id="res-b",
             purpose="enter"))]
    assert mapper.keys is not None
    for person in ("res-a", "res-b"):
        mapper.keys.erase(person_subject(person))
    a, a_again, b = (mapper.to_domain_event(s) for s in stored)
    assert a.resident_id == a_again.resident_id != b.resident_id  # type: ignore[attr-defined]
    assert "res-" not in a.resident_id + b.resident_id  # type: ignore[attr-defined]


def test_personal_data_about_an_erased_person_is_refused() -> None:
    """Sealing anything under an erased person's key: ErasedPersonError, naming them."""
    mapper = protected_mapper()
    assert mapper.keys is not None
    mapper.keys.erase(person_subject("res-a"))
    event = fact(Community.PersonEnrolled, person_id="res-a", name="A", phone="1", skills=())
    with pytest.raises(ErasedPersonError, match="res-a was erased"):
        mapper.to_stored_event(event)


def test_an_envelope_naming_a_key_the_store_lacks_is_that_events_problem() -> None:
    """A key deleted outside erase_person (its row gone): UnreadableEventError for the
    event (the views quarantine it), not a placeholder."""
    stored = protected_mapper().to_stored_event(fact(Incident.NoteAdded, text="hello"))
    reader = protected_mapper(MemoryKeys())  # the same store key, none of its keys
    with pytest.raises(UnreadableEventError, match="which the key store does not have"):
        reader.to_domain_event(stored)


# The key tables -------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def table_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory:"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keys.db'}"
    else:
        require_postgres()
        with pg_schema() as url:
            yield url


def test_concurrent_writers_make_one_key_per_subject(table_url: str) -> None:
    """Rings on one store (one engine's threads, and another engine) asking at once for the
    keys of the same people get the same key each: one row per person."""
    with Engine(table_url, env=AES, policy=None) as first, \
            Engine(table_url if table_url != "memory:" else "memory:", env=AES,
                   policy=None) as second:
        tables = [first.app.mapper.keys, second.app.mapper.keys]  # type: ignore[attr-defined]
        if table_url == "memory:":
            tables = tables[:1]  # a memory store is its engine's own
        rings = [KeyRing(ring.table, STORE_KEY) for ring in tables for _ in range(4)]
        people = [f"person-{n}" for n in range(20)]
        found: list[list[str]] = [[] for _ in rings]
        start = threading.Barrier(len(rings))

        def claim(index: int) -> None:
            start.wait()
            found[index] = [rings[index].key_for(person_subject(p)).key_id for p in people]

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(rings))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(ids == found[0] for ids in found)
        assert len(set(found[0])) == len(people)
        assert len(tables[0].table.load(None)) == len(people)


def test_an_erased_subject_keeps_a_tombstone_and_no_key(table_url: str) -> None:
    """Erasing deletes the wrapped key but keeps the row (a tombstone), also for a person
    who never had a key; the tombstones only grow."""
    with Engine(table_url, env=AES, policy=None) as engine:
        ring: KeyRing = engine.app.mapper.keys  # type: ignore[attr-defined]
        key_id = ring.key_for(person_subject("res-a")).key_id
        before = ring.table.tombstones()
        ring.erase(person_subject("res-a"))
        ring.erase(person_subject("never-seen"))
        assert ring.table.tombstones() == before + 2
        assert ring.table.load([key_id]) == {key_id: None}
        assert ring.is_erased(person_subject("never-seen"))
        assert ring.key_by_id(key_id) is None
        assert VERIFIER not in ring.table.load(None)
        assert isinstance(key_table(engine.app.recorder), type(ring.table))


def test_keys_are_wrapped_and_subjects_hashed_at_rest(tmp_path: Path) -> None:
    """The SQLite key table holds neither a person's id nor a raw key."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    with Engine(url, env=AES, policy=None) as engine:
        ring: KeyRing = engine.app.mapper.keys  # type: ignore[attr-defined]
        ring.key_for(person_subject("p-3001"))
    rows = sqlite3.connect(tmp_path / "keys.db").execute(
        "SELECT key_id, subject, wrapped FROM resilience_keys").fetchall()
    assert len(rows) == 2  # the verifier and Zhang's key
    for key_id, subject, wrapped in rows:
        assert "zhang" not in subject
        assert "zhang" not in key_id
        assert len(wrapped) > 32  # nonce + sealed key + tag, never the 32 raw bytes alone


@given(st.text(min_size=1, max_size=20))
@settings(max_examples=20, deadline=None)
def test_a_subject_digest_is_stable_and_keyed(person: str) -> None:
    """The table names a subject by an HMAC under a key derived from the store key."""
    ring, other = KeyRing(MemoryKeys(), STORE_KEY), KeyRing(MemoryKeys(), urandom(32))
    subject = person_subject(person)
    assert ring.digest(subject) == KeyRing(MemoryKeys(), STORE_KEY).digest(subject)
    assert ring.digest(subject) != other.digest(subject)
