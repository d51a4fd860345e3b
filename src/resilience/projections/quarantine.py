"""The quarantine: stored events the views could not fold, kept with the views.

A stored event that cannot be decoded (the mapper raises, e.g. a state an
upcaster is missing for, or a topic no class answers to) or that a projection
raises on must not stop the views forever. The reader quarantines it and
carries on with the rest of the page:

- **Nothing of it is folded.** A page is folded fast, each projection over
  every event in place; if anything raises, its changes are thrown away and
  the page is folded again event by event, each event tried on copies of its
  documents and kept only if every projection folds it. So a projection that
  raised half-way leaves no half-applied change in any view.
- **The later facts of its aggregate are held back**: quarantined too, with
  the reason. A view that skipped a fact would number or place the ones after
  it wrongly (a case's facts are listed by version; a correction names the
  version it corrects), so the aggregate's documents stay as they were before
  the quarantined fact.
- **It is kept with the views**: one ``quarantine`` document per aggregate,
  listing each quarantined event's notification position, topic, version and
  error on one line, written in the page's transaction (exactly once, like
  the views) and read by ``Views.quarantined()`` and the data-quality report.
- **A rebuild retries everything.** Quarantined events are never retried by
  a catch-up; ``views.rebuild()`` empties the quarantine with the views, so an
  event that now decodes (an ``upcast_vN_vN+1`` added, a topic registered) or
  now folds is folded, and leaves the quarantine, with the facts it held back.

Not quarantined, because they are no one event's fault: an event whose bytes
do not open (a missing or wrong cipher key or compressor, which every event
of the store shares) raises UnreadableEventError; a failure to read the
views' own documents, and MemoryError, stop the page as any failure does
(nothing of it is committed).
"""

import pickle
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from attrs import frozen
from eventsourcing.persistence import Notification

from resilience.adapters.mapper import EventUnopened
from resilience.adapters.store import describe
from resilience.i18n import language
from resilience.projections.base import Delivery, Doc, Docs, Projection, reads

QUARANTINE = "quarantine"
"""The view of quarantined events (and the kind of its documents), one document per aggregate:
``{"kind": "quarantine", "events": [[position, topic, version, error], ...]}``."""

_MAX_ERROR = 300
"""Characters of an error kept on its line."""


@frozen
class QuarantinedEvent:
    """A stored event the views could not fold (so no view reflects it)."""

    position: int
    """Its notification id in the store's log."""
    topic: str
    aggregate_id: str
    version: int
    error: str
    """Why, on one line: the decoding error, the view whose projection raised and its
    error, or the earlier quarantined fact of the aggregate that holds it back."""


Held = dict[str, int]
"""Aggregate id -> version of its first quarantined fact: its later facts are held back."""


class PageDocs(Docs, Protocol):
    """One view's documents while a page is folded (the runner's page cache)."""

    read_error: BaseException | None
    """Set when reading the stored documents failed: that stops the page, quarantines nothing."""

    def prefetch(self, keys: Iterable[str]) -> None: ...


CHUNK = 10_000
"""Events decoded at a time: a page is folded a chunk after another, so a large page (a
rebuild's) holds its documents, not all its events decoded at once."""


def fold_page(page: Sequence[Notification], deliver: Callable[[Notification], Delivery],
              projections: Sequence[Projection], views: Sequence[PageDocs], held: Held,
              discard: Callable[[], None]) -> list[QuarantinedEvent]:
    """Fold a page into ``views`` (one per projection); return what it quarantined, by position.

    ``deliver`` decodes a stored event (resilience.projections.base.Deliveries: what the
    store's mapper decodes, or its error).
    ``held`` is updated with the aggregates whose facts this page quarantined.
    ``discard`` drops every change the page made to the documents (they are
    changed in place), before the page is folded again event by event.
    """
    before = dict(held)
    quarantined: list[QuarantinedEvent] = []
    for start in range(0, len(page), CHUNK):
        deliveries = _decode(page[start:start + CHUNK], deliver, held, quarantined)
        # The documents to read ahead: of the aggregates whose first fact is not in the
        # chunk (that fact begins their documents).
        firsts = {d.key for _, d in deliveries if d.version == 1}
        later = {d.key for _, d in deliveries if d.version > 1} - firsts
        try:
            for projection, docs in zip(projections, views, strict=True):
                owners = reads(projection)
                docs.prefetch(later if owners is None else
                              {d.key for _, d in deliveries if d.version > 1 and d.owner in owners
                               and d.key not in firsts})
                apply = projection.apply
                for _, delivery in deliveries:
                    apply(delivery, docs)
        except Exception as exc:
            _stop_on(exc, views)
            break
    else:
        return quarantined
    discard()
    held.clear()
    held.update(before)
    quarantined = []
    for start in range(0, len(page), CHUNK):
        deliveries = _decode(page[start:start + CHUNK], deliver, held, quarantined)
        quarantined += _fold_carefully(deliveries, projections, views, held,
                                       {d.key for _, d in deliveries if d.version > 1})
    quarantined.sort(key=lambda q: q.position)
    return quarantined


