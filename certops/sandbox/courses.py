"""Courses (``/learn/v1/courses``): list, create, view, update.

The list says ``course_type`` and ``start_date``/``end_date`` (dates, zero when unset);
the detail says ``type`` and ``course_date_start``/``course_date_end`` (null when unset),
as Docebo does. ``can_self_unenroll`` is the calling user's right (false for the API's
admin, who is not enrolled); the course's setting is ``self_unenrollment_settings``.
``visibility`` can be written but is never read back: Docebo's detail does not show it.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.sandbox.envelope import (
    Order,
    Query,
    bad_request,
    list_response,
    not_found,
    ok,
    read_body,
)
from certops.sandbox.fields import Known, Obj, listing, obj
from certops.sandbox.shapes import Shapes
from certops.sandbox.state import store_of
from certops.sandbox.values import (
    like_pattern,
    parse_bool,
    parse_choice,
    parse_datetime,
    parse_int,
    show_date,
    show_epoch_ms,
)

COURSE_TYPES = ("elearning", "classroom", "webinar")
STATUSES = {"published": 1, "under_maintenance": 0}
COURSE_COLUMNS = (
    "id, uid, code, name, description, course_type, published, can_self_unenroll,"
    " enrollment_policy, date_start, date_end, soft_deadline, visibility, updated_at,"
    " unenroll_completed"
)
SORT_COLUMNS = {"id_course": "id", "name": "name", "code": "code"}
# The API's caller is the admin, who is not enrolled: it has no right to self-unenroll.
CALLER_CAN_SELF_UNENROLL = False
UNENROLL_SETTINGS = {
    "allow_self_unenrollment_from_course": "can_self_unenroll",
    "allow_self_unenrollment_from_completed_course": "unenroll_completed",
}
CREATE_BODY = obj(
    "name",
    "code",
    "description",
    "course_type",
    "status",
    "enrollment_policy",
    "course_date_start",
    "course_date_end",
    "soft_deadline",
    "visibility",
    self_unenrollment_settings=obj(*UNENROLL_SETTINGS),
)
KNOWN_LIST = listing("sort_by", "sort_by_direction", "search_text")
KNOWN_VIEW = Known()
KNOWN_CREATE = Known(body=CREATE_BODY)
# An update takes any create field but the type, which a course keeps for life.
KNOWN_UPDATE = Known(body=Obj({k: v for k, v in CREATE_BODY.fields.items() if k != "course_type"}))


def course_item(row: tuple[Any, ...], shapes: Shapes) -> dict[str, Any]:
    """Returns a course in the list shape (its dates as ``shapes.course_list_dates``)."""
    (cid, uid, code, name, desc, ctype, published, _unenroll, policy, start, end, _soft, _vis,
     updated, _completed) = row  # fmt: skip
    epoch = shapes.course_list_dates == "epoch_ms"
    return {
        "id_course": cid,
        "uidCourse": uid,
        "name": name,
        "code": code,
        "description": desc,
        "course_type": ctype,
        "can_self_unenroll": CALLER_CAN_SELF_UNENROLL,
        "enrollment_policy": policy,
        "start_date": show_epoch_ms(start) if epoch else show_date(start),
        "end_date": show_epoch_ms(end) if epoch else show_date(end),
        "is_published": bool(published),
        "date_last_updated": show_epoch_ms(updated) if epoch else updated[:10],
    }


def course_detail(row: tuple[Any, ...]) -> dict[str, Any]:
    """Returns a course in the detail shape."""
    (cid, uid, code, name, desc, ctype, published, unenroll, policy, start, end, soft, _vis,
     _updated, completed) = row  # fmt: skip
    return {
        "id": cid,
        "uidCourse": uid,
        "code": code,
        "name": name,
        "description": desc,
        "type": ctype,
        "is_published": bool(published),
        "status": "published" if published else "under_maintenance",
        "can_self_unenroll": CALLER_CAN_SELF_UNENROLL,
        "self_unenrollment_settings": {
            "allow_self_unenrollment_from_course": bool(unenroll),
            "allow_self_unenrollment_from_completed_course": bool(completed),
        },
        "enrollment_policy": policy,
        "course_date_start": start,
        "course_date_end": end,
        "in_soft_deadline": bool(soft),
    }


async def list_courses(request: Request) -> JSONResponse:
    """``GET /learn/v1/courses``: the paged course list (default page size 20)."""
    store = store_of(request)
    params = request.query_params
    sort_by = params.get("sort_by") or "id_course"
    direction = (params.get("sort_by_direction") or "").lower()
    if sort_by not in SORT_COLUMNS:
        raise bad_request("sort_by", f"expected one of {', '.join(SORT_COLUMNS)}, got {sort_by!r}")
    if direction not in ("asc", "desc"):
        # Docebo ignores sort_by when the direction is missing or invalid.
        sort_by, direction = "id_course", "asc"
    columns = ("id",) if sort_by == "id_course" else (SORT_COLUMNS[sort_by], "id")
    where = ""
    args: tuple[str, ...] = ()
    search = params.get("search_text")
    if search:
        like = like_pattern(search)
        where, args = " WHERE (name LIKE ? ESCAPE '\\' OR code LIKE ? ESCAPE '\\')", (like, like)
    with store.read() as conn:
        return list_response(
            request,
            conn,
            Query(COURSE_COLUMNS, "FROM courses" + where, args),
            Order(sort_by, columns, descending=direction == "desc"),
            partial(course_item, shapes=store.shapes()),
            default_page_size=20,
            max_page_size=store.max_page_size(),
        )


def course_id_by_code(conn: sqlite3.Connection, code: str) -> int | None:
    """Returns the id of the course with this code, or None (the empty code names none)."""
    row = conn.execute("SELECT id FROM courses WHERE code = ? AND code <> ''", (code,)).fetchone()
    return None if row is None else int(row[0])


def fetch_course(conn: sqlite3.Connection, course_id: int) -> tuple[Any, ...]:
    """Returns the course's row, or raises a 404."""
    row: tuple[Any, ...] | None = conn.execute(
        f"SELECT {COURSE_COLUMNS} FROM courses WHERE id = ?", (course_id,)
    ).fetchone()
    if row is None:
        raise not_found(f"course {course_id}")
    return row


