"""What a Terraform user expects: ``show PLANFILE``, ``apply PLANFILE``, a saved plan given
where configuration is expected, ``--force-product``, and no command falling back to a
configuration nobody wrote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import certops
from tests.cli.conftest import Workspace


def test_show_renders_a_saved_plan_like_plan_did(ws: Workspace) -> None:
    planned = ws.run("plan", "conf", "--out", "plan.json")
    assert planned.code == 0, planned.output
    shown = ws.run("show", "plan.json")
    assert shown.code == 0, shown.output
    assert shown.stdout == planned.stdout
    as_json = ws.run("show", "plan.json", "--format", "json")
    assert json.loads(as_json.stdout) == json.loads((ws.root / "plan.json").read_text())
    markdown = ws.run("show", "plan.json", "--format", "markdown")
    assert markdown.code == 0 and "### certops plan at `2026-06-01T00:00:00Z`" in markdown.stdout
    assert "`plan.json`" in markdown.stdout  # where the full plan is
    # Nothing but the file is read: no configuration, no LMS.
    elsewhere = ws.root / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(ws.root / "plan.json", elsewhere / "plan.json")
    alone = ws.run("show", str(elsewhere / "plan.json"), CERTOPS_LMS="sandbox:nowhere.db")
    assert alone.code == 0 and alone.stdout == planned.stdout


def test_show_refuses_a_tampered_plan(ws: Workspace) -> None:
    assert ws.run("plan", "conf", "--out", "plan.json").code == 0
    data = json.loads((ws.root / "plan.json").read_text())
    data["at"] = "2027-01-02T00:00:00Z"
    (ws.root / "plan.json").write_text(json.dumps(data))
    ran = ws.run("show", "plan.json")
    assert ran.code == 1
    assert "does not match" in ran.stderr and "Traceback" not in ran.stderr


def test_apply_planfile_is_apply_with_the_saved_plan(ws: Workspace) -> None:
    assert ws.run("plan", "conf", "--out", "plan.json").code == 0
    both = ws.run("apply", "plan.json", "--plan", "plan.json")
    assert both.code == 1 and "apply takes one saved plan" in both.stderr
    ran = ws.run("apply", "conf", "plan.json")
    assert ran.code == 0, ran.output
    assert "Apply:" in ran.stdout and "applied" in ran.stdout
    assert ws.lms_state().status("CERT-W", "alice") == "completed"
    # The saved plan is what was applied: it is stale now.
    again = ws.run("apply", "conf", "plan.json")
    assert again.code == 1 and "stale plan" in again.stderr


def test_a_saved_plan_where_configuration_is_expected_is_named(ws: Workspace) -> None:
    assert ws.run("plan", "conf", "--out", "plan.json").code == 0
    for command in ("plan", "validate", "report"):
        ran = ws.run(command, "plan.json")
        assert ran.code == 1, command
        assert (
            "plan.json:1:1: this is a saved plan (`certops plan --out`), not configuration: "
            "`certops show plan.json` shows it, `certops apply plan.json` applies it"
        ) in ran.output


def test_force_product_overrides_the_limit_of_that_product_only(ws: Workspace) -> None:
    assert ws.run("apply", "conf", "--yes").code == 0
    # At the rollover both products would suspend every certified learner.
    one = ws.run("apply", "conf", "--yes", "--at", "2027-01-02", "--force-product", "widget")
    assert one.code == 3
    assert "a safety limit tripped for gizmo (see above); nothing was applied" in one.stderr
    assert ws.lms_state().status("CERT-W", "alice") == "completed"
    unknown = ws.run("apply", "conf", "--yes", "--force-product", "gadget")
    assert unknown.code == 1 and "--force-product gadget: no such product" in unknown.stderr
    both = ws.run(
        "apply", "conf", "--yes", "--at", "2027-01-02",
        "--force-product", "widget", "--force-product", "gizmo",
    )  # fmt: skip
    assert both.code == 0, both.output
    state = ws.lms_state()
    assert state.status("CERT-W", "alice") == "suspended"
    assert state.status("CERT-G", "bob") == "suspended"


def test_no_command_falls_back_to_a_configuration_nobody_wrote(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder with no configuration at all.
    empty = ws.root / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    ran = ws.run("ack", "--all")
    assert ran.code == 1
    assert "no configuration here" in ran.stderr and "certops init" in ran.stderr
    # certops' own source folder (a Python package named certops, with its starter file)
    # is no configuration either.
    package = Path(certops.__file__).resolve().parent
    shutil.copytree(package / "starter", empty / "certops" / "starter")
    (empty / "certops" / "__init__.py").write_text("")
    for command in (("ack", "--all"), ("validate",), ("plan",), ("status", "alice")):
        ran = ws.run(*command)
        assert ran.code == 1, command
        assert "my-product" not in ran.output, command
        assert "no configuration here" in ran.output, command
