"""The layers around the LMS client: ``certops.lms`` imports nothing above it (the sandbox
transport is its caller's choice), and only ``certops.address`` reads ``sandbox:``."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "certops"
# What certops.lms may not import: the sandbox, and every layer above the edges.
ABOVE = ("certops.sandbox", "certops.connection", "certops.run", "certops.cli", "certops.listen")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_lms_package_imports_nothing_above_it() -> None:
    found = {
        f"{path.name}: {name}"
        for path in (PACKAGE / "lms").rglob("*.py")
        for name in _imports(path)
        if name.startswith(ABOVE)
    }
    assert not found


def _reads_the_sandbox_prefix(node: ast.AST) -> bool:
    def prefix(value: ast.AST) -> bool:
        if isinstance(value, ast.Constant):
            return "sandbox:" in str(value.value)
        name = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", "")
        return name == "SANDBOX_SCHEME"

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return any(prefix(arg) for arg in node.args)
    if isinstance(node, ast.Compare):
        return any(prefix(side) for side in (node.left, *node.comparators))
    return False


def test_only_the_address_module_reads_the_sandbox_prefix() -> None:
    readers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _reads_the_sandbox_prefix(node)
    }
    assert readers == {"address.py"}
