"""Notifications to the importing app: each fact that is a notice, given once per handler
in effect.

A fact is a **notice** when its class declares ``notice`` (``"incident.new"``,
``"incident.escalated"``, ``"order.overdue"``...: ``notice_kinds()``; the value and its
JSON are in resilience.services.notices). A subscription
(``engine.subscribe(name, handler, kinds=...)``) reads the store's log from its
**position**, builds a ``Notice`` of each notice it wants, calls ``handler(notice)``
and, once the handler returns, commits the position past that notice
(resilience.adapters.subscriptions: beside the views, never touched by a rebuild or
prune). Facts that are no notice, or not of ``kinds``, move the position silently.

**At least once, exactly once in effect.** A process that dies after the handler acted
and before the position was committed gives that one notice again when delivery
resumes: the notice in flight, and only it (two deliverers of one subscription running
at once may also both give the notice each is on; only one moves the position). Every
notice carries a stable ``key`` (``"<aggregate id>/<version>"``): a handler that acts
once per key (remembers the keys it acted on, or passes the key on as an idempotency
key) acts exactly once.

**Failures.** A handler that raises stops the delivery before the notice, which is given
again next time (``deliver`` raises; a follower retries with backoff). A handler that
gives up on a notice raises ``Undeliverable``: the notice becomes a **dead letter**,
committed with the position in one transaction, and delivery moves on; ``redeliver``
tries dead letters again. A notice whose fact cannot be read (altered) becomes a dead
letter without reaching the handler. A dead letter keeps the notice's place and why it
failed, sealed on a protected store; the notice itself is read again from the events,
so an erased person's text reads as the events give it.
"""

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, PersistenceError
from eventsourcing.utils import TopicError, resolve_topic

from resilience.adapters.mapper import ConverterMapper, EventUnopened
from resilience.adapters.store import describe
from resilience.adapters.subscriptions import (
    DeadLetterRow,
    PositionMoved,
    SubscriptionStore,
    Undeliverable,
    Wakeup,
    open_subscription_store,
    open_wakeup,
)
from resilience.clock import Clock
from resilience.domain.base import FactAggregate
from resilience.domain.validation import check_wait, check_whole, shown
from resilience.errors import (
    InvalidInputError,
    NotFoundError,
    ProtectedStoreError,
    StoreUnavailableError,
    TamperedStoreError,
)
from resilience.services.notices import DeadLetter as DeadLetter  # re-exported: what
from resilience.services.notices import Notice as Notice  # a subscription gives, beside it
from resilience.services.notices import notice_kinds

_log = logging.getLogger("resilience.notifications")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_PAGE = 500


Handler = Callable[[Notice], object]
"""What a subscription calls with each notice (its result is not used)."""


