"""A period configured with 29 days left, end to end through the CLI and the sandbox.

51 certified learners; the 2026 period opens 2026-12-02 and is due 2026-12-31, so the
plan on its first day enrolls 50 of them (one already completed the course) with 29 days
to go. The plan says so, with the count, before anything is applied; a month later the
safety limit blocks the mass lapse and says "would suspend 50 of 51", not 0.980392.
"""

from __future__ import annotations

import json
from typing import Any

from certops.sandbox import init_sandbox
from tests.cli.conftest import Workspace

LEARNERS = [f"learner{i:02}" for i in range(1, 52)]

CONFIG = """\
version: 1
products:
  - id: sprint
    name: Sprint
    group: {name: "Certified: Sprint"}
    initial_paths:
      - {name: basics, all_of: [S-101]}
    certified_course: {code: CERT-S, name: "Certified: Sprint"}
    maintenance:
      periods:
        - id: "2026"
          course: {code: MOC-S-2026, name: "Sprint: Maintenance of Certification 2026"}
          opens: 2026-12-02
          due: 2026-12-31
settings:
  safety: {max_suspend_fraction: 0.25, min_population: 20}
"""


def dataset() -> dict[str, Any]:
    enrollments: list[dict[str, Any]] = [
        {
            "user": user,
            "course": "S-101",
            "status": "completed",
            "enrolled_at": "2025-03-01T09:00:00Z",
            "completed_at": "2025-03-02T12:00:00Z",
        }
        for user in LEARNERS
    ]
    # The one learner who does the maintenance course in time.
    enrollments.append(
        {
            "user": LEARNERS[0],
            "course": "MOC-S-2026",
            "status": "completed",
            "enrolled_at": "2026-11-30T09:00:00Z",
            "completed_at": "2026-12-01T12:00:00Z",
        }
    )
    return {
        "users": [{"username": u, "email": f"{u}@example.com"} for u in LEARNERS],
        "courses": [
            {"code": "S-101", "name": "Sprint 101", "published": True},
            {"code": "MOC-S-2026", "name": "Sprint: Maintenance of Certification 2026"},
        ],
        "enrollments": enrollments,
    }


def setup(ws: Workspace) -> None:
    init_sandbox(ws.db, overwrite=True)
    ws.load(dataset())
    (ws.root / "short").mkdir()
    (ws.root / "short" / "sprint.yaml").write_text(CONFIG, encoding="utf-8")


def test_a_period_with_29_days_left_warns_with_its_learner_count(ws: Workspace) -> None:
    setup(ws)
    warned = ws.run("plan", "short", "--at", "2026-12-02")
    assert warned.code == 0, warned.output
    assert (
        "sprint: this plan enrolls 50 learners into period 2026 (MOC-S-2026) with 29 days "
        "left before its due date (2026-12-31), fewer than settings.min_period_days (60)"
    ) in warned.stdout
    # The 50 enrollments are really in the plan (the count is not a guess).
    data = json.loads(ws.run("plan", "short", "--at", "2026-12-02", "--format", "json").stdout)
    creates = [
        c
        for c in data["changes"]
        if c["address"].startswith("enrollment.MOC-S-2026.") and c["action"] == "create"
    ]
    assert len(creates) == 50
    [short] = [w for w in data["warnings"] if w.get("kind") == "short_period"]
    assert short["details"] == {
        "period": "2026",
        "course": "MOC-S-2026",
        "opens": "2026-12-02",
        "due": "2026-12-31",
        "days_left": 29,
        "min_period_days": 60,
        "enrolls": 50,
    }
    # Before the period opens, the plan already says how short it will be.
    early = ws.run("plan", "short", "--at", "2026-11-01")
    assert (
        "sprint: period 2026 opens 2026-12-02, only 29 days before its due date (2026-12-31)"
        in early.stdout
    )
    # A setting of 29 or less accepts it: no warning.
    relaxed = ws.root / "relaxed"
    relaxed.mkdir()
    (relaxed / "sprint.yaml").write_text(
        CONFIG.replace("settings:\n", "settings:\n  min_period_days: 29\n"), encoding="utf-8"
    )
    assert "min_period_days" not in ws.run("plan", "relaxed", "--at", "2026-12-02").stdout


def test_the_safety_limit_speaks_in_counts(ws: Workspace) -> None:
    setup(ws)
    applied = ws.run("apply", "short", "--yes", "--at", "2026-12-02")
    assert applied.code == 0, applied.output
    blocked = ws.run("plan", "short", "--at", "2027-01-02")
    assert blocked.code == 3, blocked.output
    assert (
        "sprint: would suspend 50 of 51 (98%, limit 25%; settings.safety.max_suspend_fraction)"
        in blocked.stdout
    )
    md = ws.run("plan", "short", "--at", "2027-01-02", "--format", "markdown").stdout
    assert "would suspend 50 of 51 (98%, limit 25%" in md
    # The JSON keeps the fraction and the threshold, and adds the counts.
    data = json.loads(ws.run("plan", "short", "--at", "2027-01-02", "--format", "json").stdout)
    [trip] = data["safety"]
    assert trip["value"] == 50 / 51 and trip["threshold"] == 0.25
    assert (trip["suspensions"], trip["certified"]) == (50, 51)
    refused = ws.run("apply", "short", "--yes", "--at", "2027-01-02")
    assert refused.code == 3
    assert "would suspend 50 of 51" in refused.output
