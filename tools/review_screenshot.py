"""Screenshot an after-action review's HTML page with headless Chromium.

    python tools/review_screenshot.py review.html docs/review-donghu.png [--width W] [--height H]

The HTML is what ``AfterActionReview.to_html()`` (or ``review_to_html``) wrote.
Chromium is found as :func:`resilience.review.find_chromium` says
(``$RESILIENCE_CHROMIUM``, else chromium on the PATH). The PNG is the top
``W`` x ``H`` CSS pixels of the page: raise ``--height`` for a longer review.
"""

import argparse
import sys
from pathlib import Path

from resilience.errors import ConfigurationError
from resilience.review import screenshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the review's HTML file")
    parser.add_argument("png", type=Path, help="where to write the PNG")
    parser.add_argument("--width", type=int, default=1200, help="window width (default 1200)")
    parser.add_argument("--height", type=int, default=2000,
                        help="window height, i.e. how much of the page (default 2000)")
    args = parser.parse_args(argv)
    try:
        html = args.html.read_text(encoding="utf-8")
        written = screenshot(html, args.png, width=args.width, height=args.height)
    except (OSError, ConfigurationError) as exc:
        print(f"review_screenshot: {exc}", file=sys.stderr)
        return 1
    print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
