"""Service orders and activities: the resident orders, the community dispatches, the resident
rates (訂單, 派單, 評單), and the activities the community holds.

Orders cover every item of the catalogue, the everyday ones (meals, repairs) far more
often than the professional ones. Around the closed loop, in the shares below: orders
the desk places for a household; an expected date the resident asks for; rejections
and cancellations; answers past the two-hour response limit; a reassignment to another
provider; completions past the expected time, or "not fixed"; ratings (or none), with
the resident saying whether it was resolved; a reopening ("still broken") and its
second round; notes; records late; the placement time corrected ("placed by phone
earlier"), the details corrected. Activities are held community-wide or in a grid; a
few have their count of participants corrected from the sign-in sheet.
"""

import random
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from resilience.domain.catalogue import DEFAULT_CATALOGUE
from resilience.domain.values import Actor, Provider, Role, ServiceOutcome
from resilience.simulation import words
from resilience.simulation.city import Community, acting
from resilience.simulation.steps import Life, Queue, Ref, lateness, minutes

SHARES = {
    "desk": 0.15, "expected_by": 0.15, "reject": 0.04, "slow_answer": 0.10, "cancel": 0.03,
    "reassign": 0.08, "start": 0.6, "not_fixed": 0.12, "rate": 0.7, "say_resolved": 0.6,
    "reopen": 0.05, "note": 0.05, "late": 0.03, "correct_time": 0.03,
    "correct_details": 0.02, "never_completed": 0.01, "activity_corrected": 0.06,
    "activity_in_grid": 0.6,
}
"""How often each case happens, of the orders (or activities) it can happen to."""

ITEM_WEIGHTS = {("meals", "meal_delivery"): 18, ("meals", "meal_help"): 8,
                ("health", "home_nursing"): 8, ("health", "rehab_care"): 6,
                ("health", "health_check"): 6, ("home", "repair"): 14,
                ("home", "cleaning"): 8, ("home", "escort"): 6, ("skills", "digital_help"): 8,
                ("skills", "skills_training"): 3, ("professional", "legal_advice"): 4,
                ("professional", "counselling"): 3, ("professional", "medical_service"): 4,
                ("professional", "financial_advice"): 2}
"""How often each item of the catalogue is ordered (an item not listed: weight 2)."""
ITEMS = tuple((entry.category, entry.item, entry.expected) for entry in DEFAULT_CATALOGUE.items)
WEIGHTS = tuple(ITEM_WEIGHTS.get((category, item), 2) for category, item, _ in ITEMS)
PROVIDERS = {category: tuple(Provider(kind, provider, name) for kind, provider, name in those)
             for category, those in words.PROVIDERS.items()}
"""Who fulfils each category's orders."""
SCORES = {True: ((5, 4, 3, 2, 1), (50, 30, 12, 5, 3)),
          False: ((1, 2, 3, 4, 5), (30, 30, 25, 10, 5))}
"""Scores given, by whether the order was fixed, and how often."""



