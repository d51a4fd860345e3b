"""Service orders: the resident orders, the community dispatches, the resident rates."""

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from resilience import (
    DEFAULT_CATALOGUE,
    Actor,
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    ManualClock,
    NotFoundError,
    OrderStatus,
    Provider,
    ProviderKind,
    Role,
    ServiceCatalogue,
    ServiceOrder,
    ServiceOutcome,
    UnitSpec,
    ZoneType,
)

from conftest import OFFICE, T0, minutes

LIU = Actor("p-5005", Role.RESIDENT)
KITCHEN = Provider(ProviderKind.SOCIAL_ORGANISATION, "kitchen", "Happy Kitchen")


@pytest.fixture
def xiangyang(memory_engine: Engine) -> UUID:
    """Xiangyang with an old-estate grid and one building."""
    c = memory_engine.communities.register(district="Taishan", subdistrict="Taiqian",
                                           name="Xiangyang", actor=OFFICE,
                                           occurred_at=T0 - timedelta(days=5)).aggregate_id
    memory_engine.communities.add_grid(c, "xy-2", actor=OFFICE)
    memory_engine.communities.classify_zone(c, "xy-2", "old_estate", actor=OFFICE)
    memory_engine.communities.add_building(c, "b12", "xy-2", [UnitSpec("1", 18)], actor=OFFICE)
    return c


@pytest.fixture
def meal(memory_engine: Engine, xiangyang: UUID) -> UUID:
    """Liu's meal delivery, placed at T0."""
    return memory_engine.orders.place(xiangyang, household_id="hh-liu", area_id="b12/1",
                                      category="meals", item="meal_delivery", actor=LIU,
                                      occurred_at=T0).aggregate_id


def test_placing_records_grid_zone_and_expected_time(memory_engine: Engine, meal: UUID) -> None:
    """The order carries its grid, zone type and the catalogue's expected duration."""
    order = memory_engine.orders.get(meal)
    assert (order.grid_id, order.zone_type) == ("xy-2", ZoneType.OLD_ESTATE)
    expected = DEFAULT_CATALOGUE.get("meals", "meal_delivery").expected
    assert order.expected_by == T0 + expected
    assert order.status is OrderStatus.PLACED


def test_full_cycle_fixed_and_rated(memory_engine: Engine, meal: UUID) -> None:
    """placed -> accepted -> dispatched -> started -> completed fixed -> rated 5."""
    orders = memory_engine.orders
    orders.accept(meal, actor=OFFICE, occurred_at=T0 + minutes(5))
    orders.dispatch(meal, KITCHEN, actor=OFFICE, occurred_at=T0 + minutes(7))
    provider = Actor("kitchen", Role.PROVIDER)
    orders.start(meal, actor=provider, occurred_at=T0 + minutes(60))
    orders.complete(meal, ServiceOutcome.FIXED, actor=provider, occurred_at=T0 + minutes(90))
    orders.rate(meal, 5, "hot", actor=LIU, occurred_at=T0 + minutes(120))
    order = orders.get(meal)
    assert (order.status, order.outcome, order.rating) == (OrderStatus.COMPLETED,
                                                           ServiceOutcome.FIXED, 5)


def test_rating_rules(memory_engine: Engine, meal: UUID) -> None:
    """Only a completed order, only 1-5, only by the placing resident, once per completion."""
    orders = memory_engine.orders
    with pytest.raises(InvalidTransitionError, match="placed order cannot be rated"):
        orders.rate(meal, 4, actor=LIU)
    orders.accept(meal, actor=OFFICE)
    orders.dispatch(meal, KITCHEN, actor=OFFICE)
    orders.complete(meal, "fixed", actor=OFFICE)
    for score in (0, 6, True):
        with pytest.raises(InvalidInputError, match="1 to 5"):
            orders.rate(meal, score, actor=LIU)
    with pytest.raises(InvalidTransitionError, match="only the resident"):
        orders.rate(meal, 4, actor=Actor("res-other", Role.RESIDENT))
    orders.rate(meal, 4, actor=LIU)
    with pytest.raises(InvalidTransitionError, match="already rated"):
        orders.rate(meal, 5, actor=LIU)
    assert len(memory_engine.events(meal)) == 5


