"""``certops sandbox load`` with hostile datasets: located errors, fast, nothing loaded."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from certops.cli.main import cli
from certops.sandbox import create_app, init_sandbox


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("cycle.yaml", b"users: &u [*u]\n", "cycle.yaml:1:8: an alias refers to the node"),
        ("deep.json", b'{"users": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        ("big.json", b'{"users": [{"username": ' + b"9" * 5000 + b"}]}", "big.json:1:25: number"),
        ("bytes.json", b'{"users": [{"username": "\xff"}]}', "bytes.json:1:26: not valid UTF-8"),
        ("bytes.yaml", b"users:\n  - {username: \xff}\n", "bytes.yaml:2:16: not valid UTF-8"),
        ("big.yaml", b"users: [{username: " + b"9" * 5000 + b"}]\n", "big.yaml:1:20: number"),
    ],
)
def test_hostile_datasets_are_located_errors(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    db = tmp_path / "s.db"
    init_sandbox(db)
    (tmp_path / name).write_bytes(content)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["sandbox", "load", str(tmp_path / name), "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert "nothing loaded" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"users": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"users": [{"username": ' + b"9" * 5000 + b"}]}", "number with 5,000 digits"),
        (b"{not json", "invalid JSON"),
    ],
    ids=["deep", "huge-integer", "malformed"],
)
def test_hostile_load_bodies_are_located_problems(
    tmp_path: Path, body: bytes, expected: str
) -> None:
    db = tmp_path / "s.db"
    init_sandbox(db)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(db))
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            return await client.post("/_sandbox/load", content=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip

    answer = asyncio.run(go())
    assert answer.status_code == 400, answer.text
    problem = answer.json()["problems"][0]
    assert problem["file"] == "<request body>" and expected in problem["message"]
