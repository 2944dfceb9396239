"""``certops listen [PATH...]``: receive Docebo webhooks and reconcile the learners they name."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from pathlib import Path

import click

from certops.cli.auditopts import audit_dir_option
from certops.cli.options import config_option, lms_option, progress, resolve_lms

ENV_USER = "CERTOPS_WEBHOOK_USER"
ENV_PASSWORD = "CERTOPS_WEBHOOK_PASSWORD"


@click.command()
@click.argument("paths", nargs=-1)
@config_option
@lms_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="0 picks a free port.")  # fmt: skip
@click.option(
    "--queue",
    "queue_path",
    default=".certops/listen.db",
    show_default=True,
    help="The durable event queue (SQLite).",
)
@click.option(
    "--audit-log",
    "audit_log",
    default=".certops/audit.jsonl",
    show_default=True,
    help="Write-ahead log of every write, shared with apply (JSON lines).",
)
@audit_dir_option
@click.option("--watch", is_flag=True, help="Reload the configuration when its files change.")
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Accept deliveries without HTTP Basic credentials (local rehearsals only).",
)
@click.option("--max-attempts", default=8, show_default=True, type=click.IntRange(min=1),
              help="Attempts per event before it goes to the dead letters.")  # fmt: skip
@click.option("--retry-base", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              metavar="SECONDS", help="First retry delay (doubles, to 300 s).")  # fmt: skip
@click.option("--max-body", default=1_000_000, show_default=True, type=click.IntRange(min=1024),
              metavar="BYTES", help="Larger deliveries are refused (413).")  # fmt: skip
@click.option(
    "--max-in-flight",
    type=click.IntRange(min=1, max=32),
    envvar="CERTOPS_MAX_IN_FLIGHT",
    default=4,
    show_default=True,
    help="API requests in flight at once. Env: CERTOPS_MAX_IN_FLIGHT.",
)
@click.option(
    "--calls-per-hour",
    type=click.IntRange(min=1),
    envvar="CERTOPS_CALLS_PER_HOUR",
    default=None,
    help="Never make more API calls than this in any hour. Env: CERTOPS_CALLS_PER_HOUR.",
)
def listen(
    paths: tuple[str, ...],
    config_paths: tuple[str, ...],
    lms: str | None,
    host: str,
    port: int,
    queue_path: str,
    audit_log: str,
    audit_dir: str | None,
    watch: bool,
    insecure_no_auth: bool,
    max_attempts: int,
    retry_base: float,
    max_body: int,
    max_in_flight: int,
    calls_per_hour: int | None,
) -> None:
    """Receive Docebo webhooks on POST /webhook and reconcile only the learners they name
    (enrollments only, never setup, never a suspension or a delete; the nightly apply
    does the rest). HTTP Basic credentials come from CERTOPS_WEBHOOK_USER and
    CERTOPS_WEBHOOK_PASSWORD. GET /healthz reports the queue. SIGHUP reloads the
    configuration."""
    import uvicorn

    from certops.listen.app import BasicCredentials, Service, create_listen_app
    from certops.listen.queue import EventQueue
    from certops.listen.worker import ConfigSource, Worker, WorkerSettings

    user, password = os.environ.get(ENV_USER, ""), os.environ.get(ENV_PASSWORD, "")
    if insecure_no_auth:
        credentials = None
        progress("warning: --insecure-no-auth: anyone who reaches this port can send events")
    elif not user or not password:
        raise click.UsageError(
            f"set {ENV_USER} and {ENV_PASSWORD} (the HTTP Basic credentials configured on "
            "the Docebo webhook); Docebo signs nothing, so they are the only protection. "
            "For a local rehearsal only: --insecure-no-auth"
        )
    else:
        credentials = BasicCredentials(user, password)
    source = ConfigSource([*paths, *config_paths], progress)  # a bad configuration stops here
    target = resolve_lms(lms)
    queue = EventQueue(Path(queue_path))
    pruned = queue.prune()
    if pruned:
        progress(f"pruned {pruned} settled event(s) older than a week from {queue_path}")
    settings = WorkerSettings(
        lms=target,
        audit_path=Path(audit_log),
        audit_dir=Path(audit_dir) if audit_dir else None,
        max_attempts=max_attempts,
        retry_base_s=retry_base,
        max_in_flight=max_in_flight,
        calls_per_hour=calls_per_hour,
    )
    worker = Worker(queue, settings, source, progress)
    service = Service(queue, worker, source, credentials, max_body=max_body, watch=watch)
    app = create_listen_app(service)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP so asyncio turns Nagle off: Docebo's answer must not wait for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # Listening before saying so: a client that connects right after the banner must
    # not be refused while the server is still starting.
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again; ending
    # here with 0 says the stop was clean (the queue keeps whatever is still pending).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        click.echo(f"certops listen serving at http://{shown}:{bound}")
        click.echo(f"  webhook: POST http://{shown}:{bound}/webhook  health: GET /healthz")
        pending = queue.health()["queue_depth"]
        click.echo(f"  queue:   {queue_path} ({pending} event(s) pending)   LMS: {target}")
        sys.stdout.flush()
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # Ctrl+C, at any moment: the same clean stop as SIGTERM (uvicorn raises the signal
        # again once it has stopped); the queue keeps whatever is still pending.
        pass
    finally:
        sock.close()
    progress("stopped; the queue keeps every event still pending")
