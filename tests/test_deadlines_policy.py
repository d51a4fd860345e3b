"""Escalation policies as values: built strictly, read back equal from JSON, refused when
wrong; the built-in one follows the metrics' targets."""

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience import IncidentType, InvalidInputError, Role, Severity
from resilience.domain.escalation import (
    BODIES,
    RECIPIENT_ROLES,
    RECURRING,
    Deadline,
    EscalationPolicy,
    Level,
    Recipient,
    milestone_classes,
)
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.metrics.definitions import builtin
from resilience.metrics.milestones import STARTED_AGAIN
from resilience.metrics.rates import DEFAULT_RESPONSE_LIMIT
from resilience.services.deadlines import DEFAULT_ESCALATION

SECONDS = st.integers(0, 10 * 24 * 3600).map(lambda s: timedelta(seconds=s))
RECIPIENTS = st.one_of(st.sampled_from(RECIPIENT_ROLES).map(lambda r: Recipient(role=r)),
                       st.sampled_from(BODIES).map(lambda b: Recipient(body=b)))  # type: ignore[arg-type]
NAMES = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="/"),
                min_size=1, max_size=20).filter(str.strip)


@st.composite
def levels(draw: st.DrawFn) -> tuple[Level, ...]:
    gaps = draw(st.lists(st.integers(1, 3 * 24 * 3600), max_size=3))
    afters = [0]
    for gap in gaps:
        afters.append(afters[-1] + gap)
    return tuple(Level(timedelta(seconds=a), tuple(draw(st.lists(RECIPIENTS, min_size=1,
                                                                 max_size=3, unique=True))))
                 for a in afters)


@st.composite
def deadlines(draw: st.DrawFn) -> Deadline:
    subject = draw(st.sampled_from(["incident", "order"]))
    expect = draw(st.lists(st.sampled_from(sorted(milestone_classes(subject))), min_size=1,
                           max_size=3, unique=True))
    from_expected = subject == "order" and draw(st.booleans())
    common: dict[str, Any] = {
        "within": None if from_expected else draw(SECONDS), "from_expected": from_expected,
        "levels": draw(levels())}
    if subject == "incident":
        common["types"] = draw(st.lists(st.sampled_from(list(IncidentType)), unique=True,
                                        max_size=2))
        common["severities"] = draw(st.lists(st.sampled_from(list(Severity)), unique=True,
                                             max_size=2))
    else:
        common["categories"] = draw(st.lists(NAMES, unique=True, max_size=2))
    return Deadline(draw(NAMES), subject, expect, **common)  # type: ignore[arg-type]


def unique_names(items: list[Deadline]) -> bool:
    return len({d.name for d in items}) == len(items)


POLICIES = st.builds(
    EscalationPolicy,
    st.lists(deadlines(), max_size=4).filter(unique_names),
    st.none() | st.lists(deadlines(), max_size=3).filter(unique_names))


@given(POLICIES)
@settings(max_examples=150, deadline=None)
def test_a_policy_reads_back_equal_from_its_json(policy: EscalationPolicy) -> None:
    """to_dict, JSON text, from_json: the same policy, field for field."""
    text = json.dumps(policy.to_dict())
    assert EscalationPolicy.from_json(text) == policy
    assert EscalationPolicy.from_dict(json.loads(text)).to_dict() == policy.to_dict()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False)
    | st.sampled_from(["", "x", "incident", "order", "acknowledged", "grid_leader",
                       "subdistrict", "high", "fire"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "subject", "expect", "within_minutes", "from_expected",
                         "levels", "after_minutes", "notify", "role", "body", "types",
                         "severities", "categories", "deadlines", "emergency", "other"]),
        inner, max_size=5),
    max_leaves=20)


