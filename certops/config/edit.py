"""Editing configuration files in place, as a person would: comments and layout kept.

The files are people's own: ``certops extend``, ``reinstate`` and ``revoke`` add entries to
them and ``certops fmt`` lays them out. Both go through a round-trip YAML library
(ruamel.yaml), never through text surgery: the file is parsed into a tree that keeps its
comments, flow styles and quotes, the tree is changed as data, and the tree is written
back. A file is written with the indentation it already has (found by trying the usual
ones and keeping the one that gives the file back unchanged), so an edit changes the lines
of the entry it adds and nothing else.

Values certops writes are data too: a username is written plain only when every YAML
reader (YAML 1.1 as certops' loader, YAML 1.2 as editors) reads it back as the same text,
otherwise double-quoted; reasons, period ids and instants are always double-quoted. Pure:
text in, text out.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from certops.config import yamlpos
from certops.config.problems import Problem
from certops.config.schema import parse_instant
from certops.errors import ConfigError
from certops.instants import format_instant_seconds

# The lists of exceptions, in the order a product shows them.
EXCEPTION_KEYS = ("extensions", "reinstatements", "revocations")
# Indentations tried: (mapping, sequence, offset). The first is certops' own (the
# starter, import's output, the examples); ``certops fmt`` writes it.
CANONICAL = (2, 4, 2)
_INDENTS = (CANONICAL, (2, 2, 0), (4, 6, 4), (4, 4, 2), (4, 4, 0), (2, 4, 0), (4, 6, 2))
_SIMPLE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._@+-]*$")
WIDTH = 4096  # never fold a line: one entry, one line


@dataclass(frozen=True, slots=True)
class ExceptionEntry:
    """One exception to write into a product: an extension (``period``, ``until``), a
    reinstatement or a revocation (``at``). ``user`` is the name written; ``aliases`` are
    other names of the same learner (an e-mail address) that an existing entry may use."""

    kind: str  # one of EXCEPTION_KEYS
    user: str
    reason: str
    period: str | None = None
    until: date | None = None
    at: datetime | None = None
    aliases: frozenset[str] = field(default_factory=frozenset)

    def names(self) -> frozenset[str]:
        """Every name of the learner, e-mail addresses in lower case."""
        return frozenset({self.user, *self.aliases, *(a.lower() for a in self.aliases)})

    def entry(self) -> dict[str, Any]:
        """The entry as the configuration holds it (what a reader of the file sees)."""
        if self.kind == "extensions":
            assert self.period is not None and self.until is not None
            return {
                "user": self.user,
                "period": self.period,
                "until": self.until.isoformat(),
                "reason": self.reason,
            }
        assert self.at is not None
        return {"user": self.user, "at": format_instant_seconds(self.at), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Edit:
    """What an edit of one file did: the new text, and for each exception asked whether it
    was ``added``, ``updated`` (an entry for the same learner and period or instant was
    there: its date and reason replaced) or ``unchanged`` (the same entry was there)."""

    file: str
    text: str
    added: tuple[ExceptionEntry, ...] = ()
    updated: tuple[ExceptionEntry, ...] = ()
    unchanged: tuple[ExceptionEntry, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


def round_trip_yaml(indent: tuple[int, int, int] = CANONICAL) -> YAML:
    """A ruamel.yaml instance that keeps comments, flow styles and quotes."""
    handler = YAML(typ="rt")
    handler.preserve_quotes = True
    handler.width = WIDTH
    mapping, sequence, offset = indent
    handler.indent(mapping=mapping, sequence=sequence, offset=offset)
    return handler


def load_round_trip(text: str, file: str) -> tuple[YAML, Any]:
    """The file's tree and a YAML instance that writes it back with the file's own
    indentation. Raises ``ConfigError`` (located) when the text is not YAML."""
    best: tuple[int, YAML, Any] | None = None
    for indent in _INDENTS:
        handler = round_trip_yaml(indent)
        data = _load(handler, text, file)
        written = dump(handler, data)
        if written == text:
            return handler, data
        changed = _changed_lines(text, written)
        if best is None or changed < best[0]:
            best = (changed, handler, data)
    assert best is not None
    return best[1], best[2]


def dump(handler: YAML, data: Any) -> str:
    out = io.StringIO()
    handler.dump(data, out)
    return out.getvalue()


def _load(handler: YAML, text: str, file: str) -> Any:
    try:
        return handler.load(text)
    except RuamelError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(file, line, column, "", f"not valid YAML: {problem}")]) from None


def _changed_lines(a: str, b: str) -> int:
    left, right = a.splitlines(), b.splitlines()
    same = sum(1 for x, y in zip(left, right, strict=False) if x == y)
    return max(len(left), len(right)) - same


def add_exceptions(file: str, text: str, product_id: str, wanted: Sequence[ExceptionEntry]) -> Edit:
    """``text`` (the configuration file ``file``) with ``wanted`` written into the product
    ``product_id``: appended to its list of that kind (created after the other exception
    lists, or at the end of the product), or replacing the date and reason of the entry
    already there for the same learner and period (extension) or instant (reinstatement,
    revocation). Comments and layout are kept. Raises ``ConfigError`` when the file is not
    YAML or does not define the product."""
    handler, data = load_round_trip(text, file)
    plain = yamlpos.loads(text, file)  # the values as certops reads them (text, located)
    index = _product_index(plain, product_id)
    if index is None or not isinstance(data, CommentedMap):
        raise ConfigError(
            [Problem(file, 1, 1, "", f"this file does not define product '{product_id}'")]
        )
    product = data["products"][index]
    seen = plain["products"][index]
    added: list[ExceptionEntry] = []
    updated: list[ExceptionEntry] = []
    unchanged: list[ExceptionEntry] = []
    for exception in wanted:
        entries = product.get(exception.kind)
        if not isinstance(entries, CommentedSeq):
            entries = _new_list(product, exception.kind)
            seen_entries: list[Any] = []
        else:
            listed = seen.get(exception.kind)
            seen_entries = list(listed) if isinstance(listed, list) else []
        at = _matching(seen_entries, exception)
        if at is None:
            entries.append(_entry(exception, _flow(entries)))
            seen_entries.append(exception.entry())
            added.append(exception)
            continue
        old = seen_entries[at]
        new = exception.entry()
        if all(old.get(k) == v for k, v in new.items() if k != "user"):
            unchanged.append(exception)
            continue
        target = entries[at]
        for key, value in _values(exception).items():
            if key != "user":
                target[key] = value
        updated.append(exception)
    return Edit(file, dump(handler, data), tuple(added), tuple(updated), tuple(unchanged))


def _product_index(plain: Any, product_id: str) -> int | None:
    products = plain.get("products") if isinstance(plain, dict) else None
    if not isinstance(products, list):
        return None
    for i, product in enumerate(products):
        if isinstance(product, dict) and product.get("id") == product_id:
            return i
    return None


def _new_list(product: CommentedMap, key: str) -> CommentedSeq:
    """An empty list at ``key`` of ``product``: after the exception lists it has, in their
    order, else at the end of the product."""
    entries = CommentedSeq()
    order = list(product.keys())
    position = len(order)
    before = EXCEPTION_KEYS[EXCEPTION_KEYS.index(key) + 1 :]
    for later in before:
        if later in product:
            position = order.index(later)
            break
    trailing = _take_trailing(product) if position == len(order) else []
    product.insert(position, key, entries)
    if trailing:
        # The blank lines and comments that followed the product's last line follow it
        # still: they now come after the new list.
        entries.ca.comment = [None, None]
        entries.ca.end = trailing
    return entries


def _take_trailing(node: Any) -> list[Any]:
    """The comment lines after the last line of ``node`` (blank lines included), taken
    off the deepest node that holds them: ruamel keeps them on the last descendant."""
    found: list[Any] = []
    while isinstance(node, CommentedMap | CommentedSeq) and len(node):
        end = getattr(node.ca, "end", None)
        if end:
            found = list(end)
            node.ca.end = []
        last: Any = list(node.keys())[-1] if isinstance(node, CommentedMap) else len(node) - 1
        slot = node.ca.items.get(last)
        if isinstance(node, CommentedMap) and slot and len(slot) > 2 and slot[2] is not None:
            token = slot[2]
            first, newline, rest = token.value.partition("\n")
            if rest:  # an end-of-line comment followed by blank lines or comments
                token.value = first + newline
                tail = copy.copy(token)
                tail.value = rest
                found = [tail, *found]
        node = node[last]
    return found


def _flow(entries: CommentedSeq) -> bool:
    """Whether a new entry is written on one line: the list is empty, or its entries are."""
    if not entries:
        return True
    last = entries[-1]
    return isinstance(last, CommentedMap) and bool(last.fa.flow_style())


def _matching(entries: Iterable[Any], exception: ExceptionEntry) -> int | None:
    names = exception.names()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        user = entry.get("user")
        if not isinstance(user, str) or (user not in names and user.lower() not in names):
            continue
        if exception.kind == "extensions" and entry.get("period") == exception.period:
            return i
        if exception.kind != "extensions" and _same_instant(entry.get("at"), exception.at):
            return i
    return None


def _same_instant(written: Any, at: datetime | None) -> bool:
    if not isinstance(written, str) or at is None:
        return False
    try:
        return parse_instant(written) == at
    except ValueError:
        return False


def _values(exception: ExceptionEntry) -> dict[str, Any]:
    values: dict[str, Any] = {"user": user_scalar(exception.user)}
    if exception.kind == "extensions":
        values["period"] = DoubleQuotedScalarString(str(exception.period))
        values["until"] = exception.until
    else:
        assert exception.at is not None
        values["at"] = DoubleQuotedScalarString(format_instant_seconds(exception.at))
    values["reason"] = DoubleQuotedScalarString(exception.reason)
    return values


def _entry(exception: ExceptionEntry, flow: bool) -> CommentedMap:
    entry = CommentedMap(_values(exception))
    if flow:
        entry.fa.set_flow_style()
    return entry


def user_scalar(name: str) -> str:
    """A username as written: plain when it is a simple name that YAML 1.1 and 1.2 both
    read back as this very text (``jdoe``, ``j.doe@example.com``), else double-quoted
    (``yes``, ``null``, ``1e3``, a name with spaces or quotes...)."""
    if _SIMPLE.match(name) and _reads_back(name):
        return name
    quoted: str = DoubleQuotedScalarString(name)
    return quoted


def _reads_back(name: str) -> bool:
    try:
        as_11 = pyyaml.safe_load(f"v: {name}")
        as_12 = YAML(typ="safe", pure=True).load(f"v: {name}")
    except Exception:  # anything a YAML reader refuses is not plain
        return False
    return bool(as_11 == {"v": name} and as_12 == {"v": name})


def formatted(file: str, text: str) -> str:
    """``text`` (the configuration file ``file``) in certops' canonical layout: mappings
    indented by two spaces, list items by two with their content at four (as the starter
    file, the examples and ``certops import`` write them), lines never folded. Comments,
    blank lines, key order, flow or block style and quotes are kept. Raises ``ConfigError``
    when the text is not YAML, or when the laid-out text would not read back as the same
    data (then the file is left to a person)."""
    _, data = load_round_trip(text, file)
    if data is None:
        return text
    canonical = round_trip_yaml(CANONICAL)
    first = dump(canonical, data)
    # ruamel keeps a full-line comment at the column it had: move each to where the line
    # it was aligned with (a key, a list item) is now.
    laid = _load(canonical, first, file)
    targets = _comment_columns(text.splitlines(), first.splitlines())
    for token in _tokens(laid):
        _reindent(token, targets)
    out = dump(canonical, laid)
    if yamlpos.loads(out, file) != yamlpos.loads(text, file):
        raise ConfigError(
            [
                Problem(
                    file,
                    1,
                    1,
                    "",
                    "cannot lay this file out without changing what it says; left as it is",
                )
            ]
        )
    return out


def _comment_columns(before: list[str], after: list[str]) -> dict[int, int]:
    """Where each full-line comment of ``after`` (the canonical text, comments still at
    their old columns) goes: by the line of ``after`` it is on, the column of the next
    line of content in ``after``, plus the offset the comment had from its next line of
    content in ``before`` (so a comment aligned with the line below it stays aligned, and
    a commented-out line deeper than it stays deeper)."""

    def offsets(lines: list[str]) -> list[tuple[int, int, int | None]]:
        found: list[tuple[int, int, int | None]] = []
        waiting: list[tuple[int, int]] = []
        for number, line in enumerate(lines):
            body = line.lstrip(" ")
            if not body:
                continue
            column = len(line) - len(body)
            if body.startswith("#"):
                waiting.append((number, column))
                continue
            found += [(n, c, column) for n, c in waiting]
            waiting = []
        return found + [(n, c, None) for n, c in waiting]

    old, new = offsets(before), offsets(after)
    targets: dict[int, int] = {}
    for (_, old_column, old_next), (number, column, new_next) in zip(old, new, strict=False):
        if old_next is None or new_next is None:
            targets[number] = column
        else:
            targets[number] = max(new_next + old_column - old_next, 0)
    return targets


def _tokens(node: Any) -> Iterable[Any]:
    """Every comment token held anywhere in the tree below ``node``."""
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, CommentedMap | CommentedSeq):
            continue
        ca = current.ca
        parts: list[Any] = [*ca.items.values(), getattr(ca, "comment", None), ca.end]
        while parts:
            part = parts.pop()
            if isinstance(part, list):
                parts += part
            elif part is not None and hasattr(part, "value"):
                yield part
        stack += list(current.values()) if isinstance(current, CommentedMap) else list(current)


def _reindent(token: Any, targets: dict[int, int]) -> None:
    """Moves the full-line comments of ``token`` to the columns ``targets`` gives their
    lines (an end-of-line comment stays where it is)."""
    value = token.value
    if not isinstance(value, str) or "\n" not in value:
        return
    parts = value.split("\n")
    first_line = token.start_mark.line
    # A token starting with a line break starts at the end of the line before its own.
    shift = -1 if value.startswith("\n") else 0
    for k in range(1, len(parts)):
        body = parts[k].lstrip(" ")
        column = targets.get(first_line + k + shift) if body.startswith("#") else None
        if column is not None:
            parts[k] = " " * column + body
    token.value = "\n".join(parts)
    column = targets.get(first_line)
    if not value.startswith("\n") and column is not None:
        # A comment on a line of its own, written at its token's column.
        mark = copy.copy(token.start_mark)
        mark.column = column
        token.start_mark = mark
