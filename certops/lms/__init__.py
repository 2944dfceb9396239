"""The LMS edge: the only package that knows Docebo's wire format.

``connect(lms)`` opens a read-only ``DoceboReader``; ``connect(lms, writer=True)`` a
``DoceboWriter``. Both speak to a Docebo tenant or to the sandbox through the same code.

Importing this package (or its pure modules ``records``, ``api``, ``paths``, ``errors``)
loads no HTTP library: the client (httpx) is imported on the first ``connect()`` call or
the first use of a name below, so commands that never reach an LMS (``validate``,
``--help``) start without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certops.lms.client import CallBudget, Credentials, RetryPolicy, credentials_from_env
    from certops.lms.docebo import Connection, DoceboReader, DoceboWriter

__all__ = [
    "CallBudget",
    "Connection",
    "Credentials",
    "DoceboReader",
    "DoceboWriter",
    "RetryPolicy",
    "connect",
    "credentials_from_env",
]

# Where each public name lives; loaded on first use (PEP 562).
_LAZY = {
    "CallBudget": "certops.lms.client",
    "Credentials": "certops.lms.client",
    "RetryPolicy": "certops.lms.client",
    "credentials_from_env": "certops.lms.client",
    "Connection": "certops.lms.docebo",
    "DoceboReader": "certops.lms.docebo",
    "DoceboWriter": "certops.lms.docebo",
}


def connect(lms: str, **options: Any) -> Connection:
    """A connection to ``lms`` for ``async with``; see ``certops.lms.docebo.connect``.

    Defined here (not re-exported) so that ``from certops.lms import connect`` at the top
    of a command module costs nothing until the command actually connects.
    """
    from certops.lms.docebo import connect as open_connection

    return open_connection(lms, **options)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
