"""Groups (manual and automatic), enrollment rules, notifications, progress and clock."""

from __future__ import annotations

import pytest
from sandbox_helpers import all_items, course_id, user_id

pytestmark = pytest.mark.anyio


async def _members(client, group_id: int) -> set[str]:
    items = await all_items(client, f"/manage/v1/group/{group_id}/members")
    return {i["username"] for i in items}


async def _codes_of(client, username: str) -> set[str]:
    uid = await user_id(client, username)
    items = await all_items(client, "/learn/v1/enrollments", **{"id_user[]": [uid]})
    return {i["code"] for i in items}


async def _certified_group(client, operator: str = "ANY", **extra) -> int:
    a101, a102, exam = [await course_id(client, c) for c in ("A-101", "A-102", "A-EXAM")]
    answer = await client.post(
        "/manage/v1/group",
        json={
            "name": "Certified: Alpha",
            "description": "Completed the initial training",
            "assign_rules": 1,
            "rule_set_operator": operator,
            "rule_sets": [
                {"rules_operator": "AND", "rules": [
                    {"condition_type": "course_completed", "condition_value": str(a101)},
                    {"condition_type": "course_completed", "condition_value": a102}]},
                {"rules_operator": "AND", "rules": [
                    {"condition_type": "course_completed", "condition_value": str(exam)}]},
            ],
            **extra,
        },
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["group_id"]


async def _cert_course(client) -> int:
    answer = await client.post(
        "/learn/v1/courses", json={"name": "Certified: Alpha", "code": "CERT-A",
                                   "course_type": "elearning"}
    )  # fmt: skip
    return answer.json()["data"]["id_course"]


async def test_automatic_group_any_membership_and_views(client):
    group_id = await _certified_group(client)
    assert await _members(client, group_id) == {"alice", "carol"}
    listed = (await client.get("/manage/v1/group")).json()["data"]["items"]
    assert listed == [
        {"group_id": str(group_id), "name": "Certified: Alpha",
         "description": "Completed the initial training", "type": "automatic",
         "rule_set_operator": "ANY", "members_count": 2}
    ]  # fmt: skip
    view = (await client.get(f"/manage/v1/group/{group_id}")).json()["data"]
    assert view["group_id"] == group_id and view["type"] == "automatic"
    assert len(view["rule_sets"]) == 2
    assert view["rule_sets"][0]["rules"][1]["condition_value"] == str(
        await course_id(client, "A-102")
    )
    member = (await client.get(f"/manage/v1/group/{group_id}/members")).json()["data"]["items"][0]
    assert set(member) == {"user_id", "username", "first_name", "last_name", "email", "level"}
    assert isinstance(member["user_id"], int)


async def test_automatic_group_all_operator(client):
    group_id = await _certified_group(client, operator="ALL")
    assert await _members(client, group_id) == set()
    await client.post("/learn/v1/enrollment/batch", json={"items": [
        {"course_code": "A-EXAM", "username": "alice", "status": "completed",
         "completion_date": "2026-01-05 10:00:00"}]})  # fmt: skip
    assert await _members(client, group_id) == {"alice"}


async def test_assign_existing_users_0_starts_empty_then_follows_completions(client):
    group_id = await _certified_group(client, assign_existing_users=0)
    assert await _members(client, group_id) == set()
    await client.post("/_sandbox/progress", json={"user": "bob", "course": "A-102",
                                                  "status": "completed"})  # fmt: skip
    assert await _members(client, group_id) == {"bob"}


async def test_changing_rules_recomputes_membership(client):
    group_id = await _certified_group(client)
    exam = await course_id(client, "A-EXAM")
    answer = await client.put(
        f"/manage/v1/group/{group_id}",
        json={"rule_set_operator": "ANY", "rule_sets": [{"rules_operator": "AND", "rules": [
            {"condition_type": "course_completed", "condition_value": exam}]}]},
    )  # fmt: skip
    assert answer.json()["data"] == {"success": True}
    assert await _members(client, group_id) == {"carol"}


async def test_legacy_flat_rules_form(client):
    a101 = await course_id(client, "A-101")
    answer = await client.post(
        "/manage/v1/group",
        json={"name": "Did A-101", "assign_rules": 1, "rules_logic": "AND", "rules_list": [
            {"condition_type": "course_completed", "condition_value": a101,
             "id_field_common": None}]},
    )  # fmt: skip
    assert await _members(client, answer.json()["data"]["group_id"]) == {"alice", "bob"}


async def test_completion_undone_leaves_the_group(client):
    group_id = await _certified_group(client)
    alice, a102 = await user_id(client, "alice"), await course_id(client, "A-102")
    await client.put(f"/learn/v1/enrollments/{a102}/{alice}", json={"status": 1})
    assert await _members(client, group_id) == {"carol"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x"}, "name"),
        ({"name": "G", "assign_rules": 1, "rule_sets": [{"rules": [
            {"condition_type": "course_completed", "condition_value": 999}]}]},
         "rule_sets[0].rules[0].condition_value"),
        ({"name": "G", "assign_rules": 1, "rule_sets": [{"rules": [
            {"condition_type": "branch", "condition_value": 1}]}]}, "rule_sets[0].rules[0]"),
        ({"name": "G", "assign_rules": 1, "rule_set_operator": "SOME", "rule_sets": []},
         "rule_set_operator"),
        ({"name": "G", "assign_rules": 0, "rule_sets": [{"rules": [
            {"condition_type": "course_completed", "condition_value": 1}]}]}, "rule_sets"),
        ({"name": "G", "id_users": [424242]}, "id_users"),
    ],
)  # fmt: skip
async def test_group_errors_name_the_field(client, body, field):
    answer = await client.post("/manage/v1/group", json=body)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == field


