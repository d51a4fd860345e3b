"""An aggregate's state decoded as it is read: the sections of a snapshot.

A snapshot (resilience.adapters.snapshots) keeps each attribute of an aggregate as a
section of bytes of its own. Loaded, the aggregate holds none of them decoded: an
attribute is decoded the first time it is read (``FactAggregate.__getattr__``), and a
dict attribute comes back as a :class:`LazyMap`, which decodes one key at a time. So a
command that reads a grid and one person's roles from a community of 10,000 facts
decodes those, not the 10,000 facts' times. The rules:

* **Keys one at a time.** A dict section is an index (JSON: each key's offset and length
  in the body) and a body of each value's JSON: a key read parses the index and that
  value. The two dicts that grow with every fact, ``occurred`` (version -> effective
  time) and ``fact_types`` (version -> event class), are fixed-width records instead
  (:class:`PositionalMap`): version ``v`` is found at ``(v - 1) * width``.
* **New facts don't decode.** Facts folded onto a loaded aggregate (those recorded
  after its snapshot) write into an *overlay*; reading a key looks there first. A
  command id recorded so (``record_command``) defers its first version to the snapshot's
  entry, if it has one: resolved when read, exactly as folding would have set it.
* **Read all, and it is a dict.** Iterating, counting, comparing or deleting decodes
  every key into a plain ``dict`` (in the order folding gives: the snapshot's keys, then
  new ones as written), which then takes the map's place in its aggregate: one decode,
  then plain dict speed; a map held elsewhere keeps answering from it.
* **Encoded again without decoding.** A map's bytes are the snapshot's with what changed
  appended to the body and the index updated: the overlay, and each value read and
  changed in place (an area reclassified, a term relieved); once half the body is
  values replaced since, it is written anew. Fixed-width records append new versions;
  a changed one is written out whole.
"""

import copy
import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from eventsourcing.utils import get_topic, resolve_topic

K = TypeVar("K")
V = TypeVar("V")
_MISSING: Any = object()
Bytes = bytes | memoryview
Source = Bytes | Callable[[], Bytes]
"""A section's bytes, or how to get them when first needed (a snapshot's cold part)."""


def _view(source: Source) -> memoryview:
    return memoryview(source() if callable(source) else source)


def _split(view: memoryview) -> tuple[bytes, memoryview]:
    """A section's head (its first line) and the rest, not copied."""
    end = bytes(view[:4096]).find(b"\n")
    if end < 0:
        end = bytes(view).index(b"\n")
    return bytes(view[:end]), view[end + 1:]
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """Compact JSON, UTF-8 (a value that does not encode: ValueError or TypeError)."""
    return _ENCODER.encode(value).encode("utf-8")


class Codec(Generic[K, V]):
    """How one dict section's keys and values become JSON and back."""

    def __init__(self, key_out: Callable[[K], str], key_in: Callable[[str], K],
                 value_out: Callable[[V], Any], value_in: Callable[[Any], V],
                 mutable: bool) -> None:
        self.key_out, self.key_in = key_out, key_in
        self.value_out, self.value_in = value_out, value_in
        self.mutable = mutable
        """Values may be changed in place (an Area reclassified, a term relieved): those read
        are compared with their stored JSON when the map is encoded again."""

    def encode(self, items: Mapping[K, V]) -> bytes:
        key_out, value_out = self.key_out, self.value_out
        return _indexed({key_out(k): dumps(value_out(v)) for k, v in items.items()})


def _indexed(values: Mapping[str, bytes], body: Bytes = b"",
             index: dict[str, list[int]] | None = None) -> bytes:
    """A dict section: its index (JSON: key -> [offset, length] of the value's JSON in the
    body), a newline, the body. ``values`` (encoded) are appended to ``body``, whose
    ``index`` they update; a body more than half made of replaced values is written anew."""
    index = {} if index is None else dict(index)
    parts = [body]
    at = len(body)
    for key, data in values.items():
        index[key] = [at, len(data)]
        parts.append(data)
        at += len(data)
    if body and sum(length for _, length in index.values()) * 2 < at:
        parts = []
        at = 0
        joined = b"".join([body, *values.values()])
        for entry in index.values():
            parts.append(joined[entry[0]:entry[0] + entry[1]])
            entry[0] = at
            at += entry[1]
    return dumps(index) + b"\n" + b"".join(parts)


class _Whole(MutableMapping[K, V]):
    """What a lazy map does with every key at once: decodes them all (``materialize``,
    which the map then stands aside for) and asks the dict; and with one key: asks its
    ``_value`` (``_MISSING`` for none)."""

    __slots__ = ()

    def materialize(self) -> dict[K, V]:
        raise NotImplementedError

    def _value(self, key: K) -> Any:
        raise NotImplementedError

    def __getitem__(self, key: K) -> V:
        value = self._value(key)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def get(self, key: K, default: Any = None) -> Any:
        value = self._value(key)
        return default if value is _MISSING else value

    def __contains__(self, key: object) -> bool:
        return self._value(key) is not _MISSING  # type: ignore[arg-type]

    def __delitem__(self, key: K) -> None:
        del self.materialize()[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self.materialize())

    def __len__(self) -> int:
        return len(self.materialize())

    def __eq__(self, other: object) -> bool:
        return self.materialize() == other

    __hash__ = None  # type: ignore[assignment]  # as a dict's

    def __repr__(self) -> str:
        return repr(self.materialize())

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[K, V]:
        return copy.deepcopy(self.materialize(), memo)  # a copy is a plain dict


