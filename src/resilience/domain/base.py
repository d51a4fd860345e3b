"""What every aggregate here shares: two times per fact, actors, command ids, corrections.

Each event carries ``occurred_at`` (when it happened in the world, supplied
by the caller) besides the library's ``timestamp`` (when it was recorded,
from the engine's injected clock). A correction is a new event naming the
version of the fact it corrects; the aggregate keeps the *effective* time of
every fact so invariants are checked against corrected times.
"""

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol, Self, TypeVar
from uuid import UUID

import attrs
from attrs import frozen
from eventsourcing.domain import (
    Aggregate,
    CanMutateAggregate,
    DomainEvent,
    OriginatorIDError,
    OriginatorVersionError,
    ProgrammingError,
)
from eventsourcing.utils import TopicError, get_topic, resolve_topic

from resilience.domain.validation import (
    check_event,
    check_instance,
    check_moment,
    check_text,
    check_uuid,
    check_whole,
    event_plan,
    require_text,
    shown,
)
from resilience.domain.values import Actor
from resilience.errors import InvalidInputError, InvalidTransitionError, NotFoundError
from resilience.i18n import N_, _


@frozen
class Context:
    """The circumstances of one command: who, when it happened, when it was recorded, its id."""

    actor: Actor
    occurred_at: datetime
    recorded_at: datetime
    command_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if type(self.actor) is not Actor:  # (check_instance's test, before its call)
            check_instance(self.actor, "actor", Actor)
        check_moment(self.occurred_at, "occurred_at")
        check_moment(self.recorded_at, "recorded_at")
        if self.command_id is not None and not check_text(self.command_id, "command_id").strip():
            raise InvalidInputError(_("command_id must be a non-empty string or None"))

    def moved(self, occurred_at: datetime) -> "Context":
        """This context with another ``occurred_at``: one the engine worked out from this
        context's checked moments and the aggregate's (``max`` of them), so not checked
        again (a policy check asks for it once per command)."""
        if occurred_at is self.occurred_at:
            return self
        moved: Context = object.__new__(Context)
        for name, value in (("actor", self.actor), ("occurred_at", occurred_at),
                            ("recorded_at", self.recorded_at), ("command_id", self.command_id)):
            object.__setattr__(moved, name, value)
        return moved


T = TypeVar("T")


class Happening(Protocol):
    """A fact placed in time: its effective ``occurred_at`` and its version."""

    @property
    def occurred_at(self) -> datetime: ...

    @property
    def version(self) -> int: ...


class FactTime(NamedTuple):
    """A fact's effective time and version, where only those are at hand (an aggregate's)."""

    occurred_at: datetime
    version: int


def happening_order(fact: Happening) -> tuple[datetime, int]:
    """Sort key of a fact in the order things happened: its effective time, the recording
    order (its version) breaking ties. Timelines, cases, replays and reviews all read
    facts in this order, so a late record or a time correction moves a fact to where it
    happened."""
    return fact.occurred_at, fact.version


H = TypeVar("H", bound=Happening)


def in_cycles(facts: Iterable[H], reopens: Callable[[H], bool]) -> list[list[H]]:
    """The facts in the order things happened (``happening_order``), cut into **cycles**:
    cycle 0 is the first response, and each fact that ``reopens`` begins the next cycle
    and is its first fact. So a fact's cycle is the number of reopenings that happened
    before it (or are it); a late record or a time correction puts a fact in the cycle
    it happened in. The aggregates, cases, timelines and replays all cut cycles here."""
    cycles: list[list[H]] = [[]]
    for fact in sorted(facts, key=happening_order):
        if reopens(fact):
            cycles.append([])
        cycles[-1].append(fact)
    return cycles


