"""The projections: each folds facts into JSON documents, one per aggregate.

``timelines``: every fact of an incident, order, community or improvement
item as a timeline entry (who, what, when it happened, when it was
recorded), with corrections applied beside the original.

``cases``: what metrics and scorecards group and measure: each incident's,
order's and hazard's dimensions as first recorded (community, grid, type at
detection, category...), its facts with their effective times, who recorded
them and the part of their payload that cases are grouped or measured by (a
reclassification, a provider, an outcome, a score, an assignment...), each community's
grids and areas, and each activity held (its participants as corrected). Emergencies are
kept the way cases are (kind ``"emergency"``: its area and kind, its facts), for the
situations and mobilisation reports (resilience.metrics.mobilisation), though no metric
measures them; so are patrols (kind ``"patrol"``: what they covered, as last corrected,
and the hazards found on them), and each grid's patrol plan (kind ``"patrol_plan"``: each
version of its rules), for the peacetime figures (resilience.metrics.peacetime).
Improvement items are not cases: they are left out.

``plans`` (resilience.projections.plans): each improvement item of an
after-action review's improvement plan, with the history of its status.

``live`` (resilience.projections.live): which incidents and orders are open now, for
the watch that raises escalations.

They only fold facts: which fact is a milestone, what a duration is and what
meets a target are decided when the views are read (resilience.metrics), so
a changed definition needs no rebuild.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from resilience.domain.base import Correction, FactAggregate
from resilience.domain.emergency import Emergency
from resilience.domain.hazard import Hazard
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community, unit_area_id
from resilience.domain.patrol import Patrol, PatrolPlan, PatrolRule, PatrolVisit
from resilience.domain.service import ServiceOrder
from resilience.domain.values import Actor
from resilience.projections.base import Delivery, Doc, Docs, Projection
from resilience.projections.live import Live
from resilience.projections.plans import Plans


def community_of(event: Any) -> str:
    community = getattr(event, "community_id", None)
    return str(community if community is not None else event.originator_id)


def _existing(docs: Docs, key: str, version: int) -> Doc:
    doc = docs.get(key)
    if doc is None:
        raise LookupError(
            f"the views have no document {key} for version {version}: "
            "they did not see this aggregate's first fact; rebuild them")
    return doc


class Timelines:
    """One document per aggregate: its facts as timeline entries, in version order.

    An entry is ``[version, action, person, role, occurred, recorded, details]``
    as first recorded (``details``: the event's ``describe()``), followed by the
    actor's ``override`` and ``imported_by`` when it carries either
    (``actor_marks``); ``corrected`` maps a corrected version to its effective
    ``time`` and/or ``text`` and the versions of the corrections (``by``).
    """

    view = "timelines"

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        event, key, name, version, occurred, recorded, owner = delivery
        if owner == "references":  # a reference book: its numbers are on its cases
            return
        if version == 1:
            doc: Doc = {"kind": owner, "community": community_of(event),
                        "at": event.occurred_at.timestamp(), "entries": []}
        else:
            doc = _existing(docs, key, version)
        actor = event.actor
        # ``_value_``: the role's value, without the ``value`` property's lookup (once per
        # fact in two views: a tenth of their folding)
        entry = [version, name, actor.person_id, actor.role._value_, occurred, recorded,
                 event.describe()]
        if actor.override is not None or actor.imported_by is not None:
            entry += actor_marks(actor)
        doc["entries"].append(entry)
        if isinstance(event, Correction):
            self._amend(doc, event, version)
        docs.put(key, doc)

    @staticmethod
    def _amend(doc: Doc, correction: Any, version: int) -> None:
        """Note the correction at ``version`` beside the entry it corrects."""
        amended = doc.setdefault("corrected", {}).setdefault(str(correction.corrects), {"by": []})
        amended["by"].append(version)
        match correction:
            case FactAggregate.TimeCorrected():
                amended["time"] = correction.corrected_to.isoformat()
                if correction.corrects == 1:
                    doc["at"] = correction.corrected_to.timestamp()
            case FactAggregate.DetailsCorrected():
                amended["text"] = correction.details


def actor_marks(actor: Actor) -> list[str | None]:
    """``[override, imported_by]`` of an actor that carries either, else nothing: an entry
    or fact of an actor acting within the policy, not imported, ends at the role, as
    every one recorded before actors carried them does."""
    if actor.override is None and actor.imported_by is None:
        return []
    return [actor.override, actor.imported_by]


def activity_key(community: str, version: int) -> str:
    return f"{community}/activity/{version}"


def reference_key(community: str, reference: str) -> str:
    """The key of the ``cases`` view's index document of a case's reference (kind
    ``reference``: the case's ``id`` and kind), per community: two communities may share
    a code."""
    return f"{community}/reference/{reference}"


def _given(event: Any) -> str | None:
    """The reference a case's later fact gave it (``Incident.Referenced``,
    ``ServiceOrder.Referenced``, ``Hazard.Referenced``), else None."""
    if isinstance(event, Incident.Referenced | ServiceOrder.Referenced | Hazard.Referenced):
        return str(event.reference)
    return None


_NOT_CASES = frozenset({"improvement", "references"})
"""The kinds of aggregate whose facts the ``cases`` view ignores."""


class Cases:
    """Incidents, orders and hazards with their dimensions and fact times; emergencies and
    patrols kept the same way; patrol plans; communities; activities.

    A case's fact is ``[name, occurred, recorded, detail, person, role]``
    (``detail``: the event's ``detail()``; ``person`` and ``role``: who recorded
    it), followed by the actor's ``override`` and ``imported_by`` when it carries
    either (``actor_marks``). A community's ``overrides`` (there once one of its
    own facts was recorded by override) lists each such fact ``[version, name,
    occurred, recorded, person, role, override]``; its ``areas`` each area added
    ``[kind, parent, households, added]`` (``added``: the time of the fact that added
    it, as corrected; ``areas_by_version``: which areas each such fact added, so a
    correction of its time finds them). An activity's ``participants``
    is its count as last corrected, ``participants_recorded`` the count first
    recorded. A patrol's ``visits`` are ``[area, [spot, ...]]`` as last corrected
    (``CoverageCorrected``), its ``ended`` the end as last corrected (``EndCorrected``),
    its ``hazards`` the ids of the hazards found on it, in the order recorded. A patrol
    plan's ``versions`` are ``[occurred, recorded, rules]`` of its adoption and each
    revision (a rule: ``[name, frequency, spot, [area, ...]]``), in the order they took
    effect (effective time, then recording order: the rules in force at a moment are
    those of the last version in effect by then); ``fact_versions`` the aggregate's
    version of each, in the same order. Improvement items and reference books are not
    cases: their facts are ignored; a case with a reference gets an index document of
    it (``reference_key``)."""

    view = "cases"

    def apply(self, delivery: Delivery, docs: Docs) -> None:
        if delivery.owner in _NOT_CASES:
            return
        event, key, name, version = delivery[:4]
        doc = _first_doc(event, name) if version == 1 else _existing(docs, key, version)
        kind = doc["kind"]
        if kind == "patrol_plan":
            _plan_fact(delivery, doc)
            docs.put(key, doc)
            return
        if kind != "community":
            self._case_fact(delivery, doc)
            if kind == "patrol":
                _patrol_fact(event, doc)
            elif kind == "hazard" and version == 1:
                _found_on_patrol(event, key, docs)
            # Its first fact's reference, or one given later (``Referenced``).
            reference = doc.get("reference") if version == 1 else _given(event)
            if reference is not None:
                doc["reference"] = reference
            docs.put(key, doc)
            if reference is not None:
                docs.put(reference_key(doc["community"], reference),
                         {"kind": "reference", "community": doc["community"], "id": key,
                          "case": doc["kind"]})
            return
        changed = self._community_fact(event, doc, docs)
        if self._override(delivery, doc) or changed or version == 1:
            docs.put(key, doc)

    @staticmethod
    def _override(delivery: Delivery, doc: Doc) -> bool:
        """Note a community's fact recorded by override; True if there was one."""
        actor = delivery.event.actor
        if actor.override is None:
            return False
        doc.setdefault("overrides", []).append([
            delivery.version, delivery.name, delivery.occurred, delivery.recorded,
            actor.person_id, actor.role.value, actor.override])
        return True

    def _case_fact(self, delivery: Delivery, doc: Doc) -> None:
        event, _, name, version, occurred, recorded, _ = delivery
        actor = event.actor
        fact = [name, occurred, recorded, event.detail(), actor.person_id, actor.role._value_]
        if actor.override is not None or actor.imported_by is not None:
            fact += actor_marks(actor)
        doc["facts"].append(fact)
        if not isinstance(event, Correction):
            return
        match event:
            case FactAggregate.TimeCorrected():
                corrected = doc["facts"][event.corrects - 1]
                corrected_to = event.corrected_to.isoformat()
                doc["corrections"].append([version, event.corrects, corrected[0], "time",
                                           event.reason, corrected[1], corrected_to])
                corrected[1] = corrected_to
                if event.corrects == 1:
                    doc["at"] = event.corrected_to.timestamp()
            case FactAggregate.DetailsCorrected():
                doc["corrections"].append([version, event.corrects,
                                           doc["facts"][event.corrects - 1][0], "details",
                                           event.reason, None, None])

    def _community_fact(self, event: Any, doc: Doc, docs: Docs) -> bool:
        """Fold a community's fact; True if the community's own document changed."""
        community = doc["community"]
        match event:
            case Community.GridAdded():
                doc["grids"][event.grid_id] = event.name
                _add_areas(doc, event, [(event.grid_id, "grid", None, 0)])
                return True
            case Community.MicroGridAdded():
                _add_areas(doc, event, [(event.micro_grid_id, "micro_grid", event.grid_id, 0)])
                return True
            case Community.BuildingAdded():
                _add_areas(doc, event, [
                    (event.building_id, "building", event.parent,
                     sum(unit.households for unit in event.units)),
                    *((unit_area_id(event.building_id, unit.unit_id), "unit", event.building_id,
                       unit.households) for unit in event.units)])
                return True
            case Community.ActivityHeld():
                docs.put(activity_key(community, event.originator_version), {
                    "kind": "activity", "community": community,
                    "at": event.occurred_at.timestamp(),
                    "occurred": event.occurred_at.isoformat(), "title": event.title,
                    "category": event.category, "grid": event.grid_id,
                    "participants": event.participants,
                    "participants_recorded": event.participants,
                })
            case FactAggregate.TimeCorrected():
                added = doc.get("areas_by_version", {}).get(str(event.corrects))
                if added is not None:  # the areas that fact added were added then
                    for area in added:
                        doc["areas"][area][3] = event.corrected_to.isoformat()
                    return True
                activity = docs.get(activity_key(community, event.corrects))
                if activity is not None:
                    activity["at"] = event.corrected_to.timestamp()
                    activity["occurred"] = event.corrected_to.isoformat()
                    docs.put(activity_key(community, event.corrects), activity)
            case Community.ParticipantsCorrected():
                # The command refuses anything but an ActivityHeld version.
                activity = _existing(docs, activity_key(community, event.corrects),
                                     event.originator_version)
                activity["participants"] = event.participants
                docs.put(activity_key(community, event.corrects), activity)
        return False


