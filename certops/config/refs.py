"""The names a configuration uses for things that must already exist in the LMS, located.

Usernames in extensions, reinstatements and revocations, and the course codes of initial
paths, are not defined by certops: they refer to users and courses of the tenant. A typo
in one of them is not a schema error, so it can only be caught against the LMS
(``certops.engine.references``). The loader indexes every such name with the
``FILE:LINE:COL`` it was written at (``Config.references``), so that the error can point
at it without reading the files again.
"""

from __future__ import annotations

from collections.abc import Collection

from certops.config.model import USER_LISTS, Config, Reference, RefKind

__all__ = ["USER_LISTS", "RefKind", "Reference", "references"]


def references(config: Config, products: Collection[str] | None = None) -> list[Reference]:
    """Every user and initial course named by ``config``'s files, in file order;
    ``products`` limits the result to those product ids (all when None)."""
    if products is None:
        return list(config.references)
    wanted = set(products)
    return [ref for ref in config.references if ref.product in wanted]
