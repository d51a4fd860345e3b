"""Commands on emergencies (peacetime <-> emergency, mobilisation), and what is in force.

Who is called up is the roster's answer at the call-up's moment (its ``occurred_at``),
from the community as stored now: everyone holding one of the teams' roles then, for the
whole community or (a grid's emergency) for an area within the grid or community-wide,
who was not called up already. The members are recorded on the fact, each with the team
they were called as: the first of the call-up's teams (in the order named) they held.

``in_force`` and ``in_emergency`` (which the watch asks of every case it checks) answer
from the community's emergencies as the ``cases`` view holds them (caught up first unless
the engine reads stale views), with the open batch's own: each emergency's span
(declaration to end, as corrected) and area read from its view document, never by
loading the aggregates. They are read once per view position and community, and a
document is folded again only when it gained facts: between two recordings every call
costs a look at the views' position, and an emergency ended long ago costs nothing but
its place in the list; never the length of the history.
"""

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID, uuid4, uuid5

from attrs import frozen

from resilience.domain.base import Context
from resilience.domain.deadline_state import InEmergency
from resilience.domain.emergency import (
    NORMAL_ORDER,
    CalledMember,
    Emergency,
    EmergencyKind,
    parse_teams,
)
from resilience.domain.organisation import NAMESPACE, Community
from resilience.domain.policy import Target
from resilience.domain.validation import check_moment, check_text, check_uuid, shown
from resilience.domain.values import Actor, AreaKind, Role
from resilience.errors import InvalidInputError, NotFoundError
from resilience.i18n import N_, _
from resilience.metrics.mobilisation import (
    EmergencySituation,
    Mobilisation,
    emergency_at,
    in_force_covering,
)
from resilience.review.situations import case_doc
from resilience.services.core import EventStoreApplication, FactService, Receipt, Store
from resilience.services.point_in_time import Cut, own_events
from resilience.services.reports import Reports

DEFAULT_TEAMS: tuple[Role, ...] = (Role.SQUAD_MEMBER, Role.VOLUNTEER)
"""The teams a call-up calls unless told otherwise: the emergency squad and the volunteers."""


def emergency_id_for(community: UUID, key: str) -> UUID:
    """A stable emergency id from a caller's key (a scenario key, a command id...)."""
    return uuid5(NAMESPACE, f"emergency/{community}/{key}")


