"""Cases read from the ``cases`` view: an incident's or order's dimensions and milestones.

A milestone is the effective (corrected) time of a fact. Which fact marks
which milestone is declared on its event class: ``milestone`` (its earliest
occurrence in the first cycle), ``last_milestone`` (its latest since the last
reopening), ``chain_step`` (a responder's dispatched -> en route -> on scene
chain). A case's **cycles** are cut by its reopenings, in the order things
happened: cycle 0 is the first response, and each reopening begins a cycle of
its own (``Case.cycles``). Where a fact can happen more than once, the
milestone's rule is stated beside it; the docs list them all
(docs/metrics.md). The view names facts by their event class's ``fact_name``
(the last segment of its topic, e.g. ``"Contained"``), never by the Python
class name, so renaming a class whose topic is kept changes no milestone.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from attrs import frozen

from resilience.domain.base import CaseMilestone, happening_order
from resilience.domain.incident import Incident, incident_status
from resilience.domain.service import OrderStatus, ServiceOrder

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
"""Fact name -> the milestone its earliest occurrence in the first cycle marks, by subject."""
_LAST_SINCE_REOPEN: Mapping[Subject, Mapping[str, str]] = {
    subject: aggregate.declared(lambda event: _name(event.last_milestone))
    for subject, aggregate in _AGGREGATES.items()}
"""Fact name -> the milestone its latest occurrence since the last reopening marks."""
_KEPT_BY_REOPENING = frozenset({"dispatched"})
"""Last-since-reopening milestones a reopening leaves standing: the latest dispatch still
names the provider until the order is dispatched again."""
_STEPS: Mapping[Subject, frozenset[str]] = {
    subject: frozenset(aggregate.declared(lambda event: event.step or None))
    for subject, aggregate in _AGGREGATES.items()}
"""The facts that are steps of a case's life (resolve, close, reopen; an order's moves)."""
_REOPENING: Mapping[Subject, frozenset[str]] = {
    subject: frozenset(aggregate.declared(lambda event: event.reopens or None))
    for subject, aggregate in _AGGREGATES.items()}
"""The facts that reopen a case, each beginning a new cycle."""
_CLOSES: Mapping[Subject, Mapping[str, bool]] = {
    "incident": {Incident.Closed.fact_name: True,
                 **dict.fromkeys(_REOPENING["incident"], False)},
    "order": {name: status in (OrderStatus.COMPLETED, OrderStatus.CANCELLED,
                               OrderStatus.REJECTED)
              for name, status in ServiceOrder.declared(lambda event: event.status_after).items()},
}
"""The facts that close a case (True) or leave it open (False) after them: an incident's
closure and reopening; an order's moves, closing it when completed, cancelled or rejected."""
RESPONDER_CHAIN: Mapping[str, int] = Incident.declared(lambda event: event.chain_step)
"""A responder's facts and their place in the dispatch -> en route -> on scene chain."""
_FIRST_UNIT = ("first_unit_dispatched", "first_unit_en_route", "first_unit_on_scene")
_RESIDENTS_NOTIFIED = "residents_notified"
_REOPENED = "reopened"

_READ_OFF: Mapping[Subject, Mapping[str, Mapping[str, str]]] = {
    "incident": {
        Incident.ResponderOnScene.fact_name: {
            _FIRST_UNIT[0]: "dispatch of the first dispatched responder to arrive",
            _FIRST_UNIT[1]: "en route of the first dispatched responder to arrive",
            _FIRST_UNIT[2]: "arrival of the first dispatched responder to arrive"},
        Incident.ActionTaken.fact_name: {
            _RESIDENTS_NOTIFIED: "the earliest action recorded as residents notified"},
        Incident.Reopened.fact_name: {
            _REOPENED: "the earliest reopening (where the second cycle begins)"},
    },
    "order": {
        ServiceOrder.Placed.fact_name: {
            "expected": "the completion the order was expected by (a promise, not a fact)"},
        ServiceOrder.Reopened.fact_name: {
            _REOPENED: "the earliest reopening (where the second cycle begins)"},
    },
}
"""The milestones no event class declares, read off the facts named (a responder's chain,
an action's kind, an order's promise, a reopening), listed after them."""


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
CYCLE_MILESTONES: Mapping[str, tuple[str, ...]] = {
    "incident": (_REOPENED, "first_dispatched", "first_on_scene", "contained", "resolved",
                 "closed"),
    "order": (_REOPENED, "first_dispatched", "completed"),
}
"""The milestones of each cycle a reopening begins (``Case.cycles``): what a metric measured
per reopening starts and ends at. In a cycle, ``reopened`` is its reopening; the earliest
milestones (``first_*``, ``contained``) the earliest of the cycle; ``resolved``, ``closed``
and ``completed`` the latest of the cycle."""

