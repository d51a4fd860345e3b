"""A Mapper for eventsourcing that (un)structures whole events with the library's converter.

Selected with ``MAPPER_TOPIC=resilience.adapters.mapper:ConverterMapper`` (the
engine sets it). It keeps eventsourcing's schema-evolution protocol: a class
with ``class_version = N`` stores ``class_version`` in the state, and older
states are upgraded by the class's ``upcast_vK_vK+1(state)`` static methods,
which see the JSON-decoded state dict before it is structured.

With protection on (the engine has a cipher, and so a key ring: ``keys``, see
resilience.adapters.keystore), each personal value of an event
(``FactAggregate.Event.personal``) is stored as an envelope sealed under its subject's
own key (resilience.adapters.keyring) and bound to its path, and the state lists the
paths it sealed under ``"$sealed"``; reading opens them before anything else (upcasters
see the texts), a value whose key was deleted (its subject erased) as its placeholder. A
value that does not open (altered, or moved from another field or fact) makes its event
unreadable (UnreadableEventError, which names the path and shows nothing of the value);
a key that does not unwrap is TamperedStoreError. Without protection nothing changes:
the stored bytes are what they always were.
"""

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import TopicError, resolve_topic

from resilience.adapters.converter import converter
from resilience.adapters.event_json import encoder_for, json_text
from resilience.adapters.keystore import aggregate_subject, person_subject
from resilience.adapters.store import one_line
from resilience.domain.base import personal_values
from resilience.errors import (
    ErasedPersonError,
    ProtectedStoreError,
    TamperedStoreError,
    UnreadableEventError,
)
from resilience.i18n import _

if TYPE_CHECKING:
    from eventsourcing.application import Application

    from resilience.adapters.keyring import KeyRing

_new = object.__new__
SEALED = "$sealed"
"""The key of the state's list of the paths it holds envelopes at."""


class Decoded(NamedTuple):
    """A stored event read back (``ConverterMapper.decode``)."""

    event: DomainEventProtocol[UUID]
    sealed: frozenset[str]
    """The paths of its personal values that were stored sealed (empty: none were)."""


