"""Numbering a new incident or order: its reference taken from its community's book for its
kind and year (resilience.domain.references), saved with the case's first fact."""

from datetime import datetime
from uuid import UUID

from attrs import frozen

from resilience.domain.base import Context
from resilience.domain.hazard import Hazard
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.references import (
    CaseKind,
    ReferenceBook,
    book_id,
    reference_text,
    year_of,
)
from resilience.domain.service import ServiceOrder
from resilience.errors import NotFoundError
from resilience.services.core import Store


@frozen
class Numbered:
    """The reference a new case is to get: its community, kind and year, and the book it
    comes from (None: the year's first, which opens the book)."""

    community_id: UUID
    kind: CaseKind
    year: int
    book: ReferenceBook | None
    reference: str


def next_reference(store: Store, community: Community, kind: CaseKind,
                   first: datetime) -> Numbered:
    """The next reference of ``community``'s ``kind`` in the year of ``first`` (when the
    case's first fact happened), as the store stands: taken by ``take`` once the case is
    made. Call it holding the store's lock, inside a command's decision."""
    year = year_of(first)
    book: ReferenceBook | None
    try:
        book = store.current(ReferenceBook, book_id(community.id, kind, year))
    except NotFoundError:
        book = None
    number = 1 if book is None else book.issued + 1
    return Numbered(community.id, kind, year, book,
                    reference_text(community.reference_code, year, kind, number))


def take(store: Store, numbered: Numbered, ctx: Context, case_id: UUID) -> None:
    """Record that ``case_id`` got ``numbered.reference`` (in the context of the command
    that gave it), saved with the case's fact."""
    book = numbered.book
    if book is None:
        book = ReferenceBook.open(ctx, community_id=numbered.community_id,
                                  case_kind=numbered.kind, year=numbered.year,
                                  reference=numbered.reference, case_id=case_id)
    else:
        book.issue(ctx, numbered.reference, case_id)
    store.save_with_command(book)


def give_reference(store: Store, case: Incident | ServiceOrder | Hazard, ctx: Context) -> None:
    """Give ``case``, recorded before references, its reference now: numbered in the year
    of its first fact (as it stands), in its community's book, as it would have been."""
    kind: CaseKind = ("incident" if isinstance(case, Incident)
                      else "hazard" if isinstance(case, Hazard) else "order")
    community = store.current(Community, case.community_id)
    numbered = next_reference(store, community, kind, case.occurred[1])
    case.give_reference(ctx, numbered.reference)
    take(store, numbered, ctx, case.id)
