"""The article's year, end to end on the sandbox.

Set up on 2026-01-05; learners certify and complete the 2026 maintenance course through
the year (driven through the sandbox's learner stand-in); the rollover apply at
2027-01-02 suspends exactly those who did not complete MOC 2026, enrolls exactly those who
did into MOC 2027, and switches the manual steps; a second apply changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certops.sandbox import init_sandbox, load_dataset
from tests.e2e.harness import SandboxAdmin, certops

CONFIG = """\
version: 1
products:
  - id: widget-pro
    name: Widget Pro
    group: {name: "Certified: Widget Pro"}
    initial_paths:
      - {name: classic, all_of: [WP-101, WP-102]}
      - {name: exam, all_of: [WP-EXAM]}
    certified_course: {code: CERT-WP, name: "Certified: Widget Pro"}
    maintenance:
      periods:
        - id: "2026"
          course: {code: MOC-WP-2026, name: "Widget Pro: Maintenance of Certification 2026"}
          opens: 2026-01-01
          due: 2026-12-31
        - id: "2027"
          course: {code: MOC-WP-2027, name: "Widget Pro: Maintenance of Certification 2027"}
          opens: 2027-01-01
          due: 2027-12-31
    enrollment_rule: {name: "Certified: Widget Pro courses"}
    notifications:
      learner_enrolled: {name: "Maintenance of certification enrollment"}
      digest: {name: "Maintenance of certification not yet completed"}
settings:
  safety: {max_suspend_fraction: 0.6, min_population: 5}
