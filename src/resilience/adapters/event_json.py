"""How an event is written: its state (a dict) and the JSON text of it, compiled per class.

The rule is resilience.adapters.mapper's: the state of an event is
``converter.unstructure(event)`` without its identity (``originator_id`` and
``originator_version``, the stored event's own columns), with ``class_version`` last
when the class's is above 1, and the stored text is that state as compact JSON
(``separators=(",", ":")``, ``ensure_ascii=False``). This module computes exactly that,
faster, for the bulk path (resilience.services.core's batches record thousands of events
per transaction, and the converter's per-field dispatch and the JSON encoder's set-up
per call cost more there than the insert):

- ``state`` is compiled once per class from the converter's own hooks: each field read
  once, a hook inlined where it is a plain call (cattrs' ``identity``, a datetime's
  ``isoformat``, cattrs' optional hook ``None if val is None else handler(val)``), any
  other hook called as the converter would call it.
- ``text`` writes the JSON text of that state directly, field by field, where a field's
  value has an exact type whose JSON text is plain (``str`` and ``StrEnum`` members:
  the encoder's own ``encode_basestring``; ``int``: ``int.__repr__``; ``True``,
  ``False``, None; a datetime's ISO text; a tuple of texts); anything else is written by
  the JSON encoder itself (``json_text``), as it would be inside the whole state, for
  compact JSON is the same text wherever a value stands in it.

Both equal the converter and the encoder, key for key, in order, byte for byte
(tests/test_bulk_fast.py, over every event class and generated values).
"""

import dataclasses
import json
import typing
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from json.encoder import encode_basestring
from typing import Any

from cattrs.fns import identity
from eventsourcing.utils import get_topic

from resilience.adapters.converter import converter
from resilience.domain.validation import ZONES
from resilience.domain.values import Actor

IDENTITY = ("originator_id", "originator_version")
"""The event's fields the stored event keeps in columns of its own, not in its state."""

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)
"""Compact JSON. An event's state is a tree the converter just built, never a cycle, so
it isn't checked for one."""
_make = getattr(json.encoder, "c_make_encoder", None)
_encode: Callable[[Any, int], Any] | None = None if _make is None else _make(
    None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, True)
"""The C encoder ``_ENCODER.encode`` makes on every call, made once."""


def json_text(value: Any) -> str:
    """``value`` as compact JSON: ``_ENCODER.encode(value)``, without making the encoder
    anew for each value."""
    if _encode is None:  # pragma: no cover (CPython has the C encoder)
        return _ENCODER.encode(value)
    return "".join(_encode(value, 0))


class EventEncoder:
    """How one event class is written: its topic, ``state(event)`` (the dict the converter
    gives, identity left out) and ``text(event)`` (that dict as compact JSON)."""

    __slots__ = ("state", "text", "topic")

    def __init__(self, event_class: type[Any]) -> None:
        self.topic = get_topic(event_class)
        hints = typing.get_type_hints(event_class)
        names: dict[str, Any] = {
            "_s": encode_basestring, "_j": json_text, "_r": int.__repr__,
            "_iso": datetime.isoformat, "_moment": _moment, "_texts": _texts,
            "_NULL": "null", "_TRUE": "true", "_FALSE": "false"}

        def bind(value: Any) -> str:
            name = f"_h{len(names)}"
            names[name] = value
            return name

        counter = iter(range(1_000_000))

        def fresh() -> str:
            return f"v{next(counter)}"

        values, texts = [], []
        for item in dataclasses.fields(event_class):
            if item.name in IDENTITY:
                continue
            if not item.name.isidentifier():  # pragma: no cover (dataclass fields are)
                raise TypeError(f"{event_class}: field {item.name!r}")
            declared = hints[item.name]
            hook = converter.get_unstructure_hook(declared)
            values.append(f"{item.name!r}: {_value(hook, f'e.{item.name}', bind)}")
            texts.append((encode_basestring(item.name),
                          _text(hook, declared, f"e.{item.name}", bind, fresh)))
        class_version = getattr(event_class, "class_version", 1)
        if class_version > 1:
            values.append(f"'class_version': {class_version!r}")
            texts.append((encode_basestring("class_version"), repr(class_version)))
        # The text as one f-string: its literal parts are JSON punctuation and the keys
        # (identifiers), its expressions use bound names only (no quote, no backslash).
        parts = ",".join(f"{key}:{{{expression}}}" for key, expression in texts)
        source = (f"def state(e):\n    return {{{', '.join(values)}}}\n"
                  f"def text(e):\n    return f'{{{{{parts}}}}}'\n")
        exec(compile(source, f"<encoder of {self.topic}>", "exec"), names)
        self.state: Callable[[Any], dict[str, Any]] = names["state"]
        self.text: Callable[[Any], str] = names["text"]


