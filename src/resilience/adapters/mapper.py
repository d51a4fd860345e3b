"""A Mapper for eventsourcing that (un)structures whole events with the library's converter.

Selected with ``MAPPER_TOPIC=resilience.adapters.mapper:ConverterMapper`` (the
engine sets it). It keeps eventsourcing's schema-evolution protocol: a class
with ``class_version = N`` stores ``class_version`` in the state, and older
states are upgraded by the class's ``upcast_vK_vK+1(state)`` static methods,
which see the JSON-decoded state dict before it is structured.
"""

import json
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import TopicError, get_topic, resolve_topic

from resilience.adapters.converter import converter
from resilience.adapters.store import one_line
from resilience.errors import UnreadableEventError

_IDENTITY = ("originator_id", "originator_version")


class ConverterMapper(Mapper[UUID]):
    """Events <-> stored events through one cattrs converter and compact JSON."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        event_class = type(domain_event)
        state: dict[str, Any] = converter.unstructure(domain_event, event_class)
        for key in _IDENTITY:
            del state[key]
        class_version = getattr(event_class, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        # Every text field passed the validation rule before the event was triggered
        # (no lone surrogates), so it always encodes as UTF-8.
        data = json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(event_class),
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        try:
            event_class = resolve_topic(stored_event.topic)
        except TopicError:
            raise EventUnreadable(f"cannot read {_where(stored_event)}: no such class in this "
                                  "version of resilience") from None
        text = self._open(stored_event)
        try:
            state: dict[str, Any] = json.loads(text)
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
            return cast(DomainEventProtocol[UUID], converter.structure(state, event_class))
        except Exception as exc:
            raise EventUnreadable(
                f"cannot load {_where(stored_event)}: {one_line(exc)}") from exc

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
                why = "wrong CIPHER_KEY, or the store is not encrypted"
            elif self.compressor:
                why = "the store is not compressed, or not with this compressor"
            else:
                why = ("it looks encrypted or compressed: give CIPHER_TOPIC and CIPHER_KEY, "
                       "or COMPRESSOR_TOPIC")
            raise EventUnopened(f"cannot open {_where(stored_event)}: {why}") from exc


def _where(stored_event: StoredEvent) -> str:
    """The stored event, for a message (worked out only when there is one to write)."""
    return (f"stored event {stored_event.originator_id} "
            f"v{stored_event.originator_version} ({stored_event.topic})")


class EventUnreadable(UnreadableEventError, MapperDeserialisationError):
    """UnreadableEventError, which eventsourcing's code (and code written for it) still
    knows as the MapperDeserialisationError it replaces."""


class EventUnopened(EventUnreadable):
    """An event whose bytes don't open (decipher, decompress, decode as text): a cipher key
    or compressor problem that every event of the store shares, not this event's own."""
