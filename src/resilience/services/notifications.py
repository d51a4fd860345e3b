"""Notifications to the importing app: each fact that is a notice, given once per handler
in effect.

A fact is a **notice** when its class declares ``notice`` (``"incident.new"``,
``"incident.escalated"``, ``"order.overdue"``...: ``notice_kinds()``; the value and its
JSON are in resilience.services.notices). A subscription
(``engine.subscribe(name, handler, kinds=...)``) reads the store's log from its
**position**, builds a ``Notice`` of each notice it wants, calls ``handler(notice)``
and, once the handler returns, commits the position past that notice
(resilience.adapters.subscriptions: beside the views, never touched by a rebuild or
prune). Facts that are no notice, or not of ``kinds``, move the position silently. A
new name starts at the beginning of the log (the whole history is given), or at its
head with ``start="head"``.

**At least once, exactly once in effect.** A process that dies after the handler acted
and before the position was committed gives that one notice again when delivery
resumes: the notice in flight, and only it (two deliverers of one subscription running
at once never both deliver: each pass holds the subscription's deliverer lock, and one
that finds it held delivers nothing, a standby for failover). Every
notice carries a stable ``key`` (``"<aggregate id>/<version>"``): a handler that acts
once per key (remembers the keys it acted on, or passes the key on as an idempotency
key) acts exactly once.

**Failures.** A handler that raises stops the delivery before the notice, which is given
again next time (``deliver`` raises; a follower retries with backoff). A handler that
gives up on a notice raises ``Undeliverable``: the notice becomes a **dead letter**,
committed with the position in one transaction, and delivery moves on; ``redeliver``
tries dead letters again (at least once too). A notice whose fact cannot be read
(altered) becomes a dead letter without reaching the handler, and so does a fact whose
type this version can't resolve (``UNKNOWN``: a later version's), for every
subscription whatever its kinds, never passed over silently. A dead letter keeps the
notice's place and why it failed, sealed on a protected store; the notice itself is
read again from the events, so an erased person's text reads as the events give it.
"""

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from datetime import datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from resilience.adapters.background import Background
from resilience.adapters.mapper import key_ring
from resilience.adapters.store import describe
from resilience.adapters.subscriptions import (
    Claim,
    DeadLetterRow,
    PositionMoved,
    SubscriptionStore,
    Undeliverable,
    Wakeup,
    open_subscription_store,
    open_wakeup,
)
from resilience.clock import Clock
from resilience.domain.validation import check_wait, check_whole, shown
from resilience.errors import (
    InvalidInputError,
    NotFoundError,
    TamperedStoreError,
)
from resilience.i18n import _
from resilience.services.notices import (
    UNKNOWN,
    DeadLetter,
    Notice,
    NoticeReader,
    notice_kinds,
    unknown_fact,
)

_log = logging.getLogger("resilience.notifications")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_PAGE = 500


Handler = Callable[[Notice], object]
"""What a subscription calls with each notice (its result is not used)."""