_encoders: dict[type[Any], EventEncoder] = {}


def encoder_for(event_class: type[Any]) -> EventEncoder:
    """The class's encoder, compiled the first time it is asked for."""
    encoder = _encoders.get(event_class)
    if encoder is None:
        encoder = _encoders[event_class] = EventEncoder(event_class)
    return encoder


def _value(hook: Any, value: str, bind: Callable[[Any], str]) -> str:
    """The expression of ``hook`` applied to ``value`` (an attribute read or a name)."""
    if hook is identity:
        return value
    if hook is datetime.isoformat:
        return f"_iso({value})"
    inner = _optional(hook)
    if inner is not None:
        unstructured = _value(inner, "v", bind)
        return value if unstructured == "v" else \
            f"(None if (v := {value}) is None else {unstructured})"
    return f"{bind(hook)}({value})"


def _optional(hook: Any) -> Any:
    """The handler of cattrs' optional hook (``unstructure_optional``), else None."""
    defaults = getattr(hook, "__defaults__", None)
    if getattr(hook, "__name__", None) == "unstructure_optional" and defaults:
        return defaults[0]
    return None


def _text(hook: Any, declared: Any, value: str, bind: Callable[[Any], str],
          fresh: Callable[[], str]) -> str:
    """The expression of the JSON text of ``hook`` applied to ``value``."""
    if hook is identity:
        if declared is str or (isinstance(declared, type) and issubclass(declared, str)
                               and issubclass(declared, Enum)):
            v = fresh()  # an exact str, or a member of the declared vocabulary: its text
            return f"(_s({v}) if type({v} := {value}) is {bind(declared)} else _j({v}))"
        if declared is int:
            v = fresh()
            return f"(_r({v}) if type({v} := {value}) is int else _j({v}))"
        if declared is bool:
            v = fresh()
            return f"(_TRUE if ({v} := {value}) is True else _FALSE if {v} is False else _j({v}))"
        return f"_j({value})"
    if hook is datetime.isoformat:
        return f"_moment({value})"
    inner = _optional(hook)
    if inner is not None:
        v = fresh()
        other = next(a for a in typing.get_args(declared) if a is not type(None))
        return f"(_NULL if ({v} := {value}) is None else {_text(inner, other, v, bind, fresh)})"
    if hook is list:
        return f"_texts({value})"
    if declared is Actor:
        texts = _actor_texts.get(hook)
        if texts is None:
            texts = _actor_texts[hook] = _ActorText(hook)
        return f"{bind(texts)}({value})"
    return f"_j({bind(hook)}({value}))"


def _texts(value: Any) -> str:
    """The JSON text of ``list(value)`` (a tuple field's unstructured form)."""
    if type(value) is tuple:
        if not value:
            return "[]"
        if all(type(item) is str for item in value):
            return f"[{','.join(map(encode_basestring, value))}]"
    return json_text(list(value))


class _MomentText:
    """The JSON text of a moment (its ISO text, quoted), kept for the two moments last
    written: the events of a command share its moments, and a batch's commands often
    share the recorded one. Only exact datetimes in the zones a moment may carry (see
    resilience.domain.validation) are kept: their text never changes."""

    __slots__ = ("_before", "_last")

    def __init__(self) -> None:
        self._last: tuple[Any, str] = (None, "")
        self._before: tuple[Any, str] = (None, "")

    def __call__(self, moment: Any) -> str:
        last = self._last  # each a pair read at once: threads may replace them meanwhile
        if last[0] is moment:
            return last[1]
        before = self._before
        if before[0] is moment:  # kept first from now on: a batch's recorded moment stays
            self._before, self._last = last, before
            return before[1]
        text = encode_basestring(datetime.isoformat(moment))
        if type(moment) is datetime and type(moment.tzinfo) in ZONES:
            self._before, self._last = last, (moment, text)
        return text


_moment = _MomentText()


class _ActorText:
    """The JSON text of an actor, kept for the actor objects last written: a batch's
    events carry few actors, each object many times. Keyed by the object itself (held,
    so its id is not reused), frozen, so its text never changes."""

    __slots__ = ("_hook", "_texts")

    def __init__(self, hook: Callable[[Any], Any]) -> None:
        self._hook = hook
        self._texts: dict[int, tuple[Any, str]] = {}

    def __call__(self, actor: Any) -> str:
        kept = self._texts.get(id(actor))
        if kept is not None and kept[0] is actor:
            return kept[1]
        text = json_text(self._hook(actor))
        if type(actor) is Actor:  # exactly: a subclass could be changed after writing
            if len(self._texts) >= 256:
                self._texts.clear()
            self._texts[id(actor)] = (actor, text)
        return text


_actor_texts: dict[Any, _ActorText] = {}
"""One cache of actors' texts per actor hook (there is one: the converter's)."""
