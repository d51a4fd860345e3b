"""Personal data protected at rest, and erasable (issue 12, part 2), through the engine.

A protected store (an engine with CIPHER_TOPIC and CIPHER_KEY) reads back what it
recorded; holds no personal data in plain text in its events, views or key table; refuses
an engine without its key or with another before reading anything; and erases a person
by deleting their key, after which every report computes the same numbers, the views are
rebuilt without anything of theirs, and new personal data about them is refused. An
access request exports everything held about one person.
"""

import json
from base64 import b64encode
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from os import urandom
from pathlib import Path
from typing import Any
from uuid import UUID

import attrs
import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import Environment

import resilience.adapters.keyring
from resilience import Actor, Engine, Location, Role
from resilience.adapters.keyring import ERASED, KeyRing
from resilience.adapters.viewstore import ViewRow, open_view_store
from resilience.cli import main
from resilience.domain.organisation import Community
from resilience.domain.patrol import patrol_plan_id
from resilience.domain.references import book_id
from resilience.errors import (
    ConfigurationError,
    ErasedPersonError,
    PermissionDeniedError,
    ProtectedStoreError,
)
from resilience.metrics import BUILT_IN
from resilience.scenario import ReplayResult, replay_file
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS
from resilience.services.people import WITHHELD

from conftest import OFFICE

AES = "eventsourcing.cryptography:AESCipher"
XY_OFFICE = Actor("xy-office", Role.COMMUNITY_STAFF)
SECRETS = ("Zhang Chuanlian", "13800000003", "Thick smoke in the basement",
           "knee rehabilitation", "hh-2008", "b30-u1-storage-owner",
           "break the storage-room lock", "old furniture and a mattress piled",
           "b30-basement-2022-02-18.jpg")
"""Personal data of the two scenarios: names, phones, free text, households, residents,
a hazard's description and photo."""
ZHANG = ("Zhang Chuanlian", "13800000003")


def cipher(key: str | None = None) -> dict[str, str]:
    return {"CIPHER_TOPIC": AES, "CIPHER_KEY": key or b64encode(urandom(32)).decode()}


@pytest.fixture
def env() -> dict[str, str]:
    """The settings of a protected store, with a key of its own."""
    return cipher()


class Scenarios:
    """Both shipped scenarios replayed into one store."""

    def __init__(self, engine: Engine) -> None:
        self.donghu: ReplayResult = replay_file(engine, DONGHU_FIRE)
        self.xiangyang: ReplayResult = replay_file(engine, XIANGYANG_ORDERS)
        self.fire = self.donghu.incidents["donghu-fire"]

    def aggregates(self) -> list[UUID]:
        return [self.donghu.community_id, self.xiangyang.community_id,
                *self.donghu.incidents.values(), *self.xiangyang.orders.values(),
                *self.donghu.improvements.values(), *self.donghu.hazards.values(),
                *self.donghu.patrols.values(), patrol_plan_id(self.donghu.community_id, "3"),
                # the reference books those cases were numbered in (all of 2022)
                book_id(self.donghu.community_id, "incident", 2022),
                book_id(self.donghu.community_id, "hazard", 2022),
                book_id(self.xiangyang.community_id, "order", 2022)]


def protected(url: str, env: dict[str, str], **kwargs: Any) -> Engine:
    return Engine(url, env=env, policy=None, **kwargs)


# Reading back ------------------------------------------------------------------------------