class _FactName:
    """An event class's ``fact_name``: the last segment of its topic, worked out once per class.

    Views, metric definitions and timelines name facts by it, never by the Python
    class name: a class renamed with its topic kept (an explicit ``TOPIC``) keeps
    its fact name, so stored views and definitions still match its facts.
    """

    def __init__(self) -> None:
        self._names: dict[type, str] = {}

    def __get__(self, instance: object, owner: type) -> str:
        try:
            return self._names[owner]
        except KeyError:
            # "resilience.incident:Contained" -> "Contained" (also after a qualname's dot).
            name = self._names[owner] = get_topic(owner).rpartition(":")[2].rpartition(".")[2]
            return name


@frozen
class CaseMilestone:
    """A case milestone an event class marks: its ``name``, as metric definitions name it
    ("contained"), and what it ``means`` ("the incident was contained"). Declared on the
    class, so the metrics list and measure it with no other edit."""

    name: str
    meaning: str


class Correction:
    """What the corrections (``TimeCorrected``, ``DetailsCorrected``) are: facts naming the
    version of the fact they correct (``corrects``), themselves never corrected.

    A plain mix-in, not an event class: eventsourcing would copy an event class declared
    on FactAggregate onto each aggregate, under the aggregate's ``Event`` topic.
    """

    corrects: int


def personal_data(declared: Mapping[str, str]) -> Mapping[str, str]:
    """An event class's ``personal`` declaration (read-only: it is the class's)."""
    return MappingProxyType(dict(declared))


_personal_fields: dict[type, dict[str, str]] = {}


def personal_fields(event_class: type) -> Mapping[str, str]:
    """Every personal field of ``event_class``: the ``personal`` declarations of the class
    and of its bases, merged (a class's own declaration of a path wins)."""
    try:
        return _personal_fields[event_class]
    except KeyError:
        merged: dict[str, str] = {}
        for klass in reversed(event_class.__mro__):
            merged.update(vars(klass).get("personal", {}))
        _personal_fields[event_class] = merged
        return merged


def _at(value: Any, path: str) -> Any:
    """What a dotted ``path`` leads to from ``value`` (None where a step is missing)."""
    for step in path.split("."):
        if value is None:
            return None
        value = value[int(step)] if isinstance(value, tuple) else getattr(value, step, None)
    return value


def personal_values(event: Any) -> list[tuple[str, str | None, str]]:
    """The fact's personal values as ``(path, subject, value)``: ``subject`` is the person
    id the value belongs to (None where the declared field holds none, e.g. a care card's
    office contact). A tuple field gives one value per item (path ``"skills.0"``). Empty
    texts and absent (None) values are left out: they say nothing about anyone."""
    found: list[tuple[str, str | None, str]] = []
    for path, whose in personal_fields(type(event)).items():
        value = _at(event, path)
        if not value:
            continue
        subject = _at(event, "actor.person_id" if whose == "actor" else whose)
        if not isinstance(subject, str):
            subject = None
        if isinstance(value, tuple):
            found.extend((f"{path}.{i}", subject, item)
                         for i, item in enumerate(value) if isinstance(item, str) and item)
        elif isinstance(value, str):
            found.append((path, subject, value))
    return found


Placeholder = str | Callable[[str, str | None, str], str]
"""What ``masked`` puts in place of a personal value: a text, or a function of the value's
``(path, subject, value)`` giving its text."""


def masked(event: T, placeholder: Placeholder = "[hidden]",
           keep: Callable[[str | None], bool] = lambda subject: False) -> T:
    """A copy of ``event`` with every personal value (``personal_values``) whose subject is
    not kept by ``keep`` replaced by ``placeholder``; the event itself if none is."""
    for path, subject, value in personal_values(event):
        if not keep(subject):
            text = placeholder if isinstance(placeholder, str) else placeholder(
                path, subject, value)
            event = _replaced(event, path.split("."), text)
    return event


