"""The wheel and sdist built from this checkout, once per test session, as the release
workflow builds them (``python -m build``): the CI kit's install step installs the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TREE = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Dist:
    """The built files: ``wheel``, ``sdist``, in ``folder``."""

    folder: Path
    wheel: Path
    sdist: Path


def checkout_copy(target: Path) -> Path:
    """The files git would check out (tracked, and new ones not ignored), symlinks kept as
    symlinks: a build from it sees what a clone of the commit holds, and leaves no
    ``build/`` or ``*.egg-info`` in the work tree."""
    listed = subprocess.run(
        ["git", "-C", str(TREE), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = TREE / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet in git
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest, follow_symlinks=False)
    return target


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dist]:
    root = tmp_path_factory.mktemp("dist")
    source = checkout_copy(root / "source")
    out = root / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [wheel] = out.glob("certops-*.whl")
    [sdist] = out.glob("certops-*.tar.gz")
    yield Dist(out, wheel, sdist)
