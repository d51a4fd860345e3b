"""A hash chain over the stored events, with checkpoints: a record nobody can quietly rewrite.

The rule. Events are linked in notification order::

    link_0 = SHA-256("resilience chain v1")
    link_n = SHA-256(link_n-1 ‖ n ‖ originator id ‖ version ‖ topic ‖ state)

where ``n`` is the event's notification id, every number is 8 bytes big-endian
and every text or byte string is preceded by its length (so no two different
events hash the same bytes). The state is hashed as stored, compressed and
encrypted when the store is: the chain is checked without the cipher key. A
link row also keeps the event's place in the chain (``seq``: 1, 2, 3, ... with
no gaps, where notification ids may have gaps) and its originator id and
version, so that a deleted event can be named.

Who writes links. The events recorder (resilience.adapters.chain_recorders,
chain_postgres) in the transaction that inserts the events, under the lock
eventsourcing already takes for inserts: SQLite's write lock, held from BEGIN;
PostgreSQL's ``LOCK TABLE ... IN EXCLUSIVE MODE``; the memory store's lock. So
links follow notification order however many processes write.

Checkpoints. A checkpoint records a position, the number of events up to it,
the link there, when, the interval in force (``every``,
``RESILIENCE_CHECKPOINT_EVERY``, default 1000) and how it came about
(:class:`CheckpointKind`); with a signing key (``RESILIENCE_SIGNING_KEY``, never
in the database) also an HMAC-SHA256 signature over all of that. When they are
written and how the chain is checked: resilience.adapters.chain_checks. This
module holds the rule, the values it produces (checkpoints, problems, the
verification) and what a store provides to keep a chain.
"""

import hashlib
import hmac
import struct
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NamedTuple, Protocol

from attrs import evolve, field, frozen
from eventsourcing.persistence import Notification, StoredEvent

from resilience.errors import ConfigurationError, InvalidInputError, TamperedStoreError
from resilience.i18n import _

CHECKPOINT_EVERY_SETTING = "RESILIENCE_CHECKPOINT_EVERY"
SIGNING_KEY_SETTING = "RESILIENCE_SIGNING_KEY"
DEFAULT_EVERY = 1000
"""Events between interval checkpoints (``RESILIENCE_CHECKPOINT_EVERY``)."""
MAX_EVERY = 1_000_000_000
MIN_KEY_LENGTH = 16
PAGE = 1000
"""Events (and links, and checkpoints) read at a time: verification holds one page of each."""

GENESIS = hashlib.sha256(b"resilience chain v1").digest()
_NUMBER = struct.Struct(">q")


def link_digest(previous: bytes, position: int, originator_id: str, version: int, topic: str,
                state: bytes) -> bytes:
    """The link of the event at ``position`` after the link ``previous`` (the module's rule)."""
    originator = originator_id.encode("utf-8", "surrogatepass")
    name = topic.encode("utf-8", "surrogatepass")
    return hashlib.sha256(b"".join((
        previous, _NUMBER.pack(position),
        _NUMBER.pack(len(originator)), originator, _NUMBER.pack(version),
        _NUMBER.pack(len(name)), name, _NUMBER.pack(len(state)), state,
    ))).digest()


class Link(NamedTuple):
    """One row of the chain: the event at ``position`` is the ``seq``-th event chained."""

    position: int
    seq: int
    originator_id: str
    version: int
    digest: bytes


START = Link(0, 0, "", 0, GENESIS)
"""Where every chain starts: before the first event."""


def chained(previous: Link, position: int, event: StoredEvent) -> Link:
    """The link row of ``event``, recorded at ``position`` after ``previous``."""
    originator = str(event.originator_id)
    return Link(position, previous.seq + 1, originator, event.originator_version,
                link_digest(previous.digest, position, originator, event.originator_version,
                            event.topic, event.state))


