"""Screenshots of a review's HTML page, taken with headless Chromium.

Chromium is a program outside the library, found at run time (see
:func:`find_chromium`); without one, :func:`screenshot` says how to get it.
It runs with a profile of its own in a temporary directory and reads the page
from a file there, so nothing is left behind.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from resilience.errors import ConfigurationError
from resilience.i18n import _

__all__ = ["find_chromium", "screenshot"]

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The Chromium (or Chrome) to render with, or None.

    ``$RESILIENCE_CHROMIUM`` (a path or a command name) wins; otherwise the
    first of chromium, chromium-browser, google-chrome on the PATH.
    """
    configured = os.environ.get("RESILIENCE_CHROMIUM")
    if configured:
        return shutil.which(configured)
    return next((path for name in _CHROMIUM_NAMES if (path := shutil.which(name))), None)


def screenshot(html: str, png_path: str | os.PathLike[str], *, width: int = 1200,
               height: int = 2000, timeout: float = 120.0) -> Path:
    """Render an HTML page with headless Chromium and write a width x height PNG of its top.

    Returns the PNG's path. Raises :class:`~resilience.errors.ConfigurationError`
    when no Chromium is found (see :func:`find_chromium`) or it writes no PNG.
    """
    chromium = find_chromium()
    if chromium is None:
        raise ConfigurationError(_("no Chromium to take the screenshot with: install the "
                                   "chromium package or set RESILIENCE_CHROMIUM to its path"))
    target = Path(png_path).resolve()
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="resilience-review-") as work:
        page = Path(work, "review.html")
        page.write_text(html, encoding="utf-8")
        command = [
            chromium, "--headless=new", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            # Chromium's sandbox refuses to run as root (containers, CI); the page
            # is our own and fetches nothing.
            "--no-sandbox",
            # A profile of its own, so a running browser's profile lock doesn't interfere.
            f"--user-data-dir={Path(work, 'profile')}",
            f"--window-size={width},{height}", f"--screenshot={target}", page.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise ConfigurationError(_("{chromium} took over {timeout} s").format(
                chromium=chromium, timeout=f"{timeout:g}")) from exc
    if done.returncode != 0 or not target.is_file():
        raise ConfigurationError(_("{chromium} wrote no screenshot (exit {code}): {stderr}")
                                 .format(chromium=chromium, code=done.returncode,
                                         stderr=done.stderr.strip()[-500:]))
    return target
