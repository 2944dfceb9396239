"""``/_sandbox/``: what Docebo does not offer through its API.

Stand-ins for the admin UI (users, enrollment rules, notifications), for learners
(progress), the clock, data loading, fault injection and the call log. Answers are plain
JSON (no Docebo envelope); errors use the same body as the API. Never faulted, never
rate limited, never called by certops' Docebo client.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.config import jsonread
from certops.errors import ConfigError
from certops.sandbox import automation
from certops.sandbox.automation import COMPLETED, IN_PROGRESS, EnrollmentFields
from certops.sandbox.courses import course_id_by_code
from certops.sandbox.dataset import body_locator, load_into
from certops.sandbox.envelope import ApiError, bad_request, read_body
from certops.sandbox.faults import FaultConfig, FaultConfigError
from certops.sandbox.shapes import ShapesError
from certops.sandbox.state import sandbox_of, store_of
from certops.sandbox.store import set_meta
from certops.sandbox.values import iso_instant, parse_bool, parse_instant, parse_int, to_wire

ENDPOINTS = {
    "POST /_sandbox/load": "load a dataset (users, courses, catalogs, enrollments)",
    "POST /_sandbox/users": "create a user or set its fields ({username, active, ...})",
    "POST /_sandbox/progress": "a learner progresses: {user, course, status, at}",
    "GET|PUT /_sandbox/clock": "the sandbox's now: {now: ISO 8601 | null for real time}",
    "GET|POST /_sandbox/enrollment_rules": "{name, group, courses: [codes]}",
    "GET|POST /_sandbox/notifications": "{name, event, courses: [codes]}",
    "GET /_sandbox/outbox": "notifications sent (filters: user, event, course)",
    "GET|PUT|PATCH /_sandbox/faults": "latency, rate limit, 503 share, dropped writes,"
    " drop_fields (PUT replaces, PATCH merges)",
    "GET|DELETE /_sandbox/calls": "the call log: {method, path, status}",
    "GET|PUT /_sandbox/settings": "{max_page_size, token_ttl_s, lenient, shapes}",
    "GET|POST /_sandbox/webhooks": "webhook targets: {url, events, username?, password?,"
    " group_size?, faults?}",
    "PATCH /_sandbox/webhooks/{id}": "{active?, faults?}",
    "GET /_sandbox/webhooks/deliveries": "every webhook delivery (filters: event, user, course)",
    "POST /_sandbox/webhooks/flush": "deliver every pending webhook event now",
}


def _required_text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(key, "is required (a non-empty string)")
    return value


async def index(request: Request) -> JSONResponse:
    """``GET /_sandbox/``: what is in the sandbox and what can be done here."""
    store = store_of(request)
    with store.read() as conn:
        # Audiences live in the user_groups table.
        tables = {name: name for name in ("users", "courses", "catalogs", "enrollments", "outbox")}
        tables["audiences"] = "user_groups"
        counts = {
            name: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for name, table in tables.items()
        }
    clock = store.clock_override()
    return JSONResponse(
        {
            "sandbox": str(store.path),
            "now": iso_instant(store.now_wire()),
            "clock_overridden": clock is not None,
            "counts": counts,
            "endpoints": ENDPOINTS,
        }
    )


async def load(request: Request) -> JSONResponse:
    """``POST /_sandbox/load``: loads the dataset in the body; 400 lists every problem."""
    store = store_of(request)
    raw = (await request.body()).decode("utf-8", errors="replace")
    try:
        # Too deep or numbers too long to read are located problems too, not a 500.
        data = jsonread.parse_json(raw, "<request body>") if raw.strip() else None
        summary = load_into(store, data, body_locator(raw))
    except ConfigError as exc:
        problems = [p.to_json() for p in exc.problems]
        first = problems[0]["message"] if problems else "invalid dataset"
        return JSONResponse(
            {
                "name": "Bad Request",
                "message": f"{len(problems)} problem(s) in the dataset; first: {first}",
                "code": 0,
                "status": 400,
                "problems": problems,
            },
            status_code=400,
        )
    return JSONResponse(
        {
            "loaded": {
                "users": summary.users,
                "courses": summary.courses,
                "catalogs": summary.catalogs,
                "enrollments": summary.enrollments,
            }
        }
    )


async def upsert_user(request: Request) -> JSONResponse:
    """``POST /_sandbox/users``: creates a user, or sets the given fields of an existing one
    (``active: false`` deactivates)."""
    store = store_of(request)
    body = await read_body(request)
    username = _required_text(body, "username")
    fields: dict[str, Any] = {}
    for key in ("email", "first_name", "last_name"):
        if key in body:
            if not isinstance(body[key], str):
                raise bad_request(key, "must be a string")
            fields[key] = body[key]
    if "active" in body:
        try:
            fields["active"] = int(parse_bool(body["active"]))
        except ValueError as exc:
            raise bad_request("active", str(exc)) from None
    now = store.now_wire()
    with store.write() as conn:
        row = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
        if row is None:
            values = {"email": "", "first_name": "", "last_name": "", "active": 1, **fields}
            cursor = conn.execute(
                "INSERT INTO users (username, email, first_name, last_name, active, level,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 6, ?, ?)",
                (
                    username,
                    values["email"],
                    values["first_name"],
                    values["last_name"],
                    values["active"],
                    now,
                    now,
                ),
            )
            return JSONResponse({"user_id": cursor.lastrowid, "created": True}, status_code=201)
        fields["updated_at"] = now
        sets = ", ".join(f"{k} = ?" for k in fields)
        conn.execute(f"UPDATE users SET {sets} WHERE id = ?", (*fields.values(), row[0]))
        if "active" in fields:
            # Audiences that exclude deactivated users gain or lose this one.
            automation.recompute_groups(conn, automation.Effects(now=now), {row[0]})
    return JSONResponse({"user_id": row[0], "created": False})


def _user_and_course(conn: sqlite3.Connection, body: dict[str, Any]) -> tuple[int, int]:
    username = _required_text(body, "user")
    code = _required_text(body, "course")
    user = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
    if user is None:
        raise bad_request("user", f"no user {username!r}")
    course_id = course_id_by_code(conn, code)
    if course_id is None:
        raise bad_request("course", f"no course with code {code!r}")
    return user[0], course_id


async def progress(request: Request) -> JSONResponse:
    """``POST /_sandbox/progress``: a learner starts (``in_progress``) or completes a course
    at ``at`` (default: the sandbox's now). Completion recomputes automatic groups."""
    store = store_of(request)
    body = await read_body(request)
    status_word = body.get("status")
    if status_word not in ("in_progress", "completed"):
        raise bad_request("status", f"expected in_progress or completed, got {status_word!r}")
    now = store.now_wire()
    at = now
    if body.get("at") is not None:
        try:
            at = to_wire(parse_instant(body["at"]))
        except ValueError as exc:
            raise bad_request("at", str(exc)) from None
    effects = automation.Effects(now=now)
    with store.write() as conn:
        user_id, course_id = _user_and_course(conn, body)
        row = conn.execute(
            "SELECT status, completed_at FROM enrollments WHERE course_id = ? AND user_id = ?",
            (course_id, user_id),
        ).fetchone()
        if row is None:
            raise bad_request(
                "course", f"{body['user']} is not enrolled in {body['course']}; enroll them first"
            )
        if row[0] == COMPLETED:
            raise bad_request(
                "status", f"{body['user']} already completed {body['course']} at {row[1]}"
            )
        if status_word == "completed":
            values = EnrollmentFields(status=COMPLETED, completed_at=at)
        else:
            values = EnrollmentFields(status=IN_PROGRESS)
        automation.update_enrollment(conn, effects, user_id, course_id, values)
        automation.settle(conn, effects)
        groups = conn.execute(
            "SELECT g.name FROM group_members m JOIN user_groups g ON g.id = m.group_id"
            " WHERE m.user_id = ? ORDER BY g.name",
            (user_id,),
        ).fetchall()
    return JSONResponse(
        {
            "user": body["user"],
            "course": body["course"],
            "status": status_word,
            "at": iso_instant(at) if status_word == "completed" else None,
            "groups": [g[0] for g in groups],
        }
    )


async def get_clock(request: Request) -> JSONResponse:
    """``GET /_sandbox/clock``: the override (``now``, null when following real time)."""
    store = store_of(request)
    override = store.clock_override()
    return JSONResponse(
        {
            "now": iso_instant(to_wire(override)) if override else None,
            "effective": iso_instant(store.now_wire()),
        }
    )


async def put_clock(request: Request) -> JSONResponse:
    """``PUT /_sandbox/clock`` ``{now: ISO 8601 | null}``: sets or clears the override."""
    store = store_of(request)
    body = await read_body(request)
    if "now" not in body:
        raise bad_request("now", "is required: an ISO 8601 instant, or null for real time")
    value = None
    if body["now"] is not None:
        try:
            value = to_wire(parse_instant(body["now"]))
        except ValueError as exc:
            raise bad_request("now", str(exc)) from None
    with store.write() as conn:
        set_meta(conn, "clock", value)
    return await get_clock(request)


def _course_ids(conn: sqlite3.Connection, body: dict[str, Any], *, allow_empty: bool) -> list[int]:
    codes = body.get("courses", [] if allow_empty else None)
    if not isinstance(codes, list) or (not codes and not allow_empty):
        raise bad_request("courses", "must be a non-empty list of course codes")
    ids = []
    for code in codes:
        course_id = course_id_by_code(conn, str(code))
        if course_id is None:
            raise bad_request("courses", f"no course with code {code!r}")
        ids.append(course_id)
    return ids


def _codes(conn: sqlite3.Connection, ids: list[int]) -> list[str]:
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    found = dict(conn.execute(f"SELECT id, code FROM courses WHERE id IN ({marks})", ids))
    return [found[i] for i in ids if i in found]


async def list_rules(request: Request) -> JSONResponse:
    """``GET /_sandbox/enrollment_rules``: every rule as ``{name, group, courses}``."""
    store = store_of(request)
    with store.read() as conn:
        rows = conn.execute(
            "SELECT r.name, g.name, r.course_ids FROM enrollment_rules r"
            " JOIN user_groups g ON g.id = r.group_id ORDER BY r.id"
        ).fetchall()
        rules = [
            {"name": n, "group": g, "courses": _codes(conn, json.loads(c))} for n, g, c in rows
        ]
    return JSONResponse({"items": rules})


async def put_rule(request: Request) -> JSONResponse:
    """``POST /_sandbox/enrollment_rules``: creates or replaces (by name) a rule. It fires
    for users who join the group from now on; current members are not back-filled."""
    store = store_of(request)
    body = await read_body(request)
    name = _required_text(body, "name")
    group = _required_text(body, "group")
    with store.write() as conn:
        row = conn.execute("SELECT id FROM user_groups WHERE name = ?", (group,)).fetchone()
        if row is None:
            raise bad_request("group", f"no group named {group!r}")
        ids = _course_ids(conn, body, allow_empty=False)
        conn.execute(
            "INSERT INTO enrollment_rules (name, group_id, course_ids) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET group_id = excluded.group_id,"
            " course_ids = excluded.course_ids",
            (name, row[0], json.dumps(ids)),
        )
        codes = _codes(conn, ids)
    return JSONResponse({"name": name, "group": group, "courses": codes})


async def list_notifications(request: Request) -> JSONResponse:
    """``GET /_sandbox/notifications``: every notification as ``{name, event, courses}``."""
    store = store_of(request)
    with store.read() as conn:
        rows = conn.execute("SELECT name, event, course_ids FROM notifications ORDER BY id")
        items = [
            {"name": n, "event": e, "courses": _codes(conn, json.loads(c))}
            for n, e, c in rows.fetchall()
        ]
    return JSONResponse({"items": items, "events": list(automation.EVENTS)})


async def put_notification(request: Request) -> JSONResponse:
    """``POST /_sandbox/notifications``: creates or replaces (by name) a notification on an
    event, for the listed courses (none listed: every course)."""
    store = store_of(request)
    body = await read_body(request)
    name = _required_text(body, "name")
    event = body.get("event")
    if event not in automation.EVENTS:
        raise bad_request("event", f"expected one of {', '.join(automation.EVENTS)}, got {event!r}")
    with store.write() as conn:
        ids = _course_ids(conn, body, allow_empty=True)
        conn.execute(
            "INSERT INTO notifications (name, event, course_ids) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET event = excluded.event,"
            " course_ids = excluded.course_ids",
            (name, event, json.dumps(ids)),
        )
        codes = _codes(conn, ids)
    return JSONResponse({"name": name, "event": event, "courses": codes})


async def outbox(request: Request) -> JSONResponse:
    """``GET /_sandbox/outbox``: notifications sent, oldest first; filters ``user``,
    ``event``, ``course`` (code)."""
    store = store_of(request)
    where, args = [], []
    for param, column in (("user", "u.username"), ("event", "o.event"), ("course", "c.code")):
        value = request.query_params.get(param)
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    sql = (
        "SELECT o.id, o.notification, o.event, u.username, c.code, o.at FROM outbox o"
        " JOIN users u ON u.id = o.user_id JOIN courses c ON c.id = o.course_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY o.id"
    )
    with store.read() as conn:
        rows = conn.execute(sql, args).fetchall()
    items = [
        {"id": i, "notification": n, "event": e, "user": u, "course": c, "at": iso_instant(at)}
        for i, n, e, u, c, at in rows
    ]
    return JSONResponse({"items": items})


async def get_faults(request: Request) -> JSONResponse:
    """``GET /_sandbox/faults``: the faults being injected."""
    return JSONResponse(sandbox_of(request).faults.config.to_json())


async def put_faults(request: Request) -> JSONResponse:
    """``PUT /_sandbox/faults``: replaces the faults (absent keys: no fault) and restarts
    their counters and random sequence. ``PATCH`` changes only the keys it is given (e.g.
    adds ``drop_fields`` to a rate limit already set), and also restarts the counters."""
    body = await read_body(request)
    if request.method == "PATCH":
        body = {**sandbox_of(request).faults.config.to_json(), **body}
    try:
        config = FaultConfig.from_json(body)
    except FaultConfigError as exc:
        raise ApiError(400, str(exc), field=exc.field) from None
    sandbox_of(request).faults.configure(config)
    return JSONResponse(config.to_json())


async def get_calls(request: Request) -> JSONResponse:
    """``GET /_sandbox/calls``: the call log, oldest first."""
    return JSONResponse({"items": sandbox_of(request).calls.entries()})


async def clear_calls(request: Request) -> JSONResponse:
    """``DELETE /_sandbox/calls``: empties the call log."""
    sandbox_of(request).calls.clear()
    return JSONResponse({"items": []})


SETTINGS = ("max_page_size", "token_ttl_s", "lenient", "shapes")


async def get_settings(request: Request) -> JSONResponse:
    """``GET /_sandbox/settings``: page-size maximum, token lifetime, whether the API
    ignores unknown request fields (``lenient``) instead of rejecting them, and the
    response ``shapes`` it answers in (``certops.sandbox.shapes``)."""
    store = store_of(request)
    return JSONResponse(
        {
            "max_page_size": store.max_page_size(),
            "token_ttl_s": store.token_ttl_s(),
            "lenient": store.lenient(),
            "shapes": store.shapes().to_json(),
        }
    )


async def put_settings(request: Request) -> JSONResponse:
    """``PUT /_sandbox/settings``: sets ``max_page_size``, ``token_ttl_s``, ``lenient``
    and/or some ``shapes`` (stored in the sandbox file, so every process serving it
    agrees)."""
    store = store_of(request)
    body = await read_body(request)
    unknown = sorted(set(body) - set(SETTINGS))
    if unknown:
        raise bad_request(unknown[0], f"unknown setting (expected {', '.join(SETTINGS)})")
    values: dict[str, object] = {}
    for key in ("max_page_size", "token_ttl_s"):
        if key in body:
            try:
                number = parse_int(body[key])
            except ValueError as exc:
                raise bad_request(key, str(exc)) from None
            if number < 1:
                raise bad_request(key, f"must be 1 or more, got {number}")
            values[key] = number
    if "lenient" in body:
        try:
            values["lenient"] = parse_bool(body["lenient"])
        except ValueError as exc:
            raise bad_request("lenient", str(exc)) from None
    if "shapes" in body:
        try:
            values["shapes"] = store.shapes().with_changes(body["shapes"]).to_json()
        except ShapesError as exc:
            raise bad_request(exc.field, str(exc)) from None
    with store.write() as conn:
        for key, value in values.items():
            set_meta(conn, key, value)
    return await get_settings(request)
