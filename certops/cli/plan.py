"""``certops plan``, ``certops apply`` and ``certops ack``: Terraform's loop for certops."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import click

from certops.address import LMSAddress, parse_address
from certops.apply import ApplyReport, Result, current_actor
from certops.audit import new_run_id, run_file
from certops.cli.auditopts import audit_dir_option, folder_files, sources
from certops.cli.meter import Meter
from certops.cli.options import (
    Limits,
    at_option,
    check_instant_near,
    color_enabled,
    config_option,
    limits_options,
    lms_option,
    now_utc,
    progress,
    resolve_lms,
)
from certops.config import load_config
from certops.config.jsonread import decode_utf8, max_depth, parse_json
from certops.config.load import is_saved_plan
from certops.config.model import Config
from certops.connection import connect_reader, connect_writer
from certops.errors import ConfigError, LMSAddressError, LMSError, SafetyLimitError
from certops.history import (
    DEFAULT_AUDIT_LOG,
    AuditReadError,
    LogLines,
    applied_record,
)
from certops.lock import DEFAULT_LOCK_TIMEOUT, WriterLock, lock_path
from certops.plan.ack import AckFile, ack_path
from certops.plan.classes import AppliedRecord
from certops.plan.jsonio import iso_utc, plan_digest, plan_from_dict
from certops.plan.markdown import DEFAULT_MAX_BYTES, render_markdown
from certops.plan.model import ChangeClass, Plan
from certops.plan.render import confirmation_text, render_json, render_text
from certops.plan.review import Review, review
from certops.run import Planned, apply_run, only_products, pending_manual_steps, plan_run

FORMATS = ("text", "json", "markdown")
SHOW_PROBLEMS = 20  # per kind of problem, on stderr after an apply
# A saved plan is a few levels deep and at most some tens of MB (a million enrollments);
# anything beyond is not a plan, and refusing it early keeps hostile files harmless.
MAX_PLAN_DEPTH = 16
MAX_PLAN_BYTES = 1_000_000_000


def _stderr(message: str) -> None:
    click.echo(message, err=True)


def load(paths: tuple[str, ...], products: tuple[str, ...]) -> tuple[Config, AckFile]:
    """The checked configuration (limited to ``products``) and its ack file."""
    config = load_config(list(paths))
    unknown = sorted(set(products) - {p.id for p in config.products})
    if unknown:
        known = ", ".join(p.id for p in config.products)
        raise click.UsageError(f"unknown product {', '.join(unknown)} (configured: {known})")
    acks = AckFile.load(ack_path(config.files))
    return only_products(config, products), acks


def _record(paths: tuple[str, ...], lms: LMSAddress) -> AppliedRecord:
    """What certops last did to ``lms``, from the audit logs at ``paths`` (missing ones
    are fine: a first plan has no log; lines about another LMS, such as a rehearsal on a
    sandbox, say nothing about this one)."""
    logs = LogLines(paths, missing_ok=True)
    record = applied_record(logs, same_lms=lambda other: _names(other, lms))
    if logs.skipped:
        progress(f"audit log: skipped {logs.skipped} line(s) that are not JSON objects")
    return record


def _names(text: str, lms: LMSAddress) -> bool:
    """Whether ``text`` (an LMS as a log line or a saved plan records it) names ``lms``,
    however either is spelled."""
    try:
        return parse_address(text).same_lms(lms)
    except LMSAddressError:
        return text.strip() == lms.display


async def _plan(
    config: Config,
    acks: AckFile,
    lms: LMSAddress,
    at: datetime,
    limits: Limits,
    record: AppliedRecord | None = None,
    meter: Meter | None = None,
    base: tuple[Config, AckFile] | None = None,
) -> Planned:
    # ``connect_reader`` is looked up here, at call time: tests and benchmarks wrap this
    # module's.
    meter = meter or Meter(live=False)
    return await plan_run(
        config,
        acks,
        lms,
        at,
        connect=lambda *a, **kw: connect_reader(*a, **kw),
        record=record,
        progress=meter,
        connect_kwargs={**limits.connect_kwargs(), "on_call": meter.call},
        base=base,
    )


def _render(
    planned: Planned,
    output_format: str,
    no_color: bool,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    full_plan: str = "",
    review: Review | None = None,
) -> str:
    if output_format == "json":
        return render_json(planned.plan)
    if output_format == "markdown":
        return render_markdown(
            planned.plan, max_bytes=max_bytes, full_plan=full_plan, review=review
        )
    return render_text(planned.plan, color=color_enabled(no_color), review=review)


def _check_writable(out: str) -> None:
    """Refuse an ``--out`` path that cannot be written before reading the LMS at all."""
    path = Path(out)
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise click.ClickException(
            f"cannot save the plan to {out}: {exc.strerror or exc} "
            "(expected a writable file path; nothing was read)"
        ) from None


def _save(planned: Planned, out: str) -> None:
    path = Path(out)
    # The same text as ``--format json``: one line per change, written by the C encoder
    # (an indented dump of a large plan is several times slower, and longer to diff).
    text = render_json(planned.plan)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(
            f"cannot save the plan to {out}: {exc.strerror or exc} (expected a writable file path)"
        ) from None
    progress(f"plan saved to {out}")


common_paths = click.argument("paths", nargs=-1)
product_option = click.option(
    "--product",
    "products",
    multiple=True,
    metavar="ID",
    help="Limit to this product (repeatable).",
)
no_color_option = click.option("--no-color", is_flag=True, help="Never colour the output.")
audit_read_option = click.option(
    "--audit-log",
    "audit_logs",
    multiple=True,
    metavar="FILE",
    envvar="CERTOPS_AUDIT_LOG",
    help="Audit log(s) that say what certops last did, to class each change as drift, "
    f"schedule or config (repeatable; default {DEFAULT_AUDIT_LOG}; a missing file is fine).",
)


@click.command()
@common_paths
@config_option
@lms_option
@limits_options
@at_option
@product_option
@no_color_option
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text")
@click.option("--out", metavar="FILE", help="Save the plan as JSON for `certops apply --plan`.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are (manual steps count).",
)
@audit_read_option
@audit_dir_option
@click.option(
    "--drift-only",
    is_flag=True,
    help="Show only drift (the LMS moved away from what certops set), and let the exit "
    "code speak of drift only: with --detailed-exitcode, 2 means drift; a safety limit "
    "does not exit 3. --out still saves the whole plan.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=2_000),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="--format markdown: the most it may weigh (UTF-8); routine parts are cut first.",
)
@click.option(
    "--base",
    "base_paths",
    multiple=True,
    metavar="PATH",
    help="The configuration a pull request merges into (repeatable, like PATH): "
    "--format markdown then starts with what this configuration changes against it and "
    "what that does in the LMS, and shows the manual steps both wait for as one line.",
)
def plan(
    paths: tuple[str, ...],
    config_paths: tuple[str, ...],
    lms: str | None,
    at: datetime | None,
    products: tuple[str, ...],
    no_color: bool,
    output_format: str,
    out: str | None,
    detailed_exitcode: bool,
    audit_logs: tuple[str, ...],
    audit_dir: str | None,
    drift_only: bool,
    max_bytes: int,
    base_paths: tuple[str, ...],
    limits: Limits,
) -> None:
    """Read the LMS and show what apply would change. Never writes to the LMS.

    The configuration is PATH... and/or --config PATH (files or folders)."""
    config, acks = load(paths + config_paths, products)
    base = load(base_paths, products) if base_paths else None
    if out:
        _check_writable(out)
    now = now_utc()
    target = resolve_lms(lms)
    far = check_instant_near(at or now, now, command="plan", lms=target)
    if far:
        progress(far)
    record = _record(tuple(map(str, sources(audit_logs, audit_dir, DEFAULT_AUDIT_LOG))), target)
    with Meter(no_color=no_color) as meter:
        planned = asyncio.run(
            _plan(config, acks, target, at or now, limits, record, meter, base=base)
        )
    reviewed = None
    if base is not None and planned.base is not None:
        reviewed = review(base[0], config, planned.base, planned.plan)
    shown = planned
    if drift_only:
        drift = tuple(c for c in planned.plan.changes if c.change_class is ChangeClass.DRIFT)
        shown = replace(planned, plan=replace(planned.plan, changes=drift))
    full = f"`{out}` (saved with `--out`)" if out else ""
    click.echo(
        _render(
            shown, output_format, no_color, max_bytes=max_bytes, full_plan=full, review=reviewed
        )
    )
    if out:
        _save(planned, out)
    if planned.plan.blocked and not drift_only:
        sys.exit(SafetyLimitError.exit_code)
    if detailed_exitcode and shown.plan.changes:
        sys.exit(2)


def _confirm(yes: bool, question: str = "Apply these changes?") -> None:
    """Ask ``question`` (which restates what the apply is about to do) unless ``yes``."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(
            "apply needs confirmation: run it on a terminal, or pass --yes (e.g. in CI)"
        )
    click.confirm(question, abort=True)


