"""``certops listen`` beside ``apply``: it waits for the writer lock instead of writing
alongside, resumes its queue after a restart, and reloads its configuration on SIGHUP
and with ``--watch``."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from certops.address import parse_address
from certops.lms.records import EnrollmentStatus
from certops.lock import WriterLock, lock_path
from tests.listen.harness import audit_lines, start_listen
from tests.support import run_certops, wait_for


def _health(url: str) -> dict[str, Any]:
    return httpx.get(url + "/healthz", timeout=30).json()


@pytest.mark.slow
def test_listen_waits_for_a_running_apply(site, tmp_path: Path):
    config, sandbox, admin = site
    listen = start_listen(config, sandbox.url, tmp_path)
    try:
        admin.register_webhook(listen.url)
        # Another writer (an apply in progress) holds the lock of this LMS.
        with WriterLock(lock_path(parse_address(sandbox.url)), 1.0, what="certops apply"):
            writes = admin.writes()
            admin.progress("alice", "AC-102")
            # Listen has the event and has already waited a whole try for the lock
            # (it says so only then): it wrote nothing meanwhile.
            wait_for(lambda: _health(listen.url)["waiting_for_writer_lock"], timeout=10)
            assert admin.enrollment("alice", "CERT-AC") is None
            assert admin.writes() == writes
            assert _health(listen.url)["queue_depth"] == 1
        cert = wait_for(lambda: admin.enrollment("alice", "CERT-AC"), timeout=10)
        assert cert.status is EnrollmentStatus.COMPLETED
        assert "another writer" in listen.stderr()
    finally:
        listen.stop()


def test_an_apply_waits_for_listen_and_then_has_nothing_to_do(site, tmp_path: Path):
    config, sandbox, admin = site
    listen = start_listen(config, sandbox.url, tmp_path)
    try:
        admin.register_webhook(listen.url)
        admin.progress("alice", "AC-102")
        wait_for(lambda: admin.enrollment("alice", "CERT-AC"), timeout=10)
        applied = run_certops("apply", str(config), "--lms", sandbox.url, "--yes")
        assert applied.code == 0, applied.output
        assert "Apply: 0 applied" in applied.stdout or "No changes" in applied.output
    finally:
        listen.stop()
    done = [line["address"] for line in audit_lines(tmp_path, "done")]
    assert done.count("enrollment.CERT-AC.alice") == 1


@pytest.mark.slow
def test_a_restart_resumes_the_queue(site, tmp_path: Path):
    config, sandbox, admin = site
    listen = start_listen(config, sandbox.url, tmp_path)
    port = listen.url.rsplit(":", 1)[1]
    try:
        admin.register_webhook(listen.url)
        # The LMS refuses every call, so the event stays queued; then listen is killed.
        admin.call("PUT", "/_sandbox/faults", {"error_503_share": 1.0})
        admin.progress("alice", "AC-102")
        wait_for(lambda: _health(listen.url)["counts"].get("retries", 0) >= 1, timeout=20)
    finally:
        listen.stop(signal.SIGKILL)
    admin.call("PUT", "/_sandbox/faults", {})
    again = start_listen(config, sandbox.url, tmp_path, "--port", port)
    try:
        assert "1 event(s) pending" in "".join(again.banner)
        wait_for(lambda: admin.enrollment("alice", "CERT-AC"), timeout=20)
        lines = wait_for(lambda: audit_lines(tmp_path, "listen"), timeout=10)
        assert [line["user"] for line in lines] == ["alice"]
    finally:
        again.stop()


def test_sighup_and_watch_reload_the_configuration(site, tmp_path: Path):
    config, sandbox, _ = site
    listen = start_listen(config, sandbox.url, tmp_path, "--watch")
    try:
        assert _health(listen.url)["config"]["products"] == ["acme"]
        beta = (config / "acme.yaml").read_text().replace("id: acme", "id: beta")
        beta = beta.replace("Certified: Acme", "Certified: Beta").replace("CERT-AC", "CERT-BE")
        (config / "beta.yaml").write_text(beta.replace("MOC-AC", "MOC-BE"))
        wait_for(lambda: _health(listen.url)["config"]["products"] == ["acme", "beta"], 10)
        # A broken file: the last good configuration stays, and /healthz says why.
        (config / "beta.yaml").write_text("version: 1\nproducts: [{id: 7}]\n")
        listen.popen.send_signal(signal.SIGHUP)
        health = wait_for(lambda: (h := _health(listen.url))["config"]["reload_error"] and h, 10)
        assert health["config"]["products"] == ["acme", "beta"]
        assert "beta.yaml:" in listen.stderr()
        (config / "beta.yaml").unlink()
        listen.popen.send_signal(signal.SIGHUP)
        wait_for(lambda: _health(listen.url)["config"]["products"] == ["acme"], 10)
        assert _health(listen.url)["config"]["reload_error"] is None
    finally:
        listen.stop()
