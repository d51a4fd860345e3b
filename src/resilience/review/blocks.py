"""The blocks a review's document is made of: headings, paragraphs, tables, lists, charts
and sections, and the grade badges and toned verdicts in their cells.

:mod:`.document` and :mod:`.response` say what goes in them; :mod:`.markdown` and
:mod:`.html` lay them out.
"""

from typing import TYPE_CHECKING

from attrs import frozen

from resilience.i18n import N_

if TYPE_CHECKING:
    from resilience.review.model import Grade, IncidentReview


@frozen
class Badge:
    """A grade: a coloured letter in HTML, a bold one in Markdown."""

    grade: "Grade | None"
    text: str = ""
    pending: bool = False

    @property
    def letter(self) -> str:
        if self.grade is not None:
            return self.grade.value
        return "…" if self.pending else "n/a"


@frozen
class Mark:
    """A short verdict whose tone HTML colours (good, bad, note)."""

    text: str
    tone: str


Cell = str | Badge | Mark


@frozen
class Heading:
    level: int
    text: str


@frozen
class Paragraph:
    text: str
    label: str = ""
    css: str = ""
    facts: str = ""
    """The id prefix of the timeline rows its "#21" fact references point to ("" none):
    HTML links them, Markdown leaves them as text."""
    reference: str = ""
    """An id shown small after the text, " (id 9e16...)", for people to type back into
    the command line ("" none): HTML sets it in ``<small>``, the id in ``<code>``;
    Markdown the id as code."""


REFERENCE = N_(" (id {reference})")
"""How a paragraph's ``reference`` follows its text (the renderers translate it)."""


@frozen
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    css: str = ""
    row_ids: tuple[str, ...] = ()
    """Each row's id, for links to it (HTML; empty: none)."""


@frozen
class BulletList:
    items: tuple[Paragraph, ...]


@frozen
class Chart:
    incident: "IncidentReview"
    number: int


@frozen
class Section:
    css: str
    blocks: tuple["Block", ...]


Block = Heading | Paragraph | Table | BulletList | Chart | Section
