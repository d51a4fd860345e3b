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

What a rebuild costs beside reading and decoding the log (benchmarks/rebuild.py) is
kept low three ways: events are decoded by resilience.adapters.decoded (the mapper's
events, compiled per class, the stored ISO times kept: ``Deliveries``); a large page is
folded a chunk of events at a time (its documents held, not all its events decoded);
and while a full page commits in a writer thread, the next is read and folded
(``catch_up``): the database's work and its wait for the disk leave the reader's path.

On a protected store (the engine has a key ring: resilience.adapters.keystore) every
document is stored sealed under the views key, bound to its view and key, and the views
are named apart (``timelines/v7/sealed``, tracking ``resilience/views/v7/sealed``): a
store never mixes sealed and plain documents, and plain views left by an earlier
version are deleted when it is first opened with protection. A document that does not
open (altered, or copied from another row) raises TamperedStoreError, never an event's
fault: the reader stops on it as on any failed read, and a rebuild replaces it. Before each page the
reader looks for erasures made elsewhere (``KeyRing.refresh``), so a key deleted by
another process is never used to fold a page again.
"""

import concurrent.futures
import gc
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification

from resilience.adapters.background import Background
from resilience.adapters.decoded import notification_reader
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
from resilience.i18n import _
from resilience.projections.base import Deliveries, Doc, Projection
from resilience.projections.folds import PROJECTIONS
from resilience.projections.indexes import UNTIL
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

VERSION = 9
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
        cached = self._cache.get((self.view, key))
        if cached is None:
            self.prefetch((key,))
            cached = self._cache.get((self.view, key))
        return cached

    def put(self, key: str, doc: Doc) -> None:
        self._cache[(self.view, key)] = doc
        self._dirty[(self.view, key)] = doc


class Derived(Protocol):
    """A view kept from the documents each page changes in another (``Views.derive``): an
    index a reader needs, such as the per-case summaries of resilience.metrics.summaries."""

    view: str
    source: str
    """The view whose changed documents it is kept from."""

    def derive(self, changed: dict[str, Doc], docs: _PageDocs) -> None:
        """Fold the documents of ``source`` a page changed (by key, as they now stand) into
        ``docs``, the documents of ``view``."""


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
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


_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_encode = None if _make_encoder is None else _make_encoder(
    None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", False,
    False, True)
"""The JSON module's C encoder with ``dumps``' settings (compact, UTF-8 text, NaN as
itself), made once: ``json.dumps`` with any argument makes a new encoder for every
document, which cost a rebuild about a tenth of its time. No check for cycles: a
document is a tree."""


def _dumps(doc: Doc) -> str:
    """``dumps(doc)`` (resilience.adapters.viewstore), the same text, faster."""
    if _encode is None:
        return dumps(doc)
    text: str = "".join(_encode(doc, 0))
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return dumps(doc)  # a lone surrogate: escaped as dumps escapes it
    return text


class _Pending:
    """A page folded, committing or to commit: its rows, the mark it was folded from, its
    last notification id and how many events it holds."""

    def __init__(self, rows: list[ViewRow], mark: Mark, last: int, count: int) -> None:
        self.rows = rows
        self.mark = mark
        self.last = last
        self.count = count
        self.future: concurrent.futures.Future[None] | None = None
        """The commit running beside the next page's fold (None: not started)."""

    @property
    def after(self) -> Mark:
        """The views' mark once it has committed."""
        return self.mark[0], self.last


