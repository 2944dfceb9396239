"""Audiences (groups, manual and automatic), enrollment rules, notifications, progress and clock."""

from __future__ import annotations

import sqlite3
import uuid

import httpx
import pytest
from sandbox_helpers import PASSWORD_GRANT, all_items, course_id, user_id

from certops.sandbox import create_app, init_sandbox

pytestmark = pytest.mark.anyio


async def _members(client, audience: str) -> set[str]:
    items = await all_items(client, f"/audiences/v1/audience/{audience}/users")
    return {i["username"] for i in items}


async def _codes_of(client, username: str) -> set[str]:
    uid = await user_id(client, username)
    items = await all_items(client, "/learn/v1/enrollments", **{"id_user[]": [uid]})
    return {i["code"] for i in items}


def _completed(*course_ids: int | str) -> dict:
    return {"type": "CourseEnrollmentStatus",
            "payload": {"course_ids": list(course_ids), "status": "completed"}}  # fmt: skip


async def _certified_group(client, operator: str = "OR", **extra) -> str:
    """ "Certified: Alpha": (A-101 and A-102) or A-EXAM, one rule per course."""
    a101, a102, exam = [await course_id(client, c) for c in ("A-101", "A-102", "A-EXAM")]
    answer = await client.post(
        "/audiences/v1/audience",
        json={
            "name": "Certified: Alpha",
            "description": "Completed the initial training",
            "type": "automatic",
            "exclude_deactivated_users": False,
            "ruleset": {"status": "READY", "operator": operator, "sets": [
                {"rules_operator": "AND", "rules": [_completed(a101), _completed(a102)]},
                {"rules_operator": "AND", "rules": [_completed(exam)]},
            ]},
            **extra,
        },
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    audience = answer.json()["data"]["uuid"]
    assert str(uuid.UUID(audience)) == audience
    return audience


async def _cert_course(client) -> int:
    answer = await client.post(
        "/learn/v1/courses", json={"name": "Certified: Alpha", "code": "CERT-A",
                                   "course_type": "elearning"}
    )  # fmt: skip
    return answer.json()["data"]["id_course"]


async def test_automatic_audience_or_membership_and_views(client):
    audience = await _certified_group(client)
    assert await _members(client, audience) == {"alice", "carol"}
    listed = (await client.get("/audiences/v1/audience")).json()["data"]["items"]
    assert len(listed) == 1 and listed[0]["updated_at"] > "2026"
    del listed[0]["updated_at"]
    assert listed == [
        {"uuid": audience, "name": "Certified: Alpha",
         "description": "Completed the initial training", "type": "automatic",
         "exclude_deactivated_users": False, "rule_set_operator": "OR"}
    ]  # fmt: skip
    view = (await client.get(f"/audiences/v1/audience/{audience}")).json()["data"]
    a102 = await course_id(client, "A-102")
    assert view["uuid"] == audience and view["type"] == "automatic"
    assert view["exclude_deactivated_users"] is False
    assert view["ruleset"]["status"] == "READY" and view["ruleset"]["operator"] == "OR"
    assert len(view["ruleset"]["sets"]) == 2
    assert view["ruleset"]["sets"][0]["rules_operator"] == "AND"
    assert view["ruleset"]["sets"][0]["rules"][1] == _completed(a102)
    member = (await client.get(f"/audiences/v1/audience/{audience}/users")).json()["data"]
    assert set(member["items"][0]) == {"user_id", "username", "first_name", "last_name", "email"}
    assert isinstance(member["items"][0]["user_id"], int)


async def test_automatic_audience_and_operator(client):
    audience = await _certified_group(client, operator="AND")
    assert await _members(client, audience) == set()
    await client.post("/learn/v1/enrollment/batch", json={"items": [
        {"course_code": "A-EXAM", "username": "alice", "status": "completed",
         "completion_date": "2026-01-05 10:00:00"}]})  # fmt: skip
    assert await _members(client, audience) == {"alice"}


async def test_or_inside_a_set_and_accepted_payload_variants(client):
    a101, exam = await course_id(client, "A-101"), await course_id(client, "A-EXAM")
    answer = await client.post(
        "/audiences/v1/audiences",  # the plural path one help table gives
        json={"name": "Either", "type": "automatic", "ruleset": {"operator": "AND", "sets": [
            {"rules_operator": "OR", "rules": [
                {"type": "CourseEnrollmentStatus", "payload": {"course_id": a101, "status": 2}},
                {"type": "CourseEnrollmentStatus",
                 "payload": {"course_ids": [str(exam)], "status": "2"}}]}]}},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    audience = answer.json()["data"]["uuid"]
    assert await _members(client, audience) == {"alice", "bob", "carol"}
    view = (await client.get(f"/audiences/v1/audience/{audience}")).json()["data"]
    # Stored normalised: course_ids as integers, status "completed".
    assert view["ruleset"]["sets"][0]["rules"] == [_completed(a101), _completed(exam)]


async def test_exclude_deactivated_users(client):
    a101 = await course_id(client, "A-101")
    await client.post("/_sandbox/progress", json={"user": "dave", "course": "A-101",
                                                  "status": "completed"})  # fmt: skip
    body = {"type": "automatic", "ruleset": {"sets": [{"rules": [_completed(a101)]}]}}
    keeps = await client.post("/audiences/v1/audience", json={"name": "All", **body})
    drops = await client.post(
        "/audiences/v1/audience",
        json={"name": "Active", "exclude_deactivated_users": True, **body},
    )
    keeps, drops = keeps.json()["data"]["uuid"], drops.json()["data"]["uuid"]
    assert await _members(client, keeps) == {"alice", "bob", "dave"}
    assert await _members(client, drops) == {"alice", "bob"}
    # Deactivating bob and reactivating dave moves them at once.
    await client.post("/_sandbox/users", json={"username": "bob", "active": False})
    await client.post("/_sandbox/users", json={"username": "dave", "active": True})
    assert await _members(client, drops) == {"alice", "dave"}
    assert await _members(client, keeps) == {"alice", "bob", "dave"}
    # Turning the exclusion off recomputes.
    await client.put(f"/audiences/v1/audience/{drops}", json={"exclude_deactivated_users": False})
    assert await _members(client, drops) == {"alice", "bob", "dave"}


async def test_a_load_that_deactivates_a_user_updates_excluding_audiences(client):
    a101 = await course_id(client, "A-101")
    created = await client.post(
        "/audiences/v1/audience",
        json={"name": "Active", "type": "automatic", "exclude_deactivated_users": True,
              "ruleset": {"sets": [{"rules": [_completed(a101)]}]}},
    )  # fmt: skip
    audience = created.json()["data"]["uuid"]
    assert await _members(client, audience) == {"alice", "bob"}
    loaded = await client.post(
        "/_sandbox/load", json={"users": [{"username": "bob", "active": False}]}
    )
    assert loaded.status_code == 200, loaded.text
    assert await _members(client, audience) == {"alice"}


async def test_changing_rules_recomputes_membership(client):
    audience = await _certified_group(client)
    exam = await course_id(client, "A-EXAM")
    answer = await client.put(
        f"/audiences/v1/audience/{audience}",
        json={"ruleset": {"operator": "OR", "sets": [
            {"rules_operator": "AND", "rules": [_completed(exam)]}]}},
    )  # fmt: skip
    assert answer.json()["data"] == {"success": True}
    assert await _members(client, audience) == {"carol"}


async def test_completion_undone_leaves_the_group(client):
    audience = await _certified_group(client)
    alice, a102 = await user_id(client, "alice"), await course_id(client, "A-102")
    await client.put(f"/learn/v1/enrollments/{a102}/{alice}", json={"status": 1})
    assert await _members(client, audience) == {"carol"}


def _with_rule(rule: dict) -> dict:
    return {
        "name": "G",
        "type": "automatic",
        "ruleset": {"operator": "OR", "sets": [{"rules_operator": "AND", "rules": [rule]}]},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x"}, "name"),
        (_with_rule(_completed(999)), "ruleset.sets[0].rules[0].payload.course_ids"),
        (_with_rule({"type": "BranchMembership", "payload": {"branch_id": 1}}),
         "ruleset.sets[0].rules[0].type"),
        (_with_rule({"type": "CourseEnrollmentStatus",
                     "payload": {"course_ids": [1], "status": "in_progress"}}),
         "ruleset.sets[0].rules[0].payload.status"),
        (_with_rule({"type": "CourseEnrollmentStatus", "payload": {"status": "completed"}}),
         "ruleset.sets[0].rules[0].payload.course_ids"),
        ({"name": "G", "type": "automatic", "ruleset": {"operator": "SOME", "sets": []}},
         "ruleset.operator"),
        ({"name": "G", "type": "automatic", "ruleset": {"sets": [{"rules": []}]}},
         "ruleset.sets[0].rules"),
        ({"name": "G", "type": "manual", "ruleset": {"sets": [{"rules": [_completed(1)]}]}},
         "ruleset"),
        ({"name": "G", "type": "dynamic"}, "type"),
        ({"name": "G", "exclude_deactivated_users": "perhaps"}, "exclude_deactivated_users"),
    ],
)  # fmt: skip
async def test_audience_errors_name_the_field(client, body, field):
    answer = await client.post("/audiences/v1/audience", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == field


async def test_unknown_rule_type_is_kept_but_never_matches_when_lenient(client):
    await client.put("/_sandbox/settings", json={"lenient": True})
    a101 = await course_id(client, "A-101")
    branch = {"type": "BranchMembership", "payload": {"branch_id": 7}}
    answer = await client.post(
        "/audiences/v1/audience",
        json={"name": "Branch or A-101", "type": "automatic", "ruleset": {"operator": "OR",
              "sets": [{"rules": [branch]}, {"rules": [_completed(a101)]}]}},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    audience = answer.json()["data"]["uuid"]
    view = (await client.get(f"/audiences/v1/audience/{audience}")).json()["data"]
    assert view["ruleset"]["sets"][0]["rules"] == [branch]
    assert await _members(client, audience) == {"alice", "bob"}


async def test_audience_duplicate_name_and_404s(client):
    await client.post("/audiences/v1/audience", json={"name": "Team"})
    dup = await client.post("/audiences/v1/audience", json={"name": "Team"})
    assert dup.status_code == 400 and dup.json()["errors"][0]["field"] == "name"
    unknown = "00000000-0000-4000-8000-000000000000"
    for path in (f"/audiences/v1/audience/{unknown}", f"/audiences/v1/audience/{unknown}/users"):
        assert (await client.get(path)).status_code == 404
    assert (await client.put(f"/audiences/v1/audience/{unknown}", json={})).status_code == 404
    # The legacy group endpoints are gone.
    assert (await client.get("/manage/v1/group")).status_code == 404


async def test_audience_list_search_and_sort(client):
    for name, description in (("Beta", "second"), ("alpha", "first"), ("Gamma", "Alpha fans")):
        await client.post("/audiences/v1/audience", json={"name": name, "description": description})
    listed = (await client.get("/audiences/v1/audience")).json()["data"]
    assert [i["name"] for i in listed["items"]] == ["alpha", "Beta", "Gamma"]
    assert all(i["type"] == "manual" for i in listed["items"])
    found = await client.get("/audiences/v1/audience", params={"search_text": "ALPHA"})
    assert [i["name"] for i in found.json()["data"]["items"]] == ["alpha", "Gamma"]
    by_description = await client.get(
        "/audiences/v1/audience", params={"sort_attr": "description", "sort_dir": "desc"}
    )
    assert [i["name"] for i in by_description.json()["data"]["items"]] == [
        "Beta", "alpha", "Gamma"]  # fmt: skip
    paged = await client.get("/audiences/v1/audience", params={"page_size": 2, "page": 2})
    assert [i["name"] for i in paged.json()["data"]["items"]] == ["Gamma"]
    # A cursor walk gives the same order (the keyset compares without regard to case too).
    walked, params = [], {"page_size": 1, "get_cursor": 1}
    while True:
        data = (await client.get("/audiences/v1/audience", params=params)).json()["data"]
        walked += [i["name"] for i in data["items"]]
        if not data["has_more_data"]:
            break
        params = {"page_size": 1, "get_cursor": 1, "cursor": data["cursor"]}
    assert walked == ["alpha", "Beta", "Gamma"]
    bad = await client.get("/audiences/v1/audience", params={"sort_attr": "size"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "sort_attr"


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


async def test_manual_audience_assign_users_fires_rules(client):
    created = await client.post("/audiences/v1/audience", json={"name": "Manual"})
    audience = created.json()["data"]["uuid"]
    await client.post("/_sandbox/enrollment_rules",
                      json={"name": "m", "group": "Manual", "courses": ["M-2026"]})  # fmt: skip
    erin, carol = await user_id(client, "erin"), await user_id(client, "carol")
    path = f"/audiences/v1/audience/{audience}/assign_users"
    assert (await client.put(path, json={"user_ids": [erin]})).json()["data"] == {"success": True}
    assert "M-2026" in await _codes_of(client, "erin")
    assert await _members(client, audience) == {"erin"}
    view = (await client.get(f"/audiences/v1/audience/{audience}")).json()["data"]
    assert view["type"] == "manual" and view["ruleset"]["sets"] == []
    await client.put(path, json={"user_ids": [carol], "user_all": False})
    assert await _members(client, audience) == {"carol", "erin"}
    assert "M-2026" in await _codes_of(client, "carol")
    bad = await client.put(path, json={"user_ids": [424242]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "user_ids"
    automatic = await _certified_group(client)
    refused = await client.put(
        f"/audiences/v1/audience/{automatic}/assign_users", json={"user_ids": [erin]}
    )
    assert refused.status_code == 400


async def test_rule_and_notification_errors(client):
    bad_group = await client.post(
        "/_sandbox/enrollment_rules", json={"name": "r", "group": "Nope", "courses": ["A-101"]}
    )
    assert bad_group.status_code == 400 and bad_group.json()["errors"][0]["field"] == "group"
    await client.post("/audiences/v1/audience", json={"name": "G"})
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


async def test_audience_made_manual_keeps_members_and_drops_rules(client):
    audience = await _certified_group(client)
    await client.put(f"/audiences/v1/audience/{audience}", json={"type": "manual"})
    view = (await client.get(f"/audiences/v1/audience/{audience}")).json()["data"]
    assert view["type"] == "manual" and view["ruleset"]["sets"] == []
    assert await _members(client, audience) == {"alice", "carol"}
    await client.post("/_sandbox/progress", json={"user": "bob", "course": "A-102",
                                                  "status": "completed"})  # fmt: skip
    assert await _members(client, audience) == {"alice", "carol"}


async def test_a_version_1_sandbox_file_is_upgraded(tmp_path):
    """A file made before audiences: numbered groups with condition_type rules and one
    self-unenrollment flag. Opening it upgrades it in place, members and rules kept."""
    path = tmp_path / "v1.db"
    init_sandbox(path)
    conn = sqlite3.connect(path)
    for statement in (
        "DROP INDEX user_groups_uuid",
        "ALTER TABLE user_groups DROP COLUMN uuid",
        "ALTER TABLE user_groups DROP COLUMN exclude_deactivated",
        "ALTER TABLE user_groups DROP COLUMN updated_at",
        "ALTER TABLE courses DROP COLUMN unenroll_completed",
        "INSERT INTO courses (id, uid, code, name, can_self_unenroll, updated_at)"
        " VALUES (7, 'E-1', 'A-101', 'Alpha', 0, '2026-01-01 00:00:00')",
        "INSERT INTO user_groups (id, name, automatic, rule_set_operator, rule_sets) VALUES"
        ' (1, \'Did A-101\', 1, \'ALL\', \'[{"rules_operator": "AND", "rules":'
        ' [{"condition_type": "course_completed", "condition_value": "7"}]}]\')',
        "UPDATE meta SET value = '\"1\"' WHERE key = 'schema_version'",
    ):
        conn.execute(statement)
    conn.commit()
    conn.close()
    transport = httpx.ASGITransport(app=create_app(path))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        token = (await client.post("/oauth2/token", data=PASSWORD_GRANT)).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        listed = (await client.get("/audiences/v1/audience")).json()["data"]["items"]
        assert [(i["name"], i["rule_set_operator"]) for i in listed] == [("Did A-101", "AND")]
        view = (await client.get(f"/audiences/v1/audience/{listed[0]['uuid']}")).json()["data"]
        assert view["ruleset"]["sets"] == [{"rules_operator": "AND", "rules": [_completed(7)]}]
        course = (await client.get("/learn/v1/courses/7")).json()["data"]
        assert course["self_unenrollment_settings"] == {
            "allow_self_unenrollment_from_course": False,
            "allow_self_unenrollment_from_completed_course": False,
        }