def mutated(data: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A policy's data as it is, or with one of its keys replaced by any JSON."""
    return st.just(data) | st.builds(lambda key, value: {**data, key: value},
                                     st.sampled_from(["deadlines", "emergency", "x"]), JSON)


@given(st.one_of(JSON, POLICIES.map(EscalationPolicy.to_dict).flatmap(mutated)))
@settings(max_examples=300, deadline=None)
def test_any_json_is_a_policy_or_refused_with_a_documented_error(data: Any) -> None:
    """Whatever the JSON, reading it gives a policy that reads back equal, or an
    InvalidInputError: never another exception, never a policy that means something else."""
    try:
        policy = EscalationPolicy.from_dict(data)
    except InvalidInputError as refusal:
        refused = str(refusal)
    else:
        assert EscalationPolicy.from_dict(policy.to_dict()) == policy
        return
    assert refused.startswith("escalation policy: ")


MINIMAL = {"name": "ack", "subject": "incident", "expect": ["acknowledged"],
           "within_minutes": 2, "levels": [{"after_minutes": 0,
                                            "notify": [{"role": "grid_leader"}]}]}


@pytest.mark.parametrize(("change", "message"), [
    ({"expect": ["accepted"]}, "expect must name incident milestones"),
    ({"expect": ["detected"]}, "expect must name incident milestones"),
    ({"expect": []}, "at least one milestone"),
    ({"expect": ["acknowledged", "acknowledged"]}, "each once"),
    ({"within_minutes": None}, "exactly one of them"),
    ({"within_minutes": -1}, "number of minutes from 0"),
    ({"within_minutes": "2"}, "number of minutes from 0"),
    ({"within_minutes": True}, "number of minutes from 0"),
    ({"within_minutes": 0.001}, "whole seconds"),
    ({"from_expected": True}, "exactly one of them"),
    ({"from_expected": "yes"}, "true or false"),
    ({"subject": "emergency"}, "subject must be incident or order"),
    ({"name": "a/b"}, "no '/'"),
    ({"name": " "}, "non-empty string"),
    ({"name": 3}, "name must be text"),
    ({"categories": ["home"]}, "categories are an order's"),
    ({"types": ["volcano"]}, "types"),
    ({"severities": ["high", "high"]}, "repeats"),
    ({"levels": []}, "at least one level"),
    ({"levels": [{"after_minutes": 1, "notify": [{"role": "grid_leader"}]}]}, "after must be 0"),
    ({"levels": [{"after_minutes": 0, "notify": [{"role": "grid_leader"}]},
                 {"after_minutes": 0, "notify": [{"role": "volunteer"}]}]}, "after the one"),
    ({"levels": [{"after_minutes": 0, "notify": []}]}, "at least one recipient"),
    ({"levels": [{"after_minutes": 0, "notify": [{"role": "resident"}]}]}, "recipient's role"),
    ({"levels": [{"after_minutes": 0, "notify": [{"body": "city"}]}]}, "recipient's body"),
    ({"levels": [{"after_minutes": 0, "notify": [{"role": "volunteer", "body": "district"}]}]},
     "exactly one"),
    ({"levels": [{"after_minutes": 0, "notify": [{"person": "zhang"}]}]}, "unknown key"),
    ({"levels": [{"after_minutes": 0}]}, "lacks notify"),
    ({"levels": [{"after_minutes": 0, "notify": [{"role": "volunteer"}] * 2}]}, "twice"),
    ({"other": 1}, "unknown key"),
])
def test_a_wrong_deadline_is_refused_naming_it(change: dict[str, Any], message: str) -> None:
    """Each mistake is an InvalidInputError naming the deadline and what is wrong."""
    data = {"deadlines": [{**MINIMAL, **change}]}
    with pytest.raises(InvalidInputError, match=message) as refused:
        EscalationPolicy.from_dict(data)
    assert str(refused.value).startswith("escalation policy: deadline 1")


@pytest.mark.parametrize(("data", "message"), [
    ([], "is a JSON object"),
    ({}, "lacks deadlines"),
    ({"deadlines": {}}, "deadlines must be a list"),
    ({"deadlines": [MINIMAL, MINIMAL]}, "ack repeats"),
    ({"deadlines": [], "emergency": [MINIMAL, MINIMAL]}, "emergency: deadline names must"),
    ({"deadlines": [], "peacetime": []}, "unknown key"),
    ({"deadlines": [{**MINIMAL, "subject": "order"}]}, "expect must name order milestones"),
    ({"deadlines": [{**MINIMAL, "subject": "incident", "within_minutes": None,
                     "from_expected": True}]}, "only an order has an expected time"),
])
def test_a_wrong_policy_is_refused(data: Any, message: str) -> None:
    """The policy's own shape, and its deadlines together: refused with what is wrong."""
    with pytest.raises(InvalidInputError, match=message):
        EscalationPolicy.from_dict(data)


def test_json_text_is_read_strictly() -> None:
    """Not JSON, a repeated key, NaN: refused."""
    for text in ("{", '{"deadlines": [], "deadlines": []}', '{"deadlines": NaN}'):
        with pytest.raises(InvalidInputError, match="escalation policy"):
            EscalationPolicy.from_json(text)


def test_values_built_in_python_are_checked_as_json_is() -> None:
    """A level with microseconds, a deadline whose last level passes the longest duration,
    a policy holding something else than deadlines: refused."""
    level = Level(timedelta(0), [Recipient(Role.VOLUNTEER)])
    assert level.notify == (Recipient(Role.VOLUNTEER),)
    with pytest.raises(InvalidInputError, match="whole number of seconds"):
        Level(timedelta(microseconds=5), [Recipient(Role.VOLUNTEER)])
    with pytest.raises(InvalidInputError, match="36,525 days"):
        Deadline("x", "incident", ["contained"], within=timedelta(days=36_000),
                 levels=[level, Level(timedelta(days=600), [Recipient(Role.VOLUNTEER)])])
    with pytest.raises(InvalidInputError):
        EscalationPolicy(["deadline"])
    with pytest.raises(InvalidInputError, match="exactly one"):
        Recipient()


def test_the_built_in_policy_follows_the_metrics_targets() -> None:
    """On scene within turnout + travel, contained within the 15-minute target, orders
    answered within the response limit; the emergency set halves each ``within`` and tells
    community staff at level 0 too."""
    peace = {d.name: d for d in DEFAULT_ESCALATION.deadlines}
    target = builtin("turnout").target, builtin("travel").target
    assert peace["on_scene"].within == timedelta(seconds=sum(t or 0 for t in target))
    assert peace["contained"].within == timedelta(minutes=builtin(
        "detection_to_contained").target or 0)
    assert peace["response"].within == DEFAULT_RESPONSE_LIMIT
    assert peace["acknowledged"].within == timedelta(minutes=2)
    assert peace["completion"].from_expected
    assert DEFAULT_ESCALATION.emergency is not None
    for crisis in DEFAULT_ESCALATION.emergency:
        calm = peace[crisis.name]
        assert crisis.within == (None if calm.within is None else calm.within / 2)
        assert Recipient(Role.COMMUNITY_STAFF) in crisis.levels[0].notify
        assert crisis.levels[1:] == calm.levels[1:]
    assert EscalationPolicy.from_dict(DEFAULT_ESCALATION.to_dict()) == DEFAULT_ESCALATION


def test_the_facts_that_recur_per_cycle_are_those_the_metrics_start_again() -> None:
    """A deadline recurs per cycle on exactly the facts the metrics' cycles start again."""
    assert {c.fact_name for c in RECURRING if issubclass(c, Incident.Event)} == STARTED_AGAIN[
        "incident"]
    assert {c.fact_name for c in RECURRING if issubclass(c, ServiceOrder.Event)} == \
        STARTED_AGAIN["order"]
    on_scene = {d.name: d for d in DEFAULT_ESCALATION.deadlines}
    assert [name for name, d in on_scene.items() if d.recurring] == ["on_scene", "contained"]


def test_an_emergency_list_replaces_peacetime_subject_by_subject() -> None:
    """An emergency list naming only incident deadlines leaves orders their peacetime
    deadlines: declaring an emergency never leaves a case with none."""
    incidents_only = tuple(d for d in DEFAULT_ESCALATION.for_case(emergency=True)
                           if d.subject == "incident")
    policy = EscalationPolicy(DEFAULT_ESCALATION.deadlines, incidents_only)
    in_emergency = policy.for_case(emergency=True)
    assert [d for d in in_emergency if d.subject == "incident"] == list(incidents_only)
    assert ([d for d in in_emergency if d.subject == "order"]
            == [d for d in DEFAULT_ESCALATION.deadlines if d.subject == "order"])
    assert EscalationPolicy(DEFAULT_ESCALATION.deadlines, ()).for_case(
        emergency=True) == DEFAULT_ESCALATION.deadlines