async def test_group_duplicate_name_and_404s(client):
    await client.post("/manage/v1/group", json={"name": "Team"})
    dup = await client.post("/manage/v1/group", json={"name": "Team"})
    assert dup.status_code == 400 and dup.json()["errors"][0]["field"] == "name"
    for path in ("/manage/v1/group/999", "/manage/v1/group/999/members"):
        assert (await client.get(path)).status_code == 404
    assert (await client.put("/manage/v1/group/999", json={})).status_code == 404


async def test_rule_fires_on_join_only_never_back_fills(client):
    group_id = await _certified_group(client)
    cert = await _cert_course(client)
    rule = await client.post(
        "/_sandbox/enrollment_rules",
        json={"name": "Certified: Alpha courses", "group": "Certified: Alpha",
              "courses": ["CERT-A", "M-2026"]},
    )  # fmt: skip
    assert rule.json() == {"name": "Certified: Alpha courses", "group": "Certified: Alpha",
                           "courses": ["CERT-A", "M-2026"]}  # fmt: skip
    # Existing members (alice, carol) are not back-filled.
    assert "CERT-A" not in await _codes_of(client, "alice")
    assert "CERT-A" not in await _codes_of(client, "carol")
    # bob joins by completing A-102: the rule enrolls him.
    progress = await client.post(
        "/_sandbox/progress",
        json={"user": "bob", "course": "A-102", "status": "completed",
              "at": "2026-02-03T10:00:00Z"},
    )  # fmt: skip
    assert progress.status_code == 200
    assert progress.json()["groups"] == ["Certified: Alpha"]
    assert {"CERT-A", "M-2026"} <= await _codes_of(client, "bob")
    bob = await user_id(client, "bob")
    item = (await client.get(f"/learn/v1/enrollments/{cert}/{bob}")).json()["data"]["records"]
    assert item["status"] == "subscribed"
    assert await _members(client, group_id) == {"alice", "bob", "carol"}
    listed = (await client.get("/_sandbox/enrollment_rules")).json()["items"]
    assert [r["name"] for r in listed] == ["Certified: Alpha courses"]


async def test_rule_skips_deactivated_users(client):
    await _certified_group(client)
    await _cert_course(client)
    await client.post("/_sandbox/enrollment_rules", json={
        "name": "r", "group": "Certified: Alpha", "courses": ["CERT-A"]})  # fmt: skip
    answer = await client.post(
        "/learn/v1/enrollment/batch",
        json={"items": [{"course_code": "A-EXAM", "username": "dave", "status": "completed",
                         "completion_date": "2026-01-01"}],
              "options": {"enroll_disabled_users": True}},
    )  # fmt: skip
    assert answer.json()["data"][0]["success"] is True
    assert "CERT-A" not in await _codes_of(client, "dave")


async def test_manual_group_join_fires_rules(client):
    created = await client.post("/manage/v1/group", json={"name": "Manual"})
    group_id = created.json()["data"]["group_id"]
    await client.post("/_sandbox/enrollment_rules",
                      json={"name": "m", "group": "Manual", "courses": ["M-2026"]})  # fmt: skip
    erin, carol = await user_id(client, "erin"), await user_id(client, "carol")
    await client.put(f"/manage/v1/group/{group_id}", json={"id_users": [erin]})
    assert "M-2026" in await _codes_of(client, "erin")
    assert await _members(client, group_id) == {"erin"}
    view = (await client.get(f"/manage/v1/group/{group_id}")).json()["data"]
    assert view["type"] == "manual"
    await client.put(f"/manage/v1/group/{group_id}", json={"id_users": [carol]})
    assert await _members(client, group_id) == {"carol"}
    assert "M-2026" in await _codes_of(client, "carol")


async def test_rule_and_notification_errors(client):
    bad_group = await client.post(
        "/_sandbox/enrollment_rules", json={"name": "r", "group": "Nope", "courses": ["A-101"]}
    )
    assert bad_group.status_code == 400 and bad_group.json()["errors"][0]["field"] == "group"
    await client.post("/manage/v1/group", json={"name": "G"})
    bad_course = await client.post(
        "/_sandbox/enrollment_rules", json={"name": "r", "group": "G", "courses": ["ZZZ"]}
    )
    assert bad_course.json()["errors"][0]["field"] == "courses"
    bad_event = await client.post("/_sandbox/notifications", json={"name": "n", "event": "x"})
    assert bad_event.json()["errors"][0]["field"] == "event"


