"""The validation rule: what may enter the store, and the known poisons it refuses.

The rule itself (``resilience.domain.validation``) is tested first; then a corpus of
values that were once accepted and poisoned a store (or leaked a raw TypeError,
OverflowError...) is sent through the public commands: each must be refused with
InvalidInputError, naming the field, and record nothing.
"""

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from cattrs.errors import ClassValidationError

from resilience import (
    Actor,
    Contact,
    Engine,
    InvalidInputError,
    Location,
    ManualClock,
    Provider,
    ResilienceError,
    Role,
    ServiceCatalogue,
    UnitSpec,
)
from resilience.adapters.converter import converter, input_converter
from resilience.domain.base import Context, FactAggregate
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import (
    EARLIEST,
    FREE_TEXT,
    LATEST,
    MAX_INT,
    MAX_ITEMS,
    SHORT_TEXT,
    check_duration,
    check_event,
    check_instance,
    check_items,
    check_moment,
    check_number,
    check_text,
    check_uuid,
    check_whole,
    shown,
)

from conftest import OFFICE, T0

SHANGHAI = ZoneInfo("Asia/Shanghai")
RESIDENT = Actor("p1", Role.RESIDENT)
MEGABYTE = "x" * 1_000_000


# Values that lie: each subclass overrides what a check reads, so the value checked
# would not be the value stored. Shared with the command fuzz (test_fuzz_commands).


class LyingUUID(UUID):
    """Stored through ``str()``, as text that is not a UUID: unreadable for ever."""

    def __str__(self) -> str:
        return "not-a-uuid"


class LyingYear(datetime):
    """Tells a range check it is in 2000; stored as the year it is (9999)."""

    @property
    def year(self) -> int:
        return 2000


class Flipping(tzinfo):
    """A different UTC offset each time it is asked: checked as one, stored as another."""

    def __init__(self) -> None:
        self.calls = 0

    def utcoffset(self, dt: datetime | None) -> timedelta:
        self.calls += 1
        return timedelta(hours=12 * (self.calls % 2))

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> None:
        return None


class HiddenLength(str):
    """Text that says it is one character long."""

    def __len__(self) -> int:
        return 1


class InRange(int):
    """A number that says it lies within any range, however the range is tested."""

    def __ge__(self, other: object) -> bool:
        return True

    def __le__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False


class Unsized(timedelta):
    """A duration that says it is nothing."""

    def __abs__(self) -> timedelta:
        return timedelta(0)


class Unhashable(str):
    """Text whose lookup in a vocabulary raises (not a ValueError)."""

    def __hash__(self) -> int:
        raise RuntimeError("no hash")


class HostileRepr:
    """An object whose ``__repr__`` must not be run in a message."""

    def __repr__(self) -> str:
        raise RuntimeError("ran the __repr__")


def nested(depth: int) -> list[Any]:
    """``[[[...]]]``, ``depth`` lists deep."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


DEEP = nested(10_000)
LIARS: list[Any] = [LyingUUID(int=7), LyingYear(9999, 12, 31, 23, tzinfo=UTC),
                    datetime(2022, 2, 15, 15, tzinfo=Flipping()), HiddenLength(MEGABYTE),
                    InRange(10**30), Unsized(days=10**8), Unhashable("fire")]
"""One of each, for the fuzz's hostile values."""


# The rule --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\ud800", "ok\udbff", "a\x00b", "\x1b[31m", "a\rb",
                                 "\x7f", "\x85", "\u009b", "\x0b", "\x0c"])
def test_text_refuses_lone_surrogates_and_control_characters(bad: str) -> None:
    """Surrogates, C0 and C1 controls, DEL and carriage returns are refused, naming the field."""
    with pytest.raises(InvalidInputError, match=r"^note contains .* \(U\+"):
        check_text(bad, "note")


def test_text_keeps_newlines_tabs_and_every_script() -> None:
    """Newline and tab are the only control characters kept; any script, emoji or mark is."""
    for good in ("多行\n文本\tok", "Zhang Chuanlian 張傳蓮", "🔥 2F", "e\u0301", "\u202eRTL", ""):
        assert check_text(good, "note") is good


