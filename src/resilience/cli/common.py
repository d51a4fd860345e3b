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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, NoReturn, TextIO
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from resilience.adapters.store import ENV_VAR, describe, one_line, resolve_url, store_env
from resilience.domain.escalated import Notified, told_text
from resilience.domain.escalation import EscalationPolicy
from resilience.engine import Engine
from resilience.errors import (
    AlreadyExistsError,
    ConfigurationError,
    ConflictError,
    ErasedPersonError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    NotInReportError,
    PermissionDeniedError,
    ProtectedStoreError,
    ReadOnlyStoreError,
    ResilienceError,
    ScenarioError,
    StoreUnavailableError,
    TamperedStoreError,
    UnreadableEventError,
)
from resilience.exports import to_csv, to_json
from resilience.i18n import N_, _, current_language, display_width, ngettext
from resilience.metrics.definitions import BUILT_IN_BY_NAME, MetricDefinition
from resilience.metrics.period import Period
from resilience.metrics.tables import value_text
from resilience.review.entries import what
from resilience.review.sight import unhidden
from resilience.review.text import enum_words
from resilience.services.default_escalation import DEFAULT_ESCALATION
from resilience.timeline import Timeline


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help in the current language: the usage prefix through the catalog, and
    text holding wide (Chinese) characters wrapped by the columns a terminal gives them
    (English wraps as argparse always has)."""

    def add_usage(self, usage: str | None, actions: Any, groups: Any,
                  prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)

    def format_help(self) -> str:
        text = super().format_help()
        if current_language() == "en":
            return text
        for title in (_("positional arguments"), _("options")):  # argparse adds a ":"
            text = text.replace(f"\n{title}:\n", "\n" + _("{title}:").format(title=title)
                                + "\n")
        return text

    def _split_lines(self, text: str, width: int) -> list[str]:
        if display_width(text) == len(text):
            return super()._split_lines(text, width)
        return _wrap(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if display_width(text) == len(text):
            return super()._fill_text(text, width, indent)
        return "\n".join(indent + line for line in _wrap(text, width - len(indent)))


_NO_LINE_START = frozenset("）」』》〉】，。、；：？！")
"""Punctuation a Chinese line does not start with: it stays on the line before."""


def _wrap(text: str, width: int) -> list[str]:
    """``text``'s words in lines at most ``width`` columns wide (a run of ASCII a word, any
    other character a word of its own: Chinese breaks between any two characters)."""
    lines: list[str] = []
    line = ""
    for piece in re.findall(r"[!-~]+|\s+|.", " ".join(text.split())):
        if piece.isspace():
            line += " " if line else ""
        elif (line.strip() and display_width(line + piece) > width
              and piece not in _NO_LINE_START):
            lines.append(line.rstrip())
            line = piece
        else:
            line += piece
    return [*lines, line.rstrip()] if line.strip() else lines


_ARGPARSE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), template) for pattern, template in (
        (r"argument (?P<argument>.+?): (?P<message>.*)", N_("argument {argument}: {message}")),
        (r"invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)",
         N_("invalid choice: {value} (choose from {choices})")),
        (r"the following arguments are required: (?P<arguments>.*)",
         N_("the following arguments are required: {arguments}")),
        (r"unrecognized arguments: (?P<arguments>.*)", N_("unrecognized arguments: {arguments}")),
        (r"expected one argument", N_("expected one argument")),
        (r"expected at most one argument", N_("expected at most one argument")),
        (r"expected at least one argument", N_("expected at least one argument")),
        (r"invalid (?P<type>\S+) value: (?P<value>.*)", N_("invalid {type} value: {value}")),
        (r"ambiguous option: (?P<option>.*) could match (?P<matches>.*)",
         N_("ambiguous option: {option} could match {matches}")),
        (r"not allowed with argument (?P<argument>.*)",
         N_("not allowed with argument {argument}")),
        (r"ignored explicit argument (?P<value>.*)", N_("ignored explicit argument {value}")),
        (r"one of the arguments (?P<arguments>.*) is required",
         N_("one of the arguments {arguments} is required")),
        (r"unexpected option string: (?P<option>.*)", N_("unexpected option string: {option}")),
    ))
"""argparse's own messages (which it words through ``gettext`` of the default domain,
English here), each read back into its values and said again through our catalog."""

_EXPECTED = re.compile(r"expected (?P<count>\d+) arguments?")


def argparse_message(message: str) -> str:
    """One of argparse's error messages in the current language (a message of our own, or
    one not known, as it is)."""
    found = _EXPECTED.fullmatch(message)
    if found is not None:
        count = int(found["count"])
        return ngettext("expected {count} argument", "expected {count} arguments",
                        count).format(count=count)
    for pattern, template in _ARGPARSE:
        found = pattern.fullmatch(message)
        if found is not None:
            values = found.groupdict()
            if "message" in values:
                values["message"] = argparse_message(values["message"])
            if "type" in values and values["type"] in _TYPES and current_language() != "en":
                values["type"] = _(_TYPES[values["type"]])  # English keeps argparse's "int"
            return _(template).format(**values)
    return message


_TYPES = {"int": N_("whole number"), "float": N_("number")}
"""The types of the command line's options, in words (argparse names them by the Python
type's name: "invalid int value")."""


