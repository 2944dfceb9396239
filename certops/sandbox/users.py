"""Users (``/manage/v1/user``), read only through the API, as certops uses them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.sandbox.envelope import Order, Query, bad_request, list_response, not_found, ok
from certops.sandbox.fields import Known, listing
from certops.sandbox.state import store_of
from certops.sandbox.values import like_pattern

USER_COLUMNS = "id, username, first_name, last_name, email, active, level, created_at, updated_at"
SORT_ATTRS = {
    "username": "username",
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "status": "active",
}
KNOWN_LIST = listing("sort_attr", "sort_dir", "search_text", "match_type")
KNOWN_VIEW = Known()
# Docebo's level names by the numeric levels the sandbox stores.
LEVEL_NAMES = {3: "godadmin", 4: "power_user", 6: "user"}


def user_item(row: tuple[Any, ...]) -> dict[str, object]:
    """Returns a user in Docebo's list shape (``user_id`` and ``status`` are strings)."""
    user_id, username, first, last, email, active, level, created, updated = row
    return {
        "user_id": str(user_id),
        "username": username,
        "first_name": first,
        "last_name": last,
        "fullname": f"{first} {last}".strip(),
        "email": email,
        "status": "1" if active else "0",
        "level": str(level),
        "creation_date": created,
        "last_update": updated,
        "expiration_date": None,
    }


async def list_users(request: Request) -> JSONResponse:
    """``GET /manage/v1/user``: the paged user list."""
    store = store_of(request)
    params = request.query_params
    attr = params.get("sort_attr") or "first_name"
    if attr not in SORT_ATTRS:
        raise bad_request("sort_attr", f"expected one of {', '.join(SORT_ATTRS)}, got {attr!r}")
    direction = (params.get("sort_dir") or "desc").lower()
    if direction not in ("asc", "desc"):
        raise bad_request("sort_dir", f"expected asc or desc, got {direction!r}")
    where, args = [], []
    search = params.get("search_text")
    if search:
        if params.get("match_type") == "full":
            where.append("(username = ? OR email = ?)")
            args.extend([search, search])
        else:
            like = like_pattern(search)
            where.append(
                "(username LIKE ? ESCAPE '\\' OR first_name LIKE ? ESCAPE '\\'"
                " OR last_name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\')"
            )
            args.extend([like] * 4)
    from_where = "FROM users" + (" WHERE " + " AND ".join(where) if where else "")
    order = Order(attr, (SORT_ATTRS[attr], "id"), descending=direction == "desc")
    with store.read() as conn:
        return list_response(
            request,
            conn,
            Query(USER_COLUMNS, from_where, tuple(args)),
            order,
            user_item,
            default_page_size=200,
            max_page_size=store.max_page_size(),
        )


async def view_user(request: Request) -> JSONResponse:
    """``GET /manage/v1/user/{user_id}``: one user, under ``user_data``."""
    store = store_of(request)
    user_id = request.path_params["user_id"]
    with store.read() as conn:
        row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise not_found(f"user {user_id}")
    return ok({"user_data": user_item(row), "additional_fields": []})


async def session(request: Request) -> JSONResponse:
    """``GET /manage/v1/user/session``: who the access token belongs to. A
    ``client_credentials`` token acts as the sandbox's admin user."""
    store = store_of(request)
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    with store.read() as conn:
        owner = conn.execute(
            "SELECT username FROM tokens WHERE token = ? AND kind = 'access'", (token,)
        ).fetchone()
        username = (owner[0] if owner else None) or store.credentials().username
        row = conn.execute(
            f"SELECT {USER_COLUMNS} FROM users WHERE username = ?", (username,)
        ).fetchone()
    if row is None:
        raise not_found(f"user {username!r}")
    user_id, username, first, last, email, _active, level, _created, _updated = row
    return ok(
        {
            "id": user_id,
            "username": username,
            # No underscore here, unlike the user list (the SDK's session schema).
            "firstname": first,
            "lastname": last,
            "email": email,
            "user_level": LEVEL_NAMES.get(level, str(level)),
        }
    )
