"""Who may erase a person, or read everything held about them, and what a store that does
not open as it should says (issue 12, part 2; the security review's findings).

The key is the store's: erasing it, or exporting a person, reaches every community whose
facts hold the person, so the actor must be allowed there, in each. Erasure never runs
where it could not be undone cleanly (a batch, an import) or where it would not erase (a
store holding the person's data unsealed). Whatever does not open — a view document, a
wrapped key, an envelope — is a documented error that shows nothing of what was sealed.
"""

import json
import sqlite3
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import Environment

from resilience import Actor, Engine, Location, Role
from resilience.adapters.keyring import ERASED, KeyRing
from resilience.adapters.mapper import SEALED
from resilience.clock import ManualClock
from resilience.errors import (
    ConfigurationError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ProtectedStoreError,
    TamperedStoreError,
    UnreadableEventError,
)
from test_protection import cipher

from conftest import OFFICE, T0

MALLORY = Actor("mallory", Role.COMMUNITY_STAFF)
SECRETS = ("Zhang Chuanlian", "13800000003")


class Store:
    """A protected store under the default policy: Donghu (founded by the office, Zhang
    enrolled, an incident Zhang detected) and, when asked, Xiangyang, founded by another
    office, where Zhang placed nothing but was enrolled too."""

    def __init__(self, url: str = "memory:", env: dict[str, str] | None = None) -> None:
        self.env = env or cipher()
        self.engine = Engine(url, env=self.env, clock=ManualClock(T0))
        communities = self.engine.communities
        self.donghu = communities.register(district="Taishan", subdistrict="Daimiao",
                                           name="Donghu", actor=OFFICE).aggregate_id
        communities.add_grid(self.donghu, "3", actor=OFFICE)
        communities.enrol(self.donghu, "zhang", *SECRETS, actor=OFFICE)
        communities.assign_role(self.donghu, "zhang", Role.GRID_LEADER, scope="3",
                                actor=OFFICE)
        self.fire = self.engine.incidents.detect(
            community=self.donghu, incident_type="fire", severity="high",
            location=Location(grid="3"), description="Zhang Chuanlian smells smoke",
            actor=Actor("zhang", Role.GRID_LEADER)).aggregate_id

    def xiangyang(self) -> UUID:
        """A second community holding Zhang, founded by its own office."""
        xy = Actor("xy-office", Role.COMMUNITY_STAFF)
        community = self.engine.communities.register(
            district="Taishan", subdistrict="Daimiao", name="Xiangyang",
            actor=xy).aggregate_id
        self.engine.communities.enrol(community, "zhang", "Zhang C.", actor=xy)
        return community

    def name(self) -> str:
        return self.engine.communities.get(self.donghu).people["zhang"].name

    def versions(self) -> list[int]:
        return [self.engine.communities.get(self.donghu).version,
                self.engine.incidents.get(self.fire).version]


@pytest.fixture
def store() -> Iterator[Store]:
    made = Store()
    yield made
    made.engine.close()


def erase(engine: Engine, community: UUID, actor: Actor = OFFICE,
          person: str = "zhang") -> Any:
    return engine.erase_person(person, community=community, actor=actor, reason="request")


# Who may erase -----------------------------------------------------------------------------


def test_staff_of_another_community_may_not_erase_a_person_of_this_one(store: Store) -> None:
    """The review's reproduction: a stranger registers her own community (becoming its
    founder, so its staff) and erases Donghu's Zhang through it. Her community holds no
    fact of Zhang: nothing to erase there. She enrols a "zhang" of her own: refused, the
    refusal naming no other community (she may not know of Donghu); nothing recorded in
    either community, and Zhang's key stays."""
    mine = store.engine.communities.register(district="x", subdistrict="y", name="Mine",
                                             actor=MALLORY).aggregate_id
    before = store.versions()
    with pytest.raises(NotFoundError, match="no fact of this community holds zhang"):
        erase(store.engine, mine, MALLORY)
    store.engine.communities.enrol(mine, "zhang", "A namesake", actor=MALLORY)
    before = store.versions()
    with pytest.raises(PermissionDeniedError, match="held by another community too") as refused:
        erase(store.engine, mine, MALLORY)
    assert "Donghu" not in str(refused.value)
    assert str(store.donghu) not in str(refused.value)
    assert store.versions() == before
    assert store.name() == SECRETS[0]