async def _apply(
    config: Config,
    acks: AckFile,
    lms: LMSAddress,
    at: datetime,
    *,
    expect_digest: str | None,
    saved_lms: str | None,
    no_color: bool,
    yes: bool,
    force: bool,
    force_products: tuple[str, ...] = (),
    audit_path: Path,
    limits: Limits,
    audit_sources: tuple[Path, ...] | None = None,
) -> bool:
    read = audit_sources if audit_sources is not None else (audit_path,)
    try:
        record = _record(tuple(str(p) for p in read), lms)
    except AuditReadError as exc:
        # Classes only explain; whether the log can be written is checked before any write.
        progress(f"{exc}; changes are classed as if there were no log")
        record = None
    names = {p.id: p.name for p in config.products}
    shown: list[Planned] = []
    with Meter(no_color=no_color) as meter:

        def show(planned: Planned) -> None:
            meter.pause()  # the plan and the prompt need the screen
            click.echo(_render(planned, "text", no_color))
            shown.append(planned)

        def confirm() -> None:
            # The question restates the dangerous part: who is suspended or reinstated.
            question = confirmation_text(shown[-1].plan, names) if shown else ""
            _confirm(yes, question or "Apply these changes?")

        done = await apply_run(
            config,
            acks,
            lms,
            at,
            connect=lambda *a, **kw: connect_writer(*a, **kw),
            audit_path=audit_path,
            audit_sources=audit_sources,
            record=record,
            expect_digest=expect_digest,
            saved_lms=saved_lms,
            force=force,
            force_products=force_products,
            show=show,
            confirm=confirm,
            progress=meter,
            connect_kwargs={**limits.connect_kwargs(), "on_call": meter.call},
            on_writes=meter.writing,
            on_settled=meter.settled,
        )
    report, writes = done.report, done.wrote
    if report is None:
        return True
    _show_problems(report, audit_path if writes else None)
    if report.stopped:
        progress(report.stopped)
    click.echo(report.summary())
    if writes:
        progress(f"audit log: {audit_path}")
    return report.ok