def _first_doc(event: Any, name: str) -> Doc:
    """The ``cases`` document an aggregate's first fact begins (KeyError: no case's)."""
    match event:
        case Incident.Detected():
            return {"kind": "incident", "community": str(event.community_id),
                    "at": event.occurred_at.timestamp(), "grid": event.location.grid,
                    "incident_type": event.incident_type.value,
                    "severity": event.severity.value, "drill": event.drill, "facts": [],
                    "corrections": [], "reference": event.reference}
        case ServiceOrder.Placed():
            return {"kind": "order", "community": str(event.community_id),
                    "at": event.occurred_at.timestamp(), "grid": event.grid_id,
                    "zone_type": event.zone_type.value if event.zone_type else None,
                    "category": event.category, "item": event.item,
                    "expected_by": event.expected_by.isoformat(), "facts": [],
                    "corrections": [], "reference": event.reference}
        case Emergency.Declared():
            return {"kind": "emergency", "community": str(event.community_id),
                    "at": event.occurred_at.timestamp(), "area": event.area_id,
                    "emergency_kind": event.kind.value, "facts": [], "corrections": []}
        case Hazard.Found():
            location = event.location
            return {"kind": "hazard", "community": str(event.community_id),
                    "at": event.occurred_at.timestamp(), "grid": location.grid,
                    "building": location.building, "unit": location.unit,
                    "floor": location.floor, "category": event.category.value,
                    "severity": event.severity.value,
                    "patrol": None if event.patrol_id is None else str(event.patrol_id),
                    "facts": [], "corrections": [], "reference": event.reference}
        case Patrol.Recorded():
            return {"kind": "patrol", "community": str(event.community_id),
                    "at": event.occurred_at.timestamp(), "grid": event.grid,
                    "ended": event.ended_at.isoformat(), "visits": _visits(event.visits),
                    "hazards": [], "facts": [], "corrections": []}
        case PatrolPlan.Adopted():
            return {"kind": "patrol_plan", "community": str(event.community_id),
                    "grid": event.grid, "at": event.occurred_at.timestamp(), "versions": [],
                    "fact_versions": []}
        case Community.Registered():
            return {"kind": "community", "community": str(event.originator_id), "at": None,
                    "name": event.name, "district": event.district,
                    "subdistrict": event.subdistrict, "grids": {}, "areas": {},
                    "areas_by_version": {}}
    raise KeyError(name)


