"""``plan --out FILE`` then ``apply --plan FILE``: applied as reviewed, or refused as stale."""

from __future__ import annotations

import json

from tests.cli.conftest import Workspace


def saved_plan(ws: Workspace, *args: str, name: str = "plan.json") -> dict:
    ran = ws.run("plan", "conf", "--out", name, *args)
    assert ran.code in (0, 3), ran.output
    assert f"plan saved to {name}" in ran.stderr
    return json.loads((ws.root / name).read_text())


def test_saved_plan_applies_and_audits_its_digest(ws: Workspace) -> None:
    plan = saved_plan(ws)
    # --out saves JSON and still prints the text plan for the person running it.
    # 3 manual: the widget rule and the visibility checks of MOC-G-2026 and MOC-W-2026.
    assert plan["summary"] == {
        "create": 16,
        "update": 2,
        "manual": 3,
        "blocked": False,
        "classes": {"drift": 0, "schedule": 11, "config": 10},
        "effects": {
            "suspend": 0,
            "reinstate": 1,
            "certify": 4,
            "maintenance": 5,
            "deadline": 0,
            "create": 7,
            "update": 1,
            "manual": 3,
        },
    }
    # Like `terraform apply PLANFILE`: the saved plan was the reviewed artefact, so no
    # prompt and no --yes, even without a terminal.
    ran = ws.run("apply", "--plan", "plan.json", "conf", CERTOPS_AT=None)
    assert ran.code == 0, ran.output
    assert "Apply: 18 applied, 0 failed" in ran.stdout
    assert {line["plan_digest"] for line in ws.audit()} == {plan["digest"]}
    assert ws.lms_state().status("CERT-W", "alice") == "completed"


def test_saved_plan_made_at_another_instant_is_replanned_at_it(ws: Workspace) -> None:
    saved_plan(ws, "--at", "2026-03-01")
    # The run's own clock (CERTOPS_AT) is not used: the plan's instant is.
    ran = ws.run("apply", "--plan", "plan.json", "conf", "--yes", CERTOPS_AT=None)
    assert ran.code == 0, ran.output
    assert "(evaluated at 2026-03-01T00:00:00Z" in ran.stdout


def test_lms_change_makes_the_saved_plan_stale(ws: Workspace) -> None:
    saved_plan(ws)
    ws.load({"enrollments": [{"user": "carol", "course": "W-101", "status": "completed",
                              "completed_at": "2026-02-01T10:00:00Z"}]})  # fmt: skip
    before = ws.lms_state()
    ran = ws.run("apply", "--plan", "plan.json", "conf", "--yes", CERTOPS_AT=None)
    assert ran.code == 1
    assert "stale plan:" in ran.stderr and "re-run plan" in ran.stderr
    assert "Traceback" not in ran.output
    assert ws.lms_state() == before
    assert ws.audit() == []


def test_config_change_makes_the_saved_plan_stale(ws: Workspace) -> None:
    saved_plan(ws)
    widget = ws.conf / "widget.yaml"
    widget.write_text(widget.read_text().replace("Your Widget", "The Widget"))
    ran = ws.run("apply", "--plan", "plan.json", "conf", "--yes", CERTOPS_AT=None)
    assert ran.code == 1 and "stale plan:" in ran.stderr


def test_saved_plan_for_one_product_applies_only_it(ws: Workspace) -> None:
    plan = saved_plan(ws, "--product", "gizmo")
    assert plan["products"] == ["gizmo"]
    ran = ws.run("apply", "--plan", "plan.json", "conf", "--yes", CERTOPS_AT=None)
    assert ran.code == 0, ran.output
    state = ws.lms_state()
    assert "CERT-G" in state.course_codes and "MOC-W-2026" not in state.course_codes
    other = ws.run("apply", "--plan", "plan.json", "conf", "--product", "widget", "--yes")
    assert other.code == 1
    assert "the saved plan covers product(s) gizmo, not widget" in other.stderr


def test_options_that_contradict_the_saved_plan_are_refused(ws: Workspace) -> None:
    saved_plan(ws)
    at = ws.run("apply", "--plan", "plan.json", "conf", "--yes", "--at", "2026-07-01")
    assert at.code == 1
    assert "differs from the saved plan's instant 2026-06-01T00:00:00Z" in at.stderr
    from_env = ws.run("apply", "--plan", "plan.json", "conf", "--yes", CERTOPS_AT="2026-07-01")
    assert from_env.code == 1 and "CERTOPS_AT 2026-07-01T00:00:00Z differs" in from_env.stderr
    # The same instant, spelled another way, is fine.
    same = ws.run("apply", "--plan", "plan.json", "conf", "--yes", "--at", "2026-06-01")
    assert same.code == 0, same.output
    saved_plan(ws, name="second.json")
    lms = ws.run("apply", "--plan", "second.json", "conf", "--yes", "--lms", "sandbox:other.db")
    assert lms.code == 1
    assert "the saved plan was made against sandbox:.certops/sandbox.db" in lms.stderr
    # The same sandbox file named another way is the same LMS.
    other_name = ws.run("apply", "--plan", "second.json", "conf", "--yes", "--lms", ws.lms)
    assert other_name.code == 0, other_name.output


def test_blocked_saved_plan_needs_force(ws: Workspace) -> None:
    assert ws.run("apply", "conf", "--yes").code == 0
    plan = saved_plan(ws, "--at", "2027-01-02")
    assert plan["summary"]["blocked"] is True and plan["safety"]
    refused = ws.run("apply", "--plan", "plan.json", "conf", "--yes", CERTOPS_AT=None)
    assert refused.code == 3
    forced = ws.run("apply", "--plan", "plan.json", "conf", "--yes", "--force", CERTOPS_AT=None)
    assert forced.code == 0, forced.output
    assert ws.lms_state().status("CERT-W", "bob") == "suspended"


def test_unreadable_plan_files_are_explained(ws: Workspace) -> None:
    missing = ws.run("apply", "--plan", "nope.json", "conf", "--yes")
    assert missing.code == 1 and "cannot read plan file nope.json" in missing.stderr
    (ws.root / "bad.json").write_text("{not json")
    bad = ws.run("apply", "--plan", "bad.json", "conf", "--yes")
    assert bad.code == 1 and "bad.json:1:2: not a plan file (invalid JSON: " in bad.stderr
    plan = saved_plan(ws)
    plan["changes"][0]["after"]["name"] = "edited by hand"
    (ws.root / "edited.json").write_text(json.dumps(plan))
    edited = ws.run("apply", "--plan", "edited.json", "conf", "--yes")
    assert edited.code == 1 and "plan file" in edited.stderr and "digest" in edited.stderr
    for ran in (missing, bad, edited):
        assert "Traceback" not in ran.output
    assert ws.audit() == []
