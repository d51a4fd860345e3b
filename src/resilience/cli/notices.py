"""Subcommands: notifications: the watch loop and its webhook's dead letters (issue 13,
part 2).

``resilience watch`` runs until SIGINT or SIGTERM (or one round, ``--once``). Two loops
run side by side, each resilience.adapters.background's: the **watch** catches the views
up and ticks (``engine.tick()``: the escalations due now are recorded, under the
``--escalation`` policy if one is given) every ``--interval``; with ``--webhook`` a
**deliverer** (``subscription.follow``) POSTs the subscription's notices in a thread of
its own, so a slow or unreachable webhook never holds up an escalation. A failure of
either is reported on stderr and retried with backoff; a signal stops both (a webhook's
pause between attempts is cut short, and the notice in flight comes again at the next
start). A new subscription starts at the beginning of the log (every notice recorded so
far is POSTed) unless ``--from-now`` starts it at the head. The secret is read from an
environment variable, never from the command line (where ``ps`` shows it). The log lines
of the notifications, the views and the watch (a case it skipped) go to stderr.
"""

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from resilience.adapters.background import Background
from resilience.adapters.webhooks import Webhook, shown_url
from resilience.cli.common import (
    Command,
    _existing,
    _with_escalation,
    add_escalation,
    error_line,
    log_on_stderr,
    told_words,
)
from resilience.engine import Engine
from resilience.errors import InvalidInputError
from resilience.i18n import _, ngettext
from resilience.metrics.tables import render_table, value_text
from resilience.projections.runner import check_interval
from resilience.services.deadlines import Tick
from resilience.services.notifications import Deliverer, Subscription

CHECK_EVERY = 0.5
"""Seconds between checks that the watch's loops are still running."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def register(command: Command) -> None:
    """Add this module's subcommands (see Command)."""
    watch = command("watch", _("keep the views caught up, raise due escalations (tick) and "
                               "deliver notices to a webhook, until SIGINT/SIGTERM"), _watch)
    watch.add_argument("--interval", type=float, default=5.0,
                       help=_("seconds between rounds (default 5; on PostgreSQL new events "
                              "wake the webhook's delivery sooner)"))
    _webhook_options(watch, name_default=None)
    watch.add_argument("--kinds", nargs="+", metavar="KIND",
                       help=_("deliver only these kinds of notice (default: all)"))
    watch.add_argument("--from-now", action="store_true",
                       help=_("a new subscription starts at the head: only notices recorded "
                              "from now on (default: every notice since the beginning)"))
    watch.add_argument("--once", action="store_true", help=_("one round, then exit"))
    add_escalation(watch)
    hooks = command("webhooks", _("a webhook subscription's dead letters: list them, or "
                                  "deliver them again"), _webhooks)
    actions = hooks.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("dead-letters", help=_("list the notices given up on"))
    listing.add_argument("--name", default="webhook",
                         help=_("the subscription's name (default webhook)"))
    again = actions.add_parser("redeliver", help=_("POST the dead letters again; those "
                                                   "taken are no longer dead letters"))
    _webhook_options(again, name_default="webhook")
    again.add_argument("--key", help=_("only this notice's dead letter"))


def _webhook_options(parser: argparse.ArgumentParser, name_default: str | None) -> None:
    parser.add_argument("--webhook", metavar="URL", help=_("POST each notice to this URL"))
    parser.add_argument("--secret-env", metavar="VAR",
                        help=_("environment variable holding the webhook's signing secret"))
    parser.add_argument("--name", default=name_default,
                        help=_("the subscription's name: where its position and dead "
                               "letters are kept (default webhook)"))
    parser.add_argument("--attempts", type=int, default=5,
                        help=_("POSTs per notice before it becomes a dead letter (default "
                               "5)"))
    parser.add_argument("--hide-personal", action="store_true",
                        help=_("send notices with their declared personal values hidden"))
    parser.add_argument("--insecure", action="store_true",
                        help=_("allow a plain http:// URL to another machine (notices carry "
                               "personal data: use https)"))


