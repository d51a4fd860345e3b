"""The load -> authorize -> decide -> save loop every command goes through, and its receipts.

Authorization (resilience.domain.policy) comes first in the loop: a command the policy
refuses raises PermissionDeniedError before the aggregate decides anything, so a refusal
records nothing and tells the refused actor nothing about the aggregate's state. The
roster it checks is the community's as stored when the command is recorded: a command
decides on the cached community without reading the store first, and its insert checks,
under the store's write lock and in the insert's own round trip, that the community still
stands at the version the command read (the insert's ``reads``: resilience.adapters.
chain_recorders). If another writer changed it, nothing is recorded and the command is
decided once more on the community as stored (``Store.deciding``), as is a refusal met
on a community that moved since. So a person relieved by another writer can't act on
this engine's stale copy, and a command pays no query of its own for the roster. Inside
a batch the cached community is caught up once (one query) and the batch's own facts
count, and a decision the policy took on the same facts (the same actor, command, roster
and target) is taken again without deciding anew (resilience.domain.policy.BatchDecisions).

What a command costs does not grow with the history around it: a community is loaded
from its snapshot and the facts since (resilience.adapters.snapshots) and decoded only
as far as the command reads it; the policy reads the actor's own terms; "as it stands
now" reads the aggregate's latest time, kept as facts are folded; a new aggregate with
an id nobody else can have (a fresh uuid4) is inserted without looking for it first.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar, cast
from uuid import UUID

from attrs import evolve, field, frozen
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    InfrastructureFactory,
    IntegrityError,
    Recording,
)
from eventsourcing.utils import Environment

from resilience.adapters.chain_recorders import StaleReadError
from resilience.adapters.event_store import RecordingEventStore
from resilience.adapters.mapper import ConverterMapper, key_ring
from resilience.adapters.snapshots import EVERY as SNAPSHOT_EVERY
from resilience.adapters.snapshots import Snapshots
from resilience.adapters.store import (
    TIMEOUT_SETTING,
    configure_factory,
    notification_id,
    require_schema,
    seconds,
)
from resilience.clock import Clock
from resilience.domain.base import Context, FactAggregate, keeps_nothing
from resilience.domain.escalated import check_command_id
from resilience.domain.organisation import Community
from resilience.domain.policy import (
    IMPORT,
    NEVER_IMPORTED,
    BatchDecisions,
    Decision,
    Policy,
    Target,
    roster_command,
)
from resilience.domain.validation import check_instance, check_moment, check_uuid
from resilience.domain.values import ROSTER_ROLES, Actor
from resilience.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ResilienceError,
    StoreUnavailableError,
)
from resilience.i18n import N_, _

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
    position: int | None = field(default=None, eq=False)
    """Notification id of the command's last event, also when a repeated command finds
    it recorded before (None in a batch: see ``Batch.position``):
    ``engine.views.wait(receipt.position)``."""
    repeated: bool = field(default=False, eq=False)
    """The command was found recorded before under its ``command_id``: this call
    recorded nothing (the receipt is still equal to the first one's)."""
    reference: str | None = field(default=None, eq=False)
    """The human reference (``DH-2022-0001``) the command gave the incident or order it
    recorded (resilience.domain.references); None for any other command. Its number is
    one more fact, in the community's reference book, beside ``versions``. (Not compared:
    a receipt equals one made of the aggregate and versions alone, as before.)"""

    @property
    def versions(self) -> range:
        return range(self.first_version, self.last_version + 1)


_ANYWHERE = Target()
_NOTHING_READ: tuple[object, object, object] = (None, None, None)
_NO_KEYWORDS: tuple[None, None, None, None, None] = (None, None, None, None, None)
"""A command's target keywords when it has none (the same object each time)."""
_NO_TARGET: list[Any] = [None, None, 0, None, None]
"""No target kept (``Store.standing_target``)."""


def _anywhere(_: datetime) -> Target:
    """The target of a command about no target in particular (an import)."""
    return _ANYWHERE


def _require_id(cls: type[FactAggregate], aggregate_id: object) -> None:
    if type(aggregate_id) is not UUID:  # (check_uuid's test, before its message is made)
        check_uuid(aggregate_id, f"{cls.kind} id")


def _checked(cls: type[A], aggregate_id: UUID, aggregate: object) -> A:
    if not isinstance(aggregate, cls):
        found = getattr(type(aggregate), "kind", type(aggregate).__name__)
        raise NotFoundError(_("{id} is {found}, not {wanted}").format(
            id=aggregate_id, found=_a(found), wanted=_a(cls.kind)))
    return aggregate


class _Holding:
    """The store's lock held for a block (re-entrant, so one object serves every block): a
    class, not a generator, as every command takes it once or more."""

    __slots__ = ("_lock", "_timeout")

    def __init__(self, lock: "threading.RLock", timeout: float | None) -> None:
        self._lock, self._timeout = lock, timeout

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=-1 if self._timeout is None else self._timeout):
            raise StoreUnavailableError(_("this engine was busy with another command or batch "
                                          "for {seconds} s; nothing was recorded").format(
                seconds=f"{self._timeout:g}"))

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class _Taken(Exception):
    """A command's companion (``save_with_command``: a reference book) was changed by another
    writer between its read and the insert: the command is run again on the store as it
    stands (``Store._until_numbered``), as the number it took is someone else's now."""


TAKEN_ATTEMPTS = 100
"""How many times a command runs whose companion (a reference book) another writer changed
first, before it gives up with ConflictError (each attempt reads the companion afresh).
Each attempt loses only to a writer that recorded a case of the same community, kind and
year in between: with k writers numbering one book flat out, one attempt loses with
probability about (k-1)/k, so 4 writers lose 8 attempts running about once in ten cases
(measured: tests/test_references.py's race), and 100 about once in 10^12. An alarm is
never refused for being numbered under load."""


