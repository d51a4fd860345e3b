"""The domain's refusals speak the language current when they are raised: each is worded
in Chinese under ``zh-CN`` (the catalog's translation), and exactly as before in English,
which the rules' own tests match on."""

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from resilience import Engine, Location
from resilience.clock import ManualClock
from resilience.domain.escalation import EscalationPolicy
from resilience.domain.validation import check_instance, check_moment, check_text, check_whole
from resilience.domain.values import Actor, Role
from resilience.errors import PermissionDeniedError, ResilienceError
from resilience.i18n import language
from test_i18n import english_environment  # noqa: F401  (autouse: no language chosen)

from conftest import OFFICE, T0, donghu, minutes

CJK = re.compile("[\u4e00-\u9fff]")
ZHANG = Actor("zhang", Role.GRID_LEADER)


def refusal(command: Callable[[], object]) -> ResilienceError:
    """The error ``command`` raises (it must raise one of the library's)."""
    with pytest.raises(ResilienceError) as raised:
        command()
    return raised.value


def fire(engine: Engine) -> tuple[UUID, UUID]:
    """Donghu (enrolling Zhang) and a fire reported there at T0, acknowledged a minute
    later and resolved at T0 + 20 min."""
    community = donghu(engine, people=[("zhang", "Zhang Chuanlian")])
    incident = engine.incidents.report(
        community, incident_type="fire", severity="high",
        location=Location(building="30", unit="1", floor=-1), description="smoke",
        actor=ZHANG, detected_at=T0, occurred_at=T0 + minutes(1)).aggregate_id
    engine.incidents.acknowledge(incident, actor=OFFICE, occurred_at=T0 + minutes(2))
    engine.incidents.resolve(incident, "fire out", actor=OFFICE, occurred_at=T0 + minutes(20))
    return community, incident


def refusals(engine: Engine) -> dict[str, tuple[Callable[[], object], str]]:
    """Representative invalid commands and values, each with its English refusal."""
    community, incident = fire(engine)
    order = engine.orders.place(community, household_id="hh-30-1", area_id="30",
                                category="meals", item="meal_delivery", actor=OFFICE,
                                occurred_at=T0).aggregate_id
    naive = datetime(2022, 2, 15, 15, 0)
    return {
        "text": (lambda: check_text("a\x07b", "description"),
                 "description contains a control character (U+0007) at position 1; text may "
                 "hold no control character but newline and tab, and must be valid Unicode"),
        "whole": (lambda: check_whole(400, "floor", -20, 300),
                  "floor must be a whole number from -20 to 300, got int 400"),
        "instance": (lambda: check_instance("zhang", "actor", Actor),
                     "actor must be an Actor, got str 'zhang'"),
        "moment": (lambda: check_moment(naive, "occurred_at"),
                   "occurred_at must be timezone-aware (got naive 2022-02-15T15:00:00); "
                   "attach a tzinfo, e.g. datetime(..., tzinfo=ZoneInfo('Asia/Shanghai'))"),
        "offset": (lambda: check_moment(T0.replace(tzinfo=timezone(timedelta(
                       hours=8, microseconds=5))), "occurred_at"),
                   "occurred_at's UTC offset must be whole seconds, got 8:00:00.000005"),
        "acknowledged": (lambda: engine.incidents.acknowledge(
                             incident, actor=OFFICE, occurred_at=T0 + minutes(30)),
                         "the incident was already acknowledged"),
        "resolved": (lambda: engine.incidents.resolve(
                         incident, "again", actor=OFFICE, occurred_at=T0 + minutes(30)),
                     "the incident was already resolved: reopen it first"),
        "before detection": (lambda: engine.incidents.add_note(
                                 incident, "early", actor=OFFICE,
                                 occurred_at=T0 - minutes(5)),
                             "nothing can happen before detection (2022-02-15T15:00:00+08:00)"
                             "; got 2022-02-15T14:55:00+08:00"),
        "order status": (lambda: engine.orders.start(order, actor=OFFICE,
                                                     occurred_at=T0 + minutes(5)),
                         "a placed order cannot be started"),
        "roster": (lambda: engine.communities.enrol(community, "zhang", "Zhang",
                                                    actor=OFFICE),
                   "zhang is already on Donghu's roster"),
        "policy": (lambda: EscalationPolicy.from_json('{"deadlines": [{"name": "x"}]}'),
                   "escalation policy: deadline 1 (x): a deadline lacks expect, levels, "
                   "subject"),
    }


CASES = ("text", "whole", "instance", "moment", "offset", "acknowledged", "resolved",
         "before detection", "order status", "roster", "policy")


@pytest.mark.parametrize("case", CASES)
def test_a_refusal_is_worded_in_chinese_under_zh_cn_and_as_before_in_english(
        memory_engine: Engine, case: str) -> None:
    command, english = refusals(memory_engine)[case]
    assert str(refusal(command)) == english
    with language("zh-CN"):
        chinese = refusal(command)
    assert type(chinese) is type(refusal(command))
    assert str(chinese) != english
    assert CJK.search(str(chinese)), str(chinese)
    assert str(refusal(command)) == english  # the language was the block's alone


def test_values_in_a_chinese_refusal_are_shown_as_given(memory_engine: Engine) -> None:
    """Ids, names, moments and what was typed stay as they are inside the Chinese."""
    cases = refusals(memory_engine)
    with language("zh-CN"):
        roster = str(refusal(cases["roster"][0]))
        early = str(refusal(cases["before detection"][0]))
    for value in ("zhang", "Donghu"):
        assert value in roster
    for moment in ("2022-02-15T15:00:00+08:00", "2022-02-15T14:55:00+08:00"):
        assert moment in early


def test_a_policy_refusal_is_one_chinese_sentence_under_zh_cn(clock: ManualClock) -> None:
    """Who, in which role, where, when and who may instead, and why an override is
    refused: worded in Chinese, with the ids, names, moments and commands as given."""
    with Engine("memory:", clock=clock) as engine:
        community = engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                                name="Donghu", actor=OFFICE).aggregate_id
        engine.communities.add_grid(community, "3", actor=OFFICE)
        wu = Actor("wu", Role.GRID_LEADER)
        overriding = Actor("wu", Role.GRID_LEADER, override="urgent")
        english = ("wu is not grid leader in Donghu at 2022-02-15T15:00:00+08:00: "
                   "communities.add_grid needs community_staff")
        override = ("; the override is refused: wu is on no role of Donghu's roster then, "
                    "and only a person on the roster may override")
        for actor, expected in ((wu, english), (overriding, english + override)):
            def add(actor: Actor = actor) -> object:
                return engine.communities.add_grid(community, "4", actor=actor)
            assert str(refusal(add)) == expected
            with language("zh-CN"):
                chinese = str(refusal(add))
            assert isinstance(refusal(add), PermissionDeniedError)
            assert CJK.search(chinese), chinese
            for value in ("wu", "Donghu", "2022-02-15T15:00:00+08:00", "communities.add_grid",
                          "社区工作人员"):  # who may instead: the role in words
                assert value in chinese
            assert "community_staff" not in chinese
            assert "is not" not in chinese


def test_a_refused_command_records_nothing_in_any_language(memory_engine: Engine) -> None:
    """A refusal under zh-CN leaves the record as it was, as in English."""
    _community, incident = fire(memory_engine)
    before = len(memory_engine.events(incident))
    with language("zh-CN"), pytest.raises(ResilienceError):
        memory_engine.incidents.resolve(incident, "again", actor=OFFICE,
                                        occurred_at=T0 + minutes(30))
    assert len(memory_engine.events(incident)) == before
