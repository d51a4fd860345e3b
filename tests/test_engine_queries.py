"""The engine's queries run its services' methods, declared on the class (services.delegation)."""

import inspect
import pydoc
from datetime import datetime, timedelta
from unittest.mock import create_autospec
from uuid import UUID, uuid4

import pytest

from resilience import (
    Actor,
    Engine,
    InvalidInputError,
    Location,
    ManualClock,
    NotFoundError,
    Timeline,
)
from resilience.metrics.reports import MetricReport
from resilience.services.improvement_plan import ImprovementPlan
from resilience.services.improvements import Improvements
from resilience.services.reports import Reports
from resilience.services.reviews import Reviews

from conftest import OFFICE, T0, donghu

REPORT_QUERIES = ("metrics", "compare", "service_kpis", "counts", "rates", "scorecard",
                  "league_table", "data_quality")
REVIEW_QUERIES = {"timeline": "timeline", "review": "incident"}
"""Engine query -> the method of ``engine.reviews`` it runs."""


def wrapped(cls: type, name: str) -> object:
    """The service function a query declared on ``cls`` runs (None: not a delegated one)."""
    return getattr(vars(cls).get(name), "__wrapped__", None)


def test_the_engine_declares_each_query_once_on_the_class() -> None:
    """Every delegated query of the engine is a class attribute: those of the docstring."""
    services = (Reports, Reviews, ImprovementPlan)
    runs = {(cls, name): wrapped(cls, name) for cls in (Engine, Improvements)
            for name in vars(cls)}
    declared = {(cls, name) for (cls, name), function in runs.items()
                if function is not None
                and any(function in vars(service).values() for service in services)}
    assert declared == {*((Engine, name) for name in (*REPORT_QUERIES, *REVIEW_QUERIES)),
                        (Improvements, "items"), (Improvements, "item")}


def test_a_query_read_on_the_class_wraps_the_services_function() -> None:
    """``Engine.metrics`` wraps ``Reports.metrics``: dir and help list it with its docstring."""
    for name in REPORT_QUERIES:
        assert wrapped(Engine, name) is getattr(Reports, name)
        assert getattr(Engine, name).__doc__ == getattr(Reports, name).__doc__
    for name, method in REVIEW_QUERIES.items():
        assert wrapped(Engine, name) is getattr(Reviews, method)
    assert wrapped(Improvements, "items") is ImprovementPlan.items
    assert wrapped(Improvements, "item") is ImprovementPlan.item
    assert {*REPORT_QUERIES, *REVIEW_QUERIES} <= set(dir(Engine))
    shown = pydoc.plain(pydoc.render_doc(Engine))
    first_line = (Reports.metrics.__doc__ or "").splitlines()[0]
    assert "metrics(self, metric:" in shown
    assert first_line in shown


def test_a_query_called_on_an_engine_runs_that_engines_own_service() -> None:
    """Each engine's queries run its own reports, reviews and improvement plan."""
    with Engine("memory:") as one, Engine("memory:") as two:
        community = donghu(one)
        assert one.timeline(community) == one.reports.timeline(community)
        with pytest.raises(NotFoundError):
            two.timeline(community)  # two's reports know nothing of one's community
        assert one.improvements.items(community) == []
        with pytest.raises(NotFoundError):
            two.improvements.items(community)


def test_a_query_of_an_engine_seen_through_another_clock_reads_its_own_services() -> None:
    """with_clock gives new reviews and plan (on the new clock) and shares the reports'
    views (its reports read "now", a peacetime report's default moment, off its clock)."""
    with Engine("memory:") as engine:
        clock = ManualClock(T0)
        other = engine.with_clock(clock)
        assert other.reports.views is engine.reports.views
        assert (other.reports.clock, engine.reports.clock) == (clock, engine.clock)
        assert other.reviews is not engine.reviews
        community = donghu(other)
        assert other.timeline(community) == engine.timeline(community)
        fire = other.incidents.report(
            community, incident_type="fire", severity="high", location=Location(grid="3"),
            description="smoke", actor=OFFICE, occurred_at=T0).aggregate_id
        later = T0 + timedelta(hours=1)
        if engine.clock() == later:  # the two clocks must differ for the test to tell
            later += timedelta(hours=1)
        clock.set(later)
        assert other.review(fire).generated_at == later
        assert engine.review(fire).generated_at != later


def test_a_query_has_the_signature_of_the_services_method() -> None:
    """inspect.signature of each engine query is that of the service's bound method."""
    with Engine("memory:") as engine:
        for name in REPORT_QUERIES:
            assert (inspect.signature(getattr(engine, name))
                    == inspect.signature(getattr(engine.reports, name)))
        for name, method in REVIEW_QUERIES.items():
            assert (inspect.signature(getattr(engine, name))
                    == inspect.signature(getattr(engine.reviews, method)))
        plan = ImprovementPlan(engine.reports, engine.clock)
        assert inspect.signature(engine.improvements.items) == inspect.signature(plan.items)
        assert inspect.signature(engine.improvements.item) == inspect.signature(plan.item)


def test_a_mocked_engine_has_each_query_and_checks_its_signature() -> None:
    """create_autospec(Engine, instance=True) has the queries, called without ``self``."""
    engine = create_autospec(Engine, instance=True)
    community = uuid4()
    engine.metrics("turnout", community=community)
    engine.metrics.assert_called_once_with("turnout", community=community)
    engine.review(uuid4(), as_of=T0)
    with pytest.raises(TypeError):
        engine.metrics()
    with pytest.raises(TypeError):
        engine.metrics("turnout", unknown=1)
    with pytest.raises(TypeError):
        engine.review(uuid4(), T0)  # as_of is keyword-only
    improvements = create_autospec(Improvements, instance=True)
    improvements.items(community, open_only=True)
    with pytest.raises(TypeError):
        improvements.item()


def test_a_subclass_method_named_as_a_query_wins() -> None:
    """A subclass's own method replaces the query, as any method, and reaches the
    reports' through super()."""

    class Audited(Engine):
        def __init__(self, url: str) -> None:
            super().__init__(url)
            self.asked: list[UUID] = []

        def timeline(self, aggregate_id: UUID, *, as_of: datetime | None = None,
                     known_at: datetime | None = None,
                     viewer: Actor | None = None) -> Timeline:
            """The reports' timeline, noting the id asked for."""
            self.asked.append(aggregate_id)
            return super().timeline(aggregate_id, as_of=as_of, known_at=known_at,
                                    viewer=viewer)

    engine = Audited("memory:")
    with engine:
        community = donghu(engine)
        assert engine.timeline(community) == engine.reports.timeline(community)
        assert engine.asked == [community]
        assert wrapped(Engine, "metrics") is Reports.metrics


def test_the_type_checker_checks_the_arguments_of_a_query(memory_engine: Engine) -> None:
    """mypy --strict sees each query's signature: the ignores below are needed (unused
    ones fail it), and the results are typed."""
    report: MetricReport = memory_engine.metrics("turnout")
    assert report.definition.name == "turnout"
    with pytest.raises(InvalidInputError):
        memory_engine.metrics(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        memory_engine.improvements.items(open_only="yes")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        memory_engine.review(uuid4(), as_of=T0)
