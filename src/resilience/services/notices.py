"""What a notice is: one fact an importing app may act on, as a value and as JSON.

A notice's ``key`` (``"<aggregate id>/<version>"``) is the same on every delivery of its
fact: the idempotency key that makes at-least-once delivery exactly once in effect
(resilience.services.notifications). ``to_dict()`` is its JSON layout, versioned by
``"schema"`` (SCHEMA): a later version of the layout may add keys, and one that changes
or removes any gets a new number. ``from_dict`` reads it back strictly, for receivers.
``data`` is the fact's own fields as the converter stores them, with enum members as
their values, so a notice reads back equal from its JSON. ``NoticeReader`` reads the
notices of stored facts (resilience.services.notifications delivers them).
"""

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, cast
from uuid import UUID

from attrs import field, frozen
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, PersistenceError
from eventsourcing.utils import TopicError, resolve_topic

from resilience.adapters.converter import converter
from resilience.adapters.mapper import EventUnopened
from resilience.adapters.store import describe
from resilience.domain.base import FactAggregate, masked
from resilience.domain.validation import check_moment, check_text, check_whole, shown
from resilience.domain.values import Actor
from resilience.errors import (
    InvalidInputError,
    ProtectedStoreError,
    StoreUnavailableError,
    TamperedStoreError,
)
from resilience.i18n import _, language

SCHEMA = 1
"""The version of ``Notice.to_dict()``'s layout (its ``"schema"``): a new version may add
keys; one that changes or removes any gets a new number."""

_FIELDS = ("key", "kind", "position", "aggregate_id", "aggregate_kind", "version",
           "community_id", "drill", "occurred_at", "recorded_at", "actor", "command_id",
           "summary", "data")
"""The keys of ``Notice.to_dict()`` besides ``"schema"``, in its order."""

_OWN_FIELDS = ("originator_id", "originator_version", "originator_topic", "timestamp",
               "occurred_at", "actor", "command_id")


def _plain(value: Any) -> Any:
    """JSON data as plain as JSON's own: enum members (str or int subclasses, as the
    converter leaves them) as their values, so a notice reads back equal from its JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


def _data(event: FactAggregate.Event) -> dict[str, Any]:
    """The fact's own fields, JSON-ready."""
    state = _plain(converter.unstructure(event, type(event)))
    return {k: v for k, v in state.items() if k not in _OWN_FIELDS}


def notice_kinds() -> frozenset[str]:
    """Every kind of notice the facts of this version declare."""
    found: set[str] = set()
    classes: list[type[FactAggregate]] = [FactAggregate]
    while classes:
        aggregate = classes.pop()
        classes.extend(aggregate.__subclasses__())
        found.update(e.notice for e in aggregate.event_classes() if e.notice is not None)
    return frozenset(found)


