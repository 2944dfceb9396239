"""The lifecycle core is pure (DESIGN.md section 2): no clock, no randomness, no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import certops.engine

ENGINE = Path(certops.engine.__file__).parent
PURE = (
    "__init__.py",
    "facts.py",
    "lifecycle.py",
    "enrollments.py",
    "safety.py",
    "deadlines.py",
    "manual.py",
)
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "open", "print", "input", "urandom"}
FORBIDDEN_MODULES = {"time", "os", "random", "sys", "socket", "httpx", "sqlite3", "pathlib"}


@pytest.mark.parametrize("name", PURE)
def test_the_module_reads_no_clock_and_does_no_io(name: str) -> None:
    tree = ast.parse((ENGINE / name).read_text(), name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert called not in FORBIDDEN_CALLS, f"{name}:{node.lineno}: calls {called}()"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            )
            for module in modules:
                root = (module or "").split(".")[0]
                assert root not in FORBIDDEN_MODULES, f"{name}:{node.lineno}: imports {module}"
