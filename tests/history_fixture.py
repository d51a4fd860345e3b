"""Write a fixture of stored events, exactly as this version of the library stores them.

    python tests/history_fixture.py tests/fixtures/history-0.2.json

The fixture is committed once per release whose stored form changed, and never
regenerated: tests/test_stored_history.py loads every fixture ever committed, so
each future change is tested against history that already exists. It holds the
two shipped scenarios (the Donghu fire, a day of Xiangyang orders) and a few
commands more so that every event class of the release occurs at least once, and
beside the events, what this version computed from them (``expected``).
"""

import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.utils import get_topic

from resilience import (
    Actor,
    CareCard,
    Contact,
    Engine,
    Location,
    ManualClock,
    Provider,
    ProviderKind,
    Role,
    ZoneType,
)
from resilience.domain.base import Context, Correction, FactAggregate
from resilience.domain.catalogue import DEFAULT_CATALOGUE
from resilience.domain.hazard import Hazard
from resilience.domain.incident import Incident
from resilience.domain.organisation import Community
from resilience.domain.patrol import Frequency, PatrolRule, PatrolVisit, patrol_plan_id
from resilience.domain.service import ServiceOrder
from resilience.metrics import BUILT_IN, SCORECARD, MetricDefinition
from resilience.scenario import load_scenario, replay

LIBRARY = "resilience 0.6 (unreleased: issue 16)"
"""The version written into a new fixture (history-0.1.json says "resilience 0.1.0")."""
STAFF = Actor("office-duty", Role.COMMUNITY_STAFF)
RESIDENT = Actor("resident-301", Role.RESIDENT)


def _scenario(engine: Engine, name: str) -> Any:
    with resources.as_file(resources.files("resilience.scenarios") / name) as path:
        return replay(engine, load_scenario(path))


