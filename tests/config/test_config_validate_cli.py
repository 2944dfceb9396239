"""`certops validate` through the real entry point: exit codes and output streams."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INVALID = "tests/fixtures/invalid"


def certops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from certops.cli.main import main; main()", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_valid_and_invalid_through_main() -> None:
    ok = certops("validate", "examples/")
    assert (ok.returncode, ok.stdout, ok.stderr) == (
        0,
        "Valid: 3 products, 9 courses, 6 periods in 3 files.\n"
        "Not checked: that the 3 usernames and 5 initial course codes it names exist in the "
        "LMS (add --lms URL).\n"
        "Not checked anywhere: the 8 enrollment rule and notification names (Docebo has no "
        "API for them; the plan lists them as manual steps).\n",
        "",
    )
    bad = certops("validate", f"{INVALID}/tabs.yaml", f"{INVALID}/empty.yaml")
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == [
        f"{INVALID}/empty.yaml:1:1: file is empty; a certops file starts with `version: 1` "
        "and has `products:` and/or `settings:`",
        f"{INVALID}/tabs.yaml:11:1: tab character: YAML indentation must use spaces, not tabs",
    ]
    assert bad.stderr == "Invalid: 2 problems.\n"
    assert "Traceback" not in bad.stderr


def test_certops_config_names_the_configuration_when_no_path_is_given() -> None:
    """CI kits set CERTOPS_CONFIG: certops reads it when no PATH is given; a variable set
    but empty (a secret or variable that did not reach the job) is said to be so."""

    def run(value: str | None) -> subprocess.CompletedProcess[str]:
        env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
        if value is not None:
            env["CERTOPS_CONFIG"] = value
        return subprocess.run(
            [sys.executable, "-c", "from certops.cli.main import main; main()", "validate"],
            cwd=REPO / "tests",  # no ./certops/ folder here: without it, "." has no config
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    named = run(str(REPO / "examples"))
    assert named.returncode == 0, named.stderr
    assert named.stdout.startswith("Valid: 3 products, 9 courses, 6 periods in 3 files.\n")
    empty = run("")
    assert empty.returncode == 1
    assert "CERTOPS_CONFIG is set but empty" in empty.stdout + empty.stderr
