"""Languages: choosing one, the zh-CN catalog (complete, compiled, in step with the code),
display widths, locale formats, and the after-action review in Chinese."""

import io
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from donghu_zh import donghu_in_chinese
from resilience import Engine
from resilience.domain.improvement import ImprovementStatus
from resilience.domain.incident import Incident, IncidentStatus
from resilience.domain.recovery import RecoveryKind
from resilience.domain.service import OrderStatus
from resilience.domain.values import ActionKind, ClosureReason, IncidentType, Role, Severity
from resilience.errors import ConfigurationError, InvalidInputError
from resilience.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    _,
    current_language,
    display_width,
    format_datetime,
    format_month,
    format_number,
    language,
    ngettext,
    normalize_language,
    pad,
    set_language,
)
from resilience.metrics import INCIDENT_MILESTONES
from resilience.metrics.period import Period
from resilience.metrics.quality import INTERESTS
from resilience.metrics.tables import render_table
from resilience.review import AfterActionReview
from resilience.review.phrases import named, phrase
from resilience.review.text import words
from resilience.review.titles import period_title, scope_review_title
from resilience.scenario import replay, replay_file
from resilience.scenarios import DONGHU_FIRE
from resilience.services.default_escalation import DEFAULT_ESCALATION
from resilience.services.reviews import INCIDENT_SEGMENTS

