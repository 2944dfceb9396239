"""Loading a configuration: paths to files, files to located data, data to ``Config``.

Every stage collects problems instead of stopping at the first, so one run of
``certops validate`` reports everything, sorted by file and line.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from certops.config.build import build_config
from certops.config.checks import check_semantics
from certops.config.model import Config, Location
from certops.config.problems import Problem, sort_problems
from certops.config.schema import check_file
from certops.config.siblings import name_missing_files
from certops.config.yamlpos import PosDict, load_file
from certops.errors import ConfigError

# A configuration file is hand-written; anything this big is a mistake (or an attack), and
# refusing it early keeps validate fast. Folders of many files have no total limit.
MAX_CONFIG_BYTES = 1_000_000

YAML_SUFFIXES = (".yaml", ".yml")
DEFAULT_FOLDER = "certops"


def resolve_paths(paths: Sequence[str]) -> list[str]:
    """Returns the configuration files named by ``paths``, in order, without repeats.

    No paths: ``./certops/`` if it exists, else the current folder. A file is taken as
    given; a folder means every ``*.yaml``/``*.yml`` below it, sorted (hidden folders such as
    ``.git`` or ``.github`` are skipped). Raises ``ConfigError`` for a missing path or a
    folder without YAML files.
    """
    files, problems = _resolve(paths)
    if problems:
        raise ConfigError(sort_problems(problems))
    return files


def load_config(paths: Sequence[str]) -> Config:
    """Returns the checked, typed ``Config`` made of the files named by ``paths``.

    Raises ``ConfigError`` carrying every problem (missing paths, unreadable or malformed
    files, schema violations, semantic conflicts within and across files), sorted by file
    and line.
    """
    files, problems = _resolve(paths)
    roots: list[PosDict] = []
    for file in files:
        try:
            data = load_file(file, max_bytes=MAX_CONFIG_BYTES)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(check_file(data, file))
        if isinstance(data, PosDict):
            roots.append(data)
    problems.extend(check_semantics(roots))
    if problems:
        has_settings = any("settings" in root for root in roots)
        problems = name_missing_files(problems, paths, files, has_settings)
        raise ConfigError(sort_problems(problems))
    return build_config(roots, files)


CONFIG_ENV = "CERTOPS_CONFIG"


def _default_paths() -> list[str]:
    """The configuration when no PATH is given: ``CERTOPS_CONFIG`` (paths separated by
    the system's path separator, ``:`` on Linux), else ``./certops/`` if it exists, else
    the current folder. Set but empty is a mistake (a CI variable that did not reach the
    job), never "the current folder"."""
    value = os.environ.get(CONFIG_ENV)
    if value is not None:
        named = [p for p in value.split(os.pathsep) if p.strip()]
        if not named:
            raise ConfigError(
                [
                    Problem.at(
                        Location(CONFIG_ENV, 1, 1),
                        f"{CONFIG_ENV} is set but empty; "
                        "set it to the configuration's folder, or unset it",
                    )
                ]
            )
        return named
    return [DEFAULT_FOLDER] if Path(DEFAULT_FOLDER).is_dir() else ["."]


def _resolve(paths: Sequence[str]) -> tuple[list[str], list[Problem]]:
    """The files named by ``paths`` and the problems of the paths that name none."""
    if not paths:
        paths = _default_paths()
    files: list[str] = []
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        here = Location(given, 1, 1)
        if path.is_dir():
            found = _yaml_below(path, problems)
            if not found:
                problems.append(
                    Problem.at(here, "folder has no *.yaml or *.yml files; expected configuration")
                )
            files.extend(found)
        elif path.exists():
            files.append(given)
        else:
            problems.append(Problem.at(here, "no such file or folder"))
    unique: dict[str, str] = {}
    for file in files:
        unique.setdefault(os.path.realpath(file), file)
    return list(unique.values()), problems


def _yaml_below(folder: Path, problems: list[Problem]) -> list[str]:
    """The regular ``*.yaml``/``*.yml`` files below ``folder``. A subfolder that cannot be
    read is a problem (its products would silently vanish from the plan); a pipe, socket
    or device with a YAML name is skipped with a warning (reading it could block)."""

    def unreadable(error: OSError) -> None:
        where = Location(str(error.filename or folder), 1, 1)
        problems.append(
            Problem.at(
                where,
                f"cannot read this folder: {error.strerror or error}; the configuration in "
                "it would be missed (make it readable, or name the files to use)",
            )
        )

    found: list[str] = []
    for current, dirs, names in os.walk(folder, onerror=unreadable, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.endswith(YAML_SUFFIXES) or name.startswith("."):
                continue
            path = Path(current) / name
            try:
                regular = stat.S_ISREG(path.stat().st_mode)
            except OSError as exc:  # e.g. a dangling symlink: say so where it is
                problems.append(
                    Problem.at(Location(str(path), 1, 1), f"cannot read this file: {exc.strerror}")
                )
                continue
            if not regular:
                _warn(f"skipped {path}: not a regular file (a pipe, socket or device)")
                continue
            found.append(str(path))
    return sorted(found)


def _warn(message: str) -> None:
    """A warning about the configuration that is no problem in it, on stderr."""
    print(f"certops: warning: {message}", file=sys.stderr)
