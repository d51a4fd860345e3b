"""What every projection shares: the documents it folds into, and each event as delivered.

A projection (``Projection``) folds one event at a time (``Delivery``) into
the documents of its view (``Docs``), one JSON document (``Doc``) per
aggregate or per thing it lists. It handles events by class (``match`` on
the event, or what the class declares), never by name; documents name facts
by ``fact_name``, the last part of the event's topic, so a class renamed with
its topic kept changes no document.
"""

from typing import Any, NamedTuple, Protocol

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


class Projection(Protocol):
    view: str

    def apply(self, delivery: Delivery, docs: Docs) -> None: ...


def owner_kind(event: object) -> str:
    """The kind of aggregate an event belongs to, as its class declares it
    (``aggregate_kind``); KeyError if it is none of the library's."""
    kind = getattr(type(event), "aggregate_kind", None)
    if not isinstance(kind, str):
        cls = type(event)
        raise KeyError(f"{cls.__module__}:{cls.__qualname__} is no event of an incident, "
                       "order, community or improvement item")
    return kind
