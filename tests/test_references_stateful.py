"""Stateful property test: reference books against a plain model.

Hypothesis reports incidents and places orders in two communities over two years, with
repeated command ids, refused commands (a location outside the community, a blank
description) and code changes (some invalid, some the code already set). The model is a
counter per community, kind and year and each community's code; after every step every
case's reference, read from the aggregate and from the views, and every book, must be
the model's, and every refused command recorded nothing.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from resilience import (
    Engine,
    InvalidInputError,
    InvalidTransitionError,
    Location,
    ManualClock,
    NotFoundError,
    UnitSpec,
)
from resilience.domain.references import CODE, ReferenceBook, book_id, fallback_code
from resilience.listing import resolve
from stateful_support import SETTINGS

from conftest import DONGHU, OFFICE, T0

NAMES = ("East", "West")
YEARS = (2022, 2023)
CODES = st.sampled_from(("DH", "xy", "E2", "DH", "", "9A", "TOOLONGCODE"))


def _at(year: int, hours: int) -> datetime:
    return datetime(year, 6, 1, tzinfo=T0.tzinfo) + timedelta(hours=hours)


class ReferenceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(datetime(2024, 1, 1, tzinfo=T0.tzinfo))
        self.engine = Engine("memory:", clock=self.clock, policy=None)
        self.communities: dict[str, UUID] = {}
        self.codes: dict[str, str | None] = {}
        for name in NAMES:
            community = self.engine.communities.register(
                **dict(DONGHU, name=name), actor=OFFICE, occurred_at=T0).aggregate_id
            self.engine.communities.add_grid(community, "3", actor=OFFICE, occurred_at=T0)
            self.engine.communities.add_building(community, "30", "3", [UnitSpec("1", 8)],
                                                 actor=OFFICE, occurred_at=T0)
            self.communities[name], self.codes[name] = community, None
        self.counts: dict[tuple[str, str, int], int] = {}
        self.expected: dict[UUID, str] = {}
        self.by_command: dict[str, UUID] = {}

    def teardown(self) -> None:
        self.engine.close()

    def _code(self, name: str) -> str:
        return self.codes[name] or fallback_code(self.communities[name])

    def _expect(self, name: str, kind: str, year: int, receipt: Any) -> None:
        count = self.counts[name, kind, year] = self.counts.get((name, kind, year), 0) + 1
        series = "S" if kind == "order" else ""
        reference = f"{self._code(name)}-{year}-{series}{count:04d}"
        assert receipt.reference == reference
        self.expected[receipt.aggregate_id] = reference

    def _unchanged(self, command: Any, error: type[Exception]) -> None:
        before = self.engine.app.recorder.max_notification_id()
        try:
            command()
        except error:
            pass
        else:
            raise AssertionError(f"no {error.__name__}")
        assert self.engine.app.recorder.max_notification_id() == before

    @rule(name=st.sampled_from(NAMES), year=st.sampled_from(YEARS),
          hours=st.integers(0, 48), command=st.sampled_from((None, "a", "b", "c")),
          outside=st.booleans(), blank=st.booleans())
    def report(self, name: str, year: int, hours: int, command: str | None, outside: bool,
               blank: bool) -> None:
        community = self.communities[name]

        def run() -> Any:
            return self.engine.incidents.report(
                community, incident_type="fire", severity="low",
                location=Location(building="99" if outside else "30", unit="1"),
                description=" " if blank else "smoke", actor=OFFICE,
                occurred_at=_at(year, hours),
                command_id=None if command is None else f"{name}/{command}")

        key = None if command is None else f"{name}/{command}"
        if key is not None and key in self.by_command:
            before = self.engine.app.recorder.max_notification_id()
            again = run()  # the same command: its first receipt, whatever it says now
            assert again.repeated
            assert again.reference == self.expected[self.by_command[key]]
            assert self.engine.app.recorder.max_notification_id() == before
            return
        if outside or blank:
            self._unchanged(run, NotFoundError if outside else InvalidInputError)
            return
        receipt = run()
        self._expect(name, "incident", year, receipt)
        if key is not None:
            self.by_command[key] = receipt.aggregate_id

    @rule(name=st.sampled_from(NAMES), year=st.sampled_from(YEARS), hours=st.integers(0, 48))
    def place(self, name: str, year: int, hours: int) -> None:
        receipt = self.engine.orders.place(
            self.communities[name], household_id="h-1", area_id="30", category="home",
            item="repair", actor=OFFICE, occurred_at=_at(year, hours))
        self._expect(name, "order", year, receipt)

    @rule(name=st.sampled_from(NAMES), code=CODES)
    def set_code(self, name: str, code: str) -> None:
        wanted = code.strip().upper()

        def run() -> Any:
            return self.engine.communities.set_code(self.communities[name], code,
                                                    actor=OFFICE, occurred_at=T0)

        if not CODE.fullmatch(wanted):
            self._unchanged(run, InvalidInputError)
        elif wanted == self.codes[name]:
            self._unchanged(run, InvalidTransitionError)
        else:
            run()
            self.codes[name] = wanted

    @precondition(lambda self: bool(self.expected))
    @rule(data=st.data())
    def a_numbered_case_is_given_no_other(self, data: st.DataObject) -> None:
        case = data.draw(st.sampled_from(sorted(self.expected)))
        service = self.engine.orders if "-S" in self.expected[case] else self.engine.incidents
        self._unchanged(lambda: service.assign_reference(case, actor=OFFICE),
                        InvalidTransitionError)

    @invariant()
    def cases_carry_the_models_references(self) -> None:
        for case, reference in self.expected.items():
            kind = self.engine.orders if reference.split("-")[2].startswith("S") \
                else self.engine.incidents
            assert kind.get(case).reference == reference

    @invariant()
    def books_count_the_models_numbers(self) -> None:
        for (name, kind, year), count in self.counts.items():
            book: Any = self.engine.app.repository.get(
                book_id(self.communities[name], kind, year))  # type: ignore[arg-type]
            assert isinstance(book, ReferenceBook)
            assert book.issued == count

    @precondition(lambda self: bool(self.expected))
    @rule()
    def the_views_and_resolve_agree(self) -> None:
        found = {case.case_id: case.reference
                 for subject in ("incident", "order")
                 for case in self.engine.reports.cases(subject=subject)}
        assert found == {str(case): reference for case, reference in self.expected.items()}
        references = list(self.expected.values())
        for case, reference in self.expected.items():
            if references.count(reference) == 1:
                assert resolve(self.engine, reference) == case
            else:  # two communities given the same code: both named, neither chosen
                with pytest.raises(InvalidInputError, match=str(case)):
                    resolve(self.engine, reference)


class TestReferenceMachine(ReferenceMachine.TestCase):  # type: ignore[misc,valid-type]
    """Any command sequence numbers every case as the model does."""

    settings = SETTINGS
