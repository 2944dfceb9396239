"""Enrollments: ``/learn/v1/enrollments`` (list, many, one), the batch import, and the
newer ``/course/v1/courses/enrollments`` list certops reads with.

Status is numeric on write (``-2``..``4``) and a word on read: ``subscribed``,
``in_progress``... in ``learn/v1``; ``enrolled``, ``in_progress``... in ``course/v1``.
Missing dates are zero dates in ``learn/v1`` and null in ``course/v1``. Every write runs
the automation (group recompute on completion changes, rules, notifications) before it
commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.sandbox import automation
from certops.sandbox.automation import EnrollmentFields
from certops.sandbox.courses import course_id_by_code
from certops.sandbox.envelope import (
    ApiError,
    Order,
    Query,
    bad_request,
    list_response,
    not_found,
    ok,
    query_ints,
    query_list,
    read_body,
)
from certops.sandbox.fields import Known, ListOf, is_lenient, listing, obj
from certops.sandbox.shapes import Shapes
from certops.sandbox.state import store_of
from certops.sandbox.store import row_exists
from certops.sandbox.values import parse_bool, parse_datetime, parse_int, show_datetime

LEARN_STATUS = {
    -2: "waiting_list",
    -1: "to_confirm",
    0: "subscribed",
    1: "in_progress",
    2: "completed",
    3: "suspended",
    4: "overbooking",
}
# course/v1 knows five words; the three queue states read as "waiting" (choice).
COURSE_STATUS = {
    -2: "waiting",
    -1: "waiting",
    0: "enrolled",
    1: "in_progress",
    2: "completed",
    3: "suspended",
    4: "waiting",
}
FILTER_STATUS = {"not_started": 0, **{word: code for code, word in LEARN_STATUS.items()}}
BATCH_STATUS = {"enrolled": 0, "waiting": -2, **{w: c for c, w in LEARN_STATUS.items()}}
LEVELS = {"student": 3, "learner": 3, "tutor": 4, "instructor": 6}

# What each enrollment endpoint knows (see fields.py).
KNOWN_LEARN_LIST = listing("id_user", "user_id", "status", "id_course", "course_id", "code_course")
KNOWN_COURSE_LIST = listing("course_id", "user_id")
KNOWN_VIEW = Known()
_VALIDITY = ("level", "date_begin_validity", "date_expire_validity")
KNOWN_ENROLL_MANY = Known(body=obj("course_ids", "course_id", "user_ids", "user_id", *_VALIDITY))
KNOWN_ENROLL_ONE = Known(body=obj(*_VALIDITY))
KNOWN_UPDATE_ONE = Known(body=obj("status", "date_complete", *_VALIDITY))
KNOWN_UPDATE_MANY = Known(
    body=obj("user_ids", "user_id", "course_ids", "course_id", "status", "date_complete",
             *_VALIDITY)
)  # fmt: skip
BATCH_ITEM = obj(
    "course_id",
    "user_id",
    "level",
    "status",
    "completion_date",
    "active_from",
    "active_until",
    "batch_item_id",
    # older SDK keys, still accepted
    "course_code",
    "username",
    "enrollment_date",
    "score",
)
BATCH_OPTIONS = {
    "enroll_disabled_users": False,
    "duplicates_as_recertification": False,
    "trigger_notifications": True,
    "enrollment_date_now": False,
}
KNOWN_BATCH = Known(body=obj(items=ListOf(BATCH_ITEM), options=obj(*BATCH_OPTIONS)))
NOT_ENROLLED = "User is not enrolled in the course"

LEARN_COLUMNS = (
    "e.course_id, e.user_id, c.course_type, c.code, c.name, e.status, e.level, e.enrolled_at,"
    " e.valid_from, e.valid_until, e.completed_at, c.soft_deadline"
)
COURSE_V1_COLUMNS = (
    "e.user_id, e.course_id, e.status, e.level, e.enrolled_at, e.completed_at, e.valid_from,"
    " e.valid_until, e.updated_at"
)
FROM_JOINED = "FROM enrollments e JOIN courses c ON c.id = e.course_id"


def learn_item(row: tuple[Any, ...]) -> dict[str, Any]:
    """Returns an enrollment in the ``learn/v1`` shape (``id`` is the course id)."""
    course_id, user_id, ctype, code, name, status, level, enrolled, begin, end, done, soft = row
    return {
        "id": course_id,
        "user_id": user_id,
        "type": ctype,
        "code": code,
        "name": name,
        "status": LEARN_STATUS.get(status, str(status)),
        "level": level,
        "date_inscr": show_datetime(enrolled, zero=True),
        "enroll_begin_date": show_datetime(begin, zero=True),
        "enroll_end_date": show_datetime(end, zero=True),
        "course_complete_date": show_datetime(done, zero=True),
        "soft_deadline": bool(soft),
    }


def course_v1_item(row: tuple[Any, ...], shapes: Shapes) -> dict[str, Any]:
    """Returns an enrollment in the ``course/v1`` shape; the validity fields are named
    ``_date`` (what production readers of course rows use), ``_datetime`` or both, as
    ``shapes.enrollment_validity`` says."""
    user_id, course_id, status, level, enrolled, done, begin, end, updated = row
    item = {
        "user_id": user_id,
        "course_id": course_id,
        "enrollment_status": COURSE_STATUS.get(status, str(status)),
        "enrollment_level": {4: "tutor", 6: "instructor"}.get(level, "student"),
        "enrollment_created_at": enrolled,
        "enrollment_completion_date": done,
        "enrollment_date_last_updated": updated,
    }
    if shapes.enrollment_validity != "datetime":
        item["enrollment_validity_begin_date"] = begin
        item["enrollment_validity_end_date"] = end
    if shapes.enrollment_validity != "date":
        item["enrollment_validity_begin_datetime"] = begin
        item["enrollment_validity_end_datetime"] = end
    return item


def _in(column: str, values: list[Any], where: list[str], args: list[Any]) -> None:
    if values:
        where.append(f"{column} IN ({', '.join('?' for _ in values)})")
        args.extend(values)


def _lead(course_ids: set[int] | None) -> tuple[int, ...] | None:
    # The course filter goes to list_response as the order's lead values (not into the
    # WHERE text), so cursor pages skip the courses already read.
    return None if course_ids is None else tuple(sorted(course_ids))


def _status_code(value: str, words: dict[str, int]) -> int | None:
    # A status is a code -2..4 or one of ``words``; None for anything else.
    if value.lstrip("-").isdigit() and int(value) in LEARN_STATUS:
        return int(value)
    return words.get(value)


def _status_filter(request: Request) -> list[int]:
    codes = []
    for value in query_list(request.query_params, "status"):
        code = _status_code(value, FILTER_STATUS)
        if code is None:
            raise bad_request(
                "status[]", f"expected one of {', '.join(FILTER_STATUS)} or -2..4, got {value!r}"
            )
        codes.append(code)
    return codes


async def list_learn_enrollments(request: Request) -> JSONResponse:
    """``GET /learn/v1/enrollments``: filters ``id_user[] id_course[] code_course[]
    status[]``; sorted by course id, then user id."""
    store = store_of(request)
    params = request.query_params
    where: list[str] = []
    args: list[Any] = []
    _in("e.user_id", query_ints(params, "id_user") + query_ints(params, "user_id"), where, args)
    _in("e.status", _status_filter(request), where, args)
    course_ids = query_ints(params, "id_course") + query_ints(params, "course_id")
    lead: set[int] | None = set(course_ids) if course_ids else None
    codes = query_list(params, "code_course")
    with store.read() as conn:
        if codes:
            # Codes become ids first, so the course filter walks the primary key; both
            # filters given means courses in both.
            marks = ", ".join("?" for _ in codes)
            sql = f"SELECT id FROM courses WHERE code IN ({marks}) AND code <> ''"
            ids = {row[0] for row in conn.execute(sql, codes)}
            lead = ids if lead is None else lead & ids
        from_where = FROM_JOINED + (" WHERE " + " AND ".join(where) if where else "")
        return list_response(
            request,
            conn,
            Query(LEARN_COLUMNS, from_where, tuple(args), _lead(lead)),
            Order("id", ("e.course_id", "e.user_id")),
            learn_item,
            default_page_size=200,
            max_page_size=store.max_page_size(),
        )


async def list_course_enrollments(request: Request) -> JSONResponse:
    """``GET /course/v1/courses/enrollments``: filters ``course_id[] user_id[]``."""
    store = store_of(request)
    params = request.query_params
    where: list[str] = []
    args: list[Any] = []
    course_ids = query_ints(params, "course_id")
    _in("e.user_id", query_ints(params, "user_id"), where, args)
    from_where = "FROM enrollments e" + (" WHERE " + " AND ".join(where) if where else "")
    with store.read() as conn:
        return list_response(
            request,
            conn,
            Query(COURSE_V1_COLUMNS, from_where, tuple(args), _lead(set(course_ids) or None)),
            Order("course_id", ("e.course_id", "e.user_id")),
            partial(course_v1_item, shapes=store.shapes()),
            default_page_size=200,
            max_page_size=store.max_page_size(),
        )


# writes ---------------------------------------------------------------------------------


def _id_list(body: dict[str, Any], *names: str) -> list[int]:
    for name in names:
        if name in body:
            raw = body[name]
            values = raw if isinstance(raw, list) else [raw]
            try:
                ids = [parse_int(v) for v in values]
            except ValueError as exc:
                raise bad_request(name, f"must be a list of ids: {exc}") from None
            if not ids:
                raise bad_request(name, "must not be empty")
            return ids
    raise bad_request(names[0], "is required (a list of ids)")


def _date_field(
    body: dict[str, Any], key: str, end_of_day: bool, clear: set[str], column: str
) -> str | None:
    if key not in body:
        return None
    try:
        value = parse_datetime(body[key], end_of_day=end_of_day)
    except ValueError as exc:
        raise bad_request(key, str(exc)) from None
    if value is None:
        clear.add(column)
    return value


def _level(value: object) -> int:
    if isinstance(value, str) and value.strip().lower() in LEVELS:
        return LEVELS[value.strip().lower()]
    level = parse_int(value)
    if level not in (3, 4, 6):
        raise ValueError(f"expected 3 (learner), 4 (tutor) or 6 (instructor), got {value!r}")
    return level


def _check_validity(
    begin: str | None,
    end: str | None,
    begin_name: str = "date_begin_validity",
    end_name: str = "date_expire_validity",
) -> None:
    if begin and end and end < begin:
        raise bad_request(end_name, f"{end} is before {begin_name} {begin}")


def _fields(body: dict[str, Any], *, with_status: bool) -> EnrollmentFields:
    """Returns the enrollment fields a many/one write body sets; bad values are 400s."""
    clear: set[str] = set()
    status = level = None
    if with_status and "status" in body:
        try:
            status = parse_int(body["status"])
        except ValueError as exc:
            raise bad_request("status", f"{exc} (a status code -2..4)") from None
        if status not in LEARN_STATUS:
            raise bad_request("status", f"expected a status code -2..4, got {status}")
    if "level" in body:
        try:
            level = _level(body["level"])
        except ValueError as exc:
            raise bad_request("level", str(exc)) from None
    begin = _date_field(body, "date_begin_validity", False, clear, "valid_from")
    end = _date_field(body, "date_expire_validity", True, clear, "valid_until")
    done = _date_field(body, "date_complete", False, clear, "completed_at") if with_status else None
    _check_validity(begin, end)
    return EnrollmentFields(
        status=status,
        level=level,
        completed_at=done,
        valid_from=begin,
        valid_until=end,
        clear=frozenset(clear),
    )


def _enroll_pairs(
    conn: sqlite3.Connection,
    effects: automation.Effects,
    course_ids: list[int],
    user_ids: list[int],
    values: EnrollmentFields,
) -> dict[str, list[dict[str, Any]]]:
    enrolled: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for course_id in course_ids:
        course_ok = row_exists(conn, "courses", course_id)
        for user_id in user_ids:
            pair = {"id_user": user_id, "id_course": course_id}
            if not course_ok:
                errors.append({**pair, "message": f"Course not found: {course_id}"})
            elif not row_exists(conn, "users", user_id):
                errors.append({**pair, "message": f"User not found: {user_id}"})
            elif automation.is_enrolled(conn, user_id, course_id):
                errors.append({**pair, "message": "User already enrolled"})
            else:
                automation.enroll(conn, effects, user_id, course_id, values)
                enrolled.append(pair)
    return {"enrolled": enrolled, "errors": errors}


def _update_pairs(
    conn: sqlite3.Connection,
    effects: automation.Effects,
    course_ids: list[int],
    user_ids: list[int],
    values: EnrollmentFields,
) -> dict[str, Any]:
    updated: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    for course_id in course_ids:
        for user_id in user_ids:
            pair = {"course_id": course_id, "user_id": user_id}
            if automation.update_enrollment(conn, effects, user_id, course_id, values):
                updated.append(pair)
            else:
                invalid.append(pair)
    # Docebo groups the pairs it could not update under the validation errors they share;
    # the only one the sandbox raises per pair is a missing enrollment.
    not_updated = (
        [{"validation_errors": [NOT_ENROLLED], "invalid_enrollments": invalid}] if invalid else []
    )
    return {"updated": updated, "not_updated": not_updated}


async def enroll_many(request: Request) -> JSONResponse:
    """``POST /learn/v1/enrollments``: enrolls every user in every course."""
    store = store_of(request)
    body = await read_body(request)
    course_ids = _id_list(body, "course_ids", "course_id")
    user_ids = _id_list(body, "user_ids", "user_id")
    values = _fields(body, with_status=False)
    effects = automation.Effects(now=store.now_wire())
    with store.write() as conn:
        result = _enroll_pairs(conn, effects, course_ids, user_ids, values)
        automation.settle(conn, effects)
    return ok(result)


async def update_many(request: Request) -> JSONResponse:
    """``PUT /learn/v1/enrollments``: updates every existing (user, course) pair."""
    store = store_of(request)
    body = await read_body(request)
    user_ids = _id_list(body, "user_ids", "user_id")
    course_ids = _id_list(body, "course_ids", "course_id")
    values = _fields(body, with_status=True)
    effects = automation.Effects(now=store.now_wire())
    with store.write() as conn:
        result = _update_pairs(conn, effects, course_ids, user_ids, values)
        automation.settle(conn, effects)
    return ok(result)


def _one_ids(request: Request) -> tuple[int, int]:
    return request.path_params["course_id"], request.path_params["user_id"]


async def view_one(request: Request) -> JSONResponse:
    """``GET /learn/v1/enrollments/{id_course}/{id_user}``: ``data.records`` is the
    enrollment in the list shape."""
    store = store_of(request)
    course_id, user_id = _one_ids(request)
    with store.read() as conn:
        row = conn.execute(
            f"SELECT {LEARN_COLUMNS} {FROM_JOINED} WHERE e.course_id = ? AND e.user_id = ?",
            (course_id, user_id),
        ).fetchone()
    if row is None:
        raise not_found(f"enrollment of user {user_id} in course {course_id}")
    return ok({"records": learn_item(row)})


async def enroll_one(request: Request) -> JSONResponse:
    """``POST /learn/v1/enrollments/{id_course}/{id_user}``: enrolls one user."""
    store = store_of(request)
    course_id, user_id = _one_ids(request)
    values = _fields(await read_body(request), with_status=False)
    effects = automation.Effects(now=store.now_wire())
    with store.write() as conn:
        if not row_exists(conn, "courses", course_id):
            raise not_found(f"course {course_id}")
        if not row_exists(conn, "users", user_id):
            raise not_found(f"user {user_id}")
        result = _enroll_pairs(conn, effects, [course_id], [user_id], values)
        automation.settle(conn, effects)
    return ok(result)


async def update_one(request: Request) -> JSONResponse:
    """``PUT /learn/v1/enrollments/{id_course}/{id_user}``: updates one enrollment."""
    store = store_of(request)
    course_id, user_id = _one_ids(request)
    values = _fields(await read_body(request), with_status=True)
    effects = automation.Effects(now=store.now_wire())
    with store.write() as conn:
        if not automation.update_enrollment(conn, effects, user_id, course_id, values):
            raise not_found(f"enrollment of user {user_id} in course {course_id}")
        automation.settle(conn, effects)
    return ok({"success": True})


# batch ----------------------------------------------------------------------------------


async def enroll_batch(request: Request) -> JSONResponse:
    """``POST /learn/v1/enrollment/batch``: one result row per item; row problems are
    data (``success: false`` with a message), never a failed request."""
    store = store_of(request)
    body = await read_body(request)
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise bad_request("items", "must be a non-empty list of enrollment rows")
    raw_options = body.get("options") or {}
    if not isinstance(raw_options, dict):
        raise bad_request("options", "must be an object")
    options = dict(BATCH_OPTIONS)
    for key, value in raw_options.items():
        if key in options:
            try:
                options[key] = parse_bool(value)
            except ValueError as exc:
                raise bad_request(f"options.{key}", str(exc)) from None
    effects = automation.Effects(
        now=store.now_wire(), notify=options["trigger_notifications"], batch=True
    )
    results = []
    with store.write() as conn:
        for index, item in enumerate(items):
            row: dict[str, Any] = {"row_index": index, "course_id": None, "user_id": None}
            try:
                _batch_row(conn, effects, item, options, row, lenient=is_lenient(request))
                row.update(success=True, message=None)
            except ApiError as exc:
                row.update(success=False, message=exc.message)
            result = {
                k: row[k] for k in ("row_index", "success", "message", "course_id", "user_id")
            }
            if isinstance(item, dict) and "batch_item_id" in item:
                result["batch_item_id"] = item["batch_item_id"]
            results.append(result)
        automation.settle(conn, effects)
    return ok(results)


def _batch_row(
    conn: sqlite3.Connection,
    effects: automation.Effects,
    item: object,
    options: dict[str, bool],
    row: dict[str, Any],
    *,
    lenient: bool,
) -> None:
    if not isinstance(item, dict):
        raise ApiError(400, "each item must be an object")
    course_id = _resolve(
        conn, item, "course_id", "course_code", "courses", course_id_by_code, "Course"
    )
    row["course_id"] = course_id
    user_id = _resolve(conn, item, "user_id", "username", "users", _user_id_by_username, "User")
    row["user_id"] = user_id
    clear: set[str] = set()
    status = level = None
    if item.get("status") not in (None, ""):
        raw = item["status"]
        word = str(raw).strip().lower()
        # Strict: the batch takes status words; a code is tolerated only in lenient mode.
        if lenient:
            status = _status_code(word, BATCH_STATUS)
        else:
            status = BATCH_STATUS.get(word) if isinstance(raw, str) else None
        if status is None:
            raise ApiError(
                400,
                f"status: expected subscribed, in_progress, completed or suspended; got {raw!r}",
            )
    if item.get("level") not in (None, ""):
        raw_level = item["level"]
        # Strict: a level word; the older numeric levels (3, "3") only in lenient mode.
        if not lenient and (
            not isinstance(raw_level, str) or raw_level.strip().lower() not in LEVELS
        ):
            raise ApiError(
                400, f"level: expected 'student', 'tutor' or 'instructor', got {raw_level!r}"
            )
        try:
            level = _level(raw_level)
        except ValueError as exc:
            raise bad_request("level", str(exc)) from None
    dates = {}
    for key, column, end_of_day in (
        ("completion_date", "completed_at", False),
        ("active_from", "valid_from", False),
        ("active_until", "valid_until", True),
        ("enrollment_date", "enrolled_at", False),
    ):
        value = _date_field(item, key, end_of_day, clear, column)
        if value is not None and column not in dates:
            dates[column] = value
    begin, end = dates.get("valid_from"), dates.get("valid_until")
    _check_validity(begin, end, "active_from", "active_until")
    if options["enrollment_date_now"]:
        dates.pop("enrolled_at", None)
    values = EnrollmentFields(status=status, level=level, clear=frozenset(clear), **dates)
    active = conn.execute("SELECT active FROM users WHERE id = ?", (user_id,)).fetchone()[0]
    if not active and not options["enroll_disabled_users"]:
        raise ApiError(400, "User is deactivated (set options.enroll_disabled_users to enroll)")
    if automation.is_enrolled(conn, user_id, course_id):
        if not options["duplicates_as_recertification"]:
            raise ApiError(400, "User already enrolled")
        automation.update_enrollment(conn, effects, user_id, course_id, values)
    else:
        automation.enroll(conn, effects, user_id, course_id, values)


def _user_id_by_username(conn: sqlite3.Connection, username: str) -> int | None:
    row = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
    return None if row is None else int(row[0])


def _resolve(
    conn: sqlite3.Connection,
    item: dict[str, Any],
    id_key: str,
    natural_key: str,
    table: str,
    by_natural: Callable[[sqlite3.Connection, str], int | None],
    what: str,
) -> int:
    if item.get(id_key) not in (None, ""):
        try:
            row_id = parse_int(item[id_key])
        except ValueError as exc:
            raise ApiError(400, f"{id_key}: {exc}") from None
        if not row_exists(conn, table, row_id):
            raise ApiError(400, f"{what} not found: {id_key} {row_id}")
        return row_id
    natural = item.get(natural_key)
    if natural in (None, ""):
        raise ApiError(400, f"{id_key} or {natural_key} is required")
    found = by_natural(conn, str(natural))
    if found is None:
        raise ApiError(400, f"{what} not found: {natural_key} {natural!r}")
    return found
