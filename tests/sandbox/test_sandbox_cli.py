"""``certops sandbox init|load|reset`` and ``serve``'s option checks, through click."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from certops.cli.main import cli
from certops.sandbox import read_credentials
from certops.sandbox.store import Store


def _lenient(db: str | Path) -> bool:
    store = Store(db)
    try:
        return store.lenient()
    finally:
        store.close()


def run(*args: str):
    return CliRunner().invoke(cli, ["sandbox", *args], catch_exceptions=False)


def test_init_demo_then_load_and_reset(tmp_path: Path):
    db = str(tmp_path / "s.db")
    result = run("init", db, "--demo", "--learners", "20", "--seed", "4")
    assert result.exit_code == 0
    assert "23 users" in result.output
    again = run("init", db)
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert run("init", db, "--force", "--client-id", "mine").exit_code == 0
    assert read_credentials(db).client_id == "mine"

    data = tmp_path / "data.yaml"
    data.write_text("users:\n  - {username: zed}\n")
    loaded = run("load", str(data), "--db", db)
    assert loaded.exit_code == 0 and "Loaded 1 users" in loaded.output

    reset = run("reset", "--db", db, "--yes")
    assert reset.exit_code == 0
    assert read_credentials(db).client_id == "mine"


def test_load_prints_located_problems(tmp_path: Path):
    db = str(tmp_path / "s.db")
    run("init", db)
    data = tmp_path / "bad.yaml"
    data.write_text("users:\n  - {username: zed, age: 3}\n")
    result = CliRunner().invoke(cli, ["sandbox", "load", str(data), "--db", db])
    assert result.exit_code == 1
    assert f"{data}:2:21: unknown key 'age'" in result.output
    assert "nothing loaded" in result.output


def test_commands_on_a_missing_sandbox_explain(tmp_path: Path):
    missing = str(tmp_path / "none.db")
    data = tmp_path / "d.yaml"
    data.write_text("users: []\n")
    for args in (("load", str(data), "--db", missing), ("reset", "--db", missing, "--yes"),
                 ("serve", "--db", missing)):  # fmt: skip
        result = run(*args)
        assert result.exit_code == 1
        assert "certops sandbox init" in result.output


def test_reset_needs_confirmation_when_not_interactive(tmp_path: Path):
    db = str(tmp_path / "s.db")
    run("init", db)
    result = run("reset", "--db", db)
    assert result.exit_code == 1
    assert "--yes" in result.output


def test_serve_rejects_bad_fault_options(tmp_path: Path):
    db = str(tmp_path / "s.db")
    run("init", db)
    for option, value in (("--rate-limit", "lots"), ("--drop-write", "3:sideways"),
                          ("--error-503-share", "2")):  # fmt: skip
        result = CliRunner().invoke(cli, ["sandbox", "serve", "--db", db, option, value])
        assert result.exit_code == 2
        assert option in result.output


def test_init_rejects_negative_learners_and_empty_credentials(tmp_path: Path):
    db = str(tmp_path / "s.db")
    assert CliRunner().invoke(cli, ["sandbox", "init", db, "--learners", "-1"]).exit_code == 2
    result = CliRunner().invoke(cli, ["sandbox", "init", db, "--password", " "])
    assert result.exit_code == 2
    assert "--password" in result.output


def test_init_where_no_file_can_be_made_is_a_message(tmp_path: Path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("not a folder")
    result = run("init", str(blocker / "s.db"))
    assert result.exit_code == 1
    assert "cannot create a sandbox" in result.output


def test_a_failed_init_keeps_the_sandbox_that_was_there(tmp_path: Path, monkeypatch):
    import certops.sandbox as sandbox_module
    from tests.support import run_certops

    db = tmp_path / "s.db"
    assert run("init", str(db), "--demo", "--learners", "5").exit_code == 0
    before = db.read_bytes()
    broken = {"users": [{"username": "x"}], "enrollments": [{"user": "x", "course": "NOPE"}]}
    monkeypatch.setattr(sandbox_module, "demo_dataset", lambda learners, seed: broken)
    failed = run_certops("sandbox", "init", str(db), "--demo", "--force")
    assert failed.code == 1
    assert "NOPE" in failed.stderr  # every problem is listed, not just counted
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]


def test_demo_instants_stay_inside_their_window():
    import random
    from datetime import UTC, datetime, timedelta

    from certops.sandbox.demo import _instant

    rng = random.Random(7)
    start = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)
    for days in (0, 1, 30):
        end = start + timedelta(days=days, hours=2)
        for _ in range(500):
            assert start <= _instant(rng, start, end) <= end


def test_init_lenient_is_stored_and_survives_reset(tmp_path: Path):
    db = str(tmp_path / "s.db")
    strict = run("init", db)
    assert "(strict)" in strict.output
    assert _lenient(db) is False
    lenient = run("init", db, "--force", "--lenient")
    assert lenient.exit_code == 0 and "lenient" in lenient.output
    assert _lenient(db) is True
    assert run("reset", "--db", db, "--yes").exit_code == 0
    assert _lenient(db) is True
