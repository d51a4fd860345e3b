"""``python -m resilience.cli``: the command line."""

from resilience.cli import main

raise SystemExit(main())
