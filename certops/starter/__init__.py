"""The commented starter configuration ``certops init`` writes."""

from __future__ import annotations

from importlib.resources import files

STARTER_NAME = "product.yaml"


def starter_text() -> str:
    """The starter configuration: one product, every key commented."""
    return files(__package__).joinpath(STARTER_NAME).read_text(encoding="utf-8")
