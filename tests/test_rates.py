"""The three rates (response, resolution, satisfaction) on hand-computed order histories."""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from histories import PROVIDERS, RESIDENT, STAFF, setup_world
from resilience import (
    RATES,
    Engine,
    InvalidInputError,
    ManualClock,
    NotFoundError,
    NotInReportError,
    Provider,
    RateDefinition,
)
from resilience.metrics import Case, Period
from resilience.metrics.rates import builtin_rate, rate_summary

from conftest import SHANGHAI, T0

PROP, ALLIANCE = PROVIDERS


def at(minutes: float) -> datetime:
    """``minutes`` after the Donghu fire's detection (T0)."""
    return T0 + timedelta(minutes=minutes)


class Orders:
    """Records orders of East (or West) at times in minutes after T0, as the resident and
    the desk would."""

    def __init__(self, engine: Engine, community: UUID) -> None:
        self.engine, self.community = engine, community

    def place(self, minute: float, grid: str = "g1",
              service: tuple[str, str] = ("home", "repair")) -> UUID:
        category, item = service
        return self.engine.orders.place(
            self.community, household_id="hh-1", area_id=f"{grid}-b/1", category=category,
            item=item, actor=RESIDENT, occurred_at=at(minute)).aggregate_id

    def done(self, order: UUID, accepted: float, completed: float, *,
             provider: Provider = PROP, outcome: str = "fixed") -> None:
        """Accepted, dispatched a minute later, completed."""
        self.engine.orders.accept(order, actor=STAFF, occurred_at=at(accepted))
        self.finish(order, accepted + 1, completed, provider=provider, outcome=outcome)

    def finish(self, order: UUID, dispatched: float, completed: float, *,
               provider: Provider = PROP, outcome: str = "fixed") -> None:
        self.engine.orders.dispatch(order, provider, actor=STAFF, occurred_at=at(dispatched))
        self.engine.orders.complete(order, outcome, "" if outcome == "fixed" else "no parts",
                                    actor=STAFF, occurred_at=at(completed))

    def rate(self, order: UUID, score: int, minute: float, resolved: bool | None = None) -> None:
        self.engine.orders.rate(order, score, resolved=resolved, actor=RESIDENT,
                                occurred_at=at(minute))


@pytest.fixture
def world(memory_engine: Engine, clock: ManualClock) -> tuple[Engine, list[UUID]]:
    """East and West (grids g1, g2), the clock a week after T0 so that every order of a
    test is written up after it happened."""
    communities = setup_world(memory_engine, clock).communities
    clock.set(T0 + timedelta(days=40))
    return memory_engine, communities


def counts(summary: Any) -> tuple[int, int, int, int]:
    return summary.numerator, summary.no, summary.unknown, summary.denominator


def test_each_order_is_judged_yes_no_or_unknown_and_cancelled_orders_are_left_out(
        world: tuple[Engine, list[UUID]]) -> None:
    """Seven orders, one cancelled: response 4 of 6 (2 h exactly is in time), resolution 1 of
    6, satisfaction 2 of 6; unanswered, unrated and unsaid orders are unknown."""
    engine, (east, _) = world
    orders = Orders(engine, east)
    o1 = orders.place(0)
    orders.done(o1, accepted=60, completed=200)
    orders.rate(o1, 5, 210, resolved=True)
    o2 = orders.place(10)
    orders.done(o2, accepted=131, completed=300, outcome="not_fixed")  # answered after 2h01
    orders.rate(o2, 3, 310, resolved=False)
    o3 = orders.place(20)
    engine.orders.reject(o3, "not ours", actor=STAFF, occurred_at=at(140))  # exactly 2 h
    o4 = orders.place(30)
    engine.orders.cancel(o4, "no longer needed", actor=RESIDENT, occurred_at=at(40))
    orders.place(40)                                                     # never answered
    o6 = orders.place(50)
    orders.done(o6, accepted=55, completed=100)
    orders.rate(o6, 4, 110)                                              # resolved? not said
    o7 = orders.place(60)
    orders.done(o7, accepted=65, completed=120)                          # never rated

    (row,) = engine.rates().rows
    assert (row.group, row.orders, row.cancelled) == ({}, 7, 1)
    response, resolution, satisfaction = row.rates
    assert [s.name for s in row.rates] == ["response_rate", "resolution_rate",
                                           "satisfaction_rate"]
    assert counts(response) == (4, 1, 1, 6)
    assert (response.value, response.of_known) == (4 / 6, 4 / 5)
    assert counts(resolution) == (1, 1, 4, 6)
    assert (resolution.value, resolution.of_known) == (1 / 6, 1 / 2)
    assert counts(satisfaction) == (2, 1, 3, 6)
    assert (satisfaction.value, satisfaction.of_known) == (2 / 6, 2 / 3)


