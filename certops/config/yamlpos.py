"""A YAML loader that remembers where every node came from.

``load_file`` returns plain data (dicts, lists, str, int, float, bool, None) whose mappings
are ``PosDict`` and sequences ``PosList``, each carrying the ``Location`` of the node and of
its keys, values and items, so that every later check can say ``FILE:LINE:COL``.

It is stricter than PyYAML's ``safe_load`` on purpose, because configuration is reviewed by
people who read YAML 1.2 / JSON semantics:

- a duplicate key is an error (PyYAML silently keeps the last one);
- only ``true``/``false`` are booleans (``yes``, ``no``, ``on``, ``off`` stay strings);
- dates and times stay strings, as in JSON, so YAML and JSON files read the same and the
  schema checks their format; the typed model converts them;
- integers are decimal (``0123`` is 123, not octal), or ``0x``/``0o`` prefixed;
- mapping keys are always strings (the key's source text), as in JSON;
- tags other than the JSON types (``!!python/...``, ``!!set``, ``!!binary``) are errors;
- nesting deeper than ``MAX_DEPTH``, aliases expanding beyond ``MAX_NODES``, an alias
  inside the node it names (a cycle) and integers longer than ``MAX_INT_DIGITS`` are
  errors, so hostile input cannot exhaust the stack or memory or end in a traceback.

Malformed, unreadable or non-UTF-8 files raise ``ConfigError`` with located problems.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from certops.config.model import Location
from certops.config.problems import Problem, format_path
from certops.errors import ConfigError

# A certops configuration is about 6 levels deep; 64 leaves room for any sane data file.
MAX_DEPTH = 64
# Any file bigger than this is refused unread; callers may lower it (configuration does).
MAX_FILE_BYTES = 200_000_000
# Aliases can make a small file expand exponentially ("billion laughs"); cap the total.
MAX_NODES = 2_000_000
# Python converts at most 4,300 digits (sys.int_info.default_max_str_digits); stay below.
MAX_INT_DIGITS = 4000


class _PyParser(Reader, Scanner, Parser, Composer):
    """PyYAML's pure-Python parser: slower, but its scanner does not read far ahead."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)


# libyaml's parser is about 20 times faster than PyYAML's pure-Python one.
_Parser: Any = getattr(yaml, "cyaml", None) and getattr(yaml.cyaml, "CParser", None)
if not _Parser:  # pragma: no cover - PyYAML built without libyaml
    _Parser = _PyParser


# The location of data not read from a file (built by hand, e.g. in tests).
_NOWHERE = Location("<unknown>", 1, 1)


def mark_location(file: str, mark: yaml.Mark) -> Location:
    """The 1-based ``Location`` of a PyYAML mark (which counts from 0)."""
    return Location(file, mark.line + 1, mark.column + 1)


class PosDict(dict[str, Any]):
    """A mapping that knows its own location and the location of each key and value."""

    __slots__ = ("key_locs", "loc", "value_locs")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loc: Location = _NOWHERE
        self.key_locs: dict[str, Location] = {}
        self.value_locs: dict[str, Location] = {}


class PosList(list[Any]):
    """A sequence that knows its own location and the location of each item."""

    __slots__ = ("item_locs", "loc")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.loc: Location = _NOWHERE
        self.item_locs: list[Location] = []


class _Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2 core-schema resolution of plain scalars (close to JSON)."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {}


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+)$"),
    list("-+0123456789"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
# The merge key ``<<`` keeps working, so anchors can share common settings.
_Resolver.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class _Constructor(yaml.constructor.SafeConstructor):
    """Builds ``PosDict``/``PosList``; collects duplicate keys instead of stopping."""

    yaml_constructors: ClassVar[dict[Any, Any]] = {}

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file
        self.problems: list[Problem] = []

    def loc(self, node: Node) -> Location:
        mark = node.start_mark
        return mark_location(self.file, mark)

    def construct_pos_map(self, node: MappingNode) -> Iterator[PosDict]:
        data = PosDict()
        data.loc = self.loc(node)
        yield data
        # Duplicates are checked on the explicit keys only: keys merged in with ``<<`` may be
        # overridden, which is the point of a merge.
        seen: dict[str, Location] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                continue
            here = self.loc(key_node)
            first = seen.get(key_node.value)
            if first is not None:
                self.problems.append(
                    Problem.at(
                        here,
                        f"duplicate key '{key_node.value}' (first defined at line {first.line}, "
                        f"column {first.column}); each key may appear once in a mapping",
                    )
                )
            else:
                seen[key_node.value] = here
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problems.append(
                    Problem.at(
                        self.loc(key_node),
                        "a mapping key must be a plain value (text), not a list or mapping",
                    )
                )
                continue
            key = key_node.value
            data[key] = self.construct_object(value_node, deep=False)
            data.key_locs[key] = self.loc(key_node)
            data.value_locs[key] = self.loc(value_node)

    def construct_pos_seq(self, node: SequenceNode) -> Iterator[PosList]:
        data = PosList()
        data.loc = self.loc(node)
        yield data
        for item in node.value:
            data.append(self.construct_object(item, deep=False))
            data.item_locs.append(self.loc(item))

    def construct_int(self, node: ScalarNode) -> int:
        text = node.value
        digits = text.lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:
            # Python refuses to convert such a number (a ValueError deep in int()); no
            # certops value is anywhere near this long, so it is an input mistake.
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"number with {len(digits):,} digits is too long (at most "
                f"{MAX_INT_DIGITS} allowed); quote it if it is meant as text",
                node.start_mark,
            )
        if text.startswith("0x"):
            return int(text[2:], 16)
        if text.startswith("0o"):
            return int(text[2:], 8)
        return int(text, 10)

    def construct_float(self, node: ScalarNode) -> float:
        text = node.value.lower()
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        return float(text)

    def construct_unknown(self, node: Node) -> Any:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"unsupported YAML tag {_short_tag(node.tag)}; use plain text, numbers, true/false, "
            "lists and mappings",
            node.start_mark,
        )


