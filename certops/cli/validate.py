"""``certops validate`` (being written; see issue 2)."""

import click


@click.command()
@click.argument("paths", nargs=-1)
def validate(paths: tuple[str, ...]) -> None:
    """Load and check configuration; needs no LMS."""
    raise click.ClickException("validate is not implemented yet")
