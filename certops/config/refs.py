"""The names a configuration uses for things that must already exist in the LMS, located.

Usernames in extensions, reinstatements and revocations, and the course codes of initial
paths, are not defined by certops: they refer to users and courses of the tenant. A typo
in one of them is not a schema error, so it can only be caught against the LMS
(``certops.engine.references``); this module finds every such name with the
``FILE:LINE:COL`` it was written at, so that the error can point at it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from certops.config.model import Config, Location
from certops.config.problems import format_path

if TYPE_CHECKING:
    from certops.config.yamlpos import PosDict


class RefKind(StrEnum):
    """What a reference is (the word the error message starts with)."""

    EXTENSION = "extension"
    REINSTATEMENT = "reinstatement"
    REVOCATION = "revocation"
    INITIAL_COURSE = "initial path"


# The product list each user reference lives in.
USER_LISTS: dict[str, RefKind] = {
    "extensions": RefKind.EXTENSION,
    "reinstatements": RefKind.REINSTATEMENT,
    "revocations": RefKind.REVOCATION,
}


@dataclass(frozen=True, slots=True)
class Reference:
    """One name the configuration expects the LMS to have.

    ``value`` is a username (exceptions) or a course code (initial paths); ``detail`` is
    the initial path's name for a course (empty otherwise)."""

    kind: RefKind
    value: str
    product: str
    location: Location
    path: str
    detail: str = ""

    @property
    def is_user(self) -> bool:
        return self.kind is not RefKind.INITIAL_COURSE


def references(config: Config, products: Collection[str] | None = None) -> list[Reference]:
    """Every user and initial course named by ``config``'s files, in file order.

    Re-reads the (already valid) files for their positions; ``products`` limits the result
    to those product ids (all when None)."""
    # The YAML reader is loaded here, not at import: the engine uses ``Reference`` and
    # must not load an I/O library.
    from certops.config.yamlpos import PosDict, load_file

    wanted = set(products) if products is not None else {p.id for p in config.products}
    found: list[Reference] = []
    for file in config.files:
        root = load_file(file)
        if isinstance(root, PosDict):
            found.extend(_in_file(root, wanted))
    return found


def _in_file(root: PosDict, wanted: set[str]) -> Iterator[Reference]:
    from certops.config.yamlpos import PosDict, PosList, locate

    products = root.get("products")
    if not isinstance(products, PosList):
        return
    for i, product in enumerate(products):
        pid = product.get("id") if isinstance(product, PosDict) else None
        if not isinstance(pid, str) or pid not in wanted:
            continue
        for key, kind in USER_LISTS.items():
            for j, entry in enumerate(product.get(key) or ()):
                user = entry.get("user") if isinstance(entry, PosDict) else None
                if isinstance(user, str):
                    path: list[str | int] = ["products", i, key, j, "user"]
                    yield Reference(kind, user, pid, locate(root, path), format_path(path))
        for j, initial in enumerate(product.get("initial_paths") or ()):
            if not isinstance(initial, PosDict):
                continue
            for k, code in enumerate(initial.get("all_of") or ()):
                if isinstance(code, str):
                    path = ["products", i, "initial_paths", j, "all_of", k]
                    yield Reference(
                        RefKind.INITIAL_COURSE,
                        code,
                        pid,
                        locate(root, path),
                        format_path(path),
                        detail=str(initial.get("name", "")),
                    )
