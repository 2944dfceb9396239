"""A course code and a username holding dots: planned, rendered and applied by their
parts (a change's target), never by splitting its address."""

from __future__ import annotations

import json

from tests.cli.conftest import Workspace

DOTTED = """\
version: 1
products:
  - id: widget
    name: Widget
    group: {name: "Certified: Widget"}
    initial_paths:
      - {name: basics, all_of: [W-101]}
    certified_course: {code: CERT.W, name: "Certified: Widget"}
    maintenance:
      periods:
        - id: "2026"
          course: {code: MOC.W.2026, name: "Widget: Maintenance of Certification 2026"}
          opens: 2026-01-01
          due: 2026-12-31
"""


def _dotted(ws: Workspace) -> None:
    for name in ("widget.yaml", "gizmo.yaml"):
        (ws.conf / name).unlink()
    (ws.conf / "widget.yaml").write_text(DOTTED, encoding="utf-8")
    ws.load(
        {
            "users": [{"username": "j.doe", "email": "j.doe@example.com"}],
            "enrollments": [
                {
                    "user": "j.doe",
                    "course": "W-101",
                    "status": "completed",
                    "enrolled_at": "2025-07-01T09:00:00Z",
                    "completed_at": "2025-07-01T12:00:00Z",
                }
            ],
        }
    )


def test_a_dotted_course_code_plans_renders_and_applies(ws: Workspace) -> None:
    _dotted(ws)
    ran = ws.run("plan", "conf", "--format", "json")
    assert ran.code == 0, ran.output
    listed = json.loads(ran.stdout)["changes"]
    changes = {c["address"]: c for c in listed if c["action"] != "manual"}
    jdoe = changes["enrollment.MOC.W.2026.j.doe"]
    assert jdoe["target"] == {"kind": "enrollment", "course": "MOC.W.2026", "user": "j.doe"}
    assert changes["course.MOC.W.2026"]["target"] == {"kind": "course", "course": "MOC.W.2026"}
    # The visibility check shows at the course's address but is a thing of its own.
    checks = [c for c in listed if c["action"] == "manual"]
    assert [c["target"] for c in checks] == [{"kind": "course_check", "course": "MOC.W.2026"}]

    markdown = ws.run("plan", "conf", "--format", "markdown")
    assert markdown.code == 0, markdown.output
    assert "j.doe" in markdown.stdout and "MOC.W.2026" in markdown.stdout
    assert "W.2026.j" not in markdown.stdout.replace("MOC.W.2026.j.doe", "")

    applied = ws.run("apply", "conf", "--yes")
    assert applied.code == 0, applied.output
    state = ws.lms_state()
    assert {"CERT.W", "MOC.W.2026"} <= set(state.course_codes)
    assert state.status("MOC.W.2026", "j.doe") == "enrolled"
    assert state.status("CERT.W", "j.doe") == "completed"
    assert state.status("MOC.W.2026", "alice") == "enrolled"
    # The audit log names each enrollment's course and user as they are.
    lines = [line for line in ws.audit() if line["address"] == "enrollment.MOC.W.2026.j.doe"]
    assert [(line["course"], line["user"]) for line in lines] == [("MOC.W.2026", "j.doe")]
    # Nothing is left to write: the LMS matches (only the visibility check remains).
    again = ws.run("plan", "conf", "--format", "json")
    left = json.loads(again.stdout)["changes"]
    assert [c["action"] for c in left] == ["manual"], left
