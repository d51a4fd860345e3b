"""What the command line's subcommands share: opening a store, reading moments, periods,
communities, time zones and files (metric definitions, escalation policies) named on the
command line, showing moments, logging on stderr, and drawing progress."""

import argparse
import logging
import math
import os
import re
import sys
import time as timer
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from resilience.adapters.store import ENV_VAR, describe, resolve_url, store_env
from resilience.domain.escalation import EscalationPolicy
from resilience.engine import Engine
from resilience.errors import InvalidInputError, NotFoundError
from resilience.exports import to_csv, to_json
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


DB_HELP = "the store: a SQLite file or a store URL (default: $RESILIENCE_DB)"


def _store(db: str | None, command: str) -> str:
    """The store a command works on: ``--db``, else ``$RESILIENCE_DB`` (as ``Engine()``
    reads it); InvalidInputError naming both when neither is there. Unlike the engine, a
    command never falls back to a default file: reading a store nobody named would only
    ever find nothing."""
    found = db or os.environ.get(ENV_VAR, "").strip()
    if not found:
        raise InvalidInputError(f"{command} needs --db (a SQLite file or a store URL), or "
                                f"{ENV_VAR} set to one")
    return found


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


_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?")
"""``HH:MM`` or ``HH:MM:SS`` (a fraction and an offset allowed): a bare number such as
``2022`` is not one, though Python's ``time.fromisoformat`` would read it as 20:22."""

MOMENT_HELP = ("an ISO date-time or date, or a time of day HH:MM[:SS] on {day}; without an "
               "offset, in the --tz zone")
"""How every option naming a moment is described (``{day}``: which day a bare time of day
is on)."""


def _moment(text: str | None, tz: tzinfo, on: date | None = None) -> datetime | None:
    """The moment an option names (every one: ``--as-of``, ``--known-at``, ``--at``,
    ``--from``, ``--to``, ``--start``), one rule for all: an ISO 8601 date-time or date,
    read in ``tz`` when it has no offset; or, where the command has a day to put it on
    (``on``: the incident's date, or today where it reads a store as of now), a time of
    day ``HH:MM`` or ``HH:MM:SS``. None for an option not given."""
    if text is None:
        return None
    text = text.strip()
    of_day = _TIME_OF_DAY.fullmatch(text) is not None
    if of_day and on is None:
        raise InvalidInputError(f"{text!r} is a time of day: give a date too (an ISO "
                                "date-time, e.g. 2022-02-15T15:07)")
    try:
        if of_day and on is not None:
            moment = time.fromisoformat(text)
            return datetime.combine(on, moment.replace(tzinfo=None), moment.tzinfo or tz)
        found = datetime.fromisoformat(text)
    except ValueError:  # not ISO, or out of range (25:00, February 30th)
        raise InvalidInputError(f"not an ISO date or time (a date-time, a date, or HH:MM[:SS]"
                                f"): {text!r}") from None
    return found if found.tzinfo is not None else found.replace(tzinfo=tz)


def _today(engine: Engine, zone: tzinfo) -> date:
    """The day a bare time of day is on where no incident gives one: today in ``zone`` by
    the engine's clock."""
    return engine.clock().astimezone(zone).date()


def add_cut(parser: argparse.ArgumentParser, day: str = "today", *,
            as_of: bool = True) -> None:
    """Add ``--as-of`` and ``--known-at`` (read by :func:`_moment`) to ``parser``: the
    options of every command that reads a store as of a moment (only ``--known-at`` where
    ``as_of`` is false: a report over a period, which the period bounds already)."""
    forms = MOMENT_HELP.format(day=day)
    if as_of:
        parser.add_argument("--as-of", metavar="WHEN",
                            help=f"only what had happened by then: {forms}")
    parser.add_argument("--known-at", metavar="WHEN",
                        help="only what had been recorded by then (corrections and late "
                             "records after it left out): "
                             + ("same forms as --as-of" if as_of else forms))