ROOT = Path(__file__).resolve().parent.parent
PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "resilience.po"
MO = PO.with_suffix(".mo")
SHANGHAI = ZoneInfo("Asia/Shanghai")
_ENV = ("RESILIENCE_LANG", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def english_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from no language chosen and no language in the environment."""
    for variable in _ENV:
        monkeypatch.delenv(variable, raising=False)
    set_language(None)
    yield
    set_language(None)


def catalog() -> Catalog:
    with PO.open("rb") as file:
        return read_po(file)


def translated(message: str) -> str:
    with language("zh-CN"):
        return _(message)


# Choosing the language -----------------------------------------------------------------


@pytest.mark.parametrize(("given", "meant"), [
    ("en", "en"), ("en_US.UTF-8", "en"), ("EN-gb", "en"), ("zh-CN", "zh-CN"),
    ("zh_CN.UTF-8", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans", "zh-CN"), ("zh_Hans_CN", "zh-CN"),
    (" zh-cn ", "zh-CN"),
])
def test_a_language_is_known_by_any_of_its_usual_names(given: str, meant: str) -> None:
    """The POSIX, BCP 47 and bare forms of a language all name one of LANGUAGES."""
    assert normalize_language(given) == meant
    assert meant in LANGUAGES


@pytest.mark.parametrize("given", ["fr", "de_DE.UTF-8", "", "zh-TW-x"])
def test_an_unknown_language_asked_for_by_name_is_a_configuration_error(given: str) -> None:
    """set_language, language() and RESILIENCE_LANG refuse a language they can't speak,
    naming those they can."""
    with pytest.raises(ConfigurationError, match="zh-CN"):
        set_language(given)
    with pytest.raises(ConfigurationError), language(given):
        pass


def test_the_language_comes_from_the_call_then_the_setting_then_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """language() beats set_language(), which beats RESILIENCE_LANG, which beats the
    locale variables; with none of them it is English."""
    assert current_language() == "en"
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert current_language() == "zh-CN"
    monkeypatch.setenv("LC_ALL", "C")  # LC_ALL first, as gettext reads them: C is English
    assert current_language() == "en"
    monkeypatch.setenv("RESILIENCE_LANG", "zh-CN")
    assert current_language() == "zh-CN"
    set_language("en")
    assert current_language() == "en"
    with language("zh-CN") as inside:
        assert inside == current_language() == "zh-CN"
        with language(None):
            assert current_language() == "zh-CN"
    assert current_language() == "en"
    set_language(None)
    assert current_language() == "zh-CN"


def test_a_system_locale_the_library_does_not_speak_falls_back_to_english(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """LANG=fr_FR.UTF-8 reads English; RESILIENCE_LANG=fr is a mistake and says so."""
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert current_language() == "en"
    monkeypatch.setenv("RESILIENCE_LANG", "fr")
    with pytest.raises(ConfigurationError, match="fr"):
        current_language()


def test_messages_are_translated_in_the_current_language() -> None:
    """_ and ngettext give the catalog's Chinese under zh-CN and the message itself in
    English; a message the catalog lacks is shown as it is."""
    assert _("Timeline") == "Timeline"
    with language("zh-CN"):
        assert _("Timeline") == "时间线"
        assert ngettext("{count} fact imported by {importer}",
                        "{count} facts imported by {importer}", 3).format(
            count=3, importer="x") == "x导入3条记录"
        assert _("not a message of the catalog") == "not a message of the catalog"
    assert ngettext("{count} fact imported by {importer}",
                    "{count} facts imported by {importer}", 1).format(
        count=1, importer="x") == "1 fact imported by x"


# Formats -------------------------------------------------------------------------------


def test_dates_numbers_and_months_are_formatted_for_the_language() -> None:
    """Babel's CLDR formats: English as the reports always wrote it (day before month,
    24-hour clock), Chinese as Chinese writes it."""
    moment = datetime(2022, 2, 15, 15, 7, tzinfo=SHANGHAI)
    assert format_month(2022, 2) == "February 2022"
    assert format_number(1234.5) == "1,234.5"
    assert format_datetime(moment, "yMMMd") == "15 Feb 2022"
    assert format_datetime(moment, "Hm") == "15:07"
    with language("zh-CN"):
        assert format_month(2022, 2) == "2022年2月"
        assert format_datetime(moment, "yMMMd") == "2022年2月15日"
        assert format_datetime(moment, "yMMMdHm") == "2022年2月15日 15:07"
        assert format_datetime(date(2022, 2, 15), "yMMMd") == "2022年2月15日"


def test_a_period_title_reads_as_a_month_a_year_a_day_or_its_bounds() -> None:
    """period_title: "February 2022" ("2022年2月"), "2022" ("2022年"), an ISO day, or the
    bounds; a scope review's title says it."""
    february = Period.month(2022, 2, SHANGHAI)
    assert period_title(february) == "February 2022"
    assert period_title(Period.month(2022, 12, SHANGHAI)) == "December 2022"
    assert period_title(Period.year(2022, SHANGHAI)) == "2022"
    assert period_title(Period.day(date(2022, 2, 15), SHANGHAI)) == "2022-02-15"
    assert period_title(Period()) == "all time"
    odd = Period(datetime(2022, 2, 1, tzinfo=SHANGHAI), datetime(2022, 2, 15, tzinfo=SHANGHAI))
    assert period_title(odd) == "2022-02-01 00:00 +08:00 to 2022-02-15 00:00 +08:00"
    assert (scope_review_title("Donghu Community", "3", february, "include")
            == "After-action review: incidents of grid 3 of Donghu Community, February 2022")
    with language("zh-CN"):
        assert period_title(february) == "2022年2月"
        assert period_title(Period.year(2022, SHANGHAI)) == "2022年"
        assert (scope_review_title("东湖社区", "3", february, "only")
                == "复盘报告：东湖社区第3网格演练，2022年2月")


# Widths --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "width"), [
    ("", 0), ("abc", 3), ("东湖", 4), ("东湖 3", 6), ("ＡＢ", 4), ("e\u0301", 1),
    ("a\u200bb", 2), ("（网格）", 8),
])
def test_display_width_counts_terminal_columns(text: str, width: int) -> None:
    """Wide and fullwidth characters take two columns, combining and zero-width ones none."""
    assert display_width(text) == width


def test_pad_pads_by_columns_and_refuses_an_unknown_alignment() -> None:
    assert pad("东湖", 6) == "东湖  "
    assert pad("东湖", 6, ">") == "  东湖"
    assert pad("东湖", 7, "^") == " 东湖  "
    assert pad("东湖社区", 3) == "东湖社区"
    with pytest.raises(InvalidInputError):
        pad("x", 3, "|")


def test_render_table_lines_up_columns_holding_chinese() -> None:
    """Every row's second column starts at the same terminal column."""
    table = render_table(["网格", "案件"], [["东湖社区第3网格", "12"], ["grid 3", "4"],
                                        ["向阳", "1"]])
    lines = table.splitlines()
    starts = {display_width(line[:line.index(cell)])
              for line, cell in zip(lines[:1] + lines[2:], ["案件", "12", "4", "1"],
                                    strict=True)}
    assert starts == {display_width("东湖社区第3网格") + 2}
    assert lines[1] == "-" * display_width("东湖社区第3网格") + "  " + "-" * 4


