"""The engine: the one object an importing app opens."""

import copy
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from resilience.adapters.chain import Checkpoint, Verification, open_chain
from resilience.adapters.chain_checks import record_checkpoint
from resilience.adapters.chain_checks import verify as verify_chain
from resilience.adapters.protection import protect
from resilience.adapters.store import opening, read_only, resolve_url, store_env
from resilience.clock import Clock, check_clock, system_clock
from resilience.domain.base import FactAggregate
from resilience.domain.catalogue import DEFAULT_CATALOGUE, ServiceCatalogue
from resilience.domain.escalation import EscalationPolicy
from resilience.domain.policy import DEFAULT_POLICY, Policy
from resilience.domain.validation import check_instance, check_uuid
from resilience.domain.values import Actor
from resilience.errors import InvalidInputError
from resilience.i18n import _
from resilience.projections.runner import Views
from resilience.services.communities import Communities
from resilience.services.core import Batch, EventStoreApplication, Store
from resilience.services.deadlines import DEFAULT_ESCALATION, Watch
from resilience.services.delegation import delegated
from resilience.services.emergencies import Emergencies
from resilience.services.hazards import Hazards
from resilience.services.improvement_plan import ImprovementPlan
from resilience.services.improvements import Improvements
from resilience.services.incidents import Incidents
from resilience.services.notifications import Notifications
from resilience.services.orders import Orders
from resilience.services.patrols import Patrols
from resilience.services.people import People
from resilience.services.point_in_time import PointInTime
from resilience.services.recovery import Recoveries
from resilience.services.reports import Reports
from resilience.services.reviews import Reviews
from resilience.services.what_if import WhatIf