def chain_links(previous: Link, positions: Sequence[int],
                events: Sequence[StoredEvent]) -> list[Link]:
    """The links of ``events`` recorded at ``positions`` after ``previous``: ``chained``
    over each in turn, the same bytes hashed. A batch holds many events of few
    aggregates and topics, so each originator's and topic's length-prefixed bytes are
    worked out once here rather than once per event (the chain is hashed in the insert's
    transaction, under the store's write lock)."""
    links: list[Link] = []
    digest, seq = previous.digest, previous.seq
    originators: dict[Any, tuple[str, bytes]] = {}
    topics: dict[str, bytes] = {}
    pack, sha256, join, make = _NUMBER.pack, hashlib.sha256, b"".join, tuple.__new__
    last_id: Any = None
    originator = ("", b"")
    for position, event in zip(positions, events, strict=True):
        if event.originator_id is not last_id:  # (a batch's events come aggregate by aggregate)
            last_id = event.originator_id
            found = originators.get(last_id)
            if found is None:
                text = str(last_id)
                raw = text.encode("utf-8", "surrogatepass")
                found = originators[last_id] = (text, pack(len(raw)) + raw)
            originator = found
        topic = topics.get(event.topic)
        if topic is None:
            raw = event.topic.encode("utf-8", "surrogatepass")
            topic = topics[event.topic] = pack(len(raw)) + raw
        version, state = event.originator_version, event.state
        seq += 1
        digest = sha256(join((digest, pack(position), originator[1], pack(version), topic,
                              pack(len(state)), state))).digest()
        links.append(make(Link, (position, seq, originator[0], version, digest)))
    return links


# Checkpoints ----------------------------------------------------------------------------


class CheckpointKind(Enum):
    """How a checkpoint came about."""

    INTERVAL = "interval"
    """Recorded by a writer once ``every`` events followed the trusted checkpoint."""
    REQUESTED = "requested"
    """Recorded by ``engine.checkpoint()`` (``resilience checkpoint``)."""
    BUILT = "built"
    """Recorded when the chain was built over the events a store held before it had one."""


class Signature(Enum):
    """What a checkpoint's signature says."""

    VALID = "valid"
    INVALID = "invalid"
    """Signed, but not by the key given (forged, altered, or made with a key not given)."""
    ABSENT = "absent"
    """Not signed (recorded without a key), or no checkpoint at all."""
    UNCHECKED = "unchecked"
    """Signed, but no key was given to check it."""


@frozen
class Checkpoint:
    """The chain at one position, as recorded (and signed, with a key) at a moment.

    ``reference`` (``"POSITION:LINK"``) is what to keep outside the store: give it
    back to ``engine.verify(expect=...)`` (``resilience verify --expect``) to find
    the newest events deleted, which the store alone cannot show.
    """

    position: int
    """Notification id of the last event covered (0: an empty store)."""
    events: int
    """How many events the chain holds up to and including that one."""
    link: str
    """The chain's link there, in hex."""
    recorded_at: datetime
    every: int | None
    """The checkpoint interval in force when it was recorded (None: not known)."""
    kind: CheckpointKind
    key_id: str | None = None
    """Which key signed it (a fingerprint, not the key)."""
    signature: str | None = None

    @property
    def signed(self) -> bool:
        return self.signature is not None

    @property
    def reference(self) -> str:
        return f"{self.position}:{self.link}"

    def message(self) -> bytes:
        """The bytes the signature is over: everything but the signature itself."""
        return "\n".join((
            "resilience checkpoint v1", str(self.position), str(self.events), self.link,
            timestamp(self.recorded_at), str(self.every or ""), self.kind.value,
            self.key_id or "",
        )).encode()

    def __str__(self) -> str:
        signed = f"signed with key {self.key_id}" if self.signed else "not signed"
        return (f"checkpoint at event {self.position:,} ({self.events:,} events, "
                f"{self.kind.value}, {shown(self.recorded_at)}, {signed}): {self.reference}")


def timestamp(moment: datetime) -> str:
    """A checkpoint's time as stored and signed: UTC, to the microsecond."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def shown(moment: datetime) -> str:
    """A checkpoint's time in messages."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def parse_reference(reference: "str | Checkpoint") -> tuple[int, str]:
    """``"POSITION:LINK"`` (a checkpoint's ``reference``, or the checkpoint) as (position,
    link in hex); InvalidInputError for anything else."""
    if isinstance(reference, Checkpoint):
        reference = reference.reference
    if not isinstance(reference, str):
        raise InvalidInputError(
            _("a checkpoint reference is a string POSITION:LINK, got {type}").format(
                type=type(reference).__name__))
    position, _colon, link = reference.strip().partition(":")
    try:
        number = int(position)
        if number < 0 or len(link) != 64:
            raise ValueError(reference)
        bytes.fromhex(link)
    except ValueError:
        raise InvalidInputError(_("a checkpoint reference is POSITION:LINK (a number, a colon "
                                  "and 64 hex digits), got {value}").format(
            value=repr(reference))) from None
    return number, link.lower()