class ArgumentParser(argparse.ArgumentParser):
    """The command line's parser (and every subcommand's): argparse's own words (usage,
    group titles, ``-h``'s help, its errors) in the current language, through our catalog
    (argparse's gettext domain is not ours). Build it after choosing the language."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        add_help = kwargs.pop("add_help", True)
        kwargs["add_help"] = False  # ours instead, its help translated
        super().__init__(*args, **kwargs)
        self.add_help = add_help
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help=_("show this help message and exit"))

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, _("{prog}: error: {message}").format(
            prog=self.prog, message=argparse_message(message)) + "\n")


ERROR_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (NotInReportError, N_("not in the report")),
    (ProtectedStoreError, N_("protected store")),
    (ErasedPersonError, N_("erased person")),
    (InvalidInputError, N_("invalid input")),
    (NotFoundError, N_("not found")),
    (AlreadyExistsError, N_("already exists")),
    (InvalidTransitionError, N_("not allowed now")),
    (ConflictError, N_("conflict")),
    (ScenarioError, N_("scenario error")),
    (ConfigurationError, N_("configuration error")),
    (StoreUnavailableError, N_("store unavailable")),
    (ReadOnlyStoreError, N_("read-only store")),
    (UnreadableEventError, N_("unreadable event")),
    (PermissionDeniedError, N_("permission denied")),
    (TamperedStoreError, N_("tampered store")),
    (ResilienceError, N_("error")),
    (OSError, N_("file or system error")),
)
"""What kind of error the command line's error line names, by class (the most specific
first), in a language other than English (English names the class)."""


def error_line(exc: BaseException) -> str:
    """The command line's one line for an error, after ``resilience: ``: ``Type: message``
    (adapters.store.describe) in English; in another language the kind of error in its
    words, then the message (as the library worded it, translated where it was raised)."""
    try:
        english = current_language() == "en"
    except ConfigurationError:  # RESILIENCE_LANG names a language we don't speak
        english = True
    if english:
        return describe(exc)
    kind = next((text for cls, text in ERROR_KINDS if isinstance(exc, cls)), N_("error"))
    if isinstance(exc, ScenarioError) and (exc.entry is not None or exc.line is not None):
        # The error's own "entry 5, line 12: " prefix is English (errors sits below i18n).
        where = _("; ").join([*([_("entry {entry}").format(entry=exc.entry)]
                                if exc.entry is not None else []),
                              *([_("line {line}").format(line=exc.line)]
                                if exc.line is not None else [])])
        return _("{kind}: {where}: {message}").format(kind=_(kind), where=where,
                                                     message=" ".join(exc.problem.split()))
    return _("{kind}: {message}").format(kind=_(kind), message=one_line(exc))

Command = Callable[..., argparse.ArgumentParser]
"""``command(name, help, run, *, period=False, tz_help=..., db_required=True, **defaults)``:
adds a subcommand on a store named by ``--db`` (and the period options), as
``build_parser`` does. ``--db`` is required unless ``db_required=False``; then it is
optional and left out of the namespace when not given (so a nested action's own ``--db``
may supply it). ``run`` may be None for a subcommand whose required actions each set their
own. Each module of subcommands has a ``register(command)`` that calls it."""

_PERIOD_TZ = N_("time zone of dates without an offset (default UTC) and where "
                "day/week/month/year groups are cut (default: the --month's zone, else each "
                "case's own offset)")


def _home_zone(engine: Engine, community: UUID) -> tzinfo:
    """Where a community's times without an offset are read: the offset its own first
    fact was given in (its registration)."""
    events = engine.events(community)
    return (events[0].occurred_at.tzinfo if events else None) or UTC


PROGRESS = {
    "bar": N_("[{bar}] {share}  {done}/{total} events{pace}"),
    "line": N_("{label}: {share}  {done}/{total} events{pace}"),
    "eta": N_("  {rate} events/s  ETA {left}"),
    "took": N_("  {rate} events/s  took {left}"),
}
"""The progress display's texts: str.format templates, by name (one place, translated by
``_`` where drawn; the numbers come formatted: ``share`` " 50%", ``done`` "1,000")."""


class Progress:
    """A ``progress(done, total)`` callback drawing on ``out`` (default stderr): on a
    terminal a bar redrawn in place, with the rate and the time left; elsewhere a line
    each time another tenth is done (and at the end), so a log holds about ten lines.
    ``now`` gives seconds (a monotonic clock; tests pass their own)."""

    def __init__(self, label: str = N_("views"), out: TextIO | None = None,
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
        pace = (_(PROGRESS["took"]).format(rate=f"{rate:,.0f}", left=_duration(elapsed))
                if finished and rate
                else _(PROGRESS["eta"]).format(rate=f"{rate:,.0f}",
                                               left=_duration((total - done) / rate))
                if rate else "")
        numbers = {"share": f"{share:4.0%}", "done": f"{done:,}", "total": f"{total:,}"}
        label = _(self._label)  # "views" is the catalog's; an app's own label as it is
        if self._live:
            filled = int(share * self._width)
            line = _(PROGRESS["bar"]).format(bar="#" * filled + "." * (self._width - filled),
                                             pace=pace, **numbers)
            # Padded, so a shorter line leaves nothing of the longer one before it.
            self._out.write(f"\r{label}: {line:<{len(line) + 8}}"
                            + ("\n" if finished else ""))
        else:
            tenths = 10 if finished else min(9, math.floor(share * 10))
            if tenths <= self._tenths:
                return
            self._tenths = tenths
            self._out.write(_(PROGRESS["line"]).format(label=label, pace=pace, **numbers)
                            + "\n")
        self._out.flush()



def _duration(seconds: float) -> str:
    """``0:01:05``: hours, minutes and seconds."""
    return str(timedelta(seconds=round(seconds)))


def progress_bar(out: TextIO | None = None, width: int = 30,
                 label: str = N_("views")) -> Progress:
    """A progress callback (``Progress``) drawing ``label: [#####.....]  50%  1,000/2,000
    events  800 events/s  ETA 0:00:01`` on ``out`` (default stderr)."""
    return Progress(label, out, width)


DB_HELP = N_("the store: a SQLite file or a store URL (default: $RESILIENCE_DB)")
"""``--db``'s help (translated by ``_`` where the parser is built, as every help text)."""


def _store(db: str | None, command: str) -> str:
    """The store a command works on: ``--db``, else ``$RESILIENCE_DB`` (as ``Engine()``
    reads it); InvalidInputError naming both when neither is there. Unlike the engine, a
    command never falls back to a default file: reading a store nobody named would only
    ever find nothing."""
    found = db or os.environ.get(ENV_VAR, "").strip()
    if not found:
        raise InvalidInputError(_("{command} needs --db (a SQLite file or a store URL), or "
                                  "{variable} set to one").format(command=command,
                                                                  variable=ENV_VAR))
    return found


def _existing(db: str, *, fresh_views: bool = True) -> Engine:
    """An engine on a store that must already exist: a mistyped SQLite path is an error,
    not a new empty file."""
    env = store_env(resolve_url(db))
    path = env.get("SQLITE_DBNAME")
    if path is not None and ":memory:" not in path and not Path(path).exists():
        raise NotFoundError(_("no store at {path}: record into it first (resilience "
                              "replay)").format(path=path))
    return Engine(db, fresh_views=fresh_views)


@contextmanager
def _file(action: str, path: str | Path) -> Iterator[None]:
    """Reading or writing a file named on the command line: an OSError says which file,
    what was tried and why, in a line (``cannot write /: Is a directory``); text that is
    not UTF-8 is the file's fault, InvalidInputError."""
    cannot = _(_CANNOT.get(action, "cannot {action} {path}: {reason}"))
    try:
        yield
    except OSError as exc:
        raise OSError(cannot.format(action=action, path=path,
                                    reason=exc.strerror or describe(exc))) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(cannot.format(
            action=action, path=path, reason=_("not UTF-8 text ({reason} at byte "
                                               "{byte})").format(reason=exc.reason,
                                                                 byte=exc.start))) from None


_CANNOT = {"read": N_("cannot read {path}: {reason}"),
           "write": N_("cannot write {path}: {reason}")}
"""What ``_file`` says of a file it could not read or write (``{reason}``: why)."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(_("unknown time zone {name}").format(name=repr(name))) from None


_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?")
"""``HH:MM`` or ``HH:MM:SS`` (a fraction and an offset allowed): a bare number such as
``2022`` is not one, though Python's ``time.fromisoformat`` would read it as 20:22."""

MOMENT_HELP = N_("an ISO date-time or date, or a time of day HH:MM[:SS] on {day}; without "
                 "an offset, in the --tz zone")
"""How every option naming a moment is described (``{day}``: which day a bare time of day
is on); see :func:`moment_help`."""

DAYS = {"today": N_("today"), "the first fact's date": N_("the first fact's date"),
        "the incident's date": N_("the incident's date"),
        "the incident's date (with --community: today)":
            N_("the incident's date (with --community: today)")}
"""The days a bare time of day is on, as the moment options' help names them."""


def moment_help(day: str = "today") -> str:
    """:data:`MOMENT_HELP` in the current language, on ``day`` (one of :data:`DAYS`)."""
    return _(MOMENT_HELP).format(day=_(DAYS.get(day, day)))


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
        raise InvalidInputError(_("{text} is a time of day: give a date too (an ISO "
                                  "date-time, e.g. 2022-02-15T15:07)").format(text=repr(text)))
    try:
        if of_day and on is not None:
            moment = time.fromisoformat(text)
            return datetime.combine(on, moment.replace(tzinfo=None), moment.tzinfo or tz)
        found = datetime.fromisoformat(text)
    except ValueError:  # not ISO, or out of range (25:00, February 30th)
        raise InvalidInputError(_("not an ISO date or time (a date-time, a date, or "
                                  "HH:MM[:SS]): {text}").format(text=repr(text))) from None
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
    forms = moment_help(day)
    if as_of:
        parser.add_argument("--as-of", metavar="WHEN",
                            help=_("only what had happened by then: {forms}").format(
                                forms=forms))
    parser.add_argument("--known-at", metavar="WHEN",
                        help=_("only what had been recorded by then (corrections and late "
                               "records after it left out): {forms}").format(
                            forms=_("same forms as --as-of") if as_of else forms))


def _period(args: argparse.Namespace, default_zone: tzinfo = UTC) -> Period:
    tz = _zone(args.tz) if args.tz else default_zone
    if args.month:
        try:
            year, month = (int(part) for part in args.month.split("-"))
        except ValueError:
            raise InvalidInputError(_("--month wants YYYY-MM, got {month}").format(
                month=repr(args.month))) from None
        return Period.month(year, month, tz)
    return Period(_moment(args.start, tz), _moment(args.end, tz))


def _dimensions(text: str) -> list[str]:
    """One ``--by`` value: a dimension, or several joined by commas (``grid,month``)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def add_by(parser: argparse.ArgumentParser, dimensions: str, default: str = "") -> None:
    """Add ``--by``: one value each time, repeatable, commas allowed (``--by grid --by
    month`` or ``--by grid,month``). One value, so the metric named after it is never taken
    for a dimension (``metrics --by grid detection_to_contained``). The parsed value is None
    when not given, so a command can tell its default from an empty ``--by ''``. With a
    ``default``, ``--by ''`` groups nothing, and the help says so."""
    parser.add_argument("--by", action="extend", type=_dimensions, metavar="DIM[,DIM]",
                        help=(_("group by (repeatable, or comma-separated): {dimensions}; '' "
                                "for no grouping (default {default})") if default else
                              _("group by (repeatable, or comma-separated): {dimensions}"))
                        .format(dimensions=dimensions, default=default))


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
        raise InvalidInputError(_("cannot write {out} as {format}: this command writes "
                                  "{formats} (say which with --format)").format(
            out=out, format=inferred, formats=", ".join(formats)))
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
                        help=_("table (default), json (the report's data, with its "
                               "schema_version) or csv (the report's table)"))
    parser.add_argument("--out", help=_("write to this file instead of printing (its "
                                        "extension, .json or .csv, names the format unless "
                                        "--format does)"))


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
        raise NotFoundError(_("no community named {name}").format(name=repr(ref)))
    if len(found) > 1:
        raise InvalidInputError(_("{count} communities are named {name}: give an id "
                                  "({ids})").format(count=len(found), name=repr(ref),
                                                    ids=", ".join(found)))
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


def metrics_help() -> str:
    """The metric options' help: every built-in metric's name."""
    return _("built-in metrics: {metrics}; or a .json metric definition file").format(
        metrics=", ".join(BUILT_IN_BY_NAME))


def _metric(ref: str) -> MetricDefinition:
    """A built-in metric by name, or a definition read from a .json file."""
    if ref in BUILT_IN_BY_NAME:
        return BUILT_IN_BY_NAME[ref]
    path = Path(ref)
    if path.suffix == ".json" and path.exists():
        with _file("read", path):
            text = path.read_text(encoding="utf-8")
        return MetricDefinition.from_json(text)
    raise NotFoundError(_("{ref} is neither a built-in metric ({metrics}) nor a .json "
                          "definition file").format(ref=repr(ref),
                                                    metrics=", ".join(BUILT_IN_BY_NAME)))


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
        help=_("an escalation policy's .json file, or 'default' (the built-in "
               "DEFAULT_ESCALATION)") if required else
        _("an escalation policy's .json file, or 'default' (the built-in "
          "DEFAULT_ESCALATION), in place of the engine's own"))


def told_words(notified: Sequence[Notified]) -> str:
    """Whom an escalation told, by person id, as ``tick`` and ``watch`` print it: the
    domain's ``told_text`` in English ("grid_leader of 3 wu"); in another language the
    review's words for it (resilience.review.escalations.told), ids for names."""
    if current_language() == "en":
        return told_text(notified)
    found = []
    for one in notified:
        if one.role is None:
            found.append(_("{body} ({kind})").format(body=one.body, kind=value_text(one.scope))
                         if one.scope else _("{body} (body)").format(body=one.body))
            continue
        role = (_("{role} of {scope}").format(role=enum_words(one.role), scope=one.scope)
                if one.scope else enum_words(one.role))
        found.append(_("{role} {person}").format(role=role, person=one.person_id)
                     if one.person_id is not None
                     else _("nobody held {role}").format(role=role))
    return _("; ").join(found) or _("nobody")


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
    """The period options (``tz_help``: ``--tz``'s help, an ``N_`` constant)."""
    parser.add_argument("--from", dest="start", help=_("cases whose first fact is at or "
                                                       "after this ISO date/time"))
    parser.add_argument("--to", dest="end", help=_("... and before this ISO date/time"))
    parser.add_argument("--month", help=_("a calendar month, YYYY-MM (instead of "
                                          "--from/--to)"))
    parser.add_argument("--tz", help=_(tz_help))
    parser.add_argument("--community", help=_("a community's id or exact name"))


def people_of(engine: Engine, aggregate_id: UUID) -> dict[str, str]:
    """Person id -> name on the roster of the community an incident, order, item or
    community (``aggregate_id``) belongs to; empty if the views know none."""
    key = str(aggregate_id)
    doc = engine.views.get("cases", key) or engine.views.get("plans", key)
    community = key if doc is not None and doc.get("kind") == "community" else (
        doc.get("community") if doc is not None else None)
    if community is None:
        return {}
    return {p.person_id: p.name
            for p in engine.communities.get(UUID(community)).people.values()}


def format_timeline(timeline: Timeline, people: Mapping[str, str] | None = None,
                    tz: tzinfo | None = None, *, dated: bool = False) -> str:
    """The timeline as text: minutes since start, time (in ``tz``, by default the
    detection's offset), actor and role, what happened. ``dated``: each fact's date and
    time instead of the minutes since the start, and a record noted late from an hour on
    (a hazard's life takes days, not minutes)."""
    names = dict(people or {})
    zone = tz or timeline.start.tzinfo
    stamp = "%Y-%m-%d %H:%M" if dated else "%H:%M"
    # Each fact's words as the review says them: people's names for their ids, and a
    # correction as the change it made ("contained: 15:14 → 15:12 (reason)").
    said = what(timeline.entries, names, timeline.start)
    rows = []
    for entry in timeline.entries:
        who = unhidden(names.get(entry.actor.person_id, entry.actor.person_id))
        role = enum_words(entry.actor.role)
        notes = []
        delay = entry.record_delay
        if dated and delay >= timedelta(hours=1):
            notes.append(_("recorded {hours} h later").format(
                hours=f"{delay.total_seconds() / 3600:.0f}"))
        elif not dated and delay >= timedelta(minutes=5):
            notes.append(_("recorded {minutes} min later").format(
                minutes=f"{delay.total_seconds() / 60:.0f}"))
        if entry.is_corrected and entry.occurred_at != entry.original_occurred_at:
            notes.append(_("corrected from {time}").format(
                time=f"{entry.original_occurred_at.astimezone(zone):{stamp}}"))
        suffix = f"  [{_('; ').join(notes)}]" if notes else ""
        when = f"{entry.occurred_at.astimezone(zone):{stamp}}"
        lead = f"  {when}  " if dated else f"  +{entry.minutes:5.1f}  {when}  "
        rows.append(lead + _("{who} ({role}): {details}").format(
            who=who, role=role, details=said[entry.version]) + suffix)
    return "\n".join(rows)
