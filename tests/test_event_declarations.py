"""What an event class declares is all the read side needs: adding an event is one edit.

The metrics, the timelines and the views read milestones, wording and
statuses off the event classes (docs/concepts.md, "How to add an event").
These tests hold the read side to that: nothing it knows about a fact may
come from anywhere but the fact's class.
"""

import subprocess
import sys
import textwrap

import pytest

from resilience.domain.base import CaseMilestone, FactAggregate
from resilience.domain.emergency import Emergency
from resilience.domain.hazard import Hazard
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.patrol import Patrol, PatrolPlan
from resilience.domain.service import ServiceOrder
from resilience.metrics.milestones import MILESTONES

AGGREGATES: tuple[type[FactAggregate], ...] = (Incident, ServiceOrder, Community, ImprovementItem,
                                               Emergency, Hazard, Patrol, PatrolPlan)
CASES = {"incident": Incident, "order": ServiceOrder, "hazard": Hazard}


@pytest.mark.parametrize("subject", sorted(CASES))
def test_every_milestone_a_class_declares_is_one_metrics_accept_with_its_meaning(
        subject: str) -> None:
    """Declared milestones are listed, as plain names, with the meaning the class gives."""
    declared = [m for event in CASES[subject].event_classes()
                for m in (event.milestone, event.last_milestone) if m is not None]
    assert declared, "no milestone declared: the test would prove nothing"
    for milestone in declared:
        assert isinstance(milestone, CaseMilestone)
        assert MILESTONES[subject][milestone.name] == milestone.meaning
    assert all(type(name) is str and meaning for name, meaning in MILESTONES[subject].items())


def test_events_of_aggregates_that_are_not_cases_declare_no_milestone() -> None:
    """Only incidents, orders and hazards are cases: a milestone elsewhere would be measured
    nowhere."""
    for aggregate in (Community, ImprovementItem, Emergency, Patrol, PatrolPlan):
        assert all(e.milestone is None and e.last_milestone is None
                   for e in aggregate.event_classes())


def test_every_event_class_is_worded_by_its_own_describe() -> None:
    """No event class falls back to its bare fact name in a timeline but the correction
    classes' bases (each aggregate's own corrections override them)."""
    for aggregate in AGGREGATES:
        assert aggregate.event_classes(), aggregate
        for event in aggregate.event_classes():
            assert event.describe is not FactAggregate.Event.describe, event.fact_name


def test_a_milestone_declared_on_its_class_alone_is_listed_and_measured() -> None:
    """Declaring ``milestone`` on an event class is the only edit a new milestone needs: a
    fresh interpreter that declares one on ``Rated`` and reads the classes again lists it
    and measures a metric ending at it."""
    script = textwrap.dedent("""
        import importlib
        from datetime import UTC, datetime, timedelta
        from resilience.domain.base import CaseMilestone
        from resilience.domain.service import ServiceOrder
        from resilience.metrics import cases, definitions, milestones
        ServiceOrder.Rated.milestone = CaseMilestone("first_rated", "the earliest rating")
        # Read the classes again, as a process would whose class body declared it.
        importlib.reload(milestones)
        importlib.reload(cases)
        importlib.reload(definitions)
        ORDER_MILESTONES, case_from_doc = milestones.ORDER_MILESTONES, cases.case_from_doc
        MetricDefinition = definitions.MetricDefinition

        assert ORDER_MILESTONES["first_rated"] == "the earliest rating"
        placed = datetime(2022, 2, 15, 7, tzinfo=UTC)
        at = [(placed + timedelta(hours=h)).isoformat() for h in range(4)]
        doc = {"kind": "order", "community": "c", "grid": "3", "zone_type": None,
               "category": "repair", "item": "tap", "expected_by": at[3],
               "facts": [["Placed", at[0], at[0], None, "r", "resident"],
                         ["Completed", at[1], at[1], "fixed", "p", "provider"],
                         ["Rated", at[2], at[2], [5, None], "r", "resident"]],
               "corrections": []}
        metric = MetricDefinition("to_rating", "order", "placed", "first_rated", unit="h")
        print(metric.measure(case_from_doc("o", doc)))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.0"
