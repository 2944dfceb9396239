"""The ``certops`` command group; each command lives in its own module."""

from __future__ import annotations

import sys

import click

from certops import __version__
from certops.errors import CertopsError, ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="certops")
def cli() -> None:
    """Configuration-as-code for certification programs in the Docebo LMS."""


def _register() -> None:
    from certops.cli import adopt as adopt_cmd
    from certops.cli import doctor as doctor_cmd
    from certops.cli import history as history_cmd
    from certops.cli import init as init_cmd
    from certops.cli import listen as listen_cmd
    from certops.cli import plan as plan_cmd
    from certops.cli import report as report_cmd
    from certops.cli import sandbox as sandbox_cmd
    from certops.cli import status as status_cmd
    from certops.cli import validate as validate_cmd

    cli.add_command(validate_cmd.validate)
    cli.add_command(doctor_cmd.doctor)
    cli.add_command(plan_cmd.plan)
    cli.add_command(plan_cmd.apply)
    cli.add_command(plan_cmd.ack)
    cli.add_command(status_cmd.status)
    cli.add_command(report_cmd.report)
    cli.add_command(history_cmd.history)
    cli.add_command(sandbox_cmd.sandbox)
    cli.add_command(adopt_cmd.import_)
    cli.add_command(init_cmd.init)
    cli.add_command(init_cmd.schema)
    cli.add_command(listen_cmd.listen)


_register()


def main() -> None:
    """Console entry point: user-facing errors become a message and an exit code."""
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
