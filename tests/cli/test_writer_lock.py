"""One writer at a time: a second apply waits for the first, then plans from what the
first did; a writer that waits too long fails with a message and changes nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certops.address import parse_address
from certops.lock import WriterLock, lock_path
from tests.cli.conftest import LMSState, Served, Workspace

ROOT = Path(__file__).resolve().parents[2]
CERTOPS = [sys.executable, "-c", "from certops.cli.main import main; main()"]


def _env(ws: Workspace) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in ws.env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    env["PYTHONPATH"] = str(ROOT)
    return env


def _sorted(state: LMSState) -> tuple:
    return (
        sorted(state.course_codes),
        sorted(state.group_names),
        sorted(state.catalog_codes),
        sorted(state.catalog_items),
        sorted(state.enrollments),
        state.users,
    )


@pytest.mark.slow
def test_two_applies_at_once_run_one_after_the_other(served: Served, template_db: Path) -> None:
    """From two folders, the LMS spelt two ways (``127.0.0.1`` and ``localhost``): one
    tenant, one lock."""
    ws = served.ws
    assert "127.0.0.1" in served.url
    other = ws.root / "elsewhere"
    shutil.copytree(ws.root / "conf", other / "conf")
    spelt_otherwise = served.url.replace("127.0.0.1", "localhost") + "/"
    assert spelt_otherwise != served.url
    # Slow enough that the second apply starts while the first is writing.
    served.faults(latency_ms=40)
    served.clear_calls()
    apply = [*CERTOPS, "apply", "conf", "--yes"]
    first = subprocess.Popen(apply, cwd=ws.root, env=_env(ws), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while not any(c["method"] != "GET" and c["path"] != "/oauth2/token" for c in served.calls()):
        assert time.monotonic() < deadline and first.poll() is None, "the first apply never wrote"
        time.sleep(0.02)
    env = {**_env(ws), "CERTOPS_LMS": spelt_otherwise}
    second = subprocess.Popen(apply, cwd=other, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    out1, err1 = first.communicate(timeout=60)
    out2, err2 = second.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert "waiting for another writer (certops apply, pid" in err2
    assert "Apply: 18 applied, 0 failed" in out1
    # The second planned from what the first had done: nothing left to write.
    assert "applied" not in out2 or "Apply: 0 applied" in out2, out2
    writes = [c for c in served.calls() if c["method"] != "GET" and c["path"] != "/oauth2/token"]
    assert writes and all(c["status"] in (200, 201) for c in writes), writes
    # The same LMS as after one apply on its own.
    alone = ws.root / "alone" / "sandbox.db"
    alone.parent.mkdir()
    shutil.copyfile(template_db, alone)
    single = ws.run("apply", "conf", "--yes", CERTOPS_LMS=f"sandbox:{alone}")
    assert single.code == 0, single.output
    assert _sorted(ws.lms_state(served.url)) == _sorted(ws.lms_state(f"sandbox:{alone}"))


def test_a_writer_that_waits_too_long_fails_and_changes_nothing(ws: Workspace) -> None:
    before = ws.lms_state()
    with WriterLock(lock_path(ws.address), what="a test holding the lock"):
        started = time.monotonic()
        ran = ws.run("apply", "conf", "--yes", "--lock-timeout", "0.3", CERTOPS_LMS=ws.lms)
        waited = time.monotonic() - started
    assert ran.code == 1
    assert "another writer (a test holding the lock, pid" in ran.stderr
    assert "after 0.3 s; nothing was changed" in ran.stderr
    assert "--lock-timeout" in ran.stderr
    assert 0.3 <= waited < 5
    assert ws.lms_state() == before and ws.audit() == []
    # Released: the next apply goes ahead at once.
    assert ws.run("apply", "conf", "--yes", "--lock-timeout", "0").code == 0


def test_a_writer_waits_for_the_same_tenant_spelt_otherwise_in_another_folder(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = served.ws
    before = ws.lms_state(served.url)
    monkeypatch.chdir(tmp_path)  # the holder runs in a folder of its own
    holder = parse_address(served.url.replace("127.0.0.1", "localhost"))
    with WriterLock(lock_path(holder), what="an apply elsewhere"):
        ran = ws.run("apply", "conf", "--yes", "--lock-timeout", "0.2")
    assert ran.code == 1
    assert "another writer (an apply elsewhere, pid" in ran.stderr
    assert ws.lms_state(served.url) == before


def test_sandbox_load_and_reset_wait_for_the_writer_too(ws: Workspace) -> None:
    data = ws.root / "more.yaml"
    data.write_text("users:\n  - {username: zed}\n", encoding="utf-8")
    db = str(ws.db)
    with WriterLock(lock_path(ws.address), what="certops apply"):
        load = ws.run("sandbox", "load", str(data), "--db", db, "--lock-timeout", "0.2")
        reset = ws.run("sandbox", "reset", "--db", db, "--yes", "--lock-timeout", "0.2")
    for ran in (load, reset):
        assert ran.code == 1
        assert "another writer (certops apply, pid" in ran.stderr
        assert "nothing was changed" in ran.stderr
    assert "zed" not in ws.lms_state().users
    assert ws.run("sandbox", "load", str(data), "--db", db).code == 0
    assert "zed" in ws.lms_state().users