class LazyMap(_Whole[K, V]):
    """A dict section of a loaded snapshot: see the module docstring."""

    __slots__ = ("_body", "_codec", "_deferred", "_index", "_name", "_overlay", "_owner",
                 "_raw", "_read", "_real")

    def __init__(self, owner: Any, name: str, codec: Codec[K, V], raw: Source) -> None:
        self._owner, self._name, self._codec = owner, name, codec
        self._raw: Source = raw  # a memoryview's slices are not copies
        self._index: dict[str, list[int]] | None = None
        self._body = memoryview(b"")
        self._read: dict[K, V] = {}  # values converted from the snapshot
        self._overlay: dict[K, V] = {}  # written since it was loaded
        self._deferred: set[K] = set()  # command ids whose first version the snapshot may hold
        self._real: dict[K, V] | None = None

    # One key -------------------------------------------------------------------------

    def _indexed(self) -> dict[str, list[int]]:
        index = self._index
        if index is None:
            self._raw = _view(self._raw)
            head, self._body = _split(self._raw)
            index = self._index = json.loads(head)
        return index

    def _stored(self, key: K) -> Any:
        """The snapshot's value of ``key`` (converted once), or _MISSING."""
        value = self._read.get(key, _MISSING)
        if value is _MISSING:
            entry = self._indexed().get(self._codec.key_out(key))
            if entry is None:
                return _MISSING
            at, length = entry
            value = self._read[key] = self._codec.value_in(
                json.loads(bytes(self._body[at:at + length])))
        return value

    def _value(self, key: K) -> Any:
        real = self._real
        if real is not None:
            return real.get(key, _MISSING)
        value = self._overlay.get(key, _MISSING)
        if value is _MISSING:
            return self._stored(key)
        if key in self._deferred:
            return self._resolved(key, value)
        return value

    def _resolved(self, key: K, value: Any) -> Any:
        """A command id recorded on the loaded aggregate: its first version is the
        snapshot's, if the snapshot holds the id (folding would have kept that one)."""
        stored: Any = self._stored(key)
        return value if stored is _MISSING else (stored[0], value[1])

    def __setitem__(self, key: K, value: V) -> None:
        if self._real is not None:
            self._real[key] = value
        else:
            self._overlay[key] = value
            self._deferred.discard(key)

    def record_command(self, command_id: K, version: int) -> None:
        """What ``FactAggregate.Event.mutate`` does for a fact's command id, without
        decoding the snapshot's command ids (see the module docstring)."""
        if self._real is not None:
            first = self._real.get(command_id, (version, version))[0]  # type: ignore[index]
            self._real[command_id] = (first, version)  # type: ignore[assignment]
        elif command_id in self._overlay:
            first = self._overlay[command_id][0]  # type: ignore[index]
            self._overlay[command_id] = (first, version)  # type: ignore[assignment]
        else:
            self._overlay[command_id] = (version, version)  # type: ignore[assignment]
            self._deferred.add(command_id)

    # Every key -------------------------------------------------------------------------

    def materialize(self) -> dict[K, V]:
        """Every key decoded, as the plain dict that now stands in the aggregate."""
        real = self._real
        if real is None:
            index, body = self._indexed(), self._body
            # The values' JSON as one array: one parse, in C.
            values = json.loads(b"[" + b",".join(body[at:at + length]
                                                 for at, length in index.values()) + b"]")
            key_in, value_in, read = self._codec.key_in, self._codec.value_in, self._read
            real = {}
            for stored_key, stored in zip(index, values, strict=True):
                key = key_in(stored_key)
                value = read.get(key, _MISSING)
                real[key] = value_in(stored) if value is _MISSING else value
            for key, value in self._overlay.items():
                if key in self._deferred and key in real:
                    value = (real[key][0], value[1])  # type: ignore[index]
                real[key] = value
            self._real = real
            self._index, self._read, self._overlay, self._deferred = None, {}, {}, set()
            self._raw = self._body = memoryview(b"")
            if self._owner.__dict__.get(self._name) is self:
                self._owner.__dict__[self._name] = real
        return real

    # Encoded again ---------------------------------------------------------------------

    def encoded(self) -> bytes:
        """The section's bytes as the map stands now."""
        if self._real is not None:
            return self._codec.encode(self._real)
        codec, changed = self._codec, {}
        if codec.mutable and self._read:
            index, body = self._indexed(), self._body
            for key, value in self._read.items():
                data = dumps(codec.value_out(value))
                at, length = index[codec.key_out(key)]
                if json.loads(data) != json.loads(bytes(body[at:at + length])):
                    changed[codec.key_out(key)] = data
        for key, value in self._overlay.items():
            if key in self._deferred:
                value = self._resolved(key, value)
            changed[codec.key_out(key)] = dumps(codec.value_out(value))
        if not changed:
            return bytes(_view(self._raw))
        index = self._indexed()
        return _indexed(changed, self._body, index)


