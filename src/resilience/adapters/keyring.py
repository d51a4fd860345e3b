"""The crypto of a protected store: its derived keys, each subject's key, the envelopes.

The tables the keys live in, and how a store is opened, are in
resilience.adapters.keystore (whose docstring says what is kept where); this module
needs the crypto extra (``cryptography``) and is imported only when protection is on.

From the store key (CIPHER_KEY), HKDF-SHA256 derives one key per purpose: ``key
wrapping`` (each subject's key is stored sealed under it, bound to its key id),
``subject index`` (the table names a subject by an HMAC under it), ``views`` (every view
document is sealed under it, bound to its view and key), ``snapshots`` (each section of
a snapshot, resilience.adapters.snapshots) and ``verifier``. Everything is
sealed with AES-GCM and a random 96-bit nonce: nonce, then ciphertext and tag. Random
nonces under one key are safe for about 2**32 seals (the chance of a repeat stays below
2**-32); the views key, which seals every view document written, is the one that could
get there (docs/security.md gives the budget).

Whatever does not open is a documented error that shows nothing of what was sealed: a
view document, TamperedStoreError (altered or copied between rows: rebuild the views); a
subject's wrapped key, TamperedStoreError (the key table was altered); an envelope, an
error the mapper turns into UnreadableEventError naming the event and the path.

**An envelope** is what a personal value is stored as, inside the event's JSON:
``{"$k": key id, "$v": base64 of the sealed UTF-8 text}``, bound to its key id and the
path of its field in the event (moved to another field, it does not open; envelopes
sealed before they were bound to their path, by development builds of this version,
still open bound to the key id alone); an identifier (a field whose
name ends in ``_id``: a resident's, a household's) also carries ``"$t"``, a tag that is
equal for equal values of one subject (an HMAC under a key of the subject's). Opened
once the subject's key is deleted, an envelope reads ``ERASED`` ("[erased]"); an
identifier reads ``"[erased <tag>]"``, so the facts of one erased resident still match
each other (a consent request and its answer) and no one else's.
"""

import hashlib
import hmac
import secrets
import threading
import time
from base64 import b64decode, b64encode
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from resilience.adapters.keystore import VERIFIER, KeyTable, new_key_id
from resilience.errors import ProtectedStoreError, TamperedStoreError
from resilience.i18n import _

ERASED = "[erased]"
"""What a personal text reads once its subject's key is deleted."""
FRESH_FOR = 1.0
"""Seconds a ring trusts the keys it unwrapped before it looks for erasures made elsewhere."""
_CHECK = b"resilience: a protected store"
_NONCE = 12
_TAG = 9
"""Bytes of an identifier's tag (12 characters of base64): 72 bits, so two values of one
subject practically never share a placeholder once erased."""

Envelope = dict[str, str]


def derive(store_key: bytes, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose``, derived from the store key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"resilience {purpose}".encode()).derive(store_key)


def seal(aead: AESGCM, plain: bytes | memoryview, bound: bytes) -> bytes:
    """``plain`` sealed: a random nonce, then the ciphertext and its tag. ``bound``
    (authenticated, not stored) is what it must be opened with."""
    nonce = secrets.token_bytes(_NONCE)
    return nonce + aead.encrypt(nonce, plain, bound)


def _at_path(key: "Key", path: str) -> bytes:
    """What a value kept at ``path`` under ``key`` is bound to: the key id and the path."""
    return key.bound + b"\x00" + path.encode("utf-8")


def unseal(aead: AESGCM, sealed: bytes | memoryview, bound: bytes) -> bytes:
    """What ``seal`` sealed; InvalidTag if the key or ``bound`` is not the one it was
    sealed with, or the bytes were changed."""
    return aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], bound)


class Key(NamedTuple):
    key_id: str
    aead: AESGCM
    tagger: bytes
    """Key of the tags of the subject's identifiers (derived from the subject's key)."""
    bound: bytes
    """What each value sealed under the key is bound to: its key id."""


class Erased(Exception):
    """The subject's key was deleted: nothing new can be sealed under it."""

    def __init__(self, subject: str) -> None:
        super().__init__(subject)
        self.subject = subject


class UnknownKey(Exception):
    """An envelope names a key the store never had (its key table lost, or another store's)."""


