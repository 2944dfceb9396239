"""Configuration: YAML loading with positions, schema and semantic checks, typed model."""

from certops.config.load import load_config, resolve_paths
from certops.config.problems import Problem

__all__ = ["Problem", "load_config", "resolve_paths"]
