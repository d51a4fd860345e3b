"""Scenario files: the shipped Donghu fire replays on every store, errors name the entry, CLI."""

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from attrs import evolve

from resilience import Engine, IncidentStatus, NotFoundError, ScenarioError, community_id
from resilience.cli import main
from resilience.domain.incident import Incident
from resilience.scenario import MAX_NAME, load_scenario, parse_scenario, replay, replay_file
from resilience.scenarios import DONGHU_FIRE

from conftest import SHANGHAI, T0

TARGET = timedelta(minutes=15)


def at(hour: int, minute: int) -> datetime:
    """15:00 and friends on the day of the Donghu fire, Shanghai time."""
    return datetime(2022, 2, 15, hour, minute, tzinfo=SHANGHAI)


def max_id(engine: Engine) -> int | None:
    return engine.app.recorder.max_notification_id()


# The shipped scenario ---------------------------------------------------------------------


def test_donghu_fire_is_detected_at_15_00_and_contained_within_15_minutes(
    engine: Engine,
) -> None:
    """The shipped scenario replays: detected 15:00 Shanghai, contained (corrected) at 15:12."""
    result = replay_file(engine, DONGHU_FIRE)
    incident_id = result.incidents["donghu-fire"]
    incident = engine.incidents.get(incident_id)
    assert incident.detected_at == T0
    assert incident.detected_at.utcoffset() == timedelta(hours=8)
    assert incident.status is IncidentStatus.CLOSED

    timeline = engine.timeline(incident_id)
    assert timeline.start == at(15, 0)
    contained = timeline.first("Contained")
    assert contained is not None
    assert contained.occurred_at == at(15, 12)
    assert contained.occurred_at.utcoffset() == timedelta(hours=8)
    elapsed = timeline.elapsed_until("Contained")
    assert elapsed == timedelta(minutes=12)
    assert elapsed <= TARGET
    assert contained.original_occurred_at == at(15, 14)
    assert contained.is_corrected


def test_donghu_timeline_keeps_the_corrected_time_and_the_late_records(engine: Engine) -> None:
    """The timeline shows the 15:14 -> 15:12 correction, and the consent recorded >= 15 min late."""
    result = replay_file(engine, DONGHU_FIRE)
    incident_id = result.incidents["donghu-fire"]
    timeline = engine.timeline(incident_id)

    corrected = [e for e in timeline.entries if e.is_corrected]
    assert [(e.action, e.original_occurred_at, e.occurred_at) for e in corrected] == [
        ("Contained", at(15, 14), at(15, 12))
    ]
    (correction_version,) = corrected[0].corrected_by
    correction = timeline.entries[
        [e.version for e in timeline.entries].index(correction_version)
    ]
    assert correction.action == "TimeCorrected"

    late = {e.action: e for e in timeline.entries
            if e.recorded_at - e.occurred_at >= TARGET}
    assert "ConsentGranted" in late
    consent = late["ConsentGranted"]
    assert consent.occurred_at == at(15, 7)
    assert consent.recorded_at == at(15, 25)
    assert consent.record_delay == timedelta(minutes=18)
    assert "ForcedEntryMade" in late

    # The same two times on the stored facts themselves.
    granted = [e for e in engine.events(incident_id) if isinstance(e, Incident.ConsentGranted)]
    assert len(granted) == 1
    assert granted[0].timestamp - granted[0].occurred_at >= TARGET
    assert granted[0].timestamp.utcoffset() is not None


def test_replaying_the_same_file_twice_records_nothing_new(engine: Engine) -> None:
    """A second replay of the same file returns equal receipts and leaves the store unchanged."""
    first = replay_file(engine, DONGHU_FIRE)
    incident_id = first.incidents["donghu-fire"]
    after_first = max_id(engine)
    events = len(engine.events(incident_id))
    community_events = len(engine.events(first.community_id))
    assert after_first is not None
    assert after_first > 0

    second = replay_file(engine, DONGHU_FIRE)
    assert second.receipts == first.receipts
    assert second.incidents == first.incidents
    assert second.community_id == first.community_id
    assert max_id(engine) == after_first
    assert len(engine.events(incident_id)) == events
    assert len(engine.events(first.community_id)) == community_events


