"""An aggregate's state as snapshot sections, and back (lazily: resilience.adapters.lazy).

Every attribute of the aggregate is a section of its own: ``m`` a dict (read key by key),
``p`` one of the two dicts keyed by every version (fixed-width records), ``v`` anything
else (JSON). Values are (un)structured by the attribute's declared type (the aggregate
class's annotations) with the library's converter, attrs values as lists of their
fields: an attribute nobody declared, or one that does not encode, means no snapshot
(the aggregate is folded from its events).

A snapshot is two parts. The **hot** part: ``RSN1``; the header's length (4 bytes,
big-endian); the header (compact JSON: the aggregate's class topic, id, version,
created and modified times, the layout, and each section's name, kind and part); the
lengths of the check and of each hot section (4 bytes each); the check; the sections.
The **cold** part: the lengths and the sections of the dicts that gain an entry with
(nearly) every fact (``occurred``, ``fact_types``, command ids, and the dicts keyed by
version, such as a community's activities): what a command reads least, and what grows
with the history. The hot part is read when the snapshot is loaded; the cold part the
first time one of its sections is read, by the snapshot's version (if it was replaced by
a newer one meanwhile, the aggregate is folded up to that version and the section taken
from it).

The layout is a digest of the class's sections and of every attrs class their values
hold (its fields' names and types): a snapshot written by a version of resilience whose
classes differ is not read.

Sealing (``Sealer``): each section is sealed on its own, bound to the header (its
SHA-256) and its name, so a section moved to another snapshot, or a header changed, does
not open; the check (the header's digest, sealed) vouches for the header. The hot part's
seals are opened when the snapshot is loaded (one that does not open: the snapshot is
ignored, and the aggregate folded from its events), the cold part's when it is read;
each section is decoded the first time it is read.
"""

import functools
import hashlib
import json
import struct
import typing
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple, Protocol, get_args, get_origin
from uuid import UUID

import attrs
from eventsourcing.utils import get_topic, resolve_topic

from resilience.adapters.converter import VALUE_CLASSES, converter
from resilience.adapters.lazy import (
    CLASSES,
    TIMES,
    Bytes,
    Codec,
    LazyMap,
    Positional,
    PositionalMap,
    Source,
    dumps,
)
from resilience.domain.base import FactAggregate

MAGIC = b"RSN1"
_LENGTH = struct.Struct(">I")
_BASE = frozenset({"_id", "_version", "_created_on", "_modified_on", "_pending_events"})
"""eventsourcing's own attributes of an aggregate: kept in the header."""
LAZY = "_lazy"
"""The attribute of a loaded aggregate holding its sections not read yet."""
POSITIONAL: dict[str, Positional[Any]] = {"occurred": TIMES, "fact_types": CLASSES}
"""The dicts every fact adds a version to, kept as fixed-width records."""
COLD = frozenset({"occurred", "fact_types", "commands"})
"""Sections kept in the cold part besides the dicts keyed by version."""
_SCALARS = (str, int, float, bool, datetime, UUID, type(None))

_state = converter.copy()


def _is_class(declared: Any) -> bool:
    """``type[...]``: a class, kept as its topic."""
    return get_origin(declared) is type


def _is_state_value(declared: Any) -> bool:
    """An attrs class of an aggregate's state: kept as the list of its fields' values."""
    return isinstance(declared, type) and attrs.has(declared)


def _fields_out(cls: type) -> Callable[[Any], Any]:
    fields = [(f.name, f.type) for f in attrs.fields(attrs.resolve_types(cls))]
    hooks = [(name, _state.get_unstructure_hook(declared)) for name, declared in fields]
    return lambda value: [hook(getattr(value, name)) for name, hook in hooks]


def _fields_in(cls: type) -> Callable[[Any, Any], Any]:
    """Rebuilt field by field, without the class's validators (as stored values are:
    resilience.adapters.converter)."""
    fields = [(f.name, f.type) for f in attrs.fields(attrs.resolve_types(cls))]
    plan = [(name, declared, _state.get_structure_hook(declared)) for name, declared in fields]

    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, list) or len(value) != len(plan):
            raise ValueError(f"a {cls.__name__} of {len(plan)} fields was expected")
        made: Any = object.__new__(cls)
        for (name, declared, hook), item in zip(plan, value, strict=True):
            object.__setattr__(made, name, hook(item, declared))
        return made
    return structure


_state.register_unstructure_hook_func(_is_class, get_topic)
_state.register_structure_hook_func(_is_class, lambda value, _: resolve_topic(value))
_state.register_unstructure_hook_factory(_is_state_value, _fields_out)
_state.register_structure_hook_factory(_is_state_value, _fields_in)
for _value_class in VALUE_CLASSES:  # the converter's own hooks for them are by class
    _state.register_unstructure_hook(_value_class, _fields_out(_value_class))
    _state.register_structure_hook(_value_class, _fields_in(_value_class))


