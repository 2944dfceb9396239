"""``certops doctor``: check an LMS for everything certops needs (never writes)."""

from __future__ import annotations

import asyncio
import sys

import click

from certops.cli.options import lms_option, progress, resolve_lms
from certops.lms import connect
from certops.lms.doctor import run_checks


@click.command()
@lms_option
def doctor(lms: str | None) -> None:
    """Check credentials, token, every endpoint certops uses, permissions and fields.

    Prints one line per check (ok, FAIL with the fix, warn, skipped); exits 1 if any fails.
    """
    address = resolve_lms(lms)
    checks = asyncio.run(run_checks(address, connector=lambda a: connect(a, progress=progress)))
    for check in checks:
        line = f"{check.outcome.value:<7} {check.name}"
        if check.detail:
            line += f": {check.detail}"
        click.echo(line)
    failed = sum(c.failed for c in checks)
    if failed:
        click.echo(f"{failed} check(s) failed.", err=True)
        sys.exit(1)
    click.echo("certops can work with this LMS.", err=True)
