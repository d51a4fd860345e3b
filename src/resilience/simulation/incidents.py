"""An incident's life, from detection to closure, with the untidiness of real records.

Types follow the seasons (floods in summer, fires and gas in winter); severities lean
on the type. Most incidents run the reference incident's course: someone on patrol or
at home sees it, the community office is phoned and acknowledges, the emergency squad
is dispatched, goes and arrives, acts, contains, resolves and closes. Around that
course, in the shares below:

- drills (``drill=True``), false alarms, duplicates;
- late reports (detected well before the office heard), and detections never reported;
- milestones never recorded: no acknowledgement, no one en route, no containment, and
  a few incidents never closed;
- records late (a fact recorded minutes to days after it happened; an en route recorded
  after the arrival), notes written up after the closure from the paper log;
- corrections: the detection moved earlier (CCTV), the acknowledgement, an arrival and
  the containment re-timed, the report's description corrected;
- reclassification (severity up or down, a vague "other" found to be gas);
- a locked door: the resident's consent asked, granted (or refused, and exigent entry
  authorised), the lock forced, the source found;
- reopenings, with a second response;
- recovery: the broken lock's repair ordered by the desk and linked to the incident,
  and, for the serious ones, an improvement item from the incident's review.
"""

import random
from datetime import datetime, timedelta
from typing import Any

from resilience.domain.values import Actor, ClosureReason, IncidentType, Location, Role, Severity
from resilience.review.keys import incident_review_key
from resilience.services.improvements import improvement_id_for
from resilience.services.incidents import incident_id_for
from resilience.services.orders import order_id_for
from resilience.simulation import words
from resilience.simulation.city import Community, acting
from resilience.simulation.orders import plan_recovery_order
from resilience.simulation.steps import Life, Queue, Ref, lateness, minutes

SHARES = {
    "drill": 0.03, "false_alarm": 0.07, "duplicate": 0.02, "detected_first": 0.10,
    "never_reported": 0.02, "late_report": 0.08, "no_acknowledgement": 0.06,
    "no_en_route": 0.10, "en_route_late": 0.04, "no_containment": 0.05, "never_closed": 0.01,
    "late": 0.02, "late_note": 0.05, "note": 0.15, "reclassify": 0.10, "retype": 0.5,
    "consent": 0.2, "refused": 0.35, "source": 0.6, "reopen": 0.04,
    "correct_detection": 0.08, "correct_ack": 0.06, "correct_arrival": 0.03,
    "correct_contained": 0.03, "correct_details": 0.04, "recovery_order": 0.5,
    "improvement": 0.25, "patrol_arrives": 0.6, "volunteers": 0.1,
}
"""How often each case happens: of all incidents, or of those it can happen to (a consent
of the fires, gas leaks and floods; a refusal of the consents; a recovery order of the
forced entries; an improvement item of the high and critical incidents)."""

TYPES = (IncidentType.FIRE, IncidentType.MEDICAL, IncidentType.GAS, IncidentType.FLOOD,
         IncidentType.SECURITY, IncidentType.INFRASTRUCTURE, IncidentType.OTHER)
WEIGHTS = (20, 25, 8, 8, 12, 17, 10)
WINTER = {IncidentType.FIRE: 1.6, IncidentType.GAS: 1.8}
SUMMER = {IncidentType.FLOOD: 3.0}
SEVERITIES = (Severity.LOW, Severity.MODERATE, Severity.HIGH, Severity.CRITICAL)
SEVERITY_WEIGHTS = {IncidentType.FIRE: (25, 35, 28, 12), IncidentType.GAS: (20, 35, 30, 15),
                    IncidentType.MEDICAL: (20, 40, 28, 12)}
OTHER_SEVERITY = (45, 35, 15, 5)
RESPONDERS = {Severity.LOW: (1, 1), Severity.MODERATE: (1, 2), Severity.HIGH: (2, 4),
              Severity.CRITICAL: (3, 6)}
CORRECTIONS = ("correct_detection", "correct_ack", "correct_arrival", "correct_contained",
               "correct_details")
RETYPED = {IncidentType.OTHER: IncidentType.GAS, IncidentType.INFRASTRUCTURE: IncidentType.FLOOD,
           IncidentType.SECURITY: IncidentType.OTHER}
"""What a vaguely reported incident turns out to be (a smell that was gas, a power cut
from water in the meter room)."""
OBJECTIVES = ("contained_within_15_min", "residents_notified_within_5_min",
              "first_unit_on_scene_within_5_min", "consent_before_forced_entry",
              "key_milestones_recorded", None)