INCIDENT_MILESTONE_FACTS: Mapping[str, str] = {
    **{m: name for name, m in _FIRST_OF["incident"].items()},
    _RESIDENTS_NOTIFIED: Incident.ActionTaken.fact_name,
    **{m: name for name, m in _LAST_SINCE_REOPEN["incident"].items()},
    **{_FIRST_UNIT[step]: name for name, step in RESPONDER_CHAIN.items()},
    _REOPENED: Incident.Reopened.fact_name,
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
    person: str = ""
    """Who recorded it (the actor's person id)."""
    role: str = ""
    """The actor's role when recording it."""


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
class Amendment:
    """A fact recorded while its case stood closed (an incident closed; an order completed,
    cancelled or rejected) that is not a step of the case's life: a correction, or a late
    record. It amends the record without reopening anything."""

    version: int
    """The amending fact's version."""
    fact: str
    """The fact amended: the one a correction corrects, or the late record itself."""
    person: str
    role: str
    recorded_at: datetime
    """When the amendment was recorded."""
    occurred_at: datetime
    """The amending fact's effective time (a late record's: when it happened)."""
    corrects: int | None
    """The version a correction corrects (None: a late record)."""
    what: str
    """``"time corrected from A to B"`` (ISO times), ``"details corrected"``, ``"late
    record"`` (dated at or before the closure it was recorded under) or ``"recorded after
    closure"`` (dated after it: a note on a completed order)."""


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
    """How many times it was reopened."""
    rating: int | None = None
    """The resident's score for the standing completion (orders)."""
    status: str = ""
    """Incident: the ``IncidentStatus`` its facts give (``incident_status``: closed,
    resolved, contained, on scene, dispatched in its current cycle; then reopened,
    acknowledged, reported), as the aggregate's ``status``. Order: the ``OrderStatus`` its
    last step left it in."""
    cycles: tuple[Mapping[str, datetime], ...] = ()
    """One per reopening, in the order they happened: that cycle's ``CYCLE_MILESTONES``
    (each present only if it happened in the cycle)."""
    amendments: tuple[Amendment, ...] = ()
    """Every fact recorded while the case stood closed that is not a step, in recording
    order."""
    resolved_by_resident: bool | None = None
    """Orders: the resident's "resolved?" answer given with the rating of the standing
    completion (None: not rated, or not said). Incidents: None."""

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
            known_at: datetime | None = None, corrected: bool = True,
            as_closed: bool = False) -> Case | None:
    """The case as it stood at a cut, or None if its first fact falls outside it.

    ``known_at``: only facts recorded at or before it (exactly at it included), with only
    the corrections recorded by then ("what we knew then"). ``as_of``: only facts that
    had happened by then, at their times as corrected by every known correction ("what
    had happened by then, as we now know it"). ``corrected=False``: every fact at the
    time first recorded, as if no correction had been made. ``as_closed``: a case that
    stands closed (of those facts) as known when its standing closure was recorded: the
    facts and corrections recorded after that closure are left out, but for the
    resident's rating of a completion (a step, not an amendment); a case not closed as
    it is.
    """
    subject: Subject = doc["kind"]
    parse = datetime.fromisoformat
    entries: Sequence[Sequence[Any]] = doc["facts"]
    recorded = [parse(entry[2]) for entry in entries]
    known = [known_at is None or at <= known_at for at in recorded]
    if as_closed:
        known = _as_closed(subject, [entry[0] for entry in entries], known)
    times = {v: parse(entry[1]) for v, entry in enumerate(entries, start=1)}
    originally: dict[int, datetime] = {}
    for _, corrects, _, what, _, before, _ in doc["corrections"]:
        if what == "time":
            originally.setdefault(corrects, parse(before))
    every = tuple(Correction(v, corrects, fact, what, reason, _time(before), _time(after))
                  for v, corrects, fact, what, reason, before, after in doc["corrections"])
    corrections = tuple(c for c in every
                        if corrected and known[c.version - 1] and known[c.corrects - 1])
    if not all(known) or not corrected:
        # Unwind to the times first recorded, then replay the corrections known then.
        times.update(originally)
        for c in corrections:
            if c.after is not None:
                times[c.corrects] = c.after
    facts = tuple(
        Fact(v, entry[0], times[v], recorded[v - 1], entry[3], originally.get(v, times[v]),
             *_who(entry))
        for v, entry in enumerate(entries, start=1)
        if known[v - 1] and (as_of is None or times[v] <= as_of))
    if not facts or facts[0].version != 1:
        return None
    return _case(key, subject, doc, facts, corrections, {c.version: c for c in every})


