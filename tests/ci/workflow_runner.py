"""Runs the shipped GitHub Actions workflow's jobs on this machine, step by step, with the
scripts taken from the YAML (nothing is copied into the test).

What a runner would provide is provided: the workflow, job and step ``env`` (``${{ }}``
expressions resolved from a small table: the secrets, ``github.token``, the pull request
number, ``env.*``), ``GITHUB_OUTPUT`` / ``GITHUB_STEP_SUMMARY`` files, step ``if:``
conditions, and bash as ``defaults.run.shell`` asks. Only what talks to GitHub is
stood in for: ``gh`` is a stub on ``PATH`` that keeps comments, issues and artifacts in a
JSON file, and ``actions/upload-artifact`` copies into the same store. ``actions/checkout``
and ``actions/setup-python`` are done by the test beforehand (a git clone with an origin,
the Python running the tests), and the "Install certops" step is skipped because certops
is already importable from the tree: every ``certops`` the scripts run is the real one.
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
SKIPPED_STEPS = {"Install certops"}  # certops comes from the tree under test
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

CERTOPS_SHIM = """#!/bin/sh
exec {python} -c 'import sys; sys.argv[0] = "certops"; from certops.cli.main import main; main()' \\
  "$@"
"""


@dataclass
class StepRun:
    """One step as it ran: its name, exit code (None: skipped) and output."""

    name: str
    code: int | None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


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


class GitHubActions:
    """Runs jobs of the shipped workflow in ``repo`` (a clone with an ``origin``)."""

    def __init__(self, root: Path, repo: Path, secrets: dict[str, str], extra_env: dict[str, str]):
        self.workflow = _load_workflow()
        self.root = root
        self.repo = repo
        self.secrets = secrets
        self.extra_env = extra_env
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
                    "artifacts": str(self.artifacts),
                }
            )
        )
        gh = self.bin / "gh"
        gh.write_text(GH_STUB.replace("{python}", sys.executable), encoding="utf-8")
        shim = self.bin / "certops"
        shim.write_text(CERTOPS_SHIM.replace("{python}", sys.executable), encoding="utf-8")
        for file in (gh, shim):
            file.chmod(0o755)
        self.runs = 0
        # The credentials as certops reads them (for runs the test makes itself).
        self.secrets_env = {k: v for k, v in secrets.items() if k.startswith("DOCEBO_CLIENT")}
        self.secrets_env |= {
            k: v for k, v in secrets.items() if k in ("DOCEBO_USERNAME", "DOCEBO_PASSWORD")
        }

    @property
    def gh(self) -> dict[str, Any]:
        """The stub's state: calls, comments, issues."""
        return json.loads(self.state_file.read_text())

    def set_gh(self, **values: Any) -> None:
        state = self.gh
        state.update(values)
        self.state_file.write_text(json.dumps(state))

    def _expr(self, text: str, env: dict[str, str], event: str) -> str:
        def resolve(match: re.Match[str]) -> str:
            expr = match.group(1).strip()
            if expr.startswith("secrets."):
                return self.secrets[expr.removeprefix("secrets.")]
            if expr.startswith("env."):
                return env[expr.removeprefix("env.")]
            table = {
                "github.token": "gh-token-for-tests",
                "github.event.pull_request.number": "7",
                "github.event_name": event,
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

        expr = re.sub(r"steps\.([\w-]+)\.outputs\.([\w-]+)", output, expr)
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
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", str(self.root)),
            "PYTHONPATH": str(TREE),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "acme/certification-config",
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_RUN_ID": run_id,
            "GITHUB_SHA": self._git("rev-parse", "HEAD"),
            "GITHUB_EVENT_NAME": event,
            "GITHUB_WORKSPACE": str(self.repo),
            "GITHUB_ACTOR": "octo-reviewer",
            "GH_STUB_STATE": str(self.state_file),
        }
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
                ran.append(StepRun(label, None))
                continue
            step_env = dict(envs)
            for key, value in step.get("env", {}).items():
                step_env[key] = self._expr(value, step_env, event)
            if "uses" in step:
                result = self._uses(step, step_env, run_id, label, event)
            elif label in SKIPPED_STEPS:
                result = StepRun(label, None)
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
            source = self.repo / inputs["path"]
            if not source.exists():
                assert inputs.get("if-no-files-found") == "ignore", f"no file {source}"
                return StepRun(label, 0)
            target = self.artifacts / run_id / inputs["name"]
            target.mkdir(parents=True, exist_ok=True)
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
