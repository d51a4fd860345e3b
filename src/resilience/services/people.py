"""A person's rights over what the store holds about them: erasure and access.

**Erasure** is crypto-shredding (resilience.adapters.keystore): on a protected store
every personal value is sealed under its subject's own key, so deleting a person's key
makes everything sealed under it unreadable for good, in every event and every backup
taken afterwards, while the facts stay. ``erase`` records ``Community.PersonErased``,
deletes the key (keeping a tombstone: new personal data about the person is refused with
ErasedPersonError) and rebuilds the views, so they hold nothing of the person's either.
Their personal values then read as a placeholder: ``"[erased]"`` for text, and for an
identifier (a resident's id in a consent, a household's in an order) ``"[erased <tag>]"``,
equal for equal values of one person, so the facts still fold as before and every
report computes the same numbers. Their id stays: person ids are pseudonyms, the join
keys of rosters, authorization and grouping.

**Access** (``export``): everything the store holds about one person, as JSON-ready data:
their enrolment and roles in each community, and every fact they recorded, that holds
personal data of theirs, or that names them; other people's personal data in those
facts is withheld.

**Who may.** The key is the store's, not one community's: erasing it, or reading all
that is held about a person, reaches every community the person appears in (they
recorded a fact there, a fact holds personal data of theirs, or a field names them:
``_holdings`` reads the whole history for them). The actor must be allowed the command
(``"people.erase"``, ``"people.export"``) in **every** one of them. An erasure is first
authorized in the community it is recorded in, before anything about the person is read;
a refusal because another community holds them too names none. A refused export reads
the same whether the store holds the person or not.
"""

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from attrs import define, field

from resilience.adapters.converter import converter
from resilience.adapters.keystore import person_subject
from resilience.adapters.mapper import ConverterMapper, Decoded, key_ring
from resilience.domain.base import Context, FactAggregate, masked, personal_values
from resilience.domain.organisation import Community
from resilience.domain.policy import Target
from resilience.domain.validation import check_uuid, require_text
from resilience.domain.values import Actor
from resilience.errors import (
    ConfigurationError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ResilienceError,
    UnreadableEventError,
)
from resilience.i18n import N_, _
from resilience.projections.runner import Views
from resilience.services.core import AggregateService, Receipt, Store

WITHHELD = "[withheld: another person's data]"
"""What an export shows in place of someone else's personal data."""
ERASE, EXPORT = "people.erase", "people.export"
"""The commands the policy rules on (``engine.erase_person``, ``engine.export_person``)."""
_PAGE = 5000


@define
class _Holdings:
    """What the history holds about one person (``People._holdings``)."""

    communities: dict[UUID, None] = field(factory=dict)
    """The communities whose facts hold them, in the order first met."""
    facts: list[tuple[int, FactAggregate.Event, list[str]]] = field(factory=list)
    """(position, fact, how it relates to them) of every fact that does."""
    unreadable: list[dict[str, Any]] = field(factory=list)
    """Stored events that could not be read (they may hold more)."""
    unsealed: int = 0
    """Facts holding personal data of theirs stored unsealed (by an earlier version)."""


