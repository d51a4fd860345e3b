"""Every text an event stores is classified: personal data (declared on its class, with
whose it is) or not (listed here, with why). A text field added to an event without
either fails here, so nothing personal slips past protection unnoticed.

The fields are read from the event classes' declared types, down into the values they
carry (a location's description, a care card's contacts); the event classes are found
by walking the aggregates, so a new event class is covered without touching this file.
"""

import dataclasses
import types
import typing
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from resilience.domain.base import FactAggregate, masked, personal_fields, personal_values
from resilience.domain.emergency import Emergency
from resilience.domain.hazard import Hazard
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.patrol import Patrol, PatrolPlan
from resilience.domain.references import ReferenceBook
from resilience.domain.service import ServiceOrder
from resilience.domain.values import CareCard
from test_mapper import EVENT_CLASSES, event_strategy

_LIBRARY = {"originator_id", "originator_version", "timestamp", "originator_topic"}
_PSEUDONYM = ("a person id: a pseudonym chosen by the app, kept in plain text as the join "
              "key of rosters, authorization and grouping")
_AREA = "an area's id or name, the community's own organisation (grouping key)"

NOT_PERSONAL: dict[str, tuple[str, tuple[type, ...] | None]] = {
    # path -> (why it is not personal data, the classes it is on; None: every class)
    "command_id": ("an idempotency key the app chooses per command", None),
    "actor.person_id": (_PSEUDONYM, None),
    "actor.imported_by": (_PSEUDONYM + " (the importer's)", None),
    "person_id": (_PSEUDONYM, (Community.PersonEnrolled, Community.RoleAssigned,
                               Community.RoleRelieved, Community.PersonErased,
                               Incident.CommanderAssigned, Emergency.MemberAcknowledged,
                               Emergency.MemberArrived)),
    "members.*.person_id": (_PSEUDONYM + " (each member called up)",
                            (Emergency.MobilisationCalled,)),
    "responder_id": (_PSEUDONYM, (Incident.ResponderDispatched, Incident.ResponderEnRoute,
                                  Incident.ResponderOnScene)),
    "owner": (_PSEUDONYM + " (the improvement item's owner)",
              (ImprovementItem.Planned, ImprovementItem.OwnerAssigned)),
    "provider.provider_id": (_PSEUDONYM + " or an organisation's id",
                             (ServiceOrder.Dispatched,)),
    **{f"card.{contact.name}.person_id": (_PSEUDONYM, (Community.CareCardIssued,))
       for contact in attrs.fields(CareCard)},
    "district": ("the community's district: a public place name", (Community.Registered,)),
    "subdistrict": ("the community's subdistrict: a public place name",
                    (Community.Registered,)),
    "name": ("the name of the community or of an area (grid, micro-grid, building)",
             (Community.Registered, Community.GridAdded, Community.MicroGridAdded,
              Community.BuildingAdded)),
    "grid_id": (_AREA, (Community.GridAdded, Community.MicroGridAdded,
                        Community.CareCardIssued, Community.ActivityHeld, ServiceOrder.Placed)),
    "micro_grid_id": (_AREA, (Community.MicroGridAdded,)),
    "building_id": (_AREA, (Community.BuildingAdded,)),
    "parent": (_AREA, (Community.BuildingAdded,)),
    "units.*.unit_id": (_AREA, (Community.BuildingAdded,)),
    "area_id": (_AREA, (Community.ZoneClassified, ServiceOrder.Placed, Emergency.Declared)),
    "scope": (_AREA + " a role is held for", (Community.RoleAssigned, Community.RoleRelieved)),
    "grid": (_AREA, (ImprovementItem.Planned, Patrol.Recorded, PatrolPlan.Adopted)),
    "location.grid": (_AREA, (Incident.Detected, Hazard.Found)),
    "location.building": (_AREA, (Incident.Detected, Hazard.Found)),
    "location.unit": (_AREA, (Incident.Detected, Hazard.Found)),
    "visits.*.area": (_AREA + " a patrol visited",
                      (Patrol.Recorded, Patrol.CoverageCorrected)),
    "visits.*.spots": ("the spots a patrol looked at (storage rooms, basements): kinds of "
                       "place, no one's data", (Patrol.Recorded, Patrol.CoverageCorrected)),
    "rules.*.name": ("the name of a patrol plan's rule",
                     (PatrolPlan.Adopted, PatrolPlan.Revised)),
    "rules.*.spot": ("the kind of place a patrol plan's rule looks at",
                     (PatrolPlan.Adopted, PatrolPlan.Revised)),
    "rules.*.areas": (_AREA + " a patrol plan's rule targets",
                      (PatrolPlan.Adopted, PatrolPlan.Revised)),
    "affiliation": ("the organisation a role is held through (a property company, a "
                    "social organisation)", (Community.RoleAssigned,)),
    "category": ("a category of the service catalogue or of activities (metrics group by it)",
                 (Community.ActivityHeld, ServiceOrder.Placed)),
    "item": ("an item of the service catalogue", (ServiceOrder.Placed,)),
    "channel": ("how the office was told (phone, app, sensor)", (Incident.Reported,)),
    "team": ("a response team's name", (Incident.ResponderDispatched,)),
    "equipment": ("equipment used (hoses, extinguishers)", (Incident.ActionTaken,)),
    "review": ("the review an improvement item came from", (ImprovementItem.Planned,)),
    "objective": ("a review objective's key", (ImprovementItem.Planned,)),
    "reference": ("a case's human reference (DH-2022-0001): the community's code, a year, "
                  "a number", (Incident.Detected, ServiceOrder.Placed, ReferenceBook.Opened,
                               ReferenceBook.Issued, Incident.Referenced,
                               ServiceOrder.Referenced, Hazard.Found, Hazard.Referenced)),
    "code": ("the community's code in its references (DH)",
             (Community.Registered, Community.CodeSet)),
    "case_kind": ("incident, order or hazard: the kind a reference book numbers",
                  (ReferenceBook.Opened,)),
    "deadline": ("the name of an escalation policy's deadline",
                 (Incident.Escalated, ServiceOrder.Escalated)),
    "notified.*.person_id": (_PSEUDONYM + " (whom an escalation told)",
                             (Incident.Escalated, ServiceOrder.Escalated)),
    "notified.*.scope": (_AREA + " a role told was held for, or the kind of body told",
                         (Incident.Escalated, ServiceOrder.Escalated)),
    "notified.*.body": ("the community's subdistrict or district: a public place name",
                        (Incident.Escalated, ServiceOrder.Escalated)),
}


