"""Checking the hash chain (resilience.adapters.chain) and deciding what to write to it.

Verification (:func:`verify`) walks the events and the links side by side in
notification order, a page of each at a time (so a store of millions of events
is checked in bounded memory), recomputing each link from the one before; it
checks every checkpoint against the link at its position, and its signature
when a key is given; a checkpoint kept outside the store (``expect``); and that
no more than the trusted checkpoint's interval of events follows it. The first
problem found is named (:class:`~resilience.adapters.chain.Problem`).

Writing (:func:`extend`, called by the recorders in the insert transaction):
the links of the new events, and an interval checkpoint once ``every`` events
followed the latest *trusted* checkpoint (the latest valid signed one when the
writer has a key, the latest one otherwise). A writer with a key signs one only
after checking the chain since that checkpoint (about one more read of each
event), so it never signs a history it has not checked; and it signs none
(logging why, once) when more than the interval had already passed since the
latest signed checkpoint: signed checkpoints were deleted, events were recorded
without the key, or the store was never sealed.
:func:`record_checkpoint` (``engine.checkpoint()``) checks the chain since the
trusted checkpoint (the whole chain for a store never signed) and records one
at the head: the way to seal a store. :func:`build` chains a store's older
events when its chain tables are created.
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from eventsourcing.persistence import Notification, StoredEvent

from resilience.adapters.chain import (
    PAGE,
    SIGNING_KEY_SETTING,
    START,
    ChainedRecorder,
    ChainRows,
    ChainSettings,
    ChainState,
    ChainWriter,
    Checkpoint,
    CheckpointKind,
    Link,
    Problem,
    Signature,
    Tampering,
    Verification,
    bound,
    chain_links,
    chained,
    parse_reference,
    shown,
)
from resilience.errors import TamperedStoreError
from resilience.i18n import _

_log = logging.getLogger("resilience.chain")

T = TypeVar("T")


def _pages(read: Callable[[int, int, int], Sequence[T]], after: int, stop: int,
           position: Callable[[T], int]) -> Iterator[T]:
    while True:
        page = read(after, stop, PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = position(page[-1])


def _aggregate(originator_id: str, version: int) -> str:
    return _("aggregate {id}, version {version}").format(id=originator_id, version=version)


def walk(rows: ChainRows, start: Link, stop: int) -> Iterator[Link | Problem]:
    """Each event after ``start`` up to ``stop`` checked against its link, as the link;
    the first problem ends it. ``start`` must be a link verified already (or START)."""
    events = _pages(rows.events, start.position, stop, lambda n: n.id)
    links = _pages(rows.links, start.position, stop, lambda row: row.position)
    event, link = next(events, None), next(links, None)
    previous = start
    while event is not None or link is not None:
        if link is None or (event is not None and event.id < link.position):
            assert event is not None
            yield _inserted(event)
            return
        if event is None or link.position < event.id:
            yield _deleted(link)
            return
        if link.seq != previous.seq + 1:
            yield _miscounted(previous, link)
            return
        found = chained(previous, event.id, event)
        if found.digest != link.digest:
            yield _altered(found, link)
            return
        previous = found
        yield found
        event, link = next(events, None), next(links, None)


def _inserted(event: Notification) -> Problem:
    originator = str(event.originator_id)
    return Problem(Tampering.INSERTED, event.id, originator, event.originator_version,
                   _("Event {position} ({aggregate}) was inserted: the hash chain has no link "
                     "for it.").format(
                       position=f"{event.id:,}",
                       aggregate=_aggregate(originator, event.originator_version)))


def _deleted(link: Link) -> Problem:
    return Problem(Tampering.DELETED, link.position, link.originator_id, link.version,
                   _("Event {position} ({aggregate}, as the chain recorded it) was deleted: "
                     "its link remains in the hash chain.").format(
                       position=f"{link.position:,}",
                       aggregate=_aggregate(link.originator_id, link.version)))


def _miscounted(previous: Link, link: Link) -> Problem:
    missing = link.seq - previous.seq - 1
    if missing > 0:
        return Problem(Tampering.DELETED, link.position, None, None,
                       _("{count} event(s) between events {first} and {position} were deleted "
                         "together with their links: the chain counts {counted} events at "
                         "event {position}, not {expected}.").format(
                           count=f"{missing:,}", first=f"{previous.position:,}",
                           position=f"{link.position:,}", counted=f"{link.seq:,}",
                           expected=f"{previous.seq + 1:,}"))
    return Problem(Tampering.INSERTED, link.position, None, None,
                   _("Links were inserted by hand before event {position}: the chain "
                     "counts {counted} events there, not {expected}.").format(
                       position=f"{link.position:,}", counted=f"{link.seq:,}",
                       expected=f"{previous.seq + 1:,}"))


def _altered(found: Link, link: Link) -> Problem:
    where = _aggregate(found.originator_id, found.version)
    if (found.originator_id, found.version) != (link.originator_id, link.version):
        text = _("Event {position} ({aggregate}) is not the event the chain recorded there "
                 "({recorded}): it was replaced.").format(
            position=f"{found.position:,}", aggregate=where,
            recorded=_aggregate(link.originator_id, link.version))
    else:
        text = _("Event {position} ({aggregate}) was altered: it no longer matches its "
                 "link in the hash chain.").format(position=f"{found.position:,}",
                                                   aggregate=where)
    return Problem(Tampering.ALTERED, found.position, found.originator_id, found.version, text)


def _link_at(rows: ChainRows, position: int) -> Link | None:
    if position == 0:
        return START
    found = rows.links(position - 1, position, 1)
    return found[0] if found else None


def _when(checkpoint: Checkpoint) -> str:
    return _("recorded {moment}").format(moment=shown(checkpoint.recorded_at))


def _mismatch(checkpoint: Checkpoint, link: Link | None) -> Problem | None:
    """Whether a checkpoint matches the chain's link at its position (None: it does)."""
    if link is not None and (link.digest.hex(), link.seq) == (checkpoint.link,
                                                              checkpoint.events):
        return None
    message = (_("The checkpoint at event {position} ({when}) names no event of the hash "
                 "chain: events were deleted with their links, or the checkpoint was forged.")
               if link is None else
               _("The checkpoint at event {position} ({when}) does not match the hash chain: "
                 "events up to it were rewritten and the chain recomputed, or the checkpoint "
                 "was forged."))
    return Problem(Tampering.CHECKPOINT, checkpoint.position, None, None,
                   message.format(position=f"{checkpoint.position:,}", when=_when(checkpoint)))


