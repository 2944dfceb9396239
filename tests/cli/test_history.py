"""The audit trail: ``certops history USER`` after the demo year (an apply at 2026-12-01,
the rollover at 2027-01-02), each change with its reason, instant and config revision;
several logs merge; lines certops cannot read are skipped, not fatal."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from certops.sandbox import init_sandbox
from tests.cli.conftest import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def git(folder: Path, *args: str) -> str:
    ran = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    )
    return ran.stdout.strip()


def demo_year(ws: Workspace) -> str:
    """The demo with examples/ in a git work tree, applied at 2026-12-01 (log a.jsonl)
    and at 2027-01-02 (log b.jsonl); returns the commit."""
    init_sandbox(ws.db, demo=True, overwrite=True)
    shutil.copytree(EXAMPLES, ws.root / "examples")
    git(ws.root, "init", "-q")
    git(ws.root, "add", "examples")
    git(ws.root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "c")
    ws.env["CERTOPS_AT"] = None
    for at, log in (("2026-12-01", "a.jsonl"), ("2027-01-02", "b.jsonl")):
        ran = ws.run("apply", "examples", "--yes", "--at", at, "--audit-log", log)
        assert ran.code == 0, ran.output
    return git(ws.root, "rev-parse", "HEAD")


def test_history_of_jdoe_after_the_demo_year(ws: Workspace) -> None:
    commit = demo_year(ws)
    ran = ws.run("history", "jdoe", "--log", "a.jsonl", "--log", "b.jsonl", "--format", "json")
    assert ran.code == 0, ran.output
    entries = ran.json()["entries"]
    seen = [(e["at"], e["product"], e["course"], e["action"]) for e in entries]
    assert seen == [
        ("2026-12-01T00:00:00Z", "gadget-max", "CERT-GM", "create"),
        ("2026-12-01T00:00:00Z", "widget-pro", "CERT-WP", "create"),
        ("2026-12-01T00:00:00Z", "gadget-max", "MOC-GM-2026", "update"),
        ("2027-01-02T00:00:00Z", "widget-pro", "MOC-WP-2027", "create"),
    ]
    by_course = {e["course"]: e for e in entries}
    assert by_course["CERT-GM"]["reason"].startswith("completed GM-101 on 2025-")
    assert by_course["CERT-GM"]["after"]["status"] == "completed"
    # jdoe's parental-leave extension moved the end of the 2026 enrollment.
    extension = by_course["MOC-GM-2026"]
    assert "extension until 2027-01-31: parental leave" in extension["reason"]
    assert extension["after"] == {"valid_until": "2027-02-01T00:00:00Z"}
    assert by_course["MOC-WP-2027"]["reason"] == (
        "owes period 2027: complete MOC-WP-2027 by 2027-12-31 (UTC)"
    )
    assert by_course["MOC-WP-2027"]["class"] == "schedule"  # due because 2027 opened
    for entry in entries:
        assert entry["result"] == "applied"
        assert entry["config"] == {"commit": commit, "dirty": False}
        assert entry["plan_digest"].startswith("sha256:")
        assert entry["time"].endswith("Z")
    assert {e["log"] for e in entries} == {"a.jsonl", "b.jsonl"}

    text = ws.run("history", "jdoe", "--log", "a.jsonl", "--log", "b.jsonl").stdout
    assert "widget-pro: created MOC-WP-2027 enrollment" in text
    assert "why: owes period 2027: complete MOC-WP-2027 by 2027-12-31 (UTC)" in text
    assert "at 2027-01-02T00:00:00Z, schedule, by " in text
    assert f"config {commit[:12]}" in text

    only = ws.run(
        "history", "jdoe", "--product", "widget-pro", "--log", "a.jsonl", "--log", "b.jsonl"
    )
    assert "gadget-max" not in only.stdout and "CERT-WP" in only.stdout


def test_history_reads_what_it_can(ws: Workspace) -> None:
    init_sandbox(ws.db, demo=True, overwrite=True)
    shutil.copytree(EXAMPLES, ws.root / "examples")
    # Outside a git work tree the revision is unknown, not an error.
    assert ws.run("apply", "examples", "--yes", "--at", "2026-12-01").code == 0
    log = ws.root / ".certops" / "audit.jsonl"
    with log.open("a", encoding="utf-8") as handle:
        # A write announced but not settled (no result) says nothing of what was done.
        intent = {"kind": "intent", "address": "enrollment.CERT-WP.jdoe", "action": "update"}
        handle.write(json.dumps(intent) + "\n")
        handle.write('{"address": "enrollment.CERT-WP.jdoe", "action": "upd\n')  # cut short
    ran = ws.run("history", "jdoe", "--format", "json")
    assert ran.code == 0, ran.output
    data = ran.json()
    assert data["skipped_lines"] == 1
    assert len(data["entries"]) == 3
    assert all(e["config"] == {"commit": None, "dirty": None} for e in data["entries"])
    nobody = ws.run("history", "nobody")
    assert "certops changed nothing for nobody" in nobody.stdout
    missing = ws.run("history", "jdoe", "--log", "nowhere.jsonl")
    assert missing.code == 1 and "no audit log at nowhere.jsonl" in missing.stderr
    assert json.loads(log.read_text(encoding="utf-8").splitlines()[0])["at"] == (
        "2026-12-01T00:00:00Z"
    )
