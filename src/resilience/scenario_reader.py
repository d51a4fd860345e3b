"""Reading a scenario file's JSON: stricter than :func:`json.loads`, bounded, and
aware of lines, one entry of ``actions`` at a time.

This module knows JSON and the shape of the document (an object whose
``actions`` key holds an array of entries); :mod:`resilience.scenario` knows
what the header and the entries mean. The rules:

* **limits**: a file holds at most :data:`MAX_BYTES` bytes (a string, that
  many characters), and objects and arrays nest at most :data:`MAX_DEPTH`
  deep, the document itself being depth 1, a header value depth 2 and an
  entry depth 3; so a file exhausts neither memory nor the decoder's
  recursion (a deep value is refused, never met as a RecursionError);
* **duplicate keys**: a key repeated in one object is refused, the header
  included (``json.loads`` keeps the last, which would turn a dispatch into
  a note without a word);
* **strict JSON**: ``NaN``, ``Infinity`` and ``-Infinity`` are refused (Python
  reads them; JSON does not have them), and so are numbers too large for a
  float (``1e400``) and integers of more digits than Python converts; the file
  is UTF-8, and nothing but blanks may follow the document;
* **line numbers**: every refusal is a ScenarioError naming a line: an entry's
  problem names the entry (1-based) and the line it starts on, a JSON syntax
  error inside an entry adding its own line and column to the message; a
  header value's, the line of its key; a syntax error outside the entries,
  its own line; a problem with the whole file (too large, not UTF-8,
  unreadable), no line. Lines are counted forward from the last place asked
  about, so naming every entry's line costs one pass over the text.

Entries stream: once the header keys the entries depend on are read, each
entry is decoded when it is asked for, so a large file is read in time linear
in its size and never held as one parsed document. When ``actions`` comes
before some of those keys (files written with ``sort_keys=True``), the array
is read once to check it and again, from its start, for its entries.
"""

import json
import math
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from resilience.domain.validation import shown
from resilience.errors import ScenarioError
from resilience.i18n import N_, _

MAX_BYTES = 64 * 1024 * 1024
"""The largest scenario file read (a string given to ``parse_scenario``: in characters).
About 330,000 actions of 200 bytes; split larger histories into several files."""
MAX_DEPTH = 16
"""How deep objects and arrays may nest, the document itself being depth 1 (an
action's ``card`` contact is at depth 5)."""

Header = dict[str, tuple[Any, int]]
"""Each header key's value and the line of the key (``actions``: None and its line)."""
Entries = Iterator[tuple[int, int, Any]]
"""Each entry of ``actions``: its number (1-based), the line it starts on, its value."""


def read_file(path: str | Path) -> str:
    """The text of a scenario file: at most MAX_BYTES bytes of UTF-8."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:  # missing, a directory, not permitted, a failing disk
        raise ScenarioError(_("cannot read {path}: {error}").format(
            path=path, error=exc.strerror or exc)) from None
    if len(data) > MAX_BYTES:
        raise ScenarioError(_("the file is larger than {most} bytes (MAX_BYTES); split the "
                              "history into several files").format(most=f"{MAX_BYTES:,}"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(_("not UTF-8 text: {reason}").format(reason=exc.reason),
                            line=data.count(b"\n", 0, exc.start) + 1) from None


def read_document(text: str, needed: Collection[str]) -> tuple[Header, Entries]:
    """The header, and the entries of ``actions`` to come (each read as it is asked for).

    The header holds every key before ``actions`` and, unless all of ``needed``
    came before it, every key of the document. The entries raise ScenarioError
    for an empty ``actions``, and, after the last entry, for a problem in the
    rest of the document; there are none if the document has no ``actions``.
    """
    if len(text) > MAX_BYTES:
        raise ScenarioError(_("the text is longer than {most} characters (MAX_BYTES); split "
                              "the history into several files").format(most=f"{MAX_BYTES:,}"))
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte order mark, as some Windows editors save UTF-8: not content
    reader = _Reader(text)
    if reader.peek() != "{":
        raise reader.fail(_("a scenario is a JSON object with 'format', 'version', "
                            "'community' and 'actions'"))
    header: Header = {}
    start: tuple[int, int] | None = None
    members = reader.members()
    for key, line in members:
        _once(key, line, header)
        if key != "actions":
            header[key] = (reader.value(depth=2), line)
            continue
        if reader.peek() != "[":
            raise ScenarioError(_("'actions' must be a non-empty list"), line=line)
        header[key], start = (None, line), reader.mark()
        if all(k in header for k in needed):
            return header, _streamed(reader, line, members, set(header))
        for entry, _line in reader.elements():  # checked now, read again from the start
            reader.value(depth=3, entry=entry)
    reader.end()
    if start is None:
        return header, iter(())
    reader.seek(start)
    return header, _entries(reader, header["actions"][1])


def _once(key: str, line: int, seen: Collection[str]) -> None:
    if key in seen:
        raise ScenarioError(_("the key {key} appears twice in the header").format(
            key=shown(key)), line=line)


def _streamed(reader: "_Reader", line: int, rest: Iterator[tuple[str, int]],
              seen: set[str]) -> Entries:
    """The entries, then the header keys after them (checked, not used)."""
    yield from _entries(reader, line)
    for key, key_line in rest:
        _once(key, key_line, seen)
        seen.add(key)
        reader.value(depth=2)
    reader.end()


def _entries(reader: "_Reader", line: int) -> Entries:
    """The entries of the array here; ``line`` is that of the 'actions' key."""
    found = False
    for entry, entry_line in reader.elements():
        found = True
        yield entry, entry_line, reader.value(depth=3, entry=entry)
    if not found:
        raise ScenarioError(_("'actions' must be a non-empty list"), line=line)


# Decoding ----------------------------------------------------------------------------------


class _Refused(ValueError):
    """JSON this format does not take (a repeated key, NaN...); the reader says where."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _Refused(_("the key {key} appears twice in one object").format(
                    key=shown(key)))
            seen.add(key)
    return found