# Errors: each names the entry and its line, and records nothing of the file ----------------

TEST_COMMUNITY = {"district": "Test District", "subdistrict": "Test Subdistrict",
                  "name": "Scenario Error Community"}
TEST_COMMUNITY_ID = community_id("Test District", "Test Subdistrict", "Scenario Error Community")
STAFF = {"actor": "office-duty", "as": "community_staff"}
GRID_LEADER = {"actor": "zhang", "as": "grid_leader"}


def scenario_text(actions: list[dict[str, Any]], *, timezone: str | None = "Asia/Shanghai",
                  name: str = "broken") -> tuple[str, int]:
    """A scenario file with one action per line, and the line its first action is on."""
    header = ["{", '  "format": "resilience.scenario",', '  "version": 1,',
              f'  "name": {json.dumps(name)},']
    if timezone is not None:
        header.append(f'  "timezone": {json.dumps(timezone)},')
    header += [f'  "community": {json.dumps(TEST_COMMUNITY)},', '  "actions": [']
    body = ",\n".join("    " + json.dumps(action) for action in actions)
    return "\n".join([*header, body, "  ]", "}", ""]), len(header) + 1


def setup_actions() -> list[dict[str, Any]]:
    """Valid first entries: they would record a community and an incident if replayed alone."""
    return [
        {"do": "register", "at": "2022-02-15T09:00:00", **STAFF},
        {"do": "add_grid", "at": "2022-02-15T09:10:00", **STAFF, "grid_id": "1",
         "name": "Grid 1"},
        {"do": "report", "at": "2022-02-15T15:01:00", **GRID_LEADER, "incident": "fire",
         "detected_at": "2022-02-15T15:00:00", "incident_type": "fire", "severity": "high",
         "location": {"grid": "1", "description": "stairwell"}, "description": "smoke"},
    ]


def test_the_setup_entries_alone_are_valid(engine: Engine, tmp_path: Path) -> None:
    """The entries the error files start with replay cleanly (so the failures below are real)."""
    text, _ = scenario_text(setup_actions())
    path = tmp_path / "ok.json"
    path.write_text(text, encoding="utf-8")
    result = replay_file(engine, path)
    assert result.community_id == TEST_COMMUNITY_ID
    # registered, grid added, detected, reported, and the fire's reference (the first of
    # its year, which opens the community's book)
    assert result.events_recorded == 5


