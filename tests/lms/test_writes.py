"""Writing: every write happens exactly once, even when the connection drops around it."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest

from certops.engine.desired import MAINTENANCE_FIELDS as MANAGED
from certops.lms.api import EnrollmentUpdate, NewEnrollment
from certops.lms.errors import LMSRequestError
from certops.lms.records import CourseSettings, EnrollmentPolicy, EnrollmentStatus, GroupRule

SETTINGS = CourseSettings(
    name="Widget Pro: Maintenance of Certification 2026",
    description="Yearly maintenance.",
    published=True,
    self_unenrollment=False,
    enrollment_policy=EnrollmentPolicy.ADMIN_ONLY,
    date_begin=datetime(2026, 1, 1, tzinfo=UTC),
    date_end=datetime(2027, 1, 1, tzinfo=UTC),
    soft_deadline=False,
    visible_only_to_enrolled=True,
)
# What reading the course back shows: visibility is written but never shown.
READ_BACK = dataclasses.replace(SETTINGS, visible_only_to_enrolled=None)
HEAVY = {"error_503_share": 0.2, "latency_ms": 1, "rate_limit": {"calls": 40, "window_s": 1}}


def _took_effect(calls, method: str, path: str, mode: str) -> int:
    """Calls that changed the server: answered 200, or dropped after the commit."""
    hits = [c for c in calls if c["method"] == method and c["path"] == path]
    return sum(1 for c in hits if c["status"] == 200 or (c["status"] is None and mode == "after"))


@pytest.mark.parametrize("mode", ["before", "after"])
def test_create_course_once(loaded, mode):
    async def go():
        await loaded.faults(drop_write={"nth": 1, "mode": mode}, seed=1, **HEAVY)
        async with loaded.writer() as lms:
            course = await lms.create_course("MOC-2026", SETTINGS)
        await loaded.faults()
        async with loaded.reader() as lms:
            again = await lms.find_courses(["MOC-2026"])
            listed = [c for c in await lms.list_courses() if c.code == "MOC-2026"]
        return course, again, listed, await loaded.calls()

    course, again, listed, calls = asyncio.run(go())
    assert course.code == "MOC-2026" and course.settings in (SETTINGS, READ_BACK)
    assert again["MOC-2026"].id == course.id and again["MOC-2026"].settings == READ_BACK
    assert len(listed) == 1
    assert any(c["status"] is None for c in calls)  # the drop did happen
    assert _took_effect(calls, "POST", "/learn/v1/courses", mode) == 1


def test_update_course_is_retried_and_applied(loaded):
    async def go():
        async with loaded.reader() as lms:
            course = (await lms.find_courses(["C-1"]))["C-1"]
        await loaded.faults(drop_write={"nth": 1, "mode": "after"}, **HEAVY)
        async with loaded.writer() as lms:
            await lms.update_course(course.id, SETTINGS, set(MANAGED))
        await loaded.faults()
        async with loaded.reader() as lms:
            return await lms.get_course(course.id)

    updated = asyncio.run(go())
    assert updated.code == "C-1" and updated.settings == READ_BACK


def test_update_course_sends_only_the_fields_asked_for(loaded):
    async def go():
        async with loaded.reader() as lms:
            course = (await lms.find_courses(["C-1"]))["C-1"]
        async with loaded.writer() as lms:
            await lms.update_course(course.id, SETTINGS, {"name"})
        async with loaded.reader() as lms:
            return course, await lms.get_course(course.id)

    before, after = asyncio.run(go())
    assert after.settings == dataclasses.replace(before.settings, name=SETTINGS.name)


@pytest.mark.parametrize("mode", ["before", "after"])
def test_create_group_once_with_rules_by_code(loaded, mode):
    rules = [GroupRule(("C-1", "C-2")), GroupRule(("C-3",))]

    async def go():
        await loaded.faults(drop_write={"nth": 1, "mode": mode}, seed=2, **HEAVY)
        async with loaded.writer() as lms:
            group = await lms.create_group("Certified: Widget Pro", "Certified.", rules, "ANY")
            await lms.update_group(group.id, "Still certified.", rules[:1], "ALL")
        await loaded.faults()
        async with loaded.reader() as lms:
            named = [g for g in await lms.list_groups() if g.name == "Certified: Widget Pro"]
            after = await lms.get_group(named[0].id)
        return group, named, after, await loaded.calls()

    group, named, after, calls = asyncio.run(go())
    assert group.rules == tuple(rules) and group.automatic and group.rules_operator == "ANY"
    assert len(named) == 1
    assert after.rules == (rules[0],) and after.description == "Still certified."
    assert after.rules_operator == "ALL"
    assert after.exclude_deactivated and isinstance(group.id, str)
    assert _took_effect(calls, "POST", "/audiences/v1/audience", mode) == 1


def test_group_rules_naming_a_missing_course_are_refused(loaded):
    async def go():
        async with loaded.writer() as lms:
            await lms.create_group("G", "", [GroupRule(("NO-SUCH",))], "ANY")

    with pytest.raises(LMSRequestError, match="NO-SUCH"):
        asyncio.run(go())


@pytest.mark.parametrize("mode", ["before", "after"])
def test_catalog_and_catalog_item_once(loaded, mode):
    async def go():
        await loaded.faults(drop_write={"nth": 1, "mode": mode}, seed=3, **HEAVY)
        async with loaded.writer() as lms:
            catalog = await lms.create_catalog("NEW-CAT", "New catalog")
        await loaded.faults(drop_write={"nth": 1, "mode": mode}, seed=4, **HEAVY)
        async with loaded.writer() as lms:
            added = await lms.add_catalog_item("NEW-CAT", "C-3")
            again = await lms.add_catalog_item("NEW-CAT", "C-3")
        await loaded.faults()
        async with loaded.reader() as lms:
            catalogs = [c for c in await lms.list_catalogs() if c.code == "NEW-CAT"]
            items = await lms.list_catalog_items(catalogs[0].id)
        return catalog, added, again, catalogs, items

    catalog, added, again, catalogs, items = asyncio.run(go())
    assert catalogs == [catalog]
    assert added.ok and added.key == ("NEW-CAT", "C-3")
    assert not again.ok and "already" in again.message.lower()  # a row result, not raised
    assert [i.item_code for i in items] == ["C-3"]


@pytest.mark.parametrize(("mode", "nth"), [("before", 1), ("after", 1), ("after", 2)])
def test_enroll_in_chunks_exactly_once(loaded, mode, nth):
    """210 rows: two batch calls; a drop on either never duplicates or loses a row."""

    async def go():
        async with loaded.reader() as lms:
            users = await lms.list_users()
            course = (await lms.find_courses(["C-6"]))["C-6"]
            before = {e.user_id for e in await lms.list_enrollments([course.id])}
        fresh = [u for u in users if u.active and u.id not in before][:210]
        rows = [
            NewEnrollment(
                user_id=u.id,
                course_id=course.id,
                status=EnrollmentStatus.COMPLETED if i % 2 else EnrollmentStatus.ENROLLED,
                completed_at=datetime(2026, 3, 1, tzinfo=UTC) if i % 2 else None,
                valid_from=datetime(2026, 1, 1, tzinfo=UTC),
                valid_until=datetime(2027, 1, 1, tzinfo=UTC),
            )
            for i, u in enumerate(fresh)
        ]
        await loaded.faults(drop_write={"nth": nth, "mode": mode}, seed=5, **HEAVY)
        async with loaded.writer() as lms:
            results = await lms.enroll(rows)
        await loaded.faults()
        async with loaded.reader() as lms:
            after = await lms.list_enrollments([course.id], [r.user_id for r in rows])
        return rows, results, after, await loaded.calls()

    rows, results, after, calls = asyncio.run(go())
    assert len(rows) == 210
    assert [r.index for r in results] == list(range(210))
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    assert [r.key for r in results] == [(str(r.user_id), str(r.course_id)) for r in rows]
    got = {e.user_id: e for e in after}
    assert len(got) == 210
    for row in rows:
        e = got[row.user_id]
        assert e.status is row.status and e.completed_at == row.completed_at
        assert (e.valid_from, e.valid_until) == (row.valid_from, row.valid_until)
    assert any(c["status"] is None for c in calls)
    batch = [c for c in calls if c["path"] == "/learn/v1/enrollment/batch"]
    assert all(c["method"] == "POST" for c in batch)


def test_enroll_reports_row_errors_as_results(loaded):
    async def go():
        async with loaded.reader() as lms:
            users = {u.username: u for u in await lms.list_users()}
            course = (await lms.find_courses(["C-1"]))["C-1"]
            enrolled = {e.user_id for e in await lms.list_enrollments([course.id])}
        inactive = users["user0007"]  # deactivated in the dataset
        taken = next(u for u in users.values() if u.id in enrolled)
        fine = next(u for u in users.values() if u.active and u.id not in enrolled)
        rows = [NewEnrollment(u.id, course.id) for u in (inactive, taken, fine)]
        async with loaded.writer() as lms:
            return await lms.enroll(rows)

    results = asyncio.run(go())
    assert [r.ok for r in results] == [False, False, True]
    assert all(r.message for r in results[:2])


def test_update_enrollments_in_bulk(loaded):
    async def go():
        async with loaded.reader() as lms:
            course = (await lms.find_courses(["C-2"]))["C-2"]
            existing = await lms.list_enrollments([course.id])
        user_ids = (*(e.user_id for e in existing[:120]), 999_999)
        update = EnrollmentUpdate(
            course_id=course.id,
            user_ids=user_ids,
            status=EnrollmentStatus.SUSPENDED,
            valid_until=datetime(2027, 2, 1, tzinfo=UTC),
        )
        await loaded.faults(drop_write={"nth": 1, "mode": "after"}, seed=6, **HEAVY)
        async with loaded.writer() as lms:
            results = await lms.update_enrollments(update)
        await loaded.faults()
        async with loaded.reader() as lms:
            after = await lms.list_enrollments([course.id], list(user_ids))
        return user_ids, results, after

    user_ids, results, after = asyncio.run(go())
    assert [r.key[0] for r in results] == [str(u) for u in user_ids]
    assert [r.ok for r in results] == [True] * 120 + [False]
    assert len(after) == 120
    assert all(e.status is EnrollmentStatus.SUSPENDED for e in after)
    assert all(e.valid_until == datetime(2027, 2, 1, tzinfo=UTC) for e in after)


@pytest.mark.parametrize("mode", ["before", "after"])
def test_writes_over_a_real_socket_with_dropped_connections(served, mode):
    async def go():
        sandbox = served.sandbox
        await sandbox.faults(drop_write={"nth": 1, "mode": mode}, seed=8, **HEAVY)
        async with served.writer() as lms:
            course = await lms.create_course("MOC-SOCK", SETTINGS)
            users = [u for u in await lms.list_users() if u.active][:30]
        await sandbox.faults(drop_write={"nth": 1, "mode": mode}, seed=9, **HEAVY)
        async with served.writer() as lms:
            results = await lms.enroll([NewEnrollment(u.id, course.id) for u in users])
        await sandbox.faults()
        async with served.reader() as lms:
            listed = [c for c in await lms.list_courses() if c.code == "MOC-SOCK"]
            after = await lms.list_enrollments([course.id])
        return users, results, listed, after, await sandbox.calls()

    users, results, listed, after, calls = asyncio.run(go())
    assert len(listed) == 1
    assert all(r.ok for r in results) and len(after) == len(users)
    dropped = [c for c in calls if c["status"] is None]
    assert {c["path"] for c in dropped} == {"/learn/v1/courses", "/learn/v1/enrollment/batch"}
    assert _took_effect(calls, "POST", "/learn/v1/courses", mode) == 1


def test_batch_writes_are_never_concurrent(loaded):
    """Docebo's rule: batch calls one at a time, even when certops asks concurrently."""
    writing = 0
    peak = 0
    app = loaded.app

    async def watching(scope, receive, send):
        nonlocal writing, peak
        is_write = scope.get("method") in ("POST", "PUT") and scope["path"] != "/oauth2/token"
        writing += is_write
        peak = max(peak, writing)
        try:
            for _ in range(5):
                await asyncio.sleep(0)  # every other request gets as far as it can
            await app(scope, receive, send)
        finally:
            writing -= is_write

    loaded.app = watching

    async def go():
        async with loaded.writer(max_in_flight=8) as lms:
            users = [u for u in await lms.list_users() if u.active]
            course = (await lms.find_courses(["C-6"]))["C-6"]
            have = {e.user_id for e in await lms.list_enrollments([course.id])}
            fresh = [u for u in users if u.id not in have][:40]
            batches = [fresh[i : i + 5] for i in range(0, 40, 5)]
            return await asyncio.gather(
                *(lms.enroll([NewEnrollment(u.id, course.id) for u in b]) for b in batches),
                lms.update_enrollments(
                    EnrollmentUpdate(course.id, tuple(have)[:5], status=EnrollmentStatus.SUSPENDED)
                ),
            )

    results = asyncio.run(go())
    assert all(r.ok for batch in results for r in batch)
    assert peak == 1


