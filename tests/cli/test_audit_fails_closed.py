"""The audit log fails closed: a write certops cannot log first is never sent, a log that
is no file is refused, and a log or ack file nobody should have written is a located
error, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Served, Workspace

# The command line as a user runs it, in a process of its own (its file size is limited).
CERTOPS = [sys.executable, "-c", "from certops.cli.main import main; main()"]


def _applied_addresses(log: Path) -> set[str]:
    """The addresses the log says reached the LMS: done, or resolved as applied."""
    found = set()
    for text in log.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue  # a line cut short: no record of anything
        if line.get("kind") == "done" or (
            line.get("kind") == "resolved" and line.get("result") == "applied"
        ):
            found.add(line["address"])
    return found


def test_a_full_disk_stops_the_run_before_anything_unlogged_is_sent(served: Served) -> None:
    ws = served.ws
    env = {**os.environ, **{k: v for k, v in ws.env.items() if v is not None}}
    for name, value in ws.env.items():
        if value is None:
            env.pop(name, None)
    planned = json.loads(ws.run("plan", "conf", "--format", "json").stdout)
    writes = {c["address"] for c in planned["changes"] if c["action"] != "manual"}
    assert len(writes) > 10

    def limited() -> None:  # a file-size limit: the log's appends fail part way
        resource.setrlimit(resource.RLIMIT_FSIZE, (6_000, 6_000))

    ran = subprocess.run(
        [*CERTOPS, "apply", "conf", "--yes"],
        cwd=ws.root,
        env=env,
        preexec_fn=limited,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "cannot write the audit log" in ran.stderr
    assert "Traceback" not in ran.stderr
    log = ws.root / ".certops" / "audit.jsonl"
    first = _applied_addresses(log)
    assert first and first < writes  # stopped part way

    # With room again, the next apply settles what the first left in doubt and does the
    # rest: the log then names every write that reached the LMS, each exactly as it is.
    again = ws.run("apply", "conf", "--yes")
    assert again.code == 0, again.output
    assert _applied_addresses(log) == writes
    assert ws.run("plan", "conf", "--detailed-exitcode").code in (0, 2)


@pytest.mark.parametrize("special", ["/dev/zero", "folder", "fifo"])
def test_an_audit_log_that_is_no_file_is_refused(ws: Workspace, special: str) -> None:
    path = special
    if special == "folder":
        (ws.root / "folder").mkdir()
    elif special == "fifo":
        os.mkfifo(ws.root / "fifo")
    for command in ("plan", "apply"):
        ran = ws.run(command, "conf", "--yes" if command == "apply" else "--detailed-exitcode",
                     "--audit-log", path)  # fmt: skip
        assert ran.code == 1, (command, ran.output)
        assert "not a regular file" in ran.stderr, (command, ran.output)
    history = ws.run("history", "alice", "--log", path)
    assert history.code == 1 and "not a regular file" in history.stderr


def test_an_audit_line_nested_deep_or_too_long_is_a_located_error(ws: Workspace) -> None:
    log = ws.root / "audit.jsonl"
    log.write_text('{"kind": "done"}\n' + "[" * 1000 + "]" * 1000 + "\n", encoding="utf-8")
    for args in (
        ("plan", "conf", "--audit-log", str(log)),
        ("history", "alice", "--log", str(log)),
    ):
        ran = ws.run(*args)
        assert ran.code == 1, ran.output
        assert f"{log}:2: " in ran.stderr and "nested deeper than" in ran.stderr
        assert "Traceback" not in ran.output
    log.write_text('{"kind": "done", "x": "' + "y" * 2_000_000 + '"}\n', encoding="utf-8")
    ran = ws.run("history", "alice", "--log", str(log))
    assert ran.code == 1 and f"{log}:1: " in ran.stderr and "longer than" in ran.stderr