def _show_problems(report: ApplyReport, audit_path: Path | None) -> None:
    """Lists what failed, was skipped or not attempted on stderr; the first few of each
    (thousands of rows failing for one reason would bury the reason), the rest counted."""
    for result in (Result.FAILED, Result.SKIPPED, Result.NOT_ATTEMPTED):
        outcomes = [o for o in report.outcomes if o.result is result]
        for outcome in outcomes[:SHOW_PROBLEMS]:
            _stderr(f"  {result.value}: {outcome.change.address}: {outcome.message}")
        if len(outcomes) > SHOW_PROBLEMS:
            where = (
                f" (every one is in {audit_path})" if audit_path and result is Result.FAILED else ""
            )
            _stderr(f"  ... and {len(outcomes) - SHOW_PROBLEMS} more {result.value}{where}")


@click.command()
@common_paths
@config_option
@lms_option
@limits_options
@at_option
@product_option
@no_color_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Apply even when a safety limit trips.")
@click.option(
    "--force-product",
    "force_products",
    multiple=True,
    metavar="ID",
    help="Apply even when a safety limit trips for this product (repeatable); a limit "
    "tripped for another product still blocks the run.",
)
@click.option(
    "--plan",
    "plan_file",
    metavar="FILE",
    help="Apply this saved plan (refused when stale). As with Terraform, a saved plan was "
    "the reviewed artefact, so it is applied without asking.",
)
@click.option(
    "--audit-log",
    "audit_log",
    default=DEFAULT_AUDIT_LOG,
    show_default=True,
    envvar="CERTOPS_AUDIT_LOG",
    help="Write-ahead log of every write (JSON lines; see docs/audit-log.md); also read "
    "to class changes. Env: CERTOPS_AUDIT_LOG.",
)
@audit_dir_option
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    envvar="CERTOPS_LOCK_TIMEOUT",
    default=DEFAULT_LOCK_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another apply on the same LMS to finish, then fail. "
    "Env: CERTOPS_LOCK_TIMEOUT.",
)
def apply(
    paths: tuple[str, ...],
    config_paths: tuple[str, ...],
    lms: str | None,
    at: datetime | None,
    products: tuple[str, ...],
    no_color: bool,
    yes: bool,
    force: bool,
    force_products: tuple[str, ...],
    plan_file: str | None,
    audit_log: str,
    audit_dir: str | None,
    lock_timeout: float,
    limits: Limits,
) -> None:
    """Plan, confirm, and make the changes in the LMS (one writer at a time per LMS).

    The configuration is PATH... and/or --config PATH. A PATH that is a saved plan
    (certops plan --out FILE) is applied as --plan FILE is, as `terraform apply PLANFILE`."""
    saved_paths = [p for p in paths if Path(p).is_file() and is_saved_plan(Path(p))]
    if saved_paths:
        if plan_file or len(saved_paths) > 1:
            named = ", ".join([*([plan_file] if plan_file else []), *saved_paths])
            raise click.UsageError(f"apply takes one saved plan, not {named}")
        plan_file = saved_paths[0]
        paths = tuple(p for p in paths if p != plan_file)
    expect = None
    target = resolve_lms(lms)
    if plan_file:
        saved = _read_plan(plan_file)
        ctx = click.get_current_context()
        from_env = ctx.get_parameter_source("at") is click.core.ParameterSource.ENVIRONMENT
        at_name = "CERTOPS_AT" if from_env else "--at"
        at, products, target = _saved_scope(saved, at, target, products, at_name=at_name)
        expect = plan_digest(saved.changes, saved.at, saved.lms)
    # Refused before anything is read: an implausible instant would be written into the LMS.
    now = now_utc()
    far = check_instant_near(at or now, now, command="apply", lms=target)
    if far:
        progress(far)
    config, acks = load(paths + config_paths, products)
    unknown = sorted(set(force_products) - {p.id for p in config.products})
    if unknown:
        known = ", ".join(p.id for p in config.products)
        raise click.UsageError(
            f"--force-product {', '.join(unknown)}: no such product (configured: {known})"
        )
    audit_path, audit_sources = Path(audit_log), None
    if audit_dir:
        # This run's own file in the folder; every file there is read.
        audit_sources = folder_files(audit_dir)
        audit_path = run_file(Path(audit_dir), now, new_run_id())
    with _writer_lock(target, lock_timeout):
        ok = asyncio.run(
            _apply(
                config,
                acks,
                target,
                at or now,
                expect_digest=expect,
                saved_lms=saved.lms if plan_file else None,
                no_color=no_color,
                yes=yes or bool(plan_file),
                force=force,
                force_products=force_products,
                audit_path=audit_path,
                limits=limits,
                audit_sources=audit_sources,
            )
        )
    if not ok:
        sys.exit(1)


