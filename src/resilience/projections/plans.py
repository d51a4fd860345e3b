"""The ``plans`` projection: one document per improvement item, for listing improvement plans.

A document holds the item as it stands now (review, incident, grid,
objective, action, owner, due date, status, when it was planned and
completed, why it was cancelled) and three histories, so a reader can work
out the item as of any moment:

- ``history``: each lifecycle fact ``[event name, occurred, recorded]``
  (Planned, Started, Completed, Cancelled, Reopened), effective times with
  corrections applied;
- ``dues``: each due date set ``[due, occurred, recorded]`` (the planned
  one, then each reschedule);
- ``owners``: each owner given ``[owner, occurred, recorded]`` (the planned
  one, then each reassignment).

``history_versions``, ``due_versions`` and ``owner_versions`` give the fact
version of each entry, so a time correction finds what it moves; ``corrections`` lists each
correction of those facts ``[version, from, to, recorded]``, so a reader can
also tell what was known at a moment (a correction recorded later undone).

Beside them, one document per review key that raised items (kind ``review``, keyed by
the review key, which is never an item's id): ``items``, the ids of the items planned
under it, in the order they were recorded. It is an index, so a review's items are read
by key instead of among every item of the community (an item's review never changes).

Like the other projections it only folds facts: the status, due date and
owner are those the event classes declare they set (``status_after``,
``sets_due``, ``sets_owner``), and what is open, late or overdue is decided
when the view is read (``engine.improvements.items``).
"""

from typing import Any

from resilience.domain.base import FactAggregate
from resilience.domain.improvement import ImprovementItem
from resilience.projections.base import Delivery, Doc, Docs

HISTORIES = (("history", "history_versions"), ("dues", "due_versions"),
             ("owners", "owner_versions"))
"""Each history of a document, and the list of its entries' fact versions."""


class Plans:
    """Improvement items, one document each; every other aggregate's facts are ignored."""

    view = "plans"
    owners = frozenset({"improvement"})
    """Whose documents it reads (resilience.projections.base ``reads``)."""

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        if delivery.owner != "improvement":
            return
        event, key, name, version, occurred, recorded = delivery[:6]
        if version == 1:
            doc: Doc = {
                "kind": "improvement", "community": str(event.community_id),
                "at": event.occurred_at.timestamp(), "review": event.review,
                "incident": str(event.incident_id) if event.incident_id else None,
                "grid": event.grid, "objective": event.objective, "action": event.action,
                "owner": event.owner, "due": event.due.isoformat(), "status": "",
                "planned": occurred, "completed": None, "cancel_reason": None,
                "history": [], "history_versions": [], "dues": [], "due_versions": [],
                "owners": [], "owner_versions": [], "corrections": [],
            }
        else:
            found = docs.get(key)
            if found is None:
                raise LookupError(
                    f"the plans view has no document {key} for version {version}: "
                    "it did not see this item's first fact; rebuild the views")
            doc = found
        if event.status_after is not None:
            doc["status"] = event.status_after.value
            doc["history"].append([name, occurred, recorded])
            doc["history_versions"].append(version)
            doc["completed"] = occurred if isinstance(event, ImprovementItem.Completed) else None
            doc["cancel_reason"] = (event.reason if isinstance(event, ImprovementItem.Cancelled)
                                    else None)
        if event.sets_due:
            doc["due"] = event.due.isoformat()
            doc["dues"].append([doc["due"], occurred, recorded])
            doc["due_versions"].append(version)
        if event.sets_owner:
            doc["owner"] = event.owner
            doc["owners"].append([event.owner, occurred, recorded])
            doc["owner_versions"].append(version)
        if isinstance(event, FactAggregate.TimeCorrected):
            self._move(doc, event.corrects, event.corrected_to, recorded)
        docs.put(key, doc)
        if version == 1:
            raised = docs.get(doc["review"]) or {"kind": "review",
                                                 "community": doc["community"], "items": []}
            raised["items"].append(key)
            docs.put(doc["review"], raised)

    @staticmethod
    def _move(doc: Doc, version: int, corrected_to: Any, recorded: str) -> None:
        """A time correction: the fact at ``version`` happened at ``corrected_to``."""
        moved = corrected_to.isoformat()
        if version == 1:
            doc["planned"] = moved
            doc["at"] = corrected_to.timestamp()
        moved_from = None
        for name, versions in HISTORIES:
            if version in doc[versions]:
                entry = doc[name][doc[versions].index(version)]
                moved_from, entry[1] = entry[1], moved
        if moved_from is not None:
            doc["corrections"].append([version, moved_from, moved, recorded])
        if doc["status"] == "done" and doc["history_versions"][-1] == version:
            doc["completed"] = moved