class _Stale(Exception):
    """A command on a cached aggregate failed, or on a read that moved since; it is run
    again on the store as it stands (``Store.deciding``)."""


class Batch:
    """What a batch recorded, known once its block has ended."""

    def __init__(self) -> None:
        self.events_recorded = 0
        self.position: int | None = None
        """Notification id of the batch's last event, for ``engine.views.wait``."""


_A_KIND = {"incident": N_("an incident"), "service order": N_("a service order"),
           "community": N_("a community"), "improvement item": N_("an improvement item"),
           "emergency": N_("an emergency"), "reference book": N_("a reference book"),
           "hazard": N_("a hazard"), "patrol": N_("a patrol"),
           "patrol plan": N_("a patrol plan"), "aggregate": N_("an aggregate")}
"""Each kind with its article, a phrase of its own in each language."""


def _a(noun: str) -> str:
    phrase = _A_KIND.get(noun)
    if phrase is not None:
        return _(phrase)
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"  # a class's name


def _reference(aggregate: FactAggregate, first: int) -> str | None:
    """The reference the command's first fact (``first``) gave a case, as its first fact or
    a ``Referenced`` one (``Receipt.reference``); None for any other."""
    if first != 1:
        fact = aggregate.fact_types.get(first)  # (none: the command recorded nothing)
        if fact is None or fact.fact_name != "Referenced":
            return None
    reference = vars(aggregate).get("reference")  # (an incident's or order's only)
    return reference if isinstance(reference, str) else None


def _position(recordings: Sequence[Recording[UUID]]) -> int | None:
    return max((r.notification.id for r in recordings), default=None)