"""

CLASSIC = [f"a{i:02}" for i in range(1, 11)]  # certified in 2025 by WP-101 + WP-102
EXAM = ["b01", "b02", "b03"]  # certified in 2025 by the exam


def dataset() -> str:
    users = [*CLASSIC, *EXAM, "c01", "d01", "n01"]
    lines = ["users:"]
    lines += [f"  - {{username: {u}, email: {u}@example.com}}" for u in users if u != "d01"]
    lines += ["  - {username: d01, email: d01@example.com, active: false}"]
    lines += [
        "courses:",
        "  - {code: WP-101, name: Widget Pro 101}",
        "  - {code: WP-102, name: Widget Pro 102}",
        "  - {code: WP-EXAM, name: Widget Pro exam}",
        "enrollments:",
    ]

    def done(user: str, course: str, day: str) -> str:
        return (
            f"  - {{user: {user}, course: {course}, status: completed, "
            f"enrolled_at: 2025-01-02T09:00:00Z, completed_at: {day}T12:00:00Z}}"
        )

    for n, user in enumerate([*CLASSIC, "d01"], start=1):
        lines += [done(user, "WP-101", f"2025-02-{n:02}"), done(user, "WP-102", f"2025-03-{n:02}")]
    for n, user in enumerate(EXAM, start=1):
        lines.append(done(user, "WP-EXAM", f"2025-05-{n:02}"))
    lines.append(done("c01", "WP-101", "2025-02-20"))  # never finishes the path
    lines.append("  - {user: n01, course: WP-EXAM, status: enrolled}")  # certifies in April
    return "\n".join(lines) + "\n"


@pytest.fixture()
def year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxAdmin:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DOCEBO_", "CERTOPS_")):
            monkeypatch.delenv(name)
    (tmp_path / "certops").mkdir()
    (tmp_path / "certops" / "widget-pro.yaml").write_text(CONFIG)
    (tmp_path / "data.yaml").write_text(dataset())
    db = tmp_path / "lms.db"
    init_sandbox(db)
    load_dataset(db, tmp_path / "data.yaml")
    monkeypatch.setenv("CERTOPS_LMS", f"sandbox:{db}")
    return SandboxAdmin(db)


def apply(at: str) -> str:
    run = certops("apply", "--yes", "--at", at)
    assert run.code == 0, run.stdout + run.stderr
    return run.stdout


def test_the_article_year(year: SandboxAdmin) -> None:
    # 2026-01-05: the one-time setup.
    year.clock("2026-01-05T09:00:00Z")
    first = apply("2026-01-05T09:00:00Z")
    assert "0 failed" in first
    certified_2025 = {*CLASSIC, *EXAM, "d01"}
    cert = year.enrollments("CERT-WP")
    # d01 is deactivated: their status is computed, but no new enrollment is created.
    assert set(cert) == certified_2025 - {"d01"}
    assert {e.status.value for e in cert.values()} == {"completed"}
    # The certified enrollment is completed as of the certification, not of the apply.
    assert cert["a01"].completed_at.isoformat() == "2025-03-01T12:00:00+00:00"
    moc = year.enrollments("MOC-WP-2026")
    assert set(moc) == certified_2025 - {"d01"}
    assert {e.valid_until.isoformat() for e in moc.values()} == {"2027-01-01T00:00:00+00:00"}

    # Through the year: n01 passes the exam in April and is picked up by the next run.
    year.clock("2026-04-10T10:00:00Z")
    year.progress("n01", "WP-EXAM", "completed", "2026-04-10T10:00:00Z")
    apply("2026-04-11T00:00:00Z")
    assert year.enrollments("CERT-WP")["n01"].status.value == "completed"
    assert "n01" in year.enrollments("MOC-WP-2026")

    # Maintenance completions: a01..a06 during the year, a07 one second before the
    # deadline (counts), n01 in October; a08 starts but never finishes.
    for n, user in enumerate(CLASSIC[:6], start=1):
        year.progress(user, "MOC-WP-2026", "completed", f"2026-{n + 2:02}-15T08:00:00Z")
    year.progress("a07", "MOC-WP-2026", "completed", "2026-12-31T23:59:59Z")
    year.progress("n01", "MOC-WP-2026", "completed", "2026-10-01T08:00:00Z")
    year.progress("a08", "MOC-WP-2026", "in_progress", "2026-11-01T08:00:00Z")
    met = {*CLASSIC[:7], "n01"}

    # Before the rollover nothing changes for learners (manual steps aside).
    mid = certops("plan", "--format", "json", "--at", "2026-12-31T23:59:59Z").json()
    assert [c for c in mid["changes"] if c["type"] == "enrollment"] == []
    rules_2026 = {c["address"]: c for c in mid["changes"] if c["action"] == "manual"}

    # The rollover preview, then the rollover.
    year.clock("2027-01-02T00:00:00Z")
    preview = certops("plan", "--format", "json", "--at", "2027-01-02").json()
    suspended = {
        c["address"].split(".", 2)[2]
        for c in preview["changes"]
        if c["address"].startswith("enrollment.CERT-WP.") and c["after"] == {"status": "suspended"}
    }
    did_not_meet = (certified_2025 | {"n01"}) - met
    # d01 has no certified enrollment (never created: deactivated), so nothing to suspend.
    assert suspended == did_not_meet - {"d01"}
    reasons = {
        c["reason"] for c in preview["changes"] if c["address"].startswith("enrollment.CERT-WP.")
    }
    assert reasons == {"did not complete MOC-WP-2026 by 2026-12-31 (UTC)"}
    rules_2027 = {c["address"]: c for c in preview["changes"] if c["action"] == "manual"}
    rule = "enrollment_rule.Certified: Widget Pro courses"
    assert rules_2026[rule]["fingerprint"] != rules_2027[rule]["fingerprint"]
    assert any("MOC-WP-2027" in step for step in rules_2027[rule]["steps"])

    apply("2027-01-02T00:00:00Z")
    cert = year.enrollments("CERT-WP")
    assert {u for u, e in cert.items() if e.status.value == "suspended"} == suspended
    assert {u for u, e in cert.items() if e.status.value == "completed"} == met
    moc27 = year.enrollments("MOC-WP-2027")
    assert set(moc27) == met
    assert {e.valid_until.isoformat() for e in moc27.values()} == {"2028-01-01T00:00:00+00:00"}
    # Progress in the old course is history: a08 is still in progress there.
    assert year.enrollments("MOC-WP-2026")["a08"].status.value == "in_progress"

    # A second apply changes nothing.
    again = apply("2027-01-02T00:00:00Z")
    assert "0 applied" in again
    replan = certops("plan", "--format", "json", "--at", "2027-01-02").json()
    assert [c for c in replan["changes"] if c["action"] != "manual"] == []
