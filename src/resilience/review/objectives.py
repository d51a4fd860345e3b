"""Objectives an after-action review grades P/S/M/U, as data, with default rules.

Three kinds of rule:

- ``within``: milestone ``end`` no later than ``target`` after ``start``.
  P: within the target; S: within ``target x some_challenges``; M: later;
  U: ``end`` never happened although the incident is finished or the
  deadline has passed. Not graded while the deadline is still ahead.
- ``consent_before_entry``: every forced entry had a resident's consent
  granted at or before it. P: all did; S: some entry relied on exigent
  authorisation instead; U: an entry had neither. Not applicable without a
  forced entry.
- ``recorded``: each of ``milestones`` was recorded, promptly and right first
  time. P: all recorded, none later than ``late_after`` nor corrected; S: all
  recorded, some late or corrected; M: up to half missing; U: more missing.
  Milestones an unfinished incident hasn't reached yet don't count.

Titles and evidence are in the language current when an incident is graded
(resilience.i18n): the default objectives' titles are in the catalog, a title of your own
is shown as you wrote it unless the catalog has it.
"""

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from attrs import field, frozen

from resilience.domain.base import happening_order
from resilience.domain.incident import Incident
from resilience.domain.named import Named
from resilience.domain.validation import shown
from resilience.domain.values import IncidentType
from resilience.errors import InvalidInputError
from resilience.i18n import N_, _
from resilience.metrics.cases import Case, Fact
from resilience.metrics.milestones import INCIDENT_MILESTONE_FACTS, INCIDENT_MILESTONES
from resilience.metrics.quality import DEFAULT_LATE_AFTER
from resilience.review.model import Grade, ObjectiveResult
from resilience.review.text import clock, enum_words, minutes, noun

Rule = Literal["within", "consent_before_entry", "recorded"]
RULES: tuple[Rule, ...] = ("within", "consent_before_entry", "recorded")

KEY_MILESTONES = ("detected", "reported", "acknowledged", "first_dispatched",
                  "first_on_scene", "contained", "resolved", "closed")

_MAX_MINUTES = 366 * 24 * 60  # also refuses NaN and infinities
_COMMON_KEYS = {"name", "title", "rule", "incident_types"}
_RULE_KEYS: dict[Any, set[str]] = {
    "within": {"start", "end", "target_minutes", "some_challenges"},
    "recorded": {"milestones", "late_after_minutes"},
    "consent_before_entry": set(),
}


