"""The reports' text renderings and the command line's own output in Chinese: every word
translated but what was typed (the scenario's data), ids and metric names, and every
plain-text table lined up by display width; English as it always was."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from resilience import Engine
from resilience.cli import main
from resilience.i18n import display_width, language, set_language
from resilience.scenario import replay_file
from resilience.scenarios import DONGHU_FIRE, XIANGYANG_ORDERS
from test_emergencies import SQUAD, VOLUNTEERS, flood, town
from test_i18n import english_environment  # noqa: F401  (autouse: no language chosen)

from conftest import OFFICE, T0, minutes

# What may stay in Latin letters in a Chinese output besides the scenario's own words:
# ids, metric and rate names (snake_case), ISO 8601 stamps, command-line options, and
# names of standards and formats.
_ALLOWED = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # ids
    r"|(?<![A-Za-z])[a-z]+(?:_[a-z0-9]+)+(?![A-Za-z])"  # detection_to_contained, ..._per_100_...
    r"|\d{4}-\d\d-\d\dT[\d:+.]+"  # ISO 8601 stamps
    r"|--[a-z][a-z-]*"  # options: --limit
    r"|(?<![A-Za-z])(?:turnout|travel|NFPA|HSEEP|SQLite|scenario-importer|resilience)"
    r"(?![A-Za-z])")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


_TYPED = sorted({text for path in (DONGHU_FIRE, XIANGYANG_ORDERS)
                 for text in _strings(json.loads(Path(path).read_text(encoding="utf-8")))
                 if re.search(r"[A-Za-z]{3,}", text)}, key=len, reverse=True)
"""Every text of the two scenarios (names, descriptions, reasons, purposes, places...):
shown as typed, in English here, so set aside before looking for English words."""


def english_left(text: str, *also: str) -> list[str]:
    """The English words (three letters or more) of ``text`` once the typed words, the
    ``also`` texts (a store's path), ids, metric names, stamps and options are set aside."""
    for typed in also:
        text = text.replace(typed, " ")
    text = _ALLOWED.sub(" ", text)
    for typed in _TYPED:  # whole words only: "rate" typed is not "_rate" of response_rate
        text = re.sub(rf"(?<![A-Za-z_]){re.escape(typed)}(?![A-Za-z_])", " ", text)
    return sorted(set(re.findall(r"[A-Za-z]{3,}", text)))


def _cells(line: str) -> str:
    """``line`` one character a terminal column (a wide character and a filler)."""
    return "".join(ch + "\0" * (display_width(ch) - 1) for ch in line)


def misaligned(text: str) -> list[str]:
    """The lines of the plain-text tables of ``text`` (a header, its row of dashes, the
    rows after it) whose cells do not start at their column, counting terminal columns:
    each cell starts where its column's dashes do, after two spaces."""
    lines = text.splitlines()
    wrong = []
    for at, rule in enumerate(lines):
        if not re.fullmatch(r"-+(  -+)+", rule) or at == 0:
            continue
        starts = [m.start() for m in re.finditer(r"-+", rule)]
        body = [lines[at - 1]]
        for line in lines[at + 1:]:
            if not line.strip() or line.startswith(("(", "（", "剔除", "excluded")):
                break
            body.append(line)
        for line in body:
            cells = _cells(line)
            for column, start in enumerate(starts[1:], 1):
                if len(cells) <= start:
                    break
                end = starts[column + 1] if column + 1 < len(starts) else len(cells)
                empty = not cells[start:end].strip()
                if cells[start - 2:start] != "  " or (cells[start] in " \0" and not empty):
                    wrong.append(line)
                    break
    return wrong




@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store holding the Donghu fire and the Xiangyang orders."""
    path = str(tmp_path_factory.mktemp("i18n") / "store.db")
    for scenario in (DONGHU_FIRE, XIANGYANG_ORDERS):
        assert main(["replay", str(scenario), "--db", path]) == 0
    set_language(None)
    return path


COMMANDS = [
    ["metrics"],
    ["metrics", "turnout", "travel"],
    ["metrics", "placed_to_completed", "--by", "grid"],
    ["rates", "--by", "grid"],
    ["scorecard", "--community", "Xiangyang Community"],
    ["scorecard", "--community", "Donghu Community", "--grid", "3"],
    ["league", "--level", "community", "--metric", "detection_to_contained"],
    ["league", "--community", "Xiangyang Community", "--metric", "response_rate"],
    ["league", "--community", "Xiangyang Community", "--metric", "placed_to_completed",
     "--last", "3"],
    ["quality"],
    ["list", "incidents"],
    ["list", "orders", "--limit", "3"],
    ["list", "items"],
    ["plan"],
    ["emergencies"],
    ["situation", "--community", "Donghu Community", "--as-of", "2022-02-15T15:10"],
    ["recovery", "donghu-fire"],
    ["timeline", "donghu-fire"],
]


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, (argv, err)
    return out


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv))
def test_every_command_speaks_chinese_and_lines_up_its_tables(
        store: str, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Under --lang zh-CN a command's output holds no English word but what the scenarios
    typed, ids and metric names; its tables line up by display width; and it is another
    text than the English one."""
    chinese = run(capsys, ["--lang", "zh-CN", argv[0], "--db", store, *argv[1:]])
    set_language(None)
    english = run(capsys, [argv[0], "--db", store, *argv[1:]])
    assert not english_left(chinese, store), chinese
    assert english_left(english, store)  # the check sees the English words
    assert not misaligned(chinese), chinese
    assert not misaligned(english), english


def test_replay_and_the_demo_speak_chinese(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The replay's summary and the whole demo (timeline, grades, segments, data quality,
    review, plan, escalation, recovery) in Chinese."""
    db = str(tmp_path / "demo.db")
    replayed = run(capsys, ["--lang", "zh-CN", "replay", str(XIANGYANG_ORDERS), "--db", db])
    assert "项操作" in replayed
    assert not english_left(replayed, db), replayed
    capsys.readouterr()
    main(["--lang", "zh-CN", "demo", "--db", db])
    demo = capsys.readouterr().out
    assert "发现后12分钟：达到15分钟目标。" in demo
    assert "张" not in demo  # the shipped scenario's names are typed in English
    assert "Zhang Chuanlian（网格长）：" in demo
    assert not english_left(demo, db, str(tmp_path / "demo-review.html")), demo


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine("memory:") as engine:
        replay_file(engine, DONGHU_FIRE)
        replay_file(engine, XIANGYANG_ORDERS)
        yield engine


def test_the_reports_render_in_the_language_current_when_rendered(engine: Engine) -> None:
    """MetricReport, Comparison, RateReport and DataQualityReport.render: Chinese inside
    language("zh-CN"), the same report in English outside it."""
    reports: list[Any] = [engine.metrics("detection_to_contained"),
               engine.metrics("placed_to_completed", group_by=("grid",)),
               engine.compare(["turnout", "travel"]),
               engine.rates(group_by=("grid",)),
               engine.data_quality()]
    for report in reports:
        english = report.render()
        with language("zh-CN"):
            chinese = report.render()
        assert chinese != english
        assert not english_left(chinese), chinese
        assert not misaligned(chinese), chinese
    with language("zh-CN"):
        text = reports[0].render()
    assert text.startswith("detection_to_contained（发现 -> 已控制，分钟；"
                           "目标：90%的案件在15分钟内），全部时间\n分组  案件  实测")
    assert "全部  1     1     12" in text
    assert reports[0].render().startswith(
        "detection_to_contained (detected -> contained, min; target 15 min for 90% of cases) "
        "over all time\ngroup  cases  measured")


def test_the_alignment_check_sees_a_table_padded_by_characters() -> None:
    """The check itself: a Chinese cell padded by len() instead of display width is caught."""
    good = "网格    案件\n------  ----\n东湖 3  12"
    by_characters = "网格    案件\n------  ----\n东湖 3    12"  # "东湖 3" taken as 4 wide
    assert not misaligned(good)
    assert misaligned(by_characters) == ["东湖 3    12"]


def test_an_emergency_and_its_mobilisation_speak_chinese(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`emergencies`, `mobilisation` and `situation` with a flood in force: Chinese, with
    only the typed words (the reason, names, posts) and ids left in Latin letters."""
    path = str(tmp_path / "flood.db")
    with Engine(path) as engine:
        community = town(engine)
        emergency = flood(engine, community)
        run_ = engine.emergencies
        run_.call_up(emergency, actor=OFFICE, occurred_at=T0 + minutes(2))
        run_.acknowledge(emergency, "sq-1", actor=OFFICE, occurred_at=T0 + minutes(3))
        run_.arrive(emergency, "sq-1", "gate", actor=OFFICE, occurred_at=T0 + minutes(12))
        english = engine.mobilisation(emergency).render()
        with language("zh-CN"):
            chinese = engine.mobilisation(emergency).render()
    typed = ("the river broke its banks", "gate", "Taishan", "Daimiao", "Donghu",
             *(text for person in (*SQUAD, *VOLUNTEERS) for text in person))
    assert "called 4, answered 1 (25%), arrived 1" in english
    assert "召集4人，应答1人（25%），到岗1人" in chinese
    assert not english_left(chinese, *typed), chinese
    assert not misaligned(chinese), chinese
    for argv in (["emergencies"], ["mobilisation", str(emergency)],
                 ["situation", "--community", "Donghu", "--as-of",
                  (T0 + minutes(20)).isoformat()]):
        out = run(capsys, ["--lang", "zh-CN", argv[0], "--db", path, *argv[1:]])
        set_language(None)
        assert not english_left(out, *typed, path), out
        assert not misaligned(out), out
        assert "水浸应急状态" in out or argv[0] == "emergencies", out
    assert "    Li：2022-02-15T15:12+08:00到达gate" in out