class Emergencies(FactService[Emergency]):
    """``engine.emergencies``: declare, mobilise, end; what is in force, and how it went."""

    aggregate_class = Emergency
    name = "emergencies"

    def __init__(self, store: Store, reports: Reports, app: EventStoreApplication) -> None:
        super().__init__(store)
        self._reports = reports
        self._app = app
        self._cache: dict[UUID, tuple[int, tuple[EmergencySituation, ...]]] = {}
        """Community -> (the views' position, its emergencies as the views held them)."""
        self._folded: dict[UUID, dict[str, tuple[int, EmergencySituation]]] = {}
        """Community -> emergency key -> (its document's facts, the document folded)."""

    # Commands -----------------------------------------------------------------

    def declare(
        self, community_id: UUID, *, kind: EmergencyKind | str, reason: str, actor: Actor,
        area_id: str | None = None, occurred_at: datetime | None = None,
        emergency_id: UUID | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Switch the community (``area_id`` None) or one of its grids into an emergency of
        ``kind``, saying why. ``area_id`` must be one of the community's grids
        (InvalidInputError). Emergencies may overlap (a flood and a power cut; the whole
        community and one grid): each is its own, called up and ended on its own. A
        repeated command (its ``command_id``) records nothing. The id is ``emergency_id``
        if given, else ``emergency_id_for(community_id, command_id)`` with a command id,
        else a random UUID."""
        ctx = self._store.context(actor, occurred_at, command_id)
        if emergency_id is not None and not isinstance(emergency_id, UUID):
            raise InvalidInputError(_("emergency_id must be a UUID, got {value}").format(
                value=shown(emergency_id)))

        def record() -> Receipt:
            # The community read once, as cached: the insert checks it (Store.deciding).
            org = self._store.current(Community, community_id)
            new_id = emergency_id if emergency_id is not None else (
                emergency_id_for(org.id, command_id) if command_id else uuid4())

            def build() -> Emergency:
                # Decided on the area named, before it is checked: a refused caller learns
                # nothing of the community's grids.
                self._store.authorize("emergencies.declare", ctx, org, lambda _: _target(
                    area_id if isinstance(area_id, str) else None))
                if area_id is not None and org.area(check_text(
                        area_id, "area_id")).kind is not AreaKind.GRID:
                    raise InvalidInputError(_("{grid} is not a grid of {community}: an "
                                              "emergency covers the community or one grid")
                                            .format(grid=area_id, community=org.name))
                return Emergency.declare(ctx, emergency_id=new_id, community_id=org.id,
                                         area_id=area_id, kind=kind, reason=reason)

            return self._store.create(Emergency, new_id, ctx, build)

        return self._store.deciding(record)

    def call_up(self, emergency_id: UUID, teams: Sequence[Role | str] = DEFAULT_TEAMS, *,
                actor: Actor, occurred_at: datetime | None = None,
                command_id: str | None = None) -> Receipt:
        """Call up ``teams`` (roster roles; by default the squad and the volunteers): the
        members are everyone holding one of those roles at that moment in the emergency's
        area (module docstring) not called already; InvalidTransitionError if that is
        nobody."""
        def decide(emergency: Emergency, ctx: Context) -> None:
            parsed = parse_teams(teams)
            community = self._store.current(Community, emergency.community_id)
            emergency.call_up(ctx, parsed, _members(community, emergency, parsed,
                                                    ctx.occurred_at))

        return self._run(emergency_id, actor, occurred_at, command_id, decide,
                         command="call_up")

    def acknowledge(self, emergency_id: UUID, person_id: str, *, actor: Actor,
                    occurred_at: datetime | None = None,
                    command_id: str | None = None) -> Receipt:
        """Record that ``person_id``, called up, answered the call."""
        return self._run(emergency_id, actor, occurred_at, command_id,
                         lambda e, ctx: e.acknowledge(ctx, person_id), command="acknowledge",
                         subject=person_id, subject_is=N_("the member answering"))

    def arrive(self, emergency_id: UUID, person_id: str, post: str, *, actor: Actor,
               occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """Record that ``person_id``, called up, arrived at ``post``."""
        return self._run(emergency_id, actor, occurred_at, command_id,
                         lambda e, ctx: e.arrive(ctx, person_id, post), command="arrive",
                         subject=person_id, subject_is=N_("the member arriving"))

    def end(self, emergency_id: UUID, reason: str = NORMAL_ORDER, *, actor: Actor,
            occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        """End the emergency: back to peacetime (dated no earlier than any of its facts)."""
        return self._run(emergency_id, actor, occurred_at, command_id,
                         lambda e, ctx: e.end(ctx, reason), command="end")

    def add_note(self, emergency_id: UUID, text: str, *, actor: Actor,
                 occurred_at: datetime | None = None, command_id: str | None = None) -> Receipt:
        return self._run(emergency_id, actor, occurred_at, command_id,
                         lambda e, ctx: e.add_note(ctx, text), command="add_note")

    def _target(self, aggregate: Emergency, ctx: Context, subject: object,
                area: object) -> Target:
        called = frozenset(person for person, version in aggregate.called.items()
                           if aggregate.occurred[version] <= ctx.occurred_at)
        return _target(aggregate.area_id, subject if isinstance(subject, str) else None,
                       called)

    # Queries ------------------------------------------------------------------

    def in_force(self, community_id: UUID, area_id: str | None,
                 at: datetime) -> list[Emergency]:
        """The emergencies covering ``area_id`` (any area of the community; None: the
        community as a whole) at ``at``, by effective times, as stored now: those of the
        whole community, and (for an area) those of the grid it is in; by declaration.
        NotFoundError for an unknown community or area."""
        with self._store.locked():
            return [copy.deepcopy(self._store.current(Emergency, emergency_id))  # not the
                    for emergency_id in self._covering(   # store's cached objects
                        community_id, area_id, at, strict=True)]

    def in_emergency(self, community_id: UUID, area_id: str | None, at: datetime) -> bool:
        """Is any emergency in force covering ``area_id`` at ``at`` (``in_force``)? What the
        watch and the reviews ask of every case: an area the community does not know (a
        record older than its areas) counts as somewhere in the community, covered by the
        whole community's emergencies only, rather than stopping them. Cheap: no
        emergency is loaded (module docstring)."""
        return bool(self._covering(community_id, area_id, at, strict=False))

    def reading(self) -> InEmergency:
        """``in_emergency`` answered from one reading of each community it is asked about
        (its areas, its emergencies as the views hold them, this thread's batch's): for the
        same question asked of many cases at once (a review of a period), where each
        answer would otherwise look at the store and the views again. Ask it at once: it
        does not see what is recorded after its first answer for a community."""
        read: dict[UUID, _Read] = {}

        def in_emergency(community_id: UUID, area_id: str | None, at: datetime) -> bool:
            check_moment(at, "at", query=True)
            if community_id not in read:
                with self._store.locked():
                    read[community_id] = self._read(community_id)
            return bool(_among(read[community_id], area_id, at, strict=False))

        return in_emergency

    def _covering(self, community_id: UUID, area_id: str | None, at: datetime, *,
                  strict: bool) -> list[UUID]:
        """The ids of the emergencies ``in_force`` answers, by declaration."""
        check_moment(at, "at", query=True)
        with self._store.locked():
            return _among(self._read(community_id), area_id, at, strict=strict)

    def _read(self, community_id: UUID) -> "_Read":
        """What ``in_force`` answers from: the community as stored now, its emergencies as
        the views hold them, and the open batch's own (in no view yet: Store keeps them per
        thread, and they stand in for what the views say). Hold the store's lock."""
        community = self._store.current(Community, community_id)
        held = {key: e for key, e in self._store.held().items()
                if isinstance(e, Emergency) and e.community_id == community.id}
        spans = tuple(e for e in self._spans(community.id) if UUID(e.emergency_id) not in held)
        return _Read(community, spans, held)

    def _spans(self, community_id: UUID) -> tuple[EmergencySituation, ...]:
        """The community's emergencies as the ``cases`` view holds them (caught up first),
        read once per view position (hold the store's lock): each document is folded again
        only when it gained facts, so an emergency ended long ago costs nothing more."""
        self._reports.ready()
        views = self._reports.views
        position = views.position
        cached = self._cache.get(community_id)
        if cached is not None and cached[0] == position:
            return cached[1]
        folded = self._folded.setdefault(community_id, {})
        spans = []
        for key, doc in views.select("cases", "emergency", community=str(community_id)):
            size = len(doc["facts"])
            known = folded.get(key)
            if known is None or known[0] != size:
                situation = emergency_at(key, doc)
                if situation is None:
                    continue
                known = folded[key] = (size, situation)
            spans.append(known[1])
        found = tuple(spans)
        self._cache[community_id] = (position, found)
        return found

    def mobilisation(self, emergency_id: UUID, *, as_of: datetime | None = None,
                     known_at: datetime | None = None) -> Mobilisation:
        """How fast the emergency's people were mobilised (resilience.metrics.mobilisation):
        called, answered and the share answered, arrived, time from the first call-up to
        the first, half and all arrivals, declaration to the end; as of a cut if given,
        from the emergency's own facts. NotFoundError if it had not been declared by then."""
        return Mobilisation(self.situation(emergency_id, as_of=as_of, known_at=known_at))

    def situation(self, emergency_id: UUID, *, as_of: datetime | None = None,
                  known_at: datetime | None = None) -> EmergencySituation:
        """One emergency as it stood at a cut (as now, by default), from its own facts."""
        cut = Cut.of(as_of, known_at)
        doc = case_doc(own_events(self._app, emergency_id, Emergency))
        found = emergency_at(str(emergency_id), doc, as_of=cut.as_of, known_at=cut.known_at)
        if found is None:
            raise NotFoundError(_("emergency {id} is not in the record at that cut").format(
                id=emergency_id))
        return found

    def situations(self, community: UUID | None = None, *, as_of: datetime | None = None,
                   known_at: datetime | None = None) -> list[EmergencySituation]:
        """Every emergency (of one community, if given) declared by the cut, as it stood
        then, by declaration; from the ``cases`` view."""
        cut = Cut.of(as_of, known_at)
        if community is not None:
            check_uuid(community, "community")
        self._reports.ready()
        found = [situation for key, doc in self._reports.views.select(
                     "cases", "emergency", community=None if community is None
                     else str(community))
                 if (situation := emergency_at(key, doc, as_of=cut.as_of,
                                               known_at=cut.known_at)) is not None]
        return sorted(found, key=lambda s: (s.declared_at, s.emergency_id))


