"""``certops extend``, ``certops reinstate``, ``certops revoke``: exceptions from the command
line.

Each finds the file that defines the product, writes the entry into it (comments and
layout kept: ``certops.config.edit``), checks the whole configuration with the edit, and
prints what the edit changes in the plan at ``--at``. Learners are named by username or
e-mail address, on the command line or in a CSV file (``--users FILE``); every problem of
a run is reported at once, located, and then nothing is written.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from certops.address import LMSAddress
from certops.cli.files import replace_file
from certops.cli.options import (
    at_option,
    color_enabled,
    config_option,
    lms_option,
    now_utc,
    parse_instant,
    progress,
    resolve_lms,
)
from certops.config import load_config
from certops.config.edit import Edit, ExceptionEntry, add_exceptions
from certops.config.model import Config, Product
from certops.config.problems import Problem, did_you_mean, sort_problems
from certops.config.schema import fits, parse_date
from certops.engine.facts import LearnerFacts
from certops.engine.lifecycle import evaluate
from certops.engine.logins import email_index, username_of
from certops.engine.manual import current_period
from certops.errors import ConfigError
from certops.escape import visible
from certops.live import LiveSnapshot
from certops.plan.ack import AckFile, ack_path
from certops.plan.jsonio import iso_utc
from certops.plan.model import Plan
from certops.plan.render import render_text
from certops.run import PlanDifference, edit_difference, read_snapshot

# CSV columns: the option each fills (``at`` is the configuration's own name for ``from``).
COLUMNS = {"user", "period", "until", "from", "at", "reason"}
EXAMPLE_REASONS = {
    "extensions": "parental leave",
    "reinstatements": "fee paid, invoice 1234",
    "revocations": "misconduct",
}
KIND_WORDS = {
    "extensions": "extension",
    "reinstatements": "reinstatement",
    "revocations": "revocation",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One learner to write an exception for: the name given, its own values (from a CSV
    row; the options fill the rest) and where it was given."""

    name: str
    where: str  # FILE:LINE:COL, or "USER 'name'" for an argument
    values: dict[str, str] = field(default_factory=dict)
    columns: dict[str, int] = field(default_factory=dict)  # column of each CSV value


@dataclass(slots=True)
class _Problems:
    """The problems of one run, each where its learner was given: ``FILE:LINE:COL`` for a
    row of ``--users FILE``, the argument itself for a USER argument."""

    found: list[tuple[tuple[str, int, int], str]] = field(default_factory=list)

    def add(self, row: Row, message: str, column: str | None = None) -> None:
        file, line, col = _split_where(row.where)
        if not line:
            self.found.append(((file, 0, 0), f"{row.where}: {message}"))
            return
        if column is not None and column in row.columns:
            col = row.columns[column]
        self.found.append(((file, line, col), f"{file}:{line}:{col}: {message}"))

    def raise_any(self) -> None:
        """Print every problem (sorted) and stop the run, when there is one."""
        if not self.found:
            return
        for _, text in sorted(self.found):
            click.echo(visible(text), err=True)
        count = len(self.found)
        click.echo(
            f"Error: {count} problem{'s' if count != 1 else ''}; nothing was written.", err=True
        )
        raise click.exceptions.Exit(1)


def _split_where(where: str) -> tuple[str, int, int]:
    file, _, rest = where.rpartition(":")
    head, _, line = file.rpartition(":")
    if head and line.isdigit() and rest.isdigit():
        return head, int(line), int(rest)
    return where, 0, 0