# Fixed-width records: a fact's time and class by version -----------------------------


class Positional(Generic[V]):
    """How a section keyed by version 1..n keeps one fixed-width ASCII record per
    version: ``text`` gives a value's record, ``value`` reads one back."""

    def __init__(self, text: Callable[[V, list[str]], str],
                 value: Callable[[str, list[str]], V]) -> None:
        self.text, self.value = text, value

    def encode(self, items: Mapping[int, V]) -> bytes | None:
        """Records of versions 1..n (None if the keys are not exactly those, in order)."""
        table: list[str] = []
        records = []
        for expected, (version, value) in enumerate(items.items(), 1):
            if version != expected:
                return None
            records.append(self.text(value, table))
        return _positional(records, table)


def _positional(records: list[str], table: list[str]) -> bytes:
    width = max((len(r) for r in records), default=0)
    head = dumps({"w": width, "n": len(records), "t": table})
    body = "".join(r.ljust(width) for r in records).encode("ascii")
    return head + b"\n" + body


def _time_text(value: datetime, _: list[str]) -> str:
    return value.isoformat()


def _time_value(text: str, _: list[str]) -> datetime:
    return datetime.fromisoformat(text)


def _class_text(value: type, table: list[str]) -> str:
    topic = get_topic(value)
    try:
        return str(table.index(topic))
    except ValueError:
        table.append(topic)
        return str(len(table) - 1)


_classes: dict[str, type] = {}


def _class_value(text: str, table: list[str]) -> type:
    topic = table[int(text)]
    found = _classes.get(topic)
    if found is None:
        found = _classes[topic] = resolve_topic(topic)
    return found


TIMES: Positional[datetime] = Positional(_time_text, _time_value)
CLASSES: Positional[type] = Positional(_class_text, _class_value)


class PositionalMap(_Whole[int, V]):
    """``occurred`` or ``fact_types`` of a loaded snapshot: version -> value, read one
    record at a time (see the module docstring)."""

    __slots__ = (
        "_body",
        "_codec",
        "_count",
        "_name",
        "_overlay",
        "_owner",
        "_raw",
        "_real",
        "_table",
        "_width",
    )

    def __init__(self, owner: Any, name: str, codec: Positional[V], raw: Source) -> None:
        self._owner, self._name, self._codec = owner, name, codec
        self._raw: Source = raw
        self._body = memoryview(b"")
        self._width = self._count = -1  # not read yet
        self._table: list[str] = []
        self._overlay: dict[int, V] = {}
        self._real: dict[int, V] | None = None

    def _read(self) -> None:
        if self._count < 0:
            self._raw = _view(self._raw)
            head, self._body = _split(self._raw)
            meta = json.loads(head)
            self._width, self._count, self._table = meta["w"], meta["n"], meta["t"]

    def _stored(self, version: Any) -> Any:
        self._read()
        if type(version) is not int or not 1 <= version <= self._count:
            return _MISSING
        start = (version - 1) * self._width
        text = bytes(self._body[start:start + self._width]).decode("ascii").rstrip()
        return self._codec.value(text, self._table)

    def _value(self, version: Any) -> Any:
        if self._real is not None:
            return self._real.get(version, _MISSING)
        value = self._overlay.get(version, _MISSING)
        return self._stored(version) if value is _MISSING else value

    def __setitem__(self, version: int, value: V) -> None:
        if self._real is not None:
            self._real[version] = value
        else:
            self._overlay[version] = value

    def materialize(self) -> dict[int, V]:
        real = self._real
        if real is None:
            self._read()
            real = {v: self._stored(v) for v in range(1, self._count + 1)}
            real.update(self._overlay)
            self._real, self._overlay = real, {}
            self._raw = self._body = memoryview(b"")
            if self._owner.__dict__.get(self._name) is self:
                self._owner.__dict__[self._name] = real
        return real

    def encoded(self) -> bytes | None:
        """The section's bytes as the map stands now: the snapshot's with the new versions'
        records appended, while only new versions were written (in order) and their
        records fit the width; else written out whole (None: not positional any more)."""
        if self._real is None:
            self._read()
            overlay, count = self._overlay, self._count
            if not overlay:
                return bytes(_view(self._raw))
            if list(overlay) == list(range(count + 1, count + 1 + len(overlay))):
                table = list(self._table)
                records = [self._codec.text(value, table) for value in overlay.values()]
                if all(len(r) <= self._width for r in records):
                    head = dumps({"w": self._width, "n": count + len(records), "t": table})
                    body = "".join(r.ljust(self._width) for r in records).encode("ascii")
                    return head + b"\n" + self._body + body
        return self._codec.encode(self.materialize())


def materialize(value: Any) -> Any:
    """``value`` as a plain value: a lazy map's dict, anything else as it is."""
    return value.materialize() if isinstance(value, LazyMap | PositionalMap) else value