def _text_paths(hint: Any, prefix: str) -> Iterator[str]:
    """Dotted paths of every text a value of the declared type holds (``*``: each item of
    a tuple of values; a tuple of texts is one path)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is str:
        yield prefix
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            yield from _text_paths(arg, prefix)
    elif origin is tuple:
        yield from _text_paths(args[0], prefix if args[0] is str else f"{prefix}.*")
    elif isinstance(hint, type) and attrs.has(hint):
        hints = typing.get_type_hints(hint)
        for field in attrs.fields(hint):
            yield from _text_paths(hints[field.name], f"{prefix}.{field.name}")


def text_paths(cls: type[FactAggregate.Event]) -> set[str]:
    hints = typing.get_type_hints(cls)
    return {path for field in dataclasses.fields(cls) if field.name not in _LIBRARY
            for path in _text_paths(hints[field.name], field.name)}


def _declared_type(cls: type[Any], path: str) -> Any:
    hint: Any = cls
    for step in path.split("."):
        hints = typing.get_type_hints(hint)
        if step not in hints:
            return None
        hint = hints[step]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
            hint = args[0]
    return hint


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_every_text_an_event_stores_is_classified(cls: type[FactAggregate.Event]) -> None:
    """Each text path is declared personal on the class or listed here as not personal."""
    personal = personal_fields(cls)
    unclassified = []
    for path in sorted(text_paths(cls)):
        if path in personal:
            continue
        listed = NOT_PERSONAL.get(path)
        if listed is None or (listed[1] is not None and cls not in listed[1]):
            unclassified.append(path)
    assert not unclassified, (
        f"{cls.__qualname__}: {unclassified} are neither declared personal (its `personal`) "
        "nor listed in NOT_PERSONAL with a reason")


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_every_declaration_names_a_text_and_whose_it_is(
        cls: type[FactAggregate.Event]) -> None:
    """A personal path leads to a text (or texts); whose it is, to a person id or the actor."""
    for path, whose in personal_fields(cls).items():
        assert _declared_type(cls, path) in (str, tuple[str, ...]), (cls, path)
        if whose != "actor":
            assert _declared_type(cls, whose) is str, (cls, path, whose)


def test_nothing_is_both_personal_and_listed_as_not() -> None:
    """The list does not contradict a declaration."""
    for cls in EVENT_CLASSES:
        for path in personal_fields(cls):
            listed = NOT_PERSONAL.get(path)
            assert listed is None or (listed[1] is not None and cls not in listed[1]), (cls, path)


def test_the_personal_data_the_issue_names_is_declared() -> None:
    """Names, phones, care-card contacts, consent residents and reasons, households, free text."""
    assert {"name", "phone", "skills"} <= set(personal_fields(Community.PersonEnrolled))
    assert "card.emergency_contact.phone" in personal_fields(Community.CareCardIssued)
    assert personal_fields(Incident.ConsentGranted)["resident_id"] == "resident_id"
    assert personal_fields(Incident.ConsentRefused)["reason"] == "resident_id"
    assert set(personal_fields(ServiceOrder.Placed)) >= {"household_id", "details"}
    assert personal_fields(Incident.Detected)["location.description"] == "actor"
    assert personal_fields(Incident.NoteAdded)["text"] == "actor"
    assert {path: personal_fields(Hazard.Found)[path]
            for path in ("description", "photo", "location.description")} == dict.fromkeys(
        ("description", "photo", "location.description"), "actor")
    assert personal_fields(Hazard.Assigned)["assignee"] == "actor"
    assert personal_fields(Patrol.Recorded)["findings"] == "actor"


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_masked_hides_exactly_the_personal_values_not_kept(
        cls: type[FactAggregate.Event]) -> None:
    """``masked`` replaces each personal value whose subject is not kept, and nothing else."""

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(event_strategy(cls))
    def check(event: FactAggregate.Event) -> None:
        hidden = masked(event)
        assert all(value == "[hidden]" for _, _, value in personal_values(hidden))
        assert masked(event, keep=lambda subject: True) is event
        actor = event.actor.person_id
        mine = masked(event, "[x]", keep=lambda subject: subject == actor)
        for (path, subject, value), (_, _, shown) in zip(
                personal_values(event), personal_values(mine), strict=True):
            assert shown == (value if subject == actor else "[x]"), path
        assert text_paths(cls)  # every event has texts (its actor's at least)

    check()