def test_a_response_is_judged_by_its_corrected_time_and_the_first_of_its_kinds(
        world: tuple[Engine, list[UUID]]) -> None:
    """An acceptance recorded at 30 min and corrected to 150 min is late; a rejection is a
    response; the first response is the earliest by effective time."""
    engine, (east, _) = world
    orders = Orders(engine, east)
    late = orders.place(0)
    receipt = engine.orders.accept(late, actor=STAFF, occurred_at=at(30))
    assert builtin_rate("response_rate").judge(case_of(engine, late)) == "yes"
    engine.orders.correct_time(late, receipt.first_version, at(150), "the desk log says 14:30",
                               actor=STAFF)
    assert builtin_rate("response_rate").judge(case_of(engine, late)) == "no"
    rejected = orders.place(5)
    engine.orders.reject(rejected, "not ours", actor=STAFF, occurred_at=at(6))
    assert builtin_rate("response_rate").judge(case_of(engine, rejected)) == "yes"


def case_of(engine: Engine, order: UUID) -> Case:
    return next(c for c in engine.reports.cases(subject="order") if c.case_id == str(order))


def test_a_reopened_order_has_no_answer_until_completed_and_rated_again(
        world: tuple[Engine, list[UUID]]) -> None:
    """Rated 5 and resolved, then reopened: unknown on both; completed again and rated 2, not
    resolved: no on both. The response, the first one, stays in time."""
    engine, (east, _) = world
    orders = Orders(engine, east)
    order = orders.place(0)
    orders.done(order, accepted=10, completed=60)
    orders.rate(order, 5, 70, resolved=True)

    def answers() -> list[str | None]:
        case = case_of(engine, order)
        return [rate.judge(case) for rate in RATES]

    assert answers() == ["yes", "yes", "yes"]
    engine.orders.reopen(order, "leaks again", actor=RESIDENT, occurred_at=at(200))
    assert answers() == ["yes", "unknown", "unknown"]
    orders.finish(order, 210, 300)
    assert answers() == ["yes", "unknown", "unknown"]
    orders.rate(order, 2, 310, resolved=False)
    assert answers() == ["yes", "no", "no"]


def test_an_order_reopened_and_then_cancelled_is_cancelled_in_every_rate_and_kpi(
        world: tuple[Engine, list[UUID]]) -> None:
    """Placed, accepted, dispatched, completed, reopened, cancelled: out of all three rates'
    denominators, counted cancelled (not open) in the service KPIs, with its ``cancelled``
    milestone, like an order cancelled before completion."""
    engine, (east, _) = world
    orders = Orders(engine, east)
    order = orders.place(0)
    orders.done(order, accepted=10, completed=60)
    engine.orders.reopen(order, "leaks again", actor=RESIDENT, occurred_at=at(100))
    engine.orders.cancel(order, "fixed it myself", actor=RESIDENT, occurred_at=at(120))
    case = case_of(engine, order)
    assert (case.status, case.milestones["cancelled"]) == ("cancelled", at(120))
    assert [rate.judge(case) for rate in RATES] == [None, None, None]
    (row,) = engine.rates().rows
    assert (row.orders, row.cancelled) == (1, 1)
    assert [counts(s) for s in row.rates] == [(0, 0, 0, 0)] * 3
    (kpis,) = engine.service_kpis()
    assert (kpis.orders, kpis.open, kpis.cancelled, kpis.completed, kpis.reopened) == (
        1, 0, 1, 0, 1)


def test_a_satisfied_score_and_a_response_limit_are_configurable(
        world: tuple[Engine, list[UUID]]) -> None:
    """Answered at 3 h: late for 2 h, in time for 4 h; a 4 is satisfied from 4, not from 5."""
    engine, (east, _) = world
    orders = Orders(engine, east)
    order = orders.place(0)
    orders.done(order, accepted=180, completed=240)
    orders.rate(order, 4, 250)
    rates: list[RateDefinition | str] = [
        RateDefinition("in_4h", "response", limit=timedelta(hours=4)), "response_rate",
        RateDefinition("delighted", "satisfaction", satisfied_from=5), "satisfaction_rate"]
    (row,) = engine.rates(rates=rates).rows
    assert [(s.name, s.numerator, s.no) for s in row.rates] == [
        ("in_4h", 1, 0), ("response_rate", 0, 1), ("delighted", 0, 1),
        ("satisfaction_rate", 1, 0)]