def read_users_csv(path: str) -> list[Row]:
    """The learners of ``--users FILE``: one per line, or a CSV file whose first line
    names its columns (``user`` and any of ``period``, ``until``, ``from``/``at``,
    ``reason``). Blank lines and lines starting with ``#`` are skipped. Raises
    ``ConfigError`` with every located problem of the file."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        message = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([Problem(path, 1, 1, "", f"cannot read this file: {message}")]) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ConfigError([Problem(path, 1, 1, "", "no learner in this file")])
    first = _cells(lines[0][1])
    names = [cell.strip().lower() for cell, _ in first]
    header = "user" in names
    problems: list[Problem] = []
    for (cell, column), name in zip(first, names, strict=True):
        if header and name not in COLUMNS:
            problems.append(
                Problem(
                    path,
                    lines[0][0],
                    column,
                    "",
                    f"unknown column {cell.strip()!r}; expected user, period, until, from, reason",
                )
            )
    if not header and len(first) > 1:
        problems.append(
            Problem(
                path,
                lines[0][0],
                1,
                "",
                "several columns but no header: start the file with a line naming them, "
                "e.g. user,until,reason (columns: user, period, until, from, reason)",
            )
        )
    if header and len(set(names)) != len(names):
        problems.append(Problem(path, lines[0][0], 1, "", "a column is named twice"))
    rows: list[Row] = []
    for number, line in lines[1:] if header else lines:
        cells = _cells(line)
        if header and len(cells) > len(names):
            problems.append(
                Problem(
                    path,
                    number,
                    cells[len(names)][1],
                    "",
                    f"more cells than the {len(names)} columns the header names",
                )
            )
            continue
        if not header:
            cell, column = cells[0]
            rows.append(Row(cell.strip(), f"{path}:{number}:{column}"))
            continue
        values = {names[i]: cell.strip() for i, (cell, _) in enumerate(cells) if cell.strip()}
        columns = {names[i]: column for i, (_, column) in enumerate(cells)}
        if "at" in values and "from" not in values:
            values["from"] = values.pop("at")
            columns["from"] = columns.get("at", 1)
        user = values.pop("user", "")
        where = f"{path}:{number}:{columns.get('user', 1)}"
        if not user:
            problems.append(Problem(path, number, columns.get("user", 1), "", "no user"))
            continue
        rows.append(Row(user, where, values, columns))
    if problems:
        raise ConfigError(sort_problems(problems))
    return rows


def _cells(line: str) -> list[tuple[str, int]]:
    """The cells of one CSV line and the column (1-based) each starts at."""
    values = next(csv.reader(io.StringIO(line)), [])
    starts = [1]
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            starts.append(i + 2)
    return list(zip(values, starts, strict=False)) or [("", 1)]


@dataclass(frozen=True, slots=True)
class Options:
    """What the options say, for every learner that does not say otherwise."""

    kind: str  # extensions, reinstatements, revocations
    reason: str | None
    period: str | None = None
    until: str | None = None
    effective: str | None = None  # --from


def _resolve(
    config: Config,
    product: Product,
    rows: Sequence[Row],
    options: Options,
    live: LiveSnapshot,
    at: datetime,
) -> list[ExceptionEntry]:
    """The entries to write, one per row; with any problem, prints them all and stops the
    run (exit 1) before anything is written."""
    problems = _Problems()
    emails = email_index(live.users_by_id.values())
    users = {u.username: u for u in live.users_by_id.values()}
    facts = {f.username: f for f in live.learner_facts(product)}
    entries: list[ExceptionEntry] = []
    for row in rows:
        values = {**_defaults(options), **row.values}
        username = username_of(row.name, live.user_ids, emails)
        if username is None:
            problems.add(
                row,
                f"no user '{row.name}' in the LMS (looked up by username and e-mail)"
                + did_you_mean(row.name, live.user_ids),
                "user",
            )
            continue
        reason = values.get("reason", "").strip()
        if not reason:
            problems.add(
                row,
                f"no reason for {username}: every {KIND_WORDS[options.kind]} says why it was "
                'granted (--reason "..."' + (", or a reason column)" if row.columns else ")"),
            )
            continue
        if not fits("reason", reason):
            problems.add(row, "the reason is longer than 1000 characters", "reason")
            continue
        if not fits("username", username):
            problems.add(row, f"the configuration cannot hold the username {username!r}")
            continue
        aliases = frozenset({users[username].email} - {""})
        if options.kind == "extensions":
            entry = _extension(product, row, values, username, reason, aliases, facts, at, problems)
        else:
            entry = _dated(options.kind, row, values, username, reason, aliases, at, problems)
        if entry is not None:
            entries.append(entry)
    problems.raise_any()
    return entries


def _defaults(options: Options) -> dict[str, str]:
    values = {
        "period": options.period,
        "until": options.until,
        "from": options.effective,
        "reason": options.reason,
    }
    return {key: value for key, value in values.items() if value is not None}


def _extension(
    product: Product,
    row: Row,
    values: dict[str, str],
    username: str,
    reason: str,
    aliases: frozenset[str],
    facts: dict[str, LearnerFacts],
    at: datetime,
    problems: _Problems,
) -> ExceptionEntry | None:
    text = values.get("until")
    if not text:
        problems.add(row, f"no date for {username}'s extension: --until YYYY-MM-DD")
        return None
    try:
        until = parse_date(text)
    except ValueError:
        problems.add(row, f"until {text!r} is not a date; expected YYYY-MM-DD", "until")
        return None
    period_id = values.get("period") or _owed_period(product, facts.get(username), at)
    period = product.period(period_id) if period_id else None
    if period is None:
        known = ", ".join(p.id for p in product.maintenance.periods)
        problems.add(
            row,
            f"product '{product.id}' has no period '{period_id}' (periods: {known})"
            + did_you_mean(period_id or "", [p.id for p in product.maintenance.periods]),
            "period",
        )
        return None
    if until < period.due:
        problems.add(
            row,
            f"until {until} is before period '{period.id}' is due ({period.due}); an "
            "extension can only move a deadline later",
            "until",
        )
        return None
    return ExceptionEntry(
        "extensions", username, reason, period=period.id, until=until, aliases=aliases
    )


def _owed_period(product: Product, facts: LearnerFacts | None, at: datetime) -> str | None:
    """The period the learner owes at ``at``, else the product's current period."""
    if facts is not None:
        owes = evaluate(product, facts, at).owes
        if owes is not None:
            return owes
    period = current_period(product, at)
    return period.id if period is not None else None


