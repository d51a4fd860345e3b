"""Overrides, imports and corrections by an interested party are never silent.

On the Donghu world of tests/test_viewer.py, a second fire in grid 3 at 16:00: Li, a
squad member, records the containment by override (the policy leaves containment to
the grid leader, staff or the commander); then Li moves his own arrival earlier, Zhou
(who led the response as grid leader) moves the containment earlier, and the office
corrects the resolution's wording. Zhou adds a building by override, and an importer
loads an older incident of grid 5. The data-quality report lists each override, the
imports per importer and the two interested corrections, and the review of each
incident shows its own, in every output.
"""

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from attrs import define

from resilience import Actor, Engine, Location, ManualClock, Role, UnitSpec
from resilience.domain.policy import DEFAULT_POLICY
from resilience.metrics import Period
from resilience.metrics.quality import ImportedFacts, InterestedCorrection, OverrideUsed
from resilience.review.sight import HIDDEN
from test_projections import reference, snapshot
from test_viewer import LI, OFFICE, WU, ZHOU, at, donghu_with_grids, kitchen_fire

from conftest import T0

IMPORTER = Actor("office-duty", Role.COMMUNITY_STAFF)
"""Donghu is run live, so only its staff (here its founder) import into it."""
WHY_CONTAINED = "the radio of Zhou was down, the fire was out"
WHY_BUILDING = "the new block opened today and the office is closed"


@define
class Trust:
    engine: Engine
    clock: ManualClock
    community: UUID
    fire: UUID
    """The 16:00 fire (v4 contained by override; v6, v7 interested corrections)."""
    building: int
    """The version of the community's BuildingAdded recorded by override."""
    imported: UUID


def second_fire(engine: Engine, clock: ManualClock, community: UUID) -> UUID:
    """v1 detected 16:00 (Zhou), v2 Li dispatched 16:01 (Zhou), v3 Li on scene 16:05, v4
    contained 16:09 by Li by override, v5 resolved 16:20 (Zhou): each recorded as it
    happens."""
    run = engine.incidents
    clock.set(at(60))
    fire = run.detect(community, incident_type="fire", severity="moderate",
                      location=Location(grid="3"), description="bins alight behind block 30",
                      actor=ZHOU).aggregate_id
    steps: tuple[tuple[int, Callable[[], object]], ...] = (
             (61, lambda: run.dispatch(fire, [LI.person_id], actor=ZHOU)),
             (65, lambda: run.arrive(fire, LI.person_id, actor=LI)),
             (69, lambda: run.contain(fire, "bins doused",
                                      actor=Actor(LI.person_id, LI.role,
                                                  override=WHY_CONTAINED))),
             (80, lambda: run.resolve(fire, "all clear", actor=ZHOU)))
    for minute, step in steps:
        clock.set(at(minute))
        step()
    return fire


def corrections(engine: Engine, clock: ManualClock, fire: UUID) -> None:
    """v6 Li moves his own arrival (v3) to 16:03; v7 Zhou moves the containment (v4) to
    16:08; v8 the office rewords the resolution (v5)."""
    run = engine.incidents
    clock.set(at(90))
    run.correct_time(fire, 3, at(63), "my watch was slow", actor=LI)
    clock.set(at(95))
    run.correct_time(fire, 4, at(68), "radio log", actor=ZHOU)
    clock.set(at(100))
    run.correct_details(fire, 5, "all clear, bins replaced", "typo", actor=OFFICE)


def building_by_override(engine: Engine, clock: ManualClock, community: UUID) -> int:
    clock.set(at(105))
    return engine.communities.add_building(
        community, "31", "3", [UnitSpec("1", 12)],
        actor=Actor(ZHOU.person_id, ZHOU.role, override=WHY_BUILDING)).last_version


def imported_incident(engine: Engine, clock: ManualClock, community: UUID) -> UUID:
    """A fire of 10 February in grid 5, imported at 16:50: detected, contained, resolved."""
    clock.set(at(110))
    importing = engine.importing(IMPORTER)
    run = importing.incidents
    day = T0 - timedelta(days=5)
    old = run.detect(community, incident_type="fire", severity="low",
                     location=Location(grid="5"), description="chip pan", actor=WU,
                     occurred_at=day).aggregate_id
    run.contain(old, "lid on", actor=WU, occurred_at=day + timedelta(minutes=9))
    run.resolve(old, "done", actor=WU, occurred_at=day + timedelta(minutes=20))
    return old


