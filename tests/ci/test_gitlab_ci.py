"""The shipped GitLab CI file, checked for structure: the same three jobs as the GitHub
workflow (merge-request plan with the reader's unprotected variables, apply on the default
branch, the nightly apply on a schedule or by hand), the hash-checked install, one
resource group for the jobs that write the LMS, protected environments, every script
valid bash, every inline Python valid Python, and the same certops commands as the GitHub
workflow."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_github_workflow import SHELLCHECK_DIST, installed
from workflow_runner import TREE, WORKFLOW

GITLAB = TREE / "examples" / "ci" / ".gitlab-ci.yml"
JOBS = ("certops-plan", "certops-apply", "certops-nightly")
# Keys a GitLab job may have (the subset of the CI/CD YAML reference this file may use).
JOB_KEYS = {
    "extends", "stage", "rules", "script", "before_script", "after_script", "image",
    "artifacts", "resource_group", "interruptible", "variables", "needs", "when",
    "environment",
}  # fmt: skip


@pytest.fixture(scope="module")
def gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB.read_text(encoding="utf-8"))


def resolved(gitlab: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with its ``extends`` applied (GitLab merges the templates under the job, in
    order)."""
    job = dict(gitlab[name])
    parents = job.pop("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        assert parent in gitlab, f"{name} extends {parent}, which is not defined"
        merged |= resolved(gitlab, parent)
    return merged | job


def scripts(job: dict[str, Any]) -> str:
    parts = [*job.get("before_script", []), *job.get("script", []), *job.get("after_script", [])]
    assert all(isinstance(p, str) for p in parts)
    return "\n".join(parts)


def certops_commands(text: str) -> set[str]:
    """The certops invocations of a script, options only (without redirections)."""
    found = set()
    for match in re.finditer(r"certops (validate|plan|apply)([^\n>|]*)", text):
        options = [w for w in match.group(2).split() if w.startswith("--")]
        found.add(" ".join([match.group(1), *sorted(options)]))
    return found


def test_three_jobs_with_their_triggers(gitlab: dict[str, Any]) -> None:
    stages = gitlab["stages"]
    for name in JOBS:
        job = resolved(gitlab, name)
        assert set(gitlab[name]) <= JOB_KEYS, set(gitlab[name]) - JOB_KEYS
        assert job["stage"] in stages
        assert job["image"].startswith("python:3.11")
        # Installed from the lock file, every file checked against its hash.
        assert '--require-hashes -r "$CERTOPS_REQUIREMENTS"' in scripts(job)
    rules = {name: [r["if"] for r in gitlab[name]["rules"]] for name in JOBS}
    assert rules["certops-plan"] == ['$CI_PIPELINE_SOURCE == "merge_request_event"']
    assert rules["certops-apply"] == [
        '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
    ]
    assert rules["certops-nightly"] == [
        '$CI_PIPELINE_SOURCE == "schedule"',
        '$CI_PIPELINE_SOURCE == "web"',
    ]
    # By hand, the nightly job waits for a person and runs in the reviewed environment.
    by_hand = gitlab["certops-nightly"]["rules"][1]
    assert by_hand["when"] == "manual"
    assert by_hand["variables"]["CERTOPS_ENVIRONMENT"] == "certops-manual"
    assert gitlab["certops-nightly"]["environment"]["name"] == "$CERTOPS_ENVIRONMENT"
    assert gitlab["certops-apply"]["environment"]["name"] == "certops"
    # Two jobs that write the LMS never run at once; a superseded plan may be cancelled.
    assert gitlab["certops-apply"]["resource_group"] == "certops-lms"
    assert gitlab["certops-nightly"]["resource_group"] == "certops-lms"
    assert gitlab["certops-plan"]["interruptible"] is True
    assert "plan.json" in gitlab["certops-plan"]["artifacts"]["paths"]
    assert gitlab["certops-plan"]["artifacts"]["expire_in"] == "90 days"
    for name in ("certops-apply", "certops-nightly"):
        assert ".certops/audit/" in gitlab[name]["artifacts"]["paths"]
        assert "--orphan" in scripts(resolved(gitlab, name))  # the audit trail branch


def test_the_plan_reads_with_the_readers_unprotected_variables(gitlab: dict[str, Any]) -> None:
    """Merge request pipelines get no protected variable: the plan must need none."""
    plan = scripts(gitlab["certops-plan"])
    assert 'DOCEBO_CLIENT_ID="$DOCEBO_READER_CLIENT_ID"' in plan
    assert "CERTOPS_NOTE_TOKEN" in plan and "CERTOPS_GITLAB_TOKEN" not in plan
    assert "empty or not available to this pipeline" in plan


@pytest.mark.parametrize("name", JOBS)
def test_scripts_are_valid_bash_and_python(
    gitlab: dict[str, Any], name: str, tmp_path: Path
) -> None:
    text = scripts(resolved(gitlab, name))
    file = tmp_path / "job.sh"
    file.write_text(text, encoding="utf-8")
    checked = subprocess.run(["bash", "-n", str(file)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    for body in re.findall(r"<<'PY'\n(.*?)\nPY\b", text, flags=re.S):
        compile(body, f"{name} inline Python", "exec")
    # shellcheck (the test extra's), as actionlint runs it on the GitHub workflow.
    shellcheck = installed(SHELLCHECK_DIST, "shellcheck")
    assert shellcheck, f"{SHELLCHECK_DIST} is in the test extra"
    linted = subprocess.run(
        [str(shellcheck), "-s", "bash", "-S", "warning", str(file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout


def test_same_certops_commands_as_the_github_workflow(gitlab: dict[str, Any]) -> None:
    github = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    for gl_name, gh_name in zip(JOBS, ("plan", "apply", "nightly"), strict=True):
        gh_text = "\n".join(s.get("run", "") for s in github["jobs"][gh_name]["steps"])
        assert certops_commands(scripts(gitlab[gl_name])) == certops_commands(gh_text), gl_name
    assert certops_commands(scripts(gitlab["certops-nightly"])) == {
        "plan --format --out",
        "apply --plan",
    }
