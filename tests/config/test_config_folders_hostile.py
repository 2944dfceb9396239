"""Config folders that could hide or hang: an unreadable subfolder is an error (its
products must not vanish from the plan), a pipe named ``*.yaml`` is skipped with a warning
instead of blocking the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIDGET = (ROOT / "examples" / "widget-pro.yaml").read_text(encoding="utf-8")
GADGET = (ROOT / "examples" / "gadget-max.yaml").read_text(encoding="utf-8")


def _validate(folder: Path, *, unprivileged: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from certops.cli.main import main; main()", "validate",
               str(folder)]  # fmt: skip
    if unprivileged and os.geteuid() == 0:
        # root reads any folder: drop the capabilities that let it, as a normal user lacks.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder unreadable")
        caps = "-dac_override,-dac_read_search"
        command = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", "--", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)


def test_an_unreadable_subfolder_is_an_error_not_a_vanished_product(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "more").mkdir(parents=True)
    (conf / "widget.yaml").write_text(WIDGET, encoding="utf-8")
    (conf / "more" / "gadget.yaml").write_text(GADGET, encoding="utf-8")
    (conf / "more").chmod(0)
    try:
        ran = _validate(conf, unprivileged=True)
    finally:
        (conf / "more").chmod(0o755)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert f"{conf / 'more'}:1:1: cannot read this folder: Permission denied" in ran.stdout
    assert "Traceback" not in ran.stderr


def test_a_pipe_named_yaml_is_skipped_with_a_warning(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "widget.yaml").write_text(WIDGET, encoding="utf-8")
    os.mkfifo(conf / "x.yaml")
    ran = _validate(conf)  # would block forever reading the pipe
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"certops: warning: skipped {conf / 'x.yaml'}: not a regular file" in ran.stderr
    assert "Valid: 1 product" in ran.stdout
