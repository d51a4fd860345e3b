"""A review's header names what it is about: the community by its name and the incident as
what it is ("fire (high), detected 15 Feb 2022 15:00"), each id kept small after it for
people to type back into the command line; in English and in Chinese, in Markdown and in
HTML, for a review of one incident and for a review of many (the overview). And the
placeholder of a personal value kept from the reader is said in the review's language
where it is shown, while the review's data keep it as it is."""

import re
from uuid import UUID

import pytest

from donghu_zh import donghu_in_chinese
from resilience import Engine
from resilience.i18n import language
from resilience.review import AfterActionReview
from resilience.review.sight import HIDDEN
from resilience.scenario import ReplayResult, replay, replay_file
from resilience.scenarios import DONGHU_FIRE
from test_viewer import WU, Fire, world  # noqa: F401 (world: a fixture used here)


@pytest.fixture(scope="module")
def donghu() -> dict[str, tuple[Engine, ReplayResult]]:
    """The Donghu fire replayed as shipped, and typed in Chinese by its community."""
    english, chinese = Engine("memory:"), Engine("memory:")
    return {"en": (english, replay_file(english, DONGHU_FIRE)),
            "zh-CN": (chinese, replay(chinese, donghu_in_chinese()))}


def review_of(donghu: dict[str, tuple[Engine, ReplayResult]], lang: str,
              scope: bool = False) -> tuple[AfterActionReview, UUID, UUID]:
    """The fire's review (``scope``: the review of its community's incidents) in ``lang``,
    with the incident's and the community's ids."""
    engine, replayed = donghu[lang]
    fire, community = replayed.incidents["donghu-fire"], replayed.community_id
    with language(lang):
        review = (engine.reviews.incidents(community) if scope else engine.review(fire))
    return review, fire, community


def header(markdown: str) -> list[str]:
    """The Markdown's lines before the first incident's section or the index."""
    return [line for line in markdown.split("\n## ", 1)[0].splitlines() if line]


def test_the_english_review_names_the_incident_and_the_community(
        donghu: dict[str, tuple[Engine, ReplayResult]]) -> None:
    review, fire, community = review_of(donghu, "en")
    lines = header(review.to_markdown())
    assert lines[1] == ("**Scope:** DH-2022-0001: fire (high), detected 15 Feb 2022 15:00 "
                        f"(id `{fire}`)")
    assert lines[2] == f"**Community:** Donghu Community, grid 3 (id `{community}`)"
    page = review.to_html()
    assert ("<strong>Scope:</strong> DH-2022-0001: fire (high), detected 15 Feb 2022 15:00 "
            f"<small class=\"reference\">(id <code>{fire}</code>)</small>") in page
    assert ("<strong>Community:</strong> Donghu Community, grid 3 "
            f"<small class=\"reference\">(id <code>{community}</code>)</small>") in page
    # What the review keeps is unchanged: its scope and community as before.
    assert review.scope == f"incident {fire} (Donghu Community, grid 3)"
    assert review.to_dict()["community"] == str(community)


def test_the_chinese_review_names_them_in_chinese(
        donghu: dict[str, tuple[Engine, ReplayResult]]) -> None:
    review, fire, community = review_of(donghu, "zh-CN")
    lines = header(review.to_markdown())
    assert lines[1] == ("**范围：** DH-2022-0001：火灾（高），2022年2月15日 15:00发现"
                        f"（编号 `{fire}`）")
    assert lines[2] == f"**社区：** 东湖社区，第3网格（编号 `{community}`）"
    words = re.findall(r"[A-Za-z]{2,}", " ".join(lines).replace(str(fire), "")
                       .replace(str(community), "").replace("DH-2022-0001", ""))
    assert not words  # not one English word left in the header
    page = review.to_html()
    assert ("<strong>范围：</strong> DH-2022-0001：火灾（高），2022年2月15日 15:00发现"
            f"<small class=\"reference\">（编号 <code>{fire}</code>）</small>") in page
    assert ("<strong>社区：</strong> 东湖社区，第3网格"
            f"<small class=\"reference\">（编号 <code>{community}</code>）</small>") in page


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_review_of_a_communitys_incidents_names_the_community_too(
        donghu: dict[str, tuple[Engine, ReplayResult]], lang: str) -> None:
    """In full and as an overview (one line an incident), the community by name; its scope
    says what it covers, as before."""
    review, _fire, community = review_of(donghu, lang, scope=True)
    scope = {"en": "**Scope:** ", "zh-CN": "**范围：** "}[lang]
    name = {"en": "**Community:** Donghu Community", "zh-CN": "**社区：** 东湖社区"}[lang]
    reference = {"en": f" (id `{community}`)", "zh-CN": f"（编号 `{community}`）"}[lang]
    for detail in (True, False):
        lines = header(review.to_markdown(detail=detail))
        assert lines[1] == scope + review.scope
        assert lines[2] == name + reference
    # The index names each incident by its reference, to type back (its id once in full).
    assert "DH-2022-0001" in review.to_markdown(detail=False)


def test_a_hidden_value_reads_in_the_reviews_language_where_it_is_shown(
        world: Fire) -> None:  # noqa: F811 (the fixture of test_viewer)
    """Read by another grid's leader, the Chinese review says "［已隐藏］" in Markdown and
    HTML; its data keep "[hidden]", as the English review shows it."""
    with language("zh-CN"):
        chinese = world.engine.review(world.fire, viewer=WU)
    english = world.engine.review(world.fire, viewer=WU)
    for output in (chinese.to_markdown(), chinese.to_html()):
        assert "［已隐藏］" in output
        assert "hidden" not in output
    assert "策略不允许其查看的个人信息显示为［已隐藏］" in chinese.to_markdown()
    assert chinese.incidents[0].description.endswith(f"{HIDDEN}: {HIDDEN}")
    assert HIDDEN in chinese.to_json()
    assert "\\[hidden\\]" in english.to_markdown()
    assert "［已隐藏］" not in english.to_html()
