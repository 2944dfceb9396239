"""``kill -9`` in the middle of the demo's first apply, at every write, against a served
sandbox; then one more apply. The audit log must name every change that reached the LMS:
the killed run's intents are settled from the LMS by the re-run.

Each write of the first apply (15 of them) is cut in both ways the sandbox can cut it:
dropped before the LMS commits it (it never happened) and after (it happened, but the
answer was lost). certops is killed while it waits to find out, which is exactly when no
outcome can have been written. 30 kill points, run three at a time to keep this quick.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from certops.address import parse_address
from certops.connection import connect_reader
from certops.lms import Credentials
from certops.sandbox import init_sandbox, read_credentials

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AT = "2026-12-01"  # the README's first apply of the demo
WRITES = 15  # writes of that apply (courses, catalog item, groups, enrollment batches)
CERTOPS = [sys.executable, "-c", "from certops.cli.main import main; main()"]


def _env(creds: Credentials | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTOPS_", "DOCEBO_"))}
    env["PYTHONPATH"] = str(ROOT)
    if creds is not None:
        env.update(
            DOCEBO_CLIENT_ID=creds.client_id,
            DOCEBO_CLIENT_SECRET=creds.client_secret,
            DOCEBO_USERNAME=creds.username or "",
            DOCEBO_PASSWORD=creds.password or "",
        )
    return env


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo sandbox as ``certops sandbox init --demo`` makes it, built once."""
    db = tmp_path_factory.mktemp("demo") / "sandbox.db"
    init_sandbox(db, demo=True)
    return db


@pytest.fixture(scope="module")
def planned(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The addresses the first apply writes (its plan's non-manual changes)."""
    folder = tmp_path_factory.mktemp("plan")
    db = folder / "sandbox.db"
    shutil.copyfile(demo_db, db)
    ran = subprocess.run(
        [*CERTOPS, "plan", str(EXAMPLES), "--at", AT, "--lms", f"sandbox:{db}", "--format",
         "json"],
        capture_output=True, text=True, env=_env(), cwd=folder, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    plan = json.loads(ran.stdout)
    return {c["address"] for c in plan["changes"] if c["action"] != "manual"}


@dataclass(frozen=True, slots=True)
class Case:
    """What one kill point left behind."""

    nth: int
    mode: str
    killed_at: list[str]  # the calls the sandbox had seen when certops was killed
    rerun: subprocess.CompletedProcess
    lines: list[dict[str, Any]]
    duplicates: list[str]


def _serve(db: Path, drop: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [*CERTOPS, "sandbox", "serve", "--db", str(db), "--port", "0", "--drop-write", drop],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(),
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "serving at http://127.0.0.1:" in first, first
    return process, first.rsplit(" ", 1)[-1].strip()


async def _duplicates(url: str, creds: Credentials) -> list[str]:
    async with connect_reader(parse_address(url), credentials=creds) as reader:
        courses = await reader.list_courses()
        groups = await reader.list_groups()
        enrollments = await reader.list_enrollments(sorted(c.id for c in courses))
    counts = Counter(
        [f"course {c.code}" for c in courses]
        + [f"group {g.name}" for g in groups]
        + [f"enrollment {e.course_id}/{e.user_id}" for e in enrollments]
    )
    return [name for name, n in counts.items() if n > 1]


def _kill_at(demo_db: Path, root: Path, nth: int, mode: str) -> Case:
    folder = root / f"w{nth:02d}-{mode}"
    (folder / ".certops").mkdir(parents=True)
    db = folder / ".certops" / "sandbox.db"
    shutil.copyfile(demo_db, db)
    stored = read_credentials(db)
    creds = Credentials(stored.client_id, stored.client_secret, stored.username, stored.password)
    server, url = _serve(db, f"{nth}:{mode}")
    apply = [*CERTOPS, "apply", str(EXAMPLES), "--yes", "--at", AT, "--lms", url]
    try:
        victim = subprocess.Popen(
            apply, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(creds),
            cwd=folder,
        )  # fmt: skip
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=url, timeout=10) as admin:
            # The sandbox logs the dropped write (no status) as it drops it; certops then
            # waits a moment before re-reading what happened. Kill it in that moment.
            while time.monotonic() < deadline and victim.poll() is None:
                seen = admin.get("/_sandbox/calls").json()["items"]
                if any(c["status"] is None for c in seen):
                    break
                time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = [f"{c['method']} {c['path']} {c['status']}" for c in seen]
        rerun = subprocess.run(
            apply, capture_output=True, text=True, env=_env(creds), cwd=folder, timeout=60
        )
        duplicates = asyncio.run(_duplicates(url, creds))
    finally:
        server.terminate()
        server.wait(timeout=10)
    log = folder / ".certops" / "audit.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return Case(nth, mode, killed_at, rerun, lines, duplicates)


@pytest.mark.slow
def test_kill_9_at_every_write_then_one_apply_leaves_a_complete_audit_log(
    demo_db: Path, planned: set[str], tmp_path: Path
) -> None:
    points = [(nth, mode) for nth in range(1, WRITES + 1) for mode in ("after", "before")]
    with ThreadPoolExecutor(max_workers=3) as pool:
        cases = list(pool.map(lambda p: _kill_at(demo_db, tmp_path, *p), points))
    resolved_applied = 0
    for case in cases:
        where = f"kill at write {case.nth} ({case.mode}); calls seen: {case.killed_at[-3:]}"
        assert any(c.endswith(" None") for c in case.killed_at), where  # killed in doubt
        assert case.rerun.returncode == 0, (where, case.rerun.stderr[-2000:])
        assert "0 failed" in case.rerun.stdout, where
        assert not case.duplicates, (where, case.duplicates)
        settled = {x["id"] for x in case.lines if x["kind"] != "intent"}
        unsettled = [x["address"] for x in case.lines if x["kind"] == "intent"
                     and x["id"] not in settled]  # fmt: skip
        assert not unsettled, (where, unsettled)
        named = {
            x["address"]
            for x in case.lines
            if x["kind"] == "done" or (x["kind"] == "resolved" and x["result"] == "applied")
        }
        # Everything the first apply was to write is in the LMS now (the re-run succeeded
        # with nothing failed), and the log names every one of those changes.
        missing = sorted(planned - named)
        assert not missing, (where, missing[:10])
        # No change is named twice as done: the re-run did not write again what landed.
        done = Counter(x["address"] for x in case.lines if x["kind"] == "done")
        assert not [a for a, n in done.items() if n > 1], where
        resolved_applied += any(
            x["kind"] == "resolved" and x["result"] == "applied" for x in case.lines
        )
    # Writes that landed while certops was being killed were found by reading the LMS.
    assert resolved_applied >= WRITES // 2
