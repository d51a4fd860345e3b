"""Reports taken elsewhere: as JSON documents and CSV tables.

Every report the engine answers with gives its data by ``to_dict()`` (the rules:
:mod:`resilience.adapters.report_data`): plain JSON values with ``"schema_version"``
(``SCHEMA_VERSION``) and ``"report"`` (its kind) at the top. Here, on top of them:

- ``to_dict(report)``: that data, for every report, including those that come as
  a list or tuple of rows (``engine.service_kpis()``, ``engine.counts()``,
  ``engine.improvements.items()``, ``engine.overdue()``, ``engine.deadlines(id)``,
  ``engine.emergencies.situations()``: ``{"report": ..., "rows": [...]}``; the kind
  is read off the rows, so an empty list needs ``kind=``);
- ``to_json(report)``: that data as one JSON document;
- ``to_csv(report)``: the report's one table (``TABLES``: e.g. a metric report's rows,
  a data-quality report's findings with their section) as CSV, read off the same data,
  so the CSV never says other than the JSON. A header row names the columns: a nested
  object's fields are ``outer.inner`` (``group.grid``), a list in a cell is its JSON
  text, null an empty cell, true/false as in JSON; the columns are those of the rows,
  in the order first met.
"""

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from resilience.adapters.report_data import SCHEMA_VERSION, plain
from resilience.domain.deadline_state import DeadlineState
from resilience.domain.validation import shown
from resilience.errors import InvalidInputError
from resilience.i18n import _
from resilience.metrics.mobilisation import EmergencySituation, Member
from resilience.metrics.peacetime import HazardRow, RuleCoverage
from resilience.metrics.quality import DataQualityReport
from resilience.metrics.rates import RateRow
from resilience.metrics.recovery import RecoveryLink
from resilience.metrics.reports import MetricSummary
from resilience.metrics.standings import LeagueRow
from resilience.metrics.tallies import Counts, ServiceSummary
from resilience.projections.plan_items import PlanItem
from resilience.review.model import ObjectiveSummary
from resilience.review.situations import (
    IncidentSituation,
    OrderSituation,
)
from resilience.services.deadlines import OverdueOrder
from resilience.services.what_if import LevelCount, TargetRow
from resilience.timeline import TimelineEntry

__all__ = ["ROWS", "SCHEMA_VERSION", "TABLES", "table", "to_csv", "to_dict", "to_json"]

Report = Any
"""A report object, or a list or tuple of the rows of a report that comes as one."""

ROWS: Mapping[str, type[Any]] = {
    "service_kpis": ServiceSummary, "counts": Counts, "improvement_plan": PlanItem,
    "overdue": OverdueOrder, "deadlines": DeadlineState, "emergencies": EmergencySituation,
}
"""The reports that come as a list or tuple of rows: kind -> the class of its rows."""


def to_dict(report: Report, *, kind: str | None = None) -> dict[str, Any]:
    """The report's data, JSON-ready, with ``"schema_version"`` and ``"report"`` on top.

    ``report`` is any report of the engine (its own ``to_dict``, whose data names a kind
    of ``TABLES``: so a layer above the engine's, such as ``resilience list``'s listing,
    exports the same way); a list or tuple of rows is the report of kind ``kind`` (one of
    ``ROWS``; by default the one whose rows they are, so an empty one needs it).
    InvalidInputError for anything else."""
    if isinstance(report, list | tuple):
        return _rows_data(report, kind)
    if kind is not None:
        raise InvalidInputError(
            _("kind= names the report of a list of rows; a {type} says its own").format(
                type=type(report).__name__))
    own = getattr(report, "to_dict", None)
    data = own() if callable(own) else None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION \
            or data.get("report") not in TABLES:
        raise InvalidInputError(_("not a report: {value}").format(value=shown(report)))
    return data


def _rows_data(rows: Sequence[Any], kind: str | None) -> dict[str, Any]:
    if kind is None:
        if not rows:
            raise InvalidInputError(_("an empty list of rows needs kind= (one of {kinds}) to "
                                      "say which report it is").format(kinds=", ".join(ROWS)))
        kind = next((k for k, cls in ROWS.items() if isinstance(rows[0], cls)), None)
        if kind is None:
            raise InvalidInputError(_("not the rows of a report: {value}").format(
                value=shown(rows[0])))
    elif kind not in ROWS:
        raise InvalidInputError(_("kind must be one of {kinds}, got {value}").format(
            kinds=", ".join(ROWS), value=shown(kind)))
    wanted = ROWS[kind]
    for row in rows:
        if not isinstance(row, wanted):
            raise InvalidInputError(_("a row of {kind} is a {type}, got {value}").format(
                kind=kind, type=wanted.__name__, value=shown(row)))
    return {"schema_version": SCHEMA_VERSION, "report": kind, "rows": plain(list(rows))}


def to_json(report: Report, *, kind: str | None = None, indent: int | None = 2) -> str:
    """The report's data (``to_dict``) as a JSON document (non-ASCII text as itself)."""
    return json.dumps(to_dict(report, kind=kind), indent=indent, ensure_ascii=False)


