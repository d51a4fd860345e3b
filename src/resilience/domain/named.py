"""Published constants that show as their name: ``help(Engine)`` reads
``metrics: Sequence[MetricRef] = BUILT_IN``, not sixteen metric definitions spelled out
over 8,000 characters.

Python shows a default value in a signature (``help``, ``inspect.signature``, a
traceback's locals) by its ``repr``. The built-in defaults (the metrics, rates and review
objectives, the service catalogue, the policy, the escalation policy) are large values, so
their repr buries the signature. Here they keep their value, their type and everything
they do, and change only how they are shown:

- a tuple of built-ins is a ``Named``: a tuple (equal to, hashing like, iterating and
  slicing like the plain tuple of the same items) whose repr is its name. The validation
  rule for lists and tuples takes it exactly as a tuple (``check_items``); it overrides
  nothing a check reads.
- an instance of a class decorated with ``shows_name`` shows as the name it was
  registered under with ``named``; any other instance of the class keeps its full repr.
"""

from collections.abc import Callable, Iterable
from typing import TypeVar, cast, final

T = TypeVar("T")
C = TypeVar("C", bound=type)

_NAMES: dict[int, tuple[object, str]] = {}
"""id -> (the object, its name). The object is held so that its id stays its own."""


@final
class Named(tuple[T, ...]):
    """A tuple shown as the name it is published under (``BUILT_IN``, ``RATES``...)."""

    _name: str

    def __new__(cls, name: str, items: Iterable[T]) -> "Named[T]":
        made = super().__new__(cls, items)
        made._name = name
        return made

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> tuple[Callable[..., "Named[T]"], tuple[str, tuple[T, ...]]]:
        # tuple's own pickling would call Named(items), without the name.
        return Named, (self._name, tuple(self))


def named(value: T, name: str) -> T:
    """``value``, shown as ``name`` from now on if its class is decorated with
    ``shows_name``."""
    _NAMES[id(value)] = (value, name)
    return value


def name_of(value: object) -> str | None:
    """The name ``value`` was registered under with ``named``, if any."""
    entry = _NAMES.get(id(value))
    return entry[1] if entry is not None and entry[0] is value else None


def shows_name(cls: C) -> C:
    """Class decorator: an instance registered with ``named`` shows as its name (other
    instances as the class showed them). Goes above ``@frozen``, which writes the repr."""
    plain = cast(Callable[[object], str], cls.__repr__)

    def __repr__(self: object) -> str:
        return name_of(self) or plain(self)

    __repr__.__qualname__ = f"{cls.__qualname__}.__repr__"
    cls.__repr__ = __repr__  # type: ignore[assignment]
    return cls
