"""The LMS edge: the only package that knows Docebo's wire format.

``connect_reader(address)`` opens a read-only ``DoceboReader``, ``connect_writer(address)``
a ``DoceboWriter`` (``certops.lms.connect``); both speak to a Docebo tenant, or over a
transport the caller gives (the sandbox in-process, through ``certops.connection``),
through the same code. The modules, bottom up: ``errors``, ``records``, ``api`` (what the
rest may ask), ``paths``, ``wire`` (codecs), ``manifest``, ``paging``, ``credentials``,
``pacing`` (retries, rate limits, call budget, slots), ``network`` (httpx's client and
what its failures mean), ``failures`` (what each try of a call means), ``session`` (the
token, calls, channels, paging), ``docebo`` (reader and writer), ``connect``, and the
``doctor``/``shapes`` checks.

Importing this package (or its pure modules ``records``, ``api``, ``paths``, ``errors``)
loads no HTTP library: the client (httpx) is imported on the first use of a name below,
so commands that never reach an LMS (``validate``, ``--help``) start without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certops.lms.connect import Connection, connect_reader, connect_writer
    from certops.lms.credentials import Credentials, credentials_from_env
    from certops.lms.docebo import DoceboReader, DoceboWriter
    from certops.lms.pacing import CallBudget, RetryPolicy

__all__ = [
    "CallBudget",
    "Connection",
    "Credentials",
    "DoceboReader",
    "DoceboWriter",
    "RetryPolicy",
    "connect_reader",
    "connect_writer",
    "credentials_from_env",
]

# Where each public name lives; loaded on first use (PEP 562).
_LAZY = {
    "CallBudget": "certops.lms.pacing",
    "RetryPolicy": "certops.lms.pacing",
    "Credentials": "certops.lms.credentials",
    "credentials_from_env": "certops.lms.credentials",
    "Connection": "certops.lms.connect",
    "connect_reader": "certops.lms.connect",
    "connect_writer": "certops.lms.connect",
    "DoceboReader": "certops.lms.docebo",
    "DoceboWriter": "certops.lms.docebo",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
