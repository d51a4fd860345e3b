"""The review's HTML as a real browser renders it: headless Chromium reads the page and
screenshots it.

Without Chromium these tests are skipped with the reason, unless
``RESILIENCE_REQUIRE_CHROMIUM=1``, in which case they fail.
"""

import html
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from attrs import evolve

from resilience.errors import ConfigurationError
from resilience.review import find_chromium, screenshot
from resilience.review.model import AfterActionReview
from test_review_render import donghu

__all__ = ["donghu"]  # the fixture, shared with the render tests

REQUIRE = os.environ.get("RESILIENCE_REQUIRE_CHROMIUM", "") not in ("", "0", "false", "no")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def chromium() -> str:
    """The Chromium binary, or a skip (a failure when RESILIENCE_REQUIRE_CHROMIUM is set)."""
    found = find_chromium()
    if found is None:
        reason = ("headless Chromium not found (apt-get install chromium, or set "
                  "RESILIENCE_CHROMIUM to its path)")
        if REQUIRE:
            pytest.fail(f"RESILIENCE_REQUIRE_CHROMIUM is set but {reason}")
        pytest.skip(reason)
    return found


def dump_dom(chromium: str, page: Path, profile: Path, *extra: str) -> str:
    done = subprocess.run(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={profile}", *extra, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first, right after the signature)."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_chromium_renders_the_review(chromium: str, donghu: AfterActionReview,
                                     tmp_path: Path) -> None:
    """The browser's DOM holds the title, grades, responders, the chart and its target line."""
    page = tmp_path / "review.html"
    page.write_text(donghu.to_html(), encoding="utf-8")
    dom = dump_dom(chromium, page, tmp_path / "profile")
    assert "<title>After-action review: Donghu kitchen fire, 15 February 2022</title>" in dom
    assert '<span class="badge grade-P" title="performed without challenges">P</span>' in dom
    assert '<span class="badge grade-S"' in dom
    assert "<svg" in dom
    assert 'role="img"' in dom
    assert ">15-min target</text>" in dom
    assert dom.count('class="row responder"') == 3
    for name in ("Wang Fang", "Li Wei", "Zhao Min"):
        assert name in dom


def test_chromium_shows_hostile_text_as_text(chromium: str, donghu: AfterActionReview,
                                             tmp_path: Path) -> None:
    """A description holding a script element stays text: the browser builds no script."""
    hostile = '<script>document.title = "pwned"</script>'
    review = evolve(donghu, incidents=(evolve(donghu.incidents[0], description=hostile),))
    page = tmp_path / "review.html"
    page.write_text(review.to_html(), encoding="utf-8")
    dom = dump_dom(chromium, page, tmp_path / "profile")
    assert "<script" not in dom
    assert "&lt;script&gt;" in dom
    assert "pwned</title>" not in dom


def test_screenshot_writes_a_png_of_the_page(chromium: str, donghu: AfterActionReview,
                                             tmp_path: Path) -> None:
    """screenshot() writes a PNG of the asked size with real content in it."""
    target = screenshot(donghu.to_html(), tmp_path / "review.png", width=1200, height=2000)
    data = target.read_bytes()
    assert png_size(data) == (1200, 2000)
    assert len(data) > 50_000  # a blank page compresses to a few kilobytes


def test_find_chromium_honours_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """RESILIENCE_CHROMIUM names the binary; a missing one means no Chromium at all."""
    monkeypatch.setenv("RESILIENCE_CHROMIUM", sys.executable)
    assert find_chromium() == sys.executable
    monkeypatch.setenv("RESILIENCE_CHROMIUM", "/nonexistent/chromium")
    assert find_chromium() is None


def test_screenshot_without_chromium_is_a_configuration_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without Chromium, screenshot() raises ConfigurationError saying how to get one."""
    monkeypatch.setenv("RESILIENCE_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(ConfigurationError, match="chromium"):
        screenshot("<!DOCTYPE html><title>x</title>", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_chromium_renders_the_computed_donghu_review(chromium: str, tmp_path: Path) -> None:
    """The review the engine computes from the Donghu scenario shows, in a real browser, the
    containment graded P at 12 minutes, the target line, the responders and the plan."""
    from resilience import Engine
    from resilience.scenario import load_scenario, replay
    from resilience.scenarios import DONGHU_FIRE

    with Engine("memory:") as engine:
        result = replay(engine, load_scenario(DONGHU_FIRE))
        review = engine.review(result.incidents["donghu-fire"])
    page = tmp_path / "donghu.html"
    page.write_text(review.to_html(), encoding="utf-8")
    dom = dump_dom(chromium, page, tmp_path / "profile")
    assert "<svg" in dom
    assert "15-min target" in dom
    assert "Contain the incident within 15 minutes of detection" in dom
    assert "15:12 · +12 min" in dom
    for name in ("Zhang Chuanlian", "Li (emergency squad, veteran)"):
        assert name in dom
    assert "Clear basement storage-room clutter in grid 3" in dom


PHONE = 420
"""A phone's CSS width. Headless Chromium's window is at least 500 px wide, so the page is
laid out at this width in a frame of it, in a page that measures it once laid out and
writes what it found where --dump-dom shows it (the review itself has no script)."""
MEASURE = """<!DOCTYPE html><html><body>
<iframe id="page" width="{width}" height="900" srcdoc="{page}"></iframe>
<script>
window.addEventListener("load", () => {{
  const page = document.getElementById("page").contentDocument;
  const chart = page.querySelector("figure.chart svg").getBoundingClientRect();
  const label = page.querySelector("svg text.label").getBoundingClientRect();
  const found = document.body.dataset;
  found.chart = Math.round(chart.width);
  found.label = Math.round(label.height);
  found.page = page.documentElement.scrollWidth;
  found.font = getComputedStyle(page.body).fontFamily;
  found.lang = page.documentElement.lang;
  found.text = page.body.innerText;
}});
</script></body></html>"""


def measured(dom: str, name: str) -> str:
    found = re.search(rf'data-{name}="([^"]*)"', dom)
    assert found is not None, f"the page measured no {name}"
    return html.unescape(found.group(1))


def test_chromium_lays_the_chinese_review_out_on_a_phone(chromium: str, tmp_path: Path) -> None:
    """The Donghu fire typed and reviewed in Chinese, 420 px wide: the page declares zh-CN
    and shows the Chinese words; it does not scroll sideways as a whole (wide tables
    scroll in their own boxes); the chart keeps a legible width (it scrolls rather than
    shrinking to 40%) and the CJK fonts are in the font stack."""
    from donghu_zh import donghu_in_chinese
    from resilience import Engine
    from resilience.i18n import language
    from resilience.scenario import replay

    with Engine("memory:") as engine, language("zh-CN"):
        result = replay(engine, donghu_in_chinese())
        review = engine.review(result.incidents["donghu-fire"])
    page = tmp_path / "phone.html"
    page.write_text(MEASURE.format(width=PHONE, page=html.escape(review.to_html())),
                    encoding="utf-8")
    dom = dump_dom(chromium, page, tmp_path / "profile", "--virtual-time-budget=5000")
    assert measured(dom, "lang") == "zh-CN"
    text = measured(dom, "text")
    for words in ("发现后15分钟内控制事件", "顺利完成", "张传连到场",
                  "已控制：15:14 → 15:12（值班电话记录显示15:12报告险情解除）"):
        assert words in text
    assert int(measured(dom, "page")) <= PHONE
    assert int(measured(dom, "chart")) >= 860
    assert int(measured(dom, "label")) >= 12
    assert "Noto Sans CJK SC" in measured(dom, "font")


SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "review-donghu-zh-CN.png"


def test_chromium_screenshots_the_chinese_review(chromium: str, tmp_path: Path) -> None:
    """The Chinese review's screenshot has real content. With RESILIENCE_UPDATE_SCREENSHOTS=1
    it is written to docs/review-donghu-zh-CN.png, the one the docs show (docs/i18n.md)."""
    from donghu_zh import donghu_in_chinese
    from resilience import Engine
    from resilience.i18n import language
    from resilience.review.titles import incident_review_scope, incident_review_title
    from resilience.scenario import replay

    with Engine("memory:") as engine, language("zh-CN"):
        review = engine.review(replay(engine, donghu_in_chinese()).incidents["donghu-fire"])
        incident = review.incidents[0]
        # The services word the title in English until they use resilience.review.titles.
        review = evolve(review, title=incident_review_title(
            incident.incident_type, incident.severity, incident.grid, incident.community_name,
            incident.detected_at), scope=incident_review_scope(
            incident.incident_id, incident.community_name, incident.grid))
    target = screenshot(review.to_html(), tmp_path / "zh.png", width=1200, height=2400)
    data = target.read_bytes()
    assert png_size(data) == (1200, 2400)
    assert len(data) > 100_000
    if os.environ.get("RESILIENCE_UPDATE_SCREENSHOTS", "") not in ("", "0"):
        SCREENSHOT.write_bytes(data)