class Notifications:
    """The subscriptions of one store (``engine.notifications``): their positions and
    dead letters are opened on first use."""

    def __init__(self, app: Application[Any], clock: Clock) -> None:
        self.app = app
        self.clock = clock
        mapper = app.mapper
        self.keys = mapper.keys if isinstance(mapper, ConverterMapper) else None
        self._store: SubscriptionStore | None = None
        self._lock = threading.Lock()
        self._kinds: dict[str, str | None] = {}
        self._communities: OrderedDict[UUID, UUID | None] = OrderedDict()

    @property
    def store(self) -> SubscriptionStore:
        with self._lock:
            if self._store is None:
                self._store = open_subscription_store(self.app.recorder)
            return self._store

    def subscribe(self, name: str, handler: Handler, *,
                  kinds: Iterable[str] | None = None) -> "Subscription":
        """A subscription named ``name`` (letters, digits, ``.``, ``_``, ``-``; up to 100),
        giving ``handler`` each notice of ``kinds`` (default: every kind) recorded after its
        position. Subscribing again under the same name, in any process, picks up where
        the name's position stands. InvalidInputError for a bad name, an unknown kind, or
        a handler that is not callable. Nothing is delivered until ``deliver()`` or
        ``follow()``."""
        if type(name) is not str or _NAME.fullmatch(name) is None:
            raise InvalidInputError(f"a subscription's name is 1 to 100 letters, digits, "
                                    f"'.', '_' or '-', starting with a letter or digit; got "
                                    f"{shown(name)}")
        if not callable(handler):
            raise InvalidInputError(f"handler must be callable, got {shown(handler)}")
        wanted = None
        if kinds is not None:
            if isinstance(kinds, str | bytes) or not isinstance(kinds, Iterable):
                raise InvalidInputError(f"kinds must be a list of notice kinds, got "
                                        f"{shown(kinds)}")
            wanted = frozenset(kinds)
            known = notice_kinds()
            unknown = sorted(map(shown, wanted - known))
            if unknown:
                raise InvalidInputError(f"unknown notice kind {', '.join(unknown)}; the "
                                        f"kinds are {', '.join(sorted(known))}")
        return Subscription(self, name, handler, wanted)

    def wakeup(self) -> Wakeup:
        """Something to wait on for new events (on PostgreSQL woken by the store's NOTIFY;
        elsewhere it only times out); ``close()`` it when done."""
        return open_wakeup(self.app.recorder)

    # Reading notices ----------------------------------------------------------------

    def kind_of(self, topic: str) -> str | None:
        """The notice kind of the facts stored under ``topic`` (None: no notice, or a topic
        this version can't resolve; the views quarantine those)."""
        try:
            return self._kinds[topic]
        except KeyError:
            pass
        try:
            cls = resolve_topic(topic)
        except TopicError:
            cls = None
        kind = cls.notice if isinstance(cls, type) and issubclass(
            cls, FactAggregate.Event) else None
        self._kinds[topic] = kind
        return kind

    def read(self, notification: Notification, kind: str) -> Notice | str:
        """The notice of a stored fact, or why its fact can't be read (a fault of the
        fact itself). A fault of the store (its key, its connection) raises."""
        try:
            event = cast(FactAggregate.Event, self.app.mapper.to_domain_event(notification))
        except Exception as exc:
            _raise_store_fault(exc)
            return f"cannot read the fact: {describe(exc)}"
        return Notice.of(event, notification.id, kind, self._community(event))

    def at(self, position: int) -> Notification | None:
        """The stored fact at ``position`` in the log (None if there is none)."""
        found = self.app.recorder.select_notifications(position, 1)
        return found[0] if found and found[0].id == position else None

    def _community(self, event: FactAggregate.Event) -> UUID | None:
        """The community the fact's aggregate belongs to: named on the fact, else on the
        aggregate's first fact (read once per aggregate, then remembered)."""
        found = getattr(event, "community_id", None)
        if isinstance(found, UUID):
            return found
        if type(event).aggregate_kind == "community":
            return event.originator_id
        aggregate = event.originator_id
        with self._lock:
            if aggregate in self._communities:
                self._communities.move_to_end(aggregate)
                return self._communities[aggregate]
        first = self.app.recorder.select_events(aggregate, lte=1)
        community = None
        if first:
            try:
                community = getattr(self.app.mapper.to_domain_event(first[0]),
                                    "community_id", None)
            except Exception as exc:
                _raise_store_fault(exc)
                community = None  # its first fact unreadable: quarantined by the views
        with self._lock:
            self._communities[aggregate] = community
            while len(self._communities) > 10_000:
                self._communities.popitem(last=False)
        return community if isinstance(community, UUID) else None

    # Dead letters, sealed on a protected store ----------------------------------------

    def seal(self, row: DeadLetterRow, doc: Mapping[str, Any]) -> DeadLetterRow:
        text = json.dumps(doc, separators=(",", ":"))
        if self.keys is not None:
            text = self.keys.seal_document(text, _bound(row))
        return row._replace(doc=text)

    def open(self, row: DeadLetterRow) -> dict[str, Any]:
        text = row.doc
        if self.keys is not None:
            try:
                text = self.keys.open_document(text, _bound(row))
            except TamperedStoreError:
                raise TamperedStoreError(
                    f"the dead letter {row.key} of {row.subscription} does not open with the "
                    "views key: it was altered, or copied from another row, outside "
                    "resilience") from None
        doc: dict[str, Any] = json.loads(text)
        return doc


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


def _bound(row: DeadLetterRow) -> str:
    """Where a dead letter is kept, which its sealed text is bound to."""
    return f"dead letters of {row.subscription}\x00{row.key}"


