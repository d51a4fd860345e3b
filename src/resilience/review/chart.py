"""The response chart of one incident, as inline SVG: when each key moment came and each
responder's dispatch -> en route -> on scene, against the time since detection.

Times run left to right on a scale of minutes whose tick step suits the span
(1 minute up to years, from a day's step on the ticks are dated); a dashed line
marks the target. A reopened incident shows every cycle: after the first
response's key moments, each reopening (its own marker) and its cycle's
dispatch, arrival, containment and resolution; a responder sent again has a
row per cycle. Every marker has its time as a tooltip and the whole chart a
text summary for screen readers. Classes name what the stylesheet
(``review.css``) colours; nothing is fetched and nothing runs.

Words are in the current language (resilience.i18n); a label's room is reckoned in
display columns (a Chinese character takes two), so it is cut and backed alike in any
language.
"""

import math
from datetime import datetime, timedelta
from html import escape
from itertools import pairwise
from typing import TYPE_CHECKING

from attrs import frozen

from resilience.i18n import N_, _, display_width
from resilience.review.sight import unhidden
from resilience.review.text import (
    duration,
    exact_clock,
    in_minutes,
    local,
    one_decimal,
    sentences,
    stamp,
)

if TYPE_CHECKING:
    from resilience.review.model import IncidentReview, Milestone, ResponderTrack

__all__ = ["figure"]

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


def _scale(incident: "IncidentReview") -> _Scale:
    origin = incident.detected_at
    times = [in_minutes(m.at - origin) for m in incident.milestones]
    times += [in_minutes(at - origin) for track in incident.responders
              for at in _track_times(track).values()]
    if incident.target_line is not None:
        times.append(in_minutes(incident.target_line))
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


def _track_times(track: "ResponderTrack") -> dict[str, datetime]:
    stages = {"dispatched": track.dispatched_at, "en route": track.en_route_at,
              "on scene": track.on_scene_at}
    return {stage: at for stage, at in stages.items() if at is not None}


def figure(incident: "IncidentReview", number: int) -> str:
    """The incident's chart and its caption as an HTML ``<figure>`` (id ``chart-<number>``,
    ``number`` its incident's place in the review), or a note when it has no time to chart."""
    if not (incident.milestones or incident.responders or incident.target_line):
        none = _("No times recorded to chart.")
        return f"<p class=\"empty\">{escape(none)}</p>"
    scale, detected = _scale(incident), incident.detected_at
    # From a day's step on the ticks are dated: so is detection.
    since = (_("Minutes since detection at {time}").format(time=exact_clock(detected, detected))
             if scale.step < _DAY
             else _("Time since detection at {moment}").format(moment=stamp(detected)))
    caption = (since
               + (_("; dashed line: the target") if incident.target_line is not None else "")
               + _(". Hover a marker for its time."))
    return (f"<figure class=\"chart\" id=\"chart-{number}\">\n{_svg(incident, scale)}\n"
            f"<figcaption>{escape(caption)}</figcaption>\n</figure>")


def _svg(incident: "IncidentReview", scale: _Scale) -> str:
    body: list[str] = []
    bands: list[str] = []
    y = _TOP
    if incident.milestones:
        body.append(_row_heading(_("KEY MOMENTS"), y))
        y += _HEADING_ROW
        for index, milestone in enumerate(incident.milestones):
            bands.append(_band(y, index))
            body.append(_milestone_row(incident, milestone, scale, y))
            y += _ROW
    if incident.responders:
        body.append(_row_heading(_("RESPONDERS"), y + 4))
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
    return f"<text class=\"heading\" x=\"8\" y=\"{y + 15}\">{escape(text)}</text>"


def _band(y: float, index: int) -> str:
    if index % 2:
        return ""
    return f"<rect class=\"band\" x=\"0\" y=\"{y}\" width=\"{_WIDTH}\" height=\"{_ROW}\"/>"