def test_not_fixed_needs_a_reason_and_reopen_allows_a_new_rating(memory_engine: Engine,
                                                                 meal: UUID) -> None:
    """Closed-not-fixed requires a note; a reopened order is dispatched and rated again."""
    orders = memory_engine.orders
    orders.accept(meal, actor=OFFICE)
    orders.dispatch(meal, KITCHEN, actor=OFFICE)
    with pytest.raises(InvalidInputError, match="needs a reason"):
        orders.complete(meal, "not_fixed", actor=OFFICE)
    orders.complete(meal, "not_fixed", "kitchen closed", actor=OFFICE)
    orders.rate(meal, 1, actor=LIU)
    orders.reopen(meal, "still hungry", actor=LIU)
    orders.dispatch(meal, Provider("grid_worker", "gao", "Gao"), actor=OFFICE)
    orders.complete(meal, "fixed", actor=OFFICE)
    orders.rate(meal, 4, actor=LIU)
    order = orders.get(meal)
    assert (order.ratings, order.reopen_count) == ([1, 4], 1)


def test_wrong_state_and_early_times_are_rejected(memory_engine: Engine, meal: UUID) -> None:
    """Dispatch before acceptance, completion before dispatch time, cancel after completion."""
    orders = memory_engine.orders
    with pytest.raises(InvalidTransitionError, match="placed order cannot be dispatched"):
        orders.dispatch(meal, KITCHEN, actor=OFFICE)
    with pytest.raises(InvalidTransitionError, match="before the order's placement"):
        orders.accept(meal, actor=OFFICE, occurred_at=T0 - minutes(1))
    orders.accept(meal, actor=OFFICE, occurred_at=T0 + minutes(1))
    orders.dispatch(meal, KITCHEN, actor=OFFICE, occurred_at=T0 + minutes(10))
    with pytest.raises(InvalidTransitionError, match="backwards"):
        orders.complete(meal, "fixed", actor=OFFICE, occurred_at=T0 + minutes(5))
    orders.complete(meal, "fixed", actor=OFFICE, occurred_at=T0 + minutes(50))
    with pytest.raises(InvalidTransitionError, match="completed order cannot be cancelled"):
        orders.cancel(meal, "changed my mind", actor=LIU)
    assert len(memory_engine.events(meal)) == 4


def test_unknown_service_or_area_is_not_found(memory_engine: Engine, xiangyang: UUID) -> None:
    """The catalogue and the community's areas are checked before anything is recorded."""
    with pytest.raises(NotFoundError, match="no service meals/caviar"):
        memory_engine.orders.place(xiangyang, household_id="hh", area_id="b12", category="meals",
                                   item="caviar", actor=LIU)
    with pytest.raises(NotFoundError, match="no area"):
        memory_engine.orders.place(xiangyang, household_id="hh", area_id="b99",
                                   category="meals", item="meal_delivery", actor=LIU)
    assert memory_engine.app.recorder.max_notification_id() == 4


def test_a_custom_catalogue_is_used_by_the_engine(xiangyang: UUID, clock: ManualClock) -> None:
    """Apps extend the catalogue as a value and hand it to their engine."""
    catalogue = DEFAULT_CATALOGUE.with_item("home", "window_cleaning", "Window cleaning",
                                            timedelta(hours=30))
    assert ServiceCatalogue.from_json(catalogue.to_json()) == catalogue
    with Engine("memory:", clock=clock, catalogue=catalogue) as engine:
        c = engine.communities.register(district="a", subdistrict="b", name="c",
                                        actor=OFFICE).aggregate_id
        engine.communities.add_grid(c, "g", actor=OFFICE)
        order = engine.orders.place(c, household_id="hh", area_id="g", category="home",
                                    item="window_cleaning", actor=LIU).aggregate_id
        assert engine.orders.get(order).expected_by == clock() + timedelta(hours=30)


def test_a_rating_cannot_be_corrected_to_before_its_completion(memory_engine: Engine,
                                                               meal: UUID) -> None:
    """Corrections keep the rating after the completion it rates."""
    orders = memory_engine.orders
    orders.accept(meal, actor=OFFICE, occurred_at=T0 + minutes(1))
    orders.dispatch(meal, KITCHEN, actor=OFFICE, occurred_at=T0 + minutes(2))
    orders.complete(meal, "fixed", actor=OFFICE, occurred_at=T0 + minutes(30))
    rating = orders.rate(meal, 5, actor=LIU, occurred_at=T0 + minutes(40))
    with pytest.raises(InvalidTransitionError, match="precede"):
        orders.correct_time(meal, rating.first_version, T0 + minutes(20), "x", actor=OFFICE)
    assert len(memory_engine.events(meal)) == 5


