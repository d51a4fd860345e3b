"""Which fact marks which case milestone, read off the event classes' declarations.

A milestone is the effective (corrected) time of a fact. Which fact marks
which milestone is declared on its event class: ``milestone`` (its earliest
occurrence: in the first cycle for the facts a reopening starts again,
``STARTED_AGAIN``, anywhere in the case for the others), ``last_milestone`` (its
latest since the last reopening), ``chain_step`` (a responder's dispatched -> en
route -> on scene chain); the few no class declares are read off the facts named in
``READ_OFF``.
The tables here name facts by their event class's ``fact_name`` (the last segment
of its topic, e.g. ``"Contained"``), as the ``cases`` view does, never by the
Python class name, so renaming a class whose topic is kept changes no milestone.
"""

from collections.abc import Mapping
from typing import Literal

from resilience.domain.base import CaseMilestone
from resilience.domain.hazard import Hazard
from resilience.domain.incident import Incident
from resilience.domain.recovery import RecoveryFact
from resilience.domain.references import GivesReference
from resilience.domain.service import ServiceOrder
from resilience.projections.indexes import CLOSING

Subject = Literal["incident", "order", "hazard"]

DIMENSIONS: Mapping[str, tuple[str, ...]] = {
    "incident": ("community", "grid", "incident_type", "severity"),
    "order": ("community", "grid", "zone_type", "category", "item", "provider", "provider_kind"),
    "hazard": ("community", "grid", "building", "category", "severity", "assignee_kind"),
}

_AGGREGATES: Mapping[Subject, type[Incident] | type[ServiceOrder] | type[Hazard]] = {
    "incident": Incident, "order": ServiceOrder, "hazard": Hazard}

START: Mapping[Subject, str] = {"incident": "detected", "order": "placed", "hazard": "found"}
"""The milestone a case starts at (its first fact's): what periods place it by."""


def _name(milestone: CaseMilestone | None) -> str | None:
    return None if milestone is None else milestone.name


FIRST_OF: Mapping[Subject, Mapping[str, str]] = {
    subject: aggregate.declared(lambda event: _name(event.milestone))
    for subject, aggregate in _AGGREGATES.items()}
"""Fact name -> the milestone its earliest occurrence marks, by subject (in the first cycle
for a fact in ``STARTED_AGAIN``, anywhere in the case for the others)."""
LAST_SINCE_REOPEN: Mapping[Subject, Mapping[str, str]] = {
    subject: aggregate.declared(lambda event: _name(event.last_milestone))
    for subject, aggregate in _AGGREGATES.items()}
"""Fact name -> the milestone its latest occurrence since the last reopening marks."""
KEPT_BY_REOPENING = frozenset({"dispatched"})
"""Last-since-reopening milestones a reopening leaves standing: the latest dispatch still
names the provider until the order is dispatched again."""
STEPS: Mapping[Subject, frozenset[str]] = {
    subject: frozenset(aggregate.declared(lambda event: event.step or None))
    for subject, aggregate in _AGGREGATES.items()}
"""The facts that are steps of a case's life (resolve, close, reopen; an order's moves)."""
REOPENING: Mapping[Subject, frozenset[str]] = {
    subject: frozenset(aggregate.declared(lambda event: event.reopens or None))
    for subject, aggregate in _AGGREGATES.items()}
"""The facts that reopen a case, each beginning a new cycle."""
CLOSES: Mapping[str, Mapping[str, bool]] = CLOSING
"""The facts that close a case (True) or leave it open (False) after them: an incident's
closure and reopening; an order's moves, closing it when completed, cancelled or rejected.
The views' ``until`` column is cut by the same table (resilience.projections.indexes)."""
RECOVERY_LINKS: Mapping[Subject, frozenset[str]] = {
    subject: frozenset(aggregate.declared(
        lambda event: issubclass(event, RecoveryFact)
        or (event.follows_closure and not issubclass(event, GivesReference)) or None))
    for subject, aggregate in _AGGREGATES.items()}
"""The facts of a link that follows the response (a recovery link:
resilience.domain.recovery; a hazard's links to the orders, items and incidents it gave
rise to, and the other sides' ``FromHazard``): recorded whether or not the case stands
closed, so never an amendment of a closed case. A reference given later (``Referenced``)
follows the closure too, yet amends the record: it is not one of these."""
RESPONDER_CHAIN: Mapping[str, int] = Incident.declared(lambda event: event.chain_step)
"""A responder's facts and their place in the dispatch -> en route -> on scene chain."""
FIRST_UNIT = ("first_unit_dispatched", "first_unit_en_route", "first_unit_on_scene")
RESIDENTS_NOTIFIED = "residents_notified"
REOPENED = "reopened"
DUE = "due"
"""A hazard's: the due date of its standing assignment (the latest assignment, in the order
things happened; a reopening keeps it)."""