def _row_label(label: str, y: float) -> str:
    short = _cut(label, _LABEL_CHARS)
    return (f"<text class=\"label\" x=\"8\" y=\"{y + 17}\">{escape(short)}"
            f"<title>{escape(label)}</title></text>")


def _cut(label: str, columns: int) -> str:
    """``label`` in at most ``columns`` display columns, cut short with "…" if need be."""
    if display_width(label) <= columns:
        return label
    kept, used = "", display_width("…")
    for ch in label:
        used += display_width(ch)
        if used > columns:
            break
        kept += ch
    return kept + "…"


def _value_label(text: str, x: float, y: float, css: str = "value") -> str:
    width = display_width(text) * _CHAR_WIDTH
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
    return f"{exact_clock(at, origin)} · {'+' if after >= timedelta(0) else ''}{duration(after)}"


def _milestone_row(incident: "IncidentReview", milestone: "Milestone", scale: _Scale,
                   y: float) -> str:
    origin = incident.detected_at
    x, mid = scale.x(in_minutes(milestone.at - origin)), y + _ROW / 2
    contained = milestone.name == "contained"
    tip = escape(f"{milestone.label}: {_at(milestone.at, origin)}")
    if contained:
        # The containment time is what the target is about: make it stand out.
        marker = (f"<polygon class=\"contained\" points=\"{x},{mid - 8} {x + 8},{mid} "
                  f"{x},{mid + 8} {x - 8},{mid}\"/>")
    elif milestone.name == "reopened":
        marker = _reopened_marker(x, mid)
    else:
        marker = f"<circle class=\"milestone\" cx=\"{x}\" cy=\"{mid}\" r=\"5\"/>"
    value_css = "value contained-value" if contained else "value"
    return (
        f"<g class=\"row milestone-row\">{_row_label(milestone.label, y)}"
        f"<line class=\"elapsed\" x1=\"{scale.x(0)}\" y1=\"{mid}\" x2=\"{x}\" y2=\"{mid}\"/>"
        f"<g>{marker}<title>{tip}</title></g>"
        f"{_value_label(_at(milestone.at, origin), x, mid, value_css)}</g>"
    )


def _reopened_marker(x: float, mid: float) -> str:
    """A downward triangle: the response starts again."""
    return (f"<polygon class=\"reopened\" points=\"{x - 7},{mid - 6} {x + 7},{mid - 6} "
            f"{x},{mid + 7}\"/>")


_STAGE_CSS = {"dispatched": "dispatched", "en route": "en-route", "on scene": "on-scene"}
_WORDS = {"dispatched": N_("dispatched"), "en route": N_("en route"),
          "on scene": N_("on scene"), "milestone": N_("milestone"),
          "contained": N_("contained"), "reopened": N_("reopened"), "target": N_("target")}
"""The stages and legend entries in words (translated where shown)."""


def _track_name(track: "ResponderTrack") -> str:
    """A responder's row label: their name (a hidden one in the reader's language), and
    the reopening for a later cycle's chain."""
    name = unhidden(track.name)
    return name if not track.cycle else name + _(" (reopening {number})").format(
        number=track.cycle)


def _responder_row(incident: "IncidentReview", track: "ResponderTrack", scale: _Scale,
                   y: float) -> str:
    origin = incident.detected_at
    mid = y + _ROW / 2
    stages = _track_times(track)
    name = _track_name(track)
    parts = [f"<g class=\"row responder\">{_row_label(name, y)}"]
    if not stages:
        none = _("no dispatch, en route or arrival time recorded")
        parts.append(f"<text class=\"none\" x=\"{_PLOT_LEFT + 4}\" y=\"{mid + 4}\">"
                     f"{escape(none)}</text></g>")
        return "".join(parts)
    points = [(stage, scale.x(in_minutes(at - origin))) for stage, at in stages.items()]
    for (_before, x1), (stage, x2) in pairwise(points):
        css = "travel" if stage == "on scene" else "turnout"
        parts.append(f"<line class=\"{css}\" x1=\"{x1}\" y1=\"{mid}\" x2=\"{x2}\" y2=\"{mid}\"/>")
    for stage, x in points:
        tip = escape(f"{name} {_(_WORDS[stage])}: {_at(stages[stage], origin)}")
        parts.append(f"<g>{_stage_marker(stage, x, mid)}<title>{tip}</title></g>")
    last_stage, last_x = points[-1]
    text = f"{_(_WORDS[last_stage])} {_at(stages[last_stage], origin)}"
    if last_stage != "on scene":
        text += _(", no arrival recorded")
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