def _replaced(value: Any, path: list[str], new: Any) -> Any:
    """A copy of ``value`` (an event, an attrs value or a tuple) with ``new`` at ``path``."""
    step, rest = path[0], path[1:]
    if isinstance(value, tuple):
        items = list(value)
        items[int(step)] = _replaced(items[int(step)], rest, new) if rest else new
        return tuple(items)
    inner = _replaced(getattr(value, step), rest, new) if rest else new
    if attrs.has(type(value)):
        return attrs.evolve(value, **{step: inner})
    return dataclasses.replace(value, **{step: inner})


_does_nothing = CanMutateAggregate.apply
"""eventsourcing's ``apply`` of an event, which does nothing."""
_inert: dict[type, bool] = {}


def keeps_nothing(event_class: type[Any]) -> bool:
    """Does a fact of ``event_class`` change its aggregate only as every fact does (its
    effective time, its class, its command id and the version, in ``FactAggregate.Event``'s
    ``mutate``)? True when the class has no ``apply`` of its own (nor a base's but
    eventsourcing's, which does nothing), no other ``mutate`` and no ``status_after``: an
    action taken, a note, a details correction."""
    found = _inert.get(event_class)
    if found is None:
        found = _inert[event_class] = (
            event_class.apply is _does_nothing
            and event_class.mutate is FactAggregate.Event.mutate
            and event_class.status_after is None)
    return found


_CONTEXT_FIELDS = ("originator_id", "originator_version", "timestamp", "occurred_at",
                   "actor", "command_id")
"""The fields ``FactAggregate._trigger`` sets from the aggregate and the context."""
_new = object.__new__


class _Trigger:
    """How ``FactAggregate._trigger`` triggers one event class on one aggregate class,
    worked out once: eventsourcing's checks of the pair (``_register``), the checks of the
    command's own fields (``check_event``'s, in the class's order: the context's were
    checked when it was made), and ``own``, the names of the command's own fields when the
    class's ``__init__`` is the dataclass's, setting exactly its fields with no default,
    the context's first, and its ``__post_init__`` eventsourcing's (None: the event is
    made by calling the class)."""

    __slots__ = ("event_class", "order", "own", "plan")

    def __init__(self, aggregate_class: type, event_class: type[Any]) -> None:
        _register(aggregate_class, event_class)
        self.event_class = event_class
        self.plan = tuple(entry for entry in event_plan(event_class)
                          if entry[0] not in _CONTEXT_FIELDS)
        self.own: frozenset[str] | None = None
        self.order: tuple[str, ...] = ()
        """The names of ``own`` in the order the class declares them."""
        fields = dataclasses.fields(event_class)
        names = tuple(f.name for f in fields)
        init = getattr(event_class.__init__, "__code__", None)
        if (init is not None and init.co_filename == "<string>"
                and init.co_varnames[1:init.co_argcount + init.co_kwonlyargcount] == names
                and all(f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING for f in fields)
                and names[:len(_CONTEXT_FIELDS)] == _CONTEXT_FIELDS
                and event_class.__post_init__ is DomainEvent.__post_init__):
            self.own = frozenset(names[len(_CONTEXT_FIELDS):])
            self.order = names[len(_CONTEXT_FIELDS):]

    def made(self, originator_id: Any, version: int, ctx: Context,
             fields: dict[str, Any]) -> Any:
        """The event: the context's fields and the command's ``fields``."""
        if self.own is not None and fields.keys() == self.own and type(originator_id) is UUID:
            # The dataclass's __init__, which sets each field through object.__setattr__
            # (the event is frozen), and eventsourcing's __post_init__ (a UUID id), in one.
            event = _new(self.event_class)
            state = event.__dict__
            state["originator_id"] = originator_id
            state["originator_version"] = version
            state["timestamp"] = ctx.recorded_at
            state["occurred_at"] = ctx.occurred_at
            state["actor"] = ctx.actor
            state["command_id"] = ctx.command_id
            for name in self.order:
                state[name] = fields[name]
            return event
        return self.event_class(originator_id=originator_id, originator_version=version,
                                timestamp=ctx.recorded_at, occurred_at=ctx.occurred_at,
                                actor=ctx.actor, command_id=ctx.command_id, **fields)


