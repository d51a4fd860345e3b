"""Subcommands: notifications: the watch loop and its webhook's dead letters (issue 13,
part 2).

``resilience watch`` runs rounds until SIGINT or SIGTERM (or one, ``--once``): each
catches the views up, ticks (``engine.tick()``: the escalations due now are recorded)
and, with ``--webhook``, delivers the webhook subscription's notices. A round that fails
(the store unavailable, the webhook's handler stopped) is reported on stderr and
retried with backoff; a signal ends the loop between rounds, or in a webhook's pause
between attempts (the notice in flight is given again next time). The secret is read
from an environment variable, never from the command line (where ``ps`` shows it).
"""

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from resilience.adapters.store import describe
from resilience.adapters.webhooks import Webhook, shown_url
from resilience.cli.common import Command, _existing
from resilience.engine import Engine
from resilience.errors import InvalidInputError
from resilience.projections.runner import check_interval
from resilience.services.deadlines import Tick
from resilience.services.notifications import Subscription

REPORT_EVERY = 60.0
"""Seconds between reports while rounds keep failing."""


class _Stopping(Exception):
    """A signal arrived during a webhook's pause: the round ends, the notice not taken."""


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
    watch = command("watch", "keep the views caught up, raise due escalations (tick) and "
                    "deliver notices to a webhook, until SIGINT/SIGTERM", _watch)
    watch.add_argument("--interval", type=float, default=5.0,
                       help="seconds between rounds (default 5; on PostgreSQL new events "
                            "wake the webhook's delivery sooner)")
    _webhook_options(watch)
    watch.add_argument("--kinds", nargs="+", metavar="KIND",
                       help="deliver only these kinds of notice (default: all)")
    watch.add_argument("--once", action="store_true", help="one round, then exit")
    hooks = command("webhooks", "a webhook subscription's dead letters: list them, or "
                    "deliver them again", _webhooks)
    actions = hooks.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("dead-letters", help="list the notices given up on")
    listing.add_argument("--name", default="webhook",
                         help="the subscription's name (default webhook)")
    again = actions.add_parser("redeliver", help="POST the dead letters again; those "
                               "taken are no longer dead letters")
    _webhook_options(again)
    again.add_argument("--key", help="only this notice's dead letter")


def _webhook_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webhook", metavar="URL", help="POST each notice to this URL")
    parser.add_argument("--secret-env", metavar="VAR",
                        help="environment variable holding the webhook's signing secret")
    parser.add_argument("--name", default="webhook",
                        help="the subscription's name: where its position and dead letters "
                             "are kept (default webhook)")
    parser.add_argument("--attempts", type=int, default=5,
                        help="POSTs per notice before it becomes a dead letter (default 5)")


def _webhook(args: argparse.Namespace, sleep: Callable[[float], None]) -> Webhook | None:
    if args.webhook is None:
        if args.secret_env is not None:
            raise InvalidInputError("--secret-env goes with --webhook")
        return None
    if args.secret_env is None:
        raise InvalidInputError("--webhook needs --secret-env VAR: the environment variable "
                                "holding its signing secret")
    secret = os.environ.get(args.secret_env)
    if not secret:
        raise InvalidInputError(f"the environment variable {args.secret_env} (--secret-env) "
                                "is not set, or empty")
    return Webhook(args.webhook, secret, attempts=args.attempts, sleep=sleep)


