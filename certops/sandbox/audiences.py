"""Groups, which Docebo calls audiences (``/audiences/v1/audience``): manual and automatic.

An audience is named by a UUID. An automatic audience's members are the users its
``ruleset`` holds for: ``sets`` of ``rules`` (``{type, payload}``), the rules of a set
combined with its ``rules_operator`` and the sets with the ruleset's ``operator``. The
sandbox evaluates one rule type, ``CourseEnrollmentStatus`` with status ``completed``
(the user completed every listed course); with ``exclude_deactivated_users`` deactivated
users are not members. Creating an automatic audience or changing its rules recomputes
membership in full (at once: Docebo does it asynchronously), and users who join fire the
enrollment rules on the audience (see ``automation``). A manual audience's members are
assigned with ``PUT .../assign_users``.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.sandbox import automation
from certops.sandbox.automation import COURSE_STATUS_RULE
from certops.sandbox.envelope import (
    Order,
    Query,
    bad_request,
    list_response,
    not_found,
    ok,
    read_body,
)
from certops.sandbox.fields import Known, ListOf, check, is_lenient, listing, obj
from certops.sandbox.state import store_of
from certops.sandbox.store import row_exists
from certops.sandbox.values import like_pattern, parse_bool, parse_int

OPERATORS = ("AND", "OR")
TYPES = ("manual", "automatic")
COMPLETED_STATUSES = ("completed", 2, "2")

# ``payload`` is looked into by ``_rule``: its keys depend on the rule's type.
RULESET = obj(
    "status", "operator", sets=ListOf(obj("rules_operator", rules=ListOf(obj("type", "payload"))))
)
AUDIENCE_BODY = obj("name", "description", "type", "exclude_deactivated_users", ruleset=RULESET)
COURSE_STATUS_PAYLOAD = obj("course_ids", "course_id", "status")

KNOWN_LIST = listing("sort_attr", "sort_dir", "search_text")
KNOWN_VIEW = Known()
KNOWN_WRITE = Known(body=AUDIENCE_BODY)
KNOWN_USERS = listing()
KNOWN_ASSIGN = Known(body=obj("user_ids", "user_all", user_filters=obj("search")))
# Sorted without regard to case, as Docebo's MySQL collation does.
SORT_ATTRS = {"name": "name COLLATE NOCASE", "description": "description COLLATE NOCASE"}


def _ruleset(
    conn: sqlite3.Connection, raw: object, *, lenient: bool
) -> tuple[str, list[dict[str, Any]]]:
    """Returns (operator, normalised sets) of a request's ``ruleset``; a bad one is a 400
    naming the field by its path."""
    if not isinstance(raw, dict):
        raise bad_request("ruleset", "must be an object {operator, sets: [...]}")
    operator = _operator(raw, "operator", "ruleset.operator")
    raw_sets = raw.get("sets", [])
    if not isinstance(raw_sets, list):
        raise bad_request("ruleset.sets", "must be a list of {rules_operator, rules}")
    sets = []
    for i, raw_set in enumerate(raw_sets):
        where = f"ruleset.sets[{i}]"
        if not isinstance(raw_set, dict):
            raise bad_request(where, "must be an object {rules_operator, rules}")
        rules = raw_set.get("rules")
        if not isinstance(rules, list) or not rules:
            raise bad_request(f"{where}.rules", "must be a non-empty list of {type, payload}")
        sets.append(
            {
                "rules_operator": _operator(raw_set, "rules_operator", f"{where}.rules_operator"),
                "rules": [
                    _rule(conn, rule, f"{where}.rules[{j}]", lenient=lenient)
                    for j, rule in enumerate(rules)
                ],
            }
        )
    return operator, sets


def _operator(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key, "AND")
    word = value.strip().upper() if isinstance(value, str) else value
    if word not in OPERATORS:
        raise bad_request(where, f"expected AND or OR, got {value!r}")
    return word


def _rule(conn: sqlite3.Connection, raw: object, where: str, *, lenient: bool) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request(where, "must be an object {type, payload}")
    rule_type = raw.get("type")
    payload = raw.get("payload", {})
    if rule_type != COURSE_STATUS_RULE:
        if not lenient:
            raise bad_request(
                f"{where}.type",
                f"the sandbox evaluates only {COURSE_STATUS_RULE!r} rules, got {rule_type!r}",
            )
        # Lenient: kept as sent (a real tenant may know it); it never matches here.
        return {"type": rule_type, "payload": payload}
    if not isinstance(payload, dict):
        raise bad_request(f"{where}.payload", "must be an object {course_ids, status}")
    payload = check(payload, COURSE_STATUS_PAYLOAD, lenient=lenient, path=f"{where}.payload")
    if "course_ids" in payload:
        key, raw_ids = "course_ids", payload["course_ids"]
        if not isinstance(raw_ids, list) or not raw_ids:
            raise bad_request(f"{where}.payload.course_ids", "must be a non-empty list of ids")
    elif "course_id" in payload:
        key, raw_ids = "course_id", [payload["course_id"]]
    else:
        raise bad_request(f"{where}.payload.course_ids", "is required (a list of course ids)")
    course_ids = []
    for value in raw_ids:
        try:
            course_id = parse_int(value)
        except ValueError as exc:
            raise bad_request(f"{where}.payload.{key}", f"a course id: {exc}") from None
        if not row_exists(conn, "courses", course_id):
            raise bad_request(f"{where}.payload.{key}", f"no course with id {course_id}")
        course_ids.append(course_id)
    status = payload.get("status", "completed")
    if status not in COMPLETED_STATUSES:
        raise bad_request(
            f"{where}.payload.status",
            f"the sandbox evaluates only status 'completed' (or 2), got {status!r}",
        )
    payload = {"course_ids": course_ids, "status": "completed"}
    return {"type": COURSE_STATUS_RULE, "payload": payload}


def _flag(body: dict[str, Any], key: str) -> bool | None:
    if key not in body:
        return None
    try:
        return parse_bool(body[key])
    except ValueError as exc:
        raise bad_request(key, str(exc)) from None


def _text(body: dict[str, Any], key: str) -> str | None:
    if key not in body:
        return None
    value = body[key]
    if value is not None and not isinstance(value, str):
        raise bad_request(key, "must be a string")
    return value or ""


def _type(body: dict[str, Any]) -> str | None:
    if "type" not in body:
        return None
    value = body["type"]
    if not isinstance(value, str) or value not in TYPES:
        raise bad_request("type", f"expected manual or automatic, got {value!r}")
    return value


def _name_free(conn: sqlite3.Connection, name: str, group_id: int | None) -> None:
    row = conn.execute("SELECT id FROM user_groups WHERE name = ?", (name,)).fetchone()
    if row is not None and row[0] != group_id:
        raise bad_request("name", f"an audience named {name!r} already exists")


async def create_audience(request: Request) -> JSONResponse:
    """``POST /audiences/v1/audience``: creates an audience; returns ``{"uuid": ...}``.
    An automatic one is filled from its rules at once."""
    store = store_of(request)
    body = await read_body(request)
    name = _text(body, "name")
    if not name or not name.strip():
        raise bad_request("name", "is required")
    kind = _type(body) or ("automatic" if "ruleset" in body else "manual")
    exclude = bool(_flag(body, "exclude_deactivated_users"))
    effects = automation.Effects(now=store.now_wire())
    audience_uuid = str(uuid.uuid4())
    with store.write() as conn:
        _name_free(conn, name, None)
        operator = "AND"
        sets: list[dict[str, Any]] = []
        if "ruleset" in body:
            operator, sets = _ruleset(conn, body["ruleset"], lenient=is_lenient(request))
        if sets and kind == "manual":
            raise bad_request("ruleset", "only automatic audiences have rules")
        cursor = conn.execute(
            "INSERT INTO user_groups (uuid, name, description, automatic, exclude_deactivated,"
            " rule_set_operator, rule_sets, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                audience_uuid,
                name,
                _text(body, "description") or "",
                int(kind == "automatic"),
                int(exclude),
                operator,
                json.dumps(sets),
                effects.now,
            ),
        )
        if kind == "automatic":
            automation.recompute_groups(conn, effects, group_ids=[int(cursor.lastrowid or 0)])
    return ok({"uuid": audience_uuid})


def _audience_row(conn: sqlite3.Connection, audience_uuid: str) -> tuple[Any, ...]:
    row: tuple[Any, ...] | None = conn.execute(
        "SELECT id, uuid, name, description, automatic, exclude_deactivated, rule_set_operator,"
        " rule_sets, updated_at FROM user_groups WHERE uuid = ?",
        (audience_uuid,),
    ).fetchone()
    if row is None:
        raise not_found(f"audience {audience_uuid}")
    return row


async def update_audience(request: Request) -> JSONResponse:
    """``PUT /audiences/v1/audience/{uuid}``: sets the given fields. A new ruleset, a
    change of type to automatic or of ``exclude_deactivated_users`` recomputes membership;
    an audience made manual keeps its members and drops its rules."""
    store = store_of(request)
    body = await read_body(request)
    effects = automation.Effects(now=store.now_wire())
    with store.write() as conn:
        group_id, _, _, _, was_automatic, was_excluding, *_ = _audience_row(
            conn, request.path_params["uuid"]
        )
        sets: dict[str, Any] = {}
        name = _text(body, "name")
        if name is not None:
            if not name.strip():
                raise bad_request("name", "must not be empty")
            _name_free(conn, name, group_id)
            sets["name"] = name
        description = _text(body, "description")
        if description is not None:
            sets["description"] = description
        kind = _type(body) or ("automatic" if was_automatic else "manual")
        sets["automatic"] = int(kind == "automatic")
        exclude = _flag(body, "exclude_deactivated_users")
        if exclude is not None:
            sets["exclude_deactivated"] = int(exclude)
        if "ruleset" in body:
            operator, rule_sets = _ruleset(conn, body["ruleset"], lenient=is_lenient(request))
            if rule_sets and kind == "manual":
                raise bad_request("ruleset", "only automatic audiences have rules")
            sets["rule_set_operator"], sets["rule_sets"] = operator, json.dumps(rule_sets)
        elif kind == "manual":
            sets["rule_sets"] = "[]"  # an audience made manual keeps its members, not its rules
        sets["updated_at"] = effects.now
        assignments = ", ".join(f"{k} = ?" for k in sets)
        conn.execute(
            f"UPDATE user_groups SET {assignments} WHERE id = ?", (*sets.values(), group_id)
        )
        changed = (
            "ruleset" in body
            or not was_automatic
            or (exclude is not None and bool(exclude) != bool(was_excluding))
        )
        if kind == "automatic" and changed:
            automation.recompute_groups(conn, effects, group_ids=[group_id])
    return ok({"success": True})


async def assign_users(request: Request) -> JSONResponse:
    """``PUT /audiences/v1/audience/{uuid}/assign_users`` ``{user_ids}``: adds users to a
    manual audience; those who join fire its enrollment rules."""
    store = store_of(request)
    body = await read_body(request)
    if _flag(body, "user_all"):
        raise bad_request("user_all", "the sandbox assigns listed users only (user_ids)")
    raw = body.get("user_ids")
    if not isinstance(raw, list) or not raw:
        raise bad_request("user_ids", "must be a non-empty list of user ids")
    effects = automation.Effects(now=store.now_wire())
    with store.write() as conn:
        group_id, _, _, _, automatic, *_ = _audience_row(conn, request.path_params["uuid"])
        if automatic:
            raise bad_request("user_ids", "members of an automatic audience come from its rules")
        user_ids = []
        for value in raw:
            try:
                user_id = parse_int(value)
            except ValueError as exc:
                raise bad_request("user_ids", str(exc)) from None
            if not row_exists(conn, "users", user_id):
                raise bad_request("user_ids", f"no user with id {user_id}")
            user_ids.append(user_id)
        automation.add_members(conn, effects, group_id, user_ids)
        conn.execute("UPDATE user_groups SET updated_at = ? WHERE id = ?", (effects.now, group_id))
    return ok({"success": True})


async def list_audiences(request: Request) -> JSONResponse:
    """``GET /audiences/v1/audience``: the paged audience list; ``search_text`` matches
    name or description, ``sort_attr`` is name (default) or description."""
    store = store_of(request)
    params = request.query_params
    attr = params.get("sort_attr") or "name"
    if attr not in SORT_ATTRS:
        raise bad_request("sort_attr", f"expected one of {', '.join(SORT_ATTRS)}, got {attr!r}")
    direction = (params.get("sort_dir") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise bad_request("sort_dir", f"expected asc or desc, got {direction!r}")
    where = ""
    args: tuple[str, ...] = ()
    search = params.get("search_text")
    if search:
        like = like_pattern(search)
        where = " WHERE (name LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')"
        args = (like, like)

    def item(row: tuple[Any, ...]) -> dict[str, Any]:
        audience_uuid, name, description, automatic, exclude, operator, updated = row
        return {
            "uuid": audience_uuid,
            "name": name,
            "description": description,
            "type": "automatic" if automatic else "manual",
            "exclude_deactivated_users": bool(exclude),
            "rule_set_operator": operator,
            "updated_at": updated,
        }

    select = (
        "uuid, name, description, automatic, exclude_deactivated, rule_set_operator, updated_at"
    )
    with store.read() as conn:
        return list_response(
            request,
            conn,
            Query(select, "FROM user_groups" + where, args),
            Order(attr, (SORT_ATTRS[attr], "id"), descending=direction == "desc"),
            item,
            default_page_size=200,
            max_page_size=store.max_page_size(),
        )


async def view_audience(request: Request) -> JSONResponse:
    """``GET /audiences/v1/audience/{uuid}``: one audience with its ruleset (a manual one
    has no sets)."""
    store = store_of(request)
    with store.read() as conn:
        row = _audience_row(conn, request.path_params["uuid"])
    _, audience_uuid, name, description, automatic, exclude, operator, rule_sets, _ = row
    return ok(
        {
            "uuid": audience_uuid,
            "name": name,
            "description": description,
            "type": "automatic" if automatic else "manual",
            "exclude_deactivated_users": bool(exclude),
            "ruleset": {"status": "READY", "operator": operator, "sets": json.loads(rule_sets)},
        }
    )


async def list_users(request: Request) -> JSONResponse:
    """``GET /audiences/v1/audience/{uuid}/users``: the audience's members, paged."""
    store = store_of(request)

    def item(row: tuple[Any, ...]) -> dict[str, Any]:
        user_id, username, first, last, email = row
        return {
            "user_id": user_id,
            "username": username,
            "first_name": first,
            "last_name": last,
            "email": email,
        }

    with store.read() as conn:
        group_id, *_, exclude, _, _, _ = _audience_row(conn, request.path_params["uuid"])
        # A manual audience keeps a deactivated member's row; it does not count them.
        active = " AND u.active = 1" if exclude else ""
        return list_response(
            request,
            conn,
            Query(
                "u.id, u.username, u.first_name, u.last_name, u.email",
                "FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ?"
                + active,
                (group_id,),
            ),
            Order("user_id", ("m.user_id",)),
            item,
            default_page_size=200,
            max_page_size=store.max_page_size(),
        )
