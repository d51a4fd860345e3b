"""The ``resilience`` command line: demo, replay, timeline, metrics, rates, scorecards,
reviews, situations at a moment, improvement plans, views; the live response (tick,
overdue, watch, webhooks), emergencies and mobilisation, recovery, what-if."""

import argparse
import json
import os
import signal
import sys
import time as timer
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from importlib import metadata
from pathlib import Path

from attrs import evolve
from eventsourcing.persistence import PersistenceError

from resilience.cli import (
    emergencies,
    lists,
    live,
    notices,
    open311,
    peacetime,
    recovery,
    simulate,
    whatif,
)
from resilience.cli.common import (
    _PERIOD_TZ,
    DB_HELP,
    ArgumentParser,
    _add_period,
    _community,
    _emit,
    _existing,
    _file,
    _home_zone,
    _metric,
    _moment,
    _out_format,
    _period,
    _store,
    _today,
    _where,
    _zone,
    add_by,
    add_cut,
    add_report_output,
    emit_report,
    error_line,
    format_timeline,
    log_on_stderr,
    metrics_help,
    people_of,
    walk,
)
from resilience.cli.common import (
    progress_bar as progress_bar,  # re-exported: apps draw their own progress with it
)
from resilience.domain.incident import Incident
from resilience.domain.service import ServiceOrder
from resilience.domain.validation import MAX_DURATION
from resilience.domain.values import Actor
from resilience.engine import Engine
from resilience.errors import ConfigurationError, InvalidInputError, ResilienceError
from resilience.i18n import N_, _, current_language, set_language
from resilience.listing import resolve
from resilience.metrics.definitions import MetricDefinition
from resilience.metrics.peacetime import PEACETIME_BY_NAME, PeacetimeDefinition
from resilience.metrics.rates import RATES, RATES_BY_NAME, RateDefinition, rate_description
from resilience.metrics.reports import Comparison, MetricReport
from resilience.metrics.tables import render_table, unit_text, value_text
from resilience.projections.runner import check_interval
from resilience.review.document import OVERVIEW_AFTER
from resilience.review.escalations import told
from resilience.review.model import AfterActionReview, Grade
from resilience.review.phrases import _place as place  # a Location's words, translated
from resilience.review.situations import CommunitySituation
from resilience.review.text import enum_words
from resilience.scenario import SCENARIO_IMPORTER, load_scenario, replay, replay_file
from resilience.scenarios import DONGHU_FIRE

CONTAINMENT_TARGET = timedelta(minutes=15)
DEMO_HAZARD = "b30-storage-clutter"
"""The demo scenario's key of the hazard recorded after the fire."""


