"""Value objects and vocabularies shared by every aggregate.

Events carry these; they are attrs classes (frozen, slotted) so they are
hashable, comparable, and structured/unstructured by the one converter in
:mod:`resilience.adapters.converter`. Every field is checked when a value is
built, by the rule of :mod:`resilience.domain.validation` (text, whole numbers
in the field's range, nested values of the declared class).
"""

from enum import StrEnum
from typing import TypeVar

from attrs import field, frozen

from resilience.domain.validation import (
    instance_field,
    non_empty_field,
    optional_non_empty_field,
    shown,
    text_field,
    whole_field,
)
from resilience.errors import InvalidInputError
from resilience.i18n import _


class Role(StrEnum):
    """A role a person holds in the community, or acts in when issuing a command."""

    GRID_LEADER = "grid_leader"
    GRID_WORKER = "grid_worker"
    BUILDING_LEADER = "building_leader"
    UNIT_LEADER = "unit_leader"
    PARTY_MEMBER_HOUSEHOLD = "party_member_household"
    SQUAD_MEMBER = "squad_member"
    VOLUNTEER = "volunteer"
    COMMUNITY_STAFF = "community_staff"
    # Roles one acts in without being on the roster.
    RESIDENT = "resident"
    PROVIDER = "provider"
    INCIDENT_COMMANDER = "incident_commander"
    SYSTEM = "system"


ROSTER_ROLES = frozenset(
    {
        Role.GRID_LEADER,
        Role.GRID_WORKER,
        Role.BUILDING_LEADER,
        Role.UNIT_LEADER,
        Role.PARTY_MEMBER_HOUSEHOLD,
        Role.SQUAD_MEMBER,
        Role.VOLUNTEER,
        Role.COMMUNITY_STAFF,
    }
)
"""Roles that are assigned and relieved on a community's roster."""

EXCLUSIVE_ROLES = frozenset({Role.GRID_LEADER, Role.BUILDING_LEADER, Role.UNIT_LEADER})
"""Roles that one person at a time holds for a given area."""


class Employment(StrEnum):
    FULL_TIME = "full_time"
    PART_TIME = "part_time"


class ZoneType(StrEnum):
    """Xiangyang's four service-zone types, each with its focus."""

    NEW_BUILD = "new_build"  # focus: service
    OLD_ESTATE = "old_estate"  # focus: upgrading
    COMMERCIAL = "commercial"  # focus: regulation
    INSTITUTIONAL = "institutional"  # focus: co-building


class AreaKind(StrEnum):
    GRID = "grid"
    MICRO_GRID = "micro_grid"
    BUILDING = "building"
    UNIT = "unit"


class IncidentType(StrEnum):
    FIRE = "fire"
    MEDICAL = "medical"
    GAS = "gas"
    FLOOD = "flood"
    SECURITY = "security"
    INFRASTRUCTURE = "infrastructure"
    OTHER = "other"


