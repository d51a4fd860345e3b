"""The three rates city service hotlines (12345, "respond to complaints at once") assess
a community on: response, resolution and satisfaction, judged on its service orders.

The denominator of every rate is the same: the orders placed in the period (by their
placement's effective time), less the cancelled ones (``Case.status`` cancelled, a
reopened order cancelled since among them: the resident withdrew the order, nothing is
left to answer, resolve or judge). Each order counted is judged **yes**,
**no** or **unknown**:

- ``response``: yes when the community's first response (the earliest of accepting,
  rejecting or dispatching the order, by effective time) came at most ``limit`` after
  the order was placed; no when it came later; unknown when no response is recorded,
  whether or not the limit has passed (the record has no "now": a figure never depends
  on the moment it is asked, and the order counts against the rate either way).
- ``resolution``: the resident's own answer to "resolved?", given with the rating of
  the order's standing completion (``Case.resolved_by_resident``); unknown when the
  resident did not say, has not rated, or there is no standing completion (open,
  rejected, reopened since).
- ``satisfaction``: yes when the score of that rating is at least ``satisfied_from``,
  no when lower, unknown when not rated.

``value`` is ``yes / denominator``: an unknown is never a yes and stays in the
denominator, so leaving orders unanswered or unrated never raises a rate.
``of_known`` is ``yes / (yes + no)``, the share among the orders with an answer, as
surveys publish it. Both are None when their denominator is 0.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Literal, get_args

from attrs import evolve, frozen

from resilience.domain.named import Named
from resilience.domain.validation import MAX_DURATION, check_text, check_whole, shown
from resilience.errors import InvalidInputError, NotFoundError, NotInReportError
from resilience.i18n import _
from resilience.metrics.cases import Case
from resilience.metrics.stats import share
from resilience.metrics.tables import unit_text

RateKind = Literal["response", "resolution", "satisfaction"]
Answer = Literal["yes", "no", "unknown"]
RESPONSES = ("accepted", "rejected", "first_dispatched")
"""The order milestones that are a response of the community: the earliest one is its
first response."""
DEFAULT_RESPONSE_LIMIT = timedelta(hours=2)
DEFAULT_SATISFIED_FROM = 4
"""On the 1-5 scale, 4 ("satisfied") and 5 ("very satisfied") count as satisfied."""


@frozen
class RateDefinition:
    """One rate: which ``kind`` (response, resolution, satisfaction) and its parameter.

    ``limit``: the time a response may take (response rates only, required there; a
    timedelta above zero). ``satisfied_from``: the lowest score, 1 to 5, counted as
    satisfied (satisfaction rates only, required there).
    """

    name: str
    kind: RateKind
    limit: timedelta | None = None
    satisfied_from: int | None = None
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if not check_text(self.name, "a rate's name").strip():
            raise InvalidInputError(_("a rate needs a name"))
        if type(self.kind) is not str or self.kind not in get_args(RateKind):
            raise InvalidInputError(_("a rate's kind is one of {kinds}, got {value}").format(
                kinds=", ".join(get_args(RateKind)), value=shown(self.kind)))
        check_text(self.description, "description")
        if self.kind == "response":
            if type(self.limit) is not timedelta or not timedelta(0) < self.limit <= MAX_DURATION:
                raise InvalidInputError(
                    _("rate {name}: a response rate needs a limit, a timedelta above 0 "
                      "and at most {days} days, got {value}").format(
                        name=self.name, days=f"{MAX_DURATION.days:,}", value=shown(self.limit)))
        elif self.limit is not None:
            raise InvalidInputError(_("rate {name}: only a response rate has a limit").format(
                name=self.name))
        if self.kind == "satisfaction":
            check_whole(self.satisfied_from, f"rate {self.name}: satisfied_from", 1, 5)
        elif self.satisfied_from is not None:
            raise InvalidInputError(
                _("rate {name}: only a satisfaction rate has satisfied_from").format(
                    name=self.name))

    def judge(self, case: Case) -> Answer | None:
        """The order's answer (module docstring), or None if the rate does not count it
        (an incident, an order whose status is cancelled)."""
        if case.subject != "order" or case.status == "cancelled":
            return None
        if self.kind == "response":
            assert self.limit is not None  # checked on construction
            answered = [case.milestones[m] for m in RESPONSES if m in case.milestones]
            if not answered:
                return "unknown"
            return "yes" if min(answered) - case.start <= self.limit else "no"
        if self.kind == "resolution":
            said = case.resolved_by_resident
            return "unknown" if said is None else "yes" if said else "no"
        assert self.satisfied_from is not None  # checked on construction
        if case.rating is None:
            return "unknown"
        return "yes" if case.rating >= self.satisfied_from else "no"

    @property
    def rule(self) -> str:
        """What a yes is, in a few words (shown in reports)."""
        if self.limit is not None:
            return _("answered within {limit}").format(limit=_duration(self.limit))
        if self.satisfied_from is not None:
            return (_("score {score} or more").format(score=self.satisfied_from)
                    if self.satisfied_from < 5 else _("score 5"))
        return _("resident says resolved")


def _duration(limit: timedelta) -> str:
    seconds = limit.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit_text(unit)}"
    return f"{seconds:g} {unit_text('s')}"


def rate_description(definition: RateDefinition) -> str:
    """What the rate counts, in the built-ins' words, from its kind and its parameter (so
    a rate whose limit or lowest satisfied score is changed says so): e.g. "orders the
    community answered (accepted, rejected or dispatched) within 90 minutes of their
    placement"."""
    if definition.limit is not None:
        return (f"orders the community answered (accepted, rejected or dispatched) within "
                f"{_in_words(definition.limit)} of their placement")
    if definition.satisfied_from is not None:
        scores = {5: "5", 4: "4 or 5"}.get(definition.satisfied_from,
                                           f"{definition.satisfied_from} to 5")
        return f"orders the resident rated {scores} out of 5"
    return "orders the resident says were resolved, when rating them"


