"""Where the audit trail is: ``--audit-dir`` (a folder of per-run files, as CI and
``listen`` keep it) beside ``--audit-log`` (one file)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

AUDIT_DIR_ENV = "CERTOPS_AUDIT_DIR"

audit_dir_option = click.option(
    "--audit-dir",
    "audit_dir",
    metavar="DIR",
    envvar=AUDIT_DIR_ENV,
    help="The audit trail as a folder of per-run files (each apply and each day of listen "
    "writes its own compressed file; every file in it is read). Where CI and listen keep "
    f"one trail. Env: {AUDIT_DIR_ENV}.",
)


def folder_files(folder: str) -> tuple[Path, ...]:
    """The log files of the audit folder ``folder``, or a usage error saying why not."""
    from certops.audit import AuditLogError, audit_files

    try:
        return audit_files(Path(folder))
    except AuditLogError as exc:
        raise click.UsageError(str(exc)) from None


def sources(logs: Sequence[str], folder: str | None, default: str) -> tuple[Path, ...]:
    """The files to read: the ``logs`` named, then the folder's; ``default`` when neither
    is given."""
    files = [Path(p) for p in logs]
    if folder:
        files += folder_files(folder)
    elif not files:
        files = [Path(default)]
    return tuple(files)