def _demo(args: argparse.Namespace) -> int:
    path = Path(args.db)
    # No need to start from an empty file: the replay's command ids make a
    # second run record nothing, so the demo never destroys an existing store.
    with Engine(str(path)) as engine:  # a bare path is a SQLite file
        scenario = load_scenario(DONGHU_FIRE)
        result = replay(engine, scenario, importer=_importer(args))
        incident_id = result.incidents["donghu-fire"]
        incident = engine.incidents.get(incident_id)
        community = engine.communities.get(result.community_id)
        timeline = engine.timeline(incident_id)
        people = {p.person_id: p.name for p in community.people.values()}
        detected = incident.detected_at
        leader = community.holder("grid_leader", incident.location.grid or "", detected)
        # The watch's escalations (the scenario's tick entries): facts of the cases, which
        # the replay's count of facts includes (ReplayResult.escalations).
        escalations = [(key, event) for key, order in result.orders.items()
                       for event in engine.events(order)
                       if isinstance(event, ServiceOrder.Escalated)]
        print(f"{scenario.name}: {community.name}, {community.subdistrict}, {community.district}")
        print(_("Replayed {facts} facts, the watch's {escalations} escalations among them, "
                "into {path} (SQLite; {recorded} recorded by this run)").format(
            facts=result.facts, escalations=len(result.escalations), path=path,
            recorded=result.events_recorded) + "\n")
        print(_("Incident {reference} ({incident}): detected {detected} at {location}").format(
            reference=incident.reference or "-", incident=incident_id,
            detected=f"{detected:%Y-%m-%d %H:%M}",
            location=(incident.location if current_language() == "en"
                      else place(str(incident.location)))))
        print(_("Grid {grid}'s leader then: {leader}").format(
            grid=incident.location.grid, leader=people.get(leader or "", leader)) + "\n")
        print(format_timeline(timeline, people))
        entry = timeline.first(Incident.Contained.fact_name)
        print()
        if entry is None:
            print(_("Not contained: the 15-minute containment target cannot be graded."))
            return 1
        minutes = entry.elapsed.total_seconds() / 60
        print((_("Contained at {time}, {minutes} minutes after detection: 15-minute target "
                 "met.") if entry.elapsed <= CONTAINMENT_TARGET else
               _("Contained at {time}, {minutes} minutes after detection: 15-minute target "
                 "MISSED.")).format(time=f"{entry.occurred_at:%H:%M}",
                                    minutes=f"{minutes:.0f}"))
        segments = [engine.metrics(name, community=result.community_id).rows[0]
                    for name in ("turnout", "travel")]
        print(_("NFPA-style segments of the first unit to arrive: {segments}").format(
            segments=_("; ").join(
                _("{metric} {median} {unit} (target {target} {unit})").format(
                    metric=s.metric, median=f"{s.median:g}", unit=unit_text(s.unit),
                    target=f"{s.target:g}")
                for s in segments if s.median is not None and s.target is not None)))
        quality = engine.data_quality(community=result.community_id)
        print(_("Data quality: {late} facts recorded more than 15 min late, {corrections} "
                "correction(s), {missing} case(s) missing a milestone.").format(
            late=len(quality.late), corrections=len(quality.corrections),
            missing=len(quality.missing)))
        review = engine.review(incident_id)
        html = path.with_name(f"{path.stem}-review.html")
        with _file("write", html):
            html.write_text(review.to_html(), encoding="utf-8")
        print("\n" + _("After-action review (HSEEP grades; the whole review: {html})").format(
            html=html))
        print(format_objectives(review))
        for item in review.plan:
            print(_("Improvement plan: {action} ({owner}, due {due}, {status})").format(
                action=item.action, owner=people.get(item.owner, item.owner),
                due=f"{item.due:%Y-%m-%d}", status=enum_words(item.status)))
        recovery = engine.recovery(incident_id)  # the lock repair ordered from the incident
        print()
        for key, escalated in escalations:
            print(_("Escalation (the watch at {time}): order {order} passed its {deadline} "
                    "deadline at {due}, level {level}: told {told}").format(
                time=f"{escalated.timestamp:%H:%M}", order=key,
                deadline=_(escalated.deadline), due=f"{escalated.due_at:%H:%M}",
                level=escalated.level, told=told(escalated.notified, people)))
        for link in recovery.links:
            print(_("Recovery: {purpose}: {state}").format(purpose=link.purpose,
                                                          state=link.describe()))
        if recovery.recovered_at is not None and recovery.duration is not None:
            print(_("Recovered {time}, {hours} h after detection (detection_to_recovered).")
                  .format(time=f"{recovery.recovered_at:%Y-%m-%d %H:%M}",
                          hours=f"{recovery.duration.total_seconds() / 3600:.0f}"))
        # After the fire, peacetime: the storage-room clutter found again on a patrol, as a
        # hazard tracked to a verified fix, and the grid's patrol plan the review asked for.
        hazard = result.hazards.get(DEMO_HAZARD)
        if hazard is not None:
            print()
            for line in peacetime.demo_lines(engine, result.community_id, hazard,
                                             incident.location.grid or "", people):
                print(line)
        contained = next(o for o in review.incidents[0].objectives
                         if o.name == "contained_within_15_min")
        return 0 if contained.grade is Grade.P else 1


def format_objectives(review: AfterActionReview) -> str:
    """Each objective's grade, title and evidence, one line each."""
    lines = []
    for incident in review.incidents:
        for result in incident.objectives:
            grade = result.grade.value if result.grade is not None else "-"  # P, S, M, U
            lines.append(f"  {grade}  " + _("{title}: {evidence}").format(
                title=result.title, evidence=result.evidence))
    return "\n".join(lines)


def _replay(args: argparse.Namespace) -> int:
    with Engine(args.db) as engine:
        # Streams: a big file is never held whole.
        result = replay_file(engine, args.file, importer=_importer(args))
    print(_("{name}: {entries} actions, {facts} facts in {db}, {recorded} recorded by this "
            "run").format(name=result.name, entries=result.entries, facts=result.facts,
                          db=args.db, recorded=result.events_recorded))
    print(_("community {id}").format(id=result.community_id))
    for key, incident in result.incidents.items():
        print(_("incident {key}: {id}").format(key=key, id=incident))
    for key, order in result.orders.items():
        print(_("order {key}: {id}").format(key=key, id=order))
    for key, hazard in result.hazards.items():
        print(_("hazard {key}: {id}").format(key=key, id=hazard))
    for key, patrol in result.patrols.items():
        print(_("patrol {key}: {id}").format(key=key, id=patrol))
    return 0


def _importer(args: argparse.Namespace) -> Actor:
    """Whom a replay imports as: ``--importer`` in ``--importer-role`` (default: the
    scenario importer, ``scenario-importer`` in the system role)."""
    if args.importer is None:
        return SCENARIO_IMPORTER
    return Actor(args.importer, args.importer_role)