def record(engine: Engine, clock: ManualClock, community: UUID) -> Trust:
    fire = second_fire(engine, clock, community)
    corrections(engine, clock, fire)
    building = building_by_override(engine, clock, community)
    imported = imported_incident(engine, clock, community)
    clock.set(at(120))
    return Trust(engine, clock, community, fire, building, imported)


@pytest.fixture
def trust() -> Iterator[Trust]:
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=DEFAULT_POLICY) as engine:
        community = donghu_with_grids(engine)
        kitchen_fire(engine, community)  # the 15:00 fire: nothing to flag of these kinds
        yield record(engine, clock, community)


def test_the_report_lists_each_override_with_who_role_what_when_and_why(trust: Trust) -> None:
    """Li's containment, then the community's building by Zhou."""
    report = trust.engine.data_quality()
    assert report.overrides == (
        OverrideUsed(str(trust.fire), "incident", 4, "Contained", "li-wei", "squad_member",
                     at(69), at(69), WHY_CONTAINED),
        OverrideUsed(str(trust.community), "community", trust.building, "BuildingAdded",
                     "zhou-min", "grid_leader", at(105), at(105), WHY_BUILDING),
    )
    assert not report.is_clean


def test_the_report_counts_the_facts_each_importer_imported(trust: Trust) -> None:
    """Three facts of one case, by the scenario importer."""
    assert trust.engine.data_quality().imported == (ImportedFacts("office-duty", 3, 1),)


def test_the_report_flags_corrections_by_an_interested_party(trust: Trust) -> None:
    """Li corrects his own arrival at an incident he responded to; Zhou a containment at an
    incident he acted on as grid leader; the office's correction is no one's interest."""
    assert trust.engine.data_quality().interested == (
        InterestedCorrection(str(trust.fire), "incident", 6, 3, "ResponderOnScene", "time",
                             "my watch was slow", at(65), at(63), "li-wei", "squad_member",
                             ("own_fact", "responder")),
        InterestedCorrection(str(trust.fire), "incident", 7, 4, "Contained", "time",
                             "radio log", at(69), at(68), "zhou-min", "grid_leader",
                             ("grid_leader",)),
    )


def test_the_rendered_report_has_a_section_for_each(trust: Trust) -> None:
    text = trust.engine.data_quality().render()
    assert "Overrides (2): facts recorded outside what the policy allows their actor" in text
    assert WHY_CONTAINED in text
    assert WHY_BUILDING in text
    assert "li-wei (squad_member)" in text
    assert "Imported facts (3)" in text
    assert "office-duty  3      1" in text
    assert "Corrections by an interested party (2)" in text
    assert "recorded the corrected fact; responded to the incident" in text
    assert "acted as grid leader on the case" in text


def test_overrides_count_against_clean_and_imports_do_not() -> None:
    """Alone, an imported case recorded on time is clean; an override is not."""
    clock = ManualClock(T0)
    with Engine("memory:", clock=clock, policy=DEFAULT_POLICY) as engine:
        community = donghu_with_grids(engine)
        run = engine.importing(IMPORTER).incidents
        fire = run.detect(community, incident_type="fire", severity="low",
                          location=Location(grid="5"), description="toast", actor=WU,
                          occurred_at=T0).aggregate_id
        report = engine.data_quality()
        assert report.imported
        assert report.is_clean
        engine.incidents.add_note(fire, "checked", actor=Actor(LI.person_id, LI.role,
                                                                override="passing by"))
        assert not engine.data_quality().is_clean


def test_a_period_and_a_community_scope_the_communitys_overrides(trust: Trust) -> None:
    """The building was added at 16:45: in 15 February, not in the 14th."""
    day = Period(T0 - timedelta(hours=15), T0 + timedelta(hours=9))
    before = Period(T0 - timedelta(days=2), T0 - timedelta(days=1, hours=1))
    assert [o.subject for o in trust.engine.data_quality(day).overrides] == [
        "incident", "community"]
    assert trust.engine.data_quality(before).overrides == ()
    scoped = trust.engine.data_quality(community=trust.community).overrides
    assert len(scoped) == 2


FLAGS = [
    ("interested", "responder on scene moved from 16:05 to 16:03 by Li Wei (squad member), "
                   "who recorded the corrected fact and responded to the incident", 6),
    ("interested", "contained moved from 16:09 to 16:08 by Zhou Min (grid leader), who acted "
                   "as grid leader on the case", 7),
    ("override", f"contained recorded by Li Wei (squad member) by override: {WHY_CONTAINED}",
     4),
]


