"""Which revision of the configuration made a change: the git commit of the configuration's
work tree and whether the configuration files had uncommitted edits.

``git`` runs as a subprocess; a machine without git, a configuration outside a work tree,
or a git that fails all give ``None`` fields, never an error: the audit trail records what
it can.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIT_TIMEOUT = 10  # seconds; a hung git must not hold up an apply


@dataclass(frozen=True, slots=True)
class ConfigRevision:
    """``commit``: the work tree's HEAD (None outside git); ``dirty``: whether any
    configuration file differs from it or is untracked (None when unknown)."""

    commit: str | None = None
    dirty: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to the audit log."""
        return {"commit": self.commit, "dirty": self.dirty}


def _git(folder: Path, *args: str) -> str | None:
    try:
        ran = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git on this machine, or it hung
    return ran.stdout if ran.returncode == 0 else None


def config_revision(paths: Sequence[str | Path]) -> ConfigRevision:
    """The revision of the configuration at ``paths`` (files or folders; the first one's
    folder decides the work tree)."""
    if not paths:
        paths = ["."]
    first = Path(paths[0]).resolve()
    folder = first if first.is_dir() else first.parent
    head = _git(folder, "rev-parse", "--verify", "HEAD")
    if head is None:
        return ConfigRevision()
    status = _git(folder, "status", "--porcelain", "--", *(str(Path(p).resolve()) for p in paths))
    return ConfigRevision(commit=head.strip(), dirty=None if status is None else bool(status))
