"""Where each benchmark leaves its headline figures, for the table ``make bench`` ends with.

Every benchmark script calls ``record(name, rows)`` with the rows it measured; the last
step of ``make bench`` (``python benchmarks/table.py``) prints one table of them all,
beside the figures the issue started from and the goals. ``rows`` maps a row's label
(the table's row, e.g. ``"metrics all time @100k"``) to its value and unit.
"""

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def record(name: str, rows: dict[str, dict[str, Any]]) -> Path:
    """Write ``rows`` (label -> {"value": number, "unit": "ms" | "x" | "s" | "MiB" | ...,
    optional "note": text, optional "answer": the size of a query's answer, in cases or
    rows}) as ``benchmarks/results/<name>.json``; return the file."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_all() -> dict[str, dict[str, dict[str, Any]]]:
    """Every benchmark's recorded rows, by benchmark name."""
    if not RESULTS.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(RESULTS.glob("*.json"))}