# CSV ----------------------------------------------------------------------------------

Rows = list[dict[str, Any]]


def _key(name: str) -> Callable[[dict[str, Any]], Rows]:
    return lambda data: list(data[name])


def _sections(names: Sequence[str]) -> Callable[[dict[str, Any]], Rows]:
    """Every item of each list ``names`` names, after a ``section`` column naming it."""
    return lambda data: [{"section": name, **item} for name in names for item in data[name]]


def _compared(data: dict[str, Any]) -> Rows:
    """Each metric's rows, one after the other (each row names its metric)."""
    return [row for report in data["reports"] for row in report["rows"]]


def _rated(data: dict[str, Any]) -> Rows:
    """One row per group, each rate's figures under its name (``response_rate.value``)."""
    return [{**{k: v for k, v in row.items() if k != "rates"},
             **{rate["name"]: {k: v for k, v in rate.items() if k not in ("name", "group")}
                for rate in row["rates"]}} for row in data["rows"]]


def _then_and_now(data: dict[str, Any]) -> Rows:
    """One row per group of either report: its row then and now (``then.p90``)."""
    then, now = data["then"]["rows"], data["now"]["rows"]
    groups = [row["group"] for row in then]
    groups += [row["group"] for row in now if row["group"] not in groups]

    def of(rows: Rows, group: Any) -> Any:
        return next((row for row in rows if row["group"] == group), None)

    return [{"group": group, "then": of(then, group), "now": of(now, group)}
            for group in groups]


def _what_if(data: dict[str, Any]) -> Rows:
    """One row per group, then the total (its group empty)."""
    return [*data["rows"], data["total"]]


def _hazard_rows(data: dict[str, Any]) -> Rows:
    """One row per group, then the total (its group the report's scope)."""
    return [*data["rows"], data["total"]]


def _coverage_rows(data: dict[str, Any]) -> Rows:
    """One row per rule of each grid's plan, after the grid's id and name."""
    return [{"grid": grid["grid"], "name": grid["name"], **rule}
            for grid in data["grids"] for rule in grid["rules"]]


def _alone(data: dict[str, Any]) -> Rows:
    """The report as one row: every field but the header."""
    return [{k: v for k, v in data.items() if k not in ("schema_version", "report")}]


Shape = type[Any] | tuple[str, ...]
"""The columns of a table with no rows: its rows' class (its fields), or their names."""

TABLES: Mapping[str, tuple[Callable[[dict[str, Any]], Rows], Shape]] = {
    "metrics": (_key("rows"), MetricSummary),
    "compare": (_compared, MetricSummary),
    "rates": (_rated, RateRow),
    "scorecard": (_key("metrics"), MetricSummary),
    "league_table": (_key("rows"), LeagueRow),
    "data_quality": (_sections(DataQualityReport.SECTIONS), ("section",)),
    "timeline": (_key("entries"), TimelineEntry),
    "incident_situation": (_alone, IncidentSituation),
    "order_situation": (_alone, OrderSituation),
    "community_situation": (
        _sections(("roster", "open_incidents", "open_orders", "emergencies")), ("section",)),
    "then_and_now": (_then_and_now, ("group",)),
    "what_if_target": (_what_if, TargetRow),
    "what_if_escalations": (_key("levels"), LevelCount),
    "recovery": (_key("links"), RecoveryLink),
    "mobilisation": (_key("members"), Member),
    "review": (_key("objectives"), ObjectiveSummary),
    "hazards": (_hazard_rows, HazardRow),
    "patrol_coverage": (_coverage_rows,
                        ("grid", "name", *(f.name for f in attrs.fields(RuleCoverage)))),
    **{kind: (_key("rows"), row) for kind, row in ROWS.items()},
    "list": (_key("rows"), ("id", "short", "kind", "community", "community_name", "grid",
                            "what", "status", "open", "started", "reference")),
    "hazard_list": (_key("rows"), ("id", "short", "reference", "community", "grid",
                                   "building", "unit", "floor", "category", "severity",
                                   "status", "found", "due", "overdue", "days_overdue")),
}
"""Kind -> the rows of its table, read off the report's data, and their shape."""


def table(data: Mapping[str, Any]) -> Rows:
    """The rows of the table of a report's data (``to_dict``), by its kind (``TABLES``)."""
    return TABLES[data["report"]][0](dict(data))


def _flat(row: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in row.items():
        if isinstance(value, Mapping):
            yield from _flat(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_csv(report: Report, *, kind: str | None = None) -> str:
    """The report's table (``TABLES``) as CSV: a header row, then one record per row of
    the table (a text with a line break in it is quoted, as CSV does)."""
    data = to_dict(report, kind=kind)
    rows = [dict(_flat(row)) for row in table(data)]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    if not rows:
        shape = TABLES[data["report"]][1]
        columns = dict.fromkeys(shape if isinstance(shape, tuple) else
                                [f.name for f in attrs.fields(shape) if f.repr is not False])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([_cell(row.get(column)) for column in columns] for row in rows)
    return out.getvalue()
