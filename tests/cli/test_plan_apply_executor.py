"""The executor between planning and writing, on the real client and an in-process sandbox:
what happens when the LMS changes under a run, or stops answering in the middle of one."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from certops.apply import (
    ApplyReport,
    AuditLog,
    AuditLogError,
    Executor,
    Result,
    current_actor,
)
from certops.config import load_config
from certops.connection import connect_writer
from certops.live import read_live
from certops.plan.ack import AckFile
from certops.plan.jsonio import plan_digest
from certops.plan.model import Action, Change, ChangeType
from certops.run import build_plan
from certops.sandbox import create_app
from certops.sandbox.transport import SandboxTransport
from tests.changes import enrollment_create
from tests.cli.conftest import FAST, Workspace
from tests.support import wait_until

AT = datetime(2026, 6, 1, tzinfo=UTC)


async def _admin(app: Any, method: str, path: str, body: Any = None) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        response = await client.request(method, f"/_sandbox/{path}", json=body)
        response.raise_for_status()


async def apply_with_interference(ws: Workspace, interfere: tuple[str, str, Any]) -> ApplyReport:
    """Plans on one sandbox application, lets ``interfere`` happen, then applies the plan."""
    app = create_app(ws.db)
    config = load_config([str(ws.conf)])
    connection = connect_writer(ws.address, transport=SandboxTransport(app), retry=FAST)
    async with connection as writer:
        live = await read_live(writer, config)
        planned = build_plan(config, live, AT, AckFile.load(ws.conf / ".certops-ack.yaml"))
        await _admin(app, *interfere)
        digest = plan_digest(planned.plan.changes, AT, planned.plan.lms)
        audit = AuditLog(ws.root / "audit.jsonl", digest, "tester")
        try:
            return await Executor(writer, audit=audit).run(planned.plan.changes)
        finally:
            audit.close()


def results(report: ApplyReport) -> dict[str, Result]:
    """Each LMS change's result by address (manual steps apart: a course's visibility
    check has the same address as the course's create)."""
    return {o.change.address: o.result for o in report.outcomes if o.change.action != Action.MANUAL}


def manual_results(report: ApplyReport) -> dict[str, Result]:
    """Each manual step's result by address."""
    return {o.change.address: o.result for o in report.outcomes if o.change.action == Action.MANUAL}


def test_a_course_created_meanwhile_is_not_created_again(ws: Workspace) -> None:
    # Someone creates MOC-W-2026 by hand between plan and apply (say, while the prompt
    # waits, or another writer on a tenant): apply checks right before the create.
    race = {"courses": [{"code": "MOC-W-2026", "name": "made by hand"}]}
    report = asyncio.run(apply_with_interference(ws, ("POST", "load", race)))
    got = results(report)
    assert got["course.MOC-W-2026"] is Result.SKIPPED
    skipped = next(o for o in report.outcomes if o.change.address == "course.MOC-W-2026")
    assert skipped.message.startswith("already in the LMS (another writer created it")
    # What needs the course uses the one that is there.
    for user in ("alice", "bob", "erin"):
        assert got[f"enrollment.MOC-W-2026.{user}"] is Result.APPLIED
    assert got["course.MOC-G-2026"] is Result.APPLIED
    # The manual steps are left to a person whatever happened to the writes: the rule and
    # one visibility check per maintenance course.
    assert manual_results(report) == {
        "course.MOC-G-2026": Result.MANUAL,
        "course.MOC-W-2026": Result.MANUAL,
        "enrollment_rule.Certified: Widget courses": Result.MANUAL,
    }
    assert not report.ok  # the plan was out of date: say so
    assert report.summary() == (
        "Apply: 17 applied, 0 failed, 1 skipped, 3 manual (for a person to do)."
    )
    lines = ws.audit("audit.jsonl")
    assert "course.MOC-W-2026" not in [x["address"] for x in lines]  # nothing was sent
    assert len(lines) == 17
    assert ws.lms_state().course_codes.count("MOC-W-2026") == 1
    # The next run plans from what is there now and converges (the course's settings).
    assert ws.run("apply", "conf", "--yes").code == 0
    assert ws.lms_state().status("MOC-W-2026", "erin") == "enrolled"


