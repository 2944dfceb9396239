"""The Markdown plan a reviewer sees at the demo's rollover (2027-01-02, after certops took
the tenant over on 2026-12-01): the first screen shows each product's suspensions against
the limit and names every suspended learner, and the whole comment stays under GitHub's
65,536 characters at 10,000 learners."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from certops.plan.markdown import DEFAULT_MAX_BYTES, GITHUB_COMMENT_LIMIT
from certops.sandbox import init_sandbox
from tests.cli.conftest import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def rollover(ws: Workspace, learners: int) -> tuple[str, dict]:
    """The Markdown and JSON plans at 2027-01-02 after an apply at 2026-12-01."""
    init_sandbox(ws.db, demo=True, learners=learners, overwrite=True)
    shutil.copytree(EXAMPLES, ws.root / "examples")
    ws.env["CERTOPS_AT"] = None
    applied = ws.run("apply", "examples", "--yes", "--at", "2026-12-01")
    assert applied.code == 0, applied.output
    ran = ws.run(
        "plan", "examples", "--at", "2027-01-02", "--format", "markdown", "--out", "plan.json"
    )
    assert ran.code == 0, ran.output
    return ran.stdout, json.loads((ws.root / "plan.json").read_text(encoding="utf-8"))


def first_screen(md: str) -> str:
    """Everything before the routine parts (manual steps, setup, bulk enrollments)."""
    return md[: md.index("#### Manual steps")]


def suspended(data: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for change in data["changes"]:
        if change["type"] == "enrollment" and change["after"].get("status") == "suspended":
            user = change["address"].split(".", 2)[2]
            out.setdefault(change["product"], set()).add(user)
    return out


def test_demo_rollover_first_screen(ws: Workspace) -> None:
    md, data = rollover(ws, 200)
    screen = first_screen(md)
    # The numbers the README tells, against the 25% limit, before anything else.
    assert "| widget-pro | 20 of 114 (18%) | 25% | within the limit |" in screen
    assert "| gadget-max | 9 of 47 (19%) | 25% | within the limit |" in screen
    assert "| sprocket | 6 of 36 (17%) | 25% | within the limit |" in screen
    assert screen.index("| product | suspensions |") < screen.index("#### Suspensions (35)")
    assert "**widget-pro**: 20 of 114 certified, limit 25%" in screen
    for product, users in suspended(data).items():
        for user in users:
            assert re.search(rf"[ ,]{re.escape(user)}(,|$)", screen, re.M), (product, user)
    # Routine parts are counted, not spelled out, up front.
    assert "- widget-pro: enroll 94 in MOC-WP-2027 as enrolled (schedule)" in md
    assert "- schedule · did not complete MOC-WP-2026 by 2026-12-31 (UTC) (20): " in screen


@pytest.mark.slow
@pytest.mark.parametrize("learners", [10_000])
def test_demo_rollover_at_10000_learners_fits_a_comment(ws: Workspace, learners: int) -> None:
    md, data = rollover(ws, learners)
    assert len(md) < GITHUB_COMMENT_LIMIT
    assert len(md.encode("utf-8")) <= DEFAULT_MAX_BYTES
    screen = first_screen(md)
    for limit in data["limits"]:
        share = round(100 * limit["suspensions"] / limit["certified"])
        row = f"| {limit['product']} | {limit['suspensions']} of {limit['certified']} ({share}%) "
        assert row in screen, row
    names = suspended(data)
    assert sum(len(u) for u in names.values()) > 1_000  # a real rollover, not a handful
    listed = set(re.findall(r"[\w.@-]+", screen))
    for product, users in names.items():
        missing = users - listed
        assert not missing, (product, sorted(missing)[:5])
    assert "not listed, for room" not in screen  # only routine parts were cut