def test_erasure_needs_staff_of_every_community_whose_facts_hold_the_person(
        store: Store) -> None:
    """Zhang is in Donghu and Xiangyang: Donghu's office alone is refused (Xiangyang
    refuses); staff of both may."""
    xiangyang = store.xiangyang()
    with pytest.raises(PermissionDeniedError, match="held by another community too") as no:
        erase(store.engine, store.donghu)
    assert "Xiangyang" not in str(no.value)
    assert store.name() == SECRETS[0]
    both = Actor("xy-office", Role.COMMUNITY_STAFF)
    store.engine.communities.enrol(store.donghu, "xy-office", "Xiangyang office", actor=OFFICE)
    store.engine.communities.assign_role(store.donghu, "xy-office", Role.COMMUNITY_STAFF,
                                         actor=OFFICE)
    erase(store.engine, xiangyang, both)
    assert store.name() == ERASED
    assert "zhang" in store.engine.communities.get(xiangyang).erased


def test_a_person_no_fact_holds_is_not_found_and_the_erasure_is_recorded_where_they_are(
        store: Store) -> None:
    """Nobody to erase in the community named (after the actor is allowed there):
    NotFoundError, whether other communities hold the person or not."""
    with pytest.raises(NotFoundError, match="no fact of this community holds nobody-here"):
        erase(store.engine, store.donghu, person="nobody-here")
    other = store.engine.communities.register(district="x", subdistrict="y", name="Other",
                                              actor=OFFICE).aggregate_id
    with pytest.raises(NotFoundError, match="no fact of this community holds zhang"):
        erase(store.engine, other)
    assert store.engine.communities.get(other).version == 1
    assert store.name() == SECRETS[0]


def test_a_refused_caller_learns_nothing_of_the_named_communitys_state(store: Store) -> None:
    """Authorization comes before the named community is read: a stranger naming a
    community that does not exist, or erasing someone already erased, is refused the same
    way (PermissionDeniedError), not told what is there."""
    erase(store.engine, store.donghu)
    with pytest.raises(PermissionDeniedError, match="mallory is not community staff in Donghu"):
        erase(store.engine, store.donghu, MALLORY)
    for person in ("zhang", "nobody-here"):  # erased, or never held: refused alike
        with pytest.raises(PermissionDeniedError, match=f"may not erase {person} in community"):
            erase(store.engine, UUID(int=7), MALLORY, person=person)


# Where erasure does not run ------------------------------------------------------------------


def test_erasure_is_refused_inside_a_batch_and_deletes_no_key(store: Store) -> None:
    """The review's reproduction: a batch that erases and then rolls back must not leave
    the key deleted. Refused at once, InvalidTransitionError; nothing recorded."""
    before = store.versions()

    def a_batch_that_fails_later() -> None:
        with store.engine.batch():
            with pytest.raises(InvalidTransitionError, match=r"inside engine\.batch"):
                erase(store.engine, store.donghu)
            raise RuntimeError("the app fails later in the batch")

    with pytest.raises(RuntimeError):
        a_batch_that_fails_later()
    assert store.versions() == before
    assert store.name() == SECRETS[0]
    assert not store.engine.app.mapper.keys.is_erased("person:zhang")  # type: ignore[attr-defined]


