"""``certops doctor --shapes FILE``: the shapes of a tenant's answers, with no value in them.

Docebo documents only part of its API, and tenants differ: a course list with epoch
milliseconds for dates, validity fields named ``_date`` or ``_datetime``, paging with or
without a cursor. This module reads one small page of every list certops uses (and one
detail of each kind) and describes each answer by its field names, JSON types and the
formats of its texts ("date-time 'YYYY-MM-DD HH:MM:SS'", "digits (13)", "uuid"), so an
admin can attach the record to a bug report and a contributor can turn it into a contract
fixture (``tests/lms/contract/fixtures``). No value the tenant sent is kept: not a name,
an e-mail, an id, a code or a number; a key that does not look like a field name is
written as ``<key>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from certops.errors import LMSError
from certops.lms import paths, wire
from certops.lms.docebo import DoceboReader

FORMAT_VERSION = 1

# Field names are kept; anything else used as a key (an id, an e-mail) is not.
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,63}")
_FORMATS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"0000-00-00( 00:00:00)?"), "zero date"),
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"), "date-time 'YYYY-MM-DD HH:MM:SS'"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "date 'YYYY-MM-DD'"),
    (
        re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
        "ISO 8601 date-time",
    ),
    (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "uuid",
    ),
    (re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"), "e-mail"),
    (re.compile(r"(true|false)", re.IGNORECASE), "boolean word"),
    (re.compile(r"https?://\S+"), "URL"),
)


def describe(value: Any) -> Any:
    """The shape of one JSON value: a type word for a scalar (with the format of a text),
    ``{"object": {field: shape}}``, ``{"array": shape}`` (the merged shape of its items,
    ``"empty"`` for none)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list):
        shape: Any = "empty"
        for item in value:
            shape = describe(item) if shape == "empty" else merge(shape, describe(item))
        return {"array": shape}
    if isinstance(value, Mapping):
        return {"object": {_key(k): describe(v) for k, v in value.items()}}
    return type(value).__name__


def _key(key: Any) -> str:
    text = str(key)
    return text if _FIELD_NAME.fullmatch(text) else "<key>"


def _text(text: str) -> str:
    if not text:
        return "text (empty)"
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return f"text of digits ({len(stripped)})"
    for pattern, name in _FORMATS:
        if pattern.fullmatch(stripped):
            return f"text ({name})"
    return "text"


def merge(a: Any, b: Any) -> Any:
    """One shape for two items of a list: objects field by field (a field missing from
    one is marked ``?``), anything else as ``{"one of": [...]}`` when they differ."""
    if a == b:
        return a
    if isinstance(a, dict) and isinstance(b, dict) and "object" in a and "object" in b:
        fields: dict[str, Any] = {}
        left, right = a["object"], b["object"]
        for name in [*left, *(n for n in right if n not in left)]:
            bare = name.rstrip("?")
            here = left.get(bare, left.get(bare + "?"))
            there = right.get(bare, right.get(bare + "?"))
            if here is None or there is None:
                fields[bare + "?"] = here if there is None else there
            else:
                optional = name.endswith("?") or (bare + "?") in right
                fields[bare + ("?" if optional else "")] = merge(here, there)
        return {"object": fields}
    if isinstance(a, dict) and isinstance(b, dict) and "array" in a and "array" in b:
        return {"array": b["array"] if a["array"] == "empty" else merge(a["array"], b["array"])}
    options: list[Any] = []
    for shape in (a, b):
        for option in shape["one of"] if isinstance(shape, dict) and "one of" in shape else [shape]:
            if option not in options:
                options.append(option)
    return {"one of": sorted(options, key=repr)}


def _id(item: Mapping[str, Any] | None, field: str) -> int | None:
    """The id ``field`` of a list item, to read its detail (None when it has none)."""
    if item is None:
        return None
    try:
        return wire.as_int(item.get(field), field, "shapes")
    except LMSError:
        return None


async def record_shapes(reader: DoceboReader) -> dict[str, Any]:
    """The shapes of one small answer of every endpoint certops reads (values dropped);
    an endpoint that fails is recorded with the kind of error, not its text."""
    answers: list[dict[str, Any]] = []
    small = {"page": 1, "page_size": 3}

    async def read(path: str, params: Mapping[str, Any] | None = None) -> Any:
        template = paths.path_template(path)
        try:
            body = await reader._api.get(path, params)
        except LMSError as exc:
            answers.append({"endpoint": f"GET {template}", "error": type(exc).__name__})
            return None
        answers.append(
            {
                "endpoint": f"GET {template}",
                "query": sorted(params or {}),
                "body": describe(body),
            }
        )
        return body

    def first_item(body: Any) -> Mapping[str, Any] | None:
        try:
            items = wire.list_page(body, "shapes").items if body is not None else []
        except LMSError:
            return None
        return items[0] if items else None

    await read(paths.USERS, {**small, "sort_attr": "username", "sort_dir": "asc"})
    await read(paths.SESSION)
    paging = {**small, "get_cursor": 1, "get_total_count": 1}
    course_id = _id(first_item(await read(paths.COURSES, paging)), "id_course")
    if course_id is not None:
        await read(paths.course_path(course_id))
    catalog_id = _id(first_item(await read(paths.CATALOGS, small)), "catalogue_id")
    if catalog_id is not None:
        await read(paths.catalog_path(catalog_id), small)
    audience = first_item(await read(paths.AUDIENCES, small))
    if audience is not None and isinstance(audience.get("uuid"), str):
        await read(paths.audience_path(audience["uuid"]))
    await read(paths.ENROLLMENTS_READ, paging)
    return {
        "format_version": FORMAT_VERSION,
        "what": "the shapes of this tenant's answers to the reads certops makes: field "
        "names, JSON types and text formats; every value was dropped",
        "answers": answers,
    }
