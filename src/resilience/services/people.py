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
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from resilience.adapters.converter import converter
from resilience.adapters.keystore import person_subject
from resilience.adapters.mapper import ConverterMapper
from resilience.domain.base import Context, FactAggregate, masked, personal_values
from resilience.domain.organisation import Community
from resilience.domain.policy import Target
from resilience.domain.validation import require_text
from resilience.domain.values import Actor
from resilience.errors import ConfigurationError, ResilienceError
from resilience.projections.runner import Views
from resilience.services.core import AggregateService, Receipt, Store

WITHHELD = "[withheld: another person's data]"
"""What an export shows in place of someone else's personal data."""
_PAGE = 5000


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
        key, rebuild the views. The actor must be allowed ``"people.erase"`` there
        (community staff; never by override). ``reason`` says on what ground, without
        naming the person. Needs a protected store (ConfigurationError otherwise: there the
        data is in the events in plain text). Safe to repeat: erasing someone erased here
        before records nothing new and deletes the key again if it is still there. The
        rebuild reads the whole history: it takes as long as ``resilience rebuild``."""
        keys = self._keys()
        person_id = require_text(person_id, "person_id")
        # The policy's "people.erase" is checked in _run, before anything is decided.
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
        return Target(subject=subject if isinstance(subject, str) else None,
                      what=aggregate.name, subject_is="the person erased")

    def _keys(self) -> Any:
        mapper = self._store.app.mapper
        keys = mapper.keys if isinstance(mapper, ConverterMapper) else None
        if keys is None:
            raise ConfigurationError(
                "erasure needs a protected store (the CIPHER_TOPIC and CIPHER_KEY settings): "
                "without protection personal data is stored in plain text and cannot be "
                "erased from the events")
        return keys

    def export(self, person_id: str) -> dict[str, Any]:
        """Everything the store holds about one person (an access request), JSON-ready:
        ``communities`` (their enrolment, roles and erasure in each), ``facts`` (every fact
        they recorded, holding personal data of theirs, or naming them, in the order
        recorded, with how it relates to them), ``unreadable`` (stored events that could
        not be read, which may hold more). Other people's personal data in those facts
        reads ``WITHHELD``. Reads the whole history. The app authenticates who asks."""
        person_id = require_text(person_id, "person_id")
        facts: list[dict[str, Any]] = []
        unreadable: list[dict[str, Any]] = []
        communities: dict[UUID, None] = {}
        for position, topic, event in self._history():
            if isinstance(event, ResilienceError):
                unreadable.append({"position": position, "topic": topic, "error": str(event)})
                continue
            relation = _relation(event, person_id)
            if not relation:
                continue
            if event.aggregate_kind == "community":
                communities[event.originator_id] = None
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
            "communities": [_membership(self.get(c), person_id) for c in communities],
            "facts": facts,
            "unreadable": unreadable,
        }

    def _history(self) -> Iterator[tuple[int, str, Any]]:
        """(position, topic, event or the error reading it) of every stored event."""
        recorder, mapper = self._store.app.recorder, self._store.app.mapper
        position = 0
        while page := recorder.select_notifications(position + 1, _PAGE):
            for notification in page:
                try:
                    event: Any = mapper.to_domain_event(notification)
                except ResilienceError as exc:
                    event = exc
                yield notification.id, notification.topic, event
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

