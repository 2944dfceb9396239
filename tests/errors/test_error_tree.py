"""The exception tree drawn in certops/errors.py names every public exception class of
the package, under its real base class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import certops
import certops.errors

# Every module but the command line's entry point (it only wires commands together).
SKIP = {"certops.cli.main", "certops.__main__"}


def _exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(certops.__path__, "certops."):
        if info.name in SKIP:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("certops")
                and not name.startswith("_")
            ):
                found[value.__name__] = value
    return found


def _tree() -> dict[str, str]:
    """Each class the docstring draws, with the class drawn as its parent."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (certops.errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*(?:[│ ] {3})*)([├└]── )?([A-Z]\w+)(?: |$)", line)
        if not match or not (match.group(2) or line.strip() == "Exception"):
            continue
        # A branch sits one level below the column it starts in.
        depth = len(match.group(1)) + (4 if match.group(2) else 0)
        name = match.group(3)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_every_public_exception_is_in_the_tree_under_its_base() -> None:
    drawn = _tree()
    classes = _exceptions()
    assert len(classes) >= 25
    missing = sorted(set(classes) - set(drawn))
    assert not missing, f"not drawn in certops/errors.py: {missing}"
    for name, cls in classes.items():
        assert drawn[name] == cls.__base__.__name__, name
