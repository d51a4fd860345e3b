"""Plain-text renderings shared by the reports: numbers, shares, group labels, tables."""

from collections.abc import Iterable, Mapping, Sequence

from resilience.errors import NotInReportError
from resilience.i18n import N_, _, current_language, display_width, pad


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def render_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain-text table with columns padded to fit, by the columns a terminal gives each
    character (a Chinese character takes two), so the columns line up in any language."""
    body = [list(map(str, r)) for r in rows]
    widths = [max(display_width(h), *(display_width(r[i]) for r in body)) if body
              else display_width(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(pad(c, w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths),
                      *(line(r) for r in body)])


DIMENSION_LABELS: Mapping[str, str] = {
    "community": N_("community"), "grid": N_("grid"), "incident_type": N_("incident_type"),
    "severity": N_("severity"), "zone_type": N_("zone_type"), "category": N_("category"),
    "item": N_("item"), "provider": N_("provider"), "provider_kind": N_("provider_kind"),
    "day": N_("day"), "week": N_("week"), "month": N_("month"), "year": N_("year"),
}
"""The dimensions a report groups by, as a group label names them (translated by ``_``)."""


UNIT_LABELS: Mapping[str, str] = {"s": N_("s"), "min": N_("min"), "h": N_("h"), "d": N_("d")}
"""Duration units as the reports show them (translated by ``_``)."""


CATALOGUE_WORDS = (
    N_("health"), N_("rehab care"), N_("home nursing"), N_("health check"), N_("meals"),
    N_("meal delivery"), N_("meal help"), N_("skills"), N_("skills training"),
    N_("digital help"), N_("home"), N_("repair"), N_("cleaning"), N_("escort"),
    N_("professional"), N_("legal advice"), N_("counselling"), N_("medical service"),
    N_("financial advice"),
)
"""The words of the default service catalogue's categories and items
(resilience.domain.catalogue.DEFAULT_CATALOGUE: ``"rehab_care"`` reads "rehab care"), for
the catalog: :func:`value_text` says them in the current language where an order's
category or item is shown ("home/repair" -> "居家/维修"). A catalogue of an app's own
shows its words as recorded."""

ESCALATION_WORDS = (N_("subdistrict"), N_("district"), N_("incident"), N_("order"))
"""Other recorded words :func:`value_text` shows: the kinds of body an escalation tells
(``Notified.scope``), the subjects of deadlines."""


def unit_text(unit: str) -> str:
    """A duration unit in the current language: ``"min"`` -> "分钟"."""
    return _(UNIT_LABELS[unit]) if unit in UNIT_LABELS else unit


def period_text(period: object) -> str:
    """A period as a report's title shows it: its bounds (ISO 8601, in every language), or
    "all time" in the current language."""
    text = str(period)
    if text == "all time":
        return _("all time")
    start, sep, end = text.partition(" to ")
    if not sep:
        return text
    return _("{start} to {end}").format(
        start=_("the beginning") if start == "the beginning" else start,
        end=_("now") if end == "now" else end)


def value_text(value: str, *, spaced: bool = False) -> str:
    """A recorded value (an incident type, a severity: ``"fire"``) in the current language
    when the catalog has its words ("火灾"), else as recorded; English shows it as recorded
    (``spaced``: with spaces for underscores, "squad member")."""
    shown = value.replace("_", " ") if spaced else value
    if current_language() == "en":
        return shown
    in_words = "".join(f" {ch.lower()}" if ch.isupper() and i else ch.lower()
                       for i, ch in enumerate(value)).replace("_", " ")  # ConsentGranted too
    said = _(in_words)
    return shown if said == in_words else said


def group_label(group: Mapping[str, str | None], names: Mapping[str, str] | None = None) -> str:
    if not group:
        return _("all")
    names = names or {}
    return _(", ").join(
        _("{dimension} {value}").format(
            dimension=_(DIMENSION_LABELS.get(k, k)) if k in DIMENSION_LABELS else k,
            value=(names.get(v or "", value_text(v)) if v is not None else _("(unknown)")))
        for k, v in group.items())


def absent(what: str, group: Mapping[str, str | None], rows: Iterable[Mapping[str, str | None]]
            ) -> NotInReportError:
    """The error for a group a report has no row of, naming the groups it has."""
    have = [group_label(g) for g in rows]
    return NotInReportError(_("{what} has no row for {group}; its rows: {rows}").format(
        what=what, group=group_label(group),
        rows=_("; ").join(have) if have else _("none (no cases)")))


def met_text(target_met: bool | None) -> str:
    return "-" if target_met is None else (_("yes") if target_met else _("NO"))
