"""Recovery, decided when read: when each piece of an incident's linked work was done, and
when the incident was recovered.

An incident's links are its ``RecoveryLinked`` facts (resilience.domain.recovery), each
naming a service order or an improvement item. The rule, at any cut:

- a linked **order** is *done* at the resident's rating of its standing completion (the
  effective time of the rating: "completed and rated"); an order placed for a household
  by someone who is not its resident (the desk), which nobody may rate, at its standing
  completion. A reopening undoes it, as it undoes the rating;
- a linked **improvement item** is *done* at its completion in force;
- a cancelled or rejected order, or a cancelled item, is *dropped*: nothing more will be
  done under it, so it no longer holds the recovery open, and it is not done either;
- the incident is **recovered** at the latest time a link was done, once every link is
  done or dropped and at least one is done (no links, or only dropped ones: not
  recovered). A link recorded later reopens the question until it is done too.

A link whose order or item is not in the record at the cut (a placement corrected to
after the link) has the status ``"unknown"`` and holds the recovery open.

The projections only fold facts: the link is a fact of the incident's ``cases``
document and of the order's (the item's ``plans`` document keeps its life), and the
``recovered`` milestone is put on the incident's Case here (``with_recovered``), from the
linked documents read at the same cut, so a metric from ``detected`` to ``recovered``
(``detection_to_recovered``) is measured like any other.
"""

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from attrs import evolve, frozen

from resilience.adapters.report_data import SCHEMA_VERSION
from resilience.domain.improvement import ImprovementStatus
from resilience.domain.incident import Incident
from resilience.domain.recovery import RecoveryKind
from resilience.domain.service import OrderStatus
from resilience.domain.values import Role
from resilience.i18n import _
from resilience.metrics.cases import Case, Happened, case_at
from resilience.projections.plan_items import PlanItem, plan_item

RECOVERED = "recovered"
"""The incident milestone ``with_recovered`` puts on a case."""
LINKED = Incident.RecoveryLinked.fact_name
RECOVERED_BY_RATING = "rated"
"""The order milestone that marks it done: the rating of its standing completion."""
UNKNOWN = "unknown"
"""The status of a link whose order or item is not in the record at the cut."""
DROPPED: Mapping[str, frozenset[str]] = {
    RecoveryKind.ORDER: frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED}),
    RecoveryKind.IMPROVEMENT: frozenset({ImprovementStatus.CANCELLED}),
}
"""The statuses in which a linked order or item is dropped from the recovery."""

Linked = Case | PlanItem | None
"""A linked order (its Case) or improvement item (its PlanItem) at a cut; None: not in the
record then."""


@frozen
class RecoveryLink:
    """One order or item linked to an incident's recovery, as it stood at the cut."""

    linked_id: UUID
    kind: str
    """``"order"`` or ``"improvement"`` (RecoveryKind)."""
    purpose: str
    """What it is for, as the link says (a details correction's text if corrected)."""
    linked_at: datetime
    """When it was linked (the link's effective time)."""
    status: str
    """The order's status (OrderStatus) or the item's (ImprovementStatus) at the cut,
    ``"unknown"`` if it is not in the record then."""
    done_at: datetime | None
    """When it was done (the rating of the order's standing completion, the item's
    completion), None if it is not."""
    rated: bool | None = None
    """A done order: whether it was done by the resident's rating (False: placed by the
    desk, which nobody rates, done at its completion); None for the rest."""

    @property
    def done(self) -> bool:
        return self.done_at is not None

    @property
    def dropped(self) -> bool:
        """Cancelled (or, an order, rejected): it no longer holds the recovery open."""
        return self.status in DROPPED.get(self.kind, frozenset())

    @property
    def awaiting_rating(self) -> bool:
        """An order completed whose completion the resident has not rated yet."""
        return (self.kind == RecoveryKind.ORDER and self.status == OrderStatus.COMPLETED
                and self.done_at is None)

    def describe(self) -> str:
        """Where the linked work stands, in words ("order completed and rated 2022-02-16
        12:00", "improvement item in progress, not done yet")."""
        noun = _("order") if self.kind == RecoveryKind.ORDER else _("improvement item")
        if self.done_at is not None:
            at = f"{self.done_at:%Y-%m-%d %H:%M}"
            if self.rated is False:
                said = _("{noun} completed {at} (placed by the desk: no rating to wait for)")
            elif self.rated:
                said = _("{noun} completed and rated {at}")
            else:
                said = _("{noun} done {at}")
            return said.format(noun=noun, at=at)
        if self.awaiting_rating:
            return _("{noun} completed, awaiting the resident's rating").format(noun=noun)
        status = _(self.status.replace("_", " "))
        if self.dropped:
            return _("{noun} {status}: no longer awaited").format(noun=noun, status=status)
        return _("{noun} {status}, not done yet").format(noun=noun, status=status)

    def to_dict(self) -> dict[str, Any]:
        return {"linked_id": str(self.linked_id), "kind": self.kind, "purpose": self.purpose,
                "linked_at": self.linked_at.isoformat(), "status": self.status,
                "done_at": None if self.done_at is None else self.done_at.isoformat(),
                "rated": self.rated}