def test_erasure_and_export_are_refused_when_importing(store: Store) -> None:
    """An importer stands in for nobody's rights: PermissionDeniedError, nothing recorded."""
    importing = store.engine.importing(Actor("anyone", Role.SYSTEM))
    before = store.versions()
    with pytest.raises(PermissionDeniedError, match=r"people\.erase is never imported"):
        importing.erase_person("zhang", community=store.donghu,
                               actor=Actor("anyone", Role.RESIDENT), reason="r")
    with pytest.raises(PermissionDeniedError, match=r"people\.export is never imported"):
        importing.export_person("zhang", actor=Actor("anyone", Role.RESIDENT))
    assert store.versions() == before
    assert store.name() == SECRETS[0]


def _old_store(path: Path) -> tuple[str, dict[str, str], UUID]:
    """A store an earlier version encrypted (whole-event cipher, no per-person envelopes):
    Zhang enrolled in Donghu, with a fire whose description is Zhang's."""
    with Engine("memory:", policy=None, clock=ManualClock(T0)) as plain:
        community = plain.communities.register(district="Taishan", subdistrict="Daimiao",
                                               name="Donghu", actor=OFFICE).aggregate_id
        plain.communities.enrol(community, "zhang", *SECRETS, actor=OFFICE)
        notifications = plain.app.recorder.select_notifications(1, 100)
    env = cipher()
    aes = AESCipher(Environment(env=env))
    url = f"sqlite:///{path}"
    with Engine(url, policy=None) as writer:  # no cipher: the bytes as the old version wrote
        writer.app.recorder.insert_events([
            StoredEvent(originator_id=n.originator_id, originator_version=n.originator_version,
                        topic=n.topic, state=aes.encrypt(n.state)) for n in notifications])
    return url, env, community


def test_erasure_is_refused_on_a_store_holding_the_persons_data_unsealed(
        tmp_path: Path) -> None:
    """The review's reproduction: deleting a key erases nothing an earlier version stored
    under the store key alone. ConfigurationError naming how many facts, nothing recorded,
    no tombstone; a stranger is refused first, told nothing of that."""
    url, env, donghu = _old_store(tmp_path / "old.db")
    with Engine(url, env=env) as engine:
        with pytest.raises(PermissionDeniedError):
            erase(engine, donghu, MALLORY)
        with pytest.raises(ConfigurationError, match=r"1 stored fact\(s\) hold personal data of "
                                                     r"zhang unsealed"):
            erase(engine, donghu)
        community = engine.communities.get(donghu)
        assert community.version == 2
        assert community.erased == {}
        assert community.people["zhang"].name == SECRETS[0]
        assert not engine.app.mapper.keys.is_erased("person:zhang")  # type: ignore[attr-defined]


# Who may export ------------------------------------------------------------------------------


def test_an_export_is_for_the_person_and_for_staff_of_every_community_holding_them(
        store: Store) -> None:
    """Zhang, as resident, gets their own; Donghu's office theirs while Zhang is only in
    Donghu; a stranger, a squad member, or Donghu's office once Xiangyang holds Zhang too
    are refused with one message naming no community, as is anyone asking about a person
    nobody holds (so a refusal never tells whether the person is there)."""
    own = store.engine.export_person("zhang", actor=Actor("zhang", Role.RESIDENT))
    assert own["communities"][0]["enrolment"]["name"] == SECRETS[0]
    assert store.engine.export_person("zhang", actor=OFFICE)["facts"] == own["facts"]
    messages = set()
    for actor in (MALLORY, Actor("p-3102", Role.SQUAD_MEMBER), Actor("li", Role.RESIDENT)):
        for person in ("zhang", "nobody-here"):
            with pytest.raises(PermissionDeniedError,
                               match=f"may not read what is held about {person}") as refused:
                store.engine.export_person(person, actor=actor)
            assert "Donghu" not in str(refused.value)
            messages.add(str(refused.value).replace("nobody-here", "zhang"))
    assert len(messages) == 3  # one per actor: the same whether the person is held or not
    nothing = store.engine.export_person("nobody-here", actor=Actor("nobody-here", Role.RESIDENT))
    assert (nothing["communities"], nothing["facts"], nothing["unreadable"]) == ([], [], [])
    store.xiangyang()
    with pytest.raises(PermissionDeniedError, match="may not read what is held about zhang"):
        store.engine.export_person("zhang", actor=OFFICE)
    both = store.engine.export_person("zhang", actor=Actor("zhang", Role.RESIDENT))
    assert [c["community"] for c in both["communities"]] == ["Donghu", "Xiangyang"]


