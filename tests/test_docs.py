"""The documentation runs: every ```python and ```bash block in docs/*.md and README.md, and
every scenario.

The python blocks of one file run in order in one shared namespace (later
blocks use names from earlier ones), inside a fresh temporary directory with
``RESILIENCE_DB`` unset, so examples that open ``Engine()`` or write SQLite
files leave nothing behind. The bash blocks of one file run in order, each in
``bash -eu -o pipefail``, in a temporary directory of their own with this
environment's ``resilience`` and ``python`` first on the ``PATH``; a block that
cannot run here (it installs packages, needs a server) says so on its first
line, ``# not run: <why>``, where its reader sees it too. Each ```json block in docs/ that declares
``"format": "resilience.scenario"`` must parse and replay into a memory engine.
"""

import json
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

from resilience import Engine
from resilience.scenario import FORMAT, parse_scenario, replay

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")


def fenced_blocks(text: str, language: str) -> list[tuple[int, str]]:
    """``(first line number, code)`` of every fenced block whose info string starts with
    ``language``, in document order."""
    blocks: list[tuple[int, str]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        words = opening["info"].split()
        body: list[str] = []
        start = index + 2  # 1-based number of the block's first code line
        index += 1
        while index < len(lines):
            closing = _FENCE.match(lines[index])
            if (closing is not None and closing["fence"][0] == fence[0]
                    and len(closing["fence"]) >= len(fence) and not closing["info"].strip()):
                break
            line = lines[index]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            index += 1
        index += 1
        if words and words[0].lower() == language:
            blocks.append((start, "\n".join(body) + "\n"))
    return blocks


def documents() -> list[Path]:
    """The files whose python blocks are run: docs/*.md, and README.md when there is one."""
    found = sorted(DOCS.glob("*.md"))
    if README.is_file():
        found.append(README)
    return found


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def run_python_blocks(path: Path, name: str) -> int:
    """Execute the python blocks of ``path`` in one namespace; fail naming the file and block."""
    blocks = fenced_blocks(path.read_text(encoding="utf-8"), "python")
    module = "docs_" + re.sub(r"\W", "_", path.stem)
    namespace: dict[str, Any] = {"__name__": module}
    for number, (line, code) in enumerate(blocks, start=1):
        try:
            # Padded so that tracebacks give the line in the document and show its source.
            compiled = compile("\n" * (line - 1) + code, str(path), "exec")
            exec(compiled, namespace)
        except Exception as exc:
            detail = "".join(traceback.format_exception(exc)[1:])
            pytest.fail(f"{name}: python block {number} (line {line}) failed: "
                        f"{type(exc).__name__}: {exc}\n{detail}", pytrace=False)
    return len(blocks)


@pytest.mark.parametrize("path", [p for p in documents()
                                  if fenced_blocks(p.read_text("utf-8"), "python")], ids=_name)
def test_python_blocks_of_each_document_run_in_order(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every python block of one document runs, in order, in one namespace, in a temp dir."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RESILIENCE_DB", raising=False)
    assert run_python_blocks(path, _name(path)) > 0


def test_every_document_has_examples_that_run() -> None:
    """No page of the docs goes untested: each has a python or a bash block (docs/cli.md,
    say, is all command lines)."""
    assert [_name(p) for p in documents()
            if not fenced_blocks(p.read_text("utf-8"), "python")
            and not fenced_blocks(p.read_text("utf-8"), "bash")] == []


NOT_RUN = "# not run:"


def run_bash_blocks(path: Path, name: str, folder: Path) -> int:
    """Run the bash blocks of ``path`` in order in ``folder``; fail naming the file and
    block. Returns how many ran."""
    env = {k: v for k, v in os.environ.items()
           if k != "RESILIENCE_DB" and not k.startswith(("CIPHER_", "RESILIENCE_SIGNING"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    ran = 0
    for number, (line, code) in enumerate(fenced_blocks(path.read_text("utf-8"), "bash"), 1):
        if code.lstrip().startswith(NOT_RUN):
            continue
        done = subprocess.run(["bash", "-eu", "-o", "pipefail", "-c", code], cwd=folder,
                              env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"{name}: bash block {number} (line {line}) exited "
                        f"{done.returncode}:\n{code}\nstdout:\n{done.stdout[-3000:]}\n"
                        f"stderr:\n{done.stderr[-3000:]}", pytrace=False)
        ran += 1
    return ran


@pytest.mark.parametrize("path", [p for p in documents()
                                  if fenced_blocks(p.read_text("utf-8"), "bash")], ids=_name)
def test_bash_blocks_of_each_document_run_in_order(path: Path, tmp_path: Path) -> None:
    """Every bash block of one document runs, in order, in a temp dir, and exits 0 (or says
    on its first line why it is not run)."""
    run_bash_blocks(path, _name(path), tmp_path)


def test_every_bash_block_not_run_says_why() -> None:
    """A block is left out only with a reason: ``# not run: <why>`` with a why."""
    for path in documents():
        for line, code in fenced_blocks(path.read_text("utf-8"), "bash"):
            first = code.lstrip().splitlines()[0] if code.strip() else ""
            if first.startswith(NOT_RUN):
                assert first[len(NOT_RUN):].strip(), f"{_name(path)} line {line}: no reason"


def scenario_blocks() -> list[Any]:
    """Every ```json block in docs/*.md that is a scenario file, as a pytest param."""
    params = []
    for path in sorted(DOCS.glob("*.md")):
        for number, (line, code) in enumerate(fenced_blocks(path.read_text("utf-8"), "json"), 1):
            try:
                document = json.loads(code)
            except json.JSONDecodeError:
                continue  # a fragment (one action, a header): shown, not replayed
            if isinstance(document, dict) and document.get("format") == FORMAT:
                params.append(pytest.param(code, id=f"{_name(path)}:json{number}:line{line}"))
    return params


@pytest.mark.parametrize("text", scenario_blocks())
def test_scenario_examples_parse_and_replay(text: str) -> None:
    """Each documented scenario parses, replays into a memory engine, and re-replays as a no-op."""
    scenario = parse_scenario(text)
    with Engine("memory:") as engine:
        result = replay(engine, scenario)
        assert result.events_recorded > 0
        counts = {i: len(engine.events(i))
                  for i in [result.community_id, *result.incidents.values(),
                            *result.orders.values()]}
        replay(engine, scenario)
        assert {i: len(engine.events(i)) for i in counts} == counts


def test_scenario_format_shows_at_least_one_complete_scenario() -> None:
    """docs/scenario-format.md holds a complete scenario example that the test above replays."""
    assert any("scenario-format.md" in str(p.id) for p in scenario_blocks())


def test_a_failing_block_names_its_file_and_number(tmp_path: Path) -> None:
    """A block that raises fails the test with the file name and the block's number."""
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n```\n\ntext\n\n```python\nassert x == 2\n```\n",
                    encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match=r"page\.md: python block 2 \(line 8\)"):
        run_python_blocks(page, "page.md")
