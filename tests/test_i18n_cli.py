"""The command line in Chinese, all of it: every command's help (argparse's own words too:
"usage:", the group titles, ``-h``'s help, its errors), the live commands (tick, overdue,
watch, webhooks), what-if, verify, checkpoint, simulate, open311, the error line; with no
English word left but values (ids, names, what people typed, option names and the values
they take); and English exactly as it was.

The reports' commands are checked by tests/test_i18n_reports.py, whose helpers these
tests use."""

import json
import re
from pathlib import Path

import pytest

from resilience import Engine
from resilience.cli import build_parser, main
from resilience.cli.common import argparse_message, walk
from resilience.clock import ManualClock
from resilience.domain.catalogue import DEFAULT_CATALOGUE
from resilience.i18n import display_width, language, set_language
from resilience.metrics.tables import value_text
from resilience.scenarios import DONGHU_FIRE
from test_deadlines import fire, order, staffed
from test_i18n import english_environment  # noqa: F401  (autouse: no language chosen)
from test_i18n_reports import english_left, misaligned, run, store  # noqa: F401  (fixture)

from conftest import T0

TECHNICAL = re.compile(
    r"(?<![A-Za-z_])(?:ISO|UTC|JSON|json|SQLite|PostgreSQL|URL|POST|https?|Ctrl|SIGINT"
    r"|SIGTERM|GeoReport|Open311|Webhook|fresh_views=False|-review\.html"
    r"|DEFAULT_ESCALATION|RESILIENCE_[A-Z_]+|CIPHER_[A-Z_]+"
    r"|INCIDENT_ID|PERSON_ID|YYYY|HH|MM|SS|md|html|csv|table|fire|medical|resilience"
    r"(?:\.scenario| list)?|donghu-demo\.db|db|stderr|\[hidden\])(?![A-Za-z_])")
"""What a Chinese help text may say in Latin letters besides option names and values: the
names of formats, standards, protocols, signals, environment variables and files."""


def typed_words(parser_path: tuple[str, ...]) -> set[str]:
    """What a person types on the command line of one (sub)command, as its help shows it:
    its name, its options, their metavars and the values they take, the dimensions of
    ``--by``, the subcommands' names."""
    words = {*parser_path, "COMMAND"}
    parser = dict(walk(build_parser()))[parser_path]
    for action in parser._actions:
        words.update(action.option_strings or [action.dest])
        metavar = action.metavar
        words.update(metavar if isinstance(metavar, tuple) else
                     [metavar] if isinstance(metavar, str) else [])
        words.add(action.dest.upper())
        if action.choices is not None:
            words.update(map(str, action.choices))
        if isinstance(action.default, str):
            words.add(action.default)
    words.update(["community", "grid", "incident_type", "severity", "zone_type", "category",
                  "item", "provider", "provider_kind", "day", "week", "month", "year",
                  "system", "resident", "webhook", "default", "tick"])
    return {word for word in words if word}


def untranslated(text: str, path: tuple[str, ...] = ()) -> list[str]:
    """The English words left in ``text`` once what is typed (for ``path``'s command) and
    the technical names are set aside."""
    for word in sorted(typed_words(path), key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z_-]){re.escape(word)}(?![A-Za-z_])", " ", text)
    return english_left(TECHNICAL.sub(" ", text))


