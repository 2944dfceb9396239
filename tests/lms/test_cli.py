"""``certops doctor``, and ``certops plan`` sending nothing but reads to a served sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from certops.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ENV_NAMES = ("DOCEBO_CLIENT_ID", "DOCEBO_CLIENT_SECRET", "DOCEBO_USERNAME", "DOCEBO_PASSWORD")


@pytest.fixture(autouse=True)
def _no_docebo_env(monkeypatch):
    for name in (*ENV_NAMES, "CERTOPS_LMS"):
        monkeypatch.delenv(name, raising=False)


def _run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_doctor_passes_on_the_sandbox(empty):
    result = _run("doctor", "--lms", empty.lms)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok") and "address" in lines[0]
    for needed in ("token", "read users", "read enrollments", "response shapes"):
        assert any(line.startswith("ok") and needed in line for line in lines), needed
    assert "skipped service documents: tenant publishes no service documents" in result.stdout


def test_doctor_fails_with_the_fix_and_no_secret(empty):
    secret = "Wrong-Secret-9931"
    env = {"DOCEBO_CLIENT_ID": "certops-sandbox", "DOCEBO_CLIENT_SECRET": secret}
    result = _run("doctor", "--lms", empty.lms, env=env)
    assert result.exit_code == 1
    assert "FAIL    token:" in result.stdout and "DOCEBO_CLIENT_SECRET" in result.stdout
    assert secret not in result.output


def test_doctor_names_missing_variables():
    result = _run("doctor", "--lms", "https://acme.docebosaas.com", env={"DOCEBO_CLIENT_ID": "x"})
    assert result.exit_code == 1
    assert "FAIL    credentials:" in result.stdout and "DOCEBO_CLIENT_SECRET" in result.stdout


def test_doctor_on_a_missing_sandbox_says_to_init(tmp_path):
    result = _run("doctor", "--lms", f"sandbox:{tmp_path / 'none.db'}")
    assert result.exit_code == 1 and "certops sandbox init" in result.stdout


def test_plan_sends_only_reads(served_demo):
    """The read-only guarantee, seen from the server: after ``certops plan`` the call log
    holds nothing but GETs and the token request."""
    served, creds = served_demo
    env = {
        "DOCEBO_CLIENT_ID": creds.client_id,
        "DOCEBO_CLIENT_SECRET": creds.client_secret,
        "DOCEBO_USERNAME": creds.username,
        "DOCEBO_PASSWORD": creds.password,
    }
    result = CliRunner().invoke(
        cli, ["plan", str(EXAMPLES), "--lms", served.url, "--at", "2026-06-01"], env=env
    )
    assert result.exit_code in (0, 2), result.output
    calls = asyncio.run(served.sandbox.calls())
    assert any(c["path"] == "/course/v1/courses/enrollments" for c in calls)
    assert {(c["method"], c["path"]) for c in calls if c["method"] != "GET"} == {
        ("POST", "/oauth2/token")
    }
    assert creds.client_secret not in result.output
