"""Every recorded fact's phrase is read back by a pattern of resilience.review.phrases.

A review and ``resilience timeline`` say each fact again in the reader's language by
reading its English phrase (``describe()``, what the timeline keeps) with a pattern; a
phrase no pattern reads is shown as recorded, in English. So for any fact of every event
class of every aggregate a timeline shows (the event classes are walked from the
aggregates, and drawn with the mapper round-trip tests' strategies: a class added later
is covered without touching this file), the phrase is read, in English it reads back
exactly as recorded, and in Chinese none of the English words of the pattern's fixed text
is left.
"""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience.domain.base import FactAggregate
from resilience.domain.emergency import Emergency
from resilience.domain.hazard import Hazard
from resilience.domain.improvement import ImprovementItem
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.patrol import Patrol, PatrolPlan
from resilience.domain.service import ServiceOrder
from resilience.i18n import language
from resilience.review.phrases import named, phrase, reading
from resilience.review.sight import HIDDEN
from test_mapper import AGGREGATES, EVENT_CLASSES, event_strategy, topic_of

SHOWN: tuple[type[FactAggregate], ...] = (Community, Incident, ServiceOrder, ImprovementItem,
                                          Emergency, Hazard, Patrol, PatrolPlan)
"""The aggregates whose facts a timeline shows (resilience.timeline, ``resilience
timeline``); not a community's reference books, which only count cases."""

SHOWN_AS_WRITTEN: frozenset[type[FactAggregate.Event]] = frozenset()
"""Facts whose words are shown as written, in every language: none today. A class put
here needs a comment saying why its words cannot be read back."""

FACTS = [cls for cls in EVENT_CLASSES
         if any(issubclass(cls, aggregate.Event) for aggregate in SHOWN)
         and cls not in SHOWN_AS_WRITTEN]

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_WORD = re.compile(r"[A-Za-z]+")


def _fixed_words(message: str) -> set[str]:
    """The English words of a message's fixed text (its placeholders left out)."""
    return set(_WORD.findall(_PLACEHOLDER.sub(" ", message)))


def _said(word: str, text: str) -> bool:
    """Is ``word`` in ``text`` as a word of its own (not inside a longer Latin word)?"""
    return re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text) is not None


def test_the_walk_covers_every_aggregate_a_timeline_shows() -> None:
    """Communities, incidents, service orders, improvement items, emergencies, hazards,
    patrols and patrol plans: the mapper tests walk them all, and each has its facts
    here."""
    assert set(SHOWN) <= set(AGGREGATES)
    assert not SHOWN_AS_WRITTEN - set(EVENT_CLASSES)
    fewest: dict[type[FactAggregate], int] = {PatrolPlan: 4}  # adopted, revised, corrections
    for aggregate in SHOWN:
        assert sum(issubclass(cls, aggregate.Event) for cls in FACTS) >= fewest.get(
            aggregate, 6), aggregate


@pytest.mark.parametrize("event_class", FACTS, ids=topic_of)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_fact_is_read_and_said_again(event_class: type[FactAggregate.Event],
                                           data: st.DataObject) -> None:
    """The phrase is read; in English it reads back as recorded; in Chinese no word of
    the pattern's fixed text is left but one a recorded value holds."""
    event = data.draw(event_strategy(event_class))
    recorded = event.describe()
    action = event_class.fact_name
    read = reading(action, recorded)
    assert read is not None, f"{action}: no pattern reads {recorded!r}"
    message, parts = read
    with language("en"):
        assert phrase(action, recorded, {}) == recorded
    with language("zh-CN"):
        said = phrase(action, recorded, {})
    left = [word for word in _fixed_words(message) if _said(word, said)
            and not any(_said(word, value) for value in parts.values())]
    assert not left, f"{action}: {said!r} still says {left}"


