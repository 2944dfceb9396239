"""Groups (``/manage/v1/group``): manual and automatic, with rule sets on completions.

An automatic group's members are the users whose completions satisfy its rule sets
(see ``automation``); creating it with ``assign_existing_users=1`` (the default) or
changing its rules recomputes membership in full, and users who join fire the enrollment
rules on the group.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.sandbox import automation
from certops.sandbox.envelope import (
    Order,
    Query,
    bad_request,
    list_response,
    not_found,
    ok,
    read_body,
)
from certops.sandbox.state import store_of
from certops.sandbox.store import row_exists
from certops.sandbox.values import like_pattern, parse_bool, parse_int

CONDITION = "course_completed"


def _rule_sets(conn: sqlite3.Connection, body: dict[str, Any]) -> tuple[str, list[dict]] | None:
    """Returns (operator, normalised rule sets) from the body, or None if it sets none.

    Accepts ``rule_set_operator`` + ``rule_sets`` and the legacy flat ``rules_logic`` +
    ``rules_list`` (AND: one rule set; OR: one rule set per rule, combined with ANY).
    """
    if "rule_sets" in body:
        raw_sets = body["rule_sets"]
        if not isinstance(raw_sets, list):
            raise bad_request("rule_sets", "must be a list of {rules_operator, rules}")
        operator = str(body.get("rule_set_operator", "ANY")).upper()
        if operator not in ("ALL", "ANY"):
            raise bad_request("rule_set_operator", f"expected ALL or ANY, got {operator!r}")
    elif "rules_list" in body:
        rules = body["rules_list"]
        if not isinstance(rules, list):
            raise bad_request("rules_list", "must be a list of {condition_type, condition_value}")
        logic = str(body.get("rules_logic", "AND")).upper()
        if logic not in ("AND", "OR"):
            raise bad_request("rules_logic", f"expected AND or OR, got {logic!r}")
        if logic == "AND":
            operator, raw_sets = "ALL", [{"rules_operator": "AND", "rules": rules}]
        else:
            operator = "ANY"
            raw_sets = [{"rules_operator": "AND", "rules": [rule]} for rule in rules]
    elif "rule_set_operator" in body:
        operator = str(body["rule_set_operator"]).upper()
        if operator not in ("ALL", "ANY"):
            raise bad_request("rule_set_operator", f"expected ALL or ANY, got {operator!r}")
        return operator, []
    else:
        return None
    return operator, [_rule_set(conn, i, s) for i, s in enumerate(raw_sets)]


def _rule_set(conn: sqlite3.Connection, index: int, raw: object) -> dict[str, Any]:
    field = f"rule_sets[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list) or not raw["rules"]:
        raise bad_request(field, "must be an object with a non-empty list of rules")
    if str(raw.get("rules_operator", "AND")).upper() != "AND":
        raise bad_request(f"{field}.rules_operator", "only AND is supported inside a rule set")
    rules = []
    for j, rule in enumerate(raw["rules"]):
        where = f"{field}.rules[{j}]"
        if not isinstance(rule, dict) or rule.get("condition_type") != CONDITION:
            raise bad_request(where, f"condition_type must be {CONDITION!r} (course completion)")
        try:
            course_id = parse_int(rule.get("condition_value"))
        except ValueError as exc:
            raise bad_request(f"{where}.condition_value", f"a course id: {exc}") from None
        if not row_exists(conn, "courses", course_id):
            raise bad_request(f"{where}.condition_value", f"no course with id {course_id}")
        rules.append({"condition_type": CONDITION, "condition_value": str(course_id)})
    return {"rules_operator": "AND", "rules": rules}


def _user_ids(conn: sqlite3.Connection, body: dict[str, Any]) -> list[int] | None:
    if "id_users" not in body:
        return None
    raw = body["id_users"]
    if not isinstance(raw, list):
        raise bad_request("id_users", "must be a list of user ids")
    ids = []
    for value in raw:
        try:
            user_id = parse_int(value)
        except ValueError as exc:
            raise bad_request("id_users", str(exc)) from None
        if not row_exists(conn, "users", user_id):
            raise bad_request("id_users", f"no user with id {user_id}")
        ids.append(user_id)
    return ids


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    if key not in body:
        return default
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


async def create_group(request: Request) -> JSONResponse:
    """``POST /manage/v1/group``: creates a group; returns ``{"group_id": ...}``."""
    store = store_of(request)
    body = await read_body(request)
    name = _text(body, "name")
    if not name or not name.strip():
        raise bad_request("name", "is required")
    automatic = _flag(body, "assign_rules", False)
    assign_existing = _flag(body, "assign_existing_users", True)
    effects = automation.Effects(now=store.now_wire())
    with store.write() as conn:
        if conn.execute("SELECT 1 FROM user_groups WHERE name = ?", (name,)).fetchone():
            raise bad_request("name", f"a group named {name!r} already exists")
        rules = _rule_sets(conn, body)
        members = _user_ids(conn, body)
        if rules and rules[1] and not automatic:
            raise bad_request("rule_sets", "only automatic groups (assign_rules=1) have rules")
        if members and automatic:
            raise bad_request("id_users", "members of an automatic group come from its rules")
        operator, sets = rules or ("ANY", [])
        cursor = conn.execute(
            "INSERT INTO user_groups (name, description, automatic, rule_set_operator, rule_sets)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, _text(body, "description") or "", int(automatic), operator, json.dumps(sets)),
        )
        group_id = int(cursor.lastrowid or 0)
        if automatic and assign_existing:
            automation.recompute_groups(conn, effects, group_ids=[group_id])
        if members:
            automation.add_members(conn, effects, group_id, members)
    return ok({"group_id": group_id})


def _group_row(conn: sqlite3.Connection, group_id: int) -> tuple:
    row = conn.execute(
        "SELECT id, name, description, automatic, rule_set_operator, rule_sets"
        " FROM user_groups WHERE id = ?",
        (group_id,),
    ).fetchone()
    if row is None:
        raise not_found(f"group {group_id}")
    return row


async def update_group(request: Request) -> JSONResponse:
    """``PUT /manage/v1/group/{id}``: sets the given fields; rule changes recompute
    membership, and ``id_users`` sets a manual group's members."""
    store = store_of(request)
    group_id = request.path_params["group_id"]
    body = await read_body(request)
    effects = automation.Effects(now=store.now_wire())
    with store.write() as conn:
        row = _group_row(conn, group_id)
        sets: dict[str, Any] = {}
        name = _text(body, "name")
        if name is not None:
            if not name.strip():
                raise bad_request("name", "must not be empty")
            other = conn.execute("SELECT id FROM user_groups WHERE name = ?", (name,)).fetchone()
            if other and other[0] != group_id:
                raise bad_request("name", f"a group named {name!r} already exists")
            sets["name"] = name
        description = _text(body, "description")
        if description is not None:
            sets["description"] = description
        automatic = _flag(body, "assign_rules", bool(row[3]))
        sets["automatic"] = int(automatic)
        rules = _rule_sets(conn, body)
        if rules is not None:
            if rules[1] and not automatic:
                raise bad_request("rule_sets", "only automatic groups (assign_rules=1) have rules")
            sets["rule_set_operator"], sets["rule_sets"] = rules[0], json.dumps(rules[1])
        elif not automatic:
            sets["rule_sets"] = "[]"  # a group made manual keeps its members, not its rules
        members = _user_ids(conn, body)
        if members is not None and automatic:
            raise bad_request("id_users", "members of an automatic group come from its rules")
        assignments = ", ".join(f"{k} = ?" for k in sets)
        conn.execute(
            f"UPDATE user_groups SET {assignments} WHERE id = ?", (*sets.values(), group_id)
        )
        if automatic and (rules is not None or not row[3]):
            automation.recompute_groups(conn, effects, group_ids=[group_id])
        if members is not None:
            conn.execute(
                f"DELETE FROM group_members WHERE group_id = ? AND user_id NOT IN"
                f" ({', '.join('?' for _ in members)})",
                (group_id, *members),
            )
            automation.add_members(conn, effects, group_id, members)
    return ok({"success": True})


