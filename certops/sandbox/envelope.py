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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse

from certops.sandbox.store import Store, change_stamp
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
        headers: Mapping[str, str] | None = None,
        errors: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}
        # Every (field, message) at fault when there are several; else just ``field``.
        self.errors = errors or ([(field, message)] if field else [])


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
    if error.errors:
        body["errors"] = [{"field": f, "message": m} for f, m in error.errors]
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def ok(data: object) -> JSONResponse:
    """Returns a single-object answer: ``_links`` is an empty list there, as in Docebo."""
    return JSONResponse({"data": data, "version": VERSION, "_links": []})


# request parsing ------------------------------------------------------------------------


async def read_body(request: Request) -> dict[str, Any]:
    """Returns the body an API handler works on: the one the known-fields check left
    (unknown fields pruned in lenient mode, ``drop_fields`` removed), else the parsed body."""
    checked: dict[str, Any] | None = getattr(request.state, "body", None)
    if checked is not None:
        return checked
    return await parse_body(request)


async def parse_body(request: Request) -> dict[str, Any]:
    """Returns the request body as a dict: JSON, urlencoded or multipart form.

    Form keys written as ``name[]`` or ``name[0]`` become lists under ``name``.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        out: dict[str, Any] = {}
        for key, value in form.multi_items():
            name, is_list = array_name(key)
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


def array_name(key: str) -> tuple[str, bool]:
    """Returns a form or query key's base name, and whether it was written as an array
    (``name[]`` or ``name[0]``)."""
    if key.endswith("]") and "[" in key:
        return key[: key.index("[")], True
    return key, False


def query_list(params: QueryParams, name: str) -> list[str]:
    """Returns the values of an array parameter: ``name[]``, ``name[0]``, ``name`` or
    comma-separated ``name=1,2``."""
    values: list[str] = []
    for key, value in params.multi_items():
        base, _ = array_name(key)
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
    """A list query: ``FROM ... WHERE ...`` text with its parameters, and a row shape.

    ``lead_values``, when set, restricts the order's first column to these values (an
    ``IN`` filter ``list_response`` adds itself, so leave it out of ``from_where``): a
    cursor page then asks only for the values still ahead, where SQLite would otherwise
    walk every row of the values already passed on each page.
    """

    select: str  # the columns ``to_item`` receives, in order
    from_where: str
    params: tuple[Any, ...] = ()
    lead_values: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Cursor:
    """What a cursor carries: the page it opens, the last key served, and the filter's row
    count with the store's change stamp when it was taken (reused while nothing changed)."""

    page: int
    key: list[Any]
    total: int | None = None
    stamp: str | None = None