def _dated(
    kind: str,
    row: Row,
    values: dict[str, str],
    username: str,
    reason: str,
    aliases: frozenset[str],
    at: datetime,
    problems: _Problems,
) -> ExceptionEntry | None:
    text = values.get("from")
    when = at
    if text:
        try:
            when = parse_instant(text)
        except click.BadParameter as exc:
            problems.add(row, f"from: {exc.message}", "from")
            return None
    return ExceptionEntry(kind, username, reason, at=when, aliases=aliases)


def _product(config: Config, product_id: str | None) -> Product:
    if product_id is None:
        if len(config.products) == 1:
            return config.products[0]
        known = ", ".join(p.id for p in config.products)
        raise click.UsageError(f"name the product with --product ID (configured: {known})")
    product = config.product(product_id)
    if product is None:
        known = ", ".join(p.id for p in config.products)
        raise click.UsageError(f"unknown product {product_id} (configured: {known})")
    return product


def _described(entry: ExceptionEntry) -> str:
    if entry.kind == "extensions":
        assert entry.until is not None
        return (
            f"extension of {entry.user}: period {entry.period} until "
            f"{entry.until.isoformat()} ({entry.reason})"
        )
    assert entry.at is not None
    return f"{KIND_WORDS[entry.kind]} of {entry.user} from {iso_utc(entry.at)} ({entry.reason})"


def _show(edit: Edit, difference: PlanDifference, no_color: bool) -> None:
    for word, entries in (
        ("added", edit.added),
        ("updated", edit.updated),
        ("already there", edit.unchanged),
    ):
        for entry in entries:
            click.echo(visible(f"{edit.file}: {word}: {_described(entry)}"))
    plan = difference.plan
    if difference.empty:
        click.echo(f"The plan at {iso_utc(plan.at)} does not change.")
        return
    click.echo(f"\nWhat this changes in the plan at {iso_utc(plan.at)}:")
    if plan.changes or plan.warnings:
        click.echo(render_text(plan, color=color_enabled(no_color)).rstrip("\n"))
    for change in difference.dropped:
        click.echo(visible(f"  no longer planned: {change.address} ({change.reason})"))


def run_exceptions(
    options: Options,
    names: tuple[str, ...],
    users_file: str | None,
    product_id: str | None,
    config_paths: tuple[str, ...],
    lms: str | None,
    at: datetime | None,
    no_color: bool,
) -> None:
    """The three commands' one way: rows, checks, the edit, the plan difference, write."""
    rows = [Row(name, f"USER {name!r}") for name in names]
    if users_file:
        rows += read_users_csv(users_file)
    if not rows:
        raise click.UsageError("name at least one USER (or --users FILE)")
    what = KIND_WORDS[options.kind]
    if options.reason is not None and not options.reason.strip():
        raise click.BadParameter(
            f"must not be blank: say why the {what} is granted", param_hint="--reason"
        )
    if options.reason is None and any(not row.columns for row in rows):
        raise click.UsageError(
            f"--reason is required: every {what} says why it was granted, e.g. --reason "
            f'"{EXAMPLE_REASONS[options.kind]}" (or a reason column in --users FILE)'
        )
    config = load_config(list(config_paths))
    product = _product(config, product_id)
    when = at or now_utc()
    target = resolve_lms(lms)
    live = asyncio.run(_read(config, target))
    entries = _resolve(config, product, rows, options, live, when)
    assert product.location is not None
    file = product.location.file
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
    edit = add_exceptions(file, text, product.id, entries)
    if not edit.changed:
        _show(edit, PlanDifference(_empty(live, when), ()), no_color)
        return
    try:
        edited = load_config(list(config_paths), {file: edit.text})
    except ConfigError:
        progress(f"the edit would leave the configuration invalid, so {file} is unchanged:")
        raise
    acks = AckFile.load(ack_path(config.files))
    difference = edit_difference(config, edited, live, when, acks)
    replace_file(edit.file, edit.text)
    _show(edit, difference, no_color)