def _members(community: Community, emergency: Emergency, teams: Sequence[Role],
             at: datetime) -> list[CalledMember]:
    """Who the call-up calls (module docstring), in roster order, each once, as the first
    of ``teams`` (in the order named) they hold there then."""
    rank = {role: index for index, role in enumerate(teams)}
    members: dict[str, Role] = {}
    for holding in community.roster(at):
        if holding.role not in rank or holding.person_id in emergency.called:
            continue
        if (emergency.area_id is None or holding.scope is None
                or community.grid_of(holding.scope) == emergency.area_id):
            held = members.get(holding.person_id)
            if held is None or rank[holding.role] < rank[held]:
                members[holding.person_id] = holding.role
    return [CalledMember(person, role) for person, role in members.items()]


def _target(area: str | None, subject: str | None = None,
            called: frozenset[str] = frozenset()) -> Target:
    """An emergency as the policy sees it: its area, the member a command is about
    (``own``), and who was called up (``assigned``)."""
    return Target(area=area, subject=subject, assigned=called, what=N_("the emergency"),
                  area_is=N_("the emergency's area"), subject_is=N_("the member named"),
                  assigned_is=N_("called up in this emergency"))


@frozen
class _Read:
    """One reading of a community for ``in_force``: its areas, its emergencies as the
    views hold them, and the open batch's own."""

    community: Community
    spans: tuple[EmergencySituation, ...]
    held: Mapping[UUID, Emergency]


def _among(read: _Read, area_id: str | None, at: datetime, *, strict: bool) -> list[UUID]:
    """The ids of the emergencies of ``read`` in force at ``at`` covering ``area_id`` (an
    area the community does not know: the whole community's only, unless ``strict``), by
    declaration."""
    grid = None
    if area_id is not None:
        try:
            grid = read.community.grid_of(check_text(area_id, "area_id"))
        except NotFoundError:
            if strict:
                raise
    found = [(e.declared_at, e.emergency_id) for e in in_force_covering(read.spans, at, grid)]
    found += [(e.declared_at, str(key)) for key, e in read.held.items()
              if e.in_force(at) and e.covers(grid)]
    return [UUID(key) for _, key in sorted(found)]
