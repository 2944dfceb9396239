"""The README's quick start, once per module: a demo sandbox that certops took over on
2026-12-01 (``sandbox init --demo``, then ``apply examples/ --yes --at 2026-12-01``).

Reports only read the LMS, so the tests of a module share one sandbox; each runs certops
through its real console entry point with the environment pointing at it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import Ran, run_certops

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True, slots=True)
class Demo:
    """The demo tenant after the first apply, and a way to run certops against it."""

    root: Path
    db: Path

    @property
    def examples(self) -> str:
        return str(self.root / "examples")

    def env(self) -> dict[str, str | None]:
        cleared = {n: None for n in os.environ if n.startswith(("DOCEBO_", "CERTOPS_"))}
        return {**cleared, "CERTOPS_LMS": f"sandbox:{self.db}", "NO_COLOR": "1"}

    def run(self, *args: str) -> Ran:
        """``certops ARGS`` against the demo tenant."""
        return run_certops(*args, env=self.env())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(EXAMPLES, root / "examples")
    made = Demo(root, root / "sandbox.db")
    init = made.run("sandbox", "init", str(made.db), "--demo")
    assert init.code == 0, init.output
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # the audit log and ack file land in the demo's folder
        applied = made.run("apply", made.examples, "--yes", "--at", "2026-12-01")
    assert applied.code == 0, applied.output
    yield made
