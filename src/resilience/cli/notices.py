"""Subcommands: notifications: watch and webhooks (issue 13, part 2)."""

from resilience.cli.common import Command


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
