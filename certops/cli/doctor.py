"""``certops doctor``: check an LMS for everything certops needs; ``--write-probe`` also
proves, on one probe course, which fields the tenant keeps."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from certops.address import LMSAddress
from certops.cli.options import lms_option, progress, resolve_lms
from certops.connection import connect_reader, connect_writer
from certops.errors import LMSAddressError
from certops.lms.doctor import Check, Outcome, run_checks
from certops.probe import PROBE_CODE, write_probe


async def _shapes(address: LMSAddress) -> dict[str, Any]:
    from certops.lms.shapes import record_shapes

    async with connect_reader(address, progress=progress) as reader:
        return await record_shapes(reader)


async def _probe(address: LMSAddress) -> list[Check]:
    async with connect_writer(address, progress=progress) as writer:
        return await write_probe(writer)


@click.command()
@lms_option
@click.option(
    "--write-probe",
    is_flag=True,
    help=(
        f"Also write to the LMS: create (once) or update the unpublished course {PROBE_CODE}, "
        "set every course field certops manages, enroll the API user with a validity window, "
        "and report field by field what the tenant kept. Never deletes anything."
    ),
)
@click.option(
    "--shapes",
    "shapes_file",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    metavar="FILE",
    help="Also write the shapes of the tenant's answers to FILE (field names, types and "
    "formats; no value: no name, e-mail, id or code), to attach to a bug report.",
)
def doctor(lms: str | None, write_probe: bool, shapes_file: str | None) -> None:
    """Check credentials, token, every endpoint certops uses, permissions and fields.

    Prints one line per check (ok, FAIL with the fix, warn, skipped); exits 1 if any fails.
    Without --write-probe it only reads.
    """
    try:
        address = resolve_lms(lms)
    except LMSAddressError as exc:
        _show([Check("address", Outcome.FAIL, str(exc))])  # exits 1
        return
    checks = asyncio.run(
        run_checks(address, connector=lambda a: connect_reader(a, progress=progress))
    )
    reachable = not any(
        c.failed and c.name in ("address", "connect", "credentials", "token") for c in checks
    )
    if write_probe:
        if reachable:
            checks += asyncio.run(_probe(address))
        else:
            checks.append(Check("write probe", Outcome.SKIPPED, "the LMS could not be reached"))
    if shapes_file is not None:
        if reachable:
            record = asyncio.run(_shapes(address))
            Path(shapes_file).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            answers = len(record["answers"])
            checks.append(
                Check("shapes file", Outcome.OK, f"{answers} answers written to {shapes_file}")
            )
        else:
            checks.append(Check("shapes file", Outcome.SKIPPED, "the LMS could not be reached"))
    _show(checks)


def _show(checks: list[Check]) -> None:
    """Prints one line per check; exits 1 if any failed."""
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
