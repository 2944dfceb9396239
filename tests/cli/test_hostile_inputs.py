"""Hostile or mistaken input ends in a clear, located error, fast: saved plans that try to
redirect the credentials or cannot be read, instants outside what certops can evaluate,
and YAML that would hang or crash a loader."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from certops.plan.jsonio import plan_digest, plan_from_dict
from tests.cli.conftest import Workspace


def saved_plan(ws: Workspace, name: str = "plan.json") -> dict:
    ran = ws.run("plan", "conf", "--out", name)
    assert ran.code == 0, ran.output
    return json.loads((ws.root / name).read_text())


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A loopback port that records whether anything connects (the would-be attacker)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", sock
    finally:
        sock.close()


def _connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def test_editing_the_lms_of_a_saved_plan_is_refused_before_any_call(
    ws: Workspace, listener: tuple[str, socket.socket]
) -> None:
    url, sock = listener
    plan = saved_plan(ws)
    plan["lms"] = url
    (ws.root / "edited.json").write_text(json.dumps(plan))
    ran = ws.run("apply", "--plan", "edited.json", "conf", DOCEBO_CLIENT_ID="id",
                 DOCEBO_CLIENT_SECRET="s3cr3t/with+plus=")  # fmt: skip
    assert ran.code == 1
    assert "digest" in ran.stderr and "edited" in ran.stderr
    assert not _connected(sock)
    assert ws.audit() == []


def test_a_forged_plan_for_another_lms_is_refused_before_any_call(
    ws: Workspace, listener: tuple[str, socket.socket]
) -> None:
    url, sock = listener
    plan = saved_plan(ws)
    # A forger who also recomputes the digest: the plan still does not choose the LMS.
    loaded = plan_from_dict(plan)
    plan["lms"] = url
    plan["digest"] = plan_digest(loaded.changes, loaded.at, url)
    (ws.root / "forged.json").write_text(json.dumps(plan))
    ran = ws.run("apply", "--plan", "forged.json", "conf", DOCEBO_CLIENT_ID="id",
                 DOCEBO_CLIENT_SECRET="s3cr3t/with+plus=")  # fmt: skip
    assert ran.code == 1, ran.output
    assert f"the saved plan was made against {url}" in ran.stderr
    assert "nothing was sent" in ran.stderr
    assert not _connected(sock)
    # Configured for that LMS explicitly, the same plan is not refused for its LMS.
    explicit = ws.run("apply", "--plan", "forged.json", "conf", "--lms", url)
    assert "the saved plan was made against" not in explicit.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"format_version": ' + b"9" * 5000 + b"}", "1:20: not a plan file (number with 5,000"),
        (b"[" * 100_000 + b"]" * 100_000, "not a plan file (JSON nested too deeply"),
        (b'{"format_version": 1, "at": "\xff"}', "1:30: not a plan file (not valid UTF-8"),
        (b'{"changes": ' + b"[" * 20 + b"]" * 20 + b"}", "nested deeper than 16"),
    ],
    ids=["huge-integer", "deep-nesting", "non-utf8", "nested-beyond-a-plan"],
)
def test_unreadable_plan_files_give_located_errors(
    ws: Workspace, content: bytes, expected: str
) -> None:
    (ws.root / "hostile.json").write_bytes(content)
    started = time.monotonic()
    ran = ws.run("apply", "--plan", "hostile.json", "conf")
    assert ran.code == 1
    assert expected in ran.stderr
    assert "Traceback" not in ran.output
    assert time.monotonic() - started < 5


def test_a_plan_file_number_too_big_for_a_float_is_explained(ws: Workspace) -> None:
    plan = saved_plan(ws)
    text = json.dumps(plan).replace('"safety": []', '"safety": [{"product": "w", "limit": "x",'
                                    ' "value": ' + "9" * 400 + ', "threshold": 1}]')  # fmt: skip
    (ws.root / "big.json").write_text(text)
    ran = ws.run("apply", "--plan", "big.json", "conf")
    assert ran.code == 1 and "safety[0].value: expected a number" in ran.stderr
    assert "Traceback" not in ran.output


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                "1969-12-31T23:59:59Z"])  # fmt: skip
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_instants_outside_the_supported_years_are_refused(
    ws: Workspace, command: str, at: str
) -> None:
    ran = ws.run(command, "conf", "--yes" if command == "apply" else "--no-color", "--at", at)
    assert ran.code == 1
    assert "is outside the years 1970-9999 once converted to UTC" in ran.stderr
    assert "Traceback" not in ran.output
    assert ws.audit() == []


def test_apply_to_a_tenant_refuses_an_instant_years_away(ws: Workspace) -> None:
    tenant = "https://acme.docebosaas.com"
    creds = {"DOCEBO_CLIENT_ID": "id", "DOCEBO_CLIENT_SECRET": "secret-4711"}
    far = ws.run("apply", "conf", "--yes", "--at", "2040-01-01", "--lms", tenant, **creds)
    assert far.code == 1
    assert "--at 2040-01-01T00:00:00Z is more than 5 years after now" in far.stderr
    assert "apply refuses to write a tenant as of such an instant" in far.stderr
    past = ws.run("apply", "conf", "--yes", "--at", "1990-01-01", "--lms", tenant, **creds)
    assert past.code == 1 and "more than 5 years before now" in past.stderr
    assert "reading" not in far.stderr + past.stderr  # refused before any call


def test_plan_and_a_sandbox_apply_warn_about_an_instant_years_away(ws: Workspace) -> None:
    plan = ws.run("plan", "conf", "--at", "2040-01-01")
    assert plan.code in (0, 3), plan.output
    assert "warning: --at 2040-01-01T00:00:00Z is more than 5 years after now" in plan.stderr
    # A sandbox is where far instants are rehearsed: apply warns and goes ahead.
    applied = ws.run("apply", "conf", "--yes", "--force", "--at", "2040-01-01")
    assert "applied to this sandbox anyway (a tenant would refuse it)" in applied.stderr
    assert "Apply: " in applied.stdout and "Traceback" not in applied.output


def test_config_instants_outside_the_supported_years_are_located(ws: Workspace) -> None:
    widget = ws.conf / "widget.yaml"
    widget.write_text(
        widget.read_text().replace(
            "settings:",
            '    revocations:\n      - {user: bob, at: "0001-01-01T00:00:00+14:00", reason: x}\n'
            "settings:",
        )
    )
    ran = ws.run("validate", "conf")
    assert ran.code == 1
    assert "widget.yaml:21:25:" in ran.output
    assert "is outside the years 1970-9999 once converted to UTC" in ran.output
    assert "Traceback" not in ran.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: 1\nproducts: &p [*p]\n", "x.yaml:2:11: an alias refers to the node"),
        ("version: 1\nproducts: [{id: &i {a: [*i]}}]\n", "x.yaml:2:17: an alias refers"),
        ("version: 1\nproducts: " + "9" * 5000 + "\n", "x.yaml:2:11: number with 5,000 digits"),
    ],
    ids=["self-alias", "nested-self-alias", "huge-integer"],
)
def test_hostile_yaml_is_a_located_error_fast(ws: Workspace, text: str, expected: str) -> None:
    (ws.root / "x.yaml").write_text(text)
    started = time.monotonic()
    ran = ws.run("validate", "x.yaml")
    assert ran.code == 1
    assert expected in ran.output
    assert "Traceback" not in ran.output
    assert time.monotonic() - started < 5
