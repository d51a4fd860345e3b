"""Cases read from the ``cases`` view: an incident's or order's dimensions and milestones.

A milestone is the effective (corrected) time of a fact. Which fact marks
which milestone is declared on its event class: ``milestone`` (its earliest
occurrence), ``last_milestone`` (its latest since the last reopening),
``chain_step`` (a responder's dispatched -> en route -> on scene chain).
Where a fact can happen more than once, the milestone's rule is stated
beside it; the docs list them all (docs/metrics.md). The view names facts by
their event class's ``fact_name`` (the last segment of its topic, e.g.
``"Contained"``), never by the Python class name, so renaming a class whose
topic is kept changes no milestone.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from attrs import frozen

from resilience.domain.base import CaseMilestone, happening_order
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder

Subject = Literal["incident", "order"]

DIMENSIONS: Mapping[str, tuple[str, ...]] = {
    "incident": ("community", "grid", "incident_type", "severity"),
    "order": ("community", "grid", "zone_type", "category", "item", "provider", "provider_kind"),
}

_AGGREGATES: Mapping[Subject, type[Incident] | type[ServiceOrder]] = {
    "incident": Incident, "order": ServiceOrder}


def _name(milestone: CaseMilestone | None) -> str | None:
    return None if milestone is None else milestone.name


_FIRST_OF: Mapping[Subject, Mapping[str, str]] = {
    subject: aggregate.declared(lambda event: _name(event.milestone))
    for subject, aggregate in _AGGREGATES.items()}
"""Fact name -> the milestone its earliest occurrence marks, by subject."""
_LAST_SINCE_REOPEN: Mapping[Subject, Mapping[str, str]] = {
    subject: aggregate.declared(lambda event: _name(event.last_milestone))
    for subject, aggregate in _AGGREGATES.items()}
"""Fact name -> the milestone its latest occurrence since the last reopening marks."""
RESPONDER_CHAIN: Mapping[str, int] = Incident.declared(lambda event: event.chain_step)
"""A responder's facts and their place in the dispatch -> en route -> on scene chain."""
_FIRST_UNIT = ("first_unit_dispatched", "first_unit_en_route", "first_unit_on_scene")
_RESIDENTS_NOTIFIED = "residents_notified"

_READ_OFF: Mapping[Subject, Mapping[str, Mapping[str, str]]] = {
    "incident": {
        Incident.ResponderOnScene.fact_name: {
            _FIRST_UNIT[0]: "dispatch of the first dispatched responder to arrive",
            _FIRST_UNIT[1]: "en route of the first dispatched responder to arrive",
            _FIRST_UNIT[2]: "arrival of the first dispatched responder to arrive"},
        Incident.ActionTaken.fact_name: {
            _RESIDENTS_NOTIFIED: "the earliest action recorded as residents notified"},
    },
    "order": {
        ServiceOrder.Placed.fact_name: {
            "expected": "the completion the order was expected by (a promise, not a fact)"},
    },
}
"""The milestones no event class declares, read off the facts named (a responder's chain,
an action's kind, an order's promise), listed after them."""


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
MILESTONES: Mapping[str, Mapping[str, str]] = {
    "incident": INCIDENT_MILESTONES, "order": ORDER_MILESTONES,
}

INCIDENT_MILESTONE_FACTS: Mapping[str, str] = {
    **{m: name for name, m in _FIRST_OF["incident"].items()},
    _RESIDENTS_NOTIFIED: Incident.ActionTaken.fact_name,
    **{m: name for name, m in _LAST_SINCE_REOPEN["incident"].items()},
    **{_FIRST_UNIT[step]: name for name, step in RESPONDER_CHAIN.items()},
}
"""The kind of fact whose effective time each incident milestone is."""


@frozen
class Fact:
    version: int
    name: str
    occurred_at: datetime
    """Effective time (corrections applied)."""
    recorded_at: datetime
    extra: Any
    original_at: datetime
    """The time first recorded, before any correction."""


@frozen
class Correction:
    version: int
    corrects: int
    fact: str
    what: Literal["time", "details"]
    reason: str
    before: datetime | None
    """The corrected fact's time before this correction (time corrections only)."""
    after: datetime | None
    """The time this correction set (time corrections only)."""


@frozen
class Case:
    """One incident or service order as the metrics see it."""

    case_id: str
    subject: Subject
    community: str
    dims: Mapping[str, str | None]
    milestones: Mapping[str, datetime]
    facts: tuple[Fact, ...]
    corrections: tuple[Correction, ...]
    drill: bool = False
    closure: str | None = None
    """Incident: reason of the standing closure. Order: its final outcome (fixed / not_fixed)."""
    reopened: int = 0
    rating: int | None = None

    @property
    def start(self) -> datetime:
        return self.milestones["detected" if self.subject == "incident" else "placed"]

    @property
    def finished(self) -> bool:
        """Done with, so every milestone a graded metric needs should be recorded: an
        incident resolved (or closed as resolved), an order completed."""
        if self.subject == "incident":
            return "resolved" in self.milestones or self.closure == "resolved"
        return "completed" in self.milestones

    def dim(self, name: str) -> str | None:
        return self.community if name == "community" else self.dims.get(name)


