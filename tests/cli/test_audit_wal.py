"""The audit log as a write-ahead log: a write whose outcome a run could not learn is
recorded as unknown, and the next apply settles it from what the LMS holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from certops.audit import AuditLog
from certops.plan.jsonio import display
from certops.records import CourseSettings
from tests.changes import course_create
from tests.cli.conftest import FAST, NO_RETRY, Served


@pytest.mark.parametrize(
    ("nth", "mode", "address", "resolution"),
    [
        (1, "after", "course.CERT-W", "applied"),  # the PUT landed; its answer was lost
        (2, "before", "course.MOC-W-2026", "not_applied"),  # the POST never landed
    ],
)
def test_a_write_in_doubt_is_settled_by_the_next_apply(
    served: Served, nth: int, mode: str, address: str, resolution: str
) -> None:
    ws = served.ws
    served.faults(drop_write={"nth": nth, "mode": mode})
    ws.retry = NO_RETRY  # the lost answer ends the run: its outcome stays unknown
    first = ws.run("apply", "conf", "--yes", "--product", "widget")
    assert first.code == 1
    lines = ws.audit_lines()
    intent = next(x for x in lines if x["kind"] == "intent" and x["address"] == address)
    outcome = next(x for x in lines if x["kind"] != "intent" and x["id"] == intent["id"])
    assert outcome["kind"] == "unknown" and outcome["result"] == "unknown"
    # A crash while writing the log leaves a cut line: it is no intent, and is skipped.
    with (ws.root / ".certops" / "audit.jsonl").open("a", encoding="utf-8") as log:
        log.write('{"kind": "intent", "id": "cut-1", "addr')

    served.faults()
    ws.retry = FAST
    second = ws.run("apply", "conf", "--yes", "--product", "widget")
    assert second.code == 0, second.output
    assert "settled 1 write(s) an earlier run left in doubt" in second.stderr
    assert f"{address} (" in second.stderr
    settled = [x for x in ws.audit() if x["id"] == intent["id"] and x["kind"] == "resolved"]
    assert [x["result"] for x in settled] == [resolution]
    assert settled[0]["message"].startswith("resolved at the start of a later apply")
    done = [x["address"] for x in ws.audit() if x["kind"] == "done"]
    # Resolved as not applied, the change was made by this run (once); applied, not again.
    assert done.count(address) == (1 if resolution == "not_applied" else 0)
    # Settled once: a third apply has nothing to settle.
    third = ws.run("apply", "conf", "--yes", "--product", "widget")
    assert third.code == 0 and "left in doubt" not in third.stderr


def test_intents_wait_for_an_apply_to_their_own_lms(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    change = course_create("X", CourseSettings(name="X"), product="p")
    killed = AuditLog(log, "sha256:d", "me", lms="https://a.docebosaas.com")
    killed.intend([change])  # and then the run was killed: no outcome
    killed.close()
    other = AuditLog(log, "sha256:e", "me", lms="https://b.docebosaas.com")
    assert other.pending() == []  # another LMS cannot tell whether it happened there
    same = AuditLog(log, "sha256:e", "me", lms="https://a.docebosaas.com")
    [pending] = same.pending()
    shown = (pending.address, pending.action, pending.after)
    assert shown == ("course.X", "create", display(change.after))