class Engine:
    """Records commands as events in one store and reads them back:

        engine = Engine("memory:")  # or "sqlite:///resilience.db", "postgresql://..."

    ``url`` defaults to ``$RESILIENCE_DB``, then to ``sqlite:///resilience.db``.
    ``clock`` gives every event's recorded time and each command's default
    ``occurred_at``. ``env`` passes extra eventsourcing settings (compression,
    encryption, pool sizes; ``RESILIENCE_TIMEOUT``, seconds, as the URL's
    ``?timeout=``). ``policy`` (default ``DEFAULT_POLICY``) is who may do what,
    where: every command is checked against it before anything is recorded
    (PermissionDeniedError); ``None`` checks nothing (resilience.domain.policy).
    ``escalation`` (default ``DEFAULT_ESCALATION``) is the deadlines ``engine.tick()``
    escalates and ``engine.overdue()`` lists (docs/live.md); ``None``: none.

    Opening raises ConfigurationError for settings the store refuses (a
    schema that does not exist, a missing cipher key) and StoreUnavailableError
    when the store cannot be reached within the timeout.

    ``engine.read_only`` is true on a store that takes no writes: a PostgreSQL hot
    standby (a streaming replica; docs/scale-out.md). There the engine answers reports
    from the views as a follower on the primary keeps them (``fresh_views`` is off),
    ``engine.views.wait(receipt.position)`` waits for a position written on the
    primary to be replayed, and commands, ``checkpoint`` and catching up the views
    raise ReadOnlyStoreError, recording nothing.

    Commands go through ``engine.communities``, ``incidents``, ``orders``,
    ``improvements``, ``emergencies``, ``patrols`` and ``hazards`` (peacetime: patrols
    walked and each grid's patrol plan; hazards found, tracked to a verified fix).
    Queries are ``engine.metrics``, ``compare``, ``service_kpis``, ``counts``, ``rates``,
    ``scorecard``, ``league_table`` and ``data_quality``: the methods of
    ``engine.reports`` (``engine.metrics`` runs ``engine.reports.metrics``);
    ``engine.mobilisation`` runs ``engine.emergencies.mobilisation``;
    ``engine.timeline`` and ``engine.review`` run ``engine.reviews.timeline`` and
    ``engine.reviews.incident`` (both read as a person, ``viewer=``, if asked); and
    ``engine.replay`` answers as of a moment. Beside them:

    - ``engine.deadlines(case_id)``: an incident's or order's deadline states under the
      escalation policy (``engine.watch.states``);
    - ``engine.overdue()``: the open orders past a deadline (``engine.watch.overdue``);
    - ``engine.tick()``: records every escalation due now (``engine.watch.tick``: a
      command, not a query);
    - ``engine.recovery(incident_id)``: an incident's linked recovery work and when it
      was recovered (``engine.recoveries.recovery``);
    - ``engine.subscribe(name, handler)``: a subscription giving the importing app each
      notice (``engine.notifications.subscribe``);
    - ``engine.what_if``: history graded under another target (``what_if.target``) or
      escalation policy (``what_if.escalations``), recording nothing.

    Trust (docs/security.md): with ``CIPHER_TOPIC`` and ``CIPHER_KEY`` in ``env`` the
    store protects personal data (sealed per person, views sealed; ProtectedStoreError
    when opened without the key), and ``engine.erase_person`` / ``export_person``
    exercise a person's rights; ``engine.verify`` checks the stored events against their
    hash chain and ``engine.checkpoint`` records a checkpoint; ``engine.importing``
    records history under an importer's identity.
    """

    # The queries reachable from the engine run the methods of its reports and reviews:
    # one signature and one docstring each (help(engine.metrics) shows it).
    # A timeline is read as a person (viewer=...) by the reviews, which read facts as people
    # may see them; without a viewer they read it from the view (Reports.timeline).
    timeline = delegated("reviews", Reviews.timeline)
    metrics = delegated("reports", Reports.metrics)
    compare = delegated("reports", Reports.compare)
    service_kpis = delegated("reports", Reports.service_kpis)
    counts = delegated("reports", Reports.counts)
    rates = delegated("reports", Reports.rates)
    scorecard = delegated("reports", Reports.scorecard)
    league_table = delegated("reports", Reports.league_table)
    data_quality = delegated("reports", Reports.data_quality)
    review = delegated("reviews", Reviews.incident)
    # A person's rights over their data (services.people): erasure and access.
    erase_person = delegated("people", People.erase)
    export_person = delegated("people", People.export)
    # The watch (services.deadlines): escalations due now, overdue orders, a case's deadlines.
    tick = delegated("watch", Watch.tick)
    overdue = delegated("watch", Watch.overdue)
    deadlines = delegated("watch", Watch.states)
    # An incident's linked recovery work, and when it was recovered (services.recovery).
    recovery = delegated("recoveries", Recoveries.recovery)
    # How fast an emergency's people were mobilised (services.emergencies).
    mobilisation = delegated("emergencies", Emergencies.mobilisation)
    # Notices to the importing app (services.notifications): one handler per subscription.
    subscribe = delegated("notifications", Notifications.subscribe)

    def __init__(
        self,
        url: str | None = None,
        *,
        clock: Clock = system_clock,
        catalogue: ServiceCatalogue = DEFAULT_CATALOGUE,
        env: Mapping[str, str] | None = None,
        fresh_views: bool = True,
        policy: Policy | None = DEFAULT_POLICY,
        escalation: EscalationPolicy | None = DEFAULT_ESCALATION,
    ) -> None:
        check_clock(clock)
        if policy is not None:
            check_instance(policy, "policy", Policy)
        if escalation is not None:
            check_instance(escalation, "escalation", EscalationPolicy)
        self._escalation = escalation
        self.url = resolve_url(url)
        settings = store_env(self.url)
        settings.update(env or {})
        with opening(self.url):
            self.app = EventStoreApplication(env=settings)
            try:
                protect(self.app)  # the key check, before anything is read (adapters.protection)
                self._chain = open_chain(self.app.recorder, self.app.env)  # adapters.chain
                self.views = Views(self.app)
                self.read_only = read_only(self.app.recorder)
                store = Store(self.app, clock, policy=policy)  # its settings checked here
            except BaseException:
                self.app.close()
                raise
        # Catching up writes the views: a read-only store's are kept by the primary's.
        self.reports = Reports(self.views, fresh=fresh_views and not self.read_only,
                               clock=clock)
        self._attach(store, catalogue)
        # Set once, so the engine's copies (with_clock, importing) share its subscriptions.
        self.notifications = Notifications(self.app, clock)

    def _attach(self, store: Store, catalogue: ServiceCatalogue) -> None:
        self._store = store
        if self.reports.clock is not store.clock:
            # An engine seen through another clock reads "now" (a peacetime report's
            # default as_of) off that clock; the copy shares the views.
            self.reports = copy.copy(self.reports)
            self.reports.clock = store.clock
        self.communities = Communities(store)
        self.incidents = Incidents(store)
        self.orders = Orders(store, catalogue)
        plan = ImprovementPlan(self.reports, store.clock)
        self.improvements = Improvements(store, plan)
        self.patrols = Patrols(store)
        self.hazards = Hazards(store)
        self.replay = PointInTime(self.app, self.reports, store.clock)
        self.emergencies = Emergencies(store, self.reports, self.app)
        # A case that begins in an emergency is held to the emergency's deadlines: by the
        # watch, and when reviews and what-ifs grade escalations.
        in_emergency = self.emergencies.in_emergency
        self.recoveries = Recoveries(self.app)
        self.reviews = Reviews(self.app, self.reports, plan, store.clock, self.recoveries,
                               policy=store.policy, verify=self.verify,
                               escalation=self._escalation,
                               emergencies=self.emergencies.reading,
                               communities=self.communities.get)
        self.people = People(store, self.views)
        self.watch = Watch(store, self.reports, self._escalation, in_emergency)
        # Reads only: history under another target or escalation policy.
        self.what_if = WhatIf(self.reports, self.app, store.clock, in_emergency=in_emergency)

    @property
    def escalation(self) -> EscalationPolicy | None:
        """The deadlines ``tick`` escalates and ``overdue`` lists (resilience.domain.escalation;
        None: none)."""
        return self._escalation

    @property
    def clock(self) -> Clock:
        return self._store.clock

    def with_clock(self, clock: Clock) -> "Engine":
        """The same store seen through another clock (e.g. a ManualClock to import history)."""
        check_clock(clock)
        other = copy.copy(self)
        other._attach(self._store.derived(clock=clock), self.catalogue)
        return other

    def with_escalation(self, escalation: EscalationPolicy | None) -> "Engine":
        """The same store under another escalation policy (a policy file's, say): what
        its ``tick`` escalates and its ``overdue`` lists."""
        if escalation is not None:
            check_instance(escalation, "escalation", EscalationPolicy)
        other = copy.copy(self)
        other._escalation = escalation
        other._attach(self._store, self.catalogue)
        return other

    @property
    def policy(self) -> Policy | None:
        """Who may do what, where (resilience.domain.policy): every command is checked
        against it before anything is recorded (PermissionDeniedError). ``Engine(...,
        policy=None)`` checks nothing: for tests and single-user tools, never for an app
        that records residents' data."""
        return self._store.policy

    def importing(self, importer: Actor) -> "Engine":
        """The same store, importing history under ``importer``'s identity (scenario files,
        bulk import): commands are not checked actor by actor, ``importer`` must be allowed
        ``"import"`` in each community (by default the system role, or its community
        staff), and every fact recorded records ``imported_by=importer.person_id`` on its
        actor. Combine with ``with_clock`` and ``batch`` to replay history."""
        check_instance(importer, "importer", Actor)
        if importer.override is not None or importer.imported_by is not None:
            raise InvalidInputError(_("an importer is a plain Actor(person_id, role): no "
                                      "override, no imported_by"))
        other = copy.copy(self)
        other._attach(self._store.derived(importer=importer), self.catalogue)
        return other

    def batch(self) -> AbstractContextManager[Batch]:
        """Record every command in the block in one transaction, or none of them.

        Commands inside see each other's facts; the facts reach the store when
        the block ends. Use it to import scenarios and history in bulk (one
        save of many events is ~10x faster than one save per command).
        The yielded :class:`Batch` tells how many events were recorded.
        """
        return self._store.batch()

    @property
    def catalogue(self) -> ServiceCatalogue:
        return self.orders.catalogue

    def events(self, aggregate_id: UUID) -> list[FactAggregate.Event]:
        """Every fact of one aggregate, in version (recording) order."""
        check_uuid(aggregate_id, "an id")
        return cast(list[FactAggregate.Event], list(self.app.events.get(aggregate_id)))

    def stored_events(self, aggregate_id: UUID) -> list[StoredEvent]:
        """The raw stored records of one aggregate (topics and JSON state), for audits."""
        check_uuid(aggregate_id, "an id")
        return list(self.app.recorder.select_events(aggregate_id))

    # A record nobody can quietly rewrite (resilience.adapters.chain) ------------------

    def verify(self, *, expect: str | Checkpoint | None = None,
               raise_on_failure: bool = False) -> Verification:
        """Check every stored event against the store's hash chain, and every checkpoint
        against the chain and (with ``RESILIENCE_SIGNING_KEY``) its signature, in pages.

        ``expect`` is the ``reference`` of a checkpoint kept outside the store
        (``"POSITION:LINK"``, or the checkpoint): it must match, which also shows the
        newest events deleted. The result names the first problem (``verification.problem``);
        ``raise_on_failure=True`` raises TamperedStoreError instead of returning one.
        """
        verification = verify_chain(self._chain.chain_reader(), self._chain.chain_settings,
                                    expect)
        return verification.raise_for_problem() if raise_on_failure else verification

    def checkpoint(self) -> Checkpoint:
        """Record a checkpoint at the newest event, signed with ``RESILIENCE_SIGNING_KEY``
        when set, after checking the chain since the latest trusted checkpoint (the whole
        chain for a store never signed: this seals it). Keep ``checkpoint.reference``
        outside the store for ``verify(expect=...)``. TamperedStoreError, recording
        nothing, if the chain does not hold."""
        return record_checkpoint(self._chain)

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
