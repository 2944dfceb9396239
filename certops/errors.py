"""certops' exceptions: one tree, messages people can act on.

Every error certops reports to a person is a ``CertopsError``; the command line turns it
into its message on stderr and the exit code (1 unless stated). The classes live beside
the code that raises them; this is the whole tree (a test keeps it complete)::

    Exception
    ├── CertopsError ............... certops.errors: base of every reported error (exit 1)
    │   ├── ConfigError ............ certops.errors: the configuration is invalid; every
    │   │                            located problem (FILE:LINE:COL) at once
    │   ├── LMSError ............... certops.errors: the LMS failed or answered unusably
    │   │   │                        (its text never shows a secret)
    │   │   ├── LMSAddressError .... certops.errors: --lms is not usable (also importable
    │   │   │                        from certops.lms.errors)
    │   │   ├── LMSCredentialsError  certops.lms.errors: credentials missing or refused
    │   │   ├── LMSConnectionError . certops.lms.errors: the host cannot be reached
    │   │   ├── LMSUnavailableError  certops.lms.errors: 429/5xx after every retry
    │   │   │   └── OutcomeUnknown . certops.lms.failures: a write's answer was lost (the
    │   │   │                        writer re-reads before anything else)
    │   │   ├── LMSPermissionError . certops.lms.errors: HTTP 403
    │   │   ├── LMSNotFoundError ... certops.lms.errors: HTTP 404
    │   │   ├── LMSRequestError .... certops.lms.errors: HTTP 400 and other 4xx (``field``)
    │   │   ├── LMSIgnoredFieldError certops.lms.errors: a write did not keep a field
    │   │   ├── LMSResponseError ... certops.lms.errors: an answer certops cannot read
    │   │   │   └── PagingError .... certops.lms.paging: a paged read did not advance
    │   │   └── ReadOnlyError ...... certops.lms.errors: a write through a reader (a bug)
    │   ├── SafetyLimitError ....... certops.errors: a plan trips a safety limit (exit 3)
    │   ├── StalePlanError ......... certops.errors: a saved plan no longer matches
    │   ├── PlanFileError .......... certops.plan.jsonio: a saved plan file cannot be read
    │   ├── AckFileError ........... certops.plan.ack: the ack file cannot be read
    │   ├── AuditLogError .......... certops.audit: the audit log cannot be written
    │   ├── AuditReadError ......... certops.history: an audit log cannot be read
    │   ├── LockTimeoutError ....... certops.lock: another writer kept the LMS's lock
    │   ├── FactsError ............. certops.engine.facts: inconsistent facts (a bug)
    │   ├── QueueError ............. certops.listen.queue: listen's queue file fails
    │   └── SandboxError ........... certops.sandbox.store: a sandbox file is not usable
    │
    │   Not shown to a person as such; each is answered or handled where it is raised:
    ├── ValueError
    │   ├── DeliveryError .......... certops.listen.envelope: not a webhook delivery
    │   │                            (listen answers 400)
    │   ├── FaultConfigError ....... certops.sandbox.faults: a bad fault-injection body
    │   └── ShapesError ............ certops.sandbox.shapes: an unknown response shape
    ├── ConnectionError
    │   └── ConnectionDropped ...... certops.sandbox.faults: a connection dropped on
    │                                purpose (fault injection)
    └── ApiError ................... certops.sandbox.envelope: the sandbox's Docebo-style
                                     error answer (HTTP status, message, field)
"""

from __future__ import annotations

from typing import Any


class CertopsError(Exception):
    """Base of every error certops reports to a user (exit code 1 unless stated)."""

    exit_code = 1


class ConfigError(CertopsError):
    """The configuration is invalid; carries every located problem."""

    def __init__(self, problems: list[Any]) -> None:  # list[certops.config.problems.Problem]
        self.problems = problems
        super().__init__(f"{len(problems)} configuration problem(s)")


class LMSError(CertopsError):
    """The LMS could not be reached or answered in a way certops cannot use.

    Its text never shows a secret: whatever a server put in it, every known secret is cut
    out (in every encoding) whenever the message is read."""

    def __str__(self) -> str:
        from certops.secrets import redact_known

        return redact_known(super().__str__())


class LMSAddressError(LMSError):
    """The ``--lms`` address is not usable (bad form, or a sandbox file that is missing)."""


class SafetyLimitError(CertopsError):
    """A plan trips a safety limit; nothing was applied (exit 3)."""

    exit_code = 3


class StalePlanError(CertopsError):
    """A saved plan no longer matches what a re-plan at its instant produces."""
