"""What several test folders need: running ``certops`` through its real console entry
point in-process, serving an ASGI app (the sandbox) over a real socket, waiting for a
condition (never for a length of time), and a clock a test moves by hand."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from click.testing import CliRunner

from certops.cli.main import main
from certops.sandbox.faults import drop_to_asgi_abort


@dataclass(frozen=True, slots=True)
class Ran:
    """What one ``certops`` run did: exit code and both streams."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_certops(
    *args: str, env: Mapping[str, str | None] | None = None, input: str | None = None
) -> Ran:
    """Runs ``certops ARGS`` through ``certops.cli.main.main`` (so exit codes and messages
    are exactly what a user sees), with ``env`` applied for the run; returns what it did."""
    runner = CliRunner()
    argv = sys.argv
    with runner.isolation(input=input, env=dict(env or {})) as (out, err, _):
        sys.argv = ["certops", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = argv
        return Ran(code, out.getvalue().decode(), err.getvalue().decode())


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serves ``app`` with uvicorn on a free port of 127.0.0.1 for the block; yields its URL.

    Dropped connections (the sandbox's fault) become real aborted responses on the socket."""
    config = uvicorn.Config(drop_to_asgi_abort(app), host="127.0.0.1", port=0, log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_for(check: Callable[[], Any], timeout: float, every: float = 0.02) -> Any:
    """Polls ``check`` until it returns something truthy; returns it (or fails after
    ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(every)


async def wait_until(check: Callable[[], Any], timeout: float, every: float = 0.005) -> Any:
    """``wait_for`` inside an event loop: the loop's other tasks run between the checks."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        await asyncio.sleep(every)


class ManualClock:
    """A clock that stands still until the test sets ``now`` (seconds, as ``time.time``
    or ``time.monotonic`` count them)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