def _grid(incident: "IncidentReview", scale: _Scale, axis_y: float) -> str:
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
    for unit, name in ((_YEAR, N_("{count} y")), (_MONTH, N_("{count} mo")),
                       (_DAY, N_("{count} d")), (_HOUR, N_("{count} h"))):
        if step >= unit and step % unit == 0:
            return _(name).format(count=f"{minutes // unit:+d}")
    return _("{count} min").format(count=f"{minutes:+d}")


def _tick_moment(origin: datetime, minutes: int, step: int) -> str:
    """The tick's time of day, or its date from a day's step on, in detection's offset."""
    try:
        at = origin + timedelta(minutes=minutes)
    except OverflowError:  # past the calendar's ends: nothing to name
        return ""
    if step < _DAY:
        return exact_clock(at, origin).split(" ")[-1]
    return f"{local(at, origin):%Y-%m-%d}"


def _target(incident: "IncidentReview", scale: _Scale, axis_y: float) -> str:
    if incident.target_line is None:
        return ""
    target = in_minutes(incident.target_line)
    x = scale.x(target)
    label = escape(_("{minutes}-min target").format(minutes=one_decimal(target)))
    anchor = "end" if x > _PLOT_RIGHT - 60 else "middle"
    deadline = exact_clock(incident.detected_at + incident.target_line, incident.detected_at)
    tip = escape(_("Target: {minutes} min after detection ({deadline})").format(
        minutes=one_decimal(target), deadline=deadline))
    return (
        f"<g class=\"target-line\"><line class=\"target\" x1=\"{x}\" y1=\"{_TOP - 10}\" "
        f"x2=\"{x}\" y2=\"{axis_y}\"/>"
        f"<text class=\"target-label halo\" x=\"{x}\" y=\"{_TOP - 14}\" "
        f"text-anchor=\"{anchor}\">{label}</text><title>{tip}</title></g>"
    )


def _legend(incident: "IncidentReview", y: float) -> str:
    names = ["milestone", "contained"]
    if any(m.name == "reopened" for m in incident.milestones):
        names.append("reopened")
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
    elif name == "reopened":
        marker = _reopened_marker(x, mid)
    elif name == "target":
        marker = f"<line class=\"target\" x1=\"{x}\" y1=\"{mid - 8}\" x2=\"{x}\" y2=\"{mid + 8}\"/>"
    else:
        marker = _stage_marker(name, x, mid)
    return (f"{marker}<text class=\"value\" x=\"{x + 12}\" y=\"{mid + 4}\">"
            f"{escape(_(_WORDS[name]))}</text>")


def _chart_summary(incident: "IncidentReview") -> str:
    origin = incident.detected_at
    text = [_("Response chart: minutes since detection at {time}.").format(
        time=exact_clock(origin, origin))]
    if incident.milestones:
        text.append(_("Key moments: {moments}.").format(moments=_("; ").join(
            f"{m.label} {_at(m.at, origin)}" for m in incident.milestones)))
    if incident.target_line is not None:
        text.append(_("Target line at {minutes} min.").format(
            minutes=one_decimal(in_minutes(incident.target_line))))
    for track in incident.responders:
        stages = _track_times(track)
        done = _(", ").join(f"{_(_WORDS[stage])} {_at(at, origin)}"
                            for stage, at in stages.items())
        text.append(_("{responder}: {times}.").format(responder=_track_name(track),
                                                      times=done or _("no times recorded")))
    return sentences(text)