def _period(args: argparse.Namespace, default_zone: tzinfo = UTC) -> Period:
    tz = _zone(args.tz) if args.tz else default_zone
    if args.month:
        try:
            year, month = (int(part) for part in args.month.split("-"))
        except ValueError:
            raise InvalidInputError(f"--month wants YYYY-MM, got {args.month!r}") from None
        return Period.month(year, month, tz)
    return Period(_moment(args.start, tz), _moment(args.end, tz))


def _dimensions(text: str) -> list[str]:
    """One ``--by`` value: a dimension, or several joined by commas (``grid,month``)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def add_by(parser: argparse.ArgumentParser, dimensions: str, default: str = "") -> None:
    """Add ``--by``: one value each time, repeatable, commas allowed (``--by grid --by
    month`` or ``--by grid,month``). One value, so the metric named after it is never taken
    for a dimension (``metrics --by grid detection_to_contained``). The parsed value is None
    when not given, so a command can tell its default from an empty ``--by ''``."""
    parser.add_argument("--by", action="extend", type=_dimensions, metavar="DIM[,DIM]",
                        help=f"group by (repeatable, or comma-separated): {dimensions}"
                             + (f" (default {default})" if default else ""))


FORMATS_BY_SUFFIX = {".md": "md", ".markdown": "md", ".json": "json", ".html": "html",
                     ".htm": "html", ".csv": "csv"}
"""The format a file named by ``--out`` is written in, by its extension, when ``--format``
does not say."""


def _out_format(out: str | None, given: str | None, formats: Sequence[str],
                default: str) -> str:
    """The format to write: ``--format`` as given; else the one the ``--out`` file's
    extension names (``review.html`` -> html), which must be one of the command's
    ``formats``; else ``default`` (an extension naming no format, or printing)."""
    if given is not None:
        return given
    inferred = FORMATS_BY_SUFFIX.get(Path(out).suffix.lower()) if out else None
    if inferred is None:
        return default
    if inferred not in formats:
        raise InvalidInputError(f"cannot write {out} as {inferred}: this command writes "
                                f"{', '.join(formats)} (say which with --format)")
    return inferred


def _emit(text: str, out: str | None) -> None:
    """What a command produced: printed, or written to the ``--out`` file (UTF-8, ending
    in a newline as printing would)."""
    if out is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    with _file("write", out):
        Path(out).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


REPORT_FORMATS = ("table", "json", "csv")
"""What a report command writes: its table as text (the default), its data as JSON (with
``schema_version``), or its one table as CSV (resilience.exports)."""


def add_report_output(parser: argparse.ArgumentParser) -> None:
    """``--format table|json|csv`` and ``--out FILE`` (whose extension, .json or .csv,
    also names the format)."""
    parser.add_argument("--format", choices=REPORT_FORMATS,
                        help="table (default), json (the report's data, with its "
                             "schema_version) or csv (the report's table)")
    parser.add_argument("--out", help="write to this file instead of printing (its "
                        "extension, .json or .csv, names the format unless --format does)")


def emit_report(args: argparse.Namespace, report: Any, table: Callable[[], str],
                kind: str | None = None) -> None:
    """Write ``report`` as ``--format``/``--out`` ask (see ``add_report_output``): the
    text ``table()`` renders, or ``resilience.exports``' JSON or CSV of it (``kind``: the
    report's kind, for one that comes as a possibly empty list of rows)."""
    fmt = _out_format(args.out, args.format, REPORT_FORMATS, "table")
    _emit(table() if fmt == "table" else to_json(report, kind=kind) if fmt == "json"
          else to_csv(report, kind=kind), args.out)


def walk(parser: argparse.ArgumentParser,
         path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """``parser`` and every subcommand's parser under it, each with its command path
    (``("what-if", "target")``), depth first."""
    yield path, parser
    for action in parser._actions:  # argparse keeps its subparsers nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


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


METRICS_HELP = ("built-in metrics: " + ", ".join(BUILT_IN_BY_NAME)
                + "; or a .json metric definition file")
"""The metric options' help: every built-in metric's name."""


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