def test_a_protected_store_reads_back_what_it_recorded(store_url: str,
                                                      env: dict[str, str]) -> None:
    """Facts, timelines and metrics of a protected store equal an unprotected store's,
    and a protected store reopened (views as stored) reads the same."""
    with Engine("memory:", policy=None) as plain:
        expected = Scenarios(plain)
        facts = {a: plain.events(a) for a in expected.aggregates()}
        timeline = plain.timeline(expected.fire)
        figures = plain.compare([m.name for m in BUILT_IN])
    with protected(store_url, env) as engine:
        got = Scenarios(engine)
        assert got.aggregates() == expected.aggregates()
        assert {a: engine.events(a) for a in got.aggregates()} == facts
        assert engine.timeline(got.fire) == timeline
        assert engine.compare([m.name for m in BUILT_IN]) == figures
    if store_url != "memory:":
        with protected(store_url, env, fresh_views=False) as reopened:
            assert reopened.timeline(got.fire) == timeline


def _at_rest(url: str, tmp_path: Path) -> bytes:
    """Every byte the store holds: the SQLite files, or every row of the PostgreSQL schema."""
    if url.startswith("sqlite"):
        return b"".join(p.read_bytes() for p in tmp_path.glob("events.db*"))
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(url.split("?", 1)[0]) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
        assert {"resilience_views", "resilience_keys"} <= set(tables)
        return b"\n".join(
            str(row).encode("utf-8") for table in tables
            for row in conn.execute(f'SELECT t::text FROM {schema}."{table}" t'))


def test_no_personal_data_is_kept_in_plain_text(shared_store_url: str, env: dict[str, str],
                                                tmp_path: Path) -> None:
    """Not in the events, the views (the cases included), the key table: nowhere in the
    store's bytes; and the events deciphered with the store key hold envelopes, not texts."""
    with protected(shared_store_url, env) as engine:
        scenarios = Scenarios(engine)
        engine.compare(["detection_to_contained"])  # the views caught up
        assert engine.views.documents("cases")
        aes = AESCipher(Environment(env=env))
        deciphered = b"".join(aes.decrypt(stored.state) for aggregate in scenarios.aggregates()
                              for stored in engine.stored_events(aggregate))
    assert b'"$sealed"' in deciphered
    raw = _at_rest(shared_store_url, tmp_path)
    for secret in SECRETS:
        assert secret.encode("utf-8") not in raw, secret
        assert secret.encode("utf-8") not in deciphered, secret