class ConverterMapper(Mapper[UUID]):
    """Events <-> stored events through one cattrs converter and compact JSON."""

    keys: "KeyRing | None" = None
    """The store's key ring when protection is on (set when the store is opened)."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        encoder = encoder_for(type(domain_event))
        if self.keys is None:
            text = encoder.text(domain_event)
        else:
            state = encoder.state(domain_event)
            self._seal(domain_event, state, self.keys)
            text = json_text(state)
        # Every text field passed the validation rule before the event was triggered
        # (no lone surrogates), so it always encodes as UTF-8.
        data = text.encode("utf-8")
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        # StoredEvent's dataclass __init__ (frozen: a setattr a field), field by field.
        stored: StoredEvent = _new(StoredEvent)
        fields = stored.__dict__
        fields["originator_id"] = domain_event.originator_id
        fields["originator_version"] = domain_event.originator_version
        fields["topic"] = encoder.topic
        fields["state"] = data
        return stored

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self.decode(stored_event).event

    def decode(self, stored_event: StoredEvent) -> "Decoded":
        """The event, and the paths of the personal values it was stored with sealed
        (erasure checks that every value of the person is: a store encrypted by an earlier
        version holds them unsealed)."""
        try:
            event_class = resolve_topic(stored_event.topic)
        except TopicError:
            raise EventUnreadable(_("cannot read {event}: no such class in this version of "
                                    "resilience").format(event=_where(stored_event))) from None
        text = self._open(stored_event)
        try:
            state: dict[str, Any] = json.loads(text)
            sealed = state.pop(SEALED, None)
            if sealed is not None:
                self._unseal(state, sealed, stored_event)
            from_version = state.pop("class_version", 1)
            class_version = getattr(event_class, "class_version", 1)
            while from_version < class_version:
                getattr(event_class, f"upcast_v{from_version}_v{from_version + 1}")(state)
                from_version += 1
            originator_id = stored_event.originator_id
            state["originator_id"] = (
                originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
            )
            state["originator_version"] = stored_event.originator_version
            event = cast(DomainEventProtocol[UUID], converter.structure(state, event_class))
            return Decoded(event, frozenset(sealed or ()))
        except (EventUnopened, ProtectedStoreError, TamperedStoreError):
            raise  # the store's problem, not this event's
        except Exception as exc:
            raise EventUnreadable(_("cannot load {event}: {error}").format(
                event=_where(stored_event), error=one_line(exc))) from exc

    def _seal(self, event: Any, state: dict[str, Any], keys: "KeyRing") -> None:
        """Put an envelope in place of each personal value in ``state``, under its
        subject's key; ErasedPersonError if the subject was erased."""
        from resilience.adapters.keyring import Erased  # loaded: there is a key ring

        found = personal_values(event)
        if not found:
            return
        keys.fresh()
        subjects = [_subject(event, person) for _, person, _ in found]
        keys.prepare(subjects)  # the new ones made in one transaction
        paths = []
        for (path, person, value), subject in zip(found, subjects, strict=True):
            try:
                envelope = keys.seal_value(subject, value, path, _is_identifier(path))
            except Erased:
                raise ErasedPersonError(
                    _("{person} was erased: {fact} would record personal data about them "
                      "({path}); nothing was recorded").format(
                        person=person, fact=type(event).__name__, path=path)) from None
            parent, last = _parent(state, path)
            parent[last] = envelope
            paths.append(path)
        state[SEALED] = paths

    def prepare(self, events: Iterable[Any]) -> None:
        """Make the keys the personal values of ``events`` will be sealed under, in one
        transaction (before a batch is saved: one key-table commit for all its new
        people, where sealing event by event would commit once per event)."""
        if self.keys is not None:
            self.keys.prepare({_subject(event, person) for event in events
                               for _, person, _ in personal_values(event)})

    def _unseal(self, state: dict[str, Any], paths: list[str], stored_event: StoredEvent) -> None:
        """Open each envelope the state lists (a deleted key's as its placeholder)."""
        keys = self.keys
        if keys is None:
            raise EventUnopened(_("cannot open {event}: it holds personal data sealed under "
                                  "the store's keys, and the engine has no key").format(
                event=_where(stored_event)))
        from resilience.adapters.keyring import UnknownKey  # loaded: there is a key ring

        keys.fresh()
        for path in paths:
            parent, last = _parent(state, path)
            try:
                parent[last] = keys.open_value(parent[last], path)
            except UnknownKey as exc:
                raise ValueError(_("{path} is sealed under key {key}, which the key store does "
                                   "not have (deleted outside erase_person?)").format(
                    path=path, key=exc)) from None
            except TamperedStoreError:
                raise  # the key itself does not open: every value under it is unreadable
            except Exception:
                # InvalidTag and the like say nothing more, and nothing of the value is shown.
                raise ValueError(_("the value sealed at {path} does not open with its key: it "
                                   "was altered, or moved from another field or fact").format(
                    path=path)) from None

    def _open(self, stored_event: StoredEvent) -> str:
        """The event's JSON text: its bytes deciphered, decompressed and decoded."""
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            return data.decode("utf-8")
        except Exception as exc:
            if self.cipher:
                message = _("cannot open {event}: wrong CIPHER_KEY, or the store is not "
                            "encrypted")
            elif self.compressor:
                message = _("cannot open {event}: the store is not compressed, or not with "
                            "this compressor")
            else:
                message = _("cannot open {event}: it looks encrypted or compressed: give "
                            "CIPHER_TOPIC and CIPHER_KEY, or COMPRESSOR_TOPIC")
            raise EventUnopened(message.format(event=_where(stored_event))) from exc


def key_ring(app: "Application[Any]") -> "KeyRing | None":
    """The application's key ring: its ConverterMapper's ``keys`` (None: the store is not
    protected, or the mapper is another)."""
    mapper = app.mapper
    return mapper.keys if isinstance(mapper, ConverterMapper) else None


def _parent(state: Any, path: str) -> tuple[Any, Any]:
    """The container holding the value at a dotted ``path`` of a JSON state (a number
    steps into a list), and the value's key or index in it."""
    *steps, last = path.split(".")
    for step in steps:
        state = state[int(step)] if isinstance(state, list) else state[step]
    return state, int(last) if isinstance(state, list) else last


def _subject(event: Any, person: str | None) -> str:
    """Whose key a personal value is sealed under: its person's, or its aggregate's."""
    return aggregate_subject(event.originator_id) if person is None else person_subject(person)


def _is_identifier(path: str) -> bool:
    """Is the value at ``path`` an identifier (a resident's, a household's: its field's
    name ends in ``_id``)? Erased, one reads as a placeholder of its own."""
    name = next(step for step in reversed(path.split(".")) if not step.isdigit())
    return name.endswith("_id")


def _where(stored_event: StoredEvent) -> str:
    """The stored event, for a message (worked out only when there is one to write)."""
    return _("stored event {id} v{version} ({topic})").format(
        id=stored_event.originator_id, version=stored_event.originator_version,
        topic=stored_event.topic)


class EventUnreadable(UnreadableEventError, MapperDeserialisationError):
    """UnreadableEventError, which eventsourcing's code (and code written for it) still
    knows as the MapperDeserialisationError it replaces."""


class EventUnopened(EventUnreadable):
    """An event whose bytes don't open (decipher, decompress, decode as text): a cipher key
    or compressor problem that every event of the store shares, not this event's own."""
