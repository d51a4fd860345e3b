"""The event store of an engine's application: eventsourcing's, making what it returns
for each recorded event at less cost.

eventsourcing's ``EventStore.put`` maps the events to stored events, inserts them, and
returns a ``Recording`` (the event and its ``Notification``) for each. Notification and
Recording are frozen dataclasses, whose ``__init__`` sets each field through
``object.__setattr__``; a batch of thousands of events makes thousands of each, so here
they are made field by field, as that ``__init__`` makes them: the same objects
(tests/test_bulk_fast.py compares them with eventsourcing's own).
"""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import EventStore, Notification, Recording


class RecordingEventStore(EventStore[UUID]):
    """eventsourcing's event store, making each recording field by field (the module's
    docstring)."""

    def put(self, domain_events: Sequence[DomainEventProtocol[UUID]],
            **kwargs: Any) -> list[Recording[UUID]]:
        stored_events = list(map(self.mapper.to_stored_event, domain_events))
        recordings: list[Recording[UUID]] = []
        notification_ids = self.recorder.insert_events(stored_events, **kwargs)
        if notification_ids:
            if len(notification_ids) != len(stored_events):
                raise AssertionError(f"{len(stored_events)} events recorded under "
                                     f"{len(notification_ids)} notification ids")
            new, append = object.__new__, recordings.append
            for event, stored, notification_id in zip(domain_events, stored_events,
                                                      notification_ids, strict=True):
                notification = new(Notification)
                fields = notification.__dict__
                fields["originator_id"] = stored.originator_id
                fields["originator_version"] = stored.originator_version
                fields["topic"] = stored.topic
                fields["state"] = stored.state
                fields["id"] = notification_id
                recording = new(Recording)
                fields = recording.__dict__
                fields["domain_event"] = event
                fields["notification"] = notification
                append(recording)
        return recordings
