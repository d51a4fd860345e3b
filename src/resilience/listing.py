"""Finding incidents, orders and improvement items again: ``resilience list`` and the ids
people type.

People type what they saw: a whole id, a human reference (``DH-2022-0001``: the one an
incident or order got when it was recorded), its first characters (a prefix of at least
``MIN_PREFIX`` hex digits that names one aggregate), or a scenario file's handle
(``donghu-fire``: the key a scenario gave the incident, order or item, read in every
community the store holds). ``resolve`` turns any of these into the one id it names, or
says why not: NotFoundError when nothing answers to it, InvalidInputError when several
do (naming them, so the person can type more). ``list_cases`` and ``list_items`` list
what the views hold, newest first, filtered as ``resilience list`` is, each row with the
short id to type back.

Everything here reads the views through the engine's public reads (``engine.reports``,
``engine.improvements``, ``engine.views``); nothing is decided here that those don't
decide: a case is open as its status says (``Case.status``), an item as its plan says.
"""

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from attrs import frozen

from resilience.domain.hazard import hazard_id_for
from resilience.domain.references import normal_reference
from resilience.domain.service import ENDED_STATUSES
from resilience.domain.validation import shown
from resilience.domain.values import Actor
from resilience.engine import Engine
from resilience.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from resilience.exports import SCHEMA_VERSION
from resilience.i18n import N_, _
from resilience.metrics.cases import Case
from resilience.metrics.milestones import Subject
from resilience.metrics.period import ALL_TIME, Period
from resilience.metrics.tables import render_table, value_text
from resilience.projections.folds import reference_key
from resilience.services.core import Receipt
from resilience.services.emergencies import emergency_id_for
from resilience.services.improvements import improvement_id_for
from resilience.services.incidents import incident_id_for
from resilience.services.orders import order_id_for
from resilience.services.patrols import patrol_id_for

Listed = Literal["incidents", "orders", "items"]
LISTS: tuple[Listed, ...] = ("incidents", "orders", "items")
"""What ``resilience list`` lists."""
MIN_PREFIX = 4
"""The fewest hex digits of an id that ``resolve`` reads as a prefix."""
SHORT = 8
"""The hex digits a list shows of each id: enough to be unique in any community's history
the library has been measured on; ``resolve`` says so when one is not."""

_KINDS = {"incident": ("cases", "incident", incident_id_for),
          "order": ("cases", "order", order_id_for),
          "item": ("plans", "improvement", improvement_id_for),
          "emergency": ("cases", "emergency", emergency_id_for),
          "hazard": ("cases", "hazard", hazard_id_for),
          "patrol": ("cases", "patrol", patrol_id_for)}
"""What ``resolve`` looks among: kind -> (view, the rows' kind, a scenario handle's id)."""
_KIND_WORDS = {"incident": N_("incident"), "order": N_("order"),
               "item": N_("improvement item"), "emergency": N_("emergency"),
               "hazard": N_("hazard"), "patrol": N_("patrol")}
"""Each kind as a refusal names it."""
RECORDS = ("incident", "order", "item", "hazard", "patrol")
"""The kinds ``resolve`` looks among unless told: what ``resilience list`` lists, and the
hazards and patrols (``resilience hazards`` lists those)."""
_HEX = re.compile(r"[0-9a-f-]+")


@frozen
class Row:
    """One incident, order or improvement item as a list shows it."""

    id: UUID
    kind: str
    community: UUID
    community_name: str
    grid: str | None
    what: str
    """An incident's type and severity, an order's category and item, an item's action."""
    status: str
    open: bool
    started: datetime
    """Detected, placed or planned (as corrected)."""
    reference: str | None = None
    """An incident's or order's human reference (``DH-2022-0001``); None for an item, and
    for a case recorded before references."""

    @property
    def short(self) -> str:
        """The first ``SHORT`` hex digits of the id: what to type back."""
        return self.id.hex[:SHORT]

    def to_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "short": self.short, "kind": self.kind,
                "community": str(self.community), "community_name": self.community_name,
                "grid": self.grid, "what": self.what, "status": self.status,
                "open": self.open, "started": self.started.isoformat(),
                "reference": self.reference}


@frozen
class Listing:
    """A list of incidents, orders or items, newest first (``resilience list``)."""

    listed: Listed
    rows: tuple[Row, ...]
    total: int
    """How many matched, before ``limit`` kept the newest."""

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "report": "list", "listed": self.listed,
                "total": self.total, "rows": [row.to_dict() for row in self.rows]}

    def table(self) -> tuple[list[str], list[list[str]]]:
        """The header and the rows, as text (what the table and a CSV show)."""
        headers = ["reference", "id", "started", "community", "grid", "what", "status"]
        return headers, [[row.reference or "-", row.short, f"{row.started:%Y-%m-%d %H:%M}",
                          row.community_name, row.grid or "-", row.what, row.status]
                         for row in self.rows]

    def render(self) -> str:
        """The table in the current language (a CSV keeps ``table()``'s English header)."""
        _headers, rows = self.table()
        older = self.total - len(self.rows)
        more = ("\n" + _("({count} older not shown: --limit)").format(count=older)
                if older > 0 else "")
        shown_rows = [[reference, short, started, community, grid, _what_text(row),
                       value_text(status)]
                      for row, (reference, short, started, community, grid, _what, status)
                      in zip(self.rows, rows, strict=True)]
        return (render_table([_(header) for header in _HEADERS], shown_rows) if rows
                else _(_NONE[self.listed])) + more


