"""Open311 GeoReport v2: service orders exported as services and requests documents, and
requests imported as orders (resilience.open311)."""

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import (
    DEFAULT_CATALOGUE,
    Actor,
    Engine,
    InvalidInputError,
    ManualClock,
    OrderStatus,
    Period,
    PermissionDeniedError,
    Provider,
    ProviderKind,
    Role,
    UnitSpec,
)
from resilience.open311 import (
    GEOREPORT_V2_REQUEST_FIELDS,
    GEOREPORT_V2_SERVICE_FIELDS,
    import_requests,
    requests_document,
    services_document,
    validate_request,
    validate_service,
)
from resilience.scenario import parse_scenario, replay, replay_file

from conftest import OFFICE, T0, donghu

DESK = Actor("desk-wang", Role.COMMUNITY_STAFF)
XY_DESK = Actor("xy-office", Role.COMMUNITY_STAFF)
"""Xiangyang's service desk: community staff on its roster, whom the policy lets import."""
LIU = Actor("p-5005", Role.RESIDENT)
XIANGYANG = files("resilience.scenarios") / "xiangyang_orders.json"
_ORDER_COMMANDS = {"place", "accept", "reject", "dispatch", "start", "complete", "rate",
                   "reopen", "cancel", "add_note"}


def without_ids(document: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A requests document but for its ids (the store gives each order its own), in an
    order that does not depend on them (requests placed at one moment follow their ids)."""
    return sorted(({k: v for k, v in request.items() if k != "service_request_id"}
                   for request in document), key=lambda request: json.dumps(request))


def recorded(engine: Engine) -> int:
    """How many events the store holds (the newest notification's id)."""
    return engine.app.recorder.max_notification_id() or 0


@pytest.fixture(scope="module")
def xiangyang() -> Iterator[tuple[Engine, UUID]]:
    """The shipped day of Xiangyang orders, replayed (read only by the tests)."""
    with Engine("memory:", policy=None) as engine:
        yield engine, replay_file(engine, str(XIANGYANG)).community_id


def xiangyang_without_orders(engine: Engine) -> UUID:
    """Replay the Xiangyang scenario's community (grids, buildings, people) and none of
    its orders: a store to import its requests into."""
    raw = json.loads(XIANGYANG.read_text(encoding="utf-8"))
    raw["actions"] = [a for a in raw["actions"] if a["do"] not in _ORDER_COMMANDS]
    return replay(engine, parse_scenario(json.dumps(raw))).community_id


# Exporting ------------------------------------------------------------------------------


def test_the_services_document_lists_every_catalogue_item_by_category_and_item() -> None:
    """One GeoReport service per catalogue item: code category/item, its title, grouped
    by category, each a valid GeoReport v2 service."""
    with Engine("memory:", policy=None) as engine:
        services = services_document(engine)
    assert [s["service_code"] for s in services] == [
        f"{e.category}/{e.item}" for e in DEFAULT_CATALOGUE.items]
    meals = next(s for s in services if s["service_code"] == "meals/meal_delivery")
    assert meals == {"service_code": "meals/meal_delivery", "service_name": "Meal delivery",
                     "description": "Meal delivery, expected within 2 hours",
                     "metadata": False, "type": "realtime",
                     "keywords": "meals,meal_delivery", "group": "meals"}
    for service in services:
        validate_service(service)
        assert set(service) <= set(GEOREPORT_V2_SERVICE_FIELDS)


def test_each_order_is_a_request_with_its_status_outcome_provider_and_times(
        xiangyang: tuple[Engine, UUID]) -> None:
    """Status open/closed, status_notes from the outcome, the provider as the agency, the
    placement, last step and deadline as the three times; only GeoReport v2 fields, and
    no position or media."""
    engine, _ = xiangyang
    requests = requests_document(engine)
    assert len(requests) == 9
    for request in requests:
        validate_request(request)
        assert set(request) <= set(GEOREPORT_V2_REQUEST_FIELDS)
        assert not {"lat", "long", "media_url", "zipcode"} & set(request)
    legal = next(r for r in requests if r["service_code"] == "professional/legal_advice")
    assert legal == {
        "service_request_id": legal["service_request_id"], "status": "closed",
        "status_notes": "not fixed: the dispute needs a court filing; referred to the "
                        "district legal aid centre",
        "service_name": "Legal advice", "service_code": "professional/legal_advice",
        "description": "lease dispute with a shop landlord",
        "agency_responsible": "Xiangyang 360 legal aid",
        "service_notice": "expected within 3 days",
        "requested_datetime": "2022-03-15T09:15:00+08:00",
        "updated_datetime": "2022-03-15T16:00:00+08:00",
        "expected_datetime": "2022-03-18T09:15:00+08:00",
        "address": "Xiangyang Community, Grid 3 - business district, xy-3-m1, unit 1",
        "address_id": "xy-3-m1/1"}
    notes = {r["status"] + " " + (r["status_notes"] or "").split(":")[0] for r in requests}
    assert notes == {"closed fixed", "closed not fixed", "closed cancelled",
                     "closed rejected", "open dispatched"}
    assert [r["requested_datetime"] for r in requests] == sorted(
        r["requested_datetime"] for r in requests)


def test_requests_are_read_for_a_community_and_a_period(
        xiangyang: tuple[Engine, UUID]) -> None:
    """``community`` and ``period`` choose the orders as the reports do: by placement."""
    engine, community = xiangyang
    assert len(requests_document(engine, community)) == 9
    before = Period(None, T0.replace(year=2022, month=3, day=15, hour=9, minute=0))
    assert [r["requested_datetime"] for r in requests_document(engine, period=before)] == [
        "2022-03-15T08:00:00+08:00", "2022-03-15T08:30:00+08:00"]


# Importing ------------------------------------------------------------------------------


def test_an_exported_document_imports_into_a_fresh_store_and_exports_the_same(
        xiangyang: tuple[Engine, UUID]) -> None:
    """Export, import into a store holding only the community, export again: equal but
    for the ids; importing it again records nothing and returns the same orders."""
    engine, _ = xiangyang
    exported = requests_document(engine)
    with Engine("memory:") as fresh:  # under the default policy: staff may import
        community = xiangyang_without_orders(fresh)
        ids = import_requests(fresh, exported, community=community, actor=XY_DESK)
        again = requests_document(fresh)
        assert without_ids(again) == without_ids(exported)
        assert [r["service_request_id"] for r in again] == [str(i) for i in ids]
        before = recorded(fresh)
        assert import_requests(fresh, exported, community=community, actor=XY_DESK) == ids
        assert recorded(fresh) == before
        placed = fresh.events(ids[0])[0]
        assert (placed.actor.person_id, placed.actor.imported_by) == ("xy-office", "xy-office")


def test_a_closed_request_in_other_words_is_an_order_fixed_by_its_agency(
        memory_engine: Engine) -> None:
    """GeoReport's "closed" with notes of another system's own: completed as fixed, the
    notes as the completion's note, the steps between dated at updated_datetime."""
    community = donghu(memory_engine)
    [order] = import_requests(memory_engine, [{
        "service_request_id": "FMS-101", "status": "closed",
        "status_notes": "Tap replaced", "service_code": "home/repair",
        "agency_responsible": "Taishan Property Co.", "address_id": "30/1",
        "requested_datetime": "2022-02-10T09:00:00+08:00",
        "updated_datetime": "2022-02-11T10:30:00Z"}], community=community, actor=DESK,
        provider_kind=ProviderKind.PROPERTY_COMPANY)
    got = memory_engine.orders.get(order)
    assert (got.status.value, got.outcome and got.outcome.value) == ("completed", "fixed")
    assert got.provider == Provider(ProviderKind.PROPERTY_COMPANY, "Taishan Property Co.",
                                    "Taishan Property Co.")
    assert got.placed_at == T0.replace(day=10, hour=9)
    assert max(got.occurred.values()) == T0.replace(day=11, hour=18, minute=30)
    [request] = requests_document(memory_engine)
    assert request["status_notes"] == "fixed: Tap replaced"
    assert request["expected_datetime"] == "2022-02-12T09:00:00+08:00"  # the catalogue's
    assert request["address"] == "Donghu, 3, 30, unit 1"


def _valid(*without: str, **changes: Any) -> dict[str, Any]:
    """A valid open request for Donghu's building 30, unit 1, with ``changes`` and
    ``without`` the fields named."""
    request = {"service_request_id": "r-1", "status": "open", "service_code": "meals/meal_help",
               "requested_datetime": "2022-02-15T10:00:00+08:00", "address_id": "30/1"}
    request.update(changes)
    return {k: v for k, v in request.items() if k not in without}


@pytest.mark.parametrize(("bad", "match"), [
    (_valid(photo="x.jpg"), "has no field photo"),
    (_valid("status"), "needs status"),
    (_valid(status="pending"), "status must be one of 'open', 'closed'"),
    (_valid(requested_datetime="2022-02-15T10:00:00"), "must carry its offset"),
    (_valid(requested_datetime="yesterday"), "W3C date-time"),
    (_valid(lat=91), "lat must be a number from -90 to 90"),
    (_valid(lat=True), "lat must be a number"),
    (_valid(service_code="meals/caviar"), "no service_code 'meals/caviar'"),
    (_valid(address_id="99/9"), "no area '99/9'"),
    (_valid("address_id", address="the moon"), "no area whose id or address"),
    (_valid(updated_datetime="2022-02-15T09:00:00+08:00"), "before requested_datetime"),
    (_valid(expected_datetime="2022-02-15T10:00:00+08:00"), "expected_datetime must be after"),
    (_valid(status="closed"), "needs the agency_responsible"),
    (_valid(status="closed", status_notes="rejected: no", agency_responsible="A"),
     "never dispatched"),
    (_valid(status="closed", status_notes="cancelled"), "need a reason"),
    (_valid(status="open", status_notes="fixed"), "say closed; status says open"),
    (_valid(status="closed", status_notes="dispatched", agency_responsible="A"),
     "say open; status says closed"),
    ("not a request", "is an object"),
])
def test_an_invalid_request_is_refused_and_its_document_records_nothing(
        memory_engine: Engine, bad: object, match: str) -> None:
    """Every request is checked before any is recorded: a valid one before a refused one
    is not recorded either, and the error names the refused request."""
    community = donghu(memory_engine)
    before = recorded(memory_engine)
    with pytest.raises(InvalidInputError, match=match) as refused:
        import_requests(memory_engine, [_valid(service_request_id="ok"), bad],
                        community=community, actor=DESK)
    assert str(refused.value).startswith("request 2")
    assert recorded(memory_engine) == before


def test_a_repeated_request_id_and_a_document_not_a_list_are_refused(
        memory_engine: Engine) -> None:
    """A service_request_id names one request; a document is a list of requests."""
    community = donghu(memory_engine)
    with pytest.raises(InvalidInputError, match=r"request 2 \('r-1'\): .*repeated"):
        import_requests(memory_engine, [_valid(), _valid()], community=community, actor=DESK)
    with pytest.raises(InvalidInputError, match="is a list of requests"):
        import_requests(memory_engine, {"service_requests": []}, community=community,
                        actor=DESK)
    assert memory_engine.reports.cases(subject="order") == []


def test_an_importer_the_policy_does_not_allow_records_nothing(clock: ManualClock) -> None:
    """The import runs as ``engine.importing(actor)``: a resident may not import, and the
    batch leaves nothing of the requests checked before the refusal."""
    with Engine("memory:", clock=clock) as engine:
        community = donghu(engine)
        before = recorded(engine)
        with pytest.raises(PermissionDeniedError):
            import_requests(engine, [_valid()], community=community, actor=LIU)
        assert recorded(engine) == before


# The round trip, for any order ----------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), max_size=12)
_REASON = _TEXT.filter(lambda text: bool(text.strip()))
_PROVIDERS = [Provider(ProviderKind.SOCIAL_ORGANISATION, "kitchen", "Happy Kitchen"),
              Provider(ProviderKind.GRID_WORKER, "gw-li"),
              Provider(ProviderKind.ALLIANCE_MEMBER, "clinic", "诊所")]
# What may follow each status: the order's loop (resilience.domain.service).
_NEXT = {"placed": ["accept", "reject", "cancel"], "accepted": ["dispatch", "cancel"],
         "dispatched": ["dispatch", "start", "complete", "cancel"],
         "in_progress": ["complete", "cancel"], "completed": ["rate", "reopen", "note"],
         "reopened": ["dispatch", "cancel"]}


@st.composite
def order_lives(draw: st.DrawFn) -> list[tuple[str, str]]:
    """An order's commands: a walk along its loop, each step a few minutes on."""
    status, life = "placed", []
    while status in _NEXT and draw(st.booleans()):
        step = draw(st.sampled_from(_NEXT[status]))
        life.append((step, draw(_REASON)))
        status = {"accept": "accepted", "dispatch": "dispatched", "start": "in_progress",
                  "complete": "completed", "reopen": "reopened", "reject": "rejected",
                  "cancel": "cancelled"}.get(step, status)
    return life


def _live(engine: Engine, order: UUID, life: list[tuple[str, str]],
          data: st.DataObject) -> None:
    """Take the order along ``life``, each step 0 to 10 hours after the one before."""
    orders, at = engine.orders, T0
    for step, text in life:
        at += timedelta(minutes=data.draw(st.integers(0, 600)),
                        microseconds=data.draw(st.integers(0, 999_999)))
        done: dict[str, Any] = {"actor": OFFICE, "occurred_at": at}
        match step:
            case "accept":
                orders.accept(order, **done)
            case "reject":
                orders.reject(order, text, **done)
            case "cancel":
                orders.cancel(order, text, **done)
            case "dispatch":  # a reassignment is to another provider
                now = orders.get(order)
                others = [p for p in _PROVIDERS
                          if now.status is not OrderStatus.DISPATCHED or p != now.provider]
                orders.dispatch(order, data.draw(st.sampled_from(others)), **done)
            case "start":
                orders.start(order, **done)
            case "complete":
                outcome = data.draw(st.sampled_from(["fixed", "not_fixed"]))
                orders.complete(order, outcome, text, **done)
            case "rate":
                orders.rate(order, data.draw(st.integers(1, 5)), actor=LIU, occurred_at=at)
            case "reopen":
                orders.reopen(order, text, **done)
            case "note":
                orders.add_note(order, text, **done)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lives=st.lists(order_lives(), min_size=1, max_size=4), data=st.data())
def test_any_orders_round_trip_through_a_requests_document(
        lives: list[list[tuple[str, str]]], data: st.DataObject) -> None:
    """For generated orders in every status, their placements' times and details perhaps
    corrected: export, import into a fresh store, export again gives the same document
    but for the ids."""
    areas = ["30", "30/1", "30/2", "3"]
    with Engine("memory:", clock=ManualClock(T0 + timedelta(days=30)), policy=None) as first:
        community = donghu(first, units=(UnitSpec("1", 24), UnitSpec("2", 12)))
        for number, life in enumerate(lives):
            service = data.draw(st.sampled_from(DEFAULT_CATALOGUE.items))
            hours = data.draw(st.none() | st.integers(1, 400))
            order = first.orders.place(
                community, household_id=f"hh-{number}", area_id=data.draw(
                    st.sampled_from(areas)), category=service.category, item=service.item,
                actor=data.draw(st.sampled_from([LIU, OFFICE])), details=data.draw(_TEXT),
                expected_by=None if hours is None else T0 + timedelta(hours=hours),
                occurred_at=T0).aggregate_id
            # Only the resident who placed an order rates it.
            _live(first, order, [step for step in life
                                 if step[0] != "rate" or _placed_by(first, order)], data)
            # Corrections of the placement: the document reads its times and details as
            # corrected.
            if data.draw(st.booleans()):
                earlier = T0 - timedelta(minutes=data.draw(st.integers(1, 600)))
                first.orders.correct_time(order, 1, earlier, "the desk's log", actor=OFFICE)
            if data.draw(st.booleans()):
                first.orders.correct_details(order, 1, data.draw(_REASON), "misheard",
                                             actor=OFFICE)
        exported = requests_document(first)
    with Engine("memory:", clock=ManualClock(T0 + timedelta(days=30)), policy=None) as fresh:
        community = donghu(fresh, units=(UnitSpec("1", 24), UnitSpec("2", 12)))
        import_requests(fresh, exported, community=community, actor=DESK)
        assert without_ids(requests_document(fresh)) == without_ids(exported)


def _placed_by(engine: Engine, order: UUID) -> bool:
    """The resident placed ``order``, so may rate it."""
    return engine.orders.get(order).placer_id == LIU.person_id


# The command line ----------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], int]:
    """``resilience.cli.main`` with ``open311`` registered (by the lead's wiring, or here
    beside ``recovery`` until it is)."""
    import argparse

    from resilience import cli as package
    from resilience.cli import open311, recovery

    parser = package.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "open311" not in commands.choices:
        original = recovery.register

        def both(command: Any) -> None:
            original(command)
            open311.register(command)

        monkeypatch.setattr(recovery, "register", both)
    return package.main


def test_the_command_line_exports_and_imports_requests(
        cli: Callable[[list[str]], int], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``open311 export --kind services|requests`` prints or writes the documents;
    ``open311 import FILE`` records the requests as orders of a community."""
    db, fresh = tmp_path / "xy.db", tmp_path / "fresh.db"
    assert cli(["replay", "--db", str(db), str(XIANGYANG)]) == 0
    capsys.readouterr()
    assert cli(["open311", "export", "--db", str(db), "--kind", "services"]) == 0
    assert json.loads(capsys.readouterr().out) == services_document(Engine("memory:"))
    out = tmp_path / "requests.json"
    assert cli(["open311", "--db", str(db), "export", "--kind", "requests",
                "--community", "Xiangyang Community", "--month", "2022-03",
                "--out", str(out)]) == 0
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert len(exported) == 9
    with Engine(f"sqlite:///{fresh}") as engine:
        xiangyang_without_orders(engine)
    capsys.readouterr()
    assert cli(["open311", "import", str(out), "--db", str(fresh), "--community",
                "Xiangyang Community", "--by", "xy-office"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("9 requests imported as orders of community ")
    assert printed[1].startswith(f"request {exported[0]['service_request_id']}: order ")
    with Engine(f"sqlite:///{fresh}") as engine:
        assert without_ids(requests_document(engine)) == without_ids(exported)


def test_the_command_line_refuses_a_bad_document_in_one_line(
        cli: Callable[[list[str]], int], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Not JSON, or not GeoReport: exit 2 and one line on stderr, nothing recorded."""
    db = tmp_path / "xy.db"
    assert cli(["replay", "--db", str(db), str(XIANGYANG)]) == 0
    bad = tmp_path / "bad.json"
    for text, said in (("[{", "is not JSON"), ('[{"status": "open"}]', "request 1: a Geo")):
        bad.write_text(text, encoding="utf-8")
        capsys.readouterr()
        assert cli(["open311", "import", str(bad), "--db", str(db), "--community",
                    "Xiangyang Community", "--by", "xy-office"]) == 2
        err = capsys.readouterr().err
        assert said in err
        assert err.count("\n") == 1