def test_text_limits_are_short_for_ids_and_names_and_long_for_free_text() -> None:
    """Identifiers and names hold 200 characters; free-text fields 10,000."""
    assert check_text("x" * SHORT_TEXT, "grid_id") == "x" * SHORT_TEXT
    with pytest.raises(InvalidInputError, match="grid_id must be at most 200 characters"):
        check_text("x" * (SHORT_TEXT + 1), "grid_id")
    assert check_text("x" * FREE_TEXT, "Incident.NoteAdded.text")
    with pytest.raises(InvalidInputError, match="at most 10,000 characters, got 1,000,000"):
        check_text(MEGABYTE, "description")


@pytest.mark.parametrize("bad", [True, False, 1.5, 3.0, "3", math.nan, math.inf, None, [3],
                                 MAX_INT + 1, -MAX_INT - 1, 10**30])
def test_whole_numbers_are_ints_never_bools_floats_or_text(bad: Any) -> None:
    """"3" is not 3, 1.5 and 3.0 are not whole, True is not a number, 10**30 is out of range."""
    with pytest.raises(InvalidInputError, match="participants must be a whole number"):
        check_whole(bad, "participants")


@pytest.mark.parametrize("bad", [
    datetime(2022, 2, 15, 15), datetime(9999, 12, 31, tzinfo=UTC), datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=UTC), datetime(1899, 12, 31, 23, 59, 59, tzinfo=UTC),
    LATEST, datetime(1900, 1, 1, 8, tzinfo=SHANGHAI),
    datetime(2022, 1, 1, tzinfo=timezone(timedelta(microseconds=1))), "2022-02-15T15:00Z", 0,
])
def test_moments_are_aware_and_from_1900_to_before_2200(bad: Any) -> None:
    """Naive, far, sub-second-offset datetimes and non-datetimes are refused, naming the field."""
    with pytest.raises(InvalidInputError, match=r"^due"):
        check_moment(bad, "due")


def test_the_range_edges_and_odd_offsets_are_accepted_and_read_back_equal() -> None:
    """EARLIEST, the last microsecond before LATEST, and an offset in seconds round-trip."""
    for good in (EARLIEST, LATEST - timedelta(microseconds=1),
                 datetime(1900, 1, 1, 8, 6, tzinfo=SHANGHAI)):
        assert check_moment(good, "at") is good
        assert converter.structure(converter.unstructure(good), datetime) == good


@pytest.mark.parametrize(("check", "value", "base"), [
    (check_uuid, LyingUUID(int=7), "a UUID"),
    (check_moment, LyingYear(9999, 12, 31, 23, tzinfo=UTC), "a datetime"),
    (check_duration, Unsized(days=10**8), "a timedelta"),
    (check_text, HiddenLength(MEGABYTE), "text"),
    (check_text, Unhashable("fire"), "text"),
    (check_number, type("Tiny", (float,), {"__abs__": lambda self: 0.0})(1e300), "a number"),
    (check_items, type("Few", (list,), {"__len__": lambda self: 0})([1] * 2000), "a list or tuple"),
    (lambda value, name: check_instance(value, name, Location),
     type("Elsewhere", (Location,), {})(), "a Location"),
], ids=["uuid", "datetime", "timedelta", "str", "str-hash", "float", "list", "value-object"])
def test_values_are_of_exactly_the_declared_type_never_a_subclass(
        check: Callable[..., object], value: Any, base: str) -> None:
    """A subclass could lie to the check (``__str__``, ``.year``, ``__abs__``, ``__len__``)
    and store something else than what was checked: it is refused, saying why."""
    args = (value, "x", lambda item, name: item) if check is check_items else (value, "x")
    with pytest.raises(InvalidInputError, match=f"^x must be {base} itself, not an instance "
                                                f"of the subclass {type(value).__name__}"):
        check(*args)


def test_a_whole_number_that_lies_about_its_range_is_refused() -> None:
    """An int subclass that compares within any range is not a whole number here."""
    with pytest.raises(InvalidInputError, match="floor must be a whole number from -20 to 300"):
        check_whole(InRange(10**30), "floor", -20, 300)