def _who(entry: Sequence[Any]) -> tuple[str, str]:
    """The person and role of a view's fact (documents made by hand may leave them out)."""
    return (entry[4], entry[5]) if len(entry) > 4 else ("", "")


def _as_closed(subject: Subject, names: Sequence[str], known: list[bool]) -> list[bool]:
    """``known`` less what was recorded after the standing closure but steps (a rating)."""
    closes, standing = _CLOSES[subject], None
    for index, name in enumerate(names):
        if known[index] and name in closes:
            standing = index if closes[name] else None
    if standing is None:
        return known
    return [k and (index <= standing or names[index] in _STEPS[subject])
            for index, k in enumerate(known)]


def _cycles(subject: Subject, facts: tuple[Fact, ...]) -> list[list[Fact]]:
    """The facts in happening order, cut into cycles: each reopening begins one."""
    cycles: list[list[Fact]] = [[]]
    for fact in sorted(facts, key=happening_order):
        if fact.name in _REOPENING[subject]:
            cycles.append([])
        cycles[-1].append(fact)
    return cycles


def _case(key: str, subject: Subject, doc: Mapping[str, Any], facts: tuple[Fact, ...],
          corrections: tuple[Correction, ...], every: Mapping[int, Correction]) -> Case:
    first_of = _FIRST_OF[subject]
    cycles = _cycles(subject, facts)
    # The first fact's milestone (detected, placed), whatever the first cycle holds.
    milestones: dict[str, datetime] = {first_of[facts[0].name]: facts[0].occurred_at}
    for fact in cycles[0]:  # the earliest milestones are the first response's
        milestone = first_of.get(fact.name)
        if fact.name == Incident.ActionTaken.fact_name and fact.extra == _RESIDENTS_NOTIFIED:
            milestone = _RESIDENTS_NOTIFIED
        if milestone is not None:
            milestones.setdefault(milestone, fact.occurred_at)
    if len(cycles) > 1:
        milestones[_REOPENED] = cycles[1][0].occurred_at
    last = _last_since_reopening(subject, cycles)
    milestones.update((milestone, fact.occurred_at) for milestone, fact in last.items())
    dims: dict[str, str | None] = {d: doc.get(d) for d in DIMENSIONS[subject] if d != "community"}
    for fact in (fact for cycle in cycles for fact in cycle):  # in happening order
        if fact.name == Incident.Reclassified.fact_name:  # as last reclassified
            dims["incident_type"], dims["severity"] = fact.extra
    closure: str | None = None
    rating: int | None = None
    resolved: bool | None = None
    if subject == "incident":
        milestones.update(_first_unit(cycles[0]))
        closure = last["closed"].extra if "closed" in last else None
        status = _incident_status(cycles, last)
    else:
        milestones["expected"] = datetime.fromisoformat(doc["expected_by"])
        closure = last["completed"].extra if "completed" in last else None
        if "rated" in last:
            rating, resolved = _rated(last["rated"].extra)
        if "dispatched" in last:
            dims["provider"], dims["provider_kind"] = last["dispatched"].extra
        else:
            dims["provider"] = dims["provider_kind"] = None
        status = _order_status(facts)
    return Case(key, subject, doc["community"], dims, milestones, facts, corrections,
                drill=bool(doc.get("drill", False)), closure=closure,
                reopened=len(cycles) - 1, rating=rating, status=status,
                cycles=tuple(_cycle_milestones(subject, cycle) for cycle in cycles[1:]),
                amendments=_amendments(subject, facts, every),
                resolved_by_resident=resolved)


