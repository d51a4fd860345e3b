"""Human references (resilience.domain.references): each incident and order is numbered in
its community, kind and year when it is recorded, as a fact, with no gap and no repeat,
whoever else writes at the same time; and every id a person types may be one."""

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import (
    Actor,
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    ManualClock,
    NotFoundError,
    PermissionDeniedError,
    Role,
    UnitSpec,
)
from resilience.cli import main
from resilience.domain.references import (
    ReferenceBook,
    book_id,
    fallback_code,
    normal_reference,
)
from resilience.listing import assign_references, list_cases, resolve
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS

from conftest import DONGHU, OFFICE, T0, donghu

FIXTURES = Path(__file__).parent / "fixtures"
HERE = Location(building="30", unit="1")
GRID_LEADER = Actor("zhang", Role.GRID_LEADER)


def _report(engine: Engine, community: UUID, at: datetime, **more: Any) -> Any:
    return engine.incidents.report(community, incident_type="fire", severity="low",
                                   location=HERE, description="smoke", actor=OFFICE,
                                   occurred_at=at, **more)


def _place(engine: Engine, community: UUID, at: datetime, **more: Any) -> Any:
    return engine.orders.place(community, household_id="h-301", area_id="30",
                               category="home", item="repair", actor=OFFICE,
                               occurred_at=at, **more)


def _references(engine: Engine, subject: Literal["incident", "order"]) -> dict[str, str | None]:
    """Case id -> reference, as the views hold them."""
    return {case.case_id: case.reference for case in engine.reports.cases(subject=subject)}


def test_the_donghu_fire_and_its_lock_repair_are_numbered_in_donghu() -> None:
    with Engine("memory:") as engine:
        fire = replay_file(engine, DONGHU_FIRE)
        orders = replay_file(engine, XIANGYANG_ORDERS)
        assert fire.receipts[22].reference == "DH-2022-0001"  # the report's receipt
        assert _references(engine, "incident") == {
            str(fire.incidents["donghu-fire"]): "DH-2022-0001"}
        placed = _references(engine, "order")
        assert placed[str(fire.orders["lock-repair"])] == "DH-2022-S0001"
        # Xiangyang's orders, numbered in the order they were placed.
        xiangyang = sorted((r for r in orders.receipts if r.reference), key=lambda r: (
            engine.orders.get(r.aggregate_id).placed_at))
        assert [r.reference for r in xiangyang] == [f"XY-2022-S{n:04d}" for n in range(1, 10)]
        # The facts a replay accounts for include each case's reference, in its book.
        assert fire.facts == fire.events_recorded
        assert engine.incidents.get(fire.incidents["donghu-fire"]).reference == "DH-2022-0001"


def test_every_reference_is_typed_back_as_the_id_it_names() -> None:
    with Engine("memory:") as engine:
        fire = replay_file(engine, DONGHU_FIRE).incidents["donghu-fire"]
        for typed in ("DH-2022-0001", "dh-2022-1", " Dh-2022-001 "):
            assert resolve(engine, typed) == fire
        assert resolve(engine, "DH-2022-0001", kinds=("incident",)) == fire
        with pytest.raises(NotFoundError, match="no order is 'DH-2022-0001'"):
            resolve(engine, "DH-2022-0001", kinds=("order",))
        with pytest.raises(NotFoundError,
                           match="no incident or order or improvement item or hazard or "
                                 "patrol is 'DH-2022-0002'"):
            resolve(engine, "DH-2022-0002")
        assert [row.reference for row in list_cases(engine, "incidents").rows] == [
            "DH-2022-0001"]


