"""The review's HTML as a real browser renders it: headless Chromium reads the page and
screenshots it.

Without Chromium these tests are skipped with the reason, unless
``RESILIENCE_REQUIRE_CHROMIUM=1``, in which case they fail.
"""

import os
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


def dump_dom(chromium: str, page: Path, profile: Path) -> str:
    done = subprocess.run(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
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