_HEADERS = (N_("reference"), N_("id"), N_("started"), N_("community"), N_("grid"),
            N_("what"), N_("status"))
_NONE = {"incidents": N_("no incidents"), "orders": N_("no orders"), "items": N_("no items")}


def _what_text(row: Row) -> str:
    """A row's ``what`` in the current language: an incident's type and severity, an order's
    category and item, words the catalog has ("火灾（高）"); an item's action as written."""
    if row.kind == "item":
        return row.what
    drill = row.what.endswith(" [drill]")
    what = row.what.removesuffix(" [drill]")
    if row.kind == "incident" and what.endswith(")") and " (" in what:
        kind, severity = what[:-1].split(" (", 1)
        what = _("{type} ({severity})").format(type=value_text(kind),
                                               severity=value_text(severity))
    elif "/" in what:
        what = "/".join(value_text(part) for part in what.split("/"))
    return what + (_(" [drill]") if drill else "")


def list_cases(engine: Engine, listed: Literal["incidents", "orders"], *,
               community: UUID | None = None, grid: str | None = None,
               period: Period = ALL_TIME, open_only: bool = False,
               of_type: str | None = None, limit: int | None = None) -> Listing:
    """The incidents (or orders) whose first fact falls in ``period``, of ``community``
    and ``grid`` if given, open only if ``open_only``, of an incident type (or an order's
    category or item) if ``of_type``: the newest ``limit`` (None: all)."""
    if listed not in ("incidents", "orders"):
        raise InvalidInputError(_("list incidents or orders, not {value}").format(
            value=shown(listed)))
    subject: Subject = "incident" if listed == "incidents" else "order"
    _check_limit(limit)
    names = _community_names(engine)
    rows = [_case_row(case, names) for case in
            engine.reports.cases(subject=subject, period=period, community=community)
            if (grid is None or case.dims.get("grid") == grid)
            and (of_type is None or of_type in _types(case))]
    return _listing(listed, [row for row in rows if row.open or not open_only], limit)


def list_items(engine: Engine, *, community: UUID | None = None, grid: str | None = None,
               period: Period = ALL_TIME, open_only: bool = False,
               limit: int | None = None) -> Listing:
    """The improvement items planned in ``period`` (of ``community`` and ``grid``, open
    only if ``open_only``): the newest ``limit`` (None: all)."""
    _check_limit(limit)
    names = _community_names(engine)
    items = engine.improvements.items(community, grid=grid, open_only=open_only)
    rows = [Row(item.item_id, "item", item.community, names.get(str(item.community), "?"),
                item.grid, item.action, str(item.status), item.is_open, item.planned_at)
            for item in items if item.planned_at in period]
    return _listing("items", rows, limit)