def _bad_files() -> list[Any]:
    base = setup_actions()
    naive_base = [dict(a, at=a["at"] + "+08:00") for a in base]
    naive_base[2]["detected_at"] = "2022-02-15T15:00:00+08:00"
    return [
        pytest.param(
            [*base, {"do": "explode", "at": "2022-02-15T15:02:00", **STAFF, "incident": "fire"}],
            "Asia/Shanghai", 4, r"unknown incident command 'explode'", id="unknown-command"),
        pytest.param(
            [*base, {"do": "acknowledge", "at": "2022-02-15T15:02:00", "as": "community_staff",
                     "incident": "fire"}],
            "Asia/Shanghai", 4, r"'actor'", id="missing-actor"),
        pytest.param(
            [*naive_base[:2], {"do": "add_grid", "at": "2022-02-15T09:20:00", **STAFF,
                               "grid_id": "2", "name": "Grid 2"}, naive_base[2]],
            None, 3, r"no UTC offset", id="naive-time-without-timezone"),
        pytest.param(
            [*base,
             {"do": "arrive", "at": "2022-02-15T15:03:00", **GRID_LEADER, "incident": "fire",
              "responder_id": "zhang"},
             {"do": "force_entry", "at": "2022-02-15T15:04:00", **GRID_LEADER,
              "incident": "fire", "target": "storage-room lock"},
             {"do": "contain", "at": "2022-02-15T15:10:00", **GRID_LEADER, "incident": "fire"}],
            "Asia/Shanghai", 5, r"force_entry: .*consent", id="force-entry-before-consent"),
        # Python would read a bare date as midnight, and cut a seventh digit of a second.
        pytest.param(
            [*base, {"do": "acknowledge", "at": "2022-02-15", **STAFF, "incident": "fire"}],
            "Asia/Shanghai", 4, r"'at' must be an ISO 8601 date and time", id="date-without-time"),
        pytest.param(
            [*base, {"do": "acknowledge", "at": "2022-02-15T15:02:00.1234567", **STAFF,
                     "incident": "fire"}],
            "Asia/Shanghai", 4, r"at most to the microsecond", id="finer-than-a-microsecond"),
        # New York's clocks skip 02:00-03:00 on 2022-03-13: a time in between never was.
        pytest.param(
            [*[dict(a, at="2022-03-13T01:00:00") for a in base[:3]],
             {"do": "acknowledge", "at": "2022-03-13T02:30:00", **STAFF, "incident": "fire"}],
            "America/New_York", 4, r"'at' 2022-03-13T02:30:00 never happened in America/New_York",
            id="wall-time-skipped-by-daylight-saving"),
        # Shanghai's 1900-01-01 00:00 is 1899-12-31 in UTC: before the earliest moment.
        pytest.param(
            [dict(base[0], at="1900-01-01T00:00:00"), *base[1:]],
            "Asia/Shanghai", 1, r"'at' must be from 1900-01-01", id="first-at-before-1900"),
        pytest.param(
            [*base, {"do": "acknowledge", "at": "2022-02-15T15:02:00", **STAFF,
                     "incident": "fire", "recorded_at": "2200-01-01T00:00:00Z"}],
            "Asia/Shanghai", 4, r"'recorded_at' must be from 1900-01-01 to before 2200-01-01",
            id="recorded-at-from-2200"),
        pytest.param(
            [*base, {"do": "correct_time", "at": "2022-02-15T15:02:00", **STAFF,
                     "incident": "fire", "corrects": 1, "corrected_to": "1899-12-31T23:59:59Z",
                     "reason": "typo"}],
            "Asia/Shanghai", 4, r"'corrected_to' must be from", id="corrected-to-before-1900"),
    ]


@pytest.mark.parametrize(("actions", "zone", "entry", "message"), _bad_files())
def test_a_bad_entry_is_named_and_nothing_of_the_file_is_recorded(
    engine: Engine, tmp_path: Path, actions: list[dict[str, Any]], zone: str | None,
    entry: int, message: str,
) -> None:
    """A rejected entry raises ScenarioError naming entry and line; the store is left as it was."""
    replay_file(engine, DONGHU_FIRE)  # the store already holds other data
    before = max_id(engine)
    assert before is not None
    assert before > 0
    text, first_line = scenario_text(actions, timezone=zone)
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    line = first_line + entry - 1

    with pytest.raises(ScenarioError) as caught:
        replay_file(engine, path)

    error = caught.value
    assert error.entry == entry
    assert error.line == line
    assert f"entry {entry}" in str(error)
    assert f"line {line}" in str(error)
    assert re.search(message, str(error)), str(error)
    assert max_id(engine) == before
    with pytest.raises(NotFoundError):
        engine.communities.get(TEST_COMMUNITY_ID)


def test_malformed_json_names_the_line(engine: Engine, tmp_path: Path) -> None:
    """A JSON syntax error raises ScenarioError naming the line, and records nothing."""
    replay_file(engine, DONGHU_FIRE)
    before = max_id(engine)
    text, first_line = scenario_text(setup_actions())
    lines = text.split("\n")
    lines[first_line - 1] = lines[first_line - 1].rstrip(",")  # the first action's comma
    broken = first_line + 1  # so the error is where the second action starts
    path = tmp_path / "malformed.json"
    path.write_text("\n".join(lines), encoding="utf-8")

    with pytest.raises(ScenarioError) as caught:
        replay_file(engine, path)

    assert caught.value.line == broken
    assert f"line {broken}" in str(caught.value)
    assert "JSON" in str(caught.value)
    assert max_id(engine) == before