def segment(rows: ChainRows, anchor: Checkpoint | None, stop: int) -> tuple[Problem | None, Link]:
    """Check the chain from a trusted checkpoint (None: the start) up to ``stop``: the
    first problem, and the last link checked."""
    start: Link | None = START
    if anchor is not None:
        start = _link_at(rows, anchor.position)
        problem = _mismatch(anchor, start)
        if problem is not None:
            return problem, START
    assert start is not None
    last = start
    for item in walk(rows, start, stop):
        if isinstance(item, Problem):
            return item, last
        last = item
    return None, last


def _uncovered(anchor: Checkpoint | None, head: Link,
               settings: ChainSettings) -> Problem | None:
    after = (_("the checkpoint at event {position}").format(position=f"{anchor.position:,}")
             if anchor is not None else _("the start of the chain"))
    tail = head.seq - (anchor.events if anchor is not None else 0)
    every = bound(anchor, settings)
    if tail < every:
        return None
    if settings.signing:
        message = _("The {count} events after {after} are covered by no signed checkpoint, "
                    "though one is signed every {every} events: signed checkpoints were "
                    "deleted, events were recorded without the signing key, or the store was "
                    "never sealed (resilience checkpoint).")
    else:
        message = _("The {count} events after {after} are covered by no checkpoint, though "
                    "one is recorded every {every} events: checkpoints were deleted.")
    return Problem(Tampering.UNCOVERED, head.position, None, None,
                   message.format(count=f"{tail:,}", after=after, every=f"{every:,}"))