def test_numbers_count_per_community_kind_and_year_in_recording_order(
        engine: Engine) -> None:
    community = donghu(engine)
    engine.communities.set_code(community, "DH", actor=OFFICE, occurred_at=T0)
    late = T0.replace(month=12, day=31, hour=23, minute=0)
    first = _report(engine, community, T0 + timedelta(hours=1))
    second = _report(engine, community, T0 + timedelta(hours=2))
    order = _place(engine, community, T0 + timedelta(hours=3))
    # Recorded later, dated earlier: numbered when recorded, not when it happened.
    backdated = _report(engine, community, T0 + timedelta(minutes=30))
    new_year = _report(engine, community, late + timedelta(hours=2))
    year = T0.year
    assert [r.reference for r in (first, second, order, backdated, new_year)] == [
        f"DH-{year}-0001", f"DH-{year}-0002", f"DH-{year}-S0001", f"DH-{year}-0003",
        f"DH-{year + 1}-0001"]
    book: object = engine.app.repository.get(book_id(community, "incident", year))
    assert isinstance(book, ReferenceBook)
    assert book.issued == 3
    assert book.last == f"DH-{year}-0003"
    # A book is no record of its own: no timeline, now or at a cut.
    book_of_year = book_id(community, "incident", year)
    for as_of, known_at in ((None, None), (late, None), (None, late)):
        with pytest.raises(NotFoundError):
            engine.timeline(book_of_year, as_of=as_of, known_at=known_at)


def test_a_repeated_command_gives_its_reference_again_and_takes_no_number(
        engine: Engine) -> None:
    community = donghu(engine)
    first = _report(engine, community, T0, command_id="desk/1")
    again = _report(engine, community, T0, command_id="desk/1")
    assert again.repeated
    assert again == first
    assert again.reference == first.reference
    assert _report(engine, community, T0).reference.endswith("-0002")


@pytest.fixture
def policed(store_url: str, clock: ManualClock) -> Any:
    """An engine on each store under the default policy."""
    with Engine(store_url, clock=clock) as opened:
        yield opened


def test_a_refused_command_takes_no_number(policed: Engine) -> None:
    """Refused before it is recorded (a location outside the community, a caller the
    policy refuses), a report takes no number: the next one recorded gets it."""
    engine = policed
    community = donghu(engine)
    with pytest.raises(NotFoundError, match="no area '99'"):
        engine.incidents.report(community, incident_type="fire", severity="low",
                                location=Location(building="99"), description="smoke",
                                actor=OFFICE, occurred_at=T0)
    with pytest.raises(PermissionDeniedError):
        engine.incidents.report(community, incident_type="fire", severity="low",
                                location=HERE, description="smoke",
                                actor=Actor("stranger", Role.GRID_WORKER), occurred_at=T0)
    with pytest.raises(InvalidInputError):
        _report(engine, community, T0, incident_id="not a uuid")
    assert _report(engine, community, T0).reference == f"{fallback_code(community)}-" \
        f"{T0.year}-0001"


def test_a_community_code_is_checked_taken_in_capitals_and_applies_from_then_on(
        policed: Engine) -> None:
    engine = policed
    community = donghu(engine)
    before = _report(engine, community, T0)
    assert before.reference == f"{fallback_code(community)}-{T0.year}-0001"
    assert fallback_code(community) == "C" + community.hex[:4].upper()
    for bad in ("", "1DH", "D-H", "东湖", "DHDHDHDHD", None, 12):
        with pytest.raises(InvalidInputError):
            engine.communities.set_code(community, bad, actor=OFFICE,  # type: ignore[arg-type]
                                        occurred_at=T0)
    engine.communities.set_code(community, " dh ", actor=OFFICE, occurred_at=T0)
    with pytest.raises(InvalidTransitionError, match="code is DH already"):
        engine.communities.set_code(community, "DH", actor=OFFICE, occurred_at=T0)
    with pytest.raises(PermissionDeniedError):
        engine.communities.set_code(community, "XX", actor=GRID_LEADER, occurred_at=T0)
    after = _report(engine, community, T0 + timedelta(minutes=1))
    assert after.reference == f"DH-{T0.year}-0002"  # the same book: one count a year
    assert engine.incidents.get(before.aggregate_id).reference == before.reference
    assert engine.communities.get(community).code == "DH"


def test_a_code_given_at_registration_is_kept_and_bad_ones_register_nothing(
        clock: ManualClock) -> None:
    with Engine("memory:", clock=clock) as engine:
        with pytest.raises(InvalidInputError, match="code"):
            engine.communities.register(**DONGHU, code="D H", actor=OFFICE, occurred_at=T0)
        assert engine.app.recorder.max_notification_id() in (None, 0)
        community = engine.communities.register(**DONGHU, code="dh", actor=OFFICE,
                                                occurred_at=T0).aggregate_id
        assert engine.communities.get(community).code == "DH"


