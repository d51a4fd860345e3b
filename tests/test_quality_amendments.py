"""Amendments after closure: what was corrected or recorded while a case stood closed.

Each case lists its amendments (who, when, what changed); the data-quality
report gathers them in a section of their own; and a case can be read as it
was known at its standing closure (``as_closed``), its amendments left out.
"""

from datetime import timedelta
from typing import Any
from uuid import UUID

from histories import RESIDENT, STAFF
from resilience import Actor, Engine, Location, ManualClock, Role
from resilience.metrics import Amendment, case_at, case_from_doc
from test_cases_cycles import World, at, completed_order, place, rekindled_fire, world

__all__ = ["world"]  # the fixture, shared with the tests of cycles
LI = Actor("p-3101", Role.SQUAD_MEMBER)


def closed_fire(engine: Engine, community: UUID) -> UUID:
    """The rekindled fire (v1 detected 10:00, v2 contained 10:20, v3 resolved 10:30,
    v4 reopened 11:00, v5 contained 11:10, v6 resolved 11:30), v7 closed 11:40; all
    recorded at noon."""
    fire = rekindled_fire(engine, community)
    engine.incidents.close(fire, "resolved", actor=STAFF, occurred_at=at(11, 40))
    return fire


def amend(engine: Engine, clock: ManualClock, fire: UUID) -> None:
    """After-action review: v8 Li's arrival at 11:05 recorded at 12:10; v9 the first
    containment moved to 10:18 at 12:20; v10 the resolution's details at 12:30."""
    clock.set(at(12, 10))
    engine.incidents.arrive(fire, "p-3101", actor=LI, occurred_at=at(11, 5))
    clock.set(at(12, 20))
    engine.incidents.correct_time(fire, 2, at(10, 18), "duty log", actor=STAFF)
    clock.set(at(12, 30))
    engine.incidents.correct_details(fire, 6, "roof space checked twice", "report",
                                     actor=STAFF)


def doc_of(engine: Engine, key: UUID) -> dict[str, Any]:
    engine.views.catch_up()
    doc = engine.views.get("cases", str(key))
    assert doc is not None
    return doc


AMENDED = (
    Amendment(8, "ResponderOnScene", "p-3101", "squad_member", at(12, 10), at(11, 5), None,
              "late record"),
    Amendment(9, "Contained", STAFF.person_id, "community_staff", at(12, 20), at(12, 20), 2,
              "time corrected from 2022-03-01T10:20:00+08:00 to 2022-03-01T10:18:00+08:00"),
    Amendment(10, "Resolved", STAFF.person_id, "community_staff", at(12, 30), at(12, 30), 6,
              "details corrected"),
)


def test_a_closed_incidents_amendments_say_who_when_and_what(world: World) -> None:
    """A late arrival, a time correction and a details correction after the closure."""
    engine, clock, community = world
    fire = closed_fire(engine, community)
    amend(engine, clock, fire)
    case = case_from_doc(str(fire), doc_of(engine, fire))
    assert case.amendments == AMENDED
    assert case.milestones["contained"] == at(10, 18)  # as corrected
    assert case.cycles[1]["first_on_scene"] == at(11, 5)
    assert (case.status, case.reopened) == ("closed", 1)  # amended, not reopened


def test_facts_recorded_while_a_case_is_open_are_no_amendments(world: World) -> None:
    """Corrections before the closure, and the steps themselves, are the record's making."""
    engine, _, community = world
    fire = closed_fire(engine, community)
    engine.incidents.reopen(fire, "smoke again", actor=STAFF, occurred_at=at(12, 0))
    engine.incidents.correct_time(fire, 2, at(10, 19), "duty log", actor=STAFF)
    assert case_from_doc(str(fire), doc_of(engine, fire)).amendments == ()


def test_amendments_made_under_an_earlier_closure_stay_listed_after_a_reopening(
        world: World) -> None:
    """Reopened and closed again: the amendments of the first closure are still there."""
    engine, clock, community = world
    fire = closed_fire(engine, community)
    amend(engine, clock, fire)
    clock.set(at(13, 0))
    engine.incidents.reopen(fire, "smoke again", actor=STAFF)
    engine.incidents.resolve(fire, "out", actor=STAFF)
    engine.incidents.close(fire, "resolved", actor=STAFF)
    assert case_from_doc(str(fire), doc_of(engine, fire)).amendments == AMENDED