def test_the_review_flags_its_incidents_overrides_and_interested_corrections(
        trust: Trust) -> None:
    (incident,) = trust.engine.review(trust.fire).incidents
    assert [(f.kind, f.text, f.version) for f in incident.quality
            if f.kind in ("interested", "override", "imported")] == FLAGS
    contained = next(e for e in incident.timeline.entries if e.version == 4)
    assert contained.actor.override == WHY_CONTAINED


def test_every_output_of_the_review_shows_them(trust: Trust) -> None:
    """Markdown and HTML (one preparation) and the JSON data."""
    review = trust.engine.review(trust.fire)
    markdown, html = review.to_markdown(), review.to_html()
    for kind, text, version in FLAGS:
        label = {"interested": "Correction by an interested party", "override": "Override"}[kind]
        assert f"**{label}:** {text} (fact #{version})" in markdown
        # In HTML the reference links to the fact's timeline row (incident 1 of the review).
        assert (f"<strong>{label}:</strong> {text} "
                f"(fact <a href=\"#fact-1-{version}\">#{version}</a>)") in html
        assert {"kind": kind, "text": text, "version": version} in (
            review.to_dict()["incidents"][0]["quality"])
    assert f"by override: {WHY_CONTAINED}" in markdown  # the timeline's notes
    entry = next(e for e in review.to_dict()["incidents"][0]["timeline"]["entries"]
                 if e["version"] == 4)
    assert entry["actor"]["override"] == WHY_CONTAINED


def test_the_review_of_an_imported_incident_says_who_imported_it(trust: Trust) -> None:
    (incident,) = trust.engine.review(trust.imported).incidents
    imported = [(f.text, f.version) for f in incident.quality if f.kind == "imported"]
    assert imported == [("3 facts imported by office-duty", None)]
    assert "**Imported:** 3 facts imported by office-duty" in (
        trust.engine.review(trust.imported).to_markdown())
    assert all(e.actor.imported_by == "office-duty" for e in incident.timeline.entries)
    assert trust.engine.timeline(trust.imported) == incident.timeline


def test_an_override_reason_is_its_authors_words_hidden_from_other_grids(
        trust: Trust) -> None:
    """Wu reads that Li contained by override, not why (Li's words about grid 3)."""
    (incident,) = trust.engine.review(trust.fire, viewer=WU).incidents
    flags = [(f.kind, f.text) for f in incident.quality if f.kind == "override"]
    assert flags == [("override", f"contained recorded by li-wei (squad member) by "
                                  f"override: {HIDDEN}")]
    assert [f.text for f in incident.quality if f.kind == "correction"] == [
        f"responder on scene moved from 16:05 to 16:03: {HIDDEN}",
        f"contained moved from 16:09 to 16:08: {HIDDEN}",
        f"resolved details corrected: {HIDDEN}"]
    assert trust.engine.timeline(trust.fire, viewer=WU).entries[3].actor.override == HIDDEN


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_views_with_overrides_and_imports_fold_incrementally_as_a_rebuild(
        kind: str, tmp_path: Path) -> None:
    """Caught up between the steps, in pages of one: the documents of a fold from scratch,
    and of a rebuild."""
    url = "memory:" if kind == "memory" else f"sqlite:///{tmp_path / 'trust.db'}"
    clock = ManualClock(T0)
    with Engine(url, clock=clock, policy=DEFAULT_POLICY) as engine:
        engine.views.page_size = 1
        community = donghu_with_grids(engine)
        engine.views.catch_up()
        fire = second_fire(engine, clock, community)
        engine.views.catch_up()
        assert snapshot(engine) == reference(engine)
        corrections(engine, clock, fire)
        building_by_override(engine, clock, community)
        engine.views.catch_up()
        assert snapshot(engine) == reference(engine)
        imported_incident(engine, clock, community)
        engine.views.catch_up()
        incremental = snapshot(engine)
        assert incremental == reference(engine)
        engine.views.rebuild()
        assert snapshot(engine) == incremental
        doc = incremental["cases"][str(fire)]
        assert doc["facts"][3][6:] == [WHY_CONTAINED, None]
        assert doc["facts"][2][6:] == []  # no override, not imported: six fields, as before
        assert incremental["cases"][str(community)]["overrides"][0][-1] == WHY_BUILDING
        assert incremental["timelines"][str(fire)]["entries"][3][7:] == [WHY_CONTAINED, None]


def test_a_timeline_from_the_view_and_from_the_events_agree(trust: Trust) -> None:
    """The actor's override and importer survive the view: the app's timeline (from the
    view) is the staff's (from the events)."""
    for aggregate in (trust.fire, trust.imported, trust.community):
        assert trust.engine.timeline(aggregate) == trust.engine.timeline(aggregate,
                                                                          viewer=OFFICE)