class Sealer(Protocol):
    """How a snapshot's sections are kept from being read or changed outside the engine."""

    def seal(self, data: Bytes, bound: bytes) -> Bytes: ...

    def open(self, data: Bytes, bound: bytes) -> Bytes:
        """``data`` as sealed; TamperedStoreError if it does not open where it is."""
        ...


class Plain:
    """No key: the sections as they are (an unprotected, unsigned store)."""

    def seal(self, data: Bytes, bound: bytes) -> Bytes:
        return data

    def open(self, data: Bytes, bound: bytes) -> Bytes:
        return data


class Unreadable(Exception):
    """A snapshot that can't be used (another format, another aggregate, cut short)."""


# The sections of one class ----------------------------------------------------------------


@attrs.frozen
class Section:
    name: str
    kind: str
    """``m`` (a dict, read key by key), ``p`` (fixed-width records) or ``v`` (a value)."""
    declared: Any
    codec: Any
    """Codec (m), Positional (p), None (v)."""
    cold: bool
    """Kept in the cold part (see the module docstring)."""


class Layout(NamedTuple):
    sections: tuple[Section, ...]
    digest: str
    """The sections' names, kinds and types, and the fields of every attrs class in them."""


def _mutable(declared: Any) -> bool:
    """May a value of this type change in place (then a value read is compared with its
    stored JSON before the map is encoded again)?"""
    if declared in _SCALARS or get_origin(declared) in (tuple, type):
        return False
    return not (isinstance(declared, type) and issubclass(declared, Enum))


def _key_codec(key: Any) -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    if key is str:
        return str, str
    if key is int:
        return str, int
    return (lambda k: json.dumps(_state.unstructure(k, key), separators=(",", ":")),
            lambda text: _state.structure(json.loads(text), key))


def _described(declared: Any, seen: set[type]) -> str:
    """A type and, for an attrs class, its fields (each once), as text for the digest."""
    text = repr(declared)
    if isinstance(declared, type) and attrs.has(declared) and declared not in seen:
        seen.add(declared)
        text += "{" + ",".join(f"{f.name}:{_described(f.type, seen)}"
                               for f in attrs.fields(attrs.resolve_types(declared))) + "}"
    return text + "".join(_described(arg, seen) for arg in get_args(declared))


@functools.cache
def layout(cls: type) -> Layout | None:
    """The sections of an aggregate class, from the annotations of FactAggregate and its
    subclasses (None: they don't resolve)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        return None
    ours = {name for klass in cls.__mro__ if issubclass(klass, FactAggregate)
            for name in vars(klass).get("__annotations__", {})}
    found = []
    for name, declared in hints.items():
        if name not in ours or name.startswith("_") or get_origin(declared) is typing.ClassVar:
            continue  # eventsourcing's own (the header keeps them), or the class's
        if name in POSITIONAL:
            found.append(Section(name, "p", declared, POSITIONAL[name], True))
        elif get_origin(declared) is dict:
            key, value = get_args(declared)
            key_out, key_in = _key_codec(key)
            codec = Codec(key_out, key_in,
                          functools.partial(_unstructure, value),
                          functools.partial(_structure, value), _mutable(value))
            found.append(Section(name, "m", declared, codec, name in COLD or key is int))
        else:
            found.append(Section(name, "v", declared, None, False))
    seen: set[type] = set()
    described = ";".join(f"{s.name}:{s.kind}:{_described(s.declared, seen)}" for s in found)
    return Layout(tuple(found), hashlib.sha256(described.encode()).hexdigest()[:16])


def sections(cls: type) -> tuple[Section, ...] | None:
    """``layout(cls).sections``."""
    found = layout(cls)
    return None if found is None else found.sections


def _unstructure(declared: Any, value: Any) -> Any:
    return _state.unstructure(value, declared)


def _structure(declared: Any, value: Any) -> Any:
    return _state.structure(value, declared)


# Sections not read yet --------------------------------------------------------------------


class Cold:
    """The cold part of a loaded snapshot, fetched the first time one of its sections is
    read: ``fetch()`` gives its bytes (None: the snapshot was replaced meanwhile), and
    ``fallback()`` the aggregate folded up to the snapshot's version instead."""

    __slots__ = ("_fallback", "_fetch", "_found", "_names", "_opened", "bound", "sealer")

    def __init__(self, names: list[str], bound: bytes, sealer: "Sealer",
                 fetch: Callable[[], Bytes | None], fallback: Callable[[], Any]) -> None:
        self._names, self.bound, self.sealer = names, bound, sealer
        self._fetch, self._fallback = fetch, fallback
        self._opened: dict[str, Bytes] | None = None
        self._found: Any = None

    def opened(self, name: str) -> Bytes | None:
        """The section's bytes, opened (None: taken from the folded aggregate instead)."""
        if self._opened is None and self._found is None:
            try:
                data = self._fetch()
                self._opened = None if data is None else self._split(data)
            except Exception:
                self._opened = None
            if self._opened is None:
                self._found = self._fallback()
        return None if self._opened is None else self._opened[name]

    def folded(self, name: str) -> Any:
        return getattr(self._found, name)

    def _split(self, data: Bytes) -> dict[str, Bytes]:
        view = memoryview(data)
        lengths = [_LENGTH.unpack_from(view, 4 * i)[0] for i in range(len(self._names))]
        at, opened = 4 * len(lengths), {}
        for name, length in zip(self._names, lengths, strict=True):
            opened[name] = self.sealer.open(view[at:at + length], self.bound + name.encode())
            at += length
        if at != len(view):
            raise Unreadable("the cold part is cut short")
        return opened


