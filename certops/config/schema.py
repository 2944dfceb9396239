"""Checking one configuration file against ``schemas/certops.schema.json`` (draft 2020-12).

jsonschema finds the errors; this module turns each into a ``Problem`` at the offending
node's ``FILE:LINE:COL`` with a message a person can act on (what is wrong, what is
expected, and "did you mean" for near-miss keys).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterator
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from certops import instants
from certops.config.problems import Problem, format_path
from certops.config.yamlpos import PosDict, locate, locate_key

SCHEMA_NAME = "certops.schema.json"

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)

# What each pattern in the schema means, in words.
_PATTERN_HELP = {
    "^[a-z0-9]+(-[a-z0-9]+)*$": "must be lowercase letters and digits with single dashes "
    "between them, e.g. widget-pro",
    "^[A-Za-z0-9][A-Za-z0-9._-]*$": "may contain only letters, digits, '.', '_' and '-', "
    "starting with a letter or digit",
    "^\\S+$": "must not contain spaces",
    "\\S": "must not be blank",
}

# The exception lists and what one entry is called, with an example reason for each.
_EXCEPTION_LISTS = {
    "extensions": "extension",
    "reinstatements": "reinstatement",
    "revocations": "revocation",
}
_REASON_EXAMPLES = {
    "extensions": "parental leave",
    "reinstatements": "fee paid, invoice 1234",
    "revocations": "misconduct",
}


def _exception_kind(path: list[str | int]) -> tuple[str, str] | None:
    """What the exception at ``path`` is called and an example reason, or None when the
    mapping at ``path`` is no exception."""
    if len(path) == 4 and path[0] == "products" and path[2] in _EXCEPTION_LISTS:
        key = str(path[2])
        return _EXCEPTION_LISTS[key], _REASON_EXAMPLES[key]
    if path and path[0] == "products" and path[-1] == "extension":
        return "extension of a whole period", "LMS outage in December"
    return None


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def schema_path() -> Path:
    """Returns the path of the JSON Schema shipped inside the package (the repository's
    ``schemas/certops.schema.json`` is a link to it: one file to edit)."""
    return Path(__file__).resolve().parents[1] / "schemas" / SCHEMA_NAME


@cache
def load_schema() -> dict[str, Any]:
    """Returns the parsed JSON Schema (read once per process)."""
    schema: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return schema


@cache
def _definition(name: str) -> Draft202012Validator:
    schema = load_schema()
    return Draft202012Validator({**schema["$defs"][name], "$defs": schema["$defs"]})


def fits(definition: str, value: Any) -> bool:
    """Whether ``value`` is a valid ``definition`` of the schema (``$defs``), e.g. a
    ``username`` or a ``courseCode``: for writers of configuration (``certops import``)
    that must know a value can be written before they write it."""
    return bool(_definition(definition).is_valid(value))


def parse_date(text: str) -> date:
    """Returns the calendar date of a strict ``YYYY-MM-DD`` string; raises ValueError."""
    if not _DATE_RE.match(text):
        raise ValueError(text)
    return date.fromisoformat(text)


def parse_instant(text: str) -> datetime:
    """Returns the aware UTC instant of an RFC 3339 date-time with a zone; raises ValueError."""
    if not _INSTANT_RE.match(text):
        raise ValueError(text)
    try:
        instant = instants.parse_instant(text)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(text) from None
    # Before 1970 no LMS holds data; past 9999 the next day cannot even be computed.
    if not 1970 <= instant.year <= 9999:
        raise ValueError(text)
    return instant


def _well_formed_instant(value: object) -> bool:
    """Whether ``value`` is written as an instant (so a failed check means out of range)."""
    if not isinstance(value, str) or not _INSTANT_RE.match(value):
        return False
    try:
        instants.parse_instant(value)
    except OverflowError:  # written as an instant, but before year 1 once in UTC
        return True
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date", raises=ValueError)  # type: ignore[untyped-decorator]
    def _is_date(value: object) -> bool:
        return not isinstance(value, str) or bool(parse_date(value))

    @checker.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
    def _is_instant(value: object) -> bool:
        return not isinstance(value, str) or bool(parse_instant(value))

    return checker


@cache
def _validator() -> Draft202012Validator:
    # The schema's $refs are inlined: resolving 100,000 references through ``referencing``
    # costs more than the rest of the validation of a big file.
    return Draft202012Validator(_inline_refs(load_schema()), format_checker=_format_checker())


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Returns the schema with every local ``#/$defs/NAME`` reference replaced by its target
    (the schema has no recursive definitions); sibling keywords such as ``description``
    are kept beside the inlined ones."""
    defs = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {k: inline(v) for k, v in node.items() if k not in ("$ref", "$defs")}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = inline(defs[ref.removeprefix("#/$defs/")])
            out = {**target, **out}
        return out

    return {"$defs": defs, **inline(schema)}