def _writer_lock(lms: LMSAddress, timeout: float) -> AbstractContextManager[object]:
    """The writer lock of ``lms``; none for a sandbox file that does not exist (the
    connection then says so, and no lock file should appear beside nothing)."""
    if lms.is_sandbox and not Path(lms.location).exists():
        return nullcontext()
    return WriterLock(lock_path(lms), timeout, what="certops apply", progress=progress)


def _saved_scope(
    saved: Plan,
    at: datetime | None,
    lms: LMSAddress,
    products: tuple[str, ...],
    *,
    at_name: str = "--at",
) -> tuple[datetime, tuple[str, ...], LMSAddress]:
    """The instant, products and LMS (as the plan spells it) a saved plan was made for,
    checked against the options.

    A saved plan is applied exactly as reviewed: at its own instant, for its own products,
    and only to the LMS this run is configured for (``--lms``, ``CERTOPS_LMS`` or the
    default sandbox), which must be the plan's. The plan never chooses the LMS: a plan file
    naming another host would otherwise receive the credentials. Options that say otherwise
    are a mistake, not an override; all of this is checked before any network call."""
    if at is not None and at != saved.at:
        raise click.UsageError(
            f"{at_name} {iso_utc(at)} differs from the saved plan's instant "
            f"{iso_utc(saved.at)}; a saved plan is re-planned at its own instant "
            f"(drop {at_name}, or plan again)"
        )
    try:
        planned_for: LMSAddress | None = parse_address(saved.lms)
    except LMSError:
        planned_for = None
    if planned_for is None or not planned_for.same_lms(lms):
        raise click.UsageError(
            f"the saved plan was made against {saved.lms}, not {lms} (the LMS this "
            "run is configured for by --lms, CERTOPS_LMS or the default); nothing was sent. "
            "Point --lms at the plan's LMS if that is meant, or plan again against this one"
        )
    if products and saved.products and sorted(products) != sorted(saved.products):
        raise click.UsageError(
            f"the saved plan covers product(s) {', '.join(saved.products)}, not "
            f"{', '.join(products)}; drop --product, or plan again"
        )
    return saved.at, tuple(products or saved.products), planned_for


