"""certops.run, the orchestrator, as a unit: read, plan, check and apply through the real
client against the workspace's sandbox, with no command line in between."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from certops.config import load_config
from certops.connection import connect_reader, connect_writer
from certops.errors import SafetyLimitError, StalePlanError
from certops.plan.ack import AckFile, ack_path
from certops.plan.jsonio import plan_digest
from certops.plan.model import Action
from certops.run import ApplyRun, Planned, apply_run, plan_run
from tests.cli.conftest import FAST, Workspace

AT = datetime(2026, 6, 1, tzinfo=UTC)


def _reader(*args: Any, **kwargs: Any) -> Any:
    return connect_reader(*args, retry=FAST, **kwargs)


def _writer(*args: Any, **kwargs: Any) -> Any:
    return connect_writer(*args, retry=FAST, **kwargs)


def _plan(ws: Workspace) -> Planned:
    config = load_config([str(ws.conf)])
    acks = AckFile.load(ack_path(config.files))
    return asyncio.run(plan_run(config, acks, ws.address, AT, connect=_reader))


def _apply(ws: Workspace, **kwargs: Any) -> ApplyRun:
    config = load_config([str(ws.conf)])
    acks = AckFile.load(ack_path(config.files))
    audit = ws.root / "audit.jsonl"
    return asyncio.run(
        apply_run(config, acks, ws.address, AT, connect=_writer, audit_path=audit, **kwargs)
    )


def test_plan_run_is_the_plan_the_command_shows(ws: Workspace) -> None:
    planned = _plan(ws)
    ran = ws.run("plan", "conf", "--format", "json")
    shown = json.loads(ran.stdout)
    # The command runs the same sequence: the same changes, in the same order.
    assert [c.address for c in planned.plan.changes] == [c["address"] for c in shown["changes"]]
    assert plan_digest(planned.plan.changes, AT, "sandbox:.certops/sandbox.db") == (shown["digest"])


def test_apply_run_shows_confirms_once_then_writes(ws: Workspace) -> None:
    shown: list[Planned] = []
    asked: list[bool] = []
    done = _apply(ws, show=shown.append, confirm=lambda: asked.append(True))
    assert len(shown) == 1 and asked == [True]
    assert done.wrote and done.report is not None and done.report.ok, done.report
    # What is left is for a person: the LMS now matches the configuration.
    left = _plan(ws).plan.changes
    assert left and all(c.action is Action.MANUAL for c in left)
    assert (ws.root / "audit.jsonl").exists()


def test_a_refused_confirmation_writes_nothing(ws: Workspace) -> None:
    before = ws.lms_state()

    class Refused(Exception):
        pass

    def refuse() -> None:
        raise Refused

    with pytest.raises(Refused):
        _apply(ws, confirm=refuse)
    assert ws.lms_state() == before
    assert not _audit_lines(ws.root / "audit.jsonl")


def test_a_stale_digest_is_refused_before_anything_is_written(ws: Workspace) -> None:
    before = ws.lms_state()
    with pytest.raises(StalePlanError, match="stale plan"):
        _apply(ws, expect_digest="sha256:" + "0" * 64, confirm=pytest.fail)
    assert ws.lms_state() == before


def test_a_tripped_safety_limit_is_refused_unless_forced(ws: Workspace) -> None:
    # Everyone certified, then the configuration is applied at an instant after the
    # deadline nobody met: every certification would be suspended at once.
    assert _apply(ws).report is not None
    late = datetime(2027, 1, 5, tzinfo=UTC)
    config = load_config([str(ws.conf)])
    acks = AckFile.load(ack_path(config.files))

    async def run(force: bool) -> ApplyRun:
        return await apply_run(
            config,
            acks,
            ws.address,
            late,
            connect=_writer,
            audit_path=ws.root / "audit.jsonl",
            force=force,
        )

    before = ws.lms_state()
    with pytest.raises(SafetyLimitError):
        asyncio.run(run(force=False))
    assert ws.lms_state() == before
    forced = asyncio.run(run(force=True))
    assert forced.report is not None and forced.report.ok
    assert ws.lms_state() != before


def _audit_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []
