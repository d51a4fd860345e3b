"""Human references: ``DH-2022-0001``, the number people say on the phone and write on forms.

An incident, a service order or a hazard gets its reference when it is recorded, as part
of its first fact (``Incident.Detected.reference``, ``ServiceOrder.Placed.reference``,
``Hazard.Found.reference``): a fact like any other, never changed afterwards. The
reference is made of

- the community's **code** (``Community.code``: ``DH`` for Donghu, set when it is
  registered or later with ``communities.set_code``; a community without one uses
  ``fallback_code``, ``C`` and the first four hex digits of its id);
- the **year** of the case's first fact (its detection, its placement), as the moment
  was given (in its own UTC offset: local time for a community recording local times);
- the case's **number** in its community, kind and year, from 1, with four digits at
  least; orders' numbers are written after an ``S`` (``DH-2022-S0001``) and hazards' after
  an ``H`` (``DH-2022-H0001``) so the series never read alike.

The numbers come from a **reference book** (:class:`ReferenceBook`), one aggregate per
community, kind and year, whose version *is* the last number issued: the book's fact
``Issued`` and the case's first fact are saved in one transaction, and the store's
uniqueness of ``(aggregate, version)`` means two writers can never both take a number.
One of them fails the insert and runs the command again with the next number
(``resilience.services.core.Store.create``). A number is taken only when the case is
recorded, so the numbers of a community's year have no gaps and no repeats; a changed
code applies to the references issued after it.
"""

import re
from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID, uuid5

from resilience.domain.base import Context, FactAggregate
from resilience.domain.validation import check_text, check_uuid, check_whole, shown
from resilience.errors import InvalidInputError, InvalidTransitionError
from resilience.i18n import N_, _

CaseKind = Literal["incident", "order", "hazard"]
CASE_KINDS: tuple[CaseKind, ...] = ("incident", "order", "hazard")
_SERIES = {"incident": "", "order": "S", "hazard": "H"}
"""What a kind's numbers are written after (``DH-2022-S0001``: an order; ``DH-2022-H0001``:
a hazard)."""

CODE = re.compile(r"[A-Z][A-Z0-9]{0,7}")
"""A community's code: a capital letter, then up to seven capitals or digits."""
REFERENCE = re.compile(r"(?P<code>[A-Z][A-Z0-9]{0,7})-(?P<year>\d{4})-(?P<series>[SH]?)"
                       r"(?P<number>\d{4,})")
"""A reference as written (``DH-2022-0001``, ``DH-2022-S0012``, ``DH-2022-H0003``)."""


def check_code(code: object) -> str:
    """``code`` as stored: a text of one to eight letters and digits, beginning with a
    letter, in capitals (``dh`` is taken as ``DH``); InvalidInputError otherwise."""
    text = check_text(code, "code").strip().upper()
    if not CODE.fullmatch(text):
        raise InvalidInputError(_(
            "a community's code is 1 to 8 letters and digits beginning with a letter "
            "(DH, XY2), got {value}").format(value=shown(code)))
    return text


def check_reference(reference: object) -> str | None:
    """``reference`` as a case's first fact keeps it: a reference as written, or None."""
    if reference is None:
        return None
    if not isinstance(reference, str) or REFERENCE.fullmatch(reference) is None:
        raise InvalidInputError(_("a reference reads like DH-2022-0001, got {value}").format(
            value=shown(reference)))
    return reference


class GivesReference:
    """What an incident's, an order's and a hazard's ``Referenced`` fact are (eventsourcing
    gives each aggregate event classes of its own): the reference of a case recorded before
    references existed, given later. Recorded whether or not the case stands closed
    (``follows_closure``); a case takes one reference only (``not_yet_referenced``). A
    plain mix-in, first among the class's bases so its ``apply`` is the one used."""

    follows_closure = True
    reference: str

    def apply(self, aggregate: Any) -> None:
        aggregate.reference = self.reference

    def describe(self) -> str:
        return f"reference {self.reference} given"


def not_yet_referenced(case: FactAggregate, reference: str) -> str:
    """``reference`` checked, for a case that has none yet (InvalidTransitionError if it
    has one: a case keeps the reference it was given)."""
    had = vars(case).get("reference")
    if had is not None:
        raise InvalidTransitionError(_("the {kind}'s reference is {reference} already").format(
            kind=_(case.kind), reference=had))
    checked = check_reference(reference)
    if checked is None:
        raise InvalidInputError(_("a reference reads like DH-2022-0001, got {value}").format(
            value=shown(reference)))
    return checked


def fallback_code(community_id: UUID) -> str:
    """The code of a community that has none: ``C`` and its id's first four hex digits."""
    return "C" + community_id.hex[:4].upper()


def reference_text(code: str, year: int, kind: CaseKind, number: int) -> str:
    """``DH-2022-0001`` (an incident), ``DH-2022-S0001`` (an order), ``DH-2022-H0001`` (a
    hazard)."""
    return f"{code}-{year:04d}-{_SERIES[kind]}{number:04d}"


def is_reference(text: str) -> bool:
    """Does ``text`` read as a reference (any case: people type ``dh-2022-1``)?"""
    return normal_reference(text) is not None