def test_rates_group_by_grid_provider_category_and_month(
        world: tuple[Engine, list[UUID]]) -> None:
    """Each order counts in the group of its grid, latest provider, category and the month
    of its placement; an order nobody was dispatched to has no provider."""
    engine, (east, west) = world
    east_orders, west_orders = Orders(engine, east), Orders(engine, west)
    repair = east_orders.place(0, "g1")
    east_orders.done(repair, 10, 60)
    east_orders.rate(repair, 5, 70, resolved=True)
    meal = east_orders.place(20, "g2", ("meals", "meal_delivery"))
    east_orders.done(meal, 200, 260, provider=ALLIANCE)
    east_orders.rate(meal, 2, 270, resolved=False)
    west_orders.place(60 * 24 * 20, "g1")                     # 7 March, never answered

    by_grid = engine.rates(group_by=["community", "grid"])
    assert [(r.group["grid"], counts(r.rate("response_rate"))) for r in by_grid.rows] == [
        ("g1", (1, 0, 0, 1)), ("g2", (0, 1, 0, 1)), ("g1", (0, 0, 1, 1))]
    by_provider = engine.rates(group_by=["provider"])
    assert [(r.group["provider"], r.rate("resolution_rate").value)
            for r in by_provider.rows] == [("p-360", 0.0), ("p-prop", 1.0), (None, 0.0)]
    by_category = engine.rates(group_by=["category"])
    assert [(r.group["category"], r.rate("satisfaction_rate").numerator)
            for r in by_category.rows] == [("home", 1), ("meals", 0)]  # West's: unknown
    by_month = engine.rates(Period.year(2022, SHANGHAI), ["month"])
    assert [(r.group["month"], r.orders) for r in by_month.rows] == [("2022-02", 2),
                                                                    ("2022-03", 1)]
    with pytest.raises(NotInReportError, match="no row for month 2022-04"):
        by_month.row(month="2022-04")


def test_the_rates_of_a_period_without_orders_are_one_row_of_zeros(
        world: tuple[Engine, list[UUID]]) -> None:
    """Ungrouped: one row, every count 0 and every rate None; grouped: no row."""
    engine, _ = world
    (row,) = engine.rates().rows
    assert (row.orders, row.cancelled) == (0, 0)
    assert all(counts(s) == (0, 0, 0, 0) and s.value is None and s.of_known is None
               for s in row.rates)
    assert engine.rates(group_by=["grid"]).rows == ()


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"kind": "response"}, "needs a limit"),
    ({"kind": "response", "limit": timedelta(0)}, "above 0"),
    ({"kind": "response", "limit": 120}, "a timedelta"),
    ({"kind": "resolution", "limit": timedelta(hours=1)}, "only a response rate"),
    ({"kind": "satisfaction"}, "satisfied_from"),
    ({"kind": "satisfaction", "satisfied_from": 6}, "from 1 to 5"),
    ({"kind": "satisfaction", "satisfied_from": True}, "whole number"),
    ({"kind": "response", "limit": timedelta(hours=1), "satisfied_from": 4},
     "only a satisfaction rate"),
    ({"kind": "speed"}, "one of response, resolution, satisfaction"),
])
def test_a_rate_definition_refuses_a_parameter_its_kind_lacks_or_a_value_out_of_range(
        kwargs: dict[str, Any], words: str) -> None:
    """Each kind takes exactly its own parameter, checked."""
    with pytest.raises(InvalidInputError, match=words):
        RateDefinition("r", **kwargs)


def test_rates_refuse_an_unknown_rate_and_an_incident_dimension(
        world: tuple[Engine, list[UUID]]) -> None:
    """NotFoundError names the built-ins; only order dimensions and time buckets group."""
    engine, _ = world
    with pytest.raises(NotFoundError, match="response_rate, resolution_rate"):
        engine.rates(rates=["speed_rate"])
    with pytest.raises(InvalidInputError, match="a rate is a RateDefinition"):
        engine.rates(rates=[3])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="severity"):
        engine.rates(group_by=["severity"])


