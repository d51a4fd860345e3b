"""What every projection shares: the documents it folds into, and each event as delivered.

A projection (``Projection``) folds one event at a time (``Delivery``) into
the documents of its view (``Docs``), one JSON document (``Doc``) per
aggregate or per thing it lists. It handles events by class (``match`` on
the event, or what the class declares), never by name; documents name facts
by ``fact_name``, the last part of the event's topic, so a class renamed with
its topic kept changes no document.
"""

from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, Mapper, StoredEvent

from resilience.adapters.decoded import FastDecoder, stored_events
from resilience.domain.base import FactAggregate

Doc = dict[str, Any]


class Docs(Protocol):
    """The documents of one view, as of the event being folded."""

    def get(self, key: str) -> Doc | None: ...

    def put(self, key: str, doc: Doc) -> None: ...


class Delivery(NamedTuple):
    """One event as the projections receive it, with what they all need worked out once."""

    event: Any
    key: str
    """The aggregate id as text."""
    name: str
    """The fact's name (``fact_name``: from its topic, not its class name)."""
    version: int
    occurred: str
    recorded: str
    owner: str
    """The kind of aggregate the event belongs to (``owner_kind``)."""

    @classmethod
    def of(cls, event: FactAggregate.Event) -> "Delivery":
        return cls(event, str(event.originator_id), type(event).fact_name,
                   event.originator_version, event.occurred_at.isoformat(),
                   event.timestamp.isoformat(), owner_kind(event))


_new_delivery = tuple.__new__  # what Delivery(...) calls, without its keyword handling

_KEYS_KEPT = 65_536
"""Aggregate ids kept as text by a Deliveries (a page touches each aggregate many times)."""


class Deliveries:
    """Stored events as the projections receive them, each decoded once: what
    ``Delivery.of(mapper.to_domain_event(stored))`` gives, faster.

    The event is decoded by resilience.adapters.decoded (equal to the mapper's, or the
    mapper's own error); its two times are the texts stored (what ``isoformat()`` would
    give again, see ``iso_as_stored``); an aggregate's id as text, and a class's fact
    name and kind, are worked out once and reused.
    """

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self.decoder = FastDecoder(mapper)
        self._keys: dict[int, str] = {}
        self._classes: dict[type, tuple[str, str]] = {}

    def aggregate(self, recorder: AggregateRecorder, aggregate_id: UUID) -> list[Delivery]:
        """Every stored event of one aggregate, in version order, delivered (what
        ``app.events.get(aggregate_id)`` reads, each through ``Delivery.of``)."""
        return [self(stored) for stored in stored_events(recorder, aggregate_id)]

    def __call__(self, stored: StoredEvent) -> Delivery:
        """The delivery of a stored event (the mapper's error if it cannot be decoded; the
        KeyError of ``owner_kind`` if it is no event of the library's)."""
        decoded, occurred, recorded = self.decoder.decode_timed(stored)
        event: Any = decoded
        cls = event.__class__
        named = self._classes.get(cls)
        if named is None:  # the first of its class: whatever Delivery.of raises, raised
            first = Delivery.of(event)
            named = self._classes[cls] = (first.name, first.owner)
        originator = event.originator_id
        keys = self._keys
        key = keys.get(originator.int)
        if key is None:
            if len(keys) >= _KEYS_KEPT:
                keys.clear()
            key = keys[originator.int] = str(originator)
        return _new_delivery(Delivery, (
            event, key, named[0], event.originator_version,
            event.occurred_at.isoformat() if occurred is None else occurred,
            event.timestamp.isoformat() if recorded is None else recorded, named[1]))


class Projection(Protocol):
    view: str

    def apply(self, delivery: Delivery, docs: Docs) -> None: ...


def reads(projection: Projection) -> frozenset[str] | None:
    """The kinds of aggregate (``Delivery.owner``) whose documents a projection reads, as it
    declares them (an ``owners`` attribute), None: any. The reader fetches a page's
    documents ahead only for those (the ``plans`` view has none for an incident, say); a
    document of another kind that a projection does read is fetched when it asks for it
    (``Docs.get``): slower, never wrong."""
    owners = getattr(projection, "owners", None)
    return None if owners is None else frozenset(owners)


def owner_kind(event: object) -> str:
    """The kind of aggregate an event belongs to, as its class declares it
    (``aggregate_kind``); KeyError if it is none of the library's."""
    kind = getattr(type(event), "aggregate_kind", None)
    if not isinstance(kind, str):
        cls = type(event)
        raise KeyError(f"{cls.__module__}:{cls.__qualname__} is no event of an incident, "
                       "order, community or improvement item")
    return kind
