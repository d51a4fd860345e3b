"""Webhooks: a subscription handler that POSTs each notice, signed, to a URL.

The body is the notice's ``to_dict()`` as JSON (UTF-8), the same bytes on every attempt
(a redelivery reads the notice again from the store: the same bytes, unless a person
named in it was erased meanwhile). Only the body is signed: a receiver dedupes on the
body's ``key``, not on the header. Headers: ``X-Resilience-Key`` (the notice's idempotency key),
``X-Resilience-Kind``, ``X-Resilience-Attempt`` (1, 2, ...: informative, not signed)
and ``X-Resilience-Signature: sha256=<hex>``, the HMAC-SHA256 of the body under the
shared secret. A receiver verifies it over the raw body it received (``verify``), with
a constant-time comparison, before parsing it. A replayed request (a body captured and
sent again) verifies too: it repeats a key, which a receiver acting once per key
ignores, as it ignores the repeats of at-least-once delivery.

Any 2xx answer delivers the notice. Anything else (a refused or reset connection, a
timeout, a 3xx, 4xx or 5xx answer) is retried ``attempts`` times in all, pausing
``backoff`` seconds, doubled after each failure up to ``max_backoff`` (longer when a 429
or 503 answer's ``Retry-After`` asks so, within ``max_backoff``); then the handler raises
``Undeliverable`` and the subscription keeps the notice as a dead letter. Redirects are
not followed: a notice goes to the URL it was given or nowhere. Only the standard library
is used (urllib); proxies come from the environment (``HTTPS_PROXY``, ``NO_PROXY``), as
for any urllib client.

Notices carry residents' personal data, so the URL must be ``https://``: plain
``http://`` is refused unless it goes to this machine (a loopback address or
``localhost``) or the caller opts in (``insecure=True``). A user and password in the URL
are refused too (urllib would not send them): put a token in the URL's query, which
messages never show, or rely on the signature.
"""

import hashlib
import hmac
import http.client
import ipaddress
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from resilience.adapters.background import pause
from resilience.adapters.subscriptions import Undeliverable
from resilience.adapters.viewstore import dumps
from resilience.domain.validation import check_instance, check_text, check_wait, check_whole
from resilience.errors import InvalidInputError
from resilience.i18n import _

SIGNATURE = "X-Resilience-Signature"
KEY = "X-Resilience-Key"
KIND = "X-Resilience-Kind"
ATTEMPT = "X-Resilience-Attempt"
READ_AT_MOST = 4096
"""Bytes of an answer's body read (the rest is not waited for: the body is not used)."""


