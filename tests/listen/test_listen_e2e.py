"""``certops listen`` end to end over real sockets: the sandbox serves and delivers
webhooks like Docebo, listen receives them and certifies within seconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from certops.lms.records import EnrollmentStatus
from tests.listen.harness import (
    audit_lines,
    make_site,
    start_listen,
)
from tests.support import run_certops, wait_for

YEAR = datetime.now(UTC).year


@pytest.mark.parametrize(
    "webhook",
    [
        {},
        # Grouped deliveries, every event delivered twice, up to 200 ms late.
        {"group_size": 5, "faults": {"duplicate_share": 1.0, "delay_ms": 200}},
    ],
    ids=["single", "grouped-duplicated-delayed"],
)
def test_a_completed_path_is_certified_within_two_seconds(
    site, tmp_path: Path, webhook: dict[str, Any]
):
    config, sandbox, admin = site
    assert admin.enrollment("alice", "CERT-AC") is None
    listen = start_listen(config, sandbox.url, tmp_path)
    try:
        admin.register_webhook(listen.url, **webhook)
        started = time.monotonic()
        admin.progress("alice", "AC-102")
        cert = wait_for(lambda: admin.enrollment("alice", "CERT-AC"), timeout=2.0)
        elapsed = time.monotonic() - started
        assert cert.status is EnrollmentStatus.COMPLETED
        # Certified as of the completion (the sandbox's now), not a later instant.
        completion = admin.enrollment("alice", "AC-102")
        assert cert.completed_at == completion.completed_at
        assert elapsed < 2.0
        trigger = admin.deliveries(user="alice", event="course.enrollment.completed")[0]
        lines = wait_for(lambda: audit_lines(tmp_path, "listen"), timeout=2.0)
        assert len(lines) == 1, lines
        assert lines[0]["user"] == "alice"
        # The event's key: its message_id, or the group's with its place in the group.
        key = trigger["message_id"]
        if trigger["group_id"] is not None:
            key = f"{trigger['group_id']}#{trigger['group_pos']}"
        assert lines[0]["message_ids"] == [key]
        # Certified, and enrolled in this year's maintenance course (grace 0 days).
        assert lines[0]["changes"] == [
            "enrollment.CERT-AC.alice",
            f"enrollment.MOC-AC-{YEAR}.alice",
        ]
        assert lines[0]["result"] == "applied"
        # Every intent and outcome line of those writes says which product and rule made
        # it and which message asked for it: what history shows, and all a kill -9 before
        # the summary line could not take away.
        written = audit_lines(tmp_path, "intent") + audit_lines(tmp_path, "done")
        listened = [x for x in written if x["plan_digest"] == "listen"]
        assert len(listened) == 4  # two writes: an intent and an outcome each
        for line in listened:
            assert line["product"] and line["reason"] and line["at"], line
            assert line["listen"]["message_ids"] == [key], line
        # listen's own write comes back as events; they change nothing and log nothing.
        wait_for(
            lambda: all(d["delivered_at"] for d in admin.deliveries(user="alice")), timeout=5.0
        )
        health = wait_for(
            lambda: (h := httpx.get(listen.url + "/healthz").json())["queue_depth"] == 0 and h,
            timeout=5.0,
        )
        assert health["dead_letters"] == 0
        assert health["last_success"]
        assert health["changes_applied"] == 2
        assert len(audit_lines(tmp_path, "listen")) == 1
        if webhook:
            assert health["counts"]["duplicates"] >= 1
    finally:
        assert listen.stop() == 0, listen.stderr()


def test_a_late_maintenance_completion_reinstates(site, tmp_path: Path):
    config, sandbox, admin = site
    before = admin.enrollment("lena", "CERT-AC")
    assert before is not None and before.status is EnrollmentStatus.SUSPENDED
    listen = start_listen(config, sandbox.url, tmp_path)
    try:
        admin.register_webhook(listen.url)
        admin.progress("lena", f"MOC-AC-{YEAR - 1}")
        wait_for(
            lambda: admin.enrollment("lena", "CERT-AC").status is EnrollmentStatus.COMPLETED,
            timeout=2.0,
        )
        lines = wait_for(lambda: audit_lines(tmp_path, "listen"), timeout=2.0)
        assert [line["user"] for line in lines] == ["lena"]
        assert "enrollment.CERT-AC.lena" in lines[0]["changes"]
        done = [
            line
            for line in audit_lines(tmp_path, "done")
            if line["address"] == "enrollment.CERT-AC.lena" and line["plan_digest"] == "listen"
        ]
        assert [(d["before"], d["after"]) for d in done] == [
            ({"status": "suspended"}, {"status": "completed"})
        ]
    finally:
        listen.stop()
    # What listen did is what the nightly apply would have done: its plan is now empty.
    plan = run_certops("plan", str(config), "--lms", sandbox.url, "--format", "json")
    assert plan.code == 0, plan.output
    assert [c["address"] for c in plan.json()["changes"] if c["type"] == "enrollment"] == []


def test_listen_refuses_to_start_without_credentials(tmp_path: Path, monkeypatch):
    config, _ = make_site(tmp_path)
    monkeypatch.delenv("CERTOPS_WEBHOOK_USER", raising=False)
    monkeypatch.delenv("CERTOPS_WEBHOOK_PASSWORD", raising=False)
    ran = run_certops("listen", str(config), "--lms", "sandbox:" + str(tmp_path / "sandbox.db"))
    assert ran.code == 1
    assert "CERTOPS_WEBHOOK_USER" in ran.stderr and "--insecure-no-auth" in ran.stderr


def test_sigterm_stops_listen_cleanly(site, tmp_path: Path):
    config, sandbox, _ = site
    listen = start_listen(config, sandbox.url, tmp_path)
    assert httpx.get(listen.url + "/healthz").status_code == 200
    assert listen.stop() == 0
    assert "Traceback" not in listen.stderr()
