"""Fault injection (latency, rate limit, 503 share, dropped writes) and the call log."""

from __future__ import annotations

import time

import anyio
import pytest
from sandbox_helpers import all_items

from certops.sandbox.faults import ConnectionDropped
from tests.support import ManualClock, wait_until

pytestmark = pytest.mark.anyio


async def _course_codes(client) -> set[str]:
    return {c["code"] for c in await all_items(client, "/learn/v1/courses")}


async def test_no_faults_by_default(client):
    assert (await client.get("/_sandbox/faults")).json() == {
        "latency_ms": 0,
        "rate_limit": None,
        "error_503_share": 0.0,
        "drop_write": None,
        "seed": 0,
        "drop_fields": [],
    }


def _stored(app, code: str) -> bool:
    """Whether the sandbox's file holds the course ``code`` (read directly, not through
    the API)."""
    with app.state.sandbox.store.read() as conn:
        return conn.execute("SELECT 1 FROM courses WHERE code = ?", (code,)).fetchone() is not None


async def test_the_work_is_done_within_the_latency_not_after_it(client, app):
    # A write is committed as soon as its call arrives; only the answer waits out the
    # latency (as a tenant's answer time includes its own work). Seen from a second call
    # sent with no latency while the first still waits for its answer.
    await client.put("/_sandbox/faults", json={"latency_ms": 1500})
    async with anyio.create_task_group() as tasks:
        answers: list[int] = []

        async def create() -> None:
            body = {"name": "Latency probe", "code": "LAT-1", "course_type": "elearning"}
            answers.append((await client.post("/learn/v1/courses", json=body)).status_code)

        tasks.start_soon(create)
        await wait_until(lambda: _stored(app, "LAT-1"), timeout=10)
        await client.put("/_sandbox/faults", json={"latency_ms": 0})
        assert "LAT-1" in await _course_codes(client)
        assert answers == []  # its answer is still held back
    assert answers == [200]


async def test_latency_per_call(client):
    await client.put("/_sandbox/faults", json={"latency_ms": 60})
    start = time.perf_counter()
    await client.get("/learn/v1/courses")
    assert time.perf_counter() - start >= 0.06
    start = time.perf_counter()
    await client.get("/_sandbox/faults")  # /_sandbox/ is never faulted
    assert time.perf_counter() - start < 0.06


async def test_rate_limit_answers_429_with_retry_after(client):
    await client.put("/_sandbox/faults", json={"rate_limit": {"calls": 2, "window_s": 30}})
    assert (await client.get("/learn/v1/courses")).status_code == 200
    assert (await client.get("/manage/v1/user")).status_code == 200
    limited = await client.get("/learn/v1/courses")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert limited.json()["status"] == 429 and limited.json()["name"] == "Too Many Requests"
    assert (await client.get("/_sandbox/calls")).status_code == 200  # not rate limited


async def test_rate_limit_window_passes(client, app):
    clock = ManualClock(100.0)  # the rate limit's window is timed on it
    app.state.sandbox.faults.clock = clock
    await client.put("/_sandbox/faults", json={"rate_limit": {"calls": 1, "window_s": 0.2}})
    assert (await client.get("/learn/v1/courses")).status_code == 200
    assert (await client.get("/learn/v1/courses")).status_code == 429
    clock.now = 100.15
    assert (await client.get("/learn/v1/courses")).status_code == 429
    clock.now = 100.25
    assert (await client.get("/learn/v1/courses")).status_code == 200


async def _statuses(client, n: int) -> list[int]:
    return [(await client.get("/learn/v1/courses")).status_code for _ in range(n)]


async def test_503_share_is_deterministic_given_the_seed(client):
    await client.put("/_sandbox/faults", json={"error_503_share": 0.5, "seed": 7})
    first = await _statuses(client, 30)
    assert set(first) == {200, 503}
    await client.put("/_sandbox/faults", json={"error_503_share": 0.5, "seed": 7})
    assert await _statuses(client, 30) == first
    await client.put("/_sandbox/faults", json={"error_503_share": 0.5, "seed": 8})
    assert await _statuses(client, 30) != first
    await client.put("/_sandbox/faults", json={"error_503_share": 1})
    overloaded = await client.get("/learn/v1/courses")
    assert overloaded.status_code == 503
    assert overloaded.json()["name"] == "Service Unavailable"