def _extra(engine: Engine, community: UUID, fire: UUID, order: UUID) -> None:
    """Commands for the event classes the shipped scenarios don't use."""
    start = max(engine.events(fire)[-1].occurred_at,
                engine.events(order)[-1].occurred_at) + timedelta(hours=2)
    clock = ManualClock(start)
    e = engine.with_clock(clock)

    def at(minutes: int) -> Any:
        return start + timedelta(minutes=minutes)

    contact = Contact("Zhang Chuanlian", "0538-0000003", "zhang")
    e.communities.add_micro_grid(community, "3-a", "3", "micro-grid 3-a", actor=STAFF,
                                 occurred_at=at(1))
    e.communities.classify_zone(community, "3", ZoneType.OLD_ESTATE, actor=STAFF,
                                occurred_at=at(2))
    e.communities.enrol(community, "li", "Li Ming", "0538-0000004", actor=STAFF,
                        occurred_at=at(3))
    e.communities.assign_role(community, "li", Role.VOLUNTEER, actor=STAFF, occurred_at=at(4))
    e.communities.relieve_role(community, "li", Role.VOLUNTEER, actor=STAFF, occurred_at=at(5))
    e.communities.issue_care_card(community, "3", CareCard(*[contact] * 6), actor=STAFF,
                                  occurred_at=at(6))
    e.communities.hold_activity(community, title="fire drill briefing", category="safety",
                                participants=40, actor=STAFF, occurred_at=at(7))
    e.communities.correct_time(community, 2, at(0), "entered late", actor=STAFF,
                               occurred_at=at(8))
    e.communities.correct_details(community, 2, "grid 3 (north)", "name spelt out",
                                  actor=STAFF, occurred_at=at(9))
    e.communities.set_code(community, "DHC", actor=STAFF, occurred_at=at(9))

    e.incidents.reopen(fire, "smouldering found", actor=STAFF, occurred_at=at(10))
    e.incidents.reclassify(fire, severity="moderate", actor=STAFF, occurred_at=at(11))
    e.incidents.request_consent(fire, "resident-302", "enter flat 302", actor=STAFF,
                                occurred_at=at(12))
    e.incidents.refuse_consent(fire, "resident-302", "not at home", actor=STAFF,
                               occurred_at=at(13))
    e.incidents.authorise_exigent_entry(fire, "smoke spreading", actor=STAFF,
                                        occurred_at=at(14))
    e.incidents.add_note(fire, "checked again", actor=STAFF, occurred_at=at(15))
    e.incidents.correct_details(fire, 2, "phoned the office", "wording", actor=STAFF,
                                occurred_at=at(16))
    e.incidents.resolve(fire, "no more smoke", actor=STAFF, occurred_at=at(17))
    e.incidents.close(fire, "resolved", actor=STAFF, occurred_at=at(18))

    other = e.incidents.report(community, incident_type="other", severity="low",
                               location=engine.incidents.get(fire).location,
                               description="smell of smoke", actor=STAFF,
                               occurred_at=at(20), command_id="fixture/other").aggregate_id
    e.incidents.close(other, "false_alarm", "cooking", actor=STAFF, occurred_at=at(21))

    e.orders.reopen(order, "tap drips again", actor=RESIDENT, occurred_at=at(30))
    e.orders.add_note(order, "resident called back", actor=STAFF, occurred_at=at(31))
    e.orders.cancel(order, "fixed by a neighbour", actor=RESIDENT, occurred_at=at(32))
    e.orders.correct_time(order, 2, engine.events(order)[1].occurred_at, "same time",
                          actor=STAFF, occurred_at=at(33))
    e.orders.correct_details(order, 1, "kitchen tap", "which tap", actor=STAFF,
                             occurred_at=at(34))

    # An incident and an order as a version before references recorded them (no
    # reference), given theirs.
    legacy = Context(STAFF, at(35), at(35))
    old_fire = Incident.detect(legacy, incident_id=uuid5(UUID(int=0), "fixture/legacy"),
                               community_id=community, incident_type="other", severity="low",
                               location=engine.incidents.get(fire).location,
                               description="an old record")
    old_order = ServiceOrder.place(legacy, order_id=uuid5(UUID(int=0), "fixture/legacy-order"),
                                   community_id=community, household_id="resident-301",
                                   area_id="30", grid_id="3", zone_type=None,
                                   service=DEFAULT_CATALOGUE.get("home", "repair"))
    engine.app.save(old_fire, old_order)
    e.incidents.assign_reference(old_fire.id, actor=STAFF, occurred_at=at(36))
    e.orders.assign_reference(old_order.id, actor=STAFF, occurred_at=at(36))

    item = e.improvements.plan(community, review=f"incident/{fire}", action="fit a lock box",
                               owner="li", due=at(60 * 24 * 7), actor=STAFF,
                               incident_id=fire, occurred_at=at(40),
                               command_id="fixture/item").aggregate_id
    e.improvements.assign(item, "zhang", actor=STAFF, occurred_at=at(41))
    e.improvements.reschedule(item, at(60 * 24 * 14), "parts late", actor=STAFF,
                              occurred_at=at(42))
    e.improvements.start(item, actor=STAFF, occurred_at=at(43))
    e.improvements.add_note(item, "ordered", actor=STAFF, occurred_at=at(44))
    e.improvements.complete(item, "fitted", actor=STAFF, occurred_at=at(45))
    e.improvements.reopen(item, "lock box broken", actor=STAFF, occurred_at=at(46))
    e.improvements.correct_time(item, 5, at(43), "started earlier", actor=STAFF,
                                occurred_at=at(47))
    e.improvements.correct_details(item, 1, "fit a key lock box", "wording", actor=STAFF,
                                   occurred_at=at(48))
    e.improvements.cancel(item, "replaced by a new plan", actor=STAFF, occurred_at=at(49))

    _since_0_2(e, community, at)
    _since_0_3(e, community, at)
    _since_0_4(engine, community, at)
    _since_0_5(engine, community, fire, at)


