"""The executor writes what a change says, and nothing else.

Changes of every type are built by hand (no configuration, no snapshot anywhere: only the
LMS ids a write needs) and applied to an in-process sandbox whose every write request is
recorded; a saved plan decoded from its JSON applies exactly the writes of the plan it was
saved from.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certops.address import parse_address
from certops.apply import ApplyReport, Executor, Result
from certops.config import load_config
from certops.connection import connect_reader, connect_writer
from certops.live import read_live
from certops.plan.ack import AckFile
from certops.plan.jsonio import plan_from_dict, plan_to_dict
from certops.plan.model import Change
from certops.records import CourseSettings, EnrollmentPolicy
from certops.run import build_plan
from certops.sandbox import create_app
from certops.sandbox.transport import SandboxTransport
from tests.changes import (
    catalog_create,
    catalog_item_create,
    course_create,
    course_update,
    enrollment_create,
    enrollment_update,
    group_create,
    group_update,
)
from tests.cli.conftest import FAST, Workspace

AT = datetime(2026, 6, 1, tzinfo=UTC)
OPENS, DUE = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
LATER = datetime(2027, 2, 1, tzinfo=UTC)
Sent = tuple[str, str, Any]  # method, path, body


def recording(app: Any, sent: list[Sent]) -> Any:
    """``app`` with every write request it receives appended to ``sent``."""

    async def record(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] == "GET" or scope["path"] == "/oauth2/token":
            await app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        sent.append((scope["method"], scope["path"], json.loads(body) if body else None))

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, replay, send)

    return record


async def _apply(ws: Workspace, changes: list[Change], sent: list[Sent]) -> ApplyReport:
    transport = SandboxTransport(recording(create_app(ws.db), sent))
    async with connect_writer(ws.address, transport=transport, retry=FAST) as writer:
        return await Executor(writer).run(changes)


async def _ids(ws: Workspace) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """Users', courses' and groups' ids, as an LMS gives them."""
    transport = SandboxTransport(create_app(ws.db))
    async with connect_reader(ws.address, transport=transport, retry=FAST) as lms:
        users = {u.username: u.id for u in await lms.list_users()}
        courses = {c.code: c.id for c in await lms.list_courses()}
        groups = {g.name: g.id for g in await lms.list_groups()}
    return users, courses, groups


