"""The closing table of ``make bench``: each figure of issue 14, before and after, and its goal.

    python benchmarks/table.py [--results DIR] [--notes]

"before" is the figure the issue started from (hard-coded here, as the issue gave it);
"after" is what the benchmarks recorded last (``benchmarks/results/*.json``, written by
``record(name, rows)`` in each script: the labels are listed in each script and read here
by label). A row whose benchmark did not run (or did not record it) reads "not run".
Goals are the issue's: a ratio against its floor (bulk ≥ 0.9 of plain eventsourcing's
batched ``save()``, rebuild ≥ 0.5 of reading and decoding the same events), a bound
(< 15 ms, < 60 s, < 300 MiB, < 1 s), or flat in history: the larger sizes within a factor
of the smallest size measured in the same run (1.2x for commands, as the issue asks; 1.5x
for queries, times how much larger their answer is, where it grew: a query should cost
what it returns, and a longer untidy history leaves more cases open at a cut). Rows
recorded by the benchmarks that are not the issue's follow in a second table, as context.
"""

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results


@dataclass(frozen=True)
class Figure:
    """A recorded row: its value, unit, note and the benchmark that recorded it."""

    value: float
    unit: str
    note: str
    source: str
    answer: int | None = None
    """The size of the query's answer (cases, rows), where the benchmark says."""


Found = dict[str, Figure]
Check = Callable[[Found], tuple[str, str]]
"""A goal: (its wording, "met" / "not met" / "not run" / "-") from the figures found."""


def below(limit: float, unit: str) -> Callable[[str], Check]:
    def goal(label: str) -> Check:
        def check(found: Found) -> tuple[str, str]:
            text = f"< {limit:,g} {unit}"
            if label not in found:
                return text, "not run"
            return text, "met" if found[label].value < limit else "NOT MET"
        return check
    return goal


def at_least(floor: float) -> Callable[[str], Check]:
    def goal(label: str) -> Check:
        def check(found: Found) -> tuple[str, str]:
            text = f"≥ {floor:g}"
            if label not in found:
                return text, "not run"
            return text, "met" if found[label].value >= floor else "NOT MET"
        return check
    return goal


def flat(base: str, factor: float, base_name: str, *,
         per_answer: bool = False) -> Callable[[str], Check]:
    """Within ``factor`` of the row ``base`` (the same query at the smallest size);
    ``per_answer``: of ``base`` scaled by how much larger the answer is (a query as costly
    as what it returns: a history that leaves more cases open answers with more of them)."""
    def goal(label: str) -> Check:
        def check(found: Found) -> tuple[str, str]:
            if label == base:
                return "(the base)", "-" if label in found else "not run"
            text = f"≤ {factor:g}x {base_name}"
            if per_answer:
                text += " x answer"
            if label not in found or base not in found:
                return text, "not run"
            this, then = found[label], found[base]
            grown = 1.0
            if per_answer and this.answer and then.answer:
                grown = max(1.0, this.answer / then.answer)
            ratio = this.value / then.value
            shown = f"{ratio:.3f}x" + (f", answer {grown:.1f}x" if grown > 1 else "")
            return f"{text} ({shown})", "met" if ratio <= factor * grown else "NOT MET"
        return check
    return goal


def context(label: str) -> Check:
    def check(found: Found) -> tuple[str, str]:
        return "context", "-" if label in found else "not run"
    return check


@dataclass(frozen=True)
class Row:
    label: str
    """The label a benchmark records (/work/h14/labels.md)."""
    shown: str
    before: str
    goal: Callable[[str], Check]


def queries(name: str, label: str, before: tuple[str, str, str],
            goal: Callable[[str, str], Callable[[str], Check]]) -> list[Row]:
    return [Row(f"{label} @{size}", f"{name} @{size} incidents", figure, goal(label, size))
            for size, figure in zip(("1k", "10k", "100k"), before, strict=True)]


def flat_queries(label: str, size: str) -> Callable[[str], Check]:
    return flat(f"{label} @1k", 1.5, "@1k", per_answer=True)