def _empty(live: LiveSnapshot, at: datetime) -> Plan:
    return Plan(at=at, lms=live.lms, changes=())


async def _read(config: Config, lms: LMSAddress) -> LiveSnapshot:
    return await read_snapshot(config, lms, progress=progress)


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--no-color", is_flag=True, help="Never colour the output.")(f)
    f = at_option(f)
    f = lms_option(f)
    f = config_option(f)
    f = click.option(
        "--product",
        "product_id",
        metavar="ID",
        help="The product (needed when the configuration has more than one).",
    )(f)
    f = click.option(
        "--users",
        "users_file",
        metavar="FILE",
        help="Also every learner in FILE: one username or e-mail per line, or CSV whose first "
        "line names its columns (user, and any of period, until, from, reason; a row's own "
        "values win over the options).",
    )(f)
    f = click.option(
        "--reason",
        metavar="TEXT",
        help="Why (required: here, or a reason column in --users FILE).",
    )(f)
    return click.argument("users", nargs=-1, metavar="[USER]...")(f)


@click.command()
@click.option("--period", metavar="ID", help="The period (default: the one the learner owes).")
@click.option("--until", metavar="DATE", help="The new last day, YYYY-MM-DD (inclusive, UTC).")
@_common
def extend(
    users: tuple[str, ...],
    reason: str | None,
    users_file: str | None,
    product_id: str | None,
    config_paths: tuple[str, ...],
    lms: str | None,
    at: datetime | None,
    no_color: bool,
    period: str | None,
    until: str | None,
) -> None:
    """Give USER... more time for one period: write an extension into the configuration.

    USER is a username or e-mail address. The entry goes into the file that defines the
    product (comments and layout kept), the configuration is checked with it, and what it
    changes in the plan at --at is shown. Nothing is written to the LMS: apply does that.
    """
    run_exceptions(
        Options("extensions", reason, period=period, until=until),
        users,
        users_file,
        product_id,
        config_paths,
        lms,
        at,
        no_color,
    )


@click.command()
@click.option(
    "--from",
    "effective",
    metavar="TIME",
    help="When the learner is certified again (ISO 8601; default: --at, now).",
)
@_common
def reinstate(
    users: tuple[str, ...],
    reason: str | None,
    users_file: str | None,
    product_id: str | None,
    config_paths: tuple[str, ...],
    lms: str | None,
    at: datetime | None,
    no_color: bool,
    effective: str | None,
) -> None:
    """Certify USER... again (after a lapse or a revocation): write a reinstatement into
    the configuration.

    USER is a username or e-mail address. The entry goes into the file that defines the
    product (comments and layout kept), the configuration is checked with it, and what it
    changes in the plan at --at is shown. Nothing is written to the LMS: apply does that.
    """
    run_exceptions(
        Options("reinstatements", reason, effective=effective),
        users,
        users_file,
        product_id,
        config_paths,
        lms,
        at,
        no_color,
    )


@click.command()
@click.option(
    "--from",
    "effective",
    metavar="TIME",
    help="When the certification ends (ISO 8601; default: --at, now).",
)
@_common
def revoke(
    users: tuple[str, ...],
    reason: str | None,
    users_file: str | None,
    product_id: str | None,
    config_paths: tuple[str, ...],
    lms: str | None,
    at: datetime | None,
    no_color: bool,
    effective: str | None,
) -> None:
    """Withdraw USER...'s certification: write a revocation into the configuration.

    USER is a username or e-mail address. The entry goes into the file that defines the
    product (comments and layout kept), the configuration is checked with it, and what it
    changes in the plan at --at is shown. Nothing is written to the LMS: apply does that.
    """
    run_exceptions(
        Options("revocations", reason, effective=effective),
        users,
        users_file,
        product_id,
        config_paths,
        lms,
        at,
        no_color,
    )
