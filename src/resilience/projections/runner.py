"""Keeping the views up to date: a catch-up reader that works in pages.

The reader polls the store's notification log from the views' tracking
position, decodes a page of events, folds them into the documents they touch
(read in one query per view, or from a bounded cache), and commits the
changed documents together with the page's last notification id in one
transaction. It is the same on all three stores: eventsourcing 9.5's SQLite
recorder has no subscription, and on PostgreSQL a poll both batches pages
(its ``ProjectionRunner`` commits once per event, 25x slower) and cannot
miss a lost NOTIFY. An event that cannot be decoded or folded is quarantined
with the page (resilience.projections.quarantine), never a stop for the reader.

On a protected store (the engine has a key ring: resilience.adapters.keystore) every
document is stored sealed under the views key, bound to its view and key, and the views
are named apart (``timelines/v6/sealed``, tracking ``resilience/views/v6/sealed``): a
store never mixes sealed and plain documents, and plain views left by an earlier
version are deleted when it is first opened with protection. A document that does not
open (altered, or copied from another row) raises TamperedStoreError, never an event's
fault: the reader stops on it as on any failed read, and a rebuild replaces it. Before each page the
reader looks for erasures made elsewhere (``KeyRing.refresh``), so a key deleted by
another process is never used to fold a page again.
"""

import gc
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification

from resilience.adapters.background import Background
from resilience.adapters.mapper import key_ring
from resilience.adapters.store import describe
from resilience.adapters.viewstore import (
    Mark,
    ViewRow,
    ViewsMoved,
    ViewStore,
    dumps,
    open_view_store,
)
from resilience.domain.validation import check_wait, check_whole, shown
from resilience.errors import InvalidInputError, ResilienceError, UnreadableEventError
from resilience.projections.base import Doc, Projection
from resilience.projections.folds import PROJECTIONS
from resilience.projections.live import ENDED
from resilience.projections.quarantine import (
    QUARANTINE,
    Held,
    QuarantinedEvent,
    fold_page,
    from_docs,
    held_by,
    record,
)

VERSION = 6
"""Goes up whenever a projection folds differently. Views of each version are stored
apart (``timelines/v1``, tracking ``resilience/views/v1``), so a new version folds
the history afresh while an old one still running keeps its own; ``prune`` drops
the others once no reader needs them."""

SEALED = "/sealed"
"""What the names of sealed views (and of their tracking record) end with."""

_log = logging.getLogger("resilience.views")

Progress = Callable[[int, int], None]
"""Called after each page with (events processed so far, events to process in all)."""

def check_interval(interval: object) -> float:
    """Return a follower's ``interval`` if it is a wait the rule allows (``check_wait``)."""
    return check_wait(interval, "the follower's interval")


class ViewsTimeoutError(ResilienceError, TimeoutError):
    """The views did not reach the asked-for position in time."""


