"""Writing a person's file back: whole or not at all, with its permissions kept."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click


def replace_file(path: str | Path, text: str) -> None:
    """Replaces the content of the file at ``path`` with ``text`` (UTF-8): written to a
    temporary file beside it and renamed over it, so a reader never sees half of it, with
    the file's permissions kept. Raises ``click.ClickException`` naming the file."""
    target = Path(path)
    try:
        mode = target.stat().st_mode & 0o7777
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