PATHS = [path for path, _ in walk(build_parser())]


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "resilience")
def test_every_command_s_help_speaks_chinese(path: tuple[str, ...],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``--help`` of every command and action under --lang zh-CN: the description, every
    option's help, argparse's "usage:", group titles and -h's own help, all Chinese; in
    English the same help as argparse always printed it."""
    with pytest.raises(SystemExit) as exited:
        main(["--lang", "zh-CN", *path, "--help"])
    assert exited.value.code == 0
    chinese = capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*path, "--help"])
    english = capsys.readouterr().out
    assert chinese.startswith("用法：resilience"), chinese
    assert "显示此帮助信息并退出" in chinese
    assert not untranslated(chinese, path), chinese
    assert english.startswith("usage: resilience")
    assert "show this help message and exit" in english
    assert "\noptions:\n" in english
    assert untranslated(english, path)  # the check sees English words


def test_help_holding_chinese_wraps_by_display_width(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Chinese help is wrapped by terminal columns (a Chinese character takes two), so no
    line of ``metrics --help`` is wider than argparse's width (78 on an 80-column
    terminal)."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main(["--lang", "zh-CN", "metrics", "--help"])
    lines = capsys.readouterr().out.splitlines()
    wide = [line for line in lines if display_width(line) > 78 and not line.startswith("用法")]
    assert not wide, lines


ERRORS = [
    (["metrics", "--unit", "x"], "无效选项：'x'（可选：'s', 'min', 'h', 'd'）",
     "error: argument --unit: invalid choice: 'x' (choose from 's', 'min', 'h', 'd')"),
    (["metrics", "--bogus"], "无法识别的参数：--bogus", "error: unrecognized arguments: --bogus"),
    (["erase", "--community", "c"], "缺少以下参数：--person, --by, --reason",
     "error: the following arguments are required: --person, --by, --reason"),
    (["metrics", "--month"], "参数--month：需要一个参数",
     "error: argument --month: expected one argument"),
    (["league", "--min-sample", "x"], "参数--min-sample：无效的整数值：'x'",
     "error: argument --min-sample: invalid int value: 'x'"),
    (["scorecard", "--db", "x.db"], "scorecard 需要 --community（编号或名称）",
     "error: scorecard needs --community (an id or a name)"),
    ([], "缺少以下参数：COMMAND", "error: the following arguments are required: COMMAND"),
]


@pytest.mark.parametrize(("argv", "chinese", "english"), ERRORS,
                         ids=[" ".join(e[0]) or "nothing" for e in ERRORS])
def test_argparse_errors_speak_chinese(argv: list[str], chinese: str, english: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own errors (usage, "error:", what went wrong) through our catalog; in
    English word for word what argparse says."""
    with pytest.raises(SystemExit) as exited:
        main(["--lang", "zh-CN", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("用法：resilience"), err
    assert "：错误：" in err, err
    assert chinese in err, err
    assert not untranslated(err, tuple(argv[:1])), err
    with pytest.raises(SystemExit):
        main(argv)
    err = capsys.readouterr().err
    assert err.startswith("usage: resilience")
    assert f": {english}\n" in err, err


def test_argparse_messages_are_read_back_into_their_values() -> None:
    """An argparse message not known is shown as it is; a known one keeps its values."""
    assert argparse_message("something new") == "something new"
    assert argparse_message("expected 2 arguments") == "expected 2 arguments"
    assert argparse_message("argument --x: expected one argument") == (
        "argument --x: expected one argument")
    with language("zh-CN"):
        assert argparse_message("argument --x: expected 2 arguments") == "参数--x：需要2个参数"
        assert argparse_message("something new") == "something new"


def test_the_error_line_names_the_kind_of_error_in_chinese(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``resilience: <kind>: <message>``: the class's name in English, the kind of error in
    words in Chinese, and the command line's own messages translated."""
    code, _, err = run_all(capsys, "review")
    assert (code, err) == (2, "resilience: InvalidInputError: review needs --db (a SQLite file "
                              "or a store URL), or RESILIENCE_DB set to one\n")
    code, _, err = run_all(capsys, "--lang", "zh-CN", "review")
    assert code == 2
    assert err == ("resilience: 输入无效：review 需要 --db（SQLite 文件或存储 URL），或将"
                   "RESILIENCE_DB设为其一\n")
    missing = str(tmp_path / "none.db")
    code, _, err = run_all(capsys, "--lang", "zh-CN", "metrics", "--db", missing)
    assert err == f"resilience: 未找到：{missing}处没有存储：请先写入记录（resilience replay）\n"


def run_all(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of a command (one that may fail)."""
    capsys.readouterr()
    code = main(list(argv))
    set_language(None)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def watched(tmp_path: Path) -> str:
    """A store with an incident and an order whose deadlines have passed (test_deadlines)."""
    db = tmp_path / "w.db"
    with Engine(str(db), clock=ManualClock(T0), policy=None) as engine:
        community = staffed(engine)
        fire(engine, community, severity="low")
        order(engine, community, hours=5)
    return str(db)


WATCH_TYPED = ("zhang", "wang", "li", "chen")
"""The people of test_deadlines' community, by id."""


def test_tick_and_overdue_speak_chinese(watched: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``tick`` and ``overdue``: their sentences, table headers, deadlines, subjects,
    services, lateness and whom an escalation told, in Chinese; English as it was."""
    argv = ["--db", watched, "--tz", "Asia/Shanghai"]
    overdue = run(capsys, ["--lang", "zh-CN", "overdue", *argv, "--at", "2022-02-15T18:00"])
    assert "截至2022-02-15T18:00+08:00逾期1件：" in overdue
    for said in ("1小时00分", "0/2级", "响应"):
        assert said in overdue, overdue
    tick = run(capsys, ["--lang", "zh-CN", "tick", *argv, "--at", "2022-02-15T15:05"])
    assert "查看未结案件" in tick, tick
    assert "发出升级上报2次" in tick, tick
    assert "网格长（3） zhang" in tick
    for text in (overdue, tick):
        assert not english_left(text, *WATCH_TYPED), text
        assert not misaligned(text), text
    english = run(capsys, ["overdue", *argv, "--at", "2022-02-15T18:00"])
    assert english.startswith("1 overdue at 2022-02-15T18:00+08:00:\norder ")
    assert "1 h 00 min" in english
    assert "0/2 levels" in english


def test_the_service_catalogue_s_words_are_translated() -> None:
    """Every category and item of the default catalogue has words in Chinese where an
    order's service is shown; English shows them as recorded."""
    for entry in DEFAULT_CATALOGUE.items:
        for value in (entry.category, entry.item):
            assert value_text(value) == value
            with language("zh-CN"):
                said = value_text(value)
            assert said != value, value
            assert not re.search(r"[A-Za-z]", said), (value, said)


def test_watch_and_webhooks_speak_chinese(watched: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``watch --once`` (each escalation raised, a line), ``webhooks dead-letters``."""
    out = run(capsys, ["--lang", "zh-CN", "watch", "--db", watched, "--once"])
    assert "升级上报" in out, out
    assert "已通知" in out, out
    assert not english_left(out, *WATCH_TYPED), out
    out = run(capsys, ["--lang", "zh-CN", "webhooks", "--db", watched, "dead-letters"])
    assert out == "webhook：没有死信\n"
    assert run(capsys, ["webhooks", "--db", watched, "dead-letters"]) == (
        "webhook: no dead letters\n")


def test_what_if_speaks_chinese(store: str,  # noqa: F811  (test_i18n_reports' fixture)
                                capsys: pytest.CaptureFixture[str]) -> None:
    """``what-if target`` and ``what-if escalations --cases``: titles, headers, verdicts,
    deadlines and notes in Chinese, tables lined up; English is the reports' own render."""
    for argv in (["what-if", "target", "--target", "10"],
                 ["what-if", "escalations", "--policy", "default", "--cases"]):
        chinese = run(capsys, ["--lang", "zh-CN", *argv, "--db", store])
        english = run(capsys, [*argv, "--db", store])
        assert chinese.startswith("假设推演："), chinese
        assert not english_left(chinese, store), chinese
        # The note follows the table directly (the reports' layout): check the table.
        assert not misaligned(chinese.rstrip("\n").rpartition("\n")[0]), chinese
        assert english.startswith("What if: ")
        assert "Nothing was recorded: a what-if only reads." in english


def test_the_record_s_commands_speak_chinese(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``rebuild``, ``project``, ``verify``, ``open311 import``: Chinese sentences."""
    db = str(tmp_path / "r.db")
    run(capsys, ["replay", str(DONGHU_FIRE), "--db", db])
    for argv in (["rebuild"], ["project"], ["verify"]):
        out = run(capsys, ["--lang", "zh-CN", *argv, "--db", db])
        assert not english_left(out, db), out
    requests = tmp_path / "requests.json"
    requests.write_text(json.dumps([{
        "service_request_id": "r-1", "service_code": "home/repair", "status": "open",
        "requested_datetime": "2022-02-16T09:00:00+08:00", "description": "a leaking tap",
        "address_id": "30/1"}]), encoding="utf-8")
    code, out, err = run_all(capsys, "--lang", "zh-CN", "open311", "import", str(requests),
                             "--db", db, "--community", "Donghu Community", "--by",
                             "office-duty")
    assert (code, err) == (0, "")
    assert out.startswith("已将1个请求导入为社区 "), out
    assert not english_left(out, db, "r-1"), out


def test_simulate_speaks_chinese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``simulate``'s summary and its progress (on stderr) in Chinese; English as it was."""
    db = str(tmp_path / "s.db")
    argv = ["simulate", "--db", db, "--communities", "1", "--incidents", "2", "--orders", "2",
            "--activities", "1", "--days", "3", "--project"]
    code, out, err = run_all(capsys, "--lang", "zh-CN", *argv)
    assert code == 0
    assert out.startswith("已模拟"), out
    assert "视图已更新：归并" in out
    assert "个事件" in err, err
    assert "events" not in err, err
    names = re.findall(r"[A-Z][a-z]+(?: [A-Z][a-z]+)*", out)  # the simulated places' names
    assert not english_left(out, db, *names, "simulated", "seed"), out
    code, out, err = run_all(capsys, *argv[:2], str(tmp_path / "english.db"), *argv[3:])
    assert out.startswith("Simulated 1 community of ")
    assert "events in" in out