class _PageDocs:
    """The documents of one view while a page is folded: cache, then one prefetch query."""

    def __init__(self, view: str, cache: "OrderedDict[tuple[str, str], Doc]",
                 store: ViewStore, dirty: dict[tuple[str, str], Doc],
                 loads: Callable[[ViewRow], Doc]) -> None:
        self.view = view
        self._cache = cache
        self._store = store
        self._dirty = dirty
        self._loads = loads
        self.read_error: BaseException | None = None
        """Why reading the stored documents failed: no event is to blame, none is quarantined."""

    def prefetch(self, keys: Iterable[str]) -> None:
        view, cache = self.view, self._cache
        missing = {k for k in keys if (view, k) not in cache}
        if missing:
            try:
                loads = self._loads
                # A document that does not open (TamperedStoreError) is a failed read too.
                for key, row in self._store.fetch(view, missing).items():
                    cache[(view, key)] = loads(row)
            except BaseException as exc:
                self.read_error = exc
                raise

    def get(self, key: str) -> Doc | None:
        self.prefetch([key])
        return self._cache.get((self.view, key))

    def put(self, key: str, doc: Doc) -> None:
        self._cache[(self.view, key)] = doc
        self._dirty[(self.view, key)] = doc


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while pages are folded (process-wide, restored after
    the last reader in any thread finishes). Pages and documents are trees freed by
    reference counting; the full collections their many containers trigger cost a
    rebuild about a third of its time."""
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def _loads(text: str) -> Doc:
    doc: Doc = json.loads(text)
    return doc


class Views:
    """The read side of one store: its views, their position, and the reader that feeds them."""

    def __init__(self, app: Application[Any], *, page_size: int = 5000,
                 rebuild_page_size: int = 50_000, cache_size: int = 5_000,
                 projections: Sequence[Projection] = PROJECTIONS) -> None:
        self.app = app
        self.keys = key_ring(app)
        """The store's key ring when it is protected (the documents are then sealed)."""
        sealed = SEALED if self.keys is not None else ""
        self.tracking_prefix = f"{app.name}/views/"
        self.store: ViewStore = open_view_store(app.recorder,
                                                f"{self.tracking_prefix}v{VERSION}{sealed}")
        if self.keys is not None:
            self.store.drop_unsealed(self.tracking_prefix, SEALED)
        self.page_size = page_size
        self.rebuild_page_size = rebuild_page_size
        """Pages of a rebuild: larger, so each document is written fewer times (memory
        stays flat, at about 250 MB; catching up keeps ``page_size`` for latency)."""
        self.projections = tuple(projections)
        self.stored_names = {view: f"{view}/v{VERSION}{sealed}"
                             for view in (*(p.view for p in self.projections), QUARANTINE)}
        """Each view's name in storage (its name and the version it was folded with), the
        quarantine's included."""
        # Documents as of ``_cached_at``: a page touching an aggregate folded in
        # the last pages needn't read it back. Anything that fails clears it.
        # Bounded (oldest first out), so memory stays flat however long the log.
        self._cache: OrderedDict[tuple[str, str], Doc] = OrderedDict()
        self._cache_size = cache_size
        self._cached_at: Mark = (-1, -1)
        self._held: Held | None = None  # of the quarantine as of _cached_at; None: to read
        self._lock = threading.RLock()
        self.error: BaseException | None = None
        """Why a follower (``follow``) cannot keep the views up to date (the store
        unavailable, say), from its first failed catch-up until one succeeds; else None."""
        self.failing_since: float | None = None
        """When (``time.time()``) that first failure happened; None while all is well."""

    @property
    def page_size(self) -> int:
        """Events folded and committed per transaction."""
        return self._page_size

    @page_size.setter
    def page_size(self, size: int) -> None:
        self._page_size = check_whole(size, "page_size", 1)

    # Positions ----------------------------------------------------------------

    @property
    def position(self) -> int:
        """Id of the last notification the views reflect (0: none yet)."""
        return self.store.max_tracking_id(self.store.tracking_name) or 0

    @property
    def head(self) -> int:
        """Id of the last notification in the store."""
        return self.app.recorder.max_notification_id() or 0

    @property
    def lag(self) -> int:
        """How many notification ids the views are behind the store."""
        return max(0, self.head - self.position)

    # Feeding ------------------------------------------------------------------

    def catch_up(self, *, progress: Progress | None = None,
                 max_events: int | None = None, page_size: int | None = None) -> int:
        """Fold every event the views have not seen (at most ``max_events``); return how many."""
        page_size = self.page_size if page_size is None else page_size
        with self._lock, _gc_paused():
            done = 0
            total = self.lag if max_events is None else min(self.lag, max_events)
            while max_events is None or done < max_events:
                mark = self.store.mark()
                position = mark[1]
                if mark != self._cached_at:
                    self._cache.clear()
                    self._held = None
                    self._cached_at = mark
                limit = page_size if max_events is None else min(page_size, max_events - done)
                page = self.app.recorder.select_notifications(position + 1, limit)
                if not page:
                    break
                if self.keys is not None:
                    self.keys.refresh()
                try:
                    rows, held = self._fold(page)
                    self.store.commit(rows, expected=mark, position=page[-1].id)
                except (ViewsMoved, IntegrityError):
                    self._forget()  # another reader got there first: start again from its position
                    continue
                except Exception:
                    self._forget()
                    if self.store.mark() != mark:
                        continue  # the views moved under the page (a rebuild began): fold again
                    raise
                except BaseException:
                    self._forget()
                    raise
                self._cached_at = (mark[0], page[-1].id)
                self._held = held
                self._trim()
                done += len(page)
                if progress is not None:
                    progress(done, max(total, done))
            if progress is not None and done < total:
                progress(done, done)  # notification ids may have gaps: the end is the end
            return done

    def rebuild(self, *, progress: Progress | None = None) -> int:
        """Empty the views and fold the whole history again; return the events folded."""
        with self._lock:
            self._forget()
            self.store.reset(list(self.stored_names.values()))
            try:
                return self.catch_up(progress=progress, page_size=self.rebuild_page_size)
            finally:
                self._forget()  # a rebuild's cache would only slow the rest of the process

    def prune(self) -> int:
        """Delete the views of other versions (after an upgrade); return the documents deleted."""
        with self._lock:
            return self.store.prune(list(self.stored_names.values()), self.tracking_prefix)

    def wait(self, position: int | None = None, timeout: float = 10.0) -> None:
        """Block until the views reflect ``position`` (default: everything written so far).

        For apps whose views are fed by another thread or process (``follow``,
        or ``resilience project --follow``); raises ViewsTimeoutError.
        """
        target = self.head if position is None else position
        deadline = time.monotonic() + timeout
        pause = 0.005
        while (reached := self.position) < target:
            if time.monotonic() >= deadline:
                raise ViewsTimeoutError(
                    f"views at {reached} did not reach {target} in {timeout} s")
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def follow(self, interval: float = 0.5) -> "Follower":
        """Keep the views caught up from a background thread until the follower stops;
        poll every ``interval`` seconds (see ``check_interval``)."""
        return Follower(self, interval)

    # Reading ------------------------------------------------------------------

    def _stored(self, view: str) -> str:
        try:
            return self.stored_names[view]
        except KeyError:
            raise InvalidInputError(
                f"no view {shown(view)}; the views are {', '.join(self.stored_names)}") from None

    def get(self, view: str, key: str) -> Doc | None:
        row = self.store.fetch(self._stored(view), [key]).get(key)
        return self._loads(row) if row is not None else None

    def fetch(self, view: str, keys: Iterable[str]) -> dict[str, Doc]:
        """The documents of ``keys`` that exist, by key, in one query."""
        return {key: self._loads(row)
                for key, row in self.store.fetch(self._stored(view), set(keys)).items()}

    def select(self, view: str, kind: str, *, start: float | None = None,
               end: float | None = None, community: str | None = None) -> list[tuple[str, Doc]]:
        """(key, document) of every document of a kind, optionally within [start, end) epoch s."""
        return [(row.key, self._loads(row)) for row in
                self.store.select(self._stored(view), kind, start=start, end=end,
                                  community=community)]

    def documents(self, view: str) -> dict[str, Doc]:
        """Every document of a view by key (for tests and exports; reads it all)."""
        found: dict[str, Doc] = {}
        for kind in ("incident", "order", "community", "activity", "improvement", "emergency",
                     ENDED, QUARANTINE):
            found.update(self.select(view, kind))
        return found

    def quarantined(self) -> list[QuarantinedEvent]:
        """Stored events the views could not fold, by position (see
        resilience.projections.quarantine): empty unless something is wrong. As the views
        stand: a fresh query (or ``catch_up()``) first brings them up to date."""
        return from_docs(self.select(QUARANTINE, QUARANTINE))

    def check_not_quarantined(self, aggregate_id: str) -> None:
        """Raise UnreadableEventError if facts of an aggregate are quarantined, naming the
        first and its error: why the views may hold nothing of an aggregate whose first
        fact is there, where a NotFoundError would say it does not exist."""
        doc = self.get(QUARANTINE, aggregate_id)
        if doc is not None:
            first, *rest = from_docs([(aggregate_id, doc)])
            raise UnreadableEventError(
                f"the facts of {aggregate_id} from v{first.version} on are quarantined "
                f"({len(rest) + 1} stored events; see the data-quality report): event "
                f"{first.position} ({first.topic}): {first.error}")

    # Internals ----------------------------------------------------------------

    def _fold(self, page: Sequence[Notification]) -> tuple[list[ViewRow], Held]:
        """The rows a page changes, and the quarantine's held aggregates after it."""
        dirty: dict[tuple[str, str], Doc] = {}

        def docs(view: str) -> _PageDocs:
            return _PageDocs(self.stored_names[view], self._cache, self.store, dirty,
                             self._loads)

        def discard() -> None:
            self._cache.clear()
            dirty.clear()

        if self._held is None:
            self._held = held_by(self.quarantined())
        held = dict(self._held)
        quarantined = fold_page(page, self.app.mapper, self.projections,
                                [docs(p.view) for p in self.projections], held, discard)
        if quarantined:
            record(quarantined, docs(QUARANTINE))
            _log.warning("%d stored event(s) quarantined, the first at %d: %s",
                         len(quarantined), quarantined[0].position, quarantined[0].error)
        rows = [ViewRow(view, key, doc["kind"], doc.get("community"), doc.get("at"),
                        self._dumps(view, key, doc))
                for (view, key), doc in dirty.items()]
        return rows, held

    def _dumps(self, view: str, key: str, doc: Doc) -> str:
        """A document as stored: its JSON text, sealed on a protected store."""
        text = dumps(doc)
        if self.keys is None:
            return text
        return self.keys.seal_document(text, f"{view}\x00{key}")

    def _loads(self, row: ViewRow) -> Doc:
        """A stored document (its row) as a document."""
        if self.keys is None:
            return _loads(row.doc)
        return _loads(self.keys.open_document(row.doc, f"{row.view}\x00{row.key}"))

    def _forget(self) -> None:
        self._cache.clear()
        self._held = None
        self._cached_at = (-1, -1)

    def _trim(self) -> None:
        cache = self._cache
        while len(cache) > self._cache_size:
            cache.popitem(last=False)


