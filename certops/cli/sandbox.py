"""``certops sandbox init|load|serve|reset``: the embedded Docebo-compatible LMS."""

from __future__ import annotations

import logging
import socket
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import click

from certops.address import parse_address, sandbox_address
from certops.cli.options import DEFAULT_SANDBOX, config_option
from certops.errors import CertopsError, ConfigError
from certops.lock import DEFAULT_LOCK_TIMEOUT

DEFAULT_DB = DEFAULT_SANDBOX.location

LENIENT_HELP = (
    "Ignore request fields and parameters the sandbox does not know, as Docebo does"
    " (default: reject them with a 400 naming the field). Stored in the sandbox file."
)

SHAPE_HELP = (
    "KEY=VALUE: answer in one of the response shapes real tenants show (repeatable): "
    "course_list_dates=date|epoch_ms, enrollment_validity=date|datetime|both, "
    "catalog_item_type=learning_course_type|course, paging=cursor|page_only. Stored in the "
    "sandbox file."
)
shape_option = click.option(
    "--shape", "shapes", multiple=True, metavar="KEY=VALUE", help=SHAPE_HELP
)


def _shapes(pairs: tuple[str, ...]) -> dict[str, str]:
    from certops.sandbox.shapes import ShapesError, parse_shape_options

    try:
        return parse_shape_options(pairs)
    except ShapesError as exc:
        raise click.BadParameter(f"{exc.field}: {exc}", param_hint="--shape") from None


db_option = click.option(
    "--db",
    "db",
    default=DEFAULT_DB,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The sandbox file.",
)


@contextmanager
def _sandbox_errors() -> Iterator[None]:
    """Turns a sandbox failure into a one-line CLI error. A ``ConfigError`` passes through:
    the caller or the entry point lists every located problem."""
    try:
        yield
    except ConfigError:
        raise
    except CertopsError as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"the sandbox file cannot be used: {exc}") from None


@click.group()
def sandbox() -> None:
    """The embedded Docebo-compatible LMS (a SQLite file served like a tenant)."""


@sandbox.command()
@click.argument("path", default=DEFAULT_DB, type=click.Path(dir_okay=False))
@click.option("--demo", is_flag=True, help="Load the demo dataset that fits the examples.")
@click.option(
    "--learners",
    default=200,
    show_default=True,
    type=click.IntRange(min=0),
    help="Demo learners (learner0001...).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Demo dataset seed.")
@click.option("--client-id", default="certops-sandbox", show_default=True)
@click.option("--client-secret", default="sandbox-secret", help="[default: sandbox-secret]")
@click.option("--username", default="admin", show_default=True, help="Admin user name.")
@click.option("--password", default="admin", help="Admin password. [default: admin]")
@click.option("--force", is_flag=True, help="Replace an existing sandbox file.")
@click.option("--lenient", is_flag=True, help=LENIENT_HELP)
@shape_option
@click.option(
    "--from",
    "source",
    metavar="LMS",
    help="Fill it with a copy of what certops reads from this LMS for the configuration "
    "(--config): users, the courses, groups and catalog it names, their enrollments; ids "
    "kept. Reads only. Credentials as for any command (DOCEBO_* variables).",
)
@config_option
@click.option(
    "--pseudonymize",
    is_flag=True,
    help="With --from: replace every user's names, e-mail and username (those the "
    "configuration names excepted) by ones made of the user's id.",
)
def init(
    path: str,
    demo: bool,
    learners: int,
    seed: int,
    client_id: str,
    client_secret: str,
    username: str,
    password: str,
    force: bool,
    lenient: bool,
    shapes: tuple[str, ...],
    source: str | None,
    config_paths: tuple[str, ...],
    pseudonymize: bool,
) -> None:
    """Create a sandbox at PATH (default .certops/sandbox.db): empty, the demo (--demo),
    or a copy of a tenant for rehearsing its rollover (--from LMS --config PATH)."""
    from certops.sandbox import SandboxCredentials, init_sandbox

    creds = SandboxCredentials(client_id, client_secret, username, password)
    for name, value in (("--client-id", client_id), ("--client-secret", client_secret),
                        ("--username", username), ("--password", password)):  # fmt: skip
        if not value.strip():
            raise click.BadParameter("must not be empty", param_hint=name)
    if source and demo:
        raise click.UsageError("--from and --demo: choose one")
    if pseudonymize and not source:
        raise click.UsageError("--pseudonymize applies to a copy made with --from LMS")
    copied = _copy(source, config_paths, pseudonymize, path) if source else None
    with _sandbox_errors():
        summary = init_sandbox(
            path,
            demo=demo,
            learners=learners,
            seed=seed,
            credentials=creds,
            overwrite=force,
            lenient=lenient,
            shapes=_shapes(shapes),
            data=copied.data if copied else None,
            copied_from=source,
        )
    if copied is not None:
        for note in copied.left_out:
            click.echo(f"certops: not copied: {note}", err=True)
        kind = "pseudonymized copy" if pseudonymize else "copy"
        what = f"with a {kind} of {source} ({summary})"
    else:
        what = f"with the demo dataset ({summary})" if demo else "empty"
    mode = "lenient: unknown request fields are ignored" if lenient else "strict"
    click.echo(f"Created sandbox {path}, {what} ({mode}).")
    click.echo(f"Serve it with: certops sandbox serve --db {path}")


