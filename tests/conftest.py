"""Every test run keeps its writer locks in a folder of its own, not in the user's state
folder (where certops keeps tenant locks by default), so tests never leave lock files
behind and never wait for a real certops run on this machine."""

from __future__ import annotations

import os
import tempfile

import pytest

from certops.lock import LOCK_DIR_VARIABLE


def pytest_configure(config: pytest.Config) -> None:
    folder = tempfile.mkdtemp(prefix="certops-test-locks-")
    os.environ[LOCK_DIR_VARIABLE] = folder
