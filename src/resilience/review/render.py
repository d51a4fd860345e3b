"""Render an after-action review: as JSON-ready data, as Markdown, or as one HTML file.

The Markdown and the HTML are written from one list of blocks (headings,
paragraphs, tables, lists) so they always say the same thing; the HTML adds
coloured grade badges and, per incident, an inline SVG chart of the response.
The HTML needs nothing from the network (inline CSS and SVG, no scripts) so it
can be mailed, archived and opened offline. :func:`screenshot` turns it into a
PNG with headless Chromium.
"""

import json
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from enum import Enum
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from resilience.adapters.converter import converter
from resilience.errors import ConfigurationError
from resilience.metrics import DEFAULT_LATE_AFTER
from resilience.review.model import (
    AfterActionReview,
    Grade,
    IncidentReview,
    Milestone,
    ResponderTrack,
)
from resilience.review.text import minutes, words
from resilience.timeline import TimelineEntry

__all__ = [
    "find_chromium",
    "review_to_dict",
    "review_to_html",
    "review_to_json",
    "review_to_markdown",
    "screenshot",
]

# ---------------------------------------------------------------- data

# What renderers may rely on a plan item having (it is read by attribute only,
# so any class with these works).
PLAN_ITEM_ATTRIBUTES = (
    "item_id", "review", "incident_id", "community", "grid", "objective", "action",
    "owner", "due", "status", "planned_at", "completed_at", "overdue",
)


def review_to_dict(review: AfterActionReview) -> dict[str, Any]:
    """Every field of the review and of everything in it, as JSON-ready values.

    Datetimes become ISO 8601 strings with their offset, durations seconds,
    enums their values, UUIDs strings and tuples lists.
    """
    # The plan items' class is declared only for type checkers, so cattrs can't
    # resolve the review's own field types: unstructure field by field instead.
    data = {
        field.name: converter.unstructure(getattr(review, field.name))
        for field in attrs.fields(AfterActionReview)
        if field.name not in ("plan", "still_open")
    }
    data["drills"] = review.drills
    data["plan"] = [_plan_item_to_dict(item) for item in review.plan]
    data["still_open"] = [_plan_item_to_dict(item) for item in review.still_open]
    plain: dict[str, Any] = _plain(data)
    return plain


def review_to_json(review: AfterActionReview, indent: int | None = 2) -> str:
    """The review as a JSON document (see :func:`review_to_dict`)."""
    return json.dumps(review_to_dict(review), indent=indent, ensure_ascii=False)


def _plan_item_to_dict(item: Any) -> dict[str, Any]:
    # ``overdue`` may be a property, so attrs fields alone would miss it.
    names = list(PLAN_ITEM_ATTRIBUTES)
    if attrs.has(type(item)):
        names += [f.name for f in attrs.fields(type(item)) if f.name not in names]
    return {name: converter.unstructure(getattr(item, name)) for name in names}


def _plain(value: Any) -> Any:
    # The JSON converter passes str-based enums through unchanged; JSON
    # consumers (and equality after a round trip) want their bare values.
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


# ---------------------------------------------------------------- formatting


def _number(value: float) -> str:
    rounded = round(value, 1)
    return f"{rounded:g}" if rounded != 0 else "0"


def _in_minutes(duration: timedelta) -> float:
    return duration.total_seconds() / 60


def _duration(duration: timedelta | None) -> str:
    return "—" if duration is None else minutes(duration)


def _since(at: datetime, origin: datetime) -> str:
    elapsed = _in_minutes(at - origin)
    return ("+" if elapsed >= 0 else "") + _number(elapsed)


def _offset(at: datetime) -> str:
    raw = at.strftime("%z")
    return f"{raw[:3]}:{raw[3:5]}" if raw else ""


def _stamp(at: datetime | None) -> str:
    """A moment with its date and UTC offset, as it was given."""
    if at is None:
        return "—"
    return f"{at:%Y-%m-%d %H:%M} {_offset(at)}".rstrip()


def _local(at: datetime, origin: datetime) -> datetime:
    """A moment in the incident's own offset (detection's)."""
    zone: tzinfo | None = origin.tzinfo
    return at.astimezone(zone) if zone is not None and at.tzinfo is not None else at


def _clock(at: datetime, origin: datetime) -> str:
    """A moment in the incident's own offset; the date only when not detection's."""
    local = _local(at, origin)
    text = f"{local:%H:%M:%S}" if local.second else f"{local:%H:%M}"
    return text if local.date() == origin.date() else f"{local:%Y-%m-%d} {text}"


def _words(value: Any) -> str:
    return words(value.value if isinstance(value, Enum) else str(value))


# ---------------------------------------------------------------- document blocks


@frozen
class _Badge:
    """A grade: a coloured letter in HTML, a bold one in Markdown."""

    grade: Grade | None
    text: str = ""
    pending: bool = False

    @property
    def letter(self) -> str:
        if self.grade is not None:
            return self.grade.value
        return "…" if self.pending else "n/a"


