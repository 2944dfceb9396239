"""The shipped GitLab CI file, checked for structure: the same three jobs as the GitHub
workflow (merge-request plan, apply on the default branch, scheduled drift audit), one
resource group for the jobs that touch the LMS, every script valid bash, every inline
Python valid Python, and the same certops commands as the GitHub workflow."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from workflow_runner import TREE, WORKFLOW

GITLAB = TREE / "examples" / "ci" / ".gitlab-ci.yml"
JOBS = ("certops-plan", "certops-apply", "certops-drift")
# Keys a GitLab job may have (the subset of the CI/CD YAML reference this file may use).
JOB_KEYS = {
    "extends", "stage", "rules", "script", "before_script", "after_script", "image",
    "artifacts", "resource_group", "interruptible", "variables", "needs", "when",
}  # fmt: skip


@pytest.fixture(scope="module")
def gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB.read_text(encoding="utf-8"))


def resolved(gitlab: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with its ``extends`` applied (GitLab merges the template under the job)."""
    job = dict(gitlab[name])
    parent = job.pop("extends", None)
    if parent is None:
        return job
    assert parent in gitlab, f"{name} extends {parent}, which is not defined"
    return {**resolved(gitlab, parent), **job}


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
        assert "certops==${CERTOPS_VERSION}" in scripts(job)
    rules = {name: [r["if"] for r in gitlab[name]["rules"]] for name in JOBS}
    assert rules["certops-plan"] == ['$CI_PIPELINE_SOURCE == "merge_request_event"']
    assert rules["certops-apply"] == [
        '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'
    ]
    assert '$CI_PIPELINE_SOURCE == "schedule"' in rules["certops-drift"]
    # Two jobs that touch the LMS never run at once; a superseded plan may be cancelled.
    assert gitlab["certops-apply"]["resource_group"] == "certops-lms"
    assert gitlab["certops-drift"]["resource_group"] == "certops-lms"
    assert gitlab["certops-plan"]["interruptible"] is True
    assert "plan.json" in gitlab["certops-plan"]["artifacts"]["paths"]
    assert ".certops/audit.jsonl" in gitlab["certops-apply"]["artifacts"]["paths"]


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


def test_same_certops_commands_as_the_github_workflow(gitlab: dict[str, Any]) -> None:
    github = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    for gl_name, gh_name in zip(JOBS, ("plan", "apply", "drift"), strict=True):
        gh_text = "\n".join(s.get("run", "") for s in github["jobs"][gh_name]["steps"])
        assert certops_commands(scripts(gitlab[gl_name])) == certops_commands(gh_text), gl_name
    assert "plan --detailed-exitcode --drift-only --format" in certops_commands(
        scripts(gitlab["certops-drift"])
    )