def _last_since_reopening(subject: Subject, cycles: list[list[Fact]]) -> dict[str, Fact]:
    """The fact behind each last-since-reopening milestone: the latest of the last cycle
    (the latest dispatch of any cycle), a rating only if it follows the completion."""
    last_of = _LAST_SINCE_REOPEN[subject]
    last: dict[str, Fact] = {}
    for number, cycle in enumerate(cycles):
        if number:  # a reopening undoes the resolution, closure, completion and rating
            last = {m: f for m, f in last.items() if m in _KEPT_BY_REOPENING}
        for fact in cycle:
            milestone = last_of.get(fact.name)
            if milestone is not None:
                last[milestone] = fact
                if milestone == "completed":
                    last.pop("rated", None)  # a new completion awaits a new rating
    return last


def _cycle_milestones(subject: Subject, cycle: list[Fact]) -> dict[str, datetime]:
    """A reopening's cycle (its reopening first) as its ``CYCLE_MILESTONES``."""
    wanted = CYCLE_MILESTONES[subject]
    first_of, last_of = _FIRST_OF[subject], _LAST_SINCE_REOPEN[subject]
    found = {_REOPENED: cycle[0].occurred_at}
    for fact in cycle[1:]:
        earliest, latest = first_of.get(fact.name), last_of.get(fact.name)
        if earliest in wanted:
            found.setdefault(earliest, fact.occurred_at)
        if latest in wanted:
            found[latest] = fact.occurred_at
    return found


def _incident_status(cycles: list[list[Fact]], last: Mapping[str, Fact]) -> str:
    """``incident_status`` of the facts: the current cycle's steps, the whole incident's
    acknowledgement and report."""
    ever = {fact.name for cycle in cycles for fact in cycle}
    now = {fact.name for fact in cycles[-1]}
    return incident_status(
        closed="closed" in last, resolved="resolved" in last,
        contained=Incident.Contained.fact_name in now,
        on_scene=Incident.ResponderOnScene.fact_name in now,
        dispatched=Incident.ResponderDispatched.fact_name in now,
        reopened=len(cycles) > 1,
        acknowledged=Incident.Acknowledged.fact_name in ever,
        reported=Incident.Reported.fact_name in ever).value


_ORDER_STATUS: Mapping[str, OrderStatus] = ServiceOrder.declared(
    lambda event: event.status_after)


def _order_status(facts: tuple[Fact, ...]) -> str:
    moves = [fact for fact in facts if fact.name in _ORDER_STATUS]
    return _ORDER_STATUS[max(moves, key=happening_order).name].value


def _rated(extra: Any) -> tuple[int, bool | None]:
    """A rating's score and the resident's "resolved?" answer, from the view's
    ``[score, resolved]`` (a bare score, as documents made by hand may hold: not said)."""
    if isinstance(extra, list):
        return extra[0], extra[1]
    return extra, None


def _amendments(subject: Subject, facts: tuple[Fact, ...],
                corrections: Mapping[int, Correction]) -> tuple[Amendment, ...]:
    """Every fact but a step recorded while the case stood closed, in recording order."""
    closes, steps = _CLOSES[subject], _STEPS[subject]
    standing: Fact | None = None
    found = []
    for fact in facts:  # in recording (version) order
        if standing is not None and fact.name not in steps:
            found.append(_amendment(fact, standing, corrections.get(fact.version)))
        if fact.name in closes:
            standing = fact if closes[fact.name] else None
    return tuple(found)


def _amendment(fact: Fact, closure: Fact, correction: Correction | None) -> Amendment:
    if correction is None:
        what = "late record" if fact.occurred_at <= closure.occurred_at else (
            "recorded after closure")
        amended, corrects = fact.name, None
    else:
        amended, corrects = correction.fact, correction.corrects
        before, after = correction.before, correction.after
        what = (f"time corrected from {before.isoformat()} to {after.isoformat()}"
                if before is not None and after is not None else "details corrected")
    return Amendment(fact.version, amended, fact.person, fact.role, fact.recorded_at,
                     fact.occurred_at, corrects, what)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _first_unit(facts: list[Fact]) -> dict[str, datetime]:
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