class _Writer:
    """One thread that commits pages while the reader folds the next, started on the first
    page that has one after it (a catch-up of one page starts none)."""

    def __init__(self) -> None:
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def submit(self, commit: Callable[..., None], *args: Any,
               **kwargs: Any) -> "concurrent.futures.Future[None]":
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="resilience-views-writer")
        return self._pool.submit(commit, *args, **kwargs)

    def __enter__(self) -> "_Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


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
        self._read = notification_reader(app.recorder)
        """Reads the pages (``select_notifications``, faster on SQLite)."""
        self.deliveries = Deliveries(app.mapper)
        """Decodes the pages (its compiled classes and ids are kept for the next ones), and
        one aggregate's events for a replay (``Deliveries.aggregate``)."""
        self.stored_names = {view: f"{view}/v{VERSION}{sealed}"
                             for view in (*(p.view for p in self.projections), QUARANTINE)}
        """Each view's name in storage (its name and the version it was folded with), the
        quarantine's included."""
        self.derived: tuple[Derived, ...] = ()
        """The views kept from others' changed documents (``derive``)."""
        # Documents as of ``_cached_at``: a page touching an aggregate folded in
        # the last pages needn't read it back. Anything that fails clears it.
        # Bounded (oldest first out), so memory stays flat however long the log.
        self._cache: OrderedDict[tuple[str, str], Doc] = OrderedDict()
        self._cache_size = cache_size
        self._cached_at: Mark = (-1, -1)
        self._held: Held | None = None  # of the quarantine as of _cached_at; None: to read
        self._committing: concurrent.futures.Future[None] | None = None
        """The commit of the page before the one being folded, while it runs."""
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
        """Fold every event the views have not seen (at most ``max_events``); return how many.

        While a full page commits, the next one is read and folded (``_Writer``): the
        database's work and its wait for the disk overlap the folding. A page is folded
        on the documents the page before it leaves, so it is kept only if that one
        commits; each page still commits alone, in order, and progress is reported once
        it has (so an error or an interrupt leaves whole pages, as one page at a time)."""
        page_size = self.page_size if page_size is None else page_size
        with self._lock, gc_paused(), _Writer() as writer:
            done = 0
            total = self.lag if max_events is None else min(self.lag, max_events)
            pending: _Pending | None = None
            try:
                while True:
                    if pending is not None and pending.future is None:
                        # Its page was the last, yet more came: commit it before folding on.
                        committed, pending = self._settle(pending), None
                        if committed is not None:
                            done += committed
                            if progress is not None:
                                progress(done, max(total, done))
                    folded = done + (pending.count if pending is not None else 0)
                    if max_events is not None and folded >= max_events:
                        page: Sequence[Notification] = ()
                    else:
                        mark = self._mark() if pending is None else pending.after
                        limit = (page_size if max_events is None
                                 else min(page_size, max_events - folded))
                        page = self._read(mark[1] + 1, limit)
                    if not page:
                        if pending is None:
                            break
                        committed, pending = self._settle(pending), None
                        if committed is not None:
                            done += committed
                            if progress is not None:
                                progress(done, max(total, done))
                        continue  # from the stored position: the end, or another reader's
                    if self.keys is not None:
                        self.keys.refresh()
                    failed: BaseException | None = None
                    self._committing = pending.future if pending is not None else None
                    try:
                        rows, held = self._fold(page)
                    except BaseException as exc:
                        failed = exc
                    finally:
                        self._committing = None
                    if pending is not None:
                        committed, pending = self._settle(pending), None
                        if committed is None:
                            continue  # folded on a page that did not commit: fold again
                        done += committed
                        if progress is not None:
                            progress(done, max(total, done))
                    if failed is not None:
                        self._forget()
                        if isinstance(failed, Exception) and self.store.mark() != mark:
                            continue  # the views moved under the page (a rebuild began)
                        raise failed
                    # What the next page is folded on, if this one commits (else forgotten).
                    self._cached_at = (mark[0], page[-1].id)
                    self._held = held
                    self._trim(keep=[(row.view, row.key) for row in rows])
                    pending = _Pending(rows, mark, page[-1].id, len(page))
                    if len(page) == limit and (max_events is None
                                               or folded + len(page) < max_events):
                        # More may follow: commit beside the next page's fold.
                        pending.future = writer.submit(self.store.commit, rows,
                                                       expected=mark, position=page[-1].id)
                    # Folded: let it go before the next is read, not after (a rebuild's
                    # page of stored events is a tenth of its peak memory).
                    page = ()
            except BaseException:
                self._forget()
                raise
            finally:
                if pending is not None and pending.future is not None:
                    concurrent.futures.wait([pending.future])  # none left running after
            if progress is not None and done < total:
                progress(done, done)  # notification ids may have gaps: the end is the end
            return done

    def _mark(self) -> Mark:
        """The views' stored mark, the page cache cleared if it is not the cache's."""
        mark = self.store.mark()
        if mark != self._cached_at:
            self._cache.clear()
            self._held = None
            self._cached_at = mark
        return mark

    def _settle(self, pending: "_Pending") -> int | None:
        """Commit a folded page (or wait for its commit); how many events it held, None if
        another reader committed first (the page and what was folded on it are forgotten).
        Any other failure is raised, unless the views moved meanwhile (a rebuild began)."""
        try:
            if pending.future is None:
                self.store.commit(pending.rows, expected=pending.mark, position=pending.last)
            else:
                pending.future.result()
        except (ViewsMoved, IntegrityError):
            self._forget()  # another reader got there first: start again from its position
            return None
        except Exception:
            self._forget()
            if self.store.mark() != pending.mark:
                return None  # the views moved under the page (a rebuild began): fold again
            raise
        return pending.count

    def rebuild(self, *, progress: Progress | None = None) -> int:
        """Empty the views and fold the whole history again; return the events folded."""
        with self._lock:
            self._forget()
            self.store.reset(list(self.stored_names.values()))
            # Every row is written again: keeping the query indexes row by row costs the
            # commits about three times what the rows do, making them once at the end a
            # sort. Readers meanwhile are slower, never wrong; a rebuild that dies
            # leaves them to the next opening of the store (its set-up makes them).
            self.store.drop_indexes()
            try:
                return self.catch_up(progress=progress, page_size=self.rebuild_page_size)
            finally:
                self._forget()  # a rebuild's cache would only slow the rest of the process
                self.store.make_indexes()

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
                    _("views at {reached} did not reach {target} in {seconds} s").format(
                        reached=reached, target=target, seconds=timeout))
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def derive(self, derived: Derived) -> None:
        """Keep ``derived.view`` from the documents each page changes in ``derived.source``,
        in the page's transaction; the view is stored, rebuilt and pruned with the others.
        Every reader of a store must keep the same views: the engine's reports register
        theirs when it opens, before anything is folded."""
        with self._lock:
            sealed = SEALED if self.keys is not None else ""
            self.stored_names[derived.view] = f"{derived.view}/v{VERSION}{sealed}"
            self.derived = (*(d for d in self.derived if d.view != derived.view), derived)

    def follow(self, interval: float = 0.5) -> "Follower":
        """Keep the views caught up from a background thread until the follower stops;
        poll every ``interval`` seconds (see ``check_interval``)."""
        return Follower(self, interval)

    # Reading ------------------------------------------------------------------

    def _stored(self, view: str) -> str:
        try:
            return self.stored_names[view]
        except KeyError:
            raise InvalidInputError(_("no view {view}; the views are {views}").format(
                view=shown(view), views=", ".join(self.stored_names))) from None

    def get(self, view: str, key: str) -> Doc | None:
        row = self.store.fetch(self._stored(view), [key]).get(key)
        return self._loads(row) if row is not None else None

    def fetch(self, view: str, keys: Iterable[str]) -> dict[str, Doc]:
        """The documents of ``keys`` that exist, by key, in one query."""
        return {key: self._loads(row)
                for key, row in self.store.fetch(self._stored(view), set(keys)).items()}

    def select(self, view: str, kind: str, *, start: float | None = None,
               end: float | None = None, community: str | None = None,
               until_after: float | None = None) -> list[tuple[str, Doc]]:
        """(key, document) of every document of a kind, optionally within [start, end) epoch
        s, of one community, and (``until_after``) of the cases that may be open after that
        moment: their ``until`` None or later (resilience.projections.indexes)."""
        return [(row.key, self._loads(row)) for row in
                self.store.select(self._stored(view), kind, start=start, end=end,
                                  community=community, until_after=until_after)]

    def documents(self, view: str) -> dict[str, Doc]:
        """Every document of a view by key (for tests and exports; reads it all)."""
        found: dict[str, Doc] = {}
        for kind in ("incident", "order", "hazard", "patrol", "patrol_plan", "community",
                     "activity", "improvement", "review", "emergency", "reference", ENDED,
                     QUARANTINE):
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
                _("the facts of {id} from v{version} on are quarantined ({count} stored "
                  "events; see the data-quality report): event {position} ({topic}): "
                  "{error}").format(id=aggregate_id, version=first.version,
                                    count=len(rest) + 1, position=first.position,
                                    topic=first.topic, error=first.error))

    # Internals ----------------------------------------------------------------

    def _fold(self, page: Sequence[Notification]) -> tuple[list[ViewRow], Held]:
        """The rows a page changes, and the quarantine's held aggregates after it."""
        dirty: dict[tuple[str, str], Doc] = {}

        def docs(view: str) -> _PageDocs:
            return _PageDocs(self.stored_names[view], self._cache, self.store, dirty,
                             self._loads)

        def discard() -> None:
            if self._committing is not None:
                # The documents of the page still committing are only in the cache: once it
                # has committed, the store has them (and if it fails, so does this page).
                self._committing.result()
            self._cache.clear()
            dirty.clear()

        if self._held is None:
            self._held = held_by(self.quarantined())
        held = dict(self._held)
        quarantined = fold_page(page, self.deliveries, self.projections,
                                [docs(p.view) for p in self.projections], held, discard)
        if quarantined:
            record(quarantined, docs(QUARANTINE))
            _log.warning("%d stored event(s) quarantined, the first at %d: %s",
                         len(quarantined), quarantined[0].position, quarantined[0].error)
        for derived in self.derived:
            source = self.stored_names[derived.source]
            changed = {key: doc for (view, key), doc in dirty.items() if view == source}
            if changed:
                derived.derive(changed, docs(derived.view))
        until = {self.stored_names[view]: index for view, index in UNTIL.items()
                 if view in self.stored_names}
        rows = [ViewRow(view, key, doc["kind"], doc.get("community"), doc.get("at"),
                        self._dumps(view, key, doc),
                        until[view](doc) if view in until else None)
                for (view, key), doc in dirty.items()]
        # In key order: each index the commit updates is walked once, in order, instead of
        # at random (a tenth of a large store's rebuild, whose writes wait on the disk).
        rows.sort()
        return rows, held

    def _dumps(self, view: str, key: str, doc: Doc) -> str:
        """A document as stored: its JSON text, sealed on a protected store."""
        text = _dumps(doc)
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

    def _trim(self, keep: Sequence[tuple[str, str]] = ()) -> None:
        """Drop the oldest documents beyond ``cache_size``, but never those in ``keep`` (a
        page's, which may still be committing: the store does not hold them yet)."""
        cache = self._cache
        if len(cache) <= self._cache_size:
            return
        if len(keep) >= self._cache_size:  # a large page's (a rebuild's): keep just those
            self._cache = OrderedDict((name, cache[name]) for name in keep if name in cache)
            return
        for name in keep:
            if name in cache:
                cache.move_to_end(name)
        for _extra in range(len(cache) - self._cache_size):
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
