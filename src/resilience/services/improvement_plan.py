"""Improvement plans read back from the ``plans`` view: ``engine.improvements.items`` and ``.item``.

The read side of improvement items (their commands are
resilience.services.improvements): the arguments are checked, the views
caught up as the reports do, and the documents read into PlanItems by
resilience.projections.plan_items. ``engine.improvements.items`` and
``.item`` run this class's methods, so each query is written once.
"""

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from resilience.clock import Clock
from resilience.domain.validation import check_moment, shown
from resilience.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from resilience.i18n import _
from resilience.projections.base import Doc
from resilience.projections.plan_items import PlanItem, plan_item, plan_items
from resilience.review.keys import parse_review_key
from resilience.services.reports import Reports

T = TypeVar("T")


class ImprovementPlan:
    """Improvement items from the ``plans`` view, as they stand or as of a cut."""

    def __init__(self, reports: Reports, clock: Clock) -> None:
        self._reports = reports
        self._clock = clock

    def items(self, community: UUID | None = None, *, review: str | None = None,
              incident: UUID | None = None, grid: str | None = None, open_only: bool = False,
              at: datetime | None = None, known_at: datetime | None = None) -> list[PlanItem]:
        """Improvement items from the ``plans`` view, by due date (then planning time).

        ``at``: the items planned by then, with their status and due date as of
        then (by the facts' effective times), overdue relative to it; default:
        as they stand now, overdue relative to the engine's clock. ``known_at``:
        only what had been recorded by then (later facts and corrections left
        out); overdue relative to ``at``, else to ``known_at``. ``open_only``
        (a bool) keeps the items open or in progress (at that moment).
        ``community``, ``review`` (a review key, see ``engine.improvements.plan``),
        ``incident`` and ``grid`` narrow the list; an unknown community, or a grid
        that is not one of the given community's, raises NotFoundError.
        """
        key = _uuid_text(community, "community")
        wanted = _filters(review, incident, grid)
        if not isinstance(open_only, bool):
            raise InvalidInputError(_("open_only must be True or False, got {value}").format(
                value=shown(open_only)))
        now = self._moments(at, known_at)
        return self._items(key, wanted, now, at, known_at, open_only)

    def still_open(self, community: UUID, grid: str | None, before: datetime | None,
                   at: datetime | None, known_at: datetime | None) -> list[PlanItem]:
        """The items of a community (of ``grid``, if given) open at the cut and planned
        before ``before`` (if given): those a review lists as still open, besides its own
        (``Reviews``, whose arguments are checked). Read like ``items(open_only=True)``."""
        now = self._moments(at, known_at)
        wanted = {} if grid is None else {"grid": grid}
        found = self._items(str(community), wanted, now, at, known_at, True, before)
        return [item for item in found if before is None or item.planned_at < before]

    def _items(self, community: str | None, wanted: dict[str, Any], now: datetime,
               at: datetime | None, known_at: datetime | None, open_only: bool,
               before: datetime | None = None) -> list[PlanItem]:
        """The items as ``items`` reads them (its arguments checked). A review's are read
        by the view's index of them; the open ones (planned before ``before``) as of an
        ``as_of`` cut or now, by the rows' ``until`` and ``at``
        (resilience.projections.indexes): a ``known_at`` cut reads every item, as a
        correction recorded since may have moved what those columns say."""
        bounds: dict[str, float] = {}
        if known_at is None and open_only:
            bounds["until_after"] = math.inf if at is None else at.timestamp()
            if before is not None:
                bounds["end"] = before.timestamp()
        rows = self._read(lambda: self._select(community, wanted, bounds))
        return plan_items(rows, wanted, now, at, known_at, open_only)

    def item(self, item_id: UUID, *, at: datetime | None = None,
             known_at: datetime | None = None) -> PlanItem:
        """One item from the ``plans`` view, as of ``at`` and ``known_at`` (see ``items``)."""
        key = _uuid_text(item_id, "item_id")
        assert key is not None
        now = self._moments(at, known_at)
        doc = self._read(lambda: self._reports.views.get("plans", key))
        found = plan_item(key, doc, now, at, known_at) if doc is not None else None
        if found is None:
            raise NotFoundError((_("no improvement item {id} had been planned (and recorded) "
                                   "by then") if doc is not None else
                                 _("no improvement item {id}")).format(id=item_id))
        return found

    def _moments(self, at: datetime | None, known_at: datetime | None) -> datetime:
        """Check ``at`` and ``known_at``; return the engine's clock now."""
        if at is not None:
            check_moment(at, "at", query=True)
        if known_at is not None:
            check_moment(known_at, "known_at", query=True)
        return check_moment(self._clock(), "clock()")

    def _select(self, community: str | None, wanted: dict[str, Any],
                bounds: dict[str, float]) -> list[tuple[str, Doc]]:
        views = self._reports.views
        grid = wanted.get("grid")
        if community is not None:
            doc = views.get("cases", community)
            if doc is None or doc.get("kind") != "community":
                raise NotFoundError(_("no community {id}").format(id=community))
            if grid is not None and grid not in doc["grids"]:
                raise NotFoundError(_("{community} has no grid {grid}").format(
                    community=doc["name"], grid=shown(grid)))
        review = wanted.get("review")
        if review is None:
            return views.select("plans", "improvement", community=community, **bounds)
        raised = views.get("plans", review)  # the review's index of its items
        found = views.fetch("plans", raised["items"] if raised is not None else ())
        return [(key, doc) for key, doc in found.items()
                if community is None or doc["community"] == community]

    def _read(self, read: Callable[[], T]) -> T:
        """Catch the views up (as the reports do), then read; a store failure is
        StoreUnavailableError."""
        self._reports.ready()
        try:
            return read()
        except PersistenceError as exc:
            raise StoreUnavailableError(_("the plans view could not be read: {error}").format(
                error=exc)) from exc


def _uuid_text(value: UUID | None, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, UUID):
        raise InvalidInputError(_("{name} must be a UUID, got {value}").format(
            name=name, value=shown(value)))
    return str(value)


def _filters(review: str | None, incident: UUID | None, grid: str | None) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    if review is not None:
        parse_review_key(review)
        wanted["review"] = review
    if incident is not None:
        wanted["incident"] = _uuid_text(incident, "incident")
    if grid is not None:
        if not isinstance(grid, str):
            raise InvalidInputError(_("grid must be a grid id string, got {value}").format(
                value=shown(grid)))
        wanted["grid"] = grid
    return wanted