class Follower(Background):
    """A background thread that keeps views caught up; stop it (or leave its ``with``).

    A failed catch-up (the store unreachable, locked or full) is reported and
    retried: a warning on the ``resilience.views`` logger when the outage begins
    (then at most once a minute while it lasts), an info line when a catch-up
    succeeds again. ``error`` (and ``views.error``) holds the latest failure
    until a catch-up succeeds, ``failures`` counts them in a row. Retries pause
    ``interval``, doubling up to ``max(interval, 2)`` seconds (``pause()``), so the
    follower resumes within seconds of the store's return, however long the outage;
    each attempt waits at most the store's timeout (``?timeout=``).

    Should the thread itself ever stop on an error (a fault of this library, not
    of the store), ``running`` turns False, ``error`` keeps that error and an
    error line is logged. The loop is resilience.adapters.background's.
    """

    THREAD = "resilience-views"

    def __init__(self, views: Views, interval: float) -> None:
        super().__init__(check_interval(interval))
        self.views = views
        self.start()

    def step(self) -> bool:
        # A page at a time: under steady writes a catch-up to the head might not
        # return for long, and the error state must clear as soon as one commits.
        views = self.views
        try:
            folded = views.catch_up(max_events=views.page_size)
        except Exception as exc:
            views.error = exc
            raise
        views.error = views.failing_since = None
        return folded >= views.page_size  # more to fold: no pause

    def failed(self, exc: Exception, first: bool) -> None:
        since = self.failing_since or time.time()
        if first:
            self.views.failing_since = since
            _log.warning("views cannot catch up: %s; retrying", describe(exc))
        else:
            _log.warning("views still cannot catch up (%d attempts, %.0f s): %s",
                         self.failures, time.time() - since, describe(exc))

    def recovered(self) -> None:
        _log.info("views resumed after %d failed attempts over %.0f s", self.failures,
                  time.time() - (self.failing_since or time.time()))

    def died(self, exc: BaseException) -> None:
        self.views.error = exc
        _log.error("views follower stopped, the views are no longer kept up to date: %s",
                   describe(exc))
