"""Reading JSON files people (or attackers) hand to certops: saved plans, sandbox datasets.

``json.loads`` fails in several ways besides ``JSONDecodeError``: a ``ValueError`` for an
integer over Python's 4,300-digit conversion limit, a ``RecursionError`` for deep nesting,
and a ``UnicodeDecodeError`` before it even starts. Each becomes one located ``Problem``
here, so callers report ``FILE:LINE:COL: message`` instead of a traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from certops.config.model import Location
from certops.config.problems import Problem
from certops.errors import ConfigError

# A long run of digits (Python refuses to convert more than 4,300); found to say where.
_LONG_NUMBER = re.compile(r"-?[0-9]{4000,}")


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def decode_utf8(raw: bytes, file: str) -> str:
    """``raw`` as text, or ``ConfigError`` locating the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", errors="replace")) + 1
        raise ConfigError(
            [
                Problem(
                    file,
                    line,
                    column,
                    "",
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                )
            ]
        ) from None


def parse_json(text: str, file: str) -> Any:
    """The data of JSON ``text``; ``ConfigError`` with a located problem when it is not
    JSON, nests too deeply for Python, or holds a number too long to convert."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [Problem(file, exc.lineno, exc.colno, "", f"invalid JSON: {exc.msg}")]
        ) from None
    except RecursionError:
        raise ConfigError(
            [Problem(file, 1, 1, "", "JSON nested too deeply to read; this is not a certops file")]
        ) from None
    except ValueError:  # the integer string conversion limit
        found = _LONG_NUMBER.search(text)
        line, column = _position(text, found.start()) if found else (1, 1)
        digits = f" with {len(found.group().lstrip('-')):,} digits" if found else ""
        raise ConfigError(
            [
                Problem(
                    file,
                    line,
                    column,
                    "",
                    f"number{digits} is too long to read; quote it if it is meant as text",
                )
            ]
        ) from None


def read_json_file(path: str | Path, *, max_bytes: int | None = None) -> Any:
    """The data of the JSON file at ``path``; ``ConfigError`` (located) for a file that
    cannot be read, is larger than ``max_bytes``, is not UTF-8, or is not usable JSON."""
    file = str(path)
    try:
        with open(file, "rb") as stream:
            raw = stream.read() if max_bytes is None else stream.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(
            [Problem.at(Location(file, 1, 1), f"cannot read this file: {exc.strerror or exc}")]
        ) from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise ConfigError(
            [
                Problem.at(
                    Location(file, 1, 1), f"file is larger than the {max_bytes:,} bytes allowed"
                )
            ]
        )
    return parse_json(decode_utf8(raw, file), file)


def max_depth(data: Any) -> int:
    """How deeply lists and objects nest in ``data`` (without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        else:
            continue
        deepest = max(deepest, depth + 1)
    return deepest