class KeyRing:
    """The keys of one protected store: made, found, unwrapped, cached and deleted here.

    Safe to share between threads (an engine's commands and its views follower)."""

    def __init__(self, table: KeyTable, store_key: bytes,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.table = table
        self._wrapping = AESGCM(derive(store_key, "key wrapping"))
        self._index = derive(store_key, "subject index")
        self._views = AESGCM(derive(store_key, "views"))
        self._snapshots = AESGCM(derive(store_key, "snapshots"))
        self._verifier = AESGCM(derive(store_key, "verifier"))
        self._now = now
        self._lock = threading.RLock()
        self._by_subject: dict[str, Key] = {}
        self._by_id: dict[str, Key | None] = {}  # None: erased
        self._gone: set[str] = set()  # subjects found erased
        self._wrapped: dict[str, bytes | None] | None = None  # every key, read at once
        self._tombstones = -1
        self._checked = float("-inf")

    # Opening ---------------------------------------------------------------------------

    def verify(self, first_event: Callable[[], bool | None]) -> None:
        """Check the store key against the verifier row, writing the row on the store's
        first protected opening. A store encrypted before it had a verifier (by an earlier
        version) is checked on its first event instead (``first_event``: whether it opens
        with this key; None: the store has no event yet)."""
        self.table.create()
        found = self.table.find(VERIFIER)
        if found is None:
            if first_event() is False:
                raise ProtectedStoreError(
                    _("the store's events do not open with this CIPHER_KEY: it is the wrong "
                      "key, or the store was written without protection (a store is protected, "
                      "or not, from its first event); nothing was read or written"))
            sealed = seal(self._verifier, _CHECK, VERIFIER.encode())
            found = self.table.claim([(VERIFIER, VERIFIER, sealed)]).get(VERIFIER)
        try:
            opened = None if found is None or found[1] is None else unseal(
                self._verifier, found[1], VERIFIER.encode())
            if opened != _CHECK:
                raise InvalidTag
        except (InvalidTag, ValueError):
            raise ProtectedStoreError(
                _("this CIPHER_KEY is not the key the store is protected with; "
                  "nothing was read or written")) from None
        self.refresh()

    # Values ------------------------------------------------------------------------------

    def seal_value(self, subject: str, text: str, path: str, identifier: bool) -> Envelope:
        """``text`` in an envelope under the subject's key (made now if it has none), bound
        to the key id and ``path`` (where it is kept in the event); Erased if the subject's
        key was deleted."""
        key = self.key_for(subject)
        plain = text.encode("utf-8")
        sealed = seal(key.aead, plain, _at_path(key, path))
        envelope = {"$k": key.key_id, "$v": b64encode(sealed).decode()}
        if identifier:
            tag = hmac.new(key.tagger, plain, hashlib.sha256).digest()[:_TAG]
            envelope["$t"] = b64encode(tag, b"-_").decode()
        return envelope

    def open_value(self, envelope: Any, path: str) -> str:
        """The text in an envelope kept at ``path``, or its placeholder if its key was
        deleted. UnknownKey if the store has no such key; TamperedStoreError if the key
        does not unwrap; InvalidTag or ValueError if the envelope was altered or moved."""
        key = self.key_by_id(envelope["$k"])
        if key is None:
            tag = envelope.get("$t")
            return ERASED if tag is None else f"[erased {tag}]"
        sealed = b64decode(envelope["$v"])
        try:
            return unseal(key.aead, sealed, _at_path(key, path)).decode("utf-8")
        except InvalidTag:
            # Sealed before envelopes were bound to their path (development builds of this
            # version): bound to the key id alone. An envelope bound to its path never
            # opens this way, so moving one is still caught.
            return unseal(key.aead, sealed, key.bound).decode("utf-8")

    # View documents ----------------------------------------------------------------------

    def seal_document(self, text: str, bound: str) -> str:
        """A view document's text sealed under the views key, bound to where it is kept
        (``bound``: its view and key, so a document copied to another row won't open)."""
        return b64encode(seal(self._views, text.encode("utf-8"), bound.encode("utf-8"))).decode()

    def open_document(self, sealed: str, bound: str) -> str:
        """A view document's text; TamperedStoreError, showing nothing of it, if it does
        not open where it is kept (altered, or copied from another row)."""
        try:
            return unseal(self._views, b64decode(sealed), bound.encode("utf-8")).decode("utf-8")
        except (InvalidTag, ValueError):  # ValueError: base64 or UTF-8 that does not decode
            view, _sep, key = bound.partition("\x00")
            raise TamperedStoreError(
                _("the view document {key} of {view} does not open with the views key: it was "
                  "altered, or copied from another row, outside resilience; rebuild the views "
                  "(resilience rebuild) and check the store (resilience verify)").format(
                    key=key, view=view)) from None

    # Snapshots ---------------------------------------------------------------------------

    def seal_snapshot(self, data: bytes | memoryview, bound: bytes) -> bytes:
        """A section of a snapshot (resilience.adapters.snapshots) sealed under the
        snapshots key, bound to where it is kept (``bound``: its snapshot and section)."""
        return seal(self._snapshots, data, bound)

    def open_snapshot(self, sealed: bytes | memoryview, bound: bytes) -> bytes:
        """A snapshot's section; TamperedStoreError if it does not open where it is kept."""
        try:
            return unseal(self._snapshots, sealed, bound)
        except (InvalidTag, ValueError):
            raise TamperedStoreError(
                _("a snapshot does not open with the snapshots key")) from None

    # Keys -------------------------------------------------------------------------------

    def digest(self, subject: str) -> str:
        """How the table names a subject: its HMAC under the index key."""
        return hmac.new(self._index, subject.encode("utf-8"), hashlib.sha256).hexdigest()

    def key_for(self, subject: str) -> Key:
        """The subject's key, made now if it has none; Erased if it was deleted."""
        key = self._by_subject.get(subject)
        if key is None:
            self.prepare([subject])
            key = self._by_subject.get(subject)
            if key is None:
                raise Erased(subject)
        return key

    def prepare(self, subjects: Iterable[str]) -> None:
        """Have the keys of ``subjects`` at hand: those not yet known are found or made in
        one transaction of the key table (one commit for a whole batch's new people, not
        one each). An erased subject is remembered as such (``key_for`` refuses it)."""
        with self._lock:
            wanted = {s for s in subjects if s not in self._by_subject and s not in self._gone}
            while wanted:
                made: dict[str, str] = {}  # digest -> subject
                rows = []
                for subject in wanted:
                    key_id, digest = new_key_id(), self.digest(subject)
                    made[digest] = subject
                    rows.append((key_id, digest, self._wrap(key_id, AESGCM.generate_key(256))))
                found = self.table.claim(rows)
                for digest, subject in made.items():
                    row = found.get(digest)
                    if row is None:
                        continue  # its random key id was another's: tried again
                    wanted.discard(subject)
                    key_id, wrapped = row  # this writer's, or the one that claimed it first
                    if wrapped is None:
                        self._gone.add(subject)
                    else:
                        self._by_subject[subject] = self._by_id[key_id] = self._unwrap(
                            key_id, wrapped)

    def key_by_id(self, key_id: str) -> Key | None:
        """The key an envelope names; None if it was deleted (erased)."""
        try:
            return self._by_id[key_id]
        except KeyError:
            pass
        with self._lock:
            if self._wrapped is None:
                # The first key a reader needs: read them all at once, one query instead of
                # one per person (a rebuild meets them all); each is unwrapped when needed.
                self._wrapped = self.table.load(None)
            if key_id not in self._wrapped:
                self._wrapped.update(self.table.load([key_id]))  # made since
                if key_id not in self._wrapped:
                    raise UnknownKey(key_id)
            wrapped = self._wrapped[key_id]
            key = None if wrapped is None else self._unwrap(key_id, wrapped)
            self._by_id[key_id] = key
            return key

    def _wrap(self, key_id: str, key: bytes) -> bytes:
        return seal(self._wrapping, key, key_id.encode())

    def _unwrap(self, key_id: str, wrapped: bytes) -> Key:
        try:
            key = unseal(self._wrapping, wrapped, key_id.encode())
        except (InvalidTag, ValueError):
            # The store key was checked against the verifier: this row was changed.
            raise TamperedStoreError(_("key {key} of the key store does not open with the "
                                       "store key, which opens the rest: the key table was "
                                       "altered outside resilience").format(key=key_id)) from None
        return Key(key_id, AESGCM(key), hmac.new(key, b"identifier tags", hashlib.sha256).digest(),
                   key_id.encode())

    # Erasing ------------------------------------------------------------------------------

    def erase(self, subject: str) -> None:
        """Delete the subject's key, keeping its tombstone: for every reader of the store
        (those of other processes within ``FRESH_FOR`` seconds, or at their next page)."""
        with self._lock:
            self.table.shred(self.digest(subject), datetime.now(UTC).isoformat())
            self._forget()
            self._tombstones = self.table.tombstones()

    def is_erased(self, subject: str) -> bool:
        found = self.table.find(self.digest(subject))
        return found is not None and found[1] is None

    def refresh(self) -> None:
        """Forget every unwrapped key if a subject was erased since the last look (through
        this ring or any other, in any process): what was erased is never read again."""
        tombstones = self.table.tombstones()
        with self._lock:
            self._checked = self._now()
            if tombstones != self._tombstones:
                self._forget()
                self._tombstones = tombstones

    @property
    def erasures(self) -> int:
        """How many subjects were erased, as of the ring's last look at the key table
        (``fresh``, ``refresh``): a cache of anything read before may be stale when it
        changes."""
        return self._tombstones

    def fresh(self) -> None:
        """``refresh`` if the last look is older than ``FRESH_FOR`` seconds."""
        if self._now() - self._checked > FRESH_FOR:
            self.refresh()

    def _forget(self) -> None:
        self._by_subject.clear()
        self._by_id.clear()
        self._gone.clear()
        self._wrapped = None
