"""Finding records again (resilience.listing): lists filtered as asked, newest first, and
every id a person may type (whole, a prefix, a scenario handle) resolved to the one record
it names, or refused saying why."""

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings

from histories import STAFF, setup_world
from resilience import Engine, InvalidInputError, Location, ManualClock, NotFoundError
from resilience.cli import main
from resilience.listing import MIN_PREFIX, list_cases, list_items, resolve
from resilience.metrics.period import Period
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS
from test_cli_review import run
from test_metrics_oracle import apply_steps
from test_projections import amended_histories

from conftest import T0


def _scenarios(engine: Engine) -> dict[str, Any]:
    fire = replay_file(engine, DONGHU_FIRE)
    orders = replay_file(engine, XIANGYANG_ORDERS)
    return {"fire": fire, "orders": orders}


def test_the_donghu_fire_is_listed_and_found_again_by_what_a_person_types() -> None:
    with Engine("memory:") as engine:
        runs = _scenarios(engine)
        fire = runs["fire"].incidents["donghu-fire"]
        listing = list_cases(engine, "incidents")
        assert [row.id for row in listing.rows] == [fire]
        (row,) = listing.rows
        assert row.community_name == "Donghu Community"
        assert row.status == "closed"
        assert not row.open
        assert row.short == fire.hex[:8]
        assert "fire" in row.what
        for typed in (str(fire), row.short, row.short.upper(), str(fire)[:MIN_PREFIX],
                      "donghu-fire", f"  {row.short} "):
            assert resolve(engine, typed) == fire, typed
        assert resolve(engine, "donghu-fire", ["incident"]) == fire
        with pytest.raises(NotFoundError, match="no order is 'donghu-fire'"):
            resolve(engine, "donghu-fire", ["order"])
        item = runs["fire"].improvements["storage-room-clutter"]
        assert resolve(engine, "storage-room-clutter") == item
        assert [r.id for r in list_items(engine, open_only=True).rows] == [item]
        table = listing.render()
        assert row.short in table
        assert "Donghu Community" in table


def test_orders_are_listed_newest_first_filtered_and_limited() -> None:
    with Engine("memory:") as engine:
        runs = _scenarios(engine)
        community = runs["orders"].community_id
        every = list_cases(engine, "orders", community=community)
        assert every.total == len(every.rows) == len(runs["orders"].orders) > 2
        assert {row.id for row in every.rows} == set(runs["orders"].orders.values())
        starts = [row.started for row in every.rows]
        assert starts == sorted(starts, reverse=True)
        newest = list_cases(engine, "orders", community=community, limit=2)
        assert newest.rows == every.rows[:2]
        assert newest.total == every.total
        assert "older not shown" in newest.render()
        everywhere = list_cases(engine, "orders")
        assert {row.id for row in everywhere.rows} == {
            *runs["orders"].orders.values(), *runs["fire"].orders.values()}
        opened = list_cases(engine, "orders", community=community, open_only=True)
        assert opened.rows == tuple(row for row in every.rows if row.open)
        kinds = {row.what for row in every.rows}
        category = next(iter(kinds)).split("/")[0]
        of_type = list_cases(engine, "orders", community=community, of_type=category)
        assert of_type.rows
        assert all(row.what.startswith(f"{category}/") for row in of_type.rows)
        first = every.rows[-1].started
        later = list_cases(engine, "orders", community=community,
                           period=Period(first + timedelta(seconds=1), None))
        assert later.rows == every.rows[:-1] or first == every.rows[-2].started
        data = every.to_dict()
        assert data["schema_version"] == 1
        assert data["report"] == "list"
        assert [row["id"] for row in data["rows"]] == [str(row.id) for row in every.rows]


def test_a_prefix_naming_several_records_is_refused_naming_them(clock: ManualClock) -> None:
    with Engine("memory:", clock=clock, policy=None) as engine:
        (community, _) = setup_world(engine, clock).communities
        ids = [UUID(f"abcd{n}000-0000-4000-8000-000000000000") for n in (1, 2)]
        for item_id in ids:
            engine.improvements.plan(community, review=f"community/{community}/all time",
                                     action="fix", owner="o", due=T0 + timedelta(days=1),
                                     actor=STAFF, item_id=item_id)
        with pytest.raises(InvalidInputError, match="names 2 records") as refused:
            resolve(engine, "abcd")
        assert all(str(i) in str(refused.value) for i in ids)
        assert resolve(engine, "abcd1") == ids[0]
        assert resolve(engine, "ABCD2000") == ids[1]
        with pytest.raises(NotFoundError):
            resolve(engine, "abcd", ["incident", "order"])