def test_a_lone_surrogate_escape_is_recorded_or_rejected_as_a_scenario_error(
    engine: Engine, tmp_path: Path
) -> None:
    """Valid JSON holding a lone \\ud800 escape records faithfully or fails naming its entry."""
    replay_file(engine, DONGHU_FIRE)
    before = max_id(engine)
    actions = setup_actions()
    actions[1]["name"] = "Grid \ud800 1"
    text, first_line = scenario_text(actions)  # json.dumps writes the escape: valid JSON
    assert "\\ud800" in text
    path = tmp_path / "surrogate.json"
    path.write_text(text, encoding="utf-8")

    rejected: ScenarioError | None = None
    try:
        replay_file(engine, path)  # any other exception fails the test
    except ScenarioError as error:
        rejected = error
    if rejected is not None:
        assert rejected.entry == 2
        assert f"entry 2, line {first_line + 1}" in str(rejected)
        assert max_id(engine) == before
    else:
        community = engine.communities.get(TEST_COMMUNITY_ID)
        assert community.areas["1"].name == "Grid \ud800 1"


def test_times_out_of_range_are_refused_when_the_file_is_read() -> None:
    """An 'at' or 'recorded_at' outside the accepted range is found by parse_scenario, before
    any replay, naming the entry, its line and the key."""
    actions = setup_actions()
    actions[2]["recorded_at"] = "2200-01-01T08:00:00"  # 2200-01-01T00:00Z in Shanghai
    text, first_line = scenario_text(actions)
    with pytest.raises(ScenarioError, match=r"'recorded_at' must be from") as caught:
        parse_scenario(text)
    assert (caught.value.entry, caught.value.line) == (3, first_line + 2)
    actions[2]["recorded_at"] = "2200-01-01T07:59:59.999999"  # the last moment accepted
    assert parse_scenario(scenario_text(actions)[0]).actions[2].recorded_at.year == 2200


def test_the_longest_name_accepted_makes_command_ids_within_their_limit(
    engine: Engine, tmp_path: Path
) -> None:
    """A name of MAX_NAME characters replays; one more is refused in the header, naming the
    limit, instead of failing at replay on an implicit command id the user never wrote."""
    path = tmp_path / "long-name.json"
    path.write_text(scenario_text(setup_actions(), name="n" * MAX_NAME)[0], encoding="utf-8")
    assert replay_file(engine, path).events_recorded == 5  # (as the setup entries alone)
    for length in (MAX_NAME + 1, 200):  # 200: the longest text the name field took before
        path.write_text(scenario_text(setup_actions(), name="n" * length)[0], encoding="utf-8")
        with pytest.raises(ScenarioError, match=rf"'name' must be at most {MAX_NAME} characters"
                                                rf", got {length}: .*command id") as caught:
            replay_file(engine, path)
        assert (caught.value.entry, caught.value.line) == (None, 4)


@pytest.mark.parametrize("name", ["missing.json", "."])
def test_a_file_that_cannot_be_read_is_a_scenario_error_naming_it(
    tmp_path: Path, name: str
) -> None:
    """A missing file or a directory is a ScenarioError naming the file and the reason."""
    path = tmp_path / name
    reason = "No such file or directory" if name == "missing.json" else "Is a directory"
    with Engine("memory:") as engine:
        for read in (load_scenario, lambda p: replay_file(engine, p)):
            with pytest.raises(ScenarioError) as caught:
                read(path)
            assert str(caught.value) == f"cannot read {path}: {reason}"
            assert (caught.value.entry, caught.value.line) == (None, None)


# The command line -------------------------------------------------------------------------


