"""docs/security.md lists the default policy: its table is the one made from
DEFAULT_POLICY here, so the page can't drift from the data."""

from datetime import timedelta
from pathlib import Path

import pytest

from resilience.domain.policy import DEFAULT_POLICY, Policy, Rule, Scope

PAGE = Path(__file__).resolve().parent.parent / "docs" / "security.md"


def _grants(rules: tuple[Rule, ...]) -> str:
    """Who a command's rules let do it: the roles of each scope and window together, as in
    "grid_leader, grid_worker (their area)"."""
    groups: dict[tuple[Scope, timedelta | None], list[str]] = {}
    for rule in rules:
        groups.setdefault((rule.scope, rule.within), []).append(rule.role.value)
    parts = []
    for (scope, within), roles in groups.items():
        notes = [{Scope.COMMUNITY: "", Scope.AREA: "their area", Scope.OWN: "their own",
                  Scope.ASSIGNED: "assigned"}[scope]]
        if within is not None:
            notes.append(f"≤ {within / timedelta(days=1):g} d" if within >= timedelta(days=1)
                         else f"≤ {within / timedelta(hours=1):g} h")
        said = ", ".join(n for n in notes if n)
        parts.append(", ".join(roles) + (f" ({said})" if said else ""))
    return "; ".join(parts)


def policy_table(policy: Policy) -> str:
    """The policy as a Markdown table: one row per command, who may do it, and whether an
    override can stand in for a rule."""
    commands = list(dict.fromkeys(rule.command for rule in policy.rules))
    rows = ["| command | who may (scope, correction window) | override |",
            "| --- | --- | --- |"]
    for command in commands:
        rows.append(f"| `{command}` | {_grants(policy.rules_for(command))} | "
                    f"{'yes' if policy.overridable(command) else 'never'} |")
    return "\n".join(rows)


def test_the_security_page_lists_the_default_policy_as_it_is() -> None:
    """The table in docs/security.md is DEFAULT_POLICY's, row for row."""
    if not PAGE.is_file():
        pytest.skip("docs/security.md is not written yet")
    assert policy_table(DEFAULT_POLICY) in PAGE.read_text(encoding="utf-8")