def test_a_hidden_value_is_said_in_the_readers_language_where_it_is_shown() -> None:
    """The placeholder stays "[hidden]" in what is kept; shown, it is translated."""
    recorded = f"{HIDDEN} granted consent"
    with language("en"):
        assert phrase("ConsentGranted", recorded, {}) == recorded
    with language("zh-CN"):
        said = phrase("ConsentGranted", recorded, {})
    assert HIDDEN not in said
    assert "hidden" not in said
    assert HIDDEN == "[hidden]"


def test_people_are_named_and_vocabulary_said_in_every_aggregates_facts() -> None:
    """A role assignment, a call-up and an escalation name the people they hold and say
    their roles and deadlines in the reader's language."""
    people = {"p-1": "Zhang Chuanlian", "p-2": "Li Ming"}
    assert phrase("RoleAssigned", "p-1 is grid_leader of 3", people) == (
        "Zhang Chuanlian is grid_leader of 3")
    called = "mobilisation called (grid leader, volunteer): p-1 (grid leader), p-2 (volunteer)"
    assert phrase("MobilisationCalled", called, people) == (
        "mobilisation called (grid leader, volunteer): Zhang Chuanlian (grid leader), "
        "Li Ming (volunteer)")
    told = "escalated: on_scene not met (level 0); told grid_leader of 3 p-1"
    assert phrase("Escalated", told, people) == (
        "escalated: on_scene not met (level 0); told grid_leader of 3 Zhang Chuanlian")
    with language("zh-CN"):
        assert phrase("RoleAssigned", "p-1 is grid_leader of 3", people) == (
            "Zhang Chuanlian担任网格长（3）")
        assert phrase("MobilisationCalled", called, people) == (
            "发出动员（网格长、志愿者）：Zhang Chuanlian（网格长）、Li Ming（志愿者）")
        assert phrase("Escalated", "escalated: on_scene not met (level 0); told nobody",
                      people) == "升级上报：到场未按时达成（第0级）；已通知：无人"
    # A phrase no pattern reads is shown as recorded, ids named; the facts read since they
    # were (all but an incident's own) still name every id in their words, in English as
    # before they were read.
    assert phrase("Unheard", "p-1 did something", people) == named("p-1 did something", people)
    for action, recorded in (("Dispatched", "dispatched to p-2 (grid_worker)"),
                             ("Rejected", "rejected: p-1 asked twice"),
                             ("Planned", "planned for review incident/x: drill with p-2; "
                                         "owner p-1, due 2022-03-01T00:00:00+08:00, grid 3")):
        assert phrase(action, recorded, people) == named(recorded, people) != recorded


def test_a_hazards_and_a_patrols_words_are_said_in_the_readers_language() -> None:
    """A hazard's category, severity, place and assignee kind, and a patrol plan's
    frequencies, are said in Chinese; people are named, what was written stays."""
    people = {"p-1": "Zhang Chuanlian"}
    found = "blocked exit hazard (high) found at grid 3, building 30, unit 1: bikes (photo p7)"
    assigned = "assigned to p-1 (property company), due 2022-02-20T00:00:00+08:00"
    plan = "patrol plan of grid 3 adopted: all: weekly; storage: monthly storage_room of 30, 31"
    assert phrase("Assigned", assigned, people) == (
        "assigned to Zhang Chuanlian (property company), due 2022-02-20T00:00:00+08:00")
    with language("zh-CN"):
        assert phrase("Found", found, people) == (
            "在第3网格、30号楼、1单元发现安全出口堵塞隐患（高）：bikes（照片p7）")
        assert phrase("Assigned", assigned, people) == (
            "交办给Zhang Chuanlian（物业公司），期限2022-02-20T00:00:00+08:00")
        assert phrase("Closed", "closed without verification: moved out", people) == (
            "未经验收结案：moved out")
        assert phrase("Closed", "closed (false_alarm)", people) == "结案（误报）"
        assert phrase("Adopted", plan, people) == (
            "第3网格巡查计划通过：all：每周；storage：每月检查storage_room，范围30, 31")