_READ_OFF: Mapping[Subject, Mapping[str, Mapping[str, str]]] = {
    "incident": {
        Incident.ResponderOnScene.fact_name: {
            FIRST_UNIT[0]: "dispatch of the first dispatched responder to arrive",
            FIRST_UNIT[1]: "en route of the first dispatched responder to arrive",
            FIRST_UNIT[2]: "arrival of the first dispatched responder to arrive"},
        Incident.ActionTaken.fact_name: {
            RESIDENTS_NOTIFIED: "the earliest action recorded as residents notified"},
        Incident.Reopened.fact_name: {
            REOPENED: "the earliest reopening (where the second cycle begins)"},
        Incident.RecoveryLinked.fact_name: {
            "recovered": "the last of the linked work done (an order's completion rated, an "
                         "item's completion), once every link is done or dropped "
                         "(resilience.metrics.recovery; put on the case by the reports)"},
    },
    "order": {
        ServiceOrder.Placed.fact_name: {
            "expected": "the completion the order was expected by (a promise, not a fact)"},
        ServiceOrder.Reopened.fact_name: {
            REOPENED: "the earliest reopening (where the second cycle begins)"},
    },
    "hazard": {
        Hazard.Assigned.fact_name: {
            DUE: "the date the standing assignment is due by (a promise, not a fact)"},
        Hazard.Reopened.fact_name: {
            REOPENED: "the earliest reopening (where the second cycle begins)"},
    },
}
"""The milestones no event class declares, read off the facts named (a responder's chain,
an action's kind, an order's promise, a hazard's due date, a reopening, the linked
recovery), listed after them."""


def _described(subject: Subject) -> Mapping[str, str]:
    """Every milestone of a subject -> what it means, in the order of the facts that mark
    them: those the event classes declare (``CaseMilestone``), and those read off facts."""
    found: dict[str, str] = {}
    for event in _AGGREGATES[subject].event_classes():
        marked = {m.name: m.meaning for m in (event.milestone, event.last_milestone)
                  if m is not None}
        for name, meaning in (marked | dict(_READ_OFF[subject].get(event.fact_name, {}))).items():
            if name in found:  # two facts marking one milestone would measure either
                raise AssertionError(f"{subject} milestone {name} is marked twice")
            found[name] = meaning
    return found


INCIDENT_MILESTONES: Mapping[str, str] = _described("incident")
"""Each incident milestone a metric can start or end at, and what it means."""
ORDER_MILESTONES: Mapping[str, str] = _described("order")
"""Each service-order milestone a metric can start or end at, and what it means."""
HAZARD_MILESTONES: Mapping[str, str] = _described("hazard")
"""Each hazard milestone a metric can start or end at, and what it means."""
MILESTONES: Mapping[str, Mapping[str, str]] = {
    "incident": INCIDENT_MILESTONES, "order": ORDER_MILESTONES, "hazard": HAZARD_MILESTONES,
}
CYCLE_MILESTONES: Mapping[str, tuple[str, ...]] = {
    "incident": (REOPENED, "first_dispatched", "first_on_scene", "contained", "resolved",
                 "closed"),
    "order": (REOPENED, "first_dispatched", "completed"),
    "hazard": (REOPENED, "rectified", "verified", "closed"),
}
"""The milestones of each cycle (``Case.cycles``; cycle 0, the first response, has no
``reopened``): what a metric measured per reopening starts and ends at. In a cycle,
``reopened`` is its reopening; the earliest milestones (``first_*``, ``contained``) the
earliest of the cycle; ``resolved``, ``closed``, ``completed`` and a hazard's
``rectified`` and ``verified`` the latest of the cycle."""


def _started_again(subject: Subject) -> frozenset[str]:
    marks = [*FIRST_OF[subject].items(), *LAST_SINCE_REOPEN[subject].items()]
    found = {name for name, milestone in marks
             if milestone in CYCLE_MILESTONES[subject] and milestone != REOPENED}
    if found & RESPONDER_CHAIN.keys():  # the en route between a dispatch and an arrival
        found |= RESPONDER_CHAIN.keys()
    return frozenset(found)


STARTED_AGAIN: Mapping[Subject, frozenset[str]] = {
    subject: _started_again(subject) for subject in _AGGREGATES}
"""The facts a reopening starts again: those that mark a cycle's milestones
(``CYCLE_MILESTONES``), and with a responder's dispatch and arrival the en route between
them. An incident's ``ResponderDispatched``, ``ResponderEnRoute``, ``ResponderOnScene``,
``Contained``, ``Resolved``, ``Closed``; an order's ``Dispatched`` and ``Completed``.

The rule every case milestone follows: the ``milestone`` of one of these facts
(``first_dispatched``, ``first_en_route``, ``first_on_scene``, ``contained``; an order's
``first_dispatched``, ``first_completed``) and the first unit's chain are read from the
**first cycle**, the response the community is assessed on; every other ``milestone``
(``reported``, ``source_found``, an order's ``accepted``, ``started``, ``cancelled``...) is
its earliest occurrence **anywhere in the case**, whichever cycle it happened in; a
``last_milestone`` is the latest since the last reopening."""

INCIDENT_MILESTONE_FACTS: Mapping[str, str] = {
    **{m: name for name, m in FIRST_OF["incident"].items()},
    RESIDENTS_NOTIFIED: Incident.ActionTaken.fact_name,
    **{m: name for name, m in LAST_SINCE_REOPEN["incident"].items()},
    **{FIRST_UNIT[step]: name for name, step in RESPONDER_CHAIN.items()},
    REOPENED: Incident.Reopened.fact_name,
    # Recovered: the time is the linked work's (another aggregate's fact); the incident's
    # own fact it rests on is the link.
    "recovered": Incident.RecoveryLinked.fact_name,
}
"""The kind of fact whose effective time each incident milestone is (``recovered``: the
incident's fact it rests on)."""
