"""Issue 5's acceptance run: the examples on a fresh demo sandbox, as the README tells it."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from conftest import Workspace

from certops.config import load_config
from certops.live import read_live
from certops.lms import connect
from certops.sandbox import init_sandbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = "2026-11-28T00:00:00Z"  # after the demo data (all at or before 2026-11-01)


def plan_json(ws: Workspace, *args: str) -> dict:
    ran = ws.run("plan", "examples", "--format", "json", *args)
    assert ran.code in (0, 3), ran.output
    return json.loads(ran.stdout)


def demo(ws: Workspace) -> None:
    init_sandbox(ws.db, demo=True, overwrite=True)
    shutil.copytree(EXAMPLES, ws.root / "examples")
    ws.env["CERTOPS_AT"] = NOW


def test_examples_on_the_demo_sandbox(ws: Workspace) -> None:
    demo(ws)
    # 1. The first plan shows the whole setup.
    first = ws.run("plan", "examples")
    assert first.code == 0, first.output
    assert first.stdout.splitlines()[:3] == [
        "gadget-max: 100 to create, 4 manual",
        "sprocket: 75 to create",
        "widget-pro: 249 to create, 4 manual",
    ]
    for address in (
        "+ course.CERT-GM",
        "+ course.MOC-GM-2027",
        "+ course.CERT-SP",
        "+ course.MOC-WP-2026",
        "+ catalog_item.SF-SYNC.CERT-WP",
        "+ group.Certified: Widget Pro",
        "! enrollment_rule.Certified: Gadget Max courses",
        "! notification.New Widget Pro certification",
    ):
        assert address in first.stdout, address
    # 2. Apply creates it.
    applied = ws.run("apply", "examples", "--yes")
    assert applied.code == 0, applied.output
    assert "Apply: 424 applied, 0 failed, 0 skipped, 8 manual" in applied.stdout
    # 3. The second plan has only manual steps, which can be acknowledged...
    second = plan_json(ws)
    assert second["summary"] == {"create": 0, "update": 0, "manual": 8, "blocked": False}
    manual = [c["address"] for c in second["changes"]]
    assert all(a.startswith(("enrollment_rule.", "notification.")) for a in manual)
    acked = ws.run("ack", "--config", "examples", *manual)
    assert acked.code == 0, acked.output
    assert f"Acknowledged {len(manual)} step(s)" in acked.stdout
    # ...and then there is nothing left to do.
    assert ws.run("plan", "examples", "--detailed-exitcode").code == 0
    # 4. In the next period the plan shows the manual rollover switch.
    rollover = ws.run("plan", "examples", "--at", "2027-01-02")
    text = rollover.stdout
    assert "! enrollment_rule.Certified: Gadget Max courses" in text
    assert "Set the target courses to CERT-GM and MOC-GM-2027; remove MOC-GM-2026" in text
    assert "Set the target courses to CERT-WP and MOC-WP-2027" in text
    assert "Under Courses, select MOC-GM-2027" in text
    # Nobody in the demo has done their 2026 maintenance yet: the suspensions trip the limit.
    assert rollover.code == 3 and "Blocked by safety limits" in text


def test_markdown_of_the_demo_plan_fits_a_pull_request_comment(ws: Workspace) -> None:
    demo(ws)
    ran = ws.run("plan", "examples", "--format", "markdown")
    assert ran.code == 0, ran.output
    md = ran.stdout
    assert len(md) < 60_000
    table = md.index("| product | create | update | manual |")
    assert table < md.index("<details>")
    assert "| widget-pro | 249 | 0 | 4 |" in md
    assert md.count("<details>") == md.count("</details>") >= 3


def test_api_calls_of_a_plan_on_the_demo_sandbox(ws: Workspace) -> None:
    """The whole read costs a handful of calls, independent of the number of changes."""
    demo(ws)
    config = load_config([str(ws.root / "examples")])

    async def read() -> dict[str, int]:
        connection = connect(ws.lms)
        async with connection as reader:
            await read_live(reader, config)
        return connection.call_counts

    fresh = asyncio.run(read())
    assert fresh == {
        "POST /oauth2/token": 1,
        "GET /learn/v1/courses": 1,
        "GET /learn/v1/courses/{id}": 1,  # MOC-WP-2025, the only managed course there yet
        "GET /learn/v1/catalog": 1,
        "GET /learn/v1/catalog/{id}": 1,
        "GET /manage/v1/group": 1,
        "GET /manage/v1/user": 2,  # 203 users, 200 a page
        "GET /course/v1/courses/enrollments": 3,
    }
    assert ws.run("apply", "examples", "--yes").code == 0
    set_up = asyncio.run(read())
    assert set_up["GET /learn/v1/courses/{id}"] == 9  # one detail read per managed course
    assert set_up["GET /manage/v1/group/{id}"] == 3  # one per product group
    assert sum(set_up.values()) == 24
