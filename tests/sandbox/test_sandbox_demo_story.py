"""The demo tenant tells the article's story: an admin who ran 2026 by hand adopts certops.

Through the real console entry point on an in-process sandbox (as a user runs the README's
quick start): ``sandbox init --demo``, the first plan and apply on 2026-12-01, the rollover
preview on 2027-01-02 (under the 25% safety limit), the rollover, and a plan with only
manual steps left. The per-product figures are the ones the README quotes.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from certops.sandbox.demo import demo_dataset
from tests.e2e.harness import SandboxAdmin, certops
from tests.support import Ran

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PRODUCTS = {"widget-pro": "WP", "gadget-max": "GM", "sprocket": "SP"}
# The default demo (200 learners, seed 0) at the rollover, per product: learners certified
# in the LMS before it, how many completed the 2026 course, how many are suspended and how
# many are enrolled into 2027's course (Sprocket has no 2027 period).
FIGURES = {
    "widget-pro": {"certified": 114, "completed_2026": 93, "suspend": 20, "enroll_2027": 94},
    "gadget-max": {"certified": 47, "completed_2026": 37, "suspend": 9, "enroll_2027": 37},
    "sprocket": {"certified": 36, "completed_2026": 30, "suspend": 6, "enroll_2027": 0},
}


@pytest.fixture()
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxAdmin:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DOCEBO_", "CERTOPS_")):
            monkeypatch.delenv(name)
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    db = tmp_path / "demo.db"
    made = certops("sandbox", "init", str(db), "--demo")
    assert made.code == 0, made.stdout + made.stderr
    monkeypatch.setenv("CERTOPS_LMS", f"sandbox:{db}")
    return SandboxAdmin(db)


def ok(run: Ran) -> Ran:
    assert run.code == 0, run.stdout + run.stderr
    return run


def plan(at: str) -> dict[str, Any]:
    return ok(certops("plan", "examples", "--format", "json", "--at", at)).json()


def by_action(changes: list[dict[str, Any]], prefix: str) -> dict[str, set[str]]:
    """The last part of the addresses under ``prefix``, by action."""
    found: dict[str, set[str]] = {}
    for change in changes:
        if change["address"].startswith(prefix):
            found.setdefault(change["action"], set()).add(change["address"][len(prefix) :])
    return found


def test_the_demo_tells_the_article_story(demo: SandboxAdmin) -> None:
    data = demo_dataset()  # what `init --demo` loaded: the default learners and seed
    active = {u["username"] for u in data["users"] if u["active"]}
    moc_2026 = {
        code: {e["user"]: e for e in data["enrollments"] if e["course"] == f"MOC-{code}-2026"}
        for code in PRODUCTS.values()
    }

    # 1. The first plan, late in 2026: certops creates what the admin never made and
    # corrects the hand-made 2026 courses' settings; the admin's 2026 enrollments already
    # cover everyone who owes the period, so none is created.
    first = plan("2026-12-01")
    courses = by_action(first["changes"], "course.")
    # Docebo does not show a course's visibility: the admin checks it by hand once.
    assert courses.pop("manual") == {
        "MOC-WP-2025", "MOC-WP-2026", "MOC-WP-2027", "MOC-GM-2026", "MOC-GM-2027", "MOC-SP-2026"
    }  # fmt: skip
    assert courses == {
        "create": {"CERT-WP", "CERT-GM", "CERT-SP", "MOC-WP-2027", "MOC-GM-2027"},
        "update": {"MOC-WP-2026", "MOC-GM-2026", "MOC-SP-2026"},
    }
    for change in first["changes"]:
        if change["address"] == "course.MOC-GM-2026" and change["action"] == "update":
            assert change["before"]["self_unenrollment"] is True
            assert change["before"]["soft_deadline"] is True
            assert change["after"]["date_end"] == "2027-01-01T00:00:00Z"
    assert by_action(first["changes"], "group.") == {
        "create": {"Certified: Widget Pro", "Certified: Gadget Max", "Certified: Sprocket"}
    }
    for code in PRODUCTS.values():
        # Only jdoe's Gadget Max enrollment changes: her extension moves its end.
        expected = {"update": {"jdoe"}} if code == "GM" else {}
        assert by_action(first["changes"], f"enrollment.MOC-{code}-2026.") == expected
    ok(certops("apply", "examples", "--yes", "--at", "2026-12-01"))
    assert demo.enrollments("MOC-GM-2026")["jdoe"].valid_until.isoformat() == (
        "2027-02-01T00:00:00+00:00"
    )

    # 2. The rollover preview: suspensions of those who did not complete 2026, 2027
    # enrollments for those who did, the manual switch, and no safety trip.
    preview = certops("plan", "examples", "--format", "json", "--at", "2027-01-02")
    assert preview.code == 0, preview.stdout + preview.stderr
    rollover = preview.json()
    assert rollover["summary"]["blocked"] is False and rollover["safety"] == []
    figures: dict[str, dict[str, int]] = {}
    for product, code in PRODUCTS.items():
        cert = demo.enrollments(f"CERT-{code}")
        certified = {u for u, e in cert.items() if e.status.value == "completed"}
        done = {u for u, e in moc_2026[code].items() if "completed_at" in e}
        suspended = by_action(rollover["changes"], f"enrollment.CERT-{code}.")
        enrolled = by_action(rollover["changes"], f"enrollment.MOC-{code}-2027.")
        assert set(suspended) <= {"update"} and set(enrolled) <= {"create"}
        suspend = suspended.get("update", set())
        enroll = enrolled.get("create", set())
        figures[product] = {
            "certified": len(certified),
            "completed_2026": len(done & certified),
            "suspend": len(suspend),
            "enroll_2027": len(enroll),
        }
        # Exactly the certified learners who did not complete 2026 lapse (jdoe's Gadget
        # Max deadline is extended to 2027-01-31)...
        assert suspend == (certified & set(moc_2026[code])) - done - {"jdoe"}
        assert len(suspend) / len(certified) <= 0.25
        # ...and every active 2026 completer moves on to 2027 (Widget Pro also enrolls
        # those certified too late in 2026 to owe it: its 90-day grace).
        if code == "SP":
            assert enroll == set()
        else:
            assert enroll >= done & active
            assert not (enroll - done) & set(moc_2026[code])
    assert figures == FIGURES
    assert "asmith" in by_action(rollover["changes"], "enrollment.CERT-GM.")["update"]
    reasons = Counter(
        c["reason"] for c in rollover["changes"] if c["address"].startswith("enrollment.CERT-")
    )
    assert set(reasons) == {
        f"did not complete MOC-{code}-2026 by 2026-12-31 (UTC)" for code in PRODUCTS.values()
    }
    steps = {c["address"]: c["steps"] for c in rollover["changes"] if c["action"] == "manual"}
    assert any("MOC-GM-2027" in s for s in steps["enrollment_rule.Certified: Gadget Max courses"])
    assert any("MOC-WP-2027" in s for s in steps["enrollment_rule.Certified: Widget Pro courses"])

    # 3. The rollover, then only the manual steps are left.
    ok(certops("apply", "examples", "--yes", "--at", "2027-01-02"))
    after = plan("2027-01-02")
    assert after["changes"] and {c["action"] for c in after["changes"]} == {"manual"}
    assert "jdoe" not in demo.enrollments("MOC-GM-2027")


def test_the_2026_year_was_run_by_hand_as_the_examples_say() -> None:
    data = demo_dataset(2000, seed=7)
    courses = {c["code"]: c for c in data["courses"]}
    for code, product in (("WP", "Widget Pro"), ("GM", "Gadget Max"), ("SP", "Sprocket")):
        course = courses[f"MOC-{code}-2026"]
        assert course["name"] == f"{product}: Maintenance of Certification 2026"
        assert course["self_unenrollment"] and course["soft_deadline"]
        assert "date_begin" not in course and "date_end" not in course
        rows = [e for e in data["enrollments"] if e["course"] == f"MOC-{code}-2026"]
        statuses = Counter(e["status"] for e in rows)
        assert 0.80 <= statuses["completed"] / len(rows) <= 0.85, statuses
        assert statuses["in_progress"] and statuses["enrolled"]
        for row in rows:
            assert (row["valid_from"], row["valid_until"]) == ("2026-01-01", "2026-12-31")
            if row["status"] == "completed":
                assert "2026-02-01" <= row["completed_at"] <= "2026-11-20T17:00:00Z"
                assert row["completed_at"] > row["enrolled_at"]
    named = {
        (e["user"], e["course"]): e["status"]
        for e in data["enrollments"]
        if e["user"] in ("jdoe", "asmith", "bcole") and e["course"].startswith("MOC-")
    }
    assert named == {
        ("jdoe", "MOC-WP-2025"): "completed",
        ("jdoe", "MOC-WP-2026"): "completed",
        ("jdoe", "MOC-GM-2026"): "in_progress",
        ("asmith", "MOC-WP-2025"): "in_progress",
        ("asmith", "MOC-GM-2026"): "enrolled",
        ("bcole", "MOC-WP-2025"): "completed",
        ("bcole", "MOC-WP-2026"): "completed",
        ("bcole", "MOC-GM-2026"): "in_progress",
    }


@pytest.mark.parametrize("learners", [40, 300, 5000])
def test_non_completers_stay_under_the_safety_limit_at_any_size(learners: int) -> None:
    """The 2026 outcomes are spread evenly, so no size or seed trips the 25% limit by luck."""
    for seed in range(3):
        rows = demo_dataset(learners, seed)["enrollments"]
        for code in PRODUCTS.values():
            course = [e for e in rows if e["course"] == f"MOC-{code}-2026"]
            missing = sum(e["status"] != "completed" for e in course)
            assert missing <= 0.22 * len(course) + 3, (learners, seed, code)
