"""The LMS edge: the only package that knows Docebo's wire format.

``connect(lms)`` opens a read-only ``DoceboReader``; ``connect(lms, writer=True)`` a
``DoceboWriter``. Both speak to a Docebo tenant or to the sandbox through the same code.
"""

from certops.lms.client import CallBudget, Credentials, RetryPolicy, credentials_from_env
from certops.lms.docebo import Connection, DoceboReader, DoceboWriter, connect

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
