"""The improvement plan's read model: ``plans`` view documents read into PlanItems.

A document of the ``plans`` view (resilience.projections.plans) holds an
item as it stands now and the history of each of its lifecycle, due-date and
owner facts. An item is read as of two cuts: ``at``, the facts that had
happened by then (by their effective times, corrections applied), and
``known_at``, the facts and corrections recorded by then (a correction
recorded later is undone: the fact is back at the time it had then). With
neither, the item is the document's current state. What is open and overdue
is decided here, on reading, against the cut's moment.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from attrs import frozen

from resilience.domain.base import FactTime, happening_order
from resilience.domain.improvement import STATUS_AFTER, UNFINISHED, ImprovementStatus
from resilience.projections.base import Doc
from resilience.projections.plans import HISTORIES


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


def _times(doc: Doc, known_at: datetime | None) -> dict[int, datetime]:
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
    candidates = [(FactTime(times[v], v), e) for e, v in zip(entries, versions, strict=True)
                  if (known_at is None or parse(e[2]) <= known_at)
                  and (at is None or times[v] <= at)]
    if not candidates:
        return None
    fact, entry = max(candidates, key=lambda candidate: happening_order(candidate[0]))
    return entry, fact.occurred_at


def plan_item(key: str, doc: Doc, now: datetime | None = None, at: datetime | None = None,
              known_at: datetime | None = None) -> PlanItem | None:
    """The item of a ``plans`` document as it stood at ``at`` as recorded by ``known_at``
    (None, None: as it stands now, overdue against ``now``; no ``now`` either: never
    overdue, for a reader that does not ask); None if it had not been planned (or that
    was not yet recorded) by then."""
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
        completed_at=completed,
        overdue=status in UNFINISHED and moment is not None and moment > due,
    )


def plan_items(rows: Iterable[tuple[str, Doc]], wanted: Mapping[str, object], now: datetime,
               at: datetime | None = None, known_at: datetime | None = None,
               open_only: bool = False) -> list[PlanItem]:
    """The items of the ``plans`` documents ``rows`` whose fields equal ``wanted``'s
    (``{"review": key}``, say), as of ``at`` and ``known_at`` (see ``plan_item``); only
    the open ones (then) if ``open_only``; by due date, then planning time, then id."""
    found = []
    for key, doc in rows:
        if any(doc[name] != value for name, value in wanted.items()):
            continue
        item = plan_item(key, doc, now, at, known_at)
        if item is not None and (item.is_open or not open_only):
            found.append(item)
    return sorted(found, key=lambda i: (i.due, i.planned_at, str(i.item_id)))
