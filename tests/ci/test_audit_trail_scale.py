"""The audit trail the CI kit keeps, at 20,000 learners: a take-over, a learner certified
by ``listen`` in between, then the rollover, every writer in one folder of per-run files
(``--audit-dir``, as the kit's branch holds it). It weighs at most 5 MB, and ``history``
answers for a learner both apply and listen wrote for, with products, reasons and the
webhook message, and no false warning."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from certops.sandbox import init_sandbox
from tests.cli.conftest import read_audit_text
from tests.listen.harness import Admin, serve_sandbox, start_listen
from tests.support import run_certops

LEARNERS = 20_000
LIMIT = 5_000_000  # bytes the trail may weigh after a take-over and one rollover
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def lines_of(trail: Path) -> list[dict]:
    return [json.loads(x) for x in read_audit_text(trail).splitlines() if x]


def wait_for(check, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


@pytest.mark.slow
def test_the_trail_at_20000_learners_is_small_and_history_covers_listen(tmp_path: Path) -> None:
    db = tmp_path / "lms.db"
    init_sandbox(db, demo=True, learners=LEARNERS)
    trail = tmp_path / "trail"
    sandbox = serve_sandbox(db, tmp_path)
    try:
        admin = Admin(sandbox.url)
        # The applies open the sandbox file in-process (quicker at this size); listen talks
        # to the same sandbox served, which delivers its webhooks.
        env = {"CERTOPS_LMS": f"sandbox:{db}", "CERTOPS_AUDIT_DIR": str(trail)}
        takeover = run_certops("apply", str(EXAMPLES), "--yes", "--at", "2026-12-01", env=env)
        assert takeover.code == 0, takeover.output[-3000:]
        # A learner the take-over certified in Widget Pro, never certified in Gadget Max.
        lines = lines_of(trail)
        created = {(x["course"], x["user"]) for x in lines if x.get("kind") == "done"
                   and x.get("course") in ("CERT-WP", "CERT-GM")}  # fmt: skip
        learner = sorted(u for c, u in created if c == "CERT-WP" and ("CERT-GM", u) not in created)[
            0
        ]

        # They complete Gadget Max's initial course: listen certifies them within seconds.
        listen = start_listen(EXAMPLES, sandbox.url, tmp_path, "--audit-dir", str(trail))
        try:
            admin.register_webhook(listen.url)
            admin.call("POST", "/_sandbox/load", {"enrollments": [
                {"user": learner, "course": "GM-101", "status": "enrolled"}]})  # fmt: skip
            admin.progress(learner, "GM-101")
            wait_for(lambda: admin.enrollment(learner, "CERT-GM"), timeout=20)
            health = wait_for(
                lambda: (
                    (h := httpx.get(listen.url + "/healthz").json())["queue_depth"] == 0
                    and h["changes_applied"]
                    and h
                ),
                timeout=20,
            )
            assert health["dead_letters"] == 0
        finally:
            assert listen.stop() == 0, listen.stderr()

        rollover = run_certops("apply", str(EXAMPLES), "--yes", "--at", "2027-01-02", env=env)
        assert rollover.code == 0, rollover.output[-3000:]
    finally:
        sandbox.stop()

    files = sorted(trail.iterdir())
    size = sum(f.stat().st_size for f in files)
    print(f"audit trail at {LEARNERS:,} learners: {len(files)} files, {size:,} bytes")
    assert size <= LIMIT, size
    assert [f.name.split("-")[1] for f in files].count("listen") == 1
    assert all(f.name.endswith(".jsonl.gz") for f in files)

    shown = run_certops("history", learner, "--audit-dir", str(trail))
    assert shown.code == 0, shown.output
    assert shown.stderr == ""  # listen's summary lines are not "skipped" damage
    text = shown.stdout
    assert "widget-pro: created CERT-WP enrollment" in text  # the take-over's apply
    assert "gadget-max: created CERT-GM enrollment" in text  # listen's
    assert "(certops listen), webhook message " in text
    assert "no reason recorded" not in text and "  -: " not in text
    # Each of listen's lines names its product and the webhook message that asked for it.
    listened = [x for x in lines_of(trail) if x.get("plan_digest") == "listen"]
    assert listened and all(x["product"] == "gadget-max" for x in listened)
    assert all(x["listen"]["message_ids"] for x in listened)