def _since_0_2(e: Engine, community: UUID, at: Any) -> None:
    """Stored forms new in 0.2: a rekindled incident (a second containment after a
    reopening) amended after its closure, a rating that says whether the request was
    resolved, and a corrected activity head count."""
    fire = e.incidents.report(
        community, incident_type="fire", severity="high", location=Location(grid="3"),
        description="bin store fire", actor=STAFF, occurred_at=at(60),
        command_id="fixture/rekindle").aggregate_id
    e.incidents.dispatch(fire, ["li"], task="extinguish", actor=STAFF, occurred_at=at(61))
    e.incidents.arrive(fire, "li", actor=STAFF, occurred_at=at(65))
    e.incidents.contain(fire, "bins doused", actor=STAFF, occurred_at=at(70))
    e.incidents.resolve(fire, "cooled down", actor=STAFF, occurred_at=at(75))
    e.incidents.reopen(fire, "rekindled", actor=STAFF, occurred_at=at(80))
    e.incidents.dispatch(fire, ["li"], task="again", actor=STAFF, occurred_at=at(81))
    e.incidents.contain(fire, "out again", actor=STAFF, occurred_at=at(85))
    e.incidents.resolve(fire, "soaked", actor=STAFF, occurred_at=at(90))
    e.incidents.close(fire, "resolved", actor=STAFF, occurred_at=at(95))
    e.incidents.en_route(fire, "li", actor=STAFF, occurred_at=at(62))  # late, after closure

    order = e.orders.place(community, household_id="h-2", area_id="30", category="home",
                           item="repair", actor=RESIDENT, occurred_at=at(100),
                           command_id="fixture/resolved").aggregate_id
    e.orders.accept(order, actor=STAFF, occurred_at=at(101))
    e.orders.dispatch(order, Provider(ProviderKind.GRID_WORKER, "li"), actor=STAFF,
                      occurred_at=at(102))
    e.orders.complete(order, "fixed", actor=STAFF, occurred_at=at(110))
    e.orders.rate(order, 4, "quick", resolved=True, actor=RESIDENT, occurred_at=at(111))

    activity = e.communities.hold_activity(community, title="first-aid class",
                                           category="training", participants=12, grid="3",
                                           actor=STAFF, occurred_at=at(120))
    e.communities.correct_participants(community, activity.versions[-1], 15,
                                       "the sign-in sheet lists 15", actor=STAFF,
                                       occurred_at=at(121))


def _since_0_3(e: Engine, community: UUID, at: Any) -> None:
    """Stored forms new in 0.3: an actor acting by override (its reason kept on the fact),
    and a person's erasure (recorded through the aggregate: the engine erases only on a
    protected store, whose events a fixture could not hold in the clear). The scenarios'
    facts carry their importer (``imported_by``) already."""
    fire = e.incidents.report(
        community, incident_type="other", severity="low", location=Location(grid="3"),
        description="gate left open", actor=STAFF, occurred_at=at(130),
        command_id="fixture/override").aggregate_id
    e.incidents.add_note(fire, "closed the gate myself",
                         actor=Actor("li", Role.SQUAD_MEMBER, override="no staff on duty"),
                         occurred_at=at(131))
    ctx = e._store.context(STAFF, at(140), "fixture/erased")
    e._store.change(Community, community, ctx,
                    lambda c: c.erase_person(ctx, "resident-301", "the resident asked"))


def _since_0_4(engine: Engine, community: UUID, at: Any) -> None:
    """Stored forms new in 0.4 (issue 13): an incident's escalation raised by the watch,
    an improvement item linked to an incident's recovery, and an emergency from its
    declaration to its end, corrected. The Donghu scenario holds an order's escalation
    and an order linked to the fire's recovery already."""
    clock = ManualClock(at(150))
    e = engine.with_clock(clock)
    fire = e.incidents.report(
        community, incident_type="fire", severity="high", location=Location(grid="3"),
        description="smoke from a meter box", actor=STAFF, occurred_at=at(150),
        command_id="fixture/escalated").aggregate_id
    clock.set(at(153))
    e.views.catch_up()
    assert e.tick().raised, "the unacknowledged fire escalates after 2 minutes"
    e.incidents.acknowledge(fire, actor=STAFF, occurred_at=at(153))
    item = e.improvements.plan(community, review=f"incident/{fire}", action="check meter boxes",
                               owner="li", due=at(60 * 24 * 7), actor=STAFF, incident_id=fire,
                               occurred_at=at(154), command_id="fixture/recovery-item").aggregate_id
    e.incidents.link_recovery(fire, item, purpose="meter boxes checked", actor=STAFF,
                              occurred_at=at(155))

    emergency = e.emergencies.declare(community, kind="power_cut", reason="grid 3 blackout",
                                      area_id="3", actor=STAFF, occurred_at=at(156),
                                      command_id="fixture/emergency").aggregate_id
    e.emergencies.call_up(emergency, ["squad_member"], actor=STAFF, occurred_at=at(157))
    e.emergencies.acknowledge(emergency, "p-3101", actor=STAFF, occurred_at=at(158))
    e.emergencies.arrive(emergency, "p-3101", "building 30 gate", actor=STAFF,
                         occurred_at=at(160))
    e.emergencies.add_note(emergency, "generator on its way", actor=STAFF, occurred_at=at(161))
    e.emergencies.correct_time(emergency, 4, at(159), "radio log", actor=STAFF,
                               occurred_at=at(162))
    e.emergencies.correct_details(emergency, 5, "at the building 30 gate", "wording",
                                  actor=STAFF, occurred_at=at(163))
    e.emergencies.end(emergency, actor=STAFF, occurred_at=at(170))