def test_as_closed_reads_a_case_as_known_when_its_standing_closure_was_recorded(
        world: World) -> None:
    """The amendments left out: containment at 10:20 as first given, no arrival, no
    amendment; the closure, resolution and everything before it as recorded."""
    engine, clock, community = world
    fire = closed_fire(engine, community)
    amend(engine, clock, fire)
    doc = doc_of(engine, fire)
    known = case_at(str(fire), doc, as_closed=True)
    assert known is not None
    assert known.milestones["contained"] == at(10, 20)
    assert "first_on_scene" not in known.cycles[1]
    assert (known.amendments, known.corrections) == ((), ())
    assert [f.version for f in known.facts] == [1, 2, 3, 4, 5, 6, 7]
    assert known.milestones["closed"] == at(11, 40)
    assert case_at(str(fire), doc, as_closed=True, known_at=at(12, 20)) == known


def test_as_closed_reads_an_open_case_as_it_is(world: World) -> None:
    """Not closed: nothing is an amendment, nothing left out."""
    engine, _, community = world
    fire = closed_fire(engine, community)
    engine.incidents.reopen(fire, "smoke again", actor=STAFF, occurred_at=at(12, 0))
    engine.incidents.correct_time(fire, 2, at(10, 19), "duty log", actor=STAFF)
    doc = doc_of(engine, fire)
    assert case_at(str(fire), doc, as_closed=True) == case_from_doc(str(fire), doc)


def test_a_completed_orders_rating_is_no_amendment_but_its_correction_is(world: World) -> None:
    """The rating is a step of the order's life; a later correction of the completion, and
    a note dated before it, amend the closed record; as closed, the rating stays."""
    engine, clock, community = world
    order = completed_order(engine, community)  # v4 completed 09:00
    engine.orders.rate(order, 4, actor=RESIDENT, occurred_at=at(9, 30))
    clock.set(at(12, 30))
    engine.orders.correct_time(order, 4, at(8, 50), "provider's log", actor=STAFF)
    engine.orders.add_note(order, "tap replaced", actor=STAFF, occurred_at=at(8, 45))
    doc = doc_of(engine, order)
    case = case_from_doc(str(order), doc)
    assert [(a.version, a.fact, a.corrects, a.what) for a in case.amendments] == [
        (6, "Completed", 4, "time corrected from 2022-03-01T09:00:00+08:00 to "
                            "2022-03-01T08:50:00+08:00"),
        (7, "NoteAdded", None, "late record")]
    known = case_at(str(order), doc, as_closed=True)
    assert known is not None
    assert (known.milestones["completed"], known.rating, known.amendments) == (
        at(9, 0), 4, ())


def test_a_cancelled_orders_correction_is_an_amendment(world: World) -> None:
    """Cancelled is closed: its details corrected afterwards amend it."""
    engine, _, community = world
    order = place(engine, community, at(8, 0))
    engine.orders.cancel(order, "away", actor=RESIDENT, occurred_at=at(8, 30))
    engine.orders.correct_details(order, 2, "away for a week", "resident called",
                                  actor=STAFF)
    (amendment,) = case_from_doc(str(order), doc_of(engine, order)).amendments
    assert (amendment.fact, amendment.corrects, amendment.what, amendment.person) == (
        "Cancelled", 2, "details corrected", STAFF.person_id)


def test_the_quality_report_lists_amendments_without_counting_them_against_clean(
        world: World) -> None:
    """A late record made after closure but within the late threshold: listed, still clean."""
    engine, clock, community = world
    run = engine.incidents
    clock.set(at(10, 0))
    fire = run.detect(community, incident_type="fire", severity="high",
                      location=Location(grid="g1"), description="smoke",
                      actor=STAFF).aggregate_id
    for minute, command in ((10, run.contain), (20, run.resolve)):
        clock.set(at(10, minute))
        command(fire, "done", actor=STAFF)
    clock.set(at(10, 30))
    run.close(fire, "resolved", actor=STAFF)
    clock.set(at(10, 35))
    run.add_note(fire, "hose returned", actor=LI, occurred_at=at(10, 25))  # 10 min late
    report = engine.data_quality(late_after=timedelta(minutes=15))
    (made,) = report.amendments
    assert (made.case_id, made.version, made.fact, made.person, made.role, made.what) == (
        str(fire), 5, "NoteAdded", "p-3101", "squad_member", "late record")
    assert report.is_clean
    rendered = report.render()
    assert "Amendments after closure (1)" in rendered
    assert "p-3101 (squad_member)" in rendered


def test_the_quality_report_lists_every_amendment_of_the_period(world: World) -> None:
    """The three amendments of the closed fire, in recording order, with the corrections."""
    engine, clock, community = world
    fire = closed_fire(engine, community)
    amend(engine, clock, fire)
    report = engine.data_quality()
    assert [(a.version, a.fact, a.corrects, a.what, a.recorded_at) for a in report.amendments] == [
        (a.version, a.fact, a.corrects, a.what, a.recorded_at) for a in AMENDED]
    assert [c.version for c in report.corrections] == [9, 10]
    assert not report.is_clean
