"""On a real terminal (a pseudo-terminal): colour, and apply's confirmation prompt."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Workspace

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX terminal")


def on_terminal(ws: Workspace, *args: str, answer: str | None = None, **env: str) -> tuple:
    """Runs ``certops ARGS`` with stdin/stdout/stderr on a pseudo-terminal; types
    ``answer`` at the confirmation prompt. Returns (exit code, everything shown)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DOCEBO_", "CERTOPS_"))}
    environment.pop("NO_COLOR", None)
    environment.update({"CERTOPS_AT": "2026-06-01T00:00:00Z", "TERM": "xterm"}, **env)
    master, slave = pty.openpty()
    code = "from certops.cli.main import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=ws.root,
        env=environment,
        close_fds=True,
    )
    os.close(slave)
    shown = b""
    answered = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal closed: the process is done
                    break
                if not chunk:
                    break
                shown += chunk
                if answer is not None and not answered and b"Apply these changes?" in shown:
                    os.write(master, answer.encode() + b"\n")
                    answered = True
            elif process.poll() is not None:
                break
        returncode = process.wait(timeout=30)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return returncode, shown.decode("utf-8", errors="replace")


def test_colour_only_on_a_terminal_and_never_when_asked_not_to(ws: Workspace) -> None:
    code, shown = on_terminal(ws, "plan", "conf")
    assert code == 0, shown
    assert "\x1b[" in shown
    for args, env in ((("plan", "conf", "--no-color"), {}), (("plan", "conf"), {"NO_COLOR": "1"})):
        code, shown = on_terminal(ws, *args, **env)
        assert code == 0, shown
        assert "\x1b[" not in shown and "Plan: 1 reinstatement" in shown


def test_apply_on_a_terminal_asks_first(ws: Workspace) -> None:
    before = ws.lms_state()
    code, shown = on_terminal(ws, "apply", "conf", answer="n")
    assert code == 1, shown
    assert "Apply these changes?" in shown and "Aborted" in shown
    # The question restates what is about to happen, by name, product by product.
    assert "will REINSTATE 1 learner in Widget" in shown
    assert "will certify 2, enroll 3 in maintenance courses" in shown
    assert ws.lms_state() == before
    assert not Path(ws.root, ".certops", "audit.jsonl").exists()
    code, shown = on_terminal(ws, "apply", "conf", "--no-color", answer="y")
    assert code == 0, shown
    assert "Apply: 18 applied, 0 failed, 0 skipped, 3 manual" in shown  # rule + 2 checks
    assert ws.lms_state().status("MOC-W-2026", "bob") == "enrolled"
