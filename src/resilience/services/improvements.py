"""Commands on improvement items, and the improvement plan read back from the ``plans`` view."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4, uuid5

from attrs import frozen
from eventsourcing.persistence import PersistenceError

from resilience.domain.improvement import (
    STATUS_AFTER,
    UNFINISHED,
    ImprovementItem,
    ImprovementStatus,
)
from resilience.domain.incident import Incident
from resilience.domain.organisation import NAMESPACE, Community
from resilience.domain.validation import check_moment, require_text, shown
from resilience.domain.values import Actor, AreaKind
from resilience.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from resilience.projections.plans import HISTORIES
from resilience.services.core import AggregateService, Receipt, Store
from resilience.services.reports import Reports

T = TypeVar("T")


def improvement_id_for(community: UUID, key: str) -> UUID:
    """A stable improvement-item id from a caller's key (a scenario key, a review's item key...)."""
    return uuid5(NAMESPACE, f"improvement/{community}/{key}")


REVIEW_KEY_FORMS = ("incident/<incident uuid>", "community/<community uuid>/<period>",
                    "community/<community uuid>/grid/<grid>/<period>")
"""The forms of a review key (``<period>``: the reviewed period's text, e.g. ``all time``)."""


@frozen
class ReviewKey:
    """A review key taken apart: the review of one incident (``kind`` ``"incident"``,
    ``subject`` its id), or of a community's or grid's incidents over a period
    (``"community"``, the community's id, ``grid`` or None, ``period`` its text)."""

    kind: str
    subject: UUID
    grid: str | None = None
    period: str | None = None


def parse_review_key(review: object) -> ReviewKey:
    """Take a review key apart (see ``REVIEW_KEY_FORMS``); InvalidInputError if it is not
    one. The uuid is in its canonical text (``str(uuid)``) and the grid and period are
    non-blank, without surrounding spaces, so that one review has one key."""
    parsed = _review_key(review) if isinstance(review, str) else None
    if parsed is None:
        raise InvalidInputError(
            f"review {shown(review)} is not a review key: it is one of "
            + ", ".join(f"'{form}'" for form in REVIEW_KEY_FORMS))
    return parsed


def _review_key(review: str) -> ReviewKey | None:
    kind, _, rest = review.partition("/")
    subject, _, scope = rest.partition("/")
    try:
        uuid = UUID(subject)
    except ValueError:
        return None
    if str(uuid) != subject:
        return None
    if kind == "incident":
        return ReviewKey(kind, uuid) if not scope and "/" not in rest else None
    if kind != "community":
        return None
    grid: str | None = None
    period = scope
    if scope.startswith("grid/"):
        grid, _, period = scope.removeprefix("grid/").rpartition("/")
        if not grid or grid != grid.strip():
            return None
    if not period or period != period.strip() or "/" in period:
        return None
    return ReviewKey(kind, uuid, grid, period)


@frozen
class PlanItem:
    """One improvement item as the ``plans`` view holds it, as of a moment.

    ``status``, ``owner``, ``due``, ``planned_at`` and ``completed_at`` are
    as of that moment (the facts that had happened by then, with their
    corrections); ``overdue`` says whether the item was unfinished and past
    its due date then. ``action``, ``objective`` and the links are as planned.
    """

    item_id: UUID
    review: str
    incident_id: UUID | None
    community: UUID
    grid: str | None
    objective: str | None
    action: str
    owner: str
    due: datetime
    status: ImprovementStatus
    planned_at: datetime
    completed_at: datetime | None
    overdue: bool

    @property
    def is_open(self) -> bool:
        """Not done nor cancelled (open or in progress)."""
        return self.status in UNFINISHED


def _times(doc: dict[str, Any], known_at: datetime | None) -> dict[int, datetime]:
    """Effective time of each lifecycle and due fact by version, with the corrections
    recorded by ``known_at`` applied (all of them if None)."""
    parse = datetime.fromisoformat
    times: dict[int, datetime] = {}
    for name, versions in HISTORIES:
        times.update((v, parse(e[1])) for e, v in zip(doc[name], doc[versions], strict=True))
    if known_at is None:
        return times
    for version, _, _, _ in doc["corrections"]:  # back to the original times
        times.pop(version, None)
    for version, moved_from, _, _ in doc["corrections"]:
        times.setdefault(version, parse(moved_from))
    for version, _, moved_to, recorded in doc["corrections"]:
        if parse(recorded) <= known_at:
            times[version] = parse(moved_to)
    return times


def _in_force(entries: list[list[Any]], versions: list[int], times: dict[int, datetime],
              at: datetime | None, known_at: datetime | None
              ) -> tuple[list[Any], datetime] | None:
    """The entry (and its effective time) in force at ``at`` as known at ``known_at``: the
    last that had happened by then (by effective time, then recording order)."""
    parse = datetime.fromisoformat
    candidates = [(times[v], i) for i, (e, v) in enumerate(zip(entries, versions, strict=True))
                  if (known_at is None or parse(e[2]) <= known_at)
                  and (at is None or times[v] <= at)]
    if not candidates:
        return None
    when, index = max(candidates)
    return entries[index], when


def plan_item(key: str, doc: dict[str, Any], now: datetime, at: datetime | None = None,
              known_at: datetime | None = None) -> PlanItem | None:
    """The item of a ``plans`` document as it stood at ``at`` as recorded by ``known_at``
    (None, None: as it stands now, overdue against ``now``); None if it had not been
    planned (or that was not yet recorded) by then."""
    parse = datetime.fromisoformat
    if at is None and known_at is None:
        status, owner = ImprovementStatus(doc["status"]), doc["owner"]
        planned, due = parse(doc["planned"]), parse(doc["due"])
        completed = parse(doc["completed"]) if doc["completed"] else None
        moment = now
    else:
        times = _times(doc, known_at)
        step = _in_force(doc["history"], doc["history_versions"], times, at, known_at)
        scheduled = _in_force(doc["dues"], doc["due_versions"], times, at, known_at)
        owned = _in_force(doc["owners"], doc["owner_versions"], times, at, known_at)
        if step is None or scheduled is None or owned is None:
            return None
        status, owner = STATUS_AFTER[step[0][0]], owned[0][0]
        planned, due = times[1], parse(scheduled[0][0])
        completed = step[1] if status is ImprovementStatus.DONE else None
        moment = next(m for m in (at, known_at, now) if m is not None)
    return PlanItem(
        item_id=UUID(key), review=doc["review"],
        incident_id=UUID(doc["incident"]) if doc["incident"] else None,
        community=UUID(doc["community"]), grid=doc["grid"], objective=doc["objective"],
        action=doc["action"], owner=owner, due=due, status=status, planned_at=planned,
        completed_at=completed, overdue=status in UNFINISHED and moment > due,
    )


class Improvements(AggregateService[ImprovementItem]):
    """``engine.improvements``: an improvement plan's items, tracked to done, and listed."""

    aggregate_class = ImprovementItem

    def __init__(self, store: Store, reports: Reports) -> None:
        super().__init__(store)
        self._reports = reports
        self.views = reports.views

    # Commands -----------------------------------------------------------------

    def plan(
        self, community: UUID, *, review: str, action: str, owner: str, due: datetime,
        actor: Actor, incident_id: UUID | None = None, grid: str | None = None,
        objective: str | None = None, occurred_at: datetime | None = None,
        item_id: UUID | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record an item of the improvement plan of the review whose key is ``review``.

        A review key names the after-action review that raised the item (see
        ``REVIEW_KEY_FORMS``): ``"incident/<incident uuid>"`` for the review of
        one incident, ``"community/<community uuid>/<period>"`` or
        ``"community/<community uuid>/grid/<grid>/<period>"`` for the review of
        a community's or grid's incidents over a period (``<period>`` the
        period's text as the review writes it, e.g. ``all time``; only its form
        is checked here). A review lists the items under its own key as
        raised, and as "still open" the items of *other* reviews (of its
        community; of its grid, if it has one) planned before the incidents it
        reviews were detected and not finished at its cut: the items of a
        later review are never an earlier review's "still open".

        The community must exist. A key of none of these forms is refused
        (InvalidInputError), as is a community key of another community. An
        incident key's incident must be one of the community's incidents
        (NotFoundError); ``incident_id`` defaults to it, and if given must be
        it (InvalidInputError). ``incident_id``, if given, must be one of the
        community's incidents; a grid key's grid, and ``grid`` if given, one of
        its grids. The item's grid is ``grid``, else the grid key's, else the
        incident's. ``objective`` names the objective the item addresses (not
        a milestone). The item's id is ``item_id`` if given, else
        ``improvement_id_for(community, command_id)`` with a command id, else a
        random UUID.
        """
        ctx = self._store.context(actor, occurred_at, command_id)
        org = self._store.load(Community, community)
        key = parse_review_key(review)
        if incident_id is not None and not isinstance(incident_id, UUID):
            raise InvalidInputError(f"incident_id must be a UUID or None, got {shown(incident_id)}")
        if key.kind == "incident":
            if incident_id is None:
                incident_id = key.subject
            elif incident_id != key.subject:
                raise InvalidInputError(
                    f"the review is of incident {key.subject} but incident_id is {incident_id}")
        elif key.subject != community:
            raise InvalidInputError(
                f"the review is of community {key.subject} but the item is planned in "
                f"{org.name} ({community})")
        if key.grid is not None:
            self._require_grid(org, key.grid)
            if grid is None:
                grid = key.grid
        if incident_id is not None:
            incident = self._store.load(Incident, incident_id)
            if incident.community_id != community:
                raise NotFoundError(f"{org.name} has no incident {incident_id}")
            if grid is None:
                grid = incident.location.grid
        if grid is not None:
            self._require_grid(org, require_text(grid, "grid"))
        if item_id is not None and not isinstance(item_id, UUID):
            raise InvalidInputError(f"item_id must be a UUID, got {shown(item_id)}")
        if item_id is None:
            item_id = improvement_id_for(community, command_id) if command_id else uuid4()
        new_id = item_id
        return self._store.create(
            ImprovementItem, item_id, ctx,
            lambda: ImprovementItem.plan(
                ctx, item_id=new_id, community_id=community, review=review,
                incident_id=incident_id, grid=grid, objective=objective, action=action,
                owner=owner, due=due,
            ),
        )

    def assign(self, item: UUID, owner: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Hand the item to another owner."""
        return self._run(item, actor, occurred_at, command_id, lambda i, ctx: i.assign(ctx, owner))

    def reschedule(self, item: UUID, due: datetime, reason: str, *, actor: Actor,
                   occurred_at: datetime | None = None,
                   command_id: str | None = None) -> Receipt:
        """Move the item's due date, saying why."""
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.reschedule(ctx, due, reason))

    def start(self, item: UUID, *, actor: Actor, occurred_at: datetime | None = None,
              command_id: str | None = None) -> Receipt:
        return self._run(item, actor, occurred_at, command_id, lambda i, ctx: i.start(ctx))

    def complete(self, item: UUID, note: str = "", *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.complete(ctx, note))

    def cancel(self, item: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.cancel(ctx, reason))

    def reopen(self, item: UUID, reason: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Reopen a done or cancelled item."""
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.reopen(ctx, reason))

    def add_note(self, item: UUID, text: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(item, actor, occurred_at, command_id,
                         lambda i, ctx: i.add_note(ctx, text))

    @staticmethod
    def _require_grid(org: Community, grid: str) -> None:
        if org.area(grid).kind is not AreaKind.GRID:
            raise InvalidInputError(f"{grid} is not a grid of {org.name}")

    # Reading the plans view -----------------------------------------------------

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
        ``community``, ``review`` (a review key, see ``plan``), ``incident`` and
        ``grid`` narrow the list; an unknown community, or a grid that is not
        one of the given community's, raises NotFoundError.
        """
        key = _uuid_text(community, "community")
        wanted = _filters(review, incident, grid)
        if not isinstance(open_only, bool):
            raise InvalidInputError(f"open_only must be True or False, got {shown(open_only)}")
        now = self._moments(at, known_at)
        rows = self._read(lambda: self._select(key, grid))
        found = []
        for item_key, doc in rows:
            if any(doc[name] != value for name, value in wanted.items()):
                continue
            item = plan_item(item_key, doc, now, at, known_at)
            if item is not None and (item.is_open or not open_only):
                found.append(item)
        return sorted(found, key=lambda i: (i.due, i.planned_at, str(i.item_id)))

    def item(self, item_id: UUID, *, at: datetime | None = None,
             known_at: datetime | None = None) -> PlanItem:
        """One item from the ``plans`` view, as of ``at`` and ``known_at`` (see ``items``)."""
        key = _uuid_text(item_id, "item_id")
        assert key is not None
        now = self._moments(at, known_at)
        doc = self._read(lambda: self.views.get("plans", key))
        found = plan_item(key, doc, now, at, known_at) if doc is not None else None
        if found is None:
            raise NotFoundError(f"no improvement item {item_id}" + (
                " had been planned (and recorded) by then" if doc is not None else ""))
        return found

    def _moments(self, at: datetime | None, known_at: datetime | None) -> datetime:
        """Check ``at`` and ``known_at``; return the engine's clock now."""
        if at is not None:
            check_moment(at, "at", query=True)
        if known_at is not None:
            check_moment(known_at, "known_at", query=True)
        return check_moment(self._store.clock(), "clock()")

    def _select(self, community: str | None, grid: str | None
                ) -> list[tuple[str, dict[str, Any]]]:
        if community is not None:
            doc = self.views.get("cases", community)
            if doc is None or doc.get("kind") != "community":
                raise NotFoundError(f"no community {community}")
            if grid is not None and grid not in doc["grids"]:
                raise NotFoundError(f"{doc['name']} has no grid {shown(grid)}")
        return self.views.select("plans", "improvement", community=community)

    def _read(self, read: Callable[[], T]) -> T:
        """Catch the views up (as the reports do), then read; a store failure is
        StoreUnavailableError."""
        self._reports.ready()
        try:
            return read()
        except PersistenceError as exc:
            raise StoreUnavailableError(f"the plans view could not be read: {exc}") from exc


def _uuid_text(value: UUID | None, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, UUID):
        raise InvalidInputError(f"{name} must be a UUID, got {shown(value)}")
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
            raise InvalidInputError(f"grid must be a grid id string, got {shown(grid)}")
        wanted["grid"] = grid
    return wanted
