"""Subcommands: emergencies and mobilisation (issue 13, part 3)."""

from resilience.cli.common import Command


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