class Pending:
    """A section of a loaded snapshot not read yet."""

    __slots__ = ("_opened", "bound", "cold", "data", "sealer", "section")

    def __init__(self, section: Section, data: memoryview | None, bound: bytes,
                 sealer: Sealer, cold: Cold | None = None) -> None:
        self.section, self.data, self.bound, self.sealer = section, data, bound, sealer
        self.cold = cold
        self._opened: Bytes | None = None

    def opened(self) -> Bytes | None:
        """The section's bytes, opened (None: a cold section the snapshot no longer has)."""
        if self._opened is None:
            if self.cold is not None:
                return self.cold.opened(self.section.name)
            assert self.data is not None
            self._opened = self.sealer.open(self.data, self.bound)
        return self._opened

    def load(self, owner: Any) -> Any:
        """The attribute's value (a lazy map for ``m`` and ``p``: a cold one fetches the
        cold part only when a key not written since is read)."""
        section = self.section
        if section.kind in ("m", "p"):
            raw: Source = self._source if self.cold is not None else self.opened() or b""
            if section.kind == "m":
                return LazyMap(owner, section.name, section.codec, raw)
            return PositionalMap(owner, section.name, section.codec, raw)
        data = self.opened()
        if data is None:
            assert self.cold is not None
            return self.cold.folded(section.name)
        return _state.structure(json.loads(bytes(data)), section.declared)

    def __deepcopy__(self, memo: dict[int, Any]) -> "Pending":
        return self  # what it holds never changes: a copied aggregate shares it

    def _source(self) -> Bytes:
        """A cold section's bytes: the cold part's, or (replaced meanwhile) the section as
        the aggregate folded up to the snapshot's version holds it."""
        data = self.opened()
        if data is None:
            assert self.cold is not None
            data = _encoded(self.section, self.cold.folded(self.section.name))
            if data is None:
                raise Unreadable(f"{self.section.name} does not encode")
        return data


def materialize(aggregate: Any) -> Any:
    """The aggregate with every section read and decoded into plain values: what folding
    its events gives (``aggregate.__dict__`` compares equal to a folded one's)."""
    state = aggregate.__dict__
    for name in list(state.get(LAZY, {})):
        if name in state:  # set since it was loaded (a fact's apply): the section is stale
            del state[LAZY][name]
            if not state[LAZY]:
                del state[LAZY]
        else:
            getattr(aggregate, name)  # FactAggregate.__getattr__ decodes and keeps it
    for value in list(aggregate.__dict__.values()):
        if isinstance(value, LazyMap | PositionalMap):
            value.materialize()
    return aggregate


# Encoding ---------------------------------------------------------------------------------


class Snapshot(NamedTuple):
    hot: bytes
    cold: bytes


