"""``certops import``: the configuration of a tenant as it is, whose first plan is empty
apart from manual confirmations; on the untouched demo, what exists and marked
placeholders for the rest."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from test_references_by_hand import _served_demo, _writes

from certops.adopt.discover import Hints, find_products
from certops.config import load_config
from certops.lms.records import Course, CourseSettings, Group, GroupRule
from certops.sandbox import init_sandbox
from tests.cli.conftest import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _demo(ws: Workspace) -> None:
    init_sandbox(ws.db, demo=True, overwrite=True)
    shutil.copytree(EXAMPLES, ws.root / "examples")


def _learner_changes(ws: Workspace, conf: str, at: str) -> tuple[list[dict], dict]:
    ran = ws.run("plan", conf, "--at", at, "--format", "json")
    assert ran.code == 0, ran.output
    plan = ran.json()
    return [c for c in plan["changes"] if c["action"] != "manual"], plan


def _import(ws: Workspace, out: str, at: str) -> str:
    ran = ws.run("import", "--out", out, "--at", at)
    assert ran.code == 0, ran.output
    assert "(valid)" in ran.stdout
    return ran.stdout


def test_import_after_certops_set_up_the_demo_plans_only_manual_steps(ws: Workspace) -> None:
    _demo(ws)
    assert ws.run("apply", "examples", "--yes", "--at", "2026-12-01").code == 0
    with _served_demo(ws) as served:
        served.clear_calls()
        _import(ws, "imported", "2026-12-01")
        assert _writes(served) == []  # import only reads
        changes, plan = _learner_changes(ws, "imported", "2026-12-01")
    assert changes == []
    assert plan["by_hand"] == [] and plan["safety"] == []
    assert plan["summary"]["manual"] > 0  # the placeholders to confirm
    config = load_config(["imported"])
    assert [p.id for p in config.products] == ["gadget-max", "sprocket", "widget-pro"]
    examples = {p.id: p for p in load_config(["examples"]).products}
    for product in config.products:
        wanted = examples[product.id]
        assert product.group == wanted.group
        assert {frozenset(p.all_of) for p in product.initial_paths} == {
            frozenset(p.all_of) for p in wanted.initial_paths
        }
        assert product.certified_course.code == wanted.certified_course.code
        assert product.certified_course.salesforce_sync == wanted.certified_course.salesforce_sync
        assert [(p.id, p.course.code, p.opens, p.due) for p in product.maintenance.periods] == [
            (p.id, p.course.code, p.opens, p.due) for p in wanted.maintenance.periods
        ]
        assert product.maintenance.new_learner_grace_days == (
            wanted.maintenance.new_learner_grace_days
        )
        assert product.maintenance.late_completion == wanted.maintenance.late_completion
    assert (
        config.settings.salesforce_catalog == load_config(["examples"]).settings.salesforce_catalog
    )
    gadget = config.product("gadget-max")
    assert gadget is not None
    [ext] = gadget.extensions
    assert (ext.user, ext.period, ext.until.isoformat()) == ("jdoe", "2026", "2027-01-31")
    assert ext.reason == "imported 2026-12-01: deadline moved by hand to 2027-01-31; confirm"
    # bcole's suspension is the examples' revocation, which import reads as one.
    [rev] = gadget.revocations
    assert rev.user == "bcole" and rev.reason.startswith("imported 2026-12-01: ")
    text = (ws.root / "imported" / "gadget-max.yaml").read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=certops.schema.json")
    assert "PLACEHOLDER: Docebo has no API for enrollment rules" in text
    assert "certops ack --config imported --product gadget-max --all" in text
    # The ack command the file gives for the placeholders records exactly those steps.
    [command] = [line for line in text.splitlines() if line.startswith("#   certops ack")][:1]
    args = shlex.split(command.removeprefix("#   certops "))
    acked = ws.run(*args, "--at", "2026-12-01")
    assert acked.code == 0, acked.output
    _, after = _learner_changes(ws, "imported", "2026-12-01")
    left = {c["address"] for c in after["changes"] if c["product"] == "gadget-max"}
    assert not any(a.startswith("enrollment_rule.") for a in left)
    assert not {a for a in left if a.startswith("notification.") and ".schedule." not in a}
    assert (ws.root / "imported" / "certops.schema.json").is_file()
    # The imported folder is not overwritten by accident.
    again = ws.run("import", "--out", "imported", "--at", "2026-12-01")
    assert again.code == 1 and "--force" in again.stderr


def test_import_after_the_rollover_plans_only_manual_steps(ws: Workspace) -> None:
    _demo(ws)
    assert ws.run("apply", "examples", "--yes", "--at", "2026-12-01").code == 0
    assert ws.run("apply", "examples", "--yes", "--at", "2027-01-02").code == 0
    _import(ws, "imported", "2027-01-02")
    changes, plan = _learner_changes(ws, "imported", "2027-01-02")
    assert changes == []
    assert plan["by_hand"] == []


def test_import_after_the_rollover_keeps_the_revocation_and_its_reason(ws: Workspace) -> None:
    _demo(ws)
    assert ws.run("apply", "examples", "--yes", "--at", "2026-12-01").code == 0
    assert ws.run("apply", "examples", "--yes", "--at", "2027-01-02").code == 0
    # After the rollover the LMS shows bcole suspended like any lapsed learner; the audit
    # log says certops revoked him, and why.
    _import(ws, "imported", "2027-01-02")
    gadget = load_config(["imported"]).product("gadget-max")
    assert gadget is not None
    [rev] = gadget.revocations
    assert (rev.user, rev.at.isoformat()) == ("bcole", "2026-12-01T00:00:00+00:00")
    assert rev.reason == (
        "imported 2027-01-02: revoked: misconduct (certops applied it at "
        "2026-12-01T00:00:00Z; from its audit log); confirm"
    )
    changes, plan = _learner_changes(ws, "imported", "2027-01-02")
    assert changes == [] and plan["by_hand"] == []
    report = ws.run("report", "imported", "--at", "2027-01-02", "--user", "bcole",
                    "--product", "gadget-max", "--format", "json")  # fmt: skip
    [row] = report.json()["rows"]
    assert (row["state"], row["last_change"]) == ("revoked", "revoked")
    assert "misconduct" in row["last_change_reason"]
    # Without the log, the data alone cannot tell a revocation from a lapse.
    shutil.rmtree(ws.root / "imported")
    alone = ws.run("import", "--out", "imported", "--at", "2027-01-02", "--audit-log", "none.jsonl")
    assert alone.code == 0, alone.output
    gadget = load_config(["imported"]).product("gadget-max")
    assert gadget is not None and gadget.revocations == ()


def test_a_hand_made_reinstatement_is_imported_as_one(ws: Workspace) -> None:
    _demo(ws)
    assert ws.run("apply", "examples", "--yes", "--at", "2026-12-01").code == 0
    assert ws.run("apply", "examples", "--yes", "--at", "2027-01-02").code == 0
    state = ws.lms_state()
    learner = next(
        u
        for c, u, s in state.enrollments
        if c == "CERT-WP" and s == "suspended" and u.startswith("learner")
    )
    ws.load(
        {
            "enrollments": [
                {
                    "user": learner,
                    "course": "CERT-WP",
                    "status": "completed",
                    "completed_at": "2027-01-05T10:00:00Z",
                }
            ]
        }
    )
    _import(ws, "imported", "2027-01-06")
    widget = load_config(["imported"]).product("widget-pro")
    assert widget is not None
    [rein] = widget.reinstatements
    assert rein.user == learner and rein.at.isoformat() == "2027-01-05T10:00:00+00:00"
    assert rein.reason == "imported 2027-01-06: reinstated by hand; confirm"
    changes, plan = _learner_changes(ws, "imported", "2027-01-06")
    # Nothing is set back; the only change is really due: reinstated, the learner now
    # owes 2027 and is enrolled in its course (as the rules would have done at the time).
    assert plan["by_hand"] == []
    assert [(c["address"], c["action"]) for c in changes] == [
        (f"enrollment.MOC-WP-2027.{learner}", "create")
    ]


def test_import_of_the_untouched_demo_recovers_what_exists(ws: Workspace) -> None:
    _demo(ws)
    out = _import(ws, "imported", "2026-12-01")
    config = load_config(["imported"])
    periods = {
        p.id: [(q.id, q.course.code, q.opens.isoformat(), q.due.isoformat())
               for q in p.maintenance.periods]
        for p in config.products
    }  # fmt: skip
    assert periods == {
        "gadget-max": [("2026", "MOC-GM-2026", "2026-01-01", "2026-12-31")],
        "sprocket": [("2026", "MOC-SP-2026", "2026-01-01", "2026-12-31")],
        "widget-pro": [
            ("2025", "MOC-WP-2025", "2025-01-01", "2025-12-31"),
            ("2026", "MOC-WP-2026", "2026-01-01", "2026-12-31"),
        ],
    }
    assert {p.id: p.certified_course.code for p in config.products} == {
        "gadget-max": "CERT-GM",
        "sprocket": "CERT-SP",
        "widget-pro": "CERT-WP",
    }
    for product in config.products:
        text = (ws.root / "imported" / f"{product.id}.yaml").read_text(encoding="utf-8")
        # Nothing of these exists yet: each is a marked placeholder.
        assert "PLACEHOLDER: the tenant has no certified course" in text
        assert "PLACEHOLDER: the tenant has no automatic group" in text
        assert "PLACEHOLDER: no group rules to read the initial paths from; guessed" in text
        # The 2026 courses have no dates: read from the enrollments, to confirm.
        assert "validity of most of its enrollments; CONFIRM" in text
    assert "placeholders: certified_course" in out
    # No group holds the initial paths: they are guessed from who completed what.
    paths = {p.id: sorted(path.all_of for path in p.initial_paths) for p in config.products}
    assert paths == {
        "gadget-max": [("GM-101",)],
        "sprocket": [("SP-101",)],
        "widget-pro": [("WP-101", "WP-102"), ("WP-EXAM",)],
    }
    # The rules the data shows are the examples' own.
    rules = {
        p.id: (p.maintenance.new_learner_grace_days, p.maintenance.late_completion.value)
        for p in config.products
    }
    assert rules == {
        "gadget-max": (0, "manual"),
        "sprocket": (0, "manual"),
        "widget-pro": (90, "reinstate"),
    }
    # So the imported configuration plans the same learner changes as the examples, but
    # for the two exceptions the examples grant that the LMS does not show yet (jdoe's
    # extension, bcole's revocation).
    imported, _ = _learner_changes(ws, "imported", "2026-12-01")
    wanted, _ = _learner_changes(ws, "examples", "2026-12-01")

    def enrollments(changes: list[dict]) -> set[tuple[str, str]]:
        return {
            (c["address"], str(sorted(c["after"].items())))
            for c in changes
            if c["type"] == "enrollment" and not c["address"].endswith((".jdoe", ".bcole"))
        }

    assert enrollments(imported) == enrollments(wanted)
    assert len(enrollments(imported)) > 200


def _course(code: str, name: str, cid: int) -> Course:
    return Course(id=cid, code=code, settings=CourseSettings(name=name))


def test_hints_name_what_does_not_follow_the_convention() -> None:
    courses = [
        _course("AB-1", "Alpha basics", 1),
        _course("AB-STATUS", "Alpha status", 2),
        _course("AB-M-2026", "Alpha: Maintenance of Certification 2026", 3),
    ]
    group = Group(
        id="u-1",
        name="Alpha holders",
        automatic=True,
        rules=(GroupRule(("AB-1",)),),
    )
    found, left_out = find_products(courses, [group], Hints())
    assert [f.name for f in found] == ["Alpha"]
    assert found[0].group is None and found[0].certified is None
    assert left_out and "--product NAME='Alpha holders'" in left_out[0]
    found, left_out = find_products(
        courses,
        [group],
        Hints(groups={"Alpha": "Alpha holders"}, certified={"": "AB-STATUS"}),
    )
    assert left_out == []
    [alpha] = found
    assert alpha.group == group and alpha.certified is not None
    assert alpha.certified.code == "AB-STATUS"
    assert [y for y, _ in alpha.maintenance] == ["2026"]


def test_a_hint_the_tenant_contradicts_is_a_usage_error(ws: Workspace) -> None:
    ran = ws.run("import", "--out", "imported", "--product", "Gizmo=No such group")
    assert ran.code == 1
    assert "--product Gizmo=No such group: the tenant has no group 'No such group'" in ran.stderr
    assert not (ws.root / "imported").exists()
    # The small workspace tenant: its certified course is named by the convention.
    ok = ws.run("import", "--out", "imported", "--certified-course", "Gizmo=G-101")
    assert ok.code == 0, ok.output
    gizmo = load_config(["imported"]).product("gizmo")
    assert gizmo is not None and gizmo.certified_course.code == "G-101"


# Tenant text that would be YAML if it were ever written as text: every line terminator,
# quotes, a comment sign, a mapping indicator, an anchor, a tag, bidi controls and NUL,
# and a would-be revocation after a line break.
EVIL = (
    'Evil\r\n    revocations:\n      - {user: alice, at: 2026-01-01T00:00:00Z, reason: "x"}'
    "\x85 q\"'# : &a !!str\u2028 \u2029 \u202etxt\u2066\u2069 \x00end"
)


def test_tenant_text_is_data_never_configuration(ws: Workspace) -> None:
    """A tenant whose names hold every character YAML gives a meaning to imports to
    exactly those names, and nothing else (no revocation smuggled in, no key added)."""
    catalog = "Sync\r  revocations:\n    - {user: alice, at: 2026-06-01T00:00:00Z, reason: x}\u2028"
    ws.load(
        {
            "users": [{"username": "o'brien smith", "email": "ob@example.com"}],
            "courses": [
                {"code": "EV-101", "name": f"{EVIL} 101", "published": True},
                {"code": "CERT-EV", "name": f"Certified: {EVIL}", "published": True},
                {"code": "MOC-EV-2026", "name": f"{EVIL}: Maintenance of Certification 2026",
                 "date_begin": "2026-01-01", "date_end": "2026-12-31"},
            ],
            "catalogs": [{"code": "SF-EV", "name": catalog, "courses": ["CERT-EV"]}],
            "enrollments": [
                {"user": u, "course": "EV-101", "status": "completed",
                 "enrolled_at": "2025-01-02T09:00:00Z", "completed_at": "2025-02-01T09:00:00Z"}
                for u in ("alice", "o'brien smith")
            ] + [
                {"user": u, "course": "CERT-EV", "status": "completed",
                 "enrolled_at": "2025-02-02T09:00:00Z", "completed_at": "2025-02-02T09:00:00Z"}
                for u in ("alice", "o'brien smith")
            ],
        }
    )  # fmt: skip
    ran = ws.run("import", "--out", "evil", "--at", "2026-06-01")
    assert ran.code == 0, ran.output
    config = load_config(["evil"])
    [product] = [p for p in config.products if p.certified_course.code == "CERT-EV"]
    assert product.name == EVIL
    assert product.certified_course.name == f"Certified: {EVIL}"
    assert [p.course.name for p in product.maintenance.periods] == [
        f"{EVIL}: Maintenance of Certification 2026"
    ]
    assert (product.revocations, product.reinstatements, product.extensions) == ((), (), ())
    assert config.settings.salesforce_catalog is not None
    assert config.settings.salesforce_catalog.name == catalog
    for path in (ws.root / "evil").glob("*.yaml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            # Every comment is one line: no line terminator of any kind was let through.
            for terminator in ("\r", "\x85", "\u2028", "\u2029"):
                assert terminator not in line, (path.name, line)