@pytest.mark.parametrize("bad", ["", "   ", None, 7])
def test_nothing_to_resolve_is_refused(bad: Any) -> None:
    with Engine("memory:") as engine, pytest.raises(InvalidInputError):
        resolve(engine, bad)


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "3"])
def test_a_limit_that_is_not_a_positive_integer_is_refused(limit: Any) -> None:
    with Engine("memory:") as engine, pytest.raises(InvalidInputError, match="limit"):
        list_cases(engine, "incidents", limit=limit)


def test_an_unknown_list_or_kind_is_refused() -> None:
    with Engine("memory:") as engine:
        with pytest.raises(InvalidInputError):
            list_cases(engine, "people")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="no kind"):
            resolve(engine, "abcd", ["person"])
        with pytest.raises(NotFoundError):
            resolve(engine, "abcd")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=amended_histories)
def test_every_record_of_a_history_is_listed_once_and_its_short_id_finds_it(
        steps: list[tuple[Any, ...]]) -> None:
    """Over generated histories: the lists hold every incident, order and item once, the
    open ones are those whose status is not ended, and each short id resolves back."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=None) as engine:
        world = setup_world(engine, clock)
        apply_steps(engine, clock, world, steps)
        incidents = list_cases(engine, "incidents")
        orders = list_cases(engine, "orders")
        items = list_items(engine)
        assert sorted(row.id for row in incidents.rows) == sorted(world.incidents)
        assert sorted(row.id for row in orders.rows) == sorted(world.orders)
        assert sorted(row.id for row in items.rows) == sorted(world.improvements)
        for listing in (incidents, orders):
            for row in listing.rows:
                assert row.open == (row.status not in ("closed", "completed", "cancelled",
                                                        "rejected"))
        for grid in ("g1", "g2"):
            assert {row.id for row in list_cases(engine, "incidents", grid=grid).rows} == {
                row.id for row in incidents.rows if row.grid == grid}
        shorts = [row.short for listing in (incidents, orders, items) for row in listing.rows]
        for listing in (incidents, orders, items):
            for row in listing.rows:
                if shorts.count(row.short) == 1:
                    assert resolve(engine, row.short) == row.id


def test_a_location_string_is_not_a_handle(clock: ManualClock) -> None:
    """A text that is neither an id, a prefix nor a known handle names nothing."""
    with Engine("memory:", clock=clock, policy=None) as engine:
        (community, _) = setup_world(engine, clock).communities
        engine.incidents.detect(community, incident_type="fire", severity="high",
                                location=Location(grid="g1", building="g1-b", unit="1"),
                                description="smoke", actor=STAFF,
                                occurred_at=datetime.fromisoformat("2022-02-01T10:00:00+08:00"))
        with pytest.raises(NotFoundError,
                           match="no incident or order or improvement item or hazard or "
                                 "patrol is 'g1-b'"):
            resolve(engine, "g1-b")


# From the command line ----------------------------------------------------------------


def test_the_cli_lists_and_every_report_command_writes_json_and_csv(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``resilience list`` prints short ids that ``timeline`` and ``review`` take back; each
    report command writes its data as JSON (with its schema version) and its table as CSV,
    to stdout or to a file whose extension names the format."""
    db = str(tmp_path / "donghu.db")
    assert main(["replay", str(DONGHU_FIRE), "--db", db]) == 0
    code, out, _ = run(capsys, "list", "incidents", "--db", db, "--format", "json")
    assert code == 0
    (row,) = json.loads(out)["rows"]
    code, table, _ = run(capsys, "list", "incidents", "--db", db)
    assert code == 0
    assert row["short"] in table
    assert "Donghu Community" in table
    by_id = run(capsys, "timeline", row["id"], "--db", db)
    assert by_id[0] == 0
    assert by_id[1].startswith("start ")
    assert run(capsys, "timeline", row["short"], "--db", db)[:2] == by_id[:2]
    assert run(capsys, "timeline", "donghu-fire", "--db", db)[:2] == by_id[:2]
    for command in (["metrics"], ["rates"], ["quality"], ["league"], ["plan"],
                    ["scorecard", "--community", "Donghu Community"],
                    ["situation", "--community", "Donghu Community", "--as-of",
                     "2022-02-15T15:10:00+08:00"],
                    ["timeline", "donghu-fire"], ["recovery", "donghu-fire"],
                    ["list", "orders"]):
        code, out, err = run(capsys, *command, "--db", db, "--format", "json")
        assert code == 0, (command, err)
        data = json.loads(out)
        assert data["schema_version"] == 1, command
        code, out, err = run(capsys, *command, "--db", db, "--format", "csv")
        assert code == 0, (command, err)
        header, *records = list(csv.reader(io.StringIO(out)))
        assert header, command
        assert all(len(record) == len(header) for record in records), command
    path = tmp_path / "metrics.csv"
    assert run(capsys, "metrics", "--db", db, "--out", str(path))[0] == 0
    assert path.read_bytes().decode("utf-8") == run(
        capsys, "metrics", "--db", db, "--format", "csv")[1]