"""The objectives an improvement item addresses (None: none named)."""


def incident_type(rng: random.Random, at: datetime) -> IncidentType:
    """An incident type, weighted by the season of ``at``."""
    season = WINTER if at.month in (11, 12, 1, 2) else SUMMER if 6 <= at.month <= 9 else {}
    weights = [w * season.get(t, 1.0) for t, w in zip(TYPES, WEIGHTS, strict=True)]
    return rng.choices(TYPES, weights)[0]


class IncidentLife:
    """Plans one incident (and the order and improvement item of its recovery)."""

    def __init__(self, c: Community, n: int, at: datetime, rng: random.Random,
                 queue: Queue) -> None:
        self.c, self.n, self.rng, self.queue = c, n, rng, queue
        self.id = incident_id_for(c.id, f"sim-{n}")
        self.life = Life(queue, "incidents")
        self.t0 = at
        self.orders = 0
        """Recovery orders planned with it."""
        self.items = 0
        """Improvement items planned with it."""
        # Decided first, so only the facts to be corrected are labelled (a label is held
        # until the run ends).
        self.corrections = {case for case in CORRECTIONS if self.chance(case)}
        self.drill = self.chance("drill")
        self.kind = IncidentType.FIRE if self.drill else incident_type(rng, at)
        self.severity = (Severity.MODERATE if self.drill else rng.choices(
            SEVERITIES, SEVERITY_WEIGHTS.get(self.kind, OTHER_SEVERITY))[0])
        self.building = rng.choice(c.buildings)
        self.area = self.building.unit_area(rng.choice(self.building.units))
        self.resident = rng.choice(c.residents[self.area])
        # Milestones, as planned (for the corrections and the recovery).
        self.acknowledged: datetime | None = None
        self.first_arrival = at
        self.contained: datetime | None = None
        self.resolved = at
        self.forced = False

    def chance(self, case: str) -> bool:
        return self.rng.random() < SHARES[case]

    def label(self, what: str) -> str:
        return f"c{self.c.index}i{self.n}:{what}"

    def label_if(self, what: str, *cases: str) -> str | None:
        """The label of the fact ``what`` if one of the corrections ``cases`` is planned."""
        return self.label(what) if self.corrections.intersection(cases) else None

    def step(self, at: datetime, command: str, *args: object, actor: Actor,
             **kwargs: Any) -> datetime:
        """One command on the incident, sometimes recorded late."""
        late = lateness(self.rng) if self.chance("late") else timedelta(0)
        return self.life.add(at, command, self.id, *args, actor=actor, late=late, **kwargs)

    def plan(self) -> None:
        """The whole life: reported, answered (or closed as a duplicate or false alarm),
        closed (or not), perhaps reopened, then corrected and recovered."""
        rng = self.rng
        desk = self.c.desk(rng, self.t0)
        now = self.report(desk)
        if not self.drill and self.chance("duplicate"):
            self.step(now + minutes(rng.uniform(2, 15)), "close", ClosureReason.DUPLICATE,
                      words.DUPLICATE, actor=desk)
            return
        if not self.drill and self.chance("false_alarm"):
            arrived = self.arrive(self.dispatch(now, desk, 1), cycle=0)
            self.step(arrived + minutes(rng.uniform(2, 10)), "close", ClosureReason.FALSE_ALARM,
                      rng.choice(words.FALSE_ALARM), actor=desk)
            return
        commander = desk
        if (self.severity in (Severity.HIGH, Severity.CRITICAL) and rng.random() < 0.7) or (
                rng.random() < 0.2):
            person = self.c.roster.holder(Role.GRID_LEADER, self.building.grid, now)
            now = self.step(now + minutes(rng.uniform(0.3, 1.5)), "assign_commander", person,
                            actor=desk)
            commander = acting(person, Role.GRID_LEADER)
        end = self.respond(now, desk, commander, cycle=1)
        if self.chance("never_closed"):
            return
        closed = self.step(end + minutes(rng.uniform(30, 48 * 60)), "close",
                           ClosureReason.RESOLVED, actor=desk)
        if self.chance("late_note"):
            # Written up from the paper log after the closure, dated during the response.
            self.step(self.first_arrival + minutes(rng.uniform(1, 5)), "add_note",
                      words.LATE_NOTE, actor=desk)
        if self.chance("reopen"):
            reopened = self.step(closed + minutes(rng.uniform(60, 48 * 60)), "reopen",
                                 rng.choice(words.REOPENED), actor=desk)
            end = self.respond(reopened, desk, commander, cycle=2)
            closed = self.step(end + minutes(rng.uniform(30, 24 * 60)), "close",
                               ClosureReason.RESOLVED, actor=desk)
        self.correct(closed, desk)
        self.recover(closed, desk)

    def report(self, desk: Actor) -> datetime:
        """Seen (by the grid leader or a worker on patrol, the building leader, a resident,
        or the desk on CCTV: a drill is the desk's), reported to the office (or not), the
        one on patrol there at once, acknowledged (or not); returns the last moment."""
        c, rng, t0 = self.c, self.rng, self.t0
        grid = self.building.grid
        who = "desk" if self.drill else rng.choices(
            ("leader", "worker", "building", "resident", "desk"), (25, 20, 15, 30, 10))[0]
        reporter = (desk if who == "desk" else
                    c.actor(Role.GRID_LEADER, rng, t0, grid) if who == "leader" else
                    c.actor(Role.GRID_WORKER, rng, t0, grid) if who == "worker" else
                    c.actor(Role.BUILDING_LEADER, rng, t0, self.building.id)
                    if who == "building" else acting(self.resident, Role.RESIDENT))
        basement = self.kind in (IncidentType.FIRE, IncidentType.FLOOD) and rng.random() < 0.4
        location = Location(building=self.building.id, unit=self.area.split("/")[1],
                            floor=-1 if basement else rng.randint(1, 18),
                            description="storage room" if basement else "")
        fields: dict[str, Any] = {
            "incident_type": self.kind, "severity": self.severity, "location": location,
            "description": words.DRILL if self.drill else rng.choice(words.REPORTED[self.kind]),
            "drill": self.drill, "incident_id": self.id,
            "label": self.label_if("detected", "correct_detection", "correct_details")}
        now = t0 + minutes(rng.uniform(10, 40) if self.chance("late_report")
                           else rng.uniform(0.3, 2))
        if self.chance("detected_first"):
            # (Each new incident's reference is one fact more, in its book.)
            self.life.add(t0, "detect", c.id, actor=reporter, facts=2, **fields)
            if self.chance("never_reported"):
                now = t0  # the office never heard: the rest runs from the detection
            else:
                self.step(now, "report_to_community", actor=reporter)
        else:
            self.life.add(now, "report", c.id, actor=reporter, detected_at=t0, facts=3,
                          **fields)
        if reporter.role in (Role.GRID_LEADER, Role.GRID_WORKER) and self.chance(
                "patrol_arrives"):
            # On patrol: the one who saw it is there already (the Donghu fire's leader).
            self.step(t0 + minutes(rng.uniform(0, 1)), "arrive", reporter.person_id,
                      actor=reporter)
        if not self.chance("no_acknowledgement"):
            self.acknowledged = now = self.step(
                now + minutes(rng.uniform(0.3, 2)), "acknowledge", actor=desk,
                label=self.label_if("acknowledged", "correct_ack"))
        return now

    def dispatch(self, at: datetime, desk: Actor, count: int) -> list[tuple[Actor, datetime]]:
        """Dispatch ``count`` squad members on duty (sometimes volunteers too). Returns
        those dispatched, each acting in their role, and when."""
        rng = self.rng
        squad = self.c.roster.holders(Role.SQUAD_MEMBER, None, at)
        chosen = rng.sample(squad, count)
        sent = self.step(at + minutes(rng.uniform(0.5, 3)), "dispatch", chosen,
                         team=words.SQUAD_TEAM, actor=desk, facts=count)
        dispatched = [(acting(person, Role.SQUAD_MEMBER), sent) for person in chosen]
        if self.chance("volunteers"):
            volunteers = self.c.roster.holders(Role.VOLUNTEER, None, at)
            extra = rng.sample(volunteers, min(2, len(volunteers)))
            if extra:
                later = self.step(sent + minutes(rng.uniform(1, 5)), "dispatch", extra,
                                  team=words.VOLUNTEER_TEAM, task=words.VOLUNTEER_TASK,
                                  actor=desk, facts=len(extra))
                dispatched += [(acting(person, Role.VOLUNTEER), later) for person in extra]
        return dispatched

    def arrive(self, responders: list[tuple[Actor, datetime]], cycle: int) -> datetime:
        """Each responder goes (mostly recorded) and arrives; the first arrival's time
        (labelled in the first cycle, for its correction)."""
        rng = self.rng
        first = None
        late_en_route: list[tuple[str, datetime, Actor]] = []
        for actor, sent in responders:
            person = actor.person_id
            left = sent + minutes(rng.uniform(0.3, 1.5))  # turnout: target 60-80 s
            arrived = left + minutes(rng.uniform(1, 5))  # travel: target 240 s
            if not self.chance("no_en_route"):
                if self.chance("en_route_late"):
                    late_en_route.append((person, left, actor))  # written after the arrival
                else:
                    self.step(left, "en_route", person, actor=actor)
            label = (self.label_if("arrived", "correct_arrival")
                     if first is None and cycle == 1 else None)
            self.step(arrived, "arrive", person, actor=actor, label=label)
            if first is None:
                first = arrived
        for person, left, actor in late_en_route:
            self.step(left, "en_route", person, actor=actor)
        assert first is not None
        return first

    def respond(self, now: datetime, desk: Actor, commander: Actor, cycle: int) -> datetime:
        """Dispatch, arrival, actions, entry, containment and resolution of one cycle;
        returns the resolution's time."""
        rng, kind = self.rng, self.kind
        low, high = RESPONDERS[self.severity]
        responders = self.dispatch(now, desk, rng.randint(low, high))
        first = self.arrive(responders, cycle)
        if cycle == 1:
            self.first_arrival = first
        squad = responders[0][0]  # the squad member first sent acts for the squad
        if cycle == 1 and self.chance("reclassify"):
            if kind in RETYPED and self.chance("retype"):
                self.kind = kind = RETYPED[kind]
                self.step(first + minutes(rng.uniform(1, 4)), "reclassify", actor=commander,
                          incident_type=kind)
            else:
                up = self.severity is not Severity.CRITICAL and (
                    self.severity is Severity.LOW or rng.random() < 0.7)
                index = SEVERITIES.index(self.severity) + (1 if up else -1)
                self.severity = SEVERITIES[index]
                self.step(first + minutes(rng.uniform(1, 4)), "reclassify", actor=commander,
                          severity=self.severity)
        # Containment mostly within minutes of the first arrival (the 15-minute target met
        # or nearly), a fifth of the time after a longer fight; the actions fall between,
        # and a locked door needs its entry first.
        took = rng.uniform(10, 40) if rng.random() < 0.2 else rng.uniform(2, 7)
        actions = words.ACTIONS[kind]
        chosen = rng.sample(actions, rng.randint(1, min(3, len(actions))))
        at = first
        for share, (action, text, equipment) in zip(sorted(rng.random() for _ in chosen),
                                                    chosen, strict=True):
            at = self.step(max(at, first + minutes(took * share)), "take_action", action, text,
                           equipment, actor=squad)
        if cycle == 1 and kind in (IncidentType.FIRE, IncidentType.GAS, IncidentType.FLOOD) and (
                self.chance("consent")):
            at = self.enter(at, squad, commander)
        if kind in words.SOURCES and self.chance("source"):
            at = self.step(at + minutes(rng.uniform(0.5, 2)), "find_source",
                           rng.choice(words.SOURCES[kind]), actor=squad)
        if not self.chance("no_containment"):
            at = self.step(max(at, first + minutes(took)), "contain",
                           words.CONTAINED.get(kind, "under control"), actor=commander,
                           label=self.label_if("contained", "correct_contained")
                           if cycle == 1 else None)
            if cycle == 1:
                self.contained = at
        if self.chance("note"):
            at = self.step(at + minutes(rng.uniform(0, 10)), "add_note", rng.choice(words.NOTES),
                           actor=desk)
        resolved = self.step(at + minutes(rng.uniform(10, 120)), "resolve",
                             rng.choice(words.RESOLVED), actor=commander)
        if cycle == 1:
            self.resolved = resolved
        return resolved

    def enter(self, at: datetime, squad: Actor, commander: Actor) -> datetime:
        """A locked door: the resident's consent, or exigent entry, then the lock forced."""
        rng, resident = self.rng, self.resident
        asked = self.step(at + minutes(rng.uniform(1, 4)), "request_consent", resident,
                          words.CONSENT_PURPOSE, actor=squad)
        answered = asked + minutes(rng.uniform(1, 4))
        if self.chance("refused"):
            if rng.random() < 0.5:  # refused outright; else never answered
                self.step(answered, "refuse_consent", resident, rng.choice(words.REFUSED),
                          actor=acting(resident, Role.RESIDENT))
            answered = self.step(answered + minutes(rng.uniform(1, 3)),
                                 "authorise_exigent_entry", rng.choice(words.EXIGENT),
                                 actor=commander)
        else:
            self.step(answered, "grant_consent", resident, actor=acting(resident, Role.RESIDENT))
        self.forced = True
        return self.step(answered + minutes(rng.uniform(1, 3)), "force_entry",
                         rng.choice(words.FORCED), actor=squad)

    def correct(self, closed: datetime, desk: Actor) -> None:
        """The corrections a review of the record brings, after the closure."""
        rng = self.rng
        at = closed + minutes(rng.uniform(30, 3 * 24 * 60))
        if "correct_detection" in self.corrections:
            self.step(at, "correct_time", Ref(self.label("detected")),
                      self.t0 - minutes(rng.uniform(1, 10)),
                      rng.choice(words.CORRECTED_DETECTION), actor=desk)
        if self.acknowledged is not None and "correct_ack" in self.corrections:
            moment = max(self.t0, self.acknowledged - minutes(rng.uniform(0.5, 1.5)))
            self.step(at, "correct_time", Ref(self.label("acknowledged")), moment,
                      words.CORRECTED_ACK, actor=desk)
        if "correct_arrival" in self.corrections:
            self.step(at, "correct_time", Ref(self.label("arrived")),
                      self.first_arrival + minutes(rng.uniform(0.5, 2)), words.CORRECTED_ARRIVAL,
                      actor=desk)
        if self.contained is not None and "correct_contained" in self.corrections:
            moment = min(self.resolved, self.contained + minutes(rng.uniform(1, 5)))
            self.step(at, "correct_time", Ref(self.label("contained")), moment,
                      words.CORRECTED_CONTAINED, actor=desk)
        if "correct_details" in self.corrections:
            self.step(at, "correct_details", Ref(self.label("detected")),
                      rng.choice(words.CORRECTED_DETAILS), words.DETAILS_REASON, actor=desk)

    def recover(self, closed: datetime, desk: Actor) -> None:
        """The repair of a forced lock, ordered by the desk and linked to the incident;
        an improvement item from the review of a serious incident."""
        c, rng = self.c, self.rng
        if self.forced and self.chance("recovery_order"):
            order = order_id_for(c.id, f"sim-recovery-{self.n}")
            placed = closed + minutes(rng.uniform(10, 600))
            plan_recovery_order(c, order, placed, self.resident, self.area, desk, rng,
                                self.queue)
            self.step(placed + minutes(rng.uniform(5, 30)), "link_recovery", order,
                      purpose=words.RECOVERY_PURPOSE, actor=desk, facts=2)
            self.orders += 1
        if self.severity in (Severity.HIGH, Severity.CRITICAL) and self.chance("improvement"):
            self.improve(closed, desk)

    def improve(self, closed: datetime, desk: Actor) -> None:
        """An item of the incident review's improvement plan, owned by the grid's leader:
        cancelled, or started and mostly done (on time or not), or left open."""
        c, rng = self.c, self.rng
        item = improvement_id_for(c.id, f"sim-item-{self.n}")
        life = Life(self.queue, "improvements")
        planned = closed + minutes(rng.uniform(24 * 60, 5 * 24 * 60))
        owner = c.roster.holder(Role.GRID_LEADER, self.building.grid, planned)
        due = planned + timedelta(days=rng.randint(14, 45))
        life.add(planned, "plan", c.id, actor=desk, review=incident_review_key(self.id),
                 action=rng.choice(words.IMPROVEMENTS), owner=owner, due=due,
                 incident_id=self.id, objective=rng.choice(OBJECTIVES), item_id=item)
        self.items += 1
        owner_actor = acting(owner, Role.GRID_LEADER)
        roll = rng.random()
        if roll < 0.05:
            life.add(planned + minutes(rng.uniform(60, 10 * 24 * 60)), "cancel", item,
                     words.IMPROVEMENT_CANCELLED, actor=desk)
        elif roll < 0.75:
            started = life.add(planned + minutes(rng.uniform(60, 10 * 24 * 60)), "start", item,
                               actor=owner_actor)
            if rng.random() < 0.8:  # done, on time or not; else still under way
                life.add(started + minutes(rng.uniform(24 * 60, 40 * 24 * 60)), "complete",
                         item, rng.choice(words.IMPROVEMENT_DONE), actor=owner_actor)