def resolve(engine: Engine, text: str, kinds: Sequence[str] = RECORDS) -> UUID:
    """The id of the one record of ``kinds`` (``incident``, ``order``, ``item``,
    ``emergency``, ``hazard``, ``patrol``; by default any but an emergency) that ``text``
    names: its whole id, its human reference (``DH-2022-0001``, ``DH-2022-H0001``, in any
    case, the number's leading zeros optional: ``dh-2022-1``), a unique prefix of at
    least ``MIN_PREFIX`` hex digits, or a scenario handle.
    NotFoundError if none does; InvalidInputError if several do, naming them. A whole id
    is returned as it is, as the command given it reports what it does not find."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(_("an id must be a non-empty text, got {value}").format(
            value=shown(text)))
    if unknown := [kind for kind in kinds if kind not in _KINDS]:
        raise InvalidInputError(_("no kind {kind}: kinds are {kinds}").format(
            kind=shown(unknown[0]), kinds=", ".join(_KINDS)))
    text = text.strip()
    try:
        return UUID(text)
    except ValueError:
        pass
    what = _(" or ").join(_(_KIND_WORDS[kind]) for kind in kinds)
    engine.reports.ready()
    reference = normal_reference(text)
    found = _by_reference(engine, reference, kinds) if reference is not None else {}
    if not found and _is_prefix(text):
        found = _by_prefix(engine, text.lower(), kinds)
    if not found:
        found = _by_handle(engine, text, kinds)
    if not found:
        raise NotFoundError(_("no {kinds} is {text} (an id, a reference, its first "
                              "{count}+ characters, or a scenario handle)").format(
            kinds=what, text=shown(text), count=MIN_PREFIX))
    if len(found) > 1:
        listed = ", ".join(f"{kind} {key}" for key, kind in sorted(found.items())[:5])
        message = (_("{text} names {count} records ({listed}, ...): type more of the id")
                   if len(found) > 5 else
                   _("{text} names {count} records ({listed}): type more of the id"))
        raise InvalidInputError(message.format(text=shown(text), count=len(found),
                                               listed=listed))
    return UUID(next(iter(found)))


def assign_references(engine: Engine, *, actor: Actor,
                      community: UUID | None = None) -> list[Receipt]:
    """Give every incident and order recorded before references (of ``community`` if
    given) its reference, in the order they happened (first fact, then id), each by a
    command of its own (``assign_reference``, command id ``assign-reference/<id>``): an
    interrupted run is run again, and a case given one meanwhile is left as it is. The
    receipts, in that order (``reference`` on each)."""
    engine.reports.ready()
    waiting = sorted((case for subject in ("incident", "order")
                      for case in engine.reports.cases(subject=subject, community=community)
                      if case.reference is None), key=lambda case: (case.start, case.case_id))
    receipts = []
    for case in waiting:
        service = engine.incidents if case.subject == "incident" else engine.orders
        try:
            receipts.append(service.assign_reference(
                UUID(case.case_id), actor=actor,
                command_id=f"assign-reference/{case.case_id}"))
        except InvalidTransitionError:  # given one meanwhile, by another command: kept
            continue
    return receipts


# Reading --------------------------------------------------------------------------------


def _community_names(engine: Engine) -> dict[str, str]:
    engine.reports.ready()
    return {key: doc["name"] for key, doc in engine.views.select("cases", "community")}


def _case_row(case: Case, names: dict[str, str]) -> Row:
    dims = case.dims
    if case.subject == "incident":
        what = f"{dims.get('incident_type')} ({dims.get('severity')})"
        is_open = case.status != "closed"
    else:
        what = f"{dims.get('category')}/{dims.get('item')}"
        is_open = case.status not in {str(status) for status in ENDED_STATUSES}
    return Row(UUID(case.case_id), case.subject, UUID(case.community),
               names.get(case.community, "?"), dims.get("grid"),
               what + (" [drill]" if case.drill else ""), case.status, is_open, case.start,
               case.reference)


def _types(case: Case) -> set[str | None]:
    return {case.dims.get(name) for name in ("incident_type", "category", "item")}


def _listing(listed: Listed, rows: Iterable[Row], limit: int | None) -> Listing:
    newest = sorted(rows, key=lambda row: (row.started, row.id.hex), reverse=True)
    kept = newest if limit is None else newest[:limit]
    return Listing(listed, tuple(kept), len(newest))


def _check_limit(limit: object) -> None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                              or limit < 1):
        raise InvalidInputError(_("limit must be a positive integer or None, got {value}")
                                .format(value=shown(limit)))


def _is_prefix(text: str) -> bool:
    return _HEX.fullmatch(text.lower()) is not None and len(text.replace("-", "")) >= MIN_PREFIX


def _by_prefix(engine: Engine, prefix: str, kinds: Sequence[str]) -> dict[str, str]:
    """Key -> kind of every aggregate of ``kinds`` whose id begins with ``prefix``: the
    stored rows' keys only (no document is decoded)."""
    views = engine.views
    found: dict[str, str] = {}
    for kind in kinds:
        view, row_kind, _ = _KINDS[kind]
        found.update((row.key, kind) for row in views.store.select(
            views.stored_names[view], row_kind) if row.key.startswith(prefix))
    return found


def _by_reference(engine: Engine, reference: str, kinds: Sequence[str]) -> dict[str, str]:
    """Key -> kind of every case of ``kinds`` with ``reference``, in any community (two
    communities may share a code): the ``cases`` view's index documents of references."""
    views = engine.views
    keys = [reference_key(key, reference) for key, _ in views.select("cases", "community")]
    return {doc["id"]: doc["case"] for doc in views.fetch("cases", keys).values()
            if doc.get("kind") == "reference" and doc.get("case") in kinds}


def _by_handle(engine: Engine, handle: str, kinds: Sequence[str]) -> dict[str, str]:
    """Key -> kind of every aggregate of ``kinds`` a scenario recorded under ``handle``, in
    any community (the ids are derived from the community and the handle)."""
    views = engine.views
    communities = [UUID(key) for key, _ in views.select("cases", "community")]
    found: dict[str, str] = {}
    for kind in kinds:
        view, row_kind, id_for = _KINDS[kind]
        wanted = {str(id_for(community, handle)) for community in communities}
        found.update((key, kind) for key, doc in views.fetch(view, wanted).items()
                     if doc.get("kind") == row_kind)
    return found