def _since_0_5(engine: Engine, community: UUID, fire: UUID, at: Any) -> None:
    """Stored forms new in 0.6 (issue 16): a patrol plan revised and corrected, a patrol
    whose coverage and end are corrected, and hazards through their whole life: found on
    the patrol, assigned, rectified, verified by someone else, reopened, closed without
    verification, linked to an order, an improvement item and an incident (each of which
    records the other side), corrected; one recorded as a version before references did
    it, given its reference."""
    clock = ManualClock(at(200))
    e = engine.with_clock(clock)
    weekly = PatrolRule("every building", Frequency.WEEKLY)
    storage = PatrolRule("storage rooms", Frequency.MONTHLY, spot="storage_room")
    # Grid 3's plan was adopted by the Donghu scenario (version 1): revised twice here.
    e.patrols.adopt_plan(community, "3", [weekly], reason="buildings only for now",
                         actor=STAFF, occurred_at=at(200), command_id="fixture/plan")
    e.patrols.adopt_plan(community, "3", [weekly, storage], reason="storage rooms too",
                         actor=STAFF, occurred_at=at(201))
    plan = patrol_plan_id(community, "3")
    e.patrols.correct_time(plan, 2, at(199), "revised at the meeting", actor=STAFF,
                           occurred_at=at(202))
    e.patrols.correct_details(plan, 3, "storage rooms monthly", "wording", actor=STAFF,
                              occurred_at=at(203))
    patrol = e.patrols.record(community, grid="3", ended_at=at(260),
                              visits=["30", PatrolVisit("30", ("storage_room",))],
                              findings="boxes in the storage room", actor=STAFF,
                              occurred_at=at(210), command_id="fixture/patrol").aggregate_id
    e.patrols.correct_coverage(patrol, [PatrolVisit("30", ("storage_room", "basement"))],
                               "the basement was walked too", actor=STAFF, occurred_at=at(261))
    e.patrols.correct_end(patrol, at(255), "left at 255", actor=STAFF, occurred_at=at(262))
    e.patrols.add_note(patrol, "gate locked", actor=STAFF, occurred_at=at(263))
    e.patrols.correct_time(patrol, 1, at(209), "started earlier", actor=STAFF,
                           occurred_at=at(264))
    e.patrols.correct_details(patrol, 4, "gate locked at night", "wording", actor=STAFF,
                              occurred_at=at(265))

    where = Location(grid="3", building="30", floor=-1, description="storage room")
    hazard = e.hazards.find(community, location=where, category="clutter", severity="high",
                            description="boxes against the storage room door",
                            photo="photos/0001.jpg", patrol_id=patrol, actor=STAFF,
                            occurred_at=at(220), command_id="fixture/hazard").aggregate_id
    worker = Actor("zhao", Role.COMMUNITY_STAFF)
    e.hazards.assign(hazard, assignee_kind="property_company", assignee="Taishan Property",
                     due=at(60 * 24 * 3), actor=STAFF, occurred_at=at(221))
    e.hazards.add_note(hazard, "owner told", actor=STAFF, occurred_at=at(222))
    e.hazards.rectify(hazard, "boxes moved", actor=STAFF, occurred_at=at(300))
    e.hazards.verify(hazard, "door clear", actor=worker, occurred_at=at(310))
    e.hazards.reopen(hazard, "boxes back", actor=worker, occurred_at=at(400))
    e.hazards.close(hazard, "the storage room was emptied", actor=STAFF, occurred_at=at(410))
    e.hazards.correct_time(hazard, 4, at(299), "log", actor=STAFF, occurred_at=at(411))
    e.hazards.correct_details(hazard, 3, "owner told by phone", "wording", actor=STAFF,
                              occurred_at=at(412))
    order = e.orders.place(community, household_id="h-3", area_id="30", category="home",
                           item="repair", actor=RESIDENT, occurred_at=at(405),
                           command_id="fixture/hazard-order").aggregate_id
    e.hazards.link_order(hazard, order, actor=STAFF, occurred_at=at(413))
    e.hazards.link_incident(hazard, fire, actor=STAFF, occurred_at=at(414))
    item = e.improvements.plan(community, review=f"incident/{fire}",
                               action="clear storage rooms", owner="li", due=at(60 * 24 * 30),
                               actor=STAFF, incident_id=fire, occurred_at=at(415),
                               command_id="fixture/hazard-item").aggregate_id
    e.hazards.link_improvement(hazard, item, actor=STAFF, occurred_at=at(416))

    legacy = Context(STAFF, at(420), at(420))
    old = Hazard.find(legacy, hazard_id=uuid5(UUID(int=0), "fixture/legacy-hazard"),
                      community_id=community, location=where, category="gas",
                      severity="critical", description="gas smell", photo=None,
                      patrol_id=None, reference=None)
    engine.app.save(old)
    e.hazards.assign_reference(old.id, actor=STAFF, occurred_at=at(421))


