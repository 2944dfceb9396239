"""Start-up: commands that need no LMS load no HTTP client, sandbox or listener.

Each check runs in a fresh interpreter (this test process has imported everything
already), through the real entry point, and lists ``sys.modules`` afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from certops.cli.main import COMMANDS, LazyGroup, cli

ROOT = Path(__file__).resolve().parents[2]

# Heavy or networked packages a command that needs no LMS must not load.
HEAVY = ("httpx", "starlette", "uvicorn", "certops.sandbox", "certops.listen", "matplotlib")

RUN_MAIN = """
import json, sys
from certops.cli.main import main
sys.argv = ["certops", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
print("\\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _run(*args: str) -> tuple[int, list[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("DOCEBO_CLIENT_ID", "DOCEBO_CLIENT_SECRET", "CERTOPS_LMS"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", RUN_MAIN, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output, _, tail = done.stdout.rpartition("\nMODULES ")
    assert tail, f"no module list; stderr: {done.stderr[-2000:]}"
    result = json.loads(tail)
    return result["code"], result["modules"], output


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_validate_examples_loads_no_http_client_sandbox_or_server() -> None:
    code, modules, output = _run("validate", "examples/")
    assert code in (0, None), output
    assert "Valid:" in output
    assert _heavy(modules) == []
    # It did load what validation needs: the config loader and the schema checker.
    assert "certops.config.load" in modules and "jsonschema" in modules


def test_help_loads_no_command_module() -> None:
    code, modules, output = _run("--help")
    assert code in (0, None)
    assert _heavy(modules) == []
    assert not [m for m in modules if m.startswith("certops.cli.") and m != "certops.cli.main"]
    for name in COMMANDS:
        assert f"\n  {name} " in output


def test_lazy_help_is_the_commands_own_help() -> None:
    """``certops --help`` drawn from the registry is byte-for-byte what click would print
    with every command imported (so the registry's texts cannot drift from the commands)."""
    import importlib

    eager = click.Group("certops", help=cli.help, params=list(cli.params))
    eager.context_settings = dict(cli.context_settings)
    for name, (module, attribute, text) in COMMANDS.items():
        command = getattr(importlib.import_module(module), attribute)
        assert command.name == name
        assert " ".join((command.help or "").split("\n\n")[0].split()) == text
        eager.add_command(command)
    # A fresh group: ``cli`` may have imported commands already in this process.
    lazy = LazyGroup("certops", lazy=COMMANDS, help=cli.help, params=list(cli.params))
    lazy.context_settings = dict(cli.context_settings)
    assert lazy.commands == {}
    with click.Context(lazy, info_name="certops") as ctx:
        lazy_help = lazy.get_help(ctx)
    with click.Context(eager, info_name="certops") as ctx:
        eager_help = eager.get_help(ctx)
    assert lazy_help == eager_help


def test_a_lazy_command_runs_and_shows_its_own_help() -> None:
    code, modules, output = _run("schema", "--help")
    assert code in (0, None)
    assert "Usage: certops schema" in output
    assert "certops.cli.init" in modules
    assert _heavy(modules) == []


def test_unknown_command_is_a_usage_error() -> None:
    code, _modules, _output = _run("no-such-command")
    assert code not in (0, None)
