"""What every store of views shares: the rows, their tables, and the rule a page commits by.

A row is one view document with the columns queries use: ``kind``,
``community``, ``at`` (where it begins, epoch seconds) and ``until`` (for a case:
the moment from which it is no longer open, as its facts stand now:
resilience.projections.indexes). A page of events commits only if the stored
(generation, position) mark is still the one the page was folded from
(``check_mark``), so two readers never apply an event twice. The stores are in
resilience.adapters.viewstore (memory and SQLite) and
resilience.adapters.postgres_views (PostgreSQL).
"""

from typing import Any, NamedTuple

TABLE = "resilience_views"
GENERATIONS = "resilience_view_generations"

Mark = tuple[int, int]
"""(generation, position): what a page is folded from, and must still be when it commits."""

COLUMNS = ("view", "key", "kind", "community", "at", "doc", "until")
"""The table's columns, in ``ViewRow``'s order (``until`` last: it was added to tables
made without it, resilience.adapters.viewstore)."""

INDEXES = (("by_time", "view, kind, at"),
           ("by_community", "view, kind, community, at"),
           ("by_until", "view, kind, community, until, at"))
"""The views table's indexes (``resilience_views_<name>``) and their columns: a period's
rows of one kind, of every community or of one; and a community's rows that may be open
at a moment (``until`` after it, ``at`` before it: read off the index alone)."""


class ViewRow(NamedTuple):
    view: str
    key: str
    kind: str
    community: str | None
    at: float | None
    doc: str
    until: float | None = None
    """A case's moment from which it is never open again, as its facts stand now (epoch
    seconds; None while open, and for a document of no case): see
    resilience.projections.indexes.case_until."""


class ViewsMoved(Exception):
    """Another reader committed views past the position this page was folded from."""


def check_mark(generation: int | None, position: int | None, expected: Mark) -> None:
    """ViewsMoved unless the stored generation and position are ``expected`` (None: 0)."""
    found = (generation or 0, position or 0)
    if found != expected:
        raise ViewsMoved(f"views are at {found} (generation, position), not {expected}")


def where_clauses(view: str, kind: str, start: float | None, end: float | None,
                  community: str | None, mark: str, until_after: float | None = None, *,
                  steer: bool = False) -> list[tuple[str, list[Any]]]:
    """The ``WHERE`` conditions, with ``mark`` for each parameter (``?`` or ``%s``), and
    the parameters, of the selects whose rows together (``UNION ALL``) are a view's rows
    of a kind within [start, end) epoch seconds, of one community, and (``until_after``)
    whose ``until`` is None or later than it.

    That last is two selects, the rows whose ``until`` is None and those whose ``until``
    is later, each a range of the ``by_until`` index with ``at`` read off the index: as
    one select with an OR, SQLite reads every row begun before ``end`` instead. ``steer``
    (SQLite, whose planner has no statistics to choose by) keeps the second select off
    the ``at`` indexes, which would read every row begun before ``end``."""
    clauses = [f"view = {mark}", f"kind = {mark}"]
    params: list[Any] = [view, kind]
    if community is not None:
        clauses.append(f"community = {mark}")
        params.append(community)

    def ranges(at: str) -> tuple[list[str], list[Any]]:
        terms = [(f"{at} >= {mark}", start), (f"{at} < {mark}", end)]
        given = [(term, bound) for term, bound in terms if bound is not None]
        return [term for term, _ in given], [bound for _, bound in given]

    open_terms, open_bounds = ranges("at")
    if until_after is None:
        return [(" AND ".join(clauses + open_terms), params + open_bounds)]
    # Unary plus: no index on ``at`` for these terms, so the planner takes ``until``'s.
    ended_terms, ended_bounds = ranges("+at" if steer else "at")
    return [(" AND ".join([*clauses, "until IS NULL", *open_terms]), params + open_bounds),
            (" AND ".join([*clauses, f"until > {mark}", *ended_terms]),
             [*params, until_after, *ended_bounds])]


def within(row: ViewRow, start: float | None, end: float | None, community: str | None,
           until_after: float | None = None) -> bool:
    """Whether a row of the view and kind meets ``where_clauses``' other conditions (for
    stores without SQL)."""
    if community is not None and row.community != community:
        return False
    if start is not None and (row.at is None or row.at < start):
        return False
    if end is not None and (row.at is None or row.at >= end):
        return False
    return until_after is None or row.until is None or row.until > until_after