def test_each_step_of_the_loop_is_dated_no_earlier_than_the_last(memory_engine: Engine,
                                                                 meal: UUID) -> None:
    """A dispatch dated before the acceptance, or a re-dispatch before the dispatch, is refused."""
    orders = memory_engine.orders
    orders.accept(meal, actor=OFFICE, occurred_at=T0 + minutes(10))
    with pytest.raises(InvalidTransitionError, match="before the order's acceptance"):
        orders.dispatch(meal, KITCHEN, actor=OFFICE, occurred_at=T0 + minutes(5))
    orders.dispatch(meal, KITCHEN, actor=OFFICE, occurred_at=T0 + minutes(20))
    with pytest.raises(InvalidTransitionError, match="before the order's dispatch"):
        orders.dispatch(meal, Provider("grid_worker", "gao"), actor=OFFICE,
                        occurred_at=T0 + minutes(15))
    assert len(memory_engine.events(meal)) == 3


def refused(engine: Engine, order: UUID, error: type[Exception], command: Any,
            match: str | None = None) -> None:
    """``command`` raises ``error`` and the order gained no fact."""
    before = len(engine.events(order))
    with pytest.raises(error, match=match):
        command()
    assert len(engine.events(order)) == before


def completed(engine: Engine, order: UUID) -> None:
    """Accept, dispatch and complete the order as fixed, 30 minutes after placement."""
    engine.orders.accept(order, actor=OFFICE, occurred_at=T0 + minutes(1))
    engine.orders.dispatch(order, KITCHEN, actor=OFFICE, occurred_at=T0 + minutes(2))
    engine.orders.complete(order, "fixed", actor=OFFICE, occurred_at=T0 + minutes(30))


def test_a_resident_can_say_whether_the_order_resolved_their_request(memory_engine: Engine,
                                                                     meal: UUID) -> None:
    """rate(..., resolved=False) records the resident's answer beside the provider's fixed;
    a reopening clears it with the rating."""
    orders = memory_engine.orders
    completed(memory_engine, meal)
    orders.rate(meal, 2, "cold", resolved=False, actor=LIU, occurred_at=T0 + minutes(40))
    order = orders.get(meal)
    assert (order.outcome, order.rating, order.resolved_by_resident) == (
        ServiceOutcome.FIXED, 2, False)
    rated = memory_engine.events(meal)[-1]
    assert isinstance(rated, ServiceOrder.Rated)
    assert (rated.resolved, rated.detail(), rated.describe()) == (
        False, [2, False], "rated 2/5, not resolved: cold")
    orders.reopen(meal, "still hungry", actor=LIU, occurred_at=T0 + minutes(50))
    assert orders.get(meal).resolved_by_resident is None


def test_a_rating_without_an_answer_leaves_resolved_unsaid(memory_engine: Engine,
                                                           meal: UUID) -> None:
    """Not saying is None, never counted as yes or no."""
    completed(memory_engine, meal)
    memory_engine.orders.rate(meal, 5, actor=LIU, occurred_at=T0 + minutes(40))
    rated = memory_engine.events(meal)[-1]
    assert isinstance(rated, ServiceOrder.Rated)
    assert (rated.resolved, rated.detail(), memory_engine.orders.get(meal).resolved_by_resident
            ) == (None, [5, None], None)


@pytest.mark.parametrize("answer", [1, 0, "yes", "false"])
def test_resolved_must_be_true_false_or_none(memory_engine: Engine, meal: UUID,
                                             answer: Any) -> None:
    """Anything but a real bool (or None) is invalid input, and records nothing."""
    completed(memory_engine, meal)
    refused(memory_engine, meal, InvalidInputError,
            lambda: memory_engine.orders.rate(meal, 4, resolved=answer, actor=LIU),
            "resolved must be True or False")


@pytest.mark.parametrize("close", ["complete", "cancel", "reject"])
def test_a_closed_order_accepts_corrections_and_late_notes(memory_engine: Engine, meal: UUID,
                                                           close: str) -> None:
    """A completed, cancelled or rejected order takes time and details corrections and notes
    (amendments); it stays as it was."""
    orders = memory_engine.orders
    match close:
        case "complete":
            completed(memory_engine, meal)
        case "cancel":
            orders.cancel(meal, "moved away", actor=LIU, occurred_at=T0 + minutes(30))
        case _:
            orders.reject(meal, "out of area", actor=OFFICE, occurred_at=T0 + minutes(30))
    status = orders.get(meal).status
    orders.correct_time(meal, 1, T0 - minutes(5), "phone log", actor=OFFICE,
                        occurred_at=T0 + minutes(90))
    orders.correct_details(meal, 1, "no onions", "wording", actor=OFFICE,
                           occurred_at=T0 + minutes(90))
    orders.add_note(meal, "called the resident back", actor=OFFICE, occurred_at=T0 + minutes(20))
    order = orders.get(meal)
    assert (order.status, order.placed_at) == (status, T0 - minutes(5))
    refused(memory_engine, meal, InvalidTransitionError,
            lambda: orders.correct_time(meal, 1, T0 + minutes(45), "x", actor=OFFICE),
            "before the order was placed")