def _names(value: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@frozen
class Objective:
    """One objective of a review: what is expected, and how it is graded."""

    name: str
    title: str
    rule: Rule
    start: str | None = None
    end: str | None = None
    target: timedelta | None = None
    some_challenges: float = 1.5
    """``within``: up to this multiple of the target still grades S, beyond it M."""
    milestones: tuple[str, ...] = field(default=KEY_MILESTONES, converter=_names)
    late_after: timedelta = DEFAULT_LATE_AFTER
    incident_types: tuple[str, ...] = field(default=(), converter=_names)
    """The incident types it applies to (empty: all)."""

    def __attrs_post_init__(self) -> None:
        for text, needs in ((self.name, N_("an objective needs a name")),
                            (self.title, N_("an objective needs a title"))):
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError(_(needs))
        if self.rule not in RULES:
            raise InvalidInputError(_("objective {name}: rule must be one of {rules}, got "
                                      "{rule}").format(name=self.name, rules=", ".join(RULES),
                                                       rule=shown(self.rule)))
        if self.rule == "within":
            for which in ("start", "end"):
                if getattr(self, which) not in INCIDENT_MILESTONES:
                    raise InvalidInputError(
                        _("objective {name}: {which} must be an incident milestone "
                          "({milestones}), got {value}").format(
                            name=self.name, which=which,
                            milestones=", ".join(INCIDENT_MILESTONES),
                            value=shown(getattr(self, which))))
            if not isinstance(self.target, timedelta) or self.target <= timedelta(0):
                raise InvalidInputError(
                    _("objective {name}: target must be a positive duration").format(
                        name=self.name))
            if (isinstance(self.some_challenges, bool)
                    or not isinstance(self.some_challenges, int | float)
                    or not 1 <= self.some_challenges < math.inf):
                raise InvalidInputError(
                    _("objective {name}: some_challenges must be a number >= 1").format(
                        name=self.name))
        unknown = [m for m in self.milestones if m not in INCIDENT_MILESTONES]
        if unknown or not self.milestones:
            raise InvalidInputError(_("objective {name}: milestones must be incident "
                                      "milestones, got {milestones}").format(
                name=self.name, milestones=list(self.milestones)))
        if not isinstance(self.late_after, timedelta) or self.late_after < timedelta(0):
            raise InvalidInputError(_("objective {name}: late_after must be a duration")
                                    .format(name=self.name))
        types = [t.value for t in IncidentType]
        if any(t not in types for t in self.incident_types):
            raise InvalidInputError(_("objective {name}: incident_types must be among "
                                      "{types}").format(name=self.name, types=", ".join(types)))

    def applies(self, case: Case) -> bool:
        return not self.incident_types or case.dims.get("incident_type") in self.incident_types

    def grade(self, case: Case, at: datetime | None = None) -> ObjectiveResult:
        """Grade one incident (cut or not). ``at``: the moment of the cut, if any."""
        if not self.applies(case):
            return self._result(None, _("does not apply to {type} incidents").format(
                type=enum_words(case.dims.get("incident_type"))))
        if case.closure not in (None, "resolved"):
            return self._result(None, _("closed as {reason}").format(
                reason=enum_words(case.closure)))
        if self.rule == "within":
            return self._within(case, at)
        if self.rule == "consent_before_entry":
            return self._consent(case)
        return self._recorded(case)

    # As data ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "title": self.title, "rule": self.rule}
        if self.rule == "within":
            assert self.target is not None
            data.update(start=self.start, end=self.end,
                        target_minutes=self.target.total_seconds() / 60,
                        some_challenges=self.some_challenges)
        if self.rule == "recorded":
            data.update(milestones=list(self.milestones),
                        late_after_minutes=self.late_after.total_seconds() / 60)
        if self.incident_types:
            data["incident_types"] = list(self.incident_types)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Objective":
        """An objective from JSON-like data (``target_minutes``, ``late_after_minutes``)."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(_("an objective is an object, got {value}").format(
                value=shown(data)))
        known = {"name", "title", "rule", "start", "end", "target_minutes", "some_challenges",
                 "milestones", "late_after_minutes", "incident_types"}
        extra = sorted(set(data) - known)
        if extra:
            raise InvalidInputError(_("unknown objective keys {extra}; known: {known}").format(
                extra=extra, known=sorted(known)))
        rule = data.get("rule")
        if rule in _RULE_KEYS:
            misplaced = sorted(set(data) - _COMMON_KEYS - _RULE_KEYS[rule])
            if misplaced:
                raise InvalidInputError(_("{key} does not apply to a {rule} objective").format(
                    key=misplaced[0], rule=rule))
        fields = {k: v for k, v in data.items() if not k.endswith("_minutes")}
        for key, name in (("target_minutes", "target"), ("late_after_minutes", "late_after")):
            if key in data:
                value = data[key]
                if (isinstance(value, bool) or not isinstance(value, int | float)
                        or not -_MAX_MINUTES <= value <= _MAX_MINUTES):
                    raise InvalidInputError(_("{key} must be a number of minutes (at most a "
                                              "year), got {value}").format(key=key,
                                                                          value=shown(value)))
                fields[name] = timedelta(minutes=value)
        for key in ("milestones", "incident_types"):
            if key in fields and not isinstance(fields[key], list):
                raise InvalidInputError(_("{key} must be a list of names").format(key=key))
        try:
            return cls(**fields)
        except TypeError as exc:
            raise InvalidInputError(_("objective: {error}").format(error=exc)) from None

    # Rules -------------------------------------------------------------------------

    def _result(self, grade: Grade | None, evidence: str, measured: timedelta | None = None,
                versions: tuple[int, ...] = (), pending: bool = False) -> ObjectiveResult:
        return ObjectiveResult(self.name, _(self.title), grade, evidence, measured,
                               self.target, versions, pending)

    def _within(self, case: Case, at: datetime | None) -> ObjectiveResult:
        assert self.start is not None
        assert self.end is not None
        assert self.target is not None
        start, end = case.milestones.get(self.start), case.milestones.get(self.end)
        versions = _versions(case, self.start, self.end)
        if start is None:
            return self._result(None, _("not graded: no {milestone} recorded").format(
                milestone=noun(self.start)))
        if end is None:
            deadline = start + self.target
            if not case.finished and (at is None or at < deadline) and case.closure is None:
                return self._result(None, _("not yet graded: no {milestone} by the cut, "
                                            "deadline {deadline}").format(
                    milestone=noun(self.end), deadline=clock(deadline, case.start)),
                    versions=versions, pending=True)
            return self._result(Grade.U, _("no {milestone} was recorded").format(
                milestone=noun(self.end)), versions=versions)
        took = end - start
        evidence = _("{milestone} at {time}, {took} after {start} (target {target})").format(
            milestone=enum_words(self.end), time=clock(end, case.start), took=minutes(took),
            start=noun(self.start), target=minutes(self.target))
        if took <= self.target:
            grade = Grade.P
        elif took <= self.target * self.some_challenges:
            grade = Grade.S
        else:
            grade = Grade.M
        return self._result(grade, evidence, took, versions)

    def _consent(self, case: Case) -> ObjectiveResult:
        entries = [f for f in case.facts if f.name == Incident.ForcedEntryMade.fact_name]
        if not entries:
            return self._result(None, _("no forced entry was made"))
        answers = [f for f in case.facts if f.name in _ANSWERS]
        exigent = [f for f in case.facts if f.name == Incident.ExigentEntryAuthorised.fact_name]
        consented = {e.version: _consent_standing(answers, e) for e in entries}
        versions = tuple(f.version for f in (*entries, *answers, *exigent))
        unconsented = [e for e in entries if consented[e.version] is None]
        if not unconsented:
            first = min(g.occurred_at for g in consented.values() if g is not None)
            return self._result(Grade.P, _("consent granted at {time}, standing at every "
                                           "forced entry ({entries})").format(
                time=clock(first, case.start), entries=len(entries)), versions=versions)
        authorised = [e for e in unconsented
                      if any(happening_order(x) <= happening_order(e) for x in exigent)]
        if len(authorised) == len(unconsented):
            return self._result(Grade.S, _("{count} of {entries} forced entries relied on "
                                           "exigent authorisation, not consent").format(
                count=len(unconsented), entries=len(entries)), versions=versions)
        return self._result(Grade.U, _("{count} forced entries had neither consent nor "
                                       "exigent authorisation").format(
            count=len(unconsented) - len(authorised)), versions=versions)

    def _recorded(self, case: Case) -> ObjectiveResult:
        expected = list(self.milestones)
        if not case.finished:
            # An unfinished incident hasn't reached the milestones after its latest one.
            reached = [i for i, m in enumerate(expected) if m in case.milestones]
            expected = expected[:max(reached) + 1] if reached else expected[:1]
        if case.closure is None:
            expected = [m for m in expected if m != "closed"]
        missing = [m for m in expected if m not in case.milestones]
        facts = {m: _fact(case, m) for m in expected if m not in missing}
        late = [m for m, f in facts.items()
                if f is not None and f.recorded_at - f.original_at > self.late_after]
        corrected = {c.corrects for c in case.corrections if c.what == "time"}
        fixed = [m for m, f in facts.items() if f is not None and f.version in corrected]
        versions = tuple(sorted(f.version for f in facts.values() if f is not None))
        if missing:
            grade = Grade.M if len(missing) * 2 <= len(expected) else Grade.U
            return self._result(grade, _("not recorded: {milestones}").format(
                milestones=_(", ").join(map(enum_words, missing))), versions=versions)
        notes = []
        if late:
            notes.append(_("recorded more than {late_after} late: {milestones}").format(
                late_after=minutes(self.late_after),
                milestones=_(", ").join(map(enum_words, late))))
        if fixed:
            notes.append(_("time corrected afterwards: {milestones}").format(
                milestones=_(", ").join(map(enum_words, fixed))))
        if notes:
            return self._result(Grade.S, _("; ").join(notes), versions=versions)
        return self._result(Grade.P, _("all {count} key milestones recorded on time").format(
            count=len(expected)), versions=versions)


_ANSWERS = (Incident.ConsentGranted.fact_name, Incident.ConsentRefused.fact_name)


def _consent_standing(answers: Sequence[Fact], entry: Fact) -> Fact | None:
    """The grant an entry relied on: a resident whose latest answer by then was yes (as the
    domain's own rule reads it; a refusal after a grant withdraws it)."""
    latest: dict[str, Fact] = {}
    for answer in sorted(answers, key=happening_order):
        if answer.occurred_at <= entry.occurred_at:
            latest[answer.extra] = answer
    granted = [a for a in latest.values() if a.name == Incident.ConsentGranted.fact_name]
    return min(granted, key=happening_order) if granted else None


def _fact(case: Case, milestone: str) -> Any:
    """The fact whose effective time is the milestone's."""
    at = case.milestones[milestone]
    name = INCIDENT_MILESTONE_FACTS.get(milestone)
    return next((f for f in case.facts if f.name == name and f.occurred_at == at), None)


def _versions(case: Case, *milestones: str) -> tuple[int, ...]:
    found = (_fact(case, m) for m in milestones if m in case.milestones)
    return tuple(f.version for f in found if f is not None)


DEFAULT_OBJECTIVES: tuple[Objective, ...] = Named("DEFAULT_OBJECTIVES", (
    Objective("contained_within_15_min",
              N_("Contain the incident within 15 minutes of detection"),
              "within", "detected", "contained", timedelta(minutes=15)),
    Objective("residents_notified_within_5_min",
              N_("Notify the residents at risk within 5 minutes of detection"), "within",
              "detected", "residents_notified", timedelta(minutes=5),
              incident_types=("fire", "gas", "flood")),
    Objective("first_unit_on_scene_within_5_min",
              N_("Get the first dispatched responder on scene within 5 minutes of detection"),
              "within", "detected", "first_unit_on_scene", timedelta(minutes=5)),
    Objective("consent_before_forced_entry",
              N_("Obtain a resident's consent before any forced entry"), "consent_before_entry"),
    Objective("key_milestones_recorded",
              N_("Record every key milestone promptly and right first time"), "recorded"),
))
"""The objectives a review grades unless given others (docs/review.md explains each)."""