def trigger_plan(aggregate_class: type, event_class: type[Any]) -> _Trigger:
    """How ``FactAggregate._trigger`` triggers ``event_class`` on ``aggregate_class``."""
    how = _triggers.get((aggregate_class, event_class))
    if how is None:
        how = _triggers[aggregate_class, event_class] = _Trigger(aggregate_class, event_class)
    return how


_triggers: dict[tuple[type, type], _Trigger] = {}


def _register(aggregate_class: type, event_class: type[Any]) -> None:
    """eventsourcing's checks of an event class about to be triggered on an aggregate of
    ``aggregate_class`` (ProgrammingError), made once: an aggregate class named by an
    explicit topic triggers only registered event classes, never its base ``Event``."""
    if getattr(aggregate_class, "TOPIC", None):
        if event_class.__name__ == "Event":
            raise ProgrammingError("Triggering base 'Event' class is prohibited.")
        topic = getattr(event_class, "TOPIC", None)
        if not topic:
            raise ProgrammingError(f"Explicit topic not defined on {event_class}")
        try:
            resolved = resolve_topic(topic)
        except TopicError:
            raise ProgrammingError(
                f"Explicit topic '{topic}' on {event_class} is not registered") from None
        if resolved is not event_class:
            raise ProgrammingError(f"Explicit topic '{topic}' on {event_class} already "
                                   f"registered for {resolved}")