@frozen
class Recovery:
    """An incident's recovery at a cut: its linked work and when it was recovered."""

    incident_id: UUID
    detected_at: datetime
    links: tuple[RecoveryLink, ...]
    """In the order they were linked (effective times, then recording order)."""
    recovered_at: datetime | None
    """The latest ``done_at`` once every link is done or dropped (at least one done);
    None otherwise, and with no links."""

    @property
    def duration(self) -> timedelta | None:
        """From detection to recovery (None while not recovered)."""
        return None if self.recovered_at is None else self.recovered_at - self.detected_at

    @property
    def pending(self) -> tuple[RecoveryLink, ...]:
        """The links neither done nor dropped: what the recovery waits for."""
        return tuple(link for link in self.links if not link.done and not link.dropped)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data, report ``"recovery"`` (resilience.adapters.report_data's header): the
        links, when it was recovered and how long it took (``duration_s``, seconds)."""
        duration = self.duration
        return {"schema_version": SCHEMA_VERSION, "report": "recovery",
                "incident_id": str(self.incident_id),
                "detected_at": self.detected_at.isoformat(),
                "links": [link.to_dict() for link in self.links],
                "recovered_at": None if self.recovered_at is None
                else self.recovered_at.isoformat(),
                "duration_s": None if duration is None else duration.total_seconds()}


# The rule ------------------------------------------------------------------------------


def link_facts(case: Case) -> list[tuple[int, UUID, str, datetime]]:
    """The incident case's links: ``(version, linked id, kind, linked at)`` of each of its
    ``RecoveryLinked`` facts (those at the case's cut), in the order they happened."""
    return links_of(case.facts)


def links_of(facts: Iterable[Happened]) -> list[tuple[int, UUID, str, datetime]]:
    """``link_facts`` of a case's facts."""
    found = [(fact.version, UUID(fact.extra[0]), str(fact.extra[1]), fact.occurred_at)
             for fact in facts if fact.name == LINKED]
    return sorted(found, key=lambda link: (link[3], link[0]))


def state(kind: str, linked: Linked) -> tuple[str, datetime | None, bool | None]:
    """A linked order's or item's status, the time it was done (None: not done) and, for a
    done order, whether its rating did it (``RecoveryLink.rated``)."""
    if linked is None:
        return UNKNOWN, None, None
    if isinstance(linked, PlanItem):
        return linked.status.value, linked.completed_at, None
    if linked.status != OrderStatus.COMPLETED:
        return linked.status, None, None
    if RECOVERED_BY_RATING in linked.milestones:
        return linked.status, linked.milestones[RECOVERED_BY_RATING], True
    if linked.facts[0].role == Role.RESIDENT:
        return linked.status, None, None  # awaiting the resident's rating
    # Nobody may rate an order the desk placed for a household: its completion is the end.
    return linked.status, linked.milestones["completed"], False


def recovered_at(states: Iterable[tuple[str, str, datetime | None]]) -> datetime | None:
    """The recovery's time from each link's ``(kind, status, done at)``: the latest done,
    once every link is done or dropped and one at least is done."""
    done: list[datetime] = []
    for kind, status, at in states:
        if at is not None:
            done.append(at)
        elif status not in DROPPED.get(kind, frozenset()):
            return None
    return max(done, default=None)


def recovered_by(links: Iterable[tuple[UUID, str]], linked: Mapping[UUID, Linked]
                 ) -> datetime | None:
    """The recovery's time (``recovered_at``) of links ``(linked id, kind)``, their orders
    and items read at the cut (``linked``)."""
    found = []
    for linked_id, kind in links:
        status, done, _ = state(kind, linked.get(linked_id))
        found.append((kind, status, done))
    return recovered_at(found)


def recovery(case: Case, linked: Mapping[UUID, Linked],
             purposes: Mapping[int, str] | None = None) -> Recovery:
    """The incident ``case``'s recovery, its linked orders and items read at the same cut
    (``linked``, by id; one missing counts as not in the record); ``purposes``: the text
    of each link by its version (empty where not given)."""
    links = []
    for version, linked_id, kind, at in link_facts(case):
        status, done, rated = state(kind, linked.get(linked_id))
        links.append(RecoveryLink(linked_id, kind, (purposes or {}).get(version, ""), at,
                                  status, done, rated))
    return Recovery(UUID(case.case_id), case.milestones["detected"], tuple(links),
                    recovered_at((link.kind, link.status, link.done_at) for link in links))


def with_recovered(case: Case, linked: Mapping[UUID, Linked]) -> Case:
    """The incident ``case`` with its ``recovered`` milestone, if it was recovered (the
    case itself if not, or if it is no incident's)."""
    if case.subject != "incident" or "recovery_linked" not in case.milestones:
        return case
    at = recovery(case, linked).recovered_at
    if at is None:
        return case
    return evolve(case, milestones={**case.milestones, RECOVERED: at})


def linked_at(kind: str, key: str, doc: Mapping[str, Any] | None, *,
              as_of: datetime | None = None, known_at: datetime | None = None) -> Linked:
    """A linked order's ``cases`` document, or item's ``plans`` document, read at a cut
    (None: no document, or not in the record at the cut). Whether an item is overdue is
    not asked here (``plan_item`` without ``now``)."""
    if doc is None:
        return None
    if kind == RecoveryKind.ORDER:
        return case_at(key, doc, as_of=as_of, known_at=known_at)
    return plan_item(key, dict(doc), at=as_of, known_at=known_at)


def closure_known_at(case: Case) -> datetime | None:
    """When the standing closure of an incident case was recorded (None: it is not
    closed): the cut a case read ``as_closed`` reads its linked work at."""
    if case.status != "closed":
        return None
    closures = [fact for fact in case.facts if fact.name == Incident.Closed.fact_name]
    return max(closures, key=lambda fact: fact.version).recorded_at if closures else None


Fetch = Callable[[str, Collection[str]], Mapping[str, Mapping[str, Any]]]
"""Reads documents of a view by key, in one query (``Views.fetch``)."""


def linked_documents(wanted: Collection[tuple[str, str]], fetch: Fetch
                     ) -> dict[str, Mapping[str, Any]]:
    """The documents of linked orders (``cases``) and items (``plans``), ``(id, kind)``
    each, by id: one query per view."""
    docs: dict[str, Mapping[str, Any]] = {}
    for view, orders in (("cases", True), ("plans", False)):
        keys = [key for key, kind in wanted if (kind == RecoveryKind.ORDER) is orders]
        if keys:
            docs.update(fetch(view, keys))
    return docs


def recovered_cases(cases: list[Case], fetch: Fetch, *, known_at: datetime | None = None,
                    as_closed: bool = False) -> list[Case]:
    """``cases`` with each incident's ``recovered`` milestone (``with_recovered``), its
    linked orders' ``cases`` and items' ``plans`` documents fetched in one query per view
    and read at the cases' cut (``as_closed``: as known when the incident's standing
    closure was recorded)."""
    links = {case.case_id: link_facts(case) for case in cases
             if case.subject == "incident" and "recovery_linked" in case.milestones}
    if not links:
        return cases
    docs = linked_documents({(str(linked), kind) for found in links.values()
                             for _, linked, kind, _ in found}, fetch)
    shown = []
    for case in cases:
        if case.case_id not in links:
            shown.append(case)
            continue
        cut = closure_known_at(case) if as_closed else None
        if known_at is not None:
            cut = known_at if cut is None else min(cut, known_at)
        linked = {linked_id: linked_at(kind, str(linked_id), docs.get(str(linked_id)),
                                       known_at=cut)
                  for _, linked_id, kind, _ in links[case.case_id]}
        shown.append(with_recovered(case, linked))
    return shown