@frozen
class _Mark:
    """A short verdict whose tone HTML colours (good, bad, note)."""

    text: str
    tone: str


_Cell = str | _Badge | _Mark


@frozen
class _Heading:
    level: int
    text: str


@frozen
class _Para:
    text: str
    label: str = ""
    css: str = ""


@frozen
class _Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[_Cell, ...], ...]
    css: str = ""


@frozen
class _List:
    items: tuple[_Para, ...]


@frozen
class _Chart:
    incident: IncidentReview
    number: int


@frozen
class _Section:
    css: str
    blocks: tuple["_Block", ...]


_Block = _Heading | _Para | _Table | _List | _Chart | _Section


def _document(review: AfterActionReview) -> tuple[_Block, ...]:
    blocks: list[_Block] = [_front_matter(review)]
    if len(review.incidents) > 1:
        blocks.append(_overall(review))
    blocks += [_incident(incident, n) for n, incident in enumerate(review.incidents, 1)]
    blocks.append(_plan(review))
    return tuple(blocks)


def _front_matter(review: AfterActionReview) -> _Section:
    where = review.community + (f", grid {review.grid}" if review.grid else "")
    blocks: list[_Block] = [
        _Heading(1, review.title),
        _Para(review.scope, "Scope", "meta"),
        _Para(where, "Community", "meta"),
    ]
    if review.as_of is not None:
        blocks.append(_Para(f"{_stamp(review.as_of)} (only what had happened by then)",
                            "As of", "meta"))
    if review.known_at is not None:
        blocks.append(_Para(f"{_stamp(review.known_at)} (only what had been recorded by then)",
                            "Known at", "meta"))
    if len(review.incidents) != 1:
        drills = f", {review.drills} of them drills" if review.drills else ""
        blocks.append(_Para(f"{len(review.incidents)}{drills}", "Incidents", "meta"))
    blocks.append(_Para(_stamp(review.generated_at), "Generated", "meta"))
    return _Section("front", tuple(blocks))


def _overall(review: AfterActionReview) -> _Section:
    keys = ("P", "S", "M", "U", "n/a", "pending")
    rows: tuple[tuple[_Cell, ...], ...] = tuple(
        (summary.title, _badge(summary.grade), *_counts(summary.counts, keys))
        for summary in review.objectives
    )
    return _Section("overall", (
        _Heading(2, f"Objectives across {len(review.incidents)} incidents"),
        _Table(("Objective", "Grade", *keys), rows, "summary"),
    ))


def _counts(counts: Mapping[str, int], keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(counts.get(key, 0)) for key in keys)


def _badge(grade: Grade | None, pending: bool = False) -> _Badge:
    if grade is not None:
        return _Badge(grade, grade.meaning)
    return _Badge(None, "not graded yet" if pending else "did not apply", pending)


def _incident(incident: IncidentReview, number: int) -> _Section:
    name = incident.people.get
    facts = [
        f"{'Drill' if incident.drill else 'Incident'} {incident.incident_id}",
        f"{_words(incident.incident_type)}, {_words(incident.severity)}",
        incident.community_name + (f", grid {incident.grid}" if incident.grid else ""),
        f"detected {_stamp(incident.detected_at)}",
        f"status {_words(incident.status)}",
    ]
    if incident.commander:
        facts.append(f"commander {name(incident.commander, incident.commander)}")
    # The detection's own description already says "[drill]" when it is one.
    marked = incident.drill and "[drill]" not in incident.description
    title = incident.description + (" (drill)" if marked else "")
    return _Section("incident", (
        _Heading(2, title),
        _Para(" · ".join(facts), css="facts"),
        _Para(" ".join(incident.summary), "Summary", "summary"),
        _Chart(incident, number),
        _Heading(3, "Objectives"),
        _objectives(incident),
        _Heading(3, "Segments"),
        _segments(incident),
        _Heading(3, "Strengths"),
        _findings(incident, incident.strengths, "No strengths recorded."),
        _Heading(3, "Areas for improvement"),
        _findings(incident, incident.improvements, "No areas for improvement recorded."),
        _Heading(3, "Data quality"),
        _quality(incident),
        _Heading(3, "Timeline"),
        _timeline(incident),
    ))


def _objectives(incident: IncidentReview) -> _Table | _Para:
    if not incident.objectives:
        return _Para("No objectives were graded.", css="empty")
    rows = tuple(
        (result.title, _badge(result.grade, result.pending),
         _measured(result.measured, result.target), result.evidence)
        for result in incident.objectives
    )
    return _Table(("Objective", "Grade", "Measured", "Evidence"), rows, "objectives")


def _measured(measured: timedelta | None, target: timedelta | None) -> str:
    if measured is None and target is None:
        return "—"
    if target is None:
        return _duration(measured)
    return f"{_duration(measured)} (target {_duration(target)})"


