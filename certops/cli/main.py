"""The ``certops`` command group; each command lives in its own module."""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from certops import __version__
from certops.errors import CertopsError, ConfigError

# Every command: name -> (module, attribute, the first paragraph of its help). The
# module is imported only when the command runs (or its own --help is asked for), so
# ``certops --help`` and ``certops validate`` never load httpx, the sandbox (starlette,
# uvicorn) or the listener. A test checks that these texts match the commands' own help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "validate": (
        "certops.cli.validate",
        "validate",
        "Load and check configuration in PATH... (files or folders); needs no LMS.",
    ),
    "doctor": (
        "certops.cli.doctor",
        "doctor",
        "Check credentials, token, every endpoint certops uses, permissions and fields.",
    ),
    "plan": (
        "certops.cli.plan",
        "plan",
        "Read the LMS and show what apply would change. Never writes to the LMS.",
    ),
    "apply": (
        "certops.cli.plan",
        "apply",
        "Plan, confirm, and make the changes in the LMS (one writer at a time per LMS).",
    ),
    "show": (
        "certops.cli.plan",
        "show",
        "Show a saved plan (certops plan --out FILE) as text, JSON or Markdown.",
    ),
    "ack": (
        "certops.cli.plan",
        "ack",
        "Record that a person did the manual steps at ADDRESS... (e.g. "
        "enrollment_rule.NAME, or notification.NAME.schedule.weekly for one rung of a "
        "digest's reminder ladder), or every pending step with --all (of the --product "
        "ones only, if given).",
    ),
    "extend": (
        "certops.cli.exceptions",
        "extend",
        "Give USER... more time for one period: write an extension into the configuration.",
    ),
    "reinstate": (
        "certops.cli.exceptions",
        "reinstate",
        "Certify USER... again (after a lapse or a revocation): write a reinstatement into "
        "the configuration.",
    ),
    "revoke": (
        "certops.cli.exceptions",
        "revoke",
        "Withdraw USER...'s certification: write a revocation into the configuration.",
    ),
    "status": (
        "certops.cli.status",
        "status",
        "Each USER's certification status per product (USER: username or e-mail), and why.",
    ),
    "report": (
        "certops.cli.report",
        "report",
        "Every learner's certification status in every product, at one instant.",
    ),
    "history": (
        "certops.cli.history",
        "history",
        "What certops did to USER's enrollments: each change, the instant it evaluated, "
        "the wall time, why (the plan's reason and class), who ran it and the config "
        "revision.",
    ),
    "fmt": (
        "certops.cli.fmt",
        "fmt",
        "Lay the configuration files in PATH... out canonically, keeping every comment.",
    ),
    "sandbox": (
        "certops.cli.sandbox",
        "sandbox",
        "The embedded Docebo-compatible LMS (a SQLite file served like a tenant).",
    ),
    "import": (
        "certops.cli.adopt",
        "import_",
        "Write configuration (one YAML file per product, settings and the JSON Schema) "
        "for the certification programs the LMS already has. Reads only; never writes "
        "to the LMS.",
    ),
    "init": (
        "certops.cli.init",
        "init",
        "Write a commented starter configuration (one product) and the JSON Schema into "
        "FOLDER (default: ./certops/, where every command looks when given no PATH).",
    ),
    "schema": (
        "certops.cli.init",
        "schema",
        "Print the JSON Schema of the configuration (point your editor's YAML support at it).",
    ),
    "listen": (
        "certops.cli.listen",
        "listen",
        "Receive Docebo webhooks on POST /webhook and reconcile only the learners they "
        "name (enrollments only, never setup, never a suspension or a delete; the nightly "
        "apply does the rest). HTTP Basic credentials come from CERTOPS_WEBHOOK_USER and "
        "CERTOPS_WEBHOOK_PASSWORD. GET /healthz reports the queue. SIGHUP reloads the "
        "configuration.",
    ),
}


class LazyGroup(click.Group):
    """A command group that imports a command's module only when that command is used.

    The listing (``certops --help``) is drawn from ``COMMANDS``' texts, exactly as click
    would draw it from the commands themselves."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, attribute, _help = self.lazy[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attribute} is not a click command")
        self.add_command(command, cmd_name)  # imported once per process
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Stand-ins carrying the same help text: click shortens them exactly as it would
        # the real commands, without importing any command module.
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
            else:
                command = click.Command(name, help=self.lazy[name][2])
            if not command.hidden:
                rows.append((name, command))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="certops")
def cli() -> None:
    """Configuration-as-code for certification programs in the Docebo LMS."""


# The cyclic garbage collector's thresholds for a run: certops' one measure on the
# collector. A plan holds hundreds of thousands of long-lived records (users, enrollments,
# facts) and creates almost no reference cycles; with the default thresholds (700, 10, 10)
# the collector walks the growing heap again and again. Rarer collections cost a little
# memory held by short-lived cycles, nothing else (figures: benchmarks/README.md).
GC_THRESHOLDS = (50_000, 20, 100)


def main() -> None:
    """Console entry point: user-facing errors become a message and an exit code."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        # Without standalone mode click returns the code of ``ctx.exit(n)`` instead of
        # exiting; pass it on so every command's exit code reaches the shell.
        code = cli.main(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code != 2 else 1)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"Error: {exc}; nothing was changed.", err=True)
        sys.exit(exc.exit_code)
    except CertopsError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
