"""A review as an HSEEP-style after-action report in Markdown.

It lays out the blocks of :mod:`resilience.review.document`: a grade is its
letter in bold and its meaning; the chart is left out (the timeline table holds
its facts). Data is plain text: every character that would make markup, raw
HTML or an extra table column is escaped, and so is a character that would
start a heading, list or quote at the start of a line.
"""

from typing import TYPE_CHECKING

from resilience.i18n import _, language
from resilience.review.blocks import (
    REFERENCE,
    Badge,
    Block,
    BulletList,
    Cell,
    Heading,
    Mark,
    Paragraph,
    Section,
    Table,
)
from resilience.review.document import document
from resilience.review.sight import unhidden

if TYPE_CHECKING:
    from resilience.review.model import AfterActionReview

__all__ = ["review_to_markdown"]


def review_to_markdown(review: "AfterActionReview", detail: bool | None = None) -> str:
    """The review as an HSEEP-style after-action report in Markdown, in the review's
    language (``AfterActionReview.language``); every incident's section if ``detail``,
    else an index of them, by default (None) when there are more than
    ``OVERVIEW_AFTER`` (resilience.review.document)."""
    lines: list[str] = []
    with language(review.language):
        for block in document(review, detail):
            lines += _markdown(block)
    return "\n".join(lines).rstrip() + "\n"


_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*[]<|"})


def _md(text: str) -> str:
    # Data is plain text: keep it from turning into markup, raw HTML or extra
    # table columns. A hidden personal value reads in the reader's language.
    return " ".join(unhidden(text).split()).translate(_SPECIAL)


def _md_line(text: str) -> str:
    # At the start of a line these would make a heading, list or quote.
    flat = _md(text)
    return "\\" + flat if flat[:1] in ("#", "-", "+", ">", "=") else flat


def _markdown(block: Block) -> list[str]:
    if isinstance(block, Section):
        return [line for inner in block.blocks for line in _markdown(inner)]
    if isinstance(block, Heading):
        return ["#" * block.level + " " + _md(block.text), ""]
    if isinstance(block, Paragraph):
        return [_md_para(block), ""]
    if isinstance(block, BulletList):
        return [*("- " + _md_para(item) for item in block.items), ""]
    if isinstance(block, Table):
        return [
            "| " + " | ".join(_md(h) for h in block.headers) + " |",
            "|" + "|".join("---" for _ in block.headers) + "|",
            *("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows),
            "",
        ]
    return []  # the chart is drawn in HTML only; the timeline table holds its facts


def _md_para(para: Paragraph) -> str:
    reference = _md_reference(para.reference)
    if not para.label:
        return _md_line(para.text) + reference
    label = _("{label}:").format(label=para.label)
    return f"**{_md(label)}** {_md(para.text)}{reference}"


def _md_reference(reference: str) -> str:
    """" (id `9e16...`)": the id as code, to copy (as plain text if it holds a backquote);
    "" for none."""
    if not reference:
        return ""
    said = _(REFERENCE)
    lead = said[:len(said) - len(said.lstrip())]
    code = f"`{reference}`" if "`" not in reference and reference.strip() == reference else (
        _md(reference))
    return lead + _md(said).replace(_md("{reference}"), code, 1)


def _md_cell(cell: Cell) -> str:
    if isinstance(cell, Badge):
        return f"**{cell.letter}** {_md(cell.text)}"
    if isinstance(cell, Mark):
        return _md(cell.text)
    return _md(cell)
