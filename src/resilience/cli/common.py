"""What the command line's subcommands share: opening a store, reading moments, periods,
communities, time zones and files (metric definitions, escalation policies) named on the
command line, showing moments, logging on stderr, and drawing progress."""

import argparse
import logging
import math
import sys
import time as timer
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TextIO
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from resilience.adapters.store import describe, resolve_url, store_env
from resilience.domain.escalation import EscalationPolicy
from resilience.engine import Engine
from resilience.errors import InvalidInputError, NotFoundError
from resilience.metrics.definitions import BUILT_IN_BY_NAME, MetricDefinition
from resilience.metrics.period import Period
from resilience.services.default_escalation import DEFAULT_ESCALATION

Command = Callable[..., argparse.ArgumentParser]
"""``command(name, help, run, *, period=False, tz_help=..., db_required=True, **defaults)``:
adds a subcommand on a store named by ``--db`` (and the period options), as
``build_parser`` does. ``--db`` is required unless ``db_required=False``; then it is
optional and left out of the namespace when not given (so a nested action's own ``--db``
may supply it). ``run`` may be None for a subcommand whose required actions each set their
own. Each module of subcommands has a ``register(command)`` that calls it."""

_PERIOD_TZ = ("time zone of dates without an offset (default UTC) and where "
              "day/week/month/year groups are cut (default: the --month's zone, else each "
              "case's own offset)")


def _home_zone(engine: Engine, community: UUID) -> tzinfo:
    """Where a community's times without an offset are read: the offset its own first
    fact was given in (its registration)."""
    events = engine.events(community)
    return (events[0].occurred_at.tzinfo if events else None) or UTC


