"""``certops history USER``: what certops did to one learner, when, and why, from the
audit log(s). Needs no LMS and no configuration: the LMS is asked only to find the
username of a learner named by e-mail address, and the configuration (``--config``) only
to check ``--product``."""

from __future__ import annotations

import json
from typing import Any

import click

from certops.cli.auditopts import audit_dir_option, sources
from certops.cli.options import config_option, lms_option, progress, resolve_lms
from certops.history import (
    DEFAULT_AUDIT_LOG,
    LISTEN_DIGEST,
    HistoryEntry,
    learner_history,
    read_logs,
)


def _values(values: Any) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in values.items())


def entry_text(entry: HistoryEntry) -> list[str]:
    """Lines for one entry: what changed, then why, when, by whom and from which config."""
    if entry.action == "create":
        what = f"created {entry.course} enrollment ({_values(entry.after)})"
    else:
        fields = sorted(set(entry.before) | set(entry.after))
        changed = ", ".join(
            f"{k}: {json.dumps(entry.before.get(k))} → {json.dumps(entry.after.get(k))}"
            for k in fields
        )
        what = f"updated {entry.course} enrollment ({changed})"
    if entry.result != "applied":
        what += f" [{entry.result}" + (f": {entry.message}" if entry.message else "") + "]"
    when = f"at {entry.at}" if entry.at else "at an unrecorded instant"
    head = f"{entry.time}  {entry.product or '-'}: {what}"
    lines = [head, f"    why: {entry.reason or '(no reason recorded)'}"]
    detail = f"    {when}"
    if entry.change_class:
        detail += f", {entry.change_class}"
    if entry.plan_digest == LISTEN_DIGEST:
        # listen wrote it because of webhook messages, not from a plan.
        messages = ", ".join(entry.messages) or "?"
        detail += f", by {entry.actor or '?'}, webhook message {messages}"
    else:
        detail += f", by {entry.actor or '?'}, plan {entry.plan_digest[:19] or '?'}"
    if entry.commit:
        detail += f", config {entry.commit[:12]}" + (" (uncommitted edits)" if entry.dirty else "")
    lines.append(detail)
    return lines


@click.command()
@click.argument("user")
@click.option(
    "--product",
    "products",
    multiple=True,
    metavar="ID",
    help="Only this product's changes (repeatable).",
)
@click.option(
    "--log",
    "logs",
    multiple=True,
    metavar="FILE",
    help=f"An audit log to read (repeatable; default {DEFAULT_AUDIT_LOG}). Several logs "
    "merge in time order, e.g. one per CI runner or year.",
)
@audit_dir_option
@click.option("--format", "output_format", type=click.Choice(("text", "json")), default="text")
@config_option
@lms_option
def history(
    user: str,
    products: tuple[str, ...],
    logs: tuple[str, ...],
    audit_dir: str | None,
    output_format: str,
    config_paths: tuple[str, ...],
    lms: str | None,
) -> None:
    """What certops did to USER's enrollments: each change, the instant it evaluated,
    the wall time, why (the plan's reason and class), who ran it and the config revision.

    USER is a username or an e-mail address (looked up in the LMS when no log line names
    it). With --config, --product is checked against the configuration."""
    if config_paths:
        from certops.cli.report import check_products
        from certops.config import load_config

        check_products(load_config(list(config_paths)), products)
    paths = [str(p) for p in sources(logs, audit_dir, DEFAULT_AUDIT_LOG)]
    read = read_logs(paths)
    entries = learner_history(read, user, products)
    if not entries and "@" in user:
        username = _username(user, lms)
        if username is None:
            raise click.ClickException(
                f"no user {user!r} in the LMS (looked up by username and e-mail)"
            )
        user = username
        entries = learner_history(read, user, products)
    if output_format == "json":
        data = {
            "user": user,
            "logs": list(paths),
            "entries": [e.to_dict() for e in entries],
            "skipped_lines": read.skipped,
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if not entries:
        scope = f" in {', '.join(products)}" if products else ""
        where = audit_dir if audit_dir and not logs else ", ".join(paths)
        click.echo(f"certops changed nothing for {user}{scope} in {where}.")
    for entry in entries:
        click.echo("\n".join(entry_text(entry)))
    if read.skipped:
        click.echo(
            f"({read.skipped} line(s) of the log(s) were not JSON objects and were skipped)",
            err=True,
        )


def _username(login: str, lms: str | None) -> str | None:
    """The username of the LMS user whose username or e-mail is ``login``, or None."""
    import asyncio

    from certops.connection import connect_reader

    async def find() -> str | None:
        async with connect_reader(resolve_lms(lms), progress=progress) as reader:
            found = await reader.find_user(login)
        return None if found is None else found.username

    return asyncio.run(find())