async def test_notifications_write_the_outbox(client):
    await client.put("/_sandbox/clock", json={"now": "2026-01-05T08:00:00Z"})
    await client.post("/_sandbox/notifications", json={
        "name": "Maintenance enrollment", "event": "course.enrollment.created",
        "courses": ["M-2026"]})  # fmt: skip
    await client.post("/_sandbox/notifications", json={
        "name": "Anything completed", "event": "course.enrollment.completed"})  # fmt: skip
    listed = (await client.get("/_sandbox/notifications")).json()["items"]
    assert listed[0] == {"name": "Maintenance enrollment", "event": "course.enrollment.created",
                         "courses": ["M-2026"]}  # fmt: skip
    alice, bob = await user_id(client, "alice"), await user_id(client, "bob")
    m2026, a101 = await course_id(client, "M-2026"), await course_id(client, "A-101")
    await client.post("/learn/v1/enrollments", json={"course_ids": [m2026, a101],
                                                     "user_ids": [alice, bob]})  # fmt: skip
    await client.put(f"/learn/v1/enrollments/{m2026}/{alice}", json={"status": 2})
    await client.post("/learn/v1/enrollment/batch", json={
        "items": [{"course_code": "M-2026", "username": "carol"}],
        "options": {"trigger_notifications": False}})  # fmt: skip
    outbox = (await client.get("/_sandbox/outbox")).json()["items"]
    assert [(o["notification"], o["user"], o["course"]) for o in outbox] == [
        ("Maintenance enrollment", "alice", "M-2026"),
        ("Maintenance enrollment", "bob", "M-2026"),
        ("Anything completed", "alice", "M-2026"),
    ]
    assert outbox[0]["event"] == "course.enrollment.created"
    assert outbox[0]["at"] == "2026-01-05T08:00:00Z"
    only_bob = (await client.get("/_sandbox/outbox", params={"user": "bob"})).json()["items"]
    assert len(only_bob) == 1


async def test_progress_and_clock(client):
    clock = await client.put("/_sandbox/clock", json={"now": "2026-03-01T09:30:00Z"})
    assert clock.json() == {"now": "2026-03-01T09:30:00Z", "effective": "2026-03-01T09:30:00Z"}
    started = await client.post(
        "/_sandbox/progress", json={"user": "dave", "course": "A-101", "status": "in_progress"}
    )
    assert started.status_code == 200
    done = await client.post(
        "/_sandbox/progress", json={"user": "dave", "course": "A-101", "status": "completed"}
    )
    assert done.json()["at"] == "2026-03-01T09:30:00Z"
    dave, a101 = await user_id(client, "dave"), await course_id(client, "A-101")
    item = (await client.get(f"/learn/v1/enrollments/{a101}/{dave}")).json()["data"]["records"]
    assert item["status"] == "completed"
    assert item["course_complete_date"] == "2026-03-01 09:30:00"
    real = await client.put("/_sandbox/clock", json={"now": None})
    assert real.json()["now"] is None and real.json()["effective"] > "2026-11"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": "bob", "course": "A-EXAM", "status": "completed"}, "course"),
        ({"user": "alice", "course": "A-101", "status": "completed"}, "status"),
        ({"user": "bob", "course": "A-102", "status": "finished"}, "status"),
        ({"user": "zed", "course": "A-102", "status": "completed"}, "user"),
        ({"user": "bob", "course": "ZZZ", "status": "completed"}, "course"),
        ({"user": "bob", "course": "A-102", "status": "completed", "at": "later"}, "at"),
    ],
)
async def test_progress_errors(client, body, field):
    answer = await client.post("/_sandbox/progress", json=body)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == field


async def test_clock_errors(client):
    assert (await client.put("/_sandbox/clock", json={})).status_code == 400
    assert (await client.put("/_sandbox/clock", json={"now": "soon"})).status_code == 400


async def test_sandbox_users_create_and_deactivate(client):
    created = await client.post("/_sandbox/users", json={"username": "zoe", "email": "z@x.io"})
    assert created.status_code == 201 and created.json()["created"] is True
    await client.post("/_sandbox/users", json={"username": "alice", "active": False})
    items = await all_items(client, "/manage/v1/user")
    status = {i["username"]: i["status"] for i in items}
    assert status["zoe"] == "1" and status["alice"] == "0"
    bad = await client.post("/_sandbox/users", json={"username": "x", "active": "perhaps"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "active"
    assert (await client.post("/_sandbox/users", json={})).status_code == 400


async def test_group_made_manual_keeps_members_and_drops_rules(client):
    group_id = await _certified_group(client)
    await client.put(f"/manage/v1/group/{group_id}", json={"assign_rules": 0})
    view = (await client.get(f"/manage/v1/group/{group_id}")).json()["data"]
    assert view["type"] == "manual" and view["rule_sets"] == []
    assert await _members(client, group_id) == {"alice", "carol"}
    await client.post("/_sandbox/progress", json={"user": "bob", "course": "A-102",
                                                  "status": "completed"})  # fmt: skip
    assert await _members(client, group_id) == {"alice", "carol"}