async def view_course(request: Request) -> JSONResponse:
    """``GET /learn/v1/courses/{id}``: one course in the detail shape."""
    store = store_of(request)
    with store.read() as conn:
        row = fetch_course(conn, request.path_params["course_id"])
    return ok(course_detail(row))


def _course_values(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """Returns the stored columns a create/update body sets; a bad value is a 400."""
    values: dict[str, Any] = {}
    if creating:
        for required in ("name", "course_type"):
            if body.get(required) in (None, ""):
                raise bad_request(required, "is required")
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            raise bad_request("name", "must be a non-empty string")
        values["name"] = body["name"]
    for key in ("code", "description"):
        if key in body:
            if body[key] is not None and not isinstance(body[key], str):
                raise bad_request(key, "must be a string")
            values[key] = (body[key] or "").strip() if key == "code" else body[key] or ""
    converters: dict[str, tuple[str, Any]] = {
        "course_type": ("course_type", lambda v: parse_choice(v, COURSE_TYPES)),
        "status": ("published", lambda v: parse_choice(v, STATUSES)),
        "enrollment_policy": ("enrollment_policy", lambda v: _code(v, (0, 1, 2))),
        "soft_deadline": ("soft_deadline", lambda v: int(parse_bool(v))),
        "visibility": ("visibility", lambda v: _code(v, (0, 1, 2))),
        "course_date_start": ("date_start", parse_datetime),
        "course_date_end": ("date_end", lambda v: parse_datetime(v, end_of_day=True)),
    }
    for key, (column, convert) in converters.items():
        if key in body:
            try:
                values[column] = convert(body[key])
            except ValueError as exc:
                raise bad_request(key, str(exc)) from None
    if "self_unenrollment_settings" in body:
        settings = body["self_unenrollment_settings"]
        if not isinstance(settings, dict):
            expected = ", ".join(UNENROLL_SETTINGS)
            raise bad_request("self_unenrollment_settings", f"must be an object {{{expected}}}")
        for key, column in UNENROLL_SETTINGS.items():
            if key in settings:
                try:
                    values[column] = int(parse_bool(settings[key]))
                except ValueError as exc:
                    raise bad_request(f"self_unenrollment_settings.{key}", str(exc)) from None
    _check_dates(values.get("date_start"), values.get("date_end"))
    return values


def _check_dates(start: str | None, end: str | None) -> None:
    if start and end and end < start:
        raise bad_request("course_date_end", f"{end} is before course_date_start {start}")


def _code(value: object, allowed: tuple[int, ...]) -> int:
    number = parse_int(value)
    if number not in allowed:
        raise ValueError(f"expected one of {', '.join(map(str, allowed))}, got {value!r}")
    return number


def _check_code_free(conn: sqlite3.Connection, code: str, course_id: int | None) -> None:
    if not code:
        return
    row = conn.execute("SELECT id FROM courses WHERE code = ?", (code,)).fetchone()
    if row is not None and row[0] != course_id:
        raise bad_request("code", f"course code {code!r} is already used by course {row[0]}")


def assign_uids(conn: sqlite3.Connection) -> None:
    """Gives every course inserted with an empty ``uid`` its own: a stable, Docebo-looking
    unique id derived from the numeric id."""
    conn.execute(
        "UPDATE courses SET uid = printf('E-%06X', (id * 2654435761) % 16777216) WHERE uid = ''"
    )


def insert_course(conn: sqlite3.Connection, values: dict[str, Any], now: str) -> int:
    """Inserts a course with ``values`` (stored columns); returns its id."""
    columns = {**values, "updated_at": now}
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    cursor = conn.execute(
        f"INSERT INTO courses (uid, {names}) VALUES ('', {marks})", tuple(columns.values())
    )
    assign_uids(conn)
    return int(cursor.lastrowid or 0)


async def create_course(request: Request) -> JSONResponse:
    """``POST /learn/v1/courses``: creates a course; returns ``{"id_course": ...}``."""
    store = store_of(request)
    body = await read_body(request)
    values = _course_values(body, creating=True)
    with store.write() as conn:
        _check_code_free(conn, values.get("code", ""), None)
        course_id = insert_course(conn, values, store.now_wire())
    return ok({"id_course": course_id})


async def update_course(request: Request) -> JSONResponse:
    """``PUT /learn/v1/courses/{id}``: sets the given fields; returns ``{"success": true}``."""
    store = store_of(request)
    course_id = request.path_params["course_id"]
    body = await read_body(request)
    values = _course_values(body, creating=False)
    with store.write() as conn:
        row = fetch_course(conn, course_id)
        if "code" in values:
            _check_code_free(conn, values["code"], course_id)
        # _course_values checked the given dates together; now against the stored ones too.
        _check_dates(values.get("date_start", row[9]), values.get("date_end", row[10]))
        if values:
            values["updated_at"] = store.now_wire()
            sets = ", ".join(f"{k} = ?" for k in values)
            conn.execute(f"UPDATE courses SET {sets} WHERE id = ?", (*values.values(), course_id))
    return ok({"success": True})