class Notifications(NoticeReader):
    """The subscriptions of one store (``engine.notifications``): their positions and
    dead letters are opened on first use; notices are read as NoticeReader reads them."""

    def __init__(self, app: Application[Any], clock: Clock) -> None:
        super().__init__(app)
        self.clock = clock
        self.keys = key_ring(app)
        self._store: SubscriptionStore | None = None

    @property
    def store(self) -> SubscriptionStore:
        with self._lock:
            if self._store is None:
                self._store = open_subscription_store(self.app.recorder)
            return self._store

    def subscribe(self, name: str, handler: Handler, *, kinds: Iterable[str] | None = None,
                  start: str = "beginning") -> "Subscription":
        """A subscription named ``name`` (letters, digits, ``.``, ``_``, ``-``; up to 100),
        giving ``handler`` each notice of ``kinds`` (default: every kind) recorded after its
        position. Subscribing again under the same name, in any process, picks up where
        the name's position stands. A name that has taken nothing yet (position 0) starts
        at the beginning of the log (``start="beginning"``: the whole history is given)
        or at its head (``start="head"``: only what is recorded from now on).
        InvalidInputError for a bad name, an unknown kind or start, or a handler that is
        not callable. Nothing is delivered until ``deliver()`` or ``follow()``."""
        if start not in ("beginning", "head"):
            raise InvalidInputError(_("start is 'beginning' or 'head', got {value}").format(
                value=shown(start)))
        if type(name) is not str or _NAME.fullmatch(name) is None:
            raise InvalidInputError(_("a subscription's name is 1 to 100 letters, digits, "
                                      "'.', '_' or '-', starting with a letter or digit; got "
                                      "{value}").format(value=shown(name)))
        if not callable(handler):
            raise InvalidInputError(_("handler must be callable, got {value}").format(
                value=shown(handler)))
        wanted = None
        if kinds is not None:
            if isinstance(kinds, str | bytes) or not isinstance(kinds, Iterable):
                raise InvalidInputError(_("kinds must be a list of notice kinds, got "
                                          "{value}").format(value=shown(kinds)))
            wanted = frozenset(kinds)
            known = notice_kinds()
            unknown = sorted(map(shown, wanted - known))
            if unknown:
                raise InvalidInputError(_("unknown notice kind {kinds}; the kinds are "
                                          "{known}").format(kinds=", ".join(unknown),
                                                            known=", ".join(sorted(known))))
        subscription = Subscription(self, name, handler, wanted)
        head = self.app.recorder.max_notification_id() or 0
        if start == "head" and head and subscription.position == 0:
            with suppress(PositionMoved):  # another process started it meanwhile
                self.store.advance(subscription.tracking_name, 0, head)
        return subscription

    def wakeup(self) -> Wakeup:
        """Something to wait on for new events (on PostgreSQL woken by the store's NOTIFY;
        elsewhere it only times out); ``close()`` it when done."""
        return open_wakeup(self.app.recorder)

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
                    _("the dead letter {key} of {subscription} does not open with the views "
                      "key: it was altered, or copied from another row, outside "
                      "resilience").format(key=row.key, subscription=row.subscription)) from None
        doc: dict[str, Any] = json.loads(text)
        return doc


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
        self.standby = False
        """Whether the latest try found another deliverer holding the subscription."""
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
        position left before that notice.

        One deliverer at a time: while another (a follower, a ``deliver`` in another
        thread or process) holds the subscription's deliverer lock, this returns 0 at once,
        delivering nothing (``standby`` is then True)."""
        if max_notices is not None:
            check_whole(max_notices, "max_notices", 1)
        with self._lock:
            claim = self.claim()
            if claim is None:
                return 0
            try:
                return self._pass(max_notices)[0]
            finally:
                claim.release()

    def claim(self) -> Claim | None:
        """The subscription's deliverer lock, or None (logged at debug) while another
        deliverer, in this process or another, holds it: one deliverer at a time."""
        claim = self.notifications.store.claim(self.tracking_name)
        self.standby = claim is None
        if claim is None:
            _log.debug("%s: another deliverer holds the subscription; none delivered here",
                       self.name)
        return claim

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
                        if kind is None or not self._wants(kind):
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

    def _wants(self, kind: str) -> bool:
        """Whether a notice of ``kind`` is for the handler (an UNKNOWN one always is)."""
        return kind == UNKNOWN or self.kinds is None or kind in self.kinds

    def _give(self, notification: Notification, kind: str) -> DeadLetterRow | None:
        """Hand one notice to the handler; its dead letter if it is undeliverable."""
        notice = unknown_fact(notification) if kind == UNKNOWN else (
            self.notifications.read(notification, kind))
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
                    raise NotFoundError(_("{name} has no dead letter {key}").format(
                        name=self.name, key=shown(key)))
            taken = 0
            for row in rows:
                doc = notes.open(row)
                stored = notes.at(row.position)
                kind = doc["kind"] if stored is None else notes.kind_of(stored.topic)
                if kind is None or not self._wants(kind):  # no notice for it (upgraded)
                    store.drop(self.tracking_name, row.key)
                    continue
                notice = ("its fact is no longer in the store" if stored is None
                          else unknown_fact(stored) if kind == UNKNOWN
                          else notes.read(stored, kind))
                if isinstance(notice, Notice) and notice.key != row.key:
                    notice = f"the fact at {row.position} is no longer the notice {row.key}"
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


class Deliverer(Background):
    """A background thread delivering a subscription's notices, at most BATCH a pass;
    stop it (or leave its ``with``).

    It holds the subscription's deliverer lock from its first pass until it stops (or
    the lock's connection is lost: it takes it again). While another deliverer holds
    it, it is a **standby** (``active`` False): each interval it tries for the lock,
    delivering nothing, and takes over when the other stops or its process dies.

    The loop is resilience.adapters.background's: a failed pass (the handler raised, the
    store is unavailable) is logged on the ``resilience.notifications`` logger when the
    failures begin (then at most once a minute) and retried: ``error`` holds the latest
    failure until a pass succeeds, ``failures`` counts them in a row, and retries pause
    ``interval`` doubled per failure up to ``max(interval, 2)`` seconds. Between passes it
    waits ``interval``, cut short on PostgreSQL by the store's NOTIFY. ``delivered``
    counts the notices the handler took. ``stop`` cuts a webhook's pause between
    attempts short (the notice in flight is given again next time); an attempt under
    way finishes first (at most about the webhook's ``timeout``).
    """

    THREAD = "resilience-deliver"
    BATCH = 100
    """Notices per pass: a pass ends (and the error state clears) at least this often."""

    def __init__(self, subscription: Subscription, interval: float) -> None:
        super().__init__(interval)
        self.subscription = subscription
        self.delivered = 0
        self._claim: Claim | None = None
        self._claiming = threading.Lock()
        self._wakeup = subscription.notifications.wakeup()
        self.start()

    def step(self) -> bool:
        with self._claiming:
            claim = self._claim
            if claim is not None and not claim.held():  # its connection was lost
                _log.warning("%s: the deliverer lock was lost with its connection; taking "
                             "it again", self.subscription.name)
                claim.release()
                self._claim = claim = None
            if claim is None:
                self._claim = claim = self.subscription.claim()
                if claim is None:
                    return False  # a standby: another deliverer delivers
                _log.info("%s: this deliverer delivers", self.subscription.name)
        delivered, taken = self.subscription._pass(self.BATCH)
        self.delivered += delivered
        return taken >= self.BATCH

    @property
    def active(self) -> bool:
        """Whether this deliverer holds the subscription (False: a standby)."""
        return self._claim is not None

    def _let_go(self) -> None:
        with self._claiming:
            if self._claim is not None:
                self._claim.release()
                self._claim = None

    def idle(self) -> None:
        self._wakeup.wait(self.interval)

    def failed(self, exc: Exception, first: bool) -> None:
        name = self.subscription.name
        if first:
            _log.warning("%s cannot deliver: %s; retrying", name, describe(exc))
        else:
            _log.warning("%s still cannot deliver (%d attempts, %.0f s): %s", name,
                         self.failures, time.time() - (self.failing_since or time.time()),
                         describe(exc))

    def recovered(self) -> None:
        _log.info("%s delivers again after %d failed attempts", self.subscription.name,
                  self.failures)

    def died(self, exc: BaseException) -> None:
        _log.error("deliverer of %s stopped: %s", self.subscription.name, describe(exc))
        self._let_go()  # a standby may take over

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        super().stop()
        self._let_go()
        self._wakeup.close()
