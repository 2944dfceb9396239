"""The lifecycle core is pure (docs/architecture.md): no clock, no randomness, no I/O."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import certops.engine

ENGINE = Path(certops.engine.__file__).parent
# Every module of the engine, found rather than listed: a new one is checked too.
PURE = tuple(sorted(path.name for path in ENGINE.glob("*.py")))
# The certops modules the engine may stand on: records, the configuration's typed model,
# instants and errors. Not the plan's renderers or JSON, not the LMS, not the orchestrator.
BELOW = {
    "certops.errors",
    "certops.instants",
    "certops.records",
    "certops.plan",
    "certops.plan.model",
    "certops.config",
    "certops.config.model",
    "certops.config.problems",
    "certops.config.refs",
}
# The I/O libraries (and the terminal and CLI ones) that importing the engine must not load.
IO_LIBRARIES = {
    "httpx",
    "starlette",
    "uvicorn",
    "jsonschema",
    "yaml",
    "sqlite3",
    "rich",
    "click",
    "deepdiff",
    "socket",
    "ssl",
}
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


@pytest.mark.parametrize("name", PURE)
def test_importing_the_module_loads_no_io_library(name: str) -> None:
    # A fresh interpreter: what the test run already imported must not hide a leak, and a
    # package __init__ that imports eagerly is caught, not only the module's own imports.
    module = "certops.engine" + ("" if name == "__init__.py" else "." + name[:-3])
    code = f"import {module}, sys, json; print(json.dumps(sorted(sys.modules)))"
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    modules = json.loads(ran.stdout)
    loaded = {m.split(".")[0] for m in modules}
    assert not loaded & IO_LIBRARIES, f"import {module} loads {sorted(loaded & IO_LIBRARIES)}"
    # Nothing above the engine either: only the records it works on.
    above = sorted(
        m
        for m in modules
        if m.startswith("certops.") and not m.startswith("certops.engine") and m not in BELOW
    )
    assert not above, f"import {module} loads {above}"
