"""The titles and scopes of reviews, and a period as a title reads it, in the current
language (resilience.i18n).

A period that is one calendar month in its own zone reads "February 2022" ("2022年2月"),
one calendar year "2022" ("2022年"), one day "2022-02-15" (in every language: the reviews'
dates in tables are ISO 8601), no bounds "all time"; any other period gives its bounds,
"2022-02-01 00:00 +08:00 to 2022-02-15 00:00 +08:00".
"""

from datetime import datetime, timedelta

from resilience.i18n import _, format_datetime, format_month, ngettext
from resilience.metrics.period import Period
from resilience.review.text import enum_words, stamp

__all__ = ["incident_review_scope", "incident_review_title", "period_title",
           "scope_review_scope", "scope_review_title"]


def period_title(period: Period) -> str:
    """The period as a title says it (module docstring)."""
    start, end = period.start, period.end
    if start is None and end is None:
        return _("all time")
    if start is not None and end is not None and _midnight(start) and _midnight(end):
        if start.day == 1 and start.month == 1 and end == start.replace(year=start.year + 1):
            return format_datetime(start, "y")
        following = start.replace(year=start.year + start.month // 12,
                                  month=start.month % 12 + 1)
        if start.day == 1 and end == following:
            return format_month(start.year, start.month)
        if end - start == timedelta(days=1):
            return f"{start:%Y-%m-%d}"
    return _("{start} to {end}").format(start=stamp(start) if start else _("the beginning"),
                                        end=stamp(end) if end else _("now"))


def _midnight(moment: datetime) -> bool:
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def incident_review_title(incident_type: object, severity: object, grid: str | None,
                          community: str, detected_at: datetime) -> str:
    """"After-action review: fire (high) in grid 3 of Donghu Community, 2022-02-15 15:00"."""
    return _("After-action review: {type} ({severity}) in grid {grid} of {community}, "
             "{moment}").format(type=enum_words(incident_type), severity=enum_words(severity),
                                grid=grid or "?", community=community,
                                moment=f"{detected_at:%Y-%m-%d %H:%M}")


def incident_review_scope(incident_id: object, community: str, grid: str | None) -> str:
    """"incident 9e16... (Donghu Community, grid 3)"."""
    return _("incident {id} ({community}, grid {grid})").format(
        id=incident_id, community=community, grid=grid or "?")


def _where(community: str, grid: str | None) -> str:
    return (_("grid {grid} of {community}").format(grid=grid, community=community)
            if grid is not None else community)


def scope_review_title(community: str, grid: str | None, period: Period, drills: str) -> str:
    """"After-action review: incidents of grid 3 of Donghu Community, February 2022"
    (``drills``: "include", "exclude" or "only", as the review was asked)."""
    where, when = _where(community, grid), period_title(period)
    if drills == "only":
        return _("After-action review: drills of {where}, {period}").format(where=where,
                                                                            period=when)
    if drills == "exclude":
        return _("After-action review: incidents (drills left out) of {where}, {period}"
                 ).format(where=where, period=when)
    return _("After-action review: incidents of {where}, {period}").format(where=where,
                                                                           period=when)


def scope_review_scope(count: int, community: str, grid: str | None, period: Period,
                       drills: str) -> str:
    """"3 incidents of grid 3 of Donghu Community detected in February 2022"."""
    where, when = _where(community, grid), period_title(period)
    if drills == "only":
        text = ngettext("{count} drill of {where}, detected {period}",
                        "{count} drills of {where}, detected {period}", count)
    elif drills == "exclude":
        text = ngettext("{count} incident (drills left out) of {where}, detected {period}",
                        "{count} incidents (drills left out) of {where}, detected {period}",
                        count)
    else:
        text = ngettext("{count} incident of {where}, detected {period}",
                        "{count} incidents of {where}, detected {period}", count)
    return text.format(count=count, where=where, period=when)
