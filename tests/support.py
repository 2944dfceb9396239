"""What several test folders need: running ``certops`` through its real console entry
point in-process, and serving an ASGI app (the sandbox) over a real socket."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping
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
