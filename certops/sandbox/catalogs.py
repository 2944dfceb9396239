"""Catalogs (``/learn/v1/catalog``): list, view (its items), batch create, items batch.

Catalog item ids come back as strings, one of the quirks clients must coerce.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.sandbox.courses import course_id_by_code
from certops.sandbox.envelope import (
    Order,
    Query,
    bad_request,
    list_response,
    not_found,
    ok,
    query_flag,
    read_body,
)
from certops.sandbox.fields import Known, ListOf, listing, obj
from certops.sandbox.shapes import Shapes
from certops.sandbox.state import store_of
from certops.sandbox.values import like_pattern

ITEM_COLUMNS = "c.id, c.code, c.name, c.visibility, c.enrollment_policy"
SORT_ATTRS = {"id": "id", "catalogue_name": "name", "catalogue_description": "description"}
KNOWN_LIST = listing("sort_attr", "sort_dir", "show_item_list", "search_text")
KNOWN_VIEW = listing()
KNOWN_CREATE = Known(body=obj(items=ListOf(obj("code", "name", "description"))))
KNOWN_ADD_ITEMS = Known(body=obj(items=ListOf(obj("catalog_code", "item_code", "item_type"))))


def catalog_item_entry(row: tuple[Any, ...], shapes: Shapes) -> dict[str, Any]:
    """Returns a course as a catalog item (``item_id`` is a string; ``item_type`` the read
    side's word, ``shapes.catalog_item_type``)."""
    course_id, code, name, visibility, policy = row
    return {
        "item_id": str(course_id),
        "item_type": shapes.catalog_item_type,
        "item_code": code,
        "item_name": name,
        "item_visibility": visibility,
        "item_can_enroll": policy,
    }


def _sub_items(conn: sqlite3.Connection, catalog_id: int, shapes: Shapes) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {ITEM_COLUMNS} FROM catalog_items i JOIN courses c ON c.id = i.course_id"
        " WHERE i.catalog_id = ? ORDER BY c.id",
        (catalog_id,),
    ).fetchall()
    return [catalog_item_entry(r, shapes) for r in rows]


async def list_catalogs(request: Request) -> JSONResponse:
    """``GET /learn/v1/catalog``: the paged catalog list (``sub_items`` on request)."""
    store = store_of(request)
    params = request.query_params
    attr = params.get("sort_attr") or "id"
    if attr not in SORT_ATTRS:
        raise bad_request("sort_attr", f"expected one of {', '.join(SORT_ATTRS)}, got {attr!r}")
    direction = (params.get("sort_dir") or "desc").lower()
    if direction not in ("asc", "desc"):
        raise bad_request("sort_dir", f"expected asc or desc, got {direction!r}")
    show_items = query_flag(params, "show_item_list")
    where = ""
    args: tuple[str, ...] = ()
    search = params.get("search_text")
    if search:
        like = like_pattern(search)
        where, args = " WHERE (name LIKE ? ESCAPE '\\' OR code LIKE ? ESCAPE '\\')", (like, like)
    columns = ("id",) if attr == "id" else (SORT_ATTRS[attr], "id")
    shapes = store.shapes()
    with store.read() as conn:

        def item(row: tuple[Any, ...]) -> dict[str, Any]:
            catalog_id, code, name, description, count = row
            entry: dict[str, Any] = {
                "catalogue_id": catalog_id,
                "catalogue_code": code,
                "catalogue_name": name,
                "catalogue_description": description,
                "number_items": count,
            }
            if show_items:
                entry["sub_items"] = _sub_items(conn, catalog_id, shapes)
            return entry

        select = (
            "id, code, name, description,"
            " (SELECT COUNT(*) FROM catalog_items i WHERE i.catalog_id = catalogs.id)"
        )
        return list_response(
            request,
            conn,
            Query(select, "FROM catalogs" + where, args),
            Order(attr, columns, descending=direction == "desc"),
            item,
            default_page_size=200,
            max_page_size=store.max_page_size(),
        )