def _decode(notifications: Sequence[Notification], deliver: Callable[[Notification], Delivery],
            held: Held, quarantined: list[QuarantinedEvent]
            ) -> list[tuple[Notification, Delivery]]:
    """The deliveries of the notifications; those that can't be decoded, and the later
    facts of their aggregates (``held``, updated), quarantined."""
    deliveries: list[tuple[Notification, Delivery]] = []
    for notification in notifications:
        if held:
            key = str(notification.originator_id)
            if key in held:
                quarantined.append(_held_back(notification, held[key]))
                continue
        try:
            with language("en"):  # its error is stored in the quarantine: in English
                delivery = deliver(notification)
        except Exception as exc:
            if isinstance(exc, MemoryError):
                raise
            if isinstance(exc, EventUnopened):
                raise  # the store's settings, not this event: quarantining would take them all
            quarantined.append(_entry(notification, describe(exc)))
            held[str(notification.originator_id)] = notification.originator_version
            continue
        deliveries.append((notification, delivery))
    return deliveries


def _fold_carefully(deliveries: Sequence[tuple[Notification, Delivery]],
                    projections: Sequence[Projection], views: Sequence[PageDocs],
                    held: Held, later: set[str]) -> list[QuarantinedEvent]:
    """Fold event by event, each on copies of its documents, kept only if every projection
    folds it; quarantine the rest."""
    quarantined: list[QuarantinedEvent] = []
    for docs in views:
        docs.prefetch(later)
    for notification, delivery in deliveries:
        first = held.get(delivery.key)
        if first is not None and first < delivery.version:
            quarantined.append(_held_back(notification, first))
            continue
        trials = [_Trial(docs) for docs in views]
        view = ""
        try:
            with language("en"):  # its error is stored in the quarantine: in English
                for projection, trial in zip(projections, trials, strict=True):
                    view = projection.view
                    projection.apply(delivery, trial)
        except Exception as exc:
            _stop_on(exc, views)
            quarantined.append(_entry(notification, f"{view} view: {describe(exc)}"))
            held[delivery.key] = delivery.version
            continue
        for trial in trials:
            trial.keep()
    return quarantined


class _Trial:
    """One view's documents while one event is tried: reads are copies, writes wait for keep."""

    def __init__(self, docs: PageDocs) -> None:
        self._docs = docs
        self._read: dict[str, Doc | None] = {}
        self._written: dict[str, Doc] = {}

    def get(self, key: str) -> Doc | None:
        if key in self._written:
            return self._written[key]
        if key not in self._read:
            doc = self._docs.get(key)
            # pickle: the fastest faithful deep copy of a tree of dicts, lists and scalars
            self._read[key] = None if doc is None else pickle.loads(pickle.dumps(doc, -1))
        return self._read[key]

    def put(self, key: str, doc: Doc) -> None:
        self._written[key] = doc

    def keep(self) -> None:
        for key, doc in self._written.items():
            self._docs.put(key, doc)


def record(quarantined: Sequence[QuarantinedEvent], docs: PageDocs) -> None:
    """Add quarantined events to their aggregates' ``quarantine`` documents."""
    docs.prefetch({entry.aggregate_id for entry in quarantined})
    for entry in quarantined:
        doc = docs.get(entry.aggregate_id) or {"kind": QUARANTINE, "community": None,
                                               "at": None, "events": []}
        doc["events"].append([entry.position, entry.topic, entry.version, entry.error])
        docs.put(entry.aggregate_id, doc)


def from_docs(docs: Iterable[tuple[str, Doc]]) -> list[QuarantinedEvent]:
    """The quarantined events the ``quarantine`` documents hold, by position."""
    found = [QuarantinedEvent(position, topic, key, version, error)
             for key, doc in docs for position, topic, version, error in doc["events"]]
    found.sort(key=lambda q: q.position)
    return found


def held_by(quarantined: Iterable[QuarantinedEvent]) -> Held:
    """Each aggregate with a quarantined fact, and the version of its first."""
    held: Held = {}
    for entry in quarantined:
        held[entry.aggregate_id] = min(entry.version, held.get(entry.aggregate_id, entry.version))
    return held


def _stop_on(exc: Exception, views: Sequence[PageDocs]) -> None:
    """Re-raise what no event is to blame for: a failed read of the views, MemoryError."""
    if isinstance(exc, MemoryError) or any(docs.read_error is not None for docs in views):
        raise exc


def _entry(notification: Notification, error: str) -> QuarantinedEvent:
    if len(error) > _MAX_ERROR:
        error = error[:_MAX_ERROR - 1] + "…"
    return QuarantinedEvent(notification.id, notification.topic, str(notification.originator_id),
                            notification.originator_version, error)


def _held_back(notification: Notification, first: int) -> QuarantinedEvent:
    return _entry(notification, f"held back: v{first} of this aggregate is quarantined")

