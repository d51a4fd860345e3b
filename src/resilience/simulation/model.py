"""What a simulation is asked for (:class:`CityPlan`) and what it recorded (:class:`Simulated`).

A plan is a value: the same plan (its seed included) always gives the same history,
fact for fact, in any store. Its sizes are per community, so a district of a thousand
communities is the one-community plan with ``communities=1000``.
"""

from datetime import datetime, timedelta, timezone
from uuid import UUID

from attrs import field, frozen

from resilience.domain.validation import check_moment, whole_field
from resilience.errors import InvalidInputError
from resilience.i18n import _

CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
"""UTC+08:00, the offset Taishan's clocks keep all year (no daylight saving)."""

MAX_DAYS = 18_300
"""Longest period a plan covers: fifty years (a community's history, at a busy
community's pace, can run to 100,000 incidents)."""
MAX_PER_COMMUNITY = 1_000_000
"""Most incidents, orders or activities in one community over the period."""


def _start(_: object, __: object, value: object) -> None:
    moment = check_moment(value, "start")
    # A period must end inside the range of moments the library records, with room for
    # the facts recorded days after the period's last incident.
    check_moment(moment + timedelta(days=MAX_DAYS + 60), "start (plus fifty years)")


@frozen
class CityPlan:
    """A district to simulate: its size, its period and its seed.

    Every count but ``communities`` is per community. Over ``days`` days from ``start``
    each community gets ``incidents`` incidents, ``orders`` service orders and
    ``activities`` activities; each of its ``grids`` grids has ``buildings`` buildings.
    The roster is registered in the weeks before ``start`` and changes during the period.
    ``seed`` picks one history among all those the plan allows: the same plan gives the
    same facts, with the same ids, every time.
    """

    communities: int = field(default=1, validator=whole_field(1, 100_000))
    grids: int = field(default=4, validator=whole_field(1, 100))
    buildings: int = field(default=6, validator=whole_field(1, 200))
    """Per grid."""
    incidents: int = field(default=300, validator=whole_field(0, MAX_PER_COMMUNITY))
    orders: int = field(default=600, validator=whole_field(0, MAX_PER_COMMUNITY))
    activities: int = field(default=50, validator=whole_field(0, MAX_PER_COMMUNITY))
    days: int = field(default=365, validator=whole_field(1, MAX_DAYS))
    start: datetime = field(default=datetime(2022, 1, 1, tzinfo=CHINA_STANDARD_TIME),
                            validator=_start)
    seed: int = field(default=0, validator=whole_field(0, 2**63 - 1))

    @property
    def end(self) -> datetime:
        """The end of the period (exclusive): ``start`` plus ``days``."""
        return self.start + timedelta(days=self.days)


@frozen
class Simulated:
    """What :func:`resilience.simulation.simulate` recorded."""

    communities: tuple[UUID, ...]
    """The district's communities, in the plan's order."""
    events: int
    """Facts recorded (every aggregate's, the communities' own included)."""
    incidents: int
    orders: int
    """Service orders: the residents' and those the desk placed for an incident's recovery."""
    activities: int
    start: datetime
    end: datetime
    """The period simulated: from ``start`` to ``end`` (exclusive). The communities are
    set up in the weeks before ``start``; facts of the period's last days may be
    recorded after ``end`` (late records, ratings)."""


def fixed_start(plan: CityPlan) -> datetime:
    """The plan's start at its own UTC offset, fixed: every moment of the history is given
    at that offset, since adding days to a zone with daylight saving could name a wall
    time that never was."""
    offset = plan.start.utcoffset()
    assert offset is not None  # the start is checked aware
    return plan.start.astimezone(timezone(offset))


def checked_plan(plan: object) -> CityPlan:
    """``plan`` if it is a CityPlan (InvalidInputError otherwise)."""
    if not isinstance(plan, CityPlan):
        raise InvalidInputError(_("plan must be a CityPlan, got {type}").format(
            type=type(plan).__name__))
    return plan
