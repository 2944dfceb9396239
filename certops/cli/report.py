"""``certops report``: every learner × product at an instant, from one read of the LMS."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click

from certops.address import LMSAddress
from certops.cli.meter import Meter
from certops.cli.options import (
    Limits,
    at_option,
    config_option,
    limits_options,
    lms_option,
    now_utc,
    progress,
    resolve_lms,
)
from certops.config import load_config
from certops.config.model import Config
from certops.connection import connect_reader
from certops.live import LiveSnapshot
from certops.plan.jsonio import iso_utc
from certops.report.rows import Filters, ReportState, report_rows
from certops.run import read_snapshot

FORMATS = ("table", "csv", "json", "jsonl", "html")


async def _read(config: Config, lms: LMSAddress, limits: Limits, meter: Meter) -> LiveSnapshot:
    # The same reads as `certops plan`, and no others. ``connect_reader`` is looked up at
    # call time: tests and benchmarks wrap this module's.
    return await read_snapshot(
        config,
        lms,
        connect=lambda *a, **kw: connect_reader(*a, **kw),
        progress=meter,
        connect_kwargs={**limits.connect_kwargs(), "on_call": meter.call},
    )


@contextmanager
def output(out: str | None) -> Iterator[TextIO]:
    """``--out FILE`` (written whole or not at all) or stdout."""
    if out is None:
        yield sys.stdout
        sys.stdout.flush()  # rows are written straight to the stream, not through click.echo
        return
    path = Path(out)
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8", newline="") as sink:
            yield sink
        partial.replace(path)
    except OSError as exc:
        raise click.ClickException(
            f"cannot write the report to {out}: {exc.strerror or exc} "
            "(expected a writable file path)"
        ) from None
    finally:
        partial.unlink(missing_ok=True)


def check_products(config: Config, products: tuple[str, ...]) -> None:
    """Refuse an unknown ``--product`` before reading the LMS."""
    unknown = sorted(set(products) - {p.id for p in config.products})
    if unknown:
        known = ", ".join(p.id for p in config.products)
        raise click.UsageError(f"unknown product {', '.join(unknown)} (configured: {known})")


@click.command()
@click.argument("paths", nargs=-1)
@config_option
@lms_option
@limits_options
@at_option
@click.option(
    "--product", "products", multiple=True, metavar="ID", help="Only this product (repeatable)."
)
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in ReportState]),
    help="Only learners in this state (repeatable).",
)
@click.option(
    "--expiring-within",
    type=click.IntRange(min=0),
    metavar="DAYS",
    default=None,
    help="Only learners who owe a period due within DAYS days and have not completed it "
    "(html: the window of its expiring list, default 30).",
)
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="USER",
    help="Only this username or e-mail (repeatable).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Default: table on a terminal, csv otherwise.",
)
@click.option("--out", metavar="FILE", help="Write the report to FILE instead of stdout.")
def report(
    paths: tuple[str, ...],
    config_paths: tuple[str, ...],
    lms: str | None,
    at: datetime | None,
    products: tuple[str, ...],
    states: tuple[str, ...],
    expiring_within: int | None,
    users: tuple[str, ...],
    output_format: str | None,
    out: str | None,
    limits: Limits,
) -> None:
    """Every learner's certification status in every product, at one instant.

    One row per learner and product (state, since, owed period, deadline, days left,
    maintenance progress, extension, last reinstatement or revocation), from the same
    engine and the same LMS reads as `certops plan`. Never writes to the LMS.
    """
    config = load_config([*paths, *config_paths])
    check_products(config, products)
    chosen = output_format or ("table" if sys.stdout.isatty() and out is None else "csv")
    if chosen == "html" and (states or users):
        raise click.UsageError(
            "--state and --user select rows of a list; the HTML report covers whole "
            "products (use --product, and --expiring-within for its expiring list)"
        )
    when = at or now_utc()
    lms_address = resolve_lms(lms)
    with Meter() as meter:
        live = asyncio.run(_read(config, lms_address, limits, meter))
    filters = Filters(
        products=products,
        states=tuple(ReportState(s) for s in states),
        expiring_within=expiring_within,
        users=users,
    )
    with output(out) as sink:
        count = _write(chosen, config, live, when, filters, sink)
    if out is not None:
        rows = "" if chosen == "html" else f" ({count:,} rows)"
        progress(f"report saved to {out}{rows}")


def _write(
    chosen: str,
    config: Config,
    live: LiveSnapshot,
    when: datetime,
    filters: Filters,
    sink: TextIO,
) -> int:
    rows = report_rows(config, live, when, filters)
    if chosen == "csv":
        from certops.report.csvfmt import write_csv

        return write_csv(rows, sink)
    if chosen == "json":
        from certops.report.jsonfmt import ReportHeader, write_json

        return write_json(ReportHeader(when, live.lms, config, filters), rows, sink)
    if chosen == "jsonl":
        from certops.report.jsonlfmt import write_jsonl

        return write_jsonl(rows, sink)
    if chosen == "table":
        from rich.console import Console

        from certops.report.table import render_table

        # Piped or saved, a table is as wide as its rows; on a terminal, the terminal's width.
        width = None if sink.isatty() else 240
        console = Console(file=sink, highlight=False, soft_wrap=False, width=width)
        return render_table(rows, console, title=f"Certification status at {iso_utc(when)}")
    from certops.report.html import render_html
    from certops.report.summary import DEFAULT_EXPIRING_DAYS, summarize

    days = DEFAULT_EXPIRING_DAYS if filters.expiring_within is None else filters.expiring_within
    say = _now_and_then(progress)
    summaries = summarize(
        config, live, when, products=filters.products, expiring_days=days, progress=say
    )
    sink.write(render_html(summaries, at=when, lms=live.lms, expiring_days=days, progress=say))
    return 0


def _now_and_then(say: Callable[[str], None], seconds: float = 2.0) -> Callable[[str], None]:
    """``say``, but at most one note every ``seconds``: a long report shows where it is, a
    short one stays quiet."""
    last = [time.monotonic()]

    def note(message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= seconds:
            last[0] = now
            say(message)

    return note
