"""One background loop, shared by the views' follower (resilience.projections.runner) and a
subscription's deliverer (resilience.services.notifications).

``Background`` runs ``step()`` in a daemon thread until ``stop()``: a step that fails is
kept in ``error``, counted in ``failures`` and retried after ``pause()`` (``interval``
doubled per failure in a row, ten times at most, and at most ``max(interval, 2)``
seconds); the failure is reported (``failed``) when it begins and then at most every
REPORT_EVERY seconds, and once a step succeeds again (``recovered``). Should the thread
itself stop on an error, ``running`` turns False and ``error`` keeps it (``died``).

``pause(seconds)`` is a sleep that a stop cuts short: called from a loop's thread it
raises ``Stopped`` as soon as the loop is told to stop (elsewhere it is ``time.sleep``).
A webhook pauses with it between attempts, so a deliverer stops without waiting out a
retry's backoff.
"""

import threading
import time
from types import TracebackType
from typing import Self

_local = threading.local()


class Stopped(Exception):
    """The background loop was told to stop during a ``pause``."""


def pause(seconds: float) -> None:
    """Sleep ``seconds``; in a background loop's thread, Stopped as soon as it stops."""
    stopping: threading.Event | None = getattr(_local, "stopping", None)
    if stopping is None:
        time.sleep(seconds)
    elif stopping.wait(seconds):
        raise Stopped("stopped during a pause")


class Background:
    """A daemon thread repeating ``step()`` (see the module docstring). A subclass sets up
    what its step needs, then calls ``start()``."""

    REPORT_EVERY = 60.0
    """Seconds between reports while failures go on."""
    THREAD = "resilience-background"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.error: BaseException | None = None
        self.failures = 0
        self.failing_since: float | None = None
        """When (``time.time()``) the failures in a row began; None while all is well."""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.THREAD, daemon=True)

    def start(self) -> None:
        self._thread.start()

    # What a subclass gives -------------------------------------------------------------

    def step(self) -> bool:
        """One attempt; True when there is more to do at once (no pause before the next)."""
        raise NotImplementedError

    def failed(self, exc: Exception, first: bool) -> None:
        """Report a failure: the first of a run (``first``), or a reminder."""

    def recovered(self) -> None:
        """Report that a step succeeded after ``failures`` failed ones."""

    def died(self, exc: BaseException) -> None:
        """Report that the thread stopped on ``exc`` (a fault of this library)."""

    def idle(self) -> None:
        """Wait between successful steps with nothing more to do: ``interval`` seconds."""
        self._stopping.wait(self.interval)

    # The loop ---------------------------------------------------------------------------

    def pause(self) -> float:
        """Seconds to wait before the next attempt after ``failures`` failed ones in a row:
        ``interval`` doubled per failure, ten times at most (an interval of 2 ms or more
        reaches the cap before), and at most ``max(interval, 2)``. Doubling without end
        would overflow a float after 1,024 failures, an outage of about half an hour."""
        return min(self.interval * 2.0 ** min(self.failures, 10), max(self.interval, 2.0))

    def _run(self) -> None:
        _local.stopping = self._stopping
        try:
            self._follow()
        except BaseException as exc:  # kept and reported: a thread's death is silent
            self.error = exc
            self.died(exc)

    def _follow(self) -> None:
        reported = 0.0
        while not self._stopping.is_set():
            try:
                more = self.step()
            except Exception as exc:  # reported, kept and retried: the loop carries on
                if self._stopping.is_set():
                    break  # cut short by stop (Stopped, or what stopping caused)
                self.error = exc
                self.failures += 1
                now = time.time()
                if self.failures == 1:
                    self.failing_since = reported = now
                    self.failed(exc, True)
                elif now - reported >= self.REPORT_EVERY:
                    reported = now
                    self.failed(exc, False)
                self._stopping.wait(self.pause())
                continue
            if self.failures:
                self.recovered()
            self.error = self.failing_since = None
            self.failures = 0
            if not more:
                self.idle()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
