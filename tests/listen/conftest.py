"""Fixtures of the listen tests: a served sandbox brought in line by a first apply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.listen.harness import SANDBOX_ENV, Admin, Process, make_site, serve_sandbox
from tests.support import run_certops


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Process, Admin]]:
    """A served sandbox that the nightly apply has already brought in line (lena is
    suspended for last year's missed maintenance), and the configuration folder."""
    monkeypatch.chdir(tmp_path)
    config, db = make_site(tmp_path)
    sandbox = serve_sandbox(db, tmp_path)
    try:
        for name, value in SANDBOX_ENV.items():
            monkeypatch.setenv(name, value)
        applied = run_certops("apply", str(config), "--lms", sandbox.url, "--yes")
        assert applied.code == 0, applied.output
        yield config, sandbox, Admin(sandbox.url)
    finally:
        sandbox.stop()