def _in_words(limit: timedelta) -> str:
    seconds = limit.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size and seconds % size == 0:
            count = seconds / size
            return f"{count:g} {unit}{'' if count == 1 else 's'}"
    return f"{seconds:g} seconds"


def _built_in(rate: RateDefinition) -> RateDefinition:
    return evolve(rate, description=rate_description(rate))


RATES: tuple[RateDefinition, ...] = Named("RATES", (
    _built_in(RateDefinition("response_rate", "response", limit=DEFAULT_RESPONSE_LIMIT)),
    _built_in(RateDefinition("resolution_rate", "resolution")),
    _built_in(RateDefinition("satisfaction_rate", "satisfaction",
                             satisfied_from=DEFAULT_SATISFIED_FROM)),
))
"""The three rates, built in: response within 2 hours, resolution, satisfaction from 4."""
RATES_BY_NAME: Mapping[str, RateDefinition] = {r.name: r for r in RATES}


def builtin_rate(name: str) -> RateDefinition:
    """A built-in rate by name (NotFoundError listing them for another)."""
    found = RATES_BY_NAME.get(check_text(name, "a rate's name"))
    if found is None:
        raise NotFoundError(_("no built-in rate {name}; built-ins: {known}").format(
            name=shown(name), known=", ".join(RATES_BY_NAME)))
    return found


@frozen
class RateSummary:
    """One rate over one group of orders: its value and the counts it is computed from."""

    name: str
    group: Mapping[str, str | None]
    numerator: int
    """Orders judged yes."""
    no: int
    unknown: int
    denominator: int
    """``numerator + no + unknown``: the orders the rate counts (placed in the period,
    not cancelled)."""
    value: float | None
    """``numerator / denominator``."""

    @property
    def of_known(self) -> float | None:
        """``numerator / (numerator + no)``: the rate among the orders with an answer."""
        return share(self.numerator, self.numerator + self.no)


def rate_summary(definition: RateDefinition, cases: Iterable[Case],
                 group: Mapping[str, str | None] | None = None) -> RateSummary:
    """The rate over ``cases`` (those it does not count are left out)."""
    answers = [a for c in cases if (a := definition.judge(c)) is not None]
    yes = answers.count("yes")
    return RateSummary(definition.name, dict(group or {}), yes, answers.count("no"),
                       answers.count("unknown"), len(answers), share(yes, len(answers)))


@frozen
class RateRow:
    """Every rate of one group of orders."""

    group: Mapping[str, str | None]
    orders: int
    """Orders placed in the period, cancelled ones included."""
    cancelled: int
    """Of those, the cancelled: outside every rate's denominator."""
    rates: tuple[RateSummary, ...]

    def rate(self, name: str) -> RateSummary:
        """The summary of the rate named ``name`` (NotInReportError if not computed)."""
        return rate_named(self.rates, name,
                          _("the row of {group} has no rate {name}; its rates: {rates}")
                          if self.group else
                          _("the row of all has no rate {name}; its rates: {rates}"),
                          group=dict(self.group))


def rate_named(rates: Collection[RateSummary], name: str, message: str,
               **values: object) -> RateSummary:
    """The summary of the rate named ``name`` among ``rates``, or NotInReportError with
    ``message`` (``{name}`` and ``{rates}``, and ``values``) saying which it has."""
    found = [summary for summary in rates if summary.name == name]
    if not found:
        raise NotInReportError(message.format(
            name=shown(name), rates=", ".join(s.name for s in rates) or _("none"), **values))
    return found[0]


def rate_row(definitions: Sequence[RateDefinition], cases: Sequence[Case],
             group: Mapping[str, str | None] | None = None) -> RateRow:
    """The rates of one group of cases (its orders)."""
    orders = [c for c in cases if c.subject == "order"]
    return RateRow(dict(group or {}), len(orders),
                   sum(1 for c in orders if c.status == "cancelled"),
                   tuple(rate_summary(d, orders, group) for d in definitions))