def test_waiting_is_not_a_status_one_can_enroll_with(loaded):
    async def go():
        async with loaded.writer() as lms:
            await lms.enroll([NewEnrollment(1, 1, status=EnrollmentStatus.WAITING)])

    with pytest.raises(LMSRequestError, match="accepts enrolled, in_progress"):
        asyncio.run(go())


def test_creates_return_what_was_sent_without_reading_it_back(loaded):
    rules = [GroupRule(("C-1", "C-2")), GroupRule(("C-3",))]

    async def go():
        async with loaded.writer() as lms:
            await lms.list_courses()  # as in apply: the course index is already known
            before = len(await loaded.calls())
            course = await lms.create_course("MOC-2026", SETTINGS)
            group = await lms.create_group("Certified: Widget Pro", "Certified.", rules, "ANY")
            sent = (await loaded.calls())[before:]
        async with loaded.reader() as lms:
            stored = (await lms.find_courses(["MOC-2026"]))["MOC-2026"]
            listed = [g for g in await lms.list_groups() if g.name == "Certified: Widget Pro"]
            stored_group = await lms.get_group(listed[0].id)
        return course, group, sent, stored, stored_group

    course, group, sent, stored, stored_group = asyncio.run(go())
    # One POST each: the answer's id and the sent settings make the record (the proof
    # that the tenant kept them is apply's read-back, certops/readback.py).
    assert [(c["method"], c["path"]) for c in sent] == [
        ("POST", "/learn/v1/courses"),
        ("POST", "/audiences/v1/audience"),
    ]
    assert course.id == stored.id and stored.settings == READ_BACK
    assert group == stored_group
