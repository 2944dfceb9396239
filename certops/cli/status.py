"""``certops status USER...``: is this person certified, and why? Every product."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from certops.address import LMSAddress
from certops.cli.options import at_option, lms_option, now_utc, resolve_lms
from certops.config import load_config
from certops.config.model import Config, due_day
from certops.connection import connect_reader
from certops.engine.lifecycle import LearnerState
from certops.escape import visible
from certops.live import Learners
from certops.plan.jsonio import iso_utc
from certops.report.csvfmt import write_csv
from certops.report.rows import learner_rows
from certops.run import learner_states, read_status


def _due_date(deadline: datetime | None) -> str | None:
    return None if deadline is None else due_day(deadline).isoformat()


def _owed_extension(state: LearnerState) -> str | None:
    """The extension reason of the period owed ("" when none was given), None if none."""
    owed = [ob for ob in state.obligations if ob.period == state.owes]
    return owed[-1].extension if owed else None


def state_json(state: LearnerState) -> dict[str, Any]:
    """The JSON of one product's status (documented in README)."""
    return {
        "state": state.state.value,
        "since": iso_utc(state.since) if state.since else None,
        "path": state.path,
        "owes": state.owes,
        "deadline": _due_date(state.deadline),
        "deadline_at": iso_utc(state.deadline) if state.deadline else None,
        "extension": _owed_extension(state) if state.owes else None,
        "needs_review": state.needs_review,
        "history": [
            {"at": iso_utc(tr.at), "state": tr.state.value, "reason": tr.reason}
            for tr in state.history
        ],
    }


def state_text(product_name: str, product_id: str, state: LearnerState) -> list[str]:
    """Human lines for one product's status."""
    head = f"{product_name} ({product_id}): {state.state.value}"
    if state.since:
        head += f" since {iso_utc(state.since)}"
    if state.path:
        head += f", path {state.path}"
    lines = [head]
    if state.owes:
        line = f"  owes period {state.owes}, due {_due_date(state.deadline)} (UTC)"
        extension = _owed_extension(state)
        if extension is not None:
            line += f", extended ({extension})" if extension else ", extended"
        lines.append(line)
    if state.needs_review:
        lines.append(f"  needs review: {state.needs_review}")
    for tr in state.history:
        lines.append(f"  {iso_utc(tr.at)}  {tr.state.value:<10} {tr.reason}")
    return lines


async def _read(config: Config, lms: LMSAddress, logins: list[str]) -> Learners:
    # ``connect_reader`` is looked up here, at call time: tests wrap this module's.
    return await read_status(config, lms, logins, connect=lambda *a, **kw: connect_reader(*a, **kw))


def read_users_file(path: str) -> list[str]:
    """The logins of ``--users FILE``: one per line; blank lines and ``#`` comments skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc.strerror or exc}", param_hint="--users"
        ) from None
    logins = []
    for line in text.splitlines():
        login = line.split("#", 1)[0].strip()
        if login:
            logins.append(login)
    return logins


@click.command()
@click.argument("users", nargs=-1)
@click.option(
    "--users",
    "users_file",
    metavar="FILE",
    help="Also every user listed in FILE (one username or e-mail per line, # comments).",
)
@click.option(
    "--config",
    "paths",
    multiple=True,
    metavar="PATH",
    help="Configuration file or folder (default: ./certops/ or the current folder).",
)
@lms_option
@at_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    help="csv: one row per user and product, the columns of `certops report`.",
)
def status(
    users: tuple[str, ...],
    users_file: str | None,
    paths: tuple[str, ...],
    lms: str | None,
    at: datetime | None,
    output_format: str,
) -> None:
    """Each USER's certification status per product (USER: username or e-mail), and why."""
    logins = list(users) + (read_users_file(users_file) if users_file else [])
    if not logins:
        raise click.UsageError("name at least one USER (or --users FILE)")
    config = load_config(list(paths))
    when = at or now_utc()
    read = asyncio.run(_read(config, resolve_lms(lms), logins))
    if read.missing:
        missing = ", ".join(repr(login) for login in read.missing)
        click.echo(
            f"Error: no user {missing} in the LMS (looked up by username and e-mail)", err=True
        )
        sys.exit(1)
    if output_format == "csv":
        rows = learner_rows(config, read.users, read.course_ids, read.enrollments, when)
        write_csv(rows, sys.stdout)
        sys.stdout.flush()
        return
    enrollments = list(read.enrollments)
    docs = []
    texts = []
    names = {p.id: p.name for p in config.products}
    for found in read.users:
        states = learner_states(config, found, read.course_ids, enrollments, when)
        if output_format == "json":
            docs.append(
                {
                    "user": found.username,
                    "active": found.active,
                    "at": iso_utc(when),
                    "products": {s.product: state_json(s) for s in states},
                }
            )
            continue
        active = "" if found.active else " (deactivated)"
        lines = [f"{found.username}{active} at {iso_utc(when)}"]
        for state in states:
            lines += state_text(names[state.product], state.product, state)
        # Names and reasons hold tenant text: no escape sequence reaches the terminal.
        texts.append("\n".join(visible(line) for line in lines))
    if output_format == "json":
        # One user: the document itself, as always; several: a list of them.
        click.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    else:
        click.echo("\n\n".join(texts))
