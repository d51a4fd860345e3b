"""The hazards recorded where an incident happened, before it did: "was this fire
foreseeable?"

The rule (docs/review.md, "Hazards before the incident"):

- **Where.** The hazards of the incident's community at its location: in the same
  building when the incident names one, else anywhere in the same grid (an incident that
  names neither has no place to compare, and no hazards listed). ``PriorHazards.scope``
  says which.
- **Before.** Those whose found time (effective: as corrected) is before the incident's
  detection, both as the review's cut knows them.
- **Open then, on both time axes.** A hazard's status at detection *as it happened*: its
  facts dated by detection, every correction the review's cut knows applied; and *as it
  was known at detection*: only the facts (and corrections) recorded by then, dated by
  then ("not yet recorded", None, when its finding was recorded after detection). A
  hazard is **open** while it is open or assigned: not yet rectified, verified or closed,
  so still there as far as the record says.
- **The review's own cut.** A fact the review's cut does not hold (recorded after its
  ``known_at``, or dated after its ``as_of``) is not shown: a hazard found but not yet
  recorded at the cut is left out, and so are its later links.

Everything is read from the hazards' documents of the ``cases`` view
(resilience.projections.folds), which keep no personal data (no description, photo or
note): the functions here are pure, so the same documents and the same cut always give
the same section. The times are cut by the one rule of every case
(``resilience.metrics.cases.known_at_cut``, ``times_at_cut``); a status is the one the
latest of the hazard's steps left it in, in the order things happened, each step's
``status_after`` as the domain declares it (a step is dated no earlier than the one
recorded before it, so this is the status the aggregate itself had).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from attrs import frozen

from resilience.domain.base import happening_order
from resilience.domain.hazard import Hazard, HazardStatus
from resilience.metrics.cases import Step, known_at_cut, times_at_cut

__all__ = ["OPEN", "PriorHazard", "PriorHazards", "Scope", "prior_hazards"]

Scope = Literal["building", "grid"]

OPEN = frozenset({HazardStatus.OPEN, HazardStatus.ASSIGNED})
"""The statuses in which a hazard is still there as far as the record says."""

_STATUS: Mapping[str, HazardStatus] = Hazard.declared(lambda event: event.status_after)
_LINKS: Mapping[str, str] = {
    Hazard.LinkedToOrder.fact_name: "orders",
    Hazard.LinkedToImprovement.fact_name: "items",
    Hazard.LinkedToIncident.fact_name: "incidents",
}


@frozen
class PriorHazard:
    """One hazard recorded at the incident's location before its detection."""

    hazard_id: str
    reference: str | None
    """Its human reference (``DH-2022-H0001``) as known at the review's cut (None: none)."""
    category: str
    severity: str
    grid: str | None
    building: str | None
    unit: str | None
    floor: int | None
    found_at: datetime
    """When it was found (effective: as corrected, by what the review's cut knows)."""
    recorded_at: datetime
    """When its finding was recorded."""
    found_by: str
    """Who recorded the finding (a person id)."""
    patrol: str | None
    """The patrol it was found on (None: an inspection of its own)."""
    status_then: HazardStatus
    """Its status at detection as it happened (facts dated by then, as corrected)."""
    status_known_then: HazardStatus | None
    """Its status at detection as known then (facts recorded by then); None: its finding
    was not yet on record at detection (recorded after it, or dated after it as known
    then)."""
    open_then: bool
    """``status_then`` is open (``OPEN``): the hazard was still there when the incident
    was detected."""
    open_known_then: bool | None
    """``status_known_then`` is open (None: not yet recorded)."""
    orders: tuple[str, ...] = ()
    """Service orders linked to it by the review's cut, in the order linked."""
    items: tuple[str, ...] = ()
    """Improvement items linked to it by the review's cut."""
    incidents: tuple[str, ...] = ()
    """Incidents linked to it by the review's cut (the reviewed one among them if it
    names this hazard as where it came from)."""


@frozen
class PriorHazards:
    """The hazards recorded at an incident's location before its detection."""

    scope: Scope
    """``"building"``: the incident names a building, and the hazards are those in it;
    ``"grid"``: it names none, and the hazards are those anywhere in its grid."""
    place: str
    """The building's or the grid's id."""
    detected_at: datetime
    """The incident's detection they are compared with (as the review's cut knows it)."""
    hazards: tuple[PriorHazard, ...]
    """In the order they were found."""
    open_then: int
    """How many were still open at detection as it happened."""
    open_known_then: int
    """How many were open at detection as known then."""


