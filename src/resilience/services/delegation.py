"""A method of an object that runs the method of one of its services: ``engine.metrics``
runs ``engine.reports.metrics``.

Each query is written once, on the service that answers it, and reached from the
object that holds the service as well. ``delegated`` says so on the class
(``metrics = delegated("reports", Reports.metrics)``) rather than in ``__init__``
(``self.metrics = self.reports.metrics``), because an instance attribute is
invisible to the class: ``help``, ``dir``, autodoc and
``create_autospec(Engine, instance=True)`` would not see the query, and it would
silently replace a subclass's own ``def metrics``.

What it makes is a plain function, wrapped (``functools.wraps``) around the
service's: its name, docstring and signature are the service method's (through
``__wrapped__``), so help, ``inspect.signature``, mypy and mock's autospec all
see one signature, written once; a subclass's own method of the same name wins,
as for any method; and each call looks the service up on the instance it is
called on, so a copy of the engine with other services (``with_clock``) reaches
its own.
"""

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def delegated(service: str, method: Callable[Concatenate[Any, P], R]
              ) -> Callable[Concatenate[Any, P], R]:
    """A method running ``method`` on the instance's attribute ``service``."""
    name = method.__name__

    @functools.wraps(method)
    def run(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        answer: R = getattr(getattr(self, service), name)(*args, **kwargs)
        return answer

    return run
