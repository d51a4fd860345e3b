"""The exceptions `resilience` raises.

Every rejected command raises a subclass of :class:`ResilienceError` and
records no event, so callers can catch the base class at the edge of their
app and the specific classes where they can do something about them.
"""


class ResilienceError(Exception):
    """Base class of every error this library raises on purpose."""


class InvalidInputError(ResilienceError, ValueError):
    """A command's arguments are malformed (naive datetime, unknown role, bad rating...)."""


class NotFoundError(ResilienceError, LookupError):
    """The community, incident, order, person or area named does not exist."""


class NotInReportError(NotFoundError, KeyError):
    """A report has no row for the group, metric or rate asked for: ``report.row(grid="9")``
    when grid 9 had no case in the period, ``card.metric("x")`` for a metric the scorecard
    was not computed with.

    A NotFoundError, and a KeyError too, so an ``except KeyError`` written before it
    existed still catches it; its message reads as a sentence (KeyError quotes its
    argument, as it does a missing key)."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class AlreadyExistsError(ResilienceError):
    """Something with that identity was already registered."""


class InvalidTransitionError(ResilienceError):
    """The command is well formed but not allowed in the aggregate's current state."""


class ConflictError(ResilienceError):
    """Another writer changed the aggregate first; reload and retry the command."""


class ScenarioError(ResilienceError):
    """A scenario file is malformed or one of its entries was rejected.

    ``entry`` is the 1-based index of the offending action (``None`` for
    file-level problems) and ``line`` its line in the file when known.
    """

    def __init__(self, message: str, *, entry: int | None = None, line: int | None = None):
        where = []
        if entry is not None:
            where.append(f"entry {entry}")
        if line is not None:
            where.append(f"line {line}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)
        self.entry = entry
        self.line = line
        self.problem = message
        """The message without where it is (what a translated error line words again)."""


class ConfigurationError(ResilienceError):
    """The store URL or an environment setting is not understood."""


class StoreUnavailableError(ResilienceError):
    """The store could not be read or written in time (busy with another writer, or
    unreachable); nothing was changed. Retry, or read views as they stand
    (``Engine(fresh_views=False)``)."""


class ReadOnlyStoreError(ResilienceError):
    """The store takes no writes: the engine was opened on a PostgreSQL hot standby (a
    streaming replica), where reports read the views the primary's follower keeps, but
    commands, checkpoints and catching up the views must go to the primary. Nothing was
    recorded (docs/scale-out.md)."""


class UnreadableEventError(ResilienceError):
    """A stored event cannot be decoded: the store is encrypted and no or a wrong cipher
    key was given, or the event was written by a version of this library whose classes
    this one cannot resolve. Nothing was changed."""


class PermissionDeniedError(ResilienceError, PermissionError):
    """The actor may not do this, there and then (resilience.domain.policy); nothing was
    recorded. The message says who, in which role, what, where, and why."""


class ProtectedStoreError(ConfigurationError):
    """The store protects personal data and the engine was opened without its key, or with a
    wrong one: nothing was read or written."""


class ErasedPersonError(InvalidTransitionError):
    """The command would record personal data about a person who was erased."""


class TamperedStoreError(ResilienceError):
    """The store was altered outside the library: its events no longer match the hash chain
    or its checkpoints (``engine.verify(raise_on_failure=True)``, ``engine.checkpoint()``),
    or, on a protected store, a sealed view document or a wrapped key does not open.
    Nothing was recorded."""
