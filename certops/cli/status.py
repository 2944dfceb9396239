"""``certops status USER``: is this person certified, and why? One learner, every product."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from typing import Any

import click

from certops.cli.options import at_option, lms_option, now_utc, resolve_lms
from certops.config import load_config
from certops.config.model import Config, due_day
from certops.engine.facts import LearnerFacts, collect_facts
from certops.engine.lifecycle import LearnerState, evaluate
from certops.live import read_learner
from certops.lms import connect
from certops.lms.records import User
from certops.plan.jsonio import iso_utc


def _due_date(deadline: datetime | None) -> str | None:
    return None if deadline is None else due_day(deadline).isoformat()


def _owed_extension(state: LearnerState) -> str | None:
    """The extension reason of the period owed ("" when none was given), None if none."""
    owed = [ob for ob in state.obligations if ob.period == state.owes]
    return owed[-1].extension if owed else None


def state_json(state: LearnerState) -> dict[str, Any]:
    """The DESIGN.md section 6 JSON of one product's status."""
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


async def _read(config: Config, lms: str, login: str):
    async with connect(lms) as reader:
        return await read_learner(reader, config, login)


def learner_states(
    config: Config, user: User, course_ids: dict[str, int], enrollments: list, at: datetime
) -> list[LearnerState]:
    """The learner's state in every configured product at ``at``."""
    codes_by_id = {cid: code for code, cid in course_ids.items()}
    states = []
    for product in config.products:
        facts = collect_facts(product, [user], enrollments, codes_by_id)
        mine = facts[0] if facts else LearnerFacts(user.username, user.id, user.active)
        states.append(evaluate(product, mine, at))
    return states


@click.command()
@click.argument("user")
@click.option(
    "--config",
    "paths",
    multiple=True,
    metavar="PATH",
    help="Configuration file or folder (default: ./certops/ or the current folder).",
)
@lms_option
@at_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def status(
    user: str, paths: tuple[str, ...], lms: str | None, at: datetime | None, output_format: str
) -> None:
    """USER's certification status per product (USER: username or e-mail), and why."""
    config = load_config(list(paths))
    when = at or now_utc()
    found, course_ids, enrollments = asyncio.run(_read(config, resolve_lms(lms), user))
    if found is None:
        click.echo(
            f"Error: no user {user!r} in the LMS (looked up by username and e-mail)", err=True
        )
        sys.exit(1)
    states = learner_states(config, found, course_ids, enrollments, when)
    if output_format == "json":
        doc = {
            "user": found.username,
            "active": found.active,
            "at": iso_utc(when),
            "products": {s.product: state_json(s) for s in states},
        }
        click.echo(json.dumps(doc, indent=2))
        return
    active = "" if found.active else " (deactivated)"
    click.echo(f"{found.username}{active} at {iso_utc(when)}")
    names = {p.id: p.name for p in config.products}
    for state in states:
        click.echo("\n".join(state_text(names[state.product], state.product, state)))
