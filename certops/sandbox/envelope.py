"""Docebo's envelope, paging and errors: the one module that shapes every API answer.

Every answer is ``{"data": ..., "version": "1.0.0", "_links": ...}``. Lists carry
``count, has_more_data, current_page, current_page_size, total_page_count, sort, items``
plus ``total_count`` (with ``get_total_count=1``) and ``cursor`` (with ``get_cursor=1``).
Errors use the Yii-style body documented in ``docs/wire.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.sandbox.values import parse_bool, parse_int

VERSION = "1.0.0"

STATUS_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """An error answer: HTTP ``status`` with a message and, for 400s, the field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}


def bad_request(field: str, message: str) -> ApiError:
    """Returns a 400 naming ``field``; the message starts with the field name."""
    return ApiError(400, f"{field}: {message}", field=field)


def not_found(what: str) -> ApiError:
    """Returns a 404 saying what was not found."""
    return ApiError(404, f"{what} not found")


def error_response(error: ApiError) -> JSONResponse:
    """Returns the Yii-style error body for ``error``."""
    body: dict[str, Any] = {
        "name": STATUS_NAMES.get(error.status, "Error"),
        "message": error.message,
        "code": 0,
        "status": error.status,
    }
    if error.field:
        body["errors"] = [{"field": error.field, "message": error.message}]
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def ok(data: object) -> JSONResponse:
    """Returns a single-object answer: ``_links`` is an empty list there, as in Docebo."""
    return JSONResponse({"data": data, "version": VERSION, "_links": []})


# request parsing ------------------------------------------------------------------------


