"""The Donghu fire (DOMAIN.md §1), recorded through the Python API and read back as a timeline.

    python examples/donghu_fire.py [SQLITE_FILE]

Every call below is one command; each records facts with two times: when it
happened (``occurred_at``) and when it was recorded (the clock). Each is checked
against the engine's policy (docs/security.md): the office registers Donghu, so
it is its founder and acts as community staff; the grid leader acts in grid 3;
squad members record their own arrival and the work of the fire they were
dispatched to. The same story ships as a scenario file: ``resilience demo``
replays that one.
"""

import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from resilience import Actor, Engine, IncidentStatus, Location, ManualClock, Role, UnitSpec

DETECTED = datetime(2022, 2, 15, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def at(minute: int) -> datetime:
    return DETECTED + timedelta(minutes=minute)


def main(path: str) -> timedelta:
    """Record the fire into ``path`` and return how long containment took."""
    clock = ManualClock(DETECTED - timedelta(days=30))
    office = Actor("office-duty", Role.COMMUNITY_STAFF)
    with Engine(f"sqlite:///{path}", clock=clock) as engine:
        donghu = engine.communities.register(
            district="Taishan District", subdistrict="Daimiao Subdistrict",
            name="Donghu Community", actor=office,
        ).aggregate_id
        for grid in "123456":
            engine.communities.add_grid(donghu, grid, f"Grid {grid}", actor=office)
        engine.communities.add_building(donghu, "30", "3", [UnitSpec("1", 24), UnitSpec("2", 24)],
                                        actor=office)
        engine.communities.enrol(donghu, "zhang", "Zhang Chuanlian", actor=office)
        engine.communities.assign_role(donghu, "zhang", Role.GRID_LEADER, "3", actor=office)
        for member in ("li", "wang", "zhao"):
            engine.communities.enrol(donghu, member, member.title(), actor=office)
            engine.communities.assign_role(donghu, member, Role.SQUAD_MEMBER, actor=office)

        clock.set(at(1))
        zhang = Actor("zhang", Role.GRID_LEADER)
        fire = engine.incidents.report(
            donghu, incident_type="fire", severity="high", actor=zhang,
            location=Location(building="30", unit="1", floor=-1, description="storage room"),
            description="Thick smoke in the basement", detected_at=at(0), occurred_at=at(1),
        ).aggregate_id
        engine.incidents.acknowledge(fire, actor=office, occurred_at=at(1))
        clock.set(at(2))
        for member, task in [("li", "bring fire extinguishers"), ("wang", "phone the residents"),
                             ("zhao", "prepare breaching tools")]:
            engine.incidents.dispatch(fire, [member], team="emergency squad", task=task,
                                      actor=office, occurred_at=at(2))
        squad = {m: Actor(m, Role.SQUAD_MEMBER) for m in ("li", "wang", "zhao")}
        engine.incidents.arrive(fire, "li", actor=squad["li"], occurred_at=at(5))
        engine.incidents.take_action(fire, "equipment_brought", "Fire extinguishers",
                                     ["fire extinguisher"], actor=squad["li"], occurred_at=at(5))
        engine.incidents.take_action(fire, "residents_notified", "Phoned building 30 unit 1",
                                     actor=squad["wang"], occurred_at=at(4))
        engine.incidents.request_consent(fire, "storage-owner", "break the storage-room lock",
                                         actor=squad["wang"], occurred_at=at(6))
        # The consent and what followed were written up after the fire: late records.
        # Only the resident asked answers (the policy lets nobody answer for them): here
        # the storage room's owner, through the app as a resident.
        clock.set(at(25))
        owner = Actor("storage-owner", Role.RESIDENT)
        engine.incidents.grant_consent(fire, "storage-owner", actor=owner, occurred_at=at(7))
        engine.incidents.force_entry(fire, "storage-room lock", actor=squad["zhao"],
                                     occurred_at=at(8))
        engine.incidents.find_source(fire, "Smouldering cardboard", actor=squad["li"],
                                     occurred_at=at(9))
        engine.incidents.contain(fire, "Fire out", actor=zhang, occurred_at=at(12))

        incident = engine.incidents.get(fire)
        assert incident.status is IncidentStatus.CONTAINED
        community = engine.communities.get(donghu)
        assert community.holder(Role.GRID_LEADER, "3", at(0)) == "zhang"

        timeline = engine.timeline(fire)
        for entry in timeline.entries:
            late = entry.record_delay.total_seconds() / 60
            print(f"+{entry.minutes:4.0f} min  {entry.occurred_at:%H:%M}  "
                  f"{entry.actor.person_id:11} {entry.details}"
                  + (f"  (recorded {late:.0f} min later)" if late >= 5 else ""))
        contained = timeline.elapsed_until("Contained")
        assert contained is not None
        print(f"Contained {contained.total_seconds() / 60:.0f} minutes after detection: "
              f"{'target met' if contained <= timedelta(minutes=15) else 'target missed'}")
        return contained


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(str(Path(folder) / "donghu.db"))