def _segments(incident: IncidentReview) -> _Table | _Para:
    if not incident.segments:
        return _Para("No segments were measured.", css="empty")
    rows = tuple(
        (f"{segment.name}: {segment.description}", _duration(segment.duration),
         _duration(segment.first_recorded), _duration(segment.target), _met(segment.met))
        for segment in incident.segments
    )
    headers = ("Metric", "As corrected", "As first recorded", "Target", "Met")
    return _Table(headers, rows, "segments")


def _met(met: bool | None) -> _Mark:
    if met is None:
        return _Mark("—", "none")
    return _Mark("yes", "good") if met else _Mark("no", "bad")


def _findings(incident: IncidentReview, findings: Iterable[Any], none: str) -> _List | _Para:
    titles = {result.name: result.title for result in incident.objectives}
    items = []
    for finding in findings:
        notes = []
        title = titles.get(finding.objective, finding.objective) if finding.objective else ""
        if title and title not in finding.text:
            notes.append(title)
        if finding.versions:
            notes.append("facts " + ", ".join(f"#{v}" for v in finding.versions))
        items.append(_Para(finding.text + (f" ({'; '.join(notes)})" if notes else "")))
    return _List(tuple(items)) if items else _Para(none, css="empty")


_FLAG_LABELS = {
    "missing": "Missing",
    "out_of_order": "Out of order",
    "late": "Late record",
    "correction": "Correction",
}


def _quality(incident: IncidentReview) -> _List | _Para:
    if not incident.quality:
        return _Para("No data-quality problems found.", css="empty")
    return _List(tuple(
        _Para(flag.text + (f" (fact #{flag.version})" if flag.version is not None else ""),
              _FLAG_LABELS.get(flag.kind, flag.kind))
        for flag in incident.quality
    ))


def _timeline(incident: IncidentReview) -> _Table | _Para:
    if not incident.timeline.entries:
        return _Para("No facts recorded.", css="empty")
    late = {flag.version for flag in incident.quality if flag.kind == "late"}
    origin = incident.detected_at
    rows = tuple(
        (str(entry.version), _clock(entry.occurred_at, origin),
         _since(entry.occurred_at, origin), _who(incident, entry), entry.details,
         _Mark("; ".join(_entry_notes(entry, origin, entry.version in late)), "note"))
        for entry in incident.timeline.entries
    )
    return _Table(("#", "Time", "+min", "Who", "What", "Notes"), rows, "timeline")


def _who(incident: IncidentReview, entry: TimelineEntry) -> str:
    person = entry.actor.person_id
    return f"{incident.people.get(person, person)} ({_words(entry.actor.role)})"


def _entry_notes(entry: TimelineEntry, origin: datetime, flagged_late: bool) -> list[str]:
    notes = []
    if entry.original_occurred_at != entry.occurred_at:
        notes.append(f"time corrected from {_clock(entry.original_occurred_at, origin)}")
    if entry.original_details != entry.details:
        notes.append(f"first recorded as “{entry.original_details}”")
    if entry.is_corrected and not notes:
        notes.append("corrected")
    # The review's own flags decide; the library default covers reviews built
    # without late-record flags.
    if flagged_late or entry.record_delay > DEFAULT_LATE_AFTER:
        notes.append(f"recorded {_clock(entry.recorded_at, origin)}, "
                     f"{_duration(entry.record_delay)} late")
    return notes


def _plan(review: AfterActionReview) -> _Section:
    people: dict[str, str] = {}
    for incident in review.incidents:
        people.update(incident.people)
    titles = {summary.name: summary.title for summary in review.objectives}
    for incident in review.incidents:
        titles.update({result.name: result.title for result in incident.objectives})
    headers = ("Action", "Owner", "Due", "Status", "Objective")

    def row(item: Any, *extra: str) -> tuple[_Cell, ...]:
        objective = titles.get(item.objective, item.objective) if item.objective else "—"
        return (item.action, people.get(item.owner, item.owner), _stamp(item.due),
                _status(item), objective, *extra)

    plan: _Table | _Para = (
        _Table(headers, tuple(row(item) for item in review.plan), "plan")
        if review.plan else _Para("No improvement items were raised.", css="empty")
    )
    still_open: _Table | _Para = (
        _Table((*headers, "Raised in"),
               tuple(row(item, _raised(item)) for item in review.still_open), "plan")
        if review.still_open else _Para("Nothing is still open from earlier reviews.",
                                        css="empty")
    )
    return _Section("plan", (
        _Heading(2, "Improvement plan"), plan,
        _Heading(2, "Still open from earlier reviews"), still_open,
    ))


def _status(item: Any) -> _Mark:
    status = _words(item.status)
    if item.overdue:
        return _Mark(f"{status}, overdue", "bad")
    return _Mark(status, "good" if status == "done" else "none")


def _raised(item: Any) -> str:
    planned: datetime | None = item.planned_at
    return str(item.review) + (f", {planned:%Y-%m-%d}" if planned is not None else "")


# ---------------------------------------------------------------- Markdown


def review_to_markdown(review: AfterActionReview) -> str:
    """The review as an HSEEP-style after-action report in Markdown."""
    lines: list[str] = []
    for block in _document(review):
        lines += _markdown(block)
    return "\n".join(lines).rstrip() + "\n"


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*[]<|"})