def list_response(
    request: Request,
    conn: sqlite3.Connection,
    query: Query,
    order: Order,
    to_item: Callable[[tuple[Any, ...]], dict[str, Any]],
    *,
    default_page_size: int,
    max_page_size: int,
) -> JSONResponse:
    """Runs ``query`` one page at a time and returns the Docebo list envelope.

    ``page`` is 1-based; ``page_size`` above ``max_page_size`` is clamped silently, below 1
    is a 400. With ``cursor`` the page continues after the cursor's key (keyset paging, so
    deep pages stay fast) and ``page`` is ignored (unless the sandbox pages by number
    alone, ``shapes.paging``: then the cursor is ignored). ``total_page_count`` (and
    ``total_count``) are always exact: a cursor page reuses the count of an earlier page of
    its walk only when the store has not changed since.
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
    # A tenant that pages by number alone ignores both the request for a cursor and one
    # passed back (``shapes.paging``).
    store: Store = request.app.state.sandbox.store
    by_cursor = store.shapes().paging == "cursor"
    want_cursor = by_cursor and query_flag(params, "get_cursor")
    cursor_text = params.get("cursor") if by_cursor else None
    cursor = _decode_cursor(cursor_text, len(order.columns)) if cursor_text else None

    stamp = change_stamp(conn)
    if cursor is not None and cursor.total is not None and stamp and cursor.stamp == stamp:
        total = cursor.total
    else:
        where, args = _restricted(query, order.columns[0], query.lead_values)
        total = conn.execute(f"SELECT COUNT(*) {where}", args).fetchone()[0]
    if cursor is not None:
        page = cursor.page
        rows = _rows_after(conn, query, order, cursor.key, page_size + 1)
    else:
        rows = _rows(conn, query, order, (), page_size + 1, (page - 1) * page_size)
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
        last = list(rows[-1][: len(order.columns)])
        data["cursor"] = _encode_cursor(_Cursor(page + 1, last, total, stamp))
    return JSONResponse(
        {"data": data, "version": VERSION, "_links": _links(request, page, page_size, total_pages)}
    )


def _restricted(
    query: Query, column: str, values: Sequence[Any] | None, *extra: tuple[str, Sequence[Any]]
) -> tuple[str, list[Any]]:
    """Returns ``query``'s FROM/WHERE text and parameters with ``column IN values`` (when
    given) and each extra ``(condition, parameters)`` ANDed on."""
    where, args = query.from_where, list(query.params)
    conditions = list(extra)
    if values is not None:
        # An empty IN list is valid SQLite and matches nothing, as the filter means.
        conditions.insert(0, (f"{column} IN ({', '.join('?' for _ in values)})", values))
    for condition, condition_args in conditions:
        joiner = " AND " if " WHERE " in f" {where} " else " WHERE "
        where = f"{where}{joiner}{condition}"
        args.extend(condition_args)
    return where, args


def _rows(
    conn: sqlite3.Connection,
    query: Query,
    order: Order,
    extra: Sequence[tuple[str, Sequence[Any]]],
    limit: int,
    offset: int = 0,
    values: Sequence[Any] | None = None,
) -> list[tuple[Any, ...]]:
    """Returns up to ``limit`` rows (order key first, then ``query.select``) in order."""
    direction = "DESC" if order.descending else "ASC"
    order_sql = ", ".join(f"{c} {direction}" for c in order.columns)
    lead = query.lead_values if values is None else values
    where, args = _restricted(query, order.columns[0], lead, *extra)
    keys = ", ".join(order.columns)
    return conn.execute(
        f"SELECT {keys}, {query.select} {where} ORDER BY {order_sql} LIMIT ? OFFSET ?",
        (*args, limit, offset),
    ).fetchall()


def _values_after(values: Sequence[Any], key: Any, descending: bool) -> list[Any]:
    """Returns the ``values`` that come after ``key`` in the order, in that order."""
    try:
        ahead = {v for v in values if (v < key if descending else v > key)}
    except TypeError:  # a cursor key of another type than the column's values
        raise _bad_cursor() from None
    return sorted(ahead, reverse=descending)


def _rows_after(
    conn: sqlite3.Connection, query: Query, order: Order, key: list[Any], limit: int
) -> list[tuple[Any, ...]]:
    """Returns up to ``limit`` rows after ``key`` in ``order``.

    The key is split on its first column: first the rest of the key's own group
    (``first = ? AND (rest) > (?)``, one index range), then the groups after it
    (``first > ?``, or the filter's later ``lead_values``). One row-value comparison over
    the whole key costs the same when it can use an index alone, but next to an ``IN``
    filter on the first column SQLite reads every row of the earlier values on each page.
    """
    comparison = "<" if order.descending else ">"
    first, *rest = order.columns
    rows: list[tuple[Any, ...]] = []
    lead = query.lead_values
    later = None if lead is None else _values_after(lead, key[0], order.descending)
    if rest and (lead is None or key[0] in lead):
        if len(rest) == 1:
            tail = f"{rest[0]} {comparison} ?"
        else:
            tail = f"({', '.join(rest)}) {comparison} ({', '.join('?' for _ in rest)})"
        same = [(f"{first} = ?", [key[0]]), (tail, key[1:])]
        rows = _rows(conn, query, order, same, limit, values=None if lead is None else [key[0]])
    if len(rows) < limit:
        if later is None:
            beyond = [(f"{first} {comparison} ?", [key[0]])]
            rows += _rows(conn, query, order, beyond, limit - len(rows))
        elif later:
            rows += _rows(conn, query, order, (), limit - len(rows), values=later)
    return rows


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


def _encode_cursor(cursor: _Cursor) -> str:
    value: dict[str, Any] = {"p": cursor.page, "k": cursor.key}
    if cursor.total is not None and cursor.stamp is not None:
        value["n"], value["s"] = cursor.total, cursor.stamp
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> ApiError:
    return bad_request(
        "cursor", "not a cursor this list returned (pass back data.cursor unchanged)"
    )


def _decode_cursor(text: str, key_len: int) -> _Cursor:
    try:
        padded = text + "=" * (-len(text) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        page, key = value["p"], value["k"]
        total, stamp = value.get("n"), value.get("s")
        if not isinstance(page, int) or not isinstance(key, list) or len(key) != key_len:
            raise ValueError
        # Key parts go to SQLite as parameters: only scalars are keys this list wrote.
        if not all(part is None or isinstance(part, str | int | float) for part in key):
            raise ValueError
        if not (isinstance(total, int) and isinstance(stamp, str)):
            total, stamp = None, None
        return _Cursor(page, key, total, stamp)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise _bad_cursor() from None
