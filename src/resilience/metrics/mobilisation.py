"""Emergencies read from the ``cases`` view: each one as it stood at a cut, and how fast
its people were mobilised.

The cuts are those of cases, by the same rule (resilience.metrics.cases.times_at_cut):
``known_at`` keeps the facts recorded by then, with only the corrections recorded by
then (of facts known then); ``as_of`` keeps the facts that had happened by then, at
their times as corrected. The facts left are folded
in the order they happened (``happening_order``).

The mobilisation report (``Mobilisation``) measures, over everyone called up by any
call-up of the emergency (``n`` people):

- **answered**: those who acknowledged or arrived (arriving answers the call), and the
  share answered, ``answered / n`` (None when nobody was called); the same per team
  (``teams``: each team, the roster role a member was called as, with its called,
  answered, share answered and arrived), so "the share of the squad that answered" is
  ``teams["squad_member"].answered_share``;
- **time to mobilise k people**: from the *first* call-up (when mobilisation began) to
  the k-th arrival, in the order they arrived (``time_to(k)``; None while fewer than k
  have arrived). ``to_first`` is k = 1, ``to_half`` the nearest rank of half the people
  called, k = ceil(n / 2) (resilience.metrics.stats.rank), and ``to_all`` k = n: so
  with 5 called, half are mobilised at the 3rd arrival;
- **duration**: from the declaration to the end ("return to normal order"); None while
  the emergency is in force.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from attrs import evolve, frozen

from resilience.adapters.report_data import SCHEMA_VERSION
from resilience.domain.base import happening_order
from resilience.domain.emergency import Emergency, covers_grid, in_force_between
from resilience.i18n import _
from resilience.metrics.cases import known_at_cut, times_at_cut
from resilience.metrics.stats import rank, share
from resilience.metrics.tables import render_table, unit_text, value_text


@frozen
class Member:
    """One person called up, as of the cut."""

    person_id: str
    called_at: datetime
    team: str
    """The team they were called as (a roster role's value, e.g. ``"squad_member"``)."""
    acknowledged_at: datetime | None = None
    arrived_at: datetime | None = None
    post: str | None = None
    """Where they arrived (None: not arrived)."""

    @property
    def answered(self) -> bool:
        """Acknowledged the call, or arrived (which answers it too)."""
        return self.acknowledged_at is not None or self.arrived_at is not None

    @property
    def status(self) -> str:
        """``"arrived"``, ``"acknowledged"`` or ``"called"``."""
        if self.arrived_at is not None:
            return "arrived"
        return "acknowledged" if self.acknowledged_at is not None else "called"


@frozen
class EmergencySituation:
    """One emergency as it stood at the cut."""

    emergency_id: str
    community: str
    area: str | None
    """The grid in emergency (None: the whole community)."""
    kind: str
    reason: str
    declared_at: datetime
    declared_by: str
    ended_at: datetime | None
    """None: not ended by the cut."""
    end_reason: str | None
    members: tuple[Member, ...]
    """Everyone called up by the cut, in the order they were called."""
    facts: int

    def in_force(self, at: datetime) -> bool:
        """Declared at or before ``at`` and not ended by then (``in_force_between``)."""
        return in_force_between(self.declared_at, self.ended_at, at)

    def covers(self, grid: str | None) -> bool:
        """Does the emergency cover ``grid`` (``covers_grid``)?"""
        return covers_grid(self.area, grid)

    @property
    def first_called_at(self) -> datetime | None:
        return min((m.called_at for m in self.members), default=None)


def in_force_covering(emergencies: Iterable[EmergencySituation], at: datetime,
                      grid: str | None, *, every_grid: bool = False
                      ) -> list[EmergencySituation]:
    """Those of ``emergencies`` in force at ``at`` that cover ``grid`` (None: the community
    as a whole; ``every_grid``: anywhere in the community), by declaration: what the
    watch asks of a case's area and a situation view shows."""
    return sorted((e for e in emergencies
                   if e.in_force(at) and (every_grid or e.covers(grid))),
                  key=lambda e: (e.declared_at, e.emergency_id))


@frozen
class Team:
    """One team's answer to the call-ups (the members called as it)."""

    team: str
    called: int
    answered: int
    arrived: int

    @property
    def answered_share(self) -> float | None:
        return share(self.answered, self.called)


@frozen
class Mobilisation:
    """How fast an emergency's people were mobilised (module docstring)."""

    emergency: EmergencySituation

    @property
    def called(self) -> int:
        return len(self.emergency.members)

    @property
    def answered(self) -> int:
        return sum(m.answered for m in self.emergency.members)

    @property
    def arrived(self) -> int:
        return sum(m.arrived_at is not None for m in self.emergency.members)

    @property
    def answered_share(self) -> float | None:
        return share(self.answered, self.called)

    @property
    def teams(self) -> dict[str, Team]:
        """Each team members were called as -> its called, answered and arrived, in the
        order the teams were first called."""
        members: dict[str, list[Member]] = {}
        for m in self.emergency.members:
            members.setdefault(m.team, []).append(m)
        return {team: Team(team, len(ms), sum(m.answered for m in ms),
                           sum(m.arrived_at is not None for m in ms))
                for team, ms in members.items()}

    def time_to(self, count: int) -> timedelta | None:
        """From the first call-up to the ``count``-th arrival (None: fewer arrived)."""
        first = self.emergency.first_called_at
        arrivals = sorted(m.arrived_at for m in self.emergency.members
                          if m.arrived_at is not None)
        if first is None or count < 1 or count > len(arrivals):
            return None
        return arrivals[count - 1] - first

    @property
    def to_first(self) -> timedelta | None:
        return self.time_to(1)

    @property
    def to_half(self) -> timedelta | None:
        return self.time_to(rank(50, self.called)) if self.called else None

    @property
    def to_all(self) -> timedelta | None:
        return self.time_to(self.called) if self.called else None

    @property
    def duration(self) -> timedelta | None:
        """From the declaration to the end (None: not ended)."""
        e = self.emergency
        return None if e.ended_at is None else e.ended_at - e.declared_at

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, report ``"mobilisation"`` (resilience.adapters.report_data's header): the
        measures (durations in seconds, ``*_s``) and every member."""
        e = self.emergency

        def seconds(value: timedelta | None) -> float | None:
            return None if value is None else value.total_seconds()

        def moment(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "schema_version": SCHEMA_VERSION, "report": "mobilisation",
            "emergency_id": e.emergency_id, "community": e.community, "area": e.area,
            "kind": e.kind, "declared_at": e.declared_at.isoformat(),
            "ended_at": moment(e.ended_at), "called": self.called, "answered": self.answered,
            "answered_share": self.answered_share, "arrived": self.arrived,
            "to_first_s": seconds(self.to_first), "to_half_s": seconds(self.to_half),
            "to_all_s": seconds(self.to_all), "duration_s": seconds(self.duration),
            "teams": {team: {"called": t.called, "answered": t.answered,
                             "answered_share": t.answered_share, "arrived": t.arrived}
                      for team, t in self.teams.items()},
            "members": [{"person_id": m.person_id, "team": m.team,
                         "called_at": m.called_at.isoformat(),
                         "acknowledged_at": moment(m.acknowledged_at),
                         "arrived_at": moment(m.arrived_at), "post": m.post}
                        for m in e.members],
        }

    def render(self, tz: tzinfo | None = None) -> str:
        """The report as text: the measures, then one row per member (times in ``tz``, by
        default as recorded)."""
        e = self.emergency

        def _time(value: datetime | None) -> str:
            if value is None:
                return "-"
            return (value.astimezone(tz) if tz else value).isoformat(timespec="minutes")

        where = (_("grid {grid}").format(grid=e.area) if e.area is not None
                 else _("the whole community"))
        answered = self.answered_share

        def share_of(part: float | None) -> str:
            return _(" ({share})").format(share=f"{part:.0%}") if part is not None else ""

        lines = [
            _("{kind} emergency in {area}, declared {time}: {reason}").format(
                kind=value_text(e.kind, spaced=True), area=where, time=_time(e.declared_at),
                reason=e.reason),
            _("called {called}, answered {answered}{share}, arrived {arrived}").format(
                called=self.called, answered=self.answered, share=share_of(answered),
                arrived=self.arrived),
            *("  " + _("{team}: called {called}, answered {answered}{share}, arrived "
                       "{arrived}").format(team=value_text(team, spaced=True), called=t.called,
                                           answered=t.answered,
                                           share=share_of(t.answered_share),
                                           arrived=t.arrived)
              for team, t in self.teams.items()),
            _("time to mobilise: first {first}, half {half}, all {all}").format(
                first=_span(self.to_first), half=_span(self.to_half), all=_span(self.to_all)),
            (_("in force") if e.ended_at is None else
             _("ended {time} ({reason}): declaration to normal order {span}").format(
                 time=_time(e.ended_at), reason=e.end_reason, span=_span(self.duration))),
        ]
        rows = [[m.person_id, value_text(m.team, spaced=True), value_text(m.status),
                 _time(m.called_at), _time(m.acknowledged_at), _time(m.arrived_at),
                 m.post or "-"]
                for m in e.members]
        if rows:
            lines.append(render_table([_("member"), _("team"), _("status"), _("called"),
                                       _("acknowledged"), _("arrived"), _("post")], rows))
        return "\n".join(lines)


def _span(value: timedelta | None) -> str:
    if value is None:
        return "-"
    minutes = value.total_seconds() / 60
    return (f"{minutes:g} {unit_text('min')}" if minutes < 120
            else f"{minutes / 60:.1f} {unit_text('h')}")


_E = Emergency


def emergency_at(key: str, doc: Mapping[str, Any], *, as_of: datetime | None = None,
                 known_at: datetime | None = None) -> EmergencySituation | None:
    """The emergency a ``cases`` document of kind ``"emergency"`` holds, as it stood at
    the cut; None if its declaration falls outside it."""
    entries: Sequence[Sequence[Any]] = doc["facts"]
    known = known_at_cut(doc, known_at)
    times, _ = times_at_cut(doc, known)
    kept = [_Fact(v, entry[0], times[v], entry[3], entry[4])
            for v, entry in enumerate(entries, start=1)
            if known[v - 1] and (as_of is None or times[v] <= as_of)]
    if not kept or kept[0].version != 1:
        return None
    return _situation(key, doc, kept)


@frozen
class _Fact:
    version: int
    name: str
    occurred_at: datetime
    extra: Any
    person: str


def _situation(key: str, doc: Mapping[str, Any], facts: list[_Fact]) -> EmergencySituation:
    declared = facts[0]
    members: dict[str, Member] = {}
    ended: _Fact | None = None
    for fact in sorted(facts, key=happening_order):
        match fact.name:
            case _E.MobilisationCalled.fact_name:
                _, called = fact.extra
                for person, team in called:
                    members[person] = Member(person, fact.occurred_at, team)
            case _E.MemberAcknowledged.fact_name if fact.extra in members:
                members[fact.extra] = evolve(members[fact.extra],
                                             acknowledged_at=fact.occurred_at)
            case _E.MemberArrived.fact_name if fact.extra[0] in members:
                person, post = fact.extra
                members[person] = evolve(members[person], arrived_at=fact.occurred_at,
                                         post=post)
            case _E.Ended.fact_name:
                ended = fact
    return EmergencySituation(
        emergency_id=key, community=str(doc["community"]), area=doc["area"],
        kind=str(doc["emergency_kind"]), reason=str(declared.extra),
        declared_at=declared.occurred_at, declared_by=declared.person,
        ended_at=None if ended is None else ended.occurred_at,
        end_reason=None if ended is None else str(ended.extra),
        members=tuple(members.values()), facts=len(facts))