def _md(text: str) -> str:
    # Data is plain text: keep it from turning into markup, raw HTML or extra
    # table columns.
    return " ".join(text.split()).translate(_MD_SPECIAL)


def _md_line(text: str) -> str:
    # At the start of a line these would make a heading, list or quote.
    flat = _md(text)
    return "\\" + flat if flat[:1] in ("#", "-", "+", ">", "=") else flat


def _markdown(block: _Block) -> list[str]:
    if isinstance(block, _Section):
        return [line for inner in block.blocks for line in _markdown(inner)]
    if isinstance(block, _Heading):
        return ["#" * block.level + " " + _md(block.text), ""]
    if isinstance(block, _Para):
        return [_md_para(block), ""]
    if isinstance(block, _List):
        return [*("- " + _md_para(item) for item in block.items), ""]
    if isinstance(block, _Table):
        return [
            "| " + " | ".join(_md(h) for h in block.headers) + " |",
            "|" + "|".join("---" for _ in block.headers) + "|",
            *("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows),
            "",
        ]
    return []  # the chart is drawn in HTML only; the timeline table holds its facts


def _md_para(para: _Para) -> str:
    return f"**{_md(para.label)}:** {_md(para.text)}" if para.label else _md_line(para.text)


def _md_cell(cell: _Cell) -> str:
    if isinstance(cell, _Badge):
        return f"**{cell.letter}** {_md(cell.text)}"
    if isinstance(cell, _Mark):
        return _md(cell.text)
    return _md(cell)


# ---------------------------------------------------------------- HTML


def review_to_html(review: AfterActionReview) -> str:
    """The review as one self-contained HTML5 page: inline CSS and SVG, nothing fetched."""
    body = "\n".join(_html(block) for block in _document(review))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(review.title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _html(block: _Block) -> str:
    if isinstance(block, _Section):
        inner = "\n".join(_html(b) for b in block.blocks)
        return f"<section class=\"{block.css}\">\n{inner}\n</section>"
    if isinstance(block, _Heading):
        return f"<h{block.level}>{escape(block.text)}</h{block.level}>"
    if isinstance(block, _Para):
        return f"<p class=\"{block.css}\">{_html_para(block)}</p>"
    if isinstance(block, _List):
        return "<ul>\n" + "".join(f"<li>{_html_para(i)}</li>\n" for i in block.items) + "</ul>"
    if isinstance(block, _Table):
        return _html_table(block)
    return _figure(block.incident, block.number)


def _html_para(para: _Para) -> str:
    label = f"<strong>{escape(para.label)}:</strong> " if para.label else ""
    return label + escape(para.text)


def _html_table(table: _Table) -> str:
    head = "".join(f"<th scope=\"col\">{escape(h)}</th>" for h in table.headers)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>\n"
        for row in table.rows
    )
    return (f"<table class=\"{table.css}\">\n<thead><tr>{head}</tr></thead>\n"
            f"<tbody>\n{rows}</tbody>\n</table>")


def _html_cell(cell: _Cell) -> str:
    if isinstance(cell, _Badge):
        css = cell.grade.value if cell.grade is not None else "na"
        return (f"<span class=\"badge grade-{css}\" title=\"{escape(cell.text)}\">"
                f"{cell.letter}</span> <span class=\"meaning\">{escape(cell.text)}</span>")
    if isinstance(cell, _Mark):
        return f"<span class=\"mark {cell.tone}\">{escape(cell.text)}</span>" if cell.text else ""
    return escape(cell)


_CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --rule: #d8dee4; --soft: #f4f6f8;
  --p: #2e7d32; --s: #f2a900; --m: #e8590c; --u: #c62828; --na: #8a949e;
  --accent: #1565c0; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans",
    sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 1.7em; margin: 0 0 .4em; }
h2 { font-size: 1.3em; margin: 1.6em 0 .4em; padding-top: .6em;
  border-top: 3px solid var(--ink); }
h3 { font-size: 1.05em; margin: 1.3em 0 .4em; color: var(--muted);
  text-transform: uppercase; letter-spacing: .04em; }
p { margin: .3em 0; }
p.meta { color: var(--muted); }
p.facts { color: var(--muted); font-size: .93em; }
p.summary { margin: .7em 0; }
p.empty { color: var(--muted); font-style: italic; }
ul { margin: .3em 0; padding-left: 1.3em; }
li { margin: .2em 0; }
table { width: 100%; border-collapse: collapse; margin: .4em 0 .8em; font-size: .92em; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px;
  border-bottom: 1px solid var(--rule); }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
table.timeline td:nth-child(-n+3) { white-space: nowrap; font-variant-numeric: tabular-nums; }
table.timeline td:nth-child(1), table.timeline td:nth-child(3) { text-align: right;
  color: var(--muted); }
