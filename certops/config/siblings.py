"""When one file of a multi-file configuration is checked alone, say which file is missing.

A configuration is often a folder: one file per product, and the ``settings:`` in one of
them. Validating a single product file then fails on what lives in another file (a
``salesforce_sync`` without ``settings.salesforce_catalog``); the message should name
that file rather than suggest adding settings twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from certops.config.problems import Problem
from certops.config.schema import check_file
from certops.config.yamlpos import PosDict, load_file
from certops.errors import ConfigError

YAML_SUFFIXES = (".yaml", ".yml")


def _siblings_with_settings(given: Sequence[str], loaded: Sequence[str]) -> list[str]:
    """Valid YAML files next to the given files, not loaded, whose ``settings:`` name the
    Salesforce catalog."""
    seen = {os.path.realpath(f) for f in loaded}
    found: list[str] = []
    folders = sorted({Path(g).parent for g in given if Path(g).is_file()})
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if not path.name.endswith(YAML_SUFFIXES) or path.name.startswith("."):
                continue
            if os.path.realpath(path) in seen or not path.is_file():
                continue
            try:
                data = load_file(str(path))
            except ConfigError:
                continue
            settings = data.get("settings") if isinstance(data, PosDict) else None
            # Only a file that could complete this configuration: valid on its own, and
            # holding the settings that are missing (the Salesforce catalog).
            if (
                isinstance(settings, PosDict)
                and "salesforce_catalog" in settings
                and not check_file(data, str(path))
            ):
                found.append(str(path))
    return found


def name_missing_files(
    problems: list[Problem], given: Sequence[str], loaded: Sequence[str], has_settings: bool
) -> list[Problem]:
    """``problems`` with the ones about missing settings pointing at the sibling file
    that defines them, when the run was given files without it."""
    if has_settings or not any(p.message.startswith("salesforce_sync") for p in problems):
        return problems
    siblings = _siblings_with_settings(given, loaded)
    if not siblings:
        return problems
    folder = str(Path(siblings[0]).parent)
    where = ", ".join(siblings)
    out = []
    for problem in problems:
        if problem.message.startswith("salesforce_sync is true"):
            message = (
                "salesforce_sync is true but this run has no settings.salesforce_catalog: "
                f"the settings are in {where}, which this run was not given; validate the "
                f"whole configuration (certops validate {folder}/) or name that file too"
            )
            problem = replace(problem, message=message)
        out.append(problem)
    return out