def _add_importer(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--importer", metavar="PERSON_ID",
                        help=_("import under this person's id, recorded on every fact "
                               "(default: {importer})").format(
                            importer=SCENARIO_IMPORTER.person_id))
    parser.add_argument("--importer-role", default=SCENARIO_IMPORTER.role.value,
                        help=_("the importer's role, which the policy must allow to import "
                               "(default: system; or community_staff of the community)"))


def _viewer(args: argparse.Namespace) -> Actor | None:
    """Whom a report is read as: ``--as PERSON_ID`` in ``--as-role`` (None: the app, which
    sees everything)."""
    if args.viewer is None:
        if args.viewer_role is not None:
            raise InvalidInputError(_("--as-role needs --as PERSON_ID"))
        return None
    return Actor(args.viewer, args.viewer_role or "community_staff")


def _add_viewer(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="viewer", metavar="PERSON_ID",
                        help=_("read as this person: personal data the policy keeps from "
                               "them shows as [hidden] (default: everything is shown)"))
    parser.add_argument("--as-role", dest="viewer_role", metavar="ROLE",
                        help=_("the role they read in (default community_staff)"))


def _timeline(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        found = resolve(engine, args.id)
        timeline = engine.timeline(found, viewer=_viewer(args))
        tz = _zone(args.tz) if args.tz else timeline.start.tzinfo
        if args.as_of or args.known_at:  # a time of day is on the first fact's date
            on = timeline.start.astimezone(tz).date()
            zone = tz or UTC
            timeline = engine.timeline(found, as_of=_moment(args.as_of, zone, on),
                                       known_at=_moment(args.known_at, zone, on),
                                       viewer=_viewer(args))
        # Names for ids, as the review shows them; read as a person, ids only (their
        # names may be what the policy keeps from that reader).
        people = people_of(engine, found) if args.viewer is None else {}
    emit_report(args, timeline, lambda: _("start {time}").format(
        time=timeline.start.astimezone(tz).isoformat()) + "\n"
                + format_timeline(timeline, people, tz=tz))
    return 0


def _review(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        if args.incident is not None:
            scoped = [flag for flag, value in (
                ("--community", args.community), ("--grid", args.grid), ("--month", args.month),
                ("--from", args.start), ("--to", args.end),
                ("--drills", args.drills if args.drills != "include" else None)) if value]
            if scoped:
                raise InvalidInputError(_("{options} apply to --community reviews, not to "
                                          "one incident's").format(options=", ".join(scoped)))
            incident = resolve(engine, args.incident, ["incident"])
            detected = engine.replay.incident(incident).detected_at
            zone = _zone(args.tz) if args.tz else detected.tzinfo or UTC
            on = detected.astimezone(zone).date()
            review = engine.reviews.incident(incident, as_of=_moment(args.as_of, zone, on),
                                             known_at=_moment(args.known_at, zone, on),
                                             viewer=_viewer(args), verify=args.verify)
        else:
            if args.community is None:
                raise InvalidInputError(_("give an INCIDENT_ID, or --community (and --grid, "
                                          "a period) to review every incident there"))
            community = _community(engine, args.community)
            assert community is not None
            zone = _zone(args.tz) if args.tz else _home_zone(engine, community)
            today = _today(engine, zone)
            review = engine.reviews.incidents(
                community, grid=args.grid,
                period=_period(args, zone), drills=args.drills,
                as_of=_moment(args.as_of, zone, today),
                known_at=_moment(args.known_at, zone, today),
                viewer=_viewer(args), verify=args.verify)
    detail = {"auto": None, "full": True, "overview": False}[args.detail]
    render: dict[str, Callable[[], str]] = {
        "md": lambda: review.to_markdown(detail), "json": review.to_json,
        "html": lambda: review.to_html(detail)}
    _emit(render[_out_format(args.out, args.format, tuple(render), "md")](), args.out)
    if args.out:
        print(_("{title}: written to {out}").format(title=review.title, out=args.out))
    return 0


def _plan(args: argparse.Namespace) -> int:
    if args.grid is not None and args.community is None:
        raise InvalidInputError(_("--grid needs --community"))
    with _existing(args.db) as engine:
        community = _community(engine, args.community)
        zone = (_zone(args.tz) if args.tz else
                _home_zone(engine, community) if community is not None else UTC)
        items = engine.improvements.items(
            community, grid=args.grid, open_only=args.open,
            incident=resolve(engine, args.incident, ["incident"]) if args.incident else None,
            at=_moment(args.as_of, zone, _today(engine, zone)),
            known_at=_moment(args.known_at, zone, _today(engine, zone)))
        people = {p.person_id: p.name for c in {i.community for i in items}
                  for p in engine.communities.get(c).people.values()}
    rows = [[f"{i.due:%Y-%m-%d}", enum_words(i.status) + (_(", overdue") if i.overdue else ""),
             people.get(i.owner, i.owner), i.action, i.review] for i in items]
    emit_report(args, items, lambda: render_table(
        [_("due"), _("status"), _("owner"), _("action"), _("review")], rows)
                if rows else _("No improvement items."), kind="improvement_plan")
    return 0


def _situation(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        community = _community(engine, args.community)
        assert community is not None
        zone = _zone(args.tz) if args.tz else _home_zone(engine, community)
        today = _today(engine, zone)
        now = engine.replay.community(community, as_of=_moment(args.as_of, zone, today),
                                      known_at=_moment(args.known_at, zone, today),
                                      grid=args.grid)
        people = {p.person_id: p.name for p in engine.communities.get(community).people.values()}
    emit_report(args, now, lambda: format_situation(now, people, zone))
    return 0


def format_situation(now: CommunitySituation, people: dict[str, str],
                     tz: tzinfo | None = None) -> str:
    """A community's or grid's situation as text: its mode (peacetime, or each emergency in
    force with who was called up and where they are), roster, open incidents and orders."""
    def name(person: str | None) -> str:
        return people.get(person or "", person or "-")

    def moment(at: datetime) -> str:
        return (at.astimezone(tz) if tz else at).isoformat(timespec="minutes")

    where = (_("{community}, grid {grid}").format(community=now.name, grid=now.grid)
             if now.grid else now.name)
    lines = [(_("{where} at {at}, as known at {known}") if now.known_at
              else _("{where} at {at}")).format(
                 where=where, at=moment(now.at),
                 known=moment(now.known_at) if now.known_at else ""),
             "", _("Mode: {mode}").format(
                 mode=_("emergency") if now.mode == "emergency" else _("peacetime"))]
    for emergency in now.emergencies:
        area = (_("grid {grid}").format(grid=emergency.area) if emergency.area
                else _("the whole community"))
        lines.append("  " + _("{kind} emergency in {area} since {since} ({id}): {reason}").format(
            kind=enum_words(emergency.kind), area=area, since=moment(emergency.declared_at),
            id=emergency.emergency_id, reason=emergency.reason))
        for member in emergency.members:
            state = {"arrived": _("arrived {time} at {post}").format(
                         time=moment(member.arrived_at), post=member.post)
                     if member.arrived_at else "",
                     "acknowledged": _("acknowledged {time}").format(
                         time=moment(member.acknowledged_at))
                     if member.acknowledged_at else "",
                     "called": _("called {time}, no answer yet").format(
                         time=moment(member.called_at))}
            lines.append("    " + _("{person}: {state}").format(person=name(member.person_id),
                                                            state=state[member.status]))
    lines += ["", _("Roster:")]
    lines += ["  " + (_("{role} ({scope}): {person}") if h.scope else _("{role}: {person}"))
              .format(role=enum_words(h.role), scope=h.scope, person=name(h.person_id))
              for h in now.roster]
    lines += ["", _("Open incidents ({count}):").format(count=len(now.open_incidents))]
    for incident in now.open_incidents:
        lines.append("  " + _("{id} {type} ({severity}){drill}, grid {grid}, detected {detected}: "
                              "{status}, commander {commander}").format(
            id=incident.incident_id, type=value_text(str(incident.incident_type)),
            severity=value_text(str(incident.severity)),
            drill=_(" [drill]") if incident.drill else "", grid=incident.grid or "?",
            detected=moment(incident.detected_at), status=enum_words(incident.status),
            commander=name(incident.commander)))
        if incident.on_scene:
            lines.append("    " + _("on scene: {people}").format(
                people=_(", ").join(map(name, incident.on_scene))))
        if incident.pending_consents:
            lines.append("    " + _("awaiting consent: {places}").format(
                places=_(", ").join(incident.pending_consents)))
    lines += ["", _("Open orders ({count}):").format(count=len(now.open_orders))]
    lines += ["  " + _("{id} {category}/{item}, placed {placed}, {status}").format(
                  id=o.order_id, category=value_text(o.category), item=value_text(o.item),
                  placed=moment(o.placed_at), status=enum_words(o.status))
              + (_(", provider {provider}").format(provider=o.provider) if o.provider else "")
              for o in now.open_orders]
    return "\n".join(lines)


def _rates(args: argparse.Namespace) -> tuple[RateDefinition, ...]:
    """The built-in rates, with the response limit (minutes) and the lowest satisfied score
    the options give, each described by its rule as it now is."""
    if not 0 < args.limit <= MAX_DURATION / timedelta(minutes=1):  # NaN fails it too
        raise InvalidInputError(_("--limit must be a number of minutes above 0 and at most "
                                  "{most}, got {limit}").format(
            most=f"{MAX_DURATION / timedelta(minutes=1):,.0f}", limit=args.limit))
    rates = (evolve(rate, limit=timedelta(minutes=args.limit)) if rate.limit is not None
             else evolve(rate, satisfied_from=args.satisfied_from)
             if rate.satisfied_from is not None else rate for rate in RATES)
    return tuple(evolve(rate, description=rate_description(rate)) for rate in rates)


def _ranked(args: argparse.Namespace
            ) -> MetricDefinition | RateDefinition | PeacetimeDefinition:
    """What ``league`` ranks on: a built-in rate (with the options' limit and score), a
    peacetime figure (patrol coverage, hazards per 100 households...), or a metric."""
    if args.metric in RATES_BY_NAME:
        return next(rate for rate in _rates(args) if rate.name == args.metric)
    if args.metric in PEACETIME_BY_NAME:
        return PEACETIME_BY_NAME[args.metric]
    return _metric(args.metric)


def _names(engine: Engine) -> dict[str, str]:
    return {key: name for key, (name, _) in engine.reports.communities().items()}


def _metrics(args: argparse.Namespace) -> int:
    definitions = [_metric(ref) for ref in (args.metric or ["detection_to_contained"])]
    tz = _zone(args.tz) if args.tz else None
    with _existing(args.db) as engine:
        community, zone = _where(engine, args)
        period = _period(args)
        known_at = _moment(args.known_at, zone, _today(engine, zone))
        if len(definitions) == 1:
            report = engine.metrics(definitions[0], period, args.by or [], community=community,
                                    tz=tz, known_at=known_at, as_closed=args.as_closed)
            shown: MetricReport | Comparison = (report.in_unit(args.unit) if args.unit
                                                else report)
        else:
            comparison = engine.compare(definitions, period, args.by or [], community=community,
                                        tz=tz, known_at=known_at, as_closed=args.as_closed)
            shown = comparison.in_unit(args.unit) if args.unit else comparison
        names = _names(engine)
    emit_report(args, shown, lambda: shown.render(names))
    return 0


def _rates_command(args: argparse.Namespace) -> int:
    rates = _rates(args)
    tz = _zone(args.tz) if args.tz else None
    with _existing(args.db) as engine:
        report = engine.rates(_period(args), args.by or [], rates=rates,
                              community=_community(engine, args.community), tz=tz)
        names = _names(engine)
    emit_report(args, report, lambda: report.render(names))
    return 0


def _scorecard(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        community = _community(engine, args.community)
        assert community is not None
        card = engine.scorecard(community, args.grid, _period(args), rates=_rates(args))
    emit_report(args, card, card.render)
    return 0


def _league(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        table = engine.league_table(_ranked(args), _period(args), level=args.level,
                                    community=_community(engine, args.community),
                                    min_sample=args.min_sample, last=args.last or None)
    emit_report(args, table, table.render)
    return 0


def _quality(args: argparse.Namespace) -> int:
    most = MAX_DURATION / timedelta(minutes=1)
    if not 0 <= args.late_after <= most:  # NaN fails the comparison too
        raise InvalidInputError(_("--late-after must be a number of minutes from 0 to {most} "
                                  "({days} days), got {late_after}").format(
            most=f"{most:,.0f}", days=f"{MAX_DURATION.days:,}", late_after=args.late_after))
    with _existing(args.db) as engine:
        report = engine.data_quality(_period(args), late_after=timedelta(minutes=args.late_after),
                                     community=_community(engine, args.community))
    emit_report(args, report, report.render)
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    with _existing(args.db, fresh_views=False) as engine:
        started = timer.monotonic()
        folded = engine.views.rebuild(progress=progress_bar())
        seconds = timer.monotonic() - started
    print(_("rebuilt the views from {events} events in {seconds} s").format(
        events=f"{folded:,}", seconds=f"{seconds:.1f}"))
    return 0


def _erase(args: argparse.Namespace) -> int:
    with _existing(args.db) as engine:
        community = _community(engine, args.community)
        assert community is not None  # --community is required
        receipt = engine.erase_person(args.person, community=community,
                                      actor=Actor(args.by, args.role), reason=args.reason)
    print(_("erased {person}: their key is deleted, their personal data reads \"[erased]\" "
            "everywhere and the views were rebuilt (fact {version} of community "
            "{community})").format(person=args.person, version=receipt.last_version,
                                   community=community))
    return 0


def _export_person(args: argparse.Namespace) -> int:
    with _existing(args.db, fresh_views=False) as engine:
        exported = engine.export_person(args.person, actor=Actor(args.by, args.role))
    _emit(json.dumps(exported, ensure_ascii=False, indent=2), args.out)
    return 0


FOLLOWER_CHECK = 1.0
"""Seconds between checks that ``project --follow``'s follower is still running."""


def _project(args: argparse.Namespace) -> int:
    if args.follow:
        check_interval(args.interval)
    with _existing(args.db, fresh_views=False) as engine:
        folded = engine.views.catch_up(progress=progress_bar())
        print(_("views at {position}: {events} new events folded").format(
            position=engine.views.position, events=f"{folded:,}"))
        if not args.follow:
            return 0
        print(_("following every {interval} s; Ctrl-C stops").format(interval=args.interval),
              flush=True)
        log_on_stderr("resilience.views")
        follower = engine.views.follow(args.interval)
        try:
            while follower.running:
                timer.sleep(FOLLOWER_CHECK)
        except KeyboardInterrupt:
            follower.stop()
            return 0
    # The follower retries every failure of the store; it stops only on a fault of its own.
    error = follower.error or RuntimeError(_("the views follower stopped"))
    print(f"resilience: {error_line(error)}", file=sys.stderr)
    return 2


def _verify(args: argparse.Namespace) -> int:
    # fresh_views=False: the events are checked as stored, not folded into the views.
    with _existing(args.db, fresh_views=False) as engine:
        verification = engine.verify(expect=args.expect)
    print(verification)  # worded in the current language (resilience.adapters.chain)
    return 0 if verification.ok else 1


def _checkpoint(args: argparse.Namespace) -> int:
    with _existing(args.db, fresh_views=False) as engine:
        checkpoint = engine.checkpoint()
    print(_("recorded {checkpoint}").format(checkpoint=checkpoint))
    print(_("keep this reference outside the store: resilience verify --expect "
            "{reference}").format(reference=checkpoint.reference))
    return 0


_REVIEW_TZ = N_("time zone of times without an offset (default: the incident's own offset; "
                "for --community, the community's)")


def _add_rate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=float, default=120,
                        help=_("minutes within which an order must be answered for the "
                               "response rate (default 120)"))
    parser.add_argument("--satisfied-from", type=int, default=4, choices=range(1, 6),
                        metavar="{1-5}",
                        help=_("lowest score counted as satisfied (default 4)"))


LANG_HELP = N_("the language of what is printed: en or zh-CN (default: $RESILIENCE_LANG, "
               "else the locale, else English)")

DESCRIPTION = N_("The ``resilience`` command line: demo, replay, timeline, metrics, rates, "
                 "scorecards, reviews, situations at a moment, improvement plans, views; the "
                 "live response (tick, overdue, watch, webhooks), emergencies and "
                 "mobilisation, recovery, what-if.")
"""The command line's description in its help (the module's docstring, to translate)."""


def version() -> str:
    """The installed distribution's version, which pyproject reads from
    ``resilience.__version__`` (the package's ``__init__`` sits above every layer, so the
    command line asks the metadata rather than importing it)."""
    try:
        return metadata.version("resilience")
    except metadata.PackageNotFoundError:  # run from a source tree never installed
        return _("(not installed)")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser, its help and messages in the current language (so build
    it once the language is chosen: ``main`` reads ``--lang`` first)."""
    parser = ArgumentParser(prog="resilience", description=_(DESCRIPTION))
    parser.add_argument("--version", action="version", version=f"resilience {version()}",
                        help=_("print the version and exit"))
    parser.add_argument("--lang", metavar="LANG", help=_(LANG_HELP))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str, run: Callable[[argparse.Namespace], int] | None, *,
                period: bool = False, tz_help: str = _PERIOD_TZ, db_required: bool = True,
                **defaults: object) -> argparse.ArgumentParser:
        """A subcommand on a store named by --db (else $RESILIENCE_DB: required unless
        db_required is False, then absent from the namespace when not given), and the
        period options. ``text``: the subcommand's help, translated by the caller."""
        sub = commands.add_parser(name, help=text, description=text)
        if db_required:
            sub.add_argument("--db", metavar="STORE", help=_(DB_HELP))
            defaults["needs_db"] = True
        else:
            sub.add_argument("--db", metavar="STORE", default=argparse.SUPPRESS,
                             help=_(DB_HELP))
        if period:
            _add_period(sub, tz_help)
        if run is not None:
            defaults["run"] = run
        sub.set_defaults(**defaults)
        return sub

    demo = commands.add_parser("demo", help=_("replay the Donghu fire: its timeline, grades "
                                              "and review (also written as "
                                              "<db>-review.html)"))
    demo.add_argument("--db", default="donghu-demo.db",
                      help=_("SQLite file to record into (default donghu-demo.db; a second "
                             "run records nothing new)"))
    demo.set_defaults(run=_demo)
    _add_importer(demo)
    replaying = command("replay", _("record a scenario file into a store"), _replay)
    replaying.add_argument("file", help=_("the scenario file (.json, format "
                                          "resilience.scenario)"))
    _add_importer(replaying)
    tl = command("timeline", _("print the timeline of an incident or order"), _timeline)
    tl.add_argument("id", help=_("the incident's, order's or community's id; for an incident "
                                 "or order also its first characters (resilience list) or "
                                 "scenario handle"))
    tl.add_argument("--tz", help=_("show times in this zone (default: the detection's "
                                   "offset)"))
    add_cut(tl, "the first fact's date")
    _add_viewer(tl)
    met = command("metrics", _("a metric (or several side by side) over a period"), _metrics,
                  period=True)
    met.add_argument("metric", nargs="*", metavar="METRIC",
                     help=_("{metrics} (default: detection_to_contained; several: side by "
                            "side)").format(metrics=metrics_help()))
    add_by(met, "community, grid, incident_type, severity, zone_type, category, item, "
                "provider, provider_kind, day, week, month, year")
    met.add_argument("--unit", choices=["s", "min", "h", "d"],
                     help=_("show durations in this unit (default: each metric's own)"))
    add_cut(met, as_of=False)
    met.add_argument("--as-closed", action="store_true",
                     help=_("closed cases as known when their closure was recorded "
                            "(default: as corrected since)"))
    rates = command("rates", _("the response, resolution and satisfaction rates of service "
                               "orders over a period"), _rates_command, period=True)
    add_by(rates, "community, grid, zone_type, category, item, provider, provider_kind, day, "
                  "week, month, year")
    _add_rate_options(rates)
    card = command("scorecard", _("a community's or grid's assessment figures"), _scorecard,
                   period=True, needs_community=True)
    card.add_argument("--grid", help=_("one grid of the community"))
    _add_rate_options(card)
    league = command("league", _("grids or communities ranked on a metric or a rate"),
                     _league, period=True)
    league.add_argument("--metric", default="detection_to_contained", metavar="METRIC",
                        help=_("what to rank on: a rate ({rates}), a peacetime figure "
                               "({figures}), or {metrics} (default "
                               "detection_to_contained)").format(
                            rates=", ".join(RATES_BY_NAME),
                            figures=", ".join(PEACETIME_BY_NAME), metrics=metrics_help()))
    league.add_argument("--level", choices=["grid", "community"], default="grid",
                        help=_("rank grids or communities (default grid)"))
    league.add_argument("--min-sample", type=int, default=10,
                        help=_("measured cases needed to be ranked (default 10)"))
    league.add_argument("--last", type=int, default=100,
                        help=_("rank over each one's latest N cases (0: all; default 100)"))
    _add_rate_options(league)
    quality = command("quality", _("the data-quality report"), _quality, period=True)
    quality.add_argument("--late-after", type=float, default=15,
                         help=_("minutes after which a record counts as late (default 15)"))
    review = command("review", _("the after-action review of an incident, or of every "
                                 "incident of a community or grid over a period"), _review,
                     period=True, tz_help=_REVIEW_TZ)
    review.add_argument("incident", nargs="?", help=_("the incident's id, its first "
                                                      "characters or its scenario handle "
                                                      "(omit for --community)"))
    add_cut(review, "the incident's date (with --community: today)")
    review.add_argument("--format", choices=["md", "json", "html"],
                        help=_("md, json or html (default: the --out file's extension, else "
                               "md)"))
    review.add_argument("--out", help=_("write to this file instead of printing (its "
                                        "extension, .md, .json or .html, gives the format "
                                        "unless --format does)"))
    review.add_argument("--grid", help=_("with --community: one grid"))
    review.add_argument("--drills", choices=["include", "exclude", "only"], default="include",
                        help=_("with --community: which incidents (default: drills "
                               "included)"))
    review.add_argument("--detail", choices=["auto", "overview", "full"], default="auto",
                        help=_("every incident's section (full), or an index of one line "
                               "each (overview); auto (default): in full up to {count} "
                               "incidents (md and html; json is always whole)").format(
                            count=OVERVIEW_AFTER))
    review.add_argument("--verify", action="store_true",
                        help=_("verify the store's hash chain first and say so in the "
                               "review"))
    _add_viewer(review)
    situation = command("situation", _("a community or grid at a moment: roster, open "
                                       "incidents (on scene, awaiting consent) and open "
                                       "orders"), _situation, needs_community=True)
    situation.add_argument("--community", help=_("a community's id or exact name"))
    situation.add_argument("--grid", help=_("one grid of the community"))
    add_cut(situation)
    situation.add_argument("--tz", help=_("time zone of times without an offset, and of the "
                                          "times shown (default: the community's own "
                                          "offset)"))
    plan = command("plan", _("improvement items raised by reviews, by due date"), _plan)
    plan.add_argument("--community", help=_("a community's id or exact name"))
    plan.add_argument("--grid", help=_("with --community: one grid"))
    plan.add_argument("--incident", help=_("items raised for one incident (its id, first "
                                           "characters or scenario handle)"))
    plan.add_argument("--open", action="store_true",
                      help=_("only items not done nor cancelled"))
    add_cut(plan)
    plan.add_argument("--tz", help=_("time zone of times without an offset (default: the "
                                     "community's own offset, else UTC)"))
    command("rebuild", _("rebuild every view from the whole history"), _rebuild)
    project = command("project", _("bring the views up to date (--follow: keep them so, for "
                                   "apps reading with fresh_views=False)"), _project)
    project.add_argument("--follow", action="store_true",
                         help=_("keep following new events until Ctrl-C"))
    project.add_argument("--interval", type=float, default=0.5,
                         help=_("with --follow: seconds between polls (default 0.5)"))
    # The record's integrity (RESILIENCE_SIGNING_KEY in the environment signs and checks).
    check = command("verify", _("check every event against the store's hash chain and "
                                "checkpoints; exit 0 if it holds, 1 if the record was "
                                "tampered with"), _verify)
    check.add_argument("--expect", metavar="POSITION:LINK",
                       help=_("a checkpoint's reference kept outside the store: it must "
                              "match"))
    command("checkpoint", _("record a checkpoint (signed with RESILIENCE_SIGNING_KEY) after "
                            "checking the chain since the last one"), _checkpoint)
    # A person's rights (protected stores: CIPHER_TOPIC and CIPHER_KEY in the environment).
    erase = command("erase", _("erase a person's personal data from a protected store "
                               "(their key is deleted; the facts and every number stay)"),
                    _erase, needs_community=True)
    erase.add_argument("--community", help=_("the community recording the erasure (id or "
                                             "name)"))
    erase.add_argument("--person", required=True, help=_("the person's id"))
    erase.add_argument("--by", required=True, help=_("your person id (community staff)"))
    erase.add_argument("--role", default="community_staff",
                       help=_("the role you act in (default community_staff)"))
    erase.add_argument("--reason", required=True,
                       help=_("on what ground (e.g. the person's request); don't name them"))
    export = command("export-person", _("everything the store holds about a person, as JSON "
                                        "(an access request)"), _export_person)
    export.add_argument("--person", required=True, help=_("the person's id"))
    export.add_argument("--by", required=True, help=_("your person id (community staff of "
                                                      "every community holding the person, "
                                                      "or the person themselves)"))
    export.add_argument("--role", default="community_staff",
                        help=_("the role you act in (default community_staff; resident for "
                               "your own data)"))
    export.add_argument("--out", help=_("write to this file instead of printing"))
    for reporting in (tl, met, rates, card, league, quality, situation, plan):
        add_report_output(reporting)
    for register in (live.register, notices.register, emergencies.register, whatif.register,
                     recovery.register, simulate.register, lists.register, open311.register,
                     peacetime.register):
        register(command)
    for path, sub in walk(parser):
        if path:  # --lang after the subcommand's name too; SUPPRESS keeps the global one
            sub.add_argument("--lang", metavar="LANG", default=argparse.SUPPRESS,
                             help=_(LANG_HELP))
    return parser


def _lang_option(argv: Sequence[str]) -> str | None:
    """The language ``--lang`` names in ``argv`` (the last one, as argparse reads it), read
    before the parser is built, so that its help and its messages are in that language."""
    found = None
    for at, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and at + 1 < len(argv):
            found = argv[at + 1]
        elif arg.startswith("--lang="):
            found = arg.partition("=")[2]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    lang = _lang_option(argv)
    try:
        try:
            if lang is not None:
                set_language(lang)
            current_language()  # RESILIENCE_LANG naming a language we don't speak
        except ConfigurationError as exc:
            print(f"resilience: {error_line(exc)}", file=sys.stderr)
            return 2
        return _main(build_parser(), argv)
    finally:
        if lang is not None:
            # An app calling main() gets its process back in the language it was in.
            set_language(None)


def _main(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    args = parser.parse_args(argv)
    if getattr(args, "needs_community", False) and args.community is None:
        parser.error(_("{command} needs --community (an id or a name)").format(
            command=args.command))
    try:
        if getattr(args, "needs_db", False):
            args.db = _store(args.db, args.command)
        if args.lang is not None:
            set_language(args.lang)
        code: int = args.run(args)
    except BrokenPipeError:
        # The reader went away (``| head``): nothing more to say to it, and nothing to
        # complain of. Exit as a program killed by SIGPIPE does, with stdout muted so the
        # interpreter's own flush at exit doesn't fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except (ResilienceError, OSError, PersistenceError) as exc:
        # The library's documented errors; a file the command line could not read or
        # write; a fault of the store no resilience error stood for (there should be
        # none), shown as what it is
        print(f"resilience: {error_line(exc)}", file=sys.stderr)
        return 2
    finally:
        if args.lang is not None:
            # An app calling main() gets its process back in the language it was in.
            set_language(None)
    return code
