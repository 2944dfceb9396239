"""``certops import``: write configuration for what a tenant already has (reads only)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click

from certops.address import LMSAddress
from certops.adopt import Hints, Imported, import_tenant
from certops.adopt.yamlout import summary_lines
from certops.cli.options import (
    Limits,
    at_option,
    limits_options,
    lms_option,
    now_utc,
    progress,
    resolve_lms,
)
from certops.config import load_config
from certops.connection import connect_reader
from certops.history import (
    DEFAULT_AUDIT_LOG,
    AuditReadError,
    StatusWrite,
    last_status_writes,
    read_logs,
)


def _pairs(values: tuple[str, ...], option: str, need_name: bool) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict (``VALUE`` alone is ``"" -> VALUE`` when allowed)."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep:
            if need_name:
                raise click.UsageError(f"{option} {value}: expected NAME=VALUE")
            name, rest = "", value
        if sep and (not name.strip() or not rest.strip()):
            raise click.UsageError(f"{option} {value}: expected NAME=VALUE, both non-empty")
        out[name.strip()] = rest.strip()
    return out


async def _read(
    lms: LMSAddress,
    hints: Hints,
    at: datetime,
    out: str,
    limits: Limits,
    writes: Sequence[StatusWrite],
) -> Imported:
    async with connect_reader(lms, progress=progress, **limits.connect_kwargs()) as reader:
        return await import_tenant(reader, hints, at, out, progress=progress, writes=writes)


def _status_writes(logs: tuple[str, ...]) -> tuple[StatusWrite, ...]:
    """The status writes of the audit logs (none when there is no log: a tenant certops
    never managed has none)."""
    try:
        read = read_logs(logs or (DEFAULT_AUDIT_LOG,), missing_ok=True)
    except AuditReadError as exc:
        progress(f"{exc}; the decisions certops applied are read from the LMS data only")
        return ()
    return last_status_writes(read)


@click.command(name="import")
@lms_option
@limits_options
@at_option
@click.option("--out", "out", required=True, metavar="DIR", help="Write the configuration here.")
@click.option(
    "--product",
    "products",
    multiple=True,
    metavar="NAME=GROUP",
    help="A product whose group is not named 'Certified: NAME' (repeatable).",
)
@click.option(
    "--certified-course",
    "certified",
    multiple=True,
    metavar="[NAME=]CODE",
    help="A certified course not named 'Certified: NAME' (repeatable; NAME may be left out "
    "when only one product lacks one).",
)
@click.option("--force", is_flag=True, help="Overwrite YAML files already in DIR.")
@click.option(
    "--audit-log",
    "audit_logs",
    multiple=True,
    metavar="FILE",
    envvar="CERTOPS_AUDIT_LOG",
    help="certops' audit log(s) for this LMS (repeatable; default "
    f"{DEFAULT_AUDIT_LOG}; a missing file is fine): the revocations and reinstatements "
    "certops applied are kept with their reasons, which no LMS holds.",
)
def import_(
    lms: str | None,
    at: datetime | None,
    out: str,
    products: tuple[str, ...],
    certified: tuple[str, ...],
    force: bool,
    audit_logs: tuple[str, ...],
    limits: Limits,
) -> None:
    """Write configuration (one YAML file per product, settings and the JSON Schema) for the
    certification programs the LMS already has. Reads only; never writes to the LMS.

    Products come from automatic groups named 'Certified: NAME' whose rules are course
    completions, from courses named 'Certified: NAME' and 'NAME: Maintenance of
    Certification YYYY'. Exceptions granted by hand (extended deadlines, reinstatements,
    suspensions) are read from the learners' data, each with a reason saying it was
    imported and must be confirmed. What has no API gets a marked placeholder.
    """
    folder = Path(out)
    existing = sorted(folder.glob("*.y*ml")) if folder.is_dir() else []
    if existing and not force:
        raise click.UsageError(
            f"{out} already holds {', '.join(p.name for p in existing[:3])}"
            f"{' ...' if len(existing) > 3 else ''}; choose an empty folder or pass --force"
        )
    hints = Hints(
        groups=_pairs(products, "--product", need_name=True),
        certified=_pairs(certified, "--certified-course", need_name=False),
    )
    when = at or now_utc()
    try:
        writes = _status_writes(audit_logs)
        imported = asyncio.run(_read(resolve_lms(lms), hints, when, out, limits, writes))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not imported.drafts:
        raise click.ClickException(
            "found no certification product: no automatic group named 'Certified: NAME' "
            "and no course named 'Certified: NAME' or 'NAME: Maintenance of Certification "
            "YYYY'; name them with --product NAME=GROUP or --certified-course NAME=CODE"
        )
    # The output must validate before it is written: checked in a scratch folder first,
    # so that a problem (a bug, reported like any config error) leaves DIR untouched.
    with tempfile.TemporaryDirectory(prefix="certops-import-") as scratch:
        for name, text in imported.files.items():
            (Path(scratch) / name).write_text(text, encoding="utf-8")
        config = load_config([scratch])
    # And it must say what was read: every product loads back to exactly the product meant.
    meant = {d.product.id: d.product for d in imported.drafts}
    read_back = {p.id: p for p in config.products}
    differ = sorted(pid for pid, product in meant.items() if read_back.get(pid) != product)
    if differ:
        raise click.ClickException(
            f"import would write {', '.join(differ)} otherwise than read from the LMS (a bug "
            "in certops: please report it with the file `certops doctor --shapes FILE` "
            "writes); nothing was written"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in imported.files.items():
        (folder / name).write_text(text, encoding="utf-8")
    for line in summary_lines(imported.drafts):
        click.echo(line)
    for note in imported.left_out:
        click.echo(f"not imported: {note}", err=True)
    due = sum(imported.remaining.values())
    click.echo(
        f"Wrote {len(config.products)} product(s) to {out}/ (valid). Review every CONFIRM and "
        f"PLACEHOLDER comment, then: certops plan {out}"
        + (f" ({due} learner change(s) are due at this instant)" if due else "")
    )