def test_an_engine_without_the_key_or_with_another_reads_nothing(
        shared_store_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """ProtectedStoreError (a ConfigurationError) at opening, before the views are opened
    or an event read: with no key, another key, fresh views or views as stored; the CLI
    says so in a line."""
    with protected(shared_store_url, env) as engine:
        fire = Scenarios(engine).fire

    def no_views(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the views were opened")

    monkeypatch.setattr("resilience.engine.Views", no_views)
    for settings in ({}, cipher()):
        for fresh in (True, False):
            with pytest.raises(ProtectedStoreError, match="nothing was read"):
                Engine(shared_store_url, env=settings, fresh_views=fresh)
    monkeypatch.undo()
    assert main(["timeline", str(fire), "--db", shared_store_url]) == 2
    assert "ProtectedStoreError" in capsys.readouterr().err
    assert issubclass(ProtectedStoreError, ConfigurationError)


def test_a_store_encrypted_before_protection_existed_is_checked_on_its_first_event(
        tmp_path: Path) -> None:
    """A store an earlier version encrypted (no key table, no verifier): the right key opens
    it and reads every fact (its values were never sealed); another key is refused."""
    with Engine("memory:", policy=None) as plain:
        fire = Scenarios(plain).fire
        notifications = plain.app.recorder.select_notifications(1, 1000)
        timeline = plain.timeline(fire)
    key = cipher()
    aes = AESCipher(Environment(env=key))
    old = [StoredEvent(originator_id=n.originator_id, originator_version=n.originator_version,
                       topic=n.topic, state=aes.encrypt(n.state)) for n in notifications]
    urls = [f"sqlite:///{tmp_path / name}" for name in ("right.db", "wrong.db")]
    for url in urls:
        with Engine(url, policy=None) as writer:  # no cipher: the events as an old version wrote
            writer.app.recorder.insert_events(old)
    with pytest.raises(ProtectedStoreError, match="do not open with this CIPHER_KEY"):
        protected(urls[1], cipher())
    with protected(urls[0], key) as engine:
        assert engine.timeline(fire) == timeline
    with pytest.raises(ProtectedStoreError, match="not the key"):
        protected(urls[0], cipher())


def test_plain_views_left_by_an_earlier_version_are_deleted_when_protection_opens(
        shared_store_url: str, env: dict[str, str]) -> None:
    """An earlier version kept plain views beside encrypted events: the first protected
    opening deletes them (documents and position), and keeps its sealed views."""
    old = "resilience/views/v2"
    with protected(shared_store_url, env) as engine:
        fire = Scenarios(engine).fire
        timeline = engine.timeline(fire)
        plain = open_view_store(engine.app.recorder, old)
        plain.commit([ViewRow("timelines/v2", "x", "incident", None, None,
                              '{"who": "Zhang Chuanlian"}')], expected=plain.mark(), position=7)
        assert plain.fetch("timelines/v2", ["x"])
    with protected(shared_store_url, env, fresh_views=False) as engine:
        assert engine.timeline(fire) == timeline
        plain = open_view_store(engine.app.recorder, old)
        assert plain.fetch("timelines/v2", ["x"]) == {}
        assert plain.mark() == (0, 0)


# Erasure -----------------------------------------------------------------------------------


def _shape(value: Any) -> Any:
    """A report with every text blanked: its numbers, times, flags, grades and structure
    (the fields its equality compares: not the views' position it was read at)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return ""
    if isinstance(value, int | float | bool | timedelta | datetime | date | UUID) or value is None:
        return value
    if attrs.has(type(value)):
        return (type(value).__name__, *(_shape(getattr(value, f.name))
                                        for f in attrs.fields(type(value)) if f.eq))
    if isinstance(value, dict):
        return [(_shape(k), _shape(v)) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [_shape(v) for v in value]
    return repr(value)


AS_OF = datetime(2022, 4, 1, tzinfo=UTC)
"""The moment the peacetime figures (coverage, overdue hazards) are asked at: fixed, so
two readings compare."""


def _reports(engine: Engine, s: Scenarios) -> dict[str, Any]:
    names = [m.name for m in BUILT_IN]
    return {
        "compare": engine.compare(names), "counts": engine.counts(),
        "service_kpis": engine.service_kpis(), "rates": engine.rates(),
        "quality": _shape(engine.data_quality()),
        "scorecards": [engine.scorecard(c, as_of=AS_OF) for c in (s.donghu.community_id,
                                                                 s.xiangyang.community_id)],
        "hazards": engine.reports.hazards(as_of=AS_OF),
        "coverage": engine.reports.patrol_coverage(s.donghu.community_id, as_of=AS_OF),
        "league": engine.league_table(min_sample=1),
        "timeline": [(e.version, e.action, e.occurred_at, e.cycle)
                     for e in engine.timeline(s.fire).entries],
        "orders": [_shape(engine.timeline(o)) for o in s.xiangyang.orders.values()],
        "review": _shape(engine.review(s.fire).to_dict()),
    }


def _erase_three(engine: Engine, s: Scenarios) -> None:
    """A grid leader, a resident asked for consent, a resident who ordered rehab care."""
    for person, community, actor in (
            ("p-3001", s.donghu.community_id, OFFICE),
            ("b30-u1-storage-owner", s.donghu.community_id, OFFICE),
            ("p-5008", s.xiangyang.community_id, XY_OFFICE)):
        engine.erase_person(person, community=community, actor=actor,
                            reason="the person's request (PIPL art. 47)")


def test_after_an_erasure_every_report_computes_the_same_numbers(
        store_url: str, env: dict[str, str]) -> None:
    """Metrics, counts, rates, data quality, scorecards, league, timelines and the review:
    the same figures, facts, times and grades; only texts of the erased changed."""
    with protected(store_url, env) as engine:
        s = Scenarios(engine)
        before = _reports(engine, s)
        _erase_three(engine, s)
        after = _reports(engine, s)
        for name in before:
            assert after[name] == before[name], name
        people = engine.communities.get(s.donghu.community_id).people
        assert (people["p-3001"].name, people["p-3001"].phone) == (
            ERASED, ERASED)
        details = " ".join(e.details for e in engine.timeline(s.fire).entries)
        assert "[erased " in details  # the resident asked, one placeholder for request and grant
        assert "b30-u1-storage-owner" not in details
        consent = [e.details for e in engine.timeline(s.fire).entries
                   if e.action in ("ConsentRequested", "ConsentGranted")]
        assert len({d.split("[erased ")[1].split("]")[0] for d in consent}) == 1


def _everything_readable(engine: Engine, s: Scenarios) -> str:
    """Every view document (opened) and every fact (decoded), as text; but the erasures
    themselves, which name whom they erased (a pseudonym) and nothing else of theirs."""
    docs = json.dumps({view: engine.views.documents(view) for view in engine.views.stored_names},
                      ensure_ascii=False, default=str)
    erasures = [e for e in engine.events(s.donghu.community_id) + engine.events(
        s.xiangyang.community_id) if isinstance(e, Community.PersonErased)]
    for erasure in erasures:
        docs = docs.replace(erasure.describe(), "")
    facts = [repr(e) for a in s.aggregates() for e in engine.events(a) if e not in erasures]
    return docs + "".join(facts)


def test_rebuilt_views_and_the_facts_hold_nothing_of_an_erased_person(
        store_url: str, env: dict[str, str]) -> None:
    """Before: the views and facts hold Zhang's name and phone (the control). After the
    erasure: nothing, in any view document or any fact read back; their id stays."""
    with protected(store_url, env) as engine:
        s = Scenarios(engine)
        engine.compare(["detection_to_contained"])
        before = _everything_readable(engine, s)
        assert all(secret in before for secret in ZHANG)
        _erase_three(engine, s)
        readable = _everything_readable(engine, s)
        # The storage-room owner: asked for consent (their id is personal data there), and
        # since the lock repair an actor too (who placed and rated it), whose id stays.
        owner = ("consent requested from b30-u1-storage-owner",
                 "b30-u1-storage-owner granted consent", "household b30-u1-storage-owner",
                 "lock works")
        assert all(secret in before for secret in owner)
        for secret in (*ZHANG, "knee rehabilitation", "hh-2008", *owner):
            assert secret not in readable, secret
        assert "p-3001" in readable  # a pseudonym: the facts still say who acted
        assert engine.views.quarantined() == []


def test_new_personal_data_about_an_erased_person_is_refused(
        store_url: str, env: dict[str, str]) -> None:
    """Enrolling them, asking their consent, an order they place: ErasedPersonError and
    nothing recorded. What they do without personal data still records."""
    with protected(store_url, env) as engine:
        s = Scenarios(engine)
        _erase_three(engine, s)
        donghu = s.donghu.community_id
        other = engine.communities.register(district="d", subdistrict="s", name="Other",
                                            actor=OFFICE).aggregate_id
        with pytest.raises(ErasedPersonError, match="p-3001 was erased"):
            engine.communities.enrol(other, "p-3001", "Zhang", actor=OFFICE)
        assert engine.communities.get(other).version == 1
        incident = engine.incidents.detect(
            community=donghu, incident_type="gas", severity="low",
            location=Location(grid="3"), description="smell of gas",
            actor=Actor("p-3102", Role.SQUAD_MEMBER)).aggregate_id
        with pytest.raises(ErasedPersonError, match="b30-u1-storage-owner"):
            engine.incidents.request_consent(incident, "b30-u1-storage-owner", "enter",
                                             actor=Actor("p-3102", Role.SQUAD_MEMBER))
        assert engine.incidents.get(incident).version == 1
        engine.incidents.acknowledge(incident, actor=Actor("p-3001", Role.GRID_LEADER))
        with pytest.raises(ErasedPersonError, match="p-3001"):
            engine.incidents.add_note(incident, "on my way",
                                      actor=Actor("p-3001", Role.GRID_LEADER))
        assert engine.incidents.get(incident).version == 2


def test_erasure_needs_a_protected_store() -> None:
    """Without protection the data is in the events in plain text: ConfigurationError."""
    with Engine("memory:", policy=None) as engine:
        s = Scenarios(engine)
        with pytest.raises(ConfigurationError, match="needs a protected store"):
            engine.erase_person("p-3001", community=s.donghu.community_id,
                                actor=OFFICE, reason="request")


def test_only_community_staff_may_erase_and_never_by_override(
        tmp_path: Path, env: dict[str, str]) -> None:
    """Under the default policy a squad member is refused, with or without an override;
    nothing is recorded and the key stays. Community staff may."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with protected(url, env) as importer:
        s = Scenarios(importer)
    with Engine(url, env=env) as engine:
        donghu = s.donghu.community_id
        version = engine.communities.get(donghu).version
        for actor in (Actor("p-3102", Role.SQUAD_MEMBER),
                      Actor("p-3102", Role.SQUAD_MEMBER, override="she asked me")):
            with pytest.raises(PermissionDeniedError):
                engine.erase_person("p-3001", community=donghu, actor=actor,
                                    reason="request")
        community = engine.communities.get(donghu)
        assert community.version == version
        assert community.people["p-3001"].name == "Zhang Chuanlian"
        engine.erase_person("p-3001", community=donghu, actor=OFFICE, reason="request")
        assert engine.communities.get(donghu).people["p-3001"].name == ERASED


def test_an_erasure_interrupted_or_repeated_finishes_and_records_once(
        tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped after recording the fact (the key not yet deleted): the next run
    deletes the key and records nothing new; a third run changes nothing."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with protected(url, env) as engine:
        s = Scenarios(engine)
        donghu = s.donghu.community_id

        def crash(self: KeyRing, subject: str) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(KeyRing, "erase", crash)
        with pytest.raises(KeyboardInterrupt):
            engine.erase_person("p-3001", community=donghu, actor=OFFICE,
                                reason="request")
        monkeypatch.undo()
        community = engine.communities.get(donghu)
        assert "p-3001" in community.erased
        assert community.people["p-3001"].name == "Zhang Chuanlian"  # key still there
        receipts = [engine.erase_person("p-3001", community=donghu, actor=OFFICE,
                                        reason="request") for _ in range(2)]
        assert receipts[0] == receipts[1]
        assert receipts[0].first_version == community.erased["p-3001"]
        after = engine.communities.get(donghu)
        assert after.version == community.version
        assert after.people["p-3001"].name == ERASED


def test_an_erasure_in_another_process_reaches_every_reader(
        shared_store_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that read Zhang's name (and holds the key in memory) stops reading it once
    another engine erased them: its views at their next page, its facts within FRESH_FOR."""
    monkeypatch.setattr(resilience.adapters.keyring, "FRESH_FOR", 0.0)
    with protected(shared_store_url, env) as writer, \
            protected(shared_store_url, env) as reader:
        s = Scenarios(writer)
        donghu = s.donghu.community_id
        assert reader.communities.get(donghu).people["p-3001"].name == ZHANG[0]
        writer.erase_person("p-3001", community=donghu, actor=OFFICE,
                            reason="request")
        assert reader.communities.get(donghu).people["p-3001"].name == ERASED
        reader.views.rebuild()
        assert ZHANG[0] not in _everything_readable(reader, s)


def test_a_follower_keeps_sealed_views_up_to_date(shared_store_url: str,
                                                 env: dict[str, str]) -> None:
    """An app reading views as stored, fed by a follower (as ``project --follow``), reads
    the same timeline as the writer."""
    with protected(shared_store_url, env) as writer, \
            protected(shared_store_url, env, fresh_views=False) as reader, \
            reader.views.follow(0.01):
        s = Scenarios(writer)
        reader.views.wait(timeout=30)
        assert reader.timeline(s.fire) == writer.timeline(s.fire)


# Access requests ---------------------------------------------------------------------------


def test_an_export_holds_everything_about_a_person_and_nobody_elses_data(
        store_url: str, env: dict[str, str]) -> None:
    """Their enrolment and roles, the facts they recorded, that hold their data or name
    them; other people's personal data in those facts withheld; JSON all the way."""
    with protected(store_url, env) as engine:
        s = Scenarios(engine)
        zhang = engine.export_person("p-3001", actor=OFFICE)
        wang = engine.export_person("p-3102", actor=OFFICE)
    json.dumps(zhang)
    assert zhang["person_id"] == "p-3001"
    [donghu] = zhang["communities"]
    assert donghu["enrolment"]["name"] == "Zhang Chuanlian"
    assert donghu["enrolment"]["phone"] == "13800000003"
    assert {(r["role"], r["scope"]) for r in donghu["roles"]} == {("grid_leader", "3")}
    assert donghu["erased_at"] is None
    facts = {f["fact"]: f for f in zhang["facts"]}
    assert facts["PersonEnrolled"]["relation"] == ["personal", "named"]
    assert "recorded" in facts["Detected"]["relation"]
    assert facts["Detected"]["fields"]["description"].startswith("Thick smoke")
    assert all(f["aggregate_id"] in {str(a) for a in s.aggregates()} for f in zhang["facts"])
    asked = next(f for f in wang["facts"] if f["fact"] == "ConsentRequested")
    assert asked["fields"]["resident_id"] == WITHHELD  # the resident's, not Wang's
    assert asked["fields"]["purpose"].startswith("break the storage-room lock")  # Wang's own
    assert "b30-u1-storage-owner" not in json.dumps(wang)
    assert zhang["unreadable"] == []


def test_an_export_after_erasure_shows_the_person_as_erased(env: dict[str, str]) -> None:
    with protected("memory:", env) as engine:
        s = Scenarios(engine)
        _erase_three(engine, s)
        exported = engine.export_person("p-3001", actor=OFFICE)
    [donghu] = exported["communities"]
    assert donghu["enrolment"]["name"] == ERASED
    assert donghu["erased_at"] is not None
    assert ZHANG[0] not in json.dumps(exported)


def test_the_command_line_erases_and_exports(tmp_path: Path, env: dict[str, str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``resilience erase`` and ``resilience export-person``, the key from the environment."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with protected(url, env) as engine:
        Scenarios(engine)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "p-3001.json"
    assert main(["export-person", "--db", url, "--person", "p-3001", "--by", "p-3001",
                 "--role", "resident", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["communities"][0]["enrolment"][
        "name"] == ZHANG[0]
    assert main(["erase", "--db", url, "--community", "Donghu Community", "--person",
                 "p-3001", "--by", "p-3102", "--role", "squad_member",
                 "--reason", "request"]) == 2
    assert "PermissionDeniedError" in capsys.readouterr().err
    assert main(["erase", "--db", url, "--community", "Donghu Community", "--person",
                 "p-3001", "--by", "office-duty", "--reason", "request"]) == 0
    assert "erased p-3001" in capsys.readouterr().out
    assert main(["export-person", "--db", url, "--person", "p-3001", "--by", "p-3102",
                 "--role", "squad_member"]) == 2
    assert "PermissionDeniedError" in capsys.readouterr().err
    assert main(["export-person", "--db", url, "--person", "p-3001",
                 "--by", "office-duty"]) == 0
    assert ZHANG[0] not in capsys.readouterr().out
