"""What a new user meets first: init, schema, ack --all, --config everywhere, and one file
of a multi-file configuration validated alone."""

from __future__ import annotations

import json
from pathlib import Path

from certops.config.schema import schema_path
from tests.cli.conftest import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_init_writes_a_starter_that_validates_and_the_schema(ws: Workspace) -> None:
    ran = ws.run("init", "starter")
    assert ran.code == 0, ran.output
    text = (ws.root / "starter" / "product.yaml").read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=certops.schema.json")
    assert (ws.root / "starter" / "certops.schema.json").read_text(encoding="utf-8") == (
        schema_path().read_text(encoding="utf-8")
    )
    valid = ws.run("validate", "starter")
    assert valid.code == 0 and valid.stdout.startswith("Valid: 1 product"), valid.output
    again = ws.run("init", "starter")
    assert again.code == 1 and "--force" in again.stderr
    assert ws.run("init", "starter", "--force").code == 0


def test_schema_prints_the_json_schema(ws: Workspace) -> None:
    ran = ws.run("schema")
    assert ran.code == 0
    assert json.loads(ran.stdout) == json.loads(schema_path().read_text(encoding="utf-8"))


def test_ack_all_and_per_product(ws: Workspace) -> None:
    pending = [c for c in ws.run("plan", "conf", "--format", "json").json()["changes"]]
    manual = {c["address"]: c["product"] for c in pending if c["action"] == "manual"}
    assert manual and "widget" in manual.values()
    refused = ws.run("ack", "--config", "conf")
    assert refused.code == 1 and "--all" in refused.stderr
    widget = ws.run("ack", "--config", "conf", "--all", "--product", "widget")
    assert widget.code == 0, widget.output
    left = ws.run("plan", "--config", "conf", "--format", "json").json()["changes"]
    assert {c["address"] for c in left if c["action"] == "manual"} == {
        a for a, p in manual.items() if p != "widget"
    }
    assert ws.run("ack", "--config", "conf", "--all").code == 0
    after = ws.run("plan", "conf", "--format", "json").json()["changes"]
    assert [c for c in after if c["action"] == "manual"] == []
    assert "No manual step is pending" in ws.run("ack", "--config", "conf", "--all").stdout


def test_every_command_takes_config_the_same_way(ws: Workspace) -> None:
    positional = ws.run("plan", "conf", "--format", "json").json()
    option = ws.run("plan", "--config", "conf", "--format", "json").json()
    assert positional["changes"] == option["changes"]
    assert ws.run("validate", "--config", "conf").code == 0
    assert ws.run("status", "alice", "--config", "conf").code == 0
    assert ws.run("report", "--config", "conf", "--format", "csv").code == 0
    applied = ws.run("apply", "--config", "conf", "--yes")
    assert applied.code == 0, applied.output


def test_validating_one_file_names_the_file_that_holds_the_settings(ws: Workspace) -> None:
    folder = ws.root / "split"
    folder.mkdir()
    text = (EXAMPLES / "widget-pro.yaml").read_text(encoding="utf-8")
    cut = text.index("settings:")
    (folder / "widget-pro.yaml").write_text(text[:cut], encoding="utf-8")
    (folder / "settings.yaml").write_text("version: 1\n" + text[cut:], encoding="utf-8")
    assert ws.run("validate", "split").code == 0
    alone = ws.run("validate", "split/widget-pro.yaml")
    assert alone.code == 1
    [line] = [line for line in alone.stdout.splitlines() if line]
    assert line.startswith("split/widget-pro.yaml:")
    assert "the settings are in split/settings.yaml, which this run was not given" in line
    assert "certops validate split/" in line