# The catalog ---------------------------------------------------------------------------


def extracted() -> set[str]:
    """The messages ``pybabel extract -F babel.cfg -k N_`` finds in the package."""
    found = extract_from_dir(str(ROOT / "src" / "resilience"),
                             method_map=[("**.py", "python")],
                             keywords={"_": None, "N_": None, "ngettext": (1, 2)})
    return {message if isinstance(message, str) else message[0]
            for _file, _line, message, _comments, _context in found}


def test_every_message_of_the_code_has_a_chinese_translation() -> None:
    """The .po holds exactly the messages the code marks, none fuzzy, each translated with
    the same placeholders (a translation can't drop or invent a ``{name}``)."""
    po = catalog()
    held = {m.id if isinstance(m.id, str) else m.id[0]: m for m in po if m.id}
    assert extracted() == set(held), "run the catalog update of docs/i18n.md"
    for message in held.values():
        assert not message.fuzzy, message.id
        strings = ([message.string] if isinstance(message.string, str)
                   else list(message.string or ()))
        assert strings, f"untranslated: {message.id!r}"
        source = message.id if isinstance(message.id, str) else message.id[0]
        for string in strings:
            assert string, f"untranslated: {message.id!r}"
            assert set(re.findall(r"{(\w+)}", string)) == set(re.findall(r"{(\w+)}", source)), (
                message.id, string)


def test_the_compiled_catalog_is_the_po_compiled() -> None:
    """resilience.mo is what compiling resilience.po gives, byte for byte."""
    compiled = io.BytesIO()
    write_mo(compiled, catalog())
    assert MO.read_bytes() == compiled.getvalue(), "run pybabel compile (docs/i18n.md)"


def test_the_words_a_review_translates_at_run_time_are_all_in_the_catalog() -> None:
    """Every value the review words through enum_words, every incident fact and milestone,
    the default escalation deadlines, the built-in segments and the interests have a
    Chinese translation (resilience.review.vocabulary lists them for the catalog)."""
    needed = {words(member.value) for kind in (Role, IncidentType, Severity, IncidentStatus,
                                                ClosureReason, OrderStatus, ImprovementStatus,
                                                ActionKind, RecoveryKind) for member in kind}
    needed |= {words(name) for name in Incident.declared(lambda event: True)}
    needed |= {words(name) for name in INCIDENT_MILESTONES}
    needed |= {d.name for d in DEFAULT_ESCALATION.deadlines}
    needed |= {d.description for d in INCIDENT_SEGMENTS}
    needed |= set(INTERESTS.values())
    untranslated = sorted(w for w in needed if translated(w) == w)
    assert not untranslated


# The review ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviews() -> dict[str, AfterActionReview]:
    """The Donghu fire reviewed in English from the shipped scenario, and in Chinese from
    the same scenario typed in Chinese."""
    english = Engine("memory:")
    fire = replay_file(english, DONGHU_FIRE).incidents["donghu-fire"]
    chinese = Engine("memory:")
    zh_fire = replay(chinese, donghu_in_chinese()).incidents["donghu-fire"]
    with language("zh-CN"):
        zh = chinese.review(zh_fire)
    return {"en": english.review(fire), "zh-CN": zh}


def test_a_review_is_written_in_the_language_current_when_it_is_made(
        reviews: dict[str, AfterActionReview]) -> None:
    """The review keeps its language, and renders in it whatever the language later."""
    assert reviews["en"].language == "en"
    assert reviews["zh-CN"].language == "zh-CN"
    english = reviews["en"].to_markdown()
    with language("zh-CN"):
        assert reviews["en"].to_markdown() == english
    assert "### 时间线" in reviews["zh-CN"].to_markdown()


def test_the_chinese_review_grades_and_measures_as_the_english_one(
        reviews: dict[str, AfterActionReview]) -> None:
    """Only the words change: grades, measured durations, segments and flags agree."""
    en, zh = reviews["en"].incidents[0], reviews["zh-CN"].incidents[0]
    assert [(o.name, o.grade, o.measured) for o in en.objectives] == [
        (o.name, o.grade, o.measured) for o in zh.objectives]
    assert [(s.name, s.duration, s.met) for s in en.segments] == [
        (s.name, s.duration, s.met) for s in zh.segments]
    assert [(f.kind, f.version) for f in en.quality] == [(f.kind, f.version) for f in zh.quality]


