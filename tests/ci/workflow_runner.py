"""Runs the shipped GitHub Actions workflow's jobs on this machine, step by step, with the
scripts taken from the YAML (nothing is copied into the test).

What a runner would provide is provided: the workflow, job and step ``env`` (``${{ }}``
expressions resolved from a small table: the secrets, ``github.token``, the pull request
number, ``env.*``), ``GITHUB_OUTPUT`` / ``GITHUB_STEP_SUMMARY`` files, step ``if:``
conditions, and bash as ``defaults.run.shell`` asks. Only what talks to GitHub is
stood in for: ``gh`` is a stub on ``PATH`` that keeps comments, issues and artifacts in a
JSON file, and ``actions/upload-artifact`` copies into the same store. ``actions/checkout``
is done by the test beforehand (a git clone with an origin). ``actions/setup-python`` is a
fresh virtual environment with certops' dependencies and without certops (the runtime
dependencies of the running interpreter, seen through a ``.pth`` file), first on ``PATH``;
the "Install certops" step then runs as written: ``pip install --require-hashes`` of the
repository's lock file, which names the wheel built from this checkout with its hash, from
a local folder that stands in for the package index. Every ``certops`` the scripts run is
that installed wheel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TREE = Path(__file__).resolve().parents[2]
WORKFLOW = TREE / "examples" / "ci" / ".github" / "workflows" / "certops.yml"
DONE_BEFORE = ("actions/checkout@", "actions/setup-python@")
STEP_TIMEOUT = 300

GH_STUB = r'''#!{python}
"""gh, as far as the certops workflow uses it: comments, pull requests, runs, issues."""
import json, os, shutil, sys
from pathlib import Path

state_file = Path(os.environ["GH_STUB_STATE"])
state = json.loads(state_file.read_text())
args = sys.argv[1:]
state["calls"].append(args)


def opt(flag):
    return args[args.index(flag) + 1] if flag in args else None


def body():
    value = opt("-F") or ""
    file = opt("--body-file") or value.removeprefix("body=@")
    return Path(file).read_text()


def done():
    state_file.write_text(json.dumps(state))
    sys.exit(0)


marker = "<!-- certops-plan -->"
WORKFLOW_ID = "4242"
if args[0] == "api":
    method = opt("-X") or "GET"
    path = next(a for a in args[1:] if a.startswith("repos/"))
    if method == "GET" and path.endswith("/comments"):
        # The workflow's --jq: the ids of the comments whose body starts with the marker.
        for c in state["comments"]:
            if c["body"].startswith(marker):
                print(c["id"])
    elif method == "POST" and path.endswith("/comments"):
        state["comments"].append({"id": 1000 + len(state["comments"]), "body": body()})
    elif method == "PATCH" and "/issues/comments/" in path:
        wanted = int(path.rsplit("/", 1)[1])
        next(c for c in state["comments"] if c["id"] == wanted)["body"] = body()
    elif path.endswith("/pulls"):
        print(state["pr_head"] or "")
    elif path.rsplit("/", 1)[-1].isdigit() and "/actions/runs/" in path:
        print(WORKFLOW_ID)  # the --jq .workflow_id of the running job's run
    elif f"/actions/workflows/{WORKFLOW_ID}/runs?" in path and "event=merge_group" in path:
        print(state["merge_group_run"] or "")
    elif f"/actions/workflows/{WORKFLOW_ID}/runs?" in path:
        print(state["plan_run"] or "")
    else:
        sys.exit(f"gh stub: unexpected call {args}")
elif args[:2] == ["run", "download"]:
    source = Path(state["artifacts"]) / args[2] / opt("--name")
    if not source.is_dir():
        sys.exit(f"no artifact {opt('--name')} in run {args[2]}")
    shutil.copytree(source, opt("--dir"), dirs_exist_ok=True)
elif args[:2] == ["issue", "list"]:
    for issue in state["issues"]:
        print(issue["number"])
elif args[:2] == ["issue", "create"]:
    state["issues"].append({"number": 1 + len(state["issues"]), "title": opt("--title"),
                            "comments": [body()]})
elif args[:2] == ["issue", "comment"]:
    next(i for i in state["issues"] if i["number"] == int(args[2]))["comments"].append(body())
else:
    sys.exit(f"gh stub: unexpected call {args}")
done()
'''


@dataclass
class StepRun:
    """One step as it ran: its name, exit code (None: skipped) and output."""

    name: str
    code: int | None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """GitHub's ``steps.ID.outcome``: success, failure or skipped."""
        if self.code is None:
            return "skipped"
        return "success" if self.code == 0 else "failure"


@dataclass
class JobRun:
    """A job's steps and its summary (``GITHUB_STEP_SUMMARY``)."""

    steps: list[StepRun]
    summary: str

    @property
    def failed(self) -> bool:
        return any(s.code not in (None, 0) for s in self.steps)

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)