async def view_catalog(request: Request) -> JSONResponse:
    """``GET /learn/v1/catalog/{id}``: the catalog's items, paged."""
    store = store_of(request)
    catalog_id = request.path_params["catalog_id"]
    with store.read() as conn:
        if conn.execute("SELECT 1 FROM catalogs WHERE id = ?", (catalog_id,)).fetchone() is None:
            raise not_found(f"catalog {catalog_id}")
        return list_response(
            request,
            conn,
            Query(
                ITEM_COLUMNS,
                "FROM catalog_items i JOIN courses c ON c.id = i.course_id WHERE i.catalog_id = ?",
                (catalog_id,),
            ),
            Order("item_id", ("c.id",)),
            partial(catalog_item_entry, shapes=store.shapes()),
            default_page_size=200,
            max_page_size=store.max_page_size(),
        )


def _batch_items(body: dict[str, Any]) -> list[Any]:
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise bad_request("items", "must be a non-empty list of objects")
    return items


async def create_catalogs(request: Request) -> JSONResponse:
    """``POST /learn/v1/catalog/batch``: creates catalogs; one result row per item."""
    store = store_of(request)
    items = _batch_items(await read_body(request))
    results = []
    with store.write() as conn:
        for index, item in enumerate(items):
            row: dict[str, Any] = {"row_index": index, "success": False, "message": None}
            code = item.get("code") if isinstance(item, dict) else None
            name = item.get("name") if isinstance(item, dict) else None
            # The stored code is stripped, so the duplicate check must look for the stripped
            # code too: " X " next to "X" would otherwise hit UNIQUE and roll the batch back.
            code = code.strip() if isinstance(code, str) else ""
            if not code:
                row["message"] = "code is required"
            elif not isinstance(name, str) or not name.strip():
                row["message"] = "name is required"
            elif conn.execute("SELECT 1 FROM catalogs WHERE code = ?", (code,)).fetchone():
                row["message"] = "Catalog code already exists"
            else:
                cursor = conn.execute(
                    "INSERT INTO catalogs (code, name, description) VALUES (?, ?, ?)",
                    (code, name, str(item.get("description") or "")),
                )
                row.update(success=True, catalogue_id=cursor.lastrowid)
            results.append(row)
    return ok(results)


async def add_catalog_items(request: Request) -> JSONResponse:
    """``POST /learn/v1/catalog/items/batch``: puts courses in catalogs; one row per item."""
    store = store_of(request)
    items = _batch_items(await read_body(request))
    results = []
    with store.write() as conn:
        for index, item in enumerate(items):
            message = _add_item(conn, item)
            results.append({"row_index": index, "success": message is None, "message": message})
    return ok(results)


def _add_item(conn: sqlite3.Connection, item: object) -> str | None:
    if not isinstance(item, dict):
        return "each item must be an object {catalog_code, item_code, item_type}"
    item_type = item.get("item_type", "course")
    if item_type == "learning_plan":
        return "learning plans are not supported by the sandbox"
    if item_type != "course":
        return f"item_type must be 'course' or 'learning_plan', got {item_type!r}"
    catalog = conn.execute(
        "SELECT id FROM catalogs WHERE code = ?", (str(item.get("catalog_code", "")),)
    ).fetchone()
    if catalog is None:
        return f"Catalog not found: {item.get('catalog_code')!r}"
    code = str(item.get("item_code", ""))
    course_id = course_id_by_code(conn, code)
    if course_id is None:
        return f"Item not found: no course with code {code!r}"
    if conn.execute(
        "SELECT 1 FROM catalog_items WHERE catalog_id = ? AND course_id = ?",
        (catalog[0], course_id),
    ).fetchone():
        return "Item already in catalog"
    conn.execute(
        "INSERT INTO catalog_items (catalog_id, course_id) VALUES (?, ?)", (catalog[0], course_id)
    )
    return None