_Constructor.add_constructor("tag:yaml.org,2002:null", _Constructor.construct_yaml_null)
_Constructor.add_constructor("tag:yaml.org,2002:bool", _Constructor.construct_yaml_bool)
_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_int)
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_float)
_Constructor.add_constructor(_STR, _Constructor.construct_yaml_str)
_Constructor.add_constructor(_MAP, _Constructor.construct_pos_map)
_Constructor.add_constructor(_SEQ, _Constructor.construct_pos_seq)
_Constructor.add_constructor(None, _Constructor.construct_unknown)


class _Loader(_Parser, _Constructor, _Resolver):
    def __init__(self, stream: str, file: str) -> None:
        _Parser.__init__(self, stream)
        _Constructor.__init__(self, file)
        _Resolver.__init__(self)


def load_file(path: str, *, max_bytes: int | None = None) -> Any:
    """Returns the plain data of the YAML (or JSON) file at ``path``, with positions.

    Mappings are ``PosDict`` and sequences ``PosList``; an empty file gives ``None``.
    A file bigger than ``max_bytes`` (default ``MAX_FILE_BYTES``) is refused before parsing.
    Raises ``ConfigError`` with every located problem when the file cannot be read, is not
    UTF-8, is not valid YAML, has duplicate keys, or is nested or aliased beyond the limits.
    """
    file = str(path)
    limit = MAX_FILE_BYTES if max_bytes is None else max_bytes
    start = Location(file, 1, 1)
    try:
        # Read at most one byte past the limit: a pipe or a device such as /dev/zero has no
        # size to ask for in advance, and must not be read forever.
        with open(file, "rb") as stream:
            raw = stream.read(limit + 1)
            if len(raw) > limit:
                size = os.fstat(stream.fileno()).st_size
                shown = f"is {_size(size)}, larger" if size > limit else "is larger"
                raise ConfigError(
                    [
                        Problem.at(
                            start,
                            f"file {shown} than the {_size(limit)} allowed for a "
                            f"{'configuration ' if max_bytes else ''}file; split it into "
                            "several files in a folder",
                        )
                    ]
                )
    except IsADirectoryError:
        raise ConfigError([Problem.at(start, "is a folder, expected a YAML file")]) from None
    except FileNotFoundError:
        raise ConfigError([Problem.at(start, "no such file or folder")]) from None
    except PermissionError:
        raise ConfigError([Problem.at(start, "cannot read this file: permission denied")]) from None
    except OSError as exc:
        raise ConfigError([Problem.at(start, f"cannot read this file: {exc.strerror}")]) from None
    return loads(_decode(raw, file), file)


def loads(text: str, file: str = "<string>") -> Any:
    """Returns the plain data of YAML ``text`` as ``load_file`` does; ``file`` names it."""
    try:
        _check_shape(text, file)
        loader = _Loader(text, file)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_expansion(node, file)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" in str(exc.problem):
            # libyaml gives up at depth 1000, ahead of the events _check_shape counts; the
            # pure-Python scanner finds the first node past MAX_DEPTH (and raises for it).
            _check_shape(text, file, _PyParser)
        raise ConfigError([_syntax_problem(exc, file, text)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem.at(Location(file, 1, 1), f"invalid YAML: {exc}")]) from None
    except RecursionError:  # belt and braces: _check_shape should have stopped it
        raise ConfigError(
            [Problem.at(Location(file, 1, 1), f"nesting is deeper than {MAX_DEPTH} levels")]
        ) from None
    if loader.problems:
        raise ConfigError(_with_paths(loader.problems, data))
    return data


def locate(root: Any, path: Sequence[str | int]) -> Location:
    """Returns the location of the node at JSON ``path`` below ``root``, or of its nearest
    existing ancestor when the path leads nowhere (e.g. a missing required key)."""
    return _walk(root, path, key=False)


def locate_key(root: Any, path: Sequence[str | int]) -> Location:
    """Like ``locate``, but for a mapping key returns where the key itself is written."""
    return _walk(root, path, key=True)


