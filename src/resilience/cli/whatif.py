"""Subcommands: what-if replays under another policy or target (issue 13, part 5)."""

from resilience.cli.common import Command


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