def prior_hazards(docs: Iterable[tuple[str, Mapping[str, Any]]], *, community: str,
                  grid: str | None, building: str | None, detected_at: datetime,
                  as_of: datetime | None = None, known_at: datetime | None = None
                  ) -> PriorHazards | None:
    """The hazards of ``docs`` (``cases`` documents of any kind, by key) recorded at the
    incident's place before ``detected_at``, as the review's cut (``as_of``,
    ``known_at``) has them; None when the incident names neither a building nor a grid."""
    if building is not None:
        scope: Scope = "building"
        place = building
    elif grid is not None:
        scope, place = "grid", grid
    else:
        return None
    found = []
    for key, doc in docs:
        if (doc.get("kind") != "hazard" or doc.get("community") != community
                or doc.get(scope) != place):
            continue
        hazard = prior_hazard(key, doc, detected_at, as_of=as_of, known_at=known_at)
        if hazard is not None:
            found.append(hazard)
    found.sort(key=lambda h: (h.found_at, h.hazard_id))
    return PriorHazards(scope, place, detected_at, tuple(found),
                        open_then=sum(h.open_then for h in found),
                        open_known_then=sum(bool(h.open_known_then) for h in found))


def prior_hazard(key: str, doc: Mapping[str, Any], detected_at: datetime, *,
                 as_of: datetime | None = None, known_at: datetime | None = None
                 ) -> PriorHazard | None:
    """One hazard's document read against the incident's detection: None unless the
    review's cut holds its finding and it was found before ``detected_at``."""
    entries: Sequence[Sequence[Any]] = doc["facts"]
    recorded = [datetime.fromisoformat(entry[2]) for entry in entries]
    known = known_at_cut(doc, known_at, recorded)
    times, _ = times_at_cut(doc, known)
    if not known[0] or not times[1] < detected_at or (as_of is not None and times[1] > as_of):
        return None
    status_then = _status(entries, known, times, detected_at)
    # As known at detection: only what had been recorded by then (and by the review's cut).
    then = detected_at if known_at is None else min(detected_at, known_at)
    known_then = known_at_cut(doc, then, recorded)
    times_then, _ = times_at_cut(doc, known_then)
    status_known_then = (_status(entries, known_then, times_then, detected_at)
                         if known_then[0] and times_then[1] <= detected_at else None)
    links: dict[str, list[str]] = {"orders": [], "items": [], "incidents": []}
    for version, entry in enumerate(entries, start=1):
        kind = _LINKS.get(entry[0])
        if (kind is not None and known[version - 1]
                and (as_of is None or times[version] <= as_of)):
            links[kind].append(str(entry[3]["id"]))
    first = entries[0]
    return PriorHazard(
        hazard_id=key, reference=_reference(doc, entries, known), category=doc["category"],
        severity=doc["severity"], grid=doc.get("grid"), building=doc.get("building"),
        unit=doc.get("unit"), floor=doc.get("floor"), found_at=times[1],
        recorded_at=recorded[0], found_by=str(first[4]), patrol=doc.get("patrol"),
        status_then=status_then, status_known_then=status_known_then,
        open_then=status_then in OPEN,
        open_known_then=None if status_known_then is None else status_known_then in OPEN,
        orders=tuple(links["orders"]), items=tuple(links["items"]),
        incidents=tuple(links["incidents"]))


def _status(entries: Sequence[Sequence[Any]], known: Sequence[bool],
            times: Mapping[int, datetime], at: datetime) -> HazardStatus:
    """The status the latest step known and dated by ``at`` left the hazard in (its
    finding, dated by ``at``, is one: the caller checked)."""
    steps = [Step(times[version], version, entry[0], None)
             for version, entry in enumerate(entries, start=1)
             if entry[0] in _STATUS and known[version - 1] and times[version] <= at]
    return _STATUS[max(steps, key=happening_order).name]


def _reference(doc: Mapping[str, Any], entries: Sequence[Sequence[Any]],
               known: Sequence[bool]) -> str | None:
    """The hazard's reference as known at the cut: the view keeps the latest, given with
    its finding or later (``Referenced``); one given later and not known at the cut is
    not yet its reference."""
    given = [version for version, entry in enumerate(entries)
             if entry[0] == Hazard.Referenced.fact_name]
    if given and not known[given[-1]]:
        return None
    reference = doc.get("reference")
    return None if reference is None else str(reference)
