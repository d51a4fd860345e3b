"""Nothing accepted may poison the store: arbitrary commands with valid and hostile values.

Each example builds a small world (a community with grids, a building, people, an
incident, an order, an improvement item, an emergency, a patrol, a grid's patrol plan, a
hazard), then sends a random sequence of commands
through the public services with values drawn from valid ones and hostile ones (lone
surrogates, control characters, NaN and infinities, huge integers, bools for numbers,
strings for lists, wrong types, naive and extreme datetimes, huge texts, and subclasses
that lie to a check: a UUID whose text is not a UUID, a datetime that misstates its year,
a time zone with a new offset each time, text that hides its length). Every call
either raises a documented error (a ``ResilienceError``) and records nothing, or is
accepted: then every event it recorded reads back equal through the mapper and from
the store. At the end the views, caught up along the way, equal a rebuild and hold a
document of each hazard, patrol and patrol plan accepted; the reports
(timelines, metrics, data quality, service KPIs, scorecard, reviews in every format)
run; and on a SQLite file a second engine reads back the same events.

``RESILIENCE_FUZZ_STATS=1 pytest -s tests/test_fuzz_commands.py`` prints how many
calls were tried, rejected and accepted, per command and for valid and poisoned steps;
``RESILIENCE_FUZZ_DEBUG=1`` also prints why each all-valid call was refused;
``RESILIENCE_FUZZ_EXAMPLES=N`` runs N examples in memory (default 40) and N/4 on SQLite.
"""

import math
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import (
    BUILT_IN,
    Actor,
    AssigneeKind,
    CareCard,
    Contact,
    Engine,
    Frequency,
    HazardCategory,
    Location,
    ManualClock,
    PatrolRule,
    PatrolVisit,
    Provider,
    Receipt,
    ResilienceError,
    Role,
    UnitSpec,
)
from resilience.domain.base import FactAggregate
from resilience.domain.emergency import EmergencyKind
from resilience.domain.values import (
    ActionKind,
    ClosureReason,
    Employment,
    IncidentType,
    ProviderKind,
    ServiceOutcome,
    Severity,
    ZoneType,
)
from resilience.review import review_to_html, review_to_json, review_to_markdown
from resilience.services.core import FactService
from test_validation import Flipping, HiddenLength, InRange, LyingUUID, LyingYear, Unhashable

from conftest import OFFICE, T0, pg_schema, require_postgres

Draw = Callable[["P"], Any]
Call = Callable[[], object]

RESIDENT = Actor("p1", Role.RESIDENT)
MEGABYTE = "x" * 1_000_000

# Hostile values -------------------------------------------------------------------------


@attrs.frozen
class Make:
    """A value object to build inside the call, so that its own refusal counts too."""

    cls: Callable[..., Any]
    kwargs: dict[str, Any]


def build(value: Any) -> Any:
    if isinstance(value, Make):
        return value.cls(**{k: build(v) for k, v in value.kwargs.items()})
    if isinstance(value, list):
        return [build(v) for v in value]
    if isinstance(value, tuple):
        return tuple(build(v) for v in value)
    return value


POISON_TEXT = ("\ud800", "\udfff", "a\ud800b", "a\x00b", "\x1b[31m", "line\rfeed", "\x7f",
               "\x85", "\u009b", "x" * 201, "y" * 10_001, MEGABYTE, "", " \n\t ",
               HiddenLength(MEGABYTE), HiddenLength("p1"))
NOT_TEXT: tuple[Any, ...] = (None, 3, 0, -1, 10**30, 1.5, math.nan, math.inf, True, False,
                             b"bytes", ["a"], ("a",), {"a": 1}, {"a"}, object(),
                             UUID(int=7), Role.VOLUNTEER, date(2022, 2, 15),
                             # Built inside the call: Hypothesis hashes what it draws.
                             Make(Unhashable, {"object": "fire"}))
NUMBERS: tuple[Any, ...] = (math.nan, math.inf, -math.inf, 1.5, 3.0, "3", True, False,
                            10**30, -(10**30), 2**63, 2**53, -1, None, [3], {"n": 3},
                            InRange(10**30), InRange(-1), InRange(3))