class Deliverable(Protocol):
    """What a webhook sends: a notice (resilience.services.notices.Notice)."""

    @property
    def key(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def to_dict(self, *, personal: bool = True) -> Mapping[str, Any]: ...


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` (the header's value, None if absent) signs ``body`` under
    ``secret``: what a receiver checks before it trusts a request. False, never an
    error, for a missing, non-ASCII or malformed header."""
    if not isinstance(signature, str | bytes) or not isinstance(body, bytes | bytearray):
        return False
    given = (signature.encode("utf-8", "surrogateescape") if isinstance(signature, str)
             else signature)
    return hmac.compare_digest(sign(secret, bytes(body)).encode("ascii"), given)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other non-2xx: not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Failed(Exception):
    """One attempt failed: why, and how long the server asked us to wait (if it did)."""

    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    if error.code not in (429, 503):
        return None
    value = error.headers.get("Retry-After") if error.headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the usual backoff applies


def shown_url(url: str) -> str:
    """A URL as messages show it: without its user, password, query or fragment (they
    may hold credentials). Never raises (whatever the URL)."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "(a malformed URL)"
    host = parts.netloc.rpartition("@")[2]  # IPv6 brackets and the port kept as given
    return f"{parts.scheme}://{host}{parts.path}"


def _local(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost`` or a loopback address."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, insecure: bool = False) -> str:
    """``url`` if a webhook may POST to it (see the module docstring); InvalidInputError
    otherwise."""
    check_text(url, "url", 2000)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as exc:
        raise InvalidInputError(_("a webhook's url is malformed ({error}): {url}").format(
            error=exc, url=repr(shown_url(url)))) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            _("a webhook's url must be http:// or https:// with a host, got {url}").format(
                url=repr(shown_url(url))))
    if parts.username is not None or parts.password is not None:
        raise InvalidInputError(_("a webhook's url must not hold a user or password (they "
                                  "would not be sent): {url}; put a token in its query, or "
                                  "rely on the signature").format(url=repr(shown_url(url))))
    if parts.scheme == "http" and not insecure and not _local(parts.hostname):
        raise InvalidInputError(_("a webhook's url must be https:// (notices carry personal "
                                  "data): {url}; plain http:// only to this machine, or with "
                                  "insecure=True (--insecure)").format(url=repr(shown_url(url))))
    return url


class Webhook:
    """A subscription handler POSTing each notice to ``url``, signed with ``secret``
    (see the module docstring): ``engine.subscribe("app", Webhook(url, secret))``.

    ``attempts`` (1 to 100) tries in all before the notice becomes a dead letter;
    ``backoff`` seconds before the second, doubled each time up to ``max_backoff``;
    ``timeout`` seconds per attempt (connecting, waiting for the answer, and reading at
    most READ_AT_MOST bytes of it within that deadline); ``sleep`` pauses between attempts
    (default: resilience.adapters.background's ``pause``, ``time.sleep`` cut short when a
    deliverer stops; a test passes its own). ``insecure=True`` allows plain ``http://``
    to another machine; ``personal=False`` sends each notice with the fact's declared
    personal values hidden (``notice.to_dict(personal=False)``). InvalidInputError for a
    URL that is not http(s) with a host (or with a bad port, a user or password, or plain
    http refused), an empty secret, or numbers out of range.
    """

    def __init__(self, url: str, secret: str | bytes, *, attempts: int = 5,
                 backoff: float = 1.0, max_backoff: float = 60.0, timeout: float = 10.0,
                 sleep: Callable[[float], None] = pause, insecure: bool = False,
                 personal: bool = True) -> None:
        check_instance(insecure, "insecure", bool)
        check_instance(personal, "personal", bool)
        self.personal = personal
        check_url(url, insecure)
        if isinstance(secret, str):
            secret = check_text(secret, "secret", 1000).encode("utf-8")
        check_instance(secret, "secret", bytes)
        if not secret:
            raise InvalidInputError(_("a webhook's secret must not be empty"))
        if not callable(sleep):
            raise InvalidInputError(_("sleep must be a function of a number of seconds"))
        self.url = url
        self._secret = secret
        self.attempts = check_whole(attempts, "attempts", 1, 100)
        self.backoff = check_wait(backoff, "backoff")
        self.max_backoff = check_wait(max_backoff, "max_backoff")
        self.timeout = check_wait(timeout, "timeout")
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __repr__(self) -> str:
        return f"Webhook({shown_url(self.url)!r})"  # never the secret, nor the URL's query

    def body(self, notice: Deliverable) -> bytes:
        """The bytes POSTed for ``notice``: its ``to_dict()`` as JSON."""
        data = notice.to_dict() if self.personal else notice.to_dict(personal=False)
        return dumps(dict(data)).encode("utf-8")

    def __call__(self, notice: Deliverable) -> None:
        """POST the notice until it is taken; Undeliverable after ``attempts`` failures."""
        body = self.body(notice)
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "resilience-webhook", KEY: notice.key, KIND: notice.kind,
                   SIGNATURE: sign(self._secret, body)}
        pause = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                self._post(body, {**headers, ATTEMPT: str(attempt)})
                return
            except _Failed as failure:
                if attempt == self.attempts:
                    raise Undeliverable(f"{shown_url(self.url)}: {failure} (after "
                                        f"{attempt} attempts)", attempts=attempt) from None
                wait = max(pause, failure.retry_after or 0.0)
                self._sleep(min(wait, self.max_backoff))
                pause = min(pause * 2, self.max_backoff)

    def _post(self, body: bytes, headers: dict[str, str]) -> None:
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            deadline = time.monotonic() + self.timeout
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
                # The answer is not used: read a little of it, so the connection ends
                # cleanly for servers that wait for it, within the attempt's deadline.
                read = 0
                while read < READ_AT_MOST and time.monotonic() < deadline:
                    chunk = response.read1(READ_AT_MOST - read)
                    if not chunk:
                        break
                    read += len(chunk)
        except urllib.error.HTTPError as error:
            with error:
                raise _Failed(f"HTTP {error.code} {error.reason}",
                              _retry_after(error)) from None
        except urllib.error.URLError as error:
            raise _Failed(f"cannot connect: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:  # timeouts, resets
            raise _Failed(f"{type(error).__name__}: {error}".rstrip(": ")) from None
        if not 200 <= status < 300:
            raise _Failed(f"HTTP {status}")
