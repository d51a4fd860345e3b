"""Opening a store with protection, or without: the key check before anything is read.

Protection is on when the engine has a cipher (eventsourcing's ``CIPHER_TOPIC`` and
``CIPHER_KEY``): then the mapper gets the store's key ring (resilience.adapters.keyring)
once the key is checked against the store's verifier, and every personal value, and
every view document, is sealed (resilience.adapters.keystore says what is kept where).
Without a cipher the store must not be protected. Either way a wrong or missing key is
ProtectedStoreError, raised before any event or view is read.

The key ring needs the crypto extra, so it is imported only when there is a cipher.
"""

from base64 import b64decode
from typing import TYPE_CHECKING, Any

from eventsourcing.application import Application

from resilience.adapters.keystore import VERIFIER, MemoryKeys, key_table
from resilience.errors import ConfigurationError, ProtectedStoreError
from resilience.i18n import _

if TYPE_CHECKING:
    from resilience.adapters.keyring import KeyRing


def protect(app: Application[Any]) -> "KeyRing | None":
    """Open the key store of a just-made application: with a cipher, give its mapper the
    store's key ring (``mapper.keys``), once the key is checked; without one, make sure
    the store is not protected. ProtectedStoreError, with nothing read, if not."""
    mapper: Any = app.mapper
    table = key_table(app.recorder)
    mapper.keys = None
    if mapper.cipher is None:
        # The verifier row says so; the first event says so too, should that row have been
        # deleted (else an engine without the key would write plain text beside sealed).
        if (not isinstance(table, MemoryKeys) and table.exists() and table.find(VERIFIER)) \
                or not _first_event_is_plain(app):
            raise ProtectedStoreError(
                _("the store is protected: open it with its key (the CIPHER_TOPIC and "
                  "CIPHER_KEY settings); nothing was read"))
        return None
    try:
        from resilience.adapters.keyring import KeyRing
    except ImportError as exc:  # the crypto extra is not installed
        raise ConfigurationError(_("protection needs the crypto extra (pip install "
                                   "'resilience[crypto]'): {error}").format(error=exc)) from None
    ring = KeyRing(table, _store_key(app))

    def first_event_opens() -> bool | None:
        for notification in app.recorder.select_notifications(1, 1):
            try:
                mapper.cipher.decrypt(notification.state)
            except Exception:
                return False
            return True
        return None

    ring.verify(first_event_opens)
    mapper.keys = ring
    return ring


def _first_event_is_plain(app: Application[Any]) -> bool:
    """Whether the store's first event (if any) is JSON text once decompressed: an
    encrypted one is not."""
    compressor = app.mapper.compressor
    for notification in app.recorder.select_notifications(1, 1):
        data = notification.state
        if compressor is not None:
            try:
                data = compressor.decompress(data)
            except Exception:
                return False
        return data[:1] == b"{"
    return True


def _store_key(app: Application[Any]) -> bytes:
    """The store key: CIPHER_KEY's bytes (eventsourcing's cipher has already refused a
    missing or malformed one)."""
    text = app.env.get("CIPHER_KEY")
    if not text:
        raise ConfigurationError(
            _("protection needs the CIPHER_KEY setting beside CIPHER_TOPIC"))
    return b64decode(text)