_SECONDS = timezone(timedelta(seconds=20_000))
_MICRO = timezone(timedelta(microseconds=1))
BAD_MOMENTS: tuple[Any, ...] = (
    T0.replace(tzinfo=None), datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=timezone(timedelta(hours=-5))),
    datetime(1899, 12, 31, 23, 59, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC),
    datetime(1900, 1, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai")),  # 1899 in UTC (LMT +08:05:43)
    # Wall times New York repeats (either fold) and skips at its daylight-saving changes.
    datetime(2022, 11, 6, 1, 30, tzinfo=ZoneInfo("America/New_York")),
    datetime(2022, 11, 6, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
    datetime(2022, 3, 13, 2, 30, tzinfo=ZoneInfo("America/New_York")),
    T0.replace(tzinfo=_MICRO), date(2022, 2, 15), "2022-02-15T15:00:00+08:00", 0,
    T0.timestamp(), timedelta(minutes=5), True, ["2022"],
    LyingYear(9999, 12, 31, 23, tzinfo=UTC), LyingYear(2022, 2, 15, 15, tzinfo=UTC),
    T0.replace(tzinfo=Flipping()),
)
EDGE_MOMENTS: tuple[datetime, ...] = (
    datetime(1900, 1, 1, tzinfo=UTC), datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(1900, 1, 1, 8, 6, tzinfo=ZoneInfo("Asia/Shanghai")), T0.astimezone(_SECONDS),
)



class Unsized(list):  # type: ignore[type-arg]
    """A list that says it is empty."""

    def __len__(self) -> int:
        return 0


# Parameters: valid values, and hostile ones -----------------------------------------------


@attrs.frozen
class P:
    """A parameter's values: ``valid`` ones, and ``hostile`` ones that must be refused or kept
    exactly (a step either sends only valid values, or lets any parameter turn hostile)."""

    valid: st.SearchStrategy[Any]
    hostile: st.SearchStrategy[Any]

    def strategy(self, poisoned: bool) -> st.SearchStrategy[Any]:
        if not poisoned:
            return self.valid
        return st.one_of(self.valid, self.valid, self.valid, self.hostile)


ANY_CHARS = st.characters(exclude_categories=())  # surrogates and controls included
RANDOM_TEXT = st.text(ANY_CHARS, max_size=6)


def text(*choices: str) -> P:
    """One of ``choices``; hostile: poisoned text, random code points, or no text at all."""
    return P(st.sampled_from(choices),
             st.sampled_from(POISON_TEXT + NOT_TEXT) | RANDOM_TEXT)


def optional(param: P) -> P:
    return P(st.none() | param.valid, param.hostile)


def vocabulary(enum: type[Enum]) -> P:
    """A member or its value as text; hostile: something that is neither."""
    return P(st.sampled_from(list(enum)) | st.sampled_from([m.value for m in enum]),
             st.sampled_from(("bogus", " fire", "FIRE", *NOT_TEXT)))


def number(valid: st.SearchStrategy[int | None]) -> P:
    return P(valid, st.sampled_from(NUMBERS))


def items(param: P) -> P:
    """A list or tuple of values; hostile: a string (which must not become its characters),
    too many items, an iterator, or a list with hostile items."""
    lists = st.lists(param.valid, max_size=3, unique_by=repr)
    bad = st.lists(param.strategy(True), min_size=1, max_size=3)
    return P(lists | lists.map(tuple),
             bad | st.sampled_from(("cpr", "", "a,b", ["a"] * 1001, iter(["a"]), *NOT_TEXT,
                                    Unsized(["a"] * 1001))))


def make(cls: Callable[..., Any], **fields: P) -> P:
    """A value object built from ``fields``; hostile: hostile fields, or not the object."""
    def built(kwargs: dict[str, Any]) -> Make:
        return Make(cls, kwargs)
    valid = st.fixed_dictionaries({k: f.valid for k, f in fields.items()}).map(built)
    bad = st.fixed_dictionaries({k: f.strategy(True) for k, f in fields.items()}).map(built)
    return P(valid, bad | st.sampled_from(NOT_TEXT))


def one_of(*options: Any) -> P:
    return P(st.sampled_from(options), st.nothing())


AREAS = text("g1", "g2", "m1", "b1", "b1/1", "b1/2", "nowhere")
NEW_AREAS = text("g3", "g4", "m2", "b2", "b3", "g1")
PEOPLE = text("p1", "p2", "p3", "zhang")
NAMES = text("", "Grid one", "東湖", "name")
FREE = text("smoke", "多行\n文本\tok", "z" * 300, "a reason")
INTS = number(st.integers(-5, 50))
VERSIONS = number(st.integers(0, 12))
ACTIVITIES = number(st.sampled_from((8, 8, 8, 1, 0, 99)))  # 8: setup_world's activity
SERVICES = P(st.sampled_from([("meals", "meal_delivery"), ("home", "repair"),
                              ("health", "rehab_care"), ("meals", "repair")]),
             st.tuples(text("meals").hostile, text("repair").strategy(True)))
_ZONES = st.sampled_from([UTC, ZoneInfo("Asia/Shanghai"), timezone(timedelta(hours=-5)),
                          ZoneInfo("America/New_York")])
MOMENTS = P(st.none() | st.none() | st.builds(
                lambda m, z: (T0 + timedelta(minutes=m)).astimezone(z),
                st.integers(-60, 600), _ZONES) | st.sampled_from(EDGE_MOMENTS),
            st.sampled_from(BAD_MOMENTS))
LATER = P(st.builds(lambda days: T0 + timedelta(days=days), st.integers(-2, 400))
          | st.sampled_from(EDGE_MOMENTS), st.sampled_from(BAD_MOMENTS))
COMMAND_IDS = P(st.none() | st.none() | st.sampled_from(["c1", "c2", "c3"]),
                st.sampled_from(POISON_TEXT + NOT_TEXT))
NEW_IDS = P(st.none() | st.uuids(),
            st.sampled_from(["id", 5, str(UUID(int=9)), True, LyingUUID(int=9)]))
ACTORS = P(st.sampled_from([OFFICE, RESIDENT, RESIDENT, Actor("zhang", Role.GRID_LEADER),
                            Actor(OFFICE.person_id, OFFICE.role, override="short-handed")]),
           # An override reason is kept on the fact; imported_by is only the import's to set.
           make(Actor, person_id=PEOPLE, role=vocabulary(Role), override=optional(FREE),
                imported_by=optional(PEOPLE)).hostile)
LOCATIONS = make(Location, grid=optional(AREAS), building=optional(text("b1", "b9")),
                 unit=optional(text("1", "2", "9")),
                 floor=number(st.none() | st.integers(-20, 300)), description=FREE)
UNITS = items(make(UnitSpec, unit_id=text("1", "2", "3"),
                   households=number(st.integers(0, 10_000))))
CONTACTS = make(Contact, name=text("Li", "office"), phone=text("110", "+86 538 000"),
                person_id=optional(PEOPLE))
CARDS = make(CareCard, emergency_contact=CONTACTS, grid_leader=CONTACTS, grid_worker=CONTACTS,
             community_office=CONTACTS, property_management=CONTACTS,
             health_station=CONTACTS)
PROVIDERS = make(Provider, kind=vocabulary(ProviderKind), provider_id=text("prov-1", "prov-2"),
                 name=NAMES)
PATROL_GRIDS = text("g1", "g1", "g1", "g2", "b1", "nowhere")
"""A patrol's or plan's grid: mostly g1, whose building b1 (in micro-grid m1) is walked."""
VISIT_AREAS = text("b1", "b1", "b1/1", "b1/2", "m1", "g1", "nowhere")
VISITS = items(P(VISIT_AREAS.valid
                 | make(PatrolVisit, area=VISIT_AREAS,
                        spots=items(text("storage_room", "basement"))).valid,
                 AREAS.hostile | make(PatrolVisit, area=AREAS, spots=items(FREE)).hostile))
RULES = items(make(PatrolRule, name=text("weekly", "storage rooms", "weekly"),
                   frequency=vocabulary(Frequency), spot=optional(text("storage_room")),
                   areas=items(VISIT_AREAS)))
ENDS = P(st.builds(lambda m: T0 + timedelta(minutes=m),
                   st.integers(30, 600) | st.integers(-60, 1600))
         | st.sampled_from(EDGE_MOMENTS), st.sampled_from(BAD_MOMENTS))
"""A patrol's end: mostly within a day of its start (the engine's clock, or a moment)."""
DRILL = P(st.booleans(), st.sampled_from((*NUMBERS, "no", "")))
RESOLVED = P(st.none() | st.booleans(), st.sampled_from((*NUMBERS, "no", "yes", "")))


@attrs.define
class World:
    """The engine and the ids commands are sent to (new aggregates join as accepted)."""

    engine: Engine
    communities: list[Any]
    incidents: list[Any]
    orders: list[Any]
    items: list[Any]
    emergencies: list[Any] = attrs.Factory(list)
    patrols: list[Any] = attrs.Factory(list)
    plans: list[Any] = attrs.Factory(list)
    hazards: list[Any] = attrs.Factory(list)


def target(ids: list[Any]) -> P:
    """An existing aggregate; hostile: an unknown id, its text, no id, an unhashable one, or
    a UUID subclass naming it."""
    return P(st.sampled_from(ids), st.sampled_from([UUID(int=1), "not-a-uuid", None, 3,
                                                    str(ids[0]), [ids[0]], {"id": 1},
                                                    LyingUUID(int=ids[0].int)]))


def common(d: Draw) -> dict[str, Any]:
    return {"actor": d(ACTORS), "occurred_at": d(MOMENTS), "command_id": d(COMMAND_IDS)}


# The commands ---------------------------------------------------------------------------


def _community_commands(w: World, d: Draw) -> dict[str, Callable[[], Call]]:
    s = w.engine.communities

    def on() -> Any:
        return d(target(w.communities))

    return {
        "register": lambda: _call(s.register, district=d(NAMES), subdistrict=d(NAMES),
                                  name=d(NAMES), **common(d)),
        "add_grid": lambda: _call(s.add_grid, on(), d(NEW_AREAS), d(NAMES), **common(d)),
        "add_micro_grid": lambda: _call(s.add_micro_grid, on(), d(NEW_AREAS), d(AREAS),
                                        d(NAMES), **common(d)),
        "add_building": lambda: _call(s.add_building, on(), d(NEW_AREAS), d(AREAS), d(UNITS),
                                      d(NAMES), **common(d)),
        "classify_zone": lambda: _call(s.classify_zone, on(), d(AREAS), d(vocabulary(ZoneType)),
                                       **common(d)),
        "enrol": lambda: _call(s.enrol, on(), d(PEOPLE), d(NAMES), d(text("110", "")),
                               d(items(text("cpr", "driving"))), **common(d)),
        "assign_role": lambda: _call(s.assign_role, on(), d(PEOPLE), d(vocabulary(Role)),
                                     d(optional(AREAS)),
                                     employment=d(optional(vocabulary(Employment))),
                                     affiliation=d(optional(NAMES)), **common(d)),
        "relieve_role": lambda: _call(s.relieve_role, on(), d(PEOPLE), d(vocabulary(Role)),
                                      d(optional(AREAS)), d(FREE), **common(d)),
        "issue_care_card": lambda: _call(s.issue_care_card, on(), d(AREAS), d(CARDS),
                                         **common(d)),
        "hold_activity": lambda: _call(s.hold_activity, on(), title=d(NAMES),
                                       category=d(text("health", "skills")),
                                       participants=d(INTS), grid=d(optional(AREAS)),
                                       **common(d)),
        "correct_participants": lambda: _call(s.correct_participants, on(), d(ACTIVITIES),
                                              d(INTS), d(FREE), **common(d)),
        **_corrections(s, on, d),
    }


def _incident_commands(w: World, d: Draw) -> dict[str, Callable[[], Call]]:
    s = w.engine.incidents

    def on() -> Any:
        return d(target(w.incidents))

    return {
        "report": lambda: _call(
            s.report, d(target(w.communities)), incident_type=d(vocabulary(IncidentType)),
            severity=d(vocabulary(Severity)), location=d(LOCATIONS), description=d(FREE),
            detected_at=d(MOMENTS), channel=d(optional(text("phone", "app"))),
            drill=d(DRILL), incident_id=d(NEW_IDS), **common(d)),
        "report_to_community": lambda: _call(s.report_to_community, on(),
                                             d(text("phone", "app")), **common(d)),
        "acknowledge": lambda: _call(s.acknowledge, on(), **common(d)),
        "reclassify": lambda: _call(s.reclassify, on(),
                                    incident_type=d(optional(vocabulary(IncidentType))),
                                    severity=d(optional(vocabulary(Severity))), **common(d)),
        "assign_commander": lambda: _call(s.assign_commander, on(), d(PEOPLE), **common(d)),
        "dispatch": lambda: _call(s.dispatch, on(), d(items(PEOPLE)), team=d(optional(NAMES)),
                                  task=d(FREE), **common(d)),
        "en_route": lambda: _call(s.en_route, on(), d(PEOPLE), **common(d)),
        "arrive": lambda: _call(s.arrive, on(), d(PEOPLE), **common(d)),
        "take_action": lambda: _call(s.take_action, on(), d(vocabulary(ActionKind)), d(FREE),
                                     d(items(text("extinguisher", "axe"))), **common(d)),
        "request_consent": lambda: _call(s.request_consent, on(), d(PEOPLE), d(FREE),
                                         **common(d)),
        "grant_consent": lambda: _call(s.grant_consent, on(), d(PEOPLE), **common(d)),
        "refuse_consent": lambda: _call(s.refuse_consent, on(), d(PEOPLE), d(FREE),
                                        **common(d)),
        "authorise_exigent_entry": lambda: _call(s.authorise_exigent_entry, on(), d(FREE),
                                                 **common(d)),
        "force_entry": lambda: _call(s.force_entry, on(), d(FREE), **common(d)),
        "find_source": lambda: _call(s.find_source, on(), d(FREE), **common(d)),
        "contain": lambda: _call(s.contain, on(), d(FREE), **common(d)),
        "resolve": lambda: _call(s.resolve, on(), d(FREE), **common(d)),
        "close": lambda: _call(s.close, on(), d(vocabulary(ClosureReason)), d(FREE),
                               **common(d)),
        "reopen": lambda: _call(s.reopen, on(), d(FREE), **common(d)),
        "add_note": lambda: _call(s.add_note, on(), d(FREE), **common(d)),
        **_corrections(s, on, d),
    }


def _order_commands(w: World, d: Draw) -> dict[str, Callable[[], Call]]:
    s = w.engine.orders

    def on() -> Any:
        return d(target(w.orders))

    def place() -> Call:
        category, item = d(SERVICES)
        return _call(
            s.place, d(target(w.communities)), household_id=d(text("h1", "h2")),
            area_id=d(AREAS), category=category, item=item, details=d(FREE),
            expected_by=d(optional(LATER)), order_id=d(NEW_IDS), **common(d))

    return {
        "place": place,
        "accept": lambda: _call(s.accept, on(), **common(d)),
        "reject": lambda: _call(s.reject, on(), d(FREE), **common(d)),
        "dispatch": lambda: _call(s.dispatch, on(), d(PROVIDERS), **common(d)),
        "start": lambda: _call(s.start, on(), **common(d)),
        "complete": lambda: _call(s.complete, on(), d(vocabulary(ServiceOutcome)), d(FREE),
                                  **common(d)),
        "rate": lambda: _call(s.rate, on(), d(number(st.integers(0, 6))), d(FREE),
                              resolved=d(RESOLVED), **common(d)),
        "reopen": lambda: _call(s.reopen, on(), d(FREE), **common(d)),
        "cancel": lambda: _call(s.cancel, on(), d(FREE), **common(d)),
        "add_note": lambda: _call(s.add_note, on(), d(FREE), **common(d)),
        **_corrections(s, on, d),
    }


def _improvement_commands(w: World, d: Draw) -> dict[str, Callable[[], Call]]:
    s = w.engine.improvements

    def on() -> Any:
        return d(target(w.items))

    def review() -> Any:
        incident = d(one_of(*w.incidents))
        return d(text(f"incident/{incident}", f"community/{w.communities[0]}/all time",
                      f"community/{w.communities[0]}/grid/g1/2022-02"))

    return {
        "plan": lambda: _call(
            s.plan, d(target(w.communities)), review=review(), action=d(FREE),
            owner=d(PEOPLE), due=d(LATER), grid=d(optional(AREAS)),
            objective=d(optional(NAMES)),
            item_id=d(NEW_IDS), **common(d)),
        "assign": lambda: _call(s.assign, on(), d(PEOPLE), **common(d)),
        "reschedule": lambda: _call(s.reschedule, on(), d(LATER), d(FREE), **common(d)),
        "start": lambda: _call(s.start, on(), **common(d)),
        "complete": lambda: _call(s.complete, on(), d(FREE), **common(d)),
        "cancel": lambda: _call(s.cancel, on(), d(FREE), **common(d)),
        "reopen": lambda: _call(s.reopen, on(), d(FREE), **common(d)),
        "add_note": lambda: _call(s.add_note, on(), d(FREE), **common(d)),
        **_corrections(s, on, d),
    }


def _emergency_commands(w: World, d: Draw) -> dict[str, Callable[[], Call]]:
    s = w.engine.emergencies

    def on() -> Any:
        return d(target(w.emergencies))

    return {
        "declare": lambda: _call(
            s.declare, d(target(w.communities)), kind=d(vocabulary(EmergencyKind)),
            reason=d(FREE), area_id=d(optional(AREAS)), emergency_id=d(NEW_IDS), **common(d)),
        "call_up": lambda: _call(s.call_up, on(), d(items(vocabulary(Role))), **common(d)),
        "acknowledge": lambda: _call(s.acknowledge, on(), d(PEOPLE), **common(d)),
        "arrive": lambda: _call(s.arrive, on(), d(PEOPLE), d(FREE), **common(d)),
        "end": lambda: _call(s.end, on(), d(FREE), **common(d)),
        "add_note": lambda: _call(s.add_note, on(), d(FREE), **common(d)),
        **_corrections(s, on, d),
    }


def _patrol_commands(w: World, d: Draw) -> dict[str, Callable[[], Call]]:
    s = w.engine.patrols

    def on() -> Any:
        return d(target(w.patrols))

    return {
        "record": lambda: _call(
            s.record, d(target(w.communities)), grid=d(PATROL_GRIDS), ended_at=d(ENDS),
            visits=d(VISITS), findings=d(FREE), patrol_id=d(NEW_IDS), **common(d)),
        "correct_coverage": lambda: _call(s.correct_coverage, on(), d(VISITS), d(FREE),
                                          **common(d)),
        "correct_end": lambda: _call(s.correct_end, on(), d(ENDS), d(FREE), **common(d)),
        "add_note": lambda: _call(s.add_note, on(), d(FREE), **common(d)),
        "adopt_plan": lambda: _call(s.adopt_plan, d(target(w.communities)), d(PATROL_GRIDS),
                                    d(RULES), reason=d(optional(FREE)), **common(d)),
        # A patrol's corrections, and a plan's (by the plan's id).
        **_corrections(s, lambda: d(target([*w.patrols, *w.plans])), d),
    }


def _hazard_commands(w: World, d: Draw) -> dict[str, Callable[[], Call]]:
    s = w.engine.hazards

    def on() -> Any:
        return d(target(w.hazards))

    return {
        "find": lambda: _call(
            s.find, d(target(w.communities)), location=d(LOCATIONS),
            category=d(vocabulary(HazardCategory)), severity=d(vocabulary(Severity)),
            description=d(FREE), photo=d(optional(text("photos/0215.jpg"))),
            patrol_id=d(optional(target(w.patrols))), hazard_id=d(NEW_IDS), **common(d)),
        "assign": lambda: _call(s.assign, on(), assignee_kind=d(vocabulary(AssigneeKind)),
                                assignee=d(PEOPLE), due=d(LATER), **common(d)),
        "rectify": lambda: _call(s.rectify, on(), d(FREE), **common(d)),
        "verify": lambda: _call(s.verify, on(), d(FREE), **common(d)),
        "close": lambda: _call(s.close, on(), d(FREE), **common(d)),
        "reopen": lambda: _call(s.reopen, on(), d(FREE), **common(d)),
        "add_note": lambda: _call(s.add_note, on(), d(FREE), **common(d)),
        "link_order": lambda: _call(s.link_order, on(), d(target(w.orders)), **common(d)),
        "link_improvement": lambda: _call(s.link_improvement, on(), d(target(w.items)),
                                          **common(d)),
        "link_incident": lambda: _call(s.link_incident, on(), d(target(w.incidents)),
                                       **common(d)),
        "assign_reference": lambda: _call(s.assign_reference, on(), **common(d)),
        **_corrections(s, on, d),
    }


def _corrections(s: FactService[Any], on: Callable[[], Any],
                 d: Draw) -> dict[str, Callable[[], Call]]:
    """The two corrections every aggregate's service takes (``FactService``)."""
    return {
        "correct_time": lambda: _call(s.correct_time, on(), d(VERSIONS), d(MOMENTS), d(FREE),
                                      **common(d)),
        "correct_details": lambda: _call(s.correct_details, on(), d(VERSIONS), d(FREE), d(FREE),
                                         **common(d)),
    }


def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Call:
    """The call, with its value objects built inside it."""
    return lambda: method(*build(args), **{k: build(v) for k, v in kwargs.items()})


# Checking each call, and the store at the end ---------------------------------------------

STATS: Counter[tuple[str, str]] = Counter()


class Harness:
    """Sends calls and checks each against the rule; keeps the events each call recorded."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.recorded: list[FactAggregate.Event] = []
        mapper = engine.app.mapper
        encode = mapper.to_stored_event

        def keeping(event: Any) -> Any:  # the events exactly as the aggregates made them
            self.recorded.append(event)
            return encode(event)

        setattr(mapper, "to_stored_event", keeping)  # noqa: B010 (an instance attribute)

    def position(self) -> int:
        return self.engine.app.recorder.max_notification_id() or 0

    def send(self, name: str, call: Call, poisoned: bool) -> object | None:
        """Run ``call``: refused with a ResilienceError recording nothing, or accepted and
        every event it recorded reads back equal."""
        before, kept = self.position(), len(self.recorded)
        kind = "poisoned" if poisoned else "valid"
        STATS[(name, "tried")] += 1
        STATS[(kind, "tried")] += 1
        try:
            result = call()
        except ResilienceError as exc:
            if os.environ.get("RESILIENCE_FUZZ_DEBUG") and not poisoned:
                print(f"{name}: {type(exc).__name__}: {exc!s:.150}")
            STATS[(name, "rejected")] += 1
            STATS[(kind, "rejected")] += 1
            assert self.position() == before, f"{name} was refused but recorded events"
            assert len(self.recorded) == kept
            return None
        except Exception as exc:
            raise AssertionError(f"{name} leaked {type(exc).__name__}: {exc!r:.300}") from exc
        STATS[(name, "accepted")] += 1
        STATS[(kind, "accepted")] += 1
        mapper = self.engine.app.mapper
        for event in self.recorded[kept:]:
            assert mapper.to_domain_event(mapper.to_stored_event(event)) == event
            stored = self.engine.events(event.originator_id)[event.originator_version - 1]
            assert stored == event, f"{name}: {event!r:.300} read back as {stored!r:.300}"
        self.recorded[kept:] = []
        return result


def setup_world(engine: Engine) -> World:
    c = engine.communities.register(district="Taishan", subdistrict="Daimiao", name="Donghu",
                                    actor=OFFICE, occurred_at=T0 - timedelta(days=9))
    community = c.aggregate_id
    engine.communities.add_grid(community, "g1", actor=OFFICE)
    engine.communities.add_grid(community, "g2", actor=OFFICE)
    engine.communities.add_micro_grid(community, "m1", "g1", actor=OFFICE)
    engine.communities.add_building(community, "b1", "m1", [UnitSpec("1", 24), UnitSpec("2")],
                                    actor=OFFICE)
    engine.communities.enrol(community, "p1", "Li", "110", ["cpr"], actor=OFFICE)
    engine.communities.enrol(community, "p2", "Wang", actor=OFFICE)
    engine.communities.hold_activity(community, title="Fire-safety talk", category="safety",
                                     participants=12, grid="g1", actor=OFFICE)  # version 8
    fire = engine.incidents.report(community, incident_type="fire", severity="high",
                                   location=Location(building="b1", unit="1", floor=-1),
                                   description="smoke", actor=OFFICE, occurred_at=T0)
    order = engine.orders.place(community, household_id="h1", area_id="b1/1",
                                category="meals", item="meal_delivery", actor=RESIDENT,
                                occurred_at=T0)
    engine.incidents.request_consent(fire.aggregate_id, "p2", "break the lock", actor=OFFICE,
                                     occurred_at=T0)
    orders = [order.aggregate_id]
    for steps in (2, 3, 4, 5):  # orders accepted, dispatched, started and completed
        placed = engine.orders.place(community, household_id="h2", area_id="b1",
                                     category="home", item="repair", actor=RESIDENT,
                                     occurred_at=T0).aggregate_id
        moves: list[Callable[..., object]] = [
            engine.orders.accept,
            partial(engine.orders.dispatch, provider=Provider("grid_worker", "p2")),
            engine.orders.start,
            partial(engine.orders.complete, outcome="fixed"),
        ]
        for move in moves[:steps - 1]:
            move(placed, actor=OFFICE, occurred_at=T0)
        orders.append(placed)
    item = engine.improvements.plan(community, review=f"incident/{fire.aggregate_id}",
                                    action="fit a lock", owner="p1",
                                    due=T0 + timedelta(days=30), actor=OFFICE, occurred_at=T0)
    engine.communities.assign_role(community, "p1", Role.SQUAD_MEMBER, "g1", actor=OFFICE)
    flood = engine.emergencies.declare(community, kind="flood", reason="river", area_id="g1",
                                       actor=OFFICE)
    engine.emergencies.call_up(flood.aggregate_id, actor=OFFICE)
    engine.communities.assign_role(community, "p2", Role.GRID_WORKER, "g1", actor=OFFICE)
    patrol = engine.patrols.record(community, grid="g1", ended_at=T0 + timedelta(hours=1),
                                   visits=["b1", PatrolVisit("b1/1", ("storage_room",))],
                                   findings="clutter", actor=OFFICE, occurred_at=T0)
    plan = engine.patrols.adopt_plan(community, "g1", [PatrolRule("weekly", "weekly")],
                                     actor=OFFICE, occurred_at=T0)
    hazard = engine.hazards.find(community, location=Location(building="b1", unit="1"),
                                 category="clutter", severity="high", description="boxes",
                                 patrol_id=patrol.aggregate_id, actor=OFFICE, occurred_at=T0)
    return World(engine, [community], [fire.aggregate_id], orders, [item.aggregate_id],
                 [flood.aggregate_id], [patrol.aggregate_id], [plan.aggregate_id],
                 [hazard.aggregate_id])


def run_commands(w: World, harness: Harness, data: st.DataObject, steps: int) -> None:
    clock = w.engine.clock
    assert isinstance(clock, ManualClock)
    for _ in range(steps):
        poisoned = data.draw(st.booleans(), label="poisoned step")

        def d(param: P, poisoned: bool = poisoned) -> Any:
            return data.draw(param.strategy(poisoned))

        group = data.draw(st.sampled_from(["communities", "incidents", "orders",
                                           "improvements", "emergencies", "patrols",
                                           "hazards"]), label="service")
        commands = {"communities": _community_commands, "incidents": _incident_commands,
                    "orders": _order_commands, "improvements": _improvement_commands,
                    "emergencies": _emergency_commands, "patrols": _patrol_commands,
                    "hazards": _hazard_commands}[group](w, d)
        name = data.draw(st.sampled_from(sorted(commands)), label="command")
        result = harness.send(f"{group}.{name}", commands[name](), poisoned)
        if isinstance(result, Receipt) and result.first_version == 1:
            lists = {"communities": w.communities, "incidents": w.incidents,
                     "orders": w.orders, "improvements": w.items,
                     "emergencies": w.emergencies, "patrols": w.patrols,
                     "hazards": w.hazards}
            kept = w.plans if name == "adopt_plan" else lists[group]
            if result.aggregate_id not in kept:
                kept.append(result.aggregate_id)
        if data.draw(st.integers(0, 4), label="catch up now?") == 0:
            w.engine.views.catch_up()
        clock.advance(timedelta(minutes=1))


def views_snapshot(engine: Engine) -> dict[str, Any]:
    return {p.view: engine.views.documents(p.view) for p in engine.views.projections}


def check_views_and_reports(w: World) -> None:
    """The views caught up equal a rebuild, and every report runs."""
    engine = w.engine
    engine.views.catch_up()
    followed = views_snapshot(engine)
    engine.views.rebuild()
    assert views_snapshot(engine) == followed
    cases = followed["cases"]
    for kind, ids in (("hazard", w.hazards), ("patrol", w.patrols), ("patrol_plan", w.plans)):
        for accepted in ids:
            assert cases[str(accepted)]["kind"] == kind, (kind, accepted)
    for community in w.communities:
        engine.scorecard(community)
        engine.replay.community(community)
        engine.reports.patrol_coverage(community).render()
    engine.reports.hazards().render()
    engine.emergencies.situations()
    for emergency in w.emergencies:
        engine.mobilisation(emergency).render()
        engine.timeline(emergency)
    engine.compare(BUILT_IN)
    engine.data_quality()
    engine.counts(group_by=["grid"])
    engine.service_kpis(group_by=["category"])
    engine.improvements.items()
    for case in (*w.orders, *w.hazards, *w.patrols):
        engine.timeline(case)
    for incident in w.incidents:
        engine.timeline(incident)
        review = engine.review(incident)
        review_to_markdown(review)
        review_to_json(review)
        review_to_html(review)


def all_events(engine: Engine, w: World) -> dict[UUID, list[FactAggregate.Event]]:
    ids = [*w.communities, *w.incidents, *w.orders, *w.items, *w.emergencies, *w.patrols,
           *w.plans, *w.hazards]
    return {i: engine.events(i) for i in ids}


FUZZ = settings(max_examples=int(os.environ.get("RESILIENCE_FUZZ_EXAMPLES", "40")),
                deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(data=st.data(), steps=st.integers(1, 40))
def test_every_command_is_refused_cleanly_or_stored_readably_in_memory(
        data: st.DataObject, steps: int) -> None:
    """In memory: each call is refused recording nothing, or its events read back equal;
    the views equal a rebuild and the reports run."""
    with Engine("memory:", clock=ManualClock(T0 + timedelta(minutes=1))) as engine:
        world = setup_world(engine)
        run_commands(world, Harness(engine), data, steps)
        check_views_and_reports(world)


def test_every_command_is_refused_cleanly_or_stored_readably_in_a_sqlite_file(
        tmp_path: Path) -> None:
    """On a SQLite file (where a lone surrogate once broke every view write): the same, and
    a second engine opening the file reads back the same events."""

    @settings(FUZZ, max_examples=max(FUZZ.max_examples // 4, 1))
    @given(data=st.data(), steps=st.integers(1, 30))
    def check(data: st.DataObject, steps: int) -> None:
        url = f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
        with Engine(url, clock=ManualClock(T0 + timedelta(minutes=1))) as engine:
            world = setup_world(engine)
            run_commands(world, Harness(engine), data, steps)
            check_views_and_reports(world)
            written = all_events(engine, world)
        with Engine(url) as reader:
            assert all_events(reader, world) == written

    check()


@pytest.mark.postgres
def test_every_command_is_refused_cleanly_or_stored_readably_on_postgresql() -> None:
    """On PostgreSQL (whose text refuses NUL and whose view writes once failed on a lone
    surrogate like SQLite's): the same, each example in a fresh schema."""
    require_postgres()

    @settings(FUZZ, max_examples=max(FUZZ.max_examples // 8, 1))
    @given(data=st.data(), steps=st.integers(1, 30))
    def check(data: st.DataObject, steps: int) -> None:
        with pg_schema() as url:
            with Engine(url, clock=ManualClock(T0 + timedelta(minutes=1))) as engine:
                world = setup_world(engine)
                run_commands(world, Harness(engine), data, steps)
                check_views_and_reports(world)
                written = all_events(engine, world)
            with Engine(url) as reader:
                assert all_events(reader, world) == written

    check()


@pytest.fixture(scope="module", autouse=True)
def _report_stats() -> Iterator[None]:
    """With RESILIENCE_FUZZ_STATS set, print the calls tried, rejected and accepted."""
    yield
    if os.environ.get("RESILIENCE_FUZZ_STATS"):
        names = sorted({name for name, _ in STATS} - {"valid", "poisoned"})
        out = sys.stdout
        for name in names:
            out.write(f"{name:40} tried {STATS[(name, 'tried')]:5}  rejected "
                      f"{STATS[(name, 'rejected')]:5}  accepted {STATS[(name, 'accepted')]:5}\n")
        for name in ("valid", "poisoned"):
            out.write(f"{name + ' steps':40} tried {STATS[(name, 'tried')]:5}  rejected "
                      f"{STATS[(name, 'rejected')]:5}  accepted {STATS[(name, 'accepted')]:5}\n")
