"""``certops validate [PATH...]``: load and check configuration; needs no LMS.

Exit 0 with a one-line summary on stdout when valid; exit 1 with every problem as
``FILE:LINE:COL: message`` (or a JSON list with ``--format json``) otherwise.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from certops.address import LMSAddress, parse_address
from certops.cli.options import config_option, progress
from certops.config import load_config
from certops.config.model import Config
from certops.errors import ConfigError

if TYPE_CHECKING:
    from certops.plan.model import PlanWarning


@click.command()
@click.argument("paths", nargs=-1)
@config_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one FILE:LINE:COL: message per line; json: a list of "
    "{file, line, column, path, message}.",
)
@click.option(
    "--lms",
    "lms",
    default=None,
    metavar="URL",
    help="Also check that every username and initial course code the configuration names "
    "exists in this LMS (https://TENANT.docebosaas.com or sandbox:PATH; read only).",
)
def validate(
    paths: tuple[str, ...], config_paths: tuple[str, ...], output_format: str, lms: str | None
) -> None:
    """Load and check configuration in PATH... (files or folders); needs no LMS.

    With no PATH: ./certops/ if it exists, else the current folder. With --lms, the users
    and courses it names are also looked up in that LMS.
    """
    try:
        config = load_config([*paths, *config_paths])
        warnings = []
        if lms:
            import asyncio  # only with --lms: a plain validate starts as fast as it can

            warnings = asyncio.run(_check_lms(config, parse_address(lms)))
    except ConfigError as exc:
        if output_format == "json":
            click.echo(json.dumps([p.to_json() for p in exc.problems], indent=2))
        else:
            for problem in exc.problems:
                click.echo(str(problem))
        count = len(exc.problems)
        click.echo(f"Invalid: {count} problem{'s' if count != 1 else ''}.", err=True)
        # sys.exit, not ctx.exit: the entry point runs click with standalone_mode=False,
        # where click turns ctx.exit into a return value that main() does not use.
        sys.exit(1)
    for warning in warnings:
        click.echo(f"warning: {warning.message}", err=True)
    if output_format == "json":
        click.echo("[]")
    else:
        click.echo(summary(config))
        for line in unchecked(config, lms):
            click.echo(line)


async def _check_lms(config: Config, lms: LMSAddress) -> list[PlanWarning]:
    """The reference warnings of ``config`` against ``lms``; raises ``ConfigError``."""
    # Only with --lms: a plain validate (a pre-commit hook, an editor) loads no client.
    from certops.connection import connect_reader
    from certops.live import read_live
    from certops.references import verify_references

    async with connect_reader(lms, progress=progress) as reader:
        live = await read_live(reader, config, progress=progress)
    return verify_references(config, live)


def summary(config: Config) -> str:
    """Returns the one-line summary of a valid configuration, e.g.
    ``Valid: 3 products, 8 courses, 7 periods in 3 files.``"""
    products = len(config.products)
    # Courses certops manages: certified and maintenance courses (initial training courses
    # already exist and are only referenced).
    periods = sum(len(p.maintenance.periods) for p in config.products)
    courses = products + periods
    files = len(config.files)
    return (
        f"Valid: {_count(products, 'product')}, {_count(courses, 'course')}, "
        f"{_count(periods, 'period')} in {_count(files, 'file')}."
    )


def unchecked(config: Config, lms: str | None) -> list[str]:
    """What this run checked against an LMS, or did not, in words: the usernames and
    initial course codes (only with --lms), and the names no API can check."""
    from certops.config.refs import references

    refs = references(config)
    users = len({r.value for r in refs if r.is_user})
    codes = len({r.value for r in refs if not r.is_user})
    names = f"{_count(users, 'username')} and {_count(codes, 'initial course code')}"
    lines = [
        f"Checked in {lms}: the {names} it names exist there."
        if lms
        else f"Not checked: that the {names} it names exist in the LMS (add --lms URL)."
    ]
    manual = [
        ref.name
        for p in config.products
        for ref in (
            p.enrollment_rule,
            p.notifications.learner_enrolled,
            p.notifications.admin_certified,
            p.notifications.digest,
        )
        if ref is not None
    ]
    if manual:
        named = _count(len(set(manual)), "enrollment rule and notification name")
        lines.append(
            f"Not checked anywhere: the {named} (Docebo has no API for them; the plan lists "
            "them as manual steps)."
        )
    return lines


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