def test_a_moment_carries_a_zoneinfo_or_a_timezone_exactly() -> None:
    """Any other tzinfo could answer each ``utcoffset()`` differently (the check, the
    stored text, the comparison): refused, naming the two that are accepted."""
    flipping = datetime(2022, 2, 15, 15, tzinfo=Flipping())
    with pytest.raises(InvalidInputError, match=r"^due's tzinfo must be a time zone \(a "
                                                r"zoneinfo.ZoneInfo or a datetime.timezone\)"):
        check_moment(flipping, "due")
    for good in (T0, T0.astimezone(UTC), T0.astimezone(timezone(timedelta(hours=-5))),
                 T0.astimezone(ZoneInfo("UTC"))):
        assert check_moment(good, "due") is good
        assert converter.structure(converter.unstructure(good), datetime) == good


@pytest.mark.parametrize("value", [
    DEEP, "x" * 5_000_000, HostileRepr(), [HostileRepr()] * 3, {"k": DEEP}, 10**10_000,
    HiddenLength(MEGABYTE), b"y" * 5_000_000, LyingUUID(int=1),
], ids=["deep", "5MB", "hostile-repr", "list-of-hostile", "dict", "huge-int", "str-subclass",
        "bytes", "uuid-subclass"])
def test_a_message_shows_any_value_briefly_without_running_its_repr(value: Any) -> None:
    """``shown`` is at most 60 characters, whatever the value: nested thousands deep,
    megabytes long, or with a ``__repr__`` that raises (which is not run)."""
    text = shown(value)
    assert 0 < len(text) <= 60
    assert "ran the __repr__" not in text


AGGREGATES = (Community, Incident, ServiceOrder, ImprovementItem)
EVENT_CLASSES = [value for aggregate in AGGREGATES for value in vars(aggregate).values()
                 if isinstance(value, type) and issubclass(value, FactAggregate.Event)]


@pytest.mark.parametrize("event_class", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_every_event_field_has_a_rule_for_its_declared_type(event_class: type[Any]) -> None:
    """The walker knows every declared field type of every event (a new type fails here)."""
    check_event(event_class, {})


def test_the_choke_point_refuses_what_a_command_forgot_to_check() -> None:
    """An event triggered with a poisoned field is refused before it joins the aggregate."""
    with Engine("memory:", clock=ManualClock(T0)) as engine:
        community = engine.communities.register(district="d", subdistrict="s", name="n",
                                                actor=OFFICE).aggregate_id
        aggregate = engine.communities.get(community)
        ctx = Context(OFFICE, T0, T0)
        with pytest.raises(InvalidInputError, match=r"^GridAdded\.name contains"):
            aggregate._trigger(Community.GridAdded, ctx, grid_id="g1", name="\ud800")
        with pytest.raises(InvalidInputError, match=r"ActivityHeld\.participants must be"):
            aggregate._trigger(Community.ActivityHeld, ctx, title="t", category="c",
                               grid_id=None, participants=True)
        with pytest.raises(InvalidInputError, match=r"BuildingAdded\.units must be a tuple"):
            aggregate._trigger(Community.BuildingAdded, ctx, building_id="b", parent="g",
                               name="b", units=[UnitSpec("1")])
        assert aggregate.version == 1
        assert not aggregate.collect_events()


@pytest.mark.parametrize(("value", "wanted"), [
    ({"floor": "3"}, "a whole number"), ({"floor": 1.5}, "a whole number"),
    ({"floor": True}, "a whole number"), ({"grid": 3}, "text"),
])
def test_stored_values_are_read_back_as_stored_never_converted(value: dict[str, Any],
                                                                wanted: str) -> None:
    """The converter refuses a JSON value of another type instead of converting it."""
    with pytest.raises(InvalidInputError, match=f"expected {wanted}"):
        converter.structure(value, Location)
    with pytest.raises(ClassValidationError):
        input_converter.structure(value, Location)


# Known poisons, through the commands -----------------------------------------------------


@pytest.fixture
def world() -> Any:
    """A community (grid g1, building b1), an incident, an order and an improvement item."""
    with Engine("memory:", clock=ManualClock(T0 + timedelta(minutes=5))) as engine:
        c = engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                        name="Donghu", actor=OFFICE,
                                        occurred_at=T0 - timedelta(days=1)).aggregate_id
        engine.communities.add_grid(c, "g1", actor=OFFICE)
        engine.communities.add_building(c, "b1", "g1", [UnitSpec("1", 24)], actor=OFFICE)
        engine.communities.enrol(c, "p1", "Li", actor=OFFICE)
        i = engine.incidents.report(c, incident_type="fire", severity="high",
                                    location=Location(building="b1"), description="smoke",
                                    actor=OFFICE, occurred_at=T0).aggregate_id
        o = engine.orders.place(c, household_id="h1", area_id="b1", category="home",
                                item="repair", actor=RESIDENT, occurred_at=T0).aggregate_id
        engine.orders.accept(o, actor=OFFICE)
        engine.orders.dispatch(o, Provider("grid_worker", "p1"), actor=OFFICE)
        engine.orders.complete(o, "fixed", actor=OFFICE)
        item = engine.improvements.plan(c, review=f"incident/{i}", action="fit a lock",
                                        owner="p1", due=T0 + timedelta(days=9),
                                        actor=OFFICE, occurred_at=T0).aggregate_id
        yield engine, c, i, o, item