def test_cli_replay_then_timeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`replay FILE --db PATH` exits 0 and names the incident; `timeline ID` prints its timeline."""
    db = str(tmp_path / "cli.db")
    assert main(["replay", str(DONGHU_FIRE), "--db", db]) == 0
    out = capsys.readouterr().out
    match = re.search(r"incident donghu-fire: ([0-9a-f-]{36})", out)
    assert match is not None, out
    incident_id = match.group(1)
    UUID(incident_id)

    assert main(["timeline", incident_id, "--db", db]) == 0
    out = capsys.readouterr().out
    assert "start 2022-02-15T15:00:00+08:00" in out
    contained = [row for row in out.splitlines() if "contained:" in row]
    assert len(contained) == 2  # the fact, and its correction, read as the change it made
    assert "15:12" in contained[0]
    assert "+ 12.0" in contained[0]
    assert "corrected from 15:14" in contained[0]
    assert "contained: 15:14 → 15:12 (the duty phone log" in contained[1]
    assert "Zhang Chuanlian (grid leader): contained: Fire out" in contained[0]  # a name
    consent = [row for row in out.splitlines() if "granted consent" in row]
    assert len(consent) == 1
    assert "recorded 18 min later" in consent[0]


@pytest.mark.parametrize(
    "bad_entry",
    [
        pytest.param({"do": "explode", "at": "2022-02-15T15:04:00", **GRID_LEADER,
                      "incident": "fire"}, id="rejected-when-read"),
        pytest.param({"do": "force_entry", "at": "2022-02-15T15:04:00", **GRID_LEADER,
                      "incident": "fire", "target": "door"}, id="rejected-when-replayed"),
    ],
)
def test_cli_replay_of_a_bad_file_exits_2_naming_the_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad_entry: dict[str, Any]
) -> None:
    """A bad entry makes `replay` exit 2, naming entry and line on stderr, recording nothing."""
    text, first_line = scenario_text([*setup_actions(), bad_entry])
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    db = tmp_path / "cli-bad.db"

    assert main(["replay", str(path), "--db", str(db)]) == 2
    captured = capsys.readouterr()
    assert "ScenarioError" in captured.err
    assert f"entry 4, line {first_line + 3}" in captured.err
    assert "facts in" not in captured.out
    with Engine(f"sqlite:///{db}") as engine:
        assert not engine.app.recorder.max_notification_id()


def test_cli_replay_of_a_missing_file_exits_2_with_a_scenario_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`replay` of a file that is not there prints one ScenarioError line and exits 2."""
    missing = tmp_path / "missing.json"
    assert main(["replay", str(missing), "--db", str(tmp_path / "cli.db")]) == 2
    assert capsys.readouterr().err == (f"resilience: ScenarioError: cannot read {missing}: "
                                       "No such file or directory\n")


def test_cli_timeline_of_an_unknown_id_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`timeline` with an id the store doesn't hold exits 2 and says so on stderr."""
    assert main(["timeline", str(uuid4()), "--db", str(tmp_path / "empty.db")]) == 2
    assert "NotFoundError" in capsys.readouterr().err