def _key_id(key: bytes) -> str:
    return hmac.new(key, b"resilience signing key id", hashlib.sha256).hexdigest()[:16]


@frozen
class ChainSettings:
    """How a store's chain is kept: the checkpoint interval and the signing keys.

    ``RESILIENCE_SIGNING_KEY`` holds one key, or several separated by spaces: the
    first signs, every one verifies (to change keys, put the new one first and keep
    the old ones after it for as long as their checkpoints are to be checked).
    """

    every: int = DEFAULT_EVERY
    keys: tuple[bytes, ...] = field(default=(), repr=False)  # never printed

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ChainSettings":
        """The settings in eventsourcing's environment (``Engine(env=...)``, then the
        process's); ConfigurationError for values that cannot be used."""
        text = env.get(CHECKPOINT_EVERY_SETTING)
        every = DEFAULT_EVERY
        if text is not None:
            try:
                every = int(text)
            except ValueError:
                every = 0
            if not 1 <= every <= MAX_EVERY:
                raise ConfigurationError(_("{setting} must be a whole number of events from 1 "
                                           "to {most}, got {value}").format(
                    setting=CHECKPOINT_EVERY_SETTING, most=f"{MAX_EVERY:,}", value=repr(text)))
        keys = tuple((env.get(SIGNING_KEY_SETTING) or "").split())
        for key in keys:
            if len(key) < MIN_KEY_LENGTH:
                raise ConfigurationError(
                    _("each key in {setting} must be at least {length} characters; make one "
                      "with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
                    .format(setting=SIGNING_KEY_SETTING, length=MIN_KEY_LENGTH))
        return cls(every, tuple(key.encode() for key in keys))

    @property
    def signing(self) -> bool:
        return bool(self.keys)

    def sign(self, checkpoint: Checkpoint) -> Checkpoint:
        """The checkpoint signed with the first key (unchanged without one)."""
        if not self.keys:
            return checkpoint
        unsigned = evolve(checkpoint, key_id=_key_id(self.keys[0]), signature=None)
        mac = hmac.new(self.keys[0], unsigned.message(), hashlib.sha256).hexdigest()
        return evolve(unsigned, signature=mac)

    def check(self, checkpoint: Checkpoint) -> Signature:
        """What the checkpoint's signature says, given these keys."""
        if checkpoint.signature is None:
            return Signature.ABSENT
        if not self.keys:
            return Signature.UNCHECKED
        key = next((k for k in self.keys if _key_id(k) == checkpoint.key_id), None)
        if key is None:
            return Signature.INVALID
        mac = hmac.new(key, checkpoint.message(), hashlib.sha256).hexdigest()
        return Signature.VALID if hmac.compare_digest(mac, checkpoint.signature) else \
            Signature.INVALID

    def trusted(self, checkpoint: Checkpoint) -> bool:
        """Whether a checkpoint vouches for the chain up to it: with keys, only a valid
        signature does (anyone who can write the database can write a checkpoint)."""
        return not self.keys or self.check(checkpoint) is Signature.VALID


def bound(anchor: Checkpoint | None, settings: ChainSettings) -> int:
    """How many events may follow a trusted checkpoint before the next is due: the interval
    it recorded; after the start of the chain, or a checkpoint that recorded none (the one
    made when the chain was built over older events), the interval of these settings."""
    return anchor.every if anchor is not None and anchor.every else settings.every


# Problems and the verification -------------------------------------------------------


class Tampering(Enum):
    """What kind of change verification found."""

    ALTERED = "altered"
    """An event no longer matches its link (or its link was changed)."""
    INSERTED = "inserted"
    """An event the chain never linked, or links added by hand."""
    DELETED = "deleted"
    """An event gone (its link remains, or the chain's count skips it), or the newest
    events gone from under a checkpoint."""
    CHECKPOINT = "checkpoint"
    """A checkpoint that does not match the chain, or whose signature does not verify."""
    UNCOVERED = "uncovered"
    """More events follow the latest trusted checkpoint than its interval allows."""


@frozen
class Problem:
    """The first thing verification found wrong: which event (or checkpoint), and how."""

    kind: Tampering
    position: int
    """Notification id of the event (or the checkpoint's position)."""
    originator_id: str | None
    version: int | None
    message: str

    def __str__(self) -> str:
        return self.message


@frozen
class Verification:
    """The result of checking a store's events against its hash chain and checkpoints."""

    events_checked: int
    """Events whose link was recomputed and matched, before any problem."""
    head: int
    """Notification id of the last event checked (0: none)."""
    checkpoint: Checkpoint | None
    """The latest checkpoint recorded up to the head."""
    signature: Signature
    """What that checkpoint's signature says (ABSENT when there is no checkpoint)."""
    problem: Problem | None
    trusted: Checkpoint | None = None
    """The latest checkpoint that vouches for the chain up to it: with a signing key, the
    latest whose signature is valid; without, the latest (None: none does)."""
    built: Checkpoint | None = None
    """Where the chain was built over events recorded before the store had one: those
    events are vouched for only as they were then."""
    kept: str | None = None
    """The reference of the checkpoint kept outside the store (``expect``), when one was
    given and matched."""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def raise_for_problem(self) -> "Verification":
        """Raise TamperedStoreError naming the problem, if there is one."""
        if self.problem is not None:
            raise TamperedStoreError(str(self))
        return self

    def __str__(self) -> str:
        if self.problem is not None:
            return _("TAMPERED: {problem} {count} events before it verified.").format(
                problem=self.problem, count=f"{self.events_checked:,}")
        text = _("verified: {count} events match the hash chain").format(
            count=f"{self.events_checked:,}")
        if self.checkpoint is None:
            text += _("; no checkpoint yet")
        else:
            text += _("; latest checkpoint at event {position} ({moment}), signature "
                      "{signature}").format(position=f"{self.checkpoint.position:,}",
                                            moment=shown(self.checkpoint.recorded_at),
                                            signature=self.signature.value)
        if self.kept is not None:
            text += _("; matches the kept checkpoint {kept}").format(kept=self.kept)
        if self.built is not None:
            text += _("; the first {count} events were recorded before the chain, which was "
                      "built over them on {moment}").format(
                count=f"{self.built.events:,}", moment=shown(self.built.recorded_at))
        return text + _(".")


# What a store provides -------------------------------------------------------------------


class ChainState(NamedTuple):
    """The ends of a store's chain, events and checkpoints, read at one moment."""

    head: Link | None
    events_max: int
    checkpoints_max: int
    latest: Checkpoint | None
    """The checkpoint at the highest position (of those signed, when asked for signed)."""

    @property
    def stop(self) -> int:
        """The last position anything reaches: the chain's head, or an event past it."""
        return max(self.head.position if self.head else 0, self.events_max)


class ChainRows(Protocol):
    """Reading a store's events, links and checkpoints by position (``after < p <= stop``)."""

    def state(self, signed: bool = False) -> ChainState: ...

    def events(self, after: int, stop: int, limit: int) -> Sequence[Notification]: ...

    def links(self, after: int, stop: int, limit: int) -> Sequence[Link]: ...

    def checkpoints(self, after: int, stop: int, limit: int) -> Sequence[Checkpoint]: ...


class ChainWriter(ChainRows, Protocol):
    """Writing links and checkpoints in a transaction that holds the events' write lock."""

    def add_links(self, links: Sequence[Link]) -> None: ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Record it, replacing one at the same position."""


class ChainedRecorder(Protocol):
    """An events recorder that keeps the chain (memory, SQLite, PostgreSQL)."""

    chain_settings: ChainSettings

    def chain_reader(self) -> ChainRows: ...

    def chain_writer(self) -> AbstractContextManager[ChainWriter]: ...


def open_chain(recorder: Any, env: Mapping[str, str]) -> ChainedRecorder:
    """Give an events recorder the chain settings in ``env``; ConfigurationError if the
    recorder keeps no chain (an ``APPLICATION_RECORDER_TOPIC`` set to another class)."""
    if not hasattr(recorder, "chain_writer"):
        raise ConfigurationError(_("the events recorder {recorder} keeps no hash chain: leave "
                                   "APPLICATION_RECORDER_TOPIC to resilience").format(
            recorder=type(recorder).__qualname__))
    recorder.chain_settings = ChainSettings.from_env(env)
    chained_recorder: ChainedRecorder = recorder
    return chained_recorder
