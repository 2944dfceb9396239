"""Deadline awareness on the demo: the digest ladder's dated steps and the deadline warnings.

The demo's 2026 periods are all due 2026-12-31 and the examples follow the default ladder
(monthly from 90 days before the deadline, weekly from 30, daily from 7), so a plan on
2026-10-15, 2026-12-05 and 2026-12-26 asks for the monthly, weekly and daily schedule of
each product's digest. The warning counts are computed here from the demo dataset's
definition and the examples' YAML, not by the engine.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from certops.sandbox import init_sandbox
from certops.sandbox.demo import demo_dataset
from tests.cli.conftest import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DUE = date(2026, 12, 31)
# (instant, rung expected then, days left before the 2026-12-31 deadline)
LADDER = [
    ("2026-10-15", "monthly", 77),
    ("2026-12-05", "weekly", 26),
    ("2026-12-26", "daily", 5),
]


def demo(ws: Workspace) -> None:
    init_sandbox(ws.db, demo=True, overwrite=True)
    shutil.copytree(EXAMPLES, ws.root / "examples")


def examples() -> list[dict[str, Any]]:
    """The products of the examples, read as plain YAML."""
    products: list[dict[str, Any]] = []
    for file in sorted(EXAMPLES.glob("*.yaml")):
        products += yaml.safe_load(file.read_text(encoding="utf-8")).get("products") or []
    return products


def digests() -> dict[str, str]:
    """Product id -> the name of its digest notification (products that name one)."""
    return {
        p["id"]: p["notifications"]["digest"]["name"]
        for p in examples()
        if "digest" in (p.get("notifications") or {})
    }


def expected_counts(product: dict[str, Any], at: datetime) -> dict[str, int]:
    """Who owes the 2026 period at ``at`` and how far they are, from the dataset alone.

    The demo enrolls everyone who owes 2026 under the examples' rules in the period's
    course; a learner whose certification the examples revoke before ``at`` owes nothing
    any more. Completed means completed before ``at``; in progress: started (status in
    progress); not started: enrolled only."""
    [period] = [p for p in product["maintenance"]["periods"] if p["id"] == "2026"]
    course = period["course"]["code"]
    revoked = {
        r["user"]
        for r in product.get("revocations") or []
        if datetime.fromisoformat(str(r["at"]).replace("Z", "+00:00")) <= at
    }
    extended = {e["user"] for e in product.get("extensions") or [] if e["period"] == "2026"}
    counts = {"owed": 0, "completed": 0, "in_progress": 0, "not_started": 0, "extended": 0}
    for row in demo_dataset()["enrollments"]:
        if row["course"] != course or row["user"] in revoked:
            continue
        counts["owed"] += 1
        done = row.get("completed_at")
        if row["status"] == "completed" and done and datetime.fromisoformat(done) < at:
            counts["completed"] += 1
            continue
        counts["in_progress" if row["status"] != "enrolled" else "not_started"] += 1
        counts["extended"] += row["user"] in extended
    return counts


def warning_text(product_id: str, days: int, c: dict[str, int]) -> str:
    text = (
        f"{product_id}: 2026 due in {days} days (2026-12-31); "
        f"{c['in_progress'] + c['not_started']} of {c['owed']} who owe it have not completed "
        f"({c['in_progress']} in progress, {c['not_started']} not started)"
    )
    if c["extended"]:
        text += f"; {c['extended']} of them has an extension past 2026-12-31"
    return text


def plan(ws: Workspace, at: str, *args: str) -> str:
    ran = ws.run("plan", "examples", "--at", at, *args)
    assert ran.code in (0, 2), ran.output
    return ran.stdout


def schedule(name: str, every: str) -> str:
    return f"notification.{name}.schedule.{every}"


def test_each_rung_shows_on_its_day_and_is_acknowledged_alone(ws: Workspace) -> None:
    demo(ws)
    names = digests()
    assert sorted(names) == ["gadget-max", "widget-pro"]  # Sprocket names no digest
    for at, every, _ in LADDER:
        text = plan(ws, at)
        for product_id, name in names.items():
            # The rung in force, in the words, and no other rung.
            assert f"! {schedule(name, every)}" in text, (at, product_id)
            assert (
                f'# set the digest "{name}" to {every}: '
                f"{ {'monthly': 90, 'weekly': 30, 'daily': 7}[every] } days before the "
                f"2026-12-31 deadline ({product_id}, period 2026)"
            ) in text
            others = {"monthly", "weekly", "daily"} - {every}
            assert not any(schedule(name, o) in text for o in others), (at, product_id)
        # Acknowledged at that instant, the rung stops showing...
        acked = ws.run(
            "ack", "--config", "examples", "--at", at, *(schedule(n, every) for n in names.values())
        )
        assert acked.code == 0, acked.output
        assert ".schedule." not in plan(ws, at)
    # ...and each rung acknowledged stays done: the ack file keeps every rung, so an
    # earlier instant shows none of them again.
    ack_file = yaml.safe_load((ws.root / "examples" / ".certops-ack.yaml").read_text())
    for name in names.values():
        for every in ("monthly", "weekly", "daily"):
            assert schedule(name, every) in ack_file["acknowledged"]
    for at, _, _ in LADDER:
        assert ".schedule." not in plan(ws, at)
    # No rung yet 91 days before the deadline; none after it (2027's starts in October).
    assert ".schedule." not in plan(ws, "2026-10-01")
    assert ".schedule." not in plan(ws, "2027-01-02")
    assert f"! {schedule(names['widget-pro'], 'monthly')}" in plan(ws, "2027-10-02")


def test_the_next_rung_appears_when_its_day_comes(ws: Workspace) -> None:
    demo(ws)
    name = digests()["widget-pro"]
    acked = ws.run("ack", "--config", "examples", "--at", "2026-10-15", schedule(name, "monthly"))
    assert acked.code == 0, acked.output
    # The last day of the monthly rung: nothing left for this digest's schedule.
    assert schedule(name, "monthly") not in plan(ws, "2026-11-30")
    assert schedule(name, "weekly") not in plan(ws, "2026-11-30")
    # 30 days before the deadline: the weekly rung, with its date and the next switch.
    weekly = plan(ws, "2026-12-01")
    assert f"! {schedule(name, 'weekly')}" in weekly
    assert "from 2026-12-01, 30 days before the 2026-12-31 deadline" in weekly
    assert "Next switch: daily from 2026-12-24" in weekly


def test_deadline_warnings_count_who_has_not_completed(ws: Workspace) -> None:
    demo(ws)
    products = {p["id"]: p for p in examples()}
    # 77 days before the deadline: further than the first warning day (30).
    assert "who owe it" not in plan(ws, "2026-10-15")
    for at, _, days in LADDER[1:]:
        instant = datetime.fromisoformat(at).replace(tzinfo=UTC)
        expected = {pid: expected_counts(p, instant) for pid, p in products.items()}
        assert all(c["in_progress"] + c["not_started"] for c in expected.values())
        text = plan(ws, at)
        for pid, counts in expected.items():
            assert warning_text(pid, days, counts) in text, (at, pid)
        # The same warnings, structured, in the JSON plan...
        data = json.loads(plan(ws, at, "--format", "json"))
        found = {w["product"]: w for w in data["warnings"] if w.get("kind") == "deadline"}
        assert sorted(found) == sorted(products)
        for pid, counts in expected.items():
            details = found[pid]["details"]
            assert details["days_left"] == days and details["due"] == DUE.isoformat()
            assert details["warning_days"] == (30 if days > 7 else 7)
            for key, value in counts.items():
                assert details[key] == value, (at, pid, key)
            assert details["not_completed"] == counts["in_progress"] + counts["not_started"]
            assert found[pid]["message"] == warning_text(pid, days, counts).split(": ", 1)[1]
        # ...and in the pull-request comment.
        md = plan(ws, at, "--format", "markdown")
        for pid, counts in expected.items():
            assert f"- {warning_text(pid, days, counts)}" in md