def _walk(root: Any, path: Sequence[str | int], key: bool) -> Location:
    node = root
    here = getattr(root, "loc", None) or _NOWHERE
    for i, step in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, PosDict) and isinstance(step, str) and step in node:
            here = (node.key_locs if key and last else node.value_locs).get(step, here)
            node = node[step]
        elif isinstance(node, PosList) and isinstance(step, int) and 0 <= step < len(node):
            here = node.item_locs[step] if step < len(node.item_locs) else here
            node = node[step]
        else:
            break
        node_loc = getattr(node, "loc", None)
        if node_loc is not None and not (key and last):
            here = node_loc
    return here


def _with_paths(problems: list[Problem], data: Any) -> list[Problem]:
    """Fills in the JSON path of problems found at a mapping key (duplicate keys): the
    constructor sees nodes, not paths, so the paths are found in the finished data."""
    paths: dict[Location, str] = {}
    stack: list[tuple[Any, list[str | int]]] = [(data, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, PosDict):
            for key, value in node.items():
                paths[node.key_locs[key]] = format_path([*path, key])
                stack.append((value, [*path, key]))
        elif isinstance(node, PosList):
            stack.extend((value, [*path, i]) for i, value in enumerate(node))
    return [
        Problem(p.file, p.line, p.column, paths.get(p.location, p.path), p.message)
        for p in problems
    ]


def _decode(raw: bytes, file: str) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        raise ConfigError(
            [
                Problem.at(
                    Location(file, line, column),
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                )
            ]
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        column = text.index("\x00") - text.rfind("\n", 0, text.index("\x00"))
        raise ConfigError(
            [Problem.at(Location(file, line, column), "contains a NUL byte; this is not text")]
        )
    return text


def _check_shape(text: str, file: str, parser_class: Any = None) -> None:
    """Walks the parse events once to reject over-deep nesting before composing nodes
    (libyaml's composer recurses in C, where Python's recursion limit does not help)."""
    parser = (parser_class or _Parser)(text)
    depth = 0
    try:
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise ConfigError(
                        [
                            Problem.at(
                                mark_location(file, mark),
                                f"nesting is deeper than {MAX_DEPTH} levels",
                            )
                        ]
                    )
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
    finally:
        parser.dispose()


def _check_expansion(root: Node, file: str) -> None:
    """Counts the nodes the document expands to (aliases counted at every use)."""
    sizes: dict[int, int] = {}
    # The nodes whose subtree is being walked: meeting one of them again among its own
    # descendants is an alias that contains itself (``products: &p [*p]``), which would
    # expand forever. PyYAML builds such a node as a real cycle in the node graph.
    open_nodes: set[int] = set()
    # Post-order without recursion: a node's size is 1 plus its children's.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        if done or not children:
            open_nodes.discard(id(node))
            total = 1 + sum(sizes.get(id(c), 0) for c in children)
            sizes[id(node)] = total
            if total > MAX_NODES:
                mark = node.start_mark
                raise ConfigError(
                    [
                        Problem.at(
                            mark_location(file, mark),
                            f"aliases expand this document beyond {MAX_NODES:,} values; "
                            "refusing to load it",
                        )
                    ]
                )
            continue
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                mark = child.start_mark
                raise ConfigError(
                    [
                        Problem.at(
                            mark_location(file, mark),
                            "an alias refers to the node that contains it (a cycle, e.g. "
                            "'&p [*p]'); it would expand forever: remove the alias",
                        )
                    ]
                )
            if id(child) not in sizes:
                stack.append((child, False))


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str, text: str) -> Problem:
    """The problem for a YAML error, in words for people (libyaml's are terse)."""
    mark = exc.problem_mark or exc.context_mark
    loc = mark_location(file, mark) if mark else Location(file, 1, 1)
    problem = (exc.problem or "").strip()
    if isinstance(exc, yaml.constructor.ConstructorError) and problem.startswith(
        ("unsupported", "number with")
    ):
        return Problem.at(loc, problem)
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        return Problem.at(loc, "tab character: YAML indentation must use spaces, not tabs")
    if problem == "but found another document":
        return Problem.at(
            loc, "a second YAML document ('---'); a certops file holds exactly one document"
        )
    if "maximum nesting depth" in problem:
        return Problem.at(loc, f"nesting is deeper than {MAX_DEPTH} levels")
    message = f"invalid YAML: {problem}"
    context, where = exc.context, exc.context_mark
    if context and where is not None and (where.line, where.column) != (mark.line, mark.column):
        message += f" ({context.strip()} at line {where.line + 1}, column {where.column + 1})"
    elif context:
        message += f" ({context.strip()})"
    if context and "block" in context:
        message += "; check the indentation"
    return Problem.at(loc, message)


def _char_at(text: str, line: int, column: int) -> str:
    """The character at 0-based ``line`` and ``column`` of ``text``, or ""."""
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    return text[start + column : start + column + 1]


def _short_tag(tag: str | None) -> str:
    tag = tag or "?"
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml") else tag


def _size(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n:,} bytes"