def normal_reference(text: str) -> str | None:
    """``text`` written as references are (capitals, four digits at least:
    ``dh-2022-1`` -> ``DH-2022-0001``), or None if it is no reference."""
    found = re.fullmatch(r"([A-Za-z][A-Za-z0-9]{0,7})-(\d{4})-([SsHh]?)(\d{1,9})",
                         text.strip())
    if found is None:
        return None
    code, year, series, number = found.groups()
    return f"{code.upper()}-{year}-{series.upper()}{int(number):04d}"


_BOOKS = UUID("5b0c6a52-6f1e-5d1a-9f3e-2d4b8c7a1e90")
"""The namespace of the books' ids (a constant: the ids are stored)."""


def book_id(community_id: UUID, kind: CaseKind, year: int) -> UUID:
    """The id of the book of ``community_id``'s ``kind`` references of ``year``."""
    return uuid5(_BOOKS, f"{community_id}/{kind}/{year}")


class ReferenceBook(FactAggregate):
    """The references of one community's incidents (orders, hazards) of one year: its version is
    the last number issued (module docstring)."""

    TOPIC = "resilience.references:ReferenceBook"
    kind = N_("reference book")
    snapshotted = True  # loaded from its snapshot and the few facts since, not all of them

    community_id: UUID
    case_kind: str
    year: int
    last: str
    """The last reference issued."""

    class Event(FactAggregate.Event):
        TOPIC = "resilience.references:Event"
        aggregate_kind = "references"
        correctable: ClassVar[bool] = False  # a number issued stays issued

        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            # A book keeps no fact's time or class (nothing corrects them, no rule reads
            # them): kept, they would make each snapshot of it grow with every number.
            aggregate.occurred.clear()
            aggregate.fact_types.clear()
            return aggregate

    class Opened(Event, FactAggregate.Created):
        """The book of a community's kind and year, opened by the first case it numbers:
        ``reference`` (number 1) was given to ``case_id``. One fact per reference, the
        first one included."""

        TOPIC = "resilience.references:Opened"
        community_id: UUID
        case_kind: str
        year: int
        reference: str
        case_id: UUID

        def apply(self, aggregate: "ReferenceBook") -> None:
            aggregate.community_id = self.community_id
            aggregate.case_kind = self.case_kind
            aggregate.year = self.year
            aggregate.last = self.reference

        def describe(self) -> str:
            return f"{self.reference} issued to {self.case_id}"

    Created = Opened

    class Issued(Event):
        """``reference`` was given to the case ``case_id`` (the fact's version is its
        number)."""

        TOPIC = "resilience.references:Issued"
        reference: str
        case_id: UUID

        def apply(self, aggregate: "ReferenceBook") -> None:
            aggregate.last = self.reference

        def describe(self) -> str:
            return f"{self.reference} issued to {self.case_id}"

    # Every aggregate has its corrections (eventsourcing gives each its own classes); a
    # book's facts are not correctable, so these are never recorded.
    class TimeCorrected(Event, FactAggregate.TimeCorrected):
        TOPIC = "resilience.references:TimeCorrected"

    class DetailsCorrected(Event, FactAggregate.DetailsCorrected):
        TOPIC = "resilience.references:DetailsCorrected"

    def __init__(self) -> None:
        super().__init__()
        self.last = ""

    @classmethod
    def open(cls, ctx: Context, *, community_id: UUID, case_kind: CaseKind, year: int,
             reference: str, case_id: UUID) -> "ReferenceBook":
        """The book of ``community_id``'s ``case_kind`` of ``year``, opened by giving
        ``reference`` (number 1) to ``case_id``."""
        check_uuid(community_id, "community_id")
        if case_kind not in CASE_KINDS:
            raise InvalidInputError(_("references are of incidents, orders or hazards, not "
                                      "{value}").format(value=shown(case_kind)))
        check_whole(year, "year")
        _check_number(reference, 1)
        ctx = _without_command(ctx)
        return cls._create(cls.Opened, id=book_id(community_id, case_kind, year),
                           timestamp=ctx.recorded_at, occurred_at=ctx.occurred_at,
                           actor=ctx.actor, command_id=None, community_id=community_id,
                           case_kind=case_kind, year=year, reference=reference,
                           case_id=case_id)

    @property
    def issued(self) -> int:
        """How many references the book has issued: one a fact."""
        return self.version

    def issue(self, ctx: Context, reference: str, case_id: UUID) -> None:
        """Record ``reference`` (the next number's) as given to ``case_id``."""
        check_uuid(case_id, "case_id")
        _check_number(reference, self.issued + 1)
        self._trigger(self.Issued, _without_command(ctx), reference=reference,
                      case_id=case_id)


def _check_number(reference: str, number: int) -> None:
    found = REFERENCE.fullmatch(check_text(reference, "reference"))
    if found is None or int(found["number"]) != number:
        raise InvalidInputError(_("{reference} is not the next reference of its book "
                                  "(number {number})").format(reference=shown(reference),
                                                              number=number))


def _without_command(ctx: Context) -> Context:
    """The case's context without its command id: the case's own facts answer a repeated
    command (its first fact records the id), and a book keeps no command ids."""
    if ctx.command_id is None:
        return ctx
    return Context(ctx.actor, ctx.occurred_at, ctx.recorded_at, None)


def year_of(moment: datetime) -> int:
    """The year a case's references count in: its first fact's, as the moment was given."""
    return moment.year