def test_references_in_a_batch_are_consecutive_and_a_failed_batch_takes_none(
        engine: Engine) -> None:
    community = donghu(engine)

    def failing_batch() -> None:
        with engine.batch():
            _report(engine, community, T0)
            raise RuntimeError("the batch fails")

    with pytest.raises(RuntimeError):
        failing_batch()
    with engine.batch():
        receipts = [_report(engine, community, T0 + timedelta(minutes=n)) for n in range(3)]
    assert [r.reference[-4:] for r in receipts] == ["0001", "0002", "0003"]
    assert sorted(str(r) for r in _references(engine, "incident").values()) == [
        r.reference for r in receipts]


@pytest.mark.parametrize("writers", [4])
def test_concurrent_writers_never_share_a_number_nor_leave_a_gap(
        shared_store_url: str, writers: int) -> None:
    """Engines on one store (each its own cache, as processes have), reporting at once:
    every reference is issued once, and the year's numbers are 1..n."""
    with Engine(shared_store_url) as first:
        community = donghu(first)
    each = 6
    barrier = threading.Barrier(writers)
    found: list[str] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with Engine(shared_store_url) as engine:
                _report(engine, community, T0)  # each reads the book before the race
                barrier.wait()
                for n in range(each):
                    receipt = _report(engine, community, T0 + timedelta(minutes=n))
                    found.append(receipt.reference)
        except BaseException as exc:  # (reported below, in the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Engine(shared_store_url) as engine:
        numbers = sorted(int(str(r)[-4:]) for r in _references(engine, "incident").values())
        assert numbers == list(range(1, writers * (each + 1) + 1))
        assert len(set(found)) == len(found) == writers * each


_CODES = st.sampled_from(["DH", "XY"])
_STEPS = st.lists(st.tuples(_CODES, st.sampled_from(["incident", "order"]),
                            st.sampled_from([2022, 2023]), st.integers(0, 500)),
                  min_size=1, max_size=25)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_STEPS)
def test_over_any_history_each_books_numbers_run_from_one_in_recording_order(
        steps: list[tuple[str, str, int, int]]) -> None:
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=T0.tzinfo))
    with Engine("memory:", clock=clock) as engine:
        communities = {}
        for code in ("DH", "XY"):
            names = dict(DONGHU, name=f"{DONGHU['name']} {code}")
            community = engine.communities.register(**names, code=code, actor=OFFICE,
                                                    occurred_at=T0).aggregate_id
            engine.communities.add_grid(community, "3", actor=OFFICE, occurred_at=T0)
            engine.communities.add_building(community, "30", "3", [UnitSpec("1", 24)],
                                            actor=OFFICE, occurred_at=T0)
            communities[code] = community
        expected: dict[UUID, str] = {}
        counts: dict[tuple[str, str, int], int] = {}
        for code, kind, year, hours in steps:
            at = datetime(year, 1, 1, tzinfo=T0.tzinfo) + timedelta(hours=hours)
            make = _report if kind == "incident" else _place
            receipt = make(engine, communities[code], at)
            count = counts[code, kind, year] = counts.get((code, kind, year), 0) + 1
            series = "" if kind == "incident" else "S"
            expected[receipt.aggregate_id] = f"{code}-{year}-{series}{count:04d}"
            assert receipt.reference == expected[receipt.aggregate_id]
        found = {**_references(engine, "incident"), **_references(engine, "order")}
        assert found == {str(case): reference for case, reference in expected.items()}
        for case, reference in expected.items():
            assert resolve(engine, reference) == case


@pytest.mark.parametrize(("typed", "normal"), [
    ("DH-2022-0001", "DH-2022-0001"), ("dh-2022-1", "DH-2022-0001"),
    ("xy2-2023-s12", "XY2-2023-S0012"), ("DH-2022-12345", "DH-2022-12345"),
    ("DH-22-0001", None), ("donghu-fire", None), ("9e1660b0", None), ("DH-2022-", None)])
