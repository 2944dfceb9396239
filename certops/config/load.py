"""Loading a configuration: paths to files, files to located data, data to ``Config``.

Every stage collects problems instead of stopping at the first, so one run of
``certops validate`` reports everything, sorted by file and line.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from certops.config.build import build_config
from certops.config.checks import check_semantics
from certops.config.model import Config, Location
from certops.config.problems import Problem, sort_problems
from certops.config.schema import check_file
from certops.config.siblings import name_missing_files
from certops.config.yamlpos import PosDict, load_file, loads
from certops.errors import ConfigError

# A configuration file is hand-written; anything this big is a mistake (or an attack), and
# refusing it early keeps validate fast. Folders of many files have no total limit.
MAX_CONFIG_BYTES = 1_000_000

YAML_SUFFIXES = (".yaml", ".yml")
DEFAULT_FOLDER = "certops"


def resolve_paths(paths: Sequence[str]) -> list[str]:
    """Returns the configuration files named by ``paths``, in order, without repeats.

    No paths: ``./certops/`` if it is a folder of configuration, else the current folder
    (``default_folder``). A file is taken as given; a folder means every
    ``*.yaml``/``*.yml`` below it, sorted (hidden folders such as ``.git`` or ``.github``,
    certops' own package and Python virtual environments are skipped). Raises
    ``ConfigError`` for a missing path or a folder without YAML files.
    """
    files, problems = _resolve(paths)
    if problems:
        raise ConfigError(sort_problems(problems))
    return files


def load_config(paths: Sequence[str], texts: Mapping[str, str] | None = None) -> Config:
    """Returns the checked, typed ``Config`` made of the files named by ``paths``.

    ``texts`` gives the content of some of those files (by the name they are found under)
    instead of what the files hold: an edit is checked whole before it is written.
    Raises ``ConfigError`` carrying every problem (missing paths, unreadable or malformed
    files, schema violations, semantic conflicts within and across files), sorted by file
    and line.
    """
    files, problems = _resolve(paths)
    roots: list[PosDict] = []
    given = {os.path.realpath(name): text for name, text in (texts or {}).items()}
    for file in files:
        try:
            text = given.get(os.path.realpath(file))
            if text is not None:
                data = loads(text, file)
            else:
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


def default_folder() -> str:
    """The folder a command reads when given no configuration path: ``./certops/`` when it
    is a folder of configuration (not a Python package of that name, such as certops'
    own source), else the current folder."""
    folder = Path(DEFAULT_FOLDER)
    if folder.is_dir() and not (folder / "__init__.py").exists():
        return DEFAULT_FOLDER
    return "."


def is_saved_plan(path: Path) -> bool:
    """Whether the file at ``path`` is a plan saved by ``certops plan --out`` (a JSON
    object whose first key is ``format_version``) rather than configuration. Reads its
    first bytes only; an unreadable file is not a plan (loading it says why)."""
    if path.name.endswith(YAML_SUFFIXES):
        return False
    try:
        with path.open("rb") as stream:
            head = stream.read(512)
    except OSError:
        return False
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"{") and text[1:].lstrip().startswith(b'"format_version"')


CONFIG_ENV = "CERTOPS_CONFIG"


def _default_paths() -> list[str]:
    """The configuration when no PATH is given: ``CERTOPS_CONFIG`` (paths separated by
    the system's path separator, ``:`` on Linux), else ``default_folder()``. Set but empty
    is a mistake (a CI variable that did not reach the job), never "the current folder"."""
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
    return [default_folder()]


def _resolve(paths: Sequence[str]) -> tuple[list[str], list[Problem]]:
    """The files named by ``paths`` and the problems of the paths that name none."""
    implicit = not paths and os.environ.get(CONFIG_ENV) is None
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
                message = "folder has no *.yaml or *.yml files; expected configuration"
                if implicit:
                    message = (
                        f"no configuration here: no {DEFAULT_FOLDER}/ folder of configuration "
                        "and no *.yaml or *.yml file below the current folder; name the "
                        "configuration (PATH or --config PATH), or write a starter one with "
                        "`certops init`"
                    )
                problems.append(Problem.at(here, message))
            files.extend(found)
        elif path.exists():
            if is_saved_plan(path):
                problems.append(
                    Problem.at(
                        here,
                        "this is a saved plan (`certops plan --out`), not configuration: "
                        f"`certops show {given}` shows it, `certops apply {given}` applies it",
                    )
                )
                continue
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
        dirs[:] = [
            d for d in dirs if not d.startswith(".") and not _not_configuration(Path(current) / d)
        ]
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


# certops' own package folder: its starter file is a template, never configuration.
_PACKAGE = Path(__file__).resolve().parents[1]


def _not_configuration(folder: Path) -> bool:
    """Whether a folder below a configuration folder holds software rather than
    configuration: certops' own package (whose starter file would otherwise load as a
    product), any Python package (an ``__init__.py``), or a Python virtual environment
    (its packages ship YAML files too)."""
    try:
        return (
            folder.resolve() == _PACKAGE
            or (folder / "__init__.py").is_file()
            or (folder / "pyvenv.cfg").is_file()
        )
    except OSError:
        return False


def _warn(message: str) -> None:
    """A warning about the configuration that is no problem in it, on stderr."""
    print(f"certops: warning: {message}", file=sys.stderr)
