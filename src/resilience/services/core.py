"""The load -> decide -> save loop every command goes through, and its receipts."""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from attrs import frozen
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from resilience.clock import Clock, require_aware
from resilience.domain.base import Context, FactAggregate
from resilience.domain.values import Actor
from resilience.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
)

A = TypeVar("A", bound=FactAggregate)


@frozen
class Receipt:
    """What a command recorded: the aggregate and the versions of its new facts.

    Repeating a command with the same ``command_id`` returns an equal receipt
    and records nothing.
    """

    aggregate_id: UUID
    first_version: int
    last_version: int

    @property
    def versions(self) -> range:
        return range(self.first_version, self.last_version + 1)


class Batch:
    """What a batch recorded, known once its block has ended."""

    def __init__(self) -> None:
        self.events_recorded = 0


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _fold(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply events in order. eventsourcing's default projector spends about half of a
    load in a Protocol isinstance check per event; our events are all ours."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class EventStoreApplication(Application[UUID]):
    """The eventsourcing application behind an engine (its name fixes the table names)."""

    name = "resilience"


class Store:
    """An application, a clock, and the command loop shared by the services."""

    def __init__(self, app: EventStoreApplication, clock: Clock) -> None:
        self.app = app
        self.clock = clock
        self._batch: dict[UUID, FactAggregate] | None = None

    @contextmanager
    def batch(self) -> Iterator["Batch"]:
        """Hold every command's facts in memory and save them all in one transaction at the end.

        Either everything in the block is recorded, or (if an exception leaves
        the block, or another writer got there first) nothing is.
        """
        if self._batch is not None:
            raise InvalidTransitionError("batches do not nest")
        self._batch = {}
        result = Batch()
        try:
            yield result
            pending = list(self._batch.values())
        finally:
            self._batch = None
        if pending:
            try:
                recordings = self.app.save(*pending)
            except IntegrityError:
                raise ConflictError(
                    "another writer changed one of the batch's aggregates first; "
                    "nothing of the batch was recorded"
                ) from None
            result.events_recorded = len(recordings)

    def context(
        self, actor: Actor, occurred_at: datetime | None, command_id: str | None
    ) -> Context:
        if not isinstance(actor, Actor):
            raise InvalidInputError(f"actor must be an Actor, got {actor!r}")
        recorded_at = require_aware(self.clock(), "clock()")
        happened = recorded_at if occurred_at is None else require_aware(occurred_at, "occurred_at")
        return Context(actor, happened, recorded_at, command_id)

    def load(self, cls: type[A], aggregate_id: UUID) -> A:
        if not isinstance(aggregate_id, UUID):
            raise InvalidInputError(f"{cls.kind} id must be a UUID, got {aggregate_id!r}")
        held = self._batch.get(aggregate_id) if self._batch is not None else None
        if held is not None:
            if not isinstance(held, cls):
                raise NotFoundError(f"{aggregate_id} is {_a(held.kind)}, not {_a(cls.kind)}")
            return held
        try:
            aggregate: object = self.app.repository.get(aggregate_id, projector_func=_fold)
        except AggregateNotFoundError:
            raise NotFoundError(f"no {cls.kind} with id {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            found = getattr(type(aggregate), "kind", type(aggregate).__name__)
            raise NotFoundError(f"{aggregate_id} is {_a(found)}, not {_a(cls.kind)}")
        return aggregate

    def exists(self, aggregate_id: UUID) -> bool:
        if self._batch is not None and aggregate_id in self._batch:
            return True
        return aggregate_id in self.app.repository

    def create(self, cls: type[A], aggregate_id: UUID, ctx: Context,
               build: Callable[[], A]) -> Receipt:
        """Record a new aggregate, or return the original receipt of a repeated command."""
        if self.exists(aggregate_id):
            repeated = self._repeated(cls, aggregate_id, ctx)
            if repeated is not None:
                return repeated
            raise AlreadyExistsError(f"a {cls.kind} with id {aggregate_id} already exists")
        aggregate = build()
        return self._save(cls, aggregate, ctx, 1)

    def change(self, cls: type[A], aggregate_id: UUID, ctx: Context,
               decide: Callable[[A], None]) -> Receipt:
        """Load, let the aggregate decide, save; a repeated command id records nothing."""
        aggregate = self.load(cls, aggregate_id)
        if ctx.command_id is not None:
            seen = aggregate.command_versions(ctx.command_id)
            if seen is not None:
                return Receipt(aggregate.id, *seen)
        first = aggregate.version + 1
        decide(aggregate)
        return self._save(cls, aggregate, ctx, first)

    def _save(self, cls: type[A], aggregate: A, ctx: Context, first: int) -> Receipt:
        if self._batch is not None:
            self._batch[aggregate.id] = aggregate
            return Receipt(aggregate.id, first, aggregate.version)
        try:
            self.app.save(aggregate)
        except IntegrityError:
            repeated = self._repeated(cls, aggregate.id, ctx)
            if repeated is not None:
                return repeated
            raise ConflictError(
                f"{cls.kind} {aggregate.id} was changed by another writer since it was "
                "loaded; nothing was recorded: reload and retry the command"
            ) from None
        return Receipt(aggregate.id, first, aggregate.version)

    def _repeated(self, cls: type[A], aggregate_id: UUID, ctx: Context) -> Receipt | None:
        if ctx.command_id is None:
            return None
        seen = self.load(cls, aggregate_id).command_versions(ctx.command_id)
        return Receipt(aggregate_id, *seen) if seen is not None else None



class AggregateService(Generic[A]):
    """Commands on one kind of aggregate; subclasses add one short method per command."""

    aggregate_class: type[A]

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, aggregate_id: UUID) -> A:
        """The aggregate as it is now (all its facts, corrections applied)."""
        return self._store.load(self.aggregate_class, aggregate_id)

    def _run(
        self, aggregate_id: UUID, actor: Actor, occurred_at: datetime | None,
        command_id: str | None, decide: Callable[[A, Context], None],
    ) -> Receipt:
        ctx = self._store.context(actor, occurred_at, command_id)
        return self._store.change(self.aggregate_class, aggregate_id, ctx,
                                  lambda aggregate: decide(aggregate, ctx))

    def correct_time(
        self, aggregate_id: UUID, corrects: int, corrected_to: datetime, reason: str, *,
        actor: Actor, occurred_at: datetime | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record that the fact at version ``corrects`` really happened at ``corrected_to``."""
        return self._run(aggregate_id, actor, occurred_at, command_id,
                         lambda a, ctx: a.correct_time(ctx, corrects, corrected_to, reason))

    def correct_details(
        self, aggregate_id: UUID, corrects: int, details: str, reason: str, *,
        actor: Actor, occurred_at: datetime | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record a better description of the fact at version ``corrects``."""
        return self._run(aggregate_id, actor, occurred_at, command_id,
                         lambda a, ctx: a.correct_details(ctx, corrects, details, reason))
