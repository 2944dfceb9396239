"""Reading the sandbox: exactly the loaded data, with and without faults, paged and filtered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from certops.lms import docebo
from certops.lms.docebo import gather_settled
from certops.lms.errors import LMSUnavailableError, ReadOnlyError
from certops.lms.records import EnrollmentPolicy, EnrollmentStatus

from .conftest import COURSES, dataset

DATA = dataset()


async def _let_others_run() -> None:
    """Yields to the event loop a few times: every request in flight gets as far as it
    can before this one goes on (the in-process app answers without waiting)."""
    for _ in range(5):
        await asyncio.sleep(0)


def _expected_enrollments() -> set[tuple]:
    def instant(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None

    out = set()
    for row in DATA["enrollments"]:
        valid = row.get("valid_from") is not None
        out.add(
            (
                row["user"],
                row["course"],
                EnrollmentStatus(row["status"]),
                instant(row["enrolled_at"]),
                instant(row.get("completed_at")),
                datetime(2026, 1, 1, tzinfo=UTC) if valid else None,
                datetime(2027, 1, 1, tzinfo=UTC) if valid else None,
            )
        )
    return out


async def _read_everything(connection):
    async with connection as lms:
        users = await lms.list_users()
        courses = await lms.find_courses([c["code"] for c in COURSES] + ["NOPE"])
        ids = [c.id for c in courses.values()]
        enrollments = await lms.list_enrollments(ids)
        catalogs = await lms.list_catalogs()
        items = await lms.list_catalog_items(catalogs[0].id)
        return users, courses, enrollments, catalogs, items, connection.call_counts


def _check_everything(users, courses, enrollments, catalogs, items):
    learners = {u.username: u for u in users if u.username != "admin"}
    assert {
        (u.username, u.email, u.first_name, u.last_name, u.active) for u in learners.values()
    } == {
        (r["username"], r["email"], r["first_name"], r["last_name"], r["active"])
        for r in DATA["users"]
    }
    assert sorted(courses) == [c["code"] for c in COURSES]
    five = courses["C-5"].settings
    assert five.date_begin == datetime(2026, 1, 1, tzinfo=UTC)
    assert five.date_end == datetime(2027, 1, 1, tzinfo=UTC)
    # Visibility is written when a course is created but the course views never show it.
    assert five.visible_only_to_enrolled is None
    assert all("visible_only_to_enrolled" in c.unread for c in courses.values())
    assert courses["C-4"].settings.soft_deadline
    assert not courses["C-3"].settings.self_unenrollment
    assert courses["C-3"].settings.enrollment_policy is EnrollmentPolicy.ADMIN_ONLY
    assert courses["C-2"].settings.published and not courses["C-1"].settings.published
    by_id = {u.id: u.username for u in users}
    code_of = {c.id: code for code, c in courses.items()}
    got = {
        (
            by_id[e.user_id],
            code_of[e.course_id],
            e.status,
            e.enrolled_at,
            e.completed_at,
            e.valid_from,
            e.valid_until,
        )
        for e in enrollments
    }
    assert len(enrollments) == len(DATA["enrollments"])
    assert got == _expected_enrollments()
    assert all(e.username == by_id[e.user_id] and e.course_code for e in enrollments)
    assert [c.code for c in catalogs] == ["SF-SYNC"]
    assert sorted(i.item_code for i in items) == ["C-1", "C-2"]


def test_reads_return_exactly_the_loaded_data(loaded):
    *result, counts = asyncio.run(_read_everything(loaded.reader()))
    _check_everything(*result)
    # 1,350 enrollments in pages of 200 by cursor; users in pages of 200.
    assert counts["GET /course/v1/courses/enrollments"] == 7
    assert counts["GET /manage/v1/user"] == 3
    assert counts["POST /oauth2/token"] == 1


def test_reads_are_exact_under_faults(loaded):
    async def go():
        await loaded.faults(
            error_503_share=0.2, latency_ms=1, rate_limit={"calls": 25, "window_s": 1}, seed=7
        )
        result = await _read_everything(loaded.reader())
        calls = await loaded.calls()
        return result, calls

    (*result, counts), calls = asyncio.run(go())
    _check_everything(*result)
    statuses = {c["status"] for c in calls}
    assert 503 in statuses and 429 in statuses  # the faults did happen
    assert sum(counts.values()) == len(calls)


def test_reads_over_a_real_socket_with_faults(served):
    async def go():
        await served.sandbox.faults(error_503_share=0.2, seed=3)
        return await _read_everything(served.reader())

    *result, _ = asyncio.run(go())
    _check_everything(*result)


def test_filters_are_pushed_to_the_server(loaded):
    async def go():
        async with loaded.reader() as lms:
            courses = await lms.find_courses(["C-2", "C-4"])
            jdoe = await lms.find_user("user0010")
            by_mail = await lms.find_user("USER0011@example.com")
            missing = await lms.find_user("nobody")
            mine = await lms.list_enrollments([c.id for c in courses.values()], [jdoe.id])
        return jdoe, by_mail, missing, mine, await loaded.calls()

    jdoe, by_mail, missing, mine, calls = asyncio.run(go())
    assert jdoe.username == "user0010" and by_mail.username == "user0011" and missing is None
    assert {e.user_id for e in mine} == {jdoe.id} and len(mine) == 2
    reads = [c for c in calls if c["path"] == "/course/v1/courses/enrollments"]
    assert len(reads) == 1
    assert "course_id%5B%5D=" in reads[0]["query"] and "user_id%5B%5D=" in reads[0]["query"]


def test_many_course_ids_are_chunked(loaded):
    async def go():
        async with loaded.reader() as lms:
            ids = [c.id for c in await lms.list_courses()]
            return await lms.list_enrollments(ids + list(range(10_000, 10_120)))

    assert len(asyncio.run(go())) == len(DATA["enrollments"])


def test_concurrency_is_capped(loaded):
    """At most ``max_in_flight`` requests reach the server at once."""
    in_flight = 0
    peak = 0
    app = loaded.app

    async def counting(scope, receive, send):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await _let_others_run()
            await app(scope, receive, send)
        finally:
            in_flight -= 1

    loaded.app = counting

    async def go():
        async with loaded.reader(max_in_flight=2) as lms:
            ids = [c.id for c in await lms.list_courses()]
            await asyncio.gather(*(lms.get_course(i) for i in ids * 3))

    asyncio.run(go())
    assert peak == 2


def test_reader_cannot_write_even_through_its_channel(loaded):
    async def go():
        async with loaded.reader() as lms:
            assert not hasattr(lms._api, "post") and not hasattr(lms._api, "put")
            with pytest.raises(ReadOnlyError):
                await lms._http._send("POST", "/learn/v1/courses", body={"name": "x"})
        return await loaded.calls()

    assert asyncio.run(go()) == []


def test_only_get_and_token_reach_the_server_from_a_reader(loaded):
    async def go():
        async with loaded.reader() as lms:
            courses = await lms.list_courses()
            await lms.find_courses([c.code for c in courses])
            for group in await lms.list_groups():
                await lms.get_group(group.id)
            catalogs = await lms.list_catalogs()
            await lms.list_catalog_items(catalogs[0].id)
            users = await lms.list_users()
            await lms.find_user(users[0].username)
            await lms.list_enrollments([c.id for c in courses], [u.id for u in users[:5]])
        return await loaded.calls()

    calls = asyncio.run(go())
    assert calls
    assert {(c["method"], c["path"]) for c in calls if c["method"] != "GET"} == {
        ("POST", "/oauth2/token")
    }


def _split_always(monkeypatch) -> None:
    # The rule splits only reads of more than 10 pages per course; this dataset is small,
    # so lower the threshold rather than load ten times the data.
    monkeypatch.setattr(docebo, "SPLIT_PAGES_PER_STREAM", 0)


def test_a_large_read_runs_one_cursor_stream_per_course(loaded, monkeypatch):
    _split_always(monkeypatch)
    *result, counts = asyncio.run(_read_everything(loaded.reader()))
    _check_everything(*result)
    enrollments = result[2]
    assert enrollments == sorted(enrollments, key=lambda e: (e.course_id, e.user_id))
    # The combined filter's first page, then 225 enrollments in each of 6 courses: 2 pages
    # each, one stream per course.
    assert counts["GET /course/v1/courses/enrollments"] == 1 + 6 * 2

    calls = asyncio.run(loaded.calls())
    reads = [c["query"] for c in calls if c["path"] == "/course/v1/courses/enrollments"]
    assert reads[0].count("course_id%5B%5D=") == 6 and "get_total_count=1" in reads[0]
    assert all(q.count("course_id%5B%5D=") == 1 for q in reads[1:])


def test_concurrent_streams_are_exact_and_deterministic_under_faults(loaded, monkeypatch):
    _split_always(monkeypatch)

    async def go(seed: int):
        await loaded.faults(
            error_503_share=0.2, latency_ms=1, rate_limit={"calls": 25, "window_s": 1}, seed=seed
        )
        async with loaded.reader(max_in_flight=4) as lms:
            users = await lms.list_users()
            ids = [c.id for c in await lms.list_courses()]
            enrollments = await lms.list_enrollments(ids)
        await loaded.faults()
        return users, enrollments, await loaded.calls()

    users, first, calls = asyncio.run(go(5))
    _, second, _ = asyncio.run(go(11))
    assert 503 in {c["status"] for c in calls}  # the faults did happen
    assert len(first) == len(DATA["enrollments"])
    assert first == second  # same records, same order, whatever the timing
    by_id = {u.id: u.username for u in users}
    assert all(e.username == by_id[e.user_id] and e.course_code for e in first)


def test_streams_run_side_by_side_within_the_cap(loaded, monkeypatch):
    _split_always(monkeypatch)
    in_flight = 0
    peak = 0
    app = loaded.app

    async def counting(scope, receive, send):
        nonlocal in_flight, peak
        if scope.get("path") == "/course/v1/courses/enrollments":
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            await _let_others_run()
            await app(scope, receive, send)
        finally:
            if scope.get("path") == "/course/v1/courses/enrollments":
                in_flight -= 1

    loaded.app = counting

    async def go():
        async with loaded.reader(max_in_flight=3) as lms:
            ids = [c.id for c in await lms.list_courses()]
            return await lms.list_enrollments(ids)

    assert len(asyncio.run(go())) == len(DATA["enrollments"])
    assert peak == 3


def test_a_failing_stream_raises_only_after_every_stream_settled():
    finished: list[str] = []

    async def go():
        failed = asyncio.Event()

        async def fails() -> None:
            await asyncio.sleep(0)
            failed.set()
            raise LMSUnavailableError("first stream failed")

        async def slow(name: str) -> str:
            await failed.wait()  # still running when the other stream fails
            finished.append(name)
            return name

        with pytest.raises(LMSUnavailableError, match="first stream failed"):
            await gather_settled([slow("a"), fails(), slow("b")])
        return await gather_settled([slow("c"), slow("d")])

    assert asyncio.run(go()) == ["c", "d"]
    assert finished == ["a", "b", "c", "d"]  # nothing was left running when it raised