def under_a_second(label: str, size: str) -> Callable[[str], Check]:
    return below(1000, "ms")


def report(mode: str, before: tuple[str, str, str]) -> list[Row]:
    base = f"report {mode} @new"
    return [Row(label, f"report, {mode} engine, {shown}", figure, flat(base, 1.2, "@new"))
            for label, shown, figure in zip(
                (base, f"report {mode} @1k facts", f"report {mode} @10k facts"),
                ("new community", "1k community facts", "10k community facts"), before,
                strict=True)]


SECTIONS: list[tuple[str, list[Row]]] = [
    ("Queries, SQLite, one community (benchmarks/history.py)", [
        *queries("review of one month", "review of one month",
                 ("275 ms", "1,055 ms", "8,552 ms"), flat_queries),
        *queries("replay.community(as_of)", "replay.community(as_of)",
                 ("48 ms", "550 ms", "6,046 ms"), flat_queries),
        *queries("metrics, all time", "metrics all time",
                 ("75 ms", "1,221 ms", "12,199 ms"), under_a_second),
        *queries("metrics, one month", "metrics one month",
                 ("15 ms", "17 ms", "18 ms"), flat_queries),
    ]),
    ("Commands in a growing community, SQLite (benchmarks/commands.py)", [
        # The figures are a report reloading the community without the cache; the
        # lead measured a fresh engine's first report at 2.3 / 18.6 / 178 ms and a warm
        # engine already flat (0.58 ms) before the work began.
        *report("cold", ("0.6 ms (lead: 2.3)", "13.5 ms (lead: 18.6)", "132 ms (lead: 178)")),
        *report("warm", ("0.58 ms", "0.58 ms", "0.58 ms")),
        *[Row(label, f"orders.place, cold engine, {shown}", "-",
              flat("place order cold @new", 1.2, "@new"))
          for label, shown in (("place order cold @new", "new community"),
                               ("place order cold @1k facts", "1k community facts"),
                               ("place order cold @10k facts", "10k community facts"))],
    ]),
    ("Against plain eventsourcing, paired (commands.py, rebuild.py)", [
        Row("bulk ratio sqlite", "bulk: engine.batch() / plain batched save(), SQLite",
            "0.755", at_least(0.9)),
        Row("bulk ratio postgres", "bulk: engine.batch() / plain batched save(), PostgreSQL",
            "0.71", at_least(0.9)),
        Row("rebuild ratio sqlite 100k", "rebuild / read+decode, 100k events, SQLite", "0.43",
            at_least(0.5)),
        Row("rebuild ratio postgres 100k", "rebuild / read+decode, 100k events, PostgreSQL",
            "0.43", at_least(0.5)),
        Row("rebuild ratio sqlite 1M", "rebuild / read+decode, 1M events, SQLite", "0.33",
            at_least(0.5)),
        Row("rebuild ratio postgres 1M", "rebuild / read+decode, 1M events, PostgreSQL",
            "not measured", at_least(0.5)),
        Row("rebuild wall sqlite 1M", "1M-event rebuild, wall, SQLite", "44–53 s",
            below(60, "s")),
        Row("rebuild peak RSS sqlite 1M", "1M-event rebuild, peak RSS, SQLite", "250 MiB",
            below(300, "MiB")),
        Row("rebuild wall postgres 1M", "1M-event rebuild, wall, PostgreSQL", "not measured",
            below(60, "s")),
        Row("rebuild peak RSS postgres 1M", "1M-event rebuild, peak RSS, PostgreSQL",
            "not measured", below(300, "MiB")),
        Row("commands ratio sqlite", "commands one at a time / plain save(), SQLite", "0.94",
            at_least(0.8)),
        Row("commands ratio postgres", "commands one at a time / plain save(), PostgreSQL",
            "0.98", at_least(0.8)),
        Row("commands ratio vs cached plain sqlite",
            "commands / plain with its aggregate cache, SQLite", "1.33", context),
        Row("commands ratio vs cached plain postgres",
            "commands / plain with its aggregate cache, PostgreSQL", "1.20", context),
    ]),
    ("P5: one incident of 1,000 facts replayed at a cut (benchmarks/replay.py)", [
        Row("P5 incident of 1,000 facts at a cut", "replay.incident(as_of), 1,000 facts",
            "20–21.6 ms", below(15, "ms")),
        Row("P5 read+decode alone", "reading and decoding its events alone", "13.5 ms",
            context),
    ]),
]