def test_a_typed_reference_is_read_in_any_case_with_its_zeros_optional(
        typed: str, normal: str | None) -> None:
    assert normal_reference(typed) == normal


def _old_store(path: Path) -> Engine:
    """A SQLite store holding the events of the newest fixture written before references
    (tests/fixtures/history-0.4.json), as that version wrote them."""
    doc = json.loads((FIXTURES / "history-0.4.json").read_text(encoding="utf-8"))
    engine = Engine(f"sqlite:///{path}")
    engine.app.recorder.insert_events([
        StoredEvent(originator_id=UUID(e["originator_id"]),
                    originator_version=e["originator_version"], topic=e["topic"],
                    state=e["state"].encode("utf-8")) for e in doc["events"]])
    return engine


def test_cases_recorded_before_references_are_given_theirs_in_the_order_they_happened(
        tmp_path: Path) -> None:
    """Run community by community by its staff, as a district would: each community's
    cases numbered in the order they happened, per kind and year, none twice."""
    with _old_store(tmp_path / "old.db") as engine:
        cases = [*engine.reports.cases(subject="incident"), *engine.reports.cases(subject="order")]
        assert cases
        assert all(case.reference is None for case in cases)
        assert {row.reference for row in list_cases(engine, "incidents").rows} == {None}
        communities = {UUID(case.community) for case in cases}
        staff = {engine.communities.get(c).founder for c in communities}
        with pytest.raises(PermissionDeniedError):
            assign_references(engine, actor=GRID_LEADER)
        assert all(case.reference is None for case in engine.reports.cases(subject="incident"))
        receipts = []
        for community in sorted(communities):
            founder = Actor(engine.communities.get(community).founder, Role.COMMUNITY_STAFF)
            receipts += assign_references(engine, actor=founder, community=community)
        assert len(staff) == len(communities) == 2
        assert len(receipts) == len(cases)
        given = {str(r.aggregate_id): r.reference for r in receipts}
        expected: dict[str, str] = {}
        counts: dict[tuple[str, str, int], int] = {}
        for case in sorted(cases, key=lambda case: (case.start, case.case_id)):
            key = (case.community, case.subject, case.start.year)
            counts[key] = counts.get(key, 0) + 1
            code = engine.communities.get(UUID(case.community)).reference_code
            series = "" if case.subject == "incident" else "S"
            expected[case.case_id] = f"{code}-{case.start.year}-{series}{counts[key]:04d}"
        assert given == expected
        assert {case.case_id: case.reference for subject in ("incident", "order")
                for case in engine.reports.cases(subject=subject)} == expected
        for case_id, reference in given.items():
            assert resolve(engine, str(reference)) == UUID(case_id)
        # Again: nothing left to number; one by hand is refused, as it has one.
        for community in communities:
            founder = Actor(engine.communities.get(community).founder, Role.COMMUNITY_STAFF)
            assert assign_references(engine, actor=founder, community=community) == []
        incident = next(c for c in cases if c.subject == "incident")
        founder = Actor(engine.communities.get(UUID(incident.community)).founder,
                        Role.COMMUNITY_STAFF)
        with pytest.raises(InvalidTransitionError, match="reference is"):
            engine.incidents.assign_reference(UUID(incident.case_id), actor=founder)
        # A new incident of the same year takes the next number of the same book.
        new = engine.incidents.report(UUID(incident.community), incident_type="fire",
                                      severity="low", location=Location(building="30",
                                                                        unit="1"),
                                      description="smoke", actor=founder,
                                      occurred_at=incident.start + timedelta(hours=1))
        key = (incident.community, "incident", incident.start.year)
        assert new.reference is not None
        assert new.reference.endswith(f"-{incident.start.year}-{counts[key] + 1:04d}")
        assert engine.views.quarantined() == []