class Severity(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    CRITICAL = "critical"


class ActionKind(StrEnum):
    """Field actions that are facts on a timeline but carry no invariant of their own.

    Consent, forced entry, source found, containment and resolution are
    milestones with rules, so they have events of their own.
    """

    EQUIPMENT_BROUGHT = "equipment_brought"
    EQUIPMENT_PREPARED = "equipment_prepared"
    RESIDENTS_NOTIFIED = "residents_notified"
    EVACUATION = "evacuation"
    SUPPRESSION = "suppression"
    FIRST_AID = "first_aid"
    UTILITIES_ISOLATED = "utilities_isolated"
    OTHER = "other"


class ClosureReason(StrEnum):
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"


class ServiceOutcome(StrEnum):
    """FixMyStreet's distinction: fixed, or closed without being fixed."""

    FIXED = "fixed"
    NOT_FIXED = "not_fixed"


class ProviderKind(StrEnum):
    ALLIANCE_MEMBER = "alliance_member"
    SOCIAL_ORGANISATION = "social_organisation"
    PROPERTY_COMPANY = "property_company"
    GRID_WORKER = "grid_worker"


E = TypeVar("E", bound=StrEnum)


def parse_enum(enum_cls: type[E], value: object, name: str) -> E:
    """A member of ``enum_cls``, or the member whose value is the text ``value``;
    otherwise InvalidInputError listing the allowed values."""
    if type(value) is enum_cls:
        return value
    if type(value) is str:  # exactly: a subclass could answer the lookup as it likes
        try:
            return enum_cls(value)
        except ValueError:
            pass
    allowed = ", ".join(m.value for m in enum_cls)
    raise InvalidInputError(_("{name} must be one of {allowed}; got {value}").format(
        name=name, allowed=allowed, value=shown(value)))


def _role(value: object) -> "Role":
    return parse_enum(Role, value, "role")


def _provider_kind(value: object) -> "ProviderKind":
    return parse_enum(ProviderKind, value, "provider kind")


LOWEST_FLOOR = -20
HIGHEST_FLOOR = 300
"""A location's floor is a whole number in this range (basements are negative)."""
MAX_HOUSEHOLDS = 10_000
"""Most households one unit (entrance, stairwell) of a building can have."""


@frozen
class Actor:
    """Who issued a command and in which role they acted: a *claim*, which the engine's
    policy (resilience.domain.policy) checks against the community's roster at the moment
    the action happened.

    ``override``: the actor acts outside what the policy allows them, and says why (a
    person on the roster may, in an emergency; the fact records it). ``imported_by``: the
    person id of the importer under whose identity the fact was imported; the engine sets
    it in import mode (``engine.importing``), callers of ordinary commands never do.
    Both default to None, and are left out of the stored event when None, so an actor
    without them is stored exactly as before they existed.
    """

    person_id: str = field(validator=non_empty_field)
    role: Role = field(converter=_role)
    override: str | None = field(default=None, kw_only=True,
                                 validator=optional_non_empty_field)
    imported_by: str | None = field(default=None, kw_only=True,
                                    validator=optional_non_empty_field)


@frozen
class Location:
    """Where something happened, as precisely as the reporter knew."""

    grid: str | None = field(default=None, validator=optional_non_empty_field)
    building: str | None = field(default=None, validator=optional_non_empty_field)
    unit: str | None = field(default=None, validator=optional_non_empty_field)
    floor: int | None = field(default=None,
                              validator=whole_field(LOWEST_FLOOR, HIGHEST_FLOOR, optional=True))
    description: str = field(default="", validator=text_field)

    def __str__(self) -> str:
        parts = [
            f"grid {self.grid}" if self.grid else "",
            f"building {self.building}" if self.building else "",
            f"unit {self.unit}" if self.unit else "",
            f"floor {self.floor}" if self.floor is not None else "",
            self.description,
        ]
        return ", ".join(p for p in parts if p)


@frozen
class Contact:
    name: str = field(validator=non_empty_field)
    phone: str = field(validator=non_empty_field)
    person_id: str | None = field(default=None, validator=optional_non_empty_field)


@frozen
class CareCard:
    """The six numbers a grid hands to each of its households (關愛卡)."""

    emergency_contact: Contact = field(validator=instance_field(Contact))
    grid_leader: Contact = field(validator=instance_field(Contact))
    grid_worker: Contact = field(validator=instance_field(Contact))
    community_office: Contact = field(validator=instance_field(Contact))
    property_management: Contact = field(validator=instance_field(Contact))
    health_station: Contact = field(validator=instance_field(Contact))


@frozen
class UnitSpec:
    """A unit (entrance/stairwell) of a building and how many households live there."""

    unit_id: str = field(validator=non_empty_field)
    households: int = field(default=0, validator=whole_field(0, MAX_HOUSEHOLDS))


@frozen
class Provider:
    """Who fulfils a service order."""

    kind: ProviderKind = field(converter=_provider_kind)
    provider_id: str = field(validator=non_empty_field)
    name: str = field(default="", validator=text_field)