_IDENTIFIERS = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # ids
    r"|(?<![A-Za-z])[a-z]+(?:_[a-z]+)+(?![A-Za-z])"  # metric names: detection_to_contained
    r"|(?<![A-Za-z])(?:turnout|travel|NFPA|b30-u1-storage-owner|scenario-importer)"
    r"(?![A-Za-z])")


def test_the_chinese_review_has_no_english_words_left(
        reviews: dict[str, AfterActionReview]) -> None:
    """Once ids and metric names are set aside, the Chinese Markdown holds no English word
    of three letters or more: every heading, label, sentence and phrase is translated.
    (The title and scope are the services' until they word them with
    resilience.review.titles: they are left out here.)"""
    text = reviews["zh-CN"].to_markdown().split("\n", 4)[4]
    left = re.findall(r"[A-Za-z]{3,}", _IDENTIFIERS.sub("", text))
    assert not left, sorted(set(left))
    assert "**概要：** 第3网格火灾（高），2022年2月15日 15:00发现。" in text
    assert "| 发现后15分钟内控制事件 | **P** 顺利完成 | 12分钟（目标15分钟） |" in text


def test_the_timeline_names_people_and_says_what_a_correction_changed(
        reviews: dict[str, AfterActionReview]) -> None:
    """People by name, not id; the correction of the containment reads as the change."""
    english = reviews["en"].to_markdown()
    assert "| Zhang Chuanlian on scene |" in english
    assert "p-3001" not in english
    assert ("| contained: 15:14 → 15:12 (the duty phone log shows the all-clear call at "
            "15:12) |") in english
    assert "time of fact" not in english
    chinese = reviews["zh-CN"].to_markdown()
    assert "| 张传连到场 |" in chinese
    assert "| 已控制：15:14 → 15:12（值班电话记录显示15:12报告险情解除） |" in chinese


def test_every_recorded_phrase_of_the_fire_is_read_and_said_again(
        reviews: dict[str, AfterActionReview]) -> None:
    """In English a phrase reads back exactly as recorded (ids named); in Chinese every
    fact of the Donghu fire but the correction (worded apart) is said anew."""
    for review in (reviews["en"], reviews["zh-CN"]):
        incident = review.incidents[0]
        for entry in incident.timeline.entries:
            recorded = named(entry.details, incident.people)
            assert phrase(entry.action, entry.details, incident.people) == recorded
            if entry.action == "TimeCorrected":
                continue
            with language("zh-CN"):
                assert phrase(entry.action, entry.details, incident.people) != recorded, (
                    entry.action)


def test_named_replaces_whole_ids_only() -> None:
    """An id inside a longer one is left alone."""
    people = {"p-30": "Wang", "p-3001": "Zhang"}
    assert named("p-3001 and p-30 on scene; p-300 too", people) == (
        "Zhang and Wang on scene; p-300 too")


def test_the_html_review_declares_its_language_and_names_cjk_fonts(
        reviews: dict[str, AfterActionReview]) -> None:
    """<html lang> is the review's language; the stylesheet names CJK fonts and keeps the
    chart legible on a phone (it scrolls rather than shrinks)."""
    page = reviews["zh-CN"].to_html()
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"zh-CN\">")
    assert "<title>" in page
    assert '"Noto Sans CJK SC"' in page
    assert "figure.chart svg { min-width: 860px; }" in page
    assert reviews["en"].to_html().startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert ">关键节点</text>" in page
    assert ">15分钟目标</text>" in page


def test_fact_references_link_to_their_timeline_rows(
        reviews: dict[str, AfterActionReview]) -> None:
    """In HTML each timeline row has an id and a finding's or flag's "#17" links to it;
    Markdown keeps the references as text."""
    page = reviews["en"].to_html()
    assert '<tr id="fact-1-17"><td>17</td>' in page
    assert "18 min later (fact <a href=\"#fact-1-17\">#17</a>)" in page
    assert "18 min later (fact #17)" in reviews["en"].to_markdown()