def test_every_change_type_sends_its_write_and_nothing_else(ws: Workspace) -> None:
    users, courses, _ = asyncio.run(_ids(ws))
    new = CourseSettings(
        name="Made by hand",
        description="A course certops creates",
        published=True,
        self_unenrollment=False,
        enrollment_policy=EnrollmentPolicy.ADMIN_ONLY,
        date_begin=OPENS,
        date_end=DUE,
        visible_only_to_enrolled=True,
    )
    first = [
        course_create("HAND-1", new, verify=frozenset({"name", "date_begin", "date_end"})),
        catalog_create("HAND-CAT", "Hand catalog"),
        catalog_item_create("HAND-CAT", "HAND-1"),
        group_create("Hand group", [["W-101"], ["G-101"]]),
        # In the course this run creates: its id is known once it is.
        enrollment_create(
            "HAND-1", "alice", user_id=users["alice"], course_id=None,
            valid_from=OPENS, valid_until=DUE,
        ),
        enrollment_create(
            "G-101", "erin", status="completed", completed_at=OPENS,
            user_id=users["erin"], course_id=courses["G-101"],
        ),
    ]  # fmt: skip
    sent: list[Sent] = []
    report = asyncio.run(_apply(ws, first, sent))
    assert report.ok, [(o.change.address, o.message) for o in report.outcomes]
    paths = [(method, path) for method, path, _ in sent]
    assert paths == [
        ("POST", "/learn/v1/courses"),
        ("POST", "/learn/v1/catalog/batch"),
        ("POST", "/learn/v1/catalog/items/batch"),
        ("POST", "/audiences/v1/audience"),
        ("POST", "/learn/v1/enrollment/batch"),
    ]
    course_body = sent[0][2]
    assert course_body["code"] == "HAND-1" and course_body["name"] == "Made by hand"
    assert course_body["course_date_start"] == "2026-01-01 00:00:00"
    assert course_body["course_date_end"] == "2026-12-31 23:59:59"
    assert sent[1][2] == {"items": [{"code": "HAND-CAT", "name": "Hand catalog"}]}
    assert sent[3][2]["name"] == "Hand group"
    sets = sent[3][2]["ruleset"]["sets"]
    assert [[r["payload"]["course_ids"] for r in s["rules"]] for s in sets] == [
        [[courses["W-101"]]],
        [[courses["G-101"]]],
    ]
    rows = sorted(sent[4][2]["items"], key=lambda r: r["user_id"])
    _, created_courses, groups = asyncio.run(_ids(ws))
    assert rows == sorted(
        [
            {"course_id": created_courses["HAND-1"], "user_id": users["alice"],
             "level": "student", "status": "subscribed",
             "batch_item_id": f"{users['alice']}:{created_courses['HAND-1']}",
             "active_from": "2026-01-01 00:00:00", "active_until": "2026-12-31 23:59:59"},
            {"course_id": courses["G-101"], "user_id": users["erin"], "level": "student",
             "status": "completed", "batch_item_id": f"{users['erin']}:{courses['G-101']}",
             "completion_date": "2026-01-01 00:00:00"},
        ],
        key=lambda r: r["user_id"],
    )  # fmt: skip

    # Updates: each sends the fields its write names, to the ids it carries.
    renamed = CourseSettings(name="Renamed by hand")
    second = [
        course_update(
            "HAND-1", renamed, {"name": "Made by hand"}, course_id=created_courses["HAND-1"]
        ),
        group_update(
            "Hand group", [["W-101"], ["G-101"]], [["W-101", "G-101"]],
            group_id=groups["Hand group"],
        ),
        enrollment_update(
            "HAND-1", "alice", {"valid_until": DUE}, {"valid_until": LATER},
            user_id=users["alice"], course_id=created_courses["HAND-1"],
        ),
    ]  # fmt: skip
    sent.clear()
    report = asyncio.run(_apply(ws, second, sent))
    assert report.ok, [(o.change.address, o.message) for o in report.outcomes]
    assert [(m, p) for m, p, _ in sent] == [
        ("PUT", f"/learn/v1/courses/{created_courses['HAND-1']}"),
        ("PUT", f"/audiences/v1/audience/{groups['Hand group']}"),
        ("PUT", "/learn/v1/enrollments"),
    ]
    assert sent[0][2] == {"name": "Renamed by hand"}  # the one field the write sends
    assert sent[1][2]["description"] == ""  # the write's, the LMS's own kept as it was
    assert sent[2][2] == {
        "user_id": [users["alice"]],
        "course_id": [created_courses["HAND-1"]],
        "user_ids": [users["alice"]],
        "course_ids": [created_courses["HAND-1"]],
        "date_expire_validity": "2027-01-31 23:59:59",
    }


def test_a_saved_plan_applies_the_writes_of_the_plan_it_came_from(
    ws: Workspace, tmp_path: Path
) -> None:
    twin = tmp_path / "twin.db"
    shutil.copyfile(ws.db, twin)
    config = load_config([str(ws.conf)])
    acks = AckFile.load(ws.conf / ".certops-ack.yaml")

    async def plan_on(db: Path) -> Any:
        transport = SandboxTransport(create_app(db))
        async with connect_reader(
            parse_address(f"sandbox:{db}"), transport=transport, retry=FAST
        ) as reader:
            return build_plan(config, await read_live(reader, config), AT, acks).plan

    plan = asyncio.run(plan_on(ws.db))
    saved = plan_from_dict(json.loads(json.dumps(plan_to_dict(plan))))
    assert saved.changes == plan.changes

    async def apply_on(db: Path, changes: tuple[Change, ...], sent: list[Sent]) -> ApplyReport:
        transport = SandboxTransport(recording(create_app(db), sent))
        async with connect_writer(
            parse_address(f"sandbox:{db}"), transport=transport, retry=FAST
        ) as w:
            return await Executor(w).run(changes)

    live_writes: list[Sent] = []
    saved_writes: list[Sent] = []
    first = asyncio.run(apply_on(ws.db, plan.changes, live_writes))
    second = asyncio.run(apply_on(twin, saved.changes, saved_writes))
    assert first.ok and second.ok
    assert len(live_writes) > 5
    assert saved_writes == live_writes
    applied = [o.change.address for o in second.outcomes if o.result is Result.APPLIED]
    assert applied == [o.change.address for o in first.outcomes if o.result is Result.APPLIED]