# What does not open ---------------------------------------------------------------------------


def _db(url: str) -> sqlite3.Connection:
    return sqlite3.connect(url.removeprefix("sqlite:///"))


def test_a_tampered_or_swapped_view_document_is_a_tampered_store(tmp_path: Path) -> None:
    """The review's reproduction: a view row replaced by another row's document, or with
    altered bytes. TamperedStoreError from the timeline, naming the document and showing
    nothing of it; a rebuild replaces it."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    made = Store(url)
    engine = made.engine
    timeline = engine.timeline(made.fire)
    view = engine.views.stored_names["timelines"]
    with _db(url) as db:
        db.execute("UPDATE resilience_views SET doc = (SELECT doc FROM resilience_views "
                   "WHERE view = ? AND key != ? LIMIT 1) WHERE view = ? AND key = ?",
                   (view, str(made.fire), view, str(made.fire)))
    for _ in range(2):  # swapped, then also altered
        with pytest.raises(TamperedStoreError, match=f"document {made.fire} of {view}") as err:
            engine.timeline(made.fire)
        assert not any(secret in str(err.value) for secret in SECRETS)
        with _db(url) as db:
            db.execute("UPDATE resilience_views SET doc = 'A' || substr(doc, 2) "
                       "WHERE view = ? AND key = ?", (view, str(made.fire)))
    engine.views.rebuild()
    assert engine.timeline(made.fire) == timeline
    engine.close()


def test_an_altered_wrapped_key_is_a_tampered_store(tmp_path: Path) -> None:
    """A subject's wrapped key changed in the key table (the store key opens the rest):
    TamperedStoreError when a fact sealed under it is read, nothing of it shown."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    made = Store(url)
    digest = made.engine.app.mapper.keys.digest("person:zhang")  # type: ignore[attr-defined]
    made.engine.close()
    with _db(url) as db:
        db.execute("UPDATE resilience_keys SET wrapped = randomblob(60) WHERE subject = ?",
                   (digest,))
    with Engine(url, env=made.env, policy=None) as engine, \
            pytest.raises(TamperedStoreError, match="key table was altered"):
        engine.communities.get(made.donghu)


def _swap_sealed(stored: StoredEvent, env: dict[str, str],
                 change: Any) -> StoredEvent:
    """``stored`` deciphered, its state changed by ``change``, enciphered again."""
    aes = AESCipher(Environment(env=env))
    state = json.loads(aes.decrypt(stored.state))
    change(state)
    return StoredEvent(originator_id=stored.originator_id,
                       originator_version=stored.originator_version, topic=stored.topic,
                       state=aes.encrypt(json.dumps(state).encode()))


def test_an_envelope_moved_to_another_field_or_altered_makes_its_event_unreadable(
        store: Store) -> None:
    """Envelopes are bound to their key id and path: Zhang's phone moved into their name
    does not open, nor an altered one. UnreadableEventError naming the path, showing
    nothing; the untouched event still reads."""
    engine, env = store.engine, store.env
    enrolled = next(s for s in engine.stored_events(store.donghu) if "Enrolled" in s.topic)
    mapper = engine.app.mapper

    def moved(state: dict[str, Any]) -> None:
        state["name"] = state["phone"]

    def altered(state: dict[str, Any]) -> None:
        state["phone"]["$v"] = state["phone"]["$v"][:-4] + "AAAA"

    assert mapper.to_domain_event(enrolled).name == SECRETS[0]  # type: ignore[attr-defined]
    for change, path in ((moved, "name"), (altered, "phone")):
        with pytest.raises(UnreadableEventError, match=f"sealed at {path} does not open") as err:
            mapper.to_domain_event(_swap_sealed(enrolled, env, change))
        assert not any(secret in str(err.value) for secret in SECRETS)