def encode(aggregate: Any, sealer: Sealer) -> Snapshot | None:
    """The aggregate's snapshot (None: it has pending facts, or state the snapshots can't
    keep)."""
    cls: type = type(aggregate)
    found = layout(cls)
    if found is None or aggregate.pending_events:
        return None
    state = aggregate.__dict__
    lazy = state.get(LAZY, {})
    if set(state) - _BASE - {LAZY} - {s.name for s in found.sections}:
        return None  # an attribute nobody declared
    parts: list[Bytes] = []
    for section in found.sections:
        data: Bytes | None = None
        if section.name in state:  # read, or set since it was loaded
            data = _encoded(section, state[section.name])
        elif section.name in lazy:
            data = lazy[section.name].opened()
            if data is None:  # a cold section no longer stored: decoded from the folded one
                data = _encoded(section, getattr(aggregate, section.name))
        if data is None:
            return None  # declared, never set (not a state folding gives), or no JSON
        parts.append(data)
    header = dumps({"topic": get_topic(cls), "id": str(aggregate.id),
                    "version": aggregate.version, "layout": found.digest,
                    "created": aggregate.created_on.isoformat(),
                    "modified": aggregate.modified_on.isoformat(),
                    "sections": [[s.name, s.kind, int(s.cold)] for s in found.sections]})
    digest = hashlib.sha256(header).digest()
    hot: list[Bytes] = [sealer.seal(digest, digest + b"$")]
    cold: list[Bytes] = []
    for section, data in zip(found.sections, parts, strict=True):
        (cold if section.cold else hot).append(sealer.seal(data, digest + section.name.encode()))
    return Snapshot(
        b"".join([MAGIC, _LENGTH.pack(len(header)), header,
                  *(_LENGTH.pack(len(part)) for part in hot), *hot]),
        b"".join([*(_LENGTH.pack(len(part)) for part in cold), *cold]))


def _encoded(section: Section, value: Any) -> Bytes | None:
    try:
        if isinstance(value, LazyMap | PositionalMap):
            return value.encoded()
        if section.kind == "p":
            return typing.cast(Positional[Any], section.codec).encode(value)
        if section.kind == "m":
            return typing.cast(Codec[Any, Any], section.codec).encode(value)
        return dumps(_state.unstructure(value, section.declared))
    except (TypeError, ValueError):
        return None  # a value that does not encode: no snapshot


# Decoding ---------------------------------------------------------------------------------


def decode(data: bytes, sealer: Sealer, aggregate_id: UUID, cls: type,
           cold: Callable[[], Bytes | None] = lambda: None,
           fallback: Callable[[], Any] | None = None) -> Any:
    """The aggregate a snapshot's hot part holds, its sections to be decoded as they are
    read. ``cold`` fetches the cold part (None: gone), ``fallback`` folds the aggregate up
    to the snapshot's version (used then). Unreadable if it is not a snapshot of
    ``aggregate_id``, an instance of ``cls``, of this layout; TamperedStoreError if a seal
    of the hot part does not open (each is opened here: one decoded later never fails)."""
    try:
        if data[:4] != MAGIC:
            raise Unreadable("not a snapshot of this format")
        (size,) = _LENGTH.unpack_from(data, 4)
        header_bytes = data[8:8 + size]
        header = json.loads(header_bytes)
        names = header["sections"]
        hot_names = [name for name, _, cold_part in names if not cold_part]
        at = 8 + size
        lengths = [_LENGTH.unpack_from(data, at + 4 * i)[0] for i in range(len(hot_names) + 1)]
        at += 4 * len(lengths)
        view, parts = memoryview(data), []
        for length in lengths:
            parts.append(view[at:at + length])  # not copied
            at += length
        if at != len(data):
            raise Unreadable("cut short, or with bytes after its sections")
        topic_class = resolve_topic(header["topic"])
        if header["id"] != str(aggregate_id):
            raise Unreadable("the snapshot of another aggregate")
        found = layout(topic_class) if isinstance(topic_class, type) else None
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable(f"not a snapshot: {exc}") from None
    digest = hashlib.sha256(header_bytes).digest()
    if bytes(sealer.open(parts[0], digest + b"$")) != digest:
        raise Unreadable("its check does not match its header")
    if (found is None or not (isinstance(topic_class, type) and issubclass(topic_class, cls))
            or header["layout"] != found.digest
            or [[s.name, s.kind, int(s.cold)] for s in found.sections] != names):
        raise Unreadable("made for another version of the aggregate's class")
    version = int(header["version"])
    aggregate = object.__new__(topic_class)
    state = aggregate.__dict__
    state["_id"] = aggregate_id
    state["_version"] = version
    state["_created_on"] = datetime.fromisoformat(header["created"])
    state["_modified_on"] = datetime.fromisoformat(header["modified"])
    state["_pending_events"] = []
    cold_part = Cold([s.name for s in found.sections if s.cold], digest, sealer, cold,
                     fallback or (lambda: None))
    hot = iter(parts[1:])
    pending = state[LAZY] = {
        s.name: Pending(s, None, b"", sealer, cold_part) if s.cold
        else Pending(s, next(hot), digest + s.name.encode(), sealer)
        for s in found.sections}
    if not isinstance(sealer, Plain):
        for section in pending.values():
            if section.cold is None:
                section.opened()  # every seal checked now, when the snapshot can still be ignored
    return aggregate
