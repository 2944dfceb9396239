"""``certops init`` (a commented starter configuration) and ``certops schema``."""

from __future__ import annotations

from pathlib import Path

import click

from certops.config import load_config
from certops.config.schema import SCHEMA_NAME, schema_path
from certops.starter import STARTER_NAME, starter_text


@click.command()
@click.argument("folder", default="certops", required=False)
@click.option("--force", is_flag=True, help="Overwrite the starter files if they exist.")
def init(folder: str, force: bool) -> None:
    """Write a commented starter configuration (one product) and the JSON Schema into
    FOLDER (default: ./certops/, where every command looks when given no PATH)."""
    target = Path(folder)
    config_file, schema_file = target / STARTER_NAME, target / SCHEMA_NAME
    existing = [p for p in (config_file, schema_file) if p.exists()]
    if existing and not force:
        raise click.UsageError(
            f"{', '.join(str(p) for p in existing)} already exist; pass --force to overwrite"
        )
    target.mkdir(parents=True, exist_ok=True)
    config_file.write_text(starter_text(), encoding="utf-8")
    schema_file.write_text(schema_path().read_text(encoding="utf-8"), encoding="utf-8")
    load_config([str(config_file)])  # the starter must validate as written
    click.echo(f"Wrote {config_file} and {schema_file}.")
    click.echo(
        f"Edit {config_file} (your course codes, periods and names), then: "
        f"certops validate {folder} && certops plan {folder}"
    )


@click.command()
def schema() -> None:
    """Print the JSON Schema of the configuration (point your editor's YAML support at it)."""
    click.echo(schema_path().read_text(encoding="utf-8"), nl=False)