def test_lms_gone_mid_run_stops_and_reports_the_rest_not_attempted(ws: Workspace) -> None:
    report = asyncio.run(apply_with_interference(ws, ("PUT", "faults", {"error_503_share": 1.0})))
    first = report.outcomes[0]
    # The LMS is gone at the check right before the first create: nothing was sent.
    assert first.change.address == "course.CERT-G" and first.result is Result.NOT_ATTEMPTED
    assert "did not answer" in first.message
    assert report.stopped.startswith("stopped after an LMS error")
    rest = [o.result for o in report.outcomes[1:] if o.change.action is not Action.MANUAL]
    assert rest and set(rest) == {Result.NOT_ATTEMPTED}
    assert manual_results(report) == {
        "course.MOC-G-2026": Result.MANUAL,
        "course.MOC-W-2026": Result.MANUAL,
        "enrollment_rule.Certified: Widget courses": Result.MANUAL,
    }
    assert "18 not attempted" in report.summary()
    assert ws.audit("audit.jsonl") == []


def _enrollment(course: str, user: str) -> Change:
    return enrollment_create(course, user, product="p")


def test_enrollment_targets_keep_dotted_course_codes_and_usernames_apart() -> None:
    change = _enrollment("MOC.2026", "j.doe")
    assert change.address == "enrollment.MOC.2026.j.doe"
    assert (change.target.course, change.target.user) == ("MOC.2026", "j.doe")
    # The same address from another split is another target: nothing reads the address.
    other = _enrollment("MOC", "2026.j.doe")
    assert other.address == change.address and other.target != change.target


def test_actor_is_the_ci_user_then_the_login() -> None:
    assert current_actor({"GITHUB_ACTOR": "octocat", "USER": "root"}) == "octocat"
    assert current_actor({"GITLAB_USER_LOGIN": "gl", "USER": "root"}) == "gl"
    assert current_actor({"USER": "jdoe"}) == "jdoe"
    assert current_actor({"LOGNAME": "ops"}) == "ops"
    # No variables at all (cron, containers): the account name, never empty.
    assert current_actor({}).strip()


def test_audit_log_refuses_a_folder_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    audit = AuditLog(tmp_path / "log", "sha256:x", "me")
    with pytest.raises(AuditLogError, match=r"cannot write the audit log .*nothing was applied"):
        audit.check_writable()


async def _apply_cancelled_mid_write(ws: Workspace) -> ApplyReport:
    """Applies with a slow LMS and cancels the run (as Ctrl-C does) during the first write."""
    app = create_app(ws.db)
    config = load_config([str(ws.conf)])
    connection = connect_writer(ws.address, transport=SandboxTransport(app), retry=FAST)
    async with connection as writer:
        live = await read_live(writer, config)
        planned = build_plan(config, live, AT, AckFile.load(ws.conf / ".certops-ack.yaml"))
        creates = {
            c.target.course
            for c in planned.plan.changes
            if c.type is ChangeType.COURSE and c.action is Action.CREATE
        }
        assert creates
        await _admin(app, "PUT", "faults", {"latency_ms": 400})
        run = asyncio.create_task(Executor(writer).run(planned.plan.changes))
        # Past the check that the first course does not exist yet (one slow read), into
        # its create (a slow write): the course is in the LMS, its answer not yet back.
        await wait_until(lambda: _courses_in(app, creates), timeout=30)
        assert not run.done()
        run.cancel()
        return await run


def _courses_in(app: Any, codes: set[str]) -> set[str]:
    """Which of ``codes`` the sandbox holds (read from its file, not through the API)."""
    with app.state.sandbox.store.read() as conn:
        found = conn.execute("SELECT code FROM courses").fetchall()
    return {code for (code,) in found} & codes


def test_interrupted_apply_ends_with_a_report_not_a_traceback(ws: Workspace) -> None:
    report = asyncio.run(_apply_cancelled_mid_write(ws))
    first = report.outcomes[0]
    assert first.result is Result.FAILED
    assert first.message == "interrupted while in flight: it may or may not have been applied"
    assert report.stopped.startswith("interrupted")
    rest = {o.result for o in report.outcomes[1:] if o.change.action is not Action.MANUAL}
    assert rest == {Result.NOT_ATTEMPTED}
    assert not report.ok
    # What did or did not happen, the next run plans from the LMS and converges.
    assert ws.run("apply", "conf", "--yes").code == 0
    assert ws.run("plan", "conf", "--detailed-exitcode").stdout.count("+") == 0