@contextmanager
def _signals(stop: threading.Event, wake: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (and ``wake``) instead of interrupting, inside."""

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()
        wake()

    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch(args: argparse.Namespace) -> int:
    interval = check_interval(args.interval)
    stop = threading.Event()

    def pause(seconds: float) -> None:
        if stop.wait(seconds):
            raise _Stopping

    hook = _webhook(args, pause)
    if hook is None and args.kinds is not None:
        raise InvalidInputError("--kinds goes with --webhook")
    _log_on_stderr()
    with _existing(args.db, fresh_views=False) as engine:
        subscription = (None if hook is None else
                        engine.subscribe(args.name, hook, kinds=args.kinds))
        if args.once:
            _round(engine, subscription)
            return 0
        where = "" if hook is None else f"; notices to {shown_url(hook.url)}"
        print(f"watching every {interval:g} s{where}; Ctrl-C stops", flush=True)
        wakeup = engine.notifications.wakeup()
        try:
            with _signals(stop, wakeup.set):
                _rounds(engine, subscription, interval, stop, wakeup.wait)
        finally:
            wakeup.close()
    print("watch stopped", flush=True)
    return 0


def _rounds(engine: Engine, subscription: Subscription | None, interval: float,
            stop: threading.Event, wait: Callable[[float], Any]) -> None:
    failures, reported = 0, 0.0
    while not stop.is_set():
        try:
            _round(engine, subscription)
        except _Stopping:
            return
        except Exception as exc:  # reported and retried: the watch carries on
            failures += 1
            now = time.monotonic()
            if failures == 1 or now - reported >= REPORT_EVERY:
                reported = now
                print(f"resilience: watch round failed ({failures} in a row): "
                      f"{describe(exc)}; retrying", file=sys.stderr, flush=True)
            stop.wait(min(interval * 2.0 ** min(failures, 10), max(interval, 60.0)))
            continue
        if failures:
            print(f"watch resumed after {failures} failed rounds", flush=True)
            failures = 0
        wait(interval)


def _round(engine: Engine, subscription: Subscription | None) -> None:
    """Catch the views up, tick, deliver: printing what each did, if anything."""
    engine.views.catch_up()
    _print_tick(engine.tick())
    if subscription is not None:
        delivered = subscription.deliver()
        if delivered:
            print(f"delivered {delivered} notice{'s' * (delivered != 1)} "
                  f"(position {subscription.position})", flush=True)


def _print_tick(tick: Tick) -> None:
    for raised in tick.raised:
        told = ", ".join(
            f"{n.role.value if n.role is not None else n.body} {n.person_id or '(nobody)'}"
            for n in raised.notified) or "nobody"
        print(f"{tick.at.isoformat(timespec='seconds')} escalated {raised.subject} "
              f"{raised.case_id}: {raised.deadline} level {raised.level} (due "
              f"{raised.due_at.isoformat(timespec='seconds')}); notified {told}", flush=True)


def _log_on_stderr() -> None:
    """The notifications' and views' log lines (dead letters, outages) on stderr, unless
    the app configured logging itself."""
    if logging.getLogger().handlers:
        return
    for name in ("resilience.notifications", "resilience.views"):
        log = logging.getLogger(name)
        if not log.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("resilience: %(message)s"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)


def _webhooks(args: argparse.Namespace) -> int:
    if args.action == "redeliver":
        hook = _webhook(args, time.sleep)
        if hook is None:
            raise InvalidInputError("redeliver needs --webhook URL and --secret-env VAR")
        with _existing(args.db, fresh_views=False) as engine:
            subscription = engine.subscribe(args.name, hook)
            before = len(subscription.dead_letters())
            taken = subscription.redeliver(args.key)
            left = len(subscription.dead_letters())
        print(f"redelivered {taken} of {before if args.key is None else 1}; {left} dead "
              f"letter{'s' * (left != 1)} left")
        return 0
    with _existing(args.db, fresh_views=False) as engine:
        letters = engine.subscribe(args.name, lambda notice: None).dead_letters()
    if not letters:
        print(f"{args.name}: no dead letters")
        return 0
    rows = [("position", "key", "kind", "attempts", "failed at", "error")]
    for letter in letters:
        rows.append((str(letter.position), letter.key, letter.kind, str(letter.attempts),
                     letter.failed_at.isoformat(timespec="seconds"), letter.error))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[-1])
    print(f"{len(letters)} dead letter{'s' * (len(letters) != 1)} of {args.name}")
    return 0