table.objectives td:nth-child(2), table.objectives td:nth-child(3),
table.timeline td:nth-child(4) { white-space: nowrap; }
table.summary td:nth-child(n+3), table.summary th:nth-child(n+3) { text-align: center;
  width: 3.5em; }
.badge { display: inline-block; min-width: 2.1em; padding: 1px 6px; border-radius: 4px;
  text-align: center; font-weight: 700; color: #fff; background: var(--na); }
.grade-P { background: var(--p); }
.grade-S { background: var(--s); color: #1f2933; }
.grade-M { background: var(--m); }
.grade-U { background: var(--u); }
.meaning { color: var(--muted); font-size: .9em; }
.mark.good { color: var(--p); font-weight: 600; }
.mark.bad { color: var(--u); font-weight: 600; }
.mark.note { color: #8a5300; font-size: .92em; }
figure.chart { margin: .8em 0 1em; }
figure.chart svg { width: 100%; height: auto; display: block; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans",
  "DejaVu Sans", sans-serif; fill: var(--ink); }
svg .halo { paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
svg .band { fill: var(--soft); }
svg .backing { fill: #fff; fill-opacity: .92; }
svg .grid { stroke: #e3e7eb; stroke-width: 1; }
svg .zero { stroke: #9aa5b1; stroke-width: 1.5; }
svg .axis { stroke: #9aa5b1; stroke-width: 1; }
svg .tick { fill: var(--muted); font-size: 11px; }
svg .heading { fill: var(--muted); font-size: 11px; font-weight: 600; letter-spacing: .06em; }
svg .label { font-size: 12.5px; }
svg .value { fill: var(--muted); font-size: 11.5px; }
svg .elapsed { stroke: #c5ced6; stroke-width: 2; }
svg .milestone { fill: #37474f; }
svg .contained { fill: var(--accent); stroke: #fff; stroke-width: 1.5; }
svg .value.contained-value { fill: var(--accent); font-weight: 700; }
svg .turnout { stroke: #90caf9; stroke-width: 6; stroke-linecap: round; }
svg .travel { stroke: #1e88e5; stroke-width: 6; stroke-linecap: round; }
svg .dispatched { fill: #fff; stroke: var(--accent); stroke-width: 2; }
svg .en-route { fill: #64b5f6; stroke: var(--accent); stroke-width: 1; }
svg .on-scene { fill: var(--accent); }
svg .target { stroke: var(--u); stroke-width: 2; stroke-dasharray: 6 4; }
svg .target-label { fill: var(--u); font-weight: 700; }
svg .none { fill: var(--muted); font-style: italic; }
figcaption { color: var(--muted); font-size: .85em; margin-top: .2em; }
@media print {
  body { font-size: 10.5pt; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  main { max-width: none; padding: 0; }
  section.incident { break-before: page; }
  figure.chart, tr, li { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
}
"""

# ---------------------------------------------------------------- SVG chart

_WIDTH = 1000
_PLOT_LEFT = 220  # the row labels' column is to the left of it
_PLOT_RIGHT = 960  # room on the right for the last tick's label
_ROW = 26
_HEADING_ROW = 22
_TOP = 30  # room above the rows for the target line's label
_HOUR = 60
_DAY = 24 * _HOUR
_MONTH = 30 * _DAY  # a chart's month and year: steps of a fixed length, not calendar ones
_YEAR = 365 * _DAY
# Nice tick steps in minutes; past the last one, 1, 2, 5, 10, 20, 50... years (no end:
# a history may span centuries).
_STEPS = (1, 2, 5, 10, 15, 30, _HOUR, 2 * _HOUR, 4 * _HOUR, 6 * _HOUR, 12 * _HOUR,
          _DAY, 2 * _DAY, 7 * _DAY, 14 * _DAY, _MONTH, 2 * _MONTH, 3 * _MONTH, 6 * _MONTH)
_MAX_TICKS = 12  # steps across the span; the padding past the last marker adds one or two
_MAX_DATE_TICKS = 8  # fewer from a day's step on, whose ticks carry a wider date label
_LABEL_CHARS = 28
_CHAR_WIDTH = 7.0  # a generous average for the 11.5-12.5 px labels, to tell if one fits


@frozen
class _Scale:
    """Minutes since detection -> x in the chart."""

    start: float
    end: float
    step: int

    def x(self, minutes: float) -> float:
        fraction = (minutes - self.start) / (self.end - self.start)
        return round(_PLOT_LEFT + fraction * (_PLOT_RIGHT - _PLOT_LEFT), 1)

    def ticks(self) -> list[int]:
        first = math.ceil(self.start / self.step) * self.step
        return list(range(first, math.floor(self.end) + 1, self.step))


def _scale(incident: IncidentReview) -> _Scale:
    origin = incident.detected_at
    times = [_in_minutes(m.at - origin) for m in incident.milestones]
    times += [_in_minutes(at - origin) for track in incident.responders
              for at in _track_times(track).values()]
    if incident.target_line is not None:
        times.append(_in_minutes(incident.target_line))
    low, high = min([0.0, *times]), max([0.0, *times])
    step = _step(high - low)
    # A little room past the last marker so it does not sit on the frame.
    end = math.ceil((high + step * 0.3) / step) * step
    return _Scale(math.floor(low / step) * step, end, step)


def _step(span: float) -> int:
    """The first nice step that cuts ``span`` minutes into few enough ticks."""
    for step in _STEPS:
        if span / step <= (_MAX_TICKS if step < _DAY else _MAX_DATE_TICKS):
            return step
    magnitude = 1
    while True:  # ends: each turn multiplies the step by 10
        for years in (magnitude, 2 * magnitude, 5 * magnitude):
            if span / (years * _YEAR) <= _MAX_DATE_TICKS:
                return years * _YEAR
        magnitude *= 10


def _track_times(track: ResponderTrack) -> dict[str, datetime]:
    stages = {"dispatched": track.dispatched_at, "en route": track.en_route_at,
              "on scene": track.on_scene_at}
    return {stage: at for stage, at in stages.items() if at is not None}


def _figure(incident: IncidentReview, number: int) -> str:
    if not (incident.milestones or incident.responders or incident.target_line):
        return "<p class=\"empty\">No times recorded to chart.</p>"
    scale, detected = _scale(incident), incident.detected_at
    # From a day's step on the ticks are dated: so is detection.
    since = ("Minutes since detection at " + _clock(detected, detected) if scale.step < _DAY
             else f"Time since detection at {_stamp(detected)}")
    caption = (since
               + ("; dashed line: the target" if incident.target_line is not None else "")
               + ". Hover a marker for its time.")
    return (f"<figure class=\"chart\" id=\"chart-{number}\">\n{_svg(incident, scale)}\n"
            f"<figcaption>{escape(caption)}</figcaption>\n</figure>")


def _svg(incident: IncidentReview, scale: _Scale) -> str:
    body: list[str] = []
    bands: list[str] = []
    y = _TOP
    if incident.milestones:
        body.append(_row_heading("KEY MOMENTS", y))
        y += _HEADING_ROW
        for index, milestone in enumerate(incident.milestones):
            bands.append(_band(y, index))
            body.append(_milestone_row(incident, milestone, scale, y))
            y += _ROW
    if incident.responders:
        body.append(_row_heading("RESPONDERS", y + 4))
        y += _HEADING_ROW + 4
        for index, track in enumerate(incident.responders):
            bands.append(_band(y, index))
            body.append(_responder_row(incident, track, scale, y))
            y += _ROW
    axis_y = y + 6
    legend_y = axis_y + 52
    height = legend_y + 18
    # Bands under the grid and the target line, markers and labels over them
    # (labels' white halo keeps them legible where the target line crosses).
    parts = [*bands, _grid(incident, scale, axis_y), _target(incident, scale, axis_y), *body,
             _legend(incident, legend_y)]
    summary = escape(_chart_summary(incident))
    return (f"<svg role=\"img\" aria-label=\"{summary}\" viewBox=\"0 0 {_WIDTH} {height}\" "
            f"width=\"{_WIDTH}\" height=\"{height}\" preserveAspectRatio=\"xMinYMin meet\">\n"
            f"<title>{summary}</title>\n" + "\n".join(p for p in parts if p) + "\n</svg>")


def _row_heading(text: str, y: float) -> str:
    return f"<text class=\"heading\" x=\"8\" y=\"{y + 15}\">{text}</text>"


def _band(y: float, index: int) -> str:
    if index % 2:
        return ""
    return f"<rect class=\"band\" x=\"0\" y=\"{y}\" width=\"{_WIDTH}\" height=\"{_ROW}\"/>"


def _row_label(label: str, y: float) -> str:
    short = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
    return (f"<text class=\"label\" x=\"8\" y=\"{y + 17}\">{escape(short)}"
            f"<title>{escape(label)}</title></text>")


def _value_label(text: str, x: float, y: float, css: str = "value") -> str:
    width = len(text) * _CHAR_WIDTH
    if x + 11 + width <= _WIDTH:
        return f"<text class=\"{css} halo\" x=\"{x + 11}\" y=\"{y + 4}\">{escape(text)}</text>"
    # On the marker's left the label would sit on the row's elapsed line or bar:
    # a backing keeps it legible.
    return (f"<rect class=\"backing\" x=\"{x - 15 - width:.1f}\" y=\"{y - 9}\" "
            f"width=\"{width + 6:.1f}\" height=\"18\" rx=\"3\"/>"
            f"<text class=\"{css} halo\" x=\"{x - 11}\" y=\"{y + 4}\" "
            f"text-anchor=\"end\">{escape(text)}</text>")


def _at(at: datetime, origin: datetime) -> str:
    after = at - origin
    return f"{_clock(at, origin)} · {'+' if after >= timedelta(0) else ''}{_duration(after)}"


def _milestone_row(incident: IncidentReview, milestone: Milestone, scale: _Scale,
                   y: float) -> str:
    origin = incident.detected_at
    x, mid = scale.x(_in_minutes(milestone.at - origin)), y + _ROW / 2
    contained = milestone.name == "contained"
    tip = escape(f"{milestone.label}: {_at(milestone.at, origin)}")
    if contained:
        # The containment time is what the target is about: make it stand out.
        marker = (f"<polygon class=\"contained\" points=\"{x},{mid - 8} {x + 8},{mid} "
                  f"{x},{mid + 8} {x - 8},{mid}\"/>")
    else:
        marker = f"<circle class=\"milestone\" cx=\"{x}\" cy=\"{mid}\" r=\"5\"/>"
    value_css = "value contained-value" if contained else "value"
    return (
        f"<g class=\"row milestone-row\">{_row_label(milestone.label, y)}"
        f"<line class=\"elapsed\" x1=\"{scale.x(0)}\" y1=\"{mid}\" x2=\"{x}\" y2=\"{mid}\"/>"
        f"<g>{marker}<title>{tip}</title></g>"
        f"{_value_label(_at(milestone.at, origin), x, mid, value_css)}</g>"
    )


_STAGE_CSS = {"dispatched": "dispatched", "en route": "en-route", "on scene": "on-scene"}


def _responder_row(incident: IncidentReview, track: ResponderTrack, scale: _Scale,
                   y: float) -> str:
    origin = incident.detected_at
    mid = y + _ROW / 2
    stages = _track_times(track)
    parts = [f"<g class=\"row responder\">{_row_label(track.name, y)}"]
    if not stages:
        parts.append(f"<text class=\"none\" x=\"{_PLOT_LEFT + 4}\" y=\"{mid + 4}\">"
                     "no dispatch, en route or arrival time recorded</text></g>")
        return "".join(parts)
    points = [(stage, scale.x(_in_minutes(at - origin))) for stage, at in stages.items()]
    for (_, x1), (stage, x2) in pairwise(points):
        css = "travel" if stage == "on scene" else "turnout"
        parts.append(f"<line class=\"{css}\" x1=\"{x1}\" y1=\"{mid}\" x2=\"{x2}\" y2=\"{mid}\"/>")
    for stage, x in points:
        tip = escape(f"{track.name} {stage}: {_at(stages[stage], origin)}")
        parts.append(f"<g>{_stage_marker(stage, x, mid)}<title>{tip}</title></g>")
    last_stage, last_x = points[-1]
    text = f"{last_stage} {_at(stages[last_stage], origin)}"
    if last_stage != "on scene":
        text += ", no arrival recorded"
    parts.append(_value_label(text, last_x, mid) + "</g>")
    return "".join(parts)


def _stage_marker(stage: str, x: float, mid: float) -> str:
    css = _STAGE_CSS[stage]
    if stage == "dispatched":
        return f"<circle class=\"{css}\" cx=\"{x}\" cy=\"{mid}\" r=\"5\"/>"
    if stage == "en route":
        return (f"<polygon class=\"{css}\" points=\"{x - 5},{mid - 6} {x + 6},{mid} "
                f"{x - 5},{mid + 6}\"/>")
    return f"<rect class=\"{css}\" x=\"{x - 5}\" y=\"{mid - 5}\" width=\"10\" height=\"10\"/>"


def _grid(incident: IncidentReview, scale: _Scale, axis_y: float) -> str:
    origin = incident.detected_at
    parts = [f"<line class=\"axis\" x1=\"{_PLOT_LEFT}\" y1=\"{axis_y}\" x2=\"{_PLOT_RIGHT}\" "
             f"y2=\"{axis_y}\"/>"]
    for tick in scale.ticks():
        x = scale.x(tick)
        css = "zero" if tick == 0 else "grid"
        clock = _tick_moment(origin, tick, scale.step)
        parts.append(
            f"<line class=\"{css}\" x1=\"{x}\" y1=\"{_TOP}\" x2=\"{x}\" y2=\"{axis_y + 4}\"/>"
            f"<text class=\"tick\" x=\"{x}\" y=\"{axis_y + 17}\" text-anchor=\"middle\">"
            f"{_tick_label(tick, scale.step)}</text>"
            f"<text class=\"tick\" x=\"{x}\" y=\"{axis_y + 31}\" text-anchor=\"middle\">"
            f"{escape(clock)}</text>"
        )
    return "<g class=\"axis-grid\">" + "".join(parts) + "</g>"


def _tick_label(minutes: int, step: int) -> str:
    """"+5 min", "+2 h", "+3 d", "+6 mo", "+50 y": in the step's unit (ticks are its multiples)."""
    if not minutes:
        return "0"
    for unit, name in ((_YEAR, "y"), (_MONTH, "mo"), (_DAY, "d"), (_HOUR, "h")):
        if step >= unit and step % unit == 0:
            return f"{minutes // unit:+d} {name}"
    return f"{minutes:+d} min"


def _tick_moment(origin: datetime, minutes: int, step: int) -> str:
    """The tick's time of day, or its date from a day's step on, in detection's offset."""
    try:
        at = origin + timedelta(minutes=minutes)
    except OverflowError:  # past the calendar's ends: nothing to name
        return ""
    if step < _DAY:
        return _clock(at, origin).split(" ")[-1]
    return f"{_local(at, origin):%Y-%m-%d}"


def _target(incident: IncidentReview, scale: _Scale, axis_y: float) -> str:
    if incident.target_line is None:
        return ""
    target = _in_minutes(incident.target_line)
    x = scale.x(target)
    label = f"{_number(target)}-min target"
    anchor = "end" if x > _PLOT_RIGHT - 60 else "middle"
    deadline = _clock(incident.detected_at + incident.target_line, incident.detected_at)
    tip = escape(f"Target: {_number(target)} min after detection ({deadline})")
    return (
        f"<g class=\"target-line\"><line class=\"target\" x1=\"{x}\" y1=\"{_TOP - 10}\" "
        f"x2=\"{x}\" y2=\"{axis_y}\"/>"
        f"<text class=\"target-label halo\" x=\"{x}\" y=\"{_TOP - 14}\" "
        f"text-anchor=\"{anchor}\">{label}</text><title>{tip}</title></g>"
    )


def _legend(incident: IncidentReview, y: float) -> str:
    names = ["milestone", "contained"]
    if incident.responders:
        names += list(_STAGE_CSS)
    if incident.target_line is not None:
        names.append("target")
    mid = y - 4
    items = [_legend_item(name, _PLOT_LEFT + 112 * n, mid) for n, name in enumerate(names)]
    return "<g class=\"legend\">" + "".join(items) + "</g>"


def _legend_item(name: str, x: float, mid: float) -> str:
    if name == "milestone":
        marker = f"<circle class=\"milestone\" cx=\"{x}\" cy=\"{mid}\" r=\"5\"/>"
    elif name == "contained":
        marker = (f"<polygon class=\"contained\" points=\"{x},{mid - 7} {x + 7},{mid} "
                  f"{x},{mid + 7} {x - 7},{mid}\"/>")
    elif name == "target":
        marker = f"<line class=\"target\" x1=\"{x}\" y1=\"{mid - 8}\" x2=\"{x}\" y2=\"{mid + 8}\"/>"
    else:
        marker = _stage_marker(name, x, mid)
    return f"{marker}<text class=\"value\" x=\"{x + 12}\" y=\"{mid + 4}\">{name}</text>"


def _chart_summary(incident: IncidentReview) -> str:
    origin = incident.detected_at
    text = [f"Response chart: minutes since detection at {_clock(origin, origin)}."]
    if incident.milestones:
        text.append("Key moments: " + "; ".join(
            f"{m.label} {_at(m.at, origin)}" for m in incident.milestones) + ".")
    if incident.target_line is not None:
        text.append(f"Target line at {_number(_in_minutes(incident.target_line))} min.")
    for track in incident.responders:
        stages = _track_times(track)
        done = ", ".join(f"{stage} {_at(at, origin)}" for stage, at in stages.items())
        text.append(f"{track.name}: {done or 'no times recorded'}.")
    return " ".join(text)


# ---------------------------------------------------------------- screenshots

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The Chromium (or Chrome) to render with, or None.

    ``$RESILIENCE_CHROMIUM`` (a path or a command name) wins; otherwise the
    first of chromium, chromium-browser, google-chrome on the PATH.
    """
    configured = os.environ.get("RESILIENCE_CHROMIUM")
    if configured:
        return shutil.which(configured)
    return next((path for name in _CHROMIUM_NAMES if (path := shutil.which(name))), None)


def screenshot(html: str, png_path: str | os.PathLike[str], *, width: int = 1200,
               height: int = 2000, timeout: float = 120.0) -> Path:
    """Render an HTML page with headless Chromium and write a width x height PNG of its top.

    Returns the PNG's path. Raises :class:`~resilience.errors.ConfigurationError`
    when no Chromium is found (see :func:`find_chromium`) or it writes no PNG.
    """
    chromium = find_chromium()
    if chromium is None:
        raise ConfigurationError("no Chromium to take the screenshot with: install the "
                                 "chromium package or set RESILIENCE_CHROMIUM to its path")
    target = Path(png_path).resolve()
    target.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="resilience-review-") as work:
        page = Path(work, "review.html")
        page.write_text(html, encoding="utf-8")
        command = [
            chromium, "--headless=new", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            # Chromium's sandbox refuses to run as root (containers, CI); the page
            # is our own and fetches nothing.
            "--no-sandbox",
            # A profile of its own, so a running browser's profile lock doesn't interfere.
            f"--user-data-dir={Path(work, 'profile')}",
            f"--window-size={width},{height}", f"--screenshot={target}", page.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise ConfigurationError(f"{chromium} took over {timeout:g} s") from exc
    if done.returncode != 0 or not target.is_file():
        raise ConfigurationError(f"{chromium} wrote no screenshot (exit {done.returncode}): "
                                 f"{done.stderr.strip()[-500:]}")
    return target