def _fold(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply events in order. eventsourcing's default projector spends about half of a
    load in a Protocol isinstance check per event; our events are all ours."""
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


class EventStoreApplication(Application[UUID]):
    """The eventsourcing application behind an engine (its name fixes the table names)."""

    name = "resilience"

    def construct_event_store(self) -> EventStore[UUID]:
        return RecordingEventStore(mapper=self.mapper, recorder=self.recorder)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """eventsourcing's ``save`` (9.5), collecting our aggregates' events without its
        ``ProcessingEvent``'s two isinstance checks against runtime Protocols, which cost
        a command about a tenth of its CPU on SQLite; anything else is collected by it."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, FactAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # (eventsourcing's deprecated hook: a no-op)
        return recordings

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        # Bounded waits and StoreUnavailableError for the store's faults (adapters.store).
        factory = super().construct_factory(env)
        configure_factory(factory)
        return factory

    def construct_recorder(self) -> ApplicationRecorder:
        try:
            require_schema(self.factory)
            return super().construct_recorder()
        except BaseException:
            # A store that could not be set up keeps no connections. Closed beside the
            # caller: closing waits for a connection attempt still under way (up to
            # libpq's connect_timeout), and the caller's error is due within the timeout.
            threading.Thread(target=self.factory.close, name="resilience-close",
                             daemon=True).start()
            raise


class Store:
    """An application, a clock, the policy commands are checked against (None: none), the
    importer commands are recorded under (None: ordinary commands), and the command loop
    shared by the services."""

    def __init__(self, app: EventStoreApplication, clock: Clock, cache_size: int = 1024, *,
                 policy: Policy | None = None, importer: Actor | None = None,
                 root_clock: Clock | None = None, snapshots: Snapshots | None = None) -> None:
        self.app = app
        self.clock = clock
        self.root_clock = clock if root_clock is None else root_clock
        """The clock of the engine this store was derived from (``with_clock``,
        ``importing``): the time an importer's standing is checked at. An import's clock
        is set by the history it reads (a scenario file's ``recorded_at``), so it never
        stands in for now in the importer's permission."""
        self.policy = policy
        self.importer = importer
        self._batch: dict[UUID, FactAggregate] | None = None
        self._read_in_batch: set[UUID] = set()
        """Aggregates ``current`` read from the store in this batch: read once, so a batch
        decides on one snapshot of them (and its own facts), as one transaction would."""
        self._last_read: tuple[object, object, object] = _NOTHING_READ
        """The id object, class and aggregate ``current`` last found read in this batch, so
        that asking again with the same id object (a command's community, each command of
        a batch) finds it at once: it stays what ``current`` finds until the cache drops
        or forgets anything, or the batch ends."""
        self._batch_thread: int | None = None
        self._decisions: BatchDecisions | None = None
        """The policy's decisions kept for the batch (resilience.domain.policy)."""
        self._targets: dict[UUID, list[Any]] = {}
        """Commands' targets as their aggregates stood (``standing_target``): the
        aggregate object, the service, the version the target holds at, the command's
        keywords, the target."""
        self._last_target: list[Any] = _NO_TARGET
        """The entry of ``_targets`` last kept or found."""
        # Aggregates as of their last successful save through this store, so a
        # command needn't re-read the whole history. Anything that fails evicts
        # the aggregate: a cached object never holds unsaved state.
        self._cache: OrderedDict[UUID, FactAggregate] = OrderedDict()
        self._cache_size = cache_size
        self._erasures: int | None = None
        """The key ring's count of erasures when the cache was last checked against it."""
        mapper = app.mapper
        self._mapper = mapper if isinstance(mapper, ConverterMapper) else None
        """The application's mapper, whose ``keys`` are the store's key ring (key_ring)."""
        self.snapshots = Snapshots(app, lambda: key_ring(app)) if snapshots is None \
            else snapshots
        self._snapshot_at: dict[UUID, int] = {}
        """The version of each snapshotted aggregate's latest snapshot, as far as this
        store knows (0: none)."""
        self._lock = threading.RLock()
        setting = app.env.get(TIMEOUT_SETTING)
        self.timeout = None if setting is None else seconds(setting, TIMEOUT_SETTING)
        """Seconds a command waits for another command of this store to finish (the
        store's timeout; None in memory): its whole wait stays bounded."""
        self._holding = _Holding(self._lock, self.timeout)
        self._stamped_as: dict[Actor, Actor] = {}
        """Each actor as this importing store records it (``_stamped``)."""
        self._checks_reads = getattr(app.recorder, "checks_reads", False)
        """Whether the recorder checks an insert's ``reads`` (resilience.adapters.
        chain_recorders): every recorder of an engine's store does."""
        self._reads: dict[UUID, int] | None = None
        """While a command runs (``deciding``): the aggregates ``current`` handed out as
        cached, without reading the store, each at its version, for the command's insert
        to check."""
        self._reads_thread: int | None = None
        self._companions: list[FactAggregate] = []
        """The aggregates the running command saves with its own (``save_with_command``)."""

    def derived(self, *, clock: Clock | None = None, importer: Actor | None = None) -> "Store":
        """A store on the same application and policy, with another clock or importer (a
        cache and lock of its own, as any other writer's)."""
        return Store(self.app, self.clock if clock is None else clock, self._cache_size,
                     policy=self.policy, importer=self.importer if importer is None else importer,
                     root_clock=self.root_clock, snapshots=self.snapshots)

    def locked(self) -> AbstractContextManager[None]:
        """Hold the store's lock (re-entrant) across reads and a command: ``current``
        hands out the cached aggregate itself, which only the lock keeps still."""
        return self._holding

    def _locked(self) -> AbstractContextManager[None]:
        """One command (or batch) at a time through this store's cache."""
        return self._holding

    @contextmanager
    def batch(self) -> Iterator["Batch"]:
        """Hold every command's facts in memory and save them all in one transaction at the end.

        Either everything in the block is recorded, or (if an exception leaves
        the block, or another writer got there first) nothing is.
        """
        with self._locked():
            if self._batch is not None:
                raise InvalidTransitionError(_("batches do not nest"))
            held: dict[UUID, FactAggregate] = {}
            self._batch, self._batch_thread = held, threading.get_ident()
            self._read_in_batch = set()
            self._last_read = _NOTHING_READ
            self._decisions = None if self.policy is None else BatchDecisions(self.policy)
            result = Batch()
            try:
                yield result
                if held:
                    # One key-table commit for all the batch's new people (a protected
                    # store), where sealing event by event would commit once per person.
                    prepare = getattr(self.app.mapper, "prepare", None)
                    if prepare is not None:
                        prepare(e for a in held.values() for e in a.pending_events)
                    recordings = self.app.save(*held.values())
                    result.events_recorded = len(recordings)
                    result.position = _position(recordings)
                    self._snapshot(*held.values())
            except IntegrityError:
                self._forget(*held)
                raise ConflictError(
                    _("another writer changed one of the batch's aggregates first; "
                      "nothing of the batch was recorded")
                ) from None
            except BaseException:
                self._forget(*held)
                raise
            finally:
                self._batch, self._batch_thread, self._decisions = None, None, None
                self._last_read = _NOTHING_READ
            self._remember(*held.values())

    def together(self, aggregate_id: UUID, command: Callable[[], Receipt]) -> Receipt:
        """Run ``command``, which records on more than one aggregate (a link's two sides,
        both or neither), in the open batch if there is one, else in one transaction of
        its own. Its receipt (``aggregate_id``'s) carries the position of its last fact
        once that transaction has ended; in the caller's batch, that is known only when
        the batch ends."""
        with self.locked():
            own: AbstractContextManager[Batch | None] = (
                nullcontext() if self.in_batch else self.batch())
            with own as batch:
                receipt = command()
        if batch is None:
            return receipt
        position = batch.position or notification_id(
            self.app.recorder, aggregate_id, receipt.last_version)
        return evolve(receipt, position=position)

    def context(
        self, actor: Actor, occurred_at: datetime | None, command_id: str | None
    ) -> Context:
        recorded_at = self.clock()
        if isinstance(actor, Actor):  # Context refuses anything else
            # The watch's command ids are its own: taken first by another command, they
            # would block an escalation or stand in for it (resilience.domain.escalated).
            if command_id is not None:
                check_command_id(actor, command_id)
            if self.importer is not None or actor.imported_by is not None:
                actor = self._stamped(actor)
        # Context checks the actor and both moments (recorded_at: what the clock said).
        return Context(actor, recorded_at if occurred_at is None else occurred_at,
                       recorded_at, command_id)

    def _stamped(self, actor: Actor) -> Actor:
        """The actor as recorded: with the importer's id when importing. Only the engine
        sets ``imported_by``: a caller's actor carrying another is refused."""
        importer = None if self.importer is None else self.importer.person_id
        if actor.imported_by is not None and actor.imported_by != importer:
            raise InvalidInputError(
                _("imported_by is set by the engine when it imports (engine.importing), not "
                  "by a command's actor; got {value}").format(value=repr(actor.imported_by)))
        if importer is None or actor.imported_by == importer:
            return actor
        stamped = self._stamped_as.get(actor)
        if stamped is None:  # an import records many facts by few actors: made once each
            if len(self._stamped_as) >= 4096:
                self._stamped_as.clear()
            stamped = self._stamped_as[actor] = evolve(actor, imported_by=importer)
        return stamped

    # Authorization ----------------------------------------------------------------

    def authorize(self, command: str, ctx: Context, community: Community | UUID | None,
                  target: Callable[[datetime], Target]) -> Decision | None:
        """Raise PermissionDeniedError unless the policy lets the context's actor do
        ``command`` on ``target(moment)`` (the target as it stood at a moment: when the
        fact happened, when it is recorded) in ``community`` (a Community, its id, or
        None before it is registered); return the decision (None: no policy). When
        importing, the actor is not checked: the importer is (``_importable``). Call it
        holding the store's lock (inside ``create``'s build or ``change``'s decide)."""
        if self.policy is None:
            return None
        if self.importer is not None:
            return self._importable(self.policy, self.importer, command,
                                    self._community(community))
        org = community if community is None or isinstance(community, Community) \
            else self.current(Community, community)
        decisions = self._decisions
        if (decisions is not None and org is not None
                and self._batch_thread == threading.get_ident()):
            return decisions.enforce(org, ctx.actor, command, ctx.occurred_at,
                                     ctx.recorded_at, target)
        return self.policy.enforce(org, ctx, command, target)

    def _importable(self, policy: Policy, importer: Actor, command: str,
                    community: Community | None) -> Decision:
        """May this store's importer import ``command`` into ``community`` now? It must be
        allowed ``"import"`` now, by the engine's own clock (a roster role: holding it then).
        Off the roster (the system role) it imports only into a community the import
        registers, or one whose every fact was imported: a claim of the system role is
        no standing in a community people run live. Erasures are never imported."""
        self.refuse_if_never_imported(command)
        now = self.root_clock()  # not the import's clock, which the history being read sets
        decisions = self._decisions
        if decisions is not None and community is not None and self.in_batch:
            check_instance(importer, "actor", Actor)  # as ``policy.check`` checks them
            check_moment(now, "at")
            decision = decisions.enforce(community, importer, IMPORT, now, now, _anywhere)
        else:
            decision = policy.check(community, importer, IMPORT, at=now, recorded_at=now)
        if (community is not None and importer.role not in ROSTER_ROLES
                and not self._only_imported(community)):
            raise PermissionDeniedError(
                _("{person}, as {role}, may import only into a community the import registers "
                  "or whose every fact was imported, and {community} has facts recorded live: "
                  "import into it as its community staff").format(
                    person=importer.person_id, role=importer.role.value.replace("_", " "),
                    community=community.name))
        return decision

    def standing_target(self, service: object, aggregate: FactAggregate,
                        keywords: tuple[Any, ...]) -> Target | None:
        """The target of a command of ``service`` with ``keywords`` on ``aggregate`` as it
        stands, kept (``keep_target``) for the same aggregate object, if every fact it
        took since keeps nothing of its own (``keeps_nothing``); else None."""
        kept = self._last_target
        if kept[0] is not aggregate:  # (most often the aggregate of the command before)
            kept = self._targets.get(aggregate.id) or _NO_TARGET
        if (kept[0] is not aggregate or kept[1] is not service
                or (kept[3] is not keywords and kept[3] != keywords)):
            return None
        version, fact_types, now = kept[2], aggregate.fact_types, aggregate.version
        while version < now:
            version += 1
            if not keeps_nothing(fact_types[version]):
                return None
        kept[2] = version
        self._last_target = kept
        target: Target = kept[4]
        return target

    def keep_target(self, service: object, aggregate: FactAggregate,
                    keywords: tuple[Any, ...], target: Target) -> None:
        """Keep ``target``, the target as ``aggregate`` stands now (``standing_target``)."""
        if len(self._targets) >= 1024:
            self._targets.clear()
        kept = self._targets[aggregate.id] = [aggregate, service, aggregate.version, keywords,
                                              target]
        self._last_target = kept

    def refuse_if_never_imported(self, command: str) -> None:
        """PermissionDeniedError if this store imports and ``command`` is one no import may
        run (``NEVER_IMPORTED``: a person's rights, exercised live); a service may call it
        before any other check, so the refusal costs nothing."""
        if self.importer is not None and command in NEVER_IMPORTED:
            raise PermissionDeniedError(
                _("{command} is never imported: {person} may not run it through "
                  "engine.importing; call it on the engine itself, as a person the policy "
                  "allows it; nothing was recorded").format(command=command,
                                                            person=self.importer.person_id))

    def _only_imported(self, community: Community) -> bool:
        """Was every stored fact of ``community`` imported? Its facts held in this store's
        batch were (this store imports), so the community's own record of it answers
        (``Community.imported_only``, kept as its facts are folded)."""
        return community.imported_only

    def _community(self, community: Community | UUID | None) -> Community | None:
        if community is None or isinstance(community, Community):
            return community
        return self.current(Community, community)

    def _after_erasures(self) -> None:
        """Forget every cached aggregate once a person was erased since the last look (by
        this engine, another engine on the store, another process: the key ring counts
        the tombstones), so no cached aggregate hands out an erased person's plaintext."""
        keys = self._mapper.keys if self._mapper is not None else None
        if keys is None:
            return
        keys.fresh()  # looks at the key table at most every FRESH_FOR seconds
        erasures = keys.erasures
        if erasures != self._erasures:
            self._cache.clear()
            self._last_read = _NOTHING_READ
            self._targets.clear()  # (they hold the aggregates they were worked out on)
            self._last_target = _NO_TARGET
            self._snapshot_at.clear()  # the erasure deleted them
            self._erasures = erasures

    def current(self, cls: type[A], aggregate_id: UUID) -> A:
        """The aggregate as stored now, with this thread's batch's facts: the cached copy
        caught up with what other writers recorded since it was cached (one query for
        the events after its version), else loaded (and cached). Hold the store's lock.
        While a command runs (``deciding``), the cached copy as it is, which the command's
        insert checks is still the one stored."""
        self._after_erasures()
        batch = self._batch
        in_batch = batch is not None and self._batch_thread == threading.get_ident()
        last = self._last_read
        if last[0] is aggregate_id and last[1] is cls and in_batch:
            return cast(A, last[2])  # what the lines below found last time (``_last_read``)
        _require_id(cls, aggregate_id)  # before the cache, as ``change`` does
        if batch is not None and in_batch:
            held = batch.get(aggregate_id)
            if held is not None:
                return _checked(cls, aggregate_id, held)
        cached = self._cache.get(aggregate_id)
        if cached is None:
            aggregate = self.load(cls, aggregate_id)
        elif in_batch and aggregate_id in self._read_in_batch:
            # This batch's snapshot of it (it may take facts in the batch: the same object).
            found = _checked(cls, aggregate_id, cached)
            self._last_read = (aggregate_id, cls, found)
            return found
        else:
            aggregate = _checked(cls, aggregate_id, cached)
            reads = self._reads
            if reads is not None and self._reads_thread == threading.get_ident():
                # Checked by the command's insert (``deciding``), not read now.
                reads[aggregate_id] = aggregate.version
                self._remember(aggregate)
                return aggregate
            newer = self.app.recorder.select_events(aggregate_id, gt=aggregate.version)
            if newer:
                aggregate = _fold(aggregate, map(self.app.mapper.to_domain_event, newer))
                if not self.in_batch:
                    self._snapshot(aggregate)
        if self.in_batch:
            self._read_in_batch.add(aggregate_id)
        self._remember(aggregate)
        return aggregate

    def recorded_fact(self, aggregate: FactAggregate,
                      version: object) -> FactAggregate.Event | None:
        """The fact at ``version`` as it was recorded (its actor and recorded time), from
        the aggregate's unsaved facts or the store; None if it has no such fact."""
        if type(version) is not int or not 1 <= version <= aggregate.version:
            return None
        for event in aggregate.pending_events:
            if event.originator_version == version:
                return cast(FactAggregate.Event, event)
        stored = self.app.recorder.select_events(aggregate.id, gt=version - 1, lte=version)
        if not stored:
            return None
        return cast(FactAggregate.Event, self.app.mapper.to_domain_event(stored[0]))

    def load(self, cls: type[A], aggregate_id: UUID) -> A:
        """The aggregate as stored now, as a fresh object the caller may keep."""
        _require_id(cls, aggregate_id)
        self._after_erasures()
        held = self.held().get(aggregate_id)
        if held is not None:
            return _checked(cls, aggregate_id, held)
        if cls.snapshotted:
            snapshot = self.snapshots.load(cls, aggregate_id)
            if snapshot is not None:
                self._snapshot_at[aggregate_id] = snapshot.version
                newer = self.app.recorder.select_events(aggregate_id, gt=snapshot.version)
                loaded: A = _fold(snapshot, map(self.app.mapper.to_domain_event, newer))
                self._snapshot(loaded)
                return loaded
        try:
            aggregate: object = self.app.repository.get(aggregate_id, projector_func=_fold)
        except AggregateNotFoundError:
            raise NotFoundError(_("no {kind} with id {id}").format(
                kind=_(cls.kind), id=aggregate_id)) from None
        checked = _checked(cls, aggregate_id, aggregate)
        if cls.snapshotted:
            self._snapshot(checked)
        return checked

    def _snapshot(self, *aggregates: FactAggregate) -> None:
        """Snapshot each aggregate of a snapshotted class (as saved or loaded: no pending
        facts) once it is ``SNAPSHOT_EVERY`` facts past its last snapshot."""
        for aggregate in aggregates:
            if (type(aggregate).snapshotted and not aggregate.pending_events
                    and aggregate.version - self._snapshot_at.get(aggregate.id, 0)
                    >= SNAPSHOT_EVERY and self.snapshots.save(aggregate)):
                self._snapshot_at[aggregate.id] = aggregate.version

    @property
    def in_batch(self) -> bool:
        """Whether this thread is inside this store's ``batch()``."""
        return self._batch is not None and self._batch_thread == threading.get_ident()

    def held(self) -> dict[UUID, FactAggregate]:
        """This thread's batch, if it is in one: other threads never see unsaved facts."""
        if self._batch is None or self._batch_thread != threading.get_ident():
            return {}
        return self._batch

    def _remember(self, *aggregates: FactAggregate) -> None:
        for aggregate in aggregates:
            self._cache[aggregate.id] = aggregate
            self._cache.move_to_end(aggregate.id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
            self._last_read = _NOTHING_READ

    def _forget(self, *aggregate_ids: UUID) -> None:
        for aggregate_id in aggregate_ids:
            self._cache.pop(aggregate_id, None)
        self._last_read = _NOTHING_READ

    def exists(self, aggregate_id: UUID) -> bool:
        if aggregate_id in self.held():
            return True
        return aggregate_id in self.app.repository

    def create(self, cls: type[A], aggregate_id: UUID, ctx: Context,
               build: Callable[[], A], *, fresh: bool = False) -> Receipt:
        """Record a new aggregate, or return the original receipt of a repeated command.
        ``fresh``: the id was made for this command (a uuid4) and nobody else can have
        it, so it is not looked for first (were it taken, the insert would fail)."""
        def attempt() -> Receipt:
            if not fresh and self.exists(aggregate_id):
                repeated = self._repeated(cls, aggregate_id, ctx)
                if repeated is not None:
                    return repeated
                raise AlreadyExistsError(_("a {kind} with id {id} already exists").format(
                    kind=_(cls.kind), id=aggregate_id))
            return self._save(cls, build(), ctx, 1)

        with self._locked():
            return self._until_numbered(cls, attempt)

    def _until_numbered(self, cls: type[A], attempt: Callable[[], Receipt]) -> Receipt:
        """``attempt`` (a command), run again while another writer takes the number its
        companion (``save_with_command``) was to record first (``_Taken``)."""
        for _attempt in range(TAKEN_ATTEMPTS):
            self._companions = []
            try:
                return attempt()
            except _Taken:
                continue
            except BaseException:
                # A companion changed for a command that then failed (before ``_save``,
                # which forgets its own): the cache never holds unsaved facts.
                self._forget(*(companion.id for companion in self._companions))
                raise
            finally:
                self._companions = []
        raise ConflictError(
            _("the {kind} could not be numbered: other writers took its reference {count} "
              "times; nothing was recorded: retry the command").format(
                kind=_(cls.kind), count=TAKEN_ATTEMPTS))

    def save_with_command(self, aggregate: FactAggregate) -> None:
        """Save ``aggregate`` (its pending facts) in the same transaction as the aggregate
        the running command records (in a batch: with the batch): a case's reference
        book. Should another writer have changed it first, the command runs again."""
        batch = self._batch
        if batch is not None and self._batch_thread == threading.get_ident():
            batch[aggregate.id] = aggregate
        else:
            self._companions.append(aggregate)

    def change(self, cls: type[A], aggregate_id: UUID, ctx: Context,
               decide: Callable[[A], None]) -> Receipt:
        """Load, let the aggregate decide, save; a repeated command id records nothing."""
        _require_id(cls, aggregate_id)  # before the cache: an unhashable id can't be looked up
        batch = self._batch
        if batch is not None and self._batch_thread == threading.get_ident():
            # In this thread's batch, which holds the store's lock: cached, caught up once
            # per batch (``current``), no reload.
            self._after_erasures()
            held = batch.get(aggregate_id)
            if held is None or not isinstance(held, cls):
                return self._decide(cls, self.current(cls, aggregate_id), ctx, decide,
                                    cached=False)
            return self._decide(cls, held, ctx, decide, cached=False, held=True)

        def attempt() -> Receipt:
            self._after_erasures()
            # (None after a failed attempt: ``_decide`` and ``_save`` forget the aggregate.)
            cached = self._cache.get(aggregate_id) if self._batch is None else None
            if cached is None:
                return self._decide(cls, self.load(cls, aggregate_id), ctx, decide,
                                    cached=False)
            return self._decide(cls, _checked(cls, aggregate_id, cached), ctx, decide,
                                cached=True)

        return self.deciding(lambda: self._until_numbered(cls, attempt))

    def deciding(self, command: Callable[[], Receipt]) -> Receipt:
        """Run ``command`` (its reads through ``current``, then a ``create``, or
        ``change``'s decision and save) holding the store's lock, on cached copies: the
        aggregate it changes, and those it reads (the community whose roster the policy
        checks), which its insert checks still stand as read (the insert's ``reads``).
        Any of them may lag behind another writer: a refusal or a version clash met on the
        cached aggregate, a refusal met on a read that moved since, or a read the insert
        found moved, and the command is run once more on the store as it stands
        (``current`` caught up, the aggregate loaded), so the cache never shows in what a
        command decides. Nested in a command, or in a batch, it runs as part of that."""
        with self._locked():
            if self._reads is not None or self._batch is not None:
                return command()
            try:
                if not self._checks_reads:
                    return command()
                self._reads, self._reads_thread = {}, threading.get_ident()
                try:
                    return command()
                except ResilienceError as exc:
                    if self._reads_moved():
                        raise _Stale from exc
                    raise
                finally:
                    self._reads, self._reads_thread = None, None
            except _Stale:
                pass
            return command()

    def _reads_moved(self) -> bool:
        """Did another writer change an aggregate the command read unchecked (``_reads``)
        since? (A query each: on a failed command only.)"""
        reads = self._reads or {}
        return any(self.app.recorder.select_events(i, gt=version, limit=1)
                   for i, version in reads.items())

    def _decide(self, cls: type[A], aggregate: A, ctx: Context, decide: Callable[[A], None],
                cached: bool, held: bool = False) -> Receipt:
        """Let ``aggregate`` (``cached``: this store's cached copy; ``held``: this batch's
        already) decide, and save it (hold it, in a batch)."""
        if ctx.command_id is not None:
            seen = aggregate.command_versions(ctx.command_id)
            if seen is not None:
                return self._receipt(aggregate, seen)
        first = aggregate.version + 1
        try:
            decide(aggregate)
        except BaseException as exc:
            self._forget(aggregate.id)
            if cached and isinstance(exc, ResilienceError):
                raise _Stale from exc
            raise
        if held:
            return Receipt(aggregate.id, first, aggregate.version,
                           reference=_reference(aggregate, first))
        return self._save(cls, aggregate, ctx, first, cached)

    def _save(self, cls: type[A], aggregate: A, ctx: Context, first: int,
              cached: bool = False) -> Receipt:
        batch = self._batch
        if batch is not None:
            aggregate_id = aggregate.id
            batch[aggregate_id] = aggregate
            return Receipt(aggregate_id, first, aggregate.version,
                           reference=_reference(aggregate, first))
        reads = self._reads
        companions, self._companions = self._companions, []
        try:
            if reads:
                # (The aggregates saved are checked by their own versions: none is taken
                # twice.)
                reads.pop(aggregate.id, None)
                for companion in companions:
                    reads.pop(companion.id, None)
                recordings = self.app.save(aggregate, *companions, reads=reads)
            else:
                recordings = self.app.save(aggregate, *companions)
        except BaseException as exc:
            self._forget(aggregate.id, *(companion.id for companion in companions))
            if not isinstance(exc, IntegrityError):
                raise
            if cached or isinstance(exc, StaleReadError):
                raise _Stale from exc
            if companions and first == 1 and not self.exists(aggregate.id):
                # A new case that is not there: the clash was its number's, taken meanwhile.
                raise _Taken from exc
            repeated = self._repeated(cls, aggregate.id, ctx)
            if repeated is not None:
                return repeated
            if companions:
                raise _Taken from exc
            raise ConflictError(
                _("{kind} {id} was changed by another writer since it was loaded; nothing "
                  "was recorded: reload and retry the command").format(
                    kind=_(cls.kind), id=aggregate.id)
            ) from None
        self._remember(aggregate, *companions)
        self._snapshot(aggregate, *companions)
        return Receipt(aggregate.id, first, aggregate.version, _position(recordings),
                       reference=_reference(aggregate, first))

    def _repeated(self, cls: type[A], aggregate_id: UUID, ctx: Context) -> Receipt | None:
        """The receipt of a command already recorded under ``ctx.command_id``, with the
        position of its last event: an insert whose acknowledgement was lost (and was
        retried) recorded events as new as any, and callers wait on that position."""
        if ctx.command_id is None:
            return None
        aggregate = self.load(cls, aggregate_id)
        seen = aggregate.command_versions(ctx.command_id)
        return self._receipt(aggregate, seen) if seen is not None else None

    def _receipt(self, aggregate: FactAggregate, seen: tuple[int, int]) -> Receipt:
        """The receipt of facts recorded earlier, with the position of the last one."""
        position = (None if self._batch is not None
                    else notification_id(self.app.recorder, aggregate.id, seen[1]))
        return Receipt(aggregate.id, *seen, position, repeated=True,
                       reference=_reference(aggregate, seen[0]))



def refuse_taken_command(ctx: Context, other: FactAggregate) -> None:
    """Refuse a command that records on ``other`` too under a command id ``other`` took for
    another command: it would take this one for a repeat and record nothing there."""
    if ctx.command_id is not None and other.command_versions(ctx.command_id):
        raise InvalidInputError(
            _("command id {command} was used on {id} for another command; a link "
              "needs one of its own").format(command=repr(ctx.command_id), id=other.id))


class AggregateService(Generic[A]):
    """Commands on one kind of aggregate; subclasses add one short method per command,
    each named in the policy ``"<name>.<method>"`` (resilience.domain.policy.COMMANDS)."""

    aggregate_class: type[A]
    name: ClassVar[str]
    """The service's name in command names: ``"incidents"`` for ``"incidents.contain"``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, aggregate_id: UUID) -> A:
        """The aggregate as it is now (all its facts, corrections applied)."""
        return self._store.load(self.aggregate_class, aggregate_id)

    def _run(
        self, aggregate_id: UUID, actor: Actor, occurred_at: datetime | None,
        command_id: str | None, decide: Callable[[A, Context], None], *, command: str,
        subject: object = None, subject_is: str | None = None, area: object = None,
        corrects: object = None,
    ) -> Receipt:
        """Run ``command`` (a method name) on the aggregate: authorize, then ``decide``.
        ``subject``: the person the command is about (``own`` in the policy), described
        as ``subject_is`` in refusals; ``area``: the area it names (community commands);
        ``corrects``: the version it corrects."""
        ctx = self._store.context(actor, occurred_at, command_id)
        named = f"{self.name}.{command}"

        def run(aggregate: A) -> None:
            fact = None if corrects is None else self._store.recorded_fact(aggregate, corrects)
            if self._store.policy is not None:
                about: Callable[[datetime], Target] = _anywhere  # (an import's: not read)
                if self._store.importer is None:
                    plain = (subject is None and subject_is is None and area is None
                             and corrects is None)
                    about = _Targets(self, aggregate, ctx, _NO_KEYWORDS if plain
                                     else (subject, subject_is, area, corrects, fact))
                recording = None if fact is None else roster_command(fact)
                if recording is None:
                    self._store.authorize(named, ctx, self._community_of(aggregate), about)
                else:
                    self._roster_correction(named, recording, ctx, aggregate, fact, about)
            decide(aggregate, ctx)

        return self._store.change(self.aggregate_class, aggregate_id, ctx, run)

    def _roster_correction(self, command: str, recording: str, ctx: Context, aggregate: A,
                           fact: Any, about: Callable[[datetime], Target]) -> None:
        """Authorize the correction of a roster fact (resilience.domain.policy): the
        correction's own rules and the right to record the fact (``recording``), both
        without the actor's override."""
        plain = evolve(ctx, actor=evolve(ctx.actor, override=None))
        community = self._community_of(aggregate)

        def recorded(moment: datetime) -> Target:
            person = getattr(fact, "person_id", None)
            return evolve(about(moment), subject=person if isinstance(person, str) else None,
                          subject_is=N_("the person the fact is about"))

        try:
            self._store.authorize(command, plain, community, about)
            self._store.authorize(recording, plain, community, recorded)
        except PermissionDeniedError as refusal:
            raise PermissionDeniedError(
                _("fact {version} is a roster fact ({fact}): correcting it needs the right to "
                  "record it too, and no override; {refusal}").format(
                    version=fact.originator_version, fact=type(fact).__name__,
                    refusal=refusal)) from None

    def _community_of(self, aggregate: A) -> Community | UUID:
        """The community the aggregate belongs to: its ``community_id`` (a community's
        service answers the community itself)."""
        community: UUID = getattr(aggregate, "community_id")  # noqa: B009 (not on the base)
        return community

    def _target(self, aggregate: A, ctx: Context, subject: object, area: object) -> Target:
        """What a command on ``aggregate`` acts on, as the policy needs it, at the moment
        ``ctx.occurred_at``. It is made of what the aggregate keeps of its facts (its own
        attributes, which the facts' ``apply`` set) and of their effective times: so it
        is the same at every moment from the aggregate's latest fact on, and a fact that
        keeps nothing of its own (``keeps_nothing``: an action taken, a note) leaves it as
        it was (``_Targets`` relies on both)."""
        raise NotImplementedError

    def _fact_area(self, fact: FactAggregate.Event) -> str | None:
        """The area one fact of the aggregate is about, where it has one of its own (a
        community's facts: the grid an activity was held in); None: the aggregate's."""
        return None

    def _about(self, aggregate: A, ctx: Context, *, subject: object, subject_is: str | None,
               area: object, corrects: object, fact: FactAggregate.Event | None) -> Target:
        """``_target``, and for a correction the corrected ``fact`` (at version
        ``corrects``): its recorder is the subject (``own``), its recorded time opens the
        correction's window, and its area (if it has one of its own) is where the
        correction acts."""
        target = self._target(aggregate, ctx, subject, area)
        if subject_is is not None:
            target = evolve(target, subject_is=subject_is)
        if corrects is None:
            return target
        if fact is None:  # no such fact: the aggregate refuses the correction itself
            return evolve(target, subject=None, subject_is=N_("who recorded the fact"))
        return evolve(target, area=self._fact_area(fact) or target.area,
                      subject=fact.actor.person_id, subject_is=N_("who recorded the fact"),
                      corrected=fact.originator_version, corrected_recorded_at=fact.timestamp)


class _Targets(Generic[A]):
    """A command's target as it stood at a moment (``AggregateService._about`` at
    ``target_context``), for the policy's checks at its two moments. ``_target`` is the
    same at every moment from the aggregate's latest fact on, and a fact that keeps
    nothing of its own (``keeps_nothing``) leaves it as it was (its docstring): so the
    target as the aggregate stands is worked out once for both moments, and kept by the
    store for the aggregate's next command while only such facts follow (a day's actions
    on an incident); the target at an earlier moment a fact is dated at, once."""

    __slots__ = ("_aggregate", "_ctx", "_keywords", "_service", "_stands", "_then")

    def __init__(self, service: "AggregateService[A]", aggregate: A, ctx: Context,
                 keywords: tuple[Any, Any, Any, Any, Any]) -> None:
        self._service, self._aggregate, self._ctx, self._keywords = (
            service, aggregate, ctx, keywords)
        self._stands: Target | None = None
        """The target as the aggregate stands (at or after its latest fact)."""
        self._then: Target | None = None
        """The target at the moment the fact is dated at, before the latest fact."""

    def __call__(self, moment: datetime) -> Target:
        latest = self._aggregate.last_occurred
        # The moment the target is worked out at (target_context's: the moment the fact is
        # dated at, else the later of the moment and the latest fact) is at or after every
        # fact (the target as the aggregate stands), or the fact's earlier one.
        if latest is None or moment >= latest or moment != self._ctx.occurred_at:
            found = self._stands
            if found is None:
                found = self._stands = self._standing(moment)
        else:
            found = self._then
            if found is None:
                found = self._then = self._at(moment)
        return found

    def _standing(self, moment: datetime) -> Target:
        keywords, store = self._keywords, self._service._store
        # Kept only for a command that corrects nothing and names only texts (as the
        # validation rule has them), which compare as texts.
        kept = keywords is _NO_KEYWORDS or (keywords[3] is None and all(
            value is None or type(value) is str for value in keywords[:3]))
        if kept:
            found = store.standing_target(self._service, self._aggregate, keywords)
            if found is not None:
                return found
        found = self._at(moment)
        if kept:
            store.keep_target(self._service, self._aggregate, keywords, found)
        return found

    def _at(self, moment: datetime) -> Target:
        subject, subject_is, area, corrects, fact = self._keywords
        return self._service._about(
            self._aggregate, target_context(self._ctx, self._aggregate, moment),
            subject=subject, subject_is=subject_is, area=area, corrects=corrects, fact=fact)


def target_context(ctx: Context, aggregate: FactAggregate, moment: datetime) -> Context:
    """``ctx`` with the moment its target is worked out at as its occurred_at: when the
    command's fact happened, as given; at the moment of recording, the aggregate as it
    stands now (every fact recorded so far counts, whatever moment it is dated: the
    commander and the responders of the incident as now)."""
    if moment == ctx.occurred_at:
        return ctx
    latest = aggregate.last_occurred
    return ctx.moved(moment if latest is None else max(moment, latest))


class FactService(AggregateService[A]):
    """A service whose aggregates' facts are corrected by the two commands every one of
    them takes (communities, incidents, orders, improvement items)."""

    def correct_time(
        self, aggregate_id: UUID, corrects: int, corrected_to: datetime, reason: str, *,
        actor: Actor, occurred_at: datetime | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record that the fact at version ``corrects`` really happened at ``corrected_to``."""
        return self._run(aggregate_id, actor, occurred_at, command_id,
                         lambda a, ctx: a.correct_time(ctx, corrects, corrected_to, reason),
                         command="correct_time", corrects=corrects)

    def correct_details(
        self, aggregate_id: UUID, corrects: int, details: str, reason: str, *,
        actor: Actor, occurred_at: datetime | None = None, command_id: str | None = None,
    ) -> Receipt:
        """Record a better description of the fact at version ``corrects``."""
        return self._run(aggregate_id, actor, occurred_at, command_id,
                         lambda a, ctx: a.correct_details(ctx, corrects, details, reason),
                         command="correct_details", corrects=corrects)
