"""The read side: projections folded into views beside the events, and their reader."""

from resilience.projections.folds import PROJECTIONS, Cases, Timelines
from resilience.projections.runner import SCHEMA, Follower, Views, ViewsTimeoutError

__all__ = ["PROJECTIONS", "SCHEMA", "Cases", "Follower", "Timelines", "Views",
           "ViewsTimeoutError"]