def test_the_cli_gives_an_old_store_its_references(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "old.db"
    _old_store(path).close()
    assert main(["references", "--db", str(path), "--by", OFFICE.person_id,
                 "--community", "Donghu Community"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith("cases given their references")
    reference = out[0].partition(": ")[0]
    assert main(["timeline", reference, "--db", str(path)]) == 0
    assert main(["references", "--db", str(path), "--by", OFFICE.person_id,
                 "--community", "Donghu Community"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "0 cases given their references"


def test_a_report_refused_after_its_number_was_worked_out_takes_none(engine: Engine) -> None:
    """Refused by the report itself (an empty channel; a detection after the report), once
    the next number was worked out: nothing recorded, the book unchanged, and the next
    report gets the number."""
    community = donghu(engine)
    assert _report(engine, community, T0).reference is not None
    for bad in ({"channel": ""}, {"detected_at": T0 + timedelta(hours=2)}):
        before = engine.app.recorder.max_notification_id()
        with pytest.raises((InvalidInputError, InvalidTransitionError)):
            _report(engine, community, T0 + timedelta(hours=1), **bad)
        assert engine.app.recorder.max_notification_id() == before
    assert _report(engine, community, T0).reference.endswith("-0002")
    book: object = engine.app.repository.get(book_id(community, "incident", T0.year))
    assert isinstance(book, ReferenceBook)
    assert book.issued == 2
    assert set(_references(engine, "incident").values()) == {
        f"{fallback_code(community)}-{T0.year}-{n:04d}" for n in (1, 2)}


def test_a_command_with_an_id_on_a_stale_book_is_numbered_again(
        shared_store_url: str) -> None:
    """Another engine (another process) numbered cases since this one read the book: a
    report under a command id takes the next number, as one without does."""
    with Engine(shared_store_url) as mine, Engine(shared_store_url) as theirs:
        community = donghu(mine)
        first = _report(mine, community, T0, command_id="desk/1")
        assert _report(theirs, community, T0).reference is not None  # mine's book is stale
        again = _report(mine, community, T0, command_id="desk/2")
        placed = _place(mine, community, T0, command_id="order/1")
        assert _place(theirs, community, T0).reference is not None
        placed_again = _place(mine, community, T0, command_id="order/2")
    assert first.reference is not None
    assert again.reference == first.reference.replace("-0001", "-0003")
    assert (placed.reference or "").endswith("-S0001")
    assert (placed_again.reference or "").endswith("-S0003")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.one_of(st.text(max_size=12), st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,9}",
                                                          fullmatch=True)))
def test_any_code_is_refused_recording_nothing_or_kept_and_used(code: str) -> None:
    """A code given as any text: InvalidInputError and nothing recorded, or kept in
    capitals, read back equal, and the next reference begins with it, in the views too."""
    with Engine("memory:", policy=None) as engine:
        community = donghu(engine)
        before = engine.app.recorder.max_notification_id()
        try:
            engine.communities.set_code(community, code, actor=OFFICE, occurred_at=T0)
        except InvalidInputError:
            assert engine.app.recorder.max_notification_id() == before
            assert engine.communities.get(community).code is None
            return
        kept = engine.communities.get(community).code
        assert kept == code.strip().upper()
        receipt = _report(engine, community, T0)
        assert receipt.reference == f"{kept}-{T0.year}-0001"
        assert _references(engine, "incident") == {str(receipt.aggregate_id): receipt.reference}
        assert resolve(engine, receipt.reference) == receipt.aggregate_id


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=20))
def test_any_text_typed_as_an_id_names_one_record_or_is_refused(text: str) -> None:
    """``resolve`` of any text: the one record it names, or NotFoundError/InvalidInputError;
    it records nothing either way."""
    with Engine("memory:") as engine:
        fire = replay_file(engine, DONGHU_FIRE).incidents["donghu-fire"]
        before = engine.app.recorder.max_notification_id()
        try:
            found = resolve(engine, text)
        except (NotFoundError, InvalidInputError):
            found = None
        assert engine.app.recorder.max_notification_id() == before
        try:
            whole = UUID(text.strip())
        except ValueError:
            whole = None
        if whole is not None:  # a whole id is taken as it is (the command then looks it up)
            assert found == whole
        elif found is not None:  # else it names a record the store holds
            assert found == fire or engine.events(found)
