"""certops' exception hierarchy: one small family per area, messages people can act on."""

from __future__ import annotations


class CertopsError(Exception):
    """Base of every error certops reports to a user (exit code 1 unless stated)."""

    exit_code = 1


class ConfigError(CertopsError):
    """The configuration is invalid; carries every located problem."""

    def __init__(self, problems: list) -> None:  # list[certops.config.problems.Problem]
        self.problems = problems
        super().__init__(f"{len(problems)} configuration problem(s)")


class LMSError(CertopsError):
    """The LMS could not be reached or answered in a way certops cannot use.

    Its text never shows a secret: whatever a server put in it, every known secret is cut
    out (in every encoding) whenever the message is read."""

    def __str__(self) -> str:
        from certops.secrets import redact_known

        return redact_known(super().__str__())


class SafetyLimitError(CertopsError):
    """A plan trips a safety limit; nothing was applied (exit 3)."""

    exit_code = 3


class StalePlanError(CertopsError):
    """A saved plan no longer matches what a re-plan at its instant produces."""