def test_a_league_table_on_a_rate_ranks_the_highest_rate_first(
        world: tuple[Engine, list[UUID]]) -> None:
    """East g1 and West g1 2 of 2 satisfied share rank 1, East g2 1 of 2 is 3rd, West g2 has
    1 order (< 2) unranked; over each grid's latest order only, West g2 joins the leaders
    and East g2 (its latest a 1) comes last."""
    engine, (east, west) = world
    scores = {(east, "g1"): [5, 4], (east, "g2"): [5, 1], (west, "g1"): [4, 5],
              (west, "g2"): [5]}
    minute = 0
    for (community, grid), given_scores in scores.items():
        orders = Orders(engine, community)
        for score in given_scores:
            order = orders.place(minute, grid)
            orders.done(order, minute + 5, minute + 30)
            orders.rate(order, score, minute + 40)
            minute += 60
    table = engine.league_table("satisfaction_rate", min_sample=2)
    ranked = [(r.rank, r.name, r.graded, r.summary.value) for r in table.rows]
    assert ranked == [(1, "East / Grid g1", 2, 1.0), (1, "West / Grid g1", 2, 1.0),
                      (3, "East / Grid g2", 2, 0.5), (None, "West / Grid g2", 1, 1.0)]
    assert table.rows[-1].note == "not ranked: 1 < 2 orders"
    assert "League: satisfaction_rate (score 4 or more)" in table.render()
    latest = engine.league_table("satisfaction_rate", min_sample=1, last=1)
    assert [(r.rank, r.name) for r in latest.rows][:3] == [
        (1, "East / Grid g1"), (1, "West / Grid g1"), (1, "West / Grid g2")]
    assert latest.rows[3].summary.value == 0.0                 # East g2's latest: a 1


def test_a_scorecard_carries_the_rates_of_its_grid(world: tuple[Engine, list[UUID]]) -> None:
    """Grid g2's card counts only g2's orders; it renders each rate with its counts."""
    engine, (east, _) = world
    orders = Orders(engine, east)
    for grid, score in (("g1", 5), ("g2", 2), ("g2", 4)):
        order = orders.place(0, grid)
        orders.done(order, 10, 20)
        orders.rate(order, score, 30, resolved=score > 3)
    card = engine.scorecard(east, "g2")
    assert counts(card.rate("satisfaction_rate")) == (1, 1, 0, 2)
    assert counts(card.rate("resolution_rate")) == (1, 1, 0, 2)
    assert "satisfaction_rate 50% (1/2, unknown 0)" in card.render()
    with pytest.raises(NotInReportError, match="no rate 'speed'"):
        card.rate("speed")


# Properties over cases made by hand ------------------------------------------------------

PLACED = datetime(2022, 3, 1, 8, 0, tzinfo=SHANGHAI)
offsets = st.none() | st.integers(min_value=0, max_value=600)


@st.composite
def order_cases(draw: st.DrawFn) -> Case:
    """An order with any of a first response, a rating and an answer, in any status (a
    cancelled one among them)."""
    milestones = {"placed": PLACED, "expected": PLACED + timedelta(hours=24)}
    for name in ("accepted", "rejected", "first_dispatched"):
        minutes = draw(offsets)
        if minutes is not None:
            milestones[name] = PLACED + timedelta(minutes=minutes)
    return Case(f"o{draw(st.integers(0, 10**6))}", "order", "c", {"grid": "g1"}, milestones,
                (), (), rating=draw(st.none() | st.integers(1, 5)),
                status=draw(st.sampled_from(["placed", "completed", "reopened", "cancelled"])),
                resolved_by_resident=draw(st.none() | st.booleans()))


rate_definitions = st.sampled_from(RATES) | st.builds(
    RateDefinition, st.just("response"), st.just("response"),
    limit=st.integers(1, 10**6).map(lambda s: timedelta(seconds=s))) | st.builds(
    RateDefinition, st.just("satisfaction"), st.just("satisfaction"),
    satisfied_from=st.integers(1, 5))


@given(cases=st.lists(order_cases(), max_size=30), definition=rate_definitions)
def test_a_rate_lies_between_0_and_1_and_its_counts_add_up_to_its_denominator(
        cases: list[Case], definition: RateDefinition) -> None:
    """yes + no + unknown is the denominator, the orders not cancelled; value and of_known
    are shares in [0, 1], None only without a denominator."""
    summary = rate_summary(definition, cases)
    assert summary.numerator + summary.no + summary.unknown == summary.denominator
    assert summary.denominator == sum(1 for c in cases if c.status != "cancelled")
    if summary.denominator:
        assert summary.value is not None
        assert 0 <= summary.value <= 1
        assert summary.value == summary.numerator / summary.denominator
    else:
        assert summary.value is None
    known = summary.of_known
    assert known is None or 0 <= known <= 1
    assert known is None or summary.value is None or summary.value <= known


@given(cases=st.lists(order_cases(), min_size=1, max_size=30))
def test_an_unknown_is_never_counted_as_a_yes(cases: list[Case]) -> None:
    """Orders without a rating or an answer are never among the satisfied or the resolved."""
    counted = [c for c in cases if c.status != "cancelled"]
    satisfaction = rate_summary(builtin_rate("satisfaction_rate"), cases)
    assert satisfaction.unknown == sum(1 for c in counted if c.rating is None)
    resolution = rate_summary(builtin_rate("resolution_rate"), cases)
    assert resolution.unknown == sum(1 for c in counted if c.resolved_by_resident is None)