class Subscription:
    """A handler's subscription to the notices of one store (see the module docstring)."""

    def __init__(self, notifications: Notifications, name: str, handler: Handler,
                 kinds: frozenset[str] | None) -> None:
        self.notifications = notifications
        self.name = name
        self.tracking_name = f"{notifications.app.name}/subscriptions/{name}"
        """Its position's name in the tracking table."""
        self.handler = handler
        self.kinds = kinds
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Subscription({self.name!r}, {self.handler!r})"

    @property
    def position(self) -> int:
        """The notification id the subscription has delivered up to (0: none yet)."""
        return self.notifications.store.position(self.tracking_name)

    def deliver(self, max_notices: int | None = None) -> int:
        """Give the handler each notice recorded after the position, up to the store's
        head as it was when the pass began (at most ``max_notices``), committing the
        position after each; return how many the handler took (dead letters not
        counted). Raises what the handler raised (anything but Undeliverable), the
        position left before that notice."""
        if max_notices is not None:
            check_whole(max_notices, "max_notices", 1)
        return self._pass(max_notices)[0]

    def _pass(self, most: int | None) -> tuple[int, int]:
        """(notices delivered, notices handed over: dead letters too)."""
        notes, store = self.notifications, self.notifications.store
        recorder = notes.app.recorder
        delivered = taken = 0
        with self._lock:
            head = recorder.max_notification_id() or 0
            position = store.position(self.tracking_name)
            while position < head:
                page = recorder.select_notifications(position + 1, _PAGE, stop=head)
                if not page:
                    break
                passed = position  # the last fact read past that is no notice to give
                try:
                    for notification in page:
                        kind = notes.kind_of(notification.topic)
                        if kind is None or (self.kinds is not None and kind not in self.kinds):
                            passed = notification.id
                            continue
                        if most is not None and taken >= most:
                            return delivered, taken
                        dead = self._give(notification, kind)
                        taken += 1
                        delivered += dead is None
                        store.advance(self.tracking_name, position, notification.id, dead)
                        position = passed = notification.id
                    if passed > position:
                        store.advance(self.tracking_name, position, passed)
                        position = passed
                except PositionMoved:  # another deliverer went ahead: carry on from there
                    position = store.position(self.tracking_name)
        return delivered, taken

    def _give(self, notification: Notification, kind: str) -> DeadLetterRow | None:
        """Hand one notice to the handler; its dead letter if it is undeliverable."""
        notice = self.notifications.read(notification, kind)
        if isinstance(notice, str):
            return self._letter(notification.id, f"{notification.originator_id}/"
                                f"{notification.originator_version}", kind, notice, 0)
        try:
            self.handler(notice)
        except Undeliverable as exc:
            _log.warning("%s: notice %s (%s) is a dead letter: %s", self.name, notice.key,
                         kind, exc.reason)
            return self._letter(notice.position, notice.key, kind, exc.reason, exc.attempts)
        return None

    def _letter(self, position: int, key: str, kind: str, error: str, attempts: int,
                before: Mapping[str, Any] | None = None) -> DeadLetterRow:
        now = self.notifications.clock().isoformat()
        first = now if before is None else before["first_failed_at"]
        earlier = 0 if before is None else before["attempts"]
        return self.notifications.seal(
            DeadLetterRow(self.tracking_name, key, position, ""),
            {"kind": kind, "attempts": earlier + attempts, "first_failed_at": first,
             "failed_at": now, "error": error})

    def dead_letters(self) -> list[DeadLetter]:
        """The notices given up on, by position, each read again from the store."""
        notes = self.notifications
        letters = []
        for row in notes.store.dead_letters(self.tracking_name):
            doc = notes.open(row)
            stored = notes.at(row.position)
            notice = None if stored is None else notes.read(stored, doc["kind"])
            letters.append(DeadLetter(
                row.key, doc["kind"], row.position, doc["attempts"],
                datetime.fromisoformat(doc["first_failed_at"]),
                datetime.fromisoformat(doc["failed_at"]), doc["error"],
                notice if isinstance(notice, Notice) else None))
        return letters

    def redeliver(self, key: str | None = None) -> int:
        """Give the handler the dead letters again (only ``key``'s, if given:
        NotFoundError if it has none); return how many it took, which are no longer dead
        letters. One it gives up on again stays, its attempts counted. Raises what the
        handler raised (anything but Undeliverable), that dead letter kept."""
        notes = self.notifications
        store = notes.store
        with self._lock:
            rows = store.dead_letters(self.tracking_name)
            if key is not None:
                rows = [row for row in rows if row.key == key]
                if not rows:
                    raise NotFoundError(f"{self.name} has no dead letter {shown(key)}")
            taken = 0
            for row in rows:
                doc = notes.open(row)
                stored = notes.at(row.position)
                notice = (notes.read(stored, doc["kind"]) if stored is not None
                          else "its fact is no longer in the store")
                if isinstance(notice, str):
                    store.keep(self._letter(row.position, row.key, doc["kind"], notice, 0, doc))
                    continue
                try:
                    self.handler(notice)
                except Undeliverable as exc:
                    store.keep(self._letter(row.position, row.key, doc["kind"], exc.reason,
                                            exc.attempts, doc))
                    continue
                store.drop(self.tracking_name, row.key)
                taken += 1
            return taken

    def follow(self, interval: float = 0.5) -> "Deliverer":
        """Deliver from a background thread until the deliverer stops: a pass, then a
        wait of ``interval`` seconds (on PostgreSQL cut short by the store's NOTIFY of new
        events); failures are retried with backoff (see Deliverer)."""
        return Deliverer(self, check_wait(interval, "the deliverer's interval"))