def _add_areas(doc: Doc, event: Any,
               areas: Iterable[tuple[str, str, str | None, int]]) -> None:
    """Note the areas (id, kind, parent, households) a community's fact added, at its time."""
    added = event.occurred_at.isoformat()
    ids = doc["areas_by_version"].setdefault(str(event.originator_version), [])
    for area, kind, parent, households in areas:
        doc["areas"][area] = [kind, parent, households, added]
        ids.append(area)


def _visits(visits: Iterable[PatrolVisit]) -> list[list[Any]]:
    return [[visit.area, list(visit.spots)] for visit in visits]


def _rules(rules: Iterable[PatrolRule]) -> list[list[Any]]:
    return [[rule.name, rule.frequency.value, rule.spot, list(rule.areas)] for rule in rules]


def _patrol_fact(event: Any, doc: Doc) -> None:
    """What a patrol's later fact changes beside its facts: its coverage, its end."""
    match event:
        case Patrol.CoverageCorrected():
            doc["visits"] = _visits(event.visits)
        case Patrol.EndCorrected():
            doc["ended"] = event.ended_at.isoformat()


def _found_on_patrol(event: Any, key: str, docs: Docs) -> None:
    """List a hazard found on a patrol on the patrol's document (if the views have it: the
    service records a hazard only on a patrol already recorded)."""
    if event.patrol_id is None:
        return
    patrol_key = str(event.patrol_id)
    patrol = docs.get(patrol_key)
    if patrol is not None and patrol["kind"] == "patrol" and key not in patrol["hazards"]:
        patrol["hazards"].append(key)
        docs.put(patrol_key, patrol)


def _plan_fact(delivery: Delivery, doc: Doc) -> None:
    """Fold a patrol plan's fact: a version of its rules, or a time correction moving one."""
    event, version = delivery.event, delivery.version
    match event:
        case PatrolPlan.Adopted() | PatrolPlan.Revised():
            doc["versions"].append([delivery.occurred, delivery.recorded, _rules(event.rules)])
            doc["fact_versions"].append(version)
        case FactAggregate.TimeCorrected():
            if event.corrects == 1:
                doc["at"] = event.corrected_to.timestamp()
            if event.corrects not in doc["fact_versions"]:
                return
            index = doc["fact_versions"].index(event.corrects)
            doc["versions"][index][0] = event.corrected_to.isoformat()
        case _:
            return
    # In the order they took effect: the rules in force at a moment are the last version's
    # in effect by then, whichever order they were recorded in.
    ordered = sorted(zip(doc["versions"], doc["fact_versions"], strict=True),
                     key=lambda pair: (datetime.fromisoformat(pair[0][0]), pair[1]))
    doc["versions"] = [entry for entry, _ in ordered]
    doc["fact_versions"] = [number for _, number in ordered]


PROJECTIONS: tuple[Projection, ...] = (Timelines(), Cases(), Plans(), Live())
