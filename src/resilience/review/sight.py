"""What one reader may see: personal values the policy keeps from them read "[hidden]".

A viewer is an ``Actor``: who reads, in the role they claim. They see a personal value
of a fact (``resilience.domain.base.personal_values``: names, phones, contacts, the
residents in consents, free text) when

- the policy lets them see the personal data of the **area the fact is about**
  (``Policy.may_see_personal``; by default community staff, or the founder, anywhere in
  the community, a grid leader or grid worker within their grid), or
- the value is **about themselves** (its subject is their person id: their own consent,
  their own words).

Every other personal value reads ``HIDDEN``. Person ids are pseudonyms and stay as they
are, but for one: a person id that is itself a hidden value of the aggregate (a resident
asked for consent) is hidden as the actor of its facts too, or the grant its resident
records would name them. A person's name is their enrolment's (a fact about the whole
community), so only a viewer who sees the whole community reads other people's names.

The roster is read **at the moment of reading** (the engine's clock, whatever cut a
review is made at): who may see is who holds the role now, so a grid leader relieved
yesterday no longer reads their old grid's residents, and one appointed today reads its
history. No viewer (None) is the app itself, which sees everything; so does every viewer
of an engine opened without a policy (``policy=None``: no authorization at all).

The area a fact is about: an incident's location (its unit, else building, else grid,
else the community), an order's area, an improvement item's grid (else the community),
and for a community's own facts the area the fact names
(``resilience.domain.organisation.fact_area``: the grid of a care card or an activity,
the scope of a role, the area classified; else the community as a whole). A correction
is about what the fact it corrects is about.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import attrs

from resilience.domain.base import Correction, FactAggregate, masked, personal_values
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community, fact_area, location_areas
from resilience.domain.policy import Policy
from resilience.domain.service import ServiceOrder
from resilience.domain.values import Actor
from resilience.i18n import N_, _

HIDDEN = N_("[hidden]")
"""What a personal value the viewer may not see reads: in English always, in the masked
events, the review's data and everything else that is kept (:func:`unhidden` says it in
the reader's language where it is shown)."""


def unhidden(text: str) -> str:
    """``text`` as it is shown: each ``HIDDEN`` in it said in the current language
    (``text`` itself in English)."""
    said = _(HIDDEN)
    return text if said == HIDDEN or HIDDEN not in text else text.replace(HIDDEN, said)

E = TypeVar("E", bound=FactAggregate.Event)
Keep = Callable[[str | None], bool]
"""Whether the viewer sees a personal value, given its subject (a person id, or None)."""


class Sight:
    """What one viewer may see of one community's personal data, at one moment."""

    def __init__(self, policy: Policy | None, community: Community, viewer: Actor | None,
                 at: datetime) -> None:
        self.policy = policy
        self.community = community
        self.viewer = viewer
        self.at = at
        self._areas: dict[str | None, bool] = {}

    def sees(self, area: str | None) -> bool:
        """Does the viewer see all the personal data about ``area`` (None: the community
        as a whole)?"""
        if self.viewer is None or self.policy is None:
            return True
        if area not in self._areas:
            self._areas[area] = self.policy.may_see_personal(self.community, self.viewer,
                                                             area, self.at)
        return self._areas[area]

    def keep(self, area: str | None) -> Keep:
        """Which personal values about ``area`` the viewer sees, by subject."""
        if self.sees(area):
            return _everything
        assert self.viewer is not None  # sees() is True without a viewer
        me = self.viewer.person_id
        return lambda subject: subject == me

    def events(self, events: Sequence[E]) -> list[E]:
        """One aggregate's events (all of them, in version order) as the viewer may see
        them: each personal value the viewer may not see replaced by ``HIDDEN``."""
        areas: dict[int, str | None] = {}
        shown = []
        hidden: set[str] = set()  # person ids that are hidden values themselves
        for event in events:
            area = _area(self.community, events[0], event, areas)
            areas[event.originator_version] = area
            keep = self.keep(area)
            hidden.update(value for _, subject, value in personal_values(event)
                          if value == subject and not keep(subject))
            shown.append(masked(event, HIDDEN, keep))
        return [_anonymous(event) if event.actor.person_id in hidden else event
                for event in shown]

    def names(self, people: Mapping[str, str]) -> dict[str, str]:
        """Person id -> name, only those the viewer may read (a name is the enrolment's:
        the community's as a whole)."""
        keep = self.keep(None)
        return {person: name for person, name in people.items() if keep(person)}


def _everything(subject: str | None) -> bool:
    return True


def _anonymous(event: E) -> E:
    """The event with its actor's person id hidden (its role kept)."""
    fields: dict[str, Any] = {"actor": attrs.evolve(event.actor, person_id=HIDDEN)}
    return dataclasses.replace(event, **fields)


def incident_area(community: Community, detected: Incident.Detected) -> str | None:
    """The most precise area of an incident's location the community has (unit, building,
    grid: ``location_areas``), or None (the community as a whole)."""
    return next((a for a in location_areas(detected.location) if a in community.areas), None)


def _area(community: Community, first: Any, event: Any,
          earlier: Mapping[int, str | None]) -> str | None:
    """The area ``event`` is about (module docstring); ``first`` is its aggregate's first
    event, ``earlier`` the areas of the facts before it by version."""
    if isinstance(event, Correction):
        return earlier.get(event.corrects)
    match first:
        case Incident.Detected():
            return incident_area(community, first)
        case ServiceOrder.Placed():
            return known_area(community, first.area_id)
        case ImprovementItem.Planned():
            return known_area(community, first.grid)
    return known_area(community, fact_area(event))  # a community's own fact


def known_area(community: Community, area: object) -> str | None:
    """``area`` if it is one of the community's areas, else None."""
    return area if isinstance(area, str) and area in community.areas else None
