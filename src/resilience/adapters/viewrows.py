"""What every store of views shares: the rows, their tables, and the rule a page commits by.

A row is one view document with the three columns queries use. A page of
events commits only if the stored (generation, position) mark is still the
one the page was folded from (``check_mark``), so two readers never apply
an event twice. The stores are in resilience.adapters.viewstore (memory and
SQLite) and resilience.adapters.postgres_views (PostgreSQL).
"""

from typing import Any, NamedTuple

TABLE = "resilience_views"
GENERATIONS = "resilience_view_generations"

Mark = tuple[int, int]
"""(generation, position): what a page is folded from, and must still be when it commits."""


class ViewRow(NamedTuple):
    view: str
    key: str
    kind: str
    community: str | None
    at: float | None
    doc: str


class ViewsMoved(Exception):
    """Another reader committed views past the position this page was folded from."""


def check_mark(generation: int | None, position: int | None, expected: Mark) -> None:
    """ViewsMoved unless the stored generation and position are ``expected`` (None: 0)."""
    found = (generation or 0, position or 0)
    if found != expected:
        raise ViewsMoved(f"views are at {found} (generation, position), not {expected}")


def where_clause(start: float | None, end: float | None, community: str | None,
                 mark: str) -> tuple[str, list[Any]]:
    """The ``AND ...`` conditions of a select within [start, end) epoch seconds and of one
    community, with ``mark`` for each parameter (``?`` or ``%s``), and the parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if start is not None:
        clauses.append(f"at >= {mark}")
        params.append(start)
    if end is not None:
        clauses.append(f"at < {mark}")
        params.append(end)
    if community is not None:
        clauses.append(f"community = {mark}")
        params.append(community)
    return "".join(f" AND {c}" for c in clauses), params
