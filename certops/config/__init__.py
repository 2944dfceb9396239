"""Configuration: YAML loading with positions, schema and semantic checks, typed model.

``load_config`` and ``resolve_paths`` are imported on first use: the typed model
(``certops.config.model``) is what the pure engine needs, and importing it must not load
the YAML parser or the JSON Schema validator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from certops.config.problems import Problem

if TYPE_CHECKING:
    from certops.config.load import load_config, resolve_paths

__all__ = ["Problem", "load_config", "resolve_paths"]


def __getattr__(name: str) -> Any:
    if name in ("load_config", "resolve_paths"):
        from certops.config import load

        return getattr(load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