class OrderLife:
    """Plans one service order's life."""

    def __init__(self, c: Community, order: UUID, rng: random.Random, queue: Queue) -> None:
        self.c, self.id, self.rng = c, order, rng
        self.life = Life(queue, "orders")
        self.label = f"c{c.index}o{order}"
        # Decided first, so only the placements to be corrected are labelled (a label is
        # held until the run ends).
        self.corrections = {case for case in ("correct_time", "correct_details")
                            if self.chance(case)}

    def chance(self, case: str) -> bool:
        return self.rng.random() < SHARES[case]

    def step(self, at: datetime, command: str, *args: object, actor: Actor,
             **kwargs: Any) -> datetime:
        late = lateness(self.rng) if self.chance("late") else timedelta(0)
        return self.life.add(at, command, self.id, *args, actor=actor, late=late, **kwargs)

    def provider(self, category: str, other_than: Provider | None = None) -> Provider:
        """A provider of ``category``'s services (another than ``other_than``, if any)."""
        choices = PROVIDERS[category]
        return self.rng.choice([p for p in choices if p != other_than] or choices)

    def plan(self, at: datetime) -> None:
        c, rng = self.c, self.rng
        category, item, expected = rng.choices(ITEMS, WEIGHTS)[0]
        building = rng.choice(c.buildings)
        area = building.unit_area(rng.choice(building.units))
        resident = rng.choice(c.residents[area])
        by_desk = self.chance("desk")
        placer = c.desk(rng, at) if by_desk else acting(resident, Role.RESIDENT)
        expected_by = (at + expected * rng.uniform(0.5, 2) if self.chance("expected_by")
                       else None)
        # (facts=2: the order's placement and its reference, in the book)
        self.life.add(at, "place", c.id, actor=placer, household_id=resident, area_id=area,
                      facts=2,
                      category=category, item=item, details=rng.choice(words.ORDER_DETAILS),
                      expected_by=None if expected_by is None else expected_by.replace(
                          microsecond=0), order_id=self.id,
                      label=self.label if self.corrections else None)
        desk = c.desk(rng, at)
        if self.chance("reject"):
            self.step(at + minutes(rng.uniform(10, 120)), "reject", rng.choice(words.REJECTED),
                      actor=desk)
            return
        # Answered within the 2-hour limit, sooner for what is wanted within hours (a
        # meal); a tenth of the time past the limit.
        wanted = expected.total_seconds() / 60
        answer = (rng.uniform(180, 480) if self.chance("slow_answer")
                  else rng.uniform(3, min(110, 3 + wanted * 0.2)))
        now = self.step(at + minutes(answer), "accept", actor=desk)
        if self.chance("cancel"):
            self.step(now + minutes(rng.uniform(10, 600)), "cancel", rng.choice(words.CANCELLED),
                      actor=placer)
            return
        fixed = self.fulfil(now, category, expected, desk)
        if fixed is None:
            return
        if self.chance("reopen") and not by_desk:
            now = self.step(self.completed + minutes(rng.uniform(60, 3 * 24 * 60)), "reopen",
                            rng.choice(words.ORDER_REOPENED), actor=placer)
            fixed = bool(self.fulfil(now, category, expected, desk, again=True))
        if self.chance("note"):
            self.step(self.completed + minutes(rng.uniform(5, 60)), "add_note",
                      rng.choice(words.ORDER_NOTES), actor=desk)
        if not by_desk and self.chance("rate"):
            scores, weights = SCORES[fixed]
            score = rng.choices(scores, weights)[0]
            resolved = (fixed and score >= 3) if self.chance("say_resolved") else None
            self.step(self.completed + minutes(rng.uniform(60, 3 * 24 * 60)), "rate", score,
                      rng.choice(words.RATED), resolved=resolved, actor=placer)
        if "correct_time" in self.corrections:
            self.step(self.completed + minutes(rng.uniform(60, 24 * 60)), "correct_time",
                      Ref(self.label), at - minutes(rng.uniform(10, 120)), words.ORDER_LATE,
                      actor=desk)
        if "correct_details" in self.corrections:
            self.step(self.completed + minutes(rng.uniform(60, 24 * 60)), "correct_details",
                      Ref(self.label), rng.choice(words.ORDER_DETAILS[2:]),
                      words.DETAILS_REASON, actor=desk)

    def fulfil(self, now: datetime, category: str, expected: timedelta, desk: Actor,
               again: bool = False) -> bool | None:
        """Dispatch (maybe twice), start, complete; whether it was fixed (None: its
        completion never recorded, the first time round)."""
        rng = self.rng
        provider = self.provider(category)
        wanted = expected.total_seconds() / 60
        now = self.step(now + minutes(rng.uniform(5, 10 + wanted * 0.15)), "dispatch",
                        provider, actor=desk)
        if self.chance("reassign"):
            provider = self.provider(category, provider)
            now = self.step(now + minutes(rng.uniform(30, 24 * 60)), "dispatch", provider,
                            actor=desk)
        fulfiller = acting(provider.provider_id, Role.PROVIDER)
        if self.chance("start"):
            now = self.step(now + minutes(rng.uniform(30, 24 * 60)), "start", actor=fulfiller)
        if not again and self.chance("never_completed"):
            return None
        fixed = not self.chance("not_fixed")
        # Mostly within the expected time; a sixth of the time past it.
        took = wanted * (rng.uniform(1.0, 2.0) if rng.random() < 0.15 else rng.uniform(0.1, 0.8))
        self.completed = self.step(
            now + minutes(took), "complete", ServiceOutcome.FIXED if fixed else
            ServiceOutcome.NOT_FIXED, "" if fixed else rng.choice(words.NOT_FIXED),
            actor=fulfiller)
        return fixed


def plan_recovery_order(c: Community, order: UUID, at: datetime, resident: str, area: str,
                        desk: Actor, rng: random.Random, queue: Queue) -> None:
    """The desk orders the repair of what a response broke, for the resident's household
    in ``area`` (a unit): accepted at once, sent to the property company, fixed."""
    life = OrderLife(c, order, rng, queue)
    life.corrections = set()
    life.life.add(at, "place", c.id, actor=desk, household_id=resident, facts=2,
                  area_id=area, category="home", item="repair",
                  details=words.RECOVERY_DETAILS, order_id=order)
    now = life.step(at + minutes(rng.uniform(1, 10)), "accept", actor=desk)
    provider = life.provider("home")
    now = life.step(now + minutes(rng.uniform(10, 240)), "dispatch", provider, actor=desk)
    life.step(now + minutes(rng.uniform(120, 48 * 60)), "complete", ServiceOutcome.FIXED,
              actor=acting(provider.provider_id, Role.PROVIDER))


def plan_activity(c: Community, n: int, at: datetime, rng: random.Random,
                  queue: Queue) -> None:
    """An activity held at ``at``, its participants sometimes corrected days later."""
    title, category, typical = rng.choice(words.ACTIVITIES)
    grid = rng.choice(c.grids) if rng.random() < SHARES["activity_in_grid"] else None
    participants = max(0, round(rng.gauss(typical, typical * 0.3)))
    life = Life(queue, "communities")
    corrected = rng.random() < SHARES["activity_corrected"]
    label = f"c{c.index}a{n}"
    desk = c.desk(rng, at)
    life.add(at, "hold_activity", c.id, title=title, category=category,
             participants=participants, grid=grid, actor=desk,
             label=label if corrected else None)
    if corrected:
        counted = participants + rng.choice((-3, -2, -1, 1, 2, 5))
        life.add(at + minutes(rng.uniform(24 * 60, 7 * 24 * 60)), "correct_participants",
                 c.id, Ref(label), counted if counted >= 0 else participants + 1,
                 words.PARTICIPANTS_CORRECTED, actor=desk)