def case_from_doc(key: str, doc: Mapping[str, Any]) -> Case:
    """The case a ``cases`` document holds, with everything recorded and every correction."""
    case = case_at(key, doc)
    assert case is not None  # no cut: the first fact is always there
    return case


def case_at(key: str, doc: Mapping[str, Any], *, as_of: datetime | None = None,
            known_at: datetime | None = None, corrected: bool = True) -> Case | None:
    """The case as it stood at a cut, or None if its first fact falls outside it.

    ``known_at``: only facts recorded at or before it, with only the corrections
    recorded by then ("what we knew then"). ``as_of``: only facts that had
    happened by then, at their times as corrected by every known correction
    ("what had happened by then, as we now know it"). ``corrected=False``: every
    fact at the time first recorded, as if no correction had been made.
    """
    subject: Subject = doc["kind"]
    parse = datetime.fromisoformat
    recorded = [parse(rec) for _, _, rec, _ in doc["facts"]]
    known = [known_at is None or at <= known_at for at in recorded]
    times = {v: parse(t) for v, (_, t, _, _) in enumerate(doc["facts"], start=1)}
    originally: dict[int, datetime] = {}
    for _, corrects, _, what, _, before, _ in doc["corrections"]:
        if what == "time":
            originally.setdefault(corrects, parse(before))
    corrections = tuple(
        Correction(v, corrects, fact, what, reason, _time(before), _time(after))
        for v, corrects, fact, what, reason, before, after in doc["corrections"]
        if corrected and known[v - 1] and known[corrects - 1])
    if known_at is not None or not corrected:
        # Unwind to the times first recorded, then replay the corrections known then.
        times.update(originally)
        for c in corrections:
            if c.after is not None:
                times[c.corrects] = c.after
    facts = tuple(
        Fact(v, name, times[v], recorded[v - 1], extra, originally.get(v, times[v]))
        for v, (name, _, _, extra) in enumerate(doc["facts"], start=1)
        if known[v - 1] and (as_of is None or times[v] <= as_of))
    if not facts or facts[0].version != 1:
        return None
    return _case(key, subject, doc, facts, corrections)


def _case(key: str, subject: Subject, doc: Mapping[str, Any], facts: tuple[Fact, ...],
          corrections: tuple[Correction, ...]) -> Case:
    aggregate = _AGGREGATES[subject]
    first_of, last_of = _FIRST_OF[subject], _LAST_SINCE_REOPEN[subject]
    # The first fact's milestone (detected, placed), whatever happens in the loop.
    milestones: dict[str, datetime] = {first_of[facts[0].name]: facts[0].occurred_at}
    last: dict[str, Fact] = {}  # the fact behind each last-since-reopening milestone
    reopened = 0
    dims: dict[str, str | None] = {d: doc.get(d) for d in DIMENSIONS[subject] if d != "community"}
    # In the order things happened (corrected times; recording order breaks ties),
    # as a timeline reads: "since the last reopening" and "as last reclassified".
    for fact in sorted(facts, key=happening_order):
        milestone = first_of.get(fact.name)
        if fact.name == Incident.ActionTaken.fact_name and fact.extra == _RESIDENTS_NOTIFIED:
            milestone = _RESIDENTS_NOTIFIED
        if milestone is not None and milestone not in milestones:
            milestones[milestone] = fact.occurred_at
        if fact.name == aggregate.Reopened.fact_name:
            # A reopening undoes the resolution, closure, completion and rating it
            # reopens; the latest dispatch still names the provider.
            reopened += 1
            last = {m: f for m, f in last.items() if m == "dispatched"}
        elif fact.name in last_of:
            last[last_of[fact.name]] = fact
            if last_of[fact.name] == "completed":
                last.pop("rated", None)  # a new completion awaits a new rating
        elif fact.name == Incident.Reclassified.fact_name:
            dims["incident_type"], dims["severity"] = fact.extra
    for milestone, fact in last.items():
        milestones[milestone] = fact.occurred_at
    closure: str | None = None
    rating: int | None = None
    if subject == "incident":
        milestones.update(_first_unit(facts))
        closure = last["closed"].extra if "closed" in last else None
    else:
        milestones["expected"] = datetime.fromisoformat(doc["expected_by"])
        closure = last["completed"].extra if "completed" in last else None
        rating = last["rated"].extra if "rated" in last else None
        if "dispatched" in last:
            dims["provider"], dims["provider_kind"] = last["dispatched"].extra
        else:
            dims["provider"] = dims["provider_kind"] = None
    return Case(key, subject, doc["community"], dims, milestones, facts, corrections,
                drill=bool(doc.get("drill", False)), closure=closure, reopened=reopened,
                rating=rating)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _first_unit(facts: tuple[Fact, ...]) -> dict[str, datetime]:
    """NFPA's "first arriving unit": the dispatched responder on scene first, and its chain."""
    chains: dict[str, list[Fact | None]] = {}
    for fact in facts:
        step = RESPONDER_CHAIN.get(fact.name)
        if step is not None:
            chains.setdefault(fact.extra, [None, None, None])[step] = fact
    arrived = [(chain[2], chain) for chain in chains.values()
               if chain[0] is not None and chain[2] is not None]
    if not arrived:
        return {}
    _, chain = min(arrived, key=lambda a: happening_order(a[0]))
    return {name: fact.occurred_at for name, fact in zip(_FIRST_UNIT, chain, strict=True)
            if fact is not None}