FAR = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
LAST_MINUTE = datetime(2199, 12, 31, 23, 59, tzinfo=UTC)
Poison = Callable[..., object]  # (engine, community, incident, order, item): untyped on purpose


def untyped(value: object) -> Any:
    """A value of the wrong type, passed on purpose."""
    return value

POISONS: list[tuple[str, str, Poison]] = [
    ("lone surrogate in an area id", "area id contains a lone surrogate",
     lambda e, c, i, o, it: e.communities.add_grid(c, "\ud800", actor=OFFICE)),
    ("lone low surrogate in a description", "description contains a lone surrogate",
     lambda e, c, i, o, it: e.incidents.find_source(i, "basement \udfff", actor=OFFICE)),
    ("NUL in a note", "text contains a control character",
     lambda e, c, i, o, it: e.orders.add_note(o, "a\x00b", actor=OFFICE)),
    ("terminal escape in a name", "name contains a control character",
     lambda e, c, i, o, it: e.communities.enrol(c, "p9", "\x1b[31mred", actor=OFFICE)),
    ("surrogate in a command id", "command_id contains a lone surrogate",
     lambda e, c, i, o, it: e.incidents.acknowledge(i, actor=OFFICE, command_id="\ud800")),
    ("surrogate in an actor", "person_id contains a lone surrogate",
     lambda e, c, i, o, it: e.incidents.acknowledge(i, actor=Actor("\ud800", Role.VOLUNTEER))),
    ("NaN floor", "floor must be a whole number",
     lambda e, c, i, o, it: _report(e, c, Location(building="b1", floor=untyped(math.nan)))),
    ("infinite floor", "floor must be a whole number",
     lambda e, c, i, o, it: _report(e, c, Location(building="b1", floor=untyped(math.inf)))),
    ("1.5 floor", "floor must be a whole number",
     lambda e, c, i, o, it: _report(e, c, Location(building="b1", floor=untyped(1.5)))),
    ('"3" floor', "floor must be a whole number",
     lambda e, c, i, o, it: _report(e, c, Location(building="b1", floor=untyped("3")))),
    ("True floor", "floor must be a whole number",
     lambda e, c, i, o, it: _report(e, c, Location(building="b1", floor=untyped(True)))),
    ("floor 10**30", "floor must be a whole number from -20 to 300",
     lambda e, c, i, o, it: _report(e, c, Location(building="b1", floor=untyped(10**30)))),
    ("skills as a string", "skills must be a list or tuple",
     lambda e, c, i, o, it: e.communities.enrol(c, "p9", "Wang", skills="cpr", actor=OFFICE)),
    ("equipment as a string", "equipment must be a list or tuple",
     lambda e, c, i, o, it: e.incidents.take_action(i, "other", "x", "axe", actor=OFFICE)),
    ("responders as a number", "responder_ids must be a list or tuple",
     lambda e, c, i, o, it: e.incidents.dispatch(i, 5, actor=OFFICE)),
    ("too many units", "units must have at most 1,000 items",
     lambda e, c, i, o, it: e.communities.add_building(
         c, "b2", "g1", [UnitSpec(str(n)) for n in range(MAX_ITEMS + 1)], actor=OFFICE)),
    ("participants 10**30", "participants must be a whole number",
     lambda e, c, i, o, it: e.communities.hold_activity(c, title="t", category="health",
                                                        participants=10**30, actor=OFFICE)),
    ("households 10**30", "households must be a whole number from 0 to 10000",
     lambda e, c, i, o, it: e.communities.add_building(c, "b2", "g1", [UnitSpec("1", 10**30)],
                                                       actor=OFFICE)),
    ("a correction of version 10**30", "corrects must be a whole number",
     lambda e, c, i, o, it: e.incidents.correct_details(i, 10**30, "x", "y", actor=OFFICE)),
    ("a correction of version True", "corrects must be a whole number",
     lambda e, c, i, o, it: e.incidents.correct_details(i, True, "x", "y", actor=OFFICE)),
    ("a rating True", "a rating must be a whole number",
     lambda e, c, i, o, it: e.orders.rate(o, True, actor=RESIDENT)),
    ("drill as text", "drill must be True or False",
     lambda e, c, i, o, it: e.incidents.report(c, incident_type="fire", severity="low",
                                               location=Location(), description="x",
                                               drill="no", actor=OFFICE)),
    ("year-9999 occurred_at", "occurred_at must be from 1900-01-01 to before 2200-01-01",
     lambda e, c, i, o, it: e.incidents.add_note(i, "x", actor=OFFICE, occurred_at=FAR)),
    ("year-9999 due date", "due must be from 1900-01-01",
     lambda e, c, i, o, it: e.improvements.reschedule(it, FAR, "later", actor=OFFICE)),
    ("year-9999 expected_by", "expected_by must be from 1900-01-01",
     lambda e, c, i, o, it: e.orders.place(c, household_id="h1", area_id="b1",
                                           category="home", item="repair", expected_by=FAR,
                                           actor=RESIDENT)),
    ("datetime.max corrected_to", "corrected_to must be from 1900-01-01",
     lambda e, c, i, o, it: e.incidents.correct_time(i, 1, datetime.max.replace(tzinfo=UTC),
                                                     "typo", actor=OFFICE)),
    ("the last minute plus the catalogue's expected time", "expected_by (by default) must be",
     lambda e, c, i, o, it: e.orders.place(c, household_id="h1", area_id="b1",
                                           category="home", item="repair",
                                           occurred_at=LAST_MINUTE, actor=RESIDENT)),
    ("a naive occurred_at", "occurred_at must be timezone-aware",
     lambda e, c, i, o, it: e.incidents.add_note(i, "x", actor=OFFICE,
                                                 occurred_at=datetime(2022, 2, 15, 15, 1))),
    ("a naive detected_at", "occurred_at must be timezone-aware",
     lambda e, c, i, o, it: e.incidents.report(c, incident_type="fire", severity="low",
                                               location=Location(), description="x",
                                               detected_at=datetime(2022, 2, 15),
                                               actor=OFFICE)),
    ("a naive due date", "due must be timezone-aware",
     lambda e, c, i, o, it: e.improvements.reschedule(it, datetime(2023, 1, 1), "later",
                                                      actor=OFFICE)),
    ("an int for a datetime", "occurred_at must be a datetime, got int",
     lambda e, c, i, o, it: e.incidents.add_note(i, "x", actor=OFFICE, occurred_at=0)),
    ("a megabyte description", "description must be at most 10,000 characters",
     lambda e, c, i, o, it: e.incidents.find_source(i, MEGABYTE, actor=OFFICE)),
    ("a megabyte area id", "must be at most 200 characters",
     lambda e, c, i, o, it: e.communities.add_grid(c, MEGABYTE, actor=OFFICE)),
    ("a dict for a name", "name must be text, got dict",
     lambda e, c, i, o, it: e.communities.add_grid(c, "g2", {"a": 1}, actor=OFFICE)),
    ("a dict for a catalogue item", "item must be text, got dict",
     lambda e, c, i, o, it: e.orders.place(c, household_id="h1", area_id="b1",
                                           category="home", item={"a": 1}, actor=RESIDENT)),
    ("a list for an area id", "area id must be text, got list",
     lambda e, c, i, o, it: e.communities.classify_zone(c, ["b1"], "old_estate",
                                                        actor=OFFICE)),
    ("a number for a note", "note must be text, got int",
     lambda e, c, i, o, it: e.orders.complete(o, "not_fixed", 5, actor=OFFICE)),
    ("text for an incident id", "incident_id must be a UUID",
     lambda e, c, i, o, it: e.incidents.report(c, incident_type="fire", severity="low",
                                               location=Location(), description="x",
                                               incident_id=str(i), actor=OFFICE)),
    ("a contact with a surrogate", "phone contains a lone surrogate",
     lambda e, c, i, o, it: Contact("Li", "110\ud800")),
    ("a provider with a control character", "name contains a control character",
     lambda e, c, i, o, it: e.orders.dispatch(o, Provider("grid_worker", "p1", "\x07"),
                                              actor=OFFICE)),
    ("a UUID subclass as the community", "community id must be a UUID itself",
     lambda e, c, i, o, it: _report(e, LyingUUID(int=c.int), Location())),
    ("a UUID subclass as the new incident's id", "incident_id must be a UUID itself",
     lambda e, c, i, o, it: e.incidents.report(c, incident_type="fire", severity="low",
                                               location=Location(), description="x",
                                               incident_id=LyingUUID(int=9), actor=OFFICE)),
    ("a UUID subclass as the incident", "incident id must be a UUID itself",
     lambda e, c, i, o, it: e.incidents.add_note(LyingUUID(int=i.int), "x", actor=OFFICE)),
    ("a datetime subclass that says it is in 2000", "occurred_at must be a datetime itself",
     lambda e, c, i, o, it: e.incidents.add_note(
         i, "x", actor=OFFICE, occurred_at=LyingYear(9999, 12, 31, 23, tzinfo=UTC))),
    ("a due date that says it is in 2000", "due must be a datetime itself",
     lambda e, c, i, o, it: e.improvements.reschedule(
         it, LyingYear(9999, 12, 31, 23, tzinfo=UTC), "later", actor=OFFICE)),
    ("a time zone with a new offset each time", "occurred_at's tzinfo must be a time zone",
     lambda e, c, i, o, it: e.incidents.add_note(
         i, "x", actor=OFFICE, occurred_at=datetime(2022, 2, 15, 15, 1, tzinfo=Flipping()))),
    ("a wall time New York repeats", "happened twice in America/New_York",
     lambda e, c, i, o, it: e.incidents.add_note(i, "x", actor=OFFICE, occurred_at=datetime(
         2022, 11, 6, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")))),
    ("a wall time New York skips", "never happened in America/New_York",
     lambda e, c, i, o, it: e.incidents.add_note(i, "x", actor=OFFICE, occurred_at=datetime(
         2022, 3, 13, 2, 30, tzinfo=ZoneInfo("America/New_York")))),
    ("text that hides its length", "description must be text itself",
     lambda e, c, i, o, it: e.incidents.find_source(i, HiddenLength(MEGABYTE), actor=OFFICE)),
    ("an incident type whose hash raises", "incident_type must be one of",
     lambda e, c, i, o, it: e.incidents.report(c, incident_type=Unhashable("fire"),
                                               severity="low", location=Location(),
                                               description="x", actor=OFFICE)),
    ("a floor that says it is in range", "floor must be a whole number from -20 to 300",
     lambda e, c, i, o, it: _report(e, c, Location(floor=InRange(10**30)))),
    ("participants that say they are in range", "participants must be a whole number",
     lambda e, c, i, o, it: e.communities.hold_activity(c, title="t", category="health",
                                                        participants=InRange(-5),
                                                        actor=OFFICE)),
    ("a Location subclass", "location must be a Location itself",
     lambda e, c, i, o, it: _report(e, c, type("Elsewhere", (Location,), {})())),
]


def _report(engine: Engine, community: UUID, location: Location) -> object:
    return engine.incidents.report(community, incident_type="fire", severity="low",
                                   location=location, description="x", actor=OFFICE)


@pytest.mark.parametrize(("poison", "message", "command"), POISONS, ids=[p[0] for p in POISONS])
def test_a_known_poison_is_refused_naming_the_field_and_records_nothing(
        world: Any, poison: str, message: str, command: Poison) -> None:
    """Each value that once poisoned a store (or leaked a raw exception) is InvalidInputError."""
    engine = world[0]
    before = engine.app.recorder.max_notification_id()
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        command(*world)
    assert engine.app.recorder.max_notification_id() == before


@pytest.mark.parametrize("bad", [["not", "hashable"], {"a": 1}])
def test_an_unhashable_aggregate_id_is_invalid_input(world: Any, bad: Any) -> None:
    """An aggregate id that is not even hashable is refused as invalid input."""
    with pytest.raises(InvalidInputError):
        world[0].incidents.acknowledge(bad, actor=OFFICE)


@pytest.mark.parametrize("value", [DEEP, "x" * 5_000_000, HostileRepr(), LyingUUID(int=1)],
                         ids=["deep", "5MB", "hostile-repr", "uuid-subclass"])
def test_a_query_given_any_value_refuses_it_at_once_with_a_short_message(
        world: Any, value: Any) -> None:
    """A list nested 10,000 deep, 5 MB of text or an object whose ``__repr__`` raises, given
    as an id, a metric, a rate, a unit, a flag, a grid, a grouping, a period or a level: a
    ResilienceError with a message of a line (never a RecursionError, never the value
    echoed whole)."""
    engine, c, i = world[:3]
    queries: list[Callable[[], object]] = [
        lambda: engine.incidents.get(value), lambda: engine.orders.get(value),
        lambda: engine.timeline(value), lambda: engine.metrics(value),
        lambda: engine.compare([value]), lambda: engine.scorecard(c, grid=value),
        lambda: engine.scorecard(value), lambda: engine.metrics("turnout", group_by=value),
        lambda: engine.metrics("turnout", group_by=[value]),
        lambda: engine.metrics("turnout", period=value),
        lambda: engine.metrics("turnout", community=value),
        lambda: engine.metrics("turnout", tz=value),
        lambda: engine.metrics("turnout", known_at=value),
        lambda: engine.league_table(level=value),
        lambda: engine.incidents.acknowledge(i, actor=value),
        lambda: engine.data_quality(late_after=value),
        lambda: engine.events(value), lambda: engine.stored_events(value),
        lambda: engine.review(value), lambda: engine.replay.incident(value),
        lambda: engine.replay.order(value), lambda: engine.review(i, as_of=value),
        lambda: engine.reviews.incidents(value), lambda: engine.reviews.incidents(c, grid=value),
        lambda: engine.improvements.items(value), lambda: engine.improvements.item(value),
        lambda: engine.rates(value), lambda: engine.rates(group_by=value),
        lambda: engine.rates(rates=[value]), lambda: engine.rates(community=value),
        lambda: engine.metrics("turnout", as_closed=value),
        lambda: engine.compare(["turnout"], as_closed=value),
        lambda: engine.metrics("turnout").in_unit(value),
        lambda: engine.league_table(value), lambda: engine.scorecard(c, rates=[value]),
        lambda: engine.replay.metrics("turnout", known_at=value),
    ]
    for query in queries:
        with pytest.raises(ResilienceError) as caught:
            query()
        assert len(str(caught.value)) < 300, str(caught.value)[:300]
        assert "ran the __repr__" not in str(caught.value)


def test_a_clock_that_cannot_be_called_is_refused_when_given() -> None:
    """``Engine(clock=5)`` and ``with_clock(None)`` are InvalidInputError at once, not a
    TypeError from every later command."""
    with pytest.raises(InvalidInputError, match="clock must be a callable"):
        Engine("memory:", clock=untyped(5))
    with Engine("memory:", clock=ManualClock(T0)) as engine:
        with pytest.raises(InvalidInputError, match=r"clock must be a callable .* got None"):
            engine.with_clock(untyped(None))
        assert engine.with_clock(ManualClock(T0)).clock() == T0


def test_a_catalogue_refuses_durations_that_would_overflow_or_are_not_numbers() -> None:
    """A catalogue's expected minutes are a finite number within a year; nothing is coerced."""
    for minutes in (1e30, math.nan, math.inf, "60", True, None, 10**30):
        with pytest.raises(InvalidInputError, match="malformed catalogue entry"):
            ServiceCatalogue.from_json([{"category": "home", "item": "repair",
                                         "expected_minutes": minutes}])
    with pytest.raises(InvalidInputError, match="category must be text"):
        ServiceCatalogue.from_json([{"category": 3, "item": "repair", "expected_minutes": 60}])


def test_a_manual_clock_refuses_to_leave_the_accepted_range() -> None:
    """Advancing a clock by a huge or far-reaching step (or one that says it is nothing) is
    refused, not an OverflowError."""
    clock = ManualClock(T0)
    for step in (timedelta.max, timedelta(days=365 * 200), Unsized(days=10**8)):
        with pytest.raises(InvalidInputError):
            clock.advance(step)
    assert clock() == T0


def test_reports_run_on_facts_at_the_edges_of_the_range(tmp_path: Any) -> None:
    """Facts on the first and last accepted days are stored on SQLite, read back, reviewed."""
    first, last = EARLIEST, LATEST - timedelta(minutes=1)
    with Engine(f"sqlite:///{tmp_path / 'edges.db'}", clock=ManualClock(last)) as engine:
        c = engine.communities.register(district="d", subdistrict="s", name="n", actor=OFFICE,
                                        occurred_at=first).aggregate_id
        engine.communities.add_grid(c, "g1", actor=OFFICE, occurred_at=first)
        i = engine.incidents.report(c, incident_type="fire", severity="high",
                                    location=Location(grid="g1"), description="x",
                                    actor=OFFICE, occurred_at=first).aggregate_id
        engine.incidents.contain(i, actor=OFFICE, occurred_at=last)
        engine.incidents.resolve(i, "done", actor=OFFICE, occurred_at=last)
        assert engine.timeline(i).elapsed_until("Contained") == last - first
        engine.review(i)
        engine.data_quality()


def test_a_value_stored_before_a_rule_was_tightened_is_still_read_back() -> None:
    """Stored value objects are rebuilt without their validators: a carriage return or a
    floor an earlier version accepted stays readable (scenario input stays strict)."""
    with Engine("memory:", clock=ManualClock(T0)) as engine:
        c = engine.communities.register(district="d", subdistrict="s", name="n",
                                        actor=OFFICE).aggregate_id
        engine.communities.add_grid(c, "g1", actor=OFFICE)
        i = engine.incidents.report(c, incident_type="fire", severity="low",
                                    location=Location(grid="g1", floor=2, description="a"),
                                    description="x", actor=OFFICE).aggregate_id
        stored = engine.stored_events(i)[0]
        old = stored.state.replace(b'"floor":2', b'"floor":999').replace(
            b'"description":"a"', b'"description":"a\\r\\nb"')
        assert old != stored.state
        mapper = engine.app.mapper
        event = mapper.to_domain_event(type(stored)(stored.originator_id,
                                                    stored.originator_version,
                                                    stored.topic, old))
        assert isinstance(event, Incident.Detected)
        assert (event.location.floor, event.location.description) == (999, "a\r\nb")
    with pytest.raises(ClassValidationError):
        input_converter.structure({"grid": "g1", "floor": 999}, Location)
