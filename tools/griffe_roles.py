"""A griffe extension for the API reference (mkdocs.yml): the docstrings' reStructuredText
roles (``:class:`Engine```, ``:func:`resilience.i18n.language```) shown as code.

The docstrings are read as text by ``help()`` and as Markdown by mkdocstrings, where a
role would show its markup (":class:Engine"). Each becomes the inline code it names, the
last dotted part of the target (as Sphinx shows ``~target``); a link would fail the
strict build whenever the target is not on a page of the reference.
"""

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj):`~?([^`<>]+?)`")


def shown(match: re.Match[str]) -> str:
    """The role's target as inline code: its last dotted part, a module's whole name."""
    target = match.group(1)
    name = target if match.group(0).startswith(":mod:") else target.rsplit(".", 1)[-1]
    return f"``{name}``"


class Roles(Extension):
    """Rewrites the roles of every docstring griffe loads."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(shown, obj.docstring.value)
