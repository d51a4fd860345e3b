"""A community's whole history as one stream of steps in recording order, planned lazily.

Each community draws from a random generator of its own, seeded by the plan's seed and
the community's place in the district, so a community's history is the same whatever
else the district holds, and a stream can be planned twice (once to count its facts,
once to record them) with the same result. The stream plans a story (an incident, an
order, an activity, a roster change) only when the steps already planned have been
taken up to its beginning: at any time it holds the steps of the stories under way,
not the year's.
"""

import heapq
import random
from collections.abc import Iterator
from datetime import timedelta

from attrs import define

from resilience.services.orders import order_id_for
from resilience.simulation.city import plan_change, roster_changes, set_up
from resilience.simulation.incidents import IncidentLife
from resilience.simulation.model import CityPlan, fixed_start
from resilience.simulation.orders import OrderLife, plan_activity
from resilience.simulation.steps import Queue, Step

INCIDENT_HOURS = (2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 8, 8, 7, 6, 4, 3)
"""How often incidents begin in each hour of the day (fewer at night)."""
ORDER_HOURS = (0, 0, 0, 0, 0, 0, 0, 3, 8, 10, 10, 8, 5, 6, 8, 8, 7, 6, 5, 4, 3, 1, 0, 0)
ACTIVITY_HOURS = (0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 8, 4, 0, 0, 6, 8, 6, 2, 0, 4, 3, 0, 0, 0)
HOURS = tuple(range(24))

# The stories, in the order they are planned when they begin at the same moment.
ROSTER, INCIDENT, ORDER, ACTIVITY = range(4)


@define
class Tally:
    """What a community's stream planned, known once it is exhausted."""

    events: int = 0
    incidents: int = 0
    orders: int = 0
    activities: int = 0
    items: int = 0


def seeded(plan: CityPlan, index: int) -> random.Random:
    """The community's own generator (a text seed is hashed the same way everywhere)."""
    return random.Random(f"resilience.simulation/{plan.seed}/{index}")


def _starts(rng: random.Random, count: int, days: int,
            hours: tuple[int, ...]) -> list[float]:
    """``count`` moments of the period, in minutes from its start, at the hours of day
    ``hours`` weighs: sorted."""
    picked = rng.choices(HOURS, hours, k=count)
    return sorted(rng.randrange(days) * 1440 + hour * 60 + rng.random() * 60
                  for hour in picked)


def community_steps(plan: CityPlan, index: int, tally: Tally) -> Iterator[Step]:
    """Every step of the community at ``index``, in recording order; ``tally`` counts
    what was planned."""
    rng = seeded(plan, index)
    queue = Queue()
    c = set_up(plan, index, rng, queue)
    stories = heapq.merge(
        ((minute, ROSTER, kind) for minute, kind in roster_changes(plan, rng)),
        ((minute, INCIDENT, "") for minute in _starts(rng, plan.incidents, plan.days,
                                                       INCIDENT_HOURS)),
        ((minute, ORDER, "") for minute in _starts(rng, plan.orders, plan.days, ORDER_HOURS)),
        ((minute, ACTIVITY, "") for minute in _starts(rng, plan.activities, plan.days,
                                                       ACTIVITY_HOURS)))
    placed = 0  # the residents' orders (the recovery orders are counted by their incidents)
    start = fixed_start(plan)
    for minute, story, kind in stories:
        at = start + timedelta(seconds=round(minute * 60))
        for step in queue.until(at):
            tally.events += step.facts
            yield step
        if story == INCIDENT:
            tally.incidents += 1
            incident = IncidentLife(c, tally.incidents, at, rng, queue)
            incident.plan()
            tally.orders += incident.orders
            tally.items += incident.items
        elif story == ORDER:
            tally.orders += 1
            placed += 1
            OrderLife(c, order_id_for(c.id, f"sim-{placed}"), rng, queue).plan(at)
        elif story == ACTIVITY:
            tally.activities += 1
            plan_activity(c, tally.activities, at, rng, queue)
        else:
            plan_change(c, kind, at, rng, queue)
    for step in queue.until(None):
        tally.events += step.facts
        yield step
