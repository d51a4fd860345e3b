"""Review keys: the text naming an after-action review, which its improvement items carry.

A review of one incident is ``incident/<incident uuid>``; a review of a
community's incidents over a period ``community/<community uuid>/<period>``,
of one grid's ``community/<community uuid>/grid/<grid>/<period>`` (``<period>``
the period's text, e.g. ``all time``). Keys are built here and taken apart
here, so that one review has one key: the uuid in its canonical text
(``str(uuid)``), the grid and period non-blank and without surrounding spaces.
"""

from uuid import UUID

from attrs import frozen

from resilience.domain.validation import shown
from resilience.errors import InvalidInputError
from resilience.i18n import _
from resilience.metrics.period import Period

REVIEW_KEY_FORMS = ("incident/<incident uuid>", "community/<community uuid>/<period>",
                    "community/<community uuid>/grid/<grid>/<period>")
"""The forms of a review key (``<period>``: the reviewed period's text, e.g. ``all time``)."""


def incident_review_key(incident_id: UUID | str) -> str:
    """The key linking an incident's review to its improvement items."""
    return f"incident/{incident_id}"


def scope_review_key(community: UUID | str, grid: str | None, period: Period) -> str:
    """The key of a review of a community's (or grid's) incidents over a period."""
    where = f"community/{community}" + (f"/grid/{grid}" if grid is not None else "")
    return f"{where}/{period}"


@frozen
class ReviewKey:
    """A review key taken apart: the review of one incident (``kind`` ``"incident"``,
    ``subject`` its id), or of a community's or grid's incidents over a period
    (``"community"``, the community's id, ``grid`` or None, ``period`` its text)."""

    kind: str
    subject: UUID
    grid: str | None = None
    period: str | None = None


def parse_review_key(review: object) -> ReviewKey:
    """Take a review key apart (see ``REVIEW_KEY_FORMS``); InvalidInputError if it is not
    one in its canonical text (see the module docstring)."""
    parsed = _review_key(review) if isinstance(review, str) else None
    if parsed is None:
        raise InvalidInputError(
            _("review {review} is not a review key: it is one of {forms}").format(
                review=shown(review), forms=", ".join(f"'{form}'" for form in REVIEW_KEY_FORMS)))
    return parsed


def _review_key(review: str) -> ReviewKey | None:
    kind, _, rest = review.partition("/")
    subject, _, scope = rest.partition("/")
    try:
        uuid = UUID(subject)
    except ValueError:
        return None
    if str(uuid) != subject:
        return None
    if kind == "incident":
        return ReviewKey(kind, uuid) if not scope and "/" not in rest else None
    if kind != "community":
        return None
    grid: str | None = None
    period = scope
    if scope.startswith("grid/"):
        grid, _, period = scope.removeprefix("grid/").rpartition("/")
        if not grid or grid != grid.strip():
            return None
    if not period or period != period.strip() or "/" in period:
        return None
    return ReviewKey(kind, uuid, grid, period)
