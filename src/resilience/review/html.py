"""A review as one self-contained HTML5 page.

It lays out the blocks of :mod:`resilience.review.document` with coloured
grade badges and, for each incident, the SVG chart of
:mod:`resilience.review.chart`. The page needs nothing from the network: the
stylesheet (``review.css``, shipped beside this module) and the SVG are inline
and there are no scripts, so it can be mailed, archived and opened offline.
Every text from the data is escaped.

The page is in the review's language (``AfterActionReview.language``), which its
``<html lang>`` declares so that browsers pick the right fonts (the stylesheet names
CJK ones) and screen readers the right voice. Below 600 px wide the tables and the chart
scroll sideways in their own boxes, the chart keeping a width at which its labels read,
rather than shrinking to fit a phone.
"""

import re
from functools import cache
from html import escape
from importlib.resources import files
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
from resilience.review.chart import figure
from resilience.review.document import document
from resilience.review.sight import unhidden

if TYPE_CHECKING:
    from resilience.review.model import AfterActionReview

__all__ = ["review_to_html"]


def review_to_html(review: "AfterActionReview", detail: bool | None = None) -> str:
    """The review as one self-contained HTML5 page: inline CSS and SVG, nothing fetched;
    in the review's language; ``detail`` as for ``review_to_markdown``."""
    with language(review.language):
        body = "\n".join(_html(block) for block in document(review, detail))
    return (
        f"<!DOCTYPE html>\n<html lang=\"{escape(review.language)}\">\n<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(review.title)}</title>\n<style>\n{_stylesheet()}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


@cache
def _stylesheet() -> str:
    """``review.css``, read once from the package's files (wherever it is installed)."""
    return files("resilience.review").joinpath("review.css").read_text(encoding="utf-8")


def _html(block: Block) -> str:
    if isinstance(block, Section):
        inner = "\n".join(_html(b) for b in block.blocks)
        return f"<section class=\"{block.css}\">\n{inner}\n</section>"
    if isinstance(block, Heading):
        return f"<h{block.level}>{_shown(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p class=\"{block.css}\">{_html_para(block)}</p>"
    if isinstance(block, BulletList):
        return "<ul>\n" + "".join(f"<li>{_html_para(i)}</li>\n" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _html_table(block)
    return figure(block.incident, block.number)


def _shown(text: str) -> str:
    """Text from the data, escaped, a hidden personal value in the reader's language."""
    return escape(unhidden(text))


def _html_para(para: Paragraph) -> str:
    text = _shown(para.text)
    if para.facts:
        # "#21" names fact 21 of the incident: a link to its timeline row.
        text = _FACT.sub(lambda found: f"<a href=\"#{para.facts}{found[1]}\">#{found[1]}</a>",
                         text)
    if para.reference:
        text += _html_reference(para.reference)
    if not para.label:
        return text
    label = _("{label}:").format(label=para.label)
    return f"<strong>{escape(label)}</strong> {text}"


_FACT = re.compile(r"(?<![\w&])#(\d+)\b")


def _html_reference(reference: str) -> str:
    """" <small class="reference">(id <code>9e16...</code>)</small>"."""
    said = _(REFERENCE)
    before, _found, after = said.partition("{reference}")
    words = before.lstrip()
    return (f"{escape(before[:len(before) - len(words)])}<small class=\"reference\">"
            f"{escape(words)}<code>{escape(reference)}</code>{escape(after)}</small>")


def _html_table(table: Table) -> str:
    head = "".join(f"<th scope=\"col\">{escape(h)}</th>" for h in table.headers)
    ids = table.row_ids or ("",) * len(table.rows)
    rows = "".join(
        (f"<tr id=\"{escape(row_id)}\">" if row_id else "<tr>")
        + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>\n"
        for row, row_id in zip(table.rows, ids, strict=True)
    )
    return (f"<div class=\"table\"><table class=\"{table.css}\">\n"
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table></div>")


def _html_cell(cell: Cell) -> str:
    if isinstance(cell, Badge):
        css = cell.grade.value if cell.grade is not None else "na"
        return (f"<span class=\"badge grade-{css}\" title=\"{escape(cell.text)}\">"
                f"{cell.letter}</span> <span class=\"meaning\">{escape(cell.text)}</span>")
    if isinstance(cell, Mark):
        return f"<span class=\"mark {cell.tone}\">{_shown(cell.text)}</span>" if cell.text else ""
    return _shown(cell)
