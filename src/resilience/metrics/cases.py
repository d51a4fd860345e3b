"""Cases read from the ``cases`` view: an incident's, order's or hazard's dimensions and
milestones.

A milestone is the effective (corrected) time of a fact. Which fact marks
which milestone is declared on its event class (resilience.metrics.milestones). A
case's **cycles** are cut by its reopenings, in the order things happened
(``resilience.domain.base.in_cycles``): cycle 0 is the first response, and each
reopening begins a cycle of its own; ``Case.cycles[n]`` is cycle n. The one rule for
a fact that can happen more than once:

- the facts a reopening starts again (``STARTED_AGAIN``: the response, i.e. a
  responder's dispatch, en route and arrival and the containment; an order's dispatch
  and completion) give their ``milestone`` (``first_dispatched``, ``contained``...)
  and the first unit's chain from the **first cycle** only;
- every other ``milestone`` (``reported``, ``source_found``, an order's ``accepted``,
  ``started``, ``cancelled``, a hazard's ``assigned``...) is its earliest occurrence
  **anywhere** in the case;
- a ``last_milestone`` (``resolved``, ``closed``, ``completed``, a hazard's ``rectified``
  and ``verified``...) is the latest since the last reopening; ``reopened`` is the
  earliest reopening.

A hazard's ``due`` and ``assignee_kind`` are its standing assignment's: the latest
``Assigned`` in the order things happened, whichever cycle it fell in (a reopening keeps
the assignee, so it keeps the due date too).

So a case's milestones never depend on which cycle a one-off fact fell in: an order
reopened and then cancelled is ``cancelled`` like any other. Where a status is meant
(cancelled, rejected, open), reports read ``Case.status``. The docs list every
milestone (docs/metrics.md). The view names facts by their event class's ``fact_name``
(the last segment of its topic, e.g. ``"Contained"``), never by the Python
class name, so renaming a class whose topic is kept changes no milestone.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

from attrs import frozen

from resilience.domain.base import happening_order, in_cycles
from resilience.domain.hazard import FINISHED, Hazard
from resilience.domain.incident import Incident, incident_status
from resilience.domain.service import ServiceOrder
from resilience.metrics.milestones import (
    CLOSES,
    CYCLE_MILESTONES,
    DIMENSIONS,
    DUE,
    FIRST_OF,
    FIRST_UNIT,
    KEPT_BY_REOPENING,
    LAST_SINCE_REOPEN,
    RECOVERY_LINKS,
    REOPENED,
    REOPENING,
    RESIDENTS_NOTIFIED,
    RESPONDER_CHAIN,
    START,
    STARTED_AGAIN,
    STEPS,
    Subject,
)


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
    override: str | None = None
    """Why the actor recorded it outside what the policy allows them (None: within it)."""
    imported_by: str | None = None
    """The importer under whose identity it was imported (None: recorded by its actor)."""


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
    person: str = ""
    """Who made the correction (its actor's person id)."""
    role: str = ""
    """The role they made it in."""
    author: str = ""
    """Who recorded the fact it corrects (that fact's actor's person id)."""


@frozen
class Amendment:
    """A fact recorded while its case stood closed (an incident closed; an order completed,
    cancelled or rejected) that is not a step of the case's life (nor a recovery link,
    which follows the response): a correction, or a late record. It amends the record
    without reopening anything."""

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
    closure"`` (dated after it: a note on a completed, cancelled or rejected order, which
    the order accepts at any time)."""


@frozen
class Case:
    """One incident, service order or hazard as the metrics see it."""

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
    last step left it in. Hazard: the ``HazardStatus`` its last move left it in."""
    cycles: tuple[Mapping[str, datetime], ...] = ()
    """Every cycle, in the order they happened, ``cycles[n]`` being cycle n: that cycle's
    ``CYCLE_MILESTONES``, each present only if it happened in the cycle. ``cycles[0]`` is
    the first response (no ``reopened``); ``cycles[1:]`` are the reopenings', each with
    its ``reopened``: what a metric per reopening measures."""
    amendments: tuple[Amendment, ...] = ()
    """Every fact recorded while the case stood closed that is not a step, in recording
    order."""
    resolved_by_resident: bool | None = None
    """Orders: the resident's "resolved?" answer given with the rating of the standing
    completion (None: not rated, or not said). Incidents: None."""
    reference: str | None = None
    """Its human reference (``DH-2022-0001``: resilience.domain.references); None for a case
    recorded before references."""

    @property
    def start(self) -> datetime:
        return self.milestones[START[self.subject]]

    @property
    def finished(self) -> bool:
        """Done with, so every milestone a graded metric needs should be recorded: an
        incident resolved (or closed as resolved), an order completed, a hazard verified
        or closed (without verification: a rectification it lacks is one to report)."""
        if self.subject == "incident":
            return "resolved" in self.milestones or self.closure == "resolved"
        if self.subject == "hazard":
            return self.status in _HAZARD_FINISHED
        return "completed" in self.milestones

    def dim(self, name: str) -> str | None:
        return self.community if name == "community" else self.dims.get(name)