async def list_groups(request: Request) -> JSONResponse:
    """``GET /manage/v1/group``: the paged group list (``group_id`` as a string)."""
    store = store_of(request)
    where, args = "", ()
    search = request.query_params.get("search_text")
    if search:
        where, args = " WHERE name LIKE ? ESCAPE '\\'", (like_pattern(search),)

    def item(row: tuple) -> dict[str, Any]:
        group_id, name, description, automatic, operator, count = row
        return {
            "group_id": str(group_id),
            "name": name,
            "description": description,
            "type": "automatic" if automatic else "manual",
            "rule_set_operator": operator,
            "members_count": count,
        }

    select = (
        "id, name, description, automatic, rule_set_operator,"
        " (SELECT COUNT(*) FROM group_members m WHERE m.group_id = user_groups.id)"
    )
    with store.read() as conn:
        return list_response(
            request,
            conn,
            Query(select, "FROM user_groups" + where, args),
            Order("group_id", ("id",)),
            item,
            default_page_size=200,
            max_page_size=store.max_page_size(),
        )


async def view_group(request: Request) -> JSONResponse:
    """``GET /manage/v1/group/{id}``: one group with its rule sets."""
    store = store_of(request)
    with store.read() as conn:
        group_id, name, description, automatic, operator, rule_sets = _group_row(
            conn, request.path_params["group_id"]
        )
    return ok(
        {
            "group_id": group_id,
            "name": name,
            "description": description,
            "type": "automatic" if automatic else "manual",
            "rule_set_operator": operator,
            "rule_sets": json.loads(rule_sets),
        }
    )


async def list_members(request: Request) -> JSONResponse:
    """``GET /manage/v1/group/{id}/members``: the group's members, paged."""
    store = store_of(request)
    group_id = request.path_params["group_id"]

    def item(row: tuple) -> dict[str, Any]:
        user_id, username, first, last, email, level = row
        return {
            "user_id": user_id,
            "username": username,
            "first_name": first,
            "last_name": last,
            "email": email,
            "level": str(level),
        }

    with store.read() as conn:
        _group_row(conn, group_id)
        return list_response(
            request,
            conn,
            Query(
                "u.id, u.username, u.first_name, u.last_name, u.email, u.level",
                "FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ?",
                (group_id,),
            ),
            Order("user_id", ("m.user_id",)),
            item,
            default_page_size=200,
            max_page_size=store.max_page_size(),
        )