@frozen
class Notice:
    """One notification: a fact an importing app may act on.

    ``key`` is stable (the same for every delivery of the fact); ``kind`` the class's
    ``notice``; ``position`` the fact's place in the store's log; ``actor`` who recorded
    it; ``summary`` the fact in one line (its ``describe()``); ``data`` the fact's own
    fields, JSON-ready (an escalation's deadline, level and who was notified), personal
    values as the store reads them (``"[erased]"`` once their person is erased); ``drill``
    whether the fact belongs to an incident recorded as a drill (its escalations too): an
    app rings nobody real for a drill.
    """

    key: str
    kind: str
    position: int
    aggregate_id: UUID
    aggregate_kind: str
    version: int
    community_id: UUID | None
    drill: bool
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    summary: str
    data: Mapping[str, Any] = field(hash=False)
    command_id: str | None = None
    hidden: tuple[str, Mapping[str, Any]] | None = field(default=None, eq=False, hash=False,
                                                         repr=False)
    """``summary`` and ``data`` with the fact's declared personal values as ``"[hidden]"``
    (``to_dict(personal=False)``); None when not known (a notice read back from JSON)."""

    @classmethod
    def of(cls, event: FactAggregate.Event, position: int, kind: str,
           community_id: UUID | None, drill: bool = False) -> "Notice":
        """The notice of a stored fact (at ``position`` in the log), of ``kind``, of an
        aggregate of ``community_id`` that is a ``drill`` or not."""
        data = _data(event)
        shown = masked(event)
        with language("en"):  # a notice is sent, and kept as a dead letter: in English
            return cls._made(event, position, kind, community_id, drill, data, shown)

    @classmethod
    def _made(cls, event: FactAggregate.Event, position: int, kind: str,
              community_id: UUID | None, drill: bool, data: dict[str, Any],
              shown: FactAggregate.Event) -> "Notice":
        return cls(
            key=f"{event.originator_id}/{event.originator_version}", kind=kind,
            position=position, aggregate_id=event.originator_id,
            aggregate_kind=type(event).aggregate_kind, version=event.originator_version,
            community_id=community_id, drill=drill, occurred_at=event.occurred_at,
            recorded_at=event.timestamp, actor=event.actor, summary=event.describe(),
            data=data, command_id=event.command_id,
            hidden=(event.describe(), data) if shown is event else (shown.describe(),
                                                                    _data(shown)))

    def to_dict(self, *, personal: bool = True) -> dict[str, Any]:
        """The notice as JSON-ready data, with its ``"schema"`` (SCHEMA): what a webhook
        POSTs. ``personal=False``: the fact's declared personal values in ``summary`` and
        ``data`` read ``"[hidden]"`` (both hidden whole when ``hidden`` is not known)."""
        summary, data = self.summary, self.data
        if not personal:
            summary, data = self.hidden if self.hidden is not None else ("[hidden]", {})
        return {"schema": SCHEMA, "key": self.key, "kind": self.kind,
                "position": self.position, "aggregate_id": str(self.aggregate_id),
                "aggregate_kind": self.aggregate_kind, "version": self.version,
                "community_id": None if self.community_id is None else str(self.community_id),
                "drill": self.drill, "occurred_at": self.occurred_at.isoformat(),
                "recorded_at": self.recorded_at.isoformat(),
                "actor": _plain(converter.unstructure(self.actor, Actor)),
                "command_id": self.command_id, "summary": summary, "data": dict(data)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Notice":
        """A notice from ``to_dict()``'s data (a receiver's side); InvalidInputError for
        anything else, or another schema."""
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
            raise InvalidInputError(_("not a notice of schema {schema}: {value}").format(
                schema=SCHEMA, value=shown(data)))
        missing = [name for name in _FIELDS if name not in data]
        if missing:
            raise InvalidInputError(_("not a notice: it has no {fields}").format(
                fields=", ".join(missing)))
        try:
            community, command, body = data["community_id"], data["command_id"], data["data"]
            if not isinstance(body, dict):
                raise InvalidInputError(_("a notice's data is an object, got {value}").format(
                    value=shown(body)))
            if type(data["drill"]) is not bool:
                raise InvalidInputError(_("a notice's drill is true or false, got {value}")
                                        .format(value=shown(data["drill"])))
            return cls(
                key=check_text(data["key"], "key"), kind=check_text(data["kind"], "kind"),
                position=check_whole(data["position"], "position", 1),
                aggregate_id=UUID(data["aggregate_id"]),
                aggregate_kind=check_text(data["aggregate_kind"], "aggregate_kind"),
                version=check_whole(data["version"], "version", 1),
                community_id=None if community is None else UUID(community),
                drill=data["drill"],
                occurred_at=check_moment(datetime.fromisoformat(data["occurred_at"]),
                                         "occurred_at"),
                recorded_at=check_moment(datetime.fromisoformat(data["recorded_at"]),
                                         "recorded_at"),
                actor=converter.structure(data["actor"], Actor),
                summary=check_text(data["summary"], "summary", 100_000), data=body,
                command_id=None if command is None else check_text(command, "command_id"))
        except InvalidInputError:
            raise
        except Exception as exc:  # a missing key, a wrong type: anything of the converter's
            raise InvalidInputError(_("not a notice: {error}").format(
                error=describe(exc))) from None


@frozen
class DeadLetter:
    """A notice a subscription's handler gave up on (or whose fact could not be read).

    ``attempts``: the handler's tries in all (a webhook's POSTs, redeliveries included);
    ``first_failed_at`` / ``failed_at``: the engine's clock at the first and the latest
    failure; ``error``: the latest; ``notice``: the notice as the store reads it now (None
    if its fact can't be read)."""

    key: str
    kind: str
    position: int
    attempts: int
    first_failed_at: datetime
    failed_at: datetime
    error: str
    notice: Notice | None


UNKNOWN = "unknown"
"""The kind of a stored fact whose type this version can't resolve (recorded by a later
version?): a dead letter for every subscription, never skipped silently."""


class NoticeReader:
    """Reads the notices of one application's stored facts: their kinds (by topic,
    remembered) and communities and drills (by aggregate, the last 10,000 remembered)."""

    def __init__(self, app: Application[Any]) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._kinds: dict[str, str | None] = {}
        self._communities: OrderedDict[UUID, tuple[UUID | None, bool]] = OrderedDict()

    def kind_of(self, topic: str) -> str | None:
        """The notice kind of the facts stored under ``topic`` (None: no notice; UNKNOWN:
        a topic this version can't resolve, maybe a notice of a later version)."""
        try:
            return self._kinds[topic]
        except KeyError:
            pass
        try:
            cls = resolve_topic(topic)
        except TopicError:
            self._kinds[topic] = UNKNOWN
            return UNKNOWN
        kind = cls.notice if isinstance(cls, type) and issubclass(
            cls, FactAggregate.Event) else None
        self._kinds[topic] = kind
        return kind

    def read(self, notification: Notification, kind: str) -> Notice | str:
        """The notice of a stored fact, or why its fact can't be read (a fault of the
        fact itself). A fault of the store (its key, its connection) raises."""
        try:
            with language("en"):  # why it can't be read is kept as a dead letter: English
                event = cast(FactAggregate.Event, self.app.mapper.to_domain_event(notification))
        except Exception as exc:
            _raise_store_fault(exc)
            return f"cannot read the fact: {describe(exc)}"
        return Notice.of(event, notification.id, kind, *self._belongs(event))

    def at(self, position: int) -> Notification | None:
        """The stored fact at ``position`` in the log (None if there is none)."""
        found = self.app.recorder.select_notifications(position, 1)
        return found[0] if found and found[0].id == position else None

    def _belongs(self, event: FactAggregate.Event) -> tuple[UUID | None, bool]:
        """The community the fact's aggregate belongs to, and whether it is a drill: named
        on the fact (its first), else on the aggregate's first fact (read once per
        aggregate, then remembered)."""
        if type(event).aggregate_kind == "community":
            return event.originator_id, False
        if event.originator_version == 1:
            return _first_says(event)
        aggregate = event.originator_id
        with self._lock:
            if aggregate in self._communities:
                self._communities.move_to_end(aggregate)
                return self._communities[aggregate]
        first = self.app.recorder.select_events(aggregate, lte=1)
        belongs: tuple[UUID | None, bool] = (None, False)
        if first:
            try:
                belongs = _first_says(self.app.mapper.to_domain_event(first[0]))
            except Exception as exc:
                _raise_store_fault(exc)  # else its first fact is unreadable: quarantined
        with self._lock:
            self._communities[aggregate] = belongs
            while len(self._communities) > 10_000:
                self._communities.popitem(last=False)
        return belongs


def _first_says(first: object) -> tuple[UUID | None, bool]:
    """What an aggregate's first fact says of it: its community (None: none named), and
    whether it is a drill (an incident detected as one)."""
    community = getattr(first, "community_id", None)
    return (community if isinstance(community, UUID) else None,
            getattr(first, "drill", False) is True)


def _raise_store_fault(exc: Exception) -> None:
    """Raise ``exc`` if reading an event failed for the store's sake, not the event's: its
    key or cipher (every event would fail alike), its connection or its key table (the
    mapper reports a key-table query that failed as the event's fault: the cause says)."""
    if isinstance(exc, EventUnopened | ProtectedStoreError | TamperedStoreError | MemoryError):
        raise exc
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, PersistenceError | StoreUnavailableError):
            raise exc
        cause = cause.__cause__ or cause.__context__


def unknown_fact(notification: Notification) -> str:
    """A dead letter's error for a fact this version can't resolve."""
    return (f"unknown fact type: {notification.topic} (recorded by a later version of "
            "resilience? upgrade, then redeliver)")