def _rejected_order(engine: Engine, community: UUID, area: str, when: Any) -> None:
    clock = ManualClock(when)
    e = engine.with_clock(clock)
    order = e.orders.place(community, household_id="h-1", area_id=area, category="home",
                           item="repair", actor=RESIDENT, occurred_at=when,
                           command_id="fixture/rejected").aggregate_id
    e.orders.reject(order, "outside the catalogue's hours", actor=STAFF,
                    occurred_at=when + timedelta(minutes=5))


def build(engine: Engine) -> dict[str, Any]:
    fire_run = _scenario(engine, "donghu_fire.json")
    orders_run = _scenario(engine, "xiangyang_orders.json")
    engine.views.catch_up()
    fire = next(iter(fire_run.incidents.values()))
    rated = next(o for o in orders_run.orders.values()
                 if any(type(ev).__name__ == "Rated" for ev in engine.events(o)))
    _extra(engine, fire_run.community_id, fire, rated)
    area: str = getattr(engine.events(rated)[0], "area_id")  # noqa: B009 (Placed only)
    _rejected_order(engine, orders_run.community_id, area,
                    engine.events(rated)[-1].occurred_at + timedelta(hours=1))
    engine.views.catch_up()
    return {"fire": str(fire), **expectations(engine, SCORECARD)}


def expectations(engine: Engine,
                 definitions: Sequence[MetricDefinition] = BUILT_IN) -> dict[str, Any]:
    """What a store's views give for its history: every built-in metric over all of it
    (``definitions``: the built-ins as they stood when a fixture was written), and each
    aggregate's timeline length. The fixture's test computes the same from the loaded
    events and compares."""
    metrics = {}
    for definition in sorted(definitions, key=lambda d: d.name):
        name = definition.name
        report = engine.metrics(definition)
        metrics[name] = [[r.cases, r.measured, r.median, r.p90, r.max, r.met]
                         for r in report.rows]
    # (A reference book has no timeline: its numbers are on its cases.)
    ids = sorted({str(r.originator_id)
                  for r in engine.app.recorder.select_notifications(1, 1_000_000)
                  if not r.topic.startswith("resilience.references:")})
    return {"metrics": metrics,
            "timeline_entries": {i: len(engine.timeline(UUID(i)).entries) for i in ids}}


def main(out: str) -> None:
    with Engine("memory:", policy=None) as engine:
        expected = build(engine)
        records = engine.app.recorder.select_notifications(1, 1_000_000)
        events = [{"topic": r.topic, "originator_id": str(r.originator_id),
                   "originator_version": r.originator_version,
                   "state": r.state.decode("utf-8")} for r in records]
    topics = {e["topic"] for e in events}
    missing = sorted(get_topic(cls) for cls in _event_classes() if get_topic(cls) not in topics)
    if missing:
        sys.exit(f"no event of: {', '.join(missing)}")
    # One event a line, so that a reader (or a diff) sees each stored event whole.
    lines = ",\n  ".join(json.dumps(e, ensure_ascii=False) for e in events)
    text = (f'{{"library": "{LIBRARY}",\n "expected": {json.dumps(expected)},\n'
            f' "events": [\n  {lines}\n ]\n}}\n')
    json.loads(text)
    Path(out).write_text(text, encoding="utf-8")
    print(f"{len(events)} events of {len(topics)} classes -> {out}")


def _event_classes() -> set[type]:
    """Every concrete event class of the library's aggregates (not the shared bases)."""
    found: set[type] = set()
    pending: list[type] = [FactAggregate.Event]
    while pending:
        sub: type
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            owner, _, name = sub.__qualname__.rpartition(".")
            if sub.__module__.startswith("resilience.domain.") and owner \
                    and owner != "FactAggregate" and name != "Event" and not _never(sub):
                found.add(sub)
    return found

def _never(event_class: type) -> bool:
    """Can no fact of ``event_class`` ever be recorded? The corrections of an aggregate
    whose facts are never corrected (a reference book's: eventsourcing gives every
    aggregate its own correction classes)."""
    return issubclass(event_class, Correction) and not getattr(event_class, "correctable", True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/history-0.2.json")