def _uuid(text: str, what: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidInputError(f"{what} must be a UUID, got {text!r}") from None


def _cut(text: str | None, zone: tzinfo, on: date) -> datetime | None:
    """An ISO date-time, or a bare time of day ("15:07") on the incident's own day."""
    if text is None:
        return None
    try:
        moment = time.fromisoformat(text)
        return datetime.combine(on, moment, moment.tzinfo or zone)
    except ValueError:
        return _moment(text, zone)


PROGRESS = {
    "bar": "[{bar}] {share:4.0%}  {done:,}/{total:,} events{pace}",
    "line": "{label}: {share:4.0%}  {done:,}/{total:,} events{pace}",
    "eta": "  {rate:,.0f} events/s  ETA {left}",
    "took": "  {rate:,.0f} events/s  took {left}",
}
"""The progress display's texts: str.format templates, by name (one place, to translate)."""


class Progress:
    """A ``progress(done, total)`` callback drawing on ``out`` (default stderr): on a
    terminal a bar redrawn in place, with the rate and the time left; elsewhere a line
    each time another tenth is done (and at the end), so a log holds about ten lines.
    ``now`` gives seconds (a monotonic clock; tests pass their own)."""

    def __init__(self, label: str = "views", out: TextIO | None = None,
                 width: int = 30, now: Callable[[], float] = timer.monotonic) -> None:
        self._out = out or sys.stderr
        self._live = self._out.isatty()
        self._width = width
        self._now = now
        self._label = label
        self._started = now()
        self._tenths = -1

    def __call__(self, done: int, total: int) -> None:
        moment = self._now()
        share = min(1.0, done / total) if total else 1.0
        elapsed = moment - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        finished = done >= total
        pace = (PROGRESS["took"].format(rate=rate, left=_duration(elapsed)) if finished and rate
                else PROGRESS["eta"].format(rate=rate, left=_duration((total - done) / rate))
                if rate else "")
        if self._live:
            filled = int(share * self._width)
            line = PROGRESS["bar"].format(bar="#" * filled + "." * (self._width - filled),
                                      share=share, done=done, total=total, pace=pace)
            # Padded, so a shorter line leaves nothing of the longer one before it.
            self._out.write(f"\r{self._label}: {line:<{len(line) + 8}}"
                            + ("\n" if finished else ""))
        else:
            tenths = 10 if finished else min(9, math.floor(share * 10))
            if tenths <= self._tenths:
                return
            self._tenths = tenths
            self._out.write(PROGRESS["line"].format(label=self._label, share=share, done=done,
                                                total=total, pace=pace) + "\n")
        self._out.flush()



def _duration(seconds: float) -> str:
    """``0:01:05``: hours, minutes and seconds."""
    return str(timedelta(seconds=round(seconds)))


def progress_bar(out: TextIO | None = None, width: int = 30, label: str = "views") -> Progress:
    """A progress callback (``Progress``) drawing ``label: [#####.....]  50%  1,000/2,000
    events  800 events/s  ETA 0:00:01`` on ``out`` (default stderr)."""
    return Progress(label, out, width)


def _existing(db: str, *, fresh_views: bool = True) -> Engine:
    """An engine on a store that must already exist: a mistyped SQLite path is an error,
    not a new empty file."""
    env = store_env(resolve_url(db))
    path = env.get("SQLITE_DBNAME")
    if path is not None and ":memory:" not in path and not Path(path).exists():
        raise NotFoundError(f"no store at {path}: record into it first (resilience replay)")
    return Engine(db, fresh_views=fresh_views)


@contextmanager
def _file(action: str, path: str | Path) -> Iterator[None]:
    """Reading or writing a file named on the command line: an OSError says which file,
    what was tried and why, in a line (``cannot write /: Is a directory``); text that is
    not UTF-8 is the file's fault, InvalidInputError."""
    try:
        yield
    except OSError as exc:
        raise OSError(f"cannot {action} {path}: {exc.strerror or describe(exc)}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"cannot {action} {path}: not UTF-8 text ({exc.reason} at "
                                f"byte {exc.start})") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"unknown time zone {name!r}") from None


def _moment(text: str | None, tz: tzinfo) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"not an ISO date or time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _period(args: argparse.Namespace, default_zone: tzinfo = UTC) -> Period:
    tz = _zone(args.tz) if args.tz else default_zone
    if args.month:
        try:
            year, month = (int(part) for part in args.month.split("-"))
        except ValueError:
            raise InvalidInputError(f"--month wants YYYY-MM, got {args.month!r}") from None
        return Period.month(year, month, tz)
    return Period(_moment(args.start, tz), _moment(args.end, tz))


def _community(engine: Engine, ref: str | None) -> UUID | None:
    """A community by id or by exact name."""
    if ref is None:
        return None
    try:
        return UUID(ref)
    except ValueError:
        pass
    found = [key for key, (name, _) in engine.reports.communities().items() if name == ref]
    if not found:
        raise NotFoundError(f"no community named {ref!r}")
    if len(found) > 1:
        raise InvalidInputError(f"{len(found)} communities are named {ref!r}: give an id "
                                f"({', '.join(found)})")
    return UUID(found[0])


def _where(engine: Engine, args: argparse.Namespace) -> tuple[UUID | None, tzinfo]:
    """The community named by ``--community`` (None: all), and the zone of times without
    an offset and of the times shown: ``--tz``, else that community's own (its first
    fact's offset), else the store's only community's, else UTC."""
    community = _community(engine, args.community)
    if args.tz:
        return community, _zone(args.tz)
    if community is not None:
        return community, _home_zone(engine, community)
    communities = list(engine.reports.communities())
    only = UUID(communities[0]) if len(communities) == 1 else None
    return community, _home_zone(engine, only) if only is not None else UTC


def _shown(moment: datetime, zone: tzinfo) -> str:
    """A moment as a desk reads it in ``zone``: ``2022-02-15T18:41+08:00``."""
    return moment.astimezone(zone).isoformat(timespec="minutes")


def _metric(ref: str) -> MetricDefinition:
    """A built-in metric by name, or a definition read from a .json file."""
    if ref in BUILT_IN_BY_NAME:
        return BUILT_IN_BY_NAME[ref]
    path = Path(ref)
    if path.suffix == ".json" and path.exists():
        with _file("read", path):
            text = path.read_text(encoding="utf-8")
        return MetricDefinition.from_json(text)
    raise NotFoundError(f"{ref!r} is neither a built-in metric ({', '.join(BUILT_IN_BY_NAME)}) "
                        "nor a .json definition file")


DEFAULT_REF = "default"
"""What ``--escalation`` names the built-in policy by (``DEFAULT_ESCALATION``)."""


def escalation_policy(ref: str) -> EscalationPolicy:
    """The escalation policy ``--escalation`` names: ``default``, the built-in one
    (``DEFAULT_ESCALATION``), or one read from a JSON file in ``EscalationPolicy.to_dict``'s
    form."""
    if ref == DEFAULT_REF:
        return DEFAULT_ESCALATION
    with _file("read", ref):
        text = Path(ref).read_text(encoding="utf-8")
    return EscalationPolicy.from_json(text)


def _with_escalation(engine: Engine, ref: str | None) -> Engine:
    """``engine`` under the escalation policy ``--escalation`` names (``escalation_policy``;
    None: the engine's own)."""
    return engine if ref is None else engine.with_escalation(escalation_policy(ref))


def add_escalation(parser: argparse.ArgumentParser, *aliases: str,
                   required: bool = False) -> None:
    """Add ``--escalation FILE.json|default`` (and ``aliases``, other names for it) to
    ``parser``."""
    parser.add_argument(
        "--escalation", *aliases, dest="escalation", metavar="FILE.json", required=required,
        help="an escalation policy's .json file, or 'default' (the built-in "
             "DEFAULT_ESCALATION)" + ("" if required else ", in place of the engine's own"))


def log_on_stderr(*names: str) -> None:
    """The log lines of the loggers ``names`` (a follower's outages and recoveries, dead
    letters, cases the watch skipped) on stderr, one line each after ``resilience:`` and
    the time, unless the app configured logging itself (a root handler, or one of that
    logger's own)."""
    if logging.getLogger().handlers:
        return
    for name in names:
        log = logging.getLogger(name)
        if not log.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("resilience: %(asctime)s %(message)s",
                                                   "%Y-%m-%d %H:%M:%S"))
            log.addHandler(handler)
            log.setLevel(logging.INFO)


def _add_period(parser: argparse.ArgumentParser, tz_help: str = _PERIOD_TZ) -> None:
    parser.add_argument("--from", dest="start", help="cases whose first fact is at or after "
                        "this ISO date/time")
    parser.add_argument("--to", dest="end", help="... and before this ISO date/time")
    parser.add_argument("--month", help="a calendar month, YYYY-MM (instead of --from/--to)")
    parser.add_argument("--tz", help=tz_help)
    parser.add_argument("--community", help="a community's id or exact name")