class _Checkpoints:
    """The checkpoints met while walking, checked against the chain as it passes them."""

    def __init__(self, rows: ChainRows, settings: ChainSettings, stop: int,
                 kept: tuple[int, str] | None) -> None:
        self.settings = settings
        self._next = iter(_pages(rows.checkpoints, -1, stop, lambda c: c.position))
        self.pending = next(self._next, None)
        self.latest: Checkpoint | None = None
        self.trusted: Checkpoint | None = None
        self.built: Checkpoint | None = None
        self.kept = kept
        self.kept_matched = False

    def passing(self, link: Link) -> Problem | None:
        """Check every checkpoint at or before ``link`` (the last link checked)."""
        while self.pending is not None and self.pending.position <= link.position:
            checkpoint, self.pending = self.pending, next(self._next, None)
            problem = self._check(checkpoint, link if checkpoint.position == link.position
                                  else None)
            if problem is not None:
                return problem
        if self.kept is not None and not self.kept_matched and self.kept[0] <= link.position:
            position, digest = self.kept
            if position != link.position or link.digest.hex() != digest:
                return Problem(Tampering.CHECKPOINT, position, None, None,
                               _("The store does not match the checkpoint you kept at event "
                                 "{position}: events up to it were rewritten.").format(
                                   position=f"{position:,}"))
            self.kept_matched = True
        return None

    def _check(self, checkpoint: Checkpoint, link: Link | None) -> Problem | None:
        problem = _mismatch(checkpoint, link)
        if problem is not None:
            return problem
        if self.settings.check(checkpoint) is Signature.INVALID:
            return Problem(Tampering.CHECKPOINT, checkpoint.position, None, None,
                           _("The checkpoint at event {position} ({when}) has a signature that "
                             "does not verify with the signing key (it names key {key}): it "
                             "was forged or altered, or signed with a key not given (keep old "
                             "keys after the new one in {setting}).").format(
                               position=f"{checkpoint.position:,}", when=_when(checkpoint),
                               key=checkpoint.key_id, setting=SIGNING_KEY_SETTING))
        if self.built is None and self.latest is None and \
                checkpoint.kind is CheckpointKind.BUILT:
            self.built = checkpoint
        self.latest = checkpoint
        if self.settings.trusted(checkpoint):
            self.trusted = checkpoint
        return None

    def beyond(self, last: Link) -> Problem | None:
        """A checkpoint (or the kept one) past the last event: the newest were deleted."""
        if self.pending is not None:
            position = self.pending.position
            message = _("The store ends at event {last}, but a checkpoint covers events up to "
                        "{position}: the newest events were deleted with their links.")
        elif self.kept is not None and not self.kept_matched:
            position = self.kept[0]
            message = _("The store ends at event {last}, but the checkpoint you kept covers "
                        "events up to {position}: the newest events were deleted with their "
                        "links.")
        else:
            return None
        return Problem(Tampering.DELETED, position, None, None,
                       message.format(last=f"{last.position:,}", position=f"{position:,}"))


def verify(rows: ChainRows, settings: ChainSettings,
           expect: str | Checkpoint | None = None) -> Verification:
    """Check every event against the chain, and every checkpoint against the chain and its
    signature; ``expect`` is a checkpoint's reference kept outside the store (or the
    checkpoint)."""
    kept = parse_reference(expect) if expect is not None else None
    state = rows.state()
    stop = state.stop
    checkpoints = _Checkpoints(rows, settings, max(stop, state.checkpoints_max), kept)
    last, count = START, 0
    problem = checkpoints.passing(START)
    if problem is None:
        for item in walk(rows, START, stop):
            if isinstance(item, Problem):
                problem = item
                break
            last, count = item, count + 1
            problem = checkpoints.passing(item)
            if problem is not None:
                break
    if problem is None:
        problem = checkpoints.beyond(last) or _uncovered(checkpoints.trusted, last, settings)
    latest = checkpoints.latest
    return Verification(
        events_checked=count, head=last.position, checkpoint=latest,
        signature=settings.check(latest) if latest is not None else Signature.ABSENT,
        problem=problem, built=checkpoints.built,
        trusted=checkpoints.trusted,
        kept=f"{kept[0]}:{kept[1]}" if kept is not None and checkpoints.kept_matched else None)


# Writing the chain -----------------------------------------------------------------------


def _anchor(state: ChainState,
            settings: ChainSettings) -> tuple[Checkpoint | None, str | None]:
    """The latest trusted checkpoint (None: the start), or why there is none to trust
    (``state`` read with ``signed=settings.signing``)."""
    latest = state.latest
    if latest is not None and not settings.trusted(latest):
        return None, _("the latest signed checkpoint (at event {position}) does not verify "
                       "with the signing key").format(position=f"{latest.position:,}")
    return latest, None


class ChainWarnings:
    """Why a writer recorded no checkpoint that was due: logged the first time only (it
    stays so at every insert until someone looks; ``resilience verify`` says the rest)."""

    def __init__(self) -> None:
        self.said = False

    def warn(self, why: str) -> None:
        if not self.said:
            self.said = True
            _log.warning("no checkpoint recorded: %s; run resilience verify", why)