async def read_body(request: Request) -> dict[str, Any]:
    """Returns the request body as a dict: JSON, urlencoded or multipart form.

    Form keys written as ``name[]`` or ``name[0]`` become lists under ``name``.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        out: dict[str, Any] = {}
        for key, value in form.multi_items():
            name, is_list = _array_name(key)
            text = value if isinstance(value, str) else ""
            if is_list:
                out.setdefault(name, []).append(text)
            else:
                out[name] = text
        return out
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _array_name(key: str) -> tuple[str, bool]:
    if key.endswith("]") and "[" in key:
        return key[: key.index("[")], True
    return key, False


def query_list(params: QueryParams, name: str) -> list[str]:
    """Returns the values of an array parameter: ``name[]``, ``name[0]``, ``name`` or
    comma-separated ``name=1,2``."""
    values: list[str] = []
    for key, value in params.multi_items():
        base, _ = _array_name(key)
        if base == name:
            values.extend(v for v in value.split(",") if v.strip())
    return [v.strip() for v in values]


def query_ints(params: QueryParams, name: str) -> list[int]:
    """Returns an array parameter as integers; a non-integer is a 400 naming ``name[]``."""
    out = []
    for value in query_list(params, name):
        try:
            out.append(parse_int(value))
        except ValueError as exc:
            raise bad_request(f"{name}[]", str(exc)) from None
    return out


def query_flag(params: QueryParams, name: str) -> bool:
    """Returns a 0/1 query flag (absent = false)."""
    value = params.get(name)
    if value is None or value == "":
        return False
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise bad_request(name, str(exc)) from None


def query_int(params: QueryParams, name: str, default: int) -> int:
    """Returns an integer query parameter, or ``default`` when absent."""
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return parse_int(value)
    except ValueError as exc:
        raise bad_request(name, str(exc)) from None


# paging -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Order:
    """How a list is sorted: SQL expressions (the last one unique) and one direction.

    ``attr`` is the name echoed in ``data.sort``. One direction for every column keeps
    keyset (cursor) paging a single row-value comparison.
    """

    attr: str
    columns: tuple[str, ...]
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """A list query: ``FROM ... WHERE ...`` text with its parameters, and a row shape."""

    select: str  # the columns ``to_item`` receives, in order
    from_where: str
    params: tuple[Any, ...] = ()


def list_response(
    request: Request,
    conn: sqlite3.Connection,
    query: Query,
    order: Order,
    to_item: Callable[[tuple], dict[str, Any]],
    *,
    default_page_size: int,
    max_page_size: int,
) -> JSONResponse:
    """Runs ``query`` one page at a time and returns the Docebo list envelope.

    ``page`` is 1-based; ``page_size`` above ``max_page_size`` is clamped silently, below 1
    is a 400. With ``cursor`` the page continues after the cursor's key (keyset paging, so
    deep pages stay fast) and ``page`` is ignored.
    """
    params = request.query_params
    page = query_int(params, "page", 1)
    if page < 1:
        raise bad_request("page", f"must be 1 or more (pages are 1-based), got {page}")
    page_size = query_int(params, "page_size", default_page_size)
    if page_size < 1:
        raise bad_request("page_size", f"must be 1 or more, got {page_size}")
    page_size = min(page_size, max_page_size)
    want_total = query_flag(params, "get_total_count")
    want_cursor = query_flag(params, "get_cursor")
    cursor_text = params.get("cursor")

    direction = "DESC" if order.descending else "ASC"
    order_sql = ", ".join(f"{c} {direction}" for c in order.columns)
    where = query.from_where
    sql_params: list[Any] = list(query.params)
    after: Sequence[Any] | None = None
    if cursor_text:
        page, after = _decode_cursor(cursor_text, len(order.columns))
        comparison = "<" if order.descending else ">"
        key = "(" + ", ".join(order.columns) + ")"
        marks = "(" + ", ".join("?" for _ in order.columns) + ")"
        joiner = " AND " if " WHERE " in f" {where} " else " WHERE "
        where = f"{where}{joiner}{key} {comparison} {marks}"
        sql_params.extend(after)
        offset = 0
    else:
        offset = (page - 1) * page_size

    total = conn.execute(f"SELECT COUNT(*) {query.from_where}", query.params).fetchone()[0]
    keys = ", ".join(order.columns)
    rows = conn.execute(
        f"SELECT {keys}, {query.select} {where} ORDER BY {order_sql} LIMIT ? OFFSET ?",
        (*sql_params, page_size + 1, offset),
    ).fetchall()
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    total_pages = max(1, -(-total // page_size))
    data: dict[str, Any] = {
        "count": len(rows),
        "has_more_data": has_more,
        "current_page": page,
        "current_page_size": page_size,
        "total_page_count": total_pages,
        "sort": [{"sort_attr": order.attr, "sort_dir": "desc" if order.descending else "asc"}],
        "items": [to_item(row[len(order.columns) :]) for row in rows],
    }
    if want_total:
        data["total_count"] = total
    if want_cursor and has_more:
        last = rows[-1]
        data["cursor"] = _encode_cursor(page + 1, list(last[: len(order.columns)]))
    return JSONResponse(
        {"data": data, "version": VERSION, "_links": _links(request, page, page_size, total_pages)}
    )


def _links(request: Request, page: int, page_size: int, total_pages: int) -> dict[str, str]:
    base = request.url.path
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "cursor")]

    def at(p: int | str) -> str:
        query = urlencode([*kept, ("page", p)], safe="{}")
        return f"{base}?{query}"

    return {
        "self": at(page),
        "first": at(1),
        "last": at(total_pages),
        "goto": at("{page}"),
    }


def _encode_cursor(next_page: int, key: list[Any]) -> str:
    raw = json.dumps({"p": next_page, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str, key_len: int) -> tuple[int, list[Any]]:
    try:
        padded = text + "=" * (-len(text) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        page, key = value["p"], value["k"]
        if not isinstance(page, int) or not isinstance(key, list) or len(key) != key_len:
            raise ValueError
        return page, key
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request(
            "cursor", "not a cursor this list returned (pass back data.cursor unchanged)"
        ) from None
