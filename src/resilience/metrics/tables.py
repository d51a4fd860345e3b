"""Plain-text renderings shared by the reports: numbers, shares, group labels, tables."""

from collections.abc import Iterable, Mapping, Sequence

from resilience.errors import NotInReportError
from resilience.i18n import display_width, pad


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


def group_label(group: Mapping[str, str | None], names: Mapping[str, str] | None = None) -> str:
    if not group:
        return "all"
    names = names or {}
    return ", ".join(f"{k} {names.get(v or '', v) if v is not None else '(unknown)'}"
                     for k, v in group.items())


def absent(what: str, group: Mapping[str, str | None], rows: Iterable[Mapping[str, str | None]]
            ) -> NotInReportError:
    """The error for a group a report has no row of, naming the groups it has."""
    have = [group_label(g) for g in rows]
    return NotInReportError(f"{what} has no row for {group_label(group)}; its rows: "
                            f"{'; '.join(have) if have else 'none (no cases)'}")


def met_text(target_met: bool | None) -> str:
    return "-" if target_met is None else ("yes" if target_met else "NO")
