"""The embedded Docebo-compatible LMS.

``create_app(path)`` is the whole ASGI application (served by ``certops sandbox serve``,
mounted in-process for ``sandbox:PATH``); ``init_sandbox`` creates a sandbox file,
``load_dataset`` loads a dataset file into it, ``read_credentials`` returns what it accepts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from certops.config.model import Location
from certops.sandbox.app import create_app
from certops.sandbox.dataset import LoadSummary, load_file_into, load_into
from certops.sandbox.demo import DEMO_NOW, demo_dataset
from certops.sandbox.faults import ConnectionDropped, FaultConfig
from certops.sandbox.shapes import Shapes, ShapesError
from certops.sandbox.store import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    SandboxCredentials,
    SandboxError,
    Store,
    create_store_file,
)

__all__ = [
    "ConnectionDropped",
    "FaultConfig",
    "LoadSummary",
    "SandboxCredentials",
    "SandboxError",
    "create_app",
    "init_sandbox",
    "load_dataset",
    "read_credentials",
    "reset_sandbox",
]


def init_sandbox(
    db_path: str | Path,
    *,
    demo: bool = False,
    learners: int = 200,
    seed: int = 0,
    credentials: SandboxCredentials | None = None,
    overwrite: bool = False,
    lenient: bool = False,
    shapes: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
    copied_from: str | None = None,
) -> LoadSummary:
    """Creates a sandbox file (empty, or with the demo dataset, or with the dataset
    ``data``: a copy of a tenant, ``copied_from``); returns what was loaded.

    Credentials default to client ``certops-sandbox`` / ``sandbox-secret`` and admin
    ``admin`` / ``admin``. Refuses to replace an existing file unless ``overwrite``.
    ``lenient``: the API ignores unknown request fields (as Docebo does) instead of
    rejecting them. ``shapes``: response shapes other than the defaults
    (``certops.sandbox.shapes``).
    """
    if learners < 0:
        raise SandboxError(f"learners must be 0 or more, got {learners}")
    creds = credentials or SandboxCredentials(
        DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USERNAME, DEFAULT_PASSWORD
    )
    try:
        chosen = Shapes().with_changes(dict(shapes or {})).to_json()
    except ShapesError as exc:
        raise SandboxError(f"{exc.field}: {exc}") from None
    init: dict[str, object] = {"demo": demo, "learners": learners, "seed": seed}
    init["lenient"] = lenient
    if shapes:
        init["shapes"] = dict(shapes)
    settings: dict[str, object] = {"init": init, "lenient": lenient, "shapes": chosen}
    if data is not None:
        # Kept in the file, so that `reset` brings the copy back as it was made.
        init["copied_from"] = copied_from or "a dataset"
        settings["init_data"] = dict(data)
    target = Path(db_path)
    if target.exists() and not overwrite:
        raise SandboxError(
            f"{target} already exists; use `certops sandbox reset` or --force to replace it"
        )
    # Build beside the target and move it into place only when complete: a failed init
    # leaves no half-made sandbox and does not destroy the one that was there.
    building = target.with_name(f".{target.name}.building")
    _remove_sqlite_files(building)
    summary = LoadSummary()
    try:
        create_store_file(building, creds, settings=settings)
        if demo or data is not None:
            store = Store(building)
            try:
                if demo:
                    # The demo tenant's own timestamps stop where its history does.
                    summary = load_into(
                        store, demo_dataset(learners, seed), _no_location, now=DEMO_NOW
                    )
                else:
                    where = f"<copy of {copied_from or 'a tenant'}>"
                    summary = load_into(
                        store, dict(data or {}), lambda path, key=False: Location(where, 1, 1)
                    )
            finally:
                store.close()
    except BaseException:
        _remove_sqlite_files(building)
        raise
    _remove_sqlite_files(target)
    os.replace(building, target)
    return summary


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        # Nothing there, or no such folder: nothing to remove.
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            Path(f"{path}{suffix}").unlink()


def _no_location(path: list[str | int], key: bool = False) -> Location:
    # The demo dataset is valid by construction; this only names it if that ever breaks.
    return Location("<demo>", 1, 1)


def reset_sandbox(db_path: str | Path) -> LoadSummary:
    """Recreates the sandbox as ``init`` made it (same credentials, demo, learners, seed
    and strictness), discarding everything since; returns what was loaded."""
    store = Store(db_path)
    try:
        creds = store.credentials()
        init = store.meta("init", {}) or {}
        data = (
            store.meta("init_data", None)
            if isinstance(init, dict) and init.get("copied_from")
            else None
        )
    finally:
        store.close()
    assert isinstance(init, dict)
    return init_sandbox(
        db_path,
        demo=bool(init.get("demo")),
        learners=int(init.get("learners", 200)),
        seed=int(init.get("seed", 0)),
        credentials=creds,
        overwrite=True,
        lenient=bool(init.get("lenient", False)),
        shapes=init.get("shapes") or None,
        data=data if isinstance(data, dict) else None,
        copied_from=str(init["copied_from"]) if init.get("copied_from") else None,
    )


def load_dataset(db_path: str | Path, dataset_path: str | Path) -> LoadSummary:
    """Loads a YAML or JSON dataset file into the sandbox; returns what was written.

    Raises ``certops.errors.ConfigError`` with every located problem (nothing written).
    """
    store = Store(db_path)
    try:
        return load_file_into(store, dataset_path)
    finally:
        store.close()


def read_credentials(db_path: str | Path) -> SandboxCredentials:
    """Returns the OAuth2 client and admin user the sandbox at ``db_path`` accepts."""
    store = Store(db_path)
    try:
        return store.credentials()
    finally:
        store.close()