def _copy(source: str, config_paths: tuple[str, ...], pseudonymize: bool, path: str) -> Any:
    """What certops reads from ``source`` for the configuration, as a dataset."""
    import asyncio

    from certops.cli.options import progress
    from certops.config import load_config
    from certops.connection import connect_reader
    from certops.sandbox.copy import copy_tenant

    config = load_config(list(config_paths))
    address = parse_address(source)
    if Path(path).exists() and address.same_lms(sandbox_address(path)):
        raise click.UsageError(f"--from {source} is the sandbox being created: choose another PATH")

    async def read() -> Any:
        async with connect_reader(address, progress=progress) as reader:
            return await copy_tenant(reader, config, pseudonymize=pseudonymize, progress=progress)

    return asyncio.run(read())


def _writing(db: str, timeout: float) -> AbstractContextManager[object]:
    """The writer lock of the sandbox ``db`` (which apply holds too), if the file exists."""
    from certops.lock import WriterLock, lock_path

    if not Path(db).exists():
        return nullcontext()
    return WriterLock(lock_path(sandbox_address(db)), timeout, what="certops sandbox",
                      progress=lambda m: click.echo(f"certops: {m}", err=True))  # fmt: skip


lock_timeout_option = click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    envvar="CERTOPS_LOCK_TIMEOUT",
    default=DEFAULT_LOCK_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for a running apply on this sandbox to finish, then fail.",
)


@sandbox.command()
@click.argument("file", type=click.Path(dir_okay=False))
@db_option
@lock_timeout_option
def load(file: str, db: str, lock_timeout: float) -> None:
    """Load a dataset FILE (YAML or JSON: users, courses, catalogs, enrollments)."""
    from certops.sandbox import load_dataset

    try:
        with _sandbox_errors(), _writing(db, lock_timeout):
            summary = load_dataset(db, file)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"Error: {len(exc.problems)} problem(s) in {file}; nothing loaded.", err=True)
        raise click.exceptions.Exit(1) from None
    click.echo(f"Loaded {summary} into {db}.")


@sandbox.command()
@db_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@lock_timeout_option
def reset(db: str, yes: bool, lock_timeout: float) -> None:
    """Recreate the sandbox as `init` made it, discarding every change since."""
    from certops.sandbox import reset_sandbox

    if not Path(db).is_file():
        raise click.ClickException(f"no sandbox at {db}: create one with `certops sandbox init`")
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException("reset discards the sandbox's data: pass --yes to confirm")
        click.confirm(f"Discard everything in {db} and recreate it?", abort=True)
    with _sandbox_errors(), _writing(db, lock_timeout):
        summary = reset_sandbox(db)
    click.echo(f"Reset {db} ({summary}).")


def _banner(db: str, url: str, creds: Any, store: Any) -> None:
    """What ``serve`` says once it listens: where, the credentials, the mode."""
    click.echo(f"certops sandbox {db} serving at {url}")
    click.echo(f"  OAuth2 client: {creds.client_id} / {creds.client_secret}")
    click.echo(f"  admin user:    {creds.username} / {creds.password}")
    click.echo(f"  not Docebo:    {url}/_sandbox/")
    if store.lenient():
        click.echo("  lenient:       unknown request fields are ignored, as Docebo does")
    else:
        click.echo("  strict:        unknown request fields are rejected (400 naming them)")
    shown = ", ".join(f"{k}={v}" for k, v in store.shapes().to_json().items())
    click.echo(f"  shapes:        {shown}")
    click.echo(
        f"  try: curl -s -d grant_type=client_credentials -d client_id={creds.client_id}"
        f" -d client_secret={creds.client_secret} -d scope=api {url}/oauth2/token"
    )
    click.echo("Press Ctrl+C to stop.")
    sys.stdout.flush()


def _rate_limit(value: str | None) -> tuple[int, float] | None:
    if not value:
        return None
    calls, _, window = value.partition("/")
    try:
        parsed = int(calls), float(window or "60")
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected CALLS/SECONDS, e.g. 100/60", param_hint="--rate-limit"
        ) from None
    if parsed[0] < 1 or parsed[1] <= 0:
        raise click.BadParameter(
            f"{value!r}: both numbers must be positive", param_hint="--rate-limit"
        )
    return parsed