def _no_constant(name: str) -> Any:
    raise _Refused(_("{name} is not a JSON number").format(name=name))


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(_("{number} is too large for a number").format(number=text))
    return number


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant,
                            parse_float=_finite)
_BLANK = re.compile(r"[ \t\n\r]*")


def _too_deep(value: Any, depth: int) -> bool:
    """Whether ``value``, itself at ``depth``, holds an object or array deeper than MAX_DEPTH
    (walked without recursion: the value may be as deep as the decoder's recursion allows)."""
    pending = [(value, depth)] if type(value) in (dict, list) else []
    while pending:
        item, level = pending.pop()
        if level > MAX_DEPTH:
            return True
        children = item.values() if type(item) is dict else item
        pending.extend((c, level + 1) for c in children if type(c) in (dict, list))
    return False


class _Reader:
    """A cursor over a scenario's JSON text that knows the line it is on.

    Lines are counted forward from the last place asked about, so finding the
    line of every entry costs one pass over the text, not one per entry.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self._counted, self._line = 0, 1

    def line(self) -> int:
        self._line += self.text.count("\n", self._counted, self.pos)
        self._counted = self.pos
        return self._line

    def mark(self) -> tuple[int, int]:
        return self.pos, self.line()

    def seek(self, mark: tuple[int, int]) -> None:
        """Go back to a mark (the actions, once a header after them is read)."""
        self.pos, self._line = mark
        self._counted = self.pos

    def fail(self, message: str) -> ScenarioError:
        return ScenarioError(message, line=self.line())

    def peek(self) -> str:
        self.pos = _BLANK.match(self.text, self.pos).end()  # type: ignore[union-attr]
        return self.text[self.pos:self.pos + 1]

    def expect(self, chars: str, what: str, entry: int | None = None) -> str:
        """The next character, one of ``chars``; else ScenarioError saying ``what`` (an
        N_ message, translated only then: this runs for every key and element) was
        expected."""
        found = self.peek()
        if not found or found not in chars:
            message = (_("not valid JSON: expected {what}, found {found}") if found else
                       _("not valid JSON: expected {what}, found the end of the file"))
            raise self.fail(message.format(what=_(what).format(entry=entry),
                                           found=repr(found)))
        self.pos += 1
        return found

    def value(self, depth: int, entry: int | None = None) -> Any:
        """Decode the JSON value here (at ``depth``), refusing what the module docstring
        lists. An error names the line the value starts on, and ``entry`` if given; a
        syntax error outside the entries names its own line."""
        self.peek()
        line, start = self.line(), self.pos
        try:
            value, self.pos = _DECODER.raw_decode(self.text, start)
        except json.JSONDecodeError as exc:
            if entry is None:
                self.pos = exc.pos
                raise self.fail(_("not valid JSON: {error}").format(error=exc.msg)) from None
            problem = _("not valid JSON: {error} at line {line}, column {column}").format(
                error=exc.msg, line=exc.lineno, column=exc.colno)
        except _Refused as exc:
            problem = str(exc)
        except RecursionError:
            problem = _("objects and arrays nest deeper than {depth}").format(depth=MAX_DEPTH)
        except ValueError as exc:  # an integer of more digits than Python converts
            problem = _("not a usable number: {error}").format(error=exc)
        else:
            # Nesting needs opening brackets: most values have too few to be worth a walk.
            span = self.text.count("[", start, self.pos) + self.text.count("{", start, self.pos)
            if depth + span <= MAX_DEPTH + 1 or not _too_deep(value, depth):
                return value
            problem = _("objects and arrays nest deeper than {depth}").format(depth=MAX_DEPTH)
        raise ScenarioError(problem, entry=entry, line=line)

    def members(self) -> Iterator[tuple[str, int]]:
        """The keys of the object here, each with its line; the caller reads each value."""
        self.expect("{", N_("a JSON object"))
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            if self.peek() != '"':
                self.expect('"', N_("a key (a string)"))
            line = self.line()
            key = self.value(depth=1)
            self.expect(":", "':'")
            yield key, line
            if self.expect(",}", N_("',' or '}}'")) == "}":
                return

    def elements(self) -> Iterator[tuple[int, int]]:
        """(entry, line) for each element of the array here; the caller reads each one."""
        self.expect("[", "'['")
        if self.peek() == "]":
            self.pos += 1
            return
        entry = 0
        while True:
            entry += 1
            self.peek()
            yield entry, self.line()
            if self.expect(",]", N_("',' or ']' after entry {entry}"), entry) == "]":
                return

    def end(self) -> None:
        if self.peek():
            raise self.fail(_("not valid JSON: more text after the scenario's object"))
