"""Subcommands: deadlines: tick and overdue (issue 13, part 1)."""

from resilience.cli.common import Command


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