def _webhook(args: argparse.Namespace, name_default: str | None = None) -> Webhook | None:
    """The webhook the options describe, or None without --webhook (then its other options
    are refused; ``name_default``, --name's default in the parser, is no sign of one)."""
    if args.webhook is None:
        name = None if args.name == name_default else args.name
        for option, given in (("--secret-env", args.secret_env), ("--name", name),
                              ("--insecure", args.insecure or None),
                              ("--hide-personal", args.hide_personal or None)):
            if given is not None:
                raise InvalidInputError(_("{option} goes with --webhook").format(
                    option=option))
        return None
    if args.secret_env is None:
        raise InvalidInputError(_("--webhook needs --secret-env VAR: the environment "
                                  "variable holding its signing secret"))
    secret = os.environ.get(args.secret_env)
    if not secret:
        raise InvalidInputError(_("the environment variable {variable} (--secret-env) is not "
                                  "set, or empty").format(variable=args.secret_env))
    return Webhook(args.webhook, secret, attempts=args.attempts, insecure=args.insecure,
                   personal=not args.hide_personal)


@contextmanager
def _signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` instead of interrupting, inside."""

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Watch(Background):
    """The watch's rounds: catch the views up, tick, and say what the deliverer did."""

    THREAD = "resilience-watch"

    def __init__(self, engine: Engine, interval: float, deliverer: Deliverer | None) -> None:
        super().__init__(interval)
        self.engine = engine
        self.deliverer = deliverer
        self._shown = 0
        self._standby = False
        self.start()

    def step(self) -> bool:
        _round(self.engine)
        deliverer = self.deliverer
        if deliverer is None:
            return False
        subscription = deliverer.subscription
        if subscription.standby != self._standby:
            self._standby = subscription.standby
            print((_("{name}: standby, another deliverer delivers") if self._standby
                   else _("{name}: delivering")).format(name=subscription.name), flush=True)
        if deliverer.delivered > self._shown:
            _print_delivered(deliverer.delivered - self._shown, subscription)
            self._shown = deliverer.delivered
        return False

    def failed(self, exc: Exception, first: bool) -> None:
        print("resilience: " + _("watch round failed ({failures} in a row): {error}; "
                                 "retrying").format(failures=self.failures,
                                                    error=error_line(exc)),
              file=sys.stderr, flush=True)

    def recovered(self) -> None:
        print(_("watch resumed after {failures} failed rounds").format(failures=self.failures),
              flush=True)

    def died(self, exc: BaseException) -> None:
        print("resilience: " + _("the watch stopped: {error}").format(error=error_line(exc)),
              file=sys.stderr, flush=True)


def _watch(args: argparse.Namespace) -> int:
    interval = check_interval(args.interval)
    hook = _webhook(args)
    if hook is None:
        for option, given in (("--kinds", args.kinds), ("--from-now", args.from_now or None)):
            if given is not None:
                raise InvalidInputError(_("{option} goes with --webhook").format(
                    option=option))
    log_on_stderr("resilience.notifications", "resilience.views", "resilience.watch")
    with _existing(args.db, fresh_views=False) as opened:
        engine = _with_escalation(opened, args.escalation)
        subscription = (None if hook is None else engine.subscribe(
            args.name or "webhook", hook, kinds=args.kinds,
            start="head" if args.from_now else "beginning"))
        if args.once:
            try:
                _round(engine)
                if subscription is not None:
                    _print_delivered(subscription.deliver(), subscription)
            except KeyboardInterrupt:
                print("resilience: " + _("interrupted"), file=sys.stderr)
                return 130
            return 0
        print((_("watching every {interval} s; Ctrl-C stops") if hook is None else
               _("watching every {interval} s; notices to {url}; Ctrl-C stops")).format(
            interval=f"{interval:g}", url=shown_url(hook.url) if hook else ""), flush=True)
        stop = threading.Event()
        with _signals(stop):
            deliverer = None if subscription is None else subscription.follow(interval)
            watch = _Watch(engine, interval, deliverer)
            loops: list[Background] = [watch] if deliverer is None else [watch, deliverer]
            dead: list[Background] = []
            try:
                while not stop.is_set() and not dead:
                    stop.wait(CHECK_EVERY)
                    dead = [loop for loop in loops if not loop.running]
            finally:
                for loop in loops:
                    loop.stop()
    if dead:  # a loop stopped on a fault of its own (failures of the store are retried)
        print(f"resilience: {error_line(dead[0].error or RuntimeError(_('stopped')))}",
              file=sys.stderr)
        return 1
    print(_("watch stopped"), flush=True)
    return 0


def _round(engine: Engine) -> None:
    """Catch the views up and tick, printing each escalation raised."""
    engine.views.catch_up()
    _print_tick(engine.tick())


def _print_delivered(delivered: int, subscription: Subscription) -> None:
    print((ngettext("delivered {count} notice (position {position}; another deliverer holds "
                    "it)", "delivered {count} notices (position {position}; another deliverer "
                    "holds it)", delivered) if subscription.standby else
           ngettext("delivered {count} notice (position {position})",
                    "delivered {count} notices (position {position})", delivered)).format(
        count=delivered, position=subscription.position), flush=True)


def _print_tick(tick: Tick) -> None:
    for raised in tick.raised:
        told = told_words(raised.notified)  # as ``resilience tick``
        print(_("{at} escalated {subject} {case}: {deadline} level {level} (due {due}); "
                "notified {told}").format(
            at=tick.at.isoformat(timespec="seconds"), subject=value_text(raised.subject),
            case=raised.case_id, deadline=value_text(raised.deadline), level=raised.level,
            due=raised.due_at.isoformat(timespec="seconds"), told=told), flush=True)


def _plain(text: str, most: int = 200) -> str:
    """Text from elsewhere (a server's answer in a dead letter's error) safe to print:
    control characters shown as one space, at most ``most`` characters."""
    text = _CONTROL.sub(" ", text)
    return text if len(text) <= most else text[:most - 1] + "…"


def _webhooks(args: argparse.Namespace) -> int:
    if args.action == "redeliver":
        hook = _webhook(args, name_default="webhook")
        if hook is None:
            raise InvalidInputError(_("redeliver needs --webhook URL and --secret-env VAR"))
        with _existing(args.db, fresh_views=False) as engine:
            subscription = engine.subscribe(args.name, hook)
            before = len(subscription.dead_letters())
            try:
                taken = subscription.redeliver(args.key)
            except KeyboardInterrupt:  # what was taken is no dead letter any more
                print("resilience: " + _("redelivery interrupted"), file=sys.stderr)
                return 130
            left = len(subscription.dead_letters())
        print(ngettext("redelivered {taken} of {of}; {left} dead letter left",
                       "redelivered {taken} of {of}; {left} dead letters left", left).format(
            taken=taken, of=before if args.key is None else 1, left=left))
        return 0
    with _existing(args.db, fresh_views=False) as engine:
        letters = engine.subscribe(args.name, lambda notice: None).dead_letters()
    if not letters:
        print(_("{name}: no dead letters").format(name=args.name))
        return 0
    print(render_table(
        (_("position"), _("key"), _("kind"), _("attempts"), _("failed at"), _("error")),
        [(str(letter.position), _plain(letter.key), _plain(letter.kind), str(letter.attempts),
          letter.failed_at.isoformat(timespec="seconds"), _plain(letter.error))
         for letter in letters]))
    print(ngettext("{count} dead letter of {name}", "{count} dead letters of {name}",
                   len(letters)).format(count=len(letters), name=args.name))
    return 0