def _read_plan(path: str) -> Plan:
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise click.UsageError(f"cannot read plan file {path}: {exc.strerror}") from None
    if len(raw) > MAX_PLAN_BYTES:
        raise click.UsageError(
            f"plan file {path} is larger than {MAX_PLAN_BYTES:,} bytes; not a saved plan"
        )
    try:
        data = parse_json(decode_utf8(raw, path), path)
    except ConfigError as exc:
        p = exc.problems[0]
        raise click.UsageError(
            f"{p.file}:{p.line}:{p.column}: not a plan file ({p.message}); "
            "save one with certops plan --out"
        ) from None
    if max_depth(data) > MAX_PLAN_DEPTH:
        raise click.UsageError(
            f"{path}: nested deeper than {MAX_PLAN_DEPTH} levels: not a plan file "
            "(run certops plan --out)"
        )
    return plan_from_dict(data)


@click.command()
@click.argument("addresses", nargs=-1)
@config_option
@at_option
@click.option(
    "--all", "all_steps", is_flag=True, help="Every manual step pending at --at (see --product)."
)
@product_option
def ack(
    addresses: tuple[str, ...],
    config_paths: tuple[str, ...],
    at: datetime | None,
    all_steps: bool,
    products: tuple[str, ...],
) -> None:
    """Record that a person did the manual steps at ADDRESS... (e.g. enrollment_rule.NAME,
    or notification.NAME.schedule.weekly for one rung of a digest's reminder ladder), or
    every pending step with --all (of the --product ones only, if given).

    Needs no LMS: the steps are computed from the configuration at --at (default now).
    """
    if all_steps == bool(addresses):
        raise click.UsageError(
            "name the steps to acknowledge (ADDRESS...) or pass --all, not both"
            if all_steps
            else "name the steps to acknowledge (ADDRESS...), or pass --all for every "
            "step pending at --at (with --product ID for one product's)"
        )
    config, acks = load(config_paths, products)
    when = at or now_utc()
    pending = {c.address: c for c in pending_manual_steps(config, when, acks)}
    if all_steps:
        addresses = tuple(sorted(pending))
        if not addresses:
            click.echo(f"No manual step is pending at {iso_utc(when)}.")
            return
    missing = [a for a in addresses if a not in pending]
    if missing:
        raise click.UsageError(
            f"no pending manual step at {', '.join(missing)} at {iso_utc(when)}; pending then: "
            + (", ".join(sorted(pending)) or "none")
            + ". A step shown by `plan --at TIME` is acknowledged with `ack --at TIME`."
        )
    actor = current_actor()
    for address in addresses:
        acks.record(address, pending[address].fingerprint, when, actor)
    acks.save()
    for address in addresses if all_steps else ():
        click.echo(f"  {address}")
    click.echo(f"Acknowledged {len(addresses)} step(s) in {acks.path}.")


@click.command()
@click.argument("plan_file", metavar="PLANFILE")
@no_color_option
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text")
@click.option(
    "--max-bytes",
    type=click.IntRange(min=2_000),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="--format markdown: the most it may weigh (UTF-8); routine parts are cut first.",
)
def show(plan_file: str, no_color: bool, output_format: str, max_bytes: int) -> None:
    """Show a saved plan (certops plan --out FILE) as text, JSON or Markdown.

    Reads nothing else: no LMS, no configuration. A file whose digest no longer matches its
    content is refused, as apply refuses it."""
    saved = _read_plan(plan_file)
    # Exactly what `certops plan` printed for it.
    if output_format == "json":
        click.echo(render_json(saved))
    elif output_format == "markdown":
        click.echo(render_markdown(saved, max_bytes=max_bytes, full_plan=f"`{plan_file}`"))
    else:
        click.echo(render_text(saved, color=color_enabled(no_color)))
