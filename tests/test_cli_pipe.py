"""A reader that goes away (``resilience demo | head -1``) ends the command quietly."""

import signal
import subprocess
import sys
from pathlib import Path


def test_a_closed_pipe_ends_the_command_without_a_message(tmp_path: Path) -> None:
    """The demo prints far more than a pipe holds; its reader closes after one line: the
    command exits as a program killed by SIGPIPE does, and says nothing on stderr."""
    command = [sys.executable, "-m", "resilience.cli", "demo", "--db", str(tmp_path / "d.db")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as running:
        assert running.stdout is not None
        assert running.stderr is not None
        first = running.stdout.readline()
        running.stdout.close()
        errors = running.stderr.read()
        code = running.wait(timeout=120)
    assert first.strip()
    assert errors == b""
    assert code == 128 + signal.SIGPIPE
