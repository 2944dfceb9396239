"""``certops fmt [PATH...]``: lay configuration files out canonically, comments kept."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from certops.cli.files import replace_file
from certops.cli.options import config_option
from certops.config import resolve_paths
from certops.config.edit import formatted
from certops.config.problems import Problem, sort_problems
from certops.errors import ConfigError


@click.command()
@click.argument("paths", nargs=-1)
@config_option
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; list the files that are not laid out canonically and exit 1 if "
    "there are any (for CI).",
)
@click.option("--diff", "show_diff", is_flag=True, help="Also print what would change.")
def fmt(
    paths: tuple[str, ...], config_paths: tuple[str, ...], check: bool, show_diff: bool
) -> None:
    """Lay the configuration files in PATH... out canonically, keeping every comment.

    Canonical: mappings indented by two spaces, list items by two with their content at
    four, as `certops init` and `certops import` write them. Key order, blank lines,
    comments, quotes and one-line {...} entries are kept, and a file is only rewritten
    when it reads back as exactly the same configuration. A file that is not YAML is
    reported (FILE:LINE:COL) and no file is written."""
    files = resolve_paths([*paths, *config_paths])
    problems: list[Problem] = []
    changed: list[tuple[Path, str, str]] = []
    for file in files:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            problems.append(Problem(file, 1, 1, "", f"cannot read this file: {why}"))
            continue
        try:
            out = formatted(file, text)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if out != text:
            changed.append((path, text, out))
    if problems:
        raise ConfigError(sort_problems(problems))
    for path, text, out in changed:
        if show_diff:
            click.echo(
                "".join(
                    difflib.unified_diff(
                        text.splitlines(keepends=True),
                        out.splitlines(keepends=True),
                        fromfile=f"{path} (as it is)",
                        tofile=f"{path} (laid out)",
                    )
                ),
                nl=False,
            )
        if check:
            click.echo(f"would lay out {path}")
            continue
        replace_file(path, out)
        click.echo(f"laid out {path}")
    kept = len(files) - len(changed)
    click.echo(f"{kept} file{'s' if kept != 1 else ''} already laid out canonically.", err=True)
    if check and changed:
        sys.exit(1)