NEW_COURSE = {"name": "Dropped?", "course_type": "elearning"}


async def test_drop_before_commit_does_not_store_the_write(client):
    await client.put("/_sandbox/faults", json={"drop_write": {"nth": 2, "mode": "before"}})
    await client.get("/learn/v1/courses")  # reads are not writes
    ok = await client.post("/learn/v1/courses", json={**NEW_COURSE, "code": "W1"})
    assert ok.status_code == 200
    with pytest.raises(ConnectionDropped):
        await client.post("/learn/v1/courses", json={**NEW_COURSE, "code": "W2"})
    after = await client.post("/learn/v1/courses", json={**NEW_COURSE, "code": "W3"})
    assert after.status_code == 200
    codes = await _course_codes(client)
    assert {"W1", "W3"} <= codes and "W2" not in codes


async def test_drop_after_commit_stores_the_write_and_loses_the_answer(client):
    await client.put("/_sandbox/faults", json={"drop_write": {"nth": 1, "mode": "after"}})
    with pytest.raises(ConnectionDropped):
        await client.post("/learn/v1/courses", json={**NEW_COURSE, "code": "W9"})
    assert "W9" in await _course_codes(client)
    calls = (await client.get("/_sandbox/calls")).json()["items"]
    assert {"method": "POST", "path": "/learn/v1/courses", "query": "", "status": None} in calls


async def test_call_log_records_method_path_status_and_clears(client):
    await client.delete("/_sandbox/calls")
    await client.get("/learn/v1/courses", params={"page": 1})
    await client.get("/learn/v1/courses/999")
    await client.put("/_sandbox/faults", json={"rate_limit": {"calls": 1, "window_s": 60}})
    await client.get("/manage/v1/user")
    await client.get("/manage/v1/user")
    calls = (await client.get("/_sandbox/calls")).json()["items"]
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("GET", "/learn/v1/courses", 200),
        ("GET", "/learn/v1/courses/999", 404),
        ("GET", "/manage/v1/user", 200),
        ("GET", "/manage/v1/user", 429),
    ]
    assert calls[0]["query"] == "page=1"
    assert (await client.delete("/_sandbox/calls")).json() == {"items": []}
    assert (await client.get("/_sandbox/calls")).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_503_share": 2}, "error_503_share"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": "slow"}, "latency_ms"),
        ({"rate_limit": {"calls": 0, "window_s": 1}}, "rate_limit.calls"),
        ({"rate_limit": {"window_s": 1}}, "rate_limit.calls"),
        ({"rate_limit": {"calls": 3, "window_s": "x"}}, "rate_limit.window_s"),
        ({"rate_limit": 5}, "rate_limit"),
        ({"drop_write": {"nth": 1, "mode": "sideways"}}, "drop_write.mode"),
        ({"drop_write": {"mode": "after"}}, "drop_write.nth"),
        ({"explode": True}, "explode"),
    ],
)
async def test_bad_fault_configuration_is_400(client, body, field):
    answer = await client.put("/_sandbox/faults", json=body)
    assert answer.status_code == 400
    assert answer.json()["message"]
    # The error names the key's path, not a word guessed from the message.
    assert answer.json()["errors"][0]["field"] == field
    assert (await client.get("/_sandbox/faults")).json()["latency_ms"] == 0


async def test_concurrent_writes_are_serialised(client):
    ids = [int(u["user_id"]) for u in await all_items(client, "/manage/v1/user")]
    m2026 = next(c["id_course"] for c in await all_items(client, "/learn/v1/courses")
                 if c["code"] == "M-2026")  # fmt: skip
    results: list[int] = []

    async def enroll(uid: int) -> None:
        for _ in range(2):  # the second attempt of each is a duplicate
            answer = await client.post(f"/learn/v1/enrollments/{m2026}/{uid}", json={})
            results.append(len(answer.json()["data"]["enrolled"]))

    async with anyio.create_task_group() as group:
        for uid in ids:
            group.start_soon(enroll, uid)
    assert sum(results) == len(ids)
    listed = await all_items(client, "/course/v1/courses/enrollments", **{"course_id[]": [m2026]})
    assert len(listed) == len(ids)