def extend(rows: ChainWriter, settings: ChainSettings, state: ChainState,
           events: Sequence[StoredEvent], positions: Sequence[int],
           warnings: ChainWarnings) -> tuple[list[Link], Checkpoint | None]:
    """The links of new events (at ``positions``, ascending, past everything stored) and
    the checkpoint that falls due with them (with a key: if the chain since the trusted
    one holds).

    Raises TamperedStoreError when a position is not past the chain's head (on
    PostgreSQL: the id sequence was set back by hand), recording nothing.
    """
    head = state.head or START
    if not events:  # a save with nothing new (a repeated command): nothing to chain
        return [], None
    if positions[0] <= head.position:
        raise TamperedStoreError(
            _("the store hands out notification id {id}, but the hash chain already reaches "
              "{position}: it was tampered with; nothing was recorded (resilience verify "
              "names what changed)").format(id=f"{positions[0]:,}",
                                            position=f"{head.position:,}"))
    links = chain_links(head, positions, events)
    previous = links[-1]
    anchor, distrust = _anchor(state, settings)
    since = anchor.events if anchor is not None else 0
    if previous.seq - since < min(settings.every, bound(anchor, settings)):
        return links, None
    if settings.signing:
        # Never sign what was not checked, nor over signed checkpoints gone missing.
        # Without a key neither would prove anything: an unsigned checkpoint vouches
        # only for the chain's links (verification checks each event against its link
        # whatever the checkpoints say), and anyone can write one.
        why = distrust or _unsignable(rows, anchor, head, positions[0] - 1, settings)
        if why is not None:
            warnings.warn(why)
            return links, None
    return links, settings.sign(_checkpoint_at(previous, settings, CheckpointKind.INTERVAL))


def _unsignable(rows: ChainRows, anchor: Checkpoint | None, head: Link, stop: int,
                settings: ChainSettings) -> str | None:
    """Why the chain up to ``stop`` may not be signed, if it may not."""
    since = anchor.events if anchor is not None else 0
    if head.seq - since >= bound(anchor, settings):
        return _("{count} events already followed the latest signed checkpoint (one is due "
                 "every {every})").format(count=f"{head.seq - since:,}",
                                          every=f"{bound(anchor, settings):,}")
    problem, _last = segment(rows, anchor, stop)
    return None if problem is None else _("the chain does not hold: {problem}").format(
        problem=problem)


def _checkpoint_at(link: Link, settings: ChainSettings | None,
                   kind: CheckpointKind) -> Checkpoint:
    return Checkpoint(link.position, link.seq, link.digest.hex(), datetime.now(UTC),
                      settings.every if settings is not None else None, kind)


def build(rows: ChainWriter) -> Checkpoint | None:
    """Link every event a store holds (one recorded before it had a chain), in pages, and
    record where the chain was built (unsigned: see :class:`CheckpointKind`). Runs in the
    transaction that creates the chain's tables, holding the events' write lock."""
    previous = START
    stop = rows.state().events_max
    while True:
        page = rows.events(previous.position, stop, PAGE)
        links = []
        for event in page:
            previous = chained(previous, event.id, event)
            links.append(previous)
        rows.add_links(links)
        if len(page) < PAGE:
            break
    if previous.seq == 0:
        return None
    checkpoint = _checkpoint_at(previous, None, CheckpointKind.BUILT)
    rows.add_checkpoint(checkpoint)
    return checkpoint


def record_checkpoint(recorder: ChainedRecorder) -> Checkpoint:
    """Check the chain since the trusted checkpoint (without holding the write lock), then,
    holding it, the few events recorded meanwhile, and record a checkpoint at the head,
    signed with a key. TamperedStoreError, recording nothing, if the chain does not hold."""
    settings = recorder.chain_settings
    reader = recorder.chain_reader()
    state = reader.state(signed=settings.signing)
    anchor, distrust = _anchor(state, settings)
    if distrust is not None:
        raise TamperedStoreError(_("no checkpoint recorded: {why} (resilience verify)").format(
            why=distrust))
    problem, checked = segment(reader, anchor, state.stop)
    with recorder.chain_writer() as rows:
        if problem is None:
            # What was checked must still be there, and what came since must hold too.
            again = Checkpoint(checked.position, checked.seq, checked.digest.hex(),
                               datetime.now(UTC), None, CheckpointKind.REQUESTED)
            problem, checked = segment(rows, again, rows.state().stop)
        if problem is not None:
            raise TamperedStoreError(_("no checkpoint recorded: {problem} (resilience verify "
                                       "names every problem)").format(problem=problem))
        checkpoint = settings.sign(_checkpoint_at(checked, settings, CheckpointKind.REQUESTED))
        rows.add_checkpoint(checkpoint)
    return checkpoint