def check_file(data: Any, file: str) -> list[Problem]:
    """Returns the schema problems of one file's data (from ``yamlpos.load_file``)."""
    if data is None:
        return [
            Problem(
                file,
                1,
                1,
                "",
                "file is empty; a certops file starts with `version: 1` and has `products:` "
                "and/or `settings:`",
            )
        ]
    if not isinstance(data, PosDict):
        return [
            Problem(
                file,
                1,
                1,
                "",
                f"the file holds {_describe(data)}; expected a mapping with `version: 1` and "
                "`products:` and/or `settings:`",
            )
        ]
    problems: list[Problem] = []
    for error in _validator().iter_errors(data):
        problems.extend(_problems_of(error, data))
    problems.extend(_nan_numbers(data))
    return problems


def _nan_numbers(root: PosDict) -> Iterator[Problem]:
    """YAML's .nan passes every numeric bound (NaN compares false), so refuse it here.

    (.inf needs no check: every numeric field has a bound or is an integer.)
    """
    stack: list[tuple[Any, list[str | int]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((value, [*path, key]) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, [*path, i]) for i, value in enumerate(node))
        elif isinstance(node, float) and math.isnan(node):
            yield Problem.at(
                locate(root, path),
                f"{_name(path)} must be a number, not .nan",
                format_path(path),
            )


def _problems_of(error: ValidationError, root: PosDict) -> Iterator[Problem]:
    path = list(error.absolute_path)
    where = format_path(path)
    loc = locate(root, path)
    name = _name(path)
    kind = error.validator
    value = error.validator_value
    instance = error.instance

    if kind == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        for key in instance:
            if key in allowed:
                continue
            key_path = [*path, key]
            yield Problem.at(
                locate_key(root, key_path),
                _unknown_key(key, allowed, _context(path, root)),
                format_path(key_path),
            )
        return
    if kind == "required":
        missing = [k for k in value if k not in instance]
        for key in missing:
            if not path and key == "version":
                message = "missing `version: 1` (every certops file starts with it)"
            elif key == "reason" and (kind_of := _exception_kind(path)) is not None:
                what, example = kind_of
                message = (
                    f"{_context(path, root)} has no reason; every {what} says why it was "
                    f'granted (kept for audit, shown in plans), e.g. reason: "{example}" '
                    "(files written before reasons were required: add one to each entry; "
                    "`certops validate` lists them all)"
                )
            else:
                message = f"{_context(path, root)} is missing the required key '{key}'"
            yield Problem.at(loc, message, where)
        return

    if kind == "type":
        message = f"{name} must be {_TYPE_WORDS.get(value, value)}, not {_describe(instance)}"
        if (
            value == "string"
            and isinstance(instance, int | float)
            and not isinstance(instance, bool)
        ):
            message += f'; quote it: "{instance}"'
    elif kind == "format" and value == "date":
        message = f"{name} {instance!r} is not a valid date; expected YYYY-MM-DD, e.g. 2026-12-31"
    elif kind == "format" and value == "date-time" and _well_formed_instant(instance):
        message = (
            f"{name} {instance!r} is outside the years 1970-9999 once converted to UTC; "
            "expected an instant in that range, e.g. 2027-02-10T00:00:00Z"
        )
    elif kind == "format" and value == "date-time":
        message = (
            f"{name} {instance!r} is not a date-time with a zone; expected ISO 8601 like "
            "2027-02-10T00:00:00Z (Z means UTC)"
        )
    elif kind == "pattern":
        help_text = _PATTERN_HELP.get(value, f"must match {value}")
        message = f"{name} {instance!r} {help_text}"
    elif kind == "minLength":
        message = f"{name} must not be blank"
    elif kind == "maxLength":
        message = f"{name} is longer than {value} characters"
    elif kind == "const":
        message = f"{name} must be {json.dumps(value)}, not {_describe(instance)}"
    elif kind == "enum":
        options = ", ".join(str(v) for v in value)
        message = f"{name} must be one of: {options}; not {_describe(instance)}"
        close = difflib.get_close_matches(str(instance), [str(v) for v in value], n=1)
        if close:
            message += f" (did you mean '{close[0]}'?)"
    elif kind == "minItems":
        message = f"{name} must list at least {value} item{'s' if value != 1 else ''}"
    elif kind == "uniqueItems":
        seen: set[str] = set()
        repeated = None
        for item in instance:
            if str(item) in seen:
                repeated = item
                break
            seen.add(str(item))
        message = f"{name} lists {repeated!r} more than once"
    elif kind == "minimum":
        message = f"{name} must be at least {value}, not {instance}"
    elif kind == "maximum":
        message = f"{name} must be at most {value}, not {instance}"
    else:  # a keyword this module does not phrase yet: jsonschema's own words
        message = f"{name}: {error.message}"
    yield Problem.at(loc, message, where)


def _name(path: list[str | int]) -> str:
    """The node's name for messages: its JSON path, e.g. ``products[0].maintenance``."""
    return format_path(path) if path else "the file"


def _context(path: list[str | int], root: PosDict) -> str:
    """The mapping's name for messages; a product is also named by its id."""
    if not path:
        return "the top level"
    if len(path) == 2 and path[0] == "products":
        products = root.get("products")
        index = path[1]
        product = products[index] if isinstance(products, list) and isinstance(index, int) else None
        if isinstance(product, dict) and isinstance(product.get("id"), str):
            return f"{format_path(path)} (product '{product['id']}')"
    return format_path(path)


def _unknown_key(key: str, allowed: list[str], context: str) -> str:
    message = f"unknown key '{key}' in {context}"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if not close:
        close = [k for k in allowed if k.lower() == key.lower()]
    if close:
        return f"{message}; did you mean '{close[0]}'?"
    home = _key_homes().get(key)
    if home:
        return f"{message}; '{key}' belongs under {home}"
    return f"{message}; expected one of: {', '.join(allowed)}"


@cache
def _key_homes() -> dict[str, str]:
    """Where each property name of the schema belongs, for "belongs under" hints."""
    schema = load_schema()
    homes: dict[str, set[str]] = {}

    def walk(node: Any, parent: str, depth: int) -> None:
        if depth > 20 or not isinstance(node, dict):
            return
        if "$ref" in node:
            target = node["$ref"].rsplit("/", 1)[-1]
            walk(schema["$defs"].get(target), parent, depth + 1)
        for key, sub in node.get("properties", {}).items():
            homes.setdefault(key, set()).add(parent)
            walk(sub, key, depth + 1)
        walk(node.get("items"), parent, depth + 1)

    walk(schema, "the top level", 0)
    return {k: " or ".join(sorted(v)) for k, v in homes.items() if len(v) == 1}


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