def _drop_write(value: str | None) -> tuple[int, str] | None:
    if not value:
        return None
    nth, _, mode = value.partition(":")
    mode = mode or "after"
    if not nth.isdigit() or int(nth) < 1 or mode not in ("before", "after"):
        raise click.BadParameter(
            f"{value!r}: expected N or N:before or N:after (drop the Nth write)",
            param_hint="--drop-write",
        )
    return int(nth), mode


class _QuietDrops(logging.Filter):
    """Hides uvicorn's complaint about responses the sandbox drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


@sandbox.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="0 picks a free port.")  # fmt: skip
@click.option(
    "--latency-ms",
    default=0,
    type=click.IntRange(min=0),
    help="Answer every call this long after it arrives (the sandbox works meanwhile).",
)
@click.option("--rate-limit", default=None, help="CALLS/SECONDS, then 429 with Retry-After.")
@click.option("--error-503-share", default=0.0, type=click.FloatRange(0, 1),
              help="Share of calls answered 503.")  # fmt: skip
@click.option("--drop-write", default=None, help="N[:before|after]: drop the Nth write.")
@click.option("--fault-seed", default=0, type=int, help="Seed of the 503 draws.")
@click.option(
    "--drop-fields",
    default=None,
    help="NAME,NAME...: request fields every write silently ignores while answering success.",
)
@click.option("--lenient", is_flag=True, help=LENIENT_HELP)
@shape_option
@click.option("--allow-remote", is_flag=True,
              help="Allow a --host other machines can reach (the /_sandbox/ admin API has no "
              "authentication).")  # fmt: skip
def serve(
    db: str,
    host: str,
    port: int,
    latency_ms: int,
    rate_limit: str | None,
    error_503_share: float,
    drop_write: str | None,
    fault_seed: int,
    drop_fields: str | None,
    lenient: bool,
    shapes: tuple[str, ...],
    allow_remote: bool,
) -> None:
    """Serve the sandbox over HTTP, like a Docebo tenant (Ctrl+C stops)."""
    import uvicorn

    from certops.sandbox import FaultConfig, create_app
    from certops.sandbox.faults import drop_to_asgi_abort
    from certops.sandbox.guard import AdminGuard, is_loopback, remote_warning

    if not is_loopback(host) and not allow_remote:
        raise click.UsageError(
            f"--host {host} is reachable from other machines, and the sandbox's /_sandbox/ "
            "admin API has no authentication: pass --allow-remote if that is meant, or "
            "serve on 127.0.0.1"
        )

    chosen = _shapes(shapes)
    rate = _rate_limit(rate_limit)
    drop = _drop_write(drop_write)
    faults = FaultConfig(
        latency_ms=latency_ms,
        rate_limit_calls=rate[0] if rate else 0,
        rate_limit_window_s=rate[1] if rate else 60.0,
        error_503_share=error_503_share,
        drop_write_nth=drop[0] if drop else 0,
        drop_write_mode=drop[1] if drop else "after",
        seed=fault_seed,
        drop_fields=tuple(n.strip() for n in (drop_fields or "").split(",") if n.strip()),
    )
    with _sandbox_errors():
        app = create_app(db, faults=faults)
        store = app.state.sandbox.store
        if lenient:
            # Stored, not held in this process: `sandbox:PATH` in-process agrees with it.
            store.set_lenient(True)
        if chosen:
            store.set_shapes(chosen)
        # The app has the sandbox open already: no second open for the credentials.
        creds = store.credentials()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP (not 0): asyncio only turns Nagle off (TCP_NODELAY) on connections of a
    # socket created with it, and uvicorn sends head and body apart, so without it every
    # keep-alive answer waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening before "serving at" is printed: a client that starts on that line must
        # not find the port refusing connections while uvicorn starts up.
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # Listening before saying so: a client that connects right after the banner must
    # not be refused while the server is still starting.
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"http://{shown_host}:{bound_port}"
    guarded = AdminGuard(drop_to_asgi_abort(app), host, bound_port)
    config = uvicorn.Config(guarded, log_level="warning", lifespan="off")
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    server = uvicorn.Server(config)
    try:
        _banner(db, url, creds, store)
        if not is_loopback(host):
            click.echo(f"certops: {remote_warning(host)}", err=True)
        app.state.webhooks.start()  # registered webhooks are delivered in the background
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # Ctrl+C, at any moment: uvicorn finishes the requests in flight and closes, then
        # raises the signal again to pass it on. A stop asked for is no error: exit 0.
        pass
    finally:
        app.state.webhooks.stop()
        sock.close()
    click.echo("certops: sandbox stopped", err=True)