class Deliverer:
    """A background thread delivering a subscription's notices; stop it (or leave its
    ``with``).

    A failed pass (the handler raised, the store is unavailable) is logged on the
    ``resilience.notifications`` logger when the failures begin (then at most once a
    minute) and retried: ``error`` holds the latest failure until a pass succeeds,
    ``failures`` counts them in a row, and retries pause ``interval`` doubled per
    failure up to ``max(interval, 2)`` seconds (new events don't cut those pauses
    short). Should the thread itself stop on an error, ``running`` turns False and
    ``error`` keeps it. A handler busy when ``stop`` is called (a webhook's retries)
    finishes that notice first.
    """

    REPORT_EVERY = 60.0
    BATCH = 100
    """Notices per pass: a pass ends (and the error state clears) at least this often."""

    def __init__(self, subscription: Subscription, interval: float) -> None:
        self.subscription = subscription
        self.interval = interval
        self.error: BaseException | None = None
        self.failures = 0
        self._stopping = threading.Event()
        self._wakeup = subscription.notifications.wakeup()
        self._thread = threading.Thread(target=self._run, name="resilience-deliver",
                                        daemon=True)
        self._thread.start()

    def pause(self) -> float:
        """Seconds before the next attempt after ``failures`` failed passes in a row."""
        return min(self.interval * 2.0 ** min(self.failures, 10), max(self.interval, 2.0))

    def _run(self) -> None:
        try:
            self._follow()
        except BaseException as exc:  # kept and logged: a thread's death is silent
            self.error = exc
            _log.error("deliverer of %s stopped: %s", self.subscription.name, describe(exc))

    def _follow(self) -> None:
        name, reported, since = self.subscription.name, 0.0, 0.0
        while not self._stopping.is_set():
            try:
                _, taken = self.subscription._pass(self.BATCH)
            except Exception as exc:  # reported, kept and retried
                self.error = exc
                self.failures += 1
                now = time.time()
                if self.failures == 1:
                    since = reported = now
                    _log.warning("%s cannot deliver: %s; retrying", name, describe(exc))
                elif now - reported >= self.REPORT_EVERY:
                    reported = now
                    _log.warning("%s still cannot deliver (%d attempts, %.0f s): %s", name,
                                 self.failures, now - since, describe(exc))
                self._stopping.wait(self.pause())
                continue
            if self.failures:
                _log.info("%s delivers again after %d failed attempts", name, self.failures)
            self.error, self.failures = None, 0
            if taken < self.BATCH:
                self._wakeup.wait(self.interval)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        self._thread.join()
        self._wakeup.close()

    def __enter__(self) -> "Deliverer":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