def _load_workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key "on" as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def job_python(root: Path) -> Path:
    """What ``actions/setup-python`` gives a job, without certops: a fresh virtual
    environment (no pip of its own) that sees the running interpreter's installed
    distributions, certops' own excepted, through a ``.pth`` file. Returns its ``bin``."""
    venv = root / "job-python"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        deps = root / "job-python-deps"
        deps.mkdir()
        for site in {Path(p) for p in sys.path if p.endswith("site-packages")}:
            for entry in site.iterdir():
                name = entry.name.lower()
                if name.startswith(("certops", "__editable__", "_certops")):
                    continue  # the test's own certops: the job installs the wheel
                if name.endswith(".pth") or (deps / entry.name).exists():
                    continue
                (deps / entry.name).symlink_to(entry)
        purelib = subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        Path(purelib, "job-deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    # Each job runs on a fresh machine: nothing an earlier job installed is left.
    for path in venv.glob("lib/python*/site-packages/*"):
        if path.name != "job-deps.pth":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    (venv / "bin" / "certops").unlink(missing_ok=True)
    return venv / "bin"


class GitHubActions:
    """Runs jobs of the shipped workflow in ``repo`` (a clone with an ``origin``).

    ``index`` is the folder that stands in for the package index (the wheel built from
    this checkout): the install step finds certops there and nowhere else."""

    def __init__(
        self,
        root: Path,
        repo: Path,
        secrets: dict[str, str],
        extra_env: dict[str, str],
        index: Path,
    ):
        self.workflow = _load_workflow()
        self.root = root
        self.repo = repo
        self.secrets = secrets
        self.extra_env = extra_env
        self.index = index
        self.python_bin = job_python(root)
        self.bin = root / "bin"
        self.bin.mkdir(exist_ok=True)
        self.artifacts = root / "artifacts"
        self.state_file = root / "gh-state.json"
        self.state_file.write_text(
            json.dumps(
                {
                    "calls": [],
                    "comments": [],
                    "issues": [],
                    "pr_head": "",
                    "plan_run": "",
                    "merge_group_run": "",
                    "artifacts": str(self.artifacts),
                }
            )
        )
        gh = self.bin / "gh"
        gh.write_text(GH_STUB.replace("{python}", sys.executable), encoding="utf-8")
        gh.chmod(0o755)
        self.runs = 0
        self.base_sha = ""  # the pull request's base commit (github.event...base.sha)
        # The credentials as certops reads them (for runs the test makes itself).
        self.secrets_env = {
            key: secrets[key]
            for key in (
                "DOCEBO_CLIENT_ID",
                "DOCEBO_CLIENT_SECRET",
                "DOCEBO_USERNAME",
                "DOCEBO_PASSWORD",
            )
            if key in secrets
        }

    @property
    def gh(self) -> dict[str, Any]:
        """The stub's state: calls, comments, issues."""
        return json.loads(self.state_file.read_text())

    def set_gh(self, **values: Any) -> None:
        state = self.gh
        state.update(values)
        self.state_file.write_text(json.dumps(state))

    def _expr(
        self, text: str, env: dict[str, str], event: str, steps: dict[str, StepRun] | None = None
    ) -> str:
        def resolve(match: re.Match[str]) -> str:
            expr = match.group(1).strip()
            if expr.startswith("secrets."):
                # A secret that is not set (or not given to this job) reads as "".
                return self.secrets.get(expr.removeprefix("secrets."), "")
            if expr.startswith("env."):
                return env[expr.removeprefix("env.")]
            step = re.fullmatch(r"steps\.([\w-]+)\.(outputs\.([\w-]+)|outcome)", expr)
            if step:
                ran = (steps or {}).get(step.group(1))
                if step.group(3):
                    return ran.outputs.get(step.group(3), "") if ran else ""
                return ran.outcome if ran else ""
            table = {
                "github.token": "gh-token-for-tests",
                "github.event.pull_request.number": "7",
                "github.event.pull_request.number || github.ref": "7",
                "github.event_name": event,
                "github.event.pull_request.base.sha || github.event.merge_group.base_sha": (
                    self.base_sha
                ),
            }
            if expr not in table:
                raise AssertionError(f"workflow expression the test runner does not know: {expr}")
            return table[expr]

        return re.sub(r"\$\{\{(.*?)\}\}", resolve, str(text))

    @staticmethod
    def _condition(text: str, event: str, failed: bool, steps: dict[str, StepRun]) -> bool:
        expr = str(text).removeprefix("${{").removesuffix("}}").strip()

        def output(match: re.Match[str]) -> str:
            step = steps.get(match.group(1))
            return repr(step.outputs.get(match.group(2), "") if step else "")

        def outcome(match: re.Match[str]) -> str:
            step = steps.get(match.group(1))
            return repr(step.outcome if step else "")

        expr = re.sub(r"steps\.([\w-]+)\.outputs\.([\w-]+)", output, expr)
        expr = re.sub(r"steps\.([\w-]+)\.outcome", outcome, expr)
        expr = expr.replace("github.event_name", repr(event))
        expr = expr.replace("always()", "True").replace("failure()", repr(failed))
        expr = expr.replace("success()", repr(not failed))
        expr = expr.replace("&&", " and ").replace("||", " or ")
        return bool(eval(expr, {"__builtins__": {}}, {}))  # the workflow's own conditions

    def job(self, name: str, event: str, env: dict[str, str] | None = None) -> JobRun:
        """Runs job ``name`` as for ``event``; ``env`` is added to the job's environment
        (e.g. ``CERTOPS_AT``, what a test pins that a real run takes from the clock)."""
        job = self.workflow["jobs"][name]
        assert self._condition(job["if"], event, False, {}), f"{name} does not run on {event}"
        self.runs += 1
        run_id = str(self.runs)
        base = {
            # setup-python's interpreter first, as on a runner.
            "PATH": os.pathsep.join((str(self.python_bin), str(self.bin), os.environ["PATH"])),
            "HOME": os.environ.get("HOME", str(self.root)),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "acme/certification-config",
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_WORKFLOW": str(self.workflow["name"]),
            "GITHUB_RUN_ID": run_id,
            "GITHUB_SHA": self._git("rev-parse", "HEAD"),
            "GITHUB_EVENT_NAME": event,
            "GITHUB_WORKSPACE": str(self.repo),
            "GITHUB_ACTOR": "octo-reviewer",
            "GH_STUB_STATE": str(self.state_file),
            "RUNNER_TEMP": str(self.root / f"runner-temp-{run_id}"),
            # The package index, for the install step: the wheel built from this checkout.
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(self.index),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        Path(base["RUNNER_TEMP"]).mkdir()
        job_python(self.root)  # setup-python: a Python without certops
        # Every job starts from a fresh checkout: nothing left by an earlier job.
        self._git("clean", "-fdxq")
        self._git("worktree", "prune")
        summary = self.root / f"summary-{run_id}.md"
        summary.write_text("")
        envs = dict(base)
        for level in (self.workflow.get("env", {}), job.get("env", {})):
            for key, value in level.items():
                envs[key] = self._expr(value, envs, event)
        envs.update(env or {})
        envs.update(self.extra_env)
        shell = self.workflow["defaults"]["run"]["shell"]
        assert shell == "bash"
        steps: dict[str, StepRun] = {}
        ran: list[StepRun] = []
        failed = False
        for index, step in enumerate(job["steps"]):
            label = step.get("name") or step.get("uses") or f"step {index}"
            # Without ``if:`` a step runs only while nothing has failed (GitHub's success()).
            go = self._condition(step["if"], event, failed, steps) if "if" in step else not failed
            if not go:
                result = StepRun(label, None)
            else:
                step_env = dict(envs)
                for key, value in step.get("env", {}).items():
                    step_env[key] = self._expr(value, step_env, event, steps)
                if "uses" in step:
                    result = self._uses(step, step_env, run_id, label, event)
                else:
                    result = self._run(step, step_env, label, summary, event)
            ran.append(result)
            if "id" in step:
                steps[step["id"]] = result
            failed = failed or result.code not in (None, 0)
        return JobRun(ran, summary.read_text(encoding="utf-8"))

    def _uses(
        self, step: dict[str, Any], env: dict[str, str], run_id: str, label: str, event: str
    ) -> StepRun:
        action = step["uses"]
        if action.startswith(DONE_BEFORE):
            return StepRun(label, None)
        if action.startswith("actions/upload-artifact@"):
            inputs = {k: self._expr(v, env, event) for k, v in step.get("with", {}).items()}
            target = self.artifacts / run_id / inputs["name"]
            sources = [self.repo / line.strip() for line in inputs["path"].splitlines() if line]
            found = [source for source in sources if source.exists()]
            if not found:
                assert inputs.get("if-no-files-found") == "ignore", f"no file {sources}"
                return StepRun(label, 0)
            target.mkdir(parents=True, exist_ok=True)
            for source in found:
                if source.is_dir():
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    shutil.copy(source, target / source.name)
            return StepRun(label, 0)
        raise AssertionError(f"action the test runner does not know: {action}")

    def _run(
        self, step: dict[str, Any], env: dict[str, str], label: str, summary: Path, event: str
    ) -> StepRun:
        script = step["run"]
        assert "${{" not in script, f"{label}: expressions belong in env, not in the script"
        output = self.root / "github-output"
        output.write_text("")
        file = self.root / "step.sh"
        file.write_text(script, encoding="utf-8")
        env = {**env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(file)],
            cwd=self.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        return StepRun(label, done.returncode, done.stdout, done.stderr, outputs)

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.repo), *args], capture_output=True, text=True, check=True
        ).stdout.strip()