class People(AggregateService[Community]):
    """``engine.erase_person`` and ``engine.export_person``."""

    aggregate_class = Community
    name = "people"

    def __init__(self, store: Store, views: Views) -> None:
        super().__init__(store)
        self._views = views

    def erase(
        self, person_id: str, *, community: UUID, actor: Actor, reason: str,
        occurred_at: datetime | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Erase a person's personal data from the whole store (crypto-shredding; module
        docstring): record ``Community.PersonErased`` in ``community``, delete the person's
        key, rebuild the views. The actor must be allowed ``"people.erase"`` (community
        staff; never by override) in ``community`` (checked first, before anything about
        the person is read) and in every other community whose facts hold the person
        (PermissionDeniedError, naming none of those); ``community`` must hold them
        (NotFoundError). ``reason`` says on what ground, without naming the person. Safe to repeat:
        erasing someone erased here before records nothing new and deletes the key again
        if it is still there. Reads the whole history twice (to authorize, then to
        rebuild the views): it takes about twice as long as ``resilience rebuild``.

        Refused, with nothing recorded or deleted: on an unprotected store, or one holding
        the person's data unsealed (written by an earlier version), ConfigurationError;
        inside ``engine.batch()``
        InvalidTransitionError (the key would be deleted even if the batch rolled back);
        on an importing engine (``engine.importing``), PermissionDeniedError."""
        keys = self._keys()
        self._store.refuse_if_never_imported(ERASE)
        if self._store.in_batch:
            raise InvalidTransitionError(
                _("erase_person cannot run inside engine.batch(): it deletes the person's key "
                  "at once, which rolling the batch back could not undo; erase after the "
                  "batch. Nothing was recorded"))
        person_id = require_text(person_id, "person_id")
        reason = require_text(reason, "reason")  # a repeat records nothing, but is checked
        check_uuid(community, "community id")
        ctx = self._store.context(actor, occurred_at, command_id)
        # Allowed in the community named before anything about the person is looked up:
        # a refused caller learns nothing of them, not even whether any fact holds them.
        try:
            self._authorize(ERASE, person_id, [community], ctx)
        except NotFoundError:  # no such community: refused as any other, told nothing more
            raise PermissionDeniedError(
                _("{person}, as {role}, may not erase {subject} in community {community}; "
                  "nothing was recorded").format(person=ctx.actor.person_id,
                                                 role=ctx.actor.role.value, subject=person_id,
                                                 community=community)) from None
        holdings = self._holdings(person_id)
        if community not in holdings.communities:
            raise NotFoundError(_("no fact of this community holds {person}: nothing to "
                                  "erase here").format(person=person_id))
        # The key is the store's: staff of every other community holding the person too,
        # not named (the caller may not know of them).
        self._authorize(ERASE, person_id, holdings.communities, ctx,
                        elsewhere=_("they are held by another community too, whose staff "
                                    "must also be allowed"))
        if holdings.unsealed:
            raise ConfigurationError(
                _("{count} stored fact(s) hold personal data of {person} unsealed (written "
                  "by an earlier version, under the store key alone): deleting their key "
                  "would not erase it, so nothing was erased or recorded. Copy the history "
                  "into a new protected store and erase there (docs/security.md, 'Stores "
                  "written before per-person keys')").format(count=holdings.unsealed,
                                                             person=person_id))
        if person_id in self.get(community).erased:
            # Recorded before (a repeat, or a run stopped before the key was deleted):
            # authorised again, then finished; nothing new is recorded.
            receipt = self._run(community, actor, occurred_at, None, lambda c, ctx: None,
                                command="erase", subject=person_id)
            version = self.get(community).erased[person_id]
            receipt = Receipt(community, version, version, receipt.position)
        else:
            receipt = self._run(community, actor, occurred_at, command_id,
                                lambda c, ctx: c.erase_person(ctx, person_id, reason),
                                command="erase", subject=person_id)
        keys.erase(person_subject(person_id))
        self._views.rebuild()
        return receipt

    def _community_of(self, aggregate: Community) -> Community:
        return aggregate

    def _target(self, aggregate: Community, ctx: Context, subject: object,
                area: object) -> Target:
        return _about(aggregate, subject if isinstance(subject, str) else None, ERASE)

    def _keys(self) -> Any:
        keys = key_ring(self._store.app)
        if keys is None:
            raise ConfigurationError(
                _("erasure needs a protected store (the CIPHER_TOPIC and CIPHER_KEY settings): "
                  "without protection personal data is stored in plain text and cannot be "
                  "erased from the events"))
        return keys

    def _authorize(self, command: str, person_id: str, communities: Iterable[UUID],
                   ctx: Context, *, elsewhere: str | None = None,
                   uniform: bool = False) -> None:
        """PermissionDeniedError unless ``ctx.actor`` may do ``command`` about
        ``person_id`` in every one of ``communities``. ``elsewhere`` not None: the refusal
        names no community (``elsewhere`` says why, after who may not do what);
        ``uniform``: refused whatever the communities are (none hold the person)."""
        refusal = PermissionDeniedError(_(_REFUSED[command, bool(elsewhere)]).format(
            person=ctx.actor.person_id, role=ctx.actor.role.value, subject=person_id,
            why=elsewhere))
        if uniform:
            raise refusal
        with self._store.locked():
            for community_id in communities:
                community = self._store.current(Community, community_id)
                target = _about(community, person_id, command)
                try:
                    self._store.authorize(command, ctx, community, constantly(target))
                except PermissionDeniedError:
                    if elsewhere is not None:
                        raise refusal from None
                    raise

    def export(self, person_id: str, *, actor: Actor) -> dict[str, Any]:
        """Everything the store holds about one person (an access request), JSON-ready:
        ``communities`` (their enrolment, roles and erasure in each community whose facts
        hold them), ``facts`` (every fact they recorded, holding personal data of theirs,
        or naming them, in the order recorded, with how it relates to them),
        ``unreadable`` (stored events that could not be read, which may hold more). Other
        people's personal data in those facts reads ``WITHHELD``.

        ``actor`` must be allowed ``"people.export"`` in every one of those communities
        (by default: the person themselves, as resident, or community staff of each);
        PermissionDeniedError otherwise, and on an importing engine. Reads the whole
        history. The app authenticates who asks; a person no fact holds gets an empty
        export, if they ask for themselves."""
        self._store.refuse_if_never_imported(EXPORT)
        person_id = require_text(person_id, "person_id")
        ctx = self._store.context(actor, None, None)
        holdings = self._holdings(person_id)
        if holdings.communities or actor.person_id != person_id:
            # One refusal for every reason (nobody holds them, or someone refuses), naming
            # no community: a refused caller learns nothing of the person.
            self._authorize(EXPORT, person_id, holdings.communities or [], ctx,
                            elsewhere="", uniform=not holdings.communities)
        facts: list[dict[str, Any]] = []
        for position, event, relation in holdings.facts:
            shown = masked(event, WITHHELD, keep=lambda subject: subject == person_id)
            fields = converter.unstructure(shown, type(shown))
            for library in ("originator_id", "originator_version", "timestamp",
                            "originator_topic"):
                fields.pop(library, None)
            facts.append({
                "position": position, "aggregate": event.aggregate_kind,
                "aggregate_id": str(event.originator_id), "version": event.originator_version,
                "fact": event.fact_name, "occurred_at": event.occurred_at.isoformat(),
                "recorded_at": event.timestamp.isoformat(), "relation": relation,
                "description": shown.describe(), "fields": fields,
            })
        return {
            "person_id": person_id,
            "exported_at": self._store.clock().isoformat(),
            "communities": [_membership(self.get(c), person_id) for c in holdings.communities],
            "facts": facts,
            "unreadable": holdings.unreadable,
        }

    def _holdings(self, person_id: str) -> _Holdings:
        """Read the whole history for what it holds about ``person_id``."""
        found = _Holdings()
        community_of: dict[UUID, UUID] = {}
        for position, topic, read in self._history():
            if isinstance(read, ResilienceError):
                found.unreadable.append({"position": position, "topic": topic,
                                         "error": str(read)})
                continue
            event: Any = read.event
            aggregate_id = event.originator_id
            if event.aggregate_kind == "community":
                community_of[aggregate_id] = aggregate_id
            elif isinstance(getattr(event, "community_id", None), UUID):
                community_of[aggregate_id] = event.community_id  # its first fact names it
            relation = _relation(event, person_id)
            if not relation:
                continue
            where = community_of.get(aggregate_id)
            if where is None:  # its first fact was unreadable: whose it is is unknown
                raise UnreadableEventError(
                    _("fact {position} ({fact}) concerns {person}, but the community of its "
                      "{kind} {id} cannot be read (see the data-quality report); nothing was "
                      "done").format(position=position, fact=event.fact_name,
                                     person=person_id, kind=event.aggregate_kind,
                                     id=aggregate_id))
            found.communities[where] = None
            found.facts.append((position, event, relation))
            if any(subject == person_id and path not in read.sealed
                   for path, subject, _ in personal_values(event)):
                found.unsealed += 1
        return found

    def _history(self) -> Iterator[tuple[int, str, Decoded | ResilienceError]]:
        """(position, topic, event read or the error reading it) of every stored event."""
        recorder, mapper = self._store.app.recorder, self._store.app.mapper
        assert isinstance(mapper, ConverterMapper)  # the engine's (MAPPER_TOPIC)
        position = 0
        while page := recorder.select_notifications(position + 1, _PAGE):
            for notification in page:
                read: Decoded | ResilienceError
                try:
                    read = mapper.decode(notification)
                except ResilienceError as exc:
                    read = exc
                yield notification.id, notification.topic, read
            position = page[-1].id


def _relation(event: FactAggregate.Event, person_id: str) -> list[str]:
    """How a fact relates to a person: ``recorded`` (they did it), ``personal`` (it holds
    personal data of theirs), ``named`` (a field names them by id)."""
    found = []
    if event.actor.person_id == person_id:
        found.append("recorded")
    if any(subject == person_id for _, subject, _ in personal_values(event)):
        found.append("personal")
    if _names(converter.unstructure(event, type(event)), person_id):
        found.append("named")
    return found


def _names(value: Any, person_id: str) -> bool:
    """Does a JSON-ready value hold ``person_id`` as one of its texts?"""
    if isinstance(value, str):
        return value == person_id
    if isinstance(value, dict):
        return any(_names(v, person_id) for v in value.values())
    if isinstance(value, list):
        return any(_names(v, person_id) for v in value)
    return False


def _membership(community: Community, person_id: str) -> dict[str, Any]:
    """A person's place in one community: enrolment, roles, erasure."""
    person = community.people.get(person_id)
    enrolled = community.enrolments.get(person_id)
    roles = []
    for term in community.terms:
        if term.person_id != person_id:
            continue
        relieved = term.relieved
        roles.append({
            "role": term.role.value, "scope": term.scope,
            "employment": None if term.employment is None else term.employment.value,
            "affiliation": term.affiliation,
            "since": community.time_of(term.assigned).isoformat(),
            "until": None if relieved is None else community.time_of(relieved).isoformat(),
        })
    erased = community.erased.get(person_id)
    return {
        "community_id": str(community.id), "community": community.name,
        "enrolment": None if person is None or enrolled is None else {
            "name": person.name, "phone": person.phone, "skills": list(person.skills),
            "at": community.time_of(enrolled).isoformat()},
        "roles": roles,
        "erased_at": None if erased is None else community.time_of(erased).isoformat(),
    }


_REFUSED = {
    (ERASE, False): N_("{person}, as {role}, may not erase {subject}; nothing was recorded "
                       "or read"),
    (ERASE, True): N_("{person}, as {role}, may not erase {subject}: {why}; nothing was "
                      "recorded or read"),
    (EXPORT, False): N_("{person}, as {role}, may not read what is held about {subject}; "
                        "nothing was recorded or read"),
    (EXPORT, True): N_("{person}, as {role}, may not read what is held about {subject}: "
                       "{why}; nothing was recorded or read"),
}
"""The refusal of each command, without and with why (``elsewhere``)."""


def _about(community: Community, person_id: str | None, command: str) -> Target:
    """A command about one person in one community, as the policy sees it."""
    return Target(subject=person_id, what=community.name,
                  subject_is=(N_("the person erased") if command == ERASE
                              else N_("the person asked for")))


def constantly(target: Target) -> Callable[[datetime], Target]:
    """The same target at any moment (a person is who they are, whenever asked)."""
    return lambda _: target
