"""Ctrl+C stops ``certops sandbox serve`` and ``certops listen`` cleanly: exit 0, a line
saying so, no "Aborted." and no traceback (a stop asked for is no error)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from certops.sandbox import init_sandbox

ENTRY = "from certops.cli.main import main; main()"


def _interrupted(args: list[str], ready: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CERTOPS_LMS"}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # waits for the banner: the server is up when it is printed
        seen.append(line)
        if ready in line:
            break
    else:
        proc.wait(timeout=10)
        raise AssertionError("never ready: " + "".join(seen) + (proc.stderr.read() or ""))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(seen) + out, err)


def test_ctrl_c_stops_the_sandbox_server_with_exit_0(tmp_path: Path) -> None:
    init_sandbox(tmp_path / "sandbox.db")
    ran = _interrupted(
        ["sandbox", "serve", "--db", "sandbox.db", "--port", "0"], "Press Ctrl+C", tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    assert "certops: sandbox stopped" in ran.stderr
    assert "Aborted" not in ran.stderr and "Traceback" not in ran.stderr


def test_ctrl_c_stops_listen_with_exit_0(tmp_path: Path) -> None:
    init_sandbox(tmp_path / ".certops" / "sandbox.db")
    config = Path(__file__).resolve().parents[2] / "examples"
    ran = _interrupted(
        ["listen", "--config", str(config), "--port", "0", "--insecure-no-auth"],
        "certops listen serving at",
        tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert "certops: stopped; the queue keeps every event still pending" in ran.stderr
    assert "Aborted" not in ran.stderr and "Traceback" not in ran.stderr
