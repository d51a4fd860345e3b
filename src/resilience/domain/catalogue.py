"""The service catalogue: what residents can order, and how long each item should take.

It is a value, not an aggregate: an app edits it by building a new one
(``DEFAULT_CATALOGUE.with_item(...)``) or loading one from JSON, and hands it
to the engine. Each order records the category, item and expected completion
time it was placed with, so history never depends on today's catalogue.
"""

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from attrs import Attribute, field, frozen

from resilience.domain.named import named, shows_name
from resilience.domain.validation import (
    check_duration,
    check_number,
    check_text,
    non_empty_field,
    shown,
    text_field,
)
from resilience.errors import InvalidInputError, NotFoundError
from resilience.i18n import _

MAX_EXPECTED = timedelta(days=366)
"""Longest expected completion time of a catalogued service."""


def _expected(item: object, attribute: "Attribute[timedelta]", value: timedelta) -> None:
    expected = check_duration(value, "expected")
    if not timedelta(0) < expected <= MAX_EXPECTED:
        raise InvalidInputError(_(
            "expected duration must be more than 0 and at most {days} days, got {expected}")
            .format(days=MAX_EXPECTED.days, expected=expected))


@frozen
class CatalogueItem:
    category: str = field(validator=non_empty_field)
    item: str = field(validator=non_empty_field)
    title: str = field(validator=text_field)
    expected: timedelta = field(validator=_expected)


def _index(items: Iterable[CatalogueItem]) -> dict[tuple[str, str], CatalogueItem]:
    index: dict[tuple[str, str], CatalogueItem] = {}
    for entry in items:
        key = (entry.category, entry.item)
        if key in index:
            raise InvalidInputError(_("catalogue lists {service} twice").format(
                service=f"{entry.category}/{entry.item}"))
        index[key] = entry
    return index


def _as_tuple(items: Iterable[CatalogueItem]) -> tuple[CatalogueItem, ...]:
    return tuple(items)


@shows_name
@frozen
class ServiceCatalogue:
    """An immutable set of orderable services keyed by (category, item)."""

    items: tuple[CatalogueItem, ...] = field(converter=_as_tuple)
    _index: dict[tuple[str, str], CatalogueItem] = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_index", _index(self.items))

    def get(self, category: str, item: str) -> CatalogueItem:
        check_text(category, "category")
        check_text(item, "item")
        try:
            return self._index[(category, item)]
        except KeyError:
            known = ", ".join(f"{c}/{i}" for c, i in self._index)
            raise NotFoundError(_("the catalogue has no service {service} (it has: {known})")
                                .format(service=f"{category}/{item}", known=known)) from None

    def categories(self) -> list[str]:
        return list(dict.fromkeys(entry.category for entry in self.items))

    def with_item(
        self, category: str, item: str, title: str, expected: timedelta
    ) -> "ServiceCatalogue":
        """A new catalogue with one item added (or replaced)."""
        kept = [e for e in self.items if (e.category, e.item) != (category, item)]
        return ServiceCatalogue((*kept, CatalogueItem(category, item, title, expected)))

    def without_item(self, category: str, item: str) -> "ServiceCatalogue":
        self.get(category, item)
        return ServiceCatalogue(e for e in self.items if (e.category, e.item) != (category, item))

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"category": e.category, "item": e.item, "title": e.title,
             "expected_minutes": e.expected.total_seconds() / 60}
            for e in self.items
        ]

    @classmethod
    def from_json(cls, data: Iterable[Mapping[str, Any]]) -> "ServiceCatalogue":
        try:
            return cls(
                CatalogueItem(d["category"], d["item"], d.get("title", d["item"]),
                              _minutes(d["expected_minutes"]))
                for d in data
            )
        except InvalidInputError as exc:
            raise InvalidInputError(_("malformed catalogue entry: {problem}").format(
                problem=exc)) from None
        except (KeyError, TypeError, AttributeError) as exc:
            found = shown(exc.args[0]) if exc.args else ""
            raise InvalidInputError(_("malformed catalogue entry: {problem}").format(
                problem=f"{type(exc).__name__} {found}")) from None


def _minutes(value: object) -> timedelta:
    minutes = check_number(value, "expected_minutes")
    if abs(minutes) > MAX_EXPECTED.days * 24 * 60:
        raise InvalidInputError(_("expected_minutes must be at most {days} days, got "
                                  "{minutes}").format(days=MAX_EXPECTED.days, minutes=minutes))
    return timedelta(minutes=minutes)


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


DEFAULT_CATALOGUE = named(ServiceCatalogue(
    (
        # Xiangyang's characteristic services: 4 categories, 10+ items.
        CatalogueItem("health", "rehab_care", "Rehabilitation care visit", _h(48)),
        CatalogueItem("health", "home_nursing", "Home nursing", _h(24)),
        CatalogueItem("health", "health_check", "Health check at home", _h(72)),
        CatalogueItem("meals", "meal_delivery", "Meal delivery", _h(2)),
        CatalogueItem("meals", "meal_help", "Help with meals", _h(4)),
        CatalogueItem("skills", "skills_training", "Skills training session", _h(168)),
        CatalogueItem("skills", "digital_help", "Help with phones and apps", _h(72)),
        CatalogueItem("home", "repair", "Household repair", _h(48)),
        CatalogueItem("home", "cleaning", "Cleaning for elderly residents", _h(72)),
        CatalogueItem("home", "escort", "Escort to appointments", _h(24)),
        # The "Xiangyang 360" alliance's professional services.
        CatalogueItem("professional", "legal_advice", "Legal advice", _h(72)),
        CatalogueItem("professional", "counselling", "Psychological counselling", _h(72)),
        CatalogueItem("professional", "medical_service", "Medical service", _h(24)),
        CatalogueItem("professional", "financial_advice", "Financial advice", _h(120)),
    )
), "DEFAULT_CATALOGUE")