class Happened(Protocol):
    """A fact as the rules of a case read it (a ``Fact``, or a ``Step``)."""

    @property
    def occurred_at(self) -> datetime: ...

    @property
    def version(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def extra(self) -> Any: ...


H = TypeVar("H", bound=Happened)


class Step(NamedTuple):
    """A fact with only what the rules read of it (``read_doc``): lighter than a Fact."""

    occurred_at: datetime
    version: int
    name: str
    extra: Any


class Reading(NamedTuple):
    """What a case's facts make of it by the rules above: the figures of its ``Case``
    but its facts, corrections and amendments."""

    dims: dict[str, str | None]
    milestones: dict[str, datetime]
    closure: str | None
    reopened: int
    rating: int | None
    status: str
    cycles: tuple[dict[str, datetime], ...]
    resolved_by_resident: bool | None


def read_doc(doc: Mapping[str, Any]) -> tuple[Reading, list[Step]]:
    """What ``case_from_doc`` makes of a ``cases`` document, without its facts made
    ``Fact``s, its corrections nor its amendments (for the summaries, which need no
    more), and its facts in version order."""
    parse = datetime.fromisoformat
    steps = [Step(parse(entry[1]), version, entry[0], entry[3])
             for version, entry in enumerate(doc["facts"], start=1)]
    return _read(doc["kind"], doc, steps), steps


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
    known = known_at_cut(doc, known_at, recorded)
    if as_closed:
        known = _as_closed(subject, [entry[0] for entry in entries], known)
    times, originally = times_at_cut(doc, known, corrected=corrected)
    every = tuple(Correction(v, corrects, fact, what, reason, _time(before), _time(after),
                             person=entries[v - 1][4], role=entries[v - 1][5],
                             author=entries[corrects - 1][4])
                  for v, corrects, fact, what, reason, before, after in doc["corrections"])
    corrections = tuple(c for c in every
                        if corrected and known[c.version - 1] and known[c.corrects - 1])
    facts = tuple(
        Fact(v, entry[0], times[v], recorded[v - 1], entry[3], originally.get(v, times[v]),
             *entry[4:])  # person, role, and override and importer if the actor had either
        for v, entry in enumerate(entries, start=1)
        if known[v - 1] and (as_of is None or times[v] <= as_of))
    if not facts or facts[0].version != 1:
        return None
    return _case(key, subject, doc, facts, corrections, {c.version: c for c in every})


def known_at_cut(doc: Mapping[str, Any], known_at: datetime | None,
                 recorded: Sequence[datetime] | None = None) -> list[bool]:
    """For each fact of a ``cases`` document, in version order: was it recorded at or
    before ``known_at`` (every one without it)? ``recorded``: each fact's recorded time,
    where the caller has parsed them already (``case_at``)."""
    facts = doc["facts"]
    if known_at is None:
        return [True] * len(facts)
    if recorded is None:
        recorded = [datetime.fromisoformat(entry[2]) for entry in facts]
    return [at <= known_at for at in recorded]


def times_at_cut(doc: Mapping[str, Any], known: Sequence[bool], *, corrected: bool = True
                 ) -> tuple[dict[int, datetime], dict[int, datetime]]:
    """Each fact's effective time (by version) in a ``cases`` document, as known at a cut,
    and the time first recorded of each fact whose time was corrected.

    ``known`` says which facts (by version, from 1) the cut keeps (``known_at_cut``).
    When every fact is known the view's times stand (every correction applied); else the
    times are unwound to those first recorded and only the time corrections known at the
    cut, of facts known at the cut, are replayed in the order recorded. ``corrected=False``:
    every fact at the time first recorded. The one rule for every kind of case
    (incidents, orders, emergencies).
    """
    parse = datetime.fromisoformat
    times = {v: parse(entry[1]) for v, entry in enumerate(doc["facts"], start=1)}
    originally: dict[int, datetime] = {}
    for _, corrects, _, what, _, before, _ in doc["corrections"]:
        if what == "time":
            originally.setdefault(corrects, parse(before))
    if not all(known) or not corrected:
        # Unwind to the times first recorded, then replay the corrections known then.
        times.update(originally)
        if corrected:
            for version, corrects, _, what, _, _, after in doc["corrections"]:
                if what == "time" and known[version - 1] and known[corrects - 1]:
                    times[corrects] = parse(after)
    return times, originally


def _as_closed(subject: Subject, names: Sequence[str], known: list[bool]) -> list[bool]:
    """``known`` less what was recorded after the standing closure but steps (a rating)."""
    closes, standing = CLOSES[subject], None
    for index, name in enumerate(names):
        if known[index] and name in closes:
            standing = index if closes[name] else None
    if standing is None:
        return known
    return [k and (index <= standing or names[index] in STEPS[subject])
            for index, k in enumerate(known)]


def _case(key: str, subject: Subject, doc: Mapping[str, Any], facts: tuple[Fact, ...],
          corrections: tuple[Correction, ...], every: Mapping[int, Correction]) -> Case:
    read = _read(subject, doc, facts)
    return Case(key, subject, doc["community"], read.dims, read.milestones, facts, corrections,
                drill=bool(doc.get("drill", False)), closure=read.closure,
                reopened=read.reopened, rating=read.rating, status=read.status,
                cycles=read.cycles, amendments=_amendments(subject, facts, every),
                resolved_by_resident=read.resolved_by_resident, reference=doc.get("reference"))


def _read(subject: Subject, doc: Mapping[str, Any], facts: Sequence[Happened]) -> Reading:
    """The rules of the module's docstring, over a case's facts (in version order)."""
    first_of, again, reopening = FIRST_OF[subject], STARTED_AGAIN[subject], REOPENING[subject]
    action_taken, reclassified = Incident.ActionTaken.fact_name, Incident.Reclassified.fact_name
    cycles = in_cycles(facts, lambda fact: fact.name in reopening)
    # The first fact's milestone (detected, placed), whatever the first cycle holds.
    milestones: dict[str, datetime] = {first_of[facts[0].name]: facts[0].occurred_at}
    for number, cycle in enumerate(cycles):
        for fact in cycle:
            if number and fact.name in again:
                continue  # the response is the first cycle's; the rest the earliest anywhere
            milestone = first_of.get(fact.name)
            if fact.name == action_taken and fact.extra == RESIDENTS_NOTIFIED:
                milestone = RESIDENTS_NOTIFIED
            if milestone is not None:
                milestones.setdefault(milestone, fact.occurred_at)
    if len(cycles) > 1:
        milestones[REOPENED] = cycles[1][0].occurred_at
    last = _last_since_reopening(subject, cycles)
    milestones.update((milestone, fact.occurred_at) for milestone, fact in last.items())
    dims: dict[str, str | None] = {d: doc.get(d) for d in DIMENSIONS[subject] if d != "community"}
    for cycle in cycles:  # in happening order
        for fact in cycle:
            if fact.name == reclassified:  # as last reclassified
                dims["incident_type"], dims["severity"] = fact.extra
    closure: str | None = None
    rating: int | None = None
    resolved: bool | None = None
    if subject == "incident":
        milestones.update(_first_unit(cycles[0]))
        closure = last["closed"].extra if "closed" in last else None
        status = _incident_status(cycles, last)
    elif subject == "hazard":
        assigned = _standing_assignment(facts)
        dims["assignee_kind"] = None if assigned is None else assigned.extra["assignee_kind"]
        # A due date is of the cycle that set it: a reopened hazard is due again only once
        # it is assigned again (the assignee stands, a new date is needed).
        if assigned is not None and (len(cycles) == 1 or happening_order(assigned)
                                     > happening_order(cycles[-1][0])):
            milestones[DUE] = datetime.fromisoformat(assigned.extra["due"])
        status = _status_after(_HAZARD_STATUS, facts)
    else:
        milestones["expected"] = datetime.fromisoformat(doc["expected_by"])
        closure = last["completed"].extra if "completed" in last else None
        if "rated" in last:
            rating, resolved = last["rated"].extra  # [score, resolved]
        if "dispatched" in last:
            dims["provider"], dims["provider_kind"] = last["dispatched"].extra
        else:
            dims["provider"] = dims["provider_kind"] = None
        status = _status_after(_ORDER_STATUS, facts)
    return Reading(dims, milestones, closure, len(cycles) - 1, rating, status,
                   tuple(_cycle_milestones(subject, cycle) for cycle in cycles), resolved)


def _last_since_reopening(subject: Subject, cycles: list[list[H]]) -> dict[str, H]:
    """The fact behind each last-since-reopening milestone: the latest of the last cycle
    (the latest dispatch of any cycle), a rating only if it follows the completion."""
    last_of = LAST_SINCE_REOPEN[subject]
    last: dict[str, H] = {}
    for number, cycle in enumerate(cycles):
        if number:  # a reopening undoes the resolution, closure, completion and rating
            last = {m: f for m, f in last.items() if m in KEPT_BY_REOPENING}
        for fact in cycle:
            milestone = last_of.get(fact.name)
            if milestone is not None:
                last[milestone] = fact
                if milestone == "completed":
                    last.pop("rated", None)  # a new completion awaits a new rating
    return last


def _cycle_milestones(subject: Subject, cycle: list[H]) -> dict[str, datetime]:
    """A cycle (a later one's reopening first) as its ``CYCLE_MILESTONES``."""
    wanted, reopening = CYCLE_MILESTONES[subject], REOPENING[subject]
    first_of, last_of = FIRST_OF[subject], LAST_SINCE_REOPEN[subject]
    found: dict[str, datetime] = {}
    for fact in cycle:
        if fact.name in reopening:
            found[REOPENED] = fact.occurred_at
        earliest, latest = first_of.get(fact.name), last_of.get(fact.name)
        if earliest in wanted:
            found.setdefault(earliest, fact.occurred_at)
        if latest in wanted:
            found[latest] = fact.occurred_at
    return found


def _incident_status(cycles: list[list[H]], last: Mapping[str, H]) -> str:
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


_ORDER_STATUS: Mapping[str, StrEnum] = ServiceOrder.declared(lambda event: event.status_after)
_HAZARD_STATUS: Mapping[str, StrEnum] = Hazard.declared(lambda event: event.status_after)
_HAZARD_FINISHED = frozenset(status.value for status in FINISHED)
_ASSIGNED = Hazard.Assigned.fact_name


def _status_after(moves_to: Mapping[str, StrEnum], facts: Sequence[Happened]) -> str:
    """The status the last of the facts that move the case (``moves_to``: fact name ->
    status after it) left it in, in the order things happened (its first fact is one)."""
    moves = [fact for fact in facts if fact.name in moves_to]
    return moves_to[max(moves, key=happening_order).name].value


def _standing_assignment(facts: Sequence[Happened]) -> Happened | None:
    """A hazard's latest assignment in the order things happened (its ``extra``: the
    assignee kind and due date), None if it was never assigned."""
    assignments = [fact for fact in facts if fact.name == _ASSIGNED]
    return max(assignments, key=happening_order) if assignments else None


def _amendments(subject: Subject, facts: tuple[Fact, ...],
                corrections: Mapping[int, Correction]) -> tuple[Amendment, ...]:
    """Every fact but a step (or a recovery link: recovery follows the response) recorded
    while the case stood closed, in recording order."""
    closes, steps = CLOSES[subject], STEPS[subject] | RECOVERY_LINKS[subject]
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
            "dated after closure")
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


def _first_unit(facts: list[H]) -> dict[str, datetime]:
    """NFPA's "first arriving unit": the dispatched responder on scene first, and its chain."""
    chains: dict[str, list[H | None]] = {}
    for fact in facts:
        step = RESPONDER_CHAIN.get(fact.name)
        if step is not None:
            chains.setdefault(fact.extra, [None, None, None])[step] = fact
    arrived = [(chain[2], chain) for chain in chains.values()
               if chain[0] is not None and chain[2] is not None]
    if not arrived:
        return {}
    _, chain = min(arrived, key=lambda a: happening_order(a[0]))
    return {name: fact.occurred_at for name, fact in zip(FIRST_UNIT, chain, strict=True)
            if fact is not None}
