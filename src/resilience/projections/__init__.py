"""The read side: projections folded into views beside the events, and their reader."""

from resilience.projections.folds import PROJECTIONS, Cases, Timelines
from resilience.projections.plans import Plans
from resilience.projections.quarantine import QuarantinedEvent
from resilience.projections.runner import VERSION, Follower, Views, ViewsTimeoutError

__all__ = ["PROJECTIONS", "VERSION", "Cases", "Follower", "Plans", "QuarantinedEvent",
           "Timelines", "Views", "ViewsTimeoutError"]