def number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}"
    if unit == "ms":
        shown = f"{value:,.2f}" if value < 10 else f"{value:,.1f}" if value < 100 \
            else f"{value:,.0f}"
        return f"{shown} ms"
    if unit == "s":
        return f"{value:,.1f} s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:,.4g} {unit}".rstrip()


def gather(recorded: dict[str, dict[str, dict[str, Any]]], mtimes: dict[str, float]) -> Found:
    """Every recorded row by label; where two benchmarks recorded one label (a rebuild run
    per store and size, say), the one recorded last."""
    found: Found = {}
    for name in sorted(recorded, key=lambda n: mtimes.get(n, 0.0)):
        for label, row in recorded[name].items():
            try:
                answer = row.get("answer")
                found[label] = Figure(float(row["value"]), str(row.get("unit", "")),
                                      str(row.get("note", "")), name,
                                      int(answer) if answer is not None else None)
            except (KeyError, TypeError, ValueError):
                continue  # a row without a number is not a figure
    return found


def aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                          strict=True)) + " |"
             for row in rows]
    lines.insert(1, "| " + " | ".join("-" * width for width in widths) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--results", type=Path, default=results.RESULTS,
                        help="the folder of recorded results (default benchmarks/results)")
    parser.add_argument("--notes", action="store_true", help="show each figure's note")
    args = parser.parse_args(argv)
    results.RESULTS = args.results
    recorded = results.load_all()
    mtimes = {path.stem: path.stat().st_mtime for path in args.results.glob("*.json")}
    found = gather(recorded, mtimes)
    header = ["what", "before", "after", "goal", "met?"] + (["note"] if args.notes else [])
    shown_labels: set[str] = set()
    met = missed = missing = 0
    print("Issue 14: before (the issue's figures) and after (benchmarks/results/*.json)")
    for title, rows in SECTIONS:
        table = [header]
        for row in rows:
            goal, verdict = row.goal(row.label)(found)
            figure = found.get(row.label)
            after = number(figure.value, figure.unit) if figure else "not run"
            table.append([row.shown, row.before, after, goal, verdict]
                         + ([figure.note if figure else ""] if args.notes else []))
            shown_labels.add(row.label)
            met += verdict == "met"
            missed += verdict == "NOT MET"
            missing += verdict == "not run"
        print(f"\n{title}\n")
        print("\n".join(aligned(table)))
    others = [[label, number(figure.value, figure.unit), figure.source, figure.note]
              for label, figure in sorted(found.items(), key=lambda i: (i[1].source, i[0]))
              if label not in shown_labels]
    if others:
        print("\nAlso recorded (context: no goal of the issue)\n")
        print("\n".join(aligned([["label", "figure", "benchmark", "note"], *others])))
    print(f"\n{met} goals met, {missed} not met, {missing} not run.")
    failed = args.results / "failed.txt"
    if failed.exists() and failed.read_text().strip():
        print("Failed (their rows read \"not run\"): "
              + "; ".join(line for line in failed.read_text().splitlines() if line))
    started = args.results / "started"
    if started.exists():  # written by make bench as it begins
        minutes = (time.time() - float(started.read_text())) / 60
        print(f"make bench ran for {minutes:.0f} minutes.")
    if mtimes:
        print("Recorded: " + ", ".join(
            f"{name} {time.strftime('%Y-%m-%d %H:%M', time.localtime(moment))}"
            for name, moment in sorted(mtimes.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
