"""Located configuration problems: what is wrong, and exactly where.

Every check (YAML syntax, JSON Schema, semantic) reports ``Problem`` records, and
``certops validate`` prints them as ``FILE:LINE:COL: message``, like a compiler.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from certops.config.model import Location


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem at ``file:line:column`` (1-based); ``path`` is the JSON path of the node.

    ``path`` looks like ``products[0].maintenance.periods[1].due`` and is empty for problems
    about a whole file (unreadable, empty, malformed YAML).
    """

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    @property
    def location(self) -> Location:
        """Where the problem is, as a ``Location``."""
        return Location(self.file, self.line, self.column)

    @classmethod
    def at(cls, loc: Location, message: str, path: str = "") -> Problem:
        """A problem at ``loc``."""
        return cls(loc.file, loc.line, loc.column, path, message)

    def to_json(self) -> dict[str, object]:
        """The problem as ``{file, line, column, path, message}`` for ``--format json``."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Returns the problems without exact repeats, sorted by file, line, column and text."""
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.file, p.line, p.column, p.path, p.message))


def format_path(path: Sequence[str | int]) -> str:
    """Returns a JSON path as text: ``products[0].maintenance.periods[1].due``.

    Keys that are not plain identifiers are quoted: ``settings["odd key"]``.
    """
    out: list[str] = []
    for step in path:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif step.replace("_", "a").replace("-", "a").isalnum() and step[:1].isalpha():
            out.append(f".{step}" if out else step)
        else:
            out.append(f"[{_quote(step)}]")
    return "".join(out)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def did_you_mean(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'X'?)`` for the option closest to ``word``, or "" when none is close.

    Case-insensitive matches win over spelling distance (``JDoe`` for ``jdoe``)."""
    choices = list(options)
    same_case = [o for o in choices if o.lower() == word.lower() and o != word]
    close = same_case or difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""
