"""What every aggregate here shares: two times per fact, actors, command ids, corrections.

Each event carries ``occurred_at`` (when it happened in the world, supplied
by the caller) besides the library's ``timestamp`` (when it was recorded,
from the engine's injected clock). A correction is a new event naming the
version of the fact it corrects; the aggregate keeps the *effective* time of
every fact so invariants are checked against corrected times.
"""

from datetime import datetime
from typing import Any, ClassVar

from attrs import frozen
from eventsourcing.domain import Aggregate

from resilience.clock import require_aware
from resilience.domain.values import Actor
from resilience.errors import InvalidInputError, InvalidTransitionError, NotFoundError


@frozen
class Context:
    """The circumstances of one command: who, when it happened, when it was recorded, its id."""

    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    command_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.actor, Actor):
            raise InvalidInputError(f"actor must be an Actor, got {self.actor!r}")
        require_aware(self.occurred_at, "occurred_at")
        require_aware(self.recorded_at, "recorded_at")
        if self.command_id is not None and (
            not isinstance(self.command_id, str) or not self.command_id.strip()
        ):
            raise InvalidInputError("command_id must be a non-empty string or None")


def require_text(value: object, name: str) -> str:
    """Return ``value`` stripped, or raise InvalidInputError if it is not a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be a non-empty string, got {value!r}")
    return value.strip()


def require_whole(value: object, name: str, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is a whole number (not a bool) from ``low`` to ``high``
    (inclusive; no upper bound if None), or raise InvalidInputError."""
    if (isinstance(value, bool) or not isinstance(value, int) or value < low
            or (high is not None and value > high)):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise InvalidInputError(f"{name} must be a whole number {bounds}, got {value!r}")
    return value


CORRECTION_EVENTS = frozenset({"TimeCorrected", "DetailsCorrected"})


class FactAggregate(Aggregate):
    """Base of the library's aggregates. Not persisted itself: it has no topic."""

    kind: ClassVar[str] = "aggregate"

    occurred: dict[int, datetime]
    """Effective ``occurred_at`` of each fact by version, corrections applied."""
    kinds: dict[int, str]
    """Event class name of each fact by version, for messages and corrections."""
    commands: dict[str, tuple[int, int]]
    """Command id -> (first version, last version) it recorded."""

    class Event(Aggregate.Event):
        occurred_at: datetime
        actor: Actor
        command_id: str | None

        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            aggregate.occurred[self.originator_version] = self.occurred_at
            aggregate.kinds[self.originator_version] = type(self).__name__
            if self.command_id is not None:
                first, _ = aggregate.commands.get(
                    self.command_id, (self.originator_version, self.originator_version)
                )
                aggregate.commands[self.command_id] = (first, self.originator_version)
            return aggregate

    class TimeCorrected(Event):
        """The fact at version ``corrects`` really happened at ``corrected_to``."""

        corrects: int
        corrected_to: datetime
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.occurred[self.corrects] = self.corrected_to

    class DetailsCorrected(Event):
        """The fact at version ``corrects`` is better described by ``details``."""

        corrects: int
        details: str
        reason: str

    def __init__(self) -> None:
        self.occurred = {}
        self.kinds = {}
        self.commands = {}

    # Queries -----------------------------------------------------------------

    def time_of(self, version: int) -> datetime:
        """Effective time of the fact at ``version``."""
        return self.occurred[version]

    def command_versions(self, command_id: str) -> tuple[int, int] | None:
        """Versions recorded by ``command_id``, or None if that command was never seen."""
        return self.commands.get(command_id)

    # Commands shared by every aggregate ---------------------------------------

    def correct_time(
        self, ctx: Context, corrects: int, corrected_to: datetime, reason: str
    ) -> None:
        """Record that the fact at version ``corrects`` happened at ``corrected_to``."""
        self._check_writable(self.TimeCorrected)
        self._require_correctable(corrects)
        require_aware(corrected_to, "corrected_to")
        reason = require_text(reason, "reason")
        self._check_times(self._times_with(ctx, {corrects: corrected_to}))
        self._trigger(self.TimeCorrected, ctx, corrects=corrects, corrected_to=corrected_to,
                      reason=reason)

    def correct_details(self, ctx: Context, corrects: int, details: str, reason: str) -> None:
        """Record a better description of the fact at version ``corrects``."""
        self._check_writable(self.DetailsCorrected)
        self._require_correctable(corrects)
        self._check_times(self._times_with(ctx, {}))
        self._trigger(self.DetailsCorrected, ctx, corrects=corrects,
                      details=require_text(details, "details"),
                      reason=require_text(reason, "reason"))

    # For subclasses ------------------------------------------------------------

    def _trigger(self, event_class: type[Any], ctx: Context, **fields: Any) -> None:
        self._check_writable(event_class)
        self.trigger_event(
            event_class,
            timestamp=ctx.recorded_at,
            occurred_at=ctx.occurred_at,
            actor=ctx.actor,
            command_id=ctx.command_id,
            **fields,
        )

    def _times_with(self, ctx: Context, moved: dict[int, datetime]) -> dict[int, datetime]:
        """Effective times if a correction (itself a fact at ``ctx.occurred_at``) moved some."""
        times = dict(self.occurred)
        times.update(moved)
        times[self.version + 1] = ctx.occurred_at
        return times

    def _not_before(self, ctx: Context, version: int, what: str) -> None:
        """Refuse a fact dated before the fact at ``version`` (described as ``what``)."""
        if ctx.occurred_at < self.occurred[version]:
            raise InvalidTransitionError(
                f"{ctx.occurred_at.isoformat()} is before {what} "
                f"({self.occurred[version].isoformat()}): times can't go backwards"
            )

    def _name_of(self, version: int) -> str:
        return self.kinds.get(version, "the correction")

    def _check_writable(self, event_class: type[Any]) -> None:
        """Raise if the aggregate's state accepts no event of this class (e.g. closed)."""

    def _check_times(self, times: dict[int, datetime]) -> None:
        """Raise InvalidTransitionError if ``times`` (version -> time) break an invariant."""

    def _require_correctable(self, version: int) -> None:
        if not isinstance(version, int) or version not in self.kinds:
            raise NotFoundError(f"{self.kind} has no fact at version {version!r}")
        if self.kinds[version] in CORRECTION_EVENTS:
            raise InvalidTransitionError(
                f"version {version} is itself a correction; correct the original fact instead"
            )
