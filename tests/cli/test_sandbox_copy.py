"""``certops sandbox init --from LMS``: a copy of what certops reads from a tenant (here the
demo, served over HTTP as a tenant is), on which the plan at an instant is the plan on the
source at that instant; ``--pseudonymize`` leaves no source name or e-mail in it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from test_references_by_hand import _served_demo, _writes

from certops.sandbox import init_sandbox
from tests.cli.conftest import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _demo_after_takeover(ws: Workspace) -> None:
    init_sandbox(ws.db, demo=True, overwrite=True)
    shutil.copytree(EXAMPLES, ws.root / "examples", ignore=shutil.ignore_patterns("ci"))
    assert ws.run("apply", "examples", "--yes", "--at", "2026-12-01").code == 0


def _plan(ws: Workspace, at: str, **env: str | None) -> dict[str, Any]:
    ran = ws.run("plan", "examples", "--at", at, "--format", "json", **env)
    assert ran.code in (0, 3), ran.output
    plan = ran.json()
    plan.pop("lms"), plan.pop("digest")
    return plan


@pytest.mark.slow
def test_a_plan_on_the_copy_is_the_plan_on_the_source(ws: Workspace) -> None:
    _demo_after_takeover(ws)
    copy = ws.root / "copy.db"
    with _served_demo(ws) as served:
        served.clear_calls()
        made = ws.run("sandbox", "init", str(copy), "--from", served.url, "--config", "examples")
        assert made.code == 0, made.output
        assert "with a copy of http://127.0.0.1:" in made.stdout
        assert _writes(served) == []  # the copy only reads
        source = {at: _plan(ws, at) for at in ("2026-12-15", "2027-01-02", "2027-02-15")}
    for at, plan in source.items():
        on_copy = _plan(ws, at, CERTOPS_LMS=f"sandbox:{copy}")
        assert on_copy == plan, at
    assert any(c["after"].get("status") == "suspended" for c in source["2027-01-02"]["changes"])
    # A rehearsal on the copy changes the copy only, and reset brings the copy back.
    # (Its own audit log: the classes of the plans compared read the default one.)
    rehearsal = ws.run("apply", "examples", "--yes", "--force", "--at", "2027-01-02",
                       "--audit-log", "rehearsal.jsonl", CERTOPS_LMS=f"sandbox:{copy}")  # fmt: skip
    assert rehearsal.code == 0, rehearsal.output
    assert _plan(ws, "2027-01-02", CERTOPS_LMS=f"sandbox:{copy}") != source["2027-01-02"]
    assert ws.run("sandbox", "reset", "--db", str(copy), "--yes").code == 0
    assert _plan(ws, "2027-01-02", CERTOPS_LMS=f"sandbox:{copy}") == source["2027-01-02"]


def test_a_pseudonymized_copy_holds_no_source_name_or_email(ws: Workspace) -> None:
    _demo_after_takeover(ws)
    with sqlite3.connect(ws.db) as conn:
        people = conn.execute("SELECT username, email, first_name, last_name FROM users")
        source = [row for row in people if row[0] != "admin"]
    copy = ws.root / "copy.db"
    with _served_demo(ws) as served:
        made = ws.run(
            "sandbox", "init", str(copy), "--from", served.url, "--config", "examples",
            "--pseudonymize",
        )  # fmt: skip
        assert made.code == 0, made.output
        plan = _plan(ws, "2027-01-02")
    raw = copy.read_bytes()
    for conn_file in (copy.with_name("copy.db-wal"),):
        if conn_file.exists():
            raw += conn_file.read_bytes()
    named = {"jdoe", "asmith", "bcole"}  # the configuration's exceptions name them
    for username, email, _first, last in source:
        assert email.encode() not in raw, email
        assert last.encode() not in raw, last
        if username not in named:
            assert f'"{username}"'.encode() not in raw and username.encode() not in raw
    with sqlite3.connect(copy) as conn:
        copied = conn.execute("SELECT username, first_name, last_name FROM users").fetchall()
    sources_names = {(first, last) for _, _, first, last in source}
    assert not any((first, last) in sources_names for _, first, last in copied)
    assert {u for u, _, _ in copied} >= named
    # The rehearsal counts are the source's: the same learners, under other names.
    on_copy = _plan(ws, "2027-01-02", CERTOPS_LMS=f"sandbox:{copy}")
    assert on_copy["summary"] == plan["summary"]
    assert [(s["product"], s["suspensions"]) for s in on_copy["safety"]] == [
        (s["product"], s["suspensions"]) for s in plan["safety"]
    ]
    assert json.dumps(on_copy).count('"user": "jdoe"') == json.dumps(plan).count('"user": "jdoe"')
