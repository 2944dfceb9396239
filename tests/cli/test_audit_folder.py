"""The audit trail as a folder of per-run files (``--audit-dir``, as CI and listen keep
it): each apply appends to a compressed file of its own, a file never changes once its run
ended, the write-ahead semantics hold across files (a write left in doubt by one run is
settled by the next), and a member cut short by a crash is ignored like a cut line."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

from tests.cli.conftest import FAST, NO_RETRY, Served, Workspace

AUDIT = ".certops/audit"


def digests(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_each_run_its_own_file_and_a_doubt_is_settled_across_files(served: Served) -> None:
    ws = served.ws
    ws.env["CERTOPS_AUDIT_DIR"] = AUDIT
    served.faults(drop_write={"nth": 2, "mode": "before"})  # the POST never lands
    ws.retry = NO_RETRY
    first = ws.run("apply", "conf", "--yes", "--product", "widget")
    assert first.code == 1
    folder = ws.root / AUDIT
    [one] = folder.iterdir()
    assert one.name.endswith(".jsonl.gz")
    lines = ws.audit_lines(AUDIT)
    intent = next(x for x in lines if x["kind"] == "intent" and x["address"] == "course.MOC-W-2026")
    outcome = next(x for x in lines if x["kind"] != "intent" and x["id"] == intent["id"])
    assert outcome["result"] == "unknown"
    # A crash while appending the next batch: half a gzip member at the end of the file.
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    member = packer.compress(b'{"kind": "intent", "id": "cut-1", "address": "x"}\n')
    member += packer.flush()
    with one.open("ab") as log:
        log.write(member[: len(member) // 2])
    before = digests(folder)

    served.faults()
    ws.retry = FAST
    second = ws.run("apply", "conf", "--yes", "--product", "widget")
    assert second.code == 0, second.output
    assert "settled 1 write(s) an earlier run left in doubt" in second.stderr
    # The second run wrote a file of its own; the first is as its run left it.
    after = digests(folder)
    assert {k: after[k] for k in before} == before and len(after) == 2
    settled = [x for x in ws.audit(AUDIT) if x["id"] == intent["id"] and x["kind"] == "resolved"]
    assert [x["result"] for x in settled] == ["not_applied"]
    done = [x["address"] for x in ws.audit(AUDIT) if x["kind"] == "done"]
    assert done.count("course.MOC-W-2026") == 1
    # Plans and history read the folder; nothing is left to settle.
    third = ws.run("apply", "conf", "--yes", "--product", "widget")
    assert third.code == 0 and "left in doubt" not in third.stderr
    assert len(digests(folder)) == 2  # a run that wrote nothing leaves no file
    history = ws.run("history", "alice")
    assert history.code == 0, history.output
    assert "widget: " in history.stdout and " CERT-W enrollment" in history.stdout
    # The half member's line, cut short, is the only line that is not JSON.
    assert "1 line(s) of the log(s) were not JSON objects" in history.stderr


def test_an_audit_folder_that_is_a_file_is_refused(ws: Workspace) -> None:
    (ws.root / "file").write_text("", encoding="utf-8")
    before = ws.lms_state()
    for args in (("plan", "conf"), ("apply", "conf", "--yes"), ("history", "alice")):
        ran = ws.run(*args, "--audit-dir", "file")
        assert ran.code == 1, ran.output
        assert "is not a folder" in ran.stderr, ran.output
    assert ws.lms_state() == before  # refused before anything was written