def test_envelopes_sealed_before_they_were_bound_to_their_path_still_open(
        store: Store) -> None:
    """Development builds bound an envelope to its key id alone: such an envelope opens."""
    engine = store.engine
    keys: KeyRing = engine.app.mapper.keys  # type: ignore[attr-defined]
    key = keys.key_for("person:zhang")
    from resilience.adapters.keyring import seal

    enrolled = next(s for s in engine.stored_events(store.donghu) if "Enrolled" in s.topic)

    def unbound(state: dict[str, Any]) -> None:
        assert "name" in state[SEALED]
        state["name"]["$v"] = b64encode(seal(key.aead, b"Zhang (old form)", key.bound)).decode()

    event = engine.app.mapper.to_domain_event(_swap_sealed(enrolled, store.env, unbound))
    assert event.name == "Zhang (old form)"  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["memory:", "sqlite"])
def test_a_repeated_erasure_records_nothing_and_still_checks_its_arguments(
        url: str, tmp_path: Path) -> None:
    """Erasing someone erased before records nothing (on every store, the memory one too:
    its hash chain takes a save with nothing new), and a reason that would be refused the
    first time is refused the second."""
    store = Store(f"sqlite:///{tmp_path / 'r.db'}" if url == "sqlite" else url)
    engine = store.engine
    first = engine.erase_person("zhang", community=store.donghu, actor=OFFICE, reason="asked")
    again = engine.erase_person("zhang", community=store.donghu, actor=OFFICE, reason="asked")
    assert again.versions == first.versions
    assert len(engine.events(store.donghu)) == first.last_version
    for bad in (None, 5, "\ud800", ""):
        with pytest.raises(InvalidInputError):
            engine.erase_person("zhang", community=store.donghu, actor=OFFICE, reason=bad)  # type: ignore[arg-type]
    assert len(engine.events(store.donghu)) == first.last_version


def test_a_protected_store_whose_verifier_row_was_deleted_still_refuses_no_key(
        tmp_path: Path) -> None:
    """Deleting the key table's verifier row (database access, no key) does not let an
    engine without the key open the store and write plain text beside the sealed."""
    url = f"sqlite:///{tmp_path / 'v.db'}"
    Store(url).engine.close()
    with sqlite3.connect(tmp_path / "v.db") as db:
        assert db.execute("DELETE FROM resilience_keys WHERE key_id = 'verifier'").rowcount == 1
    with pytest.raises(ProtectedStoreError):
        Engine(url)


def test_an_erased_key_leaves_no_bytes_in_the_sqlite_files(tmp_path: Path) -> None:
    """The deleted key is overwritten in the file and checkpointed out of the write-ahead
    log as the erasure ends, so a copy of the files taken right after holds none of it."""
    path = tmp_path / "e.db"
    store = Store(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        wrapped = {bytes(row[0]) for row in db.execute(
            "SELECT wrapped FROM resilience_keys WHERE wrapped IS NOT NULL "
            "AND key_id != 'verifier'")}
    store.engine.erase_person("zhang", community=store.donghu, actor=OFFICE, reason="asked")
    files = [p for p in tmp_path.iterdir() if p.name.startswith("e.db")]
    with sqlite3.connect(path) as db:
        left = {bytes(row[0]) for row in db.execute(
            "SELECT wrapped FROM resilience_keys WHERE wrapped IS NOT NULL")}
    gone = wrapped - left
    assert gone, "the erasure deleted no key"
    for file in files:
        content = file.read_bytes()
        assert not any(key in content for key in gone), file.name