async def _apply_counting_batches(ws: Workspace) -> tuple[ApplyReport, list[list[tuple]]]:
    """Applies the whole setup; returns the report and each enrollment batch's rows as
    (course id, user id), read from the sandbox's call log of the bodies sent."""
    app = create_app(ws.db)
    config = load_config([str(ws.conf)])
    batches: list[list[tuple]] = []

    async def recording(scope, receive, send):
        if scope.get("path") == "/learn/v1/enrollment/batch":
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            rows = json.loads(body)["items"]
            batches.append([(r["course_id"], r["user_id"]) for r in rows])

            async def replay():
                return {"type": "http.request", "body": body, "more_body": False}

            return await app(scope, replay, send)
        return await app(scope, receive, send)

    connection = connect_writer(ws.address, transport=SandboxTransport(recording), retry=FAST)
    async with connection as writer:
        live = await read_live(writer, config)
        planned = build_plan(config, live, AT, AckFile.load(ws.conf / ".certops-ack.yaml"))
        report = await Executor(writer).run(planned.plan.changes)
    return report, batches


def _created_enrollments(report: ApplyReport) -> list[str]:
    return [
        o.change.address
        for o in report.outcomes
        if o.change.type is ChangeType.ENROLLMENT and o.change.action is Action.CREATE
    ]


def test_one_enrollment_batch_spans_courses(ws: Workspace) -> None:
    report, batches = asyncio.run(_apply_counting_batches(ws))
    assert report.ok, report.summary()
    created = _created_enrollments(report)
    assert len(batches) == 1 and len(batches[0]) == len(created)
    assert len({course for course, _ in batches[0]}) >= 3  # several courses, one batch
    assert ws.run("plan", "conf", "--detailed-exitcode").stdout.count("+") == 0


def test_full_batches_across_courses_and_results_by_row(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small batches, so that several of them each mix courses; each row's result must
    # land on its own change (a wrong mapping would apply the wrong learner's change).
    import certops.apply
    import certops.lms.paths

    monkeypatch.setattr(certops.apply, "ENROLL_CHUNK", 3)
    monkeypatch.setattr(certops.lms.paths, "ENROLL_CHUNK", 3)
    before = {(c, u) for c, u, _ in ws.lms_state().enrollments}
    report, batches = asyncio.run(_apply_counting_batches(ws))
    assert report.ok, report.summary()
    created = _created_enrollments(report)
    assert [len(b) for b in batches[:-1]] == [3] * (len(batches) - 1)  # every batch full
    assert len(batches) == -(-len(created) // 3)
    assert any(len({course for course, _ in b}) > 1 for b in batches)
    state = ws.lms_state()
    new = {(c, u) for c, u, _ in state.enrollments} - before
    assert {f"enrollment.{c}.{u}" for c, u in new} == set(created)
    for outcome in report.outcomes:
        if outcome.change.address in created:
            course, user = outcome.change.target.course, outcome.change.target.user
            assert state.status(course, user) == outcome.change.after["status"]


async def _apply_one_plan_twice(ws: Workspace) -> tuple[ApplyReport, ApplyReport]:
    """One plan carried out by two writers one after the other: the second meets every
    object the first made (a concurrent writer of the same tenant, at its worst)."""
    app = create_app(ws.db)
    config = load_config([str(ws.conf)])
    connection = connect_writer(ws.address, transport=SandboxTransport(app), retry=FAST)
    async with connection as writer:
        live = await read_live(writer, config)
        planned = build_plan(config, live, AT, AckFile.load(ws.conf / ".certops-ack.yaml"))
        first = await Executor(writer).run(planned.plan.changes)
        second = await Executor(writer).run(planned.plan.changes)
    return first, second


def test_what_a_concurrent_writer_made_as_wanted_is_done(ws: Workspace) -> None:
    first, second = asyncio.run(_apply_one_plan_twice(ws))
    assert first.ok, first.summary()
    # Nothing made twice, nothing failed: each object found as this plan wants it.
    assert second.ok, [
        (o.change.address, o.result, o.message)
        for o in second.outcomes
        if o.result not in (Result.APPLIED, Result.MANUAL)
    ]
    done = [o for o in second.outcomes if o.change.action is Action.CREATE]
    assert done and {o.result for o in done} == {Result.APPLIED}
    assert all("already in the LMS as this plan wants it" in o.message for o in done)
    state = ws.lms_state()
    assert state.course_codes.count("MOC-W-2026") == 1
    assert len(state.enrollments) == len(set(state.enrollments))
