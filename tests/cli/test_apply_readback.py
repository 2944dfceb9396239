"""Apply proves its writes: against a tenant that answers success but silently ignores a
field (the sandbox's ``drop_fields`` fault, lenient like Docebo), ``apply`` stops with a
message naming the field and the object, and the next run, on a tenant that keeps it,
converges."""

from __future__ import annotations

import json

from tests.cli.conftest import Served

ROLLOVER_2027 = """\
        - id: "2027"
          course: {code: MOC-W-2027, name: "Widget: Maintenance of Certification 2027"}
          opens: 2027-01-01
          due: 2027-12-31
    enrollment_rule:"""


def ignoring(served: Served, *fields: str) -> None:
    """The served sandbox behaves like Docebo (unknown fields ignored, not rejected) and
    silently drops ``fields`` from every write."""
    served.admin("PUT", "settings", {"lenient": True})
    served.faults(drop_fields=list(fields))


def changes_left(served: Served, *args: str) -> list[tuple[str, str]]:
    ran = served.ws.run("plan", "conf", "--format", "json", *args)
    assert ran.code == 0, ran.output
    return [(c["address"], c["action"]) for c in json.loads(ran.stdout)["changes"]]


def test_dropped_course_date_end_stops_apply_naming_field_and_course(served: Served) -> None:
    ws = served.ws
    ignoring(served, "course_date_end")
    ran = ws.run("apply", "conf", "--yes")
    assert ran.code == 1, ran.output
    # The first maintenance course written (gizmo's, courses go in product order) is the
    # first write with an end date: the run stops there, naming the field and the course.
    assert "the tenant ignored `course_date_end`" in ran.stderr
    assert "on course MOC-G-2026" in ran.stderr
    assert "certops doctor --write-probe" in ran.stderr
    assert "stopped after an LMS error" in ran.stderr
    assert "Traceback" not in ran.output
    assert "Apply: 1 applied, 1 failed, 0 skipped, 16 not attempted, 3 manual" in ran.stdout
    failed = [x["address"] for x in ws.audit() if x["result"] == "failed"]
    assert failed == ["course.MOC-G-2026"]
    # The course exists (the write landed) without its end: the next plan puts it back.
    assert ("course.MOC-G-2026", "update") in changes_left(served)
    # On a tenant that keeps the field, the next run converges; then only manual steps.
    served.faults()
    again = ws.run("apply", "conf", "--yes")
    assert again.code == 0, again.output
    assert {action for _, action in changes_left(served)} == {"manual"}


def test_dropped_active_until_stops_the_rollover_apply(served: Served) -> None:
    ws = served.ws
    assert ws.run("apply", "conf", "--yes").code == 0
    # Alice and bob do their 2026 maintenance; at the rollover they move on to 2027 (a
    # batch of maintenance enrollments only, each with its deadline) and erin is suspended.
    for user in ("alice", "bob"):
        served.admin(
            "POST",
            "progress",
            {"user": user, "course": "MOC-W-2026", "status": "completed", "at": "2026-09-01"},
        )
    widget = ws.conf / "widget.yaml"
    widget.write_text(widget.read_text().replace("    enrollment_rule:", ROLLOVER_2027))
    at = ("--at", "2027-01-02", "--product", "widget")
    planned = changes_left(served, *at)
    assert ("enrollment.MOC-W-2027.alice", "create") in planned
    assert ("enrollment.CERT-W.erin", "update") in planned
    ignoring(served, "active_until")
    ran = ws.run("apply", "conf", "--yes", *at)
    assert ran.code == 1, ran.output
    assert "the tenant ignored `active_until`" in ran.stderr
    assert "enrollment.MOC-W-2027.alice" in ran.stderr
    assert "stopped after an LMS error" in ran.stderr
    assert "Traceback" not in ran.output
    # Stopped before the suspension that came after the batch.
    suspensions = [x for x in ws.audit() if x["after"].get("status") == "suspended"]
    assert suspensions == []
    assert ("enrollment.CERT-W.erin", "update") in changes_left(served, *at)
    # The enrollments exist without their deadline: the next plan sets it.
    assert ("enrollment.MOC-W-2027.alice", "update") in changes_left(served, *at)
    served.faults()
    again = ws.run("apply", "conf", "--yes", *at)
    assert again.code == 0, again.output
    assert {action for _, action in changes_left(served, *at)} == {"manual"}


def test_dropped_active_until_on_a_first_apply_stops_it(served: Served) -> None:
    ws = served.ws
    ignoring(served, "active_until")
    ran = ws.run("apply", "conf", "--yes")
    assert ran.code == 1, ran.output
    # The batch starts with certified-course rows, which carry no window; the read-back
    # takes the first row that has one (gizmo's 2026 maintenance course, due 2026-12-31,
    # sent as its last valid second).
    assert (
        "the tenant ignored `active_until` (sent 2026-12-31 23:59:59, reads back nothing) "
        "on enrollment.MOC-G-2026.alice" in ran.stderr
    )
    assert "stopped after an LMS error" in ran.stderr
    assert "Traceback" not in ran.output
    # The batch's rows were created (applied); only the PUT of enrollments after it is not.
    assert "Apply: 17 applied, 0 failed, 0 skipped, 1 not attempted, 3 manual" in ran.stdout
    # The five maintenance enrollments exist without their deadline: the next plan sets it
    # on each (gizmo's alice and bob, widget's alice, bob and erin), and does what the stop
    # left undone (alice's hand-made CERT-W enrollment), then converges.
    served.faults()
    missing = [a for a, action in changes_left(served) if action == "update"]
    assert sorted(missing) == [
        "enrollment.CERT-W.alice",
        "enrollment.MOC-G-2026.alice",
        "enrollment.MOC-G-2026.bob",
        "enrollment.MOC-W-2026.alice",
        "enrollment.MOC-W-2026.bob",
        "enrollment.MOC-W-2026.erin",
    ]
    again = ws.run("apply", "conf", "--yes")
    assert again.code == 0, again.output
    assert {action for _, action in changes_left(served)} == {"manual"}


def test_a_batch_that_reads_back_as_sent_is_never_marked_not_kept(served: Served) -> None:
    """The read-back of a created batch that the tenant kept leaves the audit log saying
    applied, and nothing else, for every row of it; one the tenant did not keep gets a
    failed line after its done (so nothing takes its values for ones certops wrote)."""
    ws = served.ws
    kept = ws.run("apply", "conf", "--yes")
    assert kept.code == 0, kept.output
    outcomes = ws.audit()
    assert outcomes and {x["result"] for x in outcomes} == {"applied"}, outcomes

    widget = ws.conf / "widget.yaml"
    widget.write_text(widget.read_text().replace("    enrollment_rule:", ROLLOVER_2027))
    for user in ("alice", "bob"):
        served.admin(
            "POST",
            "progress",
            {"user": user, "course": "MOC-W-2026", "status": "completed", "at": "2026-09-01"},
        )
    ignoring(served, "active_until")
    before = len(outcomes)
    ran = ws.run("apply", "conf", "--yes", "--at", "2027-01-02", "--product", "widget")
    assert ran.code == 1, ran.output
    not_kept = [x for x in ws.audit()[before:] if "not kept" in (x.get("message") or "")]
    assert {x["address"] for x in not_kept} == {
        "enrollment.MOC-W-2027.alice",
        "enrollment.MOC-W-2027.bob",
    }
