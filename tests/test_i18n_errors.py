"""Error messages outside the domain, the command line and the review speak the language
chosen when they are raised, with English unchanged when none is; what is stored (the
quarantine's reasons, a view's text) stays English whatever the process speaks.

The Chinese side holds once the helpers' PO files are merged into the catalog."""

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

from resilience import Engine, Location, ManualClock
from resilience.errors import ResilienceError
from resilience.i18n import language
from resilience.listing import resolve
from resilience.metrics import MetricDefinition, Period
from resilience.metrics.definitions import builtin
from resilience.open311 import validate_request
from resilience.scenario import parse_scenario

from conftest import OFFICE

CJK = re.compile(r"[\u4e00-\u9fff]")


def _raised(call: Callable[[], Any]) -> str:
    with pytest.raises(ResilienceError) as caught:
        call()
    return str(caught.value)


def _in_both(call: Callable[[], Any]) -> tuple[str, str]:
    """The message ``call`` raises in English, then under zh-CN (and English after)."""
    english = _raised(call)
    with language("zh-CN"):
        chinese = _raised(call)
    assert _raised(call) == english  # the block chose the language for itself only
    return english, chinese


def _chinese(english: str, chinese: str, *values: str) -> None:
    assert CJK.search(chinese), chinese
    assert chinese != english
    for value in values:  # what people typed, ids and names: never translated
        assert value in chinese


def test_an_unknown_built_in_metric() -> None:
    english, chinese = _in_both(lambda: builtin("nope"))
    assert english.startswith("no built-in metric 'nope'; built-ins: ")
    _chinese(english, chinese, "'nope'")


def test_a_metric_definition_that_does_not_fit() -> None:
    english, chinese = _in_both(lambda: MetricDefinition.from_dict(
        {"name": "m", "subject": "incident", "start": "detected", "end": "nowhere"}))
    assert english.startswith("not a metric definition: metric m: end 'nowhere' is not a "
                              "milestone of an incident; known: ")
    _chinese(english, chinese, "'nowhere'")


def test_a_period_ending_before_it_starts() -> None:
    start = datetime(2022, 3, 1, tzinfo=UTC)
    english, chinese = _in_both(lambda: Period(start, start))
    assert english == "a period must end after it starts"
    _chinese(english, chinese)


def test_a_scenario_file_that_is_not_json() -> None:
    english, chinese = _in_both(lambda: parse_scenario('{"format": "resilience-scenario",\n'
                                                       '  "version": 1,, }'))
    assert english.startswith("line 2: not valid JSON: expected a key (a string), found ")
    _chinese(english, chinese, "line 2")  # ScenarioError's own prefix is resilience.errors'


def test_a_scenario_file_with_a_key_twice() -> None:
    text = '{"format": "x", "format": "y", "actions": []}'
    english, chinese = _in_both(lambda: parse_scenario(text))
    assert "the key 'format' appears twice" in english
    _chinese(english, chinese, "'format'")


def test_an_open311_request_missing_a_field() -> None:
    english, chinese = _in_both(lambda: validate_request({"service_code": "x"}))
    assert english == "a GeoReport v2 request needs service_request_id"
    _chinese(english, chinese, "service_request_id")


def test_an_open311_request_with_a_time_without_offset() -> None:
    request = {"service_request_id": "r-1", "status": "open", "service_code": "c",
               "requested_datetime": "2022-03-01T09:30:00"}
    english, chinese = _in_both(lambda: validate_request(request))
    assert english == ("requested_datetime must carry its offset (Z or +08:00), got "
                       "'2022-03-01T09:30:00'")
    _chinese(english, chinese, "'2022-03-01T09:30:00'", "requested_datetime")


def test_an_unknown_store_url() -> None:
    english, chinese = _in_both(lambda: Engine("mongodb://nowhere/db"))
    assert english.startswith("unknown store 'mongodb://nowhere/db': use memory:")
    _chinese(english, chinese, "'mongodb://nowhere/db'")


def test_a_missing_id_on_resolve(memory_engine: Engine) -> None:
    missing = uuid.uuid4()
    english, chinese = _in_both(lambda: memory_engine.incidents.get(missing))
    assert english == f"no incident with id {missing}"
    _chinese(english, chinese, str(missing))


def test_an_id_that_names_no_record(memory_engine: Engine) -> None:
    english, chinese = _in_both(lambda: resolve(memory_engine, "no-such-case"))
    assert english.startswith(
        "no incident or order or improvement item or hazard or patrol is 'no-such-case' "
        "(an id, ")
    _chinese(english, chinese, "'no-such-case'")


def test_a_missing_community_in_a_report(memory_engine: Engine) -> None:
    missing = uuid.uuid4()
    english, chinese = _in_both(lambda: memory_engine.scorecard(missing))
    assert english == f"no community {missing}"
    _chinese(english, chinese, str(missing))


def test_the_quarantine_stores_its_reasons_in_english(
        memory_engine: Engine, clock: ManualClock) -> None:
    """An event of a class this version lacks is quarantined with the same English reason
    whether the views were folded under zh-CN or in English."""
    engine = memory_engine
    community = engine.communities.register(district="Taishan", subdistrict="Daimiao",
                                            name="Donghu", actor=OFFICE).aggregate_id
    engine.communities.add_grid(community, "3", "Grid 3", actor=OFFICE)
    incident = engine.incidents.detect(
        community, incident_type="fire", severity="high", location=Location(grid="3"),
        description="smoke", actor=OFFICE).aggregate_id
    topic = "resilience.incident:Extinguished"
    stored = engine.app.recorder.select_events(incident)[0]
    engine.app.recorder.insert_events([StoredEvent(incident, 2, topic, stored.state)])
    with language("zh-CN"):
        engine.views.rebuild()
        in_chinese = engine.views.quarantined()
        documents = engine.views.documents("quarantine")
    engine.views.rebuild()
    assert engine.views.quarantined() == in_chinese
    assert engine.views.documents("quarantine") == documents
    (entry,) = in_chinese
    assert "no such class in this version of resilience" in entry.error
    assert not CJK.search(entry.error)
