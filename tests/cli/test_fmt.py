"""``certops fmt``: the canonical layout, every comment kept, the same configuration read
back, ``--check`` for CI, and a file that is not YAML reported with nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from certops.config import load_config
from tests.support import run_certops

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

MESSY = """\
# Widget, laid out by hand.
version: 1
products:
- id: widget   # the id
  name: Widget
  group: {name: "Certified: Widget"}
  # any one path certifies
  initial_paths:
  -   name: basics
      all_of: [W-101]
  certified_course:
      code: CERT-W
      name: 'Certified: Widget'
  maintenance:
      periods:
      - id: "2026"
        # the first year
        course: {code: MOC-W-2026, name: "Widget 2026"}
        opens: 2026-01-01
        due: 2026-12-31
      # the second year
      - id: "2027"
        course: {code: MOC-W-2027, name: "Widget 2027"}
        opens: 2027-01-01
        due: 2027-12-31
  revocations:
  - {user: bob, at: 2026-06-01T00:00:00Z, reason: "misconduct"}

settings:
    # the limits
    safety: {max_suspend_fraction: 0.5}
"""

LAID_OUT = """\
# Widget, laid out by hand.
version: 1
products:
  - id: widget # the id
    name: Widget
    group: {name: "Certified: Widget"}
    # any one path certifies
    initial_paths:
      - name: basics
        all_of: [W-101]
    certified_course:
      code: CERT-W
      name: 'Certified: Widget'
    maintenance:
      periods:
        - id: "2026"
          # the first year
          course: {code: MOC-W-2026, name: "Widget 2026"}
          opens: 2026-01-01
          due: 2026-12-31
        # the second year
        - id: "2027"
          course: {code: MOC-W-2027, name: "Widget 2027"}
          opens: 2027-01-01
          due: 2027-12-31
    revocations:
      - {user: bob, at: 2026-06-01T00:00:00Z, reason: "misconduct"}

settings:
  # the limits
  safety: {max_suspend_fraction: 0.5}
"""


@pytest.fixture
def messy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "widget.yaml"
    path.write_text(MESSY, encoding="utf-8")
    return path


def test_the_examples_and_the_starter_are_laid_out_canonically(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("ci"))
    ran = run_certops("fmt", "--check", str(tmp_path / "examples"))
    assert ran.code == 0, ran.output
    assert ran.stderr == "3 files already laid out canonically.\n"
    assert run_certops("init", str(tmp_path / "starter")).code == 0
    assert run_certops("fmt", "--check", str(tmp_path / "starter")).code == 0


def test_check_lists_and_fmt_lays_out_keeping_every_comment(messy: Path) -> None:
    before = load_config(["conf"])
    check = run_certops("fmt", "--check", "--diff", "conf")
    assert check.code == 1
    assert "would lay out conf/widget.yaml" in check.stdout
    assert "+  - id: widget # the id" in check.stdout  # the diff
    assert messy.read_text(encoding="utf-8") == MESSY  # --check writes nothing
    ran = run_certops("fmt", "--config", "conf")
    assert ran.code == 0, ran.output
    assert ran.stdout == "laid out conf/widget.yaml\n"
    assert messy.read_text(encoding="utf-8") == LAID_OUT
    assert load_config(["conf"]) == before
    again = run_certops("fmt", "--check", "conf")
    assert again.code == 0 and again.stdout == ""


def test_a_file_that_is_not_yaml_is_located_and_nothing_is_written(messy: Path) -> None:
    broken = messy.parent / "broken.yaml"
    broken.write_text("version: 1\nproducts: [\n", encoding="utf-8")
    ran = run_certops("fmt", "conf")
    assert ran.code == 1
    assert "conf/broken.yaml:" in ran.stderr and "nothing was changed" in ran.stderr
    assert messy.read_text(encoding="utf-8") == MESSY