class FactAggregate(Aggregate):
    """Base of the library's aggregates. Not persisted itself: it has no topic."""

    kind: ClassVar[str] = N_("aggregate")
    """What the aggregate is called in messages ("service order has no fact at version 9"):
    marked for the catalog, translated where a message shows it."""
    beginning: ClassVar[str] = N_("the first fact")
    """Its first fact in "nothing can happen before ..." messages ("detection"): marked for
    the catalog, translated where a message shows it."""

    occurred: dict[int, datetime]
    """Effective ``occurred_at`` of each fact by version, corrections applied."""
    commands: dict[str, tuple[int, int]]
    """Command id -> (first version, last version) it recorded."""

    class Event(Aggregate.Event):
        """A fact. What it means beyond its fields is declared on its class, so views,
        metrics and timelines pick it up from there (docs/concepts.md, "How to add an
        event"): its wording (``describe``), what the ``cases`` view keeps of it
        (``detail``), and the class variables below."""

        occurred_at: datetime
        actor: Actor
        command_id: str | None
        fact_name = _FactName()

        aggregate_kind: ClassVar[str]
        """The kind of aggregate the fact belongs to, as the views name its documents
        ("incident", "order", "community", "improvement"): set on each aggregate's
        ``Event`` base."""
        noun: ClassVar[str | None] = None
        """The fact as a noun in messages about the order of facts (the order's
        "placement", the incident's "resolution"): marked for the catalog (``N_``),
        translated where a message shows it."""
        step: ClassVar[bool] = False
        """The fact is a step of the aggregate's life (an incident's resolution, closure
        and reopening; each of an order's moves): a step is dated no earlier than the
        step recorded before it, so recording order is time order for steps."""
        reopens: ClassVar[bool] = False
        """The fact reopens the aggregate (its ``Reopened``): it starts a new cycle, and is
        what a closed aggregate needs before anything dated after its closure."""
        ends: ClassVar[bool] = False
        """The fact ends the aggregate's current cycle for the response (an incident's
        resolution and closure; an order's completion, cancellation and rejection): no
        deadline is needed after it, and the case leaves the ``live`` view until a
        reopening (resilience.domain.escalation)."""
        follows_closure: ClassVar[bool] = False
        """The fact follows the response (a recovery link: resilience.domain.recovery): it
        is recorded whether or not the aggregate stands closed, and a time correction may
        move it past the closure; never an amendment, it needs no reopen."""
        correctable: ClassVar[bool] = True
        """Its time and details may be corrected (``correct_time``, ``correct_details``);
        False for the watch's escalations, its record of the trusted clock."""
        status_after: ClassVar[StrEnum | None] = None
        """The status the aggregate is in after the fact (orders and improvement items;
        None: the fact leaves it as it was)."""
        milestone: ClassVar[CaseMilestone | None] = None
        """The case milestone (resilience.metrics.cases) its earliest occurrence marks."""
        last_milestone: ClassVar[CaseMilestone | None] = None
        """The case milestone its latest occurrence since the last reopening marks."""
        notice: ClassVar[str | None] = None
        """The kind of notification the fact is for an importing app (``"incident.new"``,
        ``"incident.escalated"``...: resilience.services.notifications), None: the fact is
        no notification."""
        personal: ClassVar[Mapping[str, str]] = MappingProxyType({"actor.override": "actor"})
        """Which of the fact's values are personal data, and whose (``personal_values``):
        a dotted path to a text field (or a tuple of texts), e.g. ``"name"``,
        ``"location.description"``, ``"card.emergency_contact.phone"`` -> whose data it
        is: a dotted path to the field holding that person's id (``"person_id"``,
        ``"card.emergency_contact.person_id"``), or ``"actor"`` (the fact's
        ``actor.person_id``: free text belongs to its author). A class declares its own
        fields; those of its bases (this one's: the actor's override reason) count too."""

        def describe(self) -> str:
            """The fact in one line of a timeline ("contained: fire out")."""
            return self.fact_name

        def detail(self) -> Any:
            """What the ``cases`` view keeps of the fact beside its name and times: the
            part cases are measured or grouped by (JSON-ready), or None."""
            return None

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is None:  # a first fact: eventsourcing makes the aggregate
                aggregate = super().mutate(aggregate)
            else:
                # eventsourcing's CanMutateAggregate.mutate, inlined: every fact passes
                # here when it is recorded and at every fold.
                originator_id = self.originator_id
                if originator_id is not aggregate.id and originator_id != aggregate.id:
                    raise OriginatorIDError(self.originator_id, aggregate.id)
                if self.originator_version != aggregate.version + 1:
                    raise OriginatorVersionError(self.originator_version,
                                                 aggregate.version + 1)
                if type(self).apply is not _does_nothing:
                    self.apply(aggregate)
                aggregate.version = self.originator_version
                aggregate.modified_on = self.timestamp
            version, at = self.originator_version, self.occurred_at
            aggregate.occurred[version] = at
            aggregate.fact_types[version] = type(self)
            last = aggregate.last_occurred
            if last is None or at > last:  # on a tie the earlier fact's stays: max()'s rule
                aggregate.last_occurred = at
            if self.status_after is not None:
                aggregate.status = self.status_after
            if self.command_id is not None:
                commands = aggregate.commands
                if type(commands) is dict:
                    first, _ = commands.get(self.command_id, (version, version))
                    commands[self.command_id] = (first, version)
                else:  # a snapshot's, not decoded (resilience.adapters.lazy)
                    commands.record_command(self.command_id, version)
            return aggregate

    class TimeCorrected(Event, Correction):
        """The fact at version ``corrects`` really happened at ``corrected_to``."""

        personal = personal_data({"reason": "actor"})
        corrects: int
        corrected_to: datetime
        reason: str

        def apply(self, aggregate: Any) -> None:
            occurred, last, moved = aggregate.occurred, aggregate.last_occurred, self.corrected_to
            before = occurred[self.corrects]
            occurred[self.corrects] = moved
            if moved > last:
                aggregate.last_occurred = moved
            elif not (before < last and moved < last):
                # The latest fact moved, or one now ties with it: the first of the latest
                # in version order, as max() over every time gives it.
                aggregate.last_occurred = max(occurred.values())

        def describe(self) -> str:
            return (f"time of fact {self.corrects} corrected to "
                    f"{self.corrected_to.isoformat()}: {self.reason}")

    class DetailsCorrected(Event, Correction):
        """The fact at version ``corrects`` is better described by ``details``."""

        personal = personal_data({"details": "actor", "reason": "actor"})
        corrects: int
        details: str
        reason: str

        def describe(self) -> str:
            return f"details of fact {self.corrects} corrected: {self.reason}"

    fact_types: dict[int, type[Event]]
    """The event class of each fact by version, for messages and corrections."""
    last_occurred: datetime | None
    """The latest effective time of any fact (``max`` of ``occurred``, the first of equal
    ones in version order), kept as facts are folded: a command reads it where it would
    otherwise scan every fact's time."""

    snapshotted: ClassVar[bool] = False
    """Aggregates of the class are snapshotted as they grow (resilience.adapters.snapshots):
    a command loads the snapshot and the facts after it, not every fact."""

    def __init__(self) -> None:
        self.occurred = {}
        self.fact_types = {}
        self.commands = {}
        self.last_occurred = None

    if not TYPE_CHECKING:  # (mypy would let any attribute of an aggregate through)

        def __getattr__(self, name: str) -> Any:
            """An attribute of an aggregate loaded from a snapshot, decoded the first time
            it is read (resilience.adapters.snapshot_state): its section, kept as the
            attribute from then on."""
            state = self.__dict__
            lazy = state.get("_lazy")
            pending = None if lazy is None else lazy.get(name)
            if pending is None:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            value = state[name] = pending.load(self)
            del lazy[name]
            if not lazy:
                del state["_lazy"]
            return value

    # The aggregate's event classes ----------------------------------------------

    @classmethod
    def event_classes(cls) -> tuple[type[Event], ...]:
        """The aggregate's own event classes, each once (its ``Event`` base left out)."""
        found = dict.fromkeys(
            value for value in vars(cls).values()
            if isinstance(value, type) and issubclass(value, FactAggregate.Event)
            and value is not cls.Event)
        return tuple(found)

    @classmethod
    def declared(cls, read: Callable[[Any], T | None]) -> dict[str, T]:
        """Fact name -> what ``read`` finds declared on each of the aggregate's event
        classes (those where it is not None): how readers of the views, which name facts
        by ``fact_name``, get at what the classes declare."""
        found = {event.fact_name: read(event) for event in cls.event_classes()}
        return {name: value for name, value in found.items() if value is not None}

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
        self._check_writable(self.TimeCorrected, ctx.occurred_at)
        self._require_correctable(corrects)
        check_moment(corrected_to, "corrected_to")
        reason = require_text(reason, "reason")
        times = self._times_with(ctx, {corrects: corrected_to})
        self._check_times(times)
        self._check_closure_kept(times)
        self._trigger(self.TimeCorrected, ctx, corrects=corrects, corrected_to=corrected_to,
                      reason=reason)

    def correct_details(self, ctx: Context, corrects: int, details: str, reason: str) -> None:
        """Record a better description of the fact at version ``corrects``."""
        self._check_writable(self.DetailsCorrected, ctx.occurred_at)
        self._require_correctable(corrects)
        self._check_times(self._times_with(ctx, {}))
        self._trigger(self.DetailsCorrected, ctx, corrects=corrects,
                      details=require_text(details, "details"),
                      reason=require_text(reason, "reason"))

    # For subclasses ------------------------------------------------------------

    @classmethod
    def _create(cls, event_class: type[Any], *, id: Any = None, **kwargs: Any) -> Self:
        """Create the aggregate, once every field of its first event passes the
        validation rule (:mod:`resilience.domain.validation`)."""
        check_uuid(id, f"{event_class.__name__}.id")
        check_event(event_class, kwargs)
        return super()._create(event_class, id=id, **kwargs)

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        """Trigger an event, once every field passes the validation rule: the one choke
        point every event of every aggregate goes through, whatever its command checked."""
        check_event(event_class, kwargs)
        super().trigger_event(event_class, **kwargs)

    def _trigger(self, event_class: type[Any], ctx: Context, **fields: Any) -> None:
        """``trigger_event`` with the context's four fields, which the Context checked when
        it was made (it is frozen): only the command's own fields are checked again.

        What eventsourcing's ``trigger_event`` does, without its per-event bookkeeping:
        what it checks of the aggregate and event classes is checked once per pair, and
        the event is made without its class's frozen ``__init__`` (``trigger_plan``)."""
        self._check_writable(event_class, ctx.occurred_at)
        how = _triggers.get((type(self), event_class)) or trigger_plan(type(self), event_class)
        for name, qualified, check in how.plan:
            if name in fields:
                check(fields[name], qualified)
        event = how.made(self.id, self.version + 1, ctx, fields)
        event.mutate(self)
        self._pending_events.append(event)

    def collect_events(self) -> Sequence[CanMutateAggregate[UUID]]:
        """The pending events, taken out in order (eventsourcing's own takes them one
        ``pop(0)`` at a time, which grows with the square of a batch's events)."""
        collected = list(self._pending_events)
        self._pending_events.clear()
        return collected

    def _times_with(self, ctx: Context, moved: dict[int, datetime]) -> dict[int, datetime]:
        """Effective times if a correction (itself a fact at ``ctx.occurred_at``) moved some."""
        times = dict(self.occurred)
        times.update(moved)
        times[self.version + 1] = ctx.occurred_at
        return times

    def _after_beginning(self, ctx: Context) -> None:
        """Refuse a fact dated before the aggregate's first: nothing happens before it."""
        first = self.occurred[1]
        if ctx.occurred_at < first:
            raise InvalidTransitionError(
                _("nothing can happen before {beginning} ({first}); got {time}").format(
                    beginning=_(self.beginning), first=first.isoformat(),
                    time=ctx.occurred_at.isoformat()))

    def _check_beginning(self, times: Mapping[int, datetime]) -> None:
        """Refuse ``times`` (a correction's) that date a fact before the first fact."""
        first = times[1]
        early = [v for v, t in times.items() if t < first]
        if early:
            message, facts = self._naming(early)
            raise InvalidTransitionError(_(message).format(
                beginning=_(self.beginning), first=first.isoformat(), facts=facts))

    def _naming(self, early: list[int]) -> tuple[str, str]:
        """``_check_beginning``'s message (marked with ``N_``; placeholders ``{beginning}``,
        ``{first}`` and ``{facts}``) and the facts it refuses, as the message names them."""
        return N_("nothing can happen before {beginning} ({first})"), ""

    def _not_before(self, ctx: Context, version: int, what: str, **values: object) -> None:
        """Refuse a fact dated before the fact at ``version``, described as ``what``: a
        phrase marked with ``N_`` ("the order's {noun}"), translated when refused, its
        ``{noun}`` the fact's noun (translated; ``values`` may give another) and its other
        placeholders ``values``."""
        if ctx.occurred_at < self.occurred[version]:
            noun = values.pop("noun", None) or self._noun_of(version)
            described = _(what).format(noun=_(str(noun)) if noun else "", **values)
            raise InvalidTransitionError(
                _("{time} is before {what} ({then}): times can't go backwards").format(
                    time=ctx.occurred_at.isoformat(), what=described,
                    then=self.occurred[version].isoformat()))

    def _steps(self) -> list[int]:
        """Versions of the aggregate's steps (``step``), in recording order (an improvement
        item's facts form chains of their own: ImprovementItem)."""
        return [v for v, fact in self.fact_types.items() if fact.step]

    def _noun_of(self, version: int) -> str | None:
        return self.fact_types[version].noun

    def _said_noun(self, version: int) -> str:
        """The noun of the fact at ``version`` in the current language, for a message
        ("None" if it has none, as messages always said)."""
        noun = self._noun_of(version)
        return _(noun) if noun else str(noun)

    def _name_of(self, version: int) -> str:
        """The fact name of the fact at ``version`` ("the correction" if not yet recorded)."""
        fact = self.fact_types.get(version)
        return fact.fact_name if fact is not None else _("the correction")

    def _closure(self) -> int | None:
        """Version of the fact that closed the aggregate, while it stands closed (an
        incident's closure, an improvement item's completion or cancellation); None while
        it is open, and for aggregates that never close this way."""
        return None

    def _is_step(self, event_class: type[Any]) -> bool:
        """Is a fact of this class one of the aggregate's steps (see ``Event.step``)?"""
        return bool(event_class.step)

    def _closed_as(self) -> str:
        """How the aggregate's closed state reads in messages ("closed", "done"): marked
        with ``N_``, translated where a message shows it."""
        return N_("closed")

    def _check_writable(self, event_class: type[Any], at: datetime) -> None:
        """The amendment rule. While the aggregate stands closed (``_closure``) it accepts
        a reopening, corrections, facts that follow the response (``follows_closure``),
        and late records of facts that are no step dated at or
        before its closure (amendments); a step, or a fact dated after the closure, is
        refused: it needs a reopen first."""
        closure = self._closure()
        if (closure is None or event_class.reopens or event_class.follows_closure
                or issubclass(event_class, Correction)):
            return
        state, closed_at = self._closed_as(), self.occurred[closure]
        if self._is_step(event_class):
            raise InvalidTransitionError(
                _("the {kind} is {state}: it accepts nothing but a reopen").format(
                    kind=_(self.kind), state=_(state)))
        if at > closed_at:
            raise InvalidTransitionError(_(
                "the {kind} is {state} since {closed}: for a fact dated after that ({time}) "
                "it accepts nothing but a reopen; facts dated at or before it are recorded "
                "as amendments").format(kind=_(self.kind), state=_(state),
                                        closed=closed_at.isoformat(), time=at.isoformat()))

    def _check_closure_kept(self, times: Mapping[int, datetime]) -> None:
        """Refuse corrected ``times`` that move a fact from at or before the standing
        closure to after it: such a fact would need a reopen, so a correction can't put it
        there (a fact that ``follows_closure`` needs none, and may be moved)."""
        closure = self._closure()
        if closure is None:
            return
        moved = [v for v, fact in self.fact_types.items()
                 if not issubclass(fact, Correction) and not fact.follows_closure
                 and self.occurred[v] <= self.occurred[closure] and times[v] > times[closure]]
        if moved:
            raise InvalidTransitionError(_(
                "the {kind} is {state}: a correction can't move {facts} (fact {versions}) "
                "after its {noun} ({time}); reopen it first").format(
                    kind=_(self.kind), state=_(self._closed_as()),
                    facts=", ".join(self._name_of(v) for v in moved),
                    versions=", ".join(map(str, moved)),
                    noun=self._said_noun(closure), time=times[closure].isoformat()))

    def _check_times(self, times: dict[int, datetime]) -> None:
        """Raise InvalidTransitionError if ``times`` (version -> time) break an invariant."""

    def _require_correctable(self, version: int) -> None:
        check_whole(version, "corrects")
        if version not in self.fact_types:
            raise NotFoundError(_("{kind} has no fact at version {version}").format(
                kind=_(self.kind), version=shown(version)))
        if issubclass(self.fact_types[version], Correction):
            raise InvalidTransitionError(_(
                "version {version} is itself a correction; correct the original fact instead"
            ).format(version=version))
        if not self.fact_types[version].correctable:
            raise InvalidTransitionError(_(
                "fact {version} ({fact}) is not corrected: it records what the engine's clock "
                "said").format(version=version, fact=self._name_of(version)))