def test_cli_demo_meets_the_15_minute_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`demo` replays the Donghu fire, exits 0 and reports the 15-minute target met."""
    assert main(["demo", "--db", str(tmp_path / "d.db")]) == 0
    out = capsys.readouterr().out
    assert "15-minute target met" in out
    assert "Contained at 15:12, 12 minutes after detection" in out


def test_an_entry_inserted_into_a_replayed_file_is_the_only_thing_recorded(
    engine: Engine, tmp_path: Path
) -> None:
    """Implicit command ids come from content, so inserting an entry shifts nothing."""
    first = replay_file(engine, DONGHU_FIRE)
    assert first.events_recorded == first.facts
    document = json.loads(DONGHU_FIRE.read_text(encoding="utf-8"))
    report_at = next(i for i, a in enumerate(document["actions"]) if a["do"] == "report")
    document["actions"].insert(report_at, {
        "do": "enrol", "at": "2021-12-02T09:00:00", "actor": "office-duty",
        "as": "community_staff", "person_id": "squad-qian", "name": "Qian"})
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(document, indent=1), encoding="utf-8")
    second = replay_file(engine, edited)
    assert second.events_recorded == 1
    assert engine.communities.get(first.community_id).people["squad-qian"].name == "Qian"


def test_unknown_keys_inside_values_are_refused_with_their_path(tmp_path: Path) -> None:
    """A misspelt key in a location is an error naming the entry and the key, not a silent drop."""
    document = json.loads(DONGHU_FIRE.read_text(encoding="utf-8"))
    report = next(a for a in document["actions"] if a["do"] == "report")
    report["location"]["buildng"] = report["location"].pop("building")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document, indent=1), encoding="utf-8")
    with Engine("memory:") as engine, pytest.raises(ScenarioError,
                                                    match=r"extra fields found \(buildng\)"):
        replay_file(engine, bad)


def test_a_second_file_can_follow_up_an_incident_reported_by_the_first(
    engine: Engine, tmp_path: Path
) -> None:
    """Keys derive ids, so a follow-up file acts on the incident; an unknown key is named."""
    replay_file(engine, DONGHU_FIRE)
    follow_up = {
        "format": "resilience.scenario", "version": 1, "name": "donghu-follow-up",
        "timezone": "Asia/Shanghai",
        "community": {"district": "Taishan District", "subdistrict": "Daimiao Subdistrict",
                      "name": "Donghu Community"},
        "actions": [{"do": "reopen", "incident": "donghu-fire", "at": "2022-02-16T09:00:00",
                     "actor": "office-duty", "as": "community_staff",
                     "reason": "rekindled overnight"}],
    }
    path = tmp_path / "follow-up.json"
    path.write_text(json.dumps(follow_up), encoding="utf-8")
    result = replay_file(engine, path)
    assert engine.incidents.get(result.incidents["donghu-fire"]).reopen_count == 1
    follow_up["actions"][0]["incident"] = "no-such-fire"  # type: ignore[index]
    path.write_text(json.dumps(follow_up), encoding="utf-8")
    with pytest.raises(ScenarioError, match="incident 'no-such-fire' was not reported"):
        replay_file(engine, path)


# Reading large and unusual files ------------------------------------------------------------


def test_a_file_written_with_sorted_keys_replays_like_the_file_in_order(
    engine: Engine, tmp_path: Path
) -> None:
    """'actions' before the header (json.dumps(sort_keys=True)) reads the same, lines right."""
    document = json.loads(DONGHU_FIRE.read_text(encoding="utf-8"))
    assert next(iter(json.loads(json.dumps(document, sort_keys=True)))) == "actions"
    path = tmp_path / "sorted.json"
    path.write_text(json.dumps(document, sort_keys=True, indent=1), encoding="utf-8")
    assert ([evolve(a, line=None) for a in load_scenario(path).actions]
            == [evolve(a, line=None) for a in load_scenario(DONGHU_FIRE).actions])
    assert replay_file(engine, path).receipts == replay_file(engine, DONGHU_FIRE).receipts

    document["actions"][3]["do"] = "explode"
    text = json.dumps(document, sort_keys=True, indent=1)
    with pytest.raises(ScenarioError, match="unknown community command 'explode'") as caught:
        parse_scenario(text)
    line = caught.value.line
    assert caught.value.entry == 4
    assert line is not None
    assert text.splitlines()[line - 1].strip() == "{"  # where the fourth entry opens
    assert text.splitlines()[line].strip() == '"actor": "office-duty",'


def test_entry_lines_stay_right_deep_into_a_large_file() -> None:
    """Lines are counted as the reader goes: entry 20,000 of a multi-line file is named right."""
    actions = [{"do": "enrol", "at": "2022-02-15T09:00:00", **STAFF, "person_id": f"p{i}",
                "name": f"Person {i}"} for i in range(20_000)]
    actions[-1]["do"] = "enrol_everyone"
    text = json.dumps({"format": "resilience.scenario", "version": 1, "name": "big",
                       "timezone": "Asia/Shanghai", "community": TEST_COMMUNITY,
                       "actions": actions}, indent=2)
    expected = text.count("\n", 0, text.rindex('"do": "enrol_everyone"')) + 1 - 1
    with pytest.raises(ScenarioError, match="unknown community command") as caught:
        parse_scenario(text)
    assert (caught.value.entry, caught.value.line) == (20_000, expected)


def _header_then(actions: list[dict[str, Any]], after: str) -> str:
    text, _ = scenario_text(actions)
    return text.replace('"version": 1,', '"version": 1, "description": "x",').replace(
        "  ]\n}", "  ]" + after + "\n}")


@pytest.mark.parametrize(
    ("after", "message"),
    [
        pytest.param(',\n  "description": "y"', r"line 12: the key 'description' appears twice",
                     id="an-ignored-key-repeated-after-the-actions"),
        pytest.param(',\n  "name": "other"', r"line 12: the key 'name' appears twice in the header",
                     id="a-header-key-repeated-after-the-actions"),
        pytest.param(',\n  "community": {}', r"line 12: the key 'community' appears twice",
                     id="the-community-repeated-after-the-actions"),
        pytest.param(',\n  "remarks": NaN', r"line 12: NaN is not a JSON number",
                     id="a-bad-value-after-the-actions"),
        pytest.param('\n  , "x": 1 } {', r"line 12: not valid JSON: more text after",
                     id="text-after-the-object"),
    ],
)
def test_a_problem_after_the_actions_leaves_nothing_recorded(
    engine: Engine, tmp_path: Path, after: str, message: str
) -> None:
    """The file is streamed, so the actions replay before the end is read: a problem found
    there still records nothing."""
    path = tmp_path / "late.json"
    path.write_text(_header_then(setup_actions(), after), encoding="utf-8")
    before = max_id(engine)
    with pytest.raises(ScenarioError, match=message):
        replay_file(engine, path)
    assert max_id(engine) == before
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_an_empty_actions_list_names_its_line() -> None:
    """'actions': [] is refused naming the line of the key."""
    text, first_line = scenario_text([])
    with pytest.raises(ScenarioError, match="'actions' must be a non-empty list") as caught:
        parse_scenario(text)
    assert caught.value.line == first_line - 1


def test_a_file_saved_with_a_byte_order_mark_replays_as_without_one(
        engine: Engine, tmp_path: Path) -> None:
    """Some editors start UTF-8 files with U+FEFF: it is not content, and changes nothing."""
    text, _ = scenario_text(setup_actions())
    path = tmp_path / "bom.json"
    path.write_text("\ufeff" + text, encoding="utf-8")
    with_mark = replay_file(engine, path)
    assert with_mark.events_recorded > 0
    assert replay(engine, parse_scenario(text)).events_recorded == 0  # the same commands


def test_the_host_s_local_time_zone_is_not_a_scenario_time_zone() -> None:
    """``"timezone": "localtime"`` would read the same file differently on each host."""
    text, _ = scenario_text(setup_actions(), timezone="localtime")
    with pytest.raises(ScenarioError, match="unknown timezone 'localtime'"):
        parse_scenario(text)


def test_a_replay_counts_its_ticks_escalations_among_its_facts_every_time(
    engine: Engine,
) -> None:
    """The demo's two tick entries raise the lock repair's two escalations: the replay's
    facts count them (all it recorded), and a second replay, whose ticks find them
    recorded and raise nothing, accounts for the same facts."""
    actions = json.loads(DONGHU_FIRE.read_text(encoding="utf-8"))["actions"]
    first = replay_file(engine, DONGHU_FIRE)
    order = first.orders["lock-repair"]
    assert [r.aggregate_id for r in first.escalations] == [order, order]
    assert first.facts == first.events_recorded
    assert (first.ticks, first.entries) == (2, len(actions))
    assert len(first.receipts) == len(actions) - 2  # a tick records no command of its own
    second = replay_file(engine, DONGHU_FIRE)
    assert second.events_recorded == 0
    assert second.escalations == first.escalations
    assert second.facts == first.facts


@pytest.mark.parametrize("key", [{"label": "t"}, {"command_id": "tick-1"}, {"corrects": 3},
                                 {"grid": "1"}])
def test_a_tick_entry_with_a_label_command_id_or_argument_is_refused_by_entry(
    key: dict[str, Any],
) -> None:
    """A tick records no command of its own, so nothing can label it, give it a command
    id, have it correct a fact or pass it an argument: the file is refused, naming the
    entry and its line."""
    tick = {"do": "tick", "at": "2022-02-15T15:10:00", **STAFF, **key}
    text, first_line = scenario_text([*setup_actions(), tick])
    with pytest.raises(ScenarioError, match="tick takes no arguments") as refused:
        parse_scenario(text)
    assert f"entry 4, line {first_line + 3}" in str(refused.value)
    assert next(iter(key)) in str(refused.value)
